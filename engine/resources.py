"""Find the files that ship with the app (default model, demo media, icons) wherever it runs.

The ``resources/`` folder of the repository is found in three layouts:

- a PyInstaller bundle: ``<sys._MEIPASS>/resources`` (the spec in ``packaging/`` puts it there);
- a source checkout (also ``pip install -e .``): ``<repo>/resources`` next to ``engine/``;
- an installed wheel: the ``foley_resources`` package (``pyproject.toml`` maps ``resources/`` to it).

The ``*_path()`` helpers return ``None`` when the file is not there, so callers can fall back to
asking the user, never crash.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path, PurePath

from engine.data.media import SOUND_EXTENSIONS, VIDEO_EXTENSIONS

log = logging.getLogger(__name__)

PACKAGE = "foley_resources"  # the name resources/ is installed under by the wheel
DEFAULT_MODEL = ("models", "default.pt")
DEMO_DIR = ("demo",)
DEMO_VIDEO_NAMES = ("demo.mp4", "demo.mov", "demo.mkv")
DEMO_LIBRARY_NAMES = ("library", "sounds")
APP_ICON = ("icons", "foley-assistant.svg")


def _bundle_root() -> Path | None:
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass is None:
        return None
    root = Path(meipass) / "resources"
    return root if root.is_dir() else None


def _checkout_root() -> Path | None:
    repo = Path(__file__).resolve().parents[1]
    root = repo / "resources"
    return root if root.is_dir() and (repo / "pyproject.toml").is_file() else None


def _package_root() -> Path | None:
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        if Path(location).is_dir():
            return Path(location)
    return None


def resources_root() -> Path | None:
    """The folder holding the bundled resources, or ``None`` if this installation has none."""
    for finder in (_bundle_root, _checkout_root, _package_root):
        root = finder()
        if root is not None:
            return root
    return None


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, e.g. ``resource_path("models", "default.pt")``; it may not exist."""
    for part in parts:
        pure = PurePath(part)
        if pure.is_absolute() or ".." in pure.parts:
            raise ValueError(f"resource parts must be relative names inside resources/, got {part!r}")
    root = resources_root()
    if root is None:
        # Nothing bundled: point at where a checkout keeps it, so messages show a useful path.
        root = Path(__file__).resolve().parents[1] / "resources"
    return root.joinpath(*parts)


def _bundled(*parts: str) -> Path | None:
    """A path inside the found resources folder (never the fallback), or ``None`` without one."""
    root = resources_root()
    return root.joinpath(*parts) if root is not None else None


def _existing_file(*parts: str) -> Path | None:
    path = _bundled(*parts)
    return path if path is not None and path.is_file() else None


def default_model_path() -> Path | None:
    """The shipped model checkpoint, or ``None`` if it is not bundled."""
    return _existing_file(*DEFAULT_MODEL)


def app_icon_path() -> Path | None:
    """The application icon (SVG), or ``None`` if it is not bundled."""
    return _existing_file(*APP_ICON)


def demo_video_path() -> Path | None:
    """The demo video: ``demo/demo.mp4`` (or .mov/.mkv), else the first video in ``demo/``."""
    demo = _bundled(*DEMO_DIR)
    if demo is None or not demo.is_dir():
        return None
    for name in DEMO_VIDEO_NAMES:
        if (demo / name).is_file():
            return demo / name
    videos = sorted(p for p in demo.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    return videos[0] if videos else None


def demo_library_path() -> Path | None:
    """The demo sound library folder: ``demo/library`` (or ``demo/sounds``), else the first folder of sounds in ``demo/``."""
    demo = _bundled(*DEMO_DIR)
    if demo is None or not demo.is_dir():
        return None
    for name in DEMO_LIBRARY_NAMES:
        if (demo / name).is_dir():
            return demo / name
    for folder in sorted(p for p in demo.iterdir() if p.is_dir()):
        if any(f.suffix.lower() in SOUND_EXTENSIONS for f in folder.rglob("*") if f.is_file()):
            return folder
    return None
