"""SIGKILL ``foley-engine train`` at seeded random points; ``--resume`` continues from the last
checkpoint with identical state, so the final weights, optimizer, metrics and best model equal an
uninterrupted run's (bit for bit, on CPU)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.models import AVModel
from engine.training.metrics_log import read_metrics
from engine.training.train_state import load_state
from tests.engine.training_data import write_class_cache

from .conftest import ENGINE, FAULT_POINTS, child_env, kill_restart_campaign, progress_trigger, record, run_to_end, tail

PRESET = "m5"  # the paper's best: attention encoders, InfoNCE, a calibrated threshold
EPOCHS = 3
STEPS_PER_EPOCH = 4  # 8 training videos x 4 s, contrastive batches of 8 (one row per video)

# A new run at test size (tiny channels, 32x32) cannot be described with CLI options: it is started
# here for one step, and every later run -- reference and killed alike -- is the real CLI's --resume.
BOOTSTRAP = """
import sys
from pathlib import Path
from engine.training import RunOptions, train
from tests.engine.training_data import tiny_cfg
train(tiny_cfg(sys.argv[3], epochs=int(sys.argv[4])), Path(sys.argv[1]), Path(sys.argv[2]),
      RunOptions(preset=sys.argv[3], device="cpu", progress=False, max_steps=1, checkpoint_every_steps=1, checkpoint_every_minutes=0))
"""


class StepReader:
    """``global_step`` of ``RUN/last.pt``, re-read only when the file was replaced."""

    def __init__(self, run: Path) -> None:
        self.path = run / "last.pt"
        self.stamp: tuple[int, int] | None = None
        self.step = 0

    def __call__(self) -> int:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return 0
        if (st.st_ino, st.st_mtime_ns) != self.stamp:
            self.stamp = (st.st_ino, st.st_mtime_ns)
            self.step = int(load_state(self.path)["global_step"])
        return self.step


def _rows(run: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in read_metrics(run / "metrics.csv")]


def _history(state: dict) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in state["history"]]


def assert_same_run(run: Path, ref: Path) -> None:
    a, b = load_state(run / "last.pt"), load_state(ref / "last.pt")
    assert a["finished"] and b["finished"] and a["stop_reason"] == b["stop_reason"] == "completed"
    for key in ("epoch", "global_step", "best_metric", "bad_epochs", "step_in_epoch"):
        assert a[key] == b[key], key
    assert a["model"].keys() == b["model"].keys()
    for k in b["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    assert a["scheduler"] == b["scheduler"]
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert _history(a) == _history(b)
    assert _rows(run) == _rows(ref) and len(_rows(ref)) == EPOCHS
    assert AVModel.load(run / "best.pt").model_id == AVModel.load(ref / "best.pt").model_id
    assert not [p.name for p in run.iterdir() if ".tmp" in p.name]


@pytest.fixture(scope="module")
def train_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_class_cache(tmp_path_factory.mktemp("kill-train") / "data", {"train": (8, 4), "val": (4, 3), "test": (4, 3)})


def test_sigkill_train_cli_at_random_points_resumes_to_the_uninterrupted_run(
    train_data: Path, fault_rng: np.random.Generator, tmp_path: Path
) -> None:
    boot = tmp_path / "boot"
    rc = run_to_end([sys.executable, "-c", BOOTSTRAP, str(train_data), str(boot), PRESET, str(EPOCHS)], tmp_path / "boot.log")
    assert rc == 0 and load_state(boot / "last.pt")["global_step"] == 1, tail(tmp_path / "boot.log")

    def command(run: Path) -> list[str]:
        return [*ENGINE, "train", "--data", str(train_data), "--out", str(run), "--resume", "--device", "cpu", "--no-progress",
                "--checkpoint-every-steps", "1", "--checkpoint-every-minutes", "0"]

    def fresh(name: str) -> Path:
        run = tmp_path / name
        shutil.copytree(boot, run)
        return run

    ref = fresh("reference")
    assert run_to_end(command(ref), tmp_path / "reference.log") == 0, tail(tmp_path / "reference.log")
    total = EPOCHS * STEPS_PER_EPOCH
    assert load_state(ref / "last.pt")["global_step"] == total

    readers: dict[Path, StepReader] = {}
    # all checkpoints: during the last validation, best.pt and the final save
    trigger = progress_trigger(lambda run: readers.setdefault(run, StepReader(run))(), total, short=0.5, long=5.0)

    stats = kill_restart_campaign(FAULT_POINTS, fault_rng, lambda ep: fresh(f"run{ep}"), command, trigger,
                                  lambda run: assert_same_run(run, ref), tmp_path / "logs", env=child_env())
    record("train", stats)
    assert stats.kills == FAULT_POINTS, str(stats)


def test_half_written_checkpoints_of_a_killed_run_are_removed_on_resume(train_data: Path, tmp_path: Path) -> None:
    """A kill inside ``torch.save`` leaves ``.last.pt.<random>.tmp.pt`` (checkpoint-sized): the next run removes it."""
    from engine.training import RunOptions, train
    from tests.engine.training_data import tiny_cfg

    run = tmp_path / "run"
    opts = RunOptions(preset="m1", device="cpu", progress=False, max_steps=1)
    train(tiny_cfg("m1", epochs=1), train_data, run, opts)
    left = [run / ".last.pt.k1ll3d.tmp.pt", run / ".best.pt.x7y8z9.tmp.pt", run / ".last.pt.0ld3r.tmp"]  # the last: older versions' name
    for p in left:
        p.write_bytes(b"\0" * 4096)
    train(tiny_cfg("m1", epochs=1), train_data, run, RunOptions(**{**opts.__dict__, "resume": True, "max_steps": 2}))
    assert not any(p.exists() for p in left) and load_state(run / "last.pt")["global_step"] == 2
