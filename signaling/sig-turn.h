/* sig-turn.h — the ICE servers a browser is told about in `welcome`, with short-lived TURN
 * credentials in the form coturn checks with `use-auth-secret` (the "TURN REST API",
 * draft-uberti-behave-turn-rest-00): username "<expiry unix time>:<opaque id>", credential
 * base64(HMAC-SHA1(shared secret, username)). Pure: no sockets, no clock of its own, so it can
 * be unit-tested. Part of the signaling module (internal header). Thread: any (no shared state).
 * The credential is a secret for its lifetime: never log it. */
#pragma once

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

/* base64(HMAC-SHA1(secret, username)): the password coturn expects for `username`.
 * (transfer full) */
char *sig_turn_password(const char *secret, const char *username);

/* The TURN REST API username and credential for `id` (an opaque participant id, never a name),
 * valid until `expires` (unix seconds). Both (transfer full). */
void sig_turn_credential(const char *secret, const char *id, gint64 expires, char **username,
                         char **credential);

/* The `ice_servers` array of `welcome` (docs/protocol.md): one entry {urls, username,
 * credential} holding every turn:/turns: URI of `uris`, and one {urls} holding the stun:/stuns:
 * ones; empty if `uris` is NULL or empty. A NULL `secret` leaves username and credential out.
 * (transfer full) */
json_t *sig_turn_ice_servers(const char *const *uris, const char *secret, const char *id,
                             gint64 expires);

G_END_DECLS
