#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, then lint, typecheck and
# every test of every package (unit, in-process multi-node, and network-namespace end to end).
# Ends with "N passed, N failed" and exits non-zero when anything failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/toolchain.sh"
cd "$MESHLAN_ROOT"
meshlan_bootstrap || exit 1

fail=0
echo "== lint"; pnpm exec biome ci . || fail=1
echo "== typecheck"; pnpm exec turbo run typecheck --output-logs=errors-only || fail=1
echo "== tests"
# One node:test run over every package so there is one summary. Network-namespace labs need
# root; tests that cannot run say why and skip, each counted. As root, and in CI (which runs as
# root with /dev/net/tun), labs must run: a lab test that cannot fails instead of skipping.
if [ -n "${CI:-}" ] || [ "$(id -u)" = 0 ]; then export MESHLAN_REQUIRE_LABS=${MESHLAN_REQUIRE_LABS:-1}; fi
mapfile -t files < <(find packages -path '*/node_modules' -prune -o -path '*/test/*' -name '*.test.ts' -print | sort)
node --test --test-reporter=spec --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}" \
  2>&1 | tee "${TMPDIR:-/tmp}/meshlan-test.out"
test_rc=${PIPESTATUS[0]}
[ "$test_rc" = 0 ] || fail=1
passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "${TMPDIR:-/tmp}/meshlan-test.out" | tail -1)
failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "${TMPDIR:-/tmp}/meshlan-test.out" | tail -1)
skipped=$(sed -n 's/^ℹ skipped \([0-9]*\)$/\1/p' "${TMPDIR:-/tmp}/meshlan-test.out" | tail -1)
[ "$fail" = 0 ] || [ "${failed:-0}" != 0 ] || failed=1   # lint/typecheck failure counts as one
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$fail"
