"""Pure metric functions (numpy only): correlation accuracy, ranks, top-k, recall@k, chance levels.

Ranking follows the paper (§5.2): every frame ranks the whole search list by Euclidean distance
between its visual embedding and each clip's audio embedding; rank 1 is the nearest clip. Ties are
broken by list position (stable sort), so ranks are deterministic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)

KS: tuple[int, ...] = (1, 5, 10)
RANK_CHUNK = 1024  # frames ranked at a time


def correlation_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of pairs classified right: ``logit > 0`` means "correlated" (label 1)."""
    logits, labels = np.asarray(logits, np.float64).ravel(), np.asarray(labels).ravel()
    if logits.size != labels.size or logits.size == 0:
        raise ValueError(f"need as many logits as labels (>0), got {logits.size} and {labels.size}")
    return float(np.mean((logits > 0) == (labels > 0.5)))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a correlated pair scores above an uncorrelated one (ties count half).

    Threshold-free, so it compares models whose decision threshold was calibrated on other data.
    """
    s, y = np.asarray(scores, np.float64).ravel(), np.asarray(labels).ravel() > 0.5
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if s.size != y.size or n_pos == 0 or n_neg == 0:
        raise ValueError(f"need as many scores as labels with both classes present, got {s.size} scores, {n_pos} positives, {n_neg} negatives")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2.0)[inverse]  # 1-based ranks, tied scores share their mean rank
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def best_threshold(distances: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The distance threshold ``t`` maximising the accuracy of ``distance < t`` <=> correlated.

    Returns ``(threshold, accuracy)``; the threshold lies midway between two observed distances.
    """
    d = np.asarray(distances, np.float64).ravel()
    y = np.asarray(labels).ravel() > 0.5
    if d.size == 0:
        raise ValueError("no distances to calibrate a threshold on")
    order = np.argsort(d, kind="stable")
    d, y = d[order], y[order]
    # predicting "correlated" for the first i pairs: correct = positives among them + negatives after
    pos_before = np.concatenate([[0], np.cumsum(y)])  # (n+1,)
    neg_after = (~y).sum() - np.concatenate([[0], np.cumsum(~y)])
    correct = pos_before + neg_after
    # only cut between distinct values
    valid = np.concatenate([[True], d[1:] > d[:-1], [True]])
    correct = np.where(valid, correct, -1)
    i = int(np.argmax(correct))
    if i == 0:
        t = d[0] - 1e-6
    elif i == d.size:
        t = d[-1] + 1e-6
    else:
        t = 0.5 * (d[i - 1] + d[i])
    return float(t), float(correct[i] / d.size)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))`` between rows, computed in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def rank_positions(dist: np.ndarray) -> np.ndarray:
    """For each row, the 1-based rank of every column when sorted by distance (stable)."""
    dist = np.asarray(dist)
    order = np.argsort(dist, axis=1, kind="stable")  # (n, N)
    pos = np.empty(order.shape, np.int64)
    rows = np.arange(dist.shape[0])[:, None]
    pos[rows, order] = np.arange(1, dist.shape[1] + 1)[None, :]
    return pos


def target_ranks(dist: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of column ``targets[i]`` in row ``i``."""
    pos = rank_positions(dist)
    return pos[np.arange(pos.shape[0]), np.asarray(targets, np.int64)]


def topk_accuracy(ranks: np.ndarray, ks: Sequence[int] = KS) -> dict[int, float]:
    """Share of rows whose (best) relevant item ranks within the top k."""
    ranks = np.asarray(ranks)
    return {int(k): float(np.mean(ranks <= k)) for k in ks}


def chance_topk(n_list: int, n_relevant: np.ndarray | int, ks: Sequence[int] = KS) -> dict[int, float]:
    """Expected top-k hit rate of a uniformly random ranking: ``1 - C(N-m, k) / C(N, k)`` averaged over rows."""
    m = np.atleast_1d(np.asarray(n_relevant, np.float64))
    out: dict[int, float] = {}
    for k in ks:
        kk = min(int(k), n_list)
        miss = np.ones_like(m)
        for t in range(kk):  # P(no relevant item among k draws without replacement)
            miss *= np.clip((n_list - m - t) / (n_list - t), 0.0, 1.0)
        out[int(k)] = float(np.mean(1.0 - miss))
    return out


def recall_at_k(pos: np.ndarray, relevant: np.ndarray, ks: Sequence[int] = KS) -> dict[int, float]:
    """Mean over rows of (relevant items in the top k) / (relevant items)."""
    relevant = np.asarray(relevant, bool)
    n_rel = relevant.sum(1)
    keep = n_rel > 0
    out = {}
    for k in ks:
        hits = (relevant & (pos <= k)).sum(1)
        out[int(k)] = float(np.mean(hits[keep] / n_rel[keep])) if keep.any() else float("nan")
    return out


def chance_recall(n_list: int, ks: Sequence[int] = KS) -> dict[int, float]:
    """Expected recall@k of a random ranking: ``k / N`` (capped at 1)."""
    return {int(k): min(1.0, k / n_list) for k in ks}


def ranking_metrics(dist: np.ndarray, targets: np.ndarray, labels: np.ndarray | None = None, ks: Sequence[int] = KS) -> dict:
    """Sample- and category-level top-k, recall@k and rank statistics for one distance matrix.

    ``dist`` is ``(n_frames, n_list)``; ``targets[i]`` is the column of frame ``i``'s own clip;
    ``labels`` (one per list item, ``""`` = unlabelled) enable the category-level metrics, where a
    frame's label is its own clip's label.
    """
    dist = np.asarray(dist)
    n, n_list = dist.shape
    targets = np.asarray(targets, np.int64)
    labels = None if labels is None else np.asarray(labels).astype(str)
    labelled = labels is not None and bool(np.all(labels != ""))
    ranks = np.empty(n, np.int64)
    best = np.empty(n, np.int64)
    recall_sum = {int(k): 0.0 for k in ks}
    for a in range(0, n, RANK_CHUNK):  # rows in chunks: (chunk, N) int64 positions stay small
        b = min(n, a + RANK_CHUNK)
        pos = rank_positions(dist[a:b])
        ranks[a:b] = pos[np.arange(b - a), targets[a:b]]
        if labelled:
            relevant = labels[targets[a:b]][:, None] == labels[None, :]  # (chunk, N)
            best[a:b] = np.where(relevant, pos, n_list + 1).min(1)
            for k, r in recall_at_k(pos, relevant, ks).items():
                recall_sum[k] += r * (b - a)
    out: dict = {
        "sample": {"topk": topk_accuracy(ranks, ks), "median_rank": float(np.median(ranks)), "mean_rank": float(np.mean(ranks))},
        "category": None,
    }
    if labelled:
        out["category"] = {
            "topk": topk_accuracy(best, ks),
            "recall": {k: v / n for k, v in recall_sum.items()},
            "median_rank": float(np.median(best)),
            "n_categories": int(np.unique(labels).size),
        }
    return out


def chance_metrics(n_list: int, targets: np.ndarray, labels: np.ndarray | None = None, ks: Sequence[int] = KS) -> dict:
    """The expected values of ``ranking_metrics`` for a uniformly random ranking of the same list."""
    targets = np.asarray(targets, np.int64)
    out: dict = {
        "sample": {"topk": chance_topk(n_list, 1, ks), "median_rank": (n_list + 1) / 2.0, "mean_rank": (n_list + 1) / 2.0},
        "category": None,
    }
    if labels is not None:
        labels = np.asarray(labels).astype(str)
        if np.all(labels != ""):
            values, counts = np.unique(labels, return_counts=True)
            m = counts[np.searchsorted(values, labels[targets])]
            # median of the best of m random positions: smallest r with P(best <= r) >= 1/2
            med = [float(np.searchsorted(_best_cdf(n_list, int(mi)), 0.5) + 1) for mi in np.unique(m)]
            med_by_m = dict(zip(np.unique(m).tolist(), med))
            out["category"] = {
                "topk": chance_topk(n_list, m, ks),
                "recall": chance_recall(n_list, ks),
                "median_rank": float(np.median([med_by_m[int(mi)] for mi in m])),
                "n_categories": int(values.size),
            }
    return out


def _best_cdf(n_list: int, m: int) -> np.ndarray:
    """``P(best of m relevant items ranks <= r)`` for r = 1..N under a random ranking."""
    r = np.arange(1, n_list + 1, dtype=np.float64)
    miss = np.ones_like(r)
    for t in range(m):
        miss *= np.clip((n_list - r - t) / (n_list - t), 0.0, 1.0)
    return 1.0 - miss


def typicality(clips: np.ndarray, reference: np.ndarray, k: int = 10) -> np.ndarray:
    """How typical each clip is of the reference (training) audio: a Gaussian kernel density.

    The bandwidth is the median distance from a reference clip to its ``k``-th nearest reference
    neighbour, so the density follows the sounds heard most often in training. Higher = more typical.
    """
    reference = np.asarray(reference, np.float64)
    if reference.shape[0] < 2:
        raise ValueError("need at least 2 reference clips to estimate typicality")
    d_ref = pairwise_distances(reference, reference)
    kk = min(k, reference.shape[0] - 1)
    h = float(np.median(np.sort(d_ref, axis=1)[:, kk])) or 1e-3  # column 0 is the clip itself
    d = pairwise_distances(clips, reference)
    return np.exp(-(d**2) / (2.0 * h * h)).mean(1)
