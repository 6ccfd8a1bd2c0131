"""SMPTE timecode for the app: the engine's ``engine.timecode`` (one implementation, shared with
``foley-engine spot`` and the exports)."""

from engine.timecode import (  # noqa: F401  (re-exported)
    TimecodeError,
    frames_to_timecode,
    is_drop_frame_rate,
    nominal_rate,
    seconds_to_frames,
    seconds_to_timecode,
    timecode_to_frames,
    timecode_to_seconds,
)

__all__ = ["TimecodeError", "frames_to_timecode", "is_drop_frame_rate", "nominal_rate", "seconds_to_frames",
           "seconds_to_timecode", "timecode_to_frames", "timecode_to_seconds"]
