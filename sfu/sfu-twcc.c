/* sfu-twcc.c — see sfu-twcc.h. Cost: one pass over the chunks and one over the deltas; a
 * scratch array of one byte per reported packet (at most 65535). */
#include "sfu-twcc.h"

#include <string.h>

enum { NOT_RECEIVED = 0, SMALL_DELTA = 1, LARGE_DELTA = 2, RESERVED = 3 };

int sfu_twcc_parse_fci(const guint8 *p, gsize len, SfuTwccStatus *out, guint max)
{
  if (!p || len < 8)
    return -1;
  guint16 base = (guint16)(p[0] << 8 | p[1]);
  guint count = (guint)(p[2] << 8 | p[3]);
  gint32 ref = (gint32)(p[4] << 16 | p[5] << 8 | p[6]);
  if (ref & 0x800000)
    ref -= 0x1000000; /* a signed 24-bit count of 64 ms */
  gsize off = 8;
  g_autofree guint8 *sym = g_malloc(count ? count : 1);
  guint n = 0;
  while (n < count) {
    if (off + 2 > len)
      return -1;
    guint c = (guint)(p[off] << 8 | p[off + 1]);
    off += 2;
    if (!(c & 0x8000)) { /* run length chunk */
      guint s = (c >> 13) & 3, run = c & 0x1fff;
      if (run == 0 || s == RESERVED)
        return -1;
      for (guint i = 0; i < run && n < count; i++)
        sym[n++] = (guint8)s;
    } else if (!(c & 0x4000)) { /* status vector, 14 one-bit symbols */
      for (guint i = 0; i < 14 && n < count; i++)
        sym[n++] = (guint8)((c >> (13 - i)) & 1);
    } else { /* status vector, 7 two-bit symbols */
      for (guint i = 0; i < 7 && n < count; i++) {
        guint s = (c >> (12 - 2 * i)) & 3;
        if (s == RESERVED)
          return -1;
        sym[n++] = (guint8)s;
      }
    }
  }
  gint64 t = (gint64)ref * 64000;
  guint written = 0;
  for (guint i = 0; i < count; i++) {
    gint64 arrival = 0;
    if (sym[i] == SMALL_DELTA) {
      if (off + 1 > len)
        return -1;
      t += (gint64)p[off] * 250;
      off += 1;
      arrival = t;
    } else if (sym[i] == LARGE_DELTA) {
      if (off + 2 > len)
        return -1;
      gint16 d = (gint16)(p[off] << 8 | p[off + 1]);
      t += (gint64)d * 250;
      off += 2;
      arrival = t;
    }
    if (written < max)
      out[written++] = (SfuTwccStatus){(guint16)(base + i), sym[i] != NOT_RECEIVED, arrival};
  }
  return (int)written;
}

gboolean sfu_remb_parse_fci(const guint8 *p, gsize len, guint64 *bitrate_bps)
{
  if (!p || len < 8 || memcmp(p, "REMB", 4) != 0)
    return FALSE;
  guint num_ssrc = p[4];
  if (len < 8 + 4 * (gsize)num_ssrc)
    return FALSE;
  guint exp = p[5] >> 2;
  guint64 mantissa = (guint64)(p[5] & 0x03) << 16 | (guint64)p[6] << 8 | p[7];
  /* 18-bit mantissa << 6-bit exponent can exceed 64 bits only for absurd exponents */
  if (exp > 46)
    return FALSE;
  *bitrate_bps = mantissa << exp;
  return TRUE;
}

guint sfu_rr_rtt_ms(guint rb_round_trip)
{
  return (guint)MIN(((guint64)rb_round_trip * 1000) >> 16, (guint64)SFU_RR_MAX_RTT_MS);
}
