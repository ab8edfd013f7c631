/* sig-msg.c — parsing and building signaling messages. Pure code: no I/O; every string it
 * returns is owned by the caller. Limits here are the protocol's (docs/protocol.md). */
#include "sig-msg.h"

#include <string.h>

#include "sig.h"

#define MAX_TOKEN_LEN 128
#define MAX_CANDIDATE_LEN 1024
#define MAX_MLINE 15

G_DEFINE_QUARK(mashwara - sig - error - quark, sig_error)

static const char *const type_names[] = {
    [SIG_MSG_HELLO] = "hello",   [SIG_MSG_ADMIT] = "admit",
    [SIG_MSG_ANSWER] = "answer", [SIG_MSG_CANDIDATE] = "candidate",
    [SIG_MSG_LEAVE] = "leave",   [SIG_MSG_END] = "end",
    [SIG_MSG_INVITE] = "invite", [SIG_MSG_AUDIO_ONLY] = "audio_only",
    [SIG_MSG_CHAT] = "chat",
};

const char *sig_msg_type_name(SigMsgType type)
{
  g_return_val_if_fail((guint)type < G_N_ELEMENTS(type_names), "?");
  return type_names[type];
}

void sig_msg_free(SigMsg *msg)
{
  if (!msg)
    return;
  g_free(msg->token);
  g_free(msg->pc);
  g_free(msg->sdp);
  g_free(msg->candidate);
  g_free(msg->outcome);
  g_free(msg->role);
  g_free(msg->text);
  g_free(msg);
}

gboolean sig_msg_pc_is_valid(const char *pc)
{
  if (!pc)
    return FALSE;
  if (strcmp(pc, "pub") == 0)
    return TRUE;
  if (strncmp(pc, "sub:", 4) != 0)
    return FALSE;
  const char *id = pc + 4;
  gsize n = strlen(id);
  if (n == 0 || n > 64)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum(id[i]) && id[i] != '-' && id[i] != '_')
      return FALSE;
  return TRUE;
}

static gboolean in_set(const char *s, const char *const *set)
{
  for (; s && *set; set++)
    if (strcmp(s, *set) == 0)
      return TRUE;
  return FALSE;
}

gboolean sig_msg_outcome_is_valid(const char *outcome)
{
  static const char *const outcomes[] = {"completed", "follow-up", "referred", "no-show", NULL};
  return in_set(outcome, outcomes);
}

gboolean sig_msg_guest_role_is_valid(const char *role)
{
  static const char *const roles[] = {"interpreter", "specialist", "family", NULL};
  return in_set(role, roles);
}

static gboolean bad(GError **error, const char *fmt, const char *field)
{
  g_set_error(error, SIG_ERROR, SIG_ERROR_MALFORMED, fmt, field);
  return FALSE;
}

/* A required (or optional) string field of at most `max` bytes, copied into `*out`. */
static gboolean take_string(json_t *obj, const char *field, gsize max, gboolean required,
                            char **out, GError **error)
{
  json_t *v = json_object_get(obj, field);
  if (!v || json_is_null(v)) {
    if (required)
      return bad(error, "field \"%s\" is missing", field);
    return TRUE;
  }
  if (!json_is_string(v))
    return bad(error, "field \"%s\" must be a string", field);
  if (json_string_length(v) > max)
    return bad(error, "field \"%s\" is too long", field);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return bad(error, "field \"%s\" contains a NUL character", field);
  *out = g_strdup(json_string_value(v));
  return TRUE;
}

static gboolean take_id(json_t *obj, const char *field, gint64 *out, GError **error)
{
  json_t *v = json_object_get(obj, field);
  if (!v)
    return bad(error, "field \"%s\" is missing", field);
  if (!json_is_integer(v) || json_integer_value(v) <= 0)
    return bad(error, "field \"%s\" must be a positive integer", field);
  *out = json_integer_value(v);
  return TRUE;
}

static gboolean parse_fields(SigMsg *m, json_t *root, GError **error)
{
  switch (m->type) {
  case SIG_MSG_HELLO:
    return take_string(root, "token", MAX_TOKEN_LEN, FALSE, &m->token, error);
  case SIG_MSG_ADMIT:
    return take_id(root, "appointment_id", &m->appointment_id, error);
  case SIG_MSG_INVITE:
    if (!take_id(root, "appointment_id", &m->appointment_id, error) ||
        !take_string(root, "role", 32, TRUE, &m->role, error))
      return FALSE;
    if (!sig_msg_guest_role_is_valid(m->role))
      return bad(error, "field \"%s\" must be interpreter, specialist or family", "role");
    return TRUE;
  case SIG_MSG_ANSWER:
    if (!take_string(root, "pc", 80, TRUE, &m->pc, error) ||
        !take_string(root, "sdp", SIG_MSG_MAX_BYTES, TRUE, &m->sdp, error))
      return FALSE;
    if (!sig_msg_pc_is_valid(m->pc))
      return bad(error, "field \"%s\" does not name a peer connection", "pc");
    if (!g_str_has_prefix(m->sdp, "v=0"))
      return bad(error, "field \"%s\" is not an SDP description", "sdp");
    return TRUE;
  case SIG_MSG_CANDIDATE: {
    if (!take_string(root, "pc", 80, TRUE, &m->pc, error) ||
        !take_string(root, "candidate", MAX_CANDIDATE_LEN, FALSE, &m->candidate, error))
      return FALSE;
    if (!sig_msg_pc_is_valid(m->pc))
      return bad(error, "field \"%s\" does not name a peer connection", "pc");
    if (m->candidate && m->candidate[0] == '\0')
      g_clear_pointer(&m->candidate, g_free); /* "" ends the list, as null does */
    if (m->candidate && !g_str_has_prefix(m->candidate, "candidate:") &&
        !g_str_has_prefix(m->candidate, "a=candidate:"))
      return bad(error, "field \"%s\" is not an ICE candidate", "candidate");
    json_t *v = json_object_get(root, "sdpMLineIndex");
    if (m->candidate) {
      if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > MAX_MLINE)
        return bad(error, "field \"%s\" must be an integer from 0 to 15", "sdpMLineIndex");
      m->mline_index = (guint)json_integer_value(v);
    }
    return TRUE;
  }
  case SIG_MSG_END:
    if (!take_string(root, "outcome", 32, TRUE, &m->outcome, error))
      return FALSE;
    if (!sig_msg_outcome_is_valid(m->outcome))
      return bad(error, "field \"%s\" must be completed, follow-up, referred or no-show",
                 "outcome");
    return TRUE;
  case SIG_MSG_LEAVE:
    return TRUE;
  case SIG_MSG_CHAT: {
    if (!take_string(root, "text", SIG_CHAT_MAX_CHARS * 4, TRUE, &m->text, error))
      return FALSE;
    gboolean visible = FALSE;
    glong n = 0;
    for (const char *p = m->text; *p; p = g_utf8_next_char(p)) {
      gunichar c = g_utf8_get_char(p);
      if (++n > SIG_CHAT_MAX_CHARS)
        return bad(error, "field \"%s\" is over 1000 characters", "text");
      if (g_unichar_iscntrl(c) && c != '\n' && c != '\t')
        return bad(error, "field \"%s\" contains a control character", "text");
      visible |= !g_unichar_isspace(c);
    }
    if (!visible)
      return bad(error, "field \"%s\" is empty", "text");
    if (json_object_get(root, "appointment_id") &&
        !json_is_null(json_object_get(root, "appointment_id")))
      return take_id(root, "appointment_id", &m->appointment_id, error);
    return TRUE;
  }
  case SIG_MSG_AUDIO_ONLY: {
    json_t *v = json_object_get(root, "on");
    if (!json_is_boolean(v))
      return bad(error, "field \"%s\" must be true or false", "on");
    m->audio_only = json_is_true(v);
    return TRUE;
  }
  }
  return bad(error, "unknown %s", "type");
}

gboolean sig_json_depth_ok(const char *text, gsize len, guint max_depth)
{
  guint depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return FALSE;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return TRUE;
}

SigMsg *sig_msg_parse(const char *text, gsize len, GError **error)
{
  g_return_val_if_fail(text != NULL || len == 0, NULL);
  if (len > SIG_MSG_MAX_BYTES) {
    bad(error, "%s is over 64 KiB", "the message");
    return NULL;
  }
  if (!sig_json_depth_ok(text, len, SIG_JSON_MAX_DEPTH)) {
    bad(error, "%s nests too deeply", "the message");
    return NULL;
  }
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (!root) {
    bad(error, "%s is not valid JSON", "the message");
    return NULL;
  }
  SigMsg *m = NULL;
  if (!json_is_object(root)) {
    bad(error, "%s must be a JSON object", "the message");
    goto out;
  }
  json_t *t = json_object_get(root, "type");
  if (!json_is_string(t)) {
    bad(error, "field \"%s\" is missing or not a string", "type");
    goto out;
  }
  m = g_new0(SigMsg, 1);
  guint i;
  for (i = 0; i < G_N_ELEMENTS(type_names); i++)
    if (strcmp(json_string_value(t), type_names[i]) == 0)
      break;
  if (i == G_N_ELEMENTS(type_names)) {
    bad(error, "unknown message %s", "type");
    g_clear_pointer(&m, sig_msg_free);
    goto out;
  }
  m->type = (SigMsgType)i;
  if (!parse_fields(m, root, error))
    g_clear_pointer(&m, sig_msg_free);
out:
  json_decref(root);
  return m;
}

char *sig_msg_dump(json_t *object)
{
  char *s = json_dumps(object, JSON_COMPACT);
  json_decref(object);
  /* json_dumps uses malloc; hand back GLib-owned memory. */
  char *r = g_strdup(s);
  free(s);
  return r;
}

/* A ratio for the pages: 0..1, 4 decimals (NaN as 0). */
static double ratio(double v)
{
  if (!(v > 0))
    return 0;
  return v >= 1 ? 1 : (double)(gint64)(v * 10000 + 0.5) / 10000;
}

static json_t *kbps_or_null(guint bps)
{
  return bps ? json_integer((json_int_t)(((guint64)bps + 500) / 1000)) : json_null();
}

char *sig_msg_quality(const char *participant_id, const char *role, const SfuQuality *q)
{
  g_return_val_if_fail(participant_id != NULL && role != NULL && q != NULL, NULL);
  guint score = MIN(q->score, 5u);
  json_t *o = json_pack(
      "{s:s, s:s, s:s, s:o, s:s, s:s, s:f, s:f, s:o, s:i, s:o, s:i, s:i}", "type", "quality",
      "participant", participant_id, "role", role, "score",
      score ? json_integer(score) : json_null(), "label", sfu_quality_label(score), "video",
      sfu_video_state_name(q->video), "loss_down", ratio(q->loss_down), "loss_up",
      ratio(q->loss_up), "rtt_ms", q->rtt_ms ? json_integer(q->rtt_ms) : json_null(), "jitter_ms",
      (int)MIN(q->jitter_ms, (guint)G_MAXINT), "estimate_kbps", kbps_or_null(q->estimate_bps),
      "video_kbps_down", (int)(((guint64)q->video_bps_down + 500) / 1000), "video_kbps_up",
      (int)(((guint64)q->video_bps_up + 500) / 1000));
  return sig_msg_dump(o);
}

char *sig_msg_max_bitrate(guint video_bps)
{
  json_t *kbps = video_bps == SFU_NO_CAP ? json_null()
                 : video_bps == 0        ? json_integer(0)
                                  : json_integer(MAX(1, ((json_int_t)video_bps + 500) / 1000));
  return sig_msg_dump(json_pack("{s:s, s:o}", "type", "max_bitrate", "video_kbps", kbps));
}

char *sig_msg_error(const char *code, const char *message, gboolean fatal)
{
  json_t *o = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message);
  if (fatal)
    json_object_set_new(o, "fatal", json_true());
  return sig_msg_dump(o);
}
