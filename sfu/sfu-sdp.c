/* sfu-sdp.c — see sfu-sdp.h. */
#include "sfu-sdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The payload type of "a=rtpmap:<pt> <name>" when <name> starts with `codec`, else -1. */
static int rtpmap_pt(const char *line, const char *codec)
{
  if (!g_str_has_prefix(line, "a=rtpmap:"))
    return -1;
  char *end = NULL;
  long pt = strtol(line + 9, &end, 10);
  if (end == line + 9 || *end != ' ' || pt < 0 || pt > 127)
    return -1;
  return g_ascii_strncasecmp(end + 1, codec, strlen(codec)) == 0 ? (int)pt : -1;
}

/* "m=audio 9 UDP/TLS/RTP/SAVPF 111 97 98" without `drop`, `first` moved to the front. */
static char *mline_rewrite(const char *line, int first, int drop)
{
  g_auto(GStrv) f = g_strsplit(line, " ", -1);
  guint n = g_strv_length(f);
  if (n < 4)
    return g_strdup(line);
  GString *out = g_string_new(NULL);
  g_string_append_printf(out, "%s %s %s", f[0], f[1], f[2]);
  if (first >= 0)
    g_string_append_printf(out, " %d", first);
  for (guint i = 3; i < n; i++) {
    int pt = atoi(f[i]);
    if ((first >= 0 && pt == first) || (drop >= 0 && pt == drop))
      continue;
    g_string_append_printf(out, " %s", f[i]);
  }
  return g_string_free(out, FALSE);
}

char *sfu_sdp_audio_red(const char *sdp, int opus_pt, gboolean red_first, int *red_pt)
{
  g_return_val_if_fail(sdp != NULL && red_pt != NULL, NULL);
  *red_pt = -1;
  const char *eol = strstr(sdp, "\r\n") ? "\r\n" : "\n";
  g_auto(GStrv) lines = g_strsplit(sdp, eol, -1);
  /* Pass 1: the audio section's RED and ulpfec payload types. */
  int red = -1, fec = -1;
  gboolean audio = FALSE;
  for (char **l = lines; *l; l++) {
    if (g_str_has_prefix(*l, "m="))
      audio = g_str_has_prefix(*l, "m=audio ");
    else if (audio && rtpmap_pt(*l, "red/") >= 0)
      red = rtpmap_pt(*l, "red/");
    else if (audio && rtpmap_pt(*l, "ulpfec/") >= 0)
      fec = rtpmap_pt(*l, "ulpfec/");
  }
  if (red < 0)
    return g_strdup(sdp);
  *red_pt = red;
  g_autofree char *fmtp_prefix = g_strdup_printf("a=fmtp:%d ", red);
  g_autofree char *fec_fmtp = fec >= 0 ? g_strdup_printf("a=fmtp:%d ", fec) : NULL;
  GString *out = g_string_new(NULL);
  audio = FALSE;
  for (char **l = lines; *l; l++) {
    if (!**l && !l[1])
      break; /* the empty string after the last line break */
    if (g_str_has_prefix(*l, "m=")) {
      audio = g_str_has_prefix(*l, "m=audio ");
      if (audio) {
        g_autofree char *m = mline_rewrite(*l, red_first ? red : -1, fec);
        g_string_append_printf(out, "%s%s", m, eol);
        continue;
      }
    } else if (audio && rtpmap_pt(*l, "red/") == red) {
      g_string_append_printf(out, "a=rtpmap:%d red/48000/2%sa=fmtp:%d %d/%d%s", red, eol, red,
                             opus_pt, opus_pt, eol);
      continue;
    } else if (audio && (g_str_has_prefix(*l, fmtp_prefix) ||
                         (fec >= 0 &&
                          (rtpmap_pt(*l, "ulpfec/") == fec || g_str_has_prefix(*l, fec_fmtp))))) {
      continue; /* replaced above, or the ulpfec browsers refuse for audio */
    }
    g_string_append_printf(out, "%s%s", *l, eol);
  }
  return g_string_free(out, FALSE);
}
