"""Icons and bundled files (default model, demo media), found through ``engine.resources``."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

from engine.api import (
    app_icon_path,
    default_model_path,
    demo_library_path,
    demo_video_path,
    resource_path,
    resources_root,
)

log = logging.getLogger(__name__)

__all__ = ["icon", "app_icon", "default_model_path", "demo_library_path", "demo_video_path", "is_bundled", "documents_dir"]


def is_bundled(path: Path) -> bool:
    """Whether ``path`` lies in the installation's own resources (the demo's folder): no place for a
    user's files (it can be read-only, and an update replaces it)."""
    root = resources_root()
    if root is None:
        return False
    try:
        Path(path).resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def documents_dir() -> Path:
    """The user's documents folder (the home folder where the platform has none)."""
    from PySide6.QtCore import QStandardPaths

    docs = QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation)
    return Path(docs) if docs and Path(docs).is_dir() else Path.home()


@cache
def icon(name: str) -> QIcon:
    """An icon from ``resources/icons/<name>.svg``; an empty icon (logged) if it is missing."""
    path = resource_path("icons", f"{name}.svg")
    if not path.is_file():
        log.warning("icon %s not found", path)
        return QIcon()
    return QIcon(str(path))


def app_icon() -> QIcon:
    """The application icon (empty if not bundled)."""
    path = app_icon_path()
    return QIcon(str(path)) if path else QIcon()
