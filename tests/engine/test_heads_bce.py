"""Heads of the BCE presets (m2/m3: distance classifier) on frozen towers, from generated tower features.

The features stand in for cached tower outputs (``engine.data.tower_cache.TowerFeatures``): each
second belongs to one of a few classes, and its picture map and sound feature are the class's
random prototype plus noise, so the heads have something to learn in a few epochs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.tower_cache import TowerFeatures
from engine.errors import ConfigError, DatasetError
from engine.evaluation.library_eval import LabelledSecond, LibraryEntry
from engine.models import AVModel
from engine.models.projectors import DistanceClassifier
from engine.presets import get_preset
from engine.training.heads import (
    HeadTrainCfg,
    LibraryFeatures,
    LibraryTask,
    attach_ranking,
    bce_pairs,
    check_head_preset,
    pretrained_cfg,
    train_heads,
)

N_CLASSES, N_VIDEOS, SECONDS = 4, 8, 12
SPLITS = ["train"] * 6 + ["val", "test"]


def generated_towers(seed: int = 0) -> tuple[TowerFeatures, np.ndarray, np.ndarray]:
    """Tower features of ``N_VIDEOS`` videos of ``SECONDS`` seconds; and the class of every row and
    the sound prototypes (to build a library from)."""
    rng = np.random.default_rng(seed)
    proto_v = rng.standard_normal((N_CLASSES, 1280)).astype(np.float32)
    proto_a = rng.standard_normal((N_CLASSES, 512)).astype(np.float32)
    n = N_VIDEOS * SECONDS
    cls = rng.integers(0, N_CLASSES, n)
    vision = proto_v[cls][:, :, None, None] + 0.5 * rng.standard_normal((n, 1280, 7, 7)).astype(np.float32)
    audio = proto_a[cls] + 0.3 * rng.standard_normal((n, 512)).astype(np.float32)
    video = np.repeat([f"clip{i}" for i in range(N_VIDEOS)], SECONDS)
    tf = TowerFeatures(np.arange(n), vision.astype(np.float16), audio.astype(np.float32), video,
                       np.tile(np.arange(SECONDS), N_VIDEOS), np.repeat(SPLITS, SECONDS), np.ones(n))
    return tf, cls, proto_a


def library_and_task(tf: TowerFeatures, cls: np.ndarray, proto_a: np.ndarray, split: str = "val") -> tuple[LibraryFeatures, LibraryTask]:
    """One library file of two segments per class, and every second of ``split`` as a query for its class's file."""
    rng = np.random.default_rng(1)
    entries = [LibraryEntry(Path(f"class{c}.wav"), f"class{c}") for c in range(N_CLASSES)]
    seg_file = np.repeat(np.arange(N_CLASSES), 2)
    feats = (proto_a[seg_file] + 0.3 * rng.standard_normal((len(seg_file), 512))).astype(np.float32)
    rows = np.flatnonzero(tf.splits == split)
    queries = [LabelledSecond(str(tf.video_ids[r]), int(tf.seconds[r]), [int(cls[r])]) for r in rows]
    return LibraryFeatures(entries, seg_file, feats), LibraryTask(split, queries, tf.vision[rows], np.zeros(N_CLASSES))


@pytest.fixture(scope="module")
def towers() -> tuple[TowerFeatures, np.ndarray, np.ndarray]:
    return generated_towers()


# ------------------------------------------------------------------------------------ pairs
def test_bce_pairs_give_each_second_its_own_sound_and_one_of_another_time(towers) -> None:
    tf, _, _ = towers
    train = np.flatnonzero(tf.splits == "train")
    pairs = bce_pairs(tf, train, np.random.default_rng(3), min_gap_s=5)
    f, a, y = pairs.T
    assert pairs.shape == (2 * len(train), 3) and pairs.dtype == np.int64
    assert set(np.unique(y).tolist()) == {0, 1} and int(y.sum()) == len(train)
    pos, neg = y == 1, y == 0
    assert (f[pos] == a[pos]).all()
    # every training second once as a positive and once as a negative's picture; sounds only from training seconds
    assert sorted(f[pos].tolist()) == train.tolist() and sorted(f[neg].tolist()) == train.tolist()
    assert np.isin(a, train).all()
    # a negative never pairs a second with its own sound, nor with a sound of the same video less than 5 s away
    assert (f[neg] != a[neg]).all()
    same = tf.video_ids[f[neg]] == tf.video_ids[a[neg]]
    assert (np.abs(tf.seconds[f[neg]] - tf.seconds[a[neg]])[same] >= 5).all()
    assert 0 < same.sum() < neg.sum()  # both kinds occur: other videos and distant seconds of the same one
    assert not (pos[:-1] == pos[1:]).all()  # shuffled, not positives then negatives
    np.testing.assert_array_equal(bce_pairs(tf, train, np.random.default_rng(3), 5), pairs)  # seeded


def test_bce_pairs_refuse_when_no_second_is_far_enough_from_another(towers) -> None:
    tf, _, _ = towers
    one_video = np.flatnonzero(tf.video_ids == "clip0")  # 12 seconds: none is 20 s from another
    with pytest.raises(DatasetError, match="no uncorrelated audio"):
        bce_pairs(tf, one_video, np.random.default_rng(0), min_gap_s=20)


# ------------------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def m3_run(towers, tmp_path_factory):
    tf, cls, proto_a = towers
    lib, val = library_and_task(tf, cls, proto_a)
    cfg = pretrained_cfg(get_preset("m3"), dropout=0.1)
    torch.set_num_threads(1)
    run = train_heads(cfg, tf, lib, val, HeadTrainCfg(epochs=6, batch_size=16, eval_every=3, patience=5, lr=3e-3))
    attach_ranking(run.model, tf, run.best_ranking)
    run.model.extra.update({"preset": "m3", "best_epoch": run.best_epoch})
    path = tmp_path_factory.mktemp("m3") / "best.pt"
    run.model.save(path)
    return run, path, lib


def test_m3_heads_train_on_pairs_and_save_a_model_that_loads(m3_run, towers) -> None:
    tf, cls, _ = towers
    run, path, lib = m3_run
    assert run.best_epoch in (3, 6) and [h["epoch"] for h in run.history] == list(range(1, 7))
    assert all(np.isfinite(h["loss"]) for h in run.history) and run.history[-1]["loss"] < run.history[0]["loss"]
    # the ranking of a model without a temperature: 1 (the ranking standardises the picture term anyway)
    assert run.best_ranking.temperature == 1.0
    loaded = AVModel.load(path)
    assert loaded.cfg.loss == "bce_margin" and loaded.cfg.projector == "distance" and isinstance(loaded.projector, DistanceClassifier)
    assert loaded.extra["ranking"] == run.best_ranking.as_dict() and loaded.extra["preset"] == "m3"
    assert loaded.extra["reference_frames"].shape[1] == 128 and loaded.extra["reference_audio"].shape[1] == 128
    # the test seconds find their class's sound by cosine of the heads' outputs
    test = np.flatnonzero(tf.splits == "test")
    with torch.no_grad():
        v = loaded.vision.head_with_maps(torch.from_numpy(tf.vision[test]).float())[0]
        a = loaded.audio.head_with_maps(torch.from_numpy(lib.feats))[0]
    torch.testing.assert_close(v.norm(dim=1), torch.ones(len(test)))  # unit vectors: cosine order = distance order
    top = lib.seg_file[(v @ a.T).argmax(1).numpy()]
    assert float(np.mean(top == cls[test])) >= 0.75  # chance: 0.25


def test_the_classifier_orders_sounds_as_the_cosine_does(m3_run, towers) -> None:
    """Retrieval ranks the heads' outputs by cosine; the trained distance classifier agrees (its
    weight stays negative: a nearer sound is more correlated)."""
    tf, _, _ = towers
    run, _, lib = m3_run
    model = run.model
    assert float(model.projector.fc.weight.detach()) < 0
    with torch.no_grad():
        v = model.vision.head_with_maps(torch.from_numpy(tf.vision[:5]).float())[0]
        a = model.audio.head_with_maps(torch.from_numpy(lib.feats))[0]
        for q in v:
            logits = model.correlation_logits(q.expand(len(a), -1), a)
            assert torch.argsort(logits, descending=True).tolist() == torch.argsort(a @ q, descending=True).tolist()


def test_the_m3_model_file_recommends_through_the_library_index(m3_run, tmp_path) -> None:
    from engine.api import Recommender, SoundIndex
    from engine.data import synthetic
    from engine.library.indexer import index_library

    _, path, _ = m3_run
    model = AVModel.load(path)
    library = tmp_path / "library"
    synthetic.write_sound_library(library, classes=synthetic.CLASSES[:3], per_class=1)
    db = tmp_path / "index"
    index_library([library], model, db, workers=0, progress=False)
    index = SoundIndex.open(db, model.model_id)
    try:
        rec = Recommender(model, index)
        assert rec.ranking is not None and rec.ranking.temperature == 1.0  # the model's own ranking terms
        got = rec.for_frame(np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8), k=3)
        assert len(got) == 3 and all(0.0 <= c.score <= 1.0 for c in got)
        assert {c.path.name for c in got} == {p.name for p in library.rglob("*.wav")}
    finally:
        index.close()


# ------------------------------------------------------------------------------------ presets
@pytest.mark.parametrize("name", ["m1", "ft"])
def test_presets_the_heads_cannot_train_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(ConfigError, match=f"preset '{name}' cannot be trained as heads") as err:
        check_head_preset(name, get_preset(name))
    assert "\n" not in str(err.value) and "m3" in str(err.value)


@pytest.mark.parametrize("name", ["m2", "m3", "m4", "m5", "m6", "m7"])
def test_the_other_presets_are_accepted(name: str) -> None:
    check_head_preset(name, get_preset(name))


def test_train_heads_command_refuses_m1_and_a_temperature_for_m3(tmp_path) -> None:
    from typer.testing import CliRunner

    from engine.cli import app

    common = ["train-heads", "-d", str(tmp_path / "data"), "--videos", str(tmp_path / "clips"), "--library", str(tmp_path / "lib"),
              "-o", str(tmp_path / "run")]
    m1 = CliRunner().invoke(app, [*common, "--preset", "m1"])
    assert m1.exit_code != 0 and isinstance(m1.exception, ConfigError)
    assert "preset 'm1' cannot be trained as heads" in str(m1.exception)
    hot = CliRunner().invoke(app, [*common, "--preset", "m3", "--temperature", "0.1"])
    assert hot.exit_code != 0 and isinstance(hot.exception, ConfigError) and "--temperature" in str(hot.exception)
    assert not (tmp_path / "run").exists()  # refused before anything was written
