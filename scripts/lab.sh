#!/usr/bin/env bash
# The main job: the fabric lab. Builds clos, brings up the built-in
# 2-spine, 4-leaf fabric in network namespaces (closd on every switch: BGP
# unnumbered, BFD 50 ms x 3, ECMP, routes in each switch's kernel), proves
# every host reaches every other, measures the loss window of 5 link
# failures, then removes everything (also on error).
#   sudo scripts/lab.sh                 # build, up, ping-all, converge, down
#   KEEP=1 scripts/lab.sh               # leave the fabric up to explore:
#                                       #   target/release/clos-lab status
#                                       #   target/release/clos-lab fail spine1-leaf3
#                                       #   target/release/clos-lab down
#   FRR_LEAF=leaf2 scripts/lab.sh       # run FRR on leaf2 (interop)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "lab.sh: run as root (network namespaces)" >&2; exit 1; }

need=()
command -v ip >/dev/null || need+=(iproute2)
if [ -n "${FRR_LEAF:-}" ] && [ ! -x /usr/lib/frr/zebra ]; then need+=(frr); fi
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  systemctl stop frr >/dev/null 2>&1 || true
fi
cargo build -q --release -p closd -p closctl -p clos-lab
lab=target/release/clos-lab
frr=()
[ -n "${FRR_LEAF:-}" ] && frr=(--frr "$FRR_LEAF")

"$lab" down >/dev/null 2>&1 || true
[ -n "${KEEP:-}" ] || trap '"$lab" down' EXIT
start=$(date +%s.%N)
"$lab" "${frr[@]}" up
awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "up and converged in %.1f s\n", e - s }'
"$lab" ping-all
"$lab" converge --failures 5
