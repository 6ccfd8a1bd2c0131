"""`foley-engine` sub-commands: evaluate-library (recommendations against labelled gameplay and a real library)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``evaluate-library`` to the CLI."""

    @app.command("evaluate-library")
    def evaluate_library(
        checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Model checkpoint (.pt) the index was built with."),
        videos: Path = typer.Option(..., "--videos", help="Folder of clips with <clip>_labels.tsv files beside them."),
        library_db: Path = typer.Option(..., "--library-db", "--db", help="Sound index folder (foley-engine index --db) holding the game's own sounds."),
        labels_glob: str = typer.Option("*_labels.tsv", "--labels-glob", help="Glob of the per-second label files inside --videos."),
        split_from: Path | None = typer.Option(None, "--split-from", help="Prepared dataset whose split decides test and training clips (recommended)."),
        split: str = typer.Option("test", "--split", help="Which split of --split-from to evaluate."),
        out: Path = typer.Option(Path("library_eval"), "--out", "-o", help="Folder for library_eval.json and library_eval.md."),
        path_contains: str | None = typer.Option(None, "--path-contains", help="Only rank index files whose path contains this text."),
        prior_weight: float = typer.Option(0.05, "--prior-weight", help="Weight of the log-prior bonus in the 'model + prior' re-ranking."),
        include_ambient: bool = typer.Option(False, "--include-ambient", help="Count ambient loops (ambient/...) as targets."),
        max_train_audio: int = typer.Option(4000, "--max-train-audio", help="Training seconds embedded for the self-supervised audio prior."),
    ) -> None:
        """Top-1/5/10 sample- and category-level hits of library recommendations for labelled gameplay seconds."""
        from engine.evaluation.library_eval import render_markdown, run_library_eval, write_report

        report = run_library_eval(
            checkpoint, videos, library_db, labels_glob=labels_glob, split_from=split_from, split=split,
            path_contains=path_contains, prior_weight=prior_weight, include_ambient=include_ambient,
            max_train_audio=max_train_audio, progress=typer.echo,
        )
        json_path, md_path = write_report(report, out)
        typer.echo(render_markdown(report))
        typer.echo(f"wrote {json_path} and {md_path}")
