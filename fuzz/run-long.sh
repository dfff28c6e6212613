#!/usr/bin/env bash
# The nightly-length fuzz run of issue #7: every target gets a budget of
# CPU time (default 1800 s = 30 CPU-minutes), measured from the fuzzer's own
# /proc/PID/stat (user + system), not wall time, so a busy machine makes the
# run longer, never shorter. Targets run in parallel, JOBS at a time (default:
# the number of cores), each at the lowest priority. When a target reaches
# its budget it gets SIGINT, on which libFuzzer prints its final stats.
# A wall-clock cap of 6x the budget guards against a target that never gets
# the CPU (reported as such).
#
# Corpora grow in a scratch copy; new inputs are NOT copied back (keep the
# checked-in corpus small; add a crash reproducer by hand if one appears).
# Output: one summary line per target plus each target's log in LOGDIR.
#
#   fuzz/run-long.sh [CPU_SECONDS] [TARGET...]     (JOBS=2 LOGDIR=/tmp/x)
set -euo pipefail
BUDGET="${1:-1800}"
shift || true
cd "$(dirname "$0")"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(decode_message config open roundtrip packing)
fi
JOBS="${JOBS:-$(nproc)}"
LOGDIR="${LOGDIR:-$(mktemp -d /tmp/clos-fuzz-long.XXXXXX)}"
mkdir -p "$LOGDIR"
triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo fuzz build -O >/dev/null 2>&1
tick="$(getconf CLK_TCK)"

# cpu_seconds PID: user + system time of PID so far, in whole seconds.
cpu_seconds() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo -1; return; }
    # Fields after the command name (which may contain spaces): utime is the
    # 12th, stime the 13th.
    set -- ${stat##*) }
    echo $(( (${12} + ${13}) / tick ))
}

run_one() {
    local t="$1" work log pid cpu start wall
    work="$(mktemp -d)"
    log="$LOGDIR/$t.log"
    cp corpus/"$t"/* "$work"/ 2>/dev/null || true
    start="$(date +%s)"
    echo "== $t: budget ${BUDGET} CPU-s, started $(date -u +%FT%TZ)" >"$log"
    nice -n 19 "target/$triple/release/$t" "$work" -max_len=8192 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 >>"$log" 2>&1 &
    pid=$!
    cpu=0
    while kill -0 "$pid" 2>/dev/null; do
        cpu="$(cpu_seconds "$pid")"
        wall=$(( $(date +%s) - start ))
        if [ "$cpu" -ge "$BUDGET" ] || [ "$wall" -ge $(( BUDGET * 6 )) ]; then
            kill -INT "$pid" 2>/dev/null || true
            break
        fi
        sleep 5
    done
    local rc=0
    wait "$pid" || rc=$?
    wall=$(( $(date +%s) - start ))
    local execs peak crash="no crash, no timeout, no OOM"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    peak="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)"
    if grep -qE "^(SUMMARY|==[0-9]+== ERROR)|artifact_prefix|Test unit written" "$log"; then
        crash="FAILED: see $log"
    elif [ "$cpu" -lt "$BUDGET" ]; then
        crash="stopped by the wall-clock cap before its CPU budget"
    fi
    printf '%s\tcpu_s %s\twall_s %s\texecs %s\tpeak_rss_mb %s\tcorpus %s\texit %s\t%s\n' \
        "$t" "$cpu" "$wall" "${execs:-?}" "${peak:-?}" "$(ls "$work" | wc -l)" "$rc" "$crash"
    rm -rf "$work"
}

echo "fuzz: ${#targets[@]} targets, ${BUDGET} CPU-s each, ${JOBS} at a time, logs in $LOGDIR"
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait
echo "fuzz: long run finished $(date -u +%FT%TZ)"
