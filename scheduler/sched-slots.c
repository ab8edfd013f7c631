/* sched-slots.c — pure slot generation (see sched-slots.h). No database and no clock: the
 * caller passes `now` and everything the doctor has on the days in question.
 *
 * Cost: O(local days in range × windows × slots per window × (breaks + closed + log busy)).
 * Callers bound it by asking only for the query's range and stopping at `limit`. */
#include "sched-slots.h"

#include <stdio.h>
#include <stdlib.h>

/* The UTC time of local `minute` after midnight of the local date `d` in `tz`. 1440 is the next
 * local midnight. GDateTime resolves DST gaps and overlaps (see the header). */
static gint64 local_to_utc(GTimeZone *tz, const GDate *d, int minute)
{
  GDate day = *d;
  GDateTime *dt;
  gint64 t;

  if (minute >= 1440) {
    g_date_add_days(&day, minute / 1440);
    minute %= 1440;
  }
  dt = g_date_time_new(tz, g_date_get_year(&day), g_date_get_month(&day), g_date_get_day(&day),
                       minute / 60, minute % 60, 0);
  if (dt == NULL)
    return G_MININT64; /* out of GDateTime's range: never a slot */
  t = g_date_time_to_unix(dt);
  g_date_time_unref(dt);
  return t;
}

/* The local date in `tz` of UTC time `t`. */
static void local_date(GTimeZone *tz, gint64 t, GDate *d)
{
  GDateTime *utc = g_date_time_new_from_unix_utc(t);
  GDateTime *local = utc != NULL ? g_date_time_to_timezone(utc, tz) : NULL;

  g_date_clear(d, 1);
  if (local != NULL)
    g_date_set_dmy(d, g_date_time_get_day_of_month(local), g_date_time_get_month(local),
                   g_date_time_get_year(local));
  else
    g_date_set_dmy(d, 1, 1, 1970);
  if (local != NULL)
    g_date_time_unref(local);
  if (utc != NULL)
    g_date_time_unref(utc);
}

void sched__local_day(GTimeZone *tz, gint64 t, gint64 *day_start, gint64 *day_end)
{
  GDate d;

  local_date(tz, t, &d);
  *day_start = local_to_utc(tz, &d, 0);
  *day_end = local_to_utc(tz, &d, 1440);
}

guint32 sched__parse_date(const char *s)
{
  unsigned y, m, d;
  char tail;

  if (s == NULL || sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 || s[4] != '-' ||
      s[7] != '-' || s[10] != '\0')
    return 0;
  if (!g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y))
    return 0;
  {
    GDate date;
    g_date_clear(&date, 1);
    g_date_set_dmy(&date, (GDateDay)d, (GDateMonth)m, (GDateYear)y);
    return g_date_get_julian(&date);
  }
}

static gboolean overlaps(gint64 a0, gint64 a1, gint64 b0, gint64 b1)
{
  return a0 < b1 && b0 < a1;
}

/* The first busy index whose starts_at >= t (busy is sorted by starts_at). */
static gsize busy_lower_bound(const SchedSlotSpec *spec, gint64 t)
{
  gsize lo = 0, hi = spec->n_busy;

  while (lo < hi) {
    gsize mid = lo + (hi - lo) / 2;
    if (spec->busy[mid].starts_at < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* How far before a busy entry's start its buffered interval can reach back, and how long an
 * entry can be: bounds the scan. Generous: entries longer than a day are rare (operator
 * bookings) and still found by the linear part below. */
#define BUSY_LOOKBACK_S (2 * 86400)

const SchedSlotBusy *sched__slots_find_overlap(const SchedSlotSpec *spec, gint64 start, gint64 end)
{
  gsize i = busy_lower_bound(spec, start - BUSY_LOOKBACK_S);

  for (; i < spec->n_busy; i++) {
    const SchedSlotBusy *b = &spec->busy[i];
    if (b->starts_at - b->buffer_before_s >= end && b->starts_at - BUSY_LOOKBACK_S >= end)
      break;
    if (overlaps(start, end, b->starts_at - b->buffer_before_s, b->ends_at + b->buffer_after_s))
      return b;
  }
  return NULL;
}

static guint count_day(const SchedSlotSpec *spec, gint64 day_start, gint64 day_end)
{
  guint n = 0;

  for (gsize i = busy_lower_bound(spec, day_start); i < spec->n_busy; i++) {
    if (spec->busy[i].starts_at >= day_end)
      break;
    if (spec->busy[i].service_id == spec->service_id)
      n++;
  }
  return n;
}

static gboolean applies(const SchedSlotWeekly *w, int weekday, guint32 julian)
{
  if (w->weekday != weekday)
    return FALSE;
  if (w->from_julian != 0 && julian < w->from_julian)
    return FALSE;
  if (w->until_julian != 0 && julian > w->until_julian)
    return FALSE;
  return TRUE;
}

static int cmp_gint64(const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

/* One local day's clock: most days are 24 h long and local minutes map linearly from midnight;
 * a DST day does not, and goes through GDateTime for every conversion. */
typedef struct {
  GTimeZone *tz;
  const GDate *date;
  gint64 start, end; /* UTC bounds of the local day */
} Day;

static gint64 day_minute(const Day *day, int minute)
{
  if (day->end - day->start == 86400)
    return day->start + (gint64)minute * 60;
  return local_to_utc(day->tz, day->date, minute);
}

guint sched__slots_generate(const SchedSlotSpec *spec, gint64 from, gint64 to, gint64 now,
                            guint limit, GArray *out)
{
  const gint64 step = spec->buffer_before_s + spec->duration_s + spec->buffer_after_s;
  GArray *day_slots = g_array_new(FALSE, FALSE, sizeof(gint64));
  SchedSlotRange breaks[64];
  guint added = 0;
  GDate d;
  Day day = {.tz = spec->tz, .date = &d};

  g_return_val_if_fail(spec != NULL && spec->tz != NULL && out != NULL, 0);
  g_return_val_if_fail(spec->duration_s > 0 && step > 0, 0);

  if (now > from)
    from = now;
  if (to <= from || spec->n_windows == 0)
    goto out;
  local_date(spec->tz, from, &d);
  day.start = local_to_utc(spec->tz, &d, 0);
  if (day.start == G_MININT64)
    goto out;

  for (; day.start < to; g_date_add_days(&d, 1), day.start = day.end) {
    const int weekday = g_date_get_weekday(&d); /* G_DATE_MONDAY == 1 */
    const guint32 julian = g_date_get_julian(&d);
    gsize n_breaks = 0;

    day.end = local_to_utc(spec->tz, &d, 1440);
    if (day.end == G_MININT64 || day.end <= day.start)
      break;
    g_array_set_size(day_slots, 0);
    for (gsize k = 0; k < spec->n_breaks && n_breaks < G_N_ELEMENTS(breaks); k++) {
      if (spec->breaks[k].weekday != weekday)
        continue;
      breaks[n_breaks].start = day_minute(&day, spec->breaks[k].start_min);
      breaks[n_breaks].end = day_minute(&day, spec->breaks[k].end_min);
      n_breaks++;
    }
    for (gsize w = 0; w < spec->n_windows; w++) {
      const SchedSlotWeekly *win = &spec->windows[w];
      gint64 w0, w1;

      if (!applies(win, weekday, julian))
        continue;
      w0 = day_minute(&day, win->start_min);
      w1 = day_minute(&day, win->end_min);
      if (w1 <= w0)
        continue;
      for (gint64 t = w0 + spec->buffer_before_s; t + spec->duration_s + spec->buffer_after_s <= w1;
           t += step) {
        const gint64 b0 = t - spec->buffer_before_s;
        const gint64 b1 = t + spec->duration_s + spec->buffer_after_s;
        gboolean free_ = TRUE;

        if (t >= to)
          break;
        if (t < from)
          continue;
        for (gsize k = 0; free_ && k < n_breaks; k++)
          free_ = !overlaps(b0, b1, breaks[k].start, breaks[k].end);
        for (gsize k = 0; free_ && k < spec->n_closed; k++)
          free_ = !overlaps(b0, b1, spec->closed[k].start, spec->closed[k].end);
        if (free_ && spec->busy != NULL && sched__slots_find_overlap(spec, b0, b1) != NULL)
          free_ = FALSE;
        if (free_)
          g_array_append_val(day_slots, t);
      }
    }
    if (day_slots->len == 0)
      continue;
    if (spec->max_per_day > 0 && spec->busy != NULL &&
        count_day(spec, day.start, day.end) >= (guint)spec->max_per_day)
      continue;
    /* Windows of one doctor do not overlap, but they may be listed in any order. */
    qsort(day_slots->data, day_slots->len, sizeof(gint64), cmp_gint64);
    for (guint i = 0; i < day_slots->len; i++) {
      g_array_append_val(out, g_array_index(day_slots, gint64, i));
      added++;
      if (limit != 0 && added >= limit)
        goto out;
    }
  }
out:
  g_array_unref(day_slots);
  return added;
}
