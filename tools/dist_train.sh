#!/usr/bin/env bash
# Distributed training on one or more nodes with torchrun.
#   bash tools/dist_train.sh CONFIG NPROC [train.py options...]
# On machines without CUDA the processes use the gloo backend on CPU.
# NNODES, NODE_RANK, MASTER_ADDR, PORT: several nodes; PYTHON: the
# interpreter (default: python on the PATH); see tools/lib/torchrun.sh.
set -euo pipefail
# shellcheck source=lib/torchrun.sh
. "$(dirname "$0")/lib/torchrun.sh"
USAGE="bash tools/dist_train.sh CONFIG NPROC [train.py options...]"
[ $# -ge 2 ] || dist_usage "$USAGE" "missing $([ $# -eq 0 ] && echo 'CONFIG and ')NPROC (processes per node)"
dist_check_nproc "$USAGE" "$2"
dist_run "$2" train.py "$1" --launcher pytorch "${@:3}"
