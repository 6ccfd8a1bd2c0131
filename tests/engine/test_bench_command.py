"""``foley-engine bench`` at a tiny size: every figure measured (finite), the table lists every target, JSON keys."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.bench.report import table
from engine.bench.targets import KEYS, TARGETS, Target
from engine.cli import app


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from engine.models import AVModel
    from engine.presets import get_preset

    torch.manual_seed(0)
    cfg = dataclasses.replace(get_preset("m5", "compact"), vision_channels=(4, 8, 8, 16), audio_channels=(4, 8, 8, 16), image_size=32)
    path = tmp_path_factory.mktemp("bench-model") / "tiny.pt"
    AVModel(cfg).eval().save(path)
    return path


@pytest.fixture(scope="module")
def tiny_train_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.data.synthetic import write_feature_cache

    return write_feature_cache(tmp_path_factory.mktemp("bench-train") / "data", n_videos=4, seconds=6, silent_ratio=0.0)


def test_bench_quick_tiny_measures_every_target(tiny_model_file: Path, tiny_train_data: Path, sound_library: list[Path], event_video,
                                                tmp_path: Path) -> None:
    root = Path(os.path.commonpath([str(p) for p in sound_library]))
    out = tmp_path / "bench.json"
    args = ["bench", "--quick", "--json", "--model", str(tiny_model_file), "--work", str(tmp_path / "work"), "--library", str(root),
            "--video", str(event_video.path), "--segments", "400", "--repeats", "3", "--scrubs", "2", "--train-data", str(tiny_train_data),
            "--out", str(out)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    res = json.loads(result.output)
    assert res["errors"] == {}
    for key in KEYS:
        assert isinstance(res[key], (int, float)) and math.isfinite(res[key]), (key, res[key])
        assert res["pass"][key] in (True, False)
    assert res["segments"] == 400
    assert 0.0 <= res["hnsw_recall10"] <= 1.0
    assert res["details"]["hnsw"]["segments"] == 400
    assert res["details"]["indexing"]["files"] == len(sound_library)
    assert res["details"]["app"]["launch"]["launch_to_first_s"] > 0
    assert json.loads(out.read_text())["segments"] == 400  # --out holds the same results
    text = table(res)
    for t in TARGETS:
        assert f"`{t.key}`" in text and t.text in text


def test_target_pass_fail_and_table_marks_missing_figures() -> None:
    lower = Target("x_ms", "x", 30.0, False, " ms")
    higher = Target("y", "y", 5.0, True, "x")
    assert lower.passes(29.9) and not lower.passes(30.1)
    assert higher.passes(5.0) and not higher.passes(4.9)
    assert lower.passes(float("nan")) is None and higher.passes(None) is None
    text = table({"segments": 10, "errors": {"hnsw": "boom"}})
    assert text.count("| n/a |") >= len(TARGETS) and "error in hnsw: boom" in text


def test_bench_rejects_a_tiny_segment_count() -> None:
    result = CliRunner().invoke(app, ["bench", "--segments", "5"])
    assert result.exit_code != 0
    assert "--segments must be at least 100" in str(result.exception) + result.output
