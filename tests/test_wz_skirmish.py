"""scripts/recording/wz_skirmish.py: the files that make both Warzone AIs play, and the recipe script's syntax."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wz():
    spec = importlib.util.spec_from_file_location("wz_skirmish", ROOT / "scripts" / "recording" / "wz_skirmish.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_skirmish_files_start_player_0s_ai_from_the_extra_script(wz, tmp_path: Path) -> None:
    path = wz.write_skirmish(tmp_path, "wzrec007", "Vision", "bonecrusher/bonecrusher.js", "nb_hover.js")
    assert path == tmp_path / "tests" / "wzrec007.json"  # --skirmish=wzrec007.json finds it under tests/
    spec = json.loads(path.read_text())
    assert spec["challenge"]["map"] == "Vision" and spec["challenge"]["maxPlayers"] == 2
    assert spec["player_0"]["ai"] == "multiplay/skirmish/bonecrusher/bonecrusher.js"
    assert spec["player_1"]["ai"] == "multiplay/skirmish/nb_hover.js"
    assert spec["player_0"]["team"] != spec["player_1"]["team"]

    extra = tmp_path / "tests" / spec["scripts"]["extra"]
    script = extra.read_text()
    assert script.splitlines()[0] == 'include("multiplay/skirmish/bonecrusher/bonecrusher.js");'
    assert 'setTimer("foleyDirector", 15000)' in script and "hideInterface();" in script and "cameraTrack(pick)" in script
    # the director wraps the included AI's eventStartLevel instead of replacing it
    assert "foleyIncludedStartLevel();" in script.split("eventStartLevel = function")[1]

    config = (tmp_path / "config").read_text().splitlines()
    assert config[0] == "[general]" and "music_enabled=false" in config and "fxvol=100" in config


def test_record_script_parses_and_names_real_ai_paths() -> None:
    script = ROOT / "scripts" / "record_gameplay.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    ais = re.search(r"^WZ_AIS=\((.*)\)$", script.read_text(), re.M).group(1).split()
    # BoneCrusher's script lives in a folder (its .json says bonecrusher/bonecrusher.js)
    assert "bonecrusher/bonecrusher.js" in ais and "bonecrusher.js" not in ais
    assert all(a.endswith(".js") for a in ais)
