"""Timeline through the window: drops from the list (real QMimeData), undo/redo, save -> load round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog

from foley_app.core.onset import onset_in_file
from foley_app.widgets.candidate_model import MIME_CANDIDATE, Role
from foley_app.widgets.timeline_view import LANE_H, RULER_H


@pytest.fixture
def window(qtbot, make_window, demo_plan):
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0, timeout=30_000)
    return w


def drop_row(qtbot, w, row: int, track: int, t: float):
    """Drag list row ``row`` and drop it on ``track`` at time ``t`` through the canvas's drop handling."""
    canvas = w.timeline_view.canvas
    mime = w.sounds.model.mimeData([w.sounds.model.index(row)])
    assert mime.hasFormat(MIME_CANDIDATE) and mime.urls()
    pos = QPointF(canvas.x_at(t), RULER_H + track * LANE_H + LANE_H / 2)
    event = QDropEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    n = w.timeline.doc.clip_count()
    canvas.dropEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: w.timeline.doc.clip_count() == n + 1, timeout=10_000)
    return w.timeline.doc.tracks[track]


def test_drop_creates_clip_with_onset_at_drop_time(qtbot, window) -> None:
    w = window
    c = w.sounds.model.index(0).data(Role.Candidate)
    canvas = w.timeline_view.canvas
    drop_t = canvas.time_at(canvas.x_at(3.0))
    track = drop_row(qtbot, w, 0, 1, 3.0)
    clip = track.clips[0]
    assert clip.sound_path == c.path
    assert clip.name == c.name and clip.category == c.category
    onset = onset_in_file(c.path, clip.source_start, clip.source_end)
    assert onset > 0.01  # the synthetic sounds start after a short silence
    assert clip.position + onset == pytest.approx(drop_t, abs=1e-6)  # the onset, not the file start, is at the drop
    assert w.undo_stack.count() == 1
    assert w.windowTitle().startswith("\u2022")  # unsaved changes shown


def test_undo_redo_every_edit(qtbot, window) -> None:
    w = window
    drop_row(qtbot, w, 0, 0, 2.0)
    clip = w.timeline.doc.tracks[0].clips[0]
    pos0 = clip.position
    canvas = w.timeline_view.canvas
    canvas.clip_moved.emit(clip.id, 2, 6.0)  # as a mouse drag would report it
    canvas.clip_gain_requested.emit(clip.id, -6.0)
    w.timeline_view.mute_toggled.emit(w.timeline.doc.tracks[2].id, True)
    doc = w.timeline.doc
    assert doc.tracks[2].clips[0].position == pytest.approx(6.0) and doc.tracks[2].clips[0].gain_db == -6.0
    assert doc.tracks[2].mute
    assert w.undo_stack.count() == 4
    w.actions_["undo"].trigger()
    assert not doc.tracks[2].mute
    w.actions_["undo"].trigger()
    assert doc.tracks[2].clips[0].gain_db == 0.0
    w.actions_["undo"].trigger()
    assert doc.tracks[0].clips[0].position == pytest.approx(pos0) and not doc.tracks[2].clips
    w.actions_["undo"].trigger()
    assert doc.clip_count() == 0 and not doc.dirty
    for _ in range(4):
        w.actions_["redo"].trigger()
    assert doc.tracks[2].clips[0].gain_db == -6.0 and doc.tracks[2].mute
    canvas._select(doc.tracks[2].clips[0].id)
    w.actions_["delete_clip"].trigger()
    assert doc.clip_count() == 0
    w.actions_["undo"].trigger()
    assert doc.clip_count() == 1


def test_trim_through_the_canvas_is_undoable(qtbot, window) -> None:
    w = window
    drop_row(qtbot, w, 1, 0, 2.0)
    clip = w.timeline.doc.tracks[0].clips[0]
    end0 = clip.end
    w.timeline_view.canvas.clip_trimmed.emit(clip.id, "end", clip.position + 0.5)
    assert clip.end == pytest.approx(clip.position + 0.5)
    w.undo_stack.undo()
    assert clip.end == pytest.approx(end0)


def test_save_load_round_trip(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    w = window
    drop_row(qtbot, w, 0, 0, 1.5)
    drop_row(qtbot, w, 2, 1, 4.0)
    w.timeline.apply(__import__("foley_app.core.commands", fromlist=["SetClipGain"]).SetClipGain(
        w.timeline.doc.tracks[1].clips[0].id, -3.0))
    before = w.timeline.doc.state()
    target = tmp_path / "scene.foley.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    w.actions_["save"].trigger()  # untitled: Save asks for a name
    assert target.is_file() and not w.timeline.doc.dirty
    assert w.windowTitle().startswith("scene.foley.json")
    w.actions_["new"].trigger()
    assert w.timeline.doc.clip_count() == 0
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(target), "")))
    w.actions_["open_project"].trigger()
    doc = w.timeline.doc
    assert doc.path == target and doc.state() == before and not doc.dirty
    assert w.settings.recent_projects()[0] == target
    assert w.recent_menu.actions()[0].text() == target.name


def test_unsaved_changes_prompt_can_cancel(qtbot, window, boxes) -> None:
    from PySide6.QtWidgets import QMessageBox

    w = window
    drop_row(qtbot, w, 0, 0, 1.0)
    boxes.answer = QMessageBox.Cancel
    w.actions_["new"].trigger()
    assert w.timeline.doc.clip_count() == 1  # cancelled: nothing lost
    assert boxes.shown[-1][1] == "Unsaved changes"
    boxes.answer = QMessageBox.Discard
    w.actions_["new"].trigger()
    assert w.timeline.doc.clip_count() == 0


def test_tracks_add_rename_remove_undo(qtbot, window) -> None:
    w = window
    doc = w.timeline.doc
    n = len(doc.tracks)
    w.actions_["add_track"].trigger()
    assert len(doc.tracks) == n + 1
    qtbot.waitUntil(lambda: len(w.timeline_view.headers) == n + 1, timeout=2000)  # views repaint once per edit
    tid = doc.tracks[-1].id
    w.timeline_view.rename_requested.emit(tid, "Footsteps")
    assert doc.tracks[-1].name == "Footsteps"
    qtbot.waitUntil(lambda: w.timeline_view.headers[-1].name_label.text() == "Footsteps", timeout=2000)
    w.timeline_view.remove_requested.emit(tid)
    assert len(doc.tracks) == n
    w.undo_stack.undo()
    w.undo_stack.undo()
    assert doc.tracks[-1].name != "Footsteps" and len(doc.tracks) == n + 1
