/* sfu.h — the media relay. The only public header of the sfu module (prefix `sfu_`).
 *
 * Model: a SfuRoom is one consultation: one GstPipeline. Each participant has one *publish*
 * peer connection (the browser sends its microphone and camera to the relay; the relay offers
 * it recvonly Opus + VP8) and one *subscribe* peer connection per other participant who
 * publishes (the relay sends that participant's media, forwarded without decoding; the relay
 * offers it sendonly). The relay is always the offerer; browsers answer. Peer connection ids:
 * "pub" for the publish connection, "sub:<publisher participant id>" for a subscription.
 *
 * Threads: every function here is called from the thread that runs `config->context`
 * (the daemon's main loop). webrtcbin calls back from its own streaming threads; the relay
 * copies what it needs and hands it to that context, so every SfuRoomCallbacks function runs
 * there too, never re-entrantly from inside an sfu_ call.
 * Ownership: the caller owns relays and rooms (`_new`/`_free`). After sfu_room_free() returns
 * no callback of that room runs again. A relay outlives its rooms. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SFU_ERROR (sfu_error_quark())
GQuark sfu_error_quark(void);

typedef enum {
  SFU_ERROR_FAILED,      /* GStreamer refused (missing element, state change failed) */
  SFU_ERROR_FULL,        /* the room already has SFU_ROOM_MAX_PARTICIPANTS */
  SFU_ERROR_NOT_FOUND,   /* no such participant or peer connection */
  SFU_ERROR_INVALID_SDP, /* the answer does not parse, or does not fit the offer */
  SFU_ERROR_INVALID,     /* another bad argument (a malformed candidate, a duplicate id) */
} SfuError;

#define SFU_ROOM_MAX_PARTICIPANTS 4

typedef struct SfuRelay SfuRelay;
typedef struct SfuRoom SfuRoom;

typedef struct {
  /* Local IPv4/IPv6 addresses the relay gathers ICE candidates on (NULL-terminated; NULL or
   * empty = every interface, which is only fit for development). */
  const char *const *ice_addresses;
  guint min_port; /* UDP/TCP port range for media; 0 = any */
  guint max_port;
  /* TRUE: UDP candidates only. FALSE (the default): also ICE-TCP (RFC 6544) host candidates,
   * passive ones a browser whose network blocks UDP connects to over TCP. */
  gboolean disable_ice_tcp;
  const char *stun_server; /* "stun://host:port" or NULL */
  const char *turn_server; /* "turn://user:pass@host:port" or NULL */
  GMainContext *context;   /* where callbacks run; NULL = the default main context */
} SfuConfig;

typedef enum {
  SFU_PC_NEW,
  SFU_PC_CONNECTING,
  SFU_PC_CONNECTED,
  SFU_PC_DISCONNECTED,
  SFU_PC_FAILED,
  SFU_PC_CLOSED,
} SfuPcState;

const char *sfu_pc_state_name(SfuPcState state);

/* Order, per peer connection: `offer` first, then its `candidate`s (never before its offer),
 * `pc_state` as the transport changes. A pc may get a new `offer` later (renegotiation, e.g. a
 * publisher's second stream arrived after its subscriptions were offered): answer it the same
 * way. The relay never signals the end of its candidates. Peer connections the caller removes
 * (sfu_room_remove_participant, sfu_room_free) get no callback at all, not even "closed".
 * SFU_PC_FAILED (ICE/DTLS failure, or webrtcbin refused an offer or answer): the relay keeps
 * the pc as it is; recover by removing the participant and adding it again. */
#define SFU_NO_CAP G_MAXUINT

/* Why video to a participant is paused. */
typedef enum {
  SFU_VIDEO_ON,        /* video flows */
  SFU_VIDEO_WEAK_LINK, /* its downlink estimate is under the floor: audio only, the relay
                        * probes and resumes video by itself */
  SFU_VIDEO_CHOSEN,    /* the participant chose audio only (sfu_room_set_audio_only) */
} SfuVideoState;

/* Link quality of one participant. Down = relay -> participant (its subscriptions), up =
 * participant -> relay (its publish connection). Ratios are 0..1, averaged over the last few
 * seconds. */
typedef struct {
  guint score;          /* 1 (bad) .. 5 (excellent), from loss, RTT, jitter and bitrate */
  double loss_down;     /* fraction of packets lost towards it (receiver reports) */
  double loss_up;       /* fraction of its packets lost on the way in */
  guint rtt_ms;         /* 0 = unknown */
  guint jitter_ms;      /* interarrival jitter it reports */
  guint estimate_bps;   /* downlink bandwidth estimate, 0 = unknown yet */
  guint video_bps_down; /* video bit rate the relay sends it now */
  guint audio_bps_down;
  guint video_bps_up;  /* video bit rate it publishes now */
  SfuVideoState video; /* video towards it */
} SfuQuality;

/* Plain words for a score: "excellent", "good", "fair", "poor", "bad". */
const char *sfu_quality_label(guint score);
const char *sfu_video_state_name(SfuVideoState state);

typedef struct {
  /* The relay made an offer on peer connection `pc_id` of `participant_id`: send it to that
   * participant's browser, which answers with sfu_room_set_answer(). */
  void (*offer)(gpointer user_data, const char *participant_id, const char *pc_id, const char *sdp);
  /* A local ICE candidate ("candidate:..." line without "a="), for trickle ICE. */
  void (*candidate)(gpointer user_data, const char *participant_id, const char *pc_id,
                    guint mline_index, const char *candidate);
  /* A peer connection's state changed (its ICE + DTLS transport, as RTCPeerConnection's
   * connectionState would say). */
  void (*pc_state)(gpointer user_data, const char *participant_id, const char *pc_id,
                   SfuPcState state);
  /* About once a second per participant: the quality of its link as the relay sees it
   * (SfuQuality above). May be NULL. */
  void (*quality)(gpointer user_data, const char *participant_id, const SfuQuality *quality);
  /* The relay wants `publisher_id`'s browser to cap its video encoder at `video_bps` bit/s
   * (what its subscribers can take); 0 = stop sending video (no subscriber takes video);
   * SFU_NO_CAP = no cap. Sent when the cap changes by more than a few percent. May be NULL. */
  void (*bitrate_cap)(gpointer user_data, const char *publisher_id, guint video_bps);
} SfuRoomCallbacks;

/* (transfer full) Checks that the GStreamer elements the relay needs exist. */
SfuRelay *sfu_relay_new(const SfuConfig *config, GError **error);
/* Every room of the relay must have been freed first. */
void sfu_relay_free(SfuRelay *relay);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SfuRelay, sfu_relay_free)

/* A new, empty room (one pipeline, playing). `callbacks` must outlive the room. */
SfuRoom *sfu_room_new(SfuRelay *relay, const char *room_id, const SfuRoomCallbacks *callbacks,
                      gpointer user_data, GError **error);
/* Stops the pipeline and frees every peer connection of the room. */
void sfu_room_free(SfuRoom *room);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SfuRoom, sfu_room_free)

/* Adds a participant: the relay offers it a publish connection ("pub") and one subscription
 * per other publisher; every other participant gets a subscription to the new one. A
 * publisher's subscriptions are offered once its first media arrives, so the offer carries
 * the publisher's real SSRCs. SFU_ERROR_FULL past SFU_ROOM_MAX_PARTICIPANTS,
 * SFU_ERROR_INVALID for a duplicate id. */
gboolean sfu_room_add_participant(SfuRoom *room, const char *participant_id, GError **error);

/* Removes a participant and every peer connection that carries its media or goes to it.
 * Unknown ids are ignored. */
void sfu_room_remove_participant(SfuRoom *room, const char *participant_id);

/* The browser's answer to the relay's offer on `pc_id`. SFU_ERROR_INVALID_SDP if it is absurd
 * (over 64 KiB, lines that are not printable ASCII, over 16 m-lines, a malformed candidate line),
 * does not parse, or its m-lines do not match the offer; SFU_ERROR_INVALID if no offer awaits an
 * answer on that pc. webrtcbin applies it asynchronously; if it refuses it then, the pc reports
 * SFU_PC_FAILED. */
gboolean sfu_room_set_answer(SfuRoom *room, const char *participant_id, const char *pc_id,
                             const char *sdp, GError **error);

/* A remote ICE candidate for `pc_id` ("candidate:..." with or without "a="). NULL or ""
 * means the end of the browser's candidates. SFU_ERROR_INVALID if it is not a well-formed
 * candidate (RFC 8839's grammar, printable ASCII, at most 1024 bytes). May come before the answer:
 * webrtcbin holds it until the answer is set. */
gboolean sfu_room_add_candidate(SfuRoom *room, const char *participant_id, const char *pc_id,
                                guint mline_index, const char *candidate, GError **error);

/* Asks `publisher_id` for a keyframe on its video (as a FIR). Requests to one publisher closer
 * than 300 ms to the last are skipped: the keyframe on its way serves them. The relay itself
 * asks when a subscription connects, and again if no keyframe went to the subscriber. */
void sfu_room_request_keyframe(SfuRoom *room, const char *publisher_id);

/* The participant's own choice: TRUE = receive audio only (video from everyone paused towards
 * it, and its publishers capped accordingly); FALSE = video again (resumes with a keyframe). */
void sfu_room_set_audio_only(SfuRoom *room, const char *participant_id, gboolean audio_only);

/* The last SfuQuality computed for a participant. FALSE if unknown participant. */
gboolean sfu_room_get_quality(SfuRoom *room, const char *participant_id, SfuQuality *out);

typedef struct {
  guint64 packets_received; /* RTP packets the relay received from this participant */
  guint64 bytes_received;
  guint64 packets_forwarded; /* RTP packets of this participant the relay sent to others */
  guint64 bytes_forwarded;
  guint64 packets_sent;   /* RTP packets of others the relay sent to this participant */
  guint peer_connections; /* its publish connection + its subscriptions */
} SfuParticipantStats;

gboolean sfu_room_get_participant_stats(SfuRoom *room, const char *participant_id,
                                        SfuParticipantStats *out);

typedef struct {
  guint participants;
  guint peer_connections;
  guint64 packets_received;
  guint64 packets_forwarded;
} SfuRoomStats;

void sfu_room_get_stats(SfuRoom *room, SfuRoomStats *out);

typedef struct {
  guint rooms;     /* live SfuRoom objects */
  guint pipelines; /* live GstPipelines (one per room) */
  guint participants;
  guint peer_connections; /* live webrtcbin elements (a removed one until it is finalized,
                           * one main-loop turn later: its last bus messages name it) */
} SfuRelayStats;

/* Counts of live objects, for the operator and for leak tests. */
void sfu_relay_get_stats(SfuRelay *relay, SfuRelayStats *out);

G_END_DECLS
