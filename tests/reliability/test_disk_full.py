"""A full disk while saving a project, indexing, preparing or writing a checkpoint: a clear message,
and the previous project / index / dataset / checkpoint intact (then, with space again, a normal run).

Two variants: a real small file system (a 4 MB tmpfs, mounted when we may; skipped otherwise) filled
to the brim, and ``OSError(ENOSPC)`` injected at the write calls (always run).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data import synthetic
from engine.data.cache import FeatureCache
from engine.data.prepare import prepare_dataset
from engine.errors import CheckpointError, DatasetError, SoundIndexError
from engine.library.indexer import index_library
from engine.library.sound_index import SoundIndex
from engine.models import AVModel
from engine.training import RunOptions, train
from engine.training.train_state import load_state, save_state
from foley_app.core.commands import AddClip, AddTrack
from foley_app.core.document import Clip, Document
from foley_app.core.project_io import ProjectError, load_project, save_project
from tests.engine.library.test_indexer import assert_consistent
from tests.engine.training_data import tiny_cfg, write_class_cache

from .conftest import ENGINE, child_env, tiny_model
from .test_kill_index import assert_same_index, write_kill_library

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MB tmpfs of our own; the test is skipped where mounting is not permitted."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4M", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Take all free space on ``disk`` but ``leave`` bytes; returns the filler file (delete it to free)."""
    st = os.statvfs(disk)
    filler = disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    st = os.statvfs(disk)
    assert st.f_bavail * st.f_frsize <= leave + st.f_frsize, "the filler did not fill the disk"
    return filler


def _doc(n: int) -> Document:
    doc = Document()
    AddTrack("T").do(doc)
    for i in range(n):
        AddClip(doc.tracks[0].id, Clip(f"c{i}", Path(f"/sfx/{i}.wav"), 0.0, 1.0, float(i), 0.0, "n" * 200)).do(doc)
    return doc


# -- project save -----------------------------------------------------------------------------
@pytest.mark.parametrize("leave", [0, 4096, 40_000])
def test_project_save_on_a_full_tmpfs(small_disk: Path, leave: int) -> None:
    path = small_disk / "scene.foley.json"
    save_project(_doc(3), path)
    old = path.read_bytes()
    filler = fill(small_disk, leave)
    with pytest.raises(ProjectError, match="disk is full.*previous file is unchanged"):
        save_project(_doc(400), path)  # ~100 kB of JSON: does not fit
    assert path.read_bytes() == old and load_project(path).clip_count() == 3
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", path.name]  # no temp file left
    filler.unlink()
    save_project(_doc(400), path)
    assert load_project(path).clip_count() == 400


# -- index ------------------------------------------------------------------------------------
@pytest.fixture
def libraries(tmp_path: Path) -> tuple[Path, Path]:
    """A library, and a second folder of new sounds to add to it later."""
    lib = write_kill_library(tmp_path / "library")
    more = tmp_path / "more"
    synthetic.write_sound_library(more, per_class=2, seconds=3.0)
    return lib, more


def _snapshot(db: Path, model_id: str) -> dict[bytes, np.ndarray]:
    index = assert_consistent(db, model_id)
    try:
        return {os.fsencode(f.path): index.hnsw.get(np.arange(f.label0, f.label0 + f.n_segments)) for f in index.files()}
    finally:
        index.close()


@pytest.mark.parametrize("leave", [8192, 65_536])
def test_index_on_a_full_tmpfs(small_disk: Path, libraries: tuple[Path, Path], tmp_path: Path, leave: int) -> None:
    lib, more = libraries
    model = tiny_model(0)
    db = small_disk / "db"
    index_library([lib], model, db, workers=0, progress=False)
    before = _snapshot(db, model.model_id)
    filler = fill(small_disk, leave)
    # the 12 new 3-s sounds need far more than ``leave`` bytes: the disk must fill during this run
    with pytest.raises(SoundIndexError) as caught:
        index_library([lib, more], model, db, workers=0, progress=False, commit_segments=4)
    assert "disk is full" in str(caught.value) or "free some space" in str(caught.value), str(caught.value)
    filler.unlink()  # (with a few kB left not even a reader fits: SQLite's WAL index needs 32 kB)
    after = _snapshot(db, model.model_id)
    for key, vectors in before.items():  # every file indexed before is still there, with its vectors
        np.testing.assert_array_equal(after[key], vectors)
    index_library([lib, more], model, db, workers=0, progress=False)
    ref = tmp_path / "ref"
    index_library([lib, more], model, ref, workers=0, progress=False)
    assert_same_index(db, ref, model.model_id)
    assert len(before) <= len(after) < len(before) + 12  # it stopped part-way: not every new file got in


def test_index_cli_on_a_full_tmpfs_says_so_in_one_line(small_disk: Path, libraries: tuple[Path, Path], rel_model_file: Path) -> None:
    lib, more = libraries
    db = small_disk / "db"
    cmd = [*ENGINE, "index", str(lib), str(more), "--db", str(db), "--model", str(rel_model_file), "--workers", "0", "--quiet"]
    index_library([lib], AVModel.load(rel_model_file), db, workers=0, progress=False)
    filler = fill(small_disk, 8192)
    r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "free some space" in last and ("not changed" in last or "intact" in last), r.stderr
    filler.unlink()
    r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    with SoundIndex.open(db) as index:
        assert len(index.files()) == 25


def test_index_with_enospc_injected_at_each_write(libraries: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.library.indexer as indexer
    import engine.library.vectors as vectors

    lib, more = libraries
    model = tiny_model(0)
    db = tmp_path / "db"
    index_library([lib], model, db, workers=0, progress=False)
    before = _snapshot(db, model.model_id)

    def no_space(*args, **kwargs):
        raise ENOSPC

    for target, name in ((indexer, "write_chunk"), (vectors.HnswIndex, "save")):
        with monkeypatch.context() as m:
            m.setattr(target, name, no_space)
            with pytest.raises(SoundIndexError, match="disk is full.*committed before is intact"):
                index_library([lib, more], model, db, workers=0, progress=False)
        after = _snapshot(db, model.model_id)
        assert all(np.array_equal(after[k], v) for k, v in before.items())
    index_library([lib, more], model, db, workers=0, progress=False)
    assert len(_snapshot(db, model.model_id)) == 25


def test_a_short_graph_file_is_never_renamed_into_place(tmp_path: Path) -> None:
    """hnswlib writes a cut-short file on a full disk without an error: the save must notice it."""
    from engine.library.vectors import HnswIndex

    graph = HnswIndex(8)
    graph.add(np.eye(8, dtype=np.float32), np.arange(8))
    path = tmp_path / "hnsw.bin"
    graph.save(path)
    good = path.read_bytes()
    graph.index = _ShortWriter(graph.index)
    with pytest.raises(OSError, match="cut short"):
        graph.save(path)
    assert path.read_bytes() == good and sorted(p.name for p in tmp_path.iterdir()) == ["hnsw.bin"]


class _ShortWriter:
    """An hnswlib index whose ``save_index`` writes only the first 100 bytes (as on a full disk)."""

    def __init__(self, index) -> None:
        self._index = index

    def __getattr__(self, name: str):
        return getattr(self._index, name)

    def save_index(self, name: str) -> None:
        self._index.save_index(name)
        with open(name, "r+b") as f:
            f.truncate(100)


# -- prepare ----------------------------------------------------------------------------------
@pytest.fixture
def videos(tmp_path: Path) -> tuple[Path, list[Path]]:
    root = tmp_path / "videos"
    root.mkdir()
    for i in range(2):
        synthetic.write_video(root / f"v{i}.mp4", synthetic.random_events(3, seed=i), size=(96, 64), seed=i)
    extra = []
    for i in range(2, 4):
        extra.append(synthetic.write_video(tmp_path / f"v{i}.mp4", synthetic.random_events(3, seed=i), size=(96, 64), seed=i).path)
    return root, extra


def test_prepare_cli_on_a_full_tmpfs(small_disk: Path, videos: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, extra = videos
    out = small_disk / "ds"
    cmd = [*ENGINE, "prepare", str(root), "--out", str(out), "--workers", "0", "--no-progress"]
    assert subprocess.run(cmd, capture_output=True, env=child_env(), timeout=300).returncode == 0
    manifest = (out / "manifest.csv").read_bytes()
    for p in extra:
        shutil.copy(p, root / p.name)
    filler = fill(small_disk, 200_000)  # room for a shard's folder and headers, not for its arrays
    r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=300)
    # 1 with a clear message; never a crash (a memory-mapped write on a full tmpfs used to die of SIGBUS)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "is full" in r.stderr and "run the same command again" in r.stderr, r.stderr[-2000:]
    assert (out / "manifest.csv").read_bytes() == manifest and len(FeatureCache(out)) == 6
    filler.unlink()
    assert subprocess.run(cmd, capture_output=True, env=child_env(), timeout=300).returncode == 0
    ref = tmp_path / "ref"
    prepare_dataset(root, ref, workers=0, progress=False)
    assert (out / "manifest.csv").read_bytes() == (ref / "manifest.csv").read_bytes()
    np.testing.assert_array_equal(FeatureCache(out).mels(np.arange(12)), FeatureCache(ref).mels(np.arange(12)))


def test_prepare_with_enospc_injected_when_a_shard_is_committed(videos: tuple[Path, list[Path]], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.data.cache as cache

    root, extra = videos
    out = tmp_path / "ds"
    prepare_dataset(root, out, workers=0, progress=False)
    manifest = (out / "manifest.csv").read_bytes()
    for p in extra:
        shutil.copy(p, root / p.name)
    real = cache._replace_text

    def full_on_meta(path: Path, text: str) -> None:
        if path.name == "meta.json":
            raise ENOSPC
        real(path, text)

    monkeypatch.setattr(cache, "_replace_text", full_on_meta)
    with pytest.raises(DatasetError, match="is full.*run the same command again"):
        prepare_dataset(root, out, workers=0, progress=False)
    assert (out / "manifest.csv").read_bytes() == manifest
    monkeypatch.setattr(cache, "_replace_text", real)
    report = prepare_dataset(root, out, workers=0, progress=False)
    assert (report.reused, report.processed, report.videos) == (2, 2, 4)


# -- checkpoints ------------------------------------------------------------------------------
def test_model_and_training_state_on_a_full_tmpfs(small_disk: Path) -> None:
    model = tiny_model(0)
    path, state = small_disk / "model.pt", small_disk / "last.pt"
    model.save(path)
    save_state(state, {"global_step": 1, "model": model.state_dict()})
    filler = fill(small_disk, 8192)
    other = tiny_model(1)
    with pytest.raises(CheckpointError, match="disk is full.*previous file is unchanged"):
        other.save(path)
    with pytest.raises(CheckpointError, match="disk is full.*previous file is unchanged"):
        save_state(state, {"global_step": 2, "model": other.state_dict()})
    assert AVModel.load(path).model_id == model.model_id and load_state(state)["global_step"] == 1
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "last.pt", "model.pt"]
    filler.unlink()
    other.save(path)
    assert AVModel.load(path).model_id == other.model_id


def test_trainer_checkpoint_with_a_failing_write_injected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's own writer reports a failed write as a RuntimeError: the trainer still says which file and keeps it."""
    error = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")
    data = write_class_cache(tmp_path / "data", {"train": (8, 2), "val": (4, 2), "test": (2, 2)})
    cfg = tiny_cfg("m1", epochs=2)
    run = tmp_path / "run"
    opts = RunOptions(preset="m1", device="cpu", progress=False, checkpoint_every_steps=1, checkpoint_every_minutes=0)
    train(cfg, data, run, RunOptions(**{**opts.__dict__, "max_steps": 1}))
    good = (run / "last.pt").read_bytes()

    def failing(*args, **kwargs):
        raise error

    with monkeypatch.context() as m:
        m.setattr(torch, "save", failing)
        with pytest.raises(CheckpointError, match=r"could not write .*\.pt \(.*\); the previous file is unchanged"):
            train(cfg, data, run, RunOptions(**{**opts.__dict__, "resume": True}))
    assert (run / "last.pt").read_bytes() == good and not [p for p in run.iterdir() if ".tmp" in p.name]
    result = train(cfg, data, run, RunOptions(**{**opts.__dict__, "resume": True}))
    assert result.stop_reason == "completed" and result.epochs_done == 2


# -- video embedding cache (the app's 1-fps pass) -----------------------------------------------
def test_video_cache_on_a_full_tmpfs_keeps_the_rows_in_memory(small_disk: Path, tmp_path: Path) -> None:
    from engine.library.video_cache import VideoEmbeddingCache

    video = synthetic.write_video(tmp_path / "v.mp4", ["circle", "bar", None], size=(96, 64), seed=3).path
    model = tiny_model(0)
    expected = VideoEmbeddingCache(model, tmp_path / "cache").embed_video(video)
    filler = fill(small_disk, 0)
    cache = VideoEmbeddingCache(model, small_disk / "cache")
    rows = cache.embed_video(video)  # the pass completes; only the on-disk copy is missing
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(cache.cached(video), expected)
    assert not list((small_disk / "cache").glob("*"))  # no half-written or temp file
    filler.unlink()
