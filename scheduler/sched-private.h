/* sched-private.h — helpers shared by the scheduler's own files. Private to scheduler/. */
#pragma once

#include <glib.h>

#include "sched-backend.h"

G_BEGIN_DECLS

/* The store (scheduler.h's opaque SchedStore). Main loop's thread only. */
struct SchedStore {
  const SchedBackend *backend;
  SchedBackendDb *db;
  SchedTokenWindow window;
  SchedPolicy policy;
  char *public_url;
  GHashTable *zones;        /* IANA name → GTimeZone (owned): a facility's zone never changes */
  gboolean batch_open;      /* between sched_store_batch_begin and _commit */
  gboolean unit_open;       /* between sched_audit_unit_begin and _commit/_rollback */
  gboolean unit_owns_batch; /* the unit opened the batch it runs in (none was open) */
};

/* Calls sodium_init() once per process; aborts if libsodium cannot start (no CSPRNG). MT safe. */
void sched__crypto_init(void);

/* The lowercase hex SHA-256 of a secret (join token or session secret): the only form in which
 * secrets are stored. (transfer full) */
char *sched__secret_hash(const char *secret);

/* Argument checks shared by sched.c and sched-engine.c (see sched.c). */
gboolean sched__in_set(const char *value, const char *const *set, gsize n);
gint64 sched__now_s(void);
gboolean sched__valid_time(gint64 t);
gboolean sched__valid_text(const char *s, gsize max_bytes, gboolean no_space);
gboolean sched__valid_phone(const char *phone);
gboolean sched__status_is_revoked(const char *status);

/* Sets `error` to `code` with the message "field: reason". */
void sched__field_error(GError **error, SchedError code, const char *field, const char *format, ...)
    G_GNUC_PRINTF(4, 5);

/* Inside a transaction: queues "you_are_next" for the patient after `appointment_id` in its
 * doctor's day queue (sched-engine.c). */
gboolean sched__queue_notify_next(SchedStore *store, gint64 appointment_id, gint64 now,
                                  GError **error);

/* Frees the engine's part of a store (sched-engine.c). */
void sched__engine_free(SchedStore *store);

G_END_DECLS
