"""`foley-engine similar FILE`: library sounds nearest to any recording (search by a recording).

The same path as the app's "More like this" (``Recommender.similar_to_sound``) with an outside
clip as the query: one 1-s window of the file (``--at``, default its loudest second) is embedded by
the model's audio tower and the index's nearest sounds are listed (the file itself excluded when
it is in the library).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from engine.commands.library import _DB_HELP, _MODEL_HELP, _candidate_dict, _db, _fail, _model, _table
from engine.errors import ConfigError, EngineError


def similar_cmd(
    file: Path = typer.Argument(..., help="A sound file or a video with sound (a recording, a vocal imitation, any clip)."),
    at: float = typer.Option(None, "--at", help="Start (seconds) of the 1-s window to search by (default: the file's loudest second)."),
    top: int = typer.Option(10, "--top", "-k", help="How many sounds."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    model: Path = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
    category: list[str] = typer.Option(None, "--category", help="Only these categories (repeatable)."),
    text: str = typer.Option(None, "--text", help="Only sounds whose name/description/category contain these words."),
) -> None:
    """Library sounds that sound like a recording (the query need not be in the library)."""
    from engine.data.media import audio_info
    from engine.library.feedback import loudest_second
    from engine.library.recommender import Recommender
    from engine.library.sound_index import SoundIndex

    try:
        if at is not None and not (math.isfinite(at) and at >= 0):
            raise ConfigError(f"--at must be a number of seconds >= 0, got {at}")
        if top < 1:
            raise ConfigError(f"--top must be at least 1, got {top}")
        if not file.is_file():
            raise ConfigError(f"{file}: no such file")
        duration = audio_info(file)[0]  # also: one clear line for a file without sound
        if at is not None and at >= duration:
            raise ConfigError(f"--at {at:g} s is past the end of {file} ({duration:.2f} s long)")
        m = _model(model)
        offset = at if at is not None else loudest_second(file, m.features.sample_rate)
        with SoundIndex.open(_db(db), m.model_id, readonly=True) as index:
            cands = Recommender(m, index).similar_to_sound(file.resolve(), offset=offset, k=top,
                                                           include_categories=category or None, text=text)
    except EngineError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps({"file": str(file), "at": offset, "candidates": [_candidate_dict(c) for c in cands]},
                              indent=2, ensure_ascii=False))
    else:
        typer.echo(f"sounds like {file} at {offset:.2f} s")
        typer.echo(_table(cands))
