/* sig-fhir.c — FHIR R4 JSON builders and search-parameter parsing (see sig-fhir.h). Pure.
 * Value sets used (R4): Appointment.status = the scheduler's status strings, one to one;
 * Appointment.participant.status (participationstatus): accepted | declined | tentative |
 * needs-action; Slot.status (slotstatus): free | busy | busy-unavailable | busy-tentative |
 * entered-in-error; Location.status: active; Location.mode: instance; Practitioner.gender
 * (administrative-gender): male | female | other | unknown; OperationOutcome.issue.severity:
 * error, issue.code from issue-type. */
#include "sig-fhir.h"

#include <string.h>

char *sig_fhir_instant(gint64 unix_s)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(unix_s);
  if (!t)
    return g_strdup("1970-01-01T00:00:00Z");
  return g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ");
}

static void set_instant(json_t *o, const char *key, gint64 t)
{
  g_autofree char *s = sig_fhir_instant(t);
  json_object_set_new(o, key, json_string(s));
}

static json_t *id_string(gint64 id)
{
  g_autofree char *s = g_strdup_printf("%" G_GINT64_FORMAT, id);
  return json_string(s);
}

static json_t *reference(const char *type, gint64 id, const char *display)
{
  g_autofree char *ref = g_strdup_printf("%s/%" G_GINT64_FORMAT, type, id);
  json_t *o = json_pack("{s:s}", "reference", ref);
  if (display && *display)
    json_object_set_new(o, "display", json_string(display));
  return o;
}

json_t *sig_fhir_operation_outcome(const char *code, const char *diagnostics,
                                   const char *expression)
{
  json_t *issue = json_pack("{s:s, s:s, s:s}", "severity", "error", "code", code, "diagnostics",
                            diagnostics ? diagnostics : "");
  if (expression)
    json_object_set_new(issue, "expression", json_pack("[s]", expression));
  return json_pack("{s:s, s:[o]}", "resourceType", "OperationOutcome", "issue", issue);
}

json_t *sig_fhir_searchset(const char *base, const char *self, json_t *entries)
{
  json_t *entry = json_array();
  size_t i;
  json_t *r;
  json_array_foreach(entries, i, r)
  {
    g_autofree char *full =
        g_strdup_printf("%s/%s/%s", base, json_string_value(json_object_get(r, "resourceType")),
                        json_string_value(json_object_get(r, "id")));
    json_array_append_new(entry, json_pack("{s:s, s:O, s:{s:s}}", "fullUrl", full, "resource", r,
                                           "search", "mode", "match"));
  }
  json_t *b = json_pack("{s:s, s:s, s:I, s:[{s:s, s:s}], s:o}", "resourceType", "Bundle", "type",
                        "searchset", "total", (json_int_t)json_array_size(entries), "link",
                        "relation", "self", "url", self, "entry", entry);
  json_decref(entries);
  return b;
}

/* --- Search parameters ---------------------------------------------------------------------- */

static gboolean all_digits(const char *s, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isdigit(s[i]))
      return FALSE;
  return TRUE;
}

/* The interval [lo, hi) a FHIR date/dateTime/instant names. */
static gboolean date_interval(const char *v, gint64 *lo, gint64 *hi)
{
  gsize n = strlen(v);
  int y = 0, m = 1, d = 1;
  if (n >= 4 && all_digits(v, 4))
    y = atoi(v);
  else
    return FALSE;
  if (n == 4) {
    g_autoptr(GDateTime) a = g_date_time_new_utc(y, 1, 1, 0, 0, 0);
    g_autoptr(GDateTime) b = a ? g_date_time_add_years(a, 1) : NULL;
    if (!a || !b)
      return FALSE;
    *lo = g_date_time_to_unix(a), *hi = g_date_time_to_unix(b);
    return TRUE;
  }
  if (n < 7 || v[4] != '-' || !all_digits(v + 5, 2))
    return FALSE;
  m = atoi(v + 5);
  if (n == 7) {
    g_autoptr(GDateTime) a = g_date_time_new_utc(y, m, 1, 0, 0, 0);
    g_autoptr(GDateTime) b = a ? g_date_time_add_months(a, 1) : NULL;
    if (!a || !b)
      return FALSE;
    *lo = g_date_time_to_unix(a), *hi = g_date_time_to_unix(b);
    return TRUE;
  }
  if (n < 10 || v[7] != '-' || !all_digits(v + 8, 2))
    return FALSE;
  d = atoi(v + 8);
  if (n == 10) {
    g_autoptr(GDateTime) a = g_date_time_new_utc(y, m, d, 0, 0, 0);
    if (!a)
      return FALSE;
    *lo = g_date_time_to_unix(a), *hi = *lo + 24 * 3600;
    return TRUE;
  }
  /* A dateTime must carry seconds and a zone ("Z" or ±hh:mm), FHIR's own rule. A '+' sent
   * unescaped in a query string arrives as a space: take it back. */
  if (v[10] != 'T' || n < 20)
    return FALSE;
  g_autofree char *copy = g_strdup(v);
  if (copy[n - 6] == ' ')
    copy[n - 6] = '+';
  g_autoptr(GDateTime) t = g_date_time_new_from_iso8601(copy, NULL);
  if (!t || !(g_str_has_suffix(copy, "Z") || copy[n - 6] == '+' || copy[n - 6] == '-'))
    return FALSE;
  *lo = g_date_time_to_unix(t);
  *hi = *lo + 1;
  return TRUE;
}

gboolean sig_fhir_narrow_date(const char *value, gint64 *from, gint64 *to)
{
  g_return_val_if_fail(from && to, FALSE);
  if (!value)
    return FALSE;
  char prefix[3] = "eq";
  if (g_ascii_isalpha(value[0])) {
    if (!g_ascii_isalpha(value[1]))
      return FALSE;
    prefix[0] = value[0], prefix[1] = value[1];
    value += 2;
  }
  gint64 lo, hi;
  if (!date_interval(value, &lo, &hi))
    return FALSE;
  if (strcmp(prefix, "eq") == 0) {
    *from = MAX(*from, lo);
    *to = MIN(*to, hi);
  } else if (strcmp(prefix, "ge") == 0) {
    *from = MAX(*from, lo);
  } else if (strcmp(prefix, "gt") == 0) {
    *from = MAX(*from, hi);
  } else if (strcmp(prefix, "lt") == 0) {
    *to = MIN(*to, lo);
  } else if (strcmp(prefix, "le") == 0) {
    *to = MIN(*to, hi);
  } else {
    return FALSE;
  }
  return TRUE;
}

gint64 sig_fhir_reference_id(const char *value, const char *type)
{
  if (!value)
    return 0;
  gsize tl = strlen(type);
  if (strncmp(value, type, tl) == 0 && value[tl] == '/')
    value += tl + 1;
  if (!*value || strlen(value) > 18 || !all_digits(value, strlen(value)))
    return 0;
  return g_ascii_strtoll(value, NULL, 10);
}

/* --- Resources ------------------------------------------------------------------------------- */

#define V2_0276 "http://terminology.hl7.org/CodeSystem/v2-0276"
#define TIMEZONE_EXT "http://hl7.org/fhir/StructureDefinition/timezone"
#define BCP47 "urn:ietf:bcp:47"

const char *sig_fhir_participant_status(const char *st)
{
  if (!st)
    return "needs-action";
  if (strcmp(st, "cancelled") == 0 || strcmp(st, "entered-in-error") == 0)
    return "declined";
  if (strcmp(st, "proposed") == 0 || strcmp(st, "waitlist") == 0)
    return "needs-action";
  if (strcmp(st, "pending") == 0)
    return "tentative";
  return "accepted"; /* booked, arrived, checked-in, fulfilled, noshow */
}

static json_t *text_concept(const char *text)
{
  return json_pack("{s:s}", "text", text);
}

json_t *sig_fhir_appointment(const SchedAppointment *a, const SchedService *service)
{
  g_return_val_if_fail(a && a->status, NULL);
  json_t *o = json_pack("{s:s, s:o, s:s}", "resourceType", "Appointment", "id", id_string(a->id),
                        "status", a->status);
  gboolean walkin = g_strcmp0(a->kind, "walkin") == 0;
  json_object_set_new(o, "appointmentType",
                      json_pack("{s:[{s:s, s:s}]}", "coding", "system", V2_0276, "code",
                                walkin ? "WALKIN" : "ROUTINE"));
  if (a->cancel_reason && (strcmp(a->status, "cancelled") == 0 || strcmp(a->status, "noshow") == 0))
    json_object_set_new(o, "cancelationReason", text_concept(a->cancel_reason));
  if (service) {
    json_object_set_new(o, "serviceType", json_pack("[o]", text_concept(service->name)));
    if (service->specialty)
      json_object_set_new(o, "specialty", json_pack("[o]", text_concept(service->specialty)));
  }
  /* app-3: only proposed/cancelled may lack start and end; ours always have both. */
  set_instant(o, "start", a->starts_at);
  set_instant(o, "end", a->ends_at);
  if (a->ends_at > a->starts_at)
    json_object_set_new(o, "minutesDuration",
                        json_integer((json_int_t)((a->ends_at - a->starts_at + 59) / 60)));
  if (a->service_id && strcmp(a->kind ? a->kind : "booked", "booked") == 0) {
    /* the slot id format of scheduler.h (sched_slot_id), spelled here to keep this file pure */
    g_autofree char *ref =
        g_strdup_printf("Slot/%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
                        a->doctor_id, a->service_id, a->starts_at);
    json_object_set_new(o, "slot", json_pack("[{s:s}]", "reference", ref));
  }
  if (a->created_at > 0)
    set_instant(o, "created", a->created_at);
  const char *ps = sig_fhir_participant_status(a->status);
  json_t *parts = json_array();
  json_array_append_new(parts, json_pack("{s:o, s:s, s:s}", "actor",
                                         reference("Patient", a->patient_id, NULL), "required",
                                         "required", "status", ps));
  json_array_append_new(parts, json_pack("{s:o, s:s, s:s}", "actor",
                                         reference("Practitioner", a->doctor_id, a->doctor_name),
                                         "required", "required", "status", "accepted"));
  if (a->facility_id)
    json_array_append_new(parts, json_pack("{s:o, s:s, s:s}", "actor",
                                           reference("Location", a->facility_id, NULL), "required",
                                           "information-only", "status", "accepted"));
  json_object_set_new(o, "participant", parts);
  return o;
}

json_t *sig_fhir_slot(const SchedSlot *slot, const SchedService *service)
{
  g_return_val_if_fail(slot && slot->id, NULL);
  json_t *o = json_pack("{s:s, s:s, s:o, s:s}", "resourceType", "Slot", "id", slot->id, "schedule",
                        reference("Schedule", slot->doctor_id, NULL), "status", "free");
  if (service) {
    json_object_set_new(o, "serviceType", json_pack("[o]", text_concept(service->name)));
    if (service->specialty)
      json_object_set_new(o, "specialty", json_pack("[o]", text_concept(service->specialty)));
  }
  set_instant(o, "start", slot->starts_at);
  set_instant(o, "end", slot->ends_at);
  return o;
}

json_t *sig_fhir_schedule(const SchedDoctor *d)
{
  g_return_val_if_fail(d, NULL);
  json_t *actors = json_pack("[o]", reference("Practitioner", d->id, d->display_name));
  if (d->facility_id)
    json_array_append_new(actors, reference("Location", d->facility_id, NULL));
  json_t *o = json_pack("{s:s, s:o, s:b, s:o}", "resourceType", "Schedule", "id", id_string(d->id),
                        "active", 1, "actor", actors);
  if (d->specialty)
    json_object_set_new(o, "specialty", json_pack("[o]", text_concept(d->specialty)));
  return o;
}

json_t *sig_fhir_practitioner(const SchedDoctor *d)
{
  g_return_val_if_fail(d, NULL);
  json_t *o = json_pack("{s:s, s:o, s:b}", "resourceType", "Practitioner", "id", id_string(d->id),
                        "active", 1);
  if (d->display_name)
    json_object_set_new(o, "name", json_pack("[{s:s}]", "text", d->display_name));
  if (d->gender) /* female, male, other: all in administrative-gender */
    json_object_set_new(o, "gender", json_string(d->gender));
  if (d->languages && d->languages[0]) {
    json_t *comm = json_array();
    for (char **l = d->languages; *l; l++)
      json_array_append_new(comm,
                            json_pack("{s:[{s:s, s:s}]}", "coding", "system", BCP47, "code", *l));
    json_object_set_new(o, "communication", comm);
  }
  return o;
}

json_t *sig_fhir_location(const SchedFacility *f)
{
  g_return_val_if_fail(f, NULL);
  json_t *o =
      json_pack("{s:s, s:o, s:s, s:s, s:s}", "resourceType", "Location", "id", id_string(f->id),
                "status", "active", "name", f->name ? f->name : "", "mode", "instance");
  if (f->timezone)
    json_object_set_new(o, "extension",
                        json_pack("[{s:s, s:s}]", "url", TIMEZONE_EXT, "valueCode", f->timezone));
  if (f->sector)
    json_object_set_new(o, "type", json_pack("[o]", text_concept(f->sector)));
  if (f->district)
    json_object_set_new(o, "address",
                        json_pack("{s:s, s:s}", "district", f->district, "country", "PK"));
  return o;
}
