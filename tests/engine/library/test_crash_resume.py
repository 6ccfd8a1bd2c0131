"""SIGKILL an indexing run mid-way; the next run resumes and ends equal to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from engine.library.indexer import index_library

from .conftest import N_GOOD
from .test_indexer import assert_consistent

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from engine.models import AVModel
    from engine.library.indexer import index_library

    model = AVModel.load(Path(sys.argv[1])).eval()
    pace = lambda done, total: time.sleep(0.25)  # slow enough for the test to kill it mid-run
    index_library([Path(sys.argv[2])], model, Path(sys.argv[3]), workers=0, progress=False,
                  on_progress=pace, commit_segments=2)
    """
)


def _committed(db: Path) -> int:
    try:
        with sqlite3.connect(db / "library.sqlite", timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_sigkill_mid_index_then_resume_equals_uninterrupted_run(library: Path, model, model_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(model_file), str(library), str(db)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _committed(db) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode(errors="replace")[-2000:]
    before = _committed(db)
    assert 4 <= before < N_GOOD

    resumed = index_library([library], model, db, workers=0, progress=False)
    assert resumed.added == N_GOOD - before and resumed.files == N_GOOD

    clean = tmp_path / "clean"
    index_library([library], model, clean, workers=0, progress=False)
    a, b = assert_consistent(db, model.model_id), assert_consistent(clean, model.model_id)
    try:
        fa = {f.path: f for f in a.files()}
        fb = {f.path: f for f in b.files()}
        assert fa.keys() == fb.keys()
        for path, f in fb.items():
            g = fa[path]
            assert (g.n_segments, g.content_hash, g.category, g.name) == (f.n_segments, f.content_hash, f.category, f.name)
            va = a.hnsw.get(np.arange(g.label0, g.label0 + g.n_segments))
            vb = b.hnsw.get(np.arange(f.label0, f.label0 + f.n_segments))
            np.testing.assert_allclose(va, vb, atol=2e-3)  # float16 storage; batch composition differs
        assert not list((db / "vectors").glob("*.tmp*")) and not list(db.glob("*.tmp*"))
        referenced = {f.chunk_id for f in a.files()}
        on_disk = {int(p.stem.split("-")[1]) for p in (db / "vectors").glob("chunk-*.npy")}
        assert on_disk == referenced  # no orphan chunk left behind
    finally:
        a.close()
        b.close()
