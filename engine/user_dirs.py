"""Where this user's files live: the sound index, the video cache, autosaves, logs, the settings' names.

The one place that asks ``platformdirs``, so the app, ``foley-engine`` and the demo agree on every
folder. Nothing is created here; callers make a folder when they first write to it.
"""

from __future__ import annotations

from pathlib import Path

APP_NAME = "foley-assistant"  # the data and cache folders' name
LOG_APP_NAME = "Foley Assistant"  # the log folder's name
SETTINGS_ORG, SETTINGS_APP = "FoleyAssistant", "Foley Assistant"  # QSettings names: Qt places the ini file from them


def user_data_dir() -> Path:
    """The per-user data folder (e.g. ``~/.local/share/foley-assistant`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    """The per-user cache folder (e.g. ``~/.cache/foley-assistant`` on Linux): safe to delete."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def index_dir() -> Path:
    """The user's sound index folder (data folder / ``library``)."""
    return user_data_dir() / "library"


def video_cache_dir() -> Path:
    """The video embedding cache (cache folder / ``video``)."""
    return user_cache_dir() / "video"


def bench_work_dir() -> Path:
    """Scratch space of ``foley-engine bench`` (cache folder / ``bench``)."""
    return user_cache_dir() / "bench"


def autosave_dir() -> Path:
    """Autosaves of projects never saved under a name (data folder / ``autosave``)."""
    return user_data_dir() / "autosave"


def log_dir() -> Path:
    """The app's rotating log files."""
    import platformdirs

    return Path(platformdirs.user_log_dir(LOG_APP_NAME, appauthor=False))
