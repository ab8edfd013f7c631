/* sched-slots.h — pure slot generation: weekly local-time availability, breaks, exceptions and
 * busy intervals in, free slot start times out. No database, no clock, no I/O: unit-tested on
 * its own (tests/unit/sched/test-slots.c). Private to scheduler/.
 *
 * Times are unix seconds (UTC). Weekly windows and breaks are minutes after local midnight in
 * `tz` on an ISO weekday (1 = Monday); a local time that does not exist (a DST gap) moves
 * forward with the clock, one that occurs twice (a DST overlap) takes its first occurrence.
 * Threads: MT safe (GTimeZone is immutable). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  int weekday;          /* 1..7 */
  int start_min;        /* 0..1439 */
  int end_min;          /* start_min < end_min <= 1440 */
  guint32 from_julian;  /* first local date it applies (GDate julian day), 0 = always */
  guint32 until_julian; /* last local date it applies (inclusive), 0 = forever */
} SchedSlotWeekly;

typedef struct {
  gint64 start;
  gint64 end; /* exclusive */
} SchedSlotRange;

/* An existing appointment or live hold of the doctor. */
typedef struct {
  gint64 starts_at;
  gint64 ends_at;
  gint64 buffer_before_s;
  gint64 buffer_after_s;
  gint64 service_id; /* counted against max_per_day when it equals the spec's service */
} SchedSlotBusy;

typedef struct {
  GTimeZone *tz;
  gint64 service_id;
  gint64 duration_s;              /* > 0 */
  gint64 buffer_before_s;         /* >= 0 */
  gint64 buffer_after_s;          /* >= 0 */
  int max_per_day;                /* 0 = no limit */
  const SchedSlotWeekly *windows; /* this doctor's windows for this service */
  gsize n_windows;
  const SchedSlotWeekly *breaks; /* this doctor's breaks (validity ignored) */
  gsize n_breaks;
  const SchedSlotRange *closed; /* exceptions: leave, holidays */
  gsize n_closed;
  const SchedSlotBusy *busy; /* sorted by starts_at; may be NULL */
  gsize n_busy;
} SchedSlotSpec;

/* Appends to `out` (a GArray of gint64) the start of every free slot starting in [from, to)
 * and not before `now`, ascending, at most `limit` of them (0 = no limit). A slot is on the grid
 * window start + buffer_before + k * (buffer_before + duration + buffer_after) and fits, with
 * its buffers, inside its window; its buffered interval overlaps no break, no closed range and
 * no busy entry's buffered interval; and its local day holds fewer than max_per_day busy
 * entries of the same service. `busy` entries must cover [from - 2 days, to + 2 days) for the
 * max_per_day count to be right. Returns how many were appended. */
guint sched__slots_generate(const SchedSlotSpec *spec, gint64 from, gint64 to, gint64 now,
                            guint limit, GArray *out);

/* The busy entry overlapping [start, end) (already buffered by the caller), or NULL. */
const SchedSlotBusy *sched__slots_find_overlap(const SchedSlotSpec *spec, gint64 start, gint64 end);

/* The UTC bounds [*day_start, *day_end) of the local day in `tz` containing `t`. */
void sched__local_day(GTimeZone *tz, gint64 t, gint64 *day_start, gint64 *day_end);

/* Parses a local date "YYYY-MM-DD" into a GDate julian day; 0 if malformed or invalid. */
guint32 sched__parse_date(const char *s);

G_END_DECLS
