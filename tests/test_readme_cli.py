"""The README's command-line examples work as printed, in order, on a fresh user account.

The block under "Try the command line on the bundled demo" is run line by line through bash, as
a newcomer pastes it after the documented PATH step (``source .venv/bin/activate``: the folder of
this interpreter first on PATH), with an empty user data folder and cache."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
HEADING = "### Try the command line on the bundled demo"


def readme_block(heading: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    assert heading in text, f"README has no section {heading!r}"
    block = re.search(r"```bash\n(.*?)```", text[text.index(heading):], re.S)
    assert block is not None
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_documents_the_path_step() -> None:
    text = README.read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in text and ".venv/bin/foley-engine" in text


@pytest.mark.skipif(shutil.which("foley-engine", path=str(Path(sys.executable).parent)) is None,
                    reason="the foley-engine script is not installed next to this interpreter")
def test_readme_cli_examples_run_as_printed(tmp_path: Path) -> None:
    from engine.resources import demo_video_path

    if demo_video_path() is None:
        pytest.skip("no bundled demo here")
    commands = readme_block(HEADING)
    assert commands and all(c.startswith("foley-engine ") for c in commands), commands
    work = tmp_path / "work"  # a folder that looks like the checkout (its resources), so outputs land here
    work.mkdir()
    (work / "resources").symlink_to(ROOT / "resources")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "cache"), TMPDIR=str(tmp_path),
               OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    outputs = {}
    for command in commands:
        r = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{command}\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stderr and "INFO" not in r.stderr, f"{command}\n{r.stderr}"
        outputs[command] = r.stdout

    shared = tmp_path / "data" / "foley-assistant" / "library"
    demo_out = next(out for cmd, out in outputs.items() if cmd.split()[1] == "demo")
    assert f"sounds indexed in {shared}" in demo_out and "00:00:01:00" in demo_out and "cue sheet:" in demo_out
    table = next(out for cmd, out in outputs.items() if cmd.split()[1] == "recommend" and "--json" not in cmd)
    assert len(table.strip().splitlines()) == 2 + 10  # heading, columns, the default 10 sounds
    as_json = json.loads(next(out for cmd, out in outputs.items() if "--json" in cmd))
    assert as_json["t"] == pytest.approx(12.5) and len(as_json["candidates"]) == 3
    rows = list(csv.DictReader((work / "demo-cues" / "cues.csv").open(encoding="utf-8")))
    assert len(rows) == 60 * 3
    stats = next(out for cmd, out in outputs.items() if "stats" in cmd)
    assert "files: 565" in stats and "{" not in stats
