"""Indexing the awkward library: counts, categories, incremental runs, deletions, model binding, locking."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import SoundIndexError
from engine.library.indexer import index_library
from engine.library.sound_index import SoundIndex
from engine.library.vectors import read_chunk

from .conftest import GOOD, N_GOOD, RUNNING_AS_ROOT, tiny_model, write_wav


class CountingAudio:
    """Counts the segments the real audio encoder is asked to embed (wraps, does not replace, it)."""

    def __init__(self, model) -> None:
        self.model, self.rows = model, 0
        self._orig = model.embed_audio

    def __enter__(self) -> CountingAudio:
        def counted(mels, batch_size: int = 256):
            self.rows += len(mels)
            return self._orig(mels, batch_size=batch_size)

        self.model.embed_audio = counted
        return self

    def __exit__(self, *exc: object) -> None:
        del self.model.embed_audio


def assert_consistent(db: Path, model_id: str) -> SoundIndex:
    """The graph holds exactly the database's live labels, and each file's vectors are its chunk rows."""
    index = SoundIndex.open(db, model_id)
    live = index.live_labels()
    assert len(index.hnsw) == len(live) == sum(f.n_segments for f in index.files())
    for f in index.files():
        stored = np.asarray(read_chunk(index.chunk_path(f.chunk_id), index.dim)[f.chunk_row : f.chunk_row + f.n_segments], np.float32)
        np.testing.assert_array_equal(index.hnsw.get(np.arange(f.label0, f.label0 + f.n_segments)), stored)
    return index


def test_index_awkward_library(library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    report = index_library([library], model, db, workers=0, progress=False)
    assert report.added == N_GOOD and report.files == N_GOOD
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert {"broken.wav", "notes.wav", "empty.flac", "pipe.wav"} <= set(reasons)
    assert reasons["empty.flac"] == "empty file (0 bytes)" and reasons["pipe.wav"] == "not a regular file"
    assert "not a readable media file" in reasons["notes.wav"] or "decode" in reasons["notes.wav"]
    if not RUNNING_AS_ROOT:
        assert reasons["locked.wav"] == "permission denied"
    index = assert_consistent(db, model.model_id)
    by_rel = {os.fsencode(f.path.relative_to(library)): f for f in index.files()}
    for rel, category in GOOD.items():
        assert by_rel[os.fsencode(rel)].category == category, rel
    assert by_rel[b"triangle/triangle_long.wav"].n_segments == 7
    assert by_rel[b"square/square_short.wav"].n_segments == 1
    assert by_rel[b"circle/circle_a.wav"].n_segments == 2
    latin = by_rel[b"latin1/caf\xe9.wav"]
    assert os.fsencode(latin.path).endswith(b"caf\xe9.wav") and latin.name == "caf\ufffd"
    assert by_rel[b"bwf/take_12.wav"].description == "Gunshot, pistol, close perspective"
    assert report.segments == sum(f.n_segments for f in index.files()) == report.embedded_segments
    index.close()


def test_reindex_embeds_only_the_changed_file_and_drops_deleted(library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    first = index_library([library], model, db, workers=0, progress=False)
    (graph,) = db.glob("hnsw-*.bin")
    stamp = graph.stat().st_mtime_ns
    with CountingAudio(model) as counter:
        again = index_library([library], model, db, workers=0, progress=False)
    assert counter.rows == 0 and again.embedded_segments == 0 and again.unchanged == N_GOOD
    assert graph.is_file() and graph.stat().st_mtime_ns == stamp  # nothing changed: the graph is not rewritten
    # previously failed files are remembered, not decoded again
    assert {"broken.wav", "notes.wav"} <= {Path(p).name for p, _ in again.skipped}

    os.utime(library / "circle/circle_a.wav", ns=(1, 1))  # new mtime, same bytes: hashed, not embedded
    write_wav(library / "triangle/triangle_long.wav", "cross", 2.0)  # new content: 3 segments
    (library / "square/square_a.wav").unlink()
    with CountingAudio(model) as counter:
        third = index_library([library], model, db, workers=0, progress=False)
    assert (third.updated, third.added, third.removed) == (1, 0, 1)
    assert counter.rows == third.embedded_segments == 3
    assert third.files == first.files - 1
    index = assert_consistent(db, model.model_id)
    names = {f.path.name: f for f in index.files()}
    assert "square_a.wav" not in names and names["triangle_long.wav"].n_segments == 3
    index.close()


def test_moved_folder_keeps_vectors(library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    index_library([library], model, db, workers=0, progress=False)
    shutil.move(library / "ring", library / "renamed_ring")
    with CountingAudio(model) as counter:
        report = index_library([library], model, db, workers=0, progress=False)
    assert report.moved == 2 and counter.rows == 0 and report.removed == 0
    with SoundIndex.open(db, model.model_id) as index:
        assert sum("renamed_ring" in str(f.path) for f in index.files()) == 2


def test_library_moved_to_another_place_keeps_vectors(library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    index_library([library / "square", library / "bar"], model, db, workers=0, progress=False)
    new_home = tmp_path / "other drive" / "sfx"
    new_home.parent.mkdir()
    shutil.move(library / "bar", new_home)  # the old folder no longer exists
    with CountingAudio(model) as counter:
        report = index_library([new_home], model, db, workers=0, progress=False)
    assert (report.moved, report.added, report.removed, counter.rows) == (2, 0, 0, 0)
    with SoundIndex.open(db, model.model_id) as index:
        paths = {f.path for f in index.files()}
    assert new_home / "bar_a.flac" in paths and library / "square" / "square_a.wav" in paths and len(paths) == 4


def test_fixed_file_is_retried(library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    index_library([library], model, db, workers=0, progress=False)
    write_wav(library / "corrupt/broken.wav", "bar", 1.5)
    report = index_library([library], model, db, workers=0, progress=False)
    assert report.added == 1 and "broken.wav" not in {Path(p).name for p, _ in report.skipped}


def test_model_mismatch_is_refused_and_reembed_replaces(library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    index_library([library / "square"], model, db, workers=0, progress=False)
    other = tiny_model(seed=1)
    assert other.model_id != model.model_id
    with pytest.raises(SoundIndexError, match="--reembed"):
        SoundIndex.open(db, other.model_id)
    with pytest.raises(SoundIndexError, match="not " + other.model_id):
        index_library([library / "square"], other, db, workers=0, progress=False)
    report = index_library([library / "square"], other, db, workers=0, progress=False, reembed=True)
    assert report.added == 2 and report.model_id == other.model_id
    assert_consistent(db, other.model_id).close()


def test_second_writer_gets_a_clear_lock_error(library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    index_library([library / "square"], model, db, workers=0, progress=False)
    with SoundIndex.open(db, readonly=False):
        with pytest.raises(SoundIndexError, match=f"being changed by another process \\(pid {os.getpid()}\\)"):
            index_library([library / "square"], model, db, workers=0, progress=False)
        with SoundIndex.open(db, model.model_id) as reader:  # readers never wait for the lock
            assert len(reader.files()) == 2


def test_missing_or_damaged_graph_is_rebuilt(library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    index_library([library / "bar", library / "square"], model, db, workers=0, progress=False)
    (graph,) = db.glob("hnsw-*.bin")
    graph.write_bytes(b"garbage")
    with SoundIndex.open(db, model.model_id, readonly=False) as index:
        assert len(index.hnsw) == sum(f.n_segments for f in index.files()) == 7
    assert_consistent(db, model.model_id).close()
    for g in db.glob("hnsw-*.bin"):
        g.unlink()
    assert_consistent(db, model.model_id).close()  # a reader rebuilds in memory too


def test_cancel_keeps_committed_work(library: Path, model, tmp_path: Path) -> None:
    import threading

    db = tmp_path / "db"
    cancel = threading.Event()

    def stop_after_three(done: int, total: int) -> None:
        if done >= 3:
            cancel.set()

    report = index_library([library], model, db, workers=0, progress=False, cancel=cancel, on_progress=stop_after_three, commit_segments=1)
    assert report.cancelled and 0 < report.files < N_GOOD
    resumed = index_library([library], model, db, workers=0, progress=False)
    assert resumed.files == N_GOOD and resumed.added == N_GOOD - report.files


def test_parallel_workers_give_the_same_index(library: Path, model, tmp_path: Path, monkeypatch) -> None:
    import engine.library.indexer as indexer

    monkeypatch.setattr(indexer, "MIN_FILES_FOR_WORKERS", 0)  # use the worker processes even for a few files
    roots = [library / "square", library / "bar", library / "corrupt", library / "latin1"]  # good, bad and odd names
    serial = index_library(roots, model, tmp_path / "a", workers=0, progress=False)
    parallel = index_library(roots, model, tmp_path / "b", workers=2, progress=False)
    assert parallel.files == 5 and sorted(parallel.skipped) == sorted(serial.skipped)
    assert (parallel.files, parallel.segments) == (serial.files, serial.segments)
    with SoundIndex.open(tmp_path / "a", model.model_id) as a, SoundIndex.open(tmp_path / "b", model.model_id) as b:
        va = {f.path: a.hnsw.get(np.arange(f.label0, f.label0 + f.n_segments)) for f in a.files()}
        for f in b.files():
            np.testing.assert_allclose(b.hnsw.get(np.arange(f.label0, f.label0 + f.n_segments)), va[f.path], atol=2e-3)


def test_missing_library_folder_keeps_its_files(library: Path, model, tmp_path: Path) -> None:
    db = tmp_path / "db"
    index_library([library / "square", library / "bar"], model, db, workers=0, progress=False)
    shutil.move(library / "bar", tmp_path / "unplugged")
    report = index_library([library / "square", library / "bar"], model, db, workers=0, progress=False)
    assert report.removed == 0 and report.files == 4
    assert ("library folder not found") in {r for _, r in report.skipped}
    with pytest.raises(SoundIndexError, match="none of the library folders exist"):
        index_library([library / "bar"], model, db, workers=0, progress=False)
