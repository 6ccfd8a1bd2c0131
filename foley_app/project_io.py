"""Project files: versioned JSON with relative media paths, atomic saves, strict validation, autosave.

File layout (``version`` 2)::

    {"format": "foley-assistant-project", "version": 2, "app_version": "0.1.0",
     "saved_at": "2026-01-01T12:00:00Z", "origin": "/abs/folder/of/the/project/when/saved",
     "sample_rate": 48000, "video": "media/scene.mp4" | null,
     "tracks": [{"id": "...", "name": "Track 1", "volume_db": 0.0, "mute": false, "solo": false,
                 "clips": [{"id": "...", "sound": "../sfx/door.wav", "source_start": 0.0,
                            "source_end": 1.2, "position": 3.5, "gain_db": -3.0, "name": "door",
                            "category": "DOORS", "sound_duration": 2.0}]}],
     "feedback": {"enabled": true,
                  "choices": [{"kind": "place", "time": 3.5, "sound": "../sfx/door.wav", "offset": 0.0,
                               "clip": "..."}, {"kind": "reject", "time": 7.2, "sound": "...", "offset": 1.0}]},
     "prior_weight": 1.5 | null}

``feedback`` (new in version 2) holds the designer's choices the ranking learns from
(``FeedbackChoice``); a version-1 project loads with none, learning on. ``prior_weight``
(optional, added within version 2) is the list's common <-> specific dial: the weight of the
sound prior in the ranking, ``null`` or absent = the model's default.

Media paths are stored relative to the project file's folder (forward slashes; ``..`` allowed,
so a project can sit next to its media) and are absolute only when no relative path exists
(another drive on Windows). On load, a relative path that does not resolve next to the project
is also tried against ``origin`` (where the project was saved), so a project file moved on its
own still finds its media; what cannot be found is reported by ``missing_media`` (and can be
relinked with ``find_relinks`` + ``RelinkMedia``), never an error.

Anything else wrong (not JSON, wrong types, missing keys, NaN/Infinity, numbers out of range,
too many tracks/clips, duplicate keys or ids, a newer format version) raises ``ProjectError``
naming the key and the problem, e.g. ``tracks[0].clips[2].gain_db: must be between -96 and 24 dB``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path

from engine.version import __version__
from engine.api import atomic_write_text, describe_os_error, remove_stale_temps
from foley_app.document import (
    MAX_CLIPS,
    FEEDBACK_KINDS,
    MAX_DB,
    MAX_FEEDBACK,
    MAX_PRIOR_WEIGHT,
    MAX_NAME_CHARS,
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

log = logging.getLogger(__name__)

FORMAT = "foley-assistant-project"
VERSION = 2  # 2: "feedback" (the designer's choices); version 1 files still load
PROJECT_SUFFIX = ".foley.json"  # any name loads; this is what the app suggests
AUTOSAVE_SUFFIX = ".autosave.json"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PATH_CHARS = 4096
MAX_ID_CHARS = 64
APP_NAME = "foley-assistant"


class ProjectError(DocumentError):
    """A project file cannot be read or written; the message names the key or the reason."""


# -- writing --------------------------------------------------------------------------------
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


def _write(doc: Document, path: Path, autosave_of: Path | None = None) -> None:
    data = project_to_dict(doc, path.parent, autosave_of)
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        remove_stale_temps(path)
        atomic_write_text(path, text)
    except OSError as exc:
        raise ProjectError(f"could not save {path}: {describe_os_error(exc)} (the previous file is unchanged)") from exc


def save_project(doc: Document, path: Path | str) -> None:
    """Write ``doc`` to ``path`` atomically; then it is clean, bound to ``path``, and its autosave is gone."""
    path = Path(os.path.abspath(path))
    old_autosave = autosave_path(doc)
    _write(doc, path)
    doc.path = path
    doc.dirty = False
    doc.file_stamp = _stamp(path)
    for stale in {old_autosave, autosave_path(doc)}:
        _unlink_quietly(stale)
    log.info("saved project %s (%d tracks, %d clips)", path, len(doc.tracks), doc.clip_count())


# -- reading --------------------------------------------------------------------------------
def _reject_constant(name: str) -> float:
    raise ProjectError(f"contains {name}, which is not a number JSON allows")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ProjectError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def _parse(path: Path) -> dict:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectError(f"{path}: {size >> 20} MB is far too large for a project file "
                               f"(limit {MAX_FILE_BYTES >> 20} MB)")
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ProjectError(f"{path}: project file not found") from exc
    except IsADirectoryError as exc:
        raise ProjectError(f"{path}: is a folder, not a project file") from exc
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read ({describe_os_error(exc)})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path}: not a project file (not UTF-8 text)") from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except ProjectError as exc:
        raise ProjectError(f"{path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                           f"if it is an autosave, try {AUTOSAVE_SUFFIX} next to it") from exc
    except RecursionError as exc:
        raise ProjectError(f"{path}: JSON nested far too deeply to be a project") from exc
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise ProjectError(f"{path}: unreadable number in JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: top level must be a JSON object, got {_type_name(data)}")
    return data


def _type_name(value: object) -> str:
    return {dict: "object", list: "list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__)


class _Reader:
    """Typed, range-checked access to a parsed JSON object; errors name the key path."""

    def __init__(self, data: dict, where: str) -> None:
        self.data, self.where = data, where

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, required: bool = True, default: object = None) -> object:
        if key not in self.data:
            if required:
                raise ProjectError(f"{self._key(key)}: required key is missing")
            return default
        return self.data[key]

    def number(self, key: str, lo: float, hi: float, unit: str = "", required: bool = True,
               default: float | None = None, allow_null: bool = False) -> float | None:
        if key not in self.data:
            if required:
                raise ProjectError(f"{self._key(key)}: required key is missing")
            return default
        value = self.data[key]
        if value is None and allow_null:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProjectError(f"{self._key(key)}: must be a number, got {_type_name(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProjectError(f"{self._key(key)}: must be a finite number, got {value!r}")
        if not lo <= value <= hi:
            shown = repr(value) if len(repr(value)) < 40 else repr(value)[:37] + "..."
            raise ProjectError(f"{self._key(key)}: must be between {lo:g} and {hi:g}{unit}, got {shown}")
        return float(value)

    def text(self, key: str, max_chars: int = MAX_NAME_CHARS, required: bool = True, default: str = "",
             non_empty: bool = False) -> str:
        value = self.get(key, required, default)
        if not isinstance(value, str):
            raise ProjectError(f"{self._key(key)}: must be text, got {_type_name(value)}")
        if len(value) > max_chars:
            raise ProjectError(f"{self._key(key)}: text longer than {max_chars} characters")
        if non_empty and not value:
            raise ProjectError(f"{self._key(key)}: must not be empty")
        if "\x00" in value:
            raise ProjectError(f"{self._key(key)}: contains a NUL character")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.get(key, False, default)
        if not isinstance(value, bool):
            raise ProjectError(f"{self._key(key)}: must be true or false, got {_type_name(value)}")
        return value

    def items(self, key: str, limit: int) -> list:
        value = self.get(key, False, [])
        if not isinstance(value, list):
            raise ProjectError(f"{self._key(key)}: must be a list, got {_type_name(value)}")
        if len(value) > limit:
            raise ProjectError(f"{self._key(key)}: {len(value)} entries, more than the {limit} allowed")
        return value

    def child(self, value: object, where: str) -> _Reader:
        if not isinstance(value, dict):
            raise ProjectError(f"{where}: must be an object, got {_type_name(value)}")
        return _Reader(value, where)


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
    r = _Reader(data, "")
    fmt = r.get("format")
    if fmt != FORMAT:
        raise ProjectError(f"{source}: not a Foley Assistant project "
                           f"(format is {str(fmt)[:60]!r}, expected {FORMAT!r})")
    version = r.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectError(f"version: must be a whole number, got {_type_name(version)}")
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


def _read_feedback(doc: Document, r: _Reader, base: Path, origin: Path | None) -> None:
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


def _unique_id(r: _Reader, ids: set[str]) -> str:
    value = r.text("id", MAX_ID_CHARS, non_empty=True)
    if value in ids:
        raise ProjectError(f"{r._key('id')}: {value!r} is used twice")
    ids.add(value)
    return value


def _read_clip(r: _Reader, ids: set[str], base: Path, origin: Path | None) -> Clip:
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


def load_project(path: Path | str) -> Document:
    """Read, validate and build a project (clean, bound to ``path``); ``ProjectError`` if anything is wrong.

    Media that cannot be found do not fail the load; ask ``missing_media(doc)``.
    """
    path = Path(os.path.abspath(path))
    data = _parse(path)
    try:
        doc = project_from_dict(data, path.parent, source=str(path))
    except ProjectError as exc:
        msg = str(exc)
        raise ProjectError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
    if path.name.endswith(AUTOSAVE_SUFFIX):  # recovered work: bound to its project, not saved there yet
        target = data.get("autosave_of")
        doc.path = Path(target) if isinstance(target, str) and 0 < len(target) <= MAX_PATH_CHARS else None
        if doc.path is None and path.name.startswith("untitled-"):
            doc.session_id = path.name[len("untitled-"): -len(AUTOSAVE_SUFFIX)]  # so a save retires this file
        doc.dirty = True
    else:
        doc.path = path
        doc.dirty = False
        doc.file_stamp = _stamp(path)
    missing = missing_media(doc)
    if missing:
        log.warning("%s: %d media file(s) not found, e.g. %s", path, len(missing), missing[0])
    return doc


# -- missing media and relinking ------------------------------------------------------------
def missing_media(doc: Document) -> list[Path]:
    """The video and sound files the document refers to that do not exist (document order)."""
    return [p for p in doc.media_paths() if not p.is_file()]


def find_relinks(missing: Iterable[Path], folder: Path | str, max_files: int = 500_000) -> dict[Path, Path]:
    """Search ``folder`` (recursively) for files with the missing files' names: ``{old: new}``.

    When several files share a name, the one whose parent folders match the old path's most
    closely wins. Stops after looking at ``max_files`` files.
    """
    wanted: dict[str, list[Path]] = {}
    for p in missing:
        wanted.setdefault(Path(p).name.lower(), []).append(Path(p))
    found: dict[str, list[Path]] = {}
    seen = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            seen += 1
            if name.lower() in wanted:
                found.setdefault(name.lower(), []).append(Path(root) / name)
        if seen >= max_files:
            log.warning("relink search stopped after %d files in %s", seen, folder)
            break
    mapping: dict[Path, Path] = {}
    for key, olds in wanted.items():
        for old in olds:
            if found.get(key):
                mapping[old] = max(found[key], key=lambda c: (_common_tail(old, c), -len(c.parts)))
    return mapping


def _common_tail(a: Path, b: Path) -> int:
    n = 0
    for x, y in zip(reversed(a.parts[:-1]), reversed(b.parts[:-1])):
        if x.lower() != y.lower():
            break
        n += 1
    return n


# -- autosave and recovery ------------------------------------------------------------------
def untitled_autosave_dir() -> Path:
    """Where autosaves of never-saved documents go (platformdirs user data dir / "autosave")."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "autosave"


def sidecar_path(project: Path | str) -> Path:
    """The autosave next to a project: ``scene.foley.json`` -> ``scene.foley.autosave.json``."""
    project = Path(project)
    return project.with_name(project.name.removesuffix(".json") + AUTOSAVE_SUFFIX)


def autosave_path(doc: Document) -> Path:
    """The sidecar of a saved document, or a per-session file in ``untitled_autosave_dir()``."""
    if doc.path is not None:
        return sidecar_path(doc.path)
    return untitled_autosave_dir() / f"untitled-{doc.session_id}{AUTOSAVE_SUFFIX}"


def write_autosave(doc: Document) -> Path:
    """Save a copy of ``doc`` for crash recovery (atomic); the document stays dirty and keeps its path."""
    path = autosave_path(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(doc, path, autosave_of=doc.path)
    log.debug("autosaved to %s", path)
    return path


def find_recovery(project: Path | str) -> Path | None:
    """The project's autosave if it is newer than the project (work lost in a crash), else None."""
    project = Path(project)
    sidecar = sidecar_path(project)
    try:
        auto = sidecar.stat().st_mtime_ns
    except OSError:
        return None
    try:
        return sidecar if auto > project.stat().st_mtime_ns else None
    except OSError:
        return sidecar  # the project itself is gone: the autosave is all there is


def untitled_autosaves(folder: Path | None = None) -> list[Path]:
    """Autosaves of never-saved documents a crash left behind, newest first."""
    folder = folder or untitled_autosave_dir()
    try:
        found = list(folder.glob(f"untitled-*{AUTOSAVE_SUFFIX}"))
    except OSError:
        return []
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def recover(autosave: Path | str) -> Document:
    """Open an autosave: the document is bound to its project (None if untitled) and dirty."""
    return load_project(autosave)


def discard_autosave(doc_or_path: Document | Path | str) -> None:
    """Delete the autosave of a document (or of a project path, or the autosave file itself)."""
    if isinstance(doc_or_path, Document):
        target = autosave_path(doc_or_path)
    else:
        p = Path(doc_or_path)
        target = p if p.name.endswith(AUTOSAVE_SUFFIX) else sidecar_path(p)
    _unlink_quietly(target)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


# -- concurrent edits and recent files -------------------------------------------------------
def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def changed_on_disk(doc: Document) -> bool:
    """True if the project file was rewritten by someone else (another window) since we loaded/saved it."""
    if doc.path is None or doc.file_stamp is None:
        return False
    return _stamp(doc.path) != doc.file_stamp


def update_recent(recent: Iterable[Path | str], path: Path | str, limit: int = 10) -> list[Path]:
    """A recent-files list with ``path`` first, duplicates (same absolute path) removed, at most ``limit``."""
    first = Path(os.path.abspath(path))
    out = [first]
    for p in recent:
        p = Path(os.path.abspath(p))
        if p not in out:
            out.append(p)
    return out[:limit]
