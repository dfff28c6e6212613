#!/usr/bin/env bash
# The nightly-length fuzz run of issue #7: every target for SECONDS of wall
# time each (default 1800), recording libFuzzer's final stats and the CPU
# time each target used (from /proc accounting via bash `times`-like
# measurement with /usr/bin/time when present). Corpora grow in a scratch
# copy; new inputs that cover new ground are NOT copied back (keep the
# checked-in corpus small; add a crash reproducer by hand if one appears).
#
#   nice -n 19 fuzz/run-long.sh 1800 2>&1 | tee fuzz-long.log
set -euo pipefail
SECONDS_EACH="${1:-1800}"
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
cargo fuzz build -O
for t in "${targets[@]}"; do
    work="$(mktemp -d)"
    cp corpus/"$t"/* "$work"/ 2>/dev/null || true
    echo "== $t: ${SECONDS_EACH}s wall, started $(date -u +%FT%TZ)"
    /usr/bin/env time -f "cpu_seconds %U+%S wall %e max_rss_kb %M" \
        cargo fuzz run -O "$t" "$work" -- -max_total_time="$SECONDS_EACH" -max_len=8192 \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 | grep -E "^(stat::|cpu_seconds|==|#[0-9]+ *DONE|SUMMARY|ERROR|artifact)" || true
    echo "corpus $t: $(ls "$work" | wc -l) inputs after the run"
    rm -rf "$work"
done
echo "fuzz: long run finished $(date -u +%FT%TZ)"
