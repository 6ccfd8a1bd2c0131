#!/usr/bin/env python3
"""Build a categorised sound-effect library from the sound effects that ship in Debian game packages.

Usage (as root or any user; nothing is installed, packages are only downloaded and unpacked)::

    python scripts/build_sound_library.py --out LIB [--work DEBS] [--installed]
        [--sources wesnoth freedoom hedgewars warzone2100 openarena]

For each source it runs ``apt-get download PKG`` (skipped when the .deb is already in --work),
unpacks it with ``dpkg -x`` and copies / converts its sound effects into

    OUT/<source>/<category>/<file>

so that any indexer that takes the category from the folder name (``foley-engine index``) gets
the categories below, and writes ``OUT/catalog.csv`` (one row per file: source, package, version,
licence, origin path inside the package, library path, category, duration) and ``OUT/SOURCES.md``.
With ``--installed`` the packages are read where dpkg installed them (``dpkg-query`` gives the
version and the package's own file list) and nothing is downloaded.

Each source is built in a hidden temporary folder beside ``OUT/<source>`` and then replaces it
whole; the sources not named in ``--sources`` keep their folders and their ``catalog.csv`` rows, so
adding one game does not touch the others. ``catalog.csv`` and ``SOURCES.md`` are replaced atomically.

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
* openarena (the ``baseoa/*.pk3`` zips of the OpenArena data packages): the ``sound/`` WAV/Ogg
  files (``music/`` is skipped). The pk3 files are read in Quake 3's load order (names compared
  case-insensitively, ``FS_PathCmp``) and a later pk3 overrides an earlier one's file with the same
  path, so each path is taken once, from the pk3 (and package) the game would load it from. File
  names are kept (the game's sound labels name files by path; evaluations match them by base name).
  Where two paths share a base name (ignoring case and ``.wav``/``.ogg``, which the engine swaps
  for one another) one is kept: the one from the earliest pk3 in load order (the base game's, e.g.
  the default character ``sarge``'s voice), then ``.wav`` before ``.ogg``, then the path; the others
  are reported and left out. Digitally silent files are left out. Categories from the path rules
  ``OPENARENA_RULES`` (footstep, door, lift, pickup, explosion, impact, player-pain, ...); the
  announcer (``sound/feedback``, the ``voc_*`` team-play calls) is kept as category ``announcer``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.atomic import atomic_write_text, fsync_tree, replace_dir  # noqa: E402


@dataclass(frozen=True)
class Source:
    name: str
    package: str
    licence: str
    licence_note: str
    packages: tuple[str, ...] = ()  # every package the source reads, when more than ``package``

    @property
    def all_packages(self) -> tuple[str, ...]:
        return self.packages or (self.package,)


@dataclass(frozen=True)
class Package:
    """One Debian package's files: an unpacked .deb, or an installed package (``root`` = ``/``)."""

    name: str
    version: str
    root: Path
    files: tuple[str, ...]  # regular files, relative to root, sorted


# OpenArena's data is split over several packages; all of them put pk3 files into one folder
OPENARENA_PACKAGES = ("openarena-data", "openarena-081-maps", "openarena-081-misc", "openarena-081-players",
                      "openarena-081-players-mature", "openarena-081-textures", "openarena-085-data",
                      "openarena-088-data")


SOURCES = {
    "wesnoth": Source("wesnoth", "wesnoth-1.16-data", "GPL-2.0-or-later",
                      "Battle for Wesnoth data; see /usr/share/doc/wesnoth-1.16-data/copyright"),
    "freedoom": Source("freedoom", "freedoom", "BSD-3-Clause (Freedoom licence)",
                       "Freedoom Phase 1/2 WADs; see /usr/share/doc/freedoom/copyright"),
    "hedgewars": Source("hedgewars", "hedgewars-data", "GFDL-1.3 (Data/Sounds; Droplet*.ogg CC-BY-SA-3.0), GPL-2 (voices)",
                        "see /usr/share/doc/hedgewars-data/copyright"),
    "warzone2100": Source("warzone2100", "warzone2100-data", "GPL-2.0-or-later",
                          "see /usr/share/doc/warzone2100-data/copyright"),
    # debian/copyright of every OpenArena data package: "Files: *" GPL-2+; GPL-2 only for the merman
    # player model (models/players/merman) and the oa_thor map, neither of them a sound file
    "openarena": Source("openarena", "openarena-data", "GPL-2.0-or-later",
                        "see /usr/share/doc/openarena-data/copyright (same terms in every openarena-*-data package)",
                        OPENARENA_PACKAGES),
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


def unpacked_package(package: str, work: Path) -> Package:
    root, version = fetch_package(package, work)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != ".unpacked")
    return Package(package, version, root, tuple(files))


def installed_package(package: str) -> Package:
    """An installed package, read in place: version and file list from dpkg."""
    q = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${Version}", package],
                       capture_output=True, text=True)
    status, _, version = q.stdout.partition("\t")
    if q.returncode != 0 or not status.startswith("ii"):
        raise SystemExit(f"{package} is not installed (install it, or run without --installed to download it)")
    listing = subprocess.run(["dpkg-query", "-L", package], check=True, capture_output=True, text=True).stdout
    root = Path("/")
    files = sorted(line.lstrip("/") for line in listing.splitlines()
                   if line.startswith("/") and (root / line.lstrip("/")).is_file())
    return Package(package, version.strip(), root, tuple(files))


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


# ------------------------------------------------------------------------------------- openarena
OPENARENA_BASE = "usr/share/games/openarena/baseoa"

# (regex on the path below sound/, lower case; category; \1 is the regex's first group). First match wins.
OPENARENA_RULES: tuple[tuple[str, str], ...] = (
    (r"^player/footsteps/", "footstep"), (r"^player/land\d*\.", "footstep"), (r"walk\.", "footstep"),
    (r"^player/gib", "gib"), (r"^le/splat", "gib"), (r"^le/(bullet|shell)", "shell-casing"),
    (r"^player/(watr_|gurp)", "water"), (r"^player/talk\.", "interface"), (r"^player/fry\.", "player-pain"),
    (r"^player/announcer/", "announcer"),
    (r"^player/[^/]+/(death|drown)", "player-death"), (r"^player/[^/]+/pain", "player-pain"),
    (r"^player/[^/]+/taunt", "voice"), (r"^player/[^/]+/", "player-grunt"),  # jump, fall, falling, gasp
    (r"^feedback/hit", "interface"), (r"^feedback/", "announcer"), (r"^teamplay/voc_", "announcer"),
    (r"^teamplay/", "jingle"),
    (r"^movers/doors/", "door"), (r"^movers/plats/", "lift"), (r"^movers/switches/", "switch"), (r"^movers/", "mover"),
    (r"(^|/)tele(in|out)\.", "teleport"), (r"^world/portal", "teleport"),
    (r"^items/.*respawn", "item-respawn"), (r"^items/kam_", "explosion"), (r"^items/.*_(hit|impact)", "impact"),
    (r"^items/use_", "item-use"),
    (r"^items/(.*health|quaddamage|haste|invisibility|regeneration|protect\.|flight|holdable|ammoregen|doubler"
     r"|guard|scout|cl_)", "pickup"),
    (r"^items/", "powerup"),
    (r"^misc/.*_pkup", "pickup"), (r"^misc/menu", "interface"),
    (r"^weapons/.*(expl|/rocklx)", "explosion"),
    (r"^weapons/(machinegun/ric|lightning/lg_hit|nailgun/wnalimp|proxmine/wstbimp|plasma/plasmx|grenade/hgrenb)",
     "impact"),
    (r"^weapons/(rocket/rockfly|plasma/lasfly|machinegun/buletby)", "projectile"),
    (r"^weapons/.*hum\.", "weapon-hum"), (r"^weapons/(change|noammo)\.", "weapon-handling"),
    (r"^weapons/weapon_hover", "interface"),
    (r"^weapons/rocket/", "rocket-launch"), (r"^weapons/grenade/", "grenade-launch"), (r"^weapons/vulcan/", "chaingun"),
    (r"^weapons/melee/", "gauntlet"), (r"^weapons/([^/]+)/", r"\1"),  # machinegun, shotgun, plasma, railgun, ...
    (r"^world/fire", "fire"), (r"^world/(waterfall|drops|cf_blubber)", "water"), (r"^world/jumppad", "jumppad"),
    (r"^world/(fan|machinery|tim_|monitor|neonhum|electro|curnt)", "machinery"), (r"^world/", "ambient"),
)


def openarena_category(rel: str) -> str:
    """Category of a sound by its path below ``sound/`` (``weapons/rocket/rocklf1a.wav`` -> ``rocket-launch``)."""
    rel = rel.lower()
    for pattern, cat in OPENARENA_RULES:
        m = re.search(pattern, rel)
        if m:
            return m.expand(cat)
    return "misc"


def q3_order_key(name: str) -> str:
    """Quake 3 sorts pk3 names with ``FS_PathCmp``: upper-cased, ``\\`` and ``:`` read as ``/``."""
    return name.upper().replace("\\", "/").replace(":", "/")


@dataclass(frozen=True)
class Pk3Sound:
    package: Package
    pk3: str     # the pk3, relative to the package root
    member: str  # the member's name in the zip, as stored
    path: str    # the sound's path below sound/ ("/" separators, spelling as stored)


def openarena_pk3s(packages: Sequence[Package]) -> list[tuple[Package, str]]:
    """The baseoa pk3 files of the packages, in the game's load order (a later one overrides)."""
    found = [(p, f) for p in packages for f in p.files
             if f.startswith(OPENARENA_BASE + "/") and "/" not in f[len(OPENARENA_BASE) + 1:] and f.lower().endswith(".pk3")]
    return sorted(found, key=lambda pf: q3_order_key(PurePosixPath(pf[1]).name))


def openarena_sounds(pk3s: Sequence[tuple[Package, str]]) -> tuple[list[Pk3Sound], list[tuple[str, str, str]]]:
    """Every ``sound/`` WAV/Ogg path once, from the last pk3 that has it (paths compared case-insensitively,
    as the game looks them up); also the overrides as (path, overridden pk3, overriding pk3)."""
    final: dict[str, Pk3Sound] = {}
    overrides = []
    for pkg, rel in pk3s:
        with zipfile.ZipFile(pkg.root / rel) as z:
            for info in z.infolist():
                name = info.filename.replace("\\", "/")
                low = name.lower()
                if info.is_dir() or not low.startswith("sound/") or not low.endswith((".wav", ".ogg")):
                    continue
                if low in final:
                    overrides.append((name[len("sound/"):], PurePosixPath(final[low].pk3).name, PurePosixPath(rel).name))
                final[low] = Pk3Sound(pkg, rel, info.filename, name[len("sound/"):])
    return [final[k] for k in sorted(final)], overrides


def is_silent(data: bytes) -> bool:
    try:
        wave, _ = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except RuntimeError:
        return False
    return not np.any(wave)


def build_openarena(packages: Sequence[Package], out: Path) -> list[tuple[str, Path, str, str, str]]:
    pk3s = openarena_pk3s(packages)
    if not pk3s:
        raise SystemExit(f"no pk3 files under {OPENARENA_BASE} in {', '.join(p.name for p in packages)}")
    load_index = {rel: i for i, (_, rel) in enumerate(pk3s)}
    sounds, overrides = openarena_sounds(pk3s)
    zips: dict[str, zipfile.ZipFile] = {}
    rows = []
    try:
        def read(s: Pk3Sound) -> bytes:
            if s.pk3 not in zips:
                zips[s.pk3] = zipfile.ZipFile(s.package.root / s.pk3)
            return zips[s.pk3].read(s.member)

        silent = [s for s in sounds if is_silent(read(s))]
        silent_ids = {(s.pk3, s.member) for s in silent}
        by_name: dict[str, list[Pk3Sound]] = defaultdict(list)
        for s in sounds:
            if (s.pk3, s.member) not in silent_ids:
                by_name[PurePosixPath(s.path).stem.lower()].append(s)
        kept, collisions = [], []
        for stem in sorted(by_name):
            group = sorted(by_name[stem], key=lambda s: (load_index[s.pk3], s.path.lower().endswith(".ogg"), s.path.lower()))
            kept.append(group[0])
            if len(group) > 1:
                collisions.append((group[0], group[1:]))
        for s in sorted(kept, key=lambda s: s.path.lower()):
            cat = openarena_category(s.path)
            dst = out / "openarena" / cat / PurePosixPath(s.path).name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(read(s))
            rows.append((f"{s.pk3}:{s.member}", dst, cat, s.package.name, s.package.version))
        report_openarena(overrides, collisions, silent, read)
    finally:
        for z in zips.values():
            z.close()
    return rows


def report_openarena(overrides: list[tuple[str, str, str]], collisions: list[tuple[Pk3Sound, list[Pk3Sound]]],
                     silent: list[Pk3Sound], read: Callable[[Pk3Sound], bytes]) -> None:
    def say(text: str) -> None:
        print(f"openarena: {text}", file=sys.stderr)

    say(f"{len(overrides)} sound paths overridden by a later pk3 (the later one is taken)")
    for path, old, new in overrides:
        say(f"  {path}: {new} over {old}")
    left = sum(len(others) for _, others in collisions)
    say(f"{len(collisions)} base names shared by several paths; one kept each, {left} files left out")
    for keep, others in collisions:
        body = read(keep)
        names = ", ".join(f"{o.path} ({PurePosixPath(o.pk3).name}{', same bytes' if read(o) == body else ''})" for o in others)
        say(f"  {PurePosixPath(keep.path).name}: kept {keep.path} ({PurePosixPath(keep.pk3).name}); left out {names}")
    for s in silent:
        say(f"  left out {s.path} ({PurePosixPath(s.pk3).name}): digital silence")


BUILDERS: dict[str, Callable[[Sequence[Package], Path], list]] = {
    "wesnoth": lambda pkgs, out: build_wesnoth(pkgs[0].root, out),
    "freedoom": lambda pkgs, out: build_freedoom(pkgs[0].root, out),
    "hedgewars": lambda pkgs, out: build_hedgewars(pkgs[0].root, out),
    "warzone2100": lambda pkgs, out: build_warzone(pkgs[0].root, out),
    "openarena": build_openarena,
}


def build_source(name: str, packages: Sequence[Package], out: Path) -> list[dict[str, str]]:
    """Build one source in a temporary folder, then let it replace ``out/<name>`` whole; its catalog rows."""
    src = SOURCES[name]
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=out))
    try:
        rows = BUILDERS[name](packages, stage)
        catalog = []
        for origin, dst, cat, *pkg_version in rows:
            package, version = pkg_version or (packages[0].name, packages[0].version)
            catalog.append({"source": name, "package": package, "version": version, "licence": src.licence,
                            "origin": origin, "library_path": dst.relative_to(stage).as_posix(), "category": cat,
                            "duration_s": f"{duration_of(dst):.3f}"})
        (stage / name).mkdir(exist_ok=True)
        fsync_tree(stage / name)
        replace_dir(stage / name, out / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return catalog


def read_catalog(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def merge_catalog(old: list[dict[str, str]], new: dict[str, list[dict[str, str]]]) -> list[dict[str, str]]:
    """The rows of the rebuilt sources replace theirs; other sources' rows are kept as they were.
    Sources in ``BUILDERS`` order, then any others in the order they had."""
    by_source: dict[str, list[dict[str, str]]] = {}
    for row in old:
        by_source.setdefault(row["source"], []).append(row)
    by_source.update(new)
    order = [s for s in BUILDERS if s in by_source] + [s for s in by_source if s not in BUILDERS]
    return [row for s in order for row in by_source[s]]


def sources_markdown(catalog: list[dict[str, str]]) -> str:
    lines = ["# Sound library sources", "", "| source | package | version | licence | files | minutes | categories |", "|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["source"] for r in catalog):
        rows = [r for r in catalog if r["source"] == name]
        mins = sum(float(r["duration_s"]) for r in rows) / 60
        packages = ", ".join(sorted({r["package"] for r in rows}))
        versions = ", ".join(sorted({r["version"] for r in rows}))
        lines.append(f"| {name} | {packages} | {versions} | {rows[0]['licence']} | {len(rows)} | {mins:.1f} | {len({r['category'] for r in rows})} |")
    lines += ["", "Per-file origins: `catalog.csv` (origin = path inside the package, `file:LUMP` for WAD lumps, "
              "`archive:member` for zips: `base.wz`, `*.pk3`).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="library folder to build or add to")
    ap.add_argument("--work", type=Path, default=Path("work/debs"), help="where .deb files are downloaded and unpacked (default: work/debs)")
    ap.add_argument("--installed", action="store_true", help="read the installed packages in place instead of downloading them")
    ap.add_argument("--sources", nargs="+", default=list(BUILDERS), choices=list(BUILDERS),
                    help="sources to (re)build; the library's other sources are kept")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    new: dict[str, list[dict[str, str]]] = {}
    for name in dict.fromkeys(args.sources):
        src = SOURCES[name]
        packages = [installed_package(p) if args.installed else unpacked_package(p, args.work) for p in src.all_packages]
        rows = new[name] = build_source(name, packages, out)
        versions = ", ".join(sorted({f"{r['package']} {r['version']}" for r in rows})) or f"{src.package} {packages[0].version}"
        print(f"{name}: {len(rows)} files, {len({r['category'] for r in rows})} categories ({versions})", file=sys.stderr)
    catalog = merge_catalog(read_catalog(out / "catalog.csv"), new)
    for name in dict.fromkeys(r["source"] for r in catalog):
        if name not in new and not (out / name).is_dir():
            print(f"warning: catalog.csv lists {name} but {out / name} is missing", file=sys.stderr)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CATALOG_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(catalog)
    atomic_write_text(out / "catalog.csv", buf.getvalue())
    atomic_write_text(out / "SOURCES.md", sources_markdown(catalog))
    print(f"library: {len(catalog)} files in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
