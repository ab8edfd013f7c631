/* test-lane: the low-rate video lane (sfu/sfu-lane.h) off a VP8 RTP stream like a publisher's:
 * what comes out must pass for the publisher's own stream (SSRC, payload type, caps, RTP clock),
 * be smaller, carry the transport-cc extension slot, and answer a keyframe request. */
#include <gst/gst.h>
#include <gst/rtp/rtp.h>

#include "sfu-lane.h"

#define SSRC 0x11223344u
#define PT 96
#define TWCC_EXT_ID 3

typedef struct {
  GMutex lock;
  guint packets;
  guint bad_ssrc, bad_pt, no_ext;
  guint64 bytes;
  guint32 first_ts, last_ts;
  gboolean have_ts;
  GstCaps *caps;
  guint keyframes;
} Seen;

static gboolean keyframe_start(GstRTPBuffer *rtp)
{
  /* RFC 7741: the S bit and partition 0 start a frame; P = 0 in the VP8 header is a keyframe. */
  const guint8 *p = gst_rtp_buffer_get_payload(rtp);
  guint len = gst_rtp_buffer_get_payload_len(rtp);
  if (len < 2 || !(p[0] & 0x10) || (p[0] & 0x07))
    return FALSE;
  guint off = 1;
  if (p[0] & 0x80) {
    guint8 x = p[1];
    off = 2;
    if (x & 0x80)
      off += len > 2 && (p[2] & 0x80) ? 2 : 1;
    if (x & 0x40)
      off++;
    if (x & 0x30)
      off++;
  }
  return off < len && !(p[off] & 0x01);
}

static void on_handoff(GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer data)
{
  (void)sink;
  Seen *s = data;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  g_mutex_lock(&s->lock);
  if (!s->caps)
    s->caps = gst_pad_get_current_caps(pad);
  if (gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp)) {
    gpointer ext;
    guint size;
    s->packets++;
    s->bytes += gst_buffer_get_size(buf);
    s->bad_ssrc += gst_rtp_buffer_get_ssrc(&rtp) != SSRC;
    s->bad_pt += gst_rtp_buffer_get_payload_type(&rtp) != PT;
    s->no_ext += !gst_rtp_buffer_get_extension_onebyte_header(&rtp, TWCC_EXT_ID, 0, &ext, &size);
    guint32 ts = gst_rtp_buffer_get_timestamp(&rtp);
    if (!s->have_ts)
      s->first_ts = ts;
    s->have_ts = TRUE;
    s->last_ts = ts;
    s->keyframes += keyframe_start(&rtp);
    gst_rtp_buffer_unmap(&rtp);
  }
  g_mutex_unlock(&s->lock);
}

static void run_for(GstElement *pipeline, guint ms)
{
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, ms * GST_MSECOND, GST_MESSAGE_ERROR);
  if (m) {
    GError *e = NULL;
    gst_message_parse_error(m, &e, NULL);
    g_error("pipeline error: %s", e->message);
  }
  gst_object_unref(bus);
}

static void test_lane(void)
{
  /* A publisher: 640x360 VP8 at ~1 Mbit/s into a tee, as the relay's ingress feeds one. */
  g_autofree char *desc = g_strdup_printf(
      "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 "
      "! vp8enc deadline=1 target-bitrate=1000000 ! rtpvp8pay pt=%d ssrc=%u ! tee name=t "
      "allow-not-linked=true t. ! queue ! fakesink sync=false",
      PT, SSRC);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch(desc, &error);
  g_assert_no_error(error);
  GstElement *tee = gst_bin_get_by_name(GST_BIN(pipeline), "t");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  run_for(pipeline, 500); /* the tee has caps */

  SfuLane *lane = sfu_lane_new(pipeline, tee, "test", 60000, &error);
  g_assert_no_error(error);
  g_assert_nonnull(lane);
  Seen seen = {0};
  g_mutex_init(&seen.lock);
  GstElement *sink = gst_element_factory_make("fakesink", NULL);
  g_object_set(sink, "signal-handoffs", TRUE, "sync", FALSE, "async", FALSE, NULL);
  g_signal_connect(sink, "handoff", G_CALLBACK(on_handoff), &seen);
  gst_bin_add(GST_BIN(pipeline), sink);
  gst_element_sync_state_with_parent(sink);
  GstPad *src = gst_element_request_pad_simple(sfu_lane_tee(lane), "src_%u");
  GstPad *sinkpad = gst_element_get_static_pad(sink, "sink");
  g_assert_cmpint(gst_pad_link_full(src, sinkpad, GST_PAD_LINK_CHECK_NOTHING), ==, GST_PAD_LINK_OK);
  /* The publisher's stream is joined mid-way: a keyframe from it starts the lane's decoder. */
  GstPad *tee_sink = gst_element_get_static_pad(tee, "sink");
  gst_pad_push_event(tee_sink, gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM,
                                                    gst_structure_new_empty("GstForceKeyUnit")));
  run_for(pipeline, 3000);

  g_mutex_lock(&seen.lock);
  guint packets = seen.packets, keys = seen.keyframes;
  g_test_message("lane: %u packets, %" G_GUINT64_FORMAT " bytes in 3 s, %u keyframes", seen.packets,
                 seen.bytes, seen.keyframes);
  g_assert_cmpuint(seen.packets, >, 20);
  g_assert_cmpuint(seen.bad_ssrc, ==, 0);
  g_assert_cmpuint(seen.bad_pt, ==, 0);
  g_assert_cmpuint(seen.no_ext, ==, 0);
  g_assert_cmpuint(seen.keyframes, >=, 1);
  /* At 60 kbit/s for ~3 s: well under the publisher's 1 Mbit/s (VP8's rate control overshoots
   * a little at first; 2x is the bound). */
  g_assert_cmpuint(seen.bytes * 8, <, 2 * 60000 * 3 + 20000);
  /* On the publisher's 90 kHz clock: about 3 s of timestamps, not the payloader's own. */
  guint32 span = seen.last_ts - seen.first_ts;
  g_assert_cmpuint(span, >, 90000 * 3 / 2);
  g_assert_cmpuint(span, <, 90000 * 4);
  /* The caps the subscriber sees are the publisher's (no renegotiation). */
  GstCaps *pub_caps = gst_pad_get_current_caps(tee_sink);
  g_assert_true(seen.caps && gst_caps_is_equal(seen.caps, pub_caps));
  gst_caps_unref(pub_caps);
  g_mutex_unlock(&seen.lock);

  /* A keyframe on request (as when a leg moves to the lane). */
  sfu_lane_request_keyframe(lane);
  run_for(pipeline, 1000);
  g_mutex_lock(&seen.lock);
  g_assert_cmpuint(seen.keyframes, >, keys);
  g_assert_cmpuint(seen.packets, >, packets);
  g_mutex_unlock(&seen.lock);

  gst_pad_unlink(src, sinkpad);
  gst_element_release_request_pad(sfu_lane_tee(lane), src);
  gst_object_unref(src);
  gst_object_unref(sinkpad);
  gst_object_unref(tee_sink);
  sfu_lane_free(lane);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(tee);
  gst_object_unref(pipeline);
  gst_clear_caps(&seen.caps);
  g_mutex_clear(&seen.lock);
}

int main(int argc, char **argv)
{
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sfu/lane/like-the-publisher", test_lane);
  return g_test_run();
}
