#!/usr/bin/env bash
# The main job, until the fabric lab exists: closd and a BIRD 2 peer in two
# network namespaces joined by a veth pair, peering over IPv4 and IPv6.
# closd originates 10.100.0.0/24 and 2001:db8:100::/48; BIRD announces
# 192.0.2.0/24 (with communities and MED) and 2001:db8:99::/48. The script
# shows both sides' tables, then removes everything it made (also on error).
#   sudo scripts/demo.sh           # build, run, show, clean up
#   KEEP=1 scripts/demo.sh         # leave it running; `scripts/demo.sh down` removes it
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=/tmp/clos-demo
ns_a=clos-demo-a
ns_b=clos-demo-b

down() {
  [ -f "$work/closd.pid" ] && kill "$(cat "$work/closd.pid")" 2>/dev/null || true
  [ -f "$work/bird.pid" ] && kill "$(cat "$work/bird.pid")" 2>/dev/null || true
  sleep 0.3
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  rm -rf "$work"
}

if [ "${1:-}" = down ]; then down; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (network namespaces)" >&2; exit 1; }

if ! command -v bird >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bird2 iproute2 >/dev/null
  systemctl stop bird >/dev/null 2>&1 || true
fi
cargo build -q --bins
down
[ -n "${KEEP:-}" ] || trap down EXIT
mkdir -p "$work"

ip netns add "$ns_a"; ip netns add "$ns_b"
ip link add clos-demo0 type veth peer name clos-demo1
ip link set clos-demo0 netns "$ns_a"; ip link set clos-demo1 netns "$ns_b"
ip -n "$ns_a" addr add 10.9.0.1/24 dev clos-demo0
ip -n "$ns_b" addr add 10.9.0.2/24 dev clos-demo1
ip -n "$ns_a" addr add fd00:9::1/64 dev clos-demo0 nodad
ip -n "$ns_b" addr add fd00:9::2/64 dev clos-demo1 nodad
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set clos-demo0 up; ip -n "$ns_b" link set clos-demo1 up

sed "s#/run/clos/closd.sock#$work/closd.sock#" examples/closd.toml > "$work/closd.toml"
cp examples/bird-peer.conf "$work/bird.conf"
ip netns exec "$ns_b" bird -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid"
ip netns exec "$ns_a" "$root/target/debug/closd" -c "$work/closd.toml" 2>"$work/closd.log" &
echo $! > "$work/closd.pid"

closctl() { "$root/target/debug/closctl" --socket "$work/closd.sock" "$@"; }
for _ in $(seq 1 100); do
  [ "$(closctl bgp summary --json 2>/dev/null | grep -c '"Established"')" = 2 ] && break
  sleep 0.2
done
echo "== closctl bgp summary"; closctl bgp summary
echo; echo "== closctl bgp routes"; closctl bgp routes
echo; echo "== birdc show route (the peer's view)"
birdc -s "$work/bird.ctl" show route
if [ -n "${KEEP:-}" ]; then
  echo; echo "left running: closctl --socket $work/closd.sock ...; scripts/demo.sh down removes it"
fi
