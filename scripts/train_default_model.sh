#!/usr/bin/env bash
# The exact commands that trained and evaluated the scratch-tower runs in resources/models/eval/<run>/
# (see MODEL_CARD.md; the shipped pretrained-tower model is made by docs/pretrained.md). CPU only.
#
#   scripts/train_default_model.sh small PRESET RUN_NAME [OPTS]   # foley-engine train, small variant (previous default: small m5 m5-gw-e16)
#   scripts/train_default_model.sh train PRESET [OPTS]             # foley-engine train, compact variant (RUN_NAME=...)
#   scripts/train_default_model.sh index RUN_DIR [all]             # index Wesnoth's sounds (and the whole library)
#   scripts/train_default_model.sh eval RUN_DIR                    # foley-engine evaluate + evaluate-library (test and val maps of EVAL_DATA)
#
# Required: DATA (train/small), EVAL_DATA and CLIPS (eval), LIB (index); RUNS defaults to runs/train.
#
# The runs (CPU; see resources/models/MODEL_CARD.md):
#   on the starter corpus plus Warzone (DATA from foley-engine combine gameplay-bymap warzone):
#     DATA=... scripts/train_default_model.sh small m5 m5-gw-e16 --lr 0.01 --skip-silent --epochs 16   # previous default: best = epoch 16
#     the same continued to --epochs 30 (m5-gw-e30); with warzone3 too (m5-gw2-e16);
#     DATA=... RUN_NAME=m5-compact-gw-e16 scripts/train_default_model.sh train m5 --lr 0.01 --skip-silent --epochs 16 (stopped at 12);
#     RUN_NAME=m5-compact-e16 scripts/train_default_model.sh train m5 --lr 0.01 --skip-silent --epochs 16 (starter corpus)
#   on the starter corpus, three runs side by side, stopped after epoch 16 (then kill -TERM):
#     scripts/train_default_model.sh small m5 m5-e30 --lr 0.01 --skip-silent --epochs 30   # best = epoch 5
#     scripts/train_default_model.sh small m3 m3-e30 --lr 0.01 --skip-silent --epochs 30
#     scripts/train_default_model.sh small m1 m1-e30 --lr 0.01 --skip-silent --epochs 30
#   and: small m5 m5-noskip-e16 --lr 0.01 --epochs 16; small m1 m1-lr001-e16 --lr 0.001 --skip-silent --epochs 16;
#   small m5 m5-small-noskip --lr 0.01 (6 epochs); RUN_NAME=m5-lr01 ... train m5 --skip-silent --lr 0.01 (compact, 1 epoch)
#   then for each run: index RUN_DIR; eval RUN_DIR. kill -TERM stops a run with a checkpoint;
#   running the same line again resumes it.
set -euo pipefail
cd "$(dirname "$0")/.."
FE=${FE:-.venv/bin/foley-engine}
DATA=${DATA:-}            # training data: the starter corpus prepared with --groups (split by map)
EVAL_DATA=${EVAL_DATA:-}  # held-out maps every run is measured on, whatever it trained on
CLIPS=${CLIPS:-}          # the clips with their *_labels.tsv
LIB=${LIB:-}              # scripts/build_sound_library.py --out $LIB
RUNS=${RUNS:-runs/train}
need() { for v in "$@"; do [ -n "${!v}" ] || { echo "set $v (see the header of $0)" >&2; exit 2; }; done; }
MAX_STEPS=${MAX_STEPS:-}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one thread: on a shared, busy CPU, OpenMP spin-waits burn the share

cmd=${1:-}; shift || true
case "$cmd" in
  train)
    need DATA
    preset=$1; shift
    name=${RUN_NAME:-$preset}
    resume=(); [ -f "$RUNS/$name/last.pt" ] && resume=(--resume)
    "$FE" train -d "$DATA" -o "$RUNS/$name" -p "$preset" --variant compact --device cpu \
      ${MAX_STEPS:+--max-steps "$MAX_STEPS"} --pairs-per-epoch "${PAIRS_PER_EPOCH:-3200}" --checkpoint-every-minutes 5 --no-progress "${resume[@]}" "$@"
    ;;
  small)
    need DATA
    preset=$1; name=$2; shift 2
    resume=(); [ -f "$RUNS/$name/last.pt" ] && resume=(--resume)
    "$FE" train -d "$DATA" -o "$RUNS/$name" -p "$preset" --variant small --device cpu \
      ${MAX_STEPS:+--max-steps "$MAX_STEPS"} --pairs-per-epoch "${PAIRS_PER_EPOCH:-3200}" --checkpoint-every-minutes 5 --no-progress "${resume[@]}" "$@"
    ;;
  index)
    need LIB
    run=$1
    "$FE" index "$LIB/wesnoth" --model "$run/best.pt" --db "$run/index-wesnoth"
    if [ "${2:-}" = all ]; then "$FE" index "$LIB" --model "$run/best.pt" --db "$run/index-all"; fi
    ;;
  eval)
    need EVAL_DATA CLIPS
    run=$1
    # 5 test videos: one frame per video (the paper's list) would rank 5 clips; take every
    # non-silent second, up to 40 per video (94 clips on the starter corpus's by-map split)
    "$FE" evaluate -c "$run/best.pt" -d "$EVAL_DATA" --split test --per-video 40 --skip-silent --device cpu -o "$run/eval"
    "$FE" evaluate-library -c "$run/best.pt" --videos "$CLIPS" --labels-glob '*_labels.tsv' \
      --library-db "$run/index-wesnoth" --split-from "$EVAL_DATA" -o "$run/eval"
    # the same on the validation maps: they may choose the shipped model, the test maps may not
    "$FE" evaluate -c "$run/best.pt" -d "$EVAL_DATA" --split val --per-video 40 --skip-silent --device cpu -o "$run/eval-val"
    "$FE" evaluate-library -c "$run/best.pt" --videos "$CLIPS" --labels-glob '*_labels.tsv' \
      --library-db "$run/index-wesnoth" --split-from "$EVAL_DATA" --split val -o "$run/eval-val"
    ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac
