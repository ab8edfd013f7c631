/* test-sfu.c — the relay with real media on loopback, no mocks.
 *
 * Each "browser" is a client-side webrtcbin in this process (one GstPipeline per participant):
 * its publish connection sends videotestsrc/VP8 and audiotestsrc/Opus; its subscriptions decode
 * VP8 and count Opus packets. There is no signaling server: the room's callbacks hand offers and
 * candidates straight to the clients, and the clients' answers and candidates go back through
 * the sfu_ API. Everything signaling-like runs on the default main context (the test's thread);
 * client webrtcbins call back on their own threads and post to it with g_idle_add. */
#include "sfu.h"

#include <stdatomic.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#define GST_USE_UNSTABLE_API
#include <gst/webrtc/webrtc.h>
#include <nice/agent.h>

/* The relay's payload type for Opus (sfu.c), which its offers give the clients' encoders. */
#define OPUS_PT 111

typedef struct Client Client;

typedef struct {
  Client *client;
  char *pc_id;
  GstElement *webrtc;
  gint video_frames;    /* decoded (atomic) */
  gint audio_packets;   /* received (atomic) */
  gint audio_marked;    /* ... of them with the marker bit set (atomic) */
  gint twcc_feedback;   /* transport-wide feedback packets received (atomic) */
  gint rtp_packets;     /* RTP packets its rtpsession received (atomic) */
  gint twcc_packets;    /* ... of them with a transport-wide number (extension id 3) */
  gint audio_redundant; /* ... of them RED with a redundant Opus block before the primary */
  _Atomic gint64 first_frame_us; /* monotonic time of the first decoded frame, 0 = none */
  gint64 connected_us;           /* when the relay reported this pc connected (main thread) */
} ClientPc;

typedef struct {
  SfuRelay *relay;
  SfuRoom *room;
  GHashTable *clients; /* participant id -> Client* */
  guint offers;
  guint failures;
  guint candidates;       /* relay candidates seen */
  guint tcp_passive;      /* ... of them with "tcptype passive" (ICE-TCP) */
  guint tcp_passive_port; /* the last one's port */
  guint want_pcs;         /* for pcs_reached() */
} Harness;

struct Client {
  Harness *h;
  char *id;
  GstElement *pipeline;
  GHashTable *pcs;             /* pc id -> ClientPc* */
  gint keyframe_requests;      /* force-key-unit events that reached the encoder (atomic) */
  gint video_blocked;          /* its camera sends nothing while set (atomic) */
  gint drop_keyframe_requests; /* how many of the next ones the encoder ignores (atomic) */
};

/* ---------------------------------------------------------------------------------------- */

static void restrict_to_loopback(GstElement *webrtc)
{
  GstWebRTCICE *ice = NULL;
  NiceAgent *agent = NULL;
  g_object_get(webrtc, "ice-agent", &ice, NULL);
  g_object_get(ice, "agent", &agent, NULL);
  g_object_set(agent, "upnp", FALSE, NULL);
  NiceAddress addr;
  nice_address_init(&addr);
  g_assert_true(nice_address_set_from_string(&addr, "127.0.0.1"));
  g_assert_true(nice_agent_add_local_address(agent, &addr));
  g_object_unref(agent);
  gst_object_unref(ice);
}

typedef struct {
  Harness *h;
  char *participant_id;
  char *pc_id;
  guint mline;
  char *candidate;
} ClientCandidate;

static void client_candidate_free(gpointer data)
{
  ClientCandidate *c = data;
  g_free(c->participant_id);
  g_free(c->pc_id);
  g_free(c->candidate);
  g_free(c);
}

static gboolean client_candidate_deliver(gpointer data)
{
  ClientCandidate *c = data;
  if (c->h->room && g_hash_table_contains(c->h->clients, c->participant_id)) {
    g_autoptr(GError) error = NULL;
    if (!sfu_room_add_candidate(c->h->room, c->participant_id, c->pc_id, c->mline, c->candidate,
                                &error))
      g_test_message("candidate for %s/%s refused: %s", c->participant_id, c->pc_id,
                     error->message);
  }
  return G_SOURCE_REMOVE;
}

/* client webrtcbin thread */
static void client_on_ice_candidate(GstElement *webrtc, guint mline, const char *candidate,
                                    gpointer data)
{
  ClientPc *cpc = data;
  ClientCandidate *c = g_new0(ClientCandidate, 1);
  c->h = cpc->client->h;
  c->participant_id = g_strdup(cpc->client->id);
  c->pc_id = g_strdup(cpc->pc_id);
  c->mline = mline;
  c->candidate = g_strdup(candidate);
  g_idle_add_full(G_PRIORITY_DEFAULT, client_candidate_deliver, c, client_candidate_free);
}

static GstPadProbeReturn frame_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  ClientPc *cpc = data;
  if (g_atomic_int_add(&cpc->video_frames, 1) == 0)
    atomic_store(&cpc->first_frame_us, g_get_monotonic_time());
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn audio_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  ClientPc *cpc = data;
  g_atomic_int_inc(&cpc->audio_packets);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (gst_rtp_buffer_map(GST_PAD_PROBE_INFO_BUFFER(info), GST_MAP_READ, &rtp)) {
    if (gst_rtp_buffer_get_marker(&rtp))
      g_atomic_int_inc(&cpc->audio_marked);
    gst_rtp_buffer_unmap(&rtp);
  }
  return GST_PAD_PROBE_OK;
}

/* client thread: RTCP feedback that reached the client's rtpsession */
static void client_on_feedback(GObject *session, guint type, guint fbtype, guint sender_ssrc,
                               guint media_ssrc, GstBuffer *fci, gpointer data)
{
  ClientPc *cpc = data;
  if (type == GST_RTCP_TYPE_RTPFB && fbtype == GST_RTCP_RTPFB_TYPE_TWCC)
    g_atomic_int_inc(&cpc->twcc_feedback);
}

/* client streaming thread: the camera, unless the test blocked it */
static GstPadProbeReturn camera_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Client *c = data;
  return g_atomic_int_get(&c->video_blocked) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

/* client streaming thread: a packet through the client's rtpsession (decrypted, RED not yet
 * unwrapped): does it carry a transport-wide sequence number under the id the relay offers? */
static GstPadProbeReturn rtp_in_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  ClientPc *cpc = data;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!(info->type & GST_PAD_PROBE_TYPE_BUFFER) ||
      !gst_rtp_buffer_map(GST_PAD_PROBE_INFO_BUFFER(info), GST_MAP_READ, &rtp))
    return GST_PAD_PROBE_OK;
  gpointer ext = NULL;
  guint size = 0;
  g_atomic_int_inc(&cpc->rtp_packets);
  if (gst_rtp_buffer_get_extension_onebyte_header(&rtp, 3, 0, &ext, &size) && size == 2)
    g_atomic_int_inc(&cpc->twcc_packets);
  /* RFC 2198: a first block header with F set is a redundant block; its PT is Opus's. */
  const guint8 *payload = gst_rtp_buffer_get_payload(&rtp);
  if (gst_rtp_buffer_get_payload_len(&rtp) > 4 && (payload[0] & 0x80) &&
      (payload[0] & 0x7f) == OPUS_PT)
    g_atomic_int_inc(&cpc->audio_redundant);
  gst_rtp_buffer_unmap(&rtp);
  return GST_PAD_PROBE_OK;
}

static void client_session_pad_added(GstElement *session, GstPad *pad, gpointer data)
{
  if (strcmp(GST_PAD_NAME(pad), "recv_rtp_src") == 0)
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, rtp_in_probe, data, NULL);
}

static void client_deep_element_added(GstBin *bin, GstBin *sub_bin, GstElement *element,
                                      gpointer data)
{
  GstElementFactory *f = gst_element_get_factory(element);
  if (f && strcmp(GST_OBJECT_NAME(f), "rtpsession") == 0) {
    g_signal_connect(element, "pad-added", G_CALLBACK(client_session_pad_added), data);
    GObject *session = NULL;
    g_object_get(element, "internal-session", &session, NULL);
    if (session) {
      g_signal_connect(session, "on-feedback-rtcp", G_CALLBACK(client_on_feedback), data);
      g_object_unref(session);
    }
  }
}

/* A transceiver made from the relay's offer accepts RED and ULPFEC, as a browser does (webrtcbin
 * answers without them otherwise). */
static void client_new_transceiver(GstElement *webrtc, GstWebRTCRTPTransceiver *trans,
                                   gpointer data)
{
  gst_util_set_object_arg(G_OBJECT(trans), "fec-type", "ulp-red");
}

/* client streaming thread: the relay's FIR (or a PLI) arriving at the encoder */
static GstPadProbeReturn encoder_event_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Client *c = data;
  if (!gst_video_event_is_force_key_unit(GST_PAD_PROBE_INFO_EVENT(info)))
    return GST_PAD_PROBE_OK;
  g_atomic_int_inc(&c->keyframe_requests);
  /* A request lost on the way (as a FIR in a dropped RTCP packet): the encoder never sees it. */
  gint left = g_atomic_int_get(&c->drop_keyframe_requests);
  if (left > 0 && g_atomic_int_compare_and_exchange(&c->drop_keyframe_requests, left, left - 1))
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_OK;
}

/* client streaming thread: what a browser's <video> does, minus the display */
static void client_on_pad_added(GstElement *webrtc, GstPad *pad, gpointer data)
{
  ClientPc *cpc = data;
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
    return;
  GstCaps *caps = gst_pad_get_current_caps(pad);
  if (!caps)
    caps = gst_pad_query_caps(pad, NULL);
  const char *media = gst_structure_get_string(gst_caps_get_structure(caps, 0), "media");
  GstElement *bin;
  if (g_strcmp0(media, "video") == 0) {
    bin = gst_parse_bin_from_description(
        "rtpvp8depay ! vp8dec name=dec ! fakesink sync=false async=false", TRUE, NULL);
    GstElement *dec = gst_bin_get_by_name(GST_BIN(bin), "dec");
    GstPad *src = gst_element_get_static_pad(dec, "src");
    gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, frame_probe, cpc, NULL);
    gst_object_unref(src);
    gst_object_unref(dec);
  } else {
    bin = gst_parse_bin_from_description("fakesink name=sink sync=false async=false", TRUE, NULL);
    GstPad *sink = gst_element_get_static_pad(bin, "sink");
    gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER, audio_probe, cpc, NULL);
    gst_object_unref(sink);
  }
  gst_caps_unref(caps);
  gst_bin_add(GST_BIN(cpc->client->pipeline), bin);
  gst_element_sync_state_with_parent(bin);
  GstPad *sink = gst_element_get_static_pad(bin, "sink");
  g_assert_cmpint(gst_pad_link(pad, sink), ==, GST_PAD_LINK_OK);
  gst_object_unref(sink);
}

static ClientPc *client_pc_new(Client *client, const char *pc_id, GstElement *webrtc)
{
  ClientPc *cpc = g_new0(ClientPc, 1);
  cpc->client = client;
  cpc->pc_id = g_strdup(pc_id);
  cpc->webrtc = webrtc;
  gst_util_set_object_arg(G_OBJECT(webrtc), "bundle-policy", "max-bundle");
  restrict_to_loopback(webrtc);
  g_signal_connect(webrtc, "on-ice-candidate", G_CALLBACK(client_on_ice_candidate), cpc);
  g_signal_connect(webrtc, "pad-added", G_CALLBACK(client_on_pad_added), cpc);
  g_signal_connect(webrtc, "deep-element-added", G_CALLBACK(client_deep_element_added), cpc);
  g_signal_connect(webrtc, "on-new-transceiver", G_CALLBACK(client_new_transceiver), cpc);
  g_hash_table_insert(client->pcs, cpc->pc_id, cpc);
  return cpc;
}

static void client_pc_free(gpointer data)
{
  ClientPc *cpc = data;
  g_free(cpc->pc_id);
  g_free(cpc);
}

static Client *client_new(Harness *h, const char *id)
{
  Client *c = g_new0(Client, 1);
  c->h = h;
  c->id = g_strdup(id);
  c->pcs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, client_pc_free);
  /* keyframe-max-dist is 100 s: every keyframe after the first comes from a PLI. */
  g_autoptr(GError) error = NULL;
  c->pipeline = gst_parse_launch(
      "webrtcbin name=pub "
      "audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=48000,channels=1 ! opusenc ! "
      "rtpopuspay pt=111 ! queue leaky=downstream max-size-buffers=20 ! "
      "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,"
      "extmap-3=(string)http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
      " ! pub.sink_0 "
      "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! "
      "identity name=camera ! vp8enc name=enc deadline=1 keyframe-max-dist=3000 "
      "target-bitrate=400000 ! "
      "rtpvp8pay pt=96 ! "
      "queue leaky=downstream max-size-buffers=20 ! "
      "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000,"
      "extmap-3=(string)http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
      " ! pub.sink_1",
      &error);
  g_assert_no_error(error);
  GstElement *enc = gst_bin_get_by_name(GST_BIN(c->pipeline), "enc");
  GstPad *enc_src = gst_element_get_static_pad(enc, "src");
  gst_pad_add_probe(enc_src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, encoder_event_probe, c, NULL);
  gst_object_unref(enc_src);
  gst_object_unref(enc);
  GstElement *camera = gst_bin_get_by_name(GST_BIN(c->pipeline), "camera");
  GstPad *camera_src = gst_element_get_static_pad(camera, "src");
  gst_pad_add_probe(camera_src, GST_PAD_PROBE_TYPE_BUFFER, camera_probe, c, NULL);
  gst_object_unref(camera_src);
  gst_object_unref(camera);
  GstElement *pub = gst_bin_get_by_name(GST_BIN(c->pipeline), "pub");
  client_pc_new(c, "pub", pub);
  gst_object_unref(pub); /* the pipeline holds it */
  for (int i = 0; i < 2; i++) {
    g_autofree char *name = g_strdup_printf("sink_%d", i);
    GstPad *pad = gst_element_get_static_pad(pub, name);
    g_assert_nonnull(pad);
    GstWebRTCRTPTransceiver *trans = NULL;
    g_object_get(pad, "transceiver", &trans, NULL);
    g_object_set(trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
    gst_object_unref(trans);
    gst_object_unref(pad);
  }
  g_assert_cmpint(gst_element_set_state(c->pipeline, GST_STATE_PLAYING), !=,
                  GST_STATE_CHANGE_FAILURE);
  g_hash_table_insert(h->clients, c->id, c);
  return c;
}

static void client_free(gpointer data)
{
  Client *c = data;
  gst_element_set_state(c->pipeline, GST_STATE_NULL);
  gst_object_unref(c->pipeline);
  g_hash_table_unref(c->pcs);
  g_free(c->id);
  g_free(c);
}

/* The client side of one offer/answer, synchronously: client webrtcbins do not need this
 * thread to make progress, so waiting on their promises here is safe. */
static char *client_answer(ClientPc *cpc, const char *offer_sdp)
{
  GstSDPMessage *msg = NULL;
  gst_sdp_message_new_from_text(offer_sdp, &msg);
  GstWebRTCSessionDescription *offer =
      gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, msg);
  GstPromise *p = gst_promise_new();
  g_signal_emit_by_name(cpc->webrtc, "set-remote-description", offer, p);
  g_assert_cmpint(gst_promise_wait(p), ==, GST_PROMISE_RESULT_REPLIED);
  gst_promise_unref(p);
  gst_webrtc_session_description_free(offer);

  p = gst_promise_new();
  g_signal_emit_by_name(cpc->webrtc, "create-answer", NULL, p);
  g_assert_cmpint(gst_promise_wait(p), ==, GST_PROMISE_RESULT_REPLIED);
  GstWebRTCSessionDescription *answer = NULL;
  gst_structure_get(gst_promise_get_reply(p), "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                    &answer, NULL);
  gst_promise_unref(p);
  g_assert_nonnull(answer);

  p = gst_promise_new();
  g_signal_emit_by_name(cpc->webrtc, "set-local-description", answer, p);
  g_assert_cmpint(gst_promise_wait(p), ==, GST_PROMISE_RESULT_REPLIED);
  gst_promise_unref(p);
  char *text = gst_sdp_message_as_text(answer->sdp);
  gst_webrtc_session_description_free(answer);
  return text;
}

/* ---------------------------------------------------------------------------------------- */
/* Room callbacks (main thread)                                                              */

typedef struct {
  Harness *h;
  char *participant_id;
  char *pc_id;
  char *sdp;
} DelayedAnswer;

static void delayed_answer_free(gpointer data)
{
  DelayedAnswer *d = data;
  g_free(d->participant_id);
  g_free(d->pc_id);
  g_free(d->sdp);
  g_free(d);
}

static gboolean deliver_answer(gpointer data)
{
  DelayedAnswer *d = data;
  if (d->h->room && g_hash_table_contains(d->h->clients, d->participant_id)) {
    g_autoptr(GError) error = NULL;
    gboolean ok = sfu_room_set_answer(d->h->room, d->participant_id, d->pc_id, d->sdp, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
  }
  return G_SOURCE_REMOVE;
}

static void on_offer(gpointer user_data, const char *participant_id, const char *pc_id,
                     const char *sdp)
{
  Harness *h = user_data;
  h->offers++;
  Client *c = g_hash_table_lookup(h->clients, participant_id);
  if (!c)
    return;
  ClientPc *cpc = g_hash_table_lookup(c->pcs, pc_id);
  if (!cpc) {
    GstElement *webrtc = gst_element_factory_make("webrtcbin", NULL);
    cpc = client_pc_new(c, pc_id, webrtc);
    gst_bin_add(GST_BIN(c->pipeline), webrtc);
    gst_element_sync_state_with_parent(webrtc);
  }
  DelayedAnswer *d = g_new0(DelayedAnswer, 1);
  d->h = h;
  d->participant_id = g_strdup(participant_id);
  d->pc_id = g_strdup(pc_id);
  d->sdp = client_answer(cpc, sdp);
  /* b's answers reach the relay 300 ms late, after b's candidates: as over a slow signaling
   * path, where trickled candidates may overtake the answer. */
  if (strcmp(participant_id, "b") == 0)
    g_timeout_add_full(G_PRIORITY_DEFAULT, 300, deliver_answer, d, delayed_answer_free);
  else
    g_idle_add_full(G_PRIORITY_HIGH, deliver_answer, d, delayed_answer_free);
}

static void on_candidate(gpointer user_data, const char *participant_id, const char *pc_id,
                         guint mline_index, const char *candidate)
{
  Harness *h = user_data;
  /* The relay was told to gather on 127.0.0.1 only. */
  g_assert_nonnull(strstr(candidate, " 127.0.0.1 "));
  h->candidates++;
  if (strstr(candidate, " tcptype passive")) {
    g_auto(GStrv) f = g_strsplit(candidate, " ", -1);
    h->tcp_passive++;
    h->tcp_passive_port = g_strv_length(f) > 5 ? (guint)g_ascii_strtoull(f[5], NULL, 10) : 0;
  }
  Client *c = g_hash_table_lookup(h->clients, participant_id);
  ClientPc *cpc = c ? g_hash_table_lookup(c->pcs, pc_id) : NULL;
  if (cpc)
    g_signal_emit_by_name(cpc->webrtc, "add-ice-candidate", mline_index, candidate);
}

static void on_pc_state(gpointer user_data, const char *participant_id, const char *pc_id,
                        SfuPcState state)
{
  Harness *h = user_data;
  g_test_message("%s/%s: %s", participant_id, pc_id, sfu_pc_state_name(state));
  if (state == SFU_PC_FAILED)
    h->failures++;
  Client *c = g_hash_table_lookup(h->clients, participant_id);
  ClientPc *cpc = c ? g_hash_table_lookup(c->pcs, pc_id) : NULL;
  if (cpc && state == SFU_PC_CONNECTED && !cpc->connected_us)
    cpc->connected_us = g_get_monotonic_time();
}

static const SfuRoomCallbacks callbacks = {
    .offer = on_offer,
    .candidate = on_candidate,
    .pc_state = on_pc_state,
};

/* ---------------------------------------------------------------------------------------- */

static gboolean keep_ticking(gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean timed_out(gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until `done(h)` or `seconds` pass. */
static gboolean run_until(Harness *h, gboolean (*done)(Harness *), guint seconds)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds(seconds, timed_out, &expired);
  /* media counters change on streaming threads: wake up to look at them */
  guint tick = g_timeout_add(20, keep_ticking, NULL);
  while (!(done && done(h)) && !expired)
    g_main_context_iteration(NULL, TRUE);
  g_source_remove(tick);
  if (!expired)
    g_source_remove(id);
  return !expired;
}

static ClientPc *sub_of(Harness *h, const char *receiver, const char *publisher)
{
  Client *c = g_hash_table_lookup(h->clients, receiver);
  g_autofree char *pc_id = g_strdup_printf("sub:%s", publisher);
  return c ? g_hash_table_lookup(c->pcs, pc_id) : NULL;
}

static gint frames(Harness *h, const char *receiver, const char *publisher)
{
  ClientPc *cpc = sub_of(h, receiver, publisher);
  return cpc ? g_atomic_int_get(&cpc->video_frames) : 0;
}

static gint audio(Harness *h, const char *receiver, const char *publisher)
{
  ClientPc *cpc = sub_of(h, receiver, publisher);
  return cpc ? g_atomic_int_get(&cpc->audio_packets) : 0;
}

static gboolean two_way_media(Harness *h)
{
  return frames(h, "a", "b") >= 100 && frames(h, "b", "a") >= 100 && audio(h, "a", "b") >= 50 &&
         audio(h, "b", "a") >= 50;
}

static gboolean late_joiner_sees_both(Harness *h)
{
  ClientPc *from_a = sub_of(h, "c", "a"), *from_b = sub_of(h, "c", "b");
  /* The "connected" state reaches the main loop through an idle source, which may run after
   * the first frames: wait for both. */
  return from_a && from_b && from_a->connected_us > 0 && from_b->connected_us > 0 &&
         frames(h, "c", "a") >= 30 && frames(h, "c", "b") >= 30 && audio(h, "c", "a") > 0 &&
         audio(h, "c", "b") > 0;
}

static gboolean others_see_late_joiner(Harness *h)
{
  return frames(h, "a", "c") > 0 && frames(h, "b", "c") > 0;
}

/* The late joiner's first picture must come within a second. Under AddressSanitizer the
 * in-process VP8 encoders and decoders of three clients run several times slower on two cores,
 * and beside the unit suite's other tests both publishers once took over 2.5 s to answer five
 * keyframe requests (CI, 2026-12-06: 5.7 s; 0.3-1.2 s in seven runs after): that build checks
 * only that the picture comes (within run_until()'s 20 s) and that the relay asked again. The
 * figure is printed either way. */
#if !defined(__SANITIZE_ADDRESS__)
#define LATE_JOIN_MAX_MS 1000
#endif

static gint snapshot[2];

static gboolean kept_receiving(Harness *h)
{
  return frames(h, "a", "b") >= snapshot[0] + 60 && frames(h, "b", "a") >= snapshot[1] + 60;
}

static gboolean stats_zero(SfuRelay *relay)
{
  SfuRelayStats s;
  sfu_relay_get_stats(relay, &s);
  g_test_message("relay: %u rooms, %u pipelines, %u participants, %u peer connections", s.rooms,
                 s.pipelines, s.participants, s.peer_connections);
  return s.rooms == 0 && s.pipelines == 0 && s.participants == 0 && s.peer_connections == 0;
}

/* A removed webrtcbin is finalized once the state-change messages it posted on its way to NULL
 * have left the room's bus, i.e. after a turn of the main loop. */
static gboolean pcs_reached(Harness *h)
{
  SfuRelayStats s;
  sfu_relay_get_stats(h->relay, &s);
  return s.peer_connections == h->want_pcs;
}

static SfuRelay *relay_new(void)
{
  static const char *const addresses[] = {"127.0.0.1", NULL};
  SfuConfig config = {.ice_addresses = addresses};
  g_autoptr(GError) error = NULL;
  SfuRelay *relay = sfu_relay_new(&config, &error);
  g_assert_no_error(error);
  return relay;
}

static gint64 late_join_ms(Harness *h, const char *publisher)
{
  ClientPc *cpc = sub_of(h, "c", publisher);
  g_assert_nonnull(cpc);
  gint64 first = atomic_load(&cpc->first_frame_us);
  g_assert_cmpint(cpc->connected_us, >, 0);
  g_assert_cmpint(first, >, 0);
  return MAX(0, first - cpc->connected_us) / 1000;
}

static void test_call(void)
{
  Harness h = {0};
  h.relay = relay_new();
  h.clients = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, client_free);
  g_autoptr(GError) error = NULL;
  h.room = sfu_room_new(h.relay, "call", &callbacks, &h, &error);
  g_assert_no_error(error);

  /* Two participants: each decodes the other. */
  client_new(&h, "a");
  client_new(&h, "b");
  g_assert_true(sfu_room_add_participant(h.room, "a", &error));
  g_assert_true(sfu_room_add_participant(h.room, "b", &error));
  gint64 t0 = g_get_monotonic_time();
  gboolean media_ok = run_until(&h, two_way_media, 40);
  g_test_message("two-way media after %" G_GINT64_FORMAT " ms: a<-b %d frames %d audio, "
                 "b<-a %d frames %d audio",
                 (g_get_monotonic_time() - t0) / 1000, frames(&h, "a", "b"), audio(&h, "a", "b"),
                 frames(&h, "b", "a"), audio(&h, "b", "a"));
  SfuParticipantStats sa, sb;
  g_assert_true(sfu_room_get_participant_stats(h.room, "a", &sa));
  g_assert_true(sfu_room_get_participant_stats(h.room, "b", &sb));
  g_test_message("a: received %" G_GUINT64_FORMAT " forwarded %" G_GUINT64_FORMAT
                 " sent %" G_GUINT64_FORMAT "; b: received %" G_GUINT64_FORMAT
                 " forwarded %" G_GUINT64_FORMAT " sent %" G_GUINT64_FORMAT,
                 sa.packets_received, sa.packets_forwarded, sa.packets_sent, sb.packets_received,
                 sb.packets_forwarded, sb.packets_sent);
  g_assert_true(media_ok);
  g_assert_cmpuint(sa.packets_forwarded, >, 100);
  g_assert_cmpuint(sb.packets_forwarded, >, 100);
  g_assert_cmpuint(sa.packets_sent, >, 100);
  g_assert_cmpuint(sb.packets_received, >, 100);
  g_assert_cmpuint(sa.bytes_received, >, sa.packets_received);
  g_assert_cmpuint(sa.peer_connections, ==, 2);
  /* Each subscription's video arrives RED-wrapped (ULPFEC inside RED, share 0 on this clean
   * link) and still numbered for transport-cc: GStreamer 1.22.0's rtpredenc alone put the
   * extension under the wrong id, and no packet carried id 3. */
  for (int i = 0; i < 2; i++) {
    ClientPc *sub = sub_of(&h, i ? "b" : "a", i ? "a" : "b");
    if (!sub)
      g_error("no subscription pc");
    g_test_message("%s: %d RTP packets in, %d with a transport-wide number, %d audio RED with "
                   "a redundant block, of %d audio packets",
                   i ? "b<-a" : "a<-b", g_atomic_int_get(&sub->rtp_packets),
                   g_atomic_int_get(&sub->twcc_packets), g_atomic_int_get(&sub->audio_redundant),
                   g_atomic_int_get(&sub->audio_packets));
    g_assert_cmpint(g_atomic_int_get(&sub->twcc_packets), >, 50);
    /* Every leg's audio carries the previous packet again (the relay sets rtpredenc's distance
     * to 1): once a publisher's offer named RED's payload type only after webrtcbin had set it
     * on the encoder, and that leg sent Opus alone in RED (the patient's page received 63 bytes
     * a packet in bench/weak runs, against ~125 on the doctor's). */
    g_assert_cmpint(g_atomic_int_get(&sub->audio_redundant), >,
                    g_atomic_int_get(&sub->audio_packets) / 2);
  }
  SfuRoomStats rs;
  sfu_room_get_stats(h.room, &rs);
  g_assert_cmpuint(rs.participants, ==, 2);
  g_assert_cmpuint(rs.peer_connections, ==, 4);

  /* A late joiner sees a picture from both within a second of its subscriptions connecting:
   * the relay asks each publisher for a keyframe (their encoders make none by themselves, and
   * c's decoder asks only after a decoding error). a loses the relay's first request: the relay
   * sees no keyframe go to c and asks again. */
  Client *ca = g_hash_table_lookup(h.clients, "a");
  Client *cb = g_hash_table_lookup(h.clients, "b");
  g_atomic_int_set(&ca->drop_keyframe_requests, 1);
  gint requests_a = g_atomic_int_get(&ca->keyframe_requests);
  gint requests_b = g_atomic_int_get(&cb->keyframe_requests);
  client_new(&h, "c");
  g_assert_true(sfu_room_add_participant(h.room, "c", &error));
  g_assert_true(run_until(&h, late_joiner_sees_both, 20));
  gint64 from_a = late_join_ms(&h, "a"), from_b = late_join_ms(&h, "b");
  g_test_message("late joiner: first frame %" G_GINT64_FORMAT " ms (from a, first request lost) "
                 "and %" G_GINT64_FORMAT " ms (from b) after its subscription connected",
                 from_a, from_b);
#if defined(LATE_JOIN_MAX_MS)
  g_assert_cmpint(from_a, <=, LATE_JOIN_MAX_MS);
  g_assert_cmpint(from_b, <=, LATE_JOIN_MAX_MS);
#endif
  run_until(&h, NULL, 2);
  requests_a = g_atomic_int_get(&ca->keyframe_requests) - requests_a;
  requests_b = g_atomic_int_get(&cb->keyframe_requests) - requests_b;
  g_test_message("keyframe requests for c's join: %d to a, %d to b", requests_a, requests_b);
  g_assert_cmpint(g_atomic_int_get(&ca->drop_keyframe_requests), ==, 0);
  /* Bounded, no storm: the relay's request, its retries (at most 4, only while no keyframe has
   * gone to c) and c's decoder's own requests (PLIs), which also reach the encoder. */
  g_assert_cmpint(requests_a, >=, 2);
  g_assert_cmpint(requests_a, <=, 7);
  g_assert_cmpint(requests_b, >=, 1);
  g_assert_cmpint(requests_b, <=, 5);
  g_assert_true(run_until(&h, others_see_late_joiner, 10));
  SfuRelayStats st;
  sfu_relay_get_stats(h.relay, &st);
  g_assert_cmpuint(st.peer_connections, ==, 9);

  /* The late joiner leaves; the first two keep receiving each other. */
  sfu_room_remove_participant(h.room, "c");
  g_hash_table_remove(h.clients, "c");
  for (const char *const *r = (const char *const[]){"a", "b", NULL}; *r; r++) {
    Client *c = g_hash_table_lookup(h.clients, *r);
    ClientPc *cpc = g_hash_table_lookup(c->pcs, "sub:c");
    gst_element_set_state(cpc->webrtc, GST_STATE_NULL);
    gst_bin_remove(GST_BIN(c->pipeline), cpc->webrtc);
    g_hash_table_remove(c->pcs, "sub:c");
  }
  h.want_pcs = 4;
  g_assert_true(run_until(&h, pcs_reached, 5));
  sfu_relay_get_stats(h.relay, &st);
  g_assert_cmpuint(st.participants, ==, 2);
  snapshot[0] = frames(&h, "a", "b");
  snapshot[1] = frames(&h, "b", "a");
  g_assert_true(run_until(&h, kept_receiving, 10));
  g_test_message("after c left: a<-b %d frames (+%d), b<-a %d frames (+%d)", frames(&h, "a", "b"),
                 frames(&h, "a", "b") - snapshot[0], frames(&h, "b", "a"),
                 frames(&h, "b", "a") - snapshot[1]);
  g_assert_true(sfu_room_get_participant_stats(h.room, "a", &sa));
  g_assert_cmpuint(sa.peer_connections, ==, 2);
  g_assert_cmpuint(h.failures, ==, 0);

  sfu_room_free(g_steal_pointer(&h.room));
  g_assert_true(stats_zero(h.relay));
  g_hash_table_unref(h.clients);
  /* Clients' candidates and b's delayed answers still queued point at this stack frame: let
   * them run (they see h.room == NULL and do nothing) before it goes. */
  run_until(&h, NULL, 1);
  sfu_relay_free(h.relay);
}

static ClientPc *pub_of(Harness *h, const char *id)
{
  Client *c = g_hash_table_lookup(h->clients, id);
  return c ? g_hash_table_lookup(c->pcs, "pub") : NULL;
}

/* A publisher whose camera stops (it paused video, or the relay asked it to) still hears from
 * the relay's transport-wide feedback, which its congestion control needs to keep sending: a
 * browser that hears nothing for long holds its packets back, audio with them. GStreamer 1.22's
 * rtpsession sends feedback only at the end of a video frame; the relay marks an audio packet
 * for it at least every SFU_INGRESS_FEEDBACK_MS (100 ms), and the subscribers get that packet
 * unmarked, as it was sent. Before that change: no feedback at all once the video stopped. */
static void test_audio_feedback(void)
{
  Harness h = {0};
  h.relay = relay_new();
  h.clients = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, client_free);
  g_autoptr(GError) error = NULL;
  h.room = sfu_room_new(h.relay, "feedback", &callbacks, &h, &error);
  g_assert_no_error(error);
  Client *a = client_new(&h, "a");
  client_new(&h, "b");
  g_assert_true(sfu_room_add_participant(h.room, "a", &error));
  g_assert_true(sfu_room_add_participant(h.room, "b", &error));
  g_assert_true(run_until(&h, two_way_media, 40));

  g_atomic_int_set(&a->video_blocked, 1);
  run_until(&h, NULL, 1); /* what was on its way arrives */
  ClientPc *pub = pub_of(&h, "a"), *sub = sub_of(&h, "b", "a");
  g_assert_nonnull(pub);
  g_assert_nonnull(sub);
  gint fb0 = g_atomic_int_get(&pub->twcc_feedback);
  gint audio0 = g_atomic_int_get(&sub->audio_packets);
  gint marked0 = g_atomic_int_get(&sub->audio_marked);
  gint frames0 = frames(&h, "b", "a");
  run_until(&h, NULL, 3);
  gint fb = g_atomic_int_get(&pub->twcc_feedback) - fb0;
  gint audio_n = g_atomic_int_get(&sub->audio_packets) - audio0;
  gint marked = g_atomic_int_get(&sub->audio_marked) - marked0;
  g_test_message("a's camera off for 3 s: %d transport-wide feedback packets to a; b got %d audio "
                 "packets from a, %d with the marker bit, %d video frames",
                 fb, audio_n, marked, frames(&h, "b", "a") - frames0);
  g_assert_cmpint(frames(&h, "b", "a") - frames0, <=, 1); /* the camera is off indeed */
  /* ~10 a second; at least half of that even on a slow (sanitizer) build */
  g_assert_cmpint(fb, >=, 15);
  g_assert_cmpint(audio_n, >=, 100);
  g_assert_cmpint(marked, ==, 0);

  sfu_room_free(g_steal_pointer(&h.room));
  g_hash_table_unref(h.clients);
  run_until(&h, NULL, 1);
  g_assert_true(stats_zero(h.relay));
  sfu_relay_free(h.relay);
}

static gboolean has_offer(Harness *h)
{
  return h->offers >= 3;
}

static gboolean has_tcp_passive(Harness *h)
{
  return h->tcp_passive > 0;
}

static gboolean has_candidates(Harness *h)
{
  return h->candidates >= 1;
}

/* ICE-TCP is on by default (a browser whose network drops UDP connects to the passive TCP
 * candidate); disable_ice_tcp leaves UDP only. */
static void test_ice_tcp(void)
{
  for (int off = 0; off <= 1; off++) {
    static const char *const addresses[] = {"127.0.0.1", NULL};
    SfuConfig config = {
        .ice_addresses = addresses, .min_port = 41000, .max_port = 41099, .disable_ice_tcp = off};
    Harness h = {0};
    g_autoptr(GError) error = NULL;
    h.relay = sfu_relay_new(&config, &error);
    g_assert_no_error(error);
    h.clients = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, client_free);
    h.room = sfu_room_new(h.relay, "ice-tcp", &callbacks, &h, &error);
    g_assert_no_error(error);
    g_assert_true(sfu_room_add_participant(h.room, "p1", &error));
    g_assert_true(run_until(&h, off ? has_candidates : has_tcp_passive, 10));
    run_until(&h, NULL, 1); /* the rest of the gathering */
    g_test_message("ice-tcp %s: %u candidates, %u passive TCP", off ? "off" : "on", h.candidates,
                   h.tcp_passive);
    if (off)
      g_assert_cmpuint(h.tcp_passive, ==, 0);
    else
      g_assert_cmpuint(h.tcp_passive, >, 0);
    /* The passive TCP port comes from the media port range too (one range to open). */
    if (!off) {
      g_assert_cmpuint(h.tcp_passive_port, >=, 41000);
      g_assert_cmpuint(h.tcp_passive_port, <=, 41099);
    }
    sfu_room_free(g_steal_pointer(&h.room));
    run_until(&h, NULL, 1);
    g_assert_true(stats_zero(h.relay));
    g_hash_table_unref(h.clients);
    sfu_relay_free(h.relay);
  }
}

static void test_errors(void)
{
  Harness h = {0};
  h.relay = relay_new();
  h.clients = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, client_free);
  GError *error = NULL;
  h.room = sfu_room_new(h.relay, "errors", &callbacks, &h, &error);
  g_assert_no_error(error);

  /* No clients here: the relay's offers go unanswered. */
  const char *ids[] = {"p1", "p2", "p3", "p4"};
  for (guint i = 0; i < G_N_ELEMENTS(ids); i++)
    g_assert_true(sfu_room_add_participant(h.room, ids[i], &error));
  g_assert_false(sfu_room_add_participant(h.room, "p5", &error));
  g_assert_error(error, SFU_ERROR, SFU_ERROR_FULL);
  g_clear_error(&error);
  sfu_room_remove_participant(h.room, "p4");
  g_assert_false(sfu_room_add_participant(h.room, "p1", &error));
  g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID);
  g_clear_error(&error);

  g_assert_true(run_until(&h, has_offer, 10));
  g_assert_false(sfu_room_set_answer(h.room, "p1", "pub", "this is not SDP", &error));
  g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP);
  g_clear_error(&error);
  /* parses, but has one m-line where the offer had two */
  const char *one_mline = "v=0\r\no=- 1 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                          "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
                          "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
                          "a=fingerprint:sha-256 00:11\r\na=setup:active\r\na=mid:audio0\r\n"
                          "a=sendonly\r\na=rtpmap:111 OPUS/48000/2\r\n";
  g_assert_false(sfu_room_set_answer(h.room, "p1", "pub", one_mline, &error));
  g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP);
  g_clear_error(&error);

  g_assert_false(sfu_room_set_answer(h.room, "p1", "sub:nobody", one_mline, &error));
  g_assert_error(error, SFU_ERROR, SFU_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_assert_false(sfu_room_set_answer(h.room, "nobody", "pub", one_mline, &error));
  g_assert_error(error, SFU_ERROR, SFU_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_assert_false(sfu_room_add_candidate(h.room, "p1", "sub:p9", 0,
                                        "candidate:1 1 UDP 1 "
                                        "127.0.0.1 5000 typ host",
                                        &error));
  g_assert_error(error, SFU_ERROR, SFU_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_assert_false(sfu_room_add_candidate(h.room, "p1", "pub", 0, "bogus", &error));
  g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_true(sfu_room_add_candidate(h.room, "p1", "pub", 0, NULL, &error));
  g_assert_no_error(error);
  SfuParticipantStats ps;
  g_assert_false(sfu_room_get_participant_stats(h.room, "nobody", &ps));
  sfu_room_request_keyframe(h.room, "p1"); /* no media yet: harmless */
  sfu_room_remove_participant(h.room, "nobody");

  h.want_pcs = 3;
  g_assert_true(run_until(&h, pcs_reached, 5));
  SfuRelayStats st;
  sfu_relay_get_stats(h.relay, &st);
  g_assert_cmpuint(st.rooms, ==, 1);
  g_assert_cmpuint(st.pipelines, ==, 1);
  g_assert_cmpuint(st.participants, ==, 3);
  g_assert_cmpuint(st.peer_connections, ==, 3);

  sfu_room_free(g_steal_pointer(&h.room));
  /* events still queued for the freed room must not reach the callbacks */
  guint offers = h.offers;
  run_until(&h, NULL, 1);
  g_assert_cmpuint(h.offers, ==, offers);
  g_assert_true(stats_zero(h.relay));
  g_hash_table_unref(h.clients);
  sfu_relay_free(h.relay);
}

/* Open sockets of this process (its ICE agents' UDP and TCP ones among them). */
static guint count_sockets(void)
{
  guint n = 0;
  g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
  g_assert_nonnull(dir);
  for (const char *name; (name = g_dir_read_name(dir));) {
    g_autofree char *path = g_build_filename("/proc/self/fd", name, NULL);
    g_autofree char *target = g_file_read_link(path, NULL);
    if (target && g_str_has_prefix(target, "socket:"))
      n++;
  }
  return n;
}

/* A participant who leaves while the relay is still negotiating. webrtcbin runs the relay's
 * create-offer and set-local-description as tasks on its own thread; going to NULL stops that
 * thread, and a task still queued is dropped without answering its promise. The waits sweep
 * the removal across the first milliseconds of the negotiation, where that happens. A task that
 * runs during the teardown also leaves a transport's receive bin blocked and never finalized,
 * with its nicesrc and the ICE agent's sockets (pc_sweep() in sfu.c releases it): every socket
 * the 80 participants opened must be closed at the end (before that fix: dozens left, and one
 * run in 20 hung in gst_deinit() on a nicesrc still streaming). */
static void test_join_leave(void)
{
  Harness h = {0};
  h.relay = relay_new();
  h.clients = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, client_free);
  g_autoptr(GError) error = NULL;
  h.room = sfu_room_new(h.relay, "join-leave", &callbacks, &h, &error);
  g_assert_no_error(error);
  guint sockets_before = count_sockets();
  for (guint i = 0; i < 80; i++) {
    g_assert_true(sfu_room_add_participant(h.room, "p", &error));
    g_usleep((i % 40) * 100);
    sfu_room_remove_participant(h.room, "p");
  }
  h.want_pcs = 0;
  g_assert_true(run_until(&h, pcs_reached, 5));
  g_test_message("%u offers reached the callbacks", h.offers);
  g_assert_cmpuint(count_sockets(), ==, sockets_before);
  sfu_room_free(g_steal_pointer(&h.room));
  run_until(&h, NULL, 1);
  g_assert_true(stats_zero(h.relay));
  g_hash_table_unref(h.clients);
  sfu_relay_free(h.relay);
}

int main(int argc, char **argv)
{
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sfu/errors", test_errors);
  g_test_add_func("/sfu/join-leave", test_join_leave);
  g_test_add_func("/sfu/call", test_call);
  g_test_add_func("/sfu/ice-tcp", test_ice_tcp);
  g_test_add_func("/sfu/audio-feedback", test_audio_feedback);
  int ret = g_test_run();
  gst_deinit();
  return ret;
}
