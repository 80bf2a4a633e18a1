# shellcheck shell=bash
# A/B for ../shared/bench/anchors.sh (TOOLS_FILE): meshlan at this checkout (up_meshlan) against an
# older commit (up_meshlanold) in the same run. The old tree must be bootstrapped (scripts/test.sh or
# its toolchain) and speak the same CLI: e.g.
#   git worktree add /tmp/old d7df265 && (cd /tmp/old && bash -c "source scripts/lib/toolchain.sh && meshlan_bootstrap")
#   OLD_ROOT=/tmp/old TOOLS_FILE=scripts/bench/meshlan-ab.sh TOOLS="meshlanold meshlan" ../shared/bench/anchors.sh
source "$(dirname "${BASH_SOURCE[0]}")/meshlan-tools.sh"
OLD_CLI=${OLD_ROOT:?set OLD_ROOT to a bootstrapped worktree of the old commit}/packages/cli/src/main.ts
old_in() { local ns=$1 st=$2; shift 2; ip netns exec "$ns" env MESHLAN_LOG=warn "$MESHLAN_NODE" "$OLD_CLI" --state "$st" "$@"; }
up_meshlanold() {
  local w=$WORK/$CUR_TOOL join
  mkdir -p "$w/A" "$w/B"
  old_in "$NS_A" "$w/A" init --name a >/dev/null || return 1
  old_in "$NS_A" "$w/A" network create bench >/dev/null || return 1
  printf 'listen = ["/ip4/%s/tcp/7946"]\n' "$UL_A" >"$w/A/config.toml"
  printf 'listen = ["/ip4/%s/tcp/7946"]\n' "$UL_B" >"$w/B/config.toml"
  start_daemon "$NS_A" "$w/A.log" env MESHLAN_LOG=info "$MESHLAN_NODE" --max-semi-space-size=4 "$OLD_CLI" --state "$w/A" up --foreground
  wait_until 20 old_in "$NS_A" "$w/A" status || return 1
  join=$(old_in "$NS_A" "$w/A" key create bench --reusable) || return 1
  old_in "$NS_B" "$w/B" join "$join" --name b >/dev/null || return 1
  start_daemon "$NS_B" "$w/B.log" env MESHLAN_LOG=info "$MESHLAN_NODE" --max-semi-space-size=4 "$OLD_CLI" --state "$w/B" up --foreground
  wait_until 30 sh -c "ip netns exec $NS_B env MESHLAN_LOG=warn $MESHLAN_NODE $OLD_CLI --state $w/B status --json | jq -e '.self.ip != null and (.peers | length) >= 1'" || return 1
  TARGET=$(old_in "$NS_B" "$w/B" status --json | jq -r .self.ip)
  TUN_A=meshlan0
  TUN_B=meshlan0
  [ -n "$TARGET" ] && [ "$TARGET" != null ]
}
