"""The library's SQLite database: one row per sound file, its metadata and where its vectors are.

Paths are stored as bytes (``os.fsencode``) so non-UTF-8 file names survive exactly; a printable
copy sits next to them. A file's segments have consecutive vector labels ``label0 ..
label0 + n_segments - 1`` (segment ``i`` starts at ``i * hop`` seconds) and consecutive rows
``chunk_row ..`` in one float16 chunk file ``vectors/chunk-<chunk_id>.npy``. Every change runs in one
transaction and bumps ``meta.seq``; the HNSW file is named after the ``seq`` it matches.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SoundIndexError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    n INTEGER NOT NULL,          -- rows in the chunk file
    live INTEGER NOT NULL        -- rows still owned by a file in the library
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE,   -- os.fsencode(absolute path)
    display_path TEXT NOT NULL,
    root BLOB NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    duration REAL NOT NULL,
    sample_rate INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    subcategory TEXT NOT NULL,
    category_source TEXT NOT NULL,
    label0 INTEGER NOT NULL,
    n_segments INTEGER NOT NULL,
    hop REAL NOT NULL,
    chunk_id INTEGER NOT NULL REFERENCES chunks(id),
    chunk_row INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_hash ON files(content_hash);
CREATE TABLE IF NOT EXISTS skipped (
    path BLOB PRIMARY KEY,
    display_path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    reason TEXT NOT NULL
);
"""

_FILE_COLUMNS = (
    "id, path, display_path, root, size, mtime_ns, content_hash, duration, sample_rate, channels, name, "
    "description, category, subcategory, category_source, label0, n_segments, hop, chunk_id, chunk_row"
)


@dataclass(frozen=True)
class SoundFile:
    """One indexed sound file (a row of the ``files`` table)."""

    id: int
    path: Path
    display_path: str
    root: Path
    size: int
    mtime_ns: int
    content_hash: str
    duration: float
    sample_rate: int
    channels: int
    name: str
    description: str
    category: str
    subcategory: str
    category_source: str
    label0: int
    n_segments: int
    hop: float
    chunk_id: int
    chunk_row: int

    @classmethod
    def from_row(cls, row: tuple) -> SoundFile:
        r = list(row)
        r[1] = Path(os.fsdecode(r[1]))
        r[3] = Path(os.fsdecode(r[3]))
        return cls(*r)


class Store:
    """A connection to ``library.sqlite`` with the few operations the index needs."""

    def __init__(self, path: Path, readonly: bool = True) -> None:
        self.path = Path(path)
        self.readonly = readonly
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA busy_timeout=30000")
            if not readonly:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses nothing committed
                self.conn.executescript(_SCHEMA)
            self.conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.OperationalError as exc:  # full disk, I/O error, no permission: the file itself is fine
            raise SoundIndexError(
                f"{self.path}: cannot open the sound index ({exc}); if the disk is full, free some space, "
                "then try again (the index was not changed)"
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise SoundIndexError(
                f"{self.path}: not a usable sound index database ({exc}); delete the folder and run 'foley-engine index' again"
            ) from exc

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: ``BEGIN IMMEDIATE`` ... ``COMMIT``, bumping ``meta.seq``."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute(
                "INSERT INTO meta(key, value) VALUES('seq', '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def all_meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    @staticmethod
    def set_meta(conn: sqlite3.Connection, key: str, value: object) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        conn.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, text))

    @property
    def seq(self) -> int:
        return int(self.get_meta("seq", "0") or 0)

    # -- files ------------------------------------------------------------------------------------
    def files(self) -> list[SoundFile]:
        rows = self.conn.execute(f"SELECT {_FILE_COLUMNS} FROM files ORDER BY label0").fetchall()
        return [SoundFile.from_row(r) for r in rows]

    def snapshot(self) -> tuple[int, list[SoundFile], dict[str, str]]:
        """``(seq, files, meta)`` read in one transaction, so they belong together."""
        self.conn.execute("BEGIN")
        try:
            meta = self.all_meta()
            files = self.files()
        finally:
            self.conn.execute("COMMIT")
        return int(meta.get("seq", "0")), files, meta

    @staticmethod
    def insert_file(conn: sqlite3.Connection, f: dict) -> None:
        f = dict(f, path=os.fsencode(f["path"]), root=os.fsencode(f["root"]), indexed_at=time.time())
        cols = ", ".join(f)
        conn.execute(f"INSERT INTO files({cols}) VALUES({', '.join('?' * len(f))})", tuple(f.values()))

    @staticmethod
    def delete_files(conn: sqlite3.Connection, files: Iterable[SoundFile]) -> list[int]:
        """Remove file rows; returns ids of chunks that no longer hold any live vector."""
        freed: list[int] = []
        for f in files:
            conn.execute("DELETE FROM files WHERE id = ?", (f.id,))
            conn.execute("UPDATE chunks SET live = live - ? WHERE id = ?", (f.n_segments, f.chunk_id))
        for (cid,) in conn.execute("SELECT id FROM chunks WHERE live <= 0").fetchall():
            conn.execute("DELETE FROM chunks WHERE id = ?", (cid,))
            freed.append(int(cid))
        return freed

    def chunk_ids(self) -> list[int]:
        return [int(r[0]) for r in self.conn.execute("SELECT id FROM chunks").fetchall()]

    def next_chunk_id(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()[0])

    # -- skipped files ----------------------------------------------------------------------------
    def skipped(self) -> dict[bytes, tuple[int, int, str]]:
        rows = self.conn.execute("SELECT path, size, mtime_ns, reason FROM skipped").fetchall()
        return {bytes(p): (int(s), int(m), r) for p, s, m, r in rows}

    @staticmethod
    def set_skipped(conn: sqlite3.Connection, path: Path, size: int, mtime_ns: int, reason: str, display: str) -> None:
        conn.execute(
            "INSERT INTO skipped(path, display_path, size, mtime_ns, reason) VALUES(?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, reason = excluded.reason",
            (os.fsencode(path), display, size, mtime_ns, reason),
        )

    @staticmethod
    def forget_skipped(conn: sqlite3.Connection, paths: Iterable[bytes]) -> None:
        conn.executemany("DELETE FROM skipped WHERE path = ?", [(p,) for p in paths])
