/* test-engine.c — unit tests of the booking engine (scheduler.h "since schema 2") against a
 * real SQLite file in a temporary directory: every operation, every refusal (with the field it
 * names and a before/after dump proving nothing was written), double booking across two
 * connections, holds, the waitlist, reschedules, walk-ins, jobs and the outbox. */
#include "scheduler.h"
#include "sched-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

/* 2026-01-05 00:00:00 UTC, a Monday: 05:00 in Karachi. Slots start at 09:00 PKT = 04:00Z. */
#define DAY0 G_GINT64_CONSTANT(1767571200)
#define NOW DAY0
#define AT(h, m) (DAY0 + ((h)-5) * 3600 + (m)*60) /* local Karachi time on DAY0 */
#define PASSWORD TEST_PASSWORD
#define PHONE TEST_PHONE

typedef struct {
  char *dir;
  char *path;
  SchedStore *store;
  gint64 facility_id;
  gint64 doctor_id;
  gint64 service_id;
  gint64 patient_id;
  gint64 patient2_id;
} Fixture;

/* --- Helpers --------------------------------------------------------------------------------- */

/* Asserts `error` is `code` naming `field`, then clears it. */
static void assert_field_error(GError **error, SchedError code, const char *field)
{
  g_autofree char *got = NULL;

  g_assert_nonnull(*error);
  g_test_message("error: %s", (*error)->message);
  g_assert_error(*error, SCHED_ERROR, (gint)code);
  got = sched_error_field(*error);
  g_assert_cmpstr(got, ==, field);
  g_clear_error(error);
}

static SchedAppointment *get(Fixture *f, gint64 id)
{
  g_autoptr(GError) error = NULL;
  SchedAppointment *a = sched_appointment_get(f->store, id, &error);

  g_assert_no_error(error);
  return a;
}

static void assert_status(Fixture *f, gint64 id, const char *status)
{
  g_autoptr(SchedAppointment) a = get(f, id);
  g_assert_cmpstr(a->status, ==, status);
}

static gint64 hold(Fixture *f, gint64 patient_id, gint64 starts_at, gint64 now)
{
  g_autoptr(GError) error = NULL;
  SchedBookingRequest r = {f->doctor_id, f->service_id, patient_id, starts_at};
  gint64 id = sched_appointment_hold(f->store, &r, now, &error);

  g_assert_no_error(error);
  g_assert_cmpint(id, >, 0);
  return id;
}

static gint64 book(Fixture *f, gint64 patient_id, gint64 starts_at, gint64 now, char **token)
{
  g_autoptr(GError) error = NULL;
  SchedBookingRequest r = {f->doctor_id, f->service_id, patient_id, starts_at};
  gint64 id = sched_appointment_book_slot(f->store, &r, now, token, &error);

  g_assert_no_error(error);
  g_assert_cmpint(id, >, 0);
  return id;
}

static guint count_slots(Fixture *f, gint64 from, gint64 to, gint64 now)
{
  g_autoptr(GError) error = NULL;
  SchedSlotQuery q = {.from = from, .to = to, .now = now, .limit = 1000};
  g_autoptr(GPtrArray) slots = sched_slots_search(f->store, &q, &error);

  g_assert_no_error(error);
  return slots->len;
}

static gint64 count(Fixture *f, const char *sql)
{
  return raw_int(f->path, sql);
}

/* --- Fixtures -------------------------------------------------------------------------------- */

static void fixture_empty(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp("mw-engine-XXXXXX", &error);
  g_assert_no_error(error);
  f->path = g_build_filename(f->dir, "mashwara.db", NULL);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
}

/* A Karachi facility, one doctor (general, speaks ur and en, female) offering a 20-minute
 * service every day 09:00-13:00 local, and two patients (Urdu and English). */
static void fixture_clinic(Fixture *f, gconstpointer data)
{
  TestClinic c;

  fixture_empty(f, data);
  make_test_clinic(f->store, &c);
  f->facility_id = c.facility_id;
  f->doctor_id = c.doctor_id;
  f->service_id = c.service_id;
  f->patient_id = c.patient_id;
  f->patient2_id = c.patient2_id;
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
  g_clear_pointer(&f->store, sched_store_free);
  remove_temp_dir(f->dir);
  g_free(f->path);
  g_free(f->dir);
}

/* --- Errors and the store ----------------------------------------------------------------------
 */

static void test_error_field(void)
{
  g_autoptr(GError) e = g_error_new(SCHED_ERROR, SCHED_ERROR_CONFLICT, "starts_at: slot taken");
  g_autoptr(GError) db = g_error_new(SCHED_ERROR, SCHED_ERROR_DB, "starts_at: disk");
  g_autoptr(GError) backend = g_error_new(SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "get staff: x");
  g_autofree char *field = sched_error_field(e);

  g_assert_cmpstr(field, ==, "starts_at");
  g_assert_cmpstr(sched_error_reason(e), ==, "slot taken");
  g_assert_true(sched_error_is_slot_taken(e));
  g_assert_null(sched_error_field(db));
  g_assert_false(sched_error_is_slot_taken(db));
  g_assert_null(sched_error_field(backend));
  g_assert_cmpstr(sched_error_reason(backend), ==, "get staff: x");
}

static void test_integrity_and_schema(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint(sched_store_schema_version(f->store), ==, 10);
  g_assert_true(sched_store_integrity_check(f->store, &error));
  g_assert_no_error(error);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM sqlite_schema WHERE name ="
                           " 'appointments_one_per_slot'"),
                  ==, 1);
}

/* --- Facilities, staff, doctors, services, availability -------------------------------------- */

static void test_facilities(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedFacility) fac = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gint64 id;

  id = sched_facility_add(f->store, "Civil Hospital", "Karachi South", "public", NULL, &error);
  g_assert_no_error(error);
  fac = sched_facility_get(f->store, id, &error);
  g_assert_cmpstr(fac->timezone, ==, "Asia/Karachi");
  g_assert_cmpstr(fac->sector, ==, "public");
  g_assert_cmpint(
      sched_facility_add(f->store, "Aga Khan", "Karachi", "private", "Europe/London", &error), >,
      0);
  list = sched_facilities_list(f->store, "civil", &error);
  g_assert_cmpuint(list->len, ==, 1);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = sched_facilities_list(f->store, NULL, &error);
  g_assert_cmpuint(list->len, ==, 3);

  before = raw_dump(f->path);
  g_assert_cmpint(sched_facility_add(f->store, "X", "Y", "public", "Mars/Olympus", &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "timezone");
  g_assert_cmpint(sched_facility_add(f->store, "X", "Y", "charity", NULL, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "sector");
  g_assert_cmpint(sched_facility_add(f->store, "", "Y", "ngo", NULL, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "name");
  g_assert_cmpint(sched_facility_add(f->store, "X", NULL, "ngo", NULL, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "district");
  g_assert_null(sched_facility_get(f->store, 999, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "facility_id");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

static void test_staff_roles(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gint64 admin;

  admin = sched_staff_add(f->store, "admin.zara", "Zara", PASSWORD, "admin", &error);
  g_assert_no_error(error);
  g_assert_cmpint(sched_staff_add(f->store, "ana", "Ana", PASSWORD, "analyst", &error), >, 0);
  list = sched_staff_list(f->store, "admin", &error);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpint(((SchedStaff *)g_ptr_array_index(list, 0))->id, ==, admin);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = sched_staff_list(f->store, NULL, &error);
  g_assert_cmpuint(list->len, ==, 3);

  before = raw_dump(f->path);
  g_assert_cmpint(sched_staff_add(f->store, "x", "X", PASSWORD, "nurse", &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "role");
  g_assert_cmpint(sched_staff_add(f->store, "ADMIN.ZARA", "X", PASSWORD, "admin", &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "username");
  g_assert_cmpint(sched_staff_add(f->store, "y", "Y", "short", "admin", &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "password");
  /* An admin is not a doctor. */
  {
    const char *const none[] = {NULL};
    g_assert_false(
        sched_doctor_set_profile(f->store, admin, f->facility_id, "general", none, NULL, &error));
    assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "doctor_id");
  }
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

static void test_doctor_profiles(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedDoctor) d = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  const char *const bad_langs[] = {"urdu", NULL};
  const char *const langs[] = {"ps", NULL};
  SchedDoctorFilter filter = {.language = "en"};
  gint64 omar;

  d = sched_doctor_get(f->store, f->doctor_id, &error);
  g_assert_no_error(error);
  g_assert_cmpint(d->facility_id, ==, f->facility_id);
  g_assert_cmpstr(d->specialty, ==, "general");
  g_assert_cmpstr(d->gender, ==, "female");
  g_assert_cmpuint(g_strv_length(d->languages), ==, 2);
  g_assert_cmpstr(d->languages[0], ==, "ur");

  omar = sched_doctor_add(f->store, "dr.omar", "Dr Omar", PASSWORD, &error);
  g_assert_true(sched_doctor_set_profile(f->store, omar, f->facility_id, "Paediatrics", langs,
                                         "male", &error));
  list = sched_doctors_list(f->store, &filter, &error);
  g_assert_cmpuint(list->len, ==, 1);
  g_clear_pointer(&list, g_ptr_array_unref);
  filter = (SchedDoctorFilter){.specialty = "paediatrics", .gender = "male"};
  list = sched_doctors_list(f->store, &filter, &error);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpint(((SchedDoctor *)g_ptr_array_index(list, 0))->id, ==, omar);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = sched_doctors_list(f->store, NULL, &error);
  g_assert_cmpuint(list->len, ==, 2);

  before = raw_dump(f->path);
  g_assert_false(
      sched_doctor_set_profile(f->store, omar, f->facility_id, "x", bad_langs, NULL, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "languages");
  g_assert_false(
      sched_doctor_set_profile(f->store, omar, f->facility_id, "x", langs, "unknown", &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "gender");
  g_assert_false(sched_doctor_set_profile(f->store, omar, 999, "x", langs, NULL, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "facility_id");
  g_assert_false(sched_doctor_set_profile(f->store, omar, f->facility_id, "", langs, NULL, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "specialty");
  g_assert_false(sched_doctor_set_profile(f->store, 999, f->facility_id, "x", langs, NULL, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "doctor_id");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

static void test_services(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedService) s = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  static const struct {
    SchedService spec;
    SchedError code;
    const char *field;
  } bad[] = {
      {{.name = "", .specialty = "g", .duration_min = 20}, SCHED_ERROR_INVALID, "name"},
      {{.name = "n", .specialty = NULL, .duration_min = 20}, SCHED_ERROR_INVALID, "specialty"},
      {{.name = "n", .specialty = "g", .duration_min = 0}, SCHED_ERROR_INVALID, "duration_min"},
      {{.name = "n", .specialty = "g", .duration_min = 481}, SCHED_ERROR_INVALID, "duration_min"},
      {{.name = "n", .specialty = "g", .duration_min = 5, .buffer_before_min = -1},
       SCHED_ERROR_INVALID,
       "buffer_before_min"},
      {{.name = "n", .specialty = "g", .duration_min = 5, .buffer_after_min = 241},
       SCHED_ERROR_INVALID,
       "buffer_after_min"},
      {{.name = "n", .specialty = "g", .duration_min = 5, .max_per_day = -1},
       SCHED_ERROR_INVALID,
       "max_per_day"},
      {{.facility_id = 999, .name = "n", .specialty = "g", .duration_min = 5},
       SCHED_ERROR_NOT_FOUND,
       "facility_id"},
  };

  s = sched_service_get(f->store, f->service_id, &error);
  g_assert_no_error(error);
  g_assert_cmpint(s->duration_min, ==, 20);
  g_assert_cmpint(s->facility_id, ==, f->facility_id);
  list = sched_services_list(f->store, f->facility_id, &error);
  g_assert_cmpuint(list->len, ==, 1);

  before = raw_dump(f->path);
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    SchedService spec = bad[i].spec;
    if (spec.facility_id == 0)
      spec.facility_id = f->facility_id;
    g_assert_cmpint(sched_service_add(f->store, &spec, &error), ==, 0);
    assert_field_error(&error, bad[i].code, bad[i].field);
  }
  g_assert_null(sched_service_get(f->store, 999, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "service_id");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

static void test_availability(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  SchedAvailability a = {.doctor_id = f->doctor_id, .service_id = f->service_id, .weekday = 1};
  gint64 id;

  list = sched_availability_list(f->store, f->doctor_id, &error);
  g_assert_cmpuint(list->len, ==, 7);

  /* An evening window that does not overlap, valid for January only. */
  a.start_min = 17 * 60;
  a.end_min = 19 * 60;
  a.valid_from = "2026-01-01";
  a.valid_until = "2026-01-31";
  id = sched_availability_add(f->store, &a, &error);
  g_assert_no_error(error);
  /* Overlapping it in February is fine; in January it is not. */
  a.start_min = 18 * 60;
  a.end_min = 20 * 60;
  a.valid_from = "2026-02-01";
  a.valid_until = NULL;
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), >, 0);
  g_assert_no_error(error);

  before = raw_dump(f->path);
  a.valid_from = "2026-01-15";
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "start_min");
  a.valid_from = NULL;
  a.start_min = 12 * 60; /* overlaps the fixture's 09:00-13:00 */
  a.end_min = 14 * 60;
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "start_min");
  a.start_min = 1440;
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "start_min");
  a.start_min = 600;
  a.end_min = 600;
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "end_min");
  a.end_min = 700;
  a.weekday = 8;
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "weekday");
  a.weekday = 1;
  a.valid_from = "2026-13-01";
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "valid_from");
  a.valid_from = "2026-02-01";
  a.valid_until = "2026-01-01";
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "valid_until");
  a.valid_from = a.valid_until = NULL;
  a.service_id = 999;
  a.start_min = 20 * 60;
  a.end_min = 21 * 60;
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "service_id");
  a.service_id = f->service_id;
  a.doctor_id = 999;
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "doctor_id");
  g_assert_false(sched_availability_remove(f->store, 999, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "availability_id");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);

  g_assert_true(sched_availability_remove(f->store, id, &error));
  g_assert_no_error(error);
}

static void test_breaks_exceptions(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gint64 brk, leave, holiday;

  g_assert_cmpuint(count_slots(f, DAY0, DAY0 + 86400, NOW), ==, 12);
  /* Monday lunch 11:00-12:00 removes three slots. */
  brk = sched_break_add(f->store, f->doctor_id, 1, 11 * 60, 12 * 60, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(count_slots(f, DAY0, DAY0 + 86400, NOW), ==, 9);
  /* Leave 09:00-10:00 removes three more. */
  leave = sched_exception_add(f->store, f->doctor_id, 0, AT(9, 0), AT(10, 0), "leave", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(count_slots(f, DAY0, DAY0 + 86400, NOW), ==, 6);
  /* A facility holiday the next day closes it all. */
  holiday = sched_exception_add(f->store, 0, f->facility_id, DAY0 + 86400, DAY0 + 2 * 86400,
                                "Kashmir Day", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(count_slots(f, DAY0 + 86400, DAY0 + 2 * 86400, NOW), ==, 0);
  list = sched_exceptions_list(f->store, f->doctor_id, 0, DAY0, DAY0 + 3 * 86400, &error);
  g_assert_cmpuint(list->len, ==, 1);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = sched_exceptions_list(f->store, 0, 0, DAY0, DAY0 + 3 * 86400, &error);
  g_assert_cmpuint(list->len, ==, 2);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = sched_breaks_list(f->store, f->doctor_id, &error);
  g_assert_cmpuint(list->len, ==, 1);

  before = raw_dump(f->path);
  g_assert_cmpint(sched_break_add(f->store, f->doctor_id, 0, 60, 120, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "weekday");
  g_assert_cmpint(sched_break_add(f->store, 999, 1, 60, 120, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "doctor_id");
  g_assert_cmpint(sched_exception_add(f->store, f->doctor_id, f->facility_id, AT(9, 0), AT(10, 0),
                                      NULL, &error),
                  ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "doctor_id");
  g_assert_cmpint(sched_exception_add(f->store, f->doctor_id, 0, AT(10, 0), AT(9, 0), NULL, &error),
                  ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "ends_at");
  g_assert_cmpint(sched_exception_add(f->store, 0, 999, AT(9, 0), AT(10, 0), NULL, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "facility_id");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);

  g_assert_true(sched_break_remove(f->store, brk, &error));
  g_assert_true(sched_exception_remove(f->store, leave, &error));
  g_assert_true(sched_exception_remove(f->store, holiday, &error));
  g_assert_cmpuint(count_slots(f, DAY0, DAY0 + 86400, NOW), ==, 12);
}

static void test_patients(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedPatient) p = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  p = sched_patient_get(f->store, f->patient_id, &error);
  g_assert_cmpstr(p->preferred_language, ==, "ur");
  g_assert_cmpstr(p->phone, ==, PHONE);
  list = sched_patients_search(f->store, "sara", 0, &error);
  g_assert_cmpuint(list->len, ==, 1);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = sched_patients_search(f->store, "3001234", 0, &error);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpint(((SchedPatient *)g_ptr_array_index(list, 0))->id, ==, f->patient_id);
  g_assert_true(sched_patient_set_language(f->store, f->patient_id, "en", &error));

  before = raw_dump(f->path);
  g_assert_cmpint(sched_patient_add_full(f->store, "X", NULL, "URD", &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "preferred_language");
  g_assert_cmpint(sched_patient_add_full(f->store, "X", "call me", NULL, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "phone");
  g_assert_cmpint(sched_patient_add(f->store, "", NULL, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "display_name");
  g_assert_false(sched_patient_set_language(f->store, 999, "ur", &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "patient_id");
  g_assert_null(sched_patient_get(f->store, 999, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "patient_id");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

/* --- Slot search --------------------------------------------------------------------------------
 */

static void test_slot_search(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) slots = NULL;
  SchedSlotQuery q = {.from = DAY0, .to = DAY0 + 86400, .now = NOW};
  SchedSlot *s;
  gint64 d, sv, t;

  slots = sched_slots_search(f->store, &q, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(slots->len, ==, 12);
  s = g_ptr_array_index(slots, 0);
  g_assert_cmpint(s->starts_at, ==, AT(9, 0));
  g_assert_cmpint(s->ends_at, ==, AT(9, 20));
  g_assert_cmpint(s->doctor_id, ==, f->doctor_id);
  g_assert_cmpint(s->facility_id, ==, f->facility_id);
  g_assert_true(sched_slot_id_parse(s->id, &d, &sv, &t));
  g_assert_cmpint(d, ==, f->doctor_id);
  g_assert_cmpint(sv, ==, f->service_id);
  g_assert_cmpint(t, ==, AT(9, 0));
  g_assert_false(sched_slot_id_parse("1-2", NULL, NULL, NULL));
  g_assert_false(sched_slot_id_parse("1-2-x", NULL, NULL, NULL));
  g_assert_false(sched_slot_id_parse("1--2-3", NULL, NULL, NULL));
  g_clear_pointer(&slots, g_ptr_array_unref);

  /* Filters: language, gender, specialty, facility, doctor. */
  q.language = "ur";
  q.gender = "female";
  q.specialty = "GENERAL";
  q.facility_id = f->facility_id;
  q.doctor_id = f->doctor_id;
  q.service_id = f->service_id;
  g_assert_cmpuint((slots = sched_slots_search(f->store, &q, &error))->len, ==, 12);
  g_clear_pointer(&slots, g_ptr_array_unref);
  q.language = "ps";
  g_assert_cmpuint((slots = sched_slots_search(f->store, &q, &error))->len, ==, 0);
  g_clear_pointer(&slots, g_ptr_array_unref);
  q.language = NULL;
  q.gender = "male";
  g_assert_cmpuint((slots = sched_slots_search(f->store, &q, &error))->len, ==, 0);
  g_clear_pointer(&slots, g_ptr_array_unref);
  q.gender = NULL;
  q.specialty = "cardiology";
  g_assert_cmpuint((slots = sched_slots_search(f->store, &q, &error))->len, ==, 0);
  g_clear_pointer(&slots, g_ptr_array_unref);

  /* A week, the limit, and the past. */
  q = (SchedSlotQuery){.from = DAY0, .to = DAY0 + 7 * 86400, .now = NOW, .limit = 1000};
  g_assert_cmpuint((slots = sched_slots_search(f->store, &q, &error))->len, ==, 84);
  g_clear_pointer(&slots, g_ptr_array_unref);
  q.limit = 5;
  g_assert_cmpuint((slots = sched_slots_search(f->store, &q, &error))->len, ==, 5);
  g_clear_pointer(&slots, g_ptr_array_unref);
  g_assert_cmpuint(count_slots(f, DAY0, DAY0 + 86400, AT(12, 0)), ==, 3);

  /* Bad queries name their field. */
  q = (SchedSlotQuery){.from = DAY0, .to = DAY0};
  g_assert_null(sched_slots_search(f->store, &q, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "to");
  q = (SchedSlotQuery){.from = DAY0, .to = DAY0 + 400 * 86400};
  g_assert_null(sched_slots_search(f->store, &q, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "to");
  q = (SchedSlotQuery){.from = 0, .to = DAY0};
  g_assert_null(sched_slots_search(f->store, &q, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "from");
  q = (SchedSlotQuery){.from = DAY0, .to = DAY0 + 1, .gender = "x"};
  g_assert_null(sched_slots_search(f->store, &q, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "gender");
}

/* --- Holds and bookings --------------------------------------------------------------------- */

static void test_hold_confirm(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedAppointment) a = NULL;
  g_autoptr(GPtrArray) notices = NULL;
  g_autofree char *token = NULL;
  SchedOutboxItem *n;
  gint64 id;

  id = hold(f, f->patient_id, AT(9, 20), NOW);
  a = get(f, id);
  g_assert_cmpstr(a->status, ==, "pending");
  g_assert_cmpstr(a->kind, ==, "booked");
  g_assert_cmpint(a->hold_expires_at, ==, NOW + SCHED_HOLD_DEFAULT_S);
  g_assert_cmpint(a->service_id, ==, f->service_id);
  g_assert_cmpint(a->facility_id, ==, f->facility_id);
  g_assert_cmpint(a->ends_at, ==, AT(9, 40));
  g_assert_cmpint(a->sequence, ==, 0);
  /* The hold takes the slot out of the search. */
  g_assert_cmpuint(count_slots(f, DAY0, DAY0 + 86400, NOW), ==, 11);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM join_tokens"), ==, 0);

  g_assert_true(sched_appointment_confirm(f->store, id, NOW + 60, &token, &error));
  g_assert_no_error(error);
  g_assert_nonnull(token);
  assert_status(f, id, "booked");
  g_assert_cmpint(sched_token_check(f->store, token, AT(9, 20), NULL, &error), ==,
                  SCHED_TOKEN_VALID);
  /* A confirmation, in Urdu, with the join link. */
  notices = sched_outbox_list(f->store, id, 0, &error);
  g_assert_cmpuint(notices->len, ==, 1);
  n = g_ptr_array_index(notices, 0);
  g_assert_cmpstr(n->kind, ==, "confirmation");
  g_assert_cmpstr(n->language, ==, "ur");
  g_assert_cmpstr(n->recipient, ==, PHONE);
  g_assert_nonnull(strstr(n->body, token));
  g_assert_nonnull(strstr(n->body, "2026-01-05 09:20"));
  g_assert_nonnull(strstr(n->body, "مشورہ"));
  {
    g_autofree char *key = g_strdup_printf("confirmation:%" G_GINT64_FORMAT ":0", id);
    g_assert_cmpstr(n->dedupe_key, ==, key);
  }

  /* Confirming twice is a conflict on the status. */
  g_assert_false(sched_appointment_confirm(f->store, id, NOW + 60, NULL, &error));
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "status");
  g_assert_false(sched_appointment_confirm(f->store, 999, NOW + 60, NULL, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "appointment_id");
}

static void test_book_refusals(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *token = NULL;
  static const struct {
    int doctor, service, patient; /* 1: the fixture's, 0: unknown (999) */
    gint64 starts_at;
    SchedError code;
    const char *field;
  } bad[] = {
      {0, 1, 1, AT(10, 0), SCHED_ERROR_NOT_FOUND, "doctor_id"},
      {1, 0, 1, AT(10, 0), SCHED_ERROR_NOT_FOUND, "service_id"},
      {1, 1, 0, AT(10, 0), SCHED_ERROR_NOT_FOUND, "patient_id"},
      {1, 1, 1, AT(10, 10), SCHED_ERROR_INVALID, "starts_at"},       /* off the grid */
      {1, 1, 1, AT(14, 0), SCHED_ERROR_INVALID, "starts_at"},        /* outside availability */
      {1, 1, 1, AT(9, 0) - 86400, SCHED_ERROR_INVALID, "starts_at"}, /* in the past */
      {1, 1, 1, 0, SCHED_ERROR_INVALID, "starts_at"},
      {1, 1, 1, AT(9, 0), SCHED_ERROR_CONFLICT, "starts_at"}, /* taken */
  };

  book(f, f->patient2_id, AT(9, 0), NOW, NULL);
  before = raw_dump(f->path);
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    SchedBookingRequest r = {bad[i].doctor ? f->doctor_id : 999,
                             bad[i].service ? f->service_id : 999,
                             bad[i].patient ? f->patient_id : 999, bad[i].starts_at};
    g_test_message("bad booking %" G_GSIZE_FORMAT, i);
    g_assert_cmpint(sched_appointment_book_slot(f->store, &r, NOW, &token, &error), ==, 0);
    g_assert_null(token);
    if (bad[i].code == SCHED_ERROR_CONFLICT)
      g_assert_true(sched_error_is_slot_taken(error));
    assert_field_error(&error, bad[i].code, bad[i].field);
    g_assert_cmpint(sched_appointment_hold(f->store, &r, NOW, &error), ==, 0);
    assert_field_error(&error, bad[i].code, bad[i].field);
  }
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

static void test_buffers_and_max_per_day(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  SchedService svc = {.facility_id = f->facility_id,
                      .name = "Follow-up",
                      .specialty = "general",
                      .duration_min = 15,
                      .buffer_before_min = 5,
                      .buffer_after_min = 5,
                      .max_per_day = 2};
  SchedAvailability a = {.weekday = 1, .start_min = 14 * 60, .end_min = 16 * 60};
  SchedBookingRequest r;
  SchedSlotQuery q = {.from = AT(14, 0), .to = AT(16, 0), .now = NOW};
  g_autoptr(GPtrArray) slots = NULL;

  a.doctor_id = f->doctor_id;
  a.service_id = sched_service_add(f->store, &svc, &error);
  g_assert_no_error(error);
  g_assert_cmpint(sched_availability_add(f->store, &a, &error), >, 0);
  /* 14:05, 14:30, 14:55, 15:20: a 25-minute step; 15:45 would end its buffer at 16:05. */
  slots = sched_slots_search(f->store, &q, &error);
  g_assert_cmpuint(slots->len, ==, 4);
  g_assert_cmpint(((SchedSlot *)g_ptr_array_index(slots, 0))->starts_at, ==, AT(14, 5));
  g_clear_pointer(&slots, g_ptr_array_unref);
  r = (SchedBookingRequest){f->doctor_id, a.service_id, f->patient_id, AT(14, 5)};
  g_assert_cmpint(sched_appointment_book_slot(f->store, &r, NOW, NULL, &error), >, 0);
  r.starts_at = AT(14, 30);
  g_assert_cmpint(sched_appointment_book_slot(f->store, &r, NOW, NULL, &error), >, 0);
  g_assert_no_error(error);
  /* Two a day: the rest of Monday is gone, Tuesday is not touched (no window). */
  slots = sched_slots_search(f->store, &q, &error);
  g_assert_cmpuint(slots->len, ==, 0);
  r.starts_at = AT(14, 55);
  g_assert_cmpint(sched_appointment_book_slot(f->store, &r, NOW, NULL, &error), ==, 0);
  g_assert_cmpstr(sched_error_reason(error), ==, "max_per_day reached");
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "starts_at");
}

/* Two stores on one file, interleaved: each slot goes to exactly one of them. */
static void test_double_booking(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedStore) other = sched_store_open(f->path, &error);
  SchedBookingRequest r1 = {f->doctor_id, f->service_id, f->patient_id, AT(10, 0)};
  SchedBookingRequest r2 = {f->doctor_id, f->service_id, f->patient2_id, AT(10, 20)};
  SchedBookingRequest lose1 = r1, lose2 = r2;

  g_assert_no_error(error);
  g_assert_cmpint(sched_appointment_hold(f->store, &r1, NOW, &error), >, 0);
  g_assert_cmpint(sched_appointment_hold(other, &r2, NOW, &error), >, 0);
  lose1.patient_id = f->patient2_id;
  lose2.patient_id = f->patient_id;
  g_assert_cmpint(sched_appointment_hold(other, &lose1, NOW, &error), ==, 0);
  g_assert_true(sched_error_is_slot_taken(error));
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "starts_at");
  g_assert_cmpint(sched_appointment_book_slot(f->store, &lose2, NOW, NULL, &error), ==, 0);
  g_assert_true(sched_error_is_slot_taken(error));
  g_clear_error(&error);
  /* An overlapping off-grid operator booking is refused at the same start too. */
  g_assert_cmpint(sched_appointment_book(other, f->doctor_id, f->patient2_id, AT(10, 0), AT(10, 30),
                                         NULL, &error),
                  ==, 0);
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "starts_at");
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM appointments"), ==, 2);
  g_assert_cmpint(count(f, "SELECT COUNT(DISTINCT starts_at) FROM appointments"), ==, 2);
  /* The unique index is the second line of defence: a raw duplicate is refused. */
  {
    sqlite3 *db = raw_open(f->path);
    g_assert_cmpint(sqlite3_exec(db,
                                 "INSERT INTO appointments (doctor_id, patient_id, starts_at,"
                                 " ends_at, status, created_at, updated_at)"
                                 " SELECT doctor_id, patient_id, starts_at, ends_at, 'booked',"
                                 " 1, 1 FROM appointments LIMIT 1",
                                 NULL, NULL, NULL),
                    ==, SQLITE_CONSTRAINT);
    sqlite3_close(db);
  }
}

static void test_hold_expiry(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedAppointment) a = NULL;
  const gint64 lapse = NOW + SCHED_HOLD_DEFAULT_S;
  gint64 id, id2;
  guint n = 99;

  id = hold(f, f->patient_id, AT(9, 0), NOW);
  g_assert_cmpuint(count_slots(f, DAY0, DAY0 + 86400, lapse - 1), ==, 11);
  /* The search ignores a lapsed hold even before the job runs. */
  g_assert_cmpuint(count_slots(f, DAY0, DAY0 + 86400, lapse), ==, 12);
  g_assert_false(sched_appointment_confirm(f->store, id, lapse, NULL, &error));
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "hold_expires_at");
  assert_status(f, id, "pending");
  /* Another patient may take it at once: the lapsed hold is cancelled in the same step. */
  id2 = hold(f, f->patient2_id, AT(9, 0), lapse);
  a = get(f, id);
  g_assert_cmpstr(a->status, ==, "cancelled");
  g_assert_cmpstr(a->cancel_reason, ==, "hold expired");
  /* The job finds the second one later. */
  g_assert_true(sched_holds_expire(f->store, lapse + 1, &n, &error));
  g_assert_cmpuint(n, ==, 0);
  g_assert_true(sched_holds_expire(f->store, lapse + SCHED_HOLD_DEFAULT_S, &n, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(n, ==, 1);
  assert_status(f, id2, "cancelled");
  /* A policy with a shorter hold. */
  {
    SchedPolicy p = {.hold_s = 10, .offer_s = 20, .noshow_after_s = 60};
    g_autoptr(SchedAppointment) h = NULL;
    sched_store_set_policy(f->store, &p);
    h = get(f, hold(f, f->patient_id, AT(9, 40), NOW));
    g_assert_cmpint(h->hold_expires_at, ==, NOW + 10);
  }
}

static void test_cancel_and_waitlist(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) offers = NULL;
  g_autoptr(GPtrArray) notices = NULL;
  g_autofree char *token = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  SchedWaitlistEntry *e;
  SchedAppointmentFilter filter = {.patient_id = f->patient2_id, .status = "pending"};
  gint64 id, wl, offered;
  SchedAppointment *o;

  id = book(f, f->patient_id, AT(11, 0), NOW, &token);
  wl = sched_waitlist_add(f->store, f->patient2_id, f->service_id, 0, 0, 0, NOW, &error);
  g_assert_no_error(error);

  before = raw_dump(f->path);
  g_assert_cmpint(sched_waitlist_add(f->store, 999, f->service_id, 0, 0, 0, NOW, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "patient_id");
  g_assert_cmpint(sched_waitlist_add(f->store, f->patient2_id, 999, 0, 0, 0, NOW, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "service_id");
  g_assert_cmpint(
      sched_waitlist_add(f->store, f->patient2_id, f->service_id, 999, 0, 0, NOW, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "doctor_id");
  g_assert_cmpint(sched_waitlist_add(f->store, f->patient2_id, f->service_id, 0, AT(12, 0),
                                     AT(11, 0), NOW, &error),
                  ==, 0);
  assert_field_error(&error, SCHED_ERROR_INVALID, "not_after");
  g_assert_false(sched_appointment_cancel(f->store, 999, NULL, NOW, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "appointment_id");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);

  g_assert_true(sched_appointment_cancel(f->store, id, "patient", NOW + 60, &error));
  g_assert_no_error(error);
  assert_status(f, id, "cancelled");
  g_assert_cmpint(sched_token_check(f->store, token, AT(11, 0), NULL, &error), ==,
                  SCHED_TOKEN_REVOKED);
  notices = sched_outbox_list(f->store, id, 0, &error);
  g_assert_cmpuint(notices->len, ==, 2);
  g_assert_cmpstr(((SchedOutboxItem *)g_ptr_array_index(notices, 1))->kind, ==, "cancellation");
  /* The freed slot went to the waitlist: a hold for the offer time and an English notice. */
  entries = sched_waitlist_list(f->store, f->service_id, NULL, &error);
  g_assert_cmpuint(entries->len, ==, 1);
  e = g_ptr_array_index(entries, 0);
  g_assert_cmpint(e->id, ==, wl);
  g_assert_cmpstr(e->status, ==, "offered");
  offered = e->offered_appointment_id;
  offers = sched_appointments_search(f->store, &filter, &error);
  g_assert_cmpuint(offers->len, ==, 1);
  o = g_ptr_array_index(offers, 0);
  g_assert_cmpint(o->id, ==, offered);
  g_assert_cmpint(o->starts_at, ==, AT(11, 0));
  g_assert_cmpint(o->hold_expires_at, ==, NOW + 60 + SCHED_OFFER_DEFAULT_S);
  g_clear_pointer(&notices, g_ptr_array_unref);
  notices = sched_outbox_list(f->store, offered, 0, &error);
  g_assert_cmpuint(notices->len, ==, 1);
  g_assert_cmpstr(((SchedOutboxItem *)g_ptr_array_index(notices, 0))->kind, ==, "waitlist_offer");
  g_assert_cmpstr(((SchedOutboxItem *)g_ptr_array_index(notices, 0))->language, ==, "en");
  /* Cancelling again is a conflict. */
  g_assert_false(sched_appointment_cancel(f->store, id, NULL, NOW + 60, &error));
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "status");
  /* Accepting the offer books it and closes the entry. */
  g_assert_true(sched_appointment_confirm(f->store, offered, NOW + 120, NULL, &error));
  g_assert_no_error(error);
  g_clear_pointer(&entries, g_ptr_array_unref);
  entries = sched_waitlist_list(f->store, 0, "booked", &error);
  g_assert_cmpuint(entries->len, ==, 1);
}

static void test_offer_lapses(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  gint64 id, third;
  guint n = 0;

  third = sched_patient_add_full(f->store, "Third", "+923331112223", NULL, &error);
  id = book(f, f->patient_id, AT(12, 0), NOW, NULL);
  sched_waitlist_add(f->store, f->patient2_id, f->service_id, f->doctor_id, 0, 0, NOW, &error);
  sched_waitlist_add(f->store, third, f->service_id, 0, AT(11, 0), AT(13, 0), NOW, &error);
  g_assert_no_error(error);
  g_assert_true(sched_appointment_cancel(f->store, id, NULL, NOW, &error));
  /* The first entry's offer lapses: it waits again, and the slot goes to the next one. */
  g_assert_true(sched_holds_expire(f->store, NOW + SCHED_OFFER_DEFAULT_S, &n, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(n, ==, 1);
  entries = sched_waitlist_list(f->store, f->service_id, NULL, &error);
  g_assert_cmpuint(entries->len, ==, 2);
  g_assert_cmpstr(((SchedWaitlistEntry *)g_ptr_array_index(entries, 0))->status, ==, "waiting");
  g_assert_cmpstr(((SchedWaitlistEntry *)g_ptr_array_index(entries, 1))->status, ==, "offered");
  g_assert_true(sched_waitlist_remove(
      f->store, ((SchedWaitlistEntry *)g_ptr_array_index(entries, 0))->id, &error));
  g_assert_false(sched_waitlist_remove(f->store, 999, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "waitlist_id");
}

static void test_reschedule(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedAppointment) a = NULL;
  g_autoptr(GPtrArray) notices = NULL;
  g_autofree char *token = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gint64 id, other;

  id = book(f, f->patient_id, AT(9, 0), NOW, &token);
  other = book(f, f->patient2_id, AT(10, 0), NOW, NULL);
  g_assert_true(sched_appointment_reschedule(f->store, id, AT(12, 0), NOW, &error));
  g_assert_no_error(error);
  a = get(f, id);
  g_assert_cmpint(a->starts_at, ==, AT(12, 0));
  g_assert_cmpint(a->ends_at, ==, AT(12, 20));
  g_assert_cmpint(a->sequence, ==, 1);
  g_assert_cmpstr(a->status, ==, "booked");
  /* The token's window follows: valid at the new time, too early at the old one. */
  g_assert_cmpint(sched_token_check(f->store, token, AT(12, 0), NULL, &error), ==,
                  SCHED_TOKEN_VALID);
  g_assert_cmpint(sched_token_check(f->store, token, AT(9, 0), NULL, &error), ==,
                  SCHED_TOKEN_TOO_EARLY);
  notices = sched_outbox_list(f->store, id, 0, &error);
  g_assert_cmpuint(notices->len, ==, 2);
  g_assert_cmpstr(((SchedOutboxItem *)g_ptr_array_index(notices, 1))->kind, ==, "rescheduled");
  {
    g_autofree char *key = g_strdup_printf("rescheduled:%" G_GINT64_FORMAT ":1", id);
    g_assert_cmpstr(((SchedOutboxItem *)g_ptr_array_index(notices, 1))->dedupe_key, ==, key);
  }
  /* The old slot is free again. */
  g_assert_cmpuint(count_slots(f, AT(9, 0), AT(9, 20), NOW), ==, 1);

  before = raw_dump(f->path);
  g_assert_false(sched_appointment_reschedule(f->store, id, AT(10, 0), NOW, &error));
  g_assert_true(sched_error_is_slot_taken(error));
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "starts_at");
  g_assert_false(sched_appointment_reschedule(f->store, id, AT(10, 5), NOW, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "starts_at");
  g_assert_false(sched_appointment_reschedule(f->store, 999, AT(11, 0), NOW, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "appointment_id");
  g_assert_true(sched_appointment_cancel(f->store, other, NULL, NOW, &error));
  g_clear_pointer(&before, g_free);
  before = raw_dump(f->path);
  g_assert_false(sched_appointment_reschedule(f->store, other, AT(11, 0), NOW, &error));
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "status");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
  /* Moving within its own buffered interval is allowed (it does not collide with itself). */
  g_assert_true(sched_appointment_reschedule(f->store, id, AT(12, 20), NOW, &error));
  g_assert_no_error(error);
}

static void test_check_in(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 id = book(f, f->patient_id, AT(9, 0), NOW, NULL);
  gint64 cancelled = book(f, f->patient2_id, AT(9, 20), NOW, NULL);

  g_assert_true(sched_consultation_waiting(f->store, id, AT(8, 55), &error));
  assert_status(f, id, "arrived");
  g_assert_true(sched_appointment_check_in(f->store, id, AT(8, 56), &error));
  assert_status(f, id, "checked-in");
  g_assert_true(sched_appointment_check_in(f->store, id, AT(8, 57), &error));
  g_assert_true(sched_appointment_cancel(f->store, cancelled, NULL, NOW, &error));
  g_assert_false(sched_appointment_check_in(f->store, cancelled, AT(9, 0), &error));
  assert_field_error(&error, SCHED_ERROR_CONFLICT, "status");
}

static void test_walkin_queue(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) queue = NULL;
  g_autoptr(SchedAppointment) w1 = NULL;
  g_autofree char *token = NULL;
  gint64 b900, b940, walk1, walk2, walk_next_day;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  b900 = book(f, f->patient_id, AT(9, 0), NOW, NULL);
  b940 = book(f, f->patient2_id, AT(9, 40), NOW, NULL);
  walk1 = sched_walkin_add(f->store, f->doctor_id, f->patient2_id, 0, AT(9, 10), &token, &error);
  g_assert_no_error(error);
  g_assert_nonnull(token);
  walk2 = sched_walkin_add(f->store, f->doctor_id, f->patient_id, f->service_id, AT(9, 50), NULL,
                           &error);
  walk_next_day =
      sched_walkin_add(f->store, f->doctor_id, f->patient_id, 0, AT(9, 10) + 86400, NULL, &error);
  g_assert_no_error(error);
  w1 = get(f, walk1);
  g_assert_cmpstr(w1->kind, ==, "walkin");
  g_assert_cmpstr(w1->status, ==, "arrived");
  g_assert_cmpint(w1->queue_number, ==, 1);
  g_assert_cmpint(w1->starts_at, ==, AT(9, 10));
  g_assert_cmpint(w1->ends_at, ==, AT(9, 25));
  {
    g_autoptr(SchedAppointment) w2 = get(f, walk2);
    g_autoptr(SchedAppointment) wn = get(f, walk_next_day);
    g_assert_cmpint(w2->queue_number, ==, 2);
    g_assert_cmpint(wn->queue_number, ==, 1); /* a new local day */
  }
  g_assert_cmpint(sched_token_check(f->store, token, AT(9, 10), NULL, &error), ==,
                  SCHED_TOKEN_VALID);
  /* Walk-ins do not take slots. */
  g_assert_cmpuint(count_slots(f, DAY0, DAY0 + 86400, NOW), ==, 10);
  queue = sched_day_queue(f->store, f->doctor_id, AT(12, 0), &error);
  g_assert_no_error(error);
  g_assert_cmpuint(queue->len, ==, 4);
  g_assert_cmpint(((SchedAppointment *)g_ptr_array_index(queue, 0))->id, ==, b900);
  g_assert_cmpint(((SchedAppointment *)g_ptr_array_index(queue, 1))->id, ==, walk1);
  g_assert_cmpint(((SchedAppointment *)g_ptr_array_index(queue, 2))->id, ==, b940);
  g_assert_cmpint(((SchedAppointment *)g_ptr_array_index(queue, 3))->id, ==, walk2);

  /* "You are next": starting the 09:00 consultation tells the first walk-in. */
  g_assert_true(sched_consultation_started(f->store, b900, AT(9, 12), &error));
  g_assert_no_error(error);
  {
    g_autoptr(GPtrArray) n = sched_outbox_list(f->store, walk1, 0, &error);
    g_assert_cmpuint(n->len, ==, 1);
    g_assert_cmpstr(((SchedOutboxItem *)g_ptr_array_index(n, 0))->kind, ==, "you_are_next");
  }

  before = raw_dump(f->path);
  g_assert_cmpint(sched_walkin_add(f->store, 999, f->patient_id, 0, AT(10, 0), NULL, &error), ==,
                  0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "doctor_id");
  g_assert_cmpint(sched_walkin_add(f->store, f->doctor_id, 999, 0, AT(10, 0), NULL, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "patient_id");
  g_assert_cmpint(
      sched_walkin_add(f->store, f->doctor_id, f->patient_id, 999, AT(10, 0), NULL, &error), ==, 0);
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "service_id");
  g_assert_null(sched_day_queue(f->store, 999, AT(10, 0), &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "doctor_id");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

static void test_noshow(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 absent = book(f, f->patient_id, AT(9, 0), NOW, NULL);
  gint64 present = book(f, f->patient2_id, AT(9, 20), NOW, NULL);
  guint n = 99;

  g_assert_true(sched_consultation_waiting(f->store, present, AT(9, 18), &error));
  g_assert_true(sched_appointments_mark_noshow(f->store, AT(9, 15) - 1, &n, &error));
  g_assert_cmpuint(n, ==, 0);
  g_assert_true(sched_appointments_mark_noshow(f->store, AT(9, 15), &n, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(n, ==, 1);
  assert_status(f, absent, "noshow");
  g_assert_true(sched_appointments_mark_noshow(f->store, AT(11, 0), &n, &error));
  g_assert_cmpuint(n, ==, 0);
  assert_status(f, present, "arrived");
}

static void test_reminders(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) notices = NULL;
  gint64 tomorrow = book(f, f->patient_id, AT(9, 0) + 86400, NOW, NULL);
  gint64 today = book(f, f->patient2_id, AT(9, 0), NOW, NULL);
  guint n = 0;

  /* At 05:00 on Monday: tomorrow 09:00 is 28 h away (nothing), today's 09:00 is 4 h away. */
  g_assert_true(sched_reminders_queue(f->store, NOW, &n, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(n, ==, 1);
  g_assert_true(sched_reminders_queue(f->store, NOW + 60, &n, &error));
  g_assert_cmpuint(n, ==, 0); /* idempotent */
  g_assert_true(sched_reminders_queue(f->store, AT(8, 50), &n, &error));
  g_assert_cmpuint(n, ==, 1); /* today's 15-minute reminder; tomorrow is 24 h 10 min away */
  g_assert_true(sched_reminders_queue(f->store, AT(9, 0), &n, &error));
  g_assert_cmpuint(n, ==, 1); /* tomorrow's day reminder, exactly 24 h before */
  notices = sched_outbox_list(f->store, today, 0, &error);
  g_assert_cmpuint(notices->len, ==, 3);
  g_assert_cmpstr(((SchedOutboxItem *)g_ptr_array_index(notices, 1))->kind, ==, "reminder_day");
  g_assert_cmpstr(((SchedOutboxItem *)g_ptr_array_index(notices, 2))->kind, ==, "reminder_15min");
  g_clear_pointer(&notices, g_ptr_array_unref);
  notices = sched_outbox_list(f->store, tomorrow, 0, &error);
  g_assert_cmpuint(notices->len, ==, 2);
}

static void test_outbox(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) claimed = NULL;
  SchedOutboxItem *item;
  gint64 first, second;

  book(f, f->patient_id, AT(9, 0), NOW, NULL);
  book(f, f->patient2_id, AT(9, 20), NOW, NULL);
  claimed = sched_outbox_claim(f->store, NOW, 10, 60, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(claimed->len, ==, 2);
  item = g_ptr_array_index(claimed, 0);
  first = item->id;
  second = ((SchedOutboxItem *)g_ptr_array_index(claimed, 1))->id;
  g_assert_cmpint(item->attempts, ==, 1);
  g_assert_cmpint(item->leased_until, ==, NOW + 60);
  g_clear_pointer(&claimed, g_ptr_array_unref);
  /* Leased: nobody else gets them until the lease lapses (a crash before _done). */
  claimed = sched_outbox_claim(f->store, NOW + 59, 10, 60, &error);
  g_assert_cmpuint(claimed->len, ==, 0);
  g_clear_pointer(&claimed, g_ptr_array_unref);
  claimed = sched_outbox_claim(f->store, NOW + 60, 1, 60, &error);
  g_assert_cmpuint(claimed->len, ==, 1);
  g_assert_cmpint(((SchedOutboxItem *)g_ptr_array_index(claimed, 0))->attempts, ==, 2);
  g_clear_pointer(&claimed, g_ptr_array_unref);
  /* Sent: body blanked, never claimed again; done is idempotent. */
  g_assert_true(sched_outbox_done(f->store, first, NOW + 61, &error));
  g_assert_true(sched_outbox_done(f->store, first, NOW + 62, &error));
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE body = '' AND sent_at IS NOT NULL"),
                  ==, 1);
  /* Failed with a retry time: not before it. */
  g_assert_true(sched_outbox_failed(f->store, second, NOW + 61, "HTTP 500", NOW + 300, &error));
  g_assert_no_error(error);
  claimed = sched_outbox_claim(f->store, NOW + 299, 10, 60, &error);
  g_assert_cmpuint(claimed->len, ==, 0);
  g_clear_pointer(&claimed, g_ptr_array_unref);
  claimed = sched_outbox_claim(f->store, NOW + 300, 10, 60, &error);
  g_assert_cmpuint(claimed->len, ==, 1);
  g_assert_cmpstr(((SchedOutboxItem *)g_ptr_array_index(claimed, 0))->last_error, ==, "HTTP 500");
  g_clear_pointer(&claimed, g_ptr_array_unref);
  /* Given up: never again. */
  g_assert_true(sched_outbox_failed(f->store, second, NOW + 301, "HTTP 400", 0, &error));
  claimed = sched_outbox_claim(f->store, NOW + 10000, 10, 60, &error);
  g_assert_cmpuint(claimed->len, ==, 0);
  g_clear_pointer(&claimed, g_ptr_array_unref);
  g_assert_false(sched_outbox_failed(f->store, first, NOW, "x", 0, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "outbox_id");
  g_assert_false(sched_outbox_done(f->store, 999, NOW, &error));
  assert_field_error(&error, SCHED_ERROR_NOT_FOUND, "outbox_id");
  g_assert_null(sched_outbox_claim(f->store, NOW, 0, 60, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "max");
  g_assert_null(sched_outbox_claim(f->store, NOW, 1, 0, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "lease_s");
  /* A patient without a phone: the notice is recorded as failed, never claimed. */
  {
    gint64 nophone = sched_patient_add(f->store, "No Phone", NULL, &error);
    book(f, nophone, AT(10, 0), NOW, NULL);
    g_assert_cmpint(count(f, "SELECT COUNT(*) FROM outbox WHERE last_error = 'no phone' AND"
                             " failed_at IS NOT NULL AND recipient IS NULL"),
                    ==, 1);
    claimed = sched_outbox_claim(f->store, NOW + 20000, 10, 60, &error);
    g_assert_cmpuint(claimed->len, ==, 0);
  }
}

static void test_link_resend(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) notices = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  SchedOutboxItem *n;
  gint64 id = book(f, f->patient_id, AT(9, 0), NOW, NULL);
  gint64 tokens = count(f, "SELECT COUNT(*) FROM join_tokens");

  /* The same number in another spelling finds the patient. */
  g_assert_true(sched_link_resend(f->store, "+923001234567", NOW, &error));
  g_assert_no_error(error);
  g_assert_cmpint(count(f, "SELECT COUNT(*) FROM join_tokens"), ==, tokens + 1);
  notices = sched_outbox_list(f->store, id, 0, &error);
  g_assert_cmpuint(notices->len, ==, 2);
  n = g_ptr_array_index(notices, 1);
  g_assert_cmpstr(n->kind, ==, "link_resend");
  g_assert_nonnull(strstr(n->body, "https://localhost:8443/join/"));

  /* Again within the minute, and for an unknown number: TRUE, and nothing written. */
  before = raw_dump(f->path);
  g_assert_true(sched_link_resend(f->store, PHONE, NOW + 30, &error));
  g_assert_true(sched_link_resend(f->store, "+44 20 7946 0000", NOW, &error));
  g_assert_no_error(error);
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
  g_assert_false(sched_link_resend(f->store, "not a phone", NOW, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "phone");
  /* After the appointment ended there is nothing to resend. */
  g_assert_true(sched_link_resend(f->store, PHONE, AT(9, 20), &error));
  g_clear_pointer(&after, g_free);
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

static void test_search_appointments(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  SchedAppointmentFilter filter = {.doctor_id = f->doctor_id, .from = DAY0, .to = DAY0 + 86400};

  book(f, f->patient_id, AT(9, 0), NOW, NULL);
  book(f, f->patient2_id, AT(9, 20), NOW, NULL);
  book(f, f->patient_id, AT(9, 0) + 86400, NOW, NULL);
  list = sched_appointments_search(f->store, &filter, &error);
  g_assert_cmpuint(list->len, ==, 2);
  g_clear_pointer(&list, g_ptr_array_unref);
  filter = (SchedAppointmentFilter){.patient_id = f->patient_id, .status = "booked"};
  list = sched_appointments_search(f->store, &filter, &error);
  g_assert_cmpuint(list->len, ==, 2);
  g_clear_pointer(&list, g_ptr_array_unref);
  filter = (SchedAppointmentFilter){.facility_id = f->facility_id, .limit = 1, .offset = 2};
  list = sched_appointments_search(f->store, &filter, &error);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpint(((SchedAppointment *)g_ptr_array_index(list, 0))->starts_at, ==,
                  AT(9, 0) + 86400);
  g_clear_pointer(&list, g_ptr_array_unref);
  filter = (SchedAppointmentFilter){.status = "done"};
  g_assert_null(sched_appointments_search(f->store, &filter, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "status");
  filter = (SchedAppointmentFilter){.kind = "x"};
  g_assert_null(sched_appointments_search(f->store, &filter, &error));
  assert_field_error(&error, SCHED_ERROR_INVALID, "kind");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, setup, fn) g_test_add(path, Fixture, NULL, setup, fn, fixture_teardown)
  g_test_add_func("/engine/error-field", test_error_field);
  ADD("/engine/store/integrity", fixture_empty, test_integrity_and_schema);
  ADD("/engine/facilities", fixture_clinic, test_facilities);
  ADD("/engine/staff-roles", fixture_clinic, test_staff_roles);
  ADD("/engine/doctor-profiles", fixture_clinic, test_doctor_profiles);
  ADD("/engine/services", fixture_clinic, test_services);
  ADD("/engine/availability", fixture_clinic, test_availability);
  ADD("/engine/breaks-exceptions", fixture_clinic, test_breaks_exceptions);
  ADD("/engine/patients", fixture_clinic, test_patients);
  ADD("/engine/slots/search", fixture_clinic, test_slot_search);
  ADD("/engine/book/hold-confirm", fixture_clinic, test_hold_confirm);
  ADD("/engine/book/refusals", fixture_clinic, test_book_refusals);
  ADD("/engine/book/buffers-max-per-day", fixture_clinic, test_buffers_and_max_per_day);
  ADD("/engine/book/double-booking", fixture_clinic, test_double_booking);
  ADD("/engine/book/hold-expiry", fixture_clinic, test_hold_expiry);
  ADD("/engine/cancel-waitlist", fixture_clinic, test_cancel_and_waitlist);
  ADD("/engine/waitlist/offer-lapses", fixture_clinic, test_offer_lapses);
  ADD("/engine/reschedule", fixture_clinic, test_reschedule);
  ADD("/engine/check-in", fixture_clinic, test_check_in);
  ADD("/engine/walkin-queue", fixture_clinic, test_walkin_queue);
  ADD("/engine/jobs/noshow", fixture_clinic, test_noshow);
  ADD("/engine/jobs/reminders", fixture_clinic, test_reminders);
  ADD("/engine/outbox", fixture_clinic, test_outbox);
  ADD("/engine/link-resend", fixture_clinic, test_link_resend);
  ADD("/engine/appointments/search", fixture_clinic, test_search_appointments);
#undef ADD
  return g_test_run();
}
