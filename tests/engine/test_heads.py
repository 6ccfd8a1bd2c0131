"""Heads on frozen towers, end to end on generated videos: prepare -> cache-towers -> train-heads -> model file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.data import synthetic
from engine.data.cache import FeatureCache
from engine.data.features import clips_from_wave, log_mel_batch
from engine.data.media import load_audio
from engine.data.prepare import prepare_dataset
from engine.data.tower_cache import build_tower_cache, clip_mels, load_tower_features, tower_dir
from engine.library.ranking import RankingCfg
from engine.models import AVModel
from engine.models.towers import aisfx_features
from engine.presets import get_preset
from engine.training.heads import (
    HeadTrainCfg,
    attach_ranking,
    baselines,
    build_task,
    evaluate_task,
    library_tower_features,
    pretrained_cfg,
    references,
    train_heads,
)
from tests.engine.labelled_corpus import make_labelled_corpus

N_VIDEOS, SECONDS = 10, 8


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Videos with a shape and its sound each second, their label files, a library and a prepared dataset."""
    return make_labelled_corpus(tmp_path_factory.mktemp("heads"), N_VIDEOS, SECONDS, (0.6, 0.2, 0.2))


def test_tower_cache_holds_every_sounding_second_and_resumes(corpus) -> None:
    _, _, data = corpus
    folder = tower_dir(data)
    files = sorted(folder.glob("*.npz"))
    assert len(files) == N_VIDEOS
    before = {f: f.stat().st_mtime_ns for f in files}
    files[0].unlink()  # as if killed before this video was written
    build_tower_cache(data, workers=0)
    assert {f: f.stat().st_mtime_ns for f in files[1:]} == {f: before[f] for f in files[1:]}  # only the missing one redone
    assert files[0].is_file() and not list(folder.glob(".*.tmp*"))
    tf = load_tower_features(data)
    cache = FeatureCache(data)
    sounding = cache.levels >= 1e-3
    assert set(tf.rows.tolist()) >= set(np.flatnonzero(sounding).tolist())
    assert tf.vision.shape[1:] == (1280, 7, 7) and tf.vision.dtype == np.float16
    assert tf.audio.shape == (len(tf.rows), 512) and np.all(np.isfinite(tf.audio))


def test_a_second_sound_tower_reuses_the_cached_picture_maps(corpus, monkeypatch) -> None:
    """cache-towers --audio-tower aisfx-small: its own folder, the same maps (not recomputed), other sounds."""
    from engine.models.encoders import PretrainedVisionEncoder

    _, _, data = corpus

    def no_picture_tower(*args, **kwargs):
        raise AssertionError("the picture tower ran although its maps were cached")

    monkeypatch.setattr(PretrainedVisionEncoder, "tower_features", no_picture_tower)
    folder = build_tower_cache(data, workers=0, audio="aisfx-small")
    assert folder == tower_dir(data, audio="aisfx-small") != tower_dir(data)
    small, big = load_tower_features(data, "aisfx-small"), load_tower_features(data)
    np.testing.assert_array_equal(small.rows, big.rows)
    np.testing.assert_array_equal(small.vision, big.vision)
    assert small.audio.shape == big.audio.shape and not np.allclose(small.audio, big.audio)
    cos = (small.audio * big.audio).sum(1) / np.linalg.norm(small.audio, axis=1) / np.linalg.norm(big.audio, axis=1)
    assert float(cos.mean()) > 0.7  # the student follows aisfx on these generated sounds too


def test_clip_mels_decode_the_source_again_for_another_front_end(corpus) -> None:
    _, _, data = corpus
    cache = FeatureCache(data)
    rows = np.arange(0, len(cache), 7)
    np.testing.assert_array_equal(clip_mels(cache, rows, cache.features), cache.mels(rows))
    feats = aisfx_features(cache.features)
    got = clip_mels(cache, rows, feats)
    assert got.shape == (len(rows), 96, 43)
    r = int(rows[1])
    video = next(p for p in corpus[0].glob("*.mp4") if p.stem == cache.video_ids[r])  # decoded by hand
    wave = load_audio(video, feats.sample_rate)
    want = log_mel_batch(clips_from_wave(wave, [float(cache.seconds[r])], feats), feats)[0]
    np.testing.assert_allclose(got[1], want, atol=1e-5)


def test_heads_learn_the_pictures_sounds_and_are_chosen_on_validation(corpus, tmp_path) -> None:
    videos, library, data = corpus
    tf = load_tower_features(data)
    lib = library_tower_features(library, tmp_path / "lib.npz")
    assert len(lib.entries) == len(synthetic.CLASSES) and (tmp_path / "lib.npz").is_file()
    assert library_tower_features(library, tmp_path / "lib.npz").feats.shape == lib.feats.shape  # from the cache
    from engine.training.heads import library_digest

    digest = library_digest(library)
    (library / "circle" / "extra.wav").write_bytes((library / "circle" / "circle_00.wav").read_bytes())
    assert library_digest(library) != digest  # a changed library is a new cache file
    (library / "circle" / "extra.wav").unlink()
    assert library_digest(library) == digest
    val = build_task(tf, lib, videos, "val")
    test = build_task(tf, lib, videos, "test")
    unlabelled = tmp_path / "unlabelled"  # a second folder whose games log no sounds adds nothing
    unlabelled.mkdir()
    assert [(q.clip, q.second) for q in build_task(tf, lib, [videos, unlabelled], "val").queries] == [(q.clip, q.second) for q in val.queries]
    one = sorted({q.clip for q in val.queries})[0]
    assert {q.clip for q in build_task(tf, lib, videos, "val", clips_of={one}).queries} == {one}
    cfg = pretrained_cfg(get_preset("m5"), dropout=0.1)
    run = train_heads(cfg, tf, lib, val, HeadTrainCfg(epochs=30, batch_size=16, eval_every=5, patience=10, lr=3e-3))
    assert 5 <= run.best_epoch <= 30 and run.best_epoch % 5 == 0
    evaluated = [h for h in run.history if "val_top10" in h]
    assert len(evaluated) >= 2
    best = max(evaluated, key=lambda h: h["val_top10"] + h["val_top3"])
    assert run.val[run.best_ranking]["sample"]["10"] + run.val[run.best_ranking]["sample"]["3"] >= best["val_top10"] + best["val_top3"] - 1e-9
    refs = references(run.model, tf)
    picture_only = RankingCfg(cfg.temperature)
    res = evaluate_task(run.model, lib, test, refs, [picture_only])[picture_only]
    chance = baselines(lib, test)["chance (uniform)"]
    # shapes and their sounds are easy: the picture alone finds the sound far above chance on unseen videos
    assert res["sample"]["1"] >= chance["sample"]["1"] + 0.3
    attach_ranking(run.model, tf, run.best_ranking)
    path = tmp_path / "best.pt"
    run.model.save(path)
    loaded = AVModel.load(path)
    assert loaded.extra["ranking"] == run.best_ranking.as_dict()
    assert loaded.extra["reference_frames"].shape[1] == 128 and loaded.extra["reference_audio"].shape[1] == 128
    assert os.path.getsize(path) < 3_000_000


def test_the_choice_skips_rankings_that_offer_one_list_for_every_picture() -> None:
    from engine.training.heads import choose_ranking

    def res(top10: float, top3: float, lists: int, share: float) -> dict:
        return {"sample": {"10": top10, "3": top3}, "diversity": {"distinct_topk_lists": lists, "queries": 100}, "top1_share": share}

    same_list, varied_a, varied_b = RankingCfg(prior_weight=4.0), RankingCfg(prior_weight=1.0), RankingCfg(prior_weight=0.5)
    results = {same_list: res(0.6, 0.3, 3, 0.9), varied_a: res(0.4, 0.1, 95, 0.05), varied_b: res(0.4, 0.2, 90, 0.08)}
    assert choose_ranking(results)[0] == varied_b  # top-10 + top-3 decides among the varied ones
    assert choose_ranking({same_list: results[same_list]})[0] == same_list  # nothing varied: the best anyway


# ------------------------------------------------------------------------------ several games
def test_tower_features_of_several_datasets_are_read_together(corpus, tmp_path) -> None:
    _, _, data = corpus
    tf = load_tower_features(data)
    both = load_tower_features([data], "aisfx")
    np.testing.assert_array_equal(both.video_ids, tf.video_ids)
    from engine.errors import DatasetError

    with pytest.raises(DatasetError, match="in more than one dataset: clip"):
        load_tower_features([data, data])
    with pytest.raises(DatasetError, match="at least one"):
        load_tower_features([])


def test_top1_share_per_video_sees_a_hub_that_pooling_hides() -> None:
    from engine.evaluation.library_eval import LabelledSecond
    from engine.training.heads import top1_share_per_video, varied

    queries = [LabelledSecond(c, k, [0], []) for c in ("a", "b", "c", "d") for k in range(4)]
    firsts = [7, 7, 7, 1] + [6, 6, 6, 2] + [5, 5, 5, 3] + [4, 4, 4, 0]  # each video: one file tops 3 of 4
    assert top1_share_per_video(queries, firsts) == pytest.approx(0.75)
    assert np.bincount(firsts).max() / len(firsts) == pytest.approx(0.1875)  # pooled, it looks varied
    res = {"diversity": {"distinct_topk_lists": 16, "queries": 16}, "top1_share": 0.1875, "top1_share_per_video": 0.75}
    assert varied(res)  # the rule caps the pooled share; the share within each video is reported
    assert not varied({**res, "top1_share": 0.31})
    assert not varied({**res, "diversity": {"distinct_topk_lists": 12, "queries": 16}})


class _Flat:
    """A head that only flattens: picture map (n, C, 1, 1) and sound feature (n, C) meet as they are."""

    def head_with_maps(self, x):
        return (x.reshape(len(x), -1),)


class _FakeModel:
    vision = _Flat()
    audio = _Flat()


def test_clip_retrieval_counts_the_own_second_against_chance() -> None:
    from engine.data.tower_cache import TowerFeatures
    from engine.training.heads import clip_retrieval

    n = 40
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((n, 16)).astype(np.float32)
    tf = TowerFeatures(np.arange(n), audio[:, :, None, None].astype(np.float16), audio, np.array(["v"] * n), np.arange(n),
                       np.array(["test"] * n), np.ones(n))
    res = clip_retrieval(_FakeModel(), tf, np.arange(n), n=30)
    assert res["n"] == 30 and res["R@1"] == 1.0 and res["R@10"] == 1.0 and res["median_rank"] == 1.0
    assert res["chance R@1"] == pytest.approx(1 / 30) and res["chance R@10"] == pytest.approx(10 / 30)
    tf.audio = audio[rng.permutation(n)]  # sounds no longer belong to their pictures
    shuffled = clip_retrieval(_FakeModel(), tf, np.arange(n), n=30)
    assert shuffled["R@1"] < 0.2 and shuffled["median_rank"] > 3


def test_a_game_held_out_of_training_keeps_its_val_and_test(corpus, tmp_path) -> None:
    from engine.errors import DatasetError
    from engine.training.per_game import games_of, hold_out_game

    _, _, data = corpus
    tf = load_tower_features(data)
    ids = sorted(set(tf.video_ids.tolist()))
    csv_path = tmp_path / "corpus.csv"
    csv_path.write_text("clip,game\n" + "".join(f"clips/{v}.mp4,{'alpha' if int(v[4:]) < 5 else 'beta'}\n" for v in ids))
    games = games_of(csv_path, ids)
    assert games == {v: "alpha" if int(v[4:]) < 5 else "beta" for v in ids}
    beta = np.array([games[v] == "beta" for v in tf.video_ids.tolist()])
    before = tf.splits.copy()
    moved = hold_out_game(tf, games, "beta")
    assert moved == int((beta & (before == "train")).sum()) > 0
    assert set(tf.splits[beta & (before == "train")].tolist()) == {"heldout"} and "train" not in set(tf.splits[beta].tolist())
    np.testing.assert_array_equal(tf.splits[~beta], before[~beta])  # the other game is untouched
    np.testing.assert_array_equal(tf.splits[beta & (before != "train")], before[beta & (before != "train")])
    with pytest.raises(DatasetError, match="no video of game 'gamma'"):
        hold_out_game(tf, games, "gamma")


def test_a_silent_video_gets_an_empty_cache_file_and_is_not_redone(tmp_path) -> None:
    videos, data = tmp_path / "clips", tmp_path / "data"
    videos.mkdir()
    synthetic.write_video(videos / "loud.mp4", synthetic.random_events(3, seed=1), seed=1)
    synthetic.write_video(videos / "quiet.mp4", [None] * 3, seed=2)
    prepare_dataset(videos, data, workers=0, split_ratios=(1, 0, 0), progress=False)
    folder = build_tower_cache(data, workers=0, silence_rms=0.01)
    assert sorted(f.name for f in folder.glob("*.npz")) == ["loud.npz", "quiet.npz"]
    with np.load(folder / "quiet.npz") as empty:
        assert len(empty["rows"]) == 0
    tf = load_tower_features(data)
    assert set(tf.video_ids.tolist()) == {"loud"} and len(tf.rows) == 3
    said = []
    build_tower_cache(data, workers=0, silence_rms=0.01, progress=said.append)
    assert said == ["0 videos to do, 0 seconds"]


def test_train_heads_command_with_games_and_a_game_left_out(corpus, tmp_path) -> None:
    """The CLI end to end: two games named by a corpus CSV, one left out, per-game figures written."""
    import json

    from typer.testing import CliRunner

    from engine.cli import app

    videos, library, data = corpus
    ids = sorted({p.stem for p in videos.glob("*.mp4")})
    games = tmp_path / "corpus.csv"
    games.write_text("clip,game\n" + "".join(f"{v}.mp4,{'alpha' if int(v[4:]) < 5 else 'beta'}\n" for v in ids))
    libraries = tmp_path / "libraries"
    libraries.mkdir()
    (libraries / "alpha").symlink_to(library, target_is_directory=True)
    out = tmp_path / "run"
    args = ["train-heads", "-d", str(data), "--videos", str(videos), "--library", str(libraries / "alpha"), "-o", str(out),
            "--preset", "m5", "--epochs", "5", "--batch-size", "8", "--games", str(games), "--libraries", str(libraries),
            "--hold-out-game", "beta"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "beta: " in result.output and "seconds left out of training" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["held_out_games"] == ["beta"] and set(report["per_game"]) == {"alpha", "beta"}
    for split in ("val", "test"):  # the upper bound beside the picture's figures
        bound, picture = report[split]["own sound (upper bound)"], report[split]["picture only"]
        assert bound["sample"]["10"] >= picture["sample"]["10"] and "own sound + prior (upper bound)" in report[split]
    per_game = report["per_game"]
    beta_videos = {v for v in ids if int(v[4:]) >= 5}
    assert per_game["beta"]["train_seconds"] == 0 and per_game["alpha"]["train_seconds"] > 0
    assert sum(per_game["beta"][s]["videos"] for s in ("val", "test", "heldout") if s in per_game["beta"]) == len(beta_videos)
    assert all("library task" not in part for s, part in per_game["beta"].items() if s != "train_seconds")  # no library for beta
    held = per_game["beta"]["heldout"]["clip retrieval"]
    assert 0.0 <= held["R@1"] <= held["R@10"] <= 1.0 and held["chance R@10"] == pytest.approx(min(1.0, 10 / held["n"]))
    alpha_held = [per_game["alpha"][s] for s in ("val", "test") if s in per_game["alpha"]]
    assert alpha_held and all("library task" in p for p in alpha_held)
    task = alpha_held[0]["library task"]
    assert task["library files"] == len(synthetic.CLASSES) and task["queries"] > 0
    assert {"chance (uniform)", "popularity (training labels, image-blind)", "picture only", "chosen ranking"} <= set(task)
    table = (out / "per_game.md").read_text()
    assert (out / "best.pt").is_file() and "| beta | heldout |" in table and table.count("| alpha |") == len(alpha_held)
    no_games = [a for i, a in enumerate(args) if a != "--games" and (i == 0 or args[i - 1] != "--games")]
    bad = CliRunner().invoke(app, no_games)
    assert bad.exit_code != 0 and "needs --games" in str(bad.exception or bad.output)


def test_the_own_sound_bound_ranks_by_each_seconds_recorded_sound() -> None:
    """``by_own_sound``: each second queries with its recorded sound, not its picture (here pure noise)."""
    from engine.evaluation.library_eval import LabelledSecond, LibraryEntry
    from engine.training.heads import LibraryFeatures, LibraryTask, References

    rng = np.random.default_rng(1)
    n_files, n_q = 12, 36
    feats = rng.standard_normal((n_files, 16)).astype(np.float32)
    lib = LibraryFeatures([LibraryEntry(Path(f"s{i}.wav"), f"c{i}") for i in range(n_files)], np.arange(n_files), feats)
    targets = np.arange(n_q) % n_files
    queries = [LabelledSecond("v", k, [int(t)]) for k, t in enumerate(targets)]
    sounds = feats[targets] + 0.1 * rng.standard_normal((n_q, 16)).astype(np.float32)
    pictures = rng.standard_normal((n_q, 16, 1, 1)).astype(np.float16)
    task = LibraryTask("test", queries, pictures, np.zeros(n_files), sounds)
    refs = References(rng.standard_normal((8, 16)).astype(np.float32), rng.standard_normal((8, 16)).astype(np.float32))
    rc = RankingCfg(0.1)
    own = evaluate_task(_FakeModel(), lib, task, refs, [rc], by_own_sound=True)[rc]
    picture = evaluate_task(_FakeModel(), lib, task, refs, [rc])[rc]
    assert own["sample"]["1"] == 1.0
    assert picture["sample"]["1"] < 0.4
    with pytest.raises(ValueError, match="no recorded sounds"):
        evaluate_task(_FakeModel(), lib, LibraryTask("test", queries, pictures, np.zeros(n_files)), refs, [rc], by_own_sound=True)
