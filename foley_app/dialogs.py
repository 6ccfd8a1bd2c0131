"""Small dialogs: keyboard shortcuts (generated from the actions) and About."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.api import __version__
from foley_app.actions import shortcut_table

log = logging.getLogger(__name__)

EXTRA_SHORTCUTS = (  # keys handled by widgets rather than menu actions
    ("Timeline", "Delete clip", "Delete / Backspace"),
    ("Timeline", "Clip gain +1 dB / -1 dB", "+ / -"),
    ("Timeline", "Clip gain dialog", "Double-click a clip"),
    ("Timeline", "Zoom around the mouse", "Ctrl+Wheel"),
    ("Timeline", "Scroll in time", "Shift+Wheel"),
    ("Timeline", "Trim", "Drag a clip's edge"),
    ("Sounds", "Add to the timeline", "Drag a sound onto a track"),
    ("Sounds", "More like this", "Right-click a sound"),
)


def shortcuts_dialog(parent: QWidget, actions: dict[str, QAction]) -> QDialog:
    """A table of every shortcut, built from the live actions so it is never out of date."""
    rows = shortcut_table(actions) + list(EXTRA_SHORTCUTS)
    dlg = QDialog(parent)
    dlg.setWindowTitle("Keyboard shortcuts")
    table = QTableWidget(len(rows), 3, dlg)
    table.setHorizontalHeaderLabels(["Area", "Command", "Keys"])
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(22)
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
    table.setEditTriggers(QTableWidget.NoEditTriggers)
    table.setAlternatingRowColors(True)
    lay = QVBoxLayout(dlg)
    lay.addWidget(table)
    buttons = QDialogButtonBox(QDialogButtonBox.Close, dlg)
    buttons.rejected.connect(dlg.reject)
    lay.addWidget(buttons)
    dlg.resize(560, 640)
    return dlg


def show_shortcuts(parent: QWidget, actions: dict[str, QAction]) -> None:
    shortcuts_dialog(parent, actions).exec()


def about_text(log_file: Path | None) -> str:
    """The About box's text: what the app is, the pretrained models it builds on (with their licences), the log."""
    from html import escape

    from engine.api import TOWER_CREDITS

    credits = "".join(f"<li><b>{escape(name)}</b>: {escape(text)}</li>" for name, text in TOWER_CREDITS)
    return (f"<b>Foley Assistant</b> {__version__}<br>Sound suggestions from your own library for any video frame, "
            "ranked by a self-supervised audio-visual model.<br><br>"
            f"Built on these pretrained networks:<ul>{credits}</ul>"
            f"Log file: {escape(str(log_file)) if log_file else 'not written'}")


def show_about(parent: QWidget, log_file: Path | None) -> None:
    QMessageBox.about(parent, "About Foley Assistant", about_text(log_file))


class PreferencesDialog(QDialog):
    """Model file, compute device, list length and mode, audio output device (saved in QSettings)."""

    def __init__(self, parent: QWidget, settings, audio_devices: list[str]) -> None:
        from PySide6.QtWidgets import (
            QCheckBox,
            QComboBox,
            QFileDialog,
            QFormLayout,
            QHBoxLayout,
            QLineEdit,
            QPushButton,
            QSpinBox,
        )

        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        form = QFormLayout()
        self.model = QLineEdit(str(settings.model_path or ""), self)
        self.model.setPlaceholderText("bundled default model")
        browse = QPushButton("Browse\u2026", self)
        browse.clicked.connect(lambda: self.model.setText(
            QFileDialog.getOpenFileName(self, "Model file", self.model.text(), "Model files (*.pt)")[0] or self.model.text()))
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(browse)
        form.addRow("Model file", row)
        self.device = QComboBox(self)
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setCurrentText(settings.device)
        self.device.setToolTip("auto: CUDA when a GPU is available, else CPU")
        form.addRow("Compute device", self.device)
        self.top_k = QSpinBox(self)
        self.top_k.setRange(5, 200)
        self.top_k.setValue(settings.top_k)
        form.addRow("Sounds listed", self.top_k)
        self.per_segment = QCheckBox("One row per matching 1-s segment (instead of per file)", self)
        self.per_segment.setChecked(settings.per_segment)
        form.addRow("List mode", self.per_segment)
        self.audio = QComboBox(self)
        self.audio.addItem("System default", "")
        for name in audio_devices:
            self.audio.addItem(name, name)
        i = self.audio.findData(settings.audio_device)
        self.audio.setCurrentIndex(max(0, i))
        if not audio_devices:
            self.audio.setToolTip("no output devices found: audio output unavailable")
        form.addRow("Audio output", self.audio)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.resize(560, 0)

    def store(self) -> None:
        """Write the choices to the settings."""
        s = self.settings
        s.model_path = Path(self.model.text()) if self.model.text().strip() else None
        s.device = self.device.currentText()
        s.top_k = self.top_k.value()
        s.per_segment = self.per_segment.isChecked()
        s.audio_device = self.audio.currentData() or ""
