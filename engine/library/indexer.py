"""``index_library``: scan folders, decode in parallel workers, embed in batches, commit durably.

Order of every commit (so a kill at any moment loses at most the uncommitted batch):
1. the batch's float16 vectors go to ``vectors/chunk-N.npy`` (temp file, fsync, rename);
2. one SQLite transaction inserts the chunk and the batch's files (and drops the rows they replace);
3. only then are the vectors added to the in-memory HNSW graph, which is saved at the end.
A chunk without a committed row is deleted on the next open; a graph older than the database is
reconciled from the chunks (``SoundIndex``).
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import SoundIndexError
from engine.library.scan import FoundFile, display_path, scan
from engine.library.segments import (
    HOP_SECONDS,
    MAX_SECONDS_PER_FILE,
    FailedFile,
    PreparedFile,
    content_hash,
    prepare_file,
    worker_init,
)
from engine.library.sound_index import SoundIndex
from engine.library.store import SoundFile, Store
from engine.library.vectors import HnswParams, quantize, write_chunk

log = logging.getLogger(__name__)
_SEP = os.sep.encode()  # path prefixes are compared as bytes

COMMIT_SEGMENTS = 2048  # segments embedded and committed together (one chunk file)
SAVE_GRAPH_EVERY_S = 600.0
MIN_FILES_FOR_WORKERS = 8  # fewer files are decoded in-process: starting worker processes costs seconds  # a long run also saves the graph now and then, so a kill resumes fast


@dataclass
class IndexReport:
    """What one indexing run did, for the CLI summary and the app."""

    db_dir: Path
    model_id: str
    files: int = 0  # in the index after the run
    segments: int = 0
    hours: float = 0.0
    added: int = 0  # new files embedded
    updated: int = 0  # changed files re-embedded
    unchanged: int = 0
    moved: int = 0  # same content found under a new path: vectors kept
    removed: int = 0
    embedded_segments: int = 0
    audio_seconds: float = 0.0  # decoded in this run
    wall_seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    truncated: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def realtime_factor(self) -> float:
        """Audio seconds indexed per wall-clock second."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def summary(self) -> str:
        lines = [
            f"index {self.db_dir} (model {self.model_id}){' — CANCELLED, run again to finish' if self.cancelled else ''}",
            f"  library: {self.files} files, {self.segments} segments, {self.hours:.2f} h of audio",
            f"  this run: {self.added} added, {self.updated} re-embedded, {self.moved} moved, {self.removed} removed, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped",
            (f"  embedded {self.embedded_segments} segments from {self.audio_seconds / 3600:.2f} h in {self.wall_seconds:.1f} s "
             f"({self.realtime_factor:.0f}x real time)") if self.embedded_segments else
            f"  nothing to embed: every file is up to date ({self.wall_seconds:.1f} s)",
        ]
        if self.truncated:
            lines.append(f"  {len(self.truncated)} long files indexed only up to --max-seconds-per-file")
        for path, reason in self.skipped[:50]:
            lines.append(f"  skipped {path}: {reason}")
        if len(self.skipped) > 50:
            lines.append(f"  ... and {len(self.skipped) - 50} more skipped (foley-engine library stats --skipped)")
        return "\n".join(lines)


@dataclass
class _Task:
    found: FoundFile
    known_hash: str | None = None
    replaces: SoundFile | None = None


def index_library(
    roots: list[Path],
    model,  # engine.models.AVModel
    db_dir: Path,
    *,
    workers: int = 2,
    progress: bool = True,
    cancel: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    max_seconds_per_file: float = MAX_SECONDS_PER_FILE,
    hop: float = HOP_SECONDS,
    reembed: bool = False,
    params: HnswParams = HnswParams(),
    commit_segments: int = COMMIT_SEGMENTS,
    batch_size: int = 256,
) -> IndexReport:
    """Index (or update) the sound files under ``roots`` into the index at ``db_dir``; see module doc."""
    t0 = time.perf_counter()
    db_dir = Path(db_dir)
    index = SoundIndex.open(db_dir, model_id=None, readonly=False)
    try:
        index.bind(model.model_id, int(model.cfg.embed_dim), params, reembed=reembed)
        report = IndexReport(db_dir=db_dir, model_id=model.model_id)
        run = _Run(index, model, report, hop, max_seconds_per_file, commit_segments, batch_size)
        tasks = run.plan(roots)
        run.embed_all(tasks, workers, progress, cancel, on_progress)
        index.refresh_files()
        if index.hnsw is not None and index.hnsw.deleted > 0.25 * max(len(index.hnsw), 1):
            index.rebuild()
        index.save()
        files = index.files()
        report.files, report.segments = len(files), sum(f.n_segments for f in files)
        report.hours = sum(f.duration for f in files) / 3600.0
        report.wall_seconds = time.perf_counter() - t0
        log.debug("indexed %s: %d files, %d segments", db_dir, report.files, report.segments)
        return report
    except (OSError, sqlite3.OperationalError) as exc:  # e.g. a full disk: say so, keep what was committed
        raise SoundIndexError(
            f"could not write the sound index at {db_dir} ({_write_reason(exc)}); everything committed before is intact: "
            "free some space (or fix the permissions) and run the same command again to continue"
        ) from exc
    finally:
        index.close()


def _write_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "full" in str(exc):
        return "the disk is full"
    return f"{exc.__class__.__name__}: {exc}"


class _Run:
    """The state of one indexing run."""

    def __init__(self, index: SoundIndex, model, report: IndexReport, hop: float, max_seconds: float, commit_segments: int, batch_size: int) -> None:
        self.index, self.model, self.report = index, model, report
        self.hop, self.max_seconds = hop, max_seconds
        self.commit_segments, self.batch_size = commit_segments, batch_size
        self.pending: list[tuple[PreparedFile, SoundFile | None]] = []
        self.failed: list[tuple[FailedFile, SoundFile | None]] = []
        self.last_save = time.monotonic()

    # -- planning ---------------------------------------------------------------------------------
    def plan(self, roots: list[Path]) -> list[_Task]:
        """Scan, drop vanished files, recognise unchanged/moved ones; what is left needs embedding."""
        index, report = self.index, self.report
        found, scan_skips = scan(roots)
        report.skipped.extend((display_path(s.path), s.reason) for s in scan_skips)
        known = {os.fsencode(f.path): f for f in index.files()}
        skipped_before = index.store.skipped()
        # a library folder that is not there (an unplugged drive) keeps its files: only folders that
        # exist can tell us a file was deleted
        present = [r for r in roots if Path(r).exists()]
        if not present:
            raise SoundIndexError(f"none of the library folders exist: {', '.join(str(r) for r in roots)}; check the paths")
        root_prefixes = [os.fsencode(os.path.abspath(r)) for r in present]
        found_keys = {os.fsencode(f.path) for f in found}
        vanished = {  # to delete: not found although their library folder is there
            k: f
            for k, f in known.items()
            if k not in found_keys and any(k == p or k.startswith(p.rstrip(_SEP) + _SEP) for p in root_prefixes)
        }
        # may have moved: any indexed file that is no longer where it was, inside or outside this
        # run's folders (a library moved to another drive keeps its vectors)
        gone = {k: f for k, f in known.items() if k not in found_keys and (k in vanished or not os.path.lexists(f.path))}

        to_hash: list[_Task] = []
        tasks: list[_Task] = []
        for f in found:
            key = os.fsencode(f.path)
            old = known.get(key)
            if old is not None and old.size == f.size and old.mtime_ns == f.mtime_ns:
                report.unchanged += 1
            elif old is None and key in skipped_before and skipped_before[key][:2] == (f.size, f.mtime_ns):
                report.skipped.append((display_path(f.path), skipped_before[key][2]))
            elif old is not None or gone:
                to_hash.append(_Task(f, replaces=old))
            else:
                tasks.append(_Task(f))
        if to_hash:
            with ThreadPoolExecutor(4) as pool:
                hashes = list(pool.map(lambda t: _safe_hash(t.found.path), to_hash))
            by_hash: dict[str, list[SoundFile]] = {}
            for f in gone.values():
                by_hash.setdefault(f.content_hash, []).append(f)
            touched: list[tuple[_Task, SoundFile]] = []
            for t, h in zip(to_hash, hashes):
                t.known_hash = h
                if t.replaces is not None and h == t.replaces.content_hash:
                    touched.append((t, t.replaces))
                elif t.replaces is None and by_hash.get(h):
                    moved = by_hash[h].pop()
                    vanished.pop(os.fsencode(moved.path), None)
                    touched.append((t, moved))
                    report.moved += 1
                else:
                    tasks.append(t)
            with index.store.transaction() as conn:
                for t, row in touched:
                    conn.execute(
                        "UPDATE files SET path = ?, display_path = ?, root = ?, size = ?, mtime_ns = ? WHERE id = ?",
                        (os.fsencode(t.found.path), display_path(t.found.path), os.fsencode(t.found.root), t.found.size, t.found.mtime_ns, row.id),
                    )
            report.unchanged += len(touched) - report.moved
        if vanished:
            index.remove_rows(list(vanished.values()))
            report.removed = len(vanished)
        tasks.sort(key=lambda t: os.fsencode(t.found.path))
        return tasks

    # -- embedding --------------------------------------------------------------------------------
    def embed_all(self, tasks: list[_Task], workers: int, progress: bool, cancel: threading.Event | None, on_progress: Callable[[int, int], None] | None) -> None:
        from tqdm import tqdm

        total = len(tasks)
        bar = tqdm(total=total, unit="file", disable=not progress or not total, desc="indexing", dynamic_ncols=True)
        done = 0
        if on_progress:
            on_progress(0, total)
        try:
            for task, result in _decoded(tasks, workers, self.model.features, self.hop, self.max_seconds, cancel):
                if isinstance(result, FailedFile):
                    self.failed.append((result, task.replaces))
                    self.report.skipped.append((display_path(result.path), result.reason))
                else:
                    self.pending.append((result, task.replaces))
                    self.report.audio_seconds += result.audio_seconds
                    if result.truncated:
                        self.report.truncated.append(display_path(result.path))
                    if sum(p.mels.shape[0] for p, _ in self.pending) >= self.commit_segments:
                        self._commit()
                done += 1
                bar.update(1)
                bar.set_postfix(segments=self.report.embedded_segments + sum(p.mels.shape[0] for p, _ in self.pending), refresh=False)
                if on_progress:
                    on_progress(done, total)
                if cancel is not None and cancel.is_set():
                    self.report.cancelled = True
                    break
            if not self.report.cancelled:
                self._commit()
            elif self.failed:
                self.pending.clear()
                self._commit()
        finally:
            bar.close()

    def _commit(self) -> None:
        """Embed the pending files and commit them (plus failures) in one chunk + one transaction."""
        index, report = self.index, self.report
        if not self.pending and not self.failed:
            return
        chunk_id = index.store.next_chunk_id()
        vectors = np.zeros((0, index.dim), np.float32)
        if self.pending:
            mels = np.concatenate([p.mels for p, _ in self.pending])  # (N, n_mels, n_frames)
            vectors = self.model.embed_audio(mels, batch_size=self.batch_size)  # (N, D)
            index.chunk_path(chunk_id).parent.mkdir(parents=True, exist_ok=True)
            write_chunk(index.chunk_path(chunk_id), quantize(vectors))
        labels = []
        replaced: list[SoundFile] = []
        with index.store.transaction() as conn:
            next_label = int(index.store.get_meta("next_label", "0") or 0)
            if self.pending:
                conn.execute("INSERT INTO chunks(id, n, live) VALUES(?, ?, ?)", (chunk_id, len(vectors), len(vectors)))
            freed: list[int] = []
            replaced = [old for _, old in self.pending if old is not None]
            replaced += [old for _, old in self.failed if old is not None]  # changed and now unreadable: drop
            if replaced:
                freed = Store.delete_files(conn, replaced)
            row = 0
            for p, _ in self.pending:
                n = p.mels.shape[0]
                m = p.meta
                Store.insert_file(conn, dict(
                    path=p.path, display_path=display_path(p.path), root=p.root, size=p.size, mtime_ns=p.mtime_ns,
                    content_hash=p.content_hash, duration=m.duration, sample_rate=m.sample_rate, channels=m.channels,
                    name=m.name, description=m.description, category=m.category, subcategory=m.subcategory,
                    category_source=m.category_source, label0=next_label, n_segments=n, hop=p.hop,
                    chunk_id=chunk_id, chunk_row=row,
                ))
                labels.append(np.arange(next_label, next_label + n))
                next_label += n
                row += n
            Store.forget_skipped(conn, [os.fsencode(p.path) for p, _ in self.pending])
            for f, _ in self.failed:
                Store.set_skipped(conn, f.path, f.size, f.mtime_ns, f.reason, display_path(f.path))
            Store.set_meta(conn, "next_label", str(next_label))
        if index.hnsw is not None:
            if labels:
                index.hnsw.add(vectors, np.concatenate(labels))
            for old in replaced:
                index.hnsw.mark_deleted(np.arange(old.label0, old.label0 + old.n_segments))
        for cid in freed:
            index.chunk_path(cid).unlink(missing_ok=True)
        report.embedded_segments += len(vectors)
        report.added += sum(1 for _, old in self.pending if old is None)
        report.updated += sum(1 for _, old in self.pending if old is not None)
        self.pending.clear()
        self.failed.clear()
        if time.monotonic() - self.last_save > SAVE_GRAPH_EVERY_S:
            index.save()
            self.last_save = time.monotonic()


def _safe_hash(path: Path) -> str | None:
    try:
        return content_hash(path)
    except OSError:
        return None


def _decoded(tasks: list[_Task], workers: int, features, hop: float, max_seconds: float, cancel: threading.Event | None) -> Iterator[tuple[_Task, PreparedFile | FailedFile]]:
    """``(task, result)`` in task order; decoding runs ``workers`` files ahead in worker processes."""
    def args(t: _Task) -> tuple:
        f = t.found
        return (f.path, f.root, f.size, f.mtime_ns, features, hop, max_seconds, t.known_hash)

    if workers <= 0 or len(tasks) < MIN_FILES_FOR_WORKERS:
        for t in tasks:
            if cancel is not None and cancel.is_set():
                return
            yield t, prepare_file(*args(t))
        return
    queue = deque(tasks)
    worked = False  # has any worker process ever delivered a result?
    broken = False
    while queue:
        if broken and not worked:  # the pool broke before its first result
            log.warning(
                "decoding worker processes could not start (a script calling index_library needs an "
                "'if __name__ == \"__main__\":' guard; a frozen app needs multiprocessing.freeze_support()); "
                "decoding in this process instead"
            )
            for t in queue:
                if cancel is not None and cancel.is_set():
                    return
                yield t, prepare_file(*args(t))
            return
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=worker_init) as pool:
            inflight: deque[tuple[_Task, Future]] = deque()
            try:
                while queue or inflight:
                    while queue and len(inflight) < 4 * workers:  # decode ahead while the main process embeds
                        t = queue.popleft()
                        inflight.append((t, pool.submit(prepare_file, *args(t))))
                    t, fut = inflight.popleft()
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        queue.extendleft(reversed([x for x, _ in inflight]))
                        if worked:  # workers ran fine until this file: it crashed the decoder
                            yield t, FailedFile(t.found.path, t.found.size, t.found.mtime_ns, "the decoder crashed on this file")
                        else:
                            queue.appendleft(t)
                        break
                    worked = True
                    yield t, result
                    if cancel is not None and cancel.is_set():
                        queue.clear()
            finally:
                for _, fut in inflight:
                    fut.cancel()
