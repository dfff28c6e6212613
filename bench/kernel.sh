#!/usr/bin/env bash
# Kernel install benchmark (issue #4): time to install 1,000,000 IPv4 routes
# into a namespace's kernel main table, closd side by side with `ip -batch`
# (the same routes), BIRD and FRR (zebra) fed the same table over BGP.
#
#   bench/kernel.sh [--only 1,8,t] [--no-build]
#
#   (1) 1,000,000 synthetic IPv4 prefixes (tier-1 length mix), one next hop
#   (8) the same prefixes with 8-way ECMP (8 feeders, equal AS-path lengths
#       from 8 ASes; multipath relax)
#   (t) the real tier-1 IPv4 table (all 901,899 prefixes of
#       rib_tier1_2024.v4.txt), one next hop
#
# env: REPS (default 3), TIMEOUT (seconds per run, default 1800), DUTS
#      (default bird,frr,closd), RESULTS (default bench/results),
#      CARGO_TARGET_DIR (where closd, closctl and clos-bench are built, and
#      looked for: clos-bench uses the closd and closctl next to it),
#      ROUTES (prefixes of (1) and (8), default 1000000; smaller for a smoke
#      test).
# Per case: the median table on stdout and every run, the medians and the
# ratios in $RESULTS/<date>-kernel-<case>.json. Needs root. Every run
# deletes its namespaces and stops its daemons, also on Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
only=1,8; build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "kernel.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
reps=${REPS:-3}
timeout_s=${TIMEOUT:-1800}
duts=${DUTS:-bird,frr,closd}
routes=${ROUTES:-1000000}
results=${RESULTS:-$here/results}
target=${CARGO_TARGET_DIR:-$root/target}
data=/work/shared/data
stamp=$(date +%Y%m%d-%H%M)
mkdir -p "$results"

if [ $build = 1 ]; then
  (cd "$root" && cargo build --release -p closd -p closctl -p clos-bench)
fi
bench=$target/release/clos-bench
status=0
run() {  # run CASE ARGS...
  local case=$1; shift
  echo "== ($case) clos-bench kernel $*" >&2
  "$bench" kernel --duts "$duts" --reps "$reps" --timeout "$timeout_s" "$@" \
    --out "$results/$stamp-kernel-$case.json" || status=1
}
want() { [[ ",$only," == *",$1,"* ]]; }

want 1 && run 1 --routes "$routes"
want 8 && run 8 --routes "$routes" --ecmp 8
want t && run t --table "$data/rib_tier1_2024.v4.txt" --routes 901899
echo "results in $results/$stamp-kernel-*.json" >&2
exit $status
