#!/usr/bin/env bash
# The scheduler benchmark in one command (bench/README.md):
#   bash bench/sched/run.sh [bench.mjs options: --clients 16 --seconds 10 --searches 1000 --rows 1000000 --json FILE]
# Builds the daemon and bench/sched/sched-bench in $MW_BENCH_BUILD (default <repo>/build-bench,
# buildtype debugoptimized like a default build) if needed, then runs bench/sched/bench.mjs, which
# starts the daemon on 127.0.0.1 only and prints the table. The whole run is bounded (15 min).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${MW_BENCH_BUILD:-$REPO/build-bench}"
cd "$REPO"

if [[ ! -f $BUILD/build.ninja ]]; then
  meson setup "$BUILD" -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$BUILD" daemon/mashwara >/dev/null
SB="$BUILD/bench/sched/sched-bench"
if ninja -C "$BUILD" -t targets all 2>/dev/null | grep -q '^bench/sched/sched-bench:'; then
  ninja -C "$BUILD" bench/sched/sched-bench >/dev/null
else
  # The root meson.build does not include bench/: build the program by hand against the
  # scheduler's static library from the same build.
  mkdir -p "$(dirname "$SB")"
  cc -std=c11 -D_GNU_SOURCE -O2 -g -o "$SB" bench/sched/seed.c -Ischeduler \
    "$BUILD/scheduler/libmw_sched.a" $(pkg-config --cflags --libs glib-2.0 sqlite3 libsodium) -lm
fi

exec timeout --signal=TERM --kill-after=30 900 \
  node "$REPO/bench/sched/bench.mjs" --bin "$BUILD/daemon/mashwara" --sched-bench "$SB" "$@"
