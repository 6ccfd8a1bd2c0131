"""``foley-engine export`` through the installed console script: the shipped demo project rendered
headless (bext time reference and iXML names read back with wavinfo, stems sample-exact with the
mix), one-line errors that leave existing files alone, and no Qt on the way."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import wavinfo

from engine.resources import resource_path

SR = 48_000
DEMO = resource_path("demo", "demo.foley.json")


def _cli() -> list[str]:
    """The ``foley-engine`` console script of this environment (what a user runs)."""
    script = Path(sys.executable).with_name("foley-engine")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from engine.cli import main; sys.argv[0] = 'foley-engine'; main()"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(_cli() + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_demo_project_is_complete_and_portable() -> None:
    from foley_app.core.project_io import load_project, missing_media

    text = DEMO.read_text(encoding="utf-8")
    data = json.loads(text)
    checkout = str(Path(__file__).resolve().parents[1])
    assert "origin" not in data and checkout not in text and "\\\\" not in text  # nothing of the machine it was made on
    assert data["video"] == "demo.mp4"
    assert all(not c["sound"].startswith("/") for t in data["tracks"] for c in t["clips"])
    doc = load_project(DEMO)
    assert missing_media(doc) == [] and len(doc.tracks) >= 3 and doc.clip_count() >= 8


def test_demo_project_exports_headless(tmp_path: Path) -> None:
    result = _run(["export", str(DEMO), "--wav", "out.wav", "--stems", "stems", "--otio", "out.otio", "--csv", "out.csv"], tmp_path)
    assert result.returncode == 0, result.stderr
    w = wavinfo.WavInfoReader(str(tmp_path / "out.wav"))
    assert w.bext.time_reference == 0  # the demo video carries no timecode: it starts at 00:00:00:00
    assert w.ixml.project == "demo" and w.ixml.scene == "demo" and w.bext.originator.startswith("Foley Assistant ")
    mix, sr = sf.read(str(tmp_path / "out.wav"), dtype="float64")
    assert sr == SR and mix.size == 60 * SR and sf.info(str(tmp_path / "out.wav")).subtype == "PCM_24"
    stems = sorted((tmp_path / "stems").iterdir())
    assert [p.name for p in stems] == ["demo_01_Weapons.wav", "demo_02_Impacts.wav", "demo_03_Creatures.wav"]
    total = np.zeros(mix.size, np.float32)
    for p in stems:
        wave, _ = sf.read(str(p), dtype="float32")
        assert wave.size == mix.size and wavinfo.WavInfoReader(str(p)).bext.time_reference == 0
        total += wave
    from foley_app.core.mix import limit

    assert np.array_equal(mix, np.rint(limit(total, SR).astype(np.float64) * 2**23) / 2**23)  # sample-exact
    assert np.count_nonzero(mix) > SR  # it is not silence that matches
    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and rows[0]["timeline_in_tc"] == "00:00:00:06"  # 0.66 s at the demo's 10 fps
    import opentimelineio as otio

    timeline = otio.adapters.read_from_file(str(tmp_path / "out.otio"))
    assert [m.name for m in timeline.tracks.markers] == [f"{r['cue']} {r['clip']}" for r in rows]

    again = _run(["export", str(DEMO), "--wav", "tc.wav", "--start-tc", "01:00:00:00", "--scene", "12A", "--take", "3"], tmp_path)
    assert again.returncode == 0, again.stderr
    w = wavinfo.WavInfoReader(str(tmp_path / "tc.wav"))
    assert w.bext.time_reference == 3600 * SR
    assert (w.ixml.project, w.ixml.scene, w.ixml.take) == ("demo", "12A", "3")
    assert np.array_equal(sf.read(str(tmp_path / "tc.wav"), dtype="float64")[0], mix)


@pytest.mark.parametrize("args,message", [
    (["missing.foley.json", "--wav", "old.wav"], "project file not found"),
    ([str(DEMO)], "nothing to do"),
    ([str(DEMO), "--wav", "old.wav", "--start-tc", "99:99"], "start timecode"),
    ([str(DEMO), "--wav", "old.wav", "--bits", "12"], "--bits"),
    ([str(DEMO), "--wav", "old.wav", "--csv", "old.wav"], "different files"),
    (["broken.foley.json", "--wav", "old.wav"], "not valid JSON"),
    (["moved.foley.json", "--wav", "old.wav"], "media file(s) not found"),
    ([str(DEMO), "--wav", "old.wav", "--csv", "nowhere/cues.csv"], "does not exist"),
    ([str(DEMO), "--wav", "old.wav", "--stems", "old.wav"], "is a file"),
])
def test_bad_input_is_one_line_and_nothing_is_written(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "old.wav").write_bytes(b"old")
    (tmp_path / "broken.foley.json").write_text("{", encoding="utf-8")
    (tmp_path / "moved.foley.json").write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")  # media not next to it
    result = _run(["export", *args], tmp_path)
    assert result.returncode == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert (tmp_path / "old.wav").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.foley.json", "moved.foley.json", "old.wav"]


def test_export_is_a_foley_engine_command_without_qt(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from typer.main import get_command\n"
        "from engine.cli import app\n"
        "cmd = get_command(app)\n"
        "assert 'export' in cmd.commands, sorted(cmd.commands)\n"
        f"cmd.main(['export', {str(DEMO)!r}, '--csv', 'cues.csv'], standalone_mode=False)\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6'))\n"
        "assert not qt, qt\n"
        "assert 'foley_app.core.export_cli' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=240,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cues.csv").is_file()
    help_text = _run(["--help"], tmp_path).stdout
    assert "export" in help_text
