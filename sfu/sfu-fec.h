/* sfu-fec.h — video FEC (ULPFEC inside RED) on a subscription leg, private to the sfu module.
 * Pure, no GStreamer.
 *
 * The share: how many ULPFEC packets per 100 media packets a leg carries, from the loss and
 * the RTT its receiver reports. NACK repairs a loss in about one RTT plus the relay's reaction;
 * on a short RTT that is fast enough and FEC only costs bandwidth, so it is 0 there.
 *
 * The transport-wide number: GStreamer 1.22.0's rtpredenc copies a transport-wide extension
 * into the RED packet it builds, but under the one-byte id 1 instead of the negotiated one (its
 * caps' extmap); rtpsession then writes no number into it (it rewrites only an extension that
 * is there) and the browser's transport-cc feedback skips every RED packet. sfu_fec_retag_ext()
 * moves that element to the right id. */
#pragma once

#include <glib.h>

/* Below this RTT NACK is quick enough: no FEC. */
#define SFU_FEC_MIN_RTT_MS 100
/* Below this loss (0..1) no FEC. */
#define SFU_FEC_MIN_LOSS 0.005
/* Fewest and most FEC packets per 100 media packets when there is FEC at all. */
#define SFU_FEC_MIN_PCT 20
#define SFU_FEC_MAX_PCT 50

/* The ULPFEC share (0..SFU_FEC_MAX_PCT) for a leg losing `loss` (0..1) of its packets with
 * this RTT (0 = unknown: none). */
guint sfu_fec_share(double loss, guint rtt_ms);

/* The most share a leg's video budget leaves room for: FEC comes only out of what the budget
 * holds beyond the video floor (the least video the relay sends), so a leg near its floor
 * (edge: 150 kbit/s) gets none rather than video plus FEC over its link. */
guint sfu_fec_room(guint share, guint budget_bps, guint floor_bps);

/* A share falls by this much a tick (percentage points). */
#define SFU_FEC_FALL_PCT 2

/* The share to use this tick, from the one in use and the one sfu_fec_share() wants now: up at
 * once, down by SFU_FEC_FALL_PCT a tick (from 50 to none in 25 s). A second's receiver
 * report on a leg losing 2 % of ~25 video packets a second says 0 about half the time, so
 * following each report made the share jump between 0 and 50 (seen on rural-3g). */
guint sfu_fec_next(guint current, guint want);

/* In an RTP packet's one-byte header extension block (RFC 8285: profile 0xBEDE), the offset of
 * the element `from` if there is no element `to` already, else -1. `ext` points at the block's
 * elements (after the 4-byte profile and length), `len` bytes. Reads only. */
gssize sfu_fec_ext_misplaced(const guint8 *ext, gsize len, guint8 from, guint8 to);

/* Gives the element at `element` (an offset sfu_fec_ext_misplaced() found) the id `to`. */
void sfu_fec_ext_rename(guint8 *element, guint8 to);

/* Both at once: renames the element `from` to `to` if there is no element `to` already.
 * Returns TRUE if it renamed. */
gboolean sfu_fec_retag_ext(guint8 *ext, gsize len, guint8 from, guint8 to);
