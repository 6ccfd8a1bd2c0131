"""SMPTE timecode for the app: the engine's ``engine.timecode`` (one implementation, shared with
``foley-engine spot`` and the exports)."""

from engine.api import (
    DEFAULT_FPS,
    TimecodeError,
    frames_to_timecode,
    is_drop_frame_rate,
    nominal_rate,
    seconds_to_frames,
    seconds_to_timecode,
    timecode_to_frames,
    timecode_to_seconds,
)

__all__ = ["DEFAULT_FPS", "TimecodeError", "frames_to_timecode", "is_drop_frame_rate", "nominal_rate",
           "seconds_to_frames", "seconds_to_timecode", "timecode_to_frames", "timecode_to_seconds", "usable_fps"]


def usable_fps(fps: float) -> float:
    """A video's frame rate where timecode can use it (1 to 1000 fps), else ``DEFAULT_FPS``."""
    return float(fps) if 1.0 <= fps <= 1000.0 else DEFAULT_FPS
