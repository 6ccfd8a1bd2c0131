"""Export speed: mixdown of a 5-minute, 300-clip timeline (render + limiter), limiter alone, WAV, project save/load.

Run: ``pytest tests/benchmarks/test_bench_export.py --benchmark-only``; each result carries a
real-time factor (seconds of audio per second of work) in ``extra_info``. Numbers are in
docs/project-and-export.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foley_app.core.audio_cache import AudioCache
from foley_app.core.commands import AddClip, AddTrack
from foley_app.core.document import Clip, Document
from foley_app.core.export import export_wav
from foley_app.core.mix import limit, mixdown, render
from foley_app.core.project_io import load_project, save_project

SR = 48_000
MINUTES = 5


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> Document:
    """8 tracks, 300 clips from 30 sounds of 0.5-4 s spread over 5 minutes, loud enough to limit."""
    folder = tmp_path_factory.mktemp("bench_sounds")
    rng = np.random.default_rng(0)
    files = []
    for i in range(30):
        n = int(rng.uniform(0.5, 4.0) * SR)
        p = folder / f"s{i:02d}.wav"
        sf.write(str(p), (rng.normal(0, 0.3, n) * np.exp(-np.arange(n) / SR * 2)).astype(np.float32), SR)
        files.append((p, n / SR))
    doc = Document()
    for _ in range(8):
        AddTrack().do(doc)
    for k in range(300):
        p, dur = files[k % 30]
        AddClip(doc.tracks[k % 8].id, Clip(f"c{k}", p, 0.0, dur, float(rng.uniform(0, MINUTES * 60 - 4)),
                   gain_db=float(rng.uniform(-6, 6)))).do(doc)
    return doc


def test_bench_mixdown(benchmark, timeline: Document) -> None:
    """render + limiter, sounds already decoded (the common case: they were auditioned)."""
    cache = AudioCache()
    mixdown(timeline, cache=cache)
    mix = benchmark.pedantic(mixdown, args=(timeline,), kwargs={"cache": cache}, rounds=3, warmup_rounds=0)
    assert mix.size == pytest.approx(MINUTES * 60 * SR, rel=0.02)
    benchmark.extra_info["realtime_x"] = mix.size / SR / benchmark.stats.stats.mean


def test_bench_mixdown_cold(benchmark, timeline: Document) -> None:
    """render + limiter including decoding every sound file."""
    mix = benchmark.pedantic(lambda: mixdown(timeline, cache=AudioCache()), rounds=3, warmup_rounds=0)
    benchmark.extra_info["realtime_x"] = mix.size / SR / benchmark.stats.stats.mean


def test_bench_limiter(benchmark, timeline: Document) -> None:
    """The look-ahead limiter alone on the raw 5-minute sum."""
    raw = render(timeline, cache=AudioCache())
    assert np.abs(raw).max() > 1.0  # the limiter has work to do
    y = benchmark.pedantic(limit, args=(raw, SR), rounds=3, warmup_rounds=0)
    assert np.abs(y).max() <= 10 ** (-1 / 20)
    benchmark.extra_info["realtime_x"] = raw.size / SR / benchmark.stats.stats.mean


def test_bench_export_wav(benchmark, timeline: Document, tmp_path: Path) -> None:
    """Mixdown + 24-bit WAV written atomically."""
    cache = AudioCache()
    mixdown(timeline, cache=cache)
    out = benchmark.pedantic(export_wav, args=(timeline, tmp_path / "mix.wav"), kwargs={"cache": cache},
                             rounds=3, warmup_rounds=0)
    benchmark.extra_info["realtime_x"] = sf.info(str(out)).duration / benchmark.stats.stats.mean


def test_bench_project_save_load(benchmark, timeline: Document, tmp_path: Path) -> None:
    """Atomic save (fsync) + validated load of the 300-clip project."""
    path = tmp_path / "bench.foley"

    def roundtrip() -> Document:
        save_project(timeline, path)
        return load_project(path)

    back = benchmark.pedantic(roundtrip, rounds=5, warmup_rounds=1)
    assert back.clip_count() == 300
