/* test-jobs.c — the daemon's jobs against a real scheduler database (a temp file) and the
 * stand-in gateway: a notice is claimed, sent with its dedupe key as Idempotency-Key and marked
 * sent (body blanked); a 500 is retried after the backoff under the same key; attempts are capped
 * and the notice kept as failed with its last error; a refusal is given up at once; a "crash"
 * mid-send re-sends after the lease under the same key; at most max_in_flight go at once; and
 * the housekeeping jobs mark no-shows and queue reminders. The timers are off: each test drives
 * the jobs with its own clock. */
#include <glib/gstdio.h>
#include <string.h>

#include "mw-jobs.h"
#include "test-gateway.h"

#define HOUR 3600

typedef struct {
  char *dir;
  SchedStore *store;
  gint64 now;
  gint64 doctor_id;
  Gateway gw;
} Fixture;

static gint64 book(Fixture *f, const char *phone, gint64 starts_at)
{
  g_autoptr(GError) error = NULL;
  gint64 patient = sched_patient_add(f->store, "Test Patient", phone, &error);
  g_assert_no_error(error);
  g_autofree char *token = NULL;
  gint64 id = sched_appointment_book(f->store, f->doctor_id, patient, starts_at,
                                     starts_at + 15 * 60, &token, &error);
  g_assert_no_error(error);
  g_assert_cmpint(id, >, 0);
  return id;
}

static void fixture_setup(Fixture *f, gconstpointer mode)
{
  f->dir = g_dir_make_tmp("mw-jobs-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(f->dir, "m.db", NULL);
  g_autoptr(GError) error = NULL;
  f->store = sched_store_open(path, &error);
  g_assert_no_error(error);
  f->doctor_id = sched_doctor_add(f->store, "dr.test", "Dr. Test", "password-123", &error);
  g_assert_no_error(error);
  f->now = g_get_real_time() / G_USEC_PER_SEC;
  gateway_start(&f->gw, (GatewayMode)GPOINTER_TO_INT(mode));
}

static void fixture_teardown(Fixture *f, gconstpointer mode)
{
  gateway_stop(&f->gw);
  sched_store_free(f->store);
  g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name(d));) {
    g_autofree char *p = g_build_filename(f->dir, name, NULL);
    g_unlink(p);
  }
  g_rmdir(f->dir);
  g_free(f->dir);
}

static MwJobs *jobs_new(Fixture *f, int max_attempts, guint max_in_flight, guint timeout_ms)
{
  NotifyConfig ncfg = {.webhook_url = f->gw.url, .timeout_ms = timeout_ms};
  g_autoptr(GError) error = NULL;
  NotifySender *sender = notify_sender_new(&notify_webhook_sender, &ncfg, &error);
  g_assert_no_error(error);
  MwJobsConfig cfg;
  mw_jobs_config_init(&cfg, 1);
  cfg.max_attempts = max_attempts;
  cfg.retry_base_s = 10;
  cfg.max_in_flight = max_in_flight;
  cfg.lease_s = 60;
  cfg.drain_ms = cfg.holds_ms = cfg.noshow_ms = cfg.reminders_ms = 0; /* driven by hand */
  return mw_jobs_new(f->store, sender, &cfg);
}

/* Drains at `now` and waits for every send started to be recorded. */
static guint drain_and_wait(MwJobs *jobs, gint64 now)
{
  guint started = mw_jobs_drain(jobs, now);
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (mw_jobs_in_flight(jobs) > 0 && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpuint(mw_jobs_in_flight(jobs), ==, 0);
  return started;
}

/* The notices of an appointment. (transfer full) */
static GPtrArray *outbox(Fixture *f, gint64 appointment_id)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *items = sched_outbox_list(f->store, appointment_id, 0, &error);
  g_assert_no_error(error);
  return items;
}

/* Queues exactly one notice (the day-before reminder) for a new appointment in two hours, and
 * returns it. (transfer full) */
static SchedOutboxItem *one_reminder(Fixture *f, gint64 *appointment_id)
{
  gint64 appt = book(f, "+92 345 7654321", f->now + 2 * HOUR);
  /* Earlier notices of the booking (if the operator's path queues any) are not this test's. */
  g_autoptr(GPtrArray) before = outbox(f, appt);
  for (guint i = 0; i < before->len; i++) {
    SchedOutboxItem *it = before->pdata[i];
    g_assert_true(sched_outbox_failed(f->store, it->id, f->now, "not this test", 0, NULL));
  }
  guint n = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(sched_reminders_queue(f->store, f->now, &n, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(n, ==, 1);
  g_autoptr(GPtrArray) items = outbox(f, appt);
  SchedOutboxItem *found = NULL;
  for (guint i = 0; i < items->len; i++) {
    SchedOutboxItem *it = items->pdata[i];
    if (g_strcmp0(it->kind, "reminder_day") == 0)
      found = g_ptr_array_steal_index(items, i);
  }
  g_assert_nonnull(found);
  g_assert_cmpint(found->sent_at, ==, 0);
  g_assert_cmpstr(found->body, !=, "");
  *appointment_id = appt;
  return found;
}

static SchedOutboxItem *reload(Fixture *f, gint64 appointment_id, gint64 outbox_id)
{
  g_autoptr(GPtrArray) items = outbox(f, appointment_id);
  for (guint i = 0; i < items->len; i++)
    if (((SchedOutboxItem *)items->pdata[i])->id == outbox_id)
      return g_ptr_array_steal_index(items, i);
  g_assert_not_reached();
}

static void test_delivered(Fixture *f, gconstpointer mode)
{
  g_autoptr(MwJobs) jobs = jobs_new(f, 8, 8, 5000);
  gint64 appt;
  g_autoptr(SchedOutboxItem) item = one_reminder(f, &appt);
  g_assert_cmpuint(drain_and_wait(jobs, f->now), ==, 1);
  g_autoptr(SchedOutboxItem) after = reload(f, appt, item->id);
  g_assert_cmpint(after->sent_at, >, 0);
  g_assert_cmpstr(after->body, ==, "");
  g_assert_cmpint(after->attempts, ==, 1);
  g_assert_cmpint(gateway_count(&f->gw, item->dedupe_key), ==, 1);
  g_assert_cmpstr(f->gw.last_key, ==, item->dedupe_key);
  g_assert_nonnull(strstr(f->gw.last_body, "\"kind\":\"reminder_day\""));
  /* Sent is final: nothing more to claim, even much later. */
  g_assert_cmpuint(drain_and_wait(jobs, f->now + 10 * HOUR), ==, 0);
  MwJobsStats st;
  mw_jobs_get_stats(jobs, &st);
  g_assert_cmpuint(st.sent, ==, 1);
}

static void test_retry_with_backoff(Fixture *f, gconstpointer mode)
{
  g_autoptr(MwJobs) jobs = jobs_new(f, 8, 8, 5000);
  gint64 appt;
  g_autoptr(SchedOutboxItem) item = one_reminder(f, &appt);
  g_assert_cmpuint(drain_and_wait(jobs, f->now), ==, 1);
  g_autoptr(SchedOutboxItem) failed = reload(f, appt, item->id);
  g_assert_cmpint(failed->sent_at, ==, 0);
  g_assert_cmpstr(failed->last_error, ==, "HTTP 500");
  g_assert_cmpint(failed->leased_until, ==, 0);
  /* Recorded with the wall clock, a moment after f->now: the first retry is base (10 s) later. */
  g_assert_cmpint(failed->next_attempt_at, >=, f->now + 10);
  g_assert_cmpint(failed->next_attempt_at, <=, f->now + 10 + 5);
  /* Not before its time. */
  g_assert_cmpuint(drain_and_wait(jobs, failed->next_attempt_at - 1), ==, 0);
  g_assert_cmpuint(drain_and_wait(jobs, failed->next_attempt_at), ==, 1);
  g_autoptr(SchedOutboxItem) sent = reload(f, appt, item->id);
  g_assert_cmpint(sent->sent_at, >, 0);
  g_assert_cmpint(sent->attempts, ==, 2);
  g_assert_cmpint(gateway_count(&f->gw, item->dedupe_key), ==, 2);
  g_assert_cmpuint(g_hash_table_size(f->gw.per_key), ==, 1);
}

static void test_gives_up(Fixture *f, gconstpointer mode)
{
  g_autoptr(MwJobs) jobs = jobs_new(f, 3, 8, 5000);
  gint64 appt;
  g_autoptr(SchedOutboxItem) item = one_reminder(f, &appt);
  gint64 t = f->now;
  gint64 delays[3] = {0};
  for (int i = 0; i < 3; i++) {
    g_assert_cmpuint(drain_and_wait(jobs, t), ==, 1);
    g_autoptr(SchedOutboxItem) it = reload(f, appt, item->id);
    g_assert_cmpint(it->attempts, ==, i + 1);
    g_assert_cmpstr(it->last_error, ==, "HTTP 500");
    if (i < 2) {
      g_assert_cmpint(it->failed_at, ==, 0);
      delays[i] = it->next_attempt_at - g_get_real_time() / G_USEC_PER_SEC;
      t = it->next_attempt_at;
    } else {
      g_assert_cmpint(it->failed_at, >, 0);
    }
  }
  /* Exponential: 10 s, then 20 s (give or take the second the test takes). */
  g_assert_cmpint(delays[0], >=, 8);
  g_assert_cmpint(delays[0], <=, 10);
  g_assert_cmpint(delays[1], >=, 18);
  g_assert_cmpint(delays[1], <=, 20);
  g_assert_cmpuint(drain_and_wait(jobs, t + 10 * HOUR), ==, 0);
  g_assert_cmpint(gateway_count(&f->gw, item->dedupe_key), ==, 3);
  MwJobsStats st;
  mw_jobs_get_stats(jobs, &st);
  g_assert_cmpuint(st.retried, ==, 2);
  g_assert_cmpuint(st.given_up, ==, 1);
}

static void test_refused(Fixture *f, gconstpointer mode)
{
  g_autoptr(MwJobs) jobs = jobs_new(f, 8, 8, 5000);
  gint64 appt;
  g_autoptr(SchedOutboxItem) item = one_reminder(f, &appt);
  g_assert_cmpuint(drain_and_wait(jobs, f->now), ==, 1);
  g_autoptr(SchedOutboxItem) it = reload(f, appt, item->id);
  g_assert_cmpint(it->failed_at, >, 0);
  g_assert_cmpstr(it->last_error, ==, "HTTP 400");
  g_assert_cmpuint(drain_and_wait(jobs, f->now + 10 * HOUR), ==, 0);
}

static void test_crash_mid_send(Fixture *f, gconstpointer mode)
{
  gint64 appt;
  g_autoptr(SchedOutboxItem) item = one_reminder(f, &appt);
  /* The first process claims and sends, and dies before the gateway answers. */
  MwJobs *first = jobs_new(f, 8, 8, 5000);
  g_assert_cmpuint(mw_jobs_drain(first, f->now), ==, 1);
  g_assert_true(spin_until(&f->gw.requests, 5000));
  mw_jobs_free(first);
  g_autoptr(SchedOutboxItem) leased = reload(f, appt, item->id);
  g_assert_cmpint(leased->sent_at, ==, 0);
  g_assert_cmpint(leased->leased_until, ==, f->now + 60);

  /* The next one waits out the lease, then sends under the same key. */
  f->gw.mode = GW_OK;
  g_autoptr(MwJobs) second = jobs_new(f, 8, 8, 5000);
  g_assert_cmpuint(drain_and_wait(second, f->now + 59), ==, 0);
  g_assert_cmpuint(drain_and_wait(second, f->now + 60), ==, 1);
  g_autoptr(SchedOutboxItem) sent = reload(f, appt, item->id);
  g_assert_cmpint(sent->sent_at, >, 0);
  g_assert_cmpint(sent->attempts, ==, 2);
  g_assert_cmpint(gateway_count(&f->gw, item->dedupe_key), ==, 2);
  g_assert_cmpuint(g_hash_table_size(f->gw.per_key), ==, 1);
}

static void test_max_in_flight(Fixture *f, gconstpointer mode)
{
  g_autoptr(MwJobs) jobs = jobs_new(f, 8, 2, 5000);
  for (int i = 0; i < 5; i++)
    book(f, "+92 345 7654321", f->now + 2 * HOUR + i * HOUR);
  guint n = 0;
  g_assert_true(sched_reminders_queue(f->store, f->now, &n, NULL));
  g_assert_cmpuint(n, >=, 5);
  g_assert_cmpuint(mw_jobs_drain(jobs, f->now), ==, 2);
  g_assert_cmpuint(mw_jobs_drain(jobs, f->now), ==, 0);
  g_assert_cmpuint(mw_jobs_in_flight(jobs), ==, 2);
  int two = 0;
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (f->gw.requests < 2 && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, TRUE);
  two = f->gw.requests;
  g_assert_cmpint(two, ==, 2);
}

static gboolean has_notice(Fixture *f, gint64 appointment_id, const char *kind)
{
  g_autoptr(GPtrArray) items = outbox(f, appointment_id);
  for (guint i = 0; i < items->len; i++)
    if (g_strcmp0(((SchedOutboxItem *)items->pdata[i])->kind, kind) == 0)
      return TRUE;
  return FALSE;
}

static void test_housekeeping(Fixture *f, gconstpointer mode)
{
  SchedPolicy policy = {
      .hold_s = SCHED_HOLD_DEFAULT_S, .offer_s = SCHED_OFFER_DEFAULT_S, .noshow_after_s = 15 * 60};
  sched_store_set_policy(f->store, &policy);
  g_autoptr(MwJobs) jobs = jobs_new(f, 8, 8, 5000);
  gint64 late = book(f, "+92 345 7654321", f->now - 20 * 60);   /* started 20 min ago */
  gint64 recent = book(f, "+92 345 7654322", f->now - 10 * 60); /* within the grace */
  gint64 soon = book(f, "+92 345 7654323", f->now + 10 * 60);   /* in 10 min */
  gint64 later = book(f, "+92 345 7654324", f->now + 3 * HOUR); /* in 3 hours */
  gint64 far = book(f, "+92 345 7654325", f->now + 30 * HOUR);  /* beyond a day */
  mw_jobs_run_housekeeping(jobs, f->now);
  g_autoptr(SchedAppointment) a = sched_appointment_get(f->store, late, NULL);
  g_autoptr(SchedAppointment) b = sched_appointment_get(f->store, recent, NULL);
  g_assert_cmpstr(a->status, ==, "noshow");
  g_assert_cmpstr(b->status, ==, "booked");
  g_assert_true(has_notice(f, soon, "reminder_15min"));
  g_assert_true(has_notice(f, later, "reminder_day"));
  g_assert_false(has_notice(f, later, "reminder_15min"));
  g_assert_false(has_notice(f, far, "reminder_day"));
  g_autoptr(GPtrArray) items = outbox(f, 0);
  /* Idempotent: a second pass queues nothing new. */
  guint before = items->len;
  mw_jobs_run_housekeeping(jobs, f->now + 1);
  g_autoptr(GPtrArray) again = outbox(f, 0);
  g_assert_cmpuint(again->len, ==, before);
}

/* The retention job: off by default; by hand it erases what is old and leaves its audit row;
 * with a period set it also runs once at start. */
static void test_retention(Fixture *f, gconstpointer mode)
{
  g_autoptr(GError) error = NULL;
  gint64 appt = book(f, "+92 345 7654326", f->now + HOUR);
  g_autoptr(SchedAppointment) a = sched_appointment_get(f->store, appt, &error);
  {
    g_autoptr(MwJobs) off = jobs_new(f, 8, 8, 5000);
    g_assert_false(mw_jobs_run_retention(off, f->now));
  }
  NotifyConfig ncfg = {.webhook_url = f->gw.url, .timeout_ms = 5000};
  NotifySender *sender = notify_sender_new(&notify_webhook_sender, &ncfg, &error);
  MwJobsConfig cfg;
  mw_jobs_config_init(&cfg, 1);
  cfg.drain_ms = cfg.holds_ms = cfg.noshow_ms = cfg.reminders_ms = 0;
  cfg.retention_days = 365;
  cfg.retention_ms = 3600 * 1000;
  g_autoptr(MwJobs) jobs = mw_jobs_new(f->store, sender, &cfg);
  /* The run at start: nothing is old yet, one audit row. */
  for (int i = 0; i < 100; i++) {
    g_autoptr(GPtrArray) rows = sched_audit_list(f->store, NULL, &error);
    if (rows->len > 0)
      break;
    g_main_context_iteration(NULL, FALSE);
  }
  g_autoptr(GPtrArray) first = sched_audit_list(f->store, NULL, &error);
  g_assert_cmpuint(first->len, ==, 1);
  g_assert_cmpstr(((SchedAuditRecord *)first->pdata[0])->action, ==, "retention.run");
  g_autoptr(SchedPatient) kept = sched_patient_get(f->store, a->patient_id, &error);
  g_assert_nonnull(kept->phone);
  /* 400 days on, the patient's name and phone are gone. */
  g_assert_true(mw_jobs_run_retention(jobs, f->now + 400 * 24 * HOUR));
  g_autoptr(SchedPatient) erased = sched_patient_get(f->store, a->patient_id, &error);
  g_assert_null(erased->phone);
  g_assert_cmpstr(erased->display_name, ==, "");
  g_autoptr(GPtrArray) rows = sched_audit_list(f->store, NULL, &error);
  g_assert_cmpuint(rows->len, ==, 2);
  g_assert_true(g_str_has_prefix(((SchedAuditRecord *)rows->pdata[0])->detail, "days=365,p=1,"));
  g_assert_true(sched_audit_verify(f->store, NULL, NULL, &error));
}

int main(int argc, char **argv)
{
  g_unsetenv("http_proxy");
  g_unsetenv("HTTP_PROXY");
  g_unsetenv("all_proxy");
  g_unsetenv("ALL_PROXY");
  g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
  g_test_init(&argc, &argv, NULL);
  /* The jobs log a given-up notice as a warning: expected here, not a failure. */
  g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
  g_log_set_fatal_mask("mashwara-jobs", G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
#define JOBS_TEST(path, mode, fn)                                                                  \
  g_test_add(path, Fixture, GINT_TO_POINTER(mode), fixture_setup, fn, fixture_teardown)
  JOBS_TEST("/jobs/delivered", GW_OK, test_delivered);
  JOBS_TEST("/jobs/retry-with-backoff", GW_FAIL_FIRST, test_retry_with_backoff);
  JOBS_TEST("/jobs/gives-up", GW_ALWAYS_FAIL, test_gives_up);
  JOBS_TEST("/jobs/refused", GW_REFUSE, test_refused);
  JOBS_TEST("/jobs/crash-mid-send", GW_HANG, test_crash_mid_send);
  JOBS_TEST("/jobs/max-in-flight", GW_HANG, test_max_in_flight);
  JOBS_TEST("/jobs/housekeeping", GW_OK, test_housekeeping);
  JOBS_TEST("/jobs/retention", GW_OK, test_retention);
#undef JOBS_TEST
  return g_test_run();
}
