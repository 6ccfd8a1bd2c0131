"""Small dialogs: keyboard shortcuts (generated from the actions) and About."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QMessageBox, QTableWidget, QTableWidgetItem, \
    QVBoxLayout, QWidget

from engine.version import __version__
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


def show_about(parent: QWidget, log_file: Path | None) -> None:
    QMessageBox.about(
        parent, "About Foley Assistant",
        f"<b>Foley Assistant</b> {__version__}<br>Sound suggestions from your own library for any video frame, "
        "ranked by a self-supervised audio-visual model.<br><br>"
        f"Log file: {log_file or 'not written'}")
