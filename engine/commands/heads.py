"""``foley-engine train-heads``: a preset's heads on the frozen pretrained towers, chosen by the library task."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("train-heads")
    def train_heads_cmd(
        dataset: Path = typer.Option(..., "--dataset", "-d", help="Prepared dataset with cached tower features (foley-engine cache-towers)."),
        videos: Path = typer.Option(..., "--videos", help="Folder of the clips and their <clip>_labels.tsv (the validation task)."),
        library: Path = typer.Option(..., "--library", help="Sound library folder holding the files the labels name."),
        out: Path = typer.Option(..., "--out", "-o", help="Run folder: best.pt, history.json, val.json."),
        preset: str = typer.Option("m5", "--preset", "-p", help="Projector and loss of this preset (contrastive presets: m4-m7)."),
        epochs: int = typer.Option(150, "--epochs", min=1),
        lr: float = typer.Option(1e-3, "--lr", min=0.0),
        weight_decay: float = typer.Option(0.05, "--weight-decay", min=0.0),
        dropout: float = typer.Option(0.3, "--dropout", min=0.0, max=0.9),
        hidden: int = typer.Option(0, "--hidden", min=0, help="Sound head: 0 = linear, else one hidden layer of this width."),
        temperature: float | None = typer.Option(None, "--temperature", min=0.01, help="InfoNCE temperature (default: the preset's)."),
        batch_size: int = typer.Option(256, "--batch-size", min=2),
        seed: int = typer.Option(0, "--seed"),
        audio_tower: str = typer.Option("aisfx", "--audio-tower", help="Sound tower: aisfx, or aisfx-small (its distilled student, faster)."),
    ) -> None:
        """Train heads on cached tower features; keep the checkpoint and ranking terms best on the validation maps."""
        from dataclasses import replace

        from engine.data.tower_cache import load_tower_features
        from engine.errors import ConfigError
        from engine.presets import get_preset
        from engine.training.heads import (
            HeadTrainCfg,
            attach_ranking,
            baselines,
            build_task,
            evaluate_task,
            library_digest,
            library_tower_features,
            pretrained_cfg,
            references,
        )

        base = get_preset(preset)
        if not base.contrastive:
            raise ConfigError(f"preset {preset!r} is not contrastive; the heads are trained with InfoNCE/NT-Xent (m4-m7)")
        cfg = pretrained_cfg(base, dropout, hidden, audio_tower)
        if temperature is not None:
            cfg = replace(cfg, temperature=temperature)
        out.mkdir(parents=True, exist_ok=True)
        tf = load_tower_features(dataset, audio_tower)
        lib = library_tower_features(library, dataset / "towers" / f"library-{library.name}-{library_digest(library, audio_tower)}.npz", audio_tower)
        val = build_task(tf, lib, videos, "val")
        typer.echo(f"{int((tf.splits == 'train').sum())} training seconds, {len(val.queries)} labelled validation seconds, "
                   f"library {len(lib.entries)} files / {len(lib.seg_file)} segments")
        from engine.training.heads import train_heads

        run = train_heads(cfg, tf, lib, val, HeadTrainCfg(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size, seed=seed),
                          progress=typer.echo)
        attach_ranking(run.model, tf, run.best_ranking, seed)
        run.model.extra.update({"preset": preset, "best_epoch": run.best_epoch, "trained_on": dataset.name})
        run.model.save(out / "best.pt")
        report = {"best_epoch": run.best_epoch, "ranking": run.best_ranking.as_dict(), "model_cfg": cfg.__dict__, "history": run.history}
        for split in ("val", "test"):
            task = val if split == "val" else build_task(tf, lib, videos, split)
            refs = references(run.model, tf, seed)
            from engine.library.ranking import RankingCfg

            rc = run.best_ranking
            grid = {"picture only": RankingCfg(rc.temperature), "+ hubness fix": replace(rc, prior_weight=0.0),
                    "+ prior": replace(rc, hub_weight=0.0), "chosen (hubness fix + prior)": rc}
            res = evaluate_task(run.model, lib, task, refs, list(grid.values()))
            report[split] = {"queries": len(task.queries), **baselines(lib, task), **{name: res[r] for name, r in grid.items()}}
        (out / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
        typer.echo(f"best epoch {run.best_epoch} ({run.best_ranking}); model {out / 'best.pt'}, report {out / 'report.json'}")
