/* mw-jobs.c — periodic jobs on the main loop. The outbox drain claims due notices with a lease
 * (sched_outbox_claim), hands each to the notify sender, and records the result when it comes:
 * sched_outbox_done, or sched_outbox_failed with a retry time from exponential backoff, or with
 * retry_at 0 (given up, kept as failed with its last error) after max_attempts claims or a
 * permanent refusal. The other jobs are one scheduler transaction each; the retention job (daily
 * and once at start) writes its own audit row in its transaction.
 *
 * Why a lease longer than any send: a notice is re-claimed only when its lease lapses, so within
 * one process a send always finishes (the webhook has a deadline) before anyone may claim it
 * again; only a crash between a send and its record re-sends it, under the same dedupe key.
 *
 * Ownership: MwJobs borrows the store and owns the sender; a send in flight is a row in
 * `in_flight` (outbox id → claims so far). Thread: the main loop's. Logs ids and kinds only. */
#define G_LOG_DOMAIN "mashwara-jobs"

#include "mw-jobs.h"

struct MwJobs {
  SchedStore *store;    /* borrowed */
  NotifySender *sender; /* owned */
  MwJobsConfig config;
  GHashTable *in_flight; /* gint64 * outbox id → GINT_TO_POINTER(attempts); ids owned */
  GMainContext *context; /* the thread-default context at mw_jobs_new() (ref held) */
  GSource *drain_timer, *holds_timer, *noshow_timer, *reminders_timer, *first_drain; /* refs */
  GSource *retention_timer, *first_retention;                                        /* refs */
  GSource *more;    /* an idle drain while there is a backlog (ref), NULL if none pending */
  gboolean backlog; /* the last claim got all it asked for: more may be due */
  MwJobsStats stats;
};

void mw_jobs_config_init(MwJobsConfig *c, gint64 timeout_s)
{
  g_return_if_fail(c != NULL);
  if (timeout_s <= 0)
    timeout_s = NOTIFY_TIMEOUT_DEFAULT_MS / 1000;
  *c = (MwJobsConfig){
      .max_attempts = 8,
      .retry_base_s = 30,
      .max_in_flight = 8,
      .lease_s = 2 * timeout_s + 10,
      .drain_ms = 1000,
      .holds_ms = 5000,
      .noshow_ms = 15000,
      .reminders_ms = 30000,
      .retention_days = 0,
      .retention_ms = 24 * 3600 * 1000,
  };
}

static gint64 now_s(void)
{
  return g_get_real_time() / G_USEC_PER_SEC;
}

static GSource *add_timer(MwJobs *jobs, guint ms, GSourceFunc fn);

static gboolean on_more(gpointer data)
{
  MwJobs *jobs = data;
  g_source_unref(g_steal_pointer(&jobs->more)); /* the context keeps it while it runs */
  mw_jobs_drain(jobs, g_get_real_time() / G_USEC_PER_SEC);
  return G_SOURCE_REMOVE;
}

/* A result from the sender, on the main loop. */
static void on_sent(gint64 id, NotifyResult result, const char *error_text, gpointer data)
{
  MwJobs *jobs = data;
  gpointer attempts_p = NULL;
  if (!g_hash_table_lookup_extended(jobs->in_flight, &id, NULL, &attempts_p)) {
    g_warning("outbox %" G_GINT64_FORMAT ": a result for a notice not in flight", id);
    return;
  }
  int attempts = GPOINTER_TO_INT(attempts_p);
  g_hash_table_remove(jobs->in_flight, &id);

  gint64 now = now_s();
  g_autoptr(GError) error = NULL;
  gboolean ok;
  if (result == NOTIFY_RESULT_SENT) {
    ok = sched_outbox_done(jobs->store, id, now, &error);
    jobs->stats.sent++;
  } else {
    gint64 retry_at = 0;
    if (result == NOTIFY_RESULT_RETRY && attempts < jobs->config.max_attempts)
      retry_at = now + notify_retry_delay_s(attempts, jobs->config.retry_base_s);
    ok = sched_outbox_failed(jobs->store, id, now, error_text ? error_text : "failed", retry_at,
                             &error);
    if (retry_at) {
      jobs->stats.retried++;
      g_info("outbox %" G_GINT64_FORMAT ": attempt %d failed (%s); retry in %" G_GINT64_FORMAT " s",
             id, attempts, error_text ? error_text : "?", retry_at - now);
    } else {
      jobs->stats.given_up++;
      g_warning("outbox %" G_GINT64_FORMAT ": given up after %d attempt(s) (%s)", id, attempts,
                error_text ? error_text : "?");
    }
  }
  /* If this fails the lease lapses and the notice is sent again under its dedupe key. */
  if (!ok)
    g_warning("outbox %" G_GINT64_FORMAT ": cannot record the result: %s", id, error->message);
  /* A freed place and a backlog: claim again now rather than at the next tick, so throughput
   * follows the gateway's speed, not the timer's. */
  if (jobs->backlog && !jobs->more && jobs->config.drain_ms)
    jobs->more = add_timer(jobs, 0, on_more);
}

guint mw_jobs_drain(MwJobs *jobs, gint64 now)
{
  g_return_val_if_fail(jobs != NULL, 0);
  guint busy = g_hash_table_size(jobs->in_flight);
  if (busy >= jobs->config.max_in_flight)
    return 0;
  guint want = jobs->config.max_in_flight - busy;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items =
      sched_outbox_claim(jobs->store, now, want, jobs->config.lease_s, &error);
  if (!items) {
    jobs->backlog = FALSE;
    g_warning("outbox: cannot claim: %s", error->message);
    return 0;
  }
  jobs->backlog = items->len == want;
  guint started = 0;
  for (guint i = 0; i < items->len; i++) {
    const SchedOutboxItem *item = items->pdata[i];
    if (g_hash_table_contains(jobs->in_flight, &item->id))
      continue; /* cannot happen while the lease outlives every send; never send twice at once */
    jobs->stats.claimed++;
    NotifyMessage m = {
        .id = item->id,
        .appointment_id = item->appointment_id,
        .kind = item->kind,
        .recipient = item->recipient,
        .language = item->language,
        .body = item->body,
        .dedupe_key = item->dedupe_key,
        .attempts = (int)MAX(item->attempts - 1, 0),
    };
    g_hash_table_insert(jobs->in_flight, g_memdup2(&item->id, sizeof item->id),
                        GINT_TO_POINTER((int)MIN(item->attempts, G_MAXINT)));
    notify_sender_send(jobs->sender, &m, on_sent, jobs);
    started++;
  }
  return started;
}

static void expire_holds(MwJobs *jobs, gint64 now)
{
  g_autoptr(GError) error = NULL;
  guint n = 0;
  if (!sched_holds_expire(jobs->store, now, &n, &error))
    g_warning("jobs: expiring holds: %s", error->message);
  else if (n)
    g_info("jobs: %u hold(s) expired", n);
}

static void mark_noshows(MwJobs *jobs, gint64 now)
{
  g_autoptr(GError) error = NULL;
  guint n = 0;
  if (!sched_appointments_mark_noshow(jobs->store, now, &n, &error))
    g_warning("jobs: marking no-shows: %s", error->message);
  else if (n)
    g_info("jobs: %u appointment(s) marked no-show", n);
}

static void queue_reminders(MwJobs *jobs, gint64 now)
{
  g_autoptr(GError) error = NULL;
  guint n = 0;
  if (!sched_reminders_queue(jobs->store, now, &n, &error))
    g_warning("jobs: queuing reminders: %s", error->message);
  else if (n)
    g_info("jobs: %u reminder(s) queued", n);
}

gboolean mw_jobs_run_retention(MwJobs *jobs, gint64 now)
{
  g_return_val_if_fail(jobs != NULL, FALSE);
  if (jobs->config.retention_days <= 0)
    return FALSE;
  g_autoptr(GError) error = NULL;
  SchedRetentionCounts c;
  if (!sched_retention_run(jobs->store, now, jobs->config.retention_days, FALSE, &c, &error)) {
    g_warning("jobs: retention: %s", error->message);
    return FALSE;
  }
  g_info("jobs: retention (%d days): %" G_GINT64_FORMAT " patient(s) erased, %" G_GINT64_FORMAT
         " token(s), %" G_GINT64_FORMAT " notice(s), %" G_GINT64_FORMAT " session(s)",
         jobs->config.retention_days, c.patients, c.tokens, c.notices, c.sessions);
  return TRUE;
}

void mw_jobs_run_housekeeping(MwJobs *jobs, gint64 now)
{
  g_return_if_fail(jobs != NULL);
  expire_holds(jobs, now);
  mark_noshows(jobs, now);
  queue_reminders(jobs, now);
}

static gboolean on_drain(gpointer data)
{
  mw_jobs_drain(data, now_s());
  return G_SOURCE_CONTINUE;
}

static gboolean on_first_drain(gpointer data)
{
  MwJobs *jobs = data;
  g_source_unref(g_steal_pointer(&jobs->first_drain)); /* the context keeps it while it runs */
  mw_jobs_drain(jobs, now_s());
  return G_SOURCE_REMOVE;
}

static gboolean on_holds(gpointer data)
{
  expire_holds(data, now_s());
  return G_SOURCE_CONTINUE;
}

static gboolean on_noshow(gpointer data)
{
  mark_noshows(data, now_s());
  return G_SOURCE_CONTINUE;
}

static gboolean on_reminders(gpointer data)
{
  queue_reminders(data, now_s());
  return G_SOURCE_CONTINUE;
}

static gboolean on_retention(gpointer data)
{
  mw_jobs_run_retention(data, now_s());
  return G_SOURCE_CONTINUE;
}

static gboolean on_first_retention(gpointer data)
{
  MwJobs *jobs = data;
  g_source_unref(g_steal_pointer(&jobs->first_retention));
  mw_jobs_run_retention(jobs, now_s());
  return G_SOURCE_REMOVE;
}

/* A timer on the jobs' context (0 ms: an idle); the context holds it. */
static GSource *add_timer(MwJobs *jobs, guint ms, GSourceFunc fn)
{
  GSource *s = ms ? g_timeout_source_new(ms) : g_idle_source_new();
  g_source_set_callback(s, fn, jobs, NULL);
  g_source_attach(s, jobs->context);
  return s;
}

static void remove_timer(GSource **s)
{
  if (!*s)
    return;
  g_source_destroy(*s);
  g_source_unref(g_steal_pointer(s));
}

MwJobs *mw_jobs_new(SchedStore *store, NotifySender *sender, const MwJobsConfig *config)
{
  g_return_val_if_fail(store != NULL && sender != NULL && config != NULL, NULL);
  g_return_val_if_fail(config->max_attempts >= 1 && config->max_in_flight >= 1, NULL);
  g_return_val_if_fail(config->lease_s > 0, NULL);
  MwJobs *jobs = g_new0(MwJobs, 1);
  jobs->store = store;
  jobs->sender = sender;
  jobs->config = *config;
  jobs->in_flight = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  jobs->context = g_main_context_ref_thread_default();
  /* A period of 0 turns a job off (tests drive them by hand). */
  if (config->drain_ms) {
    jobs->drain_timer = add_timer(jobs, config->drain_ms, on_drain);
    jobs->first_drain = add_timer(jobs, 0, on_first_drain);
  }
  if (config->holds_ms)
    jobs->holds_timer = add_timer(jobs, config->holds_ms, on_holds);
  if (config->noshow_ms)
    jobs->noshow_timer = add_timer(jobs, config->noshow_ms, on_noshow);
  if (config->reminders_ms)
    jobs->reminders_timer = add_timer(jobs, config->reminders_ms, on_reminders);
  if (config->retention_days > 0 && config->retention_ms) {
    jobs->retention_timer = add_timer(jobs, config->retention_ms, on_retention);
    jobs->first_retention = add_timer(jobs, 0, on_first_retention);
  }
  g_info("jobs: notices via the %s sender, at most %u at once, %d attempts",
         notify_sender_name(sender), config->max_in_flight, config->max_attempts);
  return jobs;
}

void mw_jobs_free(MwJobs *jobs)
{
  if (!jobs)
    return;
  remove_timer(&jobs->drain_timer);
  remove_timer(&jobs->holds_timer);
  remove_timer(&jobs->noshow_timer);
  remove_timer(&jobs->reminders_timer);
  remove_timer(&jobs->retention_timer);
  remove_timer(&jobs->first_retention);
  remove_timer(&jobs->first_drain);
  remove_timer(&jobs->more);
  /* Drops the results of sends in flight: their leases lapse and they go again. */
  notify_sender_free(jobs->sender);
  g_hash_table_destroy(jobs->in_flight);
  g_main_context_unref(jobs->context);
  g_free(jobs);
}

void mw_jobs_get_stats(MwJobs *jobs, MwJobsStats *stats)
{
  g_return_if_fail(jobs != NULL && stats != NULL);
  *stats = jobs->stats;
}

guint mw_jobs_in_flight(MwJobs *jobs)
{
  g_return_val_if_fail(jobs != NULL, 0);
  return g_hash_table_size(jobs->in_flight);
}
