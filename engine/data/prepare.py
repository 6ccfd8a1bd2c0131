"""``foley-engine prepare``: a folder of videos -> the on-disk feature cache (layout in ``cache.py``).

Per video, one worker process decodes the frames at t = k + 0.5 s sequentially (OpenCV grab/retrieve),
the whole audio track once (PyAV, soxr to 48 kHz), and computes every second's log-mel in torch
batches; the arrays go into a temporary shard folder that is renamed into place when complete.
A rerun reuses every shard whose source file has the same size and mtime (and the same features),
so a killed run continues where it stopped. Splits are by video and seeded; labels come from a
VGG-Sound CSV or a folder-per-label layout. Unusable files are skipped and reported with a reason.
"""

from __future__ import annotations

import errno
import logging
import math
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import FeatureCfg, from_dict, to_dict
from engine.data.cache import (
    FORMAT_VERSION,
    SPLITS,
    ManifestRow,
    commit_shard,
    new_shard_tmp,
    read_shard_meta,
    remove_temporaries,
    shard_dir,
    shard_name,
    write_index,
)
from engine.data.labels import LabelTable, folder_label, read_vggsound_csv
from engine.data.media import VIDEO_EXTENSIONS
from engine.data.splits import assign_splits, check_ratios, read_groups, read_pinned_splits
from engine.errors import ConfigError, DatasetError, EngineError

log = logging.getLogger(__name__)

MEL_CHUNK = 256  # seconds per torch log-mel batch (bounded memory for long videos)
INDEX_EVERY_S = 60.0  # rewrite manifest.csv/dataset.json this often during a long run


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class PrepareReport:
    """What a ``prepare`` run did: counts, the skipped files with reasons, and its speed."""

    out: Path
    videos: int = 0  # usable videos in the dataset (processed now + reused)
    processed: int = 0
    reused: int = 0
    seconds: int = 0  # manifest rows
    silent_seconds: int = 0  # rows with pre-normalisation RMS below silence_rms
    silence_rms: float = 1e-3
    split_videos: dict[str, int] = field(default_factory=dict)
    split_seconds: dict[str, int] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Skipped] = field(default_factory=list)  # used, but not whole (e.g. a truncated file)
    csv_problems: list[str] = field(default_factory=list)
    decoded_seconds: float = 0.0  # video-seconds decoded in this run (reused shards not counted)
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.videos > 0

    @property
    def throughput(self) -> float:
        """Video-seconds decoded per wall-clock second in this run."""
        return self.decoded_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def summary(self, max_paths: int = 5) -> str:
        """A few human-readable lines: totals, splits, silence, skipped files grouped by reason."""
        lines = [
            f"{self.videos} videos ({self.processed} decoded, {self.reused} reused), {self.seconds} seconds in {self.out}",
            "splits: " + ", ".join(f"{s} {self.split_videos.get(s, 0)} videos / {self.split_seconds.get(s, 0)} s" for s in SPLITS),
            f"silent seconds (RMS < {self.silence_rms:g}): {self.silent_seconds} of {self.seconds}"
            + (f" ({100.0 * self.silent_seconds / self.seconds:.0f}%)" if self.seconds else ""),
        ]
        if self.decoded_seconds:
            lines.append(f"decoded {self.decoded_seconds:.0f} video-seconds in {self.wall_seconds:.1f} s: {self.throughput:.1f} video-s per s")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} files:")
            by_reason: dict[str, list[str]] = {}
            for s in self.skipped:
                by_reason.setdefault(_reason_kind(s.reason), []).append(f"{s.path}: {s.reason}")
            for kind, items in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
                lines.append(f"  {len(items)} x {kind}")
                lines.extend(f"    {item}" for item in items[:max_paths])
                if len(items) > max_paths:
                    lines.append(f"    ... {len(items) - max_paths} more (all listed in dataset.json)")
        if self.notes:
            lines.append(f"used only in part ({len(self.notes)} files):")
            lines.extend(f"  {n.path}: {n.reason}" for n in self.notes[:max_paths])
            if len(self.notes) > max_paths:
                lines.append(f"  ... {len(self.notes) - max_paths} more (all listed in dataset.json)")
        if self.csv_problems:
            lines.append(f"labels CSV: {len(self.csv_problems)} bad rows left out:")
            lines.extend(f"  {p}" for p in self.csv_problems[:max_paths])
            if len(self.csv_problems) > max_paths:
                lines.append(f"  ... {len(self.csv_problems) - max_paths} more (all listed in dataset.json)")
        return "\n".join(lines)


def _reason_kind(reason: str) -> str:
    return reason.split(" (")[0].split(":")[0]


@dataclass(frozen=True)
class _Video:
    path: Path
    video_id: str
    shard: str
    label: str
    fixed_split: str  # from the labels CSV ("" = decided by the seed)
    size: int
    mtime_ns: int


# --- discovery and labels -------------------------------------------------------------------


def find_videos(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Video files under ``root`` (recursively, sorted), and the folders that could not be read."""
    found: list[Path] = []
    skipped: list[Skipped] = []

    def on_error(exc: OSError) -> None:
        skipped.append(Skipped(str(exc.filename or root), f"folder not readable ({exc.strerror or exc})"))

    visited: set[str] = set()
    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:  # a symlink loop, or the same folder linked twice
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            p = Path(folder) / name
            if p.suffix.lower() in VIDEO_EXTENSIONS and not name.startswith("."):
                found.append(p)
    return sorted(found), skipped


def _collect(videos: Path, labels: LabelTable | None) -> tuple[list[_Video], list[Skipped]]:
    paths, skipped = find_videos(videos)
    out: list[_Video] = []
    seen: dict[str, Path] = {}
    for p in paths:
        rel = p.relative_to(videos)
        video_id = rel.with_suffix("").as_posix()
        if video_id in seen:
            skipped.append(Skipped(str(p), f"duplicate video id {video_id!r} (also {seen[video_id].name})"))
            continue
        if labels is not None:
            row = labels.lookup(p.stem)
            if row is None:
                skipped.append(Skipped(str(p), f"no row in labels CSV {labels.path.name} (expected a file named <youtube_id>_<start:06d>)"))
                continue
            label, fixed = row.label, row.split
        else:
            label, fixed = folder_label(rel), ""
        try:
            st = p.stat()
        except OSError as exc:
            skipped.append(Skipped(str(p), f"not readable ({exc.strerror or exc})"))
            continue
        if not os.access(p, os.R_OK):
            skipped.append(Skipped(str(p), "not readable (permission denied)"))
            continue
        seen[video_id] = p
        out.append(_Video(p, video_id, shard_name(video_id), label, fixed, st.st_size, st.st_mtime_ns))
    return out, skipped


# --- one video -> one shard (runs in a worker process) ------------------------------------------


def _init_worker() -> None:
    """Worker processes end with their parent, share few cores (one thread each for torch and OpenCV);
    Ctrl-C ends them quietly."""
    import signal

    from engine.lifeline import die_with_parent

    die_with_parent()
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))  # the parent reports; .tmp folders go on the next run
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def _shard_is_current(meta: dict[str, Any] | None, v: _Video, features: dict[str, Any]) -> bool:
    return (
        meta is not None
        and meta.get("format_version") == FORMAT_VERSION
        and meta.get("video_id") == v.video_id
        and meta.get("size") == v.size
        and meta.get("mtime_ns") == v.mtime_ns
        and _same_features(meta.get("features"), features)
    )


def _same_features(stored: Any, features: dict[str, Any]) -> bool:
    """Equal settings; a shard written before a setting existed has that setting's default."""
    try:
        return isinstance(stored, dict) and from_dict(FeatureCfg, stored) == from_dict(FeatureCfg, features)
    except (TypeError, ValueError, ConfigError):
        return False


def process_video(v: _Video, out: Path, features: dict[str, Any]) -> dict[str, Any]:
    """Decode one video into ``shards/<name>``; returns ``{"ok": True, ...}`` or ``{"ok": False, "reason": ...}``."""
    from engine.data.features import clips_from_wave, log_mel_batch, resize_frame
    from engine.data.media import iter_frames_at, load_audio, probe_video

    cfg = from_dict(FeatureCfg, features)
    t0 = time.perf_counter()
    tmp: Path | None = None
    try:
        info = probe_video(v.path)
        if not info.has_audio:
            return {"ok": False, "reason": "no audio track"}
        wave = load_audio(v.path, cfg.sample_rate)
        audio_s = wave.size / cfg.sample_rate
        video_s = info.video_duration or info.duration
        n = int(math.floor(min(video_s, audio_s) + 1e-6))
        if n < 1:
            return {"ok": False, "reason": f"shorter than 1 s (picture {video_s:.2f} s, sound {audio_s:.2f} s)"}
        t_audio = time.perf_counter()
        tmp = new_shard_tmp(out, v.shard)
        size = cfg.image_size
        frames = np.lib.format.open_memmap(tmp / "frames.npy", mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
        _reserve(tmp / "frames.npy")
        got = 0
        for k, (_, rgb) in enumerate(iter_frames_at(v.path, [k + cfg.frame_offset for k in range(n)])):
            frames[k] = resize_frame(rgb, size)
            got += 1
        if got != n:
            raise DatasetError(f"only {got} of {n} frames decoded")
        frames.flush()
        del frames
        t_frames = time.perf_counter()
        mels = np.lib.format.open_memmap(tmp / "mels.npy", mode="w+", dtype=np.float32, shape=(n, cfg.n_mels, cfg.n_frames))
        _reserve(tmp / "mels.npy")
        levels = np.empty(n, np.float32)
        for a in range(0, n, MEL_CHUNK):
            clips = clips_from_wave(wave, np.arange(a, min(n, a + MEL_CHUNK)), cfg)
            levels[a : a + len(clips)] = np.linalg.norm(clips, axis=1) / math.sqrt(clips.shape[1])  # RMS, float32 pairwise: = features.rms, 6x faster
            mels[a : a + len(clips)] = log_mel_batch(clips, cfg)
        mels.flush()
        del mels
        np.save(tmp / "rms.npy", levels)
        t_mels = time.perf_counter()
        meta = {
            "format_version": FORMAT_VERSION,
            "video_id": v.video_id,
            "source": str(v.path),
            "size": v.size,
            "mtime_ns": v.mtime_ns,
            "seconds": n,
            "video_duration": round(video_s, 3),
            "audio_duration": round(audio_s, 3),
            "features": features,
            "timing_s": {"audio": round(t_audio - t0, 3), "frames": round(t_frames - t_audio, 3), "mels": round(t_mels - t_frames, 3)},
        }
        commit_shard(out, v.shard, tmp, meta)
        result: dict[str, Any] = {"ok": True, "seconds": n, "duration": min(video_s, audio_s)}
        expected = max(info.audio_duration, info.video_duration, info.duration)
        if expected - min(video_s, audio_s) > 1.0:  # e.g. a download cut short: the container promised more
            result["note"] = f"{n} s usable of {expected:.1f} s (picture {video_s:.1f} s, decoded sound {audio_s:.1f} s): truncated file or streams of different length"
        return result
    except EngineError as exc:
        return {"ok": False, "reason": _strip_path(str(exc), v.path)}
    except OSError as exc:
        if exc.errno == errno.ENOSPC:  # not this video's fault: every later one would fail the same way
            return {"ok": False, "reason": "the disk is full", "disk_full": True}
        return {"ok": False, "reason": f"unexpected error ({exc.__class__.__name__}: {exc})"}
    except Exception as exc:  # a decoder crash on one file must not stop the run
        log.debug("%s: unexpected error", v.path, exc_info=True)
        return {"ok": False, "reason": f"unexpected error ({exc.__class__.__name__}: {exc})"}
    finally:
        if tmp is not None and tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def _reserve(path: Path) -> None:
    """Allocate a memory-mapped file's blocks now: a full disk then raises ENOSPC here, not SIGBUS on a write."""
    if not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise
        # file systems without fallocate: writes go through the page cache as before
    finally:
        os.close(fd)


def _strip_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


# --- the run ---------------------------------------------------------------------------------------


def prepare_dataset(
    videos: Path,
    out: Path,
    *,
    labels_csv: Path | None = None,
    workers: int = 2,
    seed: int = 0,
    split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
    features: FeatureCfg = FeatureCfg(),
    progress: bool = True,
    silence_rms: float = 1e-3,
    groups_csv: Path | None = None,
    group_column: str = "group",
    split_column: str | None = None,
) -> PrepareReport:
    """Decode every video under ``videos`` into the feature cache at ``out`` (resumable, parallel).

    ``workers`` worker processes decode (0 = in this process). ``groups_csv`` keeps related videos
    (e.g. one game map) in one split (see ``read_groups``); with ``split_column`` that CSV's column
    pins each listed video's split exactly (the others are split as usual). Returns a report; ``report.ok`` is
    False when no video at all could be used (then nothing is written).
    """
    videos, out = Path(videos), Path(out)
    if not videos.is_dir():
        raise DatasetError(f"{videos}: not a folder of videos" + ("" if videos.exists() else " (it does not exist)"))
    if features.fps != 1.0 or features.clip_seconds != 1.0:
        raise ConfigError("prepare writes one frame and one 1-s clip per second: fps and clip_seconds must be 1")
    check_ratios(split_ratios)
    t_start = time.perf_counter()
    labels = read_vggsound_csv(labels_csv) if labels_csv is not None else None
    candidates, skipped = _collect(videos, labels)
    report = PrepareReport(out, silence_rms=silence_rms, skipped=skipped, csv_problems=list(labels.problems) if labels else [])
    ids = [v.video_id for v in candidates]
    groups = read_groups(groups_csv, group_column, ids) if groups_csv is not None else None
    if split_column is not None and groups_csv is None:
        raise ConfigError("--split-column needs --groups (the CSV that holds the column)")
    pinned = read_pinned_splits(groups_csv, split_column, ids) if split_column is not None else {}
    free = [v for v in ids if v not in pinned]
    splits = assign_splits(free, seed, split_ratios, {v.video_id: v.fixed_split for v in candidates}, groups) | pinned
    fdict = to_dict(features)

    (out / "shards").mkdir(parents=True, exist_ok=True)
    if n := remove_temporaries(out):
        log.info("removed %d half-written files of an interrupted run", n)
    done: dict[str, _Video] = {}
    jobs: list[_Video] = []
    for v in candidates:
        if _shard_is_current(read_shard_meta(out, v.shard), v, fdict):
            done[v.video_id] = v
        else:
            jobs.append(v)
    report.reused = len(done)
    if done:
        log.info("reusing %d complete shards, %d videos to decode", len(done), len(jobs))

    run_meta = {"features": fdict, "seed": seed, "split_ratios": list(split_ratios), "silence_rms": silence_rms, "videos": str(videos.resolve()),
                "labels_csv": str(labels_csv) if labels_csv else None, "groups_csv": str(groups_csv) if groups_csv else None,
                "group_column": group_column if groups_csv else None, "split_column": split_column}
    last_index = time.monotonic()
    try:
        for v, result in _run(jobs, out, fdict, workers, progress):
            if result.get("disk_full"):
                raise DatasetError(
                    f"the disk holding {out} is full (while writing {v.path.name}); free some space and run the same "
                    f"command again: the {len(done)} videos finished so far are kept"
                )
            if result["ok"]:
                done[v.video_id] = v
                report.processed += 1
                report.decoded_seconds += float(result["duration"])
                if "note" in result:
                    report.notes.append(Skipped(str(v.path), result["note"]))
            else:
                report.skipped.append(Skipped(str(v.path), result["reason"]))
                log.debug("skipped %s: %s", v.path, result["reason"])
            if time.monotonic() - last_index > INDEX_EVERY_S and done:  # a partial index others can already read
                _write_index(out, done, splits, report, {**run_meta, "complete": False})
                last_index = time.monotonic()
    except KeyboardInterrupt:
        if done:
            _write_index(out, done, splits, report, {**run_meta, "complete": False})
        log.warning("interrupted with %d of %d videos done; run the same command again to continue", len(done), len(candidates))
        raise
    report.wall_seconds = time.perf_counter() - t_start
    if done:
        _write_index(out, done, splits, report, {**run_meta, "complete": True})
    report.videos = len(done)
    return report


def _run(jobs: list[_Video], out: Path, features: dict[str, Any], workers: int, progress: bool):
    """Yield ``(video, result)`` as videos finish, with a tqdm bar (files, ETA, video-s per s)."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="video", disable=not progress or not jobs, dynamic_ncols=True, desc="prepare")
    t0, seconds = time.perf_counter(), 0.0
    try:
        if workers <= 0:
            results = ((v, process_video(v, out, features)) for v in jobs)
            for v, result in results:
                seconds += result.get("duration", 0.0)
                bar.update(1)
                bar.set_postfix_str(f"{seconds / max(time.perf_counter() - t0, 1e-9):.1f} video-s/s")
                yield v, result
            return
        # largest files first: the long videos do not end up alone at the end
        order = sorted(jobs, key=lambda v: -v.size)
        ctx = multiprocessing.get_context("spawn")  # no fork after torch/OpenMP started in this process
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as pool:
            pending: dict[Future, _Video] = {}
            queue = iter(order)
            for v in queue:  # keep a few jobs queued per worker, not all at once (memory, quick Ctrl-C)
                pending[pool.submit(process_video, v, out, features)] = v
                if len(pending) >= 2 * workers:
                    break
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    v = pending.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as exc:  # noqa: BLE001 - the worker process died (e.g. out of memory)
                        result = {"ok": False, "reason": f"decoder process failed ({exc.__class__.__name__}: {exc})"}
                    seconds += result.get("duration", 0.0)
                    bar.update(1)
                    bar.set_postfix_str(f"{seconds / max(time.perf_counter() - t0, 1e-9):.1f} video-s/s")
                    yield v, result
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(process_video, nxt, out, features)] = nxt
    finally:
        bar.close()


def _write_index(out: Path, done: dict[str, _Video], splits: dict[str, str], report: PrepareReport, meta: dict[str, Any]) -> None:
    """Rebuild the manifest from the complete shards (video id order) and fill the report's totals."""
    rows: list[ManifestRow] = []
    split_videos: Counter[str] = Counter()
    split_seconds: Counter[str] = Counter()
    for video_id in sorted(done):
        v = done[video_id]
        levels = np.load(shard_dir(out, v.shard) / "rms.npy")
        split = splits[video_id]
        split_videos[split] += 1
        split_seconds[split] += len(levels)
        for k, level in enumerate(levels):
            rows.append(ManifestRow(len(rows), video_id, k, v.label, split, float(level), v.shard, k))
    report.seconds = len(rows)
    report.silent_seconds = sum(r.rms < report.silence_rms for r in rows)
    report.split_videos, report.split_seconds = dict(split_videos), dict(split_seconds)
    write_index(out, rows, {
        **meta,
        "videos_in_dataset": len(done),
        "split_videos": report.split_videos,
        "split_seconds": report.split_seconds,
        "silent_seconds": report.silent_seconds,
        # sorted: the same dataset.json whatever order the decoder processes finished in
        "skipped": [{"path": s.path, "reason": s.reason} for s in sorted(report.skipped, key=lambda s: s.path)],
        "notes": [{"path": s.path, "note": s.reason} for s in sorted(report.notes, key=lambda s: s.path)],
        "csv_problems": report.csv_problems,
    })
