"""The engine's public API: what ``foley_app`` (and scripts) use. Everything else is internal.

The app imports only from this module. The names below are re-exported from the modules that
own them; ``Candidate`` is defined here because it is the contract between engine and app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.atomic import atomic_path, atomic_write_bytes, atomic_write_text, describe_os_error, remove_stale_temps


@dataclass(frozen=True)
class Candidate:
    """One ranked sound for a frame: a library file and its best-matching 1-s segment."""

    sound_id: int  # the file's id in the library database
    path: Path  # absolute path of the sound file
    name: str  # display name (file stem or BWF/ID3 title)
    category: str  # UCS category, tag, or folder name
    start_s: float  # offset of the best segment in the file (seconds)
    distance: float  # Euclidean distance between L2-normalised embeddings, 0..2
    score: float  # 0..1 relevance, higher is better (engine.library.ranking; 1 - distance / 2 for sound queries)
    duration_s: float  # whole file length (seconds)
    description: str = ""  # BWF description / comment tag, if any
    rank: int = 0  # 1-based position in the list it came from


# -- sound library and recommender (engine.library) -------------------------------------------
# Loaded on first use (PEP 562): engine.library builds Candidates, so importing it here eagerly
# would be circular, and code that only needs Candidate does not pay for the library.
_LIBRARY = {
    "Filters": "engine.library.recommender",
    "Recommender": "engine.library.recommender",
    "load_recommender": "engine.library.recommender",
    "IndexReport": "engine.library.indexer",
    "index_library": "engine.library.indexer",
    "LibraryStats": "engine.library.sound_index",
    "SoundIndex": "engine.library.sound_index",
    "SoundFile": "engine.library.store",
    "VideoEmbeddingCache": "engine.library.video_cache",
    "default_cache_dir": "engine.library.paths",
    "default_db_dir": "engine.library.paths",
    "TOWER_CREDITS": "engine.models.towers",
    "demo_db_dir": "engine.library.paths",
    "Feedback": "engine.library.feedback",
    "FeedbackCfg": "engine.library.feedback",
    "loudest_second": "engine.library.feedback",
    "sound_vectors": "engine.library.feedback",
    "INDEXED_EXTENSIONS": "engine.library.scan",
    "SETTINGS_APP": "engine.user_dirs",
    "SETTINGS_ORG": "engine.user_dirs",
    "autosave_dir": "engine.user_dirs",
    "log_dir": "engine.user_dirs",
}

__all__ = [
    "Candidate",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "describe_os_error",
    "remove_stale_temps",
    *sorted(_LIBRARY),
]


def __getattr__(name: str) -> object:
    module = _LIBRARY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.api' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from engine.library.feedback import Feedback, FeedbackCfg, loudest_second, sound_vectors
    from engine.library.indexer import IndexReport, index_library
    from engine.library.scan import INDEXED_EXTENSIONS
    from engine.library.paths import default_cache_dir, default_db_dir, demo_db_dir
    from engine.library.recommender import Filters, Recommender, load_recommender
    from engine.library.sound_index import LibraryStats, SoundIndex
    from engine.library.store import SoundFile
    from engine.library.video_cache import VideoEmbeddingCache
    from engine.models.towers import TOWER_CREDITS
    from engine.user_dirs import SETTINGS_APP, SETTINGS_ORG, autosave_dir, log_dir
