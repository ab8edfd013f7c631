/* sched-sqlite.c — the SQLite backend of the scheduler (see sched-backend.h for the contract).
 *
 * One connection per SchedStore, used from the main loop's thread only. Every statement is
 * prepared with bound parameters; the only SQL run through sqlite3_exec is constant text (the
 * pragmas and the migrations). Statements are prepared per call and finalized at each
 * function's `out:` label: a few microseconds each, far below an Argon2id hash or a network
 * round trip; a statement cache is the obvious next step if a profile ever says so.
 *
 * Schema changes are versioned migrations: append to `migrations[]`, never edit an entry that
 * has shipped. Each is applied in its own transaction together with its row in
 * schema_migrations, so a crash leaves the database at a whole version. */
#include "sched-backend.h"

#include <sqlite3.h>

struct SchedBackendDb {
  sqlite3 *db;
  int schema_version;
};

/* How long a writer waits for another connection's lock (an analyst's export, a backup) before
 * SQLITE_BUSY. The daemon is the only writer, so this is rarely reached; it blocks the loop. */
#define BUSY_TIMEOUT_MS 5000

typedef struct {
  int version;
  const char *sql;
} Migration;

/* STRICT tables (SQLite >= 3.37) reject a text in an INTEGER column instead of storing it. */
static const Migration migrations[] = {
    {1, "CREATE TABLE staff ("
        "  id INTEGER PRIMARY KEY,"
        "  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        "  display_name TEXT NOT NULL,"
        "  role TEXT NOT NULL CHECK (role IN ('doctor', 'admin', 'analyst')),"
        "  password_hash TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL"
        ") STRICT;"
        "CREATE TABLE patients ("
        "  id INTEGER PRIMARY KEY,"
        "  display_name TEXT NOT NULL,"
        "  phone TEXT,"
        "  created_at INTEGER NOT NULL"
        ") STRICT;"
        "CREATE TABLE appointments ("
        "  id INTEGER PRIMARY KEY,"
        "  doctor_id INTEGER NOT NULL REFERENCES staff(id),"
        "  patient_id INTEGER NOT NULL REFERENCES patients(id),"
        "  starts_at INTEGER NOT NULL,"
        "  ends_at INTEGER NOT NULL,"
        "  status TEXT NOT NULL CHECK (status IN ('proposed', 'pending', 'booked', 'arrived',"
        "    'fulfilled', 'cancelled', 'noshow', 'checked-in', 'waitlist', 'entered-in-error')),"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  CHECK (ends_at > starts_at)"
        ") STRICT;"
        "CREATE INDEX appointments_by_doctor ON appointments(doctor_id, starts_at);"
        "CREATE INDEX appointments_by_patient ON appointments(patient_id);"
        "CREATE TABLE join_tokens ("
        "  token_hash TEXT PRIMARY KEY CHECK (length(token_hash) = 64),"
        "  appointment_id INTEGER NOT NULL REFERENCES appointments(id),"
        "  role TEXT NOT NULL CHECK (role IN ('patient', 'interpreter', 'specialist', 'family')),"
        "  created_at INTEGER NOT NULL"
        ") STRICT, WITHOUT ROWID;"
        "CREATE INDEX join_tokens_by_appointment ON join_tokens(appointment_id);"
        "CREATE TABLE staff_sessions ("
        "  secret_hash TEXT PRIMARY KEY CHECK (length(secret_hash) = 64),"
        "  staff_id INTEGER NOT NULL REFERENCES staff(id),"
        "  created_at INTEGER NOT NULL,"
        "  expires_at INTEGER NOT NULL"
        ") STRICT, WITHOUT ROWID;"
        "CREATE INDEX staff_sessions_by_staff ON staff_sessions(staff_id);"
        "CREATE INDEX staff_sessions_by_expiry ON staff_sessions(expires_at);"
        "CREATE TABLE consultations ("
        "  appointment_id INTEGER PRIMARY KEY REFERENCES appointments(id),"
        "  waiting_since INTEGER,"
        "  started_at INTEGER,"
        "  ended_at INTEGER,"
        "  outcome TEXT CHECK (outcome IS NULL OR outcome IN ('completed', 'follow-up',"
        "    'referred', 'no-show', 'interrupted'))"
        ") STRICT;"},
};

/* Sets `error` from the connection's last error. The messages name tables and columns, never
 * values, so they are safe to log. */
static void set_error(SchedBackendDb *b, GError **error, const char *what)
{
  int rc = sqlite3_extended_errcode(b->db);

  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_CONFLICT, "%s: %s", what, sqlite3_errmsg(b->db));
  else
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "%s: %s (%d)", what, sqlite3_errmsg(b->db), rc);
}

static sqlite3_stmt *prepare(SchedBackendDb *b, const char *sql, GError **error)
{
  sqlite3_stmt *st = NULL;

  if (sqlite3_prepare_v2(b->db, sql, -1, &st, NULL) != SQLITE_OK) {
    set_error(b, error, "prepare");
    sqlite3_finalize(st);
    return NULL;
  }
  return st;
}

static gboolean exec(SchedBackendDb *b, const char *sql, GError **error)
{
  if (sqlite3_exec(b->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    set_error(b, error, "exec");
    return FALSE;
  }
  return TRUE;
}

static gboolean bind_text(SchedBackendDb *b, sqlite3_stmt *st, int i, const char *s, GError **error)
{
  int rc = s != NULL ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);

  if (rc != SQLITE_OK) {
    set_error(b, error, "bind");
    return FALSE;
  }
  return TRUE;
}

static gboolean bind_int64(SchedBackendDb *b, sqlite3_stmt *st, int i, gint64 v, GError **error)
{
  if (sqlite3_bind_int64(st, i, v) != SQLITE_OK) {
    set_error(b, error, "bind");
    return FALSE;
  }
  return TRUE;
}

/* Binds 0 as NULL: "not yet" in the consultation record. */
static gboolean bind_time_or_null(SchedBackendDb *b, sqlite3_stmt *st, int i, gint64 v,
                                  GError **error)
{
  if (v == 0) {
    if (sqlite3_bind_null(st, i) != SQLITE_OK) {
      set_error(b, error, "bind");
      return FALSE;
    }
    return TRUE;
  }
  return bind_int64(b, st, i, v, error);
}

/* Steps a statement that returns no row. */
static gboolean step_done(SchedBackendDb *b, sqlite3_stmt *st, const char *what, GError **error)
{
  if (sqlite3_step(st) != SQLITE_DONE) {
    set_error(b, error, what);
    return FALSE;
  }
  return TRUE;
}

/* Steps a statement expected to return at most one row: TRUE if it did; FALSE with NOT_FOUND
 * if there was none, or with DB on failure. */
static gboolean step_row(SchedBackendDb *b, sqlite3_stmt *st, const char *what, GError **error)
{
  int rc = sqlite3_step(st);

  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc == SQLITE_DONE)
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "%s: not found", what);
  else
    set_error(b, error, what);
  return FALSE;
}

static char *column_strdup(sqlite3_stmt *st, int i)
{
  return g_strdup((const char *)sqlite3_column_text(st, i));
}

static gint64 now_s(void)
{
  return g_get_real_time() / G_USEC_PER_SEC;
}

/* Reads one pragma's single text result into `*value` (transfer full). */
static gboolean pragma_text(SchedBackendDb *b, const char *sql, char **value, GError **error)
{
  sqlite3_stmt *st = prepare(b, sql, error);
  gboolean ok = FALSE;

  if (st == NULL)
    goto out;
  if (!step_row(b, st, "pragma", error))
    goto out;
  *value = column_strdup(st, 0);
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

static gboolean read_schema_version(SchedBackendDb *b, int *version, GError **error)
{
  sqlite3_stmt *st = prepare(b, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", error);
  gboolean ok = FALSE;

  if (st == NULL)
    goto out;
  if (!step_row(b, st, "schema version", error))
    goto out;
  *version = sqlite3_column_int(st, 0);
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

static gboolean sqlite_begin(SchedBackendDb *b, GError **error);
static gboolean sqlite_commit(SchedBackendDb *b, GError **error);
static void sqlite_rollback(SchedBackendDb *b);

static gboolean apply_migration(SchedBackendDb *b, const Migration *m, GError **error)
{
  sqlite3_stmt *st = NULL;
  gboolean ok = FALSE, in_tx = FALSE;
  int current = 0;

  if (!sqlite_begin(b, error))
    goto out;
  in_tx = TRUE;
  /* Re-read under the write lock: another process may have migrated since we looked. */
  if (!read_schema_version(b, &current, error))
    goto out;
  if (current >= m->version) {
    ok = sqlite_commit(b, error);
    in_tx = !ok;
    goto out;
  }
  if (!exec(b, m->sql, error)) {
    g_prefix_error(error, "migration %d: ", m->version);
    goto out;
  }
  st = prepare(b, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", error);
  if (st == NULL || !bind_int64(b, st, 1, m->version, error) ||
      !bind_int64(b, st, 2, now_s(), error) || !step_done(b, st, "record migration", error))
    goto out;
  if (!sqlite_commit(b, error))
    goto out;
  in_tx = FALSE;
  g_info("applied schema migration %d", m->version);
  ok = TRUE;
out:
  sqlite3_finalize(st);
  if (in_tx)
    sqlite_rollback(b);
  return ok;
}

static gboolean migrate(SchedBackendDb *b, GError **error)
{
  const int latest = migrations[G_N_ELEMENTS(migrations) - 1].version;
  int current = 0;

  if (!exec(b,
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "  version INTEGER PRIMARY KEY,"
            "  applied_at INTEGER NOT NULL"
            ") STRICT",
            error))
    return FALSE;
  if (!read_schema_version(b, &current, error))
    return FALSE;
  if (current > latest) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB,
                "database schema version %d is newer than this build knows (%d)", current, latest);
    return FALSE;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(migrations); i++) {
    /* The array must be in strictly increasing order; a mistake here corrupts schemas. */
    if (i > 0 && migrations[i].version <= migrations[i - 1].version)
      g_error("scheduler migrations are out of order at index %" G_GSIZE_FORMAT, i);
    if (migrations[i].version > current && !apply_migration(b, &migrations[i], error))
      return FALSE;
  }
  return read_schema_version(b, &b->schema_version, error);
}

static void sqlite_close(SchedBackendDb *b)
{
  if (b == NULL)
    return;
  /* close_v2 never fails on a busy handle: it defers until the last statement is finalized,
   * and every function here finalizes before returning. */
  sqlite3_close_v2(b->db);
  g_free(b);
}

static SchedBackendDb *sqlite_open(const char *path, GError **error)
{
  SchedBackendDb *b = g_new0(SchedBackendDb, 1);
  g_autofree char *journal_mode = NULL;
  g_autofree char *foreign_keys = NULL;
  int rc;

  rc = sqlite3_open_v2(path, &b->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE, NULL);
  if (rc != SQLITE_OK) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "cannot open the database: %s",
                b->db != NULL ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc));
    goto fail;
  }
  sqlite3_extended_result_codes(b->db, 1);
  sqlite3_busy_timeout(b->db, BUSY_TIMEOUT_MS);
  /* Defensive mode: no writable_schema tricks or other ways to corrupt the file from SQL. */
  sqlite3_db_config(b->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  sqlite3_db_config(b->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

  if (!exec(b, "PRAGMA foreign_keys = ON", error) ||
      !pragma_text(b, "PRAGMA foreign_keys", &foreign_keys, error))
    goto fail;
  if (g_strcmp0(foreign_keys, "1") != 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "this SQLite cannot enforce foreign keys");
    goto fail;
  }
  /* WAL: readers (an export, a backup) never block the daemon's writes, and a commit is one
   * append. An in-memory database reports "memory", which is fine for tests of other modules. */
  if (!pragma_text(b, "PRAGMA journal_mode = WAL", &journal_mode, error))
    goto fail;
  if (g_ascii_strcasecmp(journal_mode, "wal") != 0 &&
      g_ascii_strcasecmp(journal_mode, "memory") != 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "cannot use WAL (journal mode is %s)",
                journal_mode);
    goto fail;
  }
  /* FULL, not NORMAL: under WAL, NORMAL may lose the last commits on power loss. A booking's
   * token goes out by SMS right after its commit, and a consultation's outcome is a clinical
   * record; losing either is worse than one fsync per commit at our few writes a second. */
  if (!exec(b, "PRAGMA synchronous = FULL", error))
    goto fail;
  if (!migrate(b, error))
    goto fail;
  return b;

fail:
  sqlite_close(b);
  return NULL;
}

static int sqlite_schema_version(SchedBackendDb *b)
{
  return b->schema_version;
}

/* IMMEDIATE takes the write lock at once, so a transaction never fails half-way on
 * SQLITE_BUSY after reading. */
static gboolean sqlite_begin(SchedBackendDb *b, GError **error)
{
  return exec(b, "BEGIN IMMEDIATE", error);
}

static gboolean sqlite_commit(SchedBackendDb *b, GError **error)
{
  return exec(b, "COMMIT", error);
}

static void sqlite_rollback(SchedBackendDb *b)
{
  /* SQLite may already have rolled back by itself (e.g. after SQLITE_FULL). */
  if (sqlite3_get_autocommit(b->db))
    return;
  if (sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
    g_warning("rollback failed: %s", sqlite3_errmsg(b->db));
}

/* --- Staff ------------------------------------------------------------------------------- */

static gint64 sqlite_staff_insert(SchedBackendDb *b, const char *username, const char *display_name,
                                  const char *role, const char *password_hash, gint64 now,
                                  GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO staff (username, display_name, role, password_hash,"
                             " created_at) VALUES (?, ?, ?, ?, ?)",
                             error);
  gint64 id = 0;

  if (st == NULL || !bind_text(b, st, 1, username, error) ||
      !bind_text(b, st, 2, display_name, error) || !bind_text(b, st, 3, role, error) ||
      !bind_text(b, st, 4, password_hash, error) || !bind_int64(b, st, 5, now, error) ||
      !step_done(b, st, "add staff", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  sqlite3_finalize(st);
  return id;
}

static gboolean sqlite_staff_find_login(SchedBackendDb *b, const char *username, gint64 *staff_id,
                                        char **password_hash, GError **error)
{
  sqlite3_stmt *st = prepare(b, "SELECT id, password_hash FROM staff WHERE username = ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, username, error) || !step_row(b, st, "find staff", error))
    goto out;
  *staff_id = sqlite3_column_int64(st, 0);
  *password_hash = column_strdup(st, 1);
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

static SchedStaff *sqlite_staff_get(SchedBackendDb *b, gint64 staff_id, GError **error)
{
  sqlite3_stmt *st =
      prepare(b, "SELECT id, username, display_name, role FROM staff WHERE id = ?", error);
  SchedStaff *staff = NULL;

  if (st == NULL || !bind_int64(b, st, 1, staff_id, error) || !step_row(b, st, "get staff", error))
    goto out;
  staff = g_new0(SchedStaff, 1);
  staff->id = sqlite3_column_int64(st, 0);
  staff->username = column_strdup(st, 1);
  staff->display_name = column_strdup(st, 2);
  staff->role = column_strdup(st, 3);
out:
  sqlite3_finalize(st);
  return staff;
}

/* --- Sessions ------------------------------------------------------------------------------ */

static gboolean sqlite_session_insert(SchedBackendDb *b, const char *secret_hash, gint64 staff_id,
                                      gint64 created_at, gint64 expires_at, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO staff_sessions (secret_hash, staff_id, created_at,"
                             " expires_at) VALUES (?, ?, ?, ?)",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, secret_hash, error) ||
      !bind_int64(b, st, 2, staff_id, error) || !bind_int64(b, st, 3, created_at, error) ||
      !bind_int64(b, st, 4, expires_at, error) || !step_done(b, st, "open session", error))
    goto out;
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

static gboolean sqlite_session_find(SchedBackendDb *b, const char *secret_hash, gint64 *staff_id,
                                    gint64 *expires_at, GError **error)
{
  sqlite3_stmt *st =
      prepare(b, "SELECT staff_id, expires_at FROM staff_sessions WHERE secret_hash = ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, secret_hash, error) ||
      !step_row(b, st, "find session", error))
    goto out;
  *staff_id = sqlite3_column_int64(st, 0);
  *expires_at = sqlite3_column_int64(st, 1);
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

static gboolean sqlite_session_delete(SchedBackendDb *b, const char *secret_hash, GError **error)
{
  sqlite3_stmt *st = prepare(b, "DELETE FROM staff_sessions WHERE secret_hash = ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, secret_hash, error) ||
      !step_done(b, st, "close session", error))
    goto out;
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

static gboolean sqlite_session_delete_expired(SchedBackendDb *b, gint64 now, GError **error)
{
  sqlite3_stmt *st = prepare(b, "DELETE FROM staff_sessions WHERE expires_at <= ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, now, error) || !step_done(b, st, "purge sessions", error))
    goto out;
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

/* --- Patients ------------------------------------------------------------------------------ */

static gint64 sqlite_patient_insert(SchedBackendDb *b, const char *display_name, const char *phone,
                                    gint64 now, GError **error)
{
  sqlite3_stmt *st =
      prepare(b, "INSERT INTO patients (display_name, phone, created_at) VALUES (?, ?, ?)", error);
  gint64 id = 0;

  if (st == NULL || !bind_text(b, st, 1, display_name, error) ||
      !bind_text(b, st, 2, phone, error) || !bind_int64(b, st, 3, now, error) ||
      !step_done(b, st, "add patient", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  sqlite3_finalize(st);
  return id;
}

static gboolean sqlite_patient_exists(SchedBackendDb *b, gint64 patient_id, GError **error)
{
  sqlite3_stmt *st = prepare(b, "SELECT 1 FROM patients WHERE id = ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, patient_id, error) ||
      !step_row(b, st, "find patient", error))
    goto out;
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

/* --- Appointments -------------------------------------------------------------------------- */

#define APPOINTMENT_COLUMNS                                                                        \
  "SELECT a.id, a.doctor_id, a.patient_id, a.starts_at, a.ends_at, a.status,"                      \
  " p.display_name, s.display_name"                                                                \
  " FROM appointments a JOIN patients p ON p.id = a.patient_id"                                    \
  " JOIN staff s ON s.id = a.doctor_id "

static SchedAppointment *appointment_from_row(sqlite3_stmt *st)
{
  SchedAppointment *a = g_new0(SchedAppointment, 1);

  a->id = sqlite3_column_int64(st, 0);
  a->doctor_id = sqlite3_column_int64(st, 1);
  a->patient_id = sqlite3_column_int64(st, 2);
  a->starts_at = sqlite3_column_int64(st, 3);
  a->ends_at = sqlite3_column_int64(st, 4);
  a->status = column_strdup(st, 5);
  a->patient_name = column_strdup(st, 6);
  a->doctor_name = column_strdup(st, 7);
  return a;
}

static gint64 sqlite_appointment_insert(SchedBackendDb *b, gint64 doctor_id, gint64 patient_id,
                                        gint64 starts_at, gint64 ends_at, const char *status,
                                        gint64 now, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO appointments (doctor_id, patient_id, starts_at, ends_at,"
                             " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             error);
  gint64 id = 0;

  if (st == NULL || !bind_int64(b, st, 1, doctor_id, error) ||
      !bind_int64(b, st, 2, patient_id, error) || !bind_int64(b, st, 3, starts_at, error) ||
      !bind_int64(b, st, 4, ends_at, error) || !bind_text(b, st, 5, status, error) ||
      !bind_int64(b, st, 6, now, error) || !bind_int64(b, st, 7, now, error) ||
      !step_done(b, st, "book appointment", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  sqlite3_finalize(st);
  return id;
}

static SchedAppointment *sqlite_appointment_get(SchedBackendDb *b, gint64 appointment_id,
                                                GError **error)
{
  sqlite3_stmt *st = prepare(b, APPOINTMENT_COLUMNS "WHERE a.id = ?", error);
  SchedAppointment *a = NULL;

  if (st == NULL || !bind_int64(b, st, 1, appointment_id, error) ||
      !step_row(b, st, "get appointment", error))
    goto out;
  a = appointment_from_row(st);
out:
  sqlite3_finalize(st);
  return a;
}

static GPtrArray *sqlite_appointment_list_for_doctor(SchedBackendDb *b, gint64 doctor_id,
                                                     gint64 from, gint64 to, GError **error)
{
  /* Overlap with [from, to). The index on (doctor_id, starts_at) bounds the scan by
   * starts_at < to; the ends_at test filters what is left. */
  sqlite3_stmt *st =
      prepare(b,
              APPOINTMENT_COLUMNS "WHERE a.doctor_id = ? AND a.starts_at < ? AND a.ends_at > ?"
                                  " ORDER BY a.starts_at, a.id",
              error);
  g_autoptr(GPtrArray) list =
      g_ptr_array_new_with_free_func((GDestroyNotify)sched_appointment_free);
  GPtrArray *result = NULL;
  int rc;

  if (st == NULL || !bind_int64(b, st, 1, doctor_id, error) || !bind_int64(b, st, 2, to, error) ||
      !bind_int64(b, st, 3, from, error))
    goto out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    g_ptr_array_add(list, appointment_from_row(st));
  if (rc != SQLITE_DONE) {
    set_error(b, error, "list appointments");
    goto out;
  }
  result = g_steal_pointer(&list);
out:
  sqlite3_finalize(st);
  return result;
}

static gboolean sqlite_appointment_update_status(SchedBackendDb *b, gint64 appointment_id,
                                                 const char *status, gint64 now, GError **error)
{
  sqlite3_stmt *st =
      prepare(b, "UPDATE appointments SET status = ?, updated_at = ? WHERE id = ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, status, error) || !bind_int64(b, st, 2, now, error) ||
      !bind_int64(b, st, 3, appointment_id, error) ||
      !step_done(b, st, "set appointment status", error))
    goto out;
  if (sqlite3_changes(b->db) == 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "no appointment %" G_GINT64_FORMAT,
                appointment_id);
    goto out;
  }
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

/* --- Join tokens --------------------------------------------------------------------------- */

static gboolean sqlite_token_insert(SchedBackendDb *b, const char *token_hash,
                                    gint64 appointment_id, const char *role, gint64 now,
                                    GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO join_tokens (token_hash, appointment_id, role,"
                             " created_at) VALUES (?, ?, ?, ?)",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, token_hash, error) ||
      !bind_int64(b, st, 2, appointment_id, error) || !bind_text(b, st, 3, role, error) ||
      !bind_int64(b, st, 4, now, error) || !step_done(b, st, "issue token", error))
    goto out;
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

static gboolean sqlite_token_find(SchedBackendDb *b, const char *token_hash, gint64 *appointment_id,
                                  char **role, GError **error)
{
  sqlite3_stmt *st =
      prepare(b, "SELECT appointment_id, role FROM join_tokens WHERE token_hash = ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, token_hash, error) ||
      !step_row(b, st, "find token", error))
    goto out;
  *appointment_id = sqlite3_column_int64(st, 0);
  *role = column_strdup(st, 1);
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

/* --- Consultations ------------------------------------------------------------------------- */

static SchedConsultation *sqlite_consultation_get(SchedBackendDb *b, gint64 appointment_id,
                                                  GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT appointment_id, COALESCE(waiting_since, 0),"
                             " COALESCE(started_at, 0), COALESCE(ended_at, 0), outcome"
                             " FROM consultations WHERE appointment_id = ?",
                             error);
  SchedConsultation *c = NULL;

  if (st == NULL || !bind_int64(b, st, 1, appointment_id, error) ||
      !step_row(b, st, "get consultation", error))
    goto out;
  c = g_new0(SchedConsultation, 1);
  c->appointment_id = sqlite3_column_int64(st, 0);
  c->waiting_since = sqlite3_column_int64(st, 1);
  c->started_at = sqlite3_column_int64(st, 2);
  c->ended_at = sqlite3_column_int64(st, 3);
  c->outcome = column_strdup(st, 4);
out:
  sqlite3_finalize(st);
  return c;
}

static gboolean sqlite_consultation_put(SchedBackendDb *b, const SchedConsultation *c,
                                        GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO consultations (appointment_id, waiting_since,"
                             " started_at, ended_at, outcome) VALUES (?, ?, ?, ?, ?)"
                             " ON CONFLICT (appointment_id) DO UPDATE SET"
                             " waiting_since = excluded.waiting_since,"
                             " started_at = excluded.started_at,"
                             " ended_at = excluded.ended_at, outcome = excluded.outcome",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, c->appointment_id, error) ||
      !bind_time_or_null(b, st, 2, c->waiting_since, error) ||
      !bind_time_or_null(b, st, 3, c->started_at, error) ||
      !bind_time_or_null(b, st, 4, c->ended_at, error) || !bind_text(b, st, 5, c->outcome, error) ||
      !step_done(b, st, "save consultation", error))
    goto out;
  ok = TRUE;
out:
  sqlite3_finalize(st);
  return ok;
}

const SchedBackend sched_backend_sqlite = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .schema_version = sqlite_schema_version,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .staff_insert = sqlite_staff_insert,
    .staff_find_login = sqlite_staff_find_login,
    .staff_get = sqlite_staff_get,
    .session_insert = sqlite_session_insert,
    .session_find = sqlite_session_find,
    .session_delete = sqlite_session_delete,
    .session_delete_expired = sqlite_session_delete_expired,
    .patient_insert = sqlite_patient_insert,
    .patient_exists = sqlite_patient_exists,
    .appointment_insert = sqlite_appointment_insert,
    .appointment_get = sqlite_appointment_get,
    .appointment_list_for_doctor = sqlite_appointment_list_for_doctor,
    .appointment_update_status = sqlite_appointment_update_status,
    .token_insert = sqlite_token_insert,
    .token_find = sqlite_token_find,
    .consultation_get = sqlite_consultation_get,
    .consultation_put = sqlite_consultation_put,
};
