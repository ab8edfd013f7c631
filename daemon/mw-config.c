/* mw-config.c — key file + flags. Flags win over the file; the file wins over defaults. */
#include "mw-config.h"

#include <string.h>

#ifndef MASHWARA_WEB_ROOT
#define MASHWARA_WEB_ROOT "web"
#endif

void mw_config_free(MwConfig *c)
{
  if (!c)
    return;
  g_free(c->db_path);
  g_free(c->data_dir);
  g_free(c->user);
  g_free(c->listen);
  g_free(c->public_url);
  g_strfreev(c->ice_addresses);
  g_free(c->stun_server);
  g_free(c->turn_server);
  g_strfreev(c->turn_uris);
  g_free(c->turn_secret);
  g_free(c->web_root);
  g_free(c->tls_cert);
  g_free(c->tls_key);
  g_free(c->demo_json);
  g_free(c->notify_sender);
  g_free(c->notify_webhook_url);
  g_free(c->notify_webhook_token);
  g_free(c);
}

static void take_string(GKeyFile *kf, const char *group, const char *key, char **out)
{
  g_autofree char *v = g_key_file_get_string(kf, group, key, NULL);
  if (v && *v) {
    g_free(*out);
    *out = g_steal_pointer(&v);
  }
}

static void take_int(GKeyFile *kf, const char *group, const char *key, int *out)
{
  g_autoptr(GError) e = NULL;
  int v = g_key_file_get_integer(kf, group, key, &e);
  if (!e)
    *out = v;
}

static void take_double(GKeyFile *kf, const char *group, const char *key, double *out)
{
  g_autoptr(GError) e = NULL;
  double v = g_key_file_get_double(kf, group, key, &e);
  if (!e)
    *out = v;
}

static gboolean take_bool(GKeyFile *kf, const char *group, const char *key, gboolean *out,
                          GError **error)
{
  g_autoptr(GError) e = NULL;
  gboolean v = g_key_file_get_boolean(kf, group, key, &e);
  if (!e) {
    *out = v;
    return TRUE;
  }
  if (g_error_matches(e, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE)) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "[%s] %s must be true or false",
                group, key);
    return FALSE;
  }
  return TRUE; /* absent */
}

static gboolean apply_key_file(MwConfig *c, const char *path, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new();
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error))
    return FALSE;
  take_string(kf, "server", "listen", &c->listen);
  take_int(kf, "server", "port", &c->port);
  take_string(kf, "server", "public_url", &c->public_url);
  take_string(kf, "server", "web_root", &c->web_root);
  take_string(kf, "server", "data_dir", &c->data_dir);
  take_string(kf, "server", "user", &c->user);
  take_int(kf, "server", "max_connections_per_address", &c->max_connections_per_address);
  take_double(kf, "server", "requests_per_second_per_address", &c->requests_per_second_per_address);
  take_int(kf, "server", "request_burst_per_address", &c->request_burst_per_address);
  take_double(kf, "server", "requests_per_second_per_token", &c->requests_per_second_per_token);
  take_int(kf, "server", "request_burst_per_token", &c->request_burst_per_token);
  take_int(kf, "server", "login_failures_per_account", &c->login_failures_per_account);
  take_int(kf, "server", "login_failures_per_address", &c->login_failures_per_address);
  take_int(kf, "server", "login_failure_window_seconds", &c->login_failure_window_s);
  take_string(kf, "database", "path", &c->db_path);
  take_string(kf, "tls", "cert", &c->tls_cert);
  take_string(kf, "tls", "key", &c->tls_key);
  char **ice = g_key_file_get_string_list(kf, "ice", "addresses", NULL, NULL);
  if (ice) {
    g_strfreev(c->ice_addresses);
    c->ice_addresses = ice;
  }
  take_int(kf, "ice", "min_port", &c->min_port);
  take_int(kf, "ice", "max_port", &c->max_port);
  take_string(kf, "ice", "stun_server", &c->stun_server);
  take_string(kf, "ice", "turn_server", &c->turn_server);
  if (!take_bool(kf, "ice", "tcp", &c->ice_tcp, error))
    return FALSE;
  char **turn = g_key_file_get_string_list(kf, "turn", "uris", NULL, NULL);
  if (turn) {
    for (char **u = turn; *u; u++)
      g_strstrip(*u); /* "a; b" is a natural way to write a list */
    g_strfreev(c->turn_uris);
    c->turn_uris = turn;
  }
  take_string(kf, "turn", "secret", &c->turn_secret);
  take_int(kf, "turn", "credential_lifetime_seconds", &c->turn_credential_ttl_s);
  take_int(kf, "tokens", "minutes_before_start", &c->token_before_min);
  take_int(kf, "tokens", "minutes_after_end", &c->token_after_min);
  take_string(kf, "notify", "sender", &c->notify_sender);
  take_string(kf, "notify", "webhook_url", &c->notify_webhook_url);
  take_string(kf, "notify", "webhook_token", &c->notify_webhook_token);
  take_int(kf, "notify", "max_attempts", &c->notify_max_attempts);
  take_int(kf, "notify", "timeout_seconds", &c->notify_timeout_s);
  take_int(kf, "notify", "retry_base_seconds", &c->notify_retry_base_s);
  take_int(kf, "notify", "max_in_flight", &c->notify_max_in_flight);
  take_int(kf, "jobs", "noshow_grace_minutes", &c->jobs_noshow_grace_min);
  take_int(kf, "retention", "personal_data_days", &c->retention_days);
  return TRUE;
}

/* [turn]: URIs a browser can use; a turn: URI needs the shared secret to make credentials. */
static gboolean check_turn(const MwConfig *c, GError **error)
{
  gboolean needs_secret = FALSE;
  for (char **u = c->turn_uris; u && *u; u++) {
    if (g_str_has_prefix(*u, "turn:") || g_str_has_prefix(*u, "turns:"))
      needs_secret = TRUE;
    else if (!g_str_has_prefix(*u, "stun:") && !g_str_has_prefix(*u, "stuns:")) {
      g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                  "[turn] uris: \"%s\" is not a turn:, turns:, stun: or stuns: URI", *u);
      return FALSE;
    }
  }
  const char *bad = NULL;
  if (needs_secret && !c->turn_secret)
    bad = "[turn] secret is required for turn: URIs (coturn's static-auth-secret)";
  else if (c->turn_credential_ttl_s < 60 || c->turn_credential_ttl_s > 7 * 24 * 3600)
    bad = "[turn] credential_lifetime_seconds must be 60..604800";
  if (bad)
    g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, bad);
  return bad == NULL;
}

/* The [notify] and [jobs] values' ranges; the webhook's URL itself is checked by the sender. */
static gboolean check_notify(const MwConfig *c, GError **error)
{
  const char *bad = NULL;
  if (g_strcmp0(c->notify_sender, "log") != 0 && g_strcmp0(c->notify_sender, "webhook") != 0)
    bad = "[notify] sender must be \"log\" or \"webhook\"";
  else if (g_strcmp0(c->notify_sender, "webhook") == 0 && !c->notify_webhook_url)
    bad = "[notify] webhook_url is required for sender=webhook";
  else if (c->notify_max_attempts < 1 || c->notify_max_attempts > 100)
    bad = "[notify] max_attempts must be 1..100";
  else if (c->notify_timeout_s < 1 || c->notify_timeout_s > 300)
    bad = "[notify] timeout_seconds must be 1..300";
  else if (c->notify_retry_base_s < 1 || c->notify_retry_base_s > 3600)
    bad = "[notify] retry_base_seconds must be 1..3600";
  else if (c->notify_max_in_flight < 1 || c->notify_max_in_flight > 64)
    bad = "[notify] max_in_flight must be 1..64";
  else if (c->jobs_noshow_grace_min < 1 || c->jobs_noshow_grace_min > 24 * 60)
    bad = "[jobs] noshow_grace_minutes must be 1..1440";
  else if (c->retention_days != 0 &&
           (c->retention_days < 30 || c->retention_days > 36600)) /* SCHED_RETENTION_DAYS_MIN */
    bad = "[retention] personal_data_days must be 0 (off) or 30..36600";
  if (bad)
    g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, bad);
  return bad == NULL;
}

MwConfig *mw_config_load(int *argc, char ***argv, GError **error)
{
  g_autofree char *config_file = NULL, *db = NULL, *data_dir = NULL, *listen = NULL;
  g_autofree char *public_url = NULL, *web_root = NULL, *cert = NULL, *key = NULL;
  g_autofree char *demo_json = NULL, *user = NULL;
  g_auto(GStrv) ice = NULL;
  int port = 0;
  gboolean demo = FALSE;
  GOptionEntry entries[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Key file to read", "FILE"},
      {"db", 0, 0, G_OPTION_ARG_FILENAME, &db, "SQLite database file", "PATH"},
      {"data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, "Folder for the database and TLS",
       "DIR"},
      {"listen", 0, 0, G_OPTION_ARG_STRING, &listen, "Address to listen on", "ADDR"},
      {"user", 0, 0, G_OPTION_ARG_STRING, &user,
       "Account to run as after binding, if root (mashwara)", "NAME"},
      {"port", 'p', 0, G_OPTION_ARG_INT, &port, "HTTPS/WSS port (8443)", "N"},
      {"public-url", 0, 0, G_OPTION_ARG_STRING, &public_url, "Base URL of links", "URL"},
      {"ice-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ice, "Address for media (repeatable)",
       "ADDR"},
      {"web-root", 0, 0, G_OPTION_ARG_FILENAME, &web_root, "Folder of the pages", "DIR"},
      {"tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, "PEM certificate", "FILE"},
      {"tls-key", 0, 0, G_OPTION_ARG_FILENAME, &key, "PEM private key", "FILE"},
      {"demo", 0, 0, G_OPTION_ARG_NONE, &demo, "Seed a demo doctor, patient and appointment", NULL},
      {"demo-json", 0, 0, G_OPTION_ARG_FILENAME, &demo_json, "Also write the demo data here",
       "FILE"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("— Mashwara consultation server");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_set_description(
      ctx, "Subcommands: mashwara admin --help (add doctors and patients, book appointments)");
  if (!g_option_context_parse(ctx, argc, argv, error))
    return NULL;

  MwConfig *c = g_new0(MwConfig, 1);
  c->data_dir = g_strdup("mashwara-data");
  c->port = 8443;
  c->web_root = g_strdup(MASHWARA_WEB_ROOT);
  c->token_before_min = 15;
  c->token_after_min = 30;
  c->ice_tcp = TRUE;
  c->turn_credential_ttl_s = 12 * 3600;
  c->notify_sender = g_strdup("log");
  c->notify_max_attempts = 8;
  c->notify_timeout_s = 10;
  c->notify_retry_base_s = 30;
  c->notify_max_in_flight = 8;
  c->jobs_noshow_grace_min = 15;
  c->retention_days = 365; /* SCHED_RETENTION_DAYS_DEFAULT */
  if (config_file && !apply_key_file(c, config_file, error)) {
    mw_config_free(c);
    return NULL;
  }
#define OVERRIDE(field, v)                                                                         \
  if (v) {                                                                                         \
    g_free(c->field);                                                                              \
    c->field = g_steal_pointer(&v);                                                                \
  }
  OVERRIDE(db_path, db);
  OVERRIDE(data_dir, data_dir);
  OVERRIDE(listen, listen);
  OVERRIDE(public_url, public_url);
  OVERRIDE(web_root, web_root);
  OVERRIDE(tls_cert, cert);
  OVERRIDE(tls_key, key);
  OVERRIDE(demo_json, demo_json);
  OVERRIDE(user, user);
#undef OVERRIDE
  if (ice) {
    g_strfreev(c->ice_addresses);
    c->ice_addresses = g_steal_pointer(&ice);
  }
  if (port)
    c->port = port;
  c->demo = demo;
  if (c->port <= 0 || c->port > 65535) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "port %d is out of range",
                c->port);
    mw_config_free(c);
    return NULL;
  }
  if (c->max_connections_per_address < 0 || c->request_burst_per_address < 0 ||
      c->request_burst_per_token < 0 || c->login_failures_per_account < 0 ||
      c->login_failures_per_address < 0 || c->login_failure_window_s < 0) {
    g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "[server] limits must not be negative (rates: < 0 turns one off)");
    mw_config_free(c);
    return NULL;
  }
  if (!check_notify(c, error) || !check_turn(c, error)) {
    mw_config_free(c);
    return NULL;
  }
  if (!c->db_path)
    c->db_path = g_build_filename(c->data_dir, "mashwara.db", NULL);
  if (!c->public_url) {
    const char *host = c->listen && strcmp(c->listen, "0.0.0.0") != 0 ? c->listen : "localhost";
    c->public_url = g_strdup_printf("https://%s:%d", host, c->port);
  }
  while (g_str_has_suffix(c->public_url, "/"))
    c->public_url[strlen(c->public_url) - 1] = '\0';
  return c;
}
