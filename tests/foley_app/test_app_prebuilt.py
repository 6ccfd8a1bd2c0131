"""First start on the demo: the shipped pre-built index is installed on the indexing worker, then verified."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import soundfile as sf

from engine.data.synthetic import SR, event_sound


@pytest.fixture(scope="module")
def demo(tmp_path_factory, gui_model_file: Path) -> tuple[Path, Path]:
    """``(library, artefact)``: five sounds and their pre-built index for the tiny GUI model."""
    from engine.api import index_library
    from engine.library.prebuilt import export_prebuilt
    from engine.models import AVModel

    base = tmp_path_factory.mktemp("prebuilt-app")
    lib = base / "library"
    for i, name in enumerate(["circle", "square", "triangle", "bar", "cross"]):
        (lib / name).mkdir(parents=True)
        sf.write(str(lib / name / f"{name}.wav"), event_sound(name, 1.0 + 0.5 * i, SR), SR, subtype="PCM_16")
    index_library([lib], AVModel.load(gui_model_file), base / "db", workers=0, progress=False)
    return lib, export_prebuilt(base / "db", lib, base / "artefact").folder


def test_plan_offers_the_prebuilt_index_only_for_a_first_demo_start(tmp_path: Path) -> None:
    from foley_app.startup import plan_launch

    model, lib, art = tmp_path / "default.pt", tmp_path / "library", tmp_path / "index"
    model.write_bytes(b"x")
    lib.mkdir()
    base = dict(video=None, library=None, model=None, project=None, saved_model=None, saved_db=None, saved_roots=[],
                default_model=model, demo_video=None, demo_library=lib, user_db=tmp_path / "db",
                demo_db=tmp_path / "demo-db", demo_index=art)
    assert plan_launch(**base).prebuilt_index == art
    (tmp_path / "demo-db").mkdir()
    (tmp_path / "demo-db" / "library.sqlite").write_bytes(b"")
    assert plan_launch(**base).prebuilt_index is None  # already indexed
    mine = tmp_path / "mine"
    mine.mkdir()
    assert plan_launch(**dict(base, saved_roots=[mine])).prebuilt_index is None  # the user's own library


def test_controller_installs_prebuilt_then_embeds_nothing(qtbot, demo, gui_model_file: Path, tmp_path: Path) -> None:
    from foley_app.controllers.library import LibraryController

    lib, art = demo
    c = LibraryController()
    c.roots, c.db_dir, c.prebuilt = [lib], tmp_path / "user" / "demo-library", art
    with qtbot.waitSignal(c.finished, timeout=60_000) as got:
        assert c.index(gui_model_file, "cpu")
    report = got.args[0]
    assert (report.files, report.unchanged, report.added, report.embedded_segments) == (5, 5, 0, 0)
    assert c.prebuilt is None  # used once


def test_other_model_falls_back_to_indexing_with_a_log_line(demo, tmp_path: Path, caplog) -> None:
    from foley_app.controllers.library import run_indexing

    from .conftest import tiny_model

    lib, art = demo
    other = tmp_path / "other.pt"
    tiny_model(1).save(other)
    with caplog.at_level(logging.WARNING, logger="foley_app.controllers.library"):
        report = run_indexing([lib], other, tmp_path / "db", "cpu", 2048, None, lambda done, total: None, prebuilt=art)
    assert report.added == 5 and report.embedded_segments > 0
    assert "pre-built index not used, indexing normally" in caplog.text and "pre-built index is for model" in caplog.text
