/* sig-api-fhir.c — the FHIR R4 face under /fhir/: read and search of Appointment, Slot,
 * Schedule, Practitioner and Location, as application/fhir+json; CapabilityStatement at
 * /fhir/metadata. Resources are built by sig-fhir.c; this file maps search parameters to
 * scheduler queries. Errors are OperationOutcome resources.
 * Authorisation is the one table's (sig-authz.c), applied before this runs: a staff session is
 * required (this is patient data); admin reads everything, a doctor reads everything but other
 * doctors' Appointments (narrowed here with sig_authz_owns), an analyst gets 403. Unknown search
 * parameters are ignored (FHIR's lenient default) and not echoed in the self link; a known
 * parameter with a bad value is a 400 naming it. Thread: main loop. */
#define G_LOG_DOMAIN "mashwara-sig"

#include <string.h>

#include "sig-fhir.h"
#include "sig-private.h"

#define FHIR_SLOT_DEFAULT_DAYS 14
#define FHIR_COUNT_MAX 1000

typedef struct {
  SigServer *s;
  const SigHttpRequest *req;
  SigHttpResponse *resp;
  const SchedStaff *staff; /* borrowed from the request */
  char *base;              /* public_url + "/fhir" */
} Fhir;

static void answer(Fhir *f, int status, json_t *resource /* stolen */)
{
  f->resp->status = status;
  f->resp->body = sig_msg_dump(resource);
  f->resp->content_type = SIG_FHIR_CONTENT_TYPE;
}

static void outcome(Fhir *f, int status, const char *code, const char *diagnostics,
                    const char *expression)
{
  answer(f, status, sig_fhir_operation_outcome(code, diagnostics, expression));
}

static void outcome_sched(Fhir *f, const GError *error)
{
  if (error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_NOT_FOUND)
    return outcome(f, 404, "not-found", "no such resource", NULL);
  if (error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_INVALID) {
    g_autofree char *field = sched_error_field(error);
    return outcome(f, 400, "invalid", sched_error_reason(error), field);
  }
  if (error)
    g_warning("%s: %s", f->req->path, error->message);
  outcome(f, 500, "exception", "the request could not be completed", NULL);
}

static gboolean is_admin(Fhir *f)
{
  return f->req->role == SIG_ROLE_ADMIN;
}

/* The self link: the base, the path, and the parameters this server understood. */
static char *self_link(Fhir *f, const char *const *known)
{
  GString *s = g_string_new(f->s->config.public_url);
  g_string_append(s, f->req->path);
  char sep = '?';
  for (const char *const *q = f->req->query; q && *q; q++) {
    const char *eq = strchr(*q, '=');
    g_autofree char *key = eq ? g_strndup(*q, (gsize)(eq - *q)) : g_strdup(*q);
    if (!g_strv_contains(known, key))
      continue;
    g_string_append_c(s, sep);
    sep = '&';
    g_string_append_uri_escaped(s, key, NULL, FALSE);
    if (eq) {
      g_string_append_c(s, '=');
      g_string_append_uri_escaped(s, eq + 1, NULL, FALSE);
    }
  }
  return g_string_free(s, FALSE);
}

static void searchset(Fhir *f, json_t *entries, const char *const *known)
{
  g_autofree char *self = self_link(f, known);
  answer(f, 200, sig_fhir_searchset(f->base, self, entries));
}

/* _count: FALSE (and a 400) if malformed. */
static gboolean count_param(Fhir *f, guint def, guint *out)
{
  const char *v = sig_http_query_get(f->req, "_count");
  guint64 n = def;
  if (v && !g_ascii_string_to_unsigned(v, 10, 1, FHIR_COUNT_MAX, &n, NULL)) {
    outcome(f, 400, "invalid", "_count must be an integer from 1 to 1000", "_count");
    return FALSE;
  }
  *out = (guint)n;
  return TRUE;
}

/* Every value of a date parameter narrows [from, to). */
static gboolean date_params(Fhir *f, const char *key, gint64 *from, gint64 *to)
{
  gsize n = strlen(key);
  for (const char *const *q = f->req->query; q && *q; q++)
    if (strncmp(*q, key, n) == 0 && (*q)[n] == '=' && !sig_fhir_narrow_date(*q + n + 1, from, to)) {
      g_autofree char *m = g_strdup_printf("%s must be a FHIR date or dateTime (with a zone), "
                                           "optionally prefixed by eq, ge, gt, le or lt",
                                           key);
      outcome(f, 400, "invalid", m, key);
      return FALSE;
    }
  return TRUE;
}

/* A reference parameter ("Practitioner/3" or "3"); 0 if absent; FALSE (and a 400) if bad. */
static gboolean ref_param(Fhir *f, const char *key, const char *type, gint64 *out)
{
  const char *v = sig_http_query_get(f->req, key);
  *out = 0;
  if (!v)
    return TRUE;
  *out = sig_fhir_reference_id(v, type);
  if (*out)
    return TRUE;
  g_autofree char *m = g_strdup_printf("%s must be a reference to a %s", key, type);
  outcome(f, 400, "invalid", m, key);
  return FALSE;
}

/* --- Appointment ---------------------------------------------------------------------------- */

static json_t *appointment_resource(Fhir *f, const SchedAppointment *a)
{
  g_autoptr(SchedService) sv =
      a->service_id ? sched_service_get(f->s->store, a->service_id, NULL) : NULL;
  return sig_fhir_appointment(a, sv);
}

static void appointment_read(Fhir *f, gint64 id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedAppointment) a = sched_appointment_get(f->s->store, id, &error);
  if (!a)
    return outcome_sched(f, error);
  if (!sig_authz_owns(f->req->role, f->staff->id, a->doctor_id))
    return outcome(f, 403, "forbidden", "this is not your appointment", NULL);
  answer(f, 200, appointment_resource(f, a));
}

static const char *const appointment_params[] = {"date",    "practitioner", "status", "location",
                                                 "patient", "_count",       NULL};

static void appointment_search(Fhir *f)
{
  SchedAppointmentFilter q = {0};
  gint64 from = 0, to = SCHED_TIME_MAX + 1;
  guint count;
  if (!date_params(f, "date", &from, &to) ||
      !ref_param(f, "practitioner", "Practitioner", &q.doctor_id) ||
      !ref_param(f, "location", "Location", &q.facility_id) ||
      !ref_param(f, "patient", "Patient", &q.patient_id) || !count_param(f, 500, &count))
    return;
  q.status = sig_http_query_get(f->req, "status");
  if (!is_admin(f)) {
    if (q.doctor_id && q.doctor_id != f->staff->id)
      return outcome(f, 403, "forbidden", "doctors read their own appointments only",
                     "practitioner");
    q.doctor_id = f->staff->id;
  }
  json_t *entries = json_array();
  if (from < to) { /* an empty range matches nothing */
    q.from = from; /* 0 does not filter */
    q.to = to <= SCHED_TIME_MAX ? to : 0;
    q.limit = count;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) list = sched_appointments_search(f->s->store, &q, &error);
    if (!list) {
      json_decref(entries);
      return outcome_sched(f, error);
    }
    for (guint i = 0; i < list->len; i++)
      json_array_append_new(entries, appointment_resource(f, g_ptr_array_index(list, i)));
  }
  searchset(f, entries, appointment_params);
}

/* --- Slot ----------------------------------------------------------------------------------- */

static json_t *slot_resource(Fhir *f, const SchedSlot *sl)
{
  g_autoptr(SchedService) sv = sched_service_get(f->s->store, sl->service_id, NULL);
  return sig_fhir_slot(sl, sv);
}

/* A slot id names a time; it is a resource while that time is free. */
static void slot_read(Fhir *f, const char *id)
{
  gint64 doctor_id, service_id, starts_at;
  if (!sched_slot_id_parse(id, &doctor_id, &service_id, &starts_at))
    return outcome(f, 404, "not-found", "no such slot", NULL);
  SchedSlotQuery q = {.doctor_id = doctor_id,
                      .service_id = service_id,
                      .from = starts_at,
                      .to = starts_at + 1,
                      .limit = 1,
                      .now = sig_now()};
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = sched_slots_search(f->s->store, &q, &error);
  if (!list && error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_INVALID)
    return outcome(f, 404, "not-found", "no such slot", NULL);
  if (!list)
    return outcome_sched(f, error);
  if (list->len == 0)
    return outcome(f, 404, "not-found", "no such free slot (taken, past, or never offered)", NULL);
  answer(f, 200, slot_resource(f, g_ptr_array_index(list, 0)));
}

static const char *const slot_params[] = {"schedule", "start", "status", "_count", NULL};

static void slot_search(Fhir *f)
{
  SchedSlotQuery q = {0};
  gint64 now = sig_now(), from = 0, to = SCHED_TIME_MAX + 1;
  guint count;
  if (!ref_param(f, "schedule", "Schedule", &q.doctor_id) || !date_params(f, "start", &from, &to) ||
      !count_param(f, 100, &count))
    return;
  const char *status = sig_http_query_get(f->req, "status");
  static const char *const slot_statuses[] = {
      "free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error", NULL};
  if (status && !g_strv_contains(slot_statuses, status))
    return outcome(f, 400, "invalid", "status must be a Slot.status code", "status");
  /* Without bounds: from now, for FHIR_SLOT_DEFAULT_DAYS days. */
  if (from == 0)
    from = MAX(now, 1);
  if (to == SCHED_TIME_MAX + 1)
    to = MAX(from, now) + FHIR_SLOT_DEFAULT_DAYS * 24 * 3600;
  json_t *entries = json_array();
  /* Only free slots are resources here: a search for another status matches nothing. */
  if ((!status || strcmp(status, "free") == 0) && from < to) {
    q.from = from;
    q.to = to;
    q.limit = count;
    q.now = now;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) list = sched_slots_search(f->s->store, &q, &error);
    if (!list) {
      json_decref(entries);
      if (error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_INVALID)
        return outcome(f, 400, "invalid", "start must span at most 366 days", "start");
      return outcome_sched(f, error);
    }
    for (guint i = 0; i < list->len; i++)
      json_array_append_new(entries, slot_resource(f, g_ptr_array_index(list, i)));
  }
  searchset(f, entries, slot_params);
}

/* --- Schedule, Practitioner, Location -------------------------------------------------------- */

typedef json_t *(*DoctorResource)(const SchedDoctor *d);

static void doctor_read(Fhir *f, gint64 id, DoctorResource make)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedDoctor) d = sched_doctor_get(f->s->store, id, &error);
  if (!d)
    return outcome_sched(f, error);
  answer(f, 200, make(d));
}

static void doctor_search(Fhir *f, const SchedDoctorFilter *filter, DoctorResource make,
                          const char *const *known)
{
  guint count;
  if (!count_param(f, 100, &count))
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = sched_doctors_list(f->s->store, filter, &error);
  if (!list)
    return outcome_sched(f, error);
  json_t *entries = json_array();
  for (guint i = 0; i < list->len && i < count; i++)
    json_array_append_new(entries, make(g_ptr_array_index(list, i)));
  searchset(f, entries, known);
}

static const char *const schedule_params[] = {"actor", "_count", NULL};

static void schedule_search(Fhir *f)
{
  const char *actor = sig_http_query_get(f->req, "actor");
  SchedDoctorFilter filter = {0};
  gint64 doctor_id = 0;
  if (actor && g_str_has_prefix(actor, "Location/")) {
    filter.facility_id = sig_fhir_reference_id(actor, "Location");
    if (!filter.facility_id)
      return outcome(f, 400, "invalid", "actor must reference a Practitioner or Location", "actor");
  } else if (actor) {
    doctor_id = sig_fhir_reference_id(actor, "Practitioner");
    if (!doctor_id)
      return outcome(f, 400, "invalid", "actor must reference a Practitioner or Location", "actor");
  }
  if (!doctor_id)
    return doctor_search(f, &filter, sig_fhir_schedule, schedule_params);
  json_t *entries = json_array();
  g_autoptr(SchedDoctor) d = sched_doctor_get(f->s->store, doctor_id, NULL);
  if (d)
    json_array_append_new(entries, sig_fhir_schedule(d));
  searchset(f, entries, schedule_params);
}

static const char *const practitioner_params[] = {"name", "_count", NULL};

static void practitioner_search(Fhir *f)
{
  SchedDoctorFilter filter = {.name_contains = sig_http_query_get(f->req, "name")};
  doctor_search(f, &filter, sig_fhir_practitioner, practitioner_params);
}

static void location_read(Fhir *f, gint64 id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedFacility) fac = sched_facility_get(f->s->store, id, &error);
  if (!fac)
    return outcome_sched(f, error);
  answer(f, 200, sig_fhir_location(fac));
}

static const char *const location_params[] = {"name", "_count", NULL};

static void location_search(Fhir *f)
{
  guint count;
  if (!count_param(f, 100, &count))
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list =
      sched_facilities_list(f->s->store, sig_http_query_get(f->req, "name"), &error);
  if (!list)
    return outcome_sched(f, error);
  json_t *entries = json_array();
  for (guint i = 0; i < list->len && i < count; i++)
    json_array_append_new(entries, sig_fhir_location(g_ptr_array_index(list, i)));
  searchset(f, entries, location_params);
}

/* --- CapabilityStatement ------------------------------------------------------------------- */

static json_t *capability_resource(const char *type, const char *const *params)
{
  json_t *sp = json_array();
  for (const char *const *p = params; *p; p++) {
    const char *t = strcmp(*p, "date") == 0 || strcmp(*p, "start") == 0    ? "date"
                    : strcmp(*p, "name") == 0 || strcmp(*p, "status") == 0 ? "string"
                    : strcmp(*p, "_count") == 0                            ? "number"
                                                                           : "reference";
    if (strcmp(*p, "status") == 0)
      t = "token";
    json_array_append_new(sp, json_pack("{s:s, s:s}", "name", *p, "type", t));
  }
  return json_pack("{s:s, s:[{s:s}, {s:s}], s:o}", "type", type, "interaction", "code", "read",
                   "code", "search-type", "searchParam", sp);
}

static void metadata(Fhir *f)
{
  json_t *resources = json_array();
  json_array_append_new(resources, capability_resource("Appointment", appointment_params));
  json_array_append_new(resources, capability_resource("Slot", slot_params));
  json_array_append_new(resources, capability_resource("Schedule", schedule_params));
  json_array_append_new(resources, capability_resource("Practitioner", practitioner_params));
  json_array_append_new(resources, capability_resource("Location", location_params));
  answer(f, 200,
         json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:{s:s}, s:[{s:s, s:o}]}", "resourceType",
                   "CapabilityStatement", "status", "active", "date", "2025-01-01", "kind",
                   "instance", "fhirVersion", "4.0.1", "format", "json", "software", "name",
                   "Mashwara", "rest", "mode", "server", "resource", resources));
}

/* --- Routing --------------------------------------------------------------------------------- */

/* "/fhir/<Type>" or "/fhir/<Type>/<id>": the type and the id (NULL for a search). */
static gboolean split_path(const char *path, char **type, char **id)
{
  const char *rest = path + strlen("/fhir/");
  const char *slash = strchr(rest, '/');
  *type = slash ? g_strndup(rest, (gsize)(slash - rest)) : g_strdup(rest);
  *id = NULL;
  if (!slash)
    return TRUE;
  if (!slash[1] || strchr(slash + 1, '/') || strlen(slash + 1) > 64)
    return FALSE;
  *id = g_strdup(slash + 1);
  return TRUE;
}

/* A numeric resource id, or 0. */
static gint64 numeric_id(const char *id)
{
  guint64 v;
  if (!g_ascii_string_to_unsigned(id, 10, 1, G_MAXINT64, &v, NULL) || id[0] == '0')
    return 0;
  return (gint64)v;
}

void sig_api_fhir_handle(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  Fhir f = {.s = s, .req = req, .resp = resp};
  g_autofree char *type = NULL, *id = NULL;
  if (req->method != LWSHUMETH_GET) {
    outcome(&f, 405, "not-supported", "this server only reads and searches", NULL);
    return;
  }
  f.staff = req->staff; /* sig_api_handle has applied the authorisation table */
  f.base = g_strconcat(s->config.public_url, "/fhir", NULL);
  if (!split_path(req->path, &type, &id)) {
    outcome(&f, 404, "not-found", "no such resource", NULL);
    g_free(f.base);
    return;
  }
  gint64 n = id ? numeric_id(id) : 0;
  if (strcmp(type, "metadata") == 0 && !id)
    metadata(&f);
  else if (strcmp(type, "Appointment") == 0)
    id ? (n ? appointment_read(&f, n) : outcome(&f, 404, "not-found", "no such resource", NULL))
       : appointment_search(&f);
  else if (strcmp(type, "Slot") == 0)
    id ? slot_read(&f, id) : slot_search(&f);
  else if (strcmp(type, "Schedule") == 0)
    id ? (n ? doctor_read(&f, n, sig_fhir_schedule)
            : outcome(&f, 404, "not-found", "no such resource", NULL))
       : schedule_search(&f);
  else if (strcmp(type, "Practitioner") == 0)
    id ? (n ? doctor_read(&f, n, sig_fhir_practitioner)
            : outcome(&f, 404, "not-found", "no such resource", NULL))
       : practitioner_search(&f);
  else if (strcmp(type, "Location") == 0)
    id ? (n ? location_read(&f, n) : outcome(&f, 404, "not-found", "no such resource", NULL))
       : location_search(&f);
  else
    outcome(&f, 404, "not-supported",
            "this server serves Appointment, Slot, Schedule, "
            "Practitioner and Location",
            NULL);
  g_free(f.base);
}

void sig_api_fhir_refuse(SigHttpResponse *resp, int status, const char *diagnostics)
{
  const char *code = status == 401   ? "login"
                     : status == 403 ? "forbidden"
                     : status == 404 ? "not-found"
                     : status == 405 ? "not-supported"
                     : status == 429 ? "throttled"
                                     : "exception";
  resp->status = status;
  resp->body = sig_msg_dump(sig_fhir_operation_outcome(code, diagnostics, NULL));
  resp->content_type = SIG_FHIR_CONTENT_TYPE;
}
