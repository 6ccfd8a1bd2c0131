"""Find the sound files under library folders: recursive, symlink-loop safe, unreadable files reported."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.data.media import CONTAINER_AUDIO_EXTENSIONS, SOUND_EXTENSIONS

log = logging.getLogger(__name__)

# Sound formats plus audio-only containers the video decoder (PyAV) reads. Video files are left
# out on purpose: a library folder's reference movies are not sounds to offer.
INDEXED_EXTENSIONS = frozenset(SOUND_EXTENSIONS | CONTAINER_AUDIO_EXTENSIONS)


@dataclass(frozen=True)
class FoundFile:
    """A candidate sound file and the stat fields that decide whether it changed."""

    path: Path  # absolute, symlinks in folders kept as found
    root: Path  # the library folder it was found under
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def display_path(path: Path | str) -> str:
    """A path as printable text even when its bytes are not valid UTF-8."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def scan(roots: Iterable[Path]) -> tuple[list[FoundFile], list[Skipped]]:
    """All indexable files under ``roots`` (sorted, de-duplicated) and the ones skipped with a reason."""
    found: dict[Path, FoundFile] = {}
    skipped: list[Skipped] = []
    for root in roots:
        root = Path(os.path.abspath(root))
        if root.is_file():
            _consider(root, root.parent, found, skipped)
            continue
        if not root.is_dir():
            skipped.append(Skipped(root, "library folder not found"))
            continue
        seen_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=lambda e: _walk_error(e, skipped)):
            try:
                st = os.stat(dirpath)
            except OSError as exc:
                skipped.append(Skipped(Path(dirpath), f"folder cannot be read ({exc.strerror})"))
                dirnames[:] = []
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:  # a symlink loop or a second link to a folder already scanned
                log.debug("%s: already scanned (symlink loop?)", display_path(dirpath))
                dirnames[:] = []
                continue
            seen_dirs.add(key)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                _consider(Path(dirpath) / name, root, found, skipped)
    return sorted(found.values(), key=lambda f: os.fsencode(f.path)), skipped


def has_indexable(roots: Iterable[Path]) -> bool:
    """Whether any non-empty indexable file lies under ``roots`` (stops at the first one found)."""
    for root in roots:
        root = Path(os.path.abspath(root))
        if root.is_file():
            found: dict[Path, FoundFile] = {}
            _consider(root, root.parent, found, [])
            if found:
                return True
            continue
        seen_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            try:
                st = os.stat(dirpath)
            except OSError:
                dirnames[:] = []
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                found = {}
                _consider(Path(dirpath) / name, root, found, [])
                if found:
                    return True
    return False


def _walk_error(exc: OSError, skipped: list[Skipped]) -> None:
    skipped.append(Skipped(Path(exc.filename or "?"), f"folder cannot be read ({exc.strerror})"))


def _consider(path: Path, root: Path, found: dict[Path, FoundFile], skipped: list[Skipped]) -> None:
    name = path.name
    if name.startswith("._"):  # macOS AppleDouble metadata next to the real file
        return
    if path.suffix.lower() not in INDEXED_EXTENSIONS or name.startswith("."):
        return
    try:
        st = os.stat(path)
    except OSError as exc:
        skipped.append(Skipped(path, f"cannot be read ({exc.strerror or exc})"))
        return
    if not stat.S_ISREG(st.st_mode):
        skipped.append(Skipped(path, "not a regular file"))
        return
    if not os.access(path, os.R_OK):
        skipped.append(Skipped(path, "permission denied"))
        return
    if st.st_size == 0:
        skipped.append(Skipped(path, "empty file (0 bytes)"))
        return
    real = Path(os.path.realpath(path))
    if real in found:  # the same file reached twice through links
        return
    found[real] = FoundFile(path, root, int(st.st_size), int(st.st_mtime_ns))
