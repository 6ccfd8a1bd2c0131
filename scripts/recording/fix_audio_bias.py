"""Undo the audio-start bias of Warzone clips finalized before the fix of audio_start (ms-rounded packet durations).

The old estimate was late by (raw audio length / 2) x 0.015625 s; the raw length is recovered from the
clip (audio duration - applied delay + SKIP_S). Writes CLIP.mp4 in place (original kept as *.orig.mp4),
and a row per clip to audio_fix.csv.

    python3 scripts/recording/fix_audio_bias.py CLIPS_DIR RECORDING_LOG   # the log record_gameplay.sh printed
"""
import csv
import re
import subprocess
import sys
from pathlib import Path

folder, log = Path(sys.argv[1]), Path(sys.argv[2])
SKIP_S = 4.0
delays = {}
for line in log.read_text().splitlines():
    m = re.search(r"finalize \S+/(wzrec\d+)\.mkv: .*adelay=delays=(\d+)", line)
    if m:
        delays[m.group(1)] = int(m.group(2)) / 1000
rows = []
for clip in sorted(folder.glob("wzrec*.mp4")):
    if clip.name.endswith(".orig.mp4") or clip.stem not in delays:
        continue
    audio = float(subprocess.check_output(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                                           "stream=duration", "-of", "csv=p=0", str(clip)]).decode().strip())
    raw = audio - delays[clip.stem] + SKIP_S
    bias = raw / 2 * (1 - 0.042 * 48000 / 2048)
    orig = clip.with_suffix(".orig.mp4")
    if not orig.exists():
        clip.rename(orig)
    tmp = clip.with_suffix(".tmp.mp4")
    subprocess.check_call(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(orig), "-c:v", "copy",
                           "-af", f"atrim=start={bias:.4f},asetpts=PTS-STARTPTS", "-c:a", "aac", "-b:a", "64k",
                           "-movflags", "+faststart", str(tmp)])
    tmp.rename(clip)
    rows.append({"clip": clip.name, "applied_delay_s": delays[clip.stem], "raw_audio_s": round(raw, 2), "moved_earlier_s": round(bias, 3)})
    print(rows[-1])
with open(folder / "audio_fix.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
