/* sfu-sdp.c — see sfu-sdp.h. Cost of the checks: one pass over the answer's bytes, and a split
 * of each candidate line into its fields. */
#include "sfu-sdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu.h"

/* Here rather than in sfu.c so that the pure files link without the relay (tests, fuzzers). */
G_DEFINE_QUARK(sfu - error - quark, sfu_error)

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

/* --- What browsers send back ------------------------------------------------------------ */

/* 1..max_digits decimal digits whose value is at most `max`. */
static gboolean is_uint(const char *s, gsize max_digits, guint64 max)
{
  gsize n = strlen(s);
  if (n == 0 || n > max_digits)
    return FALSE;
  guint64 v = 0;
  for (gsize i = 0; i < n; i++) {
    if (!g_ascii_isdigit(s[i]))
      return FALSE;
    v = v * 10 + (guint64)(s[i] - '0'); /* max_digits <= 10: no overflow */
  }
  return v <= max;
}

/* 1..max bytes, each alphanumeric or in `extra`. */
static gboolean is_word(const char *s, gsize max, const char *extra)
{
  gsize n = strlen(s);
  if (n == 0 || n > max)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum(s[i]) && !strchr(extra, s[i]))
      return FALSE;
  return TRUE;
}

#define IS_ADDRESS(s) is_word((s), 255, ".:-")
#define IS_PORT(s) is_uint((s), 5, 65535)

/* NULL if `c` is a well-formed candidate (sfu_sdp_check_candidate()), else why not. */
static const char *candidate_problem(const char *c)
{
  gsize len = strlen(c);
  if (len > SFU_SDP_MAX_CANDIDATE)
    return "is too long";
  for (gsize i = 0; i < len; i++)
    if ((guchar)c[i] < 0x20 || (guchar)c[i] > 0x7e)
      return "has a byte that is not printable ASCII";
  if (g_str_has_prefix(c, "a="))
    c += 2;
  if (!g_str_has_prefix(c, "candidate:"))
    return "does not start with candidate:";
  g_auto(GStrv) f = g_strsplit(c + 10, " ", 0);
  guint n = g_strv_length(f);
  for (guint i = 0; i < n; i++)
    if (!*f[i])
      return "has fields not separated by single spaces";
  if (n < 8)
    return "has too few fields";
  if (!is_word(f[0], 32, "+/"))
    return "has a malformed foundation";
  if (!is_uint(f[1], 3, 256) || strspn(f[1], "0") == strlen(f[1]))
    return "has a component id out of 1-256";
  if (g_ascii_strcasecmp(f[2], "udp") != 0 && g_ascii_strcasecmp(f[2], "tcp") != 0)
    return "has a transport other than UDP or TCP";
  if (!is_uint(f[3], 10, G_MAXUINT32))
    return "has a priority out of 0-2^32-1";
  if (!IS_ADDRESS(f[4]))
    return "has a malformed address";
  if (!IS_PORT(f[5]))
    return "has a port out of 0-65535";
  if (strcmp(f[6], "typ") != 0)
    return "has no typ";
  static const char *const types[] = {"host", "srflx", "prflx", "relay", NULL};
  if (!g_strv_contains(types, f[7]))
    return "has an unknown candidate type";
  if ((n - 8) % 2 != 0)
    return "has an extension without a value";
  if (n - 8 > 32)
    return "has too many extensions";
  for (guint i = 8; i < n; i += 2) {
    const char *name = f[i], *value = f[i + 1];
    if (!is_word(name, 32, "-") || strlen(value) > 255)
      return "has a malformed extension";
    gboolean ok = TRUE;
    if (strcmp(name, "raddr") == 0)
      ok = IS_ADDRESS(value);
    else if (strcmp(name, "rport") == 0)
      ok = IS_PORT(value);
    else if (strcmp(name, "tcptype") == 0)
      ok = !strcmp(value, "active") || !strcmp(value, "passive") || !strcmp(value, "so");
    else if (!strcmp(name, "generation") || !strcmp(name, "network-id") ||
             !strcmp(name, "network-cost"))
      ok = is_uint(value, 10, G_MAXUINT32);
    if (!ok)
      return "has a malformed extension value";
  }
  return NULL;
}

gboolean sfu_sdp_check_candidate(const char *candidate, GError **error)
{
  g_return_val_if_fail(candidate != NULL, FALSE);
  const char *problem = candidate_problem(candidate);
  if (problem)
    g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID, "ICE candidate %s", problem);
  return problem == NULL;
}

/* The line-level checks of sfu_sdp_parse_answer(). Line numbers in messages count from 1. */
static gboolean answer_text_ok(const char *sdp, gsize len, GError **error)
{
#define REFUSE(...)                                                                                \
  do {                                                                                             \
    g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP, __VA_ARGS__);                             \
    return FALSE;                                                                                  \
  } while (0)
  if (len > SFU_SDP_MAX_BYTES)
    REFUSE("answer is over %d bytes", SFU_SDP_MAX_BYTES);
  if (len < 3 || memcmp(sdp, "v=0", 3) != 0)
    REFUSE("answer does not start with v=0");
  guint lines = 0, mlines = 0;
  for (gsize start = 0; start < len;) {
    const char *nl = memchr(sdp + start, '\n', len - start);
    gsize end = nl ? (gsize)(nl - sdp) : len;
    gsize next = nl ? end + 1 : len;
    if (nl && end > start && sdp[end - 1] == '\r')
      end--;
    gsize n = end - start;
    const char *line = sdp + start;
    start = next;
    if (n == 0) {
      if (next < len)
        REFUSE("answer has an empty line");
      break;
    }
    if (++lines > SFU_SDP_MAX_LINES)
      REFUSE("answer has over %d lines", SFU_SDP_MAX_LINES);
    if (n > SFU_SDP_MAX_LINE)
      REFUSE("answer line %u is over %d bytes", lines, SFU_SDP_MAX_LINE);
    if (n < 2 || !g_ascii_islower(line[0]) || line[1] != '=')
      REFUSE("answer line %u is not <letter>=<value>", lines);
    for (gsize i = 0; i < n; i++)
      if (((guchar)line[i] < 0x20 && line[i] != '\t') || (guchar)line[i] > 0x7e)
        REFUSE("answer line %u has a byte that is not printable ASCII", lines);
    if (line[0] == 'm' && ++mlines > SFU_SDP_MAX_MLINES)
      REFUSE("answer has over %d m-lines", SFU_SDP_MAX_MLINES);
    if (n > 12 && memcmp(line, "a=candidate:", 12) == 0) {
      g_autofree char *c = g_strndup(line, n);
      const char *problem = candidate_problem(c);
      if (problem)
        REFUSE("answer line %u: ICE candidate %s", lines, problem);
    }
  }
  return TRUE;
#undef REFUSE
}

GstSDPMessage *sfu_sdp_parse_answer(const char *sdp, gsize len, GError **error)
{
  g_return_val_if_fail(sdp != NULL || len == 0, NULL);
  if (!answer_text_ok(sdp, len, error))
    return NULL;
  GstSDPMessage *msg = NULL;
  gst_sdp_message_new(&msg);
  if (gst_sdp_message_parse_buffer((const guint8 *)sdp, (guint)len, msg) != GST_SDP_OK ||
      g_strcmp0(gst_sdp_message_get_version(msg), "0") != 0) {
    gst_sdp_message_free(msg);
    g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP, "answer does not parse as SDP");
    return NULL;
  }
  return msg;
}

gboolean sfu_sdp_answer_fits(const GstSDPMessage *offer, const GstSDPMessage *answer,
                             GError **error)
{
  g_return_val_if_fail(offer != NULL && answer != NULL, FALSE);
  guint n = gst_sdp_message_medias_len(answer);
  if (n == 0 || n != gst_sdp_message_medias_len(offer)) {
    g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP, "answer has %u m-lines, offer %u", n,
                gst_sdp_message_medias_len(offer));
    return FALSE;
  }
  gboolean session_fp = gst_sdp_message_get_attribute_val(answer, "fingerprint") != NULL;
  gboolean session_ufrag = gst_sdp_message_get_attribute_val(answer, "ice-ufrag") != NULL;
  for (guint i = 0; i < n; i++) {
    const GstSDPMedia *a = gst_sdp_message_get_media(answer, i);
    const GstSDPMedia *o = gst_sdp_message_get_media(offer, i);
    if (g_strcmp0(gst_sdp_media_get_media(a), gst_sdp_media_get_media(o)) != 0) {
      g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP, "m-line %u is %s, offered %s", i,
                  gst_sdp_media_get_media(a), gst_sdp_media_get_media(o));
      return FALSE;
    }
    /* a rejected m-line (port 0) needs no transport */
    if (gst_sdp_media_get_port(a) == 0)
      continue;
    if (!session_fp && !gst_sdp_media_get_attribute_val(a, "fingerprint")) {
      g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP, "m-line %u has no fingerprint", i);
      return FALSE;
    }
    if (!session_ufrag && !gst_sdp_media_get_attribute_val(a, "ice-ufrag")) {
      g_set_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP, "m-line %u has no ice-ufrag", i);
      return FALSE;
    }
  }
  return TRUE;
}
