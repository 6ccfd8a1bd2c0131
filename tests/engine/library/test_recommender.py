"""Recommender: HNSW equals exact search on small sets, grouping, scores, filters and diversity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.api import Candidate, Recommender, SoundIndex
from engine.errors import ConfigError
from engine.library.vectors import HnswIndex, HnswParams, exact_search, read_chunk


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def rec(indexed: Path, model):
    index = SoundIndex.open(indexed, model.model_id)
    yield Recommender(model, index)
    index.close()


def all_vectors(index: SoundIndex) -> tuple[np.ndarray, np.ndarray]:
    """(labels, float32 vectors) straight from the chunk files."""
    labels, vecs = [], []
    for f in index.files():
        labels.append(np.arange(f.label0, f.label0 + f.n_segments))
        vecs.append(np.asarray(read_chunk(index.chunk_path(f.chunk_id), index.dim)[f.chunk_row : f.chunk_row + f.n_segments], np.float32))
    return np.concatenate(labels), np.concatenate(vecs)


def test_hnsw_equals_exact_search_on_a_small_set(rng) -> None:
    data = unit(rng.normal(size=(1500, 128)))
    graph = HnswIndex(128, HnswParams(M=16, ef_construction=200, ef_search=1500), capacity=100)  # grows while adding
    graph.add(data, np.arange(1500) * 3 + 7)
    for q in unit(rng.normal(size=(40, 128))):
        labels, d = graph.search(q, 10)
        rows, d_exact = exact_search(graph.get(np.arange(1500) * 3 + 7), q, 10)
        assert labels.tolist() == (rows * 3 + 7).tolist()
        np.testing.assert_allclose(d, d_exact, atol=1e-4)


def test_hnsw_default_params_recall_on_clustered_vectors(rng) -> None:
    centres = unit(rng.normal(size=(40, 128)))
    data = unit(centres[rng.integers(0, 40, 3000)] + 0.2 * rng.normal(size=(3000, 128)))
    graph = HnswIndex(128)
    graph.add(data, np.arange(3000))
    hits = 0
    for q in unit(centres[rng.integers(0, 40, 50)] + 0.2 * rng.normal(size=(50, 128))):
        hits += len(set(graph.search(q, 10)[0].tolist()) & set(exact_search(data, q, 10)[0].tolist()))
    assert hits / 500 >= 0.95


def test_per_segment_ranking_equals_brute_force(rec: Recommender, rng) -> None:
    labels, vecs = all_vectors(rec.index)
    for q in unit(rng.normal(size=(10, rec.index.dim))):
        got = rec.for_embedding(q, k=8, per_segment=True)
        rows, d = exact_search(vecs, q, 8)
        got_labels = [next(f.label0 for f in rec.files if f.path == c.path) + int(round(c.start_s / 0.5)) for c in got]
        assert len(set(got_labels)) == 8
        np.testing.assert_allclose([c.distance for c in got], d, atol=1e-4)  # the 8 nearest distances, in order
        true_d = np.linalg.norm(vecs[np.searchsorted(labels, got_labels)] - q, axis=1)
        np.testing.assert_allclose([c.distance for c in got], true_d, atol=1e-4)  # (identical files tie)


def test_default_is_one_row_per_file_ranked_with_scores(rec: Recommender, rng) -> None:
    q = unit(rng.normal(size=rec.index.dim))
    got = rec.for_embedding(q, k=10)
    assert len(got) == 10 and all(isinstance(c, Candidate) for c in got)
    assert len({c.path for c in got}) == 10
    assert [c.rank for c in got] == list(range(1, 11))
    d = [c.distance for c in got]
    assert d == sorted(d)
    for c in got:
        assert 0.0 <= c.score <= 1.0 and c.score == pytest.approx(1 - c.distance / 2, abs=1e-6)
        assert 0.0 <= c.start_s < c.duration_s or c.duration_s < 1.0
    # the best segment of each file is the nearest of its segments
    labels, vecs = all_vectors(rec.index)
    for c in got[:3]:
        f = next(f for f in rec.files if f.path == c.path)
        seg = np.linalg.norm(vecs[np.isin(labels, np.arange(f.label0, f.label0 + f.n_segments))] - q, axis=1)
        assert c.distance == pytest.approx(float(seg.min()), abs=1e-4)
        assert c.start_s == pytest.approx(float(np.argmin(seg)) * 0.5)


def test_filters(rec: Recommender, rng) -> None:
    q = unit(rng.normal(size=rec.index.dim))
    only = rec.for_embedding(q, k=10, include_categories=["circle", "SQUARE"])
    assert only and {c.category for c in only} <= {"circle", "square"}
    assert len(only) == 4  # all four such files, even though the over-fetch had to grow or go exact
    assert "circle" not in {c.category for c in rec.for_embedding(q, k=20, exclude_categories="circle")}
    pistol = rec.for_embedding(q, k=5, text="PISTOL close")  # description + name of the BWF file
    assert [c.path.name for c in pistol] == ["take_12.wav"] and pistol[0].description.startswith("Gunshot")
    longer = rec.for_embedding(q, k=20, min_duration=3.0)
    assert [c.path.name for c in longer] == ["triangle_long.wav"]
    short = rec.for_embedding(q, k=20, max_duration=1.0)
    assert {c.path.name for c in short} == {"square_short.wav"}
    assert {c.path.parent.name for c in rec.for_embedding(q, k=20, path_contains="/RING/")} == {"ring"}
    top = rec.for_embedding(q, k=3)
    rest = rec.for_embedding(q, k=3, exclude_files={top[0].path})
    assert top[0].path not in {c.path for c in rest} and rest[0].path == top[1].path
    assert rec.for_embedding(q, k=5, include_categories=["no such category"]) == []


def test_diversity_caps_each_category(rec: Recommender, rng) -> None:
    q = unit(rng.normal(size=rec.index.dim))
    one_each = rec.for_embedding(q, k=50, max_per_category=1)
    cats = [c.category for c in one_each]
    assert len(cats) == len(set(cats)) == len(rec.categories())
    two_each = rec.for_embedding(q, k=50, max_per_category=2)
    counts = {c: [x.category for x in two_each].count(c) for c in set(x.category for x in two_each)}
    assert max(counts.values()) == 2


def test_bad_filters_are_clear_errors(rec: Recommender) -> None:
    q = np.ones(rec.index.dim, np.float32)
    with pytest.raises(ConfigError, match="unknown filter"):
        rec.for_embedding(q, k=3, colour="red")
    with pytest.raises(ConfigError, match="dimensions"):
        rec.for_embedding(np.ones(5), k=3)


def test_similar_to_sound_excludes_itself(rec: Recommender, library_template: Path) -> None:
    path = library_template / "circle/circle_a.wav"
    got = rec.similar_to_sound(path, 0.0, k=5)
    assert len(got) == 5 and path not in {c.path for c in got}
    # the same sound under another name (identical content) is at distance ~0
    twin = rec.similar_to_sound(library_template / "ring/ドア_きしみ.wav", 0.0, k=1)
    assert twin[0].path.name == "Ünïcødé 🔊.wav" and twin[0].distance < 1e-2


def test_for_frame_uses_the_visual_encoder(rec: Recommender, rng) -> None:
    rgb = rng.integers(0, 255, size=(90, 160, 3), dtype=np.uint8)
    via_frame = rec.for_frame(rgb, k=5)
    vec = rec.model.embed_frames(rgb[None])[0]
    assert [c.path for c in via_frame] == [c.path for c in rec.for_embedding(vec, k=5)]


def test_long_file_hogging_the_top_hits_still_yields_k_files(tmp_path: Path, model, rng) -> None:
    """One 600-segment file sits right at the query: the over-fetch must grow past it to fill k files."""
    from engine.bench.library import synthetic_index

    q = unit(rng.normal(size=model.cfg.embed_dim))
    near = unit(q + 0.05 * rng.normal(size=(600, model.cfg.embed_dim)))
    rest = unit(rng.normal(size=(30 * 4, model.cfg.embed_dim)))
    index = synthetic_index(tmp_path / "idx", np.concatenate([near, rest]), model.model_id, seg_per_file=[600] + [4] * 30)
    index.close()
    with SoundIndex.open(tmp_path / "idx", model.model_id) as idx:
        rec = Recommender(model, idx)
        got = rec.for_embedding(q, k=10)
        assert len(got) == 10 and len({c.path for c in got}) == 10
        assert got[0].name == "file0000000"
        labels, vecs = all_vectors(idx)
        per_file = {}
        for f in idx.files():
            per_file[f.name] = float(np.linalg.norm(vecs[f.label0 : f.label0 + f.n_segments] - q, axis=1).min())
        want = sorted(per_file, key=per_file.get)[:10]
        assert [c.name for c in got] == want
        per_seg = rec.for_embedding(q, k=700, per_segment=True)
        assert len(per_seg) == 700
