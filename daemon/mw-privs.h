/* mw-privs.h — giving up root once the server holds what only root could take.
 *
 * Started as root (to bind port 443, say), the daemon opens its database, its TLS key and its
 * listening socket first, then becomes an ordinary account: [server] user (default
 * MW_PRIVS_DEFAULT_USER). The folders and files it must still write (the data folder, the
 * database and its -wal/-shm files) are handed to that account before the switch. Started as any
 * other user, nothing changes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MW_PRIVS_DEFAULT_USER "mashwara"

/* If the process runs as root: chowns every existing path of `writable` (a folder: with
 * everything in it) to `user`, then drops supplementary groups, the group and the user (real,
 * effective and saved), and checks that root cannot be regained. `user` "root" keeps root (not
 * recommended; logged as a warning). Returns FALSE with `error` set if the account does not exist
 * or a step fails: the caller must not go on serving as root. `dropped_to` (may be NULL) gets
 * the uid the process now runs as. */
gboolean mw_privs_drop(const char *user, const char *const *writable, guint *dropped_to,
                       GError **error);

G_END_DECLS
