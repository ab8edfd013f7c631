/* sig.h — the signaling service: the one HTTPS/WSS port (libwebsockets on the GLib main loop),
 * the JSON API, connections, staff sessions, roles, the waiting room and the call state
 * machine. The only public header of the signaling module (prefix `sig_`).
 *
 * It asks the scheduler (scheduler.h) who a token or a session belongs to, and tells the relay
 * (sfu.h) to create rooms and participants; the relay answers through SfuRoomCallbacks.
 * Threads: everything runs on the thread of the default GMainContext (the daemon's loop).
 * Ownership: the server borrows `store` and `relay`; both must outlive it. */
#pragma once

#include <glib.h>

#include "scheduler.h"
#include "sfu.h"

G_BEGIN_DECLS

#define SIG_ERROR (sig_error_quark())
GQuark sig_error_quark(void);

typedef enum {
  SIG_ERROR_FAILED,    /* the server could not start (port taken, bad certificate) */
  SIG_ERROR_MALFORMED, /* a message that does not follow docs/protocol.md */
} SigError;

typedef struct {
  const char *listen_address; /* NULL = every address */
  guint port;
  const char *tls_cert_path; /* PEM; required: the server never speaks plain HTTP */
  const char *tls_key_path;
  const char *web_root;   /* folder served as static pages */
  const char *public_url; /* base of the links the server hands out, no trailing slash */
  guint auth_timeout_s;   /* close a connection that has not said hello by then (10) */
  gint64 session_ttl_s;   /* staff session lifetime (12 h) */
  /* ICE servers handed to browsers in `welcome` (docs/protocol.md): turn:/turns:/stun: URIs,
   * NULL = none. TURN credentials follow coturn's use-auth-secret (sig-turn.h). */
  const char *const *turn_uris;
  const char *turn_secret; /* coturn's static-auth-secret; NULL = no credentials; never logged */
  guint turn_credential_ttl_s; /* each credential's lifetime (12 h) */
  /* Limits (docs/configuration.md; 0 = the default). A rate of < 0 turns that limit off. */
  guint max_connections_per_address;      /* open TLS connections per client address (64) */
  double requests_per_second_per_address; /* HTTP requests, token bucket (100/s) ... */
  guint request_burst_per_address;        /* ... holding this many (1000) */
  double requests_per_second_per_token;   /* requests and hellos per join token (0.5/s) ... */
  guint request_burst_per_token;          /* ... holding this many (30) */
  guint login_failures_per_account;       /* failed logins before 429 (5) ... */
  guint login_failures_per_address;       /* ... and per address (30) ... */
  guint login_failure_window_s;           /* ... each forgotten over this long (900) */
} SigConfig;

typedef struct SigServer SigServer;

/* The authorisation table (who may call which endpoint and send which message; docs/api.md)
 * as one line of JSON. (transfer full) */
char *sig_authz_table_text(void);

/* (transfer full) Starts listening at once. */
SigServer *sig_server_new(const SigConfig *config, SchedStore *store, SfuRelay *relay,
                          GError **error);
/* Closes every connection and frees every room. */
void sig_server_free(SigServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SigServer, sig_server_free)

G_END_DECLS
