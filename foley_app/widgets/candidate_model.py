"""A thin Qt list model over the engine's ranked ``Candidate`` objects, with named roles and drag data."""

from __future__ import annotations

import json
import logging
from enum import IntEnum
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt, QUrl

from engine.api import Candidate

log = logging.getLogger(__name__)

MIME_CANDIDATE = "application/x-foley-candidate"


class Role(IntEnum):
    """Named roles a delegate or test reads instead of column numbers."""

    Candidate = Qt.UserRole + 1
    Rank = Qt.UserRole + 2
    Name = Qt.UserRole + 3
    Category = Qt.UserRole + 4
    Score = Qt.UserRole + 5
    Duration = Qt.UserRole + 6
    Start = Qt.UserRole + 7
    Path = Qt.UserRole + 8
    Peaks = Qt.UserRole + 9


def peaks_key(c: Candidate) -> tuple[str, float]:
    """Cache key of a candidate's mini waveform: the file and the matched segment."""
    return str(c.path), round(float(c.start_s), 3)


def candidate_to_mime(c: Candidate) -> QMimeData:
    """Drag payload: our JSON (for the timeline) plus a file URL (for other apps)."""
    mime = QMimeData()
    payload = {
        "sound_id": c.sound_id, "path": str(c.path), "name": c.name, "category": c.category,
        "start_s": float(c.start_s), "duration_s": float(c.duration_s), "score": float(c.score),
    }
    mime.setData(MIME_CANDIDATE, json.dumps(payload).encode())
    mime.setUrls([QUrl.fromLocalFile(str(c.path))])
    mime.setText(c.name)
    return mime


def mime_to_payload(mime: QMimeData) -> dict | None:
    """The candidate dict carried by a drag, validated; None if it is not ours or malformed."""
    if not mime.hasFormat(MIME_CANDIDATE):
        return None
    try:
        data = json.loads(bytes(mime.data(MIME_CANDIDATE)).decode())
        data["path"] = Path(str(data["path"]))
        data["start_s"] = float(data.get("start_s", 0.0))
        data["duration_s"] = float(data.get("duration_s", 0.0))
        data["name"] = str(data.get("name") or data["path"].stem)
        data["category"] = str(data.get("category", ""))
        return data
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring malformed drag payload: %s", exc)
        return None


# Never None for a role the delegate reads: PySide6 6.12's QModelIndex.data() returns an invalid
# QVariant as None without taking a reference, so every such call drops one from None and the
# app aborts ("deallocating None") after a few thousand repaints of rows without peaks.
NO_PEAKS = np.zeros(0, np.float32)


class CandidateListModel(QAbstractListModel):
    """Rows are candidates in rank order; mini-waveform peaks arrive later via ``set_peaks``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._items: list[Candidate] = []
        self._peaks: dict[tuple[str, float], np.ndarray] = {}

    def set_candidates(self, items: list[Candidate]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def candidates(self) -> list[Candidate]:
        return list(self._items)

    def candidate(self, row: int) -> Candidate | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def set_peaks(self, key: tuple[str, float], peaks: np.ndarray) -> None:
        """Store a mini waveform and repaint the rows that show it."""
        self._peaks[key] = peaks
        for row, c in enumerate(self._items):
            if peaks_key(c) == key:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx, [Role.Peaks])

    def has_peaks(self, key: tuple[str, float]) -> bool:
        return key in self._peaks

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        c = self._items[index.row()]
        if role in (Qt.DisplayRole, Role.Name):
            return c.name
        if role == Qt.ToolTipRole:
            desc = f"<br>{c.description}" if c.description else ""
            return (f"<b>{c.name}</b> &nbsp; {c.category}<br>{c.path}<br>match at {c.start_s:.1f} s of "
                    f"{c.duration_s:.1f} s · score {c.score:.3f} (distance {c.distance:.3f}){desc}"
                    "<br><i>Click: audition · drag onto a track · right-click: more like this</i>")
        return {
            Role.Candidate: c, Role.Rank: c.rank or index.row() + 1, Role.Category: c.category,
            Role.Score: float(c.score), Role.Duration: float(c.duration_s), Role.Start: float(c.start_s),
            Role.Path: str(c.path), Role.Peaks: self._peaks.get(peaks_key(c), NO_PEAKS),
        }.get(role)

    def roleNames(self) -> dict[int, bytes]:  # noqa: N802
        return {r.value: r.name.lower().encode() for r in Role} | {Qt.DisplayRole: b"display"}

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [MIME_CANDIDATE, "text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:  # noqa: N802
        rows = sorted({i.row() for i in indexes if i.isValid()})
        if not rows:
            return QMimeData()
        return candidate_to_mime(self._items[rows[0]])

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.CopyAction
