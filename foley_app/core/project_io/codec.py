"""A ``Document`` to and from the project file's JSON (``schema``), with media paths relative to the file."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from engine.api import __version__, atomic_write_text, describe_os_error, remove_stale_temps
from foley_app.core.document import (
    FEEDBACK_KINDS,
    MAX_CLIPS,
    MAX_DB,
    MAX_FEEDBACK,
    MAX_PRIOR_WEIGHT,
    MAX_TIME_S,
    MAX_TRACKS,
    MIN_CLIP_S,
    MIN_DB,
    Clip,
    Document,
    DocumentError,
    FeedbackChoice,
    Track,
    check_clip,
)
from foley_app.core.project_io.reader import Reader, type_name
from foley_app.core.project_io.schema import FORMAT, MAX_ID_CHARS, MAX_PATH_CHARS, VERSION, ProjectError

log = logging.getLogger(__name__)


def _encode_path(path: Path, base: Path) -> str:
    path = Path(os.path.abspath(path))
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows: only an absolute path can say where it is
        return path.as_posix()


def project_to_dict(doc: Document, base: Path, autosave_of: Path | None = None) -> dict:
    """The JSON-ready dict of a document, media paths relative to ``base``."""
    base = Path(os.path.abspath(base))
    data: dict = {
        "format": FORMAT,
        "version": VERSION,
        "app_version": __version__,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "origin": base.as_posix(),
        "sample_rate": doc.sample_rate,
        "video": _encode_path(doc.video, base) if doc.video is not None else None,
        "tracks": [
            {
                "id": t.id, "name": t.name, "volume_db": t.volume_db, "mute": t.mute, "solo": t.solo,
                "clips": [
                    {"id": c.id, "sound": _encode_path(c.sound_path, base), "source_start": c.source_start,
                     "source_end": c.source_end, "position": c.position, "gain_db": c.gain_db,
                     "name": c.name, "category": c.category, "sound_duration": c.sound_duration}
                    for c in t.clips
                ],
            }
            for t in doc.tracks
        ],
    }
    data["feedback"] = {
        "enabled": doc.feedback_enabled,
        "choices": [
            {"kind": f.kind, "time": f.time, "sound": _encode_path(f.sound_path, base), "offset": f.offset,
             **({"clip": f.clip_id} if f.clip_id else {})}
            for f in doc.active_feedback()
        ],
    }
    data["prior_weight"] = doc.prior_weight
    if autosave_of is not None:
        data["autosave_of"] = Path(os.path.abspath(autosave_of)).as_posix()
    return data


def write_file(doc: Document, path: Path, autosave_of: Path | None = None) -> None:
    """Write ``doc`` as JSON to ``path`` atomically; ``ProjectError`` if the disk refuses (the old file stays)."""
    data = project_to_dict(doc, path.parent, autosave_of)
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        remove_stale_temps(path)
        atomic_write_text(path, text)
    except OSError as exc:
        raise ProjectError(f"could not save {path}: {describe_os_error(exc)} (the previous file is unchanged)") from exc



def _decode_path(text: str, base: Path, origin: Path | None) -> Path:
    rel = Path(text)
    if rel.is_absolute():
        return rel
    here = Path(os.path.normpath(base / rel))
    if not here.exists() and origin is not None:
        there = Path(os.path.normpath(origin / rel))
        if there.exists():
            log.info("%s not next to the project; found at the original location %s", text, there)
            return there
    return here


def project_from_dict(data: dict, base: Path, source: str = "project") -> Document:
    """Validate a parsed project and build its ``Document`` (media paths resolved against ``base``)."""
    r = Reader(data, "")
    fmt = r.get("format")
    if fmt != FORMAT:
        raise ProjectError(f"{source}: not a Foley Assistant project "
                           f"(format is {str(fmt)[:60]!r}, expected {FORMAT!r})")
    version = r.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectError(f"version: must be a whole number, got {type_name(version)}")
    if version > VERSION:
        raise ProjectError(f"{source}: made by a newer Foley Assistant (project version {version}, this one reads "
                           f"{VERSION}); update the app to open it")
    if version < 1:
        raise ProjectError(f"version: {version} is not a valid project version")
    sample_rate = r.number("sample_rate", 8_000, 384_000, " Hz", required=False, default=48_000.0)
    origin_text = r.get("origin", required=False)
    origin = Path(origin_text) if isinstance(origin_text, str) and 0 < len(origin_text) <= MAX_PATH_CHARS else None
    video_text = r.get("video", required=False)
    video = None
    if video_text is not None:
        video = _decode_path(r.text("video", MAX_PATH_CHARS, non_empty=True), base, origin)
    tracks: list[Track] = []
    ids: set[str] = set()
    n_clips = 0
    for ti, tdata in enumerate(r.items("tracks", MAX_TRACKS)):
        where = f"tracks[{ti}]"
        tr = r.child(tdata, where)
        track = Track(
            id=_unique_id(tr, ids),
            name=tr.text("name", required=False, default=f"Track {ti + 1}"),
            volume_db=tr.number("volume_db", MIN_DB, MAX_DB, " dB", required=False, default=0.0),
            mute=tr.flag("mute"), solo=tr.flag("solo"),
        )
        clip_items = tr.items("clips", MAX_CLIPS)
        n_clips += len(clip_items)
        if n_clips > MAX_CLIPS:
            raise ProjectError(f"{where}.clips: more than {MAX_CLIPS} clips in the project")
        for ci, cdata in enumerate(clip_items):
            track.clips.append(_read_clip(tr.child(cdata, f"{where}.clips[{ci}]"), ids, base, origin))
        track.sort()
        tracks.append(track)
    doc = Document(video=video, tracks=tracks, sample_rate=int(sample_rate or 48_000))
    if version >= 2 and r.get("feedback", required=False) is not None:
        _read_feedback(doc, r.child(r.get("feedback"), "feedback"), base, origin)
    doc.set_prior_weight(r.number("prior_weight", 0.0, MAX_PRIOR_WEIGHT, required=False, allow_null=True))
    for _, clip in doc.clips():  # the document's own invariants, as a backstop
        try:
            check_clip(clip)
        except DocumentError as exc:
            raise ProjectError(str(exc)) from None
    return doc


def _read_feedback(doc: Document, r: Reader, base: Path, origin: Path | None) -> None:
    doc.set_feedback_enabled(r.flag("enabled", default=True))
    for i, item in enumerate(r.items("choices", MAX_FEEDBACK)):
        c = r.child(item, f"{r.where}.choices[{i}]")
        kind = c.text("kind", 16, non_empty=True)
        if kind not in FEEDBACK_KINDS:
            raise ProjectError(f"{c.where}.kind: must be one of {', '.join(FEEDBACK_KINDS)}, got {kind!r}")
        doc.add_feedback(FeedbackChoice(
            kind=kind, time=c.number("time", 0.0, MAX_TIME_S, " s") or 0.0,
            sound_path=_decode_path(c.text("sound", MAX_PATH_CHARS, non_empty=True), base, origin),
            offset=c.number("offset", 0.0, MAX_TIME_S, " s", required=False, default=0.0) or 0.0,
            clip_id=c.text("clip", MAX_ID_CHARS, required=False),
        ))


def _unique_id(r: Reader, ids: set[str]) -> str:
    value = r.text("id", MAX_ID_CHARS, non_empty=True)
    if value in ids:
        raise ProjectError(f"{r._key('id')}: {value!r} is used twice")
    ids.add(value)
    return value


def _read_clip(r: Reader, ids: set[str], base: Path, origin: Path | None) -> Clip:
    start = r.number("source_start", 0.0, MAX_TIME_S, " s")
    end = r.number("source_end", 0.0, MAX_TIME_S, " s")
    assert start is not None and end is not None
    if end - start < MIN_CLIP_S * 0.999:
        raise ProjectError(f"{r.where}: source_end ({end:g}) must be after source_start ({start:g}); "
                           "a clip cannot have a negative or zero length")
    position = r.number("position", 0.0, MAX_TIME_S - (end - start), " s")
    assert position is not None
    return Clip(
        id=_unique_id(r, ids),
        sound_path=_decode_path(r.text("sound", MAX_PATH_CHARS, non_empty=True), base, origin),
        source_start=start, source_end=end, position=position,
        gain_db=r.number("gain_db", MIN_DB, MAX_DB, " dB", required=False, default=0.0) or 0.0,
        name=r.text("name", required=False), category=r.text("category", required=False),
        sound_duration=r.number("sound_duration", 0.0, MAX_TIME_S, " s", required=False, allow_null=True),
    )
