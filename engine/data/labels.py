"""Video labels for ``prepare``: a VGG-Sound CSV or a folder-per-label layout.

VGG-Sound's CSV has one row per clip, ``youtube_id,start_seconds,label,split`` (no header; a
header row is tolerated), and its clips are files named ``<youtube_id>_<start:06d>.mp4``. Labels
are only used to draw "label" negatives and for evaluation, never as a training target.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import DatasetError

log = logging.getLogger(__name__)

_SPLIT_NAMES = {"train": "train", "test": "test", "val": "val", "valid": "val", "validation": "val", "": ""}
_STEM = re.compile(r"^(?P<id>.+)_(?P<start>\d+)$")


@dataclass(frozen=True)
class ClipLabel:
    youtube_id: str
    start: int
    label: str
    split: str  # "train" | "val" | "test" | "" (no split given: decided by the seed)
    line: int


@dataclass
class LabelTable:
    """The usable rows of a labels CSV by (youtube_id, start), and the rows that were not usable."""

    path: Path
    clips: dict[tuple[str, int], ClipLabel] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # "line N: what is wrong"

    def lookup(self, stem: str) -> ClipLabel | None:
        """The row of a video file named ``<youtube_id>_<start>`` (zero-padded or not)."""
        m = _STEM.match(stem)
        if not m:
            return None
        return self.clips.get((m["id"], int(m["start"])))


def vggsound_stem(youtube_id: str, start: int) -> str:
    """The file name (without extension) VGG-Sound download scripts give a clip."""
    return f"{youtube_id}_{start:06d}"


def _parse_start(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and value >= 0 else None


def read_vggsound_csv(path: Path | str) -> LabelTable:
    """Parse a VGG-Sound style CSV; bad rows are kept out and reported with their line numbers.

    Raises ``DatasetError`` when the file cannot be read or holds no usable row at all.
    """
    path = Path(path)
    table = LabelTable(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError as exc:
        raise DatasetError(f"labels CSV not found: {path}") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: labels CSV unreadable ({exc}); expected UTF-8 rows youtube_id,start_seconds,label,split") from exc
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if line == 1 and len(cells) >= 2 and _parse_start(cells[1]) is None and "start" in cells[1].lower():
            continue  # a header row
        if len(cells) not in (3, 4):
            table.problems.append(f"line {line}: {len(cells)} fields, expected youtube_id,start_seconds,label,split")
            continue
        youtube_id, start_text, label = cells[:3]
        split_text = cells[3].lower() if len(cells) == 4 else ""
        start = _parse_start(start_text)
        if not youtube_id:
            table.problems.append(f"line {line}: empty youtube_id")
        elif start is None:
            table.problems.append(f"line {line}: start_seconds {start_text!r} is not a whole number of seconds")
        elif not label:
            table.problems.append(f"line {line}: empty label")
        elif split_text not in _SPLIT_NAMES:
            table.problems.append(f"line {line}: split {cells[3]!r} is not train, val or test")
        else:
            key = (youtube_id, start)
            old = table.clips.get(key)
            if old is not None and (old.label, old.split) != (label, _SPLIT_NAMES[split_text]):
                table.problems.append(f"line {line}: {vggsound_stem(*key)} already labelled {old.label!r} on line {old.line}; kept that")
            elif old is None:
                table.clips[key] = ClipLabel(youtube_id, start, label, _SPLIT_NAMES[split_text], line)
    if not table.clips:
        detail = f" ({len(table.problems)} bad rows, first: {table.problems[0]})" if table.problems else ""
        raise DatasetError(f"{path}: no usable rows{detail}; expected youtube_id,start_seconds,label,split")
    if table.problems:
        log.warning("%s: %d bad rows left out (first: %s)", path, len(table.problems), table.problems[0])
    return table


def folder_label(relative: Path) -> str:
    """Folder-per-label layout: a video's label is the first folder under VIDEOS ("" at the top level)."""
    parts = relative.parts
    return parts[0] if len(parts) > 1 else ""
