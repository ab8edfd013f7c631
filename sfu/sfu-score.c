/* sfu-score.c — connection quality score, in the spirit of LiveKit's (a MOS-like number from
 * loss, RTT and jitter for audio; delivered vs expected bitrate for video), designed here.
 *
 * Audio / transport: a simplified ITU-T G.107 E-model R factor (the Cole & Rosenbluth form
 * commonly used for VoIP monitoring):
 *   one-way delay d = rtt/2 + 2 x jitter + 10 ms (jitter buffer and codec)
 *   Id = d/40 below 160 ms, (d - 120)/10 above (conversation breaks down past ~150-200 ms)
 *   Ie = 2.5 x loss %  (Opus with FEC/PLC hides little loss well; 2.5 per point is the usual
 *                       linear stand-in for a modern codec)
 *   R = 93.2 - Id - Ie
 * then R >= 88: 5, >= 78: 4, >= 65: 3, >= 50: 2, else 1. A clean LAN call has R ~ 92; 2 %
 * loss at 100 ms RTT ~ 86 (good); 5 % loss at 600 ms RTT ~ 56-60 (poor); 20 % loss is bad
 * whatever the delay.
 * Video: the fraction of the wanted bitrate the participant gets: >= 0.8: 5, >= 0.55: 4,
 * >= 0.3: 3, >= 0.12: 2, else 1 (a layer at a third of its rate is still watchable; under an
 * eighth it is a slideshow).
 * The score is the lower of the two: a call is as good as its worst part. */
#define G_LOG_DOMAIN "mashwara-sfu"

#include "sfu-score.h"

#include <math.h>

static guint score_from_r(double r)
{
  if (r >= 88)
    return 5;
  if (r >= 78)
    return 4;
  if (r >= 65)
    return 3;
  if (r >= 50)
    return 2;
  return 1;
}

static guint score_from_ratio(double ratio)
{
  if (ratio >= 0.8)
    return 5;
  if (ratio >= 0.55)
    return 4;
  if (ratio >= 0.3)
    return 3;
  if (ratio >= 0.12)
    return 2;
  return 1;
}

guint sfu_score_compute(double loss, guint rtt_ms, guint jitter_ms, guint bitrate_bps,
                        guint wanted_bps)
{
  if (isnan(loss))
    loss = 1.0; /* unknown must not look excellent */
  loss = CLAMP(loss, 0.0, 1.0);
  double d = rtt_ms / 2.0 + 2.0 * jitter_ms + 10.0;
  double id = d < 160 ? d / 40.0 : (d - 120.0) / 10.0;
  double ie = 2.5 * loss * 100.0;
  guint score = score_from_r(93.2 - id - ie);
  if (wanted_bps > 0)
    score = MIN(score, score_from_ratio((double)bitrate_bps / wanted_bps));
  return score;
}

struct SfuScoreSmoother {
  guint score;            /* 0 = nothing pushed yet */
  gint64 better_since_us; /* start of a run of raw scores above `score`, -1 = none */
};

SfuScoreSmoother *sfu_score_smoother_new(void)
{
  SfuScoreSmoother *s = g_new0(SfuScoreSmoother, 1);
  s->better_since_us = -1;
  return s;
}

void sfu_score_smoother_free(SfuScoreSmoother *smoother)
{
  g_free(smoother);
}

guint sfu_score_smoother_push(SfuScoreSmoother *s, guint score, gint64 now_us)
{
  g_return_val_if_fail(s != NULL, 0);
  score = CLAMP(score, SFU_SCORE_BAD, SFU_SCORE_EXCELLENT);
  if (s->score == 0 || score < s->score) {
    /* Worse: show it at once, the user is living it now. */
    s->score = score;
    s->better_since_us = -1;
  } else if (score == s->score) {
    s->better_since_us = -1;
  } else if (s->better_since_us < 0) {
    s->better_since_us = now_us;
  } else if (now_us - s->better_since_us >= SFU_SCORE_UP_AFTER_US) {
    /* Better for long enough: one step, and the next step needs another full run, so a
     * link that recovers from 1 to 5 shows it over ~20 s instead of flapping. */
    s->score++;
    s->better_since_us = score > s->score ? now_us : -1;
  }
  return s->score;
}

guint sfu_score_smoother_get(const SfuScoreSmoother *s)
{
  g_return_val_if_fail(s != NULL, 0);
  return s->score;
}
