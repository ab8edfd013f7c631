/* test-daemon.c — the composition root's configuration (key file, flags over it, defaults) and
 * the self-signed certificate it makes on first start. */
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <sys/stat.h>

#include "mw-config.h"
#include "mw-tls.h"

/* Parses a copy of `args` (argv[0] included), as main() would. */
static MwConfig *load(const char *const *args, GError **error)
{
  g_auto(GStrv) argv = g_strdupv((char **)args);
  char **v = argv;
  int argc = (int)g_strv_length(argv);
  /* g_option_context_parse rearranges argv; keep the original vector to free it. */
  char **copy = g_memdup2(v, sizeof(char *) * (gsize)(argc + 1));
  MwConfig *c = mw_config_load(&argc, &copy, error);
  g_free(copy);
  return c;
}

/* Each of `bad`, written to `path` (which `args` names as the config file), is refused. */
static void assert_refused(const char *path, const char *const *args, const char *const *bad,
                           gsize n)
{
  for (gsize i = 0; i < n; i++) {
    g_assert_true(g_file_set_contents(path, bad[i], -1, NULL));
    g_autoptr(GError) e = NULL;
    g_autoptr(MwConfig) c = load(args, &e);
    if (c)
      g_error("config %" G_GSIZE_FORMAT " (%s) was accepted", i, bad[i]);
    g_assert_nonnull(e);
  }
}

static void test_defaults(void)
{
  const char *args[] = {"mashwara", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(MwConfig) c = load(args, &error);
  g_assert_no_error(error);
  g_assert_cmpint(c->port, ==, 8443);
  g_assert_cmpstr(c->data_dir, ==, "mashwara-data");
  g_assert_cmpstr(c->db_path, ==, "mashwara-data/mashwara.db");
  g_assert_cmpstr(c->public_url, ==, "https://localhost:8443");
  g_assert_null(c->ice_addresses);
  g_assert_cmpint(c->token_before_min, ==, 15);
  g_assert_cmpint(c->token_after_min, ==, 30);
  g_assert_false(c->demo);
}

static void test_key_file_and_flags(void)
{
  g_autofree char *dir = g_dir_make_tmp("mw-daemon-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "m.conf", NULL);
  const char *text = "[server]\nlisten=198.18.0.1\nport=9443\npublic_url=https://clinic.test/\n"
                     "data_dir=/var/lib/mw\n[database]\npath=/var/lib/mw/x.db\n"
                     "[ice]\naddresses=198.18.0.1;198.18.0.2\nmin_port=40000\nmax_port=40099\n"
                     "[tokens]\nminutes_before_start=5\nminutes_after_end=10\n";
  g_assert_true(g_file_set_contents(path, text, -1, NULL));

  const char *only_file[] = {"mashwara", "--config", path, NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(MwConfig) c = load(only_file, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(c->listen, ==, "198.18.0.1");
  g_assert_cmpint(c->port, ==, 9443);
  g_assert_cmpstr(c->public_url, ==, "https://clinic.test"); /* trailing slash dropped */
  g_assert_cmpstr(c->db_path, ==, "/var/lib/mw/x.db");
  g_assert_cmpuint(g_strv_length(c->ice_addresses), ==, 2);
  g_assert_cmpstr(c->ice_addresses[1], ==, "198.18.0.2");
  g_assert_cmpint(c->min_port, ==, 40000);
  g_assert_cmpint(c->max_port, ==, 40099);
  g_assert_cmpint(c->token_before_min, ==, 5);
  g_assert_cmpint(c->token_after_min, ==, 10);

  /* Flags win over the file. */
  const char *both[] = {"mashwara",  "--config", path,        "--port", "10443", "--ice-address",
                        "127.0.0.1", "--db",     "/tmp/y.db", "--demo", NULL};
  g_autoptr(MwConfig) d = load(both, &error);
  g_assert_no_error(error);
  g_assert_cmpint(d->port, ==, 10443);
  g_assert_cmpuint(g_strv_length(d->ice_addresses), ==, 1);
  g_assert_cmpstr(d->ice_addresses[0], ==, "127.0.0.1");
  g_assert_cmpstr(d->db_path, ==, "/tmp/y.db");
  g_assert_cmpstr(d->listen, ==, "198.18.0.1"); /* not overridden: still the file's */
  g_assert_true(d->demo);
  g_unlink(path);
  g_rmdir(dir);
}

static void test_bad_config(void)
{
  const char *bad_port[] = {"mashwara", "--port", "70000", NULL};
  g_autoptr(GError) e1 = NULL;
  g_assert_null(load(bad_port, &e1));
  g_assert_error(e1, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);

  const char *no_file[] = {"mashwara", "--config", "/nonexistent/m.conf", NULL};
  g_autoptr(GError) e2 = NULL;
  g_assert_null(load(no_file, &e2));
  g_assert_nonnull(e2);

  const char *unknown[] = {"mashwara", "--frobnicate", NULL};
  g_autoptr(GError) e3 = NULL;
  g_assert_null(load(unknown, &e3));
  g_assert_error(e3, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION);
}

static void test_notify_and_jobs(void)
{
  g_autofree char *dir = g_dir_make_tmp("mw-daemon-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "m.conf", NULL);
  const char *args[] = {"mashwara", "--config", path, NULL};

  /* Defaults. */
  g_assert_true(g_file_set_contents(path, "[server]\nport=9443\n", -1, NULL));
  g_autoptr(GError) error = NULL;
  g_autoptr(MwConfig) d = load(args, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(d->notify_sender, ==, "log");
  g_assert_cmpint(d->notify_max_attempts, ==, 8);
  g_assert_cmpint(d->jobs_noshow_grace_min, ==, 15);

  /* A webhook with its keys. */
  g_assert_true(g_file_set_contents(path,
                                    "[notify]\nsender=webhook\nwebhook_url=https://sms.test/send\n"
                                    "webhook_token=t0k\nmax_attempts=3\n[jobs]\n"
                                    "noshow_grace_minutes=20\n",
                                    -1, NULL));
  g_autoptr(MwConfig) w = load(args, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(w->notify_sender, ==, "webhook");
  g_assert_cmpstr(w->notify_webhook_url, ==, "https://sms.test/send");
  g_assert_cmpstr(w->notify_webhook_token, ==, "t0k");
  g_assert_cmpint(w->notify_max_attempts, ==, 3);
  g_assert_cmpint(w->jobs_noshow_grace_min, ==, 20);

  /* Refused: an unknown sender, a webhook without its URL, a grace out of range. */
  static const char *const bad[] = {
      "[notify]\nsender=carrier-pigeon\n",
      "[notify]\nsender=webhook\n",
      "[jobs]\nnoshow_grace_minutes=0\n",
      "[jobs]\nnoshow_grace_minutes=100000\n",
  };
  assert_refused(path, args, bad, G_N_ELEMENTS(bad));
  g_unlink(path);
  g_rmdir(dir);
}

static void test_ice_and_turn(void)
{
  g_autofree char *dir = g_dir_make_tmp("mw-daemon-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "m.conf", NULL);
  const char *args[] = {"mashwara", "--config", path, NULL};

  /* Defaults: ICE-TCP on, no TURN, credentials for 12 h. */
  g_assert_true(g_file_set_contents(path, "[server]\nport=9443\n", -1, NULL));
  g_autoptr(GError) error = NULL;
  g_autoptr(MwConfig) d = load(args, &error);
  g_assert_no_error(error);
  g_assert_true(d->ice_tcp);
  g_assert_null(d->turn_uris);
  g_assert_null(d->turn_secret);
  g_assert_cmpint(d->turn_credential_ttl_s, ==, 12 * 3600);

  g_assert_true(g_file_set_contents(path,
                                    "[ice]\ntcp=false\n[turn]\n"
                                    "uris=turn:198.18.0.1:3478?transport=tcp; stun:198.18.0.1\n"
                                    "secret=s3cret\ncredential_lifetime_seconds=3600\n",
                                    -1, NULL));
  g_autoptr(MwConfig) t = load(args, &error);
  g_assert_no_error(error);
  g_assert_false(t->ice_tcp);
  g_assert_cmpuint(g_strv_length(t->turn_uris), ==, 2);
  g_assert_cmpstr(t->turn_uris[0], ==, "turn:198.18.0.1:3478?transport=tcp");
  g_assert_cmpstr(t->turn_uris[1], ==, "stun:198.18.0.1"); /* stripped */
  g_assert_cmpstr(t->turn_secret, ==, "s3cret");
  g_assert_cmpint(t->turn_credential_ttl_s, ==, 3600);

  /* Refused: not a boolean, a turn: URI without a secret, not an ICE URI, a lifetime too short. */
  static const char *const bad[] = {
      "[ice]\ntcp=maybe\n",
      "[turn]\nuris=turn:198.18.0.1:3478\n",
      "[turn]\nuris=http://198.18.0.1\nsecret=s\n",
      "[turn]\nuris=turn:198.18.0.1\nsecret=s\ncredential_lifetime_seconds=5\n",
  };
  assert_refused(path, args, bad, G_N_ELEMENTS(bad));
  g_unlink(path);
  g_rmdir(dir);
}

static void test_self_signed(void)
{
  g_autofree char *dir = g_dir_make_tmp("mw-tls-XXXXXX", NULL);
  g_autofree char *cert = g_build_filename(dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename(dir, "key.pem", NULL);
  const char *hosts[] = {"198.18.0.1", "clinic.test", "198.18.0.1", NULL};
  g_autoptr(GError) error = NULL;
  g_assert_true(mw_tls_ensure_self_signed(cert, key, hosts, &error));
  g_assert_no_error(error);

  struct stat st;
  g_assert_cmpint(g_stat(key, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600); /* the key is readable by its owner only */

  FILE *f = fopen(cert, "r");
  g_assert_nonnull(f);
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  g_assert_nonnull(x);
  GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  g_assert_nonnull(names);
  GString *seen = g_string_new(NULL);
  for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
    GENERAL_NAME *n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS)
      g_string_append_printf(seen, "DNS:%s,", (const char *)ASN1_STRING_get0_data(n->d.dNSName));
    else if (n->type == GEN_IPADD && ASN1_STRING_length(n->d.iPAddress) == 4) {
      const unsigned char *b = ASN1_STRING_get0_data(n->d.iPAddress);
      g_string_append_printf(seen, "IP:%u.%u.%u.%u,", b[0], b[1], b[2], b[3]);
    }
  }
  GENERAL_NAMES_free(names);
  /* Every name once, the duplicate address folded. */
  g_assert_cmpstr(seen->str, ==, "DNS:localhost,IP:127.0.0.1,IP:198.18.0.1,DNS:clinic.test,");
  g_string_free(seen, TRUE);
  g_assert_cmpint(X509_cmp_current_time(X509_get0_notAfter(x)), >, 0);
  X509_free(x);

  /* A second call leaves existing files alone. */
  g_autofree char *before = NULL;
  g_assert_true(g_file_get_contents(cert, &before, NULL, NULL));
  g_assert_true(mw_tls_ensure_self_signed(cert, key, hosts, &error));
  g_autofree char *after = NULL;
  g_assert_true(g_file_get_contents(cert, &after, NULL, NULL));
  g_assert_cmpstr(before, ==, after);
  g_unlink(cert);
  g_unlink(key);
  g_rmdir(dir);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/daemon/config/defaults", test_defaults);
  g_test_add_func("/daemon/config/key-file-and-flags", test_key_file_and_flags);
  g_test_add_func("/daemon/config/bad", test_bad_config);
  g_test_add_func("/daemon/config/notify-and-jobs", test_notify_and_jobs);
  g_test_add_func("/daemon/config/ice-and-turn", test_ice_and_turn);
  g_test_add_func("/daemon/tls/self-signed", test_self_signed);
  return g_test_run();
}
