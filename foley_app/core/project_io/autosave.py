"""Crash recovery: autosaves next to saved projects (sidecars) or, for untitled ones, in the user's data folder."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.api import autosave_dir
from foley_app.core.document import Document
from foley_app.core.project_io.codec import write_file
from foley_app.core.project_io.schema import AUTOSAVE_SUFFIX

log = logging.getLogger(__name__)

def untitled_autosave_dir() -> Path:
    """Where autosaves of never-saved documents go (the per-user data folder / "autosave")."""
    return autosave_dir()


def sidecar_path(project: Path | str) -> Path:
    """The autosave next to a project: ``scene.foley.json`` -> ``scene.foley.autosave.json``."""
    project = Path(project)
    return project.with_name(project.name.removesuffix(".json") + AUTOSAVE_SUFFIX)


def autosave_path(doc: Document) -> Path:
    """The sidecar of a saved document, or a per-session file in ``untitled_autosave_dir()``."""
    if doc.path is not None:
        return sidecar_path(doc.path)
    return untitled_autosave_dir() / f"untitled-{doc.session_id}{AUTOSAVE_SUFFIX}"


def write_autosave(doc: Document) -> Path:
    """Save a copy of ``doc`` for crash recovery (atomic); the document stays dirty and keeps its path."""
    path = autosave_path(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(doc, path, autosave_of=doc.path)
    log.debug("autosaved to %s", path)
    return path


def find_recovery(project: Path | str) -> Path | None:
    """The project's autosave if it is newer than the project (work lost in a crash), else None."""
    project = Path(project)
    sidecar = sidecar_path(project)
    try:
        auto = sidecar.stat().st_mtime_ns
    except OSError:
        return None
    try:
        return sidecar if auto > project.stat().st_mtime_ns else None
    except OSError:
        return sidecar  # the project itself is gone: the autosave is all there is


def untitled_autosaves(folder: Path | None = None) -> list[Path]:
    """Autosaves of never-saved documents a crash left behind, newest first."""
    folder = folder or untitled_autosave_dir()
    try:
        found = list(folder.glob(f"untitled-*{AUTOSAVE_SUFFIX}"))
    except OSError:
        return []
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def discard_autosave(doc_or_path: Document | Path | str) -> None:
    """Delete the autosave of a document (or of a project path, or the autosave file itself)."""
    if isinstance(doc_or_path, Document):
        target = autosave_path(doc_or_path)
    else:
        p = Path(doc_or_path)
        target = p if p.name.endswith(AUTOSAVE_SUFFIX) else sidecar_path(p)
    unlink_quietly(target)


def unlink_quietly(path: Path) -> None:
    """Delete ``path`` if it is there; a failure is logged, not raised."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
