"""SMPTE timecode conversions, non-drop and drop-frame."""

from __future__ import annotations

import pytest

from foley_app.core.timecode import (
    TimecodeError,
    frames_to_timecode,
    seconds_to_timecode,
    timecode_to_frames,
    timecode_to_seconds,
)


@pytest.mark.parametrize("seconds,fps,tc", [
    (0.0, 25, "00:00:00:00"),
    (2.0, 25, "00:00:02:00"),
    (0.123456, 25, "00:00:00:03"),
    (3661.5, 24, "01:01:01:12"),
    (59.999, 30, "00:00:59:29"),
    (10.0, 23.976, "00:00:09:23"),  # NDF runs 0.1 % behind the clock
    (1.0, 120, "00:00:01:000"),
])
def test_seconds_to_timecode(seconds: float, fps: float, tc: str) -> None:
    assert seconds_to_timecode(seconds, fps) == tc


@pytest.mark.parametrize("frames,tc", [
    (0, "00:00:00;00"), (1799, "00:00:59;29"), (1800, "00:01:00;02"), (3597, "00:01:59;29"), (3598, "00:02:00;02"),
    (3600, "00:02:00;04"), (17982, "00:10:00;00"), (17981, "00:09:59;29"), (107892, "01:00:00;00"),
])
def test_drop_frame_at_29_97(frames: int, tc: str) -> None:
    assert frames_to_timecode(frames, 30000 / 1001, drop_frame=True) == tc
    assert timecode_to_frames(tc, 30000 / 1001) == frames


@pytest.mark.parametrize("fps,drop", [(25, False), (24, False), (30, False), (23.976, False), (29.97, True),
                                      (59.94, True), (60, False)])
def test_round_trips(fps: float, drop: bool) -> None:
    for frames in list(range(0, 4000)) + list(range(17_900, 18_100)) + [215_784, 1_000_003]:
        tc = frames_to_timecode(frames, fps, drop)
        assert timecode_to_frames(tc, fps) == frames, tc
    assert timecode_to_seconds("00:00:02:00", 25) == 2.0
    assert frames_to_timecode(-30, 25) == "-00:00:01:05" and timecode_to_frames("-00:00:01:05", 25) == -30


@pytest.mark.parametrize("tc,fps", [
    ("12:34", 25), ("00:00:00:25", 25), ("00:61:00:00", 25), ("00:01:00;00", 29.97), ("00:00:01;00", 25),
    ("aa:bb:cc:dd", 25), (None, 25), ("00:00:00:00", 0), ("00:00:00:00", float("nan")),
])
def test_invalid_timecodes_raise(tc, fps) -> None:
    with pytest.raises(TimecodeError):
        timecode_to_frames(tc, fps)


def test_drop_frame_needs_an_ntsc_rate() -> None:
    with pytest.raises(TimecodeError, match="29.97"):
        frames_to_timecode(10, 25, drop_frame=True)
    with pytest.raises(TimecodeError):
        seconds_to_timecode(float("inf"), 25)
