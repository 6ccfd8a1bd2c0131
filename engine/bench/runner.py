"""Run every figure of ``foley-engine bench`` in order and collect one value per target (plus the details)."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.bench.targets import TARGETS
from engine.user_dirs import bench_work_dir

log = logging.getLogger(__name__)

FULL_SEGMENTS = 1_000_000
QUICK_SEGMENTS = 20_000
QUICK_LIBRARY_FILES = 80


@dataclass
class BenchOptions:
    """What to measure and at which size; ``None`` paths mean the shipped/bundled defaults."""

    quick: bool = False
    model: Path | None = None
    work: Path | None = None  # reused between runs: the big index is built once per model
    library: Path | None = None  # sounds to index (default: the bundled demo library; --library for a real one)
    video: Path | None = None  # default: the bundled demo video
    segments: int | None = None
    repeats: int | None = None
    scrubs: int | None = None
    skip_app: bool = False
    log_progress: bool = True
    extra: dict = field(default_factory=dict)


def machine() -> dict:
    """Where the numbers come from: CPU model, cores, load, torch threads."""
    import torch

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            mem_gb = int(f.readline().split()[1]) / 1e6
    except (OSError, ValueError, IndexError):
        mem_gb = float("nan")
    return {"cpu": cpu, "cores": os.cpu_count(), "load_avg_1m": os.getloadavg()[0], "memory_gb": round(mem_gb, 1),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "cuda": torch.cuda.is_available()}


def _model(opts: BenchOptions, work: Path):  # -> (AVModel, Path, str)
    """The model to benchmark and a file of it (the app loads a file): given, shipped, else random compact m5."""
    from engine.bench.library import benchmark_model
    from engine.library.paths import default_model_path
    from engine.models import AVModel

    path = opts.model or default_model_path()
    if path is not None:
        return AVModel.load(Path(path)).eval(), Path(path), f"{path}"
    model = benchmark_model()  # the compact m5 preset, seed-0 weights
    path = work / f"random-m5-compact-{model.model_id}.pt"
    if not path.is_file():
        model.save(path)
    return model, path, "compact m5 with RANDOM weights (no shipped model installed): timings only, not quality"


def _default_library(quick: bool, work: Path) -> Path:
    from engine.resources import demo_library_path

    source = demo_library_path()
    if source is None:
        from engine.data.synthetic import write_sound_library

        source = work / "synthetic-library"
        if not source.is_dir():
            write_sound_library(source)
    if not quick:
        return source
    subset = work / "quick-library"  # a small, fixed slice of the demo library: indexing in seconds
    if not subset.is_dir():
        from engine.data.media import SOUND_EXTENSIONS

        files = sorted(p for p in Path(source).rglob("*") if p.suffix.lower() in SOUND_EXTENSIONS)[:: 7][:QUICK_LIBRARY_FILES]
        tmp = work / "quick-library.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for p in files:
            dest = tmp / p.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dest)
        tmp.rename(subset)
    return subset


def _video(opts: BenchOptions, work: Path) -> Path:
    from engine.resources import demo_video_path

    if opts.video is not None:
        return Path(opts.video)
    demo = demo_video_path()
    if demo is not None:
        return demo
    from engine.data.synthetic import write_video

    path = work / "bench.mp4"
    if not path.is_file():
        write_video(path, ["circle", "square", "triangle", "bar", None] * 6, size=(640, 360))
    return path


def run_bench(opts: BenchOptions) -> dict:
    """Every figure, in order; a figure that fails is recorded as an error and the others still run."""
    from engine.bench import pipeline, search
    from engine.bench.library import benchmark_model  # noqa: F401  (imported early: torch load time not in figures)

    t_start = time.perf_counter()
    work = Path(opts.work) if opts.work else bench_work_dir()
    work.mkdir(parents=True, exist_ok=True)
    quick = opts.quick
    n = opts.segments or (QUICK_SEGMENTS if quick else FULL_SEGMENTS)
    repeats = opts.repeats or (15 if quick else 60)
    scrubs = opts.scrubs or (6 if quick else 20)
    res: dict = {"quick": quick, "segments": n, "machine": machine(), "details": {}, "errors": {}}
    model, model_path, model_note = _model(opts, work)
    res["model"] = {"path": str(model_path), "id": model.model_id, "note": model_note, "encoder": model.cfg.encoder,
                    "loss": model.cfg.loss, "image_size": model.cfg.image_size}
    library = Path(opts.library) if opts.library else _default_library(quick, work)
    video = _video(opts, work)
    d = res["details"]

    def step(name: str, fn):
        t0 = time.perf_counter()
        if opts.log_progress:
            log.info("bench: %s ...", name)
        try:
            out = fn()
        except Exception as exc:
            log.exception("bench: %s failed", name)
            res["errors"][name] = f"{type(exc).__name__}: {exc}"
            return None
        if opts.log_progress:
            log.info("bench: %s done in %.1f s", name, time.perf_counter() - t0)
        return out

    got = step("indexing", lambda: search.index_real_library(model, library, work))
    real = None
    if got is not None:
        d["indexing"], real = got
        res["index_realtime_factor"] = d["indexing"]["realtime_factor"]
    qf = step("queries", lambda: search.frame_queries(model, video, 300 if not quick else 100))
    if real is not None and len(real) and qf is not None:
        queries, frames = qf
        built = step("build index", lambda: search.build_search_index(real, n, model.model_id, work))
        if built is not None:
            db, data, build_s = built
            d["build_index_s"] = build_s
            h = step("hnsw", lambda: search.hnsw_figures(db, data, queries, exact_queries=30 if quick else 60))
            del data
            if h is not None:
                d["hnsw"] = h
                res["hnsw_speedup"] = h["speedup_cpu_p50"]
                res["hnsw_recall10"] = h["recall10"]
            r = step("recommender", lambda: search.recommender_figures(model, db, video, frames, work, repeats))
            if r is not None:
                d["recommender"] = r
                # CPU time on one thread = the latency on an idle core; wall time on this shared box is beside it
                res["frame_to_top10_p95_ms"] = r["frame720p_top10"]["cpu"]["p95"]
                res["cached_top10_p95_ms"] = r["cached_top10"]["cpu"]["p95"]
                res["wall"] = {"frame_to_top10_p95_ms": r["frame720p_top10"]["wall"]["p95"],
                               "cached_top10_p95_ms": r["cached_top10"]["wall"]["p95"]}
            m = step("memory", lambda: search.index_memory(db))
            if m is not None:
                d["memory"] = m
                res["index_rss_mb"] = m["index_rss_mb"]
    data_dir = Path(opts.extra["train_data"]) if opts.extra.get("train_data") else None
    lh = step("loader", lambda: pipeline.loader_headroom(
        model.cfg, data_dir or pipeline.synthetic_dataset(work, n_videos=6 if quick else 40, seconds=8 if quick else 10), work,
        steps=2 if quick else 4, load_batches=6 if quick else 16))
    if lh is not None:
        d["loader"] = lh
        res["loader_headroom"] = lh["headroom"]
    if not opts.skip_app:
        from engine.bench.app import app_figures
        from engine.resources import demo_library_path

        # quick: the index just built (no in-app indexing); full: the bundled demo, indexed by the app on first launch
        app_lib = work / f"real-{model.model_id}" if quick or demo_library_path() is None else demo_library_path()
        a = step("app", lambda: app_figures(model_path, video, app_lib, work, scrubs, first_run=not quick))
        if a is not None:
            d["app"] = a
            res["launch_to_first_s"] = a["launch"]["launch_to_first_s"]
            res["scrub_update_ms"] = a["scrub_p95_ms"]
            res["ui_stall_max_ms"] = a["stall_max_ms"]
    for t in TARGETS:
        res.setdefault(t.key, float("nan"))
    res["pass"] = {t.key: t.passes(res[t.key]) for t in TARGETS}
    res["machine"]["load_avg_1m_end"] = os.getloadavg()[0]
    res["total_s"] = time.perf_counter() - t_start
    return res


def finite(value: object) -> bool:
    return isinstance(value, (int, float)) and bool(np.isfinite(value))
