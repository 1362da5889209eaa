#!/usr/bin/env bash
# Distributed evaluation with torchrun.
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options...]
set -euo pipefail
usage() {  # a mistake in the arguments: usage, one error line, exit 2
    echo "usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options...]" >&2
    echo "dist_test.sh: error: $1" >&2
    exit 2
}
[ $# -ge 3 ] || usage "missing arguments: got $#, need CONFIG CHECKPOINT NPROC (processes per node)"
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
    "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
