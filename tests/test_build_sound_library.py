"""scripts/build_sound_library.py: the OpenArena source (pk3 override order, base-name collisions,
categories, catalog rows) and adding one source to a library without touching the others.

Everything runs on tiny generated packages: no Debian package is read or downloaded."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
BASEOA = "usr/share/games/openarena/baseoa"


@pytest.fixture(scope="module")
def bsl():
    spec = importlib.util.spec_from_file_location("build_sound_library", ROOT / "scripts" / "build_sound_library.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def tone(freq: float, fmt: str = "WAV", silent: bool = False) -> bytes:
    """0.1 s of a sine at ``freq`` (distinct bytes per frequency), as WAV or Ogg Vorbis."""
    t = np.arange(800) / 8000.0
    wave = np.zeros_like(t) if silent else 0.5 * np.sin(2 * np.pi * freq * t)
    buf = io.BytesIO()
    sf.write(buf, wave, 8000, format=fmt, subtype="PCM_16" if fmt == "WAV" else "VORBIS")
    return buf.getvalue()


def write_pk3(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("sound/weapons/", b"")  # a folder entry, as real pk3s have
        for name, data in members.items():
            z.writestr(name, data)


def fake_package(bsl, tmp: Path, name: str, version: str, pk3s: dict[str, dict[str, bytes]], copyright_text: str = ""):
    root = tmp / "pkgs" / name
    for pk3, members in pk3s.items():
        write_pk3(root / BASEOA / pk3, members)
    doc = root / "usr/share/doc" / name / "copyright"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(copyright_text or "Files: *\nLicense: GPL-2+\n")
    files = tuple(sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()))
    return bsl.Package(name, version, root, files)


SOUNDS = {  # what each pk3 of the fake game holds; the frequencies tell the copies apart
    ("openarena-data", "pak0.pk3"): {
        "sound/weapons/rocket/rocklf1a.wav": tone(300),
        "sound/player/footsteps/clank4.wav": tone(310),
        "sound/movers/plats/pt1_end.wav": tone(320),      # overridden by pak6-patch088.pk3
        "sound/player/sarge/jump1.wav": tone(330),        # kept: jump1.wav of the earliest pk3
        "sound/player/sarge/pain100_1.wav": tone(335),
        "sound/items/telein.wav": tone(340),              # same bytes as world/telein.wav
        "sound/world/telein.wav": tone(340),
        "sound/world/cf_blubber01.wav": tone(345),        # .wav before the .ogg of the same name
        "sound/misc/silence.wav": tone(0, silent=True),   # digital silence: left out
        "sound/feedback/hit.wav": tone(350),              # overridden by pak6-misc.pk3
        "sound/weapons/credits": b"who made these",       # not a sound
        "music/theme.wav": tone(360),                     # music: skipped
    },
    ("openarena-081-players", "pak2-players.pk3"): {
        "sound/player/angelyss/jump1.wav": tone(400),     # base name taken by sarge's: left out
        "sound/player/angelyss/Pain100_1.wav": tone(405),  # same name but for case: left out
        "sound/player/angelyss/death1.wav": tone(410),    # unique: kept
        "sound/feedback/excellent.wav": tone(420),        # overridden by pak6-misc.pk3 (a package listed earlier)
    },
    ("openarena-081-misc", "pak6-misc.pk3"): {
        "sound/feedback/hit.wav": tone(500),
        "sound/feedback/excellent.wav": tone(510),
        "sound/teamplay/voc_blue_scores.wav": tone(520),
    },
    ("openarena-088-data", "pak6-patch088.pk3"): {
        "sound/movers/plats/pt1_end.wav": tone(600),
        "sound/world/cf_blubber01.ogg": tone(610, "OGG"),
        "music/oa_theme.ogg": tone(620, "OGG"),
    },
}
VERSIONS = {"openarena-088-data": "0.8.8-12"}

EXPECTED = {  # library path -> (category, package, pk3, tone that must be there)
    "openarena/rocket-launch/rocklf1a.wav": ("rocket-launch", "openarena-data", "pak0.pk3", 300),
    "openarena/footstep/clank4.wav": ("footstep", "openarena-data", "pak0.pk3", 310),
    "openarena/lift/pt1_end.wav": ("lift", "openarena-088-data", "pak6-patch088.pk3", 600),
    "openarena/player-grunt/jump1.wav": ("player-grunt", "openarena-data", "pak0.pk3", 330),
    "openarena/player-pain/pain100_1.wav": ("player-pain", "openarena-data", "pak0.pk3", 335),
    "openarena/player-death/death1.wav": ("player-death", "openarena-081-players", "pak2-players.pk3", 410),
    "openarena/teleport/telein.wav": ("teleport", "openarena-data", "pak0.pk3", 340),
    "openarena/water/cf_blubber01.wav": ("water", "openarena-data", "pak0.pk3", 345),
    "openarena/interface/hit.wav": ("interface", "openarena-081-misc", "pak6-misc.pk3", 500),
    "openarena/announcer/excellent.wav": ("announcer", "openarena-081-misc", "pak6-misc.pk3", 510),
    "openarena/announcer/voc_blue_scores.wav": ("announcer", "openarena-081-misc", "pak6-misc.pk3", 520),
}


def member_of(pk3: str, library_path: str) -> str:
    for (_, name), members in SOUNDS.items():
        if name == pk3:
            for m in members:
                if m.rsplit("/", 1)[-1] == library_path.rsplit("/", 1)[-1] and m.startswith("sound/"):
                    return m
    raise KeyError(library_path)


@pytest.fixture
def fake_openarena(bsl, tmp_path, monkeypatch):
    by_package: dict[str, dict[str, dict[str, bytes]]] = {}
    for (package, pk3), members in SOUNDS.items():
        by_package.setdefault(package, {})[pk3] = members
    packages = {name: fake_package(bsl, tmp_path, name, VERSIONS.get(name, "0.8.5split-14"), by_package.get(name, {}))
                for name in bsl.OPENARENA_PACKAGES}
    monkeypatch.setattr(bsl, "unpacked_package", lambda name, work: packages[name])
    return packages


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_openarena_library_takes_each_sound_once_from_the_overriding_pk3(bsl, fake_openarena, tmp_path, capsys) -> None:
    out = tmp_path / "lib"
    assert bsl.main(["--out", str(out), "--work", str(tmp_path / "debs"), "--sources", "openarena"]) == 0
    rows = read_rows(out / "catalog.csv")
    assert [r["library_path"] for r in rows] == sorted(EXPECTED, key=lambda p: member_of(EXPECTED[p][2], p).lower())
    for r in rows:
        cat, package, pk3, freq = EXPECTED[r["library_path"]]
        assert (r["source"], r["category"], r["package"], r["licence"]) == ("openarena", cat, package, "GPL-2.0-or-later")
        assert r["version"] == VERSIONS.get(package, "0.8.5split-14")
        assert r["origin"] == f"{BASEOA}/{pk3}:{member_of(pk3, r['library_path'])}"
        assert float(r["duration_s"]) == pytest.approx(0.1)
        assert (out / r["library_path"]).read_bytes() == tone(freq), r["library_path"]
    # on disk: exactly the catalogued files (no music, no silence, no credits, no left-out duplicates)
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "openarena").rglob("*") if p.is_file())
    assert on_disk == sorted(EXPECTED)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    err = capsys.readouterr().err
    assert "movers/plats/pt1_end.wav: pak6-patch088.pk3 over pak0.pk3" in err
    assert "feedback/excellent.wav: pak6-misc.pk3 over pak2-players.pk3" in err
    assert ("jump1.wav: kept player/sarge/jump1.wav (pak0.pk3); left out player/angelyss/jump1.wav (pak2-players.pk3)"
            in err)
    assert "pain100_1.wav: kept player/sarge/pain100_1.wav" in err and "player/angelyss/Pain100_1.wav" in err
    assert "left out world/telein.wav (pak0.pk3, same bytes)" in err
    assert "left out world/cf_blubber01.ogg (pak6-patch088.pk3)" in err
    assert "left out misc/silence.wav (pak0.pk3): digital silence" in err
    sources = (out / "SOURCES.md").read_text()
    assert ("| openarena | openarena-081-misc, openarena-081-players, openarena-088-data, openarena-data "
            "| 0.8.5split-14, 0.8.8-12 | GPL-2.0-or-later | 11 |") in sources


def test_pk3_load_order_is_quake3s(bsl, tmp_path) -> None:
    names = ["pak6-patch088.pk3", "pakA.pk3", "pak2-players.pk3", "Pak1-maps.pk3", "pak_x.pk3",
             "pak2-players-mature.pk3", "pak0.pk3"]
    pkg = bsl.Package("p", "1", tmp_path, tuple(f"{BASEOA}/{n}" for n in names) + (f"{BASEOA}/sub/pak9.pk3", "other/pak.pk3"))
    order = [f.rsplit("/", 1)[-1] for _, f in bsl.openarena_pk3s([pkg])]
    # FS_PathCmp compares upper-cased names: "-" < "." and letters < "_"; pk3s in sub-folders are not loaded
    assert order == ["pak0.pk3", "Pak1-maps.pk3", "pak2-players-mature.pk3", "pak2-players.pk3",
                     "pak6-patch088.pk3", "pakA.pk3", "pak_x.pk3"]


def test_a_later_pk3_overrides_regardless_of_the_name_case(bsl, tmp_path) -> None:
    a = fake_package(bsl, tmp_path, "a", "1", {"pak0.pk3": {"sound/world/Wind1.wav": tone(100)}})
    b = fake_package(bsl, tmp_path, "b", "2", {"pak1.pk3": {"SOUND/world/wind1.WAV": tone(200)}})
    sounds, overrides = bsl.openarena_sounds(bsl.openarena_pk3s([b, a]))
    assert [(s.package.name, s.member, s.path) for s in sounds] == [("b", "SOUND/world/wind1.WAV", "world/wind1.WAV")]
    assert overrides == [("world/wind1.WAV", "pak0.pk3", "pak1.pk3")]


@pytest.mark.parametrize(("path", "category"), [
    ("player/footsteps/clank4.wav", "footstep"), ("player/land1.wav", "footstep"),
    ("movers/doors/dr1_end.wav", "door"), ("movers/plats/pt1_strt.wav", "lift"), ("movers/switches/butn2.wav", "switch"),
    ("weapons/rocket/rocklf1a.wav", "rocket-launch"), ("weapons/rocket/rocklx1a.wav", "explosion"),
    ("weapons/rocket/rockfly.wav", "projectile"), ("weapons/proxmine/wstbexpl.wav", "explosion"),
    ("weapons/machinegun/machgf1b.wav", "machinegun"), ("weapons/machinegun/ric2.wav", "impact"),
    ("weapons/shotgun/sshotf1b.wav", "shotgun"), ("weapons/plasma/hyprbf1a.wav", "plasma"),
    ("weapons/plasma/plasmx1a.wav", "impact"), ("weapons/vulcan/wvulfire.wav", "chaingun"),
    ("weapons/railgun/rg_hum.wav", "weapon-hum"), ("weapons/change.wav", "weapon-handling"),
    ("player/sarge/pain100_1.wav", "player-pain"), ("player/sarge/death2.wav", "player-death"),
    ("player/sarge/jump1.wav", "player-grunt"), ("player/sarge/taunt.wav", "voice"), ("player/gibsplt1.wav", "gib"),
    ("player/watr_in.wav", "water"), ("le/shell1.wav", "shell-casing"),
    ("items/respawn1.wav", "item-respawn"), ("items/s_health.wav", "pickup"), ("items/quaddamage.wav", "pickup"),
    ("items/wearoff.wav", "powerup"), ("misc/w_pkup.wav", "pickup"), ("misc/menu1.wav", "interface"),
    ("world/telein.wav", "teleport"), ("world/jumppad.wav", "jumppad"), ("world/fire1.wav", "fire"),
    ("world/wind1.wav", "ambient"), ("feedback/hit.wav", "interface"), ("feedback/excellent.wav", "announcer"),
    ("teamplay/voc_blue_scores.wav", "announcer"), ("teamplay/flagcapture_yourteam.wav", "jingle"),
    ("Weapons/BFG/BFG_Fire.WAV", "bfg"), ("somewhere/else.wav", "misc"),
])
def test_openarena_categories(bsl, path, category) -> None:
    assert bsl.openarena_category(path) == category


def warzone_package(bsl, tmp: Path):
    root = tmp / "pkgs" / "warzone2100-data"
    wz = root / "usr/share/games/warzone2100/base.wz"
    wz.parent.mkdir(parents=True)
    with zipfile.ZipFile(wz, "w") as z:
        z.writestr("audio/sfx/weapons/gun.wav", tone(700))
        z.writestr("audio/sfx/explons/boom.wav", tone(710))
    files = tuple(sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()))
    return bsl.Package("warzone2100-data", "4.3.3-3", root, files)


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_adding_a_source_keeps_the_other_sources_rows_and_files(bsl, fake_openarena, tmp_path, monkeypatch) -> None:
    wz = warzone_package(bsl, tmp_path)
    packages = {**fake_openarena, "warzone2100-data": wz}
    monkeypatch.setattr(bsl, "unpacked_package", lambda name, work: packages[name])
    out = tmp_path / "lib"
    argv = ["--out", str(out), "--work", str(tmp_path / "debs")]
    assert bsl.main([*argv, "--sources", "warzone2100"]) == 0
    before_rows = read_rows(out / "catalog.csv")
    before_files = tree_digest(out / "warzone2100")
    assert [r["library_path"] for r in before_rows] == ["warzone2100/explosion/boom.wav", "warzone2100/weapons/gun.wav"]
    assert before_rows[0]["origin"] == "usr/share/games/warzone2100/base.wz:audio/sfx/explons/boom.wav"

    assert bsl.main([*argv, "--sources", "openarena"]) == 0
    rows = read_rows(out / "catalog.csv")
    assert rows[:2] == before_rows  # untouched, still first (sources in the script's order)
    assert {r["source"] for r in rows[2:]} == {"openarena"} and len(rows) == 2 + len(EXPECTED)
    assert tree_digest(out / "warzone2100") == before_files
    sources = (out / "SOURCES.md").read_text()
    assert "| warzone2100 | warzone2100-data | 4.3.3-3 |" in sources and "| openarena |" in sources

    # rebuilding OpenArena gives the same library; rebuilding both keeps the same rows
    oa_files = tree_digest(out / "openarena")
    assert bsl.main([*argv, "--sources", "openarena"]) == 0
    assert read_rows(out / "catalog.csv") == rows and tree_digest(out / "openarena") == oa_files
    assert bsl.main([*argv, "--sources", "openarena", "warzone2100"]) == 0
    assert read_rows(out / "catalog.csv") == rows
