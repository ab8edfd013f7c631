/* test-stats.c — unit tests of the scheduler's statistics (scheduler.h, "Statistics") against
 * a real SQLite file: the daily summary equals a brute-force computation over the raw
 * appointments and consultations after random writes (inserts, status changes, consultation
 * stamps and deletions, in two time zones), it follows the engine's events (a consultation
 * ending, a no-show, a cancellation, a lapsed hold), and migration 3 back-fills it from a
 * version-2 database that already holds data. Since schema 4 the same holds for the call-quality
 * columns (audio fallbacks, mean score, loss, RTT, video bit rate), fed by consultation_quality
 * records written at random and through sched_consultation_quality_put(). */
#include "scheduler.h"
#include "sched-test-util.h"
#include "sched-stats-backend.h" /* sched__stats_query_visits */

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 2026-01-05 00:00:00 UTC, a Monday: 05:00 in Karachi. */
#define DAY0 G_GINT64_CONSTANT(1767571200)
#define AT(d, h, m) (DAY0 + (gint64)(d)*86400 + ((h)-5) * 3600 + (m)*60) /* Karachi time */
#define PASSWORD "correct horse battery"

typedef struct {
  char *dir;
  char *path;
  SchedStore *store;
  gint64 facility[3];
  gint64 service[4];
  gint64 doctor[2];
  gint64 patient;
  gint64 patients[6]; /* schema 8: with and without sex and birth year */
} Fixture;

static void fixture_set_up(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char *zones[3] = {"Asia/Karachi", "America/New_York", "Asia/Karachi"};
  const char *districts[3] = {"Lahore", "Queens", "Multan"};
  const char *specs[4] = {"general", "paediatrics", "general", "cardiology"};

  (void)data;
  f->dir = g_dir_make_tmp("mw-stats-XXXXXX", &error);
  g_assert_no_error(error);
  f->path = g_build_filename(f->dir, "sched.db", NULL);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
  for (int i = 0; i < 3; i++) {
    g_autofree char *name = g_strdup_printf("Centre %d", i + 1);
    f->facility[i] = sched_facility_add(f->store, name, districts[i], "public", zones[i], &error);
    g_assert_no_error(error);
  }
  for (int i = 0; i < 4; i++) {
    SchedService spec = {.facility_id = f->facility[i % 3],
                         .name = (char *)"Video",
                         .specialty = (char *)specs[i],
                         .duration_min = 15};
    f->service[i] = sched_service_add(f->store, &spec, &error);
    g_assert_no_error(error);
  }
  f->doctor[0] = sched_doctor_add(f->store, "dr.one", "Dr One", PASSWORD, &error);
  g_assert_no_error(error);
  /* The second doctor copies the first's hash: one Argon2id hash per test is enough. */
  raw_exec(f->path, "INSERT INTO staff (username, display_name, role, password_hash, created_at)"
                    " SELECT 'dr.two', 'Dr Two', 'doctor', password_hash, 1 FROM staff");
  f->doctor[1] = raw_int(f->path, "SELECT max(id) FROM staff");
  const char *langs[] = {"ur", NULL};
  g_assert_true(sched_doctor_set_profile(f->store, f->doctor[0], f->facility[0], "general", langs,
                                         "female", &error));
  g_assert_no_error(error);
  f->patient = sched_patient_add(f->store, "Test Patient", NULL, &error);
  g_assert_no_error(error);
  {
    const char *sexes[6] = {"female", "male", NULL, "other", "female", "male"};
    const int years[6] = {2015, 1990, 1970, 0, 1950, 2008};
    for (int i = 0; i < 6; i++) {
      const SchedPatientSpec spec = {
          .display_name = "Spread Patient", .sex = sexes[i], .birth_year = years[i]};
      f->patients[i] = sched_patient_create(f->store, &spec, &error);
      g_assert_no_error(error);
    }
  }
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
  (void)data;
  sched_store_free(f->store);
  g_autofree char *wal = g_strconcat(f->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat(f->path, "-shm", NULL);
  g_unlink(wal);
  g_unlink(shm);
  g_unlink(f->path);
  g_rmdir(f->dir);
  g_free(f->path);
  g_free(f->dir);
}

/* --- Brute force ------------------------------------------------------------------------------ */

typedef struct {
  gint64 consultations, completed, noshows, cancellations;
  GArray *waits, *durations;                                            /* int minutes */
  gint64 quality, fallbacks, score_milli, loss_ppm, rtt_ms, video_kbps; /* sums */
  GHashTable *doctors;                                                  /* schema 8 */
  gint64 ratings, stars;
  GArray *losses, *rtts, *kbpss; /* gint64 per quality consultation */
} Expect;

/* One consultation's quality, folded as scheduler.h "Statistics" says. */
typedef struct {
  gint64 n, score, loss, rtt, kbps, weak;
} QualityFold;

/* Appointment id → QualityFold of its records with samples > 0, from the raw table. */
static GHashTable *quality_folds(sqlite3 *db)
{
  GHashTable *folds = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  sqlite3_stmt *st = NULL;

  g_assert_cmpint(sqlite3_prepare_v2(db,
                                     "SELECT appointment_id, samples, avg_score, avg_loss,"
                                     " avg_rtt_ms, avg_video_kbps, audio_only_weak_s"
                                     " FROM consultation_quality WHERE samples > 0",
                                     -1, &st, NULL),
                  ==, SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    gint64 id = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
    QualityFold *q = g_hash_table_lookup(folds, &id);
    if (q == NULL) {
      gint64 *key = g_new(gint64, 1);
      *key = id;
      q = g_new0(QualityFold, 1);
      g_hash_table_insert(folds, key, q);
    }
    /* Sums of samples x rounded value for now; divided below. */
    q->n += n;
    q->score += n * llround(sqlite3_column_double(st, 2) * 1000);
    q->loss += n * llround(sqlite3_column_double(st, 3) * 1000000);
    q->rtt += n * llround(sqlite3_column_double(st, 4));
    q->kbps += n * llround(sqlite3_column_double(st, 5));
    q->weak = MAX(q->weak, sqlite3_column_int64(st, 6));
  }
  sqlite3_finalize(st);
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, folds);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    QualityFold *q = v;
    q->score /= q->n;
    q->loss /= q->n;
    q->rtt /= q->n;
    q->kbps /= q->n;
  }
  return folds;
}

static void expect_free(gpointer p)
{
  Expect *e = p;
  g_array_unref(e->waits);
  g_array_unref(e->durations);
  g_hash_table_unref(e->doctors);
  g_array_unref(e->losses);
  g_array_unref(e->rtts);
  g_array_unref(e->kbpss);
  g_free(e);
}

static int cmp_int(gconstpointer a, gconstpointer b)
{
  return *(const int *)a - *(const int *)b;
}

static int nearest_rank(GArray *v, int p)
{
  if (v->len == 0)
    return -1;
  g_array_sort(v, cmp_int);
  gint64 rank = ((gint64)v->len * p + 99) / 100;
  return g_array_index(v, int, MAX(rank, 1) - 1);
}

static char *group_key(const char *date, const char *district, gint64 facility_id,
                       const char *specialty, const char *sex, const char *age_band)
{
  return g_strdup_printf("%s|%s|%" G_GINT64_FORMAT "|%s|%s|%s", date ? date : "-",
                         district ? district : "-", facility_id, specialty ? specialty : "-",
                         sex ? sex : "-", age_band ? age_band : "-");
}

static int cmp_i64(gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return (x > y) - (x < y);
}

/* The lower median (nearest rank), or -1. */
static double lower_median(GArray *v, double unit)
{
  if (v->len == 0)
    return -1;
  g_array_sort(v, cmp_i64);
  return (double)g_array_index(v, gint64, (v->len + 1) / 2 - 1) / unit;
}

/* Schema 9: the median loss is read from a histogram in steps of 100 ppm (0.01 %): the lower
 * median rounded down to its step (rounding down keeps the order, so it is the median of the
 * rounded values), in loss units; -1 if none. */
static double lower_median_loss(GArray *v)
{
  double ppm = lower_median(v, 1);
  if (ppm < 0)
    return -1;
  return (double)((gint64)ppm / 100 * 100) / 1e6;
}

/* Written out here rather than calling sched_stats_age_band. */
static const char *age_band_of(int birth_year, gint64 day)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(day * 86400);
  int age = g_date_time_get_year(dt) - birth_year;
  if (birth_year == 0 || age < 0)
    return "unknown";
  if (age <= 17)
    return "0-17";
  if (age <= 39)
    return "18-39";
  if (age <= 59)
    return "40-59";
  return "60+";
}

static const char *col_text(sqlite3_stmt *st, int i)
{
  return (const char *)sqlite3_column_text(st, i);
}

static gint64 local_day(GTimeZone *tz, gint64 t)
{
  g_autoptr(GDateTime) at = g_date_time_new_from_unix_utc(t);
  g_autoptr(GDateTime) local = g_date_time_to_timezone(at, tz);
  g_autoptr(GDateTime) day =
      g_date_time_new_utc(g_date_time_get_year(local), g_date_time_get_month(local),
                          g_date_time_get_day_of_month(local), 0, 0, 0);
  return g_date_time_to_unix(day) / 86400;
}

static char *day_string(gint64 day)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(day * 86400);
  return g_date_time_format(dt, "%Y-%m-%d");
}

/* The expected rows of `group_by` over [from, to), computed from the raw tables. */
static GHashTable *brute_force(const char *path, guint group_by, gint64 from, gint64 to)
{
  GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, expect_free);
  sqlite3 *db = raw_open(path);
  sqlite3_stmt *st = NULL;
  g_autoptr(GHashTable) folds = quality_folds(db);

  g_assert_cmpint(
      sqlite3_prepare_v2(db,
                         "SELECT a.starts_at, coalesce(a.facility_id, 0), a.status,"
                         " a.cancel_reason, c.appointment_id, c.waiting_since, c.started_at,"
                         " c.ended_at, c.outcome, f.timezone, f.district, s.specialty, a.id,"
                         " p.sex, coalesce(p.birth_year, 0), a.doctor_id, r.stars"
                         " FROM appointments a LEFT JOIN consultations c"
                         " ON c.appointment_id = a.id LEFT JOIN facilities f"
                         " ON f.id = a.facility_id LEFT JOIN services s ON s.id = a.service_id"
                         " LEFT JOIN patients p ON p.id = a.patient_id"
                         " LEFT JOIN consultation_ratings r ON r.appointment_id = a.id",
                         -1, &st, NULL),
      ==, SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    gint64 starts = sqlite3_column_int64(st, 0), fid = sqlite3_column_int64(st, 1);
    const char *status = col_text(st, 2), *reason = col_text(st, 3);
    gboolean has_c = sqlite3_column_type(st, 4) != SQLITE_NULL;
    const char *zone = col_text(st, 9) ? col_text(st, 9) : SCHED_TIMEZONE_DEFAULT;
    gboolean fulfilled = strcmp(status, "fulfilled") == 0;
    gboolean noshow = strcmp(status, "noshow") == 0;
    gboolean cancelled = strcmp(status, "cancelled") == 0 && g_strcmp0(reason, "hold expired");
    if (!fulfilled && !noshow && !cancelled)
      continue;
    g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(zone);
    gint64 day = local_day(tz, starts);
    if (day < local_day(tz, from) || day >= local_day(tz, to))
      continue;
    g_autofree char *date = NULL;
    if (group_by & SCHED_STATS_BY_DAY)
      date = day_string(day);
    else if (group_by & SCHED_STATS_BY_WEEK)
      date = day_string(day - (day + 3) % 7);
    const char *district =
        group_by & (SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY) ? col_text(st, 10) : NULL;
    gint64 facility = group_by & SCHED_STATS_BY_FACILITY ? fid : 0;
    const char *specialty = group_by & SCHED_STATS_BY_SPECIALTY ? col_text(st, 11) : NULL;
    const char *sex = NULL, *band = NULL;
    if (group_by & SCHED_STATS_BY_SEX)
      sex = col_text(st, 13) ? col_text(st, 13) : "unknown";
    if (group_by & SCHED_STATS_BY_AGE_BAND)
      band = age_band_of((int)sqlite3_column_int64(st, 14), day);
    char *key = group_key(date, district, facility, specialty, sex, band);
    Expect *e = g_hash_table_lookup(out, key);
    if (e == NULL) {
      e = g_new0(Expect, 1);
      e->waits = g_array_new(FALSE, FALSE, sizeof(int));
      e->durations = g_array_new(FALSE, FALSE, sizeof(int));
      e->doctors = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
      e->losses = g_array_new(FALSE, FALSE, sizeof(gint64));
      e->rtts = g_array_new(FALSE, FALSE, sizeof(gint64));
      e->kbpss = g_array_new(FALSE, FALSE, sizeof(gint64));
      g_hash_table_insert(out, key, e);
    } else {
      g_free(key);
    }
    if (fulfilled) {
      gint64 doctor = sqlite3_column_int64(st, 15);
      g_hash_table_add(e->doctors, g_memdup2(&doctor, sizeof doctor));
      if (sqlite3_column_type(st, 16) != SQLITE_NULL) {
        e->ratings++;
        e->stars += sqlite3_column_int64(st, 16);
      }
    }
    e->consultations += fulfilled;
    e->completed += fulfilled && g_strcmp0(has_c ? col_text(st, 8) : NULL, "interrupted") != 0;
    e->noshows += noshow;
    e->cancellations += cancelled;
    gint64 aid = sqlite3_column_int64(st, 12);
    const QualityFold *qf = fulfilled ? g_hash_table_lookup(folds, &aid) : NULL;
    if (qf != NULL) {
      e->quality++;
      e->fallbacks += qf->weak > 0;
      e->score_milli += qf->score;
      e->loss_ppm += qf->loss;
      e->rtt_ms += qf->rtt;
      e->video_kbps += qf->kbps;
      g_array_append_val(e->losses, qf->loss);
      g_array_append_val(e->rtts, qf->rtt);
      g_array_append_val(e->kbpss, qf->kbps);
    }
    if (fulfilled && has_c) {
      gboolean w = sqlite3_column_type(st, 5) != SQLITE_NULL;
      gboolean s0 = sqlite3_column_type(st, 6) != SQLITE_NULL;
      gboolean e0 = sqlite3_column_type(st, 7) != SQLITE_NULL;
      gint64 waiting = sqlite3_column_int64(st, 5), started = sqlite3_column_int64(st, 6);
      gint64 ended = sqlite3_column_int64(st, 7);
      if (w && s0) {
        int m = (int)MIN(MAX(0, started - MAX(waiting, starts)) / 60, SCHED_STATS_MINUTES_MAX);
        g_array_append_val(e->waits, m);
      }
      if (s0 && e0) {
        int m = (int)MIN(MAX(0, ended - started) / 60, SCHED_STATS_MINUTES_MAX);
        g_array_append_val(e->durations, m);
      }
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

/* Asserts sched_stats_query() gives exactly the brute force's rows. */
static void assert_matches(Fixture *f, guint group_by, gint64 from, gint64 to)
{
  g_autoptr(GError) error = NULL;
  SchedStatsQuery q = {.from = from, .to = to, .group_by = group_by};
  g_autoptr(GPtrArray) rows = sched_stats_query(f->store, &q, &error);
  g_autoptr(GHashTable) expect = brute_force(f->path, group_by, from, to);

  g_assert_no_error(error);
  g_assert_nonnull(rows);
  g_test_message("group_by %u: %u rows", group_by, rows->len);
  g_assert_cmpuint(rows->len, ==, g_hash_table_size(expect));
  for (guint i = 0; i < rows->len; i++) {
    const SchedStatsRow *r = g_ptr_array_index(rows, i);
    g_autofree char *key =
        group_key(r->date, r->district, r->facility_id, r->specialty, r->sex, r->age_band);
    Expect *e = g_hash_table_lookup(expect, key);
    if (e == NULL)
      g_error("unexpected group %s", key);
    g_assert_cmpint(r->consultations, ==, e->consultations);
    g_assert_cmpint(r->completed, ==, e->completed);
    g_assert_cmpint(r->noshows, ==, e->noshows);
    g_assert_cmpint(r->cancellations, ==, e->cancellations);
    g_assert_cmpint(r->waits, ==, e->waits->len);
    g_assert_cmpint(r->durations, ==, e->durations->len);
    g_assert_cmpint(r->wait_p50_min, ==, nearest_rank(e->waits, 50));
    g_assert_cmpint(r->wait_p90_min, ==, nearest_rank(e->waits, 90));
    g_assert_cmpint(r->duration_p50_min, ==, nearest_rank(e->durations, 50));
    gint64 due = e->consultations + e->noshows;
    g_assert_cmpfloat_with_epsilon(r->noshow_rate, due ? (double)e->noshows / due : 0.0, 1e-12);
    g_assert_cmpint(r->quality_consultations, ==, e->quality);
    g_assert_cmpint(r->audio_fallbacks, ==, e->fallbacks);
    const double q = (double)e->quality;
    g_assert_cmpfloat_with_epsilon(r->avg_score, q ? e->score_milli / q / 1000 : -1, 1e-9);
    g_assert_cmpfloat_with_epsilon(r->avg_loss, q ? e->loss_ppm / q / 1e6 : -1, 1e-12);
    g_assert_cmpfloat_with_epsilon(r->avg_rtt_ms, q ? e->rtt_ms / q : -1, 1e-9);
    g_assert_cmpfloat_with_epsilon(r->avg_video_kbps, q ? e->video_kbps / q : -1, 1e-9);
    g_assert_cmpint(r->doctors_active, ==, g_hash_table_size(e->doctors));
    g_assert_cmpint(r->ratings, ==, e->ratings);
    g_assert_cmpfloat_with_epsilon(r->avg_stars, e->ratings ? (double)e->stars / e->ratings : -1,
                                   1e-12);
    g_assert_cmpfloat_with_epsilon(r->median_loss, lower_median_loss(e->losses), 1e-12);
    g_assert_cmpfloat_with_epsilon(r->median_rtt_ms, lower_median(e->rtts, 1), 1e-9);
    g_assert_cmpfloat_with_epsilon(r->median_video_kbps, lower_median(e->kbpss, 1), 1e-9);
    g_assert_cmpint(
        r->small, ==,
        sched_stats_is_small(g_hash_table_size(e->doctors)) || sched_stats_is_small(e->ratings) ||
            sched_stats_is_small(e->consultations) || sched_stats_is_small(e->completed) ||
            sched_stats_is_small(e->quality) || sched_stats_is_small(e->fallbacks) ||
            sched_stats_is_small(e->noshows) || sched_stats_is_small(e->cancellations) ||
            sched_stats_is_small(e->waits->len) || sched_stats_is_small(e->durations->len));
    if (i > 0) { /* ordered by date, district, facility, specialty */
      const SchedStatsRow *p = g_ptr_array_index(rows, i - 1);
      int c = g_strcmp0(p->date, r->date);
      if (c == 0)
        c = g_strcmp0(p->district, r->district);
      if (c == 0)
        c = (p->facility_id > r->facility_id) - (p->facility_id < r->facility_id);
      if (c == 0)
        c = g_strcmp0(p->specialty, r->specialty);
      if (c == 0)
        c = g_strcmp0(p->sex, r->sex);
      if (c == 0)
        c = g_strcmp0(p->age_band, r->age_band);
      g_assert_cmpint(c, <, 0);
    }
  }
}

static const guint groupings[] = {
    0,
    SCHED_STATS_BY_DAY,
    SCHED_STATS_BY_DAY | SCHED_STATS_BY_FACILITY,
    SCHED_STATS_BY_WEEK | SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_SPECIALTY,
    SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY | SCHED_STATS_BY_SPECIALTY,
    SCHED_STATS_BY_SPECIALTY,
    SCHED_STATS_BY_DISTRICT,
    /* schema 8: patient groups, read from the appointments instead of the summary */
    SCHED_STATS_BY_SEX,
    SCHED_STATS_BY_AGE_BAND,
    SCHED_STATS_BY_DAY | SCHED_STATS_BY_SEX | SCHED_STATS_BY_AGE_BAND,
    SCHED_STATS_BY_WEEK | SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY | SCHED_STATS_BY_SEX,
    SCHED_STATS_BY_SPECIALTY | SCHED_STATS_BY_AGE_BAND,
};

static void assert_all_match(Fixture *f)
{
  for (guint g = 0; g < G_N_ELEMENTS(groupings); g++) {
    assert_matches(f, groupings[g], AT(-40, 0, 0), AT(40, 0, 0));
    assert_matches(f, groupings[g], AT(-3, 13, 0), AT(9, 2, 30)); /* partial days */
  }
}

static char *sql_text_or_null(const char *s)
{
  return s ? g_strdup_printf("'%s'", s) : g_strdup("NULL");
}

static char *sql_offset_or_null(gboolean set, gint64 offset)
{
  return set ? g_strdup_printf("a.starts_at + %" G_GINT64_FORMAT, offset) : g_strdup("NULL");
}

/* Random raw writes: every path that changes the tables, through the triggers. */
static void random_writes(Fixture *f, GRand *rng, int n)
{
  static const char *const statuses[] = {"booked",    "fulfilled", "fulfilled", "noshow",
                                         "cancelled", "arrived",   "pending",   "checked-in"};
  static const char *const outcomes[] = {"completed", "follow-up", "referred", "no-show",
                                         "interrupted"};
  static const char *const reasons[] = {"patient", "hold expired", NULL};
  static const char *const roles[] = {"patient", "doctor", "interpreter", "specialist", "family"};
  sqlite3 *db = raw_open(f->path);
  gint64 count = raw_int(f->path, "SELECT count(*) FROM appointments");

  g_assert_cmpint(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), ==, SQLITE_OK);
  for (int k = 0; k < n; k++) {
    g_autofree char *sql = NULL;
    g_autofree char *reason = sql_text_or_null(reasons[g_rand_int_range(rng, 0, 3)]);
    const char *status = statuses[g_rand_int_range(rng, 0, G_N_ELEMENTS(statuses))];
    int op = g_rand_int_range(rng, 0, 14);
    /* Ids are 1..count: appointments are never deleted here. */
    gint64 id = count > 0 ? g_rand_int_range(rng, 1, (gint32)count + 1) : 0;

    if (op < 4 || id == 0) { /* a new appointment, with or without a service */
      int svc = g_rand_int_range(rng, -1, 4);
      gint64 starts = AT(g_rand_int_range(rng, -30, 30), g_rand_int_range(rng, 0, 24),
                         g_rand_int_range(rng, 0, 60));
      sql = g_strdup_printf(
          "INSERT INTO appointments (doctor_id, patient_id, starts_at, ends_at, status,"
          " created_at, updated_at, service_id, facility_id, kind, cancel_reason)"
          " VALUES (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
          ", %" G_GINT64_FORMAT ", '%s', 1, 1, nullif(%" G_GINT64_FORMAT ", 0),"
          " nullif(%" G_GINT64_FORMAT ", 0), 'walkin', %s)", /* 0: the operator's path */
          f->doctor[k % 2], k % 7 == 6 ? f->patient : f->patients[g_rand_int_range(rng, 0, 6)],
          starts, starts + 900, status, svc < 0 ? 0 : f->service[svc],
          svc < 0 ? 0 : f->facility[svc % 3], reason);
      count++;
    } else if (op < 6) { /* a status change (the engine, or set_status) */
      sql = g_strdup_printf("UPDATE appointments SET status = '%s', cancel_reason = %s"
                            " WHERE id = %" G_GINT64_FORMAT,
                            status, reason, id);
    } else if (op < 7) { /* a reschedule, across local days */
      int shift = g_rand_int_range(rng, -3, 4) * 43200 + 60;
      sql = g_strdup_printf("UPDATE appointments SET starts_at = starts_at + %d,"
                            " ends_at = ends_at + %d WHERE id = %" G_GINT64_FORMAT,
                            shift, shift, id);
    } else if (op < 9) { /* a consultation stamped (insert or update) */
      gint64 w = g_rand_int_range(rng, -1200, 1800);
      /* Now and then over SCHED_STATS_MINUTES_MAX (a day): counted as that value. */
      gboolean huge = g_rand_int_range(rng, 0, 20) == 0;
      gint64 st = w + (huge ? 90000 : g_rand_int_range(rng, -600, 5400));
      gint64 en = st + (huge ? 87000 : g_rand_int_range(rng, -60, 3000));
      g_autofree char *ws = sql_offset_or_null(g_rand_int_range(rng, 0, 5) > 0, w);
      g_autofree char *ss = sql_offset_or_null(g_rand_int_range(rng, 0, 5) > 0, st);
      g_autofree char *es = sql_offset_or_null(g_rand_int_range(rng, 0, 4) > 0, en);
      g_autofree char *os = sql_text_or_null(
          g_rand_int_range(rng, 0, 4) ? outcomes[g_rand_int_range(rng, 0, 5)] : NULL);
      sql = g_strdup_printf("INSERT INTO consultations (appointment_id, waiting_since,"
                            " started_at, ended_at, outcome) SELECT a.id, %s, %s, %s, %s"
                            " FROM appointments a WHERE a.id = %" G_GINT64_FORMAT
                            " ON CONFLICT (appointment_id) DO UPDATE SET"
                            " waiting_since = excluded.waiting_since,"
                            " started_at = excluded.started_at, ended_at = excluded.ended_at,"
                            " outcome = excluded.outcome",
                            ws, ss, es, os, id);
    } else if (op < 10) { /* a consultation record removed */
      sql =
          g_strdup_printf("DELETE FROM consultations WHERE appointment_id = %" G_GINT64_FORMAT, id);
    } else if (op < 12) { /* a call-quality record written (insert, or update by upsert) */
      gint64 samples = g_rand_int_range(rng, 0, 4) == 0 ? 0 : g_rand_int_range(rng, 1, 3600);
      gint64 weak = g_rand_int_range(rng, 0, 3) == 0 ? g_rand_int_range(rng, 1, 600) : 0;
      sql = g_strdup_printf(
          "INSERT INTO consultation_quality (appointment_id, role, samples, avg_score, avg_loss,"
          " avg_rtt_ms, avg_video_kbps, audio_only_weak_s, audio_only_chosen_s, updated_at)"
          " VALUES (%" G_GINT64_FORMAT ", '%s', %" G_GINT64_FORMAT ", %.17g, %.17g, %.17g, %.17g,"
          " %" G_GINT64_FORMAT ", %d, 1) ON CONFLICT (appointment_id, role) DO UPDATE SET"
          " samples = excluded.samples, avg_score = excluded.avg_score,"
          " avg_loss = excluded.avg_loss, avg_rtt_ms = excluded.avg_rtt_ms,"
          " avg_video_kbps = excluded.avg_video_kbps,"
          " audio_only_weak_s = excluded.audio_only_weak_s",
          id, roles[g_rand_int_range(rng, 0, 5)], samples,
          samples ? 1 + 4 * g_rand_double(rng) : 0.0, g_rand_double(rng), 600 * g_rand_double(rng),
          2500 * g_rand_double(rng), weak, g_rand_int_range(rng, 0, 100));
    } else if (op == 13) { /* schema 8: a patient's rating (or its removal) */
      if (g_rand_int_range(rng, 0, 4) == 0)
        sql = g_strdup_printf(
            "DELETE FROM consultation_ratings WHERE appointment_id = %" G_GINT64_FORMAT, id);
      else
        sql = g_strdup_printf("INSERT OR REPLACE INTO consultation_ratings (appointment_id,"
                              " stars, comment, rated_at) VALUES (%" G_GINT64_FORMAT
                              ", %d, 'a comment', 1)",
                              id, g_rand_int_range(rng, 1, 6));
    } else { /* a call-quality record removed */
      sql = g_strdup_printf(
          "DELETE FROM consultation_quality WHERE appointment_id = %" G_GINT64_FORMAT
          " AND role = '%s'",
          id, roles[g_rand_int_range(rng, 0, 5)]);
    }
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
      g_error("%s: %s", sql, msg);
  }
  g_assert_cmpint(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close(db);
}

/* --- Tests ------------------------------------------------------------------------------------ */

static void test_random(Fixture *f, gconstpointer data)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed(GPOINTER_TO_UINT(data));

  assert_all_match(f); /* empty */
  for (int round = 0; round < 4; round++) {
    random_writes(f, rng, 400);
    assert_all_match(f);
  }
}

/* The engine's events through the public API: a booking counts nothing until its
 * consultation ends; a no-show, a cancellation count at once; a lapsed hold never. */
static void test_events(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  SchedStatsQuery q = {.from = AT(-1, 0, 0), .to = AT(2, 0, 0), .group_by = 0};
  gint64 ids[4];
  (void)data;

  SchedAvailability av = {.doctor_id = f->doctor[0],
                          .service_id = f->service[0],
                          .weekday = 1,
                          .start_min = 9 * 60,
                          .end_min = 13 * 60};
  g_assert_cmpint(sched_availability_add(f->store, &av, &error), >, 0);
  g_assert_no_error(error);
  for (int i = 0; i < 4; i++) {
    SchedBookingRequest r = {f->doctor[0], f->service[0], f->patient, AT(0, 9, 15 * i)};
    ids[i] = sched_appointment_book_slot(f->store, &r, AT(-1, 12, 0), NULL, &error);
    g_assert_no_error(error);
  }
  SchedBookingRequest hold = {f->doctor[0], f->service[0], f->patient, AT(0, 11, 0)};
  g_assert_cmpint(sched_appointment_hold(f->store, &hold, AT(-1, 12, 0), &error), >, 0);
  g_assert_no_error(error);
  {
    g_autoptr(GPtrArray) rows = sched_stats_query(f->store, &q, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(rows->len, ==, 0); /* booked and pending count nothing */
  }

  /* ids[0]: waits 7 min past its start, lasts 12 min, ends completed. */
  g_assert_true(sched_consultation_waiting(f->store, ids[0], AT(0, 8, 55), &error));
  g_assert_true(sched_consultation_started(f->store, ids[0], AT(0, 9, 7), &error));
  g_assert_true(sched_consultation_ended(f->store, ids[0], AT(0, 9, 19), "completed", &error));
  g_assert_no_error(error);
  /* ids[1]: cancelled; ids[2]: a no-show by the job; ids[3]: ended as interrupted. */
  g_assert_true(sched_appointment_cancel(f->store, ids[1], "patient", AT(0, 8, 0), &error));
  g_assert_no_error(error);
  g_assert_true(sched_consultation_waiting(f->store, ids[3], AT(0, 9, 44), &error));
  g_assert_true(sched_consultation_started(f->store, ids[3], AT(0, 9, 46), &error));
  g_assert_true(sched_consultation_ended(f->store, ids[3], AT(0, 9, 50), "interrupted", &error));
  g_assert_no_error(error);
  guint n = 0;
  g_assert_true(sched_appointments_mark_noshow(f->store, AT(0, 9, 50), &n, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(n, ==, 1);
  g_assert_true(sched_holds_expire(f->store, AT(0, 10, 0), &n, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(n, ==, 1);

  q.group_by = SCHED_STATS_BY_DAY | SCHED_STATS_BY_FACILITY | SCHED_STATS_BY_SPECIALTY;
  g_autoptr(GPtrArray) rows = sched_stats_query(f->store, &q, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(rows->len, ==, 1);
  SchedStatsRow *r = g_ptr_array_index(rows, 0);
  g_assert_cmpstr(r->date, ==, "2026-01-05");
  g_assert_cmpstr(r->district, ==, "Lahore");
  g_assert_cmpint(r->facility_id, ==, f->facility[0]);
  g_assert_cmpstr(r->specialty, ==, "general");
  g_assert_cmpint(r->consultations, ==, 2);
  g_assert_cmpint(r->completed, ==, 1);
  g_assert_cmpint(r->noshows, ==, 1);
  g_assert_cmpint(r->cancellations, ==, 1);
  g_assert_cmpint(r->waits, ==, 2);
  g_assert_cmpint(r->wait_p50_min, ==, 1); /* waits 7 and 1 (ids[3] waited from 09:45) */
  g_assert_cmpint(r->wait_p90_min, ==, 7);
  g_assert_cmpint(r->duration_p50_min, ==, 4); /* durations 12 and 4 */
  g_assert_cmpfloat_with_epsilon(r->noshow_rate, 1.0 / 3.0, 1e-12);
  g_assert_true(r->small);
  assert_all_match(f);

  /* The next local day (Karachi) and outside the range: nothing. */
  q.from = AT(1, 0, 0);
  g_autoptr(GPtrArray) none = sched_stats_query(f->store, &q, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(none->len, ==, 0);
}

/* Migration 10 undone: its tables (their triggers go with them) and the triggers it put on the
 * older tables. */
#define UNDO_MIGRATION_10                                                                          \
  "DROP TRIGGER stats_visits_appointment_insert; DROP TRIGGER stats_visits_appointment_update;"    \
  " DROP TRIGGER stats_visits_appointment_delete; DROP TRIGGER stats_visits_consultation_insert;"  \
  " DROP TRIGGER stats_visits_consultation_update; DROP TRIGGER stats_visits_consultation_delete;" \
  " DROP TRIGGER stats_visits_fulfilled_insert; DROP TRIGGER stats_visits_fulfilled_quality;"      \
  " DROP TRIGGER stats_visits_fulfilled_stars; DROP TRIGGER stats_visits_fulfilled_delete;"        \
  " DROP TRIGGER stats_visits_patient_update;"                                                     \
  " DROP TRIGGER stats_visits_patient_delete; DROP TABLE stats_visits;"                            \
  " DROP TABLE stats_patient_daily; DELETE FROM schema_migrations WHERE version = 10"

/* Migration 9 undone (after 10): its triggers, tables, columns of stats_daily and record. */
#define UNDO_MIGRATION_9                                                                           \
  UNDO_MIGRATION_10                                                                                \
  ";"                                                                                              \
  "DROP TRIGGER stats_fulfilled_appointment_insert; DROP TRIGGER"                                  \
  " stats_fulfilled_appointment_update; DROP TRIGGER stats_fulfilled_appointment_delete;"          \
  " DROP TRIGGER stats_rating_insert; DROP TRIGGER stats_rating_update;"                           \
  " DROP TRIGGER stats_rating_delete; DROP TRIGGER stats_fulfilled_quality_insert;"                \
  " DROP TRIGGER stats_fulfilled_quality_update; DROP TRIGGER stats_fulfilled_quality_delete;"     \
  " DROP TABLE stats_fulfilled; DROP TABLE stats_doctor_days;"                                     \
  " ALTER TABLE stats_daily DROP COLUMN ratings; ALTER TABLE stats_daily DROP COLUMN "             \
  "stars_sum;"                                                                                     \
  " ALTER TABLE stats_daily DROP COLUMN loss_hist; ALTER TABLE stats_daily DROP COLUMN "           \
  "rtt_hist;"                                                                                      \
  " ALTER TABLE stats_daily DROP COLUMN kbps_hist;"                                                \
  " DELETE FROM schema_migrations WHERE version = 9"

/* Migration 3 on a version-2 database that already holds data. */
static void test_backfill(Fixture *f, gconstpointer data)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed(7);
  g_autoptr(GError) error = NULL;
  (void)data;

  random_writes(f, rng, 1500);
  /* Back to version 2: no summary, no triggers, no record of migrations 3 to 9. */
  sched_store_free(f->store);
  raw_exec(f->path, UNDO_MIGRATION_9);
  raw_exec(f->path, "DROP TABLE consultation_ratings; ALTER TABLE patients DROP COLUMN sex;"
                    " ALTER TABLE patients DROP COLUMN birth_year;"
                    " DELETE FROM schema_migrations WHERE version = 8");
  raw_exec(f->path, "DROP TABLE consultation_messages; DROP TABLE consultation_attachments;"
                    " DROP TABLE consultation_notes; DROP TABLE consultation_advice;"
                    " DELETE FROM schema_migrations WHERE version = 7");
  raw_exec(f->path, "DROP TABLE consent_records; DELETE FROM schema_migrations WHERE version = 6");
  raw_exec(f->path, "DROP TABLE audit_log; ALTER TABLE patients DROP COLUMN erased_at;"
                    " DELETE FROM schema_migrations WHERE version = 5");
  raw_exec(f->path, "DROP TRIGGER stats_quality_appointment_insert;"
                    " DROP TRIGGER stats_quality_appointment_update;"
                    " DROP TRIGGER stats_quality_appointment_delete;"
                    " DROP TABLE consultation_quality;"
                    " ALTER TABLE patients DROP COLUMN prefers_audio_only;"
                    " DELETE FROM schema_migrations WHERE version = 4");
  raw_exec(f->path, "DROP TRIGGER stats_appointment_insert; DROP TRIGGER stats_appointment_update;"
                    " DROP TRIGGER stats_appointment_delete; DROP TRIGGER"
                    " stats_consultation_insert; DROP TRIGGER stats_consultation_update;"
                    " DROP TRIGGER stats_consultation_delete; DROP TABLE stats_daily;"
                    " DELETE FROM schema_migrations WHERE version = 3");
  /* Data written at version 2, which no trigger saw. */
  raw_exec(f->path, "UPDATE appointments SET status = 'fulfilled' WHERE id % 7 = 0");
  g_assert_cmpint(raw_int(f->path, "SELECT max(version) FROM schema_migrations"), ==, 2);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(sched_store_schema_version(f->store), ==, 10);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM stats_daily"), >, 0);
  assert_all_match(f);
  /* And it stays current from then on. */
  random_writes(f, rng, 300);
  assert_all_match(f);
}

/* Migration 9 on a version-8 database with ratings and call quality: the back-fill of the
 * summarised schema-8 figures, then the triggers. */
static void test_backfill_9(Fixture *f, gconstpointer data)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed(9);
  g_autoptr(GError) error = NULL;
  (void)data;

  random_writes(f, rng, 1500);
  sched_store_free(f->store);
  raw_exec(f->path, UNDO_MIGRATION_9);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM consultation_ratings"), >, 0);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM consultation_quality"), >, 0);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(sched_store_schema_version(f->store), ==, 10);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM stats_daily WHERE ratings > 0"), >, 0);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM stats_daily WHERE rtt_hist IS NOT NULL"),
                  >, 0);
  assert_all_match(f);
  random_writes(f, rng, 300);
  assert_all_match(f);
}

/* Schema 10: every grouping by sex or age band gives, from the summary, exactly the rows of
 * the read of the appointments (schema 9's way, sched__stats_query_visits) on the same
 * database: every field, the "small" flag of the privacy rule included. */
static void assert_summary_equals_visits(Fixture *f, guint group_by, gint64 from, gint64 to,
                                         gint64 facility_id)
{
  g_autoptr(GError) error = NULL;
  SchedStatsQuery q = {.from = from, .to = to, .group_by = group_by, .facility_id = facility_id};
  g_autoptr(GPtrArray) fast = sched_stats_query(f->store, &q, &error);
  g_assert_no_error(error);
  g_autoptr(GPtrArray) slow = sched__stats_query_visits(f->store, &q, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(fast->len, ==, slow->len);
  for (guint i = 0; i < fast->len; i++) {
    const SchedStatsRow *a = g_ptr_array_index(fast, i), *b = g_ptr_array_index(slow, i);
    g_assert_cmpstr(a->date, ==, b->date);
    g_assert_cmpstr(a->district, ==, b->district);
    g_assert_cmpint(a->facility_id, ==, b->facility_id);
    g_assert_cmpstr(a->specialty, ==, b->specialty);
    g_assert_cmpstr(a->sex, ==, b->sex);
    g_assert_cmpstr(a->age_band, ==, b->age_band);
    g_assert_cmpint(a->consultations, ==, b->consultations);
    g_assert_cmpint(a->completed, ==, b->completed);
    g_assert_cmpint(a->noshows, ==, b->noshows);
    g_assert_cmpint(a->cancellations, ==, b->cancellations);
    g_assert_cmpfloat(a->noshow_rate, ==, b->noshow_rate);
    g_assert_cmpint(a->waits, ==, b->waits);
    g_assert_cmpint(a->wait_p50_min, ==, b->wait_p50_min);
    g_assert_cmpint(a->wait_p90_min, ==, b->wait_p90_min);
    g_assert_cmpint(a->durations, ==, b->durations);
    g_assert_cmpint(a->duration_p50_min, ==, b->duration_p50_min);
    g_assert_cmpint(a->quality_consultations, ==, b->quality_consultations);
    g_assert_cmpint(a->audio_fallbacks, ==, b->audio_fallbacks);
    g_assert_cmpfloat(a->avg_score, ==, b->avg_score);
    g_assert_cmpfloat(a->avg_loss, ==, b->avg_loss);
    g_assert_cmpfloat(a->avg_rtt_ms, ==, b->avg_rtt_ms);
    g_assert_cmpfloat(a->avg_video_kbps, ==, b->avg_video_kbps);
    g_assert_cmpint(a->small, ==, b->small);
    g_assert_cmpint(a->doctors_active, ==, b->doctors_active);
    g_assert_cmpint(a->ratings, ==, b->ratings);
    g_assert_cmpfloat(a->avg_stars, ==, b->avg_stars);
    g_assert_cmpfloat(a->median_loss, ==, b->median_loss);
    g_assert_cmpfloat(a->median_rtt_ms, ==, b->median_rtt_ms);
    g_assert_cmpfloat(a->median_video_kbps, ==, b->median_video_kbps);
  }
}

static void assert_patient_summary(Fixture *f)
{
  static const guint by[] = {
      SCHED_STATS_BY_SEX,
      SCHED_STATS_BY_AGE_BAND,
      SCHED_STATS_BY_DAY | SCHED_STATS_BY_SEX,
      SCHED_STATS_BY_WEEK | SCHED_STATS_BY_AGE_BAND,
      SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY | SCHED_STATS_BY_SPECIALTY |
          SCHED_STATS_BY_SEX,
      SCHED_STATS_BY_DAY | SCHED_STATS_BY_FACILITY | SCHED_STATS_BY_AGE_BAND,
      SCHED_STATS_BY_SPECIALTY | SCHED_STATS_BY_SEX | SCHED_STATS_BY_AGE_BAND, /* not summarised */
  };
  for (guint i = 0; i < G_N_ELEMENTS(by); i++) {
    assert_summary_equals_visits(f, by[i], AT(-40, 0, 0), AT(40, 0, 0), 0);
    /* Edges inside the data, and one facility. */
    assert_summary_equals_visits(f, by[i], AT(-3, 7, 0), AT(4, 2, 0), 0);
    assert_summary_equals_visits(f, by[i], AT(-40, 0, 0), AT(40, 0, 0), f->facility[1]);
  }
}

/* Random writes, then patients' sex and birth year changed (each change moves every
 * appointment of theirs to another group), patients added with and without them. The random
 * days span 1 January, where a patient born in 2008 moves from 0-17 to 18-39. */
static void test_patient_summary(Fixture *f, gconstpointer data)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed(10);
  static const char *const sexes[] = {"'female'", "'male'", "'other'", "NULL"};
  static const char *const years[] = {"2008", "1966", "NULL", "1985", "2026"};
  (void)data;

  assert_patient_summary(f); /* empty */
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM stats_patient_daily"), ==, 0);
  for (int round = 0; round < 4; round++) {
    random_writes(f, rng, 400);
    assert_patient_summary(f);
    for (int k = 0; k < 3; k++) {
      g_autofree char *sql = g_strdup_printf(
          "UPDATE patients SET sex = %s, birth_year = %s WHERE id = %" G_GINT64_FORMAT,
          sexes[g_rand_int_range(rng, 0, 4)], years[g_rand_int_range(rng, 0, 5)],
          f->patients[g_rand_int_range(rng, 0, 6)]);
      raw_exec(f->path, sql);
    }
    assert_patient_summary(f);
  }
  /* The summary holds what was asked for: both groupings, several days, no all-zero rows. */
  g_assert_cmpint(raw_int(f->path, "SELECT count(DISTINCT grouped_by) FROM stats_patient_daily"),
                  ==, 2);
  g_assert_cmpint(raw_int(f->path, "SELECT count(DISTINCT day) FROM stats_patient_daily"), >, 30);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM stats_patient_daily WHERE"
                                   " consultations = 0 AND noshows = 0 AND cancellations = 0"),
                  ==, 0);
  /* And agrees with the brute force over the raw tables. */
  assert_all_match(f);
}

/* Migration 10 on a version-9 database that already holds data: the back-fill gives the rows
 * the triggers keep. */
static void test_backfill_10(Fixture *f, gconstpointer data)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed(11);
  g_autoptr(GError) error = NULL;
  (void)data;

  random_writes(f, rng, 1500);
  g_autofree char *kept = g_strdup_printf(
      "%" G_GINT64_FORMAT, raw_int(f->path, "SELECT count(*) FROM stats_patient_daily"));
  sched_store_free(f->store);
  raw_exec(f->path, UNDO_MIGRATION_10);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(sched_store_schema_version(f->store), ==, 10);
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM stats_patient_daily"), ==,
                  g_ascii_strtoll(kept, NULL, 10));
  assert_patient_summary(f);
  random_writes(f, rng, 300);
  assert_patient_summary(f);
  assert_all_match(f);
}

/* Schema 8: a patient's sex and birth year are checked, stored and read back; the age bands'
 * edges. */
static void test_demographics(Fixture *f, gconstpointer data)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  const int year = g_date_time_get_year(now);
  const struct {
    const char *sex;
    int birth_year;
    const char *field; /* NULL: accepted */
  } cases[] = {
      {"female", 1984, NULL},       {NULL, 0, NULL},
      {"other", year, NULL},        {"Female", 1984, "sex"},
      {"unknown", 0, "sex"},        {"", 0, "sex"},
      {"male", 1899, "birth_year"}, {"male", year + 1, "birth_year"},
      {NULL, -5, "birth_year"},
  };
  (void)data;
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    gint64 before = raw_int(f->path, "SELECT count(*) FROM patients");
    const SchedPatientSpec spec = {
        .display_name = "Demo", .sex = cases[i].sex, .birth_year = cases[i].birth_year};
    gint64 id = sched_patient_create(f->store, &spec, &error);
    if (cases[i].field == NULL) {
      g_assert_no_error(error);
      g_autoptr(SchedPatient) p = sched_patient_get(f->store, id, &error);
      g_assert_no_error(error);
      g_assert_cmpstr(p->sex, ==, cases[i].sex);
      g_assert_cmpint(p->birth_year, ==, cases[i].birth_year);
    } else {
      g_assert_cmpint(id, ==, 0);
      g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
      g_autofree char *field = sched_error_field(error);
      g_assert_cmpstr(field, ==, cases[i].field);
      g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM patients"), ==, before);
    }
  }
  g_assert_cmpstr(sched_stats_age_band(2000, 2017), ==, "0-17");
  g_assert_cmpstr(sched_stats_age_band(2000, 2018), ==, "18-39");
  g_assert_cmpstr(sched_stats_age_band(2000, 2039), ==, "18-39");
  g_assert_cmpstr(sched_stats_age_band(2000, 2040), ==, "40-59");
  g_assert_cmpstr(sched_stats_age_band(2000, 2060), ==, "60+");
  g_assert_cmpstr(sched_stats_age_band(2000, 2000), ==, "0-17");
  g_assert_cmpstr(sched_stats_age_band(2001, 2000), ==, "unknown");
  g_assert_cmpstr(sched_stats_age_band(0, 2000), ==, "unknown");
}

static void test_invalid(Fixture *f, gconstpointer data)
{
  static const struct {
    SchedStatsQuery q;
    SchedError code;
    const char *field;
  } cases[] = {
      {{.from = 0, .to = DAY0}, SCHED_ERROR_INVALID, "from"},
      {{.from = DAY0, .to = DAY0}, SCHED_ERROR_INVALID, "to"},
      {{.from = DAY0, .to = DAY0 + 3661LL * 86400}, SCHED_ERROR_INVALID, "to"},
      {{.from = DAY0, .to = DAY0 + 1, .group_by = 1 << 9}, SCHED_ERROR_INVALID, "group_by"},
      {{.from = DAY0, .to = DAY0 + 1, .group_by = SCHED_STATS_BY_DAY | SCHED_STATS_BY_WEEK},
       SCHED_ERROR_INVALID,
       "group_by"},
      {{.from = DAY0, .to = DAY0 + 1, .facility_id = 999}, SCHED_ERROR_NOT_FOUND, "facility_id"},
  };
  (void)data;
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) rows = sched_stats_query(f->store, &cases[i].q, &error);
    g_assert_null(rows);
    g_assert_error(error, SCHED_ERROR, (gint)cases[i].code);
    g_autofree char *field = sched_error_field(error);
    g_assert_cmpstr(field, ==, cases[i].field);
  }
  g_assert_false(sched_stats_is_small(0));
  g_assert_true(sched_stats_is_small(1));
  g_assert_true(sched_stats_is_small(4));
  g_assert_false(sched_stats_is_small(5));
}

/* A facility filter keeps only that facility's rows. */
static void test_facility_filter(Fixture *f, gconstpointer data)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed(11);
  g_autoptr(GError) error = NULL;
  (void)data;
  random_writes(f, rng, 600);
  SchedStatsQuery all = {
      .from = AT(-40, 0, 0), .to = AT(40, 0, 0), .group_by = SCHED_STATS_BY_FACILITY};
  SchedStatsQuery one = all;
  one.facility_id = f->facility[1];
  one.group_by = 0;
  g_autoptr(GPtrArray) a = sched_stats_query(f->store, &all, &error);
  g_assert_no_error(error);
  g_autoptr(GPtrArray) o = sched_stats_query(f->store, &one, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(o->len, ==, 1);
  gboolean found = FALSE;
  for (guint i = 0; i < a->len; i++) {
    SchedStatsRow *r = g_ptr_array_index(a, i);
    if (r->facility_id != f->facility[1])
      continue;
    SchedStatsRow *x = g_ptr_array_index(o, 0);
    g_assert_cmpint(r->consultations, ==, x->consultations);
    g_assert_cmpint(r->noshows, ==, x->noshows);
    g_assert_cmpint(r->cancellations, ==, x->cancellations);
    g_assert_cmpint(r->wait_p90_min, ==, x->wait_p90_min);
    found = TRUE;
  }
  g_assert_true(found);
}

/* The call-quality calls through the public API: records are upserted by (appointment, role),
 * checked field by field, counted in the statistics once (and only while) the appointment is
 * fulfilled; a patient's audio-only choice is remembered. */
static void test_quality(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  SchedStatsQuery q = {.from = AT(-1, 0, 0), .to = AT(2, 0, 0), .group_by = 0};
  (void)data;

  SchedAvailability av = {.doctor_id = f->doctor[0],
                          .service_id = f->service[0],
                          .weekday = 1,
                          .start_min = 9 * 60,
                          .end_min = 13 * 60};
  g_assert_cmpint(sched_availability_add(f->store, &av, &error), >, 0);
  g_assert_no_error(error);
  gint64 ids[2];
  for (int i = 0; i < 2; i++) {
    SchedBookingRequest r = {f->doctor[0], f->service[0], f->patient, AT(0, 9, 15 * i)};
    ids[i] = sched_appointment_book_slot(f->store, &r, AT(-1, 12, 0), NULL, &error);
    g_assert_no_error(error);
  }

  /* During the call: written every minute, not counted yet (the appointment is not fulfilled). */
  SchedCallQuality rec[2] = {
      {.appointment_id = ids[0],
       .role = (char *)"patient",
       .samples = 60,
       .avg_score = 3.5,
       .avg_loss = 0.04,
       .avg_rtt_ms = 180,
       .avg_video_kbps = 300,
       .audio_only_weak_s = 0,
       .updated_at = AT(0, 9, 10)},
      {.appointment_id = ids[0],
       .role = (char *)"doctor",
       .samples = 60,
       .avg_score = 4.5,
       .avg_loss = 0.0,
       .avg_rtt_ms = 20,
       .avg_video_kbps = 900,
       .updated_at = AT(0, 9, 10)},
  };
  g_assert_true(sched_consultation_waiting(f->store, ids[0], AT(0, 8, 58), &error));
  g_assert_true(sched_consultation_started(f->store, ids[0], AT(0, 9, 0), &error));
  g_assert_true(sched_consultation_quality_put(f->store, rec, 2, &error));
  g_assert_no_error(error);
  {
    g_autoptr(GPtrArray) rows = sched_stats_query(f->store, &q, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(rows->len, ==, 0);
  }
  /* The last write, at the end: the patient's video paused 40 s for a weak link, 30 s chosen. */
  rec[0].samples = 120;
  rec[0].avg_score = 3.0;
  rec[0].audio_only_weak_s = 40;
  rec[0].audio_only_chosen_s = 30;
  rec[0].updated_at = AT(0, 9, 11);
  rec[1].samples = 120;
  g_assert_true(sched_consultation_quality_put(f->store, rec, 2, &error));
  g_assert_true(sched_consultation_ended(f->store, ids[0], AT(0, 9, 12), "completed", &error));
  g_assert_no_error(error);

  g_autoptr(GPtrArray) list = sched_consultation_quality_list(f->store, ids[0], &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  const SchedCallQuality *doc = g_ptr_array_index(list, 0), *pat = g_ptr_array_index(list, 1);
  g_assert_cmpstr(doc->role, ==, "doctor");
  g_assert_cmpstr(pat->role, ==, "patient");
  g_assert_cmpint(pat->samples, ==, 120);
  g_assert_cmpfloat(pat->avg_score, ==, 3.0);
  g_assert_cmpfloat(pat->avg_loss, ==, 0.04);
  g_assert_cmpint(pat->audio_only_weak_s, ==, 40);
  g_assert_cmpint(pat->audio_only_chosen_s, ==, 30);
  g_assert_cmpint(pat->updated_at, ==, AT(0, 9, 11));
  g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM consultation_quality"), ==, 2);

  {
    g_autoptr(GPtrArray) rows = sched_stats_query(f->store, &q, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(rows->len, ==, 1);
    const SchedStatsRow *r = g_ptr_array_index(rows, 0);
    g_assert_cmpint(r->quality_consultations, ==, 1);
    g_assert_cmpint(r->audio_fallbacks, ==, 1);
    g_assert_cmpfloat_with_epsilon(r->avg_score, 3.75, 1e-9); /* (3.0 + 4.5) / 2, equal samples */
    g_assert_cmpfloat_with_epsilon(r->avg_loss, 0.02, 1e-9);
    g_assert_cmpfloat_with_epsilon(r->avg_rtt_ms, 100, 1e-9);
    g_assert_cmpfloat_with_epsilon(r->avg_video_kbps, 600, 1e-9);
    g_assert_true(r->small);
  }
  assert_all_match(f);

  /* A second consultation, with a clean link. */
  SchedCallQuality clean = {.appointment_id = ids[1],
                            .role = (char *)"patient",
                            .samples = 10,
                            .avg_score = 5,
                            .avg_loss = 0,
                            .avg_rtt_ms = 0,
                            .avg_video_kbps = 1200,
                            .updated_at = AT(0, 9, 30)};
  g_assert_true(sched_consultation_quality_put(f->store, &clean, 1, &error));
  g_assert_true(sched_consultation_ended(f->store, ids[1], AT(0, 9, 35), "follow-up", &error));
  g_assert_no_error(error);
  {
    g_autoptr(GPtrArray) rows = sched_stats_query(f->store, &q, &error);
    g_assert_no_error(error);
    const SchedStatsRow *r = g_ptr_array_index(rows, 0);
    g_assert_cmpint(r->quality_consultations, ==, 2);
    g_assert_cmpint(r->audio_fallbacks, ==, 1);
    g_assert_cmpfloat_with_epsilon(r->avg_score, (3.75 + 5) / 2, 1e-9);
  }
  assert_all_match(f);

  /* Refusals: nothing written. */
  g_autofree char *before = raw_dump(f->path);
  static const struct {
    const char *field;
    SchedError code;
  } bad[] = {
      {"appointment_id", SCHED_ERROR_NOT_FOUND}, {"role", SCHED_ERROR_INVALID},
      {"samples", SCHED_ERROR_INVALID},          {"avg_score", SCHED_ERROR_INVALID},
      {"avg_loss", SCHED_ERROR_INVALID},         {"avg_rtt_ms", SCHED_ERROR_INVALID},
      {"avg_video_kbps", SCHED_ERROR_INVALID},   {"audio_only_weak_s", SCHED_ERROR_INVALID},
      {"updated_at", SCHED_ERROR_INVALID},       {"appointment_id", SCHED_ERROR_NOT_FOUND},
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) e = NULL;
    SchedCallQuality two[2] = {clean, clean};
    SchedCallQuality *x = &two[1]; /* the second is bad: the first must not stay written */
    two[0].role = (char *)"doctor";
    switch (i) {
    case 0:
      x->appointment_id = 0;
      break;
    case 1:
      x->role = (char *)"nurse";
      break;
    case 2:
      x->samples = -1;
      break;
    case 3:
      x->avg_score = 5.5;
      break;
    case 4:
      x->avg_loss = 1.5;
      break;
    case 5:
      x->avg_rtt_ms = NAN;
      break;
    case 6:
      x->avg_video_kbps = -1;
      break;
    case 7:
      x->audio_only_weak_s = -1;
      break;
    case 8:
      x->updated_at = 0;
      break;
    case 9:
      x->appointment_id = 999999;
      break;
    }
    g_assert_false(sched_consultation_quality_put(f->store, two, 2, &e));
    g_assert_error(e, SCHED_ERROR, (gint)bad[i].code);
    g_autofree char *field = sched_error_field(e);
    g_assert_cmpstr(field, ==, bad[i].field);
  }
  g_autofree char *after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);

  /* The patient's audio-only choice. */
  g_autoptr(SchedPatient) p0 = sched_patient_get(f->store, f->patient, &error);
  g_assert_no_error(error);
  g_assert_false(p0->prefers_audio_only);
  g_assert_true(sched_patient_set_audio_only(f->store, f->patient, TRUE, &error));
  g_assert_no_error(error);
  g_autoptr(SchedPatient) p1 = sched_patient_get(f->store, f->patient, &error);
  g_assert_true(p1->prefers_audio_only);
  g_assert_true(sched_patient_set_audio_only(f->store, f->patient, FALSE, &error));
  g_autoptr(SchedPatient) p2 = sched_patient_get(f->store, f->patient, &error);
  g_assert_false(p2->prefers_audio_only);
  g_assert_false(sched_patient_set_audio_only(f->store, 424242, TRUE, &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
}

int main(int argc, char *argv[])
{
  g_test_init(&argc, &argv, NULL);
  for (guint seed = 1; seed <= 3; seed++) {
    g_autofree char *name = g_strdup_printf("/sched/stats/random/%u", seed);
    g_test_add(name, Fixture, GUINT_TO_POINTER(seed), fixture_set_up, test_random,
               fixture_tear_down);
  }
  g_test_add("/sched/stats/demographics", Fixture, NULL, fixture_set_up, test_demographics,
             fixture_tear_down);
  g_test_add("/sched/stats/events", Fixture, NULL, fixture_set_up, test_events, fixture_tear_down);
  g_test_add("/sched/stats/backfill", Fixture, NULL, fixture_set_up, test_backfill,
             fixture_tear_down);
  g_test_add("/sched/stats/patient-summary", Fixture, NULL, fixture_set_up, test_patient_summary,
             fixture_tear_down);
  g_test_add("/sched/stats/backfill-10", Fixture, NULL, fixture_set_up, test_backfill_10,
             fixture_tear_down);
  g_test_add("/sched/stats/backfill-9", Fixture, NULL, fixture_set_up, test_backfill_9,
             fixture_tear_down);
  g_test_add("/sched/stats/invalid", Fixture, NULL, fixture_set_up, test_invalid,
             fixture_tear_down);
  g_test_add("/sched/stats/quality", Fixture, NULL, fixture_set_up, test_quality,
             fixture_tear_down);
  g_test_add("/sched/stats/facility-filter", Fixture, NULL, fixture_set_up, test_facility_filter,
             fixture_tear_down);
  return g_test_run();
}
