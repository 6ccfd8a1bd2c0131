"""scripts/model_card_tables.py: the data table from the corpus manifest and the train-heads runs' table."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "model_card_tables.py"


def _tables():
    spec = importlib.util.spec_from_file_location("model_card_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_corpus_table_counts_clips_hours_and_splits_per_game_longest_first(tmp_path, capsys):
    csv = tmp_path / "corpus.csv"
    csv.write_text("clip,game,map_or_scenario,seed,seconds,split,sha256,recipe_version,view\n"
                   "a.mp4,hedgewars,Bath,1,1800,train,x,r1,default\n"
                   "b.mp4,wesnoth,m1,2,3600,train,x,r1,default\n"
                   "c.mp4,wesnoth,m2,3,3600,val,x,r1,zoom2x\n"
                   "d.mp4,hedgewars,Cave,4,1800,test,x,r1,default\n"
                   "e.mp4,openttd,r00,5,360,train,x,r1,default\n")
    _tables().corpus_table(str(csv))
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "| Battle for Wesnoth | 2 | 2.00 | 1 / 1 / 0 |"
    assert lines[3] == "| Hedgewars | 2 | 1.00 | 1 / 0 / 1 |"
    assert lines[4] == "| OpenTTD | 1 | 0.10 | 1 / 0 / 0 |"
    assert lines[5] == "| **all** | **5** | **3.10** | |"


def _report(val10: float, val3: float, test10: float, test3: float) -> dict:
    block = lambda s10, s3: {"sample": {"10": s10, "3": s3}, "top1_share": 0.25, "top1_share_per_video": 0.5}  # noqa: E731
    return {"best_epoch": 25, "ranking": {"hub_weight": 0.5, "prior_weight": 1.5},
            "val": {"chosen (hubness fix + prior)": block(val10, val3)},
            "test": {"chosen (hubness fix + prior)": block(test10, test3)}}


def test_the_heads_table_prints_each_runs_choice_and_sums_from_report_json(tmp_path):
    (tmp_path / "ship-s0").mkdir()  # a run folder
    (tmp_path / "ship-s0" / "report.json").write_text(json.dumps(_report(0.409, 0.199, 0.374, 0.162)))
    (tmp_path / "ship-s1.json").write_text(json.dumps(_report(0.44, 0.179, 0.341, 0.159)))  # a copied report
    out = subprocess.run([sys.executable, str(SCRIPT), "--heads", str(tmp_path / "ship-s0"), str(tmp_path / "ship-s1.json")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[2] == "| ship-s0 | 25, hub 0.5, prior 1.5 | 40.9 / 19.9 | 60.8 | 25.0 / 50.0 % | 37.4 / 16.2 | 53.6 |"
    assert out[3].startswith("| ship-s1 | 25, hub 0.5, prior 1.5 | 44.0 / 17.9 | 61.9 |")
    assert len(out) == 4
