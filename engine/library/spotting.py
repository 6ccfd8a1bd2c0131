"""Spotting: the top sounds for every second (or every shot) of a video, as cue rows."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from engine.library.recommender import Recommender
from engine.library.sound_index import SoundIndex
from engine.timecode import picture_clock, timecode_after

log = logging.getLogger(__name__)


def _cand(c) -> dict:
    import os

    return {"rank": c.rank, "score": round(c.score, 4), "name": c.name, "category": c.category, "start_s": c.start_s,
            "path": os.fsencode(c.path).decode("utf-8", "replace"), "sound_id": c.sound_id}


def spot_video(video: Path, model, db_dir: Path, *, cache_dir: Path | None = None, per_shot: bool = False, top: int = 5,
               progress: bool = True, prior_weight: float | None = None, **filters: object) -> list[dict]:
    """Cue dicts ``{cue, start_s, end_s, start_tc, end_tc, candidates: [...]}`` from the video's cached 1-fps
    embeddings; the timecodes (``HH:MM:SS:FF``) are at the video's frame rate from its own start timecode
    (``engine.timecode.picture_clock``)."""
    from tqdm import tqdm

    from engine.library.paths import default_cache_dir
    from engine.library.shots import detect_shots

    with SoundIndex.open(Path(db_dir), model.model_id, readonly=True) as index:
        rec = Recommender(model, index, Path(cache_dir) if cache_dir else default_cache_dir(), prior_weight=prior_weight)
        bar = tqdm(unit="frame", desc="embedding frames", disable=not progress)

        def on_progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        rows = rec.video_cache.embed_video(Path(video), progress=on_progress)  # (n_seconds, D)
        bar.close()
        if per_shot:
            spans = [(a, b) for a, b in detect_shots(Path(video))]
        else:
            spans = [(float(k), float(k + 1)) for k in range(rows.shape[0])]
        fps, start_tc = picture_clock(Path(video))
        cues = []
        for i, (a, b) in enumerate(spans):
            lo, hi = int(math.floor(a)), max(int(math.ceil(b)), int(math.floor(a)) + 1)
            block = rows[lo:min(hi, rows.shape[0])]
            block = block[np.all(np.isfinite(block), axis=1)]
            if block.shape[0] == 0:
                continue
            vec = block.mean(axis=0)
            vec /= max(float(np.linalg.norm(vec)), 1e-12)  # shots: the mean direction of their seconds
            cands = rec.for_embedding(vec, k=top, **filters)
            cues.append({"cue": i + 1, "start_s": a, "end_s": b, "start_tc": timecode_after(start_tc, a, fps),
                         "end_tc": timecode_after(start_tc, b, fps), "candidates": [_cand(c) for c in cands]})
    return cues
