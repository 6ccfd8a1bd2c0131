"""The CSV cue sheet: one row per clip in timeline order, with timecodes from the video's start timecode."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import replace
from pathlib import Path

from engine.api import TimecodeError, frames_to_timecode
from foley_app.core.document import Clip, Document, Track
from foley_app.core.errors import ExportError
from foley_app.core.export.session import Session, session_of
from foley_app.core.export.text_file import write_text

CUE_COLUMNS = ("cue", "track", "clip", "category", "timeline_in_s", "timeline_out_s", "timeline_in_tc",
               "timeline_out_tc", "duration_s", "source_file", "source_in_s", "source_out_s", "gain_db",
               "track_volume_db", "audible")


def _cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def cue_order(doc: Document) -> list[tuple[Track, Clip]]:
    """Every clip in timeline order (then track order): the cue numbers of the cue sheet and the OTIO markers."""
    order = {t.id: i for i, t in enumerate(doc.tracks)}
    return sorted(doc.clips(), key=lambda tc: (tc[1].position, order[tc[0].id], tc[1].id))


def cue_rows(doc: Document, fps: float | None = None, drop_frame: bool = False,
             session: Session | None = None) -> list[dict[str, str]]:
    """One row per clip, in timeline order (then track order), as the CSV will hold them.

    Timecodes are at the video's frame rate (or ``fps``) and count from the video's start
    timecode (``session``; 00:00:00:00 when the video has none); ``drop_frame`` shows them as
    drop-frame (29.97 and 59.94 fps only).
    """
    session = session or session_of(doc, fps=fps)
    if drop_frame and not session.drop_frame:
        try:
            start = frames_to_timecode(session.start_frames(), session.fps, drop_frame=True)
        except TimecodeError as exc:
            raise ExportError(f"drop-frame cue sheet: {exc}") from exc
        session = replace(session, start_timecode=start)
    rows = []
    for n, (track, clip) in enumerate(cue_order(doc), 1):
        rows.append({
            "cue": str(n), "track": _cell(track.name), "clip": _cell(clip.display_name),
            "category": _cell(clip.category),
            "timeline_in_s": f"{clip.position:.3f}", "timeline_out_s": f"{clip.end:.3f}",
            "timeline_in_tc": session.timecode(clip.position),
            "timeline_out_tc": session.timecode(clip.end),
            "duration_s": f"{clip.duration:.3f}", "source_file": _cell(str(os.path.abspath(clip.sound_path))),
            "source_in_s": f"{clip.source_start:.3f}", "source_out_s": f"{clip.source_end:.3f}",
            "gain_db": f"{clip.gain_db:.1f}", "track_volume_db": f"{track.volume_db:.1f}",
            "audible": "yes" if doc.audible(track) else "no",
        })
    return rows


def export_cue_csv(doc: Document, path: Path | str, fps: float | None = None, drop_frame: bool = False,
                   session: Session | None = None) -> Path:
    """Write a cue sheet (UTF-8 with BOM so spreadsheets read names right); columns ``CUE_COLUMNS``."""
    path = Path(path)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CUE_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(cue_rows(doc, fps, drop_frame, session))
    write_text(path, buf.getvalue(), encoding="utf-8-sig")
    return path
