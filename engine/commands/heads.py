"""``foley-engine train-heads``: a preset's heads on the frozen pretrained towers, chosen by the library task."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("train-heads")
    def train_heads_cmd(
        dataset: list[Path] = typer.Option(..., "--dataset", "-d", help="Prepared dataset with cached tower features (foley-engine cache-towers); repeat to train on several."),
        videos: list[Path] = typer.Option(..., "--videos", help="Folder of the clips and their <clip>_labels.tsv (the validation task); repeat for several."),
        library: Path = typer.Option(..., "--library", help="Sound library folder holding the files the labels name."),
        out: Path = typer.Option(..., "--out", "-o", help="Run folder: best.pt, history.json, val.json."),
        preset: str = typer.Option("m5", "--preset", "-p", help="Projector and loss of this preset: m2/m3 (distance classifier, BCE / BCE + margin) or m4-m7 (contrastive)."),
        epochs: int = typer.Option(150, "--epochs", min=1),
        lr: float = typer.Option(1e-3, "--lr", min=0.0),
        weight_decay: float = typer.Option(0.05, "--weight-decay", min=0.0),
        dropout: float = typer.Option(0.3, "--dropout", min=0.0, max=0.9),
        hidden: int = typer.Option(0, "--hidden", min=0, help="Sound head: 0 = linear, else one hidden layer of this width."),
        temperature: float | None = typer.Option(None, "--temperature", min=0.01, help="InfoNCE/NT-Xent temperature (default: the preset's); contrastive presets only."),
        batch_size: int = typer.Option(256, "--batch-size", min=2),
        seed: int = typer.Option(0, "--seed"),
        audio_tower: str = typer.Option("aisfx", "--audio-tower", help="Sound tower: aisfx, aisfx-small (its distilled student, faster), or scratch (a small sound encoder trained on the dataset's log-mels)."),
        vision_tower: str = typer.Option("efficientnet-lite0", "--vision-tower", help="Picture tower: efficientnet-lite0, or scratch (a small picture encoder trained on the dataset's frames)."),
        games: Path | None = typer.Option(None, "--games", help="CSV naming each clip's game (first column the clip, a 'game' column), e.g. scripts/recording/corpus.csv: adds per-game figures to the report."),
        libraries: Path | None = typer.Option(None, "--libraries", help="Folder of per-game sound libraries (LIBRARIES/<game>): the per-game library task where a game logs its sounds."),
        hold_out: list[str] = typer.Option([], "--hold-out-game", help="Leave this game's training clips out of training (needs --games; repeat for several): they are reported as the split 'heldout'."),
    ) -> None:
        """Train heads on cached tower features; keep the checkpoint and ranking terms best on the validation maps."""
        from dataclasses import replace

        from engine.atomic import atomic_write_text
        from engine.data.tower_cache import load_tower_features
        from engine.errors import ConfigError
        from engine.presets import get_preset
        from engine.training.heads import (
            HeadTrainCfg,
            attach_ranking,
            baselines,
            build_task,
            check_head_preset,
            evaluate_task,
            library_digest,
            library_tower_features,
            pretrained_cfg,
            references,
        )
        from engine.training.per_game import games_of, hold_out_game, per_game_report, render_per_game

        base = get_preset(preset)
        check_head_preset(preset, base)
        from engine.training.mixed import check_towers, head_features, is_mixed, load_mixed_features, mixed_cfg

        check_towers(vision_tower, audio_tower, hidden)
        mixed = is_mixed(vision_tower, audio_tower)
        cfg = mixed_cfg(base, vision_tower, audio_tower, dropout, hidden) if mixed else pretrained_cfg(base, dropout, hidden, audio_tower)
        if temperature is not None:
            if not cfg.contrastive:
                raise ConfigError(f"--temperature is the contrastive loss's; preset {preset!r} ({cfg.loss}) has none")
            cfg = replace(cfg, temperature=temperature)
        if hold_out and games is None:
            raise ConfigError("--hold-out-game needs --games (the CSV that names each clip's game)")
        out.mkdir(parents=True, exist_ok=True)
        tf = load_mixed_features(dataset, cfg) if mixed else load_tower_features(dataset, audio_tower)
        features = head_features(cfg)
        cache_dir = dataset[0] / "towers"
        game_of = games_of(games, sorted(set(tf.video_ids.tolist()))) if games is not None else None
        for game in hold_out:
            typer.echo(f"{game}: {hold_out_game(tf, game_of, game)} seconds left out of training")
        # the validation task: the clips of the library's game (all labelled clips when games are not named)
        task_clips = {v for v, g in game_of.items() if g == library.name} if game_of else None
        lib = library_tower_features(library, cache_dir / f"library-{library.name}-{library_digest(library, audio_tower, features)}.npz",
                                     audio_tower, features)
        val = build_task(tf, lib, videos, "val", clips_of=task_clips)
        typer.echo(f"{int((tf.splits == 'train').sum())} training seconds, {len(val.queries)} labelled validation seconds, "
                   f"library {len(lib.entries)} files / {len(lib.seg_file)} segments")
        from engine.training.heads import train_heads

        run = train_heads(cfg, tf, lib, val, HeadTrainCfg(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size, seed=seed),
                          progress=typer.echo)
        attach_ranking(run.model, tf, run.best_ranking, seed)
        run.model.extra.update({"preset": preset, "best_epoch": run.best_epoch, "trained_on": ", ".join(d.name for d in dataset)})
        run.model.save(out / "best.pt")
        report = {"best_epoch": run.best_epoch, "ranking": run.best_ranking.as_dict(), "model_cfg": cfg.__dict__, "history": run.history,
                  "held_out_games": list(hold_out)}
        refs = references(run.model, tf, seed)
        for split in ("val", "test"):
            task = val if split == "val" else build_task(tf, lib, videos, split, clips_of=task_clips)
            from engine.library.ranking import RankingCfg

            rc = run.best_ranking
            grid = {"picture only": RankingCfg(rc.temperature), "+ hubness fix": replace(rc, prior_weight=0.0),
                    "+ prior": replace(rc, hub_weight=0.0), "chosen (hubness fix + prior)": rc}
            res = evaluate_task(run.model, lib, task, refs, list(grid.values()))
            bound = {"own sound (upper bound)": RankingCfg(rc.temperature), "own sound + prior (upper bound)": replace(rc, hub_weight=0.0)}
            own = evaluate_task(run.model, lib, task, refs, list(bound.values()), by_own_sound=True)
            report[split] = {"queries": len(task.queries), **baselines(lib, task), **{name: res[r] for name, r in grid.items()},
                             **{name: own[r] for name, r in bound.items()}}
        if game_of is not None:
            report["per_game"] = per_game_report(run.model, tf, game_of, run.best_ranking, refs, videos=list(videos), libraries=libraries,
                                                 cache_dir=cache_dir, audio_tower=audio_tower, seed=seed)
            atomic_write_text(out / "per_game.md", render_per_game(report["per_game"]))
            typer.echo(render_per_game(report["per_game"]))
        atomic_write_text(out / "report.json", json.dumps(report, indent=1, default=str) + "\n")
        typer.echo(f"best epoch {run.best_epoch} ({run.best_ranking}); model {out / 'best.pt'}, report {out / 'report.json'}")
