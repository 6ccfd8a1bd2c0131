"""A pre-built sound index shipped with the app, so the first start does not embed the demo library.

An artefact is a folder of two files, independent of where the library lies and of file times::

    manifest.json   format, model id, embedding size, segment settings, one entry per sound file
                    (path relative to the library root, size, content hash, metadata, segment count)
    vectors.npy     float16 (segments, dim): every file's segment embeddings, in manifest order

``export_prebuilt`` writes one from an index built by the real indexer; ``install_prebuilt`` turns it
back into an index folder for the library's actual location (built beside the target, then renamed
into place). Installed files carry no modification time, so the next ``index_library`` pass checks
each one by content hash: a file that changed is re-embedded, one added is embedded, one removed is
dropped. The artefact is validated like any input; anything wrong means "index normally".
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from engine.atomic import atomic_dir, remove_stale_temps
from engine.errors import EngineError, SoundIndexError
from engine.library.locking import IndexLock
from engine.library.paths import DB_FILE, LOCK_FILE
from engine.library.scan import display_path
from engine.library.segments import HOP_SECONDS, MAX_SECONDS_PER_FILE
from engine.library.sound_index import SoundIndex
from engine.library.store import Store
from engine.library.vectors import HnswParams, write_chunk

log = logging.getLogger(__name__)

FORMAT = "foley-assistant/prebuilt-index"
VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
MAX_MANIFEST_BYTES = 64 << 20  # a manifest this big is not one we wrote
_HASH_RE = re.compile(r"^[0-9a-f]{32}$")
_TEXT_FIELDS = ("name", "description", "category", "subcategory", "category_source")


@dataclass(frozen=True)
class PrebuiltFile:
    """One sound file of an artefact (relative path, what the indexer stored about it)."""

    path: str  # POSIX path relative to the library root
    size: int
    content_hash: str
    duration: float
    sample_rate: int
    channels: int
    name: str
    description: str
    category: str
    subcategory: str
    category_source: str
    n_segments: int
    hop: float


@dataclass(frozen=True)
class Prebuilt:
    """A validated artefact: its manifest fields, files and vectors."""

    folder: Path
    model_id: str
    dim: int
    hop: float
    max_seconds_per_file: float
    hnsw: HnswParams
    files: list[PrebuiltFile]
    vectors: np.ndarray  # (segments, dim) float16, rows in file order


@dataclass(frozen=True)
class InstallResult:
    """What ``install_prebuilt`` did: ``installed`` or, if not, why not (for the log)."""

    installed: bool
    reason: str = ""
    files: int = 0
    segments: int = 0
    seconds: float = 0.0


# -- writing ----------------------------------------------------------------------------------------
def export_prebuilt(db_dir: Path, library_root: Path, out: Path) -> Prebuilt:
    """Write the index at ``db_dir`` (of the one folder ``library_root``) as an artefact folder ``out``."""
    root = Path(os.path.abspath(library_root))
    with SoundIndex.open(Path(db_dir)) as index:
        if not index.model_id:
            raise SoundIndexError(f"the sound index at {db_dir} is empty; index {library_root} into it first")
        entries: list[tuple[str, object]] = []
        for f in index.files():
            rel = os.path.relpath(f.path, root)
            if rel == os.curdir or rel.startswith(os.pardir + os.sep) or rel == os.pardir or os.path.isabs(rel):
                raise SoundIndexError(f"{f.display_path} is not inside {root}; index only that folder into {db_dir}")
            entries.append((PurePosixPath(*Path(rel).parts).as_posix(), f))
        entries.sort(key=lambda e: os.fsencode(e[0]))
        chunks: dict[int, np.ndarray] = {}
        rows: list[np.ndarray] = []
        files: list[PrebuiltFile] = []
        for rel, f in entries:
            if f.chunk_id not in chunks:
                chunks[f.chunk_id] = np.load(index.chunk_path(f.chunk_id), allow_pickle=False)
            rows.append(chunks[f.chunk_id][f.chunk_row : f.chunk_row + f.n_segments])
            files.append(PrebuiltFile(
                path=rel, size=f.size, content_hash=f.content_hash, duration=f.duration, sample_rate=f.sample_rate,
                channels=f.channels, name=f.name, description=f.description, category=f.category,
                subcategory=f.subcategory, category_source=f.category_source, n_segments=f.n_segments, hop=f.hop,
            ))
        vectors = np.ascontiguousarray(np.concatenate(rows) if rows else np.zeros((0, index.dim)), dtype=np.float16)
        hops = {f.hop for f in files}
        built = Prebuilt(Path(out), index.model_id, index.dim, hops.pop() if len(hops) == 1 else HOP_SECONDS,
                         MAX_SECONDS_PER_FILE, index.params, files, vectors)
    _write_folder(built, Path(out))
    return built


def _write_folder(built: Prebuilt, out: Path) -> None:
    """Write manifest + vectors into a temp folder beside ``out``, then swap it in."""
    with atomic_dir(out) as tmp:
        _write_files(built, tmp)


def _write_files(built: Prebuilt, tmp: Path) -> None:
    """The vectors, then the manifest that names their checksum."""
    write_chunk(tmp / VECTORS, built.vectors)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "model_id": built.model_id,
        "dim": built.dim,
        "hop": built.hop,
        "max_seconds_per_file": built.max_seconds_per_file,
        "hnsw": {"M": built.hnsw.M, "ef_construction": built.hnsw.ef_construction},
        "segments": int(built.vectors.shape[0]),
        "vectors_sha256": _sha256(tmp / VECTORS),
        "files": [f.__dict__ for f in built.files],
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# -- reading ----------------------------------------------------------------------------------------
def read_manifest(folder: Path) -> dict:
    """The artefact's manifest, checked for format and shape (vectors not read); ``SoundIndexError`` if unusable."""
    path = Path(folder) / MANIFEST
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise SoundIndexError(f"{path}: {path.stat().st_size} bytes, too big for a pre-built index manifest")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SoundIndexError(f"{path}: pre-built index manifest missing or unreadable ({exc}); "
                              "rebuild it with scripts/build_demo_index.py") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SoundIndexError(f"{path}: not a pre-built sound index manifest (no {FORMAT!r} marker)")
    if data.get("version") != VERSION:
        raise SoundIndexError(f"{path}: pre-built index version {data.get('version')!r}, this version reads {VERSION}")
    _require(path, isinstance(data.get("model_id"), str) and data["model_id"], "model_id")
    _require(path, _int(data.get("dim")) and data["dim"] > 0, "dim")
    _require(path, _int(data.get("segments")) and data["segments"] >= 0, "segments")
    _require(path, isinstance(data.get("vectors_sha256"), str), "vectors_sha256")
    for key in ("hop", "max_seconds_per_file"):
        _require(path, _positive(data.get(key)), key)
    hnsw = data.get("hnsw")
    _require(path, isinstance(hnsw, dict) and _int(hnsw.get("M")) and _int(hnsw.get("ef_construction"))
             and 2 <= hnsw["M"] <= 256 and 1 <= hnsw["ef_construction"] <= 10_000, "hnsw")
    _require(path, isinstance(data.get("files"), list), "files")
    return data


def read_prebuilt(folder: Path) -> Prebuilt:
    """Load and validate a whole artefact (manifest entries, vector checksum, shape and values)."""
    folder = Path(folder)
    data = read_manifest(folder)
    path = folder / MANIFEST
    files = [_file_entry(path, i, e) for i, e in enumerate(data["files"])]
    names = [f.path for f in files]
    if len(set(names)) != len(names):
        raise SoundIndexError(f"{path}: a file is listed twice; rebuild it with scripts/build_demo_index.py")
    segments = sum(f.n_segments for f in files)
    if segments != data["segments"]:
        raise SoundIndexError(f"{path}: files have {segments} segments, the manifest says {data['segments']}")
    vec_path = folder / VECTORS
    try:
        if _sha256(vec_path) != data["vectors_sha256"]:
            raise SoundIndexError(f"{vec_path}: checksum does not match the manifest (damaged or from another build)")
        vectors = np.load(vec_path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise SoundIndexError(f"{vec_path}: pre-built vectors missing or unreadable ({exc})") from exc
    if vectors.dtype != np.float16 or vectors.shape != (segments, data["dim"]):
        raise SoundIndexError(f"{vec_path}: shape {vectors.shape} {vectors.dtype}, expected ({segments}, {data['dim']}) float16")
    v = vectors.astype(np.float32)
    if not np.all(np.isfinite(v)) or (len(v) and np.abs(np.linalg.norm(v, axis=1) - 1.0).max() > 0.02):
        raise SoundIndexError(f"{vec_path}: vectors are not unit-length embeddings")
    hnsw = HnswParams(M=data["hnsw"]["M"], ef_construction=data["hnsw"]["ef_construction"])
    return Prebuilt(folder, data["model_id"], data["dim"], float(data["hop"]), float(data["max_seconds_per_file"]),
                    hnsw, files, vectors)


def _int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _positive(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _require(path: Path, ok: object, key: str) -> None:
    if not ok:
        raise SoundIndexError(f"{path}: bad or missing {key!r}; rebuild it with scripts/build_demo_index.py")


def _file_entry(path: Path, i: int, e: object) -> PrebuiltFile:
    """One manifest file entry, every field type- and range-checked."""
    where = f"files[{i}]"
    _require(path, isinstance(e, dict), where)
    rel = e.get("path")
    _require(path, isinstance(rel, str) and rel and "\\" not in rel and "\x00" not in rel, f"{where}.path")
    parts = PurePosixPath(rel).parts
    _require(path, not PurePosixPath(rel).is_absolute() and ".." not in parts and "." not in rel.split("/")
             and not re.match(r"^[A-Za-z]:", rel), f"{where}.path (must be relative, inside the library)")
    _require(path, _int(e.get("size")) and e["size"] > 0, f"{where}.size")
    _require(path, isinstance(e.get("content_hash"), str) and _HASH_RE.match(e["content_hash"]), f"{where}.content_hash")
    _require(path, isinstance(e.get("duration"), (int, float)) and math.isfinite(e["duration"]) and e["duration"] >= 0,
             f"{where}.duration")
    _require(path, _int(e.get("sample_rate")) and e["sample_rate"] > 0, f"{where}.sample_rate")
    _require(path, _int(e.get("channels")) and e["channels"] > 0, f"{where}.channels")
    _require(path, _int(e.get("n_segments")) and e["n_segments"] >= 1, f"{where}.n_segments")
    _require(path, _positive(e.get("hop")), f"{where}.hop")
    for key in _TEXT_FIELDS:
        _require(path, isinstance(e.get(key), str), f"{where}.{key}")
    return PrebuiltFile(rel, e["size"], e["content_hash"], float(e["duration"]), e["sample_rate"], e["channels"],
                        *(e[k] for k in _TEXT_FIELDS), e["n_segments"], float(e["hop"]))


# -- installing -------------------------------------------------------------------------------------
def install_prebuilt(artefact: Path, library_root: Path, db_dir: Path, model_id: str) -> InstallResult:
    """Install the artefact as the index at ``db_dir`` for the library at ``library_root``, if it fits.

    Never raises for a bad or unsuitable artefact: the result says why nothing was installed, and
    ``db_dir`` is left as it was. Run ``index_library`` afterwards to verify every file.
    """
    t0 = time.perf_counter()
    db_dir = Path(os.path.abspath(db_dir))
    if (db_dir / DB_FILE).exists():
        return InstallResult(False, f"{db_dir} already holds a sound index")
    try:
        built = read_prebuilt(artefact)
    except EngineError as exc:
        return InstallResult(False, str(exc))
    except Exception as exc:  # an optional speed-up: whatever is wrong with it, index normally
        log.warning("pre-built index %s unreadable", artefact, exc_info=True)
        return InstallResult(False, f"{artefact}: unreadable pre-built index ({exc.__class__.__name__}: {exc})")
    if built.model_id != model_id:
        return InstallResult(False, f"the pre-built index is for model {built.model_id}, the model in use is {model_id}")
    if (built.hop, built.max_seconds_per_file) != (HOP_SECONDS, MAX_SECONDS_PER_FILE):
        return InstallResult(False, f"the pre-built index uses hop {built.hop} s / {built.max_seconds_per_file} s per file, "
                                    f"the indexer {HOP_SECONDS} s / {MAX_SECONDS_PER_FILE} s")
    root = Path(os.path.abspath(library_root))
    if not root.is_dir():
        return InstallResult(False, f"library folder {root} not found")
    busy = _clear_target(db_dir)
    if busy:
        return InstallResult(False, busy)
    try:
        remove_stale_temps(db_dir)
        with atomic_dir(db_dir, overwrite=False) as tmp:  # the index appears whole or not at all
            _build(built, root, tmp)
    except Exception as exc:  # OSError, sqlite3.Error, EngineError, or a bug: never a half index, never a crash
        if not isinstance(exc, (OSError, sqlite3.Error, EngineError)):
            log.warning("installing the pre-built index failed", exc_info=True)
        return InstallResult(False, f"could not install the pre-built index at {db_dir} ({exc})")
    seconds = time.perf_counter() - t0
    log.debug("installed the pre-built index (%d files, %d segments, model %s) at %s in %.2f s",
             len(built.files), len(built.vectors), model_id, db_dir, seconds)
    return InstallResult(True, "", len(built.files), int(len(built.vectors)), seconds)


def install_prebuilt_first(artefact: Path | None, roots: Sequence[Path], db_dir: Path, model_id: str) -> InstallResult | None:
    """Before indexing ``roots`` into ``db_dir``: install the pre-built index ``artefact`` when it applies,
    so the indexing pass that follows only checks each file (the one rule the CLI and the app follow).

    ``None`` when it does not apply: no artefact, or ``db_dir`` already holds an index (the pass updates
    it). An artefact describes one library folder, so other than exactly one root is a reason not to use
    it, as is anything ``install_prebuilt`` finds wrong; the result says why. Never raises for the artefact.
    """
    if artefact is None or (Path(db_dir) / DB_FILE).exists():
        return None
    if len(roots) != 1:
        return InstallResult(False, "it describes one library folder, and several were given" if roots
                             else "it describes one library folder, and none was given")
    return install_prebuilt(Path(artefact), Path(roots[0]), Path(db_dir), model_id)


def _clear_target(db_dir: Path) -> str:
    """Make way for the rename: remove an empty target (or one with only an idle lock file); else say why not."""
    if not db_dir.exists():
        return ""
    try:
        entries = sorted(p.name for p in db_dir.iterdir())
    except OSError as exc:
        return f"{db_dir} cannot be read ({exc})"
    if entries not in ([], [LOCK_FILE]):
        return f"{db_dir} is not empty ({', '.join(entries[:3])}); leaving it to the indexer"
    if entries:
        lock = IndexLock(db_dir, LOCK_FILE)
        try:
            lock.acquire()
        except SoundIndexError as exc:
            return str(exc)
        try:
            (db_dir / LOCK_FILE).unlink(missing_ok=True)
        except OSError as exc:  # Windows: a locked file cannot be deleted
            return f"{db_dir} could not be replaced ({exc}); leaving it to the indexer"
        finally:
            lock.release()
    try:
        db_dir.rmdir()
    except OSError as exc:  # someone started writing there meanwhile
        return f"{db_dir} could not be replaced ({exc}); leaving it to the indexer"
    return ""


def _build(built: Prebuilt, root: Path, tmp: Path) -> None:
    """Write a complete index folder at ``tmp``: rows with paths under ``root``, one chunk, a fresh graph."""
    with SoundIndex.open(tmp, model_id=None, readonly=False) as index:
        index.bind(built.model_id, built.dim, built.hnsw)
        chunk_id = 1
        index.chunk_path(chunk_id).parent.mkdir(parents=True, exist_ok=True)
        write_chunk(index.chunk_path(chunk_id), built.vectors)
        with index.store.transaction() as conn:
            conn.execute("INSERT INTO chunks(id, n, live) VALUES(?, ?, ?)", (chunk_id, len(built.vectors), len(built.vectors)))
            label = 0
            for f in built.files:
                path = root.joinpath(*PurePosixPath(f.path).parts)
                Store.insert_file(conn, dict(
                    path=path, display_path=display_path(path), root=root, size=f.size,
                    mtime_ns=0,  # unknown here: the next index pass checks the file by content hash
                    content_hash=f.content_hash, duration=f.duration, sample_rate=f.sample_rate, channels=f.channels,
                    name=f.name, description=f.description, category=f.category, subcategory=f.subcategory,
                    category_source=f.category_source, label0=label, n_segments=f.n_segments, hop=f.hop,
                    chunk_id=chunk_id, chunk_row=label,
                ))
                label += f.n_segments
            Store.set_meta(conn, "next_label", str(label))
            Store.set_meta(conn, "prebuilt", {"model_id": built.model_id, "files": len(built.files)})
        index.refresh_files()
        index.rebuild()  # the graph, from the chunk just written; saved for this database state
        index.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def demo_index_path() -> Path | None:
    """The pre-built index of the bundled demo library (``resources/demo/index``), or ``None``."""
    from engine.resources import resource_path

    folder = resource_path("demo", "index")
    return folder if (folder / MANIFEST).is_file() else None


def stale_reasons(folder: Path, library_root: Path, model_id: str) -> list[str]:
    """Why the artefact no longer matches this library and model (``[]`` if it does); reads only the manifest."""
    from engine.library.scan import scan
    from engine.library.segments import content_hash

    try:
        data = read_manifest(folder)
    except SoundIndexError as exc:
        return [str(exc)]
    reasons = []
    if data["model_id"] != model_id:
        reasons.append(f"built with model {data['model_id']}, the model is {model_id}")
    root = Path(os.path.abspath(library_root))
    found, _ = scan([root])
    here = {PurePosixPath(*f.path.relative_to(root).parts).as_posix(): f for f in found}
    listed = {e.get("path"): e for e in data["files"] if isinstance(e, dict)}
    if missing := sorted(set(here) - set(listed)):
        reasons.append(f"{len(missing)} library files not in it, e.g. {missing[0]}")
    if extra := sorted(set(listed) - set(here)):
        reasons.append(f"{len(extra)} files in it no longer in the library, e.g. {extra[0]}")
    changed = sorted(rel for rel in set(here) & set(listed)
                     if here[rel].size != listed[rel].get("size") or content_hash(here[rel].path) != listed[rel].get("content_hash"))
    if changed:
        reasons.append(f"{len(changed)} library files changed since, e.g. {changed[0]}")
    return reasons
