#!/usr/bin/env python3
"""Second A/V sync source without a media player: at jittered times, paint the X root window white
(xsetroot) and start a 50-ms click (paplay, low latency) together; log the wall-clock times."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np


def main(out_dir: str, seconds: float = 30.0) -> int:
    out = Path(out_dir)
    click = out / "click.wav"
    t = np.arange(int(0.05 * 48000)) / 48000
    pcm = (0.5 * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2")
    with wave.open(str(click), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(pcm.tobytes())
    rng = np.random.default_rng(1)
    subprocess.run(["xsetroot", "-solid", "black"], check=True)
    t0, log, at = time.time(), [], 1.0
    while at < seconds - 1.5:
        time.sleep(max(0.0, t0 + at - time.time()))
        p = subprocess.Popen(["paplay", "--latency-msec=10", str(click)])
        subprocess.run(["xsetroot", "-solid", "white"], check=True)
        log.append(time.time() - t0)
        time.sleep(0.25)
        subprocess.run(["xsetroot", "-solid", "black"], check=True)
        p.wait()
        at += 1.2 + float(rng.uniform(0.0, 0.6))
    (out / "flash_click.json").write_text(json.dumps({"events": log}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 30.0))
