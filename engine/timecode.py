"""SMPTE timecode: seconds <-> ``HH:MM:SS:FF`` at a frame rate (non-drop, or drop-frame for 29.97/59.94).

Frame ``n`` covers ``[n / fps, (n + 1) / fps)``; a time shows the frame it falls in. Non-drop
timecode counts frames at the nominal rate (``round(fps)``), so at 29.97 fps it runs 0.1 % slower
than the wall clock, exactly like an NLE's NDF display. Drop-frame (``;`` before the frames) skips
frame numbers 0 and 1 (0-3 at 59.94) at every minute except each tenth, keeping it on the clock.
"""

from __future__ import annotations

import logging
import math
import re

from engine.errors import EngineError

log = logging.getLogger(__name__)

_TC = re.compile(r"^\s*(-)?(\d{1,3}):(\d{2}):(\d{2})([:;.,])(\d{2,3})\s*$")


class TimecodeError(EngineError):
    """A timecode string or frame rate is invalid."""


def _check_fps(fps: float) -> None:
    if not isinstance(fps, (int, float)) or not math.isfinite(fps) or not 1.0 <= fps <= 1000.0:
        raise TimecodeError(f"frame rate must be between 1 and 1000 fps, got {fps!r}")


def nominal_rate(fps: float) -> int:
    """Frames counted per timecode second: 24 for 23.976, 30 for 29.97, 60 for 59.94."""
    _check_fps(fps)
    return max(1, int(round(fps)))


def is_drop_frame_rate(fps: float) -> bool:
    """True for the NTSC rates that have a drop-frame timecode (29.97 and 59.94)."""
    return any(abs(fps - r * 1000 / 1001) < 1e-3 for r in (30, 60))


def _drop_per_minute(fps: float) -> int:
    return 2 if nominal_rate(fps) == 30 else 4


def seconds_to_frames(seconds: float, fps: float) -> int:
    """Index of the frame that ``seconds`` falls in (a hair of tolerance for float error)."""
    _check_fps(fps)
    return int(math.floor(seconds * fps + 1e-6))


def frames_to_timecode(frames: int, fps: float, drop_frame: bool = False) -> str:
    """``HH:MM:SS:FF`` (``HH:MM:SS;FF`` when ``drop_frame``) for a frame count; negative gets a ``-``."""
    nominal = nominal_rate(fps)
    sign = "-" if frames < 0 else ""
    frames = abs(int(frames))
    sep = ":"
    if drop_frame:
        if not is_drop_frame_rate(fps):
            raise TimecodeError(f"drop-frame timecode exists only at 29.97 and 59.94 fps, not {fps:g}")
        sep = ";"
        drop = _drop_per_minute(fps)
        per_10min = nominal * 600 - drop * 9
        per_min = nominal * 60 - drop
        tens, rest = divmod(frames, per_10min)
        frames += drop * 9 * tens + (drop * ((rest - drop) // per_min) if rest > drop else 0)
    ff = frames % nominal
    total_s = frames // nominal
    hh, rem = divmod(total_s, 3600)
    mm, ss = divmod(rem, 60)
    width = len(str(nominal - 1))
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:0{max(2, width)}d}"


def seconds_to_timecode(seconds: float, fps: float, drop_frame: bool = False) -> str:
    """Timecode of the frame that ``seconds`` falls in."""
    if not math.isfinite(seconds):
        raise TimecodeError(f"cannot show {seconds!r} seconds as timecode")
    return frames_to_timecode(seconds_to_frames(seconds, fps), fps, drop_frame)


def timecode_to_frames(text: str, fps: float) -> int:
    """Frame count of ``HH:MM:SS:FF``; ``;`` (or ``.``/``,``) before the frames means drop-frame."""
    nominal = nominal_rate(fps)
    m = _TC.match(text) if isinstance(text, str) else None
    if m is None:
        raise TimecodeError(f"not a timecode: {text!r}; expected HH:MM:SS:FF")
    neg, hh, mm, ss, sep, ff = m.groups()
    h, mi, s, f = int(hh), int(mm), int(ss), int(ff)
    if mi >= 60 or s >= 60 or f >= nominal:
        raise TimecodeError(f"timecode {text!r} is out of range at {fps:g} fps "
                            f"(minutes/seconds < 60, frames < {nominal})")
    frames = ((h * 60 + mi) * 60 + s) * nominal + f
    if sep in ";.,":
        if not is_drop_frame_rate(fps):
            raise TimecodeError(f"{text!r} is drop-frame timecode, which exists only at 29.97 and 59.94 fps")
        drop = _drop_per_minute(fps)
        if s == 0 and f < drop and mi % 10 != 0:
            raise TimecodeError(f"{text!r} does not exist in drop-frame timecode (frames 0-{drop - 1} are skipped)")
        minutes = h * 60 + mi
        frames -= drop * (minutes - minutes // 10)
    return -frames if neg else frames


def timecode_to_seconds(text: str, fps: float) -> float:
    """Start time in seconds of the frame a timecode names."""
    return timecode_to_frames(text, fps) / fps


# -- a video's own clock --------------------------------------------------------------------------
ZERO = "00:00:00:00"
DEFAULT_FPS = 25.0  # when a video does not say (or says something absurd)


def is_drop_frame_text(text: str) -> bool:
    """True for a drop-frame timecode string (``;``, ``.`` or ``,`` before the frames)."""
    return any(sep in text for sep in ";.,")


def timecode_after(start: str, seconds: float, fps: float) -> str:
    """Timecode of the frame ``seconds`` after the frame ``start`` names (drop-frame when ``start`` is)."""
    return frames_to_timecode(timecode_to_frames(start, fps) + seconds_to_frames(seconds, fps), fps,
                              is_drop_frame_text(start))


def video_start_timecode(video) -> str | None:
    """The start timecode a camera or NLE wrote into a video (mov/mp4 ``tmcd`` track, mxf), or None."""
    import av

    try:
        with av.open(str(video)) as container:
            for meta in [container.metadata] + [stream.metadata for stream in container.streams]:
                text = meta.get("timecode")
                if text:
                    return str(text)
    except (av.FFmpegError, OSError) as exc:
        log.debug("no start timecode from %s: %s", video, exc)
    return None


def picture_clock(video) -> tuple[float, str]:
    """``(frame rate, timecode of the first frame)`` of a video: 25 fps and 00:00:00:00 where it says nothing usable."""
    from engine.data.media import probe_video
    from engine.errors import MediaError

    try:
        fps = probe_video(video).fps
    except MediaError as exc:
        log.info("frame rate of %s unknown (%s); timecode at %g fps", video, exc, DEFAULT_FPS)
        fps = DEFAULT_FPS
    fps = fps if 1.0 <= fps <= 1000.0 else DEFAULT_FPS
    start = video_start_timecode(video) or ZERO
    try:
        timecode_to_frames(start, fps)
    except TimecodeError as exc:
        log.warning("%s: ignoring its start timecode (%s)", video, exc)
        start = ZERO
    return fps, start
