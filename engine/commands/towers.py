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
    ) -> None:
        """Compute EfficientNet-Lite0 maps and aisfx embeddings of every sounding second once; resumable."""
        from engine.data.tower_cache import build_tower_cache

        folder = build_tower_cache(dataset, workers=workers, silence_rms=silence_rms, progress=typer.echo)
        typer.echo(f"tower features in {folder}")
