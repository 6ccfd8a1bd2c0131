"""``Recommender``: ranked sounds for a frame, an embedding, a video time or another sound.

Search: HNSW over all segments, over-fetching until enough *files* survive the filters, the
one-row-per-file grouping and the per-category cap (the fetch grows 4x per round). When the
filters leave few segments (``EXACT_LIMIT``) or the fetch grows too large, the allowed segments
are searched exactly instead, so a narrow filter never returns fewer results than exist.

A model with ranking terms (``engine.library.ranking``: hubness fix, label-free prior, the dial)
is ranked by its full score instead of the distance: every segment exactly up to
``SCORED_LIMIT`` segments, else the HNSW candidates re-ranked. Sound queries ("More like this",
search by a recording) keep plain nearest neighbours.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from engine.errors import ConfigError
from engine.library.candidate import Candidate
from engine.library.ranking import (
    Moments,
    RankingCfg,
    Standardiser,
    hub_scores,
    log_prior_from_votes,
    nearest_file_votes,
)
from engine.library.sound_index import SoundIndex
from engine.library.vectors import exact_search

log = logging.getLogger(__name__)

EXACT_LIMIT = 20_000  # filtered searches over at most this many segments are exact
MAX_FETCH = 16_384  # beyond this HNSW over-fetch (long files hog the top hits), search the allowed segments exactly
# A model with ranking terms scores every segment exactly up to this many (a matrix-vector product:
# ~1 ms at 20k segments, ~10 ms at 250k); beyond, HNSW candidates are re-ranked.
SCORED_LIMIT = 250_000
VOTE_EF = 64  # the prior's votes through the graph: 4096 searches in ~1.7 s (the recall-tuned ef 1024: ~15 s)
RERANK_FETCH = 1024  # past SCORED_LIMIT: re-rank at most this many HNSW candidates (approximate, bounded time)


@dataclass(frozen=True)
class Filters:
    """What a result may be; every field optional. ``text`` terms must all appear (case-insensitive)."""

    text: str | None = None  # over name, description, category, subcategory and file name
    include_categories: tuple[str, ...] | None = None
    exclude_categories: tuple[str, ...] | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    path_contains: str | None = None
    max_per_category: int | None = None  # diversity: at most N results per category
    exclude_files: frozenset[Path] = frozenset()
    per_segment: bool = False  # one row per matching segment instead of per file

    @classmethod
    def of(cls, **kwargs: object) -> Filters:
        names = {f.name for f in fields(cls)}
        unknown = set(kwargs) - names
        if unknown:
            raise ConfigError(f"unknown filter(s) {sorted(unknown)}; choose from {sorted(names)}")
        for key in ("include_categories", "exclude_categories"):
            if kwargs.get(key) is not None:
                value = kwargs[key]
                kwargs[key] = (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
        kwargs["exclude_files"] = frozenset(Path(p) for p in (kwargs.get("exclude_files") or ()))  # type: ignore[union-attr]
        if kwargs.get("max_per_category") is not None and int(kwargs["max_per_category"]) < 1:  # type: ignore[arg-type]
            raise ConfigError("max_per_category must be at least 1")
        return cls(**kwargs)  # type: ignore[arg-type]

    def mask_key(self) -> tuple:
        return (self.text, self.include_categories, self.exclude_categories, self.min_duration, self.max_duration, self.path_contains, self.exclude_files)

    @property
    def restricts_files(self) -> bool:
        return any(v not in (None, frozenset()) for v in self.mask_key())


@dataclass
class RankingTerms:
    """The per-sound terms of a model's ranking over one index (engine.library.ranking), by segment."""

    cfg: RankingCfg
    seg_offset: np.ndarray  # (n_files,) position of each file's first segment in the arrays below
    hub_bias: np.ndarray  # (n_seg,) -hub_weight * r(a) / temperature
    log_prior: np.ndarray  # (n_files,) log p(file), label-free
    moments: Moments  # of [a / temperature, hub_bias, log_prior] over the segments: any query's score spread
    max_hub_bias: float
    max_log_prior: float
    # every segment's vector, label and file, when the index is small enough to score exactly
    vectors: np.ndarray | None = None
    labels: np.ndarray | None = None
    seg_file: np.ndarray | None = None


def ranking_terms(model, index: SoundIndex, files: list, block: int = 65_536) -> RankingTerms | None:
    """The terms for a model that carries ranking references (``None`` for older models).

    Two passes over the index in blocks (bounded memory at a million segments): the prior's votes
    (exact, or through the HNSW graph for a large index), then the hub scores and the moments of
    the scores' parts. Measured on one core: hub scores 2.2 s and moments 0.7 s per 200k
    segments, votes 1.7 s; so about 17 s for a million segments, instant for thousands.
    """
    extra = getattr(model, "extra", {}) or {}
    if "ranking" not in extra or "reference_frames" not in extra or not files or index.hnsw is None:
        return None
    cfg = RankingCfg.from_dict(extra["ranking"])
    nseg = np.array([f.n_segments for f in files], np.int64)
    label0 = np.array([f.label0 for f in files], np.int64)
    n = int(nseg.sum())
    seg_file = np.repeat(np.arange(len(files)), nseg)
    labels = np.concatenate([np.arange(a, a + k) for a, k in zip(label0, nseg)])
    ref_frames = np.asarray(extra["reference_frames"], np.float32)
    ref_audio = np.asarray(extra["reference_audio"], np.float32)
    exact = n <= SCORED_LIMIT
    everything = index.hnsw.get(labels) if exact else None  # read once, kept for exact scoring
    if n <= EXACT_LIMIT:
        votes = nearest_file_votes(everything if exact else index.hnsw.get(labels), seg_file, len(files), ref_audio)
    else:  # each reference second's nearest segment through the graph
        nearest = np.array([index.hnsw.search(r, 1, ef=VOTE_EF)[0][0] for r in ref_audio], np.int64)
        fi = np.searchsorted(label0, nearest, side="right") - 1
        votes = np.bincount(fi, minlength=len(files)) / np.maximum(nseg, 1)
    logp = log_prior_from_votes(votes, len(files))
    hub_bias = np.zeros(n, np.float32)
    dim = index.dim + 2
    total, outer = np.zeros(dim), np.zeros((dim, dim))
    for i in range(0, n, block):
        vecs = everything[i : i + block] if exact else index.hnsw.get(labels[i : i + block])
        if cfg.hub_weight:
            hub_bias[i : i + block] = (-cfg.hub_weight / cfg.temperature) * hub_scores(vecs, ref_frames, cfg.hub_k)
        x = np.concatenate([vecs / cfg.temperature, hub_bias[i : i + block, None], logp[seg_file[i : i + block], None]], axis=1).astype(np.float64)
        total += x.sum(axis=0)
        outer += x.T @ x
    mean = total / n
    moments = Moments(mean, outer / n - np.outer(mean, mean))
    offset = np.concatenate([[0], np.cumsum(nseg)[:-1]]).astype(np.int64)
    return RankingTerms(cfg, offset, hub_bias, logp, moments, float(hub_bias.max(initial=0.0)), float(logp.max(initial=0.0)),
                        vectors=everything, labels=labels if exact else None,
                        seg_file=seg_file if exact else None)


class Recommender:
    """Ranks library sounds for frames, embeddings, video times and other sounds (see module doc)."""

    def __init__(self, model, index: SoundIndex, cache_dir: Path | None = None, prior_weight: float | None = None) -> None:
        self.model = model
        self.index = index
        self._prior_weight = prior_weight
        self._terms: RankingTerms | None = None
        self._raw = np.zeros(0, np.float64)  # the last _reorder's raw scores (under the lock)
        self._last_raw = -math.inf
        self._bound = math.inf
        self._lock = threading.Lock()
        self._masks: OrderedDict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = OrderedDict()
        self._video_cache = None
        if cache_dir is not None:
            from engine.library.video_cache import VideoEmbeddingCache

            self._video_cache = VideoEmbeddingCache(model, cache_dir)
        self._load_files()

    @property
    def video_cache(self):  # -> VideoEmbeddingCache | None
        return self._video_cache

    def _load_files(self) -> None:
        files = self.index.files()  # sorted by label0
        self.files = files
        self._label0 = np.array([f.label0 for f in files], np.int64)
        self._nseg = np.array([f.n_segments for f in files], np.int64)
        self._total_segments = int(self._nseg.sum())
        self._hop = np.array([f.hop for f in files], np.float64)
        self._duration = np.array([f.duration for f in files], np.float64)
        cats = sorted({f.category for f in files})
        self._cat_names = cats
        self._cat = np.array([cats.index(f.category) for f in files], np.int64) if files else np.zeros(0, np.int64)
        self._by_path = {f.path: i for i, f in enumerate(files)}
        self._masks.clear()
        self._terms = ranking_terms(self.model, self.index, files) if self.index.hnsw is not None else None

    # -- the common <-> specific dial -------------------------------------------------------------
    @property
    def ranking(self) -> RankingCfg | None:
        """The model's ranking terms (hubness fix, prior), or ``None`` for a model without them."""
        return None if self._terms is None else self._terms.cfg

    @property
    def prior_weight(self) -> float:
        """Weight of the standardised log p(sound): 0 = the picture alone; higher = more common sounds."""
        if self._prior_weight is not None:
            return self._prior_weight
        return self._terms.cfg.prior_weight if self._terms is not None else 0.0

    @prior_weight.setter
    def prior_weight(self, value: float | None) -> None:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"the prior weight must be a number >= 0, got {value}")
        self._prior_weight = value

    def refresh(self) -> bool:
        """Reopen the index if another process changed it; True when it did."""
        if not self.index.is_stale():
            return False
        new = SoundIndex.open(self.index.db_dir, self.model.model_id, readonly=True)
        old, self.index = self.index, new
        old.close()
        self._load_files()
        return True

    def categories(self) -> list[str]:
        return list(self._cat_names)

    # -- queries ----------------------------------------------------------------------------------
    def for_embedding(self, vec: np.ndarray, k: int = 10, *, sound_query: bool = False, **filters: object) -> list[Candidate]:
        """Best library sounds for a 128-d embedding: a picture's (the model's ranking), or a sound's
        (``sound_query``: plain nearest neighbours, no picture-side hubness or prior terms)."""
        f = Filters.of(**filters)
        q = np.asarray(vec, np.float32).reshape(-1)
        if q.shape[0] != self.index.dim:
            raise ConfigError(f"embedding has {q.shape[0]} dimensions, the index {self.index.dim}")
        with self._lock:
            terms = self._terms
            if sound_query:
                self._terms = None
            try:
                return self._search(q, k, f)
            finally:
                self._terms = terms

    def for_frame(self, rgb: np.ndarray, k: int = 10, **filters: object) -> list[Candidate]:
        """Sounds for one RGB uint8 frame ``(H, W, 3)``: runs the visual encoder once."""
        vec = self.model.embed_frames(np.asarray(rgb)[None])[0]  # (D,)
        return self.for_embedding(vec, k, **filters)

    def for_video(self, path: Path, t: float, k: int = 10, **filters: object) -> list[Candidate]:
        """Sounds for a video at time ``t``: the cached 1-fps embedding of second ``floor(t)`` if there is one."""
        vec = self.frame_embedding(Path(path), t)
        return self.for_embedding(vec, k, **filters)

    def frame_embedding(self, path: Path, t: float) -> np.ndarray:
        """The embedding used for a video time: cache row ``floor(t)`` (frame at ``floor(t) + 0.5``) or a fresh decode."""
        if self._video_cache is not None:
            rows = self._video_cache.cached(path)
            if rows is not None and rows.shape[0]:
                second = min(max(int(math.floor(t)), 0), rows.shape[0] - 1)
                if np.all(np.isfinite(rows[second])):
                    return rows[second]
        from engine.data.media import read_frame

        return self.model.embed_frames(read_frame(path, t)[None])[0]

    def similar_to_sound(self, path: Path, offset: float = 0.0, k: int = 10, **filters: object) -> list[Candidate]:
        """"More like this": sounds near the 1-s segment of ``path`` at ``offset`` (the file itself excluded)."""
        from engine.data.features import clips_from_wave, log_mel_batch
        from engine.data.media import load_audio

        feats = self.model.features
        wave = load_audio(path, feats.sample_rate, max(0.0, offset), feats.clip_seconds)
        mels = log_mel_batch(clips_from_wave(wave, [0.0], feats), feats)  # (1, n_mels, n_frames)
        vec = self.model.embed_audio(mels)[0]
        excluded = set(filters.pop("exclude_files", None) or ()) | {Path(path)}  # type: ignore[arg-type]
        return self.for_embedding(vec, k, sound_query=True, exclude_files=excluded, **filters)

    # -- search -----------------------------------------------------------------------------------
    def _file_mask(self, f: Filters) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(allowed file mask, allowed labels, their vectors when few enough for exact search)``, cached."""
        key = f.mask_key()
        if key in self._masks:
            self._masks.move_to_end(key)
            return self._masks[key]
        n = len(self.files)
        mask = np.ones(n, bool)
        if f.text:
            terms = f.text.lower().split()
            for i, sf in enumerate(self.files):
                hay = f"{sf.name}\n{sf.description}\n{sf.category}\n{sf.subcategory}\n{sf.path.name}".lower()
                mask[i] = all(t in hay for t in terms)
        if f.include_categories is not None:
            wanted = {c.lower() for c in f.include_categories}
            mask &= np.array([c.lower() in wanted for c in self._cat_names], bool)[self._cat] if n else mask
        if f.exclude_categories:
            unwanted = {c.lower() for c in f.exclude_categories}
            mask &= ~np.array([c.lower() in unwanted for c in self._cat_names], bool)[self._cat] if n else mask
        if f.min_duration is not None:
            mask &= self._duration >= f.min_duration
        if f.max_duration is not None:
            mask &= self._duration <= f.max_duration
        if f.path_contains:
            needle = f.path_contains.lower()
            mask &= np.array([needle in sf.display_path.lower() for sf in self.files], bool)
        for p in f.exclude_files:
            i = self._by_path.get(Path(p))
            if i is not None:
                mask[i] = False
        idx = np.flatnonzero(mask)
        labels = np.concatenate([np.arange(self._label0[i], self._label0[i] + self._nseg[i]) for i in idx]) if len(idx) else np.zeros(0, np.int64)
        vectors = self.index.hnsw.get(labels) if len(labels) <= EXACT_LIMIT and self.index.hnsw is not None else None
        entry = (mask, labels, vectors)
        self._masks[key] = entry
        if len(self._masks) > 16:
            self._masks.popitem(last=False)
        return entry

    def _achievable(self, mask: np.ndarray | None, f: Filters) -> int:
        """How many rows the filters can yield at most (so the over-fetch knows when to stop)."""
        if f.max_per_category is None:  # the common case, without a pass over every file
            if mask is None:
                return self._total_segments if f.per_segment else len(self.files)
            return int(self._nseg[mask].sum()) if f.per_segment else int(mask.sum())
        allowed = np.ones(len(self.files), bool) if mask is None else mask
        if f.per_segment:
            per_cat = np.bincount(self._cat[allowed], weights=self._nseg[allowed], minlength=len(self._cat_names))
        else:
            per_cat = np.bincount(self._cat[allowed], minlength=len(self._cat_names))
        return int(np.minimum(per_cat, f.max_per_category).sum())

    def _search(self, q: np.ndarray, k: int, f: Filters) -> list[Candidate]:
        hnsw = self.index.hnsw
        if k <= 0 or hnsw is None or not self.files:
            return []
        mask = labels = vectors = None
        if f.restricts_files:
            mask, labels, vectors = self._file_mask(f)
            if len(labels) == 0:
                return []
        want = min(k, self._achievable(mask, f))
        if self._terms is not None and self._terms.vectors is not None:
            return self._search_scored(q, want, mask, f)
        if vectors is not None:  # few allowed segments: exact
            rows, d = exact_search(vectors, q, len(labels))
            return self._rank(*self._reorder(q, labels[rows], d), mask, f, want)
        fetch = max(4 * k, 32 if self._terms is None else 256)
        while True:
            found, d = hnsw.search(q, fetch, ef=max(hnsw.params.ef_search, fetch))
            found, d, s = self._reorder(q, found, d)
            out = self._rank(found, d, s, mask, f, want)
            if (len(out) >= want and (fetch >= RERANK_FETCH or self._settled(out, d, s, fetch))) or fetch >= len(hnsw):
                return out
            fetch *= 4
            if fetch > MAX_FETCH:
                return self._exact_fallback(q, mask, labels, f, want)

    def _exact_fallback(self, q: np.ndarray, mask: np.ndarray | None, labels: np.ndarray | None, f: Filters, want: int) -> list[Candidate]:
        """Exact search over all allowed segments, in blocks (rare: very selective diversity/filters)."""
        if labels is None:
            labels = np.concatenate([np.arange(a, a + n) for a, n in zip(self._label0, self._nseg)])
        best_l, best_d = [], []
        for i in range(0, len(labels), 65_536):
            block = labels[i : i + 65_536]
            rows, d = exact_search(self.index.hnsw.get(block), q, len(block))
            best_l.append(block[rows])
            best_d.append(d)
        all_l, all_d = np.concatenate(best_l), np.concatenate(best_d)
        order = np.argsort(all_d, kind="stable")
        return self._rank(*self._reorder(q, all_l[order], all_d[order]), mask, f, want)

    def _search_scored(self, q: np.ndarray, want: int, mask: np.ndarray | None, f: Filters) -> list[Candidate]:
        """Exact ranking of every segment by the model's full score (small and medium indexes)."""
        t, w = self._terms, self.prior_weight
        z = Standardiser.of(q, t.moments, w)
        score = z.score((t.vectors @ q).astype(np.float64) / t.cfg.temperature + t.hub_bias, t.log_prior[t.seg_file], w)
        if mask is not None:
            score[~mask[t.seg_file]] = -np.inf
        n = len(score)
        m = min(n, max(256, 8 * want))
        while True:
            top = np.argpartition(-score, m - 1)[:m] if m < n else np.arange(n)
            top = top[np.isfinite(score[top])]
            order = top[np.argsort(-score[top], kind="stable")]
            cos = np.clip(t.vectors[order] @ q, -1.0, 1.0)
            dist = np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0)).astype(np.float32)
            self._raw = score[order]
            out = self._rank(t.labels[order], dist, z.relevance(score[order]), mask, f, want)
            if len(out) >= want or m >= n:
                return out
            m = min(n, 4 * m)

    def _reorder(self, q: np.ndarray, labels: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest-first candidates -> best-first by the model's ranking, with each one's 0..1 relevance."""
        t = self._terms
        if t is None:
            return labels, dist, np.clip(1.0 - dist / 2.0, 0.0, 1.0)
        fi = np.clip(np.searchsorted(self._label0, labels, side="right") - 1, 0, max(len(self._label0) - 1, 0))
        w = self.prior_weight
        z = Standardiser.of(q, t.moments, w)
        cos = 1.0 - np.square(dist.astype(np.float64)) / 2.0
        score = z.score(cos / t.cfg.temperature + t.hub_bias[t.seg_offset[fi] + labels - self._label0[fi]], t.log_prior[fi], w)
        # no segment beyond the farthest fetched one can score more than this (the terms are bounded)
        farthest = 1.0 - float(dist.max(initial=0.0)) ** 2 / 2.0
        self._bound = float(z.score(np.array([farthest / t.cfg.temperature + t.max_hub_bias]), np.array([t.max_log_prior]), w)[0])
        order = np.argsort(-score, kind="stable")
        self._raw = score[order]
        return labels[order], dist[order], z.relevance(score[order])

    def _settled(self, out: list[Candidate], dist: np.ndarray, rel: np.ndarray, fetch: int) -> bool:
        """True when no segment beyond the fetched ones can outrank the last result."""
        return self._terms is None or not len(dist) or self._last_raw >= self._bound

    def _rank(self, labels: np.ndarray, dist: np.ndarray, rel: np.ndarray, mask: np.ndarray | None, f: Filters, want: int) -> list[Candidate]:
        """Best-first labels -> candidates: filter, one per file (unless per-segment), category cap."""
        fi = np.searchsorted(self._label0, labels, side="right") - 1  # file index of each label
        ok = (fi >= 0) & (labels < self._label0[np.maximum(fi, 0)] + self._nseg[np.maximum(fi, 0)])
        if mask is not None:
            ok &= mask[np.maximum(fi, 0)]
        out: list[Candidate] = []
        seen: set[int] = set()
        per_cat: dict[int, int] = {}
        for pos, (label, i, d, r, good) in enumerate(zip(labels.tolist(), fi.tolist(), dist.tolist(), rel.tolist(), ok.tolist())):
            if not good or (not f.per_segment and i in seen):
                continue
            c = int(self._cat[i])
            if f.max_per_category is not None and per_cat.get(c, 0) >= f.max_per_category:
                continue
            seen.add(i)
            per_cat[c] = per_cat.get(c, 0) + 1
            sf = self.files[i]
            out.append(Candidate(
                sound_id=sf.id, path=sf.path, name=sf.name, category=sf.category,
                start_s=float((label - sf.label0) * sf.hop), distance=float(d), score=float(r),
                duration_s=sf.duration, description=sf.description, rank=len(out) + 1,
            ))
            if self._terms is not None:
                self._last_raw = float(self._raw[pos])
            if len(out) >= want:
                break
        return out
