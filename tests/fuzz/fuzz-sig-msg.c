/* fuzz-sig-msg.c — libFuzzer driver for the signaling codec: one WebSocket text message from a
 * browser, exactly as sig-server.c hands it to sig_msg_parse() (any bytes, any length; the
 * server refuses more than SIG_MSG_MAX_BYTES before parsing, the codec checks it again).
 * Besides memory errors, it checks what the codec promises the consultation code: a message
 * comes back with every field of its type present and within the protocol's bounds. */
#include <stdint.h>
#include <string.h>

#include "sig-msg.h"
#include "sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  GError *error = NULL;
  SigMsg *m = sig_msg_parse((const char *)data, size, &error);
  if (!m) {
    g_assert_error(error, SIG_ERROR, SIG_ERROR_MALFORMED);
    g_error_free(error);
    return 0;
  }
  g_assert_no_error(error);
  g_assert_cmpstr(sig_msg_type_name(m->type), !=, "?");
  switch (m->type) {
  case SIG_MSG_HELLO:
    g_assert_true(!m->token || strlen(m->token) <= 128);
    break;
  case SIG_MSG_ADMIT:
    g_assert_cmpint(m->appointment_id, >, 0);
    break;
  case SIG_MSG_INVITE:
    g_assert_cmpint(m->appointment_id, >, 0);
    g_assert_true(sig_msg_guest_role_is_valid(m->role));
    break;
  case SIG_MSG_ANSWER:
    g_assert_true(sig_msg_pc_is_valid(m->pc));
    g_assert_true(g_str_has_prefix(m->sdp, "v=0"));
    g_assert_cmpuint(strlen(m->sdp), <=, SIG_MSG_MAX_BYTES);
    break;
  case SIG_MSG_CANDIDATE:
    g_assert_true(sig_msg_pc_is_valid(m->pc));
    g_assert_true(!m->candidate || g_str_has_prefix(m->candidate, "candidate:") ||
                  g_str_has_prefix(m->candidate, "a=candidate:"));
    g_assert_cmpuint(m->mline_index, <=, 15);
    break;
  case SIG_MSG_END:
    g_assert_true(sig_msg_outcome_is_valid(m->outcome));
    break;
  case SIG_MSG_CHAT:
    /* 1..SIG_CHAT_MAX_CHARS characters of valid UTF-8; an appointment id only if positive. */
    g_assert_nonnull(m->text);
    g_assert_true(g_utf8_validate(m->text, -1, NULL));
    g_assert_cmpint(g_utf8_strlen(m->text, -1), >=, 1);
    g_assert_cmpint(g_utf8_strlen(m->text, -1), <=, SIG_CHAT_MAX_CHARS);
    g_assert_cmpint(m->appointment_id, >=, 0);
    break;
  case SIG_MSG_LEAVE:
  case SIG_MSG_AUDIO_ONLY:
    break;
  }
  sig_msg_free(m);
  return 0;
}
