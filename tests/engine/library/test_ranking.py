"""The ranking terms: hubness penalty, label-free prior, the dial, relevance, and the recommender using them."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.api import Recommender, SoundIndex
from engine.errors import ConfigError
from engine.library.ranking import (
    RankingCfg,
    file_scores,
    hub_scores,
    log_prior_from_votes,
    nearest_file_votes,
    relevance,
)

from .test_recommender import all_vectors, unit


def standardised(picture: np.ndarray, logp_seg: np.ndarray, w: float) -> np.ndarray:
    """The ranking's score written out: each term standardised over the library's segments."""
    return (picture - picture.mean()) / picture.std() + w * (logp_seg - logp_seg.mean()) / logp_seg.std()


def test_file_scores_are_each_files_best_standardised_segment(rng) -> None:
    lib = unit(rng.normal(size=(30, 16)))
    seg_file = np.repeat(np.arange(8), [1, 5, 2, 7, 3, 4, 1, 7])
    q = unit(rng.normal(size=(5, 16)))
    hub = rng.random(30).astype(np.float32)
    logp = np.log(rng.dirichlet(np.ones(8))).astype(np.float32)
    rc = RankingCfg(temperature=0.2, hub_weight=0.5, prior_weight=0.7)
    got = file_scores(q, lib, seg_file, 8, rc, hub, logp)
    for i in range(5):
        seg = standardised(lib @ q[i] / 0.2 - 0.5 * hub / 0.2, logp[seg_file], 0.7)
        for f in range(8):
            assert got[i, f] == pytest.approx(seg[seg_file == f].max(), abs=1e-4)
    # the temperature only scales the picture term, which the standardisation undoes
    np.testing.assert_allclose(file_scores(q, lib, seg_file, 8, RankingCfg(1.0, 0.5, 0.7), hub, logp), got, atol=1e-4)


def test_hub_scores_and_votes_by_brute_force(rng) -> None:
    lib = unit(rng.normal(size=(12, 8)))
    ref = unit(rng.normal(size=(20, 8)))
    hub = hub_scores(lib, ref, k=3)
    for s in range(12):
        assert hub[s] == pytest.approx(np.sort(ref @ lib[s])[-3:].mean(), abs=1e-5)
    seg_file = np.array([0, 0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 3])
    nearest = (ref @ lib.T).argmax(axis=1)
    raw = np.bincount(seg_file[nearest], minlength=4)
    np.testing.assert_allclose(nearest_file_votes(lib, seg_file, 4, ref, per_segment=False), raw)
    np.testing.assert_allclose(nearest_file_votes(lib, seg_file, 4, ref), raw / np.array([4, 2, 1, 5]))
    logp = log_prior_from_votes(raw, 4)
    assert np.exp(logp).sum() == pytest.approx(1.0, abs=1e-5)
    assert np.argmax(logp) == np.argmax(raw)


def test_relevance_spreads_scores_over_0_to_1() -> None:
    r = relevance(np.array([0.0, 1.0, 2.5, 5.0, 9.0]), mean=0.0, std=1.0)
    assert r.tolist() == pytest.approx([0.0, 0.2, 0.5, 1.0, 1.0])


def with_ranking(model, rc: RankingCfg, frames: np.ndarray, audio: np.ndarray):
    m = copy.copy(model)  # same weights and id: only the ranking extras differ
    m.extra = dict(model.extra)
    m.extra.update({"ranking": rc.as_dict(), "reference_frames": torch.from_numpy(frames.astype(np.float16)),
                    "reference_audio": torch.from_numpy(audio.astype(np.float16))})
    return m


def brute_force_files(rec: Recommender, q: np.ndarray, k: int) -> list[Path]:
    """Each file's best final score over all its segments, best first (ties by file order)."""
    t = rec._terms
    labels, vecs = all_vectors(rec.index)
    fi = np.searchsorted(rec._label0, labels, side="right") - 1
    picture = vecs @ q / t.cfg.temperature + t.hub_bias[t.seg_offset[fi] + labels - rec._label0[fi]]
    s = standardised(picture, t.log_prior[fi], rec.prior_weight)
    best = np.full(len(rec.files), -np.inf)
    np.maximum.at(best, fi, s)
    return [rec.files[i].path for i in np.argsort(-best, kind="stable")[:k]]


@pytest.fixture(scope="module")
def index(indexed: Path, model):
    idx = SoundIndex.open(indexed, model.model_id)
    yield idx
    idx.close()


def test_the_prior_dial_moves_the_most_voted_file_to_the_top(index, model, rng) -> None:
    labels, vecs = all_vectors(index)
    popular = vecs[len(vecs) // 2]  # every reference second votes for this segment's file
    m = with_ranking(model, RankingCfg(temperature=0.1, prior_weight=0.0), unit(rng.normal(size=(64, index.dim))), np.repeat(popular[None], 50, 0))
    rec = Recommender(m, index)
    plain = Recommender(model, index)
    target = rec.files[int(np.searchsorted(rec._label0, labels[len(vecs) // 2], side="right") - 1)].path
    queries = unit(rng.normal(size=(8, index.dim)))
    for q in queries:  # weight 0: the picture alone, the same order as a model without terms
        assert [c.path for c in rec.for_embedding(q, 5)] == [c.path for c in plain.for_embedding(q, 5)]
    rec.prior_weight = 5.0
    tops = [rec.for_embedding(q, 5)[0].path for q in queries]
    assert tops == [target] * len(queries)
    for q in queries:  # HNSW with re-ranking finds what brute force finds
        assert [c.path for c in rec.for_embedding(q, 6)] == brute_force_files(rec, q, 6)
    with pytest.raises(ConfigError):
        rec.prior_weight = -1.0


def test_the_hubness_fix_demotes_a_sound_near_every_picture(index, model, rng) -> None:
    labels, vecs = all_vectors(index)
    queries = unit(rng.normal(size=(30, index.dim)))
    plain = Recommender(model, index)
    top1 = [plain.for_embedding(q, 1)[0].path for q in queries]
    hub_path = max(set(top1), key=top1.count)
    hub_rows = [i for i, lab in enumerate(labels) if plain.files[int(np.searchsorted(plain._label0, lab, side="right") - 1)].path == hub_path]
    refs = np.resize(vecs[hub_rows], (64, index.dim))  # the reference pictures all sit on the hub's segments
    rec = Recommender(with_ranking(model, RankingCfg(temperature=0.1, hub_weight=1.0), refs, refs), index)
    rec.prior_weight = 0.0
    fixed = [rec.for_embedding(q, 1)[0].path for q in queries]
    assert fixed.count(hub_path) < top1.count(hub_path)
    for q in queries[:5]:
        assert [c.path for c in rec.for_embedding(q, 6)] == brute_force_files(rec, q, 6)


def test_scores_are_relevance_and_sound_queries_ignore_the_picture_terms(index, model, rng) -> None:
    labels, vecs = all_vectors(index)
    m = with_ranking(model, RankingCfg(temperature=0.1, hub_weight=0.5, prior_weight=1.0), vecs[:40], vecs[::3])
    rec = Recommender(m, index)
    for q in unit(rng.normal(size=(5, index.dim))):
        cands = rec.for_embedding(q, 8)
        scores = [c.score for c in cands]
        assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)
        plain = Recommender(model, index).for_embedding(q, 8)
        assert [c.path for c in rec.for_embedding(q, 8, sound_query=True)] == [c.path for c in plain]


def test_terms_of_a_large_index_equal_the_exact_ones(index, model, rng, monkeypatch) -> None:
    """Past EXACT_LIMIT the votes go through the graph; the moments are always summed in blocks."""
    from engine.library import recommender

    labels, vecs = all_vectors(index)
    files = index.files()
    seg_file = np.repeat(np.arange(len(files)), [f.n_segments for f in files])
    noisy = unit(vecs[1::3] + 0.05 * rng.normal(size=vecs[1::3].shape))
    m = with_ranking(model, RankingCfg(temperature=0.1, hub_weight=0.5, prior_weight=1.0), vecs[::2], noisy)
    exact = recommender.ranking_terms(m, index, files)
    blocked = recommender.ranking_terms(m, index, files, block=7)
    np.testing.assert_allclose(blocked.hub_bias, exact.hub_bias, atol=1e-5)
    np.testing.assert_allclose(blocked.moments.mean, exact.moments.mean, atol=1e-6)
    np.testing.assert_allclose(blocked.moments.cov, exact.moments.cov, atol=1e-6)
    x = np.concatenate([vecs / 0.1, exact.hub_bias[:, None], exact.log_prior[seg_file][:, None]], axis=1)
    np.testing.assert_allclose(exact.moments.cov, np.cov(x, rowvar=False, bias=True), atol=1e-4)
    monkeypatch.setattr(recommender, "EXACT_LIMIT", 1)
    graph = recommender.ranking_terms(m, index, files, block=7)
    # the generated library has files with identical segments (ties break either way): compare the others
    d = np.linalg.norm(vecs[:, None] - vecs[None], axis=-1) + np.eye(len(vecs)) * 9
    twin = np.zeros(len(files), bool)
    np.logical_or.at(twin, seg_file, (d < 1e-3).any(axis=1))
    assert (~twin).sum() >= 3
    np.testing.assert_allclose(graph.log_prior[~twin], exact.log_prior[~twin], atol=1e-6)


def test_a_large_index_re_ranks_hnsw_candidates_like_brute_force(index, model, rng, monkeypatch) -> None:
    from engine.library import recommender

    labels, vecs = all_vectors(index)
    monkeypatch.setattr(recommender, "SCORED_LIMIT", 0)  # as if the index were too large to score every segment
    m = with_ranking(model, RankingCfg(temperature=0.1, hub_weight=0.5, prior_weight=1.0), vecs[::2], vecs[1::3])
    rec = Recommender(m, index)
    assert rec._terms.vectors is None
    for q in unit(rng.normal(size=(6, index.dim))):
        got = rec.for_embedding(q, 6)
        assert [c.path for c in got] == brute_force_files(rec, q, 6)
        assert [c.score for c in got] == sorted((c.score for c in got), reverse=True)
