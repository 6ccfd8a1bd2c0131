"""The video with the mix as its sound: the picture copied into mp4 (or re-encoded as H.264), AAC audio."""

from __future__ import annotations

import logging
import math
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.api import atomic_path, describe_os_error
from foley_app.core.audio_cache import AudioCache
from foley_app.core.document import Document
from foley_app.core.errors import ExportError
from foley_app.core.mix import Progress, check_cancel, mixdown, video_duration

log = logging.getLogger(__name__)

MP4_COPY_CODECS = frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "mjpeg"})  # picture we can remux into mp4


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
    check_cancel(cancel)
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
