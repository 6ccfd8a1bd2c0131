#!/usr/bin/env python3
"""Write the files of one Warzone 2100 AI-vs-AI skirmish: the config, the challenge JSON and player 0's script.

    python3 wz_skirmish.py CONFIG_DIR NAME MAP AI0 AI1

AI0/AI1 are script paths under ``multiplay/skirmish/`` (``semperfi.js``, ``bonecrusher/bonecrusher.js``).
Writes ``CONFIG_DIR/config`` (music off, effects and voice on, no intro videos, 1024x768 window),
``CONFIG_DIR/tests/NAME.json`` (the ``--skirmish`` file) and ``CONFIG_DIR/tests/NAME-player0.js``.

Warzone 4.3.3 never starts player 0's AI under ``--skirmish`` + ``--autogame``: the engine's AI
loader skips the local player in autogames and leaves it to the level loader, which skips it for
``--skirmish``. The challenge's ``"extra"`` script runs as player 0, so it includes that AI itself,
followed by the camera director (``wz_director.js`` beside this file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = {"music_enabled": "false", "cdvol": 0, "fxvol": 100, "voicevol": 100, "fmvmode": 0, "sound": 1,
          "width": 1024, "height": 768, "fullscreen": 0, "shake": 1}


def challenge(name: str, map_name: str, ai0: str, ai1: str) -> dict:
    """The ``--skirmish`` JSON: two Hard AIs on opposite teams, bases, scavengers, and the player-0 script."""
    return {
        "challenge": {"bases": 2, "difficulty": "Hard", "map": map_name, "maxPlayers": 2, "powerLevel": 2, "scavengers": "true", "version": 2},
        "scripts": {"extra": f"{name}-player0.js"},
        "player_0": {"team": 0, "difficulty": "Hard", "ai": f"multiplay/skirmish/{ai0}"},
        "player_1": {"team": 1, "difficulty": "Hard", "ai": f"multiplay/skirmish/{ai1}"},
    }


def player0_script(ai0: str) -> str:
    """Player 0's extra script: its AI, then the camera director."""
    return f'include("multiplay/skirmish/{ai0}");\n' + (HERE / "wz_director.js").read_text(encoding="utf-8")


def write_skirmish(config_dir: Path, name: str, map_name: str, ai0: str, ai1: str) -> Path:
    """Write the three files; returns the challenge JSON's path."""
    tests = Path(config_dir) / "tests"
    tests.mkdir(parents=True, exist_ok=True)
    (Path(config_dir) / "config").write_text("[general]\n" + "".join(f"{k}={v}\n" for k, v in CONFIG.items()), encoding="utf-8")
    (tests / f"{name}-player0.js").write_text(player0_script(ai0), encoding="utf-8")
    path = tests / f"{name}.json"
    path.write_text(json.dumps(challenge(name, map_name, ai0, ai1), indent=1) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    write_skirmish(Path(sys.argv[1]), *sys.argv[2:])
