#!/usr/bin/env bash
# The demo (README): installs what is missing, then builds a three-node meshlan network in network
# namespaces, shows status, pings across it, shows a key's ACL refusing a connection, tears down.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/toolchain.sh"
cd "$MESHLAN_ROOT"
meshlan_bootstrap || exit 1
exec node packages/e2e/src/demo.ts "$@"
