#!/usr/bin/env python3
"""Cut the demo video from a held-out recording and pick the demo library subset.

    python scripts/make_demo.py video --clip CLIPS/wes106.mp4 --start 84 --seconds 60
    python scripts/make_demo.py library --library LIB --max-mb 15

``video`` re-encodes [start, start+seconds) of the clip to resources/demo/demo.mp4 (448x336, H.264
CRF 30, a keyframe every second for scrubbing, AAC mono 48 kHz; both streams start at 0) and writes
its per-second labels (shifted to the cut) to resources/demo/demo_labels.tsv. The clip must be in
the test split of the dataset the shipped model was trained on (checked with --dataset).
Uses the ffmpeg binary: recording/build tooling only, the product never needs it.

``library`` copies every file of the Wesnoth part of the library that the demo's labels name
(the sounds actually heard in the demo), then adds files round-robin over all categories of all
sources (shortest first, OGG/FLAC preferred; --sources, by default the four games of the bundled demo) until --max-mb, into resources/demo/library/<source>/<category>/,
and writes resources/demo/SOURCES.md (package, version, licence, origin of every file).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"


def cut_video(clip: Path, start: float, seconds: float, dataset: Path | None) -> None:
    if dataset is not None:
        rows = list(csv.DictReader((dataset / "manifest.csv").open()))
        split = {r["video_id"]: r["split"] for r in rows}.get(clip.stem)
        if split != "test":
            raise SystemExit(f"{clip.stem} is in split {split!r} of {dataset}, not 'test': pick a held-out clip")
    DEMO.mkdir(parents=True, exist_ok=True)
    out = DEMO / "demo.mp4"
    tmp = DEMO / "demo.tmp.mp4"
    subprocess.run([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{start}", "-i", str(clip), "-t", f"{seconds}",
        "-vf", "scale=448:336,setpts=PTS-STARTPTS", "-af", "asetpts=PTS-STARTPTS,aresample=48000",
        "-c:v", "libx264", "-preset", "slow", "-crf", "30", "-g", "10", "-pix_fmt", "yuv420p",
        "-ac", "1", "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart",
        "-metadata", f"comment=Battle for Wesnoth 1.16 AI vs AI ({clip.name} {start:g}-{start + seconds:g} s), GPL-2.0-or-later",
        str(tmp)], check=True)
    os.replace(tmp, out)
    labels = clip.with_name(clip.stem + "_labels.tsv")
    if labels.exists():
        lines = []
        for line in labels.read_text().splitlines():
            k, _, rest = line.partition("\t")
            k = int(k) - int(start)
            if 0 <= k < seconds:
                lines.append(f"{k}\t{rest}")
        (DEMO / "demo_labels.tsv").write_text("\n".join(lines) + "\n")
    (DEMO / "demo.json").write_text(json.dumps({"source_clip": clip.name, "start_s": start, "seconds": seconds,
                                                "game": "Battle for Wesnoth 1.16 (wesnoth-1.16-data), AI vs AI",
                                                "licence": "GPL-2.0-or-later"}, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


DEMO_SOURCES = ("wesnoth", "freedoom", "hedgewars", "warzone2100")  # the bundled demo library's four games


def pick_library(library: Path, max_mb: float, sources: tuple[str, ...] = DEMO_SOURCES) -> None:
    catalog = [r for r in csv.DictReader((library / "catalog.csv").open()) if r["source"] in sources]
    heard = set()
    labels = DEMO / "demo_labels.tsv"
    if labels.exists():
        for line in labels.read_text().splitlines():
            heard |= {s.rsplit("/", 1)[-1] for s in line.partition("\t")[2].split(";") if s}
    chosen, size = [], 0
    budget = max_mb * 1e6

    def take(row: dict) -> bool:
        nonlocal size
        s = (library / row["library_path"]).stat().st_size
        if size + s > budget:
            return False
        chosen.append(row)
        size += s
        return True

    for row in catalog:  # 1) every Wesnoth sound the demo plays
        if row["source"] == "wesnoth" and Path(row["library_path"]).name in heard:
            take(row)
    by_cat = defaultdict(list)  # 2) round-robin over (source, category), short files first
    for row in catalog:
        if row not in chosen and not (row["source"] == "hedgewars" and row["category"] == "voice" and len(by_cat[("hedgewars", "voice")]) >= 12):
            by_cat[(row["source"], row["category"])].append(row)
    for rows in by_cat.values():
        rows.sort(key=lambda r: (not r["library_path"].endswith((".ogg", ".flac")), float(r["duration_s"])))
    progress = True
    while progress:
        progress = False
        for key in sorted(by_cat):
            if by_cat[key]:
                row = by_cat[key].pop(0)
                if take(row):
                    progress = True
    dst_root = DEMO / "library"
    tmp_root = DEMO / "library.tmp"
    shutil.rmtree(tmp_root, ignore_errors=True)
    for row in chosen:
        dst = tmp_root / row["library_path"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library / row["library_path"], dst)
    shutil.rmtree(dst_root, ignore_errors=True)
    os.replace(tmp_root, dst_root)
    cats = {(r["source"], r["category"]) for r in catalog}
    got = {(r["source"], r["category"]) for r in chosen}
    lines = ["# Demo library and demo video: sources and licences", "",
             "Built by `scripts/make_demo.py library` from the library that `scripts/build_sound_library.py` builds out of "
             "Debian packages (unpacked with `apt-get download` + `dpkg -x`). Each file keeps its package's licence.", "",
             "| source | Debian package | version | licence | files here |", "|---|---|---|---|---|"]
    for src in sorted({r["source"] for r in catalog}):
        rows = [r for r in chosen if r["source"] == src]
        if rows:
            lines.append(f"| {src} | {rows[0]['package']} | {rows[0]['version']} | {rows[0]['licence']} | {len(rows)} |")
    lines += ["", f"{len(chosen)} files, {size / 1e6:.1f} MB, {len(got)} of {len(cats)} (source, category) pairs of the full library.", "",
              "The demo video `demo.mp4` is a 60-s cut of a recording of Battle for Wesnoth 1.16 (AI vs AI, unmodified game, "
              "GPL-2.0-or-later, its art and sounds included); see `demo.json` for the source clip.", "",
              "Licence texts: GPL-2 `/usr/share/common-licenses/GPL-2`; GFDL-1.3 `/usr/share/common-licenses/GFDL-1.3`; "
              "Freedoom's BSD-style licence in `/usr/share/doc/freedoom/copyright`; CC-BY-SA-3.0 (Hedgewars Droplet*.ogg, "
              "by saugox on freesound.org) https://creativecommons.org/licenses/by-sa/3.0/.", "",
              "| file | category | package | version | licence | origin in the package |", "|---|---|---|---|---|---|"]
    for r in chosen:
        lines.append(f"| library/{r['library_path']} | {r['category']} | {r['package']} | {r['version']} | {r['licence']} | {r['origin']} |")
    (DEMO / "SOURCES.md").write_text("\n".join(lines) + "\n")
    print(f"demo library: {len(chosen)} files, {size / 1e6:.1f} MB, {len(got)}/{len(cats)} categories")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("video")
    v.add_argument("--clip", type=Path, required=True)
    v.add_argument("--start", type=float, required=True)
    v.add_argument("--seconds", type=float, default=60.0)
    v.add_argument("--dataset", type=Path, default=None, help="prepared dataset: refuse clips outside its test split")
    lib = sub.add_parser("library")
    lib.add_argument("--library", type=Path, required=True, help="the full sound library (scripts/build_sound_library.py --out)")
    lib.add_argument("--max-mb", type=float, default=15.0)
    lib.add_argument("--sources", default=",".join(DEMO_SOURCES),
                     help="comma-separated games of the library to sample (default: the bundled demo's four)")
    args = ap.parse_args(argv)
    if args.cmd == "video":
        cut_video(args.clip, args.start, args.seconds, args.dataset)
    else:
        pick_library(args.library, args.max_mb, tuple(g.strip() for g in args.sources.split(",") if g.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
