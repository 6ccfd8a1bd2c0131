"""A strip of 1-fps thumbnails under the video, with the playhead and the list's second marked."""

from __future__ import annotations

import logging

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from foley_app.theme import C

log = logging.getLogger(__name__)


class Filmstrip(QWidget):
    """Thumbnails for seconds 0..n-1 side by side; scrolls itself to keep the playhead in view."""

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(58)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setToolTip("1 frame per second; click to jump. The amber frame is the second the list belongs to.")
        self._thumbs: dict[int, QImage] = {}
        self._n = 0
        self._aspect = 16 / 9
        self._position = 0.0
        self._marker: int | None = None
        self._scroll = 0.0  # pixels

    def clear(self, n_seconds: int = 0, aspect: float = 16 / 9) -> None:
        self._thumbs.clear()
        self._n = n_seconds
        self._aspect = aspect if aspect > 0 else 16 / 9
        self._scroll = 0.0
        self.update()

    def set_thumbnail(self, second: int, image: QImage) -> None:
        self._thumbs[second] = image
        self.update()

    def _cell(self) -> float:
        return (self.height() - 6) * self._aspect + 2

    def set_position(self, seconds: float) -> None:
        self._position = seconds
        cell = self._cell()
        x = seconds * cell - self._scroll
        if x < cell or x > self.width() - cell:  # keep the playhead a cell away from the edges
            max_scroll = max(0.0, self._n * cell - self.width())
            self._scroll = min(max_scroll, max(0.0, seconds * cell - self.width() / 2))
        self.update()

    def set_marker(self, second: int | None) -> None:
        self._marker = second
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), C.ruler)
        cell = self._cell()
        h = self.height() - 6
        first = max(0, int(self._scroll // cell))
        last = min(self._n, int((self._scroll + self.width()) // cell) + 1)
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        for s in range(first, last):
            r = QRectF(s * cell - self._scroll + 1, 3, cell - 2, h)
            img = self._thumbs.get(s)
            if img is not None:
                p.drawImage(r, img)
            else:
                p.fillRect(r, C.panel)
            if s % 5 == 0:
                p.setPen(C.text)
                p.drawText(r.adjusted(3, 1, 0, 0), Qt.AlignLeft | Qt.AlignTop, f"{s}s")
        if self._marker is not None and first <= self._marker < last:
            r = QRectF(self._marker * cell - self._scroll + 1, 2, cell - 2, h + 2)
            p.setPen(QPen(C.accent, 2))
            p.drawRect(r)
        x = self._position * cell - self._scroll
        p.setPen(QPen(C.accent, 1.5))
        p.drawLine(int(x), 0, int(x), self.height())

    def mousePressEvent(self, event) -> None:  # noqa: N802
        t = (event.position().x() + self._scroll) / self._cell()
        if self._n:
            self.seek_requested.emit(min(float(self._n), max(0.0, t)))

    def wheelEvent(self, event) -> None:  # noqa: N802
        cell = self._cell()
        self._scroll = min(max(0.0, self._n * cell - self.width()), max(0.0, self._scroll - event.angleDelta().y()))
        self.update()
