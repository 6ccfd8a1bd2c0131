"""Small app pieces without a main window: workers, launch plan, candidate model, settings, player, shortcuts."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from engine.api import Candidate
from foley_app.startup import plan_launch
from foley_app.widgets.candidate_model import MIME_CANDIDATE, CandidateListModel, Role, mime_to_payload


def cand(i: int, path: Path = Path("/sfx/door.wav")) -> Candidate:
    return Candidate(sound_id=i, path=path, name=f"sound{i}", category="DOORS", start_s=0.5 * i, distance=0.1 * i,
                     score=1 - 0.05 * i, duration_s=2.0 + i, rank=i + 1)


# -- workers -----------------------------------------------------------------------------------
def test_run_in_pool_delivers_on_gui_thread(qtbot) -> None:
    from foley_app.workers import run_in_pool

    seen = {}

    def work(x: int) -> int:
        seen["worker_thread"] = threading.current_thread()
        return x * 2

    def done(result: int) -> None:
        seen["result"] = result
        seen["gui"] = QThread.currentThread() is QApplication.instance().thread()

    run_in_pool(work, done, None, 21)
    qtbot.waitUntil(lambda: "result" in seen, timeout=5000)
    assert seen["result"] == 42 and seen["gui"] is True
    assert seen["worker_thread"] is not threading.main_thread()


def test_run_in_pool_reports_errors_and_progress_and_cancels(qtbot) -> None:
    from foley_app.workers import run_in_pool

    errors, progress, results = [], [], []
    run_in_pool(lambda: 1 / 0, results.append, errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert isinstance(errors[0], ZeroDivisionError) and "ZeroDivisionError" in errors[0].__traceback_text__
    started = threading.Event()

    def long(cancel: threading.Event, progress) -> str:
        for i in range(1000):
            progress(i, 1000)
            started.set()
            if cancel.wait(0.005):
                return "stopped"
        return "finished"

    w = run_in_pool(long, results.append, errors.append, on_progress=lambda i, n: progress.append((i, n)))
    qtbot.waitUntil(lambda: bool(progress), timeout=5000)
    w.cancel()
    qtbot.wait(100)
    assert results == [] and len(errors) == 1  # a cancelled worker reports nothing
    assert progress[0] == (0, 1000)


# -- launch plan -------------------------------------------------------------------------------
def _plan(tmp_path: Path, **kw):
    base = dict(video=None, library=None, model=None, project=None, saved_model=None, saved_db=None, saved_roots=[],
                default_model=None, demo_video=None, demo_library=None, user_db=tmp_path / "db",
                demo_db=tmp_path / "demo-db")
    base.update(kw)
    return plan_launch(**base)


def test_plan_uses_demo_when_nothing_is_configured(tmp_path: Path) -> None:
    model, video, lib = tmp_path / "default.pt", tmp_path / "demo.mp4", tmp_path / "library"
    model.write_bytes(b"x")
    video.write_bytes(b"x")
    lib.mkdir()
    p = _plan(tmp_path, default_model=model, demo_video=video, demo_library=lib)
    assert (p.model, p.video, p.library_roots, p.db_dir, p.demo) == (model, video, [lib], tmp_path / "demo-db", True)
    assert p.needs_indexing and p.problems == []


def test_plan_without_demo_or_model_explains(tmp_path: Path) -> None:
    p = _plan(tmp_path)
    assert p.model is None and p.video is None and not p.demo
    text = " ".join(p.problems)
    assert "no model" in text and "Choose Model" in text and "add a folder of sounds" in text


def test_plan_library_argument_index_or_sounds(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    index.mkdir()
    (index / "library.sqlite").write_bytes(b"")
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    assert _plan(tmp_path, library=index).db_dir == index
    p = _plan(tmp_path, library=sounds)
    assert p.library_roots == [sounds] and p.db_dir == tmp_path / "db" and p.needs_indexing
    assert "library folder not found" in " ".join(_plan(tmp_path, library=tmp_path / "nope").problems)


def test_plan_arguments_win_over_settings(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"x")
    b.write_bytes(b"x")
    assert _plan(tmp_path, model=a, saved_model=b).model == a
    p = _plan(tmp_path, model=tmp_path / "missing.pt", saved_model=b)
    assert p.model == b and "model file not found" in p.problems[0]


# -- candidate model ---------------------------------------------------------------------------
def test_candidate_model_roles_and_drag_payload(qtbot) -> None:
    m = CandidateListModel()
    m.set_candidates([cand(i) for i in range(3)])
    assert m.rowCount() == 3
    idx = m.index(1)
    assert idx.data(Role.Name) == "sound1" and idx.data(Role.Rank) == 2 and idx.data(Role.Category) == "DOORS"
    assert idx.data(Role.Score) == pytest.approx(0.95) and idx.data(Role.Start) == 0.5
    def n_peaks(i):
        v = m.index(i).data(Role.Peaks)
        return 0 if v is None else len(v)

    assert n_peaks(1) == 0
    m.set_peaks((str(Path("/sfx/door.wav")), 0.5), np.ones(8, np.float32))
    assert n_peaks(1) == 8 and n_peaks(0) == 0
    mime = m.mimeData([idx])
    payload = json.loads(bytes(mime.data(MIME_CANDIDATE)).decode())
    assert payload["start_s"] == 0.5 and payload["path"] == str(Path("/sfx/door.wav"))
    assert mime.urls()[0].toLocalFile() == "/sfx/door.wav"
    assert mime_to_payload(mime)["path"] == Path("/sfx/door.wav")
    assert set(m.roleNames().values()) >= {b"name", b"score", b"category", b"duration"}


def test_malformed_drag_payload_is_ignored(qtbot) -> None:
    from PySide6.QtCore import QMimeData

    mime = QMimeData()
    mime.setData(MIME_CANDIDATE, b"{not json")
    assert mime_to_payload(mime) is None
    mime.setData(MIME_CANDIDATE, b'{"name": "no path"}')
    assert mime_to_payload(mime) is None


# -- settings, player, shortcuts ---------------------------------------------------------------
def test_settings_persist(tmp_path: Path) -> None:
    from foley_app.settings import Settings

    s = Settings(tmp_path / "s.ini")
    s.top_k, s.per_segment, s.device, s.volume = 40, True, "cpu", 0.5
    s.model_path = tmp_path / "m.pt"
    s.library_roots = [tmp_path / "a", tmp_path / "b"]
    for i in range(12):
        s.add_recent_project(tmp_path / f"p{i}.json")
    s.sync()
    t = Settings(tmp_path / "s.ini")
    assert (t.top_k, t.per_segment, t.device, t.volume) == (40, True, "cpu", 0.5)
    assert t.model_path == tmp_path / "m.pt" and t.library_roots == [tmp_path / "a", tmp_path / "b"]
    assert len(t.recent_projects()) == 10 and t.recent_projects()[0] == tmp_path / "p11.json"


def test_player_without_output_device_says_so(qtbot, monkeypatch) -> None:
    import foley_app.audio as audio

    def no_portaudio():
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(audio, "_sounddevice", no_portaudio)
    p = audio.Player()
    assert not p.available and "audio output unavailable" in p.reason and "PortAudio" in p.reason
    assert p.play(np.zeros(480, np.float32)) is False and not p.playing
    assert audio.output_devices() == [] or isinstance(audio.output_devices(), list)


def test_shortcuts_dialog_lists_every_shortcut(qtbot) -> None:
    from PySide6.QtWidgets import QTableWidget, QWidget

    from foley_app.actions import SPECS, build_actions
    from foley_app.dialogs import shortcuts_dialog

    parent = QWidget()
    qtbot.addWidget(parent)
    actions = build_actions(parent, {})
    table = shortcuts_dialog(parent, actions).findChild(QTableWidget)
    keys = {table.item(r, 2).text() for r in range(table.rowCount())}
    assert {"Space", "J", "K", "L", "Left", "Shift+Left", "A", "M", "C"} <= keys
    shortcuts = [actions[s.key].shortcut().toString() for s in SPECS if actions[s.key].shortcut().toString()]
    assert len(shortcuts) == len(set(shortcuts)), "two commands share a shortcut"


def test_player_callback_copies_scaled_samples_and_stops_at_the_end(qtbot, monkeypatch) -> None:
    """The PortAudio callback itself (no device needed): volume, position, end of sound."""
    import sys
    import types

    import foley_app.audio as audio

    class CallbackStop(Exception):
        pass

    monkeypatch.setitem(sys.modules, "sounddevice", types.SimpleNamespace(CallbackStop=CallbackStop))
    p = audio.Player.__new__(audio.Player)
    audio.Player.__init__(p)  # no device here: available False, but the callback is plain code
    wave = np.arange(1, 1001, dtype=np.float32) / 1000
    p._wave, p._frame, p._offset = wave, 0, 2.0
    p.set_volume(0.5)
    out = np.zeros((600, 1), np.float32)
    p._callback(out, 600, None, None)
    assert np.allclose(out[:, 0], wave[:600] * 0.5) and p.position == pytest.approx(2.0 + 600 / 48_000)
    with pytest.raises(CallbackStop):
        p._callback(out, 600, None, None)
    assert np.allclose(out[:400, 0], wave[600:] * 0.5) and np.all(out[400:, 0] == 0)


def test_main_without_display_explains(monkeypatch, capsys) -> None:
    from foley_app.main import main, parse_args

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main([]) == 1
    assert "no display found" in capsys.readouterr().err
    a = parse_args(["v.mp4", "--library", "lib", "--model", "m.pt", "--project", "p.json"])
    assert (a.video, a.library, a.model, a.project) == (Path("v.mp4"), Path("lib"), Path("m.pt"), Path("p.json"))


def test_render_from_places_the_context_sound_at_its_time() -> None:
    from foley_app.controllers.playback import render_from

    sr = 1000
    mix = np.full(5 * sr, 0.1, np.float32)
    extra = np.full(500, 0.5, np.float32)
    key, whole, out, start = render_from("k", None, mix, (extra, 3.0), 2.0, sr)
    assert whole is mix and start == 2.0 and out.size == 3 * sr
    assert np.allclose(out[: sr], 0.1) and np.allclose(out[sr : sr + 500], 0.6) and np.allclose(out[sr + 500 :], 0.1)
    _, _, out2, _ = render_from("k", None, None, (extra, 1.0), 0.0, sr)  # no timeline: the sound alone
    assert out2.size == 1500 and np.allclose(out2[1000:], 0.5) and np.allclose(out2[:1000], 0.0)


def test_about_box_credits_the_pretrained_towers_and_their_licences():
    from foley_app.dialogs import about_text

    text = about_text(None)
    assert "aisfx" in text and "CC BY 4.0" in text and "Ma and A. Lerch" in text
    assert "EfficientNet-Lite0" in text and "Apache-2.0" in text
