"""The window's status bar: passing messages and warnings, and what is loaded (library, model, device,
audio output, the video analysis in progress)."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from foley_app.theme import C

log = logging.getLogger(__name__)

MESSAGE_MS = 6000
WARNING_MS = 10000


class StatusBar(QStatusBar):
    """Messages on the left, permanent labels on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cache = QLabel("")
        self.library = QLabel("library: \u2014")
        self.model = QLabel("model: \u2014")
        self.device = QLabel("")
        self.audio = QLabel("")
        for w in (self.cache, self.library, self.model, self.device, self.audio):
            self.addPermanentWidget(w)

    def say(self, text: str) -> None:
        """A passing note."""
        self.showMessage(text, MESSAGE_MS)

    def warn(self, text: str) -> None:
        """Something went wrong or needs doing (also logged)."""
        log.warning("%s", text)
        self.showMessage(f"\u26a0 {text}", WARNING_MS)

    def set_engine(self, info) -> None:
        """The loaded library, model and device."""
        self.library.setText(f"library: {info.n_files:,} files \u00b7 {info.n_segments:,} segments")
        self.library.setToolTip(str(info.db_dir))
        self.model.setText(f"model: {info.model_path.name} ({info.model_id[:8]})")
        self.model.setToolTip(str(info.model_path))
        self.device.setText(info.device.upper())

    def set_audio(self, available: bool, reason: str) -> None:
        """Whether sound can play, and why not."""
        self.audio.setText("audio: on" if available else "\u26a0 audio output unavailable")
        self.audio.setToolTip(reason or "sound plays through the default output device")
        self.audio.setStyleSheet("" if available else f"color: {C.accent.name()};")

    def set_video_pass(self, done: int, total: int) -> None:
        """How far the background analysis of the video is (hidden when done)."""
        self.cache.setText("" if done >= total else f"analysing video {done}/{total} s")
