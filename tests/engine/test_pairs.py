"""Pair and batch sampling: balance, no aligned negative, split purity, determinism, one row per video."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from engine.data import synthetic
from engine.data.cache import FeatureCache
from engine.data.pairs import (
    PairDataset,
    RowDataset,
    balanced_pairs,
    contrastive_batches,
    eval_pairs,
    search_list,
    shard,
)
from engine.errors import ConfigError, DatasetError


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> FeatureCache:
    root = tmp_path_factory.mktemp("pairs") / "ds"
    splits = ["train"] * 5 + ["val", "test", "test"]
    synthetic.write_feature_cache(root, 8, [12, 9, 15, 6, 12, 10, 11, 8], splits=splits, silent_ratio=0.25, seed=3)
    return FeatureCache(root)


def _check_pairs(cache: FeatureCache, pairs: np.ndarray, split: str, negatives: str, min_gap_s: int = 5) -> None:
    f, a, y = pairs.T
    assert pairs.dtype == np.int64 and pairs.shape[1] == 3
    assert set(np.unique(y)) <= {0, 1}
    assert (cache.splits[f] == split).all() and (cache.splits[a] == split).all()
    pos, neg = y == 1, y == 0
    assert (f[pos] == a[pos]).all()
    assert (f[neg] != a[neg]).all(), "an aligned pair was labelled negative"
    if negatives == "gameplay":
        same = cache.video_ids[f[neg]] == cache.video_ids[a[neg]]
        gap = np.abs(cache.seconds[f[neg]] - cache.seconds[a[neg]])
        assert (gap[same] >= min_gap_s).all()
    else:
        assert (cache.labels[f[neg]] != cache.labels[a[neg]]).all()


@pytest.mark.parametrize("negatives", ["gameplay", "label"])
def test_balanced_pairs_invariants(cache: FeatureCache, negatives: str) -> None:
    pairs = balanced_pairs(cache, "train", 400, seed=7, negatives=negatives)
    assert pairs.shape == (400, 3) and pairs[:, 2].sum() == 200
    _check_pairs(cache, pairs, "train", negatives)
    # both kinds of gameplay negatives occur: other videos and distant seconds of the same video
    if negatives == "gameplay":
        neg = pairs[pairs[:, 2] == 0]
        same = cache.video_ids[neg[:, 0]] == cache.video_ids[neg[:, 1]]
        assert 0 < same.sum() < len(neg)


def test_balanced_pairs_use_every_second_evenly(cache: FeatureCache) -> None:
    train = cache.indices("train")
    pairs = balanced_pairs(cache, "train", 2 * len(train), seed=1)
    pos = pairs[pairs[:, 2] == 1, 0]
    assert sorted(pos.tolist()) == sorted(train.tolist())
    neg_frames = pairs[pairs[:, 2] == 0, 0]
    assert sorted(neg_frames.tolist()) == sorted(train.tolist())


def test_pairs_are_deterministic_for_a_seed(cache: FeatureCache) -> None:
    a = balanced_pairs(cache, "train", 300, seed=5)
    b = balanced_pairs(cache, "train", 300, seed=5)
    c = balanced_pairs(cache, "train", 300, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(eval_pairs(cache, seed=2), eval_pairs(cache, seed=2))
    for x, y in zip(contrastive_batches(cache, "train", 4, seed=9), contrastive_batches(cache, "train", 4, seed=9)):
        np.testing.assert_array_equal(x, y)


def test_skip_silent_leaves_quiet_seconds_out(cache: FeatureCache) -> None:
    assert (cache.levels < 1e-3).sum() > 5, "fixture should contain silent seconds"
    pairs = balanced_pairs(cache, "train", 500, seed=0, skip_silent=True, silence_rms=1e-3)
    assert (cache.levels[pairs[:, :2].reshape(-1)] >= 1e-3).all()
    rows = np.concatenate(contrastive_batches(cache, "train", 4, seed=0, skip_silent=True))
    assert (cache.levels[rows] >= 1e-3).all()
    loud_train = cache.indices("train")[cache.levels[cache.indices("train")] >= 1e-3]
    assert set(rows.tolist()) <= set(loud_train.tolist()) and len(rows) >= len(loud_train) - 3


def test_gameplay_negatives_fail_clearly_when_impossible(tmp_path: Path) -> None:
    synthetic.write_feature_cache(tmp_path, 1, 4, splits=["train"], seed=0)
    c = FeatureCache(tmp_path)
    with pytest.raises(DatasetError, match="min_gap_s"):
        balanced_pairs(c, "train", 10, seed=0, min_gap_s=5)
    pairs = balanced_pairs(c, "train", 10, seed=0, min_gap_s=2)  # 0<->2, 0<->3, 1<->3 are far enough apart
    _check_pairs(c, pairs, "train", "gameplay", min_gap_s=2)
    with pytest.raises(ConfigError, match="min_gap_s"):
        balanced_pairs(c, "train", 10, seed=0, min_gap_s=0)
    with pytest.raises(DatasetError, match="no seconds"):
        balanced_pairs(c, "test", 10, seed=0)


def test_label_negatives_need_labels(tmp_path: Path) -> None:
    synthetic.write_feature_cache(tmp_path, 3, 6, splits=["train"] * 3, labelled=False, seed=0)
    with pytest.raises(DatasetError, match="--labels"):
        balanced_pairs(FeatureCache(tmp_path), "train", 10, seed=0, negatives="label")
    with pytest.raises(ConfigError, match="unknown negatives"):
        balanced_pairs(FeatureCache(tmp_path), "train", 10, seed=0, negatives="random")


def test_contrastive_batches_one_row_per_video(cache: FeatureCache) -> None:
    train = cache.indices("train")
    batches = contrastive_batches(cache, "train", 4, seed=3)
    rows = np.concatenate(batches)
    assert len(set(rows.tolist())) == len(rows)  # no row twice in an epoch
    assert set(rows.tolist()) <= set(train.tolist())
    assert len(rows) >= len(train) - 3  # only trailing single-row batches may be dropped
    for b in batches:
        assert 2 <= len(b) <= 4
        assert len(set(cache.video_ids[b])) == len(b), "two rows of one video in a batch"
    assert sum(len(b) == 4 for b in batches) >= len(batches) - 3
    # more batch slots than videos: batches hold one row of every video
    for b in contrastive_batches(cache, "train", 32, seed=3):
        assert len(set(cache.video_ids[b])) == len(b) <= 5
    with pytest.raises(ConfigError):
        contrastive_batches(cache, "train", 1, seed=0)


def test_eval_pairs_and_search_list(cache: FeatureCache) -> None:
    test_rows = cache.indices("test")
    pairs = eval_pairs(cache)  # 3000 asked, the split is small: 2 x its seconds
    assert len(pairs) == 2 * len(test_rows) and pairs[:, 2].sum() == len(test_rows)
    _check_pairs(cache, pairs, "test", "gameplay")
    pos = pairs[pairs[:, 2] == 1, 0]
    assert len(set(pos.tolist())) == len(pos)
    small = eval_pairs(cache, n_pairs=10, seed=4)
    assert small.shape == (10, 3) and small[:, 2].sum() == 5
    rows = search_list(cache)
    assert sorted(cache.video_ids[rows].tolist()) == sorted(set(cache.video_ids[test_rows].tolist()))
    assert (cache.splits[rows] == "test").all()
    three = search_list(cache, per_video=3, seed=1)
    assert len(three) == 6 and (cache.splits[three] == "test").all()
    assert len(set(cache.video_ids[three].tolist())) == 2


@pytest.mark.parametrize("n, world", [(10, 3), (9, 3), (2, 4), (7, 1)])
def test_shard_is_disjoint_and_complete(n: int, world: int) -> None:
    items = np.arange(100, 100 + n)
    parts = [shard(items, r, world) for r in range(world)]
    assert len({len(p) for p in parts}) == 1, "ranks must get equal lengths (DDP)"
    joined = np.concatenate(parts)
    assert set(joined.tolist()) == set(items.tolist())
    assert len(joined) - n == (-n) % world  # only the padding repeats
    dropped = [shard(items, r, world, drop_last=True) for r in range(world)]
    flat = np.concatenate(dropped).tolist()
    assert len(flat) == len(set(flat)) == (n // world) * world
    batches = [np.array([i, i + 1]) for i in range(5)]
    assert [b.tolist() for b in shard(batches, 1, 2)] == [[1, 2], [3, 4], [0, 1]]
    with pytest.raises(ConfigError):
        shard(items, world, world)


def test_datasets_feed_a_dataloader_with_workers(cache: FeatureCache) -> None:
    pairs = balanced_pairs(cache, "train", 16, seed=0)
    ds = PairDataset(cache, pairs)
    frame, mel, label = ds[0]
    assert frame.dtype == torch.uint8 and frame.shape == (224, 224, 3)
    assert mel.dtype == torch.float32 and mel.shape == (64, 100)
    assert label.dtype == torch.float32 and float(label) == pairs[0, 2]
    np.testing.assert_array_equal(mel.numpy(), cache.mel(int(pairs[0, 1])))
    cache.frame(0)  # open a shard: pickling must not carry the memory maps along
    assert pickle.loads(pickle.dumps(cache))._shards == {}
    loader = DataLoader(ds, batch_size=8, num_workers=2)
    got = list(loader)
    assert len(got) == 2 and got[0][0].shape == (8, 224, 224, 3)
    np.testing.assert_array_equal(torch.cat([b[2] for b in got]).numpy(), pairs[:, 2].astype(np.float32))
    batches = contrastive_batches(cache, "train", 4, seed=0)
    rows_loader = DataLoader(RowDataset(cache), batch_sampler=batches, num_workers=0)
    frames, mels = next(iter(rows_loader))
    np.testing.assert_array_equal(mels.numpy(), cache.mels(batches[0]))
    np.testing.assert_array_equal(frames.numpy(), cache.frames(batches[0]))
    with pytest.raises(ValueError, match="pairs"):
        PairDataset(cache, np.zeros((3, 2), np.int64))


def test_cache_reads_through_a_small_shard_window(cache: FeatureCache) -> None:
    small = FeatureCache(cache.root, max_open_shards=2)
    idx = np.arange(len(small))
    np.testing.assert_array_equal(small.mels(idx), cache.mels(idx))
    assert len(small._shards) == 2
