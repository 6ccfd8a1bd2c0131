"""The vector side of the index: float16 chunk files (durable) and an hnswlib graph (fast, rebuildable).

Distances are Euclidean between L2-normalised embeddings (paper §5.2). hnswlib's ``l2`` space
returns squared distances; we return their square root. Every vector goes through float16 before
it reaches the graph, so an index rebuilt from the chunks is the same as one built incrementally.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.errors import SoundIndexError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HnswParams:
    """Graph parameters, chosen by measurement (docs/library.md: recall@10 >= 0.95 at 1M segments)."""

    M: int = 16
    ef_construction: int = 200
    ef_search: int = 1024  # 256 gave recall@10 0.90 on 1M segments drawn from the shipped encoder (docs/performance.md)


def quantize(vectors: np.ndarray) -> np.ndarray:
    """The float16 copy that is stored (and, back in float32, the one that is searched)."""
    return np.ascontiguousarray(vectors, dtype=np.float16)


def write_chunk(path: Path, vectors16: np.ndarray) -> None:
    """Write a chunk durably: temp file, fsync, rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, vectors16, allow_pickle=False)


def read_chunk(path: Path, dim: int) -> np.ndarray:
    """A chunk's float16 rows; ``SoundIndexError`` if it is missing or damaged."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SoundIndexError(f"{path}: vector chunk missing or damaged ({exc})") from exc
    if arr.ndim != 2 or arr.shape[1] != dim or arr.dtype != np.float16:
        raise SoundIndexError(f"{path}: vector chunk has shape {arr.shape} {arr.dtype}, expected (n, {dim}) float16")
    return arr


class HnswIndex:
    """An hnswlib ``l2`` index over labelled vectors with growth, deletion and atomic save."""

    def __init__(self, dim: int, params: HnswParams = HnswParams(), capacity: int = 1024) -> None:
        import hnswlib

        self.dim = dim
        self.params = params
        self.index = hnswlib.Index(space="l2", dim=dim)
        self.index.init_index(max_elements=max(capacity, 16), ef_construction=params.ef_construction, M=params.M)
        self.index.set_ef(params.ef_search)
        self.deleted = 0

    @classmethod
    def load(cls, path: Path, dim: int, params: HnswParams, deleted: int = 0) -> HnswIndex:
        import hnswlib

        self = cls.__new__(cls)
        self.dim, self.params, self.deleted = dim, params, deleted
        self.index = hnswlib.Index(space="l2", dim=dim)
        try:
            self.index.load_index(str(path))
        except (RuntimeError, OSError, MemoryError) as exc:
            raise SoundIndexError(f"{path}: cannot load the vector index ({exc})") from exc
        self.index.set_ef(params.ef_search)
        return self

    def __len__(self) -> int:
        """Live (not deleted) vectors."""
        return self.index.get_current_count() - self.deleted

    def labels(self) -> np.ndarray:
        """Every label in the graph, deleted ones included."""
        return np.asarray(self.index.get_ids_list(), dtype=np.int64)

    def add(self, vectors: np.ndarray, labels: np.ndarray, num_threads: int = -1) -> None:
        if len(labels) == 0:
            return
        need = self.index.get_current_count() + len(labels)
        if need > self.index.get_max_elements():
            self.index.resize_index(max(need, int(self.index.get_max_elements() * 1.5)))
        x = quantize(vectors).astype(np.float32)
        self.index.add_items(x, np.asarray(labels, dtype=np.int64), num_threads=num_threads)

    def mark_deleted(self, labels: np.ndarray) -> None:
        for label in np.asarray(labels, dtype=np.int64):
            try:
                self.index.mark_deleted(int(label))
                self.deleted += 1
            except RuntimeError:  # not in the graph or already deleted
                pass

    def search(self, query: np.ndarray, k: int, ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(labels (k,), distances (k,))`` nearest first; fewer when the index is smaller."""
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        self.index.set_ef(max(ef or self.params.ef_search, k))
        labels, d2 = self.index.knn_query(np.asarray(query, np.float32).reshape(1, -1), k=k, num_threads=1)
        return labels[0].astype(np.int64), np.sqrt(np.maximum(d2[0], 0.0))

    def get(self, labels: np.ndarray) -> np.ndarray:
        """The float32 vectors of the given labels, ``(n, dim)``."""
        if len(labels) == 0:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self.index.get_items(np.asarray(labels, dtype=np.int64), return_type="numpy"), np.float32)

    def save(self, path: Path) -> None:
        """Atomic save: write a temp file, check it is whole, then rename it over ``path``."""
        with atomic_path(path) as tmp:
            self.index.save_index(str(tmp))
            written, expected = tmp.stat().st_size, self.index.index_file_size()
            if written != expected:  # hnswlib does not report a failed write (e.g. a full disk)
                raise OSError(errno.ENOSPC, f"graph file cut short ({written} of {expected} bytes written; disk full?)", str(tmp))


def exact_search(matrix: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: ``(row indices, Euclidean distances)`` of the ``k`` nearest rows, nearest first."""
    if matrix.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    q = np.asarray(query, np.float32).reshape(-1)
    d2 = np.einsum("ij,ij->i", matrix, matrix) - 2.0 * (matrix @ q) + float(q @ q)  # (N,)
    k = min(k, matrix.shape[0])
    part = np.argpartition(d2, k - 1)[:k] if k < matrix.shape[0] else np.arange(matrix.shape[0])
    order = part[np.argsort(d2[part], kind="stable")]
    return order.astype(np.int64), np.sqrt(np.maximum(d2[order], 0.0)).astype(np.float32)
