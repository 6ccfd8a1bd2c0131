"""`foley-engine demo`: the bundled demo without a window (what ``scripts/demo`` runs headless).

It indexes the demo library into the one default index the app and the other commands share (from
the shipped pre-built index, then checked file by file), writes the cue sheet of the demo video and
prints its first cues, so ``foley-engine recommend resources/demo/demo.mp4 --at 12.5`` works next.
When the default index already holds the user's own sounds it is left alone: the demo gets an
index folder of its own, and the output says how to reach it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from engine.errors import EngineError, SoundIndexError


def _shown(path: Path) -> str:
    """A path as the user would type it: relative when it lies under the current folder."""
    try:
        path = Path(path).resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        pass
    return os.fsencode(path).decode("utf-8", "replace")


def cue_table(cues: list[dict], rows: int, per_cue: int = 3) -> str:
    """The first ``rows`` cues, one line each: timecode and the best ``per_cue`` sounds with scores."""
    lines = [f"{'cue':>3}  {'timecode':<11}  best sounds (score)"]
    for cue in cues[:rows]:
        best = "   ".join(f"{c['name'][:22]} ({c['score']:.2f})" for c in cue["candidates"][:per_cue])
        lines.append(f"{cue['cue']:>3}  {cue['start_tc']:<11}  {best}")
    return "\n".join(lines)


def demo_cmd(
    out: Path = typer.Option(None, "--out", "-o", help="Folder for the demo's cue sheet (default: foley-demo-cues in the temp folder)."),
    top: int = typer.Option(5, "--top", "-k", min=1, help="Candidates per cue."),
    rows: int = typer.Option(8, "--rows", min=0, help="How many cues to print."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Index the bundled demo library into your default index and write a cue sheet for the demo video."""
    from engine.commands.library import _fail, _install_prebuilt, _model, write_cue_sheet
    from engine.library.indexer import index_library
    from engine.library.paths import default_db_dir, demo_db_dir
    from engine.library.prebuilt import demo_index_path
    from engine.library.spotting import spot_video
    from engine.resources import demo_library_path, demo_video_path

    video, library = demo_video_path(), demo_library_path()
    if video is None or library is None:
        _fail(SoundIndexError("the bundled demo (resources/demo: demo.mp4 and library/) is not installed here"))
    out = out or Path(tempfile.gettempdir()) / "foley-demo-cues"
    shared = default_db_dir()
    db = demo_db_dir(library, shared)
    try:
        m = _model(None)
        _install_prebuilt(demo_index_path(), [library], db, m.model_id)
        report = index_library([library], m, db, workers=0, progress=not quiet)
        cues = spot_video(video, m, db, top=top, progress=not quiet)
    except EngineError as exc:
        _fail(exc)
    write_cue_sheet(video, cues, out, per_shot=False)
    typer.echo(f"demo library: {report.files} sounds indexed in {db}")
    if db != shared:
        typer.echo(f"your own sound index at {_shown(shared)} is kept as it is; the demo has its own index, "
                   f"reach it with --db {_shown(db)}")
    typer.echo(f"\n{_shown(video)}: the first {min(rows, len(cues))} of {len(cues)} cues\n{cue_table(cues, rows)}\n")
    typer.echo(f"cue sheet: {_shown(out / 'cues.csv')} and {_shown(out / 'cues.json')}")
    db_arg = "" if db == shared else f" --db {_shown(db)}"
    typer.echo(f"next: foley-engine recommend {_shown(video)} --at 00:00:12.5{db_arg}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("demo")(demo_cmd)
