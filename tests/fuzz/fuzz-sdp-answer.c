/* fuzz-sdp-answer.c — libFuzzer driver for what the relay accepts from a browser's signaling:
 * the answer SDP (sfu_room_set_answer(): sfu_sdp_parse_answer(), whose checks run before
 * GStreamer's parser, then sfu_sdp_answer_fits() against the relay's offers) and a trickled ICE
 * candidate (sfu_room_add_candidate(): sfu_sdp_check_candidate()). Every input is tried as both:
 * the seeds are Chrome and Firefox answers and candidates. What passes is checked against what
 * the checks promise (ASCII, bounds), since webrtcbin and libnice trust it. */
#include <stdint.h>
#include <string.h>

#include "sfu-sdp.h"
#include "sfu.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The relay's offers as webrtcbin 1.22 writes them (trimmed): a publish connection (audio,
 * video) and an audio-only subscription. */
static const char *const offer_texts[] = {
    "v=0\r\no=- 5893226367283014523 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "a=ice-options:trickle\r\na=group:BUNDLE audio0 video1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\nc=IN IP4 0.0.0.0\r\na=setup:actpass\r\n"
    "a=ice-ufrag:Q3kbPz8t1WnYcLm0\r\na=ice-pwd:uV7sHq2xJ9dG4kRb6fNw1aEo3iTy5lZc\r\n"
    "a=rtcp-mux\r\na=rtcp-rsize\r\na=recvonly\r\na=rtpmap:111 OPUS/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\na=fmtp:111 useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\na=extmap:3 "
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=fingerprint:sha-256 "
    "3C:9A:11:5E:D2:07:B8:64:F1:2C:90:AB:35:7E:C4:08:DD:61:9F:23:A7:4B:E0:12:8C:56:F3:09:B1:7D:"
    "4E:A2\r\na=mid:audio0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99\r\nc=IN IP4 0.0.0.0\r\na=setup:actpass\r\n"
    "a=ice-ufrag:Q3kbPz8t1WnYcLm0\r\na=ice-pwd:uV7sHq2xJ9dG4kRb6fNw1aEo3iTy5lZc\r\n"
    "a=rtcp-mux\r\na=rtcp-rsize\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 transport-cc\r\na=rtcp-fb:96 goog-remb\r\na=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\na=rtpmap:98 red/90000\r\na=rtpmap:99 ulpfec/90000\r\n"
    "a=fingerprint:sha-256 "
    "3C:9A:11:5E:D2:07:B8:64:F1:2C:90:AB:35:7E:C4:08:DD:61:9F:23:A7:4B:E0:12:8C:56:F3:09:B1:7D:"
    "4E:A2\r\na=mid:video1\r\n",
    "v=0\r\no=- 7712093381160925270 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=setup:actpass\r\n"
    "a=ice-ufrag:Jm2cXq9sV4bNw7Lr\r\na=ice-pwd:Pe5tYu8iOa1sDf3gHj6kLz9xCv2bNm4q\r\n"
    "a=rtcp-mux\r\na=sendonly\r\na=rtpmap:111 OPUS/48000/2\r\na=fingerprint:sha-256 "
    "3C:9A:11:5E:D2:07:B8:64:F1:2C:90:AB:35:7E:C4:08:DD:61:9F:23:A7:4B:E0:12:8C:56:F3:09:B1:7D:"
    "4E:A2\r\na=mid:audio0\r\n",
};
static GstSDPMessage *offers[G_N_ELEMENTS(offer_texts)];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  for (gsize i = 0; i < G_N_ELEMENTS(offer_texts); i++) {
    g_autoptr(GError) error = NULL;
    offers[i] = sfu_sdp_parse_answer(offer_texts[i], strlen(offer_texts[i]), &error);
    g_assert_no_error(error);
  }
  return 0;
}

static void answer(const uint8_t *data, size_t size)
{
  GError *error = NULL;
  GstSDPMessage *msg = sfu_sdp_parse_answer((const char *)data, size, &error);
  if (!msg) {
    g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP);
    g_error_free(error);
    return;
  }
  /* what passed the checks is bounded printable ASCII */
  g_assert_cmpuint(size, <=, SFU_SDP_MAX_BYTES);
  for (size_t i = 0; i < size; i++)
    g_assert_true(data[i] == '\r' || data[i] == '\n' || data[i] == '\t' ||
                  (data[i] >= 0x20 && data[i] <= 0x7e));
  g_assert_cmpuint(gst_sdp_message_medias_len(msg), <=, SFU_SDP_MAX_MLINES);
  for (gsize i = 0; i < G_N_ELEMENTS(offers); i++) {
    if (!sfu_sdp_answer_fits(offers[i], msg, &error)) {
      g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID_SDP);
      g_clear_error(&error);
    }
  }
  gst_sdp_message_free(msg);
}

static void candidate(const uint8_t *data, size_t size)
{
  /* The signaling hands over a C string of at most 1024 bytes (sig-msg.c). */
  if (size > 4 * SFU_SDP_MAX_CANDIDATE)
    return;
  g_autofree char *c = g_strndup((const char *)data, size);
  GError *error = NULL;
  if (!sfu_sdp_check_candidate(c, &error)) {
    g_assert_error(error, SFU_ERROR, SFU_ERROR_INVALID);
    g_error_free(error);
    return;
  }
  gsize n = strlen(c);
  g_assert_cmpuint(n, <=, SFU_SDP_MAX_CANDIDATE);
  g_assert_true(g_str_has_prefix(c, "candidate:") || g_str_has_prefix(c, "a=candidate:"));
  g_assert_null(strpbrk(c, "\r\n\t"));
  for (gsize i = 0; i < n; i++)
    g_assert_true((guchar)c[i] >= 0x20 && (guchar)c[i] <= 0x7e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  answer(data, size);
  candidate(data, size);
  return 0;
}
