/* sched-private.h — helpers shared by the scheduler's own files. Private to scheduler/. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Calls sodium_init() once per process; aborts if libsodium cannot start (no CSPRNG). MT safe. */
void sched__crypto_init(void);

/* The lowercase hex SHA-256 of a secret (join token or session secret): the only form in which
 * secrets are stored. (transfer full) */
char *sched__secret_hash(const char *secret);

G_END_DECLS
