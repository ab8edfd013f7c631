/* sig-quality.h — the quality record of one consultation, summed in memory from the relay's
 * samples (private to signaling and its tests). Pure: no sockets, no relay, no database; the
 * caller writes what sig_quality_records() returns with sched_consultation_quality_put().
 *
 * One total per participant role (guests of the same role share one, as in the database).
 * Each sample stands for `seconds` of the call (the time since that participant's previous
 * sample): those seconds count as audio only (weak link or chosen) when the sample says video is
 * paused. Main loop's thread only. */
#pragma once

#include <glib.h>

#include "scheduler.h"
#include "sfu.h"

G_BEGIN_DECLS

typedef struct SigQuality SigQuality;

SigQuality *sig_quality_new(gint64 appointment_id);
void sig_quality_free(SigQuality *quality);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SigQuality, sig_quality_free)

/* Starts a role's totals from a record written earlier (the call went on after a restart).
 * The RTT of such a record counts as known for all its samples when its mean is > 0. */
void sig_quality_seed(SigQuality *quality, const SchedCallQuality *record);

/* Adds one sample of a participant with `role`. A sample whose score is 0 (the relay does not
 * know yet) adds only its paused seconds. */
void sig_quality_add(SigQuality *quality, const char *role, const SfuQuality *sample,
                     double seconds);

/* TRUE if something was added since the last sig_quality_records(). */
gboolean sig_quality_dirty(const SigQuality *quality);

/* (element-type SchedCallQuality) (transfer full) One record per role with its totals so far,
 * stamped `now`, sorted by role; clears the dirty flag. */
GArray *sig_quality_records(SigQuality *quality, gint64 now);

G_END_DECLS
