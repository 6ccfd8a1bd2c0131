"""`foley-engine combine`: several prepared datasets -> one, each video keeping its split."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``combine`` to the CLI."""

    @app.command("combine")
    def combine(
        datasets: list[Path] = typer.Argument(..., help="Two or more folders written by 'foley-engine prepare' with the same feature settings."),
        out: Path = typer.Option(..., "--out", "-o", help="Folder for the combined dataset (shards are linked, not copied, where the system allows)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset already in --out."),
    ) -> None:
        """Combine prepared datasets into one for training; every video keeps the split its dataset gave it."""
        from engine.data.combine import combine_datasets

        typer.echo(combine_datasets(datasets, out, overwrite=overwrite).summary())
