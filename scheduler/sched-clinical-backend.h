/* sched-clinical-backend.h — the storage contract of a consultation's clinical content
 * (scheduler.h, "Clinical content of a consultation"). Private to scheduler/.
 *
 * Like the statistics (sched-stats-backend.h), this is a table of its own next to the main
 * SchedBackend, so a PostgreSQL backend adds one more table instead of growing the main one.
 * Arguments are checked by sched-clinical.c before they get here; a backend only stores and
 * fetches. Every function runs inside the caller's transaction if one is open (an audited unit),
 * else as one statement. Main loop's thread only. */
#pragma once

#include "sched-backend.h"

G_BEGIN_DECLS

typedef struct {
  const char *name;
  gint64 (*chat_insert)(SchedBackendDb *db, gint64 appointment_id, gint64 sent_at_ms,
                        const char *sender_role, const char *sender_name, const char *text,
                        GError **error);
  GPtrArray *(*chat_list)(SchedBackendDb *db, gint64 appointment_id, guint limit, GError **error);
  gint64 (*attachment_insert)(SchedBackendDb *db, gint64 appointment_id, gint64 uploaded_at,
                              const char *uploader_role, const char *media_type, const guint8 *data,
                              gsize len, GError **error);
  /* With its bytes; NOT_FOUND "attachment_id" unless it is one of that appointment's. */
  SchedAttachment *(*attachment_get)(SchedBackendDb *db, gint64 appointment_id,
                                     gint64 attachment_id, GError **error);
  GPtrArray *(*attachment_list)(SchedBackendDb *db, gint64 appointment_id, GError **error);
  SchedNotes *(*notes_get)(SchedBackendDb *db, gint64 appointment_id, GError **error);
  gboolean (*notes_put)(SchedBackendDb *db, gint64 appointment_id, gint64 doctor_id,
                        const char *text, gint64 updated_at, GError **error);
  gint64 (*advice_insert)(SchedBackendDb *db, gint64 appointment_id, gint64 given_at,
                          const char *text, GError **error);
  GPtrArray *(*advice_list)(SchedBackendDb *db, gint64 appointment_id, GError **error);
} SchedClinicalBackend;

extern const SchedClinicalBackend sched_clinical_backend_sqlite;

/* Migration 7's SQL: the four tables (sched-clinical-sqlite.c). */
extern const char sched__clinical_migration_sql[];

/* Inside the retention run's transaction: deletes the clinical content of appointments that
 * ended before `cutoff`; adds the rows deleted to `*count`. */
gboolean sched__clinical_sqlite_retention(SchedBackendDb *db, gint64 cutoff, gint64 *count,
                                          GError **error);

G_END_DECLS
