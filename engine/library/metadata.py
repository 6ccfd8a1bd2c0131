"""What sound designers rely on to find a sound: BWF ``bext``, iXML, ID3/Vorbis tags, UCS names, folders.

Precedence for the category: iXML ``CATEGORY``/``SUBCATEGORY`` (written by Soundminer, BaseHead and
UCS tools), then the UCS ``CatID`` at the start of the file name (``DOORWood_Creak Open_JD.wav`` ->
``DOORS``), then a genre tag, then the name of the folder the file is in. Description: BWF ``bext``
description, then iXML ``DESCRIPTION``/``NOTE``, then a comment/description tag. Name: iXML
``FXNAME``, then a title tag, then the file name without extension.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MAX_CHUNK_READ = 1 << 20  # iXML/bext larger than 1 MB is not metadata we trust

# Universal Category System (UCS) category abbreviations -> category names (v8.2 main list).
UCS_CATEGORIES = {
    "AERO": "AIRCRAFT", "AIR": "AIR", "ALRM": "ALARMS", "AMB": "AMBIENCE", "ANML": "ANIMALS",
    "ARCH": "ARCHIVED", "BEEP": "BEEPS", "BELL": "BELLS", "BIRD": "BIRDS", "BLLT": "BULLETS",
    "BOAT": "BOATS", "BREAK": "BREAKS", "CART": "CARTOON", "CERM": "CERAMICS", "CHAIN": "CHAINS",
    "CHEM": "CHEMICALS", "CLOCK": "CLOCKS", "CLOTH": "CLOTH", "COMM": "COMMUNICATIONS",
    "COMP": "COMPUTERS", "CREA": "CREATURES", "CRWD": "CROWDS", "DSGN": "DESIGNED",
    "DEST": "DESTRUCTION", "DIRT": "DIRT & SAND", "DOOR": "DOORS", "DRWR": "DRAWERS",
    "ELEC": "ELECTRICITY", "EQUIP": "EQUIPMENT", "EXPL": "EXPLOSIONS", "FART": "FARTS",
    "FGHT": "FIGHT", "FIRE": "FIRE", "FIREWRK": "FIREWORKS", "FOLY": "FOLEY", "FOOD": "FOOD & DRINK",
    "FEET": "FOOTSTEPS", "GAME": "GAMES", "GEOT": "GEOTHERMAL", "GLAS": "GLASS", "GORE": "GORE",
    "GUN": "GUNS", "GUNS": "GUNS", "HMN": "HUMAN", "HORN": "HORNS", "ICE": "ICE", "LASR": "LASERS",
    "LETH": "LEATHER", "LIQ": "LIQUID & MUD", "MACH": "MACHINES", "MAGC": "MAGIC",
    "MECH": "MECHANICAL", "METL": "METAL", "MOTR": "MOTORS", "MOVE": "MOVEMENT", "MUSC": "MUSICAL",
    "NTRL": "NATURAL DISASTER", "OBJ": "OBJECTS", "PAPR": "PAPER", "PLAS": "PLASTIC", "RAIN": "RAIN",
    "ROBO": "ROBOTS", "ROCK": "ROCKS", "ROPE": "ROPE", "RUBR": "RUBBER", "SCI": "SCIFI",
    "SNOW": "SNOW", "SPRT": "SPORTS", "SWSH": "SWOOSHES", "TOOL": "TOOLS", "TOON": "CARTOON",
    "TOY": "TOYS", "TRAN": "TRAINS", "TRNS": "TRANSPORTATION", "UI": "USER INTERFACE",
    "VEH": "VEHICLES", "VOX": "VOICES", "WATR": "WATER", "WEAP": "WEAPONS", "WHSH": "WHOOSHES",
    "WHSTL": "WHISTLES", "WIND": "WIND", "WNDW": "WINDOWS", "WOOD": "WOOD", "WTHR": "WEATHER",
}
# CatID = upper-case category abbreviation + capitalised subcategory, then "_" (e.g. AMBForst_, UIClick_).
_CATID = re.compile(r"^([A-Z]{2,8})([A-Z][a-z0-9][A-Za-z0-9]*)?_")


@dataclass(frozen=True)
class SoundMeta:
    """Metadata of one sound file as stored in the library database."""

    duration: float
    sample_rate: int
    channels: int
    name: str
    description: str = ""
    category: str = ""
    subcategory: str = ""
    category_source: str = ""  # "ixml" | "ucs" | "tag" | "folder"


def ucs_category(stem: str) -> tuple[str, str, str] | None:
    """``(category, subcategory, fx_name)`` from a UCS file name, or ``None`` if it is not one."""
    m = _CATID.match(stem)
    if not m or m.group(1) not in UCS_CATEGORIES:
        return None
    rest = stem[m.end() :].split("_")
    return UCS_CATEGORIES[m.group(1)], (m.group(2) or "").upper(), rest[0].strip() if rest else ""


def riff_chunks(path: Path) -> dict[str, bytes]:
    """The ``bext`` and ``iXML`` chunks of a RIFF/RF64/BW64 WAV file (empty dict otherwise)."""
    out: dict[str, bytes] = {}
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:12] != b"WAVE":
                return out
            while True:
                hdr = f.read(8)
                if len(hdr) < 8:
                    break
                cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
                name = cid.decode("latin-1")
                if name in ("bext", "iXML") and size <= MAX_CHUNK_READ:
                    out[name] = f.read(size)
                    if size % 2:
                        f.seek(1, 1)
                else:
                    if size == 0xFFFFFFFF:  # RF64 data chunk: its size lives in ds64; nothing after it we need
                        break
                    f.seek(size + (size % 2), 1)
    except OSError as exc:
        log.debug("%s: cannot read chunks (%s)", path, exc)
    return out


def _text(raw: bytes) -> str:
    raw = raw.split(b"\x00", 1)[0]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def bext_description(chunk: bytes) -> str:
    """The 256-byte Description field that opens a BWF ``bext`` chunk."""
    return _text(chunk[:256])


def ixml_fields(chunk: bytes) -> dict[str, str]:
    """Upper-cased tag -> text for the iXML fields we use (first occurrence anywhere in the tree)."""
    wanted = {"CATEGORY", "SUBCATEGORY", "CATID", "FXNAME", "DESCRIPTION", "NOTE", "TRACKTITLE"}
    text = chunk.split(b"\x00", 1)[0]
    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:  # no entity expansion from user files
        return {}
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}
    for el in root.iter():
        tag = el.tag.upper() if isinstance(el.tag, str) else ""
        if tag in wanted and tag not in out and el.text and el.text.strip():
            out[tag] = el.text.strip()
    return out


_LIBSNDFILE_TAGGED = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".caf", ".w64"})


def container_tags(path: Path) -> dict[str, str]:
    """Lower-cased tags: RIFF INFO / Vorbis comments via libsndfile (cheap), ID3 and the rest via PyAV."""
    if path.suffix.lower() in _LIBSNDFILE_TAGGED:
        import soundfile as sf

        try:
            with sf.SoundFile(str(path)) as f:
                tags = f.copy_metadata()
            return {str(k).lower(): str(v).strip() for k, v in tags.items() if str(v).strip()}
        except (RuntimeError, ValueError, OSError, TypeError):
            pass  # not what its extension says: ask the video decoder
    import av

    try:
        with av.open(str(path)) as c:
            tags = dict(c.metadata)
            if c.streams.audio:
                for k, v in c.streams.audio[0].metadata.items():
                    tags.setdefault(k, v)
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return {}
    return {str(k).lower(): str(v).strip() for k, v in tags.items() if str(v).strip()}


def printable(name: str) -> str:
    """A file or folder name as valid text even when its bytes are not UTF-8."""
    return os.fsencode(name).decode("utf-8", errors="replace")


def folder_category(path: Path, root: Path) -> str:
    """The name of the folder a file is in (the library folder's own name for top-level files)."""
    parent = path.parent
    return printable(parent.name if parent.name else root.name)


def read_metadata(path: Path, root: Path, duration: float, sample_rate: int, channels: int, readable: Path | None = None) -> SoundMeta:
    """Everything but the audio: names, description and category by the precedence in the module doc.

    ``readable`` is where to read the bytes when ``path`` itself cannot be opened by name.
    """
    source = readable or path
    chunks = riff_chunks(source)  # checks the header itself: any extension can hide a WAV
    ixml = ixml_fields(chunks["iXML"]) if "iXML" in chunks else {}
    tags = container_tags(source)
    stem = printable(path.stem)
    ucs = ucs_category(stem) or (ucs_category(ixml["CATID"] + "_") if "CATID" in ixml else None)

    if ixml.get("CATEGORY"):
        category, sub, source = ixml["CATEGORY"], ixml.get("SUBCATEGORY", ""), "ixml"
    elif ucs:
        category, sub, source = ucs[0], ucs[1], "ucs"
    elif tags.get("genre"):
        category, sub, source = tags["genre"], "", "tag"
    else:
        category, sub, source = folder_category(path, root), "", "folder"

    description = (
        (bext_description(chunks["bext"]) if "bext" in chunks else "")
        or ixml.get("DESCRIPTION", "")
        or ixml.get("NOTE", "")
        or tags.get("description", "")
        or tags.get("comment", "")
        or tags.get("icmt", "")
    )
    name = ixml.get("FXNAME") or ixml.get("TRACKTITLE") or tags.get("title") or (ucs[2] if ucs and ucs[2] else "") or stem
    return SoundMeta(float(duration), int(sample_rate), int(channels), name, description, category, sub, source)
