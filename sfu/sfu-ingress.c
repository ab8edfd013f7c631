/* sfu-ingress.c — see sfu-ingress.h. Costs: per packet one RTP header map, one mutex, one
 * gst_pad_push (no copy, no allocation); a NACK is one upstream event. */
#define G_LOG_DOMAIN "mashwara-sfu"

#include "sfu-ingress.h"

#include <gst/rtp/rtp.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC(ingress_debug);
#define GST_CAT_DEFAULT ingress_debug

/* Sequence numbers remembered as forwarded, to drop duplicates and to tell a retransmission
 * from a new packet. 1024 packets are ~10 s of a 1 Mbit/s video stream. */
#define RING 1024
/* Missing packets asked for at once; a gap wider than this is an outage or a restart, not
 * loss (the subscribers' keyframe requests repair that). */
#define MAX_PENDING 64
#define NACK_TRIES 3
/* A retry waits max(NACK_MIN_RETRY_MS, 1.5 RTT); a packet older than NACK_GIVE_UP_MS is
 * useless to a live call. */
#define NACK_MIN_RETRY_MS 60
/* A packet this far behind the newest one forwarded is dropped (account()). */
#define STALE_BEHIND 100
#define NACK_GIVE_UP_MS 1000
/* Audio packets marked for feedback and not yet unmarked (sfu_ingress_watch_session). */
#define MARKED 16

typedef struct {
  guint16 seq;
  guint8 tries;
  gint64 first_us;
  gint64 last_us;
} Pending;

typedef struct {
  SfuIngress *owner;
  int media;
  guint8 pt;
  GstPad *out;        /* (owned) our src pad, linked to the tee's sink pad */
  GstPad *webrtc_src; /* (owned) where upstream events go; NULL until started */
  gboolean ready;
  gboolean have_seq;
  guint16 max_seq;
  guint16 ring_seq[RING];
  guint8 ring_valid[RING];
  Pending pending[MAX_PENDING];
  guint n_pending;
  SfuIngressStats stats;
} Stream;

struct SfuIngress {
  gatomicrefcount ref;
  char *name;
  GMutex lock;
  gint rtt_ms; /* atomic */
  Stream st[SFU_INGRESS_N];
  gint audio_red_pt;     /* atomic: RED's payload type for the audio, -1 = none */
  gint64 last_marker_us; /* the last packet with the marker bit into rtpsession */
  guint32 marked_ssrc[MARKED];
  guint16 marked_seq[MARKED];
  gboolean marked_valid[MARKED];
  guint marked_next;
};

static const char *const media_names[SFU_INGRESS_N] = {"audio", "video"};

static gboolean out_event(GstPad *pad, GstObject *parent, GstEvent *event)
{
  Stream *s = gst_pad_get_element_private(pad);
  if (GST_EVENT_TYPE(event) == GST_EVENT_CUSTOM_UPSTREAM) {
    const GstStructure *st = gst_event_get_structure(event);
    /* Feedback of one subscription's leg; the publisher's leg has its own. */
    if (gst_structure_has_name(st, "RTPTWCCPackets") ||
        gst_structure_has_name(st, "GstRTPRetransmissionRequest")) {
      gst_event_unref(event);
      return TRUE;
    }
  }
  if (!GST_EVENT_IS_UPSTREAM(event)) {
    gst_event_unref(event);
    return FALSE;
  }
  g_mutex_lock(&s->owner->lock);
  GstPad *target = s->webrtc_src ? gst_object_ref(s->webrtc_src) : NULL;
  g_mutex_unlock(&s->owner->lock);
  if (!target) {
    gst_event_unref(event);
    return FALSE;
  }
  gboolean ok = gst_pad_send_event(target, event);
  gst_object_unref(target);
  return ok;
}

static gboolean out_query(GstPad *pad, GstObject *parent, GstQuery *query)
{
  switch (GST_QUERY_TYPE(query)) {
  case GST_QUERY_LATENCY:
    /* A live source that adds nothing: packets leave as they arrive. */
    gst_query_set_latency(query, TRUE, 0, GST_CLOCK_TIME_NONE);
    return TRUE;
  case GST_QUERY_CAPS: {
    GstCaps *filter = NULL;
    gst_query_parse_caps(query, &filter);
    GstCaps *caps = gst_pad_get_current_caps(pad);
    if (!caps)
      caps = gst_caps_new_any();
    if (filter) {
      GstCaps *c = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref(caps);
      caps = c;
    }
    gst_query_set_caps_result(query, caps);
    gst_caps_unref(caps);
    return TRUE;
  }
  default:
    return FALSE;
  }
}

SfuIngress *sfu_ingress_new(const char *name, GstElement *tees[SFU_INGRESS_N],
                            const guint8 pts[SFU_INGRESS_N])
{
  static gsize debug_once = 0;
  if (g_once_init_enter(&debug_once)) {
    GST_DEBUG_CATEGORY_INIT(ingress_debug, "mashwara-ingress", 0, "Mashwara relay ingress");
    g_once_init_leave(&debug_once, 1);
  }
  SfuIngress *in = g_new0(SfuIngress, 1);
  g_atomic_ref_count_init(&in->ref);
  in->name = g_strdup(name);
  g_mutex_init(&in->lock);
  in->rtt_ms = 200;
  in->audio_red_pt = -1;
  for (int m = 0; m < SFU_INGRESS_N; m++) {
    Stream *s = &in->st[m];
    s->owner = in;
    s->media = m;
    s->pt = pts[m];
    g_autofree char *pad_name = g_strdup_printf("ingress_%s", media_names[m]);
    s->out = gst_pad_new(pad_name, GST_PAD_SRC);
    gst_object_ref_sink(s->out);
    gst_pad_set_element_private(s->out, s);
    gst_pad_set_event_function(s->out, out_event);
    gst_pad_set_query_function(s->out, out_query);
    gst_pad_set_active(s->out, TRUE);
    GstPad *sink = gst_element_get_static_pad(tees[m], "sink");
    if (gst_pad_link(s->out, sink) != GST_PAD_LINK_OK)
      GST_ERROR("%s: cannot link the %s ingress to its tee", name, media_names[m]);
    gst_object_unref(sink);
  }
  return in;
}

SfuIngress *sfu_ingress_ref(SfuIngress *in)
{
  g_atomic_ref_count_inc(&in->ref);
  return in;
}

void sfu_ingress_unref(SfuIngress *in)
{
  if (!in || !g_atomic_ref_count_dec(&in->ref))
    return;
  for (int m = 0; m < SFU_INGRESS_N; m++) {
    gst_clear_object(&in->st[m].webrtc_src);
    gst_clear_object(&in->st[m].out);
  }
  g_mutex_clear(&in->lock);
  g_free(in->name);
  g_free(in);
}

static gboolean ring_has(const Stream *s, guint16 seq)
{
  return s->ring_valid[seq % RING] && s->ring_seq[seq % RING] == seq;
}

static void ring_put(Stream *s, guint16 seq)
{
  s->ring_valid[seq % RING] = 1;
  s->ring_seq[seq % RING] = seq;
}

static void pending_remove(Stream *s, guint i)
{
  s->pending[i] = s->pending[--s->n_pending];
}

/* Asks the publisher's rtpsession for a NACK of `seq` (it goes out as early RTCP). Called
 * without the lock: the event travels into rtpsession. */
static void send_nack(GstPad *jb_sink, guint32 ssrc, guint16 seq, guint rtt_ms)
{
  GstStructure *st =
      gst_structure_new("GstRTPRetransmissionRequest", "seqnum", G_TYPE_UINT, (guint)seq, "ssrc",
                        G_TYPE_UINT, ssrc, "delay", G_TYPE_UINT, 0u, "deadline", G_TYPE_UINT,
                        MAX(rtt_ms * 2, 200u), "avg-rtt", G_TYPE_UINT, 0u, NULL);
  gst_pad_push_event(jb_sink, gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM, st));
}

typedef struct {
  guint8 pt;
  gboolean marker;
  gboolean ext; /* carries header extensions */
  guint16 seq;
  guint32 ssrc;
} Header;

/* The RTP header fields the probes look at; FALSE = not RTP. */
static gboolean header_read(GstBuffer *buf, Header *h)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp))
    return FALSE;
  h->pt = gst_rtp_buffer_get_payload_type(&rtp);
  h->marker = gst_rtp_buffer_get_marker(&rtp);
  h->ext = gst_rtp_buffer_get_extension(&rtp);
  h->seq = gst_rtp_buffer_get_seq(&rtp);
  h->ssrc = gst_rtp_buffer_get_ssrc(&rtp);
  gst_rtp_buffer_unmap(&rtp);
  return TRUE;
}

/* Under the lock: was (ssrc, seq) marked by feedback_due()? Forgets it. */
static gboolean marked_take(SfuIngress *in, guint32 ssrc, guint16 seq)
{
  for (guint i = 0; i < MARKED; i++) {
    if (in->marked_valid[i] && in->marked_seq[i] == seq && in->marked_ssrc[i] == ssrc) {
      in->marked_valid[i] = FALSE;
      return TRUE;
    }
  }
  return FALSE;
}

/* Sets the marker bit of a writable buffer. */
static void set_marker(GstBuffer *buf, gboolean marker)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (gst_rtp_buffer_map(buf, GST_MAP_WRITE, &rtp)) {
    gst_rtp_buffer_set_marker(&rtp, marker);
    gst_rtp_buffer_unmap(&rtp);
  }
}

typedef struct {
  guint16 seqs[MAX_PENDING];
  guint n;
} NackList;

/* Under the lock: bookkeeping for one packet. FALSE = drop it (a duplicate). Fills `nacks`
 * with what to ask for now. */
static gboolean account(SfuIngress *in, Stream *s, guint16 seq, gsize size, gint64 now,
                        NackList *nacks)
{
  guint rtt = (guint)g_atomic_int_get(&in->rtt_ms);
  if (ring_has(s, seq)) {
    s->stats.duplicates++;
    return FALSE;
  }
  /* Every subscription leg encrypts with SRTP, whose sender refuses a packet more than its
   * replay window (128) behind the newest it sent, and webrtcbin 1.22's srtpenc turns that
   * refusal into an error that ends the leg. Such a packet is also too late to be of use. */
  if (s->have_seq && (gint16)(s->max_seq - seq) >= STALE_BEHIND) {
    s->stats.stale++;
    return FALSE;
  }
  ring_put(s, seq);
  s->stats.packets++;
  s->stats.bytes += size;
  if (!s->have_seq) {
    s->have_seq = TRUE;
    s->max_seq = seq;
  } else {
    gint16 ahead = (gint16)(seq - s->max_seq);
    if (ahead > 0) {
      /* New packets; a gap means loss on the way in. */
      if (ahead > 1 && ahead - 1 <= MAX_PENDING)
        s->stats.missing += (guint64)(ahead - 1);
      if (s->media == SFU_INGRESS_VIDEO && ahead > 1 && ahead - 1 <= MAX_PENDING) {
        for (guint16 m = s->max_seq + 1; m != seq; m++) {
          if (s->n_pending < MAX_PENDING) {
            s->pending[s->n_pending++] = (Pending){m, 1, now, now};
            nacks->seqs[nacks->n++] = m;
            s->stats.nacks++;
          }
        }
      }
      s->max_seq = seq;
    } else {
      s->stats.late++;
      for (guint i = 0; i < s->n_pending; i++) {
        if (s->pending[i].seq == seq) {
          s->stats.recovered++;
          pending_remove(s, i);
          break;
        }
      }
    }
  }
  /* Retries and give-ups, checked as packets arrive (a stream that stops has no one to
   * retransmit to anyway). */
  gint64 retry_us = MAX(NACK_MIN_RETRY_MS, rtt * 3 / 2) * (gint64)1000;
  for (guint i = 0; i < s->n_pending;) {
    Pending *p = &s->pending[i];
    if (now - p->first_us > NACK_GIVE_UP_MS * 1000 ||
        (p->tries >= NACK_TRIES && now - p->last_us > retry_us)) {
      s->stats.lost++;
      pending_remove(s, i);
      continue;
    }
    if (p->tries < NACK_TRIES && now - p->last_us > retry_us && nacks->n < MAX_PENDING) {
      p->tries++;
      p->last_us = now;
      nacks->seqs[nacks->n++] = p->seq;
      s->stats.nacks++;
    }
    i++;
  }
  return TRUE;
}

/* One packet at the jitter buffer's sink pad. TRUE = the ingress took it (or dropped a
 * duplicate); FALSE = the stream is not started, let the jitter buffer have it. */
static gboolean ingress_packet(SfuIngress *in, GstPad *jb_sink, GstBuffer *buf)
{
  Header h;
  if (!header_read(buf, &h))
    return FALSE;

  Stream *s = NULL;
  for (int m = 0; m < SFU_INGRESS_N; m++)
    if (in->st[m].pt == h.pt)
      s = &in->st[m];
  if (!s)
    return FALSE;
  NackList nacks = {.n = 0};
  g_mutex_lock(&in->lock);
  if (!s->ready) {
    g_mutex_unlock(&in->lock);
    return FALSE;
  }
  gboolean keep = account(in, s, h.seq, gst_buffer_get_size(buf), g_get_monotonic_time(), &nacks);
  gboolean unmark = h.marker && marked_take(in, h.ssrc, h.seq);
  GstPad *out = gst_object_ref(s->out);
  g_mutex_unlock(&in->lock);

  guint rtt = (guint)g_atomic_int_get(&in->rtt_ms);
  for (guint i = 0; i < nacks.n; i++)
    send_nack(jb_sink, h.ssrc, nacks.seqs[i], rtt);
  if (keep && unmark) {
    /* The subscribers get the packet as the publisher sent it. */
    GstBuffer *copy = gst_buffer_copy(buf);
    set_marker(copy, FALSE);
    gst_pad_push(out, copy);
  } else if (keep) {
    gst_pad_push(out, gst_buffer_ref(buf));
  }
  gst_object_unref(out);
  return TRUE;
}

static GstPadProbeReturn jitterbuffer_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  SfuIngress *in = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    return ingress_packet(in, pad, GST_PAD_PROBE_INFO_BUFFER(info)) ? GST_PAD_PROBE_DROP
                                                                    : GST_PAD_PROBE_OK;
  GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
  guint n = gst_buffer_list_length(list);
  gboolean taken = FALSE;
  for (guint i = 0; i < n; i++)
    taken = ingress_packet(in, pad, gst_buffer_list_get(list, i)) || taken;
  /* One jitter buffer carries one SSRC, so a list is all started or all not. */
  return taken ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

static void probe_unref(gpointer data)
{
  sfu_ingress_unref(data);
}

/* One packet on its way into rtpsession: TRUE = mark it (audio that carries a header extension,
 * and no marked packet came for SFU_INGRESS_FEEDBACK_MS); it is then remembered, to be unmarked
 * in ingress_packet(). */
static gboolean feedback_due(SfuIngress *in, GstBuffer *buf)
{
  Header h;
  if (!header_read(buf, &h))
    return FALSE;
  /* Most packets are video without the marker: nothing to note, no lock. (The streams' payload
   * types are fixed at sfu_ingress_new().) */
  gboolean audio =
      h.pt == in->st[SFU_INGRESS_AUDIO].pt || h.pt == g_atomic_int_get(&in->audio_red_pt);
  if (!h.marker && !(audio && h.ext))
    return FALSE;

  gint64 now = g_get_monotonic_time();
  gboolean mark = FALSE;
  g_mutex_lock(&in->lock);
  if (h.marker) {
    in->last_marker_us = now;
  } else if (now - in->last_marker_us >= SFU_INGRESS_FEEDBACK_MS * (gint64)1000) {
    in->last_marker_us = now;
    guint i = in->marked_next++ % MARKED;
    in->marked_ssrc[i] = h.ssrc;
    in->marked_seq[i] = h.seq;
    in->marked_valid[i] = TRUE;
    in->st[SFU_INGRESS_AUDIO].stats.feedback_marks++;
    mark = TRUE;
  }
  g_mutex_unlock(&in->lock);
  return mark;
}

static GstPadProbeReturn session_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  SfuIngress *in = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    if (feedback_due(in, GST_PAD_PROBE_INFO_BUFFER(info))) {
      GstBuffer *buf = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
      set_marker(buf, TRUE);
      GST_PAD_PROBE_INFO_DATA(info) = buf;
    }
    return GST_PAD_PROBE_OK;
  }
  GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
  for (guint i = 0; i < gst_buffer_list_length(list); i++) {
    if (!feedback_due(in, gst_buffer_list_get(list, i)))
      continue;
    list = gst_buffer_list_make_writable(list);
    GST_PAD_PROBE_INFO_DATA(info) = list;
    GstBuffer *buf = gst_buffer_copy(gst_buffer_list_get(list, i));
    set_marker(buf, TRUE);
    gst_buffer_list_remove(list, i, 1);
    gst_buffer_list_insert(list, (gint)i, buf); /* takes buf */
  }
  return GST_PAD_PROBE_OK;
}

static void watch_session_pad(SfuIngress *in, GstPad *pad)
{
  if (strcmp(GST_PAD_NAME(pad), "recv_rtp_sink") != 0)
    return;
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, session_probe,
                    sfu_ingress_ref(in), probe_unref);
  GST_DEBUG("%s: transport-wide feedback at least every %d ms", in->name, SFU_INGRESS_FEEDBACK_MS);
}

static void on_session_pad_added(GstElement *session, GstPad *pad, gpointer data)
{
  watch_session_pad(data, pad);
}

static void closure_unref(gpointer data, GClosure *closure)
{
  sfu_ingress_unref(data);
}

void sfu_ingress_watch_session(SfuIngress *in, GstElement *rtpsession)
{
  GstPad *pad = gst_element_get_static_pad(rtpsession, "recv_rtp_sink");
  if (pad) {
    watch_session_pad(in, pad);
    gst_object_unref(pad);
    return;
  }
  g_signal_connect_data(rtpsession, "pad-added", G_CALLBACK(on_session_pad_added),
                        sfu_ingress_ref(in), closure_unref, 0);
}

void sfu_ingress_watch_jitterbuffer(SfuIngress *in, GstElement *jitterbuffer)
{
  GstPad *sink = gst_element_get_static_pad(jitterbuffer, "sink");
  if (!sink)
    return;
  gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                    jitterbuffer_probe, sfu_ingress_ref(in), probe_unref);
  gst_object_unref(sink);
}

void sfu_ingress_start(SfuIngress *in, int media, GstPad *webrtc_src, GstCaps *caps)
{
  g_return_if_fail(media >= 0 && media < SFU_INGRESS_N);
  Stream *s = &in->st[media];
  g_mutex_lock(&in->lock);
  if (s->ready || !s->out) {
    g_mutex_unlock(&in->lock);
    return;
  }
  gst_object_replace((GstObject **)&s->webrtc_src, GST_OBJECT(webrtc_src));
  g_mutex_unlock(&in->lock);
  /* The sticky events a stream starts with; no buffer can be pushed before `ready`. Pushed
   * without the lock: a subscription already linked to the tee (offered from the publisher's
   * answer, connected before its media came) answers the caps with an upstream event, and
   * out_event() takes the lock on this same thread. Only this (main) thread starts a stream. */
  g_autofree char *stream_id = g_strdup_printf("%s/%s", in->name, media_names[media]);
  gst_pad_push_event(s->out, gst_event_new_stream_start(stream_id));
  gst_pad_push_event(s->out, gst_event_new_caps(caps));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  gst_pad_push_event(s->out, gst_event_new_segment(&segment));
  g_mutex_lock(&in->lock);
  s->ready = TRUE;
  g_mutex_unlock(&in->lock);
  GST_INFO("%s: %s bypasses the jitter buffer", in->name, media_names[media]);
}

void sfu_ingress_set_rtt(SfuIngress *in, guint rtt_ms)
{
  g_atomic_int_set(&in->rtt_ms, (gint)MIN(rtt_ms, 5000u));
}

void sfu_ingress_set_audio_red_pt(SfuIngress *in, int pt)
{
  g_atomic_int_set(&in->audio_red_pt, pt);
}

void sfu_ingress_get_stats(SfuIngress *in, int media, SfuIngressStats *out)
{
  g_return_if_fail(media >= 0 && media < SFU_INGRESS_N);
  g_mutex_lock(&in->lock);
  *out = in->st[media].stats;
  g_mutex_unlock(&in->lock);
}

void sfu_ingress_close(SfuIngress *in)
{
  for (int m = 0; m < SFU_INGRESS_N; m++) {
    Stream *s = &in->st[m];
    g_mutex_lock(&in->lock);
    s->ready = FALSE;
    GstPad *src = g_steal_pointer(&s->webrtc_src);
    g_mutex_unlock(&in->lock);
    gst_clear_object(&src);
    GstPad *peer = gst_pad_get_peer(s->out);
    if (peer) {
      gst_pad_unlink(s->out, peer);
      gst_object_unref(peer);
    }
    gst_pad_set_active(s->out, FALSE);
  }
}
