"""Library benchmarks: HNSW vs exact search, query latency, memory, frame -> top-10, indexing throughput.

Run: ``pytest tests/benchmarks/test_bench_library.py --benchmark-only`` (200k segments);
add ``FOLEY_BENCH_1M=1`` for the 1M-segment runs (minutes to build on 2 cores).
Every test stores its figures in ``extra_info`` (``--benchmark-json`` writes them out); the
measured numbers are in docs/library.md.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from engine.bench.library import (
    benchmark_model,
    build_graph,
    clustered_queries,
    clustered_vectors,
    random_vectors,
    recall_and_speed,
    synthetic_index,
)
from engine.bench.timing import percentiles_ms, rss_mb, timed
from engine.library.vectors import HnswParams

SIZES = [int(x) for x in os.environ.get("FOLEY_BENCH_SIZES", "200000").split(",")] + ([1_000_000] if os.environ.get("FOLEY_BENCH_1M") else [])
KINDS = ["random", "clustered"]
_cache: dict[tuple, tuple] = {}


def data_and_graph(kind: str, n: int, params: HnswParams = HnswParams()):
    key = (kind, n, params)
    if key not in _cache:
        data = random_vectors(n, seed=0) if kind == "random" else clustered_vectors(n, seed=0)
        queries = random_vectors(300, seed=9) if kind == "random" else clustered_queries(data, 300, seed=9)
        before = rss_mb()
        graph, build_s = build_graph(data, params)
        _cache.clear()  # keep one graph in memory at a time
        _cache[key] = (data, queries, graph, build_s, rss_mb() - before)
    return _cache[key]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_hnsw_query_latency_and_recall(benchmark, kind: str, n: int) -> None:
    """Query latency p50/p95 at the default parameters; recall@10 and speed ratio against brute force."""
    data, queries, graph, build_s, graph_mb = data_and_graph(kind, n)
    it = iter(np.tile(queries, (50, 1)))
    benchmark.pedantic(lambda: graph.search(next(it), 10), rounds=2000, iterations=1, warmup_rounds=20)
    stats = recall_and_speed(graph, data, queries, k=10, exact_queries=40)
    benchmark.extra_info.update(kind=kind, segments=n, build_s=round(build_s, 1), graph_mb=round(graph_mb), **{
        "recall@10": stats["recall@10"], "hnsw_p50_ms": stats["hnsw"]["p50_ms"], "hnsw_p95_ms": stats["hnsw"]["p95_ms"],
        "exact_p50_ms": stats["exact"]["p50_ms"], "speedup": stats["speedup_p50"], "params": dataclasses.asdict(HnswParams())})
    if kind == "clustered":
        assert stats["recall@10"] >= 0.95


@pytest.mark.parametrize("kind", KINDS)
def test_hnsw_ef_sweep(benchmark, kind: str) -> None:
    """How recall and latency trade at the first size (200k) as ``ef`` grows (the default was chosen from this)."""
    data, queries, graph, _, _ = data_and_graph(kind, SIZES[0])
    sweep = {}
    for ef in (16, 32, 64, 128, 256):
        s = recall_and_speed(graph, data, queries[:100], k=10, ef=ef, exact_queries=40)
        sweep[ef] = {"recall@10": s["recall@10"], "p50_ms": round(s["hnsw"]["p50_ms"], 3), "p95_ms": round(s["hnsw"]["p95_ms"], 3)}
    benchmark.extra_info.update(kind=kind, sweep=sweep)
    benchmark.pedantic(lambda: graph.search(queries[0], 10, ef=64), rounds=50, iterations=1)


@pytest.fixture(scope="module")
def recommender_at(tmp_path_factory):
    """A real index folder with n clustered segments and a Recommender over it (shipped or compact model)."""
    from engine.api import Recommender

    made = {}

    def make(n: int):
        if n not in made:
            made.clear()
            model = benchmark_model()
            data = clustered_vectors(n, dim=model.cfg.embed_dim, seed=0)
            index = synthetic_index(tmp_path_factory.mktemp(f"idx{n}"), data, model.model_id)
            made[n] = Recommender(model, index, tmp_path_factory.mktemp("vcache"))
        return made[n]

    return make


@pytest.mark.parametrize("n", SIZES)
def test_frame_to_top10_without_and_with_video_cache(benchmark, recommender_at, event_video, n: int) -> None:
    """Scrubbing: decode + visual encoder + search (no cache) vs cached embedding + search."""
    rec = recommender_at(n)
    rec.video_cache.embed_video(event_video.path)
    rng = np.random.default_rng(0)
    times = rng.uniform(0, 9.99, 400)
    it = iter(times)
    cached = timed(lambda: rec.for_video(event_video.path, float(next(it)), k=10), repeats=300, warmup=5)
    frames = [rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8) for _ in range(4)]
    fi = iter(range(10_000))
    uncached = timed(lambda: rec.for_frame(frames[next(fi) % 4], k=10), repeats=60, warmup=3)
    benchmark.extra_info.update(segments=n, model=rec.model.model_id, cached=percentiles_ms(cached), frame_720p=percentiles_ms(uncached))
    benchmark.pedantic(lambda: rec.for_video(event_video.path, 4.2, k=10), rounds=100, iterations=1)


@pytest.mark.parametrize("n", SIZES)
def test_open_index_memory(benchmark, recommender_at, n: int) -> None:
    """Resident memory of a fresh process that opens the index and answers one query."""
    rec = recommender_at(n)
    script = textwrap.dedent(f"""
        import numpy as np
        from pathlib import Path
        from engine.bench.library import benchmark_model, rss_mb
        base = rss_mb()
        from engine.library.sound_index import SoundIndex
        index = SoundIndex.open(Path({str(rec.index.db_dir)!r}))
        index.hnsw.search(np.ones(index.dim, np.float32) / np.sqrt(index.dim), 10)
        with_index = rss_mb()
        from engine.library.recommender import Recommender
        r = Recommender(benchmark_model(), index)
        r.for_frame(np.zeros((720, 1280, 3), np.uint8), k=10)
        print(base, with_index, rss_mb())
    """)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    base, with_index, total = map(float, out.stdout.split()[-3:])
    benchmark.extra_info.update(segments=n, index_mb=round(with_index - base), rss_total_mb=round(total), open_and_query_s=round(time.perf_counter() - t0, 1))
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)


def test_indexing_throughput(benchmark, tmp_path_factory) -> None:
    """Audio seconds indexed per wall second: decode + features + embed + insert, 2 decoding workers."""
    from engine.data.synthetic import write_sound_library
    from engine.library.indexer import index_library

    model = benchmark_model()
    real = Path(os.environ["FOLEY_BENCH_LIBRARY"]) if os.environ.get("FOLEY_BENCH_LIBRARY") else None
    if real is not None and real.is_dir():
        root = real
    else:
        root = tmp_path_factory.mktemp("lib")
        write_sound_library(root, per_class=20, seconds=6.0)
    reports = []

    def run() -> None:
        db = tmp_path_factory.mktemp("db")
        reports.append(index_library([root], model, db, workers=2, progress=False))

    benchmark.pedantic(run, rounds=1, iterations=1)
    r = reports[-1]
    benchmark.extra_info.update(library=str(root), files=r.files, segments=r.segments, audio_s=round(r.audio_seconds), wall_s=round(r.wall_seconds, 1),
                                realtime_factor=round(r.realtime_factor, 1), segments_per_s=round(r.embedded_segments / r.wall_seconds, 1))
