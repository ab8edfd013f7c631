/* sched-test-util.h — raw SQLite helpers shared by the scheduler's unit tests. */
#pragma once

#include <glib.h>
#include <sqlite3.h>

#include "scheduler.h"

/* A raw read-write connection to the store's file (asserts on failure). */
sqlite3 *raw_open(const char *path);
/* The first column of the first row of `sql`. */
gint64 raw_int(const char *path, const char *sql);
/* Runs `sql` (asserts it succeeds). */
void raw_exec(const char *path, const char *sql);
/* Every row of every table, as text: two equal dumps mean nothing was written in between.
 * (transfer full) */
char *raw_dump(const char *path);
/* Removes a test's temporary folder and every file in it (asserts each removal). */
void remove_temp_dir(const char *dir);

/* The clinic most scheduler tests start from: a Karachi facility, one doctor (dr.ayesha,
 * password TEST_PASSWORD; general, speaks ur and en, female) offering a 20-minute service every
 * day 09:00-13:00 local, and two patients (Urdu, phone TEST_PHONE; English). */
#define TEST_PASSWORD "correct horse battery"
#define TEST_PHONE "+92 300 1234567"

typedef struct {
  gint64 facility_id;
  gint64 doctor_id;
  gint64 service_id;
  gint64 patient_id;
  gint64 patient2_id;
} TestClinic;

void make_test_clinic(SchedStore *store, TestClinic *out);
