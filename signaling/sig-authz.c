/* sig-authz.c — the authorisation table and the one decision (sig-authz.h). Pure code.
 *
 * Rules of the table (docs/api.md, "Who may call what"): a patient reaches only their own
 * consultation, through its join token; a doctor their own appointments (and, through them,
 * their own patients); an admin everything (an admin's facility is not in the schema yet); an
 * analyst aggregates only, never a personal field; no session: public routes only. A route or a
 * message type missing here is refused (sig-api.c answers 404 for an unknown path, and the
 * WebSocket "not_allowed"), so a new endpoint cannot bypass it. */
#include "sig-authz.h"

#include "sig.h"

#include <stdlib.h>
#include <string.h>

// clang-format off
#define D SIG_ACCESS_DENY
#define A SIG_ACCESS_ALL
#define O SIG_ACCESS_OWN
#define T SIG_ACCESS_TOKEN
#define G SIG_ACCESS_AGGREGATE

/*                          none patient doctor admin analyst */
#define PUBLIC          {A, A, A, A, A}
#define TOKEN_ONLY      {T, T, T, T, T}
#define STAFF_ANY       {D, D, A, A, A}
#define ADMIN_ONLY      {D, D, D, A, D}
#define DOCTOR_OWN      {D, D, O, D, D}
#define ADMIN_OR_OWN    {D, D, O, A, D}
#define CLINICAL        {D, D, A, A, D} /* staff who treat or run the clinic, not the analyst */
#define AGGREGATES      {D, D, D, G, G}
#define IN_CONSULTATION {D, O, O, D, D} /* the participants of that consultation */
#define HELLO           {D, T, A, A, D} /* a token, or a doctor's or admin's session */

#define HTTP(m, p, who) {SIG_FACE_HTTP, m, p, who}
#define WS(t, who) {SIG_FACE_WS, NULL, t, who}

static const SigAuthzRule rules[] = {
    /* Sessions, the patient's link, the console (docs/protocol.md) */
    HTTP("POST", "/api/login", PUBLIC),
    HTTP("POST", "/api/logout", PUBLIC),
    HTTP("GET", "/api/me", STAFF_ANY),
    HTTP("GET", "/api/appointments/today", DOCTOR_OWN),
    HTTP("GET", "/api/metrics", ADMIN_OR_OWN), /* a doctor: only their consultations listed */
    HTTP("GET", "/api/join/*", TOKEN_ONLY),
    HTTP("GET", "/api/join/*/invite.ics", TOKEN_ONLY),
    HTTP("POST", "/api/link-resend", PUBLIC),
    HTTP("POST", "/api/appointments/#/guests", DOCTOR_OWN),
    /* The patient's page (issue 5): consent, the network check's probe, the rating */
    HTTP("POST", "/api/join/*/consent", TOKEN_ONLY),
    HTTP("GET", "/api/join/*/probe", TOKEN_ONLY),
    HTTP("POST", "/api/join/*/rating", TOKEN_ONLY),
    /* The audit log (admins; paged, no personal values in it) */
    HTTP("GET", "/api/audit", ADMIN_ONLY),
    /* Statistics: aggregates only, small counts suppressed */
    HTTP("GET", "/api/stats", AGGREGATES),
    /* The clinic (docs/api.md) */
    HTTP("GET", "/api/staff", ADMIN_ONLY),
    HTTP("POST", "/api/staff", ADMIN_ONLY),
    HTTP("GET", "/api/facilities", ADMIN_ONLY),
    HTTP("POST", "/api/facilities", ADMIN_ONLY),
    HTTP("GET", "/api/facilities/#", ADMIN_ONLY),
    HTTP("GET", "/api/doctors", ADMIN_ONLY),
    HTTP("POST", "/api/doctors", ADMIN_ONLY),
    HTTP("GET", "/api/doctors/#", ADMIN_ONLY),
    HTTP("PUT", "/api/doctors/#/profile", ADMIN_ONLY),
    HTTP("GET", "/api/services", ADMIN_ONLY),
    HTTP("POST", "/api/services", ADMIN_ONLY),
    HTTP("GET", "/api/services/#", ADMIN_ONLY),
    HTTP("GET", "/api/availability", ADMIN_ONLY),
    HTTP("POST", "/api/availability", ADMIN_ONLY),
    HTTP("DELETE", "/api/availability/#", ADMIN_ONLY),
    HTTP("GET", "/api/breaks", ADMIN_ONLY),
    HTTP("POST", "/api/breaks", ADMIN_ONLY),
    HTTP("DELETE", "/api/breaks/#", ADMIN_ONLY),
    HTTP("GET", "/api/exceptions", ADMIN_ONLY),
    HTTP("POST", "/api/exceptions", ADMIN_ONLY),
    HTTP("DELETE", "/api/exceptions/#", ADMIN_ONLY),
    HTTP("GET", "/api/patients", ADMIN_ONLY),
    HTTP("POST", "/api/patients", ADMIN_ONLY),
    HTTP("GET", "/api/patients/#", ADMIN_ONLY),
    HTTP("GET", "/api/slots", ADMIN_ONLY),
    HTTP("GET", "/api/appointments", ADMIN_OR_OWN),
    HTTP("POST", "/api/appointments", ADMIN_ONLY),
    HTTP("POST", "/api/holds", ADMIN_ONLY),
    HTTP("GET", "/api/appointments/#", ADMIN_OR_OWN),
    HTTP("POST", "/api/appointments/#/confirm", ADMIN_ONLY),
    HTTP("POST", "/api/appointments/#/cancel", ADMIN_ONLY),
    HTTP("POST", "/api/appointments/#/reschedule", ADMIN_ONLY),
    HTTP("POST", "/api/appointments/#/check-in", ADMIN_OR_OWN),
    HTTP("GET", "/api/appointments/#/invite.ics", ADMIN_OR_OWN),
    HTTP("POST", "/api/walk-ins", ADMIN_ONLY),
    HTTP("GET", "/api/queue", ADMIN_OR_OWN),
    HTTP("GET", "/api/waitlist", ADMIN_ONLY),
    HTTP("POST", "/api/waitlist", ADMIN_ONLY),
    HTTP("DELETE", "/api/waitlist/#", ADMIN_ONLY),
    HTTP("GET", "/api/outbox", ADMIN_ONLY),
    /* FHIR R4, read only (docs/api.md) */
    HTTP("GET", "/fhir/metadata", CLINICAL),
    HTTP("GET", "/fhir/Appointment", ADMIN_OR_OWN),
    HTTP("GET", "/fhir/Appointment/*", ADMIN_OR_OWN),
    HTTP("GET", "/fhir/Slot", CLINICAL),
    HTTP("GET", "/fhir/Slot/*", CLINICAL),
    HTTP("GET", "/fhir/Schedule", CLINICAL),
    HTTP("GET", "/fhir/Schedule/*", CLINICAL),
    HTTP("GET", "/fhir/Practitioner", CLINICAL),
    HTTP("GET", "/fhir/Practitioner/*", CLINICAL),
    HTTP("GET", "/fhir/Location", CLINICAL),
    HTTP("GET", "/fhir/Location/*", CLINICAL),
    /* A consultation's clinical content (docs/api.md): the patient sends photos and reads the
     * advice by their token (guests' tokens: 403); only the appointment's own doctor reads the
     * photos, the patient's details and the private notes, and gives advice (not the admin:
     * running the clinic needs none of it). */
    HTTP("POST", "/api/join/*/attachments", TOKEN_ONLY),
    HTTP("GET", "/api/join/*/advice", TOKEN_ONLY),
    HTTP("GET", "/api/appointments/#/attachments", DOCTOR_OWN),
    HTTP("GET", "/api/appointments/#/attachments/#", DOCTOR_OWN),
    HTTP("GET", "/api/appointments/#/notes", DOCTOR_OWN),
    HTTP("PUT", "/api/appointments/#/notes", DOCTOR_OWN),
    HTTP("POST", "/api/appointments/#/advice", DOCTOR_OWN),
    HTTP("GET", "/api/appointments/#/patient", DOCTOR_OWN),
    /* Signaling messages (docs/protocol.md). hello: the credential it presents; a refused
     * hello closes with 4403. The rest: the connection's role after hello; refused with
     * {"type":"error","code":"not_allowed"}. */
    WS("hello", HELLO),
    WS("admit", DOCTOR_OWN),
    WS("answer", IN_CONSULTATION),
    WS("candidate", IN_CONSULTATION),
    WS("leave", IN_CONSULTATION),
    WS("end", DOCTOR_OWN),
    WS("invite", DOCTOR_OWN),
    WS("audio_only", IN_CONSULTATION),
    WS("chat", IN_CONSULTATION), /* the doctor: their own appointments' patients, waiting too */
};
// clang-format on

const SigAuthzRule *sig_authz_rules(gsize *n_rules)
{
  if (n_rules)
    *n_rules = G_N_ELEMENTS(rules);
  return rules;
}

gboolean sig_authz_match(const char *pattern, const char *path, gint64 *id, const char **word)
{
  const char *p = pattern, *s = path;
  while (*p && *s) {
    if (*p == '#') {
      const char *start = s;
      while (g_ascii_isdigit(*s))
        s++;
      gint64 v;
      g_autofree char *digits = g_strndup(start, (gsize)(s - start));
      if (s == start || s - start > 18 || digits[0] == '0' ||
          !g_ascii_string_to_signed(digits, 10, 1, G_MAXINT64, &v, NULL))
        return FALSE;
      if (id)
        *id = v;
      p++;
    } else if (*p == '*') {
      const char *start = s;
      while (*s && *s != '/')
        s++;
      if (s == start)
        return FALSE;
      if (word)
        *word = start;
      p++;
    } else if (*p == *s) {
      p++, s++;
    } else {
      return FALSE;
    }
  }
  return *p == '\0' && *s == '\0';
}

const SigAuthzRule *sig_authz_find_http(const char *method, const char *path, gboolean *path_known)
{
  gboolean known = FALSE;
  const SigAuthzRule *found = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS(rules) && !found; i++) {
    if (rules[i].face != SIG_FACE_HTTP || !sig_authz_match(rules[i].pattern, path, NULL, NULL))
      continue;
    known = TRUE;
    if (g_strcmp0(rules[i].method, method) == 0)
      found = &rules[i];
  }
  if (path_known)
    *path_known = known;
  return found;
}

const SigAuthzRule *sig_authz_find_ws(const char *type)
{
  for (gsize i = 0; i < G_N_ELEMENTS(rules); i++)
    if (rules[i].face == SIG_FACE_WS && g_strcmp0(rules[i].pattern, type) == 0)
      return &rules[i];
  return NULL;
}

int sig_authz_decide(const SigAuthzRule *rule, SigRole role, SigAccess *access)
{
  SigAccess a = SIG_ACCESS_DENY;
  if (rule && (guint)role < SIG_ROLE_COUNT)
    a = rule->access[role];
  if (access)
    *access = a;
  if (a != SIG_ACCESS_DENY)
    return 0;
  return role == SIG_ROLE_NONE || role == SIG_ROLE_PATIENT ? 401 : 403;
}

SigRole sig_authz_staff_role(const char *staff_role)
{
  if (g_strcmp0(staff_role, "doctor") == 0)
    return SIG_ROLE_DOCTOR;
  if (g_strcmp0(staff_role, "admin") == 0)
    return SIG_ROLE_ADMIN;
  if (g_strcmp0(staff_role, "analyst") == 0)
    return SIG_ROLE_ANALYST;
  return SIG_ROLE_NONE;
}

SigRole sig_authz_participant_role(const char *participant_role)
{
  static const char *const token_roles[] = {"patient", "interpreter", "specialist", "family"};
  for (gsize i = 0; i < G_N_ELEMENTS(token_roles); i++)
    if (g_strcmp0(participant_role, token_roles[i]) == 0)
      return SIG_ROLE_PATIENT;
  return sig_authz_staff_role(participant_role);
}

gboolean sig_authz_owns(SigRole role, gint64 caller_staff_id, gint64 doctor_id)
{
  if (role == SIG_ROLE_ADMIN)
    return TRUE;
  return role == SIG_ROLE_DOCTOR && caller_staff_id > 0 && caller_staff_id == doctor_id;
}

const char *sig_authz_role_name(SigRole role)
{
  static const char *const names[] = {"none", "patient", "doctor", "admin", "analyst"};
  G_STATIC_ASSERT(G_N_ELEMENTS(names) == SIG_ROLE_COUNT);
  return (guint)role < SIG_ROLE_COUNT ? names[role] : "?";
}

const char *sig_authz_access_name(SigAccess access)
{
  switch (access) {
  case SIG_ACCESS_DENY:
    return "deny";
  case SIG_ACCESS_ALL:
    return "all";
  case SIG_ACCESS_OWN:
    return "own";
  case SIG_ACCESS_TOKEN:
    return "token";
  case SIG_ACCESS_AGGREGATE:
    return "aggregate";
  }
  return "?";
}

json_t *sig_authz_table_json(void)
{
  json_t *roles = json_array();
  for (int r = 0; r < SIG_ROLE_COUNT; r++)
    json_array_append_new(roles, json_string(sig_authz_role_name((SigRole)r)));
  json_t *list = json_array();
  for (gsize i = 0; i < G_N_ELEMENTS(rules); i++) {
    const SigAuthzRule *rule = &rules[i];
    gboolean http = rule->face == SIG_FACE_HTTP;
    json_t *access = json_object(), *refusal = json_object();
    for (int r = 0; r < SIG_ROLE_COUNT; r++) {
      int status = sig_authz_decide(rule, (SigRole)r, NULL);
      json_object_set_new(access, sig_authz_role_name((SigRole)r),
                          json_string(sig_authz_access_name(rule->access[r])));
      json_t *how = json_null();
      if (status && http)
        how = json_integer(status);
      else if (status)
        how = strcmp(rule->pattern, "hello") == 0 ? json_integer(4403) : json_string("not_allowed");
      json_object_set_new(refusal, sig_authz_role_name((SigRole)r), how);
    }
    json_t *o = json_pack("{s:s, s:o, s:o}", "face", http ? "http" : "ws", "access", access,
                          "refusal", refusal);
    if (http) {
      json_object_set_new(o, "method", json_string(rule->method));
      json_object_set_new(o, "path", json_string(rule->pattern));
    } else {
      json_object_set_new(o, "type", json_string(rule->pattern));
    }
    json_array_append_new(list, o);
  }
  return json_pack("{s:o, s:o}", "roles", roles, "rules", list);
}

#define CSRF_LABEL "mashwara csrf token v1"

char *sig_authz_csrf_token(const char *session_secret)
{
  g_return_val_if_fail(session_secret != NULL, NULL);
  guint8 mac[32];
  gsize n = sizeof(mac);
  g_autoptr(GHmac) h =
      g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)CSRF_LABEL, strlen(CSRF_LABEL));
  g_hmac_update(h, (const guchar *)session_secret, (gssize)strlen(session_secret));
  g_hmac_get_digest(h, mac, &n);
  char *b64 = g_base64_encode(mac, n);
  for (char *c = b64; *c; c++) /* base64url, no padding: safe in a header as is */
    *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
  char *eq = strchr(b64, '=');
  if (eq)
    *eq = '\0';
  return b64;
}

gboolean sig_authz_csrf_check(const char *session_secret, const char *presented)
{
  if (!session_secret || !presented)
    return FALSE;
  g_autofree char *want = sig_authz_csrf_token(session_secret);
  gsize n = strlen(want), m = strlen(presented);
  /* constant time in the content; the length of a valid token is public */
  guint diff = (guint)(n ^ m);
  for (gsize i = 0; i < n; i++)
    diff |= (guint)(guchar)want[i] ^ (guint)(guchar)(i < m ? presented[i] : 0);
  return diff == 0;
}

gboolean sig_authz_same_origin(const char *origin, const char *host, const char *public_url,
                               const char *sec_fetch_site)
{
  if (sec_fetch_site && strcmp(sec_fetch_site, "same-origin") != 0 &&
      strcmp(sec_fetch_site, "none") != 0)
    return FALSE;
  if (!origin)
    return TRUE; /* not a browser, or an old one: the CSRF token still applies */
  if (public_url && g_ascii_strcasecmp(origin, public_url) == 0)
    return TRUE;
  const char *o = strstr(origin, "://");
  return o && host && g_str_has_prefix(origin, "https://") && g_ascii_strcasecmp(o + 3, host) == 0;
}

char *sig_authz_table_text(void)
{
  json_t *t = sig_authz_table_json();
  char *text = json_dumps(t, JSON_COMPACT);
  json_decref(t);
  char *r = g_strdup(text); /* GLib-owned */
  free(text);
  return r;
}
