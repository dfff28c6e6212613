#!/usr/bin/env bash
# Run every fuzz target of clos-wire for SECONDS each (default 20).
# Installs cargo-fuzz if missing. Stable toolchain: RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz use the nightly-only sanitizer flags.
set -euo pipefail
SECONDS_EACH="${1:-20}"
cd "$(dirname "$0")"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
targets=(decode_message roundtrip open packing config)
cargo fuzz build
for t in "${targets[@]}"; do
    # Fuzz into a scratch copy so the checked-in seed corpus stays small.
    work="$(mktemp -d)"
    cp corpus/"$t"/* "$work"/ 2>/dev/null || true
    echo "== $t: ${SECONDS_EACH}s"
    cargo fuzz run "$t" "$work" -- -max_total_time="$SECONDS_EACH" -max_len=8192 -print_final_stats=1
    rm -rf "$work"
done
echo "fuzz: all targets ran ${SECONDS_EACH}s without a crash"
