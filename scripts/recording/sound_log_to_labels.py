#!/usr/bin/env python3
"""sdl_mixer_log.c output -> per-second labels of the finished clip: ``k<TAB>a.ogg;b.wav`` for every second.

    sound_log_to_labels.py SOUNDS.log VIDEO_T0 SKIP_S SECONDS > clip_labels.tsv

VIDEO_T0 is the wall-clock time of the capture's first frame, SKIP_S the seconds cut from the start;
second k of the clip is wall time [VIDEO_T0 + SKIP_S + k, +1). Paths are made relative to the game's
``sounds/`` folder, any case (Wesnoth: ``ambient/x.ogg``, ``sword-1.ogg``; Hedgewars: ``explosion.ogg``,
``voices/Default/Hmm.ogg``).
"""

from __future__ import annotations

import math
import sys


def main(log: str, t0: float, skip: float, seconds: int) -> int:
    per: dict[int, list[str]] = {}
    for line in open(log, encoding="utf-8", errors="replace"):
        t, _, path = line.rstrip("\n").partition("\t")
        try:
            k = math.floor(float(t) - t0 - skip)
        except ValueError:
            continue
        if 0 <= k < seconds:
            i = path.lower().find("/sounds/")  # Wesnoth: data/core/sounds/, Hedgewars: Data/Sounds/
            if i >= 0:
                name = path[i + len("/sounds/") :]
            elif path.startswith("sound/"):  # ioquake3 games (OpenArena): a path inside the pak files
                name = path[len("sound/") :]
            elif not path.startswith("/"):  # a path inside an archive (Warzone: audio/sfx/weapons/x.ogg)
                name = path
            else:
                name = path.rsplit("/", 1)[-1]
            if name not in per.setdefault(k, []):
                per[k].append(name)
    for k in range(seconds):
        print(f"{k}\t{';'.join(per.get(k, []))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
