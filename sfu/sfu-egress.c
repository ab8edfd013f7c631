/* sfu-egress.c — see sfu-egress.h. Per packet: one mutex and an RTP header map; a copy only
 * on a leg whose video was paused once (its sequence numbers are shifted). */
#define G_LOG_DOMAIN "mashwara-sfu"

#include "sfu-egress.h"

#include <string.h>

#include <gst/rtp/rtp.h>

#include "sfu-twcc.h"

GST_DEBUG_CATEGORY_STATIC(egress_debug);
#define GST_CAT_DEFAULT egress_debug

/* Estimator bounds: below 30 kbit/s nothing useful fits (Opus alone with RED is ~60); above
 * 5 Mbit/s a consultation has no use for more. */
#define EGRESS_MIN_BPS 30000
#define EGRESS_MAX_BPS 5000000
/* One TWCC feedback report carries at most this many packets worth reading. */
#define EGRESS_MAX_FEEDBACK 1024
/* A REMB newer than the last transport-cc report by this much: the subscriber switched to REMB. */
#define EGRESS_REMB_NEWER_US (5 * G_USEC_PER_SEC)
/* The leg's audio rate is measured over windows of this length (the estimator sees video only). */
#define EGRESS_AUDIO_WINDOW_US G_USEC_PER_SEC
/* Send times remembered per transport-wide sequence number: ~4 s of a 1 Mbit/s leg, more than
 * any feedback delay worth using. */
#define EGRESS_SENT_RING 4096
/* Retransmissions remembered per original sequence number (a second of video at ~1000
 * packets/s). The same packet is retransmitted again only an RTT later, and never sooner than
 * EGRESS_RESEND_MIN_GAP_MS (a browser repeats its request every 100 ms on a pc it knows no RTT
 * for: on a short path each lost packet would go out again and again). The RTT is the leg's
 * estimator's (sfu_bwe_rtt_ms(): the receiver reports', the feedback's, or its default). */
#define EGRESS_RESENT_RING 1024
#define EGRESS_RESEND_MIN_GAP_MS 150
/* Retransmissions may use at most this share of the leg's video estimate, with a reserve of
 * EGRESS_RESEND_BURST_MS of it: a link that just became too small loses a share of every
 * second's packets, and repairing them all at once sent more than the media itself. */
#define EGRESS_RESEND_SHARE_PCT 30
#define EGRESS_RESEND_BURST_MS 500
/* The first guess of a retransmission's size; the reserve holds at least two. */
#define EGRESS_RESEND_PACKET_BYTES 1200

/* The sequence numbers a leg sent lately, per medium: SRTP's sender refuses a packet whose
 * index it used already or that lies more than 128 behind the newest (libsrtp's replay
 * window), and webrtcbin 1.22's srtpenc turns that refusal into an error that ends the leg
 * (seen on the step profile as the patient's uplink lost and recovered packets: "protect
 * failed, code 9"). Such a packet is dropped here instead. */
#define REPLAY_WINDOW 128

typedef struct {
  gboolean have;
  guint16 newest;
  guint64 seen[REPLAY_WINDOW / 64]; /* bit i: newest - i was sent */
} ReplayGuard;

/* TRUE when `seq` may be sent (and marks it sent). */
static gboolean replay_guard_pass(ReplayGuard *g, guint16 seq)
{
  if (!g->have) {
    g->have = TRUE;
    g->newest = seq;
    memset(g->seen, 0, sizeof g->seen);
    g->seen[0] = 1;
    return TRUE;
  }
  gint16 ahead = (gint16)(seq - g->newest);
  if (ahead > 0) {
    if (ahead >= REPLAY_WINDOW) {
      memset(g->seen, 0, sizeof g->seen);
    } else {
      for (int k = 0; k < ahead; k++) { /* shift the 128-bit set left by `ahead` */
        g->seen[1] = g->seen[1] << 1 | g->seen[0] >> 63;
        g->seen[0] <<= 1;
      }
    }
    g->seen[0] |= 1;
    g->newest = seq;
    return TRUE;
  }
  guint behind = (guint)(-ahead);
  if (behind >= REPLAY_WINDOW - 1)
    return FALSE;
  guint64 bit = G_GUINT64_CONSTANT(1) << (behind % 64);
  if (g->seen[behind / 64] & bit)
    return FALSE;
  g->seen[behind / 64] |= bit;
  return TRUE;
}

typedef struct {
  guint16 seq;
  gboolean valid;
  guint size;
  gint64 send_us;
} Sent;

typedef struct {
  guint32 ssrc;
  guint16 seq;
  gboolean valid;
  gint64 us; /* when it was last retransmitted */
} Resent;

struct SfuEgress {
  gatomicrefcount ref;
  char *name;
  GMutex lock;
  SfuBwe *bwe;
  SfuEgressStats stats;
  /* video renumbering, under the lock */
  gboolean paused;
  gboolean resync;       /* resumed; forward from the next keyframe */
  gboolean shifted;      /* offset applies (video was paused once) */
  guint16 offset;        /* out seq = in seq - offset */
  guint16 resume_in_seq; /* packets before this one (in seq) are stale after a resume */
  gboolean have_out;
  guint16 last_out_seq;
  ReplayGuard replay[2];   /* audio, video */
  SfuBwePacket *feedback;  /* scratch for one report */
  SfuTwccStatus *statuses; /* idem */
  guint8 twcc_ext_id;
  guint64 remb_bps; /* the subscriber's last REMB */
  gint64 remb_us;   /* when it came, 0 = never */
  guint twcc_reports;
  gint64 twcc_us;             /* when the last transport-cc report came, 0 = never */
  gint64 audio_window_us;     /* start of the current audio rate window */
  guint64 audio_window_bytes; /* audio sent in it */
  guint audio_bps;            /* audio rate over the last full window */
  Sent sent[EGRESS_SENT_RING];
  double resend_tokens;     /* bytes the retransmissions may still use */
  double resend_mean_bytes; /* mean size of the leg's retransmissions */
  gint64 resend_tokens_us;  /* when they were last topped up */
  Resent resent[EGRESS_RESENT_RING];
};

/* Under the lock: whether `buf` may go down the leg. */
static gboolean replay_check(SfuEgress *eg, gboolean video, GstBuffer *buf)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp))
    return TRUE;
  guint16 seq = gst_rtp_buffer_get_seq(&rtp);
  gst_rtp_buffer_unmap(&rtp);
  if (replay_guard_pass(&eg->replay[video ? 1 : 0], seq))
    return TRUE;
  eg->stats.replay_dropped++;
  return FALSE;
}

gboolean sfu_vp8_keyframe_start(GstBuffer *buffer)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buffer, GST_MAP_READ, &rtp))
    return FALSE;
  const guint8 *p = gst_rtp_buffer_get_payload(&rtp);
  guint len = gst_rtp_buffer_get_payload_len(&rtp);
  gboolean key = FALSE;
  guint i = 1;
  /* S=1 and PID=0: the start of partition 0 */
  if (len < 1 || !(p[0] & 0x10) || (p[0] & 0x07) != 0)
    goto out;
  /* X: an extension byte follows */
  if (p[0] & 0x80) {
    if (len < 2)
      goto out;
    guint8 ext = p[1];
    i = 2;
    if (ext & 0x80) /* I: 7- or 15-bit PictureID */
      i += (len > i && (p[i] & 0x80)) ? 2 : 1;
    if (ext & 0x40) /* L: TL0PICIDX */
      i++;
    if (ext & 0x30) /* T or K: TID/Y/KEYIDX */
      i++;
  }
  key = len > i && (p[i] & 0x01) == 0;
out:
  gst_rtp_buffer_unmap(&rtp);
  return key;
}

SfuEgress *sfu_egress_new(const char *name, guint start_bps, guint8 twcc_ext_id)
{
  static gsize debug_once = 0;
  if (g_once_init_enter(&debug_once)) {
    GST_DEBUG_CATEGORY_INIT(egress_debug, "mashwara-egress", 0, "Mashwara relay egress");
    g_once_init_leave(&debug_once, 1);
  }
  SfuEgress *eg = g_new0(SfuEgress, 1);
  g_atomic_ref_count_init(&eg->ref);
  eg->name = g_strdup(name);
  g_mutex_init(&eg->lock);
  eg->bwe = sfu_bwe_new(start_bps, EGRESS_MIN_BPS, EGRESS_MAX_BPS);
  eg->feedback = g_new(SfuBwePacket, EGRESS_MAX_FEEDBACK);
  eg->statuses = g_new(SfuTwccStatus, EGRESS_MAX_FEEDBACK);
  eg->twcc_ext_id = twcc_ext_id;
  eg->stats.video_on = TRUE;
  eg->resend_mean_bytes = EGRESS_RESEND_PACKET_BYTES;
  return eg;
}

SfuEgress *sfu_egress_ref(SfuEgress *eg)
{
  g_atomic_ref_count_inc(&eg->ref);
  return eg;
}

void sfu_egress_unref(SfuEgress *eg)
{
  if (!eg || !g_atomic_ref_count_dec(&eg->ref))
    return;
  sfu_bwe_free(eg->bwe);
  g_free(eg->feedback);
  g_free(eg->statuses);
  g_mutex_clear(&eg->lock);
  g_free(eg->name);
  g_free(eg);
}

/* Under the lock. Returns the buffer to forward (maybe a renumbered copy, which replaces the
 * original) or NULL to drop it. */
static GstBuffer *video_packet(SfuEgress *eg, GstBuffer *buf)
{
  if (eg->paused) {
    eg->stats.video_dropped++;
    return NULL;
  }
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp))
    return buf;
  guint16 in_seq = gst_rtp_buffer_get_seq(&rtp);
  gst_rtp_buffer_unmap(&rtp);
  if (eg->resync) {
    if (!sfu_vp8_keyframe_start(buf)) {
      eg->stats.video_dropped++;
      return NULL;
    }
    eg->resync = FALSE;
    eg->stats.waiting_keyframe = FALSE;
    eg->resume_in_seq = in_seq;
    if (eg->have_out) {
      eg->offset = (guint16)(in_seq - (guint16)(eg->last_out_seq + 1));
      eg->shifted = TRUE;
    }
    GST_INFO("%s: video resumes at a keyframe (sequence shift %u)", eg->name, eg->offset);
  } else if (eg->shifted && (gint16)(in_seq - eg->resume_in_seq) < 0) {
    eg->stats.video_dropped++; /* a retransmission from before the pause */
    return NULL;
  }
  guint16 out_seq = (guint16)(in_seq - eg->offset);
  if (!eg->have_out || (gint16)(out_seq - eg->last_out_seq) > 0) {
    eg->last_out_seq = out_seq;
    eg->have_out = TRUE;
  }
  if (!eg->shifted || eg->offset == 0)
    return buf;
  buf = gst_buffer_make_writable(buf);
  if (gst_rtp_buffer_map(buf, GST_MAP_WRITE, &rtp)) {
    gst_rtp_buffer_set_seq(&rtp, out_seq);
    gst_rtp_buffer_unmap(&rtp);
  }
  return buf;
}

typedef struct {
  SfuEgress *eg;
  gboolean video;
} Watch;

static void watch_free(gpointer data)
{
  Watch *w = data;
  sfu_egress_unref(w->eg);
  g_free(w);
}

/* Under the lock: remembers when a packet with a transport-wide sequence number left. */
static void note_sent(SfuEgress *eg, GstBuffer *buf, gint64 now)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!eg->twcc_ext_id || !gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp))
    return;
  gpointer data = NULL;
  guint size = 0;
  if (gst_rtp_buffer_get_extension_onebyte_header(&rtp, eg->twcc_ext_id, 0, &data, &size) &&
      size >= 2) {
    const guint8 *d = data;
    guint16 seq = (guint16)(d[0] << 8 | d[1]);
    eg->sent[seq % EGRESS_SENT_RING] = (Sent){seq, TRUE, (guint)gst_buffer_get_size(buf), now};
  }
  gst_rtp_buffer_unmap(&rtp);
}

void sfu_egress_on_remb(SfuEgress *eg, const guint8 *fci, gsize len)
{
  guint64 bps = 0;
  gboolean ok = sfu_remb_parse_fci(fci, len, &bps);
  g_mutex_lock(&eg->lock);
  if (ok) {
    eg->remb_bps = bps;
    eg->remb_us = g_get_monotonic_time();
    eg->stats.feedback_reports++;
  } else {
    eg->stats.feedback_malformed++;
  }
  g_mutex_unlock(&eg->lock);
}

void sfu_egress_on_feedback(SfuEgress *eg, const guint8 *fci, gsize len)
{
  g_mutex_lock(&eg->lock);
  int n = sfu_twcc_parse_fci(fci, len, eg->statuses, EGRESS_MAX_FEEDBACK);
  guint m = 0;
  for (int i = 0; i < n; i++) {
    const SfuTwccStatus *st = &eg->statuses[i];
    const Sent *sent = &eg->sent[st->seq % EGRESS_SENT_RING];
    /* Sequence numbers this leg never carried (lost before the relay, or another leg's) are
     * not this leg's business. */
    if (!sent->valid || sent->seq != st->seq)
      continue;
    eg->feedback[m++] =
        (SfuBwePacket){st->seq, sent->send_us, st->received ? st->arrival_us : -1, sent->size};
  }
  if (n < 0)
    eg->stats.feedback_malformed++;
  if (m) {
    sfu_bwe_on_feedback(eg->bwe, eg->feedback, m, g_get_monotonic_time());
    eg->stats.feedback_reports++;
    eg->twcc_reports++;
    eg->twcc_us = g_get_monotonic_time();
  }
  g_mutex_unlock(&eg->lock);
}

/* Under the lock: the leg's audio rate, which the estimate adds to the video the estimator
 * measured. A window with no packet at all reads as 0 at the next packet. */
static void audio_rate_add(SfuEgress *eg, gsize size, gint64 now)
{
  gint64 span = now - eg->audio_window_us;
  if (eg->audio_window_us && span >= EGRESS_AUDIO_WINDOW_US) {
    eg->audio_bps = (guint)MIN(eg->audio_window_bytes * 8 * G_USEC_PER_SEC / (guint64)span,
                               (guint64)EGRESS_MAX_BPS);
    eg->audio_window_bytes = 0;
    eg->audio_window_us = now;
  } else if (!eg->audio_window_us) {
    eg->audio_window_us = now;
  }
  eg->audio_window_bytes += size;
}

static GstPadProbeReturn egress_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Watch *w = data;
  SfuEgress *eg = w->eg;
  gint64 now = g_get_monotonic_time();
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    g_mutex_lock(&eg->lock);
    if (w->video) {
      GstBuffer *out = video_packet(eg, buf);
      if (!out) {
        g_mutex_unlock(&eg->lock);
        return GST_PAD_PROBE_DROP;
      }
      GST_PAD_PROBE_INFO_DATA(info) = out; /* the probe's buffer now (maybe a renumbered copy) */
      if (!replay_check(eg, TRUE, out)) {
        g_mutex_unlock(&eg->lock);
        return GST_PAD_PROBE_DROP;
      }
      eg->stats.video_bytes += gst_buffer_get_size(out);
      eg->stats.video_packets++;
      GST_PAD_PROBE_INFO_DATA(info) = out;
    } else {
      if (!replay_check(eg, FALSE, buf)) {
        g_mutex_unlock(&eg->lock);
        return GST_PAD_PROBE_DROP;
      }
      eg->stats.audio_bytes += gst_buffer_get_size(buf);
      audio_rate_add(eg, gst_buffer_get_size(buf), now);
    }
    g_mutex_unlock(&eg->lock);
    return GST_PAD_PROBE_OK;
  }
  /* A list: the relay's queues push single buffers, but keep lists correct. */
  GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
  GstBufferList *out = gst_buffer_list_new_sized(gst_buffer_list_length(list));
  g_mutex_lock(&eg->lock);
  for (guint i = 0; i < gst_buffer_list_length(list); i++) {
    GstBuffer *b = gst_buffer_ref(gst_buffer_list_get(list, i));
    if (w->video)
      b = video_packet(eg, b);
    if (b && !replay_check(eg, w->video, b)) {
      gst_buffer_unref(b);
      b = NULL;
    }
    if (!b)
      continue;
    if (w->video) {
      eg->stats.video_bytes += gst_buffer_get_size(b);
      eg->stats.video_packets++;
    } else {
      eg->stats.audio_bytes += gst_buffer_get_size(b);
      audio_rate_add(eg, gst_buffer_get_size(b), now);
    }
    gst_buffer_list_add(out, b);
  }
  g_mutex_unlock(&eg->lock);
  if (gst_buffer_list_length(out) == 0) {
    gst_buffer_list_unref(out);
    return GST_PAD_PROBE_DROP;
  }
  gst_buffer_list_unref(list);
  GST_PAD_PROBE_INFO_DATA(info) = out;
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn sent_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  SfuEgress *eg = data;
  gint64 now = g_get_monotonic_time();
  g_mutex_lock(&eg->lock);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    note_sent(eg, GST_PAD_PROBE_INFO_BUFFER(info), now);
  } else {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
    for (guint i = 0; i < gst_buffer_list_length(list); i++)
      note_sent(eg, gst_buffer_list_get(list, i), now);
  }
  g_mutex_unlock(&eg->lock);
  return GST_PAD_PROBE_OK;
}

void sfu_egress_watch_sent(SfuEgress *eg, GstPad *pad)
{
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, sent_probe,
                    sfu_egress_ref(eg), (GDestroyNotify)sfu_egress_unref);
}

/* Under the lock: the retransmission budget (bytes) topped up to now: the share of the
 * estimate since the last top-up, at most EGRESS_RESEND_BURST_MS of it. A request is charged
 * when it is let through, at the mean size of the leg's retransmissions: they leave later, on
 * rtprtxsend's own thread, and one feedback packet can ask for dozens at once. (A request for a
 * packet rtprtxsend no longer has is charged too: the price of knowing at once.) */
static double resend_tokens(SfuEgress *eg, gint64 now)
{
  guint estimate = eg->twcc_reports ? sfu_bwe_estimate(eg->bwe) : (guint)eg->remb_bps;
  if (!estimate)
    return G_MAXDOUBLE; /* nothing known yet: no limit */
  double rate = (double)estimate / 8 * EGRESS_RESEND_SHARE_PCT / 100; /* bytes/s */
  double depth = MAX(rate * EGRESS_RESEND_BURST_MS / 1000, 2 * EGRESS_RESEND_PACKET_BYTES);
  eg->resend_tokens =
      eg->resend_tokens_us
          ? MIN(depth, eg->resend_tokens + rate * (double)(now - eg->resend_tokens_us) / 1e6)
          : depth;
  eg->resend_tokens_us = now;
  return eg->resend_tokens;
}

/* Buffers on rtprtxsend's src pad: the retransmissions among them, counted, and their mean
 * size (what a request is charged). The media packets pass without taking the lock. */
static void resent_one(SfuEgress *eg, GstBuffer *buf)
{
  if (!GST_BUFFER_FLAG_IS_SET(buf, GST_RTP_BUFFER_FLAG_RETRANSMISSION))
    return;
  gsize size = gst_buffer_get_size(buf);
  g_mutex_lock(&eg->lock);
  eg->resend_mean_bytes = eg->resend_mean_bytes * 0.9 + (double)size * 0.1;
  eg->stats.resend_packets++;
  eg->stats.resend_bytes += size;
  g_mutex_unlock(&eg->lock);
}

static GstPadProbeReturn resent_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)pad;
  SfuEgress *eg = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    resent_one(eg, GST_PAD_PROBE_INFO_BUFFER(info));
  } else {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
    for (guint i = 0; i < gst_buffer_list_length(list); i++)
      resent_one(eg, gst_buffer_list_get(list, i));
  }
  return GST_PAD_PROBE_OK;
}

/* Upstream events on rtprtxsend's src pad: lets a retransmission request through unless the
 * same packet was retransmitted less than an RTT ago (libwebrtc's sender has the same rule). */
static GstPadProbeReturn resend_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)pad;
  SfuEgress *eg = data;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(ev) != GST_EVENT_CUSTOM_UPSTREAM)
    return GST_PAD_PROBE_OK;
  const GstStructure *s = gst_event_get_structure(ev);
  guint seq, ssrc;
  if (!gst_structure_has_name(s, "GstRTPRetransmissionRequest") ||
      !gst_structure_get_uint(s, "seqnum", &seq) || !gst_structure_get_uint(s, "ssrc", &ssrc))
    return GST_PAD_PROBE_OK;
  gint64 now = g_get_monotonic_time();
  g_mutex_lock(&eg->lock);
  gint64 gap_us = (gint64)MAX(sfu_bwe_rtt_ms(eg->bwe), (guint)EGRESS_RESEND_MIN_GAP_MS) * 1000;
  Resent *r = &eg->resent[seq % EGRESS_RESENT_RING];
  gboolean again = r->valid && r->seq == (guint16)seq && r->ssrc == ssrc && now - r->us < gap_us;
  gboolean over = !again && resend_tokens(eg, now) < eg->resend_mean_bytes;
  if (again) {
    eg->stats.resend_refused++;
  } else if (over) {
    eg->stats.resend_over_budget++;
  } else {
    *r = (Resent){ssrc, (guint16)seq, TRUE, now};
    eg->resend_tokens -= eg->resend_mean_bytes;
    eg->stats.resend_requests++;
  }
  g_mutex_unlock(&eg->lock);
  return again || over ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

void sfu_egress_watch_rtx(SfuEgress *eg, GstElement *rtxsend)
{
  GstPad *src = gst_element_get_static_pad(rtxsend, "src");
  if (!src)
    return;
  gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, resend_probe, sfu_egress_ref(eg),
                    (GDestroyNotify)sfu_egress_unref);
  gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, resent_probe,
                    sfu_egress_ref(eg), (GDestroyNotify)sfu_egress_unref);
  gst_object_unref(src);
}

void sfu_egress_watch(SfuEgress *eg, GstPad *queue_src, gboolean video)
{
  Watch *w = g_new0(Watch, 1);
  w->eg = sfu_egress_ref(eg);
  w->video = video;
  gst_pad_add_probe(queue_src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                    egress_probe, w, watch_free);
}

gboolean sfu_egress_set_video(SfuEgress *eg, gboolean on)
{
  g_mutex_lock(&eg->lock);
  gboolean changed = eg->stats.video_on != on;
  if (changed) {
    eg->stats.video_on = on;
    eg->paused = !on;
    eg->resync = on;
    eg->stats.waiting_keyframe = on;
  }
  g_mutex_unlock(&eg->lock);
  if (changed)
    GST_INFO("%s: video %s", eg->name, on ? "resumes (waiting for a keyframe)" : "paused");
  return changed;
}

void sfu_egress_get_stats(SfuEgress *eg, SfuEgressStats *out)
{
  g_mutex_lock(&eg->lock);
  *out = eg->stats;
  /* The leg's estimate is our estimator's, from the subscriber's transport-cc feedback, which
   * covers the leg's video (its audio carries no transport-wide number, see audio_rate_add()):
   * plus the audio the leg sends. The subscriber's REMB (its own estimate of its downlink) only
   * where no transport-cc came, or a REMB came much later than the last of it. A silent
   * subscriber (an outage) keeps the last estimate: falling back to "unknown" would lift its
   * publisher's cap just as the link returns. */
  gboolean twcc =
      eg->twcc_reports && (!eg->remb_us || eg->remb_us < eg->twcc_us + EGRESS_REMB_NEWER_US);
  if (eg->twcc_reports) {
    out->twcc_estimate_bps = sfu_bwe_estimate(eg->bwe);
    out->acked_bps = sfu_bwe_acked_bps(eg->bwe);
    out->feedback_loss = sfu_bwe_loss(eg->bwe);
    out->feedback_rtt_ms = sfu_bwe_rtt_ms(eg->bwe);
    out->feedback_usage = sfu_bwe_usage(eg->bwe);
  }
  if (twcc) {
    out->estimate_bps =
        (guint)MIN((guint64)out->twcc_estimate_bps + eg->audio_bps, (guint64)EGRESS_MAX_BPS);
  } else if (eg->remb_us) {
    out->estimate_bps = (guint)MIN(eg->remb_bps, (guint64)EGRESS_MAX_BPS);
    out->estimate_from_remb = TRUE;
  }
  out->audio_bps = eg->audio_bps;
  g_mutex_unlock(&eg->lock);
}

void sfu_egress_set_rtt(SfuEgress *eg, guint rtt_ms)
{
  g_mutex_lock(&eg->lock);
  sfu_bwe_on_rtt(eg->bwe, rtt_ms, g_get_monotonic_time());
  g_mutex_unlock(&eg->lock);
}
