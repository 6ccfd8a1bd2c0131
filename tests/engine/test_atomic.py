"""engine.atomic: a failed writer leaves the old file (or folder), no temp is left behind, stale temps are swept."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from engine.atomic import (
    atomic_dir,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    describe_os_error,
    remove_stale_temps,
    replace_dir,
)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert _names(tmp_path) == ["a.json"]


def test_old_file_survives_a_writer_that_raises(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["a.json"]


def test_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(FileNotFoundError):
        with atomic_path(target):
            pass
    assert target.read_text() == "old"


def test_temp_keeps_the_suffix_so_numpy_writes_where_it_is_told(tmp_path: Path) -> None:
    target = tmp_path / "rows.npy"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".npy" and tmp.name.startswith(".rows.npy.")
        np.save(tmp, np.arange(3))
    assert np.load(target).tolist() == [0, 1, 2]
    assert _names(tmp_path) == ["rows.npy"]


def test_a_folder_target_raises(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write_text(tmp_path / "d", "x")
    assert (tmp_path / "d").is_dir()
    assert "folder" in describe_os_error(IsADirectoryError(21, "is a folder"))


def test_stale_temps_are_swept_fresh_ones_kept(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    stale, fresh = tmp_path / ".index.json.0badc0de.tmp.json", tmp_path / ".index.json.1234abcd.tmp.json"
    stale_dir = tmp_path / ".index.json.deadbeef.tmp.json.old"
    other = tmp_path / ".index.json.txt.0badc0de.tmp.txt"  # another file's temp: not ours to delete
    for p in (stale, fresh, other):
        p.write_text("x")
    stale_dir.mkdir()
    (stale_dir / "inner").write_text("x")
    old = time.time() - 7200
    for p in (stale, stale_dir, other):
        os.utime(p, (old, old))
    assert remove_stale_temps(target, older_than_s=3600) == 2
    assert _names(tmp_path) == sorted([fresh.name, other.name])


def test_atomic_dir_replaces_a_folder_whole(tmp_path: Path) -> None:
    target = tmp_path / "index"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_dir(target) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "new.txt").write_text("new")
    assert _names(target) == ["sub"] and (target / "sub" / "new.txt").read_text() == "new"
    assert _names(tmp_path) == ["index"]


def test_atomic_dir_keeps_the_old_folder_when_the_writer_raises(tmp_path: Path) -> None:
    target = tmp_path / "index"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(ValueError):
        with atomic_dir(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise ValueError("bad")
    assert _names(target) == ["old.txt"]
    assert _names(tmp_path) == ["index"]


def test_atomic_dir_refuses_a_file_target(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError):
        with atomic_dir(tmp_path / "f"):
            pass
    assert (tmp_path / "f").read_text() == "x" and _names(tmp_path) == ["f"]


def test_replace_dir_without_overwrite_leaves_a_full_target(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (dst / "keep").write_text("x")
    with pytest.raises(OSError):
        replace_dir(src, dst, overwrite=False)
    assert _names(dst) == ["keep"] and src.is_dir()


def test_replace_dir_uses_the_given_discard_and_swaps(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "new").write_text("n")
    dst.mkdir()
    (dst / "old").write_text("o")
    discarded: list[str] = []

    def discard(p: Path) -> None:
        discarded.append(sorted(q.name for q in p.iterdir())[0])
        (p / "old").unlink()
        p.rmdir()

    replace_dir(src, dst, discard=discard)
    assert discarded == ["old"] and _names(dst) == ["new"] and _names(tmp_path) == ["dst"]


def test_replace_dir_puts_the_old_folder_back_when_the_rename_fails(tmp_path: Path, monkeypatch) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (dst / "old").write_text("o")
    real = os.replace

    def failing(a, b):
        if Path(a) == src:
            raise OSError(28, "No space left on device")
        return real(a, b)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError):
        replace_dir(src, dst)
    assert _names(dst) == ["old"] and src.is_dir()
