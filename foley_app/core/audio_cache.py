"""Decoded sounds kept in memory (LRU, bounded in bytes) for mixdown, playback and waveform drawing.

Decoding goes through ``engine.data.media.load_audio`` (mono float32 at the cache's rate). Entries
are keyed by the resolved path plus the file's size and modification time, so a file that changes
on disk is decoded again. Arrays handed out are read-only views of the cached data. Thread-safe:
the GUI's workers and an export may use one cache at once; a file is decoded once even when two
threads ask for it together. Decoding can take a while: never call ``get``/``peaks`` on the GUI
thread for a file that may not be cached yet.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from engine.api import load_audio

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
_MAX_PEAK_ENTRIES = 512


def _file_key(path: Path) -> tuple[str, int, int]:
    path = Path(path).resolve()
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, -1)  # load_audio raises a MediaError naming the file
    return (str(path), st.st_size, st.st_mtime_ns)


class AudioCache:
    """Whole decoded sound files, least recently used dropped first once ``max_bytes`` is passed."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, sample_rate: int = 48_000) -> None:
        self.max_bytes = int(max_bytes)
        self.sample_rate = int(sample_rate)
        self._waves: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._peaks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()
        self._loading: dict[tuple, threading.Lock] = {}
        self.decodes = 0  # how many files were actually decoded (for tests and stats)

    @property
    def nbytes(self) -> int:
        """Bytes of decoded audio held now."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._waves)

    def __bool__(self) -> bool:  # an empty cache is still a cache (``cache or default`` must not skip it)
        return True

    def __contains__(self, path: object) -> bool:
        return isinstance(path, (str, Path)) and _file_key(Path(path)) in self._waves

    def get(self, path: Path | str) -> np.ndarray:
        """The whole file, mono float32 at ``sample_rate`` (read-only); ``MediaError`` if unreadable."""
        key = _file_key(Path(path))
        with self._lock:
            wave = self._hit(key)
            if wave is not None:
                return wave
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one decode per file, even when several threads ask at once
            with self._lock:
                wave = self._hit(key)
                if wave is not None:
                    return wave
            try:
                wave = load_audio(Path(path), sample_rate=self.sample_rate)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            wave.flags.writeable = False
            self.decodes += 1
            with self._lock:
                self._store(key, wave)
            return wave

    def _hit(self, key: tuple) -> np.ndarray | None:
        wave = self._waves.get(key)
        if wave is not None:
            self._waves.move_to_end(key)
        return wave

    def _store(self, key: tuple, wave: np.ndarray) -> None:
        if wave.nbytes > self.max_bytes:
            log.info("%s is larger than the audio cache (%d MB); not kept", key[0], self.max_bytes >> 20)
            return
        for stale in [k for k in self._waves if k[0] == key[0]]:  # this file's older versions, too
            self._nbytes -= self._waves.pop(stale).nbytes
        self._waves[key] = wave
        self._nbytes += wave.nbytes
        while self._nbytes > self.max_bytes and self._waves:
            _, dropped = self._waves.popitem(last=False)
            self._nbytes -= dropped.nbytes

    def segment(self, path: Path | str, start: float, end: float) -> np.ndarray:
        """Samples ``[round(start*sr), round(end*sr))`` of a file, zero-padded past its end."""
        sr = self.sample_rate
        a, b = int(round(start * sr)), int(round(end * sr))
        wave = self.get(path)
        if a >= 0 and b <= wave.size:
            return wave[a:b]
        out = np.zeros(max(0, b - a), np.float32)
        lo, hi = max(a, 0), min(b, wave.size)
        if hi > lo:
            out[lo - a : hi - a] = wave[lo:hi]
        return out

    def duration(self, path: Path | str) -> float:
        """Length of a file in seconds (decodes it if not cached)."""
        return self.get(path).size / self.sample_rate

    def peaks(self, path: Path | str, n_bins: int, start: float = 0.0, end: float | None = None) -> np.ndarray:
        """``(n_bins, 2)`` float32 (min, max) per bin of ``[start, end)`` seconds, for drawing a waveform.

        Bins narrower than a sample repeat the sample they fall on; a range past the file's end
        reads as silence.
        """
        n_bins = int(n_bins)
        if n_bins <= 0:
            return np.zeros((0, 2), np.float32)
        pkey = (_file_key(Path(path)), n_bins, float(start), None if end is None else float(end))
        with self._lock:
            cached = self._peaks.get(pkey)
            if cached is not None:
                self._peaks.move_to_end(pkey)
                return cached
        wave = self.get(path)
        end = wave.size / self.sample_rate if end is None else end
        seg = self.segment(path, start, end)
        out = np.zeros((n_bins, 2), np.float32)
        if seg.size >= n_bins:  # bins of at least one sample: reduce over [lo_i, lo_{i+1})
            lo = (np.arange(n_bins, dtype=np.int64) * seg.size) // n_bins
            out[:, 0] = np.minimum.reduceat(seg, lo)
            out[:, 1] = np.maximum.reduceat(seg, lo)
        elif seg.size:  # zoomed in past one sample per bin: each bin shows the sample under it
            idx = (np.arange(n_bins, dtype=np.int64) * seg.size) // n_bins
            out[:, 0] = out[:, 1] = seg[idx]
        out.flags.writeable = False
        with self._lock:
            self._peaks[pkey] = out
            while len(self._peaks) > _MAX_PEAK_ENTRIES:
                self._peaks.popitem(last=False)
        return out

    def invalidate(self, path: Path | str) -> None:
        """Forget a file (all versions of it)."""
        resolved = str(Path(path).resolve())
        with self._lock:
            for key in [k for k in self._waves if k[0] == resolved]:
                self._nbytes -= self._waves.pop(key).nbytes
            for key in [k for k in self._peaks if k[0][0] == resolved]:
                del self._peaks[key]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._waves.clear()
            self._peaks.clear()
            self._nbytes = 0


_default: AudioCache | None = None
_default_lock = threading.Lock()


def default_cache() -> AudioCache:
    """The process-wide cache shared by export, playback and waveform views (48 kHz)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = AudioCache()
        return _default


def peaks(path: Path | str, n_bins: int, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """``default_cache().peaks(...)``: (min, max) per bin for drawing a waveform."""
    return default_cache().peaks(path, n_bins, start, end)
