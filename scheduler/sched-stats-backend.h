/* sched-stats-backend.h — the storage contract of the scheduler's statistics (scheduler.h,
 * "Statistics"). Private to scheduler/.
 *
 * The statistics are read from a daily summary, one row per (local day of the facility,
 * facility, service) with counts and minute histograms of waits and durations. The summary is
 * a pure function of the appointments and consultations tables (the rules are below, under
 * "What counts"); the SQLite backend keeps it current with triggers in the same transaction as
 * every write to those tables (schema 3), so no write path can forget it, and back-fills it in
 * the migration. sched-stats.c groups the rows and computes percentiles; a backend only
 * stores and fetches them. Schema 9 adds the ratings, value histograms of call quality and the
 * doctors per day (doctor_days); schema 10 the same by sex or by age band (patient_rows), so only
 * a grouping by both patient fields at once needs `visits`. A PostgreSQL
 * backend is one more `SchedStatsBackend` table.
 *
 * What counts (per appointment, in the local day of its starts_at in its facility's zone;
 * appointments without a facility use SCHED_TIMEZONE_DEFAULT and facility 0):
 * - consultations: status "fulfilled";
 * - completed: "fulfilled" whose consultation's outcome is not "interrupted" (or that has no
 *   consultation record);
 * - noshows: status "noshow";
 * - cancellations: status "cancelled", except lapsed holds (cancel_reason "hold expired");
 * - wait (minutes, floor): "fulfilled" with waiting_since and started_at:
 *   started_at - max(waiting_since, starts_at), at least 0 (arriving early is not waiting);
 * - duration (minutes, floor): "fulfilled" with started_at and ended_at: ended_at - started_at;
 * waits and durations of SCHED_STATS_MINUTES_MAX minutes or more count as that value. */
#pragma once

#include "sched-backend.h"

#include <string.h>

G_BEGIN_DECLS

/* One summary row as a backend hands it over. Strings and histograms are (transfer none),
 * valid during the callback only. */
typedef struct {
  gint64 day;            /* local date of the facility: days since 1970-01-01 */
  gint64 facility_id;    /* 0: appointments without a facility */
  const char *district;  /* the facility's district; NULL for facility 0 */
  gint64 service_id;     /* 0: appointments without a service */
  const char *specialty; /* the service's specialty; NULL for service 0 */
  gint64 consultations;
  gint64 completed;
  gint64 noshows;
  gint64 cancellations;
  const guint8 *wait_hist; /* encoded histogram (sched__stats_hist_*), NULL if empty */
  gsize wait_hist_len;
  const guint8 *duration_hist;
  gsize duration_hist_len;
  /* Schema 4: call quality (scheduler.h "Statistics"): sums over quality_consultations of each
   * consultation's value, in integer units. */
  gint64 quality_consultations;
  gint64 audio_fallbacks;
  gint64 score_milli_sum; /* score x 1000 */
  gint64 loss_ppm_sum;    /* loss x 1e6 */
  gint64 rtt_ms_sum;
  gint64 video_kbps_sum;
  /* Schema 9: the patients' ratings of the fulfilled ones, and value histograms (below) of the
   * quality consultations' loss, RTT and video rate (the values the sums add up). */
  gint64 ratings;
  gint64 stars_sum;
  const guint8 *loss_hist, *rtt_hist, *kbps_hist;
  gsize loss_hist_len, rtt_hist_len, kbps_hist_len;
  /* Schema 10, rows of patient_rows only (else NULL): the patients' sex or age band as
   * scheduler.h names them ("" for the one not grouped by), and a value histogram of doctor
   * ids (index: doctor id, count: fulfilled consultations) whose entries are the group's
   * distinct doctors. */
  const char *sex, *age_band;
  const guint8 *doctor_hist;
  gsize doctor_hist_len;
} SchedStatsDaily;

/* Schema 9: the doctors with a fulfilled consultation on a day (stats_doctor_days). Strings as
 * SchedStatsDaily. */
typedef struct {
  gint64 day;
  gint64 facility_id;
  const char *district;
  gint64 service_id;
  const char *specialty;
  gint64 doctor_id;
} SchedStatsDoctorDay;

typedef gboolean (*SchedStatsDoctorDayFn)(const SchedStatsDoctorDay *row, gpointer user_data,
                                          GError **error);

/* Returns FALSE to stop with `error` set. */
typedef gboolean (*SchedStatsDailyFn)(const SchedStatsDaily *row, gpointer user_data,
                                      GError **error);

/* Schema 8: one counted appointment (status fulfilled, noshow, or cancelled other than a lapsed
 * hold) as the statistics' extra figures need it, by the same rules as the summary. Strings are
 * (transfer none), valid during the callback only. */
typedef struct {
  gint64 day; /* as SchedStatsDaily */
  gint64 facility_id;
  const char *district;
  gint64 service_id;
  const char *specialty;
  const char *sex; /* the patient's; NULL if not recorded */
  int birth_year;  /* 0 if not recorded */
  gint64 doctor_id;
  gboolean fulfilled, completed, noshow, cancelled;
  int wait_min;     /* -1 if none (as the summary's histogram) */
  int duration_min; /* -1 if none */
  gboolean quality; /* fulfilled with quality samples: the values below are set */
  gboolean audio_fallback;
  gint64 score_milli, loss_ppm, rtt_ms, video_kbps;
  int stars; /* the patient's rating (fulfilled only); 0 if none */
} SchedStatsVisit;

typedef gboolean (*SchedStatsVisitFn)(const SchedStatsVisit *visit, gpointer user_data,
                                      GError **error);

typedef struct {
  const char *name;
  /* Calls `fn` for every counted appointment whose local day d (as daily_rows) satisfies
   * local_day(from) <= d < local_day(to). */
  gboolean (*visits)(SchedBackendDb *db, gint64 from, gint64 to, SchedStatsVisitFn fn,
                     gpointer user_data, GError **error);
  /* Calls `fn` for every summary row whose day d satisfies, in its facility's zone,
   * local_day(from) <= d < local_day(to). */
  gboolean (*daily_rows)(SchedBackendDb *db, gint64 from, gint64 to, SchedStatsDailyFn fn,
                         gpointer user_data, GError **error);
  /* Calls `fn` for every (day, facility, service, doctor) with a fulfilled appointment, days
   * as daily_rows. */
  gboolean (*doctor_days)(SchedBackendDb *db, gint64 from, gint64 to, SchedStatsDoctorDayFn fn,
                          gpointer user_data, GError **error);
  /* Schema 10: as daily_rows, the summary by one patient field (`grouping`:
   * SCHED_STATS_BY_SEX or SCHED_STATS_BY_AGE_BAND), one row per (day, facility, service, sex
   * or age band). */
  gboolean (*patient_rows)(SchedBackendDb *db, gint64 from, gint64 to, guint grouping,
                           SchedStatsDailyFn fn, gpointer user_data, GError **error);
} SchedStatsBackend;

extern const SchedStatsBackend sched_stats_backend_sqlite;

/* --- The SQLite side (sched-stats-sqlite.c), used by sched-sqlite.c --------------------- */

/* Migration 3's SQL: the summary table, its triggers and the back-fill. */
extern const char sched__stats_migration_sql[];
/* Migration 4's SQL: patients' audio-only choice, the consultation_quality table, and the
 * summary's quality columns with their triggers (the table starts empty: nothing to back-fill). */
extern const char sched__quality_migration_sql[];

/* Migration 9's SQL: ratings, the quality histograms and the doctors per day summarised
 * (stats_fulfilled, stats_doctor_days), their triggers and back-fill. */
extern const char sched__stats_visits_migration_sql[];

/* Migration 10's SQL: the groupings by sex and by age band summarised (stats_visits,
 * stats_patient_daily), their triggers and back-fill. */
extern const char sched__stats_patients_migration_sql[];

/* Registers on a new connection the SQL functions the summary's triggers and back-fill call
 * (sched_local_day, sched_hist, sched_hist_one, sched_hist_merge). Must run before the
 * migrations and on every connection that writes appointments or consultations. Opaque
 * pointer: a `sqlite3 *`. */
gboolean sched__stats_sqlite_register(void *sqlite_db, GError **error);

/* The connection of a SQLite backend handle (sched-sqlite.c). (transfer none) */
void *sched__sqlite_handle(SchedBackendDb *db);

/* sched_stats_query() as schema 9 answered it: a grouping by sex or age band reads the range's
 * appointments (the `visits` read) instead of the schema-10 summary. For the tests that prove
 * the two agree. */
GPtrArray *sched__stats_query_visits(SchedStore *store, const SchedStatsQuery *q, GError **error);

/* --- Histograms (sched-stats.c; pure, MT safe) ------------------------------------------- */

/* An encoded histogram is a sequence of 8-byte entries (minute, count), each a little-endian
 * 32-bit integer (count signed), sorted by minute, no zero counts; empty = no bytes. */
#define SCHED__STATS_HIST_ENTRY 8

/* Value histograms (schema 9) use the same encoding, the index being a bucket of the value
 * (the quality values of SchedStatsVisit, in their integer units): loss in steps of 100 ppm
 * (0.01 %), RTT in 1 ms, video in 1 kbit/s; values above the cap count as the cap. A median
 * read from them is the bucket's lower bound: exact for RTT and video below the cap, loss
 * rounded down to 0.01 %. The SQL and C forms must agree. */
#define SCHED__STATS_LOSS_STEP_PPM 100
#define SCHED__STATS_LOSS_CAP_PPM 1000000
#define SCHED__STATS_RTT_CAP_MS 10000
#define SCHED__STATS_KBPS_CAP 20000
#define SCHED__STATS_LOSS_BUCKET(x) "(min(max(" x ", 0), 1000000) / 100)"
#define SCHED__STATS_RTT_BUCKET(x) "min(max(" x ", 0), 10000)"
#define SCHED__STATS_KBPS_BUCKET(x) "min(max(" x ", 0), 20000)"

/* Whether `len` bytes at `bytes` can be an encoded histogram (whole entries). */
static inline gboolean sched__stats_hist_valid(const guint8 *bytes, gsize len)
{
  return len % SCHED__STATS_HIST_ENTRY == 0 && (len == 0 || bytes != NULL);
}
/* The entry at `entry` (an encoded histogram's bytes + a multiple of SCHED__STATS_HIST_ENTRY). */
static inline void sched__stats_hist_entry(const guint8 *entry, guint32 *index, gint32 *count)
{
  memcpy(index, entry, 4);
  memcpy(count, entry + 4, 4);
  *index = GUINT32_FROM_LE(*index);
  *count = GINT32_FROM_LE(*count);
}
/* Adds `delta` observations of `minute` to the dense array `counts` of `n` minutes after
 * decoding (minutes >= n are ignored). FALSE if `bytes` is malformed. */
gboolean sched__stats_hist_accumulate(const guint8 *bytes, gsize len, gint64 *counts, gsize n);
/* Encodes the non-zero entries of a dense array. (transfer full) *len receives the size; NULL
 * and 0 if every count is 0. */
guint8 *sched__stats_hist_encode(const gint64 *counts, gsize n, gsize *len);
/* The local day (days since 1970-01-01) of `t` in `zone`. */
gint64 sched__stats_local_day(GTimeZone *zone, gint64 t);

G_END_DECLS
