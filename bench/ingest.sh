#!/usr/bin/env bash
# The standard BGP ingest matrix (issue "Full Internet tables, fast and
# small: beat BIRD at route ingest and memory"), run with clos-bench.
#
#   bench/ingest.sh [--quick] [--only s,a,b,e,c,d] [--no-build]
#
#   (a) ingest: 1 feeder x 1M IPv4, 1 monitor, bird,frr,gobgp,closd
#   (b) ingest: 10 feeders x 1M IPv4, 4 monitors, bird,closd,frr
#       (--quick: bird,closd only; FRR needs minutes and ~6 GiB; GoBGP
#       would need ~20 min and more memory than this machine has per
#       repetition, so it runs in (e))
#   (e) ingest: 10 feeders x 100k IPv4, 4 monitors, bird,frr,gobgp,closd
#   (c) churn:  1 feeder x 1M, then 100k re-announced + 100k withdrawn,
#       bird,frr,gobgp,closd
#   (d) ingest: IPv6 full table (160,147 prefixes of rib_tier1_2024.v6.txt), 1x1,
#       bird,frr,gobgp,closd
#   (s) sink:   no DUT, the tool's own ceiling: 1x1M and 10x1M (light decoder),
#       1x1M with the clos-wire decoder
#
# env: REPS (default 3), TIMEOUT (seconds per phase of one run, default 900),
#      RESULTS (directory, default bench/results), CLOSD (binary to test,
#      default target/release/closd), DUTS_B (override (b)'s DUT list).
# Rows go to $RESULTS/<date>-<case>.tsv; the median tables are printed.
# Needs root (network namespaces). Every run cleans up its namespace and
# stops its DUT by PID, also on Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
quick=0; only=s,a,b,e,c,d; build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "ingest.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
reps=${REPS:-3}
timeout_s=${TIMEOUT:-900}
results=${RESULTS:-$here/results}
closd=${CLOSD:-$root/target/release/closd}
data=/work/shared/data
stamp=$(date +%Y%m%d-%H%M)
mkdir -p "$results"

if [ $build = 1 ]; then
  (cd "$root" && cargo build --release -p closd -p clos-bench)
fi
bench=$root/target/release/clos-bench
common=(--reps "$reps" --timeout "$timeout_s" --closd "$closd")
status=0
run() {  # run CASE ARGS...
  local case=$1; shift
  echo "== ($case) clos-bench $*" >&2
  "$bench" "$@" "${common[@]}" --tsv "$results/$stamp-$case.tsv" || status=1
}
want() { [[ ",$only," == *",$1,"* ]]; }

if want s; then
  run s sink --feeders 1 --routes 1000000
  run s sink --feeders 10 --routes 1000000
  run s sink --feeders 1 --routes 1000000 --decoder wire
fi
want a && run a ingest --dut bird,frr,gobgp,closd --feeders 1 --monitors 1 --routes 1000000
if want b; then
  duts_b=${DUTS_B:-bird,closd,frr}
  [ $quick = 1 ] && duts_b=${DUTS_B:-bird,closd}
  run b ingest --dut "$duts_b" --feeders 10 --monitors 4 --routes 1000000
fi
want e && run e ingest --dut bird,frr,gobgp,closd --feeders 10 --monitors 4 --routes 100000
want c && run c churn --dut bird,frr,gobgp,closd --feeders 1 --monitors 1 --routes 1000000 --churn 100000
want d && run d ingest --dut bird,frr,gobgp,closd --family ipv6 \
  --table "$data/rib_tier1_2024.v6.txt" --routes 160147
echo "results in $results/$stamp-*.tsv" >&2
exit $status
