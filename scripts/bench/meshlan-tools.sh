# shellcheck shell=bash
# up_meshlan for ../shared/bench/anchors.sh (sourced via TOOLS_FILE): meshlan in the anchors lab,
# next to wireguard-go, nebula and tinc. Run from the project root, as root:
#   TOOLS_FILE=scripts/bench/meshlan-tools.sh TOOLS="raw meshlan wireguard_go nebula tinc" ../shared/bench/anchors.sh
# or scripts/bench/anchors.sh (which sets that up and bootstraps the toolchain first).
# Contract (anchors.sh, above up_raw): one daemon per namespace via start_daemon, A first; set
# TARGET (B's overlay address), TUN_A, TUN_B.

MESHLAN_ROOT=${MESHLAN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MESHLAN_NODE=${MESHLAN_NODE:-$(PATH="$MESHLAN_ROOT/.toolchain/bin:$PATH" command -v node)}
# MESHLAN_BUNDLE=DIR: run a scripts/build.mjs output (DIR/dist/meshlan.mjs, what install.sh ships)
# instead of the sources (type stripping, ~900 modules: ~40 MB more RSS, docs/benchmarks.md)
MESHLAN_CLI=${MESHLAN_BUNDLE:+$MESHLAN_BUNDLE/dist/meshlan.mjs}
MESHLAN_CLI=${MESHLAN_CLI:-"$MESHLAN_ROOT/packages/cli/src/main.ts"}
# the daemon's V8 flags, as its tree runs it (meshlan-ab.sh sets them for the old tree)
source "$MESHLAN_ROOT/scripts/lib/node-flags.sh"
MESHLAN_FLAGS=${MESHLAN_FLAGS:-$(node_flags "$MESHLAN_ROOT")}
MESHLAN_ENV=${MESHLAN_ENV-$(node_env "$MESHLAN_ROOT")}

meshlan_in() {   # <netns> <state> <args...>
  local ns=$1 st=$2; shift 2
  ip netns exec "$ns" env MESHLAN_LOG=warn "$MESHLAN_NODE" "$MESHLAN_CLI" --state "$st" "$@"
}

up_meshlan() {
  local w=$WORK/$CUR_TOOL join
  mkdir -p "$w/A" "$w/B"
  meshlan_in "$NS_A" "$w/A" init --name a >/dev/null || return 1
  meshlan_in "$NS_A" "$w/A" network create bench >/dev/null || return 1
  printf 'listen = ["/ip4/%s/tcp/7946"]\n' "$UL_A" >"$w/A/config.toml"
  printf 'listen = ["/ip4/%s/tcp/7946"]\n' "$UL_B" >"$w/B/config.toml"
  start_daemon "$NS_A" "$w/A.log" env MESHLAN_LOG=info $MESHLAN_ENV "$MESHLAN_NODE" $MESHLAN_FLAGS "$MESHLAN_CLI" --state "$w/A" up --foreground
  wait_until 20 meshlan_in "$NS_A" "$w/A" status || return 1
  # --allow-all since default deny; trees from before it allowed all without it (meshlan-ab.sh)
  join=$(meshlan_in "$NS_A" "$w/A" key create bench --reusable --allow-all 2>/dev/null ||
    meshlan_in "$NS_A" "$w/A" key create bench --reusable) || return 1
  meshlan_in "$NS_B" "$w/B" join "$join" --name b >/dev/null || return 1
  start_daemon "$NS_B" "$w/B.log" env MESHLAN_LOG=info $MESHLAN_ENV "$MESHLAN_NODE" $MESHLAN_FLAGS "$MESHLAN_CLI" --state "$w/B" up --foreground
  # jq -n + input: an empty answer (daemon not up yet) is an error, not a pass (jq -e passes it)
  wait_until 30 sh -c "ip netns exec $NS_B env MESHLAN_LOG=warn $MESHLAN_NODE $MESHLAN_CLI --state $w/B status --json | jq -en 'input | .self.ip != null and (.self.bound != false) and (.peers | length) >= 1'" || return 1
  TARGET=$(meshlan_in "$NS_B" "$w/B" status --json | jq -r .self.ip)
  TUN_A=meshlan0
  TUN_B=meshlan0
  [ -n "$TARGET" ] && [ "$TARGET" != null ]
}
