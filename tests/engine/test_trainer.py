"""The trainer on tiny generated data: every preset trains, a model learns, resume is exact, DDP trains."""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from engine.errors import CheckpointError, ConfigError, DatasetError
from engine.evaluation import evaluate
from engine.models import AVModel
from engine.presets import list_presets
from engine.training import RunOptions, train
from engine.training.metrics_log import FIELDS, read_metrics
from engine.training.train_state import RunProgress, load_state
from tests.engine.training_data import FEATURES, tiny_cfg, write_class_cache

CPU = dict(device="cpu", progress=False)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: on a shared 2-core machine two OpenMP threads per process thrash."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_class_cache(tmp_path_factory.mktemp("train") / "data")


@pytest.fixture(scope="module")
def m5_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A contrastive run of one short epoch (its best.pt is the starting point of 'ft')."""
    out = tmp_path_factory.mktemp("m5run")
    train(tiny_cfg("m5", epochs=1), data, out, RunOptions(preset="m5", **CPU))
    return out


@pytest.fixture(scope="module")
def m5_model(m5_run: Path) -> Path:
    return m5_run / "best.pt"


REFERENCE_EPOCHS = 3


@pytest.fixture(scope="module")
def reference(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``reference(preset)``: the run folder of one uninterrupted run (built once per preset; do not write to it).

    The resume tests must reproduce it. Checkpoint settings do not change a run's numbers, so it
    is built with the defaults whatever the test it is compared with uses.
    """
    runs: dict[str, Path] = {}

    def get(preset: str) -> Path:
        if preset not in runs:
            out = tmp_path_factory.mktemp(f"{preset}-reference")
            train(tiny_cfg(preset, epochs=REFERENCE_EPOCHS), data, out, RunOptions(preset=preset, **CPU))
            runs[preset] = out
        return runs[preset]

    return get


def _initial_state(cfg) -> dict[str, torch.Tensor]:
    torch.manual_seed(cfg.seed)
    return AVModel(cfg.model, FEATURES).state_dict()


def _rows(run: Path) -> list[dict[str, str]]:
    """metrics.csv rows without the wall-clock column."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in read_metrics(run / "metrics.csv")]


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_trains_a_few_steps(preset: str, data: Path, m5_model: Path, tmp_path: Path) -> None:
    cfg = tiny_cfg(preset, init_from=str(m5_model) if preset == "ft" else None)
    losses: list[float] = []
    res = train(cfg, data, tmp_path, RunOptions(preset=preset, max_steps=3, **CPU), on_step=lambda s, loss: losses.append(loss))
    assert res.stop_reason == "max_steps" and res.global_step == 3
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    state = load_state(tmp_path / "last.pt")
    assert state["global_step"] == 3 and state["step_in_epoch"] == 3 and state["epoch"] == 0
    init = _initial_state(cfg)
    changed = [k for k, v in state["model"].items() if v.is_floating_point() and not torch.equal(v, init[k])]
    assert any(k.startswith("vision.") for k in changed) and any(k.startswith("audio.") for k in changed)


def test_ft_starts_from_the_contrastive_encoders(data: Path, m5_model: Path, tmp_path: Path) -> None:
    src = AVModel.load(m5_model)
    cfg = tiny_cfg("ft", init_from=str(m5_model), lr=0.0, weight_decay=0.0)
    train(cfg, data, tmp_path, RunOptions(preset="ft", max_steps=1, **CPU))
    state = load_state(tmp_path / "last.pt")["model"]
    for k, v in src.vision.state_dict().items():
        if v.is_floating_point() and "running" not in k:  # BN running stats move in train mode even at lr 0
            assert torch.equal(state[f"vision.{k}"], v), k


def test_attention_model_learns_the_generated_set(data: Path, tmp_path: Path) -> None:
    cfg = tiny_cfg("m5", lr=0.05, epochs=8, batch_size=12)  # val recall jumps at epoch 5; by 8 the test set is learnt
    res = train(cfg, data, tmp_path, RunOptions(preset="m5", **CPU))
    assert res.stop_reason == "completed" and res.best_path == tmp_path / "best.pt"
    rows = read_metrics(tmp_path / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 9))
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    model = AVModel.load(res.best_path)
    assert model.extra["preset"] == "m5" and model.extra["val_metric"] == pytest.approx(res.best_metric)
    ev = evaluate(res.best_path, data, n_pairs=3000, per_video=2)
    assert ev["correlation"]["accuracy"] >= 0.95 and ev["correlation"]["auc"] >= 0.95
    rec = ev["recommendation"]
    chance = rec["chance"]["sample"]["topk"]["1"]
    assert chance == pytest.approx(1 / 12)
    assert rec["model"]["sample"]["topk"]["1"] >= 3 * chance
    assert rec["model"]["category"]["topk"]["1"] >= 0.9


@pytest.mark.parametrize("preset", ["m1", "m5"])  # baseline and attention encoders, BCE and InfoNCE
def test_resume_after_a_kill_reproduces_the_run(preset: str, data: Path, reference: Callable[[str], Path], tmp_path: Path) -> None:
    cfg = tiny_cfg(preset, epochs=REFERENCE_EPOCHS)
    opts = RunOptions(preset=preset, checkpoint_every_steps=4, checkpoint_every_minutes=0, **CPU)
    full = reference(preset)

    killed = tmp_path / "killed"

    def die(step: int, loss: float) -> None:
        if step == 7:  # between the checkpoints at steps 4 and 8: steps 5..7 are lost and redone
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, data, killed, opts, on_step=die)
    assert load_state(killed / "last.pt")["global_step"] == 4
    redone: list[int] = []
    res = train(cfg, data, killed, replace(opts, resume=True), on_step=lambda s, loss: redone.append(s))
    assert redone[0] == 5 and res.stop_reason == "completed"

    assert _rows(killed) == _rows(full) and len(_rows(full)) == 3
    a, b = load_state(full / "last.pt"), load_state(killed / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert AVModel.load(full / "best.pt").model_id == AVModel.load(killed / "best.pt").model_id


def test_max_steps_then_resume_equals_one_run(data: Path, reference: Callable[[str], Path], tmp_path: Path) -> None:
    cfg = tiny_cfg("m1", epochs=2)
    full = _rows(reference("m1"))  # the same run, 3 epochs
    part = tmp_path / "part"
    first = train(cfg, data, part, RunOptions(preset="m1", max_steps=14, **CPU))  # mid-epoch 2
    assert first.stop_reason == "max_steps" and first.epochs_done == 1
    train(cfg, data, part, RunOptions(preset="m1", resume=True, **CPU))
    assert _rows(part) == full[:2]
    again = train(cfg, data, part, RunOptions(preset="m1", resume=True, **CPU))
    assert again.stop_reason == "already_finished"
    longer = train(replace(cfg, epochs=3), data, part, RunOptions(preset="m1", resume=True, **CPU))  # --epochs 3 --resume
    assert longer.stop_reason == "completed" and longer.epochs_done == 3
    assert _rows(part) == full


# The flat keys of every training state written so far: a last.pt of an older version resumes only
# while the trainer writes and reads exactly these (RunProgress is converted at the file boundary).
STATE_KEYS = {
    "format", "version", "epoch", "step_in_epoch", "global_step", "loss_sum", "loss_count", "best_metric", "bad_epochs",
    "history", "model", "optimizer", "scheduler", "scaler", "rng", "train_cfg", "features", "preset", "variant",
    "dataset", "dataset_fingerprint", "finished", "stop_reason", "world_size",
}


def test_the_training_state_keeps_the_file_layout_of_older_versions(m5_run: Path) -> None:
    state = load_state(m5_run / "last.pt")
    assert set(state) == STATE_KEYS
    progress = RunProgress.from_state(state)
    assert progress.epoch == 1 and progress.global_step == state["global_step"] > 0 and len(progress.history) == 1
    assert progress.to_state() == {k: state[k] for k in progress.to_state()}
    old = {"epoch": 2, "step_in_epoch": 3, "global_step": 27, "loss_sum": 1.5, "loss_count": 3, "best_metric": 0.25, "bad_epochs": 1, "history": [{"epoch": 1}, {"epoch": 2}]}
    assert RunProgress.from_state({**old, "model": {}}).to_state() == old
    with pytest.raises(CheckpointError, match="lacks bad_epochs, history"):
        RunProgress.from_state({k: v for k, v in old.items() if k not in ("bad_epochs", "history")})


def test_metrics_csv_layout(m5_run: Path) -> None:
    rows = read_metrics(m5_run / "metrics.csv")
    assert tuple(rows[0]) == FIELDS and len(rows) == 1
    r = rows[0]
    assert int(r["step"]) > 0 and float(r["lr"]) == pytest.approx(0.01)
    assert 0.0 <= float(r["val_corr_acc"]) <= 1.0 and float(r["threshold"]) > 0  # contrastive: calibrated
    assert float(r["val_metric"]) == pytest.approx(np.mean([float(r[f"val_recall{k}"]) for k in (1, 5, 10)]))
    model = AVModel.load(m5_run / "best.pt")
    assert float(model.threshold) == pytest.approx(float(r["threshold"]))


def test_clear_errors(data: Path, tmp_path: Path) -> None:
    cfg = tiny_cfg("m1", epochs=1)
    with pytest.raises(DatasetError, match="not a prepared dataset"):
        train(cfg, tmp_path / "nothing", tmp_path / "r0", RunOptions(**CPU))
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(cfg, data, tmp_path / "r1", RunOptions(resume=True, **CPU))
    train(cfg, data, tmp_path / "r1", RunOptions(max_steps=1, **CPU))
    with pytest.raises(ConfigError, match="already holds a training run"):
        train(cfg, data, tmp_path / "r1", RunOptions(**CPU))
    with pytest.raises(ConfigError, match="changed: lr"):
        train(replace(cfg, lr=0.5), data, tmp_path / "r1", RunOptions(resume=True, **CPU))
    other = write_class_cache(tmp_path / "other", {"train": (6, 4), "val": (6, 2), "test": (6, 2)}, seed=3)
    with pytest.raises(DatasetError, match="same prepared dataset"):
        train(cfg, other, tmp_path / "r1", RunOptions(resume=True, **CPU))
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable training state"):
        train(cfg, data, tmp_path / "r2", RunOptions(resume=True, **CPU))
    with pytest.raises(ConfigError, match="--init-from"):
        train(tiny_cfg("ft"), data, tmp_path / "r3", RunOptions(preset="ft", **CPU))
    no_val = write_class_cache(tmp_path / "noval", {"train": (6, 4), "test": (6, 2)})
    with pytest.raises(DatasetError, match="no validation seconds"):
        train(cfg, no_val, tmp_path / "r5", RunOptions(**CPU))


def test_ft_rejects_a_bce_model(data: Path, reference: Callable[[str], Path], tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="contrastive model"):
        train(tiny_cfg("ft", init_from=str(reference("m1") / "best.pt")), data, tmp_path / "ft", RunOptions(preset="ft", **CPU))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, data: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from engine.training.ddp import shutdown_distributed

    try:
        steps: list[int] = []
        train(tiny_cfg("m3", epochs=2), Path(data), Path(out), RunOptions(preset="m3", **CPU), on_step=lambda s, loss: steps.append(s))
        torch.save(torch.tensor(steps), Path(out) / f"steps{rank}.pt")
    finally:
        shutdown_distributed()


def test_two_process_gloo_ddp_trains(data: Path, tmp_path: Path) -> None:
    torch.multiprocessing.spawn(_ddp_worker, args=(2, _free_port(), str(data), str(tmp_path)), nprocs=2, join=True)
    rows = read_metrics(tmp_path / "metrics.csv")
    assert len(rows) == 2 and all(math.isfinite(float(r["train_loss"])) for r in rows)
    # 96 training seconds -> 96 pairs per epoch, 48 per rank, batches of 8 -> 6 steps per epoch
    s0, s1 = (torch.load(tmp_path / f"steps{r}.pt", weights_only=True).tolist() for r in (0, 1))
    assert s0 == s1 == list(range(1, 13))
    assert load_state(tmp_path / "last.pt")["global_step"] == 12
    assert (tmp_path / "best.pt").exists()


def test_cli_train_resume_and_errors(data: Path, tmp_path: Path) -> None:
    from engine.cli import app

    runner = CliRunner()
    base = ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress"]
    r = runner.invoke(app, [*base, "--preset", "m1", "--variant", "compact", "--batch-size", "4", "--lr", "0.02", "--max-steps", "1"])
    assert r.exit_code == 0, r.output
    assert "max_steps: 0 epochs, 1 steps" in r.output
    state = load_state(tmp_path / "run" / "last.pt")
    assert state["preset"] == "m1" and state["variant"] == "compact" and state["train_cfg"]["lr"] == 0.02
    assert state["train_cfg"]["model"]["image_size"] == 112  # the compact variant
    r = runner.invoke(app, [*base, "--resume", "--max-steps", "2"])  # settings come from the run
    assert r.exit_code == 0, r.output
    assert load_state(tmp_path / "run" / "last.pt")["global_step"] == 2
    r = runner.invoke(app, [*base, "--resume", "--preset", "m5"])
    assert isinstance(r.exception, ConfigError) and "m1" in str(r.exception)
    r = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "new")])
    assert isinstance(r.exception, ConfigError) and "--preset is required" in str(r.exception)


def test_videos_to_prepared_dataset_to_trained_and_evaluated_model(tmp_path: Path) -> None:
    """The whole path a user runs: generated videos -> prepare -> train -> evaluate."""
    from engine.data.prepare import prepare_dataset
    from engine.data.synthetic import random_events, write_video

    videos = tmp_path / "videos"
    videos.mkdir()
    for v in range(4):
        write_video(videos / f"clip{v}.mp4", random_events(8, seed=v), size=(96, 72), seed=v)
    report = prepare_dataset(videos, tmp_path / "data", workers=0, split_ratios=(0.5, 0.25, 0.25), features=FEATURES, progress=False)
    assert report.ok and report.seconds == 32
    cfg = tiny_cfg("m1", epochs=2, negatives="gameplay", min_gap_s=2)
    res = train(cfg, tmp_path / "data", tmp_path / "run", RunOptions(preset="m1", **CPU))
    assert res.epochs_done == 2 and res.best_path is not None
    ev = evaluate(res.best_path, tmp_path / "data", n_pairs=16, per_video=4)
    assert ev["correlation"]["n_pairs"] == 16 and ev["correlation"]["negatives"] == "gameplay"
    assert ev["recommendation"]["list_size"] == 4 * report.split_videos["test"]


def test_sigint_checkpoints_the_current_step_and_resume_continues(data: Path, reference: Callable[[str], Path], tmp_path: Path) -> None:
    import signal

    cfg = tiny_cfg("m1", epochs=REFERENCE_EPOCHS)
    opts = RunOptions(preset="m1", checkpoint_every_steps=0, checkpoint_every_minutes=0, **CPU)

    def ctrl_c(step: int, loss: float) -> None:
        if step == 5:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    res = train(cfg, data, tmp_path / "int", opts, on_step=ctrl_c)
    assert res.stop_reason == "interrupted" and res.global_step == 5
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored
    assert load_state(tmp_path / "int" / "last.pt")["global_step"] == 5  # nothing lost
    train(cfg, data, tmp_path / "int", replace(opts, resume=True))
    assert _rows(tmp_path / "int") == _rows(reference("m1"))
