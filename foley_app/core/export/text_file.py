"""Text exports (OTIO, cue sheet) written atomically; a failure is one ``ExportError`` line."""

from __future__ import annotations

from pathlib import Path

from engine.api import atomic_write_text, describe_os_error
from foley_app.core.errors import ExportError


def write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` through a temp file renamed into place; ``ExportError`` names the cause."""
    try:
        atomic_write_text(path, text, encoding)
    except OSError as exc:
        raise ExportError(f"could not write {path}: {describe_os_error(exc)}") from exc
