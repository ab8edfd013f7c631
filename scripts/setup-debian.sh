#!/usr/bin/env bash
# Installs the Debian 12 packages Mashwara needs to build, run and test. Safe to run again:
# it only calls apt-get when something is missing. Needs root (or sudo).
# Usage: setup-debian.sh [--test | --fuzz]   (--test: everything scripts/test.sh runs;
# --fuzz: the build and the fuzzers' compiler only)
set -euo pipefail

BUILD_PKGS=(meson ninja-build pkg-config build-essential
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgstreamer-plugins-bad1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice libnice-dev
  libsrtp2-dev libwebsockets-dev libsqlite3-dev libjansson-dev libssl-dev libsodium-dev
  libsoup-3.0-dev sqlite3 openssl ca-certificates)
# coturn: tests/e2e/restrictive.test.mjs starts its own turnserver (by pid, own config) inside
# the test namespace; it never uses the package's service.
# libnetfilter-queue-dev: bench/weak/nfq-delay, the delay stage of the weak-link test (Debian 12's
# kernel here has no netem); meson builds it only when the library is found.
# janus: the weak-link benchmark's second anchor (bench/weak/modes/janus.mjs starts its own, by
# pid, with its own loopback-free config inside the benchmark's namespaces).
TEST_PKGS=(chromium iproute2 iptables nodejs npm procps coturn libnetfilter-queue-dev janus)
# fonts-noto-core: Noto Naskh Arabic and Noto Nastaliq Urdu, so the patient page's Urdu renders
# (not as boxes) in headless Chromium for tests/e2e/faces-patient.test.mjs (the page bundles no
# web fonts; phones have their own).
TEST_PKGS+=(fonts-noto-core)
# The libFuzzer drivers (scripts/fuzz.sh, tests/fuzz): clang, and libclang-rt-14-dev for
# libclang_rt.fuzzer-x86_64.a and the sanitizer runtimes (only a Recommends of clang's
# dependencies, so not installed without it here); llvm for llvm-symbolizer (readable stacks).
FUZZ_PKGS=(clang libclang-rt-14-dev llvm)

want=("${BUILD_PKGS[@]}")
case "${1:-}" in
--test) want+=("${TEST_PKGS[@]}" "${FUZZ_PKGS[@]}") ;;
--fuzz) want+=("${FUZZ_PKGS[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  # nodejs/npm may come from elsewhere than Debian (a newer node already on PATH is fine).
  if [[ "$p" == nodejs ]] && command -v node >/dev/null; then continue; fi
  if [[ "$p" == npm ]] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  # On a host with systemd, installing coturn or janus enables and starts its service (coturn
  # on 0.0.0.0:3478). The tests and the benchmark start their own: stop the ones this script
  # installed. (In containers without systemd, or with a policy-rc.d that says no, they never
  # start.)
  for svc in coturn janus; do
    if [[ " ${missing[*]} " == *" $svc "* ]] && [[ -d /run/systemd/system ]]; then
      $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
fi

# The account the server runs as once it has bound its port (daemon/mw-privs.h): started as
# root, it gives its data folder to this account and becomes it. A system account without a
# home or a login shell.
if ! getent passwd mashwara >/dev/null; then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  echo "setup: adding the system account mashwara"
  $SUDO useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin mashwara
fi
