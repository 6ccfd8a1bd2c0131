"""Distil aisfx into the small sound tower ``aisfx-small`` (``foley-engine distill-tower``).

The student (``engine.models.towers.AisfxSmall``) reads the same 96-band log-mels as aisfx and
is trained to reproduce aisfx's 512-d embedding (1 - cosine, plus the mean squared error in
units of the targets' RMS) on:

* every sounding second of a prepared dataset's footage (the targets are the cached aisfx
  features of ``foley-engine cache-towers``; the log-mels are decoded again from the source
  videos, exactly as the cache computed them), and
* the indexer's 1-s windows of sound libraries (aisfx run here), and
* a fixed set of augmented windows: two training windows mixed in the power domain at a random
  ratio, at a random gain (aisfx run on each, once).

Whole clips and whole files are held out for validation: the dataset's validation clips and the
library folders named as held out (the library the product task is measured on), so the
reported fidelity is that of sounds the student never saw. One thread, a time budget, no GPU.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.errors import DatasetError

log = logging.getLogger(__name__)

LOG_GAIN = 1e4  # aisfx's log10(S * 1e4 + 1): the front end inverted for mixing


@dataclass
class DistillData:
    """Log-mel windows ``(n, n_mels, frames)`` and aisfx's embeddings ``(n, 512)`` of them."""

    mels: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.mels)

    @staticmethod
    def join(parts: Iterable[DistillData]) -> DistillData:
        parts = [p for p in parts if len(p)]
        if not parts:
            raise DatasetError("no windows to distil on")
        return DistillData(np.concatenate([p.mels for p in parts]).astype(np.float32),
                           np.concatenate([p.targets for p in parts]).astype(np.float32))


@dataclass(frozen=True)
class DistillCfg:
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    mse_weight: float = 1.0
    max_seconds: float = 1200.0  # wall-clock budget of the training loop
    max_epochs: int = 200
    shift_frames: int = 2  # random circular time shift of up to this many frames (the targets pool over time)
    seed: int = 0


@dataclass
class DistillRun:
    model: torch.nn.Module
    history: list[dict] = field(default_factory=list)
    val_cosine: float = float("nan")


# ------------------------------------------------------------------------------------ data
def teacher_embed(mels: np.ndarray, teacher: torch.nn.Module | None = None, batch: int = 64) -> np.ndarray:
    """aisfx's embedding of log-mel windows (one pass, no gradients)."""
    if teacher is None:
        from engine.models.towers import build_tower

        teacher = build_tower("aisfx")
    out = []
    with torch.no_grad():
        for i in range(0, len(mels), batch):
            out.append(teacher(torch.from_numpy(np.ascontiguousarray(mels[i : i + batch], np.float32)).unsqueeze(1)).numpy())
    return np.concatenate(out) if out else np.zeros((0, 512), np.float32)


def footage_data(dataset: Path, splits: tuple[str, ...]) -> DistillData:
    """The cached aisfx features of a dataset's ``splits`` and the log-mels they were computed from."""
    from engine.data.cache import FeatureCache
    from engine.data.tower_cache import clip_mels, load_tower_features
    from engine.models.towers import aisfx_features

    tf = load_tower_features(dataset)
    keep = np.isin(tf.splits, list(splits))
    cache = FeatureCache(dataset)
    mels = clip_mels(cache, tf.rows[keep], aisfx_features(cache.features))
    return DistillData(mels.astype(np.float32), tf.audio[keep].astype(np.float32))


def library_data(roots: Iterable[Path], teacher: torch.nn.Module | None = None,
                 progress: Callable[[str], None] | None = None) -> DistillData:
    """The indexer's 1-s windows of every sound under ``roots`` and aisfx's embedding of each."""
    from engine.data.features import DEFAULT_FEATURES
    from engine.library.scan import scan
    from engine.library.segments import PreparedFile, prepare_file
    from engine.models.towers import aisfx_features, build_tower

    teacher = teacher or build_tower("aisfx")
    feats = aisfx_features(DEFAULT_FEATURES)
    found, _ = scan([Path(r) for r in roots])
    mels = []
    for i, f in enumerate(found):
        prepared = prepare_file(f.path, f.root, f.size, f.mtime_ns, feats)
        if isinstance(prepared, PreparedFile):
            mels.append(prepared.mels.astype(np.float32))
        if progress and (i + 1) % 200 == 0:
            progress(f"{i + 1}/{len(found)} library files")
    if not mels:
        return DistillData(np.zeros((0, feats.n_mels, feats.n_frames), np.float32), np.zeros((0, 512), np.float32))
    m = np.concatenate(mels)
    return DistillData(m, teacher_embed(m, teacher))


def mix_windows(a: np.ndarray, b: np.ndarray, ratio: float, gain: float) -> np.ndarray:
    """Two log-mel windows added in the power domain (``b`` scaled by ``ratio``), times ``gain``,
    back in aisfx's log scale (``log10(S * 1e4 + 1)``)."""
    pa = (np.power(10.0, a.astype(np.float64)) - 1.0) / LOG_GAIN
    pb = (np.power(10.0, b.astype(np.float64)) - 1.0) / LOG_GAIN
    return np.log10(np.maximum(gain * (pa + ratio * pb), 0.0) * LOG_GAIN + 1.0).astype(np.float32)


def augmented_data(base: DistillData, n: int, seed: int = 0, teacher: torch.nn.Module | None = None) -> DistillData:
    """``n`` windows: half two training windows mixed (ratio 0.1..1), half one window alone, each at a
    random gain (-12..0 dB), with aisfx's embedding of the result as the target."""
    rng = np.random.default_rng(seed)
    if n <= 0 or not len(base):
        return DistillData(base.mels[:0], base.targets[:0])
    i = rng.integers(0, len(base), n)
    j = rng.integers(0, len(base), n)
    ratio = np.where(rng.random(n) < 0.5, rng.uniform(0.1, 1.0, n), 0.0)
    gain = 10.0 ** (rng.uniform(-12.0, 0.0, n) / 10.0)
    mels = np.stack([mix_windows(base.mels[a], base.mels[b], r, g) for a, b, r, g in zip(i, j, ratio, gain)])
    return DistillData(mels, teacher_embed(mels, teacher))


# ------------------------------------------------------------------------------------ training
def distill_loss(pred: torch.Tensor, target: torch.Tensor, scale: float, mse_weight: float = 1.0) -> torch.Tensor:
    """``1 - cos`` plus ``mse_weight`` times the mean squared error in units of the targets' RMS ``scale``."""
    cos = torch.nn.functional.cosine_similarity(pred, target, dim=-1)
    return (1.0 - cos).mean() + mse_weight * ((pred - target) / scale).pow(2).mean()


def mean_cosine(model: torch.nn.Module, data: DistillData, batch: int = 256) -> float:
    """Mean cosine between the model's embedding and the targets."""
    if not len(data):
        return float("nan")
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(data), batch):
            x = torch.from_numpy(data.mels[i : i + batch]).unsqueeze(1)
            t = torch.from_numpy(data.targets[i : i + batch])
            total += float(torch.nn.functional.cosine_similarity(model(x), t, dim=-1).sum())
    return total / len(data)


def distill(train: DistillData, val: DistillData | None = None, cfg: DistillCfg = DistillCfg(),
            model: torch.nn.Module | None = None, progress: Callable[[str], None] | None = None) -> DistillRun:
    """Train ``AisfxSmall`` (or ``model``) to reproduce ``train.targets``; keeps the epoch best on ``val``."""
    import copy

    from engine.models.towers import AisfxSmall

    say = progress or (lambda m: None)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = model if model is not None else AisfxSmall()
    scale = float(np.sqrt(np.mean(np.square(train.targets)))) or 1.0
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    bs = min(cfg.batch_size, len(train))
    steps = max(1, len(train) // bs)
    # the schedule is laid out over the epochs the time budget allows, measured on the first epoch
    sched_epochs = cfg.max_epochs
    sched = None
    best_cos, best_state, history = -2.0, None, []
    t_start = time.perf_counter()
    for epoch in range(1, cfg.max_epochs + 1):
        model.train()
        order = rng.permutation(len(train))
        total, t0 = 0.0, time.perf_counter()
        for k in range(steps):
            idx = np.sort(order[k * bs : (k + 1) * bs])
            x = torch.from_numpy(train.mels[idx]).unsqueeze(1)
            if cfg.shift_frames:
                x = torch.roll(x, int(rng.integers(-cfg.shift_frames, cfg.shift_frames + 1)), dims=-1)
            loss = distill_loss(model(x), torch.from_numpy(train.targets[idx]), scale, cfg.mse_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += float(loss.detach())
        seconds = time.perf_counter() - t0
        if sched is None:  # after the first epoch: cosine decay over what the budget leaves
            sched_epochs = max(1, min(cfg.max_epochs, int(cfg.max_seconds / max(seconds, 1e-6))))
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, (sched_epochs - 1) * steps))
        row = {"epoch": epoch, "loss": total / steps, "seconds": seconds}
        check = val if val is not None and len(val) else None
        if check is not None:
            row["val_cosine"] = mean_cosine(model, check)
            if row["val_cosine"] > best_cos:
                best_cos, best_state = row["val_cosine"], copy.deepcopy(model.state_dict())
        history.append(row)
        say(f"epoch {epoch}/{sched_epochs}: loss {row['loss']:.4f}" + (f", val cosine {row['val_cosine']:.4f}" if check is not None else ""))
        elapsed = time.perf_counter() - t_start
        if epoch >= sched_epochs or elapsed + seconds > cfg.max_seconds * 1.05:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return DistillRun(model, history, best_cos if best_state is not None else float("nan"))


def save_student(model: torch.nn.Module, path: Path) -> str:
    """Write the student's state dict (float32 tensors only, for ``weights_only`` loading); returns its fingerprint."""
    from engine.atomic import atomic_path
    from engine.models.towers import weights_fingerprint

    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return weights_fingerprint(state)

