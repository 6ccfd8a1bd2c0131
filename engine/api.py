"""The engine's public API: what ``foley_app`` (and scripts) use. Everything else is internal.

The app imports only from this module. The names below are re-exported from the modules that
own them; ``Candidate`` is defined here because it is the contract between engine and app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Candidate:
    """One ranked sound for a frame: a library file and its best-matching 1-s segment."""

    sound_id: int  # the file's id in the library database
    path: Path  # absolute path of the sound file
    name: str  # display name (file stem or BWF/ID3 title)
    category: str  # UCS category, tag, or folder name
    start_s: float  # offset of the best segment in the file (seconds)
    distance: float  # Euclidean distance between L2-normalised embeddings, 0..2
    score: float  # 0..1, higher is better (1 - distance / 2)
    duration_s: float  # whole file length (seconds)
    description: str = ""  # BWF description / comment tag, if any
    rank: int = 0  # 1-based position in the list it came from


# -- sound library and recommender (engine.library) -------------------------------------------
# Imported after Candidate: engine.library.recommender builds Candidates.
from engine.library.indexer import IndexReport, index_library  # noqa: E402
from engine.library.paths import default_cache_dir, default_db_dir  # noqa: E402
from engine.library.recommender import Filters, Recommender, load_recommender  # noqa: E402
from engine.library.sound_index import LibraryStats, SoundIndex  # noqa: E402
from engine.library.store import SoundFile  # noqa: E402
from engine.library.video_cache import VideoEmbeddingCache  # noqa: E402

__all__ = [
    "Candidate",
    "Filters",
    "IndexReport",
    "LibraryStats",
    "Recommender",
    "SoundFile",
    "SoundIndex",
    "VideoEmbeddingCache",
    "default_cache_dir",
    "default_db_dir",
    "index_library",
    "load_recommender",
]
