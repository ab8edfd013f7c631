/* test-sched.c — unit tests of the scheduler (scheduler/scheduler.h) against a real SQLite file in
 * a temporary directory, with the real schema. A second, raw SQLite connection inspects what the
 * store actually wrote: that only hashes of secrets are stored, and that a refused call wrote
 * nothing at all (the whole database is dumped before and after and compared). */
#include "scheduler.h"
#include "sched-test-util.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define T0 G_GINT64_CONSTANT(1767261600) /* 2026-01-01 10:00:00 UTC */
#define PASSWORD "correct horse battery"

typedef struct {
  char *dir;
  char *path;
  SchedStore *store;
  gint64 doctor_id;
  gint64 patient_id;
} Fixture;

/* --- Helpers ------------------------------------------------------------------------------- */

static char *sha256_hex(const char *s)
{
  return g_compute_checksum_for_string(G_CHECKSUM_SHA256, s, -1);
}

static gint64 add_patient(Fixture *f, const char *name)
{
  g_autoptr(GError) error = NULL;
  gint64 id = sched_patient_add(f->store, name, "+92 300 1234567", &error);

  g_assert_no_error(error);
  g_assert_cmpint(id, >, 0);
  return id;
}

static gint64 book(Fixture *f, gint64 starts_at, gint64 ends_at, char **token)
{
  g_autoptr(GError) error = NULL;
  gint64 id = sched_appointment_book(f->store, f->doctor_id, f->patient_id, starts_at, ends_at,
                                     token, &error);

  g_assert_no_error(error);
  g_assert_cmpint(id, >, 0);
  return id;
}

static char *appointment_status(Fixture *f, gint64 id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedAppointment) a = sched_appointment_get(f->store, id, &error);

  g_assert_no_error(error);
  g_assert_nonnull(a);
  return g_strdup(a->status);
}

/* --- Fixtures ------------------------------------------------------------------------------ */

static void fixture_empty(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp("mw-sched-XXXXXX", &error);
  g_assert_no_error(error);
  f->path = g_build_filename(f->dir, "mashwara.db", NULL);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_nonnull(f->store);
}

/* A store with one doctor (username "dr.ayesha", PASSWORD) and one patient. */
static void fixture_clinic(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fixture_empty(f, data);
  f->doctor_id = sched_doctor_add(f->store, "dr.ayesha", "Dr Ayesha Khan", PASSWORD, &error);
  g_assert_no_error(error);
  g_assert_cmpint(f->doctor_id, >, 0);
  f->patient_id = add_patient(f, "Bilal Ahmed");
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
  g_clear_pointer(&f->store, sched_store_free);
  remove_temp_dir(f->dir);
  g_free(f->path);
  g_free(f->dir);
}

/* --- Store and migrations ------------------------------------------------------------------ */

static void test_migrations(Fixture *f, gconstpointer data)
{
  static const char *const tables[] = {
      "staff",          "patients",      "appointments",        "join_tokens",
      "staff_sessions", "consultations", "consultation_quality"};
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  int version = sched_store_schema_version(f->store);

  /* From empty: every migration applied, once each, numbered 1..version. */
  g_assert_cmpint(version, >=, 1);
  g_assert_cmpint(raw_int(f->path, "SELECT COUNT(*) FROM schema_migrations"), ==, version);
  g_assert_cmpint(raw_int(f->path, "SELECT COUNT(DISTINCT version) FROM schema_migrations"), ==,
                  version);
  g_assert_cmpint(raw_int(f->path, "SELECT MIN(version) FROM schema_migrations"), ==, 1);
  g_assert_cmpint(raw_int(f->path, "SELECT MAX(version) FROM schema_migrations"), ==, version);
  for (gsize i = 0; i < G_N_ELEMENTS(tables); i++) {
    g_autofree char *sql = g_strdup_printf(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'", tables[i]);
    g_assert_cmpint(raw_int(f->path, sql), ==, 1);
  }
  g_assert_cmpint(raw_int(f->path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), ==, 1);

  /* Reopen: nothing applied again, data kept. */
  f->patient_id = add_patient(f, "Sana");
  before = raw_dump(f->path);
  g_clear_pointer(&f->store, sched_store_free);
  f->store = sched_store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(sched_store_schema_version(f->store), ==, version);
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

static void test_newer_schema_refused(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedStore) store = NULL;
  g_autofree char *sql =
      g_strdup_printf("INSERT INTO schema_migrations (version, applied_at) VALUES (%d, 0)",
                      sched_store_schema_version(f->store) + 1);

  g_clear_pointer(&f->store, sched_store_free);
  raw_exec(f->path, sql);
  store = sched_store_open(f->path, &error);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_DB);
  g_assert_null(store);
}

static void test_open_bad_path(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedStore) store = sched_store_open("/nonexistent-dir/mw/x.db", &error);

  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_DB);
  g_assert_null(store);
}

static void test_integrity(Fixture *f, gconstpointer data)
{
  g_autofree char *token = NULL;
  g_autofree char *secret = NULL;
  gint64 id = book(f, T0, T0 + 1800, &token);
  sqlite3 *db;
  sqlite3_stmt *st = NULL;

  g_assert_true(sched_consultation_waiting(f->store, id, T0, NULL));
  g_assert_true(sched_consultation_ended(f->store, id, T0 + 900, "completed", NULL));
  secret = sched_session_open(f->store, f->doctor_id, T0, 3600, NULL);
  g_assert_nonnull(secret);

  db = raw_open(f->path);
  g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
  g_assert_cmpstr((const char *)sqlite3_column_text(st, 0), ==, "ok");
  g_assert_cmpint(sqlite3_step(st), ==, SQLITE_DONE);
  sqlite3_finalize(st);
  /* No row points at a missing parent. */
  g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(st), ==, SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

/* --- Staff --------------------------------------------------------------------------------- */

static void test_doctor_add(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedStaff) staff = sched_staff_get(f->store, f->doctor_id, &error);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  struct {
    const char *username, *name, *password;
    SchedError code;
  } bad[] = {
      {"dr.ayesha", "Someone Else", PASSWORD, SCHED_ERROR_CONFLICT},
      {"DR.AYESHA", "Someone Else", PASSWORD, SCHED_ERROR_CONFLICT}, /* case-insensitive */
      {"dr.omar", "Dr Omar", "seven77", SCHED_ERROR_INVALID},        /* 7 characters */
      {"dr.omar", "Dr Omar", "", SCHED_ERROR_INVALID},
      {"dr.omar", "Dr Omar", NULL, SCHED_ERROR_INVALID},
      {"", "Dr Omar", PASSWORD, SCHED_ERROR_INVALID},
      {NULL, "Dr Omar", PASSWORD, SCHED_ERROR_INVALID},
      {"dr omar", "Dr Omar", PASSWORD, SCHED_ERROR_INVALID}, /* space */
      {"dr.omar", "", PASSWORD, SCHED_ERROR_INVALID},
      {"dr.omar", "   ", PASSWORD, SCHED_ERROR_INVALID},
      {"dr.omar", "Dr\nOmar", PASSWORD, SCHED_ERROR_INVALID},
      {"dr.\xff", "Dr Omar", PASSWORD, SCHED_ERROR_INVALID}, /* not UTF-8 */
  };
  gint64 id;

  g_assert_no_error(error);
  g_assert_cmpint(staff->id, ==, f->doctor_id);
  g_assert_cmpstr(staff->username, ==, "dr.ayesha");
  g_assert_cmpstr(staff->display_name, ==, "Dr Ayesha Khan");
  g_assert_cmpstr(staff->role, ==, "doctor");

  /* Argon2id, salted: the password itself is nowhere. */
  g_assert_cmpint(raw_int(f->path, "SELECT password_hash LIKE '$argon2id$%' FROM staff"), ==, 1);
  g_assert_cmpint(raw_int(f->path, "SELECT instr(password_hash, 'horse') FROM staff"), ==, 0);

  before = raw_dump(f->path);
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) e = NULL;
    g_test_message("bad doctor %" G_GSIZE_FORMAT, i);
    g_assert_cmpint(sched_doctor_add(f->store, bad[i].username, bad[i].name, bad[i].password, &e),
                    ==, 0);
    g_assert_error(e, SCHED_ERROR, (gint)bad[i].code);
  }
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);

  /* Exactly 8 characters, of which some are multi-byte, is enough. */
  id = sched_doctor_add(f->store, "dr.omar", "ڈاکٹر عمر", "päßwörd1", &error);
  g_assert_no_error(error);
  g_assert_cmpint(id, >, f->doctor_id);
  g_assert_cmpint(sched_staff_authenticate(f->store, "dr.omar", "päßwörd1", &error), ==, id);
  g_assert_no_error(error);

  g_clear_pointer(&staff, sched_staff_free);
  staff = sched_staff_get(f->store, 9999, &error);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  g_assert_null(staff);
}

static void test_staff_find(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedStaff) staff = sched_staff_find(f->store, "DR.Ayesha", &error);
  g_assert_no_error(error);
  g_assert_nonnull(staff);
  g_assert_cmpint(staff->id, ==, f->doctor_id);
  g_assert_cmpstr(staff->username, ==, "dr.ayesha");

  static const char *const missing[] = {"dr.nobody", "", "dr ayesha"};
  for (gsize i = 0; i < G_N_ELEMENTS(missing); i++) {
    g_autoptr(GError) e = NULL;
    g_autoptr(SchedStaff) none = sched_staff_find(f->store, missing[i], &e);
    g_assert_null(none);
    g_assert_error(e, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  }
}

/* The smallest of a few runs: resistant to a one-off stall on a loaded machine. */
static double min_auth_seconds(Fixture *f, const char *username, const char *password)
{
  double best = G_MAXDOUBLE;

  for (int i = 0; i < 3; i++) {
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    g_assert_cmpint(sched_staff_authenticate(f->store, username, password, &error), ==, 0);
    g_assert_error(error, SCHED_ERROR, SCHED_ERROR_AUTH);
    best = MIN(best, (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC);
  }
  return best;
}

static void test_authenticate(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = raw_dump(f->path);
  g_autofree char *after = NULL;
  double wrong_password, unknown_user;
  struct {
    const char *username, *password;
  } bad[] = {
      {"dr.ayesha", "correct horse battery!"},
      {"dr.ayesha", ""},
      {"dr.ayesha", NULL},
      {"dr.nobody", PASSWORD},
      {"", PASSWORD},
      {NULL, PASSWORD},
      {"dr.ayesha ", PASSWORD},
      {"dr.ayesh", PASSWORD},
  };

  g_assert_cmpint(sched_staff_authenticate(f->store, "dr.ayesha", PASSWORD, &error), ==,
                  f->doctor_id);
  g_assert_no_error(error);
  g_assert_cmpint(sched_staff_authenticate(f->store, "Dr.Ayesha", PASSWORD, &error), ==,
                  f->doctor_id);
  g_assert_no_error(error);

  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) e = NULL;
    g_test_message("bad login %" G_GSIZE_FORMAT, i);
    g_assert_cmpint(sched_staff_authenticate(f->store, bad[i].username, bad[i].password, &e), ==,
                    0);
    g_assert_error(e, SCHED_ERROR, SCHED_ERROR_AUTH);
  }

  /* An unknown username costs a full Argon2id verification too. Without the dummy hash it
   * would take well under a millisecond against tens for a wrong password. */
  wrong_password = min_auth_seconds(f, "dr.ayesha", "not the password");
  unknown_user = min_auth_seconds(f, "dr.nobody", "not the password");
  g_test_message("authenticate: wrong password %.1f ms, unknown user %.1f ms",
                 wrong_password * 1000, unknown_user * 1000);
  g_assert_cmpfloat(unknown_user, >, wrong_password * 0.5);
  g_assert_cmpfloat(unknown_user, <, wrong_password * 2.0);

  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

/* --- Token rules (pure) -------------------------------------------------------------------- */

static void test_token_generate(void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (int i = 0; i < 1000; i++) {
    char *token = sched_token_generate();

    g_assert_cmpuint(strlen(token), ==, SCHED_TOKEN_LENGTH);
    g_assert_cmpuint(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_"),
                     ==, SCHED_TOKEN_LENGTH);
    g_assert_true(sched_token_is_well_formed(token));
    g_assert_true(g_hash_table_add(seen, token)); /* FALSE if already there */
  }
  g_assert_cmpuint(g_hash_table_size(seen), ==, 1000);
}

static void test_token_well_formed(void)
{
  g_autofree char *good = sched_token_generate();
  g_autofree char *longer = g_strconcat(good, "A", NULL);
  g_autofree char *padded = g_strconcat(good, "=", NULL);
  g_autofree char *shorter = g_strndup(good, SCHED_TOKEN_LENGTH - 1);
  char changed[SCHED_TOKEN_LENGTH + 1];
  const char *bad_chars[] = {"+", "/", "=", " ", ".", "\xc3"};

  g_assert_true(sched_token_is_well_formed(good));
  g_assert_true(sched_token_is_well_formed("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
  g_assert_true(sched_token_is_well_formed("________________________________________-_w"));
  g_assert_false(sched_token_is_well_formed(NULL));
  g_assert_false(sched_token_is_well_formed(""));
  g_assert_false(sched_token_is_well_formed(longer));
  g_assert_false(sched_token_is_well_formed(padded));
  g_assert_false(sched_token_is_well_formed(shorter));
  for (gsize i = 0; i < G_N_ELEMENTS(bad_chars); i++) {
    memcpy(changed, good, sizeof changed);
    changed[10] = bad_chars[i][0];
    g_assert_false(sched_token_is_well_formed(changed));
  }
  /* The last character's two padding bits must be zero: 'A' (0) yes, 'B' (1) no. */
  memcpy(changed, good, sizeof changed);
  changed[SCHED_TOKEN_LENGTH - 1] = 'A';
  g_assert_true(sched_token_is_well_formed(changed));
  changed[SCHED_TOKEN_LENGTH - 1] = 'B';
  g_assert_false(sched_token_is_well_formed(changed));
}

static void test_token_window(void)
{
  const gint64 starts = T0, ends = T0 + 1800;
  const gint64 open = starts - 15 * 60, close = ends + 30 * 60;
  const SchedTokenWindow defaults = {15 * 60, 30 * 60};
  const SchedTokenWindow exact = {0, 0};
  const SchedTokenWindow custom = {3600, 60};
  gint64 from = 0, until = 0;

  /* Defaults (NULL and explicit), at each edge. */
  for (int i = 0; i < 2; i++) {
    const SchedTokenWindow *w = i == 0 ? NULL : &defaults;
    g_assert_cmpint(sched_token_window_verdict(w, starts, ends, open - 1, &from, &until), ==,
                    SCHED_TOKEN_TOO_EARLY);
    g_assert_cmpint(from, ==, open);
    g_assert_cmpint(until, ==, close);
    g_assert_cmpint(sched_token_window_verdict(w, starts, ends, open, NULL, NULL), ==,
                    SCHED_TOKEN_VALID);
    g_assert_cmpint(sched_token_window_verdict(w, starts, ends, close - 1, NULL, NULL), ==,
                    SCHED_TOKEN_VALID);
    g_assert_cmpint(sched_token_window_verdict(w, starts, ends, close, NULL, NULL), ==,
                    SCHED_TOKEN_EXPIRED);
  }
  /* No margin: exactly the appointment, [starts, ends). */
  g_assert_cmpint(sched_token_window_verdict(&exact, starts, ends, starts - 1, NULL, NULL), ==,
                  SCHED_TOKEN_TOO_EARLY);
  g_assert_cmpint(sched_token_window_verdict(&exact, starts, ends, starts, NULL, NULL), ==,
                  SCHED_TOKEN_VALID);
  g_assert_cmpint(sched_token_window_verdict(&exact, starts, ends, ends - 1, NULL, NULL), ==,
                  SCHED_TOKEN_VALID);
  g_assert_cmpint(sched_token_window_verdict(&exact, starts, ends, ends, NULL, NULL), ==,
                  SCHED_TOKEN_EXPIRED);
  /* A custom window. */
  g_assert_cmpint(sched_token_window_verdict(&custom, starts, ends, starts - 3601, &from, &until),
                  ==, SCHED_TOKEN_TOO_EARLY);
  g_assert_cmpint(from, ==, starts - 3600);
  g_assert_cmpint(until, ==, ends + 60);
  g_assert_cmpint(sched_token_window_verdict(&custom, starts, ends, starts - 3600, NULL, NULL), ==,
                  SCHED_TOKEN_VALID);
  g_assert_cmpint(sched_token_window_verdict(&custom, starts, ends, ends + 59, NULL, NULL), ==,
                  SCHED_TOKEN_VALID);
  g_assert_cmpint(sched_token_window_verdict(&custom, starts, ends, ends + 60, NULL, NULL), ==,
                  SCHED_TOKEN_EXPIRED);
  /* Extreme times saturate instead of overflowing (UBSan would catch the overflow). */
  g_assert_cmpint(
      sched_token_window_verdict(NULL, G_MININT64 + 5, G_MAXINT64 - 5, 0, &from, &until), ==,
      SCHED_TOKEN_VALID);
  g_assert_cmpint(from, ==, G_MININT64);
  g_assert_cmpint(until, ==, G_MAXINT64);
}

/* --- Join tokens in the store -------------------------------------------------------------- */

static void assert_verdict(Fixture *f, const char *token, gint64 now, SchedTokenVerdict expected,
                           gint64 appointment_id, const char *role)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedTokenInfo) info = NULL;
  SchedTokenVerdict v = sched_token_check(f->store, token, now, &info, &error);

  g_assert_no_error(error);
  g_assert_cmpint(v, ==, expected);
  if (expected == SCHED_TOKEN_MALFORMED || expected == SCHED_TOKEN_UNKNOWN) {
    g_assert_null(info);
    return;
  }
  g_assert_nonnull(info);
  g_assert_cmpint(info->appointment_id, ==, appointment_id);
  g_assert_cmpint(info->doctor_id, ==, f->doctor_id);
  g_assert_cmpstr(info->role, ==, role);
  g_assert_cmpint(info->valid_until, >, info->valid_from);
}

static void test_token_check(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedTokenInfo) info = NULL;
  g_autofree char *token = NULL;
  g_autofree char *guest = NULL;
  g_autofree char *stranger = sched_token_generate();
  g_autofree char *malformed = NULL;
  const SchedTokenWindow tight = {60, 0};
  gint64 id = book(f, T0, T0 + 1800, &token);

  g_assert_true(sched_token_is_well_formed(token));

  /* Each verdict, with info where the page needs it. */
  g_assert_cmpint(sched_token_check(f->store, token, T0, &info, &error), ==, SCHED_TOKEN_VALID);
  g_assert_no_error(error);
  g_assert_cmpint(info->appointment_id, ==, id);
  g_assert_cmpint(info->doctor_id, ==, f->doctor_id);
  g_assert_cmpstr(info->role, ==, "patient");
  g_assert_cmpint(info->valid_from, ==, T0 - 15 * 60);
  g_assert_cmpint(info->valid_until, ==, T0 + 1800 + 30 * 60);
  assert_verdict(f, token, T0 - 15 * 60 - 1, SCHED_TOKEN_TOO_EARLY, id, "patient");
  assert_verdict(f, token, T0 - 15 * 60, SCHED_TOKEN_VALID, id, "patient");
  assert_verdict(f, token, T0 + 3600 - 1, SCHED_TOKEN_VALID, id, "patient");
  assert_verdict(f, token, T0 + 3600, SCHED_TOKEN_EXPIRED, id, "patient");
  assert_verdict(f, stranger, T0, SCHED_TOKEN_UNKNOWN, 0, NULL);
  malformed = g_strndup(token, SCHED_TOKEN_LENGTH - 1);
  assert_verdict(f, malformed, T0, SCHED_TOKEN_MALFORMED, 0, NULL);
  assert_verdict(f, NULL, T0, SCHED_TOKEN_MALFORMED, 0, NULL);
  assert_verdict(f, "../../etc/passwd", T0, SCHED_TOKEN_MALFORMED, 0, NULL);

  /* The store's window applies. */
  sched_store_set_token_window(f->store, &tight);
  assert_verdict(f, token, T0 - 61, SCHED_TOKEN_TOO_EARLY, id, "patient");
  assert_verdict(f, token, T0 - 60, SCHED_TOKEN_VALID, id, "patient");
  assert_verdict(f, token, T0 + 1800, SCHED_TOKEN_EXPIRED, id, "patient");

  /* A guest token: its own role, the same window. */
  guest = sched_token_issue_guest(f->store, id, "interpreter", &error);
  g_assert_no_error(error);
  g_assert_true(sched_token_is_well_formed(guest));
  g_assert_cmpstr(guest, !=, token);
  assert_verdict(f, guest, T0, SCHED_TOKEN_VALID, id, "interpreter");
  assert_verdict(f, guest, T0 + 1800, SCHED_TOKEN_EXPIRED, id, "interpreter");

  /* Cancelling revokes both, whatever the time; info still tells which appointment. */
  g_assert_true(sched_appointment_set_status(f->store, id, "cancelled", &error));
  g_assert_no_error(error);
  assert_verdict(f, token, T0, SCHED_TOKEN_REVOKED, id, "patient");
  assert_verdict(f, guest, T0, SCHED_TOKEN_REVOKED, id, "interpreter");
  assert_verdict(f, token, T0 + 99999, SCHED_TOKEN_REVOKED, id, "patient");
  g_assert_true(sched_appointment_set_status(f->store, id, "entered-in-error", &error));
  assert_verdict(f, token, T0, SCHED_TOKEN_REVOKED, id, "patient");
  /* ... and restoring the booking restores them. */
  g_assert_true(sched_appointment_set_status(f->store, id, "booked", &error));
  assert_verdict(f, token, T0, SCHED_TOKEN_VALID, id, "patient");
}

static void test_guest_tokens_invalid(Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  const char *bad_roles[] = {"patient", "doctor", "", NULL, "Interpreter"};
  gint64 id = book(f, T0, T0 + 1800, NULL);

  before = raw_dump(f->path);
  for (gsize i = 0; i < G_N_ELEMENTS(bad_roles); i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *t = sched_token_issue_guest(f->store, id, bad_roles[i], &error);
    g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
    g_assert_null(t);
  }
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *t = sched_token_issue_guest(f->store, id + 1, "family", &error);
    g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
    g_assert_null(t);
  }
  g_assert_true(sched_appointment_set_status(f->store, id, "cancelled", NULL));
  g_free(before);
  before = raw_dump(f->path);
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *t = sched_token_issue_guest(f->store, id, "family", &error);
    g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
    g_assert_null(t);
  }
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

/* Reads every file of the database (main, WAL) and fails if `needle` occurs in any. */
static void assert_not_in_files(Fixture *f, const char *needle)
{
  const char *suffixes[] = {"", "-wal", "-shm"};

  for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++) {
    g_autofree char *file = g_strconcat(f->path, suffixes[i], NULL);
    g_autofree char *contents = NULL;
    gsize len = 0;

    if (!g_file_get_contents(file, &contents, &len, NULL))
      continue;
    g_assert_null(memmem(contents, len, needle, strlen(needle)));
  }
}

static void test_only_hashes_stored(Fixture *f, gconstpointer data)
{
  g_autofree char *token = NULL;
  g_autofree char *guest = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *token_hash = NULL;
  g_autofree char *guest_hash = NULL;
  g_autofree char *secret_hash = NULL;
  g_autofree char *sql = NULL;
  gint64 id = book(f, T0, T0 + 1800, &token);

  guest = sched_token_issue_guest(f->store, id, "family", NULL);
  secret = sched_session_open(f->store, f->doctor_id, T0, 3600, NULL);
  g_assert_nonnull(guest);
  g_assert_nonnull(secret);
  token_hash = sha256_hex(token);
  guest_hash = sha256_hex(guest);
  secret_hash = sha256_hex(secret);

  /* The tables hold exactly the hashes... */
  g_assert_cmpint(raw_int(f->path, "SELECT COUNT(*) FROM join_tokens"), ==, 2);
  sql = g_strdup_printf("SELECT COUNT(*) FROM join_tokens WHERE token_hash IN ('%s', '%s')",
                        token_hash, guest_hash);
  g_assert_cmpint(raw_int(f->path, sql), ==, 2);
  g_free(sql);
  sql =
      g_strdup_printf("SELECT COUNT(*) FROM staff_sessions WHERE secret_hash = '%s'", secret_hash);
  g_assert_cmpint(raw_int(f->path, sql), ==, 1);
  g_free(sql);
  sql = g_strdup_printf("SELECT COUNT(*) FROM join_tokens WHERE token_hash = '%s' OR"
                        " instr(token_hash, '%s') > 0 OR instr(token_hash, '%s') > 0",
                        token, token, guest);
  g_assert_cmpint(raw_int(f->path, sql), ==, 0);
  /* ... and no secret is anywhere in the database files, in any table or the WAL. */
  assert_not_in_files(f, token);
  assert_not_in_files(f, guest);
  assert_not_in_files(f, secret);
}

/* --- Sessions ------------------------------------------------------------------------------ */

static void test_sessions(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *secret = sched_session_open(f->store, f->doctor_id, T0, 3600, &error);
  g_autofree char *other = NULL;
  g_autofree char *stranger = sched_token_generate();
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  char *none;

  g_assert_no_error(error);
  g_assert_true(sched_token_is_well_formed(secret));
  g_assert_cmpint(sched_session_lookup(f->store, secret, T0), ==, f->doctor_id);
  g_assert_cmpint(sched_session_lookup(f->store, secret, T0 + 3599), ==, f->doctor_id);
  g_assert_cmpint(sched_session_lookup(f->store, secret, T0 + 3600), ==, 0);
  g_assert_cmpint(sched_session_lookup(f->store, stranger, T0), ==, 0);
  g_assert_cmpint(sched_session_lookup(f->store, "not a secret", T0), ==, 0);
  g_assert_cmpint(sched_session_lookup(f->store, NULL, T0), ==, 0);

  /* Closing ends only that session. */
  other = sched_session_open(f->store, f->doctor_id, T0, 3600, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(other, !=, secret);
  sched_session_close(f->store, secret);
  g_assert_cmpint(sched_session_lookup(f->store, secret, T0), ==, 0);
  g_assert_cmpint(sched_session_lookup(f->store, other, T0), ==, f->doctor_id);
  sched_session_close(f->store, "garbage");
  sched_session_close(f->store, NULL);
  g_assert_cmpint(raw_int(f->path, "SELECT COUNT(*) FROM staff_sessions"), ==, 1);

  /* Opening a session purges the expired ones. */
  g_clear_pointer(&secret, g_free);
  secret = sched_session_open(f->store, f->doctor_id, T0 + 3600, 60, &error);
  g_assert_no_error(error);
  g_assert_cmpint(raw_int(f->path, "SELECT COUNT(*) FROM staff_sessions"), ==, 1);
  g_assert_cmpint(sched_session_lookup(f->store, secret, T0 + 3659), ==, f->doctor_id);

  /* Refusals write nothing. */
  before = raw_dump(f->path);
  none = sched_session_open(f->store, 9999, T0, 3600, &error);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  g_assert_null(none);
  g_clear_error(&error);
  none = sched_session_open(f->store, f->doctor_id, T0, 0, &error);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
  g_assert_null(none);
  g_clear_error(&error);
  none = sched_session_open(f->store, f->doctor_id, -5, 60, &error);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
  g_assert_null(none);
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

/* --- Patients and appointments ------------------------------------------------------------- */

static void test_patient_add(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  struct {
    const char *name, *phone;
  } bad[] = {
      {"", "+92 300 1234567"},
      {NULL, NULL},
      {"  ", NULL},
      {"Sana", ""},
      {"Sana", "call me"},
      {"Sana", "+92;DROP TABLE"},
      {"Sana", "()"},
      {"Sana", "+9230012345678901234567890123456789"},
  };
  gint64 id = sched_patient_add(f->store, "ثناء", NULL, &error);

  g_assert_no_error(error);
  g_assert_cmpint(id, >, f->patient_id);
  before = raw_dump(f->path);
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) e = NULL;
    g_test_message("bad patient %" G_GSIZE_FORMAT, i);
    g_assert_cmpint(sched_patient_add(f->store, bad[i].name, bad[i].phone, &e), ==, 0);
    g_assert_error(e, SCHED_ERROR, SCHED_ERROR_INVALID);
  }
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

static void test_book_invalid(Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gint64 admin_id;
  struct {
    gint64 doctor_id, patient_id, starts, ends;
    SchedError code;
  } bad[] = {
      {9999, 0, T0, T0 + 1800, SCHED_ERROR_NOT_FOUND},
      {0, 9999, T0, T0 + 1800, SCHED_ERROR_NOT_FOUND},
      {-1, 0, T0, T0 + 1800, SCHED_ERROR_NOT_FOUND},
      {0, 0, T0, T0, SCHED_ERROR_INVALID},
      {0, 0, T0, T0 - 1, SCHED_ERROR_INVALID},
      {0, 0, -1800, 0, SCHED_ERROR_INVALID},
      {0, 0, T0, G_MAXINT64, SCHED_ERROR_INVALID},
      {-2, 0, T0, T0 + 1800, SCHED_ERROR_NOT_FOUND}, /* an admin is not a doctor */
  };

  /* An admin, for the last case (there is no API for admins yet). */
  raw_exec(f->path, "INSERT INTO staff (username, display_name, role, password_hash, created_at)"
                    " VALUES ('admin', 'Admin', 'admin', 'x', 0)");
  admin_id = raw_int(f->path, "SELECT id FROM staff WHERE role = 'admin'");
  before = raw_dump(f->path);
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    char *token = (char *)"unchanged";
    gint64 doctor = bad[i].doctor_id == 0    ? f->doctor_id
                    : bad[i].doctor_id == -2 ? admin_id
                                             : bad[i].doctor_id;
    gint64 patient = bad[i].patient_id == 0 ? f->patient_id : bad[i].patient_id;

    g_test_message("bad booking %" G_GSIZE_FORMAT, i);
    g_assert_cmpint(sched_appointment_book(f->store, doctor, patient, bad[i].starts, bad[i].ends,
                                           &token, &error),
                    ==, 0);
    g_assert_error(error, SCHED_ERROR, (gint)bad[i].code);
    g_assert_null(token);
  }
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
}

/* The store's transactions are all or nothing: a trigger makes the second write of a booking
 * (its join token) fail, and the first (the appointment) must not remain. */
static void test_book_atomic(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = raw_dump(f->path);
  g_autofree char *after = NULL;
  char *token = NULL;

  raw_exec(f->path, "CREATE TRIGGER fail_tokens BEFORE INSERT ON join_tokens"
                    " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  g_assert_cmpint(
      sched_appointment_book(f->store, f->doctor_id, f->patient_id, T0, T0 + 1800, &token, &error),
      ==, 0);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_DB);
  g_assert_null(token);
  raw_exec(f->path, "DROP TRIGGER fail_tokens");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
  /* The store is usable afterwards (no transaction left open). */
  g_assert_cmpint(book(f, T0, T0 + 1800, NULL), >, 0);
}

static void test_appointments_for_doctor(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  gint64 a930, a900, a1100, other_doctor, other;
  SchedAppointment *a;

  /* Booked out of order, to see the sort. */
  a930 = book(f, T0 + 1800, T0 + 3600, NULL);
  a900 = book(f, T0, T0 + 1800, NULL);
  a1100 = book(f, T0 + 3 * 3600, T0 + 3 * 3600 + 1800, NULL);
  other_doctor = sched_doctor_add(f->store, "dr.omar", "Dr Omar", PASSWORD, &error);
  g_assert_no_error(error);
  other =
      sched_appointment_book(f->store, other_doctor, f->patient_id, T0, T0 + 1800, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(other, >, 0);
  g_assert_true(sched_appointment_set_status(f->store, a930, "cancelled", &error));

  /* [10:15, 13:00): overlaps 10:00 and 10:30; 13:00 starts exactly at the end, so not. */
  list = sched_appointments_for_doctor(f->store, f->doctor_id, T0 + 900, T0 + 3 * 3600, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 2);
  a = g_ptr_array_index(list, 0);
  g_assert_cmpint(a->id, ==, a900);
  g_assert_cmpint(a->doctor_id, ==, f->doctor_id);
  g_assert_cmpint(a->patient_id, ==, f->patient_id);
  g_assert_cmpint(a->starts_at, ==, T0);
  g_assert_cmpint(a->ends_at, ==, T0 + 1800);
  g_assert_cmpstr(a->status, ==, "booked");
  g_assert_cmpstr(a->patient_name, ==, "Bilal Ahmed");
  g_assert_cmpstr(a->doctor_name, ==, "Dr Ayesha Khan");
  a = g_ptr_array_index(list, 1);
  g_assert_cmpint(a->id, ==, a930);
  g_assert_cmpstr(a->status, ==, "cancelled");
  g_clear_pointer(&list, g_ptr_array_unref);

  /* An appointment ending exactly at `from` is not in it; the whole day holds all three. */
  list = sched_appointments_for_doctor(f->store, f->doctor_id, T0 + 3600, T0 + 3 * 3600, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 0);
  g_clear_pointer(&list, g_ptr_array_unref);
  list = sched_appointments_for_doctor(f->store, f->doctor_id, T0 - 36000, T0 + 36000, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, 3);
  g_assert_cmpint(((SchedAppointment *)g_ptr_array_index(list, 2))->id, ==, a1100);
  g_clear_pointer(&list, g_ptr_array_unref);

  /* Bad ranges and doctors. */
  list = sched_appointments_for_doctor(f->store, f->doctor_id, T0, T0, &error);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
  g_assert_null(list);
  g_clear_error(&error);
  list = sched_appointments_for_doctor(f->store, 9999, T0, T0 + 1, &error);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  g_assert_null(list);
}

static void test_appointment_status(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *status = NULL;
  gint64 id = book(f, T0, T0 + 1800, NULL);
  g_autoptr(SchedAppointment) missing = NULL;

  status = appointment_status(f, id);
  g_assert_cmpstr(status, ==, "booked");
  g_assert_true(sched_appointment_set_status(f->store, id, "arrived", &error));
  g_assert_no_error(error);
  g_free(status);
  status = appointment_status(f, id);
  g_assert_cmpstr(status, ==, "arrived");

  before = raw_dump(f->path);
  g_assert_false(sched_appointment_set_status(f->store, id, "done", &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_false(sched_appointment_set_status(f->store, id, NULL, &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_false(sched_appointment_set_status(f->store, id + 1, "booked", &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  g_clear_error(&error);
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);

  missing = sched_appointment_get(f->store, id + 1, &error);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  g_assert_null(missing);
}

/* --- Consultations ------------------------------------------------------------------------- */

static void assert_consultation(Fixture *f, gint64 id, gint64 waiting, gint64 started, gint64 ended,
                                const char *outcome)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedConsultation) c = sched_consultation_get(f->store, id, &error);

  g_assert_no_error(error);
  g_assert_nonnull(c);
  g_assert_cmpint(c->appointment_id, ==, id);
  g_assert_cmpint(c->waiting_since, ==, waiting);
  g_assert_cmpint(c->started_at, ==, started);
  g_assert_cmpint(c->ended_at, ==, ended);
  g_assert_cmpstr(c->outcome, ==, outcome);
}

static void assert_status(Fixture *f, gint64 id, const char *expected)
{
  g_autofree char *status = appointment_status(f, id);
  g_assert_cmpstr(status, ==, expected);
}

static void test_consultation_flow(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedConsultation) none = NULL;
  gint64 id = book(f, T0, T0 + 1800, NULL);

  none = sched_consultation_get(f->store, id, &error);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  g_assert_null(none);
  g_clear_error(&error);

  /* Waiting: created once, first time kept, booked -> arrived (the online waiting room; staff check
   * in). */
  g_assert_true(sched_consultation_waiting(f->store, id, T0 - 300, &error));
  g_assert_no_error(error);
  assert_consultation(f, id, T0 - 300, 0, 0, NULL);
  assert_status(f, id, "arrived");
  g_assert_true(sched_consultation_waiting(f->store, id, T0 - 100, &error));
  assert_consultation(f, id, T0 - 300, 0, 0, NULL);
  g_assert_cmpint(raw_int(f->path, "SELECT COUNT(*) FROM consultations"), ==, 1);

  /* Started: first time only. */
  g_assert_true(sched_consultation_started(f->store, id, T0 + 60, &error));
  g_assert_no_error(error);
  assert_consultation(f, id, T0 - 300, T0 + 60, 0, NULL);
  g_assert_true(sched_consultation_started(f->store, id, T0 + 600, &error));
  assert_consultation(f, id, T0 - 300, T0 + 60, 0, NULL);
  /* A rejoin to the waiting room during the call changes nothing. */
  g_assert_true(sched_consultation_waiting(f->store, id, T0 + 700, &error));
  assert_consultation(f, id, T0 - 300, T0 + 60, 0, NULL);
  assert_status(f, id, "arrived");

  /* Ended: stamps and fulfils; repeating is harmless, contradicting is refused. */
  g_assert_true(sched_consultation_ended(f->store, id, T0 + 1200, "follow-up", &error));
  g_assert_no_error(error);
  assert_consultation(f, id, T0 - 300, T0 + 60, T0 + 1200, "follow-up");
  assert_status(f, id, "fulfilled");
  g_assert_true(sched_consultation_ended(f->store, id, T0 + 1300, "follow-up", &error));
  g_assert_no_error(error);
  g_assert_false(sched_consultation_ended(f->store, id, T0 + 1300, "completed", &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_CONFLICT);
  g_clear_error(&error);
  g_assert_true(sched_consultation_started(f->store, id, T0 + 1400, &error));
  assert_consultation(f, id, T0 - 300, T0 + 60, T0 + 1200, "follow-up");
  assert_status(f, id, "fulfilled");
}

static void test_consultation_no_show(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 id = book(f, T0, T0 + 1800, NULL);

  /* The patient never came: ended without waiting or starting. */
  g_assert_true(sched_consultation_ended(f->store, id, T0 + 1800, "no-show", &error));
  g_assert_no_error(error);
  assert_consultation(f, id, 0, 0, T0 + 1800, "no-show");
  assert_status(f, id, "noshow");
}

static void test_consultation_clock_steps_back(Fixture *f, gconstpointer data)
{
  gint64 id = book(f, T0, T0 + 1800, NULL);

  g_assert_true(sched_consultation_waiting(f->store, id, T0, NULL));
  g_assert_true(sched_consultation_started(f->store, id, T0 - 5, NULL));
  g_assert_true(sched_consultation_ended(f->store, id, T0 - 10, "interrupted", NULL));
  assert_consultation(f, id, T0, T0, T0, "interrupted");
}

static void test_consultation_invalid(Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  const char *bad_outcomes[] = {"done", "", NULL, "No-Show", "completed "};
  gint64 id = book(f, T0, T0 + 1800, NULL);
  gint64 cancelled = book(f, T0 + 3600, T0 + 5400, NULL);

  g_assert_true(sched_appointment_set_status(f->store, cancelled, "cancelled", NULL));
  before = raw_dump(f->path);
  for (gsize i = 0; i < G_N_ELEMENTS(bad_outcomes); i++) {
    g_autoptr(GError) error = NULL;
    g_assert_false(sched_consultation_ended(f->store, id, T0 + 60, bad_outcomes[i], &error));
    g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
  }
  for (int stamp = 0; stamp < 3; stamp++) {
    struct {
      gint64 id, at;
      SchedError code;
    } bad[] = {
        {id + 100, T0, SCHED_ERROR_NOT_FOUND}, {0, T0, SCHED_ERROR_NOT_FOUND},
        {cancelled, T0, SCHED_ERROR_INVALID},  {id, 0, SCHED_ERROR_INVALID},
        {id, -T0, SCHED_ERROR_INVALID},        {id, SCHED_TIME_MAX + 1, SCHED_ERROR_INVALID},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
      g_autoptr(GError) error = NULL;
      gboolean ok =
          stamp == 0 ? sched_consultation_waiting(f->store, bad[i].id, bad[i].at, &error)
          : stamp == 1
              ? sched_consultation_started(f->store, bad[i].id, bad[i].at, &error)
              : sched_consultation_ended(f->store, bad[i].id, bad[i].at, "completed", &error);
      g_test_message("bad stamp %d/%" G_GSIZE_FORMAT, stamp, i);
      g_assert_false(ok);
      g_assert_error(error, SCHED_ERROR, (gint)bad[i].code);
    }
  }
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
  assert_status(f, id, "booked");
}

/* Ending a consultation writes the record, then the appointment's status; if the status
 * update fails the record must not change either. */
static void test_consultation_atomic(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gint64 id = book(f, T0, T0 + 1800, NULL);

  g_assert_true(sched_consultation_started(f->store, id, T0, &error));
  g_assert_no_error(error);
  before = raw_dump(f->path);
  raw_exec(f->path, "CREATE TRIGGER fail_status BEFORE UPDATE OF status ON appointments"
                    " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  g_assert_false(sched_consultation_ended(f->store, id, T0 + 600, "completed", &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_DB);
  g_clear_error(&error);
  raw_exec(f->path, "DROP TRIGGER fail_status");
  after = raw_dump(f->path);
  g_assert_cmpstr(after, ==, before);
  g_assert_true(sched_consultation_ended(f->store, id, T0 + 600, "completed", &error));
  g_assert_no_error(error);
  assert_status(f, id, "fulfilled");
}

/* --- Clinical content (schema 7) ------------------------------------------------------------ */

static void test_clinical_content(Fixture *f, gconstpointer data)
{
  static const guint8 png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0,
                               0,    13,  'I', 'H', 'D',  'R',  0,    0,    0, 1};
  g_autoptr(GError) error = NULL;
  gint64 a = book(f, T0, T0 + 1800, NULL);
  (void)data;

  /* Chat: stored in order; over-long, empty and control characters refused. */
  g_assert_cmpint(sched_chat_add(f->store, a, 1000, "doctor", "Dr Ayesha", "Salam", &error), >, 0);
  g_assert_no_error(error);
  g_assert_cmpint(sched_chat_add(f->store, a, 2000, "patient", "Sana", "جی\nٹھیک", &error), >, 0);
  g_autofree char *long_text = g_strnfill(SCHED_CHAT_MAX_CHARS + 1, 'x');
  const char *bad[] = {long_text, "", "  \n ", "bell\a"};
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_cmpint(sched_chat_add(f->store, a, 3000, "patient", "Sana", bad[i], &error), ==, 0);
    g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
    g_clear_error(&error);
  }
  g_assert_cmpint(sched_chat_add(f->store, a + 99, 3000, "patient", "Sana", "hi", &error), ==, 0);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_autoptr(GPtrArray) msgs = sched_chat_list(f->store, a, 0, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(msgs->len, ==, 2);
  g_assert_cmpstr(((SchedChatMessage *)msgs->pdata[1])->text, ==, "جی\nٹھیک");
  g_autoptr(GPtrArray) last = sched_chat_list(f->store, a, 1, &error);
  g_assert_cmpuint(last->len, ==, 1);
  g_assert_cmpstr(((SchedChatMessage *)last->pdata[0])->sender_role, ==, "patient");

  /* Photos: magic bytes decide; a JPEG labelled PNG is refused. */
  g_assert_cmpstr(sched_attachment_sniff(png, sizeof png), ==, "image/png");
  gint64 ph =
      sched_attachment_add(f->store, a, T0, "patient", "image/png", png, sizeof png, &error);
  g_assert_no_error(error);
  const guint8 jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3};
  g_assert_cmpint(
      sched_attachment_add(f->store, a, T0, "patient", "image/png", jpeg, sizeof jpeg, &error), ==,
      0);
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_INVALID);
  g_clear_error(&error);
  g_autoptr(SchedAttachment) got = sched_attachment_get(f->store, a, ph, &error);
  g_assert_no_error(error);
  g_assert_cmpmem(g_bytes_get_data(got->data, NULL), g_bytes_get_size(got->data), png, sizeof png);
  g_assert_null(sched_attachment_get(f->store, a + 1, ph, &error));
  g_assert_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
  g_clear_error(&error);

  /* Notes: replaced, may be cleared; advice in order. */
  g_assert_null(sched_notes_get(f->store, a, &error));
  g_clear_error(&error);
  g_assert_true(sched_notes_put(f->store, a, f->doctor_id, "first", T0, &error));
  g_assert_true(sched_notes_put(f->store, a, f->doctor_id, "second", T0 + 5, &error));
  g_autoptr(SchedNotes) n = sched_notes_get(f->store, a, &error);
  g_assert_cmpstr(n->text, ==, "second");
  g_assert_cmpint(n->updated_at, ==, T0 + 5);
  g_assert_true(sched_notes_put(f->store, a, f->doctor_id, "", T0 + 6, &error));
  g_assert_cmpint(sched_advice_add(f->store, a, T0, "Rest", &error), >, 0);
  g_assert_cmpint(sched_advice_add(f->store, a, T0 + 1, "Fluids", &error), >, 0);
  g_autoptr(GPtrArray) adv = sched_advice_list(f->store, a, &error);
  g_assert_cmpuint(adv->len, ==, 2);
  g_assert_cmpstr(((SchedAdvice *)adv->pdata[1])->text, ==, "Fluids");

  /* Retention: all of it goes once the appointment ended before the cut-off. */
  SchedRetentionCounts c;
  g_assert_true(sched_retention_run(f->store, T0 + 40 * 86400, 30, FALSE, &c, &error));
  g_assert_no_error(error);
  g_assert_cmpint(c.clinical, ==, 2 + 1 + 1 + 2);
  g_autoptr(GPtrArray) gone = sched_chat_list(f->store, a, 0, &error);
  g_assert_cmpuint(gone->len, ==, 0);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);

#define ADD(path, setup, fn) g_test_add(path, Fixture, NULL, setup, fn, fixture_teardown)
  ADD("/sched/store/migrations", fixture_empty, test_migrations);
  ADD("/sched/store/newer-schema-refused", fixture_empty, test_newer_schema_refused);
  g_test_add_func("/sched/store/open-bad-path", test_open_bad_path);
  ADD("/sched/store/integrity", fixture_clinic, test_integrity);
  ADD("/sched/staff/doctor-add", fixture_clinic, test_doctor_add);
  ADD("/sched/staff/authenticate", fixture_clinic, test_authenticate);
  ADD("/sched/staff/find", fixture_clinic, test_staff_find);
  g_test_add_func("/sched/token/generate", test_token_generate);
  g_test_add_func("/sched/token/well-formed", test_token_well_formed);
  g_test_add_func("/sched/token/window", test_token_window);
  ADD("/sched/token/check", fixture_clinic, test_token_check);
  ADD("/sched/token/guest-invalid", fixture_clinic, test_guest_tokens_invalid);
  ADD("/sched/token/only-hashes-stored", fixture_clinic, test_only_hashes_stored);
  ADD("/sched/session/lifecycle", fixture_clinic, test_sessions);
  ADD("/sched/patient/add", fixture_clinic, test_patient_add);
  ADD("/sched/appointment/book-invalid", fixture_clinic, test_book_invalid);
  ADD("/sched/appointment/book-atomic", fixture_clinic, test_book_atomic);
  ADD("/sched/appointment/for-doctor", fixture_clinic, test_appointments_for_doctor);
  ADD("/sched/appointment/status", fixture_clinic, test_appointment_status);
  ADD("/sched/consultation/flow", fixture_clinic, test_consultation_flow);
  ADD("/sched/consultation/no-show", fixture_clinic, test_consultation_no_show);
  ADD("/sched/consultation/clock-steps-back", fixture_clinic, test_consultation_clock_steps_back);
  ADD("/sched/consultation/invalid", fixture_clinic, test_consultation_invalid);
  ADD("/sched/consultation/atomic", fixture_clinic, test_consultation_atomic);
  ADD("/sched/clinical/content", fixture_clinic, test_clinical_content);
#undef ADD

  return g_test_run();
}
