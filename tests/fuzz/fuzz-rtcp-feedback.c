/* fuzz-rtcp-feedback.c — libFuzzer driver for the RTCP feedback the relay reads from a
 * subscriber's browser: one compound RTCP packet (after SRTP). Each transport-cc feedback
 * (RTPFB FMT 15) goes through sfu_twcc_parse_fci() into the leg's estimator
 * (sfu_bwe_on_feedback()) as sfu-egress.c does it; each REMB (PSFB FMT 15) through
 * sfu_remb_parse_fci(); each receiver report's round trip through sfu_rr_rtt_ms() into
 * sfu_bwe_on_rtt(). rtpsession splits the compound packet and hands over the FCI; this
 * driver splits it the same way (common header, then sender and media SSRC), leniently, so that
 * the parsers see every FCI the fuzzer can make.
 *
 * The relay's side is simulated deterministically: every sequence number the feedback names is
 * taken as sent, 1 ms after the previous new one, with 1200 bytes (the egress ring would know
 * it), and each report reaches the relay 30 ms after the newest send time. The estimator must
 * stay within its bounds and its measures within their ranges whatever the feedback says. */
#include <stdint.h>
#include <string.h>

#include "sfu-bwe.h"
#include "sfu-twcc.h"

/* as sfu-egress.c */
#define MIN_BPS 30000
#define MAX_BPS 5000000
#define START_BPS 300000
#define MAX_FEEDBACK 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Send times per 16-bit sequence number, valid when gen[] is this input's generation. */
static gint64 sent_us[65536];
static guint32 sent_gen[65536];
static guint32 generation;

static void feedback(SfuBwe *bwe, const guint8 *fci, gsize len, gint64 *clock_us)
{
  static SfuTwccStatus st[MAX_FEEDBACK];
  static SfuBwePacket pkts[MAX_FEEDBACK];
  int n = sfu_twcc_parse_fci(fci, len, st, MAX_FEEDBACK);
  g_assert_cmpint(n, >=, -1);
  g_assert_cmpint(n, <=, MAX_FEEDBACK);
  if (n <= 0)
    return;
  gint64 newest = 0;
  for (int i = 0; i < n; i++) {
    /* statuses come in sequence order from the base */
    g_assert_cmpuint(st[i].seq, ==, (guint16)(st[0].seq + i));
    if (sent_gen[st[i].seq] != generation) {
      sent_gen[st[i].seq] = generation;
      sent_us[st[i].seq] = (*clock_us += 1000);
    }
    newest = MAX(newest, sent_us[st[i].seq]);
    pkts[i] =
        (SfuBwePacket){st[i].seq, sent_us[st[i].seq], st[i].received ? st[i].arrival_us : -1, 1200};
  }
  sfu_bwe_on_feedback(bwe, pkts, (guint)n, newest + 30000);
  *clock_us = MAX(*clock_us, newest + 30000);
  guint e = sfu_bwe_estimate(bwe);
  g_assert_cmpuint(e, >=, MIN_BPS);
  g_assert_cmpuint(e, <=, MAX_BPS);
  double loss = sfu_bwe_loss(bwe);
  g_assert_true(loss >= 0 && loss <= 1);
  g_assert_nonnull(sfu_bwe_usage_name(sfu_bwe_usage(bwe)));
  (void)sfu_bwe_acked_bps(bwe);
  (void)sfu_bwe_rtt_ms(bwe);
  (void)sfu_bwe_delay_based_bps(bwe);
  (void)sfu_bwe_loss_based_bps(bwe);
}

/* A receiver report's blocks (24 bytes each after the header and sender SSRC): rtpsession turns
 * LSR/DLSR into "rb-round-trip", which sfu.c reads through sfu_rr_rtt_ms() and hands to the
 * estimator. Here the round trip is taken from the DLSR field as it stands (any 32-bit value). */
static void receiver_report(SfuBwe *bwe, const guint8 *h, gsize len, guint count)
{
  for (guint i = 0; i < count && 8 + 24 * (gsize)(i + 1) <= len; i++) {
    const guint8 *dlsr = h + 8 + 24 * i + 20;
    guint rb_round_trip = (guint)dlsr[0] << 24 | (guint)dlsr[1] << 16 | dlsr[2] << 8 | dlsr[3];
    guint rtt_ms = sfu_rr_rtt_ms(rb_round_trip);
    g_assert_cmpuint(rtt_ms, <=, SFU_RR_MAX_RTT_MS);
    sfu_bwe_on_rtt(bwe, rtt_ms, 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  generation++;
  SfuBwe *bwe = sfu_bwe_new(START_BPS, MIN_BPS, MAX_BPS);
  gint64 clock_us = 1000000;
  gsize off = 0;
  while (off + 4 <= size) {
    const guint8 *h = data + off;
    guint fmt = h[0] & 0x1f, pt = h[1];
    gsize len = ((gsize)(h[2] << 8 | h[3]) + 1) * 4;
    if (len > size - off)
      len = size - off; /* a truncated last packet: what is there */
    /* common header (4), sender SSRC (4), media SSRC (4), then the FCI */
    if (len >= 12 && fmt == 15 && pt == 205)
      feedback(bwe, h + 12, len - 12, &clock_us);
    else if (pt == 201)
      receiver_report(bwe, h, len, fmt);
    else if (len >= 12 && fmt == 15 && pt == 206) {
      guint64 bps = 0;
      if (sfu_remb_parse_fci(h + 12, len - 12, &bps))
        g_assert_cmpuint(bps, <=, (guint64)0x3ffff << 46); /* 18-bit mantissa, exp <= 46 */
    }
    off += len;
  }
  sfu_bwe_free(bwe);
  return 0;
}
