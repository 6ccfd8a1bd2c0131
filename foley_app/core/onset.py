"""Where a sound's first transient starts, so its onset (not its file start) snaps to the drop time.

Method: a 1-ms peak envelope; the first envelope value above a threshold (``threshold_db`` below
the sound's peak, raised over a noisy floor, at most half the peak) marks the transient; from
there we walk back down the attack to where it rises out of the floor, then to the first sample
above that level. Over a loud, steady bed (floor within 20 dB of the peak) the level says little,
so the first strong spectral-flux onset (librosa, backtracked to the preceding energy minimum)
is used instead. Silence gives 0.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from foley_app.core.audio_cache import AudioCache, default_cache
from foley_app.core.commands import AddClip

log = logging.getLogger(__name__)

_SILENCE = 10 ** (-100 / 20)


def _envelope(x: np.ndarray, hop: int) -> np.ndarray:
    n = -(-x.size // hop)
    pad = np.zeros(n * hop, np.float32)
    pad[: x.size] = x
    return pad.reshape(n, hop).max(axis=1)


def _flux_onset(wave: np.ndarray, sr: int) -> float | None:
    """First spectral-flux peak at least half as strong as the strongest, backtracked (seconds)."""
    import librosa

    hop = max(1, sr // 375)  # 128 samples at 48 kHz, ~2.7 ms
    strength = librosa.onset.onset_strength(y=wave, sr=sr, hop_length=hop, n_fft=1024)
    if strength.size == 0 or strength.max() <= 0:
        return None
    peaks = librosa.onset.onset_detect(onset_envelope=strength, sr=sr, hop_length=hop, units="frames")
    strong = [int(p) for p in peaks if strength[p] >= 0.5 * strength.max()]
    if not strong:
        return None
    rms = librosa.feature.rms(y=wave, frame_length=2 * hop, hop_length=hop)[0]
    frame = int(librosa.onset.onset_backtrack(np.array(strong[:1]), rms)[0])
    return float(librosa.frames_to_time(frame, sr=sr, hop_length=hop))


def first_transient(wave: np.ndarray, sr: int, threshold_db: float = -20.0) -> float:
    """Seconds from the start of ``wave`` (mono) to the start of its first transient; 0 for silence."""
    x = np.abs(np.asarray(wave, dtype=np.float32).reshape(-1))
    if x.size == 0 or not np.isfinite(x).all() or x.max() < _SILENCE:
        return 0.0
    hop = max(1, sr // 1000)
    env = _envelope(x, hop)
    peak = float(env.max())
    floor = float(np.percentile(env, 10))
    if floor > peak * 0.1:  # loud bed: trust spectral change, not level
        t = _flux_onset(np.asarray(wave, np.float32).reshape(-1), sr)
        if t is not None:
            return min(t, (x.size - 1) / sr)
    thr = min(max(peak * 10 ** (threshold_db / 20), 4 * floor), 0.5 * peak)
    k = int(np.argmax(env >= thr))
    base = max(2 * floor, 0.1 * thr)
    j = k
    while j > 0 and base < env[j - 1] <= env[j]:  # back down the attack to where it leaves the floor
        j -= 1
    lo = j * hop
    above = np.flatnonzero(x[lo : (k + 1) * hop] > base)
    i = lo + int(above[0]) if above.size else k * hop
    return i / sr


def onset_in_file(path: Path | str, start: float = 0.0, end: float | None = None,
                  cache: AudioCache | None = None) -> float:
    """Onset of the first transient in ``[start, end)`` of a sound file, in seconds after ``start``.

    Decodes the file (through the cache): call it from a worker, not the GUI thread.
    """
    cache = cache if cache is not None else default_cache()
    wave = cache.get(path)
    stop = wave.size if end is None else int(round(end * cache.sample_rate))
    seg = wave[int(round(start * cache.sample_rate)) : stop]
    return first_transient(seg, cache.sample_rate)


def snapped_add_clip(track_id: str, sound_path: Path | str, drop_time: float, source_start: float = 0.0,
                     source_end: float | None = None, cache: AudioCache | None = None, *, name: str = "",
                     category: str = "", gain_db: float = 0.0) -> AddClip:
    """An ``AddClip`` whose sound's first transient lands on ``drop_time`` (decodes: run in a worker).

    ``source_end`` defaults to the end of the file; the clip remembers the file's length so trims
    stop at its end.
    """
    cache = cache if cache is not None else default_cache()
    total = cache.duration(sound_path)
    end = total if source_end is None else min(source_end, total)
    onset = onset_in_file(sound_path, source_start, end, cache)
    return AddClip.at_drop(track_id, Path(sound_path), drop_time, source_start, end, onset,
                           name=name, category=category, gain_db=gain_db, sound_duration=total)
