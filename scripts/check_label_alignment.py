#!/usr/bin/env python3
"""Check a labelled corpus's audio/video alignment against the game's own log of sound starts.

For every *isolated* labelled second k (a non-ambient sound started in [k, k+1), none in the
seconds before and after), the recorded audio's onset strength should rise just after k plus the
capture latency. Averaging the onset-strength envelope over all such seconds gives a profile;
the first 10-ms bin from k-0.5 on where it climbs above a threshold (default: 5x the mean level
over [k-1, k-0.5)), minus k, is the measured latency. Audio that was shifted early shows up as a
rise before k, in the pooled profile and in the clips concerned.

    python scripts/check_label_alignment.py CLIPS_DIR [--glob '*_labels.tsv'] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from engine.data.media import load_audio
from engine.errors import EngineError
from engine.evaluation.library_eval import find_label_files, read_labels

SR = 48_000
HOP = 480  # 10-ms bins
BINS = 100  # bins a second
WINDOW = (-1, 3)  # the profile covers [k-1, k+3)


def onset_envelope(clip: Path) -> np.ndarray:
    """Onset strength of the clip's audio in 10-ms bins, normalised to mean 1."""
    import librosa

    env = librosa.onset.onset_strength(y=load_audio(clip, SR), sr=SR, hop_length=HOP)
    return env / (env.mean() + 1e-9)


def isolated_starts(labels: dict[int, list[str]], skip_prefixes: tuple[str, ...]) -> list[int]:
    """Seconds k with a sound start (ambient loops excluded) and none at k-1 or k+1."""
    started = {k for k, sounds in labels.items() if any(not s.startswith(skip_prefixes) for s in sounds)}
    return sorted(k for k in started if k - 1 not in started and k + 1 not in started and k >= -WINDOW[0])


def clip_profile(env: np.ndarray, seconds: list[int]) -> tuple[np.ndarray, int]:
    """Sum of the envelope over [k-1, k+3) for each second k, and how many seconds fit."""
    width = (WINDOW[1] - WINDOW[0]) * BINS
    total, n = np.zeros(width), 0
    for k in seconds:
        a = (k + WINDOW[0]) * BINS
        seg = env[a:a + width]
        if len(seg) == width:
            total += seg
            n += 1
    return total, n


def latency(profile: np.ndarray, factor: float) -> float | None:
    """Seconds from k to the first bin above ``factor`` x the level over [k-1, k-0.5), looking from
    k-0.5 on (so audio up to 0.5 s early shows as a negative latency); None if it never rises."""
    zero = -WINDOW[0] * BINS
    base = profile[zero - BINS:zero - BINS // 2].mean()
    above = np.nonzero(profile[zero - BINS // 2:] > factor * base)[0]
    return None if len(above) == 0 else (above[0] - BINS // 2) / BINS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clips", type=Path)
    ap.add_argument("--glob", default="*_labels.tsv")
    ap.add_argument("--skip-prefix", action="append", default=["ambient/"], help="sound paths not counted (loops)")
    ap.add_argument("--factor", type=float, default=5.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    try:
        pairs = find_label_files(args.clips, args.glob)
    except EngineError as exc:
        print(exc, file=sys.stderr)
        return 2
    total, n_total, per_clip = None, 0, {}
    for clip, lab in pairs.values():
        seconds = isolated_starts(read_labels(lab), tuple(args.skip_prefix))
        if not seconds:
            continue
        prof, n = clip_profile(onset_envelope(clip), seconds)
        if n == 0:
            continue
        per_clip[clip.stem] = {"isolated_seconds": n, "latency_s": latency(prof / n, args.factor)}
        total = prof if total is None else total + prof
        n_total += n
    if not n_total:
        print("no isolated labelled seconds found", file=sys.stderr)
        return 2
    profile = total / n_total
    zero = -WINDOW[0] * BINS
    result = {
        "clips": len(per_clip),
        "isolated_seconds": n_total,
        "latency_s": latency(profile, args.factor),
        "level_before_k": round(float(profile[:zero].mean()), 3),
        "level_k_to_k+1": round(float(profile[zero:zero + BINS].mean()), 3),
        "profile_100ms": [round(float(profile[i:i + 10].mean()), 3) for i in range(0, len(profile), 10)],
        "per_clip": per_clip,
    }
    lat = [v["latency_s"] for v in per_clip.values() if v["latency_s"] is not None]
    print(f"{n_total} isolated labelled seconds in {len(per_clip)} clips")
    print(f"onset level before k: {result['level_before_k']}, in [k, k+1): {result['level_k_to_k+1']}")
    print(f"first rise of the pooled profile: {result['latency_s']} s after k")
    print(f"per clip (first onset after k over its few isolated seconds): median {np.median(lat):.2f} s, "
          f"range {min(lat):.2f} .. {max(lat):.2f} s; clips with a rise before k: {sum(x < 0 for x in lat)}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
