# Shared by tools/dist_{train,test,predict}.sh (sourced): argument checks
# and the torchrun call. Environment: NNODES (1), NODE_RANK (0),
# MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python: the interpreter
# with torch, e.g. .venv/bin/python).

# dist_usage USAGE MESSAGE: a mistake in the arguments: the usage, one
# error line naming the script, exit 2
dist_usage() {
    echo "usage: $1" >&2
    echo "$(basename "$0"): error: $2" >&2
    exit 2
}

# dist_check_nproc USAGE NPROC: NPROC is a number of processes per node
dist_check_nproc() {
    [[ $2 =~ ^[1-9][0-9]*$ ]] || dist_usage "$1" "NPROC must be a number of processes (1 or more), got '$2'"
}

# dist_run NPROC SCRIPT ARGS...: torchrun NPROC processes per node of
# tools/SCRIPT ARGS... (replaces the shell)
dist_run() {
    local nproc=$1 script=$2
    shift 2
    exec "${PYTHON:-python}" -m torch.distributed.run --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --master_port="${PORT:-29500}" --nproc_per_node="$nproc" \
        "$(dirname "$0")/$script" "$@"
}
