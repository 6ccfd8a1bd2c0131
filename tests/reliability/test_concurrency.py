"""Concurrent use: two indexers on one library database (the lock refuses the second, clearly), the
app's reader (``SoundIndex`` + ``Recommender``) while ``foley-engine index`` runs (always a consistent
snapshot), and two "windows" saving one project (the change is detectable; the file is always one
complete version, the last write wins)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import SoundIndexError
from engine.library.indexer import index_library
from engine.library.recommender import Recommender
from engine.library.sound_index import SoundIndex
from engine.models import AVModel
from foley_app.core.commands import AddClip, AddTrack, MoveClip
from foley_app.core.document import Clip, Document
from foley_app.core.project_io import changed_on_disk, load_project, save_project

from .conftest import child_env, kill_group, start, tail
from .test_kill_index import INDEX_CLI, assert_same_index, committed_files, write_kill_library


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kill_library(tmp_path_factory.mktemp("conc-lib") / "library")


def _index_cmd(library: Path, db: Path, model_file: Path, boot: str = INDEX_CLI) -> list[str]:
    return [sys.executable, "-c", boot, "index", str(library), "--db", str(db), "--model", str(model_file), "--workers", "0", "--quiet"]


# The first indexer holds on before its 5th file (after its first commits) until the file named by
# $RELEASE appears, so it surely still runs when the second one arrives ...
PACED_CLI = (
    "import os, time, engine.library.indexer as I; _prepare = I.prepare_file; _calls = []\n"
    "def _held(*a, **k):\n"
    "    _calls.append(1)\n"
    "    while len(_calls) >= 5 and not os.path.exists(os.environ['RELEASE']):\n"
    "        time.sleep(0.02)\n"
    "    return _prepare(*a, **k)\n"
    "I.prepare_file = _held\n" + INDEX_CLI
)
# ... and the second has its imports done and starts the moment the file named by $GO appears.
WAITING_CLI = (
    "import os, time, engine.cli, engine.models, engine.library.indexer\n"
    "while not os.path.exists(os.environ['GO']):\n"
    "    time.sleep(0.01)\n" + INDEX_CLI
)


def _wait(pred, proc: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert proc.poll() is None, f"the indexer ended early:\n{tail(log)}"
        assert time.monotonic() < deadline, "the indexer made no progress"
        time.sleep(0.02)


def test_second_indexer_is_refused_clearly_and_the_first_finishes(library: Path, rel_model_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "db"
    log = tmp_path / "first.log"
    go = tmp_path / "go"
    waiting = subprocess.Popen(_index_cmd(library, db, rel_model_file, WAITING_CLI), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=child_env(GO=str(go)))
    release = tmp_path / "release"
    first = start(_index_cmd(library, db, rel_model_file, PACED_CLI), log, child_env(RELEASE=str(release)))
    try:
        _wait(lambda: committed_files(db) >= 1, first, log)
        go.touch()  # a second CLI run, and the app's own indexing call, on the same database
        out, err = waiting.communicate(timeout=300)
        second = subprocess.CompletedProcess(waiting.args, waiting.returncode, out, err)
        assert first.poll() is None, "the first indexer ended too soon for this test"
        assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr
        assert "being changed by another process" in second.stderr and f"pid {first.pid}" in second.stderr, second.stderr
        with pytest.raises(SoundIndexError, match="being changed by another process"):
            index_library([library], AVModel.load(rel_model_file), db, workers=0, progress=False)
        release.touch()
        assert first.wait(timeout=300) == 0, tail(log)
    finally:
        release.touch()
        if first.poll() is None:
            kill_group(first)
        if waiting.poll() is None:
            waiting.kill()
    model = AVModel.load(rel_model_file)
    ref = tmp_path / "ref"
    index_library([library], model, ref, workers=0, progress=False)
    assert_same_index(db, ref, model.model_id)
    # once the first has finished, the lock is free again
    assert subprocess.run(_index_cmd(library, db, rel_model_file), capture_output=True, env=child_env(), timeout=300).returncode == 0


def test_readers_see_a_consistent_index_while_it_is_written(library: Path, rel_model_file: Path, tmp_path: Path) -> None:
    model = AVModel.load(rel_model_file)
    db = tmp_path / "db"
    index_library([library / "circle"], model, db, workers=0, progress=False)  # an index the app already has open
    early = SoundIndex.open(db, model.model_id)
    early_rec = Recommender(model, early)
    log = tmp_path / "index.log"
    proc = start(_index_cmd(library, db, rel_model_file), log)
    rng = np.random.default_rng(5)
    opened = queried = 0
    seen_sizes = set()
    try:
        while proc.poll() is None:
            try:
                index = SoundIndex.open(db, model.model_id)  # what the app does when it (re)loads
            except SoundIndexError as exc:  # a clear, retryable message is acceptable; anything else is not
                assert "try again" in str(exc) or "changed" in str(exc), str(exc)
                continue
            with index:
                files = index.files()
                assert len(index.hnsw) == sum(f.n_segments for f in files)  # graph and database agree
                seen_sizes.add(len(files))
                opened += 1
                vec = rng.normal(size=model.cfg.embed_dim).astype(np.float32)
                vec /= np.linalg.norm(vec)
                cands = Recommender(model, index).for_embedding(vec, k=5)
                paths = {f.path for f in files}
                assert cands and all(c.path in paths for c in cands)
                queried += 1
            early_cands = early_rec.for_embedding(vec, k=3)  # the long-lived reader keeps answering from its snapshot
            assert len(early_cands) == 3
        assert proc.returncode == 0, tail(log)
        assert early.is_stale()  # the app can tell that it should reload
    finally:
        if proc.poll() is None:
            kill_group(proc)
        early.close()
    assert opened >= 2 and queried == opened
    with SoundIndex.open(db, model.model_id) as final:
        assert len(final.files()) == 13 and max(seen_sizes) <= 13


SAVER = r"""
import sys
from pathlib import Path
from foley_app.core.commands import AddClip, AddTrack
from foley_app.core.document import Clip, Document
from foley_app.core.project_io import save_project
path, who, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
doc = Document()
AddTrack(who).do(doc)
for i in range(n):
    AddClip(doc.tracks[0].id, Clip(f"{who}{i}", Path(f"/sfx/{who}/{i}.wav"), 0.0, 1.0, float(i), 0.0, who * 50)).do(doc)
    save_project(doc, path)
print("done", flush=True)
"""


def test_two_windows_on_one_project(tmp_path: Path) -> None:
    path = tmp_path / "scene.foley.json"
    doc = Document()
    AddTrack("T").do(doc)
    AddClip(doc.tracks[0].id, Clip("c1", Path("/sfx/a.wav"), 0.0, 1.0, 0.0)).do(doc)
    save_project(doc, path)
    one, two = load_project(path), load_project(path)
    MoveClip("c1", 5.0).do(one)
    time.sleep(0.02)
    save_project(one, path)
    assert changed_on_disk(two) and not changed_on_disk(one)  # the second window can tell before saving
    MoveClip("c1", 9.0).do(two)
    save_project(two, path)  # saving anyway: the last write wins, whole
    assert load_project(path).find_clip("c1")[1].position == 9.0 and changed_on_disk(one)


def test_two_processes_saving_one_project_at_once_never_mix(tmp_path: Path) -> None:
    path = tmp_path / "race.foley.json"
    procs = [subprocess.Popen([sys.executable, "-c", SAVER, str(path), who, "150"], stdout=subprocess.PIPE, env=child_env())
             for who in ("a", "b")]
    reads = 0
    while any(p.poll() is None for p in procs):
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))  # never a half-written file
            track = data["tracks"][0]
            assert all(c["id"].startswith(track["name"]) for c in track["clips"])  # one writer's version, not a mix
            reads += 1
    assert [p.wait() for p in procs] == [0, 0]
    final = load_project(path)
    who = final.tracks[0].name
    assert who in ("a", "b") and [c.id for c in final.tracks[0].clips] == [f"{who}{i}" for i in range(150)]
    assert reads > 0
