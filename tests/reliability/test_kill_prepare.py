"""SIGKILL ``foley-engine prepare`` (and its decoder process) at seeded random points; the restart
ends with the same manifest, the same arrays and the same dataset.json as an uninterrupted run."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from engine.data import synthetic
from engine.data.cache import TMP_PREFIX, FeatureCache
from engine.data.prepare import prepare_dataset

from .conftest import (
    ENGINE,
    FAULT_POINTS,
    kill_parent_with_live_workers,
    kill_restart_campaign,
    progress_trigger,
    record,
)

N_VIDEOS = 6


def write_kill_corpus(root: Path) -> Path:
    """Six short real videos (3 s, events every second) and two files prepare must skip."""
    root.mkdir(parents=True)
    for i in range(N_VIDEOS):
        synthetic.write_video(root / f"v{i}.mp4", synthetic.random_events(3, seed=i), size=(96, 64), seed=i)
    (root / "broken.mp4").write_bytes(b"not a video " * 40)
    synthetic.write_video(root / "mute.mp4", ["circle", "bar"], size=(96, 64), audio=False, seed=9)
    return root


def complete_shards(out: Path) -> int:
    folder = out / "shards"
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.glob("*/meta.json") if not p.parent.name.startswith(TMP_PREFIX))


def assert_same_dataset(out: Path, ref: Path) -> None:
    assert (out / "manifest.csv").read_bytes() == (ref / "manifest.csv").read_bytes()
    assert json.loads((out / "dataset.json").read_text()) == json.loads((ref / "dataset.json").read_text())
    a, b = FeatureCache(out), FeatureCache(ref)
    idx = np.arange(len(b))
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.frames(idx), b.frames(idx))
    np.testing.assert_array_equal(a.mels(idx), b.mels(idx))
    np.testing.assert_array_equal(a.levels, b.levels)
    leftovers = [p.name for d in (out, out / "shards") for p in d.iterdir() if p.name.startswith(TMP_PREFIX)]
    assert leftovers == []
    assert sorted(p.name for p in (out / "shards").iterdir()) == sorted(p.name for p in (ref / "shards").iterdir())


@pytest.fixture(scope="module")
def kill_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kill_corpus(tmp_path_factory.mktemp("kill-corpus") / "videos")


def test_sigkill_prepare_cli_at_random_points_resumes_to_the_uninterrupted_dataset(
    kill_corpus: Path, fault_rng: np.random.Generator, tmp_path: Path
) -> None:
    ref = tmp_path / "reference"
    report = prepare_dataset(kill_corpus, ref, workers=0, progress=False)
    assert report.videos == N_VIDEOS and len(report.skipped) == 2
    runs = itertools.count()

    def command(out: Path) -> list[str]:
        workers = "2" if next(runs) % 3 == 0 else "0"  # every third run through the decoder pool (2, the default)
        return [*ENGINE, "prepare", str(kill_corpus), "--out", str(out), "--workers", workers, "--no-progress"]

    trigger = progress_trigger(complete_shards, N_VIDEOS, short=0.3, long=4.0)  # all shards: while the index is written

    stats = kill_restart_campaign(FAULT_POINTS, fault_rng, lambda ep: tmp_path / f"ds{ep}", command, trigger,
                                  lambda out: assert_same_dataset(out, ref), tmp_path / "logs",
                                  parent_only=True)  # kill -9 of the CLI alone: its workers must end within 5 s
    record("prepare", stats)
    assert stats.kills == FAULT_POINTS, str(stats)


def test_sigkill_of_prepare_alone_leaves_no_worker_process_behind(kill_corpus: Path, tmp_path: Path) -> None:
    """``kill -9`` of ``foley-engine prepare`` while its 2 decoder workers are busy: they exit with it
    (a surviving worker would go on writing shards under the restarted run)."""
    out = tmp_path / "ds"
    cmd = [*ENGINE, "prepare", str(kill_corpus), "--out", str(out), "--workers", "2", "--no-progress"]
    kill_parent_with_live_workers(cmd, tmp_path / "run.log", ready=lambda: complete_shards(out) >= 1)
