"""Awkward and broken videos: ``probe_video``, ``read_frame``, ``prepare`` and ``Recommender.for_video``
give a correct result or a ``MediaError`` (prepare: a skip with a reason), nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data import synthetic
from engine.data.cache import FeatureCache
from engine.data.media import probe_video, read_frame
from engine.data.prepare import prepare_dataset
from engine.errors import MediaError
from engine.library.indexer import index_library
from engine.library.recommender import Recommender
from engine.library.sound_index import SoundIndex

from .conftest import FUZZ_EXAMPLES, tiny_model

SR = synthetic.SR


def write_zero_frames(path: Path) -> Path:
    """A container with a declared video stream that holds no frame at all, and 2 s of sound."""
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        synthetic.mux_mono_audio(out, synthetic.add_mono_audio_stream(out), synthetic.event_sound("bar", 2.0, SR))
    return path


VFR_STAMPS = [0, 40, 300, 310, 900, 1450, 1500, 1990, 2600, 2610, 3400, 3990]
VFR_AT = {0.5: 4, 1.5: 6, 2.5: 8, 3.5: 11}  # iter_frames_at (prepare, video cache): the first frame at or after t
VFR_SHOWN = {0.5: 3, 1.5: 6, 2.5: 7, 3.5: 10}  # read_frame (scrubbing): the frame on screen at t


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad-videos") / "videos"
    root.mkdir()
    ev = ["circle", "square", "bar", "ring"]
    v = {
        "plain": synthetic.write_video(root / "plain.mp4", ev, size=(96, 64), seed=1).path,
        "rotated": synthetic.write_video(root / "rotated.mp4", ev, size=(96, 64), rotation=90, seed=2).path,
        "odd": synthetic.write_video(root / "odd.mp4", ev, size=(97, 61), seed=3).path,
        "mute": synthetic.write_video(root / "mute.mp4", ev, size=(96, 64), audio=False, seed=4).path,
        "vfr": synthetic.write_timed_video(root / "vfr.mp4", VFR_STAMPS, audio_seconds=4),
        "zero_frames": write_zero_frames(root / "zero_frames.mp4"),
    }
    full = synthetic.write_video(root / "src.mkv", ev * 2, size=(96, 64), seed=5).path
    raw = full.read_bytes()
    (root / "truncated.mkv").write_bytes(raw[: int(len(raw) * 0.55)])
    full.unlink()
    v["truncated"] = root / "truncated.mkv"
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("a screenplay, not a film\n" * 30)
    v["empty"], v["text"] = root / "empty.mp4", root / "text.mp4"
    return v


@pytest.fixture(scope="module")
def recommender(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    root = tmp_path_factory.mktemp("bad-videos-lib")
    lib = root / "library"
    synthetic.write_sound_library(lib, per_class=1)
    model = tiny_model(0)
    index_library([lib], model, root / "db", workers=0, progress=False)
    return Recommender(model, SoundIndex.open(root / "db", model.model_id))


def test_probe_and_frames_of_awkward_videos_are_right(videos: dict[str, Path]) -> None:
    info = probe_video(videos["rotated"])
    assert (info.width, info.height, info.rotation % 360) in ((64, 96, 90), (64, 96, 270))
    assert read_frame(videos["rotated"], 0.5).shape == (96, 64, 3)  # turned for display
    assert read_frame(videos["odd"], 1.5).shape == (61, 97, 3)
    assert probe_video(videos["odd"]).width == 97
    assert not probe_video(videos["mute"]).has_audio and read_frame(videos["mute"], 2.5).shape == (64, 96, 3)
    for t, level in VFR_SHOWN.items():
        assert round(float(read_frame(videos["vfr"], t).mean()) / 20) == level, t


def test_broken_videos_raise_media_error(videos: dict[str, Path]) -> None:
    for name in ("empty", "text", "zero_frames"):
        with pytest.raises(MediaError) as info:
            read_frame(videos[name], 0.5)
        assert videos[name].name in str(info.value)
    for name in ("empty", "text"):
        with pytest.raises(MediaError, match="empty file|not a readable media file"):
            probe_video(videos[name])
    try:  # the first half of a cut-off file is still a film: its start decodes, or it is refused clearly
        frame = read_frame(videos["truncated"], 0.5)
        assert frame.shape == (64, 96, 3)
    except MediaError as exc:
        assert "truncated.mkv" in str(exc)
    with pytest.raises(MediaError):
        read_frame(videos["plain"], 60.0)  # past the end


def test_prepare_uses_or_skips_each_video_with_a_reason(videos: dict[str, Path], tmp_path: Path) -> None:
    root = videos["plain"].parent
    report = prepare_dataset(root, tmp_path / "ds", workers=0, progress=False)
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert skipped["mute.mp4"] == "no audio track" and "empty file" in skipped["empty.mp4"]
    assert "not a readable media file" in skipped["text.mp4"] and "zero_frames.mp4" in skipped
    cache = FeatureCache(tmp_path / "ds")
    used = set(cache.video_ids)
    assert {"plain", "rotated", "odd", "vfr"} <= used
    assert used | {Path(n).stem for n in skipped} == {p.stem for p in videos.values()}
    rows = {v: np.flatnonzero(cache.video_ids == v) for v in used}
    assert len(rows["plain"]) == len(rows["rotated"]) == len(rows["odd"]) == 4
    # the VFR file's video stream declares 2.95 s (its audio 4 s): the declared length is used, and reported
    assert len(rows["vfr"]) == 2 and any("vfr.mp4" in n.path for n in report.notes)
    frames = cache.frames(rows["vfr"])  # frame k at k + 0.5 s, resized to 224: grey level 20 * VFR_AT
    assert [round(float(f.mean()) / 20) for f in frames] == [VFR_AT[k + 0.5] for k in range(2)]
    if "truncated" in used:  # used in part, with a note saying so
        assert any("truncated.mkv" in n.path for n in report.notes)


def test_recommender_for_video_gives_candidates_or_media_error(videos: dict[str, Path], recommender: Recommender) -> None:
    for name in ("plain", "rotated", "odd", "mute", "vfr"):
        cands = recommender.for_video(videos[name], 1.5, k=3)
        assert len(cands) == 3 and [c.rank for c in cands] == [1, 2, 3], name
    for name in ("empty", "text", "zero_frames"):
        with pytest.raises(MediaError):
            recommender.for_video(videos[name], 0.5, k=3)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
       t=st.floats(0.0, 6.0))
def test_fuzzed_videos_probe_and_decode_or_raise_media_error(videos: dict[str, Path], tmp_path: Path, keep: float, flips, t: float) -> None:
    raw = bytearray(videos["plain"].read_bytes())
    for at, value in flips:
        raw[at % len(raw)] = value
    path = tmp_path / "fuzz.mp4"
    path.write_bytes(bytes(raw[: int(len(raw) * keep)]))
    try:
        info = probe_video(path)
        assert info.width > 0 and info.height > 0
    except MediaError:
        pass
    try:
        frame = read_frame(path, t)
        assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    except MediaError:
        pass
