"""The playhead: seeking, frame/second steps, J/K/L shuttle, and playing video with the timeline mix.

The clock is the audio output when sound is playing at 1x (so picture follows sound), otherwise a
monotonic timer. The mix is rendered on a worker (``export.mixdown``) and cached per document
revision, so pressing play after an edit starts the picture at once and the sound as soon as the
mix is ready.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from foley_app.audio import Player
from foley_app.core.timecode import DEFAULT_FPS, usable_fps
from foley_app.workers import run_in_pool

log = logging.getLogger(__name__)

SHUTTLE_RATES = (1.0, 2.0, 4.0, 8.0)


class PlaybackController(QObject):
    """Owns the playhead time; the window shows it, the recommender follows it."""

    position_changed = Signal(float)
    playing_changed = Signal(bool, float)  # playing, rate
    status = Signal(str)

    def __init__(self, player: Player, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self.duration = 0.0
        self.fps = DEFAULT_FPS
        self.position = 0.0
        self.rate = 0.0  # 0 = stopped
        self._clock = QElapsedTimer()
        self._start_pos = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(15)
        self._timer.timeout.connect(self._tick)
        self._mix: np.ndarray | None = None
        self._mix_key: object = None
        self._mix_source = None  # callable returning (key, doc copy) or None
        self._extra: tuple[np.ndarray, float] | None = None  # an auditioned sound placed at a time

    @property
    def playing(self) -> bool:
        return self.rate != 0.0

    def set_video(self, duration: float, fps: float) -> None:
        self.stop()
        self.duration, self.fps = max(0.0, duration), usable_fps(fps)
        self.seek(0.0)

    def set_mix_source(self, source) -> None:
        """``source() -> (key, document copy)``; the key changes whenever the mix would."""
        self._mix_source = source

    # -- positioning ---------------------------------------------------------------------------
    def seek(self, t: float) -> None:
        t = min(max(0.0, t), self.duration if self.duration > 0 else max(0.0, t))
        was_playing = self.playing
        self.position = t
        if was_playing:
            self._restart_clock()
        self.position_changed.emit(t)

    def step_frames(self, n: int) -> None:
        self.pause()
        frame = math.floor(self.position * self.fps + 1e-6) + n
        self.seek(max(0, frame) / self.fps + 1e-4)

    def step_seconds(self, n: float) -> None:
        self.pause()
        self.seek(self.position + n)

    # -- transport -----------------------------------------------------------------------------
    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play(1.0)

    def shuttle(self, direction: int) -> None:
        """J (-1), K (0), L (+1): each press in the same direction doubles the speed, up to 8x."""
        if direction == 0:
            self.pause()
            return
        if self.playing and math.copysign(1, self.rate) == direction:
            i = SHUTTLE_RATES.index(abs(self.rate)) if abs(self.rate) in SHUTTLE_RATES else 0
            self.play(direction * SHUTTLE_RATES[min(i + 1, len(SHUTTLE_RATES) - 1)])
        else:
            self.play(direction * 1.0)

    def play(self, rate: float = 1.0, extra: tuple[np.ndarray, float] | None = None) -> None:
        """Start moving the playhead at ``rate``; at 1x also play the mix (plus ``extra`` sound at a time)."""
        if self.duration <= 0:
            return
        if rate > 0 and self.position >= self.duration - 1e-3:
            self.position = 0.0
        self.player.stop()
        self.rate = rate
        self._extra = extra
        self._restart_clock()
        self._timer.start()
        self.playing_changed.emit(True, rate)
        if rate == 1.0:
            self._start_audio()

    def pause(self) -> None:
        if not self.playing:
            return
        self._timer.stop()
        self.rate = 0.0
        self._extra = None
        self.player.stop()
        self.playing_changed.emit(False, 0.0)

    stop = pause

    def _restart_clock(self) -> None:
        self._start_pos = self.position
        self._clock.restart()
        if self.rate == 1.0 and self.player.playing:
            self.player.stop()
            self._start_audio()

    def _tick(self) -> None:
        if self.rate == 1.0 and self.player.playing:
            t = self.player.position
        else:
            t = self._start_pos + self.rate * self._clock.elapsed() / 1000.0
        if t >= self.duration or t <= 0.0 and self.rate < 0:
            t = min(max(0.0, t), self.duration)
            self.position = t
            self.position_changed.emit(t)
            self.pause()
            return
        self.position = t
        self.position_changed.emit(t)

    # -- sound ---------------------------------------------------------------------------------
    def _start_audio(self) -> None:
        if not self.player.available:
            self.status.emit(self.player.reason or "audio output unavailable")
            return
        key, doc = self._mix_source() if self._mix_source else (None, None)
        if doc is None and self._extra is None:
            return
        sr = self.player.sample_rate
        if self._extra is None and key == self._mix_key and self._mix is not None:
            self.player.play(self._mix[int(round(self.position * sr)) :], label="timeline", offset=self.position)
            return
        cached = self._mix if key == self._mix_key else None
        run_in_pool(render_from, self._on_rendered, lambda exc: self.status.emit(f"cannot mix the timeline: {exc}"),
                    key, doc, cached, self._extra, self.position, sr, owner=self)

    def _on_rendered(self, result: tuple) -> None:
        key, mix, buffer, start = result
        self._mix_key, self._mix = key, mix
        if self.rate == 1.0:
            sr = self.player.sample_rate
            skip = max(0, int(round((self.position - start) * sr)))
            self.player.play(buffer[skip:], label="timeline", offset=start + skip / sr)


def render_from(key: object, doc, cached: np.ndarray | None, extra: tuple[np.ndarray, float] | None,
                start: float, sr: int) -> tuple:
    """(key, whole mix, what to play from ``start`` with ``extra`` added, start) - on a worker."""
    if cached is not None:
        mix = cached
    elif doc is not None and doc.clip_count():
        from foley_app.core.mix import mixdown

        mix = mixdown(doc, sr=sr, skip_missing=True)  # moved sounds stay on the timeline, silent
    else:
        mix = np.zeros(0, np.float32)
    a0 = int(round(start * sr))
    out = np.array(mix[a0:], dtype=np.float32)
    if extra is not None:
        wave, at = extra
        a = int(round(at * sr)) - a0
        need = max(a, 0) + wave.size
        if out.size < need:
            out = np.concatenate([out, np.zeros(need - out.size, np.float32)])
        lo = max(0, -a)
        out[max(a, 0) : max(a, 0) + wave.size - lo] += wave[lo:]
        np.clip(out, -1.0, 1.0, out=out)
    return key, mix, out, start
