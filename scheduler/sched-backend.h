/* sched-backend.h — the scheduler's storage contract. Private to scheduler/: callers use
 * scheduler.h only.
 *
 * sched.c validates arguments, hashes passwords and secrets, and applies the clinic's rules
 * (what a status may become, when a consultation is stamped); a backend only stores and fetches
 * rows, so those rules exist once. A backend is one `const SchedBackend` table of function
 * pointers (Janus style): SQLite is sched_backend_sqlite in sched-sqlite.c; a PostgreSQL backend
 * is a new table in a new file with its own migrations, and nothing above this header changes.
 *
 * Contract for every entry:
 * - Arguments arrive validated by sched.c (ids > 0, strings non-NULL, valid UTF-8 and within
 *   their limits, status/role/outcome values from the allowed sets). Secrets (join tokens,
 *   session secrets) arrive only as their lowercase hex SHA-256.
 * - On failure an entry returns FALSE/0/NULL and sets `error` in SCHED_ERROR: NOT_FOUND for a
 *   missing row, CONFLICT for a uniqueness rule, DB for anything else. An entry writes one
 *   statement; sched.c wraps several in begin/commit, and rolls back on any failure.
 * - Returned records are (transfer full), freed with the scheduler.h `_free` functions.
 * - Threads: as scheduler.h — one thread, no locking. */
#pragma once

#include "scheduler.h"

G_BEGIN_DECLS

/* A backend's connection; each backend defines the struct. */
typedef struct SchedBackendDb SchedBackendDb;

typedef struct {
  const char *name;

  /* Opens or creates the store and applies pending migrations. `path` is backend-specific. */
  SchedBackendDb *(*open)(const char *path, GError **error);
  void (*close)(SchedBackendDb *db);
  /* The number of the last migration applied. */
  int (*schema_version)(SchedBackendDb *db);

  /* Transactions do not nest. `rollback` never fails loudly: it logs, because it runs on paths
   * that already carry an error. */
  gboolean (*begin)(SchedBackendDb *db, GError **error);
  gboolean (*commit)(SchedBackendDb *db, GError **error);
  void (*rollback)(SchedBackendDb *db);

  /* Staff. `find_login` looks a username up (case-insensitively for ASCII) and returns its id
   * and password hash; NOT_FOUND if absent. */
  gint64 (*staff_insert)(SchedBackendDb *db, const char *username, const char *display_name,
                         const char *role, const char *password_hash, gint64 now, GError **error);
  gboolean (*staff_find_login)(SchedBackendDb *db, const char *username, gint64 *staff_id,
                               char **password_hash, GError **error);
  SchedStaff *(*staff_get)(SchedBackendDb *db, gint64 staff_id, GError **error);

  /* Staff sessions, keyed by the secret's hash. `session_find`: NOT_FOUND if absent, whether
   * or not expired (expiry is sched.c's rule). */
  gboolean (*session_insert)(SchedBackendDb *db, const char *secret_hash, gint64 staff_id,
                             gint64 created_at, gint64 expires_at, GError **error);
  gboolean (*session_find)(SchedBackendDb *db, const char *secret_hash, gint64 *staff_id,
                           gint64 *expires_at, GError **error);
  gboolean (*session_delete)(SchedBackendDb *db, const char *secret_hash, GError **error);
  gboolean (*session_delete_expired)(SchedBackendDb *db, gint64 now, GError **error);

  /* Patients. `phone` may be NULL. `patient_exists`: FALSE with NOT_FOUND if absent. */
  gint64 (*patient_insert)(SchedBackendDb *db, const char *display_name, const char *phone,
                           gint64 now, GError **error);
  gboolean (*patient_exists)(SchedBackendDb *db, gint64 patient_id, GError **error);

  /* Appointments. `appointment_list_for_doctor`: overlapping [from, to), by start then id. */
  gint64 (*appointment_insert)(SchedBackendDb *db, gint64 doctor_id, gint64 patient_id,
                               gint64 starts_at, gint64 ends_at, const char *status, gint64 now,
                               GError **error);
  SchedAppointment *(*appointment_get)(SchedBackendDb *db, gint64 appointment_id, GError **error);
  GPtrArray *(*appointment_list_for_doctor)(SchedBackendDb *db, gint64 doctor_id, gint64 from,
                                            gint64 to, GError **error);
  gboolean (*appointment_update_status)(SchedBackendDb *db, gint64 appointment_id,
                                        const char *status, gint64 now, GError **error);

  /* Join tokens, keyed by the token's hash. `token_find`: NOT_FOUND if absent. */
  gboolean (*token_insert)(SchedBackendDb *db, const char *token_hash, gint64 appointment_id,
                           const char *role, gint64 now, GError **error);
  gboolean (*token_find)(SchedBackendDb *db, const char *token_hash, gint64 *appointment_id,
                         char **role, GError **error);

  /* Consultation records. `consultation_get`: NOT_FOUND if absent. `consultation_put` inserts
   * or replaces the whole record (0 times and a NULL outcome are stored as NULL). */
  SchedConsultation *(*consultation_get)(SchedBackendDb *db, gint64 appointment_id, GError **error);
  gboolean (*consultation_put)(SchedBackendDb *db, const SchedConsultation *consultation,
                               GError **error);
} SchedBackend;

extern const SchedBackend sched_backend_sqlite;

G_END_DECLS
