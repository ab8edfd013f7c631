/* sfu-lane.h — a publisher's low-rate video lane, private to the sfu module.
 *
 * The relay forwards without decoding; a subscriber whose link cannot take what the publisher
 * sends for its other subscribers would otherwise get no video at all (the publisher is not
 * followed down: the others would lose their picture). The lane is the exception: a branch off
 * the publisher's video tee that decodes its VP8 and encodes it again, small (320 pixels wide,
 * at most 15 fps) and at a rate the relay sets from the weak legs' estimates:
 *
 *   publisher tee -> queue (leaky) -> rtpvp8depay -> vp8dec -> videoscale -> videorate
 *     -> vp8enc (realtime, CBR) -> rtpvp8pay -> tee (sfu_lane_tee(): weak legs' branches)
 *
 * Its packets look like the publisher's to the subscriber: same SSRC, payload type and caps (a
 * change of caps would renegotiate the subscription), RTP timestamps on the publisher's clock
 * (so a leg that moves between the publisher's stream and the lane sees no jump), and an empty
 * transport-wide sequence number extension for the subscription's rtpsession to fill in. The
 * subscriber's keyframe requests reach the lane's encoder the way they would reach the publisher
 * (upstream through the branch); a loss in what the publisher sends makes the depayloader ask
 * the publisher for a keyframe.
 *
 * Cost: one VP8 decode and one small encode per lane, on the lane's own thread (its queue), so
 * the relay builds one only while some subscriber of the publisher needs it (sfu.c).
 *
 * Threads: everything here on the main thread; the probes on the lane's streaming thread. */
#pragma once

#include <gst/gst.h>

typedef struct SfuLane SfuLane;

/* A lane off `publisher_tee` (its src caps: RTP VP8), in `pipeline`, encoding at `bitrate_bps`.
 * `name` is for the log. NULL with `error` set if an element is missing or a link fails. */
SfuLane *sfu_lane_new(GstElement *pipeline, GstElement *publisher_tee, const char *name,
                      guint bitrate_bps, GError **error);
/* Cuts it off the publisher's tee and takes it out of the pipeline. The caller first moves
 * every branch off sfu_lane_tee(). NULL-safe. */
void sfu_lane_free(SfuLane *lane);

/* (transfer none) Where subscribers' branches take the lane's packets from. */
GstElement *sfu_lane_tee(SfuLane *lane);

/* The encoder's target; applied when it differs by more than 10 % from the current one. */
void sfu_lane_set_bitrate(SfuLane *lane, guint bitrate_bps);
guint sfu_lane_bitrate(SfuLane *lane);

/* A keyframe from the lane's encoder (a leg switched to the lane). */
void sfu_lane_request_keyframe(SfuLane *lane);
