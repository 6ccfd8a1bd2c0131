"""``prepare``: the cache it writes, frame/audio alignment, labels, splits, skipped files, resume after a kill."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.data import synthetic
from engine.data.cache import TMP_PREFIX, FeatureCache
from engine.data.features import clip_at_second, log_mel, log_mel_batch, resize_frame, rms
from engine.data.media import load_audio, read_frames_at
from engine.data.prepare import PrepareReport, prepare_dataset
from engine.data.splits import assign_splits, read_groups
from engine.errors import ConfigError, DatasetError

GOOD = {  # relative path -> events (None = a blank, silent second)
    "dogs/a.mp4": ["circle", None, "square", "triangle", None, "bar"],
    "dogs/b.mp4": ["ring", "cross", "ring", "cross"],
    "cats/c.mp4": ["bar", "bar", None, "circle", "square"],
    "cats/d.mp4": ["triangle", "circle", "cross"],
    "e.mp4": ["square", None, "ring", "bar"],
}


def _write_corpus(root: Path) -> None:
    for i, (rel, events) in enumerate(GOOD.items()):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        synthetic.write_video(root / rel, events, seed=10 + i)
    bad = root / "broken"
    bad.mkdir()
    (bad / "corrupt.mp4").write_bytes(b"definitely not a video " * 50)
    (bad / "empty.mp4").write_bytes(b"")
    synthetic.write_video(bad / "mute.mp4", ["circle", "bar"], audio=False, seed=1)
    synthetic.write_video(bad / "short.mp4", ["circle"], seconds=0.5, seed=2)
    (root / "notes.txt").write_text("not a video: ignored")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "videos"
    _write_corpus(root)
    return root


@pytest.fixture(scope="module")
def prepared(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PrepareReport]:
    out = tmp_path_factory.mktemp("prepared") / "ds"
    report = prepare_dataset(corpus, out, workers=0, seed=3, progress=False, silence_rms=0.01)  # the pool: see the kill test
    return out, report


def _dominant(rgb: np.ndarray) -> np.ndarray:
    flat = rgb.reshape(-1, 3).astype(int)
    fg = flat[np.abs(flat - 24).max(axis=1) > 30]
    return np.median(fg, axis=0) if len(fg) > 20 else np.zeros(3)


def test_prepare_writes_the_cache_and_reports_skips(prepared: tuple[Path, PrepareReport]) -> None:
    out, report = prepared
    assert report.ok and report.videos == 5 and report.processed == 5 and report.reused == 0
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"corrupt.mp4", "empty.mp4", "mute.mp4", "short.mp4"}
    assert "not a readable media file" in reasons["corrupt.mp4"]
    assert "empty file" in reasons["empty.mp4"]
    assert reasons["mute.mp4"] == "no audio track"
    assert reasons["short.mp4"].startswith("shorter than 1 s")
    summary = report.summary()
    assert "skipped 4 files" in summary and "no audio track" in summary and "silent seconds" in summary

    cache = FeatureCache(out)
    assert len(cache) == report.seconds == sum(len(e) for e in GOOD.values())
    assert sorted(set(cache.video_ids)) == ["cats/c", "cats/d", "dogs/a", "dogs/b", "e"]
    by_video = {v: cache.labels[cache.video_ids == v][0] for v in set(cache.video_ids)}
    assert by_video == {"dogs/a": "dogs", "dogs/b": "dogs", "cats/c": "cats", "cats/d": "cats", "e": ""}
    for v, events in GOOD.items():
        vid = v.removesuffix(".mp4")
        rows = np.flatnonzero(cache.video_ids == vid)
        assert cache.seconds[rows].tolist() == list(range(len(events)))
        assert len(set(cache.splits[rows])) == 1, f"{vid} is in two splits"
    assert set(cache.splits) <= {"train", "val", "test"} and "test" in set(cache.splits)
    # silence: the blank seconds are exactly the ones below --silence-rms
    silent = [e is None for events in sorted(GOOD.items()) for e in events[1]]
    assert report.silent_seconds == sum(silent) == int((cache.levels < 0.01).sum())
    assert cache.meta["silent_seconds"] == report.silent_seconds and cache.meta["complete"] is True
    assert not [p for p in (out / "shards").iterdir() if p.name.startswith(TMP_PREFIX)]


def test_frame_k_and_audio_second_k_are_aligned_in_the_cache(corpus: Path, prepared: tuple[Path, PrepareReport]) -> None:
    out, _ = prepared
    cache = FeatureCache(out)
    events = GOOD["dogs/a.mp4"]
    rows = np.flatnonzero(cache.video_ids == "dogs/a")
    path = corpus / "dogs/a.mp4"
    # exactly what decoding the file at t = k + 0.5 and cutting audio second k gives
    frames = read_frames_at(path, [k + 0.5 for k in range(len(events))])
    wave = load_audio(path)
    for k, r in enumerate(rows):
        np.testing.assert_array_equal(cache.frame(int(r)), resize_frame(frames[k], 224))
        clip = clip_at_second(wave, k)
        np.testing.assert_allclose(cache.mel(int(r)), log_mel_batch(clip[None])[0], atol=1e-5)
        assert np.abs(cache.mel(int(r)) - log_mel(clip)).max() < 1e-3  # librosa reference (log floor ~-13.8)
        assert cache.levels[r] == pytest.approx(float(rms(clip)), rel=1e-4)
    # and the content agrees: frame k shows event k's colour, mel k peaks in event k's band
    band = {name: int(np.argmax(log_mel(synthetic.event_sound(name)).mean(axis=1))) for name in synthetic.CLASSES}
    for k, (r, ev) in enumerate(zip(rows, events)):
        colour, mel = _dominant(cache.frame(int(r))), cache.mel(int(r))
        if ev is None:
            assert colour.max() < 40 and cache.levels[r] < 0.01, k
        else:
            assert np.abs(colour - synthetic._COLOURS[ev]).max() < 40, (k, colour, ev)
            assert abs(int(np.argmax(mel.mean(axis=1))) - band[ev]) <= 1, (k, ev)


def test_rerun_reuses_complete_shards(prepared: tuple[Path, PrepareReport], corpus: Path, tmp_path: Path) -> None:
    src, _ = prepared
    videos, out = tmp_path / "videos", tmp_path / "ds"
    shutil.copytree(corpus, videos)  # copy2 keeps size and mtime, so the shards still match
    shutil.copytree(src, out)
    before = (out / "manifest.csv").read_bytes()
    shard_time = (out / "shards" / "dogs__a" / "meta.json").stat().st_mtime_ns
    again = prepare_dataset(videos, out, workers=0, seed=3, progress=False, silence_rms=0.01)
    assert (again.reused, again.processed, again.videos) == (5, 0, 5)
    assert (out / "manifest.csv").read_bytes() == before
    assert (out / "shards" / "dogs__a" / "meta.json").stat().st_mtime_ns == shard_time
    os.utime(videos / "cats/d.mp4", ns=(time.time_ns(), time.time_ns()))  # the source changed
    changed = prepare_dataset(videos, out, workers=0, seed=3, progress=False, silence_rms=0.01)
    assert (changed.reused, changed.processed) == (4, 1)
    assert (out / "manifest.csv").read_bytes() == before  # same content, same rows
    other_seed = prepare_dataset(videos, out, workers=0, seed=4, progress=False)
    assert other_seed.processed == 0  # splits live in the manifest: no decoding needed


def test_killed_prepare_resumes_to_the_same_dataset(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(6):
        synthetic.write_video(videos / f"v{i}.mp4", synthetic.random_events(3, seed=i), seed=i)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    cmd = [sys.executable, "-c", "from engine.cli import main; main()", "prepare", str(videos), "--out", str(killed), "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[2], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list((killed / "shards").glob("*/meta.json")):
            assert proc.poll() is None, "prepare ended before the first shard was complete"
            assert time.monotonic() < deadline, "no shard written in 120 s"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its decoder process, mid-run
    finally:
        proc.wait()
    complete = [p for p in (killed / "shards").glob("*/meta.json") if not p.parent.name.startswith(TMP_PREFIX)]
    assert 1 <= len(complete) < 6, "the kill should land mid-run"
    resumed = prepare_dataset(videos, killed, workers=0, progress=False)
    assert resumed.reused == len(complete) and resumed.processed == 6 - len(complete) and not resumed.skipped
    assert not [p for p in (killed / "shards").iterdir() if p.name.startswith(TMP_PREFIX)]
    prepare_dataset(videos, clean, workers=0, progress=False)
    assert (killed / "manifest.csv").read_bytes() == (clean / "manifest.csv").read_bytes()
    a, b = FeatureCache(killed), FeatureCache(clean)
    idx = np.arange(len(a))
    np.testing.assert_array_equal(a.frames(idx), b.frames(idx))
    np.testing.assert_array_equal(a.mels(idx), b.mels(idx))


def test_half_written_and_stale_shards_are_rebuilt(tmp_path: Path) -> None:
    videos, out = tmp_path / "videos", tmp_path / "ds"
    videos.mkdir()
    synthetic.write_video(videos / "one.mp4", ["circle", "bar"], seed=1)
    prepare_dataset(videos, out, workers=0, progress=False)
    good = FeatureCache(out).mels([0, 1])
    (out / "shards" / "one" / "meta.json").unlink()  # an incomplete shard: must not be reused
    np.save(out / "shards" / "one" / "mels.npy", np.zeros((1, 64, 100), np.float32))
    (out / "shards" / f"{TMP_PREFIX}two.123").mkdir()
    report = prepare_dataset(videos, out, workers=0, progress=False)
    assert (report.reused, report.processed) == (0, 1)
    np.testing.assert_array_equal(FeatureCache(out).mels([0, 1]), good)
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["one"]


def test_nothing_usable_exits_nonzero_and_writes_nothing(tmp_path: Path) -> None:
    videos, out = tmp_path / "videos", tmp_path / "ds"
    videos.mkdir()
    (videos / "empty.mp4").write_bytes(b"")
    synthetic.write_video(videos / "mute.mp4", ["circle", "bar"], audio=False, seed=1)
    result = CliRunner().invoke(app, ["prepare", str(videos), "--out", str(out), "--workers", "0", "--no-progress"])
    assert result.exit_code == 1
    assert "0 videos" in result.output and "no audio track" in result.output and "empty file" in result.output
    assert not (out / "manifest.csv").exists()
    synthetic.write_video(videos / "good.mp4", ["ring", "bar"], seed=2)
    result = CliRunner().invoke(app, ["prepare", str(videos), "--out", str(out), "--workers", "0", "--no-progress", "--split", "1,0,0"])
    assert result.exit_code == 0, result.output
    assert "1 videos" in result.output and "skipped 2 files" in result.output
    assert FeatureCache(out).splits.tolist() == ["train", "train"]
    bad = CliRunner().invoke(app, ["prepare", str(videos), "--out", str(out), "--split", "0.8,0.2"])
    assert isinstance(bad.exception, ConfigError)
    missing = CliRunner().invoke(app, ["prepare", str(tmp_path / "nope"), "--out", str(out)])
    assert isinstance(missing.exception, DatasetError) and "does not exist" in str(missing.exception)


def test_unreadable_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    videos, out = tmp_path / "videos", tmp_path / "ds"
    (videos / "locked").mkdir(parents=True)
    synthetic.write_video(videos / "ok.mp4", ["circle", "bar"], seed=1)
    synthetic.write_video(videos / "locked" / "hidden.mp4", ["circle", "bar"], seed=2)
    real_scandir = os.scandir

    def scandir(path=".", *args, **kwargs):  # root may ignore chmod: fail the way an unreadable folder does
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    report = prepare_dataset(videos, out, workers=0, progress=False)
    assert report.videos == 1
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [("locked", "folder not readable (Permission denied)")]


def test_vggsound_csv_labels_and_splits(tmp_path: Path) -> None:
    videos, out = tmp_path / "videos", tmp_path / "ds"
    videos.mkdir()
    ids = {"aaa": ("dog", "test"), "b_b": ("cat", "test"), "c-c": ("dog", "train"), "ddd": ("owl", "train"), "eee": ("cat", "train"), "fff": ("dog", "train")}
    for i, yid in enumerate(ids):
        synthetic.write_video(videos / f"{yid}_{10 * i:06d}.mp4", ["circle", "bar"], seed=i)
    synthetic.write_video(videos / "orphan_000000.mp4", ["circle", "bar"], seed=9)
    lines = [f"{yid},{10 * i},{label},{split}" for i, (yid, (label, split)) in enumerate(ids.items())]
    lines.insert(3, "broken,row")
    (tmp_path / "vgg.csv").write_text("\n".join(lines) + "\nmissing_file,5,dog,train\n")
    report = prepare_dataset(videos, out, labels_csv=tmp_path / "vgg.csv", workers=0, seed=1, split_ratios=(0.5, 0.5, 0.0), progress=False)
    assert report.videos == 6
    assert [(Path(s.path).name, s.reason.split(" (")[0]) for s in report.skipped] == [("orphan_000000.mp4", "no row in labels CSV vgg.csv")]
    assert report.csv_problems == ["line 4: 2 fields, expected youtube_id,start_seconds,label,split"]
    assert "line 4" in report.summary()
    cache = FeatureCache(out)
    split_of = {v: cache.splits[cache.video_ids == v][0] for v in set(cache.video_ids)}
    label_of = {v: cache.labels[cache.video_ids == v][0] for v in set(cache.video_ids)}
    assert split_of["aaa_000000"] == split_of["b_b_000010"] == "test"
    train_ids = ["c-c_000020", "ddd_000030", "eee_000040", "fff_000050"]
    assert sorted(split_of[v] for v in train_ids) == ["train", "train", "val", "val"]
    assert label_of["b_b_000010"] == "cat" and label_of["ddd_000030"] == "owl"


def test_assign_splits_by_video_seeded() -> None:
    ids = [f"v{i:02d}" for i in range(20)]
    a = assign_splits(ids, seed=0, ratios=(0.8, 0.1, 0.1))
    assert sorted(a) == ids
    assert [list(a.values()).count(s) for s in ("train", "val", "test")] == [16, 2, 2]
    assert a == assign_splits(list(reversed(ids)), seed=0, ratios=(0.8, 0.1, 0.1))  # order does not matter
    assert a != assign_splits(ids, seed=1, ratios=(0.8, 0.1, 0.1))
    assert sorted(assign_splits(ids[:3], 0, (0.8, 0.1, 0.1)).values()) == ["test", "train", "val"]
    assert list(assign_splits(ids[:1], 0, (0.8, 0.1, 0.1)).values()) == ["train"]
    assert set(assign_splits(ids, 0, (1, 0, 0)).values()) == {"train"}
    fixed = assign_splits(ids, 0, (0.5, 0.5, 0.0), fixed={"v00": "test", "v01": "train", "v02": "train"})
    assert fixed["v00"] == "test" and sorted([fixed["v01"], fixed["v02"]]) == ["train", "val"]
    with pytest.raises(ConfigError):
        assign_splits(ids, 0, (0.8, -0.1, 0.3))


def test_groups_keep_related_videos_in_one_split(tmp_path: Path) -> None:
    ids = [f"clip{i:02d}" for i in range(30)]
    groups = {v: f"map{i % 7}" for i, v in enumerate(ids[:28])}  # clip28, clip29: no group
    split = assign_splits(ids, seed=2, ratios=(0.6, 0.2, 0.2), groups=groups)
    for g in set(groups.values()):
        assert len({split[v] for v in ids if groups.get(v) == g}) == 1, g
    assert {"train", "val", "test"} == set(split.values())
    assert split == assign_splits(ids, seed=2, ratios=(0.6, 0.2, 0.2), groups=groups)
    csv_path = tmp_path / "manifest.csv"
    csv_path.write_text("clip,game,scenario\nclips/clip00.mp4,x,mapA\nclip01,x,mapA\nclips/clip02.mp4,x,\nnot_here.mp4,x,mapB\n")
    assert read_groups(csv_path, "scenario", ["clip00", "sub/clip01", "clip02"]) == {"clip00": "mapA", "sub/clip01": "mapA"}
    with pytest.raises(DatasetError, match="no column 'map'.*scenario"):
        read_groups(csv_path, "map", ids)


def test_truncated_download_is_used_in_part_and_reported(tmp_path: Path) -> None:
    """A download cut short (index at the front, data missing at the end): keep the decodable seconds, say so."""
    import av

    videos, out = tmp_path / "videos", tmp_path / "ds"
    videos.mkdir()
    full = synthetic.write_video(tmp_path / "full.mp4", synthetic.random_events(10, seed=4), seed=4).path
    faststart = tmp_path / "faststart.mp4"
    with av.open(str(full)) as src, av.open(str(faststart), "w", options={"movflags": "faststart"}) as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    data = faststart.read_bytes()
    (videos / "cut.mp4").write_bytes(data[: len(data) // 2])
    report = prepare_dataset(videos, out, workers=0, progress=False)
    assert report.videos == 1 and 2 <= report.seconds <= 7
    assert len(report.notes) == 1 and "usable of 10.0 s" in report.notes[0].reason
    assert "used only in part" in report.summary()


def test_shard_names_are_safe_and_unique() -> None:
    from engine.data.cache import shard_name

    assert shard_name("wes000") == "wes000" and shard_name("dogs/clip1") == "dogs__clip1"
    names = [shard_name(v) for v in ("a b", "a_b", "a/b", "a__b", "été/ça", "..", ".tmp-x", "x" * 300)]
    assert len(set(names)) == len(names)
    for n in names:
        assert n and "/" not in n and not n.startswith(".") and len(n) < 100
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in n), n


def test_split_column_pins_each_listed_video(tmp_path: Path) -> None:
    """The recorder's corpus.csv says each clip's split; prepare keeps it exactly, the rest are split as usual."""
    videos, out = tmp_path / "videos", tmp_path / "ds"
    videos.mkdir()
    for i in range(4):
        synthetic.write_video(videos / f"c{i}.mp4", synthetic.random_events(3, seed=i), seed=i)
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("clip,game,split\nclips/c0.mp4,g,test\nc1.mp4,g,train\nc2,g,val\n")
    prepare_dataset(videos, out, workers=0, progress=False, groups_csv=corpus, group_column="game", split_column="split",
                    split_ratios=(0.0, 0.0, 1.0))
    from engine.data.cache import FeatureCache

    cache = FeatureCache(out)
    split_of = dict(zip(cache.video_ids.tolist(), cache.splits.tolist()))
    assert split_of == {"c0": "test", "c1": "train", "c2": "val", "c3": "test"}  # c3 is unlisted: the ratios put it in test
    corpus.write_text("clip,game,split\nc0,g,holdout\n")
    with pytest.raises(DatasetError, match="train, val or test.*'holdout'"):
        prepare_dataset(videos, tmp_path / "ds2", workers=0, progress=False, groups_csv=corpus, group_column="game", split_column="split")
    with pytest.raises(ConfigError, match="needs --groups"):
        prepare_dataset(videos, tmp_path / "ds3", workers=0, progress=False, split_column="split")
