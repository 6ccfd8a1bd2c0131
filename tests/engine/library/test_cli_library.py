"""`foley-engine index | recommend | spot | library stats|list|remove` end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.commands.library import parse_time
from engine.data.media import probe_video
from engine.errors import ConfigError
from engine.timecode import seconds_to_timecode

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_parse_time() -> None:
    assert parse_time("00:01:23.5") == 83.5
    assert parse_time("1:23.5") == 83.5
    assert parse_time("83.5") == 83.5
    with pytest.raises(ConfigError, match="HH:MM:SS"):
        parse_time("1m23")


def test_index_recommend_spot_stats_list_remove(library: Path, model_file: Path, event_video, tmp_path: Path) -> None:
    db = tmp_path / "db"
    out = run("index", library / "square", library / "bar", library / "tagged", "--model", model_file, "--db", db, "--workers", "0", "--quiet")
    assert "5 added" in out and "5 files" in out

    table = run("recommend", event_video.path, "--at", "00:00:03.5", "--top", "3", "--model", model_file, "--db", db)
    assert len(table.strip().splitlines()) == 2 + 3  # heading line, column line, 3 rows
    data = json.loads(run("recommend", event_video.path, "--at", "3.5", "--top", "4", "--json", "--model", model_file, "--db", db))
    assert [c["rank"] for c in data["candidates"]] == [1, 2, 3, 4] and data["t"] == 3.5
    only = json.loads(run("recommend", event_video.path, "--at", "1", "--json", "--category", "FOLEY", "--model", model_file, "--db", db))
    assert [c["name"] for c in only["candidates"]] == ["Cloth rustle"]

    cues_dir = tmp_path / "cues"
    run("spot", event_video.path, "--out", cues_dir, "--top", "2", "--model", model_file, "--db", db, "--cache-dir", tmp_path / "vc", "--quiet")
    rows = list(csv.DictReader((cues_dir / "cues.csv").open(encoding="utf-8")))
    assert len(rows) == 10 * 2 and rows[0]["cue"] == "1" and rows[-1]["start_s"] == "9.000"
    sheet = json.loads((cues_dir / "cues.json").read_text(encoding="utf-8"))
    assert sheet["mode"] == "second" and len(sheet["cues"]) == 10
    assert sheet["start_timecode"] == "00:00:00:00" and sheet["fps"] == probe_video(event_video.path).fps
    assert (rows[0]["start_tc"], rows[0]["end_tc"], rows[-1]["start_tc"]) == ("00:00:00:00", "00:00:01:00", "00:00:09:00")
    run("spot", event_video.path, "--per-shot", "--out", cues_dir, "--model", model_file, "--db", db, "--cache-dir", tmp_path / "vc", "--quiet")
    shots = json.loads((cues_dir / "cues.json").read_text(encoding="utf-8"))
    assert shots["mode"] == "shot" and 2 <= len(shots["cues"]) <= 10
    assert shots["cues"][0]["start_s"] == 0.0 and shots["cues"][-1]["end_s"] == pytest.approx(10.0, abs=0.1)
    assert [c["start_tc"] for c in shots["cues"]] == [seconds_to_timecode(c["start_s"], shots["fps"]) for c in shots["cues"]]

    stats = json.loads(run("library", "stats", "--db", db, "--json"))
    assert (stats["files"], stats["segments"]) == (5, 9)
    listed = json.loads(run("library", "list", "--db", db, "--json"))
    assert sorted(f["name"] for f in listed) == ["Cloth rustle", "Creak Open", "bar_a", "square_a", "square_short"]
    assert "removed 2 files" in run("library", "remove", library / "square", "--db", db)
    assert json.loads(run("library", "stats", "--db", db, "--json"))["files"] == 3


def test_clear_errors(tmp_path: Path, model_file: Path, monkeypatch) -> None:
    result = runner.invoke(app, ["library", "stats", "--db", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "no sound index" in result.output and "foley-engine index" in result.output
    import engine.library.paths as paths

    monkeypatch.setattr(paths, "default_model_path", lambda: None)  # as if the shipped model were not installed
    result = runner.invoke(app, ["index", str(tmp_path), "--db", str(tmp_path / "db")])
    assert result.exit_code == 1 and "pass --model" in result.output
