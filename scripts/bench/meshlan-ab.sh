# shellcheck shell=bash
# A/B for ../shared/bench/anchors.sh (TOOLS_FILE): meshlan at this checkout (up_meshlan) against an
# older commit (up_meshlanold) in the same run. The old tree must be bootstrapped (scripts/test.sh or
# its toolchain) and speak the same CLI: e.g.
#   git worktree add /tmp/old d7df265 && (cd /tmp/old && bash -c "source scripts/lib/toolchain.sh && meshlan_bootstrap")
#   OLD_ROOT=/tmp/old TOOLS_FILE=scripts/bench/meshlan-ab.sh TOOLS="meshlanold meshlan" ../shared/bench/anchors.sh
source "$(dirname "${BASH_SOURCE[0]}")/meshlan-tools.sh"
OLD_CLI=${OLD_ROOT:?set OLD_ROOT to a bootstrapped worktree of the old commit}/packages/cli/src/main.ts
# OLD_BUNDLE=DIR: the old tree's scripts/build.mjs output instead (as MESHLAN_BUNDLE for the new one)
OLD_CLI=${OLD_BUNDLE:+$OLD_BUNDLE/dist/meshlan.mjs}
OLD_CLI=${OLD_CLI:-$OLD_ROOT/packages/cli/src/main.ts}
# the same lab set-up as up_meshlan (meshlan-tools.sh), with the old tree's CLI
up_meshlanold() { MESHLAN_CLI=$OLD_CLI MESHLAN_FLAGS=$(node_flags "$OLD_ROOT") MESHLAN_ENV=$(node_env "$OLD_ROOT") up_meshlan; }
