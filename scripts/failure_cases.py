#!/usr/bin/env python3
"""Pictures for the model card: held-out frames with what the game played and what the model offered.

    python scripts/failure_cases.py --checkpoint M --db INDEX --clip CLIP.mp4 --out resources/models/cases [--n 4]

For labelled seconds of CLIP (its ``_labels.tsv``), ranks the index for frame k (like
evaluate-library) and writes PNGs of the frame with a text panel: the files Wesnoth started in
that second and the model's top 5 (a hit marked with *), for the first N misses and N hits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from engine.api import Recommender, SoundIndex
from engine.data.media import read_frames_at
from engine.evaluation.library_eval import label_name, read_labels
from engine.models import AVModel


def panel(frame: np.ndarray, lines: list[str], width: int = 448) -> np.ndarray:
    img = cv2.resize(frame, (width, int(frame.shape[0] * width / frame.shape[1])))
    text = np.full((18 * len(lines) + 10, width, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(text, line[:64], (6, 18 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([img, text])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--clip", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=3)
    args = ap.parse_args(argv)
    model = AVModel.load(args.checkpoint)
    rec = Recommender(model, SoundIndex.open(args.db, model.model_id))
    labels = read_labels(args.clip.with_name(args.clip.stem + "_labels.tsv"))
    secs = [k for k, v in sorted(labels.items()) if any(not s.startswith("ambient/") for s in v)]
    frames = read_frames_at(args.clip, [k + 0.5 for k in secs])
    args.out.mkdir(parents=True, exist_ok=True)
    done = {"hit": 0, "miss": 0}
    for k, rgb in zip(secs, frames):
        played = {label_name(s) for s in labels[k] if not s.startswith("ambient/")}
        top = rec.for_frame(rgb, k=5)
        hit = any(c.path.name in played for c in top)
        kind = "hit" if hit else "miss"
        if done[kind] >= args.n:
            continue
        done[kind] += 1
        lines, cur = [], f"{args.clip.stem} second {k}: game played"
        for name in sorted(played):
            if len(cur) + len(name) > 60:
                lines.append(cur)
                cur = "   "
            cur += f" {name}"
        lines += [cur, "model top 5:"]
        lines += [f"{'*' if c.path.name in played else ' '} {c.rank}. {c.path.name} ({c.category}, d={c.distance:.2f})" for c in top]
        out = args.out / f"{kind}-{args.clip.stem}-{k:03d}.png"
        cv2.imwrite(str(out), cv2.cvtColor(panel(rgb, lines), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(out)
        if all(v >= args.n for v in done.values()):
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
