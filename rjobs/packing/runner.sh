#!/bin/sh
# The packed-job runner: many work items (grid cells, batches) in one job, K Rscript processes at a time.
#
# It runs inside the job's container, where there is no Python: POSIX sh plus coreutils (timeout, date, cp, mv),
# which rocker/r-ver and every Debian image have. Shell rather than R's parallel::mcparallel because the pool
# (xargs -P), the per-item timeout (timeout) and atomic status files (mv) are each one well-tested tool here,
# nothing forks a running R session, and a killed runner leaves no half-written state: R would need its own
# reaping and timeout code for what xargs and timeout already do.
#
# Usage:  sh runner.sh PACK_DIR PROCESSES TIMEOUT_S [OUT_DIR]
#   PACK_DIR/code/             the code snapshot every item starts from (copied, never run in place)
#   PACK_DIR/items.txt         one item a line: ID FIRST_ATTEMPT LAST_ATTEMPT (runs in this order)
#   PACK_DIR/items/ID/cmd.sh   the item's command (values already shell-quoted by the orchestrator)
#   TIMEOUT_S                  seconds per attempt (0: none); a timed-out item is not tried again
#   OUT_DIR                    where results go (default PACK_DIR): on Azure ML a read-write mounted output the
#                              orchestrator reads from storage while the job runs; each file lands as it closes
# Writes, per item:  PACK_DIR/items/ID/work/ (its own code copy, R's working directory, with outputs/; copied to
#   OUT_DIR/items/ID/work/outputs/ after the attempt when OUT_DIR differs), OUT_DIR/items/ID/std_log.txt (the
#   latest attempt's output; an earlier attempt's is kept as std_log.attemptN.txt), OUT_DIR/items/ID/status (exit=,
#   seconds=, attempt=, timed_out=; replaced after each attempt, after its outputs), and one line per event appended
#   to OUT_DIR/progress.log ("EPOCH ID start|done|skip ATTEMPT [EXIT SECONDS]", "done" after the status file), which
#   the orchestrator reads while the job runs. An item whose status says exit=0 is skipped, so a re-run of the same
#   pack resumes it.
# Exit: 0 when every item ended with exit 0, 1 otherwise (each item's truth is its status file).
set -u

now() { date +%s.%N 2>/dev/null || date +%s; }

run_item() {
    pack=$1 out=$2 limit=$3 id=$4 first=$5 last=$6
    dir="$pack/items/$id" odir="$out/items/$id"
    mkdir -p "$odir"
    if [ -f "$odir/status" ] && grep -qx 'exit=0' "$odir/status"; then
        echo "$(date +%s) $id skip 0" >>"$out/progress.log"
        return 0
    fi
    attempt=$first
    while [ "$attempt" -le "$last" ]; do
        rm -rf "$dir/work" && cp -R "$pack/code" "$dir/work" && mkdir -p "$dir/work/outputs" || {
            echo "runner: cannot prepare $dir/work" >>"$odir/std_log.txt"
            return 1
        }
        echo "$(date +%s) $id start $attempt" >>"$out/progress.log"
        started=$(now)
        # --foreground keeps R in the job's process group, so a cancel or kill of the job reaches it
        (cd "$dir/work" && exec timeout --foreground -k 5 "$limit" sh "../cmd.sh") </dev/null >>"$odir/std_log.txt" 2>&1
        code=$?
        if [ "$code" = 0 ] && ! [ "$odir" -ef "$dir" ]; then
            rm -rf "$odir/work" && mkdir -p "$odir/work" && cp -R "$dir/work/outputs" "$odir/work/" || {
                echo "runner: cannot copy outputs to $odir" >>"$odir/std_log.txt"
                code=1
            }
        fi
        seconds=$(awk -v a="$started" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
        timed_out=0
        if [ "$limit" != 0 ] && { [ "$code" = 124 ] || [ "$code" = 137 ]; } &&
            awk -v s="$seconds" -v l="$limit" 'BEGIN { exit !(s >= l) }'; then
            timed_out=1
        fi
        printf 'exit=%s\nseconds=%s\nattempt=%s\ntimed_out=%s\n' "$code" "$seconds" "$attempt" "$timed_out" \
            >"$odir/.status.tmp" && mv -f "$odir/.status.tmp" "$odir/status"
        echo "$(date +%s) $id done $attempt $code $seconds" >>"$out/progress.log"
        [ "$code" = 0 ] && return 0
        [ "$timed_out" = 1 ] && return 1
        [ "$attempt" -lt "$last" ] && mv -f "$odir/std_log.txt" "$odir/std_log.attempt$attempt.txt"
        attempt=$((attempt + 1))
    done
    return 1
}

if [ "${1:-}" = "--item" ]; then
    shift
    run_item "$@"
    exit $?
fi

if [ $# -ne 3 ] && [ $# -ne 4 ]; then
    echo "usage: sh runner.sh PACK_DIR PROCESSES TIMEOUT_S [OUT_DIR]" >&2
    exit 2
fi
pack=$1 processes=$2 limit=$3 out=${4:-$1}
mkdir -p "$out" && touch "$out/progress.log" || exit 2
# one item per invocation (-L 1): ID FIRST LAST; xargs exits 123 when any item failed
xargs -L 1 -P "$processes" sh "$0" --item "$pack" "$out" "$limit" <"$pack/items.txt"
[ $? = 0 ]
