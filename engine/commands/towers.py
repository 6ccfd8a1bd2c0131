"""``foley-engine cache-towers``: the frozen pretrained towers' features of a prepared dataset."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("cache-towers")
    def cache_towers(
        dataset: Path = typer.Argument(..., help="A dataset written by 'foley-engine prepare' (its source videos must still exist)."),
        workers: int = typer.Option(2, "--workers", "-j", min=0, help="Processes (0 = in this process)."),
        silence_rms: float = typer.Option(1e-3, "--silence-rms", min=0.0, help="Seconds quieter than this are left out (unless labelled)."),
        audio_tower: str = typer.Option("aisfx", "--audio-tower", help="Sound tower: aisfx, or aisfx-small (its distilled student)."),
    ) -> None:
        """Compute EfficientNet-Lite0 maps and aisfx embeddings of every sounding second once; resumable."""
        from engine.data.tower_cache import build_tower_cache

        folder = build_tower_cache(dataset, workers=workers, silence_rms=silence_rms, progress=typer.echo, audio=audio_tower)
        typer.echo(f"tower features in {folder}")

    @app.command("distill-tower")
    def distill_tower(
        dataset: Path = typer.Option(..., "--dataset", "-d", help="Prepared dataset with cached aisfx features (cache-towers); its training clips are used."),
        library: list[Path] = typer.Option(..., "--library", help="Sound library folder(s) whose 1-s windows are distilled on (repeatable)."),
        held_out: list[Path] = typer.Option([], "--held-out", help="Library folder(s) kept out of training, used for validation (e.g. the one the product task ranks)."),
        out: Path = typer.Option(..., "--out", "-o", help="Where to write the student's weights (.pt state dict)."),
        minutes: float = typer.Option(20.0, "--minutes", min=0.1, help="Training time budget (one thread)."),
        augment: int = typer.Option(2000, "--augment", min=0, help="Mixed / attenuated windows added, each run through aisfx once."),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Distil aisfx into the small sound tower aisfx-small (see docs/pretrained.md, "Speed of the sound tower")."""
        import json

        import torch

        from engine.training.distill import (
            DistillCfg,
            DistillData,
            augmented_data,
            distill,
            footage_data,
            library_data,
            save_student,
        )

        torch.set_num_threads(1)
        held = [p.resolve() for p in held_out]
        roots = [p for p in library if p.resolve() not in held]
        typer.echo("decoding the footage and the library ...")
        base = DistillData.join([footage_data(dataset, ("train",)), library_data(roots, progress=typer.echo)])
        val = DistillData.join([footage_data(dataset, ("val",)), *([library_data(held)] if held else [])])
        train = DistillData.join([base, augmented_data(base, augment, seed)])
        typer.echo(f"{len(train)} training windows, {len(val)} held-out windows")
        run = distill(train, val, DistillCfg(max_seconds=60.0 * minutes, seed=seed), progress=typer.echo)
        fingerprint = save_student(run.model, out)
        out.with_suffix(".json").write_text(json.dumps({"fingerprint": fingerprint, "val_cosine": run.val_cosine,
                                                         "history": run.history}, indent=1) + "\n", encoding="utf-8")
        typer.echo(f"held-out mean cosine with aisfx {run.val_cosine:.4f}; weights {out} (fingerprint {fingerprint})")
