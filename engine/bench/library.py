"""Measurement helpers for the library benchmarks (tests/benchmarks) and ``foley-engine bench``.

Synthetic vectors come in two kinds: ``random`` (uniform on the sphere: the hardest case for
HNSW) and ``clustered`` (what real embeddings look like: categories -> files -> segments, each a
tight cloud around its parent, with Zipf-like category sizes).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_text
from engine.bench.timing import measure, percentiles_ms, rss_mb  # noqa: F401  (rss_mb: for the memory subprocess)
from engine.library.sound_index import SoundIndex
from engine.library.store import Store
from engine.library.vectors import HnswIndex, HnswParams, exact_search, quantize, write_chunk

log = logging.getLogger(__name__)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def random_vectors(n: int, dim: int = 128, seed: int = 0) -> np.ndarray:
    """Uniform on the unit sphere."""
    return _unit(np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32))


def clustered_vectors(n: int, dim: int = 128, seed: int = 0, categories: int = 300, seg_per_file: int = 8, latent: int = 24) -> np.ndarray:
    """Category -> file -> segment clouds in a ``latent``-dimensional space, mapped linearly to ``dim``.

    Trained encoders put their outputs near a low-dimensional manifold; this mimics it. Consecutive
    rows are the segments of one file; category sizes are Zipf-like.
    """
    rng = np.random.default_rng(seed)
    proj = rng.standard_normal((latent, dim), dtype=np.float32) / np.sqrt(latent)
    centres = rng.standard_normal((categories, latent), dtype=np.float32)
    weights = 1.0 / np.arange(1, categories + 1) ** 0.8  # a few big categories, many small ones
    n_files = -(-n // seg_per_file)
    cat = rng.choice(categories, size=n_files, p=weights / weights.sum())
    files = centres[cat] + 0.5 * rng.standard_normal((n_files, latent), dtype=np.float32)
    z = np.repeat(files, seg_per_file, axis=0)[:n] + 0.25 * rng.standard_normal((n, latent), dtype=np.float32)
    x = z @ proj + 0.05 * rng.standard_normal((n, dim), dtype=np.float32)  # (n, dim)
    return _unit(x)


def clustered_queries(data: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    """Queries near the data but never on it (a frame embedding is not a library segment)."""
    rng = np.random.default_rng(seed)
    base = data[rng.integers(0, len(data), n)]
    return _unit(base + 0.1 * rng.standard_normal(base.shape, dtype=np.float32))


def resample_like(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` vectors distributed like real embeddings: random real rows jittered by their typical NN gap."""
    rng = np.random.default_rng(seed)
    real = _unit(np.asarray(real, np.float32))
    probe = real[rng.integers(0, len(real), min(256, len(real)))]
    d2 = np.maximum(2.0 - 2.0 * probe @ real.T, 0.0)  # (p, N) squared distances of unit vectors
    d2.sort(axis=1)
    gap = float(np.sqrt(np.median(d2[:, min(2, d2.shape[1] - 1)])))  # distance to the nearest other row
    base = real[rng.integers(0, len(real), n)]
    return _unit(base + gap / np.sqrt(real.shape[1]) * rng.standard_normal(base.shape, dtype=np.float32))


def build_graph(data: np.ndarray, params: HnswParams = HnswParams(), threads: int = -1) -> tuple[HnswIndex, float]:
    """``(graph, build seconds)``."""
    t0 = time.perf_counter()
    graph = HnswIndex(data.shape[1], params, capacity=len(data))
    for i in range(0, len(data), 100_000):
        graph.add(data[i : i + 100_000], np.arange(i, min(i + 100_000, len(data))), num_threads=threads)
    return graph, time.perf_counter() - t0


def recall_and_speed(graph: HnswIndex, data: np.ndarray, queries: np.ndarray, k: int = 10, ef: int | None = None, exact_queries: int = 50) -> dict:
    """Recall@k of the graph against brute force, latencies of both and their ratio."""
    data32 = np.asarray(quantize(data), np.float32)  # what the graph holds
    hnsw_t, exact_t, hits = [], [], 0
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        labels, _ = graph.search(q, k, ef=ef)
        hnsw_t.append(time.perf_counter() - t0)
        if i < exact_queries:
            t0 = time.perf_counter()
            rows, _ = exact_search(data32, q, k)
            exact_t.append(time.perf_counter() - t0)
            hits += len(set(labels.tolist()) & set(rows.tolist()))
    h, e = percentiles_ms(hnsw_t), percentiles_ms(exact_t)
    return {"recall@10": hits / (k * min(exact_queries, len(queries))), "hnsw": h, "exact": e, "speedup_p50": e["p50_ms"] / max(h["p50_ms"], 1e-9)}


def synthetic_index(db_dir: Path, vectors: np.ndarray, model_id: str, seg_per_file: int | list[int] = 8, params: HnswParams = HnswParams(),
                    categories: int = 300, graph: HnswIndex | None = None) -> SoundIndex:
    """A real index folder (SQLite + chunks + graph) over given vectors, with made-up file rows.

    ``seg_per_file`` is one count for every file or a list of counts (consecutive rows per file).
    """
    n = len(vectors)
    counts = list(seg_per_file) if isinstance(seg_per_file, list) else [seg_per_file] * (-(-n // seg_per_file))
    assert sum(counts) >= n
    index = SoundIndex.open(Path(db_dir), readonly=False)
    index.bind(model_id, vectors.shape[1], params, reembed=True)
    with index.store.transaction() as conn:
        label, fid, cid = 0, 0, 0
        while label < n:
            cid += 1
            start, rows = label, 0
            while label < n and (rows == 0 or rows + counts[fid] <= 65_536):  # whole files per chunk
                k = min(counts[fid], n - label)
                Store.insert_file(conn, dict(
                    path=Path(f"/synthetic/cat{fid % categories:03d}/file{fid:07d}.wav"), display_path=f"/synthetic/file{fid:07d}.wav",
                    root=Path("/synthetic"), size=1, mtime_ns=0, content_hash=f"{fid:032x}", duration=k * 0.5 + 0.5,
                    sample_rate=48000, channels=1, name=f"file{fid:07d}", description="", category=f"cat{fid % categories:03d}",
                    subcategory="", category_source="folder", label0=label, n_segments=k, hop=0.5, chunk_id=cid, chunk_row=rows,
                ))
                label, rows, fid = label + k, rows + k, fid + 1
            index.chunk_path(cid).parent.mkdir(parents=True, exist_ok=True)
            write_chunk(index.chunk_path(cid), quantize(vectors[start:label]))
            conn.execute("INSERT INTO chunks(id, n, live) VALUES(?, ?, ?)", (cid, rows, rows))
        Store.set_meta(conn, "next_label", str(label))
    index.refresh_files()
    if graph is None:  # a graph already built over the same vectors (labels = row numbers) may be reused
        graph, _ = build_graph(vectors, params)
    index.hnsw = graph
    index.save()
    return index


def benchmark_model():
    """The shipped model if installed, else the compact m5 preset with seed-0 weights (same id in every process)."""
    import torch

    from engine.library.paths import default_model_path
    from engine.models import AVModel
    from engine.presets import get_preset

    path = default_model_path()
    if path is not None:
        return AVModel.load(path).eval()
    torch.manual_seed(0)
    return AVModel(get_preset("m5", "compact")).eval()


def write_results(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(results, indent=2))


def run_all(out: Path, sizes: list[int], library: Path | None, work: Path) -> dict:
    """Every library figure in priority order, saved to ``out`` after each step (partial results survive)."""
    from engine.data.synthetic import write_video
    from engine.library.indexer import index_library

    results: dict = json.loads(out.read_text()) if out.is_file() else {}
    results["machine"] = f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    model = benchmark_model()
    results["model"] = {"id": model.model_id, "preset": f"{model.cfg.encoder}/{model.cfg.loss}", "image_size": model.cfg.image_size}
    video = work / "bench.mp4"
    if not video.is_file():
        write_video(video, ["circle", "square", "triangle", "bar", None] * 4, size=(640, 360))
    frames = [np.random.default_rng(i).integers(0, 255, (720, 1280, 3), dtype=np.uint8) for i in range(4)]

    def save() -> None:
        write_results(out, results)

    for n in sizes:
        for kind in ("clustered", "random"):
            key = f"{kind}_{n}"
            db = work / f"index_{n}"
            if key not in results:
                data = clustered_vectors(n, seed=0) if kind == "clustered" else random_vectors(n, seed=0)
                queries = clustered_queries(data, 300, seed=9) if kind == "clustered" else random_vectors(300, seed=9)
                graph, build_s = build_graph(data)
                r = recall_and_speed(graph, data, queries, k=10, exact_queries=40)
                sweep = {}
                for ef in (16, 32, 64, 128, 256):
                    s_ = recall_and_speed(graph, data, queries[:100], k=10, ef=ef, exact_queries=40)
                    sweep[ef] = {"recall@10": s_["recall@10"], "p50_ms": round(s_["hnsw"]["p50_ms"], 3), "p95_ms": round(s_["hnsw"]["p95_ms"], 3)}
                results[key] = {"build_s": round(build_s, 1), "recall@10": r["recall@10"], "hnsw_ms": r["hnsw"], "exact_ms": r["exact"],
                                "speedup_p50": round(r["speedup_p50"], 1), "ef_sweep": sweep}
                save()
                log.info("%s: %s", key, results[key])
                if kind == "clustered":
                    synthetic_index(db, data, model.model_id, graph=graph).close()
                del data, graph
            if kind == "clustered" and f"recommender_{n}" not in results and db.is_dir():
                results[f"recommender_{n}"] = _recommender_figures(model, db, video, frames, work)
                save()
                log.info("recommender_%d: %s", n, results[f"recommender_{n}"])
        if "indexing" not in results and library is not None and library.is_dir():
            db = work / "index_real"
            import shutil

            shutil.rmtree(db, ignore_errors=True)
            rep = index_library([library], model, db, workers=2, progress=False)
            results["indexing"] = {"library": str(library), "files": rep.files, "segments": rep.segments, "audio_s": round(rep.audio_seconds, 1),
                                   "wall_s": round(rep.wall_seconds, 1), "realtime_factor": round(rep.realtime_factor, 1),
                                   "segments_per_s": round(rep.embedded_segments / max(rep.wall_seconds, 1e-9), 1), "skipped": len(rep.skipped)}
            save()
            log.info("indexing: %s", results["indexing"])
    results["machine_end"] = f"load average {os.getloadavg()[0]:.1f} at end"
    save()
    return results


def _cpu_and_wall(fn: Callable[[], object], repeats: int, warmup: int = 3) -> dict:
    """Wall-clock percentiles and this thread's CPU time percentiles (robust to a loaded machine)."""
    return measure(fn, repeats, warmup, summarize=percentiles_ms)


def _recommender_figures(model, db: Path, video: Path, frames: list[np.ndarray], work: Path) -> dict:
    """Scrub latency with and without the video cache, and the memory of a fresh process holding the index."""
    import subprocess
    import sys

    from engine.library.recommender import Recommender

    index = SoundIndex.open(db, model.model_id)
    rec = Recommender(model, index, work / "vcache")
    rec.video_cache.embed_video(video)
    it = iter(np.random.default_rng(0).uniform(0, 19.99, 2000))
    cached = _cpu_and_wall(lambda: rec.for_video(video, float(next(it)), k=10), repeats=1000, warmup=10)
    fi = iter(range(10_000))
    fresh = _cpu_and_wall(lambda: rec.for_frame(frames[next(fi) % len(frames)], k=10), repeats=60)
    enc = _cpu_and_wall(lambda: model.embed_frames(frames[0][None]), repeats=30)
    vec = model.embed_frames(frames[0][None])[0]
    search = _cpu_and_wall(lambda: rec.for_embedding(vec, k=10), repeats=500)
    index.close()
    script = (
        "import numpy as np\nfrom pathlib import Path\nfrom engine.bench.library import benchmark_model, rss_mb\n"
        "base = rss_mb()\nfrom engine.library.sound_index import SoundIndex\n"
        f"index = SoundIndex.open(Path({str(db)!r}))\n"
        "index.hnsw.search(np.ones(index.dim, np.float32) / np.sqrt(index.dim), 10)\nwith_index = rss_mb()\n"
        "from engine.library.recommender import Recommender\nr = Recommender(benchmark_model(), index)\n"
        "r.for_frame(np.zeros((720, 1280, 3), np.uint8), k=10)\nprint(base, with_index, rss_mb())\n"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    base, with_index, total = map(float, out.stdout.split()[-3:])
    return {
        "cached_top10": cached, "frame720p_top10": fresh, "frame720p_encoder_only": enc, "search_top10_files": search,
        "index_rss_mb": round(with_index - base), "process_rss_mb": round(total),
        "open_and_first_query_s": round(time.perf_counter() - t0, 1),
        "disk_mb": round(sum(p.stat().st_size for p in db.rglob("*") if p.is_file()) / 1e6),
    }


def main() -> None:
    """``python -m engine.bench.library --out results.json --sizes 200000,1000000 [--library DIR]``."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sizes", default="200000,1000000")
    ap.add_argument("--library", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=None)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    work = a.work or a.out.parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    run_all(a.out, [int(x) for x in a.sizes.split(",")], a.library, work)


if __name__ == "__main__":
    main()
