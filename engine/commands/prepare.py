"""`foley-engine prepare`: a folder of videos -> a feature cache for training."""

from __future__ import annotations

from pathlib import Path

import typer

from engine.config import FeatureCfg
from engine.errors import ConfigError


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise ConfigError(f"--split {text!r}: give three numbers train,val,test, e.g. 0.8,0.1,0.1")
    return parts  # type: ignore[return-value]


def register(app: typer.Typer) -> None:
    """Add ``prepare`` to the CLI."""

    @app.command("prepare")
    def prepare(
        videos: Path = typer.Argument(..., help="Folder of videos (searched recursively); sub-folders name the labels unless --labels is given."),
        out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to write (or to resume)."),
        labels: Path | None = typer.Option(None, "--labels", help="VGG-Sound style CSV: youtube_id,start_seconds,label,split; files named <id>_<start:06d>.mp4."),
        workers: int = typer.Option(2, "--workers", "-j", min=0, help="Decoder processes (0 = decode in this process)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the train/val/test split by video."),
        split: str = typer.Option("0.8,0.1,0.1", "--split", help="train,val,test shares of the videos (a CSV's 'test' rows always go to test)."),
        silence_rms: float = typer.Option(1e-3, "--silence-rms", min=0.0, help="Seconds quieter than this RMS are reported as silent (training can leave them out)."),
        groups: Path | None = typer.Option(None, "--groups", help="CSV with a header: first column the video (file name or id), --group-column its group; a group never spans two splits."),
        group_column: str = typer.Option("group", "--group-column", help="Column of --groups that names the group (e.g. 'scenario' in the gameplay corpus manifest)."),
        split_column: str | None = typer.Option(None, "--split-column", help="Column of --groups that pins each listed video's split (train, val or test), e.g. 'split' in scripts/recording/corpus.csv."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar with ETA."),
    ) -> None:
        """Decode videos into frames (224x224 at t=k+0.5 s) and 1-s log-mels (64x100); resumable."""
        from engine.data.prepare import prepare_dataset

        try:
            report = prepare_dataset(
                videos,
                out,
                labels_csv=labels,
                workers=workers,
                seed=seed,
                split_ratios=_ratios(split),
                features=FeatureCfg(),
                progress=progress,
                silence_rms=silence_rms,
                groups_csv=groups,
                group_column=group_column,
                split_column=split_column,
            )
        except KeyboardInterrupt:
            typer.echo(f"interrupted: the finished videos are kept in {out}; run the same command again to continue", err=True)
            raise typer.Exit(130) from None
        typer.echo(report.summary())
        if not report.ok:
            typer.echo(f"error: no video under {videos} could be used (see the reasons above); nothing was written", err=True)
            raise typer.Exit(1)
