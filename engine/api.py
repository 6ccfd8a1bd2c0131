"""The engine's public API: what ``foley_app`` (and scripts) use. Everything else is internal.

The app imports only from this module. Each name is re-exported from the module that owns it.
``import engine.api`` stays cheap: a name's module (and what it pulls in: numpy, torch, PyAV) is
imported on first use (PEP 562 ``__getattr__``); only the version is there from the start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from engine.version import __version__

_LAZY: dict[str, str] = {}  # name -> the module that owns it, imported on first use


def _lazy(module: str, *names: str) -> None:
    _LAZY.update(dict.fromkeys(names, module))


# -- the result type: one ranked sound ----------------------------------------------------------
_lazy("engine.library.candidate", "Candidate")

# -- atomic writes: a file is replaced whole or not at all ---------------------------------------
_lazy("engine.atomic", "atomic_path", "atomic_write_bytes", "atomic_write_text", "describe_os_error", "remove_stale_temps")

# -- errors: every engine failure is an EngineError with a one-line message for the user ---------
_lazy("engine.errors", "CheckpointError", "ConfigError", "DatasetError", "EngineError", "MediaError", "SoundIndexError")

# -- loading: the model, its index, the recommender and the video cache in one call --------------
_lazy("engine.library.loading", "LoadedEngine", "load_engine", "load_model", "resolve_device")

# -- ranking: the recommender, its filters, and learning from the designer's choices -------------
_lazy("engine.library.recommender", "Filters", "Recommender")
_lazy("engine.library.feedback", "Feedback", "FeedbackCfg", "loudest_second", "sound_vectors")
_lazy("engine.library.video_cache", "VideoEmbeddingCache")

# -- the sound index: indexing folders, what it holds, where it lives ----------------------------
_lazy("engine.library.indexer", "IndexReport", "index_library")
_lazy("engine.library.sound_index", "LibraryStats", "SoundIndex")
_lazy("engine.library.store", "SoundFile")
_lazy("engine.library.scan", "INDEXED_EXTENSIONS")
_lazy("engine.library.paths", "DB_FILE", "default_cache_dir", "default_db_dir", "demo_db_dir")
_lazy("engine.models.towers", "TOWER_CREDITS")

# -- per-user folders: where the index, caches, autosaves, logs and settings live -----------------
_lazy("engine.user_dirs", "SETTINGS_APP", "SETTINGS_ORG", "autosave_dir", "log_dir")

# -- pre-built index: the shipped demo index and when it is installed instead of indexing --------
_lazy("engine.library.prebuilt", "InstallResult", "demo_index_path", "install_prebuilt_first")

# -- media: probing videos, reading frames and decoding audio -------------------------------------
_lazy("engine.data.media", "VIDEO_EXTENSIONS", "VideoInfo", "frame_times", "iter_frames_at", "load_audio", "probe_video",
      "read_frame")

# -- timecode: SMPTE HH:MM:SS:FF <-> seconds and frames, a video's start timecode ----------------
_lazy("engine.timecode", "DEFAULT_FPS", "TimecodeError", "frames_to_timecode", "is_drop_frame_rate", "is_drop_frame_text", "nominal_rate",
      "seconds_to_frames", "seconds_to_timecode", "timecode_after", "timecode_to_frames", "timecode_to_seconds",
      "video_start_timecode")

# -- bundled resources: the default model, the demo video and library, icons ---------------------
_lazy("engine.resources", "app_icon_path", "default_model_path", "demo_library_path", "demo_video_path", "resource_path",
      "resources_root")

__all__ = sorted(["__version__", *_LAZY])


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from engine.atomic import atomic_path, atomic_write_bytes, atomic_write_text, describe_os_error, remove_stale_temps
    from engine.data.media import (
        VIDEO_EXTENSIONS,
        VideoInfo,
        frame_times,
        iter_frames_at,
        load_audio,
        probe_video,
        read_frame,
    )
    from engine.errors import CheckpointError, ConfigError, DatasetError, EngineError, MediaError, SoundIndexError
    from engine.library.candidate import Candidate
    from engine.library.feedback import Feedback, FeedbackCfg, loudest_second, sound_vectors
    from engine.library.indexer import IndexReport, index_library
    from engine.library.loading import LoadedEngine, load_engine, load_model, resolve_device
    from engine.library.paths import DB_FILE, default_cache_dir, default_db_dir, demo_db_dir
    from engine.library.prebuilt import InstallResult, demo_index_path, install_prebuilt_first
    from engine.library.recommender import Filters, Recommender
    from engine.library.scan import INDEXED_EXTENSIONS
    from engine.library.sound_index import LibraryStats, SoundIndex
    from engine.library.store import SoundFile
    from engine.library.video_cache import VideoEmbeddingCache
    from engine.models.towers import TOWER_CREDITS
    from engine.resources import (
        app_icon_path,
        default_model_path,
        demo_library_path,
        demo_video_path,
        resource_path,
        resources_root,
    )
    from engine.timecode import (
        DEFAULT_FPS,
        TimecodeError,
        frames_to_timecode,
        is_drop_frame_rate,
        is_drop_frame_text,
        nominal_rate,
        seconds_to_frames,
        seconds_to_timecode,
        timecode_after,
        timecode_to_frames,
        timecode_to_seconds,
        video_start_timecode,
    )
    from engine.user_dirs import SETTINGS_APP, SETTINGS_ORG, autosave_dir, log_dir
