"""``Candidate``: one ranked sound, what the recommender returns and the app shows."""

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
    score: float  # 0..1 relevance, higher is better (engine.library.ranking; 1 - distance / 2 for sound queries)
    duration_s: float  # whole file length (seconds)
    description: str = ""  # BWF description / comment tag, if any
    rank: int = 0  # 1-based position in the list it came from
