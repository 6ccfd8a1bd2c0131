"""An index folder's layout, where the demo library is indexed, and the shipped model.

The per-user folders (default index, video cache) are ``engine.user_dirs``'; they are re-exported
here under the names the engine has always used.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from engine.user_dirs import index_dir as default_db_dir
from engine.user_dirs import video_cache_dir as default_cache_dir  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

DB_FILE = "library.sqlite"
CHUNK_DIR = "vectors"  # float16 embedding chunks (.npy), the durable copy of every vector
HNSW_PREFIX = "hnsw-"  # hnsw-<commit seq>.bin: the search graph, rebuilt from chunks when stale
LOCK_FILE = "index.lock"


DEMO_DB_NAME = "demo-library"  # beside the default index, only when that one is the user's own


def index_roots(db_dir: Path) -> set[str] | None:
    """The library folders an index holds sounds from (absolute); ``None`` when ``db_dir`` has no
    index, and a marker set when it cannot be read (so it is treated as someone's own)."""
    import sqlite3

    db = Path(db_dir) / DB_FILE
    if not db.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0) as conn:
            rows = conn.execute("SELECT DISTINCT root FROM files").fetchall()
    except sqlite3.Error as exc:
        log.debug("cannot read the folders of %s: %s", db, exc)
        return {"<unreadable index>"}
    return {os.fsdecode(bytes(r)) if isinstance(r, (bytes, memoryview)) else str(r) for (r,) in rows}


def demo_db_dir(demo_library: Path | None, db_dir: Path | None = None) -> Path:
    """Where the bundled demo library is indexed: the one shared default index (``db_dir``, default
    :func:`default_db_dir`) that the app, ``foley-engine`` and the headless demo all read, as long
    as it holds nothing but the demo (or does not exist yet). Once it holds the user's own sounds it
    is left alone and the demo gets a folder of its own beside it (``demo-library``)."""
    db = Path(db_dir) if db_dir is not None else default_db_dir()
    roots = index_roots(db)
    demo = {os.path.abspath(demo_library)} if demo_library is not None else set()
    if not roots or roots <= demo:
        return db
    return db.parent / DEMO_DB_NAME


def default_model_path() -> Path | None:
    """The shipped model ``resources/models/default.pt`` if it is installed, else ``None``."""
    from engine.resources import default_model_path as shipped

    return shipped()
