#!/usr/bin/env python3
"""Measure relevance feedback and search-by-recording on labelled footage (docs/feedback.md).

Feedback: a simulated designer works through a labelled video (``k<TAB>a.ogg;b.ogg``: the sound
files the game started in second k). In the first half of the video they place the correct sounds
(every labelled file, its first second) at their seconds, and say "not this" to the wrong sounds
the list showed in its top 3 there. On the second half we count top-10 and top-3 hits (a labelled
file among the first 10 / 3 files of the list) without feedback, with the placements only, and
with placements and rejections.

Search by a recording (``--similar``): every library file is used as an outside query once (its
loudest second embedded from the file, the file itself excluded from the results, as
``foley-engine similar`` does) and we count how many of the 10 results share its category
(precision@10), beside what chance gives.

    .venv/bin/python scripts/measure_feedback.py                       # the demo video, model and index
    .venv/bin/python scripts/measure_feedback.py --clip V.mp4:V_labels.tsv --similar --json out.json

``--model`` and ``--db`` default to the shipped model and the demo index (installed into a
temporary folder from ``resources/demo/index``), so the numbers can be re-run for another model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO = ROOT / "resources" / "demo"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def open_recommender(model_path: Path | None, db: Path | None, work: Path):
    """The model and its index: ``--db`` as given, else the demo index installed for this model."""
    from engine.library.paths import default_model_path
    from engine.library.prebuilt import install_prebuilt
    from engine.library.recommender import Recommender
    from engine.library.sound_index import SoundIndex
    from engine.models import AVModel

    model_path = model_path or default_model_path()
    if model_path is None:
        raise SystemExit("error: no model: pass --model PATH")
    model = AVModel.load(Path(model_path)).eval()
    if db is None:
        db = work / "index"
        result = install_prebuilt(DEMO / "index", DEMO / "library", db, model.model_id)
        if not result.installed:
            raise SystemExit(f"error: the demo index does not fit this model ({result.reason}); "
                             f"index the demo library first (foley-engine index {DEMO / 'library'} --model ... --db DIR) and pass --db DIR")
    index = SoundIndex.open(Path(db), model.model_id, readonly=True)
    return Recommender(model, index), Path(model_path)


def frame_rows(rec, video: Path, work: Path) -> np.ndarray:
    from engine.library.video_cache import VideoEmbeddingCache

    return VideoEmbeddingCache(rec.model, work / "videos").embed_video(video)


def read_targets(rec, labels: Path, path_contains: str | None) -> dict[int, set[int]]:
    """{second: indices into rec.files of the files started then} (names not in the library dropped)."""
    from engine.evaluation.library_eval import label_name, read_labels

    by_name: dict[str, list[int]] = {}
    for i, f in enumerate(rec.files):
        if path_contains is None or path_contains.lower() in f.display_path.lower():
            by_name.setdefault(f.path.name, []).append(i)
    out = {}
    for k, names in read_labels(labels).items():
        idx = {i for n in names if not n.startswith("ambient/") for i in by_name.get(label_name(n), [])}
        if idx:
            out[k] = idx
    return out


def ranked_files(rec, q: np.ndarray, k: int, by_path: dict[Path, int], path_contains: str | None) -> list[int]:
    return [by_path[c.path] for c in rec.for_embedding(q, k=k, path_contains=path_contains)]


def measure_feedback(rec, rows: np.ndarray, targets: dict[int, set[int]], cfg, path_contains: str | None,
                     reject_top: int = 3) -> dict:
    """Hits on the second half: no feedback, placements only, placements + rejections."""
    from engine.library.feedback import Feedback, sound_vector

    by_path = {f.path: i for i, f in enumerate(rec.files)}
    half = rows.shape[0] // 2
    first = [k for k in sorted(targets) if k < half and k < rows.shape[0]]
    second = [k for k in sorted(targets) if half <= k < rows.shape[0]]
    placed, full = Feedback(cfg), Feedback(cfg)
    vec_cache: dict[int, np.ndarray] = {}
    n_rejected = 0
    for k in first:
        for i in sorted(targets[k]):
            if i not in vec_cache:
                vec_cache[i] = sound_vector(rec, rec.files[i].path, 0.0)
            placed.add(rows[k], vec_cache[i], True)
            full.add(rows[k], vec_cache[i], True)
        shown = ranked_files(rec, rows[k], reject_top, by_path, path_contains)
        for i in shown:
            if i not in targets[k]:
                full.add(rows[k], sound_vector(rec, rec.files[i].path, 0.0), False)
                n_rejected += 1
    result = {"seconds": int(rows.shape[0]), "first_half_labelled": len(first), "second_half_labelled": len(second),
              "n_placed": placed.positives, "n_rejected": n_rejected}
    for name, fb in (("none", None), ("placed", placed), ("placed+rejected", full)):
        h10 = h3 = 0
        for k in second:
            if fb is None:
                ranked = ranked_files(rec, rows[k], 10, by_path, path_contains)
            else:
                ranked = [by_path[c.path] for c in fb.rank(rec, rows[k], 10, path_contains=path_contains)]
            h10 += bool(targets[k] & set(ranked[:10]))
            h3 += bool(targets[k] & set(ranked[:3]))
        n = max(1, len(second))
        result[name] = {"top10": round(100 * h10 / n, 1), "top3": round(100 * h3 / n, 1), "hits10": h10, "hits3": h3}
    return result


def measure_similar(rec, path_contains: str | None, k: int = 10) -> dict:
    """Leave-one-out same-category precision@k of "similar FILE" over the library."""
    from engine.library.feedback import embed_sound, loudest_second

    files = [f for f in rec.files if path_contains is None or path_contains.lower() in f.display_path.lower()]
    cats = [f.category for f in files]
    precisions, chance, ceiling, multi = [], [], [], []
    t0 = time.perf_counter()
    for n, f in enumerate(files):
        offset = loudest_second(f.path, rec.model.features.sample_rate)
        vec = embed_sound(rec.model, f.path, offset)
        got = rec.for_embedding(vec, k=k, sound_query=True, exclude_files={f.path}, path_contains=path_contains)
        same = cats.count(f.category) - 1  # other files of the query's category
        precisions.append(sum(c.category == f.category for c in got) / k)
        chance.append(same / max(1, len(cats) - 1))
        ceiling.append(min(k, same) / k)
        multi.append(same > 0)
        if (n + 1) % 100 == 0:
            _log(f"  similar: {n + 1}/{len(files)} queries ({time.perf_counter() - t0:.0f} s)")
    p, m = np.asarray(precisions), np.asarray(multi)
    return {"queries": len(files), "categories": len(set(cats)), "precision_at_10": round(100 * float(p.mean()), 1),
            "chance": round(100 * float(np.mean(chance)), 1), "ceiling": round(100 * float(np.mean(ceiling)), 1),
            "queries_with_same_category_files": int(m.sum()),
            "precision_at_10_those": round(100 * float(p[m].mean()), 1) if m.any() else 0.0,
            "hit_rate_those": round(100 * float((p[m] > 0).mean()), 1) if m.any() else 0.0}


def main(argv: list[str] | None = None) -> int:
    from engine.library.feedback import FeedbackCfg

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="model file (default: the shipped resources/models/default.pt)")
    ap.add_argument("--db", type=Path, default=None, help="index folder built with --model (default: the demo index, installed for it)")
    ap.add_argument("--clip", action="append", default=[], metavar="VIDEO:LABELS",
                    help="a labelled video (repeatable; default: the demo video and demo_labels.tsv)")
    ap.add_argument("--path-contains", default="wesnoth", help="rank only library files whose path contains this (default: wesnoth, the game the labels name)")
    ap.add_argument("--method", default=FeedbackCfg.method, choices=("rerank", "rocchio", "linear"))
    ap.add_argument("--alpha", type=float, default=FeedbackCfg.alpha)
    ap.add_argument("--beta", type=float, default=FeedbackCfg.beta)
    ap.add_argument("--bandwidth", type=float, default=FeedbackCfg.bandwidth)
    ap.add_argument("--ridge", type=float, default=FeedbackCfg.ridge)
    ap.add_argument("--sound-bandwidth", type=float, default=FeedbackCfg.sound_bandwidth)
    ap.add_argument("--similar-all", action="store_true", help="search by a recording over the whole library, not only --path-contains")
    ap.add_argument("--similar", action="store_true", help="also measure search by a recording (leave-one-out precision@10)")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    clips = [tuple(c.rsplit(":", 1)) for c in args.clip] or [(str(DEMO / "demo.mp4"), str(DEMO / "demo_labels.tsv"))]
    cfg = FeedbackCfg(args.method, args.alpha, args.beta, args.bandwidth, args.ridge, args.sound_bandwidth)
    path_contains = args.path_contains or None
    with tempfile.TemporaryDirectory(prefix="measure-feedback-") as tmp:
        rec, model_path = open_recommender(args.model, args.db, Path(tmp))
        report: dict = {"model": model_path.name, "model_id": rec.model.model_id, "files": len(rec.files),
                        "path_contains": path_contains, "feedback": cfg.__dict__, "clips": {}}
        for video, labels in clips:
            _log(f"{Path(video).name}: embedding frames")
            rows = frame_rows(rec, Path(video), Path(tmp))
            r = measure_feedback(rec, rows, read_targets(rec, Path(labels), path_contains), cfg, path_contains)
            report["clips"][Path(video).name] = r
            print(f"{Path(video).name}: {r['second_half_labelled']} labelled seconds in the second half, "
                  f"{r['n_placed']} placements and {r['n_rejected']} rejections in the first")
            for name in ("none", "placed", "placed+rejected"):
                print(f"  {name:<16} top-10 {r[name]['top10']:5.1f} %   top-3 {r[name]['top3']:5.1f} %")
        if args.similar:
            s = measure_similar(rec, None if args.similar_all else path_contains)
            report["similar"] = s
            print(f"similar (leave-one-out, {s['queries']} files, {s['categories']} categories): same-category "
                  f"precision@10 {s['precision_at_10']} % (chance {s['chance']} %, ceiling {s['ceiling']} %); over the "
                  f"{s['queries_with_same_category_files']} files whose category has other files: {s['precision_at_10_those']} %, "
                  f"a same-category sound in the top 10 for {s['hit_rate_those']} %")
        rec.index.close()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
