/* sfu-twcc.h — transport-wide congestion control feedback as a subscriber's browser sends it
 * (RTCP RTPFB FMT 15, draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1), parsed by the
 * relay itself. Private to the sfu module; pure, no GStreamer.
 *
 * Why our own parser: the subscription's rtpsession (1.22) writes its own transport-wide
 * numbers into the packets that carry the extension (the leg's video; its RED-wrapped audio
 * carries none) but keeps no use of the feedback the relay can reach. The egress remembers
 * when each number left (a probe on the rtpsession's send_rtp_src, sfu-egress.c) and reads the
 * feedback from rtpsession's on-feedback-rtcp signal. */
#pragma once

#include <glib.h>

typedef struct {
  guint16 seq;
  gboolean received;
  gint64 arrival_us; /* received: the receiver's clock (its reference time base) */
} SfuTwccStatus;

/* Parses one feedback message's FCI (from the base sequence number on). Writes at most `max`
 * statuses in sequence order and returns how many it wrote, or -1 if the FCI is malformed
 * (truncated, a reserved symbol, an empty run). */
int sfu_twcc_parse_fci(const guint8 *fci, gsize len, SfuTwccStatus *out, guint max);

/* REMB (draft-alvestrand-rmcat-remb, RTCP PSFB FMT 15 "application layer feedback"): the
 * receiver's own estimate of what it can take, which Chrome sends on a leg when it does not
 * send transport-cc feedback. Parses the FCI; FALSE if it is not a well-formed REMB. */
gboolean sfu_remb_parse_fci(const guint8 *fci, gsize len, guint64 *bitrate_bps);

/* The relay's cap on a round-trip time read from a receiver report (ms). A browser's RR can make
 * rtpsession's round trip anything up to 65536 s (LSR and DLSR are the sender's to fill in). */
#define SFU_RR_MAX_RTT_MS 10000

/* A receiver report's round trip as rtpsession gives it ("rb-round-trip": 1/65536 s units) in
 * milliseconds, at most SFU_RR_MAX_RTT_MS. */
guint sfu_rr_rtt_ms(guint rb_round_trip);
