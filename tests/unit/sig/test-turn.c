/* test-turn.c — TURN REST API credentials (coturn use-auth-secret) and the `ice_servers` list
 * of `welcome`, against known HMAC-SHA1 vectors. */
#include <string.h>

#include "sig-turn.h"

static void test_password(void)
{
  /* RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?") =
   * effcdf6ae5eb2fa2d27416d5f184df9c259a7c79, here in base64. */
  g_autofree char *rfc = sig_turn_password("Jefe", "what do ya want for nothing?");
  g_assert_cmpstr(rfc, ==, "7/zfauXrL6LSdBbV8YTfnCWafHk=");
}

static void test_credential(void)
{
  /* printf %s 1700000000:p0123abcd4567ef89 |
   *   openssl dgst -sha1 -hmac north-clinic-secret -binary | base64 */
  g_autofree char *username = NULL, *credential = NULL;
  sig_turn_credential("north-clinic-secret", "p0123abcd4567ef89", 1700000000, &username,
                      &credential);
  g_assert_cmpstr(username, ==, "1700000000:p0123abcd4567ef89");
  g_assert_cmpstr(credential, ==, "sq9iBa2eNCwEBn4ZOWyfiQfgKyY=");
}

static void test_ice_servers(void)
{
  const char *const uris[] = {"turn:198.18.0.1:3478?transport=tcp", "stun:198.18.0.1:3478",
                              "turns:turn.example.org:443?transport=tcp", NULL};
  json_t *s = sig_turn_ice_servers(uris, "north-clinic-secret", "p0123abcd4567ef89", 1700000000);
  g_autofree char *text = json_dumps(s, JSON_COMPACT);
  g_assert_cmpstr(text, ==,
                  "[{\"urls\":[\"turn:198.18.0.1:3478?transport=tcp\","
                  "\"turns:turn.example.org:443?transport=tcp\"],"
                  "\"username\":\"1700000000:p0123abcd4567ef89\","
                  "\"credential\":\"sq9iBa2eNCwEBn4ZOWyfiQfgKyY=\"},"
                  "{\"urls\":[\"stun:198.18.0.1:3478\"]}]");
  json_decref(s);

  /* No secret: URLs only. No URIs: an empty list. */
  const char *const turn_only[] = {"turn:198.18.0.1:3478", NULL};
  s = sig_turn_ice_servers(turn_only, NULL, "p1", 1);
  g_autofree char *bare = json_dumps(s, JSON_COMPACT);
  g_assert_cmpstr(bare, ==, "[{\"urls\":[\"turn:198.18.0.1:3478\"]}]");
  json_decref(s);
  s = sig_turn_ice_servers(NULL, "x", "p1", 1);
  g_assert_cmpuint(json_array_size(s), ==, 0);
  json_decref(s);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/turn/password", test_password);
  g_test_add_func("/turn/credential", test_credential);
  g_test_add_func("/turn/ice-servers", test_ice_servers);
  return g_test_run();
}
