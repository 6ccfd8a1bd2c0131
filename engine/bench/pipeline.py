"""Training input pipeline: how fast the trainer's own DataLoader delivers pairs vs how fast the model consumes them."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def synthetic_dataset(work: Path, n_videos: int = 40, seconds: int = 10) -> Path:
    """A generated feature cache at the default 224x224 frame size (what ``prepare`` writes); reused if present."""
    from engine.data.synthetic import write_feature_cache

    root = work / f"train-data-{n_videos}x{seconds}"
    if (root / "dataset.json").is_file():
        return root
    return write_feature_cache(root, n_videos=n_videos, seconds=seconds, silent_ratio=0.1)


def loader_headroom(model_cfg, data: Path, work: Path, steps: int = 4, load_batches: int = 16, workers: int = 2) -> dict:
    """Delivery rate of ``make_loader`` (pairs/s, worker start-up included) over the rate of forward + backward + SGD steps."""
    from engine.data.cache import FeatureCache
    from engine.models import AVModel
    from engine.presets import train_defaults
    from engine.training import RunOptions, Trainer
    from engine.training.batches import epoch_batches, make_loader
    from engine.training.trainer import _LossStep

    # heads on pretrained towers train on cached tower features, not through this loader: measure
    # the loader with the same preset's scratch towers
    model_cfg = replace(model_cfg, vision_tower="scratch", audio_tower="scratch")
    cfg = replace(train_defaults(model_cfg), num_workers=workers)
    cache = FeatureCache(data)
    trainer = Trainer(cfg, data, work / "train-run", RunOptions(device="cpu", preset="bench", progress=False))
    torch.manual_seed(0)
    model = AVModel(cfg.model, cache.features)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    batches, contrastive = epoch_batches(cache, cfg, 0)
    batches = batches[: max(load_batches, steps + 1)]
    dev = torch.device("cpu")
    loader = make_loader(cache, cfg, batches, contrastive, 0, dev)
    t0, c0 = time.perf_counter(), time.process_time()
    loaded = list(loader)
    load_wall = time.perf_counter() - t0
    n = sum(len(b[0]) for b in loaded)
    step = _LossStep(model)
    trainer._step(step, opt, scaler, loaded[0], contrastive, dev, False)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for b in loaded[1 : steps + 1]:
        trainer._step(step, opt, scaler, b, contrastive, dev, False)
    step_wall, step_cpu = time.perf_counter() - t0, time.process_time() - c0
    m = sum(len(b[0]) for b in loaded[1 : steps + 1])
    delivery, consumption = n / load_wall, m / step_wall
    return {
        "data": str(data), "workers": workers, "batch_size": cfg.batch_size, "batches": len(loaded), "contrastive": contrastive,
        "delivery_pairs_per_s": delivery, "consumption_pairs_per_s": consumption, "headroom": delivery / consumption,
        "train_step_cpu_s_per_pair": step_cpu / max(m, 1), "torch_threads": torch.get_num_threads(),
    }
