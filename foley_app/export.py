"""Export a timeline: the mix (numpy), a WAV, the video with the mix as its sound, OTIO, a CSV cue sheet.

The mix is **mono** float32 at 48 kHz: every sound is decoded to mono and clips have no pan, so
a stereo file would only duplicate the channel (``channels=2`` does exactly that, for tools that
insist on stereo). A clip at position ``p`` starts at sample ``round(p * sr)`` and plays the
file's samples ``[round(source_start * sr), round(source_end * sr))`` times
``10 ** ((clip.gain_db + track.volume_db) / 20)``. Mute and solo work like a DAW's
(``Document.audible``). Nothing clips:

- ``mode="limit"`` (default): a look-ahead peak limiter with a -1 dBFS ceiling. Untouched when the
  mix stays under the ceiling; otherwise the gain dips smoothly 5 ms ahead of each peak and
  recovers with an 80 ms release. The gain is provably at or under what each sample needs, so
  the output never exceeds the ceiling (a final clamp only absorbs float rounding).
- ``mode="normalize"``: the whole mix scaled so its peak is at -1 dBFS (quiet mixes get louder).

Every file is written to a temp file next to the target and renamed into place. Export runs for
seconds: call these from a worker thread with ``doc.copy()`` taken on the GUI thread; pass
``progress(done, total)`` and a ``threading.Event`` as ``cancel``.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.data.media import probe_video
from engine.errors import MediaError
from foley_app.atomic import atomic_path, atomic_write_text, describe_os_error
from foley_app.audio_cache import AudioCache, default_cache
from foley_app.document import Clip, Document, DocumentError, Track
from foley_app.timecode import seconds_to_timecode

log = logging.getLogger(__name__)

MODES = ("limit", "normalize")
CEILING_DB = -1.0
LOOKAHEAD_MS = 5.0
RELEASE_MS = 80.0
DEFAULT_FPS = 25.0
MP4_COPY_CODECS = frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "mjpeg"})  # picture we can remux into mp4
_BLOCK = 32  # limiter release runs per block of samples
_CHUNK = 1 << 20  # samples per pass when applying the limiter's gain (a multiple of _BLOCK)

Progress = Callable[[int, int], None]


class ExportError(DocumentError):
    """An export could not be made; nothing was written over the target."""


class ExportCancelled(ExportError):
    """The user cancelled an export; nothing was written."""


def db_to_gain(db: float) -> float:
    """Amplitude factor of a level in dB."""
    return 10.0 ** (db / 20.0)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ExportCancelled("export cancelled")


# -- mixing ---------------------------------------------------------------------------------
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


def render(doc: Document, sr: int = 48_000, length_s: float | None = None, cache: AudioCache | None = None,
           progress: Progress | None = None, cancel: threading.Event | None = None,
           skip_missing: bool = False) -> np.ndarray:
    """The raw sum of all audible clips (mono float32, may exceed 1), ``length_s`` long.

    ``length_s`` defaults to the later of the last audible clip's end and the video's end.
    Missing or unreadable sounds raise ``ExportError``, or play as silence with ``skip_missing``
    (for playback while media are being relinked).
    """
    cache = cache if cache is not None else default_cache()
    if cache.sample_rate != sr:
        cache = AudioCache(cache.max_bytes, sr)
    clips = _audible_clips(doc)
    if not skip_missing:
        _check_sounds(clips)
    if length_s is None:
        try:
            video_s = video_duration(doc) or 0.0
        except ExportError:
            if not skip_missing:
                raise
            video_s = 0.0
        length_s = max([c.end for _, c in clips] + [video_s])
    n = int(round(length_s * sr))
    try:
        out = np.zeros(n, np.float32)
    except MemoryError as exc:
        raise ExportError(f"not enough memory for a {length_s / 60:.0f}-minute mix") from exc
    for i, (track, clip) in enumerate(clips):
        _check_cancel(cancel)
        start, _, count = clip_samples(clip, sr)
        try:
            seg = cache.segment(clip.sound_path, clip.source_start, clip.source_end)
        except MediaError as exc:
            if skip_missing:
                log.info("silent clip %r: %s", clip.display_name, exc)
                continue
            raise ExportError(f"clip {clip.display_name!r} on {track.name!r}: {exc}") from exc
        seg = seg[:count]
        lo, hi = max(start, 0), min(start + seg.size, n)
        if hi > lo:
            out[lo:hi] += seg[lo - start : hi - start] * np.float32(db_to_gain(clip.gain_db + track.volume_db))
        if progress is not None:
            progress(i + 1, len(clips))
    return out


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
    _check_cancel(cancel)
    return limit(raw, sr, out=raw) if mode == "limit" else normalize(raw, out=raw)


# -- WAV ------------------------------------------------------------------------------------
def export_wav(doc: Document, path: Path | str, sr: int = 48_000, mode: str = "limit", *, channels: int = 1,
               subtype: str = "PCM_24", length_s: float | None = None, cache: AudioCache | None = None,
               progress: Progress | None = None, cancel: threading.Event | None = None) -> Path:
    """Write the mix as a WAV (24-bit PCM by default; ``channels=2`` duplicates the mono mix)."""
    import soundfile as sf

    if channels not in (1, 2):
        raise ExportError(f"channels must be 1 (mono) or 2 (dual mono), got {channels!r}")
    path = Path(path)
    mix = mixdown(doc, sr, mode, length_s=length_s, cache=cache, progress=progress, cancel=cancel)
    if mix.size == 0:
        raise ExportError("nothing to export: the timeline has no audible clips and no video")
    data = mix if channels == 1 else np.repeat(mix[:, None], 2, axis=1)
    try:
        with atomic_path(path) as tmp:
            too_big = data.size * 4 > 0xFFFF_0000  # past plain WAV's 4 GB: RF64, which DAWs read too
            sf.write(str(tmp), data, sr, subtype=subtype, format="RF64" if too_big else "WAV")
    except OSError as exc:
        raise ExportError(f"could not write {path}: {describe_os_error(exc)}") from exc
    except (RuntimeError, ValueError, TypeError) as exc:  # soundfile's errors (bad subtype, ...)
        raise ExportError(f"could not write {path}: {exc}") from exc
    log.info("exported %s (%.1f s, %s, %d ch)", path, mix.size / sr, mode, channels)
    return path


# -- video ----------------------------------------------------------------------------------
def export_video(doc: Document, path: Path | str, mode: str = "limit", *, channels: int = 2,
                 audio_bitrate: int = 192_000, reencode: bool = False, cache: AudioCache | None = None,
                 progress: Progress | None = None, cancel: threading.Event | None = None) -> Path:
    """Write an mp4: the video's picture (copied without re-encoding when mp4 can hold it, else H.264)
    with the mix as its only sound (AAC, ``channels`` 1 or 2, as long as the picture)."""
    import av

    if doc.video is None:
        raise ExportError("the project has no video; open one before exporting a movie")
    if channels not in (1, 2):
        raise ExportError(f"channels must be 1 or 2, got {channels!r}")
    sr = 48_000
    duration = video_duration(doc)
    mix = mixdown(doc, sr, mode, length_s=duration, cache=cache, cancel=cancel)
    path = Path(path)
    try:
        with av.open(str(doc.video)) as probe:
            codec = probe.streams.video[0].codec_context.name
        copy = not reencode and codec in MP4_COPY_CODECS
        with atomic_path(path) as tmp:
            try:
                _write_movie(Path(doc.video), tmp, mix, sr, channels, audio_bitrate, copy, progress, cancel)
            except (av.FFmpegError, ValueError) as exc:
                if not copy:
                    raise
                log.warning("copying the %s picture into mp4 failed (%s); re-encoding as H.264", codec, exc)
                tmp.unlink(missing_ok=True)
                _write_movie(Path(doc.video), tmp, mix, sr, channels, audio_bitrate, False, progress, cancel)
    except OSError as exc:
        raise ExportError(f"could not write {path}: {describe_os_error(exc)}") from exc
    except (av.FFmpegError, ValueError) as exc:
        raise ExportError(f"could not write {path}: {exc}") from exc
    log.info("exported %s (%s picture)", path, "copied" if copy else "re-encoded")
    return path


def _write_movie(src: Path, dst: Path, mix: np.ndarray, sr: int, channels: int, bitrate: int, copy: bool,
                 progress: Progress | None, cancel: threading.Event | None) -> None:
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        if copy:
            vout = out.add_stream_from_template(vin)
        else:
            vout = out.add_stream("libx264", rate=vin.average_rate or Fraction(25))
            vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
            vout.pix_fmt = "yuv420p"
            vout.time_base = vin.time_base
            vout.options = {"crf": "18", "preset": "medium"}
        aout = out.add_stream("aac", rate=sr)
        aout.layout = "stereo" if channels == 2 else "mono"
        aout.bit_rate = bitrate
        start_s = float(vin.start_time * vin.time_base) if vin.start_time is not None and vin.time_base else 0.0
        audio = _AudioFeeder(out, aout, mix, sr, channels, max(0.0, start_s))
        total_ms = max(1, int(mix.size * 1000 / sr))
        if copy:
            for packet in inp.demux(vin):
                if packet.dts is None:
                    continue
                t = float(packet.dts * packet.time_base)
                audio.feed_until(t + 1.0)
                packet.stream = vout
                out.mux(packet)
                _tick(progress, cancel, t, total_ms)
        else:
            for frame in inp.decode(vin):
                t = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                audio.feed_until(t + 1.0)
                frame = frame.reformat(format="yuv420p")
                out.mux(vout.encode(frame))
                _tick(progress, cancel, t, total_ms)
            out.mux(vout.encode())
        audio.feed_until(math.inf)


def _tick(progress: Progress | None, cancel: threading.Event | None, t: float, total_ms: int) -> None:
    _check_cancel(cancel)
    if progress is not None:
        progress(min(total_ms, int(t * 1000)), total_ms)


class _AudioFeeder:
    """Encodes the mix in 1024-sample frames, as far as asked, so audio and video packets interleave."""

    def __init__(self, out, stream, mix: np.ndarray, sr: int, channels: int, start_s: float) -> None:
        self.out, self.stream, self.mix, self.sr, self.channels = out, stream, mix, sr, channels
        self.pos = 0
        self.first_pts = int(round(start_s * sr))
        self.flushed = False

    def feed_until(self, t: float) -> None:
        import av

        while self.pos < self.mix.size and self.pos / self.sr < t:
            piece = self.mix[self.pos : self.pos + 1024]
            planes = np.repeat(piece[None, :], self.channels, axis=0)  # (C, n) planar
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes), format="fltp",
                                               layout="stereo" if self.channels == 2 else "mono")
            frame.sample_rate = self.sr
            frame.pts = self.first_pts + self.pos
            frame.time_base = Fraction(1, self.sr)
            self.out.mux(self.stream.encode(frame))
            self.pos += piece.size
        if self.pos >= self.mix.size and not self.flushed and t == math.inf:
            self.out.mux(self.stream.encode())
            self.flushed = True


# -- OpenTimelineIO -------------------------------------------------------------------------
def _lanes(clips: list[Clip], sr: int) -> list[list[Clip]]:
    """Split overlapping clips into as few non-overlapping lanes as possible (OTIO tracks are sequential)."""
    lanes: list[list[Clip]] = []
    ends: list[int] = []
    for clip in sorted(clips, key=lambda c: (c.position, c.id)):
        start, _, count = clip_samples(clip, sr)
        for i, end in enumerate(ends):
            if start >= end:
                lanes[i].append(clip)
                ends[i] = start + count
                break
        else:
            lanes.append([clip])
            ends.append(start + count)
    return lanes or [[]]


def _uri(path: Path) -> str:
    return Path(os.path.abspath(path)).as_uri()


def build_otio(doc: Document, fps: float | None = None, sr: int = 48_000):  # -> otio.schema.Timeline
    """An OTIO timeline: the video track (if any), then one audio track per timeline track.

    Audio times are in samples (rate ``sr``) so they are exact; overlapping clips on one track
    go to extra tracks named "<track> (2)", ...; muted or solo-silenced tracks are disabled.
    Clip gain, category and ids are in each clip's ``metadata["foley_assistant"]``.
    """
    import opentimelineio as otio

    def rt(samples: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(samples, sr)

    name = doc.path.stem if doc.path is not None else "Foley Assistant"
    timeline = otio.schema.Timeline(name=name)
    timeline.global_start_time = otio.opentime.RationalTime(0, sr)
    if doc.video is not None:
        duration = video_duration(doc) or 0.0
        fps = fps or _video_fps(doc)
        rng = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps),
                                      otio.opentime.RationalTime(round(duration * fps), fps))
        vtrack = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
        ref = otio.schema.ExternalReference(target_url=_uri(doc.video), available_range=rng)
        vtrack.append(otio.schema.Clip(name=Path(doc.video).name, media_reference=ref, source_range=rng))
        timeline.tracks.append(vtrack)
    for track in doc.tracks:
        lanes = _lanes(track.clips, sr)
        for li, lane in enumerate(lanes):
            otrack = otio.schema.Track(name=track.name if li == 0 else f"{track.name} ({li + 1})",
                                       kind=otio.schema.TrackKind.Audio)
            otrack.enabled = doc.audible(track)
            otrack.metadata["foley_assistant"] = {"track_id": track.id, "volume_db": track.volume_db,
                                                  "mute": track.mute, "solo": track.solo}
            cursor = 0
            for clip in lane:
                start, s0, count = clip_samples(clip, sr)
                if start > cursor:
                    otrack.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(start - cursor))))
                available = None
                if clip.sound_duration is not None:
                    available = otio.opentime.TimeRange(rt(0), rt(int(round(clip.sound_duration * sr))))
                ref = otio.schema.ExternalReference(target_url=_uri(clip.sound_path), available_range=available)
                oclip = otio.schema.Clip(name=clip.display_name, media_reference=ref,
                                         source_range=otio.opentime.TimeRange(rt(s0), rt(count)))
                oclip.metadata["foley_assistant"] = {"clip_id": clip.id, "gain_db": clip.gain_db,
                                                     "category": clip.category}
                otrack.append(oclip)
                cursor = start + count
            timeline.tracks.append(otrack)
    return timeline


def export_otio(doc: Document, path: Path | str, fps: float | None = None) -> Path:
    """Write the timeline as OpenTimelineIO JSON (``.otio``), see ``build_otio``."""
    import opentimelineio as otio

    path = Path(path)
    text = otio.adapters.write_to_string(build_otio(doc, fps), "otio_json")
    _write_text(path, text)
    return path


# -- CSV cue sheet --------------------------------------------------------------------------
CUE_COLUMNS = ("cue", "track", "clip", "category", "timeline_in_s", "timeline_out_s", "timeline_in_tc",
               "timeline_out_tc", "duration_s", "source_file", "source_in_s", "source_out_s", "gain_db",
               "track_volume_db", "audible")


def _video_fps(doc: Document) -> float:
    if doc.video is None:
        return DEFAULT_FPS
    try:
        fps = probe_video(doc.video).fps
    except MediaError as exc:
        raise ExportError(f"the video cannot be read: {exc}") from exc
    return fps if 1.0 <= fps <= 1000.0 else DEFAULT_FPS


def _cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def cue_rows(doc: Document, fps: float | None = None, drop_frame: bool = False) -> list[dict[str, str]]:
    """One row per clip, in timeline order (then track order), as the CSV will hold them."""
    fps = fps or _video_fps(doc)
    order = {t.id: i for i, t in enumerate(doc.tracks)}
    pairs = sorted(doc.clips(), key=lambda tc: (tc[1].position, order[tc[0].id], tc[1].id))
    rows = []
    for n, (track, clip) in enumerate(pairs, 1):
        rows.append({
            "cue": str(n), "track": _cell(track.name), "clip": _cell(clip.display_name),
            "category": _cell(clip.category),
            "timeline_in_s": f"{clip.position:.3f}", "timeline_out_s": f"{clip.end:.3f}",
            "timeline_in_tc": seconds_to_timecode(clip.position, fps, drop_frame),
            "timeline_out_tc": seconds_to_timecode(clip.end, fps, drop_frame),
            "duration_s": f"{clip.duration:.3f}", "source_file": _cell(str(os.path.abspath(clip.sound_path))),
            "source_in_s": f"{clip.source_start:.3f}", "source_out_s": f"{clip.source_end:.3f}",
            "gain_db": f"{clip.gain_db:.1f}", "track_volume_db": f"{track.volume_db:.1f}",
            "audible": "yes" if doc.audible(track) else "no",
        })
    return rows


def export_cue_csv(doc: Document, path: Path | str, fps: float | None = None, drop_frame: bool = False) -> Path:
    """Write a cue sheet (UTF-8 with BOM so spreadsheets read names right); columns ``CUE_COLUMNS``."""
    path = Path(path)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CUE_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(cue_rows(doc, fps, drop_frame))
    _write_text(path, buf.getvalue(), encoding="utf-8-sig")
    return path


def _write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    try:
        atomic_write_text(path, text, encoding)
    except OSError as exc:
        raise ExportError(f"could not write {path}: {describe_os_error(exc)}") from exc
