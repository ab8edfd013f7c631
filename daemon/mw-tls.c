/* mw-tls.c — self-signed certificate for local use (OpenSSL 3). A real deployment configures
 * its own certificate in [tls]; this only spares a developer or a demo the set-up. */
#define G_LOG_DOMAIN "mashwara"

#include "mw-tls.h"

#include <gio/gio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static gboolean fail(GError **error, const char *what)
{
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "self-signed certificate: %s failed", what);
  return FALSE;
}

static char *san_list(const char *const *hosts)
{
  GString *s = g_string_new("DNS:localhost,IP:127.0.0.1");
  for (; hosts && *hosts; hosts++) {
    if (!**hosts || g_strcmp0(*hosts, "localhost") == 0 || g_strcmp0(*hosts, "127.0.0.1") == 0 ||
        g_strcmp0(*hosts, "0.0.0.0") == 0)
      continue;
    g_autoptr(GInetAddress) ip = g_inet_address_new_from_string(*hosts);
    g_autofree char *entry = g_strdup_printf("%s:%s", ip ? "IP" : "DNS", *hosts);
    if (strstr(s->str, entry)) /* listen address and link host are often the same */
      continue;
    g_string_append_printf(s, ",%s", entry);
  }
  return g_string_free(s, FALSE);
}

gboolean mw_tls_ensure_self_signed(const char *cert_path, const char *key_path,
                                   const char *const *hosts, GError **error)
{
  if (g_file_test(cert_path, G_FILE_TEST_EXISTS) && g_file_test(key_path, G_FILE_TEST_EXISTS))
    return TRUE;
  gboolean ok = FALSE;
  EVP_PKEY *pkey = NULL;
  X509 *x = NULL;
  X509_EXTENSION *ext = NULL;
  FILE *f = NULL;
  g_autofree char *sans = san_list(hosts);

  pkey = EVP_EC_gen("P-256");
  if (!pkey) {
    fail(error, "key generation");
    goto out;
  }
  x = X509_new();
  unsigned char serial[16];
  if (!x || RAND_bytes(serial, sizeof(serial)) != 1) {
    fail(error, "serial");
    goto out;
  }
  serial[0] &= 0x7f;
  BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_set_version(x, 2);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Mashwara", -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)"Mashwara local certificate", -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, sans);
  if (!ext || !X509_add_ext(x, ext, -1)) {
    fail(error, "subjectAltName");
    goto out;
  }
  if (!X509_sign(x, pkey, EVP_sha256())) {
    fail(error, "signing");
    goto out;
  }
  mode_t old = umask(077);
  f = fopen(key_path, "w");
  umask(old);
  if (!f || !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)) {
    fail(error, "writing the key");
    goto out;
  }
  fclose(f);
  f = fopen(cert_path, "w");
  if (!f || !PEM_write_X509(f, x)) {
    fail(error, "writing the certificate");
    goto out;
  }
  g_message("made a self-signed certificate %s (%s)", cert_path, sans);
  ok = TRUE;
out:
  if (f)
    fclose(f);
  X509_EXTENSION_free(ext);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return ok;
}
