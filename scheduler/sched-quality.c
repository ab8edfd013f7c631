/* sched-quality.c — the scheduler's call-quality calls (scheduler.h, "Call quality"): a
 * patient's remembered audio-only choice and the per-role quality record of a consultation.
 * Argument checks here; storage in the backend (sched-backend.h, schema 4); the statistics'
 * quality columns follow the records through the backend's triggers. Main loop's thread only. */
#include "sched-private.h"

#include <math.h>

static const char *const roles[] = {"patient", "doctor", "interpreter", "specialist", "family"};

void sched_call_quality_free(SchedCallQuality *quality)
{
  if (quality == NULL)
    return;
  g_free(quality->role);
  g_free(quality);
}

gboolean sched_patient_set_audio_only(SchedStore *store, gint64 patient_id, gboolean audio_only,
                                      GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  if (patient_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "patient_id", "no patient %" G_GINT64_FORMAT,
                       patient_id);
    return FALSE;
  }
  return store->backend->patient_set_audio_only(store->db, patient_id, audio_only, error);
}

static gboolean valid_mean(double v, double lo, double hi)
{
  return isfinite(v) && v >= lo && v <= hi;
}

/* One record's checks (the appointment's existence is the caller's). */
static gboolean check_quality(const SchedCallQuality *q, GError **error)
{
  const char *field = NULL;

  if (q->appointment_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                       "no appointment %" G_GINT64_FORMAT, q->appointment_id);
    return FALSE;
  }
  if (!sched__in_set(q->role, roles, G_N_ELEMENTS(roles)))
    field = "role";
  else if (q->samples < 0)
    field = "samples";
  else if (q->samples == 0 ? q->avg_score != 0.0 : !valid_mean(q->avg_score, 1.0, 5.0))
    field = "avg_score";
  else if (!valid_mean(q->avg_loss, 0.0, 1.0))
    field = "avg_loss";
  else if (!valid_mean(q->avg_rtt_ms, 0.0, 1e7))
    field = "avg_rtt_ms";
  else if (!valid_mean(q->avg_video_kbps, 0.0, 1e7))
    field = "avg_video_kbps";
  else if (q->audio_only_weak_s < 0)
    field = "audio_only_weak_s";
  else if (q->audio_only_chosen_s < 0)
    field = "audio_only_chosen_s";
  else if (!sched__valid_time(q->updated_at))
    field = "updated_at";
  if (field != NULL) {
    sched__field_error(error, SCHED_ERROR_INVALID, field, "out of range");
    return FALSE;
  }
  return TRUE;
}

gboolean sched_consultation_quality_put(SchedStore *store, const SchedCallQuality *records, guint n,
                                        GError **error)
{
  const SchedBackend *be;
  gboolean ok = FALSE;

  g_return_val_if_fail(store != NULL && (records != NULL || n == 0), FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  for (guint i = 0; i < n; i++)
    if (!check_quality(&records[i], error))
      return FALSE;
  if (n == 0)
    return TRUE;
  be = store->backend;
  if (!be->begin(store->db, error))
    return FALSE;
  for (guint i = 0; i < n; i++) {
    g_autoptr(GError) local_error = NULL;
    g_autoptr(SchedAppointment) a =
        be->appointment_get(store->db, records[i].appointment_id, &local_error);
    if (a == NULL) {
      if (g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
        sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                           "no appointment %" G_GINT64_FORMAT, records[i].appointment_id);
      else
        g_propagate_error(error, g_steal_pointer(&local_error));
      goto out;
    }
    if (!be->quality_put(store->db, &records[i], error))
      goto out;
  }
  ok = be->commit(store->db, error);
  if (ok)
    return TRUE;
out:
  be->rollback(store->db);
  return FALSE;
}

GPtrArray *sched_consultation_quality_list(SchedStore *store, gint64 appointment_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  return store->backend->quality_list(store->db, appointment_id, error);
}
