/* sfu-egress.h — what goes down one subscription leg (one publisher's streams to one
 * subscriber), private to the sfu module.
 *
 * Pad probes on the leg's branch queues (streaming threads) count what is sent, pause and
 * resume its video, and remember when each transport-wide sequence number left; the
 * subscriber's transport-cc feedback (sfu-twcc.h) then feeds the leg's bandwidth estimator.
 *
 * Pausing video leaves a hole in the sequence numbers; a browser would ask for every missing
 * packet and stall on a broken reference chain. So once video was paused, it resumes only at a
 * keyframe, and from then on every video packet's sequence number is shifted to continue the
 * leg's own numbering (the buffer is copied on write; a leg that never paused is left alone).
 *
 * Threads: _new/_set_video/_get/_unref on the main thread; the probes on streaming threads.
 * MT safe (one mutex per leg). Refcounted. */
#pragma once

#include <gst/gst.h>

#include "sfu-bwe.h"
#include "sfu-twcc.h"

typedef struct SfuEgress SfuEgress;

typedef struct {
  guint64 audio_bytes; /* sent to the subscriber since the leg began */
  guint64 video_bytes;
  guint64 video_packets;
  guint64 video_dropped;      /* held back while video was paused */
  guint64 replay_dropped;     /* dropped: sent already, or too old for SRTP (replay_check()) */
  guint64 resend_requests;    /* retransmissions the subscriber asked for and the leg made */
  guint64 resend_refused;     /* asked again within an RTT of the last one: not made */
  guint64 resend_over_budget; /* not made: retransmissions used their share of the estimate */
  guint64 resend_packets;     /* retransmissions that left (RTX packets) */
  guint64 resend_bytes;
  guint estimate_bps;          /* the leg's bandwidth estimate (audio and video), 0 = none yet */
  gboolean estimate_from_remb; /* it is the subscriber's REMB (no transport-cc feedback) */
  guint twcc_estimate_bps;     /* our estimator's, from transport-cc feedback: video only */
  guint acked_bps;             /* video the subscriber acknowledged receiving lately */
  double feedback_loss;        /* share of video packets the feedback reported lost */
  guint feedback_rtt_ms;       /* the RTT the estimator uses */
  SfuBweUsage feedback_usage;  /* its delay detector's state */
  guint audio_bps;             /* audio sent on the leg over the last second */
  guint feedback_reports;
  guint feedback_malformed;
  gboolean video_on;
  gboolean waiting_keyframe; /* video resumed, nothing forwarded until a keyframe */
} SfuEgressStats;

/* `name` is for the log; the estimator starts at `start_bps`; `twcc_ext_id` is the one-byte
 * header extension id of transport-wide sequence numbers on the leg (0 = none). */
SfuEgress *sfu_egress_new(const char *name, guint start_bps, guint8 twcc_ext_id);
SfuEgress *sfu_egress_ref(SfuEgress *eg);
void sfu_egress_unref(SfuEgress *eg);

/* Probes on a branch queue's src pad. `video`: the pad carries video (gate, renumbering). */
void sfu_egress_watch(SfuEgress *eg, GstPad *queue_src, gboolean video);

/* Probe on the pad where the leg's packets carry their final transport-wide sequence numbers
 * (the subscription rtpsession's send_rtp_src: rtpsession 1.22 writes the leg's own numbers over
 * the publisher's, into every packet that carries the extension; the leg's audio, RED-wrapped
 * before it, carries none): remembers when each left. */
void sfu_egress_watch_sent(SfuEgress *eg, GstPad *pad);

/* On the leg's rtprtxsend (its src pad, where the subscriber's retransmission requests come
 * up): a packet is retransmitted at most once per RTT. A browser's subscription is receive-only,
 * so the browser knows no RTT for it and asks again for a missing packet every 100 ms (its
 * default); on a 300-600 ms path each lost packet went out three to six times, and on a link
 * that had just become full the repairs crowded out the media (seen on `step`: 60-70 % of the
 * leg's video packets lost for ten seconds). And all of a leg's retransmissions together use at
 * most a share of its estimate (sfu-egress.c): past it a request is not answered, and the
 * browser's next request, or its keyframe request, repairs the picture. */
void sfu_egress_watch_rtx(SfuEgress *eg, GstElement *rtxsend);
/* The subscriber's transport-cc feedback (the FCI of an RTPFB FMT 15 packet). RTCP thread. */
void sfu_egress_on_feedback(SfuEgress *eg, const guint8 *fci, gsize len);
/* The subscriber's REMB (the FCI of a PSFB FMT 15 packet). RTCP thread. */
void sfu_egress_on_remb(SfuEgress *eg, const guint8 *fci, gsize len);

/* Main thread. Pausing is immediate; resuming waits for a keyframe (ask the publisher for one).
 * Returns TRUE if the state changed. */
gboolean sfu_egress_set_video(SfuEgress *eg, gboolean on);

void sfu_egress_get_stats(SfuEgress *eg, SfuEgressStats *out);

/* A round-trip time from RTCP, for the estimator. Any thread. */
void sfu_egress_set_rtt(SfuEgress *eg, guint rtt_ms);

/* Does this RTP packet start a VP8 keyframe? (RFC 7741 payload descriptor, then the VP8 payload
 * header whose P bit is 0 on a keyframe.) */
gboolean sfu_vp8_keyframe_start(GstBuffer *buffer);
