"""The sound library: which folders, where the index lives, and background indexing with progress/cancel."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.api import DB_FILE
from foley_app.workers import Worker, run_in_pool

log = logging.getLogger(__name__)



def is_index_dir(path: Path) -> bool:
    """True if ``path`` holds a sound index (rather than sounds)."""
    return (Path(path) / DB_FILE).is_file()


def default_db_dir() -> Path:
    """The user's index folder (platformdirs), from the engine."""
    from engine.api import default_db_dir as engine_default

    return Path(engine_default())


def run_indexing(roots: list[Path], model_path: Path, db_dir: Path, device: str, commit_segments: int | None,
                 cancel, progress, prebuilt: Path | None = None):
    """Load a model instance of our own and index ``roots`` into ``db_dir`` (worker thread).

    ``commit_segments``: a smaller value commits (and so exposes to readers) more often; None: the
    indexer's own size.
    ``prebuilt``: a shipped index of the one root, installed first if it fits the model (the pass
    that follows then only checks the files).
    """
    from engine.api import index_library, install_prebuilt_first, load_model

    model = load_model(Path(model_path), device)
    t0 = time.perf_counter()
    result = install_prebuilt_first(prebuilt, [Path(r) for r in roots], Path(db_dir), model.model_id)
    if result is not None and not result.installed:
        log.warning("pre-built index not used, indexing normally: %s", result.reason)
    sized = {} if commit_segments is None else {"commit_segments": commit_segments}
    report = index_library([Path(r) for r in roots], model, Path(db_dir), workers=2, progress=False,
                           cancel=cancel, on_progress=progress, **sized)
    log.info("indexing took %.1f s", time.perf_counter() - t0)
    return report


class LibraryController(QObject):
    """Runs ``index_library`` on a worker; ``finished`` tells the engine to reload the index."""

    started = Signal()
    progress = Signal(int, int)
    finished = Signal(object)  # IndexReport
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.roots: list[Path] = []
        self.db_dir: Path | None = None
        self.prebuilt: Path | None = None  # a shipped index for the next (first) run, see run_indexing
        self._worker: Worker | None = None

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def index(self, model_path: Path, device: str = "auto", commit_segments: int | None = None) -> bool:
        """Start indexing the roots; False if already running or nothing to index."""
        if self._worker is not None or not self.roots or self.db_dir is None:
            return False
        prebuilt, self.prebuilt = self.prebuilt, None  # used once: later runs index what the user changed
        worker = run_in_pool(run_indexing, self._on_done, self._on_failed, list(self.roots), Path(model_path),
                             self.db_dir, device, commit_segments, on_progress=self.progress.emit, prebuilt=prebuilt)
        worker.signals.done.connect(self._on_worker_done)
        self._worker = worker
        self.started.emit()
        return True

    def cancel(self) -> None:
        """Ask the indexer to stop; what it committed is kept. ``cancelled`` follows when it has stopped."""
        if self._worker is not None:
            self._worker.cancel()

    def _on_worker_done(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None and worker.cancelled:
            self.cancelled.emit()

    def _on_done(self, report) -> None:
        self._worker = None
        self.finished.emit(report)

    def _on_failed(self, exc: BaseException) -> None:
        self._worker = None
        self.failed.emit(str(exc))
