/* test-patient.c — unit tests of the scheduler's calls for the patient's page (scheduler.h,
 * "The patient's page", schema 6) against a real SQLite file in a temp folder: consent records
 * (checked arguments, one row per appointment, role and version, the first time kept, the
 * latest returned); ratings (stars and comment checked, only after the consultation started,
 * once, nothing written on a refusal); a doctor's typical consultation length (median of the
 * recent ones, none below three); and the retention run clearing old comments, stars kept. */
#include "scheduler.h"
#include "sched-test-util.h"

#include <string.h>

#define DAY_S 86400

typedef struct {
  char *dir;
  char *path;
  SchedStore *store;
  TestClinic clinic;
  gint64 now;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  (void)data;
  f->dir = g_dir_make_tmp("mw-patient-XXXXXX", &error);
  g_assert_no_error(error);
  f->path = g_build_filename(f->dir, "mashwara.db", NULL);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(sched_store_schema_version(f->store), >=, 6);
  make_test_clinic(f->store, &f->clinic);
  f->now = g_get_real_time() / G_USEC_PER_SEC;
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
  (void)data;
  g_clear_pointer(&f->store, sched_store_free);
  remove_temp_dir(f->dir);
  g_free(f->path);
  g_free(f->dir);
}

/* An appointment of the test doctor from `starts_at`, `minutes` long. */
static gint64 appointment(Fixture *f, gint64 starts_at, int minutes)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  gint64 id = sched_appointment_book(f->store, f->clinic.doctor_id, f->clinic.patient_id, starts_at,
                                     starts_at + minutes * 60, &token, &error);
  g_assert_no_error(error);
  g_assert_cmpint(id, >, 0);
  return id;
}

static void assert_error(GError *error, gint code, const char *field)
{
  g_assert_error(error, SCHED_ERROR, code);
  g_autofree char *f = sched_error_field(error);
  g_assert_cmpstr(f, ==, field);
}

static void test_consent(Fixture *f, gconstpointer data)
{
  (void)data;
  gint64 a = appointment(f, f->now, 20);
  static const struct {
    const char *role, *version, *language, *field;
  } bad[] = {
      {"doctor", "2026-12-v1", "en", "role"},       {"patient", "", "en", "version"},
      {"patient", "a b", "en", "version"},          {"patient", "2026-12-v1", "EN", "language"},
      {"patient", "2026-12-v1", "eng", "language"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_assert_false(sched_consent_record(f->store, a, bad[i].role, bad[i].version, bad[i].language,
                                        f->now, &error));
    assert_error(error, SCHED_ERROR_INVALID, bad[i].field);
  }
  g_autoptr(GError) error = NULL;
  g_assert_false(sched_consent_record(f->store, 999999, "patient", "v1", "en", f->now, &error));
  assert_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id");
  g_clear_error(&error);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM consent_records"), ==, 0);

  g_assert_null(sched_consent_latest(f->store, a, "patient", &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  g_clear_error(&error);

  g_assert_true(sched_consent_record(f->store, a, "patient", "2026-12-v1", "ur", f->now, &error));
  g_assert_no_error(error);
  /* The same version again: the first acceptance stays. */
  g_assert_true(
      sched_consent_record(f->store, a, "patient", "2026-12-v1", "en", f->now + 60, &error));
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM consent_records"), ==, 1);
  g_autoptr(SchedConsent) c = sched_consent_latest(f->store, a, "patient", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(c->version, ==, "2026-12-v1");
  g_assert_cmpstr(c->language, ==, "ur");
  g_assert_cmpint(c->accepted_at, ==, f->now);
  /* A guest of the same appointment is asked on their own; a later version is the latest. */
  g_assert_null(sched_consent_latest(f->store, a, "interpreter", NULL));
  g_assert_true(
      sched_consent_record(f->store, a, "patient", "2027-01-v2", "en", f->now + 120, &error));
  g_autoptr(SchedConsent) c2 = sched_consent_latest(f->store, a, "patient", &error);
  g_assert_cmpstr(c2->version, ==, "2027-01-v2");
}

static void test_rating(Fixture *f, gconstpointer data)
{
  (void)data;
  gint64 a = appointment(f, f->now - 1800, 20);
  g_autoptr(GError) error = NULL;

  g_assert_false(sched_rating_put(f->store, a, 4, NULL, f->now, &error));
  assert_error(error, SCHED_ERROR_CONFLICT, "status");
  g_clear_error(&error);
  g_assert_true(sched_consultation_waiting(f->store, a, f->now - 1800, &error));
  g_assert_false(sched_rating_put(f->store, a, 4, NULL, f->now, &error));
  assert_error(error, SCHED_ERROR_CONFLICT, "status");
  g_clear_error(&error);
  g_assert_true(sched_consultation_started(f->store, a, f->now - 1700, &error));
  g_assert_no_error(error);

  g_autofree char *long_comment = g_strnfill(1001, 'x');
  GString *urdu = g_string_new(NULL);
  for (int i = 0; i < 1000; i++)
    g_string_append(urdu, "ب"); /* 1000 characters, 2000 bytes: within the limit */
  static const int bad_stars[] = {0, 6, -1};
  for (gsize i = 0; i < G_N_ELEMENTS(bad_stars); i++) {
    g_assert_false(sched_rating_put(f->store, a, bad_stars[i], NULL, f->now, &error));
    assert_error(error, SCHED_ERROR_INVALID, "stars");
    g_clear_error(&error);
  }
  const char *bad_comments[] = {long_comment, "bell \a", "bad \xff utf-8"};
  for (gsize i = 0; i < G_N_ELEMENTS(bad_comments); i++) {
    g_assert_false(sched_rating_put(f->store, a, 3, bad_comments[i], f->now, &error));
    assert_error(error, SCHED_ERROR_INVALID, "comment");
    g_clear_error(&error);
  }
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM consultation_ratings"), ==, 0);

  g_assert_true(sched_rating_put(f->store, a, 5, urdu->str, f->now, &error));
  g_assert_no_error(error);
  g_assert_false(sched_rating_put(f->store, a, 1, NULL, f->now, &error));
  assert_error(error, SCHED_ERROR_CONFLICT, "appointment_id");
  g_clear_error(&error);
  g_autoptr(SchedRating) r = sched_rating_get(f->store, a, &error);
  g_assert_no_error(error);
  g_assert_cmpint(r->stars, ==, 5);
  g_assert_cmpstr(r->comment, ==, urdu->str);
  g_string_free(urdu, TRUE);

  /* An empty comment is stored as none; an unknown appointment is NOT_FOUND. */
  gint64 b = appointment(f, f->now - 600, 5);
  g_assert_true(sched_consultation_started(f->store, b, f->now - 500, &error));
  g_assert_true(sched_rating_put(f->store, b, 2, "", f->now, &error));
  g_autoptr(SchedRating) rb = sched_rating_get(f->store, b, &error);
  g_assert_null(rb->comment);
  g_assert_false(sched_rating_put(f->store, 999999, 2, NULL, f->now, &error));
  assert_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id");
}

static void test_typical_duration(Fixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  gint64 doctor = f->clinic.doctor_id;
  /* Consultations of 10, 30 and 20 minutes, ended in the last days; one of 90 minutes 40 days
   * ago (outside the window). */
  static const struct {
    gint64 ago;
    int minutes;
  } calls[] = {{40 * DAY_S, 90}, {3 * DAY_S, 10}, {2 * DAY_S, 30}, {1 * DAY_S, 20}};
  for (gsize i = 0; i < G_N_ELEMENTS(calls); i++) {
    gint64 start = f->now - calls[i].ago;
    gint64 a = appointment(f, start, calls[i].minutes);
    g_assert_true(sched_consultation_started(f->store, a, start, &error));
    g_assert_true(
        sched_consultation_ended(f->store, a, start + calls[i].minutes * 60, "completed", &error));
    g_assert_no_error(error);
    /* Two recent ones are not yet enough to call typical. */
    if (i == 2)
      g_assert_cmpint(sched_doctor_typical_duration(f->store, doctor, f->now, &error), ==, 0);
  }
  g_assert_cmpint(sched_doctor_typical_duration(f->store, doctor, f->now, &error), ==, 20 * 60);
  g_assert_no_error(error);
}

static void test_retention_clears_comments(Fixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  gint64 old = appointment(f, f->now - 400 * DAY_S, 20);
  gint64 recent = appointment(f, f->now - DAY_S, 20);
  for (gint64 a = old; a; a = a == old ? recent : 0) {
    g_assert_true(sched_consultation_started(f->store, a, f->now - 2 * DAY_S, &error));
    g_assert_true(sched_rating_put(f->store, a, 4, "a personal remark", f->now, &error));
    g_assert_no_error(error);
  }
  SchedRetentionCounts c = {0};
  g_assert_true(sched_retention_run(f->store, f->now, 365, FALSE, &c, &error));
  g_assert_no_error(error);
  g_assert_cmpint(c.comments, ==, 1);
  g_autoptr(SchedRating) ro = sched_rating_get(f->store, old, &error);
  g_autoptr(SchedRating) rr = sched_rating_get(f->store, recent, &error);
  g_assert_null(ro->comment);
  g_assert_cmpint(ro->stars, ==, 4);
  g_assert_cmpstr(rr->comment, ==, "a personal remark");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/patient/consent", test_consent);
  ADD("/patient/rating", test_rating);
  ADD("/patient/typical-duration", test_typical_duration);
  ADD("/patient/retention-clears-comments", test_retention_clears_comments);
  return g_test_run();
}
