/* sig-turn.c — TURN REST API credentials and the `ice_servers` list (see sig-turn.h). */
#include "sig-turn.h"

#include <string.h>

char *sig_turn_password(const char *secret, const char *username)
{
  g_return_val_if_fail(secret && username, NULL);
  g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)secret, strlen(secret));
  g_hmac_update(hmac, (const guchar *)username, -1);
  guint8 digest[20];
  gsize len = sizeof(digest);
  g_hmac_get_digest(hmac, digest, &len);
  return g_base64_encode(digest, len);
}

void sig_turn_credential(const char *secret, const char *id, gint64 expires, char **username,
                         char **credential)
{
  g_return_if_fail(secret && id && username && credential);
  *username = g_strdup_printf("%" G_GINT64_FORMAT ":%s", expires, id);
  *credential = sig_turn_password(secret, *username);
}

static gboolean is_turn(const char *uri)
{
  return g_str_has_prefix(uri, "turn:") || g_str_has_prefix(uri, "turns:");
}

json_t *sig_turn_ice_servers(const char *const *uris, const char *secret, const char *id,
                             gint64 expires)
{
  json_t *servers = json_array();
  json_t *turn = json_array(), *stun = json_array();
  for (const char *const *u = uris; u && *u; u++)
    json_array_append_new(is_turn(*u) ? turn : stun, json_string(*u));
  /* One entry per kind: a browser tries every URL of an entry with its one credential. */
  if (json_array_size(turn)) {
    json_t *entry = json_pack("{s:O}", "urls", turn);
    if (secret && id) {
      g_autofree char *username = NULL, *credential = NULL;
      sig_turn_credential(secret, id, expires, &username, &credential);
      json_object_set_new(entry, "username", json_string(username));
      json_object_set_new(entry, "credential", json_string(credential));
    }
    json_array_append_new(servers, entry);
  }
  if (json_array_size(stun))
    json_array_append_new(servers, json_pack("{s:O}", "urls", stun));
  json_decref(turn);
  json_decref(stun);
  return servers;
}
