/* sched-sqlite.c — the SQLite backend of the scheduler (see sched-backend.h for the contract).
 *
 * One connection per SchedStore, used from the main loop's thread only. Every statement is
 * prepared with bound parameters; the only SQL run through sqlite3_exec is constant text (the
 * pragmas and the migrations). Statements are prepared once per connection and cached by their
 * SQL text: a booking runs about ten statements and re-preparing them would cost more than
 * running them. Each function resets its statement at its `out:` label (release()).
 *
 * Schema changes are versioned migrations: append to `migrations[]`, never edit an entry that
 * has shipped. Each is applied in its own transaction together with its row in
 * schema_migrations, so a crash leaves the database at a whole version. */
#include "sched-backend.h"
#include "sched-stats-backend.h"
#include "sched-clinical-backend.h"

#include <sqlite3.h>

struct SchedBackendDb {
  sqlite3 *db;
  int schema_version;
  /* Prepared statements by SQL text (owned; finalized at close). A statement is in use from
   * prepare() until release() at its function's `out:` label, so no function may run the same
   * SQL again while it still steps one. */
  GHashTable *stmts;
  /* Group commit (sched_store_batch_begin): while `batch` is set, begin/commit/rollback are a
   * SAVEPOINT inside one transaction, opened by the batch's first begin (`batch_txn`) and
   * committed by batch_commit. `batch_failed`: SQLite rolled the whole transaction back (e.g.
   * SQLITE_FULL); the batch can only fail now. */
  gboolean batch;
  gboolean batch_txn;
  gboolean batch_failed;
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
    /* 2: the booking engine (issue 3): facilities, doctors' profiles, services, weekly
     * availability, breaks, exceptions, the waitlist and the outbox; appointments learn their
     * service, kind, sequence, queue number, hold and buffers. */
    {2, "CREATE TABLE facilities ("
        "  id INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL,"
        "  district TEXT NOT NULL,"
        "  sector TEXT NOT NULL CHECK (sector IN ('public', 'private', 'ngo')),"
        "  timezone TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL"
        ") STRICT;"
        "CREATE TABLE doctor_profiles ("
        "  staff_id INTEGER PRIMARY KEY REFERENCES staff(id),"
        "  facility_id INTEGER NOT NULL REFERENCES facilities(id),"
        "  specialty TEXT NOT NULL,"
        /* ",ur,en,": a language matches with LIKE '%,ur,%'. */
        "  languages TEXT NOT NULL DEFAULT ',',"
        "  gender TEXT CHECK (gender IS NULL OR gender IN ('female', 'male', 'other'))"
        ") STRICT;"
        "CREATE INDEX doctor_profiles_by_facility ON doctor_profiles(facility_id);"
        "CREATE TABLE services ("
        "  id INTEGER PRIMARY KEY,"
        "  facility_id INTEGER NOT NULL REFERENCES facilities(id),"
        "  name TEXT NOT NULL,"
        "  specialty TEXT NOT NULL,"
        "  duration_min INTEGER NOT NULL CHECK (duration_min BETWEEN 1 AND 480),"
        "  buffer_before_min INTEGER NOT NULL CHECK (buffer_before_min BETWEEN 0 AND 240),"
        "  buffer_after_min INTEGER NOT NULL CHECK (buffer_after_min BETWEEN 0 AND 240),"
        "  max_per_day INTEGER NOT NULL CHECK (max_per_day BETWEEN 0 AND 1000),"
        "  created_at INTEGER NOT NULL"
        ") STRICT;"
        "CREATE INDEX services_by_facility ON services(facility_id);"
        "CREATE TABLE availability ("
        "  id INTEGER PRIMARY KEY,"
        "  doctor_id INTEGER NOT NULL REFERENCES staff(id),"
        "  service_id INTEGER NOT NULL REFERENCES services(id),"
        "  weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),"
        "  start_min INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),"
        "  end_min INTEGER NOT NULL CHECK (end_min > start_min AND end_min <= 1440),"
        "  valid_from TEXT,"
        "  valid_until TEXT"
        ") STRICT;"
        "CREATE INDEX availability_by_doctor ON availability(doctor_id, weekday, start_min);"
        "CREATE INDEX availability_by_service ON availability(service_id);"
        "CREATE TABLE breaks ("
        "  id INTEGER PRIMARY KEY,"
        "  doctor_id INTEGER NOT NULL REFERENCES staff(id),"
        "  weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),"
        "  start_min INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),"
        "  end_min INTEGER NOT NULL CHECK (end_min > start_min AND end_min <= 1440)"
        ") STRICT;"
        "CREATE INDEX breaks_by_doctor ON breaks(doctor_id);"
        "CREATE TABLE schedule_exceptions ("
        "  id INTEGER PRIMARY KEY,"
        "  doctor_id INTEGER REFERENCES staff(id),"
        "  facility_id INTEGER REFERENCES facilities(id),"
        "  starts_at INTEGER NOT NULL,"
        "  ends_at INTEGER NOT NULL,"
        "  reason TEXT,"
        "  CHECK ((doctor_id IS NULL) <> (facility_id IS NULL)),"
        "  CHECK (ends_at > starts_at)"
        ") STRICT;"
        "CREATE INDEX exceptions_by_doctor ON schedule_exceptions(doctor_id, starts_at);"
        "CREATE INDEX exceptions_by_facility ON schedule_exceptions(facility_id, starts_at);"
        "ALTER TABLE patients ADD COLUMN preferred_language TEXT;"
        "ALTER TABLE appointments ADD COLUMN service_id INTEGER REFERENCES services(id);"
        "ALTER TABLE appointments ADD COLUMN facility_id INTEGER REFERENCES facilities(id);"
        "ALTER TABLE appointments ADD COLUMN kind TEXT NOT NULL DEFAULT 'booked'"
        "  CHECK (kind IN ('booked', 'walkin'));"
        "ALTER TABLE appointments ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE appointments ADD COLUMN queue_number INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE appointments ADD COLUMN hold_expires_at INTEGER;"
        "ALTER TABLE appointments ADD COLUMN cancel_reason TEXT;"
        "ALTER TABLE appointments ADD COLUMN buffer_before_s INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE appointments ADD COLUMN buffer_after_s INTEGER NOT NULL DEFAULT 0;"
        /* The second line of defence against double booking (the first is the overlap check
         * inside each booking's BEGIN IMMEDIATE transaction). */
        "CREATE UNIQUE INDEX appointments_one_per_slot ON appointments(doctor_id, starts_at)"
        "  WHERE kind = 'booked' AND status IN ('pending', 'booked', 'arrived', 'checked-in');"
        "CREATE INDEX appointments_by_status ON appointments(status, starts_at);"
        "CREATE INDEX appointments_by_facility ON appointments(facility_id, starts_at);"
        "CREATE TABLE waitlist ("
        "  id INTEGER PRIMARY KEY,"
        "  patient_id INTEGER NOT NULL REFERENCES patients(id),"
        "  service_id INTEGER NOT NULL REFERENCES services(id),"
        "  doctor_id INTEGER REFERENCES staff(id),"
        "  not_before INTEGER,"
        "  not_after INTEGER,"
        "  status TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'booked', 'removed')),"
        "  offered_appointment_id INTEGER REFERENCES appointments(id),"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL"
        ") STRICT;"
        "CREATE INDEX waitlist_by_service ON waitlist(service_id, status, id);"
        "CREATE INDEX waitlist_by_offer ON waitlist(offered_appointment_id);"
        "CREATE TABLE outbox ("
        "  id INTEGER PRIMARY KEY,"
        "  kind TEXT NOT NULL CHECK (kind IN ('confirmation', 'reminder_day', 'reminder_15min',"
        "    'you_are_next', 'cancellation', 'rescheduled', 'waitlist_offer', 'link_resend')),"
        "  appointment_id INTEGER REFERENCES appointments(id),"
        "  recipient TEXT,"
        "  language TEXT NOT NULL,"
        "  body TEXT NOT NULL,"
        "  dedupe_key TEXT NOT NULL UNIQUE,"
        "  due_at INTEGER NOT NULL,"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  next_attempt_at INTEGER NOT NULL DEFAULT 0,"
        "  leased_until INTEGER NOT NULL DEFAULT 0,"
        "  sent_at INTEGER,"
        "  failed_at INTEGER,"
        "  last_error TEXT,"
        "  created_at INTEGER NOT NULL"
        ") STRICT;"
        "CREATE INDEX outbox_pending ON outbox(due_at, id) WHERE sent_at IS NULL AND"
        "  failed_at IS NULL;"
        "CREATE INDEX outbox_by_appointment ON outbox(appointment_id);"},
    /* 3: the statistics' daily summary, its triggers and its back-fill (the SQL is in
     * sched-stats-sqlite.c, next to the functions it calls). */
    {3, sched__stats_migration_sql},
    /* 4: call quality (issue 4): patients' audio-only choice, the consultation_quality table,
     * and the summary's quality columns (sched-stats-sqlite.c, with the triggers they need). */
    {4, sched__quality_migration_sql},
    /* 5: the audit log (issue "Trust"): append-only, hash-chained (sched-audit.c), guarded by
     * triggers; and patients' erased_at for the retention job. No foreign keys: an audit row
     * names objects of any type and must outlive nothing. */
    {5, "CREATE TABLE audit_log ("
        "  id INTEGER PRIMARY KEY,"
        "  at_ms INTEGER NOT NULL,"
        "  actor_kind TEXT NOT NULL CHECK (actor_kind IN ('staff', 'patient', 'guest', 'system',"
        "    'operator', 'anonymous')),"
        "  actor_id INTEGER CHECK (actor_id IS NULL OR actor_id > 0),"
        "  actor_role TEXT,"
        "  appointment_id INTEGER CHECK (appointment_id IS NULL OR appointment_id > 0),"
        "  action TEXT NOT NULL,"
        "  object_type TEXT,"
        "  object_id INTEGER CHECK (object_id IS NULL OR object_id > 0),"
        "  detail TEXT,"
        "  address TEXT,"
        "  outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),"
        "  prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),"
        "  hash TEXT NOT NULL CHECK (length(hash) = 64)"
        ") STRICT;"
        "CREATE INDEX audit_log_by_object ON audit_log(object_type, object_id);"
        "CREATE INDEX audit_log_by_actor ON audit_log(actor_kind, actor_id);"
        "CREATE INDEX audit_log_by_appointment ON audit_log(appointment_id)"
        "  WHERE appointment_id IS NOT NULL;"
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN"
        "  SELECT RAISE(ABORT, 'audit_log is append-only');"
        "END;"
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN"
        "  SELECT RAISE(ABORT, 'audit_log is append-only');"
        "END;"
        "ALTER TABLE patients ADD COLUMN erased_at INTEGER;"},
    /* 6: the patient's page (issue 5): consent records (which version of the consent text a
     * token holder accepted, in which language) and the patient's rating of a consultation
     * (the ratings table's statement is shared, word for word, with the statistics' migration
     * 8: hence IF NOT EXISTS). */
    {6, "CREATE TABLE consent_records ("
        "  id INTEGER PRIMARY KEY,"
        "  appointment_id INTEGER NOT NULL REFERENCES appointments(id),"
        "  token_role TEXT NOT NULL CHECK (token_role IN ('patient', 'interpreter', 'specialist',"
        "    'family')),"
        "  version TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 32),"
        "  language TEXT NOT NULL CHECK (length(language) = 2),"
        "  accepted_at INTEGER NOT NULL,"
        "  UNIQUE (appointment_id, token_role, version)"
        ") STRICT;"
        "CREATE TABLE IF NOT EXISTS consultation_ratings (appointment_id INTEGER PRIMARY KEY"
        " REFERENCES appointments(id), stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),"
        " comment TEXT, rated_at INTEGER NOT NULL) STRICT;"},
    /* 7: a consultation's clinical content (issue 5): chat messages, photos of documents, the
     * doctor's private notes, advice given to the patient (sched-clinical-sqlite.c). */
    {7, sched__clinical_migration_sql},

    /* 8: the dashboard (issue 5): patients' sex and birth year for the statistics' sex and
     * age-band groups; and the ratings table of the contract shared with migration 6 (the
     * patient's rating), created here too (IF NOT EXISTS) so that satisfaction can be read
     * whichever of the two came first. */
    {8, "ALTER TABLE patients ADD COLUMN sex TEXT"
        "  CHECK (sex IS NULL OR sex IN ('female', 'male', 'other'));"
        "ALTER TABLE patients ADD COLUMN birth_year INTEGER"
        "  CHECK (birth_year IS NULL OR birth_year BETWEEN 1900 AND 9999);"
        "CREATE TABLE IF NOT EXISTS consultation_ratings (appointment_id INTEGER PRIMARY KEY"
        " REFERENCES appointments(id), stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),"
        " comment TEXT, rated_at INTEGER NOT NULL) STRICT;"},
    /* 9: schema 8's figures (ratings, the quality medians, the doctors active) summarised
     * like the rest, so a query reads no appointments unless grouped by the patients' sex or
     * age band (sched-stats-sqlite.c). */
    {9, sched__stats_visits_migration_sql},
    /* 10: the groupings by sex and by age band summarised too, so that no statistics query
     * reads the appointments (sched-stats-sqlite.c). */
    {10, sched__stats_patients_migration_sql},
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
  sqlite3_stmt *st = g_hash_table_lookup(b->stmts, sql);

  if (st != NULL)
    return st;
  if (sqlite3_prepare_v3(b->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    set_error(b, error, "prepare");
    sqlite3_finalize(st);
    return NULL;
  }
  g_hash_table_insert(b->stmts, g_strdup(sql), st);
  return st;
}

/* Ends a use of a cached statement: resets it (releasing its read lock) and its bindings. */
static void release(sqlite3_stmt *st)
{
  if (st == NULL)
    return;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
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
  release(st);
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
  release(st);
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
  release(st);
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
  /* close_v2 never fails on a busy handle: it defers until the last statement is finalized. */
  if (b->stmts != NULL)
    g_hash_table_unref(b->stmts);
  sqlite3_close_v2(b->db);
  g_free(b);
}

static void finalize_stmt(gpointer st)
{
  sqlite3_finalize(st);
}

static SchedBackendDb *sqlite_open(const char *path, GError **error)
{
  SchedBackendDb *b = g_new0(SchedBackendDb, 1);
  g_autofree char *journal_mode = NULL;
  g_autofree char *foreign_keys = NULL;
  int rc;

  b->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, finalize_stmt);
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
   * record; losing either is worse than one fsync per commit. Measured on the 2-core test VM
   * (ext4 on virtio): about 0.9 ms per fsync'd commit against 0.02 ms with NORMAL, and a whole
   * booking (one BEGIN IMMEDIATE transaction) about 0.6 ms: roughly 1,700 bookings/s from one
   * connection, so the fsync is not yet the bottleneck at the 1,000/s target. Under 16
   * concurrent clients it was (docs/performance.md): the daemon now shares one commit among the
   * requests of a loop pass (group commit, sched_store_batch_begin), keeping FULL. */
  if (!exec(b, "PRAGMA synchronous = FULL", error))
    goto fail;
  /* Reads through a memory map of up to 1 GiB of the file instead of a read() into SQLite's
   * page cache per page: the statistics read tens of megabytes of summary pages per query (over
   * a year of a million consultations, 15-40 ms of 160-250 per query were those copies,
   * docs/performance.md). Writes still go through the WAL as before. */
  if (!exec(b, "PRAGMA mmap_size = 1073741824", error))
    goto fail;
  /* The statistics' triggers (schema 3) call these functions. */
  if (!sched__stats_sqlite_register(b->db, error))
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

static gboolean batch_lost(SchedBackendDb *b, GError **error)
{
  b->batch_failed = TRUE;
  b->batch_txn = FALSE;
  g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "the batch's transaction was rolled back");
  return FALSE;
}

/* IMMEDIATE takes the write lock at once, so a transaction never fails half-way on
 * SQLITE_BUSY after reading. In a batch, the first begin opens the batch's transaction and
 * every begin is a savepoint in it. */
static gboolean sqlite_begin(SchedBackendDb *b, GError **error)
{
  if (!b->batch)
    return exec(b, "BEGIN IMMEDIATE", error);
  if (b->batch_failed || (b->batch_txn && sqlite3_get_autocommit(b->db)))
    return batch_lost(b, error);
  if (!b->batch_txn) {
    if (!exec(b, "BEGIN IMMEDIATE", error))
      return FALSE;
    b->batch_txn = TRUE;
  }
  return exec(b, "SAVEPOINT request", error);
}

static gboolean sqlite_commit(SchedBackendDb *b, GError **error)
{
  if (!b->batch)
    return exec(b, "COMMIT", error);
  if (sqlite3_get_autocommit(b->db))
    return batch_lost(b, error);
  return exec(b, "RELEASE request", error);
}

static void sqlite_rollback(SchedBackendDb *b)
{
  /* SQLite may already have rolled back by itself (e.g. after SQLITE_FULL). */
  if (sqlite3_get_autocommit(b->db)) {
    if (b->batch && b->batch_txn)
      batch_lost(b, NULL);
    return;
  }
  if (b->batch) {
    /* Undoes this request's writes only; the batch's other requests stay. */
    if (sqlite3_exec(b->db, "ROLLBACK TO request; RELEASE request", NULL, NULL, NULL) == SQLITE_OK)
      return;
    g_warning("rollback to savepoint failed: %s", sqlite3_errmsg(b->db));
    b->batch_failed = TRUE;
    b->batch_txn = FALSE;
  }
  if (sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
    g_warning("rollback failed: %s", sqlite3_errmsg(b->db));
}

static void sqlite_batch_begin(SchedBackendDb *b)
{
  g_return_if_fail(!b->batch && sqlite3_get_autocommit(b->db));
  b->batch = TRUE;
  b->batch_txn = FALSE;
  b->batch_failed = FALSE;
}

static gboolean sqlite_batch_commit(SchedBackendDb *b, GError **error)
{
  gboolean had_txn = b->batch_txn, failed = b->batch_failed;

  b->batch = FALSE;
  b->batch_txn = FALSE;
  b->batch_failed = FALSE;
  if (failed || (had_txn && sqlite3_get_autocommit(b->db))) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "the batch's transaction was rolled back");
    return FALSE;
  }
  if (!had_txn)
    return TRUE;
  if (exec(b, "COMMIT", error))
    return TRUE;
  /* E.g. a deferred constraint, or an I/O error: nothing of the batch may stay. */
  sqlite_rollback(b);
  return FALSE;
}

static gboolean sqlite_batch_pending(SchedBackendDb *b)
{
  return b->batch_txn;
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
  release(st);
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
  release(st);
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
  release(st);
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
  release(st);
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
  release(st);
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
  release(st);
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
  release(st);
  return ok;
}

/* --- Patients ------------------------------------------------------------------------------ */

static gboolean sqlite_patient_exists(SchedBackendDb *b, gint64 patient_id, GError **error)
{
  sqlite3_stmt *st = prepare(b, "SELECT 1 FROM patients WHERE id = ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, patient_id, error) ||
      !step_row(b, st, "find patient", error))
    goto out;
  ok = TRUE;
out:
  release(st);
  return ok;
}

/* --- Appointments -------------------------------------------------------------------------- */

#define APPOINTMENT_COLUMNS                                                                        \
  "SELECT a.id, a.doctor_id, a.patient_id, a.starts_at, a.ends_at, a.status,"                      \
  " p.display_name, s.display_name, COALESCE(a.service_id, 0), COALESCE(a.facility_id, 0),"        \
  " a.kind, a.sequence, a.queue_number, COALESCE(a.hold_expires_at, 0), a.cancel_reason,"          \
  " a.created_at, a.updated_at"                                                                    \
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
  a->service_id = sqlite3_column_int64(st, 8);
  a->facility_id = sqlite3_column_int64(st, 9);
  a->kind = column_strdup(st, 10);
  a->sequence = sqlite3_column_int64(st, 11);
  a->queue_number = sqlite3_column_int64(st, 12);
  a->hold_expires_at = sqlite3_column_int64(st, 13);
  a->cancel_reason = column_strdup(st, 14);
  a->created_at = sqlite3_column_int64(st, 15);
  a->updated_at = sqlite3_column_int64(st, 16);
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
  release(st);
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
  release(st);
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
  release(st);
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
  release(st);
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
  release(st);
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
  release(st);
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
  release(st);
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
  release(st);
  return ok;
}

/* --- Since schema 2: the booking engine ------------------------------------------------------ */

typedef gpointer (*RowFn)(sqlite3_stmt *st);

/* Steps `st` to the end, collecting each row through `row`. (transfer full) NULL on failure. */
static GPtrArray *collect(SchedBackendDb *b, sqlite3_stmt *st, RowFn row, GDestroyNotify free_fn,
                          const char *what, GError **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(free_fn);
  int rc;

  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    g_ptr_array_add(list, row(st));
  if (rc != SQLITE_DONE) {
    set_error(b, error, what);
    return NULL;
  }
  return g_steal_pointer(&list);
}

/* Binds 0 as NULL (an optional id or time). */
#define bind_opt bind_time_or_null

/* Binds NULL, or `pattern` wrapped in '%' for LIKE. `buf` keeps the text alive until release. */
static gboolean bind_like(SchedBackendDb *b, sqlite3_stmt *st, int i, const char *s, char **buf,
                          GError **error)
{
  g_free(*buf);
  *buf = NULL;
  if (s != NULL) {
    GString *p = g_string_new("%");
    /* The pattern is a plain substring: escape LIKE's wildcards (ESCAPE '\'). */
    for (const char *c = s; *c != '\0'; c++) {
      if (*c == '%' || *c == '_' || *c == '\\')
        g_string_append_c(p, '\\');
      g_string_append_c(p, *c);
    }
    g_string_append_c(p, '%');
    *buf = g_string_free(p, FALSE);
  }
  return bind_text(b, st, i, *buf, error);
}

static gboolean delete_by_id(SchedBackendDb *b, const char *sql, gint64 id, const char *field,
                             GError **error)
{
  sqlite3_stmt *st = prepare(b, sql, error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, id, error) || !step_done(b, st, "delete", error))
    goto out;
  if (sqlite3_changes(b->db) == 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "%s: no such id %" G_GINT64_FORMAT,
                field, id);
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static gboolean sqlite_integrity_check(SchedBackendDb *b, GError **error)
{
  g_autofree char *result = NULL;

  if (!pragma_text(b, "PRAGMA integrity_check", &result, error))
    return FALSE;
  if (g_strcmp0(result, "ok") != 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "integrity check: %s", result);
    return FALSE;
  }
  return TRUE;
}

/* Facilities */

static gpointer facility_row(sqlite3_stmt *st)
{
  SchedFacility *f = g_new0(SchedFacility, 1);

  f->id = sqlite3_column_int64(st, 0);
  f->name = column_strdup(st, 1);
  f->district = column_strdup(st, 2);
  f->sector = column_strdup(st, 3);
  f->timezone = column_strdup(st, 4);
  return f;
}

#define FACILITY_COLUMNS "SELECT id, name, district, sector, timezone FROM facilities "

static gint64 sqlite_facility_insert(SchedBackendDb *b, const char *name, const char *district,
                                     const char *sector, const char *timezone, gint64 now,
                                     GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO facilities (name, district, sector, timezone, created_at)"
                             " VALUES (?, ?, ?, ?, ?)",
                             error);
  gint64 id = 0;

  if (st == NULL || !bind_text(b, st, 1, name, error) || !bind_text(b, st, 2, district, error) ||
      !bind_text(b, st, 3, sector, error) || !bind_text(b, st, 4, timezone, error) ||
      !bind_int64(b, st, 5, now, error) || !step_done(b, st, "add facility", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  release(st);
  return id;
}

static SchedFacility *sqlite_facility_get(SchedBackendDb *b, gint64 facility_id, GError **error)
{
  sqlite3_stmt *st = prepare(b, FACILITY_COLUMNS "WHERE id = ?", error);
  SchedFacility *f = NULL;

  if (st == NULL || !bind_int64(b, st, 1, facility_id, error))
    goto out;
  if (!step_row(b, st, "get facility", error)) {
    if (error != NULL && g_error_matches(*error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND)) {
      g_clear_error(error);
      g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                  "facility_id: no facility %" G_GINT64_FORMAT, facility_id);
    }
    goto out;
  }
  f = facility_row(st);
out:
  release(st);
  return f;
}

static GPtrArray *sqlite_facility_list(SchedBackendDb *b, const char *name_contains, GError **error)
{
  sqlite3_stmt *st = prepare(
      b, FACILITY_COLUMNS "WHERE (?1 IS NULL OR name LIKE ?1 ESCAPE '\\') ORDER BY id", error);
  g_autofree char *like = NULL;
  GPtrArray *list = NULL;

  if (st == NULL || !bind_like(b, st, 1, name_contains, &like, error))
    goto out;
  list =
      collect(b, st, facility_row, (GDestroyNotify)sched_facility_free, "list facilities", error);
out:
  release(st);
  return list;
}

/* Staff and doctors */

static gpointer staff_row(sqlite3_stmt *st)
{
  SchedStaff *s = g_new0(SchedStaff, 1);

  s->id = sqlite3_column_int64(st, 0);
  s->username = column_strdup(st, 1);
  s->display_name = column_strdup(st, 2);
  s->role = column_strdup(st, 3);
  return s;
}

static GPtrArray *sqlite_staff_list(SchedBackendDb *b, const char *role, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT id, username, display_name, role FROM staff"
                             " WHERE ?1 IS NULL OR role = ?1 ORDER BY id",
                             error);
  GPtrArray *list = NULL;

  if (st == NULL || !bind_text(b, st, 1, role, error))
    goto out;
  list = collect(b, st, staff_row, (GDestroyNotify)sched_staff_free, "list staff", error);
out:
  release(st);
  return list;
}

static gboolean sqlite_doctor_profile_put(SchedBackendDb *b, gint64 staff_id, gint64 facility_id,
                                          const char *specialty, const char *languages_csv,
                                          const char *gender, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO doctor_profiles (staff_id, facility_id, specialty,"
                             " languages, gender) VALUES (?, ?, ?, ?, ?)"
                             " ON CONFLICT (staff_id) DO UPDATE SET"
                             " facility_id = excluded.facility_id,"
                             " specialty = excluded.specialty, languages = excluded.languages,"
                             " gender = excluded.gender",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, staff_id, error) ||
      !bind_int64(b, st, 2, facility_id, error) || !bind_text(b, st, 3, specialty, error) ||
      !bind_text(b, st, 4, languages_csv, error) || !bind_text(b, st, 5, gender, error) ||
      !step_done(b, st, "set doctor profile", error))
    goto out;
  ok = TRUE;
out:
  release(st);
  return ok;
}

#define DOCTOR_COLUMNS                                                                             \
  "SELECT s.id, s.username, s.display_name, COALESCE(p.facility_id, 0), p.specialty,"              \
  " COALESCE(p.languages, ','), p.gender FROM staff s"                                             \
  " LEFT JOIN doctor_profiles p ON p.staff_id = s.id WHERE s.role = 'doctor' "

static gpointer doctor_row(sqlite3_stmt *st)
{
  SchedDoctor *d = g_new0(SchedDoctor, 1);
  const char *csv = (const char *)sqlite3_column_text(st, 5);
  g_auto(GStrv) parts = g_strsplit(csv != NULL ? csv : "", ",", -1);
  GPtrArray *langs = g_ptr_array_new();

  d->id = sqlite3_column_int64(st, 0);
  d->username = column_strdup(st, 1);
  d->display_name = column_strdup(st, 2);
  d->facility_id = sqlite3_column_int64(st, 3);
  d->specialty = column_strdup(st, 4);
  for (char **p = parts; *p != NULL; p++) {
    if (**p != '\0')
      g_ptr_array_add(langs, g_strdup(*p));
  }
  g_ptr_array_add(langs, NULL);
  d->languages = (char **)g_ptr_array_free(langs, FALSE);
  d->gender = column_strdup(st, 6);
  return d;
}

static SchedDoctor *sqlite_doctor_get(SchedBackendDb *b, gint64 doctor_id, GError **error)
{
  sqlite3_stmt *st = prepare(b, DOCTOR_COLUMNS "AND s.id = ?", error);
  SchedDoctor *d = NULL;
  int rc;

  if (st == NULL || !bind_int64(b, st, 1, doctor_id, error))
    goto out;
  rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "doctor_id: no doctor %" G_GINT64_FORMAT,
                doctor_id);
    goto out;
  }
  if (rc != SQLITE_ROW) {
    set_error(b, error, "get doctor");
    goto out;
  }
  d = doctor_row(st);
out:
  release(st);
  return d;
}

static GPtrArray *sqlite_doctor_list(SchedBackendDb *b, const SchedDoctorFilter *f, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             DOCTOR_COLUMNS "AND (?1 IS NULL OR p.facility_id = ?1)"
                                            " AND (?2 IS NULL OR p.specialty = ?2 COLLATE NOCASE)"
                                            " AND (?3 IS NULL OR p.languages LIKE ?3)"
                                            " AND (?4 IS NULL OR p.gender = ?4)"
                                            " AND (?5 IS NULL OR s.display_name LIKE ?5"
                                            " ESCAPE '\\') ORDER BY s.id",
                             error);
  g_autofree char *lang = NULL;
  g_autofree char *like = NULL;
  GPtrArray *list = NULL;

  if (f->language != NULL)
    lang = g_strdup_printf("%%,%s,%%", f->language);
  if (st == NULL || !bind_opt(b, st, 1, f->facility_id, error) ||
      !bind_text(b, st, 2, f->specialty, error) || !bind_text(b, st, 3, lang, error) ||
      !bind_text(b, st, 4, f->gender, error) ||
      !bind_like(b, st, 5, f->name_contains, &like, error))
    goto out;
  list = collect(b, st, doctor_row, (GDestroyNotify)sched_doctor_free, "list doctors", error);
out:
  release(st);
  return list;
}

/* Services */

#define SERVICE_COLUMNS                                                                            \
  "SELECT id, facility_id, name, specialty, duration_min, buffer_before_min,"                      \
  " buffer_after_min, max_per_day FROM services "

static gpointer service_row(sqlite3_stmt *st)
{
  SchedService *s = g_new0(SchedService, 1);

  s->id = sqlite3_column_int64(st, 0);
  s->facility_id = sqlite3_column_int64(st, 1);
  s->name = column_strdup(st, 2);
  s->specialty = column_strdup(st, 3);
  s->duration_min = sqlite3_column_int(st, 4);
  s->buffer_before_min = sqlite3_column_int(st, 5);
  s->buffer_after_min = sqlite3_column_int(st, 6);
  s->max_per_day = sqlite3_column_int(st, 7);
  return s;
}

static gint64 sqlite_service_insert(SchedBackendDb *b, const SchedService *spec, gint64 now,
                                    GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO services (facility_id, name, specialty, duration_min,"
                             " buffer_before_min, buffer_after_min, max_per_day, created_at)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             error);
  gint64 id = 0;

  if (st == NULL || !bind_int64(b, st, 1, spec->facility_id, error) ||
      !bind_text(b, st, 2, spec->name, error) || !bind_text(b, st, 3, spec->specialty, error) ||
      !bind_int64(b, st, 4, spec->duration_min, error) ||
      !bind_int64(b, st, 5, spec->buffer_before_min, error) ||
      !bind_int64(b, st, 6, spec->buffer_after_min, error) ||
      !bind_int64(b, st, 7, spec->max_per_day, error) || !bind_int64(b, st, 8, now, error) ||
      !step_done(b, st, "add service", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  release(st);
  return id;
}

static SchedService *sqlite_service_get(SchedBackendDb *b, gint64 service_id, GError **error)
{
  sqlite3_stmt *st = prepare(b, SERVICE_COLUMNS "WHERE id = ?", error);
  SchedService *s = NULL;
  int rc;

  if (st == NULL || !bind_int64(b, st, 1, service_id, error))
    goto out;
  rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                "service_id: no service %" G_GINT64_FORMAT, service_id);
    goto out;
  }
  if (rc != SQLITE_ROW) {
    set_error(b, error, "get service");
    goto out;
  }
  s = service_row(st);
out:
  release(st);
  return s;
}

static GPtrArray *sqlite_service_list(SchedBackendDb *b, gint64 facility_id, GError **error)
{
  sqlite3_stmt *st =
      prepare(b, SERVICE_COLUMNS "WHERE ?1 IS NULL OR facility_id = ?1 ORDER BY id", error);
  GPtrArray *list = NULL;

  if (st == NULL || !bind_opt(b, st, 1, facility_id, error))
    goto out;
  list = collect(b, st, service_row, (GDestroyNotify)sched_service_free, "list services", error);
out:
  release(st);
  return list;
}

/* Availability, breaks, exceptions */

static gpointer availability_row(sqlite3_stmt *st)
{
  SchedAvailability *a = g_new0(SchedAvailability, 1);

  a->id = sqlite3_column_int64(st, 0);
  a->doctor_id = sqlite3_column_int64(st, 1);
  a->service_id = sqlite3_column_int64(st, 2);
  a->weekday = sqlite3_column_int(st, 3);
  a->start_min = sqlite3_column_int(st, 4);
  a->end_min = sqlite3_column_int(st, 5);
  a->valid_from = column_strdup(st, 6);
  a->valid_until = column_strdup(st, 7);
  return a;
}

#define AVAILABILITY_COLUMNS                                                                       \
  "SELECT a.id, a.doctor_id, a.service_id, a.weekday, a.start_min, a.end_min, a.valid_from,"       \
  " a.valid_until FROM availability a "

static gint64 sqlite_availability_insert(SchedBackendDb *b, const SchedAvailability *spec,
                                         GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO availability (doctor_id, service_id, weekday, start_min,"
                             " end_min, valid_from, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             error);
  gint64 id = 0;

  if (st == NULL || !bind_int64(b, st, 1, spec->doctor_id, error) ||
      !bind_int64(b, st, 2, spec->service_id, error) ||
      !bind_int64(b, st, 3, spec->weekday, error) ||
      !bind_int64(b, st, 4, spec->start_min, error) ||
      !bind_int64(b, st, 5, spec->end_min, error) ||
      !bind_text(b, st, 6, spec->valid_from, error) ||
      !bind_text(b, st, 7, spec->valid_until, error) ||
      !step_done(b, st, "add availability", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  release(st);
  return id;
}

/* The list and search functions below build their WHERE clause from the filters actually set
 * (`(?1 IS NULL OR col = ?1)` would keep SQLite from using any index: every booking's re-check
 * then scanned every availability row, break and exception). Each combination is a distinct SQL
 * text, so prepare() caches one statement per combination (at most a few dozen). Parameters keep
 * their numbers whatever the combination; an unused one is simply not referenced. */
static void where_add(GString *sql, gboolean *first, const char *cond)
{
  g_string_append(sql, *first ? " WHERE " : " AND ");
  g_string_append(sql, cond);
  *first = FALSE;
}

static GPtrArray *sqlite_availability_list(SchedBackendDb *b, gint64 doctor_id, gint64 service_id,
                                           GError **error)
{
  g_autoptr(GString) sql = g_string_new(AVAILABILITY_COLUMNS);
  gboolean first = TRUE;
  sqlite3_stmt *st;
  GPtrArray *list = NULL;

  if (doctor_id != 0)
    where_add(sql, &first, "a.doctor_id = ?1");
  if (service_id != 0)
    where_add(sql, &first, "a.service_id = ?2");
  g_string_append(sql, " ORDER BY a.doctor_id, a.weekday, a.start_min");
  st = prepare(b, sql->str, error);
  if (st == NULL || (doctor_id != 0 && !bind_int64(b, st, 1, doctor_id, error)) ||
      (service_id != 0 && !bind_int64(b, st, 2, service_id, error)))
    goto out;
  list = collect(b, st, availability_row, (GDestroyNotify)sched_availability_free,
                 "list availability", error);
out:
  release(st);
  return list;
}

static GPtrArray *sqlite_availability_search(SchedBackendDb *b, const SchedSlotQuery *q,
                                             GError **error)
{
  g_autoptr(GString) sql =
      g_string_new(AVAILABILITY_COLUMNS " JOIN services v ON v.id = a.service_id"
                                        " JOIN staff s ON s.id = a.doctor_id AND s.role = 'doctor'"
                                        " LEFT JOIN doctor_profiles p ON p.staff_id = a.doctor_id");
  gboolean first = TRUE;
  g_autofree char *lang = NULL;
  sqlite3_stmt *st;
  GPtrArray *list = NULL;

  if (q->doctor_id != 0)
    where_add(sql, &first, "a.doctor_id = ?1");
  if (q->service_id != 0)
    where_add(sql, &first, "a.service_id = ?2");
  if (q->facility_id != 0)
    where_add(sql, &first, "v.facility_id = ?3");
  if (q->specialty != NULL)
    where_add(sql, &first, "v.specialty = ?4 COLLATE NOCASE");
  if (q->language != NULL) {
    where_add(sql, &first, "p.languages LIKE ?5");
    lang = g_strdup_printf("%%,%s,%%", q->language);
  }
  if (q->gender != NULL)
    where_add(sql, &first, "p.gender = ?6");
  g_string_append(sql, " ORDER BY a.doctor_id, a.service_id, a.weekday, a.start_min");
  st = prepare(b, sql->str, error);
  if (st == NULL || (q->doctor_id != 0 && !bind_int64(b, st, 1, q->doctor_id, error)) ||
      (q->service_id != 0 && !bind_int64(b, st, 2, q->service_id, error)) ||
      (q->facility_id != 0 && !bind_int64(b, st, 3, q->facility_id, error)) ||
      (q->specialty != NULL && !bind_text(b, st, 4, q->specialty, error)) ||
      (lang != NULL && !bind_text(b, st, 5, lang, error)) ||
      (q->gender != NULL && !bind_text(b, st, 6, q->gender, error)))
    goto out;
  list = collect(b, st, availability_row, (GDestroyNotify)sched_availability_free,
                 "search availability", error);
out:
  release(st);
  return list;
}

static gboolean sqlite_availability_delete(SchedBackendDb *b, gint64 id, GError **error)
{
  return delete_by_id(b, "DELETE FROM availability WHERE id = ?", id, "availability_id", error);
}

static gpointer break_row(sqlite3_stmt *st)
{
  SchedBreak *r = g_new0(SchedBreak, 1);

  r->id = sqlite3_column_int64(st, 0);
  r->doctor_id = sqlite3_column_int64(st, 1);
  r->weekday = sqlite3_column_int(st, 2);
  r->start_min = sqlite3_column_int(st, 3);
  r->end_min = sqlite3_column_int(st, 4);
  return r;
}

static gint64 sqlite_break_insert(SchedBackendDb *b, const SchedBreak *spec, GError **error)
{
  sqlite3_stmt *st = prepare(
      b, "INSERT INTO breaks (doctor_id, weekday, start_min, end_min) VALUES (?, ?, ?, ?)", error);
  gint64 id = 0;

  if (st == NULL || !bind_int64(b, st, 1, spec->doctor_id, error) ||
      !bind_int64(b, st, 2, spec->weekday, error) ||
      !bind_int64(b, st, 3, spec->start_min, error) ||
      !bind_int64(b, st, 4, spec->end_min, error) || !step_done(b, st, "add break", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  release(st);
  return id;
}

static GPtrArray *sqlite_break_list(SchedBackendDb *b, gint64 doctor_id, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             doctor_id != 0 ? "SELECT id, doctor_id, weekday, start_min, end_min"
                                              " FROM breaks WHERE doctor_id = ?1"
                                              " ORDER BY weekday, start_min"
                                            : "SELECT id, doctor_id, weekday, start_min, end_min"
                                              " FROM breaks ORDER BY doctor_id, weekday, start_min",
                             error);
  GPtrArray *list = NULL;

  if (st == NULL || (doctor_id != 0 && !bind_int64(b, st, 1, doctor_id, error)))
    goto out;
  list = collect(b, st, break_row, (GDestroyNotify)sched_break_free, "list breaks", error);
out:
  release(st);
  return list;
}

static gboolean sqlite_break_delete(SchedBackendDb *b, gint64 id, GError **error)
{
  return delete_by_id(b, "DELETE FROM breaks WHERE id = ?", id, "break_id", error);
}

static gpointer exception_row(sqlite3_stmt *st)
{
  SchedException *e = g_new0(SchedException, 1);

  e->id = sqlite3_column_int64(st, 0);
  e->doctor_id = sqlite3_column_int64(st, 1);
  e->facility_id = sqlite3_column_int64(st, 2);
  e->starts_at = sqlite3_column_int64(st, 3);
  e->ends_at = sqlite3_column_int64(st, 4);
  e->reason = column_strdup(st, 5);
  return e;
}

static gint64 sqlite_exception_insert(SchedBackendDb *b, const SchedException *spec, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO schedule_exceptions (doctor_id, facility_id, starts_at,"
                             " ends_at, reason) VALUES (?, ?, ?, ?, ?)",
                             error);
  gint64 id = 0;

  if (st == NULL || !bind_opt(b, st, 1, spec->doctor_id, error) ||
      !bind_opt(b, st, 2, spec->facility_id, error) ||
      !bind_int64(b, st, 3, spec->starts_at, error) ||
      !bind_int64(b, st, 4, spec->ends_at, error) || !bind_text(b, st, 5, spec->reason, error) ||
      !step_done(b, st, "add exception", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  release(st);
  return id;
}

static GPtrArray *sqlite_exception_list(SchedBackendDb *b, gint64 doctor_id, gint64 facility_id,
                                        gint64 from, gint64 to, GError **error)
{
  g_autoptr(GString) sql = g_string_new("SELECT id, COALESCE(doctor_id, 0), COALESCE(facility_id,"
                                        " 0), starts_at, ends_at, reason FROM schedule_exceptions"
                                        " WHERE starts_at < ?3 AND ends_at > ?4");
  sqlite3_stmt *st;
  GPtrArray *list = NULL;

  /* An OR of two indexed equalities lets SQLite use both indexes (MULTI-INDEX OR). */
  if (doctor_id != 0 && facility_id != 0)
    g_string_append(sql, " AND (doctor_id = ?1 OR facility_id = ?2)");
  else if (doctor_id != 0)
    g_string_append(sql, " AND doctor_id = ?1");
  else if (facility_id != 0)
    g_string_append(sql, " AND facility_id = ?2");
  g_string_append(sql, " ORDER BY starts_at, id");
  st = prepare(b, sql->str, error);
  if (st == NULL || (doctor_id != 0 && !bind_int64(b, st, 1, doctor_id, error)) ||
      (facility_id != 0 && !bind_int64(b, st, 2, facility_id, error)) ||
      !bind_int64(b, st, 3, to, error) || !bind_int64(b, st, 4, from, error))
    goto out;
  list =
      collect(b, st, exception_row, (GDestroyNotify)sched_exception_free, "list exceptions", error);
out:
  release(st);
  return list;
}

static gboolean sqlite_exception_delete(SchedBackendDb *b, gint64 id, GError **error)
{
  return delete_by_id(b, "DELETE FROM schedule_exceptions WHERE id = ?", id, "exception_id", error);
}

/* Patients */

static gpointer patient_row(sqlite3_stmt *st)
{
  SchedPatient *p = g_new0(SchedPatient, 1);

  p->id = sqlite3_column_int64(st, 0);
  p->display_name = column_strdup(st, 1);
  p->phone = column_strdup(st, 2);
  p->preferred_language = column_strdup(st, 3);
  p->prefers_audio_only = sqlite3_column_int64(st, 4) != 0;
  p->sex = column_strdup(st, 5);
  p->birth_year = (int)sqlite3_column_int64(st, 6);
  return p;
}

/* The phone's digits, computed in SQL (phones hold digits, '+', ' ', '-', '(' and ')'). */
#define PHONE_DIGITS                                                                               \
  "replace(replace(replace(replace(replace(phone, ' ', ''), '-', ''), '(', ''), ')', ''), '+', "   \
  "'')"

static gint64 sqlite_patient_insert_full(SchedBackendDb *b, const SchedPatientSpec *spec,
                                         gint64 now, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO patients (display_name, phone, preferred_language,"
                             " created_at, sex, birth_year) VALUES (?, ?, ?, ?, ?, nullif(?, 0))",
                             error);
  gint64 id = 0;

  if (st == NULL || !bind_text(b, st, 1, spec->display_name, error) ||
      !bind_text(b, st, 2, spec->phone, error) ||
      !bind_text(b, st, 3, spec->preferred_language, error) || !bind_int64(b, st, 4, now, error) ||
      !bind_text(b, st, 5, spec->sex, error) || !bind_int64(b, st, 6, spec->birth_year, error) ||
      !step_done(b, st, "add patient", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  release(st);
  return id;
}

static SchedPatient *sqlite_patient_get(SchedBackendDb *b, gint64 patient_id, GError **error)
{
  sqlite3_stmt *st =
      prepare(b,
              "SELECT id, display_name, phone, preferred_language, prefers_audio_only, sex,"
              " birth_year FROM patients WHERE id = ?",
              error);
  SchedPatient *p = NULL;
  int rc;

  if (st == NULL || !bind_int64(b, st, 1, patient_id, error))
    goto out;
  rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                "patient_id: no patient %" G_GINT64_FORMAT, patient_id);
    goto out;
  }
  if (rc != SQLITE_ROW) {
    set_error(b, error, "get patient");
    goto out;
  }
  p = patient_row(st);
out:
  release(st);
  return p;
}

static GPtrArray *sqlite_patient_search(SchedBackendDb *b, const char *query, const char *digits,
                                        guint limit, GError **error)
{
  sqlite3_stmt *st = prepare(
      b,
      "SELECT id, display_name, phone, preferred_language,"
      " prefers_audio_only, sex, birth_year FROM patients WHERE (?1 IS NULL AND ?2 IS NULL) OR"
      " display_name LIKE ?1"
      " ESCAPE '\\' OR (?2 IS NOT NULL AND " PHONE_DIGITS " LIKE ?2)"
      " ORDER BY id LIMIT ?3",
      error);
  g_autofree char *like = NULL;
  g_autofree char *dlike = NULL;
  GPtrArray *list = NULL;

  if (st == NULL || !bind_like(b, st, 1, query, &like, error) ||
      !bind_like(b, st, 2, digits, &dlike, error) || !bind_int64(b, st, 3, limit, error))
    goto out;
  list = collect(b, st, patient_row, (GDestroyNotify)sched_patient_free, "search patients", error);
out:
  release(st);
  return list;
}

static gboolean sqlite_patient_set_language(SchedBackendDb *b, gint64 patient_id,
                                            const char *language, GError **error)
{
  sqlite3_stmt *st = prepare(b, "UPDATE patients SET preferred_language = ? WHERE id = ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, language, error) ||
      !bind_int64(b, st, 2, patient_id, error) || !step_done(b, st, "set language", error))
    goto out;
  if (sqlite3_changes(b->db) == 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                "patient_id: no patient %" G_GINT64_FORMAT, patient_id);
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

/* Appointments */

static gint64 sqlite_appointment_insert_full(SchedBackendDb *b, const SchedAppointment *a,
                                             gint64 buffer_before_s, gint64 buffer_after_s,
                                             gint64 now, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO appointments (doctor_id, patient_id, starts_at, ends_at,"
                             " status, created_at, updated_at, service_id, facility_id, kind,"
                             " sequence, queue_number, hold_expires_at, cancel_reason,"
                             " buffer_before_s, buffer_after_s)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             error);
  gint64 id = 0;

  if (st == NULL || !bind_int64(b, st, 1, a->doctor_id, error) ||
      !bind_int64(b, st, 2, a->patient_id, error) || !bind_int64(b, st, 3, a->starts_at, error) ||
      !bind_int64(b, st, 4, a->ends_at, error) || !bind_text(b, st, 5, a->status, error) ||
      !bind_int64(b, st, 6, now, error) || !bind_int64(b, st, 7, now, error) ||
      !bind_opt(b, st, 8, a->service_id, error) || !bind_opt(b, st, 9, a->facility_id, error) ||
      !bind_text(b, st, 10, a->kind, error) || !bind_int64(b, st, 11, a->sequence, error) ||
      !bind_int64(b, st, 12, a->queue_number, error) ||
      !bind_opt(b, st, 13, a->hold_expires_at, error) ||
      !bind_text(b, st, 14, a->cancel_reason, error) ||
      !bind_int64(b, st, 15, buffer_before_s, error) ||
      !bind_int64(b, st, 16, buffer_after_s, error) || !step_done(b, st, "add appointment", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  release(st);
  return id;
}

static gboolean sqlite_appointment_put(SchedBackendDb *b, const SchedAppointment *a, gint64 now,
                                       GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "UPDATE appointments SET status = ?, starts_at = ?, ends_at = ?,"
                             " sequence = ?, hold_expires_at = ?, cancel_reason = ?,"
                             " updated_at = ? WHERE id = ?",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, a->status, error) ||
      !bind_int64(b, st, 2, a->starts_at, error) || !bind_int64(b, st, 3, a->ends_at, error) ||
      !bind_int64(b, st, 4, a->sequence, error) || !bind_opt(b, st, 5, a->hold_expires_at, error) ||
      !bind_text(b, st, 6, a->cancel_reason, error) || !bind_int64(b, st, 7, now, error) ||
      !bind_int64(b, st, 8, a->id, error) || !step_done(b, st, "update appointment", error))
    goto out;
  if (sqlite3_changes(b->db) == 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                "appointment_id: no appointment %" G_GINT64_FORMAT, a->id);
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static GPtrArray *sqlite_appointment_search(SchedBackendDb *b, const SchedAppointmentFilter *f,
                                            GError **error)
{
  g_autoptr(GString) sql = g_string_new(APPOINTMENT_COLUMNS);
  gboolean first = TRUE;
  sqlite3_stmt *st;
  GPtrArray *list = NULL;

  if (f->doctor_id != 0)
    where_add(sql, &first, "a.doctor_id = ?1");
  if (f->patient_id != 0)
    where_add(sql, &first, "a.patient_id = ?2");
  if (f->facility_id != 0)
    where_add(sql, &first, "a.facility_id = ?3");
  if (f->service_id != 0)
    where_add(sql, &first, "a.service_id = ?4");
  if (f->status != NULL)
    where_add(sql, &first, "a.status = ?5");
  if (f->kind != NULL)
    where_add(sql, &first, "a.kind = ?6");
  if (f->from != 0)
    where_add(sql, &first, "a.starts_at >= ?7");
  if (f->to != 0)
    where_add(sql, &first, "a.starts_at < ?8");
  g_string_append(sql, " ORDER BY a.starts_at, a.id LIMIT ?9 OFFSET ?10");
  st = prepare(b, sql->str, error);
  if (st == NULL || (f->doctor_id != 0 && !bind_int64(b, st, 1, f->doctor_id, error)) ||
      (f->patient_id != 0 && !bind_int64(b, st, 2, f->patient_id, error)) ||
      (f->facility_id != 0 && !bind_int64(b, st, 3, f->facility_id, error)) ||
      (f->service_id != 0 && !bind_int64(b, st, 4, f->service_id, error)) ||
      (f->status != NULL && !bind_text(b, st, 5, f->status, error)) ||
      (f->kind != NULL && !bind_text(b, st, 6, f->kind, error)) ||
      (f->from != 0 && !bind_int64(b, st, 7, f->from, error)) ||
      (f->to != 0 && !bind_int64(b, st, 8, f->to, error)) ||
      !bind_int64(b, st, 9, f->limit, error) || !bind_int64(b, st, 10, f->offset, error))
    goto out;
  list = collect(b, st, (RowFn)appointment_from_row, (GDestroyNotify)sched_appointment_free,
                 "search appointments", error);
out:
  release(st);
  return list;
}

static gboolean sqlite_appointment_busy(SchedBackendDb *b, gint64 doctor_id, gint64 from, gint64 to,
                                        gint64 now, gint64 exclude_id, GArray *busy, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT starts_at, ends_at, buffer_before_s, buffer_after_s,"
                             " COALESCE(service_id, 0) FROM appointments"
                             " WHERE doctor_id = ?1 AND starts_at >= ?2 AND starts_at < ?3"
                             " AND kind = 'booked' AND id <> ?5"
                             " AND (status IN ('booked', 'arrived', 'checked-in', 'fulfilled',"
                             " 'noshow') OR (status = 'pending' AND hold_expires_at > ?4))"
                             " ORDER BY starts_at",
                             error);
  gboolean ok = FALSE;
  int rc;

  if (st == NULL || !bind_int64(b, st, 1, doctor_id, error) || !bind_int64(b, st, 2, from, error) ||
      !bind_int64(b, st, 3, to, error) || !bind_int64(b, st, 4, now, error) ||
      !bind_int64(b, st, 5, exclude_id, error))
    goto out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    SchedSlotBusy x = {
        .starts_at = sqlite3_column_int64(st, 0),
        .ends_at = sqlite3_column_int64(st, 1),
        .buffer_before_s = sqlite3_column_int64(st, 2),
        .buffer_after_s = sqlite3_column_int64(st, 3),
        .service_id = sqlite3_column_int64(st, 4),
    };
    g_array_append_val(busy, x);
  }
  if (rc != SQLITE_DONE) {
    set_error(b, error, "busy appointments");
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static gint64 sqlite_appointment_count_kind(SchedBackendDb *b, gint64 doctor_id, const char *kind,
                                            gint64 from, gint64 to, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT COUNT(*) FROM appointments WHERE doctor_id = ? AND"
                             " starts_at >= ? AND starts_at < ? AND kind = ?",
                             error);
  gint64 n = -1;

  if (st == NULL || !bind_int64(b, st, 1, doctor_id, error) || !bind_int64(b, st, 2, from, error) ||
      !bind_int64(b, st, 3, to, error) || !bind_text(b, st, 4, kind, error) ||
      !step_row(b, st, "count appointments", error))
    goto out;
  n = sqlite3_column_int64(st, 0);
out:
  release(st);
  return n;
}

static gboolean collect_ids(SchedBackendDb *b, sqlite3_stmt *st, GArray *ids, const char *what,
                            GError **error)
{
  int rc;

  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    gint64 id = sqlite3_column_int64(st, 0);
    g_array_append_val(ids, id);
  }
  if (rc != SQLITE_DONE) {
    set_error(b, error, what);
    return FALSE;
  }
  return TRUE;
}

static gboolean sqlite_appointment_lapsed_holds(SchedBackendDb *b, gint64 doctor_id, gint64 now,
                                                GArray *ids, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT id FROM appointments WHERE status = 'pending'"
                             " AND hold_expires_at <= ?1 AND (?2 IS NULL OR doctor_id = ?2)"
                             " ORDER BY id",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, now, error) || !bind_opt(b, st, 2, doctor_id, error) ||
      !collect_ids(b, st, ids, "lapsed holds", error))
    goto out;
  ok = TRUE;
out:
  release(st);
  return ok;
}

static gboolean sqlite_appointment_ids_by_status(SchedBackendDb *b, const char *status, gint64 from,
                                                 gint64 to, GArray *ids, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT id FROM appointments WHERE status = ? AND starts_at >= ?"
                             " AND starts_at < ? AND kind = 'booked' ORDER BY starts_at, id",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, status, error) || !bind_int64(b, st, 2, from, error) ||
      !bind_int64(b, st, 3, to, error) || !collect_ids(b, st, ids, "appointments by status", error))
    goto out;
  ok = TRUE;
out:
  release(st);
  return ok;
}

static SchedAppointment *sqlite_appointment_next_for_phone(SchedBackendDb *b, const char *digits,
                                                           gint64 now, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             APPOINTMENT_COLUMNS
                             "WHERE a.patient_id IN (SELECT id FROM patients WHERE " PHONE_DIGITS
                             " = ?1) AND a.status IN ('booked', 'arrived', 'checked-in')"
                             " AND a.ends_at > ?2 ORDER BY a.starts_at, a.id LIMIT 1",
                             error);
  SchedAppointment *a = NULL;

  if (st == NULL || !bind_text(b, st, 1, digits, error) || !bind_int64(b, st, 2, now, error) ||
      !step_row(b, st, "next appointment", error))
    goto out;
  a = appointment_from_row(st);
out:
  release(st);
  return a;
}

/* Waitlist */

#define WAITLIST_COLUMNS                                                                           \
  "SELECT id, patient_id, service_id, COALESCE(doctor_id, 0), COALESCE(not_before, 0),"            \
  " COALESCE(not_after, 0), status, COALESCE(offered_appointment_id, 0), created_at"               \
  " FROM waitlist "

static gpointer waitlist_row(sqlite3_stmt *st)
{
  SchedWaitlistEntry *w = g_new0(SchedWaitlistEntry, 1);

  w->id = sqlite3_column_int64(st, 0);
  w->patient_id = sqlite3_column_int64(st, 1);
  w->service_id = sqlite3_column_int64(st, 2);
  w->doctor_id = sqlite3_column_int64(st, 3);
  w->not_before = sqlite3_column_int64(st, 4);
  w->not_after = sqlite3_column_int64(st, 5);
  w->status = column_strdup(st, 6);
  w->offered_appointment_id = sqlite3_column_int64(st, 7);
  w->created_at = sqlite3_column_int64(st, 8);
  return w;
}

static gint64 sqlite_waitlist_insert(SchedBackendDb *b, const SchedWaitlistEntry *w, gint64 now,
                                     GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO waitlist (patient_id, service_id, doctor_id, not_before,"
                             " not_after, status, created_at, updated_at)"
                             " VALUES (?, ?, ?, ?, ?, 'waiting', ?, ?)",
                             error);
  gint64 id = 0;

  if (st == NULL || !bind_int64(b, st, 1, w->patient_id, error) ||
      !bind_int64(b, st, 2, w->service_id, error) || !bind_opt(b, st, 3, w->doctor_id, error) ||
      !bind_opt(b, st, 4, w->not_before, error) || !bind_opt(b, st, 5, w->not_after, error) ||
      !bind_int64(b, st, 6, now, error) || !bind_int64(b, st, 7, now, error) ||
      !step_done(b, st, "add to waitlist", error))
    goto out;
  id = sqlite3_last_insert_rowid(b->db);
out:
  release(st);
  return id;
}

static SchedWaitlistEntry *waitlist_one(SchedBackendDb *b, sqlite3_stmt *st, const char *field,
                                        gint64 id, GError **error)
{
  int rc = sqlite3_step(st);

  if (rc == SQLITE_ROW)
    return waitlist_row(st);
  if (rc == SQLITE_DONE)
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                "%s: no waitlist entry for %" G_GINT64_FORMAT, field, id);
  else
    set_error(b, error, "waitlist");
  return NULL;
}

static SchedWaitlistEntry *sqlite_waitlist_get(SchedBackendDb *b, gint64 id, GError **error)
{
  sqlite3_stmt *st = prepare(b, WAITLIST_COLUMNS "WHERE id = ?", error);
  SchedWaitlistEntry *w = NULL;

  if (st != NULL && bind_int64(b, st, 1, id, error))
    w = waitlist_one(b, st, "waitlist_id", id, error);
  release(st);
  return w;
}

static GPtrArray *sqlite_waitlist_list(SchedBackendDb *b, gint64 service_id, const char *status,
                                       GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             WAITLIST_COLUMNS "WHERE (?1 IS NULL OR service_id = ?1)"
                                              " AND (?2 IS NULL OR status = ?2) ORDER BY id",
                             error);
  GPtrArray *list = NULL;

  if (st == NULL || !bind_opt(b, st, 1, service_id, error) || !bind_text(b, st, 2, status, error))
    goto out;
  list = collect(b, st, waitlist_row, (GDestroyNotify)sched_waitlist_entry_free, "list waitlist",
                 error);
out:
  release(st);
  return list;
}

static gboolean sqlite_waitlist_update(SchedBackendDb *b, gint64 id, const char *status,
                                       gint64 offered_appointment_id, gint64 now, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "UPDATE waitlist SET status = ?, offered_appointment_id = ?,"
                             " updated_at = ? WHERE id = ?",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, status, error) ||
      !bind_opt(b, st, 2, offered_appointment_id, error) || !bind_int64(b, st, 3, now, error) ||
      !bind_int64(b, st, 4, id, error) || !step_done(b, st, "update waitlist", error))
    goto out;
  if (sqlite3_changes(b->db) == 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                "waitlist_id: no waitlist entry %" G_GINT64_FORMAT, id);
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static SchedWaitlistEntry *sqlite_waitlist_first_match(SchedBackendDb *b, gint64 service_id,
                                                       gint64 doctor_id, gint64 starts_at,
                                                       gint64 exclude_patient_id, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             WAITLIST_COLUMNS "WHERE service_id = ?1 AND status = 'waiting'"
                                              " AND (doctor_id IS NULL OR doctor_id = ?2)"
                                              " AND (not_before IS NULL OR not_before <= ?3)"
                                              " AND (not_after IS NULL OR not_after > ?3)"
                                              " AND patient_id <> ?4 ORDER BY id LIMIT 1",
                             error);
  SchedWaitlistEntry *w = NULL;

  if (st != NULL && bind_int64(b, st, 1, service_id, error) &&
      bind_int64(b, st, 2, doctor_id, error) && bind_int64(b, st, 3, starts_at, error) &&
      bind_int64(b, st, 4, exclude_patient_id, error))
    w = waitlist_one(b, st, "service_id", service_id, error);
  release(st);
  return w;
}

static SchedWaitlistEntry *sqlite_waitlist_find_offer(SchedBackendDb *b, gint64 appointment_id,
                                                      GError **error)
{
  sqlite3_stmt *st = prepare(b, WAITLIST_COLUMNS "WHERE offered_appointment_id = ?", error);
  SchedWaitlistEntry *w = NULL;

  if (st != NULL && bind_int64(b, st, 1, appointment_id, error))
    w = waitlist_one(b, st, "appointment_id", appointment_id, error);
  release(st);
  return w;
}

/* Outbox */

#define OUTBOX_COLUMNS                                                                             \
  "id, kind, COALESCE(appointment_id, 0), recipient, language, body, dedupe_key, due_at,"          \
  " attempts, next_attempt_at, leased_until, COALESCE(sent_at, 0), COALESCE(failed_at, 0),"        \
  " last_error"

static gpointer outbox_row(sqlite3_stmt *st)
{
  SchedOutboxItem *o = g_new0(SchedOutboxItem, 1);

  o->id = sqlite3_column_int64(st, 0);
  o->kind = column_strdup(st, 1);
  o->appointment_id = sqlite3_column_int64(st, 2);
  o->recipient = column_strdup(st, 3);
  o->language = column_strdup(st, 4);
  o->body = column_strdup(st, 5);
  o->dedupe_key = column_strdup(st, 6);
  o->due_at = sqlite3_column_int64(st, 7);
  o->attempts = sqlite3_column_int64(st, 8);
  o->next_attempt_at = sqlite3_column_int64(st, 9);
  o->leased_until = sqlite3_column_int64(st, 10);
  o->sent_at = sqlite3_column_int64(st, 11);
  o->failed_at = sqlite3_column_int64(st, 12);
  o->last_error = column_strdup(st, 13);
  return o;
}

static gboolean sqlite_outbox_insert(SchedBackendDb *b, const SchedOutboxItem *o, gint64 now,
                                     gboolean *inserted, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO outbox (kind, appointment_id, recipient, language, body,"
                             " dedupe_key, due_at, failed_at, last_error, created_at)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                             " ON CONFLICT (dedupe_key) DO NOTHING",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, o->kind, error) ||
      !bind_opt(b, st, 2, o->appointment_id, error) || !bind_text(b, st, 3, o->recipient, error) ||
      !bind_text(b, st, 4, o->language, error) || !bind_text(b, st, 5, o->body, error) ||
      !bind_text(b, st, 6, o->dedupe_key, error) || !bind_int64(b, st, 7, o->due_at, error) ||
      !bind_opt(b, st, 8, o->failed_at, error) || !bind_text(b, st, 9, o->last_error, error) ||
      !bind_int64(b, st, 10, now, error) || !step_done(b, st, "queue notice", error))
    goto out;
  *inserted = sqlite3_changes(b->db) > 0;
  ok = TRUE;
out:
  release(st);
  return ok;
}

static gint outbox_cmp(gconstpointer a, gconstpointer b)
{
  const SchedOutboxItem *x = *(SchedOutboxItem *const *)a, *y = *(SchedOutboxItem *const *)b;

  if (x->due_at != y->due_at)
    return x->due_at < y->due_at ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static GPtrArray *sqlite_outbox_claim(SchedBackendDb *b, gint64 now, guint max, gint64 lease_s,
                                      GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "UPDATE outbox SET leased_until = ?1 + ?3, attempts = attempts + 1"
                             " WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND"
                             " failed_at IS NULL AND due_at <= ?1 AND next_attempt_at <= ?1"
                             " AND leased_until <= ?1 ORDER BY due_at, id LIMIT ?2)"
                             " RETURNING " OUTBOX_COLUMNS,
                             error);
  GPtrArray *list = NULL;

  if (st == NULL || !bind_int64(b, st, 1, now, error) || !bind_int64(b, st, 2, max, error) ||
      !bind_int64(b, st, 3, lease_s, error))
    goto out;
  list = collect(b, st, outbox_row, (GDestroyNotify)sched_outbox_item_free, "claim notices", error);
  if (list != NULL)
    g_ptr_array_sort(list, outbox_cmp);
out:
  release(st);
  return list;
}

static gboolean sqlite_outbox_done(SchedBackendDb *b, gint64 id, gint64 now, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "UPDATE outbox SET sent_at = COALESCE(sent_at, ?), body = '',"
                             " leased_until = 0 WHERE id = ?",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, now, error) || !bind_int64(b, st, 2, id, error) ||
      !step_done(b, st, "notice sent", error))
    goto out;
  if (sqlite3_changes(b->db) == 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "outbox_id: no notice %" G_GINT64_FORMAT,
                id);
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static gboolean sqlite_outbox_failed(SchedBackendDb *b, gint64 id, gint64 now,
                                     const char *error_text, gint64 retry_at, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "UPDATE outbox SET last_error = ?, leased_until = 0,"
                             " next_attempt_at = ?, failed_at = ? WHERE id = ? AND sent_at IS NULL",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_text(b, st, 1, error_text, error) ||
      !bind_int64(b, st, 2, retry_at > 0 ? retry_at : 0, error) ||
      !bind_opt(b, st, 3, retry_at > 0 ? 0 : now, error) || !bind_int64(b, st, 4, id, error) ||
      !step_done(b, st, "notice failed", error))
    goto out;
  if (sqlite3_changes(b->db) == 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                "outbox_id: no unsent notice %" G_GINT64_FORMAT, id);
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static GPtrArray *sqlite_outbox_list(SchedBackendDb *b, gint64 appointment_id, guint limit,
                                     GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT " OUTBOX_COLUMNS " FROM outbox"
                             " WHERE ?1 IS NULL OR appointment_id = ?1 ORDER BY id LIMIT ?2",
                             error);
  GPtrArray *list = NULL;

  if (st == NULL || !bind_opt(b, st, 1, appointment_id, error) ||
      !bind_int64(b, st, 2, limit, error))
    goto out;
  list = collect(b, st, outbox_row, (GDestroyNotify)sched_outbox_item_free, "list notices", error);
out:
  release(st);
  return list;
}

/* --- Since schema 4: call quality ----------------------------------------------------------- */

static gboolean sqlite_patient_set_audio_only(SchedBackendDb *b, gint64 patient_id,
                                              gboolean audio_only, GError **error)
{
  sqlite3_stmt *st = prepare(b, "UPDATE patients SET prefers_audio_only = ? WHERE id = ?", error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, audio_only ? 1 : 0, error) ||
      !bind_int64(b, st, 2, patient_id, error) || !step_done(b, st, "set audio only", error))
    goto out;
  if (sqlite3_changes(b->db) == 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                "patient_id: no patient %" G_GINT64_FORMAT, patient_id);
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static gboolean bind_double(SchedBackendDb *b, sqlite3_stmt *st, int i, double v, GError **error)
{
  if (sqlite3_bind_double(st, i, v) != SQLITE_OK) {
    set_error(b, error, "bind");
    return FALSE;
  }
  return TRUE;
}

static gboolean sqlite_quality_put(SchedBackendDb *b, const SchedCallQuality *q, GError **error)
{
  sqlite3_stmt *st = prepare(
      b,
      "INSERT INTO consultation_quality (appointment_id, role, samples, avg_score, avg_loss,"
      " avg_rtt_ms, avg_video_kbps, audio_only_weak_s, audio_only_chosen_s, updated_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (appointment_id, role) DO UPDATE SET"
      " samples = excluded.samples, avg_score = excluded.avg_score,"
      " avg_loss = excluded.avg_loss, avg_rtt_ms = excluded.avg_rtt_ms,"
      " avg_video_kbps = excluded.avg_video_kbps,"
      " audio_only_weak_s = excluded.audio_only_weak_s,"
      " audio_only_chosen_s = excluded.audio_only_chosen_s, updated_at = excluded.updated_at",
      error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, q->appointment_id, error) ||
      !bind_text(b, st, 2, q->role, error) || !bind_int64(b, st, 3, q->samples, error) ||
      !bind_double(b, st, 4, q->avg_score, error) || !bind_double(b, st, 5, q->avg_loss, error) ||
      !bind_double(b, st, 6, q->avg_rtt_ms, error) ||
      !bind_double(b, st, 7, q->avg_video_kbps, error) ||
      !bind_int64(b, st, 8, q->audio_only_weak_s, error) ||
      !bind_int64(b, st, 9, q->audio_only_chosen_s, error) ||
      !bind_int64(b, st, 10, q->updated_at, error))
    goto out;
  if (sqlite3_step(st) != SQLITE_DONE) {
    if (sqlite3_extended_errcode(b->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
      g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                  "appointment_id: no appointment %" G_GINT64_FORMAT, q->appointment_id);
    else
      set_error(b, error, "put call quality");
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static gpointer quality_row(sqlite3_stmt *st)
{
  SchedCallQuality *q = g_new0(SchedCallQuality, 1);

  q->appointment_id = sqlite3_column_int64(st, 0);
  q->role = column_strdup(st, 1);
  q->samples = sqlite3_column_int64(st, 2);
  q->avg_score = sqlite3_column_double(st, 3);
  q->avg_loss = sqlite3_column_double(st, 4);
  q->avg_rtt_ms = sqlite3_column_double(st, 5);
  q->avg_video_kbps = sqlite3_column_double(st, 6);
  q->audio_only_weak_s = sqlite3_column_int64(st, 7);
  q->audio_only_chosen_s = sqlite3_column_int64(st, 8);
  q->updated_at = sqlite3_column_int64(st, 9);
  return q;
}

static GPtrArray *sqlite_quality_list(SchedBackendDb *b, gint64 appointment_id, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT appointment_id, role, samples, avg_score, avg_loss,"
                             " avg_rtt_ms, avg_video_kbps, audio_only_weak_s,"
                             " audio_only_chosen_s, updated_at FROM consultation_quality"
                             " WHERE appointment_id = ? ORDER BY role",
                             error);
  GPtrArray *list = NULL;

  if (st == NULL || !bind_int64(b, st, 1, appointment_id, error))
    goto out;
  list = collect(b, st, quality_row, (GDestroyNotify)sched_call_quality_free, "list call quality",
                 error);
out:
  release(st);
  return list;
}

/* --- Audit log and retention (schema 5) ------------------------------------------------------ */

static gboolean bind_id_or_null(SchedBackendDb *b, sqlite3_stmt *st, int i, gint64 v,
                                GError **error)
{
  return bind_time_or_null(b, st, i, v, error);
}

static gboolean sqlite_audit_head(SchedBackendDb *b, gint64 *id, char **hash, GError **error)
{
  sqlite3_stmt *st = prepare(b, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", error);
  gboolean ok = FALSE;
  int rc;

  *id = 0;
  *hash = NULL;
  if (st == NULL)
    goto out;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    *hash = column_strdup(st, 1);
  } else if (rc != SQLITE_DONE) {
    set_error(b, error, "audit head");
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static gboolean sqlite_audit_insert(SchedBackendDb *b, const SchedAuditRecord *r, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO audit_log (id, at_ms, actor_kind, actor_id, actor_role,"
                             " appointment_id, action, object_type, object_id, detail, address,"
                             " outcome, prev_hash, hash)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, r->id, error) || !bind_int64(b, st, 2, r->at_ms, error) ||
      !bind_text(b, st, 3, r->actor_kind, error) ||
      !bind_id_or_null(b, st, 4, r->actor_id, error) ||
      !bind_text(b, st, 5, r->actor_role, error) ||
      !bind_id_or_null(b, st, 6, r->appointment_id, error) ||
      !bind_text(b, st, 7, r->action, error) || !bind_text(b, st, 8, r->object_type, error) ||
      !bind_id_or_null(b, st, 9, r->object_id, error) || !bind_text(b, st, 10, r->detail, error) ||
      !bind_text(b, st, 11, r->address, error) || !bind_text(b, st, 12, r->outcome, error) ||
      !bind_text(b, st, 13, r->prev_hash, error) || !bind_text(b, st, 14, r->hash, error) ||
      !step_done(b, st, "append audit row", error))
    goto out;
  ok = TRUE;
out:
  release(st);
  return ok;
}

#define AUDIT_COLUMNS                                                                              \
  "id, at_ms, actor_kind, actor_id, actor_role, appointment_id, action, object_type, object_id,"   \
  " detail, address, outcome, prev_hash, hash"

static SchedAuditRecord *audit_row(sqlite3_stmt *st)
{
  SchedAuditRecord *r = g_new0(SchedAuditRecord, 1);

  r->id = sqlite3_column_int64(st, 0);
  r->at_ms = sqlite3_column_int64(st, 1);
  r->actor_kind = column_strdup(st, 2);
  r->actor_id = sqlite3_column_int64(st, 3);
  r->actor_role = column_strdup(st, 4);
  r->appointment_id = sqlite3_column_int64(st, 5);
  r->action = column_strdup(st, 6);
  r->object_type = column_strdup(st, 7);
  r->object_id = sqlite3_column_int64(st, 8);
  r->detail = column_strdup(st, 9);
  r->address = column_strdup(st, 10);
  r->outcome = column_strdup(st, 11);
  r->prev_hash = column_strdup(st, 12);
  r->hash = column_strdup(st, 13);
  return r;
}

static gboolean sqlite_audit_scan(SchedBackendDb *b, gint64 after_id, guint limit, GPtrArray *out,
                                  GError **error)
{
  sqlite3_stmt *st =
      prepare(b, "SELECT " AUDIT_COLUMNS " FROM audit_log WHERE id > ? ORDER BY id LIMIT ?", error);
  gboolean ok = FALSE;
  int rc;

  if (st == NULL || !bind_int64(b, st, 1, after_id, error) || !bind_int64(b, st, 2, limit, error))
    goto out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    g_ptr_array_add(out, audit_row(st));
  if (rc != SQLITE_DONE) {
    set_error(b, error, "scan audit log");
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static GPtrArray *sqlite_audit_list(SchedBackendDb *b, const SchedAuditFilter *f, GError **error)
{
  /* The WHERE names only the filters set, so SQLite can use audit_log_by_object,
   * _by_actor or _by_appointment (an "?1 = 0 OR …" form would scan the table); one cached
   * statement per combination. Parameters keep their numbers whichever are used. */
  g_autoptr(GString) sql = g_string_new("SELECT " AUDIT_COLUMNS " FROM audit_log WHERE 1");
  sqlite3_stmt *st;
  GPtrArray *list = NULL;
  int rc;

  if (f->before_id)
    g_string_append(sql, " AND id < ?1");
  if (f->actor_kind)
    g_string_append(sql, " AND actor_kind = ?2");
  if (f->actor_id)
    g_string_append(sql, " AND actor_id = ?3");
  if (f->object_type)
    g_string_append(sql, " AND object_type = ?4");
  if (f->object_id)
    g_string_append(sql, " AND object_id = ?5");
  if (f->appointment_id)
    g_string_append(sql, " AND (appointment_id = ?6 OR (object_type = 'appointment' AND"
                         " object_id = ?6))");
  if (f->from_ms)
    g_string_append(sql, " AND at_ms >= ?7");
  if (f->to_ms)
    g_string_append(sql, " AND at_ms < ?8");
  g_string_append(sql, " ORDER BY id DESC LIMIT ?9");
  st = prepare(b, sql->str, error);
  if (st == NULL || (f->before_id && !bind_int64(b, st, 1, f->before_id, error)) ||
      (f->actor_kind && !bind_text(b, st, 2, f->actor_kind, error)) ||
      (f->actor_id && !bind_int64(b, st, 3, f->actor_id, error)) ||
      (f->object_type && !bind_text(b, st, 4, f->object_type, error)) ||
      (f->object_id && !bind_int64(b, st, 5, f->object_id, error)) ||
      (f->appointment_id && !bind_int64(b, st, 6, f->appointment_id, error)) ||
      (f->from_ms && !bind_int64(b, st, 7, f->from_ms, error)) ||
      (f->to_ms && !bind_int64(b, st, 8, f->to_ms, error)) ||
      !bind_int64(b, st, 9, f->limit, error))
    goto out;
  list = g_ptr_array_new_with_free_func((GDestroyNotify)sched_audit_record_free);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    g_ptr_array_add(list, audit_row(st));
  if (rc != SQLITE_DONE) {
    set_error(b, error, "list audit log");
    g_clear_pointer(&list, g_ptr_array_unref);
  }
out:
  release(st);
  return list;
}

static gboolean sqlite_audit_guarded(SchedBackendDb *b, gboolean *guarded, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND"
                             " tbl_name = 'audit_log' AND name IN ('audit_log_no_update',"
                             " 'audit_log_no_delete')",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !step_row(b, st, "audit triggers", error))
    goto out;
  *guarded = sqlite3_column_int(st, 0) == 2;
  ok = TRUE;
out:
  release(st);
  return ok;
}

/* Runs one retention statement binding (?1 cutoff, ?2 now) as it uses them; adds its changes. */
static gboolean retention_step(SchedBackendDb *b, const char *sql, gint64 cutoff, gint64 now,
                               gint64 *count, GError **error)
{
  sqlite3_stmt *st = prepare(b, sql, error);
  gboolean ok = FALSE;
  int n = st != NULL ? sqlite3_bind_parameter_count(st) : 0;

  if (st == NULL || (n >= 1 && !bind_int64(b, st, 1, cutoff, error)) ||
      (n >= 2 && !bind_int64(b, st, 2, now, error)) || !step_done(b, st, "retention", error))
    goto out;
  *count += sqlite3_changes64(b->db);
  ok = TRUE;
out:
  release(st);
  return ok;
}

static gboolean sqlite_retention_apply(SchedBackendDb *b, gint64 cutoff, gint64 now,
                                       SchedRetentionCounts *c, GError **error)
{
  /* Patients: only once nothing of theirs is recent or still pending. */
  return retention_step(
             b,
             "UPDATE patients SET display_name = '', phone = NULL,"
             " preferred_language = NULL, erased_at = ?2"
             " WHERE erased_at IS NULL AND created_at < ?1"
             " AND NOT EXISTS (SELECT 1 FROM appointments a"
             "   WHERE a.patient_id = patients.id AND a.ends_at >= ?1)"
             " AND NOT EXISTS (SELECT 1 FROM waitlist w"
             "   WHERE w.patient_id = patients.id AND w.status IN ('waiting', 'offered'))",
             cutoff, now, &c->patients, error) &&
         retention_step(b,
                        "DELETE FROM join_tokens WHERE appointment_id IN"
                        " (SELECT id FROM appointments WHERE ends_at < ?1)",
                        cutoff, now, &c->tokens, error) &&
         /* The statistics' triggers see the reason change; "hold expired" (which they count
          * apart) is kept, every other reason counts the same as none. */
         retention_step(b,
                        "UPDATE appointments SET cancel_reason = NULL WHERE ends_at < ?1"
                        " AND cancel_reason IS NOT NULL AND cancel_reason <> 'hold expired'",
                        cutoff, now, &c->appointments, error) &&
         retention_step(b,
                        "UPDATE outbox SET recipient = NULL, body = '' WHERE created_at < ?1"
                        " AND (recipient IS NOT NULL OR body <> '')",
                        cutoff, now, &c->notices, error) &&
         retention_step(b, "DELETE FROM staff_sessions WHERE expires_at <= ?2 AND ?1 = ?1", cutoff,
                        now, &c->sessions, error) &&
         sched__clinical_sqlite_retention(b, cutoff, &c->clinical, error) &&
         /* Schema 6: a rating's comment is free text (personal data); the stars stay. */
         retention_step(b,
                        "UPDATE consultation_ratings SET comment = NULL WHERE comment IS NOT NULL"
                        " AND appointment_id IN (SELECT id FROM appointments WHERE ends_at < ?1)"
                        " AND ?2 = ?2",
                        cutoff, now, &c->comments, error);
}

/* --- Since schema 6: the patient's page (consent, rating, doctors' recent durations) -------- */

static gboolean sqlite_consent_insert(SchedBackendDb *b, const SchedConsent *c, GError **error)
{
  /* Accepting the same version again keeps the first acceptance. */
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO consent_records (appointment_id, token_role, version,"
                             " language, accepted_at) VALUES (?, ?, ?, ?, ?)"
                             " ON CONFLICT (appointment_id, token_role, version) DO NOTHING",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, c->appointment_id, error) ||
      !bind_text(b, st, 2, c->role, error) || !bind_text(b, st, 3, c->version, error) ||
      !bind_text(b, st, 4, c->language, error) || !bind_int64(b, st, 5, c->accepted_at, error))
    goto out;
  if (sqlite3_step(st) != SQLITE_DONE) {
    if (sqlite3_extended_errcode(b->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
      g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                  "appointment_id: no appointment %" G_GINT64_FORMAT, c->appointment_id);
    else
      set_error(b, error, "record consent");
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static SchedConsent *sqlite_consent_latest(SchedBackendDb *b, gint64 appointment_id,
                                           const char *role, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT appointment_id, token_role, version, language, accepted_at"
                             " FROM consent_records WHERE appointment_id = ? AND token_role = ?"
                             " ORDER BY accepted_at DESC, id DESC LIMIT 1",
                             error);
  SchedConsent *c = NULL;

  if (st == NULL || !bind_int64(b, st, 1, appointment_id, error) ||
      !bind_text(b, st, 2, role, error) || !step_row(b, st, "consent", error))
    goto out;
  c = g_new0(SchedConsent, 1);
  c->appointment_id = sqlite3_column_int64(st, 0);
  c->role = column_strdup(st, 1);
  c->version = column_strdup(st, 2);
  c->language = column_strdup(st, 3);
  c->accepted_at = sqlite3_column_int64(st, 4);
out:
  release(st);
  return c;
}

static gboolean sqlite_rating_insert(SchedBackendDb *b, const SchedRating *r, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "INSERT INTO consultation_ratings (appointment_id, stars, comment,"
                             " rated_at) VALUES (?, ?, ?, ?)",
                             error);
  gboolean ok = FALSE;

  if (st == NULL || !bind_int64(b, st, 1, r->appointment_id, error) ||
      !bind_int64(b, st, 2, r->stars, error) || !bind_text(b, st, 3, r->comment, error) ||
      !bind_int64(b, st, 4, r->rated_at, error))
    goto out;
  if (sqlite3_step(st) != SQLITE_DONE) {
    int rc = sqlite3_extended_errcode(b->db);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
      g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND,
                  "appointment_id: no appointment %" G_GINT64_FORMAT, r->appointment_id);
    else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
      g_set_error(error, SCHED_ERROR, SCHED_ERROR_CONFLICT, "appointment_id: already rated");
    else
      set_error(b, error, "rate");
    goto out;
  }
  ok = TRUE;
out:
  release(st);
  return ok;
}

static SchedRating *sqlite_rating_get(SchedBackendDb *b, gint64 appointment_id, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT appointment_id, stars, comment, rated_at"
                             " FROM consultation_ratings WHERE appointment_id = ?",
                             error);
  SchedRating *r = NULL;

  if (st == NULL || !bind_int64(b, st, 1, appointment_id, error) ||
      !step_row(b, st, "rating", error))
    goto out;
  r = g_new0(SchedRating, 1);
  r->appointment_id = sqlite3_column_int64(st, 0);
  r->stars = sqlite3_column_int(st, 1);
  r->comment = column_strdup(st, 2);
  r->rated_at = sqlite3_column_int64(st, 3);
out:
  release(st);
  return r;
}

static gboolean sqlite_doctor_durations(SchedBackendDb *b, gint64 doctor_id, gint64 since,
                                        guint limit, GArray *out, GError **error)
{
  sqlite3_stmt *st = prepare(b,
                             "SELECT c.ended_at - c.started_at FROM consultations c"
                             " JOIN appointments a ON a.id = c.appointment_id"
                             " WHERE a.doctor_id = ? AND c.started_at IS NOT NULL"
                             " AND c.ended_at > c.started_at AND c.ended_at >= ?"
                             " ORDER BY c.ended_at DESC LIMIT ?",
                             error);
  gboolean ok = FALSE;
  int rc;

  if (st == NULL || !bind_int64(b, st, 1, doctor_id, error) ||
      !bind_int64(b, st, 2, since, error) || !bind_int64(b, st, 3, limit, error))
    goto out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    gint64 d = sqlite3_column_int64(st, 0);
    g_array_append_val(out, d);
  }
  if (rc != SQLITE_DONE) {
    set_error(b, error, "doctor durations");
    goto out;
  }
  ok = TRUE;
out:
  release(st);
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
    .patient_exists = sqlite_patient_exists,
    .appointment_insert = sqlite_appointment_insert,
    .appointment_get = sqlite_appointment_get,
    .appointment_list_for_doctor = sqlite_appointment_list_for_doctor,
    .appointment_update_status = sqlite_appointment_update_status,
    .token_insert = sqlite_token_insert,
    .token_find = sqlite_token_find,
    .consultation_get = sqlite_consultation_get,
    .consultation_put = sqlite_consultation_put,
    .integrity_check = sqlite_integrity_check,
    .facility_insert = sqlite_facility_insert,
    .facility_get = sqlite_facility_get,
    .facility_list = sqlite_facility_list,
    .staff_list = sqlite_staff_list,
    .doctor_profile_put = sqlite_doctor_profile_put,
    .doctor_get = sqlite_doctor_get,
    .doctor_list = sqlite_doctor_list,
    .service_insert = sqlite_service_insert,
    .service_get = sqlite_service_get,
    .service_list = sqlite_service_list,
    .availability_insert = sqlite_availability_insert,
    .availability_list = sqlite_availability_list,
    .availability_search = sqlite_availability_search,
    .availability_delete = sqlite_availability_delete,
    .break_insert = sqlite_break_insert,
    .break_list = sqlite_break_list,
    .break_delete = sqlite_break_delete,
    .exception_insert = sqlite_exception_insert,
    .exception_list = sqlite_exception_list,
    .exception_delete = sqlite_exception_delete,
    .patient_insert_full = sqlite_patient_insert_full,
    .patient_get = sqlite_patient_get,
    .patient_search = sqlite_patient_search,
    .patient_set_language = sqlite_patient_set_language,
    .appointment_insert_full = sqlite_appointment_insert_full,
    .appointment_put = sqlite_appointment_put,
    .appointment_search = sqlite_appointment_search,
    .appointment_busy = sqlite_appointment_busy,
    .appointment_count_kind = sqlite_appointment_count_kind,
    .appointment_lapsed_holds = sqlite_appointment_lapsed_holds,
    .appointment_ids_by_status = sqlite_appointment_ids_by_status,
    .appointment_next_for_phone = sqlite_appointment_next_for_phone,
    .waitlist_insert = sqlite_waitlist_insert,
    .waitlist_get = sqlite_waitlist_get,
    .waitlist_list = sqlite_waitlist_list,
    .waitlist_update = sqlite_waitlist_update,
    .waitlist_first_match = sqlite_waitlist_first_match,
    .waitlist_find_offer = sqlite_waitlist_find_offer,
    .outbox_insert = sqlite_outbox_insert,
    .outbox_claim = sqlite_outbox_claim,
    .outbox_done = sqlite_outbox_done,
    .outbox_failed = sqlite_outbox_failed,
    .outbox_list = sqlite_outbox_list,
    .batch_begin = sqlite_batch_begin,
    .batch_commit = sqlite_batch_commit,
    .batch_pending = sqlite_batch_pending,
    .patient_set_audio_only = sqlite_patient_set_audio_only,
    .quality_put = sqlite_quality_put,
    .quality_list = sqlite_quality_list,
    .audit_head = sqlite_audit_head,
    .audit_insert = sqlite_audit_insert,
    .audit_scan = sqlite_audit_scan,
    .audit_list = sqlite_audit_list,
    .audit_guarded = sqlite_audit_guarded,
    .retention_apply = sqlite_retention_apply,
    .consent_insert = sqlite_consent_insert,
    .consent_latest = sqlite_consent_latest,
    .rating_insert = sqlite_rating_insert,
    .rating_get = sqlite_rating_get,
    .doctor_durations = sqlite_doctor_durations,
};

void *sched__sqlite_handle(SchedBackendDb *b)
{
  return b->db;
}
