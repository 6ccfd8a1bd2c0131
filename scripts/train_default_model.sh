#!/usr/bin/env bash
# The exact commands that trained and evaluated the shipped default model (resources/models/default.pt).
# CPU only (no GPU lent), compact variant, bounded by --max-steps so that a run fits a session;
# re-running a line with --resume continues a killed run exactly where it stopped.
#
#   scripts/train_default_model.sh train PRESET [EXTRA TRAIN OPTIONS]   # one run into $RUNS/PRESET...
#   scripts/train_default_model.sh eval RUN_DIR                          # paper protocol + library eval
#   scripts/train_default_model.sh index RUN_DIR [all]                   # index Wesnoth's sounds (and the whole library)
set -euo pipefail
cd "$(dirname "$0")/.."
FE=${FE:-.venv/bin/foley-engine}
DATA=${DATA:-/work/datasets/gameplay-bymap}        # starter corpus prepared with --groups (split by map)
CLIPS=${CLIPS:-/work/shared/data/gameplay/clips}   # the clips with their *_labels.tsv
LIB=${LIB:-/work/data/library}                     # scripts/build_sound_library.py --out $LIB
RUNS=${RUNS:-/work/runs/train}
MAX_STEPS=${MAX_STEPS:-1500}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one thread: on a shared, busy CPU, OpenMP spin-waits burn the share

cmd=${1:-}; shift || true
case "$cmd" in
  train)
    preset=$1; shift
    name=${RUN_NAME:-$preset}
    resume=(); [ -f "$RUNS/$name/last.pt" ] && resume=(--resume)
    "$FE" train -d "$DATA" -o "$RUNS/$name" -p "$preset" --variant compact --device cpu \
      --max-steps "$MAX_STEPS" --pairs-per-epoch "${PAIRS_PER_EPOCH:-3200}" --checkpoint-every-minutes 5 --no-progress "${resume[@]}" "$@"
    ;;
  index)
    run=$1
    "$FE" index "$LIB/wesnoth" --model "$run/best.pt" --db "$run/index-wesnoth"
    if [ "${2:-}" = all ]; then "$FE" index "$LIB" --model "$run/best.pt" --db "$run/index-all"; fi
    ;;
  eval)
    run=$1
    "$FE" evaluate -c "$run/best.pt" -d "$DATA" --split test --device cpu -o "$run/eval"
    "$FE" evaluate-library -c "$run/best.pt" --videos "$CLIPS" --labels-glob '*_labels.tsv' \
      --library-db "$run/index-wesnoth" --split-from "$DATA" -o "$run/eval"
    ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
