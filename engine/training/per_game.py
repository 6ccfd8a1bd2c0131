"""Per-game figures of heads on cached tower features: how the model does on each game's held-out recordings.

For every game of a corpus (the recorder's ``corpus.csv`` names each clip's game) and every
held-out split, two figures:

* **clip retrieval**: each picture of a seeded list of up to 150 of the game's sounding seconds
  ranks the list's sounds; how often its own second's sound comes first / in the top 10, beside
  chance (k / n). It needs no labels, so every game has it.
* **the library task**, where the game logs the sounds it started (``<clip>_labels.tsv``) and a
  library folder of the game's sounds exists (``LIBRARIES/<game>``): rank that library for every
  labelled second, beside chance and the popularity list of the game's training clips.

A game held out of training (``hold_out_game``) keeps its validation and test clips, and its
training clips become the extra split ``heldout``: all three say how the model may do on footage
of a game it never saw, and its val/test figures compare with a model trained on every game.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.splits import read_groups
from engine.errors import DatasetError
from engine.library.ranking import RankingCfg
from engine.training.heads import (
    References,
    baselines,
    build_task,
    clip_retrieval,
    evaluate_task,
    library_digest,
    library_tower_features,
)

log = logging.getLogger(__name__)

HELD_OUT = ("val", "test", "heldout")


def games_of(corpus_csv: Path, video_ids: list[str]) -> dict[str, str]:
    """Video id -> game, from a CSV whose first column names the clip and whose ``game`` column the game."""
    return read_groups(Path(corpus_csv), "game", video_ids)


def hold_out_game(tf, games: dict[str, str], game: str) -> int:
    """Take ``game``'s training seconds out of training (into the split ``heldout``); returns how many moved."""
    of_game = np.array([games.get(v) == game for v in tf.video_ids.tolist()], bool)
    if not of_game.any():
        raise DatasetError(f"no video of game {game!r} in the datasets (games: {', '.join(sorted(set(games.values())))})")
    mask = of_game & (tf.splits == "train")
    splits = tf.splits.astype(object)
    splits[mask] = "heldout"
    tf.splits = splits.astype(str)
    return int(mask.sum())


def per_game_report(model, tf, games: dict[str, str], ranking: RankingCfg, refs: References, *, videos: list[Path],
                    libraries: Path | None, cache_dir: Path, audio_tower: str, seed: int = 0,
                    silence_rms: float = 1e-3) -> dict[str, dict[str, Any]]:
    """{game: {"train_seconds", split: {"clip retrieval", "library task"?}}} over the held-out splits;
    ``refs``: the training seconds the ranking's terms are estimated from (``references``)."""
    game_col = np.array([games.get(v, "") for v in tf.video_ids.tolist()])
    sounding = tf.levels >= silence_rms
    out: dict[str, dict[str, Any]] = {}
    for game in sorted(set(game_col.tolist()) - {""}):
        of_game = game_col == game
        report: dict[str, Any] = {"train_seconds": int((of_game & (tf.splits == "train") & sounding).sum())}
        lib = _library(libraries, game, cache_dir, audio_tower, model.features)
        clips = set(tf.video_ids[of_game].tolist())
        for split in HELD_OUT:
            rows = np.flatnonzero(of_game & (tf.splits == split) & sounding)
            if not len(rows):
                continue
            part: dict[str, Any] = {"videos": len(set(tf.video_ids[rows].tolist())), "seconds": int(len(rows)),
                                    "clip retrieval": clip_retrieval(model, tf, rows, seed=seed)}
            if lib is not None:
                try:
                    task = build_task(tf, lib, videos, split, clips_of=clips)
                except DatasetError:
                    task = None  # no labelled second of this game in this split
                if task is not None:
                    grid = {"picture only": RankingCfg(ranking.temperature), "chosen ranking": ranking,
                            "hubness fix only": replace(ranking, prior_weight=0.0)}
                    res = evaluate_task(model, lib, task, refs, list(grid.values()))
                    base = baselines(lib, task)
                    if not task.popularity.any():  # no training clip of this game logs its sounds
                        base.pop("popularity (training labels, image-blind)")
                    part["library task"] = {"queries": len(task.queries), "library files": len(lib.entries),
                                            **base, **{name: res[rc] for name, rc in grid.items()}}
            report[split] = part
        out[game] = report
    return out


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _library(root: Path | None, game: str, cache_dir: Path, audio_tower: str, features=None):
    folder = Path(root) / game if root is not None else None
    if folder is None or not folder.is_dir():
        return None
    try:
        digest = library_digest(folder, audio_tower, features)
        return library_tower_features(folder, cache_dir / f"library-{game}-{digest}.npz", audio_tower, features)
    except DatasetError as exc:
        log.warning("%s: %s; no library task for %s", folder, exc, game)
        return None


def render_per_game(report: dict[str, dict[str, Any]]) -> str:
    """A markdown table: one line per game and held-out split."""
    lines = ["| game | split | videos / seconds | clip R@1 / R@10 (chance) | library top-1 / top-10: model | picture only | popularity | chance |",
             "|---|---|---|---|---|---|---|---|"]
    for game, rep in report.items():
        for split in HELD_OUT:
            part = rep.get(split)
            if not part:
                continue
            cr = part["clip retrieval"]
            retrieval = f"{pct(cr['R@1'])} / {pct(cr['R@10'])} ({pct(cr['chance R@1'])} / {pct(cr['chance R@10'])}, n={cr['n']})" if "R@1" in cr else "-"
            lt = part.get("library task")
            if lt:
                def cell(name: str, lt=lt) -> str:
                    return f"{pct(lt[name]['sample']['1'])} / {pct(lt[name]['sample']['10'])}" if name in lt else "-"
                lib_cells = [f"{cell('chosen ranking')} ({lt['queries']} s)", cell("picture only"),
                             cell("popularity (training labels, image-blind)"), cell("chance (uniform)")]
            else:
                lib_cells = ["-", "-", "-", "-"]
            lines.append(f"| {game} | {split} | {part['videos']} / {part['seconds']} | {retrieval} | " + " | ".join(lib_cells) + " |")
    return "\n".join(lines) + "\n"
