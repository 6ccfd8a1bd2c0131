"""Auditioning a candidate: decode on a worker, draw its waveform, play the matched segment or the file."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.api import Candidate
from foley_app.audio import Player
from foley_app.core.audio_cache import default_cache
from foley_app.workers import run_in_pool

log = logging.getLogger(__name__)

WAVE_BINS = 1600
SEGMENT_S = 1.0  # the model matches 1-s segments


@dataclass
class LoadedSound:
    """A decoded sound ready to play and draw."""

    candidate: Candidate
    wave: np.ndarray  # mono float32 at 48 kHz
    peaks: np.ndarray  # (WAVE_BINS, 2) min/max
    duration: float


def load_sound(c: Candidate) -> LoadedSound:
    """Decode a candidate's file through the shared audio cache (worker thread)."""
    cache = default_cache()
    wave = cache.get(c.path)
    return LoadedSound(c, wave, cache.peaks(c.path, WAVE_BINS), wave.size / cache.sample_rate)


def segment_of(sound: LoadedSound, whole: bool) -> tuple[float, float]:
    """What to play: the matched 1-s segment, or the whole file."""
    if whole:
        return 0.0, sound.duration
    start = min(max(0.0, sound.candidate.start_s), max(0.0, sound.duration - 1e-3))
    return start, min(sound.duration, start + SEGMENT_S)


class AuditionController(QObject):
    """One sound at a time: a new audition stops the last; stale loads are dropped."""

    loaded = Signal(object)  # LoadedSound
    failed = Signal(str)
    status = Signal(str)

    def __init__(self, player: Player, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self.whole_file = False
        self.current: LoadedSound | None = None
        self._request = 0

    def audition(self, c: Candidate | None, play: bool = True) -> None:
        if c is None:
            return
        self._request += 1
        rid = self._request
        if self.current is not None and self.current.candidate.path == c.path:
            self.current = LoadedSound(c, self.current.wave, self.current.peaks, self.current.duration)
            self._on_loaded(rid, self.current, play)
            return
        self.player.stop()
        run_in_pool(load_sound, lambda s: self._on_loaded(rid, s, play), lambda e: self._on_failed(rid, c, e), c, owner=self)

    def _on_loaded(self, rid: int, sound: LoadedSound, play: bool) -> None:
        if rid != self._request:
            return
        self.current = sound
        self.loaded.emit(sound)
        if play:
            self.play_from(None)

    def _on_failed(self, rid: int, c: Candidate, exc: BaseException) -> None:
        if rid == self._request:
            self.failed.emit(f"cannot play {c.name}: {exc}")

    def play_from(self, t: float | None) -> None:
        """Play the current sound from ``t`` seconds (None: the segment/whole-file start)."""
        s = self.current
        if s is None:
            return
        a, b = segment_of(s, self.whole_file)
        if t is not None:
            a, b = t, s.duration if self.whole_file or t >= b or t < a else b
        sr = default_cache().sample_rate
        if not self.player.play(s.wave[int(a * sr) : int(b * sr)], label=s.candidate.name, offset=a):
            self.status.emit(self.player.reason or "audio output unavailable")

    def toggle(self) -> None:
        if self.player.playing:
            self.player.stop()
        else:
            self.play_from(None)

    def play_or_stop(self, c: Candidate | None) -> None:
        """The Play button: stop what plays, else audition ``c``."""
        if self.player.playing:
            self.player.stop()
        else:
            self.audition(c)

    def in_context(self, c: Candidate, at: float, playback) -> None:
        """Play the video from ``at`` with ``c``'s matched segment (or whole file) starting there."""

        def ready(s: LoadedSound) -> None:
            a, _ = segment_of(s, self.whole_file)
            playback.play(1.0, extra=(s.wave[int(a * default_cache().sample_rate):], at))

        run_in_pool(load_sound, ready, lambda exc: self.failed.emit(f"cannot play {c.name}: {exc}"), c, owner=self)
