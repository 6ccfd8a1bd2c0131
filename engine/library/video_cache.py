"""1-fps frame embeddings of a video, computed once and kept on disk, so scrubbing never re-encodes.

Cache file: ``<cache_dir>/<content key>-<model_id>.npy``, float32 ``(n_seconds, D)``; row ``k`` is
the frame at ``k + 0.5`` s (paper §3), rows not computed yet are NaN. The content key is the
SHA-256 of the file size and its first and last MiB (cheap for multi-GB videos; renaming or moving
the video keeps its cache, editing it makes a new one). Each block of frames is saved (temp file +
rename) as soon as it is embedded, so a cancelled or killed run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.data.media import frame_times, iter_frames_at, probe_video
from engine.errors import MediaError

log = logging.getLogger(__name__)

KEY_BYTES = 1 << 20
BLOCK_FRAMES = 16  # frames embedded (and saved) together
SAVE_EVERY_S = 2.0


def content_key(path: Path) -> str:
    """SHA-256 (24 hex chars) of the size and the first and last MiB of a file."""
    size = os.path.getsize(path)
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(KEY_BYTES))
        if size > KEY_BYTES:
            f.seek(max(KEY_BYTES, size - KEY_BYTES))
            h.update(f.read(KEY_BYTES))
    return h.hexdigest()[:24]


class VideoEmbeddingCache:
    """Frame embeddings of videos at 1 fps, on disk, keyed by content + model id (see module doc)."""

    def __init__(self, model, cache_dir: Path) -> None:
        self.model = model
        self.model_id = model.model_id  # hashing the weights is not free: once, not per lookup
        self.cache_dir = Path(cache_dir)
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> content key
        self._rows: dict[str, np.ndarray] = {}  # cache file name -> rows in memory

    def cache_file(self, path: Path) -> Path:
        path = Path(path)
        try:
            st = path.stat()
        except OSError as exc:
            raise MediaError(f"{path}: cannot read the video ({exc.strerror or exc})") from exc
        sig = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
        key = self._keys.get(sig)
        if key is None:
            key = content_key(path)
            self._keys[sig] = key
        return self.cache_dir / f"{key}-{self.model_id}.npy"

    def cached(self, path: Path) -> np.ndarray | None:
        """The embeddings computed so far, ``(n_seconds, D)`` with NaN rows where not yet; ``None`` if none."""
        file = self.cache_file(path)
        with self._lock:
            rows = self._rows.get(file.name)
        if rows is not None:
            return rows
        if not file.is_file():
            return None
        try:
            rows = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            log.warning("%s: damaged video cache (%s); it will be recomputed", file, exc)
            return None
        if rows.ndim != 2 or rows.dtype != np.float32:
            return None
        with self._lock:
            self._rows[file.name] = rows
        return rows

    def is_complete(self, path: Path) -> bool:
        rows = self.cached(path)
        return rows is not None and bool(np.all(np.isfinite(rows)))

    def embed_video(self, path: Path, progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None) -> np.ndarray:
        """Embed every 1-fps frame not cached yet; returns all rows (NaN where cancelled before)."""
        path = Path(path)
        file = self.cache_file(path)
        feats = self.model.features
        info = probe_video(path)
        times = frame_times(info.duration, feats.fps, feats.frame_offset)
        dim = int(self.model.cfg.embed_dim)
        rows = self.cached(path)
        if rows is None or rows.shape != (len(times), dim):
            rows = np.full((len(times), dim), np.nan, np.float32)
        rows = rows.copy()
        todo = [i for i in range(len(times)) if not np.all(np.isfinite(rows[i]))]
        done = len(times) - len(todo)
        if progress:
            progress(done, len(times))
        if not todo:
            return rows
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        batch_idx: list[int] = []
        batch: list[np.ndarray] = []
        last_save = time.monotonic()
        by_time = {times[i]: i for i in todo}
        for t, rgb in iter_frames_at(path, [times[i] for i in todo]):
            batch_idx.append(by_time[t])
            batch.append(rgb)
            if len(batch) >= BLOCK_FRAMES:
                rows[batch_idx] = self.model.embed_frames(np.stack(batch))  # (B, D)
                done += len(batch)
                batch_idx, batch = [], []
                if time.monotonic() - last_save > SAVE_EVERY_S:
                    self._save(file, rows)
                    last_save = time.monotonic()
                if progress:
                    progress(done, len(times))
                if cancel is not None and cancel.is_set():
                    break
        if batch and not (cancel is not None and cancel.is_set()):
            rows[batch_idx] = self.model.embed_frames(np.stack(batch))
            done += len(batch)
            if progress:
                progress(done, len(times))
        self._save(file, rows)
        return rows

    def _save(self, file: Path, rows: np.ndarray) -> None:
        try:
            with atomic_path(file) as tmp, open(tmp, "wb") as f:
                np.save(f, rows, allow_pickle=False)
        except OSError as exc:  # e.g. a full disk: the cache only saves time, so keep the rows in memory
            log.warning("could not write the video cache %s (%s); keeping it in memory only", file, exc)
        with self._lock:
            self._rows[file.name] = rows.copy()
