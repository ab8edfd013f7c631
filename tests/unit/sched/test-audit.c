/* test-audit.c — unit tests of the audit log and the retention run (scheduler.h, schema 5)
 * against a real SQLite file in a temp folder: appends form a valid chain; the table refuses
 * UPDATE and DELETE; an edit, a re-hashed edit, a deleted middle row or a dropped trigger made
 * through a second connection is found at the right row; an audited unit whose change fails,
 * or whose audit row cannot be written, leaves neither the change nor a row; retention erases
 * old personal data, keeps recent records, and leaves the statistics exactly as they were. */
#include "scheduler.h"
#include "sched-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

#define DAY_S 86400

typedef struct {
  char *dir;
  char *path;
  SchedStore *store;
  TestClinic clinic;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp("mw-audit-XXXXXX", &error);
  g_assert_no_error(error);
  f->path = g_build_filename(f->dir, "mashwara.db", NULL);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(sched_store_schema_version(f->store), >=, 5);
  make_test_clinic(f->store, &f->clinic);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
  g_clear_pointer(&f->store, sched_store_free);
  remove_temp_dir(f->dir);
  g_free(f->path);
  g_free(f->dir);
}

static gint64 audit_rows(Fixture *f)
{
  return raw_int(f->path, "SELECT count(*) FROM audit_log");
}

/* Appends `n` staff reads of patient 1..n; asserts they get ids first..first+n-1. */
static void append_reads(Fixture *f, int n)
{
  gint64 first = audit_rows(f) + 1;
  for (int i = 0; i < n; i++) {
    g_autoptr(GError) error = NULL;
    SchedAuditEntry e = {.actor_kind = "staff",
                         .actor_id = f->clinic.doctor_id,
                         .actor_role = "doctor",
                         .action = "patient.read",
                         .object_type = "patient",
                         .object_id = i + 1,
                         .detail = "http=200",
                         .address = "127.0.0.1",
                         .outcome = "ok"};
    gint64 id = 0;
    g_assert_true(sched_audit_append(f->store, &e, &id, &error));
    g_assert_no_error(error);
    g_assert_cmpint(id, ==, first + i);
  }
}

/* Runs `sql` on a second connection; returns SQLite's result code. */
static int raw_try(Fixture *f, const char *sql)
{
  sqlite3 *db = raw_open(f->path);
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  sqlite3_close(db);
  return rc;
}

static void assert_broken_at(Fixture *f, gint64 want_id)
{
  g_autoptr(GError) error = NULL;
  gint64 bad = -1, rows = -1;

  g_assert_false(sched_audit_verify(f->store, &bad, &rows, &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
  g_assert_cmpint(bad, ==, want_id);
  g_test_message("verify: %s (first bad %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT " good rows)",
                 error->message, bad, rows);
}

static void test_chain_valid(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 bad = -1, rows = -1;

  g_assert_true(sched_audit_verify(f->store, &bad, &rows, &error)); /* empty is fine */
  g_assert_cmpint(rows, ==, 0);
  append_reads(f, 5);
  g_assert_true(sched_audit_verify(f->store, &bad, &rows, &error));
  g_assert_no_error(error);
  g_assert_cmpint(rows, ==, 5);
  g_assert_cmpint(bad, ==, 0);

  /* Newest first; each row's prev_hash is the hash of the one before; hashes recompute. */
  g_autoptr(GPtrArray) list = sched_audit_list(f->store, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 5);
  for (guint i = 0; i < list->len; i++) {
    const SchedAuditRecord *r = g_ptr_array_index(list, i);
    g_autofree char *h = sched_audit_record_hash(r);
    g_assert_cmpint(r->id, ==, 5 - (gint64)i);
    g_assert_cmpstr(r->hash, ==, h);
    g_assert_cmpint(r->at_ms, >, 1700000000000);
    if (i + 1 < list->len)
      g_assert_cmpstr(r->prev_hash, ==,
                      ((const SchedAuditRecord *)g_ptr_array_index(list, i + 1))->hash);
    else
      g_assert_cmpstr(r->prev_hash, ==,
                      "0000000000000000000000000000000000000000000000000000000000000000");
  }
  /* Paging and filters. */
  SchedAuditFilter page = {.before_id = 3, .limit = 10};
  g_autoptr(GPtrArray) older = sched_audit_list(f->store, &page, &error);
  g_assert_cmpuint(older->len, ==, 2);
  SchedAuditFilter one = {.object_type = "patient", .object_id = 4};
  g_autoptr(GPtrArray) four = sched_audit_list(f->store, &one, &error);
  g_assert_cmpuint(four->len, ==, 1);
  g_assert_cmpint(((SchedAuditRecord *)four->pdata[0])->id, ==, 4);
}

static void test_personal_values_refused(Fixture *f, gconstpointer data)
{
  static const struct {
    const char *field;
    SchedAuditEntry e;
  } bad[] = {
      {"action", {.actor_kind = "staff", .action = "read Bilal Ahmed", .outcome = "ok"}},
      {"detail",
       {.actor_kind = "staff",
        .action = "patient.read",
        .detail = "+92 300 1234567",
        .outcome = "ok"}},
      {"address", {.actor_kind = "staff", .action = "x", .address = "a b", .outcome = "ok"}},
      {"actor_kind", {.actor_kind = "root", .action = "x", .outcome = "ok"}},
      {"outcome", {.actor_kind = "staff", .action = "x", .outcome = "maybe"}},
      {"object_type", {.actor_kind = "staff", .action = "x", .object_type = "", .outcome = "ok"}},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_assert_false(sched_audit_append(f->store, &bad[i].e, NULL, &error));
    g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
    g_autofree char *field = sched_error_field(error);
    g_assert_cmpstr(field, ==, bad[i].field);
  }
  g_assert_cmpint(audit_rows(f), ==, 0);
}

static void test_triggers_refuse(Fixture *f, gconstpointer data)
{
  append_reads(f, 3);
  g_assert_cmpint(raw_try(f, "UPDATE audit_log SET object_id = 9 WHERE id = 2"), ==,
                  SQLITE_CONSTRAINT);
  g_assert_cmpint(raw_try(f, "DELETE FROM audit_log WHERE id = 2"), ==, SQLITE_CONSTRAINT);
  g_assert_cmpint(raw_try(f, "DELETE FROM audit_log"), ==, SQLITE_CONSTRAINT);
  g_assert_cmpint(audit_rows(f), ==, 3);
  g_assert_true(sched_audit_verify(f->store, NULL, NULL, NULL));
}

static void test_tamper_edit(Fixture *f, gconstpointer data)
{
  append_reads(f, 6);
  raw_exec(f->path, "DROP TRIGGER audit_log_no_update;"
                    "UPDATE audit_log SET object_id = 42 WHERE id = 3");
  assert_broken_at(f, 3);
}

static void test_tamper_edit_rehashed(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  append_reads(f, 6);
  /* A careful forger edits row 3 and stores its new correct hash: row 4 then no longer links. */
  SchedAuditFilter one = {.object_type = "patient", .object_id = 3};
  g_autoptr(GPtrArray) rows = sched_audit_list(f->store, &one, &error);
  SchedAuditRecord *r = rows->pdata[0];
  g_free(r->outcome);
  r->outcome = g_strdup("refused");
  g_autofree char *forged = sched_audit_record_hash(r);
  g_autofree char *sql = g_strdup_printf("DROP TRIGGER audit_log_no_update;"
                                         "UPDATE audit_log SET outcome = 'refused', hash = '%s'"
                                         " WHERE id = 3",
                                         forged);
  raw_exec(f->path, sql);
  assert_broken_at(f, 4);
}

static void test_tamper_delete_middle(Fixture *f, gconstpointer data)
{
  append_reads(f, 6);
  raw_exec(f->path, "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 3");
  assert_broken_at(f, 4);
}

static void test_tamper_delete_first(Fixture *f, gconstpointer data)
{
  append_reads(f, 4);
  raw_exec(f->path, "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 1");
  assert_broken_at(f, 2);
}

static void test_tamper_reorder(Fixture *f, gconstpointer data)
{
  append_reads(f, 5);
  /* Swap rows 2 and 4 (ids renumbered so the ids alone still look fine). */
  raw_exec(f->path, "DROP TRIGGER audit_log_no_update;"
                    "UPDATE audit_log SET id = -2 WHERE id = 2;"
                    "UPDATE audit_log SET id = 2 WHERE id = 4;"
                    "UPDATE audit_log SET id = 4 WHERE id = -2");
  assert_broken_at(f, 2);
}

static void test_trigger_dropped(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 bad = -1, rows = -1;

  append_reads(f, 3);
  raw_exec(f->path, "DROP TRIGGER audit_log_no_delete");
  g_assert_false(sched_audit_verify(f->store, &bad, &rows, &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
  g_assert_cmpint(bad, ==, 0);
  g_assert_cmpint(rows, ==, 3);
}

static gint64 count_patients(Fixture *f)
{
  return raw_int(f->path, "SELECT count(*) FROM patients");
}

static const SchedAuditEntry patient_created = {.actor_kind = "staff",
                                                .actor_id = 1,
                                                .actor_role = "admin",
                                                .action = "patient.create",
                                                .object_type = "patient",
                                                .address = "127.0.0.1",
                                                .outcome = "ok"};

static void test_unit_commit(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 before = count_patients(f);

  g_assert_true(sched_audit_unit_begin(f->store, &error));
  g_assert_true(sched_audit_unit_is_open(f->store));
  gint64 id = sched_patient_add_full(f->store, "Nadia Q", NULL, NULL, &error);
  g_assert_cmpint(id, >, 0);
  SchedAuditEntry e = patient_created;
  e.object_id = id;
  g_assert_true(sched_audit_unit_commit(f->store, &e, &error));
  g_assert_no_error(error);
  g_assert_false(sched_audit_unit_is_open(f->store));
  g_assert_cmpint(count_patients(f), ==, before + 1);
  g_assert_cmpint(audit_rows(f), ==, 1);
  g_assert_cmpint(raw_int(f->path, "SELECT object_id FROM audit_log WHERE id = 1"), ==, id);
}

/* The change fails with a constraint error: the unit is rolled back, nothing stays. */
static void test_unit_failed_change(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 before = count_patients(f), staff_before = raw_int(f->path, "SELECT count(*) FROM staff");
  g_autofree char *dump = raw_dump(f->path);

  g_assert_true(sched_audit_unit_begin(f->store, &error));
  g_assert_cmpint(sched_patient_add_full(f->store, "Nadia Q", NULL, NULL, &error), >, 0);
  /* dr.ayesha exists: a UNIQUE constraint refuses the second. */
  g_assert_cmpint(sched_staff_add(f->store, "dr.ayesha", "X", TEST_PASSWORD, "doctor", &error), ==,
                  0);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_CONFLICT);
  sched_audit_unit_rollback(f->store);
  g_assert_false(sched_audit_unit_is_open(f->store));
  g_assert_cmpint(count_patients(f), ==, before);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM staff"), ==, staff_before);
  g_assert_cmpint(audit_rows(f), ==, 0);
  g_autofree char *after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, dump);
}

/* The audit row cannot be written (a CHECK-like refusal injected by a trigger): the change made
 * in the unit is rolled back with it. */
static void test_unit_failed_audit(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 before = count_patients(f);

  raw_exec(f->path, "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_log BEGIN"
                    "  SELECT RAISE(ABORT, 'injected'); END");
  g_assert_true(sched_audit_unit_begin(f->store, &error));
  gint64 id = sched_patient_add_full(f->store, "Nadia Q", NULL, NULL, &error);
  g_assert_cmpint(id, >, 0);
  SchedAuditEntry e = patient_created;
  e.object_id = id;
  g_assert_false(sched_audit_unit_commit(f->store, &e, &error));
  g_assert_nonnull(error);
  g_assert_false(sched_audit_unit_is_open(f->store));
  g_assert_cmpint(count_patients(f), ==, before);
  g_assert_cmpint(audit_rows(f), ==, 0);
  raw_exec(f->path, "DROP TRIGGER test_refuse");
  /* The store works on afterwards, and the chain starts cleanly. */
  g_clear_error(&error);
  append_reads(f, 2);
  g_assert_true(sched_audit_verify(f->store, NULL, NULL, &error));
  g_assert_no_error(error);
}

/* Inside a group-commit batch, a unit is a savepoint: its row is durable with the batch. */
static void test_unit_in_batch(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  sched_store_batch_begin(f->store);
  g_assert_true(sched_audit_unit_begin(f->store, &error));
  gint64 id = sched_patient_add_full(f->store, "Nadia Q", NULL, NULL, &error);
  SchedAuditEntry e = patient_created;
  e.object_id = id;
  g_assert_true(sched_audit_unit_commit(f->store, &e, &error));
  g_assert_true(sched_store_batch_is_open(f->store));
  /* A second request in the same batch is refused and rolled back alone. */
  g_assert_true(sched_audit_unit_begin(f->store, &error));
  g_assert_cmpint(sched_patient_add_full(f->store, "Omar R", NULL, NULL, &error), >, 0);
  sched_audit_unit_rollback(f->store);
  g_assert_cmpint(audit_rows(f), ==, 0); /* nothing visible before the batch commits */
  g_assert_true(sched_store_batch_commit(f->store, &error));
  g_assert_no_error(error);
  g_assert_cmpint(audit_rows(f), ==, 1);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM patients WHERE display_name = 'Omar R'"),
                  ==, 0);
  g_assert_true(sched_audit_verify(f->store, NULL, NULL, &error));
}

/* Two connections (two processes, in production: the daemon and `mashwara admin`) appending to
 * one file: each reads the head inside its own write transaction, so the chain never forks. */
static void test_two_writers(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedStore) other = sched_store_open(f->path, &error);
  g_assert_no_error(error);

  for (int i = 0; i < 20; i++) {
    SchedAuditEntry e = patient_created;
    e.object_id = i + 1;
    e.actor_kind = i % 2 ? "operator" : "staff";
    gint64 id = 0;
    g_assert_true(sched_audit_append(i % 2 ? other : f->store, &e, &id, &error));
    g_assert_cmpint(id, ==, i + 1);
  }
  /* A unit on one connection, an append on the other after it committed. */
  g_assert_true(sched_audit_unit_begin(f->store, &error));
  gint64 pid = sched_patient_add_full(f->store, "Nadia Q", NULL, NULL, &error);
  SchedAuditEntry e = patient_created;
  e.object_id = pid;
  g_assert_true(sched_audit_unit_commit(f->store, &e, &error));
  g_assert_true(sched_audit_append(other, &patient_created, NULL, &error));
  gint64 rows = 0;
  g_assert_true(sched_audit_verify(other, NULL, &rows, &error));
  g_assert_no_error(error);
  g_assert_cmpint(rows, ==, 22);
  g_assert_true(sched_audit_verify(f->store, NULL, &rows, &error));
  g_assert_cmpint(rows, ==, 22);
}

/* --- Retention ---------------------------------------------------------------------------- */

/* 09:00 in Karachi (04:00Z) on the UTC day `days` after today. */
static gint64 slot_at(int days)
{
  gint64 today = g_get_real_time() / G_USEC_PER_SEC / DAY_S * DAY_S;
  return today + (gint64)days * DAY_S + 4 * 3600;
}

static gint64 book(Fixture *f, gint64 patient_id, gint64 starts_at)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  SchedBookingRequest r = {f->clinic.doctor_id, f->clinic.service_id, patient_id, starts_at};
  gint64 id = sched_appointment_book_slot(f->store, &r, 0, &token, &error);
  g_assert_no_error(error);
  g_assert_cmpint(id, >, 0);
  return id;
}

static char *stats_dump(Fixture *f)
{
  sqlite3 *db = raw_open(f->path);
  sqlite3_stmt *st = NULL;
  GString *out = g_string_new(NULL);
  g_assert_cmpint(
      sqlite3_prepare_v2(db, "SELECT * FROM stats_daily ORDER BY 1, 2, 3, 4", -1, &st, NULL), ==,
      SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const char *v = (const char *)sqlite3_column_text(st, c);
      g_string_append_printf(out, "%s|", v ? v : "NULL");
    }
    g_string_append_c(out, '\n');
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return g_string_free(out, FALSE);
}

static void test_retention(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 old_patient = f->clinic.patient_id, new_patient = f->clinic.patient2_id;
  gint64 t0 = slot_at(10);

  /* An old consultation that took place (with a quality record), an old cancellation, and a
   * booking far enough ahead to be recent at the retention's clock. */
  gint64 done = book(f, old_patient, t0);
  g_assert_true(sched_consultation_waiting(f->store, done, t0 - 60, &error));
  g_assert_true(sched_consultation_started(f->store, done, t0 + 120, &error));
  SchedCallQuality q = {.appointment_id = done,
                        .role = "patient",
                        .samples = 60,
                        .avg_score = 4.2,
                        .avg_loss = 0.01,
                        .avg_rtt_ms = 80,
                        .avg_video_kbps = 400,
                        .audio_only_weak_s = 5,
                        .updated_at = t0 + 900};
  g_assert_true(sched_consultation_quality_put(f->store, &q, 1, &error));
  g_assert_true(sched_consultation_ended(f->store, done, t0 + 900, "completed", &error));
  g_assert_no_error(error);
  gint64 cancelled = book(f, old_patient, t0 + 20 * 60);
  g_assert_true(sched_appointment_cancel(f->store, cancelled, "patient travelling", 0, &error));
  g_assert_no_error(error);
  gint64 recent = book(f, new_patient, slot_at(500));
  g_autofree char *session = sched_session_open(f->store, f->clinic.doctor_id,
                                                g_get_real_time() / G_USEC_PER_SEC, 60, &error);
  g_assert_nonnull(session);

  gint64 now = slot_at(420); /* cut-off at 365 days: today + 55 days */
  g_autofree char *stats_before = stats_dump(f);
  g_assert_cmpstr(stats_before, !=, "");
  g_autoptr(GPtrArray) q_before = sched_consultation_quality_list(f->store, done, &error);

  /* A dry run counts and changes nothing. */
  g_autofree char *dump = raw_dump(f->path);
  SchedRetentionCounts c;
  g_assert_true(sched_retention_run(f->store, now, 365, TRUE, &c, &error));
  g_assert_no_error(error);
  g_assert_cmpint(c.patients, ==, 1);
  g_autofree char *dump_after_dry = raw_dump(f->path);
  g_assert_cmpstr(dump_after_dry, ==, dump);
  g_assert_cmpint(audit_rows(f), ==, 0);

  g_assert_true(sched_retention_run(f->store, now, 365, FALSE, &c, &error));
  g_assert_no_error(error);
  g_assert_cmpint(c.patients, ==, 1);
  g_assert_cmpint(c.appointments, ==, 1); /* the cancel reason */
  g_assert_cmpint(c.tokens, >=, 2);
  g_assert_cmpint(c.notices, >=, 2);
  g_assert_cmpint(c.sessions, ==, 1);

  /* The old patient is erased; the recent one is untouched. */
  g_autoptr(SchedPatient) p1 = sched_patient_get(f->store, old_patient, &error);
  g_assert_cmpstr(p1->display_name, ==, "");
  g_assert_null(p1->phone);
  g_assert_null(p1->preferred_language);
  g_autoptr(SchedPatient) p2 = sched_patient_get(f->store, new_patient, &error);
  g_assert_cmpstr(p2->display_name, ==, "Sara Malik");
  g_assert_cmpstr(p2->phone, ==, "0300-7654321");
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM patients WHERE erased_at IS NOT NULL"), ==,
                  1);
  /* Old appointments keep their facts; their tokens and reason are gone; recent ones keep theirs.
   */
  g_autoptr(SchedAppointment) a = sched_appointment_get(f->store, done, &error);
  g_assert_cmpstr(a->status, ==, "fulfilled");
  g_assert_cmpint(a->starts_at, ==, t0);
  g_autoptr(SchedAppointment) ac = sched_appointment_get(f->store, cancelled, &error);
  g_assert_cmpstr(ac->status, ==, "cancelled");
  g_assert_null(ac->cancel_reason);
  g_autofree char *tok_sql =
      g_strdup_printf("SELECT count(*) FROM join_tokens WHERE appointment_id IN (%" G_GINT64_FORMAT
                      ", %" G_GINT64_FORMAT ")",
                      done, cancelled);
  g_assert_cmpint(raw_int(f->path, tok_sql), ==, 0);
  g_autofree char *recent_sql = g_strdup_printf(
      "SELECT count(*) FROM join_tokens WHERE appointment_id = %" G_GINT64_FORMAT, recent);
  g_assert_cmpint(raw_int(f->path, recent_sql), ==, 1);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM outbox WHERE recipient IS NOT NULL"), ==,
                  0);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM staff_sessions"), ==, 0);
  g_autoptr(SchedConsultation) cons = sched_consultation_get(f->store, done, &error);
  g_assert_cmpstr(cons->outcome, ==, "completed");

  /* The statistics are exactly as before. */
  g_autofree char *stats_after = stats_dump(f);
  g_assert_cmpstr(stats_after, ==, stats_before);
  g_autoptr(GPtrArray) q_after = sched_consultation_quality_list(f->store, done, &error);
  g_assert_cmpuint(q_after->len, ==, q_before->len);

  /* One audit row, counts only, chained. */
  g_assert_cmpint(audit_rows(f), ==, 1);
  g_autoptr(GPtrArray) rows = sched_audit_list(f->store, NULL, &error);
  const SchedAuditRecord *r = rows->pdata[0];
  g_assert_cmpstr(r->actor_kind, ==, "system");
  g_assert_cmpstr(r->action, ==, "retention.run");
  g_assert_true(g_str_has_prefix(r->detail, "days=365,p=1,a=1,"));
  g_assert_true(sched_audit_verify(f->store, NULL, NULL, &error));

  /* A second run finds nothing new to erase. */
  g_assert_true(sched_retention_run(f->store, now, 365, FALSE, &c, &error));
  g_assert_cmpint(c.patients, ==, 0);
  g_assert_cmpint(c.tokens, ==, 0);
  g_assert_cmpint(audit_rows(f), ==, 2);

  /* Too short a period is refused. */
  g_assert_false(sched_retention_run(f->store, now, 7, FALSE, &c, &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/audit/chain-valid", test_chain_valid);
  ADD("/audit/personal-values-refused", test_personal_values_refused);
  ADD("/audit/triggers-refuse", test_triggers_refuse);
  ADD("/audit/tamper/edit", test_tamper_edit);
  ADD("/audit/tamper/edit-rehashed", test_tamper_edit_rehashed);
  ADD("/audit/tamper/delete-middle", test_tamper_delete_middle);
  ADD("/audit/tamper/delete-first", test_tamper_delete_first);
  ADD("/audit/tamper/reorder", test_tamper_reorder);
  ADD("/audit/tamper/trigger-dropped", test_trigger_dropped);
  ADD("/audit/unit/commit", test_unit_commit);
  ADD("/audit/unit/failed-change", test_unit_failed_change);
  ADD("/audit/unit/failed-audit", test_unit_failed_audit);
  ADD("/audit/unit/in-batch", test_unit_in_batch);
  ADD("/audit/two-writers", test_two_writers);
  ADD("/audit/retention", test_retention);
  return g_test_run();
}
