"""Scanning the awkward library and reading the metadata sound designers rely on."""

from __future__ import annotations

import os
from pathlib import Path

from engine.library.metadata import bext_description, ixml_fields, read_metadata, riff_chunks, ucs_category
from engine.library.scan import scan
from engine.library.segments import segment_starts

from .conftest import GOOD, N_GOOD, RUNNING_AS_ROOT


def test_scan_finds_sounds_skips_special_files_and_survives_symlink_loop(library_template: Path) -> None:
    found, skipped = scan([library_template])
    names = sorted(os.fsencode(f.path.name) for f in found)
    # every good file once (the loop would otherwise repeat the whole library), plus the corrupt ones by extension
    assert len(found) == N_GOOD + 2  # broken.wav and notes.wav are found by name and fail at decode
    assert len(set(names)) == len(names)
    assert b"caf\xe9.wav" in names
    assert "readme.txt" not in {f.path.name for f in found}
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["pipe.wav"] == "not a regular file"
    assert reasons["empty.flac"] == "empty file (0 bytes)"
    if not RUNNING_AS_ROOT:
        assert reasons["locked.wav"] == "permission denied"


def test_segments_hop_half_second_short_files_padded_long_files_capped() -> None:
    assert segment_starts(0.4).tolist() == [0.0]
    assert segment_starts(1.0).tolist() == [0.0]
    assert segment_starts(1.5).tolist() == [0.0, 0.5]
    assert segment_starts(4.0).tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert len(segment_starts(3600.0, max_seconds=600.0)) == 1199


def test_ucs_catid_from_file_name() -> None:
    assert ucs_category("DOORWood_Creak Open_JD_Lib") == ("DOORS", "WOOD", "Creak Open")
    assert ucs_category("AMBForst_Birds morning_XX") == ("AMBIENCE", "FORST", "Birds morning")
    assert ucs_category("circle_a") is None
    assert ucs_category("ZZZNope_thing") is None


def test_bwf_bext_and_ixml(library_template: Path) -> None:
    path = library_template / "bwf/take_12.wav"
    chunks = riff_chunks(path)
    assert bext_description(chunks["bext"]) == "Gunshot, pistol, close perspective"
    assert ixml_fields(chunks["iXML"])["SUBCATEGORY"] == "PISTOL"
    meta = read_metadata(path, library_template, 1.5, 48000, 1)
    assert (meta.category, meta.subcategory, meta.category_source) == ("WEAPONS", "PISTOL", "ixml")
    assert meta.name == "Pistol shot close"
    assert meta.description == "Gunshot, pistol, close perspective"


def test_ixml_with_entities_is_ignored() -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><BWFXML><NOTE>&a;</NOTE></BWFXML>'
    assert ixml_fields(evil) == {}


def test_tags_ucs_and_folder_categories(library_template: Path) -> None:
    tagged = read_metadata(library_template / "tagged/tagged.flac", library_template, 1.5, 48000, 1)
    assert (tagged.name, tagged.description, tagged.category, tagged.category_source) == ("Cloth rustle", "jacket sleeve rub", "FOLEY", "tag")
    ucs = read_metadata(library_template / "bar/DOORWood_Creak Open_JD_Lib.wav", library_template, 1.5, 48000, 1)
    assert (ucs.category, ucs.name, ucs.category_source) == ("DOORS", "Creak Open", "ucs")
    plain = read_metadata(library_template / "circle/circle_a.wav", library_template, 1.5, 48000, 1)
    assert (plain.category, plain.name, plain.category_source) == ("circle", "circle_a", "folder")
    assert GOOD["circle/circle_a.wav"] == plain.category


def test_id3_tags_of_an_mp3(tmp_path: Path) -> None:
    from fractions import Fraction

    import av
    import numpy as np

    path = tmp_path / "whoosh.mp3"
    with av.open(str(path), "w") as out:
        out.metadata.update(title="Whoosh fast", genre="WHOOSHES", comment="air swish")
        stream = out.add_stream("libmp3lame", rate=48000)
        stream.layout = "mono"
        wave = (0.3 * np.sin(np.arange(48000) / 10.0)).astype(np.float32)
        for j in range(0, 48000, 1152):
            frame = av.AudioFrame.from_ndarray(wave[None, j : j + 1152], format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48000, j, Fraction(1, 48000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    meta = read_metadata(path, tmp_path, 1.0, 48000, 1)
    assert (meta.name, meta.category, meta.description, meta.category_source) == ("Whoosh fast", "WHOOSHES", "air swish", "tag")
