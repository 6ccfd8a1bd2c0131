"""Search figures: a large index drawn from the real encoder's embeddings, HNSW vs exact, frame -> top-10, memory.

The big index is synthetic in size only: a real sound library is indexed with the benchmarked
model (which also gives the indexing throughput), and ``n`` vectors are sampled around those real
audio embeddings (``engine.bench.library.resample_like``: random real rows jittered by their
typical nearest-neighbour gap). Queries are the model's embeddings of real video frames, jittered
the same way, so graph and queries follow what the product searches.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from engine.bench.library import resample_like, synthetic_index
from engine.bench.timing import cpu_seconds, measure, percentiles
from engine.library.indexer import IndexReport, index_library
from engine.library.sound_index import SoundIndex
from engine.library.vectors import quantize

log = logging.getLogger(__name__)

K = 10
INFERENCE_THREADS = 1  # the app's CPU inference threads (foley_app.controllers.engine.INFERENCE_THREADS)


def index_real_library(model, library: Path, work: Path, workers: int = 2) -> tuple[dict, np.ndarray]:
    """Index ``library`` from scratch (decode + features + embed + insert); ``(figures, its audio embeddings)``."""
    db = work / f"real-{model.model_id}"
    shutil.rmtree(db, ignore_errors=True)
    cpu0 = cpu_seconds()
    rep: IndexReport = index_library([library], model, db, workers=workers, progress=False)
    cpu = cpu_seconds() - cpu0
    with SoundIndex.open(db, model.model_id) as idx:
        vectors = idx.hnsw.get(idx.live_labels())  # (segments, D)
    figures = {
        "library": str(library), "files": rep.files, "segments": rep.segments, "audio_s": round(rep.audio_seconds, 1),
        "wall_s": round(rep.wall_seconds, 2), "cpu_s": round(cpu, 2), "realtime_factor": rep.realtime_factor,
        "realtime_factor_per_cpu_s": rep.audio_seconds / cpu if cpu > 0 else float("nan"),
        "skipped": len(rep.skipped), "workers": workers,
    }
    return figures, vectors


def frame_queries(model, video: Path, n: int, seed: int = 3) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(n query embeddings around the video's 1-fps frame embeddings, the decoded frames)``."""
    from engine.data.media import frame_times, iter_frames_at, probe_video

    info = probe_video(video)
    times = frame_times(info.duration, model.features.fps, model.features.frame_offset)
    frames = [rgb for _, rgb in iter_frames_at(video, times)]
    real = model.embed_frames(np.stack(frames))  # (seconds, D)
    return resample_like(real, n, seed=seed), frames


def build_search_index(real: np.ndarray, n: int, model_id: str, work: Path) -> tuple[Path, np.ndarray, float | None]:
    """A real index folder of ``n`` segments sampled around ``real``; reused when already built for this model and size.

    The source embeddings are kept in the folder (``source.npy``), so a reused index is searched
    against exactly the vectors it holds. Returns ``(folder, those float32 vectors, build seconds or None when reused)``.
    """
    db = work / f"search-{n}-{model_id}"
    marker, source = db / "bench-built.json", db / "source.npy"
    if marker.is_file() and source.is_file() and json.loads(marker.read_text()).get("n") == n:
        real = np.load(source)
        return db, quantize(resample_like(real, n, seed=0)).astype(np.float32), None
    data = quantize(resample_like(real, n, seed=0)).astype(np.float32)  # (n, D): what the graph holds
    shutil.rmtree(db, ignore_errors=True)
    t0 = time.perf_counter()
    synthetic_index(db, data, model_id).close()
    build_s = time.perf_counter() - t0
    np.save(source, np.asarray(real, np.float32))
    marker.write_text(json.dumps({"n": n, "model_id": model_id, "build_s": build_s}))
    return db, data, build_s


def exact_top_k(matrix: np.ndarray, sq_norms: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    """Brute force as a flat index does it: norms precomputed, one matrix-vector product, partial sort."""
    d2 = sq_norms - 2.0 * (matrix @ q)  # (N,) squared distance minus |q|^2
    part = np.argpartition(d2, k - 1)[:k]
    return part[np.argsort(d2[part], kind="stable")]


def hnsw_figures(db: Path, data: np.ndarray, queries: np.ndarray, exact_queries: int = 60) -> dict:
    """Recall@10 of the index's own graph against brute force, and the latency ratio (process CPU and wall)."""
    index = SoundIndex.open(db)
    graph = index.hnsw
    sq = np.einsum("ij,ij->i", data, data)
    h_wall, h_cpu, e_wall, e_cpu, hits, tie_hits = [], [], [], [], 0, 0
    for q in queries[:20]:  # warm-up: caches, page faults of the graph
        graph.search(q, K)
        exact_top_k(data, sq, q)
    for i, q in enumerate(queries):
        c0, t0 = time.process_time(), time.perf_counter()
        labels, dist = graph.search(q, K)
        h_wall.append(time.perf_counter() - t0)
        h_cpu.append(time.process_time() - c0)
        if i < exact_queries:
            c0, t0 = time.process_time(), time.perf_counter()
            rows = exact_top_k(data, sq, q)
            e_wall.append(time.perf_counter() - t0)
            e_cpu.append(time.process_time() - c0)
            hits += len(set(labels.tolist()) & set(rows.tolist()))
            # equally near is equally right: segments at the exact 10th distance are interchangeable (ann-benchmarks' recall)
            kth = float(np.linalg.norm(data[rows[-1]] - q))
            tie_hits += int(np.sum(dist <= kth * (1 + 1e-3) + 1e-6))
    index.close()
    hw, hc, ew, ec = percentiles(h_wall), percentiles(h_cpu), percentiles(e_wall), percentiles(e_cpu)
    return {
        "segments": len(data), "queries": len(queries), "exact_queries": min(exact_queries, len(queries)),
        "recall10": hits / (K * min(exact_queries, len(queries))), "recall10_ties_equal": tie_hits / (K * min(exact_queries, len(queries))),
        "duplicate_share": _duplicate_share(data), "ef_search": graph.params.ef_search, "M": graph.params.M,
        "hnsw_ms": {"wall": hw, "cpu": hc}, "exact_ms": {"wall": ew, "cpu": ec},
        "speedup_wall_p50": ew["p50"] / max(hw["p50"], 1e-6),
        "speedup_cpu_p50": ec["p50"] / max(hc["p50"], 1e-6),
    }


def _duplicate_share(data: np.ndarray, sample: int = 20_000) -> float:
    """Share of rows (in a sample) whose float16 vector occurs more than once: exact ties no index can order."""
    rows = data[np.random.default_rng(0).choice(len(data), min(sample, len(data)), replace=False)]
    _, counts = np.unique(np.ascontiguousarray(rows).view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))), return_counts=True)
    return float(counts[counts > 1].sum() / len(rows))


def _frames_720p(frames: list[np.ndarray], count: int = 8) -> list[np.ndarray]:
    """Real video content at the size users' footage usually has (1280x720)."""
    import cv2

    step = max(1, len(frames) // count)
    return [cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR) for f in frames[::step][:count]]


def recommender_figures(model, db: Path, video: Path, frames: list[np.ndarray], work: Path, repeats: int) -> dict:
    """Frame -> top-10 files without the video cache (720p and native frames) and from it, with the encoder alone."""
    import torch

    from engine.library.recommender import Recommender

    index = SoundIndex.open(db)
    rec = Recommender(model, index, work / "vcache")
    rows = rec.video_cache.embed_video(video)
    big = _frames_720p(frames)
    it = iter(range(1 << 30))
    default_threads = torch.get_num_threads()
    out: dict = {"video": str(video), "frame_size": [int(big[0].shape[1]), int(big[0].shape[0])], "torch_threads": INFERENCE_THREADS,
                 "default_torch_threads": default_threads}
    out["frame720p_top10_default_threads"] = measure(lambda: rec.for_frame(big[next(it) % len(big)], k=K), repeats=max(5, repeats // 4), warmup=3)
    torch.set_num_threads(INFERENCE_THREADS)  # what the app uses (foley_app/controllers/engine.py)
    out["frame720p_top10"] = measure(lambda: rec.for_frame(big[next(it) % len(big)], k=K), repeats=repeats, warmup=5)
    out["native_frame_top10"] = measure(lambda: rec.for_frame(frames[next(it) % len(frames)], k=K), repeats=repeats, warmup=3)
    out["frame720p_encoder_only"] = measure(lambda: model.embed_frames(big[next(it) % len(big)][None]), repeats=repeats, warmup=3)
    vecs = rows[np.isfinite(rows).all(axis=1)]
    out["search_only_top10"] = measure(lambda: rec.for_embedding(vecs[next(it) % len(vecs)], k=K), repeats=repeats * 5, warmup=20)
    seconds = np.random.default_rng(0).uniform(0, len(rows) - 0.01, 997)
    ts = itertools.cycle(seconds.tolist())
    out["cached_top10"] = measure(lambda: rec.for_video(video, next(ts), k=K), repeats=repeats * 20, warmup=50)
    out["decode_frame_top10"] = measure(lambda: _uncached(rec, video, next(ts)), repeats=max(5, repeats // 2), warmup=2)
    index.close()
    torch.set_num_threads(default_threads)
    return out


def _uncached(rec, video: Path, t: float) -> object:
    """What the app does for a second the background pass has not reached: decode, encode, search."""
    from engine.data.media import read_frame

    return rec.for_frame(read_frame(video, t), k=K)


_RSS_SCRIPT = """
import sys, numpy as np
from pathlib import Path
import engine.library.recommender, engine.library.sound_index
from engine.bench.library import rss_mb
base = rss_mb()
from engine.library.sound_index import SoundIndex
from engine.library.recommender import Recommender
index = SoundIndex.open(Path(sys.argv[1]))
rec = Recommender(None, index)
q = np.ones(index.dim, np.float32) / np.sqrt(index.dim)
rec.for_embedding(q, k=10)
print(base, rss_mb())
"""


def index_memory(db: Path) -> dict:
    """Resident memory a fresh process gains by opening the index (graph + metadata) and answering a query."""
    t0 = time.perf_counter()
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(db)], capture_output=True, text=True, check=True, env=env)
    base, total = map(float, out.stdout.split()[-2:])
    disk = sum(p.stat().st_size for p in db.rglob("*") if p.is_file()) / 1e6
    return {"index_rss_mb": total - base, "process_rss_mb": total, "open_and_query_s": time.perf_counter() - t0, "disk_mb": disk}
