/* test-authz.c — unit tests of the authorisation table and its decision, the CSRF token, the
 * keyed token buckets and the JSON depth limit (signaling's pure parts). */
#include <string.h>

#include "sig-authz.h"
#include "sig-limits.h"
#include "sig-msg.h"
#include "sig.h"

/* Every message type the codec knows has a row: a new message cannot go undecided. */
static void test_table_covers_messages(void)
{
  for (int t = SIG_MSG_HELLO; t <= SIG_MSG_CHAT; t++)
    g_assert_nonnull(sig_authz_find_ws(sig_msg_type_name((SigMsgType)t)));
  g_assert_null(sig_authz_find_ws("no-such-type"));
}

static void test_find_and_decide(void)
{
  gboolean known;
  const SigAuthzRule *r = sig_authz_find_http("GET", "/api/appointments/12", &known);
  g_assert_nonnull(r);
  g_assert_cmpstr(r->pattern, ==, "/api/appointments/#");
  SigAccess a;
  g_assert_cmpint(sig_authz_decide(r, SIG_ROLE_NONE, &a), ==, 401);
  g_assert_cmpint(sig_authz_decide(r, SIG_ROLE_PATIENT, &a), ==, 401);
  g_assert_cmpint(sig_authz_decide(r, SIG_ROLE_DOCTOR, &a), ==, 0);
  g_assert_cmpint(a, ==, SIG_ACCESS_OWN);
  g_assert_cmpint(sig_authz_decide(r, SIG_ROLE_ADMIN, &a), ==, 0);
  g_assert_cmpint(a, ==, SIG_ACCESS_ALL);
  g_assert_cmpint(sig_authz_decide(r, SIG_ROLE_ANALYST, &a), ==, 403);
  /* "today" is not an id; a path under another method is known (405); default deny */
  g_assert_cmpstr(sig_authz_find_http("GET", "/api/appointments/today", NULL)->pattern, ==,
                  "/api/appointments/today");
  g_assert_null(sig_authz_find_http("DELETE", "/api/appointments/12", &known));
  g_assert_true(known);
  g_assert_null(sig_authz_find_http("GET", "/api/nothing", &known));
  g_assert_false(known);
  g_assert_null(sig_authz_find_http("GET", "/api/appointments/012", &known));
  g_assert_cmpint(sig_authz_decide(NULL, SIG_ROLE_ADMIN, &a), ==, 403);
  g_assert_cmpint(a, ==, SIG_ACCESS_DENY);
  const SigAuthzRule *t = sig_authz_find_http("GET", "/api/join/abc/invite.ics", NULL);
  g_assert_nonnull(t);
  g_assert_cmpint(t->access[SIG_ROLE_NONE], ==, SIG_ACCESS_TOKEN);
  g_assert_null(sig_authz_find_http("GET", "/api/join//invite.ics", NULL));
}

static void test_owns_and_roles(void)
{
  g_assert_true(sig_authz_owns(SIG_ROLE_DOCTOR, 7, 7));
  g_assert_false(sig_authz_owns(SIG_ROLE_DOCTOR, 7, 8));
  g_assert_false(sig_authz_owns(SIG_ROLE_DOCTOR, 0, 0));
  g_assert_true(sig_authz_owns(SIG_ROLE_ADMIN, 1, 8));
  g_assert_false(sig_authz_owns(SIG_ROLE_ANALYST, 8, 8));
  g_assert_cmpint(sig_authz_participant_role("interpreter"), ==, SIG_ROLE_PATIENT);
  g_assert_cmpint(sig_authz_participant_role("doctor"), ==, SIG_ROLE_DOCTOR);
  g_assert_cmpint(sig_authz_staff_role("patient"), ==, SIG_ROLE_NONE);
  g_assert_cmpint(sig_authz_staff_role(NULL), ==, SIG_ROLE_NONE);
}

/* Analysts never reach a row that is not aggregate, public or their own identity. */
static void test_analyst_rows(void)
{
  gsize n;
  const SigAuthzRule *rules = sig_authz_rules(&n);
  g_assert_cmpuint(n, >, 60);
  for (gsize i = 0; i < n; i++) {
    SigAccess a = rules[i].access[SIG_ROLE_ANALYST];
    if (a == SIG_ACCESS_DENY || a == SIG_ACCESS_TOKEN)
      continue;
    gboolean public_row = rules[i].access[SIG_ROLE_NONE] == SIG_ACCESS_ALL;
    gboolean ok =
        public_row || a == SIG_ACCESS_AGGREGATE || g_strcmp0(rules[i].pattern, "/api/me") == 0;
    if (!ok)
      g_test_message("analyst reaches %s", rules[i].pattern);
    g_assert_true(ok);
  }
}

static void test_csrf(void)
{
  g_autofree char *t1 = sig_authz_csrf_token("secret-one");
  g_autofree char *t2 = sig_authz_csrf_token("secret-two");
  g_autofree char *t1b = sig_authz_csrf_token("secret-one");
  g_assert_cmpstr(t1, ==, t1b);
  g_assert_cmpstr(t1, !=, t2);
  g_assert_cmpuint(strlen(t1), ==, 43);
  g_assert_null(strpbrk(t1, "+/="));
  g_assert_true(sig_authz_csrf_check("secret-one", t1));
  g_assert_false(sig_authz_csrf_check("secret-one", t2));
  g_assert_false(sig_authz_csrf_check("secret-one", ""));
  g_assert_false(sig_authz_csrf_check("secret-one", NULL));
  g_autofree char *longer = g_strconcat(t1, "x", NULL);
  g_assert_false(sig_authz_csrf_check("secret-one", longer));
  g_autofree char *prefix = g_strndup(t1, 20);
  g_assert_false(sig_authz_csrf_check("secret-one", prefix));
}

static void test_same_origin(void)
{
  const char *pub = "https://consult.example.org";
  g_assert_true(sig_authz_same_origin(NULL, "h:1", pub, NULL));
  g_assert_true(sig_authz_same_origin("https://h:1", "h:1", pub, "same-origin"));
  g_assert_true(sig_authz_same_origin(pub, "10.0.0.1:443", pub, "none"));
  g_assert_false(sig_authz_same_origin("https://evil.example", "h:1", pub, NULL));
  g_assert_false(sig_authz_same_origin("http://h:1", "h:1", pub, NULL));
  g_assert_false(sig_authz_same_origin("null", "h:1", pub, NULL));
  g_assert_false(sig_authz_same_origin(NULL, "h:1", pub, "cross-site"));
  g_assert_false(sig_authz_same_origin(NULL, "h:1", pub, "same-site"));
}

static void test_buckets(void)
{
  g_autoptr(SigBuckets) b = sig_buckets_new(0.5, 3, 16);
  gint64 t = 1000 * G_USEC_PER_SEC;
  for (int i = 0; i < 3; i++)
    g_assert_cmpint(sig_buckets_take(b, "a", t), ==, 0);
  g_assert_cmpint(sig_buckets_take(b, "a", t), ==, 2); /* one token every 2 s */
  g_assert_cmpint(sig_buckets_peek(b, "a", t), ==, 2);
  g_assert_cmpint(sig_buckets_take(b, "b", t), ==, 0); /* keys are apart */
  g_assert_cmpint(sig_buckets_take(b, "a", t + 2 * G_USEC_PER_SEC), ==, 0);
  g_assert_cmpint(sig_buckets_take(b, "a", t + 2 * G_USEC_PER_SEC), ==, 2);
  sig_buckets_reset(b, "a");
  g_assert_cmpint(sig_buckets_peek(b, "a", t), ==, 0);
  /* bounded: many keys never grow the table past its limit */
  for (int i = 0; i < 1000; i++) {
    char k[16];
    g_snprintf(k, sizeof(k), "k%d", i);
    sig_buckets_take(b, k, t + i);
  }
  g_assert_cmpuint(sig_buckets_size(b), <=, 16);
  g_autoptr(SigBuckets) off = sig_buckets_new(-1, 1, 16);
  for (int i = 0; i < 100; i++)
    g_assert_cmpint(sig_buckets_take(off, "a", t), ==, 0);
}

static void test_json_depth(void)
{
  g_assert_true(sig_json_depth_ok("{}", 2, 1));
  g_assert_false(sig_json_depth_ok("[[]]", 4, 1));
  g_assert_true(sig_json_depth_ok("{\"a\":\"[[[[\"}", 12, 1)); /* brackets in strings */
  g_assert_true(sig_json_depth_ok("{\"a\\\"[[\":1}", 12, 1));  /* escaped quote */
  g_autoptr(GString) s = g_string_new(NULL);
  for (int i = 0; i < 17; i++)
    g_string_append_c(s, '[');
  for (int i = 0; i < 17; i++)
    g_string_append_c(s, ']');
  g_assert_false(sig_json_depth_ok(s->str, s->len, SIG_JSON_MAX_DEPTH));
  g_assert_true(sig_json_depth_ok(s->str + 1, s->len - 2, SIG_JSON_MAX_DEPTH));
  g_autofree char *msg = g_strdup_printf("{\"type\":\"leave\",\"x\":%s}", s->str);
  g_autoptr(GError) error = NULL;
  g_assert_null(sig_msg_parse(msg, strlen(msg), &error));
  g_assert_error(error, SIG_ERROR, SIG_ERROR_MALFORMED);
}

static void test_table_json(void)
{
  json_t *t = sig_authz_table_json();
  g_assert_cmpuint(json_array_size(json_object_get(t, "roles")), ==, SIG_ROLE_COUNT);
  gsize n;
  sig_authz_rules(&n);
  g_assert_cmpuint(json_array_size(json_object_get(t, "rules")), ==, n);
  json_decref(t);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sig/authz/covers-messages", test_table_covers_messages);
  g_test_add_func("/sig/authz/find-and-decide", test_find_and_decide);
  g_test_add_func("/sig/authz/owns-and-roles", test_owns_and_roles);
  g_test_add_func("/sig/authz/analyst", test_analyst_rows);
  g_test_add_func("/sig/authz/csrf", test_csrf);
  g_test_add_func("/sig/authz/same-origin", test_same_origin);
  g_test_add_func("/sig/limits/buckets", test_buckets);
  g_test_add_func("/sig/limits/json-depth", test_json_depth);
  g_test_add_func("/sig/authz/table-json", test_table_json);
  return g_test_run();
}
