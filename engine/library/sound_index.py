"""``SoundIndex``: the SQLite metadata and the HNSW vectors of one library folder, kept in agreement.

Layout of an index folder (see docs/library.md)::

    library.sqlite          files, chunks, skipped files, meta (model_id, dim, seq, HNSW params)
    vectors/chunk-N.npy     float16 embeddings, written (fsync + rename) before the rows that use them commit
    hnsw-<seq>-d<n>.bin     the search graph as of database change <seq> (n nodes marked deleted)
    index.lock              held by the one process allowed to change the index

On open, if no graph matches the database's ``seq`` (a run was killed, or a reader opened it
mid-run), the newest graph is reconciled with the database: vectors committed since are added from
their chunks, vectors of removed files are marked deleted, and an unusable graph is rebuilt from the
chunks. Chunk files no committed row refers to are left-overs of a killed run and are deleted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import SoundIndexError
from engine.library.locking import IndexLock
from engine.library.paths import CHUNK_DIR, DB_FILE, HNSW_PREFIX, LOCK_FILE
from engine.library.store import FORMAT_VERSION, SoundFile, Store
from engine.library.vectors import HnswIndex, HnswParams, read_chunk

log = logging.getLogger(__name__)
_SEP = os.sep.encode()  # path prefixes are compared as bytes

_HNSW_RE = re.compile(rf"^{HNSW_PREFIX}(\d+)-d(\d+)\.bin$")
REBUILD_DELETED_FRACTION = 0.25  # rebuild the graph when this share of its nodes is deleted


@dataclass(frozen=True)
class LibraryStats:
    """Totals of an index, for ``foley-engine library stats`` and the app's status bar."""

    db_dir: Path
    model_id: str
    files: int
    segments: int
    hours: float
    categories: int
    skipped: int
    disk_bytes: int
    hnsw: HnswParams


def reembed_hint(db_dir: Path) -> str:
    return f"'foley-engine index --reembed --db {db_dir} --model MODEL LIBRARY_DIR' (or use --db for a separate index)"


class SoundIndex:
    """Vectors (hnswlib) + metadata (SQLite) in one folder, bound to one model id."""

    def __init__(self, db_dir: Path, store: Store, lock: IndexLock | None) -> None:
        self.db_dir = db_dir
        self.store = store
        self.lock = lock
        self.readonly = lock is None
        self.seq = 0
        self.meta: dict[str, str] = {}
        self._files: list[SoundFile] = []
        self.hnsw: HnswIndex | None = None
        self._graph_seq = -1  # the database change the graph on disk matches

    # -- opening ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, db_dir: Path, model_id: str | None = None, readonly: bool = True) -> SoundIndex:
        """Open an index; ``model_id`` (if given) must match the one it was built with."""
        db_dir = Path(db_dir)
        db_path = db_dir / DB_FILE
        if readonly and not db_path.is_file():
            raise SoundIndexError(f"no sound index at {db_dir}; create one with 'foley-engine index LIBRARY_DIR --db {db_dir}'")
        lock = None
        if not readonly:
            db_dir.mkdir(parents=True, exist_ok=True)
            lock = IndexLock(db_dir, LOCK_FILE)
            lock.acquire()
        try:
            self = cls(db_dir, Store(db_path, readonly=readonly), lock)
            self._load(model_id)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return self

    def _load(self, model_id: str | None) -> None:
        for attempt in range(3):  # a writer may delete a chunk between our snapshot and reading it
            self.seq, self._files, self.meta = self.store.snapshot()
            stored = self.meta.get("model_id")
            if stored and model_id and stored != model_id:
                raise SoundIndexError(
                    f"the sound index at {self.db_dir} was built with model {stored}, not {model_id}; "
                    f"vectors of two models cannot be mixed. Re-embed it with {reembed_hint(self.db_dir)}"
                )
            if int(self.meta.get("format_version", FORMAT_VERSION)) > FORMAT_VERSION:
                raise SoundIndexError(f"the sound index at {self.db_dir} was written by a newer version; upgrade foley-engine")
            if not self.readonly:
                self._remove_orphans()
            if not stored:
                self.hnsw = None
                return
            try:
                self.hnsw = self._load_graph()
                return
            except SoundIndexError:
                if attempt == 2 or not self.readonly:
                    raise
                log.debug("index changed while opening; retrying")

    @property
    def model_id(self) -> str:
        return self.meta.get("model_id", "")

    @property
    def dim(self) -> int:
        return int(self.meta.get("dim", "0") or 0)

    @property
    def params(self) -> HnswParams:
        """The graph's build parameters as stored; ``ef_search`` (a query-time knob) is always the current default."""
        raw = self.meta.get("hnsw")
        stored = HnswParams(**json.loads(raw)) if raw else HnswParams()
        return HnswParams(M=stored.M, ef_construction=stored.ef_construction)

    def chunk_path(self, chunk_id: int) -> Path:
        return self.db_dir / CHUNK_DIR / f"chunk-{chunk_id:08d}.npy"

    def graph_path(self, seq: int, deleted: int) -> Path:
        return self.db_dir / f"{HNSW_PREFIX}{seq}-d{deleted}.bin"

    def _graphs(self) -> list[tuple[int, int, Path]]:
        """``(seq, deleted nodes, path)`` of every saved graph, newest first."""
        out = []
        for p in self.db_dir.glob(f"{HNSW_PREFIX}*.bin"):
            m = _HNSW_RE.match(p.name)
            if m:
                out.append((int(m.group(1)), int(m.group(2)), p))
        return sorted(out, reverse=True)

    def _remove_orphans(self) -> None:
        """Delete chunk files and temp files no committed row refers to (left by a killed run)."""
        live = set(self.store.chunk_ids())
        folder = self.db_dir / CHUNK_DIR
        if folder.is_dir():
            for p in folder.iterdir():
                m = re.match(r"^chunk-(\d+)\.npy$", p.name)
                if ".tmp" in p.name or (m and int(m.group(1)) not in live):
                    log.info("removing left-over %s", p.name)
                    p.unlink(missing_ok=True)
        for p in self.db_dir.glob("*.tmp*"):  # atomic writes' temp files keep their target's suffix
            p.unlink(missing_ok=True)

    # -- graph ------------------------------------------------------------------------------------
    def live_labels(self) -> np.ndarray:
        if not self._files:
            return np.zeros(0, np.int64)
        return np.concatenate([np.arange(f.label0, f.label0 + f.n_segments, dtype=np.int64) for f in self._files])

    def _load_graph(self) -> HnswIndex:
        dim, params = self.dim, self.params
        graphs = self._graphs()
        graph: HnswIndex | None = None
        if graphs:
            seq, deleted, path = graphs[0]
            try:
                graph = HnswIndex.load(path, dim, params, deleted=deleted)
                if seq == self.seq and len(graph) == sum(f.n_segments for f in self._files):
                    self._graph_seq = seq
                    return graph
                log.info("vector index is from change %d, database at %d: reconciling", seq, self.seq)
            except SoundIndexError as exc:
                log.warning("%s; rebuilding it from the stored vectors", exc)
                graph = None
        return self._reconcile(graph)

    def _reconcile(self, graph: HnswIndex | None) -> HnswIndex:
        """Bring ``graph`` (or a new one) to exactly the database's live labels."""
        live = self.live_labels()
        if graph is not None:
            present = graph.labels()
            stale = np.setdiff1d(present, live, assume_unique=True)
            graph.mark_deleted(stale)
            graph.deleted = len(stale)  # stale = every deleted node, including those deleted before
            have = np.setdiff1d(present, stale, assume_unique=True)
            if graph.deleted > REBUILD_DELETED_FRACTION * max(len(live), 1):
                graph = None
        if graph is None:
            graph = HnswIndex(self.dim, self.params, capacity=len(live) + 1024)
            have = np.zeros(0, np.int64)
        missing = set(np.setdiff1d(live, have, assume_unique=True).tolist())
        for f in self._files:
            if f.label0 in missing or (f.n_segments > 1 and f.label0 + f.n_segments - 1 in missing):
                rows = read_chunk(self.chunk_path(f.chunk_id), self.dim)[f.chunk_row : f.chunk_row + f.n_segments]
                if rows.shape[0] != f.n_segments:
                    raise SoundIndexError(f"{self.chunk_path(f.chunk_id)}: too short for {f.display_path}")
                graph.add(np.asarray(rows, np.float32), np.arange(f.label0, f.label0 + f.n_segments))
        if not self.readonly:
            self._save_graph(graph)
        return graph

    def _save_graph(self, graph: HnswIndex) -> None:
        graph.save(self.graph_path(self.seq, graph.deleted))
        self._graph_seq = self.seq
        for seq, deleted, path in self._graphs():
            if (seq, deleted) != (self.seq, graph.deleted):
                path.unlink(missing_ok=True)

    def save(self) -> None:
        """Write the graph for the current database state (writers only)."""
        if self.readonly:
            raise SoundIndexError("index opened read-only")
        self.refresh_files()
        if self.hnsw is not None and self._graph_seq != self.seq:  # unchanged: no need to rewrite a big file
            self._save_graph(self.hnsw)

    def rebuild(self) -> None:
        """Rebuild the graph from the stored vectors (drops deleted nodes)."""
        if self.model_id:
            self.hnsw = self._reconcile(None)

    # -- reading ----------------------------------------------------------------------------------
    def files(self) -> list[SoundFile]:
        return list(self._files)

    def stats(self) -> LibraryStats:
        size = sum(p.stat().st_size for p in self.db_dir.rglob("*") if p.is_file())
        return LibraryStats(
            db_dir=self.db_dir,
            model_id=self.model_id,
            files=len(self._files),
            segments=sum(f.n_segments for f in self._files),
            hours=sum(f.duration for f in self._files) / 3600.0,
            categories=len({f.category for f in self._files}),
            skipped=len(self.store.skipped()),
            disk_bytes=size,
            hnsw=self.params,
        )

    def skipped(self) -> list[tuple[str, str]]:
        rows = self.store.conn.execute("SELECT display_path, reason FROM skipped ORDER BY display_path").fetchall()
        return [(str(a), str(b)) for a, b in rows]

    def is_stale(self) -> bool:
        """True when another process changed the database since this index was opened."""
        return self.store.seq != self.seq

    def close(self) -> None:
        self.store.close()
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> SoundIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing (used by the indexer) ------------------------------------------------------------
    def bind(self, model_id: str, dim: int, params: HnswParams, reembed: bool = False) -> None:
        """Bind an empty index to a model, or wipe and rebind it when ``reembed``."""
        assert not self.readonly
        if self.model_id == model_id and self.dim == dim:
            return
        if self.model_id and not reembed:
            raise SoundIndexError(
                f"the sound index at {self.db_dir} was built with model {self.model_id}, not {model_id}; "
                f"re-embed it with {reembed_hint(self.db_dir)}"
            )
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM files")
            conn.execute("DELETE FROM chunks")
            conn.execute("DELETE FROM skipped")
            for key, value in (("model_id", model_id), ("dim", str(dim)), ("format_version", str(FORMAT_VERSION)),
                               ("hnsw", json.dumps(params.__dict__)), ("next_label", "0")):
                Store.set_meta(conn, key, value)
        shutil.rmtree(self.db_dir / CHUNK_DIR, ignore_errors=True)
        for _, _, path in self._graphs():
            path.unlink(missing_ok=True)
        self.seq, self._files, self.meta = self.store.snapshot()
        self.hnsw = HnswIndex(dim, params)
        log.debug("index %s bound to model %s", self.db_dir, model_id)

    def remove_rows(self, rows: list[SoundFile]) -> None:
        """Drop files from the database and the graph; free chunks nobody uses any more (writers)."""
        assert not self.readonly
        with self.store.transaction() as conn:
            freed = Store.delete_files(conn, rows)
        if self.hnsw is not None:
            for f in rows:
                self.hnsw.mark_deleted(np.arange(f.label0, f.label0 + f.n_segments))
        for cid in freed:
            self.chunk_path(cid).unlink(missing_ok=True)
        self.refresh_files()

    def remove(self, paths: list[Path]) -> list[SoundFile]:
        """Remove the given files, and every file under the given folders; returns what was removed."""
        prefixes = [os.fsencode(os.path.abspath(p)) for p in paths]
        rows = [
            f for f in self._files
            if any((k := os.fsencode(f.path)) == p or k.startswith(p.rstrip(_SEP) + _SEP) for p in prefixes)
        ]
        if rows:
            self.remove_rows(rows)
            self.save()
        return rows

    def refresh_files(self) -> None:
        """Re-read the file table after a commit (writers)."""
        self.seq, self._files, self.meta = self.store.snapshot()
