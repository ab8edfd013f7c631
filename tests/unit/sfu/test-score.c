/* test-score.c — the connection quality score and its smoother (sfu-score.c). */
#include "sfu-score.h"

static void test_compute(void)
{
  /* Clean link. */
  g_assert_cmpuint(sfu_score_compute(0, 40, 5, 1500000, 1500000), ==, 5);
  g_assert_cmpuint(sfu_score_compute(0, 0, 0, 0, 0), ==, 5); /* audio only, nothing known bad */
  /* A little loss on a normal link: good, not excellent. */
  g_assert_cmpuint(sfu_score_compute(0.02, 100, 10, 1500000, 1500000), ==, 4);
  /* 5 % loss and 600 ms RTT: poor or worse. */
  g_assert_cmpuint(sfu_score_compute(0.05, 600, 30, 1500000, 1500000), <=, 2);
  g_assert_cmpuint(sfu_score_compute(0.05, 600, 30, 0, 0), <=, 2);
  /* Satellite-like delay alone, no loss: fair. */
  g_assert_cmpuint(sfu_score_compute(0, 600, 10, 0, 0), ==, 3);
  /* 20 % loss: bad whatever else. */
  g_assert_cmpuint(sfu_score_compute(0.20, 20, 2, 1500000, 1500000), ==, 1);
  /* Video starved: a tenth of what the layer wants on a clean link. */
  g_assert_cmpuint(sfu_score_compute(0, 40, 5, 150000, 1500000), ==, 1);
  g_assert_cmpuint(sfu_score_compute(0, 40, 5, 600000, 1500000), ==, 3);
  g_assert_cmpuint(sfu_score_compute(0, 40, 5, 1300000, 1500000), ==, 5);
  /* Out-of-range input is clamped, never better than the truth. */
  g_assert_cmpuint(sfu_score_compute(2.0, 40, 5, 0, 0), ==, 1);
  g_assert_cmpuint(sfu_score_compute(0.0 / 0.0, 40, 5, 0, 0), ==, 1);
  /* Monotonic in loss. */
  guint prev = 5;
  for (double loss = 0; loss <= 0.3; loss += 0.005) {
    guint s = sfu_score_compute(loss, 100, 10, 0, 0);
    g_assert_cmpuint(s, <=, prev);
    prev = s;
  }
}

static void test_smoother(void)
{
  SfuScoreSmoother *sm = sfu_score_smoother_new();
  g_assert_cmpuint(sfu_score_smoother_get(sm), ==, 0);
  gint64 t = 0;
  g_assert_cmpuint(sfu_score_smoother_push(sm, 5, t), ==, 5);
  /* Down at once. */
  t += G_USEC_PER_SEC;
  g_assert_cmpuint(sfu_score_smoother_push(sm, 2, t), ==, 2);
  /* Up one step only after 5 s of better scores. */
  guint shown = 0;
  gint64 up_at = -1;
  for (guint i = 1; i <= 30; i++) {
    shown = sfu_score_smoother_push(sm, 5, t + i * G_USEC_PER_SEC);
    if (shown == 3 && up_at < 0)
      up_at = i;
  }
  g_test_message("2 -> 3 after %" G_GINT64_FORMAT " s of fives; after 30 s: %u", up_at, shown);
  g_assert_cmpint(up_at, ==, 6); /* first better sample at 1 s, +5 s */
  g_assert_cmpuint(shown, ==, 5);
  /* Flapping raw input (5, 2, 5, 2 ...) stays at the low value. */
  t += 31 * G_USEC_PER_SEC;
  for (guint i = 0; i < 20; i++)
    shown = sfu_score_smoother_push(sm, i % 2 ? 5 : 2, t + i * G_USEC_PER_SEC);
  g_assert_cmpuint(shown, ==, 2);
  sfu_score_smoother_free(sm);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/score/compute", test_compute);
  g_test_add_func("/score/smoother", test_smoother);
  return g_test_run();
}
