/* sched-stats.c — the scheduler's statistics (scheduler.h, "Statistics"): argument checks,
 * grouping of the daily summary's rows, percentiles; and the summary's histogram encoding and
 * local-day rule, shared with the SQLite side (sched-stats-backend.h). */
#include "sched-private.h"
#include "sched-stats-backend.h"

#include <string.h>

/* --- Histograms and days (pure) ------------------------------------------------------------- */

gboolean sched__stats_hist_accumulate(const guint8 *bytes, gsize len, gint64 *counts, gsize n)
{
  if (!sched__stats_hist_valid(bytes, len))
    return FALSE;
  for (gsize off = 0; off < len; off += SCHED__STATS_HIST_ENTRY) {
    guint32 minute;
    gint32 count;
    sched__stats_hist_entry(bytes + off, &minute, &count);
    if (minute < n)
      counts[minute] += count;
  }
  return TRUE;
}

guint8 *sched__stats_hist_encode(const gint64 *counts, gsize n, gsize *len)
{
  gsize used = 0;
  guint8 *bytes, *p;

  for (gsize i = 0; i < n; i++)
    used += counts[i] != 0;
  *len = used * SCHED__STATS_HIST_ENTRY;
  if (used == 0)
    return NULL;
  p = bytes = g_malloc(*len);
  for (gsize i = 0; i < n; i++) {
    if (counts[i] == 0)
      continue;
    guint32 minute = GUINT32_TO_LE((guint32)i);
    gint32 count = GINT32_TO_LE((gint32)CLAMP(counts[i], G_MININT32, G_MAXINT32));
    memcpy(p, &minute, 4);
    memcpy(p + 4, &count, 4);
    p += SCHED__STATS_HIST_ENTRY;
  }
  return bytes;
}

gint64 sched__stats_local_day(GTimeZone *zone, gint64 t)
{
  gint64 local =
      t + g_time_zone_get_offset(zone, g_time_zone_find_interval(zone, G_TIME_TYPE_UNIVERSAL, t));
  /* Floor division: days before 1970 are negative. */
  return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

/* --- Query ------------------------------------------------------------------------------------ */

#define HIST_N (SCHED_STATS_MINUTES_MAX + 1)
#define ALL_GROUPS                                                                                 \
  (SCHED_STATS_BY_DAY | SCHED_STATS_BY_WEEK | SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY |  \
   SCHED_STATS_BY_SPECIALTY | SCHED_STATS_BY_SEX | SCHED_STATS_BY_AGE_BAND)
/* Groups the daily summary cannot tell apart: the figures then come from the visits alone. */
#define PATIENT_GROUPS (SCHED_STATS_BY_SEX | SCHED_STATS_BY_AGE_BAND)

/* A histogram grown to the largest minute seen (waits are mostly under an hour: a few hundred
 * bytes per group instead of SCHED_STATS_MINUTES_MAX + 1 counts). */
typedef struct {
  gint64 *counts; /* NULL if empty */
  gsize n;
} Hist;

static gboolean hist_add(Hist *h, const guint8 *bytes, gsize len)
{
  if (!sched__stats_hist_valid(bytes, len))
    return FALSE;
  for (gsize off = 0; off < len; off += SCHED__STATS_HIST_ENTRY) {
    guint32 minute;
    gint32 count;
    sched__stats_hist_entry(bytes + off, &minute, &count);
    minute = MIN(minute, (guint32)SCHED_STATS_MINUTES_MAX);
    if (minute >= h->n) {
      gsize n = MAX((gsize)minute + 1, h->n * 2);
      n = MIN(n, (gsize)HIST_N);
      h->counts = g_renew(gint64, h->counts, n);
      memset(h->counts + h->n, 0, (n - h->n) * sizeof(gint64));
      h->n = n;
    }
    h->counts[minute] += count;
  }
  return TRUE;
}

/* A value histogram (schema 9: loss, RTT, video rate; sched-stats-backend.h): a list of the
 * entries read while it is short (a group of a day holds a few dozen values: a dense array of
 * thousands of counts per group would cost megabytes over a year of days), dense counts up to
 * the largest index once it is long (a group of a year merges hundreds of thousands). */
typedef struct {
  guint32 index;
  gint32 count;
} VEntry;

typedef struct {
  GArray *entries; /* VEntry, unsorted; NULL if empty or dense */
  gint64 *counts;  /* dense: NULL until the list grows past VHIST_LIST_MAX */
  gsize n;
} VHist;

#define VHIST_LIST_MAX 4096

static void vhist_dense_add(VHist *h, guint32 index, gint64 count)
{
  if (index >= h->n) {
    gsize n = MAX((gsize)index + 1, h->n * 2);
    h->counts = g_renew(gint64, h->counts, n);
    memset(h->counts + h->n, 0, (n - h->n) * sizeof(gint64));
    h->n = n;
  }
  h->counts[index] += count;
}

/* Adds one entry; `index` is clamped to `cap` (the largest bucket). */
static void vhist_add_one(VHist *h, guint32 index, gint32 count, guint32 cap)
{
  index = MIN(index, cap);
  if (h->counts != NULL) {
    vhist_dense_add(h, index, count);
    return;
  }
  if (h->entries == NULL)
    h->entries = g_array_new(FALSE, FALSE, sizeof(VEntry));
  VEntry e = {index, count};
  g_array_append_val(h->entries, e);
  if (h->entries->len > VHIST_LIST_MAX) {
    GArray *list = h->entries;
    h->entries = NULL;
    h->counts = g_new0(gint64, 1);
    h->n = 1;
    for (guint i = 0; i < list->len; i++)
      vhist_dense_add(h, g_array_index(list, VEntry, i).index,
                      g_array_index(list, VEntry, i).count);
    g_array_unref(list);
  }
}

static gboolean vhist_add(VHist *h, const guint8 *bytes, gsize len, guint32 cap)
{
  if (!sched__stats_hist_valid(bytes, len))
    return FALSE;
  for (gsize off = 0; off < len; off += SCHED__STATS_HIST_ENTRY) {
    guint32 index;
    gint32 count;
    sched__stats_hist_entry(bytes + off, &index, &count);
    vhist_add_one(h, index, count, cap);
  }
  return TRUE;
}

static void vhist_clear(VHist *h)
{
  if (h->entries)
    g_array_unref(h->entries);
  g_free(h->counts);
}

static int cmp_ventry(gconstpointer a, gconstpointer b)
{
  guint32 x = ((const VEntry *)a)->index, y = ((const VEntry *)b)->index;
  return (x > y) - (x < y);
}

/* The smallest index whose entries, with all smaller ones, count `rank` (>= 1) or more, among
 * v[0..len) with counts >= 0 and a total >= rank: a weighted quickselect, O(len) on average (a
 * sort per group was a tenth of a query grouped by day and facility: 7,160 groups). Reorders
 * v. */
static guint32 ventry_select(VEntry *v, gsize len, gint64 rank)
{
  for (;;) {
    guint32 pivot = v[len / 2].index;
    gsize lt = 0, i = 0, gt = len; /* [0, lt) < pivot, [lt, i) == pivot, [gt, len) > pivot */
    gint64 below = 0, equal = 0;
    while (i < gt) {
      VEntry e = v[i];
      if (e.index < pivot) {
        below += e.count;
        v[i++] = v[lt];
        v[lt++] = e;
      } else if (e.index > pivot) {
        v[i] = v[--gt];
        v[gt] = e;
      } else {
        equal += e.count;
        i++;
      }
    }
    if (rank <= below) {
      len = lt;
    } else if (rank <= below + equal) {
      return pivot;
    } else {
      rank -= below + equal;
      v += gt;
      len -= gt;
    }
  }
}

/* The nearest-rank median (the lower one for an even count) of a value histogram: its bucket's
 * lower bound, index x `step` / `unit`; -1 if empty. */
static double vhist_median(VHist *h, double step, double unit)
{
  gint64 n = 0, rank, seen = 0;

  if (h->counts != NULL) {
    for (gsize i = 0; i < h->n; i++)
      n += h->counts[i];
    rank = (n + 1) / 2;
    for (gsize i = 0; n > 0 && i < h->n; i++) {
      seen += h->counts[i];
      if (seen >= rank)
        return (double)i * step / unit;
    }
    return -1.0;
  }
  if (h->entries == NULL)
    return -1.0;
  {
    gboolean negative = FALSE;
    for (guint i = 0; i < h->entries->len; i++) {
      n += g_array_index(h->entries, VEntry, i).count;
      negative = negative || g_array_index(h->entries, VEntry, i).count < 0;
    }
    if (n <= 0)
      return -1.0;
    if (!negative) /* always, unless a summary row is wrong: then the scan below, as before */
      return (double)ventry_select((VEntry *)h->entries->data, h->entries->len, (n + 1) / 2) *
             step / unit;
    n = 0;
  }
  g_array_sort(h->entries, cmp_ventry);
  for (guint i = 0; i < h->entries->len; i++)
    n += g_array_index(h->entries, VEntry, i).count;
  rank = (n + 1) / 2;
  for (guint i = 0; n > 0 && i < h->entries->len; i++) {
    seen += g_array_index(h->entries, VEntry, i).count;
    if (seen >= rank)
      return (double)g_array_index(h->entries, VEntry, i).index * step / unit;
  }
  return -1.0;
}

#define LOSS_CAP (SCHED__STATS_LOSS_CAP_PPM / SCHED__STATS_LOSS_STEP_PPM)

typedef struct {
  gint64 day; /* the day, the week's Monday, or G_MININT64 when not grouped by time */
  char *district;
  gint64 facility_id;
  char *specialty;
  gint64 consultations, completed, noshows, cancellations;
  Hist waits, durations;
  gint64 quality_consultations, audio_fallbacks;
  gint64 score_milli_sum, loss_ppm_sum, rtt_ms_sum, video_kbps_sum;
  const char *sex, *age_band; /* static strings, or NULL when not grouped by them */
  /* Schema 8: from the summary (schema 9), or the visits when grouped by patient fields */
  GHashTable *doctors; /* doctor ids (gint64 *, owned) with a consultation; NULL if none */
  gint64 ratings, stars_sum;
  VHist loss, rtt, kbps; /* per quality consultation (sched-stats-backend.h) */
} Group;

static void group_free(gpointer p)
{
  Group *g = p;
  g_free(g->district);
  g_free(g->specialty);
  g_free(g->waits.counts);
  g_free(g->durations.counts);
  if (g->doctors)
    g_hash_table_unref(g->doctors);
  vhist_clear(&g->loss);
  vhist_clear(&g->rtt);
  vhist_clear(&g->kbps);
  g_free(g);
}

typedef struct {
  guint group_by;
  gint64 facility_id;
  GHashTable *groups; /* set of Group (owned), hashed on its key fields */
  /* The doctor rows come in key order: the last row's (day, facility, service) and group. */
  gint64 last_day, last_facility_id, last_service_id;
  Group *last;
} Collect;

/* Groups are hashed on their key fields themselves (a formatted key string per row cost a
 * tenth of a query over 28,640 summary rows). NULL and "" are different districts and
 * specialties. */
static guint group_hash(gconstpointer p)
{
  const Group *g = p;
  guint h = g_int64_hash(&g->day);
  h = h * 31 + g_int64_hash(&g->facility_id);
  h = h * 31 + (g->district ? g_str_hash(g->district) : 0x9e37u);
  h = h * 31 + (g->specialty ? g_str_hash(g->specialty) : 0x9e37u);
  h = h * 31 + (g->sex ? g_str_hash(g->sex) : 0x9e37u);
  return h * 31 + (g->age_band ? g_str_hash(g->age_band) : 0x9e37u);
}

static gboolean group_equal(gconstpointer pa, gconstpointer pb)
{
  const Group *a = pa, *b = pb;
  return a->day == b->day && a->facility_id == b->facility_id &&
         g_strcmp0(a->district, b->district) == 0 && g_strcmp0(a->specialty, b->specialty) == 0 &&
         g_strcmp0(a->sex, b->sex) == 0 && g_strcmp0(a->age_band, b->age_band) == 0;
}

/* The group of a row or visit: `key` holds its grouped fields (the others as in Group's zero
 * value), found or created in c->groups. */
static Group *group_of(Collect *c, const Group *key)
{
  Group *g = g_hash_table_lookup(c->groups, key);
  if (g == NULL) {
    g = g_new0(Group, 1);
    g->day = key->day;
    g->district = g_strdup(key->district);
    g->facility_id = key->facility_id;
    g->specialty = g_strdup(key->specialty);
    g->sex = key->sex;
    g->age_band = key->age_band;
    g_hash_table_add(c->groups, g);
  }
  return g;
}

/* The place-and-time part of a key, shared by summary rows and visits. */
static void key_of(guint by, gint64 day, const char *district, gint64 facility_id,
                   const char *specialty, Group *key)
{
  key->day = G_MININT64;
  if (by & SCHED_STATS_BY_DAY)
    key->day = day;
  else if (by & SCHED_STATS_BY_WEEK) /* 1970-01-01 was a Thursday: Monday-based weeks */
    key->day = day - ((day + 3) % 7 + 7) % 7;
  if (by & (SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY))
    key->district = (char *)district;
  if (by & SCHED_STATS_BY_FACILITY)
    key->facility_id = facility_id;
  if (by & SCHED_STATS_BY_SPECIALTY)
    key->specialty = (char *)specialty;
}

static void doctor_add(Group *g, gint64 doctor_id);

/* The static name of a stored sex or age band (stats_patient_daily), "unknown" if it is none of
 * `names` (NULL-terminated). */
static const char *name_of(const char *stored, const char *const *names)
{
  for (; stored != NULL && *names != NULL; names++)
    if (strcmp(stored, *names) == 0)
      return *names;
  return "unknown";
}

static const char *const sex_names[] = {"female", "male", "other", NULL};
static const char *const band_names[] = {"0-17", "18-39", "40-59", "60+", NULL};

static gboolean collect_row(const SchedStatsDaily *row, gpointer user_data, GError **error)
{
  Collect *c = user_data;
  Group key = {0};
  Group *g;

  if (c->facility_id != 0 && row->facility_id != c->facility_id)
    return TRUE;
  key_of(c->group_by, row->day, row->district, row->facility_id, row->specialty, &key);
  /* Schema 10: a row of the summary by one patient field (patient_rows). */
  if (c->group_by & SCHED_STATS_BY_SEX)
    key.sex = name_of(row->sex, sex_names);
  if (c->group_by & SCHED_STATS_BY_AGE_BAND)
    key.age_band = name_of(row->age_band, band_names);
  g = group_of(c, &key);
  if (!sched__stats_hist_valid(row->doctor_hist, row->doctor_hist_len))
    goto malformed;
  for (gsize off = 0; off < row->doctor_hist_len; off += SCHED__STATS_HIST_ENTRY) {
    guint32 doctor;
    gint32 count;
    sched__stats_hist_entry(row->doctor_hist + off, &doctor, &count);
    if (count > 0)
      doctor_add(g, doctor);
  }
  g->consultations += row->consultations;
  g->completed += row->completed;
  g->noshows += row->noshows;
  g->cancellations += row->cancellations;
  g->quality_consultations += row->quality_consultations;
  g->audio_fallbacks += row->audio_fallbacks;
  g->score_milli_sum += row->score_milli_sum;
  g->loss_ppm_sum += row->loss_ppm_sum;
  g->rtt_ms_sum += row->rtt_ms_sum;
  g->video_kbps_sum += row->video_kbps_sum;
  g->ratings += row->ratings;
  g->stars_sum += row->stars_sum;
  if (!hist_add(&g->waits, row->wait_hist, row->wait_hist_len) ||
      !hist_add(&g->durations, row->duration_hist, row->duration_hist_len) ||
      !vhist_add(&g->loss, row->loss_hist, row->loss_hist_len, LOSS_CAP) ||
      !vhist_add(&g->rtt, row->rtt_hist, row->rtt_hist_len, SCHED__STATS_RTT_CAP_MS) ||
      !vhist_add(&g->kbps, row->kbps_hist, row->kbps_hist_len, SCHED__STATS_KBPS_CAP))
    goto malformed;
  return TRUE;
malformed:
  g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "malformed statistics histogram");
  return FALSE;
}

static void doctor_add(Group *g, gint64 doctor_id)
{
  if (g->doctors == NULL)
    g->doctors = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  if (!g_hash_table_contains(g->doctors, &doctor_id))
    g_hash_table_add(g->doctors, g_memdup2(&doctor_id, sizeof doctor_id));
}

static gboolean collect_doctor_day(const SchedStatsDoctorDay *row, gpointer user_data,
                                   GError **error)
{
  Collect *c = user_data;
  Group key = {0};

  (void)error;
  if (c->facility_id != 0 && row->facility_id != c->facility_id)
    return TRUE;
  if (c->last == NULL || row->day != c->last_day || row->facility_id != c->last_facility_id ||
      row->service_id != c->last_service_id) {
    key_of(c->group_by, row->day, row->district, row->facility_id, row->specialty, &key);
    c->last = group_of(c, &key);
    c->last_day = row->day;
    c->last_facility_id = row->facility_id;
    c->last_service_id = row->service_id;
  }
  doctor_add(c->last, row->doctor_id);
  return TRUE;
}

const char *sched_stats_age_band(int birth_year, int visit_year)
{
  int age = visit_year - birth_year;
  if (birth_year <= 0 || age < 0)
    return "unknown";
  return age < 18 ? "0-17" : age < 40 ? "18-39" : age < 60 ? "40-59" : "60+";
}

static void hist_add_one(Hist *h, int minute)
{
  guint8 b[SCHED__STATS_HIST_ENTRY];
  guint32 m = GUINT32_TO_LE((guint32)CLAMP(minute, 0, SCHED_STATS_MINUTES_MAX));
  gint32 one = GINT32_TO_LE(1);
  memcpy(b, &m, 4);
  memcpy(b + 4, &one, 4);
  hist_add(h, b, sizeof b);
}

static gboolean collect_visit(const SchedStatsVisit *v, gpointer user_data, GError **error)
{
  Collect *c = user_data;
  Group key = {0};
  Group *g;

  (void)error;
  if (c->facility_id != 0 && v->facility_id != c->facility_id)
    return TRUE;
  key_of(c->group_by, v->day, v->district, v->facility_id, v->specialty, &key);
  if (c->group_by & SCHED_STATS_BY_SEX)
    key.sex = v->sex == NULL                  ? "unknown"
              : strcmp(v->sex, "female") == 0 ? "female"
              : strcmp(v->sex, "male") == 0   ? "male"
                                              : "other";
  if (c->group_by & SCHED_STATS_BY_AGE_BAND) {
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(v->day * 86400);
    key.age_band = sched_stats_age_band(v->birth_year, dt ? g_date_time_get_year(dt) : 0);
  }
  g = group_of(c, &key);
  if (c->group_by & PATIENT_GROUPS) {
    /* The summary has no patient fields: these figures come from the visits themselves. */
    g->consultations += v->fulfilled;
    g->completed += v->completed;
    g->noshows += v->noshow;
    g->cancellations += v->cancelled;
    if (v->wait_min >= 0)
      hist_add_one(&g->waits, v->wait_min);
    if (v->duration_min >= 0)
      hist_add_one(&g->durations, v->duration_min);
    if (v->quality) {
      g->quality_consultations++;
      g->audio_fallbacks += v->audio_fallback;
      g->score_milli_sum += v->score_milli;
      g->loss_ppm_sum += v->loss_ppm;
      g->rtt_ms_sum += v->rtt_ms;
      g->video_kbps_sum += v->video_kbps;
    }
  }
  if (v->fulfilled) {
    doctor_add(g, v->doctor_id);
    if (v->stars > 0) {
      g->ratings++;
      g->stars_sum += v->stars;
    }
  }
  if (v->quality) {
    /* The buckets of the summary's histograms (SCHED__STATS_*_BUCKET), so that both reads give
     * the same medians. */
    vhist_add_one(
        &g->loss,
        (guint32)(CLAMP(v->loss_ppm, 0, SCHED__STATS_LOSS_CAP_PPM) / SCHED__STATS_LOSS_STEP_PPM), 1,
        LOSS_CAP);
    vhist_add_one(&g->rtt, (guint32)CLAMP(v->rtt_ms, 0, SCHED__STATS_RTT_CAP_MS), 1,
                  SCHED__STATS_RTT_CAP_MS);
    vhist_add_one(&g->kbps, (guint32)CLAMP(v->video_kbps, 0, SCHED__STATS_KBPS_CAP), 1,
                  SCHED__STATS_KBPS_CAP);
  }
  return TRUE;
}

/* The nearest-rank `p`-th percentile (0 < p <= 100) of a histogram; -1 if empty. */
static int percentile(const Hist *h, gint64 n, int p)
{
  gint64 rank, seen = 0;

  if (h->counts == NULL || n <= 0)
    return -1;
  rank = (n * p + 99) / 100; /* ceil(p / 100 * n) */
  if (rank < 1)
    rank = 1;
  for (gsize i = 0; i < h->n; i++) {
    seen += h->counts[i];
    if (seen >= rank)
      return (int)i;
  }
  return -1;
}

static gint64 total(const Hist *h)
{
  gint64 n = 0;
  for (gsize i = 0; i < h->n; i++)
    n += h->counts[i];
  return n;
}

/* sum / n / unit, or -1 when n is 0. */
static double mean(gint64 sum, gint64 n, double unit)
{
  return n > 0 ? (double)sum / (double)n / unit : -1.0;
}

static char *format_day(gint64 day)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(day * 86400);
  return dt ? g_date_time_format(dt, "%Y-%m-%d") : NULL;
}

static int cmp_null_str(const char *a, const char *b)
{
  if (a == NULL || b == NULL)
    return (a != NULL) - (b != NULL);
  return strcmp(a, b);
}

static int cmp_group(gconstpointer pa, gconstpointer pb)
{
  const Group *a = *(Group *const *)pa, *b = *(Group *const *)pb;
  int r;

  if (a->day != b->day)
    return a->day < b->day ? -1 : 1;
  if ((r = cmp_null_str(a->district, b->district)) != 0)
    return r;
  if (a->facility_id != b->facility_id)
    return a->facility_id < b->facility_id ? -1 : 1;
  if ((r = cmp_null_str(a->specialty, b->specialty)) != 0)
    return r;
  /* "female" < "male" < "other" < "unknown"; "0-17" < "18-39" < "40-59" < "60+" < "unknown" */
  if ((r = cmp_null_str(a->sex, b->sex)) != 0)
    return r;
  return cmp_null_str(a->age_band, b->age_band);
}

gboolean sched_stats_is_small(gint64 n)
{
  return n > 0 && n < SCHED_STATS_SMALL_COUNT;
}

void sched_stats_row_free(SchedStatsRow *row)
{
  if (row == NULL)
    return;
  g_free(row->date);
  g_free(row->district);
  g_free(row->specialty);
  g_free(row->sex);
  g_free(row->age_band);
  g_free(row);
}

static const SchedStatsBackend *stats_backend(SchedStore *store)
{
  if (store->backend == &sched_backend_sqlite)
    return &sched_stats_backend_sqlite;
  return NULL;
}

/* `from_visits`: a grouping by sex or age band reads the appointments (schema 9's way) even
 * where the schema-10 summary could answer it. */
static GPtrArray *stats_query(SchedStore *store, const SchedStatsQuery *q, gboolean from_visits,
                              GError **error)
{
  const SchedStatsBackend *be;
  Collect c = {0};
  g_autoptr(GPtrArray) groups = NULL;
  GPtrArray *rows = NULL;

  g_return_val_if_fail(store != NULL && q != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (!sched__valid_time(q->from)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "from", "out of range");
    return NULL;
  }
  if (!sched__valid_time(q->to) || q->to <= q->from) {
    sched__field_error(error, SCHED_ERROR_INVALID, "to", "must be after from and in range");
    return NULL;
  }
  if (q->to - q->from > (gint64)SCHED_STATS_RANGE_MAX_DAYS * 86400) {
    sched__field_error(error, SCHED_ERROR_INVALID, "to", "range over %d days",
                       SCHED_STATS_RANGE_MAX_DAYS);
    return NULL;
  }
  if ((q->group_by & ~(guint)ALL_GROUPS) != 0 ||
      ((q->group_by & SCHED_STATS_BY_DAY) && (q->group_by & SCHED_STATS_BY_WEEK))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "group_by", "unknown or conflicting groups");
    return NULL;
  }
  if (q->facility_id < 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "facility_id", "no such facility");
    return NULL;
  }
  if (q->facility_id > 0) {
    g_autoptr(SchedFacility) f = store->backend->facility_get(store->db, q->facility_id, error);
    if (f == NULL)
      return NULL;
  }
  be = stats_backend(store);
  if (be == NULL) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "statistics: not supported by backend %s",
                store->backend->name);
    return NULL;
  }

  c.group_by = q->group_by;
  c.facility_id = q->facility_id;
  c.groups = g_hash_table_new_full(group_hash, group_equal, group_free, NULL);
  if ((q->group_by & PATIENT_GROUPS) && !from_visits &&
      (q->group_by & PATIENT_GROUPS) != PATIENT_GROUPS) {
    /* Schema 10: by sex or by age band, one summary row per (day, facility, service, sex or
     * band), the doctors included. */
    if (!be->patient_rows(store->db, q->from, q->to, q->group_by & PATIENT_GROUPS, collect_row, &c,
                          error))
      goto out;
  } else if (q->group_by & PATIENT_GROUPS) {
    /* By both (not summarised), or asked to: O(appointments in the range). */
    if (!be->visits(store->db, q->from, q->to, collect_visit, &c, error))
      goto out;
  } else if (!be->daily_rows(store->db, q->from, q->to, collect_row, &c, error) ||
             !be->doctor_days(store->db, q->from, q->to, collect_doctor_day, &c, error)) {
    goto out;
  }

  groups = g_ptr_array_new();
  {
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, c.groups);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
      Group *g = v;
      /* Rows whose appointments all moved away leave zeros behind: not a group. */
      if (g->consultations || g->noshows || g->cancellations || total(&g->waits) ||
          total(&g->durations))
        g_ptr_array_add(groups, g);
    }
  }
  g_ptr_array_sort(groups, cmp_group);

  rows = g_ptr_array_new_with_free_func((GDestroyNotify)sched_stats_row_free);
  for (guint i = 0; i < groups->len; i++) {
    const Group *g = g_ptr_array_index(groups, i);
    SchedStatsRow *r = g_new0(SchedStatsRow, 1);
    gint64 due = g->consultations + g->noshows;

    r->date = g->day == G_MININT64 ? NULL : format_day(g->day);
    r->district = g_strdup(g->district);
    r->facility_id = g->facility_id;
    r->specialty = g_strdup(g->specialty);
    r->consultations = g->consultations;
    r->completed = g->completed;
    r->noshows = g->noshows;
    r->cancellations = g->cancellations;
    r->noshow_rate = due > 0 ? (double)g->noshows / (double)due : 0.0;
    r->waits = total(&g->waits);
    r->wait_p50_min = percentile(&g->waits, r->waits, 50);
    r->wait_p90_min = percentile(&g->waits, r->waits, 90);
    r->durations = total(&g->durations);
    r->duration_p50_min = percentile(&g->durations, r->durations, 50);
    r->quality_consultations = g->quality_consultations;
    r->audio_fallbacks = g->audio_fallbacks;
    r->avg_score = mean(g->score_milli_sum, g->quality_consultations, 1000.0);
    r->avg_loss = mean(g->loss_ppm_sum, g->quality_consultations, 1e6);
    r->avg_rtt_ms = mean(g->rtt_ms_sum, g->quality_consultations, 1.0);
    r->avg_video_kbps = mean(g->video_kbps_sum, g->quality_consultations, 1.0);
    r->sex = g_strdup(g->sex);
    r->age_band = g_strdup(g->age_band);
    r->doctors_active = g->doctors ? g_hash_table_size(g->doctors) : 0;
    r->ratings = g->ratings;
    r->avg_stars = mean(g->stars_sum, g->ratings, 1.0);
    r->median_loss = vhist_median((VHist *)&g->loss, SCHED__STATS_LOSS_STEP_PPM, 1e6);
    r->median_rtt_ms = vhist_median((VHist *)&g->rtt, 1.0, 1.0);
    r->median_video_kbps = vhist_median((VHist *)&g->kbps, 1.0, 1.0);
    r->small = sched_stats_is_small(r->doctors_active) || sched_stats_is_small(r->ratings) ||
               sched_stats_is_small(r->consultations) || sched_stats_is_small(r->completed) ||
               sched_stats_is_small(r->quality_consultations) ||
               sched_stats_is_small(r->audio_fallbacks) || sched_stats_is_small(r->noshows) ||
               sched_stats_is_small(r->cancellations) || sched_stats_is_small(r->waits) ||
               sched_stats_is_small(r->durations);
    g_ptr_array_add(rows, r);
  }
out:
  g_hash_table_unref(c.groups);
  return rows;
}

GPtrArray *sched_stats_query(SchedStore *store, const SchedStatsQuery *q, GError **error)
{
  return stats_query(store, q, FALSE, error);
}

GPtrArray *sched__stats_query_visits(SchedStore *store, const SchedStatsQuery *q, GError **error)
{
  return stats_query(store, q, TRUE, error);
}
