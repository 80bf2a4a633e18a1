#!/usr/bin/env bash
# Memory and latency of two meshlan daemons, idle and under load, for several ways of running them
# (or several trees), in paired rounds that alternate the order.
#
#   scripts/bench/mem.sh VARIANT... [env: IDLE=30 DUR=10 ROUNDS=1]
#     VARIANT = name=ENTRY[,NODE FLAGS...][;ENV=VALUE ...]
#       ENTRY: a CLI entry (packages/cli/src/main.ts of a tree, or dist/meshlan.mjs of a
#       scripts/build.mjs output); flags and env are passed to each daemon.
#     e.g. src=packages/cli/src/main.ts,--max-semi-space-size=4
#          bundle=build/meshlan/dist/meshlan.mjs,--max-semi-space-size=4
#
# Per variant and round, in its own two-namespace lab (torn down on exit): both daemons up, B
# joined, one ping through the tunnel, then IDLE s with one ping a second → VmRSS of each (idle);
# then 100 pings at 10 ms (idle ping avg/p99), then a saturating 1-stream iperf3 of DUR s A→B with
# pings every 20 ms from 1 s in (load ping avg/p99) → VmHWM of each (peak) and Mbit/s. Rounds
# alternate the variants' order. Root only. A benchmark: compare variants within one run.
# HOLD=S: after the idle phase, write the two daemons' pids to $WORK/pids (printed on stderr) and
# wait S seconds, to probe them (smaps, a heap snapshot) before the load phase.
set -euo pipefail
IDLE=${IDLE:-30}; DUR=${DUR:-10}; ROUNDS=${ROUNDS:-1}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
NODE=$(PATH="$HERE/.toolchain/bin:$PATH" command -v node)
P=mlmem$$; NA=${P}a; NB=${P}b; WORK=$(mktemp -d /tmp/meshlan-mem.XXXXXX)
cleanup() {
  # `one` runs in a subshell (its output is captured): it records its daemons here, so an
  # interrupted or failed round still ends them
  [ -f "$WORK/daemons" ] && while read -r p; do kill "$p" 2>/dev/null || true; done <"$WORK/daemons"
  pkill -P $$ 2>/dev/null || true # that subshell itself, when we were interrupted
  [ -f "$WORK/iperf.pid" ] && kill "$(cat "$WORK/iperf.pid")" 2>/dev/null || true
  sleep 0.5
  ip netns del "$NA" 2>/dev/null || true
  ip netns del "$NB" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=../lib/netns-pair.sh
. "$HERE/scripts/lib/netns-pair.sh"
netns_pair "$P" 198.18.98
ip netns exec "$NB" iperf3 -s -D -p 5201 -I "$WORK/iperf.pid" --logfile "$WORK/iperf-server.log"

# avg and p99 of a ping output's rtt samples
pstat() { grep -o 'time=[0-9.]*' | cut -d= -f2 | sort -n | awk '{ a[NR] = $1; s += $1 } END { if (NR == 0) { print "NA NA"; exit } i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; printf "%.2f %.2f\n", s / NR, a[i] }'; }
kb() { awk -v k="$2" '$1 == k":" { print int($2 / 1024); f = 1 } END { if (!f) print "NA" }' "/proc/$1/status"; }
until_ok() { local n=$1; shift; for _ in $(seq $((n * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

one() { # <variant> -> "idleA idleB peakA peakB mbit"
  local spec=$1 entry flags=() envs=() w
  local head=${spec%%;*} tail=''
  [ "$head" != "$spec" ] && tail=${spec#*;}
  IFS=, read -r -a parts <<<"$head"
  entry=${parts[0]}; flags=("${parts[@]:1}")
  [ -n "$tail" ] && read -r -a envs <<<"$tail"
  case $entry in /*) ;; *) entry=$HERE/$entry ;; esac
  cli() { local ns=$1 st=$2; shift 2; ip netns exec "$ns" env MESHLAN_LOG=warn "$NODE" "$entry" --state "$st" "$@"; }
  w=$(mktemp -d "$WORK/r.XXXX")
  cli "$NA" "$w/A" init --name a >/dev/null 2>&1
  cli "$NA" "$w/A" network create bench >/dev/null 2>&1
  echo 'listen = ["/ip4/198.18.98.1/tcp/7946"]' >"$w/A/config.toml"
  mkdir -p "$w/B"; echo 'listen = ["/ip4/198.18.98.2/tcp/7946"]' >"$w/B/config.toml"
  ip netns exec "$NA" env MESHLAN_LOG=warn "${envs[@]}" "$NODE" "${flags[@]}" "$entry" --state "$w/A" up --foreground >"$w/A.out" 2>"$w/A.log" &
  local pa=$!; echo "$pa" >>"$WORK/daemons"
  until_ok 20 cli "$NA" "$w/A" status
  local join; join=$(cli "$NA" "$w/A" key create bench --reusable --allow-all 2>/dev/null)
  cli "$NB" "$w/B" join "$join" --name b >/dev/null 2>&1
  ip netns exec "$NB" env MESHLAN_LOG=warn "${envs[@]}" "$NODE" "${flags[@]}" "$entry" --state "$w/B" up --foreground >"$w/B.out" 2>"$w/B.log" &
  local pb=$!; echo "$pb" >>"$WORK/daemons"
  local target=''
  for _ in $(seq 300); do
    target=$(cli "$NB" "$w/B" status --json 2>/dev/null | jq -r 'select((.peers | length) >= 1) | .self.ip // empty' || true)
    [ -n "$target" ] && ip netns exec "$NA" ping -c1 -W1 "$target" >/dev/null 2>&1 && break
    sleep 0.1
  done
  ip netns exec "$NA" ping -q -c "$IDLE" -i 1 "$target" >/dev/null 2>&1 || true
  local ia ib; ia=$(kb "$pa" VmRSS); ib=$(kb "$pb" VmRSS)
  if [ -n "${HOLD:-}" ]; then echo "$pa $pb" >"$WORK/pids"; echo "holding $HOLD s: pids in $WORK/pids" >&2; sleep "$HOLD"; fi
  local ip; ip=$(ip netns exec "$NA" ping -n -c 100 -i 0.01 -W 2 "$target" 2>/dev/null | pstat)
  ip netns exec "$NA" iperf3 -c "$target" -p 5201 -t "$DUR" -J >"$w/iperf.json" 2>&1 &
  local ipf=$!
  sleep 1
  local lp; lp=$(ip netns exec "$NA" ping -n -i 0.02 -w $((DUR - 2)) -W 2 "$target" 2>/dev/null | pstat)
  wait "$ipf" || true
  local j; j=$(cat "$w/iperf.json")
  local ha hb; ha=$(kb "$pa" VmHWM); hb=$(kb "$pb" VmHWM)
  kill "$pa" "$pb" 2>/dev/null; wait "$pa" "$pb" 2>/dev/null || true
  echo "$ia $ib $ha $hb $(echo "$j" | jq -r '.end.sum_received.bits_per_second / 1e6 | round') $ip $lp"
}

printf '%-10s %5s  %-9s %-9s %6s  %-13s %-13s %s\n' variant round 'idle MB' 'peak MB' Mbit/s 'ping avg/p99' 'load avg/p99' spec
names=(); specs=()
for v in "$@"; do names+=("${v%%=*}"); specs+=("${v#*=}"); done
for r in $(seq "$ROUNDS"); do
  order=$(seq 0 $((${#specs[@]} - 1)))
  [ $((r % 2)) = 0 ] && order=$(echo "$order" | tac)
  for i in $order; do
    read -r ia ib ha hb mb pa p9 la l9 < <(one "${specs[$i]}")
    printf '%-10s %5d  %-9s %-9s %6s  %-13s %-13s %s\n' "${names[$i]}" "$r" "$ia/$ib" "$ha/$hb" "$mb" "$pa/$p9" "$la/$l9" "${specs[$i]}"
  done
done
