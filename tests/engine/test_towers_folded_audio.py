"""The sound towers' folded inference path (aisfx and aisfx-small, BatchNorm folded into the
convolutions): the same embeddings as the networks themselves, used only in eval mode without
autograd (distillation trains the network, not the fold), rebuilt when the weights change, and
invisible to the weights' fingerprint and the model file."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from engine.models.towers import (
    AISFX_SPEC_MAX,
    AisfxSmallTrunk,
    FoldedAisfx,
    FoldingTrunk,
    build_tower,
)
from engine.training.distill import DistillCfg, DistillData, distill, mean_cosine
from tests.engine.folding_checks import (
    assert_fold_leaves_weights_alone,
    assert_shipped_embeddings_match_unfolded,
    forward_through_the_fold,
)

TOWERS = ("aisfx", "aisfx-small")
# embeddings reach ~30 (aisfx) and ~17 (aisfx-small); folding only reorders float arithmetic
EMB_ATOL = 2e-4


@pytest.fixture(scope="module", params=TOWERS)
def pristine(request) -> FoldingTrunk:
    return build_tower(request.param)


@pytest.fixture
def tower(pristine: FoldingTrunk) -> FoldingTrunk:
    return copy.deepcopy(pristine)  # each test may edit its own copy


def mels(n: int = 6, frames: int = 43, seed: int = 0) -> torch.Tensor:
    """Log-mels as the towers see them, ``(B, 1, 96, frames)`` in aisfx's range 0..AISFX_SPEC_MAX:
    a tone, broadband noise at random levels, a quiet window."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 96, frames, generator=g) * torch.rand(n, 1, 1, 1, generator=g) * AISFX_SPEC_MAX
    x[-1] *= 0.05
    x[0, :, 20:23] = 0.9 * AISFX_SPEC_MAX
    return x


def reference(tower: FoldingTrunk, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return tower.unfolded(x)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=-1).min())


def test_the_folded_tower_gives_the_networks_embedding(tower):
    x = mels()
    out = forward_through_the_fold(tower, x, FoldedAisfx)
    ref = reference(tower, x)
    assert out.shape == ref.shape == (6, 512)
    assert float(ref.abs().max()) > 1.0  # a real embedding, not zeros
    assert cosine(out, ref) >= 0.9999
    assert float((out - ref).abs().max()) < EMB_ATOL
    # one window, a longer one, a channels-last input and inference_mode take the same path
    with torch.inference_mode():
        for y in (mels(1, seed=1), mels(3, 100, seed=2), mels(2, seed=3).contiguous(memory_format=torch.channels_last)):
            np.testing.assert_allclose(tower(y), reference(tower, y), atol=EMB_ATOL)


def test_a_wrong_fold_would_show(tower):
    """The comparison above can fail: drop one BatchNorm's shift from the fold and the embeddings part."""
    x = mels(2)
    with torch.no_grad():
        tower(x)
        fold = tower.folded()
        w, b, *rest = fold.layers[2]
        fold.layers[2] = (w, torch.zeros_like(b), *rest)
        broken = fold(x)
    ref = reference(tower, x)
    assert float((broken - ref).abs().max()) > 100 * EMB_ATOL
    assert cosine(broken, ref) < 0.9999


def test_the_fold_is_used_only_in_eval_mode_and_without_autograd(tower):
    x = mels(4)
    net = tower.net
    bn = next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    # train mode (the trunk, or any BatchNorm inside it): the network itself, with batch statistics
    tower.train()
    with torch.no_grad():
        assert tower.folded() is None
        stats = bn.running_mean.clone()
        out = tower(x)
        assert not torch.equal(bn.running_mean, stats)  # the statistics moved: the network ran
    assert float((out - reference(tower.eval(), x)).abs().max()) > 100 * EMB_ATOL  # batch, not running, statistics
    with torch.no_grad():
        bn.train()
        assert tower.folded() is None
        assert torch.equal(tower(x), tower.unfolded(x))  # unfolded() puts nothing back in eval itself
    tower.eval()
    with torch.no_grad():
        assert tower.folded() is not None
    # autograd recording: the network, so gradients reach the input and any unfrozen weight
    for p in tower.parameters():
        p.requires_grad_(True)
    xg = x.clone().requires_grad_(True)
    out = tower(xg)
    assert out.grad_fn is not None
    assert torch.equal(out.detach(), reference(tower, x))
    out.square().mean().backward()
    assert xg.grad is not None and float(xg.grad.abs().sum()) > 0
    assert all(p.grad is not None for p in tower.parameters())
    assert sum(float(p.grad.abs().sum()) > 0 for p in tower.parameters()) == len(list(tower.parameters()))


def test_the_fold_follows_changed_moved_and_restored_weights(tower):
    x = mels(2)
    with torch.no_grad():
        before = tower(x)
        first = tower.folded()
        bn = [m for m in tower.net.modules() if isinstance(m, torch.nn.BatchNorm2d)][-2]
        saved = {k: v.clone() for k, v in tower.state_dict().items()}
        bn.running_mean.add_(0.5)  # an in-place edit (an optimiser step is one too)
        changed = tower(x)
        assert tower.folded() is not first
        assert float((changed - before).abs().max()) > 100 * EMB_ATOL
        assert float((changed - reference(tower, x)).abs().max()) < EMB_ATOL
        tower.load_state_dict(saved)
        np.testing.assert_allclose(tower(x), before, atol=EMB_ATOL)
        tower.to(torch.float64)  # a move: refolded in the new dtype
        out64 = tower(x.double())
        assert out64.dtype == torch.float64
        assert float((out64 - reference(tower, x.double())).abs().max()) < 1e-9


def test_distillation_trains_the_network_and_the_fold_follows_it():
    """distill() on a trunk: train mode and autograd run the network (gradients, BatchNorm statistics);
    its evaluation in eval mode under no_grad runs a fold of the weights as they are at that epoch."""
    torch.manual_seed(0)
    student = AisfxSmallTrunk()
    with torch.no_grad():
        student.eval()(mels(1))
    first = student.folded()
    assert first is not None
    start = {k: v.clone() for k, v in student.state_dict().items()}
    rng = np.random.default_rng(0)
    x = (rng.random((24, 96, 43)) * AISFX_SPEC_MAX).astype(np.float32)
    targets = rng.standard_normal((24, 512)).astype(np.float32)
    data = DistillData(x, targets)
    run = distill(data, data, DistillCfg(batch_size=8, max_epochs=2, max_seconds=600, shift_frames=0), model=student)
    after = student.state_dict()
    bn_keys = [k for k in after if k.endswith("running_mean")]
    conv_keys = [k for k in after if k.endswith("conv.weight")]
    assert bn_keys and all(not torch.equal(start[k], after[k]) for k in bn_keys)  # statistics updated in train mode
    assert conv_keys and all(not torch.equal(start[k], after[k]) for k in conv_keys)  # gradients reached every conv
    assert not student.training
    with torch.no_grad():
        out = student(torch.from_numpy(x).unsqueeze(1))
    assert student.folded() is not first
    ref = reference(student, torch.from_numpy(x).unsqueeze(1))
    assert cosine(out, ref) >= 0.9999 and float((out - ref).abs().max()) < EMB_ATOL
    assert mean_cosine(student, data) == pytest.approx(run.val_cosine, abs=1e-5)  # the best epoch's weights, refolded


def test_folding_leaves_the_weights_state_dict_and_fingerprint_alone(tower, pristine):
    name = "aisfx" if type(pristine).__name__ == "AisfxTrunk" else "aisfx-small"
    assert_fold_leaves_weights_alone(tower, name, lambda: mels(1))


def test_the_shipped_models_sound_embeddings_match_the_network(shipped, monkeypatch):
    if not isinstance(shipped.audio.tower, FoldingTrunk):
        pytest.skip(f"the shipped model's sound tower is {shipped.cfg.audio_tower}")
    n_mels, n_frames = shipped.features.n_mels, shipped.features.n_frames
    x = mels(8, n_frames, seed=5)[:, 0].numpy()
    assert x.shape[1] == n_mels
    assert_shipped_embeddings_match_unfolded(shipped, shipped.audio, lambda: shipped.embed_audio(x), monkeypatch)


def test_a_network_the_fold_does_not_cover_runs_its_own_forward(tower):
    x = mels(2)
    with torch.no_grad():
        before = tower(x)
        assert tower.folded() is not None
        net = tower.net
        parent, name = (net, "conv_block2") if hasattr(net, "conv_block2") else (net.blocks, "1")
        old = parent._modules[name]
        changed = type("Changed", (type(old),), {"forward": lambda self, *a: type(old).forward(self, *a) * 2})
        new = copy.deepcopy(old)
        new.__class__ = changed  # a block the fold does not know: its own forward must run
        parent._modules[name] = new
        assert tower.folded() is None
        assert torch.equal(tower(x), tower.unfolded(x))
        assert float((tower(x) - before).abs().max()) > 100 * EMB_ATOL  # the changed block ran, not a stale fold
