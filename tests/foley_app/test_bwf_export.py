"""Broadcast WAV exports a DAW understands: bext + iXML read back by an independent parser (wavinfo),
stems that add up to the mix bit for bit, OTIO markers per cue, cue-sheet timecodes from the video's start."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import wavinfo

from engine.version import __version__
from foley_app.core.audio_cache import AudioCache
from foley_app.core.commands import AddClip, AddTrack, SetTrackMute
from foley_app.core.document import Clip, Document
from foley_app.core.export import (
    ExportCancelled,
    ExportError,
    build_otio,
    cue_rows,
    export_stems,
    export_wav,
    session_of,
)
from foley_app.core.export.bwf import Bext, BwfError, ixml, write_bwf
from foley_app.core.mix import limit, render

SR = 48_000


def _video_with_timecode(path: Path, timecode: str | None, fps: int = 25, seconds: float = 2.0) -> Path:
    """A tiny mp4 whose container says where its picture starts (a ``tmcd`` track, like a camera's)."""
    import av

    with av.open(str(path), "w") as c:
        if timecode is not None:
            c.metadata["timecode"] = timecode
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i % 250, np.uint8), format="rgb24")
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bwf-sounds")
    rng = np.random.default_rng(7)
    out = {}
    for name, n in (("hit", 9600), ("bed", 48_000), ("tick", 480)):
        wave = (rng.uniform(0.2, 0.6, n) * rng.choice([-1, 1], n)).astype(np.float32)
        out[name] = folder / f"{name}.wav"
        sf.write(str(out[name]), wave, SR, subtype="FLOAT")
    return out


@pytest.fixture(scope="module")
def tc_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _video_with_timecode(tmp_path_factory.mktemp("bwf-video") / "scene 12.mp4", "01:00:00:00")


def _doc(sounds: dict[str, Path], video: Path | None, folder: Path) -> Document:
    """A bed, then overlapping loud clips (the limiter works; their sum differs in float from adding each
    clip onto the bed, so only a mix made of the stems' parts matches them bit for bit), then a muted track."""
    doc = Document(video=video)
    doc.path = folder / "reel 3.foley.json"
    for name in ("Bed", "Hits", "Muted"):
        AddTrack(name).do(doc)
    bed, hits, muted = doc.tracks
    AddClip(hits.id, Clip("h1", sounds["hit"], 0.0, 0.2, 0.1, 9.0, "hit", "IMPACT")).do(doc)
    AddClip(hits.id, Clip("h2", sounds["hit"], 0.05, 0.2, 0.17, 6.0, "hit", "IMPACT")).do(doc)  # overlaps h1
    AddClip(hits.id, Clip("t", sounds["tick"], 0.0, 0.01, 1.2000104, 0.0, "tick", "UI")).do(doc)
    AddClip(bed.id, Clip("b", sounds["bed"], 0.1, 0.9, 0.05, -3.0, "bed", "AMB")).do(doc)
    AddClip(muted.id, Clip("m", sounds["tick"], 0.0, 0.01, 0.5, 0.0, "tick", "UI")).do(doc)
    SetTrackMute(muted.id, True).do(doc)
    return doc


# -- the writer -------------------------------------------------------------------------------
@pytest.mark.parametrize("subtype,tolerance", [("PCM_16", 2.0**-15), ("PCM_24", 2.0**-23), ("PCM_32", 2.0**-31),
                                                ("FLOAT", 0.0)])
@pytest.mark.parametrize("rf64", [False, True], ids=["riff", "rf64"])
def test_writer_round_trips_samples_and_chunks(tmp_path: Path, subtype: str, tolerance: float, rf64: bool) -> None:
    rng = np.random.default_rng(1)
    data = rng.uniform(-0.99, 0.99, (4801, 2)).astype(np.float32)  # odd sizes: padding before the iXML chunk
    bext = Bext(description="Mix of reel 3 \u2014 final", originator="Foley Assistant 9.9", time_reference=(1 << 33) + 5,
                origination_date="2026-01-02", origination_time="03:04:05", coding_history="A=PCM,F=48000\r\n")
    xml = ixml("R\u00e9el <3>", "12A", "4", ["Left & right", "Right"], sample_rate=SR, time_reference=(1 << 33) + 5,
               fps=(30000, 1001), drop_frame=True)
    path = write_bwf(tmp_path / "a.wav", data, SR, subtype=subtype, bext=bext, ixml_text=xml, rf64=rf64)
    back, sr = sf.read(str(path), dtype="float64")
    assert sr == SR and back.shape == data.shape
    assert np.abs(back - data).max() <= tolerance / 2 + 1e-12  # rounded to the nearest step
    info = sf.info(str(path))
    assert (info.subtype, info.format) == (subtype, "RF64" if rf64 else "WAV")
    w = wavinfo.WavInfoReader(str(path))
    assert w.bext.time_reference == (1 << 33) + 5
    assert (w.bext.description, w.bext.originator) == ("Mix of reel 3 ? final", "Foley Assistant 9.9")  # bext is ASCII
    assert (w.bext.originator_date, w.bext.originator_time) == ("2026-01-02", "03:04:05")
    assert w.bext.coding_history.startswith("A=PCM,F=48000") and len(w.bext.originator_ref) == 32
    assert (w.ixml.project, w.ixml.scene, w.ixml.take) == ("R\u00e9el <3>", "12A", "4")  # iXML is UTF-8, escaped
    assert [t.name for t in w.ixml.track_list] == ["Left & right", "Right"]
    speed = w.ixml.raw_xml.find("SPEED")
    assert speed.findtext("TIMECODE_RATE") == "30000/1001" and speed.findtext("TIMECODE_FLAG") == "DF"
    assert int(speed.findtext("TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI")) == 2
    assert w.data.frame_count == 4801 and w.fmt.channel_count == 2
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_writer_refuses_bad_input_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "mix.wav"
    target.write_bytes(b"old")
    with pytest.raises(BwfError, match="unknown sample format"):
        write_bwf(target, np.zeros(10), SR, subtype="PCM_8")
    with pytest.raises(BwfError, match="shape"):
        write_bwf(target, np.zeros((2, 2, 2)), SR)
    with pytest.raises(BwfError, match="sample rate"):
        write_bwf(target, np.zeros(10), 0)
    with pytest.raises(BwfError, match="time reference"):
        write_bwf(target, np.zeros(10), SR, bext=Bext(time_reference=-1))
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["mix.wav"]


# -- the mix ----------------------------------------------------------------------------------
def test_mix_wav_is_spotted_at_the_video_start_timecode(sounds, tc_video: Path, tmp_path: Path) -> None:
    doc = _doc(sounds, tc_video, tmp_path)
    out = export_wav(doc, tmp_path / "mix.wav", cache=AudioCache())
    w = wavinfo.WavInfoReader(str(out))
    assert w.bext.time_reference == 3600 * SR  # 01:00:00:00 from the video's tmcd track
    assert w.bext.originator == f"Foley Assistant {__version__}"
    assert len(w.bext.originator_date) == 10 and len(w.bext.originator_time) == 8
    assert "reel 3" in w.bext.description and "A=PCM,F=48000,W=24,M=mono" in w.bext.coding_history
    assert (w.ixml.project, w.ixml.scene, w.ixml.take) == ("reel 3", "scene 12", "1")
    assert [t.name for t in w.ixml.track_list] == ["Mix"]
    assert w.ixml.raw_xml.find("SPEED").findtext("TIMECODE_RATE") == "25/1"
    named = session_of(doc, project="Trailer", scene="7B", take="3", start_timecode="00:59:58:12")
    out2 = export_wav(doc, tmp_path / "mix2.wav", session=named, cache=AudioCache())
    w2 = wavinfo.WavInfoReader(str(out2))
    assert w2.bext.time_reference == round((3598 + 12 / 25) * SR)
    assert (w2.ixml.project, w2.ixml.scene, w2.ixml.take) == ("Trailer", "7B", "3")
    assert np.array_equal(sf.read(str(out))[0], sf.read(str(out2))[0])


def test_bad_start_timecode_is_one_clear_error(sounds, tmp_path: Path) -> None:
    doc = _doc(sounds, None, tmp_path)
    target = tmp_path / "mix.wav"
    target.write_bytes(b"old")
    with pytest.raises(ExportError, match="start timecode.*not a timecode"):
        export_wav(doc, target, session=session_of(doc, start_timecode="1 hour"))
    with pytest.raises(ExportError, match="start timecode.*out of range"):
        session_of(doc, start_timecode="00:00:00:30")  # 25 fps without a video
    assert target.read_bytes() == b"old"


# -- stems ------------------------------------------------------------------------------------
def test_stems_add_up_to_the_mix_bit_for_bit(sounds, tc_video: Path, tmp_path: Path) -> None:
    doc = _doc(sounds, tc_video, tmp_path)
    cache = AudioCache()
    paths = export_stems(doc, tmp_path / "stems", cache=cache)
    assert [p.name for p in paths] == ["reel_3_01_Bed.wav", "reel_3_02_Hits.wav"]  # the muted track is not in the mix
    assert {(sf.info(str(p)).samplerate, sf.info(str(p)).subtype) for p in paths} == {(SR, "FLOAT")}
    stems = [sf.read(str(p), dtype="float32") for p in paths]
    raw = render(doc, cache=cache)
    assert {w.size for w, _ in stems} == {raw.size} == {round(2.0 * SR)}  # as long as the video, from its start
    total = np.zeros(raw.size, np.float32)
    for wave, _ in stems:
        total += wave
    assert np.array_equal(total, raw)  # not just close: every sample, in the same place
    assert np.abs(stems[1][0]).max() > 1.0  # float stems keep what the limiter will tame
    mix_path = export_wav(doc, tmp_path / "mix.wav", cache=cache)
    mix = sf.read(str(mix_path), dtype="float64")[0]
    expected = np.rint(limit(total, SR).astype(np.float64) * 2**23) / 2**23  # the 24-bit mix of the stems' sum
    assert np.array_equal(mix, expected)
    for path, name in zip(paths, ["Bed", "Hits"]):
        w = wavinfo.WavInfoReader(str(path))
        assert w.bext.time_reference == 3600 * SR and [t.name for t in w.ixml.track_list] == [name]
        assert w.ixml.project == "reel 3" and "before the limiter" in w.bext.description


def test_stems_are_all_or_nothing(sounds, tmp_path: Path) -> None:
    doc = _doc(sounds, None, tmp_path)
    folder = tmp_path / "stems"
    cancel = threading.Event()
    calls = []

    def progress(done: int, total: int) -> None:  # cancel once the first stem is rendered
        calls.append(done)
        if done == 1:
            cancel.set()

    with pytest.raises(ExportCancelled):
        export_stems(doc, folder, progress=progress, cancel=cancel, cache=AudioCache())
    assert calls and list(folder.iterdir()) == []
    AddClip(doc.tracks[0].id, Clip("gone", tmp_path / "gone.wav", 0.0, 0.5, 1.0)).do(doc)
    with pytest.raises(ExportError, match="gone.wav"):
        export_stems(doc, folder, cache=AudioCache())
    assert list(folder.iterdir()) == []
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(ExportError, match="is a file"):
        export_stems(doc, tmp_path / "file")
    with pytest.raises(ExportError, match="no audible track"):
        export_stems(Document(), folder)


# -- OTIO markers and cue-sheet timecode --------------------------------------------------------
def test_otio_marks_every_cue(sounds, tc_video: Path, tmp_path: Path) -> None:
    import opentimelineio as otio

    doc = _doc(sounds, tc_video, tmp_path)
    rows = cue_rows(doc)
    timeline = otio.adapters.read_from_string(otio.adapters.write_to_string(build_otio(doc), "otio_json"), "otio_json")
    markers = list(timeline.tracks.markers)
    assert [m.name for m in markers] == [f"{r['cue']} {r['clip']}" for r in rows]
    clips = {c.id: (t, c) for t, c in doc.clips()}
    for marker, row in zip(markers, rows):
        meta = marker.metadata["foley_assistant"]
        track, clip = clips[meta["clip_id"]]
        assert marker.marked_range.start_time.value == round(clip.position * SR)
        assert marker.marked_range.duration.value == round(clip.source_end * SR) - round(clip.source_start * SR)
        assert (meta["timecode_in"], meta["track"]) == (row["timeline_in_tc"], row["track"])
        assert marker.color == (otio.schema.MarkerColor.GREEN if doc.audible(track) else otio.schema.MarkerColor.RED)
    assert timeline.global_start_time.to_seconds() == pytest.approx(3600.0)


def test_cue_sheet_timecode_counts_from_the_video_start(sounds, tc_video: Path, tmp_path: Path) -> None:
    doc = _doc(sounds, tc_video, tmp_path)
    rows = {r["clip"] + r["cue"]: r for r in cue_rows(doc)}
    assert rows["hit2"]["timeline_in_tc"] == "01:00:00:02"  # 0.1 s at 25 fps is frame 2
    assert rows["tick5"]["timeline_in_tc"] == "01:00:01:05"
    plain = _doc(sounds, _video_with_timecode(tmp_path / "ntsc.mp4", None, fps=30, seconds=0.5), tmp_path)
    ntsc = {r["cue"]: r for r in cue_rows(plain, fps=30000 / 1001, drop_frame=True)}
    assert ntsc["5"]["timeline_in_tc"] == "00:00:01;05"  # 1.2 s at 29.97 fps, drop-frame
    assert {r["timeline_in_tc"] for r in cue_rows(plain)} >= {"00:00:00:03", "00:00:01:06"}  # 30 fps from the video
