"""Project files: versioned JSON with relative media paths, atomic saves, strict validation, autosave.

- ``schema``: the file's layout, its limits and ``ProjectError``;
- ``reader``: strict JSON reading with typed, range-checked access;
- ``codec``: a ``Document`` to and from that JSON;
- ``store``: ``save_project`` and ``load_project``;
- ``relink``: media not found, and where they may have moved;
- ``autosave``: crash recovery files;
- ``stamp``: whether another window rewrote the file since we read it.
"""

from foley_app.core.project_io.autosave import (
    autosave_path,
    discard_autosave,
    find_recovery,
    sidecar_path,
    untitled_autosave_dir,
    untitled_autosaves,
    write_autosave,
)
from foley_app.core.project_io.codec import project_from_dict, project_to_dict
from foley_app.core.project_io.relink import find_relinks, missing_media
from foley_app.core.project_io.schema import (
    AUTOSAVE_SUFFIX,
    FORMAT,
    MAX_FILE_BYTES,
    PROJECT_SUFFIX,
    VERSION,
    ProjectError,
)
from foley_app.core.project_io.stamp import changed_on_disk
from foley_app.core.project_io.store import load_project, save_project

__all__ = [
    "AUTOSAVE_SUFFIX", "FORMAT", "MAX_FILE_BYTES", "PROJECT_SUFFIX", "VERSION", "ProjectError",
    "autosave_path", "changed_on_disk", "discard_autosave", "find_recovery", "find_relinks", "load_project",
    "missing_media", "project_from_dict", "project_to_dict", "save_project", "sidecar_path",
    "untitled_autosave_dir", "untitled_autosaves", "write_autosave",
]
