"""Transport bar: step/play buttons, shuttle speed, HH:MM:SS:FF timecode and the scrubber."""

from __future__ import annotations

import logging

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from foley_app.core.timecode import DEFAULT_FPS, seconds_to_timecode, usable_fps
from foley_app.resources import icon
from foley_app.theme import C

log = logging.getLogger(__name__)


class Scrubber(QWidget):
    """A thin time ruler with ticks each second, a playhead, and the second the list belongs to."""

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(26)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("Click or drag to move the playhead")
        self.duration = 0.0
        self.position = 0.0
        self.marker: int | None = None  # the second the candidate list was computed for
        self.cached_until = 0  # seconds of the video already embedded by the background pass

    def set_duration(self, seconds: float) -> None:
        self.duration = max(0.0, seconds)
        self.update()

    def set_position(self, seconds: float) -> None:
        self.position = seconds
        self.update()

    def set_marker(self, second: int | None) -> None:
        self.marker = second
        self.update()

    def set_cached(self, seconds: int) -> None:
        self.cached_until = seconds
        self.update()

    def _x(self, t: float) -> float:
        return 6 + (self.width() - 12) * (t / self.duration if self.duration > 0 else 0.0)

    def _t(self, x: float) -> float:
        if self.duration <= 0:
            return 0.0
        return min(self.duration, max(0.0, (x - 6) / (self.width() - 12) * self.duration))

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), C.ruler)
        h = self.height()
        if self.duration > 0:
            # embedded-so-far band, so the user sees where recommendations are instant
            p.fillRect(QRectF(self._x(0), h - 4, self._x(self.cached_until) - self._x(0), 3), C.wave_dim)
            step = 1 if self.width() / max(self.duration, 1) > 12 else (5 if self.width() / max(self.duration, 1) > 3 else 30)
            p.setPen(QPen(C.border, 1))
            for s in range(0, int(self.duration) + 1, step):
                x = self._x(s)
                tall = s % (step * 5) == 0
                p.drawLine(int(x), h - (12 if tall else 7), int(x), h - 4)
            if self.marker is not None:
                x0, x1 = self._x(self.marker), self._x(min(self.duration, self.marker + 1))
                p.fillRect(QRectF(x0, 2, max(2.0, x1 - x0), h - 8), C.select)
        x = self._x(self.position)
        p.setPen(QPen(C.accent, 2))
        p.drawLine(int(x), 0, int(x), h)
        tri = QPainterPath()
        tri.moveTo(x - 5, 0)
        tri.lineTo(x + 5, 0)
        tri.lineTo(x, 7)
        tri.closeSubpath()
        p.fillPath(tri, C.accent)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.seek_requested.emit(self._t(event.position().x()))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if event.buttons() & Qt.LeftButton:
            self.seek_requested.emit(self._t(event.position().x()))


class TransportBar(QWidget):
    """Buttons + timecode + scrubber; emits requests, the playback controller decides."""

    seek_requested = Signal(float)
    step_requested = Signal(int)  # frames (negative = back)
    play_toggled = Signal()
    context_requested = Signal()  # audition the selected sound against the video

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fps = DEFAULT_FPS
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(3)

        def button(name: str, tip: str) -> QToolButton:
            b = QToolButton(self)
            b.setIcon(icon(name))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            lay.addWidget(b)
            return b

        self.back_button = button("step-back", "Previous frame (\u2190); Shift+\u2190: one second back")
        self.back_button.clicked.connect(lambda: self.step_requested.emit(-1))
        self.play_button = button("play", "Play / pause (Space); J/K/L shuttle")
        self.play_button.clicked.connect(self.play_toggled)
        self.fwd_button = button("step-forward", "Next frame (\u2192); Shift+\u2192: one second forward")
        self.fwd_button.clicked.connect(lambda: self.step_requested.emit(1))
        self.context_button = button("play-context", "Audition the selected sound in context: video + sound from the playhead (C)")
        self.context_button.clicked.connect(self.context_requested)
        self.timecode = QLabel(seconds_to_timecode(0.0, self.fps), self)
        self.timecode.setObjectName("timecode")
        self.timecode.setToolTip("Playhead (HH:MM:SS:FF)")
        lay.addWidget(self.timecode)
        self.scrubber = Scrubber(self)
        self.scrubber.seek_requested.connect(self.seek_requested)
        lay.addWidget(self.scrubber, 1)
        self.duration_label = QLabel(seconds_to_timecode(0.0, self.fps), self)
        self.duration_label.setObjectName("dim")
        self.duration_label.setToolTip("Video length")
        lay.addWidget(self.duration_label)
        self.shuttle_label = QLabel("", self)
        self.shuttle_label.setObjectName("dim")
        self.shuttle_label.setMinimumWidth(34)
        lay.addWidget(self.shuttle_label)

    def set_video(self, duration: float, fps: float) -> None:
        self.fps = usable_fps(fps)
        self.scrubber.set_duration(duration)
        self.duration_label.setText(seconds_to_timecode(duration, self.fps))

    def set_position(self, seconds: float) -> None:
        self.timecode.setText(seconds_to_timecode(seconds, self.fps))
        self.scrubber.set_position(seconds)

    def set_playing(self, playing: bool, rate: float = 1.0) -> None:
        self.play_button.setIcon(icon("pause" if playing else "play"))
        self.shuttle_label.setText("" if not playing or rate == 1.0 else f"{rate:+g}\u00d7")
