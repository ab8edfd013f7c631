#!/usr/bin/env bash
# The relay benchmark in one command (root; bench/README.md, "Relay"):
#   bash bench/load/run.sh [--quick] [--servers ours,janus] [--steps 2,4,8] [--hold S] [--doc|--no-doc]
# Builds the daemon and bench/load/mw-loadgen in $MW_BENCH_BUILD (default <repo>/build-bench,
# buildtype debugoptimized), makes the looped media once (bench/load/out/media, gitignored), makes
# two network namespaces joined by a veth pair (server 198.18.0.1, generator 198.18.0.2; nothing
# else is reachable from them), and runs bench/load/run.mjs in the server namespace, which starts
# our daemon, then Janus, ramps consultations from the generator and prints the table. The whole
# run is bounded (quick: 5 min, full: 60 min) and stops by itself; on exit, whatever is still in
# the namespaces is ended by pid and the namespaces are deleted.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="${MW_BENCH_BUILD:-$REPO/build-bench}"
MEDIA="$HERE/out/media"
cd "$REPO"

[ "$(id -u)" = 0 ] || { echo "bench/load/run.sh: needs root (network namespaces)" >&2; exit 2; }
command -v janus >/dev/null || echo "bench/load/run.sh: no janus binary: only our relay is measured (scripts/setup-debian.sh --test installs it)" >&2

if [[ ! -f $BUILD/build.ninja ]]; then
  meson setup "$BUILD" -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$BUILD" daemon/mashwara bench/load/mw-loadgen >/dev/null

# Pre-encoded media, made once: 10 s of a moving zone plate as VP8 640x360 30 fps ~500 kbit/s
# (a keyframe every 2 s) and a 440 Hz tone as Opus 32 kbit/s in 20 ms frames. The generator
# loads both into memory and loops them; nothing is encoded during a run.
if [[ ! -f $MEDIA/video.webm || ! -f $MEDIA/audio.ogg ]]; then
  mkdir -p "$MEDIA"
  gst-launch-1.0 -q videotestsrc num-buffers=300 pattern=zone-plate kx2=20 ky2=20 kt=1 \
    ! video/x-raw,width=640,height=360,framerate=30/1 \
    ! vp8enc target-bitrate=540000 end-usage=cbr keyframe-max-dist=60 deadline=1 cpu-used=4 threads=2 \
    ! webmmux ! filesink location="$MEDIA/video.webm.tmp"
  gst-launch-1.0 -q audiotestsrc num-buffers=500 samplesperbuffer=960 wave=sine freq=440 \
    ! audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=32000 frame-size=20 \
    ! oggmux ! filesink location="$MEDIA/audio.ogg.tmp"
  mv "$MEDIA/video.webm.tmp" "$MEDIA/video.webm"
  mv "$MEDIA/audio.ogg.tmp" "$MEDIA/audio.ogg"
fi

P="mwload-$$"
SRV="$P-srv" GEN="$P-gen"
cleanup() {
  local ns pids sig
  for sig in TERM KILL; do
    for ns in "$SRV" "$GEN"; do
      pids="$(ip netns pids "$ns" 2>/dev/null || true)"
      # shellcheck disable=SC2086
      [ -n "$pids" ] && kill -$sig $pids 2>/dev/null || true
    done
    [ $sig = TERM ] && sleep 2
  done
  ip netns del "$SRV" 2>/dev/null || true
  ip netns del "$GEN" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for ns in "$SRV" "$GEN"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$SRV" link add srv0 type veth peer name gen0 netns "$GEN"
ip -n "$SRV" addr add 198.18.0.1/24 dev srv0
ip -n "$GEN" addr add 198.18.0.2/24 dev gen0
ip -n "$SRV" link set srv0 up
ip -n "$GEN" link set gen0 up
limit=3600
case " $* " in *" --quick "*) limit=300 ;; esac
export MASHWARA_BIN="$BUILD/daemon/mashwara"
set +e
# In the background and waited for, so that a TERM to this script runs cleanup at once.
ip netns exec "$SRV" timeout --signal=TERM --kill-after=20 "$limit" \
  node "$HERE/run.mjs" --srv-ns "$SRV" --gen-ns "$GEN" --loadgen "$BUILD/bench/load/mw-loadgen" \
  --media "$MEDIA" --command "bash bench/load/run.sh${*:+ $*}" "$@" &
wait $!
rc=$?
set -e
exit "$rc"
