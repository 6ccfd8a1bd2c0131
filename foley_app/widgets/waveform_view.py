"""The audition waveform: the whole sound, its matched segment highlighted, and a moving playhead."""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from foley_app.theme import C
from foley_app.widgets.wave_image import bars_image

log = logging.getLogger(__name__)


class WaveformView(QWidget):
    """Draws min/max peaks of one sound; click to play from that point."""

    seek_requested = Signal(float)  # seconds into the sound

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(54)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setCursor(Qt.IBeamCursor)
        self._peaks: np.ndarray | None = None
        self._image = None  # the rendered waveform, redrawn only when the sound or size changes
        self._duration = 0.0
        self._segment: tuple[float, float] | None = None
        self._playhead: float | None = None
        self._title = ""
        self._message = "Select a sound to audition it"

    def set_sound(self, peaks: np.ndarray | None, duration: float, segment: tuple[float, float] | None, title: str = "") -> None:
        """Show a sound's (bins, 2) min/max peaks; ``segment`` is the matched part, in seconds."""
        self._peaks, self._duration, self._segment, self._title = peaks, max(duration, 1e-6), segment, title
        self._image = None
        self._playhead = None
        self.update()

    def set_message(self, text: str) -> None:
        self._peaks = None
        self._message = text
        self.update()

    def set_playhead(self, seconds: float | None) -> None:
        self._playhead = seconds
        self.update()

    @property
    def playhead(self) -> float | None:
        return self._playhead

    def _x(self, t: float) -> float:
        return t / self._duration * self.width()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), C.ruler)
        if self._peaks is None:
            p.setPen(C.text_dim)
            p.drawText(self.rect(), Qt.AlignCenter, self._message)
            return
        h = self.height()
        mid = h / 2
        if self._segment is not None:
            a, b = self._segment
            seg = QRectF(self._x(a), 0, max(2.0, self._x(b) - self._x(a)), h)
            fill = QColor(C.select)
            fill.setAlpha(110)
            p.fillRect(seg, fill)
            p.setPen(QPen(C.select.lighter(150), 1))
            p.drawLine(seg.topLeft(), seg.bottomLeft())
            p.drawLine(seg.topRight(), seg.bottomRight())
        w = self.width()
        if self._image is None or self._image.size() != self.size():
            top = max(1e-6, float(np.abs(self._peaks).max()))
            self._image = bars_image(self._peaks[:, 0] / top * 0.92, self._peaks[:, 1] / top * 0.92, w, h, C.wave)
        p.drawImage(0, 0, self._image)
        p.setPen(QPen(C.border, 1))
        p.drawLine(0, int(mid), w, int(mid))
        if self._title:
            p.setPen(C.text)
            p.drawText(QRectF(6, 2, w - 12, 16), Qt.AlignLeft | Qt.AlignVCenter, self._title)
            p.setPen(C.text_dim)
            p.drawText(QRectF(6, 2, w - 12, 16), Qt.AlignRight | Qt.AlignVCenter, f"{self._duration:.2f} s")
        if self._playhead is not None:
            x = self._x(self._playhead)
            p.setPen(QPen(C.accent, 2))
            p.drawLine(int(x), 0, int(x), h)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self._peaks is not None:
            self.seek_requested.emit(max(0.0, min(self._duration, event.position().x() / self.width() * self._duration)))
