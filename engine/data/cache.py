"""The on-disk feature cache that ``foley-engine prepare`` writes and training reads.

Layout of a DATASET folder::

    dataset.json                 format version, FeatureCfg, split seed/ratios, skipped files
    manifest.csv                 one row per (video, second): row,video_id,second,label,split,rms,shard,local
    shards/<shard>/frames.npy    uint8  (n, 224, 224, 3)  frame k at t = k + 0.5 s
    shards/<shard>/mels.npy      float32 (n, 64, 100)    log-mel of audio second k
    shards/<shard>/rms.npy       float32 (n,)            level of audio second k before normalisation
    shards/<shard>/meta.json     source path, size, mtime, seconds: written last, marks the shard complete

``<shard>`` is the video id (its path under VIDEOS without the extension) made filesystem-safe
(``shard_name``). A shard folder is written under a temporary name and renamed into place, so a
killed ``prepare`` never leaves a half-written video; ``manifest.csv`` and ``dataset.json`` are each
written to a temporary file and renamed (manifest first; ``dataset.json`` records the row count and
the manifest hash, so a reader notices a pair that does not belong together). Arrays are opened
memory-mapped, at most ``max_open_shards`` at a time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from engine.atomic import atomic_write_text, remove_stale_temps, replace_dir
from engine.config import FeatureCfg, from_dict
from engine.errors import DatasetError

FORMAT_VERSION = 1
MANIFEST_FIELDS = ("row", "video_id", "second", "label", "split", "rms", "shard", "local")
SPLITS = ("train", "val", "test")
TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class ManifestRow:
    row: int
    video_id: str
    second: int
    label: str
    split: str
    rms: float
    shard: str
    local: int


class FeatureCache:
    """Read access to a prepared dataset: frames and log-mels by manifest row, plus split/video/label arrays."""

    def __init__(self, root: Path | str, max_open_shards: int = 256) -> None:
        self.root = Path(root)
        self.max_open_shards = max(1, max_open_shards)  # each open shard holds 2 memory maps (file handles)
        meta_path = self.root / "dataset.json"
        manifest_path = self.root / "manifest.csv"
        if not meta_path.exists() or not manifest_path.exists():
            raise DatasetError(f"{self.root}: not a prepared dataset (no dataset.json/manifest.csv); run 'foley-engine prepare VIDEOS --out {self.root}' first")
        try:
            self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{meta_path}: unreadable ({exc}); re-run 'foley-engine prepare'") from exc
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise DatasetError(f"{self.root}: dataset format {self.meta.get('format_version')!r}, this version reads {FORMAT_VERSION}; re-run prepare")
        self.features: FeatureCfg = from_dict(FeatureCfg, self.meta["features"])
        with manifest_path.open(newline="", encoding="utf-8") as f:
            self.rows: list[ManifestRow] = [
                ManifestRow(int(r["row"]), r["video_id"], int(r["second"]), r["label"], r["split"], float(r["rms"]), r["shard"], int(r["local"]))
                for r in csv.DictReader(f)
            ]
        if not self.rows:
            raise DatasetError(f"{self.root}: the dataset is empty (no usable seconds); check 'foley-engine prepare' output for skipped files")
        expected = self.meta.get("rows")
        if expected is not None and expected != len(self.rows):
            raise DatasetError(f"{self.root}: manifest.csv has {len(self.rows)} rows, dataset.json says {expected} (interrupted write?); re-run 'foley-engine prepare' to finish it")
        self._shards: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the open memory maps (DataLoader workers reopen what they read)."""
        state = self.__dict__.copy()
        state["_shards"] = OrderedDict()
        return state

    def __len__(self) -> int:
        return len(self.rows)

    @cached_property
    def video_ids(self) -> np.ndarray:
        return np.array([r.video_id for r in self.rows])

    @cached_property
    def seconds(self) -> np.ndarray:
        return np.array([r.second for r in self.rows], dtype=np.int64)

    @cached_property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.rows])

    @cached_property
    def splits(self) -> np.ndarray:
        return np.array([r.split for r in self.rows])

    @cached_property
    def levels(self) -> np.ndarray:
        return np.array([r.rms for r in self.rows], dtype=np.float32)

    def indices(self, split: str | None = None) -> np.ndarray:
        """Manifest rows of one split (all rows for ``None``)."""
        if split is None:
            return np.arange(len(self.rows))
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; choose from {SPLITS}")
        return np.flatnonzero(self.splits == split)

    def _shard(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        arrays = self._shards.get(name)
        if arrays is not None:
            self._shards.move_to_end(name)
        else:
            folder = self.root / "shards" / name
            try:
                arrays = (np.load(folder / "frames.npy", mmap_mode="r"), np.load(folder / "mels.npy", mmap_mode="r"))
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{folder}: shard unreadable ({exc}); re-run 'foley-engine prepare' to rebuild it") from exc
            self._shards[name] = arrays
            while len(self._shards) > self.max_open_shards:
                self._shards.popitem(last=False)
        return arrays

    def frame(self, i: int) -> np.ndarray:
        """uint8 ``(224, 224, 3)`` frame of manifest row ``i``."""
        r = self.rows[i]
        return np.asarray(self._shard(r.shard)[0][r.local])

    def mel(self, i: int) -> np.ndarray:
        """float32 ``(64, 100)`` log-mel of manifest row ``i``."""
        r = self.rows[i]
        return np.asarray(self._shard(r.shard)[1][r.local])

    def frames(self, idx: np.ndarray | list[int]) -> np.ndarray:
        """uint8 ``(len(idx), 224, 224, 3)`` frames of the given rows."""
        return np.stack([self.frame(int(i)) for i in idx]) if len(idx) else np.zeros((0, self.features.image_size, self.features.image_size, 3), np.uint8)

    def mels(self, idx: np.ndarray | list[int]) -> np.ndarray:
        """float32 ``(len(idx), 64, 100)`` log-mels of the given rows."""
        f = self.features
        return np.stack([self.mel(int(i)) for i in idx]) if len(idx) else np.zeros((0, f.n_mels, f.n_frames), np.float32)

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the manifest: checkpoints record it so a resume on other data is refused."""
        return hashlib.sha256((self.root / "manifest.csv").read_bytes()).hexdigest()[:16]


# --- write side (used by ``engine.data.prepare``) -------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def shard_name(video_id: str) -> str:
    """A filesystem-safe, unique folder name for a video id (readable when the id already is safe)."""
    safe = _UNSAFE.sub("_", video_id.replace("/", "__")).strip("._") or "video"
    if safe == video_id.replace("/", "__") and "__" not in video_id and len(safe) <= 90:
        return safe  # folder/clip -> folder__clip; anything else gets a hash suffix to stay unique
    return f"{safe[:80]}-{hashlib.sha1(video_id.encode()).hexdigest()[:8]}"


def _replace_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def shard_dir(root: Path, name: str) -> Path:
    return Path(root) / "shards" / name


def new_shard_tmp(root: Path, name: str) -> Path:
    """A fresh temporary folder to write one shard into (``commit_shard`` renames it into place)."""
    tmp = Path(root) / "shards" / f"{TMP_PREFIX}{name}.{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def commit_shard(root: Path, name: str, tmp: Path, meta: dict[str, Any]) -> Path:
    """Write ``meta.json`` last into ``tmp`` and rename the folder to ``shards/<name>``."""
    _replace_text(tmp / "meta.json", json.dumps(meta, indent=1, sort_keys=True))
    final = shard_dir(root, name)
    replace_dir(tmp, final)  # a stale shard (source changed) is moved aside, then deleted
    return final


def read_shard_meta(root: Path, name: str) -> dict[str, Any] | None:
    """The ``meta.json`` of a complete shard, or ``None`` when the shard is missing or unreadable."""
    try:
        return json.loads((shard_dir(root, name) / "meta.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def remove_temporaries(root: Path) -> int:
    """Delete what a killed run left behind (temporary shard folders and files); returns how many."""
    n = 0
    for folder in (Path(root), Path(root) / "shards"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(TMP_PREFIX):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                n += 1
    for name in ("manifest.csv", "dataset.json"):  # temp files of their atomic writes
        n += remove_stale_temps(Path(root) / name, older_than_s=0)
    return n


def write_index(root: Path, rows: Sequence[ManifestRow], meta: dict[str, Any]) -> None:
    """Atomically rewrite ``manifest.csv`` then ``dataset.json`` (which records rows + manifest hash)."""
    root = Path(root)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MANIFEST_FIELDS)
    for r in rows:
        w.writerow((r.row, r.video_id, r.second, r.label, r.split, f"{r.rms:.6g}", r.shard, r.local))
    text = buf.getvalue()
    _replace_text(root / "manifest.csv", text)
    meta = {**meta, "format_version": FORMAT_VERSION, "rows": len(rows), "manifest_sha256": hashlib.sha256(text.encode()).hexdigest()}
    _replace_text(root / "dataset.json", json.dumps(meta, indent=1, sort_keys=True))
