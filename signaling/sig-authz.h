/* sig-authz.h — who may do what: one table covering every HTTP endpoint (the JSON API, the
 * FHIR face) and every signaling message type, and the one function that decides from it
 * (private to the signaling module and its tests). Pure: no sockets, no database.
 *
 * The table says, per route and per role, one of: refused, allowed, allowed on the caller's own
 * records only (the handler narrows: sig_authz_owns()), allowed to whoever holds the join token
 * (the handler checks the token), or aggregates only. docs/api.md ("Who may call what") lists
 * it; `mashwara admin authz-table` prints it as JSON and tests/api/authz.test.mjs walks it.
 * Thread: any (the table is constant). */
#pragma once

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

/* Who is calling. HTTP: the role of the live staff session behind the mw_session cookie, else
 * NONE (a patient's only credential is the join token in a token route's path, so a patient
 * calling any other route is NONE). WebSocket: before hello, the credential the hello presents
 * (a join token: PATIENT, guests included; a staff session: its role; nothing: NONE); after
 * hello, the connection's role. */
typedef enum {
  SIG_ROLE_NONE,
  SIG_ROLE_PATIENT, /* holds a join token (a patient's or a guest's) */
  SIG_ROLE_DOCTOR,
  SIG_ROLE_ADMIN,
  SIG_ROLE_ANALYST,
  SIG_ROLE_COUNT,
} SigRole;

typedef enum {
  SIG_ACCESS_DENY,      /* refused: HTTP 401 without a session, 403 with one; WS not_allowed */
  SIG_ACCESS_ALL,       /* allowed, every record the route reaches */
  SIG_ACCESS_OWN,       /* allowed on the caller's own records only; another's: 403 */
  SIG_ACCESS_TOKEN,     /* allowed to the holder of the join token in the path or hello */
  SIG_ACCESS_AGGREGATE, /* aggregates only, never a personal field */
} SigAccess;

typedef enum {
  SIG_FACE_HTTP,
  SIG_FACE_WS,
} SigFace;

typedef struct {
  SigFace face;
  const char *method;  /* HTTP: "GET", "POST", "PUT", "DELETE"; WS: NULL */
  const char *pattern; /* HTTP: the path, '#' a positive integer id, '*' one free segment;
                          WS: the message type */
  SigAccess access[SIG_ROLE_COUNT];
} SigAuthzRule;

/* The whole table, HTTP rows then WebSocket rows. */
const SigAuthzRule *sig_authz_rules(gsize *n_rules);

/* Matches `path` against a pattern; fills *id ('#', if any) and *word (start of '*', if any). */
gboolean sig_authz_match(const char *pattern, const char *path, gint64 *id, const char **word);

/* The HTTP rule for `method` and `path`, or NULL; *path_known says whether the path exists
 * under another method (405) or not at all (404). */
const SigAuthzRule *sig_authz_find_http(const char *method, const char *path, gboolean *path_known);
/* The WebSocket rule of a message type ("hello", "admit", …), or NULL. */
const SigAuthzRule *sig_authz_find_ws(const char *type);

/* The one decision. Returns 0 if `role` may use `rule` (*access says how: the handler narrows
 * OWN and checks TOKEN), else the HTTP status to refuse with: 401 when the caller has no
 * session (NONE, PATIENT), 403 otherwise. A NULL rule is refused (default deny). */
int sig_authz_decide(const SigAuthzRule *rule, SigRole role, SigAccess *access);

/* The role of a staff record's role name ("doctor", "admin", "analyst"); NONE for anything else. */
SigRole sig_authz_staff_role(const char *staff_role);
/* The role of a WebSocket participant's role name: staff roles as above, "patient" and the
 * guest roles PATIENT. */
SigRole sig_authz_participant_role(const char *participant_role);

/* For OWN access: TRUE if the record (its doctor `doctor_id`) belongs to the caller. Admins own
 * everything (there is no per-facility admin in the schema yet: docs/api.md). */
gboolean sig_authz_owns(SigRole role, gint64 caller_staff_id, gint64 doctor_id);

const char *sig_authz_role_name(SigRole role);
const char *sig_authz_access_name(SigAccess access);

/* The CSRF token of a staff session: HMAC-SHA256 of the session secret (the cookie's value,
 * which pages cannot read) under a fixed label, base64url. Unguessable without the cookie,
 * stable across restarts (sessions are durable), and revealing nothing about the secret.
 * (transfer full) */
char *sig_authz_csrf_token(const char *session_secret);
/* TRUE if `presented` is the session's CSRF token; compared in constant time. */
gboolean sig_authz_csrf_check(const char *session_secret, const char *presented);

/* TRUE if a state-changing request may come from where its headers say: no Origin or one whose
 * host part is `host` (or the origin of `public_url`), and Sec-Fetch-Site, if present, is
 * "same-origin" or "none". */
gboolean sig_authz_same_origin(const char *origin, const char *host, const char *public_url,
                               const char *sec_fetch_site);

/* The table as JSON: {"roles": [...], "rules": [{"face", "method", "path"|"type", "access":
 * {role: access}, "refusal": {role: status or null}}]}. (transfer full) */
json_t *sig_authz_table_json(void);

G_END_DECLS
