"""Checks shared by the folded-tower tests (picture and sound towers)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch

from engine.models.towers import tower_fingerprint, weights_fingerprint


def assert_fold_leaves_weights_alone(tower, name: str, sample: Callable[[], torch.Tensor]) -> None:
    """Running ``tower`` folded saves nothing of the fold, changes no weight or fingerprint, and a
    copy of it folds again for its own modules."""
    keys = set(tower.state_dict())
    before = {k: v.clone() for k, v in tower.state_dict().items()}
    with torch.no_grad():
        tower(sample())
    assert tower.folded() is not None
    after = tower.state_dict()
    assert set(after) == keys and all(k.startswith("net.") for k in keys)  # nothing of the fold is saved
    assert all(torch.equal(before[k], after[k]) for k in keys)
    assert not any(p.requires_grad for p in tower.parameters())
    net_state = {k[len("net."):]: v for k, v in after.items()}
    assert weights_fingerprint(net_state) == tower.fingerprint == tower_fingerprint(name)
    twin = copy.deepcopy(tower)
    assert twin._fold is None
    with torch.no_grad():
        twin(sample())
    assert twin.folded() is not None and twin.folded() is not tower.folded()


def assert_shipped_embeddings_match_unfolded(model, encoder, embed: Callable[[], np.ndarray], monkeypatch) -> None:
    """``embed()`` through the folded tower of ``encoder`` (a part of the shipped ``model``) matches
    the network itself, and the model file's identity and the tower's recorded fingerprint stay."""
    model_id = model.model_id
    tower = encoder.tower
    fast = embed()
    assert tower.folded() is not None
    monkeypatch.setattr(tower, "folded", lambda: None)  # the network itself
    ref = embed()
    cos = (fast * ref).sum(1) / np.linalg.norm(fast, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.9999
    assert float(np.abs(fast - ref).max()) < 1e-4
    assert model.model_id == model_id  # the model file's identity is untouched
    assert torch.equal(encoder.tower_sig.cpu(), torch.tensor(list(bytes.fromhex(tower.fingerprint)), dtype=torch.uint8))


def forward_through_the_fold(tower, x, folded_type: type):
    """The tower's output for ``x`` in eval mode without autograd, checked to come from its folded network."""
    import torch

    with torch.no_grad():
        out = tower(x)
    fold = tower.folded()
    assert isinstance(fold, folded_type), "eval mode without autograd must run the folded network"
    with torch.no_grad():
        assert torch.equal(out, fold(x))  # forward dispatched to it
    return out
