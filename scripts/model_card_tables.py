#!/usr/bin/env python3
"""Print the model card's result tables (Table 1 layout) from committed evaluation files.

    python scripts/model_card_tables.py resources/models/eval/m5 resources/models/eval/m1 ...
    python scripts/model_card_tables.py --heads resources/models/eval/more-games/*.json  # train-heads runs
    python scripts/model_card_tables.py --corpus scripts/recording/corpus.csv          # the data table

Each folder holds ``eval.json`` (foley-engine evaluate) and ``library_eval.json`` (foley-engine
evaluate-library on the test split; ``library_eval_val.json`` on the validation split), or, with
``--heads``, the ``report.json`` of ``foley-engine train-heads`` (a run folder, or the file under another name). Numbers are copied, never recomputed.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

LOSS = {"bce": "BCE", "bce_margin": "BCE+margin", "infonce": "InfoNCE", "ntxent": "NT-Xent"}
PROJ = {"distance": "linear (distance FC)", "linear": "linear", "mlp": "2-layer MLP"}


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def tk(block: dict, level: str) -> str:
    sub = (block or {}).get(level) or {}
    t = sub.get("topk", sub)
    return " / ".join(pct(t.get(k)) for k in ("1", "5", "10")) if t else "n/a"


def library_table(dirs: list[str], file: str, title: str) -> None:
    """One table of ``foley-engine evaluate-library`` results: baselines once, then each run's rankings."""
    libs = [(Path(d).name, json.loads((Path(d) / file).read_text())) for d in dirs if (Path(d) / file).exists()]
    if not libs:
        return
    l0 = libs[0][1]
    print(f"### {title} ({l0['queries']} labelled seconds, {l0['library']['files']} library files, "
          f"{l0['library']['categories']} categories)\n")
    print("| run / ranking | Sample-level top-1 / 5 / 10 (%) | Category-level top-1 / 5 / 10 (%) | distinct top-10 lists |\n|---|---|---|---|")
    shown_baselines = False
    for name, rep in libs:
        for rname, res in rep["rankings"].items():
            is_model = rname.startswith("model") or rname.startswith("prior-audio")  # prior-audio uses the run's audio encoder
            if not is_model and shown_baselines:
                continue
            label = f"{name}: {rname}" if is_model else rname
            div = f"{rep['diversity']['distinct_topk_lists']} of {rep['diversity']['queries']}" if rname == "model" else ""
            s = " / ".join(pct(res["sample"][k]) for k in ("1", "5", "10"))
            c = " / ".join(pct(res["category"][k]) for k in ("1", "5", "10"))
            print(f"| {label} | {s} | {c} | {div} |")
        shown_baselines = True
    print()


GAMES = {"wesnoth": "Battle for Wesnoth", "openarena": "OpenArena", "warzone2100": "Warzone 2100", "hedgewars": "Hedgewars",
         "openttd": "OpenTTD", "armagetronad": "Armagetron Advanced", "freedoom": "Freedoom"}


def corpus_table(manifest: str) -> None:
    """The model card's data table from the recorder's manifest: clips, hours and splits per game."""
    per_game: dict[str, Counter] = defaultdict(Counter)
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f):
            c = per_game[row["game"]]
            c["clips"] += 1
            c["seconds"] += float(row["seconds"])
            c[row["split"]] += 1
    print("| game | clips | hours | train / val / test clips |\n|---|---|---|---|")
    for game, c in sorted(per_game.items(), key=lambda kv: -kv[1]["seconds"]):
        print(f"| {GAMES.get(game, game)} | {c['clips']} | {c['seconds'] / 3600:.2f} | {c['train']} / {c['val']} / {c['test']} |")
    total = sum(c["seconds"] for c in per_game.values()) / 3600
    print(f"| **all** | **{sum(c['clips'] for c in per_game.values())}** | **{total:.2f}** | |")


CHOSEN = "chosen (hubness fix + prior)"


def heads_table(dirs: list[str]) -> None:
    """One row per ``train-heads`` run: its chosen epoch and ranking, and the library task on the
    validation and test clips (top-10 / top-3, their sum, the #1 share pooled and within a video)."""
    print("| run | best epoch, setting | val top-10 / top-3 | val sum | val #1 share pooled / within a video "
          "| test top-10 / top-3 | test sum |\n|---|---|---|---|---|---|---|")
    for d in dirs:
        path = Path(d) / "report.json" if Path(d).is_dir() else Path(d)
        rep = json.loads(path.read_text())
        name = Path(d).name if Path(d).is_dir() else path.stem
        v, t, rc = rep["val"][CHOSEN], rep["test"][CHOSEN], rep["ranking"]
        print(f"| {name} | {rep['best_epoch']}, hub {rc['hub_weight']:g}, prior {rc['prior_weight']:g} "
              f"| {pct(v['sample']['10'])} / {pct(v['sample']['3'])} | {100 * (v['sample']['10'] + v['sample']['3']):.1f} "
              f"| {pct(v['top1_share'])} / {pct(v.get('top1_share_per_video'))} % "
              f"| {pct(t['sample']['10'])} / {pct(t['sample']['3'])} | {100 * (t['sample']['10'] + t['sample']['3']):.1f} |")


def main(dirs: list[str]) -> int:
    if dirs[:1] == ["--corpus"]:
        corpus_table(dirs[1])
        return 0
    if dirs[:1] == ["--heads"]:
        heads_table(dirs[1:])
        return 0
    evals = [(Path(d).name, json.loads((Path(d) / "eval.json").read_text())) for d in dirs if (Path(d) / "eval.json").exists()]
    if evals:
        ev0 = evals[0][1]
        print(f"### (a) A-V correlation accuracy ({ev0['correlation']['n_pairs']} balanced test pairs, split `{ev0['split']}`)\n")
        print("| run | Encoder | Projector | Loss | Acc (%) | ROC AUC (%) |\n|---|---|---|---|---|---|")
        for name, ev in evals:
            m, c = ev["model"], ev["correlation"]
            print(f"| {name} | {m['encoder']} | {PROJ.get(m['projector'], m['projector'])} | {LOSS.get(m['loss'], m['loss'])} | {pct(c['accuracy'])} | {pct(c.get('auc'))} |")
        print("| chance | - | - | - | 50.0 | 50.0 |\n")
        r0 = ev0["recommendation"]
        print(f"### (b) Top-k recommendation accuracy (search list of {r0['list_size']} test clips, {r0['per_video']} per video)\n")
        print("| run | Encoder | Projector | Loss | Category-level top-1 / 5 / 10 (%) | Sample-level top-1 / 5 / 10 (%) | median rank |")
        print("|---|---|---|---|---|---|---|")
        for name, ev in evals:
            m, r = ev["model"], ev["recommendation"]
            print(f"| {name} | {m['encoder']} | {PROJ.get(m['projector'], m['projector'])} | {LOSS.get(m['loss'], m['loss'])} | "
                  f"{tk(r['model'], 'category')} | {tk(r['model'], 'sample')} | {r['model']['sample']['median_rank']:.1f} |")
            if r.get("image_blind") and name == evals[0][0]:
                print(f"| image-blind (typicality of training audio, {name}'s audio encoder) | - | - | - | {tk(r['image_blind'], 'category')} | "
                      f"{tk(r['image_blind'], 'sample')} | {r['image_blind']['sample']['median_rank']:.1f} |")
        print(f"| chance | - | - | - | {tk(r0['chance'], 'category')} | {tk(r0['chance'], 'sample')} | "
              f"{r0['chance']['sample'].get('median_rank', float('nan')):.1f} |\n")
    library_table(dirs, "library_eval.json", "(c) Library recommendations vs. the sounds Wesnoth played (test maps)")
    library_table(dirs, "library_eval_val.json", "(d) The same on the validation maps (used to choose the shipped model)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
