"""Decoding: frames at timestamps, audio of containers and sound files, odd inputs, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.data import media, synthetic
from engine.data.features import clip_at_second, rms
from engine.errors import MediaError
from tests.conftest import EVENTS


def _dominant(rgb: np.ndarray) -> tuple[int, int, int]:
    """The median colour of the pixels that are not the dark grey background (the shape's colour)."""
    flat = rgb.reshape(-1, 3).astype(int)
    fg = flat[np.abs(flat - 24).max(axis=1) > 30]
    return tuple(np.median(fg, axis=0).astype(int)) if len(fg) > 20 else (0, 0, 0)


def test_probe_reports_duration_size_and_audio(event_video: synthetic.SyntheticVideo) -> None:
    info = media.probe_video(event_video.path)
    assert (info.width, info.height) == (160, 120)
    assert abs(info.duration - len(EVENTS)) < 0.2
    assert info.has_audio and info.fps == pytest.approx(10.0)


def test_frames_at_one_fps_show_each_seconds_event(event_video: synthetic.SyntheticVideo) -> None:
    info = media.probe_video(event_video.path)
    times = media.frame_times(info.duration)
    assert times[:3] == [0.5, 1.5, 2.5] and len(times) == len(EVENTS)
    frames = media.read_frames_at(event_video.path, times)
    for k, (frame, ev) in enumerate(zip(frames, EVENTS)):
        colour = _dominant(frame)
        if ev is None:
            assert max(colour) < 40, f"second {k} should be blank"
        else:
            expected = synthetic._COLOURS[ev]
            assert np.abs(np.array(colour) - expected).max() < 40, f"second {k}: {colour} vs {ev}"


def test_audio_second_k_holds_event_k(event_video: synthetic.SyntheticVideo) -> None:
    wave = media.load_audio(event_video.path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(wave.size / 48_000 - len(EVENTS)) < 0.05
    levels = [float(rms(clip_at_second(wave, k))) for k in range(len(EVENTS))]
    for k, ev in enumerate(EVENTS):
        if ev is None:
            assert levels[k] < 0.01
        else:
            assert levels[k] > 0.05
    # the click of each event sits ~50 ms into its second: alignment to better than 20 ms
    for k, ev in enumerate(EVENTS):
        if ev is not None:
            clip = clip_at_second(wave, k)
            onset = int(np.argmax(np.abs(clip) > 0.3)) / 48_000
            assert 0.035 < onset < 0.07, (k, onset)


def test_frame_times_cover_whole_seconds_only() -> None:
    assert media.frame_times(3.99) == [0.5, 1.5, 2.5]
    assert media.frame_times(0.4) == []


def test_read_frame_seeks_to_time(event_video: synthetic.SyntheticVideo) -> None:
    frame = media.read_frame(event_video.path, 3.5)
    assert np.abs(np.array(_dominant(frame)) - synthetic._COLOURS["triangle"]).max() < 40


def test_sound_files_to_mono_48k(tmp_path: Path) -> None:
    stereo = np.stack([np.ones(22050) * 0.5, np.zeros(22050)], axis=1).astype(np.float32)
    for ext, fmt in ((".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG"), (".aiff", "AIFF")):
        p = tmp_path / f"s{ext}"
        sf.write(str(p), stereo, 22050, format=fmt)
        wave = media.load_audio(p)
        assert wave.shape[0] == pytest.approx(48_000, abs=2)
        assert float(np.median(wave)) == pytest.approx(0.25, abs=0.02), ext


def test_segment_read_by_offset(tmp_path: Path) -> None:
    sig = np.concatenate([np.zeros(48_000), np.ones(48_000) * 0.5]).astype(np.float32)
    p = tmp_path / "step.wav"
    sf.write(str(p), sig, 48_000)
    part = media.load_audio(p, start=1.0, duration=0.5)
    assert part.size == 24_000 and np.allclose(part, 0.5, atol=1e-3)


def test_video_audio_track_via_fallback_for_other_containers(tmp_path: Path) -> None:
    v = synthetic.write_video(tmp_path / "clip.mkv", ["bar", "bar"], seed=2)
    wave = media.load_audio(v.path)
    assert abs(wave.size / 48_000 - 2) < 0.05 and rms(wave) > 0.05


def test_odd_size_and_short_video(tmp_path: Path) -> None:
    v = synthetic.write_video(tmp_path / "odd.mp4", ["circle"], size=(161, 97), seed=3)
    info = media.probe_video(v.path)
    assert (info.width, info.height) == (161, 97)
    frame = media.read_frames_at(v.path, [0.5])[0]
    assert frame.shape == (97, 161, 3)
    # asking past the end gives the last frame, not an error
    assert media.read_frames_at(v.path, [5.0])[0].shape == (97, 161, 3)


def _raw_first_frame(path: Path) -> np.ndarray:
    """The first frame as stored (no display rotation applied), via PyAV."""
    import av

    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


@pytest.mark.parametrize("rotation, cv_code", [(90, "ROTATE_90_CLOCKWISE"), (180, "ROTATE_180"), (270, "ROTATE_90_COUNTERCLOCKWISE")])
def test_rotated_phone_video_comes_out_upright(tmp_path: Path, rotation: int, cv_code: str) -> None:
    import cv2

    v = synthetic.write_video(tmp_path / "rot.mp4", ["bar"], size=(160, 96), rotation=rotation, seed=4)
    info = media.probe_video(v.path)
    assert info.rotation == rotation
    expected_size = (96, 160) if rotation % 180 else (160, 96)
    assert (info.width, info.height) == expected_size
    frame = media.read_frames_at(v.path, [0.5])[0]
    assert frame.shape == (expected_size[1], expected_size[0], 3)
    # the picture is the stored one turned clockwise by the tag: the horizontal bar stands upright at 90/270
    upright = cv2.rotate(_raw_first_frame(v.path), getattr(cv2, cv_code))
    assert np.abs(frame.astype(int) - upright.astype(int)).mean() < 3
    ys, xs = np.nonzero(np.abs(frame.astype(int) - 24).max(axis=2) > 30)
    tall = np.ptp(ys) > np.ptp(xs)
    assert tall == bool(rotation % 180)
    assert media.read_frame(v.path, 0.5).shape == frame.shape


def test_video_without_audio(tmp_path: Path) -> None:
    v = synthetic.write_video(tmp_path / "mute.mp4", ["ring", "ring"], audio=False, seed=5)
    assert not media.probe_video(v.path).has_audio
    with pytest.raises(MediaError, match="no audio stream"):
        media.load_audio(v.path)


@pytest.mark.parametrize(
    "content, match",
    [(b"", "empty file"), (b"this is not media at all" * 20, "not a readable media file")],
)
def test_bad_files_raise_media_error(tmp_path: Path, content: bytes, match: str) -> None:
    for name in ("bad.mp4", "bad.wav"):
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(MediaError, match=match):
            media.load_audio(p)
    with pytest.raises(MediaError):
        media.probe_video(tmp_path / "bad.mp4")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not found"):
        media.load_audio(tmp_path / "nope.wav")
    with pytest.raises(MediaError, match="folder"):
        media.load_audio(tmp_path)


def test_variable_frame_rate_picks_the_frame_shown_at_each_time(tmp_path: Path) -> None:
    """Irregular timestamps (screen recorders, phones): the frame at t is the first one at or after t."""
    path = synthetic.write_timed_video(tmp_path / "vfr.mp4", [0, 40, 300, 310, 900, 1450, 1500, 1990, 2600, 2610, 3400, 3990])
    got = {t: round(float(rgb.mean()) / 20) for t, rgb in media.iter_frames_at(path, [0.5, 1.5, 2.5, 3.5])}
    assert got == {0.5: 4, 1.5: 6, 2.5: 8, 3.5: 11}
