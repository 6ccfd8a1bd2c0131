"""Training and evaluation samples drawn from a prepared dataset (paper §3, §4.3, §5).

Everything here works on ``FeatureCache`` manifest row indices and is deterministic for a seed:

* ``balanced_pairs`` — half correlated pairs (frame k with audio second k of the same video), half
  uncorrelated ones. Negatives "gameplay": the audio comes from another video or from the same
  video at least ``min_gap_s`` seconds away; negatives "label": from a video with a different label.
  ``pairs_of_pool`` is the same draw over any pool of rows of anything with ``video_ids`` and
  ``seconds`` columns (the head trainer's cached tower features).
* ``contrastive_batches`` — one epoch of batches of rows, at most one row per video in a batch,
  so the other rows of a batch are true negatives for InfoNCE / NT-Xent.
* ``eval_pairs`` / ``search_list`` — the fixed evaluation sets (balanced test pairs; one random
  second per test video for the recommendation search).
* ``shard`` — DistributedSampler-style split of any of these arrays over ranks.
* ``PairDataset`` / ``RowDataset`` — map-style datasets for a ``DataLoader`` (workers reopen the
  memory maps themselves).

With ``skip_silent`` the seconds quieter than ``silence_rms`` (pre-normalisation RMS, stored by
prepare) are left out of the pool that both frames and audio are drawn from, so silent audio is
neither a positive nor (which would be a loudness shortcut) only ever a negative.
"""

from __future__ import annotations

import logging
import math
from collections import deque

import numpy as np
import torch
from torch.utils.data import Dataset

from engine.data.cache import FeatureCache
from engine.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

NEGATIVES = ("gameplay", "label")
_REJECTION_ROUNDS = 64


def _pool(cache: FeatureCache, split: str | None, skip_silent: bool, silence_rms: float) -> np.ndarray:
    """Rows of a split, without the silent seconds when asked."""
    rows = cache.indices(split)
    if skip_silent:
        rows = rows[cache.levels[rows] >= silence_rms]
    if rows.size == 0:
        extra = f" with sound (RMS >= {silence_rms:g})" if skip_silent else ""
        raise DatasetError(f"{cache.root}: split {split!r} has no seconds{extra}; prepare more videos or change the split ratios")
    return rows


def _codes(values: np.ndarray) -> np.ndarray:
    """Small integer codes for string values (equal strings, equal codes)."""
    return np.unique(values, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _cycled(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of ``pool``: whole shuffled passes over it, so every row is used evenly."""
    if n <= 0:
        return np.zeros(0, np.int64)
    passes = math.ceil(n / pool.size)
    return np.concatenate([rng.permutation(pool) for _ in range(passes)])[:n].astype(np.int64)


def _negative_audio(
    cache: FeatureCache, pool: np.ndarray, frames: np.ndarray, negatives: str, min_gap_s: int, rng: np.random.Generator
) -> np.ndarray:
    """For each frame row, an audio row from ``pool`` that is not correlated with it.

    ``cache`` needs only the columns the negatives read (``video_ids`` and ``seconds``, or
    ``labels``), indexed like ``pool``: a ``FeatureCache`` or ``TowerFeatures``.
    """
    if negatives == "gameplay":
        if min_gap_s < 1:
            raise ConfigError(f"min_gap_s must be at least 1 (got {min_gap_s}), or an aligned pair could be labelled negative")
        video, second = _codes(cache.video_ids), cache.seconds

        def ok(f: np.ndarray, a: np.ndarray) -> np.ndarray:
            return (video[f] != video[a]) | (np.abs(second[f] - second[a]) >= min_gap_s)

        why = f"its video is the only one in the split and has no second {min_gap_s} s or more away; add videos or lower min_gap_s"
    elif negatives == "label":
        labels = cache.labels
        unlabelled = np.unique(cache.video_ids[pool][labels[pool] == ""])
        if unlabelled.size:
            raise DatasetError(
                f"negatives='label' needs a label on every video, {unlabelled.size} have none (e.g. {unlabelled[0]!r}); "
                "prepare with --labels CSV or a folder-per-label layout, or use negatives='gameplay'"
            )
        label = _codes(labels)

        def ok(f: np.ndarray, a: np.ndarray) -> np.ndarray:
            return label[f] != label[a]

        why = "all videos in the split have the same label; use negatives='gameplay'"
    else:
        raise ConfigError(f"unknown negatives {negatives!r}; choose from {NEGATIVES}")

    audio = pool[rng.integers(0, pool.size, size=frames.size)]
    bad = np.flatnonzero(~ok(frames, audio))
    for _ in range(_REJECTION_ROUNDS):
        if bad.size == 0:
            break
        audio[bad] = pool[rng.integers(0, pool.size, size=bad.size)]
        bad = bad[~ok(frames[bad], audio[bad])]
    for i in bad:  # rare: draw from the exact set of valid rows
        valid = pool[ok(np.full(pool.size, frames[i]), pool)]
        if valid.size == 0:
            raise DatasetError(f"{getattr(cache, 'root', 'training seconds')}: no uncorrelated audio for row {frames[i]}: {why}")
        audio[i] = valid[rng.integers(0, valid.size)]
    return audio


def _stack(frames: np.ndarray, audio: np.ndarray, label: int) -> np.ndarray:
    return np.stack([frames, audio, np.full(frames.size, label, np.int64)], axis=1).astype(np.int64)


def balanced_pairs(
    cache: FeatureCache,
    split: str,
    n_pairs: int,
    seed: int,
    negatives: str = "gameplay",
    min_gap_s: int = 5,
    skip_silent: bool = False,
    silence_rms: float = 1e-3,
) -> np.ndarray:
    """``(n_pairs, 3)`` int64 rows ``frame_row, audio_row, label`` (1 correlated, 0 not), half each, shuffled.

    Frames of the positives and of the negatives each cycle through the pool in shuffled passes,
    so every second is used about equally often.
    """
    if n_pairs < 1:
        raise ConfigError(f"n_pairs must be positive (got {n_pairs})")
    rng = np.random.default_rng(seed)
    pool = _pool(cache, split, skip_silent, silence_rms)
    return pairs_of_pool(cache, pool, n_pairs, rng, negatives, min_gap_s)


def pairs_of_pool(cache, pool: np.ndarray, n_pairs: int, rng: np.random.Generator, negatives: str = "gameplay",
                  min_gap_s: int = 5) -> np.ndarray:
    """``balanced_pairs`` over a given ``pool`` of rows of ``cache`` (a ``FeatureCache``, or anything
    with its ``video_ids`` and ``seconds`` columns, e.g. ``TowerFeatures``): ``(n_pairs, 3)``
    ``frame_row, audio_row, label``, the positives' frames in shuffled passes over the pool, then the
    negatives' frames likewise, each with an uncorrelated audio row of the pool."""
    if n_pairs < 1:
        raise ConfigError(f"n_pairs must be positive (got {n_pairs})")
    pool = np.asarray(pool, np.int64)
    if pool.size == 0:
        raise DatasetError("no seconds to draw pairs from")
    n_neg = n_pairs // 2
    pos = _cycled(pool, n_pairs - n_neg, rng)
    neg_frames = _cycled(pool, n_neg, rng)
    return _shuffled_pairs(cache, pool, pos, neg_frames, negatives, min_gap_s, rng)


def _shuffled_pairs(cache: FeatureCache, pool: np.ndarray, pos: np.ndarray, neg_frames: np.ndarray,
                    negatives: str, min_gap_s: int, rng: np.random.Generator) -> np.ndarray:
    """Aligned pairs for ``pos``, negatives for ``neg_frames`` drawn from ``pool``, shuffled together."""
    neg_audio = _negative_audio(cache, pool, neg_frames, negatives, min_gap_s, rng)
    pairs = np.concatenate([_stack(pos, pos, 1), _stack(neg_frames, neg_audio, 0)])
    return pairs[rng.permutation(len(pairs))]


def eval_pairs(
    cache: FeatureCache,
    split: str = "test",
    n_pairs: int = 3000,
    seed: int = 0,
    negatives: str = "gameplay",
    min_gap_s: int = 5,
    skip_silent: bool = False,
    silence_rms: float = 1e-3,
) -> np.ndarray:
    """The fixed balanced evaluation pairs: like ``balanced_pairs`` but no second is used twice.

    A split with fewer than ``n_pairs / 2`` seconds gives ``2 * seconds`` pairs (logged).
    """
    rng = np.random.default_rng(seed)
    pool = _pool(cache, split, skip_silent, silence_rms)
    half = min(n_pairs // 2, pool.size)
    if half < n_pairs // 2:
        log.info("split %r has %d seconds: %d evaluation pairs instead of %d", split, pool.size, 2 * half, n_pairs)
    if half == 0:
        raise ConfigError(f"n_pairs must be at least 2 (got {n_pairs})")
    pos = rng.choice(pool, size=half, replace=False).astype(np.int64)
    neg_frames = rng.choice(pool, size=half, replace=False).astype(np.int64)
    return _shuffled_pairs(cache, pool, pos, neg_frames, negatives, min_gap_s, rng)


def search_list(
    cache: FeatureCache,
    split: str = "test",
    per_video: int = 1,
    seed: int = 0,
    skip_silent: bool = False,
    silence_rms: float = 1e-3,
) -> np.ndarray:
    """Rows for the recommendation search: ``per_video`` random seconds of every video of the split (video order)."""
    if per_video < 1:
        raise ConfigError(f"per_video must be at least 1 (got {per_video})")
    rng = np.random.default_rng(seed)
    pool = _pool(cache, split, skip_silent, silence_rms)
    video = cache.video_ids[pool]
    order = np.argsort(video, kind="stable")
    pool, video = pool[order], video[order]
    starts = np.flatnonzero(np.r_[True, video[1:] != video[:-1]])
    out = []
    for a, b in zip(starts, np.r_[starts[1:], pool.size]):
        out.append(np.sort(rng.choice(pool[a:b], size=min(per_video, b - a), replace=False)))
    return np.concatenate(out).astype(np.int64)


def contrastive_batches(
    cache: FeatureCache,
    split: str,
    batch_size: int,
    seed: int,
    skip_silent: bool = False,
    silence_rms: float = 1e-3,
) -> list[np.ndarray]:
    """One epoch: every row of the split once, in batches of ``batch_size`` with at most one row per video.

    Rows are spread over the epoch (a video's k-th row lands near k/n of the way through), then
    packed greedily; a row whose video is already in the batch waits for the next one. Batches are
    smaller than ``batch_size`` only when the split has fewer videos than that or at the end of the
    epoch; batches of a single row (no negatives) are dropped.
    """
    if batch_size < 2:
        raise ConfigError(f"contrastive batches need batch_size >= 2 (got {batch_size})")
    rng = np.random.default_rng(seed)
    pool = _pool(cache, split, skip_silent, silence_rms)
    video = _codes(cache.video_ids[pool])
    n_videos = int(video.max()) + 1
    counts = np.bincount(video, minlength=n_videos)
    # position of each row inside its (shuffled) video, and one random phase per video
    pos = np.empty(pool.size, np.float64)
    for v_rows in np.split(np.argsort(video, kind="stable"), np.cumsum(counts)[:-1]):
        pos[v_rows] = rng.permutation(v_rows.size)
    key = (pos + rng.random(n_videos)[video]) / counts[video]
    queue = deque(np.argsort(key, kind="stable").tolist())
    pending: list[int] = []
    batches: list[np.ndarray] = []
    while queue or pending:
        batch: list[int] = []
        seen: set[int] = set()
        still: list[int] = []
        for i in pending:
            if len(batch) < batch_size and video[i] not in seen:
                batch.append(i)
                seen.add(int(video[i]))
            else:
                still.append(i)
        pending = still
        while len(batch) < batch_size and queue:
            i = queue.popleft()
            if video[i] in seen:
                pending.append(i)
            else:
                batch.append(i)
                seen.add(int(video[i]))
        if len(batch) >= 2:
            batches.append(pool[np.array(batch)].astype(np.int64))
    return batches


def shard(items: np.ndarray, rank: int, world_size: int, drop_last: bool = False) -> np.ndarray:
    """This rank's share of ``items`` (rows, pairs or a list of batches), like ``DistributedSampler``.

    Every rank gets the same number of items: the list is padded with its first items (or, with
    ``drop_last``, cut) to a multiple of ``world_size``, then rank r takes positions r, r+W, ...
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} is not in 0..{world_size - 1}")
    n = len(items)
    if drop_last:
        total = (n // world_size) * world_size
        idx = np.arange(total)
    else:
        total = math.ceil(n / world_size) * world_size
        idx = np.arange(total) % max(n, 1)
    mine = idx[rank:total:world_size]
    if isinstance(items, np.ndarray):
        return items[mine]
    return [items[int(i)] for i in mine]  # type: ignore[return-value]


class PairDataset(Dataset):
    """``(frame uint8 (224, 224, 3), mel float32 (64, 100), label float32)`` for each pair."""

    def __init__(self, cache: FeatureCache, pairs: np.ndarray) -> None:
        pairs = np.asarray(pairs, dtype=np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 3:
            raise ValueError(f"pairs must be (n, 3) frame_row, audio_row, label; got shape {pairs.shape}")
        self.cache = cache
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f, a, label = self.pairs[i]
        frame = torch.from_numpy(np.array(self.cache.frame(int(f))))  # (224, 224, 3) uint8
        mel = torch.from_numpy(np.array(self.cache.mel(int(a))))  # (64, 100) float32
        return frame, mel, torch.tensor(float(label), dtype=torch.float32)


class RowDataset(Dataset):
    """``(frame uint8 (224, 224, 3), mel float32 (64, 100))`` of each row: an aligned pair.

    Use with ``DataLoader(ds, batch_sampler=contrastive_batches(...))`` where ``ds`` holds all rows,
    or with any subset of rows (``search_list``).
    """

    def __init__(self, cache: FeatureCache, rows: np.ndarray | None = None) -> None:
        self.cache = cache
        self.rows = np.arange(len(cache)) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        r = int(self.rows[i])
        return torch.from_numpy(np.array(self.cache.frame(r))), torch.from_numpy(np.array(self.cache.mel(r)))
