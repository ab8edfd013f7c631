/* test-gateway.c — see test-gateway.h. */
#include "test-gateway.h"

#include <string.h>

static void gateway_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
                            GHashTable *query, gpointer data)
{
  Gateway *gw = data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  const char *key = soup_message_headers_get_one(h, "Idempotency-Key");
  gw->requests++;
  g_free(gw->last_key);
  gw->last_key = g_strdup(key);
  g_free(gw->last_auth);
  gw->last_auth = g_strdup(soup_message_headers_get_one(h, "Authorization"));
  g_free(gw->last_type);
  gw->last_type = g_strdup(soup_message_headers_get_content_type(h, NULL));
  g_free(gw->last_method);
  gw->last_method = g_strdup(soup_server_message_get_method(msg));
  g_free(gw->last_body);
  gw->last_body = g_strndup(body->data, (gsize)body->length);
  int seen = 0;
  if (key) {
    seen = GPOINTER_TO_INT(g_hash_table_lookup(gw->per_key, key));
    g_hash_table_insert(gw->per_key, g_strdup(key), GINT_TO_POINTER(seen + 1));
  }
  switch (gw->mode) {
  case GW_FAIL_FIRST:
    soup_server_message_set_status(msg, seen == 0 ? 500 : 200, NULL);
    break;
  case GW_ALWAYS_FAIL:
    soup_server_message_set_status(msg, 500, NULL);
    break;
  case GW_HANG:
    soup_server_message_pause(msg);
    g_ptr_array_add(gw->paused, g_object_ref(msg));
    return;
  case GW_REFUSE:
    soup_server_message_set_status(msg, 400, NULL);
    break;
  case GW_OK:
    soup_server_message_set_status(msg, 200, NULL);
    break;
  }
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_STATIC, "{}", 2);
}

void gateway_start(Gateway *gw, GatewayMode mode)
{
  memset(gw, 0, sizeof *gw);
  gw->mode = mode;
  gw->per_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  gw->paused = g_ptr_array_new_with_free_func(g_object_unref);
  gw->server = soup_server_new(NULL, NULL);
  soup_server_add_handler(gw->server, "/hook", gateway_handler, gw, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
  g_autoptr(GError) error = NULL;
  g_assert_true(soup_server_listen(gw->server, addr, 0, &error));
  g_assert_no_error(error);
  GSList *uris = soup_server_get_uris(gw->server);
  g_assert_nonnull(uris);
  gw->url = g_strdup_printf("http://127.0.0.1:%d/hook", g_uri_get_port(uris->data));
  g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
}

void gateway_stop(Gateway *gw)
{
  for (guint i = 0; i < gw->paused->len; i++) {
    SoupServerMessage *msg = gw->paused->pdata[i];
    soup_server_message_set_status(msg, 200, NULL);
    soup_server_message_unpause(msg);
  }
  spin(20);
  g_ptr_array_unref(gw->paused);
  soup_server_disconnect(gw->server);
  g_object_unref(gw->server);
  g_hash_table_unref(gw->per_key);
  g_free(gw->url);
  g_free(gw->last_key);
  g_free(gw->last_auth);
  g_free(gw->last_type);
  g_free(gw->last_body);
  g_free(gw->last_method);
}

int gateway_count(Gateway *gw, const char *key)
{
  return GPOINTER_TO_INT(g_hash_table_lookup(gw->per_key, key));
}

void spin(guint ms)
{
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (g_get_monotonic_time() < end) {
    g_main_context_iteration(NULL, FALSE);
    g_usleep(1000);
  }
}

gboolean spin_until(const int *flag, guint ms)
{
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (!*flag && g_get_monotonic_time() < end) {
    g_main_context_iteration(NULL, FALSE);
    g_usleep(500);
  }
  return *flag != 0;
}
