/* mw-loadgen: the relay benchmark's load generator (bench/load/README.md).
 *
 * One process, one GLib main loop, many WebRTC peers: every participant of every consultation
 * is a GStreamer webrtcbin peer of its own (one pipeline per peer connection), publishing
 * pre-encoded VP8 and Opus looped from memory (no encoder runs here) and receiving what the
 * server forwards of the other participant. It speaks two signaling protocols: ours
 * (docs/protocol.md: a patient's token hello, a doctor's login cookie and admit, the relay offers)
 * and Janus's videoroom over its WebSocket transport (create session, attach, join as publisher,
 * publish with our offer, subscribe to the other's feed).
 *
 * Control: commands on stdin, one per line ("add ours TOKEN DOCTOR PASSWORD APPOINTMENT",
 * "add janus ROOM", "report", "quit"); "report" prints one JSON line of cumulative counters and
 * the delay percentiles since the previous report. The process ends by itself after
 * --max-seconds.
 *
 * Delay: the last 8 bytes of every sent RTP payload carry a marker (2 magic bytes, 48-bit id);
 * the send time of each id is kept in a ring; the receive side (a probe on webrtcbin's rtpbin
 * sink pads, after SRTP, before the jitter buffer) looks the id up: one clock, one process. The
 * payloads are never decoded, so overwriting their tail costs the measurement nothing.
 *
 * Threads: signaling and all control state on the main loop. The send probes run in the
 * appsrcs' streaming threads, the receive probes in libnice's; they touch only the ring (under
 * ring_lock), the atomic counters and their own Pc's stream table (under the Pc's lock).
 * webrtcbin's callbacks (candidates, promises) hand over to the main loop. */
#include <gio/gio.h>
#include <glib-unix.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <gst/sdp/sdp.h>
#define GST_USE_UNSTABLE_API
#include <gst/webrtc/webrtc.h>
#include <jansson.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#define RING_SIZE (1u << 20)
#define MARK_MAGIC 0x4d57u
#define HIST_US_MAX 2000000 /* 2 s in 10 us buckets */
#define HIST_STEP_US 10
#define MAX_STREAMS 8

typedef struct Peer Peer;
typedef struct Pc Pc;

typedef struct {
  GPtrArray *frames; /* GstBuffer, pts-less, in order */
  GstCaps *caps;
  guint64 frame_us;
} Media;

typedef struct {
  guint32 ssrc;
  guint8 pt;
  gboolean init;
  guint16 max_seq;
  guint64 cycles;
  guint64 base;
  guint64 received;
} Stream;

struct Pc {
  Peer *peer;
  char *name; /* ours: "pub", "sub:<id>"; janus: "pub", "sub" */
  gboolean publish;
  GstElement *pipeline;
  GstElement *webrtc;
  GstElement *vsrc, *asrc;
  gboolean sending;
  gint want_key;       /* atomic: a keyframe was asked for */
  gint64 last_jump_us; /* main loop: when send_tick last skipped to a keyframe */
  guint video_pos, audio_pos;
  guint64 video_sent, audio_sent; /* frames pushed since start */
  gint64 start_us;
  guint64 janus_handle;
  /* receive side, under lock */
  GMutex lock;
  guint8 video_pt;
  guint8 media_pts[128]; /* 1 = count this payload type (not rtx/fec) */
  Stream streams[MAX_STREAMS];
  gboolean first_frame;
};

struct Peer {
  char *role; /* "patient" / "doctor" / "janus" */
  int consultation;
  SoupWebsocketConnection *ws;
  GHashTable *pcs; /* name -> Pc */
  char *token, *username, *password;
  gint64 appointment;
  gboolean admitted;
  gint64 join_us;
  /* janus */
  guint64 session;
  guint64 room;
  guint64 feed;
  guint64 private_id;
  Pc *jpub, *jsub;
  guint64 sub_feed;
  GHashTable *txn; /* transaction -> what (string) */
  guint txn_n;
};

static struct {
  char *url; /* ours: https://host:port ; janus: ws://host:port */
  char *media_dir;
  GMainLoop *loop;
  SoupSession *soup;
  Media video, audio;
  GPtrArray *peers;
  GPtrArray *pub_pcs;
  gint64 t0;
  int consultations;
  /* counters (atomic) */
  gint64 rx_packets, rx_expected, tx_packets, marked_rx, unmarked_rx, errors;
  gint pcs_connected;
  GMutex ring_lock;
  guint64 *ring_id;
  gint64 *ring_t;
  guint64 next_id;
  GMutex hist_lock;
  guint32 *hist;
  guint64 hist_n;
  GArray *first_frame_ms; /* main loop only (filled via invoke) */
  GMutex ff_lock;
} G;

/* ---------------------------------------------------------------- media */

static gboolean media_load(Media *m, const char *pipeline_desc, GError **error)
{
  g_autoptr(GstElement) p = gst_parse_launch(pipeline_desc, error);
  if (!p)
    return FALSE;
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(p), "out");
  m->frames = g_ptr_array_new_with_free_func((GDestroyNotify)gst_buffer_unref);
  gst_element_set_state(p, GST_STATE_PLAYING);
  for (;;) {
    GstSample *s = NULL;
    g_signal_emit_by_name(sink, "pull-sample", &s);
    if (!s)
      break;
    if (!m->caps)
      m->caps = gst_caps_copy(gst_sample_get_caps(s));
    GstBuffer *b = gst_buffer_copy_deep(gst_sample_get_buffer(s));
    GST_BUFFER_PTS(b) = GST_BUFFER_DTS(b) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION(b) = GST_CLOCK_TIME_NONE;
    if (!GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_HEADER))
      g_ptr_array_add(m->frames, b);
    else
      gst_buffer_unref(b);
    gst_sample_unref(s);
  }
  gst_element_set_state(p, GST_STATE_NULL);
  if (m->frames->len == 0 || !m->caps) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "no frames from: %s", pipeline_desc);
    return FALSE;
  }
  return TRUE;
}

/* ---------------------------------------------------------------- marks, delay */

/* Marks one packet (transfer full in and out): a deep copy first, because the payloader's
 * buffer may share memory with the cached frames. */
static GstBuffer *mark_buffer(GstBuffer *buf)
{
  GstBuffer *copy = gst_buffer_copy_deep(buf);
  gst_buffer_unref(buf);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (gst_rtp_buffer_map(copy, GST_MAP_READWRITE, &rtp)) {
    guint len = gst_rtp_buffer_get_payload_len(&rtp);
    if (len >= 12) {
      guint8 *p = (guint8 *)gst_rtp_buffer_get_payload(&rtp) + len - 8;
      g_mutex_lock(&G.ring_lock);
      guint64 id = ++G.next_id & G_GUINT64_CONSTANT(0xffffffffffff);
      G.ring_id[id % RING_SIZE] = id;
      G.ring_t[id % RING_SIZE] = g_get_monotonic_time();
      g_mutex_unlock(&G.ring_lock);
      p[0] = MARK_MAGIC >> 8;
      p[1] = MARK_MAGIC & 0xff;
      for (int i = 0; i < 6; i++)
        p[2 + i] = (id >> (8 * (5 - i))) & 0xff;
    }
    gst_rtp_buffer_unmap(&rtp);
  }
  g_atomic_pointer_add(&G.tx_packets, 1);
  return copy;
}

static gboolean mark_list_item(GstBuffer **buf, guint idx, gpointer data)
{
  (void)idx;
  (void)data;
  *buf = mark_buffer(*buf);
  return TRUE;
}

static GstPadProbeReturn mark_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)pad;
  (void)data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
    gst_buffer_list_foreach(list, mark_list_item, NULL);
    GST_PAD_PROBE_INFO_DATA(info) = list;
  } else {
    GST_PAD_PROBE_INFO_DATA(info) = mark_buffer(GST_PAD_PROBE_INFO_BUFFER(info));
  }
  return GST_PAD_PROBE_OK;
}

/* A keyframe request (the server's PLI, turned into an upstream GstForceKeyUnit by webrtcbin):
 * the next video frame pushed will be the loop's next keyframe (send_tick). */
static GstPadProbeReturn key_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)pad;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
  if (gst_event_has_name(ev, "GstForceKeyUnit"))
    g_atomic_int_set((gint *)data, 1);
  return GST_PAD_PROBE_OK;
}

typedef struct {
  Pc *pc;
  gint64 ms;
} FirstFrame;

static void rx_packet(Pc *pc, GstBuffer *buf, gint64 now)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp))
    return;
  guint8 pt = gst_rtp_buffer_get_payload_type(&rtp);
  if (pt >= 72 && pt <= 79) { /* RTCP muxed */
    gst_rtp_buffer_unmap(&rtp);
    return;
  }
  guint32 ssrc = gst_rtp_buffer_get_ssrc(&rtp);
  guint16 seq = gst_rtp_buffer_get_seq(&rtp);
  guint len = gst_rtp_buffer_get_payload_len(&rtp);
  const guint8 *pl = gst_rtp_buffer_get_payload(&rtp);
  gboolean first = FALSE;
  g_mutex_lock(&pc->lock);
  if (pc->media_pts[pt]) {
    Stream *s = NULL;
    for (int i = 0; i < MAX_STREAMS; i++) {
      if (pc->streams[i].init && pc->streams[i].ssrc == ssrc) {
        s = &pc->streams[i];
        break;
      }
      if (!pc->streams[i].init) {
        s = &pc->streams[i];
        s->init = TRUE;
        s->ssrc = ssrc;
        s->pt = pt;
        s->max_seq = seq;
        s->base = seq;
        s->cycles = 0;
        s->received = 0;
        break;
      }
    }
    if (s) {
      gint16 d = (gint16)(seq - s->max_seq);
      if (d > 0) {
        if (seq < s->max_seq)
          s->cycles += 65536;
        s->max_seq = seq;
      }
      s->received++;
    }
    if (pt == pc->video_pt && !pc->first_frame && len > 4) {
      /* VP8 payload descriptor: S bit, partition 0, then the payload header's P bit (0 =
       * keyframe): the start of a decodable frame. */
      guint off = 1;
      if (pl[0] & 0x80) {
        guint8 x = pl[1];
        off = 2;
        if (x & 0x80)
          off += (pl[off] & 0x80) ? 2 : 1;
        if (x & 0x40)
          off++;
        if (x & 0x30)
          off++;
      }
      if ((pl[0] & 0x10) && (pl[0] & 0x0f) == 0 && off < len && !(pl[off] & 0x01)) {
        pc->first_frame = TRUE;
        first = TRUE;
      }
    }
    g_atomic_pointer_add(&G.rx_packets, 1);
    if (len >= 12 && pl[len - 8] == (MARK_MAGIC >> 8) && pl[len - 7] == (MARK_MAGIC & 0xff)) {
      guint64 id = 0;
      for (int i = 0; i < 6; i++)
        id = (id << 8) | pl[len - 6 + i];
      gint64 sent = -1;
      g_mutex_lock(&G.ring_lock);
      if (G.ring_id[id % RING_SIZE] == id)
        sent = G.ring_t[id % RING_SIZE];
      g_mutex_unlock(&G.ring_lock);
      if (sent > 0 && now >= sent) {
        gint64 d_us = now - sent;
        guint b = d_us / HIST_STEP_US;
        if (b >= HIST_US_MAX / HIST_STEP_US)
          b = HIST_US_MAX / HIST_STEP_US - 1;
        g_mutex_lock(&G.hist_lock);
        G.hist[b]++;
        G.hist_n++;
        g_mutex_unlock(&G.hist_lock);
        g_atomic_pointer_add(&G.marked_rx, 1);
      } else {
        g_atomic_pointer_add(&G.unmarked_rx, 1);
      }
    } else {
      g_atomic_pointer_add(&G.unmarked_rx, 1);
    }
  }
  g_mutex_unlock(&pc->lock);
  gst_rtp_buffer_unmap(&rtp);
  if (first) {
    g_mutex_lock(&G.ff_lock);
    gint64 ms = (now - pc->peer->join_us) / 1000;
    g_array_append_val(G.first_frame_ms, ms);
    g_mutex_unlock(&G.ff_lock);
  }
}

static gboolean rx_list_item(GstBuffer **buf, guint idx, gpointer pc)
{
  (void)idx;
  rx_packet(pc, *buf, g_get_monotonic_time());
  return TRUE;
}

static GstPadProbeReturn rx_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)pad;
  Pc *pc = data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    gst_buffer_list_foreach(GST_PAD_PROBE_INFO_BUFFER_LIST(info), rx_list_item, pc);
  else
    rx_packet(pc, GST_PAD_PROBE_INFO_BUFFER(info), g_get_monotonic_time());
  return GST_PAD_PROBE_OK;
}

static void rtpbin_pad_added(GstElement *rtpbin, GstPad *pad, gpointer data)
{
  (void)rtpbin;
  g_autofree char *name = gst_pad_get_name(pad);
  if (g_str_has_prefix(name, "recv_rtp_sink_"))
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, rx_probe,
                      data, NULL);
}

/* ---------------------------------------------------------------- signaling out */

static void ws_send(Peer *peer, json_t *msg)
{
  char *text = json_dumps(msg, JSON_COMPACT);
  json_decref(msg);
  if (peer->ws && soup_websocket_connection_get_state(peer->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(peer->ws, text);
  free(text);
}

static json_t *janus_msg(Peer *peer, const char *kind, const char *what)
{
  char txn[32];
  g_snprintf(txn, sizeof txn, "t%u", ++peer->txn_n);
  g_hash_table_insert(peer->txn, g_strdup(txn), g_strdup(what));
  json_t *m = json_pack("{s:s, s:s}", "janus", kind, "transaction", txn);
  if (peer->session)
    json_object_set_new(m, "session_id", json_integer((json_int_t)peer->session));
  return m;
}

/* ---------------------------------------------------------------- peer connections */

typedef struct {
  Pc *pc;
  char *candidate;
  guint mline;
} Cand;

static gboolean on_candidate_main(gpointer data)
{
  Cand *c = data;
  Pc *pc = c->pc;
  Peer *peer = pc->peer;
  if (peer->session == 0) {
    ws_send(peer, json_pack("{s:s, s:s, s:s, s:i}", "type", "candidate", "pc", pc->name,
                            "candidate", c->candidate, "sdpMLineIndex", (int)c->mline));
  } else {
    json_t *m = janus_msg(peer, "trickle", "trickle");
    json_object_set_new(m, "handle_id", json_integer((json_int_t)pc->janus_handle));
    json_object_set_new(
        m, "candidate",
        json_pack("{s:s, s:i}", "candidate", c->candidate, "sdpMLineIndex", (int)c->mline));
    ws_send(peer, m);
  }
  g_free(c->candidate);
  g_free(c);
  return G_SOURCE_REMOVE;
}

static void on_ice_candidate(GstElement *webrtc, guint mline, char *candidate, gpointer data)
{
  (void)webrtc;
  Cand *c = g_new0(Cand, 1);
  c->pc = data;
  c->candidate = g_strdup(candidate);
  c->mline = mline;
  g_main_context_invoke(NULL, on_candidate_main, c);
}

static void on_conn_state(GObject *obj, GParamSpec *ps, gpointer data)
{
  (void)ps;
  (void)data;
  GstWebRTCPeerConnectionState st;
  g_object_get(obj, "connection-state", &st, NULL);
  if (st == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
    g_atomic_int_inc(&G.pcs_connected);
  else if (st == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED)
    g_atomic_pointer_add(&G.errors, 1);
}

static void webrtc_pad_added(GstElement *webrtc, GstPad *pad, gpointer data)
{
  Pc *pc = data;
  (void)webrtc;
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
    return;
  GstElement *sink = gst_element_factory_make("fakesink", NULL);
  g_object_set(sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add(GST_BIN(pc->pipeline), sink);
  gst_element_sync_state_with_parent(sink);
  GstPad *sinkpad = gst_element_get_static_pad(sink, "sink");
  gst_pad_link(pad, sinkpad);
  gst_object_unref(sinkpad);
}

/* A branch appsrc ! payloader ! capsfilter into a webrtcbin sink pad. pt: the payload type. */
static GstElement *add_branch(Pc *pc, gboolean video, int pt)
{
  Media *m = video ? &G.video : &G.audio;
  GstElement *src = gst_element_factory_make("appsrc", NULL);
  GstElement *pay = gst_element_factory_make(video ? "rtpvp8pay" : "rtpopuspay", NULL);
  GstElement *cf = gst_element_factory_make("capsfilter", NULL);
  g_object_set(src, "is-live", TRUE, "do-timestamp", TRUE, "format", GST_FORMAT_TIME, "caps",
               m->caps, "max-bytes", (guint64)400000, "block", FALSE, NULL);
  gst_util_set_object_arg(G_OBJECT(src), "leaky-type", "downstream");
  /* A fixed SSRC in the caps puts a=ssrc into our offers: Janus drops packets of SSRCs it
   * cannot map to an m-line ("Unknown SSRC"), and without a=ssrc it guessed right only now
   * and then. */
  guint32 ssrc = g_random_int();
  g_object_set(pay, "pt", pt, "mtu", 1200, "ssrc", ssrc, NULL);
  if (video)
    gst_util_set_object_arg(G_OBJECT(pay), "picture-id-mode", "15-bit");
  g_autofree char *caps_str =
      video ? g_strdup_printf("application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,"
                              "payload=%d,ssrc=(uint)%u,rtcp-fb-nack=(boolean)true,"
                              "rtcp-fb-nack-pli=(boolean)true",
                              pt, ssrc)
            : g_strdup_printf("application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,"
                              "payload=%d,ssrc=(uint)%u,encoding-params=(string)2",
                              pt, ssrc);
  GstCaps *caps = gst_caps_from_string(caps_str);
  g_object_set(cf, "caps", caps, NULL);
  gst_caps_unref(caps);
  gst_bin_add_many(GST_BIN(pc->pipeline), src, pay, cf, NULL);
  gst_element_link_many(src, pay, cf, NULL);
  GstPad *paysrc = gst_element_get_static_pad(pay, "src");
  gst_pad_add_probe(paysrc, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, mark_probe,
                    NULL, NULL);
  if (video) {
    GstPad *srcpad = gst_element_get_static_pad(src, "src");
    gst_pad_add_probe(srcpad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, key_probe, &pc->want_key, NULL);
    gst_object_unref(srcpad);
  }
  gst_object_unref(paysrc);
  GstPad *wsink = gst_element_request_pad_simple(pc->webrtc, "sink_%u");
  GstPad *cfsrc = gst_element_get_static_pad(cf, "src");
  gst_pad_link(cfsrc, wsink);
  gst_object_unref(cfsrc);
  gst_object_unref(wsink);
  return src;
}

static Pc *pc_new(Peer *peer, const char *name, gboolean publish)
{
  Pc *pc = g_new0(Pc, 1);
  g_mutex_init(&pc->lock);
  pc->peer = peer;
  pc->name = g_strdup(name);
  pc->publish = publish;
  pc->video_pt = 255;
  pc->pipeline = gst_pipeline_new(NULL);
  pc->webrtc = gst_element_factory_make("webrtcbin", NULL);
  g_object_set(pc->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency", 0,
               NULL);
  gst_bin_add(GST_BIN(pc->pipeline), pc->webrtc);
  /* No UPnP discovery per peer connection (libnice's default): only the test namespace here. */
  GObject *ice = NULL;
  g_object_get(pc->webrtc, "ice-agent", &ice, NULL);
  if (ice) {
    GObject *agent = NULL;
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent"))
      g_object_get(ice, "agent", &agent, NULL);
    if (agent) {
      g_object_set(agent, "upnp", FALSE, NULL);
      g_object_unref(agent);
    }
    g_object_unref(ice);
  }
  g_signal_connect(pc->webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), pc);
  g_signal_connect(pc->webrtc, "notify::connection-state", G_CALLBACK(on_conn_state), pc);
  g_signal_connect(pc->webrtc, "pad-added", G_CALLBACK(webrtc_pad_added), pc);
  GstElement *rtpbin = gst_bin_get_by_name(GST_BIN(pc->webrtc), "rtpbin");
  if (rtpbin) {
    g_signal_connect(rtpbin, "pad-added", G_CALLBACK(rtpbin_pad_added), pc);
    gst_object_unref(rtpbin);
  } else {
    g_printerr("loadgen: webrtcbin has no element named rtpbin: no receive counts\n");
  }
  g_hash_table_insert(peer->pcs, pc->name, pc);
  return pc;
}

static void pc_start(Pc *pc)
{
  gst_element_set_state(pc->pipeline, GST_STATE_PLAYING);
}

/* Which payload types of a remote description carry media (not rtx, red is media), and
 * which one is VP8. Also returns the first opus and vp8 payload types. */
static void pc_learn_pts(Pc *pc, const GstSDPMessage *sdp, int *opus_pt, int *vp8_pt)
{
  if (opus_pt)
    *opus_pt = -1;
  if (vp8_pt)
    *vp8_pt = -1;
  g_mutex_lock(&pc->lock);
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media(sdp, i);
    for (guint a = 0; a < gst_sdp_media_attributes_len(m); a++) {
      const GstSDPAttribute *at = gst_sdp_media_get_attribute(m, a);
      if (g_strcmp0(at->key, "rtpmap") != 0 || !at->value)
        continue;
      int pt = atoi(at->value);
      const char *enc = strchr(at->value, ' ');
      if (pt < 0 || pt > 127 || !enc)
        continue;
      enc++;
      if (g_ascii_strncasecmp(enc, "rtx/", 4) == 0 || g_ascii_strncasecmp(enc, "ulpfec/", 7) == 0 ||
          g_ascii_strncasecmp(enc, "flexfec", 7) == 0)
        continue;
      pc->media_pts[pt] = 1;
      if (g_ascii_strncasecmp(enc, "VP8/", 4) == 0) {
        if (pc->video_pt == 255)
          pc->video_pt = pt;
        if (vp8_pt && *vp8_pt < 0)
          *vp8_pt = pt;
      }
      if (g_ascii_strncasecmp(enc, "opus/", 5) == 0 && opus_pt && *opus_pt < 0)
        *opus_pt = pt;
    }
  }
  g_mutex_unlock(&pc->lock);
}

typedef struct {
  Pc *pc;
  GstPromise *promise;
  int step; /* 0: remote offer set -> answer; 1: answer made; 2: offer made */
} Step;

static void pc_promise(Pc *pc, int step, const char *signal, gpointer arg);

static gboolean step_main(gpointer data)
{
  Step *st = data;
  Pc *pc = st->pc;
  Peer *peer = pc->peer;
  const GstStructure *r = gst_promise_get_reply(st->promise);
  if (st->step == 0) {
    pc_promise(pc, 1, "create-answer", NULL);
  } else {
    GstWebRTCSessionDescription *desc = NULL;
    if (r)
      gst_structure_get(r, st->step == 1 ? "answer" : "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                        &desc, NULL);
    if (!desc || !desc->sdp) {
      g_printerr("loadgen: %s: no %s from webrtcbin\n", pc->name,
                 st->step == 1 ? "answer" : "offer");
      g_atomic_pointer_add(&G.errors, 1);
    } else {
      g_signal_emit_by_name(pc->webrtc, "set-local-description", desc, NULL);
      g_autofree char *text = gst_sdp_message_as_text(desc->sdp);
      if (g_getenv("MW_LOADGEN_SDP"))
        g_printerr("loadgen: consultation %d %s %s local:\n%s\n", peer->consultation, peer->role,
                   pc->name, text);
      if (peer->session == 0) {
        ws_send(peer, json_pack("{s:s, s:s, s:s}", "type", "answer", "pc", pc->name, "sdp", text));
      } else {
        json_t *m = janus_msg(peer, "message", st->step == 1 ? "start" : "configure");
        json_object_set_new(m, "handle_id", json_integer((json_int_t)pc->janus_handle));
        if (st->step == 1)
          json_object_set_new(
              m, "body",
              json_pack("{s:s, s:I}", "request", "start", "room", (json_int_t)peer->room));
        else
          json_object_set_new(
              m, "body",
              json_pack("{s:s, s:b, s:b}", "request", "configure", "audio", 1, "video", 1));
        json_object_set_new(
            m, "jsep",
            json_pack("{s:s, s:s}", "type", st->step == 1 ? "answer" : "offer", "sdp", text));
        ws_send(peer, m);
      }
      pc->sending = pc->publish;
      gst_webrtc_session_description_free(desc);
    }
  }
  gst_promise_unref(st->promise);
  g_free(st);
  return G_SOURCE_REMOVE;
}

static void promise_changed(GstPromise *promise, gpointer data)
{
  (void)promise;
  g_main_context_invoke(NULL, step_main, data);
}

static void pc_promise(Pc *pc, int step, const char *signal, gpointer arg)
{
  Step *st = g_new0(Step, 1);
  st->pc = pc;
  st->step = step;
  st->promise = gst_promise_new_with_change_func(promise_changed, st, NULL);
  if (arg)
    g_signal_emit_by_name(pc->webrtc, signal, arg, st->promise);
  else
    g_signal_emit_by_name(pc->webrtc, signal, NULL, st->promise);
}

/* A remote offer: set it, answer it (step 0 -> step 1). */
static void pc_take_offer(Pc *pc, GstSDPMessage *sdp)
{
  GstWebRTCSessionDescription *offer =
      gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  pc_promise(pc, 0, "set-remote-description", offer);
  gst_webrtc_session_description_free(offer);
}

static void pc_add_candidate(Pc *pc, guint mline, const char *cand)
{
  if (cand && *cand)
    g_signal_emit_by_name(pc->webrtc, "add-ice-candidate", mline, cand);
}

/* Pushes the frames that are due to every sending publisher (30 fps video, 50/s audio). */
static gboolean send_tick(gpointer data)
{
  (void)data;
  gint64 now = g_get_monotonic_time();
  for (guint i = 0; i < G.pub_pcs->len; i++) {
    Pc *pc = g_ptr_array_index(G.pub_pcs, i);
    if (!pc->sending)
      continue;
    if (pc->start_us == 0)
      pc->start_us = now;
    gint64 el = now - pc->start_us;
    /* At most one skip a second, so that a receiver's PLI storm cannot turn the stream into
     * keyframes only. */
    if (g_atomic_int_get(&pc->want_key) && now - pc->last_jump_us > 1000000) {
      g_atomic_int_set(&pc->want_key, 0);
      pc->last_jump_us = now;
      guint n = G.video.frames->len;
      for (guint k = 0; k < n; k++) {
        GstBuffer *f = g_ptr_array_index(G.video.frames, (pc->video_pos + k) % n);
        if (!GST_BUFFER_FLAG_IS_SET(f, GST_BUFFER_FLAG_DELTA_UNIT)) {
          pc->video_pos = (pc->video_pos + k) % n;
          break;
        }
      }
    }
    while ((gint64)(pc->video_sent * G.video.frame_us) <= el) {
      GstBuffer *b = gst_buffer_copy(g_ptr_array_index(G.video.frames, pc->video_pos));
      pc->video_pos = (pc->video_pos + 1) % G.video.frames->len;
      pc->video_sent++;
      gst_app_src_push_buffer(GST_APP_SRC(pc->vsrc), b);
    }
    while ((gint64)(pc->audio_sent * G.audio.frame_us) <= el) {
      GstBuffer *b = gst_buffer_copy(g_ptr_array_index(G.audio.frames, pc->audio_pos));
      pc->audio_pos = (pc->audio_pos + 1) % G.audio.frames->len;
      pc->audio_sent++;
      gst_app_src_push_buffer(GST_APP_SRC(pc->asrc), b);
    }
  }
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------- ours */

static void ours_on_offer(Peer *peer, const char *name, const char *sdp_text)
{
  GstSDPMessage *sdp = NULL;
  if (gst_sdp_message_new_from_text(sdp_text, &sdp) != GST_SDP_OK) {
    g_atomic_pointer_add(&G.errors, 1);
    return;
  }
  Pc *pc = g_hash_table_lookup(peer->pcs, name);
  if (!pc) {
    gboolean publish = g_strcmp0(name, "pub") == 0;
    pc = pc_new(peer, name, publish);
    int opus_pt, vp8_pt;
    pc_learn_pts(pc, sdp, &opus_pt, &vp8_pt);
    if (publish) {
      /* Our branches in the offer's m-line order, so that each offered m-line finds its
       * transceiver by kind. */
      for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
        const char *kind = gst_sdp_media_get_media(gst_sdp_message_get_media(sdp, i));
        if (g_strcmp0(kind, "audio") == 0 && !pc->asrc)
          pc->asrc = add_branch(pc, FALSE, opus_pt >= 0 ? opus_pt : 111);
        else if (g_strcmp0(kind, "video") == 0 && !pc->vsrc)
          pc->vsrc = add_branch(pc, TRUE, vp8_pt >= 0 ? vp8_pt : 96);
      }
      g_ptr_array_add(G.pub_pcs, pc);
    }
    pc_start(pc);
  } else {
    pc_learn_pts(pc, sdp, NULL, NULL);
  }
  pc_take_offer(pc, sdp);
}

static void ours_message(Peer *peer, json_t *msg)
{
  const char *type = json_string_value(json_object_get(msg, "type"));
  if (!type)
    return;
  if (strcmp(type, "waiting_room") == 0 && !peer->admitted) {
    json_t *pats = json_object_get(msg, "patients");
    size_t i;
    json_t *p;
    json_array_foreach(pats, i, p)
    {
      if (json_integer_value(json_object_get(p, "appointment_id")) == peer->appointment) {
        peer->admitted = TRUE;
        ws_send(peer, json_pack("{s:s, s:I}", "type", "admit", "appointment_id",
                                (json_int_t)peer->appointment));
        break;
      }
    }
  } else if (strcmp(type, "offer") == 0) {
    ours_on_offer(peer, json_string_value(json_object_get(msg, "pc")),
                  json_string_value(json_object_get(msg, "sdp")));
  } else if (strcmp(type, "candidate") == 0) {
    Pc *pc = g_hash_table_lookup(peer->pcs, json_string_value(json_object_get(msg, "pc")));
    if (pc)
      pc_add_candidate(pc, json_integer_value(json_object_get(msg, "sdpMLineIndex")),
                       json_string_value(json_object_get(msg, "candidate")));
  } else if (strcmp(type, "error") == 0) {
    g_printerr("loadgen: consultation %d %s: error %s\n", peer->consultation, peer->role,
               json_string_value(json_object_get(msg, "code")));
    g_atomic_pointer_add(&G.errors, 1);
  }
}

/* ---------------------------------------------------------------- janus */

static void janus_attach(Peer *peer, const char *what)
{
  json_t *m = janus_msg(peer, "attach", what);
  json_object_set_new(m, "plugin", json_string("janus.plugin.videoroom"));
  ws_send(peer, m);
}

static void janus_body(Peer *peer, guint64 handle, const char *what, json_t *body)
{
  json_t *m = janus_msg(peer, "message", what);
  json_object_set_new(m, "handle_id", json_integer((json_int_t)handle));
  json_object_set_new(m, "body", body);
  ws_send(peer, m);
}

static void janus_publish(Peer *peer)
{
  Pc *pc = pc_new(peer, "pub", TRUE);
  pc->janus_handle = peer->jpub->janus_handle; /* placeholder Pc replaced below */
  g_free(peer->jpub->name);
  g_free(peer->jpub);
  peer->jpub = pc;
  pc->asrc = add_branch(pc, FALSE, 111);
  pc->vsrc = add_branch(pc, TRUE, 96);
  /* Janus answers what we offer; learn our own payload types for nothing: a publisher pc only
   * receives RTCP. */
  GArray *trs = NULL;
  g_signal_emit_by_name(pc->webrtc, "get-transceivers", &trs);
  for (guint i = 0; trs && i < trs->len; i++) {
    GstWebRTCRTPTransceiver *t = g_array_index(trs, GstWebRTCRTPTransceiver *, i);
    g_object_set(t, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
  }
  if (trs)
    g_array_unref(trs);
  g_ptr_array_add(G.pub_pcs, pc);
  pc_start(pc);
  pc_promise(pc, 2, "create-offer", NULL);
}

static void janus_subscribe(Peer *peer, guint64 feed)
{
  if (peer->sub_feed || feed == peer->feed)
    return;
  peer->sub_feed = feed;
  janus_attach(peer, "attach-sub");
}

static void janus_publishers(Peer *peer, json_t *list)
{
  size_t i;
  json_t *p;
  json_array_foreach(list, i, p)
  {
    guint64 id = (guint64)json_integer_value(json_object_get(p, "id"));
    if (id && id != peer->feed)
      janus_subscribe(peer, id);
  }
}

static Pc *janus_pc_by_handle(Peer *peer, guint64 h)
{
  if (peer->jpub && peer->jpub->janus_handle == h)
    return peer->jpub;
  if (peer->jsub && peer->jsub->janus_handle == h)
    return peer->jsub;
  return NULL;
}

static void janus_message(Peer *peer, json_t *msg)
{
  const char *kind = json_string_value(json_object_get(msg, "janus"));
  const char *txn = json_string_value(json_object_get(msg, "transaction"));
  const char *what = txn ? g_hash_table_lookup(peer->txn, txn) : NULL;
  if (!kind)
    return;
  if (strcmp(kind, "ack") == 0 || strcmp(kind, "webrtcup") == 0 || strcmp(kind, "media") == 0)
    return;
  if (strcmp(kind, "error") == 0) {
    g_printerr("loadgen: janus error for %s: %s\n", what ? what : "?",
               json_string_value(json_object_get(json_object_get(msg, "error"), "reason")));
    g_atomic_pointer_add(&G.errors, 1);
    return;
  }
  if (strcmp(kind, "success") == 0 && what) {
    guint64 id = (guint64)json_integer_value(json_object_get(json_object_get(msg, "data"), "id"));
    if (strcmp(what, "create") == 0) {
      peer->session = id;
      janus_attach(peer, "attach-pub");
    } else if (strcmp(what, "attach-pub") == 0) {
      peer->jpub = g_new0(Pc, 1);
      peer->jpub->name = g_strdup("pub-handle");
      peer->jpub->janus_handle = id;
      /* Both participants ask to create the room; the second gets "already exists". */
      janus_body(peer, id, "room-create",
                 json_pack("{s:s, s:I, s:i, s:s, s:s, s:i, s:i, s:b}", "request", "create", "room",
                           (json_int_t)peer->room, "publishers", 4, "audiocodec", "opus",
                           "videocodec", "vp8", "bitrate", 0, "fir_freq", 10,
                           "transport_wide_cc_ext", 1));
    } else if (strcmp(what, "room-create") == 0) {
      janus_body(peer, peer->jpub->janus_handle, "join-pub",
                 json_pack("{s:s, s:s, s:I, s:s}", "request", "join", "ptype", "publisher", "room",
                           (json_int_t)peer->room, "display", "participant"));
    } else if (strcmp(what, "attach-sub") == 0) {
      Pc *pc = pc_new(peer, "sub", FALSE);
      pc->janus_handle = id;
      peer->jsub = pc;
      pc_start(pc);
      janus_body(peer, id, "join-sub",
                 json_pack("{s:s, s:s, s:I, s:[{s:I}], s:I}", "request", "join", "ptype",
                           "subscriber", "room", (json_int_t)peer->room, "streams", "feed",
                           (json_int_t)peer->sub_feed, "private_id", (json_int_t)peer->private_id));
    }
    return;
  }
  guint64 sender = (guint64)json_integer_value(json_object_get(msg, "sender"));
  if (strcmp(kind, "trickle") == 0) {
    Pc *pc = janus_pc_by_handle(peer, sender);
    json_t *c = json_object_get(msg, "candidate");
    if (pc && pc->webrtc && c && !json_object_get(c, "completed"))
      pc_add_candidate(pc, json_integer_value(json_object_get(c, "sdpMLineIndex")),
                       json_string_value(json_object_get(c, "candidate")));
    return;
  }
  if (strcmp(kind, "event") != 0)
    return;
  json_t *data = json_object_get(json_object_get(msg, "plugindata"), "data");
  json_t *jsep = json_object_get(msg, "jsep");
  const char *vr = json_string_value(json_object_get(data, "videoroom"));
  if (json_object_get(data, "error")) {
    /* room-create's "already exists" comes as an event too (error_code 427). */
    if (what && strcmp(what, "room-create") == 0) {
      janus_body(peer, peer->jpub->janus_handle, "join-pub",
                 json_pack("{s:s, s:s, s:I, s:s}", "request", "join", "ptype", "publisher", "room",
                           (json_int_t)peer->room, "display", "participant"));
      return;
    }
    g_printerr("loadgen: janus: %s\n", json_string_value(json_object_get(data, "error")));
    g_atomic_pointer_add(&G.errors, 1);
    return;
  }
  if (vr && strcmp(vr, "created") == 0 && what && strcmp(what, "room-create") == 0) {
    janus_body(peer, peer->jpub->janus_handle, "join-pub",
               json_pack("{s:s, s:s, s:I, s:s}", "request", "join", "ptype", "publisher", "room",
                         (json_int_t)peer->room, "display", "participant"));
    return;
  }
  if (vr && strcmp(vr, "joined") == 0) {
    peer->feed = (guint64)json_integer_value(json_object_get(data, "id"));
    peer->private_id = (guint64)json_integer_value(json_object_get(data, "private_id"));
    janus_publish(peer);
    janus_publishers(peer, json_object_get(data, "publishers"));
    return;
  }
  if (json_object_get(data, "publishers"))
    janus_publishers(peer, json_object_get(data, "publishers"));
  if (jsep) {
    const char *type = json_string_value(json_object_get(jsep, "type"));
    const char *sdp_text = json_string_value(json_object_get(jsep, "sdp"));
    Pc *pc = janus_pc_by_handle(peer, sender);
    GstSDPMessage *sdp = NULL;
    if (!pc || !pc->webrtc || !type || !sdp_text ||
        gst_sdp_message_new_from_text(sdp_text, &sdp) != GST_SDP_OK) {
      g_atomic_pointer_add(&G.errors, 1);
      return;
    }
    if (g_getenv("MW_LOADGEN_SDP"))
      g_printerr("loadgen: consultation %d janus %s %s:\n%s\n", peer->consultation, pc->name, type,
                 sdp_text);
    if (strcmp(type, "offer") == 0) {
      pc_learn_pts(pc, sdp, NULL, NULL);
      pc_take_offer(pc, sdp);
    } else {
      GstWebRTCSessionDescription *ans =
          gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
      g_signal_emit_by_name(pc->webrtc, "set-remote-description", ans, NULL);
      gst_webrtc_session_description_free(ans);
    }
  }
}

static gboolean janus_keepalive(gpointer data)
{
  Peer *peer = data;
  if (peer->session)
    ws_send(peer, janus_msg(peer, "keepalive", "keepalive"));
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------- WebSocket */

static void ws_on_message(SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer data)
{
  (void)ws;
  Peer *peer = data;
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  gsize len;
  const char *text = g_bytes_get_data(bytes, &len);
  json_error_t err;
  json_t *msg = json_loadb(text, len, 0, &err);
  if (!msg)
    return;
  if (g_strcmp0(peer->role, "janus") == 0)
    janus_message(peer, msg);
  else
    ours_message(peer, msg);
  json_decref(msg);
}

static void ws_on_closed(SoupWebsocketConnection *ws, gpointer data)
{
  Peer *peer = data;
  g_printerr("loadgen: consultation %d %s: websocket closed (%u)\n", peer->consultation, peer->role,
             soup_websocket_connection_get_close_code(ws));
  g_atomic_pointer_add(&G.errors, 1);
}

static gboolean accept_any_cert(SoupMessage *msg, GTlsCertificate *cert,
                                GTlsCertificateFlags errors, gpointer data)
{
  (void)msg;
  (void)cert;
  (void)errors;
  (void)data;
  return TRUE; /* the daemon's self-signed certificate, inside the test namespace */
}

static void ws_connected(GObject *src, GAsyncResult *res, gpointer data)
{
  Peer *peer = data;
  g_autoptr(GError) error = NULL;
  peer->ws = soup_session_websocket_connect_finish(SOUP_SESSION(src), res, &error);
  if (!peer->ws) {
    g_printerr("loadgen: consultation %d %s: websocket: %s\n", peer->consultation, peer->role,
               error->message);
    g_atomic_pointer_add(&G.errors, 1);
    return;
  }
  soup_websocket_connection_set_max_incoming_payload_size(peer->ws, 1 << 20);
  soup_websocket_connection_set_keepalive_interval(peer->ws, 0);
  g_signal_connect(peer->ws, "message", G_CALLBACK(ws_on_message), peer);
  g_signal_connect(peer->ws, "closed", G_CALLBACK(ws_on_closed), peer);
  if (g_strcmp0(peer->role, "janus") == 0) {
    ws_send(peer, janus_msg(peer, "create", "create"));
    g_timeout_add_seconds(25, janus_keepalive, peer);
  } else if (peer->token) {
    ws_send(peer, json_pack("{s:s, s:s}", "type", "hello", "token", peer->token));
  } else {
    ws_send(peer, json_pack("{s:s}", "type", "hello"));
  }
}

static void ws_open(Peer *peer, const char *cookie)
{
  g_autofree char *url = NULL;
  const char *proto_ours[] = {"mashwara.v1", NULL};
  const char *proto_janus[] = {"janus-protocol", NULL};
  gboolean janus = g_strcmp0(peer->role, "janus") == 0;
  if (janus)
    url = g_strdup(G.url);
  else
    url = g_strdup_printf("wss://%s/ws", G.url + strlen("https://"));
  SoupMessage *msg = soup_message_new("GET", url);
  g_signal_connect(msg, "accept-certificate", G_CALLBACK(accept_any_cert), NULL);
  if (cookie)
    soup_message_headers_append(soup_message_get_request_headers(msg), "Cookie", cookie);
  soup_session_websocket_connect_async(G.soup, msg, NULL,
                                       (char **)(janus ? proto_janus : proto_ours),
                                       G_PRIORITY_DEFAULT, NULL, ws_connected, peer);
  g_object_unref(msg);
}

static Peer *peer_new(int consultation, const char *role)
{
  Peer *peer = g_new0(Peer, 1);
  peer->consultation = consultation;
  peer->role = g_strdup(role);
  peer->pcs = g_hash_table_new(g_str_hash, g_str_equal);
  peer->txn = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  peer->join_us = g_get_monotonic_time();
  g_ptr_array_add(G.peers, peer);
  return peer;
}

static void login_done(GObject *src, GAsyncResult *res, gpointer data)
{
  Peer *peer = data;
  g_autoptr(GError) error = NULL;
  SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(src), res);
  g_autoptr(GBytes) body = soup_session_send_and_read_finish(SOUP_SESSION(src), res, &error);
  if (!body || soup_message_get_status(msg) != 200) {
    g_printerr("loadgen: consultation %d: login failed (%u)\n", peer->consultation,
               msg ? soup_message_get_status(msg) : 0);
    g_atomic_pointer_add(&G.errors, 1);
    return;
  }
  GSList *cookies = soup_cookies_from_response(msg);
  g_autofree char *cookie = NULL;
  for (GSList *l = cookies; l; l = l->next)
    if (g_strcmp0(soup_cookie_get_name(l->data), "mw_session") == 0)
      cookie = g_strdup_printf("mw_session=%s", soup_cookie_get_value(l->data));
  g_slist_free_full(cookies, (GDestroyNotify)soup_cookie_free);
  if (!cookie) {
    g_printerr("loadgen: consultation %d: no session cookie\n", peer->consultation);
    g_atomic_pointer_add(&G.errors, 1);
    return;
  }
  ws_open(peer, cookie);
}

static void add_ours(int n, const char *token, const char *user, const char *pass, gint64 appt)
{
  Peer *pat = peer_new(n, "patient");
  pat->token = g_strdup(token);
  ws_open(pat, NULL);
  Peer *doc = peer_new(n, "doctor");
  doc->username = g_strdup(user);
  doc->password = g_strdup(pass);
  doc->appointment = appt;
  g_autofree char *url = g_strdup_printf("%s/api/login", G.url);
  SoupMessage *msg = soup_message_new("POST", url);
  g_signal_connect(msg, "accept-certificate", G_CALLBACK(accept_any_cert), NULL);
  json_t *b = json_pack("{s:s, s:s}", "username", user, "password", pass);
  char *text = json_dumps(b, JSON_COMPACT);
  json_decref(b);
  g_autoptr(GBytes) body = g_bytes_new_take(text, strlen(text));
  soup_message_set_request_body_from_bytes(msg, "application/json", body);
  soup_session_send_and_read_async(G.soup, msg, G_PRIORITY_DEFAULT, NULL, login_done, doc);
  g_object_unref(msg);
}

static void add_janus(int n, guint64 room)
{
  for (int i = 0; i < 2; i++) {
    Peer *p = peer_new(n, "janus");
    p->room = room;
    ws_open(p, NULL);
  }
}

/* ---------------------------------------------------------------- control */

static gint64 hist_pct(double q)
{
  if (G.hist_n == 0)
    return -1;
  guint64 want = (guint64)(q * (double)G.hist_n);
  guint64 acc = 0;
  for (guint b = 0; b < HIST_US_MAX / HIST_STEP_US; b++) {
    acc += G.hist[b];
    if (acc > want)
      return (gint64)b * HIST_STEP_US + HIST_STEP_US / 2;
  }
  return HIST_US_MAX;
}

static void report(void)
{
  guint64 expected = 0, received = 0;
  for (guint i = 0; i < G.peers->len; i++) {
    Peer *peer = g_ptr_array_index(G.peers, i);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, peer->pcs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
      Pc *pc = v;
      g_mutex_lock(&pc->lock);
      for (int s = 0; s < MAX_STREAMS; s++) {
        if (!pc->streams[s].init)
          continue;
        expected += pc->streams[s].cycles + pc->streams[s].max_seq - pc->streams[s].base + 1;
        received += pc->streams[s].received;
      }
      g_mutex_unlock(&pc->lock);
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
  g_mutex_lock(&G.hist_lock);
  gint64 p50 = hist_pct(0.50), p99 = hist_pct(0.99);
  guint64 n = G.hist_n;
  memset(G.hist, 0, sizeof(guint32) * (HIST_US_MAX / HIST_STEP_US));
  G.hist_n = 0;
  g_mutex_unlock(&G.hist_lock);
  GString *ff = g_string_new("[");
  g_mutex_lock(&G.ff_lock);
  for (guint i = 0; i < G.first_frame_ms->len; i++)
    g_string_append_printf(ff, "%s%" G_GINT64_FORMAT, i ? "," : "",
                           g_array_index(G.first_frame_ms, gint64, i));
  g_array_set_size(G.first_frame_ms, 0);
  g_mutex_unlock(&G.ff_lock);
  g_string_append_c(ff, ']');
  printf("{\"t\":%.3f,\"consultations\":%d,\"peers\":%u,\"pcs_connected\":%d,"
         "\"tx_packets\":%" G_GINT64_FORMAT ",\"rx_packets\":%" G_GUINT64_FORMAT
         ",\"rx_expected\":%" G_GUINT64_FORMAT ",\"marked_rx\":%" G_GINT64_FORMAT
         ",\"unmarked_rx\":%" G_GINT64_FORMAT ",\"delay_n\":%" G_GUINT64_FORMAT
         ",\"delay_p50_us\":%" G_GINT64_FORMAT ",\"delay_p99_us\":%" G_GINT64_FORMAT
         ",\"first_frame_ms\":%s,\"cpu_s\":%.3f,\"errors\":%" G_GINT64_FORMAT "}\n",
         (g_get_monotonic_time() - G.t0) / 1e6, G.consultations, G.peers->len,
         g_atomic_int_get(&G.pcs_connected), (gint64)g_atomic_pointer_get(&G.tx_packets), received,
         expected, (gint64)g_atomic_pointer_get(&G.marked_rx),
         (gint64)g_atomic_pointer_get(&G.unmarked_rx), n, p50, p99, ff->str, cpu,
         (gint64)g_atomic_pointer_get(&G.errors));
  fflush(stdout);
  g_string_free(ff, TRUE);
}

/* Diagnostics: every receiving stream's counters, on stderr. */
static void dump(void)
{
  for (guint i = 0; i < G.peers->len; i++) {
    Peer *peer = g_ptr_array_index(G.peers, i);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, peer->pcs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
      Pc *pc = v;
      g_mutex_lock(&pc->lock);
      for (int s = 0; s < MAX_STREAMS; s++) {
        Stream *st = &pc->streams[s];
        if (st->init)
          g_printerr("dump: consultation %d %s %s ssrc %08x pt %u received %" G_GUINT64_FORMAT
                     " expected %" G_GUINT64_FORMAT "\n",
                     peer->consultation, peer->role, pc->name, st->ssrc, st->pt, st->received,
                     st->cycles + st->max_seq - st->base + 1);
      }
      g_mutex_unlock(&pc->lock);
    }
  }
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer data)
{
  (void)data;
  (void)cond;
  g_autofree char *line = NULL;
  gsize len = 0;
  GIOStatus st = g_io_channel_read_line(ch, &line, &len, NULL, NULL);
  if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR) {
    g_main_loop_quit(G.loop);
    return G_SOURCE_REMOVE;
  }
  if (!line)
    return G_SOURCE_CONTINUE;
  g_strstrip(line);
  g_auto(GStrv) f = g_strsplit(line, " ", 0);
  guint n = g_strv_length(f);
  if (n >= 1 && strcmp(f[0], "report") == 0) {
    report();
  } else if (n >= 1 && strcmp(f[0], "dump") == 0) {
    dump();
  } else if (n >= 1 && strcmp(f[0], "quit") == 0) {
    g_main_loop_quit(G.loop);
  } else if (n == 6 && strcmp(f[0], "add") == 0 && strcmp(f[1], "ours") == 0) {
    add_ours(++G.consultations, f[2], f[3], f[4], g_ascii_strtoll(f[5], NULL, 10));
  } else if (n == 3 && strcmp(f[0], "add") == 0 && strcmp(f[1], "janus") == 0) {
    add_janus(++G.consultations, g_ascii_strtoull(f[2], NULL, 10));
  } else if (n > 0 && *f[0]) {
    g_printerr("loadgen: unknown command: %s\n", line);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean on_deadline(gpointer data)
{
  (void)data;
  g_printerr("loadgen: --max-seconds reached, stopping\n");
  g_main_loop_quit(G.loop);
  return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data)
{
  (void)data;
  g_main_loop_quit(G.loop);
  return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
  int max_seconds = 900;
  g_autofree char *url = NULL, *media_dir = NULL;
  GOptionEntry entries[] = {
      {"url", 0, 0, G_OPTION_ARG_STRING, &url,
       "Server: https://HOST:PORT (ours) or ws://HOST:PORT (janus)", "URL"},
      {"media-dir", 0, 0, G_OPTION_ARG_FILENAME, &media_dir,
       "Folder with video.webm (VP8) and audio.ogg (Opus)", "DIR"},
      {"max-seconds", 0, 0, G_OPTION_ARG_INT, &max_seconds, "Stop after this long (900)", "N"},
      {NULL, 0, 0, 0, NULL, NULL, NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("— relay benchmark load generator");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_add_group(ctx, gst_init_get_option_group());
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    g_printerr("mw-loadgen: %s\n", error->message);
    return 2;
  }
  if (!url || !media_dir) {
    g_printerr("mw-loadgen: --url and --media-dir are required\n");
    return 2;
  }
  gst_init(NULL, NULL);
  G.url = url;
  G.media_dir = media_dir;
  G.peers = g_ptr_array_new();
  G.pub_pcs = g_ptr_array_new();
  G.ring_id = g_new0(guint64, RING_SIZE);
  G.ring_t = g_new0(gint64, RING_SIZE);
  G.hist = g_new0(guint32, HIST_US_MAX / HIST_STEP_US);
  G.first_frame_ms = g_array_new(FALSE, FALSE, sizeof(gint64));
  G.t0 = g_get_monotonic_time();

  g_autofree char *vdesc = g_strdup_printf(
      "filesrc location=\"%s/video.webm\" ! matroskademux ! appsink name=out sync=false",
      media_dir);
  g_autofree char *adesc =
      g_strdup_printf("filesrc location=\"%s/audio.ogg\" ! oggdemux ! opusparse ! appsink "
                      "name=out sync=false",
                      media_dir);
  if (!media_load(&G.video, vdesc, &error) || !media_load(&G.audio, adesc, &error)) {
    g_printerr("mw-loadgen: media: %s\n", error->message);
    return 1;
  }
  G.video.frame_us = 1000000 / 30;
  G.audio.frame_us = 20000;
  g_printerr("mw-loadgen: %u video frames, %u audio frames loaded\n", G.video.frames->len,
             G.audio.frames->len);

  G.soup = soup_session_new_with_options("timeout", 30, "max-conns", 4096, "max-conns-per-host",
                                         4096, NULL);
  G.loop = g_main_loop_new(NULL, FALSE);
  GIOChannel *in = g_io_channel_unix_new(0);
  g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  g_timeout_add(5, send_tick, NULL);
  g_timeout_add_seconds(max_seconds, on_deadline, NULL);
  g_unix_signal_add(SIGTERM, on_signal, NULL);
  g_unix_signal_add(SIGINT, on_signal, NULL);
  printf("{\"ready\":true}\n");
  fflush(stdout);
  g_main_loop_run(G.loop);

  /* Tear down: stop every pipeline (closes the peer connections). */
  for (guint i = 0; i < G.peers->len; i++) {
    Peer *peer = g_ptr_array_index(G.peers, i);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, peer->pcs);
    while (g_hash_table_iter_next(&it, &k, &v))
      gst_element_set_state(((Pc *)v)->pipeline, GST_STATE_NULL);
    if (peer->ws && soup_websocket_connection_get_state(peer->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(peer->ws, 1000, NULL);
  }
  g_io_channel_unref(in);
  return 0;
}
