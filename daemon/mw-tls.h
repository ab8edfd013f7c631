/* mw-tls.h — the daemon's certificate: a configured one, or a self-signed one made on first
 * start for local use. */
#pragma once

#include <glib.h>

/* Makes `cert_path`/`key_path` (PEM, the key 0600) if either is missing: an ECDSA P-256 key and
 * a one-year self-signed certificate for localhost, 127.0.0.1 and each of `hosts` (names or
 * IP addresses). Existing files are left alone. */
gboolean mw_tls_ensure_self_signed(const char *cert_path, const char *key_path,
                                   const char *const *hosts, GError **error);
