"""Media a project refers to that are not where it says, and where they may have moved."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from foley_app.core.document import Document

log = logging.getLogger(__name__)


def missing_media(doc: Document) -> list[Path]:
    """The video and sound files the document refers to that do not exist (document order)."""
    return [p for p in doc.media_paths() if not p.is_file()]


def find_relinks(missing: Iterable[Path], folder: Path | str, max_files: int = 500_000) -> dict[Path, Path]:
    """Search ``folder`` (recursively) for files with the missing files' names: ``{old: new}``.

    When several files share a name, the one whose parent folders match the old path's most
    closely wins. Stops after looking at ``max_files`` files.
    """
    wanted: dict[str, list[Path]] = {}
    for p in missing:
        wanted.setdefault(Path(p).name.lower(), []).append(Path(p))
    found: dict[str, list[Path]] = {}
    seen = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            seen += 1
            if name.lower() in wanted:
                found.setdefault(name.lower(), []).append(Path(root) / name)
        if seen >= max_files:
            log.warning("relink search stopped after %d files in %s", seen, folder)
            break
    mapping: dict[Path, Path] = {}
    for key, olds in wanted.items():
        for old in olds:
            if found.get(key):
                mapping[old] = max(found[key], key=lambda c: (_common_tail(old, c), -len(c.parts)))
    return mapping


def _common_tail(a: Path, b: Path) -> int:
    n = 0
    for x, y in zip(reversed(a.parts[:-1]), reversed(b.parts[:-1])):
        if x.lower() != y.lower():
            break
        n += 1
    return n
