"""Each epoch's training batches: a pure function of (seed, epoch), sharded per DDP rank.

BCE models (m1-m3, ft) get ``balanced_pairs`` drawn with a per-epoch seed; contrastive models
(m4-m7) get ``contrastive_batches`` (at most one second per video in a batch). A resumed run
re-draws the same epoch and skips the batches already done.
"""

from __future__ import annotations

import logging
import math
import random

import numpy as np
import torch
from torch.utils.data import DataLoader

from engine.config import TrainCfg
from engine.data.cache import FeatureCache
from engine.data.pairs import PairDataset, RowDataset, balanced_pairs, contrastive_batches, shard
from engine.training.ddp import DistInfo

log = logging.getLogger(__name__)


def epoch_seed(seed: int, epoch: int) -> int:
    """The data seed of one epoch (0-based): a pure function, so a resumed run draws the same data."""
    return seed * 100_003 + epoch + 1


def epoch_batches(cache: FeatureCache, cfg: TrainCfg, epoch: int, info: DistInfo = DistInfo()) -> tuple[list[np.ndarray], bool]:
    """This rank's batches of one epoch: arrays of pairs (BCE) or of rows (contrastive); and whether contrastive."""
    seed = epoch_seed(cfg.seed, epoch)
    kw = dict(skip_silent=cfg.skip_silent, silence_rms=cfg.silence_rms)
    if cfg.model.contrastive:
        batches = contrastive_batches(cache, "train", cfg.batch_size, seed, **kw)
        if cfg.pairs_per_epoch:
            batches = batches[: max(1, math.ceil(cfg.pairs_per_epoch / cfg.batch_size))]
        return list(shard(batches, info.rank, info.world_size)), True
    n = cfg.pairs_per_epoch or int(cache.indices("train").size)
    pairs = balanced_pairs(cache, "train", max(2, n), seed, cfg.negatives, cfg.min_gap_s, **kw)
    pairs = shard(pairs, info.rank, info.world_size)
    batches = [pairs[a : a + cfg.batch_size] for a in range(0, len(pairs), cfg.batch_size)]
    return [b for b in batches if len(b) >= 2], False  # BatchNorm needs two samples


def _worker_init(worker_id: int) -> None:
    """Seed python/numpy in a DataLoader worker from torch's per-worker seed (itself from the loader's generator)."""
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


def make_loader(cache: FeatureCache, cfg: TrainCfg, batches: list[np.ndarray], contrastive: bool, epoch: int, device: torch.device) -> DataLoader:
    """A DataLoader yielding exactly ``batches`` in order: ``(frames, mels[, labels])`` tensors."""
    common = dict(
        num_workers=cfg.num_workers,
        worker_init_fn=_worker_init,
        generator=torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch)),
        pin_memory=device.type == "cuda",
    )
    if contrastive:
        return DataLoader(RowDataset(cache), batch_sampler=[b.tolist() for b in batches], **common)
    flat = np.concatenate(batches) if batches else np.zeros((0, 3), np.int64)
    sizes = np.cumsum([0] + [len(b) for b in batches])
    sampler = [list(range(sizes[i], sizes[i + 1])) for i in range(len(batches))]
    return DataLoader(PairDataset(cache, flat), batch_sampler=sampler, **common)
