"""Combine prepared datasets into one, keeping each video's split: train on several corpora at once.

The combined folder holds its own ``manifest.csv`` and ``dataset.json``; its ``shards/<name>`` entries
link to the sources' shard folders (a symlink, or a copy where links cannot be made), so nothing is
decoded again and the sources stay as they are. Each video keeps the split its source gave it, so a
source's held-out videos stay held out, and its figures stay comparable with a model trained on that
source alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.atomic import replace_dir
from engine.data.cache import (
    SPLITS,
    TMP_PREFIX,
    FeatureCache,
    ManifestRow,
    remove_temporaries,
    write_index,
)
from engine.errors import DatasetError


@dataclass
class CombineReport:
    """What ``combine_datasets`` wrote: counts per source and per split, and how the shards were linked."""

    out: Path
    sources: list[dict] = field(default_factory=list)  # path, fingerprint, videos, seconds
    split_videos: dict[str, int] = field(default_factory=dict)
    split_seconds: dict[str, int] = field(default_factory=dict)
    silent_seconds: int = 0
    copied_shards: int = 0  # shards copied because a symlink could not be made

    @property
    def seconds(self) -> int:
        return sum(self.split_seconds.values())

    def summary(self) -> str:
        lines = [f"combined {len(self.sources)} datasets into {self.out}: {self.seconds} s, {sum(self.split_videos.values())} videos"]
        for s in self.sources:
            lines.append(f"  {s['path']}: {s['videos']} videos, {s['seconds']} s (manifest {s['fingerprint']})")
        lines.append("  splits: " + ", ".join(f"{k} {self.split_videos.get(k, 0)} videos / {self.split_seconds.get(k, 0)} s" for k in SPLITS))
        lines.append(f"  silent seconds (below each source's --silence-rms): {self.silent_seconds}")
        if self.copied_shards:
            lines.append(f"  {self.copied_shards} shards copied (symlinks not allowed here)")
        return "\n".join(lines)


def _check_compatible(caches: Sequence[FeatureCache]) -> None:
    first = caches[0]
    for c in caches[1:]:
        if c.features != first.features:
            a, b = first.features.__dict__, c.features.__dict__
            diff = ", ".join(f"{k} {a[k]!r} vs {b[k]!r}" for k in a if a[k] != b.get(k))
            raise DatasetError(f"{c.root}: prepared with other features than {first.root} ({diff}); prepare both with the same settings")
    owner: dict[str, Path] = {}
    for c in caches:
        for vid in dict.fromkeys(c.video_ids.tolist()):
            if vid in owner:
                raise DatasetError(f"video id {vid!r} is in both {owner[vid]} and {c.root}; a video may be in one source only (rename one of the files and prepare it again)")
            owner[vid] = c.root


def _link_shard(src: Path, dst: Path) -> bool:
    """Link ``dst`` to the shard folder ``src``; copy it where symlinks are refused. True when copied."""
    try:
        os.symlink(src.resolve(), dst, target_is_directory=True)
        return False
    except OSError:  # e.g. Windows without the symlink privilege
        shutil.copytree(src, dst)
        return True


def combine_datasets(sources: Sequence[Path | str], out: Path | str, overwrite: bool = False) -> CombineReport:
    """Write a dataset at ``out`` with every second of ``sources``; each video keeps its source's split.

    Raises ``DatasetError`` when fewer than two sources are given, a source is not a complete prepared
    dataset, the sources differ in their feature settings, a video id is in two sources, or ``out`` is
    one of the sources or already holds a dataset (unless ``overwrite``).
    """
    if len(sources) < 2:
        raise DatasetError("give at least two prepared datasets to combine")
    out = Path(out)
    roots = [Path(s) for s in sources]
    if len({r.resolve() for r in roots}) != len(roots):
        raise DatasetError("a dataset is given twice")
    if any(out.resolve() == r.resolve() for r in roots):
        raise DatasetError(f"{out} is one of the sources; write the combined dataset to a new folder")
    caches = [FeatureCache(r) for r in roots]
    for c in caches:
        if not c.meta.get("complete", True):
            raise DatasetError(f"{c.root}: 'foley-engine prepare' has not finished this dataset; run it again to complete it first")
    _check_compatible(caches)
    if (out / "dataset.json").exists() and not overwrite:
        raise DatasetError(f"{out} already holds a dataset; choose a new folder or pass --overwrite")

    out.mkdir(parents=True, exist_ok=True)
    remove_temporaries(out)
    shards = out / "shards"
    tmp_shards = out / f"{TMP_PREFIX}shards.{os.getpid()}"
    tmp_shards.mkdir()
    report = CombineReport(out=out)
    rows: list[ManifestRow] = []
    for c in caches:
        names = list(dict.fromkeys(r.shard for r in c.rows))
        for name in names:
            report.copied_shards += _link_shard(c.root / "shards" / name, tmp_shards / name)
        for r in c.rows:
            rows.append(ManifestRow(len(rows), r.video_id, r.second, r.label, r.split, r.rms, r.shard, r.local))
            report.split_seconds[r.split] = report.split_seconds.get(r.split, 0) + 1
            report.silent_seconds += r.rms < float(c.meta.get("silence_rms", 1e-3))
        for split in SPLITS:
            report.split_videos[split] = report.split_videos.get(split, 0) + len({r.video_id for r in c.rows if r.split == split})
        report.sources.append({"path": str(c.root.resolve()), "fingerprint": c.fingerprint, "videos": len(names), "seconds": len(c.rows)})

    # swap the new shard links in, then write the manifest (written last, atomically, like prepare's)
    if shards.is_symlink() or shards.is_file():
        shards.unlink()
    replace_dir(tmp_shards, shards, discard=_remove_links)
    first = caches[0].meta
    meta = {
        "complete": True,
        "combined_from": report.sources,
        "features": first["features"],
        "silence_rms": first.get("silence_rms", 1e-3),
        "silent_seconds": report.silent_seconds,
        "split_seconds": report.split_seconds,
        "split_videos": report.split_videos,
        "videos_in_dataset": sum(s["videos"] for s in report.sources),
        "skipped": [],
        "csv_problems": [],
    }
    write_index(out, rows, meta)
    return report


def _remove_links(folder: Path) -> None:
    """Delete a folder of shard links (or copies) without following a link into a source dataset."""
    for p in folder.iterdir():
        if p.is_symlink():
            p.unlink()
        else:
            shutil.rmtree(p, ignore_errors=True)
    folder.rmdir()
