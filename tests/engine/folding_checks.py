"""Checks shared by the folded-tower tests (picture and sound towers)."""

from __future__ import annotations

import copy
from collections.abc import Callable

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
