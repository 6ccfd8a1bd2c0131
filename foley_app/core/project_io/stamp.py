"""Whether a project file was rewritten by someone else (another window) since this document read or wrote it."""

from __future__ import annotations

from pathlib import Path

from foley_app.core.document import Document


def file_stamp(path: Path) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a file, None if it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def changed_on_disk(doc: Document) -> bool:
    """True if the project file was rewritten by someone else (another window) since we loaded/saved it."""
    if doc.path is None or doc.file_stamp is None:
        return False
    return file_stamp(doc.path) != doc.file_stamp
