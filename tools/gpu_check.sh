#!/usr/bin/env bash
# The GPU proof in one call, inside a hard time budget: every step has its own
# time limit, so a report is always written.
#
#   bash tools/gpu_check.sh OUT_DIR [--wheels DIR] [--budget SECONDS] [--cuda-ops]
#   bash tools/gpu_check.sh --rehearse OUT_DIR [--wheels DIR]
#
# Made for a lent GPU machine with Python, a CUDA torch, nvcc and no network
# (16 cores + one H200 here): carry the wheels folder that
#   bash tools/fetch_wheels.sh gpu_wheels --gpu-lease
# fills (under 56 MiB; the checkout ignores gpu_wheels/) and run this script
# in the checkout there. Steps, with their budgets in seconds (sum 540 <= 540),
# sized by the first run on an H200 (16 cores; each step that starts Python with
# torch and the OpenMMLab stack spends about 15 s on that):
#   install        220  tools/setup_env.sh --system --wheels DIR --no-cuda-ops:
#                       offline into the machine's own torch, mmcv 2.1.0 with its
#                       CPU ops built on all cores (measured: 187 s on a fresh
#                       machine, of which the mmcv build 119 s; about 20 s when
#                       already done). --cuda-ops: the CUDA ops too, budget +420 s
#                       (not measured), the total raised to match
#   env             25  GPU, driver, torch, CUDA, cuDNN, library versions
#   cuda_tests      40  pytest -m cuda: DCN back-ends against each other and the
#                       CPU kernel in fp32/fp16/bf16, forward and every gradient;
#                       every AMP config builds and takes a step on the GPU
#   data            30  synthetic raw ISPRS Vaihingen archives -> converter -> tiles;
#                       a 4096x4096 GeoTIFF and a random-init paper checkpoint
#   train          140  in one process: the paper ST-UNet (batch 8, 256x256) with
#                       AMP and in fp32, mmseg's DeepLabV3+ R-50 with AMP, about
#                       25 s each: the loss must fall and stay finite; images/s,
#                       peak GPU memory, GradScaler skipped steps
#   dcn             30  DeformConvV2 fwd+bwd at the four ST-UNet stage shapes,
#                       batch 8: plain conv, the PyTorch kernel, torchvision's and
#                       mmcv's ops where there; which one 'auto' picks
#   predict         40  tools/predict.py on the 4096x4096 GeoTIFF: Mpx/s
#   report          15  OUT_DIR/gpu_report.md and gpu_report.json
# A step that runs past its budget is stopped and reported as such; one whose
# prerequisite failed is skipped with the reason. The whole run stops within
# --budget (default 540 s): a step gets at most what is left of it.
#
#   --rehearse     the same steps on CPU at tiny sizes, CUDA steps skipped with
#                  the reason: proves the script before a GPU is there (CI runs
#                  it, tests/e2e/test_gpu_check.py). Without --wheels the
#                  install step only prints the set-up's plan (--dry-run).
#   --wheels DIR   the carried folder (default: <checkout>/gpu_wheels)
#   --budget S     the hard limit for the whole run
#   --cuda-ops     build mmcv's CUDA ops for this GPU's architecture as well
#   STUNET_PYTHON  the interpreter that has torch (default: python3)
#
# OUT_DIR receives three files: gpu_report.md, gpu_report.json and
# gpu_check.log (every step's output).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,/^set -uo pipefail/{/^set /d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { printf 'gpu_check: error: %s\n' "$*" >&2; exit 2; }

MODE=gpu
OUT=''
WHEELS="$ROOT/gpu_wheels"
WHEELS_GIVEN=0
BUDGET=''
CUDA_OPS=0
while [ $# -gt 0 ]; do
    case "$1" in
    --rehearse) MODE=rehearse ;;
    --wheels) [ $# -ge 2 ] || die "--wheels needs a folder"; WHEELS="$2"; WHEELS_GIVEN=1; shift ;;
    --budget) [ $# -ge 2 ] || die "--budget needs seconds"; BUDGET="$2"; shift ;;
    --cuda-ops) CUDA_OPS=1 ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$OUT" ] || die "one output folder only ('$OUT' and '$1')"; OUT="$1" ;;
    esac
    shift
done
[ -n "$OUT" ] || { usage >&2; exit 2; }
INSTALL_BUDGET=220
if [ "$CUDA_OPS" = 1 ]; then INSTALL_BUDGET=640; fi
if [ -z "$BUDGET" ]; then BUDGET=$((320 + INSTALL_BUDGET)); fi
[[ "$BUDGET" =~ ^[0-9]+$ ]] && [ "$BUDGET" -ge 60 ] || die "--budget wants whole seconds >= 60 (got '$BUDGET')"
if [ -e "$OUT" ] && [ ! -d "$OUT" ]; then die "OUT_DIR exists and is not a folder: $OUT"; fi
mkdir -p "$OUT" || die "cannot create OUT_DIR: $OUT"
OUT="$(cd "$OUT" && pwd)"
PY="${STUNET_PYTHON:-python3}"
PY="$("$PY" -c 'import sys; print(sys.executable)' 2>/dev/null)" || die "cannot run '${STUNET_PYTHON:-python3}' (set STUNET_PYTHON)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/status" "$WORK/results"
LOG="$OUT/gpu_check.log"
: >"$LOG"
START=$SECONDS
REPORT_RESERVE=15
NPROC="$(nproc)"

# sizes: the real check, or tiny ones for the CPU rehearsal
if [ "$MODE" = gpu ]; then
    DATA_ARGS=(--area-size 512 --tile 256 --train-areas 4 --scene 4096)
    TRAIN_ARGS=(--batch 8 --crop 256 --iters 300 --max-seconds 25
        --workers "$((NPROC > 8 ? 8 : NPROC))" --require-fall)
    DCN_ARGS=(--batch 8 --repeat 10 --device cuda)
    PREDICT_ARGS=(--device cuda --batch 16)
else
    DATA_ARGS=(--area-size 128 --tile 64 --train-areas 2 --scene 256)
    TRAIN_ARGS=(--batch 2 --crop 64 --iters 3 --max-seconds 60 --workers 0)
    DCN_ARGS=(--batch 1 --repeat 2 --device cpu --shapes 16x16 32x8 --no-memory)
    PREDICT_ARGS=(--device cpu --batch 2)
fi

say() { printf '[gpu_check %4ds] %s\n' "$((SECONDS - START))" "$*" | tee -a "$LOG" >&2; }

status() {  # name status seconds budget
    "$PY" - "$WORK/status/$1.json" "$1" "$2" "$3" "$4" <<'EOF'
import json, sys
path, name, status, seconds, budget = sys.argv[1:]
with open(path, 'w') as f:
    json.dump(dict(name=name, status=status, seconds=float(seconds),
                   budget=int(budget)), f)
EOF
}
ok() { [ "$(sed -n 's/.*"status": "\([a-z]*\).*/\1/p' "$WORK/status/$1.json" 2>/dev/null)" = ok ]; }

# step NAME BUDGET CMD...: run CMD with the smaller of BUDGET and what is left;
# exit 0 -> ok, 75 -> skipped (the last output line says why), 124/137 ->
# stopped at its limit, else failed (with the last output line)
step() {
    local name="$1" budget="$2" left limit t0 rc last
    shift 2
    left=$((BUDGET - (SECONDS - START) - REPORT_RESERVE))
    limit=$((budget < left ? budget : left))
    if [ "$limit" -lt 5 ]; then
        say "$name: skipped, the run's budget of $BUDGET s is spent"
        status "$name" "skipped: the run's budget of $BUDGET s is spent" 0 "$budget"
        return
    fi
    say "$name: start (limit $limit s)"
    printf '$ %s\n' "$*" >>"$LOG"
    t0=$SECONDS
    timeout -k 10 "$limit" "$@" >"$WORK/step.log" 2>&1
    rc=$?
    cat "$WORK/step.log" >>"$LOG"
    last="$(grep -v '^\s*$' "$WORK/step.log" | tail -n 1 | cut -c1-300 | tr '"\\' "'/")"
    case "$rc" in
    0) status "$name" ok "$((SECONDS - t0))" "$budget" ;;
    75) status "$name" "skipped: ${last#error: }" "$((SECONDS - t0))" "$budget" ;;
    124 | 137) status "$name" "stopped at its limit of $limit s" "$((SECONDS - t0))" "$budget" ;;
    *) status "$name" "failed (exit $rc): $last" "$((SECONDS - t0))" "$budget" ;;
    esac
    say "$name: rc=$rc after $((SECONDS - t0)) s"
}
skip() {  # name budget reason
    say "$1: skipped: $3"
    status "$1" "skipped: $3" 0 "$2"
}

STEPS="$ROOT/tools/gpu_check.py"
say "mode=$MODE budget=${BUDGET}s python=$PY cores=$NPROC out=$OUT"

# 1. install
if [ "$MODE" = gpu ] || [ "$WHEELS_GIVEN" = 1 ]; then
    [ -d "$WHEELS" ] || say "no wheels folder $WHEELS (tools/fetch_wheels.sh DIR --gpu-lease fills one)"
    ops=(--no-cuda-ops)
    if [ "$CUDA_OPS" = 1 ]; then ops=(); fi
    step install "$INSTALL_BUDGET" env STUNET_PYTHON="$PY" MAX_JOBS="$NPROC" \
        bash "$ROOT/tools/setup_env.sh" --system --wheels "$WHEELS" "${ops[@]}"
else
    step install "$INSTALL_BUDGET" env STUNET_PYTHON="$PY" \
        bash "$ROOT/tools/setup_env.sh" --system --dry-run
fi
if ok install && "$PY" -c 'import mmseg_stunet, mmseg, mmcv.ops' >/dev/null 2>&1; then
    READY=1
else
    READY=0
    say "the stack does not import: the steps that need it are skipped"
fi
need_stack() {  # name budget cmd...
    if [ "$READY" = 1 ]; then step "$@"; else skip "$1" "$2" "the install step failed"; fi
}

# 2. environment, 3. the suite's CUDA cases
need_stack env 25 "$PY" "$STEPS" env --json "$WORK/results/env.json"
# (on CPU every CUDA case must skip cleanly: -rs lists them with the reason)
need_stack cuda_tests 40 "$PY" -m pytest -q -m cuda -p no:cacheprovider -rs --continue-on-collection-errors "$ROOT/tests"

# 4. training runs on synthetic ISPRS data, 5. DCN back-ends, 6. prediction
need_stack data 30 "$PY" "$STEPS" data --root "$WORK/data" "${DATA_ARGS[@]}"
if ok data; then
    need_stack train 140 "$PY" "$STEPS" train --data "$WORK/data/data" \
        --work-dir "$WORK/train" --results "$WORK/results" "${TRAIN_ARGS[@]}" \
        --run train_stunet_amp configs/st_unet/st-unet_1xb8-amp-100e_vaihingen-256x256.py \
        --run train_stunet_fp32 configs/st_unet/st-unet_1xb8-100e_vaihingen-256x256.py \
        --run train_deeplabv3plus_amp configs/deeplabv3plus/deeplabv3plus_r50-d8_1xb8-amp-100e_vaihingen-256x256.py
else
    skip train 140 "no training data (the data step failed)"
fi
need_stack dcn 30 "$PY" "$STEPS" dcn --json "$WORK/results/dcn.json" "${DCN_ARGS[@]}"
if ok data; then
    need_stack predict 40 "$PY" "$STEPS" predict --root "$WORK/data" \
        --json "$WORK/results/predict.json" "${PREDICT_ARGS[@]}"
else
    skip predict 40 "no scene (the data step failed)"
fi
if [ "$CUDA_OPS" = 0 ]; then
    skip mmcv_cuda_ops 0 "not built: the CPU ops alone take about 2 minutes on 16 cores (--cuda-ops builds the CUDA ops too, with 420 s more); DeformConvV2 runs torchvision's op or its PyTorch kernel without them"
fi

# 7. the report (always)
"$PY" "$STEPS" report --work "$WORK" --out "$OUT" --mode "$MODE" --budget "$BUDGET" \
    >>"$LOG" 2>&1 || say "report: failed, see $LOG"
failed="$(grep -l '"status": "\(failed\|stopped\)' "$WORK"/status/*.json 2>/dev/null | wc -l)"
say "done in $((SECONDS - START)) s: $OUT/gpu_report.md ($failed step(s) failed or stopped)"
[ "$failed" = 0 ]
