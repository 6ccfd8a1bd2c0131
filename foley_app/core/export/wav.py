"""The mix and the stems as Broadcast WAVs (``bwf``), with the ``Session``'s time reference and names.

Each file carries a ``bext`` chunk (originator "Foley Assistant <version>", origination date and
time, time reference = the video's start timecode in samples since midnight) and an ``iXML`` chunk
(project, scene, take, track names), so a DAW spots it where it belongs. Stems are the tracks
before the limiter, 32-bit float, as long as the mix: added in track order they equal
``mix.render`` bit for bit.
"""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from engine.api import __version__, atomic_path, describe_os_error
from foley_app.core.audio_cache import AudioCache
from foley_app.core.document import Document
from foley_app.core.errors import ExportError
from foley_app.core.export.bwf import SUBTYPES, Bext, BwfError, ixml, write_bwf
from foley_app.core.export.session import Session, session_of
from foley_app.core.mix import CEILING_DB, Progress, check_cancel, mixdown, render_stems

log = logging.getLogger(__name__)

ORIGINATOR = f"Foley Assistant {__version__}"
STEM_SUBTYPE = "FLOAT"  # stems are unlimited: 32-bit float keeps peaks over 0 dBFS and sums exactly


def _bwf_metadata(session: Session, sr: int, subtype: str, description: str, tracks: list[str],
                  channels: int, note: str = "") -> tuple[Bext, str]:
    ref = session.time_reference(sr)
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32}[subtype]
    kind = "FLOAT" if subtype == "FLOAT" else "PCM"
    history = f"A={kind},F={sr},W={bits},M={'mono' if channels == 1 else 'stereo'},T={ORIGINATOR}\r\n"
    bext = Bext(description=description, originator=ORIGINATOR, time_reference=ref, coding_history=history)
    xml = ixml(session.project, session.scene, session.take, tracks, note=note, sample_rate=sr, bit_depth=bits,
               time_reference=ref, fps=session.rate_fraction(), drop_frame=session.drop_frame)
    return bext, xml


def _write_bwf(path: Path, data: np.ndarray, sr: int, subtype: str, bext: Bext, xml: str) -> None:
    try:
        write_bwf(path, data, sr, subtype=subtype, bext=bext, ixml_text=xml)
    except BwfError as exc:
        raise ExportError(f"could not write {path}: {exc}") from exc
    except OSError as exc:
        raise ExportError(f"could not write {path}: {describe_os_error(exc)}") from exc


def export_wav(doc: Document, path: Path | str, sr: int = 48_000, mode: str = "limit", *, channels: int = 1,
               subtype: str = "PCM_24", length_s: float | None = None, cache: AudioCache | None = None,
               progress: Progress | None = None, cancel: threading.Event | None = None,
               session: Session | None = None) -> Path:
    """Write the mix as a Broadcast WAV (24-bit PCM by default; ``channels=2`` duplicates the mono mix).

    The file carries a ``bext`` chunk (time reference: the video's start timecode in samples since
    midnight) and an ``iXML`` chunk (project, scene, take, the track "Mix"); see ``session_of``.
    """
    if channels not in (1, 2):
        raise ExportError(f"channels must be 1 (mono) or 2 (dual mono), got {channels!r}")
    if subtype not in SUBTYPES:
        raise ExportError(f"unknown sample format {subtype!r}; choose from {', '.join(SUBTYPES)}")
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"could not write {path}: that name is a folder")
    session = session or session_of(doc)
    mix = mixdown(doc, sr, mode, length_s=length_s, cache=cache, progress=progress, cancel=cancel)
    if mix.size == 0:
        raise ExportError("nothing to export: the timeline has no audible clips and no video")
    data = mix if channels == 1 else np.repeat(mix[:, None], 2, axis=1)
    bext, xml = _bwf_metadata(session, sr, subtype, f"Foley Assistant mix of {session.project}",
                              ["Mix"] * channels, channels, note=f"{mode} to {CEILING_DB:g} dBFS")
    check_cancel(cancel)
    _write_bwf(path, data, sr, subtype, bext, xml)
    log.info("exported %s (%.1f s, %s, %d ch)", path, mix.size / sr, mode, channels)
    return path


def stem_file_names(doc: Document, project: str) -> dict[str, str]:
    """``{track id: file name}`` for the stems: ``<project>_<NN>_<track>.wav``, safe on every OS, unique."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for i, track in enumerate(doc.tracks, 1):
        base = f"{_safe_name(project)}_{i:02d}_{_safe_name(track.name) or 'track'}"
        name = f"{base}.wav"
        k = 2
        while name.lower() in used:
            name = f"{base}-{k}.wav"
            k += 1
        used.add(name.lower())
        names[track.id] = name
    return names


def _safe_name(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_. " else "_" for ch in text).strip(" .")
    return "_".join(cleaned.split())[:60]


def export_stems(doc: Document, folder: Path | str, sr: int = 48_000, *, subtype: str = STEM_SUBTYPE,
                 length_s: float | None = None, cache: AudioCache | None = None, progress: Progress | None = None,
                 cancel: threading.Event | None = None, session: Session | None = None) -> list[Path]:
    """One mono Broadcast WAV per audible track with clips, each as long as the mix and starting with it.

    Stems are the tracks before the mix's limiter (clip gain and track volume applied; 32-bit float,
    so nothing clips): added together in track order they equal the mix before the limiter sample
    for sample. Each carries the mix's time reference and its track name in iXML. The stems are
    written to temp files first and renamed into place only when all of them are complete.
    """
    if subtype not in SUBTYPES:
        raise ExportError(f"unknown sample format {subtype!r}; choose from {', '.join(SUBTYPES)}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} is a file; stems need a folder")
    session = session or session_of(doc)
    names = stem_file_names(doc, session.project)
    audible = [t for t in doc.tracks if doc.audible(t) and t.clips]
    if not audible:
        raise ExportError("no stems to export: no audible track has clips")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"could not create {folder}: {describe_os_error(exc)}") from exc
    written: list[Path] = []
    try:
        with ExitStack() as stack:  # every temp is renamed into place only after the last one is written
            for track, stem in render_stems(doc, sr, length_s, cache, progress, cancel):
                path = folder / names[track.id]
                tmp = stack.enter_context(atomic_path(path))
                index = audible.index(track) + 1
                bext, xml = _bwf_metadata(session, sr, subtype,
                                          f"Stem {index}/{len(audible)} {track.name} of {session.project} (before the limiter)",
                                          [track.name], 1, note=f"stem {index} of {len(audible)}")
                write_bwf(tmp, stem, sr, subtype=subtype, bext=bext, ixml_text=xml)
                written.append(path)
            check_cancel(cancel)
    except BwfError as exc:
        raise ExportError(f"could not write the stems: {exc}") from exc
    except OSError as exc:
        raise ExportError(f"could not write the stems in {folder}: {describe_os_error(exc)}") from exc
    log.info("exported %d stems to %s", len(written), folder)
    return written
