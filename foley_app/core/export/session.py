"""Where exported files belong: the project's name, the scene and take, the picture's rate and start timecode."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from engine.api import (
    DEFAULT_FPS,
    MediaError,
    TimecodeError,
    is_drop_frame_text,
    probe_video,
    timecode_after,
    timecode_to_frames,
    video_start_timecode,
)
from foley_app.core.document import Document
from foley_app.core.errors import ExportError
from foley_app.core.timecode import usable_fps

ZERO_TC = "00:00:00:00"


@dataclass(frozen=True)
class Session:
    """What the exported files say about where they belong: names for iXML, the picture's rate and start timecode.

    ``start_timecode`` is the timecode of the video's first frame (the timeline's zero); a file's
    BWF time reference is that point in samples since midnight plus the file's own offset.
    """

    project: str
    scene: str
    take: str
    fps: float
    start_timecode: str = ZERO_TC

    @property
    def drop_frame(self) -> bool:
        return is_drop_frame_text(self.start_timecode)

    def start_frames(self) -> int:
        try:
            return timecode_to_frames(self.start_timecode, self.fps)
        except TimecodeError as exc:
            raise ExportError(f"start timecode: {exc}") from exc

    def time_reference(self, sr: int, offset_samples: int = 0) -> int:
        """Samples since midnight of the timeline sample ``offset_samples``."""
        start = self.start_frames()
        if start < 0:
            raise ExportError(f"start timecode {self.start_timecode!r} is before midnight; a BWF time reference cannot be negative")
        return int(round(start / self.fps * sr)) + offset_samples

    def timecode(self, seconds: float) -> str:
        """Timecode of a timeline time (the video's start timecode plus ``seconds``)."""
        self.start_frames()
        return timecode_after(self.start_timecode, seconds, self.fps)

    def rate_fraction(self) -> tuple[int, int]:
        f = Fraction(self.fps).limit_denominator(1001)
        return f.numerator, f.denominator


def project_name(doc: Document) -> str:
    """The project's name: its file name without ``.foley.json`` (or ``.json``), else "Untitled"."""
    if doc.path is None:
        return "Untitled"
    name = Path(doc.path).name
    for suffix in (".foley.json", ".autosave.json", ".json"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def session_of(doc: Document, *, project: str | None = None, scene: str | None = None, take: str | None = None,
               start_timecode: str | None = None, fps: float | None = None) -> Session:
    """The ``Session`` of a document; what is not given comes from the project and its video.

    Project: the project file's name; scene: the video's name (else the project's); take: "1";
    frame rate: the video's (25 without one); start timecode: the video's own (else 00:00:00:00).
    """
    fps = fps or _video_fps(doc)
    if start_timecode is None:
        start_timecode = (video_start_timecode(doc.video) if doc.video is not None else None) or ZERO_TC
    name = project or project_name(doc)
    session = Session(project=name, scene=scene or (Path(doc.video).stem if doc.video is not None else name),
                      take=take or "1", fps=fps, start_timecode=start_timecode)
    session.start_frames()  # a bad timecode fails here, before anything is rendered
    return session




def _video_fps(doc: Document) -> float:
    if doc.video is None:
        return DEFAULT_FPS
    try:
        fps = probe_video(doc.video).fps
    except MediaError as exc:
        raise ExportError(f"the video cannot be read: {exc}") from exc
    return usable_fps(fps)
