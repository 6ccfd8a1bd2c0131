"""The picture tower's folded inference path (BatchNorm folded into the convolutions): the same
numbers as the package's network, used only in eval mode without autograd, rebuilt when the
weights change, and invisible to the weights' fingerprint and the model file."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from engine.models.towers import (
    EfficientNetTrunk,
    FoldedEfficientNet,
    build_tower,
)
from tests.engine.folding_checks import (
    assert_fold_leaves_weights_alone,
    assert_shipped_embeddings_match_unfolded,
    forward_through_the_fold,
)

# the map's values lie in 0..6 (ReLU6); folding only reorders float arithmetic
MAP_ATOL = 1e-4


@pytest.fixture(scope="module")
def pristine() -> EfficientNetTrunk:
    return build_tower("efficientnet-lite0")


@pytest.fixture
def tower(pristine: EfficientNetTrunk) -> EfficientNetTrunk:
    return copy.deepcopy(pristine)  # each test may edit its own copy


def pictures(n: int = 3, h: int = 224, w: int = 224, seed: int = 0) -> torch.Tensor:
    """Inputs as the tower sees them, ``(x - 127) / 128`` of 0..255 pixels: smooth shapes plus noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([xx, yy, (xx - 0.5) ** 2 + (yy - 0.5) ** 2], 0) * 255
    x = base + 60 * torch.randn(n, 3, h, w, generator=g)
    return (x.clamp(0, 255) - 127) / 128


def package_map(tower: EfficientNetTrunk, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return tower.net.extract_features(x)


def test_the_folded_tower_gives_the_package_networks_map(tower):
    x = pictures()
    out = forward_through_the_fold(tower, x, FoldedEfficientNet)
    ref = package_map(tower, x)
    assert out.shape == ref.shape == (3, 1280, 7, 7)
    assert float(ref.abs().max()) > 1.0  # a real map, not zeros
    assert float((out - ref).abs().max()) < MAP_ATOL
    # another picture size and a channels-last input take the same path (the package pads statically)
    y = pictures(2, 160, 200, seed=1)
    with torch.no_grad():
        np.testing.assert_allclose(tower(y), package_map(tower, y), atol=MAP_ATOL)
        np.testing.assert_allclose(tower(y.contiguous(memory_format=torch.channels_last)), package_map(tower, y), atol=MAP_ATOL)


def test_a_wrong_fold_would_show(tower):
    """The comparison above can fail: drop one BatchNorm's shift from the fold and the maps part."""
    x = pictures(1)
    with torch.no_grad():
        tower(x)
        fold = tower.folded()
        w, b, *rest = fold.blocks[3][1]
        fold.blocks[3] = (fold.blocks[3][0], (w, torch.zeros_like(b), *rest), *fold.blocks[3][2:])
        assert float((fold(x) - package_map(tower, x)).abs().max()) > 100 * MAP_ATOL


def test_the_fold_is_used_only_in_eval_mode_and_without_autograd(tower):
    x = pictures(2)
    # train mode (the trunk, or any BatchNorm inside it): the package's network, batch statistics and all
    tower.train()
    with torch.no_grad():
        assert tower.folded() is None
        with torch.random.fork_rng():  # drop-connect is random in train mode
            torch.manual_seed(0)
            out = tower(x)
            torch.manual_seed(0)
            assert torch.equal(out, tower.net.extract_features(x))
    tower.eval()
    tower.net._blocks[5]._bn1.train()
    with torch.no_grad():
        assert tower.folded() is None
        assert torch.equal(tower(x), tower.net.extract_features(x))
    tower.eval()
    with torch.no_grad():
        assert tower.folded() is not None
    # autograd recording: the package's network, so gradients reach the input and any unfrozen weight
    top = list(tower.net._blocks[-1].parameters()) + list(tower.net._conv_head.parameters())
    for p in top:
        p.requires_grad_(True)
    xg = x.clone().requires_grad_(True)
    out = tower(xg)
    assert out.grad_fn is not None
    assert torch.equal(out.detach(), package_map(tower, x))
    out.square().mean().backward()
    assert xg.grad is not None and float(xg.grad.abs().sum()) > 0
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in top)


def test_the_fold_follows_changed_moved_and_restored_weights(tower):
    x = pictures(1)
    with torch.no_grad():
        before = tower(x)
        first = tower.folded()
        bn = tower.net._blocks[8]._bn2
        saved = {k: v.clone() for k, v in tower.state_dict().items()}
        bn.running_mean.add_(0.5)  # an in-place edit (an optimiser step is one too)
        changed = tower(x)
        assert tower.folded() is not first
        assert float((changed - before).abs().max()) > 100 * MAP_ATOL
        assert float((changed - package_map(tower, x)).abs().max()) < MAP_ATOL
        tower.net._blocks[8]._bn2 = copy.deepcopy(bn)  # a module replaced
        assert torch.equal(tower(x), changed) and tower.folded() is not first
        tower.load_state_dict(saved)
        np.testing.assert_allclose(tower(x), before, atol=MAP_ATOL)
        tower.to(torch.float64)  # a move: refolded in the new dtype
        out64 = tower(x.double())
        assert out64.dtype == torch.float64
        assert float((out64 - package_map(tower, x.double())).abs().max()) < 1e-9


def test_a_network_the_fold_does_not_cover_runs_the_package_forward(tower):
    x = pictures(1)
    with torch.no_grad():
        tower(x)
        assert tower.folded() is not None
        tower.net.set_swish(memory_efficient=False)  # the package's switch to Swish: new modules, no tensor changes
        tower.eval()
        assert tower.folded() is None
        assert torch.equal(tower(x), tower.net.extract_features(x))


def test_folding_leaves_the_weights_state_dict_and_fingerprint_alone(tower):
    assert_fold_leaves_weights_alone(tower, "efficientnet-lite0", lambda: pictures(1))


def test_the_shipped_models_frame_embeddings_match_the_package_network(shipped, monkeypatch):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (2, 720, 1280, 3), dtype=np.uint8)
    frames[1] = np.linspace(0, 255, 1280, dtype=np.uint8)[None, :, None]  # a smooth picture too
    assert_shipped_embeddings_match_unfolded(shipped, shipped.vision, lambda: shipped.embed_frames(frames), monkeypatch)


def test_embedding_puts_a_stray_train_mode_tower_back_in_eval(shipped):
    """Embedding skips the mode switch when everything is in eval, but not when a tower's module is in train mode."""
    frames = np.random.default_rng(4).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    ref = shipped.embed_frames(frames)
    bn = shipped.vision.tower.net._blocks[2]._bn0
    bn.train()
    try:
        np.testing.assert_allclose(shipped.embed_frames(frames), ref, atol=1e-6)
        assert not bn.training
    finally:
        shipped.eval()
