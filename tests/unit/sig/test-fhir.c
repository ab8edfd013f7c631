/* test-fhir.c — unit tests of sig-fhir.c: R4 shapes of Appointment, Slot, Schedule,
 * Practitioner, Location, Bundle and OperationOutcome (required elements and value-set codes),
 * and the date / reference search parameters. */
#include <string.h>

#include "sig-fhir.h"

static const char *str(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static gboolean in_set(const char *v, const char *const *set)
{
  return v && g_strv_contains(set, v);
}

static const char *const appointment_statuses[] = {
    "proposed", "pending",          "booked",     "arrived",  "fulfilled", "cancelled",
    "noshow",   "entered-in-error", "checked-in", "waitlist", NULL};
static const char *const participation_statuses[] = {"accepted", "declined", "tentative",
                                                     "needs-action", NULL};

static SchedAppointment *sample_appointment(const char *status, const char *kind)
{
  SchedAppointment *a = g_new0(SchedAppointment, 1);
  a->id = 7;
  a->doctor_id = 3;
  a->patient_id = 11;
  a->starts_at = 1767261600; /* 2026-01-01T10:00:00Z */
  a->ends_at = 1767261600 + 20 * 60;
  a->status = g_strdup(status);
  a->patient_name = g_strdup("Patient Name");
  a->doctor_name = g_strdup("Dr. A");
  a->service_id = 5;
  a->facility_id = 2;
  a->kind = g_strdup(kind);
  a->created_at = 1767000000;
  return a;
}

/* Frees what sample_appointment made (not sched_appointment_free: this test links no
 * scheduler code). */
static void free_appointment(SchedAppointment *a)
{
  g_free(a->status);
  g_free(a->patient_name);
  g_free(a->doctor_name);
  g_free(a->kind);
  g_free(a->cancel_reason);
  g_free(a);
}

static void test_appointment(void)
{
  for (const char *const *st = appointment_statuses; *st; st++) {
    SchedAppointment *a = sample_appointment(*st, "booked");
    if (strcmp(*st, "cancelled") == 0)
      a->cancel_reason = g_strdup("patient");
    json_t *r = sig_fhir_appointment(a, NULL);
    g_assert_cmpstr(str(r, "resourceType"), ==, "Appointment");
    g_assert_cmpstr(str(r, "id"), ==, "7");
    g_assert_cmpstr(str(r, "status"), ==, *st);
    g_assert_true(in_set(str(r, "status"), appointment_statuses));
    g_assert_cmpstr(str(r, "start"), ==, "2026-01-01T10:00:00Z");
    g_assert_cmpstr(str(r, "end"), ==, "2026-01-01T10:20:00Z");
    g_assert_cmpint(json_integer_value(json_object_get(r, "minutesDuration")), ==, 20);
    json_t *parts = json_object_get(r, "participant");
    g_assert_cmpuint(json_array_size(parts), ==, 3);
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
      g_assert_true(in_set(str(p, "status"), participation_statuses));
      g_assert_nonnull(str(json_object_get(p, "actor"), "reference"));
    }
    /* the patient by reference only: no name anywhere */
    json_t *pat = json_array_get(parts, 0);
    g_assert_cmpstr(str(json_object_get(pat, "actor"), "reference"), ==, "Patient/11");
    g_assert_null(json_object_get(json_object_get(pat, "actor"), "display"));
    g_autofree char *text = json_dumps(r, 0);
    g_assert_null(strstr(text, "Patient Name"));
    g_assert_cmpstr(str(json_object_get(json_array_get(parts, 1), "actor"), "reference"), ==,
                    "Practitioner/3");
    g_assert_cmpstr(str(json_object_get(json_array_get(parts, 2), "actor"), "reference"), ==,
                    "Location/2");
    /* app-4: cancelationReason only for cancelled/noshow */
    g_assert_true((json_object_get(r, "cancelationReason") != NULL) ==
                  (strcmp(*st, "cancelled") == 0));
    g_assert_cmpstr(str(json_array_get(json_object_get(r, "slot"), 0), "reference"), ==,
                    "Slot/3-5-1767261600");
    json_decref(r);
    free_appointment(a);
  }
  g_assert_cmpstr(sig_fhir_participant_status("cancelled"), ==, "declined");
  g_assert_cmpstr(sig_fhir_participant_status("pending"), ==, "tentative");
  g_assert_cmpstr(sig_fhir_participant_status("booked"), ==, "accepted");
  g_assert_cmpstr(sig_fhir_participant_status("waitlist"), ==, "needs-action");
}

static void test_appointment_walkin_and_service(void)
{
  g_autoptr(SchedAppointment) a = sample_appointment("arrived", "walkin");
  a->facility_id = 0;
  SchedService sv = {.id = 5, .name = "General OPD", .specialty = "general"};
  json_t *r = sig_fhir_appointment(a, &sv);
  json_t *coding =
      json_array_get(json_object_get(json_object_get(r, "appointmentType"), "coding"), 0);
  g_assert_cmpstr(str(coding, "system"), ==, "http://terminology.hl7.org/CodeSystem/v2-0276");
  g_assert_cmpstr(str(coding, "code"), ==, "WALKIN");
  g_assert_cmpuint(json_array_size(json_object_get(r, "participant")), ==, 2);
  g_assert_null(json_object_get(r, "slot")); /* walk-ins take no slot */
  g_assert_cmpstr(str(json_array_get(json_object_get(r, "serviceType"), 0), "text"), ==,
                  "General OPD");
  g_assert_cmpstr(str(json_array_get(json_object_get(r, "specialty"), 0), "text"), ==, "general");
  json_decref(r);
}

static void test_slot_schedule(void)
{
  SchedSlot sl = {.id = "3-5-1767261600",
                  .doctor_id = 3,
                  .service_id = 5,
                  .facility_id = 2,
                  .starts_at = 1767261600,
                  .ends_at = 1767262800};
  json_t *r = sig_fhir_slot(&sl, NULL);
  g_assert_cmpstr(str(r, "resourceType"), ==, "Slot");
  g_assert_cmpstr(str(r, "id"), ==, "3-5-1767261600");
  g_assert_cmpstr(str(json_object_get(r, "schedule"), "reference"), ==, "Schedule/3");
  g_assert_cmpstr(str(r, "status"), ==, "free");
  g_assert_cmpstr(str(r, "start"), ==, "2026-01-01T10:00:00Z");
  g_assert_cmpstr(str(r, "end"), ==, "2026-01-01T10:20:00Z");
  json_decref(r);

  char *langs[] = {"ur", "en", NULL};
  SchedDoctor d = {.id = 3,
                   .username = "dr",
                   .display_name = "Dr. A",
                   .facility_id = 2,
                   .specialty = "pediatrics",
                   .languages = langs,
                   .gender = "female"};
  json_t *s = sig_fhir_schedule(&d);
  g_assert_cmpstr(str(s, "resourceType"), ==, "Schedule");
  g_assert_cmpstr(str(s, "id"), ==, "3");
  json_t *actors = json_object_get(s, "actor");
  g_assert_cmpuint(json_array_size(actors), ==, 2);
  g_assert_cmpstr(str(json_array_get(actors, 0), "reference"), ==, "Practitioner/3");
  g_assert_cmpstr(str(json_array_get(actors, 1), "reference"), ==, "Location/2");
  g_assert_true(json_is_true(json_object_get(s, "active")));
  json_decref(s);

  json_t *p = sig_fhir_practitioner(&d);
  g_assert_cmpstr(str(p, "resourceType"), ==, "Practitioner");
  g_assert_cmpstr(str(p, "gender"), ==, "female");
  g_assert_cmpstr(str(json_array_get(json_object_get(p, "name"), 0), "text"), ==, "Dr. A");
  json_t *comm = json_object_get(p, "communication");
  g_assert_cmpuint(json_array_size(comm), ==, 2);
  json_t *c0 = json_array_get(json_object_get(json_array_get(comm, 0), "coding"), 0);
  g_assert_cmpstr(str(c0, "system"), ==, "urn:ietf:bcp:47");
  g_assert_cmpstr(str(c0, "code"), ==, "ur");
  json_decref(p);

  /* a doctor without a profile: one actor, no gender, no communication */
  char *none[] = {NULL};
  SchedDoctor bare = {.id = 4, .username = "x", .display_name = "X", .languages = none};
  json_t *s2 = sig_fhir_schedule(&bare);
  g_assert_cmpuint(json_array_size(json_object_get(s2, "actor")), ==, 1);
  json_decref(s2);
  json_t *p2 = sig_fhir_practitioner(&bare);
  g_assert_null(json_object_get(p2, "gender"));
  g_assert_null(json_object_get(p2, "communication"));
  json_decref(p2);
}

static void test_location(void)
{
  SchedFacility f = {.id = 2,
                     .name = "BHU Chak 12",
                     .district = "Faisalabad",
                     .sector = "public",
                     .timezone = "Asia/Karachi"};
  json_t *r = sig_fhir_location(&f);
  g_assert_cmpstr(str(r, "resourceType"), ==, "Location");
  g_assert_cmpstr(str(r, "id"), ==, "2");
  g_assert_cmpstr(str(r, "status"), ==, "active");
  g_assert_cmpstr(str(r, "mode"), ==, "instance");
  g_assert_cmpstr(str(r, "name"), ==, "BHU Chak 12");
  g_assert_cmpstr(str(json_object_get(r, "address"), "district"), ==, "Faisalabad");
  json_t *ext = json_array_get(json_object_get(r, "extension"), 0);
  g_assert_cmpstr(str(ext, "url"), ==, "http://hl7.org/fhir/StructureDefinition/timezone");
  g_assert_cmpstr(str(ext, "valueCode"), ==, "Asia/Karachi");
  json_decref(r);
}

static void test_bundle_and_outcome(void)
{
  SchedFacility f = {.id = 2, .name = "A", .district = "D", .sector = "ngo", .timezone = "UTC"};
  json_t *entries = json_pack("[o, o]", sig_fhir_location(&f), sig_fhir_location(&f));
  json_t *b = sig_fhir_searchset("https://h/fhir", "https://h/fhir/Location?name=A", entries);
  g_assert_cmpstr(str(b, "resourceType"), ==, "Bundle");
  g_assert_cmpstr(str(b, "type"), ==, "searchset");
  g_assert_cmpint(json_integer_value(json_object_get(b, "total")), ==, 2);
  json_t *e0 = json_array_get(json_object_get(b, "entry"), 0);
  g_assert_cmpstr(str(e0, "fullUrl"), ==, "https://h/fhir/Location/2");
  g_assert_cmpstr(str(json_object_get(e0, "resource"), "resourceType"), ==, "Location");
  g_assert_cmpstr(str(json_object_get(e0, "search"), "mode"), ==, "match");
  json_t *l0 = json_array_get(json_object_get(b, "link"), 0);
  g_assert_cmpstr(str(l0, "relation"), ==, "self");
  json_decref(b);

  json_t *empty = sig_fhir_searchset("https://h/fhir", "https://h/fhir/Slot", json_array());
  g_assert_cmpint(json_integer_value(json_object_get(empty, "total")), ==, 0);
  g_assert_cmpuint(json_array_size(json_object_get(empty, "entry")), ==, 0);
  json_decref(empty);

  json_t *oo = sig_fhir_operation_outcome("invalid", "bad date", "date");
  g_assert_cmpstr(str(oo, "resourceType"), ==, "OperationOutcome");
  json_t *issue = json_array_get(json_object_get(oo, "issue"), 0);
  g_assert_cmpstr(str(issue, "severity"), ==, "error");
  g_assert_cmpstr(str(issue, "code"), ==, "invalid");
  g_assert_cmpstr(json_string_value(json_array_get(json_object_get(issue, "expression"), 0)), ==,
                  "date");
  json_decref(oo);
}

static void test_date_params(void)
{
  const gint64 day = 1767225600; /* 2026-01-01T00:00:00Z */
  gint64 from = 0, to = G_MAXINT64;
  g_assert_true(sig_fhir_narrow_date("2026-01-01", &from, &to));
  g_assert_cmpint(from, ==, day);
  g_assert_cmpint(to, ==, day + 86400);

  from = 0, to = G_MAXINT64;
  g_assert_true(sig_fhir_narrow_date("ge2026-01-01", &from, &to));
  g_assert_true(sig_fhir_narrow_date("lt2026-01-03", &from, &to));
  g_assert_cmpint(from, ==, day);
  g_assert_cmpint(to, ==, day + 2 * 86400);

  from = 0, to = G_MAXINT64;
  g_assert_true(sig_fhir_narrow_date("gt2026-01-01", &from, &to)); /* after the whole day */
  g_assert_cmpint(from, ==, day + 86400);
  g_assert_true(sig_fhir_narrow_date("le2026-01", &from, &to)); /* through January */
  g_assert_cmpint(to, ==, 1769904000);

  from = 0, to = G_MAXINT64;
  g_assert_true(sig_fhir_narrow_date("ge2026-01-01T10:00:00+05:00", &from, &to));
  g_assert_cmpint(from, ==, day + 5 * 3600);
  g_assert_true(sig_fhir_narrow_date("lt2026-01-01T10:00:00Z", &from, &to));
  g_assert_cmpint(to, ==, day + 10 * 3600);
  g_assert_true(sig_fhir_narrow_date("2026", &from, &to));
  from = 0, to = G_MAXINT64; /* an unescaped '+' decoded to a space */
  g_assert_true(sig_fhir_narrow_date("ge2026-01-01T10:00:00 05:00", &from, &to));
  g_assert_cmpint(from, ==, day + 5 * 3600);

  const char *bad[] = {"",
                       "ne2026-01-01",
                       "2026-13-01",
                       "2026-01-32",
                       "x",
                       "ge",
                       "2026-1-1",
                       "20260101",
                       "2026-01-01T10:00",
                       "2026-01-01T10:00:00",
                       "sa2026-01-01",
                       "gex2026",
                       NULL};
  for (const char **b = bad; *b; b++) {
    from = 0, to = G_MAXINT64;
    g_assert_false(sig_fhir_narrow_date(*b, &from, &to));
  }
}

static void test_reference_params(void)
{
  g_assert_cmpint(sig_fhir_reference_id("Practitioner/12", "Practitioner"), ==, 12);
  g_assert_cmpint(sig_fhir_reference_id("12", "Practitioner"), ==, 12);
  g_assert_cmpint(sig_fhir_reference_id("Location/12", "Practitioner"), ==, 0);
  g_assert_cmpint(sig_fhir_reference_id("Practitioner/", "Practitioner"), ==, 0);
  g_assert_cmpint(sig_fhir_reference_id("Practitioner/1x", "Practitioner"), ==, 0);
  g_assert_cmpint(sig_fhir_reference_id("-3", "Practitioner"), ==, 0);
  g_assert_cmpint(sig_fhir_reference_id("99999999999999999999", "Practitioner"), ==, 0);
  g_assert_cmpint(sig_fhir_reference_id(NULL, "Practitioner"), ==, 0);
}

static void test_instant(void)
{
  g_autofree char *a = sig_fhir_instant(1767261600);
  g_assert_cmpstr(a, ==, "2026-01-01T10:00:00Z");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sig/fhir/appointment", test_appointment);
  g_test_add_func("/sig/fhir/appointment-walkin-service", test_appointment_walkin_and_service);
  g_test_add_func("/sig/fhir/slot-schedule-practitioner", test_slot_schedule);
  g_test_add_func("/sig/fhir/location", test_location);
  g_test_add_func("/sig/fhir/bundle-outcome", test_bundle_and_outcome);
  g_test_add_func("/sig/fhir/date-params", test_date_params);
  g_test_add_func("/sig/fhir/reference-params", test_reference_params);
  g_test_add_func("/sig/fhir/instant", test_instant);
  return g_test_run();
}
