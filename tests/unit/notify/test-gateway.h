/* test-gateway.h — a stand-in SMS gateway for the notify and jobs tests: a libsoup server on
 * 127.0.0.1 (a random port) in the test's own process and main context, counting requests per
 * Idempotency-Key and answering as its mode says. */
#pragma once

#include <libsoup/soup.h>

typedef enum {
  GW_OK,          /* 200 */
  GW_FAIL_FIRST,  /* 500 the first time a key is seen, then 200 */
  GW_ALWAYS_FAIL, /* 500 */
  GW_HANG,        /* never answers (until gateway_stop) */
  GW_REFUSE,      /* 400 */
} GatewayMode;

typedef struct {
  SoupServer *server;
  char *url; /* http://127.0.0.1:<port>/hook */
  GatewayMode mode;
  int requests;
  GHashTable *per_key; /* Idempotency-Key -> count */
  char *last_key, *last_auth, *last_type, *last_body, *last_method;
  GPtrArray *paused; /* SoupServerMessage * held open (GW_HANG) */
} Gateway;

void gateway_start(Gateway *gw, GatewayMode mode);
void gateway_stop(Gateway *gw);
/* How many requests carried `key`. */
int gateway_count(Gateway *gw, const char *key);

/* Runs the thread-default main context for `ms` milliseconds. */
void spin(guint ms);
/* Runs it until *flag != 0 or `ms` pass; returns *flag != 0. */
gboolean spin_until(const int *flag, guint ms);
