#!/usr/bin/env bash
# CPU cost per GB at a fixed offered load, A/B across trees, in alternating rounds.
#
# Saturating throughput on these 2-core shared machines swings ±40 % run to run (and the first
# tool of a harness run is systematically fastest), so a 10 % change cannot be seen in it. At a
# fixed rate well below saturation the daemons' own CPU time per byte (utime + stime from
# /proc/PID/stat) is what the code costs, far less exposed to the neighbours.
#
#   scripts/bench/cpu-ab.sh ROOT_A ROOT_B [ROUNDS] [RATE] [DUR]
#     ROOT_*: bootstrapped checkouts (their packages/cli/src/main.ts is run); default 6 rounds,
#     300M (iperf3 -b), 8 s. Root only; two namespaces of its own, torn down on exit.
#     PIN=1 pins side A (daemon, iperf3 client) to CPU 0 and side B to CPU 1: the scheduler's
#     placement is then the same in every round.
set -euo pipefail
A=${1:?ROOT_A}; B=${2:?ROOT_B}; ROUNDS=${3:-6}; RATE=${4:-300M}; DUR=${5:-8}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
NODE=$(PATH="$HERE/.toolchain/bin:$PATH" command -v node)
source "$HERE/scripts/lib/node-flags.sh"
PIN_A=(); PIN_B=()
if [ "${PIN:-0}" = 1 ]; then PIN_A=(taskset -c 0); PIN_B=(taskset -c 1); fi
P=mlcpu$$; NA=${P}a; NB=${P}b; WORK=$(mktemp -d /tmp/meshlan-cpu-ab.XXXXXX)
cleanup() {
  # `one` runs in a subshell (its output is captured): it records its daemons here, so an
  # interrupted or failed round still ends them
  [ -f "$WORK/daemons" ] && while read -r p; do kill "$p" 2>/dev/null || true; done <"$WORK/daemons"
  pkill -P $$ 2>/dev/null || true # that subshell itself, when we were interrupted
  # iperf3 -D detaches: a deleted namespace does not end it, its pid file does
  [ -f "$WORK/iperf.pid" ] && kill "$(cat "$WORK/iperf.pid")" 2>/dev/null || true
  sleep 0.5
  ip netns del "$NA" 2>/dev/null || true
  ip netns del "$NB" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=../lib/netns-pair.sh
. "$HERE/scripts/lib/netns-pair.sh"
netns_pair "$P" 198.18.99
ip netns exec "$NB" "${PIN_B[@]}" iperf3 -s -D -p 5201 -I "$WORK/iperf.pid" --logfile "$WORK/iperf-server.log"

cli() { local root=$1 ns=$2 st=$3; shift 3; ip netns exec "$ns" env MESHLAN_LOG=warn "$NODE" "$root/packages/cli/src/main.ts" --state "$st" "$@"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
until_ok() { local n=$1; shift; for _ in $(seq $((n * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

one() { # <root> -> "cpu_s_per_GB mbit"
  local root=$1 w; w=$(mktemp -d "$WORK/r.XXXX")
  cli "$root" "$NA" "$w/A" init --name a >/dev/null 2>&1
  cli "$root" "$NA" "$w/A" network create bench >/dev/null 2>&1
  echo 'listen = ["/ip4/198.18.99.1/tcp/7946"]' >"$w/A/config.toml"
  mkdir -p "$w/B"; echo 'listen = ["/ip4/198.18.99.2/tcp/7946"]' >"$w/B/config.toml"
  ip netns exec "$NA" "${PIN_A[@]}" env MESHLAN_LOG=warn $(node_env "$root") "$NODE" $(node_flags "$root") "$root/packages/cli/src/main.ts" --state "$w/A" up --foreground >"$w/A.out" 2>"$w/A.log" &
  local pa=$!; echo "$pa" >>"$WORK/daemons"
  until_ok 20 cli "$root" "$NA" "$w/A" status
  local join; join=$(cli "$root" "$NA" "$w/A" key create bench --reusable --allow-all 2>/dev/null || cli "$root" "$NA" "$w/A" key create bench --reusable)
  cli "$root" "$NB" "$w/B" join "$join" --name b >/dev/null 2>&1
  ip netns exec "$NB" "${PIN_B[@]}" env MESHLAN_LOG=warn $(node_env "$root") "$NODE" $(node_flags "$root") "$root/packages/cli/src/main.ts" --state "$w/B" up --foreground >"$w/B.out" 2>"$w/B.log" &
  local pb=$!; echo "$pb" >>"$WORK/daemons"
  local target=''
  for _ in $(seq 300); do
    target=$(cli "$root" "$NB" "$w/B" status --json 2>/dev/null | jq -r 'select((.peers | length) >= 1) | .self.ip // empty' || true)
    [ -n "$target" ] && ip netns exec "$NA" ping -c1 -W1 "$target" >/dev/null 2>&1 && break
    sleep 0.1
  done
  ip netns exec "$NA" iperf3 -c "$target" -p 5201 -t 2 -b "$RATE" >/dev/null 2>&1 || true   # warm-up
  local t0 t1 hz; hz=$(getconf CLK_TCK)
  t0=$(( $(ticks "$pa") + $(ticks "$pb") ))
  local j; j=$(ip netns exec "$NA" "${PIN_A[@]}" iperf3 -c "$target" -p 5201 -t "$DUR" -b "$RATE" -J)
  t1=$(( $(ticks "$pa") + $(ticks "$pb") ))
  kill "$pa" "$pb" 2>/dev/null; wait "$pa" "$pb" 2>/dev/null || true
  echo "$j" | jq -r --argjson cpu "$(( t1 - t0 ))" --argjson hz "$hz" \
    '.end.sum_received as $r | "\(($cpu / $hz) / ($r.bytes / 1e9) | . * 100 | round / 100) \($r.bits_per_second / 1e6 | round)"'
}

printf 'round  A: CPU s/GB  Mbit/s   B: CPU s/GB  Mbit/s   B/A\n'
ratios=()
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then a=$(one "$A"); b=$(one "$B"); else b=$(one "$B"); a=$(one "$A"); fi
  ratio=$(awk -v x="${a%% *}" -v y="${b%% *}" 'BEGIN { printf "%.3f", y / x }')
  ratios+=("$ratio")
  printf '%5d  %10s %7s   %10s %7s   %s\n' "$r" ${a} ${b} "$ratio"
done
printf 'B/A CPU per GB, median of %d rounds: %s  (A=%s B=%s, %s offered, %s s)\n' "$ROUNDS" \
  "$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')" \
  "$A" "$B" "$RATE" "$DUR"
