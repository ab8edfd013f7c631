/* test-slots.c — unit tests of pure slot generation (scheduler/sched-slots.c): no database.
 * Local-time handling is checked in Asia/Karachi (UTC+5, no DST) and Europe/London (DST). */
#include "sched-slots.h"
#include "scheduler.h"

/* The unix time of a local wall-clock time in `zone`. */
static gint64 at(const char *zone, int y, int mo, int d, int h, int mi)
{
  g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(zone);
  g_autoptr(GDateTime) dt = NULL;

  g_assert_nonnull(tz);
  dt = g_date_time_new(tz, y, mo, d, h, mi, 0);
  g_assert_nonnull(dt);
  return g_date_time_to_unix(dt);
}

typedef struct {
  GTimeZone *tz;
  GArray *windows;
  GArray *breaks;
  GArray *closed;
  GArray *busy;
  SchedSlotSpec spec;
  GArray *out;
} Gen;

static void gen_init(Gen *g, const char *zone, int duration_min, int before_min, int after_min)
{
  g->tz = g_time_zone_new_identifier(zone);
  g_assert_nonnull(g->tz);
  g->windows = g_array_new(FALSE, FALSE, sizeof(SchedSlotWeekly));
  g->breaks = g_array_new(FALSE, FALSE, sizeof(SchedSlotWeekly));
  g->closed = g_array_new(FALSE, FALSE, sizeof(SchedSlotRange));
  g->busy = g_array_new(FALSE, FALSE, sizeof(SchedSlotBusy));
  g->out = g_array_new(FALSE, FALSE, sizeof(gint64));
  g->spec = (SchedSlotSpec){.tz = g->tz,
                            .service_id = 1,
                            .duration_s = duration_min * 60,
                            .buffer_before_s = before_min * 60,
                            .buffer_after_s = after_min * 60};
}

static void gen_clear(Gen *g)
{
  g_time_zone_unref(g->tz);
  g_array_unref(g->windows);
  g_array_unref(g->breaks);
  g_array_unref(g->closed);
  g_array_unref(g->busy);
  g_array_unref(g->out);
}

static void window(Gen *g, int weekday, int start_min, int end_min, const char *from,
                   const char *until)
{
  SchedSlotWeekly w = {.weekday = weekday,
                       .start_min = start_min,
                       .end_min = end_min,
                       .from_julian = from != NULL ? sched__parse_date(from) : 0,
                       .until_julian = until != NULL ? sched__parse_date(until) : 0};
  g_array_append_val(g->windows, w);
}

static guint run(Gen *g, gint64 from, gint64 to, gint64 now, guint limit)
{
  g->spec.windows = (const SchedSlotWeekly *)g->windows->data;
  g->spec.n_windows = g->windows->len;
  g->spec.breaks = (const SchedSlotWeekly *)g->breaks->data;
  g->spec.n_breaks = g->breaks->len;
  g->spec.closed = (const SchedSlotRange *)g->closed->data;
  g->spec.n_closed = g->closed->len;
  g->spec.busy = (const SchedSlotBusy *)g->busy->data;
  g->spec.n_busy = g->busy->len;
  g_array_set_size(g->out, 0);
  return sched__slots_generate(&g->spec, from, to, now, limit, g->out);
}

static gint64 slot(Gen *g, guint i)
{
  g_assert_cmpuint(i, <, g->out->len);
  return g_array_index(g->out, gint64, i);
}

#define KHI "Asia/Karachi"
#define LON "Europe/London"

/* 2026-01-05 is a Monday. */
static void test_karachi_basic(void)
{
  Gen g;
  gint64 day0 = at(KHI, 2026, 1, 5, 0, 0);

  gen_init(&g, KHI, 20, 0, 0);
  window(&g, 1, 9 * 60, 12 * 60, NULL, NULL);
  /* 09:00 PKT is 04:00 UTC: nine 20-minute slots up to 11:40. */
  g_assert_cmpuint(run(&g, day0, day0 + 86400, 1, 0), ==, 9);
  g_assert_cmpint(slot(&g, 0), ==, at(KHI, 2026, 1, 5, 9, 0));
  g_assert_cmpint(slot(&g, 0) % 86400, ==, 4 * 3600);
  g_assert_cmpint(slot(&g, 8), ==, at(KHI, 2026, 1, 5, 11, 40));
  /* Only Mondays: a week holds nine, two weeks eighteen; the limit cuts. */
  g_assert_cmpuint(run(&g, day0, day0 + 7 * 86400, 1, 0), ==, 9);
  g_assert_cmpuint(run(&g, day0, day0 + 14 * 86400, 1, 0), ==, 18);
  g_assert_cmpuint(run(&g, day0, day0 + 14 * 86400, 1, 5), ==, 5);
  /* [from, to) is half open on slot starts. */
  g_assert_cmpuint(run(&g, at(KHI, 2026, 1, 5, 9, 20), at(KHI, 2026, 1, 5, 10, 0), 1, 0), ==, 2);
  gen_clear(&g);
}

static void test_buffers(void)
{
  Gen g;
  gint64 day0 = at(KHI, 2026, 1, 5, 0, 0);

  gen_init(&g, KHI, 15, 5, 5);
  window(&g, 1, 9 * 60, 12 * 60, NULL, NULL);
  /* Step 25 min, first at 09:05, last must end with its buffer by 12:00: 09:05 .. 11:35. */
  g_assert_cmpuint(run(&g, day0, day0 + 86400, 1, 0), ==, 7);
  g_assert_cmpint(slot(&g, 0), ==, at(KHI, 2026, 1, 5, 9, 5));
  g_assert_cmpint(slot(&g, 1), ==, at(KHI, 2026, 1, 5, 9, 30));
  g_assert_cmpint(slot(&g, 6), ==, at(KHI, 2026, 1, 5, 11, 35));
  /* A busy appointment 09:30-09:45 with 5-min buffers blocks 09:30 only. */
  {
    SchedSlotBusy b = {.starts_at = at(KHI, 2026, 1, 5, 9, 30),
                       .ends_at = at(KHI, 2026, 1, 5, 9, 45),
                       .buffer_before_s = 300,
                       .buffer_after_s = 300,
                       .service_id = 1};
    g_array_append_val(g.busy, b);
  }
  g_assert_cmpuint(run(&g, day0, day0 + 86400, 1, 0), ==, 6);
  g_assert_cmpint(slot(&g, 1), ==, at(KHI, 2026, 1, 5, 9, 55));
  /* The same appointment shifted by 5 minutes (off the grid) blocks two slots. */
  g_array_index(g.busy, SchedSlotBusy, 0).starts_at += 300;
  g_array_index(g.busy, SchedSlotBusy, 0).ends_at += 300;
  g_assert_cmpuint(run(&g, day0, day0 + 86400, 1, 0), ==, 5);
  gen_clear(&g);
}

static void test_breaks_and_exceptions(void)
{
  Gen g;
  gint64 day0 = at(KHI, 2026, 1, 5, 0, 0);
  SchedSlotWeekly brk = {.weekday = 1, .start_min = 10 * 60, .end_min = 10 * 60 + 30};
  SchedSlotWeekly other_day = {.weekday = 2, .start_min = 9 * 60, .end_min = 12 * 60};
  SchedSlotRange leave = {.start = at(KHI, 2026, 1, 5, 11, 0), .end = at(KHI, 2026, 1, 5, 12, 0)};

  gen_init(&g, KHI, 20, 0, 0);
  window(&g, 1, 9 * 60, 12 * 60, NULL, NULL);
  g_array_append_val(g.breaks, brk);
  g_array_append_val(g.breaks, other_day); /* a Tuesday break does not touch Monday */
  /* 10:00 and 10:20 overlap the break; 10:40 is after it. */
  g_assert_cmpuint(run(&g, day0, day0 + 86400, 1, 0), ==, 7);
  g_assert_cmpint(slot(&g, 3), ==, at(KHI, 2026, 1, 5, 10, 40));
  g_array_append_val(g.closed, leave);
  /* 11:00, 11:20, 11:40 are on leave; 10:40 ends at 11:00 exactly and stays. */
  g_assert_cmpuint(run(&g, day0, day0 + 86400, 1, 0), ==, 4);
  g_assert_cmpint(slot(&g, 3), ==, at(KHI, 2026, 1, 5, 10, 40));
  gen_clear(&g);
}

static void test_max_per_day_and_past(void)
{
  Gen g;
  gint64 day0 = at(KHI, 2026, 1, 5, 0, 0);
  SchedSlotBusy b1 = {.starts_at = at(KHI, 2026, 1, 5, 9, 0),
                      .ends_at = at(KHI, 2026, 1, 5, 9, 20),
                      .service_id = 1};
  SchedSlotBusy b2 = b1, other = b1;

  gen_init(&g, KHI, 20, 0, 0);
  window(&g, 1, 9 * 60, 12 * 60, NULL, NULL);
  b2.starts_at += 1200;
  b2.ends_at += 1200;
  other.starts_at += 2400;
  other.ends_at += 2400;
  other.service_id = 2; /* another service does not count against this one's limit */
  g_array_append_val(g.busy, b1);
  g_array_append_val(g.busy, b2);
  g_array_append_val(g.busy, other);
  g.spec.max_per_day = 3;
  g_assert_cmpuint(run(&g, day0, day0 + 86400, 1, 0), ==, 6);
  g.spec.max_per_day = 2;
  g_assert_cmpuint(run(&g, day0, day0 + 86400, 1, 0), ==, 0);
  /* Next Monday is a new day. */
  g_assert_cmpuint(run(&g, day0, day0 + 8 * 86400, 1, 0), ==, 9);
  g_array_set_size(g.busy, 0);
  g.spec.max_per_day = 0;
  /* Past slots: now = 10:10 leaves 10:20 onwards; a slot starting exactly now is offered. */
  g_assert_cmpuint(run(&g, day0, day0 + 86400, at(KHI, 2026, 1, 5, 10, 10), 0), ==, 5);
  g_assert_cmpint(slot(&g, 0), ==, at(KHI, 2026, 1, 5, 10, 20));
  g_assert_cmpuint(run(&g, day0, day0 + 86400, at(KHI, 2026, 1, 5, 10, 20), 0), ==, 5);
  g_assert_cmpuint(run(&g, day0, day0 + 86400, day0 + 86400, 0), ==, 0);
  gen_clear(&g);
}

static void test_validity_dates(void)
{
  Gen g;
  gint64 day0 = at(KHI, 2026, 1, 5, 0, 0);

  gen_init(&g, KHI, 60, 0, 0);
  window(&g, 1, 9 * 60, 10 * 60, "2026-01-12", "2026-01-19");
  /* Mondays 5, 12, 19, 26 January: only the 12th and the 19th (inclusive). */
  g_assert_cmpuint(run(&g, day0, day0 + 28 * 86400, 1, 0), ==, 2);
  g_assert_cmpint(slot(&g, 0), ==, at(KHI, 2026, 1, 12, 9, 0));
  g_assert_cmpint(slot(&g, 1), ==, at(KHI, 2026, 1, 19, 9, 0));
  g_assert_cmpuint(sched__parse_date("2026-02-30"), ==, 0);
  g_assert_cmpuint(sched__parse_date("2026-1-05"), ==, 0);
  g_assert_cmpuint(sched__parse_date("2026-01-05x"), ==, 0);
  g_assert_cmpuint(sched__parse_date(NULL), ==, 0);
  gen_clear(&g);
}

static void test_london_dst(void)
{
  Gen g;
  gint64 start, end;

  gen_init(&g, LON, 60, 0, 0);
  /* Sundays 00:00-04:00 local. 2026-03-29: 01:00 GMT jumps to 02:00 BST, so the local window
   * is three real hours: 00:00Z, 01:00Z, 02:00Z. */
  window(&g, 7, 0, 4 * 60, NULL, NULL);
  start = at(LON, 2026, 3, 29, 0, 0);
  g_assert_cmpint(start % 86400, ==, 0);
  g_assert_cmpuint(run(&g, start - 3600, start + 86400, 1, 0), ==, 3);
  g_assert_cmpint(slot(&g, 0), ==, start);
  g_assert_cmpint(slot(&g, 2), ==, start + 2 * 3600);
  /* 2026-10-25: 02:00 BST falls back to 01:00 GMT: five real hours, 23:00Z to 03:00Z. */
  start = at(LON, 2026, 10, 25, 0, 0);
  g_assert_cmpint(start % 86400, ==, 23 * 3600);
  g_assert_cmpuint(run(&g, start, start + 86400, 1, 0), ==, 5);
  g_assert_cmpint(slot(&g, 4), ==, start + 4 * 3600);
  /* A Monday window at 09:00 local is 09:00Z in winter and 08:00Z in summer. */
  g_array_set_size(g.windows, 0);
  window(&g, 1, 9 * 60, 10 * 60, NULL, NULL);
  start = at(LON, 2026, 1, 5, 0, 0);
  g_assert_cmpuint(run(&g, start, start + 86400, 1, 0), ==, 1);
  g_assert_cmpint(slot(&g, 0) % 86400, ==, 9 * 3600);
  start = at(LON, 2026, 6, 1, 0, 0);
  g_assert_cmpuint(run(&g, start, start + 86400, 1, 0), ==, 1);
  g_assert_cmpint(slot(&g, 0) % 86400, ==, 8 * 3600);
  /* The local day of a time, across the spring change: 23 hours long. */
  sched__local_day(g.tz, at(LON, 2026, 3, 29, 12, 0), &start, &end);
  g_assert_cmpint(end - start, ==, 23 * 3600);
  gen_clear(&g);
}

static void test_whole_day_window(void)
{
  Gen g;
  gint64 day0 = at(KHI, 2026, 1, 5, 0, 0);

  gen_init(&g, KHI, 30, 0, 0);
  window(&g, 1, 0, 1440, NULL, NULL);
  g_assert_cmpuint(run(&g, day0, day0 + 86400, 1, 0), ==, 48);
  g_assert_cmpint(slot(&g, 47), ==, day0 + 86400 - 1800);
  gen_clear(&g);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/slots/karachi", test_karachi_basic);
  g_test_add_func("/slots/buffers", test_buffers);
  g_test_add_func("/slots/breaks-exceptions", test_breaks_and_exceptions);
  g_test_add_func("/slots/max-per-day-past", test_max_per_day_and_past);
  g_test_add_func("/slots/validity-dates", test_validity_dates);
  g_test_add_func("/slots/london-dst", test_london_dst);
  g_test_add_func("/slots/whole-day", test_whole_day_window);
  return g_test_run();
}
