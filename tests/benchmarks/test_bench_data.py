"""Data pipeline speed: ``prepare`` throughput on a 60-s 720p clip, torch vs librosa log-mel on 1000 clips.

Run with ``pytest tests/benchmarks/test_bench_data.py --benchmark-only``; the numbers land in
``extra_info`` (video-seconds per wall-second, speed ratio) and in docs/data.md.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from engine.bench.timing import cpu_seconds
from engine.data import synthetic
from engine.data.features import log_mel, log_mel_batch
from engine.data.prepare import prepare_dataset

CLIP_SECONDS = 60


@pytest.fixture(scope="module")
def clip_720p(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 60-s 1280x720 30-fps H.264/AAC clip with an event every second."""
    folder = tmp_path_factory.mktemp("bench720") / "videos"
    folder.mkdir()
    synthetic.write_video(folder / "clip720.mp4", synthetic.random_events(CLIP_SECONDS, seed=1), size=(1280, 720), fps=30, seed=1)
    return folder


@pytest.mark.parametrize("workers", [0, 1])
def test_prepare_throughput_720p(benchmark, clip_720p: Path, tmp_path: Path, workers: int) -> None:
    """Decode + resize + log-mel + write of one 60-s 720p video; workers=1 adds the process start-up."""
    out = tmp_path / "ds"

    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)

    cpu: list[float] = []

    def run():
        c0 = cpu_seconds()
        report = prepare_dataset(clip_720p, out, workers=workers, progress=False)
        cpu.append(cpu_seconds() - c0)
        return report

    report = benchmark.pedantic(run, setup=fresh, rounds=3, iterations=1)
    assert report.videos == 1 and report.seconds == CLIP_SECONDS
    stats = benchmark.stats.stats
    benchmark.extra_info["video_seconds_per_second"] = round(CLIP_SECONDS / stats.mean, 2)
    benchmark.extra_info["video_seconds_per_second_best"] = round(CLIP_SECONDS / stats.min, 2)
    benchmark.extra_info["video_seconds_per_cpu_second"] = round(CLIP_SECONDS / (sum(cpu) / len(cpu)), 2)
    benchmark.extra_info["workers"] = workers


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.normal(0, 0.1, (1000, 48_000)) * rng.uniform(0, 1, (1000, 1))).astype(np.float32)


def test_log_mel_torch_1000_clips(benchmark, clips: np.ndarray) -> None:
    """Batched torch log-mel (256 clips a batch, as prepare does) vs the librosa reference, 1000 clips."""
    log_mel_batch(clips[:8])  # warm-up: mel basis, torch kernels

    def torch_all() -> np.ndarray:
        return np.concatenate([log_mel_batch(clips[a : a + 256]) for a in range(0, len(clips), 256)])

    c0 = cpu_seconds()
    out = benchmark.pedantic(torch_all, rounds=3, iterations=1)
    torch_cpu = (cpu_seconds() - c0) / 3
    assert out.shape == (1000, 64, 100)
    log_mel(clips[0])  # warm-up librosa
    t0, c0 = time.perf_counter(), cpu_seconds()
    ref = np.stack([log_mel(c) for c in clips])
    librosa_s, librosa_cpu = time.perf_counter() - t0, cpu_seconds() - c0
    assert np.abs(ref - out).max() < 1e-3
    benchmark.extra_info["librosa_seconds"] = round(librosa_s, 3)
    benchmark.extra_info["torch_speedup_vs_librosa"] = round(librosa_s / benchmark.stats.stats.mean, 2)
    benchmark.extra_info["torch_cpu_seconds"] = round(torch_cpu, 3)
    benchmark.extra_info["librosa_cpu_seconds"] = round(librosa_cpu, 3)
    benchmark.extra_info["torch_speedup_vs_librosa_cpu"] = round(librosa_cpu / torch_cpu, 2)
