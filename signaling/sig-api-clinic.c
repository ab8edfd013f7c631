/* sig-api-clinic.c — the clinic's staff JSON API under /api/ (docs/api.md): facilities, staff,
 * doctors, services, availability, breaks, exceptions, patients, slots, appointments (hold,
 * confirm, book, cancel, reschedule, check in, walk in), the waitlist, a doctor's day queue, the
 * outbox, the patient's "send my link again", and the .ics invites.
 *
 * Every route is one row of `routes`: method, path pattern, the body's fields and the query's
 * keys. Who may call it is not here: sig_api_handle() has already applied the one
 * authorisation table (sig-authz.c) before this runs, and a handler of an "own" route narrows
 * to the caller's records with sig_authz_owns(). The request is checked against its row (JSON
 * types, unknown members) before its handler runs, so a handler only maps values to one
 * scheduler call and the scheduler's answer to HTTP. One request makes at most one scheduler write
 * (POST /api/doctors makes two, after checking everything the second could refuse), so
 * "nothing is written on error" is the scheduler's per-call guarantee.
 * Thread: main loop. Privacy: names and phones go into bodies for staff only, never into logs
 * (logs carry ids). */
#define G_LOG_DOMAIN "mashwara-sig"

#include <string.h>

#include "sig-api-check.h"
#include "sig-ical.h"
#include "sig-private.h"

/* --- Request context and answers ---------------------------------------------------------- */

typedef struct Route Route;

typedef struct {
  SigServer *s;
  const SigHttpRequest *req;
  SigHttpResponse *resp;
  const Route *route;
  const SchedStaff *staff; /* the caller (NULL without a session; borrowed from the request) */
  json_t *body;            /* the parsed body object, or NULL */
  gint64 id;               /* the numeric id in the path, if the pattern has one */
  const char *word;        /* the free segment in the path ('*'), if any */
} Ctx;

static void respond(Ctx *c, int status, json_t *body /* stolen */)
{
  c->resp->status = status;
  c->resp->body = body ? sig_msg_dump(body) : NULL;
}

static void fail(Ctx *c, int status, const char *code, const char *message, const char *field)
{
  c->resp->status = status;
  c->resp->body = sig_api_error_body(code, message, field);
}

static void failf(Ctx *c, int status, const char *code, const char *field, const char *fmt, ...)
    G_GNUC_PRINTF(5, 6);
static void failf(Ctx *c, int status, const char *code, const char *field, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *m = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  fail(c, status, code, m, field);
}

/* Maps a scheduler error onto HTTP: NOT_FOUND 404 not_found, INVALID 400 invalid, CONFLICT 409
 * (slot_taken, hold_expired or conflict), anything else 500 internal. The field the scheduler
 * names goes into "field". */
static void fail_sched(Ctx *c, const GError *error)
{
  if (!error || error->domain != SCHED_ERROR) {
    g_warning("%s %s: failed without a scheduler error", c->req->path,
              error ? error->message : "(none)");
    fail(c, 500, "internal", "the request could not be completed", NULL);
    return;
  }
  g_autofree char *field = sched_error_field(error);
  const char *reason = sched_error_reason(error);
  switch ((SchedError)error->code) {
  case SCHED_ERROR_NOT_FOUND:
    fail(c, 404, "not_found", reason, field);
    return;
  case SCHED_ERROR_INVALID:
    fail(c, 400, "invalid", reason, field);
    return;
  case SCHED_ERROR_CONFLICT:
    if (sched_error_is_slot_taken(error))
      fail(c, 409, "slot_taken", "slot taken", field ? field : "starts_at");
    else if (g_strcmp0(field, "hold_expires_at") == 0)
      fail(c, 409, "hold_expired", reason, field);
    else
      fail(c, 409, "conflict", reason, field);
    return;
  case SCHED_ERROR_AUTH:
    fail(c, 401, "not_authenticated", "log in first", NULL);
    return;
  case SCHED_ERROR_DB:
    break;
  }
  /* A database message names tables and SQL, never personal data. */
  g_warning("%s: database error: %s", c->req->path, error->message);
  fail(c, 500, "internal", "the request could not be completed", NULL);
}

/* --- Body and query checks ---------------------------------------------------------------- */

/* The route table's shorthand for the body's member types (sig-api-check.h). */
#define F_ID SIG_API_ID
#define F_INT SIG_API_INT
#define F_TIME SIG_API_TIME
#define F_STR SIG_API_STR
#define F_STRN SIG_API_STRN
#define F_STRV SIG_API_STRV
#define F_ID0 SIG_API_ID0
#define F_TIME0 SIG_API_TIME0

/* A failed check of sig-api-check.h as the 400 it answers. */
static gboolean refused(Ctx *c, SigApiRefusal *r)
{
  fail(c, 400, r->code, r->message, r->field);
  sig_api_refusal_clear(r);
  return FALSE;
}

/* Parses the body (if the route takes one) into c->body and checks it against the route's
 * fields. */
static gboolean check_body(Ctx *c, const SigApiField *fields)
{
  if (c->req->body_len && !sig_json_depth_ok(c->req->body, c->req->body_len, SIG_JSON_MAX_DEPTH)) {
    fail(c, 400, "malformed_body", "the body nests too deeply", NULL);
    return FALSE;
  }
  SigApiRefusal r = {0};
  c->body = sig_api_check_body(fields, c->req->body, c->req->body_len, &r);
  return c->body ? TRUE : refused(c, &r);
}

static gint64 body_int(Ctx *c, const char *name)
{
  json_t *v = json_object_get(c->body, name);
  return json_is_integer(v) ? (gint64)json_integer_value(v) : 0;
}

static const char *body_str(Ctx *c, const char *name)
{
  return json_string_value(json_object_get(c->body, name)); /* NULL if absent or null */
}

/* A NULL-terminated copy of a string array member (NULL if absent). (transfer full) */
static char **body_strv(Ctx *c, const char *name)
{
  json_t *a = json_object_get(c->body, name);
  if (!json_is_array(a))
    return NULL;
  char **v = g_new0(char *, json_array_size(a) + 1);
  for (size_t i = 0; i < json_array_size(a); i++)
    v[i] = g_strdup(json_string_value(json_array_get(a, i)));
  return v;
}

const char *sig_http_query_get(const SigHttpRequest *req, const char *key)
{
  gsize n = strlen(key);
  for (const char *const *q = req->query; q && *q; q++)
    if (strncmp(*q, key, n) == 0 && (*q)[n] == '=')
      return *q + n + 1;
  return NULL;
}

/* Checks that every query argument is one the route knows. */
static gboolean check_query(Ctx *c, const char *allowed)
{
  SigApiRefusal r = {0};
  return sig_api_check_query(allowed, c->req->query, &r) ? TRUE : refused(c, &r);
}

/* An integer query argument (decimal, optional '-'), or `def` if absent; FALSE with a 400 if
 * malformed or below `min`. */
static gboolean query_int(Ctx *c, const char *key, gint64 min, gint64 def, gint64 *out)
{
  const char *v = sig_http_query_get(c->req, key);
  *out = def;
  if (!v)
    return TRUE;
  gint64 n;
  if (!g_ascii_string_to_signed(v, 10, G_MININT64, G_MAXINT64, &n, NULL)) {
    failf(c, 400, "wrong_type", key, "\"%s\" must be an integer", key);
    return FALSE;
  }
  if (n < min) {
    failf(c, 400, "invalid", key, "\"%s\" must be at least %" G_GINT64_FORMAT, key, min);
    return FALSE;
  }
  *out = n;
  return TRUE;
}

/* A string query argument that must be valid UTF-8 if present. */
static gboolean query_str(Ctx *c, const char *key, const char **out)
{
  *out = sig_http_query_get(c->req, key);
  if (*out && (!g_utf8_validate(*out, -1, NULL) || **out == '\0')) {
    failf(c, 400, "invalid", key, "\"%s\" must be non-empty UTF-8 text", key);
    return FALSE;
  }
  return TRUE;
}

/* --- JSON views --------------------------------------------------------------------------- */

static json_t *id_or_null(gint64 id)
{
  return id > 0 ? json_integer((json_int_t)id) : json_null();
}

static json_t *str_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

static json_t *staff_json(const SchedStaff *st)
{
  return json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)st->id, "username", st->username,
                   "name", st->display_name, "role", st->role);
}

static json_t *facility_json(const SchedFacility *f)
{
  return json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)f->id, "name", f->name,
                   "district", f->district, "sector", f->sector, "timezone", f->timezone);
}

static json_t *doctor_json(const SchedDoctor *d)
{
  json_t *langs = json_array();
  for (char **l = d->languages; l && *l; l++)
    json_array_append_new(langs, json_string(*l));
  return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o}", "id", (json_int_t)d->id, "username",
                   d->username, "name", d->display_name, "facility_id", id_or_null(d->facility_id),
                   "specialty", str_or_null(d->specialty), "languages", langs, "gender",
                   str_or_null(d->gender));
}

static json_t *service_json(const SchedService *sv)
{
  return json_pack("{s:I, s:I, s:s, s:s, s:i, s:i, s:i, s:i}", "id", (json_int_t)sv->id,
                   "facility_id", (json_int_t)sv->facility_id, "name", sv->name, "specialty",
                   sv->specialty, "duration_min", sv->duration_min, "buffer_before_min",
                   sv->buffer_before_min, "buffer_after_min", sv->buffer_after_min, "max_per_day",
                   sv->max_per_day);
}

static json_t *availability_json(const SchedAvailability *a)
{
  return json_pack("{s:I, s:I, s:I, s:i, s:i, s:i, s:o, s:o}", "id", (json_int_t)a->id, "doctor_id",
                   (json_int_t)a->doctor_id, "service_id", (json_int_t)a->service_id, "weekday",
                   a->weekday, "start_min", a->start_min, "end_min", a->end_min, "valid_from",
                   str_or_null(a->valid_from), "valid_until", str_or_null(a->valid_until));
}

static json_t *break_json(const SchedBreak *b)
{
  return json_pack("{s:I, s:I, s:i, s:i, s:i}", "id", (json_int_t)b->id, "doctor_id",
                   (json_int_t)b->doctor_id, "weekday", b->weekday, "start_min", b->start_min,
                   "end_min", b->end_min);
}

static json_t *exception_json(const SchedException *e)
{
  return json_pack("{s:I, s:o, s:o, s:I, s:I, s:o}", "id", (json_int_t)e->id, "doctor_id",
                   id_or_null(e->doctor_id), "facility_id", id_or_null(e->facility_id), "starts_at",
                   (json_int_t)e->starts_at, "ends_at", (json_int_t)e->ends_at, "reason",
                   str_or_null(e->reason));
}

static json_t *patient_json(const SchedPatient *p)
{
  return json_pack("{s:I, s:s, s:o, s:o, s:b, s:o, s:o}", "id", (json_int_t)p->id, "name",
                   p->display_name, "phone", str_or_null(p->phone), "preferred_language",
                   str_or_null(p->preferred_language), "prefers_audio_only", p->prefers_audio_only,
                   "sex", str_or_null(p->sex), "birth_year",
                   p->birth_year ? json_integer(p->birth_year) : json_null());
}

static json_t *appointment_json(const SchedAppointment *a)
{
  json_t *o = json_pack(
      "{s:I, s:I, s:I, s:o, s:o, s:s, s:s, s:I, s:I, s:I}", "id", (json_int_t)a->id, "doctor_id",
      (json_int_t)a->doctor_id, "patient_id", (json_int_t)a->patient_id, "service_id",
      id_or_null(a->service_id), "facility_id", id_or_null(a->facility_id), "kind",
      a->kind ? a->kind : "booked", "status", a->status, "starts_at", (json_int_t)a->starts_at,
      "ends_at", (json_int_t)a->ends_at, "sequence", (json_int_t)a->sequence);
  json_object_set_new(o, "queue_number", id_or_null(a->queue_number));
  json_object_set_new(o, "hold_expires_at", id_or_null(a->hold_expires_at));
  json_object_set_new(o, "cancel_reason", str_or_null(a->cancel_reason));
  json_object_set_new(o, "patient_name", str_or_null(a->patient_name));
  json_object_set_new(o, "doctor_name", str_or_null(a->doctor_name));
  json_object_set_new(o, "created_at", id_or_null(a->created_at));
  json_object_set_new(o, "updated_at", id_or_null(a->updated_at));
  return o;
}

static json_t *slot_json(const SchedSlot *sl)
{
  return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "id", sl->id, "doctor_id",
                   (json_int_t)sl->doctor_id, "service_id", (json_int_t)sl->service_id,
                   "facility_id", (json_int_t)sl->facility_id, "starts_at",
                   (json_int_t)sl->starts_at, "ends_at", (json_int_t)sl->ends_at);
}

static json_t *waitlist_json(const SchedWaitlistEntry *w)
{
  return json_pack("{s:I, s:I, s:I, s:o, s:o, s:o, s:s, s:o, s:I}", "id", (json_int_t)w->id,
                   "patient_id", (json_int_t)w->patient_id, "service_id", (json_int_t)w->service_id,
                   "doctor_id", id_or_null(w->doctor_id), "not_before", id_or_null(w->not_before),
                   "not_after", id_or_null(w->not_after), "status", w->status,
                   "offered_appointment_id", id_or_null(w->offered_appointment_id), "created_at",
                   (json_int_t)w->created_at);
}

/* The outbox without recipient and body: those hold a phone number and a join link. */
static json_t *outbox_json(const SchedOutboxItem *o)
{
  return json_pack("{s:I, s:s, s:I, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "id",
                   (json_int_t)o->id, "kind", o->kind, "appointment_id",
                   (json_int_t)o->appointment_id, "language", o->language, "dedupe_key",
                   o->dedupe_key, "due_at", (json_int_t)o->due_at, "attempts",
                   (json_int_t)o->attempts, "sent_at", id_or_null(o->sent_at), "failed_at",
                   id_or_null(o->failed_at), "next_attempt_at", id_or_null(o->next_attempt_at),
                   "last_error", str_or_null(o->last_error));
}

typedef json_t *(*ToJson)(gconstpointer item);

/* {"<key>": [ …each item as JSON… ]} from a list the scheduler returned (or its error). */
static void respond_list(Ctx *c, const char *key, GPtrArray *list, const GError *error,
                         ToJson to_json)
{
  if (!list) {
    fail_sched(c, error);
    return;
  }
  json_t *arr = json_array();
  for (guint i = 0; i < list->len; i++)
    json_array_append_new(arr, to_json(g_ptr_array_index(list, i)));
  g_ptr_array_unref(list);
  respond(c, 200, json_pack("{s:o}", key, arr));
}

/* {"<key>": {…}} for one record, or the error that stopped it. */
#define RESPOND_ONE(c, status, key, record, to_json, error)                                        \
  do {                                                                                             \
    if (!(record))                                                                                 \
      fail_sched((c), (error));                                                                    \
    else                                                                                           \
      respond((c), (status), json_pack("{s:o}", (key), to_json(record)));                          \
  } while (0)

/* --- Handlers: staff, facilities, doctors ------------------------------------------------- */

static void h_staff_list(Ctx *c)
{
  const char *role;
  if (!query_str(c, "role", &role))
    return;
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_staff_list(c->s->store, role, &error);
  respond_list(c, "staff", list, error, (ToJson)staff_json);
}

static void h_staff_add(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  gint64 id = sched_staff_add(c->s->store, body_str(c, "username"), body_str(c, "name"),
                              body_str(c, "password"), body_str(c, "role"), &error);
  g_autoptr(SchedStaff) st = id ? sched_staff_get(c->s->store, id, &error) : NULL;
  if (st)
    g_message("staff %" G_GINT64_FORMAT " added by %" G_GINT64_FORMAT, id, c->staff->id);
  RESPOND_ONE(c, 201, "staff", st, staff_json, error);
}

static void h_facility_list(Ctx *c)
{
  const char *name;
  if (!query_str(c, "name", &name))
    return;
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_facilities_list(c->s->store, name, &error);
  respond_list(c, "facilities", list, error, (ToJson)facility_json);
}

static void h_facility_add(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  gint64 id = sched_facility_add(c->s->store, body_str(c, "name"), body_str(c, "district"),
                                 body_str(c, "sector"), body_str(c, "timezone"), &error);
  g_autoptr(SchedFacility) f = id ? sched_facility_get(c->s->store, id, &error) : NULL;
  RESPOND_ONE(c, 201, "facility", f, facility_json, error);
}

static void h_facility_get(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedFacility) f = sched_facility_get(c->s->store, c->id, &error);
  RESPOND_ONE(c, 200, "facility", f, facility_json, error);
}

static void h_doctor_list(Ctx *c)
{
  SchedDoctorFilter f = {0};
  if (!query_int(c, "facility_id", 1, 0, &f.facility_id) ||
      !query_str(c, "specialty", &f.specialty) || !query_str(c, "language", &f.language) ||
      !query_str(c, "gender", &f.gender) || !query_str(c, "name", &f.name_contains))
    return;
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_doctors_list(c->s->store, &f, &error);
  respond_list(c, "doctors", list, error, (ToJson)doctor_json);
}

static gboolean is_gender(const char *g)
{
  return g_strcmp0(g, "female") == 0 || g_strcmp0(g, "male") == 0 || g_strcmp0(g, "other") == 0;
}

static gboolean is_language_code(const char *l)
{
  return l && strlen(l) == 2 && g_ascii_islower(l[0]) && g_ascii_islower(l[1]);
}

/* Everything sched_doctor_set_profile could refuse, checked before the doctor is created, so
 * POST /api/doctors writes both or neither (short of a database failure). */
static gboolean precheck_profile(Ctx *c, gint64 facility_id, const char *specialty,
                                 char **languages, const char *gender)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedFacility) f = sched_facility_get(c->s->store, facility_id, &error);
  if (!f) {
    fail_sched(c, error);
    return FALSE;
  }
  if (!g_utf8_validate(specialty, -1, NULL) || !*specialty ||
      strlen(specialty) > SCHED_NAME_MAX_BYTES) {
    fail(c, 400, "invalid", "must be 1 to 200 bytes of text", "specialty");
    return FALSE;
  }
  for (char **l = languages; l && *l; l++)
    if (!is_language_code(*l)) {
      fail(c, 400, "invalid", "each language must be a two-letter ISO 639-1 code", "languages");
      return FALSE;
    }
  if (gender && !is_gender(gender)) {
    fail(c, 400, "invalid", "must be female, male or other", "gender");
    return FALSE;
  }
  return TRUE;
}

static void h_doctor_add(Ctx *c)
{
  gint64 facility_id = body_int(c, "facility_id");
  const char *specialty = body_str(c, "specialty"), *gender = body_str(c, "gender");
  g_auto(GStrv) languages = body_strv(c, "languages");
  if (!precheck_profile(c, facility_id, specialty, languages, gender))
    return;
  g_autoptr(GError) error = NULL;
  gint64 id = sched_staff_add(c->s->store, body_str(c, "username"), body_str(c, "name"),
                              body_str(c, "password"), "doctor", &error);
  if (!id) {
    fail_sched(c, error);
    return;
  }
  if (!sched_doctor_set_profile(c->s->store, id, facility_id, specialty,
                                (const char *const *)languages, gender, &error)) {
    g_warning("doctor %" G_GINT64_FORMAT " created without a profile", id);
    fail_sched(c, error);
    return;
  }
  g_message("doctor %" G_GINT64_FORMAT " added by %" G_GINT64_FORMAT, id, c->staff->id);
  g_autoptr(SchedDoctor) d = sched_doctor_get(c->s->store, id, &error);
  RESPOND_ONE(c, 201, "doctor", d, doctor_json, error);
}

static void h_doctor_get(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedDoctor) d = sched_doctor_get(c->s->store, c->id, &error);
  RESPOND_ONE(c, 200, "doctor", d, doctor_json, error);
}

static void h_doctor_profile(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) languages = body_strv(c, "languages");
  if (!sched_doctor_set_profile(c->s->store, c->id, body_int(c, "facility_id"),
                                body_str(c, "specialty"), (const char *const *)languages,
                                body_str(c, "gender"), &error)) {
    fail_sched(c, error);
    return;
  }
  g_autoptr(SchedDoctor) d = sched_doctor_get(c->s->store, c->id, &error);
  RESPOND_ONE(c, 200, "doctor", d, doctor_json, error);
}

/* --- Handlers: services, availability, breaks, exceptions --------------------------------- */

static void h_service_list(Ctx *c)
{
  gint64 facility_id;
  if (!query_int(c, "facility_id", 1, 0, &facility_id))
    return;
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_services_list(c->s->store, facility_id, &error);
  respond_list(c, "services", list, error, (ToJson)service_json);
}

static void h_service_add(Ctx *c)
{
  SchedService spec = {
      .facility_id = body_int(c, "facility_id"),
      .name = (char *)body_str(c, "name"),
      .specialty = (char *)body_str(c, "specialty"),
      .duration_min = (int)body_int(c, "duration_min"),
      .buffer_before_min = (int)body_int(c, "buffer_before_min"),
      .buffer_after_min = (int)body_int(c, "buffer_after_min"),
      .max_per_day = (int)body_int(c, "max_per_day"),
  };
  g_autoptr(GError) error = NULL;
  gint64 id = sched_service_add(c->s->store, &spec, &error);
  g_autoptr(SchedService) sv = id ? sched_service_get(c->s->store, id, &error) : NULL;
  RESPOND_ONE(c, 201, "service", sv, service_json, error);
}

static void h_service_get(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedService) sv = sched_service_get(c->s->store, c->id, &error);
  RESPOND_ONE(c, 200, "service", sv, service_json, error);
}

static void h_availability_list(Ctx *c)
{
  gint64 doctor_id;
  if (!query_int(c, "doctor_id", 1, 0, &doctor_id))
    return;
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_availability_list(c->s->store, doctor_id, &error);
  respond_list(c, "availability", list, error, (ToJson)availability_json);
}

static void h_availability_add(Ctx *c)
{
  SchedAvailability spec = {
      .doctor_id = body_int(c, "doctor_id"),
      .service_id = body_int(c, "service_id"),
      .weekday = (int)body_int(c, "weekday"),
      .start_min = (int)body_int(c, "start_min"),
      .end_min = (int)body_int(c, "end_min"),
      .valid_from = (char *)body_str(c, "valid_from"),
      .valid_until = (char *)body_str(c, "valid_until"),
  };
  g_autoptr(GError) error = NULL;
  gint64 id = sched_availability_add(c->s->store, &spec, &error);
  if (!id) {
    fail_sched(c, error);
    return;
  }
  spec.id = id;
  respond(c, 201, json_pack("{s:o}", "availability", availability_json(&spec)));
}

static void h_availability_remove(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  if (!sched_availability_remove(c->s->store, c->id, &error))
    return fail_sched(c, error);
  respond(c, 204, NULL);
}

static void h_break_list(Ctx *c)
{
  gint64 doctor_id;
  if (!query_int(c, "doctor_id", 1, 0, &doctor_id))
    return;
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_breaks_list(c->s->store, doctor_id, &error);
  respond_list(c, "breaks", list, error, (ToJson)break_json);
}

static void h_break_add(Ctx *c)
{
  SchedBreak b = {
      .doctor_id = body_int(c, "doctor_id"),
      .weekday = (int)body_int(c, "weekday"),
      .start_min = (int)body_int(c, "start_min"),
      .end_min = (int)body_int(c, "end_min"),
  };
  g_autoptr(GError) error = NULL;
  b.id = sched_break_add(c->s->store, b.doctor_id, b.weekday, b.start_min, b.end_min, &error);
  if (!b.id)
    return fail_sched(c, error);
  respond(c, 201, json_pack("{s:o}", "break", break_json(&b)));
}

static void h_break_remove(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  if (!sched_break_remove(c->s->store, c->id, &error))
    return fail_sched(c, error);
  respond(c, 204, NULL);
}

static void h_exception_list(Ctx *c)
{
  gint64 doctor_id, facility_id, from, to;
  if (!query_int(c, "doctor_id", 1, 0, &doctor_id) ||
      !query_int(c, "facility_id", 1, 0, &facility_id) || !query_int(c, "from", 0, 0, &from) ||
      !query_int(c, "to", 0, SCHED_TIME_MAX, &to))
    return;
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_exceptions_list(c->s->store, doctor_id, facility_id, from, to, &error);
  respond_list(c, "exceptions", list, error, (ToJson)exception_json);
}

static void h_exception_add(Ctx *c)
{
  SchedException e = {
      .doctor_id = body_int(c, "doctor_id"),
      .facility_id = body_int(c, "facility_id"),
      .starts_at = body_int(c, "starts_at"),
      .ends_at = body_int(c, "ends_at"),
      .reason = (char *)body_str(c, "reason"),
  };
  g_autoptr(GError) error = NULL;
  e.id = sched_exception_add(c->s->store, e.doctor_id, e.facility_id, e.starts_at, e.ends_at,
                             e.reason, &error);
  if (!e.id)
    return fail_sched(c, error);
  respond(c, 201, json_pack("{s:o}", "exception", exception_json(&e)));
}

static void h_exception_remove(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  if (!sched_exception_remove(c->s->store, c->id, &error))
    return fail_sched(c, error);
  respond(c, 204, NULL);
}

/* --- Handlers: patients, slots ------------------------------------------------------------ */

static void h_patient_list(Ctx *c)
{
  const char *q;
  gint64 limit;
  if (!query_str(c, "q", &q) || !query_int(c, "limit", 1, 0, &limit))
    return;
  if (limit > 1000)
    return fail(c, 400, "invalid", "\"limit\" must be at most 1000", "limit");
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_patients_search(c->s->store, q, (guint)limit, &error);
  respond_list(c, "patients", list, error, (ToJson)patient_json);
}

static void h_patient_add(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  const SchedPatientSpec spec = {.display_name = body_str(c, "name"),
                                 .phone = body_str(c, "phone"),
                                 .preferred_language = body_str(c, "preferred_language"),
                                 .sex = body_str(c, "sex"),
                                 .birth_year = (int)body_int(c, "birth_year")};
  /* 0 is "not recorded" inside; over the API that is null, so a 0 is a bad year. */
  if (json_is_integer(json_object_get(c->body, "birth_year")) && spec.birth_year == 0)
    return fail(c, 400, "invalid", "a year from 1900 to the current year, or null", "birth_year");
  gint64 id = sched_patient_create(c->s->store, &spec, &error);
  g_autoptr(SchedPatient) p = id ? sched_patient_get(c->s->store, id, &error) : NULL;
  RESPOND_ONE(c, 201, "patient", p, patient_json, error);
}

static void h_patient_get(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedPatient) p = sched_patient_get(c->s->store, c->id, &error);
  RESPOND_ONE(c, 200, "patient", p, patient_json, error);
}

static void h_slot_search(Ctx *c)
{
  SchedSlotQuery q = {0};
  gint64 limit;
  if (!query_int(c, "from", 0, 0, &q.from) || !query_int(c, "to", 0, 0, &q.to) ||
      !query_int(c, "doctor_id", 1, 0, &q.doctor_id) ||
      !query_int(c, "service_id", 1, 0, &q.service_id) ||
      !query_int(c, "facility_id", 1, 0, &q.facility_id) ||
      !query_str(c, "specialty", &q.specialty) || !query_str(c, "language", &q.language) ||
      !query_str(c, "gender", &q.gender) || !query_int(c, "limit", 1, 0, &limit))
    return;
  if (!sig_http_query_get(c->req, "from"))
    return fail(c, 400, "missing_field", "\"from\" is required", "from");
  if (!sig_http_query_get(c->req, "to"))
    return fail(c, 400, "missing_field", "\"to\" is required", "to");
  if (limit > 1000)
    return fail(c, 400, "invalid", "\"limit\" must be at most 1000", "limit");
  q.limit = (guint)limit;
  q.now = sig_now();
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_slots_search(c->s->store, &q, &error);
  respond_list(c, "slots", list, error, (ToJson)slot_json);
}

/* --- Handlers: appointments --------------------------------------------------------------- */

static gboolean is_admin(Ctx *c)
{
  return c->req->role == SIG_ROLE_ADMIN;
}

/* The appointment at c->id if the caller may see it (admin, or its own doctor); else NULL with
 * 404 or 403 filled in. */
static SchedAppointment *own_appointment(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  SchedAppointment *a = sched_appointment_get(c->s->store, c->id, &error);
  if (!a) {
    if (error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_NOT_FOUND)
      fail(c, 404, "not_found", "no such appointment", "appointment_id");
    else
      fail_sched(c, error);
    return NULL;
  }
  if (!sig_authz_owns(c->req->role, c->staff->id, a->doctor_id)) {
    sched_appointment_free(a);
    fail(c, 403, "forbidden", "this is not your appointment", NULL);
    return NULL;
  }
  return a;
}

/* 200/201 {"appointment": {…}} (+ "token" and "link" when a join token was just issued). */
static void respond_appointment(Ctx *c, int status, gint64 id, const char *token)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedAppointment) a = sched_appointment_get(c->s->store, id, &error);
  if (!a)
    return fail_sched(c, error);
  json_t *o = json_pack("{s:o}", "appointment", appointment_json(a));
  if (token) {
    g_autofree char *link = g_strdup_printf("%s/join/%s", c->s->config.public_url, token);
    json_object_set_new(o, "token", json_string(token));
    json_object_set_new(o, "link", json_string(link));
  }
  respond(c, status, o);
}

static void h_appointment_list(Ctx *c)
{
  SchedAppointmentFilter f = {0};
  gint64 limit, offset;
  if (!query_int(c, "doctor_id", 1, 0, &f.doctor_id) ||
      !query_int(c, "patient_id", 1, 0, &f.patient_id) ||
      !query_int(c, "facility_id", 1, 0, &f.facility_id) ||
      !query_int(c, "service_id", 1, 0, &f.service_id) || !query_str(c, "status", &f.status) ||
      !query_str(c, "kind", &f.kind) || !query_int(c, "from", 0, 0, &f.from) ||
      !query_int(c, "to", 0, 0, &f.to) || !query_int(c, "limit", 1, 0, &limit) ||
      !query_int(c, "offset", 0, 0, &offset))
    return;
  if (limit > 5000)
    return fail(c, 400, "invalid", "\"limit\" must be at most 5000", "limit");
  if (offset > G_MAXINT)
    return fail(c, 400, "invalid", "\"offset\" is out of range", "offset");
  if (!is_admin(c)) {
    if (f.doctor_id && f.doctor_id != c->staff->id)
      return fail(c, 403, "forbidden", "doctors see their own appointments only", "doctor_id");
    f.doctor_id = c->staff->id;
  }
  f.limit = (guint)limit;
  f.offset = (guint)offset;
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_appointments_search(c->s->store, &f, &error);
  respond_list(c, "appointments", list, error, (ToJson)appointment_json);
}

static void h_appointment_get(Ctx *c)
{
  g_autoptr(SchedAppointment) a = own_appointment(c);
  if (a)
    respond(c, 200, json_pack("{s:o}", "appointment", appointment_json(a)));
}

static SchedBookingRequest booking_request(Ctx *c)
{
  SchedBookingRequest r = {
      .doctor_id = body_int(c, "doctor_id"),
      .service_id = body_int(c, "service_id"),
      .patient_id = body_int(c, "patient_id"),
      .starts_at = body_int(c, "starts_at"),
  };
  return r;
}

static void h_appointment_book(Ctx *c)
{
  SchedBookingRequest r = booking_request(c);
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  gint64 id = sched_appointment_book_slot(c->s->store, &r, sig_now(), &token, &error);
  if (!id)
    return fail_sched(c, error);
  g_message("appointment %" G_GINT64_FORMAT " booked by %" G_GINT64_FORMAT, id, c->staff->id);
  respond_appointment(c, 201, id, token);
}

static void h_hold(Ctx *c)
{
  SchedBookingRequest r = booking_request(c);
  g_autoptr(GError) error = NULL;
  gint64 id = sched_appointment_hold(c->s->store, &r, sig_now(), &error);
  if (!id)
    return fail_sched(c, error);
  respond_appointment(c, 201, id, NULL);
}

static void h_confirm(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  if (!sched_appointment_confirm(c->s->store, c->id, sig_now(), &token, &error))
    return fail_sched(c, error);
  respond_appointment(c, 200, c->id, token);
}

static void h_cancel(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  if (!sched_appointment_cancel(c->s->store, c->id, body_str(c, "reason"), sig_now(), &error))
    return fail_sched(c, error);
  g_message("appointment %" G_GINT64_FORMAT " cancelled by %" G_GINT64_FORMAT, c->id, c->staff->id);
  respond_appointment(c, 200, c->id, NULL);
}

static void h_reschedule(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  if (!sched_appointment_reschedule(c->s->store, c->id, body_int(c, "starts_at"), sig_now(),
                                    &error))
    return fail_sched(c, error);
  respond_appointment(c, 200, c->id, NULL);
}

static void h_check_in(Ctx *c)
{
  g_autoptr(SchedAppointment) a = own_appointment(c);
  if (!a)
    return;
  g_autoptr(GError) error = NULL;
  if (!sched_appointment_check_in(c->s->store, c->id, sig_now(), &error))
    return fail_sched(c, error);
  respond_appointment(c, 200, c->id, NULL);
}

static void h_walkin(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  gint64 id = sched_walkin_add(c->s->store, body_int(c, "doctor_id"), body_int(c, "patient_id"),
                               body_int(c, "service_id"), sig_now(), &token, &error);
  if (!id)
    return fail_sched(c, error);
  respond_appointment(c, 201, id, token);
}

static void h_queue(Ctx *c)
{
  gint64 doctor_id, at;
  if (!query_int(c, "doctor_id", 1, 0, &doctor_id) || !query_int(c, "at", 1, sig_now(), &at))
    return;
  if (!is_admin(c)) {
    if (doctor_id && doctor_id != c->staff->id)
      return fail(c, 403, "forbidden", "doctors see their own queue only", "doctor_id");
    doctor_id = c->staff->id;
  } else if (!doctor_id) {
    return fail(c, 400, "missing_field", "\"doctor_id\" is required", "doctor_id");
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = sched_day_queue(c->s->store, doctor_id, at, &error);
  if (!list)
    return fail_sched(c, error);
  json_t *arr = json_array();
  for (guint i = 0; i < list->len; i++) {
    json_t *o = appointment_json(g_ptr_array_index(list, i));
    json_object_set_new(o, "position", json_integer((json_int_t)i + 1));
    json_array_append_new(arr, o);
  }
  respond(c, 200, json_pack("{s:I, s:o}", "doctor_id", (json_int_t)doctor_id, "queue", arr));
}

/* --- Handlers: waitlist, outbox, link resend ---------------------------------------------- */

static void h_waitlist_list(Ctx *c)
{
  gint64 service_id;
  const char *status;
  if (!query_int(c, "service_id", 1, 0, &service_id) || !query_str(c, "status", &status))
    return;
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_waitlist_list(c->s->store, service_id, status, &error);
  respond_list(c, "waitlist", list, error, (ToJson)waitlist_json);
}

static void h_waitlist_add(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  gint64 id = sched_waitlist_add(c->s->store, body_int(c, "patient_id"), body_int(c, "service_id"),
                                 body_int(c, "doctor_id"), body_int(c, "not_before"),
                                 body_int(c, "not_after"), sig_now(), &error);
  if (!id)
    return fail_sched(c, error);
  /* The entry as listed (the scheduler has no single-entry getter). */
  g_autoptr(GPtrArray) list =
      sched_waitlist_list(c->s->store, body_int(c, "service_id"), NULL, &error);
  for (guint i = 0; list && i < list->len; i++) {
    SchedWaitlistEntry *w = g_ptr_array_index(list, i);
    if (w->id == id)
      return respond(c, 201, json_pack("{s:o}", "waitlist_entry", waitlist_json(w)));
  }
  respond(c, 201, json_pack("{s:{s:I}}", "waitlist_entry", "id", (json_int_t)id));
}

static void h_waitlist_remove(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  if (!sched_waitlist_remove(c->s->store, c->id, &error))
    return fail_sched(c, error);
  respond(c, 204, NULL);
}

static void h_outbox_list(Ctx *c)
{
  gint64 appointment_id, limit;
  if (!query_int(c, "appointment_id", 1, 0, &appointment_id) ||
      !query_int(c, "limit", 1, 0, &limit))
    return;
  if (limit > 5000)
    return fail(c, 400, "invalid", "\"limit\" must be at most 5000", "limit");
  g_autoptr(GError) error = NULL;
  GPtrArray *list = sched_outbox_list(c->s->store, appointment_id, (guint)limit, &error);
  respond_list(c, "outbox", list, error, (ToJson)outbox_json);
}

/* The same answer whether or not the number is known: nothing here may tell them apart (not
 * the status, the body, nor an error for an unknown number). */
static void h_link_resend(Ctx *c)
{
  g_autoptr(GError) error = NULL;
  if (!sched_link_resend(c->s->store, body_str(c, "phone"), sig_now(), &error)) {
    if (error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_INVALID)
      return fail(c, 400, "invalid", "this is not a phone number", "phone");
    return fail_sched(c, error);
  }
  respond(c, 202,
          json_pack("{s:s, s:s}", "status", "accepted", "message",
                    "If this number has an upcoming appointment, a new link is on its "
                    "way by SMS."));
}

/* --- Handlers: iCalendar ------------------------------------------------------------------ */

#define ICS_REQUEST "text/calendar; charset=utf-8; method=REQUEST"
#define ICS_CANCEL "text/calendar; charset=utf-8; method=CANCEL"

/* The host of the public URL: the right-hand side of every UID. (transfer full) */
static char *public_host(SigServer *s)
{
  g_autoptr(GUri) uri = g_uri_parse(s->config.public_url, G_URI_FLAGS_NONE, NULL);
  const char *host = uri ? g_uri_get_host(uri) : NULL;
  return g_strdup(host && *host ? host : "localhost");
}

static void respond_ics(Ctx *c, const SchedAppointment *a, const char *url)
{
  g_autofree char *host = public_host(c->s);
  g_autoptr(SchedFacility) f =
      a->facility_id ? sched_facility_get(c->s->store, a->facility_id, NULL) : NULL;
  g_autofree char *summary =
      g_strdup_printf("Consultation with %s", a->doctor_name ? a->doctor_name : "your doctor");
  g_autofree char *description =
      url ? g_strdup_printf("Open this link at the time of your appointment: %s", url) : NULL;
  SigIcalEvent ev = {
      .appointment_id = a->id,
      .sequence = a->sequence,
      .starts_at = a->starts_at,
      .ends_at = a->ends_at,
      .stamp = sig_now(),
      .status = a->status,
      .host = host,
      .summary = summary,
      .description = description,
      .location = f ? f->name : "Online video consultation",
      .url = url,
  };
  c->resp->status = 200;
  c->resp->body = sig_ical_invite(&ev);
  gboolean cancel =
      g_strcmp0(a->status, "cancelled") == 0 || g_strcmp0(a->status, "entered-in-error") == 0;
  c->resp->content_type = cancel ? ICS_CANCEL : ICS_REQUEST;
}

static void h_invite_staff(Ctx *c)
{
  g_autoptr(SchedAppointment) a = own_appointment(c);
  if (!a)
    return;
  g_autofree char *console = g_strdup_printf("%s/console", c->s->config.public_url);
  respond_ics(c, a, console);
}

/* The patient's own invite, by join token. Open from booking on (a token too early for the
 * waiting room still gets its invite); a cancelled appointment's token gets the CANCEL. */
static void h_invite_patient(Ctx *c)
{
  g_autoptr(SchedTokenInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  SchedTokenVerdict v = sched_token_check(c->s->store, c->word, sig_now(), &info, &error);
  if (error)
    return fail(c, 500, "internal", "the link could not be checked", NULL);
  switch (v) {
  case SCHED_TOKEN_MALFORMED:
  case SCHED_TOKEN_UNKNOWN:
    return fail(c, 404, "unknown_token", "this link is not known", NULL);
  case SCHED_TOKEN_EXPIRED:
    return fail(c, 410, "expired_token", "this link has expired", NULL);
  case SCHED_TOKEN_VALID:
  case SCHED_TOKEN_TOO_EARLY:
  case SCHED_TOKEN_REVOKED:
    break;
  }
  if (g_strcmp0(info->role, "patient") != 0)
    return fail(c, 403, "forbidden", "only the patient's link has an invite", NULL);
  g_autoptr(SchedAppointment) a = sched_appointment_get(c->s->store, info->appointment_id, NULL);
  if (!a)
    return fail(c, 404, "unknown_token", "this link is not known", NULL);
  g_autofree char *link = g_strdup_printf("%s/join/%s", c->s->config.public_url, c->word);
  respond_ics(c, a, link);
}

/* --- Routing ------------------------------------------------------------------------------ */

struct Route {
  int method;
  const char *pattern; /* '/'-separated; "#" = a positive integer id, "*" = any one segment */
  void (*handler)(Ctx *c);
  const char *query;                    /* allowed query keys, comma-separated (NULL: none) */
  SigApiField body[SIG_API_MAX_FIELDS]; /* body fields, for POST/PUT */
};

#define GET LWSHUMETH_GET
#define POST LWSHUMETH_POST
#define PUT LWSHUMETH_PUT
#define DEL LWSHUMETH_DELETE

static const Route routes[] = {
    {POST, "/api/link-resend", h_link_resend, NULL, {{"phone", F_STR, TRUE}}},
    {GET, "/api/join/*/invite.ics", h_invite_patient, NULL, {{0}}},

    {GET, "/api/staff", h_staff_list, "role", {{0}}},
    {POST,
     "/api/staff",
     h_staff_add,
     NULL,
     {{"username", F_STR, TRUE},
      {"name", F_STR, TRUE},
      {"password", F_STR, TRUE},
      {"role", F_STR, TRUE}}},

    {GET, "/api/facilities", h_facility_list, "name", {{0}}},
    {POST,
     "/api/facilities",
     h_facility_add,
     NULL,
     {{"name", F_STR, TRUE},
      {"district", F_STR, TRUE},
      {"sector", F_STR, TRUE},
      {"timezone", F_STRN, FALSE}}},
    {GET, "/api/facilities/#", h_facility_get, NULL, {{0}}},

    {GET, "/api/doctors", h_doctor_list, "facility_id,specialty,language,gender,name", {{0}}},
    {POST,
     "/api/doctors",
     h_doctor_add,
     NULL,
     {{"username", F_STR, TRUE},
      {"name", F_STR, TRUE},
      {"password", F_STR, TRUE},
      {"facility_id", F_ID, TRUE},
      {"specialty", F_STR, TRUE},
      {"languages", F_STRV, FALSE},
      {"gender", F_STRN, FALSE}}},
    {GET, "/api/doctors/#", h_doctor_get, NULL, {{0}}},
    {PUT,
     "/api/doctors/#/profile",
     h_doctor_profile,
     NULL,
     {{"facility_id", F_ID, TRUE},
      {"specialty", F_STR, TRUE},
      {"languages", F_STRV, FALSE},
      {"gender", F_STRN, FALSE}}},

    {GET, "/api/services", h_service_list, "facility_id", {{0}}},
    {POST,
     "/api/services",
     h_service_add,
     NULL,
     {{"facility_id", F_ID, TRUE},
      {"name", F_STR, TRUE},
      {"specialty", F_STR, TRUE},
      {"duration_min", F_INT, TRUE},
      {"buffer_before_min", F_INT, FALSE},
      {"buffer_after_min", F_INT, FALSE},
      {"max_per_day", F_INT, FALSE}}},
    {GET, "/api/services/#", h_service_get, NULL, {{0}}},

    {GET, "/api/availability", h_availability_list, "doctor_id", {{0}}},
    {POST,
     "/api/availability",
     h_availability_add,
     NULL,
     {{"doctor_id", F_ID, TRUE},
      {"service_id", F_ID, TRUE},
      {"weekday", F_INT, TRUE},
      {"start_min", F_INT, TRUE},
      {"end_min", F_INT, TRUE},
      {"valid_from", F_STRN, FALSE},
      {"valid_until", F_STRN, FALSE}}},
    {DEL, "/api/availability/#", h_availability_remove, NULL, {{0}}},

    {GET, "/api/breaks", h_break_list, "doctor_id", {{0}}},
    {POST,
     "/api/breaks",
     h_break_add,
     NULL,
     {{"doctor_id", F_ID, TRUE},
      {"weekday", F_INT, TRUE},
      {"start_min", F_INT, TRUE},
      {"end_min", F_INT, TRUE}}},
    {DEL, "/api/breaks/#", h_break_remove, NULL, {{0}}},

    {GET, "/api/exceptions", h_exception_list, "doctor_id,facility_id,from,to", {{0}}},
    {POST,
     "/api/exceptions",
     h_exception_add,
     NULL,
     {{"doctor_id", F_ID0, FALSE},
      {"facility_id", F_ID0, FALSE},
      {"starts_at", F_TIME, TRUE},
      {"ends_at", F_TIME, TRUE},
      {"reason", F_STRN, FALSE}}},
    {DEL, "/api/exceptions/#", h_exception_remove, NULL, {{0}}},

    {GET, "/api/patients", h_patient_list, "q,limit", {{0}}},
    {POST,
     "/api/patients",
     h_patient_add,
     NULL,
     {{"name", F_STR, TRUE},
      {"phone", F_STRN, FALSE},
      {"preferred_language", F_STRN, FALSE},
      {"sex", F_STRN, FALSE},
      {"birth_year", SIG_API_INTN, FALSE}}},
    {GET, "/api/patients/#", h_patient_get, NULL, {{0}}},

    {GET,
     "/api/slots",
     h_slot_search,
     "from,to,doctor_id,service_id,facility_id,specialty,language,gender,limit",
     {{0}}},

    {GET,
     "/api/appointments",
     h_appointment_list,
     "doctor_id,patient_id,facility_id,service_id,status,kind,from,to,limit,offset",
     {{0}}},
    {POST,
     "/api/appointments",
     h_appointment_book,
     NULL,
     {{"doctor_id", F_ID, TRUE},
      {"service_id", F_ID, TRUE},
      {"patient_id", F_ID, TRUE},
      {"starts_at", F_TIME, TRUE}}},
    {POST,
     "/api/holds",
     h_hold,
     NULL,
     {{"doctor_id", F_ID, TRUE},
      {"service_id", F_ID, TRUE},
      {"patient_id", F_ID, TRUE},
      {"starts_at", F_TIME, TRUE}}},
    {GET, "/api/appointments/#", h_appointment_get, NULL, {{0}}},
    {POST, "/api/appointments/#/confirm", h_confirm, NULL, {{0}}},
    {POST, "/api/appointments/#/cancel", h_cancel, NULL, {{"reason", F_STRN, FALSE}}},
    {POST, "/api/appointments/#/reschedule", h_reschedule, NULL, {{"starts_at", F_TIME, TRUE}}},
    {POST, "/api/appointments/#/check-in", h_check_in, NULL, {{0}}},
    {GET, "/api/appointments/#/invite.ics", h_invite_staff, NULL, {{0}}},
    {POST,
     "/api/walk-ins",
     h_walkin,
     NULL,
     {{"doctor_id", F_ID, TRUE}, {"patient_id", F_ID, TRUE}, {"service_id", F_ID0, FALSE}}},
    {GET, "/api/queue", h_queue, "doctor_id,at", {{0}}},

    {GET, "/api/waitlist", h_waitlist_list, "service_id,status", {{0}}},
    {POST,
     "/api/waitlist",
     h_waitlist_add,
     NULL,
     {{"patient_id", F_ID, TRUE},
      {"service_id", F_ID, TRUE},
      {"doctor_id", F_ID0, FALSE},
      {"not_before", F_TIME0, FALSE},
      {"not_after", F_TIME0, FALSE}}},
    {DEL, "/api/waitlist/#", h_waitlist_remove, NULL, {{0}}},

    {GET, "/api/outbox", h_outbox_list, "appointment_id,limit", {{0}}},
};

/* The route for `method` and `path` (NULL if none), its id ('#') and word ('*'); *path_known
 * says whether some route has that path (405 rather than 404). */
static const Route *find_route(int method, const char *path, gint64 *id, const char **word,
                               gboolean *path_known)
{
  *path_known = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS(routes); i++) {
    gint64 rid = 0;
    const char *rword = NULL;
    if (!sig_authz_match(routes[i].pattern, path, &rid, &rword))
      continue;
    *path_known = TRUE;
    if (routes[i].method == method) {
      *id = rid;
      *word = rword;
      return &routes[i];
    }
  }
  return NULL;
}

gboolean sig_api_clinic_route(int method, const char *path, const char **query,
                              const SigApiField **body)
{
  g_return_val_if_fail(path != NULL && query != NULL && body != NULL, FALSE);
  gint64 id = 0;
  const char *word = NULL;
  gboolean path_known;
  const Route *r = find_route(method, path, &id, &word, &path_known);
  if (!r)
    return FALSE;
  *query = r->query;
  *body = r->body;
  return TRUE;
}

gboolean sig_api_clinic_handle(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  gboolean path_known;
  gint64 id = 0;
  const char *word = NULL;
  const Route *found = find_route(req->method, req->path, &id, &word, &path_known);
  if (!path_known)
    return FALSE;
  Ctx c = {.s = s, .req = req, .resp = resp, .route = found, .id = id};
  if (!found) {
    fail(&c, 405, "method_not_allowed", "this path does not take that method", NULL);
    return TRUE;
  }
  g_autofree char *token = NULL;
  if (word) { /* the free segment ends at the next '/' */
    const char *slash = strchr(word, '/');
    token = slash ? g_strndup(word, (gsize)(slash - word)) : g_strdup(word);
    c.word = token;
  }
  c.staff = req->staff;
  if (!check_query(&c, found->query))
    goto out;
  if ((found->method == POST || found->method == PUT) && !check_body(&c, found->body))
    goto out;
  found->handler(&c);
out:
  g_clear_pointer(&c.body, json_decref);
  return TRUE;
}

SchedStaff *sig_http_session_staff(SigServer *s, const SigHttpRequest *req)
{
  gint64 id =
      req->cookie_session ? sched_session_lookup(s->store, req->cookie_session, sig_now()) : 0;
  return id ? sched_staff_get(s->store, id, NULL) : NULL;
}
