/* sfu-score.h — connection quality score 1..5 from loss, RTT, jitter and bitrate, and a
 * smoother that keeps it from flapping. Private to the sfu module (prefix sfu_score_). Pure
 * logic; a smoother is not locked (one owner thread). How the score is built: sfu-score.c. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* 5 excellent, 4 good, 3 fair, 2 poor, 1 bad (sfu_quality_label() in sfu.h names them). */
#define SFU_SCORE_EXCELLENT 5
#define SFU_SCORE_BAD 1

/* loss: fraction 0..1 of packets lost; rtt_ms: 0 = unknown (counts as 0); jitter_ms:
 * interarrival jitter; bitrate_bps / wanted_bps: the video rate the participant gets and the
 * rate its layer would want (wanted_bps = 0: no video, the score is the audio one). */
guint sfu_score_compute(double loss, guint rtt_ms, guint jitter_ms, guint bitrate_bps,
                        guint wanted_bps);

typedef struct SfuScoreSmoother SfuScoreSmoother;

/* (transfer full) A smoother that goes down at once and up one step per
 * SFU_SCORE_UP_AFTER_US of scores that were all better than the one it shows. */
#define SFU_SCORE_UP_AFTER_US (5 * G_USEC_PER_SEC)
SfuScoreSmoother *sfu_score_smoother_new(void);
void sfu_score_smoother_free(SfuScoreSmoother *smoother);

/* Feeds one raw score (1..5) measured at now_us (monotonic); returns the smoothed score. */
guint sfu_score_smoother_push(SfuScoreSmoother *smoother, guint score, gint64 now_us);
/* The smoothed score, 0 before the first push. */
guint sfu_score_smoother_get(const SfuScoreSmoother *smoother);

G_END_DECLS
