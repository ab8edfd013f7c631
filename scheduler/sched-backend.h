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
#include "sched-slots.h"

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

  /* Patients (inserted by `patient_insert_full`). `patient_exists`: FALSE with NOT_FOUND if
   * absent. */
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

  /* --- Since schema 2: the booking engine. Lists are (transfer full) GPtrArrays that free
   * their elements. --- */

  /* `PRAGMA integrity_check`: TRUE if "ok", else FALSE with DB. */
  gboolean (*integrity_check)(SchedBackendDb *db, GError **error);

  gint64 (*facility_insert)(SchedBackendDb *db, const char *name, const char *district,
                            const char *sector, const char *timezone, gint64 now, GError **error);
  SchedFacility *(*facility_get)(SchedBackendDb *db, gint64 facility_id, GError **error);
  GPtrArray *(*facility_list)(SchedBackendDb *db, const char *name_contains, GError **error);

  GPtrArray *(*staff_list)(SchedBackendDb *db, const char *role, GError **error);
  /* `languages_csv`: ",ur,en," (or "," for none). */
  gboolean (*doctor_profile_put)(SchedBackendDb *db, gint64 staff_id, gint64 facility_id,
                                 const char *specialty, const char *languages_csv,
                                 const char *gender, GError **error);
  /* NOT_FOUND unless a staff member with role doctor. */
  SchedDoctor *(*doctor_get)(SchedBackendDb *db, gint64 doctor_id, GError **error);
  GPtrArray *(*doctor_list)(SchedBackendDb *db, const SchedDoctorFilter *filter, GError **error);

  gint64 (*service_insert)(SchedBackendDb *db, const SchedService *spec, gint64 now,
                           GError **error);
  SchedService *(*service_get)(SchedBackendDb *db, gint64 service_id, GError **error);
  GPtrArray *(*service_list)(SchedBackendDb *db, gint64 facility_id, GError **error);

  gint64 (*availability_insert)(SchedBackendDb *db, const SchedAvailability *spec, GError **error);
  /* By doctor, weekday, start; 0 ids do not filter. */
  GPtrArray *(*availability_list)(SchedBackendDb *db, gint64 doctor_id, gint64 service_id,
                                  GError **error);
  /* Windows of doctors and services matching a slot query's filters (doctor, service, facility,
   * specialty, language, gender), by doctor, service, weekday, start. */
  GPtrArray *(*availability_search)(SchedBackendDb *db, const SchedSlotQuery *query,
                                    GError **error);
  gboolean (*availability_delete)(SchedBackendDb *db, gint64 availability_id, GError **error);

  gint64 (*break_insert)(SchedBackendDb *db, const SchedBreak *spec, GError **error);
  GPtrArray *(*break_list)(SchedBackendDb *db, gint64 doctor_id, GError **error);
  gboolean (*break_delete)(SchedBackendDb *db, gint64 break_id, GError **error);

  gint64 (*exception_insert)(SchedBackendDb *db, const SchedException *spec, GError **error);
  /* Overlapping [from, to) and (doctor_id = `doctor_id` OR facility_id = `facility_id`); both 0:
   * every exception. */
  GPtrArray *(*exception_list)(SchedBackendDb *db, gint64 doctor_id, gint64 facility_id,
                               gint64 from, gint64 to, GError **error);
  gboolean (*exception_delete)(SchedBackendDb *db, gint64 exception_id, GError **error);

  gint64 (*patient_insert_full)(SchedBackendDb *db, const SchedPatientSpec *spec, gint64 now,
                                GError **error);
  SchedPatient *(*patient_get)(SchedBackendDb *db, gint64 patient_id, GError **error);
  /* `query` matches names; `digits` (may be NULL) matches the phone's digits. */
  GPtrArray *(*patient_search)(SchedBackendDb *db, const char *query, const char *digits,
                               guint limit, GError **error);
  gboolean (*patient_set_language)(SchedBackendDb *db, gint64 patient_id, const char *language,
                                   GError **error);

  /* Inserts every column of `a` but id, names, created/updated (set to `now`); CONFLICT on the
   * one-per-slot index. */
  gint64 (*appointment_insert_full)(SchedBackendDb *db, const SchedAppointment *a,
                                    gint64 buffer_before_s, gint64 buffer_after_s, gint64 now,
                                    GError **error);
  /* Writes status, starts_at, ends_at, sequence, hold_expires_at (0: NULL), cancel_reason. */
  gboolean (*appointment_put)(SchedBackendDb *db, const SchedAppointment *a, gint64 now,
                              GError **error);
  GPtrArray *(*appointment_search)(SchedBackendDb *db, const SchedAppointmentFilter *filter,
                                   GError **error);
  /* Appends to `busy` (SchedSlotBusy) the doctor's slot-holding appointments (kind booked;
   * pending with hold_expires_at > now, booked, arrived, checked-in, fulfilled, noshow) starting
   * in [from, to), by start, leaving out `exclude_id`. */
  gboolean (*appointment_busy)(SchedBackendDb *db, gint64 doctor_id, gint64 from, gint64 to,
                               gint64 now, gint64 exclude_id, GArray *busy, GError **error);
  /* How many appointments of `kind` the doctor has starting in [from, to); -1 on failure. */
  gint64 (*appointment_count_kind)(SchedBackendDb *db, gint64 doctor_id, const char *kind,
                                   gint64 from, gint64 to, GError **error);
  /* Ids of pending holds lapsed at `now` (doctor_id 0: every doctor), as gint64 in `ids`. */
  gboolean (*appointment_lapsed_holds)(SchedBackendDb *db, gint64 doctor_id, gint64 now,
                                       GArray *ids, GError **error);
  /* Ids of appointments with `status` and kind booked starting in [from, to), by start. */
  gboolean (*appointment_ids_by_status)(SchedBackendDb *db, const char *status, gint64 from,
                                        gint64 to, GArray *ids, GError **error);
  /* The next appointment (booked, arrived or checked-in; ends_at > now) of any patient whose
   * phone's digits are `digits`; NOT_FOUND if none. */
  SchedAppointment *(*appointment_next_for_phone)(SchedBackendDb *db, const char *digits,
                                                  gint64 now, GError **error);

  gint64 (*waitlist_insert)(SchedBackendDb *db, const SchedWaitlistEntry *entry, gint64 now,
                            GError **error);
  SchedWaitlistEntry *(*waitlist_get)(SchedBackendDb *db, gint64 waitlist_id, GError **error);
  GPtrArray *(*waitlist_list)(SchedBackendDb *db, gint64 service_id, const char *status,
                              GError **error);
  /* Sets status and offered appointment (0: NULL). */
  gboolean (*waitlist_update)(SchedBackendDb *db, gint64 waitlist_id, const char *status,
                              gint64 offered_appointment_id, gint64 now, GError **error);
  /* The first waiting entry (by id) for this service that accepts this doctor and start, of a
   * patient other than `exclude_patient_id`; NOT_FOUND if none. */
  SchedWaitlistEntry *(*waitlist_first_match)(SchedBackendDb *db, gint64 service_id,
                                              gint64 doctor_id, gint64 starts_at,
                                              gint64 exclude_patient_id, GError **error);
  /* The entry offered `appointment_id`; NOT_FOUND if none. */
  SchedWaitlistEntry *(*waitlist_find_offer)(SchedBackendDb *db, gint64 appointment_id,
                                             GError **error);

  /* Inserts unless the dedupe key exists; `*inserted` says which. Uses kind, appointment_id,
   * recipient, language, body, dedupe_key, due_at, failed_at, last_error. */
  gboolean (*outbox_insert)(SchedBackendDb *db, const SchedOutboxItem *item, gint64 now,
                            gboolean *inserted, GError **error);
  GPtrArray *(*outbox_claim)(SchedBackendDb *db, gint64 now, guint max, gint64 lease_s,
                             GError **error);
  gboolean (*outbox_done)(SchedBackendDb *db, gint64 outbox_id, gint64 now, GError **error);
  gboolean (*outbox_failed)(SchedBackendDb *db, gint64 outbox_id, gint64 now,
                            const char *error_text, gint64 retry_at, GError **error);
  GPtrArray *(*outbox_list)(SchedBackendDb *db, gint64 appointment_id, guint limit, GError **error);

  /* --- Group commit (scheduler.h sched_store_batch_begin). While a batch is open, `begin`,
   * `commit` and `rollback` act on a savepoint inside the batch's one transaction (opened by the
   * batch's first `begin`), so a rollback undoes only that request's writes. `batch_commit` ends
   * the batch: commits its transaction (if any was opened) or, on any failure, rolls all of it
   * back and returns FALSE (DB). `batch_pending`: a batch transaction is open (uncommitted). --- */
  void (*batch_begin)(SchedBackendDb *db);
  gboolean (*batch_commit)(SchedBackendDb *db, GError **error);
  gboolean (*batch_pending)(SchedBackendDb *db);

  /* --- Since schema 4: call quality. `quality_put` inserts or replaces the record of
   * (appointment_id, role); NOT_FOUND "appointment_id" if there is no such appointment.
   * `quality_list`: by role. --- */
  gboolean (*patient_set_audio_only)(SchedBackendDb *db, gint64 patient_id, gboolean audio_only,
                                     GError **error);
  gboolean (*quality_put)(SchedBackendDb *db, const SchedCallQuality *quality, GError **error);
  GPtrArray *(*quality_list)(SchedBackendDb *db, gint64 appointment_id, GError **error);
  /* --- Since schema 5: the audit log and retention (scheduler.h). The chain's rules (hashes,
   * ids) live in sched-audit.c; a backend stores and fetches rows. --- */
  /* The last row's id and hash (0 and NULL when empty). Call inside the write transaction that
   * appends, so the head cannot move before the insert. */
  gboolean (*audit_head)(SchedBackendDb *db, gint64 *id, char **hash, GError **error);
  /* Inserts a whole row, its id, prev_hash and hash included (0 ids are stored as NULL). */
  gboolean (*audit_insert)(SchedBackendDb *db, const SchedAuditRecord *record, GError **error);
  /* Appends to `out` (SchedAuditRecord) the rows with id > after_id, by id, at most `limit`. */
  gboolean (*audit_scan)(SchedBackendDb *db, gint64 after_id, guint limit, GPtrArray *out,
                         GError **error);
  /* Rows matching `filter`, newest first (limit already resolved). */
  GPtrArray *(*audit_list)(SchedBackendDb *db, const SchedAuditFilter *filter, GError **error);
  /* `*guarded`: both append-only triggers exist. */
  gboolean (*audit_guarded)(SchedBackendDb *db, gboolean *guarded, GError **error);
  /* Applies the retention rules inside the caller's transaction; fills `counts`. */
  gboolean (*retention_apply)(SchedBackendDb *db, gint64 cutoff, gint64 now,
                              SchedRetentionCounts *counts, GError **error);
  /* --- Since schema 6: the patient's page (scheduler.h, "The patient's page"). `consent_insert`
   * keeps the first acceptance of a version; NOT_FOUND "appointment_id". `consent_latest`,
   * `rating_get`: NOT_FOUND if none. `rating_insert`: CONFLICT if the appointment is rated.
   * `doctor_durations`: appends to `out` (gint64 seconds) the lengths of the doctor's
   * consultations that ended at or after `since`, newest first, at most `limit`. --- */
  gboolean (*consent_insert)(SchedBackendDb *db, const SchedConsent *consent, GError **error);
  SchedConsent *(*consent_latest)(SchedBackendDb *db, gint64 appointment_id, const char *role,
                                  GError **error);
  gboolean (*rating_insert)(SchedBackendDb *db, const SchedRating *rating, GError **error);
  SchedRating *(*rating_get)(SchedBackendDb *db, gint64 appointment_id, GError **error);
  gboolean (*doctor_durations)(SchedBackendDb *db, gint64 doctor_id, gint64 since, guint limit,
                               GArray *out, GError **error);
} SchedBackend;

extern const SchedBackend sched_backend_sqlite;

G_END_DECLS
