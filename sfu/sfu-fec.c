/* sfu-fec.c — a leg's ULPFEC share and the RED packets' transport-wide extension id. */
#include "sfu-fec.h"

guint sfu_fec_share(double loss, guint rtt_ms)
{
  if (rtt_ms < SFU_FEC_MIN_RTT_MS || !(loss >= SFU_FEC_MIN_LOSS))
    return 0;
  /* rtpulpfecenc (multipacket, webrtcbin's setting) sends its FEC packets at the end of a frame,
   * each an XOR over that frame's packets only: one repairs one loss in its frame, and frames
   * without one are not protected at all. A weak leg's frames are one to three packets, so the
   * share has to be large to cover a useful part of them: ten times the loss, at least
   * SFU_FEC_MIN_PCT, at most SFU_FEC_MAX_PCT. */
  double pct = loss * 100.0 * 10.0;
  if (pct < SFU_FEC_MIN_PCT)
    pct = SFU_FEC_MIN_PCT;
  if (pct > SFU_FEC_MAX_PCT)
    pct = SFU_FEC_MAX_PCT;
  return (guint)(pct + 0.5);
}

guint sfu_fec_room(guint share, guint budget_bps, guint floor_bps)
{
  if (!floor_bps || budget_bps <= floor_bps)
    return 0;
  guint64 room = ((guint64)budget_bps - floor_bps) * 100 / floor_bps;
  return room < share ? (guint)room : share;
}

guint sfu_fec_next(guint current, guint want)
{
  if (want >= current)
    return want;
  return current > want + SFU_FEC_FALL_PCT ? current - SFU_FEC_FALL_PCT : want;
}

gssize sfu_fec_ext_misplaced(const guint8 *ext, gsize len, guint8 from, guint8 to)
{
  if (!ext || from == 0 || from > 14 || to == 0 || to > 14 || from == to)
    return -1;
  gssize found = -1;
  gsize i = 0;
  while (i < len) {
    guint8 b = ext[i];
    if (b == 0) { /* padding */
      i++;
      continue;
    }
    guint8 id = b >> 4;
    if (id == 15) /* reserved: stop reading */
      break;
    gsize size = (gsize)(b & 0x0f) + 1;
    if (i + 1 + size > len)
      return -1; /* truncated: leave it alone */
    if (id == to)
      return -1;
    if (id == from && found < 0)
      found = (gssize)i;
    i += 1 + size;
  }
  return found;
}

void sfu_fec_ext_rename(guint8 *element, guint8 to)
{
  *element = (guint8)(to << 4 | (*element & 0x0f));
}

gboolean sfu_fec_retag_ext(guint8 *ext, gsize len, guint8 from, guint8 to)
{
  gssize at = sfu_fec_ext_misplaced(ext, len, from, to);
  if (at < 0)
    return FALSE;
  sfu_fec_ext_rename(ext + at, to);
  return TRUE;
}
