/* test-batch.c — unit tests of group commit (scheduler.h sched_store_batch_begin/_commit)
 * against a real SQLite file: writes in a batch are invisible to other connections until the
 * batch commits; a request that fails half-way inside a batch rolls back only its own writes;
 * a failed commit leaves nothing of the batch; the outbox claims nothing while a batch holds
 * uncommitted writes. Failures are injected through triggers created by a second connection, so
 * the tests use the public API only. */
#include "scheduler.h"
#include "sched-test-util.h"

#include <glib/gstdio.h>

/* 2026-01-05 00:00:00 UTC, a Monday: 05:00 in Karachi. Slots start at 09:00 PKT = 04:00Z. */
#define DAY0 G_GINT64_CONSTANT(1767571200)
#define NOW DAY0
#define AT(h, m) (DAY0 + ((h)-5) * 3600 + (m)*60) /* local Karachi time on DAY0 */

typedef struct {
  char *dir;
  char *path;
  SchedStore *store;
  gint64 doctor_id;
  gint64 service_id;
  gint64 patient_id;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  TestClinic c;

  f->dir = g_dir_make_tmp("mw-batch-XXXXXX", &error);
  g_assert_no_error(error);
  f->path = g_build_filename(f->dir, "mashwara.db", NULL);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
  make_test_clinic(f->store, &c);
  f->doctor_id = c.doctor_id;
  f->service_id = c.service_id;
  f->patient_id = c.patient_id;
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
  g_clear_pointer(&f->store, sched_store_free);
  remove_temp_dir(f->dir);
  g_free(f->path);
  g_free(f->dir);
}

/* Books the slot at `starts_at`; returns its id, or 0 with `error` set. */
static gint64 try_book(Fixture *f, gint64 starts_at, GError **error)
{
  SchedBookingRequest r = {f->doctor_id, f->service_id, f->patient_id, starts_at};
  g_autofree char *token = NULL;

  return sched_appointment_book_slot(f->store, &r, NOW, &token, error);
}

static gint64 book(Fixture *f, gint64 starts_at)
{
  g_autoptr(GError) error = NULL;
  gint64 id = try_book(f, starts_at, &error);

  g_assert_no_error(error);
  g_assert_cmpint(id, >, 0);
  return id;
}

/* What another connection (a backup, or the file after a power cut) sees. */
static gint64 committed(Fixture *f, const char *sql)
{
  return raw_int(f->path, sql);
}

static void test_commit_makes_durable(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false(sched_store_batch_is_open(f->store));
  sched_store_batch_begin(f->store);
  g_assert_true(sched_store_batch_is_open(f->store));
  book(f, AT(9, 0));
  book(f, AT(9, 20));
  /* Inside the batch its writes are visible; outside, nothing yet. */
  {
    g_autoptr(GPtrArray) mine = NULL;
    SchedAppointmentFilter q = {.doctor_id = f->doctor_id, .limit = 10};
    mine = sched_appointments_search(f->store, &q, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(mine->len, ==, 2);
  }
  g_assert_cmpint(committed(f, "SELECT COUNT(*) FROM appointments"), ==, 0);
  /* No notice may be claimed (and sent) before its booking is durable. */
  {
    g_autoptr(GPtrArray) items = sched_outbox_claim(f->store, NOW, 10, 60, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(items->len, ==, 0);
  }
  g_assert_true(sched_store_batch_commit(f->store, &error));
  g_assert_no_error(error);
  g_assert_false(sched_store_batch_is_open(f->store));
  g_assert_cmpint(committed(f, "SELECT COUNT(*) FROM appointments WHERE status = 'booked'"), ==, 2);
  g_assert_cmpint(committed(f, "SELECT COUNT(*) FROM outbox"), ==, 2);
  {
    g_autoptr(GPtrArray) items = sched_outbox_claim(f->store, NOW, 10, 60, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(items->len, ==, 2);
  }
  /* An empty batch commits, and calls outside a batch commit on their own as before. */
  sched_store_batch_begin(f->store);
  g_assert_true(sched_store_batch_commit(f->store, &error));
  book(f, AT(9, 40));
  g_assert_cmpint(committed(f, "SELECT COUNT(*) FROM appointments"), ==, 3);
}

/* A request that fails after writing (its join token is refused by an injected trigger, after
 * its appointment row was inserted) rolls back to its own savepoint: the batch's other
 * requests, before and after it, commit. */
static void test_failed_request_rolls_back_alone(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sql = g_strdup_printf(
      "CREATE TRIGGER test_refuse_token BEFORE INSERT ON join_tokens"
      " WHEN (SELECT starts_at FROM appointments WHERE id = NEW.appointment_id) = %" G_GINT64_FORMAT
      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
      AT(9, 20));

  raw_exec(f->path, sql);
  sched_store_batch_begin(f->store);
  book(f, AT(9, 0));
  g_assert_cmpint(try_book(f, AT(9, 20), &error), ==, 0);
  g_assert_nonnull(error);
  g_clear_error(&error);
  /* A refused request (slot taken) in the same batch writes nothing either. */
  g_assert_cmpint(try_book(f, AT(9, 0), &error), ==, 0);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_CONFLICT);
  g_clear_error(&error);
  book(f, AT(9, 40));
  g_assert_true(sched_store_batch_commit(f->store, &error));
  g_assert_no_error(error);
  g_assert_cmpint(committed(f, "SELECT COUNT(*) FROM appointments"), ==, 2);
  g_assert_cmpint(committed(f, "SELECT COUNT(*) FROM join_tokens"), ==, 2);
  g_assert_cmpint(committed(f, "SELECT COUNT(*) FROM outbox"), ==, 2);
  g_assert_cmpint(committed(f, "SELECT MIN(starts_at) FROM appointments"), ==, AT(9, 0));
  g_assert_cmpint(committed(f, "SELECT MAX(starts_at) FROM appointments"), ==, AT(9, 40));
}

/* A commit that fails (here: a deferred foreign key, checked only at COMMIT, injected through a
 * trigger on one booking) leaves nothing of the batch, and the store goes on working. */
static void test_failed_commit_writes_nothing(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL, *after = NULL;
  g_autofree char *sql = g_strdup_printf(
      "CREATE TABLE test_parent (id INTEGER PRIMARY KEY);"
      "CREATE TABLE test_child (ref INTEGER REFERENCES test_parent(id)"
      " DEFERRABLE INITIALLY DEFERRED);"
      "CREATE TRIGGER test_dangling AFTER INSERT ON appointments"
      " WHEN NEW.starts_at = %" G_GINT64_FORMAT " BEGIN INSERT INTO test_child VALUES (42); END",
      AT(9, 20));

  raw_exec(f->path, sql);
  before = raw_dump(f->path);
  sched_store_batch_begin(f->store);
  book(f, AT(9, 0));
  book(f, AT(9, 20)); /* succeeds: the foreign key is checked at COMMIT */
  book(f, AT(9, 40));
  g_assert_false(sched_store_batch_commit(f->store, &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_DB);
  g_test_message("commit: %s", error->message);
  g_clear_error(&error);
  g_assert_false(sched_store_batch_is_open(f->store));
  after = raw_dump(f->path);
  g_assert_cmpstr(before, ==, after);
  /* Nothing stays behind in the store's connection either: the slots are free again. */
  book(f, AT(9, 0));
  g_assert_cmpint(committed(f, "SELECT COUNT(*) FROM appointments"), ==, 1);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/batch/commit", test_commit_makes_durable);
  ADD("/batch/request-rollback", test_failed_request_rolls_back_alone);
  ADD("/batch/failed-commit", test_failed_commit_writes_nothing);
  return g_test_run();
}
