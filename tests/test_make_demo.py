"""scripts/make_demo.py library: the demo library samples only the chosen games of a larger library."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIELDS = ["source", "package", "version", "licence", "origin", "library_path", "category", "duration_s"]


def _make_demo(demo: Path):
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "scripts" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.DEMO = demo  # never the repository's own resources/demo
    return module


def _library(root: Path) -> Path:
    rows = []
    for source, category, name in [("wesnoth", "sword", "sword-1.ogg"), ("freedoom", "door", "dsdoropn.wav"),
                                   ("openarena", "weapons", "rocket.wav"), ("hedgewars", "explosion", "bomb.ogg")]:
        path = Path(source) / category / name
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"x" * 1000)
        rows.append({"source": source, "package": f"{source}-data", "version": "1", "licence": "GPL-2.0-or-later",
                     "origin": name, "library_path": path.as_posix(), "category": category, "duration_s": "0.5"})
    with (root / "catalog.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    return root


def test_the_demo_library_leaves_out_games_it_was_not_asked_for(tmp_path) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    module = _make_demo(demo)
    library = _library(tmp_path / "lib")
    module.pick_library(library, max_mb=1.0)
    copied = sorted(p.relative_to(demo / "library").as_posix() for p in (demo / "library").rglob("*") if p.is_file())
    assert copied == ["freedoom/door/dsdoropn.wav", "hedgewars/explosion/bomb.ogg", "wesnoth/sword/sword-1.ogg"]
    assert "openarena" not in (demo / "SOURCES.md").read_text()
    module.pick_library(library, max_mb=1.0, sources=("openarena",))
    assert [p.name for p in (demo / "library").rglob("*") if p.is_file()] == ["rocket.wav"]
