# shellcheck shell=bash
# run_logged LOG WHAT CMD...: run CMD in the background with all its output
# appended to LOG; print "[setup] WHAT ... N min S s elapsed (log: LOG)" at
# least every STUNET_PROGRESS_INTERVAL seconds (default 60). Returns CMD's exit
# status; on failure prints the last 20 lines of LOG, then one line naming LOG.
# While CMD runs its process id is in STUNET_BG_PID (a caller's EXIT trap can
# call stop_background to end it and everything it started).

STUNET_BG_PID=''

fmt_elapsed() {  # seconds -> "4 min 0 s"
    printf '%d min %d s' $(($1 / 60)) $(($1 % 60))
}

stop_background() {
    [ -n "$STUNET_BG_PID" ] || return 0
    # the command runs in its own process group when setsid exists
    kill -TERM -- "-$STUNET_BG_PID" 2>/dev/null || kill -TERM "$STUNET_BG_PID" 2>/dev/null || true
    STUNET_BG_PID=''
}

run_logged() {
    local log="$1" what="$2"
    shift 2
    local interval="${STUNET_PROGRESS_INTERVAL:-60}" start last pid rc=0
    mkdir -p "$(dirname "$log")"
    start=$SECONDS
    last=$start
    if command -v setsid >/dev/null 2>&1; then
        setsid "$@" >>"$log" 2>&1 </dev/null &
    else
        "$@" >>"$log" 2>&1 </dev/null &
    fi
    pid=$!
    STUNET_BG_PID=$pid
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        if [ $((SECONDS - last)) -ge "$interval" ]; then
            last=$SECONDS
            printf '[setup] %s ... %s elapsed (log: %s)\n' \
                "$what" "$(fmt_elapsed $((SECONDS - start)))" "$log" >&2
        fi
    done
    wait "$pid" || rc=$?
    STUNET_BG_PID=''
    if [ "$rc" -ne 0 ]; then
        printf '[setup] last lines of %s:\n' "$log" >&2
        tail -n 20 "$log" | sed 's/^/    /' >&2
        printf '[setup] error: %s failed (exit status %d) after %s; full log: %s\n' \
            "$what" "$rc" "$(fmt_elapsed $((SECONDS - start)))" "$log" >&2
        return "$rc"
    fi
    printf '[setup] %s: done in %s (log: %s)\n' "$what" "$(fmt_elapsed $((SECONDS - start)))" "$log" >&2
}
