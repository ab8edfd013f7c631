/* mw-demo.h — a synthetic history of consultations for the demo and the dashboard's tests
 * (`mashwara --demo`, `mashwara admin seed-history`). Uses the scheduler's public API only. */
#pragma once

#include "scheduler.h"

G_BEGIN_DECLS

typedef struct {
  guint32 seed;         /* the same seed gives the same history */
  guint days;           /* past days to fill, ending yesterday (UTC) */
  guint patients;       /* patients to create */
  guint per_day;        /* up to this many visits a day per facility (plus two at busy ones) */
  const char *prefix;   /* usernames "<prefix>.dr1a" …, facility names "… (<prefix>)" */
  const char *password; /* the doctors' password (required) */
  gint64 now;           /* 0: the real clock */
} MwDemoHistory;

typedef struct {
  guint patients, appointments, consultations;
} MwDemoCounts;

/* Creates five facilities in four districts (one service and two doctors each), `patients`
 * patients and the visits of `days` past days, in one batch (sched_store_batch_begin). FALSE
 * with `error` on the first failure; the writes before it stay (each is whole). */
gboolean mw_demo_history(SchedStore *store, const MwDemoHistory *opts, MwDemoCounts *counts,
                         GError **error);

G_END_DECLS
