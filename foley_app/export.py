"""Export a timeline: the mix (numpy), a Broadcast WAV, per-track stems, the video with the mix as its
sound, OTIO (with a marker per cue), a CSV cue sheet.

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

WAVs are Broadcast WAVs (``foley_app.bwf``): a ``bext`` chunk (originator "Foley Assistant <version>",
origination date and time, time reference = the video's start timecode in samples since midnight)
and an ``iXML`` chunk (project, scene, take, track names), so a DAW spots them where they belong.
Stems (``export_stems``) are the tracks before the limiter, 32-bit float, as long as the mix: added
in track order they equal ``render`` bit for bit.

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
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.data.media import probe_video
from engine.errors import MediaError
from engine.timecode import (
    DEFAULT_FPS,
    TimecodeError,
    frames_to_timecode,
    is_drop_frame_text,
    timecode_after,
    timecode_to_frames,
    video_start_timecode,
)
from engine.version import __version__
from engine.api import atomic_path, atomic_write_text, describe_os_error
from foley_app.audio_cache import AudioCache, default_cache
from foley_app.bwf import SUBTYPES, Bext, BwfError, ixml, write_bwf
from foley_app.document import Clip, Document, DocumentError, Track

log = logging.getLogger(__name__)

MODES = ("limit", "normalize")
CEILING_DB = -1.0
LOOKAHEAD_MS = 5.0
RELEASE_MS = 80.0
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
            _check_cancel(cancel)
            done += 1
            try:
                seg = cache.segment(clip.sound_path, clip.source_start, clip.source_end)
            except MediaError as exc:
                if skip_missing:
                    log.info("silent clip %r: %s", clip.display_name, exc)
                    continue
                raise ExportError(f"clip {clip.display_name!r} on {track.name!r}: {exc}") from exc
            seg = seg[:count]
            a, b = max(start, lo), min(start + seg.size, hi)
            if b > a:
                buf[a - lo : b - lo] += seg[a - start : b - start] * np.float32(db_to_gain(clip.gain_db + track.volume_db))
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
    _check_cancel(cancel)
    return limit(raw, sr, out=raw) if mode == "limit" else normalize(raw, out=raw)


# -- Broadcast WAV metadata -----------------------------------------------------------------
ORIGINATOR = f"Foley Assistant {__version__}"
STEM_SUBTYPE = "FLOAT"  # stems are unlimited: 32-bit float keeps peaks over 0 dBFS and sums exactly
ZERO_TC = "00:00:00:00"


@dataclass(frozen=True)
class Session:
    """What the exported files say about where they belong: names for iXML, the picture's rate and start timecode.

    ``start_timecode`` is the timecode of the video's first frame (the timeline's zero); a file's
    BWF time reference is that point in samples since midnight plus the file's own offset.
    """

    project: str
    scene: str
    take: str
    fps: float
    start_timecode: str = ZERO_TC

    @property
    def drop_frame(self) -> bool:
        return is_drop_frame_text(self.start_timecode)

    def start_frames(self) -> int:
        try:
            return timecode_to_frames(self.start_timecode, self.fps)
        except TimecodeError as exc:
            raise ExportError(f"start timecode: {exc}") from exc

    def time_reference(self, sr: int, offset_samples: int = 0) -> int:
        """Samples since midnight of the timeline sample ``offset_samples``."""
        start = self.start_frames()
        if start < 0:
            raise ExportError(f"start timecode {self.start_timecode!r} is before midnight; a BWF time reference cannot be negative")
        return int(round(start / self.fps * sr)) + offset_samples

    def timecode(self, seconds: float) -> str:
        """Timecode of a timeline time (the video's start timecode plus ``seconds``)."""
        self.start_frames()
        return timecode_after(self.start_timecode, seconds, self.fps)

    def rate_fraction(self) -> tuple[int, int]:
        f = Fraction(self.fps).limit_denominator(1001)
        return f.numerator, f.denominator


def project_name(doc: Document) -> str:
    """The project's name: its file name without ``.foley.json`` (or ``.json``), else "Untitled"."""
    if doc.path is None:
        return "Untitled"
    name = Path(doc.path).name
    for suffix in (".foley.json", ".autosave.json", ".json"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def session_of(doc: Document, *, project: str | None = None, scene: str | None = None, take: str | None = None,
               start_timecode: str | None = None, fps: float | None = None) -> Session:
    """The ``Session`` of a document; what is not given comes from the project and its video.

    Project: the project file's name; scene: the video's name (else the project's); take: "1";
    frame rate: the video's (25 without one); start timecode: the video's own (else 00:00:00:00).
    """
    fps = fps or _video_fps(doc)
    if start_timecode is None:
        start_timecode = (video_start_timecode(doc.video) if doc.video is not None else None) or ZERO_TC
    name = project or project_name(doc)
    session = Session(project=name, scene=scene or (Path(doc.video).stem if doc.video is not None else name),
                      take=take or "1", fps=fps, start_timecode=start_timecode)
    session.start_frames()  # a bad timecode fails here, before anything is rendered
    return session


def _bwf_metadata(session: Session, sr: int, subtype: str, description: str, tracks: list[str],
                  channels: int, note: str = "") -> tuple[Bext, str]:
    ref = session.time_reference(sr)
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32}[subtype]
    kind = "FLOAT" if subtype == "FLOAT" else "PCM"
    history = f"A={kind},F={sr},W={bits},M={'mono' if channels == 1 else 'stereo'},T={ORIGINATOR}\r\n"
    bext = Bext(description=description, originator=ORIGINATOR, time_reference=ref, coding_history=history)
    xml = ixml(session.project, session.scene, session.take, tracks, note=note, sample_rate=sr, bit_depth=bits,
               time_reference=ref, fps=session.rate_fraction(), drop_frame=session.drop_frame)
    return bext, xml


def _write_bwf(path: Path, data: np.ndarray, sr: int, subtype: str, bext: Bext, xml: str) -> None:
    try:
        write_bwf(path, data, sr, subtype=subtype, bext=bext, ixml_text=xml)
    except BwfError as exc:
        raise ExportError(f"could not write {path}: {exc}") from exc
    except OSError as exc:
        raise ExportError(f"could not write {path}: {describe_os_error(exc)}") from exc


# -- WAV ------------------------------------------------------------------------------------
def export_wav(doc: Document, path: Path | str, sr: int = 48_000, mode: str = "limit", *, channels: int = 1,
               subtype: str = "PCM_24", length_s: float | None = None, cache: AudioCache | None = None,
               progress: Progress | None = None, cancel: threading.Event | None = None,
               session: Session | None = None) -> Path:
    """Write the mix as a Broadcast WAV (24-bit PCM by default; ``channels=2`` duplicates the mono mix).

    The file carries a ``bext`` chunk (time reference: the video's start timecode in samples since
    midnight) and an ``iXML`` chunk (project, scene, take, the track "Mix"); see ``session_of``.
    """
    if channels not in (1, 2):
        raise ExportError(f"channels must be 1 (mono) or 2 (dual mono), got {channels!r}")
    if subtype not in SUBTYPES:
        raise ExportError(f"unknown sample format {subtype!r}; choose from {', '.join(SUBTYPES)}")
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"could not write {path}: that name is a folder")
    session = session or session_of(doc)
    mix = mixdown(doc, sr, mode, length_s=length_s, cache=cache, progress=progress, cancel=cancel)
    if mix.size == 0:
        raise ExportError("nothing to export: the timeline has no audible clips and no video")
    data = mix if channels == 1 else np.repeat(mix[:, None], 2, axis=1)
    bext, xml = _bwf_metadata(session, sr, subtype, f"Foley Assistant mix of {session.project}",
                              ["Mix"] * channels, channels, note=f"{mode} to {CEILING_DB:g} dBFS")
    _check_cancel(cancel)
    _write_bwf(path, data, sr, subtype, bext, xml)
    log.info("exported %s (%.1f s, %s, %d ch)", path, mix.size / sr, mode, channels)
    return path


def stem_file_names(doc: Document, project: str) -> dict[str, str]:
    """``{track id: file name}`` for the stems: ``<project>_<NN>_<track>.wav``, safe on every OS, unique."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for i, track in enumerate(doc.tracks, 1):
        base = f"{_safe_name(project)}_{i:02d}_{_safe_name(track.name) or 'track'}"
        name = f"{base}.wav"
        k = 2
        while name.lower() in used:
            name = f"{base}-{k}.wav"
            k += 1
        used.add(name.lower())
        names[track.id] = name
    return names


def _safe_name(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_. " else "_" for ch in text).strip(" .")
    return "_".join(cleaned.split())[:60]


def export_stems(doc: Document, folder: Path | str, sr: int = 48_000, *, subtype: str = STEM_SUBTYPE,
                 length_s: float | None = None, cache: AudioCache | None = None, progress: Progress | None = None,
                 cancel: threading.Event | None = None, session: Session | None = None) -> list[Path]:
    """One mono Broadcast WAV per audible track with clips, each as long as the mix and starting with it.

    Stems are the tracks before the mix's limiter (clip gain and track volume applied; 32-bit float,
    so nothing clips): added together in track order they equal the mix before the limiter sample
    for sample. Each carries the mix's time reference and its track name in iXML. The stems are
    written to temp files first and renamed into place only when all of them are complete.
    """
    if subtype not in SUBTYPES:
        raise ExportError(f"unknown sample format {subtype!r}; choose from {', '.join(SUBTYPES)}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} is a file; stems need a folder")
    session = session or session_of(doc)
    names = stem_file_names(doc, session.project)
    audible = [t for t in doc.tracks if doc.audible(t) and t.clips]
    if not audible:
        raise ExportError("no stems to export: no audible track has clips")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"could not create {folder}: {describe_os_error(exc)}") from exc
    written: list[Path] = []
    try:
        with ExitStack() as stack:  # every temp is renamed into place only after the last one is written
            for track, stem in render_stems(doc, sr, length_s, cache, progress, cancel):
                path = folder / names[track.id]
                tmp = stack.enter_context(atomic_path(path))
                index = audible.index(track) + 1
                bext, xml = _bwf_metadata(session, sr, subtype,
                                          f"Stem {index}/{len(audible)} {track.name} of {session.project} (before the limiter)",
                                          [track.name], 1, note=f"stem {index} of {len(audible)}")
                write_bwf(tmp, stem, sr, subtype=subtype, bext=bext, ixml_text=xml)
                written.append(path)
            _check_cancel(cancel)
    except BwfError as exc:
        raise ExportError(f"could not write the stems: {exc}") from exc
    except OSError as exc:
        raise ExportError(f"could not write the stems in {folder}: {describe_os_error(exc)}") from exc
    log.info("exported %d stems to %s", len(written), folder)
    return written


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


def build_otio(doc: Document, fps: float | None = None, sr: int = 48_000,
               session: Session | None = None):  # -> otio.schema.Timeline
    """An OTIO timeline: the video track (if any), then one audio track per timeline track.

    Audio times are in samples (rate ``sr``) so they are exact; overlapping clips on one track
    go to extra tracks named "<track> (2)", ...; muted or solo-silenced tracks are disabled.
    Clip gain, category and ids are in each clip's ``metadata["foley_assistant"]``. Every cue
    (clip, numbered as in the cue sheet) is also a marker on the timeline's stack, spanning the
    clip, named ``<cue> <clip>`` and carrying its track and timecode; the timeline starts at the
    video's start timecode (``session``).
    """
    import opentimelineio as otio

    def rt(samples: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(samples, sr)

    session = session or session_of(doc, fps=fps)
    fps = session.fps
    timeline = otio.schema.Timeline(name=session.project if doc.path is not None else "Foley Assistant")
    timeline.global_start_time = otio.opentime.RationalTime(session.time_reference(sr), sr)
    if doc.video is not None:
        duration = video_duration(doc) or 0.0
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
    for n, (track, clip) in enumerate(_cue_order(doc), 1):
        start, _, count = clip_samples(clip, sr)
        marker = otio.schema.Marker(name=f"{n} {clip.display_name}",
                                    marked_range=otio.opentime.TimeRange(rt(start), rt(count)),
                                    color=otio.schema.MarkerColor.GREEN if doc.audible(track) else otio.schema.MarkerColor.RED)
        marker.metadata["foley_assistant"] = {"cue": n, "track": track.name, "clip_id": clip.id,
                                              "category": clip.category, "timecode_in": session.timecode(clip.position),
                                              "timecode_out": session.timecode(clip.end), "audible": doc.audible(track)}
        timeline.tracks.markers.append(marker)
    return timeline


def export_otio(doc: Document, path: Path | str, fps: float | None = None, session: Session | None = None) -> Path:
    """Write the timeline as OpenTimelineIO JSON (``.otio``), see ``build_otio``."""
    import opentimelineio as otio

    path = Path(path)
    text = otio.adapters.write_to_string(build_otio(doc, fps, session=session), "otio_json")
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


def _cue_order(doc: Document) -> list[tuple[Track, Clip]]:
    """Every clip in timeline order (then track order): the cue numbers of the cue sheet and the OTIO markers."""
    order = {t.id: i for i, t in enumerate(doc.tracks)}
    return sorted(doc.clips(), key=lambda tc: (tc[1].position, order[tc[0].id], tc[1].id))


def cue_rows(doc: Document, fps: float | None = None, drop_frame: bool = False,
             session: Session | None = None) -> list[dict[str, str]]:
    """One row per clip, in timeline order (then track order), as the CSV will hold them.

    Timecodes are at the video's frame rate (or ``fps``) and count from the video's start
    timecode (``session``; 00:00:00:00 when the video has none); ``drop_frame`` shows them as
    drop-frame (29.97 and 59.94 fps only).
    """
    session = session or session_of(doc, fps=fps)
    if drop_frame and not session.drop_frame:
        try:
            start = frames_to_timecode(session.start_frames(), session.fps, drop_frame=True)
        except TimecodeError as exc:
            raise ExportError(f"drop-frame cue sheet: {exc}") from exc
        session = replace(session, start_timecode=start)
    rows = []
    for n, (track, clip) in enumerate(_cue_order(doc), 1):
        rows.append({
            "cue": str(n), "track": _cell(track.name), "clip": _cell(clip.display_name),
            "category": _cell(clip.category),
            "timeline_in_s": f"{clip.position:.3f}", "timeline_out_s": f"{clip.end:.3f}",
            "timeline_in_tc": session.timecode(clip.position),
            "timeline_out_tc": session.timecode(clip.end),
            "duration_s": f"{clip.duration:.3f}", "source_file": _cell(str(os.path.abspath(clip.sound_path))),
            "source_in_s": f"{clip.source_start:.3f}", "source_out_s": f"{clip.source_end:.3f}",
            "gain_db": f"{clip.gain_db:.1f}", "track_volume_db": f"{track.volume_db:.1f}",
            "audible": "yes" if doc.audible(track) else "no",
        })
    return rows


def export_cue_csv(doc: Document, path: Path | str, fps: float | None = None, drop_frame: bool = False,
                   session: Session | None = None) -> Path:
    """Write a cue sheet (UTF-8 with BOM so spreadsheets read names right); columns ``CUE_COLUMNS``."""
    path = Path(path)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CUE_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(cue_rows(doc, fps, drop_frame, session))
    _write_text(path, buf.getvalue(), encoding="utf-8-sig")
    return path


def _write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    try:
        atomic_write_text(path, text, encoding)
    except OSError as exc:
        raise ExportError(f"could not write {path}: {describe_os_error(exc)}") from exc
