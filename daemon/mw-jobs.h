/* mw-jobs.h — the daemon's periodic jobs, timers on the main loop: drain the scheduler's outbox
 * through a notify sender, expire lapsed holds, mark no-shows, queue reminders, and once a day
 * erase personal data past its retention period. The composition
 * root's wiring of scheduler → notify: neither module knows the other.
 *
 * Threads: the main loop's thread only (the thread-default context at mw_jobs_new()). */
#pragma once

#include <glib.h>

#include "notify.h"
#include "scheduler.h"

typedef struct {
  int max_attempts;    /* claims before a notice is given up (kept failed with last_error) */
  gint64 retry_base_s; /* the first retry's delay; doubles per failure (notify_retry_delay_s) */
  guint max_in_flight; /* sends at once */
  gint64 lease_s;      /* a claim's lease: longer than any send (the webhook's deadline) */
  guint drain_ms;      /* how often the outbox is drained (1000) */
  guint holds_ms;      /* how often lapsed holds are expired (5000) */
  guint noshow_ms;     /* how often no-shows are marked (15000) */
  guint reminders_ms;  /* how often reminders are queued (30000) */
  int retention_days;  /* [retention] personal_data_days; 0 = the retention job is off (0) */
  guint retention_ms;  /* how often the retention rules run (daily); they also run at start */
} MwJobsConfig;

/* The defaults above, with `timeout_s` the sender's request deadline (lease = 2 × it + 10). */
void mw_jobs_config_init(MwJobsConfig *config, gint64 timeout_s);

typedef struct MwJobs MwJobs;

/* Starts the timers. Borrows `store` (it must outlive the jobs); takes `sender` (transfer full).
 * The first drain runs at once. */
MwJobs *mw_jobs_new(SchedStore *store, NotifySender *sender, const MwJobsConfig *config);
/* Stops the timers and frees the sender, cancelling its sends in flight: their notices stay
 * leased and are sent again (same dedupe key) after the lease, by this or the next process. */
void mw_jobs_free(MwJobs *jobs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MwJobs, mw_jobs_free)

/* Claims what may be sent at `now` (up to max_in_flight minus the sends in flight) and starts
 * sending it; results are recorded as they come, on the main loop. Returns how many started. */
guint mw_jobs_drain(MwJobs *jobs, gint64 now);
/* One pass of the other jobs at `now` (holds, no-shows, reminders). */
void mw_jobs_run_housekeeping(MwJobs *jobs, gint64 now);
/* One retention run at `now` (sched_retention_run, with its audit row); FALSE if it failed or
 * is off. */
gboolean mw_jobs_run_retention(MwJobs *jobs, gint64 now);

/* Counters since mw_jobs_new(), for tests and the log. */
typedef struct {
  guint64 claimed, sent, retried, given_up;
} MwJobsStats;
void mw_jobs_get_stats(MwJobs *jobs, MwJobsStats *stats);
guint mw_jobs_in_flight(MwJobs *jobs);
