"""Labels: VGG-Sound CSV parsing (bad rows reported by line) and the folder-per-label layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.labels import folder_label, read_vggsound_csv, vggsound_stem
from engine.errors import DatasetError


def test_vggsound_rows_and_file_names(tmp_path: Path) -> None:
    p = tmp_path / "vggsound.csv"
    p.write_text(
        '---g-f_I2yQ,1,people marching,test\n'
        'a_b-c,30,"dog barking, growling",train\n'
        "\n"
        "xyz,0,rain,Train\n"
    )
    table = read_vggsound_csv(p)
    assert table.problems == []
    assert vggsound_stem("a_b-c", 30) == "a_b-c_000030"
    row = table.lookup("a_b-c_000030")
    assert row is not None and (row.label, row.split, row.line) == ("dog barking, growling", "train", 2)
    assert table.lookup("a_b-c_30") == row  # unpadded names work too
    assert table.lookup("---g-f_I2yQ_000001").split == "test"
    assert table.lookup("xyz_000000").split == "train"
    assert table.lookup("xyz_000001") is None and table.lookup("noseconds") is None


def test_bad_rows_are_reported_with_line_numbers(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text(
        "youtube_id,start_seconds,label,split\n"  # header: tolerated
        "good,10,cat,train\n"
        "short,10\n"
        "badstart,ten,cat,train\n"
        "neg,-5,cat,train\n"
        ",10,cat,train\n"
        "nolabel,10,,test\n"
        "badsplit,10,cat,holdout\n"
        "good,10,dog,train\n"
        "nosplit,20,owl\n"
    )
    table = read_vggsound_csv(p)
    assert sorted(table.clips) == [("good", 10), ("nosplit", 20)]
    assert table.lookup("nosplit_000020").split == ""
    joined = "\n".join(table.problems)
    for line, what in [(3, "2 fields"), (4, "'ten'"), (5, "'-5'"), (6, "empty youtube_id"), (7, "empty label"), (8, "'holdout'"), (9, "already labelled 'cat' on line 2")]:
        assert f"line {line}: " in joined and what in joined, (line, what)
    assert len(table.problems) == 7


def test_unusable_csv_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        read_vggsound_csv(tmp_path / "missing.csv")
    p = tmp_path / "bad.csv"
    p.write_text("a,b,c,d,e\nx\n")
    with pytest.raises(DatasetError, match="no usable rows.*line 1"):
        read_vggsound_csv(p)
    p.write_bytes(b"\xff\xfe\x00garbage\x81")
    with pytest.raises(DatasetError, match="unreadable"):
        read_vggsound_csv(p)


def test_folder_per_label() -> None:
    assert folder_label(Path("dog/clip.mp4")) == "dog"
    assert folder_label(Path("dog/2021/clip.mp4")) == "dog"
    assert folder_label(Path("clip.mp4")) == ""
