#!/usr/bin/env bash
# meshlan next to wireguard-go, nebula and tinc on the shared anchors lab (../shared/bench).
# Usage (root, project root): scripts/bench/anchors.sh   [env: TOOLS, RUNS, DUR as anchors.sh]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/toolchain.sh"
cd "$MESHLAN_ROOT"
meshlan_bootstrap
ANCHORS=${ANCHORS:-$MESHLAN_ROOT/../shared/bench/anchors.sh}
[ -x "$ANCHORS" ] || [ -f "$ANCHORS" ] || { echo "no $ANCHORS (the shared reference harness)" >&2; exit 1; }
export TOOLS_FILE="$MESHLAN_ROOT/scripts/bench/meshlan-tools.sh"
export TOOLS=${TOOLS:-"raw meshlan wireguard_go nebula tinc"}
exec bash "$ANCHORS" "$@"
