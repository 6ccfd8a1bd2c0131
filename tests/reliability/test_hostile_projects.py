"""Hostile project files: every one gives a ``ProjectError`` naming the problem (or loads as plain
data), never another exception, never a hang, and the file is left as it was.

The field-by-field cases live in ``tests/foley_app/test_project_io.py`` (HOSTILE, fuzzed fields);
this adds what an attacker or a broken disk would send: deep nesting, huge strings and numbers,
special files as media, and byte-level damage to a real saved project.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foley_app.core.commands import AddClip, AddTrack
from foley_app.core.document import Clip, Document
from foley_app.core.project_io import ProjectError, load_project, missing_media, save_project
from tests.foley_app.test_project_io import _valid

from .conftest import FUZZ_EXAMPLES


def _load_rejects(tmp_path: Path, text: str | bytes, *fragments: str) -> str:
    path = tmp_path / "hostile.foley.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    before = path.read_bytes()
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(ProjectError) as info:
        load_project(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == listing  # nothing written, nothing changed
    return message


def _with(edit) -> str:
    data = _valid()
    edit(data)
    return json.dumps(data)


CASES = {
    "deep nesting": ("[" * 100_000 + "]" * 100_000, ("nested far too deeply",)),
    "deep nesting in a value": ('{"format": "foley-assistant-project", "version": 1, "tracks": ' + "[" * 50_000 + "]" * 50_000 + "}",
                                ("nested far too deeply",)),
    "10 MB name": (_with(lambda d: d["tracks"][0].__setitem__("name", "x" * 10_000_000)), ("tracks[0].name", "longer than")),
    "huge path": (_with(lambda d: d["tracks"][0]["clips"][0].__setitem__("sound", "a/" * 100_000)), ("sound", "longer than")),
    "1e400 position": (_with(lambda d: None).replace('"position": 2.0', '"position": 1e400'), ("position", "finite")),
    "5000-digit integer": (_with(lambda d: None).replace('"position": 2.0', '"position": ' + "9" * 5000), ("number",)),
    "-1e308 gain": (_with(lambda d: d["tracks"][0]["clips"][0].__setitem__("gain_db", -1e308)), ("gain_db", "between")),
    "NaN": (_with(lambda d: None).replace('"gain_db": 0.0', '"gain_db": NaN'), ("NaN",)),
    "Infinity": (_with(lambda d: None).replace('"gain_db": 0.0', '"gain_db": -Infinity'), ("Infinity",)),
    "version 10**100": (_with(lambda d: d.__setitem__("version", 10**100)), ("newer",)),
    "tracks is a string": (_with(lambda d: d.__setitem__("tracks", "x" * 1000)), ("tracks: must be a list",)),
    "clip is a number": (_with(lambda d: d["tracks"][0].__setitem__("clips", [1])), ("clips[0]: must be an object",)),
    "missing format": (_with(lambda d: d.pop("format")), ("format: required key is missing",)),
    "missing clip start": (_with(lambda d: d["tracks"][0]["clips"][0].pop("source_start")), ("source_start: required key is missing",)),
    "top level list": ("[1, 2, 3]", ("top level must be a JSON object",)),
    "duplicate key": ('{"format": "foley-assistant-project", "format": "x"}', ("appears twice",)),
    "binary": (b"\x00\x01\x02\xff\xfe" * 100, ("not UTF-8",)),
    "truncated JSON": (_with(lambda d: None)[:57], ("not valid JSON",)),
    "NUL in a name": (_with(lambda d: d["tracks"][0].__setitem__("name", "a\x00b")), ("NUL",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_project_is_rejected_naming_the_problem(tmp_path: Path, case: str) -> None:
    text, fragments = CASES[case]
    _load_rejects(tmp_path, text, *fragments)


def test_media_paths_are_never_opened(tmp_path: Path) -> None:
    """A sound path naming a FIFO (or /dev/zero) would block or never end if the loader opened it."""
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    data = _valid()
    data["video"] = "/dev/zero"
    data["tracks"][0]["clips"][0]["sound"] = "pipe.wav"
    path = tmp_path / "p.foley.json"
    path.write_text(json.dumps(data))
    result: list = []
    loader = threading.Thread(target=lambda: result.append(load_project(path)), daemon=True)
    loader.start()
    loader.join(timeout=20)
    assert not loader.is_alive(), "loading the project opened a media path"
    doc = result[0]
    assert doc.find_clip("c1")[1].sound_path == fifo
    assert fifo in missing_media(doc) and Path("/dev/zero") in missing_media(doc)  # not regular files: not usable media


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    doc = Document()
    AddTrack("Foley").do(doc)
    for i in range(6):
        AddClip(doc.tracks[0].id, Clip(f"c{i}", Path(f"/sfx/s{i}.wav"), 0.1 * i, 1.0 + i, 2.0 * i, -1.5, f"clip {i}", "DOORS", 3.0 + i)).do(doc)
    path = tmp_path_factory.mktemp("hostile") / "good.foley.json"
    save_project(doc, path)
    return path.read_bytes()


@settings(max_examples=FUZZ_EXAMPLES * 5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_byte_damage_to_a_saved_project_loads_or_raises_project_error(saved: bytes, tmp_path: Path, data) -> None:
    raw = bytearray(saved)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(1, len(raw)))]
    path = tmp_path / "damaged.foley.json"
    path.write_bytes(bytes(raw))
    try:
        doc = load_project(path)
    except ProjectError as exc:
        assert str(path) in str(exc)
        return
    for _, clip in doc.clips():  # what loads obeys the document's rules
        assert 0 <= clip.source_start < clip.source_end and clip.position >= 0 and -96 <= clip.gain_db <= 24
