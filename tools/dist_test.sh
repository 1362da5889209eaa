#!/usr/bin/env bash
# Distributed evaluation with torchrun.
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options...]
# NNODES, NODE_RANK, MASTER_ADDR, PORT: several nodes; PYTHON: the
# interpreter (default: python on the PATH); see tools/lib/torchrun.sh.
set -euo pipefail
# shellcheck source=lib/torchrun.sh
. "$(dirname "$0")/lib/torchrun.sh"
USAGE="bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options...]"
[ $# -ge 3 ] || dist_usage "$USAGE" "missing arguments: got $#, need CONFIG CHECKPOINT NPROC (processes per node)"
dist_check_nproc "$USAGE" "$3"
dist_run "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"
