"""Training speed on CPU with the trainer's own data path: pairs/s, and loader delivery vs model consumption.

Run: ``pytest tests/benchmarks/test_bench_training.py --benchmark-only -s``. Each result carries its
rates in ``extra_info``; the numbers are in docs/training.md. The data is a generated feature cache
at the default 224x224 frame size (what ``prepare`` writes), the models are the ``compact`` presets
at their paper batch sizes (m1: 128, m5: 32).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.cache import FeatureCache
from engine.data.synthetic import write_feature_cache
from engine.presets import get_preset, train_defaults
from engine.training import RunOptions, Trainer
from engine.training.batches import epoch_batches, make_loader

STEPS = 4  # timed optimisation steps per measurement (after one warm-up step)
THREADS = int(os.environ.get("FOLEY_BENCH_THREADS", "1"))  # 1: this machine's 2 cores are shared; set to your core count


@pytest.fixture(scope="module", autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_feature_cache(tmp_path_factory.mktemp("bench_train") / "data", n_videos=60, seconds=10, silent_ratio=0.1)


def _setup(preset: str, data: Path, workers: int, tmp: Path):
    cfg = replace(train_defaults(get_preset(preset, "compact")), num_workers=workers)
    trainer = Trainer(cfg, data, tmp, RunOptions(device="cpu", preset=preset, progress=False))
    cache = FeatureCache(data)
    torch.manual_seed(0)
    from engine.models import AVModel

    model = AVModel(cfg.model, cache.features)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    batches, contrastive = epoch_batches(cache, cfg, 0)
    loader = make_loader(cache, cfg, batches[: STEPS + 1], contrastive, 0, torch.device("cpu"))
    from engine.training.trainer import _LossStep

    return trainer, _LossStep(model), opt, scaler, loader, contrastive, cfg


def _rate(n_pairs: int, seconds: float) -> float:
    return n_pairs / seconds if seconds > 0 else float("inf")


@pytest.mark.parametrize("preset", ["m1", "m5"])
def test_bench_training_pairs_per_s(benchmark, preset: str, data: Path, tmp_path: Path) -> None:
    """End-to-end training rate (DataLoader with 2 workers + forward + backward + SGD step): pairs/s."""
    trainer, step, opt, scaler, loader, contrastive, cfg = _setup(preset, data, 2, tmp_path)
    dev = torch.device("cpu")

    def run() -> int:
        n = 0
        it = iter(loader)
        trainer._step(step, opt, scaler, next(it), contrastive, dev, False)  # warm-up
        t0 = time.perf_counter()
        for batch in it:
            trainer._step(step, opt, scaler, batch, contrastive, dev, False)
            n += len(batch[0])
        return n, time.perf_counter() - t0

    n, seconds = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(pairs_per_s=_rate(n, seconds), batch_size=cfg.batch_size, threads=torch.get_num_threads())
    print(f"\n{preset} compact: {_rate(n, seconds):.1f} training pairs/s (batch {cfg.batch_size}, {torch.get_num_threads()} threads)")
    assert n >= (STEPS - 1) * cfg.batch_size // 2


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("preset", ["m1", "m5"])
def test_bench_loader_headroom(benchmark, preset: str, workers: int, data: Path, tmp_path: Path) -> None:
    """Loader delivery rate vs the model's consumption rate on in-memory batches; headroom = ratio (> 1: not the bottleneck)."""
    trainer, step, opt, scaler, loader, contrastive, cfg = _setup(preset, data, workers, tmp_path)
    dev = torch.device("cpu")

    def run() -> tuple[float, float]:
        t0 = time.perf_counter()
        batches = list(loader)
        load_s = time.perf_counter() - t0
        n = sum(len(b[0]) for b in batches)
        trainer._step(step, opt, scaler, batches[0], contrastive, dev, False)  # warm-up
        t0 = time.perf_counter()
        for b in batches[1:]:
            trainer._step(step, opt, scaler, b, contrastive, dev, False)
        m = sum(len(b[0]) for b in batches[1:])
        return _rate(n, load_s), _rate(m, time.perf_counter() - t0)

    delivery, consumption = benchmark.pedantic(run, rounds=1, iterations=1)
    headroom = delivery / consumption
    benchmark.extra_info.update(delivery_pairs_per_s=delivery, consumption_pairs_per_s=consumption, headroom=headroom, workers=workers)
    print(f"\n{preset} compact, {workers} workers: loader {delivery:.0f} pairs/s, model {consumption:.1f} pairs/s, headroom x{headroom:.1f}")
    assert np.isfinite(headroom) and headroom > 0
