/* sfu-bwe.c — GCC-style send-side bandwidth estimator for one relay -> subscriber leg.
 *
 * What it follows: draft-ietf-rmcat-gcc-02 and the structure of libwebrtc's goog_cc
 * (inter-arrival grouping, trendline filter, adaptive threshold, AIMD rate control, loss-based
 * bound), written from the algorithm's description. Per feedback report:
 *
 *  1. Bookkeeping per transport-wide sequence number (unwrapped to 64 bits; a ring of
 *     SEQ_WINDOW entries) drops duplicates, notices a packet reported lost and later received
 *     (reports out of order) and counts loss once per packet.
 *  2. Packets newer than any seen before go to the delay path: grouped into send bursts
 *     (BURST_US: packets sent within 5 ms of the group's first, or that arrived as a burst),
 *     and for two consecutive groups the inter-group delay variation
 *     d = (arrival delta) - (send delta) feeds the trendline filter: the accumulated delay is
 *     smoothed (TREND_SMOOTHING) and the slope of the last TREND_WINDOW points (arrival time,
 *     smoothed delay) is the trend. trend * min(deltas, 60) * TREND_GAIN is compared with an
 *     adaptive threshold that follows |m| (K_UP when above it, K_DOWN when below, clamped to
 *     [THRESH_MIN, THRESH_MAX] ms) so that the detector neither starves against TCP nor fires
 *     on jitter. Overuse needs OVERUSE_TIME_US of sustained excess and a non-falling trend.
 *  3. AIMD rate control on the detector's signal: overuse -> decrease to BETA x acknowledged
 *     bitrate (at most once per RTT), underuse -> hold, normal -> increase. Increase is
 *     multiplicative (8 %/s) when the rate is far from the link capacity estimate (a running
 *     average of the acknowledged rate at past overuses), additive (about one packet per
 *     response time) near it, and never beyond 1.5 x acknowledged + 10 kbit/s, so an
 *     application-limited leg (audio only) does not inflate an estimate it never tested.
 *  4. Loss-based bound: judged once per RTT + 300 ms on the packets sent since its last
 *     decrease (at least LOSS_MIN_PACKETS): loss > 10 % -> bound x (1 - 0.5 loss); loss >
 *     LOSS_HEAVY -> BETA x acknowledged (never above the bound); at most once per
 *     LOSS_SENDER_LAG_US (a relay's publisher follows a cut late); windowed
 *     loss < 2 % -> the bound grows 8 %/s until it meets the delay-based rate, which it then
 *     tracks. Estimate = min(delay-based, loss-based), clamped.
 *
 * Where it departs from GCC, and why:
 *  - Ramp-up. libwebrtc reaches a link's capacity quickly by *probing* (padding bursts at 3x
 *    and 6x the rate). The relay forwards media it does not produce, so it cannot probe; with
 *    8 %/s alone, 300 kbit/s -> 1.4 Mbit/s takes 20 s. Instead the multiplicative factor
 *    grows with the length of an uninterrupted increase run (no overuse, no underuse, no
 *    decrease): from 8 %/s to RAMP_STARTUP_PER_S before the first overuse ever, to
 *    RAMP_PER_S afterwards, over RAMP_FULL_US. And the media itself is the probe: when the
 *    receiver acknowledges at least PROVEN_SHARE of the rate (the publisher, capped to the
 *    estimate, fills it and the path carries it) and no link capacity is known (none met yet,
 *    or the acknowledged rate went well past it: the link got faster), the factor is
 *    RAMP_STARTUP_PER_S at once. An application-limited leg never counts as proven, and the
 *    increase stays bounded by 1.5 x acknowledged. Cost: larger overshoot when the link is
 *    reached (the detector needs ~0.2-0.5 s), paid as one queue build-up and one decrease.
 *  - Loss. A packet reported lost counts only once LOSS_SETTLE_US passed without a later
 *    report saying it arrived (rtptwcc.c reports every seqnum skipped between two reports
 *    as lost, so a reordered report reads as a burst of loss). The loss-based controller
 *    ignores packets sent before its own last decrease; with a plain 1-2 s window one
 *    drop-tail episode (a capacity step) cut the rate three or four times over.
 *  - Feedback gaps. No feedback for FEEDBACK_GAP_US: the estimate is held (it only moves on
 *    feedback, and the time an increase uses is capped at MAX_UPDATE_DT_US). On the first
 *    report after a gap the delay path, the acknowledged-rate window and the loss window
 *    restart, and the packets reported lost *before the first received packet of that
 *    report* (the outage's victims, already known) are not counted, so an outage alone does
 *    not push the estimate to its minimum.
 *  - Clock jumps. When arrival and send deltas of consecutive packets disagree by more than
 *    CLOCK_JUMP_US (24-bit reference-time wrap, receiver clock reset) the delay path and the
 *    rate window restart; the rate itself is kept.
 *
 * Known costs: O(packets) per report; memory is fixed, ~150 KiB per leg (the per-seq
 * ring, the acknowledged-rate ring of ACKED_RING packets = 1 s at up to ~4000 packets/s, and
 * the losses waiting to settle). Timestamps are used as 64-bit differences: callers must keep
 * them within +-2^62 us (GStreamer's are < 2^55). Packets first reported after newer ones
 * (reordered reports) count for loss but not for delay or rate. Sizes are whatever the caller
 * passes (GStreamer 1.22 gives RTP payload sizes, so the acknowledged rate is ~3-8 % under
 * the wire rate for video, more for audio).
 *
 * Ownership/threads: see sfu-bwe.h; no globals. */
#define G_LOG_DOMAIN "mashwara-sfu"

#include "sfu-bwe.h"

#include <math.h>

#define SEQ_WINDOW 4096               /* per-seq states kept (power of 2) */
#define BURST_US 5000                 /* send burst that forms one group */
#define BURST_ARRIVAL_MAX_US 100000   /* arrival bursts longer than this are split */
#define TREND_WINDOW 20               /* groups in the trendline regression */
#define TREND_SMOOTHING 0.9           /* of the accumulated delay */
#define TREND_GAIN 4.0                /* trend -> comparable with the ms threshold */
#define K_UP 0.0087                   /* threshold follows |m| up slowly ... */
#define K_DOWN 0.039                  /* ... and down faster */
#define THRESH_INIT_MS 12.5           /* initial adaptive threshold */
#define THRESH_MIN_MS 6.0             /* RFC draft's recommended clamp */
#define THRESH_MAX_MS 600.0           /*   "    */
#define THRESH_SKIP_MS 15.0           /* outliers above threshold + this don't adapt it */
#define OVERUSE_TIME_US 10000         /* sustained over-threshold time to signal overuse */
#define BETA 0.85                     /* decrease to BETA x acknowledged bitrate */
#define INCREASE_PER_S 1.08           /* multiplicative increase far from capacity */
#define RAMP_STARTUP_PER_S 1.5        /* ramp factor before the first overuse */
#define RAMP_PER_S 1.25               /* ramp factor after it */
#define RAMP_FULL_US 4000000          /* increase run length that reaches the ramp factor */
#define PROVEN_SHARE 0.8              /* acknowledged/rate above which an increase is "proven" */
#define PROVEN_AFTER_US 3000000       /* ... counted only this long after a decrease */
#define MAX_UPDATE_DT_US 200000       /* time one update may account for */
#define ACKED_WINDOW_US 1000000       /* acknowledged bitrate window (arrival time) */
#define ACKED_MIN_SPAN_US 250000      /* shorter spans give no acknowledged bitrate yet */
#define ACKED_RING 4096               /* packets in that window, at most */
#define LOSS_WINDOW_US 1500000        /* loss fraction window (feedback arrival time) */
#define LOSS_BUCKET_US 50000          /* reports closer than this share a bucket */
#define LOSS_BUCKETS 64               /* >= LOSS_WINDOW_US / LOSS_BUCKET_US + 1 */
#define LOSS_SETTLE_US 250000         /* a loss counts once no later report said otherwise */
#define PENDING_MAX 2048              /* losses waiting to settle, at most */
#define LOSS_MIN_PACKETS 20           /* fewer packets in a period: no loss-based judgement yet */
#define LOSS_HIGH 0.10                /* above: loss-based decrease */
#define LOSS_LOW 0.02                 /* below: loss-based increase */
#define LOSS_HEAVY 0.25               /* above: the cut goes to the acknowledged rate */
#define LOSS_DECREASE_EXTRA_US 300000 /* loss decrease interval = RTT + this */
#define LOSS_SENDER_LAG_US 2000000    /* loss-based cuts at least this far apart */
#define FEEDBACK_GAP_US 1000000       /* no feedback this long = a gap */
#define CLOCK_JUMP_US 3000000         /* arrival/send delta mismatch taken as a clock jump */
#define RTT_DEFAULT_MS 100
#define CAP_ALPHA 0.05 /* link capacity average */

/* SEQ_LOST: reported lost, not counted yet (a later report may still say it arrived);
 * SEQ_LOST_COUNTED: counted in the loss window after LOSS_SETTLE_US. */
typedef enum { SEQ_NONE, SEQ_LOST, SEQ_LOST_COUNTED, SEQ_LOST_UNCOUNTED, SEQ_RECEIVED } SeqState;

typedef enum { RATE_HOLD, RATE_INCREASE, RATE_DECREASE } RateState;

typedef struct {
  gint64 first_send_us;
  gint64 last_send_us;
  gint64 first_arrival_us;
  gint64 last_arrival_us;
} Group;

typedef struct {
  gint64 arrival_us;
  guint size;
} AckedPacket;

typedef struct {
  gint64 start_us;
  gint lost; /* may go negative when a packet counted lost arrives in a later report */
  gint total;
} LossBucket;

struct SfuBwe {
  guint min_bps, max_bps;
  double delay_bps;       /* AIMD output */
  double loss_bps;        /* loss-based bound */
  gboolean loss_limiting; /* loss_bps is below delay_bps since a loss decrease */

  /* 1. per-seq bookkeeping */
  gboolean have_seq;
  gint64 highest_ext;
  gint64 seq_ext[SEQ_WINDOW];
  guint8 seq_state[SEQ_WINDOW];

  /* 2. delay path */
  gint64 last_delay_ext; /* newest seq fed to the delay path */
  gboolean have_last_pkt;
  gint64 last_pkt_send_us, last_pkt_arrival_us;
  gboolean have_cur, have_prev;
  Group cur, prev;
  double acc_delay_ms, smoothed_delay_ms;
  gint64 first_arrival_us;
  guint n_deltas;
  double hist_x[TREND_WINDOW], hist_y[TREND_WINDOW];
  guint hist_len, hist_head;
  double prev_trend;
  double threshold_ms;
  gint64 last_threshold_us; /* arrival clock */
  gboolean have_threshold_time;
  double time_over_using_ms;
  guint overuse_counter;
  SfuBweUsage usage;

  /* acknowledged bitrate */
  AckedPacket acked[ACKED_RING];
  guint acked_head, acked_len;
  guint64 acked_bytes;
  guint acked_bps;

  /* loss */
  LossBucket buckets[LOSS_BUCKETS];
  guint bucket_head, bucket_len;
  double loss;
  gint64 pending_ext[PENDING_MAX]; /* reported lost, waiting LOSS_SETTLE_US (FIFO) */
  gint64 pending_at_us[PENDING_MAX];
  gint64 pending_send_us[PENDING_MAX];
  guint pending_head, pending_len;
  gint64 last_loss_decrease_us;
  gint64 last_loss_update_us;
  /* Loss as the loss-based controller judges it: only packets sent after its last decrease
   * (ctl_since_us, sender clock), over periods of RTT + LOSS_DECREASE_EXTRA_US. */
  gint64 ctl_since_us, ctl_period_start_us;
  gint ctl_lost, ctl_total;

  /* 3. AIMD */
  RateState state;
  gint64 last_update_us;
  gint64 last_decrease_us;
  gboolean have_update, have_decrease;
  gboolean cap_known;
  double cap_kbps, cap_var;
  gboolean ever_decreased;
  gint64 run_start_us; /* start of the current increase run, -1 = none */

  /* RTT and feedback timing */
  guint rtt_ms;
  gboolean rtt_hinted;
  gint64 last_feedback_us;
  gboolean have_feedback;
};

/* ------------------------------------------------------------------------------------------ */

SfuBwe *sfu_bwe_new(guint start_bps, guint min_bps, guint max_bps)
{
  g_return_val_if_fail(min_bps > 0 && min_bps <= max_bps, NULL);
  SfuBwe *bwe = g_new0(SfuBwe, 1);
  bwe->min_bps = min_bps;
  bwe->max_bps = max_bps;
  bwe->delay_bps = CLAMP(start_bps, min_bps, max_bps);
  bwe->loss_bps = bwe->delay_bps;
  bwe->threshold_ms = THRESH_INIT_MS;
  bwe->time_over_using_ms = -1;
  bwe->usage = SFU_BWE_NORMAL;
  bwe->state = RATE_INCREASE;
  bwe->run_start_us = -1;
  bwe->cap_var = 0.4;
  bwe->rtt_ms = RTT_DEFAULT_MS;
  bwe->ctl_since_us = G_MININT64;
  return bwe;
}

void sfu_bwe_free(SfuBwe *bwe)
{
  g_free(bwe);
}

/* ------------------------------------------------------------------------------------------ */
/* acknowledged bitrate: bytes received over the last ACKED_WINDOW_US of arrival time */

static void acked_reset(SfuBwe *bwe)
{
  bwe->acked_head = bwe->acked_len = 0;
  bwe->acked_bytes = 0;
  bwe->acked_bps = 0;
}

static void acked_drop_oldest(SfuBwe *bwe)
{
  bwe->acked_bytes -= bwe->acked[bwe->acked_head].size;
  bwe->acked_head = (bwe->acked_head + 1) % ACKED_RING;
  bwe->acked_len--;
}

static void acked_add(SfuBwe *bwe, gint64 arrival_us, guint size)
{
  if (bwe->acked_len == ACKED_RING)
    acked_drop_oldest(bwe);
  guint tail = (bwe->acked_head + bwe->acked_len) % ACKED_RING;
  bwe->acked[tail] = (AckedPacket){arrival_us, size};
  bwe->acked_len++;
  bwe->acked_bytes += size;
  while (bwe->acked_len > 1 &&
         arrival_us - bwe->acked[bwe->acked_head].arrival_us > ACKED_WINDOW_US)
    acked_drop_oldest(bwe);
}

static void acked_update(SfuBwe *bwe)
{
  if (bwe->acked_len < 2)
    return;
  const AckedPacket *oldest = &bwe->acked[bwe->acked_head];
  const AckedPacket *newest = &bwe->acked[(bwe->acked_head + bwe->acked_len - 1) % ACKED_RING];
  gint64 span = newest->arrival_us - oldest->arrival_us;
  if (span < ACKED_MIN_SPAN_US)
    return; /* keep the previous value (0 at the start) */
  /* The oldest packet's bytes arrived before the span began. */
  bwe->acked_bps = (guint)((bwe->acked_bytes - oldest->size) * 8.0 * 1e6 / (double)span);
}

/* ------------------------------------------------------------------------------------------ */
/* loss over the last LOSS_WINDOW_US of report arrival time */

static LossBucket *loss_bucket(SfuBwe *bwe, gint64 now_us)
{
  if (bwe->bucket_len > 0) {
    LossBucket *last = &bwe->buckets[(bwe->bucket_head + bwe->bucket_len - 1) % LOSS_BUCKETS];
    if (now_us - last->start_us < LOSS_BUCKET_US)
      return last;
  }
  if (bwe->bucket_len == LOSS_BUCKETS) {
    bwe->bucket_head = (bwe->bucket_head + 1) % LOSS_BUCKETS;
    bwe->bucket_len--;
  }
  LossBucket *b = &bwe->buckets[(bwe->bucket_head + bwe->bucket_len) % LOSS_BUCKETS];
  *b = (LossBucket){now_us, 0, 0};
  bwe->bucket_len++;
  return b;
}

/* Reports can arrive out of order, and rtptwcc.c hands up as lost every seqnum between two
 * reports it parsed: a packet "lost" in one report may be received in the next. Losses wait
 * LOSS_SETTLE_US before they count; this costs the loss-based bound that much reaction
 * time. */
static void loss_settle(SfuBwe *bwe, LossBucket *bucket, gint64 now_us, gboolean all)
{
  while (bwe->pending_len > 0) {
    gint64 ext = bwe->pending_ext[bwe->pending_head];
    gint64 send_us = bwe->pending_send_us[bwe->pending_head];
    if (!all && now_us - bwe->pending_at_us[bwe->pending_head] < LOSS_SETTLE_US)
      break;
    bwe->pending_head = (bwe->pending_head + 1) % PENDING_MAX;
    bwe->pending_len--;
    guint slot = (guint)(ext & (SEQ_WINDOW - 1));
    if (bwe->seq_ext[slot] == ext && bwe->seq_state[slot] == SEQ_LOST) {
      bwe->seq_state[slot] = SEQ_LOST_COUNTED;
      bucket->lost++;
      bucket->total++;
      if (send_us < 0 || send_us >= bwe->ctl_since_us) {
        bwe->ctl_lost++;
        bwe->ctl_total++;
      }
    }
  }
}

static void loss_pending_add(SfuBwe *bwe, LossBucket *bucket, gint64 ext, gint64 send_us,
                             gint64 now_us)
{
  if (bwe->pending_len == PENDING_MAX)
    loss_settle(bwe, bucket, now_us, TRUE); /* a loss storm: count what waits now */
  guint tail = (bwe->pending_head + bwe->pending_len) % PENDING_MAX;
  bwe->pending_ext[tail] = ext;
  bwe->pending_at_us[tail] = now_us;
  bwe->pending_send_us[tail] = send_us;
  bwe->pending_len++;
}

static void loss_update(SfuBwe *bwe, gint64 now_us)
{
  while (bwe->bucket_len > 0 && now_us - bwe->buckets[bwe->bucket_head].start_us > LOSS_WINDOW_US) {
    bwe->bucket_head = (bwe->bucket_head + 1) % LOSS_BUCKETS;
    bwe->bucket_len--;
  }
  gint lost = 0, total = 0;
  for (guint i = 0; i < bwe->bucket_len; i++) {
    const LossBucket *b = &bwe->buckets[(bwe->bucket_head + i) % LOSS_BUCKETS];
    lost += b->lost;
    total += b->total;
  }
  bwe->loss = total > 0 ? CLAMP((double)lost / total, 0.0, 1.0) : 0.0;
}

/* ------------------------------------------------------------------------------------------ */
/* delay path: grouping, trendline, detector */

static void delay_reset(SfuBwe *bwe)
{
  bwe->have_last_pkt = FALSE;
  bwe->have_cur = bwe->have_prev = FALSE;
  bwe->acc_delay_ms = bwe->smoothed_delay_ms = 0;
  bwe->n_deltas = 0;
  bwe->hist_len = bwe->hist_head = 0;
  bwe->prev_trend = 0;
  bwe->have_threshold_time = FALSE;
  bwe->time_over_using_ms = -1;
  bwe->overuse_counter = 0;
  bwe->usage = SFU_BWE_NORMAL;
}

static void threshold_update(SfuBwe *bwe, double m, gint64 arrival_us)
{
  if (!bwe->have_threshold_time) {
    bwe->have_threshold_time = TRUE;
    bwe->last_threshold_us = arrival_us;
  }
  /* A single huge excursion (a route change, a burst of cross traffic) must not drag the
   * threshold up with it. */
  if (fabs(m) > bwe->threshold_ms + THRESH_SKIP_MS) {
    bwe->last_threshold_us = arrival_us;
    return;
  }
  double k = fabs(m) < bwe->threshold_ms ? K_DOWN : K_UP;
  double dt_ms = MIN((arrival_us - bwe->last_threshold_us) / 1000.0, 100.0);
  if (dt_ms < 0)
    dt_ms = 0;
  bwe->threshold_ms += k * (fabs(m) - bwe->threshold_ms) * dt_ms;
  bwe->threshold_ms = CLAMP(bwe->threshold_ms, THRESH_MIN_MS, THRESH_MAX_MS);
  bwe->last_threshold_us = arrival_us;
}

static void detect(SfuBwe *bwe, double trend, double send_delta_ms, gint64 arrival_us)
{
  if (bwe->n_deltas < 2) {
    bwe->prev_trend = trend;
    return;
  }
  double m = MIN(bwe->n_deltas, 60) * trend * TREND_GAIN;
  if (m > bwe->threshold_ms) {
    if (bwe->time_over_using_ms < 0)
      bwe->time_over_using_ms = send_delta_ms / 2;
    else
      bwe->time_over_using_ms += send_delta_ms;
    bwe->overuse_counter++;
    if (bwe->time_over_using_ms > OVERUSE_TIME_US / 1000.0 && bwe->overuse_counter > 1 &&
        trend >= bwe->prev_trend) {
      bwe->time_over_using_ms = 0;
      bwe->overuse_counter = 0;
      bwe->usage = SFU_BWE_OVERUSING;
    }
  } else if (m < -bwe->threshold_ms) {
    bwe->time_over_using_ms = -1;
    bwe->overuse_counter = 0;
    bwe->usage = SFU_BWE_UNDERUSING;
  } else {
    bwe->time_over_using_ms = -1;
    bwe->overuse_counter = 0;
    bwe->usage = SFU_BWE_NORMAL;
  }
  bwe->prev_trend = trend;
  threshold_update(bwe, m, arrival_us);
}

static void trendline_update(SfuBwe *bwe, double delta_ms, double send_delta_ms, gint64 arrival_us)
{
  bwe->n_deltas = MIN(bwe->n_deltas + 1, 1000);
  bwe->acc_delay_ms += delta_ms;
  bwe->smoothed_delay_ms =
      TREND_SMOOTHING * bwe->smoothed_delay_ms + (1 - TREND_SMOOTHING) * bwe->acc_delay_ms;
  if (bwe->hist_len == 0 && bwe->n_deltas == 1)
    bwe->first_arrival_us = arrival_us;
  guint idx = (bwe->hist_head + bwe->hist_len) % TREND_WINDOW;
  if (bwe->hist_len == TREND_WINDOW) {
    idx = bwe->hist_head;
    bwe->hist_head = (bwe->hist_head + 1) % TREND_WINDOW;
  } else {
    bwe->hist_len++;
  }
  bwe->hist_x[idx] = (arrival_us - bwe->first_arrival_us) / 1000.0;
  bwe->hist_y[idx] = bwe->smoothed_delay_ms;

  double trend = bwe->prev_trend;
  if (bwe->hist_len == TREND_WINDOW) {
    double mx = 0, my = 0;
    for (guint i = 0; i < TREND_WINDOW; i++) {
      mx += bwe->hist_x[i];
      my += bwe->hist_y[i];
    }
    mx /= TREND_WINDOW;
    my /= TREND_WINDOW;
    double num = 0, den = 0;
    for (guint i = 0; i < TREND_WINDOW; i++) {
      num += (bwe->hist_x[i] - mx) * (bwe->hist_y[i] - my);
      den += (bwe->hist_x[i] - mx) * (bwe->hist_x[i] - mx);
    }
    if (den != 0)
      trend = num / den;
  }
  detect(bwe, trend, send_delta_ms, arrival_us);
}

static void group_start(Group *g, gint64 send_us, gint64 arrival_us)
{
  *g = (Group){send_us, send_us, arrival_us, arrival_us};
}

/* One received packet, newer than any the delay path has seen. */
static void delay_on_packet(SfuBwe *bwe, gint64 send_us, gint64 arrival_us, guint size)
{
  if (bwe->have_last_pkt) {
    gint64 mismatch = (arrival_us - bwe->last_pkt_arrival_us) - (send_us - bwe->last_pkt_send_us);
    if (mismatch > CLOCK_JUMP_US || mismatch < -CLOCK_JUMP_US) {
      g_debug("bwe: arrival/send clocks jumped by %" G_GINT64_FORMAT " us; delay path restarts",
              mismatch);
      delay_reset(bwe);
      acked_reset(bwe);
    }
  }
  bwe->have_last_pkt = TRUE;
  bwe->last_pkt_send_us = send_us;
  bwe->last_pkt_arrival_us = arrival_us;
  acked_add(bwe, arrival_us, size);

  if (!bwe->have_cur) {
    group_start(&bwe->cur, send_us, arrival_us);
    bwe->have_cur = TRUE;
    return;
  }
  Group *cur = &bwe->cur;
  if (send_us < cur->first_send_us)
    return; /* sent before the group began (retransmission order): no delay information */
  gboolean same = send_us - cur->first_send_us <= BURST_US;
  if (!same) {
    /* Packets that queued behind each other arrive back to back although they were sent
     * apart: one burst, or the delay variation would be read off the queue's drain rate. */
    gint64 arrival_delta = arrival_us - cur->last_arrival_us;
    gint64 send_delta = send_us - cur->last_send_us;
    same = arrival_delta - send_delta < 0 && arrival_delta <= BURST_US &&
           arrival_us - cur->first_arrival_us < BURST_ARRIVAL_MAX_US;
  }
  if (same) {
    cur->last_send_us = MAX(cur->last_send_us, send_us);
    cur->last_arrival_us = MAX(cur->last_arrival_us, arrival_us);
    return;
  }
  if (bwe->have_prev) {
    gint64 send_delta = cur->last_send_us - bwe->prev.last_send_us;
    gint64 arrival_delta = cur->last_arrival_us - bwe->prev.last_arrival_us;
    /* A negative arrival delta is network reordering between groups: skip that delta. */
    if (arrival_delta >= 0)
      trendline_update(bwe, (arrival_delta - send_delta) / 1000.0, send_delta / 1000.0,
                       cur->last_arrival_us);
  }
  bwe->prev = *cur;
  bwe->have_prev = TRUE;
  group_start(cur, send_us, arrival_us);
}

/* ------------------------------------------------------------------------------------------ */
/* rate control */

static double cap_deviation_kbps(const SfuBwe *bwe)
{
  return sqrt(bwe->cap_var * bwe->cap_kbps);
}

static void cap_on_overuse(SfuBwe *bwe, double acked_kbps)
{
  if (!bwe->cap_known) {
    bwe->cap_known = TRUE;
    bwe->cap_kbps = acked_kbps;
    bwe->cap_var = 0.4;
    return;
  }
  double err = bwe->cap_kbps - acked_kbps;
  bwe->cap_kbps = (1 - CAP_ALPHA) * bwe->cap_kbps + CAP_ALPHA * acked_kbps;
  double norm = MAX(bwe->cap_kbps, 1.0);
  bwe->cap_var = (1 - CAP_ALPHA) * bwe->cap_var + CAP_ALPHA * err * err / norm;
  bwe->cap_var = CLAMP(bwe->cap_var, 0.4, 2.5);
}

static gboolean time_to_reduce(const SfuBwe *bwe, gint64 now_us)
{
  if (!bwe->have_decrease)
    return TRUE;
  gint64 interval = CLAMP((gint64)bwe->rtt_ms * 1000, 10000, 200000);
  if (now_us - bwe->last_decrease_us >= interval)
    return TRUE;
  /* Sending at twice what arrives: the last decrease was not enough, don't wait. */
  return bwe->acked_bps > 0 && bwe->acked_bps < bwe->delay_bps / 2;
}

static double additive_increase_bps(const SfuBwe *bwe, double dt_s)
{
  /* About one average packet per response time, as libwebrtc: frames at 30 fps cut into
   * packets of at most 1200 bytes. */
  double bits_per_frame = bwe->delay_bps / 30.0;
  double packets_per_frame = ceil(bits_per_frame / (1200 * 8.0));
  double avg_packet_bits = bits_per_frame / packets_per_frame;
  double response_s = (bwe->rtt_ms + 100) / 1000.0;
  return MAX(4000.0, avg_packet_bits / response_s) * dt_s;
}

static void rate_update(SfuBwe *bwe, gint64 now_us)
{
  SfuBweUsage usage = bwe->usage;
  double acked = bwe->acked_bps;

  switch (usage) {
  case SFU_BWE_NORMAL:
    if (bwe->state == RATE_HOLD) {
      bwe->state = RATE_INCREASE;
      bwe->run_start_us = now_us;
    }
    break;
  case SFU_BWE_OVERUSING:
    bwe->state = RATE_DECREASE;
    bwe->run_start_us = -1;
    break;
  case SFU_BWE_UNDERUSING:
    bwe->state = RATE_HOLD;
    bwe->run_start_us = -1;
    break;
  }
  if (bwe->state == RATE_INCREASE && bwe->run_start_us < 0)
    bwe->run_start_us = now_us;

  double dt_us = bwe->have_update ? (double)(now_us - bwe->last_update_us) : 0;
  dt_us = CLAMP(dt_us, 0, MAX_UPDATE_DT_US);
  bwe->last_update_us = bwe->have_update ? MAX(bwe->last_update_us, now_us) : now_us;
  bwe->have_update = TRUE;
  double rate = bwe->delay_bps;

  switch (bwe->state) {
  case RATE_HOLD:
    break;
  case RATE_INCREASE: {
    double acked_kbps = acked / 1000.0;
    if (bwe->cap_known && acked > 0 && acked_kbps > bwe->cap_kbps + 3 * cap_deviation_kbps(bwe))
      bwe->cap_known = FALSE; /* the link got faster than we knew it */
    double inc;
    if (bwe->cap_known && rate / 1000.0 > bwe->cap_kbps - 3 * cap_deviation_kbps(bwe)) {
      inc = additive_increase_bps(bwe, dt_us / 1e6);
    } else {
      double run_s = (now_us - bwe->run_start_us) / 1e6;
      double target = bwe->ever_decreased ? RAMP_PER_S : RAMP_STARTUP_PER_S;
      double per_s =
          INCREASE_PER_S + (target - INCREASE_PER_S) * MIN(run_s / (RAMP_FULL_US / 1e6), 1.0);
      /* Probing by proof: the receiver acknowledges (nearly) all the rate allows, with steady
       * delay, away from any capacity known: the last step was carried, take the next one at
       * the startup pace at once. */
      if (!bwe->cap_known && acked >= PROVEN_SHARE * rate &&
          (!bwe->have_decrease || now_us - bwe->last_decrease_us >= PROVEN_AFTER_US))
        per_s = MAX(per_s, RAMP_STARTUP_PER_S);
      inc = MAX(rate * (pow(per_s, dt_us / 1e6) - 1), 1000.0 * dt_us / 1e5);
    }
    double limit = acked > 0 ? 1.5 * acked + 10000 : rate + inc;
    if (rate + inc > limit)
      rate = MAX(rate, limit); /* application-limited: don't raise an untested estimate */
    else
      rate += inc;
    break;
  }
  case RATE_DECREASE:
    if (time_to_reduce(bwe, now_us)) {
      double target = acked > 0 ? BETA * acked : BETA * rate;
      if (target < rate) {
        double acked_kbps = (acked > 0 ? acked : rate) / 1000.0;
        if (bwe->cap_known && acked_kbps < bwe->cap_kbps - 3 * cap_deviation_kbps(bwe))
          bwe->cap_known = FALSE; /* the link got slower: forget the old capacity */
        cap_on_overuse(bwe, acked_kbps);
        rate = target;
      }
      bwe->have_decrease = TRUE;
      bwe->last_decrease_us = now_us;
      bwe->ever_decreased = TRUE;
    }
    bwe->state = RATE_HOLD;
    break;
  }
  bwe->delay_bps = CLAMP(rate, bwe->min_bps, bwe->max_bps);
}

static void loss_control(SfuBwe *bwe, gint64 now_us)
{
  /* now_us should not go back, but a caller's clock mistake must not turn into a cut. */
  double dt_s = 0;
  if (bwe->last_loss_update_us != 0)
    dt_s = CLAMP(now_us - bwe->last_loss_update_us, 0, MAX_UPDATE_DT_US) / 1e6;
  bwe->last_loss_update_us = MAX(bwe->last_loss_update_us, now_us);

  /* Judged per period, on packets sent after the last decrease: the windowed loss (the
   * getter's) still holds the losses that caused that decrease, and counting them again
   * compounds one congestion event into several cuts. */
  gint64 period = (gint64)bwe->rtt_ms * 1000 + LOSS_DECREASE_EXTRA_US;
  if (bwe->ctl_period_start_us == 0)
    bwe->ctl_period_start_us = now_us;
  if (now_us - bwe->ctl_period_start_us >= period && bwe->ctl_total >= LOSS_MIN_PACKETS) {
    double loss = (double)bwe->ctl_lost / bwe->ctl_total;
    double base = MIN(bwe->loss_bps, bwe->delay_bps);
    /* Loss-based cuts at least LOSS_SENDER_LAG_US apart. A relay's sender is a publisher told
     * its cap once a second: for a second or two after a cut it still sends what it did, and
     * cutting again each RTT + 300 ms for the loss of that excess compounded one capacity
     * step into a collapse (155 -> 64 kbit/s in 4 s on a 250 kbit/s link). Gating on the rate
     * sent instead failed: the leg's retransmissions, which no cap controls, kept it high. */
    gboolean followed =
        !bwe->loss_limiting || now_us - bwe->last_loss_decrease_us >= LOSS_SENDER_LAG_US;
    bwe->ctl_lost = bwe->ctl_total = 0;
    bwe->ctl_period_start_us = now_us;
    if (loss > LOSS_HIGH && followed) {
      /* Heavy loss is a sender far above the link (a call's first seconds at the start rate
       * on a 150 kbit/s link: half of it lost): the link carried what was acknowledged, so
       * the cut goes there (x BETA) at once rather than by (1 - loss / 2) every
       * LOSS_SENDER_LAG_US. And no deeper, even where (1 - loss / 2) would be: a lagging
       * sender keeps the loss up, the acknowledged rate of a full link is its capacity, and
       * cuts below it compounded into a collapse. */
      double cut = base * (1 - 0.5 * loss);
      if (loss > LOSS_HEAVY && bwe->acked_bps > 0)
        cut = MIN(base, BETA * bwe->acked_bps);
      bwe->loss_bps = MAX(cut, bwe->min_bps);
      bwe->loss_limiting = TRUE;
      bwe->last_loss_decrease_us = now_us;
      bwe->ctl_since_us = now_us;
      bwe->ever_decreased = TRUE;
      bwe->run_start_us = bwe->state == RATE_INCREASE ? now_us : -1;
    }
  }
  if (bwe->loss_limiting && bwe->loss < LOSS_LOW && now_us != bwe->last_loss_decrease_us)
    bwe->loss_bps = bwe->loss_bps * pow(INCREASE_PER_S, dt_s) + 1000 * dt_s;
  /* Not (or no longer) limiting: the bound follows the delay-based rate, up and down. */
  if (!bwe->loss_limiting || bwe->loss_bps >= bwe->delay_bps) {
    bwe->loss_limiting = FALSE;
    bwe->loss_bps = bwe->delay_bps;
  }
}

/* ------------------------------------------------------------------------------------------ */

void sfu_bwe_on_feedback(SfuBwe *bwe, const SfuBwePacket *pkts, guint n, gint64 now_us)
{
  g_return_if_fail(bwe != NULL);
  g_return_if_fail(pkts != NULL || n == 0);
  if (n == 0)
    return;

  gboolean after_gap = bwe->have_feedback && now_us - bwe->last_feedback_us > FEEDBACK_GAP_US;
  if (after_gap) {
    g_debug("bwe: feedback resumed after %" G_GINT64_FORMAT " ms; holding %u bit/s",
            (now_us - bwe->last_feedback_us) / 1000, sfu_bwe_estimate(bwe));
    delay_reset(bwe);
    acked_reset(bwe);
    bwe->bucket_len = 0;
    bwe->pending_len = 0;     /* what the outage lost is known; don't count it afterwards */
    bwe->have_update = FALSE; /* the gap's time must not count as time to increase */
    bwe->run_start_us = -1;
  }
  if (!bwe->have_feedback || now_us > bwe->last_feedback_us)
    bwe->last_feedback_us = now_us;
  bwe->have_feedback = TRUE;

  LossBucket *bucket = loss_bucket(bwe, now_us);
  gboolean skipping_outage_losses = after_gap;
  gboolean any_new_received = FALSE;
  gint64 newest_send_us = G_MININT64;

  for (guint i = 0; i < n; i++) {
    const SfuBwePacket *p = &pkts[i];
    gboolean received = p->arrival_us >= 0;
    gint64 ext;
    if (!bwe->have_seq) {
      ext = ((gint64)1 << 32) + p->seq; /* room below for older packets */
      bwe->have_seq = TRUE;
      bwe->highest_ext = ext;
      bwe->last_delay_ext = ext - 1;
    } else {
      ext = bwe->highest_ext + (gint16)(guint16)(p->seq - (guint16)bwe->highest_ext);
    }
    if (ext <= bwe->highest_ext - SEQ_WINDOW)
      continue; /* too old to know whether we counted it */
    if (ext > bwe->highest_ext)
      bwe->highest_ext = ext;

    guint slot = (guint)(ext & (SEQ_WINDOW - 1));
    SeqState prior = bwe->seq_ext[slot] == ext ? bwe->seq_state[slot] : SEQ_NONE;
    if (received && skipping_outage_losses)
      skipping_outage_losses = FALSE;

    if (!received) {
      if (prior != SEQ_NONE)
        continue; /* reported again, or already known received */
      bwe->seq_ext[slot] = ext;
      if (skipping_outage_losses) {
        bwe->seq_state[slot] = SEQ_LOST_UNCOUNTED;
        continue;
      }
      bwe->seq_state[slot] = SEQ_LOST;
      loss_pending_add(bwe, bucket, ext, p->send_us, now_us);
      continue;
    }

    if (prior == SEQ_RECEIVED)
      continue; /* duplicate */
    bwe->seq_ext[slot] = ext;
    bwe->seq_state[slot] = SEQ_RECEIVED;
    gboolean ctl = p->send_us >= bwe->ctl_since_us;
    if (prior == SEQ_LOST_COUNTED) {
      bucket->lost--; /* it was late, not lost; too late for the delay path */
      if (ctl && bwe->ctl_lost > 0)
        bwe->ctl_lost--;
      continue;
    }
    bucket->total++;
    bwe->ctl_total += ctl;
    if (prior == SEQ_LOST)
      continue; /* late, before its loss counted; too late for the delay path */
    if (p->send_us > newest_send_us)
      newest_send_us = p->send_us;
    if (ext > bwe->last_delay_ext) {
      bwe->last_delay_ext = ext;
      delay_on_packet(bwe, p->send_us, p->arrival_us, p->size);
      any_new_received = TRUE;
    }
  }

  if (!bwe->rtt_hinted && newest_send_us != G_MININT64 && now_us > newest_send_us) {
    guint sample = (guint)MIN((now_us - newest_send_us) / 1000, 2000);
    bwe->rtt_ms = MAX(1u, (bwe->rtt_ms * 7 + sample) / 8);
  }

  loss_settle(bwe, bucket, now_us, FALSE);
  acked_update(bwe);
  loss_update(bwe, now_us);
  if (any_new_received)
    rate_update(bwe, now_us);
  loss_control(bwe, now_us);
}

void sfu_bwe_on_rtt(SfuBwe *bwe, guint rtt_ms, gint64 now_us)
{
  g_return_if_fail(bwe != NULL);
  bwe->rtt_ms = CLAMP(rtt_ms, 1u, 5000u);
  bwe->rtt_hinted = TRUE;
}

guint sfu_bwe_estimate(const SfuBwe *bwe)
{
  g_return_val_if_fail(bwe != NULL, 0);
  double e = MIN(bwe->delay_bps, bwe->loss_bps);
  return (guint)CLAMP(e, bwe->min_bps, bwe->max_bps);
}

guint sfu_bwe_acked_bps(const SfuBwe *bwe)
{
  g_return_val_if_fail(bwe != NULL, 0);
  return bwe->acked_bps;
}

double sfu_bwe_loss(const SfuBwe *bwe)
{
  g_return_val_if_fail(bwe != NULL, 0);
  return bwe->loss;
}

guint sfu_bwe_rtt_ms(const SfuBwe *bwe)
{
  g_return_val_if_fail(bwe != NULL, 0);
  return bwe->rtt_ms;
}

SfuBweUsage sfu_bwe_usage(const SfuBwe *bwe)
{
  g_return_val_if_fail(bwe != NULL, SFU_BWE_NORMAL);
  return bwe->usage;
}

const char *sfu_bwe_usage_name(SfuBweUsage usage)
{
  switch (usage) {
  case SFU_BWE_NORMAL:
    return "normal";
  case SFU_BWE_OVERUSING:
    return "overusing";
  case SFU_BWE_UNDERUSING:
    return "underusing";
  }
  return "unknown";
}

guint sfu_bwe_delay_based_bps(const SfuBwe *bwe)
{
  g_return_val_if_fail(bwe != NULL, 0);
  return (guint)bwe->delay_bps;
}

guint sfu_bwe_loss_based_bps(const SfuBwe *bwe)
{
  g_return_val_if_fail(bwe != NULL, 0);
  return (guint)bwe->loss_bps;
}

gboolean sfu_bwe_trace_write_packets(FILE *f, guint feedback_no, const SfuBwePacket *pkts, guint n)
{
  g_return_val_if_fail(f != NULL, FALSE);
  g_return_val_if_fail(pkts != NULL || n == 0, FALSE);
  for (guint i = 0; i < n; i++) {
    const SfuBwePacket *p = &pkts[i];
    if (fprintf(f, "%u %u %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %u\n", feedback_no, p->seq,
                p->send_us, p->arrival_us < 0 ? (gint64)-1 : p->arrival_us, p->size) < 0)
      return FALSE;
  }
  return !ferror(f);
}
