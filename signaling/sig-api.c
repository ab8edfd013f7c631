/* sig-api.c — the JSON API under /api/ (docs/protocol.md) and the one gate every /api/ and
 * /fhir/ request passes: the route's row of the authorisation table (sig-authz.c), the live
 * session, CSRF and origin checks on state-changing requests, the per-token rate. Each handler
 * reads a parsed request and fills a status and a JSON body; sig-server.c does the HTTP
 * framing (and the per-address rate and connection limits).
 * Thread: main loop. Privacy: names appear in bodies for the staff who may see them, never in
 * logs. */
#define G_LOG_DOMAIN "mashwara-sig"

#include <string.h>

#include "sig-private.h"

char *sig_api_error_body(const char *code, const char *message, const char *field)
{
  json_t *o = json_pack("{s:s, s:s}", "error", code, "message", message);
  if (field)
    json_object_set_new(o, "field", json_string(field));
  return sig_msg_dump(o);
}

void sig_api_respond(SigHttpResponse *resp, int status, json_t *body)
{
  resp->status = status;
  resp->body = body ? sig_msg_dump(body) : NULL;
}

void sig_api_fail(SigHttpResponse *resp, int status, const char *code, const char *message,
                  const char *field)
{
  resp->status = status;
  resp->body = sig_api_error_body(code, message, field);
}

static json_t *staff_json(const SchedStaff *staff)
{
  return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)staff->id, "name", staff->display_name,
                   "role", staff->role);
}

static json_t *parse_body(const SigHttpRequest *req, SigHttpResponse *resp)
{
  json_error_t jerr;
  if (req->body_len && !sig_json_depth_ok(req->body, req->body_len, SIG_JSON_MAX_DEPTH)) {
    sig_api_fail(resp, 400, "malformed_body", "the body nests too deeply", NULL);
    return NULL;
  }
  json_t *root = req->body_len ? json_loadb(req->body, req->body_len, 0, &jerr) : NULL;
  if (!json_is_object(root)) {
    json_decref(root);
    sig_api_fail(resp, 400, "malformed_body", "the body must be a JSON object", NULL);
    return NULL;
  }
  return root;
}

static const char *body_string(json_t *root, const char *field, SigHttpResponse *resp)
{
  json_t *v = json_object_get(root, field);
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256) {
    g_autofree char *m = g_strdup_printf("\"%s\" must be a non-empty string", field);
    sig_api_fail(resp, 400, "malformed_body", m, field);
    return NULL;
  }
  return json_string_value(v);
}

/* 429 with Retry-After. */
static void throttled(SigHttpResponse *resp, gint64 retry_after, const char *message)
{
  sig_api_fail(resp, 429, "too_many_requests", message, NULL);
  resp->retry_after = retry_after;
}

static void api_login(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  g_autoptr(json_t) root = parse_body(req, resp);
  if (!root)
    return;
  const char *user = body_string(root, "username", resp);
  const char *pass = user ? body_string(root, "password", resp) : NULL;
  if (!user || !pass)
    return;
  /* Throttled per account and per address, on failures only: a correct password is refused
   * too while throttled, so guessing on cannot tell right from wrong. */
  gint64 now_us = g_get_monotonic_time();
  const char *peer = req->peer ? req->peer : "?";
  gint64 wait = MAX(sig_buckets_peek(s->login_account, user, now_us),
                    sig_buckets_peek(s->login_address, peer, now_us));
  if (wait > 0) {
    g_message("login throttled from %s", peer); /* never the username: it may be a name */
    return throttled(resp, wait, "too many failed logins; try again later");
  }
  g_autoptr(GError) error = NULL;
  gint64 id = sched_staff_authenticate(s->store, user, pass, &error);
  if (!id) {
    if (error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_AUTH) {
      sig_buckets_take(s->login_account, user, now_us);
      sig_buckets_take(s->login_address, peer, now_us);
      sig_api_fail(resp, 401, "invalid_credentials", "wrong username or password", NULL);
    } else {
      sig_api_fail(resp, 500, "internal", "the server could not check the password", NULL);
    }
    return;
  }
  sig_buckets_reset(s->login_account, user);
  g_autoptr(SchedStaff) staff = sched_staff_get(s->store, id, NULL);
  g_autofree char *secret =
      staff ? sched_session_open(s->store, id, sig_now(), s->config.session_ttl_s, NULL) : NULL;
  if (!secret) {
    sig_api_fail(resp, 500, "internal", "the server could not open a session", NULL);
    return;
  }
  g_message("staff %" G_GINT64_FORMAT " logged in", id);
  resp->set_cookie = g_strdup_printf("%s=%s; Path=/; HttpOnly; Secure; SameSite=Strict; "
                                     "Max-Age=%" G_GINT64_FORMAT,
                                     SIG_SESSION_COOKIE, secret, s->config.session_ttl_s);
  g_autofree char *csrf = sig_authz_csrf_token(secret);
  sig_api_respond(resp, 200,
                  json_pack("{s:o, s:s}", "staff", staff_json(staff), "csrf_token", csrf));
}

static void api_logout(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  if (req->cookie_session)
    sched_session_close(s->store, req->cookie_session);
  resp->set_cookie = g_strdup_printf("%s=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
                                     SIG_SESSION_COOKIE);
  sig_api_respond(resp, 204, NULL);
}

static void api_me(const SigHttpRequest *req, SigHttpResponse *resp)
{
  g_autofree char *csrf = sig_authz_csrf_token(req->cookie_session);
  sig_api_respond(resp, 200,
                  json_pack("{s:o, s:s}", "staff", staff_json(req->staff), "csrf_token", csrf));
}

/* The caller's own appointments today (doctor, "own" in the table). */
static void api_today(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  const SchedStaff *staff = req->staff;
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autoptr(GDateTime) day =
      g_date_time_new_local(g_date_time_get_year(now), g_date_time_get_month(now),
                            g_date_time_get_day_of_month(now), 0, 0, 0);
  gint64 from = g_date_time_to_unix(day);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list =
      sched_appointments_for_doctor(s->store, staff->id, from, from + 24 * 3600, &error);
  if (!list) {
    sig_api_fail(resp, 500, "internal", "the schedule could not be read", NULL);
    return;
  }
  json_t *arr = json_array();
  for (guint i = 0; i < list->len; i++) {
    SchedAppointment *a = g_ptr_array_index(list, i);
    json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:s, s:s, s:s}", "id", (json_int_t)a->id,
                                         "starts_at", (json_int_t)a->starts_at, "ends_at",
                                         (json_int_t)a->ends_at, "status", a->status,
                                         "patient_name", a->patient_name ? a->patient_name : "",
                                         "kind", a->kind ? a->kind : "booked"));
  }
  sig_api_respond(resp, 200, json_pack("{s:o}", "appointments", arr));
}

static void api_guests(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                       gint64 appointment_id)
{
  const SchedStaff *staff = req->staff;
  g_autoptr(json_t) root = parse_body(req, resp);
  if (!root)
    return;
  const char *role = body_string(root, "role", resp);
  if (!role)
    return;
  if (!sig_msg_guest_role_is_valid(role)) {
    sig_api_fail(resp, 400, "malformed_body", "\"role\" must be interpreter, specialist or family",
                 "role");
    return;
  }
  g_autoptr(SchedAppointment) a = sched_appointment_get(s->store, appointment_id, NULL);
  if (!a) {
    sig_api_fail(resp, 404, "not_found", "no such appointment", NULL);
    return;
  }
  if (!sig_authz_owns(req->role, staff->id, a->doctor_id)) {
    sig_api_fail(resp, 403, "forbidden", "this is not your appointment", NULL);
    return;
  }
  g_autofree char *token = sched_token_issue_guest(s->store, appointment_id, role, NULL);
  if (!token) {
    sig_api_fail(resp, 500, "internal", "the link could not be made", NULL);
    return;
  }
  g_autofree char *link = g_strdup_printf("%s/join/%s", s->config.public_url, token);
  sig_api_respond(resp, 201, json_pack("{s:s, s:s}", "token", token, "link", link));
}

static void api_join(SigServer *s, const char *token, SigHttpResponse *resp)
{
  g_autoptr(SchedTokenInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  SchedTokenVerdict v = sched_token_check(s->store, token, sig_now(), &info, &error);
  if (error) {
    sig_api_fail(resp, 500, "internal", "the link could not be checked", NULL);
    return;
  }
  switch (v) {
  case SCHED_TOKEN_MALFORMED:
  case SCHED_TOKEN_UNKNOWN:
    sig_api_fail(resp, 404, "unknown_token", "this link is not known", NULL);
    return;
  case SCHED_TOKEN_EXPIRED:
    sig_api_respond(resp, 410,
                    json_pack("{s:s, s:s, s:I}", "error", "expired_token", "message",
                              "this link has expired", "valid_until",
                              (json_int_t)info->valid_until));
    return;
  case SCHED_TOKEN_TOO_EARLY:
    sig_api_respond(resp, 403,
                    json_pack("{s:s, s:s, s:I}", "error", "too_early", "message",
                              "this link is not open yet", "valid_from",
                              (json_int_t)info->valid_from));
    return;
  case SCHED_TOKEN_REVOKED:
    sig_api_fail(resp, 410, "revoked_token", "this appointment was cancelled", NULL);
    return;
  case SCHED_TOKEN_VALID:
    break;
  }
  g_autoptr(SchedAppointment) a = sched_appointment_get(s->store, info->appointment_id, NULL);
  if (!a) {
    sig_api_fail(resp, 404, "unknown_token", "this link is not known", NULL);
    return;
  }
  json_t *o =
      json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I}", "appointment_id", (json_int_t)a->id, "role",
                info->role, "doctor_name", a->doctor_name ? a->doctor_name : "", "starts_at",
                (json_int_t)a->starts_at, "ends_at", (json_int_t)a->ends_at, "valid_from",
                (json_int_t)info->valid_from, "valid_until", (json_int_t)info->valid_until);
  /* The patient's page (schema 6): the consent version this token's holder last accepted (a
   * returning patient is not asked again) and whether the consultation is rated. */
  g_autoptr(SchedConsent) consent = sched_consent_latest(s->store, a->id, info->role, NULL);
  g_autoptr(SchedRating) rating = sched_rating_get(s->store, a->id, NULL);
  json_object_set_new(o, "consent_version", consent ? json_string(consent->version) : json_null());
  json_object_set_new(o, "rated", json_boolean(rating != NULL));
  sig_api_respond(resp, 200, o);
}

/* Server-wide counters (no personal data) and the live consultations: a doctor's own only. */
static void api_metrics(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  gint64 doctor_id = req->role == SIG_ROLE_ADMIN ? 0 : req->staff->id;
  SfuRelayStats rs;
  sfu_relay_get_stats(s->relay, &rs);
  json_t *o =
      json_pack("{s:i, s:i, s:i, s:i, s:i, s:o}", "connections", (int)g_hash_table_size(s->conns),
                "rooms", (int)rs.rooms, "pipelines", (int)rs.pipelines, "participants",
                (int)rs.participants, "peer_connections", (int)rs.peer_connections, "consultations",
                sig_consult_metrics(s, doctor_id));
  sig_api_respond(resp, 200, o);
}

/* A count for a face others see: 1..4 as "<5" (docs/api.md, statistics). */
static json_t *count_json(gint64 n)
{
  return sched_stats_is_small(n) ? json_string("<5") : json_integer((json_int_t)n);
}

static json_t *minutes_json(gint64 base, int minutes)
{
  return base >= SCHED_STATS_SMALL_COUNT && minutes >= 0 ? json_integer(minutes) : json_null();
}

static json_t *mean_json(gint64 base, double v)
{
  return base >= SCHED_STATS_SMALL_COUNT && v >= 0 ? json_real(v) : json_null();
}

/* part / whole, or null when the whole is under 5, or the part or the rest is 1..4 (a rate
 * would give that small count away: 1 of 17 is 0.0588…, 16 of 17 is 0.941…). */
static json_t *rate_json(gint64 part, gint64 whole)
{
  if (whole < SCHED_STATS_SMALL_COUNT || sched_stats_is_small(part) ||
      sched_stats_is_small(whole - part))
    return json_null();
  return json_real((double)part / (double)whole);
}

/* Aggregates for the dashboard (analyst, admin): counts per group, never a personal field. */
static void api_stats(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  static const struct {
    const char *word;
    guint flag;
  } groups[] = {{"day", SCHED_STATS_BY_DAY},
                {"week", SCHED_STATS_BY_WEEK},
                {"district", SCHED_STATS_BY_DISTRICT},
                {"facility", SCHED_STATS_BY_FACILITY},
                {"specialty", SCHED_STATS_BY_SPECIALTY},
                {"sex", SCHED_STATS_BY_SEX},
                {"age_band", SCHED_STATS_BY_AGE_BAND}};
  SchedStatsQuery q = {0};
  for (const char *const *a = req->query; a && *a; a++) {
    const char *eq = strchr(*a, '=');
    g_autofree char *key = g_strndup(*a, eq ? (gsize)(eq - *a) : strlen(*a));
    const char *v = eq ? eq + 1 : "";
    gint64 *num = strcmp(key, "from") == 0          ? &q.from
                  : strcmp(key, "to") == 0          ? &q.to
                  : strcmp(key, "facility_id") == 0 ? &q.facility_id
                                                    : NULL;
    if (num) {
      if (!g_ascii_string_to_signed(v, 10, 0, G_MAXINT64, num, NULL))
        return sig_api_fail(resp, 400, "wrong_type", "must be an integer", key);
    } else if (strcmp(key, "group_by") == 0) {
      g_auto(GStrv) words = g_strsplit(v, ",", -1);
      for (char **w = words; *w; w++) {
        gsize i = 0;
        while (i < G_N_ELEMENTS(groups) && strcmp(*w, groups[i].word) != 0)
          i++;
        if (i == G_N_ELEMENTS(groups))
          return sig_api_fail(resp, 400, "invalid",
                              "day, week, district, facility, specialty, sex or age_band",
                              "group_by");
        q.group_by |= groups[i].flag;
      }
    } else {
      return sig_api_fail(resp, 400, "unknown_field", "not a parameter of this request", NULL);
    }
  }
  if (!q.from || !q.to)
    return sig_api_fail(resp, 400, "missing_field", "\"from\" and \"to\" are required",
                        q.from ? "to" : "from");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = sched_stats_query(s->store, &q, &error);
  if (!rows) {
    if (error && error->domain == SCHED_ERROR && error->code != SCHED_ERROR_DB) {
      g_autofree char *field = sched_error_field(error);
      gboolean nf = error->code == SCHED_ERROR_NOT_FOUND;
      return sig_api_fail(resp, nf ? 404 : 400, nf ? "not_found" : "invalid",
                          sched_error_reason(error), field);
    }
    return sig_api_fail(resp, 500, "internal", "the statistics could not be read", NULL);
  }
  json_t *arr = json_array();
  /* Facility id → its name (a public institution's, not personal data), once per request. */
  g_autoptr(GHashTable) facility_names =
      g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  for (guint i = 0; i < rows->len; i++) {
    const SchedStatsRow *r = g_ptr_array_index(rows, i);
    json_t *o = json_object();
    json_object_set_new(o, "date", r->date ? json_string(r->date) : json_null());
    json_object_set_new(o, "district", r->district ? json_string(r->district) : json_null());
    json_object_set_new(o, "facility_id",
                        r->facility_id ? json_integer((json_int_t)r->facility_id) : json_null());
    json_object_set_new(o, "specialty", r->specialty ? json_string(r->specialty) : json_null());
    json_object_set_new(o, "consultations", count_json(r->consultations));
    json_object_set_new(o, "completed", count_json(r->completed));
    json_object_set_new(o, "noshows", count_json(r->noshows));
    json_object_set_new(o, "cancellations", count_json(r->cancellations));
    json_object_set_new(o, "wait_p50_min", minutes_json(r->waits, r->wait_p50_min));
    json_object_set_new(o, "wait_p90_min", minutes_json(r->waits, r->wait_p90_min));
    json_object_set_new(o, "duration_p50_min", minutes_json(r->durations, r->duration_p50_min));
    json_object_set_new(o, "quality_consultations", count_json(r->quality_consultations));
    json_object_set_new(o, "audio_fallbacks", count_json(r->audio_fallbacks));
    json_object_set_new(o, "avg_score", mean_json(r->quality_consultations, r->avg_score));
    json_object_set_new(o, "avg_loss", mean_json(r->quality_consultations, r->avg_loss));
    json_object_set_new(o, "avg_rtt_ms", mean_json(r->quality_consultations, r->avg_rtt_ms));
    json_object_set_new(o, "avg_video_kbps",
                        mean_json(r->quality_consultations, r->avg_video_kbps));
    /* Schema 8 (docs/dashboard.md): every figure over fewer than 5 consultations is null. */
    const char *fname = NULL;
    if (r->facility_id > 0) {
      fname = g_hash_table_lookup(facility_names, &r->facility_id);
      if (fname == NULL) {
        g_autoptr(SchedFacility) f = sched_facility_get(s->store, r->facility_id, NULL);
        fname = f ? f->name : "";
        g_hash_table_insert(facility_names, g_memdup2(&r->facility_id, sizeof r->facility_id),
                            g_strdup(fname));
        fname = g_hash_table_lookup(facility_names, &r->facility_id);
      }
    }
    json_object_set_new(o, "facility", fname && *fname ? json_string(fname) : json_null());
    json_object_set_new(o, "sex", r->sex ? json_string(r->sex) : json_null());
    json_object_set_new(o, "age_band", r->age_band ? json_string(r->age_band) : json_null());
    json_object_set_new(o, "doctors_active", count_json(r->doctors_active));
    json_object_set_new(o, "ratings", count_json(r->ratings));
    json_object_set_new(o, "avg_stars", mean_json(r->ratings, r->avg_stars));
    json_object_set_new(o, "noshow_rate", rate_json(r->noshows, r->consultations + r->noshows));
    json_object_set_new(o, "audio_only_share",
                        rate_json(r->audio_fallbacks, r->quality_consultations));
    json_object_set_new(o, "median_loss", mean_json(r->quality_consultations, r->median_loss));
    json_object_set_new(o, "median_rtt_ms", mean_json(r->quality_consultations, r->median_rtt_ms));
    json_object_set_new(o, "median_video_kbps",
                        mean_json(r->quality_consultations, r->median_video_kbps));
    json_array_append_new(arr, o);
  }
  sig_api_respond(resp, 200, json_pack("{s:o}", "stats", arr));
}

static const char *method_name(int method)
{
  switch (method) {
  case LWSHUMETH_GET:
    return "GET";
  case LWSHUMETH_POST:
    return "POST";
  case LWSHUMETH_PUT:
    return "PUT";
  case LWSHUMETH_PATCH:
    return "PATCH";
  case LWSHUMETH_DELETE:
    return "DELETE";
  case LWSHUMETH_HEAD:
    return "HEAD";
  default:
    return "?";
  }
}

static gboolean is_state_changing(int method)
{
  return method == LWSHUMETH_POST || method == LWSHUMETH_PUT || method == LWSHUMETH_PATCH ||
         method == LWSHUMETH_DELETE;
}

/* A refusal in the face's own error form: OperationOutcome under /fhir/, else the API's. */
static void refuse(const SigHttpRequest *req, SigHttpResponse *resp, int status, const char *code,
                   const char *message)
{
  if (g_str_has_prefix(req->path, "/fhir/"))
    return sig_api_fhir_refuse(resp, status, message);
  sig_api_fail(resp, status, code, message, NULL);
}

/* The handlers behind the table's rows outside the clinic and FHIR faces. FALSE: not one. */
static gboolean dispatch_own(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  const char *p = req->path;
  gint64 id = 0;
  const char *word = NULL;
  if (strcmp(p, "/api/login") == 0)
    api_login(s, req, resp);
  else if (strcmp(p, "/api/logout") == 0)
    api_logout(s, req, resp);
  else if (strcmp(p, "/api/me") == 0)
    api_me(req, resp);
  else if (strcmp(p, "/api/appointments/today") == 0)
    api_today(s, req, resp);
  else if (strcmp(p, "/api/metrics") == 0)
    api_metrics(s, req, resp);
  else if (strcmp(p, "/api/stats") == 0)
    api_stats(s, req, resp);
  else if (sig_authz_match("/api/join/*", p, NULL, &word))
    api_join(s, word, resp);
  else if (sig_authz_match("/api/appointments/#/guests", p, &id, NULL))
    api_guests(s, req, resp, id);
  else if (sig_audit_api_handle(s, req, resp))
    ;
  else if (sig_api_patient_handle(s, req, resp))
    ;
  else
    return FALSE;
  return TRUE;
}

void sig_api_handle(SigServer *s, const SigHttpRequest *in, SigHttpResponse *resp)
{
  SigHttpRequest req = *in;
  gboolean known = FALSE;
  const SigAuthzRule *rule = sig_authz_find_http(method_name(req.method), req.path, &known);
  if (!rule) {
    if (known)
      return refuse(&req, resp, 405, "method_not_allowed", "this path does not take that method");
    return refuse(&req, resp, 404, "not_found", "no such API path");
  }

  /* A join token is guessed or hammered here, whichever address it comes from. The network
   * check's probe is not counted (only per address): its few requests on every page load would
   * otherwise spend a reloading patient's budget for the link check and the hello. */
  const char *word = NULL;
  if (rule->access[SIG_ROLE_NONE] == SIG_ACCESS_TOKEN &&
      strcmp(rule->pattern, "/api/join/*/probe") != 0 &&
      sig_authz_match(rule->pattern, req.path, NULL, &word) && word) {
    const char *slash = strchr(word, '/');
    g_autofree char *token = slash ? g_strndup(word, (gsize)(slash - word)) : g_strdup(word);
    gint64 wait = sig_buckets_take(s->rate_token, token, g_get_monotonic_time());
    if (wait > 0)
      return throttled(resp, wait, "too many requests for this link; try again later");
  }

  gint64 staff_id =
      req.cookie_session ? sched_session_lookup(s->store, req.cookie_session, sig_now()) : 0;
  g_autoptr(SchedStaff) staff = staff_id ? sched_staff_get(s->store, staff_id, NULL) : NULL;
  req.staff = staff;
  req.role = staff ? sig_authz_staff_role(staff->role) : SIG_ROLE_NONE;

  /* CSRF: a state-changing request from a page of another site must not ride the cookie. The
   * origin check covers every such request (login included); the token every one made with a
   * live session. */
  if (is_state_changing(req.method)) {
    if (!sig_authz_same_origin(req.origin, req.host, s->config.public_url, req.sec_fetch_site)) {
      g_message("%s %s from %s refused: cross-site", method_name(req.method), req.path,
                req.peer ? req.peer : "?");
      return refuse(&req, resp, 403, "csrf", "cross-site requests are refused");
    }
    if (staff && !sig_authz_csrf_check(req.cookie_session, req.csrf_token))
      return refuse(&req, resp, 403, "csrf",
                    "missing or wrong X-CSRF-Token (it comes with the login and /api/me)");
  }

  int status = sig_authz_decide(rule, req.role, NULL);
  if (status == 401)
    return refuse(&req, resp, 401, "not_authenticated", "log in first");
  if (status)
    return refuse(&req, resp, 403, "forbidden", "your role may not do this");

  if (g_str_has_prefix(req.path, "/fhir/"))
    return sig_api_fhir_handle(s, &req, resp);
  if (sig_api_clinic_handle(s, &req, resp))
    return;
  if (sig_api_clinical_handle(s, &req, resp))
    return;
  if (dispatch_own(s, &req, resp))
    return;
  /* A row of the table without a handler: a bug, found by tests/api/authz.test.mjs. */
  g_warning("%s %s: in the authorisation table but not handled", method_name(req.method),
            rule->pattern);
  refuse(&req, resp, 404, "not_found", "no such API path");
}
