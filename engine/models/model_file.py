"""The model file: one ``torch.save`` dict holding configs, weights, model id and extra info.

Layout (format version 1)::

    {"format": "foley-assistant/avmodel", "version": 1,
     "model_cfg": {...}, "features": {...},          # engine.config.to_dict output
     "state_dict": {name: tensor},                   # CPU tensors
     "model_id": "0123456789abcdef",                 # sha256 of the weights, 16 hex
     "extra": {...}}                                 # training info: plain Python values / tensors

It is only ever read with ``torch.load(weights_only=True)``, so a file cannot run code on load.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import pickle
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from engine.atomic import atomic_path
from engine.errors import CheckpointError

log = logging.getLogger(__name__)

FORMAT = "foley-assistant/avmodel"
VERSION = 1
# Calibration state, not weights: re-calibrating must not invalidate a sound index bound to the id.
UNHASHED = frozenset({"threshold"})

_PLAIN = (str, int, float, bool, type(None))


def weights_hash(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes of the weights; first 16 hex chars."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        if name in UNHASHED:
            continue
        t = state_dict[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def check_extra(value: Any, where: str = "extra") -> None:
    """Refuse values that ``torch.load(weights_only=True)`` could not read back."""
    if isinstance(value, _PLAIN) or isinstance(value, torch.Tensor):
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{where}: keys must be str or int, got {type(k).__name__}")
            check_extra(v, f"{where}[{k!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_extra(v, f"{where}[{i}]")
        return
    raise TypeError(f"{where}: {type(value).__name__} cannot be stored in a model file; use plain values")


def write_failure(exc: BaseException, path: Path) -> str:
    """Why writing ``path`` failed, in words; a full disk is named as such."""
    full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    if not full:
        try:
            full = shutil.disk_usage(Path(path).parent).free < 1 << 20
        except OSError:
            pass
    if full:
        return "the disk is full; free some space and try again"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {first}"


def write_atomic(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file next to ``path``, fsync, then rename into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(payload, f)
    except BaseException as exc:
        if isinstance(exc, (OSError, RuntimeError)):  # torch's writer reports a full disk as a RuntimeError
            raise CheckpointError(f"could not write {path} ({write_failure(exc, path)}); the previous file is unchanged") from exc
        raise


def read_payload(path: Path, map_location: str = "cpu") -> dict[str, Any]:
    """Read and validate a model file's dict; ``CheckpointError`` saying what to do on anything wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}; train one with 'foley-engine train' or pass an existing file")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "global" not in str(e).lower():  # no code reference in it: random bytes, another format
            # (torch's own text would suggest loading with weights_only=False: never pass that on)
            raise CheckpointError(f"{path} is not a readable model file (damaged, or not a PyTorch file); re-export or retrain it") from e
        raise CheckpointError(
            f"{path} holds objects other than tensors and plain values, so it was NOT loaded "
            "(loading could run code); use a model file written by foley-engine"
        ) from e
    except Exception as e:  # not a torch file at all: truncated, another format, random bytes
        raise CheckpointError(f"{path} is not a readable model file ({type(e).__name__}); re-export or retrain it") from e
    if isinstance(data, dict) and FORMAT != data.get("format") and isinstance(data.get("model"), dict):
        data = data["model"]  # a training checkpoint that embeds the model payload
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a Foley Assistant model file (no {FORMAT!r} marker)")
    version = data.get("version")
    if version != VERSION:
        raise CheckpointError(
            f"{path} is model format version {version!r}, this version of foley-assistant reads {VERSION}; "
            "use the matching foley-assistant version or retrain"
        )
    missing = [k for k in ("model_cfg", "features", "state_dict", "model_id") if k not in data]
    if missing:
        raise CheckpointError(f"{path} is an incomplete model file (missing {missing}); re-export or retrain it")
    return data
