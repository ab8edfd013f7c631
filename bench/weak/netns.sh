#!/usr/bin/env bash
# The weak-link topology: four network namespaces, the patient's link impaired both ways.
#
#   PREFIX-pat                  PREFIX-srv                               PREFIX-doc
#   pat0 198.18.0.2 ═══════ srvpat ─┐                                   doc0 198.18.0.3
#        (impaired)                 br0 198.18.0.1 (daemon, Janus)          │
#                           srvdoc ─┤ ──────────────────────────────────────┘ (clean)
#                           srvgst ─┘ ─────────── gst0 198.18.0.4 PREFIX-gst (clean; the third
#                                                 participant of a three-party call, --party 3)
#
# One L2 segment through a bridge in srv (see up() for why the server's address is on br0), so
# pat and doc also reach each other through srv (the peer-to-peer baseline's media crosses the
# same impaired link). IPv6 is off everywhere (ICE would otherwise find link-local pairs that
# the IPv4 rules miss).
#
# Impairment of the patient link, each direction on its own:
#   rate   tbf on the sending end's egress (pat0 for the upload, srvpat for the download);
#   loss   iptables `-m statistic --mode random` DROP in the receiving end's mangle PREROUTING
#          (ingress, so the sender's socket never sees an error; in srv `-m physdev --physdev-in
#          srvpat`, with br_netfilter on), in a chain MWLOSS that a profile change refills;
#   delay  where the kernel has netem: a netem qdisc at the root of each egress, the tbf its
#          child (tc-netem(8)'s recipe); else NFQUEUE in the receiving end's mangle PREROUTING
#          (after MWLOSS) and bench/weak/nfq-delay holding each verdict for the one-way delay.
#          (The netem branch is written for users' kernels; this project's machines lack netem.)
#
# Usage (root):
#   netns.sh up PREFIX                      make the namespaces (idempotent only after down)
#   netns.sh shape PREFIX KBIT RTT_MS LOSS  set the patient link: rate in kbit/s (0 = unlimited),
#                                           round-trip delay in ms (half each way), loss in
#                                           percent each way (100 = outage); re-run to change
#   netns.sh down PREFIX                    stop our nfq-delay processes, delete the namespaces
# Environment: NFQ_DELAY (default <repo>/build/bench/weak/nfq-delay).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
NFQ_DELAY="${NFQ_DELAY:-$REPO/build/bench/weak/nfq-delay}"
QUEUE=7

cmd="${1:-}"
P="${2:-}"
[[ -n "$cmd" && -n "$P" ]] || { echo "usage: netns.sh up|shape|down PREFIX [KBIT RTT_MS LOSS]" >&2; exit 2; }
SRV="$P-srv" PAT="$P-pat" DOC="$P-doc" GST="$P-gst"
STATE="/tmp/$P.state"

nsup() { # ns
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
}

up() {
  mkdir -p "$STATE"
  nsup "$SRV"; nsup "$PAT"; nsup "$DOC"; nsup "$GST"
  # One L2 segment: a bridge in srv holds the server's address and the two links are its ports.
  # The server's address must be on the interface its packets leave by: libnice sends from the
  # interface that holds the ICE address (on lo or a side interface, every UDP packet to a
  # browser was lost and only ICE-TCP connected). pat and doc reach each other through the
  # bridge, so the p2p call's media crosses the same impaired link.
  ip -n "$SRV" link add br0 type bridge
  ip -n "$SRV" link add srvpat type veth peer name pat0 netns "$PAT"
  ip -n "$SRV" link add srvdoc type veth peer name doc0 netns "$DOC"
  ip -n "$SRV" link add srvgst type veth peer name gst0 netns "$GST"
  ip -n "$SRV" link set srvpat master br0
  ip -n "$SRV" link set srvdoc master br0
  ip -n "$SRV" link set srvgst master br0
  ip -n "$SRV" addr add 198.18.0.1/24 dev br0
  ip -n "$PAT" addr add 198.18.0.2/24 dev pat0
  ip -n "$DOC" addr add 198.18.0.3/24 dev doc0
  ip -n "$GST" addr add 198.18.0.4/24 dev gst0
  for l in "$SRV br0" "$SRV srvpat" "$SRV srvdoc" "$SRV srvgst" "$PAT pat0" "$DOC doc0" "$GST gst0"; do
    set -- $l
    ip -n "$1" link set "$2" up
  done
  # Default routes (Chromium gathers no candidates without one); srv forwards nothing, so
  # whatever a browser sends elsewhere (DNS to the host's resolver) ends there.
  ip -n "$PAT" route add default via 198.18.0.1
  ip -n "$DOC" route add default via 198.18.0.1
  ip -n "$GST" route add default via 198.18.0.1
  ip netns exec "$SRV" sysctl -qw net.ipv4.ip_forward=0
  # Chromium's background DNS queries (to the host's resolver, unreachable here) would cross the
  # impaired link: refused where they start.
  for ns in "$PAT" "$DOC" "$GST"; do
    ip netns exec "$ns" iptables -A OUTPUT -p udp --dport 53 -j REJECT
    ip netns exec "$ns" iptables -A OUTPUT -p tcp --dport 53 -j REJECT --reject-with tcp-reset
  done
  # Bridged packets (pat to doc) through iptables too (br_netfilter), so the upload's loss and
  # delay apply to them as to packets for the server.
  ip netns exec "$SRV" sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # Loss chains and the delay hooks, both at the receiving end's ingress of the patient link.
  ip netns exec "$SRV" iptables -t mangle -N MWLOSS
  ip netns exec "$SRV" iptables -t mangle -A PREROUTING -m physdev --physdev-in srvpat -j MWLOSS
  ip netns exec "$PAT" iptables -t mangle -N MWLOSS
  ip netns exec "$PAT" iptables -t mangle -A PREROUTING -i pat0 -j MWLOSS
  if has_netem; then echo netem >"$STATE/delay-kind"; else echo nfqueue >"$STATE/delay-kind"; fi
  echo "netns: $SRV $PAT $DOC $GST up (delay by $(cat "$STATE/delay-kind"))"
}

# netem where the kernel has it (most users' machines); tried on a throwaway qdisc.
has_netem() {
  if tc -n "$PAT" qdisc add dev lo root handle 9: netem delay 1ms 2>/dev/null; then
    tc -n "$PAT" qdisc del dev lo root 2>/dev/null || true
    return 0
  fi
  return 1
}

# tbf sizing. The queue (limit) holds ~200 ms at the link's rate, with at least 3 full-size
# packets: a 3G/EDGE radio link buffers about that much before dropping (more and the
# estimator sees only delay, never loss; less and every keyframe burst is cut). The bucket
# (burst) is 20 ms of data, at least 2 full-size packets, so the link never passes more than
# ~20 ms of traffic at line rate above its rate.
tbf_args() { # kbit
  local bps=$(($1 * 1000 / 8))
  local burst=$((bps / 50)) queue=$((bps / 5))
  ((burst < 3028)) && burst=3028
  ((queue < 4542)) && queue=4542
  # tbf's limit counts the bucket too: what waits is limit - burst.
  echo "rate ${1}kbit burst $burst limit $((queue + burst))"
}

shape_dir() { # ns dev kbit oneway_ms   (egress of dev: rate, and delay if netem)
  local ns=$1 dev=$2 kbit=$3 ow=$4 kind
  kind=$(cat "$STATE/delay-kind")
  tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null || true
  if [[ $kind == netem ]]; then
    tc -n "$ns" qdisc add dev "$dev" root handle 1: netem delay "${ow}ms" limit 100000
    ((kbit > 0)) && tc -n "$ns" qdisc add dev "$dev" parent 1:1 handle 10: tbf $(tbf_args "$kbit")
  else
    ((kbit > 0)) && tc -n "$ns" qdisc add dev "$dev" root handle 1: tbf $(tbf_args "$kbit")
  fi
  return 0
}

loss_dir() { # ns pct
  ip netns exec "$1" iptables -t mangle -F MWLOSS
  if [[ $2 == 100 ]]; then
    ip netns exec "$1" iptables -t mangle -A MWLOSS -j DROP
  elif [[ $2 != 0 ]]; then
    local p
    p=$(awk -v x="$2" 'BEGIN { printf "%.4f", x / 100 }')
    ip netns exec "$1" iptables -t mangle -A MWLOSS -m statistic --mode random --probability "$p" -j DROP
  fi
}

# NFQUEUE delay: one nfq-delay per receiving end; restarted only when the delay changes.
delay_nfq() { # ns "match" oneway_ms tag
  local ns=$1 ow=$3 tag=$4
  local -a match
  local pidf="$STATE/nfq-$4.pid" cur="$STATE/nfq-$4.ms"
  read -r -a match <<<"$2"
  if [[ -f $cur && $(cat "$cur") == "$ow" ]]; then return 0; fi
  if [[ -f $pidf ]]; then
    kill -TERM "$(cat "$pidf")" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$(cat "$pidf")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidf"
  fi
  ip netns exec "$ns" iptables -t mangle -D PREROUTING "${match[@]}" -j NFQUEUE --queue-num $QUEUE --queue-bypass 2>/dev/null || true
  echo "$ow" >"$cur"
  ((ow > 0)) || return 0
  [[ -x $NFQ_DELAY ]] || { echo "netns: $NFQ_DELAY missing (meson compile -C build; needs libnetfilter-queue-dev)" >&2; exit 1; }
  ip netns exec "$ns" "$NFQ_DELAY" --queue $QUEUE --delay "$ow" </dev/null >>"$STATE/nfq-$tag.log" 2>&1 &
  echo $! >"$pidf"
  sleep 0.2 # bound before packets are sent to it (--queue-bypass covers the gap anyway)
  ip netns exec "$ns" iptables -t mangle -A PREROUTING "${match[@]}" -j NFQUEUE --queue-num $QUEUE --queue-bypass
}

shape() { # kbit rtt loss
  local kbit=$1 rtt=$2 loss=$3 ow=$(($2 / 2))
  local kind
  kind=$(cat "$STATE/delay-kind")
  local d=$ow
  [[ $kind == netem ]] || d=0
  shape_dir "$PAT" pat0 "$kbit" "$d"     # upload
  shape_dir "$SRV" srvpat "$kbit" "$d"   # download
  loss_dir "$SRV" "$loss"
  loss_dir "$PAT" "$loss"
  if [[ $kind == nfqueue ]]; then
    delay_nfq "$SRV" "-m physdev --physdev-in srvpat" "$ow" up
    delay_nfq "$PAT" "-i pat0" "$ow" down
  fi
}

down() {
  for f in "$STATE"/nfq-*.pid; do
    [[ -f $f ]] || continue
    kill -TERM "$(cat "$f")" 2>/dev/null || true
  done
  sleep 0.3
  for ns in "$SRV" "$PAT" "$DOC" "$GST"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$STATE"
}

case "$cmd" in
  up) up ;;
  shape) shape "${3:?kbit}" "${4:?rtt_ms}" "${5:?loss_pct}" ;;
  down) down ;;
  *) echo "netns.sh: unknown command $cmd" >&2; exit 2 ;;
esac
