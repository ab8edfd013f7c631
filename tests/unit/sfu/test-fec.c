/* test-fec.c — a leg's ULPFEC share and the RED packets' transport-wide extension id
 * (sfu-fec.c). */
#include "sfu-fec.h"

static void test_share(void)
{
  /* Clean leg, or NACK quick enough: none. */
  g_assert_cmpuint(sfu_fec_share(0, 300), ==, 0);
  g_assert_cmpuint(sfu_fec_share(0.001, 300), ==, 0);
  g_assert_cmpuint(sfu_fec_share(0.05, 20), ==, 0);
  g_assert_cmpuint(sfu_fec_share(0.05, 99), ==, 0);
  g_assert_cmpuint(sfu_fec_share(0.05, 0), ==, 0); /* RTT not known yet */
  g_assert_cmpuint(sfu_fec_share(0.0 / 0.0, 300), ==, 0);
  /* rural-3g (2 %, 300 ms) and edge (5 %, 600 ms). */
  g_assert_cmpuint(sfu_fec_share(0.02, 300), ==, 20);
  g_assert_cmpuint(sfu_fec_share(0.01, 300), ==, SFU_FEC_MIN_PCT);
  g_assert_cmpuint(sfu_fec_share(0.03, 300), ==, 30);
  g_assert_cmpuint(sfu_fec_share(0.05, 600), ==, SFU_FEC_MAX_PCT);
  g_assert_cmpuint(sfu_fec_share(0.40, 600), ==, SFU_FEC_MAX_PCT);
  /* Grows with the loss, never past the cap. */
  guint prev = 0;
  for (double loss = 0; loss <= 0.5; loss += 0.0025) {
    guint s = sfu_fec_share(loss, 200);
    g_assert_cmpuint(s, >=, prev);
    g_assert_cmpuint(s, <=, SFU_FEC_MAX_PCT);
    prev = s;
  }
}

static void test_room(void)
{
  /* edge: ~130 kbit/s estimate, 60 of it audio: nothing beyond the 60 kbit/s floor. */
  g_assert_cmpuint(sfu_fec_room(50, 70000, 60000), ==, 16);
  g_assert_cmpuint(sfu_fec_room(50, 60000, 60000), ==, 0);
  g_assert_cmpuint(sfu_fec_room(50, 30000, 60000), ==, 0);
  /* rural-3g: ~300 kbit/s of video budget, room for all of it. */
  g_assert_cmpuint(sfu_fec_room(50, 300000, 60000), ==, 50);
  g_assert_cmpuint(sfu_fec_room(0, 300000, 60000), ==, 0);
  g_assert_cmpuint(sfu_fec_room(50, 84000, 60000), ==, 40);
  g_assert_cmpuint(sfu_fec_room(50, G_MAXUINT, 60000), ==, 50);
  g_assert_cmpuint(sfu_fec_room(50, 300000, 0), ==, 0);
}

static void test_next(void)
{
  g_assert_cmpuint(sfu_fec_next(0, 0), ==, 0);
  g_assert_cmpuint(sfu_fec_next(0, 30), ==, 30); /* up at once */
  g_assert_cmpuint(sfu_fec_next(30, 50), ==, 50);
  g_assert_cmpuint(sfu_fec_next(50, 0), ==, 50 - SFU_FEC_FALL_PCT); /* one quiet report */
  g_assert_cmpuint(sfu_fec_next(50, 48), ==, 48);
  /* A leg whose reports say 0 from now on: down step by step, then off. */
  guint pct = SFU_FEC_MAX_PCT, ticks = 0;
  while (pct && ticks < 100) {
    guint next = sfu_fec_next(pct, 0);
    g_assert_cmpuint(next, ==, pct - SFU_FEC_FALL_PCT);
    pct = next;
    ticks++;
  }
  g_assert_cmpuint(ticks, ==, SFU_FEC_MAX_PCT / SFU_FEC_FALL_PCT);
  g_assert_cmpuint(sfu_fec_next(1, 0), ==, 0);
  /* Reports alternating between 2 % loss and none (rural-3g, ~25 video packets a second): the
   * share stays near what 2 % asks for, it does not switch off and on. */
  pct = 0;
  for (int i = 0; i < 60; i++) {
    pct = sfu_fec_next(pct, sfu_fec_share(i % 2 ? 0.0 : 0.02, 300));
    if (i)
      g_assert_cmpuint(pct, >=, sfu_fec_share(0.02, 300) - SFU_FEC_FALL_PCT);
  }
}

static void test_retag(void)
{
  /* What rtpredenc 1.22.0 writes: element id 1, two bytes, then padding to a word. */
  guint8 red[] = {0x11, 0xaa, 0xbb, 0x00};
  g_assert_true(sfu_fec_retag_ext(red, sizeof red, 1, 3));
  g_assert_cmphex(red[0], ==, 0x31);
  g_assert_cmphex(red[1], ==, 0xaa);
  g_assert_cmphex(red[2], ==, 0xbb);
  /* Already there: nothing to do, twice. */
  g_assert_false(sfu_fec_retag_ext(red, sizeof red, 1, 3));
  /* Both ids present (a packet that was not rebuilt): left alone. */
  guint8 both[] = {0x11, 0x01, 0x02, 0x31, 0x03, 0x04, 0x00, 0x00};
  g_assert_false(sfu_fec_retag_ext(both, sizeof both, 1, 3));
  g_assert_cmphex(both[0], ==, 0x11);
  g_assert_cmphex(both[3], ==, 0x31);
  /* The right element found after padding and another element. */
  guint8 later[] = {0x00, 0x20, 0x7f, 0x11, 0x05, 0x06, 0x00, 0x00};
  g_assert_true(sfu_fec_retag_ext(later, sizeof later, 1, 3));
  g_assert_cmphex(later[1], ==, 0x20);
  g_assert_cmphex(later[3], ==, 0x31);
  /* No element `from`. */
  guint8 none[] = {0x20, 0x7f, 0x00, 0x00};
  g_assert_false(sfu_fec_retag_ext(none, sizeof none, 1, 3));
  g_assert_cmphex(none[0], ==, 0x20);
  /* Truncated element: left alone (and no read past the end). */
  guint8 cut[] = {0x13, 0x01, 0x02};
  g_assert_false(sfu_fec_retag_ext(cut, sizeof cut, 1, 3));
  g_assert_cmphex(cut[0], ==, 0x13);
  /* Id 15 ends the block: an element after it is not read. */
  guint8 stop[] = {0xf0, 0x11, 0x01, 0x02};
  g_assert_false(sfu_fec_retag_ext(stop, sizeof stop, 1, 3));
  /* Nonsense ids and empty input. */
  g_assert_false(sfu_fec_retag_ext(red, sizeof red, 0, 3));
  g_assert_false(sfu_fec_retag_ext(red, sizeof red, 3, 15));
  g_assert_false(sfu_fec_retag_ext(red, sizeof red, 3, 3));
  g_assert_false(sfu_fec_retag_ext(NULL, 0, 1, 3));
  g_assert_false(sfu_fec_retag_ext(red, 0, 3, 1));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/fec/share", test_share);
  g_test_add_func("/fec/room", test_room);
  g_test_add_func("/fec/next", test_next);
  g_test_add_func("/fec/retag", test_retag);
  return g_test_run();
}
