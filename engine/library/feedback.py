"""Relevance feedback: the designer's choices move the query of the next frames.

A *choice* is a (frame embedding, sound embedding) pair: placing a sound on the timeline at a
moment says "this sound fits this picture" (positive), "not this" on a row says the opposite
(negative). The frame and sound embeddings live in the model's one joint space (unit vectors),
so a frame's query can be moved towards the sounds placed on similar pictures and away from the
ones rejected there; ``Recommender.for_embedding`` then ranks by the moved query as usual.

Three adaptations, chosen by measurement (docs/feedback.md, ``scripts/measure_feedback.py``):

* ``rerank`` (the default, best on every measured clip): the query stays; the frame's candidates,
  plus the nearest sounds of the placed ones, are re-scored by how near they sound to the sounds
  placed (up) and rejected (down) on similar pictures (``Feedback.rank``).

* ``rocchio``: ``q' = q + alpha * sum_i w_i a_i / max(1, sum_i w_i) - beta * (same
  over the rejected sounds)``, renormalised. ``w_i = exp((cos(q, f_i) - 1) / bandwidth)`` weighs
  each choice by how alike its frame ``f_i`` is to the new frame: 1 for the same picture, falling
  off for different ones, so a choice made on one kind of scene barely moves another.
* ``linear``: a per-project residual map ``M`` fitted by ridge regression on the positives
  (``f_i + M f_i ~ a_i``), ``q' = q + alpha * M q`` minus the same rejection term.

Everything here is numpy; no Qt, no torch. ``sound_vector`` and ``frame_vector`` read the
embeddings a recommender already has (index vectors, the video cache) and embed only what is
missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import ConfigError

METHODS = ("rerank", "rocchio", "linear")


@dataclass(frozen=True)
class FeedbackCfg:
    """How strongly choices count (defaults chosen by measurement on labelled gameplay, docs/feedback.md)."""

    method: str = "rerank"
    alpha: float = 1.0  # pull towards the placed sounds
    beta: float = 0.5  # push away from the rejected sounds
    bandwidth: float = 1.0  # frame-similarity kernel width (cosine units)
    ridge: float = 0.3  # linear: regularisation of the residual map
    sound_bandwidth: float = 0.05  # rerank: how near (cosine units) a candidate must sound to a chosen sound
    pool: int = 200  # rerank: how many of the frame's own candidates are re-scored

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown feedback method {self.method!r}; choose from {', '.join(METHODS)}")
        for name in ("alpha", "beta", "bandwidth", "ridge", "sound_bandwidth"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"feedback {name} must be a number >= 0, got {value}")
        if self.bandwidth <= 0 or self.sound_bandwidth <= 0:
            raise ConfigError("feedback bandwidths must be above 0")


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


@dataclass
class Feedback:
    """The choices of one project, as vectors; ``adapt`` moves a frame's query by them."""

    cfg: FeedbackCfg = field(default_factory=FeedbackCfg)
    _frames: list[np.ndarray] = field(default_factory=list)
    _sounds: list[np.ndarray] = field(default_factory=list)
    _positive: list[bool] = field(default_factory=list)
    _map: np.ndarray | None = None  # linear: the fitted residual map (cached until the next add)

    def add(self, frame: np.ndarray, sound: np.ndarray, positive: bool = True) -> None:
        """Record one choice: ``sound`` fits (``positive``) or does not fit the picture ``frame``."""
        f, s = np.asarray(frame, np.float64).reshape(-1), np.asarray(sound, np.float64).reshape(-1)
        if f.shape != s.shape:
            raise ConfigError(f"frame has {f.shape[0]} dimensions, sound {s.shape[0]}")
        if self._frames and f.shape[0] != self._frames[0].shape[0]:
            raise ConfigError(f"choice has {f.shape[0]} dimensions, earlier ones {self._frames[0].shape[0]}")
        if not (np.all(np.isfinite(f)) and np.all(np.isfinite(s))):
            raise ConfigError("a choice's embeddings must be finite")
        self._frames.append(_unit(f))
        self._sounds.append(_unit(s))
        self._positive.append(bool(positive))
        self._map = None

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def positives(self) -> int:
        return sum(self._positive)

    @property
    def negatives(self) -> int:
        return len(self._positive) - self.positives

    def weights(self, q: np.ndarray) -> np.ndarray:
        """Kernel weight of every choice for the frame ``q`` (1 = the same picture)."""
        if not self._frames:
            return np.zeros(0)
        cos = np.stack(self._frames) @ _unit(np.asarray(q).reshape(-1))
        return np.exp((cos - 1.0) / self.cfg.bandwidth)

    def _linear_map(self) -> np.ndarray | None:
        if self._map is None:
            pos = np.flatnonzero(self._positive)
            if not len(pos):
                return None
            F = np.stack([self._frames[i] for i in pos])  # noqa: N806 (n, D): the formula's names
            A = np.stack([self._sounds[i] for i in pos])  # noqa: N806
            d = F.shape[1]
            # M = (A - F)^T F (F^T F + ridge I)^-1, so that f + M f ~ a for every positive
            self._map = (A - F).T @ F @ np.linalg.inv(F.T @ F + self.cfg.ridge * np.eye(d))
        return self._map

    def rank(self, rec, q: np.ndarray, k: int = 10, **filters: object) -> list:
        """The recommender's list for the frame ``q`` with the choices applied (``Candidate``s, best first).

        ``rerank``: the frame's own top ``pool`` candidates, plus the nearest sounds of the placed ones
        that weigh most here, re-scored: ``score + alpha * sum_i w_i s(x, a_i) / max(1, sum_i w_i) -
        beta * (same over the rejected)``, with ``s(x, a) = exp((cos(x, a) - 1) / sound_bandwidth)``
        (1 for the chosen sound itself). The query-moving methods rank ``adapt(q)`` instead.
        """
        from dataclasses import replace

        q = np.asarray(q, np.float32).reshape(-1)
        if not self._frames:
            return rec.for_embedding(q, k, **filters)
        if self.cfg.method != "rerank":
            return rec.for_embedding(self.adapt(q), k, **filters)
        base = rec.for_embedding(q, max(self.cfg.pool, k), **filters)
        w = self.weights(q)
        pos = np.asarray(self._positive)
        per_segment = bool(filters.get("per_segment"))

        def key(c) -> tuple:
            return (c.path, c.start_s) if per_segment else (c.path, 0.0)

        pool = {key(c): c for c in base}
        floor = min((c.score for c in base), default=0.0)
        order = [i for i in np.argsort(-w) if pos[i]]
        seen: set[bytes] = set()
        for i in order:
            sound_key = self._sounds[i].tobytes()
            if sound_key in seen:
                continue
            seen.add(sound_key)
            if len(seen) > 8 or w[i] < 1e-3:
                break
            for c in rec.for_embedding(self._sounds[i], 5, sound_query=True, **filters):
                if key(c) not in pool:  # not among the frame's own: it enters at the bottom of them
                    pool[key(c)] = replace(c, score=floor)
        cands = list(pool.values())
        if not cands:
            return []
        x = _unit(sound_vectors(rec, [(c.path, c.start_s) for c in cands]))
        sounds = np.stack(self._sounds)
        sim = np.exp((x @ sounds.T - 1.0) / self.cfg.sound_bandwidth)  # (n_cand, n_choices)
        bonus = np.zeros(len(cands))
        if pos.any():
            bonus += self.cfg.alpha * (sim[:, pos] @ w[pos]) / max(1.0, float(w[pos].sum()))
        if (~pos).any():
            bonus -= self.cfg.beta * (sim[:, ~pos] @ w[~pos]) / max(1.0, float(w[~pos].sum()))
        score = np.array([c.score for c in cands]) + bonus
        best = np.argsort(-score, kind="stable")[:k]
        return [replace(cands[j], score=float(np.clip(score[j], 0.0, 1.0)), rank=r + 1) for r, j in enumerate(best)]

    def adapt(self, q: np.ndarray) -> np.ndarray:
        """The frame query ``q`` moved by the choices (unit length, float32); ``q`` itself when there are
        none, or for ``rerank``, which leaves the query alone and re-scores the list (``rank``)."""
        q0 = np.asarray(q, np.float32).reshape(-1)
        if not self._frames or self.cfg.method == "rerank":
            return q0
        u = _unit(q0)
        w = self.weights(u)
        pos = np.asarray(self._positive)
        sounds = np.stack(self._sounds)
        shift = np.zeros_like(u)
        if self.cfg.method == "linear":
            m = self._linear_map()
            if m is not None:
                shift += self.cfg.alpha * (m @ u)
        elif pos.any():
            wp = w[pos]
            shift += self.cfg.alpha * (wp @ sounds[pos]) / max(1.0, float(wp.sum()))
        if (~pos).any() and self.cfg.beta:
            wn = w[~pos]
            shift -= self.cfg.beta * (wn @ sounds[~pos]) / max(1.0, float(wn.sum()))
        out = _unit(u + shift)
        return out.astype(np.float32) if np.all(np.isfinite(out)) else q0


# -- where the vectors come from ------------------------------------------------------------------
_LOOKUP: dict[int, tuple[object, dict]] = {}  # id(rec) -> (its files list, {path: SoundFile})


def _files_by_path(rec) -> dict:
    files = rec.files
    hit = _LOOKUP.get(id(rec))
    if hit is None or hit[0] is not files:  # a new recommender, or its index was reloaded
        if len(_LOOKUP) > 8:
            _LOOKUP.clear()
        hit = (files, {f.path: f for f in files})
        _LOOKUP[id(rec)] = hit
    return hit[1]


def _label(sf, offset: float) -> int:
    seg = int(round(max(0.0, offset) / sf.hop)) if sf.hop > 0 else 0
    return sf.label0 + min(seg, sf.n_segments - 1)


def sound_vectors(rec, items: list[tuple[Path, float]]) -> np.ndarray:
    """Audio embeddings ``(n, D)`` of 1-s segments ``(path, offset)``: the index's vectors for files in
    the recommender's library (one lookup), embedded from the file for any other sound file."""
    by_path = _files_by_path(rec)
    hnsw = rec.index.hnsw
    out = np.zeros((len(items), rec.index.dim), np.float32)
    labels, rows = [], []
    for r, (path, offset) in enumerate(items):
        sf = by_path.get(Path(path))
        if sf is not None and hnsw is not None and sf.n_segments > 0:
            labels.append(_label(sf, offset))
            rows.append(r)
        else:
            out[r] = embed_sound(rec.model, Path(path), offset)
    if labels:
        out[rows] = hnsw.get(np.asarray(labels, np.int64))
    return out


def sound_vector(rec, path: Path, offset: float = 0.0) -> np.ndarray:
    """The audio embedding of the 1-s segment of ``path`` at ``offset`` (see ``sound_vectors``)."""
    return sound_vectors(rec, [(Path(path), offset)])[0]


def embed_sound(model, path: Path, offset: float = 0.0) -> np.ndarray:
    """The model's audio embedding of one 1-s window of any sound file (what "More like this" embeds)."""
    from engine.data.features import clips_from_wave, log_mel_batch
    from engine.data.media import load_audio

    feats = model.features
    wave = load_audio(Path(path), feats.sample_rate, max(0.0, offset), feats.clip_seconds)
    mels = log_mel_batch(clips_from_wave(wave, [0.0], feats), feats)
    return np.asarray(model.embed_audio(mels)[0], np.float32)


def loudest_second(path: Path, sample_rate: int = 48_000, max_seconds: float = 600.0) -> float:
    """Start (seconds) of the loudest 1-s window of a sound file, on a 0.1-s grid: where a recording's
    sound is, so a query ignores the silence before and after it."""
    from engine.data.media import load_audio

    wave = load_audio(Path(path), sample_rate, 0.0, max_seconds)
    n = len(wave)
    if n <= sample_rate:
        return 0.0
    energy = np.concatenate([[0.0], np.cumsum(np.square(wave.astype(np.float64)))])
    hop = sample_rate // 10
    starts = np.arange(0, n - sample_rate + 1, hop)
    window = energy[starts + sample_rate] - energy[starts]
    return float(starts[int(np.argmax(window))]) / sample_rate
