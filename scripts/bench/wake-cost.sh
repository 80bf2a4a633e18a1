#!/usr/bin/env bash
# What waking up costs a Node process on this machine, against the kernel alone (issue 14): the
# idle ping through the tunnel pays it four times (both daemons, both directions). Root only; two
# namespaces joined by a veth, torn down on exit. A benchmark: compare the lines within one run.
#   scripts/bench/wake-cost.sh [env: N=300]
set -euo pipefail
N=${N:-300}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
NODE=$(PATH="$HERE/.toolchain/bin:$PATH" command -v node)
JS=$HERE/scripts/bench/wake-cost.mjs
P=mlwk$$; NA=${P}a; NB=${P}b; PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$NA" 2>/dev/null || true
  ip netns del "$NB" 2>/dev/null || true
}
trap cleanup EXIT
# shellcheck source=../lib/netns-pair.sh
. "$HERE/scripts/lib/netns-pair.sh"
netns_pair "$P" 198.18.97
ip netns exec "$NB" "$NODE" "$JS" server 9000 & PIDS+=($!)
sleep 0.5
echo "kernel, $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
"$NODE" "$JS" cold
for gap in 0 1 10; do
  echo -n "ping (kernel echo) every $gap ms: "
  ip netns exec "$NA" ping -n -q -c "$N" -i "$(awk -v g="$gap" 'BEGIN { printf "%.3f", g / 1000 + 0.0002 }')" 198.18.97.2 | tail -1
  echo -n "node → node UDP echo every $gap ms: "
  ip netns exec "$NA" "$NODE" "$JS" client 198.18.97.2 9000 "$N" "$gap"
done
