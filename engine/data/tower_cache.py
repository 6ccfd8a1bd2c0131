"""Frozen-tower features of a prepared dataset, computed once: train heads for hundreds of epochs on them.

For every video of a dataset (``foley-engine prepare``) and every second that has sound (RMS at
least ``silence_rms``) or a labelled sound start (``<clip>_labels.tsv`` beside the source video),
this stores the picture tower's spatial map of the cached frame and the sound tower's embedding
of the second's audio, decoded again from the source video with the tower's own front end::

    DATASET/towers/<vision>+<audio>-<fingerprints>/<shard>.npz
        rows     (n,) int64     rows of the dataset's manifest
        vision   (n, C, h, w)   float16   the picture tower's map (EfficientNet-Lite0: 1280x7x7)
        audio    (n, 512)       float32   the sound tower's embedding (aisfx or aisfx-small)

One file per video, written atomically, so a killed run resumes where it stopped. The picture
maps do not depend on the sound tower: a video whose maps are already cached for another sound
tower (a sibling folder of the same picture tower, the same rows) reuses them instead of running
EfficientNet again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.errors import DatasetError

log = logging.getLogger(__name__)

VISION_TOWER = "efficientnet-lite0"
AUDIO_TOWER = "aisfx"
BATCH = 32


def tower_dir(dataset: Path, vision: str = VISION_TOWER, audio: str = AUDIO_TOWER) -> Path:
    """Where a dataset's features of these towers live (named by the towers' weights)."""
    from engine.models.towers import tower_fingerprint

    key = f"{vision}-{tower_fingerprint(vision)[:8]}+{audio}-{tower_fingerprint(audio)[:8]}"
    return Path(dataset) / "towers" / key


def labelled_seconds(source: Path) -> set[int]:
    """Seconds with a non-ambient sound start in ``<stem>_labels.tsv`` beside a video (empty if none)."""
    tsv = source.with_name(source.stem + "_labels.tsv")
    if not tsv.is_file():
        return set()
    from engine.evaluation.library_eval import read_labels

    return {k for k, names in read_labels(tsv).items() if any(not n.startswith("ambient/") for n in names)}


@dataclass
class _Job:
    shard: str
    source: str
    rows: np.ndarray
    seconds: np.ndarray
    out: str
    audio_tower: str = AUDIO_TOWER
    vision_from: str = ""  # a cached file of the same picture tower and rows whose maps are reused


def _towers(audio: str):
    import torch

    from engine.models.encoders import PretrainedAudioEncoder, PretrainedVisionEncoder

    torch.set_num_threads(1)
    return PretrainedVisionEncoder(VISION_TOWER).eval(), PretrainedAudioEncoder(audio).eval()


_WORKER_TOWERS: dict = {}


def _reusable_maps(out: Path, shard: str, rows: np.ndarray) -> str:
    """A sibling cache file of the same picture tower with the same rows (its maps are the same), or ''."""
    vision_key = out.name.split("+", 1)[0] + "+"
    for sibling in sorted(out.parent.glob(vision_key + "*")):
        f = sibling / f"{shard}.npz"
        if sibling == out or not f.is_file():
            continue
        try:
            with np.load(f) as data:
                if np.array_equal(data["rows"], rows):
                    return str(f)
        except (OSError, ValueError, KeyError):
            continue
    return ""


def _run_job(dataset: str, job: _Job) -> tuple[str, int]:
    """Compute and write one video's features (in a worker process)."""
    import torch

    from engine.data.cache import FeatureCache
    from engine.data.features import clips_from_wave, log_mel_batch
    from engine.data.media import load_audio
    from engine.models.towers import aisfx_features

    if job.audio_tower not in _WORKER_TOWERS:
        _WORKER_TOWERS[job.audio_tower] = _towers(job.audio_tower)
    vision_enc, audio_enc = _WORKER_TOWERS[job.audio_tower]
    cache = FeatureCache(dataset)
    feats = aisfx_features(cache.features)
    mean = torch.full((1, 3, 1, 1), 127 / 255)
    std = torch.full((1, 3, 1, 1), 128 / 255)
    maps, embs = [], []
    reused = None
    if job.vision_from:
        with np.load(job.vision_from) as data:
            reused = data["vision"]
    wave = load_audio(job.source, feats.sample_rate)
    with torch.no_grad():
        for i in range(0, len(job.rows), BATCH):
            rows = job.rows[i : i + BATCH]
            if reused is None:
                x = torch.from_numpy(cache.frames(rows)).permute(0, 3, 1, 2).float().div_(255.0)
                maps.append(vision_enc.tower_features((x - mean) / std).half().numpy())
            clips = clips_from_wave(wave, job.seconds[i : i + BATCH].astype(np.float64), feats)
            mels = torch.from_numpy(log_mel_batch(clips, feats)).unsqueeze(1)
            embs.append(audio_enc.tower_features(mels).float().numpy())
    out = Path(job.out)
    if not len(job.rows):  # a silent video: an empty file, so that it is not redone on every run
        vision, audio = np.zeros((0,), np.float16), np.zeros((0,), np.float32)
    else:
        vision, audio = reused if reused is not None else np.concatenate(maps), np.concatenate(embs)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, rows=job.rows, vision=vision, audio=audio)
    return job.shard, len(job.rows)


def build_tower_cache(dataset: Path, workers: int = 2, silence_rms: float = 1e-3,
                      progress: Callable[[str], None] | None = None, audio: str = AUDIO_TOWER) -> Path:
    """Compute the missing per-video tower features of ``dataset`` with the sound tower ``audio``; returns their folder."""
    from engine.data.cache import FeatureCache

    dataset = Path(dataset)
    cache = FeatureCache(dataset)
    out = tower_dir(dataset, audio=audio)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp*"):  # temp files of a killed run
        stale.unlink(missing_ok=True)
    say = progress or (lambda msg: None)
    jobs = []
    vids = cache.video_ids
    for shard in sorted({r.shard for r in cache.rows}):
        target = out / f"{shard}.npz"
        if target.is_file():
            continue
        meta = json.loads((dataset / "shards" / shard / "meta.json").read_text(encoding="utf-8"))
        source = Path(meta.get("source") or "")
        if not source.is_file():
            raise DatasetError(f"{dataset}: the source video of {shard} ({source}) is gone; the sound tower needs it")
        rows = np.flatnonzero(vids == meta["video_id"])
        secs = cache.seconds[rows]
        keep = (cache.levels[rows] >= silence_rms) | np.isin(secs, sorted(labelled_seconds(source)))
        jobs.append(_Job(shard, str(source), rows[keep], secs[keep], str(target), audio, _reusable_maps(out, shard, rows[keep])))
    say(f"{len(jobs)} videos to do, {sum(len(j.rows) for j in jobs)} seconds")
    if workers <= 0:
        for job in jobs:
            name, seconds = _run_job(str(dataset), job)
            say(f"{name}: {seconds} seconds")
        return out
    import multiprocessing

    from engine.lifeline import die_with_parent

    # workers end with this process, even when it is killed (engine.lifeline)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent) as pool:
        for shard, n in pool.map(_run_job, [str(dataset)] * len(jobs), jobs):
            say(f"{shard}: {n} seconds")
    return out


@dataclass
class TowerFeatures:
    """All cached tower features of a dataset, in memory, with the manifest's columns for their rows."""

    rows: np.ndarray
    vision: np.ndarray  # (n, C, h, w) float16
    audio: np.ndarray  # (n, 512) float32
    video_ids: np.ndarray
    seconds: np.ndarray
    splits: np.ndarray
    levels: np.ndarray

    def select(self, mask: np.ndarray) -> TowerFeatures:
        return TowerFeatures(*(getattr(self, f)[mask] for f in _FIELDS))


_FIELDS = ("rows", "vision", "audio", "video_ids", "seconds", "splits", "levels")


def load_tower_features(dataset: Path | Sequence[Path], audio: str = AUDIO_TOWER) -> TowerFeatures:
    """Read every video's tower features with the sound tower ``audio`` (``build_tower_cache`` must have run).

    Several datasets (e.g. the starter corpus and newly recorded games, each prepared with its own
    splits) are read one after the other; ``rows`` then index each dataset's own manifest, and a
    video id may be in only one of them.
    """
    if not isinstance(dataset, (str, Path)):
        return join_tower_features([load_tower_features(d, audio) for d in dataset])
    from engine.data.cache import FeatureCache

    dataset = Path(dataset)
    folder = tower_dir(dataset, audio=audio)
    files = sorted(f for f in folder.glob("*.npz") if not f.name.startswith("."))  # not a killed run's temp
    if not files:
        flag = "" if audio == AUDIO_TOWER else f" --audio-tower {audio}"
        raise DatasetError(f"{dataset}: no tower features; run 'foley-engine cache-towers {dataset}{flag}' first")
    cache = FeatureCache(dataset)
    shards = np.array([r.shard for r in cache.rows])
    parts = []
    for f in files:
        part = np.load(f)
        rows = part["rows"]
        if not len(rows):  # a silent video's empty file
            continue
        if rows.min() < 0 or rows.max() >= len(shards) or np.any(shards[rows] != f.stem):
            raise DatasetError(f"{f}: its rows are not the seconds of video {f.stem} in the dataset's manifest (was the dataset "
                               f"prepared again after cache-towers?); delete {folder} and run cache-towers again")
        parts.append(part)
    if not parts:
        raise DatasetError(f"{dataset}: every video is silent; no tower features to train on")
    rows = np.concatenate([p["rows"] for p in parts])
    return TowerFeatures(
        rows=rows,
        vision=np.concatenate([p["vision"] for p in parts]),
        audio=np.concatenate([p["audio"] for p in parts]),
        video_ids=cache.video_ids[rows],
        seconds=cache.seconds[rows],
        splits=cache.splits[rows],
        levels=cache.levels[rows],
    )


def join_tower_features(parts: Sequence[TowerFeatures]) -> TowerFeatures:
    """The features of several datasets one after the other (``rows`` index each one's own manifest);
    a video id may be in only one of them."""
    if not parts:
        raise DatasetError("give at least one prepared dataset")
    ids = [set(p.video_ids.tolist()) for p in parts]
    shared = {v for i, a in enumerate(ids) for b in ids[i + 1 :] for v in a & b}
    if shared:
        raise DatasetError(f"video ids in more than one dataset: {', '.join(sorted(shared)[:5])}")
    return TowerFeatures(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


def clip_mels(cache, rows: np.ndarray, features) -> np.ndarray:
    """Log-mels of dataset rows with ``features``: the cached ones when the audio settings match the
    dataset's, else decoded again from the source videos (a model with its own audio front end)."""
    from dataclasses import replace

    from engine.data.features import clips_from_wave, log_mel_batch
    from engine.data.media import load_audio

    rows = np.asarray(rows, np.int64)
    if replace(features, image_size=0) == replace(cache.features, image_size=0):
        return cache.mels(rows)
    out = np.zeros((len(rows), features.n_mels, features.n_frames), np.float32)
    by_shard: dict[str, list[int]] = {}
    for i, r in enumerate(rows.tolist()):
        by_shard.setdefault(cache.rows[r].shard, []).append(i)
    for shard, where in by_shard.items():
        meta = json.loads((cache.root / "shards" / shard / "meta.json").read_text(encoding="utf-8"))
        source = Path(meta.get("source") or "")
        if not source.is_file():
            raise DatasetError(f"{cache.root}: the source video of {shard} ({source}) is gone; this model needs its audio decoded again")
        wave = load_audio(source, features.sample_rate)
        seconds = cache.seconds[rows[where]].astype(np.float64)
        out[where] = log_mel_batch(clips_from_wave(wave, seconds, features), features)
    return out
