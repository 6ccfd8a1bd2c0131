#!/usr/bin/env python3
"""Build a categorised sound-effect library from the sound effects that ship in Debian game packages.

Usage (as root or any user; nothing is installed, packages are only downloaded and unpacked)::

    python scripts/build_sound_library.py --out LIB [--work DEBS]
        [--sources wesnoth freedoom hedgewars warzone2100]

For each source it runs ``apt-get download PKG`` (skipped when the .deb is already in --work),
unpacks it with ``dpkg -x`` and copies / converts its sound effects into

    OUT/<source>/<category>/<file>

so that any indexer that takes the category from the folder name (``foley-engine index``) gets
the categories below, and writes ``OUT/catalog.csv`` (one row per file: source, package, version,
licence, origin path inside the package, library path, category, duration) and ``OUT/SOURCES.md``.

Category rules (deterministic, from folders and file names):

* wesnoth (``data/core/sounds``): the file stem with numeric parts removed, e.g. ``sword-1.ogg`` ->
  ``sword``, ``hatchet-miss.wav`` -> ``hatchet-miss``, ``magic-missile-2-miss.ogg`` ->
  ``magic-missile-miss``; files in a sub-folder take the folder's name (``ambient/``,
  ``horn-signals/``). File names are kept, so Wesnoth's own sound logs (``sword-1.ogg``) map to
  library files by name.
* freedoom (``freedoom1.wad``/``freedoom2.wad``): the ``DS*`` lumps (Doom DMX sound format: u16
  format 3, u16 sample rate, u32 sample count, 16 pad bytes, 8-bit unsigned PCM, 16 pad bytes)
  converted to 16-bit FLAC at their own rate; categories from the table ``DOOM_EXACT`` and then
  the suffix rules ``DOOM_SUFFIX`` (``*SIT`` monster-sight, ``*DTH`` monster-death, ...). When a
  lump is in both WADs the bytes are compared and only distinct sounds are kept.
* hedgewars (``Data/Sounds``): sound effects by keyword (``HEDGEWARS_KEYWORDS``: impact,
  explosion, gun, rope, water, ...), else the stem without digits; the voice packs
  (``Sounds/voices/<pack>``) become category ``voice`` (kept: hedgehog shouts are Foley material).
  Music is skipped.
* warzone2100 (``base.wz`` is a zip): ``audio/sfx/<folder>`` -> ``<folder>`` (weapons, vehicle,
  explons -> explosion, interfce -> interface, building, misc); the spoken messages and taunts
  are left out (speech, not effects).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class Source:
    name: str
    package: str
    licence: str
    licence_note: str


SOURCES = {
    "wesnoth": Source("wesnoth", "wesnoth-1.16-data", "GPL-2.0-or-later",
                      "Battle for Wesnoth data; see /usr/share/doc/wesnoth-1.16-data/copyright"),
    "freedoom": Source("freedoom", "freedoom", "BSD-3-Clause (Freedoom licence)",
                       "Freedoom Phase 1/2 WADs; see /usr/share/doc/freedoom/copyright"),
    "hedgewars": Source("hedgewars", "hedgewars-data", "GFDL-1.3 (Data/Sounds; Droplet*.ogg CC-BY-SA-3.0), GPL-2 (voices)",
                        "see /usr/share/doc/hedgewars-data/copyright"),
    "warzone2100": Source("warzone2100", "warzone2100-data", "GPL-2.0-or-later",
                          "see /usr/share/doc/warzone2100-data/copyright"),
}

CATALOG_FIELDS = ("source", "package", "version", "licence", "origin", "library_path", "category", "duration_s")


# --------------------------------------------------------------------------------------- helpers
def deb_version(deb: Path) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True).stdout.strip()


def fetch_package(package: str, work: Path) -> tuple[Path, str]:
    """Download (if needed) and unpack a Debian package; returns (unpacked root, version)."""
    work.mkdir(parents=True, exist_ok=True)
    debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "download", package], cwd=work, check=True)
        debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        raise SystemExit(f"apt-get download {package} produced no .deb in {work}")
    deb = debs[-1]
    root = work / "extract" / package
    stamp = root / ".unpacked"
    if not stamp.exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        stamp.touch()
    return root, deb_version(deb)


def strip_numbers(stem: str) -> str:
    """``magic-missile-2-miss`` -> ``magic-missile-miss``; ``sword-1`` -> ``sword``; ``bow`` -> ``bow``."""
    parts = [p for p in re.split(r"[-_ ]+", stem.lower()) if p and not p.isdigit()]
    parts = [re.sub(r"\d+$", "", p) or p for p in parts]
    return "-".join(p for p in parts if p) or stem.lower()


def duration_of(path: Path) -> float:
    try:
        return float(sf.info(str(path)).duration)
    except RuntimeError:
        return 0.0


# --------------------------------------------------------------------------------------- wesnoth
def wesnoth_category(rel: str) -> str:
    p = Path(rel)
    if len(p.parts) > 1:
        return p.parts[0].lower()
    return strip_numbers(p.stem)


def build_wesnoth(root: Path, out: Path) -> list[tuple[str, Path, str]]:
    sounds = next(root.glob("usr/share/games/wesnoth/*/data/core/sounds"))
    rows = []
    for f in sorted(sounds.rglob("*")):
        if f.suffix.lower() not in (".ogg", ".wav") or not f.is_file():
            continue
        rel = f.relative_to(sounds).as_posix()
        cat = wesnoth_category(rel)
        dst = out / "wesnoth" / cat / f.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst)
        rows.append((f"{sounds.relative_to(root).as_posix()}/{rel}", dst, cat))
    return rows


# -------------------------------------------------------------------------------------- freedoom
DOOM_EXACT = {
    "PISTOL": "pistol", "SHOTGN": "shotgun", "SGCOCK": "shotgun-cock", "DSHTGN": "super-shotgun",
    "DBOPN": "super-shotgun-reload", "DBCLS": "super-shotgun-reload", "DBLOAD": "super-shotgun-reload",
    "SAWUP": "chainsaw", "SAWIDL": "chainsaw", "SAWFUL": "chainsaw", "SAWHIT": "chainsaw",
    "RLAUNC": "rocket-launch", "RXPLOD": "explosion", "BAREXP": "explosion", "FIRSHT": "fireball",
    "FIRXPL": "fireball-impact", "PLASMA": "plasma", "BFG": "bfg", "PSTART": "lift", "PSTOP": "lift",
    "DOROPN": "door", "DORCLS": "door", "BDOPN": "door", "BDCLS": "door", "STNMOV": "stone-move",
    "SWTCHN": "switch", "SWTCHX": "switch", "PLPAIN": "player-pain", "PLDETH": "player-death",
    "PDIEHI": "player-death", "OOF": "player-grunt", "NOWAY": "player-grunt", "SLOP": "gib",
    "ITEMUP": "pickup", "WPNUP": "pickup", "GETPOW": "pickup", "ITMBK": "item-respawn",
    "TELEPT": "teleport", "PUNCH": "punch", "CLAW": "claw", "TINK": "tink", "RADIO": "radio",
    "HOOF": "footstep", "METAL": "footstep", "BSPWLK": "footstep", "SKEPCH": "punch", "SKESWG": "swing",
    "FLAME": "flame", "FLAMST": "flame", "BOSPIT": "boss", "BOSCUB": "boss", "BOSSIT": "boss",
    "BOSPN": "boss", "BOSDTH": "boss", "SKLATK": "monster-attack", "SGTATK": "monster-attack",
    "VILATK": "monster-attack", "MANATK": "monster-attack", "SKEATK": "monster-attack",
    "KEENPN": "monster-pain", "KEENDT": "monster-death",
}
DOOM_SUFFIX = (
    (r"SIT\d?$", "monster-sight"), (r"(DTH|DT)\d?$", "monster-death"), (r"PAIN$|PN$", "monster-pain"),
    (r"ACT$", "monster-active"), (r"ATK$", "monster-attack"),
)


def doom_category(lump: str) -> str:
    key = lump[2:] if lump.startswith("DS") else lump
    if key in DOOM_EXACT:
        return DOOM_EXACT[key]
    for pattern, cat in DOOM_SUFFIX:
        if re.search(pattern, key):
            return cat
    return "misc"


def read_wad_sounds(path: Path) -> list[tuple[str, int, np.ndarray]]:
    """All DMX sound lumps (``DS*``) of a WAD: (name, sample rate, float32 mono samples)."""
    data = path.read_bytes()
    ident, n, offset = struct.unpack_from("<4sii", data, 0)
    if ident not in (b"IWAD", b"PWAD"):
        raise ValueError(f"{path}: not a WAD file")
    out = []
    for i in range(n):
        pos, size, raw = struct.unpack_from("<ii8s", data, offset + 16 * i)
        name = raw.rstrip(b"\0").decode("ascii", "replace")
        if not name.startswith("DS") or size < 8:
            continue
        fmt, rate, count = struct.unpack_from("<HHI", data, pos)
        if fmt != 3 or count > size - 8:
            continue
        pcm = np.frombuffer(data, np.uint8, count, pos + 8)
        if count > 32:  # DMX pads 16 samples at each end
            pcm = pcm[16:-16]
        out.append((name, int(rate), (pcm.astype(np.float32) - 128.0) / 128.0))
    return out


def build_freedoom(root: Path, out: Path) -> list[tuple[str, Path, str]]:
    rows, seen = [], {}
    for wad in sorted(root.glob("usr/share/games/doom/freedoom*.wad")):
        for name, rate, wave in read_wad_sounds(wad):
            digest = hashlib.sha1(wave.tobytes()).hexdigest()
            if digest in seen:
                continue
            cat = doom_category(name)
            taken = name in seen.values()  # same lump name, different sound in the other WAD
            seen[digest] = name
            stem = f"{name.lower()}-{wad.stem}" if taken else name.lower()
            dst = out / "freedoom" / cat / f"{stem}.flac"
            dst.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(dst), wave, rate, subtype="PCM_16")
            rows.append((f"{wad.relative_to(root).as_posix()}:{name}", dst, cat))
    return rows


# ------------------------------------------------------------------------------------- hedgewars
HEDGEWARS_KEYWORDS = (
    ("impact", "impact"), ("explosion", "explosion"), ("mortar", "explosion"), ("molotov", "fire"),
    ("flame", "fire"), ("blowtorch", "fire"), ("hell", "monster"), ("gun", "gun"), ("shotgun", "gun"),
    ("minigun", "gun"), ("sniper", "gun"), ("rope", "rope"), ("water", "water"), ("splash", "water"),
    ("droplet", "water"), ("countdown", "countdown"), ("custom", "jingle"), ("reload", "gun-reload"),
    ("throw", "throw"), ("plane", "aircraft"), ("ufo", "aircraft"), ("parachute", "aircraft"),
    ("portal", "portal"), ("ice", "ice"), ("freeze", "ice"), ("frozen", "ice"), ("rubberduck", "toy"),
    ("bee", "insect"), ("steps", "footstep"), ("hammer", "hammer"), ("pickhammer", "hammer"),
    ("bat", "swing"), ("whip", "swing"), ("punch", "punch"), ("crate", "pickup"), ("beep", "beep"),
)
NOTE_RE = re.compile(r"^\d[A-G]$")


def hedgewars_category(rel: str) -> str:
    p = Path(rel)
    if p.parts[0] == "voices":
        return "voice"
    stem = p.stem.lower()
    if NOTE_RE.match(p.stem):
        return "piano-note"
    for key, cat in HEDGEWARS_KEYWORDS:
        if key in stem:
            return cat
    return strip_numbers(stem)


def build_hedgewars(root: Path, out: Path) -> list[tuple[str, Path, str]]:
    sounds = next(root.glob("usr/share/games/hedgewars/Data/Sounds"))
    rows = []
    for f in sorted(sounds.rglob("*.ogg")):
        rel = f.relative_to(sounds).as_posix()
        cat = hedgewars_category(rel)
        name = f.name if not rel.startswith("voices/") else f"{f.parent.name.lower()}-{f.name}"
        dst = out / "hedgewars" / cat / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst)
        rows.append((f"{sounds.relative_to(root).as_posix()}/{rel}", dst, cat))
    return rows


# ----------------------------------------------------------------------------------- warzone2100
WZ_FOLDERS = {"weapons": "weapons", "vehicle": "vehicle", "explons": "explosion", "interfce": "interface",
              "building": "building", "misc": "misc"}


def build_warzone(root: Path, out: Path) -> list[tuple[str, Path, str]]:
    wz = next(root.glob("usr/share/games/warzone2100/base.wz"))
    rows = []
    with zipfile.ZipFile(wz) as z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            parts = info.filename.split("/")
            if len(parts) != 4 or parts[:2] != ["audio", "sfx"] or not parts[3].lower().endswith((".ogg", ".wav")):
                continue
            cat = WZ_FOLDERS.get(parts[2], parts[2])
            dst = out / "warzone2100" / cat / parts[3]
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(z.read(info))
            rows.append((f"{wz.relative_to(root).as_posix()}:{info.filename}", dst, cat))
    return rows


BUILDERS = {"wesnoth": build_wesnoth, "freedoom": build_freedoom, "hedgewars": build_hedgewars, "warzone2100": build_warzone}


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="library folder to (re)build")
    ap.add_argument("--work", type=Path, default=Path("work/debs"), help="where .deb files are downloaded and unpacked (default: work/debs)")
    ap.add_argument("--sources", nargs="+", default=list(BUILDERS), choices=list(BUILDERS))
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    catalog = []
    for name in args.sources:
        src = SOURCES[name]
        root, version = fetch_package(src.package, args.work)
        if (out / name).exists():
            shutil.rmtree(out / name)
        rows = BUILDERS[name](root, out)
        for origin, dst, cat in rows:
            catalog.append({"source": name, "package": src.package, "version": version, "licence": src.licence,
                            "origin": origin, "library_path": dst.relative_to(out).as_posix(), "category": cat,
                            "duration_s": f"{duration_of(dst):.3f}"})
        print(f"{name}: {len(rows)} files, {len({r[2] for r in rows})} categories ({src.package} {version})", file=sys.stderr)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CATALOG_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(catalog)
    write_atomic(out / "catalog.csv", buf.getvalue())
    lines = ["# Sound library sources", "", "| source | package | version | licence | files | minutes | categories |", "|---|---|---|---|---|---|---|"]
    for name in args.sources:
        rows = [r for r in catalog if r["source"] == name]
        if rows:
            mins = sum(float(r["duration_s"]) for r in rows) / 60
            lines.append(f"| {name} | {rows[0]['package']} | {rows[0]['version']} | {rows[0]['licence']} | {len(rows)} | {mins:.1f} | {len({r['category'] for r in rows})} |")
    lines += ["", "Per-file origins: `catalog.csv` (origin = path inside the package, `file:LUMP` for WAD lumps, `base.wz:member` for zips).", ""]
    write_atomic(out / "SOURCES.md", "\n".join(lines))
    print(f"library: {len(catalog)} files in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
