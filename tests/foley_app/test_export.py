"""Export: sample-accurate mixdown, limiter and normalisation, WAV, mp4 with the mix, OTIO, CSV cue sheet."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate

from engine.data.media import load_audio
from foley_app.core.audio_cache import AudioCache
from foley_app.core.commands import AddClip, AddTrack, SetTrackMute, SetTrackSolo, SetTrackVolume
from foley_app.core.document import Clip, Document
from foley_app.core.export import (
    CUE_COLUMNS,
    ExportCancelled,
    ExportError,
    build_otio,
    export_cue_csv,
    export_otio,
    export_video,
    export_wav,
)
from foley_app.core.mix import db_to_gain, limit, mixdown, normalize

SR = 48_000
CEILING = np.float32(10 ** (-1 / 20))


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Float WAVs with a distinct value in every sample, so any misplacement shows."""
    folder = tmp_path_factory.mktemp("sounds")
    rng = np.random.default_rng(3)
    out = {}
    for name, n in (("ramp", 4800), ("noise", 9600), ("tick", 480)):
        wave = (rng.uniform(0.05, 0.2, n) * rng.choice([-1, 1], n)).astype(np.float32)
        p = folder / f"{name}.wav"
        sf.write(str(p), wave, SR, subtype="FLOAT")
        out[name] = p
    return out


def _wave(p: Path) -> np.ndarray:
    return sf.read(str(p), dtype="float32")[0]


def _doc(sounds: dict[str, Path]) -> Document:
    doc = Document()
    AddTrack("A").do(doc)
    AddTrack("B").do(doc)
    a, b = doc.tracks
    AddClip(a.id, Clip("r", sounds["ramp"], 0.01, 0.09, 0.123456, -6.0, "ramp", "UI")).do(doc)
    AddClip(a.id, Clip("t", sounds["tick"], 0.0, 0.01, 0.5000104, 0.0, "tick", "=HYPERLINK()")).do(doc)
    AddClip(b.id, Clip("n", sounds["noise"], 0.05, 0.15, 0.3, 3.0, "noise", "AMB")).do(doc)
    SetTrackVolume(b.id, -4.5).do(doc)
    return doc


def _expected(doc: Document, sounds: dict[str, Path], length: int) -> np.ndarray:
    out = np.zeros(length, np.float64)
    for track in doc.tracks:
        if not doc.audible(track):
            continue
        for c in track.clips:
            w = _wave(c.sound_path)
            p, s0, s1 = round(c.position * SR), round(c.source_start * SR), round(c.source_end * SR)
            out[p : p + s1 - s0] += w[s0:s1] * 10 ** ((c.gain_db + track.volume_db) / 20)
    return out


def test_mixdown_places_every_sample_exactly(sounds: dict[str, Path]) -> None:
    doc = _doc(sounds)
    mix = mixdown(doc, cache=AudioCache())
    assert mix.dtype == np.float32 and mix.ndim == 1
    assert mix.size == round((0.5000104 + 0.01) * SR) and mix[-1] != 0  # ends with the last clip
    np.testing.assert_allclose(mix, _expected(doc, sounds, mix.size), atol=1e-6)
    ramp = _wave(sounds["ramp"])
    first = round(0.123456 * SR)  # 5926
    assert mix[first - 1] == 0.0 and mix[first] == pytest.approx(ramp[480] * db_to_gain(-6), abs=1e-7)
    tick_at = round(0.5000104 * SR)  # 24000 (rounds to the nearest sample)
    assert tick_at == 24000 and mix[tick_at] == pytest.approx(_wave(sounds["tick"])[0], abs=1e-7)


def test_mute_and_solo_decide_what_is_heard(sounds: dict[str, Path]) -> None:
    doc = _doc(sounds)
    a, b = doc.tracks
    n = round(0.6 * SR)
    mute = SetTrackMute(a.id, True)
    mute.do(doc)
    only_b = mixdown(doc, length_s=0.6, cache=AudioCache())
    np.testing.assert_allclose(only_b, _expected(doc, sounds, n), atol=1e-6)
    assert not only_b[round(0.123456 * SR)] and only_b[round(0.3 * SR)]
    mute.undo(doc)
    SetTrackSolo(a.id, True).do(doc)
    only_a = mixdown(doc, length_s=0.6, cache=AudioCache())
    assert only_a[round(0.123456 * SR)] and not only_a[round(0.3 * SR) + 5000]
    SetTrackMute(a.id, True).do(doc)  # soloed and muted: silent
    assert not mixdown(doc, length_s=0.6, cache=AudioCache()).any()


def test_wav_export_is_24_bit_and_sample_accurate(sounds: dict[str, Path], tmp_path: Path) -> None:
    doc = _doc(sounds)
    out = export_wav(doc, tmp_path / "mix.wav", cache=AudioCache())
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype, info.format) == (SR, 1, "PCM_24", "WAV")
    back = _wave(out)
    expected = _expected(doc, sounds, back.size)
    np.testing.assert_allclose(back, expected, atol=2.0**-22)
    assert np.array_equal(np.flatnonzero(back), np.flatnonzero(np.round(expected * 2**23)))
    stereo = export_wav(doc, tmp_path / "mix2.wav", channels=2, cache=AudioCache())
    both = sf.read(str(stereo), dtype="float32")[0]
    assert both.shape == (back.size, 2) and np.array_equal(both[:, 0], both[:, 1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav", "mix2.wav"]  # no temp files left


def test_limiter_never_exceeds_the_ceiling(sounds: dict[str, Path]) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(SR * 2) / SR
    loud = (3.0 * np.sin(2 * np.pi * 110 * t) * (t > 0.5) + rng.normal(0, 0.5, t.size)).astype(np.float32)
    loud[30000] = 40.0  # a single-sample spike
    y = limit(loud, SR)
    assert np.abs(y).max() <= CEILING
    assert np.abs(y).max() > 0.8 * CEILING  # it limits, it does not just turn everything down
    quiet = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert np.array_equal(limit(quiet, SR), quiet)  # transparent under the ceiling


def test_limiter_touches_only_the_neighbourhood_of_a_peak() -> None:
    t = np.arange(SR) / SR
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    x[24000] = 4.0
    y = limit(x, SR)
    assert np.abs(y).max() <= CEILING
    np.testing.assert_array_equal(y[:23000], x[:23000])  # before the 5 ms look-ahead: untouched
    assert np.allclose(y[-4000:], x[-4000:], rtol=0.01)  # recovered after the 80 ms release
    gain = y[23500:25000] / np.where(x[23500:25000] == 0, 1, x[23500:25000])
    assert gain.min() >= CEILING / 4.0 - 1e-3


def test_limit_mode_keeps_an_overloaded_mix_under_the_ceiling(sounds: dict[str, Path]) -> None:
    doc = Document()
    AddTrack().do(doc)
    for i in range(6):  # six loud copies on top of each other
        AddClip(doc.tracks[0].id, Clip(f"c{i}", sounds["noise"], 0.0, 0.2, 0.0, 24.0)).do(doc)
    raw_peak = np.abs(_expected(doc, sounds, round(0.2 * SR))).max()
    assert raw_peak > 10
    assert np.abs(mixdown(doc, cache=AudioCache())).max() <= CEILING
    norm = mixdown(doc, mode="normalize", cache=AudioCache())
    assert np.abs(norm).max() == pytest.approx(CEILING, rel=1e-6)
    assert normalize(np.zeros(10, np.float32)).tolist() == [0.0] * 10


def test_bad_requests_fail_before_writing(sounds: dict[str, Path], tmp_path: Path) -> None:
    doc = _doc(sounds)
    target = tmp_path / "mix.wav"
    target.write_bytes(b"old")
    with pytest.raises(ExportError, match="unknown mix mode"):
        export_wav(doc, target, mode="loud")
    gone = AddClip(doc.tracks[0].id, Clip("m", tmp_path / "gone.wav", 0.0, 1.0, 0.0))
    gone.do(doc)
    with pytest.raises(ExportError, match="1 sound file.*gone.wav.*relink"):
        export_wav(doc, target)
    cancel = threading.Event()
    cancel.set()
    gone.undo(doc)
    with pytest.raises(ExportCancelled):
        export_wav(doc, target, cancel=cancel)
    with pytest.raises(ExportError, match="nothing to export"):
        export_wav(Document(), target)
    with pytest.raises(ExportError, match="no video"):
        export_video(doc, tmp_path / "x.mp4")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav"]


def _frames(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.mark.parametrize("reencode", [False, True], ids=["copy", "h264"])
def test_video_export_carries_the_mix(event_video, sound_library: list[Path], tmp_path: Path, reencode: bool) -> None:
    doc = Document(video=event_video.path)
    AddTrack().do(doc)
    t = doc.tracks[0].id
    for i, (p, pos) in enumerate(zip(sound_library[::3], (0.5, 2.25, 4.0, 6.75))):
        AddClip(t, Clip(f"c{i}", p, 0.0, 1.0, pos, gain_db=-3.0 * i)).do(doc)
    steps: list[tuple[int, int]] = []
    out = export_video(doc, tmp_path / "movie.mp4", reencode=reencode, cache=AudioCache(),
                       progress=lambda d, n: steps.append((d, n)))
    mix = mixdown(doc, cache=AudioCache())
    assert mix.size == 10 * SR  # as long as the picture
    back = load_audio(out)
    n = min(back.size, mix.size)
    assert abs(back.size - mix.size) < SR // 10
    corr = correlate(back[:n], mix[:n], mode="full", method="fft")
    assert abs(int(np.argmax(corr)) - (n - 1)) <= 1  # in sync with the picture
    assert np.corrcoef(back[:n], mix[:n])[0, 1] > 0.99
    assert _frames(out) == _frames(event_video.path)
    assert steps and steps[-1][0] <= steps[-1][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.mp4"]


def test_otio_reads_back_with_the_right_clips_and_ranges(sounds: dict[str, Path], tmp_path: Path,
                                                         event_video) -> None:
    import opentimelineio as otio

    doc = _doc(sounds)
    doc.video = event_video.path
    a, b = doc.tracks
    AddClip(a.id, Clip("o", sounds["noise"], 0.0, 0.2, 0.13, -1.0, "overlap", "AMB", 0.2)).do(doc)  # overlaps "r"
    SetTrackMute(b.id, True).do(doc)
    path = export_otio(doc, tmp_path / "cut.otio")
    tl = otio.adapters.read_from_file(str(path))
    assert [t.name for t in tl.tracks] == ["Video", "A", "A (2)", "B"]
    assert [t.kind for t in tl.tracks] == ["Video", "Audio", "Audio", "Audio"]
    assert [t.enabled for t in tl.tracks] == [True, True, True, False]
    video_clip = tl.tracks[0].find_clips()[0]
    assert video_clip.media_reference.target_url == event_video.path.resolve().as_uri()
    assert video_clip.source_range.duration.to_seconds() == pytest.approx(10.0, abs=0.1)
    found = {c.metadata["foley_assistant"]["clip_id"]: c for t in tl.tracks[1:] for c in t.find_clips()}
    assert sorted(found) == ["n", "o", "r", "t"]
    for _, clip in doc.clips():
        oc = found[clip.id]
        in_parent = oc.range_in_parent()
        assert in_parent.start_time.rate == SR and in_parent.start_time.value == round(clip.position * SR)
        assert oc.source_range.start_time.value == round(clip.source_start * SR)
        assert oc.source_range.duration.value == round(clip.source_end * SR) - round(clip.source_start * SR)
        assert oc.media_reference.target_url == Path(clip.sound_path).resolve().as_uri()
        assert oc.metadata["foley_assistant"]["gain_db"] == clip.gain_db
    assert found["o"].media_reference.available_range.duration.to_seconds() == pytest.approx(0.2)
    assert len(build_otio(Document()).tracks) == 0


def test_cue_sheet_rows(sounds: dict[str, Path], tmp_path: Path) -> None:
    doc = _doc(sounds)
    path = export_cue_csv(doc, tmp_path / "cues.csv", fps=25)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CUE_COLUMNS
        rows = list(reader)
    assert [r["clip"] for r in rows] == ["ramp", "noise", "tick"]  # timeline order
    assert [r["cue"] for r in rows] == ["1", "2", "3"]
    ramp, noise, tick = rows
    assert (ramp["track"], ramp["timeline_in_s"], ramp["timeline_out_s"]) == ("A", "0.123", "0.203")
    assert (ramp["timeline_in_tc"], ramp["timeline_out_tc"]) == ("00:00:00:03", "00:00:00:05")
    assert (noise["source_in_s"], noise["source_out_s"], noise["gain_db"], noise["track_volume_db"]) == (
        "0.050", "0.150", "3.0", "-4.5")
    assert Path(noise["source_file"]) == sounds["noise"].resolve()
    assert tick["category"] == "'=HYPERLINK()"  # a spreadsheet will not run it
    assert all(r["audible"] == "yes" for r in rows)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 20_000), scale=st.floats(0.5, 1e4),
       spikes=st.integers(0, 20), sr=st.sampled_from([8_000, 44_100, 48_000, 96_000]))
def test_limiter_ceiling_holds_for_any_signal(seed: int, n: int, scale: float, spikes: int, sr: int) -> None:
    rng = np.random.default_rng(seed)
    x = (rng.normal(0, 1, n) * scale).astype(np.float32)
    x[rng.integers(0, n, spikes)] *= 50
    y = limit(x, sr)
    assert y.shape == x.shape and np.abs(y).max() <= CEILING
    assert np.all(np.sign(y[y != 0]) == np.sign(x[y != 0]))  # gain only, never inverted


def test_playback_mix_can_skip_missing_sounds(sounds: dict[str, Path], tmp_path: Path) -> None:
    doc = _doc(sounds)
    full = mixdown(doc, cache=AudioCache())
    AddClip(doc.tracks[0].id, Clip("gone", tmp_path / "gone.wav", 0.0, 0.1, 0.0)).do(doc)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt garbage")
    AddClip(doc.tracks[1].id, Clip("bad", broken, 0.0, 0.1, 0.0)).do(doc)
    assert np.array_equal(mixdown(doc, cache=AudioCache(), skip_missing=True), full)
    with pytest.raises(ExportError, match="not found"):
        mixdown(doc, cache=AudioCache())


def test_video_export_reencodes_what_mp4_cannot_hold_and_keeps_rotation(tmp_path: Path, sounds) -> None:
    import av

    from engine.data import synthetic
    from engine.data.media import probe_video

    mkv = synthetic.write_video(tmp_path / "m2.mkv", ["circle", None], codec="mpeg2video").path
    rotated = synthetic.write_video(tmp_path / "rot.mp4", ["square", None], rotation=90).path
    for src in (mkv, rotated):
        doc = Document(video=src)
        AddTrack().do(doc)
        AddClip(doc.tracks[0].id, Clip("n", sounds["noise"], 0.0, 0.2, 0.5)).do(doc)
        out = export_video(doc, tmp_path / f"{src.stem}_out.mp4", cache=AudioCache())
        with av.open(str(out)) as c:
            assert c.streams.video[0].codec_context.name == "h264"  # mpeg2 re-encoded, h264 copied
            assert c.streams.audio[0].codec_context.name == "aac"
        info_in, info_out = probe_video(src), probe_video(out)
        assert (info_out.width, info_out.height, info_out.rotation) == (info_in.width, info_in.height, info_in.rotation)
        assert _frames(out) == _frames(src)


def test_cancelled_video_export_leaves_nothing(event_video, tmp_path: Path, sounds) -> None:
    doc = Document(video=event_video.path)
    cancel = threading.Event()
    target = tmp_path / "movie.mp4"
    with pytest.raises(ExportCancelled):
        export_video(doc, target, cache=AudioCache(), cancel=cancel, progress=lambda d, n: cancel.set())
    assert list(tmp_path.iterdir()) == []


def test_timeline_playback_render_skips_a_moved_sound(sounds: dict[str, Path], tmp_path: Path) -> None:
    """Playback (unlike export) keeps going when a sound has moved: that clip is silent, the rest plays."""
    from foley_app.controllers.playback import render_from

    moved = tmp_path / "moved.wav"
    sf.write(str(moved), np.ones(4800, np.float32) * 0.1, SR)
    doc = _doc(sounds)
    AddClip(doc.tracks[0].id, Clip("m", moved, 0.0, 0.1, 0.7, 0.0, "moved", "UI")).do(doc)
    moved.unlink()
    _, mix, out, _ = render_from("k", doc, None, None, 0.0, SR)
    want = _expected(_doc(sounds), sounds, mix.size)
    np.testing.assert_allclose(mix, want, atol=1e-6)
    assert out.size == mix.size
