/* sched-clinical-sqlite.c — the SQLite side of a consultation's clinical content
 * (sched-clinical-backend.h): migration 7 and its reads and writes.
 *
 * Four tables, each keyed by the appointment: consultation_messages (chat), consultation_
 * attachments (photos of documents, the bytes in a BLOB: a photo is at most 2 MB after the
 * page has shrunk it, and keeping it in the database keeps backups, retention and the audit
 * trail in one place), consultation_notes (one row per appointment: the doctor's private
 * notes) and consultation_advice (what the patient was told, in order). Statements are
 * prepared per call (these are not hot paths) and finalized at each function's `out:`.
 * Main loop's thread only. */
#include "sched-clinical-backend.h"
#include "sched-stats-backend.h" /* sched__sqlite_handle */

#include <sqlite3.h>

#define ROLES "('patient', 'doctor', 'interpreter', 'specialist', 'family', 'admin')"

const char sched__clinical_migration_sql[] =
    "CREATE TABLE consultation_messages ("
    "  id INTEGER PRIMARY KEY,"
    "  appointment_id INTEGER NOT NULL REFERENCES appointments(id),"
    "  sent_at_ms INTEGER NOT NULL,"
    "  sender_role TEXT NOT NULL CHECK (sender_role IN " ROLES "),"
    "  sender_name TEXT NOT NULL,"
    "  body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 1000)"
    ") STRICT;"
    "CREATE INDEX consultation_messages_by_appointment ON consultation_messages(appointment_id, "
    "id);"
    "CREATE TABLE consultation_attachments ("
    "  id INTEGER PRIMARY KEY,"
    "  appointment_id INTEGER NOT NULL REFERENCES appointments(id),"
    "  uploaded_at INTEGER NOT NULL,"
    "  uploader_role TEXT NOT NULL CHECK (uploader_role IN " ROLES "),"
    "  media_type TEXT NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),"
    "  size INTEGER NOT NULL CHECK (size BETWEEN 1 AND 2097152),"
    "  data BLOB NOT NULL"
    ") STRICT;"
    "CREATE INDEX consultation_attachments_by_appointment"
    "  ON consultation_attachments(appointment_id, id);"
    "CREATE TABLE consultation_notes ("
    "  appointment_id INTEGER PRIMARY KEY REFERENCES appointments(id),"
    "  doctor_id INTEGER NOT NULL REFERENCES staff(id),"
    "  body TEXT NOT NULL CHECK (length(body) <= 8000),"
    "  updated_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE consultation_advice ("
    "  id INTEGER PRIMARY KEY,"
    "  appointment_id INTEGER NOT NULL REFERENCES appointments(id),"
    "  given_at INTEGER NOT NULL,"
    "  body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4000)"
    ") STRICT;"
    "CREATE INDEX consultation_advice_by_appointment ON consultation_advice(appointment_id, id);";

static sqlite3_stmt *prep(SchedBackendDb *b, const char *sql, GError **error)
{
  sqlite3 *db = sched__sqlite_handle(b);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "prepare: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return NULL;
  }
  return st;
}

/* Sets `error` after a failed step: an unknown appointment (or doctor) is NOT_FOUND. The
 * messages name tables and columns, never values. */
static void step_error(SchedBackendDb *b, const char *what, GError **error)
{
  sqlite3 *db = sched__sqlite_handle(b);
  if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_FOREIGNKEY)
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "appointment_id: no such appointment");
  else
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "%s: %s (%d)", what, sqlite3_errmsg(db),
                sqlite3_extended_errcode(db));
}

static gint64 insert_done(SchedBackendDb *b, sqlite3_stmt *st, const char *what, GError **error)
{
  if (sqlite3_step(st) != SQLITE_DONE) {
    step_error(b, what, error);
    return 0;
  }
  return sqlite3_last_insert_rowid(sched__sqlite_handle(b));
}

static char *col_text(sqlite3_stmt *st, int i)
{
  return g_strdup((const char *)sqlite3_column_text(st, i));
}

static gint64 sqlite_chat_insert(SchedBackendDb *b, gint64 appointment_id, gint64 sent_at_ms,
                                 const char *sender_role, const char *sender_name, const char *text,
                                 GError **error)
{
  sqlite3_stmt *st = prep(b,
                          "INSERT INTO consultation_messages (appointment_id, sent_at_ms,"
                          " sender_role, sender_name, body) VALUES (?, ?, ?, ?, ?)",
                          error);
  gint64 id = 0;
  if (st == NULL)
    return 0;
  sqlite3_bind_int64(st, 1, appointment_id);
  sqlite3_bind_int64(st, 2, sent_at_ms);
  sqlite3_bind_text(st, 3, sender_role, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, sender_name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
  id = insert_done(b, st, "chat insert", error);
  sqlite3_finalize(st);
  return id;
}

static GPtrArray *sqlite_chat_list(SchedBackendDb *b, gint64 appointment_id, guint limit,
                                   GError **error)
{
  /* The newest `limit`, returned oldest first. */
  sqlite3_stmt *st = prep(b,
                          "SELECT id, sent_at_ms, sender_role, sender_name, body FROM"
                          " (SELECT * FROM consultation_messages WHERE appointment_id = ?"
                          "  ORDER BY id DESC LIMIT ?) ORDER BY id",
                          error);
  GPtrArray *list = NULL;
  int rc;
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64(st, 1, appointment_id);
  sqlite3_bind_int64(st, 2, limit);
  list = g_ptr_array_new_with_free_func((GDestroyNotify)sched_chat_message_free);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    SchedChatMessage *m = g_new0(SchedChatMessage, 1);
    m->id = sqlite3_column_int64(st, 0);
    m->appointment_id = appointment_id;
    m->sent_at_ms = sqlite3_column_int64(st, 1);
    m->sender_role = col_text(st, 2);
    m->sender_name = col_text(st, 3);
    m->text = col_text(st, 4);
    g_ptr_array_add(list, m);
  }
  if (rc != SQLITE_DONE) {
    step_error(b, "chat list", error);
    g_clear_pointer(&list, g_ptr_array_unref);
  }
  sqlite3_finalize(st);
  return list;
}

static gint64 sqlite_attachment_insert(SchedBackendDb *b, gint64 appointment_id, gint64 uploaded_at,
                                       const char *uploader_role, const char *media_type,
                                       const guint8 *data, gsize len, GError **error)
{
  sqlite3_stmt *st = prep(b,
                          "INSERT INTO consultation_attachments (appointment_id, uploaded_at,"
                          " uploader_role, media_type, size, data) VALUES (?, ?, ?, ?, ?, ?)",
                          error);
  gint64 id = 0;
  if (st == NULL)
    return 0;
  sqlite3_bind_int64(st, 1, appointment_id);
  sqlite3_bind_int64(st, 2, uploaded_at);
  sqlite3_bind_text(st, 3, uploader_role, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, media_type, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, (gint64)len);
  sqlite3_bind_blob64(st, 6, data, len, SQLITE_STATIC);
  id = insert_done(b, st, "attachment insert", error);
  sqlite3_finalize(st);
  return id;
}

static SchedAttachment *attachment_row(sqlite3_stmt *st, gint64 appointment_id, gboolean data)
{
  SchedAttachment *a = g_new0(SchedAttachment, 1);
  a->id = sqlite3_column_int64(st, 0);
  a->appointment_id = appointment_id;
  a->uploaded_at = sqlite3_column_int64(st, 1);
  a->uploader_role = col_text(st, 2);
  a->media_type = col_text(st, 3);
  a->size = sqlite3_column_int64(st, 4);
  if (data)
    a->data = g_bytes_new(sqlite3_column_blob(st, 5), (gsize)sqlite3_column_bytes(st, 5));
  return a;
}

static SchedAttachment *sqlite_attachment_get(SchedBackendDb *b, gint64 appointment_id,
                                              gint64 attachment_id, GError **error)
{
  sqlite3_stmt *st = prep(b,
                          "SELECT id, uploaded_at, uploader_role, media_type, size, data FROM"
                          " consultation_attachments WHERE id = ? AND appointment_id = ?",
                          error);
  SchedAttachment *a = NULL;
  int rc;
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64(st, 1, attachment_id);
  sqlite3_bind_int64(st, 2, appointment_id);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    a = attachment_row(st, appointment_id, TRUE);
  else if (rc == SQLITE_DONE)
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "attachment_id: no such photo");
  else
    step_error(b, "attachment get", error);
  sqlite3_finalize(st);
  return a;
}

static GPtrArray *sqlite_attachment_list(SchedBackendDb *b, gint64 appointment_id, GError **error)
{
  sqlite3_stmt *st = prep(b,
                          "SELECT id, uploaded_at, uploader_role, media_type, size FROM"
                          " consultation_attachments WHERE appointment_id = ? ORDER BY id",
                          error);
  GPtrArray *list;
  int rc;
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64(st, 1, appointment_id);
  list = g_ptr_array_new_with_free_func((GDestroyNotify)sched_attachment_free);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    g_ptr_array_add(list, attachment_row(st, appointment_id, FALSE));
  if (rc != SQLITE_DONE) {
    step_error(b, "attachment list", error);
    g_clear_pointer(&list, g_ptr_array_unref);
  }
  sqlite3_finalize(st);
  return list;
}

static SchedNotes *sqlite_notes_get(SchedBackendDb *b, gint64 appointment_id, GError **error)
{
  sqlite3_stmt *st = prep(b,
                          "SELECT doctor_id, body, updated_at FROM consultation_notes"
                          " WHERE appointment_id = ?",
                          error);
  SchedNotes *n = NULL;
  int rc;
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64(st, 1, appointment_id);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    n = g_new0(SchedNotes, 1);
    n->appointment_id = appointment_id;
    n->doctor_id = sqlite3_column_int64(st, 0);
    n->text = col_text(st, 1);
    n->updated_at = sqlite3_column_int64(st, 2);
  } else if (rc == SQLITE_DONE) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "notes: none written");
  } else {
    step_error(b, "notes get", error);
  }
  sqlite3_finalize(st);
  return n;
}

static gboolean sqlite_notes_put(SchedBackendDb *b, gint64 appointment_id, gint64 doctor_id,
                                 const char *text, gint64 updated_at, GError **error)
{
  sqlite3_stmt *st = prep(b,
                          "INSERT INTO consultation_notes (appointment_id, doctor_id, body,"
                          " updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (appointment_id)"
                          " DO UPDATE SET doctor_id = ?2, body = ?3, updated_at = ?4",
                          error);
  gboolean ok;
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64(st, 1, appointment_id);
  sqlite3_bind_int64(st, 2, doctor_id);
  sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, updated_at);
  ok = sqlite3_step(st) == SQLITE_DONE;
  if (!ok)
    step_error(b, "notes put", error);
  sqlite3_finalize(st);
  return ok;
}

static gint64 sqlite_advice_insert(SchedBackendDb *b, gint64 appointment_id, gint64 given_at,
                                   const char *text, GError **error)
{
  sqlite3_stmt *st = prep(b,
                          "INSERT INTO consultation_advice (appointment_id, given_at, body)"
                          " VALUES (?, ?, ?)",
                          error);
  gint64 id;
  if (st == NULL)
    return 0;
  sqlite3_bind_int64(st, 1, appointment_id);
  sqlite3_bind_int64(st, 2, given_at);
  sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
  id = insert_done(b, st, "advice insert", error);
  sqlite3_finalize(st);
  return id;
}

static GPtrArray *sqlite_advice_list(SchedBackendDb *b, gint64 appointment_id, GError **error)
{
  sqlite3_stmt *st = prep(b,
                          "SELECT id, given_at, body FROM consultation_advice"
                          " WHERE appointment_id = ? ORDER BY id",
                          error);
  GPtrArray *list;
  int rc;
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64(st, 1, appointment_id);
  list = g_ptr_array_new_with_free_func((GDestroyNotify)sched_advice_free);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    SchedAdvice *a = g_new0(SchedAdvice, 1);
    a->id = sqlite3_column_int64(st, 0);
    a->appointment_id = appointment_id;
    a->given_at = sqlite3_column_int64(st, 1);
    a->text = col_text(st, 2);
    g_ptr_array_add(list, a);
  }
  if (rc != SQLITE_DONE) {
    step_error(b, "advice list", error);
    g_clear_pointer(&list, g_ptr_array_unref);
  }
  sqlite3_finalize(st);
  return list;
}

gboolean sched__clinical_sqlite_retention(SchedBackendDb *b, gint64 cutoff, gint64 *count,
                                          GError **error)
{
  static const char *const tables[] = {"consultation_messages", "consultation_attachments",
                                       "consultation_notes", "consultation_advice"};
  for (gsize i = 0; i < G_N_ELEMENTS(tables); i++) {
    /* Constant table names only: nothing from outside reaches this text. */
    g_autofree char *sql = g_strdup_printf("DELETE FROM %s WHERE appointment_id IN"
                                           " (SELECT id FROM appointments WHERE ends_at < ?)",
                                           tables[i]);
    sqlite3_stmt *st = prep(b, sql, error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_int64(st, 1, cutoff);
    gboolean ok = sqlite3_step(st) == SQLITE_DONE;
    if (ok)
      *count += sqlite3_changes64(sched__sqlite_handle(b));
    else
      step_error(b, "retention", error);
    sqlite3_finalize(st);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

const SchedClinicalBackend sched_clinical_backend_sqlite = {
    .name = "sqlite",
    .chat_insert = sqlite_chat_insert,
    .chat_list = sqlite_chat_list,
    .attachment_insert = sqlite_attachment_insert,
    .attachment_get = sqlite_attachment_get,
    .attachment_list = sqlite_attachment_list,
    .notes_get = sqlite_notes_get,
    .notes_put = sqlite_notes_put,
    .advice_insert = sqlite_advice_insert,
    .advice_list = sqlite_advice_list,
};
