"""What a new user sees on the bundled demo: per-second top-k hits, hubs, diversity, and "More like this".

    .venv/bin/python scripts/measure_demo.py [--model M.pt] [--corpus CLIPS_DIR] [--out DIR]

Indexes ``resources/demo/library`` with the model (the real indexer, in a temporary folder), ranks
the library for every second of ``resources/demo/demo.mp4`` and scores the lists against
``demo_labels.tsv`` (the Wesnoth sound files the game started in each second):

* hits at top-10 and top-3, by file and by category, of the labelled seconds;
* the popularity list beside it: the 10 files the starter corpus's label files start most often
  (``--corpus``; the demo's own source clip left out), offered for every second;
* how often the most frequent #1 file is #1, and how many distinct files the top-10 lists hold;
* the spread of the shown scores;
* "More like this" on every library file whose category has another file: same-category precision@10.

Writes ``demo_eval.json`` and ``demo_eval.md`` to ``--out`` (default: resources/models/eval/demo).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.api import Recommender, SoundIndex  # noqa: E402
from engine.data.media import probe_video, read_frames_at  # noqa: E402
from engine.evaluation.library_eval import (  # noqa: E402
    LibraryEntry,
    build_queries,
    chance_scores,
    label_prior,
    prior_ranking,
    read_labels,
    score_rankings,
    top1_share,
)
from engine.library.indexer import index_library  # noqa: E402
from engine.models import AVModel  # noqa: E402

DEMO = ROOT / "resources" / "demo"
KS = (1, 3, 5, 10)


def popularity(corpus: Path | None, library: list[LibraryEntry], exclude: str) -> np.ndarray | None:
    if corpus is None or not corpus.is_dir():
        return None
    labels = {p.name[: -len("_labels.tsv")]: read_labels(p) for p in sorted(corpus.glob("*_labels.tsv"))}
    labels.pop(exclude, None)
    return label_prior(labels, library)


def more_like_this(rec: Recommender, k: int = 10) -> dict:
    """Same-category precision@k of "More like this" from the start of every file whose category has
    another file, beside chance and the ceiling (a perfect search: ``min(k, files in the category - 1) / k``)."""
    per_cat = Counter(f.category for f in rec.files)
    queried = [f for f in rec.files if per_cat[f.category] >= 2]
    precisions = []
    for f in queried:
        got = rec.similar_to_sound(f.path, 0.0, k=k)
        precisions.append(sum(c.category == f.category for c in got) / max(1, len(got)))
    chance = float(np.mean([(per_cat[f.category] - 1) / (len(rec.files) - 1) for f in queried])) if queried else 0.0
    ceiling = float(np.mean([min(k, per_cat[f.category] - 1) / k for f in queried])) if queried else 0.0
    return {"queries": len(precisions), "precision_at_10": float(np.mean(precisions)) if precisions else 0.0,
            "chance": chance, "ceiling": ceiling}


def more_like_this_in_tower_space(model, k: int = 10) -> float:
    """The same precision@k with the sound tower's own features instead of the model's 128-d sound
    embedding: each file's first second against every file's best segment, the file itself left out."""
    from engine.training.heads import library_tower_features

    lib = library_tower_features(DEMO / "library", None, model.cfg.audio_tower, model.features)
    cats = np.array([e.category for e in lib.entries])
    per_cat = Counter(cats.tolist())
    x = lib.feats.reshape(len(lib.feats), -1).astype(np.float64)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    starts = np.flatnonzero(np.r_[True, lib.seg_file[1:] != lib.seg_file[:-1]])
    precisions = []
    for i, first in enumerate(starts):
        if per_cat[cats[i]] < 2:
            continue
        best = np.full(len(cats), -np.inf)
        best[lib.seg_file[starts]] = np.maximum.reduceat(x @ x[first], starts)
        best[i] = -np.inf
        precisions.append(float(np.mean(cats[np.argsort(-best, kind="stable")[:k]] == cats[i])))
    return float(np.mean(precisions)) if precisions else 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=ROOT / "resources" / "models" / "default.pt")
    p.add_argument("--corpus", type=Path, default=None, help="folder of clips with *_labels.tsv for the popularity list")
    p.add_argument("--out", type=Path, default=ROOT / "resources" / "models" / "eval" / "demo")
    p.add_argument("--prior-weight", type=float, default=None, help="the dial (default: the model's)")
    p.add_argument("--tower-space", action="store_true",
                   help="also measure More like this in the pretrained sound tower's own feature space")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    model = AVModel.load(args.model)
    source = json.loads((DEMO / "demo.json").read_text())["source_clip"].rsplit(".", 1)[0]
    with tempfile.TemporaryDirectory(prefix="foley-demo-eval-") as tmp:
        index_library([DEMO / "library"], model, Path(tmp) / "index", workers=0, progress=False)
        with SoundIndex.open(Path(tmp) / "index", model.model_id) as index:
            rec = Recommender(model, index, prior_weight=args.prior_weight)
            library = [LibraryEntry(Path(f.path), f.category) for f in rec.files]
            pos = {e.path: i for i, e in enumerate(library)}
            labels = read_labels(DEMO / "demo_labels.tsv")
            queries, _ = build_queries({"demo": labels}, library)
            seconds = int(probe_video(DEMO / "demo.mp4").duration)
            frames = read_frames_at(DEMO / "demo.mp4", [k + 0.5 for k in range(seconds)])
            emb = model.embed_frames(np.stack(frames))
            lists, top_scores = [], []
            for v in emb:
                cands = rec.for_embedding(v, 10)
                lists.append([pos[Path(c.path)] for c in cands])
                top_scores.append([c.score for c in cands])
            by_second = {q.second: lists[q.second] for q in queries if q.second < len(lists)}
            rankings = {"model": [by_second[q.second] for q in queries]}
            if rec.ranking is not None:
                plain = [[pos[Path(c.path)] for c in rec.for_embedding(emb[q.second], 10, sound_query=True)] for q in queries]
                rankings["model: picture only (no hubness fix, no prior)"] = plain
            pop = popularity(args.corpus, library, source)
            if pop is not None:
                rankings["popularity (starter corpus labels, image-blind)"] = [prior_ranking(pop, 10)] * len(queries)
            mlt = more_like_this(rec)
    if args.tower_space and model.cfg.audio_tower != "scratch":
        mlt["tower_space_precision_at_10"] = more_like_this_in_tower_space(model)
    n = len(queries)
    results = {"chance (uniform)": chance_scores(queries, library, KS)}
    results.update({name: score_rankings(queries, r, library, KS) for name, r in rankings.items()})
    firsts = Counter(lst[0] for lst in lists if lst)
    top1_file, top1_n = firsts.most_common(1)[0]
    scores = np.array([s for s in top_scores if s])
    report = {
        "model_id": model.model_id,
        "ranking": None if rec.ranking is None else {**rec.ranking.as_dict(), "prior_weight": rec.prior_weight},
        "labelled_seconds": n,
        "seconds": len(lists),
        "library_files": len(library),
        "hits": {name: {f"{level} top-{k}": round(res[level][str(k)] * n, 1) for level in ("sample", "category") for k in (3, 10)}
                 for name, res in results.items()},
        "rates": results,
        "top1_share": top1_share(lists),
        "most_frequent_top1": {"file": library[top1_file].name, "seconds": top1_n},
        "distinct_files_in_top10": len({i for lst in lists for i in lst}),
        "distinct_top10_lists": len({tuple(lst) for lst in lists}),
        "score_top1": [float(scores[:, 0].min()), float(scores[:, 0].max())],
        "score_top10": [float(scores[:, -1].min()), float(scores[:, -1].max())],
        "more_like_this": mlt,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "demo_eval.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    lines = [f"# The bundled demo ({n} labelled seconds of {len(lists)}; library {len(library)} files)", "",
             f"Model `{model.model_id}`; ranking {report['ranking']}.", "",
             "| ranking | file top-3 | file top-10 | category top-3 | category top-10 |", "|---|---|---|---|---|"]
    for name, h in report["hits"].items():
        lines.append(f"| {name} | {h['sample top-3']:g} | {h['sample top-10']:g} | {h['category top-3']:g} | {h['category top-10']:g} |")
    lines += ["", f"Most frequent #1: `{report['most_frequent_top1']['file']}` in {top1_n} of {len(lists)} seconds "
              f"({100 * report['top1_share']:.0f} %); {report['distinct_files_in_top10']} distinct files in the top-10 lists; "
              f"{report['distinct_top10_lists']} distinct lists.",
              f"Scores shown: #1 {report['score_top1'][0]:.2f}-{report['score_top1'][1]:.2f}, #10 {report['score_top10'][0]:.2f}-{report['score_top10'][1]:.2f}.",
              f"More like this: same-category precision@10 {100 * mlt['precision_at_10']:.1f} % over {mlt['queries']} files "
              f"(chance {100 * mlt['chance']:.1f} %, a perfect search {100 * mlt['ceiling']:.1f} %)"
              + (f"; in the sound tower's own space {100 * mlt['tower_space_precision_at_10']:.1f} %." if "tower_space_precision_at_10" in mlt else "."), ""]
    (args.out / "demo_eval.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
