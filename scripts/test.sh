#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as root:
#   installs what the tests need (Debian packages, crates), builds, and runs
#   unit, property, integration and interop tests, then a short fuzz run.
# `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing Debian packages (.ci/packages.txt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2046
  apt-get install -y -qq --no-install-recommends $(grep -v '^\s*#' .ci/packages.txt) >/dev/null
  # The packages may start their own daemons; the tests start their own.
  for s in bird frr gobgpd; do
    systemctl stop "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
  done
  pkill -x bird >/dev/null 2>&1 || true
fi

log "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

log "building"
cargo build --workspace --all-targets --locked

log "tests"
# Interop tests find closd/closctl in target/debug (built above).
cargo test --workspace --locked --no-fail-fast

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  log "short fuzz run (${FUZZ_SECONDS:-20} s per target)"
  bash fuzz/run-short.sh "${FUZZ_SECONDS:-20}"
fi
log "all tests passed"
