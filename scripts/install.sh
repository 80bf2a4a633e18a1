#!/usr/bin/env bash
# Installs meshlan system-wide from this checkout (Debian 12 / Raspberry Pi OS, amd64 or arm64):
#
#   sudo bash scripts/install.sh                 install or upgrade in place, enable and start the service
#   sudo bash scripts/install.sh --uninstall     remove it; /var/lib/meshlan (identity, network, config) stays
#   sudo bash scripts/install.sh --uninstall --purge    ... and the state too
#
# What it puts where (PREFIX /usr/local by default):
#   PREFIX/lib/meshlan/         the built bundles (dist/), the native addons built for this machine
#                               (build/Release/), Node 24 (bin/node), the docs
#   PREFIX/bin/meshlan          the command (a wrapper running the bundle with that Node)
#   /etc/systemd/system/meshlan.service  (--systemd-dir), started as `meshlan up --foreground`
#   /var/lib/meshlan/           state (StateDirectory of the unit; the CLI's default --state)
#
# A checkout-local toolchain does the building (scripts/lib/toolchain.sh: Debian packages, npm from
# Debian when missing, Node 24 and pnpm from the npm registry, the workspace, the addon), so the
# same script works on a fresh machine. Why a script and not a .deb: one path for amd64 and arm64
# that builds the addon against the machine's own Node, and nothing to host; a .deb can wrap it later.
#
# Options: --prefix DIR, --systemd-dir DIR, --state-dir DIR (default /var/lib/meshlan; the unit's
# StateDirectory is always /var/lib/meshlan), --no-start (install the unit, do not enable/start it),
# --no-groups (do not create the groups `meshlan` and `meshlan-admin`: members of the first may run
# read-only commands such as `meshlan status` without root, of the second every command).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/usr/local
UNIT_DIR=/etc/systemd/system
START=1
GROUPS_TOO=1
STATE=/var/lib/meshlan
MODE=install
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    --systemd-dir) UNIT_DIR=$2; shift 2 ;;
    --state-dir) STATE=$2; shift 2 ;;
    --no-start) START=0; shift ;;
    --no-groups) GROUPS_TOO=0; shift ;;
    --uninstall) MODE=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
LIB=$PREFIX/lib/meshlan
BIN=$PREFIX/bin/meshlan
UNIT=$UNIT_DIR/meshlan.service
CACHE=/var/cache/meshlan
log() { printf '[install] %s\n' "$*" >&2; }
systemd_up() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

if [ "$(id -u)" != 0 ]; then echo "install.sh: run as root (sudo bash scripts/install.sh)" >&2; exit 1; fi

if [ "$MODE" = uninstall ]; then
  if systemd_up && [ "$UNIT_DIR" = /etc/systemd/system ]; then systemctl disable --now meshlan.service 2>/dev/null || true; fi
  rm -rf "$LIB" "$CACHE"
  rm -f "$BIN" "$UNIT"
  if systemd_up && [ "$UNIT_DIR" = /etc/systemd/system ]; then systemctl daemon-reload; fi
  if [ "$PURGE" = 1 ] && [ "$GROUPS_TOO" = 1 ]; then
    for g in meshlan meshlan-admin; do getent group "$g" >/dev/null && groupdel "$g" 2>/dev/null || true; done
  fi
  if [ "$PURGE" = 1 ]; then rm -rf "$STATE"; log "removed meshlan and its state ($STATE)"
  else log "removed meshlan; the state in $STATE stays (identity, network, config): --purge removes it"; fi
  exit 0
fi

# shellcheck source=lib/toolchain.sh
source "$ROOT/scripts/lib/toolchain.sh"
source "$ROOT/scripts/lib/node-flags.sh"
meshlan_bootstrap
NODE_BIN=$(readlink -f "$ROOT/.toolchain/bin/node" 2>/dev/null || command -v node)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
node "$ROOT/scripts/build.mjs" "$stage/meshlan" >/dev/null
mkdir -p "$stage/meshlan/bin" "$stage/meshlan/docs"
cp "$NODE_BIN" "$stage/meshlan/bin/node"
cp "$ROOT"/docs/*.md "$stage/meshlan/docs/"
cp "$ROOT/packages/cli/package.json" "$stage/meshlan/package.json"

# Upgrade in place: the new tree replaces the old one in one rename; the state is never touched.
mkdir -p "$(dirname "$LIB")" "$(dirname "$BIN")" "$UNIT_DIR"
rm -rf "$LIB.new" && mv "$stage/meshlan" "$LIB.new"
if [ -d "$LIB" ]; then mv "$LIB" "$LIB.old"; fi
mv "$LIB.new" "$LIB" && rm -rf "$LIB.old"

cat >"$BIN.new" <<WRAPPER
#!/bin/sh
# meshlan, installed by scripts/install.sh from $ROOT
# root caches V8's compiled code in a root-only directory (faster start-up); other users do not
# share it: a cache others can write would let them run code as root.
if [ "\$(id -u)" = 0 ] && [ -z "\${NODE_COMPILE_CACHE:-}" ]; then
  mkdir -p -m 0700 $CACHE 2>/dev/null && export NODE_COMPILE_CACHE=$CACHE
fi
export $(node_env "$ROOT")
exec $LIB/bin/node --disable-warning=ExperimentalWarning $(node_flags "$ROOT") $LIB/dist/meshlan.mjs "\$@"
WRAPPER
chmod 0755 "$BIN.new" && mv "$BIN.new" "$BIN"

sed -e "s#/usr/local/bin/meshlan#$BIN#g" -e "s#/usr/local/lib/meshlan#$LIB#g" \
  "$ROOT/packaging/systemd/meshlan.service" >"$UNIT.new"
mv "$UNIT.new" "$UNIT"
mkdir -p -m 0700 "$STATE"
if [ "$GROUPS_TOO" = 1 ]; then
  # the control socket serves these besides root (docs/service.md): add users with usermod -aG
  for g in meshlan meshlan-admin; do getent group "$g" >/dev/null || groupadd --system "$g"; done
fi
log "installed $("$BIN" version) in $LIB, command $BIN, unit $UNIT, state $STATE"

if [ "$START" = 1 ] && systemd_up && [ "$UNIT_DIR" = /etc/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable meshlan.service >/dev/null 2>&1
  # an upgrade restarts the running service on the new code; identity, network and config stay
  systemctl restart meshlan.service
  log "meshlan.service enabled and (re)started: next, \`meshlan network create NAME\` or \`meshlan join -\`"
elif [ "$START" = 1 ]; then
  log "systemd is not running here: start it with \`meshlan up\`"
fi
