/* sig-api-patient.c — the patient's page's own routes under /api/join/<token>/ (docs/api.md,
 * "The patient's page"): the consent record, the network check's probe and the rating. Each is
 * scoped to the join token in its path; sig-api.c has already decided the route's row of the
 * authorisation table and taken the token's rate. The audit log (sig-audit.c) records consent
 * and rating (not the probe, which carries no patient data).
 * Thread: main loop. Privacy: a rating's comment is personal data: never logged, never echoed. */
#define G_LOG_DOMAIN "mashwara-sig"

#include <string.h>

#include "sig-private.h"

/* The largest probe the network check may ask for (and the unit of its cap). */
#define PROBE_MAX_BYTES 200000

/* The token's consultation if the token is valid now; else FALSE with the answer GET
 * /api/join/<token> would give. `*info` (transfer full). */
static gboolean valid_token(SigServer *s, const char *token, SigHttpResponse *resp,
                            SchedTokenInfo **info)
{
  g_autoptr(GError) error = NULL;
  SchedTokenVerdict v = sched_token_check(s->store, token, sig_now(), info, &error);
  if (error) {
    sig_api_fail(resp, 500, "internal", "the link could not be checked", NULL);
    return FALSE;
  }
  switch (v) {
  case SCHED_TOKEN_VALID:
    return TRUE;
  case SCHED_TOKEN_MALFORMED:
  case SCHED_TOKEN_UNKNOWN:
    sig_api_fail(resp, 404, "unknown_token", "this link is not known", NULL);
    break;
  case SCHED_TOKEN_EXPIRED:
    sig_api_fail(resp, 410, "expired_token", "this link has expired", NULL);
    break;
  case SCHED_TOKEN_TOO_EARLY:
    sig_api_fail(resp, 403, "too_early", "this link is not open yet", NULL);
    break;
  case SCHED_TOKEN_REVOKED:
    sig_api_fail(resp, 410, "revoked_token", "this appointment was cancelled", NULL);
    break;
  }
  g_clear_pointer(info, sched_token_info_free);
  return FALSE;
}

static json_t *check_body(const SigHttpRequest *req, SigHttpResponse *resp,
                          const SigApiField *fields)
{
  if (req->body_len && !sig_json_depth_ok(req->body, req->body_len, SIG_JSON_MAX_DEPTH)) {
    sig_api_fail(resp, 400, "malformed_body", "the body nests too deeply", NULL);
    return NULL;
  }
  SigApiRefusal r = {0};
  json_t *body = sig_api_check_body(fields, req->body, req->body_len, &r);
  if (!body) {
    sig_api_fail(resp, 400, r.code, r.message, r.field);
    sig_api_refusal_clear(&r);
  }
  return body;
}

/* A scheduler refusal as the API's 4xx (the scheduler's reasons hold no personal data). */
static void fail_sched(SigHttpResponse *resp, const GError *error, const char *conflict_code)
{
  if (!error || error->domain != SCHED_ERROR || error->code == SCHED_ERROR_DB) {
    sig_api_fail(resp, 500, "internal", "the request could not be stored", NULL);
    return;
  }
  g_autofree char *field = sched_error_field(error);
  switch (error->code) {
  case SCHED_ERROR_NOT_FOUND:
    sig_api_fail(resp, 404, "not_found", sched_error_reason(error), field);
    break;
  case SCHED_ERROR_CONFLICT:
    if (g_strcmp0(field, "status") == 0)
      sig_api_fail(resp, 409, "not_started", "the consultation has not started yet", field);
    else
      sig_api_fail(resp, 409, conflict_code, sched_error_reason(error), field);
    break;
  default:
    sig_api_fail(resp, 400, "invalid", sched_error_reason(error), field);
  }
}

/* POST /api/join/<token>/consent {"version", "language"} → 201 {"version", "language",
 * "accepted_at"}. */
static void api_consent(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                        const char *token)
{
  static const SigApiField fields[] = {
      {"version", SIG_API_STR, TRUE}, {"language", SIG_API_STR, TRUE}, {NULL}};
  g_autoptr(json_t) body = check_body(req, resp, fields);
  if (!body)
    return;
  g_autoptr(SchedTokenInfo) info = NULL;
  if (!valid_token(s, token, resp, &info))
    return;
  const char *version = json_string_value(json_object_get(body, "version"));
  const char *language = json_string_value(json_object_get(body, "language"));
  if (strcmp(language, "en") != 0 && strcmp(language, "ur") != 0)
    return sig_api_fail(resp, 400, "invalid", "\"language\" must be \"en\" or \"ur\"", "language");
  g_autoptr(GError) error = NULL;
  if (!sched_consent_record(s->store, info->appointment_id, info->role, version, language,
                            sig_now(), &error))
    return fail_sched(resp, error, "conflict");
  g_autoptr(SchedConsent) c =
      sched_consent_latest(s->store, info->appointment_id, info->role, NULL);
  sig_api_respond(resp, 201,
                  json_pack("{s:I, s:s, s:s, s:I}", "appointment_id",
                            (json_int_t)info->appointment_id, "version", version, "language",
                            language, "accepted_at", (json_int_t)(c ? c->accepted_at : sig_now())));
}

/* GET /api/join/<token>/probe?bytes=N → N bytes (0..PROBE_MAX_BYTES) of filler, never cached
 * (every answer says no-store): the page times it for its download rate, and bytes=0 for RTT. */
static void api_probe(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                      const char *token)
{
  SigApiRefusal r = {0};
  if (!sig_api_check_query("bytes", req->query, &r)) {
    sig_api_fail(resp, 400, r.code, r.message, r.field);
    sig_api_refusal_clear(&r);
    return;
  }
  gint64 n = 0;
  const char *v = sig_http_query_get(req, "bytes");
  if (v && !g_ascii_string_to_signed(v, 10, 0, G_MAXINT64, &n, NULL))
    return sig_api_fail(resp, 400, "wrong_type", "\"bytes\" must be a non-negative integer",
                        "bytes");
  if (n > PROBE_MAX_BYTES)
    return sig_api_fail(resp, 400, "invalid", "\"bytes\" must be at most 200000", "bytes");
  g_autoptr(SchedTokenInfo) info = NULL;
  if (!valid_token(s, token, resp, &info))
    return;
  resp->status = 200;
  resp->content_type = "application/octet-stream";
  /* The body is a C string (sig-server.c counts it with strlen), so filler, not zeros. An
   * empty answer for bytes=0. */
  resp->body = n > 0 ? g_strnfill((gsize)n, 'm') : NULL;
}

/* POST /api/join/<token>/rating {"stars": 1..5, "comment"} → 201 {"stars", "rated_at"}. The
 * patient's token only, once the consultation has started. */
static void api_rating(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                       const char *token)
{
  static const SigApiField fields[] = {
      {"stars", SIG_API_INT, TRUE}, {"comment", SIG_API_STRN, FALSE}, {NULL}};
  g_autoptr(json_t) body = check_body(req, resp, fields);
  if (!body)
    return;
  g_autoptr(SchedTokenInfo) info = NULL;
  if (!valid_token(s, token, resp, &info))
    return;
  if (g_strcmp0(info->role, "patient") != 0)
    return sig_api_fail(resp, 403, "forbidden", "only the patient rates the consultation", NULL);
  json_int_t stars = json_integer_value(json_object_get(body, "stars"));
  if (stars < 1 || stars > 5)
    return sig_api_fail(resp, 400, "invalid", "\"stars\" must be 1 to 5", "stars");
  const char *comment = json_string_value(json_object_get(body, "comment"));
  g_autoptr(GError) error = NULL;
  gint64 now = sig_now();
  if (!sched_rating_put(s->store, info->appointment_id, (int)stars, comment, now, &error))
    return fail_sched(resp, error, "already_rated");
  g_message("appointment %" G_GINT64_FORMAT ": rated", info->appointment_id);
  sig_api_respond(resp, 201,
                  json_pack("{s:i, s:I}", "stars", (int)stars, "rated_at", (json_int_t)now));
}

gboolean sig_api_patient_handle(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  const char *word = NULL;
  if (!g_str_has_prefix(req->path, "/api/join/"))
    return FALSE;
  g_autofree char *token = NULL;
  void (*handler)(SigServer *, const SigHttpRequest *, SigHttpResponse *, const char *) = NULL;
  if (sig_authz_match("/api/join/*/consent", req->path, NULL, &word))
    handler = api_consent;
  else if (sig_authz_match("/api/join/*/probe", req->path, NULL, &word))
    handler = api_probe;
  else if (sig_authz_match("/api/join/*/rating", req->path, NULL, &word))
    handler = api_rating;
  else
    return FALSE;
  token = g_strndup(word, (gsize)(strchr(word, '/') - word));
  handler(s, req, resp, token);
  return TRUE;
}
