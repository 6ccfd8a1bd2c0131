#!/usr/bin/env python3
"""Audio/video alignment check of the recording pipeline: flashes with clicks, played and re-recorded.

``make OUT.mp4``: a test video (640x480, 30 fps) with a full-screen white flash and a 1 kHz click
starting together at jittered times; it is played with ``ffplay`` on the Xvfb display into the
PulseAudio sink and captured by the same single ffmpeg as a game (scripts/record_gameplay.sh sync).

``analyze RECORDED.mp4``: finds every flash onset (first bright frame) and every click onset (first
loud sample) in the recording and reports audio-minus-video offsets. A flash is seen on the first
captured frame after it starts, i.e. on average half a capture frame late; ``offset_corrected_ms``
adds that half frame back. Positive = sound later than picture.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def make(out: Path, seconds: float = 30.0, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    times, t = [], 1.0
    while t < seconds - 1.5:
        times.append(round(t, 3))
        t += 1.2 + float(rng.uniform(0.0, 0.6))
    vis = "+".join(f"between(t,{x:.3f},{x + 0.25:.3f})" for x in times)
    aud = "+".join(f"between(t,{x:.3f},{x + 0.05:.3f})" for x in times)
    cmd = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"color=c=black:s=640x480:r=30:d={seconds}",
        "-f", "lavfi", "-i", f"aevalsrc=exprs='0.5*sin(2*PI*1000*t)*({aud})':s=48000:d={seconds}",
        "-vf", f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='{vis}'",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "1", "-pix_fmt", "yuv420p",
        "-c:a", "pcm_s16le", str(out),
    ]
    subprocess.run(cmd, check=True)
    out.with_suffix(".json").write_text(json.dumps({"event_times": times}))
    return times


def onsets(values: np.ndarray, times: np.ndarray, threshold: float, refractory: float) -> list[float]:
    out, last = [], -1e9
    above = values >= threshold
    for i in np.flatnonzero(above[1:] & ~above[:-1]) + 1:
        if times[i] - last >= refractory:
            out.append(float(times[i]))
            last = times[i]
    return out


def analyze(path: Path) -> dict:
    import av

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        fps = float(vs.average_rate)
        lum, vt = [], []
        for frame in c.decode(vs):
            lum.append(float(frame.to_ndarray(format="gray").mean()))
            vt.append(float(frame.pts * vs.time_base))
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        chunks, a0 = [], None
        for frame in c.decode(a):
            if a0 is None:
                a0 = float(frame.pts * a.time_base)
            chunks.append(frame.to_ndarray().reshape(-1) if frame.to_ndarray().shape[0] == 1 else frame.to_ndarray().mean(axis=0))
        sr = a.rate
    wave = np.concatenate(chunks).astype(np.float32)
    if np.abs(wave).max() > 1.5:
        wave = wave / 32768.0
    env = np.abs(wave)
    at = a0 + np.arange(len(env)) / sr
    v_on = onsets(np.array(lum), np.array(vt), 128.0, 0.8)
    a_on = onsets(env, at, 0.1, 0.8)
    pairs = []
    for v in v_on:
        near = [x for x in a_on if abs(x - v) < 0.5]
        if near:
            pairs.append(min(near, key=lambda x: abs(x - v)) - v)
    d = np.array(pairs) * 1000.0
    half = 500.0 / fps
    res = {
        "file": str(path), "capture_fps": fps, "flashes": len(v_on), "clicks": len(a_on), "matched": len(pairs),
        "offset_ms_mean": float(d.mean()) if len(d) else None,
        "offset_ms_median": float(np.median(d)) if len(d) else None,
        "offset_ms_std": float(d.std()) if len(d) else None,
        "offset_ms_min": float(d.min()) if len(d) else None, "offset_ms_max": float(d.max()) if len(d) else None,
        "offset_corrected_ms": float(d.mean() + half) if len(d) else None,
        "note": "audio onset minus first bright frame; corrected adds half a capture frame (the flash is seen up to one frame late)",
    }
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out", type=Path)
    m.add_argument("--seconds", type=float, default=30.0)
    a = sub.add_parser("analyze")
    a.add_argument("recorded", type=Path)
    a.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "make":
        print(json.dumps(make(args.out, args.seconds)))
    else:
        res = analyze(args.recorded)
        text = json.dumps(res, indent=2)
        print(text)
        if args.json:
            args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
