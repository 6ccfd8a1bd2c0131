"""Reversible edits of a ``Document``: each has ``do(doc)``, ``undo(doc)``, ``text`` and maybe merges.

A command validates before it mutates, so a failing ``do`` (``DocumentError``) changes nothing.
``do`` computes its result the first time and replays the same values on redo, and ``undo``
restores the exact previous values, so do/undo/redo round-trips are bit-exact.

Continuous gestures (dragging a clip, a trim handle, a fader) pass the same ``drag_id`` to each
command of one gesture; consecutive commands with equal non-None ``drag_id`` merge into one undo
step (``merge_id`` plays the role of ``QUndoCommand.id()``, ``merge_with`` of ``mergeWith``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from foley_app.core.document import (
    MAX_CLIPS,
    MAX_NAME_CHARS,
    MAX_TIME_S,
    MAX_TRACKS,
    MIN_CLIP_S,
    Change,
    Clip,
    Document,
    DocumentError,
    Track,
    check_clip,
    check_db,
    check_time,
    new_id,
)

log = logging.getLogger(__name__)


class Command:
    """Base class: a reversible edit."""

    text: str = ""
    drag_id: int | None = None
    _MERGE_ID = -1

    def do(self, doc: Document) -> None:
        raise NotImplementedError

    def undo(self, doc: Document) -> None:
        raise NotImplementedError

    @property
    def merge_id(self) -> int:
        """``QUndoCommand.id()``: -1 (never merge) unless part of a drag."""
        return self._MERGE_ID if self.drag_id is not None else -1

    def _mergeable(self, other: Command) -> bool:
        return (type(other) is type(self) and self.drag_id is not None and other.drag_id == self.drag_id
                and self.merge_id != -1)

    def merge_with(self, other: Command) -> bool:
        """Absorb ``other`` (already done, pushed right after this one); True if merged."""
        return False


def snap_to_onset(drop_time: float, source_start: float, source_end: float, onset_s: float) -> tuple[float, float]:
    """``(position, source_start)`` that put a sound's onset (``onset_s`` after ``source_start``) at ``drop_time``.

    When the onset would need a negative position, the clip's head is trimmed instead so the
    onset still lands on ``drop_time`` and the clip starts at 0.
    """
    position = drop_time - onset_s
    if position < 0.0:
        source_start -= position
        position = 0.0
    if source_end - source_start < MIN_CLIP_S:
        raise DocumentError(f"dropping at {drop_time:.3f} s would leave nothing of the sound before its onset")
    return position, source_start


class AddClip(Command):
    """Put a clip on a track."""

    def __init__(self, track_id: str, clip: Clip) -> None:
        self.track_id = track_id
        self.clip = clip
        self.text = f"Add {clip.display_name}"

    @classmethod
    def at_drop(cls, track_id: str, sound_path: Path, drop_time: float, source_start: float, source_end: float,
                onset_s: float = 0.0, *, name: str = "", category: str = "", gain_db: float = 0.0,
                sound_duration: float | None = None) -> AddClip:
        """A clip whose onset (``onset_s`` into the range, see ``onset.first_transient``) lands on ``drop_time``."""
        position, start = snap_to_onset(drop_time, source_start, source_end, onset_s)
        clip = Clip(new_id(), Path(sound_path), start, source_end, position, gain_db, name, category, sound_duration)
        return cls(track_id, clip)

    def do(self, doc: Document) -> None:
        track = doc.track(self.track_id)
        check_clip(self.clip)
        if any(c.id == self.clip.id for _, c in doc.clips()):
            raise DocumentError(f"a clip with id {self.clip.id!r} is already in the document")
        if doc.clip_count() >= MAX_CLIPS:
            raise DocumentError(f"a document holds at most {MAX_CLIPS} clips")
        track.clips.append(self.clip)
        track.sort()
        doc.notify(Change("clip_added", track.id, self.clip.id))

    def undo(self, doc: Document) -> None:
        track = doc.track(self.track_id)
        track.clips.remove(self.clip)
        doc.notify(Change("clip_removed", track.id, self.clip.id))


class RemoveClip(Command):
    """Take a clip off its track."""

    def __init__(self, clip_id: str) -> None:
        self.clip_id = clip_id
        self.text = "Delete clip"
        self._track_id: str | None = None
        self._clip: Clip | None = None

    def do(self, doc: Document) -> None:
        track, clip = doc.find_clip(self.clip_id)
        self._track_id, self._clip = track.id, clip
        self.text = f"Delete {clip.display_name}"
        track.clips.remove(clip)
        doc.notify(Change("clip_removed", track.id, clip.id))

    def undo(self, doc: Document) -> None:
        assert self._track_id is not None and self._clip is not None
        track = doc.track(self._track_id)
        track.clips.append(self._clip)
        track.sort()
        doc.notify(Change("clip_added", track.id, self.clip_id))


class MoveClip(Command):
    """Move a clip to another timeline position, optionally onto another track."""

    _MERGE_ID = 1001

    def __init__(self, clip_id: str, position: float, track_id: str | None = None, drag_id: int | None = None) -> None:
        self.clip_id = clip_id
        self.position = position
        self.track_id = track_id
        self.drag_id = drag_id
        self.text = "Move clip"
        self._old: tuple[str, float] | None = None

    def do(self, doc: Document) -> None:
        src, clip = doc.find_clip(self.clip_id)
        dst = doc.track(self.track_id) if self.track_id is not None else src
        position = check_time(self.position, "clip position")
        if position + clip.duration > MAX_TIME_S:
            raise DocumentError(f"a clip cannot end after {MAX_TIME_S:g} s")
        if self._old is None:
            self._old = (src.id, clip.position)
        self._place(doc, src, dst, clip, position)

    def undo(self, doc: Document) -> None:
        assert self._old is not None
        src, clip = doc.find_clip(self.clip_id)
        self._place(doc, src, doc.track(self._old[0]), clip, self._old[1])

    @staticmethod
    def _place(doc: Document, src: Track, dst: Track, clip: Clip, position: float) -> None:
        clip.position = position
        if dst is src:
            src.sort()
            doc.notify(Change("clip_changed", src.id, clip.id))
            return
        src.clips.remove(clip)
        dst.clips.append(clip)
        dst.sort()
        doc.notify(Change("clip_removed", src.id, clip.id))
        doc.notify(Change("clip_added", dst.id, clip.id))

    def merge_with(self, other: Command) -> bool:
        if not (self._mergeable(other) and isinstance(other, MoveClip) and other.clip_id == self.clip_id):
            return False
        self.position, self.track_id = other.position, other.track_id
        return True


class TrimClip(Command):
    """Move a clip's start or end edge to a timeline time; the sound's samples stay where they are.

    The time is clamped to what the sound allows (not before the file's start, not past its end
    when known, at least ``MIN_CLIP_S`` long), like dragging a trim handle against its stop.
    """

    _MERGE_ID = 1002

    def __init__(self, clip_id: str, edge: str, time: float, drag_id: int | None = None) -> None:
        if edge not in ("start", "end"):
            raise DocumentError(f"trim edge must be 'start' or 'end', got {edge!r}")
        self.clip_id = clip_id
        self.edge = edge
        self.time = time
        self.drag_id = drag_id
        self.text = f"Trim clip {edge}"
        self._old: tuple[float, float, float] | None = None
        self._new: tuple[float, float, float] | None = None

    def _compute(self, clip: Clip, old: tuple[float, float, float]) -> tuple[float, float, float]:
        position, s0, s1 = old
        t = check_time(self.time, "trim time")
        if self.edge == "start":
            lo = max(0.0, position - s0)  # cannot reveal audio before the file's first sample
            hi = position + (s1 - s0) - MIN_CLIP_S
            t = min(max(t, lo), hi)
            return t, s0 + (t - position), s1
        lo = position + MIN_CLIP_S
        hi = MAX_TIME_S if clip.sound_duration is None else position + (clip.sound_duration - s0)
        t = min(max(t, lo), max(lo, hi))
        return position, s0, s0 + (t - position)

    def do(self, doc: Document) -> None:
        track, clip = doc.find_clip(self.clip_id)
        if self._old is None:
            self._old = (clip.position, clip.source_start, clip.source_end)
        if self._new is None:
            self._new = self._compute(clip, self._old)
        self._set(doc, track, clip, self._new)

    def undo(self, doc: Document) -> None:
        assert self._old is not None
        track, clip = doc.find_clip(self.clip_id)
        self._set(doc, track, clip, self._old)

    @staticmethod
    def _set(doc: Document, track: Track, clip: Clip, values: tuple[float, float, float]) -> None:
        clip.position, clip.source_start, clip.source_end = values
        track.sort()
        doc.notify(Change("clip_changed", track.id, clip.id))

    def merge_with(self, other: Command) -> bool:
        if not (self._mergeable(other) and isinstance(other, TrimClip)
                and other.clip_id == self.clip_id and other.edge == self.edge):
            return False
        self.time, self._new = other.time, other._new
        return True


class _SetField(Command):
    """Set one attribute of a clip or a track, remembering the old value."""

    attr = ""

    def __init__(self, target_id: str, value: object, drag_id: int | None = None) -> None:
        self.target_id = target_id
        self.value = self._validate(value)
        self.drag_id = drag_id
        self._old: object = None
        self._done_once = False

    def _validate(self, value: object) -> object:
        return value

    def _target(self, doc: Document) -> tuple[Track, object, Change]:
        raise NotImplementedError

    def do(self, doc: Document) -> None:
        track, obj, change = self._target(doc)
        if not self._done_once:
            self._old, self._done_once = getattr(obj, self.attr), True
        setattr(obj, self.attr, self.value)
        doc.notify(change)

    def undo(self, doc: Document) -> None:
        track, obj, change = self._target(doc)
        setattr(obj, self.attr, self._old)
        doc.notify(change)

    def merge_with(self, other: Command) -> bool:
        if not (self._mergeable(other) and isinstance(other, _SetField) and other.target_id == self.target_id):
            return False
        self.value = other.value
        return True


class _SetClipField(_SetField):
    def _target(self, doc: Document) -> tuple[Track, object, Change]:
        track, clip = doc.find_clip(self.target_id)
        return track, clip, Change("clip_changed", track.id, clip.id)


class _SetTrackField(_SetField):
    def _target(self, doc: Document) -> tuple[Track, object, Change]:
        track = doc.track(self.target_id)
        return track, track, Change("track_changed", track.id)


class SetClipGain(_SetClipField):
    """Change a clip's gain (dB)."""

    attr, text, _MERGE_ID = "gain_db", "Clip gain", 1003

    def _validate(self, value: object) -> object:
        return check_db(value, "clip gain")


class SetClipName(_SetClipField):
    """Rename a clip."""

    attr, text = "name", "Rename clip"

    def _validate(self, value: object) -> object:
        return _check_name(value)


class SetTrackVolume(_SetTrackField):
    """Move a track's fader (dB)."""

    attr, text, _MERGE_ID = "volume_db", "Track volume", 1004

    def _validate(self, value: object) -> object:
        return check_db(value, "track volume")


class SetTrackMute(_SetTrackField):
    """Mute or unmute a track."""

    attr = "mute"

    def _validate(self, value: object) -> object:
        self.text = "Mute track" if value else "Unmute track"
        return bool(value)


class SetTrackSolo(_SetTrackField):
    """Solo or unsolo a track."""

    attr = "solo"

    def _validate(self, value: object) -> object:
        self.text = "Solo track" if value else "Unsolo track"
        return bool(value)


class RenameTrack(_SetTrackField):
    """Rename a track."""

    attr, text = "name", "Rename track"

    def _validate(self, value: object) -> object:
        return _check_name(value)


def _check_name(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
        raise DocumentError(f"a name must be text of at most {MAX_NAME_CHARS} characters")
    return value


class AddTrack(Command):
    """Insert a new, empty track (at ``index``, default last)."""

    text = "Add track"

    def __init__(self, name: str | None = None, index: int | None = None) -> None:
        self.name = name
        self.index = index
        self.track: Track | None = None  # created on the first do, reused on redo

    def do(self, doc: Document) -> None:
        if len(doc.tracks) >= MAX_TRACKS:
            raise DocumentError(f"a document holds at most {MAX_TRACKS} tracks")
        if self.track is None:
            name = _check_name(self.name if self.name is not None else f"Track {len(doc.tracks) + 1}")
            self.track = Track(new_id(), name)
        index = len(doc.tracks) if self.index is None else max(0, min(self.index, len(doc.tracks)))
        doc.tracks.insert(index, self.track)
        doc.notify(Change("track_added", self.track.id))

    def undo(self, doc: Document) -> None:
        assert self.track is not None
        doc.tracks.remove(self.track)
        doc.notify(Change("track_removed", self.track.id))


class RemoveTrack(Command):
    """Delete a track with its clips."""

    def __init__(self, track_id: str) -> None:
        self.track_id = track_id
        self.text = "Delete track"
        self._index = -1
        self._track: Track | None = None

    def do(self, doc: Document) -> None:
        self._index = doc.track_index(self.track_id)
        self._track = doc.tracks.pop(self._index)
        self.text = f"Delete {self._track.name}"
        doc.notify(Change("track_removed", self.track_id))

    def undo(self, doc: Document) -> None:
        assert self._track is not None
        doc.tracks.insert(self._index, self._track)
        doc.notify(Change("track_added", self.track_id))


class SetVideo(Command):
    """Set (or clear, with None) the picture the timeline belongs to."""

    text = "Set video"

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._old: Path | None = None

    def do(self, doc: Document) -> None:
        self._old = doc.video
        doc.video = self.path
        doc.notify(Change("video_changed"))

    def undo(self, doc: Document) -> None:
        doc.video = self._old
        doc.notify(Change("video_changed"))


class RelinkMedia(Command):
    """Point every reference to a moved file at its new location (``{old: new}``)."""

    text = "Relink media"

    def __init__(self, mapping: Mapping[Path, Path]) -> None:
        self.mapping = {Path(k): Path(v) for k, v in mapping.items()}
        self._old_video: Path | None = None
        self._changed: list[tuple[str, str, Path]] = []  # (track id, clip id, old path)

    def do(self, doc: Document) -> None:
        self._old_video = doc.video
        self._changed = []
        if doc.video is not None and doc.video in self.mapping:
            doc.video = self.mapping[doc.video]
            doc.notify(Change("video_changed"))
        for track, clip in doc.clips():
            if clip.sound_path in self.mapping:
                self._changed.append((track.id, clip.id, clip.sound_path))
                clip.sound_path = self.mapping[clip.sound_path]
                doc.notify(Change("clip_changed", track.id, clip.id))

    def undo(self, doc: Document) -> None:
        if doc.video != self._old_video:
            doc.video = self._old_video
            doc.notify(Change("video_changed"))
        for track_id, clip_id, old in self._changed:
            _, clip = doc.find_clip(clip_id)
            clip.sound_path = old
            doc.notify(Change("clip_changed", track_id, clip_id))


class Macro(Command):
    """Several commands as one undo step (e.g. deleting a selection); all or nothing."""

    def __init__(self, text: str, commands: Sequence[Command]) -> None:
        self.text = text
        self.commands = list(commands)

    def do(self, doc: Document) -> None:
        done: list[Command] = []
        try:
            for cmd in self.commands:
                cmd.do(doc)
                done.append(cmd)
        except Exception:
            for cmd in reversed(done):
                cmd.undo(doc)
            raise

    def undo(self, doc: Document) -> None:
        for cmd in reversed(self.commands):
            cmd.undo(doc)


__all__ = [
    "AddClip", "AddTrack", "Command", "Macro", "MoveClip", "RelinkMedia", "RemoveClip", "RemoveTrack",
    "RenameTrack", "SetClipGain", "SetClipName", "SetTrackMute", "SetTrackSolo", "SetTrackVolume",
    "SetVideo", "TrimClip", "snap_to_onset",
]
