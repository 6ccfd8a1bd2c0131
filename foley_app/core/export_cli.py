"""``foley-engine export``: render a saved project without the GUI (batch jobs, automation, CI).

The engine may not import the app (its import contract keeps it Qt-free), yet exporting needs the
app's project reader and mixer. Those modules are Qt-free, so this command lives here, beside
them, and the app's package hands it to ``foley-engine`` through the entry point group
``foley_engine.commands`` (``pyproject.toml``), which ``engine.cli`` loads at start. Nothing on
this path imports PySide6 (a test checks ``sys.modules``); heavy imports wait until the command runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def export_cmd(
    project: Path = typer.Argument(..., help="A saved project (.foley.json)."),
    wav: Path = typer.Option(None, "--wav", help="Write the mix here: a Broadcast WAV (bext + iXML)."),
    stems: Path = typer.Option(None, "--stems", help="Write one Broadcast WAV per audible track into this folder "
                               "(32-bit float, before the limiter, as long as the mix)."),
    otio: Path = typer.Option(None, "--otio", help="Write an OpenTimelineIO timeline (.otio) with a marker per cue."),
    csv_out: Path = typer.Option(None, "--csv", help="Write a cue sheet (CSV with timecodes)."),
    mode: str = typer.Option("limit", "--mode", help="Mix: 'limit' (look-ahead limiter at -1 dBFS) or 'normalize'."),
    bits: str = typer.Option("24", "--bits", help="Mix sample format: 16, 24, 32 (PCM) or float."),
    channels: int = typer.Option(1, "--channels", help="1 (mono) or 2 (the mono mix on both channels)."),
    start_tc: str = typer.Option(None, "--start-tc", help="Timecode of the video's first frame, HH:MM:SS:FF "
                                 "(default: the video's own, else 00:00:00:00); sets the files' BWF time reference."),
    scene: str = typer.Option(None, "--scene", help="iXML scene name (default: the video's file name)."),
    take: str = typer.Option(None, "--take", help="iXML take name (default: 1)."),
) -> None:
    """Render a saved project without the GUI: the mix, stems, an OTIO timeline and a cue sheet."""
    from foley_app.core import export
    from foley_app.core.project_io import load_project, missing_media

    if not any((wav, stems, otio, csv_out)):
        raise export.ExportError("nothing to do: give at least one of --wav, --stems, --otio, --csv")
    subtypes = {"16": "PCM_16", "24": "PCM_24", "32": "PCM_32", "float": "FLOAT"}
    if bits.lower() not in subtypes:
        raise export.ExportError(f"--bits must be 16, 24, 32 or float, got {bits!r}")
    if mode not in export.MODES:
        raise export.ExportError(f"--mode must be one of {', '.join(export.MODES)}, got {mode!r}")
    outputs = [p for p in (wav, otio, csv_out) if p is not None]
    if len({Path(p).resolve() for p in outputs}) < len(outputs):
        raise export.ExportError("--wav, --otio and --csv must name different files")
    for p in outputs:
        if Path(p).is_dir():
            raise export.ExportError(f"{p} is a folder; give a file name")
        if not Path(p).absolute().parent.is_dir():
            raise export.ExportError(f"{p}: the folder {Path(p).absolute().parent} does not exist")
    if stems is not None and stems.exists() and not stems.is_dir():
        raise export.ExportError(f"--stems {stems} is a file; give a folder (it is created if missing)")
    io_log = logging.getLogger("foley_app.core.project_io")
    level = io_log.level
    io_log.setLevel(logging.ERROR)  # missing media: the one-line error below says it, not a warning too
    try:
        doc = load_project(project)
    finally:
        io_log.setLevel(level)
    missing = missing_media(doc)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise export.ExportError(f"{project}: {len(missing)} media file(s) not found: "
                                 f"{', '.join(str(p) for p in missing[:3])}{more}; relink them in the app first")
    session = export.session_of(doc, scene=scene, take=take, start_timecode=start_tc)
    if wav is not None:
        export.export_wav(doc, wav, mode=mode, channels=channels, subtype=subtypes[bits.lower()], session=session)
        typer.echo(f"mix: {wav}")
    if stems is not None:
        paths = export.export_stems(doc, stems, session=session)
        typer.echo(f"stems: {len(paths)} in {stems}")
    if otio is not None:
        export.export_otio(doc, otio, session=session)
        typer.echo(f"timeline: {otio}")
    if csv_out is not None:
        export.export_cue_csv(doc, csv_out, session=session)
        typer.echo(f"cue sheet: {csv_out}")
    typer.echo(f"{export.project_name(doc)}: starts at {session.start_timecode} ({session.fps:g} fps), "
               f"BWF time reference {session.time_reference(48_000)} samples at 48 kHz")


def register(app: typer.Typer) -> None:
    """Add ``export`` to a Typer app (``foley-engine`` calls this through its entry point)."""
    app.command("export")(export_cmd)
