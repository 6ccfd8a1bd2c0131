"""The training loop (paper §5): SGD + Nesterov, LR decay on plateau, early stopping, exact resume, DDP.

One run lives in one folder::

    RUN/config.json   the TrainCfg, preset and dataset of the run (for people; the state holds the truth)
    RUN/last.pt       training state: model, optimizer, scheduler, scaler, counters, RNG states, history
    RUN/best.pt       the deployable model file (``AVModel.save``) of the best validation epoch
    RUN/metrics.csv   one row per epoch (+ TensorBoard events in RUN/tb if tensorboard is installed)

Data order is a pure function of (seed, epoch): BCE models draw ``balanced_pairs`` with a
per-epoch seed, contrastive models ``contrastive_batches``. A resumed run skips the batches
already done in the current epoch, so it continues exactly where the state was written.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.atomic import atomic_write_text
from engine.config import TrainCfg, from_dict, to_dict
from engine.data.cache import FeatureCache
from engine.errors import CheckpointError, ConfigError, DatasetError, EngineError
from engine.training import train_state
from engine.training.batches import epoch_batches, make_loader
from engine.training.ddp import DistInfo, all_mean, broadcast_floats, init_distributed
from engine.training.interrupts import StopRequest
from engine.training.metrics_log import MetricsLog
from engine.training.train_state import BEST, LAST, RunProgress
from engine.training.validation import Validator

log = logging.getLogger(__name__)

PAUSES = ("max_steps", "interrupted")  # stop reasons that leave the run resumable

# TrainCfg fields a resumed run may change: they do not alter the numbers of the steps already taken.
RESUMABLE_CHANGES = ("epochs", "num_workers", "early_stop_patience")


class TrainingError(EngineError):
    """Training cannot go on (e.g. the loss diverged)."""


@dataclass(frozen=True)
class RunOptions:
    """How to run (not what to learn): these do not change the numbers a run produces."""

    device: str = "auto"  # auto | cpu | cuda
    resume: bool = False
    max_steps: int | None = None  # stop (with a checkpoint) after this many optimisation steps in total
    checkpoint_every_steps: int = 200  # also write last.pt mid-epoch every N steps (0 = off) ...
    checkpoint_every_minutes: float = 10.0  # ... or every M minutes (0 = off), whichever comes first
    progress: bool = True
    preset: str | None = None
    variant: str = "full"


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best_path: Path | None
    last_path: Path
    epochs_done: int
    global_step: int
    best_metric: float
    stop_reason: str  # "completed" | "early_stop" | "max_steps" | "interrupted" | "already_finished"


def stored_config(run_dir: Path) -> tuple[TrainCfg, dict[str, Any]]:
    """The TrainCfg and run info (preset, variant, dataset) saved in ``RUN/last.pt``."""
    state = train_state.load_state(Path(run_dir) / LAST)
    return from_dict(TrainCfg, state["train_cfg"]), {k: state.get(k) for k in ("preset", "variant", "dataset", "dataset_fingerprint")}


def config_differences(a: TrainCfg, b: TrainCfg, ignore: tuple[str, ...] = RESUMABLE_CHANGES) -> list[str]:
    """Names of the TrainCfg fields (``model.x`` for model fields) that differ between a and b."""
    da, db = to_dict(a), to_dict(b)
    out = [f"model.{k}" for k in da["model"] if da["model"][k] != db["model"].get(k)]
    out += [k for k in da if k != "model" and k not in ignore and da[k] != db.get(k)]
    return out


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _LossStep(nn.Module):
    """``forward(frames, mels, labels) -> loss``: the unit DDP wraps (it syncs gradients of forward)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor, mels: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        ev, ea = self.model.encode(frames, mels)  # (B, D) each
        loss, _ = self.model.loss(ev, ea, labels)
        return loss


class Trainer:
    """Trains one model config on one prepared dataset into one run folder."""

    def __init__(
        self,
        cfg: TrainCfg,
        data: Path,
        out: Path,
        opts: RunOptions = RunOptions(),
        on_step: Callable[[int, float], None] | None = None,
    ) -> None:
        self.cfg, self.data, self.out, self.opts = cfg, Path(data), Path(out), opts
        self.on_step = on_step  # called after every optimisation step with (global_step, loss)

    # ---------------------------------------------------------------- set-up
    def _check_run_dir(self) -> dict[str, Any] | None:
        last = self.out / LAST
        if self.opts.resume:
            if not last.exists():
                raise CheckpointError(f"nothing to resume: {last} does not exist; start the run without --resume")
            return train_state.load_state(last)
        if last.exists():
            raise ConfigError(f"{self.out} already holds a training run; pass --resume to continue it, or choose another --out")
        return None

    def _check_resume(self, state: dict[str, Any], cache: FeatureCache) -> None:
        if state.get("dataset_fingerprint") != cache.fingerprint:
            raise DatasetError(
                f"{self.out / LAST} was trained on dataset {state.get('dataset_fingerprint')} ({state.get('dataset')}), "
                f"but {self.data} is {cache.fingerprint}; resume on the same prepared dataset or start a new --out"
            )
        stored = from_dict(TrainCfg, state["train_cfg"])
        diff = config_differences(stored, self.cfg)
        if diff:
            raise ConfigError(
                f"cannot resume {self.out} with a different config (changed: {', '.join(diff)}); "
                "resume with the run's settings (omit those options) or start a new --out"
            )
        if state.get("features") != to_dict(cache.features):
            raise CheckpointError(f"{self.out / LAST}: feature settings differ from the dataset's; start a new --out")

    def _build_model(self, cache: FeatureCache, device: torch.device, fresh: bool) -> nn.Module:
        from engine.models import AVModel

        model = AVModel(self.cfg.model, cache.features)
        if self.opts.preset == "ft" and not self.cfg.init_from:
            raise ConfigError("preset 'ft' fine-tunes a contrastively pre-trained model: pass --init-from RUN/best.pt of an m4..m7 run")
        if self.cfg.init_from and fresh:  # a resumed run takes all weights from its state
            self._init_encoders(model, Path(self.cfg.init_from), cache)
        return model.to(device)

    def _init_encoders(self, model: nn.Module, path: Path, cache: FeatureCache) -> None:
        from engine.models import AVModel

        src = AVModel.load(path)
        if self.opts.preset == "ft" and not src.cfg.contrastive:
            raise CheckpointError(f"{path} was trained with loss {src.cfg.loss!r}; 'ft' starts from a contrastive model (m4..m7)")
        keys = ("encoder", "vision_channels", "audio_channels", "image_size", "embed_dim", "fc_hidden")
        bad = [k for k in keys if getattr(src.cfg, k) != getattr(model.cfg, k)]
        if bad:
            raise CheckpointError(f"{path}: encoder settings differ from this run's ({', '.join(bad)}); use the same preset variant")
        if src.features != cache.features:
            raise CheckpointError(f"{path}: trained on different feature settings than {self.data}")
        model.vision.load_state_dict(src.vision.state_dict())
        model.audio.load_state_dict(src.audio.state_dict())
        log.info("encoders initialised from %s (model %s)", path, src.model_id)

    # ---------------------------------------------------------------- loop
    def run(self) -> TrainResult:
        """Train until the epochs are done, early stopping triggers, or ``max_steps`` is reached."""
        info, device = init_distributed(self.opts.device)
        cache = FeatureCache(self.data)
        self._fingerprint = cache.fingerprint
        state = self._check_run_dir()
        if state is not None:
            self._check_resume(state, cache)
        if info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            if n := train_state.remove_temporaries(self.out):  # a killed run's half-written checkpoints
                log.info("removed %d half-written checkpoint files of an interrupted run", n)
        if state is not None and state.get("finished"):
            done = RunProgress.from_state(state)
            if self._still_finished(done, state.get("stop_reason")):
                log.info("%s already finished (%s); nothing to do (raise --epochs or --early-stop-patience to go on)", self.out, state.get("stop_reason"))
                return self._result(done, state.get("stop_reason", "completed"), already=True)
        if state is not None and state.get("world_size", 1) != info.world_size and info.is_main:
            log.warning("resuming a %s-process run with %d processes: the data shards differ, so the run is not an exact continuation", state.get("world_size"), info.world_size)
        prev_det = torch.are_deterministic_algorithms_enabled()
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        else:
            torch.backends.cudnn.benchmark = True
        try:
            with StopRequest() as self._stop:
                return self._run(info, device, cache, state)
        finally:
            torch.use_deterministic_algorithms(prev_det)

    def _still_finished(self, progress: RunProgress, stop_reason: str | None) -> bool:
        """A finished run stays finished unless a resume raised ``epochs`` or the early-stop patience."""
        if stop_reason == "early_stop":
            return progress.bad_epochs >= self.cfg.early_stop_patience or progress.epoch >= self.cfg.epochs
        return progress.epoch >= self.cfg.epochs

    def _run(self, info: DistInfo, device: torch.device, cache: FeatureCache, state: dict[str, Any] | None) -> TrainResult:
        cfg = self.cfg
        self._world_size = info.world_size
        _seed_everything(cfg.seed)
        model = self._build_model(cache, device, fresh=state is None)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=cfg.lr_decay_factor, patience=cfg.lr_decay_patience)
        amp = cfg.amp and device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        validator = Validator(cache, cfg, device) if info.is_main else None
        step_mod: nn.Module = _LossStep(model)
        if info.enabled:
            step_mod = nn.parallel.DistributedDataParallel(step_mod, device_ids=[device.index] if device.type == "cuda" else None)

        progress = RunProgress() if state is None else RunProgress.from_state(state)
        if state is not None:
            try:
                model.load_state_dict(state["model"])
                opt.load_state_dict(state["optimizer"])
                sched.load_state_dict(state["scheduler"])
                if amp and state.get("scaler"):
                    scaler.load_state_dict(state["scaler"])
            except (RuntimeError, KeyError, ValueError) as exc:
                raise CheckpointError(f"{self.out / LAST}: does not fit this model ({exc}); start a new --out") from exc
            train_state.set_rng_state(state["rng"])
            if info.is_main:
                log.info("resuming %s at epoch %d, step %d of the epoch (global step %d)", self.out, progress.epoch + 1, progress.step_in_epoch, progress.global_step)
        elif info.is_main:
            self._write_config(cache)

        metrics = MetricsLog(self.out, enabled=info.is_main, history=progress.history)
        last_save = time.monotonic()

        def save(finished: bool = False, reason: str = "") -> None:
            nonlocal last_save
            if info.is_main:
                train_state.save_state(self.out / LAST, self._state(model, opt, sched, scaler, cache, progress, finished, reason))
            last_save = time.monotonic()

        reason = "completed"
        try:
            while progress.epoch < cfg.epochs:
                epoch = progress.epoch
                batches, contrastive = epoch_batches(cache, cfg, epoch, info)
                n_steps = len(batches)
                if n_steps == 0:
                    raise DatasetError(f"{self.data}: not enough training seconds for one batch of {cfg.batch_size}")
                t0 = time.monotonic()
                model.train()
                loader = make_loader(cache, cfg, batches[progress.step_in_epoch :], contrastive, epoch, device)
                bar = _progress(n_steps, progress.step_in_epoch, f"epoch {epoch + 1}/{cfg.epochs}", self.opts.progress and info.is_main)
                for batch in loader:
                    loss = self._step(step_mod, opt, scaler, batch, contrastive, device, amp)
                    stop = self._stop.requested
                    if info.enabled:  # mean loss, and stop together when any rank got a signal
                        loss_sum, n_stop = all_mean(loss, int(stop), info, device)
                        loss, stop = loss_sum / info.world_size, n_stop > 0
                    progress.global_step += 1
                    progress.step_in_epoch += 1
                    progress.loss_sum += loss
                    progress.loss_count += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{progress.loss_sum / progress.loss_count:.4f}", lr=f"{opt.param_groups[0]['lr']:.2g}")
                    if self.on_step is not None:
                        self.on_step(progress.global_step, loss)
                    if self.opts.max_steps is not None and progress.global_step >= self.opts.max_steps:
                        reason = "max_steps"
                        break
                    if stop or (self._stop.requested and not info.enabled):  # DDP ranks agree one step later
                        reason = "interrupted"
                        if info.is_main:
                            log.info("interrupted: checkpoint at step %d; continue with --resume", progress.global_step)
                        break
                    if progress.step_in_epoch < n_steps and self._checkpoint_due(progress.global_step, last_save):
                        save()
                bar.close()
                if reason in PAUSES and progress.step_in_epoch < n_steps:
                    save()
                    break
                self._end_epoch(model, opt, sched, validator, info, device, progress, metrics, time.monotonic() - t0)
                save()
                if info.is_main:
                    metrics.append(progress.history[-1])
                if progress.bad_epochs >= cfg.early_stop_patience:
                    reason = "early_stop"
                    if info.is_main:
                        log.info("early stop: no improvement for %d epochs", progress.bad_epochs)
                    break
                if reason in PAUSES:
                    break
            if reason not in PAUSES:
                save(finished=True, reason=reason)
        finally:
            metrics.close()
        return self._result(progress, reason)

    def _checkpoint_due(self, step: int, last_save: float) -> bool:
        o = self.opts
        if o.checkpoint_every_steps and step % o.checkpoint_every_steps == 0:
            return True
        return bool(o.checkpoint_every_minutes) and time.monotonic() - last_save >= 60.0 * o.checkpoint_every_minutes

    def _step(self, step_mod: nn.Module, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, batch: list, contrastive: bool, device: torch.device, amp: bool) -> float:
        frames = batch[0].to(device, non_blocking=True)  # (B, 224, 224, 3) uint8
        mels = batch[1].to(device, non_blocking=True)  # (B, 64, 100)
        labels = None if contrastive else batch[2].to(device, non_blocking=True)  # (B,)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
            loss = step_mod(frames, mels, labels)
        if not amp and not torch.isfinite(loss):
            raise TrainingError(f"the loss became {loss.item()} (not finite); lower the learning rate (--lr) and start a new run")
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return float(loss.detach())

    def _end_epoch(self, model, opt, sched, validator, info, device, progress: RunProgress, metrics, seconds) -> None:
        """Validate (rank 0), then LR decay, best model, early-stop counter and the history row."""
        if info.is_main:
            v = validator(model)
            vals = [v.corr_acc, v.recall[1], v.recall[5], v.recall[10], v.metric, v.threshold if v.threshold is not None else math.nan]
        else:
            vals = [0.0] * 6
        corr, r1, r5, r10, metric, threshold = broadcast_floats(vals, info, device)
        if model.cfg.contrastive:
            with torch.no_grad():
                model.threshold.fill_(threshold)
        loss_sum, count = progress.loss_sum, max(1, progress.loss_count)
        sched.step(metric)
        improved = metric > progress.best_metric
        if improved:
            progress.best_metric, progress.bad_epochs = metric, 0
            if info.is_main:
                model.save(self.out / BEST, extra=self._best_extra(progress, corr, {1: r1, 5: r5, 10: r10}, metric, threshold))
        else:
            progress.bad_epochs += 1
        progress.epoch += 1
        progress.step_in_epoch, progress.loss_sum, progress.loss_count = 0, 0.0, 0
        progress.history.append(
            {
                "epoch": progress.epoch,
                "step": progress.global_step,
                "lr": float(opt.param_groups[0]["lr"]),
                "train_loss": loss_sum / count,
                "val_corr_acc": corr,
                "val_recall1": r1,
                "val_recall5": r5,
                "val_recall10": r10,
                "val_metric": metric,
                "threshold": threshold if model.cfg.contrastive else None,
                "best": int(improved),
                "seconds": round(seconds, 3),
            }
        )
        if info.is_main:
            log.info("epoch %d: loss %.4f, val corr acc %.3f, val recall@1/5/10 %.3f/%.3f/%.3f%s", progress.epoch, loss_sum / count, corr, r1, r5, r10, " (best)" if improved else "")

    # ---------------------------------------------------------------- state
    def _state(self, model, opt, sched, scaler, cache: FeatureCache, progress: RunProgress, finished: bool, reason: str) -> dict[str, Any]:
        """The dict ``last.pt`` stores: the progress as flat keys (the file layout of every version), weights, RNG, run info."""
        return {
            **progress.to_state(),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "rng": train_state.rng_state(),
            "train_cfg": to_dict(self.cfg),
            "features": to_dict(cache.features),
            "preset": self.opts.preset,
            "variant": self.opts.variant,
            "dataset": str(self.data),
            "dataset_fingerprint": cache.fingerprint,
            "finished": finished,
            "stop_reason": reason,
            "world_size": self._world_size,
        }

    def _best_extra(self, progress: RunProgress, corr: float, recall: dict[int, float], metric: float, threshold: float) -> dict[str, Any]:
        return {
            "preset": self.opts.preset,
            "variant": self.opts.variant,
            "epoch": progress.epoch + 1,
            "global_step": progress.global_step,
            "val_metric": metric,
            "val_metric_name": "val_mean_recall@1/5/10" if self.cfg.model.contrastive else "val_corr_acc",
            "val_corr_acc": corr,
            "val_recall": {str(k): v for k, v in recall.items()},
            "threshold": None if math.isnan(threshold) else threshold,
            "train_cfg": to_dict(self.cfg),
            "dataset": str(self.data),
            "dataset_fingerprint": self._fingerprint,
        }

    def _write_config(self, cache: FeatureCache) -> None:
        info = {"preset": self.opts.preset, "variant": self.opts.variant, "dataset": str(self.data), "dataset_fingerprint": cache.fingerprint, "train_cfg": to_dict(self.cfg)}
        atomic_write_text(self.out / "config.json", json.dumps(info, indent=2))

    def _result(self, progress: RunProgress, reason: str, already: bool = False) -> TrainResult:
        best = self.out / BEST
        return TrainResult(
            run_dir=self.out,
            best_path=best if best.exists() else None,
            last_path=self.out / LAST,
            epochs_done=int(progress.epoch),
            global_step=int(progress.global_step),
            best_metric=float(progress.best_metric),
            stop_reason="already_finished" if already else reason,
        )


def _progress(total: int, initial: int, desc: str, enabled: bool):
    """A tqdm bar with ETA (a no-op object when disabled)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", disable=not enabled, dynamic_ncols=True, leave=False)


def train(cfg: TrainCfg, data: Path, out: Path, opts: RunOptions = RunOptions(), on_step: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train ``cfg`` on the prepared dataset ``data`` into the run folder ``out`` (see ``Trainer``)."""
    return Trainer(cfg, data, out, opts, on_step).run()


__all__ = ["RunOptions", "TrainResult", "Trainer", "TrainingError", "config_differences", "stored_config", "train"]
