#!/usr/bin/env bash
# Distributed training on one or more nodes with torchrun.
#   bash tools/dist_train.sh CONFIG NPROC [train.py options...]
# On machines without CUDA the processes use the gloo backend on CPU.
# PYTHON selects the interpreter (default: python on the PATH).
set -euo pipefail
usage() {  # a mistake in the arguments: usage, one error line, exit 2
    echo "usage: bash tools/dist_train.sh CONFIG NPROC [train.py options...]" >&2
    echo "dist_train.sh: error: $1" >&2
    exit 2
}
[ $# -ge 2 ] || usage "missing $([ $# -eq 0 ] && echo 'CONFIG and ')NPROC (processes per node)"
[[ $2 =~ ^[1-9][0-9]*$ ]] || usage "NPROC must be a number of processes (1 or more), got '$2'"
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}  # the interpreter with torch (e.g. .venv/bin/python)
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$NPROC" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
