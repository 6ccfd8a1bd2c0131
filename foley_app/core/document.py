"""The Qt-free timeline document: a video, audio tracks and clips, edited only through Commands.

Every edit is a reversible ``Command`` object (``do(doc)`` / ``undo(doc)`` / ``text``, see
``foley_app.core.commands``). The undo history is the app's ``QUndoStack``: ``foley_app.undo``
wraps each command in a ``QUndoCommand`` whose ``redo``/``undo`` call ``do``/``undo``. Each change
is announced to ``listeners`` as a ``Change`` after it happened.

Times are seconds (floats): ``position`` on the timeline, ``source_start``/``source_end`` in the
sound file. A clip plays the file's samples ``[source_start, source_end)`` starting at ``position``.
Clips on a track are kept sorted by ``(position, id)`` and may overlap (they are summed).
The document is not thread-safe: export from a worker thread works on ``doc.copy()``, taken on
the GUI thread.
"""

from __future__ import annotations

import copy
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.api import EngineError

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
MAX_TIME_S = 24 * 3600.0  # timeline positions and source times stay below a day
MIN_CLIP_S = 0.001  # shortest clip a trim can leave (1 ms)
MIN_DB = -96.0  # clip gain and track volume range (dB)
MAX_DB = 24.0
MAX_TRACKS = 256
MAX_CLIPS = 100_000  # in the whole document
MAX_NAME_CHARS = 1_000


class DocumentError(EngineError):
    """An edit or a document value is invalid; nothing was changed."""


def new_id() -> str:
    """A fresh, unique id for a clip or a track."""
    return uuid.uuid4().hex[:12]


@dataclass
class Clip:
    """A region ``[source_start, source_end)`` of a sound file placed at ``position`` on a track."""

    id: str
    sound_path: Path
    source_start: float
    source_end: float
    position: float  # timeline seconds where source_start plays
    gain_db: float = 0.0
    name: str = ""
    category: str = ""
    sound_duration: float | None = None  # whole file length if known (limits trimming the end)

    @property
    def duration(self) -> float:
        """Length on the timeline (seconds)."""
        return self.source_end - self.source_start

    @property
    def end(self) -> float:
        """Timeline time where the clip stops."""
        return self.position + self.duration

    @property
    def display_name(self) -> str:
        """The name, or the file name when it has none."""
        return self.name or Path(self.sound_path).stem


@dataclass
class Track:
    """An audio track: clips plus a fader (dB), mute and solo."""

    id: str
    name: str
    clips: list[Clip] = field(default_factory=list)
    volume_db: float = 0.0
    mute: bool = False
    solo: bool = False

    def clip(self, clip_id: str) -> Clip | None:
        """The clip with this id on this track, if any."""
        return next((c for c in self.clips if c.id == clip_id), None)

    def sort(self) -> None:
        """Restore the canonical clip order (by position, then id)."""
        self.clips.sort(key=lambda c: (c.position, c.id))


FEEDBACK_KINDS = ("place", "reject")
MAX_FEEDBACK = 10_000  # choices kept in one project
MAX_PRIOR_WEIGHT = 100.0  # the common <-> specific dial's weight (the dial itself goes to 4)


@dataclass(frozen=True)
class FeedbackChoice:
    """One of the designer's choices the ranking learns from (engine.library.feedback).

    ``place``: the sound ``sound_path`` (its 1-s segment at ``offset``) was placed for the picture at
    video time ``time``; it counts while its clip ``clip_id`` is on the timeline. ``reject``: "not
    this" for that picture.
    """

    kind: str
    time: float  # video seconds of the picture
    sound_path: Path
    offset: float = 0.0  # start of the chosen 1-s segment in the sound file
    clip_id: str = ""  # the clip a placement made ('' for rejections)

    @property
    def second(self) -> int:
        return int(math.floor(self.time + 1e-6))


@dataclass(frozen=True)
class Change:
    """What changed: ``kind`` is one of CHANGE_KINDS; ids say where (None when not applicable)."""

    kind: str
    track_id: str | None = None
    clip_id: str | None = None


CHANGE_KINDS = (
    "clip_added", "clip_removed", "clip_changed",
    "track_added", "track_removed", "track_changed",
    "video_changed", "reset",
)

Listener = Callable[[Change], None]


def check_time(value: object, what: str) -> float:
    """A finite number in ``[0, MAX_TIME_S]`` as float, else ``DocumentError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DocumentError(f"{what} must be a finite number of seconds, got {value!r}")
    if not 0.0 <= value <= MAX_TIME_S:
        raise DocumentError(f"{what} must be between 0 and {MAX_TIME_S:g} s, got {value!r}")
    return float(value)


def check_db(value: object, what: str) -> float:
    """A finite level in ``[MIN_DB, MAX_DB]`` as float, else ``DocumentError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DocumentError(f"{what} must be a finite number of dB, got {value!r}")
    if not MIN_DB <= value <= MAX_DB:
        raise DocumentError(f"{what} must be between {MIN_DB:g} and {MAX_DB:g} dB, got {value!r}")
    return float(value)


def check_clip(clip: Clip) -> None:
    """Raise ``DocumentError`` unless every field of ``clip`` is usable."""
    if not isinstance(clip.id, str) or not clip.id:
        raise DocumentError(f"clip id must be a non-empty string, got {clip.id!r}")
    if not isinstance(clip.sound_path, Path):
        raise DocumentError(f"clip {clip.id}: sound_path must be a Path, got {type(clip.sound_path).__name__}")
    start = check_time(clip.source_start, f"clip {clip.id}: source_start")
    end = check_time(clip.source_end, f"clip {clip.id}: source_end")
    if end - start < MIN_CLIP_S * 0.999:
        raise DocumentError(f"clip {clip.id}: source_end ({end:g}) must be after source_start ({start:g})")
    check_time(clip.position, f"clip {clip.id}: position")
    if clip.position + (end - start) > MAX_TIME_S:
        raise DocumentError(f"clip {clip.id}: ends after {MAX_TIME_S:g} s")
    check_db(clip.gain_db, f"clip {clip.id}: gain_db")
    if clip.sound_duration is not None:
        check_time(clip.sound_duration, f"clip {clip.id}: sound_duration")
    for attr in ("name", "category"):
        value = getattr(clip, attr)
        if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
            raise DocumentError(f"clip {clip.id}: {attr} must be a string of at most {MAX_NAME_CHARS} characters")


class Document:
    """A video plus tracks of clips; mutate only through Commands (``foley_app.undo.push`` in the app)."""

    def __init__(self, video: Path | None = None, tracks: list[Track] | None = None,
                 path: Path | None = None, sample_rate: int = SAMPLE_RATE) -> None:
        self.video: Path | None = video
        self.tracks: list[Track] = tracks if tracks is not None else []
        self.path: Path | None = path  # the project file, None while untitled
        self.sample_rate = sample_rate
        self.session_id = new_id()  # names the autosave of an untitled document
        self.file_stamp: tuple[int, int] | None = None  # (size, mtime_ns) of the project file when loaded/saved
        self.listeners: list[Listener] = []
        self._revision = 0
        self.feedback: list[FeedbackChoice] = []  # the choices the ranking learns from (add_feedback)
        self.feedback_enabled = True
        self.prior_weight: float | None = None  # the common <-> specific dial; None = the model's default
        self._key_cache: tuple[int, tuple] | None = None
        self._clean_key: tuple | None = self.state()

    # -- lookup ---------------------------------------------------------------------------
    def track(self, track_id: str) -> Track:
        """The track with this id; ``DocumentError`` if there is none."""
        for t in self.tracks:
            if t.id == track_id:
                return t
        raise DocumentError(f"no track with id {track_id!r}")

    def track_index(self, track_id: str) -> int:
        """Position of a track in ``tracks``."""
        return self.tracks.index(self.track(track_id))

    def find_clip(self, clip_id: str) -> tuple[Track, Clip]:
        """The track holding a clip, and the clip; ``DocumentError`` if there is none."""
        for t in self.tracks:
            c = t.clip(clip_id)
            if c is not None:
                return t, c
        raise DocumentError(f"no clip with id {clip_id!r}")

    def clips(self) -> list[tuple[Track, Clip]]:
        """Every (track, clip) pair, track by track."""
        return [(t, c) for t in self.tracks for c in t.clips]

    def clip_count(self) -> int:
        """Number of clips in the document."""
        return sum(len(t.clips) for t in self.tracks)

    @property
    def duration(self) -> float:
        """End of the last clip on the timeline (0 when empty); the video's length is not known here."""
        return max((c.end for t in self.tracks for c in t.clips), default=0.0)

    def audible(self, track: Track) -> bool:
        """DAW semantics: mute always silences; when any track is soloed only soloed tracks play."""
        if track.mute:
            return False
        return track.solo or not any(t.solo for t in self.tracks)

    def media_paths(self) -> list[Path]:
        """The video and every distinct sound file, in document order."""
        seen: dict[Path, None] = {}
        if self.video is not None:
            seen[self.video] = None
        for _, c in self.clips():
            seen.setdefault(c.sound_path, None)
        return list(seen)

    # -- relevance feedback ---------------------------------------------------------------
    # Choices are not timeline edits: they are not on the undo stack, and a placement counts only
    # while its clip exists (undoing the placement takes its vote back).
    def add_feedback(self, choice: FeedbackChoice) -> None:
        """Record a choice (the oldest go beyond ``MAX_FEEDBACK``); the document becomes dirty."""
        if choice.kind not in FEEDBACK_KINDS:
            raise DocumentError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, got {choice.kind!r}")
        check_time(choice.time, "feedback time")
        check_time(choice.offset, "feedback offset")
        self.feedback.append(choice)
        del self.feedback[:-MAX_FEEDBACK]
        self._revision += 1

    def clear_feedback(self) -> None:
        """Forget every choice."""
        if self.feedback:
            self.feedback.clear()
            self._revision += 1

    def set_feedback_enabled(self, on: bool) -> None:
        """Learn from choices (True) or rank by the picture alone (False); choices are kept either way."""
        if bool(on) != self.feedback_enabled:
            self.feedback_enabled = bool(on)
            self._revision += 1

    def set_prior_weight(self, weight: float | None) -> None:
        """The weight of the sound prior in the ranking (the list's dial); ``None`` = the model's default.
        Like the learning switch it is a ranking setting, not an edit: saved, marks the project
        modified, not on the undo stack."""
        if weight is not None:
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                    or not 0.0 <= weight <= MAX_PRIOR_WEIGHT:
                raise DocumentError(f"prior weight must be a number between 0 and {MAX_PRIOR_WEIGHT:g}, got {weight!r}")
            weight = float(weight)
        if weight != self.prior_weight:
            self.prior_weight = weight
            self._revision += 1

    def active_feedback(self) -> list[FeedbackChoice]:
        """The choices that count now: every rejection, and placements whose clip is still placed."""
        clips = {c.id for _, c in self.clips()}
        return [f for f in self.feedback if f.kind != "place" or not f.clip_id or f.clip_id in clips]

    # -- change tracking ------------------------------------------------------------------
    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(change)`` after every change."""
        self.listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        """Stop calling ``fn``."""
        self.listeners.remove(fn)

    @property
    def on_changed(self) -> list[Listener]:
        """Alias of ``listeners`` (append callbacks to it)."""
        return self.listeners

    def notify(self, change: Change) -> None:
        """Announce a change (commands call this after mutating); a failing listener is logged."""
        self._revision += 1
        for fn in list(self.listeners):
            try:
                fn(change)
            except Exception:  # a broken view must not leave the document half-edited
                log.exception("document listener %r failed on %s", fn, change)

    @property
    def revision(self) -> int:
        """Counts changes; views can compare it to know whether to redraw."""
        return self._revision

    def state(self) -> tuple:
        """Everything a save stores, as a comparable, hashable value."""
        if self._key_cache is not None and self._key_cache[0] == self._revision:
            return self._key_cache[1]
        key = (
            str(self.video) if self.video is not None else None,
            self.sample_rate,
            tuple(
                (t.id, t.name, t.volume_db, t.mute, t.solo,
                 tuple((c.id, str(c.sound_path), c.source_start, c.source_end, c.position, c.gain_db,
                        c.name, c.category, c.sound_duration) for c in t.clips))
                for t in self.tracks
            ),
            self.feedback_enabled,
            tuple(self.active_feedback()),
            self.prior_weight,
        )
        self._key_cache = (self._revision, key)
        return key

    @property
    def dirty(self) -> bool:
        """True when the content differs from the last save (undoing back to it makes it clean)."""
        return self._clean_key is None or self.state() != self._clean_key

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self._clean_key = None if value else self.state()

    def copy(self) -> Document:
        """A deep copy without listeners (for exporting on another thread)."""
        other = Document(self.video, copy.deepcopy(self.tracks), self.path, self.sample_rate)
        other.feedback, other.feedback_enabled = list(self.feedback), self.feedback_enabled
        other.prior_weight = self.prior_weight
        other._key_cache = None
        other._clean_key = self._clean_key
        return other


__all__ = [
    "CHANGE_KINDS", "FEEDBACK_KINDS", "MAX_CLIPS", "MAX_FEEDBACK", "MAX_PRIOR_WEIGHT", "FeedbackChoice", "MAX_DB", "MAX_TIME_S", "MAX_TRACKS", "MIN_CLIP_S", "MIN_DB", "SAMPLE_RATE",
    "Change", "Clip", "Document", "DocumentError", "Listener", "Track", "check_clip", "check_db", "check_time",
    "new_id",
]
