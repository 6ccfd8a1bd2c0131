"""Save As and export dialogs start next to the user's video, never in the installation's demo folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

import foley_app.controllers.project as project_controller
from foley_app.resources import demo_video_path, is_bundled


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The path each save dialog suggests (the dialog is then cancelled)."""
    seen: list[Path] = []

    def dialog(parent, caption, suggested, *args, **kwargs):
        seen.append(Path(suggested))
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    return seen


@pytest.fixture
def documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    docs = tmp_path / "Documents"
    docs.mkdir()
    monkeypatch.setattr(project_controller, "documents_dir", lambda: docs)
    return docs


def test_save_as_of_a_new_project_starts_in_the_videos_folder(qtbot, make_window, demo_plan, asked, documents) -> None:
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.video.info is not None, timeout=20_000)
    assert w.project.save_as() is False
    assert asked == [demo_plan.video.parent / f"{demo_plan.video.stem}.foley.json"]


def test_save_as_of_the_bundled_demo_starts_in_documents(qtbot, make_window, demo_plan, asked, documents) -> None:
    demo = demo_video_path()
    if demo is None:
        pytest.skip("no bundled demo video in this installation")
    assert is_bundled(demo) and not is_bundled(documents)
    w = make_window(dataclasses.replace(demo_plan, video=demo))
    qtbot.waitUntil(lambda: w.video.info is not None, timeout=20_000)
    assert w.project.save_as() is False
    assert asked[-1] == documents / f"{demo.stem}.foley.json"
    w.project.export_dialog("wav")  # exports do not default into the demo folder either
    assert asked[-1].parent == documents

    shipped = demo.parent / "demo.foley.json"  # the bundled demo session, opened as a project
    if shipped.is_file():
        w.project.open(shipped, ask=False)
        qtbot.waitUntil(lambda: w.project.doc.path == shipped, timeout=20_000)
        assert w.project.save_as() is False
        assert asked[-1] == documents / "demo.foley.json"
