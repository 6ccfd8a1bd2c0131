"""Encoders, projectors, complexity counting, and every preset's model training on a tiny batch."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from engine.config import compact
from engine.errors import ConfigError
from engine.models import AVModel, count_macs, count_params
from engine.models.complexity import model_complexity
from engine.models.encoders import AttentionEncoder, AttentionLevel, BaselineEncoder, build_encoder
from engine.models.projectors import DistanceClassifier, LinearProjector, MLPProjector, build_projector
from engine.presets import DESCRIPTIONS, get_preset, list_presets

TINY = dict(vision_channels=(4, 8, 8, 16), audio_channels=(4, 8, 8, 16), image_size=32, fc_hidden=32)


def test_baseline_encoder_shapes_and_norm() -> None:
    torch.manual_seed(0)
    enc = BaselineEncoder(3, (4, 8, 8, 16), embed_dim=128, fc_hidden=32).eval()
    e, maps = enc.forward_with_maps(torch.randn(5, 3, 32, 32))
    assert e.shape == (5, 128) and maps == []
    assert torch.allclose(e.norm(dim=-1), torch.ones(5), atol=1e-5)
    audio = BaselineEncoder(1, (4, 8, 8, 16), 128, 32).eval()
    assert audio(torch.randn(2, 1, 64, 100)).shape == (2, 128)


def test_attention_encoder_maps_and_norm() -> None:
    torch.manual_seed(0)
    enc = AttentionEncoder(1, (4, 8, 8, 16), embed_dim=64).eval()
    e, maps = enc.forward_with_maps(torch.randn(3, 1, 64, 100))
    assert e.shape == (3, 64)
    assert torch.allclose(e.norm(dim=-1), torch.ones(3), atol=1e-5)
    # local features from the last three blocks before pooling: 64x100 -> /2 -> /2 -> /2
    assert [tuple(m.shape) for m in maps] == [(3, 32, 50), (3, 16, 25), (3, 8, 12)]
    for m in maps:
        assert (m >= 0).all()
        assert torch.allclose(m.sum(dim=(1, 2)), torch.ones(3), atol=1e-5)
    # projection to g's channels only where they differ (8, 8 -> 16; 16 == 16)
    assert [lvl.project is not None for lvl in enc.levels] == [True, True, False]
    assert enc.project.in_features == 8 + 8 + 16


def _literal_level(level: AttentionLevel, local: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's steps 1-2 written out: c = conv1x1(project(local) + g), softmax, weighted sum of local."""
    lp = level.project(local) if level.project is not None else local  # (B, C_g, h, w)
    c = level.score(lp + g[:, :, None, None])  # (B, 1, h, w)
    b, _, h, w = c.shape
    a = torch.softmax(c.view(b, -1), dim=-1).view(b, 1, h, w)
    return (a * local).sum(dim=(2, 3)), a[:, 0]


@pytest.mark.parametrize("local_ch", [6, 16])
def test_attention_level_equals_literal_formula(local_ch: int) -> None:
    torch.manual_seed(1)
    level = AttentionLevel(local_ch, 16)
    local, g = torch.randn(2, local_ch, 5, 7), torch.randn(2, 16)
    feat, amap = level(local, g)
    ref_feat, ref_map = _literal_level(level, local, g)
    assert torch.allclose(feat, ref_feat, atol=1e-5) and torch.allclose(amap, ref_map, atol=1e-6)
    # g adds the same score at every position, so the softmax cancels it (documented in docs/models.md)
    assert torch.allclose(level(local, 10 * torch.randn(2, 16))[1], amap, atol=1e-5)
    # gradients agree too (the factored form is the same function of the same parameters)
    feat.sum().backward()
    grads = [p.grad.clone() for p in level.parameters()]
    level.zero_grad()
    _literal_level(level, local, g)[0].sum().backward()
    for got, ref in zip(grads, (p.grad for p in level.parameters())):
        assert torch.allclose(got, ref, atol=1e-5)


def test_attention_focuses_on_high_compatibility_position() -> None:
    level = AttentionLevel(2, 2)
    with torch.no_grad():
        level.score.weight.copy_(torch.tensor([[[[10.0]], [[0.0]]]]))
        level.score.bias.zero_()
    local = torch.zeros(1, 2, 3, 3)
    local[0, 0, 1, 2] = 1.0  # one position strongly matches u
    local[0, 1] = 5.0
    feat, amap = level(local, torch.zeros(1, 2))
    # scores 10 at (1, 2), 0 elsewhere: weight e^10 / (e^10 + 8)
    w = torch.exp(torch.tensor(10.0)) / (torch.exp(torch.tensor(10.0)) + 8)
    assert amap[0, 1, 2].item() == pytest.approx(w.item(), rel=1e-5)
    assert feat[0].tolist() == pytest.approx([w.item(), 5.0], rel=1e-5)


def test_build_errors() -> None:
    with pytest.raises(ConfigError, match="unknown encoder"):
        build_encoder("vit", 3, (8, 8, 8, 8), 128, 64)
    with pytest.raises(ConfigError, match="at least 3 blocks"):
        AttentionEncoder(3, (8, 8))
    with pytest.raises(ConfigError, match="unknown projector"):
        build_projector("cosine", 128, 128)
    with pytest.raises(ConfigError, match="needs the 'distance' projector"):
        AVModel(replace(get_preset("m1"), projector="linear", **TINY))


def test_projectors_shapes_and_distance_sign() -> None:
    e1 = torch.nn.functional.normalize(torch.randn(4, 128), dim=-1)
    clf = DistanceClassifier()
    assert clf(e1, e1).gt(0).all() and clf(e1, -e1).lt(0).all()
    assert clf.fc.weight.item() < 0
    lin, mlp = LinearProjector(128, 64), MLPProjector(128, 64)
    assert lin(e1).shape == mlp(e1).shape == (4, 64)
    assert [type(m) for m in mlp.net] == [nn.Linear, nn.ReLU, nn.Linear]
    assert all(m.bias is not None for m in mlp.net if isinstance(m, nn.Linear))


def test_count_macs_by_hand() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    # conv: 8*8 positions * 4 out * 3 in * 9 = 6912 ; linear: 256 * 10 = 2560
    assert count_macs(net, torch.zeros(2, 3, 8, 8)) == 6912 + 2560
    assert count_params(net) == (4 * 3 * 9 + 4) + (256 * 10 + 10)


def test_full_and_compact_sizes() -> None:
    full = AVModel(get_preset("m5"))
    macs_full = count_macs(full.vision, torch.zeros(1, 3, 224, 224))
    assert 9e9 < macs_full < 11e9  # VGG-like 64-128-256-512 at 224x224
    small = AVModel(get_preset("m5", "compact"))
    macs_small = count_macs(small.vision, torch.zeros(1, 3, 112, 112))
    assert macs_full / 20 < macs_small < macs_full / 12  # half width, half side: ~1/16
    assert get_preset("m5", "compact") == compact(get_preset("m5"))
    info = model_complexity(small)
    assert info["vision_macs"] == macs_small and info["projector_params"] == 128 * 128 + 128
    assert info["audio_macs"] == count_macs(small.audio, torch.zeros(1, 1, 64, 100))


def test_presets_match_table_1b() -> None:
    table = {
        "m1": ("baseline", "distance", "bce"),
        "m2": ("attention", "distance", "bce"),
        "m3": ("attention", "distance", "bce_margin"),
        "m4": ("attention", "mlp", "infonce"),
        "m5": ("attention", "linear", "infonce"),
        "m6": ("attention", "mlp", "ntxent"),
        "m7": ("attention", "linear", "ntxent"),
        "ft": ("attention", "distance", "bce_margin"),
    }
    assert list_presets() == list(table) and set(DESCRIPTIONS) == set(table)
    for name, row in table.items():
        cfg = get_preset(name)
        assert (cfg.encoder, cfg.projector, cfg.loss) == row
        assert (cfg.embed_dim, cfg.margin, cfg.temperature, cfg.image_size) == (128, 0.1, 0.5, 224)


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_builds_and_one_step_lowers_its_loss(preset: str) -> None:
    torch.manual_seed(0)
    model = AVModel(replace(get_preset(preset), **TINY)).train()
    g = torch.Generator().manual_seed(1)
    frames = torch.randint(0, 256, (8, 32, 32, 3), dtype=torch.uint8, generator=g)
    mels = torch.randn(8, 64, 100, generator=g) * 2 - 5
    labels = None if model.cfg.contrastive else torch.tensor([1.0, 0.0] * 4)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def step_loss() -> torch.Tensor:
        ev, ea = model.encode(frames, mels)
        return model.loss(ev, ea, labels)[0]

    before = step_loss()
    opt.zero_grad()
    before.backward()
    assert all(p.grad is not None for p in model.parameters()), "every parameter takes part in the loss"
    opt.step()
    with torch.no_grad():
        after = step_loss()
    assert after.item() < before.item()
