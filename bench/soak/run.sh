#!/usr/bin/env bash
# The soak: bash bench/soak/run.sh [--calls N] [--minutes M] [--sample S]
# N concurrent consultations (default 2) with patients joining and leaving for M minutes
# (default 10) on one daemon, real headless Chromium, in the end-to-end tests' network namespace
# (tests/e2e/run.sh: root). Prints RSS, fds and threads over time and the errors (must be 0);
# exits non-zero on any error. MASHWARA_BIN: the daemon (default build/daemon/mashwara).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
exec bash "$REPO/tests/e2e/run.sh" --script "$HERE/soak.mjs" "$@"
