"""The timeline's logic: the document, the undo stack, and edits requested by the timeline view."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from engine.api import EngineError
from foley_app.core.audio_cache import default_cache
from foley_app.core.commands import (
    AddClip,
    AddTrack,
    Command,
    MoveClip,
    RemoveClip,
    RemoveTrack,
    RenameTrack,
    SetClipGain,
    SetTrackMute,
    SetTrackSolo,
    SetTrackVolume,
    SetVideo,
)
from foley_app.core.document import Change, Document
from foley_app.core.onset import onset_in_file
from foley_app.undo import push
from foley_app.widgets.timeline_view import PEAKS_PER_SECOND, TimelineView
from foley_app.workers import run_in_pool

log = logging.getLogger(__name__)

DEFAULT_TRACKS = 4
MAX_WHOLE_FILE_S = 10.0  # longer files are placed from the matched segment on, this long
LONG_FILE_CLIP_S = 5.0


def placement(payload: dict, duration: float) -> tuple[float, float]:
    """The part of a dropped sound that goes on the timeline: short files whole, long ones from the match."""
    if duration <= MAX_WHOLE_FILE_S:
        return 0.0, duration
    start = min(max(0.0, float(payload.get("start_s", 0.0))), max(0.0, duration - 0.1))
    return start, min(duration, start + LONG_FILE_CLIP_S)


def prepare_drop(payload: dict) -> tuple[float, float, float, float]:
    """(source_start, source_end, onset after source_start, file duration) on a worker."""
    path = Path(payload["path"])
    duration = default_cache().duration(path)
    if duration <= 0:
        raise EngineError(f"{path}: the sound is empty")
    s0, s1 = placement(payload, duration)
    onset = onset_in_file(path, s0, s1)
    return s0, s1, float(onset), duration


def clip_peaks(path: Path):
    """Min/max peaks of a whole file at ``PEAKS_PER_SECOND``, for drawing clips (worker)."""
    cache = default_cache()
    duration = cache.duration(path)
    return str(path), cache.peaks(path, max(1, int(duration * PEAKS_PER_SECOND)))


class TimelineController(QObject):
    """Turns view requests into commands on the undo stack; snaps dropped sounds' onsets."""

    changed = Signal()  # the document changed (any edit, undo or redo)
    error = Signal(str)
    clip_added = Signal(str)  # clip id
    sound_placed = Signal(str, float, object)  # clip id, the picture time it was dropped at, the dropped payload

    def __init__(self, view: TimelineView, stack: QUndoStack, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.stack = stack
        self.doc = Document()
        self._drop_ids = 0
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(0)
        self._refresh.timeout.connect(self._on_refresh)
        c = view.canvas
        c.candidate_dropped.connect(self.drop_candidate)
        c.clip_moved.connect(self._on_moved)
        c.clip_trimmed.connect(lambda cid, edge, t: self.apply(self._trim(cid, edge, t)))
        c.clip_deleted.connect(lambda cid: self.apply(RemoveClip(cid)))
        c.clip_gain_requested.connect(lambda cid, db: self.apply(SetClipGain(cid, db)))
        view.mute_toggled.connect(lambda tid, on: self.apply(SetTrackMute(tid, on)))
        view.solo_toggled.connect(lambda tid, on: self.apply(SetTrackSolo(tid, on)))
        view.volume_changed.connect(lambda tid, db: self.apply(SetTrackVolume(tid, db)))
        view.rename_requested.connect(lambda tid, name: self.apply(RenameTrack(tid, name)))
        view.remove_requested.connect(self.remove_track)
        self.set_document(self._new_document())

    @staticmethod
    def _trim(clip_id: str, edge: str, t: float) -> Command:
        from foley_app.core.commands import TrimClip

        return TrimClip(clip_id, edge, t)

    def _new_document(self, video: Path | None = None) -> Document:
        doc = Document(video=video)
        for _ in range(DEFAULT_TRACKS):
            AddTrack().do(doc)
        doc.dirty = False
        return doc

    def new_document(self, video: Path | None = None) -> Document:
        doc = self._new_document(video)
        self.set_document(doc)
        return doc

    def set_document(self, doc: Document) -> None:
        """Show ``doc``; the undo history starts empty."""
        if self.doc is not None and self._on_change in self.doc.listeners:
            self.doc.remove_listener(self._on_change)
        self.doc = doc
        doc.add_listener(self._on_change)
        self.stack.clear()
        self.view.set_document(doc)
        self._load_peaks(p for _, clip in doc.clips() for p in [clip.sound_path])
        self.changed.emit()

    def apply(self, cmd: Command) -> bool:
        """Do a command through the undo stack; a refused edit is reported, nothing changes."""
        try:
            push(self.stack, self.doc, cmd)
        except EngineError as exc:
            log.info("edit refused: %s", exc)
            self.error.emit(str(exc))
            return False
        return True

    def _on_change(self, change: Change) -> None:
        self._refresh.start()  # coalesce the changes of one command/macro into one repaint

    def _on_refresh(self) -> None:
        self.view.refresh()
        self.changed.emit()

    def _on_moved(self, clip_id: str, track_index: int, position: float) -> None:
        track_id = self.doc.tracks[track_index].id if 0 <= track_index < len(self.doc.tracks) else None
        self.apply(MoveClip(clip_id, position, track_id))

    def add_track(self) -> None:
        self.apply(AddTrack())

    def delete_selected(self) -> None:
        """Delete the clip selected in the view, if any."""
        if self.view.canvas.selected:
            self.apply(RemoveClip(self.view.canvas.selected))

    def set_video(self, path: Path, duration: float, fps: float) -> None:
        """A video opened: the document refers to it (silently for a fresh empty document, else as an
        undoable edit) and the view shows its length, zoomed to fit."""
        doc = self.doc
        if doc.video != path:
            if doc.clip_count() == 0 and doc.video is None:
                SetVideo(path).do(doc)
                doc.dirty = False
            else:
                self.apply(SetVideo(path))
        self.view.canvas.video_duration = duration
        self.view.canvas.fps = fps
        self.view.refresh()
        QTimer.singleShot(0, self.view.zoom_to_fit)

    def remove_track(self, track_id: str) -> None:
        self.apply(RemoveTrack(track_id))

    # -- drops -----------------------------------------------------------------------------------
    def place(self, c, at: float) -> None:
        """Put sound ``c`` on the first track, its onset at ``at`` seconds."""
        if c is not None and self.doc.tracks:
            self.drop_candidate(0, at, {"path": str(c.path), "name": c.name, "category": c.category,
                                        "start_s": c.start_s, "duration_s": c.duration_s})

    def drop_candidate(self, track_index: int, drop_time: float, payload: dict) -> None:
        """Place a dropped sound so its first transient lands on ``drop_time`` (onset found on a worker)."""
        if not 0 <= track_index < len(self.doc.tracks):
            return
        track_id = self.doc.tracks[track_index].id
        doc = self.doc

        def done(result: tuple[float, float, float, float]) -> None:
            if self.doc is not doc:
                return
            s0, s1, onset, duration = result
            cmd = AddClip.at_drop(track_id, Path(payload["path"]), drop_time, s0, s1, onset,
                                  name=str(payload.get("name", "")), category=str(payload.get("category", "")),
                                  sound_duration=duration)
            if self.apply(cmd):
                self._load_peaks([Path(payload["path"])])
                self.clip_added.emit(cmd.clip.id)
                self.sound_placed.emit(cmd.clip.id, float(drop_time), payload)

        run_in_pool(prepare_drop, done, lambda exc: self.error.emit(f"cannot place {payload.get('name', '')}: {exc}"),
                    payload, owner=self)

    def _load_peaks(self, paths) -> None:
        for path in {Path(p) for p in paths}:
            if not self.view.canvas.has_peaks(str(path)) and path.exists():
                run_in_pool(clip_peaks, lambda r: self.view.canvas.set_clip_peaks(*r),
                            lambda exc, p=path: log.info("no waveform for %s: %s", p, exc), path, owner=self)
