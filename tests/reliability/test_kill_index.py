"""SIGKILL ``foley-engine index`` at seeded random points; each restart ends equal to an uninterrupted run."""

from __future__ import annotations

import itertools
import os
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.data.synthetic import SR, event_sound, write_sound_library
from engine.library.indexer import index_library
from engine.models import AVModel
from tests.engine.library.test_indexer import assert_consistent

from .conftest import FAULT_POINTS, kill_parent_with_live_workers, kill_restart_campaign, progress_trigger, record

COMMIT_SEGMENTS = 4  # many small commits, so kill points land between, inside and after them

# The real CLI, with the commit size shrunk so a tiny library spans many commits and the graph
# saved after every commit (both are module-level settings of the indexer, not CLI options).
INDEX_CLI = (
    "from engine.library import indexer;"
    f"indexer.index_library.__kwdefaults__['commit_segments'] = {COMMIT_SEGMENTS};"
    "indexer.SAVE_GRAPH_EVERY_S = 0.0;"
    "from engine.cli import main; main()"
)


def write_kill_library(root: Path) -> Path:
    """A dozen short sounds in six categories, one longer file and two that cannot be indexed."""
    write_sound_library(root, per_class=2, seconds=1.5)
    sf.write(str(root / "circle" / "long.wav"), event_sound("circle", 4.0, SR), SR, subtype="PCM_16")
    (root / "bad").mkdir()
    (root / "bad" / "text.wav").write_text("not audio at all\n")
    (root / "bad" / "cut.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    return root


def committed_files(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db / 'library.sqlite'}?mode=ro", uri=True, timeout=0.2) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


def assert_same_index(db: Path, ref: Path, model_id: str) -> None:
    """Same files, same skipped files with the same reasons, same vectors (float16), db and graph agree."""
    a, b = assert_consistent(db, model_id), assert_consistent(ref, model_id)
    try:
        fa = {os.fsencode(f.path): f for f in a.files()}
        fb = {os.fsencode(f.path): f for f in b.files()}
        assert fa.keys() == fb.keys()
        for key, f in fb.items():
            g = fa[key]
            assert (g.n_segments, g.content_hash, g.category, g.duration) == (f.n_segments, f.content_hash, f.category, f.duration)
            va = a.hnsw.get(np.arange(g.label0, g.label0 + g.n_segments))
            vb = b.hnsw.get(np.arange(f.label0, f.label0 + f.n_segments))
            np.testing.assert_allclose(va, vb, atol=2e-3)  # float16 storage; batch composition differs
        assert a.skipped() == b.skipped()
        assert not list(db.rglob("*.tmp*"))
        on_disk = {int(p.stem.split("-")[1]) for p in (db / "vectors").glob("chunk-*.npy")}
        assert on_disk == {f.chunk_id for f in a.files()}  # no orphan chunk
        assert len(list(db.glob("hnsw-*.bin"))) == 1
    finally:
        a.close()
        b.close()


@pytest.fixture(scope="module")
def kill_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kill_library(tmp_path_factory.mktemp("kill-lib") / "library")


def test_sigkill_index_cli_at_random_points_resumes_to_the_uninterrupted_index(
    kill_library: Path, rel_model_file: Path, fault_rng: np.random.Generator, tmp_path: Path
) -> None:
    model = AVModel.load(rel_model_file)
    ref = tmp_path / "reference"
    report = index_library([kill_library], model, ref, workers=0, progress=False, commit_segments=COMMIT_SEGMENTS)
    n_files = report.files
    assert n_files == 13 and len(report.skipped) == 2

    runs = itertools.count()

    def command(db: Path) -> list[str]:
        workers = "2" if next(runs) % 3 == 0 else "0"  # every third run decodes in 2 worker processes (the default)
        return [sys.executable, "-c", INDEX_CLI, "index", str(kill_library), "--db", str(db), "--model", str(rel_model_file),
                "--workers", workers, "--quiet"]

    trigger = progress_trigger(committed_files, n_files, short=0.4, long=3.0)

    stats = kill_restart_campaign(
        FAULT_POINTS, fault_rng, lambda ep: tmp_path / f"db{ep}", command, trigger,
        lambda db: assert_same_index(db, ref, model.model_id), tmp_path / "logs",
        parent_only=True,  # kill -9 of the CLI alone: its workers must end by themselves within 5 s
    )
    record("index", stats)
    assert stats.kills == FAULT_POINTS, str(stats)


def test_sigkill_of_index_alone_leaves_no_worker_process_behind(
    kill_library: Path, rel_model_file: Path, tmp_path: Path
) -> None:
    """``kill -9`` of ``foley-engine index`` while its 2 decoding workers are busy: they exit with it."""
    db = tmp_path / "db"
    cmd = [sys.executable, "-c", INDEX_CLI, "index", str(kill_library), "--db", str(db), "--model", str(rel_model_file),
           "--workers", "2", "--quiet"]
    kill_parent_with_live_workers(cmd, tmp_path / "run.log", ready=lambda: committed_files(db) >= 1)
