/* test-sdp.c — the relay's checks of what browsers send back (sfu-sdp.c): a browser's answer
 * before GStreamer parses it, whether it fits the offer, and trickled ICE candidates. The seed
 * answers and candidates of tests/fuzz/corpus/sdp-answer must pass; absurd input must not. */
#include "sfu-sdp.h"
#include "sfu.h"

#include <string.h>

/* Chrome 120's answer to a subscription offer (audio, video), trimmed of its ssrc lines. */
static const char chrome_answer[] =
    "v=0\r\no=- 2283750118645530781 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE audio0 video1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:pR7s\r\na=ice-pwd:Lk2mN9bV4cX6zQ1wE8rT0yU3\r\na=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 "
    "A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:01:12:23:34:45:56:67:78:89:9A:AB:BC:CD:DE:EF:"
    "F0\r\na=setup:active\r\na=mid:audio0\r\na=recvonly\r\na=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:pR7s\r\n"
    "a=ice-pwd:Lk2mN9bV4cX6zQ1wE8rT0yU3\r\na=fingerprint:sha-256 "
    "A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:01:12:23:34:45:56:67:78:89:9A:AB:BC:CD:DE:EF:"
    "F0\r\na=setup:active\r\na=mid:video1\r\na=recvonly\r\na=rtcp-mux\r\n"
    "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 transport-cc\r\na=rtcp-fb:96 nack pli\r\n";

static const char offer_text[] =
    "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuv\r\na=fingerprint:sha-256 00:11\r\na=mid:audio0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuv\r\na=fingerprint:sha-256 00:11\r\na=mid:video1\r\n";

static GstSDPMessage *parse_ok(const char *text)
{
  g_autoptr(GError) error = NULL;
  GstSDPMessage *m = sfu_sdp_parse_answer(text, strlen(text), &error);
  g_assert_no_error(error);
  g_assert_nonnull(m);
  return m;
}

static void parse_bad(const char *text, gsize len, const char *why)
{
  g_autoptr(GError) error = NULL;
  GstSDPMessage *m = sfu_sdp_parse_answer(text, len, &error);
  g_assert_null(m);
  g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP);
  if (!strstr(error->message, why))
    g_error("\"%s\" does not say \"%s\"", error->message, why);
}

static void test_answer_valid(void)
{
  GstSDPMessage *offer = parse_ok(offer_text);
  GstSDPMessage *answer = parse_ok(chrome_answer);
  g_autoptr(GError) error = NULL;
  g_assert_true(sfu_sdp_answer_fits(offer, answer, &error));
  g_assert_no_error(error);
  gst_sdp_message_free(answer);

  /* LF only, no final line break, a candidate line, a rejected m-line without transport */
  answer = parse_ok("v=0\no=- 1 2 IN IP4 127.0.0.1\ns=-\nt=0 0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\n"
                    "a=candidate:1 1 UDP 2122252543 192.168.1.5 54321 typ host\n"
                    "a=ice-ufrag:x\na=fingerprint:sha-256 00\nm=video 0 UDP/TLS/RTP/SAVPF 96");
  g_assert_true(sfu_sdp_answer_fits(offer, answer, &error));
  g_assert_no_error(error);
  gst_sdp_message_free(answer);

  /* parses, but does not fit: one m-line for two, kinds swapped */
  answer = parse_ok("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
  g_assert_false(sfu_sdp_answer_fits(offer, answer, &error));
  g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP);
  g_clear_error(&error);
  gst_sdp_message_free(answer);
  gst_sdp_message_free(offer);
}

static void test_answer_absurd(void)
{
  parse_bad("", 0, "v=0");
  parse_bad("this is not SDP", 15, "v=0");
  /* a NUL, a byte over 0x7f, a bare CR inside a line, an empty line, no "x=" */
  parse_bad("v=0\r\ns=\0\r\n", 9, "printable ASCII");
  parse_bad("v=0\r\ns=caf\xc3\xa9\r\n", 12, "printable ASCII");
  parse_bad("v=0\r\ns=a\rb\r\n", 11, "printable ASCII");
  parse_bad("v=0\r\n\r\ns=-\r\n", 11, "empty line");
  parse_bad("v=0\r\nhello\r\n", 12, "<letter>=<value>");
  parse_bad("v=0\r\nS=-\r\n", 9, "<letter>=<value>");
  /* a malformed candidate line */
  const char *c = "v=0\r\na=candidate:1 1 udp 1 10.0.0.1 70000 typ host\r\n";
  parse_bad(c, strlen(c), "port");
  /* too long, too many lines, too many m-lines, a line too long */
  g_autofree char *big = g_strnfill(SFU_SDP_MAX_BYTES + 1, 'a');
  memcpy(big, "v=0\n", 4);
  parse_bad(big, strlen(big), "over 65536 bytes");
  GString *s = g_string_new("v=0\n");
  for (int i = 0; i < SFU_SDP_MAX_LINES; i++)
    g_string_append(s, "a=x\n");
  parse_bad(s->str, s->len, "lines");
  g_string_assign(s, "v=0\n");
  for (int i = 0; i <= SFU_SDP_MAX_MLINES; i++)
    g_string_append(s, "m=audio 9 UDP/TLS/RTP/SAVPF 111\n");
  parse_bad(s->str, s->len, "m-lines");
  g_string_assign(s, "v=0\ns=");
  for (int i = 0; i < SFU_SDP_MAX_LINE; i++)
    g_string_append_c(s, 'x');
  parse_bad(s->str, s->len, "line 2 is over");
  g_string_free(s, TRUE);
  /* passes the text checks, refused after GStreamer's parser: version "01" */
  parse_bad("v=01\r\n", 6, "does not parse");
}

static void test_candidate(void)
{
  static const char *const good[] = {
      "candidate:3296843520 1 udp 2122260223 192.168.1.23 51820 typ host generation 0 ufrag Xy3a "
      "network-id 1 network-cost 10",
      "a=candidate:842163049 1 udp 1677729535 203.0.113.7 40012 typ srflx raddr 192.168.1.23 "
      "rport 51820 generation 0 ufrag Xy3a network-cost 999",
      "candidate:1467250027 1 udp 2122260223 5f2b3c4d-6e7f-4a8b-9c0d-1e2f3a4b5c6d.local 54400 "
      "typ host generation 0",
      "candidate:2199032595 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active",
      "candidate:2999745851 1 udp 2122262783 2001:db8::5c1e:a4ff:fe2b:19 58911 typ host",
      "candidate:0 1 UDP 2122252543 192.168.1.5 54321 typ host", /* Firefox */
      "candidate:1052384511 2 udp 41885439 198.51.100.10 61702 typ relay raddr 0.0.0.0 rport 0",
      "candidate:a+/b 256 TCP 4294967295 h 65535 typ prflx x-custom v",
  };
  static const char *const bad[] = {
      "",
      "candidate:",
      "cand:1 1 udp 1 10.0.0.1 1 typ host",
      "candidate:1 1 udp 1 10.0.0.1 1 typ",
      "candidate:1  1 udp 1 10.0.0.1 1 typ host",
      "candidate:1 1 udp 1 10.0.0.1 1 typ host ",
      "candidate:1 0 udp 1 10.0.0.1 1 typ host",
      "candidate:1 257 udp 1 10.0.0.1 1 typ host",
      "candidate:1 1 sctp 1 10.0.0.1 1 typ host",
      "candidate:1 1 udp 4294967296 10.0.0.1 1 typ host",
      "candidate:1 1 udp -1 10.0.0.1 1 typ host",
      "candidate:1 1 udp 1 10.0.0.1 65536 typ host",
      "candidate:1 1 udp 1 10.0.0.1% 1 typ host",
      "candidate:1 1 udp 1 10.0.0.1 1 type host",
      "candidate:1 1 udp 1 10.0.0.1 1 typ peer",
      "candidate:1 1 udp 1 10.0.0.1 1 typ host raddr",
      "candidate:1 1 udp 1 10.0.0.1 1 typ host rport 99999",
      "candidate:1 1 udp 1 10.0.0.1 1 typ host tcptype sideways",
      "candidate:1 1 udp 1 10.0.0.1 1 typ host generation x",
      "candidate:1 1 udp 1 10.0.0.1 1 typ host\r\na=candidate:2",
      "candidate:1 1 udp 1 10.0.0.1 1 typ host\tgeneration 0",
      "candidate:123456789012345678901234567890123 1 udp 1 10.0.0.1 1 typ host",
      "candidate:1 1 udp 1 10.0.0.1 1 typ host ufrag \xc3\xa9",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
    g_autoptr(GError) error = NULL;
    if (!sfu_sdp_check_candidate(good[i], &error))
      g_error("refused %s: %s", good[i], error->message);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    if (sfu_sdp_check_candidate(bad[i], &error))
      g_error("accepted %s", bad[i]);
    g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID);
  }
  /* at most 16 extensions, at most 1024 bytes */
  GString *s = g_string_new("candidate:1 1 udp 1 10.0.0.1 1 typ host");
  for (int i = 0; i < 16; i++)
    g_string_append(s, " generation 0");
  g_assert_true(sfu_sdp_check_candidate(s->str, NULL));
  g_string_append(s, " generation 0");
  g_assert_false(sfu_sdp_check_candidate(s->str, NULL));
  g_string_assign(s, "candidate:1 1 udp 1 10.0.0.1 1 typ host x ");
  while (s->len <= SFU_SDP_MAX_CANDIDATE)
    g_string_append_c(s, 'v');
  g_assert_false(sfu_sdp_check_candidate(s->str, NULL));
  g_string_free(s, TRUE);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sdp/answer/valid", test_answer_valid);
  g_test_add_func("/sdp/answer/absurd", test_answer_absurd);
  g_test_add_func("/sdp/candidate", test_candidate);
  return g_test_run();
}
