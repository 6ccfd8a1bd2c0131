"""The ranking of library sounds for a picture: critic, hubness penalty and a sound prior (the dial).

A segment ``a`` of a library file scores, for a frame embedding ``v``::

    picture(v, a) = (cos(v, a) - hub_weight * r(a)) / temperature
    s(v, a) = z(picture(v, a)) + prior_weight * z(log p(file(a)))

where ``z`` standardises over the library's segments: the picture term by its mean and spread
for this frame, the prior by its mean and spread over the library. Standardising the picture
term per frame keeps the picture's say the same for every frame: without it, a frame the model
is unsure of (small spread) gets the prior's list, and one file tops most lists.

* ``cos / temperature`` is the contrastive critic, what InfoNCE estimates: log p(a|v) / p(a)
  up to a constant.
* ``r(a)`` is the mean cosine of ``a`` with its ``hub_k`` nearest reference frames (training
  pictures): CSLS-style local scaling. Sounds near every picture ("hubs") lose what they gain
  from being near everything.
* ``log p(file)`` is a per-file prior estimated without labels: each reference training
  second's audio votes for its nearest library segment; a file's votes per segment, smoothed.
  At weight 0 the ranking is the picture alone; higher weights favour sounds common in footage.
  The app's dial and ``--prior-weight`` move it.

Scores are shown as ``relevance``: how many standard deviations above the library's mean score
for this frame a sound is, mapped to 0..1 (``RELEVANCE_SPAN`` deviations = 1).

The means and spreads come from the first and second moments of ``[a / temperature, hub term,
log prior]`` over the library's segments (``Moments``), so they cost a few dot products a query.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

BLOCK = 8192
RELEVANCE_SPAN = 5.0


@dataclass(frozen=True)
class RankingCfg:
    """The ranking terms a model was chosen with (stored in the model file's ``extra["ranking"]``)."""

    temperature: float = 1.0
    hub_weight: float = 0.0
    prior_weight: float = 0.0
    hub_k: int = 10

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RankingCfg:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def __str__(self) -> str:
        return f"hub {self.hub_weight:g}, prior {self.prior_weight:g}"


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def hub_scores(lib_emb: np.ndarray, ref_frames: np.ndarray, k: int = 10) -> np.ndarray:
    """``(n_seg,)`` mean cosine of each library segment with its ``k`` nearest reference frames."""
    lib, ref = _unit(lib_emb), _unit(ref_frames)
    k = max(1, min(k, len(ref)))
    out = np.zeros(len(lib), np.float32)
    for i in range(0, len(lib), BLOCK):
        sims = lib[i : i + BLOCK] @ ref.T  # (b, n_ref)
        out[i : i + BLOCK] = np.partition(sims, -k, axis=1)[:, -k:].mean(axis=1)
    return out


def nearest_file_votes(lib_emb: np.ndarray, seg_file: np.ndarray, n_files: int, ref_audio: np.ndarray,
                       per_segment: bool = True) -> np.ndarray:
    """Per file: how many reference audio seconds have one of its segments as their nearest segment,
    divided by its number of segments (``per_segment``: a long file is not favoured for its length;
    measured on the validation maps: 37 % top-10 for the prior alone against 15 % with raw counts)."""
    lib, ref = _unit(lib_emb), _unit(ref_audio)
    best = np.full(len(ref), -np.inf, np.float32)
    arg = np.zeros(len(ref), np.int64)
    for i in range(0, len(lib), BLOCK):
        sims = ref @ lib[i : i + BLOCK].T  # (n_ref, b)
        j = sims.argmax(axis=1)
        v = sims[np.arange(len(ref)), j]
        better = v > best
        best[better], arg[better] = v[better], i + j[better]
    votes = np.bincount(seg_file[arg], minlength=n_files).astype(np.float64)
    return votes / np.maximum(np.bincount(seg_file, minlength=n_files), 1) if per_segment else votes


def log_prior_from_votes(votes: np.ndarray, n_files: int, alpha: float = 0.1) -> np.ndarray:
    """Add-``alpha`` smoothed log-probabilities of the files."""
    votes = np.asarray(votes, np.float64)
    return np.log((votes + alpha) / (votes.sum() + alpha * n_files)).astype(np.float32)


def file_scores(q: np.ndarray, lib_emb: np.ndarray, seg_file: np.ndarray, n_files: int, rc: RankingCfg,
                hub: np.ndarray | None, logp_file: np.ndarray | None) -> np.ndarray:
    """``(n_q, n_files)``: each file's best segment score for each query (``seg_file`` non-decreasing),
    with the same standardisation as the recommender."""
    lib = _unit(lib_emb)
    hub_term = np.zeros(len(lib), np.float32) if hub is None or not rc.hub_weight else -rc.hub_weight * hub / rc.temperature
    logp_seg = np.zeros(len(lib), np.float32) if logp_file is None else logp_file[seg_file]
    moments = Moments.of(np.concatenate([lib / rc.temperature, hub_term[:, None], logp_seg[:, None]], axis=1))
    picture = (_unit(q) @ lib.T) / rc.temperature + hub_term[None]
    s = np.stack([Standardiser.of(v, moments, rc.prior_weight).score(p, logp_seg, rc.prior_weight)
                  for v, p in zip(_unit(q), picture)]) if len(q) else picture
    starts = np.flatnonzero(np.r_[True, seg_file[1:] != seg_file[:-1]])
    out = np.full((len(q), n_files), -np.inf, np.float32)
    out[:, seg_file[starts]] = np.maximum.reduceat(s, starts, axis=1)
    return out


@dataclass(frozen=True)
class Moments:
    """Mean and covariance of ``[a / temperature, hub term, log prior]`` over a library's segments."""

    mean: np.ndarray  # (D + 2,)
    cov: np.ndarray  # (D + 2, D + 2)

    @classmethod
    def of(cls, x: np.ndarray) -> Moments:
        x = np.asarray(x, np.float64)
        mean = x.mean(axis=0)
        return cls(mean, (x.T @ x) / len(x) - np.outer(mean, mean))


@dataclass(frozen=True)
class Standardiser:
    """For one query: the picture term's mean and spread, the prior's, and the final score's spread."""

    pic_mean: float
    pic_std: float
    prior_mean: float
    prior_std: float
    score_std: float

    @classmethod
    def of(cls, q: np.ndarray, m: Moments, prior_weight: float) -> Standardiser:
        qp = np.concatenate([np.asarray(q, np.float64), [1.0, 0.0]])  # picks the picture term
        pic_mean, pic_var = float(qp @ m.mean), float(qp @ m.cov @ qp)
        pic_std = math.sqrt(max(pic_var, 1e-12))
        prior_mean, prior_std = float(m.mean[-1]), math.sqrt(max(float(m.cov[-1, -1]), 1e-12))
        corr = float(qp @ m.cov[:, -1]) / (pic_std * prior_std)
        w = prior_weight
        return cls(pic_mean, pic_std, prior_mean, prior_std, math.sqrt(max(1.0 + w * w + 2.0 * w * corr, 1e-12)))

    def score(self, picture: np.ndarray, log_prior: np.ndarray, prior_weight: float) -> np.ndarray:
        return (picture - self.pic_mean) / self.pic_std + prior_weight * (log_prior - self.prior_mean) / self.prior_std

    def relevance(self, score: np.ndarray) -> np.ndarray:
        return relevance(score, 0.0, self.score_std)


def relevance(score: np.ndarray | float, mean: float, std: float) -> np.ndarray | float:
    """0..1: standard deviations above the library's mean score, ``RELEVANCE_SPAN`` of them = 1."""
    return np.clip((np.asarray(score) - mean) / max(std, 1e-9) / RELEVANCE_SPAN, 0.0, 1.0)
