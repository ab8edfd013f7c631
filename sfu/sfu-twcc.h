/* sfu-twcc.h — transport-cc feedback as GStreamer 1.22's rtpsession delivers it, turned into
 * SfuBwePacket for the estimator (sfu-bwe.h). Private to the sfu module (prefix sfu_twcc_).
 * Needs GStreamer core only (GstStructure), no webrtcbin. Any thread; no state. */
#pragma once

#include <gst/gst.h>

#include "sfu-bwe.h"

G_BEGIN_DECLS

/* Fills out[0..max) from an "RTPTWCCPackets" structure (the custom upstream event rtpsession
 * pushes on its send_rtp_sink pad for each transport-cc feedback it parses) and returns how
 * many it wrote. Times become microseconds. Sizes stay what 1.22 reports, RTP payload bytes
 * (no RTP/SRTP/UDP/IP headers), so the estimate is a payload rate, what encoders target. Packets
 * whose send time the relay's rtpsession did not know (no "local-ts") are skipped when received (no
 * delay information) and kept with send_us = -1 when lost. Returns 0 for a structure of another
 * name or shape. */
guint sfu_twcc_packets_from_structure(const GstStructure *s, SfuBwePacket *out, guint max);

G_END_DECLS
