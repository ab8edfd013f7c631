/* sched-test-util.c — raw SQLite helpers shared by the scheduler's unit tests: a second
 * connection that inspects what the store actually wrote. */
#include "sched-test-util.h"

#include <glib/gstdio.h>
#include "sched-stats-backend.h"

#include <string.h>

sqlite3 *raw_open(const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  /* The statistics' triggers (schema 3) call the scheduler's own SQL functions: a connection
   * that writes appointments or consultations must have them. */
  g_assert_true(sched__stats_sqlite_register(db, NULL));
  return db;
}

gint64 raw_int(const char *path, const char *sql)
{
  sqlite3 *db = raw_open(path);
  sqlite3_stmt *st = NULL;
  gint64 v;

  g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
  v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

void raw_exec(const char *path, const char *sql)
{
  sqlite3 *db = raw_open(path);

  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK)
    g_printerr("raw_exec: %s\n", msg);
  g_assert_cmpint(rc, ==, SQLITE_OK);
  sqlite3_close(db);
}

/* Every row of every table, as text: two equal dumps mean nothing was written in between. */
char *raw_dump(const char *path)
{
  static const char *const tables[] = {
      "schema_migrations",   "staff",          "patients",      "appointments",
      "join_tokens",         "staff_sessions", "consultations", "facilities",
      "doctor_profiles",     "services",       "availability",  "breaks",
      "schedule_exceptions", "waitlist",       "outbox"};
  sqlite3 *db = raw_open(path);
  GString *out = g_string_new(NULL);

  for (gsize t = 0; t < G_N_ELEMENTS(tables); t++) {
    g_autofree char *sql = g_strdup_printf("SELECT * FROM %s ORDER BY 1", tables[t]);
    sqlite3_stmt *st = NULL;

    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==, SQLITE_OK);
    g_string_append_printf(out, "[%s]\n", tables[t]);
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); c++) {
        const char *v = (const char *)sqlite3_column_text(st, c);
        g_string_append_printf(out, "%s|", v != NULL ? v : "NULL");
      }
      g_string_append_c(out, '\n');
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return g_string_free(out, FALSE);
}

void remove_temp_dir(const char *dir)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *name;

  g_assert_nonnull(d);
  while ((name = g_dir_read_name(d)) != NULL) {
    g_autofree char *file = g_build_filename(dir, name, NULL);
    g_assert_cmpint(g_remove(file), ==, 0);
  }
  g_assert_cmpint(g_rmdir(dir), ==, 0);
}

void make_test_clinic(SchedStore *store, TestClinic *out)
{
  g_autoptr(GError) error = NULL;
  const char *const langs[] = {"ur", "en", NULL};
  SchedService svc = {.name = "General consultation", .specialty = "general", .duration_min = 20};

  out->facility_id = sched_facility_add(store, "BHU Shah Faisal", "Karachi East", "public",
                                        "Asia/Karachi", &error);
  g_assert_no_error(error);
  out->doctor_id = sched_doctor_add(store, "dr.ayesha", "Dr Ayesha Khan", TEST_PASSWORD, &error);
  g_assert_no_error(error);
  g_assert_true(sched_doctor_set_profile(store, out->doctor_id, out->facility_id, "general", langs,
                                         "female", &error));
  svc.facility_id = out->facility_id;
  out->service_id = sched_service_add(store, &svc, &error);
  g_assert_no_error(error);
  for (int wd = 1; wd <= 7; wd++) {
    SchedAvailability a = {.doctor_id = out->doctor_id,
                           .service_id = out->service_id,
                           .weekday = wd,
                           .start_min = 9 * 60,
                           .end_min = 13 * 60};
    g_assert_cmpint(sched_availability_add(store, &a, &error), >, 0);
    g_assert_no_error(error);
  }
  out->patient_id = sched_patient_add_full(store, "Bilal Ahmed", TEST_PHONE, "ur", &error);
  g_assert_no_error(error);
  out->patient2_id = sched_patient_add_full(store, "Sara Malik", "0300-7654321", "en", &error);
  g_assert_no_error(error);
}
