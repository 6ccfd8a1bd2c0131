"""Learning from choices and searching by a recording, in the window (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog

from foley_app.core import project_io
from foley_app.recorder import FLOOR_DB, NO_INPUT, RecordDialog, Recorder


@pytest.fixture
def window(qtbot, make_window, demo_plan):
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0 and w.engine.last is not None, timeout=30_000)
    return w


def paths(w) -> list:
    return [c.path for c in w.engine.last.candidates]


def test_placing_and_rejecting_teach_the_ranking(qtbot, window) -> None:
    w = window
    second = w.engine.last.second
    before = paths(w)
    low = w.engine.last.candidates[-1]  # the picture's least likely sound in the list
    assert before.index(low.path) >= 3
    w.timeline.drop_candidate(0, second + 0.2, {"path": str(low.path), "name": low.name, "start_s": low.start_s})
    qtbot.waitUntil(lambda: w.engine.last.learned == 1 and w.engine.last.second == second, timeout=20_000)
    assert low.path in paths(w)[:3], "a placed sound rises for the picture it was placed on"
    (choice,) = w.timeline.doc.feedback
    assert choice.kind == "place" and choice.clip_id == w.timeline.doc.tracks[0].clips[0].id and choice.second == second
    assert "learning from 1 choice" in w.sounds.banner.text() and w.timeline.doc.dirty

    top = w.engine.last.candidates[0]
    w.sounds.view.setCurrentIndex(w.sounds.model.index(0))
    w.actions_["not_this"].trigger()  # X
    qtbot.waitUntil(lambda: w.engine.last.learned == 2, timeout=20_000)
    assert top.path not in paths(w), "'not this' takes the sound off this picture's list"
    assert [f.kind for f in w.timeline.doc.feedback] == ["place", "reject"]

    w.actions_["learn"].setChecked(False)  # switched off: the picture alone
    qtbot.waitUntil(lambda: w.engine.last.learned == 0 and w.engine.last.request_id == w.engine._latest, timeout=20_000)
    assert paths(w) == before and not w.timeline.doc.feedback_enabled
    n = len(w.timeline.doc.feedback)
    w.sounds.view.setCurrentIndex(w.sounds.model.index(0))
    w.actions_["not_this"].trigger()
    assert len(w.timeline.doc.feedback) == n, "nothing is learned while learning is off"
    w.actions_["learn"].setChecked(True)
    qtbot.waitUntil(lambda: w.engine.last.learned == 2, timeout=20_000)

    w.undo_stack.undo()  # the placement is undone: its vote goes with it
    qtbot.waitUntil(lambda: w.engine.last.learned == 1, timeout=20_000)
    w.undo_stack.redo()
    qtbot.waitUntil(lambda: w.engine.last.learned == 2, timeout=20_000)

    w.actions_["forget_choices"].trigger()  # the test's message boxes answer OK
    qtbot.waitUntil(lambda: w.engine.last.learned == 0, timeout=20_000)
    assert w.timeline.doc.feedback == [] and w.timeline.doc.clip_count() == 1
    assert not w.actions_["forget_choices"].isEnabled()


def test_choices_are_saved_with_the_project_and_come_back(qtbot, window, tmp_path) -> None:
    w = window
    c = w.engine.last.candidates[-1]
    w.timeline.drop_candidate(0, 1.5, {"path": str(c.path), "name": c.name, "start_s": c.start_s})
    qtbot.waitUntil(lambda: len(w.timeline.doc.feedback) == 1, timeout=20_000)
    w.actions_["learn"].setChecked(False)
    path = tmp_path / "scene.foley.json"
    project_io.save_project(w.timeline.doc, path)
    assert w.project.new(w.video.path) is not False
    qtbot.waitUntil(lambda: w.engine.feedback == () and w.actions_["learn"].isChecked(), timeout=5_000)
    assert w.project.open(path)
    assert len(w.timeline.doc.feedback) == 1 and not w.actions_["learn"].isChecked()
    w.actions_["learn"].setChecked(True)
    qtbot.waitUntil(lambda: len(w.engine.feedback) == 1 and w.engine.last.learned == 1, timeout=20_000)


def test_dropping_a_sound_file_on_the_list_searches_by_it(qtbot, window, tmp_path) -> None:
    w = window
    src = w.engine.last.candidates[0].path
    wave, sr = sf.read(str(src), dtype="float32")
    take = tmp_path / "my take.wav"
    sf.write(str(take), np.concatenate([np.zeros(sr // 3, np.float32), 0.5 * (wave if wave.ndim == 1 else wave.mean(axis=1))]), sr)

    def drop(path):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        event = QDropEvent(QPointF(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
        w.sounds.view.dropEvent(event)
        return event.isAccepted()

    with qtbot.waitSignal(w.engine.recommendations_ready, timeout=20_000) as blocker:
        assert drop(take)
    r = blocker.args[0]
    assert r.source == "similar" and r.query == take.name and r.candidates
    assert src in [c.path for c in r.candidates][:3], "the sound it was recorded from is near the top"
    assert "More like" in w.sounds.banner.text()
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert not drop(notes)  # not a sound: ignored
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEjunk")
    with qtbot.waitSignal(w.engine.recommendation_failed, timeout=20_000) as failed:
        drop(broken)
    assert "broken.wav" in failed.args[0] and "\n" not in failed.args[0]


class FakeStream:
    def __init__(self, sd, callback, **kwargs) -> None:
        self.sd, self.callback = sd, callback

    def start(self) -> None:  # one second of a half-scale tone, as PortAudio would deliver it
        tone = (0.5 * np.sin(np.arange(48_000) * 2 * np.pi * 440 / 48_000)).astype(np.float32)[:, None]
        for i in range(0, len(tone), 4800):
            self.callback(tone[i : i + 4800], 4800, None, None)

    def stop(self) -> None:
        self.sd.stopped = True

    def close(self) -> None:
        pass


class FakeSd:
    def __init__(self, inputs: int = 1) -> None:
        self.inputs, self.stopped = inputs, False

    def query_devices(self):
        return [{"name": "mic", "max_input_channels": self.inputs, "max_output_channels": 0}]

    def check_input_settings(self, **kwargs) -> None:
        pass

    def InputStream(self, callback, **kwargs):  # noqa: N802
        return FakeStream(self, callback, **kwargs)


def test_recorder_meters_the_level_and_writes_the_take(qtbot, tmp_path) -> None:
    rec = Recorder(tmp_path / "takes", max_seconds=10.0, sd=FakeSd())
    assert rec.available and rec.reason == ""
    levels = []
    rec.level.connect(levels.append)
    assert rec.start() and rec.recording
    qtbot.waitUntil(lambda: any(db > -10 for db in levels), timeout=5_000)
    assert max(levels) == pytest.approx(20 * np.log10(0.5), abs=0.5)
    with qtbot.waitSignal(rec.finished, timeout=10_000) as done:
        rec.stop()
    wave, sr = sf.read(str(done.args[0]), dtype="float32")
    assert sr == 48_000 and len(wave) == 48_000 and abs(wave).max() == pytest.approx(0.5, abs=1e-3)
    assert not rec.recording and rec._sd.stopped


def test_recorder_stops_by_itself_at_the_limit(qtbot, tmp_path) -> None:
    rec = Recorder(tmp_path, max_seconds=0.5, sd=FakeSd())
    with qtbot.waitSignal(rec.finished, timeout=10_000) as done:
        rec.start()
    assert len(sf.read(str(done.args[0]))[0]) == 24_000


def test_without_a_microphone_the_dialog_says_so_and_takes_a_file(qtbot, tmp_path, monkeypatch) -> None:
    rec = Recorder(tmp_path, sd=FakeSd(inputs=0))
    assert not rec.available and NO_INPUT in rec.reason
    failures = []
    rec.failed.connect(failures.append)
    assert not rec.start() and failures and NO_INPUT in failures[0]
    dlg = RecordDialog(rec, tmp_path)
    qtbot.addWidget(dlg)
    assert not dlg.record_button.isEnabled() and dlg.file_button.isEnabled()
    assert NO_INPUT in dlg.status.text() and "sound file" in dlg.status.text()
    assert dlg.meter.value() == int(FLOOR_DB)
    chosen = tmp_path / "door.wav"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(chosen), "")))
    with qtbot.waitSignal(dlg.query_ready, timeout=2_000) as got:
        dlg.file_button.click()
    assert got.args[0] == chosen


def test_search_by_recording_from_the_menu_without_portaudio(qtbot, window, monkeypatch) -> None:
    import foley_app.recorder as recorder

    def missing():
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(recorder, "_sounddevice", missing)
    w = window
    w.actions_["search_recording"].trigger()
    dlg = w.suggestions.record_dialog
    assert dlg.isVisible() and not dlg.record_button.isEnabled()
    assert "PortAudio library not found" in dlg.status.text()
    dlg.reject()
