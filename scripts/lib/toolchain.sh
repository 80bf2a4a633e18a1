# shellcheck shell=bash
# Sourced by scripts/*.sh. Makes sure this checkout has everything it needs and puts it on PATH:
#   1. Debian packages (iproute2, iptables, iperf3, ping, dig, jq, a C toolchain) via apt-get;
#   2. Node >= 24: the system's if new enough, else node-linux-<arch>@24 from the npm registry
#      into .toolchain/node (the package carries the official binary and headers);
#   3. pnpm (pinned in package.json) into .toolchain/pnpm;
#   4. workspace dependencies (pnpm install) and the native TUN addon (node-gyp, against the
#      headers of the Node we run).
# Idempotent and quiet when everything is already there. Downloads nothing but npm and Debian packages.

MESHLAN_ROOT=${MESHLAN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TOOLCHAIN="$MESHLAN_ROOT/.toolchain"
NODE_MAJOR_WANTED=24
PNPM_VERSION=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$MESHLAN_ROOT/package.json")
# miniupnpd-nftables: the miniupnpd binary alone (the NAT lab's UPnP router, run only inside a lab
# namespace), not the `miniupnpd` package, whose init script and service would run it on this host;
# nftables: `nft`, which creates the chains miniupnpd adds its rules to (in that namespace too).
DEB_PACKAGES="iproute2 iptables iperf3 iputils-ping dnsutils jq procps util-linux kmod make g++ python3 ca-certificates fail2ban oathtool miniupnpd-nftables nftables chromium"

tc_log() { printf '[toolchain] %s\n' "$*" >&2; }

ensure_debs() {
  local missing=() c
  for c in ip iptables iperf3 ping dig jq flock make g++ python3 fail2ban-regex oathtool miniupnpd nft chromium; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    tc_log "missing commands: ${missing[*]}; run as root (or install: $DEB_PACKAGES)"
    return 1
  fi
  tc_log "installing Debian packages (missing: ${missing[*]})"
  apt_install $DEB_PACKAGES
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null ||
    { tc_log "apt-get install $* failed"; return 1; }
}

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local sys pkg arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) tc_log "unsupported CPU $(uname -m): install Node >= $NODE_MAJOR_WANTED yourself"; return 1 ;;
  esac
  pkg="$TOOLCHAIN/node/node_modules/node-linux-$arch"
  if [ -x "$pkg/bin/node" ] && [ "$(node_major "$pkg/bin/node")" -ge "$NODE_MAJOR_WANTED" ]; then
    :
  elif sys=$(command -v node) && [ "$(node_major "$sys")" -ge "$NODE_MAJOR_WANTED" ]; then
    export MESHLAN_NODEDIR=${MESHLAN_NODEDIR:-}
    return 0
  else
    # a bare Debian 12 may have no npm: Debian's own (any version) is enough to fetch Node 24
    if ! command -v npm >/dev/null; then
      [ "$(id -u)" = 0 ] || { tc_log "need npm (any version) to fetch Node $NODE_MAJOR_WANTED: apt-get install npm"; return 1; }
      tc_log "installing npm from Debian (to fetch Node $NODE_MAJOR_WANTED)"
      apt_install npm || return 1
    fi
    tc_log "installing Node $NODE_MAJOR_WANTED (node-linux-$arch from the npm registry)"
    mkdir -p "$TOOLCHAIN/node"
    npm install --silent --no-save --no-package-lock --prefix "$TOOLCHAIN/node" "node-linux-$arch@$NODE_MAJOR_WANTED" >/dev/null 2>&1 ||
      { tc_log "npm install node-linux-$arch@$NODE_MAJOR_WANTED failed"; return 1; }
  fi
  mkdir -p "$TOOLCHAIN/bin"
  ln -sf "$pkg/bin/node" "$TOOLCHAIN/bin/node"
  export MESHLAN_NODEDIR="$pkg"
  export PATH="$TOOLCHAIN/bin:$PATH"
}

ensure_pnpm() {
  local bin="$TOOLCHAIN/pnpm/node_modules/.bin/pnpm"
  if [ ! -x "$bin" ] || [ "$("$bin" --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
    tc_log "installing pnpm $PNPM_VERSION"
    mkdir -p "$TOOLCHAIN/pnpm"
    npm install --silent --no-save --no-package-lock --prefix "$TOOLCHAIN/pnpm" "pnpm@$PNPM_VERSION" >/dev/null 2>&1 ||
      { tc_log "npm install pnpm@$PNPM_VERSION failed"; return 1; }
  fi
  mkdir -p "$TOOLCHAIN/bin"
  ln -sf "$bin" "$TOOLCHAIN/bin/pnpm"
  export PATH="$TOOLCHAIN/bin:$PATH"
}

ensure_workspace() {
  # node-gyp builds against the headers shipped with the Node we run, never a download.
  if [ -n "${MESHLAN_NODEDIR:-}" ]; then export npm_config_nodedir="$MESHLAN_NODEDIR"; fi
  local stamp="$MESHLAN_ROOT/node_modules/.meshlan-install-stamp"
  if [ ! -f "$stamp" ] || [ "$MESHLAN_ROOT/pnpm-lock.yaml" -nt "$stamp" ] ||
    [ -n "$(find "$MESHLAN_ROOT/package.json" "$MESHLAN_ROOT/packages" -maxdepth 2 -name package.json -newer "$stamp" 2>/dev/null)" ]; then
    tc_log "installing workspace dependencies"
    # Always the exact versions in pnpm-lock.yaml, on every machine and in CI: the libp2p family
    # is pinned because the hole-punch upgrade depends on its behaviour. A package.json that
    # disagrees with the lockfile is an error, never a quiet re-resolve.
    (cd "$MESHLAN_ROOT" && pnpm install --frozen-lockfile --reporter=silent) || {
      tc_log "pnpm install --frozen-lockfile failed: if a package.json changed, run"
      tc_log "  flock /tmp/meshlan-pnpm.lock pnpm install   and commit pnpm-lock.yaml with it"
      return 1
    }
    touch "$stamp"
  fi
  (cd "$MESHLAN_ROOT" && pnpm run --silent build >/dev/null) || { tc_log "build failed (run: pnpm run build)"; return 1; }
}

meshlan_bootstrap() {
  ensure_debs && ensure_node && ensure_pnpm && ensure_workspace
}
