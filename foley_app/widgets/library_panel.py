"""The library panel: the folders that make up the sound library, indexing progress and cancel."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from foley_app.resources import icon

log = logging.getLogger(__name__)


class LibraryPanel(QWidget):
    """Shows folders and indexing state; emits requests, the library controller does the work."""

    folders_changed = Signal(list)  # list[Path]
    index_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        bar = QHBoxLayout()
        bar.setSpacing(2)

        def button(name: str, tip: str, slot) -> QToolButton:
            b = QToolButton(self)
            b.setIcon(icon(name))
            b.setToolTip(tip)
            b.clicked.connect(slot)
            bar.addWidget(b)
            return b

        self.add_button = button("folder-add", "Add a folder of sounds to the library", self._on_add)
        self.remove_button = button("folder-remove", "Remove the selected folder from the library", self._on_remove)
        self.index_button = button("waveform", "Index new and changed sounds now", self.index_requested.emit)
        bar.addStretch(1)
        self.stats = QLabel("no library", self)
        self.stats.setObjectName("dim")
        bar.addWidget(self.stats)
        lay.addLayout(bar)
        self.list = QListWidget(self)
        self.list.setToolTip("Folders scanned for sounds (wav, flac, ogg, mp3, aiff\u2026)")
        lay.addWidget(self.list, 1)
        self.details = QLabel("", self)
        self.details.setObjectName("dim")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.details)
        prog = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setFormat("%v / %m files")
        self.progress.setVisible(False)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setIcon(icon("cancel"))
        self.cancel_button.setToolTip("Stop indexing (what is done is kept)")
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.cancel_button.setVisible(False)
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.cancel_button)
        lay.addLayout(prog)

    def folders(self) -> list[Path]:
        return [Path(self.list.item(i).data(Qt.UserRole)) for i in range(self.list.count())]

    def set_folders(self, folders: list[Path]) -> None:
        self.list.clear()
        for f in folders:
            item = QListWidgetItem(icon("folder-open"), f"{f.name or f}    \u2014  {f.parent}")
            item.setToolTip(str(f))
            item.setData(Qt.UserRole, str(f))
            self.list.addItem(item)

    def set_stats(self, text: str, details: str = "") -> None:
        self.stats.setText(text)
        self.details.setText(details)

    def show_engine(self, info, demo: bool) -> None:
        """What the loaded index holds, where it is, and which model ranks it."""
        self.set_stats(
            f"{info.n_files:,} files \u00b7 {info.n_segments:,} segments",
            f"{info.hours * 60:.1f} minutes of sound in {info.categories} categories"
            + (f", {info.skipped} unreadable files skipped" if info.skipped else "")
            + f"\nIndex: {info.db_dir}\nModel: {info.model_path} ({info.model_id})"
            + ("\nThis is the bundled demo library; add your own folders with the + button." if demo else ""))

    def set_indexing(self, active: bool) -> None:
        self.progress.setVisible(active)
        self.cancel_button.setVisible(active)
        self.index_button.setEnabled(not active)
        if active:
            self.progress.setRange(0, 0)  # busy until the first report

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def add_folder(self, folder: Path) -> None:
        if folder in self.folders():
            return
        self.set_folders(self.folders() + [folder])
        self.folders_changed.emit(self.folders())

    def _on_add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of sounds")
        if folder:
            self.add_folder(Path(folder))

    def _on_remove(self) -> None:
        row = self.list.currentRow()
        if row < 0:
            return
        folders = self.folders()
        del folders[row]
        self.set_folders(folders)
        self.folders_changed.emit(folders)
