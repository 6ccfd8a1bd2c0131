"""``load_engine``: model + index + recommender (+ video cache) in one call, failing with one clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.api import (
    Candidate,
    CheckpointError,
    LoadedEngine,
    SoundIndexError,
    load_engine,
    load_model,
    resolve_device,
)
from engine.library import loading

from .conftest import tiny_model


@pytest.fixture
def closes(monkeypatch) -> list:
    """The indexes closed during the test."""
    closed: list = []
    real_close = loading.SoundIndex.close
    monkeypatch.setattr(loading.SoundIndex, "close", lambda self: (closed.append(self), real_close(self)))
    return closed


def test_loads_a_working_recommender(model_file: Path, indexed: Path, tmp_path: Path, closes: list) -> None:
    with load_engine(model_file, indexed, tmp_path / "videos") as engine:
        assert isinstance(engine, LoadedEngine) and engine.device == "cpu" and engine.load_s >= 0
        assert engine.index is engine.recommender.index and engine.index.model_id == engine.model.model_id
        assert engine.video_cache is not None and engine.recommender.model is engine.model
        assert not engine.model.training
        cands = engine.recommender.for_frame(np.zeros((32, 32, 3), np.uint8), k=3)
        assert len(cands) == 3 and all(isinstance(c, Candidate) for c in cands)
    assert closes == [engine.index]  # closed with the block


def test_no_cache_and_the_dial(model_file: Path, indexed: Path) -> None:
    with load_engine(model_file, indexed, prior_weight=0.25) as engine:
        assert engine.video_cache is None
        assert engine.recommender._prior_weight == 0.25


def test_defaults_are_the_shipped_model_and_the_users_index(model_file: Path, indexed: Path, monkeypatch) -> None:
    import engine.library.paths as paths

    monkeypatch.setattr(paths, "default_model_path", lambda: model_file)
    monkeypatch.setattr(paths, "default_db_dir", lambda: indexed)
    with load_engine() as engine:
        assert engine.index.db_dir == indexed and engine.model.model_id == load_model(model_file).model_id


def test_no_model_is_a_checkpoint_error(indexed: Path, monkeypatch) -> None:
    import engine.library.paths as paths

    monkeypatch.setattr(paths, "default_model_path", lambda: None)  # as if the shipped model were not installed
    with pytest.raises(CheckpointError, match="shipped model .* is not installed"):
        load_engine(None, indexed)


def test_a_bad_model_file_is_a_checkpoint_error(indexed: Path, tmp_path: Path) -> None:
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(CheckpointError):
        load_engine(bad, indexed)
    with pytest.raises(CheckpointError):
        load_engine(tmp_path / "missing.pt", indexed)


def test_another_models_index_says_so(indexed: Path, model_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    tiny_model(1).save(other)
    other_id = load_model(other).model_id
    assert other_id != load_model(model_file).model_id
    with pytest.raises(SoundIndexError, match=f"built with model .*not {other_id}.*cannot be mixed"):
        load_engine(other, indexed)


def test_no_index_says_how_to_make_one(model_file: Path, tmp_path: Path) -> None:
    with pytest.raises(SoundIndexError, match="no sound index at .*foley-engine index"):
        load_engine(model_file, tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()  # opened read-only: nothing created


def test_index_is_closed_when_the_recommender_fails(model_file: Path, indexed: Path, monkeypatch, closes: list) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(loading, "Recommender", broken)
    with pytest.raises(RuntimeError, match="boom"):
        load_engine(model_file, indexed)
    assert len(closes) == 1


def test_cpu_threads_and_devices(model_file: Path, indexed: Path) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        with load_engine(model_file, indexed, cpu_threads=1):
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == resolve_device("") == ("cuda" if torch.cuda.is_available() else "cpu")
