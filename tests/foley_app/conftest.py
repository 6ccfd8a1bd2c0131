"""GUI test fixtures: a tiny real model, a small real index, and a window started on them (offscreen).

The user's folders are redirected to a temporary directory before anything asks platformdirs, and
message boxes are recorded instead of blocking.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="foley-gui-home-"))
for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
    os.environ[var] = str(_HOME / var.lower())
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def tiny_model(seed: int = 0):
    """A real AVModel with a few thousand weights: the full code path, fast on CPU."""
    import torch

    from engine.models import AVModel
    from engine.presets import get_preset

    torch.manual_seed(seed)
    cfg = dataclasses.replace(get_preset("m5", "compact"), vision_channels=(4, 8, 8, 16),
                              audio_channels=(4, 8, 8, 16), image_size=32)
    return AVModel(cfg).eval()


@pytest.fixture(scope="session")
def gui_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gui-model") / "tiny.pt"
    tiny_model(0).save(path)
    return path


@pytest.fixture(scope="session")
def gui_index(gui_model_file: Path, sound_library: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's synthetic sound library, indexed with the tiny model."""
    from engine.api import index_library
    from engine.models import AVModel

    db = tmp_path_factory.mktemp("gui-db") / "index"
    root = Path(os.path.commonpath([str(p) for p in sound_library]))
    index_library([root], AVModel.load(gui_model_file), db, workers=0, progress=False)
    return db


class Boxes:
    """Message boxes shown during a test: (kind, title, text)."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str, str]] = []
        self.answer = None  # button returned by question/warning; None = the default

    def texts(self) -> str:
        return "\n".join(f"{k}: {t}: {x}" for k, t, x in self.shown)


@pytest.fixture(autouse=True)
def boxes(monkeypatch: pytest.MonkeyPatch) -> Boxes:
    from PySide6.QtWidgets import QMessageBox

    rec = Boxes()

    def make(kind: str):
        def show(parent, title, text, buttons=None, default=None):
            rec.shown.append((kind, title, text))
            if rec.answer is not None:
                return rec.answer
            return default if default not in (None, QMessageBox.NoButton) else QMessageBox.Ok
        return show

    for kind in ("information", "warning", "critical", "question"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(make(kind)))
    monkeypatch.setattr(QMessageBox, "exec", lambda self: rec.shown.append(("exec", self.windowTitle(), self.text())) or 0)
    return rec


@pytest.fixture
def settings(tmp_path: Path):
    from foley_app.settings import Settings

    return Settings(tmp_path / "settings.ini")


@pytest.fixture
def make_window(qtbot, settings, tmp_path: Path):
    """Build a started MainWindow from a LaunchPlan; shut down cleanly after the test."""
    from foley_app.main_window import MainWindow

    made = []

    def make(plan):
        w = MainWindow(settings, tmp_path / "cache")
        w.resize(1400, 900)
        w.show()
        w.start(plan)
        made.append(w)
        return w

    yield make
    for w in made:
        w.timeline.doc.dirty = False  # no unsaved-changes prompt at close
        w.close()
        w.deleteLater()


@pytest.fixture
def demo_plan(gui_model_file: Path, gui_index: Path, event_video):
    """What a launch on the bundled demo looks like: a video, an indexed library and a model."""
    from foley_app.startup import LaunchPlan

    return LaunchPlan(model=gui_model_file, db_dir=gui_index, library_roots=[], video=event_video.path,
                      project=None, demo=True)
