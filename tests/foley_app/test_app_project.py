"""Project safety through the window: moved media, crash recovery, dropped files, the crash hook."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from foley_app.core import project_io


@pytest.fixture
def window(qtbot, make_window, demo_plan):
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0, timeout=30_000)
    return w


def place(qtbot, w, path: Path, t: float) -> None:
    n = w.timeline.doc.clip_count()
    w.timeline.drop_candidate(0, t, {"path": str(path), "name": path.stem, "start_s": 0.0})
    qtbot.waitUntil(lambda: w.timeline.doc.clip_count() == n + 1, timeout=10_000)


def test_moved_sound_is_reported_and_relinked(qtbot, window, tmp_path: Path, boxes) -> None:
    w = window
    src = w.sounds.model.candidate(0).path
    sound = tmp_path / "sfx" / src.name
    sound.parent.mkdir()
    shutil.copy(src, sound)
    place(qtbot, w, sound, 2.0)
    project = tmp_path / "p" / "scene.foley.json"
    project.parent.mkdir()
    project_io.save_project(w.timeline.doc, project)
    w.timeline.doc.dirty = False
    moved = tmp_path / "moved"
    shutil.move(str(sound.parent), moved)
    assert w.project.open(project)
    assert any(kind == "exec" and title == "Media not found" and src.name in text for kind, title, text in boxes.shown)
    assert w.timeline.doc.clip_count() == 1  # the clip is kept, silent until relinked
    assert w.project.relink(project_io.missing_media(w.timeline.doc), moved) == 1
    assert w.timeline.doc.tracks[0].clips[0].sound_path == moved / src.name
    w.undo_stack.undo()
    assert w.timeline.doc.tracks[0].clips[0].sound_path == sound


def test_autosave_is_offered_after_a_crash(qtbot, window, make_window, demo_plan, boxes) -> None:
    w = window
    place(qtbot, w, w.sounds.model.candidate(0).path, 1.0)
    saved = w.timeline.doc.state()
    w.project.write_autosave()
    assert project_io.untitled_autosaves()
    # a new session (the first one "crashed"): it offers the autosave and restores the clips
    w2 = make_window(demo_plan)
    assert any(title == "Recover unsaved work" for _, title, _ in boxes.shown)
    assert w2.timeline.doc.clip_count() == 1 and w2.timeline.doc.dirty
    assert w2.timeline.doc.state()[2] == saved[2]
    assert not project_io.untitled_autosaves()


def test_video_dropped_on_the_window_opens(qtbot, window, tmp_path: Path) -> None:
    from engine.data import synthetic

    w = window
    other = synthetic.write_video(tmp_path / "other.mp4", ["bar", None, "circle"], seed=3).path
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    with qtbot.waitSignal(w.video.opened, timeout=10_000):
        w.dropEvent(QDropEvent(QPointF(200, 200), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert w.video.info.path == other and w.timeline.doc.video == other
    assert w.playback.duration == pytest.approx(3.0, abs=0.2)


def test_excepthook_logs_and_shows(qtbot, tmp_path: Path, boxes, monkeypatch) -> None:
    from foley_app.main import install_excepthook

    log_file = tmp_path / "foley-app.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    try:
        install_excepthook(log_file)
        try:
            raise RuntimeError("boom in a slot")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert "boom in a slot" in log_file.read_text() and "Traceback" in log_file.read_text()
    kind, title, text = boxes.shown[-1]
    assert kind == "critical" and "boom in a slot" in text and str(log_file) in text


def test_excepthook_without_a_screen_exits_instead_of_a_modal_box(qtbot, tmp_path: Path, boxes, monkeypatch, capsys) -> None:
    """--smoke-test / offscreen: a modal box would hang with nobody to close it; exit 1 instead."""
    from foley_app.main import install_excepthook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    codes: list[int] = []
    install_excepthook(tmp_path / "foley-app.log", interactive=False, exit_=codes.append)
    try:
        raise ValueError("broken before the window")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    assert codes == [1]
    assert boxes.shown == []
    err = capsys.readouterr().err
    assert "ValueError: broken before the window" in err and "foley-app.log" in err


def test_save_asks_before_overwriting_another_windows_save(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    """Two windows on one project: the later Save asks instead of silently dropping the other's work."""
    from foley_app.core.commands import AddTrack
    from foley_app.core.document import Document

    w = window
    place(qtbot, w, w.sounds.model.candidate(0).path, 1.0)
    project = tmp_path / "scene.foley.json"
    assert w.project._save_to(project)
    other = project_io.load_project(project)  # the second window
    AddTrack("theirs").do(other)
    project_io.save_project(other, project)
    theirs = project.read_bytes()
    place(qtbot, w, w.sounds.model.candidate(1).path, 2.0)
    asked: list[Path] = []
    monkeypatch.setattr(w.project, "_ask_overwrite", lambda path: asked.append(path) or "cancel")
    assert w.project.save() is False
    assert asked == [project] and project.read_bytes() == theirs
    monkeypatch.setattr(w.project, "_ask_overwrite", lambda path: "overwrite")
    assert w.project.save() is True
    mine: Document = project_io.load_project(project)
    assert mine.clip_count() == 2 and [t.name for t in mine.tracks] == [t.name for t in w.timeline.doc.tracks]
    # after our own save there is nothing to ask about
    monkeypatch.setattr(w.project, "_ask_overwrite", lambda path: pytest.fail("asked again"))
    assert w.project.save() is True
