#!/usr/bin/env bash
# Scene prediction shared among processes and nodes with torchrun: the
# scenes (and row bands of large ones) are split among the processes, the
# class maps are those of one process (mmseg_stunet/apis/batch_predict.py).
#   bash tools/dist_predict.sh CONFIG CHECKPOINT NPROC INPUT... --out-dir DIR [predict.py options...]
# CPU processes use gloo, --device cuda ones nccl (one GPU per process).
# NNODES, NODE_RANK, MASTER_ADDR, PORT: several nodes; PYTHON: the interpreter.
set -euo pipefail
usage() {  # a mistake in the arguments: usage, one error line, exit 2
    echo "usage: bash tools/dist_predict.sh CONFIG CHECKPOINT NPROC INPUT... --out-dir DIR [predict.py options...]" >&2
    echo "dist_predict.sh: error: $1" >&2
    exit 2
}
[ $# -ge 4 ] || usage "missing arguments: got $#, need CONFIG CHECKPOINT NPROC (processes per node) and INPUT"
[[ $3 =~ ^[1-9][0-9]*$ ]] || usage "NPROC must be a number of processes (1 or more), got '$3'"
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}  # the interpreter with torch (e.g. .venv/bin/python)
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$NPROC" \
    "$(dirname "$0")/predict.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
