"""`foley-engine` sub-commands: evaluate."""

from __future__ import annotations

from pathlib import Path

import typer

from engine.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the CLI."""

    @app.command("evaluate")
    def evaluate(
        checkpoint: Path | None = typer.Option(None, "--checkpoint", "-c", help="Model file (RUN/best.pt) to evaluate."),
        data: Path | None = typer.Option(None, "--data", "-d", help="Prepared dataset folder."),
        split: str = typer.Option("test", "--split", help="Split to evaluate: test, val or train."),
        n_pairs: int = typer.Option(3000, "--pairs", help="Balanced pairs for correlation accuracy (paper: 3000)."),
        per_video: int = typer.Option(1, "--per-video", help="Seconds per test video in the search list (paper: 1)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the pairs and the search list."),
        skip_silent: bool = typer.Option(False, "--skip-silent", help="Leave silent seconds out of the test sets."),
        silence_rms: float = typer.Option(1e-3, "--silence-rms", help="RMS below which a second counts as silent."),
        prior_weight: float = typer.Option(0.0, "--prior-weight", help="Also rank by distance - W * log(typicality of the clip in the training audio); 0 = off."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Folder for eval.json and eval.md (default: the checkpoint's folder)."),
        compare_flag: bool = typer.Option(False, "--compare", help="Print the RUNS given as arguments side by side (with this evaluation, if any)."),
        compare_runs: list[Path] | None = typer.Argument(None, metavar="[RUNS]...", help="Run folders or eval.json files, for --compare."),
    ) -> None:
        """Correlation accuracy and top-1/5/10 recommendation accuracy, beside chance and an image-blind baseline."""
        from engine.evaluation import compare, render, write_eval
        from engine.evaluation import evaluate as run_eval

        runs = list(compare_runs or [])
        if runs and not compare_flag:
            raise ConfigError(f"unexpected arguments {[str(r) for r in runs]}; to compare runs use --compare RUN ...")
        if checkpoint is not None:
            if data is None:
                raise ConfigError("--data is required with --checkpoint")
            result = run_eval(checkpoint, data, split=split, n_pairs=n_pairs, per_video=per_video, seed=seed, device=device,
                              skip_silent=skip_silent, silence_rms=silence_rms, prior_weight=prior_weight)
            out_dir = out or checkpoint.parent
            json_path, md_path = write_eval(result, out_dir)
            typer.echo(render(result))
            typer.echo(f"wrote {json_path} and {md_path}")
            if runs:
                runs.insert(0, json_path)
        elif not runs:
            raise ConfigError("give --checkpoint C --data DATASET to evaluate, and/or --compare RUN ... to compare runs")
        if runs:
            typer.echo(compare(runs))
