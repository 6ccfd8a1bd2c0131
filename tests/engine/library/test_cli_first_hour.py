"""A newcomer's mistakes through the real ``foley-engine`` CLI: one clear line and a non-zero exit
for an empty or missing library, an index without sounds, a text file named .mp4, a time past the
end; time arguments in the app's own timecode; flags shown as flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.commands.library import parse_time
from engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
ENGINE = [sys.executable, "-c", "from engine.cli import main; main()"]  # what the foley-engine script runs
runner = CliRunner()

# what must never reach a user's console in place of (or next to) the one error line
NOISE = ("Traceback", "OpenCV", "VIDEOIO", "moov atom", "[mov,", "frame/s", "it/s", "0%|", "INFO ")


def engine(*args: object) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([*ENGINE, *map(str, args)], capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)


def one_error_line(r: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 1, nothing on stdout, exactly one line on stderr, starting 'error: ' and holding ``words``."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert not any(n in r.stderr + r.stdout for n in NOISE), r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def empty_index(tmp_path: Path, model_file: Path) -> Path:
    """An index that exists but holds no sound (its only file cannot be decoded)."""
    from engine.library.indexer import index_library
    from engine.models import AVModel

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "text.wav").write_text("not audio\n")
    db = tmp_path / "empty-db"
    report = index_library([bad], AVModel.load(model_file), db, workers=0, progress=False)
    assert report.files == 0 and (db / "library.sqlite").exists()
    return db


def test_index_of_a_missing_folder_is_one_line_and_leaves_no_index(tmp_path: Path, model_file: Path) -> None:
    db = tmp_path / "db"
    r = engine("index", tmp_path / "no-such-folder", "--db", db, "--model", model_file, "--quiet")
    one_error_line(r, "library folder not found", "no-such-folder", "nothing was indexed")
    assert r.stdout == "" and not db.exists()


def test_index_of_an_empty_folder_is_one_line_and_leaves_no_index(tmp_path: Path, model_file: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("no sounds here\n")
    (empty / "sub" / "silence.wav").write_bytes(b"")  # a 0-byte file is no sound either
    db = tmp_path / "db"
    r = engine("index", empty, "--db", db, "--model", model_file, "--quiet")
    one_error_line(r, "no sound files in", str(empty), "wav")
    assert r.stdout == "" and not db.exists()


def test_index_where_no_file_can_be_decoded_fails_after_the_summary(tmp_path: Path, model_file: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "text.wav").write_text("not audio\n")
    r = runner.invoke(app, ["index", str(bad), "--db", str(tmp_path / "db"), "--model", str(model_file), "--quiet", "--workers", "0"])
    assert r.exit_code == 1
    assert "skipped" in r.output and r.output.strip().splitlines()[-1].startswith("error: none of the sound files")


def test_recommend_and_spot_with_an_index_without_sounds(empty_index: Path, model_file: Path, event_video, tmp_path: Path) -> None:
    r = engine("recommend", event_video.path, "--at", "3", "--db", empty_index, "--model", model_file)
    one_error_line(r, "has no sounds", "foley-engine index")
    out = tmp_path / "cues"
    r = engine("spot", event_video.path, "--out", out, "--db", empty_index, "--model", model_file)
    one_error_line(r, "has no sounds")
    assert not out.exists()  # no cue sheet of empty cues


def test_a_text_file_named_mp4_is_one_line_about_the_file(tmp_path: Path, model_file: Path) -> None:
    fake = tmp_path / "scene.mp4"
    fake.write_text("this is not a video\n" * 20)
    a = one_error_line(engine("recommend", fake, "--at", "1", "--db", tmp_path / "db", "--model", model_file), str(fake))
    b = one_error_line(engine("spot", fake, "--out", tmp_path / "cues", "--db", tmp_path / "db", "--model", model_file), str(fake))
    assert a == b == f"error: {fake}: not a video this program can read (the file is damaged or is not a video)"
    assert not (tmp_path / "cues").exists()


def test_a_time_past_the_end_names_the_length_of_the_video(event_video, tmp_path: Path, model_file: Path) -> None:
    r = engine("recommend", event_video.path, "--at", "00:00:30", "--db", tmp_path / "db", "--model", model_file)
    one_error_line(r, "past the end", "00:00:10:00", "(10.00 s)")


def test_parse_time_reads_the_apps_timecode_and_refuses_out_of_range_fields() -> None:
    assert parse_time("83.5") == 83.5
    assert parse_time("1:23.5") == 83.5
    assert parse_time("00:01:23.5") == 83.5
    assert parse_time("00:01:23:12", fps=25.0) == pytest.approx(83.48)
    assert parse_time("00:00:12:05", fps=10.0) == pytest.approx(12.5)
    for bad in ("1:75", "0:60", "1:60:00", "00:61:00.0", "1m23", "-3", ""):
        with pytest.raises(ConfigError, match="cannot read time"):
            parse_time(bad)
    with pytest.raises(ConfigError, match="out of range"):
        parse_time("00:00:01:30", fps=25.0)  # frame 30 at 25 fps
    with pytest.raises(ConfigError, match="frame rate"):
        parse_time("00:00:01:10")


def test_recommend_at_timecode_and_top_range(indexed: Path, model_file: Path, event_video) -> None:
    fps = __import__("engine.data.media", fromlist=["probe_video"]).probe_video(event_video.path).fps
    frame = 5
    r = runner.invoke(app, ["recommend", str(event_video.path), "--at", f"00:00:03:{frame:02d}", "--top", "2", "--json",
                            "--db", str(indexed), "--model", str(model_file)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["t"] == pytest.approx(3 + frame / round(fps)) and len(data["candidates"]) == 2
    r = runner.invoke(app, ["recommend", str(event_video.path), "--at", "1:75", "--db", str(indexed), "--model", str(model_file)])
    assert r.exit_code == 1 and "below 60" in r.output
    for top in ("0", "-2"):
        for cmd in (["recommend", str(event_video.path), "--at", "1"], ["spot", str(event_video.path), "--out", "x"]):
            r = runner.invoke(app, [*cmd, "--top", top, "--db", str(indexed), "--model", str(model_file)])
            assert r.exit_code == 2 and "--top" in r.output, r.output


def test_flags_read_as_flags_in_the_help() -> None:
    r = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert r.exit_code == 0
    lines = [line for line in r.output.splitlines() if "--version" in line or "--verbose" in line]
    assert len(lines) == 2 and not any("<bool>" in line for line in lines), r.output
    r = runner.invoke(app, ["recommend", "--help"], env={"COLUMNS": "120"})
    assert "--json" in r.output and "<bool>" not in r.output, r.output
    assert runner.invoke(app, ["--version"]).output.startswith("foley-engine ")


def test_decoder_messages_speak_of_the_file_not_the_decoder(tmp_path: Path) -> None:
    """The same wording wherever a text file named .mp4 is opened (probe, frame reader, audio)."""
    from engine.data.media import load_audio, probe_video, read_frame
    from engine.errors import MediaError

    fake = tmp_path / "scene.mp4"
    fake.write_text("this is not a video\n" * 20)
    for read in (probe_video, lambda p: read_frame(p, 0.0), load_audio):
        with pytest.raises(MediaError) as caught:
            read(fake)
        text = str(caught.value)
        assert text.startswith(f"{fake}: ") and "damaged" in text, text
        assert not any(w in text for w in ("OpenCV", "FFmpeg", "InvalidDataError", "Invalid data found")), text
