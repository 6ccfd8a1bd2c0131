"""Where things live on disk: the default index folder, the shipped model, the video cache."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

APP_NAME = "foley-assistant"
DB_FILE = "library.sqlite"
CHUNK_DIR = "vectors"  # float16 embedding chunks (.npy), the durable copy of every vector
HNSW_PREFIX = "hnsw-"  # hnsw-<commit seq>.bin: the search graph, rebuilt from chunks when stale
LOCK_FILE = "index.lock"


def default_db_dir() -> Path:
    """The per-user sound index folder (platformdirs user data dir / "library")."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "library"


def default_cache_dir() -> Path:
    """The per-user video embedding cache (platformdirs user cache dir / "video")."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "video"


def default_model_path() -> Path | None:
    """The shipped model ``resources/models/default.pt`` if it is installed, else ``None``."""
    from engine.resources import default_model_path as shipped

    return shipped()
