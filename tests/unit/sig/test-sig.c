/* test-sig.c — unit tests of the signaling module's pure parts: the message codec, the
 * consultation state machine and the quality record's totals. */
#include <string.h>

#include "sig-quality.h"

#include "sig-api-check.h"
#include "sig-authz.h"

#include "sig-call.h"
#include "sig-msg.h"
#include "sig.h"

static SigMsg *parse_ok(const char *text)
{
  g_autoptr(GError) error = NULL;
  SigMsg *m = sig_msg_parse(text, strlen(text), &error);
  g_assert_no_error(error);
  g_assert_nonnull(m);
  return m;
}

/* Parses `text`, expects failure, and returns the message the client would see. */
static char *parse_bad(const char *text, gsize len)
{
  g_autoptr(GError) error = NULL;
  SigMsg *m = sig_msg_parse(text, len, &error);
  g_assert_null(m);
  g_assert_error(error, SIG_ERROR, SIG_ERROR_MALFORMED);
  return g_strdup(error->message);
}

static void test_codec_valid(void)
{
  g_autoptr(SigMsg) hello = parse_ok("{\"type\":\"hello\",\"token\":\"abc\"}");
  g_assert_cmpint(hello->type, ==, SIG_MSG_HELLO);
  g_assert_cmpstr(hello->token, ==, "abc");

  g_autoptr(SigMsg) staff = parse_ok("{\"type\":\"hello\"}");
  g_assert_null(staff->token);

  g_autoptr(SigMsg) admit = parse_ok("{\"type\":\"admit\",\"appointment_id\":42}");
  g_assert_cmpint(admit->appointment_id, ==, 42);

  g_autoptr(SigMsg) answer =
      parse_ok("{\"type\":\"answer\",\"pc\":\"sub:p0011\",\"sdp\":\"v=0\\r\\n\"}");
  g_assert_cmpstr(answer->pc, ==, "sub:p0011");
  g_assert_cmpstr(answer->sdp, ==, "v=0\r\n");

  g_autoptr(SigMsg) cand = parse_ok("{\"type\":\"candidate\",\"pc\":\"pub\",\"candidate\":"
                                    "\"candidate:1 1 udp 2122260223 198.18.0.1 5000 typ host\","
                                    "\"sdpMLineIndex\":1}");
  g_assert_cmpuint(cand->mline_index, ==, 1);
  g_assert_true(g_str_has_prefix(cand->candidate, "candidate:1"));

  g_autoptr(SigMsg) eoc = parse_ok("{\"type\":\"candidate\",\"pc\":\"pub\",\"candidate\":null}");
  g_assert_null(eoc->candidate);
  g_autoptr(SigMsg) eoc2 = parse_ok("{\"type\":\"candidate\",\"pc\":\"pub\",\"candidate\":\"\"}");
  g_assert_null(eoc2->candidate);

  g_autoptr(SigMsg) end = parse_ok("{\"type\":\"end\",\"outcome\":\"follow-up\"}");
  g_assert_cmpstr(end->outcome, ==, "follow-up");
  g_autoptr(SigMsg) inv =
      parse_ok("{\"type\":\"invite\",\"appointment_id\":3,\"role\":\"interpreter\"}");
  g_assert_cmpstr(inv->role, ==, "interpreter");
  g_autoptr(SigMsg) leave = parse_ok("{\"type\":\"leave\",\"extra\":[1,2]}");
  g_assert_cmpint(leave->type, ==, SIG_MSG_LEAVE);

  g_autoptr(SigMsg) ao_on = parse_ok("{\"type\":\"audio_only\",\"on\":true}");
  g_assert_cmpint(ao_on->type, ==, SIG_MSG_AUDIO_ONLY);
  g_assert_true(ao_on->audio_only);
  g_autoptr(SigMsg) ao_off = parse_ok("{\"type\":\"audio_only\",\"on\":false}");
  g_assert_false(ao_off->audio_only);
  g_assert_cmpstr(sig_msg_type_name(SIG_MSG_AUDIO_ONLY), ==, "audio_only");

  g_autoptr(SigMsg) chat = parse_ok("{\"type\":\"chat\",\"text\":\"سلام\\nok\"}");
  g_assert_cmpint(chat->type, ==, SIG_MSG_CHAT);
  g_assert_cmpstr(chat->text, ==, "سلام\nok");
  g_assert_cmpint(chat->appointment_id, ==, 0);
  g_autoptr(SigMsg) chat_to =
      parse_ok("{\"type\":\"chat\",\"appointment_id\":7,\"text\":\"Please wait\"}");
  g_assert_cmpint(chat_to->appointment_id, ==, 7);
  /* 1000 characters of three bytes each is the most a message may carry. */
  g_autoptr(GString) most = g_string_new("{\"type\":\"chat\",\"text\":\"");
  for (int i = 0; i < SIG_CHAT_MAX_CHARS; i++)
    g_string_append(most, "ب");
  g_string_append(most, "\"}");
  g_autoptr(SigMsg) full = parse_ok(most->str);
  g_assert_cmpint(g_utf8_strlen(full->text, -1), ==, SIG_CHAT_MAX_CHARS);
}

static void test_codec_malformed(void)
{
  static const struct {
    const char *text;
    const char *says; /* a word the client's error message must contain */
  } cases[] = {
      {"{\"type\":", "JSON"},
      {"", "JSON"},
      {"[1]", "object"},
      {"\"hello\"", "object"},
      {"{}", "type"},
      {"{\"type\":5}", "type"},
      {"{\"type\":\"nope\"}", "type"},
      {"{\"type\":\"hello\",\"token\":7}", "token"},
      {"{\"type\":\"admit\"}", "appointment_id"},
      {"{\"type\":\"admit\",\"appointment_id\":\"1\"}", "appointment_id"},
      {"{\"type\":\"admit\",\"appointment_id\":-1}", "appointment_id"},
      {"{\"type\":\"answer\",\"pc\":\"pub\"}", "sdp"},
      {"{\"type\":\"answer\",\"pc\":\"pub\",\"sdp\":\"hello\"}", "sdp"},
      {"{\"type\":\"answer\",\"pc\":\"sub:\",\"sdp\":\"v=0\"}", "pc"},
      {"{\"type\":\"answer\",\"pc\":\"sub:a/b\",\"sdp\":\"v=0\"}", "pc"},
      {"{\"type\":\"candidate\",\"pc\":\"pub\",\"candidate\":\"x\",\"sdpMLineIndex\":0}",
       "candidate"},
      {"{\"type\":\"candidate\",\"pc\":\"pub\",\"candidate\":\"candidate:1\"}", "sdpMLineIndex"},
      {"{\"type\":\"candidate\",\"pc\":\"pub\",\"candidate\":\"candidate:1\",\"sdpMLineIndex\":99}",
       "sdpMLineIndex"},
      {"{\"type\":\"end\",\"outcome\":\"whatever\"}", "outcome"},
      {"{\"type\":\"invite\",\"appointment_id\":1,\"role\":\"doctor\"}", "role"},
      {"{\"type\":\"hello\",\"type\":\"admit\"}", "JSON"},
      {"{\"type\":\"audio_only\"}", "on"},
      {"{\"type\":\"audio_only\",\"on\":null}", "on"},
      {"{\"type\":\"audio_only\",\"on\":1}", "on"},
      {"{\"type\":\"audio_only\",\"on\":\"true\"}", "on"},
      {"{\"type\":\"chat\"}", "text"},
      {"{\"type\":\"chat\",\"text\":5}", "text"},
      {"{\"type\":\"chat\",\"text\":\"\"}", "text"},
      {"{\"type\":\"chat\",\"text\":\" \\n \"}", "text"},
      {"{\"type\":\"chat\",\"text\":\"bell\\u0007\"}", "text"},
      {"{\"type\":\"chat\",\"text\":\"hi\",\"appointment_id\":0}", "appointment_id"},
      {"{\"type\":\"chat\",\"text\":\"hi\",\"appointment_id\":\"3\"}", "appointment_id"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *why = parse_bad(cases[i].text, strlen(cases[i].text));
    if (!strstr(why, cases[i].says))
      g_error("case %zu (%s): message \"%s\" does not mention %s", i, cases[i].text, why,
              cases[i].says);
  }
  /* One character over the chat limit. */
  g_autofree char *xs = g_strnfill(SIG_CHAT_MAX_CHARS + 1, 'x');
  g_autofree char *over = g_strdup_printf("{\"type\":\"chat\",\"text\":\"%s\"}", xs);
  g_autofree char *why_over = parse_bad(over, strlen(over));
  g_assert_nonnull(strstr(why_over, "1000"));
  /* A NUL inside a string field is refused, not silently cut. */
  const char nul[] = "{\"type\":\"hello\",\"token\":\"a\\u0000b\"}";
  g_autofree char *why = parse_bad(nul, sizeof(nul) - 1);
  g_assert_true(strstr(why, "NUL") || strstr(why, "JSON"));
  /* Over the size limit, refused without parsing. */
  gsize big = SIG_MSG_MAX_BYTES + 1;
  g_autofree char *huge = g_malloc(big);
  memset(huge, ' ', big);
  g_autofree char *why2 = parse_bad(huge, big);
  g_assert_nonnull(strstr(why2, "64 KiB"));
  /* An overlong token. */
  g_autofree char *tok = g_strnfill(200, 'a');
  g_autofree char *t = g_strdup_printf("{\"type\":\"hello\",\"token\":\"%s\"}", tok);
  g_autofree char *why3 = parse_bad(t, strlen(t));
  g_assert_nonnull(strstr(why3, "too long"));
}

static void test_codec_error_builder(void)
{
  g_autofree char *e = sig_msg_error("unknown_token", "this link is not known", TRUE);
  g_assert_cmpstr(e, ==,
                  "{\"type\":\"error\",\"code\":\"unknown_token\",\"message\":\"this link is "
                  "not known\",\"fatal\":true}");
  g_autofree char *e2 = sig_msg_error("malformed_message", "x", FALSE);
  g_assert_null(strstr(e2, "fatal"));
}

/* The quality and max_bitrate messages the pages receive (docs/protocol.md). */
static void test_codec_quality_builders(void)
{
  SfuQuality q = {.score = 4,
                  .loss_down = 0.012345,
                  .loss_up = 0.5,
                  .rtt_ms = 84,
                  .jitter_ms = 7,
                  .estimate_bps = 1234567,
                  .video_bps_down = 600400,
                  .video_bps_up = 999,
                  .video = SFU_VIDEO_WEAK_LINK};
  g_autofree char *m = sig_msg_quality("p0001", "patient", &q);
  g_assert_cmpstr(m, ==,
                  "{\"type\":\"quality\",\"participant\":\"p0001\",\"role\":\"patient\","
                  "\"score\":4,\"label\":\"good\",\"video\":\"weak_link\",\"loss_down\":0.0123,"
                  "\"loss_up\":0.5,\"rtt_ms\":84,\"jitter_ms\":7,\"estimate_kbps\":1235,"
                  "\"video_kbps_down\":600,\"video_kbps_up\":1}");
  /* Unknown values are null; out-of-range ratios are clamped. */
  SfuQuality u = {.score = 0, .loss_down = -1, .loss_up = 7, .video = SFU_VIDEO_CHOSEN};
  g_autofree char *m2 = sig_msg_quality("p2", "doctor", &u);
  g_assert_nonnull(strstr(m2, "\"score\":null,\"label\":\"unknown\",\"video\":\"chosen\""));
  g_assert_nonnull(strstr(m2, "\"loss_down\":0.0,\"loss_up\":1.0,\"rtt_ms\":null"));
  g_assert_nonnull(strstr(m2, "\"estimate_kbps\":null"));
  SfuQuality big = {.score = 9, .video = SFU_VIDEO_ON};
  g_autofree char *m3 = sig_msg_quality("p3", "family", &big);
  g_assert_nonnull(strstr(m3, "\"score\":5,\"label\":\"excellent\",\"video\":\"on\""));

  g_autofree char *b0 = sig_msg_max_bitrate(0);
  g_assert_cmpstr(b0, ==, "{\"type\":\"max_bitrate\",\"video_kbps\":0}");
  g_autofree char *b1 = sig_msg_max_bitrate(250000);
  g_assert_cmpstr(b1, ==, "{\"type\":\"max_bitrate\",\"video_kbps\":250}");
  g_autofree char *b2 = sig_msg_max_bitrate(SFU_NO_CAP);
  g_assert_cmpstr(b2, ==, "{\"type\":\"max_bitrate\",\"video_kbps\":null}");
  g_autofree char *b3 = sig_msg_max_bitrate(300); /* never rounds a cap down to "stop" */
  g_assert_cmpstr(b3, ==, "{\"type\":\"max_bitrate\",\"video_kbps\":1}");
  g_autofree char *b4 = sig_msg_max_bitrate(SFU_NO_CAP - 1);
  g_assert_cmpstr(b4, ==, "{\"type\":\"max_bitrate\",\"video_kbps\":4294967}");
}

/* Totals per role: means over scored samples, paused seconds by reason, seeding from a record. */
static void test_quality_totals(void)
{
  g_autoptr(SigQuality) acc = sig_quality_new(42);
  g_assert_false(sig_quality_dirty(acc));
  SfuQuality good = {.score = 5,
                     .loss_down = 0.01,
                     .loss_up = 0.03,
                     .rtt_ms = 40,
                     .video_bps_down = 800000,
                     .video = SFU_VIDEO_ON};
  SfuQuality weak = {.score = 2,
                     .loss_down = 0.2,
                     .loss_up = 0.1,
                     .rtt_ms = 0,
                     .video_bps_down = 0,
                     .video = SFU_VIDEO_WEAK_LINK};
  SfuQuality chosen = {.score = 4, .rtt_ms = 60, .video = SFU_VIDEO_CHOSEN};
  SfuQuality unknown = {.score = 0, .video = SFU_VIDEO_WEAK_LINK};
  sig_quality_add(acc, "patient", &good, 1.0);
  sig_quality_add(acc, "patient", &weak, 1.5);
  sig_quality_add(acc, "patient", &weak, 1.0);
  sig_quality_add(acc, "patient", &unknown, 1.0); /* seconds only */
  sig_quality_add(acc, "doctor", &chosen, 1.0);
  sig_quality_add(acc, "doctor", &chosen, 2.0);
  g_assert_true(sig_quality_dirty(acc));
  g_autoptr(GArray) recs = sig_quality_records(acc, 1767571200);
  g_assert_false(sig_quality_dirty(acc));
  g_assert_cmpuint(recs->len, ==, 2);
  SchedCallQuality *d = &g_array_index(recs, SchedCallQuality, 0);
  SchedCallQuality *p = &g_array_index(recs, SchedCallQuality, 1);
  g_assert_cmpstr(d->role, ==, "doctor");
  g_assert_cmpstr(p->role, ==, "patient");
  g_assert_cmpint(p->appointment_id, ==, 42);
  g_assert_cmpint(p->samples, ==, 3);
  g_assert_cmpfloat_with_epsilon(p->avg_score, 3.0, 1e-12);
  g_assert_cmpfloat_with_epsilon(p->avg_loss, (0.03 + 0.2 + 0.2) / 3, 1e-12); /* worse direction */
  g_assert_cmpfloat_with_epsilon(p->avg_rtt_ms, 40.0, 1e-12); /* unknown RTTs left out */
  g_assert_cmpfloat_with_epsilon(p->avg_video_kbps, 800.0 / 3, 1e-9);
  g_assert_cmpint(p->audio_only_weak_s, ==, 4); /* 1.5 + 1 + 1 = 3.5, rounded */
  g_assert_cmpint(p->audio_only_chosen_s, ==, 0);
  g_assert_cmpint(p->updated_at, ==, 1767571200);
  g_assert_cmpint(d->samples, ==, 2);
  g_assert_cmpint(d->audio_only_chosen_s, ==, 3);
  g_assert_cmpfloat_with_epsilon(d->avg_rtt_ms, 60.0, 1e-12);

  /* A new accumulator seeded from the written records goes on where they ended. */
  g_autoptr(SigQuality) again = sig_quality_new(42);
  for (guint i = 0; i < recs->len; i++)
    sig_quality_seed(again, &g_array_index(recs, SchedCallQuality, i));
  sig_quality_add(again, "patient", &good, 1.0);
  g_autoptr(GArray) recs2 = sig_quality_records(again, 1767571260);
  SchedCallQuality *p2 = &g_array_index(recs2, SchedCallQuality, 1);
  g_assert_cmpint(p2->samples, ==, 4);
  g_assert_cmpfloat_with_epsilon(p2->avg_score, 14.0 / 4, 1e-12);
  g_assert_cmpint(p2->audio_only_weak_s, ==, 4);
  g_assert_cmpfloat_with_epsilon(p2->avg_rtt_ms, 40.0, 1e-12);
}

static void test_call_waiting_admit(void)
{
  g_autoptr(SigCall) c = sig_call_new(7, 3);
  g_assert_cmpint(sig_call_state(c), ==, SIG_CALL_WAITING);
  const char *why = NULL;
  /* Nobody waits: the doctor cannot admit. */
  g_assert_false(sig_call_admit(c, "doc", 100, &why));
  g_assert_cmpstr(why, ==, "nobody is waiting for this consultation");
  g_assert_cmpint(sig_call_arrive(c, "pat", "patient", 100), ==, SIG_PLACE_WAITING);
  g_assert_cmpint(sig_call_arrive(c, "pat", "patient", 101), ==, SIG_PLACE_DUPLICATE);
  g_assert_cmpint(sig_call_waiting_since(c), ==, 100);
  g_assert_cmpuint(sig_call_waiting_count(c), ==, 1);
  g_assert_true(sig_call_admit(c, "doc", 160, &why));
  g_assert_cmpint(sig_call_state(c), ==, SIG_CALL_ACTIVE);
  g_assert_cmpuint(sig_call_in_call_count(c), ==, 2);
  g_assert_cmpuint(sig_call_waiting_count(c), ==, 0);
  g_assert_true(sig_call_find(c, "pat")->in_call);
  g_assert_cmpstr(sig_call_find(c, "doc")->role, ==, "doctor");
  /* Admitting twice is refused. */
  g_assert_false(sig_call_admit(c, "doc", 161, &why));
  g_assert_cmpstr(why, ==, "you are already in this call");
}

static void test_call_guests_and_cap(void)
{
  g_autoptr(SigCall) c = sig_call_new(1, 1);
  sig_call_arrive(c, "pat", "patient", 10);
  sig_call_admit(c, "doc", 20, NULL);
  /* During the call a guest joins directly, up to four in all. */
  g_assert_cmpint(sig_call_arrive(c, "int", "interpreter", 30), ==, SIG_PLACE_CALL);
  g_assert_cmpint(sig_call_arrive(c, "spe", "specialist", 31), ==, SIG_PLACE_CALL);
  g_assert_cmpuint(sig_call_in_call_count(c), ==, 4);
  g_assert_cmpint(sig_call_arrive(c, "fam", "family", 32), ==, SIG_PLACE_FULL);
  g_assert_null(sig_call_find(c, "fam"));
  /* Someone leaves: room again. */
  g_assert_true(sig_call_depart(c, "spe"));
  g_assert_false(sig_call_depart(c, "spe"));
  g_assert_cmpint(sig_call_arrive(c, "fam", "family", 33), ==, SIG_PLACE_CALL);
}

static void test_call_leave_rejoin_end(void)
{
  g_autoptr(SigCall) c = sig_call_new(1, 1);
  sig_call_arrive(c, "pat", "patient", 10);
  sig_call_admit(c, "doc", 20, NULL);
  /* The doctor drops: the call stays active; the patient stays; the doctor rejoins. */
  g_assert_true(sig_call_depart(c, "doc"));
  g_assert_cmpint(sig_call_state(c), ==, SIG_CALL_ACTIVE);
  g_assert_cmpuint(sig_call_in_call_count(c), ==, 1);
  g_assert_true(sig_call_admit(c, "doc2", 30, NULL));
  g_assert_cmpuint(sig_call_in_call_count(c), ==, 2);
  /* The patient drops and comes back with a new connection: straight into the call. */
  sig_call_depart(c, "pat");
  g_assert_cmpint(sig_call_arrive(c, "pat2", "patient", 40), ==, SIG_PLACE_CALL);
  /* End: everyone out, and nobody gets back in. */
  g_assert_true(sig_call_end(c));
  g_assert_false(sig_call_end(c));
  g_assert_cmpint(sig_call_state(c), ==, SIG_CALL_ENDED);
  g_assert_cmpuint(sig_call_members(c)->len, ==, 0);
  g_assert_cmpint(sig_call_arrive(c, "pat3", "patient", 50), ==, SIG_PLACE_ENDED);
  const char *why = NULL;
  g_assert_false(sig_call_admit(c, "doc3", 60, &why));
  g_assert_cmpstr(why, ==, "this consultation has ended");
}

static void test_call_resume(void)
{
  /* After a restart: the empty consultation resumes ACTIVE; the doctor rejoins with nobody
   * there, the patient arrives straight into the call. */
  g_autoptr(SigCall) c = sig_call_new(1, 1);
  g_assert_true(sig_call_resume(c));
  g_assert_cmpint(sig_call_state(c), ==, SIG_CALL_ACTIVE);
  g_assert_false(sig_call_resume(c));
  g_assert_true(sig_call_admit(c, "doc", 10, NULL));
  g_assert_cmpint(sig_call_arrive(c, "pat", "patient", 11), ==, SIG_PLACE_CALL);
  g_assert_cmpuint(sig_call_in_call_count(c), ==, 2);
  /* Only an empty waiting consultation resumes. */
  g_autoptr(SigCall) w = sig_call_new(2, 1);
  sig_call_arrive(w, "pat", "patient", 10);
  g_assert_false(sig_call_resume(w));
  g_assert_cmpint(sig_call_state(w), ==, SIG_CALL_WAITING);
  g_autoptr(SigCall) e = sig_call_new(3, 1);
  sig_call_end(e);
  g_assert_false(sig_call_resume(e));
}

static void test_call_end_while_waiting(void)
{
  g_autoptr(SigCall) c = sig_call_new(1, 1);
  sig_call_arrive(c, "pat", "patient", 10);
  g_assert_true(sig_call_end(c)); /* a no-show marked while the patient still waits */
  g_assert_cmpint(sig_call_state(c), ==, SIG_CALL_ENDED);
  g_assert_cmpuint(sig_call_waiting_count(c), ==, 0);
}

static void test_validators(void)
{
  g_assert_true(sig_msg_pc_is_valid("pub"));
  g_assert_true(sig_msg_pc_is_valid("sub:p1234abcd"));
  g_assert_false(sig_msg_pc_is_valid("pub2"));
  g_assert_false(sig_msg_pc_is_valid(NULL));
  g_autofree char *as = g_strnfill(65, 'a');
  g_autofree char *long_id = g_strdup_printf("sub:%s", as);
  g_assert_false(sig_msg_pc_is_valid(long_id));
  g_assert_true(sig_msg_outcome_is_valid("no-show"));
  g_assert_false(sig_msg_outcome_is_valid("done"));
  g_assert_true(sig_msg_guest_role_is_valid("family"));
  g_assert_false(sig_msg_guest_role_is_valid("patient"));
}

/* --- The staff API's request checks (sig-api-check.c) ---------------------------------- */

static const SigApiField doctor_fields[] = {
    {"facility_id", SIG_API_ID, TRUE},  {"specialty", SIG_API_STR, TRUE},
    {"languages", SIG_API_STRV, FALSE}, {"gender", SIG_API_STRN, FALSE},
    {"weekday", SIG_API_INT, FALSE},    {NULL}};

/* Expects `body` refused with `code` naming `field`. */
static void body_bad(const char *body, const char *code, const char *field)
{
  SigApiRefusal r = {0};
  json_t *o = sig_api_check_body(doctor_fields, body, strlen(body), &r);
  g_assert_null(o);
  g_assert_cmpstr(r.code, ==, code);
  g_assert_cmpstr(r.field, ==, field);
  g_assert_nonnull(r.message);
  sig_api_refusal_clear(&r);
  g_assert_null(r.message);
}

static void test_api_check_body(void)
{
  SigApiRefusal r = {0};
  const char *ok = "{\"facility_id\":1,\"specialty\":\"general\",\"languages\":[\"rw\"],"
                   "\"gender\":null}";
  json_t *o = sig_api_check_body(doctor_fields, ok, strlen(ok), &r);
  g_assert_nonnull(o);
  g_assert_null(r.code);
  json_decref(o);
  /* not NUL-terminated: only `len` bytes count */
  const char *two = "{\"facility_id\":1,\"specialty\":\"x\"}garbage";
  o = sig_api_check_body(doctor_fields, two, strlen(two) - strlen("garbage"), &r);
  g_assert_nonnull(o);
  json_decref(o);

  body_bad("", "malformed_body", NULL);
  body_bad("[1]", "malformed_body", NULL);
  body_bad("{\"facility_id\":1,\"facility_id\":2,\"specialty\":\"x\"}", "malformed_body", NULL);
  body_bad("{\"facility_id\":1,\"specialty\":\"x\",\"age\":3}", "unknown_field", "age");
  body_bad("{\"facility_id\":0,\"specialty\":\"x\"}", "invalid", "facility_id");
  body_bad("{\"facility_id\":\"1\",\"specialty\":\"x\"}", "wrong_type", "facility_id");
  body_bad("{\"facility_id\":1,\"specialty\":\"x\",\"languages\":[1]}", "wrong_type", "languages");
  body_bad("{\"facility_id\":1,\"specialty\":\"x\",\"weekday\":4294967296}", "invalid", "weekday");
  body_bad("{\"facility_id\":1}", "missing_field", "specialty");
  /* an unknown key is quoted at most 64 characters long */
  GString *b = g_string_new("{\"");
  for (int i = 0; i < 100; i++)
    g_string_append_c(b, 'k');
  g_string_append(b, "\":1}");
  o = sig_api_check_body(doctor_fields, b->str, b->len, &r);
  g_assert_null(o);
  g_assert_cmpuint(strlen(r.field), ==, 64);
  sig_api_refusal_clear(&r);
  g_string_free(b, TRUE);
}

static void test_api_check_query_path(void)
{
  SigApiRefusal r = {0};
  const char *good[] = {"doctor_id=7", "at=1", "doctor_id", NULL};
  g_assert_true(sig_api_check_query("doctor_id,at", good, &r));
  g_assert_true(sig_api_check_query(NULL, NULL, &r));
  const char *bad[] = {"doctor_id=7", "\xff=1", NULL};
  g_assert_false(sig_api_check_query("doctor_id,at", bad, &r));
  g_assert_cmpstr(r.code, ==, "unknown_field");
  g_assert_true(g_utf8_validate(r.field, -1, NULL));
  sig_api_refusal_clear(&r);

  gint64 id = 0;
  const char *word = NULL;
  g_assert_true(sig_authz_match("/api/doctors/#/profile", "/api/doctors/17/profile", &id, &word));
  g_assert_cmpint(id, ==, 17);
  g_assert_false(sig_authz_match("/api/doctors/#", "/api/doctors/017", &id, &word));
  g_assert_false(sig_authz_match("/api/doctors/#", "/api/doctors/1234567890123456789", &id, &word));
  g_assert_false(sig_authz_match("/api/doctors/#", "/api/doctors/", &id, &word));
  g_assert_true(sig_authz_match("/api/join/*/invite.ics", "/api/join/tok/invite.ics", &id, &word));
  g_assert_true(g_str_has_prefix(word, "tok/"));
  g_assert_false(sig_authz_match("/api/join/*/invite.ics", "/api/join//invite.ics", &id, &word));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sig/codec/valid", test_codec_valid);
  g_test_add_func("/sig/codec/malformed", test_codec_malformed);
  g_test_add_func("/sig/codec/error-builder", test_codec_error_builder);
  g_test_add_func("/sig/codec/validators", test_validators);
  g_test_add_func("/sig/codec/quality-builders", test_codec_quality_builders);
  g_test_add_func("/sig/quality/totals", test_quality_totals);
  g_test_add_func("/sig/call/waiting-admit", test_call_waiting_admit);
  g_test_add_func("/sig/call/guests-and-cap", test_call_guests_and_cap);
  g_test_add_func("/sig/call/leave-rejoin-end", test_call_leave_rejoin_end);
  g_test_add_func("/sig/call/end-while-waiting", test_call_end_while_waiting);
  g_test_add_func("/sig/api-check/body", test_api_check_body);
  g_test_add_func("/sig/api-check/query-path", test_api_check_query_path);
  g_test_add_func("/sig/call/resume", test_call_resume);
  return g_test_run();
}
