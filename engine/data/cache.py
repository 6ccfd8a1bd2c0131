"""The on-disk feature cache that ``foley-engine prepare`` writes and training reads.

Layout of a DATASET folder::

    dataset.json                 format version, FeatureCfg, split seed/ratios, skipped files
    manifest.csv                 one row per (video, second): row,video_id,second,label,split,rms,shard,local
    shards/<video_id>/frames.npy uint8  (n, 224, 224, 3)  frame k at t = k + 0.5 s
    shards/<video_id>/mels.npy   float32 (n, 64, 100)    log-mel of audio second k
    shards/<video_id>/rms.npy    float32 (n,)            level of audio second k before normalisation
    shards/<video_id>/meta.json  source path, size, mtime, seconds: written last, marks the shard complete

A shard folder is written under a temporary name and renamed into place, so a killed ``prepare``
never leaves a half-written video. Arrays are opened memory-mapped.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from engine.config import FeatureCfg, from_dict
from engine.errors import DatasetError

FORMAT_VERSION = 1
MANIFEST_FIELDS = ("row", "video_id", "second", "label", "split", "rms", "shard", "local")
SPLITS = ("train", "val", "test")


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

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        meta_path = self.root / "dataset.json"
        manifest_path = self.root / "manifest.csv"
        if not meta_path.exists() or not manifest_path.exists():
            raise DatasetError(f"{self.root}: not a prepared dataset (no dataset.json/manifest.csv); run 'foley-engine prepare VIDEOS --out {self.root}' first")
        try:
            self.meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{meta_path}: unreadable ({exc}); re-run 'foley-engine prepare'") from exc
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise DatasetError(f"{self.root}: dataset format {self.meta.get('format_version')!r}, this version reads {FORMAT_VERSION}; re-run prepare")
        self.features: FeatureCfg = from_dict(FeatureCfg, self.meta["features"])
        with manifest_path.open(newline="") as f:
            self.rows: list[ManifestRow] = [
                ManifestRow(int(r["row"]), r["video_id"], int(r["second"]), r["label"], r["split"], float(r["rms"]), r["shard"], int(r["local"]))
                for r in csv.DictReader(f)
            ]
        if not self.rows:
            raise DatasetError(f"{self.root}: the dataset is empty (no usable seconds); check 'foley-engine prepare' output for skipped files")
        self._shards: dict[str, tuple[np.ndarray, np.ndarray]] = {}

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
        if arrays is None:
            folder = self.root / "shards" / name
            try:
                arrays = (np.load(folder / "frames.npy", mmap_mode="r"), np.load(folder / "mels.npy", mmap_mode="r"))
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{folder}: shard unreadable ({exc}); re-run 'foley-engine prepare' to rebuild it") from exc
            self._shards[name] = arrays
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
        return np.stack([self.frame(int(i)) for i in idx]) if len(idx) else np.zeros((0, 224, 224, 3), np.uint8)

    def mels(self, idx: np.ndarray | list[int]) -> np.ndarray:
        f = self.features
        return np.stack([self.mel(int(i)) for i in idx]) if len(idx) else np.zeros((0, f.n_mels, f.n_frames), np.float32)

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the manifest: checkpoints record it so a resume on other data is refused."""
        return hashlib.sha256((self.root / "manifest.csv").read_bytes()).hexdigest()[:16]
