# shellcheck shell=bash
# node_flags ROOT: the Node flags the daemon of the tree at ROOT runs with — the NODE_FLAGS line of
# its scripts/meshlan (one list, kept equal to DAEMON_NODE_FLAGS in @meshlan/daemon by
# packages/daemon/test/node-flags.test.ts). Trees from before that line wrote the flag into the
# exec line itself: read it from there.
node_flags() {
  local f=$1/scripts/meshlan v
  v=$(sed -n 's/^NODE_FLAGS="\(.*\)"$/\1/p' "$f")
  [ -n "$v" ] || v=$(grep -o -- '--max-semi-space-size=[0-9]*' "$f" | head -1)
  echo "$v"
}

# node_env ROOT: the environment (NAME=VALUE ...) the daemon of the tree at ROOT runs with — the
# DAEMON_ENV line of its scripts/meshlan (kept equal to DAEMON_ENV in @meshlan/daemon); empty for
# trees from before that line.
node_env() {
  sed -n 's/^DAEMON_ENV="\(.*\)"$/\1/p' "$1/scripts/meshlan"
}
