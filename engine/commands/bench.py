"""`foley-engine` sub-commands: bench."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer


def _clean(obj: object) -> object:
    """JSON-safe: NaN/inf become null, paths strings."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def register(app: typer.Typer) -> None:
    """Add ``bench``."""

    @app.command()
    def bench(
        quick: bool = typer.Option(False, "--quick", help="Reduced sizes (20k segments, a small library slice): about 2 minutes."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of the table."),
        model: Path | None = typer.Option(None, "--model", "-m", help="Model file (default: the shipped model, else a random compact m5 for timing only)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Also write the full results (with details) as JSON here."),
        work: Path | None = typer.Option(None, "--work", help="Working folder, reused between runs (the big index is built once per model)."),
        library: Path | None = typer.Option(None, "--library", help="Sound folder to index for the indexing figure and the embedding distribution."),
        video: Path | None = typer.Option(None, "--video", help="Video for queries, the video cache and the app (default: the bundled demo)."),
        segments: int | None = typer.Option(None, "--segments", help="Index size (default 1,000,000; --quick 20,000)."),
        repeats: int | None = typer.Option(None, "--repeats", help="Timed repetitions of the frame figures."),
        scrubs: int | None = typer.Option(None, "--scrubs", help="Scrubs in the app."),
        skip_app: bool = typer.Option(False, "--skip-app", help="Leave out the app figures (no Qt needed)."),
        train_data: Path | None = typer.Option(None, "--train-data", help="Prepared dataset for the loader figure (default: a generated one)."),
    ) -> None:
        """Measure the performance targets on this machine: a table of figure, target and PASS/MISS."""
        from engine.bench.report import table
        from engine.bench.runner import BenchOptions, run_bench
        from engine.errors import ConfigError

        if segments is not None and segments < 100:
            raise ConfigError("--segments must be at least 100")
        opts = BenchOptions(quick=quick, model=model, work=work, library=library, video=video, segments=segments,
                            repeats=repeats, scrubs=scrubs, skip_app=skip_app, extra={"train_data": train_data} if train_data else {})
        res = _clean(run_bench(opts))
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            from engine.atomic import atomic_write_text

            atomic_write_text(out, json.dumps(res, indent=2))
        if as_json:
            typer.echo(json.dumps(res, indent=2))
        else:
            typer.echo(table(res))
