/* sfu-bwe.h — delay-based bandwidth estimator (GCC-style) for one relay -> subscriber leg.
 * Private to the sfu module (prefix sfu_bwe_); no GStreamer, no sockets.
 *
 * Input is transport-wide congestion control feedback (one call per feedback report, see
 * sfu-twcc.h for the GStreamer side); output is a send rate in bit/s that the relay divides
 * between the leg's audio and video. How it works and its constants: top of sfu-bwe.c.
 *
 * Threads: an SfuBwe is not locked; one thread (the relay's main context) owns it.
 * Clocks: send_us and now_us are the sender's clock (the relay's; e.g. a GstClockTime / 1000);
 * arrival_us is the receiver's clock, of which only differences are used. */
#pragma once

#include <stdio.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct SfuBwe SfuBwe;

/* One packet of a feedback report. */
typedef struct {
  guint16 seq;       /* transport-wide sequence number (wraps) */
  gint64 send_us;    /* when the relay sent it, sender clock; may be -1 for a lost packet */
  gint64 arrival_us; /* when it arrived, receiver clock; -1 (any negative) = reported lost */
  guint size;        /* bytes */
} SfuBwePacket;

/* What the delay detector concludes about the path, for logs. */
typedef enum {
  SFU_BWE_NORMAL,     /* queueing delay is steady */
  SFU_BWE_OVERUSING,  /* queueing delay grows: we send more than the path carries */
  SFU_BWE_UNDERUSING, /* queueing delay shrinks: a queue is draining */
} SfuBweUsage;

/* (transfer full) An estimator that starts at start_bps and never leaves [min_bps, max_bps]. */
SfuBwe *sfu_bwe_new(guint start_bps, guint min_bps, guint max_bps);
void sfu_bwe_free(SfuBwe *bwe);

/* One feedback report's packets, in send (sequence) order. Duplicates, packets reported again,
 * reports that arrive out of order, sequence wrap-around and jumps of the receiver's clock are
 * tolerated. now_us: when the report reached the relay (sender clock). */
void sfu_bwe_on_feedback(SfuBwe *bwe, const SfuBwePacket *pkts, guint n, gint64 now_us);

/* Optional: a round-trip time measured elsewhere (RTCP receiver reports). Without it the
 * estimator uses now_us minus the newest send time in each report, which is larger by up to
 * one feedback interval. */
void sfu_bwe_on_rtt(SfuBwe *bwe, guint rtt_ms, gint64 now_us);

/* The estimate in bit/s, within [min_bps, max_bps]. */
guint sfu_bwe_estimate(const SfuBwe *bwe);

/* What it measured: the rate at which the receiver got packets over the last second (bit/s,
 * 0 = not known yet), the fraction of packets reported lost over the last ~1.5 s, the RTT it
 * uses (ms), and the delay detector's state. */
guint sfu_bwe_acked_bps(const SfuBwe *bwe);
double sfu_bwe_loss(const SfuBwe *bwe);
guint sfu_bwe_rtt_ms(const SfuBwe *bwe);
SfuBweUsage sfu_bwe_usage(const SfuBwe *bwe);
const char *sfu_bwe_usage_name(SfuBweUsage usage);

/* The two bounds whose minimum is the estimate (before clamping), for logs. */
guint sfu_bwe_delay_based_bps(const SfuBwe *bwe);
guint sfu_bwe_loss_based_bps(const SfuBwe *bwe);

/* Feedback trace format (text, one file per leg; used by tests/unit/sfu/test-bwe.c to replay
 * recorded or simulated sessions):
 *   - lines starting with '#' are comments. By convention the header says where the trace
 *     comes from (simulated or recorded) and may carry "# key: value" hints the replayer
 *     reads: "rtt_ms" (RTT to assume, default 100), "step_at_s" (when the capacity changed,
 *     for files named step-<kbps before>-<kbps after>.trace), "min_bps", "max_bps",
 *     "start_bps";
 *   - then one line per packet, the packets of one report on consecutive lines:
 *       feedback_no seq send_us arrival_us size
 *     all decimal; arrival_us is -1 for a lost packet. A report ends where feedback_no
 *     changes. The replayer passes now_us = newest send_us in the report + rtt_ms.
 * Writes one report's packets; returns FALSE if the stream reports an error. */
gboolean sfu_bwe_trace_write_packets(FILE *f, guint feedback_no, const SfuBwePacket *pkts, guint n);

G_END_DECLS
