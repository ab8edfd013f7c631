/* sig-audit.c — the signaling side of the audit log (scheduler.h, "Audit log"): two hook points
 * and the admin's read of the log.
 *
 * - HTTP: sig_audit_http() wraps sig_api_handle(). Before the handler it classifies the route
 *   (method and path → action, object type, object id; `routes` below), resolves who asks (the
 *   staff session, or the join token in the path) and opens an audited unit, so every scheduler
 *   write the handler makes joins one transaction (a savepoint of the group commit's batch for
 *   writing requests). After the handler: a success commits the unit with its row ("ok"); a
 *   4xx/5xx rolls back whatever the handler wrote and appends a "refused"/"failed" row on its
 *   own. If the row cannot be written, the change goes with it and the answer becomes a 500.
 *   Reads of reference data (facilities, services, slots, doctors' timetables) are not
 *   audited; every read that returns patient data and every write is.
 * - WebSocket: sig_audit_ws_begin()/_end() wrap a consultation message (hello, admit, leave,
 *   end, invite, audio_only) the same way, except that a message answered with an error keeps
 *   its writes (outcome "refused"); media messages (answer, candidate) are not audited.
 *   A dropped connection's leave is appended after the fact (sig_audit_ws_dropped).
 * Rows carry ids, fixed words and the remote address only: never a path (it may hold a join
 * token), a query (it may hold a name searched for) or a body.
 * Thread: main loop. */
#define G_LOG_DOMAIN "mashwara-sig"

#include <string.h>

#include "sig-private.h"

/* --- HTTP ---------------------------------------------------------------------------------- */

/* What a collection under /api/ holds and whether reading it is audited. */
static const struct {
  const char *collection;
  const char *object_type; /* also the JSON member a create answers with */
  gboolean audit_reads;
} collections[] = {
    {"patients", "patient", TRUE},
    {"appointments", "appointment", TRUE},
    {"holds", "appointment", TRUE},
    {"walk-ins", "appointment", TRUE},
    {"queue", "appointment", TRUE},
    {"waitlist", "waitlist_entry", TRUE},
    {"outbox", "notice", TRUE},
    {"staff", "staff", TRUE},
    {"audit", "audit_log", TRUE},
    {"facilities", "facility", FALSE},
    {"doctors", "doctor", FALSE},
    {"services", "service", FALSE},
    {"availability", "availability", FALSE},
    {"breaks", "break", FALSE},
    {"exceptions", "exception", FALSE},
    {"slots", "slot", FALSE},
};

/* Verbs a path may end with (anything else is recorded as "other", never echoed). */
static const struct {
  const char *segment, *verb;
} verbs[] = {
    {"confirm", "confirm"},        {"cancel", "cancel"},       {"reschedule", "reschedule"},
    {"check-in", "check_in"},      {"guests", "invite_guest"}, {"invite.ics", "invite_read"},
    {"profile", "profile_update"},
};

typedef struct {
  char *action;
  const char *object_type;
  gint64 object_id;
  gboolean token_route; /* the actor is the join token in the path (segment 2) */
  gboolean login;       /* the actor is known only from the answer */
  gboolean list;        /* count the answer's records */
} Route;

static gint64 parse_id(const char *s)
{
  guint64 v;
  if (s == NULL || s[0] == '0' || !g_ascii_string_to_unsigned(s, 10, 1, G_MAXINT64, &v, NULL))
    return 0;
  return (gint64)v;
}

static const char *method_verb(int method, gboolean one)
{
  switch (method) {
  case LWSHUMETH_GET:
  case LWSHUMETH_HEAD:
    return one ? "read" : "list";
  case LWSHUMETH_POST:
    return one ? "other" : "create";
  case LWSHUMETH_PUT:
  case LWSHUMETH_PATCH:
    return "update";
  case LWSHUMETH_DELETE:
    return "delete";
  default:
    return "other";
  }
}

/* FALSE if the request is not audited. */
static gboolean classify(const SigHttpRequest *req, Route *r)
{
  gboolean get = req->method == LWSHUMETH_GET || req->method == LWSHUMETH_HEAD;
  g_auto(GStrv) seg = g_strsplit(req->path, "/", 6); /* "", "api", a, b, c, … */
  guint n = g_strv_length(seg);

  memset(r, 0, sizeof *r);
  if (n < 3 || seg[0][0] != '\0' || seg[2][0] == '\0')
    return FALSE;
  if (strcmp(seg[1], "fhir") == 0) {
    /* Of the FHIR resources only Appointment refers to patients. */
    if (!get || strcmp(seg[2], "Appointment") != 0 || n > 4)
      return FALSE;
    r->object_type = "appointment";
    r->object_id = n == 4 ? parse_id(seg[3]) : 0;
    r->list = n == 3;
    r->action = g_strdup(n == 4 ? "fhir.appointment.read" : "fhir.appointment.search");
    return TRUE;
  }
  if (strcmp(seg[1], "api") != 0)
    return FALSE;
  const char *coll = seg[2];
  if (strcmp(coll, "login") == 0 && n == 3) {
    r->action = g_strdup("session.login");
    r->object_type = "staff";
    r->login = TRUE;
    return TRUE;
  }
  if (strcmp(coll, "logout") == 0 && n == 3) {
    r->action = g_strdup("session.logout");
    r->object_type = "staff";
    return TRUE;
  }
  if (strcmp(coll, "link-resend") == 0 && n == 3) {
    r->action = g_strdup("link.resend"); /* the phone number is never recorded */
    return TRUE;
  }
  if (strcmp(coll, "join") == 0 && (n == 4 || n == 5)) {
    /* The network check's probe carries no patient data (and a page asks it a few times). */
    if (n == 5 && strcmp(seg[4], "probe") == 0)
      return FALSE;
    r->token_route = TRUE;
    r->object_type = "appointment";
    r->action = g_strdup(n == 4                               ? "join_link.check"
                         : strcmp(seg[4], "attachments") == 0 ? "appointment.photo_upload"
                         : strcmp(seg[4], "advice") == 0      ? "appointment.advice_read"
                         : strcmp(seg[4], "consent") == 0     ? "consent.accept"
                         : strcmp(seg[4], "rating") == 0      ? "consultation.rate"
                                                              : "appointment.invite_read");
    return TRUE;
  }
  /* A consultation's clinical content (sig-api-clinical.c): the appointment is the object. */
  if (strcmp(coll, "appointments") == 0 && n >= 5) {
    static const struct {
      const char *segment;
      int method;
      const char *action;
    } clinical[] = {
        {"attachments", LWSHUMETH_GET, "appointment.photo_list"},
        {"notes", LWSHUMETH_GET, "appointment.notes_read"},
        {"notes", LWSHUMETH_PUT, "appointment.notes_update"},
        {"advice", LWSHUMETH_POST, "appointment.advice_give"},
        {"patient", LWSHUMETH_GET, "appointment.patient_read"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(clinical); i++) {
      if (strcmp(seg[4], clinical[i].segment) != 0 || req->method != clinical[i].method)
        continue;
      r->object_type = "appointment";
      r->object_id = parse_id(seg[3]);
      r->action = g_strdup(n == 6 ? "appointment.photo_read" : clinical[i].action);
      r->list = FALSE;
      return TRUE;
    }
  }
  for (gsize i = 0; i < G_N_ELEMENTS(collections); i++) {
    if (strcmp(coll, collections[i].collection) != 0)
      continue;
    if (get && !collections[i].audit_reads)
      return FALSE;
    const char *obj = collections[i].object_type;
    r->object_type = obj;
    if (n == 3) {
      r->list = get;
      if (strcmp(coll, "holds") == 0 && !get)
        r->action = g_strdup("appointment.hold");
      else if (strcmp(coll, "walk-ins") == 0 && !get)
        r->action = g_strdup("appointment.walk_in");
      else if (strcmp(coll, "queue") == 0)
        r->action = g_strdup("appointment.queue_read");
      else
        r->action = g_strdup_printf("%s.%s", obj, method_verb(req->method, FALSE));
      return TRUE;
    }
    if (n == 4 && strcmp(coll, "appointments") == 0 && strcmp(seg[3], "today") == 0) {
      r->list = TRUE;
      r->action = g_strdup("appointment.today_read");
      return TRUE;
    }
    r->object_id = parse_id(seg[3]);
    const char *verb = method_verb(req->method, TRUE);
    if (n == 5) {
      verb = "other";
      for (gsize v = 0; v < G_N_ELEMENTS(verbs); v++)
        if (strcmp(seg[4], verbs[v].segment) == 0)
          verb = verbs[v].verb;
    }
    r->action = g_strdup_printf("%s.%s", obj, verb);
    return TRUE;
  }
  return FALSE; /* /api/me, /api/metrics, unknown paths: no patient data */
}

static const char *outcome_of(int status)
{
  return status < 400 ? "ok" : status < 500 ? "refused" : "failed";
}

/* The id of a created or returned record: {"<object_type>": {"id": N}} or
 * {"appointment_id": N}; the size of the first array (or a FHIR bundle's total) in `*count`. */
static gint64 answer_facts(const char *body, const char *object_type, gint64 *count)
{
  g_autoptr(json_t) root = body ? json_loads(body, 0, NULL) : NULL;
  gint64 id = 0;
  const char *key;
  json_t *value;

  *count = -1;
  if (!json_is_object(root))
    return 0;
  json_t *o = object_type ? json_object_get(root, object_type) : NULL;
  if (json_is_object(o) && json_is_integer(json_object_get(o, "id")))
    id = json_integer_value(json_object_get(o, "id"));
  else if (json_is_integer(json_object_get(root, "appointment_id")))
    id = json_integer_value(json_object_get(root, "appointment_id"));
  if (json_is_integer(json_object_get(root, "total")))
    *count = json_integer_value(json_object_get(root, "total"));
  json_object_foreach(root, key, value)
  {
    if (*count < 0 && json_is_array(value))
      *count = (gint64)json_array_size(value);
  }
  return id > 0 ? id : 0;
}

typedef struct {
  const char *kind;
  gint64 id;
  char *role;
  gint64 appointment_id;
} Actor;

static void actor_clear(Actor *a)
{
  g_clear_pointer(&a->role, g_free);
}

/* The actor behind a join token: the patient (their id) or a guest (by role). */
static void actor_from_token(SigServer *s, const char *token, Actor *a)
{
  g_autoptr(SchedTokenInfo) info = NULL;
  a->kind = "anonymous";
  SchedTokenVerdict v = sched_token_check(s->store, token, sig_now(), &info, NULL);
  if (v == SCHED_TOKEN_MALFORMED || v == SCHED_TOKEN_UNKNOWN || !info)
    return;
  a->appointment_id = info->appointment_id;
  a->role = g_strdup(info->role);
  if (g_strcmp0(info->role, "patient") == 0) {
    g_autoptr(SchedAppointment) appt = sched_appointment_get(s->store, info->appointment_id, NULL);
    a->kind = "patient";
    a->id = appt ? appt->patient_id : 0;
  } else {
    a->kind = "guest";
  }
}

/* The remote address as people write it: an IPv4 client on a dual-stack socket is reported as
 * "::ffff:a.b.c.d"; NULL if unknown. (transfer none) */
static const char *address_of(const char *peer)
{
  if (peer == NULL || peer[0] == '\0')
    return NULL;
  if (g_ascii_strncasecmp(peer, "::ffff:", 7) == 0 && strchr(peer + 7, '.') != NULL)
    return peer + 7;
  return peer;
}

static void log_failure(const char *what, const char *action, const GError *error)
{
  g_warning("audit: %s (%s): %s", what, action, error ? error->message : "?");
}

gboolean sig_audit_http_is_audited(const SigHttpRequest *req)
{
  Route r;
  gboolean audited = classify(req, &r);
  g_free(r.action);
  return audited;
}

void sig_audit_http(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  Route r;
  Actor actor = {.kind = "anonymous"};
  g_autoptr(GError) error = NULL;
  g_autofree char *detail = NULL;

  if (!classify(req, &r)) {
    sig_api_handle(s, req, resp);
    return;
  }
  if (r.token_route) {
    g_auto(GStrv) seg = g_strsplit(req->path, "/", 5);
    actor_from_token(s, seg[3], &actor);
    r.object_id = actor.appointment_id;
  } else if (!r.login) {
    g_autoptr(SchedStaff) staff = sig_http_session_staff(s, req);
    if (staff) {
      actor.kind = "staff";
      actor.id = staff->id;
      actor.role = g_strdup(staff->role);
    }
  }
  gboolean own_unit = !sched_audit_unit_is_open(s->store);
  if (own_unit && !sched_audit_unit_begin(s->store, &error)) {
    /* Nothing may happen that cannot be recorded. */
    log_failure("cannot open an audited unit", r.action, error);
    resp->status = 503;
    resp->body = sig_api_error_body("internal", "the server is busy; try again", NULL);
    goto out;
  }
  sig_api_handle(s, req, resp);

  gint64 count = -1;
  gint64 id = answer_facts(resp->body, r.object_type, &count);
  if (r.object_id == 0 && !r.list)
    r.object_id = id;
  if (r.login && resp->status == 200) {
    g_autoptr(json_t) root = json_loads(resp->body, 0, NULL);
    json_t *st = json_object_get(root, "staff");
    actor.kind = "staff";
    actor.id = json_integer_value(json_object_get(st, "id"));
    actor.role = g_strdup(json_string_value(json_object_get(st, "role")));
    r.object_id = actor.id;
  }
  detail = r.list && count >= 0 && resp->status < 400
               ? g_strdup_printf("http=%d,n=%" G_GINT64_FORMAT, resp->status, count)
               : g_strdup_printf("http=%d", resp->status);
  SchedAuditEntry e = {
      .actor_kind = actor.kind,
      .actor_id = actor.id,
      .actor_role = actor.role,
      .appointment_id = actor.appointment_id,
      .action = r.action,
      .object_type = r.object_type,
      .object_id = r.object_id,
      .detail = detail,
      .address = address_of(req->peer),
      .outcome = outcome_of(resp->status),
  };
  if (resp->status < 400) {
    gboolean ok = own_unit ? sched_audit_unit_commit(s->store, &e, &error)
                           : sched_audit_append(s->store, &e, NULL, &error);
    if (!ok) {
      /* The change went with its row: the caller must not believe it happened. */
      log_failure("not recorded; the request is undone", r.action, error);
      g_clear_pointer(&resp->body, g_free);
      g_clear_pointer(&resp->set_cookie, g_free);
      resp->status = 500;
      resp->content_type = NULL;
      resp->body = sig_api_error_body("internal", "the request could not be completed", NULL);
    }
  } else {
    /* A refused request leaves nothing but its row. */
    if (own_unit)
      sched_audit_unit_rollback(s->store);
    if (!sched_audit_append(s->store, &e, NULL, &error))
      log_failure("refusal not recorded", r.action, error);
  }
out:
  actor_clear(&actor);
  g_free(r.action);
}

/* --- GET /api/audit (admin) ---------------------------------------------------------------- */

static void fail(SigHttpResponse *resp, int status, const char *code, const char *message,
                 const char *field)
{
  resp->status = status;
  resp->body = sig_api_error_body(code, message, field);
}

static json_t *record_json(const SchedAuditRecord *r)
{
  json_t *o =
      json_pack("{s:I, s:I, s:s, s:s, s:s}", "id", (json_int_t)r->id, "at_ms", (json_int_t)r->at_ms,
                "actor_kind", r->actor_kind, "action", r->action, "outcome", r->outcome);
#define OPT_INT(k, v) json_object_set_new(o, k, (v) ? json_integer((json_int_t)(v)) : json_null())
#define OPT_STR(k, v) json_object_set_new(o, k, (v) ? json_string(v) : json_null())
  OPT_INT("actor_id", r->actor_id);
  OPT_STR("actor_role", r->actor_role);
  OPT_INT("appointment_id", r->appointment_id);
  OPT_STR("object_type", r->object_type);
  OPT_INT("object_id", r->object_id);
  OPT_STR("detail", r->detail);
  OPT_STR("address", r->address);
  OPT_STR("prev_hash", r->prev_hash);
  OPT_STR("hash", r->hash);
#undef OPT_INT
#undef OPT_STR
  return o;
}

/* Reads an optional integer query argument into `*v`; FALSE (and a 400) if malformed. */
static gboolean query_int(const SigHttpRequest *req, SigHttpResponse *resp, const char *key,
                          gint64 *v)
{
  const char *s = sig_http_query_get(req, key);
  gint64 x;
  if (!s)
    return TRUE;
  if (!g_ascii_string_to_signed(s, 10, 0, G_MAXINT64, &x, NULL)) {
    g_autofree char *m = g_strdup_printf("\"%s\" must be a non-negative integer", key);
    fail(resp, 400, "wrong_type", m, key);
    return FALSE;
  }
  *v = x;
  return TRUE;
}

gboolean sig_audit_api_handle(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  if (strcmp(req->path, "/api/audit") != 0)
    return FALSE;
  if (req->method != LWSHUMETH_GET) {
    fail(resp, 405, "method_not_allowed", "this path does not take that method", NULL);
    return TRUE;
  }
  g_autoptr(SchedStaff) staff = sig_http_session_staff(s, req);
  if (!staff) {
    fail(resp, 401, "not_authenticated", "log in first", NULL);
    return TRUE;
  }
  if (g_strcmp0(staff->role, "admin") != 0) {
    fail(resp, 403, "forbidden", "only an admin reads the audit log", NULL);
    return TRUE;
  }
  static const char *const known[] = {"before_id",   "limit",     "appointment_id",
                                      "object_type", "object_id", "actor_kind",
                                      "actor_id",    "from_ms",   "to_ms"};
  for (const char *const *q = req->query; q && *q; q++) {
    gboolean ok = FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(known); i++)
      if (g_str_has_prefix(*q, known[i]) && (*q)[strlen(known[i])] == '=')
        ok = TRUE;
    if (!ok) {
      fail(resp, 400, "unknown_field", "unknown query parameter", NULL);
      return TRUE;
    }
  }
  SchedAuditFilter f = {0};
  gint64 limit = 100;
  if (!query_int(req, resp, "before_id", &f.before_id) || !query_int(req, resp, "limit", &limit) ||
      !query_int(req, resp, "appointment_id", &f.appointment_id) ||
      !query_int(req, resp, "object_id", &f.object_id) ||
      !query_int(req, resp, "actor_id", &f.actor_id) ||
      !query_int(req, resp, "from_ms", &f.from_ms) || !query_int(req, resp, "to_ms", &f.to_ms))
    return TRUE;
  if (limit < 1 || limit > 1000) {
    fail(resp, 400, "invalid", "\"limit\" must be 1..1000", "limit");
    return TRUE;
  }
  f.limit = (guint)limit;
  f.object_type = sig_http_query_get(req, "object_type");
  f.actor_kind = sig_http_query_get(req, "actor_kind");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = sched_audit_list(s->store, &f, &error);
  if (!rows) {
    fail(resp, 500, "internal", "the audit log could not be read", NULL);
    return TRUE;
  }
  json_t *arr = json_array();
  for (guint i = 0; i < rows->len; i++)
    json_array_append_new(arr, record_json(g_ptr_array_index(rows, i)));
  gint64 next = rows->len == f.limit ? ((SchedAuditRecord *)rows->pdata[rows->len - 1])->id : 0;
  json_t *o = json_pack("{s:o}", "audit", arr);
  json_object_set_new(o, "next_before_id", next > 1 ? json_integer((json_int_t)next) : json_null());
  resp->status = 200;
  resp->body = sig_msg_dump(o);
  return TRUE;
}

/* --- WebSocket ------------------------------------------------------------------------------ */

static const char *ws_action(SigMsgType type)
{
  switch (type) {
  case SIG_MSG_HELLO:
    return "consultation.join";
  case SIG_MSG_ADMIT:
    return "consultation.admit";
  case SIG_MSG_LEAVE:
    return "consultation.leave";
  case SIG_MSG_END:
    return "consultation.end";
  case SIG_MSG_INVITE:
    return "consultation.invite_guest";
  case SIG_MSG_AUDIO_ONLY:
    return "consultation.audio_only";
  case SIG_MSG_CHAT:
    return "consultation.message"; /* never its text */
  case SIG_MSG_ANSWER:
  case SIG_MSG_CANDIDATE:
    break;
  }
  return NULL;
}

static void ws_actor(const SigConn *conn, SchedAuditEntry *e)
{
  e->actor_role = conn->role;
  if (conn->staff_id) {
    e->actor_kind = "staff";
    e->actor_id = conn->staff_id;
  } else if (conn->patient_id) {
    e->actor_kind = "patient";
    e->actor_id = conn->patient_id;
    e->appointment_id = conn->appointment_id;
  } else if (conn->appointment_id) {
    e->actor_kind = "guest";
    e->appointment_id = conn->appointment_id;
  } else {
    e->actor_kind = "anonymous";
  }
}

gboolean sig_audit_ws_begin(SigConn *conn, const SigMsg *msg, SigAuditWs *a)
{
  SchedStore *store = conn->server->store;
  g_autoptr(GError) error = NULL;

  memset(a, 0, sizeof *a);
  if (ws_action(msg->type) == NULL || conn->phase == SIG_CONN_CLOSING)
    return TRUE;
  a->audited = TRUE;
  a->refusals = conn->refusals;
  a->appointment_id =
      conn->consult ? sig_call_appointment_id(conn->consult->call) : conn->appointment_id;
  if (msg->type == SIG_MSG_ADMIT || msg->type == SIG_MSG_INVITE ||
      (msg->type == SIG_MSG_CHAT && msg->appointment_id > 0))
    a->appointment_id = msg->appointment_id;
  a->own_unit = !sched_audit_unit_is_open(store);
  if (a->own_unit && !sched_audit_unit_begin(store, &error)) {
    log_failure("cannot open an audited unit", ws_action(msg->type), error);
    a->audited = FALSE;
    return FALSE;
  }
  return TRUE;
}

void sig_audit_ws_end(SigConn *conn, const SigMsg *msg, const SigAuditWs *a)
{
  SchedStore *store = conn->server->store;
  g_autoptr(GError) error = NULL;
  g_autofree char *detail = NULL;

  if (!a->audited)
    return;
  SchedAuditEntry e = {.action = ws_action(msg->type), .address = address_of(conn->peer)};
  ws_actor(conn, &e);
  gboolean refused = conn->refusals != a->refusals;
  e.outcome = refused ? "refused" : "ok";
  e.object_type = "appointment";
  e.object_id = a->appointment_id ? a->appointment_id : conn->appointment_id;
  if (msg->type == SIG_MSG_HELLO && conn->staff_id) {
    e.action = "console.connect"; /* a doctor's console, not yet a consultation */
    e.object_type = NULL;
    e.object_id = 0;
  }
  if (msg->type == SIG_MSG_END && msg->outcome)
    detail = g_strdup_printf("outcome=%s", msg->outcome);
  else if (msg->type == SIG_MSG_INVITE && msg->role)
    detail = g_strdup_printf("role=%s", msg->role);
  else if (msg->type == SIG_MSG_AUDIO_ONLY)
    detail = g_strdup_printf("on=%d", msg->audio_only ? 1 : 0);
  else if (msg->type == SIG_MSG_LEAVE)
    detail = g_strdup("reason=left");
  e.detail = detail;
  /* Unlike HTTP, a refused message's writes are kept: the call's state in memory has moved
   * with them (e.g. an admit stamped before the relay refused a participant). */
  gboolean ok = a->own_unit ? sched_audit_unit_commit(store, &e, &error)
                            : sched_audit_append(store, &e, NULL, &error);
  if (!ok)
    log_failure("consultation event not recorded; its writes are undone", e.action, error);
}

void sig_audit_ws_dropped(SigConn *conn, gint64 appointment_id)
{
  g_autoptr(GError) error = NULL;
  SchedAuditEntry e = {.action = "consultation.leave",
                       .object_type = "appointment",
                       .object_id = appointment_id,
                       .detail = "reason=dropped",
                       .address = address_of(conn->peer),
                       .outcome = "ok"};
  ws_actor(conn, &e);
  if (!sched_audit_append(conn->server->store, &e, NULL, &error))
    log_failure("not recorded", e.action, error);
}
