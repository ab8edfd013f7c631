/* mw-config.h — the daemon's configuration: a GLib key file (--config) with command-line flags
 * overriding it. See docs/configuration.md for every key. */
#pragma once

#include <glib.h>

typedef struct {
  char *db_path;
  char *data_dir;
  char *listen; /* NULL = every address */
  int port;
  char *public_url; /* no trailing slash */
  char **ice_addresses;
  int min_port, max_port;
  char *stun_server, *turn_server;
  char *web_root;
  char *tls_cert, *tls_key; /* NULL = self-signed in data_dir/tls/ */
  int token_before_min, token_after_min;
  gboolean demo;
  char *demo_json;
} MwConfig;

/* Parses argv (removing what it used) and the key file it names. (transfer full) */
MwConfig *mw_config_load(int *argc, char ***argv, GError **error);
void mw_config_free(MwConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MwConfig, mw_config_free)
