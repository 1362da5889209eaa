#!/usr/bin/env bash
# Scene prediction shared among processes and nodes with torchrun: the
# scenes (and row bands of large ones) are split among the processes, the
# class maps are those of one process (mmseg_stunet/apis/batch_predict.py).
#   bash tools/dist_predict.sh CONFIG CHECKPOINT NPROC INPUT... --out-dir DIR [predict.py options...]
# CPU processes use gloo, --device cuda ones nccl (one GPU per process).
# NNODES, NODE_RANK, MASTER_ADDR, PORT: several nodes; PYTHON: the
# interpreter (default: python on the PATH); see tools/lib/torchrun.sh.
set -euo pipefail
# shellcheck source=lib/torchrun.sh
. "$(dirname "$0")/lib/torchrun.sh"
USAGE="bash tools/dist_predict.sh CONFIG CHECKPOINT NPROC INPUT... --out-dir DIR [predict.py options...]"
[ $# -ge 4 ] || dist_usage "$USAGE" "missing arguments: got $#, need CONFIG CHECKPOINT NPROC (processes per node) and INPUT"
dist_check_nproc "$USAGE" "$3"
dist_run "$3" predict.py "$1" "$2" --launcher pytorch "${@:4}"
