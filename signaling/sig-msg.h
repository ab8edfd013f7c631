/* sig-msg.h — the signaling message codec (private to the signaling module and its tests).
 * Pure: no sockets, no GStreamer. Parses one client→server message of docs/protocol.md into a
 * SigMsg, checking every field's type and bounds, and builds server→client messages. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "sfu.h"

G_BEGIN_DECLS

/* json_t with g_autoptr: the reference is dropped at scope exit. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

#define SIG_MSG_MAX_BYTES (64 * 1024)
/* Deepest nesting of arrays and objects accepted in a message or an API body (jansson itself
 * allows 2048, and parses recursively). */
#define SIG_JSON_MAX_DEPTH 16

/* TRUE if the JSON text nests arrays and objects at most `max_depth` deep (strings are skipped,
 * escapes included; the text need not be valid JSON otherwise). O(len), no allocation. */
gboolean sig_json_depth_ok(const char *text, gsize len, guint max_depth);

typedef enum {
  SIG_MSG_HELLO,
  SIG_MSG_ADMIT,
  SIG_MSG_ANSWER,
  SIG_MSG_CANDIDATE,
  SIG_MSG_LEAVE,
  SIG_MSG_END,
  SIG_MSG_INVITE,
  SIG_MSG_AUDIO_ONLY,
  SIG_MSG_CHAT,
} SigMsgType;

typedef struct {
  SigMsgType type;
  char *token;           /* hello: NULL for staff */
  gint64 appointment_id; /* admit, invite; chat: 0 if absent (the sender's consultation) */
  char *pc;              /* answer, candidate: "pub" or "sub:<participant id>" */
  char *sdp;             /* answer */
  char *candidate;       /* candidate: NULL = end of candidates */
  guint mline_index;     /* candidate */
  char *outcome;         /* end */
  char *role;            /* invite */
  gboolean audio_only;   /* audio_only: its "on" */
  char *text;            /* chat: 1..SIG_CHAT_MAX_CHARS characters; personal data, never logged */
} SigMsg;

/* A chat message's text: at most this many characters (UTF-8, up to 4 bytes each). */
#define SIG_CHAT_MAX_CHARS 1000

/* Parses `len` bytes of `text`. On failure returns NULL with SIG_ERROR_MALFORMED and a
 * message fit to send back to the client (it never echoes the input). */
SigMsg *sig_msg_parse(const char *text, gsize len, GError **error);
void sig_msg_free(SigMsg *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SigMsg, sig_msg_free)

const char *sig_msg_type_name(SigMsgType type);

/* TRUE if `pc` names a peer connection: "pub" or "sub:" + 1..64 of [A-Za-z0-9_-]. */
gboolean sig_msg_pc_is_valid(const char *pc);
/* TRUE for "completed", "follow-up", "referred", "no-show". */
gboolean sig_msg_outcome_is_valid(const char *outcome);
/* TRUE for "interpreter", "specialist", "family". */
gboolean sig_msg_guest_role_is_valid(const char *role);

/* Server→client builders. Each returns a new JSON text (transfer full). */
char *sig_msg_dump(json_t *object); /* steals `object` */
char *sig_msg_error(const char *code, const char *message, gboolean fatal);
/* {"type": "quality", "participant", "role", "score", "label", "video", "loss_down", "loss_up",
 * "rtt_ms", "jitter_ms", "estimate_kbps", "video_kbps_down", "video_kbps_up"}: one participant's
 * link as the relay sees it (docs/protocol.md). Unknown values (score 0, RTT 0, estimate 0) are
 * null; ratios are rounded to 4 decimals and clamped to 0..1. */
char *sig_msg_quality(const char *participant_id, const char *role, const SfuQuality *quality);
/* {"type": "max_bitrate", "video_kbps": N}: 0 = stop sending video; SFU_NO_CAP → null (no
 * cap); any other cap is at least 1 kbit/s. */
char *sig_msg_max_bitrate(guint video_bps);

G_END_DECLS
