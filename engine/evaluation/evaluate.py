"""``foley-engine evaluate``: correlation accuracy and top-k recommendation accuracy (paper §5).

(a) Correlation accuracy on balanced test pairs (``eval_pairs``, seeded) with ``model.correlation_logits``.
(b) Recommendation: ``per_video`` random seconds of every test video; their 1-s clips form the search
    list; every frame ranks the list by Euclidean distance between encoder embeddings. Reported beside
    a uniform-chance ranking (expected values, analytic) and an image-blind ranking that offers the
    clips most typical of the training audio to every frame (docs/architecture.md, "An image-blind
    baseline beside every figure").
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.atomic import atomic_write_text
from engine.config import to_dict
from engine.data.cache import FeatureCache
from engine.data.pairs import eval_pairs, search_list
from engine.data.tower_cache import clip_mels
from engine.errors import CheckpointError
from engine.evaluation.metrics import (
    chance_metrics,
    correlation_accuracy,
    pairwise_distances,
    ranking_metrics,
    roc_auc,
    typicality,
)
from engine.evaluation.report import EVAL_FILE, REPORT_FILE, render
from engine.training.ddp import choose_device

log = logging.getLogger(__name__)

BLIND_REFERENCE = 2000  # training clips sampled to estimate how typical each sound is
CHUNK = 256  # rows read from the cache at a time


def _embed(model: Any, cache: FeatureCache, rows: np.ndarray, kind: str) -> np.ndarray:
    """Encoder embeddings ``(n, D)`` of the frames or the audio of cache rows, read in chunks."""
    out = []
    for a in range(0, len(rows), CHUNK):
        chunk = rows[a : a + CHUNK]
        out.append(model.embed_frames(cache.frames(chunk)) if kind == "frames" else model.embed_audio(clip_mels(cache, chunk, model.features)))
    return np.concatenate(out) if out else np.zeros((0, model.cfg.embed_dim), np.float32)


def _jsonable(obj: Any) -> Any:
    """int dict keys -> str, numpy scalars -> python, so the in-memory result equals the file."""
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def evaluate(
    checkpoint: Path,
    data: Path,
    split: str = "test",
    n_pairs: int = 3000,
    per_video: int = 1,
    seed: int = 0,
    device: str = "auto",
    negatives: str | None = None,
    min_gap_s: int | None = None,
    skip_silent: bool = False,
    silence_rms: float = 1e-3,
    prior_weight: float = 0.0,
) -> dict[str, Any]:
    """Evaluate a model file on a prepared dataset split; returns the ``eval.json`` content.

    ``prior_weight`` > 0 adds a "model + prior" ranking: distance minus ``prior_weight`` times the
    log of the clip's typicality of the training audio (common sounds move up for every frame).
    """
    from engine.models import AVModel

    t0 = time.monotonic()
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise CheckpointError(f"model file not found: {checkpoint}; train one with 'foley-engine train' (RUN/best.pt)")
    cache = FeatureCache(data)
    dev = choose_device(device)
    model = AVModel.load(checkpoint, map_location=str(dev))
    if model.features.image_size != cache.features.image_size:
        raise CheckpointError(f"{checkpoint} was trained on other feature settings (frame size) than {data}; prepare the data with the model's FeatureCfg")
    train_cfg = model.extra.get("train_cfg") or {}
    negatives = negatives or train_cfg.get("negatives", "gameplay")
    min_gap_s = int(min_gap_s if min_gap_s is not None else train_cfg.get("min_gap_s", 5))
    kw = dict(skip_silent=skip_silent, silence_rms=silence_rms)

    # (a) correlation accuracy on balanced pairs
    pairs = eval_pairs(cache, split, n_pairs, seed, negatives=negatives, min_gap_s=min_gap_s, **kw)
    ev = torch.from_numpy(_embed(model, cache, pairs[:, 0], "frames")).to(dev)
    ea = torch.from_numpy(_embed(model, cache, pairs[:, 1], "audio")).to(dev)
    with torch.no_grad():
        logits = model.correlation_logits(ev, ea).float().cpu().numpy()
    corr = correlation_accuracy(logits, pairs[:, 2])
    auc = roc_auc(logits, pairs[:, 2]) if 0 < pairs[:, 2].sum() < len(pairs) else None

    # (b) recommendation over the split's search list
    rows = search_list(cache, split, per_video=per_video, seed=seed, **kw)
    v = _embed(model, cache, rows, "frames")
    a = _embed(model, cache, rows, "audio")
    labels = cache.labels[rows].astype(str)
    labelled = bool(np.all(labels != ""))
    targets = np.arange(len(rows))
    dist = pairwise_distances(v, a)  # (n, n): frame i vs clip j
    model_block = ranking_metrics(dist, targets, labels if labelled else None)
    chance = chance_metrics(len(rows), targets, labels if labelled else None)

    train_rows = cache.indices("train")
    if train_rows.size >= 2:
        rng = np.random.default_rng(seed + 7)
        ref_rows = np.sort(rng.choice(train_rows, size=min(BLIND_REFERENCE, train_rows.size), replace=False))
        score = typicality(a, _embed(model, cache, ref_rows, "audio"))
        blind = ranking_metrics(np.broadcast_to(-score, dist.shape), targets, labels if labelled else None)
        log_prior = np.log(np.maximum(score, 1e-300))
        with_prior = (
            ranking_metrics(dist - prior_weight * log_prior[None, :], targets, labels if labelled else None) if prior_weight > 0 else None
        )
    else:
        blind = with_prior = None
        log.warning("no training rows in %s: the image-blind baseline is left out", data)

    result = {
        "format": "foley-eval",
        "version": 1,
        "checkpoint": str(checkpoint),
        "model_id": model.model_id,
        "preset": model.extra.get("preset"),
        "variant": model.extra.get("variant"),
        "model": {k: v for k, v in to_dict(model.cfg).items() if k in ("encoder", "projector", "loss", "image_size", "embed_dim")},
        "data": str(data),
        "fingerprint": cache.fingerprint,
        "split": split,
        "seed": seed,
        "correlation": {"accuracy": corr, "auc": auc, "n_pairs": int(len(pairs)), "negatives": negatives, "min_gap_s": min_gap_s},
        "recommendation": {
            "n_frames": int(len(rows)),
            "list_size": int(len(rows)),
            "per_video": per_video,
            "labelled": labelled,
            "model": model_block,
            "image_blind": blind,
            "model_with_prior": with_prior,
            "prior_weight": prior_weight,
            "chance": chance,
        },
        "seconds": round(time.monotonic() - t0, 2),
    }
    return _jsonable(result)


def write_eval(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``eval.json`` and the Markdown report ``eval.md`` atomically into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in ((EVAL_FILE, json.dumps(result, indent=2)), (REPORT_FILE, render(result))):
        atomic_write_text(out_dir / name, text)
        paths.append(out_dir / name)
    return paths[0], paths[1]
