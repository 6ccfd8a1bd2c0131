"""The mix of a timeline (numpy): clips summed per track, then limited or normalised.

The mix is **mono** float32 at 48 kHz: every sound is decoded to mono and clips have no pan.
A clip at position ``p`` starts at sample ``round(p * sr)`` and plays the file's samples
``[round(source_start * sr), round(source_end * sr))`` times
``10 ** ((clip.gain_db + track.volume_db) / 20)``. Mute and solo work like a DAW's
(``Document.audible``). Nothing clips:

- ``mode="limit"`` (default): a look-ahead peak limiter with a -1 dBFS ceiling. Untouched when the
  mix stays under the ceiling; otherwise the gain dips smoothly 5 ms ahead of each peak and
  recovers with an 80 ms release. The gain is provably at or under what each sample needs, so
  the output never exceeds the ceiling (a final clamp only absorbs float rounding).
- ``mode="normalize"``: the whole mix scaled so its peak is at -1 dBFS (quiet mixes get louder).

Stems (``render_stems``) are the tracks before the limiter, as long as the mix: added in track
order they equal ``render`` bit for bit. Rendering runs for seconds: call it from a worker thread
with ``doc.copy()`` taken on the GUI thread; pass ``progress(done, total)`` and a
``threading.Event`` as ``cancel``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from engine.api import MediaError, probe_video
from foley_app.core.audio_cache import AudioCache, default_cache
from foley_app.core.document import Clip, Document, Track
from foley_app.core.errors import ExportCancelled, ExportError

log = logging.getLogger(__name__)

MODES = ("limit", "normalize")
CEILING_DB = -1.0
LOOKAHEAD_MS = 5.0
RELEASE_MS = 80.0
_BLOCK = 32  # limiter release runs per block of samples
_CHUNK = 1 << 20  # samples per pass when applying the limiter's gain (a multiple of _BLOCK)

Progress = Callable[[int, int], None]


def db_to_gain(db: float) -> float:
    """Amplitude factor of a level in dB."""
    return 10.0 ** (db / 20.0)


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise ``ExportCancelled`` once ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise ExportCancelled("export cancelled")


def clip_samples(clip: Clip, sr: int) -> tuple[int, int, int]:
    """``(first timeline sample, first source sample, number of samples)`` of a clip at ``sr``."""
    s0 = int(round(clip.source_start * sr))
    return int(round(clip.position * sr)), s0, int(round(clip.source_end * sr)) - s0


def video_duration(doc: Document) -> float | None:
    """Length of the document's video in seconds, or None without one (``ExportError`` if unreadable)."""
    if doc.video is None:
        return None
    try:
        return probe_video(doc.video).duration
    except MediaError as exc:
        raise ExportError(f"the video cannot be read: {exc}; relink it or remove it from the project") from exc


def _audible_clips(doc: Document) -> list[tuple[Track, Clip]]:
    return [(t, c) for t in doc.tracks if doc.audible(t) for c in t.clips]


def _check_sounds(clips: list[tuple[Track, Clip]]) -> None:
    missing = sorted({str(c.sound_path) for _, c in clips if not Path(c.sound_path).is_file()})
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ExportError(f"{len(missing)} sound file(s) not found: {', '.join(missing[:3])}{more}; "
                          "relink the missing media before exporting")


def _length_samples(doc: Document, sr: int, length_s: float | None, clips: list[tuple[Track, Clip]],
                    skip_missing: bool) -> int:
    """Samples in the mix: ``length_s``, else the later of the last audible clip's end and the video's end."""
    if length_s is None:
        try:
            video_s = video_duration(doc) or 0.0
        except ExportError:
            if not skip_missing:
                raise
            video_s = 0.0
        length_s = max([c.end for _, c in clips] + [video_s])
    return int(round(length_s * sr))



def add_scaled(buf: np.ndarray, lo: int, seg: np.ndarray, start: int, gain: float) -> None:
    """Add ``seg * gain`` into ``buf``, which holds the timeline's samples from ``lo`` on.

    ``seg[0]`` lands on timeline sample ``start``; what falls outside ``buf`` is dropped.
    """
    a, b = max(start, lo), min(start + seg.size, lo + buf.size)
    if b > a:
        buf[a - lo : b - lo] += seg[a - start : b - start] * np.float32(gain)


def _track_parts(doc: Document, sr: int, n: int, cache: AudioCache, progress: Progress | None,
                 cancel: threading.Event | None, skip_missing: bool) -> Iterator[tuple[Track, int, np.ndarray]]:
    """``(track, first sample, samples)`` of each audible track with clips: its clips summed over its own span.

    The mix is these parts added in track order, and a stem is one part in silence, so the stems
    add up to the mix bit for bit (``x + 0.0 == x``).
    """
    clips = _audible_clips(doc)
    done = 0
    for track in doc.tracks:
        mine = [c for t, c in clips if t is track]
        if not mine:
            continue
        spans = [clip_samples(c, sr) for c in mine]
        lo = max(0, min(start for start, _, _ in spans))
        hi = min(n, max(start + count for start, _, count in spans))
        buf = np.zeros(max(0, hi - lo), np.float32)
        for clip, (start, _, count) in zip(mine, spans):
            check_cancel(cancel)
            done += 1
            try:
                seg = cache.segment(clip.sound_path, clip.source_start, clip.source_end)
            except MediaError as exc:
                if skip_missing:
                    log.info("silent clip %r: %s", clip.display_name, exc)
                    continue
                raise ExportError(f"clip {clip.display_name!r} on {track.name!r}: {exc}") from exc
            add_scaled(buf, lo, seg[:count], start, db_to_gain(clip.gain_db + track.volume_db))
            if progress is not None:
                progress(done, len(clips))
        if buf.size:
            yield track, lo, buf


def _prepare(doc: Document, sr: int, length_s: float | None, cache: AudioCache | None,
             skip_missing: bool) -> tuple[AudioCache, int]:
    cache = cache if cache is not None else default_cache()
    if cache.sample_rate != sr:
        cache = AudioCache(cache.max_bytes, sr)
    clips = _audible_clips(doc)
    if not skip_missing:
        _check_sounds(clips)
    return cache, _length_samples(doc, sr, length_s, clips, skip_missing)


def _zeros(n: int, sr: int) -> np.ndarray:
    try:
        return np.zeros(n, np.float32)
    except MemoryError as exc:
        raise ExportError(f"not enough memory for a {n / sr / 60:.0f}-minute mix") from exc


def render(doc: Document, sr: int = 48_000, length_s: float | None = None, cache: AudioCache | None = None,
           progress: Progress | None = None, cancel: threading.Event | None = None,
           skip_missing: bool = False) -> np.ndarray:
    """The raw sum of all audible clips (mono float32, may exceed 1), ``length_s`` long.

    ``length_s`` defaults to the later of the last audible clip's end and the video's end.
    Missing or unreadable sounds raise ``ExportError``, or play as silence with ``skip_missing``
    (for playback while media are being relinked). Equal, sample for sample, to the sum of
    ``render_stems`` in track order.
    """
    cache, n = _prepare(doc, sr, length_s, cache, skip_missing)
    out = _zeros(n, sr)
    for _, lo, buf in _track_parts(doc, sr, n, cache, progress, cancel, skip_missing):
        out[lo : lo + buf.size] += buf
    return out


def render_stems(doc: Document, sr: int = 48_000, length_s: float | None = None, cache: AudioCache | None = None,
                 progress: Progress | None = None, cancel: threading.Event | None = None
                 ) -> Iterator[tuple[Track, np.ndarray]]:
    """``(track, samples)`` for each audible track with clips, each as long as the mix (``render``) and
    starting where it starts; added in track order they give ``render``'s result exactly."""
    cache, n = _prepare(doc, sr, length_s, cache, False)
    for track, lo, buf in _track_parts(doc, sr, n, cache, progress, cancel, False):
        stem = _zeros(n, sr)
        stem[lo : lo + buf.size] = buf
        yield track, stem


def _block_peaks(x: np.ndarray) -> np.ndarray:
    """Max ``|x|`` per block of ``_BLOCK`` samples, a chunk at a time (no full-size temporaries)."""
    out = np.empty(-(-x.size // _BLOCK), np.float32)
    for a in range(0, x.size, _CHUNK):
        seg = np.abs(x[a : a + _CHUNK])
        nb = -(-seg.size // _BLOCK)
        pad = np.zeros(nb * _BLOCK, np.float32)
        pad[: seg.size] = seg
        out[a // _BLOCK : a // _BLOCK + nb] = pad.reshape(nb, _BLOCK).max(axis=1)
    return out


def limit(x: np.ndarray, sr: int, ceiling_db: float = CEILING_DB, lookahead_ms: float = LOOKAHEAD_MS,
          release_ms: float = RELEASE_MS, out: np.ndarray | None = None) -> np.ndarray:
    """Look-ahead peak limiter: ``|y| <= ceiling`` everywhere; a signal under the ceiling comes back as is.

    Works per block of samples and applies the gain a chunk at a time, so besides the output it
    needs little memory even for hours of audio; ``out=x`` limits in place.
    """
    from scipy.ndimage import minimum_filter1d

    x = np.asarray(x, np.float32)
    if out is None:
        out = x.copy()
    elif out is not x:
        out[...] = x
    ceiling = np.float32(db_to_gain(ceiling_db))
    if x.size == 0:
        return out
    peaks = _block_peaks(x)
    if float(peaks.max()) <= ceiling:
        return out
    look = max(1, int(round(lookahead_ms * sr / 1000)))
    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-30))  # gain each block needs
    # target[j] <= the gain every sample within look-1 samples of block j needs; a release curve
    # under it, averaged over `look` samples, then stays under what each sample needs
    target = minimum_filter1d(need, size=2 * (-(-(look - 1) // _BLOCK)) + 1, mode="nearest")
    alpha = 1.0 - math.exp(-_BLOCK / (release_ms * sr / 1000))
    rel = np.empty(target.size, np.float64)
    g = 1.0
    for j, t in enumerate(target.tolist()):  # instant attack, exponential release
        g = t if t <= g else g + (t - g) * alpha
        rel[j] = g
    n, left, right = x.size, look // 2, (look - 1) // 2
    for a in range(0, n, _CHUNK):  # centred moving average of the per-sample gain, edges held
        b = min(n, a + _CHUNK)
        per_sample = rel[np.clip(np.arange(a - left, b + right), 0, n - 1) // _BLOCK]
        csum = np.concatenate([[0.0], np.cumsum(per_sample)])
        out[a:b] *= ((csum[look:] - csum[:-look]) / look).astype(np.float32)
    return np.clip(out, -ceiling, ceiling, out=out)


def normalize(x: np.ndarray, peak_db: float = CEILING_DB, out: np.ndarray | None = None) -> np.ndarray:
    """Scale so the peak sits at ``peak_db`` dBFS (silence stays silence); ``out=x`` works in place."""
    x = np.asarray(x, np.float32)
    peak = float(_block_peaks(x).max()) if x.size else 0.0
    if out is None:
        out = x.copy()
    elif out is not x:
        out[...] = x
    if peak > 0.0:
        out *= np.float32(db_to_gain(peak_db) / peak)
    return out


def mixdown(doc: Document, sr: int = 48_000, mode: str = "limit", *, length_s: float | None = None,
            cache: AudioCache | None = None, progress: Progress | None = None,
            cancel: threading.Event | None = None, skip_missing: bool = False) -> np.ndarray:
    """The finished mix: mono float32 at ``sr``, limited or normalised to -1 dBFS (see module doc)."""
    if mode not in MODES:
        raise ExportError(f"unknown mix mode {mode!r}; choose from {', '.join(MODES)}")
    raw = render(doc, sr, length_s, cache, progress, cancel, skip_missing)
    check_cancel(cancel)
    return limit(raw, sr, out=raw) if mode == "limit" else normalize(raw, out=raw)
