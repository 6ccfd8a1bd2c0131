# Shared functions of scripts/record_gameplay.sh (sourced, not run).
# One Xvfb per recording, one PulseAudio daemon with a null sink per slot, and ONE ffmpeg that
# grabs the X display and the sink's monitor together, so picture and sound share one clock.

: "${REC_WORK:=/tmp/foley-rec}"           # scratch: pulse runtime dir, raw captures, logs
: "${CAPTURE_FPS:=10}"
: "${SKIP_S:=4}"                          # seconds cut from the start (loading screens)
: "${OUT_SIZE:=448x336}"
: "${OUT_CRF:=33}"

export XDG_RUNTIME_DIR="$REC_WORK/pulse"

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

start_pulse() {  # start_pulse SINK... : one daemon, one null sink per name (idempotent)
  mkdir -p "$XDG_RUNTIME_DIR"
  if ! pactl info >/dev/null 2>&1; then
    local loads=()
    for s in "$@"; do loads+=(--load="module-null-sink sink_name=$s rate=48000 channels=2"); done
    pulseaudio --daemonize=yes --exit-idle-time=-1 --disallow-exit -n "${loads[@]}" \
      --load=module-native-protocol-unix 2>/dev/null
    for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  for s in "$@"; do
    pactl list short sinks | awk '{print $2}' | grep -qx "$s" \
      || pactl load-module module-null-sink "sink_name=$s" rate=48000 channels=2 >/dev/null
  done
}

start_xvfb() {  # start_xvfb DISPLAY_NUM WxH -> sets XVFB_PID
  local n=$1 size=$2
  Xvfb ":$n" -screen 0 "${size}x24" -nolisten tcp >"$REC_WORK/xvfb$n.log" 2>&1 &
  XVFB_PID=$!
  for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
}

start_capture() {  # start_capture DISPLAY_NUM WxH SINK DUR OUT.mkv -> sets FFMPEG_PID
  local n=$1 size=$2 sink=$3 dur=$4 out=$5
  ffmpeg -hide_banner -loglevel warning -y \
    -thread_queue_size 1024 -f x11grab -draw_mouse 0 -framerate "$CAPTURE_FPS" -video_size "$size" -t "$dur" -i ":$n" \
    -thread_queue_size 1024 -f pulse -sample_rate 48000 -channels 2 -t "$dur" -i "$sink.monitor" \
    -copyts -c:v libx264 -preset ultrafast -crf 26 -g "$CAPTURE_FPS" -pix_fmt yuv420p -c:a pcm_s16le \
    -progress "$out.progress" "$out" </dev/null >"$out.log" 2>&1 &
  FFMPEG_PID=$!
}

wait_capture_or_game() {  # wait_capture_or_game GAME_PID : stop ffmpeg (SIGINT) if the game exits first
  local game=$1
  while kill -0 "$FFMPEG_PID" 2>/dev/null; do
    if ! kill -0 "$game" 2>/dev/null; then
      log "game exited before the capture ended; stopping ffmpeg"
      kill -INT "$FFMPEG_PID" 2>/dev/null
      ENDED_EARLY=True
    fi
    sleep 1
  done
  wait "$FFMPEG_PID" 2>/dev/null || true
}

stream_start() {  # stream_start FILE v|a -> start_time in seconds
  ffprobe -v error -select_streams "$2:0" -show_entries stream=start_time -of csv=p=0 "$1"
}

audio_start() {  # audio_start FILE -> when the first audio sample was captured, from ALL packets
  # ffmpeg's pulse input stamps each packet with (arrival time - reported latency). The first
  # packets of a stream arrive unevenly and their stamps were measured 0.15-0.8 s off, while the
  # later ones agree with (start + samples so far / rate) to a few ms: take the median of
  # (packet time - audio duration before it) over all packets. The duration before a packet is
  # counted in SAMPLES (packet bytes / (2 bytes x channels) for the s16 capture): Matroska stores
  # packet durations rounded to 1 ms (0.042 s for a 2048-sample packet of 42.67 ms), and summing
  # those drifts 1.6 % behind the audio, which put the median (and so the sound) 0.8 % of the clip
  # length late: 2.3 s on a 300-s clip. (Found and fixed in the second recording session.)
  local ch; ch=$(ffprobe -v error -select_streams a:0 -show_entries stream=channels -of csv=p=0 "$1")
  ffprobe -v error -select_streams a:0 -show_entries packet=pts_time,size -of csv=p=0 "$1" | python3 -c "
import statistics, sys
rate, frame_bytes = 48000, 2 * int('$ch')
n, est = 0.0, []
for line in sys.stdin:
    p, size = line.strip().split(',')[:2]
    est.append(float(p) - n); n += int(size) / frame_bytes / rate
print(f'{statistics.median(est):.6f}')"
}

finalize() {  # finalize CAPTURE.mkv OUT.mp4 : align audio to video, cut SKIP_S, small H.264 + AAC mono
  local in=$1 out=$2 v0 a0 af
  [ -s "$in" ] || { log "finalize: $in is missing or empty (see $in.log)"; return 1; }
  v0=$(stream_start "$in" v); a0=$(audio_start "$in")
  VIDEO_T0=$v0  # wall-clock time of the first captured frame (x11grab stamps frames with the wall clock)
  # both streams re-based to 0, then the audio moved by its measured start offset (a0 - v0)
  af=$(python3 -c "
d = float('$a0') - float('$v0')
print(f'asetpts=PTS-STARTPTS,adelay=delays={round(d*1000)}:all=1' if d >= 0 else f'asetpts=PTS-STARTPTS,atrim=start={-d:.4f}')")
  log "finalize $in: video starts $v0, audio $a0 ($af)"
  ffmpeg -hide_banner -loglevel error -y -i "$in" \
    -vf "setpts=PTS-STARTPTS,trim=start=$SKIP_S,setpts=PTS-STARTPTS,scale=${OUT_SIZE/x/:}" \
    -af "$af,atrim=start=$SKIP_S,asetpts=PTS-STARTPTS,aresample=48000" \
    -c:v libx264 -preset veryfast -crf "$OUT_CRF" -g $((CAPTURE_FPS * 10)) -pix_fmt yuv420p \
    -ac 1 -c:a aac -b:a 64k -movflags +faststart "$out.tmp.mp4"
  mv "$out.tmp.mp4" "$out"
}

capture_check() {  # capture_check CAPTURE.mkv OUT.json : did the grab keep up? frames captured vs duration x fps
  # x11grab stamps each frame with the wall clock and Matroska keeps those stamps, so a grab that
  # fell behind shows as FEWER frames than (last - first stamp) x fps + 1, never as a duplicate;
  # ffmpeg's own dup/drop counters (from -progress) are reported too.
  local in=$1 out=$2
  ffprobe -v error -select_streams v:0 -show_entries packet=pts_time -of csv=p=0 "$in" | python3 -c "
import json, sys
t = sorted(float(x) for x in sys.stdin.read().split() if x.strip() not in ('', 'N/A'))
prog = {}
try:
    for line in open('$in.progress'):
        k, _, v = line.strip().partition('=')
        prog[k] = v
except OSError:
    pass
fps = float('$CAPTURE_FPS')
span = (t[-1] - t[0]) if len(t) > 1 else 0.0
expected = round(span * fps) + 1 if t else 0
gaps = [b - a for a, b in zip(t, t[1:])]
kept = [x for x in t if x >= t[0] + float('$SKIP_S')] if t else []  # what the clip keeps
kept_expected = round((kept[-1] - kept[0]) * fps) + 1 if kept else 0
kept_gaps = [b - a for a, b in zip(kept, kept[1:])]
r = {'frames': len(t), 'expected': expected, 'seconds': round(span, 2), 'fps': fps,
     'missing': expected - len(t), 'longest_gap_s': round(max(gaps), 3) if gaps else 0.0,
     'kept_frames': len(kept), 'kept_expected': kept_expected, 'kept_missing': kept_expected - len(kept),
     'kept_longest_gap_s': round(max(kept_gaps), 3) if kept_gaps else 0.0,
     'ffmpeg_dup': int(prog.get('dup_frames', 0) or 0), 'ffmpeg_drop': int(prog.get('drop_frames', 0) or 0)}
json.dump(r, open('$out', 'w'))
print(f\"capture check: {r['frames']} frames of {r['expected']} expected in {r['seconds']} s at {fps:g} fps \"
      f\"(missing {r['missing']}, longest gap {r['longest_gap_s']} s, ffmpeg dup {r['ffmpeg_dup']} drop {r['ffmpeg_drop']}); \"
      f\"after the first {float('$SKIP_S'):g} s: {r['kept_frames']} of {r['kept_expected']} (missing {r['kept_missing']}, longest gap {r['kept_longest_gap_s']} s)\")
" >&2
}

keys_when_window() {  # keys_when_window DISPLAY_NUM NAME_REGEX SETTLE_S KEYS... : once a window named so is
  # mapped, wait SETTLE_S and type KEYS (xdotool key names; "sleep:S" pauses S seconds). Run it in the background.
  local n=$1 name=$2 settle=$3; shift 3
  local waited=0
  until DISPLAY=":$n" xdotool search --onlyvisible --name "$name" >/dev/null 2>&1 </dev/null; do
    sleep 0.5; waited=$((waited + 1))
    [ "$waited" -lt 120 ] || { log "no window '$name' on :$n after 60 s"; return 1; }
  done
  sleep "$settle"
  for k in "$@"; do
    case "$k" in
      sleep:*) sleep "${k#sleep:}" ;;
      *) DISPLAY=":$n" xdotool key "$k" 2>/dev/null || true; sleep 0.3 ;;
    esac
  done
}

cleanup_pids() {  # cleanup_pids PID... : end only the processes this script started
  # (under set -e a failed kill of a process that already ended must not turn the exit status into 1)
  for p in "$@"; do if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi; done
  return 0
}
