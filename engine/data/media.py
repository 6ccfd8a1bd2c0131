"""Decoding: video frames (OpenCV), audio of any container (soundfile, then PyAV), to mono float32 48 kHz.

No system ffmpeg is needed: PyAV bundles its own libraries. Every failure becomes a ``MediaError``
that names the file and the reason.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import MediaError

log = logging.getLogger(__name__)

SOUND_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc", ".w64", ".caf", ".opus"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})
CONTAINER_AUDIO_EXTENSIONS = frozenset({".m4a", ".aac", ".wma", ".ac3", ".mka"})


@dataclass(frozen=True)
class VideoInfo:
    """What the decoder knows about a video before reading it."""

    path: Path
    duration: float  # seconds, from the longest stream
    width: int  # after rotation
    height: int
    fps: float  # average frame rate (may vary within the file)
    rotation: int  # degrees the picture is turned for display
    has_audio: bool
    audio_duration: float
    video_duration: float = 0.0  # the picture stream's own length (0 when the container does not say)


def _open_container(path: Path):  # -> av.container.InputContainer
    import av

    if not path.exists():
        raise MediaError(f"{path}: file not found")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, not a media file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")
    try:
        return av.open(str(path))
    except av.InvalidDataError as exc:  # about the user's file, not the decoder's internals
        raise MediaError(f"{path}: not a readable media file (damaged, or not audio or video at all)") from exc
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)  # PyAV's str() repeats errno and path
        raise MediaError(f"{path}: not a readable media file ({exc.__class__.__name__}: {detail})") from exc


def _codec(stream, path: Path):  # -> av.CodecContext
    """The stream's decoder context; ``MediaError`` when FFmpeg has none (unknown codec, damaged header)."""
    ctx = stream.codec_context
    if ctx is None:
        raise MediaError(f"{path}: the {stream.type} stream cannot be decoded (unsupported codec or damaged header)")
    return ctx


def probe_video(path: Path | str) -> VideoInfo:
    """Duration, size, frame rate, rotation and audio presence of a video; ``MediaError`` if it has no picture."""
    path = Path(path)
    with _open_container(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: no video stream")
        vs = container.streams.video[0]
        ctx = _codec(vs, path)
        width, height = ctx.width, ctx.height
        if not width or not height:
            raise MediaError(f"{path}: video stream has no picture size")
        fps = float(vs.average_rate) if vs.average_rate else 0.0
        durations = [_stream_duration(s) for s in container.streams if s.type in ("video", "audio")]
        duration = max([d for d in durations if d > 0], default=0.0)
        if duration <= 0 and container.duration:
            duration = container.duration / 1_000_000
        audio_duration = _stream_duration(container.streams.audio[0]) if container.streams.audio else 0.0
        video_duration = _stream_duration(vs)
        has_audio = bool(container.streams.audio)
    rotation = _rotation_of(path)
    if rotation % 180 == 90:
        width, height = height, width
    return VideoInfo(path, duration, width, height, fps, rotation, has_audio, audio_duration, video_duration)


def _stream_duration(stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return 0.0


def _rotation_of(path: Path) -> int:
    """The display rotation OpenCV applies (it auto-rotates by the stream's display matrix)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_ORIENTATION_META)) % 360 if cap.isOpened() else 0
    finally:
        cap.release()


def _open_capture(path: Path):
    import cv2

    if not path.exists():
        raise MediaError(f"{path}: file not found")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise MediaError(f"{path}: cannot be read as a video (damaged, or not a video)")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # rotated phone video comes out upright
    return cap


def iter_frames_at(path: Path | str, times: Sequence[float]) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(t, rgb)`` for each requested time, ascending, decoding sequentially.

    Each time gets the first frame whose container timestamp is at or after it (within 1 ms), so
    variable frame rate is handled; times past the last frame get the last frame. Only the frames
    that are returned are converted; the rest are just grabbed (sequential ``grab``/``retrieve``
    is ~4x faster than seeking).
    """
    import cv2

    path = Path(path)
    wanted = sorted(float(t) for t in times)
    if not wanted:
        return
    cap = _open_capture(path)
    try:
        i = 0
        last: np.ndarray | None = None
        while i < len(wanted):
            if not cap.grab():
                break
            t_frame = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if t_frame < wanted[i] - 1e-3:
                continue
            ok, bgr = cap.retrieve()
            if not ok:
                continue
            last = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            while i < len(wanted) and wanted[i] <= t_frame + 1e-3:
                yield wanted[i], last
                i += 1
        if i < len(wanted):
            if last is None:
                last = _last_frame(cap, path)
            while i < len(wanted):
                yield wanted[i], last
                i += 1
    finally:
        cap.release()


def _last_frame(cap, path: Path) -> np.ndarray:
    """The final decodable frame, for times past the end; ``cap`` is exhausted and gets replaced."""
    cap.release()
    cap = _open_capture(path)
    last = None
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            last = bgr
    finally:
        cap.release()
    if last is None:
        raise MediaError(f"{path}: no decodable video frames")
    import cv2

    return cv2.cvtColor(last, cv2.COLOR_BGR2RGB)


def frame_times(duration: float, fps: float = 1.0, offset: float = 0.5) -> list[float]:
    """Sampling times for ``fps`` frames a second: k/fps + offset/fps for every whole period in the file."""
    n = int(math.floor(duration * fps + 1e-6))
    return [(k + offset) / fps for k in range(n)]


def read_frames_at(path: Path | str, times: Sequence[float]) -> list[np.ndarray]:
    """RGB uint8 frames (H, W, 3) at the given times, in the order given."""
    by_time = dict(iter_frames_at(path, times))
    return [by_time[float(t)] for t in times]


def read_frame(path: Path | str, t: float) -> np.ndarray:
    """One RGB frame at time ``t``, seeking near it first (for interactive scrubbing)."""
    import cv2

    path = Path(path)
    cap = _open_capture(path)
    try:
        cap.set(cv2.CAP_PROP_POS_MSEC, max(0.0, (t - 1.0)) * 1000.0)
        frame: np.ndarray | None = None
        while True:
            if not cap.grab():
                break
            t_frame = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if frame is not None and t_frame > t + 1e-6:
                break
            ok, bgr = cap.retrieve()
            if ok:
                frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if frame is None:
            raise MediaError(f"{path}: no frame at {t:.3f} s")
        return frame
    finally:
        cap.release()


def _to_mono(data: np.ndarray) -> np.ndarray:
    if data.ndim == 2:
        data = data.mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality resampling (soxr VHQ) of a mono float32 signal."""
    if sr_in == sr_out or wave.size == 0:
        return wave.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(wave, sr_in, sr_out, quality="VHQ").astype(np.float32, copy=False)


def _decode_with_soundfile(path: Path, start: float, duration: float | None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        sr = f.samplerate
        first = int(round(start * sr))
        if first > 0:
            f.seek(min(first, f.frames))
        n = -1 if duration is None else int(math.ceil(duration * sr))
        data = f.read(frames=n, dtype="float32", always_2d=True)
    return _to_mono(data), sr


def _decode_with_av(path: Path, start: float, duration: float | None) -> tuple[np.ndarray, int]:
    import av

    with _open_container(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        sr = _codec(stream, path).sample_rate or stream.rate
        if not sr:
            raise MediaError(f"{path}: audio stream has no sample rate")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as exc:
            if not chunks:
                raise MediaError(f"{path}: audio cannot be decoded ({exc})") from exc
            log.warning("%s: audio truncated after %d chunks (%s)", path, len(chunks), exc)
    wave = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    first = int(round(start * sr))
    last = None if duration is None else first + int(math.ceil(duration * sr))
    return wave[first:last].astype(np.float32, copy=False), sr


def load_audio(path: Path | str, sample_rate: int = 48_000, start: float = 0.0, duration: float | None = None) -> np.ndarray:
    """Mono float32 audio at ``sample_rate`` from a sound file or a video's audio track.

    soundfile reads wav/flac/ogg/mp3/aiff; anything else (or a file soundfile rejects) goes through
    PyAV. Raises ``MediaError`` for missing, empty, corrupt or audio-less files.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: file not found")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, not a sound file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")
    wave: np.ndarray | None = None
    sr = 0
    if path.suffix.lower() in SOUND_EXTENSIONS:
        try:
            wave, sr = _decode_with_soundfile(path, start, duration)
        except (RuntimeError, ValueError, OSError, TypeError) as exc:  # soundfile.LibsndfileError is a RuntimeError
            log.debug("%s: soundfile failed (%s); trying the video decoder", path, exc)
    if wave is None:
        wave, sr = _decode_with_av(path, start, duration)
    if not np.all(np.isfinite(wave)):
        wave = np.nan_to_num(wave, nan=0.0, posinf=0.0, neginf=0.0)
    return resample(wave, sr, sample_rate)


def audio_info(path: Path | str) -> tuple[float, int, int]:
    """``(duration_s, sample_rate, channels)`` of a sound file without decoding it all."""
    import soundfile as sf

    path = Path(path)
    try:
        info = sf.info(str(path))
        if info.frames > 0 and info.samplerate > 0:
            return info.frames / info.samplerate, int(info.samplerate), int(info.channels)
    except (RuntimeError, ValueError, OSError, TypeError):
        pass
    with _open_container(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        ctx = _codec(stream, path)
        sr = int(ctx.sample_rate or 0)
        channels = int(ctx.channels or 1)
        duration = _stream_duration(stream) or (container.duration or 0) / 1_000_000
    if duration <= 0:
        duration = len(load_audio(path, sample_rate=sr or 48_000)) / float(sr or 48_000)
    return float(duration), sr, channels
