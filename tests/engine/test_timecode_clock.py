"""A video's own clock: frame rate and start timecode (``tmcd``), and timecodes counted from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.timecode import TimecodeError, picture_clock, timecode_after, video_start_timecode


def _video(path: Path, timecode: str | None, fps: int) -> Path:
    import av

    with av.open(str(path), "w") as c:
        if timecode is not None:
            c.metadata["timecode"] = timecode
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(fps):
            for packet in s.encode(av.VideoFrame.from_ndarray(np.full((32, 32, 3), i, np.uint8), format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def test_picture_clock_reads_the_start_timecode_and_rate(tmp_path: Path) -> None:
    assert picture_clock(_video(tmp_path / "tc.mp4", "10:00:00:00", 24)) == (24.0, "10:00:00:00")
    assert picture_clock(_video(tmp_path / "plain.mp4", None, 30)) == (30.0, "00:00:00:00")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    assert video_start_timecode(junk) is None and picture_clock(junk) == (25.0, "00:00:00:00")


@pytest.mark.parametrize("start,seconds,fps,expected", [
    ("00:00:00:00", 9.0, 25, "00:00:09:00"),
    ("01:00:00:00", 0.123456, 25, "01:00:00:03"),
    ("00:59:59:20", 0.25, 25, "01:00:00:01"),  # carries into the next hour
    ("00:00:59;29", 1 / 29.97, 30000 / 1001, "00:01:00;02"),  # drop-frame start: frames 0 and 1 skipped
])
def test_timecode_after_a_start(start: str, seconds: float, fps: float, expected: str) -> None:
    assert timecode_after(start, seconds, fps) == expected


def test_timecode_after_a_bad_start_fails_clearly() -> None:
    with pytest.raises(TimecodeError, match="not a timecode"):
        timecode_after("noon", 1.0, 25)
