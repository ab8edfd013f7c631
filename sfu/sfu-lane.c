/* sfu-lane.c — see sfu-lane.h. */
#define G_LOG_DOMAIN "mashwara-sfu"

#include "sfu-lane.h"

#include <gst/rtp/rtp.h>
#include <gst/video/video.h>

GST_DEBUG_CATEGORY_STATIC(lane_debug);
#define GST_CAT_DEFAULT lane_debug

/* The picture a weak receiver gets: a thumbnail's width, a frame rate that leaves bits for
 * detail at a few tens of kbit/s. */
#define LANE_WIDTH 320
#define LANE_MAX_FPS 15
/* Packets waiting for the decoder; leaky, so a slow lane never holds the publisher's thread. */
#define LANE_QUEUE_BUFFERS 300

/* What the probes share (streaming threads; under `lock`). */
typedef struct {
  gatomicrefcount ref;
  GMutex lock;
  gboolean have_base;
  guint32 base_rtp;      /* a publisher packet's RTP timestamp … */
  GstClockTime base_pts; /* … and its PTS: the lane's timestamps continue that clock */
  GstCaps *caps;         /* the publisher's caps, sent down in place of the payloader's */
  guint8 twcc_ext_id;
} LaneShared;

struct SfuLane {
  char *name;
  GstElement *pipeline;      /* (owned ref) */
  GstElement *bin;           /* (owned ref) */
  GstElement *publisher_tee; /* (owned ref) */
  GstPad *publisher_pad;     /* (owned ref) its request pad */
  GstElement *enc;           /* (owned ref) */
  GstElement *tee;           /* (owned ref) */
  guint bitrate_bps;
  gint64 created_us;
  LaneShared *shared; /* (owned ref) */
};

static LaneShared *shared_ref(LaneShared *s)
{
  g_atomic_ref_count_inc(&s->ref);
  return s;
}

static void shared_unref(gpointer data)
{
  LaneShared *s = data;
  if (!g_atomic_ref_count_dec(&s->ref))
    return;
  gst_clear_caps(&s->caps);
  g_mutex_clear(&s->lock);
  g_free(s);
}

/* On the publisher's packets as they enter the lane: the first one fixes the clock mapping. */
static GstPadProbeReturn lane_in_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)pad;
  LaneShared *s = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buf)
    return GST_PAD_PROBE_OK;
  g_mutex_lock(&s->lock);
  gboolean need = !s->have_base;
  g_mutex_unlock(&s->lock);
  if (!need || !GST_CLOCK_TIME_IS_VALID(GST_BUFFER_PTS(buf)))
    return GST_PAD_PROBE_OK;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp))
    return GST_PAD_PROBE_OK;
  guint32 ts = gst_rtp_buffer_get_timestamp(&rtp);
  gst_rtp_buffer_unmap(&rtp);
  g_mutex_lock(&s->lock);
  if (!s->have_base) {
    s->have_base = TRUE;
    s->base_rtp = ts;
    s->base_pts = GST_BUFFER_PTS(buf);
  }
  g_mutex_unlock(&s->lock);
  return GST_PAD_PROBE_OK;
}

/* One of the lane's packets made to look like the publisher's: its timestamp on the publisher's
 * RTP clock, and room for the transport-wide sequence number. */
static GstBuffer *lane_rewrite(LaneShared *s, GstBuffer *buf)
{
  g_mutex_lock(&s->lock);
  gboolean have = s->have_base;
  guint32 base_rtp = s->base_rtp;
  GstClockTime base_pts = s->base_pts;
  g_mutex_unlock(&s->lock);
  buf = gst_buffer_make_writable(buf);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buf, GST_MAP_READWRITE, &rtp))
    return buf;
  GstClockTime pts = GST_BUFFER_PTS(buf);
  if (have && GST_CLOCK_TIME_IS_VALID(pts)) {
    guint64 d = pts > base_pts ? gst_util_uint64_scale(pts - base_pts, 90000, GST_SECOND) : 0;
    gst_rtp_buffer_set_timestamp(&rtp, base_rtp + (guint32)d);
  }
  gpointer ext = NULL;
  guint size = 0;
  if (s->twcc_ext_id &&
      !gst_rtp_buffer_get_extension_onebyte_header(&rtp, s->twcc_ext_id, 0, &ext, &size)) {
    const guint8 zero[2] = {0, 0};
    gst_rtp_buffer_add_extension_onebyte_header(&rtp, s->twcc_ext_id, zero, sizeof zero);
  }
  gst_rtp_buffer_unmap(&rtp);
  return buf;
}

static gboolean rewrite_in_list(GstBuffer **buf, guint idx, gpointer data)
{
  (void)idx;
  *buf = lane_rewrite(data, *buf);
  return TRUE;
}

static GstPadProbeReturn lane_out_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)pad;
  LaneShared *s = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    info->data = lane_rewrite(s, GST_PAD_PROBE_INFO_BUFFER(info));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
    gst_buffer_list_foreach(list, rewrite_in_list, s);
    info->data = list;
  } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_UPSTREAM) {
    /* A branch linked to the lane asks for renegotiation; the payloader would query the
     * subscription's caps (the publisher's) and fail on its own fields. Its caps are fixed. */
    if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_RECONFIGURE)
      return GST_PAD_PROBE_DROP;
  } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS && s->caps) {
      /* The subscription's webrtcbin renegotiates when its input caps change. */
      gst_event_unref(ev);
      info->data = gst_event_new_caps(s->caps);
    }
  }
  return GST_PAD_PROBE_OK;
}

static GstElement *make(const char *factory, GError **error)
{
  GstElement *e = gst_element_factory_make(factory, NULL);
  if (!e)
    g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
                "no GStreamer element %s (the video lane needs gst-plugins-good and -base)",
                factory);
  return e;
}

SfuLane *sfu_lane_new(GstElement *pipeline, GstElement *publisher_tee, const char *name,
                      guint bitrate_bps, GError **error)
{
  g_return_val_if_fail(pipeline != NULL && publisher_tee != NULL, NULL);
  static gsize once;
  if (g_once_init_enter(&once)) {
    GST_DEBUG_CATEGORY_INIT(lane_debug, "mashwara-lane", 0, "low-rate video lane");
    g_once_init_leave(&once, 1);
  }
  GstPad *tee_sink = gst_element_get_static_pad(publisher_tee, "sink");
  GstCaps *caps = tee_sink ? gst_pad_get_current_caps(tee_sink) : NULL;
  gst_clear_object(&tee_sink);
  guint ssrc = 0;
  gint pt = -1;
  if (caps) {
    const GstStructure *st = gst_caps_get_structure(caps, 0);
    gst_structure_get_uint(st, "ssrc", &ssrc);
    gst_structure_get_int(st, "payload", &pt);
  }
  if (!caps || pt < 0) {
    g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
                "%s: the publisher's video has no caps yet", name);
    gst_clear_caps(&caps);
    return NULL;
  }
  const char *names[] = {"queue",      "rtpvp8depay", "vp8dec",    "videoscale", "videorate",
                         "capsfilter", "vp8enc",      "rtpvp8pay", "tee"};
  enum { N = G_N_ELEMENTS(names) };
  GstElement *e[N] = {0};
  for (guint i = 0; i < N; i++) {
    e[i] = make(names[i], error);
    if (!e[i]) {
      for (guint j = 0; j < i; j++)
        gst_object_unref(gst_object_ref_sink(e[j]));
      gst_caps_unref(caps);
      return NULL;
    }
  }
  GstElement *queue = e[0], *depay = e[1], *rate = e[4], *filter = e[5], *enc = e[6], *pay = e[7],
             *tee = e[8];
  g_object_set(queue, "leaky", 2 /* downstream */, "max-size-buffers", LANE_QUEUE_BUFFERS,
               "max-size-bytes", 0, "max-size-time", (guint64)0, "silent", TRUE, NULL);
  g_object_set(depay, "request-keyframe", TRUE, "wait-for-keyframe", TRUE, NULL);
  g_object_set(rate, "max-rate", LANE_MAX_FPS, NULL);
  GstCaps *small = gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, LANE_WIDTH,
                                       "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set(filter, "caps", small, NULL);
  gst_caps_unref(small);
  /* Realtime, constant rate, no look-ahead; keyframes when a receiver asks (and every 20 s). */
  g_object_set(enc, "deadline", (gint64)1, "cpu-used", 8, "lag-in-frames", 0, "threads", 1,
               "target-bitrate", (gint)bitrate_bps, "keyframe-max-dist", 300, "max-quantizer", 58,
               NULL);
  gst_util_set_object_arg(G_OBJECT(enc), "end-usage", "cbr");
  g_object_set(pay, "pt", (guint)pt, "ssrc", ssrc, "mtu", 1200u, NULL);
  gst_util_set_object_arg(G_OBJECT(pay), "picture-id-mode", "15-bit");
  g_object_set(tee, "allow-not-linked", TRUE, NULL);

  SfuLane *lane = g_new0(SfuLane, 1);
  lane->name = g_strdup(name);
  lane->bin = gst_object_ref_sink(gst_bin_new(NULL));
  for (guint i = 0; i < N; i++)
    gst_bin_add(GST_BIN(lane->bin), e[i]);
  gboolean ok = TRUE;
  for (guint i = 0; i + 1 < N; i++)
    ok = ok && gst_element_link(e[i], e[i + 1]);
  GstPad *qsink = gst_element_get_static_pad(queue, "sink");
  GstPad *ghost = gst_ghost_pad_new("sink", qsink);
  gst_element_add_pad(lane->bin, ghost);

  lane->shared = g_new0(LaneShared, 1);
  g_atomic_ref_count_init(&lane->shared->ref);
  g_mutex_init(&lane->shared->lock);
  lane->shared->caps = caps;
  lane->shared->twcc_ext_id = 3;
  gst_pad_add_probe(qsink, GST_PAD_PROBE_TYPE_BUFFER, lane_in_probe, shared_ref(lane->shared),
                    shared_unref);
  gst_object_unref(qsink);
  GstPad *paysrc = gst_element_get_static_pad(pay, "src");
  gst_pad_add_probe(paysrc,
                    GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                        GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
                    lane_out_probe, shared_ref(lane->shared), shared_unref);
  gst_object_unref(paysrc);

  lane->pipeline = gst_object_ref(pipeline);
  lane->publisher_tee = gst_object_ref(publisher_tee);
  lane->enc = gst_object_ref(enc);
  lane->tee = gst_object_ref(tee);
  lane->bitrate_bps = bitrate_bps;
  lane->created_us = g_get_monotonic_time();
  gst_bin_add(GST_BIN(pipeline), lane->bin);
  gst_element_sync_state_with_parent(lane->bin);
  lane->publisher_pad = gst_element_request_pad_simple(publisher_tee, "src_%u");
  ok = ok && lane->publisher_pad && gst_pad_link(lane->publisher_pad, ghost) == GST_PAD_LINK_OK;
  if (!ok) {
    g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION, "%s: cannot link the lane",
                name);
    sfu_lane_free(lane);
    return NULL;
  }
  GST_INFO("%s: video lane up at %u bit/s", lane->name, bitrate_bps);
  return lane;
}

typedef struct {
  gatomicrefcount ref;
  GMutex lock;
  GCond cond;
  gboolean unlinked;
} Unlink;

static void unlink_unref(gpointer data)
{
  Unlink *u = data;
  if (!g_atomic_ref_count_dec(&u->ref))
    return;
  g_mutex_clear(&u->lock);
  g_cond_clear(&u->cond);
  g_free(u);
}

static GstPadProbeReturn unlink_idle_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)info;
  Unlink *u = data;
  GstPad *peer = gst_pad_get_peer(pad);
  if (peer) {
    gst_pad_unlink(pad, peer);
    gst_object_unref(peer);
  }
  g_mutex_lock(&u->lock);
  u->unlinked = TRUE;
  g_cond_signal(&u->cond);
  g_mutex_unlock(&u->lock);
  return GST_PAD_PROBE_REMOVE;
}

void sfu_lane_free(SfuLane *lane)
{
  if (!lane)
    return;
  if (lane->publisher_pad) {
    /* Unlinked between two of the publisher's pushes (the lane's queue is leaky: the push in
     * progress never blocks), as a subscriber's branch is. */
    Unlink *u = g_new0(Unlink, 1);
    g_atomic_ref_count_init(&u->ref);
    g_mutex_init(&u->lock);
    g_cond_init(&u->cond);
    g_atomic_ref_count_inc(&u->ref);
    gst_pad_add_probe(lane->publisher_pad, GST_PAD_PROBE_TYPE_IDLE, unlink_idle_probe, u,
                      unlink_unref);
    gint64 deadline = g_get_monotonic_time() + G_TIME_SPAN_SECOND;
    g_mutex_lock(&u->lock);
    while (!u->unlinked)
      if (!g_cond_wait_until(&u->cond, &u->lock, deadline))
        break;
    g_mutex_unlock(&u->lock);
    unlink_unref(u);
    gst_element_release_request_pad(lane->publisher_tee, lane->publisher_pad);
    gst_clear_object(&lane->publisher_pad);
  }
  gst_element_set_state(lane->bin, GST_STATE_NULL);
  if (GST_OBJECT_PARENT(lane->bin) == GST_OBJECT(lane->pipeline))
    gst_bin_remove(GST_BIN(lane->pipeline), lane->bin);
  GST_INFO("%s: video lane down after %" G_GINT64_FORMAT " s", lane->name,
           (g_get_monotonic_time() - lane->created_us) / G_USEC_PER_SEC);
  gst_object_unref(lane->bin);
  gst_object_unref(lane->pipeline);
  gst_object_unref(lane->publisher_tee);
  gst_object_unref(lane->enc);
  gst_object_unref(lane->tee);
  shared_unref(lane->shared);
  g_free(lane->name);
  g_free(lane);
}

GstElement *sfu_lane_tee(SfuLane *lane)
{
  g_return_val_if_fail(lane != NULL, NULL);
  return lane->tee;
}

void sfu_lane_set_bitrate(SfuLane *lane, guint bitrate_bps)
{
  g_return_if_fail(lane != NULL);
  if (bitrate_bps <= lane->bitrate_bps + lane->bitrate_bps / 10 &&
      bitrate_bps + bitrate_bps / 10 >= lane->bitrate_bps)
    return;
  GST_DEBUG("%s: lane %u -> %u bit/s", lane->name, lane->bitrate_bps, bitrate_bps);
  lane->bitrate_bps = bitrate_bps;
  g_object_set(lane->enc, "target-bitrate", (gint)bitrate_bps, NULL);
}

guint sfu_lane_bitrate(SfuLane *lane)
{
  g_return_val_if_fail(lane != NULL, 0);
  return lane->bitrate_bps;
}

void sfu_lane_request_keyframe(SfuLane *lane)
{
  g_return_if_fail(lane != NULL);
  gst_element_send_event(lane->enc,
                         gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
}
