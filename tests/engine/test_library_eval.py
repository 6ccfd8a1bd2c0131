"""Label-based library evaluation: scoring, chance, priors, label parsing, and the end-to-end command."""

from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from engine.errors import DatasetError
from engine.evaluation import library_eval as le

LIB = [
    le.LibraryEntry(Path("/lib/sword/sword-1.ogg"), "sword"),
    le.LibraryEntry(Path("/lib/sword/sword-2.ogg"), "sword"),
    le.LibraryEntry(Path("/lib/bow/bow.ogg"), "bow"),
    le.LibraryEntry(Path("/lib/miss/miss-1.ogg"), "miss"),
    le.LibraryEntry(Path("/lib/ambient/wind.ogg"), "ambient"),
]


def test_read_labels_parses_seconds_and_lists(tmp_path: Path) -> None:
    p = tmp_path / "c_labels.tsv"
    p.write_text("0\t\n1\tsword-1.ogg;bow.ogg\n2\tambient/wind.ogg\n\n")
    assert le.read_labels(p) == {0: [], 1: ["sword-1.ogg", "bow.ogg"], 2: ["ambient/wind.ogg"]}


def test_read_labels_bad_line_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "c_labels.tsv"
    p.write_text("zero\tsword-1.ogg\n")
    with pytest.raises(DatasetError, match=r"c_labels.tsv:1"):
        le.read_labels(p)


def test_build_queries_maps_names_skips_ambient_and_counts_missing() -> None:
    labels = {"c": {0: [], 1: ["sword-1.ogg", "nothere.wav"], 2: ["ambient/wind.ogg"], 3: ["bow.ogg", "bow.ogg"]}}
    queries, missing = le.build_queries(labels, LIB)
    assert [(q.second, q.targets) for q in queries] == [(1, [0]), (3, [2])]
    assert missing == {"nothere.wav": 1}
    queries, _ = le.build_queries(labels, LIB, exclude_prefixes=())
    assert [(q.second, q.targets) for q in queries] == [(1, [0]), (2, [4]), (3, [2])]


def test_score_rankings_sample_and_category_levels() -> None:
    queries = [le.LabelledSecond("c", 1, [0]), le.LabelledSecond("c", 2, [2])]
    rankings = [[1, 0, 3], [3, 4, 0]]  # q1: sword-2 (same category) then the target; q2: target absent
    res = le.score_rankings(queries, rankings, LIB, ks=(1, 2))
    assert res["sample"] == {"1": 0.0, "2": 0.5}
    assert res["category"] == {"1": 0.5, "2": 0.5}
    with pytest.raises(ValueError):
        le.score_rankings(queries, rankings[:1], LIB)


def _brute_force_chance(n: int, marked: set[int], k: int) -> float:
    subsets = list(combinations(range(n), k))
    return sum(1 for s in subsets if marked & set(s)) / len(subsets)


def test_chance_is_exact_against_enumeration() -> None:
    queries = [le.LabelledSecond("c", 1, [0]), le.LabelledSecond("c", 2, [2, 3])]
    res = le.chance_scores(queries, LIB, ks=(1, 2, 5))
    for k in (1, 2, 5):
        want_s = np.mean([_brute_force_chance(5, {0}, k), _brute_force_chance(5, {2, 3}, k)])
        # categories: q1 -> sword {0, 1}; q2 -> bow + miss {2, 3}
        want_c = np.mean([_brute_force_chance(5, {0, 1}, k), _brute_force_chance(5, {2, 3}, k)])
        assert math.isclose(res["sample"][str(k)], want_s, abs_tol=1e-12)
        assert math.isclose(res["category"][str(k)], want_c, abs_tol=1e-12)
    assert res["sample"]["5"] == 1.0


def test_label_prior_ranking_and_rerank() -> None:
    train = {"a": {0: ["miss-1.ogg"], 1: ["miss-1.ogg", "bow.ogg"], 2: ["ambient/wind.ogg"]}, "b": {5: ["miss-1.ogg"]}}
    prior = le.label_prior(train, LIB)
    assert prior.tolist() == [0, 0, 1, 3, 0]
    assert le.prior_ranking(prior, 3) == [3, 2, 0]  # ties keep library order
    cands = [(0, 0.50), (3, 0.52), (2, 0.60)]
    assert le.rerank_with_prior(cands, prior, 0.0, 3) == [0, 3, 2]
    assert le.rerank_with_prior(cands, prior, 0.05, 2) == [3, 0]  # 0.52 - 0.05*log(4) < 0.50


def test_diversity_counts_distinct_lists() -> None:
    d = le.diversity([[0, 1], [0, 2], [0, 1]], k=2)
    assert d == {"distinct_top1": 1, "distinct_in_topk": 3, "distinct_topk_lists": 2, "queries": 3}


def test_write_report_json_and_markdown(tmp_path: Path) -> None:
    queries = [le.LabelledSecond("c", 1, [0])]
    report = {
        "ks": [1, 5, 10], "library": {"files": 5, "categories": 4}, "queries": 1, "clips": ["c"],
        "split_source": "test", "checkpoint": "m.pt", "model_id": "abc",
        "rankings": {"chance (uniform)": le.chance_scores(queries, LIB), "model": le.score_rankings(queries, [[0]], LIB)},
        "diversity": le.diversity([[0]]), "missing_labels": {},
    }
    j, m = le.write_report(report, tmp_path / "out")
    assert json.loads(j.read_text())["rankings"]["model"]["sample"]["1"] == 1.0
    md = m.read_text()
    assert "| model | 100.0% |" in md and "| chance (uniform) | 20.0% |" in md
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_find_label_files_pairs_videos(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "a_labels.tsv").write_text("0\t\n")
    (tmp_path / "b_labels.tsv").write_text("0\t\n")  # no video: skipped
    assert set(le.find_label_files(tmp_path, "*_labels.tsv")) == {"a"}
    with pytest.raises(DatasetError):
        le.find_label_files(tmp_path / "nope", "*_labels.tsv")


# ------------------------------------------------------------------ end to end on a generated setup
@pytest.fixture(scope="module")
def labelled_setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """3 clips (2 train, 1 test) with label files, a prepared dataset, a folder-per-category library,
    a tiny m5 model and its index: everything ``evaluate-library`` reads."""
    from dataclasses import replace

    import torch

    from engine.api import index_library
    from engine.data import synthetic
    from engine.models import AVModel
    from engine.presets import get_preset

    root = tmp_path_factory.mktemp("libeval")
    data = synthetic.write_feature_cache(root / "dataset", n_videos=3, seconds=8, splits=["train", "train", "test"], seed=3)
    clips = root / "clips"
    clips.mkdir()
    events = {}
    for vid in ("vid000", "vid001", "vid002"):
        ev = json.loads((data / "shards" / vid / "meta.json").read_text())["events"]
        events[vid] = [e or None for e in ev]
        synthetic.write_video(clips / f"{vid}.mp4", events[vid], seed=1)
        # the "game" started <class>_00.wav for each event, plus a file the library does not hold
        lines = [f"{k}\t" + (f"{e}_00.wav;ambient/wind.ogg" if e else "") for k, e in enumerate(events[vid])]
        (clips / f"{vid}_labels.tsv").write_text("\n".join(lines) + "\n")
    synthetic.write_sound_library(root / "library", per_class=1)  # 6 files, one per class
    torch.manual_seed(0)
    model = AVModel(replace(get_preset("m5"), vision_channels=(4, 8, 8, 16), audio_channels=(4, 8, 8, 16), image_size=32, fc_hidden=32))
    ckpt = root / "model.pt"
    model.save(ckpt)
    model = AVModel.load(ckpt)
    index_library([root / "library"], model, root / "db", workers=0, progress=False)
    return {"root": root, "data": data, "clips": clips, "ckpt": ckpt, "db": root / "db", "events": events}


def test_run_library_eval_end_to_end(labelled_setup: dict) -> None:
    s = labelled_setup
    rep = le.run_library_eval(s["ckpt"], s["clips"], s["db"], split_from=s["data"])
    test_events = [e for e in s["events"]["vid002"] if e]
    assert rep["clips"] == ["vid002"] and rep["train_clips"] == 2
    assert rep["queries"] == len(test_events)
    n_files = rep["library"]["files"]
    assert n_files == len(list((s["root"] / "library").rglob("*.wav")))
    res = rep["rankings"]
    assert math.isclose(res["chance (uniform)"]["sample"]["1"], 1 / n_files)
    # the library is smaller than 10 files: every ranking that lists all files hits at 10
    assert res["model"]["sample"]["10"] == 1.0 and res["model"]["category"]["10"] == 1.0
    # the label prior offers the most frequent training file for every frame
    train_counts: dict[str, int] = {}
    for vid in ("vid000", "vid001"):
        for e in {(k, e) for k, e in enumerate(s["events"][vid]) if e}:
            train_counts[e[1]] = train_counts.get(e[1], 0) + 1
    top = max(sorted(train_counts), key=lambda c: train_counts[c])
    assert rep["most_frequent_training_files"][0] == f"{top}_00.wav"
    want = sum(e == top for e in test_events) / len(test_events)
    assert math.isclose(res["prior-labels (image-blind)"]["sample"]["1"], want)
    assert "prior-audio (image-blind, self-supervised)" in res
    for r in res.values():
        for level in ("sample", "category"):
            assert 0.0 <= r[level]["1"] <= r[level]["5"] <= r[level]["10"] <= 1.0
    assert rep["missing_labels"] == {}  # ambient/ starts are left out, not missing
    assert rep["diversity"]["queries"] == rep["queries"]


def test_evaluate_library_cli_writes_reports(labelled_setup: dict, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from engine.cli import app

    s = labelled_setup
    out = tmp_path / "rep"
    result = CliRunner().invoke(app, ["evaluate-library", "--checkpoint", str(s["ckpt"]), "--videos", str(s["clips"]),
                                      "--library-db", str(s["db"]), "--split-from", str(s["data"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rep = json.loads((out / "library_eval.json").read_text())
    assert rep["queries"] > 0 and "| model |" in (out / "library_eval.md").read_text()


def test_no_test_clips_is_a_clear_error(labelled_setup: dict) -> None:
    s = labelled_setup
    with pytest.raises(DatasetError, match="no labelled clips in split"):
        le.run_library_eval(s["ckpt"], s["clips"], s["db"], split_from=s["data"], split="val")
