"""`foley-engine` sub-commands: evaluate-library (recommendations against labelled gameplay and a real library)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI (filled in by the issue that owns them)."""
