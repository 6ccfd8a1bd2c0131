"""Saving and opening projects: an atomic save retires the autosave; a load validates everything.

What cannot be found is reported by ``missing_media`` (and can be relinked), never an error.
Anything else wrong raises ``ProjectError`` naming the file, the key and the problem.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from foley_app.core.document import Document
from foley_app.core.project_io.autosave import autosave_path, unlink_quietly
from foley_app.core.project_io.codec import project_from_dict, write_file
from foley_app.core.project_io.reader import parse_file
from foley_app.core.project_io.relink import missing_media
from foley_app.core.project_io.schema import AUTOSAVE_SUFFIX, MAX_PATH_CHARS, ProjectError
from foley_app.core.project_io.stamp import file_stamp

log = logging.getLogger(__name__)


def save_project(doc: Document, path: Path | str) -> None:
    """Write ``doc`` to ``path`` atomically; then it is clean, bound to ``path``, and its autosave is gone."""
    path = Path(os.path.abspath(path))
    old_autosave = autosave_path(doc)
    write_file(doc, path)
    doc.path = path
    doc.dirty = False
    doc.file_stamp = file_stamp(path)
    for stale in {old_autosave, autosave_path(doc)}:
        unlink_quietly(stale)
    log.info("saved project %s (%d tracks, %d clips)", path, len(doc.tracks), doc.clip_count())


def load_project(path: Path | str) -> Document:
    """Read, validate and build a project (clean, bound to ``path``); ``ProjectError`` if anything is wrong.

    Media that cannot be found do not fail the load; ask ``missing_media(doc)``.
    """
    path = Path(os.path.abspath(path))
    data = parse_file(path)
    try:
        doc = project_from_dict(data, path.parent, source=str(path))
    except ProjectError as exc:
        msg = str(exc)
        raise ProjectError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
    if path.name.endswith(AUTOSAVE_SUFFIX):  # recovered work: bound to its project, not saved there yet
        target = data.get("autosave_of")
        doc.path = Path(target) if isinstance(target, str) and 0 < len(target) <= MAX_PATH_CHARS else None
        if doc.path is None and path.name.startswith("untitled-"):
            doc.session_id = path.name[len("untitled-"): -len(AUTOSAVE_SUFFIX)]  # so a save retires this file
        doc.dirty = True
    else:
        doc.path = path
        doc.dirty = False
        doc.file_stamp = file_stamp(path)
    missing = missing_media(doc)
    if missing:
        log.warning("%s: %d media file(s) not found, e.g. %s", path, len(missing), missing[0])
    return doc
