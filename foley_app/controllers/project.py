"""Projects and exports: new/open/save/save as, autosave and recovery, recent files, the unsaved-changes
prompt, moved media, and the four exports run on workers with progress and cancel."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QWidget

from engine.api import EngineError
from foley_app.controllers.timeline import TimelineController
from foley_app.core import project_io
from foley_app.core.commands import RelinkMedia
from foley_app.core.document import Document
from foley_app.resources import documents_dir, is_bundled
from foley_app.settings import Settings
from foley_app.workers import run_in_pool

log = logging.getLogger(__name__)

AUTOSAVE_MS = 30_000
PROJECT_FILTER = "Foley projects (*.foley.json *.json)"

EXPORTS = {  # key: (menu text, file filter, default suffix)
    "wav": ("Mix as WAV\u2026", "WAV audio (*.wav)", ".wav"),
    "video": ("Video with sound\u2026", "MP4 video (*.mp4)", ".mp4"),
    "otio": ("OpenTimelineIO\u2026", "OpenTimelineIO (*.otio)", ".otio"),
    "csv": ("Cue sheet (CSV)\u2026", "CSV (*.csv)", ".csv"),
    "stems": ("Stems\u2026", "", ""),  # a folder
}


def run_export(kind: str, doc: Document, path: Path, mode: str, cancel, progress) -> Path:
    """One export on a worker thread (``doc`` is a copy taken on the GUI thread)."""
    from foley_app.core import export

    if kind == "wav":
        return export.export_wav(doc, path, mode=mode, progress=progress, cancel=cancel)
    if kind == "video":
        return export.export_video(doc, path, mode=mode, progress=progress, cancel=cancel)
    if kind == "otio":
        return export.export_otio(doc, path)
    if kind == "csv":
        return export.export_cue_csv(doc, path)
    if kind == "stems":
        export.export_stems(doc, path, progress=progress, cancel=cancel)
        return path
    raise ValueError(f"unknown export {kind!r}")


class ProjectController(QObject):
    """File-level actions for the window; dialogs are parented to ``window``."""

    document_loaded = Signal(object)  # Document (new, opened or recovered)
    saved = Signal(Path)
    recent_changed = Signal(list)
    status = Signal(str)
    export_finished = Signal(str, Path)  # kind, path

    def __init__(self, window: QWidget, timeline: TimelineController, settings: Settings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.timeline = timeline
        self.settings = settings
        self.mix_mode = "limit"
        self.autosave = QTimer(self)
        self.autosave.setInterval(AUTOSAVE_MS)
        self.autosave.timeout.connect(self.write_autosave)
        self.autosave.start()
        self._export_worker = None

    @property
    def doc(self) -> Document:
        return self.timeline.doc

    # -- unsaved changes ---------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False if the user cancelled (keep the current document)."""
        if not self.doc.dirty or self.doc.clip_count() == 0 and self.doc.path is None:
            return True
        name = self.doc.path.name if self.doc.path else "Untitled"
        answer = QMessageBox.warning(
            self.window, "Unsaved changes", f"Save the changes to {name}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Cancel:
            return False
        if answer == QMessageBox.Save:
            return self.save()
        project_io.discard_autosave(self.doc)
        return True

    # -- new / open / save ----------------------------------------------------------------------
    def new(self, video: Path | None = None) -> bool:
        if not self.maybe_save():
            return False
        project_io.discard_autosave(self.doc)
        doc = self.timeline.new_document(video)
        self.document_loaded.emit(doc)
        return True

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project", str(self._last_dir()), PROJECT_FILTER)
        if path:
            self.open(Path(path))

    def open(self, path: Path, ask: bool = True) -> bool:
        """Load a project (offering its autosave if newer); False on error or cancel."""
        if ask and not self.maybe_save():
            return False
        source = Path(path)
        recovery = project_io.find_recovery(source)
        if recovery is not None and ask:
            answer = QMessageBox.question(
                self.window, "Recover unsaved work",
                f"{source.name} has an autosave newer than the project (the app may have closed unexpectedly).\n"
                "Open the recovered version?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
            if answer == QMessageBox.Yes:
                source = recovery
        try:
            doc = project_io.load_project(source)
        except EngineError as exc:
            self._error("Cannot open project", str(exc))
            return False
        self.timeline.set_document(doc)
        self._remember(Path(path))
        self.document_loaded.emit(doc)
        self.check_missing()
        return True

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        if project_io.changed_on_disk(self.doc):  # another window or program saved it since we did
            choice = self._ask_overwrite(self.doc.path)
            if choice == "cancel":
                return False
            if choice == "save_as":
                return self.save_as()
        return self._save_to(self.doc.path)

    def _ask_overwrite(self, path: Path) -> str:
        """'overwrite', 'save_as' or 'cancel' when the project file changed on disk behind our back."""
        box = QMessageBox(QMessageBox.Warning, "Project changed on disk",
                          f"{path.name} was changed by another window or program since you opened or saved it.",
                          parent=self.window)
        box.setInformativeText("Overwrite it with this version, or save this version under another name?")
        overwrite = box.addButton("Overwrite", QMessageBox.DestructiveRole)
        save_as = box.addButton("Save As…", QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(save_as)
        box.exec()
        clicked = box.clickedButton()
        return "overwrite" if clicked is overwrite else "save_as" if clicked is save_as else "cancel"

    def save_as(self) -> bool:
        path = self.doc.path
        if path is not None and not is_bundled(path):
            suggested = path
        else:  # a new project, or the bundled demo project: a file of the user's own, next to the video
            stem = path.name.removesuffix(project_io.PROJECT_SUFFIX) if path else (self.doc.video.stem if self.doc.video else "untitled")
            suggested = self._save_dir() / f"{stem}{project_io.PROJECT_SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project as", str(suggested), PROJECT_FILTER)
        if not path:
            return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        old_autosave = project_io.autosave_path(self.doc)
        try:
            project_io.save_project(self.doc, path)
        except (EngineError, OSError) as exc:
            self._error("Cannot save project", str(exc))
            return False
        old_autosave.unlink(missing_ok=True)
        project_io.discard_autosave(self.doc)
        self._remember(path)
        self.saved.emit(path)
        self.status.emit(f"saved {path.name}")
        return True

    def write_autosave(self) -> None:
        """Keep a recovery copy of unsaved work (small JSON, atomic)."""
        if self.doc.dirty and self.doc.clip_count():
            try:
                project_io.write_autosave(self.doc)
            except (EngineError, OSError) as exc:
                log.warning("autosave failed: %s", exc)

    def offer_untitled_recovery(self) -> bool:
        """At start-up: reopen an untitled document a crash left behind, if the user wants it."""
        found = project_io.untitled_autosaves()
        if not found:
            return False
        answer = QMessageBox.question(
            self.window, "Recover unsaved work",
            f"An unsaved project from an earlier session was found ({found[0].name}).\nRecover it?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        if answer != QMessageBox.Yes:
            for p in found:
                p.unlink(missing_ok=True)
            return False
        try:
            doc = project_io.load_project(found[0])
        except EngineError as exc:
            self._error("Cannot recover", str(exc))
            return False
        found[0].unlink(missing_ok=True)
        self.timeline.set_document(doc)
        self.document_loaded.emit(doc)
        return True

    def check_missing(self) -> None:
        """Tell the user which media moved, and offer to look for them in a folder."""
        missing = project_io.missing_media(self.doc)
        if not missing:
            return
        shown = "\n".join(f"  {p}" for p in missing[:12]) + ("\n  \u2026" if len(missing) > 12 else "")
        box = QMessageBox(QMessageBox.Warning, "Media not found",
                          f"{len(missing)} file(s) used by this project were moved or deleted:\n{shown}\n\n"
                          "Clips of missing sounds stay on the timeline but are silent.", parent=self.window)
        locate = box.addButton("Locate folder\u2026", QMessageBox.AcceptRole)
        box.addButton("Continue", QMessageBox.RejectRole)
        box.exec()
        if box.clickedButton() is locate:
            folder = QFileDialog.getExistingDirectory(self.window, "Folder holding the moved media")
            if folder:
                self.relink(missing, Path(folder))

    def relink(self, missing: list[Path], folder: Path) -> int:
        mapping = project_io.find_relinks(missing, folder)
        if mapping:
            self.timeline.apply(RelinkMedia(mapping))
        self.status.emit(f"relinked {len(mapping)} of {len(missing)} files")
        return len(mapping)

    # -- exports ---------------------------------------------------------------------------------
    def export_dialog(self, kind: str) -> None:
        text, filt, suffix = EXPORTS[kind]
        if kind == "stems":  # a folder: one Broadcast WAV per audible track
            folder = QFileDialog.getExistingDirectory(self.window, "Export stems into a folder", str(self._last_dir()))
            if folder:
                self.export(kind, Path(folder))
            return
        base = self.doc.path.name.removesuffix(project_io.PROJECT_SUFFIX) if self.doc.path else (
            self.doc.video.stem if self.doc.video else "mix")
        path, _ = QFileDialog.getSaveFileName(self.window, f"Export {text.rstrip(chr(0x2026))}",
                                              str(self._last_dir() / f"{base}{suffix}"), filt)
        if path:
            self.export(kind, Path(path))

    def export(self, kind: str, path: Path, on_done: Callable[[Path], None] | None = None) -> None:
        """Run an export on a worker with a progress dialog (cancel keeps the old file)."""
        dialog = QProgressDialog(f"Exporting {path.name}\u2026", "Cancel", 0, 0, self.window)
        dialog.setWindowTitle("Export")
        dialog.setMinimumDuration(400)

        def done(out: Path) -> None:
            dialog.close()
            self.status.emit(f"exported {out}")
            self.export_finished.emit(kind, out)
            if on_done:
                on_done(out)

        def failed(exc: BaseException) -> None:
            dialog.close()
            self._error("Export failed", str(exc))

        def progress(i: int, n: int) -> None:
            dialog.setRange(0, max(1, n))
            dialog.setValue(i)

        worker = run_in_pool(run_export, done, failed, kind, self.doc.copy(), path, self.mix_mode,
                             on_progress=progress, owner=self)
        dialog.canceled.connect(worker.cancel)
        self._export_worker = worker

    # -- helpers ---------------------------------------------------------------------------------
    def _remember(self, path: Path) -> None:
        self.settings.add_recent_project(Path(path))
        self.recent_changed.emit(self.settings.recent_projects())

    def _last_dir(self) -> Path:
        """Where export dialogs start: the project's folder, the last project's, the video's; never the
        installation's bundled resources (the demo folder): then the documents folder."""
        recent = self.settings.recent_projects()
        for folder in (self.doc.path.parent if self.doc.path else None, recent[0].parent if recent else None,
                       self.doc.video.parent if self.doc.video else None):
            if folder is not None and not is_bundled(folder):
                return folder
        return documents_dir()

    def _save_dir(self) -> Path:
        """Where Save As starts for a new file: the video's folder, else the last project's, else the
        documents folder (for the bundled demo video too)."""
        recent = self.settings.recent_projects()
        for folder in (self.doc.video.parent if self.doc.video else None, recent[0].parent if recent else None):
            if folder is not None and not is_bundled(folder) and folder.is_dir():
                return folder
        return documents_dir()

    def _error(self, title: str, text: str) -> None:
        log.warning("%s: %s", title, text)
        QMessageBox.warning(self.window, title, text)
