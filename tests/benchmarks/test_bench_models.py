"""Model speed on CPU: embedding throughput (full vs compact, batch 1 vs 64), training steps, channels_last.

Run: ``pytest tests/benchmarks/test_bench_models.py --benchmark-only``; each result carries its
rate in ``extra_info`` (frames/s, clips/s or pairs/s) from the *fastest* round, which is the
least disturbed one on a shared machine.  Numbers are in docs/models.md.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from engine.models import AVModel
from engine.presets import get_preset, train_defaults

VARIANTS = ("full", "compact")


def _model(preset: str, variant: str) -> AVModel:
    torch.manual_seed(0)
    return AVModel(get_preset(preset, variant)).eval()


def _rounds(batch: int, variant: str) -> int:
    return 2 if batch > 1 and variant == "full" else 5


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("batch", [1, 64])
def test_bench_embed_frames(benchmark, variant: str, batch: int) -> None:
    """Vision encoder (m5 attention) from cached 224x224 uint8 frames: frames/s."""
    model = _model("m5", variant)
    frames = np.random.default_rng(0).integers(0, 256, (batch, 224, 224, 3), dtype=np.uint8)
    out = benchmark.pedantic(model.embed_frames, args=(frames, 64), rounds=_rounds(batch, variant), warmup_rounds=1)
    assert out.shape == (batch, 128)
    benchmark.extra_info["frames_per_s"] = batch / benchmark.stats.stats.min


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("batch", [1, 64])
def test_bench_embed_audio(benchmark, variant: str, batch: int) -> None:
    """Audio encoder (m5 attention) from 1-s waveforms, log-mel included: clips/s."""
    model = _model("m5", variant)
    clips = (0.1 * np.random.default_rng(0).standard_normal((batch, 48000))).astype(np.float32)
    out = benchmark.pedantic(model.embed_waveforms, args=(clips, 256), rounds=5, warmup_rounds=1)
    assert out.shape == (batch, 128)
    benchmark.extra_info["clips_per_s"] = batch / benchmark.stats.stats.min


@pytest.mark.parametrize("encoder_preset", ["m1", "m5"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_bench_embed_frames_channels_last(benchmark, encoder_preset: str, variant: str) -> None:
    """Batch-64 vision embedding, NCHW vs channels_last (AVModel's default) weights and inputs."""
    model = _model(encoder_preset, variant)
    x = model.prepare_frames(torch.from_numpy(np.random.default_rng(0).integers(0, 256, (64, 224, 224, 3), dtype=np.uint8)))

    def run(layout: torch.memory_format) -> float:
        model.vision.to(memory_format=layout)
        xin = x.contiguous(memory_format=layout)
        with torch.no_grad():
            model.vision(xin)  # warm-up
            best = float("inf")
            for _ in range(_rounds(64, variant)):
                t0 = time.perf_counter()
                model.vision(xin)
                best = min(best, time.perf_counter() - t0)
        return best

    default = run(torch.contiguous_format)
    cl = benchmark.pedantic(run, args=(torch.channels_last,), rounds=1, iterations=1)
    benchmark.extra_info["default_s"] = default
    benchmark.extra_info["channels_last_s"] = cl
    benchmark.extra_info["speedup_channels_last"] = default / cl


@pytest.mark.parametrize("preset", ["m1", "m5"])
def test_bench_train_step_compact(benchmark, preset: str) -> None:
    """One SGD step (forward, loss, backward, update) of a compact model at the paper's batch size: pairs/s."""
    cfg = get_preset(preset, "compact")
    batch = train_defaults(cfg).batch_size  # 128 baseline, 32 attention
    torch.manual_seed(0)
    model = AVModel(cfg).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, nesterov=True, weight_decay=1e-4)
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (batch, 224, 224, 3), dtype=torch.uint8, generator=g)
    mels = torch.randn(batch, 64, 100, generator=g) - 5
    labels = None if cfg.contrastive else torch.tensor([1.0, 0.0] * (batch // 2))

    def step() -> float:
        ev, ea = model.encode(frames, mels)
        loss, _ = model.loss(ev, ea, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    loss = benchmark.pedantic(step, rounds=3, warmup_rounds=1)
    assert np.isfinite(loss)
    benchmark.extra_info["batch"] = batch
    benchmark.extra_info["pairs_per_s"] = batch / benchmark.stats.stats.min


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("preset", ["m1", "m5"])
def test_bench_single_thread_cpu_time(benchmark, preset: str, variant: str, channels_last: bool) -> None:
    """Encoder cost in single-thread CPU time per frame / clip: barely moved by other jobs on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = AVModel(get_preset(preset, variant), channels_last=channels_last).eval()
        s = model.cfg.image_size
        x, a = torch.randn(8, 3, s, s), torch.randn(64, 1, 64, 100)

        def cost() -> tuple[float, float]:
            with torch.no_grad():
                t0 = time.process_time()
                model.vision(x)
                t1 = time.process_time()
                model.audio(a)
                return (t1 - t0) / len(x), (time.process_time() - t1) / len(a)

        cost()  # warm-up
        runs = [cost() for _ in range(3)]
        benchmark.pedantic(cost, rounds=1, iterations=1)
    finally:
        torch.set_num_threads(threads)
    benchmark.extra_info["vision_cpu_ms_per_frame"] = 1000 * min(r[0] for r in runs)
    benchmark.extra_info["audio_cpu_ms_per_clip"] = 1000 * min(r[1] for r in runs)
