"""`foley-engine` sub-commands: index, recommend, spot, library stats|list|remove."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from pathlib import Path

import typer

from engine.atomic import atomic_write_text
from engine.errors import CheckpointError, ConfigError, EngineError, SoundIndexError

log = logging.getLogger(__name__)

library_app = typer.Typer(help="Inspect or change a sound index.", no_args_is_help=True)

_DB_HELP = "Index folder (default: the per-user data folder)."
_MODEL_HELP = "Model file (default: the shipped resources/models/default.pt)."


_TIME_FORMS = "seconds (83.5), MM:SS.s (1:23.5), HH:MM:SS.s (00:01:23.5) or timecode HH:MM:SS:FF (00:01:23:12)"


def parse_time(text: str, fps: float | None = None) -> float:
    """'83.5', '1:23.5', '00:01:23.5' or the app's timecode '00:01:23:12' (frames at ``fps``) -> seconds.

    Minutes and seconds after a colon must be below 60: '1:75' is refused, not read as 135 s.
    """
    from engine.timecode import TimecodeError, timecode_to_seconds

    text = text.strip()
    if re.fullmatch(r"\d{1,3}:\d{2}:\d{2}[:;]\d{2,3}", text):  # HH:MM:SS:FF (';' drop-frame), as the app shows it
        if fps is None:
            raise ConfigError(f"timecode {text!r} needs the video's frame rate")
        try:
            return timecode_to_seconds(text, fps)
        except TimecodeError as exc:
            raise ConfigError(str(exc)) from exc
    if not re.fullmatch(r"\d+(\.\d+)?|\d+:\d{1,2}(\.\d+)?|\d+:\d{1,2}:\d{1,2}(\.\d+)?", text):
        raise ConfigError(f"cannot read time {text!r}; write {_TIME_FORMS}")
    parts = text.split(":")
    if any(float(p) >= 60 for p in parts[1:]):
        raise ConfigError(f"cannot read time {text!r}: minutes and seconds after a colon must be below 60; write {_TIME_FORMS}")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def _video(video: Path):
    """Probe a video before any work: one line about the user's file when it cannot be used."""
    from engine.data.media import probe_video
    from engine.errors import MediaError

    shown = os.fsencode(video).decode("utf-8", "replace")
    if not video.exists():
        raise MediaError(f"{shown}: file not found")
    if video.is_dir():
        raise MediaError(f"{shown}: is a folder, not a video file")
    try:
        info = probe_video(video)
    except MediaError as exc:
        log.debug("probing %s: %s", shown, exc)
        raise MediaError(f"{shown}: not a video this program can read (the file is damaged or is not a video)") from exc
    if info.duration <= 0:
        raise MediaError(f"{shown}: the video has no length (damaged, or not a video)")
    return info


def _moment(video: Path, at: str) -> float:
    """``--at`` read against the video: its own frame rate for timecode; past the end names the length."""
    from engine.timecode import DEFAULT_FPS, seconds_to_timecode

    info = _video(video)
    fps = info.fps if 1.0 <= info.fps <= 1000.0 else DEFAULT_FPS
    t = parse_time(at, fps)
    if t >= info.duration:
        shown = os.fsencode(video).decode("utf-8", "replace")
        raise ConfigError(f"--at {at} is past the end of {shown}, which is {seconds_to_timecode(info.duration, fps)} "
                          f"({info.duration:.2f} s) long")
    return t


def _model_file(path: Path | None) -> Path:
    """``--model``, else the shipped model; ``CheckpointError`` naming the option when neither exists."""
    from engine.library.paths import default_model_path

    path = path or default_model_path()
    if path is None:
        raise CheckpointError("no model: pass --model PATH (the shipped default model resources/models/default.pt is not installed yet)")
    return Path(path)


def _model(path: Path | None):
    from engine.library.loading import load_model

    return load_model(_model_file(path))


def _db(db: Path | None) -> Path:
    from engine.library.paths import default_db_dir

    return db or default_db_dir()


def _fail(exc: EngineError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


def _candidate_dict(c) -> dict:
    return {
        "rank": c.rank, "score": round(c.score, 4), "distance": round(c.distance, 4), "name": c.name,
        "category": c.category, "start_s": c.start_s, "duration_s": round(c.duration_s, 3),
        "path": os.fsencode(c.path).decode("utf-8", "replace"), "sound_id": c.sound_id, "description": c.description,
    }


def _table(cands) -> str:
    lines = [f"{'#':>3}  {'score':>5}  {'offset':>6}  {'category':<16} {'name':<32} path"]
    for c in cands:
        lines.append(f"{c.rank:>3}  {c.score:5.3f}  {c.start_s:6.1f}  {c.category[:16]:<16} {c.name[:32]:<32} "
                     f"{os.fsencode(c.path).decode('utf-8', 'replace')}")
    return "\n".join(lines)


def index_cmd(
    library_dirs: list[Path] = typer.Argument(..., help="Folders (or files) of sounds to index."),
    model: Path = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
    workers: int = typer.Option(2, "--workers", "-w", help="Decoding processes (0 = decode in this process)."),
    max_seconds_per_file: float = typer.Option(600.0, "--max-seconds-per-file", help="Index only the start of longer files."),
    reembed: bool = typer.Option(False, "--reembed", help="Drop all vectors and embed everything again with this model."),
    prebuilt: Path = typer.Option(None, "--prebuilt", help="A pre-built index of the (one) library folder for this model "
                                  "(scripts/build_demo_index.py): installed first when --db holds no index yet; "
                                  "the normal pass then checks every file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Index sound folders: new and changed files are embedded, deleted ones dropped."""
    import torch

    from engine.library.indexer import index_library

    if workers > 0:  # the decoding processes use the other cores; more threads here make OpenMP spin-wait
        torch.set_num_threads(1)
    try:
        m = _model(model)
        _check_library_dirs(library_dirs)  # before the index is opened: a typo creates no empty index
        if prebuilt is not None:
            _install_prebuilt(prebuilt, library_dirs, _db(db), m.model_id)
        report = index_library(list(library_dirs), m, _db(db), workers=workers, progress=not quiet,
                               max_seconds_per_file=max_seconds_per_file, reembed=reembed)
    except EngineError as exc:
        _fail(exc)
    typer.echo(report.summary())
    if report.files == 0 and not report.cancelled:
        _fail(SoundIndexError(f"none of the sound files in {_shown(library_dirs)} could be indexed (reasons above)"))


def _shown(paths: list[Path]) -> str:
    return ", ".join(os.fsencode(p).decode("utf-8", "replace") for p in paths)


def _check_library_dirs(library_dirs: list[Path]) -> None:
    """A missing folder, or folders without a single sound file, is an error; nothing is touched."""
    from engine.library.scan import INDEXED_EXTENSIONS, has_indexable

    missing = [p for p in library_dirs if not p.exists()]
    if missing:
        raise ConfigError(f"library folder not found: {_shown(missing)}; nothing was indexed")
    if not has_indexable(library_dirs):
        kinds = " ".join(sorted(e.lstrip(".") for e in INDEXED_EXTENSIONS))
        raise ConfigError(f"no sound files in {_shown(library_dirs)} (looked for {kinds}); nothing was indexed")


def _require_sounds(index, db_dir: Path) -> None:
    """An index without a single sound gives no recommendations: say so instead of an empty list."""
    if not index.files():
        raise SoundIndexError(f"the sound index at {db_dir} has no sounds; index a folder of sounds first: "
                              f"foley-engine index SOUNDS_DIR --db {db_dir}")


def _install_prebuilt(artefact: Path | None, library_dirs: list[Path], db: Path, model_id: str) -> None:
    """Install a pre-built index before indexing when it applies; say why when it is not used (never fatal)."""
    from engine.library.prebuilt import install_prebuilt_first

    result = install_prebuilt_first(artefact, library_dirs, db, model_id)
    if result is None:
        return  # no artefact, or an index is already there: the normal pass updates it
    if result.installed:
        typer.echo(f"pre-built index installed: {result.files} files, {result.segments} segments in {result.seconds:.1f} s")
    else:
        typer.echo(f"pre-built index not used: {result.reason}")


def recommend_cmd(
    video: Path = typer.Argument(..., help="Video file."),
    at: str = typer.Option(..., "--at", help="Time in the video: 83.5, 1:23.5, 00:01:23.5 or timecode 00:01:23:12."),
    top: int = typer.Option(10, "--top", "-k", min=1, help="How many sounds."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    model: Path = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
    category: list[str] = typer.Option(None, "--category", help="Only these categories (repeatable)."),
    text: str = typer.Option(None, "--text", help="Only sounds whose name/description/category contain these words."),
    per_segment: bool = typer.Option(False, "--per-segment", help="One row per matching segment, not per file."),
    prior_weight: float = typer.Option(None, "--prior-weight", min=0.0, help="Common <-> specific dial: weight of the sound prior (0 = the picture alone; default: the model's, chosen on validation maps)."),
) -> None:
    """Ranked sounds for one moment of a video."""
    from engine.library.loading import load_engine

    try:
        t = _moment(video, at)
        with load_engine(_model_file(model), _db(db), prior_weight=prior_weight) as engine:
            _require_sounds(engine.index, _db(db))
            cands = engine.recommender.for_video(video, t, k=top, include_categories=category or None, text=text, per_segment=per_segment)
    except EngineError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps({"video": str(video), "t": t, "candidates": [_candidate_dict(c) for c in cands]}, indent=2, ensure_ascii=False))
    else:
        typer.echo(f"{video} at {t:.2f} s")
        typer.echo(_table(cands))


def spot_cmd(
    video: Path = typer.Argument(..., help="Video file."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for cues.csv and cues.json."),
    per_shot: bool = typer.Option(False, "--per-shot", help="One cue per shot (histogram-difference cut detector) instead of per second."),
    top: int = typer.Option(5, "--top", "-k", min=1, help="Candidates per cue."),
    model: Path = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Video embedding cache (default: the per-user cache folder)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    prior_weight: float = typer.Option(None, "--prior-weight", min=0.0, help="Common <-> specific dial: weight of the sound prior (0 = the picture alone; default: the model's, chosen on validation maps)."),
) -> None:
    """Write a cue sheet (CSV + JSON) of the top sounds for every second or every shot of a video."""
    from engine.library.sound_index import SoundIndex
    from engine.library.spotting import spot_video

    try:
        _video(video)  # before the progress bars: a bad file is one line
        m = _model(model)
        with SoundIndex.open(_db(db), m.model_id, readonly=True) as index:
            _require_sounds(index, _db(db))
        cues = spot_video(video, m, _db(db), cache_dir=cache_dir, per_shot=per_shot, top=top, progress=not quiet, prior_weight=prior_weight)
    except EngineError as exc:
        _fail(exc)
    write_cue_sheet(video, cues, out, per_shot)
    typer.echo(f"{len(cues)} cues written to {out / 'cues.csv'} and {out / 'cues.json'}")


def write_cue_sheet(video: Path, cues: list[dict], out: Path, per_shot: bool) -> None:
    """``out/cues.csv`` and ``out/cues.json`` (each replaced atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["cue", "start_s", "end_s", "start_tc", "end_tc", "rank", "score", "name", "category", "offset_s", "path"])
    for cue in cues:
        for c in cue["candidates"]:
            writer.writerow([cue["cue"], f"{cue['start_s']:.3f}", f"{cue['end_s']:.3f}", cue["start_tc"], cue["end_tc"],
                             c["rank"], c["score"], c["name"], c["category"], c["start_s"], c["path"]])
    from engine.timecode import picture_clock

    fps, start_tc = picture_clock(video)  # the clock of the cues' timecodes
    atomic_write_text(out / "cues.csv", buf.getvalue())
    atomic_write_text(out / "cues.json", json.dumps({"video": str(video), "mode": "shot" if per_shot else "second", "fps": fps,
                                                 "start_timecode": start_tc, "cues": cues}, indent=2, ensure_ascii=False))


def stats_cmd(
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
    skipped: bool = typer.Option(False, "--skipped", help="Also list the files that could not be indexed."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Totals of an index: files, segments, hours, categories, model, disk use."""
    from engine.library.sound_index import SoundIndex

    try:
        with SoundIndex.open(_db(db), readonly=True) as index:
            st = index.stats()
            skips = index.skipped()
    except EngineError as exc:
        _fail(exc)
    data = {"db_dir": str(st.db_dir), "model_id": st.model_id, "files": st.files, "segments": st.segments,
            "hours": round(st.hours, 3), "categories": st.categories, "skipped": st.skipped, "disk_mb": round(st.disk_bytes / 1e6, 1),
            "hnsw": st.hnsw.__dict__}
    if as_json:
        if skipped:
            data["skipped_files"] = [{"path": p, "reason": r} for p, r in skips]
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    hnsw = ", ".join(f"{k}={v}" for k, v in st.hnsw.__dict__.items())
    for key, value in (("index", _shown([st.db_dir])), ("model", st.model_id or "(none yet)"), ("files", f"{st.files:,}"),
                       ("segments", f"{st.segments:,} (1-s)"), ("audio", f"{st.hours:.2f} h"), ("categories", f"{st.categories:,}"),
                       ("skipped", f"{st.skipped:,} files" + ("" if skipped or not st.skipped else " (list them: --skipped)")),
                       ("disk", f"{st.disk_bytes / 1e6:.1f} MB"), ("search", f"HNSW {hnsw}")):
        typer.echo(f"{key:>10}: {value}")
    if skipped:
        for p, r in skips:
            typer.echo(f"skipped {p}: {r}")


def list_cmd(
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
    category: str = typer.Option(None, "--category", help="Only this category."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the indexed files."""
    from engine.library.sound_index import SoundIndex

    try:
        with SoundIndex.open(_db(db), readonly=True) as index:
            files = [f for f in index.files() if category is None or f.category.lower() == category.lower()]
    except EngineError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps([{"id": f.id, "path": f.display_path, "name": f.name, "category": f.category,
                                 "duration_s": f.duration, "segments": f.n_segments, "description": f.description} for f in files],
                              indent=2, ensure_ascii=False))
        return
    for f in sorted(files, key=lambda f: f.display_path):
        typer.echo(f"{f.id:>6}  {f.duration:8.2f}s  {f.category[:16]:<16} {f.display_path}")


def remove_cmd(
    paths: list[Path] = typer.Argument(..., help="Files or folders to remove from the index (the files themselves are not touched)."),
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Remove files (or everything under folders) from the index."""
    from engine.library.sound_index import SoundIndex

    try:
        with SoundIndex.open(_db(db), readonly=False) as index:
            removed = index.remove(list(paths))
    except EngineError as exc:
        _fail(exc)
    typer.echo(f"removed {len(removed)} files from the index")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("index")(index_cmd)
    app.command("recommend")(recommend_cmd)
    app.command("spot")(spot_cmd)
    from engine.commands.similar import similar_cmd

    app.command("similar")(similar_cmd)
    library_app.command("stats")(stats_cmd)
    library_app.command("list")(list_cmd)
    library_app.command("remove")(remove_cmd)
    app.add_typer(library_app, name="library")

