/* sfu-ingress.h — a publisher's packets, from its webrtcbin to its tees, without the jitter
 * buffer (private to the sfu module).
 *
 * webrtcbin 1.22 puts an rtpjitterbuffer on every received stream, and a jitter buffer drops
 * every packet older than the last one it let through: a retransmission that arrives after it
 * moved on is lost to every subscriber, and each packet waits `latency` in it. The ingress takes
 * each packet at the jitter buffer's sink pad (after SRTP, rtpsession and RTX reassembly) and
 * pushes it straight into the publisher's tee, in arrival order, late or not; the browsers'
 * own jitter buffers put them in order. It also asks the publisher for what went missing on
 * the way in (NACK), since the subscribers' own NACKs stop at the relay's retransmission cache.
 *
 * Until the main thread says a stream is ready (sfu_ingress_start), its packets go the normal
 * way through the jitter buffer: that is how webrtcbin announces the stream (pad-added) and its
 * caps. From then on the jitter buffer sees nothing.
 *
 * Threads: sfu_ingress_new/start/close run on the relay's main context; the probe runs on
 * webrtcbin's streaming threads. MT safe: a mutex guards each stream's state. Refcounted. */
#pragma once

#include <gst/gst.h>

enum { SFU_INGRESS_AUDIO, SFU_INGRESS_VIDEO, SFU_INGRESS_N };

typedef struct SfuIngress SfuIngress;

typedef struct {
  guint64 packets; /* forwarded to the tee */
  guint64 bytes;
  guint64 missing;        /* sequence numbers skipped on arrival: lost on the way in, or late */
  guint64 late;           /* forwarded after a later packet (reordered or retransmitted) */
  guint64 duplicates;     /* dropped: already forwarded */
  guint64 stale;          /* dropped: too far behind the newest forwarded (SRTP's replay window) */
  guint64 nacks;          /* sequence numbers asked for again (each try counts) */
  guint64 recovered;      /* of those, arrived after all */
  guint64 lost;           /* given up (never arrived) */
  guint64 feedback_marks; /* audio packets marked for transport-wide feedback (watch_session) */
} SfuIngressStats;

/* `tees` are linked to the ingress's own pads at once (their sink pads must be free); `pts` are
 * the payload types the relay's offer gave audio and video. `name` is for the log. */
SfuIngress *sfu_ingress_new(const char *name, GstElement *tees[SFU_INGRESS_N],
                            const guint8 pts[SFU_INGRESS_N]);
SfuIngress *sfu_ingress_ref(SfuIngress *in);
void sfu_ingress_unref(SfuIngress *in);

/* webrtcbin thread (deep-element-added): a new rtpjitterbuffer of the publish connection. */
void sfu_ingress_watch_jitterbuffer(SfuIngress *in, GstElement *jitterbuffer);

/* webrtcbin thread (deep-element-added): the publish connection's rtpsession. GStreamer 1.22's
 * rtpsession sends transport-wide feedback only when a packet with the marker bit arrives (the
 * end of a video frame), so the publisher's congestion control hears nothing while its video
 * is sparse or paused, and little on a lossy link where the frames' last packets are lost.
 * Where no marked packet came for SFU_INGRESS_FEEDBACK_MS, the next audio packet (Opus, or the
 * RED around it) is marked on its way into rtpsession (a feedback goes out at once) and
 * unmarked again before it is forwarded. */
#define SFU_INGRESS_FEEDBACK_MS 100
void sfu_ingress_watch_session(SfuIngress *in, GstElement *rtpsession);

/* Main thread: `media`'s stream was announced by webrtcbin's src pad `webrtc_src` with `caps`;
 * from now on its packets bypass the jitter buffer. Upstream events from the subscribers
 * (keyframe requests) go into `webrtc_src`. */
void sfu_ingress_start(SfuIngress *in, int media, GstPad *webrtc_src, GstCaps *caps);

/* The payload type the publisher's audio takes when wrapped in RED (browsers send it so where
 * offered), -1 = none; for sfu_ingress_watch_session(). Any thread. */
void sfu_ingress_set_audio_red_pt(SfuIngress *in, int pt);

/* The publisher's round-trip time, for NACK timing. Any thread. */
void sfu_ingress_set_rtt(SfuIngress *in, guint rtt_ms);

void sfu_ingress_get_stats(SfuIngress *in, int media, SfuIngressStats *out);

/* Main thread, before the tees and the webrtcbin go: stop forwarding, unlink the tees. */
void sfu_ingress_close(SfuIngress *in);
