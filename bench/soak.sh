#!/usr/bin/env bash
# Soak test (a benchmark, not a CI test): after the full-table ingest, one
# peer (feeder 0) churns 100k routes at full speed for 10 minutes while two
# other peers (feeders 1 and 2) and a monitor stay established. A cycle is
# a churn (100k re-announced with new attributes, 100k withdrawn) and a
# restore (all 200k announced again with their first paths); the soak
# always ends on a restore, so the monitor must end on the initial table.
#
#   bench/soak.sh [--no-build]
#
#   clos-bench soak --dut $DUTS -k 3 -m 1 -n $ROUTES --churn $CHURN
#                   --duration $DURATION --warmup $WARMUP
#
# Reports per DUT: cycles, churn/restore phase times (median, p95, max),
# prefixes/s, the DUT's RSS at the end of the warm-up, its maximum after and
# at the end (verdict "RSS flat": maximum within 10% of the warm-up value),
# the worst KEEPALIVE gap, sessions down (must be none: a hold-timer expiry
# shows there), and the final exact check. Exit status 1 unless every
# condition held.
#
# env: DURATION (seconds of cycles, default 600), WARMUP (seconds, default
#      60, or DURATION/10 when shorter), ROUTES (default 1000000), CHURN
#      (default 100000), DUTS (default closd; e.g. closd,bird), RESULTS
#      (default bench/results), CARGO_TARGET_DIR (where closd and
#      clos-bench are built and looked for; default target/).
# The table goes to stdout, every run with its RSS samples to
# $RESULTS/<date>-soak.json. Needs root. Every run deletes its namespace and
# stops its daemon, also on Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
duration=${DURATION:-600}
warmup=${WARMUP:-$(( duration < 600 ? duration / 10 : 60 ))}
routes=${ROUTES:-1000000}
churn=${CHURN:-100000}
duts=${DUTS:-closd}
results=${RESULTS:-$here/results}
target=${CARGO_TARGET_DIR:-$root/target}
stamp=$(date +%Y%m%d-%H%M)
mkdir -p "$results"

if [ $build = 1 ]; then
  (cd "$root" && cargo build --release -p closd -p clos-bench)
fi
out=$results/$stamp-soak.json
echo "== clos-bench soak --dut $duts -n $routes --churn $churn --duration $duration" >&2
status=0
"$target/release/clos-bench" soak --dut "$duts" -k 3 -m 1 -n "$routes" \
  --churn "$churn" --duration "$duration" --warmup "$warmup" \
  --closd "$target/release/closd" --out "$out" || status=$?
echo "results in $out" >&2
exit $status
