"""The attention overlay: where the model looked in the frame at the playhead, asked for once the
playhead rests and drawn over the video."""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction

log = logging.getLogger(__name__)

REST_MS = 120  # the playhead rests this long before the (slow) attention pass is asked for


class AttentionOverlay(QObject):
    """Follows the View menu's Attention Overlay switch."""

    status = Signal(str)

    def __init__(self, engine, playback, video_view, action: QAction, parent: QObject | None = None) -> None:
        """``engine``: the ``EngineController``; ``playback``: the ``PlaybackController``; ``video_view``:
        the ``VideoView`` drawing it; ``action``: the checkable switch."""
        super().__init__(parent)
        self.engine, self.playback, self.view, self.action = engine, playback, video_view, action
        self._rest = QTimer(self)
        self._rest.setSingleShot(True)
        self._rest.setInterval(REST_MS)
        self._rest.timeout.connect(lambda: self.engine.request_attention(self.playback.position))
        engine.attention_ready.connect(self.show)

    @property
    def on(self) -> bool:
        return self.action.isChecked()

    def toggle(self, on: bool) -> None:
        """The switch: ask for the current frame's map, or clear the overlay."""
        if on:
            if not self.engine.is_ready:
                self.status.emit("the attention overlay needs the model; it is still loading")
            self.engine.request_attention(self.playback.position)
        else:
            self.view.set_overlay(None)
            self.view.set_caption("")

    def moved(self) -> None:
        """The playhead moved: a new map once it rests (not while playing)."""
        if self.on and not self.playback.playing:
            self._rest.start()

    def show(self, t: float, heat: np.ndarray | None) -> None:
        """A map arrived (None: this model has none)."""
        if not self.on:
            return
        if heat is None:
            self.view.set_overlay(None)
            self.view.set_caption("this model has no attention maps")
        else:
            self.view.set_overlay(heat)
            self.view.set_caption("where the model looked")
