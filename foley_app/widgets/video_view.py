"""The frame view: the current video frame with its aspect ratio kept, and an optional attention overlay."""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from foley_app.theme import C

log = logging.getLogger(__name__)


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """Wrap an RGB uint8 (H, W, 3) array as a QImage (a copy, so the array may be freed)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()


def heat_to_qimage(heat: np.ndarray) -> QImage:
    """A (h, w) attention map as a translucent amber-to-white RGBA image (peak = most opaque)."""
    heat = np.asarray(heat, dtype=np.float32)
    span = float(heat.max() - heat.min())
    norm = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    rgba = np.empty(heat.shape + (4,), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (120 + 135 * norm**2).astype(np.uint8)
    rgba[..., 2] = (40 + 200 * norm**3).astype(np.uint8)
    rgba[..., 3] = (200 * norm**1.5).astype(np.uint8)
    h, w = heat.shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format_RGBA8888).copy()


class VideoView(QWidget):
    """Paints the frame letterboxed in the widget; the overlay is stretched over the picture."""

    clicked = Signal()
    resized = Signal(int, int)  # device pixels available for the picture

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(240, 135)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setFocusPolicy(Qt.ClickFocus)  # a click on the picture takes the keyboard (e.g. from the filter)
        self._image: QImage | None = None
        self._overlay: QImage | None = None
        self._message = "Drop a video here, or File \u25b8 Open Video\u2026"
        self._caption = ""

    def set_image(self, image: QImage | None) -> None:
        """Show a frame already scaled (by the decoder thread) to fit the widget."""
        self._image = image
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802
        ratio = self.devicePixelRatioF()
        self.resized.emit(int(self.width() * ratio), int(self.height() * ratio))
        super().resizeEvent(event)

    def set_overlay(self, heat: np.ndarray | None) -> None:
        """Show an attention map over the frame (None hides it)."""
        self._overlay = heat_to_qimage(heat) if heat is not None else None
        self.update()

    @property
    def has_overlay(self) -> bool:
        return self._overlay is not None

    @property
    def message(self) -> str:
        """The text shown while there is no frame."""
        return self._message

    def set_message(self, text: str) -> None:
        """Text shown when there is no frame (e.g. what to do next)."""
        self._message = text
        self.update()

    def set_caption(self, text: str) -> None:
        """A small label in the picture's top-left corner (e.g. the overlay's meaning)."""
        self._caption = text
        self.update()

    def picture_rect(self) -> QRectF:
        """Where the frame is drawn: the largest rectangle of the frame's aspect ratio that fits."""
        if self._image is None:
            return QRectF(self.rect())
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def caption_rect(self) -> tuple[QRectF, bool]:
        """Where the caption goes, and whether that is over the picture: in the black band above or
        below the picture, or beside it, when there is room; else a small box in its top-left corner."""
        fm = self.fontMetrics()
        w, h = fm.horizontalAdvance(self._caption) + 12, fm.height() + 6
        pic = self.picture_rect()
        if pic.top() >= h + 2:
            return QRectF(pic.left(), pic.top() - h - 1, w, h), False
        if self.height() - pic.bottom() >= h + 2:
            return QRectF(pic.left(), pic.bottom() + 1, w, h), False
        if pic.left() >= w + 2:
            return QRectF(pic.left() - w - 1, pic.top(), w, h), False
        return QRectF(pic.left() + 4, pic.top() + 4, w, h), True

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#0d0d0f"))
        if self._image is None:
            p.setPen(C.text_dim)
            p.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self._message)
            return
        target = self.picture_rect()
        if abs(target.width() - self._image.width()) > 1.5:  # only scale what the decoder did not
            p.setRenderHint(QPainter.SmoothPixmapTransform)
        p.drawImage(target, self._image)
        if self._overlay is not None:
            p.setRenderHint(QPainter.SmoothPixmapTransform)  # the map is coarse (e.g. 28x28): blend it smoothly
            p.drawImage(target, self._overlay)
        if self._caption:
            box, inside = self.caption_rect()
            if inside:  # no room beside the picture: a dark backdrop keeps it legible and small
                p.fillRect(box, QColor(0, 0, 0, 170))
            p.setPen(QPen(C.accent))
            p.drawText(box, Qt.AlignCenter, self._caption)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.clicked.emit()
        super().mousePressEvent(event)
