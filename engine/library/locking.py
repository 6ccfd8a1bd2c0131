"""An exclusive, non-blocking file lock so two writers never touch one index at the same time.

The lock is an OS lock (``fcntl.flock`` / ``msvcrt.locking``) on ``index.lock`` in the index folder:
it is released by the OS when the process dies, so a killed run never leaves a stale lock. The
file holds the owner's pid, for the error message only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType

from engine.errors import SoundIndexError

log = logging.getLogger(__name__)


class IndexLock:
    """``with IndexLock(folder):`` holds the folder's write lock or raises ``SoundIndexError``."""

    def __init__(self, folder: Path, name: str = "index.lock") -> None:
        self.path = Path(folder) / name
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError:
            owner = _read_owner(fd)
            os.close(fd)
            who = f" (pid {owner})" if owner else ""
            raise SoundIndexError(
                f"the sound index at {self.path.parent} is being changed by another process{who}; "
                "wait for it to finish (or stop it), or use --db to work on another index"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                _unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> IndexLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _read_owner(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 32).decode(errors="replace").strip()
    except OSError:
        return ""


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
