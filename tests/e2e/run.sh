#!/usr/bin/env bash
# End-to-end tests: the real mashwara daemon and headless Chromium, all inside a network
# namespace made for this run (a dummy or veth interface with 198.18.0.1/24, IPv6 off), so nothing
# touches the host's own interfaces. Must run as root. Usage:
#   bash tests/e2e/run.sh [test files…]      (default: tests/e2e/*.test.mjs)
# Environment: MASHWARA_BIN (default <repo>/build/daemon/mashwara), CHROMIUM (/usr/bin/chromium).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export MASHWARA_BIN="${MASHWARA_BIN:-$REPO/build/daemon/mashwara}"

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: must run as root (it creates a network namespace)" >&2
  exit 2
fi
if [ ! -x "$MASHWARA_BIN" ]; then
  echo "run.sh: daemon not found at $MASHWARA_BIN (build it, or set MASHWARA_BIN)" >&2
  exit 2
fi
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
  (cd "$HERE" && { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; })
fi

NS="mwe2e-$$"
cleanup() {
  # Processes the tests started die with their test file; anything left in the namespace
  # (a hung browser) is ended by its pid before the namespace goes.
  local pids
  pids="$(ip netns pids "$NS" 2>/dev/null || true)"
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    sleep 1
    pids="$(ip netns pids "$NS" 2>/dev/null || true)"
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
  fi
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
# A dummy interface where the kernel has the dummy driver; else (some kernels lack it) a veth
# pair with both ends inside the namespace, which looks the same to the tests.
if ! ip -n "$NS" link add mw0 type dummy 2>/dev/null; then
  ip -n "$NS" link add mw0 type veth peer name mw0p
  ip -n "$NS" link set mw0p up
fi
ip -n "$NS" addr add 198.18.0.1/24 dev mw0
ip -n "$NS" link set mw0 up
ip -n "$NS" route add default dev mw0
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1

mkdir -p "$REPO/tests/output/e2e"
cd "$REPO"
set +e
if [ "${1:-}" = "--script" ]; then
  # A bench script (bench/soak) in the same namespace: node SCRIPT ARGS…
  shift
  ip netns exec "$NS" env MW_E2E_HOST=198.18.0.1 node "$@"
  rc=$?
else
  if [ "$#" -gt 0 ]; then files=("$@"); else files=(tests/e2e/*.test.mjs); fi
  ip netns exec "$NS" env MW_E2E_HOST=198.18.0.1 \
    node --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
  rc=$?
fi
set -e
exit "$rc"
