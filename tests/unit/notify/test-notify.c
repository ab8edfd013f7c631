/* test-notify.c — the notify module: pure helpers, the log sender, and the webhook sender
 * against a real libsoup server on 127.0.0.1 (a random port) in this process, on the same main
 * context: delivery with the Idempotency-Key and bearer token, a 500 then a success, a timeout,
 * a refusal, a dead gateway, many sends in flight, a sender freed mid-send, and — for every test —
 * that nothing personal (body, full phone, token, name) reached the logs. */
#include <jansson.h>
#include <string.h>

#include "notify.h"
#include "test-gateway.h"

#define PHONE "+92 345 7654321"
#define BODY "Ayesha Khan, your appointment is tomorrow: https://clinic.test/join/SECRETLINK"
#define TOKEN "gw-secret-token"

/* --- every log line, to prove what is not in it ------------------------------------------ */

static GString *logged;

static GLogWriterOutput capture_writer(GLogLevelFlags level, const GLogField *fields,
                                       gsize n_fields, gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0(fields[i].key, "MESSAGE") == 0) {
      const char *text = fields[i].value;
      g_string_append_len(logged, text,
                          fields[i].length < 0 ? (gssize)strlen(text) : fields[i].length);
      g_string_append_c(logged, '\n');
    }
  /* Warnings and worse still go to stderr (and fail the test); the rest only to `logged`. */
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return g_log_writer_default(level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

static void assert_logs_private(void)
{
  g_assert_null(strstr(logged->str, "Ayesha"));
  g_assert_null(strstr(logged->str, "SECRETLINK"));
  g_assert_null(strstr(logged->str, "7654321"));
  g_assert_null(strstr(logged->str, "+92"));
  g_assert_null(strstr(logged->str, TOKEN));
  g_assert_null(strstr(logged->str, "/hook"));
}

static NotifyMessage message(gint64 id, const char *key)
{
  NotifyMessage m = {
      .id = id,
      .appointment_id = 700 + id,
      .kind = "reminder_day",
      .recipient = PHONE,
      .language = "ur",
      .body = BODY,
      .dedupe_key = key,
      .attempts = 0,
  };
  return m;
}

/* --- a send's result, waited for on the main loop ------------------------------------------ */

typedef struct {
  int calls;
  gint64 id;
  NotifyResult result;
  char *error;
  gboolean inside_send; /* set around notify_sender_send() to catch a re-entrant report */
  gboolean reported_inside_send;
} Outcome;

static void on_done(gint64 id, NotifyResult result, const char *error, gpointer data)
{
  Outcome *o = data;
  o->calls++;
  o->id = id;
  o->result = result;
  g_free(o->error);
  o->error = g_strdup(error);
  if (o->inside_send)
    o->reported_inside_send = TRUE;
}

static void send_and_wait(NotifySender *sender, const NotifyMessage *m, Outcome *o)
{
  int before = o->calls;
  o->inside_send = TRUE;
  notify_sender_send(sender, m, on_done, o);
  o->inside_send = FALSE;
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (o->calls == before && g_get_monotonic_time() < deadline)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpint(o->calls, ==, before + 1);
  g_assert_false(o->reported_inside_send);
}

static void outcome_clear(Outcome *o)
{
  g_clear_pointer(&o->error, g_free);
}

/* --- the gateway (test-gateway.c) per test, and a webhook sender pointed at it ------------- */

static void gateway_setup(Gateway *gw, gconstpointer mode)
{
  gateway_start(gw, (GatewayMode)GPOINTER_TO_INT(mode));
  g_string_truncate(logged, 0);
}

static void gateway_teardown(Gateway *gw, gconstpointer mode)
{
  gateway_stop(gw);
  assert_logs_private();
}

static NotifySender *webhook_new(Gateway *gw, guint timeout_ms)
{
  NotifyConfig cfg = {.webhook_url = gw->url, .webhook_token = TOKEN, .timeout_ms = timeout_ms};
  g_autoptr(GError) error = NULL;
  NotifySender *s = notify_sender_new(&notify_webhook_sender, &cfg, &error);
  g_assert_no_error(error);
  g_assert_nonnull(s);
  g_assert_cmpstr(notify_sender_name(s), ==, "webhook");
  return s;
}

/* --- pure helpers -------------------------------------------------------------------------- */

static void test_backoff(void)
{
  g_assert_cmpint(notify_retry_delay_s(1, 30), ==, 30);
  g_assert_cmpint(notify_retry_delay_s(2, 30), ==, 60);
  g_assert_cmpint(notify_retry_delay_s(3, 30), ==, 120);
  g_assert_cmpint(notify_retry_delay_s(7, 30), ==, 1920);
  g_assert_cmpint(notify_retry_delay_s(8, 30), ==, NOTIFY_RETRY_MAX_DELAY_S);
  g_assert_cmpint(notify_retry_delay_s(1000000, 30), ==, NOTIFY_RETRY_MAX_DELAY_S);
  g_assert_cmpint(notify_retry_delay_s(0, 0), ==, 30);
  g_assert_cmpint(notify_retry_delay_s(3, 1), ==, 4);
  for (int a = 1; a < 40; a++)
    g_assert_cmpint(notify_retry_delay_s(a + 1, 5), >=, notify_retry_delay_s(a, 5));
}

static void test_recipient_hint(void)
{
  const struct {
    const char *in, *out;
  } cases[] = {
      {PHONE, "..21"}, {"03001234560", "..60"}, {"(042) 35-00", "..00"}, {"5", "..??"},
      {"", "..??"},    {NULL, "..??"},          {"12-", "..12"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *hint = notify_recipient_hint(cases[i].in);
    g_assert_cmpstr(hint, ==, cases[i].out);
  }
}

static void test_payload(void)
{
  NotifyMessage m = message(42, "reminder_day:742:0");
  m.body = "آپ کی ملاقات کل ہے \"10:00\"";
  g_autofree char *text = notify_webhook_payload(&m);
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  g_assert_nonnull(o);
  g_assert_cmpuint(json_object_size(o), ==, 5);
  g_assert_cmpstr(json_string_value(json_object_get(o, "to")), ==, PHONE);
  g_assert_cmpstr(json_string_value(json_object_get(o, "body")), ==, m.body);
  g_assert_cmpstr(json_string_value(json_object_get(o, "kind")), ==, "reminder_day");
  g_assert_cmpstr(json_string_value(json_object_get(o, "language")), ==, "ur");
  g_assert_cmpint(json_integer_value(json_object_get(o, "id")), ==, 42);
  json_decref(o);
}

static void test_config_errors(void)
{
  const char *bad[] = {NULL, "", "ftp://example.org/x", "not a url", "http://", "/relative"};
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    NotifyConfig cfg = {.webhook_url = bad[i]};
    g_autoptr(GError) error = NULL;
    g_autoptr(NotifySender) s = notify_sender_new(&notify_webhook_sender, &cfg, &error);
    g_assert_null(s);
    g_assert_error(error, NOTIFY_ERROR, NOTIFY_ERROR_INVALID);
  }
  NotifyConfig cfg = {.webhook_url = "https://sms.example.org/send", .webhook_token = "a\r\nX: y"};
  g_autoptr(GError) error = NULL;
  g_assert_null(notify_sender_new(&notify_webhook_sender, &cfg, &error));
  g_assert_error(error, NOTIFY_ERROR, NOTIFY_ERROR_INVALID);

  g_assert_true(notify_sender_class_find("log") == &notify_log_sender);
  g_assert_true(notify_sender_class_find("webhook") == &notify_webhook_sender);
  g_assert_null(notify_sender_class_find("sms"));
  g_assert_null(notify_sender_class_find(NULL));
}

/* --- log sender ------------------------------------------------------------------------------ */

static void test_log_sender(void)
{
  g_string_truncate(logged, 0);
  NotifyConfig cfg = {0};
  g_autoptr(GError) error = NULL;
  g_autoptr(NotifySender) s = notify_sender_new(&notify_log_sender, &cfg, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(notify_sender_name(s), ==, "log");
  Outcome o = {0};
  NotifyMessage m = message(5, "confirmation:705:0");
  m.kind = "confirmation";
  send_and_wait(s, &m, &o);
  g_assert_cmpint(o.result, ==, NOTIFY_RESULT_SENT);
  g_assert_cmpint(o.id, ==, 5);
  g_assert_null(o.error);
  g_assert_cmpuint(notify_sender_in_flight(s), ==, 0);
  /* What it does log: the kind, the appointment and the last two digits. */
  g_assert_nonnull(strstr(logged->str, "confirmation"));
  g_assert_nonnull(strstr(logged->str, "705"));
  g_assert_nonnull(strstr(logged->str, "..21"));
  assert_logs_private();

  /* A report pending when the sender is freed is dropped, not delivered to freed memory. */
  Outcome late = {0};
  notify_sender_send(s, &m, on_done, &late);
  g_assert_cmpuint(notify_sender_in_flight(s), ==, 1);
  g_clear_pointer(&s, notify_sender_free);
  spin(20);
  g_assert_cmpint(late.calls, ==, 0);
  outcome_clear(&o);
}

/* --- webhook sender ------------------------------------------------------------------------- */

static void test_webhook_delivers(Gateway *gw, gconstpointer mode)
{
  g_autoptr(NotifySender) s = webhook_new(gw, 5000);
  Outcome o = {0};
  NotifyMessage m = message(1, "reminder_day:701:0");
  send_and_wait(s, &m, &o);
  g_assert_cmpint(o.result, ==, NOTIFY_RESULT_SENT);
  g_assert_null(o.error);
  g_assert_cmpint(gw->requests, ==, 1);
  g_assert_cmpstr(gw->last_method, ==, "POST");
  g_assert_cmpstr(gw->last_key, ==, "reminder_day:701:0");
  g_assert_cmpstr(gw->last_auth, ==, "Bearer " TOKEN);
  g_assert_cmpstr(gw->last_type, ==, "application/json");
  g_autofree char *expected = notify_webhook_payload(&m);
  g_assert_cmpstr(gw->last_body, ==, expected);

  /* Without a token: no Authorization header. */
  NotifyConfig cfg = {.webhook_url = gw->url};
  g_autoptr(NotifySender) anon = notify_sender_new(&notify_webhook_sender, &cfg, NULL);
  NotifyMessage m2 = message(2, "reminder_day:702:0");
  send_and_wait(anon, &m2, &o);
  g_assert_cmpint(o.result, ==, NOTIFY_RESULT_SENT);
  g_assert_null(gw->last_auth);
  g_assert_cmpstr(gw->last_key, ==, "reminder_day:702:0");
  outcome_clear(&o);
}

static void test_webhook_500_then_success(Gateway *gw, gconstpointer mode)
{
  g_autoptr(NotifySender) s = webhook_new(gw, 5000);
  Outcome o = {0};
  NotifyMessage m = message(3, "cancellation:703:0");
  send_and_wait(s, &m, &o);
  g_assert_cmpint(o.result, ==, NOTIFY_RESULT_RETRY);
  g_assert_cmpstr(o.error, ==, "HTTP 500");
  /* The retry (which the jobs schedule after notify_retry_delay_s) goes under the same key. */
  m.attempts = 1;
  send_and_wait(s, &m, &o);
  g_assert_cmpint(o.result, ==, NOTIFY_RESULT_SENT);
  g_assert_cmpint(gw->requests, ==, 2);
  g_assert_cmpuint(g_hash_table_size(gw->per_key), ==, 1);
  g_assert_cmpint(gateway_count(gw, "cancellation:703:0"), ==, 2);
  outcome_clear(&o);
}

static void test_webhook_timeout(Gateway *gw, gconstpointer mode)
{
  g_autoptr(NotifySender) s = webhook_new(gw, 300);
  Outcome o = {0};
  NotifyMessage m = message(4, "reminder_15min:704:0");
  gint64 t0 = g_get_monotonic_time();
  send_and_wait(s, &m, &o);
  gint64 elapsed_ms = (g_get_monotonic_time() - t0) / 1000;
  g_assert_cmpint(o.result, ==, NOTIFY_RESULT_RETRY);
  g_assert_cmpstr(o.error, ==, "timeout after 300 ms");
  g_assert_cmpint(elapsed_ms, >=, 290);
  g_assert_cmpint(elapsed_ms, <, 3000);
  g_assert_cmpint(gw->requests, ==, 1);
  g_assert_cmpuint(notify_sender_in_flight(s), ==, 0);
  outcome_clear(&o);
}

static void test_webhook_refused(Gateway *gw, gconstpointer mode)
{
  g_autoptr(NotifySender) s = webhook_new(gw, 5000);
  Outcome o = {0};
  NotifyMessage m = message(6, "link_resend:706:1");
  send_and_wait(s, &m, &o);
  g_assert_cmpint(o.result, ==, NOTIFY_RESULT_FAILED);
  g_assert_cmpstr(o.error, ==, "HTTP 400");
  outcome_clear(&o);
}

static void test_webhook_unreachable(Gateway *gw, gconstpointer mode)
{
  /* A port that was just free: nothing listens there. */
  g_autoptr(GSocket) sock =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
  g_assert_true(g_socket_bind(sock, any, FALSE, NULL));
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(sock, NULL);
  guint16 port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  g_socket_close(sock, NULL);
  g_autofree char *url = g_strdup_printf("http://127.0.0.1:%u/hook", port);
  NotifyConfig cfg = {.webhook_url = url, .timeout_ms = 3000};
  g_autoptr(NotifySender) s = notify_sender_new(&notify_webhook_sender, &cfg, NULL);
  Outcome o = {0};
  NotifyMessage m = message(7, "you_are_next:707:0");
  send_and_wait(s, &m, &o);
  g_assert_cmpint(o.result, ==, NOTIFY_RESULT_RETRY);
  g_assert_nonnull(o.error);
  g_assert_null(strstr(o.error, "timeout"));
  outcome_clear(&o);
}

#define MANY 40

static void count_done(gint64 id, NotifyResult result, const char *error, gpointer data)
{
  int *sent = data;
  if (result == NOTIFY_RESULT_SENT)
    (*sent)++;
  else
    (*sent) += 1000;
}

static void test_webhook_many_in_flight(Gateway *gw, gconstpointer mode)
{
  g_autoptr(NotifySender) s = webhook_new(gw, 5000);
  int sent = 0;
  for (int i = 0; i < MANY; i++) {
    g_autofree char *key = g_strdup_printf("confirmation:%d:0", i);
    NotifyMessage m = message(100 + i, key);
    notify_sender_send(s, &m, count_done, &sent);
  }
  g_assert_cmpuint(notify_sender_in_flight(s), ==, MANY);
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (sent < MANY && g_get_monotonic_time() < deadline)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpint(sent, ==, MANY);
  g_assert_cmpint(gw->requests, ==, MANY);
  g_assert_cmpuint(g_hash_table_size(gw->per_key), ==, MANY);
  g_assert_cmpuint(notify_sender_in_flight(s), ==, 0);
}

static void test_webhook_freed_mid_send(Gateway *gw, gconstpointer mode)
{
  NotifySender *s = webhook_new(gw, 5000);
  Outcome o = {0};
  NotifyMessage m = message(8, "waitlist_offer:708:0");
  notify_sender_send(s, &m, on_done, &o);
  gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (gw->requests == 0 && g_get_monotonic_time() < deadline)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpint(gw->requests, ==, 1);
  notify_sender_free(s);
  spin(100);
  g_assert_cmpint(o.calls, ==, 0);
}

int main(int argc, char **argv)
{
  /* The gateway is on loopback: a proxy from the environment must not be asked. */
  g_unsetenv("http_proxy");
  g_unsetenv("HTTP_PROXY");
  g_unsetenv("https_proxy");
  g_unsetenv("HTTPS_PROXY");
  g_unsetenv("all_proxy");
  g_unsetenv("ALL_PROXY");
  g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
  logged = g_string_new(NULL);
  g_log_set_writer_func(capture_writer, NULL, NULL);
  g_test_init(&argc, &argv, NULL);

  g_test_add_func("/notify/backoff", test_backoff);
  g_test_add_func("/notify/recipient-hint", test_recipient_hint);
  g_test_add_func("/notify/payload", test_payload);
  g_test_add_func("/notify/config-errors", test_config_errors);
  g_test_add_func("/notify/log-sender", test_log_sender);
#define GW_TEST(path, mode, fn)                                                                    \
  g_test_add(path, Gateway, GINT_TO_POINTER(mode), gateway_setup, fn, gateway_teardown)
  GW_TEST("/notify/webhook/delivers", GW_OK, test_webhook_delivers);
  GW_TEST("/notify/webhook/500-then-success", GW_FAIL_FIRST, test_webhook_500_then_success);
  GW_TEST("/notify/webhook/timeout", GW_HANG, test_webhook_timeout);
  GW_TEST("/notify/webhook/refused", GW_REFUSE, test_webhook_refused);
  GW_TEST("/notify/webhook/unreachable", GW_OK, test_webhook_unreachable);
  GW_TEST("/notify/webhook/many-in-flight", GW_OK, test_webhook_many_in_flight);
  GW_TEST("/notify/webhook/freed-mid-send", GW_HANG, test_webhook_freed_mid_send);
#undef GW_TEST
  int rc = g_test_run();
  g_string_free(logged, TRUE);
  return rc;
}
