"""The common <-> specific dial in the sound list's header: it sets the weight of the sound prior in
the ranking (on the engine thread), is saved with the project, and is off for a model without a prior."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from foley_app.core import project_io
from foley_app.core.document import Document, DocumentError
from foley_app.widgets.sounds_panel import NO_PRIOR_TIP, PRIOR_STEP, PRIOR_STEPS

MODEL_DEFAULT = 1.0  # the test model's weight of the prior ("chosen on validation maps")


# -- the project file ---------------------------------------------------------------------------
def test_the_weight_round_trips_and_makes_the_project_dirty(tmp_path: Path) -> None:
    doc = Document()
    path = tmp_path / "p.foley.json"
    project_io.save_project(doc, path)
    assert json.loads(path.read_text())["prior_weight"] is None  # null: the model's default
    doc.set_prior_weight(2.25)
    assert doc.dirty, "moving the dial is a change to save"
    doc.set_prior_weight(None)
    assert not doc.dirty, "back to what was saved: clean again"
    doc.set_prior_weight(0.0)  # the picture alone is a real setting, not "unset"
    assert doc.dirty
    project_io.save_project(doc, path)
    again = project_io.load_project(path)
    assert again.prior_weight == 0.0 and not again.dirty
    assert again.copy().prior_weight == 0.0
    again.set_prior_weight(3.5)
    project_io.save_project(again, path)
    assert project_io.load_project(path).prior_weight == 3.5
    with pytest.raises(DocumentError):
        doc.set_prior_weight(-1.0)
    with pytest.raises(DocumentError):
        doc.set_prior_weight(float("nan"))


@pytest.mark.parametrize("version, extra", [(1, {}), (2, {}), (2, {"feedback": {"enabled": True, "choices": []}}),
                                            (2, {"prior_weight": None})])
def test_projects_without_a_weight_load_with_the_model_default(tmp_path: Path, version: int, extra: dict) -> None:
    path = tmp_path / "old.foley.json"
    path.write_text(json.dumps({"format": project_io.FORMAT, "version": version, "video": None, "tracks": [], **extra}))
    doc = project_io.load_project(path)
    assert doc.prior_weight is None and not doc.dirty


@pytest.mark.parametrize("value, needle", [(-0.5, "prior_weight: must be between 0"), ("1.5", "prior_weight: must be a number"),
                                           (True, "prior_weight: must be a number"), (1e9, "prior_weight: must be between")])
def test_a_bad_weight_names_the_key(tmp_path: Path, value: object, needle: str) -> None:
    path = tmp_path / "bad.foley.json"
    path.write_text(json.dumps({"format": project_io.FORMAT, "version": 2, "video": None, "tracks": [], "prior_weight": value}))
    with pytest.raises(project_io.ProjectError, match=needle):
        project_io.load_project(path)


# -- the window -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ranking_model(gui_model_file: Path, gui_index: Path, event_video, tmp_path_factory: pytest.TempPathFactory):
    """The GUI test model with ranking terms (same weights, so it reads the same index), whose prior
    puts every vote on the file the picture ranks last for the video's first second. Returns
    (model file, that file's path)."""
    import torch

    from engine.api import Recommender, SoundIndex
    from engine.data.media import read_frame
    from engine.library.ranking import RankingCfg
    from engine.models import AVModel
    from tests.engine.library.test_recommender import all_vectors, unit

    model = AVModel.load(gui_model_file)
    index = SoundIndex.open(gui_index, model.model_id, readonly=True)
    try:
        plain = Recommender(model, index)
        q = model.embed_frames(read_frame(event_video.path, model.features.frame_offset)[None])[0]
        last = plain.for_embedding(np.asarray(q, np.float32), k=len(plain.files))[-1].path
        labels, vecs = all_vectors(index)
        f = next(f for f in plain.files if f.path == last)
        popular = vecs[labels == f.label0][0]
        frames = unit(np.random.default_rng(0).normal(size=(64, index.dim)))
    finally:
        index.close()
    rc = RankingCfg(temperature=0.1, prior_weight=MODEL_DEFAULT)
    model.extra = dict(model.extra)
    model.extra.update({"ranking": rc.as_dict(), "reference_frames": torch.from_numpy(frames.astype(np.float16)),
                        "reference_audio": torch.from_numpy(np.repeat(popular[None], 50, 0).astype(np.float16))})
    path = tmp_path_factory.mktemp("ranking-model") / "ranked.pt"
    model.save(path)
    return path, last


def _settled(w) -> bool:
    e = w.engine
    return e.last is not None and e.last.request_id == e._latest and not e._in_flight and not e._pending \
        and not w.sounds._prior_timer.isActive()


def _paths(w) -> list:
    return [c.path for c in w.engine.last.candidates]


def test_the_dial_reranks_on_the_worker_and_is_saved_with_the_project(qtbot, make_window, demo_plan,
                                                                       ranking_model, tmp_path) -> None:
    import dataclasses

    model_path, popular = ranking_model
    w = make_window(dataclasses.replace(demo_plan, model=model_path))
    qtbot.waitUntil(lambda: w.engine.is_ready and w.sounds.model.rowCount() > 0 and _settled(w), timeout=30_000)
    dial, rec = w.sounds.prior_dial, w.engine.engine.recommender
    assert rec.ranking is not None and dial.isEnabled() and dial.maximum() * PRIOR_STEP == PRIOR_STEPS * PRIOR_STEP
    assert dial.value() == round(MODEL_DEFAULT / PRIOR_STEP) and w.sounds.prior_value.text() == "1"
    assert not w.sounds.prior_reset.isEnabled(), "already at the model's default"
    assert "picture alone" in dial.toolTip() and not w.timeline.doc.dirty

    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5_000)
    dial.setFocus()
    qtbot.waitUntil(dial.hasFocus, timeout=2_000)
    position = w.playback.position
    qtbot.keyClick(dial, Qt.Key_Home)  # the keyboard: 0 = the picture alone
    qtbot.waitUntil(lambda: w.timeline.doc.prior_weight == 0.0 and _settled(w) and rec.prior_weight == 0.0, timeout=20_000)
    alone = _paths(w)
    assert alone[0] != popular, "the picture alone does not favour the file every reference voted for"
    assert w.windowTitle().startswith("\u2022"), "the project is modified"

    qtbot.keyClick(dial, Qt.Key_End)  # the most common sounds
    qtbot.waitUntil(lambda: w.timeline.doc.prior_weight == 4.0 and _settled(w) and rec.prior_weight == 4.0, timeout=20_000)
    assert _paths(w)[0] == popular and _paths(w) != alone
    qtbot.keyClick(dial, Qt.Key_Left)  # arrows move the dial, not the playhead, while it has the keys
    qtbot.waitUntil(lambda: w.timeline.doc.prior_weight == 3.75 and _settled(w) and rec.prior_weight == 3.75, timeout=20_000)
    assert w.playback.position == position and w.engine.prior_weight == 3.75
    assert w.sounds.prior_value.text() == "3.75" and w.sounds.prior_reset.isEnabled()

    path = tmp_path / "dial.foley.json"
    project_io.save_project(w.timeline.doc, path)
    assert json.loads(path.read_text())["prior_weight"] == 3.75
    assert w.project.new(w.video.path) is not False  # a new project: the model's default again
    qtbot.waitUntil(lambda: dial.value() == 4 and _settled(w) and rec.prior_weight == MODEL_DEFAULT, timeout=20_000)
    assert w.engine.prior_weight is None and w.timeline.doc.prior_weight is None
    assert w.project.open(path)
    qtbot.waitUntil(lambda: _settled(w) and rec.prior_weight == 3.75, timeout=20_000)
    assert dial.value() == 15 and w.sounds.prior_value.text() == "3.75" and not w.timeline.doc.dirty

    w.sounds.prior_reset.click()  # back to the model's default
    qtbot.waitUntil(lambda: _settled(w) and rec.prior_weight == MODEL_DEFAULT, timeout=20_000)
    assert w.timeline.doc.prior_weight is None and w.timeline.doc.dirty and dial.value() == 4

    qtbot.keyClick(dial, Qt.Key_Escape)  # Esc hands the keys back to playback
    qtbot.waitUntil(lambda: w.video_view.hasFocus(), timeout=2_000)


def test_the_dial_is_off_for_a_model_without_a_prior(qtbot, make_window, demo_plan, tmp_path) -> None:
    w = make_window(demo_plan)
    assert not w.sounds.prior_dial.isEnabled()  # nothing to dial before the model is loaded
    qtbot.waitUntil(lambda: w.engine.is_ready and w.sounds.model.rowCount() > 0, timeout=30_000)
    assert w.engine.engine.recommender.ranking is None
    dial = w.sounds.prior_dial
    assert not dial.isEnabled() and not w.sounds.prior_reset.isEnabled()
    assert dial.toolTip() == NO_PRIOR_TIP and "no sound prior" in NO_PRIOR_TIP
    # a project saved with a weight keeps it (the dial is off, the ranking ignores it)
    path = tmp_path / "weighted.foley.json"
    doc = Document(video=demo_plan.video)
    doc.set_prior_weight(2.0)
    project_io.save_project(doc, path)
    assert w.project.open(path)
    assert w.timeline.doc.prior_weight == 2.0 and not dial.isEnabled() and not w.timeline.doc.dirty
