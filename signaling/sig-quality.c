/* sig-quality.c — the per-consultation quality totals (sig-quality.h). Pure code. */
#include "sig-quality.h"

#include <string.h>

typedef struct {
  gint64 samples;
  double score_sum, loss_sum, video_kbps_sum;
  double rtt_sum;
  gint64 rtt_samples; /* samples whose RTT was known */
  double weak_s, chosen_s;
} Totals;

struct SigQuality {
  gint64 appointment_id;
  GHashTable *roles; /* role → Totals (both owned) */
  gboolean dirty;
};

SigQuality *sig_quality_new(gint64 appointment_id)
{
  SigQuality *q = g_new0(SigQuality, 1);
  q->appointment_id = appointment_id;
  q->roles = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  return q;
}

void sig_quality_free(SigQuality *q)
{
  if (!q)
    return;
  g_hash_table_unref(q->roles);
  g_free(q);
}

static Totals *totals(SigQuality *q, const char *role)
{
  Totals *t = g_hash_table_lookup(q->roles, role);
  if (!t) {
    t = g_new0(Totals, 1);
    g_hash_table_insert(q->roles, g_strdup(role), t);
  }
  return t;
}

void sig_quality_seed(SigQuality *q, const SchedCallQuality *r)
{
  g_return_if_fail(q != NULL && r != NULL && r->role != NULL);
  Totals *t = totals(q, r->role);
  double n = (double)r->samples;
  t->samples = r->samples;
  t->score_sum = r->avg_score * n;
  t->loss_sum = r->avg_loss * n;
  t->video_kbps_sum = r->avg_video_kbps * n;
  t->rtt_samples = r->avg_rtt_ms > 0 ? r->samples : 0;
  t->rtt_sum = r->avg_rtt_ms * (double)t->rtt_samples;
  t->weak_s = (double)r->audio_only_weak_s;
  t->chosen_s = (double)r->audio_only_chosen_s;
}

static double unit(double v)
{
  return v > 0 ? MIN(v, 1.0) : 0.0; /* NaN → 0 */
}

void sig_quality_add(SigQuality *q, const char *role, const SfuQuality *s, double seconds)
{
  g_return_if_fail(q != NULL && role != NULL && s != NULL);
  Totals *t = totals(q, role);
  if (!(seconds > 0))
    seconds = 0;
  if (s->video == SFU_VIDEO_WEAK_LINK)
    t->weak_s += seconds;
  else if (s->video == SFU_VIDEO_CHOSEN)
    t->chosen_s += seconds;
  q->dirty = TRUE;
  if (s->score == 0)
    return;
  t->samples++;
  t->score_sum += CLAMP(s->score, 1u, 5u);
  t->loss_sum += MAX(unit(s->loss_down), unit(s->loss_up));
  t->video_kbps_sum += s->video_bps_down / 1000.0;
  if (s->rtt_ms > 0) {
    t->rtt_sum += s->rtt_ms;
    t->rtt_samples++;
  }
}

gboolean sig_quality_dirty(const SigQuality *q)
{
  g_return_val_if_fail(q != NULL, FALSE);
  return q->dirty;
}

static void clear_record(gpointer p)
{
  g_free(((SchedCallQuality *)p)->role);
}

static gint by_role(gconstpointer a, gconstpointer b)
{
  return strcmp(((const SchedCallQuality *)a)->role, ((const SchedCallQuality *)b)->role);
}

GArray *sig_quality_records(SigQuality *q, gint64 now)
{
  g_return_val_if_fail(q != NULL, NULL);
  GArray *out = g_array_new(FALSE, TRUE, sizeof(SchedCallQuality));
  g_array_set_clear_func(out, clear_record);
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init(&it, q->roles);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    const Totals *t = value;
    double n = (double)t->samples;
    SchedCallQuality r = {
        .appointment_id = q->appointment_id,
        .role = g_strdup(key),
        .samples = t->samples,
        .avg_score = n > 0 ? CLAMP(t->score_sum / n, 1.0, 5.0) : 0.0,
        .avg_loss = n > 0 ? CLAMP(t->loss_sum / n, 0.0, 1.0) : 0.0,
        .avg_rtt_ms = t->rtt_samples > 0 ? t->rtt_sum / (double)t->rtt_samples : 0.0,
        .avg_video_kbps = n > 0 ? t->video_kbps_sum / n : 0.0,
        .audio_only_weak_s = (gint64)(t->weak_s + 0.5),
        .audio_only_chosen_s = (gint64)(t->chosen_s + 0.5),
        .updated_at = now,
    };
    g_array_append_val(out, r);
  }
  g_array_sort(out, by_role);
  q->dirty = FALSE;
  return out;
}
