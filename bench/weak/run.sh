#!/usr/bin/env bash
# The weak-link benchmark in one command (root): makes the four namespaces (bench/weak/netns.sh),
# generates the busy camera file when a run needs it, runs the driver inside the srv namespace,
# and deletes everything on exit.
#   bash bench/weak/run.sh [--quick] [--profiles a,b] [--modes ours,p2p,janus] [--cameras default,busy]
#                          [--seconds N] [--warmup N] [--party 3] [--no-doc]
#   bash bench/weak/run.sh --node-test FILE…   (the CI check: node --test FILE… in the same setup)
# Environment: MASHWARA_BIN (default <repo>/build/daemon/mashwara), NFQ_DELAY
# (default <repo>/build/bench/weak/nfq-delay).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export MASHWARA_BIN="${MASHWARA_BIN:-$REPO/build/daemon/mashwara}"
export NFQ_DELAY="${NFQ_DELAY:-$(dirname "$(dirname "$MASHWARA_BIN")")/bench/weak/nfq-delay}"
export MW_E2E_HOST=198.18.0.1

if [ "$(id -u)" -ne 0 ]; then echo "run.sh: must run as root (network namespaces)" >&2; exit 2; fi
[ -x "$MASHWARA_BIN" ] || { echo "run.sh: no daemon at $MASHWARA_BIN (meson compile -C build)" >&2; exit 2; }
if [ ! -d "$REPO/tests/e2e/node_modules/playwright-core" ]; then
  (cd "$REPO/tests/e2e" && { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; })
fi

# The busy camera: 640x360 at 30 fps for 10 s (Chromium loops the file). A zone plate that moves
# (kt) and zooms (kt2) gives every block detail that changes each frame, and 12 % of snow on top
# adds noise no encoder can predict: VP8 needs well over 1 Mbit/s to keep it sharp.
busy() {
  local f="$HERE/out/busy.y4m"
  [ -s "$f" ] && return 0
  mkdir -p "$HERE/out"
  echo "run.sh: generating $f"
  local caps="video/x-raw,width=640,height=360,framerate=30/1"
  gst-launch-1.0 -q compositor name=c sink_1::alpha=0.12 \
      ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! y4menc ! filesink location="$f.tmp" \
    videotestsrc num-buffers=300 pattern=zone-plate kx2=12 ky2=8 kt=3 kt2=1 ! "$caps" ! c. \
    videotestsrc num-buffers=300 pattern=snow ! "$caps" ! c.
  mv "$f.tmp" "$f"
}

P="mwweak-$$"
cleanup() {
  # Whatever is left in our namespaces (a hung browser) is ended by pid before they go.
  local ns pids sig
  for sig in TERM KILL; do
    for ns in "$P-srv" "$P-pat" "$P-doc" "$P-gst"; do
      pids="$(ip netns pids "$ns" 2>/dev/null || true)"
      # shellcheck disable=SC2086
      [ -n "$pids" ] && kill -$sig $pids 2>/dev/null || true
    done
    [ $sig = TERM ] && sleep 3
  done
  bash "$HERE/netns.sh" down "$P" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ "${1:-}" = "--node-test" ]; then
  shift
  bash "$HERE/netns.sh" up "$P"
  cd "$REPO"
  set +e
  # In the background and waited for, so that a TERM to this script runs cleanup at once.
  ip netns exec "$P-srv" env MW_WEAK_PREFIX="$P" node --test --test-concurrency=1 --test-timeout=600000 "$@" &
  wait $!
  rc=$?
  set -e
  exit "$rc"
fi

case " $* " in
  *" --cameras "*) if [[ " $* " =~ --cameras[[:space:]]+[^[:space:]]*busy ]]; then busy; fi ;;
  *) busy ;;
esac
bash "$HERE/netns.sh" up "$P"
cd "$REPO"
set +e
ip netns exec "$P-srv" node "$HERE/run.mjs" --prefix "$P" --command "bash bench/weak/run.sh $*" "$@" &
wait $!
rc=$?
set -e
exit "$rc"
