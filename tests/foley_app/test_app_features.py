"""Window features end to end: more like this, filters, attention overlay, shuttle, export, library indexing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtWidgets import QFileDialog

from foley_app.widgets.candidate_model import Role


@pytest.fixture
def window(qtbot, make_window, demo_plan):
    w = make_window(demo_plan)
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0, timeout=30_000)
    return w


def test_more_like_this_and_back(qtbot, window) -> None:
    w = window
    c = w.sounds.model.index(0).data(Role.Candidate)
    with qtbot.waitSignal(w.engine.recommendations_ready, timeout=20_000) as blocker:
        w.sounds.view.more_like_this.emit(c)
    r = blocker.args[0]
    assert r.source == "similar" and r.query == c.name
    assert c.path not in {x.path for x in r.candidates}  # the sound itself is not "like" itself
    assert w.sounds.back_button.isVisible() and "More like" in w.sounds.banner.text()
    with qtbot.waitSignal(w.engine.recommendations_ready, timeout=20_000) as blocker:
        w.actions_["back_to_frame"].trigger()
    assert blocker.args[0].source in ("cache", "live") and not w.sounds.back_button.isVisible()


def test_text_and_category_filters(qtbot, window) -> None:
    w = window
    qtbot.waitUntil(lambda: w.sounds.category.count() > 1, timeout=10_000)
    cats = [w.sounds.category.itemText(i) for i in range(1, w.sounds.category.count())]
    target = cats[0]
    with qtbot.waitSignal(w.engine.recommendations_ready, timeout=20_000) as blocker:
        w.sounds.category.setCurrentText(target)
    assert blocker.args[0].candidates and {c.category for c in blocker.args[0].candidates} == {target}
    with qtbot.waitSignal(w.engine.recommendations_ready, timeout=20_000) as blocker:
        w.sounds.category.setCurrentIndex(0)
    assert len({c.category for c in blocker.args[0].candidates}) > 1
    name = blocker.args[0].candidates[-1].name
    w.sounds.search.setText(name)  # applied after a short typing pause
    qtbot.waitUntil(lambda: w.engine.filters.get("text") == name and w.engine.last.request_id == w.engine._latest,
                    timeout=20_000)
    names = [c.name for c in w.engine.last.candidates]
    assert names and all(name.lower() in n.lower() for n in names)
    assert [w.sounds.model.candidate(i).name for i in range(w.sounds.model.rowCount())] == names


def test_attention_overlay_toggle(qtbot, window) -> None:
    w = window
    with qtbot.waitSignal(w.engine.attention_ready, timeout=20_000) as blocker:
        w.actions_["attention"].setChecked(True)
    heat = blocker.args[1]
    assert heat is not None and heat.ndim == 2 and np.isfinite(heat).all()
    assert w.video_view.has_overlay
    w.actions_["attention"].setChecked(False)
    assert not w.video_view.has_overlay


def test_frame_steps_and_shuttle(qtbot, window) -> None:
    w = window
    p = w.playback
    fps = w.video.info.fps
    w.actions_["frame_fwd"].trigger()
    w.actions_["frame_fwd"].trigger()
    assert int(p.position * fps + 1e-6) == 2
    w.actions_["second_fwd"].trigger()
    assert p.position == pytest.approx(2 / fps + 1e-4 + 1.0)
    w.actions_["frame_back"].trigger()
    assert int(p.position * fps + 1e-6) == int(fps) + 1
    w.actions_["shuttle_fwd"].trigger()
    assert p.playing and p.rate == 1.0
    w.actions_["shuttle_fwd"].trigger()
    assert p.rate == 2.0
    start = p.position
    qtbot.wait(300)
    assert p.position > start + 0.3  # 2x speed
    w.actions_["shuttle_back"].trigger()
    assert p.rate == -1.0
    w.actions_["shuttle_stop"].trigger()
    assert not p.playing
    assert "\u00d7" not in w.transport.shuttle_label.text()


def test_export_wav_from_the_menu(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    w = window
    c = w.sounds.model.candidate(0)
    w.timeline.drop_candidate(0, 2.0, {"path": str(c.path), "name": c.name, "start_s": c.start_s})
    qtbot.waitUntil(lambda: w.timeline.doc.clip_count() == 1, timeout=10_000)
    clip = w.timeline.doc.tracks[0].clips[0]
    target = tmp_path / "mix.wav"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    with qtbot.waitSignal(w.project.export_finished, timeout=30_000):
        w.actions_["export_wav"].trigger()
    mix, sr = sf.read(str(target), dtype="float32")
    first = int(np.argmax(np.abs(mix) > 1e-4))
    src, _ = sf.read(str(c.path), dtype="float32")
    src_first = int(np.argmax(np.abs(src if src.ndim == 1 else src.mean(axis=1)) > 1e-4))
    assert first == pytest.approx(round(clip.position * sr) + src_first - round(clip.source_start * sr), abs=2)
    assert np.abs(mix).max() <= 10 ** (-1 / 20) + 1e-4  # limited, no clipping


def test_library_indexing_with_progress_then_reload(qtbot, window, sound_library, tmp_path: Path) -> None:
    w = window
    root = Path(os.path.commonpath([str(p) for p in sound_library]))
    mine = tmp_path / "my-sounds"
    shutil.copytree(root, mine)
    progress = []
    w.library.progress.connect(lambda i, n: progress.append((i, n)))
    with qtbot.waitSignal(w.engine.ready, timeout=60_000) as blocker:
        w.library_panel.add_folder(mine)
    assert w.library.roots == [mine]
    assert progress and progress[-1][0] == progress[-1][1] == len(sound_library)
    info = blocker.args[0]
    from foley_app.controllers.library import default_db_dir

    # adding a folder to the demo makes the library the user's own: indexed into the user's index, remembered
    assert info.n_files == len(sound_library) and info.db_dir == default_db_dir()
    assert w.settings.library_roots == [mine] and not w.plan.demo
    assert "files" in w.status_library.text() and not w.library_panel.progress.isVisible()


def test_indexing_can_be_cancelled(qtbot, window, tmp_path: Path) -> None:
    w = window
    lib = tmp_path / "big"
    lib.mkdir()
    rng = np.random.default_rng(0)
    for i in range(60):
        sf.write(str(lib / f"noise_{i:03d}.wav"), (rng.standard_normal(48_000 * 3) * 0.1).astype(np.float32), 48_000)
    w.library.roots = [lib]
    w.library.db_dir = tmp_path / "big-index"
    with qtbot.waitSignal(w.library.progress, timeout=30_000):
        w.start_indexing()
    assert w.library_panel.cancel_button.isVisible()
    with qtbot.waitSignal(w.library.cancelled, timeout=30_000):
        w.library_panel.cancel_button.click()
    assert not w.library_panel.progress.isVisible() and not w.library.busy


def test_first_run_indexes_then_recommends(qtbot, make_window, gui_model_file, event_video, sound_library,
                                           tmp_path: Path, boxes) -> None:
    """A first start on a library without an index: indexing in the background, then the list."""
    from foley_app.startup import LaunchPlan

    root = Path(os.path.commonpath([str(p) for p in sound_library]))
    plan = LaunchPlan(model=gui_model_file, db_dir=tmp_path / "fresh-index", library_roots=[root],
                      video=event_video.path, project=None, demo=True, needs_indexing=True)
    w = make_window(plan)
    assert "Indexing" in w.sounds.banner.text()
    qtbot.waitUntil(lambda: w.sounds.model.rowCount() > 0, timeout=60_000)
    qtbot.waitUntil(lambda: not w.library.busy, timeout=60_000)
    qtbot.waitUntil(lambda: w.engine.is_ready and w.engine.engine.info.n_files == len(sound_library), timeout=30_000)
    assert not [b for b in boxes.shown if b[0] != "information"]
