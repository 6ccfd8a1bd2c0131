"""The library/engine lifecycle policy (``LibraryLifecycle``) and the preference bindings
(``SettingBindings``), driven without a window: which library is indexed, when the engine reloads,
and what a Preferences reload changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QSpinBox, QToolButton

from foley_app.controllers.bindings import SettingBindings
from foley_app.controllers.library import default_db_dir
from foley_app.controllers.lifecycle import LibraryLifecycle
from foley_app.startup import LaunchPlan


class FakeLibrary:
    """What the lifecycle uses of ``LibraryController``: folders, index folder, and ``index``."""

    def __init__(self) -> None:
        self.roots: list[Path] = []
        self.db_dir: Path | None = None
        self.prebuilt: Path | None = None
        self.runs: list[tuple] = []

    def index(self, model_path: Path, device: str = "auto") -> bool:
        self.runs.append((Path(model_path), list(self.roots), self.db_dir, self.prebuilt, device))
        return True


class FakeEngine:
    """What the lifecycle uses of ``EngineController``: ``load`` and ``is_ready``."""

    def __init__(self) -> None:
        self.loads: list[tuple] = []
        self.is_ready = False

    def load(self, model_path: Path, db_dir: Path, device: str = "auto") -> None:
        self.loads.append((Path(model_path), Path(db_dir), device))


@pytest.fixture
def life(qapp, settings):
    lc = LibraryLifecycle(settings, FakeLibrary(), FakeEngine())
    lc.said = {"status": [], "warning": [], "banner": []}
    for name, said in lc.said.items():
        getattr(lc, name).connect(said.append)
    return lc


def plan(tmp_path: Path, **kw) -> LaunchPlan:
    base = dict(model=tmp_path / "m.pt", db_dir=tmp_path / "demo-index", library_roots=[tmp_path / "demo-sounds"],
                video=None, project=None, demo=True)
    base.update(kw)
    return LaunchPlan(**base)


def test_an_indexed_library_loads_the_engine_at_start(life, tmp_path: Path) -> None:
    life.settings.device = "cpu"
    life.start(plan(tmp_path))
    assert life.engine.loads == [(tmp_path / "m.pt", tmp_path / "demo-index", "cpu")]
    assert life.library.runs == [] and life.library.roots == [tmp_path / "demo-sounds"]


def test_a_library_without_an_index_is_indexed_first_with_the_shipped_index(life, tmp_path: Path) -> None:
    shipped = tmp_path / "shipped.tar"
    life.start(plan(tmp_path, needs_indexing=True, prebuilt_index=shipped))
    assert life.engine.loads == []
    assert life.library.runs == [(tmp_path / "m.pt", [tmp_path / "demo-sounds"], tmp_path / "demo-index", shipped, "auto")]
    assert "Indexing" in life.said["banner"][-1]
    life.indexed(type("Report", (), {"files": 3, "segments": 9})())
    assert life.engine.loads == [(tmp_path / "m.pt", tmp_path / "demo-index", "auto")]
    assert life.said["status"][-1] == "library indexed: 3 files, 9 segments"


def test_without_a_model_nothing_is_indexed_or_loaded(life, tmp_path: Path) -> None:
    life.start(plan(tmp_path, model=None, needs_indexing=True))
    assert "choose a model" in life.said["banner"][-1]
    assert not life.index()
    assert "choose a model" in life.said["warning"][-1]
    assert life.library.runs == [] and life.engine.loads == []


def test_adding_a_folder_to_the_demo_makes_the_library_the_users_own(life, tmp_path: Path) -> None:
    life.start(plan(tmp_path))
    mine = tmp_path / "my-sounds"
    life.set_folders([tmp_path / "demo-sounds", mine])
    assert not life.demo
    assert life.library.db_dir == default_db_dir() != tmp_path / "demo-index"  # the demo index is left alone
    assert life.settings.library_roots == [tmp_path / "demo-sounds", mine]
    assert life.settings.library_db == default_db_dir()
    assert life.library.runs[-1][1:3] == ([tmp_path / "demo-sounds", mine], default_db_dir())


def test_the_demo_folders_unchanged_keep_the_demo_index_and_settings(life, tmp_path: Path) -> None:
    life.start(plan(tmp_path))
    life.set_folders([tmp_path / "demo-sounds"])  # e.g. Index Now on the demo
    assert life.demo and life.library.db_dir == tmp_path / "demo-index"
    assert life.settings.library_roots == [] and life.settings.library_db is None


def test_the_users_own_folders_are_remembered_in_their_index(life, tmp_path: Path) -> None:
    life.start(plan(tmp_path, demo=False, db_dir=tmp_path / "mine-index", library_roots=[tmp_path / "a"]))
    life.set_folders([tmp_path / "a", tmp_path / "b"])
    assert life.settings.library_roots == [tmp_path / "a", tmp_path / "b"]
    assert life.library.db_dir == tmp_path / "mine-index"


def test_removing_every_folder_says_so_instead_of_indexing(life, tmp_path: Path) -> None:
    life.start(plan(tmp_path, demo=False))
    life.set_folders([])
    assert life.library.runs == [] and life.said["warning"][-1] == "add a folder of sounds first"


def test_a_cancelled_indexing_run_loads_what_was_indexed(life, tmp_path: Path) -> None:
    life.start(plan(tmp_path, needs_indexing=True))
    life.indexing_cancelled()
    assert life.engine.loads == [(tmp_path / "m.pt", tmp_path / "demo-index", "auto")]


def test_progress_shows_in_the_banner_only_until_there_is_a_list(life, tmp_path: Path) -> None:
    life.indexing_progress(2, 10)
    assert life.said["banner"][-1].startswith("Indexing the sound library: 2 / 10 files")
    life.engine.is_ready = True
    life.indexing_progress(3, 10)
    assert len(life.said["banner"]) == 1


def test_choosing_a_model_remembers_it_and_reloads(life, tmp_path: Path) -> None:
    life.start(plan(tmp_path))
    other = tmp_path / "other.pt"
    life.choose_model(other)
    assert life.settings.model_path == other and life.model == other
    assert life.engine.loads[-1] == (other, tmp_path / "demo-index", "auto")


def test_preferences_reload_the_engine_only_when_model_or_device_changed(life, tmp_path: Path) -> None:
    st = life.settings
    life.start(plan(tmp_path))
    before = (st.model_path, st.device)
    life.preferences_changed(*before)  # nothing that matters changed
    assert len(life.engine.loads) == 1
    st.device = "cpu"
    life.preferences_changed(*before)
    assert life.engine.loads[-1] == (tmp_path / "m.pt", tmp_path / "demo-index", "cpu")
    before = (st.model_path, st.device)
    st.model_path = tmp_path / "new.pt"
    life.preferences_changed(*before)
    assert life.model == tmp_path / "new.pt" and life.engine.loads[-1][0] == tmp_path / "new.pt"


# -- preference bindings ---------------------------------------------------------------------------
@pytest.fixture
def bound(qapp, settings):
    action, button, spin = QAction(), QToolButton(), QSpinBox()
    action.setCheckable(True)
    button.setCheckable(True)
    spin.setRange(5, 200)
    spin.setValue(25)  # as the Sounds panel starts
    applied: dict[str, list] = {"play_whole_file": [], "top_k": [], "audio_device": []}
    b = SettingBindings(settings)
    b.toggle("play_whole_file", (action, button), applied["play_whole_file"].append)
    b.number("top_k", spin, applied["top_k"].append)
    b.value("audio_device", applied["audio_device"].append, reapply=True, in_effect=settings.audio_device)
    return b, action, button, spin, applied


def test_load_shows_and_applies_the_stored_values_once(bound) -> None:
    b, action, button, spin, applied = bound
    b.settings.play_whole_file, b.settings.top_k = True, 40
    assert set(b.load()) == {"play_whole_file", "top_k"}  # the audio device is in effect already
    assert action.isChecked() and button.isChecked() and spin.value() == 40
    assert applied == {"play_whole_file": [True], "top_k": [40], "audio_device": []}


def test_one_control_moves_the_other_writes_the_store_and_applies_once(bound) -> None:
    b, action, button, spin, applied = bound
    b.load()
    button.click()
    assert action.isChecked() and b.settings.play_whole_file is True
    assert applied["play_whole_file"] == [False, True]
    action.setChecked(False)
    assert not button.isChecked() and b.settings.play_whole_file is False
    assert applied["play_whole_file"] == [False, True, False]
    spin.setValue(60)
    assert b.settings.top_k == 60 and applied["top_k"] == [25, 60]


def test_a_preferences_reload_applies_what_changed_and_reprobes_the_audio_device(bound) -> None:
    b, action, button, spin, applied = bound
    b.load()
    b.settings.top_k = 80  # what the Preferences dialog stores
    assert set(b.load()) == {"top_k", "audio_device"}
    assert spin.value() == 80 and applied["top_k"] == [25, 80] and applied["play_whole_file"] == [False]
    assert applied["audio_device"] == [""]


def test_a_stored_value_a_control_cannot_hold_becomes_the_controls(bound) -> None:
    b, action, button, spin, applied = bound
    b.settings.top_k = 2  # below the list's minimum of 5
    b.load()
    assert spin.value() == 5 and b.settings.top_k == 5 and applied["top_k"] == [5]
