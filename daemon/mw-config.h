/* mw-config.h — the daemon's configuration: a GLib key file (--config) with command-line flags
 * overriding it. See docs/configuration.md for every key. */
#pragma once

#include <glib.h>

typedef struct {
  char *db_path;
  char *data_dir;
  char *user;   /* [server] user: the account to become after binding, if started as root */
  char *listen; /* NULL = every address */
  int port;
  char *public_url; /* no trailing slash */
  char **ice_addresses;
  int min_port, max_port;
  gboolean ice_tcp; /* [ice] tcp: passive ICE-TCP candidates on the relay (TRUE) */
  char *stun_server, *turn_server;
  /* [turn]: the TURN servers handed to browsers (coturn with use-auth-secret) */
  char **turn_uris;          /* "turn:host:3478?transport=tcp", "stun:…"; NULL = none */
  char *turn_secret;         /* coturn's static-auth-secret; never logged */
  int turn_credential_ttl_s; /* lifetime of each credential handed out (12 h) */
  char *web_root;
  /* [server] limits (docs/configuration.md); 0 = the signaling server's default, a rate < 0 off */
  int max_connections_per_address;
  double requests_per_second_per_address;
  int request_burst_per_address;
  double requests_per_second_per_token;
  int request_burst_per_token;
  int login_failures_per_account;
  int login_failures_per_address;
  int login_failure_window_s;
  char *tls_cert, *tls_key; /* NULL = self-signed in data_dir/tls/ */
  int token_before_min, token_after_min;
  gboolean demo;
  char *demo_json;
  /* [notify]: how the outbox's notices go out (see notify.h) */
  char *notify_sender;        /* "log" (default) or "webhook" */
  char *notify_webhook_url;   /* required for "webhook" */
  char *notify_webhook_token; /* optional bearer token */
  int notify_max_attempts;    /* sends tried before a notice is kept as failed (8) */
  int notify_timeout_s;       /* one webhook request's deadline (10) */
  int notify_retry_base_s;    /* first retry delay, doubling each time up to an hour (30) */
  int notify_max_in_flight;   /* sends at once (8) */
  /* [jobs] */
  int jobs_noshow_grace_min; /* a booked patient absent this long after the start is a no-show */
  /* [retention] */
  int retention_days; /* personal data is erased this long after the care it served (365);
                         0 turns the daily job off */
} MwConfig;

/* Parses argv (removing what it used) and the key file it names. (transfer full) */
MwConfig *mw_config_load(int *argc, char ***argv, GError **error);
void mw_config_free(MwConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MwConfig, mw_config_free)
