"""Library test fixtures: a tiny real AVModel and a generated library full of awkward files."""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.data.synthetic import SR, event_sound


def tiny_model(seed: int = 0):
    """A real AVModel, just small (a few thousand weights): the full code path, fast on CPU."""
    import torch

    from engine.models import AVModel
    from engine.presets import get_preset

    torch.manual_seed(seed)
    cfg = dataclasses.replace(get_preset("m5", "compact"), vision_channels=(4, 8, 8, 16), audio_channels=(4, 8, 8, 16), image_size=32)
    return AVModel(cfg).eval()


@pytest.fixture(scope="session")
def model():
    return tiny_model(0)


@pytest.fixture(scope="session")
def model_file(model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    model.save(path)
    return path


def add_riff_chunks(path: Path, chunks: dict[bytes, bytes]) -> None:
    """Append chunks (e.g. ``bext``, ``iXML``) to a WAV file and fix the RIFF size."""
    data = bytearray(path.read_bytes())
    for cid, payload in chunks.items():
        data += cid + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))


def write_wav(path: Path, name: str, seconds: float, variant: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), event_sound(name, seconds, SR, variant=variant), SR, subtype="PCM_16")
    return path


# Files that must be indexed, with the category each should get.
GOOD = {
    "circle/circle_a.wav": "circle",
    "circle/circle_b.wav": "circle",
    "square/square_a.wav": "square",
    "square/square_short.wav": "square",  # 0.4 s: padded to one segment
    "triangle/triangle_long.wav": "triangle",  # 4 s: 7 segments
    "bar/bar_a.flac": "bar",
    "bar/DOORWood_Creak Open_JD_Lib.wav": "DOORS",  # UCS CatID wins over the folder
    "bwf/take_12.wav": "WEAPONS",  # iXML CATEGORY
    "tagged/tagged.flac": "FOLEY",  # genre tag
    "ring/ドア_きしみ.wav": "ring",
    "ring/Ünïcødé 🔊.wav": "ring",
    "cross/disguised.mp3": "cross",  # a WAV with the wrong extension: decoded by content
}
BAD = {  # name -> reason fragment
    "corrupt/broken.wav": "",
    "corrupt/empty.flac": "empty",
    "corrupt/notes.wav": "",
}


def build_library(root: Path) -> Path:
    """Write the awkward library under ``root`` (see GOOD/BAD; plus a non-UTF-8 name, a FIFO and a symlink loop)."""
    classes = {"circle": "circle", "square": "square", "triangle": "triangle", "bar": "bar", "ring": "ring", "cross": "cross"}
    for rel in GOOD:
        p = root / rel
        cls = next((c for c in classes if c in rel), "bar")
        seconds = 0.4 if "short" in rel else 4.0 if "long" in rel else 1.5
        variant = 1 if rel.endswith("_b.wav") else 0
        if rel.endswith(".flac"):
            p.parent.mkdir(parents=True, exist_ok=True)
            with sf.SoundFile(str(p), "w", SR, 1, format="FLAC") as f:
                if "tagged" in rel:
                    f.title, f.comment, f.genre = "Cloth rustle", "jacket sleeve rub", "FOLEY"
                f.write(event_sound("bar" if "bar" in rel else "cross", seconds, SR))
        elif rel.endswith(".mp3"):
            write_wav(root / "tmp.wav", "cross", seconds)
            p.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(root / "tmp.wav", p)
        else:
            write_wav(p, "circle" if "DOOR" in rel or "take" in rel else cls, seconds, variant)
    bext = b"Gunshot, pistol, close perspective".ljust(256, b"\x00") + b"\x00" * 346
    ixml = b"<BWFXML><USER><CATEGORY>WEAPONS</CATEGORY><SUBCATEGORY>PISTOL</SUBCATEGORY><FXNAME>Pistol shot close</FXNAME></USER></BWFXML>"
    add_riff_chunks(root / "bwf/take_12.wav", {b"bext": bext, b"iXML": ixml})
    (root / "corrupt").mkdir(parents=True, exist_ok=True)
    (root / "corrupt/broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + os.urandom(300))
    (root / "corrupt/empty.flac").write_bytes(b"")
    (root / "corrupt/notes.wav").write_text("this is not audio\n")
    (root / "corrupt/readme.txt").write_text("ignored: not a sound extension\n")
    latin1 = os.fsencode(root / "latin1") + b"/caf\xe9.wav"  # not valid UTF-8
    os.makedirs(os.fsencode(root / "latin1"), exist_ok=True)
    write_wav(root / "latin1" / "tmp.wav", "square", 1.5)
    os.rename(os.fsencode(root / "latin1" / "tmp.wav"), latin1)
    os.mkfifo(root / "corrupt" / "pipe.wav")  # a special file: must be skipped, never opened
    locked = write_wav(root / "locked" / "locked.wav", "bar", 1.5)
    locked.chmod(0)  # unreadable for a normal user (root can still read it)
    os.symlink("..", root / "circle" / "loop")  # symlink loop back to the library root
    return root


RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
N_GOOD = len(GOOD) + 1 + int(RUNNING_AS_ROOT)  # + latin-1 name (+ the chmod-000 file, which root can read)


@pytest.fixture(scope="session")
def library_template(tmp_path_factory) -> Path:
    return build_library(tmp_path_factory.mktemp("lib") / "library")


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A private awkward library (tests change files in it)."""
    return build_library(tmp_path / "library")


@pytest.fixture(scope="session")
def indexed(library_template: Path, model, tmp_path_factory) -> Path:
    """An index of the template library, built once (read-only tests share it)."""
    from engine.library.indexer import index_library

    db = tmp_path_factory.mktemp("db") / "index"
    index_library([library_template], model, db, workers=0, progress=False)
    return db


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)
