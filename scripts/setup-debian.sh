#!/usr/bin/env bash
# Installs the Debian 12 packages Mashwara needs to build, run and test. Safe to run again:
# it only calls apt-get when something is missing. Needs root (or sudo).
set -euo pipefail

BUILD_PKGS=(meson ninja-build pkg-config build-essential
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgstreamer-plugins-bad1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice libnice-dev
  libsrtp2-dev libwebsockets-dev libsqlite3-dev libjansson-dev libssl-dev libsodium-dev
  libsoup-3.0-dev sqlite3 openssl ca-certificates)
# libnetfilter-queue-dev: bench/weak/nfq-delay, the delay stage of the weak-link test (Debian 12's
# kernel here has no netem); meson builds it only when the library is found.
TEST_PKGS=(chromium iproute2 iptables nodejs npm procps libnetfilter-queue-dev)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${TEST_PKGS[@]}")
fi

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
fi
