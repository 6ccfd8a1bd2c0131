"""The shipped demo project opens as a complete session, and File ▸ Export ▸ Stems writes a Broadcast WAV
per track that lines up with the mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import wavinfo
from PySide6.QtWidgets import QFileDialog

from engine.resources import resource_path

DEMO = resource_path("demo", "demo.foley.json")


def test_demo_project_opens_and_exports_stems_from_the_menu(qtbot, make_window, gui_model_file: Path, gui_index: Path,
                                                            tmp_path: Path, monkeypatch) -> None:
    from foley_app.startup import LaunchPlan

    w = make_window(LaunchPlan(model=gui_model_file, db_dir=gui_index, library_roots=[], video=None, project=DEMO))
    qtbot.waitUntil(lambda: w.timeline.doc.clip_count() == 10, timeout=30_000)
    doc = w.timeline.doc
    assert [t.name for t in doc.tracks] == ["Weapons", "Impacts", "Creatures"]
    assert Path(doc.video).resolve() == DEMO.parent.joinpath("demo.mp4").resolve() and not doc.dirty
    folder = tmp_path / "stems"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    with qtbot.waitSignal(w.project.export_finished, timeout=60_000) as done:
        w.actions_["export_stems"].trigger()
    assert done.args == ["stems", folder]
    stems = sorted(folder.iterdir())
    assert [p.name for p in stems] == ["demo_01_Weapons.wav", "demo_02_Impacts.wav", "demo_03_Creatures.wav"]
    sizes = set()
    for path, track in zip(stems, doc.tracks):
        info = wavinfo.WavInfoReader(str(path))
        assert info.ixml.project == "demo" and [t.name for t in info.ixml.track_list] == [track.name]
        assert info.bext.time_reference == 0
        wave, sr = sf.read(str(path), dtype="float32")
        first = round(min(c.position for c in track.clips) * sr)
        assert not wave[:first].any() and wave[first:first + 480].any()  # silent until the track's first clip
        sizes.add(wave.size)
    assert sizes == {60 * 48_000}  # every stem as long as the demo video
    assert np.isfinite(wave).all()
