"""Crash-safe file replacement: write a temp file in the target's folder, fsync, ``os.replace``.

A reader (or the next start after a power cut) sees either the old file or the complete new one,
never a mix. Temp files are named ``.<name>.<random>.tmp<suffix>`` (hidden, same suffix so
writers that guess the format from it still work); leftovers of a killed process are removed
by ``remove_stale_temps`` once they are an hour old.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

STALE_TEMP_S = 3600.0


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")


def fsync_path(path: Path) -> None:
    """Flush a file's (or on POSIX a folder's) data to the disk."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(str(path), flags)
    except OSError:
        if path.is_dir():  # Windows cannot open folders; rename is durable enough there
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temp path next to ``path``; if the block succeeds, the temp file replaces ``path``."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
    tmp = _temp_name(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(errno.ENOENT, "the writer produced no file", str(tmp))
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_path(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (umask permissions, like a normal new file)."""
    with atomic_path(path) as tmp:
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)


def atomic_write_text(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically."""
    atomic_write_bytes(path, text.encode(encoding))


def remove_stale_temps(path: Path | str, older_than_s: float = STALE_TEMP_S) -> int:
    """Delete temp files a killed writer left next to ``path``; returns how many were removed."""
    path = Path(path)
    now = time.time()
    removed = 0
    try:
        leftovers = list(path.parent.glob(f".{path.name}.*.tmp{path.suffix}"))
    except OSError:
        return 0
    for tmp in leftovers:
        try:
            if now - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def describe_os_error(exc: OSError) -> str:
    """A short, human reason for a failed write."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full; free some space and try again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "no permission to write there; choose another folder"
    if exc.errno == errno.ENOENT:
        return "the folder does not exist"
    if exc.errno == errno.EISDIR:
        return "that name is a folder"
    return exc.strerror or str(exc)
