/* sfu.c — the media relay: rooms of webrtcbins that forward RTP without decoding it.
 *
 * Shape of a room (one GstPipeline):
 *   publisher P:  pub webrtcbin --src(audio)--> tee[audio] --+--> queue --> sub webrtcbin of R1
 *                               --src(video)--> tee[video] --+--> queue --> sub webrtcbin of R2
 * The relay offers every peer connection; browsers answer.
 *
 * Ownership: the caller owns SfuRelay and SfuRoom. A room owns its pipeline, its participants,
 * their peer connections (Pc) and the tee branches feeding subscriptions (Branch). SfuRoom is
 * refcounted internally: webrtcbin signal handlers (PcCtx) and events queued for the main
 * context hold a ref, so the struct outlives sfu_room_free() until they are gone; `alive`
 * tells them the room is over. Packet counters (Counters) are refcounted and shared with pad
 * probes. Every element the relay keeps a pointer to is sunk at creation (our ref); gst_bin_add
 * then takes a second one for the bin.
 *
 * Threads: everything but the handlers marked "streaming/webrtcbin thread" runs on the relay's
 * context (config->context). Those handlers touch only immutable PcCtx fields, atomics and
 * GStreamer objects (which are MT safe), and hand everything else to the context as an Event
 * on an idle source: never g_main_context_invoke(), which would run a callback re-entrantly
 * when the emitting thread is the main thread (e.g. a state notify during set_state(NULL)). */
#define G_LOG_DOMAIN "mashwara-sfu"

#include "sfu.h"
#include "sfu-egress.h"
#include "sfu-fec.h"
#include "sfu-ingress.h"
#include "sfu-lane.h"
#include "sfu-score.h"
#include "sfu-sdp.h"

#include <stdatomic.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#define GST_USE_UNSTABLE_API
#include <gst/webrtc/webrtc.h>
#include <nice/agent.h>

GST_DEBUG_CATEGORY_STATIC(sfu_debug);
#define GST_CAT_DEFAULT sfu_debug

/* Jitter-buffer depth of every webrtcbin, in ms (webrtcbin's default is 200). A relay forwards
 * packets; it does not play them out, so waiting only adds delay. With 0, rtpjitterbuffer drops
 * every packet that arrives after a later one was pushed; 20 ms absorbs one hop's reordering.
 * Measured by tests/unit/sfu on loopback (clients keep their own 200 ms): late joiner's first
 * frame 197-202 ms after connecting with 0, 201-204 ms with 20, 220-338 ms with 200. */
#define SFU_LATENCY_MS 20
/* Leaky queue in front of each subscriber, bounded by time: webrtcbin holds buffers until the
 * subscription is negotiated, and anything older than this is stale for a live call. It was 32
 * buffers: a VP8 keyframe of a 500 kbit/s 360p stream is ~30-50 packets arriving at once, and
 * the queue dropped the tail of every such burst (bench/load: 0.5-1.8 % video loss on every
 * forwarded stream, Janus 0 %). A burst spans a few ms, so a time bound keeps it whole; the
 * buffer count is only a backstop for buffers without timestamps. */
#define SFU_BRANCH_QUEUE_MS 200
#define SFU_BRANCH_QUEUE_BUFFERS 1024
/* While one of a participant's pcs is still setting up (ICE, DTLS), for at most this long after
 * it was made, the video of its connected subscriptions is held (audio goes on): on a weak link
 * their video filled the downlink queue and the new pc's DTLS flights were lost in it (CI,
 * three-party on edge: the patient's third pc took 34 s of DTLS, OpenSSL's timer doubling from
 * 1 s). subscriber_setup_hold(). */
#define SFU_SETUP_HOLD_MS 8000
/* Only for a subscriber whose legs measure at least this RTT (a weak mobile link), or have had
 * no receiver report yet: on a link known to be good a new pc sets up in a few hundred ms, and
 * holding its other legs' video would cost them a keyframe and a short freeze at every
 * renegotiation. A leg's first RTT comes with its subscriber's first receiver report,
 * seconds after it connects: waiting for it let the video flood the patient's downlink in the
 * very seconds the publish connection's first DTLS flights crossed it (edge, one run in five:
 * 23 s of DTLS). */
#define SFU_SETUP_HOLD_RTT_MS 150
/* After a publisher's first stream arrives, how long to wait for its second before offering
 * subscriptions with what is there (an audio-only publisher). */
#define SFU_PUBLISH_WAIT_MS 1000
/* Keyframes for a new subscription. The relay asks the publisher for one when the subscription
 * connects, then looks whether a keyframe has really gone down the subscriber's branch since;
 * if not, it asks again, up to SFU_KEYFRAME_RETRIES times, SFU_KEYFRAME_CHECK_MS apart. The
 * browser's own PLIs cannot be relied on for this (see keyframe_check()). Requests to one
 * publisher are at least SFU_KEYFRAME_MIN_INTERVAL_MS apart: Chrome ignores a request that comes
 * within 300 ms of the last one it obeyed, and every keyframe costs the publisher's uplink and
 * every subscriber's downlink. */
#define SFU_KEYFRAME_CHECK_MS 350
#define SFU_KEYFRAME_RETRIES 4
#define SFU_KEYFRAME_MIN_INTERVAL_MS 300
/* The RTP bandwidth a publish connection's rtpsession assumes, in bit/s; RTCP may use 5 % of
 * it. rtpsession bases it on what the relay itself sends there, i.e. nothing, and falls back
 * to 64 kbit/s: 3.2 kbit/s of RTCP, so after each early feedback packet (the TWCC feedback
 * sends one every few frames) the next may go only 0.1-0.7 s later (RFC 4585 T_rr), and a
 * FIR or a forwarded PLI waits that long before it leaves (measured: FIR and six PLIs held
 * 330 ms). 1 Mbit/s (50 kbit/s of RTCP) brings that wait to a few ms. */
#define SFU_PUBLISH_RTP_BANDWIDTH 1000000.0
/* A receiver whose reports stop for SFU_OUTAGE_REPORT_GAP_MS had an outage: for
 * SFU_OUTAGE_SETTLE_MS after they resume, its loss and a falling estimate are not congestion. */
#define SFU_OUTAGE_REPORT_GAP_MS 2500
#define SFU_OUTAGE_SETTLE_MS 5000
/* A subscription leg retransmits packets at most this old (rtprtxsend's cache). */
#define SFU_RTX_MAX_AGE_MS 1000
/* Adaptation, once a second per room (adapt_tick()). A leg whose rate (leg_rate()) leaves less
 * than SFU_VIDEO_FLOOR_BPS for video beside its audio (at least SFU_AUDIO_RESERVE_BPS) pauses
 * video (audio only) after SFU_WEAK_TICKS ticks in a row: a link of about 120 kbit/s. It tries
 * video again after SFU_PROBE_BACKOFF_MIN_S, doubling up to SFU_PROBE_BACKOFF_MAX_S after each
 * failed try; a try lasts SFU_PROBE_S seconds at the floor rate and fails at the first sign of
 * congestion. A publisher is never capped under the floor while someone takes its video. */
#define SFU_TICK_MS 1000
#define SFU_LEG_START_BPS 300000
#define SFU_VIDEO_FLOOR_BPS 60000
#define SFU_WEAK_TICKS 3
#define SFU_PROBE_BACKOFF_MIN_S 8
#define SFU_PROBE_BACKOFF_MAX_S 60
#define SFU_PROBE_S 4
/* A leg is short of room when its receiver's estimate is under this share of what its publisher
 * sends (a receiver that backs off because of delay built up before the relay stays at about
 * 85 % of what arrives). */
#define SFU_LEG_SHORT_PCT 70
/* Audio a leg needs whatever it measures: Opus ~32 kbit/s, doubled by RED, plus headers. */
#define SFU_AUDIO_RESERVE_BPS 60000
/* The low-rate lane (sfu-lane.h): a weak leg whose publisher also has a subscriber on a good
 * link takes the publisher's video re-encoded by the relay, at the weak subscriber's share of
 * its downlink (what its legs' rate leaves beside all their audio, split between its lane
 * legs), within these bounds. A leg's rate grows only with what it carries, so the lane sends
 * at least the minimum (a thumbnail) and pauses the leg's video only while the leg loses over
 * SFU_LANE_PAUSE_LOSS (its audio comes first); it resumes under half that. It goes back to
 * the publisher's own stream when its rate has room for all the publisher sends for
 * SFU_WEAK_TICKS ticks in a row, or when nobody else needs more than the lane (the publisher
 * then adapts to it). */
#define SFU_LANE_MIN_BPS 20000
#define SFU_LANE_MAX_BPS 400000
#define SFU_LANE_PAUSE_LOSS 0.12
/* A publisher that sends less than this is small enough to be followed (or paused) as before:
 * a lane would cost a decode and an encode for nothing. */
#define SFU_LANE_PUBLISHER_BPS 250000

#define SFU_TWCC_URI "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
/* Its extension id in every offer (publish_caps()); subscriptions inherit the publisher's. */
#define SFU_TWCC_EXT_ID 3

enum { MEDIA_AUDIO = SFU_INGRESS_AUDIO, MEDIA_VIDEO = SFU_INGRESS_VIDEO, MEDIA_N };
/* Payload types of the relay's offers to publishers. */
#define SFU_AUDIO_PT 111
#define SFU_VIDEO_PT 96
static const char *const media_names[MEDIA_N] = {"audio", "video"};

struct SfuRelay {
  char **ice_addresses; /* NULL = every interface */
  guint min_port;
  guint max_port;
  gboolean ice_tcp;
  char *stun_server;
  char *turn_server;
  GMainContext *context; /* (owned) */
  guint rooms;           /* main thread */
  guint participants;    /* main thread */
  gint pipelines;        /* atomic: decremented by weak notify on finalize (any thread) */
  gint peer_connections; /* atomic: idem */
};

/* Packet counters of one participant, shared with pad probes (streaming threads). */
typedef struct {
  gatomicrefcount ref;
  atomic_uint_fast64_t packets_received;
  atomic_uint_fast64_t bytes_received;
  atomic_uint_fast64_t packets_forwarded;
  atomic_uint_fast64_t bytes_forwarded;
  atomic_uint_fast64_t packets_sent;
} Counters;

/* What the video branch's probe saw go to the subscriber (streaming thread writes, main thread
 * reads): the monotonic time in us of the last VP8 keyframe start, 0 = none yet. The probe
 * parses packets only while `armed` (the main thread arms it when the subscription wants a
 * keyframe; the probe disarms it on the first one), so a settled branch pays one atomic load
 * per packet. Refcounted: shared by the branch and its probe. */
typedef struct {
  gatomicrefcount ref;
  _Atomic gboolean armed;
  _Atomic gint64 keyframe_us;
  char *name; /* "<publisher> -> <subscriber>", for the log */
} KeyframeWatch;

/* One tee branch: publisher stream -> [queue ->] subscriber webrtcbin sink pad. */
typedef struct {
  int media;
  KeyframeWatch *watch; /* (owned ref) video only */
  GstElement *tee;      /* (owned ref) the publisher's tee */
  GstPad *tee_pad;      /* (owned ref) request pad of tee, NULL until started */
  GstElement *queue;    /* (owned ref) NULL for a direct branch (branch_direct()) */
  GstPad *sink_pad;     /* (owned ref) request pad of the subscriber's webrtcbin */
} Branch;

/* The unlink handshake between branch_detach() and its idle probe (a streaming thread).
 * Refcounted, not part of Branch: if the wait times out, the probe may still run after the
 * branch is freed. */
typedef struct {
  gatomicrefcount ref;
  GMutex lock;
  GCond cond;
  gboolean unlinked;
} Detach;

/* A subscription leg's video state (main thread). */
typedef enum { LEG_ON, LEG_WEAK, LEG_PROBE, LEG_LANE } LegState;

typedef struct {
  LegState state;
  guint low_ticks;            /* consecutive ticks with the video budget under the floor */
  gint64 next_probe_us;       /* LEG_WEAK: when to try video again */
  gint64 probe_until_us;      /* LEG_PROBE: when the try counts as a success */
  guint backoff_s;            /* LEG_WEAK: wait before the next probe, doubles on failure */
  guint video_cap_bps;        /* what the publisher may send for this leg; SFU_NO_CAP = unknown */
  guint rtt_ms;               /* from the subscriber's receiver reports, 0 = none yet */
  double loss;                /* idem, 0..1: the worse of audio and video */
  double media_loss[MEDIA_N]; /* idem, per medium */
  double own_loss;      /* what this leg lost itself: media_loss less the publisher's uplink */
  guint probe_estimate; /* LEG_PROBE: the estimate when the try began */
  guint rate_bps;       /* the leg's rate controller (leg_rate()), 0 = not started */
  guint prev_remb_bps;  /* the receiver's estimate at the previous tick */
  guint last_rb_highest[MEDIA_N]; /* last report's extended highest sequence number, per medium */
  gint last_rb_lost[MEDIA_N];     /* and its cumulative packets lost */
  gint64 last_rb_us;              /* when a report last said something new (monotonic) */
  gint64 outage_until_us; /* after a silence of the receiver's reports: an outage, not congestion */
  guint jitter_ms;
  guint64 last_audio_bytes, last_video_bytes;
  guint audio_bps, video_bps; /* sent on the leg over the last tick */
  gint64 weak_since_us;       /* for the quality record; 0 = not weak */
  guint lane_ticks;           /* LEG_LANE: consecutive ticks with room for the full stream */
  guint lane_share_bps;       /* LEG_LANE: its subscriber's downlink share for this lane */
} Adapt;

typedef struct {
  char *pc_id; /* "pub" or "sub:<publisher id>" */
  guint serial;
  GstElement *webrtc; /* (owned ref) */
  SfuPcState state;
  char *publisher_id;      /* sub only */
  GPtrArray *branches;     /* sub only, Branch* */
  gint64 connected_us;     /* sub only: when it last connected (monotonic), 0 = not connected */
  GSource *keyframe_timer; /* sub only: keyframe_check() pending */
  guint keyframe_retries;  /* sub only: requests made by keyframe_check() since it connected */
  SfuEgress *egress;       /* sub only: (owned) what goes down this leg */
  GstElement *session;     /* (owned ref) its rtpsession, found on the first adaptation tick */
  GstWebRTCRTPTransceiver *video_trans; /* sub only: (owned ref) its video transceiver */
  guint fec_pct;                        /* sub only: the video ULPFEC share set on it */
  Adapt adapt;                          /* sub only: the leg's video decisions */
  struct PcCtx *ctx;                    /* (owned ref) what its handlers and promises know */
  gint64 created_us;                    /* monotonic */
  gboolean setup_held;                  /* sub only: its video held by subscriber_setup_hold() */
} Pc;

typedef struct {
  char *id;
  Counters *counters;
  Pc *pub;
  GstElement *tee[MEDIA_N]; /* (owned ref) */
  GstCaps *caps[MEDIA_N];   /* publisher's stream caps, NULL until its media arrives */
  GSource *publish_timer;
  gint64 keyframe_request_us; /* last keyframe request sent to it (monotonic), 0 = none */
  gboolean published;         /* its subscriptions have been offered */
  SfuIngress *ingress;        /* (owned) its packets from the pub webrtcbin to the tees */
  gboolean audio_only;        /* its own choice: receive no video */
  guint rtt_ms;               /* from its subscriptions' receiver reports, 0 = unknown */
  guint video_cap_bps;        /* last cap sent to its browser (SFU_NO_CAP = none) */
  SfuQuality quality;         /* last computed */
  SfuScoreSmoother *score;    /* (owned) */
  guint64 last_bytes_received;
  SfuIngressStats last_ingress[MEDIA_N];
  /* Its uplink over the last adaptation tick (publisher_uplink()): the share of its packets
   * that never reached the relay (after retransmission), and what reached it, in bit/s. */
  SfuIngressStats last_uplink[MEDIA_N];
  double uplink_loss[MEDIA_N];
  guint uplink_bps;
  SfuLane *lane;    /* (owned) its low-rate video lane, while some leg of it is LEG_LANE */
  GHashTable *subs; /* publisher id -> Pc* (owned) */
} Participant;

struct SfuRoom {
  gatomicrefcount ref;
  gboolean alive; /* main thread */
  SfuRelay *relay;
  char *id;
  const SfuRoomCallbacks *callbacks;
  gpointer user_data;
  GstElement *pipeline; /* (owned) */
  GSource *bus_source;
  GPtrArray *participants; /* Participant*, in joining order */
  guint next_serial;
  GSource *tick; /* the adaptation tick, once a second */
  gint64 last_tick_us;
};

/* What a webrtcbin's signal handlers know. Immutable after creation but for `promises` and
 * `closed` (any thread, under `lock`); refcounted because promises carry it too.
 *
 * `promises` exists because of webrtcbin 1.22 (still so on GStreamer main in August 2026): each
 * create-offer or set-*-description is a task on the webrtcbin's own thread, and the element
 * going to NULL stops that thread (gstwebrtcbin.c _stop_thread()); a task still queued then is
 * destroyed with the thread's GMainContext and its _free_op() drops the task's promise
 * unanswered. When that is the last ref, gst_promise_free() warns "runtime check failed:
 * (GST_PROMISE_RESULT (promise) != GST_PROMISE_RESULT_PENDING)", fatal under G_DEBUG=
 * fatal-warnings. It happens when a participant leaves (or the room ends) while the relay is
 * negotiating its connection. So the ctx keeps a ref on every promise it gives webrtcbin until
 * the promise is answered, and pc_ctx_close() interrupts the ones left once the element is in
 * NULL. */
typedef struct PcCtx {
  gatomicrefcount ref;
  SfuRoom *room; /* (owned ref) */
  GMainContext *context;
  char *participant_id;
  char *pc_id;
  guint serial;
  GWeakRef webrtc;
  GstElement *tee[MEDIA_N]; /* pub only: (owned ref) */
  SfuIngress *ingress;      /* pub only: (owned ref) */
  gint audio_red_pt;        /* atomic: RED's payload type in the last offer, -1 = none */
  SfuEgress *egress;        /* sub only: (owned ref) */
  gint fec_packets;         /* atomic, sub only: video ULPFEC packets sent (in RED) */
  GMutex lock;
  GPtrArray *promises; /* (owned refs) given to webrtcbin, not answered yet */
  gboolean closed;     /* pc_ctx_close() ran: keep no more promises */
} PcCtx;

typedef enum { EV_OFFER, EV_CANDIDATE, EV_STATE, EV_STREAM } EventKind;

/* A message from a webrtcbin/streaming thread to the main context. */
typedef struct {
  EventKind kind;
  SfuRoom *room; /* (owned ref) */
  char *participant_id;
  char *pc_id;
  guint serial;
  guint mline;
  char *text; /* offer SDP or candidate */
  SfuPcState state;
  int media;
  GstCaps *caps;
  GstPad *pad; /* EV_STREAM: the webrtcbin src pad */
} Event;

static void room_unref(SfuRoom *room);
static void room_publish(SfuRoom *room, Participant *p);
static void subscription_wants_keyframe(SfuRoom *room, Pc *pc);

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                             */

const char *sfu_pc_state_name(SfuPcState state)
{
  switch (state) {
  case SFU_PC_NEW:
    return "new";
  case SFU_PC_CONNECTING:
    return "connecting";
  case SFU_PC_CONNECTED:
    return "connected";
  case SFU_PC_DISCONNECTED:
    return "disconnected";
  case SFU_PC_FAILED:
    return "failed";
  case SFU_PC_CLOSED:
    return "closed";
  }
  return "unknown";
}

static Counters *counters_new(void)
{
  Counters *c = g_new0(Counters, 1);
  g_atomic_ref_count_init(&c->ref);
  return c;
}

static Counters *counters_ref(Counters *c)
{
  g_atomic_ref_count_inc(&c->ref);
  return c;
}

static void counters_unref(gpointer data)
{
  Counters *c = data;
  if (g_atomic_ref_count_dec(&c->ref))
    g_free(c);
}

static guint64 counter_get(atomic_uint_fast64_t *v)
{
  return atomic_load_explicit(v, memory_order_relaxed);
}

static SfuRoom *room_ref(SfuRoom *room)
{
  g_atomic_ref_count_inc(&room->ref);
  return room;
}

static void room_unref(SfuRoom *room)
{
  if (!g_atomic_ref_count_dec(&room->ref))
    return;
  g_free(room->id);
  g_free(room);
}

static PcCtx *pc_ctx_ref(PcCtx *ctx)
{
  g_atomic_ref_count_inc(&ctx->ref);
  return ctx;
}

static void pc_ctx_unref(gpointer data)
{
  PcCtx *ctx = data;
  if (!g_atomic_ref_count_dec(&ctx->ref))
    return;
  room_unref(ctx->room);
  g_free(ctx->participant_id);
  g_free(ctx->pc_id);
  g_weak_ref_clear(&ctx->webrtc);
  for (int m = 0; m < MEDIA_N; m++)
    g_clear_object(&ctx->tee[m]);
  g_clear_pointer(&ctx->ingress, sfu_ingress_unref);
  g_clear_pointer(&ctx->egress, sfu_egress_unref);
  /* Empty: every promise kept here carries a ref on the ctx. */
  g_ptr_array_unref(ctx->promises);
  g_mutex_clear(&ctx->lock);
  g_free(ctx);
}

static void pc_ctx_closure_unref(gpointer data, GClosure *closure)
{
  pc_ctx_unref(data);
}

static PcCtx *pc_ctx_new(SfuRoom *room, const char *participant_id, const char *pc_id, guint serial,
                         GstElement *webrtc)
{
  PcCtx *ctx = g_new0(PcCtx, 1);
  g_atomic_ref_count_init(&ctx->ref);
  ctx->room = room_ref(room);
  ctx->context = room->relay->context;
  ctx->participant_id = g_strdup(participant_id);
  ctx->pc_id = g_strdup(pc_id);
  ctx->serial = serial;
  g_weak_ref_init(&ctx->webrtc, webrtc);
  ctx->audio_red_pt = -1;
  g_mutex_init(&ctx->lock);
  ctx->promises = g_ptr_array_new();
  return ctx;
}

/* Any thread. A promise to give webrtcbin, kept by the ctx until it is answered; the caller
 * owns the returned ref. */
static GstPromise *pc_ctx_promise_new(PcCtx *ctx, GstPromiseChangeFunc func, gpointer data,
                                      GDestroyNotify notify)
{
  GstPromise *promise = gst_promise_new_with_change_func(func, data, notify);
  g_mutex_lock(&ctx->lock);
  /* A closed webrtcbin answers at once (an error) instead of queueing a task. */
  if (!ctx->closed)
    g_ptr_array_add(ctx->promises, gst_promise_ref(promise));
  g_mutex_unlock(&ctx->lock);
  return promise;
}

/* Any thread, first thing in a change func: the ctx lets go of the answered promise and hands
 * its ref to the caller (NULL if it had none), to drop when the handler is done. */
static GstPromise *pc_ctx_promise_settle(PcCtx *ctx, GstPromise *promise)
{
  g_mutex_lock(&ctx->lock);
  gboolean held = g_ptr_array_remove_fast(ctx->promises, promise);
  g_mutex_unlock(&ctx->lock);
  return held ? promise : NULL;
}

/* Main thread, once the webrtcbin is in NULL: its thread is gone and nothing will answer the
 * promises left (see PcCtx). Interrupting them runs their change funcs, which do nothing for an
 * interrupted promise (promise_dropped()), and releases what they carry. */
static void pc_ctx_close(PcCtx *ctx)
{
  g_mutex_lock(&ctx->lock);
  ctx->closed = TRUE;
  GPtrArray *left = ctx->promises;
  ctx->promises = g_ptr_array_new();
  g_mutex_unlock(&ctx->lock);
  if (left->len)
    GST_DEBUG("room %s %s/%s: %u promises left unanswered by webrtcbin", ctx->room->id,
              ctx->participant_id, ctx->pc_id, left->len);
  for (guint i = 0; i < left->len; i++) {
    GstPromise *promise = g_ptr_array_index(left, i);
    gst_promise_interrupt(promise); /* a no-op on an answered one */
    gst_promise_unref(promise);
  }
  g_ptr_array_unref(left);
}

static void event_free(gpointer data)
{
  Event *ev = data;
  room_unref(ev->room);
  g_free(ev->participant_id);
  g_free(ev->pc_id);
  g_free(ev->text);
  gst_clear_caps(&ev->caps);
  gst_clear_object(&ev->pad);
  g_free(ev);
}

static Event *event_new(PcCtx *ctx, EventKind kind)
{
  Event *ev = g_new0(Event, 1);
  ev->kind = kind;
  ev->room = room_ref(ctx->room);
  ev->participant_id = g_strdup(ctx->participant_id);
  ev->pc_id = g_strdup(ctx->pc_id);
  ev->serial = ctx->serial;
  return ev;
}

static gboolean event_dispatch(gpointer data);
static void subscriber_setup_hold(SfuRoom *room, Participant *s, gint64 now);

/* Any thread. Always through an idle source so that callbacks never run inside an sfu_ call. */
static void event_post(PcCtx *ctx, Event *ev)
{
  GSource *source = g_idle_source_new();
  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  g_source_set_callback(source, event_dispatch, ev, event_free);
  g_source_set_static_name(source, "mashwara-sfu event");
  g_source_attach(source, ctx->context);
  g_source_unref(source);
}

static void post_state(PcCtx *ctx, SfuPcState state)
{
  Event *ev = event_new(ctx, EV_STATE);
  ev->state = state;
  event_post(ctx, ev);
}

static Participant *room_find(SfuRoom *room, const char *participant_id)
{
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *p = g_ptr_array_index(room->participants, i);
    if (strcmp(p->id, participant_id) == 0)
      return p;
  }
  return NULL;
}

static Pc *participant_find_pc(Participant *p, const char *pc_id)
{
  if (strcmp(pc_id, "pub") == 0)
    return p->pub;
  if (g_str_has_prefix(pc_id, "sub:"))
    return g_hash_table_lookup(p->subs, pc_id + 4);
  return NULL;
}

static Pc *room_find_pc(SfuRoom *room, const char *participant_id, const char *pc_id,
                        GError **error)
{
  Participant *p = room_find(room, participant_id);
  Pc *pc = p ? participant_find_pc(p, pc_id) : NULL;
  if (!pc)
    g_set_error(error, SFU_ERROR, SFU_ERROR_NOT_FOUND, "no peer connection %s of %s in room %s",
                pc_id, participant_id, room->id);
  return pc;
}

static int media_of_caps(const GstCaps *caps)
{
  if (!caps || gst_caps_get_size(caps) == 0)
    return -1;
  const char *media = gst_structure_get_string(gst_caps_get_structure(caps, 0), "media");
  for (int m = 0; media && m < MEDIA_N; m++)
    if (strcmp(media, media_names[m]) == 0)
      return m;
  return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Pad probes (streaming threads): one relaxed atomic add per counter, no allocation.       */

static void count_buffers(GstPadProbeInfo *info, guint64 *packets, guint64 *bytes)
{
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    *packets = 1;
    *bytes = gst_buffer_get_size(GST_PAD_PROBE_INFO_BUFFER(info));
  } else {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
    guint n = gst_buffer_list_length(list);
    *packets = n;
    *bytes = 0;
    for (guint i = 0; i < n; i++)
      *bytes += gst_buffer_get_size(gst_buffer_list_get(list, i));
  }
}

static GstPadProbeReturn received_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Counters *c = data;
  guint64 packets, bytes;
  count_buffers(info, &packets, &bytes);
  atomic_fetch_add_explicit(&c->packets_received, packets, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->bytes_received, bytes, memory_order_relaxed);
  return GST_PAD_PROBE_OK;
}

typedef struct {
  Counters *publisher;
  Counters *subscriber;
} BranchCounters;

static void branch_counters_free(gpointer data)
{
  BranchCounters *bc = data;
  counters_unref(bc->publisher);
  counters_unref(bc->subscriber);
  g_free(bc);
}

static GstPadProbeReturn forwarded_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  BranchCounters *bc = data;
  guint64 packets, bytes;
  count_buffers(info, &packets, &bytes);
  atomic_fetch_add_explicit(&bc->publisher->packets_forwarded, packets, memory_order_relaxed);
  atomic_fetch_add_explicit(&bc->publisher->bytes_forwarded, bytes, memory_order_relaxed);
  atomic_fetch_add_explicit(&bc->subscriber->packets_sent, packets, memory_order_relaxed);
  return GST_PAD_PROBE_OK;
}

static KeyframeWatch *keyframe_watch_ref(KeyframeWatch *w)
{
  g_atomic_ref_count_inc(&w->ref);
  return w;
}

static void keyframe_watch_unref(gpointer data)
{
  KeyframeWatch *w = data;
  if (!g_atomic_ref_count_dec(&w->ref))
    return;
  g_free(w->name);
  g_free(w);
}

/* On a video branch's queue src pad: notes each keyframe that goes to the subscriber, and logs
 * the subscriber's own keyframe requests (its PLIs, turned into upstream events). */
static GstPadProbeReturn keyframe_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  KeyframeWatch *w = data;
  gboolean key = FALSE;
  if (!(info->type & GST_PAD_PROBE_TYPE_EVENT_UPSTREAM) &&
      !atomic_load_explicit(&w->armed, memory_order_relaxed))
    return GST_PAD_PROBE_OK;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    key = sfu_vp8_keyframe_start(GST_PAD_PROBE_INFO_BUFFER(info));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
    for (guint i = 0; !key && i < gst_buffer_list_length(list); i++)
      key = sfu_vp8_keyframe_start(gst_buffer_list_get(list, i));
  } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_UPSTREAM) {
    if (gst_video_event_is_force_key_unit(GST_PAD_PROBE_INFO_EVENT(info)))
      GST_DEBUG("%s: the subscriber asks for a keyframe", w->name);
    return GST_PAD_PROBE_OK;
  }
  if (key) {
    atomic_store(&w->keyframe_us, g_get_monotonic_time());
    atomic_store(&w->armed, FALSE);
    GST_LOG("%s: keyframe forwarded", w->name);
  }
  return GST_PAD_PROBE_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* webrtcbin handlers (webrtcbin and streaming threads)                                      */

typedef struct {
  PcCtx *ctx; /* (owned ref) */
  char *sdp;
} OfferReply;

static void offer_reply_free(gpointer data)
{
  OfferReply *r = data;
  pc_ctx_unref(r->ctx);
  g_free(r->sdp);
  g_free(r);
}

/* TRUE if pc_ctx_close() interrupted the promise: the peer connection is gone. */
static gboolean promise_dropped(GstPromise *promise)
{
  return gst_promise_wait(promise) == GST_PROMISE_RESULT_INTERRUPTED;
}

/* TRUE if the promise was answered without an "error" field. */
static gboolean promise_ok(GstPromise *promise, const char *what, PcCtx *ctx)
{
  GstPromiseResult result = gst_promise_wait(promise);
  const GstStructure *reply =
      result == GST_PROMISE_RESULT_REPLIED ? gst_promise_get_reply(promise) : NULL;
  if (result != GST_PROMISE_RESULT_REPLIED) {
    GST_WARNING("room %s %s/%s: %s promise not replied (%d)", ctx->room->id, ctx->participant_id,
                ctx->pc_id, what, result);
    return FALSE;
  }
  if (reply && gst_structure_has_field(reply, "error")) {
    GError *err = NULL;
    gst_structure_get(reply, "error", G_TYPE_ERROR, &err, NULL);
    GST_WARNING("room %s %s/%s: %s failed: %s", ctx->room->id, ctx->participant_id, ctx->pc_id,
                what, err ? err->message : "?");
    g_clear_error(&err);
    return FALSE;
  }
  return TRUE;
}

static void on_local_description_set(GstPromise *promise, gpointer data)
{
  OfferReply *r = data;
  g_autoptr(GstPromise) held G_GNUC_UNUSED = pc_ctx_promise_settle(r->ctx, promise);
  if (promise_dropped(promise))
    return;
  if (!promise_ok(promise, "set-local-description", r->ctx)) {
    post_state(r->ctx, SFU_PC_FAILED);
    return;
  }
  /* Candidates are gathered by tasks queued after this one, so this event is queued first. */
  Event *ev = event_new(r->ctx, EV_OFFER);
  ev->text = g_steal_pointer(&r->sdp);
  event_post(r->ctx, ev);
}

static void redenc_audio_distance_all(GstElement *webrtc, int audio_red, PcCtx *ctx);

static void on_offer_created(GstPromise *promise, gpointer data)
{
  PcCtx *ctx = data;
  GstWebRTCSessionDescription *offer = NULL;
  GstElement *webrtc = NULL;
  g_autoptr(GstPromise) held G_GNUC_UNUSED = pc_ctx_promise_settle(ctx, promise);

  if (promise_dropped(promise))
    return;
  if (!promise_ok(promise, "create-offer", ctx))
    goto fail;
  const GstStructure *reply = gst_promise_get_reply(promise);
  if (!reply ||
      !gst_structure_get(reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, NULL) ||
      !offer || !offer->sdp) {
    /* PROBE saw an empty offer once */
    GST_WARNING("room %s %s/%s: empty offer", ctx->room->id, ctx->participant_id, ctx->pc_id);
    goto fail;
  }
  webrtc = g_weak_ref_get(&ctx->webrtc);
  if (!webrtc)
    goto out;
  OfferReply *r = g_new0(OfferReply, 1);
  r->ctx = pc_ctx_ref(ctx);
  char *text = gst_sdp_message_as_text(offer->sdp);
  int red_pt = -1;
  r->sdp = sfu_sdp_audio_red(text, SFU_AUDIO_PT, ctx->ingress != NULL, &red_pt);
  g_free(text);
  g_atomic_int_set(&ctx->audio_red_pt, red_pt);
  if (ctx->ingress)
    sfu_ingress_set_audio_red_pt(ctx->ingress, red_pt);
  else if (red_pt > 0)
    redenc_audio_distance_all(webrtc, red_pt, ctx);
  GstPromise *next = pc_ctx_promise_new(ctx, on_local_description_set, r, offer_reply_free);
  g_signal_emit_by_name(webrtc, "set-local-description", offer, next);
  gst_promise_unref(next);
  goto out;
fail:
  post_state(ctx, SFU_PC_FAILED);
out:
  if (offer)
    gst_webrtc_session_description_free(offer);
  g_clear_object(&webrtc);
}

static void on_negotiation_needed(GstElement *webrtc, gpointer data)
{
  PcCtx *ctx = data;
  GST_DEBUG("room %s %s/%s: negotiation needed", ctx->room->id, ctx->participant_id, ctx->pc_id);
  GstPromise *promise = pc_ctx_promise_new(ctx, on_offer_created, pc_ctx_ref(ctx), pc_ctx_unref);
  g_signal_emit_by_name(webrtc, "create-offer", NULL, promise);
  gst_promise_unref(promise);
}

static void on_ice_candidate(GstElement *webrtc, guint mline, const char *candidate, gpointer data)
{
  PcCtx *ctx = data;
  if (!candidate || !*candidate)
    return;
  Event *ev = event_new(ctx, EV_CANDIDATE);
  ev->mline = mline;
  ev->text = g_strdup(candidate);
  event_post(ctx, ev);
}

static void on_connection_state(GstElement *webrtc, GParamSpec *pspec, gpointer data)
{
  PcCtx *ctx = data;
  GstWebRTCPeerConnectionState state;
  g_object_get(webrtc, "connection-state", &state, NULL);
  /* GstWebRTCPeerConnectionState and SfuPcState list the same states in the same order. */
  G_STATIC_ASSERT(GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED == (int)SFU_PC_CLOSED);
  post_state(ctx, (SfuPcState)state);
}

/* A stream arrived on a publish connection: webrtcbin announces it on a src pad, which carries
 * the first packets only (until the ingress takes the stream over at the jitter buffer's sink
 * pad): it ends in a fakesink at once (an unlinked webrtcbin src pad would make rtpbin return
 * not-linked). Then tell the main context, which starts the ingress. */
static void on_pad_added(GstElement *webrtc, GstPad *pad, gpointer data)
{
  PcCtx *ctx = data;
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
    return;
  GstCaps *caps = gst_pad_get_current_caps(pad);
  if (!caps)
    caps = gst_pad_query_caps(pad, NULL);
  int media = media_of_caps(caps);
  GstElement *sink = gst_element_factory_make("fakesink", NULL);
  GstObject *bin = gst_object_get_parent(GST_OBJECT(webrtc));
  if (sink && bin) {
    g_object_set(sink, "async", FALSE, "sync", FALSE, NULL);
    gst_bin_add(GST_BIN(bin), sink);
    gst_element_sync_state_with_parent(sink);
    GstPad *sp = gst_element_get_static_pad(sink, "sink");
    gst_pad_link(pad, sp);
    gst_object_unref(sp);
  } else if (sink) {
    gst_object_unref(sink);
  }
  if (bin)
    gst_object_unref(bin);
  if (media < 0 || !ctx->ingress) {
    /* a subscription's stray pad */
    GST_WARNING("room %s %s/%s: unexpected stream %" GST_PTR_FORMAT, ctx->room->id,
                ctx->participant_id, ctx->pc_id, caps);
    gst_clear_caps(&caps);
    return;
  }
  GST_INFO("room %s %s: %s stream %" GST_PTR_FORMAT, ctx->room->id, ctx->participant_id,
           media_names[media], caps);
  Event *ev = event_new(ctx, EV_STREAM);
  ev->media = media;
  ev->caps = caps;
  ev->pad = gst_object_ref(pad);
  event_post(ctx, ev);
}

/* ---------------------------------------------------------------------------------------- */
/* Peer connections (main thread)                                                            */

static void count_finalized(gpointer data, GObject *where)
{
  g_atomic_int_dec_and_test((gint *)data);
}

static void configure_ice(SfuRelay *relay, GstElement *webrtc)
{
  GstWebRTCICE *ice = NULL;
  g_object_get(webrtc, "ice-agent", &ice, NULL);
  if (!ice)
    return;
  if (relay->min_port)
    g_object_set(ice, "min-rtp-port", relay->min_port, NULL);
  if (relay->max_port)
    g_object_set(ice, "max-rtp-port", relay->max_port, NULL);
  /* ICE-TCP: libnice gathers passive TCP host candidates (a listening socket per component, in
   * the same port range) and active ones (port 9), used only when a peer cannot reach the UDP
   * ones: a patient's network that drops UDP connects to the passive one, RFC 4571 framing. On
   * by default in libnice 0.1.21; set here so the configuration decides, not a library default.
   * "ice-tcp"/"ice-udp" are GstWebRTCNice's (1.22), forwarded to its NiceAgent. */
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "ice-tcp"))
    g_object_set(ice, "ice-tcp", relay->ice_tcp, "ice-udp", TRUE, NULL);
  else if (relay->ice_tcp)
    GST_WARNING("this GstWebRTCICE has no ice-tcp property: no ICE-TCP candidates");
  NiceAgent *agent = NULL;
  g_object_get(ice, "agent", &agent, NULL);
  /* A server has no NAT gateway to ask for port mappings; UPnP only adds SSDP traffic. */
  if (agent)
    g_object_set(agent, "upnp", FALSE, NULL);
  if (relay->ice_addresses && relay->ice_addresses[0]) {
    for (char **a = relay->ice_addresses; agent && *a; a++) {
      NiceAddress addr;
      nice_address_init(&addr);
      if (!nice_address_set_from_string(&addr, *a) || !nice_agent_add_local_address(agent, &addr))
        GST_WARNING("cannot use ICE address %s", *a);
    }
  }
  g_clear_object(&agent);
  gst_object_unref(ice);
  if (relay->stun_server)
    g_object_set(webrtc, "stun-server", relay->stun_server, NULL);
  if (relay->turn_server)
    g_object_set(webrtc, "turn-server", relay->turn_server, NULL);
}

/* webrtcbin thread: a subscription's RED encoders get their payload type on negotiation. The
 * audio one sends each Opus packet with the previous one as a redundant block (RFC 2198, as
 * Chrome does): a lost packet costs nothing unless its successor is lost too. Video RED only
 * carries ULPFEC, whose share the relay sets per leg. */
static void redenc_audio_distance(GObject *redenc, int audio_red, PcCtx *ctx)
{
  int pt = -1;
  g_object_get(redenc, "pt", &pt, NULL);
  if (pt > 0 && pt == audio_red) {
    g_object_set(redenc, "distance", 1u, NULL);
    GST_DEBUG("room %s %s/%s: audio RED (pt %d) with one redundant block", ctx->room->id,
              ctx->participant_id, ctx->pc_id, pt);
  }
}

static void on_redenc_pt(GObject *redenc, GParamSpec *pspec, gpointer data)
{
  PcCtx *ctx = data;
  redenc_audio_distance(redenc, g_atomic_int_get(&ctx->audio_red_pt), ctx);
}

typedef struct {
  int audio_red;
  PcCtx *ctx;
} RedencWalk;

static void redenc_walk_one(const GValue *value, gpointer data)
{
  RedencWalk *w = data;
  GstElement *e = g_value_get_object(value);
  GstElementFactory *f = gst_element_get_factory(e);
  if (f && strcmp(GST_OBJECT_NAME(f), "rtpredenc") == 0)
    redenc_audio_distance(G_OBJECT(e), w->audio_red, w->ctx);
}

/* The offer has just named RED's payload type: webrtcbin may have set it on the subscription's
 * encoder before (on_redenc_pt() then knew no RED payload type yet, and that leg sent Opus
 * alone inside RED: bench/weak's patient pages received 63 bytes a packet on some legs, ~125 on
 * others). */
static void redenc_audio_distance_all(GstElement *webrtc, int audio_red, PcCtx *ctx)
{
  RedencWalk w = {audio_red, ctx};
  GstIterator *it = gst_bin_iterate_recurse(GST_BIN(webrtc));
  gst_iterator_foreach(it, redenc_walk_one, &w); /* resyncs by itself; setting twice is harmless */
  gst_iterator_free(it);
}

/* Streaming thread, after a subscription's RED encoder (before its rtpsession): rtpredenc
 * 1.22.0 gives the RED packets it builds the transport-wide extension under id 1 instead of
 * the negotiated one (sfu-fec.h), so rtpsession would number none of them. Video only: the
 * leg's estimator measures video (sfu-egress.c adds the audio rate to it), so the audio's RED
 * packets stay unnumbered as before. */
static gboolean red_ext_fix(GstBuffer **buf, int audio_red, PcCtx *ctx)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint16 bits = 0;
  gpointer data = NULL;
  guint words = 0;
  gssize at = -1;
  if (!gst_rtp_buffer_map(*buf, GST_MAP_READ, &rtp))
    return FALSE;
  guint8 pt = gst_rtp_buffer_get_payload_type(&rtp);
  const guint8 *block = gst_rtp_buffer_get_payload(&rtp);
  /* A video RED packet whose (only) block is not VP8 carries ULPFEC. */
  if (pt != audio_red && pt != SFU_VIDEO_PT && block && gst_rtp_buffer_get_payload_len(&rtp) > 1 &&
      (block[0] & 0x7f) != SFU_VIDEO_PT)
    g_atomic_int_inc(&ctx->fec_packets);
  if (pt != audio_red && gst_rtp_buffer_get_extension_data(&rtp, &bits, &data, &words) &&
      bits == 0xBEDE)
    at = sfu_fec_ext_misplaced(data, (gsize)words * 4, 1, SFU_TWCC_EXT_ID);
  gst_rtp_buffer_unmap(&rtp);
  if (at < 0)
    return FALSE;
  /* The same bytes in a writable buffer (rtpredenc's own new buffer: no copy): rename there. */
  *buf = gst_buffer_make_writable(*buf);
  if (!gst_rtp_buffer_map(*buf, GST_MAP_READWRITE, &rtp))
    return FALSE;
  if (gst_rtp_buffer_get_extension_data(&rtp, &bits, &data, &words) && (gsize)at < words * 4u)
    sfu_fec_ext_rename((guint8 *)data + at, SFU_TWCC_EXT_ID);
  gst_rtp_buffer_unmap(&rtp);
  return TRUE;
}

static GstPadProbeReturn red_ext_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)pad;
  PcCtx *ctx = data;
  int audio_red = g_atomic_int_get(&ctx->audio_red_pt);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    if (red_ext_fix(&buf, audio_red, ctx))
      GST_PAD_PROBE_INFO_DATA(info) = buf;
  } else {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
    list = gst_buffer_list_make_writable(list);
    for (guint i = 0; i < gst_buffer_list_length(list); i++) {
      GstBuffer *buf = gst_buffer_ref(gst_buffer_list_get(list, i));
      if (red_ext_fix(&buf, audio_red, ctx)) {
        gst_buffer_list_remove(list, i, 1);
        gst_buffer_list_insert(list, (gint)i, buf);
      } else
        gst_buffer_unref(buf);
    }
    GST_PAD_PROBE_INFO_DATA(info) = list;
  }
  return GST_PAD_PROBE_OK;
}

/* RTCP thread: a subscriber's feedback on its leg: transport-cc goes to the leg's estimator;
 * REMB (Chrome's own downlink estimate, which it sends on these legs) is taken as it is. */
static void on_feedback_rtcp(GObject *session, guint type, guint fbtype, guint sender_ssrc,
                             guint media_ssrc, GstBuffer *fci, gpointer data)
{
  PcCtx *ctx = data;
  GST_LOG("room %s %s/%s: feedback %u/%u", ctx->room->id, ctx->participant_id, ctx->pc_id, type,
          fbtype);
  gboolean twcc = type == GST_RTCP_TYPE_RTPFB && fbtype == GST_RTCP_RTPFB_TYPE_TWCC;
  gboolean remb = type == GST_RTCP_TYPE_PSFB && fbtype == GST_RTCP_PSFB_TYPE_AFB;
  GstMapInfo map;
  if ((!twcc && !remb) || !fci || !gst_buffer_map(fci, &map, GST_MAP_READ))
    return;
  if (twcc)
    sfu_egress_on_feedback(ctx->egress, map.data, map.size);
  else
    sfu_egress_on_remb(ctx->egress, map.data, map.size);
  gst_buffer_unmap(fci, &map);
}

/* A subscription's rtpsession writes the leg's own transport-wide sequence numbers into the
 * packets (over the publisher's): the egress learns the send times on its send_rtp_src pad. */
static void on_session_pad_added(GstElement *session, GstPad *pad, gpointer data)
{
  PcCtx *ctx = data;
  if (strcmp(GST_PAD_NAME(pad), "send_rtp_src") == 0)
    sfu_egress_watch_sent(ctx->egress, pad);
}

/* webrtcbin thread: a publish connection's rtpsession and jitter buffers, and a
 * subscription's rtpsession, are created on negotiation. */
static void on_deep_element_added(GstBin *bin, GstBin *sub_bin, GstElement *element, gpointer data)
{
  PcCtx *ctx = data;
  GstElementFactory *f = gst_element_get_factory(element);
  if (f && strcmp(GST_OBJECT_NAME(f), "rtpredenc") == 0 && !ctx->ingress) {
    g_signal_connect_data(element, "notify::pt", G_CALLBACK(on_redenc_pt), pc_ctx_ref(ctx),
                          pc_ctx_closure_unref, 0);
    /* Its payload type may have been set before it was added (no notify for us then). */
    redenc_audio_distance(G_OBJECT(element), g_atomic_int_get(&ctx->audio_red_pt), ctx);
    GstPad *src = gst_element_get_static_pad(element, "src");
    if (src) {
      gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                        red_ext_probe, pc_ctx_ref(ctx), pc_ctx_unref);
      gst_object_unref(src);
    }
  } else if (f && strcmp(GST_OBJECT_NAME(f), "rtpjitterbuffer") == 0 && ctx->ingress) {
    sfu_ingress_watch_jitterbuffer(ctx->ingress, element);
  } else if (f && strcmp(GST_OBJECT_NAME(f), "rtpsession") == 0 && ctx->egress) {
    GObject *session = NULL;
    g_object_get(element, "internal-session", &session, NULL);
    GST_DEBUG("room %s %s/%s: reading feedback of %s", ctx->room->id, ctx->participant_id,
              ctx->pc_id, GST_OBJECT_NAME(element));
    if (session) {
      g_signal_connect_data(session, "on-feedback-rtcp", G_CALLBACK(on_feedback_rtcp),
                            pc_ctx_ref(ctx), pc_ctx_closure_unref, 0);
      g_object_unref(session);
    }
    g_signal_connect_data(element, "pad-added", G_CALLBACK(on_session_pad_added), pc_ctx_ref(ctx),
                          pc_ctx_closure_unref, 0);
  } else if (f && strcmp(GST_OBJECT_NAME(f), "rtprtxsend") == 0 && ctx->egress) {
    /* Retransmit only what is still worth having: after an outage the subscriber asks for
     * every packet it missed, and answering from a 500-packet cache sent a burst at several
     * times the leg's rate into the link that had just come back (then loss, then a pause). */
    g_object_set(element, "max-size-time", (guint)SFU_RTX_MAX_AGE_MS, NULL);
    sfu_egress_watch_rtx(ctx->egress, element);
  } else if (f && strcmp(GST_OBJECT_NAME(f), "rtpsession") == 0 && ctx->ingress) {
    g_object_set(element, "bandwidth", SFU_PUBLISH_RTP_BANDWIDTH, NULL);
    sfu_ingress_watch_session(ctx->ingress, element);
    GST_DEBUG("%s: %s bandwidth %.0f bit/s", GST_OBJECT_NAME(bin), GST_OBJECT_NAME(element),
              SFU_PUBLISH_RTP_BANDWIDTH);
  }
}

/* A configured webrtcbin in state NULL, not yet in the pipeline. Its handlers are connected
 * before any state change: otherwise on-negotiation-needed never fires. */
static Pc *pc_new(SfuRoom *room, Participant *p, const char *pc_id, SfuEgress *egress,
                  GError **error)
{
  guint serial = ++room->next_serial;
  g_autofree char *name = g_strdup_printf("pc%u", serial);
  GstElement *webrtc = gst_element_factory_make("webrtcbin", name);
  if (!webrtc) {
    g_set_error(error, SFU_ERROR, SFU_ERROR_FAILED, "cannot create webrtcbin");
    return NULL;
  }
  gst_object_ref_sink(webrtc);
  g_atomic_int_inc(&room->relay->peer_connections);
  g_object_weak_ref(G_OBJECT(webrtc), count_finalized, &room->relay->peer_connections);
  gst_util_set_object_arg(G_OBJECT(webrtc), "bundle-policy", "max-bundle");
  g_object_set(webrtc, "latency", SFU_LATENCY_MS, NULL);
  configure_ice(room->relay, webrtc);

  PcCtx *ctx = pc_ctx_new(room, p->id, pc_id, serial, webrtc);
  gboolean is_pub = strcmp(pc_id, "pub") == 0;
  for (int m = 0; is_pub && m < MEDIA_N; m++)
    ctx->tee[m] = gst_object_ref(p->tee[m]);
  if (is_pub)
    ctx->ingress = sfu_ingress_ref(p->ingress);
  if (egress)
    ctx->egress = sfu_egress_ref(egress);
  g_signal_connect_data(webrtc, "deep-element-added", G_CALLBACK(on_deep_element_added),
                        pc_ctx_ref(ctx), pc_ctx_closure_unref, 0);

  g_signal_connect_data(webrtc, "on-negotiation-needed", G_CALLBACK(on_negotiation_needed),
                        pc_ctx_ref(ctx), pc_ctx_closure_unref, 0);
  g_signal_connect_data(webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), pc_ctx_ref(ctx),
                        pc_ctx_closure_unref, 0);
  g_signal_connect_data(webrtc, "notify::connection-state", G_CALLBACK(on_connection_state),
                        pc_ctx_ref(ctx), pc_ctx_closure_unref, 0);
  g_signal_connect_data(webrtc, "pad-added", G_CALLBACK(on_pad_added), pc_ctx_ref(ctx),
                        pc_ctx_closure_unref, 0);

  Pc *pc = g_new0(Pc, 1);
  pc->ctx = ctx;
  pc->pc_id = g_strdup(pc_id);
  pc->serial = serial;
  pc->webrtc = webrtc;
  pc->state = SFU_PC_NEW;
  pc->branches = g_ptr_array_new();
  pc->created_us = g_get_monotonic_time();
  return pc;
}

static void detach_unref(gpointer data)
{
  Detach *d = data;
  if (!g_atomic_ref_count_dec(&d->ref))
    return;
  g_mutex_clear(&d->lock);
  g_cond_clear(&d->cond);
  g_free(d);
}

static GstPadProbeReturn branch_idle_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Detach *d = data;
  GstPad *peer = gst_pad_get_peer(pad);
  if (peer) {
    gst_pad_unlink(pad, peer);
    gst_object_unref(peer);
  }
  g_mutex_lock(&d->lock);
  d->unlinked = TRUE;
  g_cond_signal(&d->cond);
  g_mutex_unlock(&d->lock);
  return GST_PAD_PROBE_REMOVE;
}

/* Cuts the branch off its tee without disturbing the tee's other branches: unlink only while
 * the tee src pad is idle (between two pushes), then release it. The wait is short: the push
 * in progress goes into a leaky queue, which never blocks. The probe holds its own ref on the
 * handshake, so a probe that fires after the timeout touches no freed memory. */
static void branch_detach(Branch *b)
{
  if (!b->tee_pad)
    return;
  Detach *d = g_new0(Detach, 1);
  g_atomic_ref_count_init(&d->ref);
  g_mutex_init(&d->lock);
  g_cond_init(&d->cond);
  g_atomic_ref_count_inc(&d->ref);
  gst_pad_add_probe(b->tee_pad, GST_PAD_PROBE_TYPE_IDLE, branch_idle_probe, d, detach_unref);
  gint64 deadline = g_get_monotonic_time() + G_TIME_SPAN_SECOND;
  g_mutex_lock(&d->lock);
  while (!d->unlinked)
    if (!g_cond_wait_until(&d->cond, &d->lock, deadline))
      break;
  gboolean unlinked = d->unlinked;
  g_mutex_unlock(&d->lock);
  detach_unref(d);
  if (!unlinked)
    GST_WARNING("tee pad %s not idle after 1 s; releasing anyway", GST_PAD_NAME(b->tee_pad));
  gst_element_release_request_pad(b->tee, b->tee_pad);
  gst_clear_object(&b->tee_pad);
}

/* The subscriber's webrtcbin is going away with its request pads: no need to release them. */
static void branch_free(Branch *b, GstBin *bin)
{
  branch_detach(b);
  if (b->queue) {
    gst_element_set_state(b->queue, GST_STATE_NULL);
    gst_bin_remove(bin, b->queue);
    gst_object_unref(b->queue);
  }
  gst_object_unref(b->sink_pad);
  gst_object_unref(b->tee);
  if (b->watch)
    keyframe_watch_unref(b->watch);
  g_free(b);
}

/* TRUE (stops the walk) when `pad` has a blocking probe. */
static gboolean pad_blocked(GstElement *element, GstPad *pad, gpointer data)
{
  if (gst_pad_is_blocked(pad))
    *(gboolean *)data = TRUE;
  return !*(gboolean *)data;
}

/* webrtcbin 1.22 leaks a transport's receive bin (with its nicesrc, and so the NiceAgent and its
 * UDP and TCP sockets) when its task thread applies a description while the webrtcbin is going
 * to NULL: the webrtcbin stops that thread only after its children have reached NULL, and the
 * task then sets the receive bin's pad block (transport_receive_bin_set_receive_state(BLOCK)) on
 * a bin already at NULL. That block holds a reference to the receive bin itself, dropped only by
 * the bin's own READY_TO_NULL, which will not come again: the bin is never finalized. Found with
 * the leaks tracer on the join/leave stress test (31 TransportReceiveBins, nicesrc and all, alive
 * at exit; the agents outlived their webrtcbin). Once the webrtcbin is NULL (thread stopped,
 * nothing can change any more), a receive bin with a blocked pad inside is taken through READY and
 * back to NULL, whose READY_TO_NULL frees the block. */
static void pc_sweep(Pc *pc)
{
  g_autoptr(GPtrArray) blocked = g_ptr_array_new_with_free_func(gst_object_unref);
  GstIterator *it = gst_bin_iterate_recurse(GST_BIN(pc->webrtc));
  GValue v = G_VALUE_INIT;
  for (gboolean done = FALSE; !done;) {
    switch (gst_iterator_next(it, &v)) {
    case GST_ITERATOR_OK: {
      GstElement *e = g_value_get_object(&v);
      gboolean is_blocked = FALSE;
      if (GST_IS_BIN(e) && strcmp(G_OBJECT_TYPE_NAME(e), "TransportReceiveBin") == 0) {
        GstIterator *inner = gst_bin_iterate_recurse(GST_BIN(e));
        GValue c = G_VALUE_INIT;
        while (!is_blocked && gst_iterator_next(inner, &c) == GST_ITERATOR_OK) {
          gst_element_foreach_pad(g_value_get_object(&c), pad_blocked, &is_blocked);
          g_value_reset(&c);
        }
        g_value_unset(&c);
        gst_iterator_free(inner);
      }
      if (is_blocked)
        g_ptr_array_add(blocked, gst_object_ref(e));
      g_value_reset(&v);
      break;
    }
    case GST_ITERATOR_RESYNC:
      gst_iterator_resync(it);
      g_ptr_array_set_size(blocked, 0);
      break;
    default:
      done = TRUE;
      break;
    }
  }
  g_value_unset(&v);
  gst_iterator_free(it);
  for (guint i = 0; i < blocked->len; i++) {
    GstElement *e = g_ptr_array_index(blocked, i);
    GST_INFO("%s: %s kept its pad block after its webrtcbin stopped: releasing it", pc->pc_id,
             GST_OBJECT_NAME(e));
    gst_element_set_state(e, GST_STATE_READY);
    gst_element_set_state(e, GST_STATE_NULL);
  }
}

static void pc_free(SfuRoom *room, Pc *pc)
{
  GstBin *bin = GST_BIN(room->pipeline);
  if (pc->keyframe_timer) {
    g_source_destroy(pc->keyframe_timer);
    g_clear_pointer(&pc->keyframe_timer, g_source_unref);
  }
  /* Detach from the tees first: the publisher keeps streaming to its other subscribers. */
  for (guint i = 0; i < pc->branches->len; i++)
    branch_detach(g_ptr_array_index(pc->branches, i));
  gst_element_set_state(pc->webrtc, GST_STATE_NULL);
  pc_sweep(pc);
  pc_ctx_close(pc->ctx);
  g_clear_pointer(&pc->ctx, pc_ctx_unref);
  for (guint i = 0; i < pc->branches->len; i++)
    branch_free(g_ptr_array_index(pc->branches, i), bin);
  g_ptr_array_free(pc->branches, TRUE);
  if (GST_OBJECT_PARENT(pc->webrtc) == GST_OBJECT(bin))
    gst_bin_remove(bin, pc->webrtc);
  gst_object_unref(pc->webrtc);
  g_clear_pointer(&pc->egress, sfu_egress_unref);
  gst_clear_object(&pc->session);
  gst_clear_object(&pc->video_trans);
  g_free(pc->publisher_id);
  g_free(pc->pc_id);
  g_free(pc);
}

/* Part one of a branch: the subscriber's sendonly transceiver (codec-preferences = the
 * publisher's caps, so the offer carries its SSRC) and, for a queued branch, its queue.
 *
 * Direct branches (the default; docs/performance.md, "Relay", step 4): the publisher's tee is
 * linked straight to the subscriber's webrtcbin, without a queue and its streaming thread (one
 * thread handoff, a futex wake and a context switch less per forwarded packet, and one thread
 * stack less per forwarded stream). The tee pad is linked only once the subscription is
 * connected (branches_link_direct()), so an unnegotiated webrtcbin never holds the publisher's
 * streaming thread; until then a gate probe drops what the tee sends it. The cost: the
 * subscriber's send path (rtpbin, RTX, SRTP, the socket) runs in the publisher's streaming
 * thread, one subscriber after the other. So a queue stays where a leg can be slow: a leg whose
 * selected pair is ICE-TCP or goes through TURN gets one when it connects, and a stream added to
 * a running subscription (renegotiation) keeps one. MW_DIAG_BRANCH_QUEUE=1 in the daemon's
 * environment brings the queue back on every branch (diagnosis, bench comparisons). */
static gboolean branch_direct(void)
{
  static gsize once;
  static gboolean direct;
  if (g_once_init_enter(&once)) {
    direct = g_strcmp0(g_getenv("MW_DIAG_BRANCH_QUEUE"), "1") != 0;
    g_once_init_leave(&once, 1);
  }
  return direct;
}

/* A branch queue (sunk): leaky downstream, bounded by time (SFU_BRANCH_QUEUE_MS). */
static GstElement *branch_queue_new(void)
{
  GstElement *queue = gst_element_factory_make("queue", NULL);
  if (!queue)
    return NULL;
  gst_object_ref_sink(queue);
  g_object_set(queue, "leaky", 2 /* downstream */, "max-size-buffers", SFU_BRANCH_QUEUE_BUFFERS,
               "max-size-bytes", 0, "max-size-time", (guint64)SFU_BRANCH_QUEUE_MS * GST_MSECOND,
               "silent", TRUE, NULL);
  return queue;
}

/* Direct branch, not linked yet: nothing goes past the tee pad (so the probes after this one,
 * counters and egress, see only what is forwarded). */
static GstPadProbeReturn direct_gate_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void)info;
  (void)data;
  return gst_pad_is_linked(pad) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

static Branch *branch_prepare(SfuRoom *room, Pc *sub, Participant *publisher,
                              Participant *subscriber, int media, gboolean late)
{
  gboolean direct = branch_direct() && !late;
  GstPad *sink_pad = gst_element_request_pad_simple(sub->webrtc, "sink_%u");
  GstElement *queue = direct ? NULL : branch_queue_new();
  if (!sink_pad || (!direct && !queue)) {
    GST_ERROR("room %s: cannot build the %s branch %s -> %s", room->id, media_names[media],
              publisher->id, subscriber->id);
    if (sink_pad)
      gst_element_release_request_pad(sub->webrtc, sink_pad);
    gst_clear_object(&sink_pad);
    if (queue)
      gst_object_unref(queue);
    return NULL;
  }
  GstWebRTCRTPTransceiver *trans = NULL;
  g_object_get(sink_pad, "transceiver", &trans, NULL);
  if (trans) {
    g_object_set(trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
                 "codec-preferences", publisher->caps[media], NULL);
    /* Video: RTX from webrtcbin's cache, and ULPFEC inside RED (every video packet is then
     * RED-wrapped) with the share leg_adapt() sets: none until the leg's loss and RTT call for
     * it. GStreamer 1.22.0's rtpredenc puts the transport-wide extension of the RED packets it
     * builds under id 1 (red_ext_probe() moves it to the negotiated id; without it Chrome sent
     * REMB instead of transport-cc feedback on every leg).
     * Audio: RED with one redundant block (its packets stay unnumbered: the egress keeps send
     * times of video only), no ULPFEC. */
    if (media == MEDIA_VIDEO) {
      g_object_set(trans, "do-nack", TRUE, NULL);
      gst_util_set_object_arg(G_OBJECT(trans), "fec-type", "ulp-red");
      g_object_set(trans, "fec-percentage", 0u, NULL);
      gst_object_replace((GstObject **)&sub->video_trans, GST_OBJECT(trans));
      sub->fec_pct = 0;
    } else {
      gst_util_set_object_arg(G_OBJECT(trans), "fec-type", "ulp-red");
      g_object_set(trans, "fec-percentage", 0u, NULL);
    }
    gst_object_unref(trans);
  }
  GstPad *tee_pad = NULL;
  GstPad *queue_src; /* where the probes go: the queue's src pad, or the tee's (direct) */
  if (direct) {
    tee_pad = gst_element_request_pad_simple(publisher->tee[media], "src_%u");
    gst_pad_add_probe(tee_pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                      direct_gate_probe, NULL, NULL);
    queue_src = gst_object_ref(tee_pad);
  } else {
    queue_src = gst_element_get_static_pad(queue, "src");
  }
  /* First: what the egress holds back, the probes below do not see. */
  sfu_egress_watch(sub->egress, queue_src, media == MEDIA_VIDEO);
  BranchCounters *bc = g_new0(BranchCounters, 1);
  bc->publisher = counters_ref(publisher->counters);
  bc->subscriber = counters_ref(subscriber->counters);
  gst_pad_add_probe(queue_src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                    forwarded_probe, bc, branch_counters_free);
  KeyframeWatch *watch = NULL;
  if (media == MEDIA_VIDEO) {
    watch = g_new0(KeyframeWatch, 1);
    g_atomic_ref_count_init(&watch->ref);
    watch->name = g_strdup_printf("room %s %s -> %s", room->id, publisher->id, subscriber->id);
    gst_pad_add_probe(queue_src,
                      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                          GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
                      keyframe_probe, keyframe_watch_ref(watch), keyframe_watch_unref);
  }
  if (!direct) {
    gst_bin_add(GST_BIN(room->pipeline), queue);
    if (gst_pad_link(queue_src, sink_pad) != GST_PAD_LINK_OK)
      GST_ERROR("room %s: cannot link the %s branch %s -> %s", room->id, media_names[media],
                publisher->id, subscriber->id);
  }
  gst_object_unref(queue_src);

  Branch *b = g_new0(Branch, 1);
  b->media = media;
  b->watch = watch;
  b->tee = gst_object_ref(publisher->tee[media]);
  b->queue = queue;
  b->sink_pad = sink_pad;
  b->tee_pad = tee_pad;
  return b;
}

/* Part two, once the subscriber's webrtcbin runs: a queue pushing into a webrtcbin in NULL
 * would get FLUSHING and stop its task for good. */
static void branch_start(Branch *b)
{
  if (!b->queue) /* direct: linked once connected, branches_link_direct() */
    return;
  gst_element_sync_state_with_parent(b->queue);
  b->tee_pad = gst_element_request_pad_simple(b->tee, "src_%u");
  GstPad *queue_sink = gst_element_get_static_pad(b->queue, "sink");
  if (!b->tee_pad || gst_pad_link(b->tee_pad, queue_sink) != GST_PAD_LINK_OK)
    GST_ERROR("cannot link tee to branch queue");
  gst_object_unref(queue_sink);
}

/* TRUE when the peer connection's selected candidate pair may make sending slow: ICE-TCP on
 * our side (libnice queues what the socket does not take, under the agent's lock) or a TURN
 * relay on either side (a TURN-over-TCP hop further on). Main thread, once connected. */
static gboolean pc_leg_slow(Pc *pc)
{
  GstWebRTCICE *ice = NULL;
  g_object_get(pc->webrtc, "ice-agent", &ice, NULL);
  NiceAgent *agent = NULL;
  if (ice)
    g_object_get(ice, "agent", &agent, NULL);
  gboolean slow = FALSE;
  /* Bundled: one stream, the first one; a few more ids cost nothing. */
  for (guint stream = 1; agent && stream <= 4 && !slow; stream++) {
    NiceCandidate *local = NULL, *remote = NULL;
    if (!nice_agent_get_selected_pair(agent, stream, 1, &local, &remote))
      continue;
    slow = local->transport != NICE_CANDIDATE_TRANSPORT_UDP ||
           local->type == NICE_CANDIDATE_TYPE_RELAYED ||
           remote->type == NICE_CANDIDATE_TYPE_RELAYED;
  }
  g_clear_object(&agent);
  gst_clear_object(&ice);
  return slow;
}

/* Direct branches of a subscription that has just connected: its webrtcbin is negotiated, so
 * linking cannot hold the publisher's streaming thread. A slow leg (pc_leg_slow()) gets a
 * queue between the tee pad and the webrtcbin instead, so that it cannot delay the
 * publisher's other subscribers; the probes stay on the tee pad. Decided once, when the
 * subscription first connects: a later change of the selected pair (an ICE restart onto TCP)
 * keeps the branch as it was. */
static void branches_link_direct(SfuRoom *room, Pc *pc)
{
  int slow = -1; /* not asked yet */
  for (guint i = 0; i < pc->branches->len; i++) {
    Branch *b = g_ptr_array_index(pc->branches, i);
    if (b->queue || !b->tee_pad || gst_pad_is_linked(b->tee_pad))
      continue;
    if (slow < 0) {
      slow = pc_leg_slow(pc);
      if (slow)
        GST_INFO("%s: TCP or TURN leg: its branches keep a queue", pc->pc_id);
    }
    GstPad *target = b->sink_pad;
    GstElement *queue = slow ? branch_queue_new() : NULL;
    if (queue) {
      gst_bin_add(GST_BIN(room->pipeline), queue);
      GstPad *queue_src = gst_element_get_static_pad(queue, "src");
      if (gst_pad_link(queue_src, b->sink_pad) != GST_PAD_LINK_OK)
        GST_ERROR("%s: cannot link the branch queue to the subscriber", pc->pc_id);
      gst_object_unref(queue_src);
      gst_element_sync_state_with_parent(queue);
      b->queue = queue;
      target = gst_element_get_static_pad(queue, "sink");
    }
    if (gst_pad_link(b->tee_pad, target) != GST_PAD_LINK_OK)
      GST_ERROR("%s: cannot link tee to subscriber", pc->pc_id);
    if (target != b->sink_pad)
      gst_object_unref(target);
  }
}

/* Subscription of `subscriber` to `publisher`'s current streams. */
static void room_subscribe(SfuRoom *room, Participant *subscriber, Participant *publisher)
{
  if (g_hash_table_contains(subscriber->subs, publisher->id))
    return;
  g_autofree char *pc_id = g_strdup_printf("sub:%s", publisher->id);
  g_autoptr(GError) error = NULL;
  g_autofree char *leg =
      g_strdup_printf("room %s %s -> %s", room->id, publisher->id, subscriber->id);
  SfuEgress *egress = sfu_egress_new(leg, SFU_LEG_START_BPS, SFU_TWCC_EXT_ID);
  Pc *pc = pc_new(room, subscriber, pc_id, egress, &error);
  if (!pc) {
    GST_ERROR("room %s: %s", room->id, error->message);
    sfu_egress_unref(egress);
    return;
  }
  pc->publisher_id = g_strdup(publisher->id);
  pc->egress = egress;
  pc->adapt.video_cap_bps = SFU_NO_CAP;
  pc->adapt.backoff_s = SFU_PROBE_BACKOFF_MIN_S;
  if (subscriber->audio_only)
    sfu_egress_set_video(pc->egress, FALSE);
  /* In the bin (for linking) but still NULL until its transceivers are set up. */
  gst_bin_add(GST_BIN(room->pipeline), pc->webrtc);
  for (int m = 0; m < MEDIA_N; m++) {
    Branch *b =
        publisher->caps[m] ? branch_prepare(room, pc, publisher, subscriber, m, FALSE) : NULL;
    if (b)
      g_ptr_array_add(pc->branches, b);
  }
  gst_element_sync_state_with_parent(pc->webrtc);
  for (guint i = 0; i < pc->branches->len; i++)
    branch_start(g_ptr_array_index(pc->branches, i));
  g_hash_table_insert(subscriber->subs, g_strdup(publisher->id), pc);
  GST_INFO("room %s: %s subscribes to %s (%u streams)", room->id, subscriber->id, publisher->id,
           pc->branches->len);
}

/* A stream that arrives after the publisher's subscriptions were offered: add it to each
 * (webrtcbin renegotiates; the browser gets a new offer on the same pc). */
static void room_add_late_stream(SfuRoom *room, Participant *publisher, int media)
{
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *s = g_ptr_array_index(room->participants, i);
    Pc *pc = s == publisher ? NULL : g_hash_table_lookup(s->subs, publisher->id);
    if (!pc)
      continue;
    Branch *b = branch_prepare(room, pc, publisher, s, media, TRUE);
    if (!b)
      continue;
    g_ptr_array_add(pc->branches, b);
    branch_start(b);
    if (media == MEDIA_VIDEO && pc->state == SFU_PC_CONNECTED)
      subscription_wants_keyframe(room, pc);
  }
}

typedef struct {
  SfuRoom *room;
  Participant *p;
} PublishTimer;

static gboolean publish_timer_fire(gpointer data)
{
  PublishTimer *t = data;
  g_clear_pointer(&t->p->publish_timer, g_source_unref);
  room_publish(t->room, t->p);
  return G_SOURCE_REMOVE;
}

static void room_publish(SfuRoom *room, Participant *p)
{
  if (p->published)
    return;
  p->published = TRUE;
  if (p->publish_timer) {
    g_source_destroy(p->publish_timer);
    g_clear_pointer(&p->publish_timer, g_source_unref);
  }
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *s = g_ptr_array_index(room->participants, i);
    if (s != p)
      room_subscribe(room, s, p);
  }
}

static gboolean keep_offer_field(GQuark field, GValue *value, gpointer data)
{
  const char *name = g_quark_to_string(field);
  /* Per-SSRC SDES of the publisher's leg ("ssrc-N-cname", "ssrc-N-msid") would land in the
   * subscriber's a=fmtp; the subscriber's webrtcbin writes its own a=ssrc lines. The rest are
   * rtpbin's receive-side details. */
  return !g_str_has_prefix(name, "ssrc-") && strcmp(name, "timestamp-offset") != 0 &&
         strcmp(name, "seqnum-offset") != 0 && strcmp(name, "clock-base") != 0;
}

/* What a subscription offers for a publisher's stream: its caps, SSRC included. */
static GstCaps *subscription_caps(const GstCaps *publisher_caps)
{
  GstCaps *caps = gst_caps_copy(publisher_caps);
  for (guint i = 0; i < gst_caps_get_size(caps); i++)
    gst_structure_filter_and_map_in_place(gst_caps_get_structure(caps, i), keep_offer_field, NULL);
  return caps;
}

static void room_stream_ready(SfuRoom *room, Participant *p, int media, GstCaps *pad_caps)
{
  g_autoptr(GstCaps) caps = subscription_caps(pad_caps);
  if (p->caps[media]) {
    if (!gst_caps_is_equal(p->caps[media], caps))
      GST_WARNING("room %s %s: the %s stream's caps differ from the answer's: %" GST_PTR_FORMAT
                  " / %" GST_PTR_FORMAT,
                  room->id, p->id, media_names[media], caps, p->caps[media]);
    gst_caps_replace(&p->caps[media], caps);
    return;
  }
  p->caps[media] = gst_caps_ref(caps);
  if (p->published) {
    room_add_late_stream(room, p, media);
    return;
  }
  gboolean all = TRUE;
  for (int m = 0; m < MEDIA_N; m++)
    all = all && p->caps[m];
  if (all) {
    room_publish(room, p);
  } else if (!p->publish_timer) {
    /* The timer is destroyed with the participant, so both pointers stay valid. */
    PublishTimer *t = g_new0(PublishTimer, 1);
    t->room = room;
    t->p = p;
    p->publish_timer = g_timeout_source_new(SFU_PUBLISH_WAIT_MS);
    g_source_set_callback(p->publish_timer, publish_timer_fire, t, g_free);
    g_source_attach(p->publish_timer, room->relay->context);
  }
}

static gboolean sdp_media_has(const GstSDPMedia *m, const char *key)
{
  for (guint i = 0; i < gst_sdp_media_attributes_len(m); i++)
    if (g_strcmp0(gst_sdp_media_get_attribute(m, i)->key, key) == 0)
      return TRUE;
  return FALSE;
}

static gboolean drop_sdp_field(GQuark field, GValue *value, gpointer data)
{
  return !g_str_has_prefix(g_quark_to_string(field), "a-");
}

/* (transfer full) The caps the stream of `media` will have on its publish pad, read from the
 * browser's answer on "pub" as webrtcbin reads them (the answer's format for the payload type
 * the relay accepts, the section's attributes but the "a-" ones) with the SSRC the browser
 * announces (the first of its FID group). NULL when the answer does not send that media or
 * names no SSRC. `*sends`: the answer sends that media. */
static GstCaps *answer_stream_caps(const GstSDPMessage *answer, int media, gboolean *sends)
{
  static const int pts[MEDIA_N] = {SFU_AUDIO_PT, SFU_VIDEO_PT};
  *sends = FALSE;
  for (guint i = 0; i < gst_sdp_message_medias_len(answer); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media(answer, i);
    if (g_strcmp0(gst_sdp_media_get_media(m), media_names[media]) != 0 ||
        gst_sdp_media_get_port(m) == 0)
      continue;
    *sends = sdp_media_has(m, "sendonly") || sdp_media_has(m, "sendrecv");
    if (!*sends)
      return NULL;
    const char *group = gst_sdp_media_get_attribute_val(m, "ssrc-group");
    const char *line = group && g_str_has_prefix(group, "FID ")
                           ? group + 4
                           : gst_sdp_media_get_attribute_val(m, "ssrc");
    char *end = NULL;
    guint64 ssrc = line ? g_ascii_strtoull(line, &end, 10) : 0;
    if (!line || end == line || ssrc > G_MAXUINT32)
      return NULL;
    GstCaps *caps = gst_sdp_media_get_caps_from_media(m, pts[media]);
    if (!caps)
      return NULL;
    if (gst_sdp_media_attributes_to_caps(m, caps) != GST_SDP_OK) {
      gst_caps_unref(caps);
      return NULL;
    }
    GstStructure *st = gst_caps_get_structure(caps, 0);
    gst_structure_set_name(st, "application/x-rtp");
    gst_structure_filter_and_map_in_place(st, drop_sdp_field, NULL);
    gst_structure_set(st, "ssrc", G_TYPE_UINT, (guint)ssrc, NULL);
    return caps;
  }
  return NULL;
}

/* The browser answered our offer on `p`'s "pub": its streams are known now, SSRCs included, so
 * its subscriptions are offered at once, in the same round as "pub" itself, and not only when
 * its first packets arrive. On a weak link the packets come after ICE and DTLS (3-6 s on edge)
 * and a subscription offered then had to set itself up and then ask for a keyframe across that
 * link again: the doctor saw the patient ~1.7 s after their subscription connected (bench/weak,
 * "call up, per stage"). Nothing is derived unless every stream the answer sends names its SSRC;
 * the pads' own caps replace these when the streams arrive (room_stream_ready()). */
static void room_publish_from_answer(SfuRoom *room, Participant *p, const GstSDPMessage *answer)
{
  GstCaps *caps[MEDIA_N] = {NULL};
  gboolean complete = TRUE;
  for (int m = 0; m < MEDIA_N; m++) {
    gboolean sends;
    caps[m] = answer_stream_caps(answer, m, &sends);
    complete = complete && (caps[m] || !sends);
  }
  for (int m = 0; m < MEDIA_N; m++) {
    if (caps[m] && complete && !p->published) {
      GST_INFO("room %s %s: %s stream announced in the answer: %" GST_PTR_FORMAT, room->id, p->id,
               media_names[m], caps[m]);
      room_stream_ready(room, p, m, caps[m]);
    }
    gst_clear_caps(&caps[m]);
  }
}

/* Asks `publisher` for a keyframe, unless it was asked less than SFU_KEYFRAME_MIN_INTERVAL_MS
 * ago: the keyframe already on its way serves every subscriber. TRUE if a request went out. */
static gboolean keyframe_request(SfuRoom *room, Participant *publisher)
{
  gint64 now = g_get_monotonic_time();
  /* A keyframe takes a round trip to come; asking again sooner only costs the uplink. */
  gint64 min_interval_us =
      MAX((gint64)SFU_KEYFRAME_MIN_INTERVAL_MS, (gint64)publisher->rtt_ms * 3 / 2) * 1000;
  if (publisher->keyframe_request_us && now - publisher->keyframe_request_us < min_interval_us) {
    GST_DEBUG("room %s: keyframe request to %s: %" G_GINT64_FORMAT " ms after the last, skipped",
              room->id, publisher->id, (now - publisher->keyframe_request_us) / 1000);
    return FALSE;
  }
  GstPad *pad = gst_element_get_static_pad(publisher->tee[MEDIA_VIDEO], "sink");
  /* Travels upstream into the publisher's rtpsession, which sends a FIR (all-headers) as soon as
   * RTCP timing allows (RFC 4585 early feedback). */
  GstEvent *event = gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0);
  gboolean ok = gst_pad_push_event(pad, event);
  gst_object_unref(pad);
  GST_DEBUG("room %s: keyframe request to %s: %s", room->id, publisher->id,
            ok ? "sent" : "not sent");
  if (ok)
    publisher->keyframe_request_us = now;
  return ok;
}

static Branch *pc_video_branch(Pc *pc)
{
  for (guint i = 0; i < pc->branches->len; i++) {
    Branch *b = g_ptr_array_index(pc->branches, i);
    if (b->watch)
      return b;
  }
  return NULL;
}

typedef struct {
  SfuRoom *room;
  Pc *pc;
} KeyframeTimer;

static void keyframe_check_schedule(SfuRoom *room, Pc *pc);

/* SFU_KEYFRAME_CHECK_MS after a subscription connected (and after each retry): has a keyframe
 * gone down its video branch since? The first request can come to nothing: it may be skipped
 * (another subscriber's request just went out, and its keyframe may have passed this branch
 * before it could send), or the keyframe may reach the branch while the subscriber's transport
 * still holds packets and the leaky queue drops part of it. So the relay asks again, a bounded
 * number of times, and stops as soon as a keyframe has gone to the subscriber. */
static gboolean keyframe_check(gpointer data)
{
  KeyframeTimer *t = data;
  SfuRoom *room = t->room;
  Pc *pc = t->pc;
  g_clear_pointer(&pc->keyframe_timer, g_source_unref);
  Branch *video = pc_video_branch(pc);
  Participant *publisher = room_find(room, pc->publisher_id);
  if (!video || !publisher || pc->state != SFU_PC_CONNECTED || !pc->connected_us)
    return G_SOURCE_REMOVE;
  gint64 seen = atomic_load(&video->watch->keyframe_us);
  if (seen >= pc->connected_us) {
    GST_DEBUG("%s: keyframe forwarded %" G_GINT64_FORMAT " ms after connecting (%u retries)",
              video->watch->name, (seen - pc->connected_us) / 1000, pc->keyframe_retries);
    return G_SOURCE_REMOVE;
  }
  if (pc->keyframe_retries >= SFU_KEYFRAME_RETRIES) {
    GST_WARNING("%s: no keyframe %" G_GINT64_FORMAT " ms after connecting, %u requests; leaving "
                "it to the subscriber's PLIs",
                video->watch->name, (g_get_monotonic_time() - pc->connected_us) / 1000,
                pc->keyframe_retries + 1);
    atomic_store(&video->watch->armed, FALSE);
    return G_SOURCE_REMOVE;
  }
  pc->keyframe_retries++;
  GST_INFO("%s: no keyframe %" G_GINT64_FORMAT " ms after connecting: asking %s again",
           video->watch->name, (g_get_monotonic_time() - pc->connected_us) / 1000, publisher->id);
  keyframe_request(room, publisher);
  keyframe_check_schedule(room, pc);
  return G_SOURCE_REMOVE;
}

/* The timer is destroyed with the pc (pc_free), so both pointers stay valid. */
static void keyframe_check_schedule(SfuRoom *room, Pc *pc)
{
  if (pc->keyframe_timer) {
    g_source_destroy(pc->keyframe_timer);
    g_clear_pointer(&pc->keyframe_timer, g_source_unref);
  }
  KeyframeTimer *t = g_new0(KeyframeTimer, 1);
  t->room = room;
  t->pc = pc;
  pc->keyframe_timer = g_timeout_source_new(SFU_KEYFRAME_CHECK_MS);
  g_source_set_callback(pc->keyframe_timer, keyframe_check, t, g_free);
  g_source_set_static_name(pc->keyframe_timer, "mashwara-sfu keyframe check");
  g_source_attach(pc->keyframe_timer, room->relay->context);
}

/* A subscription (re)connected, or got a video stream while connected: it needs a keyframe. */
static void subscription_wants_keyframe(SfuRoom *room, Pc *pc)
{
  Participant *publisher = room_find(room, pc->publisher_id);
  Branch *video = pc_video_branch(pc);
  if (!publisher || !video)
    return;
  atomic_store(&video->watch->armed, TRUE);
  pc->connected_us = g_get_monotonic_time();
  pc->keyframe_retries = 0;
  keyframe_request(room, publisher);
  keyframe_check_schedule(room, pc);
}

static gboolean event_dispatch(gpointer data)
{
  Event *ev = data;
  SfuRoom *room = ev->room;
  if (!room->alive)
    return G_SOURCE_REMOVE;
  Participant *p = room_find(room, ev->participant_id);
  Pc *pc = p ? participant_find_pc(p, ev->pc_id) : NULL;
  if (!pc || pc->serial != ev->serial)
    return G_SOURCE_REMOVE; /* that peer connection has gone meanwhile */
  const SfuRoomCallbacks *cb = room->callbacks;
  switch (ev->kind) {
  case EV_OFFER:
    GST_DEBUG("room %s %s/%s: offer", room->id, p->id, pc->pc_id);
    if (cb->offer)
      cb->offer(room->user_data, p->id, pc->pc_id, ev->text);
    break;
  case EV_CANDIDATE:
    if (cb->candidate)
      cb->candidate(room->user_data, p->id, pc->pc_id, ev->mline, ev->text);
    break;
  case EV_STATE:
    if (pc->state == ev->state)
      break;
    pc->state = ev->state;
    GST_INFO("room %s %s/%s: %s", room->id, p->id, pc->pc_id, sfu_pc_state_name(ev->state));
    if (ev->state == SFU_PC_CONNECTED && pc->publisher_id) {
      branches_link_direct(room, pc);
      subscription_wants_keyframe(room, pc);
    }
    subscriber_setup_hold(room, p, g_get_monotonic_time());
    if (cb->pc_state)
      cb->pc_state(room->user_data, p->id, pc->pc_id, ev->state);
    break;
  case EV_STREAM:
    sfu_ingress_start(p->ingress, ev->media, ev->pad, ev->caps);
    room_stream_ready(room, p, ev->media, ev->caps);
    /* Subscriptions offered from the answer are often connected before the stream comes: the
     * packets before the ingress took it over (the start of the first keyframe) went to the
     * fakesink, so they need a keyframe now (seen on edge: 6 s to the doctor's first frame). */
    for (guint i = 0; ev->media == MEDIA_VIDEO && p->published && i < room->participants->len;
         i++) {
      Participant *s = g_ptr_array_index(room->participants, i);
      Pc *sub = s == p ? NULL : g_hash_table_lookup(s->subs, p->id);
      if (sub && sub->state == SFU_PC_CONNECTED)
        subscription_wants_keyframe(room, sub);
    }
    break;
  }
  return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------------------------------- */
/* Adaptation and link quality (main thread, once a second)                                 */

static GstElement *find_rtpsession(GstElement *webrtc)
{
  GstIterator *it = gst_bin_iterate_recurse(GST_BIN(webrtc));
  GValue item = G_VALUE_INIT;
  GstElement *found = NULL;
  while (!found && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object(&item);
    GstElementFactory *f = gst_element_get_factory(e);
    if (f && strcmp(GST_OBJECT_NAME(f), "rtpsession") == 0)
      found = gst_object_ref(e);
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

/* The subscriber's receiver reports about what the leg sends: loss, RTT, jitter of its video
 * stream (or audio, if the leg has no video). */
static void leg_read_reports(Pc *pc)
{
  if (!pc->session)
    pc->session = find_rtpsession(pc->webrtc);
  if (!pc->session)
    return;
  GstStructure *stats = NULL;
  g_object_get(pc->session, "stats", &stats, NULL);
  if (!stats)
    return;
  const GValue *arr = gst_structure_get_value(stats, "source-stats");
  /* rtpsession 1.22 hands out a GValueArray */
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GValueArray *sources =
      arr && G_VALUE_HOLDS(arr, g_value_array_get_type()) ? g_value_get_boxed(arr) : NULL;
  guint n = sources ? sources->n_values : 0;
  /* Our own streams (internal) give the clock rates; the subscriber's receiver reports sit on
   * its remote source as rb-* about one of ours (rb-ssrc); rtpsession keeps the last one. */
  GHashTable *clock_rates = g_hash_table_new(NULL, NULL);
  for (guint i = 0; i < n; i++) {
    const GstStructure *src = gst_value_get_structure(g_value_array_get_nth(sources, i));
    gboolean internal = FALSE;
    guint ssrc = 0;
    gint clock_rate = 0;
    gst_structure_get_boolean(src, "internal", &internal);
    if (internal && gst_structure_get_uint(src, "ssrc", &ssrc) &&
        gst_structure_get_int(src, "clock-rate", &clock_rate) && clock_rate > 0)
      g_hash_table_insert(clock_rates, GUINT_TO_POINTER(ssrc), GINT_TO_POINTER(clock_rate));
  }
  for (guint i = 0; i < n; i++) {
    const GstStructure *src = gst_value_get_structure(g_value_array_get_nth(sources, i));
    gboolean internal = FALSE, have_rb = FALSE;
    guint rb_ssrc = 0, fraction = 0, jitter = 0, rtt = 0;
    gst_structure_get_boolean(src, "internal", &internal);
    gst_structure_get_boolean(src, "have-rb", &have_rb);
    if (internal || !have_rb || !gst_structure_get_uint(src, "rb-ssrc", &rb_ssrc))
      continue;
    guint clock_rate =
        GPOINTER_TO_UINT(g_hash_table_lookup(clock_rates, GUINT_TO_POINTER(rb_ssrc)));
    if (!clock_rate)
      continue;
    gst_structure_get_uint(src, "rb-fractionlost", &fraction);
    gst_structure_get_uint(src, "rb-jitter", &jitter);
    gst_structure_get_uint(src, "rb-round-trip", &rtt);
    /* rtpsession keeps the last report for ever: one that says nothing new (the stream is held
     * back, or the receiver stopped reporting) is no loss. Otherwise the loss is counted since
     * the previous report we read. */
    int m = clock_rate == 48000 ? MEDIA_AUDIO : MEDIA_VIDEO;
    guint highest = 0;
    gint lost = 0;
    gst_structure_get_uint(src, "rb-exthighestseq", &highest);
    gst_structure_get_int(src, "rb-packetslost", &lost);
    Adapt *a = &pc->adapt;
    gint64 now = g_get_monotonic_time();
    if (highest != a->last_rb_highest[m] && a->last_rb_us &&
        now - a->last_rb_us > SFU_OUTAGE_REPORT_GAP_MS * 1000) {
      /* The first report after the receiver fell silent counts the whole outage as loss; it
       * says nothing about congestion, and neither does its estimate for a few seconds (its
       * rate meter saw nothing arrive). */
      a->outage_until_us = now + SFU_OUTAGE_SETTLE_MS * 1000;
      GST_INFO("room leg %s: reports again after %" G_GINT64_FORMAT " ms", pc->pc_id,
               (now - a->last_rb_us) / 1000);
    }
    if (highest != a->last_rb_highest[m])
      a->last_rb_us = now;
    if (highest == a->last_rb_highest[m] || now < a->outage_until_us)
      a->media_loss[m] = 0;
    else if (a->last_rb_highest[m] && highest - a->last_rb_highest[m] < 1u << 16)
      a->media_loss[m] =
          CLAMP((double)(lost - a->last_rb_lost[m]) / (double)(highest - a->last_rb_highest[m]),
                0.0, 1.0);
    else
      a->media_loss[m] = fraction / 256.0;
    a->last_rb_highest[m] = highest;
    a->last_rb_lost[m] = lost;
    pc->adapt.loss = MAX(pc->adapt.media_loss[0], pc->adapt.media_loss[1]);
    pc->adapt.jitter_ms = (guint)((guint64)jitter * 1000 / clock_rate);
    if (rtt)
      pc->adapt.rtt_ms = sfu_rr_rtt_ms(rtt);
  }
  g_hash_table_unref(clock_rates);
  G_GNUC_END_IGNORE_DEPRECATIONS
  gst_structure_free(stats);
}

static void leg_set_video(SfuRoom *room, Pc *pc, gboolean on)
{
  if (!sfu_egress_set_video(pc->egress, on) || !on)
    return;
  Participant *publisher = room_find(room, pc->publisher_id);
  if (publisher && pc->adapt.state == LEG_LANE && publisher->lane)
    sfu_lane_request_keyframe(publisher->lane);
  else if (publisher)
    keyframe_request(room, publisher);
}

/* Moves a (queued) branch to another tee: the publisher's or its lane's. */
static gboolean branch_move(Branch *b, GstElement *tee)
{
  if (!b->queue)
    return FALSE;
  if (b->tee == tee)
    return TRUE;
  branch_detach(b);
  gst_object_replace((GstObject **)&b->tee, GST_OBJECT(tee));
  b->tee_pad = gst_element_request_pad_simple(tee, "src_%u");
  GstPad *queue_sink = gst_element_get_static_pad(b->queue, "sink");
  /* No caps check: the lane sends the publisher's caps (sfu-lane.h), which this branch took
   * before, and its payloader's own caps differ in fields the subscription does not use. */
  gboolean ok = b->tee_pad && gst_pad_link_full(b->tee_pad, queue_sink,
                                                GST_PAD_LINK_CHECK_NOTHING) == GST_PAD_LINK_OK;
  gst_object_unref(queue_sink);
  return ok;
}

/* Does `pc`'s publisher have a subscriber (other than pc's) that takes its own stream? Then a
 * weak `pc` cannot have the publisher follow it down, and the lane is worth its cost. */
static gboolean lane_useful(SfuRoom *room, Participant *publisher, Pc *pc)
{
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *s = g_ptr_array_index(room->participants, i);
    Pc *other = s == publisher ? NULL : g_hash_table_lookup(s->subs, publisher->id);
    if (other && other != pc && other->state == SFU_PC_CONNECTED && !s->audio_only &&
        other->adapt.state == LEG_ON)
      return TRUE;
  }
  return FALSE;
}

/* Is another leg of `subscriber` (than pc) weak or on a lane? Its link is known to be weak:
 * a new leg of a big stream should not flood it first to find out. */
static gboolean subscriber_known_weak(Participant *subscriber, Pc *pc)
{
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, subscriber->subs);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    Pc *other = value;
    if (other != pc && other->state == SFU_PC_CONNECTED &&
        (other->adapt.state == LEG_LANE || other->adapt.state == LEG_WEAK))
      return TRUE;
  }
  return FALSE;
}

/* Puts the leg's video on the publisher's lane (made if needed) or back on its own stream.
 * Video is paused across the move and resumes at the next keyframe of the new source (the
 * egress renumbers, so the receiver sees one continuous stream). FALSE if it could not (a
 * direct branch, no lane elements): the leg stays where it was. */
static gboolean leg_use_lane(SfuRoom *room, Pc *pc, Participant *publisher, gboolean on)
{
  /* Off unless MW_DIAG_LANE=1: in the three-party edge runs the weak receiver decoded no
   * frame from the lane yet (docs/architecture.md, "the lane's known limits"), and direct
   * branches (the default) cannot move. A weak leg is paused instead, as before the lane. */
  static int enabled = -1;
  if (enabled < 0)
    enabled = g_strcmp0(g_getenv("MW_DIAG_LANE"), "1") == 0;
  if (on && !enabled)
    return FALSE;
  Branch *b = pc_video_branch(pc);
  if (!b || !b->queue || !publisher->tee[MEDIA_VIDEO])
    return FALSE;
  if (on && !publisher->lane) {
    g_autoptr(GError) error = NULL;
    g_autofree char *name = g_strdup_printf("room %s %s", room->id, publisher->id);
    guint rate = CLAMP(pc->adapt.lane_share_bps, (guint)SFU_LANE_MIN_BPS, (guint)SFU_LANE_MAX_BPS);
    publisher->lane = sfu_lane_new(room->pipeline, publisher->tee[MEDIA_VIDEO], name, rate, &error);
    if (!publisher->lane) {
      GST_WARNING("room %s: no video lane for %s: %s", room->id, publisher->id, error->message);
      return FALSE;
    }
    /* Its decoder starts at a keyframe. */
    keyframe_request(room, publisher);
  }
  if (!on && !publisher->lane)
    return FALSE;
  sfu_egress_set_video(pc->egress, FALSE);
  if (!branch_move(b, on ? sfu_lane_tee(publisher->lane) : publisher->tee[MEDIA_VIDEO]))
    GST_ERROR("room %s %s: cannot move the video branch", room->id, pc->pc_id);
  pc->adapt.state = on ? LEG_LANE : LEG_ON;
  pc->adapt.lane_ticks = 0;
  leg_set_video(room, pc, TRUE);
  GST_INFO("room %s %s: video %s", room->id, pc->pc_id,
           on ? "from the relay's low-rate lane" : "from the publisher's own stream again");
  return TRUE;
}

/* One leg's decisions: its ULPFEC share, its video state (on, weak = paused, probing), and
 * what its publisher may send for it. */
/* The rate a leg may carry (audio and video). With transport-cc feedback it is the leg's own
 * estimator's (sfu-bwe.c: delay trend, the leg's own losses from the feedback, the RTT from
 * the receiver reports, ramp-up by proof) plus the audio sent: nothing to add here, and the
 * receiver reports' loss is not counted twice. Where a subscriber sends REMB instead, the
 * rate is kept like a GCC sender's: the receiver's estimate (REMB) reads only delay, grows only
 * with what arrives (at most 1.5 times it, about 8 % a second) and falls at once to 85 % of what
 * arrives when it sees delay build up. Used as a cap directly it ratchets down (every dip sticks)
 * and comes back slowly after a drop. So:
 *  - its own loss over 10 %: the rate falls to what the leg sent times (1 - loss/2), but not
 *    under half of it (one report after an outage counts the whole outage as loss);
 *  - the receiver's estimate falling (by 5 % or more since the last tick): the rate follows it
 *    down, by at most 15 % of what the leg sent a tick (the receiver's estimate keeps falling
 *    for seconds while a queue drains, and loss, when it comes, cuts faster); a receiver's
 *    estimate that is merely low is not followed (after a pause it grows from the audio
 *    alone, 8 % a second);
 *  - otherwise, with loss under 2 %: the rate grows 15 % a tick, up to 1.5 times the larger of
 *    what is sent and the receiver's estimate (what is proven, plus a step);
 *  - between 2 and 10 % of loss it holds.
 * Not updated while video is held back (only audio flows: nothing to learn). Returns the rate
 * (0 while the receiver has sent no estimate). */
static guint leg_rate(Adapt *a, const SfuEgressStats *es, double loss, gint64 now)
{
  if (es->estimate_bps && !es->estimate_from_remb) {
    a->prev_remb_bps = 0;
    a->rate_bps = es->estimate_bps;
    return a->rate_bps;
  }
  guint remb = es->estimate_bps;
  guint sent = a->audio_bps + a->video_bps;
  gboolean fell =
      a->prev_remb_bps && remb < (guint64)a->prev_remb_bps * 95 / 100 && now >= a->outage_until_us;
  a->prev_remb_bps = remb;
  if (!remb)
    return 0;
  if (!a->rate_bps)
    a->rate_bps = remb;
  if (a->state == LEG_WEAK)
    return a->rate_bps;
  if (loss > 0.10 && sent)
    a->rate_bps = MAX((guint)(MIN(a->rate_bps, sent) * (1.0 - loss / 2)), sent / 2);
  else if (fell)
    a->rate_bps = MIN(a->rate_bps, MAX(remb, sent / 100 * 85));
  else if (loss < 0.02)
    a->rate_bps = (guint)MIN((guint64)a->rate_bps * 115 / 100, (guint64)MAX(sent, remb) * 3 / 2);
  return a->rate_bps;
}

/* The leg's video ULPFEC share (sfu-fec.c) from its loss and RTT, within the room its video
 * budget leaves above the video floor, once a tick. The FEC packets
 * are video packets with transport-wide numbers: the estimator counts them as sent. */
static void leg_fec(SfuRoom *room, Pc *pc, double loss, guint budget)
{
  guint room_pct = sfu_fec_room(SFU_FEC_MAX_PCT, budget, SFU_VIDEO_FLOOR_BPS);
  guint want = MIN(sfu_fec_share(loss, pc->adapt.rtt_ms), room_pct);
  guint pct = MIN(sfu_fec_next(pc->fec_pct, want), room_pct);
  if (pct == pc->fec_pct || !pc->video_trans)
    return;
  g_object_set(pc->video_trans, "fec-percentage", pct, NULL);
  /* Turning on or off at info level, the steps between at debug. */
  GST_CAT_LEVEL_LOG(GST_CAT_DEFAULT, !pct || !pc->fec_pct ? GST_LEVEL_INFO : GST_LEVEL_DEBUG, NULL,
                    "room %s %s: video FEC %u %% (loss %.3f, rtt %u ms, %d FEC packets so far)",
                    room->id, pc->pc_id, pct, loss, pc->adapt.rtt_ms,
                    g_atomic_int_get(&pc->ctx->fec_packets));
  pc->fec_pct = pct;
}

static void leg_adapt(SfuRoom *room, Participant *subscriber, Pc *pc, gint64 now, double dt)
{
  Adapt *a = &pc->adapt;
  SfuEgressStats es;
  sfu_egress_get_stats(pc->egress, &es);
  a->audio_bps = (guint)((es.audio_bytes - a->last_audio_bytes) * 8 / dt);
  a->video_bps = (guint)((es.video_bytes - a->last_video_bytes) * 8 / dt);
  a->last_audio_bytes = es.audio_bytes;
  a->last_video_bytes = es.video_bytes;
  leg_read_reports(pc);
  if (a->rtt_ms)
    sfu_egress_set_rtt(pc->egress, a->rtt_ms);

  /* A gap in what the publisher sent reaches every subscriber as loss too: a leg is judged by
   * the loss it adds itself (its receiver's report less the publisher's uplink loss), or a
   * patient's weak uplink would pause the doctor's view of them on a good downlink. */
  Participant *publisher = room_find(room, pc->publisher_id);
  a->own_loss = 0;
  for (int m = 0; m < MEDIA_N; m++) {
    double up = publisher ? publisher->uplink_loss[m] : 0;
    a->own_loss = MAX(a->own_loss, a->media_loss[m] - up);
  }
  double loss = MAX(a->own_loss, es.feedback_loss);

  if (subscriber->audio_only) {
    a->video_cap_bps = 0;
    return;
  }
  guint estimate = leg_rate(a, &es, loss, now);
  if (!estimate) {
    a->video_cap_bps = SFU_NO_CAP; /* no feedback yet: let the publisher's own control rule */
    return;
  }
  guint audio = MAX(a->audio_bps, (guint)SFU_AUDIO_RESERVE_BPS);
  guint budget = estimate > audio ? estimate - audio : 0;
  leg_fec(room, pc, loss, budget);
  /* Pause only on evidence: the leg carries real video and still has no room, or it loses
   * packets. A receiver's REMB grows only with what it receives (at most 1.5 times that), so a
   * leg whose publisher sends little (a start, a still picture) always looks "small"; pausing
   * it would stop the publisher and keep the estimate small for good (seen in CI: video
   * stopped a few seconds into a call on a good link). */
  /* The receiver's estimate also falls when delay builds up before the relay (the
   * publisher's uplink is congested, and the relay forwards that delay): the leg is short of
   * room only if its estimate is well under what the publisher sends, or it loses packets. */
  guint arriving = publisher ? publisher->uplink_bps : 0;
  gboolean short_of_room = estimate < (guint64)arriving * SFU_LEG_SHORT_PCT / 100;
  gboolean evidence = (a->video_bps >= SFU_VIDEO_FLOOR_BPS / 2 && short_of_room) || loss > 0.10;
  gboolean lane =
      publisher && arriving >= SFU_LANE_PUBLISHER_BPS && lane_useful(room, publisher, pc);
  switch (a->state) {
  case LEG_ON:
    /* Room for less than half of what the publisher sends, and less than the lane's most, or
     * losing over 10 %, while another subscriber takes the publisher's full stream: the lane.
     * Loss alone has to do: while the publisher sends for the others, the leg's rate falls by
     * at most half of what it sends a tick (leg_rate()), so a leg that can take 150 kbit/s of
     * a 4 Mbit/s stream keeps a "rate" of 2 Mbit/s and never looks short of room. */
    a->low_ticks =
        (budget < SFU_VIDEO_FLOOR_BPS ||
         (lane && ((budget < arriving / 2 && budget < SFU_LANE_MAX_BPS) || loss > 0.10))) &&
                evidence
            ? a->low_ticks + 1
            : 0;
    /* Losing a fifth of what it is sent: the leg is being flooded (its audio with it); the
     * lane at once. */
    if (lane && a->low_ticks && loss > 0.20)
      a->low_ticks = SFU_WEAK_TICKS;
    /* A new leg whose subscriber's other legs found the link weak already: no need to flood it
     * again to find out. (Only while new: an older leg leaves the lane on its own evidence.) */
    if (lane && pc->connected_us && now - pc->connected_us < 5 * G_USEC_PER_SEC &&
        subscriber_known_weak(subscriber, pc))
      a->low_ticks = SFU_WEAK_TICKS;
    if (a->low_ticks >= SFU_WEAK_TICKS && lane && leg_use_lane(room, pc, publisher, TRUE)) {
      a->weak_since_us = now;
      GST_INFO("room %s %s -> %s: on the lane, %u bit/s of room for video (estimate %u, "
               "arriving %u)",
               room->id, pc->publisher_id, subscriber->id, budget, estimate, arriving);
    } else if (a->low_ticks >= SFU_WEAK_TICKS && budget < SFU_VIDEO_FLOOR_BPS) {
      a->state = LEG_WEAK;
      a->weak_since_us = now;
      a->next_probe_us = now + a->backoff_s * G_USEC_PER_SEC;
      leg_set_video(room, pc, FALSE);
      GST_INFO("room %s %s: video paused, %u bit/s of room for it (estimate %u)", room->id,
               pc->pc_id, budget, estimate);
    }
    break;
  case LEG_WEAK:
    if (lane && leg_use_lane(room, pc, publisher, TRUE)) {
      GST_INFO("room %s %s -> %s: paused video now from the lane", room->id, pc->publisher_id,
               subscriber->id);
    } else if (now >= a->next_probe_us && arriving > 2 * (estimate + SFU_VIDEO_FLOOR_BPS)) {
      /* The publisher sends far more than this leg could take (for its other subscribers): a
       * try would flood the link, its audio with it. Wait for the lane or for them to go. */
      a->next_probe_us = now + a->backoff_s * G_USEC_PER_SEC;
    } else if (now >= a->next_probe_us) {
      a->state = LEG_PROBE;
      a->probe_until_us = now + SFU_PROBE_S * G_USEC_PER_SEC;
      a->probe_estimate = es.estimate_bps;
      a->rate_bps = MAX(a->rate_bps, (guint)SFU_VIDEO_FLOOR_BPS + a->audio_bps);
      leg_set_video(room, pc, TRUE);
      GST_INFO("room %s %s: trying video again", room->id, pc->pc_id);
    }
    break;
  case LEG_PROBE:
    /* A try fails on loss, or when the receiver's estimate falls (it saw delay build up). It
     * cannot be judged by the estimate's size: while video was held back only audio arrived,
     * and a receiver's estimate grows from what arrives, about 8 % a second. */
    if (loss > 0.10 || es.estimate_bps < (guint64)a->probe_estimate * 85 / 100) {
      a->state = LEG_WEAK;
      a->backoff_s = MIN(a->backoff_s * 2, (guint)SFU_PROBE_BACKOFF_MAX_S);
      a->next_probe_us = now + a->backoff_s * G_USEC_PER_SEC;
      leg_set_video(room, pc, FALSE);
      GST_INFO("room %s %s: no room for video yet; next try in %u s", room->id, pc->pc_id,
               a->backoff_s);
    } else if (now >= a->probe_until_us) {
      a->state = LEG_ON;
      a->low_ticks = 0;
      a->backoff_s = SFU_PROBE_BACKOFF_MIN_S;
      a->weak_since_us = 0;
      GST_INFO("room %s %s: video is back", room->id, pc->pc_id);
    }
    break;
  case LEG_LANE:
    /* Room for all the publisher sends (its uplink, audio included: a margin) or well over
     * the lane's most for a few ticks, or nobody else wants more than the lane: back to the
     * publisher's stream. */
    a->lane_ticks = (budget > arriving || budget > SFU_LANE_MAX_BPS * 3 / 2) && loss < 0.05
                        ? a->lane_ticks + 1
                        : 0;
    if (!(publisher && lane_useful(room, publisher, pc)) || a->lane_ticks >= SFU_WEAK_TICKS) {
      if (leg_use_lane(room, pc, publisher, FALSE)) {
        a->low_ticks = 0;
        a->weak_since_us = 0;
      }
    }
    break;
  }
  GST_DEBUG(
      "room %s %s -> %s: rate %u (estimate %u, remb %d, ours from transport-cc %u "
      "%s, acked %u) loss %.3f (reported %.3f) rtt %u ms arriving %u audio %u video %u "
      "budget %u state %d, resend requests %" G_GUINT64_FORMAT " (refused: again %" G_GUINT64_FORMAT
      ", over budget %" G_GUINT64_FORMAT "), resent %" G_GUINT64_FORMAT " packets",
      room->id, pc->publisher_id, subscriber->id, estimate, es.estimate_bps, es.estimate_from_remb,
      es.twcc_estimate_bps, sfu_bwe_usage_name(es.feedback_usage), es.acked_bps, loss, a->loss,
      a->rtt_ms, arriving, a->audio_bps, a->video_bps, budget, a->state, es.resend_requests,
      es.resend_refused, es.resend_over_budget, es.resend_packets);
  if (a->state == LEG_WEAK || a->state == LEG_LANE) /* the lane adapts for it */
    a->video_cap_bps = 0;
  else if (a->state == LEG_PROBE)
    a->video_cap_bps = SFU_VIDEO_FLOOR_BPS;
  else /* the leg's rate less the audio actually sent, and less the video's FEC */
    a->video_cap_bps =
        MAX((guint)((guint64)(estimate > a->audio_bps ? estimate - a->audio_bps : 0) * 100 /
                    (100 + pc->fec_pct)),
            (guint)SFU_VIDEO_FLOOR_BPS);
}

/* What a publisher may send: enough for its best-placed subscriber that takes video, no more
 * (a weak subscriber is paused, not followed down). 0 when nobody takes its video. */
static void publisher_cap(SfuRoom *room, Participant *p)
{
  guint cap = 0;
  gboolean any = FALSE;
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *s = g_ptr_array_index(room->participants, i);
    Pc *pc = s == p ? NULL : g_hash_table_lookup(s->subs, p->id);
    if (!pc || pc->state != SFU_PC_CONNECTED)
      continue;
    any = TRUE;
    cap = MAX(cap, pc->adapt.video_cap_bps); /* SFU_NO_CAP is the largest */
  }
  if (!any)
    cap = SFU_NO_CAP;
  guint old = p->video_cap_bps;
  gboolean changed =
      (old == SFU_NO_CAP) != (cap == SFU_NO_CAP) || (old == 0) != (cap == 0) ||
      (cap != SFU_NO_CAP && old != SFU_NO_CAP && (cap > old + old / 10 || cap + cap / 10 < old));
  if (!changed)
    return;
  p->video_cap_bps = cap;
  GST_DEBUG("room %s: %s may send %u bit/s of video", room->id, p->id, cap);
  if (room->callbacks->bitrate_cap)
    room->callbacks->bitrate_cap(room->user_data, p->id, cap);
}

/* A subscriber's share of its downlink for each of its lane legs: the smallest rate among its
 * connected legs (they cross the same link) less all their audio and the video of its legs on
 * a publisher's own stream, split between its lane legs. */
static void lane_shares(Participant *s)
{
  guint rate = 0, used = 0, lanes = 0;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, s->subs);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    Pc *pc = value;
    if (pc->state != SFU_PC_CONNECTED)
      continue;
    if (pc->adapt.rate_bps && (!rate || pc->adapt.rate_bps < rate))
      rate = pc->adapt.rate_bps;
    used += pc->adapt.audio_bps;
    if (pc->adapt.state == LEG_LANE)
      lanes++;
    else
      used += pc->adapt.video_bps;
  }
  guint share = lanes && rate > used ? (rate - used) / lanes : 0;
  g_hash_table_iter_init(&it, s->subs);
  while (g_hash_table_iter_next(&it, NULL, &value))
    ((Pc *)value)->adapt.lane_share_bps = share;
}

/* Each lane's rate: the smallest share among its legs, at least SFU_LANE_MIN_BPS (pausing the
 * video of a leg that loses over SFU_LANE_PAUSE_LOSS); a lane with no leg left is taken down (it
 * costs a decode and an encode). */
static void lanes_update(SfuRoom *room)
{
  for (guint i = 0; i < room->participants->len; i++)
    lane_shares(g_ptr_array_index(room->participants, i));
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *p = g_ptr_array_index(room->participants, i);
    if (!p->lane)
      continue;
    guint rate = 0;
    gboolean any = FALSE;
    for (guint j = 0; j < room->participants->len; j++) {
      Participant *s = g_ptr_array_index(room->participants, j);
      Pc *pc = s == p ? NULL : g_hash_table_lookup(s->subs, p->id);
      if (!pc || pc->adapt.state != LEG_LANE)
        continue;
      SfuEgressStats es;
      sfu_egress_get_stats(pc->egress, &es);
      gboolean fits = es.video_on ? pc->adapt.own_loss < SFU_LANE_PAUSE_LOSS
                                  : pc->adapt.own_loss < SFU_LANE_PAUSE_LOSS / 2;
      if (!s->audio_only)
        leg_set_video(room, pc, fits);
      if (!fits || s->audio_only)
        continue;
      guint share = MAX(pc->adapt.lane_share_bps, (guint)SFU_LANE_MIN_BPS);
      rate = any ? MIN(rate, share) : share;
      any = TRUE;
    }
    gboolean legs = FALSE;
    for (guint j = 0; j < room->participants->len && !legs; j++) {
      Participant *s = g_ptr_array_index(room->participants, j);
      Pc *pc = s == p ? NULL : g_hash_table_lookup(s->subs, p->id);
      legs = pc && pc->adapt.state == LEG_LANE;
    }
    if (!legs)
      g_clear_pointer(&p->lane, sfu_lane_free);
    else if (any)
      sfu_lane_set_bitrate(p->lane, MIN(rate, (guint)SFU_LANE_MAX_BPS));
  }
}

static void participant_quality(SfuRoom *room, Participant *p, gint64 now, double dt)
{
  SfuQuality q = {0};
  guint rtt = 0, legs = 0;
  guint wanted = 0;
  gboolean weak = FALSE;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, p->subs);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    Pc *pc = value;
    if (pc->state != SFU_PC_CONNECTED)
      continue;
    SfuEgressStats es;
    sfu_egress_get_stats(pc->egress, &es);
    q.loss_down = MAX(q.loss_down, pc->adapt.loss);
    q.jitter_ms = MAX(q.jitter_ms, pc->adapt.jitter_ms);
    rtt = MAX(rtt, pc->adapt.rtt_ms);
    if (es.estimate_bps && (!q.estimate_bps || es.estimate_bps < q.estimate_bps))
      q.estimate_bps = es.estimate_bps;
    q.video_bps_down += pc->adapt.video_bps;
    q.audio_bps_down += pc->adapt.audio_bps;
    weak = weak || pc->adapt.state == LEG_WEAK;
    Participant *pub = room_find(room, pc->publisher_id);
    if (pub && pub->caps[MEDIA_VIDEO])
      wanted += MAX(pub->quality.video_bps_up, (guint)SFU_VIDEO_FLOOR_BPS);
    legs++;
  }
  q.rtt_ms = rtt;
  p->rtt_ms = rtt;
  if (rtt)
    sfu_ingress_set_rtt(p->ingress, rtt);
  /* Its uplink: what the ingress saw missing, and what it published. */
  guint64 got = 0, missing = 0;
  for (int m = 0; m < MEDIA_N; m++) {
    SfuIngressStats st;
    sfu_ingress_get_stats(p->ingress, m, &st);
    got += st.packets - p->last_ingress[m].packets;
    missing += st.missing - p->last_ingress[m].missing;
    if (m == MEDIA_VIDEO)
      q.video_bps_up = (guint)((st.bytes - p->last_ingress[m].bytes) * 8 / dt);
    p->last_ingress[m] = st;
  }
  q.loss_up = got + missing ? (double)missing / (double)(got + missing) : 0;
  q.video = p->audio_only ? SFU_VIDEO_CHOSEN : weak ? SFU_VIDEO_WEAK_LINK : SFU_VIDEO_ON;
  if (legs || p->published) {
    guint raw = sfu_score_compute(MAX(q.loss_down, q.loss_up), rtt, q.jitter_ms,
                                  q.video == SFU_VIDEO_ON ? q.video_bps_down : 0,
                                  q.video == SFU_VIDEO_ON ? wanted : 0);
    /* Paused video is a poor link even if what still flows arrives well. */
    if (q.video == SFU_VIDEO_WEAK_LINK)
      raw = MIN(raw, 2u);
    q.score = sfu_score_smoother_push(p->score, raw, now);
  }
  p->quality = q;
  if (q.score && room->callbacks->quality)
    room->callbacks->quality(room->user_data, p->id, &p->quality);
}

/* What reached the relay from `p` over the last tick: its loss per medium (video: gaps at
 * arrival; audio, not retransmitted: skipped and never filled) and its bit rate. */
static void publisher_uplink(SfuRoom *room, Participant *p, double dt)
{
  guint64 bytes = 0;
  guint64 pkts[MEDIA_N], marks = 0;
  for (int m = 0; m < MEDIA_N; m++) {
    SfuIngressStats st;
    sfu_ingress_get_stats(p->ingress, m, &st);
    const SfuIngressStats *o = &p->last_uplink[m];
    guint64 got = st.packets - o->packets;
    pkts[m] = got;
    marks += st.feedback_marks - o->feedback_marks;
    /* Gaps at arrival, recovered later or not: a packet retransmitted to the relay reaches
     * the subscribers late, and their reports may count it lost all the same. */
    guint64 gone = m == MEDIA_VIDEO ? st.missing - o->missing
                   : st.missing - o->missing > st.late - o->late
                       ? (st.missing - o->missing) - (st.late - o->late)
                       : 0;
    p->uplink_loss[m] = got + gone ? (double)gone / (double)(got + gone) : 0;
    bytes += st.bytes - o->bytes;
    p->last_uplink[m] = st;
  }
  p->uplink_bps = (guint)(bytes * 8 / dt);
  GST_DEBUG("room %s %s uplink: %u bit/s, audio %" G_GUINT64_FORMAT " packets (loss %.3f), "
            "video %" G_GUINT64_FORMAT " (loss %.3f), %" G_GUINT64_FORMAT " marked for feedback",
            room->id, p->id, p->uplink_bps, pkts[MEDIA_AUDIO], p->uplink_loss[MEDIA_AUDIO],
            pkts[MEDIA_VIDEO], p->uplink_loss[MEDIA_VIDEO], marks);
}

/* Holds (or gives back) the video of `s`'s connected subscriptions while another of its pcs
 * sets up (SFU_SETUP_HOLD_MS), on a link of SFU_SETUP_HOLD_RTT_MS or more (the max over its
 * legs), or of unknown RTT (no leg has had a receiver report yet). Given back only where
 * the leg's own adaptation has video on, with a keyframe asked for (and checked for) at once:
 * the egress resumes video at a keyframe. */
static void subscriber_setup_hold(SfuRoom *room, Participant *s, gint64 now)
{
  gboolean hold = FALSE;
  guint rtt = s->rtt_ms;
  gboolean reported = rtt > 0; /* any receiver report yet (a LAN's RTT may read 0 ms) */
  GHashTableIter legs;
  gpointer leg;
  g_hash_table_iter_init(&legs, s->subs);
  while (g_hash_table_iter_next(&legs, NULL, &leg)) {
    rtt = MAX(rtt, ((Pc *)leg)->adapt.rtt_ms);
    reported = reported || ((Pc *)leg)->adapt.last_rb_us != 0;
  }
  if (s->pub && s->pub->state <= SFU_PC_CONNECTING &&
      now - s->pub->created_us < SFU_SETUP_HOLD_MS * 1000)
    hold = TRUE;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, s->subs);
  while (!hold && g_hash_table_iter_next(&it, NULL, &value)) {
    Pc *pc = value;
    hold = pc->state <= SFU_PC_CONNECTING && now - pc->created_us < SFU_SETUP_HOLD_MS * 1000;
  }
  g_hash_table_iter_init(&it, s->subs);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    Pc *pc = value;
    gboolean held =
        hold && (rtt >= SFU_SETUP_HOLD_RTT_MS || !reported) && pc->state == SFU_PC_CONNECTED;
    if (held == pc->setup_held)
      continue;
    pc->setup_held = held;
    GST_INFO("room %s %s/%s: video %s while another pc sets up", room->id, s->id, pc->pc_id,
             held ? "held" : "given back");
    if (held) {
      sfu_egress_set_video(pc->egress, FALSE);
    } else if (!s->audio_only && pc->adapt.state == LEG_LANE) {
      leg_set_video(room, pc, TRUE);
    } else if (!s->audio_only && pc->adapt.state != LEG_WEAK &&
               sfu_egress_set_video(pc->egress, TRUE)) {
      subscription_wants_keyframe(room, pc);
    }
  }
}

static gboolean adapt_tick(gpointer data)
{
  SfuRoom *room = data;
  gint64 now = g_get_monotonic_time();
  double dt = room->last_tick_us ? (now - room->last_tick_us) / 1e6 : SFU_TICK_MS / 1000.0;
  if (dt <= 0)
    dt = SFU_TICK_MS / 1000.0;
  room->last_tick_us = now;
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *p = g_ptr_array_index(room->participants, i);
    if (p->ingress)
      publisher_uplink(room, p, dt);
  }
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *s = g_ptr_array_index(room->participants, i);
    subscriber_setup_hold(room, s, now);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, s->subs);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
      Pc *pc = value;
      if (pc->state == SFU_PC_CONNECTED)
        leg_adapt(room, s, pc, now, dt);
    }
  }
  for (guint i = 0; i < room->participants->len; i++)
    participant_quality(room, g_ptr_array_index(room->participants, i), now, dt);
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *p = g_ptr_array_index(room->participants, i);
    if (p->caps[MEDIA_VIDEO])
      publisher_cap(room, p);
  }
  lanes_update(room);
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------------------------------- */
/* Bus (main thread)                                                                         */

static gboolean on_bus_message(GstBus *bus, GstMessage *msg, gpointer data)
{
  SfuRoom *room = data;
  if (!room->alive)
    return G_SOURCE_CONTINUE;
  switch (GST_MESSAGE_TYPE(msg)) {
  case GST_MESSAGE_ERROR: {
    g_autoptr(GError) err = NULL;
    g_autofree char *dbg = NULL;
    gst_message_parse_error(msg, &err, &dbg);
    GST_ERROR("room %s: %s: %s (%s)", room->id, GST_MESSAGE_SRC_NAME(msg), err->message,
              dbg ? dbg : "");
    /* Which peer connection: the pipeline's child that contains the source. */
    GstObject *o = GST_MESSAGE_SRC(msg);
    while (o && GST_OBJECT_PARENT(o) && GST_OBJECT_PARENT(o) != GST_OBJECT(room->pipeline))
      o = GST_OBJECT_PARENT(o);
    for (guint i = 0; o && i < room->participants->len; i++) {
      Participant *p = g_ptr_array_index(room->participants, i);
      GHashTableIter it;
      gpointer value;
      Pc *found = p->pub && GST_OBJECT(p->pub->webrtc) == o ? p->pub : NULL;
      g_hash_table_iter_init(&it, p->subs);
      while (!found && g_hash_table_iter_next(&it, NULL, &value))
        if (GST_OBJECT(((Pc *)value)->webrtc) == o)
          found = value;
      if (found && found->state != SFU_PC_FAILED) {
        found->state = SFU_PC_FAILED;
        if (room->callbacks->pc_state)
          room->callbacks->pc_state(room->user_data, p->id, found->pc_id, SFU_PC_FAILED);
        break;
      }
    }
    break;
  }
  case GST_MESSAGE_WARNING: {
    g_autoptr(GError) err = NULL;
    gst_message_parse_warning(msg, &err, NULL);
    GST_WARNING("room %s: %s: %s", room->id, GST_MESSAGE_SRC_NAME(msg), err->message);
    break;
  }
  case GST_MESSAGE_LATENCY:
    gst_bin_recalculate_latency(GST_BIN(room->pipeline));
    break;
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------------------------------- */
/* Public API (main thread)                                                                  */

SfuRelay *sfu_relay_new(const SfuConfig *config, GError **error)
{
  g_return_val_if_fail(config != NULL, NULL);
  if (!gst_is_initialized())
    gst_init(NULL, NULL);
  GST_DEBUG_CATEGORY_INIT(sfu_debug, "mashwara-sfu", 0, "Mashwara media relay");
  static const char *const needed[] = {"webrtcbin", "tee",         "queue", "fakesink",
                                       "nicesrc",   "dtlssrtpenc", "rtpbin"};
  for (guint i = 0; i < G_N_ELEMENTS(needed); i++) {
    GstElementFactory *f = gst_element_factory_find(needed[i]);
    if (!f) {
      g_set_error(error, SFU_ERROR, SFU_ERROR_FAILED, "GStreamer element %s is missing", needed[i]);
      return NULL;
    }
    gst_object_unref(f);
  }
  if (config->min_port && config->max_port && config->min_port > config->max_port) {
    g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID, "min_port %u > max_port %u", config->min_port,
                config->max_port);
    return NULL;
  }
  SfuRelay *relay = g_new0(SfuRelay, 1);
  if (config->ice_addresses && config->ice_addresses[0])
    relay->ice_addresses = g_strdupv((char **)config->ice_addresses);
  relay->min_port = config->min_port;
  relay->max_port = config->max_port;
  relay->ice_tcp = !config->disable_ice_tcp;
  relay->stun_server = g_strdup(config->stun_server);
  relay->turn_server = g_strdup(config->turn_server);
  relay->context = g_main_context_ref(config->context ? config->context : g_main_context_default());
  return relay;
}

void sfu_relay_free(SfuRelay *relay)
{
  if (!relay)
    return;
  if (relay->rooms)
    g_critical("sfu_relay_free: %u rooms still alive", relay->rooms);
  g_strfreev(relay->ice_addresses);
  g_free(relay->stun_server);
  g_free(relay->turn_server);
  g_main_context_unref(relay->context);
  g_free(relay);
}

void sfu_relay_get_stats(SfuRelay *relay, SfuRelayStats *out)
{
  g_return_if_fail(relay != NULL && out != NULL);
  out->rooms = relay->rooms;
  out->pipelines = (guint)g_atomic_int_get(&relay->pipelines);
  out->participants = relay->participants;
  out->peer_connections = (guint)g_atomic_int_get(&relay->peer_connections);
}

SfuRoom *sfu_room_new(SfuRelay *relay, const char *room_id, const SfuRoomCallbacks *callbacks,
                      gpointer user_data, GError **error)
{
  g_return_val_if_fail(relay != NULL && room_id != NULL && callbacks != NULL, NULL);
  g_autofree char *name = g_strdup_printf("room-%s", room_id);
  GstElement *pipeline = gst_pipeline_new(name);
  if (!pipeline) {
    g_set_error(error, SFU_ERROR, SFU_ERROR_FAILED, "cannot create a pipeline");
    return NULL;
  }
  gst_object_ref_sink(pipeline);
  g_atomic_int_inc(&relay->pipelines);
  g_object_weak_ref(G_OBJECT(pipeline), count_finalized, &relay->pipelines);

  SfuRoom *room = g_new0(SfuRoom, 1);
  g_atomic_ref_count_init(&room->ref);
  room->alive = TRUE;
  room->relay = relay;
  room->id = g_strdup(room_id);
  room->callbacks = callbacks;
  room->user_data = user_data;
  room->pipeline = pipeline;
  room->participants = g_ptr_array_new();

  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline));
  room->bus_source = gst_bus_create_watch(bus);
  g_source_set_callback(room->bus_source, (GSourceFunc)(void (*)(void))on_bus_message,
                        room_ref(room), (GDestroyNotify)room_unref);
  g_source_attach(room->bus_source, relay->context);
  gst_object_unref(bus);
  /* The room outlives its tick: sfu_room_free() destroys it first. */
  room->tick = g_timeout_source_new(SFU_TICK_MS);
  g_source_set_callback(room->tick, adapt_tick, room, NULL);
  g_source_attach(room->tick, relay->context);
  relay->rooms++;

  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error(error, SFU_ERROR, SFU_ERROR_FAILED, "room %s: pipeline refused PLAYING", room_id);
    sfu_room_free(room);
    return NULL;
  }
  GST_INFO("room %s created", room_id);
  return room;
}

static void participant_free(SfuRoom *room, Participant *p)
{
  if (p->publish_timer) {
    g_source_destroy(p->publish_timer);
    g_clear_pointer(&p->publish_timer, g_source_unref);
  }
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, p->subs);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    pc_free(room, value);
    g_hash_table_iter_remove(&it);
  }
  g_hash_table_unref(p->subs);
  g_clear_pointer(&p->lane, sfu_lane_free);
  if (p->ingress)
    sfu_ingress_close(p->ingress);
  if (p->pub)
    pc_free(room, p->pub);
  g_clear_pointer(&p->ingress, sfu_ingress_unref);
  for (int m = 0; m < MEDIA_N; m++) {
    if (p->tee[m]) {
      gst_element_set_state(p->tee[m], GST_STATE_NULL);
      if (GST_OBJECT_PARENT(p->tee[m]) == GST_OBJECT(room->pipeline))
        gst_bin_remove(GST_BIN(room->pipeline), p->tee[m]);
      gst_object_unref(p->tee[m]);
    }
    gst_clear_caps(&p->caps[m]);
  }
  counters_unref(p->counters);
  sfu_score_smoother_free(p->score);
  g_free(p->id);
  g_free(p);
  room->relay->participants--;
}

void sfu_room_free(SfuRoom *room)
{
  if (!room)
    return;
  room->alive = FALSE;
  g_source_destroy(room->bus_source);
  g_clear_pointer(&room->bus_source, g_source_unref);
  g_source_destroy(room->tick);
  g_clear_pointer(&room->tick, g_source_unref);
  /* Stops every streaming thread at once; after this no probe or handler runs. */
  gst_element_set_state(room->pipeline, GST_STATE_NULL);
  for (guint i = 0; i < room->participants->len; i++)
    participant_free(room, g_ptr_array_index(room->participants, i));
  g_ptr_array_free(room->participants, TRUE);
  room->participants = NULL;
  gst_clear_object(&room->pipeline);
  room->relay->rooms--;
  GST_INFO("room %s freed", room->id);
  room_unref(room);
}

static GstCaps *publish_caps(int media)
{
  /* What the relay accepts from a browser (payload= must match SFU_AUDIO_PT and SFU_VIDEO_PT).
   * Opus: in-band FEC and DTX welcome (the browser's encoder turns FEC on as the loss it is
   * told of grows). Note: webrtcbin 1.22 leaves goog-remb out of the offer even when asked. */
  if (media == MEDIA_AUDIO)
    return gst_caps_from_string("application/x-rtp,media=audio,encoding-name=OPUS,"
                                "clock-rate=48000,payload=111,encoding-params=(string)2,"
                                "useinbandfec=(string)1,usedtx=(string)1,"
                                "rtcp-fb-transport-cc=(boolean)true,"
                                "extmap-3=" SFU_TWCC_URI);
  return gst_caps_from_string("application/x-rtp,media=video,encoding-name=VP8,"
                              "clock-rate=90000,payload=96,rtcp-fb-nack=(boolean)true,"
                              "rtcp-fb-nack-pli=(boolean)true,rtcp-fb-ccm-fir=(boolean)true,"
                              "rtcp-fb-goog-remb=(boolean)true,"
                              "rtcp-fb-transport-cc=(boolean)true,"
                              "extmap-3=" SFU_TWCC_URI);
}

gboolean sfu_room_add_participant(SfuRoom *room, const char *participant_id, GError **error)
{
  g_return_val_if_fail(room != NULL && room->alive, FALSE);
  g_return_val_if_fail(participant_id != NULL, FALSE);
  if (!*participant_id || room_find(room, participant_id)) {
    g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID, "participant id \"%s\" is empty or taken",
                participant_id);
    return FALSE;
  }
  if (room->participants->len >= SFU_ROOM_MAX_PARTICIPANTS) {
    g_set_error(error, SFU_ERROR, SFU_ERROR_FULL, "room %s already has %d participants", room->id,
                SFU_ROOM_MAX_PARTICIPANTS);
    return FALSE;
  }

  Participant *p = g_new0(Participant, 1);
  p->id = g_strdup(participant_id);
  p->counters = counters_new();
  p->subs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  p->score = sfu_score_smoother_new();
  p->video_cap_bps = SFU_NO_CAP;
  room->relay->participants++;
  g_ptr_array_add(room->participants, p);

  for (int m = 0; m < MEDIA_N; m++) {
    p->tee[m] = gst_element_factory_make("tee", NULL);
    if (!p->tee[m]) {
      g_set_error(error, SFU_ERROR, SFU_ERROR_FAILED, "cannot create tee");
      goto fail;
    }
    gst_object_ref_sink(p->tee[m]);
    g_object_set(p->tee[m], "allow-not-linked", TRUE, NULL);
    GstPad *sink = gst_element_get_static_pad(p->tee[m], "sink");
    gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                      received_probe, counters_ref(p->counters), counters_unref);
    gst_object_unref(sink);
    gst_bin_add(GST_BIN(room->pipeline), p->tee[m]);
    gst_element_sync_state_with_parent(p->tee[m]);
  }

  static const guint8 pts[MEDIA_N] = {SFU_AUDIO_PT, SFU_VIDEO_PT};
  char *ingress_name = g_strdup_printf("room %s %s", room->id, participant_id);
  p->ingress = sfu_ingress_new(ingress_name, p->tee, pts);
  g_free(ingress_name);
  p->pub = pc_new(room, p, "pub", NULL, error);
  if (!p->pub)
    goto fail;
  for (int m = 0; m < MEDIA_N; m++) {
    g_autoptr(GstCaps) caps = publish_caps(m);
    GstWebRTCRTPTransceiver *trans = NULL;
    g_signal_emit_by_name(p->pub->webrtc, "add-transceiver",
                          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &trans);
    if (!trans) {
      g_set_error(error, SFU_ERROR, SFU_ERROR_FAILED, "cannot add a %s transceiver",
                  media_names[m]);
      goto fail;
    }
    /* NACKs to the publisher come from the ingress; webrtcbin negotiates RTX for them. Audio
     * comes as RED (each packet carries the previous one), which webrtcbin's rtpreddec
     * unpacks before the ingress. */
    if (m == MEDIA_VIDEO)
      g_object_set(trans, "do-nack", TRUE, NULL);
    else
      gst_util_set_object_arg(G_OBJECT(trans), "fec-type", "ulp-red");
    gst_object_unref(trans);
  }
  gst_bin_add(GST_BIN(room->pipeline), p->pub->webrtc);
  if (!gst_element_sync_state_with_parent(p->pub->webrtc)) {
    g_set_error(error, SFU_ERROR, SFU_ERROR_FAILED, "webrtcbin refused to start");
    goto fail;
  }

  /* Subscriptions of the newcomer to everyone already publishing. */
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *other = g_ptr_array_index(room->participants, i);
    if (other != p && other->published)
      room_subscribe(room, p, other);
  }
  GST_INFO("room %s: %s joined", room->id, participant_id);
  return TRUE;

fail:
  g_ptr_array_remove(room->participants, p);
  participant_free(room, p);
  return FALSE;
}

void sfu_room_remove_participant(SfuRoom *room, const char *participant_id)
{
  g_return_if_fail(room != NULL && room->alive && participant_id != NULL);
  Participant *p = room_find(room, participant_id);
  if (!p)
    return;
  /* Others' subscriptions to p first, so p's tees have no branch left when they stop. */
  for (guint i = 0; i < room->participants->len; i++) {
    Participant *s = g_ptr_array_index(room->participants, i);
    Pc *pc = s == p ? NULL : g_hash_table_lookup(s->subs, p->id);
    if (pc) {
      g_hash_table_remove(s->subs, p->id);
      pc_free(room, pc);
    }
  }
  g_ptr_array_remove(room->participants, p);
  participant_free(room, p);
  GST_INFO("room %s: %s left", room->id, participant_id);
}

static void on_remote_description_set(GstPromise *promise, gpointer data)
{
  PcCtx *ctx = data;
  g_autoptr(GstPromise) held G_GNUC_UNUSED = pc_ctx_promise_settle(ctx, promise);
  if (promise_dropped(promise))
    return;
  if (!promise_ok(promise, "set-remote-description", ctx))
    post_state(ctx, SFU_PC_FAILED);
}

gboolean sfu_room_set_answer(SfuRoom *room, const char *participant_id, const char *pc_id,
                             const char *sdp, GError **error)
{
  g_return_val_if_fail(room != NULL && room->alive, FALSE);
  g_return_val_if_fail(participant_id != NULL && pc_id != NULL && sdp != NULL, FALSE);
  Pc *pc = room_find_pc(room, participant_id, pc_id, error);
  if (!pc)
    return FALSE;

  GstSDPMessage *msg = sfu_sdp_parse_answer(sdp, strlen(sdp), error);
  if (!msg)
    return FALSE;

  GstWebRTCSignalingState signaling;
  GstWebRTCSessionDescription *local = NULL;
  g_object_get(pc->webrtc, "signaling-state", &signaling, "local-description", &local, NULL);
  gboolean ok = FALSE;
  if (signaling != GST_WEBRTC_SIGNALING_STATE_HAVE_LOCAL_OFFER || !local || !local->sdp)
    g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID, "%s/%s has no offer waiting for an answer",
                participant_id, pc_id);
  else
    ok = sfu_sdp_answer_fits(local->sdp, msg, error);
  if (local)
    gst_webrtc_session_description_free(local);
  if (!ok) {
    gst_sdp_message_free(msg);
    return FALSE;
  }

  Participant *p = room_find(room, participant_id);
  if (p && pc == p->pub && !p->published)
    room_publish_from_answer(room, p, msg);
  GstWebRTCSessionDescription *answer =
      gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, msg);
  GstPromise *promise =
      pc_ctx_promise_new(pc->ctx, on_remote_description_set, pc_ctx_ref(pc->ctx), pc_ctx_unref);
  g_signal_emit_by_name(pc->webrtc, "set-remote-description", answer, promise);
  gst_promise_unref(promise);
  gst_webrtc_session_description_free(answer);
  return TRUE;
}

gboolean sfu_room_add_candidate(SfuRoom *room, const char *participant_id, const char *pc_id,
                                guint mline_index, const char *candidate, GError **error)
{
  g_return_val_if_fail(room != NULL && room->alive, FALSE);
  g_return_val_if_fail(participant_id != NULL && pc_id != NULL, FALSE);
  Pc *pc = room_find_pc(room, participant_id, pc_id, error);
  if (!pc)
    return FALSE;
  /* End of candidates: webrtcbin 1.22 needs no notice of it. */
  if (!candidate || !*candidate)
    return TRUE;
  if (!sfu_sdp_check_candidate(candidate, error))
    return FALSE;
  if (g_str_has_prefix(candidate, "a="))
    candidate += 2;
  g_signal_emit_by_name(pc->webrtc, "add-ice-candidate", mline_index, candidate);
  return TRUE;
}

void sfu_room_request_keyframe(SfuRoom *room, const char *publisher_id)
{
  g_return_if_fail(room != NULL && room->alive && publisher_id != NULL);
  Participant *p = room_find(room, publisher_id);
  if (p)
    keyframe_request(room, p);
}

gboolean sfu_room_get_participant_stats(SfuRoom *room, const char *participant_id,
                                        SfuParticipantStats *out)
{
  g_return_val_if_fail(room != NULL && participant_id != NULL && out != NULL, FALSE);
  Participant *p = room->alive ? room_find(room, participant_id) : NULL;
  if (!p)
    return FALSE;
  Counters *c = p->counters;
  out->packets_received = counter_get(&c->packets_received);
  out->bytes_received = counter_get(&c->bytes_received);
  out->packets_forwarded = counter_get(&c->packets_forwarded);
  out->bytes_forwarded = counter_get(&c->bytes_forwarded);
  out->packets_sent = counter_get(&c->packets_sent);
  out->peer_connections = (p->pub ? 1 : 0) + g_hash_table_size(p->subs);
  return TRUE;
}

void sfu_room_get_stats(SfuRoom *room, SfuRoomStats *out)
{
  g_return_if_fail(room != NULL && out != NULL);
  memset(out, 0, sizeof *out);
  if (!room->alive)
    return;
  for (guint i = 0; i < room->participants->len; i++) {
    SfuParticipantStats ps;
    Participant *p = g_ptr_array_index(room->participants, i);
    sfu_room_get_participant_stats(room, p->id, &ps);
    out->participants++;
    out->peer_connections += ps.peer_connections;
    out->packets_received += ps.packets_received;
    out->packets_forwarded += ps.packets_forwarded;
  }
}

const char *sfu_quality_label(guint score)
{
  static const char *const labels[] = {"unknown", "bad", "poor", "fair", "good", "excellent"};
  return labels[MIN(score, 5u)];
}

const char *sfu_video_state_name(SfuVideoState state)
{
  switch (state) {
  case SFU_VIDEO_ON:
    return "on";
  case SFU_VIDEO_WEAK_LINK:
    return "weak_link";
  case SFU_VIDEO_CHOSEN:
    return "chosen";
  }
  return "?";
}

void sfu_room_set_audio_only(SfuRoom *room, const char *participant_id, gboolean audio_only)
{
  g_return_if_fail(room != NULL && room->alive && participant_id != NULL);
  Participant *p = room_find(room, participant_id);
  if (!p || p->audio_only == audio_only)
    return;
  p->audio_only = audio_only;
  GST_INFO("room %s: %s %s", room->id, p->id,
           audio_only ? "chose audio only" : "wants video again");
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, p->subs);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    Pc *pc = value;
    /* Back on: the leg starts over as on, and its own estimate decides from there (a leg on
     * a lane stays there: its branch is the lane's). */
    if (pc->adapt.state != LEG_LANE)
      pc->adapt.state = LEG_ON;
    pc->adapt.low_ticks = 0;
    pc->adapt.weak_since_us = 0;
    leg_set_video(room, pc, !audio_only);
  }
  adapt_tick(room);
}

gboolean sfu_room_get_quality(SfuRoom *room, const char *participant_id, SfuQuality *out)
{
  g_return_val_if_fail(room != NULL && participant_id != NULL && out != NULL, FALSE);
  Participant *p = room_find(room, participant_id);
  if (!p)
    return FALSE;
  *out = p->quality;
  return TRUE;
}
