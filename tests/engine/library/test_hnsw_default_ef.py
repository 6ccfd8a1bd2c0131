"""The default query-time ef keeps recall@10 >= 0.95 on densely clustered embeddings (docs/performance.md)."""

from __future__ import annotations

import numpy as np

from engine.bench.library import resample_like
from engine.library.vectors import HnswIndex, HnswParams, exact_search


def test_default_ef_search_is_the_measured_one_and_reaches_recall_on_dense_clusters() -> None:
    params = HnswParams()
    assert params.ef_search >= 1024  # 256/512 gave recall@10 0.90 at 1M segments of the shipped encoder's distribution
    rng = np.random.default_rng(0)
    real = rng.standard_normal((60, 32)).astype(np.float32)
    data = resample_like(real, 5_000, seed=0)  # 60 tight clouds of near-copies (at 1M segments the hard case for a graph)
    graph = HnswIndex(32, params, capacity=len(data))
    graph.add(data, np.arange(len(data)))
    queries = resample_like(real, 40, seed=5)
    truth = np.asarray(data, np.float32)
    hits = 0
    for q in queries:
        labels, _ = graph.search(q, 10)
        rows, _ = exact_search(truth, q, 10)
        hits += len(set(labels.tolist()) & set(rows.tolist()))
    assert hits / (10 * len(queries)) >= 0.95
