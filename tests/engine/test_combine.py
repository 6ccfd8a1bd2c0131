"""``foley-engine combine``: prepared datasets merged by link, each video keeping its split."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.cli import app, main
from engine.config import to_dict
from engine.data.cache import TMP_PREFIX, FeatureCache
from engine.data.combine import combine_datasets
from engine.errors import DatasetError
from tests.engine.training_data import FEATURES, write_class_cache


@pytest.fixture()
def two(tmp_path: Path) -> tuple[Path, Path]:
    a = write_class_cache(tmp_path / "a", {"train": (3, 4), "val": (1, 3), "test": (1, 2)}, seed=1, prefix="a-")
    b = write_class_cache(tmp_path / "b", {"train": (2, 5), "test": (1, 3)}, seed=2, prefix="b-")
    return a, b


def test_combined_rows_keep_their_split_and_read_the_same_arrays(two: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two
    report = combine_datasets([a, b], tmp_path / "ab")
    ca, cb, cab = FeatureCache(a), FeatureCache(b), FeatureCache(tmp_path / "ab")

    assert len(cab) == len(ca) + len(cb) == report.seconds == 12 + 3 + 2 + 10 + 3
    assert report.split_seconds == {"train": 22, "val": 3, "test": 5}
    assert report.split_videos == {"train": 5, "val": 1, "test": 2}
    for src in (ca, cb):
        for i in range(len(src)):
            j = int(np.flatnonzero((cab.video_ids == src.video_ids[i]) & (cab.seconds == src.seconds[i]))[0])
            assert cab.splits[j] == src.splits[i] and cab.labels[j] == src.labels[i]
            assert cab.levels[j] == pytest.approx(src.levels[i], rel=1e-5)
            np.testing.assert_array_equal(cab.frame(j), src.frame(i))
            np.testing.assert_array_equal(cab.mel(j), src.mel(i))
    meta = json.loads((tmp_path / "ab" / "dataset.json").read_text())
    assert [s["fingerprint"] for s in meta["combined_from"]] == [ca.fingerprint, cb.fingerprint]
    assert (tmp_path / "ab" / "shards" / "a-train000").is_symlink()  # linked, not copied


def test_mismatched_features_duplicate_ids_and_existing_output_are_refused(two: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two
    with pytest.raises(DatasetError, match="at least two"):
        combine_datasets([a], tmp_path / "x")
    with pytest.raises(DatasetError, match="given twice"):
        combine_datasets([a, a], tmp_path / "x")
    with pytest.raises(DatasetError, match="one of the sources"):
        combine_datasets([a, b], a)

    clash = write_class_cache(tmp_path / "clash", {"train": (1, 2)}, prefix="a-")  # id a-train000 again
    with pytest.raises(DatasetError, match="a-train000.*in both"):
        combine_datasets([a, clash], tmp_path / "x")

    other = write_class_cache(tmp_path / "other", {"train": (1, 2)}, prefix="o-")
    meta = json.loads((other / "dataset.json").read_text())
    meta["features"] = to_dict(replace(FEATURES, n_mels=32))
    (other / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="n_mels 64 vs 32"):
        combine_datasets([a, other], tmp_path / "x")
    assert not (tmp_path / "x" / "dataset.json").exists()

    combine_datasets([a, b], tmp_path / "ab")
    with pytest.raises(DatasetError, match="already holds a dataset"):
        combine_datasets([b, a], tmp_path / "ab")


def test_overwrite_replaces_links_without_touching_the_sources(two: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two
    c = write_class_cache(tmp_path / "c", {"train": (1, 2)}, prefix="c-")
    combine_datasets([a, b], tmp_path / "out")
    combine_datasets([a, c], tmp_path / "out", overwrite=True)

    out = FeatureCache(tmp_path / "out")
    assert set(out.video_ids) == set(FeatureCache(a).video_ids) | {"c-train000"}
    assert not (tmp_path / "out" / "shards" / "b-train000").exists()
    assert (b / "shards" / "b-train000" / "frames.npy").exists()  # the old link went, its target stayed
    assert len(FeatureCache(b)) == 13
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(TMP_PREFIX)]


def test_cli_prints_the_summary_and_one_error_line(two: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two
    ok = CliRunner().invoke(app, ["combine", str(a), str(b), "--out", str(tmp_path / "ab")])
    assert ok.exit_code == 0, ok.output
    assert "combined 2 datasets" in ok.output and "train 5 videos / 22 s" in ok.output

    monkeypatch.setattr(sys, "argv", ["foley-engine", "combine", str(a), str(b), "--out", str(tmp_path / "ab")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already holds a dataset" in err and "--overwrite" in err and "Traceback" not in err
