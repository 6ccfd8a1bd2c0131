#!/usr/bin/env python3
"""Add an existing corpus (the starter corpus, or any folder with the recipe's manifest.csv) to the
batch recorder's manifest, so that its clips count toward the hours and keep their splits.

    scripts/recording/seed_corpus.py STARTER_DIR [--manifest scripts/recording/corpus.csv]
        [--recipe-version starter-corpus] [--config scripts/recording/batch_plan.json]

STARTER_DIR/manifest.csv has the recipe's columns (clip, game, scenario, seed, ..., seconds, ...,
view); each clip's file is STARTER_DIR/<clip>. One corpus row per clip: clip (as the source
manifest names it), game, map_or_scenario, seed, seconds, split, sha256 (of the file),
recipe_version and view. The split comes from the plan's ``splits`` pins, else the recorder's hash
of (game, map), so a map keeps one split across sources. A clip already listed (same clip name and
sha256) is skipped, so running it twice adds nothing; the same name with other contents is an error.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record_batch import DEFAULT_MANIFEST, DEFAULT_PLAN, load_plan, read_manifest, sha256_of, split_of, write_manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", type=Path, help="folder with manifest.csv and the clips it lists")
    ap.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="the corpus manifest to add to")
    ap.add_argument("--config", type=Path, default=DEFAULT_PLAN, help="the batch plan (for its split pins)")
    ap.add_argument("--recipe-version", default="starter-corpus", help="recipe_version of the added rows")
    args = ap.parse_args(argv)

    src_manifest = args.source / "manifest.csv"
    if not src_manifest.is_file():
        print(f"seed_corpus: no manifest.csv in {args.source}", file=sys.stderr)
        return 2
    try:
        plan = load_plan(args.config)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"seed_corpus: bad plan {args.config}: {e!r}", file=sys.stderr)
        return 2
    with src_manifest.open(newline="") as f:
        src = list(csv.DictReader(f))
    need = {"clip", "game", "scenario", "seconds"}
    if not src or not need <= set(src[0]):
        print(f"seed_corpus: {src_manifest} lacks the columns {sorted(need)}", file=sys.stderr)
        return 2
    missing = [r["clip"] for r in src if not (args.source / r["clip"]).is_file()]
    if missing:
        print(f"seed_corpus: {len(missing)} clip(s) listed but not found, e.g. {args.source / missing[0]}", file=sys.stderr)
        return 2

    rows = read_manifest(args.manifest)
    listed = {r["clip"]: r for r in rows}
    added = 0
    for r in src:
        digest = sha256_of(args.source / r["clip"])
        old = listed.get(r["clip"])
        if old is not None:
            if old.get("sha256") != digest:
                print(f"seed_corpus: {r['clip']} is listed with another sha256; nothing written", file=sys.stderr)
                return 1
            continue
        row = {"clip": r["clip"], "game": r["game"], "map_or_scenario": r["scenario"], "seed": r.get("seed", ""),
               "seconds": r["seconds"], "split": split_of(r["game"], r["scenario"], plan), "sha256": digest,
               "recipe_version": args.recipe_version, "view": r.get("view") or "default"}
        rows.append(row)
        listed[row["clip"]] = row
        added += 1
    if added:
        write_manifest(args.manifest, rows)
    hours = sum(float(r.get("seconds") or 0) for r in rows) / 3600
    print(f"seed_corpus: added {added} clip(s) from {args.source}; {args.manifest} lists {len(rows)} clips, {hours:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
