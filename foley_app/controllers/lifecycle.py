"""Which sound library is indexed and when the engine (re)loads: the launch plan, the switch from the
bundled demo to the user's own library, a new model file, and a change of model or device in Preferences.

Policy only: the indexing itself runs in ``LibraryController`` and the loading in ``EngineController``
(both on workers); this object decides what they are asked to do and says so through its signals.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from foley_app.settings import Settings
from foley_app.startup import LaunchPlan

log = logging.getLogger(__name__)

INDEXING_BANNER = "Indexing the sound library\u2026 recommendations follow"


class LibraryLifecycle(QObject):
    """Carries out a ``LaunchPlan`` and every later change of library folders, model or device."""

    status = Signal(str)  # a passing note for the status bar
    warning = Signal(str)  # something the user must do first
    banner = Signal(str)  # the Sounds panel's line while there is no list

    def __init__(self, settings: Settings, library, engine, parent: QObject | None = None) -> None:
        """``library``: a ``LibraryController``; ``engine``: an ``EngineController``."""
        super().__init__(parent)
        self.settings = settings
        self.library = library
        self.engine = engine
        self.plan: LaunchPlan | None = None

    @property
    def model(self) -> Path | None:
        """The model file in use (None before a plan, or when none is installed)."""
        return self.plan.model if self.plan is not None else None

    @property
    def demo(self) -> bool:
        """True while the bundled demo library is the one in use."""
        return self.plan is not None and self.plan.demo

    def start(self, plan: LaunchPlan) -> None:
        """Adopt a launch plan: index the library first when it has no index, else load the engine."""
        self.plan = plan
        self.library.roots = list(plan.library_roots)
        self.library.db_dir = plan.db_dir
        if plan.model is None or plan.db_dir is None:
            self.banner.emit("No recommendations: " + ("choose a model (Library \u25b8 Choose Model)" if plan.model is None
                                                       else "add a folder of sounds in the Library panel"))
            return
        if plan.needs_indexing:
            self.banner.emit(INDEXING_BANNER)
            self.library.prebuilt = plan.prebuilt_index
            self.index()
        else:
            self.reload()

    def index(self) -> bool:
        """Index new and changed sounds of the library's folders (on a worker); False if it did not start."""
        if self.model is None:
            self.warning.emit("choose a model before indexing (Library \u25b8 Choose Model)")
            return False
        if not self.library.roots:
            self.warning.emit("add a folder of sounds first")
            return False
        if self.library.db_dir is None:
            from foley_app.controllers.library import default_db_dir

            self.library.db_dir = default_db_dir()
        if not self.library.index(self.model, self.settings.device):
            return False
        self.status.emit("indexing the sound library\u2026")
        return True

    def set_folders(self, folders: list[Path]) -> None:
        """The user changed the library's folders: remember them and index.

        Changing the demo's folders makes the library the user's own: it is indexed into the user's
        index from then on and the demo index is left alone."""
        self.library.roots = list(folders)
        if self.plan is not None and self.plan.demo and folders != self.plan.library_roots:
            from foley_app.controllers.library import default_db_dir

            self.plan.demo = False
            self.library.db_dir = default_db_dir()
            self.settings.library_db = self.library.db_dir
        if self.plan is not None and not self.plan.demo:
            self.settings.library_roots = folders
        self.index()

    def indexing_progress(self, done: int, total: int) -> None:
        """While there is no list yet, the banner says how far the indexing is."""
        if not self.engine.is_ready:
            self.banner.emit(f"Indexing the sound library: {done:,} / {total:,} files \u2026 recommendations follow")

    def indexed(self, report) -> None:
        """An indexing run finished: load the engine on the new index."""
        self.status.emit(f"library indexed: {report.files:,} files, {report.segments:,} segments")
        self.reload()

    def indexing_cancelled(self) -> None:
        """An indexing run stopped early: what it committed is used."""
        self.status.emit("indexing cancelled; what was indexed is kept")
        self.reload()

    def choose_model(self, path: Path) -> None:
        """Use another model file from now on (remembered) and reload the engine with it."""
        path = Path(path)
        self.settings.model_path = path
        if self.plan is not None:
            self.plan.model = path
        if self.library.db_dir is not None:
            self.engine.load(path, self.library.db_dir, self.settings.device)

    def preferences_changed(self, model: Path | None, device: str) -> None:
        """Preferences were accepted; ``model``/``device`` are the values before: reload if either changed."""
        st = self.settings
        if (st.model_path, st.device) == (model, device) or self.plan is None:
            return
        if st.model_path is not None:
            self.plan.model = st.model_path
        self.reload()

    def reload(self) -> bool:
        """Load the engine on the current model, index and device; False if one of them is missing."""
        if self.model is None or self.library.db_dir is None:
            return False
        self.engine.load(self.model, self.library.db_dir, self.settings.device)
        return True
