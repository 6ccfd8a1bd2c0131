"""Crash-safe file replacement: write a temp file in the target's folder, fsync, ``os.replace``.

A reader (or the next start after a power cut) sees either the old file or the complete new one,
never a mix. Temp files are named ``.<name>.<random>.tmp<suffix>`` (hidden, same suffix so
writers that guess the format from it still work); leftovers of a killed process are removed
by ``remove_stale_temps`` once they are an hour old. ``atomic_dir`` / ``replace_dir`` do the
same for a folder written as a whole (an index, a dataset shard).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

STALE_TEMP_S = 3600.0


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")


def _temp_pattern(path: Path) -> re.Pattern[str]:
    """Names ``_temp_name(path)`` gives, and those of a folder ``replace_dir`` moved aside (``.old``)."""
    return re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{8}}\.tmp{re.escape(path.suffix)}(\.old)?")


def fsync_path(path: Path) -> None:
    """Flush a file's (or on POSIX a folder's) data to the disk."""
    # a file is opened for writing: Windows refuses to flush a read-only handle
    flags = (os.O_RDONLY if path.is_dir() else os.O_RDWR) | getattr(os, "O_BINARY", 0)
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


def fsync_tree(folder: Path | str) -> None:
    """Flush every file under ``folder``, and the folders themselves, to the disk."""
    folder = Path(folder)
    for p in sorted(folder.rglob("*"), reverse=True):  # files before the folders holding them
        if not p.is_symlink():
            fsync_path(p)
    fsync_path(folder)


def replace_dir(src: Path | str, dst: Path | str, discard: Callable[[Path], None] | None = None,
                overwrite: bool = True) -> None:
    """Rename the finished folder ``src`` to ``dst``; a folder already at ``dst`` is moved aside, then deleted.

    ``discard`` deletes the old folder (default: ``shutil.rmtree``; pass another one when it holds
    links that must not be followed). With ``overwrite=False`` a non-empty ``dst`` is an error
    (``OSError``) and is left alone. If ``src`` cannot be renamed, the old folder is put back.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(src))
    if dst.is_symlink() or (dst.exists() and not dst.is_dir()):
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(dst))
    if not overwrite or not dst.exists():
        os.replace(src, dst)
        fsync_path(dst.parent)
        return
    aside = src.with_name(src.name + ".old")
    os.replace(dst, aside)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(aside, dst)
        raise
    fsync_path(dst.parent)
    try:
        (discard or shutil.rmtree)(aside)
    except OSError as exc:  # the new folder is in place; the old one is swept later
        log.warning("could not delete the replaced folder %s (%s)", aside, exc)


@contextmanager
def atomic_dir(path: Path | str, overwrite: bool = True) -> Iterator[Path]:
    """Yield a new empty temp folder beside ``path``; if the block succeeds, it replaces ``path`` whole.

    Its files are flushed to the disk before the swap. On an error the temp folder is deleted and
    ``path`` is untouched. ``overwrite`` as for ``replace_dir``.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    tmp.mkdir()
    try:
        yield tmp
        fsync_tree(tmp)
        replace_dir(tmp, path, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_temps(path: Path | str, older_than_s: float = STALE_TEMP_S) -> int:
    """Delete temp files (and folders) a killed writer left next to ``path``; returns how many were removed."""
    path = Path(path)
    pattern = _temp_pattern(path)
    now = time.time()
    removed = 0
    try:
        leftovers = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return 0
    for tmp in leftovers:
        try:
            if now - tmp.lstat().st_mtime < older_than_s:
                continue
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            else:
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
