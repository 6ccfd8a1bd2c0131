"""Loss values against hand-computed numbers on 2-3 pairs (paper Eq. 1, Eq. 2, InfoNCE, BCE)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from engine.config import ModelCfg
from engine.errors import ConfigError
from engine.models import LOSSES, build_loss
from engine.models.losses import BCELoss, BCEMarginLoss, InfoNCELoss, NTXentLoss, info_nce, margin_contrastive, nt_xent
from engine.models.projectors import DistanceClassifier, LinearProjector, pair_distance

# Three frames / audios (unit vectors): cosine similarities s[i][k] = zv_i . za_k are
#   row 1: [ 1.0, 0.6, -0.6]   row 2: [0.0, 0.8, 0.8]   row 3: [-1.0, -0.6, 0.6]
# and with tau = 0.5 the logits are twice that:
#   row 1: [ 2.0, 1.2, -1.2]   row 2: [0.0, 1.6, 1.6]   row 3: [-2.0, -1.2, 1.2]
ZV = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
ZA = torch.tensor([[1.0, 0.0], [0.6, 0.8], [-0.6, 0.8]])


def test_info_nce_by_hand() -> None:
    # row i: -logit_ii + log(sum_k exp(logit_ik)), the positive IS in the denominator
    r1 = -2.0 + math.log(math.exp(2.0) + math.exp(1.2) + math.exp(-1.2))  # 0.398837
    r2 = -1.6 + math.log(math.exp(0.0) + math.exp(1.6) + math.exp(1.6))  # 0.789319
    r3 = -1.2 + math.log(math.exp(-2.0) + math.exp(-1.2) + math.exp(1.2))  # 0.123527
    expected = (r1 + r2 + r3) / 3  # 0.437228
    assert info_nce(ZV, ZA, 0.5).item() == pytest.approx(expected, abs=1e-5)
    assert expected == pytest.approx(0.437228, abs=1e-6)


def test_nt_xent_by_hand_excludes_positive() -> None:
    # Eq. 2: -logit_ii + log(sum_{k != i} exp(logit_ik)); can be negative
    r1 = -2.0 + math.log(math.exp(1.2) + math.exp(-1.2))  # -0.713164
    r2 = -1.6 + math.log(math.exp(0.0) + math.exp(1.6))  # 0.183901
    r3 = -1.2 + math.log(math.exp(-2.0) + math.exp(-1.2))  # -2.028899
    expected = (r1 + r2 + r3) / 3  # -0.852721
    assert nt_xent(ZV, ZA, 0.5).item() == pytest.approx(expected, abs=1e-5)
    assert expected == pytest.approx(-0.852721, abs=1e-6)
    # and it differs from InfoNCE exactly by leaving the positive out
    assert nt_xent(ZV, ZA, 0.5).item() < info_nce(ZV, ZA, 0.5).item()


def test_two_pair_contrastive_by_hand() -> None:
    # 2 pairs: logits [[2.0, 1.2], [0.0, 1.6]]
    zv, za = ZV[:2], ZA[:2]
    # InfoNCE: (log(1 + e^-0.8) + log(1 + e^-1.6)) / 2 = (0.371101 + 0.183901) / 2
    assert info_nce(zv, za, 0.5).item() == pytest.approx((math.log1p(math.exp(-0.8)) + math.log1p(math.exp(-1.6))) / 2, abs=1e-5)
    # NT-Xent: ((-2 + 1.2) + (-1.6 + 0)) / 2 = -1.2
    assert nt_xent(zv, za, 0.5).item() == pytest.approx(-1.2, abs=1e-5)


def test_contrastive_uses_cosine_so_scale_does_not_matter() -> None:
    assert info_nce(3.0 * ZV, 0.2 * ZA, 0.5).item() == pytest.approx(info_nce(ZV, ZA, 0.5).item(), abs=1e-5)


def test_contrastive_needs_two_pairs() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        info_nce(ZV[:1], ZA[:1], 0.5)
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent(ZV[:1], ZA[:1], 0.5)


def test_margin_contrastive_by_hand() -> None:
    ev = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    ea = torch.tensor([[0.6, 0.8], [0.0, 1.0], [0.03, 0.04]])
    y = torch.tensor([1.0, 0.0, 0.0])
    # d = sqrt(0.4^2 + 0.8^2) = 0.894427 ; sqrt(2) = 1.414214 ; sqrt(0.03^2 + 0.04^2) = 0.05
    d = pair_distance(ev, ea)
    assert d.tolist() == pytest.approx([0.894427, 1.414214, 0.05], abs=1e-6)
    # Eq. 1 with m = 0.1: y=1 -> d = 0.894427 ; y=0, d > m -> 0 ; y=0 -> 0.1 - 0.05 = 0.05
    expected = (0.894427 + 0.0 + 0.05) / 3  # 0.314809
    assert margin_contrastive(d, y, 0.1).item() == pytest.approx(expected, abs=1e-6)


def _classifier(w: float, b: float) -> DistanceClassifier:
    clf = DistanceClassifier()
    with torch.no_grad():
        clf.fc.weight.fill_(w)
        clf.fc.bias.fill_(b)
    return clf


def test_bce_by_hand() -> None:
    clf = _classifier(-1.0, 1.0)  # logit = 1 - d, threshold 1
    ev = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    ea = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    y = torch.tensor([1.0, 0.0])
    loss, logits = BCELoss()(ev, ea, clf, y)
    # logits: 1 - 0.894427 = 0.105573 ; 1 - 1.414214 = -0.414214
    assert logits.tolist() == pytest.approx([0.105573, -0.414214], abs=1e-6)
    # y=1: -log(sigmoid(0.105573)) = log(1 + e^-0.105573) = 0.641753
    # y=0: -log(1 - sigmoid(-0.414214)) = log(1 + e^-0.414214) = 0.507335
    assert loss.item() == pytest.approx((0.641753 + 0.507335) / 2, abs=1e-5)


def test_bce_margin_is_sum_of_both() -> None:
    clf = _classifier(-1.0, 1.0)
    ev = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    ea = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    y = torch.tensor([1.0, 0.0])
    loss, _ = BCEMarginLoss(0.1)(ev, ea, clf, y)
    # BCE 0.574544 + margin (0.894427 + max(0, 0.1 - 1.414214)) / 2 = 0.447214
    assert loss.item() == pytest.approx((0.641753 + 0.507335) / 2 + 0.894427 / 2, abs=1e-5)


def test_contrastive_modules_apply_the_shared_projector() -> None:
    proj = LinearProjector(2, 2)
    with torch.no_grad():
        proj.fc.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 2.0]]))
        proj.fc.bias.zero_()
    loss, logits = InfoNCELoss(0.5)(ZV, ZA, proj, None)
    assert logits is None and loss.item() == pytest.approx(0.437228, abs=1e-5)
    loss, _ = NTXentLoss(0.5)(ZV, ZA, proj, None)
    assert loss.item() == pytest.approx(-0.852721, abs=1e-5)
    with pytest.raises(ValueError, match="aligned pairs only"):
        InfoNCELoss(0.5)(ZV, ZA, proj, torch.tensor([1.0, 0.0, 1.0]))


def test_bce_needs_labels() -> None:
    with pytest.raises(ValueError, match="needs labels"):
        BCELoss()(ZV, ZA, _classifier(-1.0, 1.0), None)


def test_registry_and_build_loss() -> None:
    assert set(LOSSES) == {"bce", "bce_margin", "infonce", "ntxent"}
    cfg = ModelCfg(projector="distance", loss="bce_margin", margin=0.3)
    assert isinstance(build_loss(cfg), BCEMarginLoss) and build_loss(cfg).margin == 0.3
    assert build_loss(replace(cfg, projector="linear", loss="ntxent", temperature=0.2)).temperature == 0.2
    with pytest.raises(ConfigError, match="unknown loss"):
        build_loss(replace(cfg, loss="hinge"))
    with pytest.raises(ConfigError, match="'linear' or 'mlp'"):
        build_loss(replace(cfg, loss="infonce"))
    with pytest.raises(ConfigError, match="'distance' projector"):
        build_loss(replace(cfg, projector="mlp", loss="bce"))
