"""The training-state file (``last.pt``): everything needed to continue a run exactly.

Only tensors and primitive containers are stored, so it loads with ``torch.load(weights_only=True)``.
Writes go to a temporary file in the same folder and are renamed into place. The run's counters
travel as ``RunProgress`` in the trainer and as flat keys of the state dict in the file.
"""

from __future__ import annotations

import logging
import math
import pickle
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import CheckpointError
from engine.models.model_file import write_atomic

log = logging.getLogger(__name__)

STATE_FORMAT = "foley-train-state"
STATE_VERSION = 1
LAST = "last.pt"
BEST = "best.pt"


@dataclass
class RunProgress:
    """Where a run stands: its counters and metric history (stored as flat keys of ``last.pt``)."""

    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # optimisation steps done in the current epoch
    global_step: int = 0  # optimisation steps done in the whole run
    loss_sum: float = 0.0  # training loss summed over the current epoch's steps
    loss_count: int = 0  # how many steps ``loss_sum`` adds up
    best_metric: float = -math.inf  # best validation metric so far (what best.pt scored)
    bad_epochs: int = 0  # epochs since the validation metric last improved
    history: list[dict[str, Any]] = field(default_factory=list)  # one metrics row per completed epoch

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RunProgress:
        """The counters of a training state dict; ``CheckpointError`` when some are missing."""
        missing = [f.name for f in fields(cls) if f.name not in state]
        if missing:
            raise CheckpointError(f"training state lacks {', '.join(missing)}; start a new run, or resume from a complete copy")
        return cls(**{f.name: state[f.name] for f in fields(cls)})

    def to_state(self) -> dict[str, Any]:
        """The counters as the flat keys a training state dict stores them under."""
        return asdict(self)


def rng_state() -> dict[str, Any]:
    """The python, numpy and torch (CPU and CUDA) generator states as weights-only-safe values."""
    py = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [name, torch.from_numpy(np.asarray(keys, np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    version, keys, gauss = state["python"]
    random.setstate((version, tuple(keys), gauss))
    name, keys_t, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys_t.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def remove_temporaries(run_dir: Path) -> int:
    """Delete the temp files a killed run left by ``last.pt``/``best.pt`` (its writer only); returns how many."""
    n = 0
    for name in (LAST, BEST):  # ".last.pt.<random>.tmp.pt" (engine.atomic), ".last.pt.<random>.tmp" (older versions)
        for tmp in Path(run_dir).glob(f".{name}.*.tmp*"):
            tmp.unlink(missing_ok=True)
            n += 1
    return n


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write a training state dict (see ``Trainer._state``) atomically."""
    write_atomic({"format": STATE_FORMAT, "version": STATE_VERSION, **state}, path)
    log.debug("saved training state %s (epoch %s, step %s)", path, state.get("epoch"), state.get("global_step"))


def load_state(path: Path) -> dict[str, Any]:
    """Read a training state written by ``save_state``; ``CheckpointError`` for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no training state at {path}; start a new run without --resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's text would suggest weights_only=False: never pass that on
        if "global" in str(exc).lower():
            raise CheckpointError(
                f"{path}: holds objects other than tensors and plain values, so it was NOT loaded (loading could run code); "
                "use a training state written by 'foley-engine train'"
            ) from exc
        raise CheckpointError(f"{path}: unreadable training state (damaged, or not a PyTorch file); delete it to restart, or resume from a copy") from exc
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CheckpointError(f"{path}: unreadable training state ({first}); delete it to restart, or resume from a copy") from exc
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not a training state written by 'foley-engine train'")
    if state.get("version") != STATE_VERSION:
        raise CheckpointError(f"{path}: training state version {state.get('version')!r}, this version reads {STATE_VERSION}")
    return state
