#!/usr/bin/env python3
"""Stamp a game's console lines with the wall clock as they arrive, and pick out its sound starts.

    stamp_lines.py FIFO GAME_LOG SOUND_LOG REGEX

Reads FIFO (the game's stdout+stderr) line by line until end of file; every line goes to GAME_LOG
as ``<unix time>\\t<line>``; a line matching REGEX (its first group: the sound's file name) also goes
to SOUND_LOG as ``<unix time>\\t<name>``, the format of sdl_mixer_log.c, so sound_log_to_labels.py
turns it into per-second labels. Used for OpenArena (ioquake3 prints ``<painted samples> : <sound>``
for every sound it starts when ``s_show`` is 1). Standard library only.
"""

from __future__ import annotations

import re
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: stamp_lines.py FIFO GAME_LOG SOUND_LOG REGEX", file=sys.stderr)
        return 2
    fifo, game_log, sound_log, pattern = argv
    try:
        rx = re.compile(pattern)
    except re.error as e:
        print(f"stamp_lines.py: bad REGEX {pattern!r}: {e}", file=sys.stderr)
        return 2
    with open(fifo, "rb", buffering=0) as src, open(game_log, "a") as glog, open(sound_log, "a") as slog:
        buf = b""
        while True:
            chunk = src.read(65536)
            if not chunk:
                break
            t = time.time()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                glog.write(f"{t:.4f}\t{line}\n")
                m = rx.search(line)
                if m:
                    slog.write(f"{t:.4f}\t{m.group(1)}\n")
            glog.flush()
            slog.flush()
        if buf:
            glog.write(f"{time.time():.4f}\t{buf.decode('utf-8', 'replace')}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
