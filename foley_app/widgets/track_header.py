"""One track's header beside the timeline: name, mute, solo and volume."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QMenu, QSlider, QToolButton, QVBoxLayout, QWidget

from foley_app.theme import C

log = logging.getLogger(__name__)

VOLUME_MIN_DB, VOLUME_MAX_DB = -60, 12


class TrackHeader(QWidget):
    """Emits requests; the document (through the undo stack) is the source of truth."""

    mute_toggled = Signal(str, bool)  # track id, mute
    solo_toggled = Signal(str, bool)
    volume_changed = Signal(str, float)  # track id, dB (on release)
    rename_requested = Signal(str, str)  # track id, new name
    remove_requested = Signal(str)  # track id

    def __init__(self, track_id: str, name: str, height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.track_id = track_id
        self.setFixedHeight(height)
        self.setAutoFillBackground(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 3, 6, 3)
        lay.setSpacing(2)
        top = QHBoxLayout()
        top.setSpacing(3)
        self.name_label = QLabel(name, self)
        self.name_label.setStyleSheet("font-weight: bold; background: transparent;")
        top.addWidget(self.name_label, 1)
        self.mute_button = self._toggle("M", "Mute this track", C.mute.name())
        self.mute_button.toggled.connect(lambda on: self.mute_toggled.emit(self.track_id, on))
        self.solo_button = self._toggle("S", "Solo this track (only soloed tracks play)", C.solo.name())
        self.solo_button.toggled.connect(lambda on: self.solo_toggled.emit(self.track_id, on))
        top.addWidget(self.mute_button)
        top.addWidget(self.solo_button)
        lay.addLayout(top)
        bottom = QHBoxLayout()
        bottom.setSpacing(4)
        self.volume = QSlider(Qt.Horizontal, self)
        self.volume.setRange(VOLUME_MIN_DB * 10, VOLUME_MAX_DB * 10)
        self.volume.setToolTip("Track volume (dB); double-click the header to reset, right-click for more")
        self.volume_label = QLabel("0.0 dB", self)
        self.volume_label.setObjectName("dim")
        self.volume_label.setFixedWidth(54)
        self.volume.valueChanged.connect(lambda v: self.volume_label.setText(f"{v / 10:+.1f} dB"))
        self.volume.sliderReleased.connect(lambda: self.volume_changed.emit(self.track_id, self.volume.value() / 10))
        bottom.addWidget(self.volume, 1)
        bottom.addWidget(self.volume_label)
        lay.addLayout(bottom)

    def _toggle(self, text: str, tip: str, colour: str) -> QToolButton:
        b = QToolButton(self)
        b.setText(text)
        b.setCheckable(True)
        b.setToolTip(tip)
        b.setFixedSize(20, 18)
        b.setStyleSheet(f"QToolButton {{ border: 1px solid {C.border.name()}; font-weight: bold; }}"
                        f"QToolButton:checked {{ background: {colour}; color: #111; border-color: {colour}; }}")
        return b

    def sync(self, name: str, mute: bool, solo: bool, volume_db: float) -> None:
        """Show the document's state without emitting requests."""
        for w in (self.mute_button, self.solo_button, self.volume):
            w.blockSignals(True)
        self.name_label.setText(name)
        self.mute_button.setChecked(mute)
        self.solo_button.setChecked(solo)
        self.volume.setValue(int(round(volume_db * 10)))
        self.volume_label.setText(f"{volume_db:+.1f} dB")
        for w in (self.mute_button, self.solo_button, self.volume):
            w.blockSignals(False)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        self.volume.setValue(0)
        self.volume_changed.emit(self.track_id, 0.0)

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        menu = QMenu(self)
        menu.addAction("Rename track\u2026", self._ask_name)
        menu.addAction("Reset volume", lambda: self.mouseDoubleClickEvent(None))
        menu.addSeparator()
        menu.addAction("Remove track", lambda: self.remove_requested.emit(self.track_id))
        menu.exec(event.globalPos())

    def _ask_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Rename track", "Name:", text=self.name_label.text())
        if ok and name.strip():
            self.rename_requested.emit(self.track_id, name.strip())
