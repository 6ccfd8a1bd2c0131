"""Icons and bundled files (default model, demo media), found through ``engine.resources``."""

from __future__ import annotations

import logging
from functools import lru_cache

from PySide6.QtGui import QIcon

from engine.resources import app_icon_path, default_model_path, demo_library_path, demo_video_path, resource_path

log = logging.getLogger(__name__)

__all__ = ["icon", "app_icon", "default_model_path", "demo_library_path", "demo_video_path"]


@lru_cache(maxsize=None)
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
