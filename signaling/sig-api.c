/* sig-api.c — the JSON API under /api/ (docs/protocol.md). Each handler reads a parsed request
 * and fills a status and a JSON body; sig-server.c does the HTTP framing.
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

static void respond(SigHttpResponse *resp, int status, json_t *body)
{
  resp->status = status;
  resp->body = body ? sig_msg_dump(body) : NULL;
}

static void fail(SigHttpResponse *resp, int status, const char *code, const char *message,
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

/* The staff member behind the request's session cookie, or NULL (and a 401 filled in). */
static SchedStaff *require_staff(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  gint64 id =
      req->cookie_session ? sched_session_lookup(s->store, req->cookie_session, sig_now()) : 0;
  SchedStaff *staff = id ? sched_staff_get(s->store, id, NULL) : NULL;
  if (!staff)
    fail(resp, 401, "not_authenticated", "log in first", NULL);
  return staff;
}

static json_t *parse_body(const SigHttpRequest *req, SigHttpResponse *resp)
{
  json_error_t jerr;
  json_t *root = req->body_len ? json_loadb(req->body, req->body_len, 0, &jerr) : NULL;
  if (!json_is_object(root)) {
    json_decref(root);
    fail(resp, 400, "malformed_body", "the body must be a JSON object", NULL);
    return NULL;
  }
  return root;
}

static const char *body_string(json_t *root, const char *field, SigHttpResponse *resp)
{
  json_t *v = json_object_get(root, field);
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256) {
    g_autofree char *m = g_strdup_printf("\"%s\" must be a non-empty string", field);
    fail(resp, 400, "malformed_body", m, field);
    return NULL;
  }
  return json_string_value(v);
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
  g_autoptr(GError) error = NULL;
  gint64 id = sched_staff_authenticate(s->store, user, pass, &error);
  if (!id) {
    if (error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_AUTH)
      fail(resp, 401, "invalid_credentials", "wrong username or password", NULL);
    else
      fail(resp, 500, "internal", "the server could not check the password", NULL);
    return;
  }
  g_autoptr(SchedStaff) staff = sched_staff_get(s->store, id, NULL);
  g_autofree char *secret =
      staff ? sched_session_open(s->store, id, sig_now(), s->config.session_ttl_s, NULL) : NULL;
  if (!secret) {
    fail(resp, 500, "internal", "the server could not open a session", NULL);
    return;
  }
  g_message("staff %" G_GINT64_FORMAT " logged in", id);
  resp->set_cookie = g_strdup_printf("%s=%s; Path=/; HttpOnly; Secure; SameSite=Strict; "
                                     "Max-Age=%" G_GINT64_FORMAT,
                                     SIG_SESSION_COOKIE, secret, s->config.session_ttl_s);
  respond(resp, 200, json_pack("{s:o}", "staff", staff_json(staff)));
}

static void api_logout(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  if (req->cookie_session)
    sched_session_close(s->store, req->cookie_session);
  resp->set_cookie = g_strdup_printf("%s=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
                                     SIG_SESSION_COOKIE);
  respond(resp, 204, NULL);
}

static void api_me(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  g_autoptr(SchedStaff) staff = require_staff(s, req, resp);
  if (staff)
    respond(resp, 200, json_pack("{s:o}", "staff", staff_json(staff)));
}

static void api_today(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  g_autoptr(SchedStaff) staff = require_staff(s, req, resp);
  if (!staff)
    return;
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autoptr(GDateTime) day =
      g_date_time_new_local(g_date_time_get_year(now), g_date_time_get_month(now),
                            g_date_time_get_day_of_month(now), 0, 0, 0);
  gint64 from = g_date_time_to_unix(day);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list =
      sched_appointments_for_doctor(s->store, staff->id, from, from + 24 * 3600, &error);
  if (!list) {
    fail(resp, 500, "internal", "the schedule could not be read", NULL);
    return;
  }
  json_t *arr = json_array();
  for (guint i = 0; i < list->len; i++) {
    SchedAppointment *a = g_ptr_array_index(list, i);
    json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:s, s:s}", "id", (json_int_t)a->id,
                                         "starts_at", (json_int_t)a->starts_at, "ends_at",
                                         (json_int_t)a->ends_at, "status", a->status,
                                         "patient_name", a->patient_name ? a->patient_name : ""));
  }
  respond(resp, 200, json_pack("{s:o}", "appointments", arr));
}

static void api_guests(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                       gint64 appointment_id)
{
  g_autoptr(SchedStaff) staff = require_staff(s, req, resp);
  if (!staff)
    return;
  g_autoptr(json_t) root = parse_body(req, resp);
  if (!root)
    return;
  const char *role = body_string(root, "role", resp);
  if (!role)
    return;
  if (!sig_msg_guest_role_is_valid(role)) {
    fail(resp, 400, "malformed_body", "\"role\" must be interpreter, specialist or family", "role");
    return;
  }
  g_autoptr(SchedAppointment) a = sched_appointment_get(s->store, appointment_id, NULL);
  if (!a) {
    fail(resp, 404, "not_found", "no such appointment", NULL);
    return;
  }
  if (a->doctor_id != staff->id) {
    fail(resp, 403, "forbidden", "this is not your appointment", NULL);
    return;
  }
  g_autofree char *token = sched_token_issue_guest(s->store, appointment_id, role, NULL);
  if (!token) {
    fail(resp, 500, "internal", "the link could not be made", NULL);
    return;
  }
  g_autofree char *link = g_strdup_printf("%s/join/%s", s->config.public_url, token);
  respond(resp, 201, json_pack("{s:s, s:s}", "token", token, "link", link));
}

static void api_join(SigServer *s, const char *token, SigHttpResponse *resp)
{
  g_autoptr(SchedTokenInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  SchedTokenVerdict v = sched_token_check(s->store, token, sig_now(), &info, &error);
  if (error) {
    fail(resp, 500, "internal", "the link could not be checked", NULL);
    return;
  }
  switch (v) {
  case SCHED_TOKEN_MALFORMED:
  case SCHED_TOKEN_UNKNOWN:
    fail(resp, 404, "unknown_token", "this link is not known", NULL);
    return;
  case SCHED_TOKEN_EXPIRED:
    respond(resp, 410,
            json_pack("{s:s, s:s, s:I}", "error", "expired_token", "message",
                      "this link has expired", "valid_until", (json_int_t)info->valid_until));
    return;
  case SCHED_TOKEN_TOO_EARLY:
    respond(resp, 403,
            json_pack("{s:s, s:s, s:I}", "error", "too_early", "message",
                      "this link is not open yet", "valid_from", (json_int_t)info->valid_from));
    return;
  case SCHED_TOKEN_REVOKED:
    fail(resp, 410, "revoked_token", "this appointment was cancelled", NULL);
    return;
  case SCHED_TOKEN_VALID:
    break;
  }
  g_autoptr(SchedAppointment) a = sched_appointment_get(s->store, info->appointment_id, NULL);
  if (!a) {
    fail(resp, 404, "unknown_token", "this link is not known", NULL);
    return;
  }
  respond(resp, 200,
          json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I}", "appointment_id", (json_int_t)a->id,
                    "role", info->role, "doctor_name", a->doctor_name ? a->doctor_name : "",
                    "starts_at", (json_int_t)a->starts_at, "ends_at", (json_int_t)a->ends_at,
                    "valid_from", (json_int_t)info->valid_from, "valid_until",
                    (json_int_t)info->valid_until));
}

static void api_metrics(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  g_autoptr(SchedStaff) staff = require_staff(s, req, resp);
  if (!staff)
    return;
  SfuRelayStats rs;
  sfu_relay_get_stats(s->relay, &rs);
  json_t *o = json_pack("{s:i, s:i, s:i, s:i, s:i, s:o}", "connections",
                        (int)g_hash_table_size(s->conns), "rooms", (int)rs.rooms, "pipelines",
                        (int)rs.pipelines, "participants", (int)rs.participants, "peer_connections",
                        (int)rs.peer_connections, "consultations", sig_consult_metrics(s));
  respond(resp, 200, o);
}

void sig_api_handle(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  const char *p = req->path;
  gboolean get = req->method == LWSHUMETH_GET, post = req->method == LWSHUMETH_POST;
  gint64 id = 0;
  char tail[32] = "";

  if (g_str_has_prefix(p, "/fhir/"))
    return sig_api_fhir_handle(s, req, resp);
  if (sig_audit_api_handle(s, req, resp))
    return;
  if (sig_api_clinic_handle(s, req, resp))
    return;
  if (strcmp(p, "/api/login") == 0) {
    if (post)
      return api_login(s, req, resp);
  } else if (strcmp(p, "/api/logout") == 0) {
    if (post)
      return api_logout(s, req, resp);
  } else if (strcmp(p, "/api/me") == 0) {
    if (get)
      return api_me(s, req, resp);
  } else if (strcmp(p, "/api/appointments/today") == 0) {
    if (get)
      return api_today(s, req, resp);
  } else if (strcmp(p, "/api/metrics") == 0) {
    if (get)
      return api_metrics(s, req, resp);
  } else if (g_str_has_prefix(p, "/api/join/") && !strchr(p + 10, '/')) {
    if (get)
      return api_join(s, p + 10, resp);
  } else if (sscanf(p, "/api/appointments/%" G_GINT64_FORMAT "/%31s", &id, tail) == 2 &&
             strcmp(tail, "guests") == 0 && id > 0) {
    if (post)
      return api_guests(s, req, resp, id);
  } else {
    return fail(resp, 404, "not_found", "no such API path", NULL);
  }
  fail(resp, 405, "method_not_allowed", "this path does not take that method", NULL);
}
