"""``foley-engine``: thin Typer glue over the same engine functions the app uses.

Each group of sub-commands lives in its own module under ``engine/commands/`` and adds itself
with ``register(app)``.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import sys

import typer

from engine.errors import EngineError
from engine.version import __version__

log = logging.getLogger(__name__)

COMMAND_MODULES = ("prepare", "combine", "towers", "heads", "train", "evaluate", "evaluate_library", "library", "demo", "bench")

app = typer.Typer(
    name="foley-engine",
    help="Train the audio-visual model, index sound libraries and recommend sounds for video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"foley-engine {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages, the decoders' included."),
) -> None:
    quiet_libraries(verbose)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("engine").setLevel(logging.INFO)  # the engine's own progress notes; other libraries: warnings


def quiet_libraries(verbose: bool) -> None:
    """Keep the decoders' own console lines (FFmpeg inside OpenCV, OpenCV's warnings) out of the output
    unless ``--verbose``: a bad file is reported once, by the engine, about the file. Set before cv2 is
    imported (commands import it lazily); inherited by worker processes; a value already set wins."""
    if verbose:
        return
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def _flags_without_value_type() -> None:
    """Typer's rich help prints every flag as ``--json <bool>``, as if it took a value; show flags bare."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_foley_flags", False):
        return

    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) and not getattr(self, "count", False):
            return None
        return shown(self, ctx)

    display_type_rich._foley_flags = True
    TyperOption.display_type_rich = display_type_rich


_flags_without_value_type()


for _name in COMMAND_MODULES:
    importlib.import_module(f"engine.commands.{_name}").register(app)

# Commands that other installed packages add: entry points in the group ``foley_engine.commands``,
# each naming a ``register(app)`` function. The app's package adds ``export`` this way: it renders a
# saved project with the app's Qt-free project reader and mixer, which the engine itself never imports.
PLUGIN_GROUP = "foley_engine.commands"


def _register_plugins(target: typer.Typer) -> None:
    from importlib.metadata import entry_points

    seen: set[str] = set()
    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.name in seen:  # the same package found twice on the path
            continue
        seen.add(ep.name)
        try:
            ep.load()(target)
        except Exception as exc:  # noqa: BLE001 - a broken add-on must not take the engine's own commands down
            log.warning("command %r from %s not available: %s", ep.name, ep.value, exc)


_register_plugins(app)


def main() -> None:
    """Console entry point: engine errors become one line on stderr and exit code 1."""
    try:
        app()
    except EngineError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:  # e.g. a full disk while writing: one line, not a traceback (files are replaced atomically)
        where = f" ({exc.filename})" if exc.filename else ""
        hint = "; free some space and run the command again" if exc.errno == errno.ENOSPC else ""
        typer.echo(f"error: {exc.strerror or exc}{where}{hint}", err=True)
        sys.exit(1)
