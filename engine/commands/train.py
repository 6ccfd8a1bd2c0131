"""`foley-engine` sub-commands: train."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import typer

from engine.errors import ConfigError


def build_config(
    preset: str | None,
    variant: str,
    data_kind: str,
    out: Path,
    resume: bool,
    overrides: dict,
) -> tuple[object, str | None, str]:
    """The TrainCfg of a run: the preset's paper defaults + overrides, or (``--resume``) the run's own + overrides."""
    from engine.presets import get_preset, train_defaults
    from engine.training import stored_config

    given = {k: v for k, v in overrides.items() if v is not None}
    if resume and (out / "last.pt").exists():
        cfg, info = stored_config(out)
        if preset is not None and preset != info.get("preset"):
            raise ConfigError(f"{out} is a {info.get('preset')!r} run; resume it without --preset or with --preset {info.get('preset')}")
        return replace(cfg, **given), info.get("preset"), info.get("variant") or variant
    if preset is None:
        raise ConfigError("--preset is required for a new run (one of m1..m7, ft; see 'foley-engine train --help')")
    if data_kind not in ("gameplay", "vggsound"):
        raise ConfigError(f"unknown --data-kind {data_kind!r}; choose gameplay or vggsound")
    return replace(train_defaults(get_preset(preset, variant), data_kind), **given), preset, variant


def register(app: typer.Typer) -> None:
    """Add ``train`` to the CLI."""

    @app.command("train")
    def train(
        data: Path = typer.Option(..., "--data", "-d", help="Prepared dataset folder (foley-engine prepare)."),
        out: Path = typer.Option(..., "--out", "-o", help="Run folder: last.pt, best.pt, metrics.csv."),
        preset: str | None = typer.Option(None, "--preset", "-p", help="m1..m7 (Table 1b rows) or ft (fine-tune, needs --init-from)."),
        variant: str = typer.Option("full", "--variant", help="full (paper size, 224x224), compact (112x112, half width) or small (80x80, the shipped default's size)."),
        data_kind: str = typer.Option("gameplay", "--data-kind", help="Paper defaults for 'gameplay' (lr 0.001, time negatives) or 'vggsound' (lr 0.01, label negatives)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly where its last checkpoint left it."),
        epochs: int | None = typer.Option(None, "--epochs", help="Maximum number of epochs (default 100)."),
        lr: float | None = typer.Option(None, "--lr", help="Initial learning rate."),
        batch_size: int | None = typer.Option(None, "--batch-size", help="Batch size per process (paper: 128 baseline, 32 attention)."),
        pairs_per_epoch: int | None = typer.Option(None, "--pairs-per-epoch", help="Pairs per epoch (default: one per training second)."),
        val_pairs: int | None = typer.Option(None, "--val-pairs", help="Balanced validation pairs (default 1280)."),
        patience: int | None = typer.Option(None, "--early-stop-patience", help="Stop after this many epochs without improvement (default 20)."),
        negatives: str | None = typer.Option(None, "--negatives", help="gameplay (other video / distant second) or label (different label)."),
        init_from: Path | None = typer.Option(None, "--init-from", help="Model file whose encoders start this run (required for preset ft)."),
        skip_silent: bool | None = typer.Option(None, "--skip-silent/--no-skip-silent", help="Leave silent seconds out of the training pairs."),
        silence_rms: float | None = typer.Option(None, "--silence-rms", help="RMS below which a second counts as silent (default 0.001)."),
        workers: int | None = typer.Option(None, "--workers", help="DataLoader worker processes."),
        seed: int | None = typer.Option(None, "--seed", help="Seed of weights and data order."),
        device: str = typer.Option("auto", "--device", help="auto (CUDA if available, with AMP), cpu or cuda."),
        max_steps: int | None = typer.Option(None, "--max-steps", help="Stop (with a checkpoint) after this many steps in total; --resume continues."),
        ckpt_steps: int = typer.Option(200, "--checkpoint-every-steps", help="Also checkpoint mid-epoch every N steps (0 = off)."),
        ckpt_minutes: float = typer.Option(10.0, "--checkpoint-every-minutes", help="... or every M minutes (0 = off)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar with ETA."),
    ) -> None:
        """Train a preset on a prepared dataset (torchrun --nproc-per-node N runs it with DDP)."""
        from engine.training import RunOptions
        from engine.training import train as run_training

        overrides = dict(
            epochs=epochs, lr=lr, batch_size=batch_size, pairs_per_epoch=pairs_per_epoch, val_pairs=val_pairs,
            early_stop_patience=patience, negatives=negatives, init_from=str(init_from) if init_from else None,
            skip_silent=skip_silent, silence_rms=silence_rms, num_workers=workers, seed=seed,
        )
        cfg, preset_name, variant_name = build_config(preset, variant, data_kind, out, resume, overrides)
        opts = RunOptions(
            device=device, resume=resume, max_steps=max_steps, checkpoint_every_steps=ckpt_steps,
            checkpoint_every_minutes=ckpt_minutes, progress=progress, preset=preset_name, variant=variant_name,
        )
        result = run_training(cfg, data, out, opts)
        if int(os.environ.get("RANK", "0")) != 0:
            return  # under torchrun, rank 0 reports
        best = f", best model {result.best_path} (val {result.best_metric:.4f})" if result.best_path else ""
        typer.echo(f"{result.stop_reason}: {result.epochs_done} epochs, {result.global_step} steps{best}; state {result.last_path}")
