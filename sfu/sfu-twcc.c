/* sfu-twcc.c — "RTPTWCCPackets" (GStreamer 1.22 rtpsession) -> SfuBwePacket.
 *
 * The structure, as read in GStreamer 1.22.0,
 * subprojects/gst-plugins-good/gst/rtpmanager/rtpstats.c, rtp_twcc_stats_get_packets_structure()
 * (called from rtpsession.c on each parsed transport-cc FCI; gstrtpsession.c
 * gst_rtp_session_notify_twcc() sends it upstream as a GST_EVENT_CUSTOM_UPSTREAM):
 *   "RTPTWCCPackets"
 *     "packets"  G_TYPE_VALUE_ARRAY (GValueArray) of GST_TYPE_STRUCTURE, in FCI order, each
 *       "RTPTWCCPacket"
 *         "seqnum"        G_TYPE_UINT     transport-wide seqnum (16-bit value)
 *         "local-ts"      G_TYPE_UINT64   GstClockTime (ns) the packet left: the socket
 *                                         timestamp if known, else the session's current_time
 *                                         when sent; GST_CLOCK_TIME_NONE if rtptwcc.c found no
 *                                         sent packet with that seqnum
 *         "remote-ts"     G_TYPE_UINT64   GstClockTime (ns) of arrival in the receiver's
 *                                         clock (24-bit 64 ms reference time + 250 us deltas);
 *                                         GST_CLOCK_TIME_NONE when not received
 *         "payload-type"  G_TYPE_UCHAR
 *         "size"          G_TYPE_UINT     RTP *payload* bytes (gst_rtp_buffer_get_payload_len in
 *                                         rtptwcc.c sent_packet_init), 0 if not matched
 *         "lost"          G_TYPE_BOOLEAN  status == RTP_TWCC_PACKET_STATUS_NOT_RECV
 * rtptwcc.c (_check_for_lost_packets) also inserts, as lost, seqnums skipped between two
 * feedback reports. gst-plugins-rs rtpgccbwe reads the same fields (and skips packets without
 * local-ts). */
#define G_LOG_DOMAIN "mashwara-sfu"

#include "sfu-twcc.h"

static gboolean get_clock_time(const GstStructure *s, const char *field, GstClockTime *out)
{
  guint64 v;
  if (!gst_structure_get_uint64(s, field, &v) || !GST_CLOCK_TIME_IS_VALID(v))
    return FALSE;
  *out = v;
  return TRUE;
}

guint sfu_twcc_packets_from_structure(const GstStructure *s, SfuBwePacket *out, guint max)
{
  g_return_val_if_fail(s != NULL, 0);
  g_return_val_if_fail(out != NULL || max == 0, 0);
  if (!gst_structure_has_name(s, "RTPTWCCPackets"))
    return 0;
  /* GValueArray is deprecated in GLib but is what rtpsession 1.22 sends (the
   * G_TYPE_VALUE_ARRAY macro warns even inside the pragma; the function does not). */
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GType value_array_type = g_value_array_get_type();
  const GValue *v = gst_structure_get_value(s, "packets");
  if (v == NULL || !G_VALUE_HOLDS(v, value_array_type))
    return 0;
  const GValueArray *array = g_value_get_boxed(v);
  guint len = array ? array->n_values : 0;
  G_GNUC_END_IGNORE_DEPRECATIONS

  guint n = 0;
  for (guint i = 0; i < len && n < max; i++) {
    G_GNUC_BEGIN_IGNORE_DEPRECATIONS
    const GValue *pv = g_value_array_get_nth((GValueArray *)array, i);
    G_GNUC_END_IGNORE_DEPRECATIONS
    if (!GST_VALUE_HOLDS_STRUCTURE(pv))
      continue;
    const GstStructure *p = gst_value_get_structure(pv);
    guint seqnum, size = 0;
    gboolean lost = FALSE;
    if (!gst_structure_get_uint(p, "seqnum", &seqnum))
      continue;
    gst_structure_get_uint(p, "size", &size);
    gst_structure_get_boolean(p, "lost", &lost);
    GstClockTime local_ts = GST_CLOCK_TIME_NONE, remote_ts = GST_CLOCK_TIME_NONE;
    gboolean have_local = get_clock_time(p, "local-ts", &local_ts);
    gboolean have_remote = get_clock_time(p, "remote-ts", &remote_ts);
    if (!lost && !have_remote)
      lost = TRUE; /* "received" without an arrival time carries nothing but loss */
    if (!lost && !have_local)
      continue;
    /* ns / 1000 always fits a gint64, so a received packet never reads as lost (-1). A
     * remote-ts that wrapped below zero (a negative delta right after a zero reference time)
     * becomes a huge value, which the estimator takes as a clock jump. */
    gint64 arrival_us = lost ? -1 : (gint64)(remote_ts / 1000);
    out[n++] = (SfuBwePacket){
        .seq = (guint16)seqnum,
        .send_us = have_local ? (gint64)(local_ts / 1000) : -1,
        .arrival_us = arrival_us,
        .size = size,
    };
  }
  return n;
}
