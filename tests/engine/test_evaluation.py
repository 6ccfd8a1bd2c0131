"""Evaluator: metrics on hand-built distances, chance levels, the evaluate() pipeline, reports and errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from engine.errors import CheckpointError, ConfigError
from engine.evaluation import compare, evaluate, load_eval, metrics, render, write_eval
from engine.evaluation.report import ReportError
from engine.models import AVModel
from tests.engine.training_data import FEATURES, tiny_model, write_class_cache

DIST = np.array(
    [
        [0.1, 0.5, 0.9, 0.3],
        [0.2, 0.8, 0.1, 0.4],
        [0.5, 0.4, 0.3, 0.2],
        [0.9, 0.8, 0.7, 0.6],
    ]
)
LABELS = np.array(["a", "b", "a", "b"])


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_ranks_topk_and_median_on_known_distances() -> None:
    assert metrics.target_ranks(DIST, np.arange(4)).tolist() == [1, 4, 2, 1]
    r = metrics.ranking_metrics(DIST, np.arange(4), LABELS, ks=(1, 2, 3))
    assert r["sample"]["topk"] == {1: 0.5, 2: 0.75, 3: 0.75}
    assert r["sample"]["median_rank"] == 1.5 and r["sample"]["mean_rank"] == 2.0
    # best rank of a same-label clip per frame: [1, 3, 2, 1]
    assert r["category"]["topk"] == {1: 0.5, 2: 0.75, 3: 1.0}
    assert r["category"]["median_rank"] == 1.5
    assert r["category"]["recall"][2] == pytest.approx(0.375)
    assert r["category"]["n_categories"] == 2


def test_ranking_from_hand_built_embeddings() -> None:
    """Unit vectors at known angles: frame i's own clip sits at a known rank."""
    ang = np.deg2rad([0.0, 90.0, 180.0, 270.0])
    clips = np.stack([np.cos(ang), np.sin(ang)], 1)  # (4, 2) on the unit circle
    # frame 0 at its clip; frame 1 nearer clip 2 than its own; frame 2 exactly opposite its clip; frame 3 at clip 0
    frames = np.stack([clips[0], np.array([np.cos(np.deg2rad(150)), np.sin(np.deg2rad(150))]), -clips[2], clips[0]])
    r = metrics.ranking_metrics(metrics.pairwise_distances(frames, clips), np.arange(4), np.array(["x", "y", "x", "y"]), ks=(1, 2))
    # own-clip ranks: 1; 2 (at 150 deg clip 2 is 30 deg away, clip 1 60); 4 (opposite); 3 (clip 0 first, then the
    # tie at 90 deg between clips 1 and 3 broken by list position)
    assert metrics.target_ranks(metrics.pairwise_distances(frames, clips), np.arange(4)).tolist() == [1, 2, 4, 3]
    assert r["sample"]["topk"] == {1: 0.25, 2: 0.5}
    assert r["sample"]["median_rank"] == 2.5


def test_ties_rank_by_list_position_and_unlabelled_lists_have_no_category() -> None:
    flat = np.ones((3, 3))
    assert metrics.target_ranks(flat, np.array([0, 1, 2])).tolist() == [1, 2, 3]
    assert metrics.ranking_metrics(flat, np.arange(3), np.array(["x", "", "y"]))["category"] is None
    assert metrics.ranking_metrics(flat, np.arange(3), None)["category"] is None


def test_chance_levels_are_exact() -> None:
    c = metrics.chance_metrics(4, np.arange(4), LABELS, ks=(1, 2, 5))
    assert c["sample"]["topk"] == {1: 0.25, 2: 0.5, 5: 1.0}
    assert c["sample"]["median_rank"] == 2.5
    assert c["category"]["topk"][1] == pytest.approx(0.5)
    assert c["category"]["topk"][2] == pytest.approx(5 / 6)  # 1 - C(2,2)/C(4,2)
    assert c["category"]["recall"][2] == pytest.approx(0.5)


def test_chance_matches_random_rankings() -> None:
    rng = np.random.default_rng(0)
    labels = np.array(list("aaabbcdddd"))
    targets = np.arange(10)
    expected = metrics.chance_metrics(10, targets, labels, ks=(1, 3))
    sims = [metrics.ranking_metrics(rng.random((10, 10)), targets, labels, ks=(1, 3)) for _ in range(3000)]
    for level in ("sample", "category"):
        for k in (1, 3):
            got = np.mean([s[level]["topk"][k] for s in sims])
            assert got == pytest.approx(expected[level]["topk"][k], abs=0.015)
    got_med = np.median([s["category"]["median_rank"] for s in sims])
    assert abs(got_med - expected["category"]["median_rank"]) <= 1


def test_correlation_accuracy_and_threshold() -> None:
    assert metrics.correlation_accuracy(np.array([1.0, -1.0, 0.5, -0.2]), np.array([1, 0, 0, 0])) == 0.75
    d = np.array([0.1, 0.2, 0.3, 0.9, 1.0, 0.25])
    y = np.array([1, 1, 0, 0, 0, 1])
    t, acc = metrics.best_threshold(d, y)
    assert t == pytest.approx(0.275) and acc == 1.0
    with pytest.raises(ValueError):
        metrics.correlation_accuracy(np.zeros(2), np.zeros(3))


def test_roc_auc_matches_pairwise_counting_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, 200).astype(float)  # many ties
    labels = rng.integers(0, 2, 200)
    pos, neg = scores[labels == 1], scores[labels == 0]
    brute = np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))
    assert metrics.roc_auc(scores, labels) == pytest.approx(brute, abs=1e-12)
    assert metrics.roc_auc(np.array([3.0, 2.0, 1.0, 0.0]), np.array([1, 1, 0, 0])) == 1.0
    assert metrics.roc_auc(np.array([3.0, 2.0, 1.0, 0.0]), np.array([0, 0, 1, 1])) == 0.0
    # shifting every score (another calibration threshold) changes accuracy but not the AUC
    assert metrics.roc_auc(scores - 2.5, labels) == metrics.roc_auc(scores, labels)
    with pytest.raises(ValueError, match="both classes"):
        metrics.roc_auc(np.zeros(3), np.ones(3))


def test_typicality_prefers_common_sounds() -> None:
    rng = np.random.default_rng(1)
    ref = np.concatenate([rng.normal([1, 0], 0.05, (40, 2)), rng.normal([0, 1], 0.05, (4, 2))])
    score = metrics.typicality(np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]]), ref)
    assert score[1] > score[0] > score[2]


def test_pairwise_distances_match_torch() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(7, 3))
    np.testing.assert_allclose(metrics.pairwise_distances(a, b), torch.cdist(torch.tensor(a), torch.tensor(b)).numpy(), atol=1e-9)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_class_cache(tmp_path_factory.mktemp("eval") / "data", {"train": (6, 4), "val": (6, 2), "test": (6, 3)})


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "best.pt"
    AVModel(tiny_model("m3"), FEATURES).save(path, extra={"preset": "m3", "variant": "full", "train_cfg": {"negatives": "label", "min_gap_s": 5}})
    return path


def test_evaluate_pipeline(data: Path, model_file: Path, tmp_path: Path) -> None:
    ev = evaluate(model_file, data, n_pairs=20, per_video=2, seed=3)
    assert ev["format"] == "foley-eval" and ev["preset"] == "m3" and ev["split"] == "test"
    assert ev["correlation"]["n_pairs"] == 20 and ev["correlation"]["negatives"] == "label"
    assert 0.0 <= ev["correlation"]["accuracy"] <= 1.0 and 0.0 <= ev["correlation"]["auc"] <= 1.0
    rec = ev["recommendation"]
    assert rec["n_frames"] == rec["list_size"] == 12 and rec["labelled"]
    assert rec["chance"]["sample"]["topk"]["1"] == pytest.approx(1 / 12)
    assert rec["chance"]["sample"]["topk"]["10"] == pytest.approx(10 / 12)
    assert rec["chance"]["sample"]["median_rank"] == 6.5
    for block in (rec["model"], rec["image_blind"]):
        top = block["sample"]["topk"]
        assert top["1"] <= top["5"] <= top["10"] <= 1.0
        assert block["category"]["topk"]["1"] >= top["1"]  # the own clip is a same-label clip
    # the image-blind ranking offers the same list to every frame: exactly one frame hits at top-1
    assert rec["image_blind"]["sample"]["topk"]["1"] == pytest.approx(1 / 12)
    again = evaluate(model_file, data, n_pairs=20, per_video=2, seed=3)
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in ev.items() if k != "seconds"}

    json_path, md_path = write_eval(ev, tmp_path / "out")
    assert json.loads(json_path.read_text()) == ev
    md = md_path.read_text()
    assert "| Encoder | Loss | Acc (%) | ROC AUC (%, threshold-free) |" in md and "| m3 | attention |" in md
    assert f"| {100 * ev['correlation']['auc']:.1f} |" in md
    assert "| image-blind |" in md and "| chance | - | - | uniform random ranking | " in md
    assert "8.3 / 41.7 / 83.3" in md  # chance sample-level top-1/5/10 of a 12-clip list


def test_compare_and_load(data: Path, model_file: Path, tmp_path: Path) -> None:
    ev = evaluate(model_file, data, n_pairs=20)
    write_eval(ev, tmp_path / "runA")
    other = dict(ev, preset="m5", model=dict(ev["model"], loss="infonce", projector="linear"))
    write_eval(other, tmp_path / "runB" / "eval")  # RUN/eval/eval.json is found too
    table = compare([tmp_path / "runA", tmp_path / "runB", tmp_path / "runA" / "eval.json"])
    lines = table.strip().splitlines()
    assert len(lines) == 5
    assert lines[2].startswith("| runA | m3 | attention | linear (distance FC) | BCE+margin-contrastive |")
    assert lines[3].startswith("| runB | m5 | attention | linear | InfoNCE |")
    assert lines[4].startswith("| runA | m3 |")
    assert load_eval(tmp_path / "runA")["model_id"] == ev["model_id"]
    with pytest.raises(ReportError, match="no eval.json"):
        load_eval(tmp_path / "missing")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ReportError, match="not an evaluation file"):
        load_eval(tmp_path / "bad.json")
    assert "Category-level accuracy needs labels" in render(dict(ev, recommendation=dict(ev["recommendation"], model=dict(ev["recommendation"]["model"], category=None))))


def test_evaluate_errors(data: Path, model_file: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        evaluate(tmp_path / "none.pt", data)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    with pytest.raises(CheckpointError):
        evaluate(bad, data)
    other = tmp_path / "other.pt"
    AVModel(tiny_model("m1"), replace(FEATURES, image_size=96)).save(other)
    with pytest.raises(CheckpointError, match="feature settings"):
        evaluate(other, data)


def test_cli_evaluate_and_compare(data: Path, model_file: Path, tmp_path: Path) -> None:
    from engine.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["evaluate", "-c", str(model_file), "-d", str(data), "--pairs", "20", "--device", "cpu", "--out", str(tmp_path / "e1")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "e1" / "eval.json").exists() and "## (b) Top-k recommendation accuracy" in r.output
    r = runner.invoke(app, ["evaluate", "--compare", str(tmp_path / "e1"), str(tmp_path / "e1" / "eval.json")])
    assert r.exit_code == 0, r.output
    assert r.output.count("| e1 | m3 |") == 2
    r = runner.invoke(app, ["evaluate"])
    assert isinstance(r.exception, ConfigError)
    r = runner.invoke(app, ["evaluate", "-c", str(model_file)])
    assert isinstance(r.exception, ConfigError) and "--data" in str(r.exception)


def test_prior_ranking_moves_from_model_to_image_blind(data: Path, model_file: Path) -> None:
    plain = evaluate(model_file, data, n_pairs=20, per_video=2)
    assert plain["recommendation"]["model_with_prior"] is None
    tiny = evaluate(model_file, data, n_pairs=20, per_video=2, prior_weight=1e-9)["recommendation"]
    huge = evaluate(model_file, data, n_pairs=20, per_video=2, prior_weight=1e9)["recommendation"]
    assert tiny["model_with_prior"] == tiny["model"]  # a negligible prior keeps the model's order
    assert huge["model_with_prior"] == huge["image_blind"]  # a dominant prior is the image-blind order
    assert "| m3 + prior (w=1e+09) |" in render(evaluate(model_file, data, n_pairs=20, per_video=2, prior_weight=1e9))


def test_chunked_ranking_equals_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    dist, labels = rng.random((37, 37)), rng.choice(list("abcd"), 37)
    whole = metrics.ranking_metrics(dist, np.arange(37), labels)
    monkeypatch.setattr(metrics, "RANK_CHUNK", 5)
    chunked = metrics.ranking_metrics(dist, np.arange(37), labels)
    assert chunked["sample"] == whole["sample"] and chunked["category"]["topk"] == whole["category"]["topk"]
    for k, v in whole["category"]["recall"].items():
        assert chunked["category"]["recall"][k] == pytest.approx(v)
