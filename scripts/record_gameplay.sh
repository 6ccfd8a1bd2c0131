#!/usr/bin/env bash
# Record real gameplay with real game sound on a headless Debian machine (no display, no sound card).
#
#   scripts/record_gameplay.sh setup                         # apt-get install the packages below (root)
#   scripts/record_gameplay.sh wesnoth    OUT_DIR [N] [DUR]  # Battle for Wesnoth AI vs AI (default 4 x 154 s)
#   scripts/record_gameplay.sh freedoom   OUT_DIR [DUR]      # Freedoom demo loops in Chocolate Doom (both WADs)
#   scripts/record_gameplay.sh warzone    OUT_DIR [N] [DUR]  # Warzone 2100 AI-vs-AI skirmishes (default 2 x 184 s)
#   scripts/record_gameplay.sh armagetron OUT_DIR [N] [DUR]  # Armagetron Advanced: AI light cycles, spectator camera
#   scripts/record_gameplay.sh openarena  OUT_DIR [N] [DUR]  # OpenArena bot deathmatch seen through a bot's eyes
#   scripts/record_gameplay.sh hedgewars  OUT_DIR [N] [DUR]  # Hedgewars: 2-4 bot teams (default 1 x 184 s each)
#   scripts/record_gameplay.sh openttd    OUT_DIR [N] [DUR]  # OpenTTD: the title game's transport network running,
#                                                            #   the camera following its vehicles (default 1 x 184 s)
#   scripts/record_gameplay.sh sync       OUT_DIR            # flash + click test: measures the A/V offset
#   scripts/record_gameplay.sh batch HOURS OUT_DIR [OPT..]   # unattended, until scripts/recording/corpus.csv lists
#                                                            #   HOURS (scripts/recording/record_batch.py)
# REC_SEED and REC_MAP fix what a mode records (REC_MAP: a Wesnoth scenario id, a Warzone map,
# freedoom1/freedoom2, an Armagetron map file, an OpenArena map, a Hedgewars theme, an OpenTTD camera
# region r00..r22); REC_SEED also seeds the other random choices (OpenTTD: the game seed, -G). REC_VIEW=zoom2x records Wesnoth zoomed in 2x (an add-on era).
# Every clip: one Xvfb, a PulseAudio null sink, ONE ffmpeg grabbing X11 and the sink monitor (one
# clock), then a re-encode to 448x336 H.264 + AAC mono 48 kHz, both streams from 0, the audio moved
# by its measured start offset, minus the first SKIP_S seconds (loading; per game). Music is off.
# Outputs: OUT_DIR/<name>.mp4, <name>_capture.json (frames captured vs expected), and OUT_DIR/manifest.csv
# (clip, game, scenario, seed, side1, side2, seconds, ended_early, view). Details: docs/real-data.md.
# Environment: REC_WORK (scratch, default /tmp/foley-rec), CAPTURE_FPS (10), DISPLAY_NUM (96), REC_SKIP_S.
set -euo pipefail
# The whole script is one { ... } group that ends in exit: bash parses all of it before running any,
# so editing or updating this file while a recording runs (the batch recorder runs for hours) cannot
# make the running copy read half-changed lines.
{
export PATH="/usr/games:$PATH"
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/recording/common.sh"

PACKAGES=(xvfb ffmpeg pulseaudio pulseaudio-utils x11-xserver-utils xdotool gcc libc6-dev
  wesnoth-1.16-core wesnoth-1.16-data chocolate-doom freedoom warzone2100 warzone2100-data armagetronad openarena hedgewars
  openttd openttd-opengfx openttd-opensfx)
WESNOTH_FACTIONS=(Drakes Dunefolk "Knalgan Alliance" Loyalists Northerners Rebels Undead)
WZ_MAPS=(Sk-Startup Sk-UrbanChasm Sk-HighGround Roughness Vision DustyMaze)
# AI scripts by their path under multiplay/skirmish/ (the "js" of each AI's .json; BoneCrusher's is in a folder)
WZ_AIS=(semperfi.js nb_generic.js Cobra.js bonecrusher/bonecrusher.js nb_hover.js)
# Armagetron Advanced arenas (resource paths) and OpenArena deathmatch maps and bots
AA_MAPS=(Anonymous/polygon/regular/square-1.0.1.aamap.xml Anonymous/polygon/regular/diamond-1.0.2.aamap.xml
  Anonymous/polygon/regular/40-gon-0.2.aamap.xml Your_mom/clever/inaktek-0.7.2.aamap.xml
  Your_mom/clever/repeat-0.3.2.aamap.xml)
OA_MAPS=(oa_dm1 oa_dm2 oa_dm3 oa_dm4 oa_dm5 oa_dm6 oa_dm7 aggressor kaos2 czest1dm islanddm delta hydronex dm4ish)
OA_BOTS=(Angelyss Arachna Ayumi Beret Dark Gargoyle Grism Grunt Jenna Kyonshi Liz Major Merman Neko Penguin Rai
  Sarge Sergei Skelebot Sly Tanisha Tony Widowe)
HW_THEMES=(Bamboo Bath Beach Blox Brick Cake Castle Cave Cheese Christmas City Compost Desert EarthRise Eyes Freeway
  Fruit Golf Halloween Hell Island Jungle Nature Olympics Planes Sheep Snow Stage Underwater)
# OpenTTD camera regions: the box around the title game's vehicles in a 3x3 grid (recording/openttd_camera)
OTTD_REGIONS=(r00 r01 r02 r10 r11 r12 r20 r21 r22)
DISPLAY_NUM=${DISPLAY_NUM:-96}
SINK=${SINK:-rec$DISPLAY_NUM}

cmd=${1:-}; shift || true
if [ "$cmd" = batch ]; then
  [ $# -ge 2 ] || { sed -n '2,/^set -euo/{/^set -euo/!p}' "$0"; exit 2; }
  hours=$1 out=$2; shift 2
  exec python3 "$HERE/recording/record_batch.py" --hours "$hours" --out "$out" "$@"
fi
if [ -n "${REC_SEED:-}" ]; then RANDOM=$REC_SEED; fi
mkdir -p "$REC_WORK"
PIDS=()
trap 'cleanup_pids "${PIDS[@]:-}"' EXIT

notice_at() {  # notice_at X Y: is the pixel at X,Y of the display the blue of Warzone's notice box (35,31,111)?
  local r g b
  read -r r g b < <(ffmpeg -loglevel error -f x11grab -video_size 1x1 -i ":$DISPLAY_NUM+$1,$2" -frames:v 1 \
    -f rawvideo -pix_fmt rgb24 - 2>/dev/null | od -An -tu1) || return 1
  [ "${b:-0}" -gt 90 ] && [ "${r:-255}" -lt 70 ] && [ "${g:-255}" -lt 70 ]
}

MANIFEST_HEADER="clip,game,scenario,seed,side1,side2,seconds,ended_early,view"
manifest_row() {  # manifest_row OUT_DIR clip game scenario seed side1 side2 seconds ended_early [view]
  local m="$1/manifest.csv"; shift
  [ -f "$m" ] || echo "$MANIFEST_HEADER" >"$m"
  if [ "$(head -n1 "$m")" = "clip,game,scenario,seed,side1,side2,seconds,ended_early" ]; then
    # a manifest of an older recipe (no view column): every clip it lists has the default view
    sed -i '1s/$/,view/; 2,$s/$/,default/' "$m"
  fi
  local row=("$@"); [ ${#row[@]} -ge 9 ] || row+=(default)
  (IFS=,; echo "${row[*]}") >>"$m"
}

aa_user_cfg() {  # aa_user_cfg MAP AIS ARENA_SIZE SPEED : Armagetron's var/user.cfg for an AI-only local game
  cat <<EOF
FIRST_USE 0
LANGUAGE_FIRST American English
LANGUAGE_SECOND American English
FULLSCREEN 0
ARMAGETRON_WINDOWSIZE 5
ARMAGETRON_WINDOWSIZE_W 640
ARMAGETRON_WINDOWSIZE_H 480
ARMAGETRON_LAST_WINDOWSIZE_W 640
ARMAGETRON_LAST_WINDOWSIZE_H 480
SPECTATOR_MODE_1 1
SP_NUM_AIS $2
SP_AUTO_AIS 0
SP_AUTO_IQ 0
SP_AI_IQ 100
SP_MIN_PLAYERS 0
SP_TEAMS_MIN 1
SP_TEAMS_MAX 16
SP_TEAM_MAX_PLAYERS 1
SP_SIZE_FACTOR $3
SP_SPEED_FACTOR $4
SP_LIMIT_ROUNDS 1000
SP_LIMIT_SCORE 100000
SP_LIMIT_TIME 1000
MAP_FILE $1
SHOW_HUD 0
SHOW_FPS 0
SHOW_TIME 0
SOUND_QUALITY 2
SOUND_SOURCES 16
EOF
}

ottd_cfg() {  # ottd_cfg : OpenTTD's config for a recording: window 640x480, no music, sound effects of the
  # world only (vehicles, ambient, disasters; no interface clicks or news jingles), no news pop-ups, no autosave
  cat <<EOF
[misc]
fullscreen = false
resolution = 640,480
graphicsset = OpenGFX
soundsset = OpenSFX
musicset = NoMusic
[gui]
autosave = off
autosave_on_exit = false
smooth_scroll = true
auto_scrolling = 0
pause_on_newgame = false
show_finances = false
[sound]
news_ticker = false
news_full = false
new_year = false
confirm = false
click_beep = false
disaster = true
vehicle = true
ambient = true
[music]
playlist = 0
music_vol = 0
effect_vol = 127
playing = false
[news_display]
EOF
  local t
  for t in arrival_player arrival_other accident accident_other company_info open close economy production_player \
    production_other production_nobody advice new_vehicles acceptance subsidies general; do echo "$t = off"; done
}

sound_shim() {  # sound_shim [NAME] : sets preload=(env LD_PRELOAD=.../NAME.so), or () without gcc; NAME is a
  # sound-start logger in recording/: sdl_mixer_log (default; SDL_mixer games) or openal_log (OpenAL + PhysFS)
  local src=${1:-sdl_mixer_log}; local shim="$REC_WORK/$src.so"; preload=()
  if command -v gcc >/dev/null && gcc -shared -fPIC -O2 -o "$shim" "$HERE/recording/$src.c" -ldl -lpthread; then
    preload=(env LD_PRELOAD="$shim")
  else
    log "no gcc: recording without per-second sound labels"
  fi
}

sound_labels() {  # sound_labels NAME OUT_DIR : the shim's log -> OUT_DIR/NAME_labels.tsv, one line per clip second
  local name=$1 out=$2
  if [ -f "$REC_WORK/$name.sounds.log" ]; then
    python3 "$HERE/recording/sound_log_to_labels.py" "$REC_WORK/$name.sounds.log" "$VIDEO_T0" "$SKIP_S" \
      "$(clip_seconds "$out/$name.mp4")" >"$out/${name}_labels.tsv"
  fi
}

next_index() {  # next_index OUT_DIR PREFIX -> the first free clip number, so a re-run adds clips instead of overwriting
  local i=0; while [ -e "$(printf "%s/%s%03d.mp4" "$1" "$2" "$i")" ]; do i=$((i + 1)); done; echo "$i"
}

clip_seconds() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1" | python3 -c "import sys; print(int(float(sys.stdin.read())))"; }

record_one() {  # record_one SIZE DUR RAW OUT -- GAME COMMAND...
  local size=$1 dur=$2 raw=$3 out=$4; shift 5
  ENDED_EARLY=False
  start_xvfb "$DISPLAY_NUM" "$size"; PIDS+=("$XVFB_PID")
  DISPLAY=":$DISPLAY_NUM" SDL_AUDIODRIVER=pulseaudio PULSE_SINK="$SINK" "$@" >"${GAME_LOG:-$raw.game.log}" 2>&1 &
  local game=$!; PIDS+=("$game")
  sleep 0.5
  start_capture "$DISPLAY_NUM" "$size" "$SINK" "$dur" "$raw"
  wait_capture_or_game "$game"
  # SIGTERM, then SIGKILL after 5 s: Warzone 2100 ignores SIGTERM
  kill "$game" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$game" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$game" 2>/dev/null || true; wait "$game" 2>/dev/null || true
  kill "$XVFB_PID" 2>/dev/null || true; wait "$XVFB_PID" 2>/dev/null || true
  if [ -s "$raw" ]; then capture_check "$raw" "${out%.mp4}_capture.json" || log "capture check failed"; fi
  finalize "$raw" "$out"
  rm -f "$raw"
}

case "$cmd" in
  setup)
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
    ;;

  wesnoth)
    out=$1; n=${2:-4}; dur=${3:-154}; mkdir -p "$out"; start_pulse "$SINK"
    # per-second labels (for evaluation only): an LD_PRELOAD shim logs each sound Wesnoth starts
    sound_shim
    # REC_VIEW=zoom2x: the view zoomed in 2x by a tiny add-on era (recording/zoom_era.cfg), installed
    # into the game's user-data add-ons folder; that era has six factions (no Dunefolk)
    view=${REC_VIEW:-default}; era=(); factions=("${WESNOTH_FACTIONS[@]}"); prefix=wesrec
    case "$view" in
      default) ;;
      zoom2x)
        udata=$(wesnoth --userdata-path 2>/dev/null | tail -n 1)
        [ -n "$udata" ] || { log "wesnoth --userdata-path printed nothing"; exit 1; }
        mkdir -p "$udata/data/add-ons/Zoom_Era"
        cp "$HERE/recording/zoom_era.cfg" "$udata/data/add-ons/Zoom_Era/_main.cfg"
        era=(--era era_zoom); factions=(Drakes "Knalgan Alliance" Loyalists Northerners Rebels Undead); prefix=wzoom ;;
      *) log "REC_VIEW must be default or zoom2x, not '$view'"; exit 2 ;;
    esac
    mapfile -t maps < <(grep -h '^ *id=multiplayer_' /usr/share/games/wesnoth/1.16/data/multiplayer/scenarios/2p_*.cfg \
      | sed 's/ *id=//' | sort -u)
    for _ in $(seq "$n"); do
      i=$(next_index "$out" "$prefix")
      seed=${REC_SEED:-$((RANDOM + 2000))}; map=${REC_MAP:-${maps[$((RANDOM % ${#maps[@]}))]}}
      s1=${factions[$((RANDOM % ${#factions[@]}))]}; s2=${factions[$((RANDOM % ${#factions[@]}))]}
      name=$(printf "%s%03d" "$prefix" "$i"); log "$name: $map $s1 vs $s2 seed $seed, view $view"
      rm -f "$REC_WORK/$name.sounds.log"
      FOLEY_SOUND_LOG="$REC_WORK/$name.sounds.log" record_one 1024x768 "$dur" "$REC_WORK/$name.mkv" "$out/$name.mp4" -- \
        "${preload[@]}" wesnoth -m --controller 1:ai --controller 2:ai --exit-at-end --nomusic --turns 40 -w -r 1024x768 \
        --rng-seed "$seed" --scenario "$map" "${era[@]}" --side "1:$s1" --side "2:$s2"
      sound_labels "$name" "$out"
      manifest_row "$out" "$name.mp4" wesnoth "$map" "$seed" "$s1" "$s2" "$(clip_seconds "$out/$name.mp4")" "$ENDED_EARLY" "$view"
    done
    ;;

  freedoom)
    out=$1; dur=${2:-204}; mkdir -p "$out"; start_pulse "$SINK"
    for wad in ${REC_MAP:-freedoom1 freedoom2}; do
      name="doomrec-$wad"; log "$name: demo loop"
      record_one 640x480 "$dur" "$REC_WORK/$name.mkv" "$out/$name.mp4" -- \
        /usr/games/chocolate-doom -iwad "/usr/share/games/doom/$wad.wad" -window -geometry 640x480 -nomusic
      manifest_row "$out" "$name.mp4" freedoom "$wad demo loop" 0 - - "$(clip_seconds "$out/$name.mp4")" "$ENDED_EARLY"
    done
    ;;

  warzone)
    out=$1; n=${2:-2}; dur=${3:-184}; mkdir -p "$out"; start_pulse "$SINK"
    sound_shim openal_log  # per-second labels: Warzone plays through OpenAL, its sounds come from .wz archives
    for _ in $(seq "$n"); do
      i=$(next_index "$out" wzrec)
      map=${REC_MAP:-${WZ_MAPS[$((RANDOM % ${#WZ_MAPS[@]}))]}}
      ai1=${WZ_AIS[$((RANDOM % ${#WZ_AIS[@]}))]}; ai2=${WZ_AIS[$((RANDOM % ${#WZ_AIS[@]}))]}
      name=$(printf "wzrec%03d" "$i"); cfg="$REC_WORK/wzcfg-$name"; rm -rf "$cfg"; mkdir -p "$cfg/tests"
      # config (music off), the --skirmish file and player 0's script (its AI + the camera director:
      # Warzone 4.3.3 never starts player 0's AI in this mode; see recording/wz_skirmish.py)
      python3 "$HERE/recording/wz_skirmish.py" "$cfg" "$name" "$map" "$ai1" "$ai2"
      log "$name: $map $ai1 vs $ai2"
      # --autogame runs the game at up to 500x speed (gameTimeSetMod(500) in the engine), so the
      # clock would race through a game in seconds: reset it to real time with the game's own
      # "Reset Game Speed" key (Ctrl+Backspace) as soon as the map is up (pressed a few times,
      # loading takes 4-10 s), and dismiss the "Campaign videos are missing" notice (top centre)
      (for t in 4 3 3 3 3 4; do sleep "$t"; DISPLAY=":$DISPLAY_NUM" xdotool mousemove 512 400 key ctrl+BackSpace 2>/dev/null || true; done
       # only while the notice's blue is under the button: a click that lands on the map selects a
       # building and opens its panels over a third of the picture
       for t in 2 4 4 4 4 4; do sleep "$t"
         if notice_at 558 80; then DISPLAY=":$DISPLAY_NUM" xdotool mousemove 558 80 click 1 mousemove 512 700 2>/dev/null || true; fi
       done) &
      rm -f "$REC_WORK/$name.sounds.log"
      FOLEY_SOUND_LOG="$REC_WORK/$name.sounds.log" record_one 1024x768 "$dur" "$REC_WORK/$name.mkv" "$out/$name.mp4" -- \
        "${preload[@]}" /usr/games/warzone2100 --configdir="$cfg" --window --resolution=1024x768 --sound \
        --skirmish="$name.json" --autogame
      sound_labels "$name" "$out"
      ai1=${ai1##*/}; ai2=${ai2##*/}
      manifest_row "$out" "$name.mp4" warzone2100 "$map" 0 "${ai1%.js}" "${ai2%.js}" "$(clip_seconds "$out/$name.mp4")" "$ENDED_EARLY"
    done
    ;;

  armagetron)
    # Armagetron Advanced (light cycles, 3-D): player 1 is a spectator, 3-7 AI cycles race until one is
    # left, round after round; the spectator camera rides behind a live cycle (engine hum, crashes)
    out=$1; n=${2:-1}; dur=${3:-184}; mkdir -p "$out"; start_pulse "$SINK"; SKIP_S=${REC_SKIP_S:-10}
    for _ in $(seq "$n"); do
      i=$(next_index "$out" aarec)
      map=${REC_MAP:-${AA_MAPS[$((RANDOM % ${#AA_MAPS[@]}))]}}
      ais=$((3 + RANDOM % 5)); arena=$((RANDOM % 3 - 3)); speed=$((RANDOM % 3 - 1))
      name=$(printf "aarec%03d" "$i"); cfg="$REC_WORK/aacfg-$name"; rm -rf "$cfg"; mkdir -p "$cfg/var" "$cfg/data"
      aa_user_cfg "$map" "$ais" "$arena" "$speed" >"$cfg/var/user.cfg"
      log "$name: $map, $ais AI cycles, arena size $arena, speed $speed"
      # the title screen gives way to the main menu after ~5 s or at a key ("x": does nothing in the menu);
      # then Play Game > Local Game starts the round
      keys_when_window "$DISPLAY_NUM" "Armagetron" 3 x sleep:1.5 Return sleep:1.5 Down Return &
      PIDS+=("$!")
      # SDL 1.2 names its PulseAudio driver "pulse" (SDL 2: "pulseaudio")
      record_one 640x480 "$dur" "$REC_WORK/$name.mkv" "$out/$name.mp4" -- \
        env SDL_AUDIODRIVER=pulse /usr/games/armagetronad -w --userconfigdir "$cfg" --vardir "$cfg/var" --userdatadir "$cfg/data"
      manifest_row "$out" "$name.mp4" armagetronad "$map" 0 "${ais}ai" "size${arena}speed${speed}" \
        "$(clip_seconds "$out/$name.mp4")" "$ENDED_EARLY"
    done
    ;;

  openarena)
    # OpenArena (first-person shooter): a free-for-all of 3-6 bots on a map; the local player turns
    # spectator following the leading bot (team follow1), so the view is a bot's own first-person view
    out=$1; n=${2:-1}; dur=${3:-184}; mkdir -p "$out"; start_pulse "$SINK"; SKIP_S=${REC_SKIP_S:-12}
    for _ in $(seq "$n"); do
      i=$(next_index "$out" oarec)
      map=${REC_MAP:-${OA_MAPS[$((RANDOM % ${#OA_MAPS[@]}))]}}
      nbots=$((3 + RANDOM % 4)); skill=$((2 + RANDOM % 3)); bots=()
      for b in $(printf "%s\n" "${OA_BOTS[@]}" | shuf -n "$nbots" --random-source=<(yes "$RANDOM")); do
        bots+=(+addbot "$b" "$skill")
      done
      name=$(printf "oarec%03d" "$i"); home="$REC_WORK/oahome-$name"; rm -rf "$home"; mkdir -p "$home"
      log "$name: $map, bots ${bots[*]}"
      # sound labels: with s_show 1 (a cheat cvar, hence devmap: a map with cheats allowed) the engine prints "<samples> : <sound file>" for every sound it starts;
      # its console goes through a FIFO to stamp_lines.py, which stamps each line with the wall clock
      fifo="$REC_WORK/$name.console"; rm -f "$fifo" "$REC_WORK/$name.sounds.log"; mkfifo "$fifo"
      python3 "$HERE/recording/stamp_lines.py" "$fifo" "$REC_WORK/$name.mkv.game.log" "$REC_WORK/$name.sounds.log" \
        '^-?[0-9]+ : (sound/[^ ]+)$' &
      PIDS+=("$!")
      # the local player becomes a spectator following the leading bot when F12 ("team follow1") is
      # pressed on the loaded map; pressed a few times, as loading takes 5-15 s
      keys_when_window "$DISPLAY_NUM" "^ioquake3$" 8 F12 sleep:3 F12 sleep:3 F12 sleep:5 F12 &
      PIDS+=("$!")
      GAME_LOG="$fifo" record_one 640x480 "$dur" "$REC_WORK/$name.mkv" "$out/$name.mp4" -- \
        /usr/games/openarena +set fs_homepath "$home" +set r_mode -1 +set r_customwidth 640 +set r_customheight 480 \
        +set r_fullscreen 0 +set s_useOpenAL 0 +set s_musicvolume 0 +set com_introplayed 1 +set cl_motd 0 \
        +set sv_pure 0 +set g_gametype 0 +set fraglimit 0 +set timelimit 0 +set g_doWarmup 0 +set cg_draw2D 0 \
        +set com_maxfps 20 +set com_ansiColor 0 +set con_notifytime 0 +set cl_noprint 1 +set s_show 1 +bind F12 "team follow1" \
        +devmap "$map" "${bots[@]}"
      sound_labels "$name" "$out"; rm -f "$fifo"
      manifest_row "$out" "$name.mp4" openarena "$map" 0 "$nbots bots" "skill $skill" \
        "$(clip_seconds "$out/$name.mp4")" "$ENDED_EARLY"
    done
    ;;

  hedgewars)
    # Hedgewars (turn-based artillery): 2-4 teams of bot hedgehogs on a generated map of a theme; the
    # engine runs a saved game of two messages whose Lua script (recording/hedgewars_ai.lua) makes
    # every hedgehog a bot, and its camera follows the active hedgehog and its shots
    out=$1; n=${2:-1}; dur=${3:-184}; mkdir -p "$out"; start_pulse "$SINK"; SKIP_S=${REC_SKIP_S:-6}
    sound_shim  # Hedgewars plays through SDL_mixer too: the same logger gives per-second labels
    for _ in $(seq "$n"); do
      i=$(next_index "$out" hwrec)
      theme=${REC_MAP:-${HW_THEMES[$((RANDOM % ${#HW_THEMES[@]}))]}}
      [ -d "/usr/share/games/hedgewars/Data/Themes/$theme" ] || { log "no Hedgewars theme '$theme'"; exit 2; }
      seed=${REC_SEED:-$((RANDOM + 2000))}; teams=$((2 + RANDOM % 3)); bot=$((1 + RANDOM % 3))
      mapgen=$( [ $((RANDOM % 4)) -eq 0 ] && echo mgMaze || echo mgRandom ); feature=$((8 + RANDOM % 20))
      name=$(printf "hwrec%03d" "$i"); up="$REC_WORK/hwdata-$name"; rm -rf "$up"; mkdir -p "$up/Data/Missions/Training"
      sed -e "s/@TEAMS@/$teams/; s/@BOTLEVEL@/$bot/; s/@SEED@/$seed/; s/@MAPGEN@/$mapgen/; s/@FEATURE@/$feature/" \
        -e "s/@THEME@/$theme/" "$HERE/recording/hedgewars_ai.lua" >"$up/Data/Missions/Training/FoleyRecorder.lua"
      python3 -c "import sys; m = [b'TS', b'escript Missions/Training/FoleyRecorder.lua']
sys.stdout.buffer.write(b''.join(bytes([len(x)]) + x for x in m))" >"$up/game.hws"
      log "$name: theme $theme, $mapgen, $teams teams, bot level $bot, seed $seed"
      rm -f "$REC_WORK/$name.sounds.log"
      FOLEY_SOUND_LOG="$REC_WORK/$name.sounds.log" record_one 640x480 "$dur" "$REC_WORK/$name.mkv" "$out/$name.mp4" -- \
        "${preload[@]}" /usr/lib/hedgewars/bin/hwengine "$up/game.hws" --prefix /usr/share/games/hedgewars/Data --user-prefix "$up" \
        --width 640 --height 480 --nomusic --volume 90 --no-holiday-silliness
      sound_labels "$name" "$out"
      manifest_row "$out" "$name.mp4" hedgewars "$theme" "$seed" "${teams} teams" "bot $bot $mapgen" \
        "$(clip_seconds "$out/$name.mp4")" "$ENDED_EARLY"
    done
    ;;

  openttd)
    # OpenTTD (transport simulation): the title game's savegame (the network behind the main menu: trains,
    # buses, lorries, trams, ships, aircraft, industries, towns) played as a game with no one at the
    # controls; a game script (recording/openttd_camera) keeps the view on moving vehicles of one region
    out=$1; n=${2:-1}; dur=${3:-184}; mkdir -p "$out"; start_pulse "$SINK"; SKIP_S=${REC_SKIP_S:-6}
    save=/usr/share/games/openttd/baseset/opntitle.dat
    [ -f "$save" ] || { log "no $save (apt-get install openttd)"; exit 2; }
    for _ in $(seq "$n"); do
      i=$(next_index "$out" ottdrec)
      region=${REC_MAP:-${OTTD_REGIONS[$((RANDOM % ${#OTTD_REGIONS[@]}))]}}
      [[ "$region" =~ ^r[012][012]$ ]] || { log "REC_MAP for openttd is a region r00..r22, not '$region'"; exit 2; }
      seed=${REC_SEED:-$((RANDOM + 2000))}
      name=$(printf "ottdrec%03d" "$i"); home="$REC_WORK/ottd-$name"; rm -rf "$home"
      gs="$home/data/openttd/game/FoleyCamera"; mkdir -p "$gs" "$home/config"
      cp "$HERE/recording/openttd_camera/info.nut" "$gs/"
      # one vehicle for 220-450 ticks (6-12 s), then the next
      sed -e "s/@REGION@/$region/; s/@MIN_FOLLOW@/220/; s/@MAX_FOLLOW@/450/" \
        "$HERE/recording/openttd_camera/main.nut" >"$gs/main.nut"
      ottd_cfg >"$home/openttd.cfg"
      log "$name: title game, camera region $region, seed $seed"
      # once the window is up: zoom in one step ("=", the game's zoom-in key; vehicles twice as large) and
      # park the pointer in the bottom right corner (OpenTTD draws its own cursor, which the grab would show)
      (until DISPLAY=":$DISPLAY_NUM" xdotool search --onlyvisible --name "^OpenTTD" >/dev/null 2>&1 </dev/null; do sleep 0.5; done
       for t in 3 2 2; do sleep "$t"; DISPLAY=":$DISPLAY_NUM" xdotool mousemove 639 479 2>/dev/null || true; done
       DISPLAY=":$DISPLAY_NUM" xdotool key equal 2>/dev/null || true) &
      PIDS+=("$!")
      # asked to quit in a game, OpenTTD opens a "really quit?" box: record_one's SIGKILL after 5 s ends it
      record_one 640x480 "$dur" "$REC_WORK/$name.mkv" "$out/$name.mp4" -- \
        env XDG_DATA_HOME="$home/data" XDG_CONFIG_HOME="$home/config" /usr/games/openttd -c "$home/openttd.cfg" -x \
        -r 640x480 -v sdl -s sdl -m null -M NoMusic -G "$seed" -d script=4 -g "$save"
      manifest_row "$out" "$name.mp4" openttd "$region" "$seed" "title game" "follow vehicles" \
        "$(clip_seconds "$out/$name.mp4")" "$ENDED_EARLY"
    done
    ;;

  sync)
    out=$1; mkdir -p "$out"; start_pulse "$SINK"
    PY=${PYTHON:-"$HERE/../.venv/bin/python"}
    "$PY" "$HERE/recording/sync_test.py" make "$REC_WORK/synctest.mkv" --seconds 30
    CAPTURE_FPS=${CAPTURE_FPS_SYNC:-30} SKIP_S=0 OUT_SIZE=640x480 \
      record_one 640x480 34 "$REC_WORK/sync-capture.mkv" "$out/sync-recorded.mp4" -- \
      ffplay -hide_banner -loglevel error -autoexit -noborder -left 0 -top 0 -x 640 -y 480 "$REC_WORK/synctest.mkv"
    "$PY" "$HERE/recording/sync_test.py" analyze "$out/sync-recorded.mp4" --json "$out/sync-result.json"
    # the same without a media player: xsetroot flashes + paplay clicks started together
    CAPTURE_FPS=${CAPTURE_FPS_SYNC:-30} SKIP_S=0 OUT_SIZE=640x480 \
      record_one 640x480 30 "$REC_WORK/sync2-capture.mkv" "$out/sync2-recorded.mp4" -- \
      "$PY" "$HERE/recording/flash_click.py" "$out" 29
    "$PY" "$HERE/recording/sync_test.py" analyze "$out/sync2-recorded.mp4" --json "$out/sync2-result.json"
    ;;

  *)
    sed -n '2,/^set -euo/{/^set -euo/!p}' "$0"; exit 2 ;;
esac
exit
}
