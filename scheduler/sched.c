/* sched.c — the scheduler's public calls (scheduler.h): argument checks, password and secret
 * hashing, and the clinic's rules, over a storage backend (sched-backend.h).
 *
 * Ownership: a SchedStore owns its backend connection; records handed out are the caller's.
 * Threads: not thread-safe; the main loop's thread only. Argon2id calls block that thread for
 * tens of milliseconds (see sched_staff_authenticate).
 * Privacy: logs carry numeric ids only — never usernames, names or phone numbers. */
#include "scheduler.h"
#include "sched-private.h"

#include <sodium.h>
#include <string.h>

/* Interactive limits: about 64 MiB and tens of milliseconds per hash on a current server core;
 * this is the cost that makes a stolen staff table expensive to crack. */
#define PWHASH_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PWHASH_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

static const char *const appointment_statuses[] = {
    "proposed",  "pending", "booked",     "arrived",  "fulfilled",
    "cancelled", "noshow",  "checked-in", "waitlist", "entered-in-error",
};
static const char *const guest_roles[] = {"interpreter", "specialist", "family"};
static const char *const outcomes[] = {"completed", "follow-up", "referred", "no-show",
                                       "interrupted"};

GQuark sched_error_quark(void)
{
  return g_quark_from_static_string("sched-error-quark");
}

void sched__field_error(GError **error, SchedError code, const char *field, const char *format, ...)
{
  g_autofree char *reason = NULL;
  va_list ap;

  va_start(ap, format);
  reason = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_set_error(error, SCHED_ERROR, code, "%s: %s", field, reason);
}

/* The length of the field name at the start of a message, or 0: a field is [a-z_]+ followed by
 * ": ". Backend messages ("get staff: not found") have spaces, so they name no field. */
static gsize field_length(const GError *error)
{
  gsize n = 0;

  if (error == NULL || error->domain != SCHED_ERROR || error->message == NULL ||
      (error->code != SCHED_ERROR_INVALID && error->code != SCHED_ERROR_CONFLICT &&
       error->code != SCHED_ERROR_NOT_FOUND))
    return 0;
  while (g_ascii_islower(error->message[n]) || error->message[n] == '_')
    n++;
  return n > 0 && error->message[n] == ':' && error->message[n + 1] == ' ' ? n : 0;
}

char *sched_error_field(const GError *error)
{
  gsize n = field_length(error);

  return n > 0 ? g_strndup(error->message, n) : NULL;
}

const char *sched_error_reason(const GError *error)
{
  gsize n = field_length(error);

  g_return_val_if_fail(error != NULL, NULL);
  return n > 0 ? error->message + n + 2 : error->message;
}

gboolean sched_error_is_slot_taken(const GError *error)
{
  return error != NULL && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_CONFLICT &&
         g_strcmp0(sched_error_reason(error), "slot taken") == 0;
}

gboolean sched__in_set(const char *value, const char *const *set, gsize n)
{
  if (value == NULL)
    return FALSE;
  for (gsize i = 0; i < n; i++) {
    if (strcmp(value, set[i]) == 0)
      return TRUE;
  }
  return FALSE;
}

gint64 sched__now_s(void)
{
  return g_get_real_time() / G_USEC_PER_SEC;
}

gboolean sched__valid_time(gint64 t)
{
  return t >= 1 && t <= SCHED_TIME_MAX;
}

/* Valid UTF-8 of 1..max_bytes bytes without control characters; with `no_space`, without any
 * white space either. */
gboolean sched__valid_text(const char *s, gsize max_bytes, gboolean no_space)
{
  gboolean visible = FALSE;
  gsize len;

  if (s == NULL)
    return FALSE;
  len = strlen(s);
  if (len == 0 || len > max_bytes || !g_utf8_validate(s, len, NULL))
    return FALSE;
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    if (g_unichar_iscntrl(c) || (no_space && !g_unichar_isgraph(c)))
      return FALSE;
    if (!g_unichar_isspace(c))
      visible = TRUE;
  }
  /* A name of only spaces would show as nothing on the console. */
  return visible;
}

gboolean sched__valid_phone(const char *phone)
{
  gsize len = phone != NULL ? strlen(phone) : 0;

  if (len == 0 || len > SCHED_PHONE_MAX_BYTES)
    return FALSE;
  if (strspn(phone, "0123456789+ -()") != len)
    return FALSE;
  return strpbrk(phone, "0123456789") != NULL;
}

static gboolean valid_password(const char *password)
{
  gsize len = password != NULL ? strlen(password) : 0;

  if (len == 0 || len > SCHED_PASSWORD_MAX_BYTES || !g_utf8_validate(password, len, NULL))
    return FALSE;
  return g_utf8_strlen(password, len) >= SCHED_PASSWORD_MIN_CHARS;
}

/* A cancelled appointment revokes its tokens and admits no consultation. */
gboolean sched__status_is_revoked(const char *status)
{
  return g_strcmp0(status, "cancelled") == 0 || g_strcmp0(status, "entered-in-error") == 0;
}

/* --- Store ------------------------------------------------------------------------------- */

/* The hash that sched_staff_authenticate() verifies an unknown username against, so that an
 * unknown name costs the same Argon2id verification as a wrong password. Made once per process
 * from a random password nobody knows, with the same limits as real hashes; immutable after. */
static char dummy_hash[crypto_pwhash_STRBYTES];

static gboolean dummy_hash_init(GError **error)
{
  static gsize state = 0; /* 1: ready, 2: failed (out of memory) */

  if (g_once_init_enter(&state)) {
    g_autofree char *secret = sched_token_generate();
    gsize result = 1;

    if (crypto_pwhash_str(dummy_hash, secret, strlen(secret), PWHASH_OPSLIMIT, PWHASH_MEMLIMIT) !=
        0)
      result = 2;
    sodium_memzero(secret, strlen(secret));
    g_once_init_leave(&state, result);
  }
  if (state != 1) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "cannot allocate memory for Argon2id");
    return FALSE;
  }
  return TRUE;
}

SchedStore *sched_store_open(const char *path, GError **error)
{
  g_autoptr(SchedStore) store = NULL;

  g_return_val_if_fail(path != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  sched__crypto_init();
  if (!dummy_hash_init(error))
    return NULL;
  store = g_new0(SchedStore, 1);
  store->backend = &sched_backend_sqlite;
  store->window.before_start_s = SCHED_TOKEN_BEFORE_START_DEFAULT_S;
  store->window.after_end_s = SCHED_TOKEN_AFTER_END_DEFAULT_S;
  store->policy.hold_s = SCHED_HOLD_DEFAULT_S;
  store->policy.offer_s = SCHED_OFFER_DEFAULT_S;
  store->policy.noshow_after_s = SCHED_NOSHOW_AFTER_DEFAULT_S;
  store->public_url = g_strdup("https://localhost:8443");
  store->zones =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_time_zone_unref);
  store->db = store->backend->open(path, error);
  if (store->db == NULL)
    return NULL;
  g_debug("store open (%s backend, schema %d)", store->backend->name,
          store->backend->schema_version(store->db));
  return g_steal_pointer(&store);
}

void sched_store_free(SchedStore *store)
{
  if (store == NULL)
    return;
  if (store->db != NULL)
    store->backend->close(store->db);
  sched__engine_free(store);
  g_free(store);
}

int sched_store_schema_version(SchedStore *store)
{
  g_return_val_if_fail(store != NULL, 0);
  return store->backend->schema_version(store->db);
}

gboolean sched_store_integrity_check(SchedStore *store, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  return store->backend->integrity_check(store->db, error);
}

void sched_store_set_policy(SchedStore *store, const SchedPolicy *policy)
{
  g_return_if_fail(store != NULL);
  g_return_if_fail(policy != NULL);
  g_return_if_fail(policy->hold_s > 0 && policy->offer_s > 0 && policy->noshow_after_s > 0);
  store->policy = *policy;
}

void sched_store_set_public_url(SchedStore *store, const char *public_url)
{
  g_return_if_fail(store != NULL);
  g_return_if_fail(public_url != NULL);
  g_free(store->public_url);
  store->public_url = g_strdup(public_url);
}

void sched_store_set_token_window(SchedStore *store, const SchedTokenWindow *window)
{
  g_return_if_fail(store != NULL);
  g_return_if_fail(window != NULL);
  g_return_if_fail(window->before_start_s >= 0 && window->after_end_s >= 0);
  store->window = *window;
}

/* --- Staff ------------------------------------------------------------------------------- */

static const char *const staff_roles[] = {"doctor", "admin", "analyst"};

gint64 sched_doctor_add(SchedStore *store, const char *username, const char *display_name,
                        const char *password, GError **error)
{
  return sched_staff_add(store, username, display_name, password, "doctor", error);
}

gint64 sched_staff_add(SchedStore *store, const char *username, const char *display_name,
                       const char *password, const char *role, GError **error)
{
  char hash[crypto_pwhash_STRBYTES];
  gint64 id;

  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);

  if (!sched__valid_text(username, SCHED_USERNAME_MAX_BYTES, TRUE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "username",
                       "a username is 1 to %d bytes of UTF-8 without spaces",
                       SCHED_USERNAME_MAX_BYTES);
    return 0;
  }
  if (!sched__valid_text(display_name, SCHED_NAME_MAX_BYTES, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "display_name",
                       "a display name is 1 to %d bytes of UTF-8", SCHED_NAME_MAX_BYTES);
    return 0;
  }
  if (!valid_password(password)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "password",
                       "a password is %d to %d bytes of UTF-8 and at least %d characters",
                       SCHED_PASSWORD_MIN_CHARS, SCHED_PASSWORD_MAX_BYTES,
                       SCHED_PASSWORD_MIN_CHARS);
    return 0;
  }
  if (!sched__in_set(role, staff_roles, G_N_ELEMENTS(staff_roles))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "role", "a role is doctor, admin or analyst");
    return 0;
  }
  if (crypto_pwhash_str(hash, password, strlen(password), PWHASH_OPSLIMIT, PWHASH_MEMLIMIT) != 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "cannot allocate memory for Argon2id");
    return 0;
  }
  {
    g_autoptr(GError) local_error = NULL;
    id = store->backend->staff_insert(store->db, username, display_name, role, hash, sched__now_s(),
                                      &local_error);
    if (g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_CONFLICT)) {
      sched__field_error(error, SCHED_ERROR_CONFLICT, "username", "this username is taken");
      return 0;
    }
    if (local_error != NULL) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return 0;
    }
  }
  g_info("staff %" G_GINT64_FORMAT " added (%s)", id, role);
  return id;
}

gint64 sched_staff_authenticate(SchedStore *store, const char *username, const char *password,
                                GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *stored = NULL;
  char hash[crypto_pwhash_STRBYTES];
  gboolean known = FALSE;
  gint64 staff_id = 0;
  gsize password_len;

  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);

  if (sched__valid_text(username, SCHED_USERNAME_MAX_BYTES, TRUE)) {
    if (store->backend->staff_find_login(store->db, username, &staff_id, &stored, &local_error)) {
      known = stored != NULL && strlen(stored) < sizeof hash;
    } else if (!g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND)) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return 0;
    }
  }
  /* Whatever happened above, exactly one Argon2id verification runs from here on, so the time
   * taken does not tell whether the username exists. */
  g_strlcpy(hash, known ? stored : dummy_hash, sizeof hash);
  password_len = password != NULL ? strlen(password) : 0;
  if (crypto_pwhash_str_verify(hash, password != NULL ? password : "",
                               MIN(password_len, SCHED_PASSWORD_MAX_BYTES)) == 0 &&
      known && password_len <= SCHED_PASSWORD_MAX_BYTES) {
    g_debug("staff %" G_GINT64_FORMAT " authenticated", staff_id);
    return staff_id;
  }
  g_set_error(error, SCHED_ERROR, SCHED_ERROR_AUTH, "wrong username or password");
  return 0;
}

SchedStaff *sched_staff_get(SchedStore *store, gint64 staff_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  {
    g_autoptr(GError) local_error = NULL;
    SchedStaff *staff =
        staff_id > 0 ? store->backend->staff_get(store->db, staff_id, &local_error) : NULL;

    if (staff != NULL)
      return staff;
    if (local_error == NULL || g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
      sched__field_error(error, SCHED_ERROR_NOT_FOUND, "staff_id", "no staff %" G_GINT64_FORMAT,
                         staff_id);
    else
      g_propagate_error(error, g_steal_pointer(&local_error));
    return NULL;
  }
}

SchedStaff *sched_staff_find(SchedStore *store, const char *username, GError **error)
{
  g_autofree char *stored = NULL;
  gint64 staff_id = 0;

  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (!sched__valid_text(username, SCHED_USERNAME_MAX_BYTES, TRUE)) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "username", "no such staff");
    return NULL;
  }
  {
    g_autoptr(GError) local_error = NULL;
    if (!store->backend->staff_find_login(store->db, username, &staff_id, &stored, &local_error)) {
      if (g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
        sched__field_error(error, SCHED_ERROR_NOT_FOUND, "username", "no such staff");
      else
        g_propagate_error(error, g_steal_pointer(&local_error));
      return NULL;
    }
  }
  return store->backend->staff_get(store->db, staff_id, error);
}

void sched_staff_free(SchedStaff *staff)
{
  if (staff == NULL)
    return;
  g_free(staff->username);
  g_free(staff->display_name);
  g_free(staff->role);
  g_free(staff);
}

char *sched_session_open(SchedStore *store, gint64 staff_id, gint64 now, gint64 ttl_s,
                         GError **error)
{
  const SchedBackend *be;
  g_autoptr(SchedStaff) staff = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *hash = NULL;
  gboolean ok = FALSE, in_tx = FALSE;

  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  be = store->backend;

  if (!sched__valid_time(now) || ttl_s <= 0 || ttl_s > SCHED_TIME_MAX) {
    sched__field_error(error, SCHED_ERROR_INVALID, "ttl_s",
                       "session time or lifetime out of range");
    return NULL;
  }
  staff = sched_staff_get(store, staff_id, error);
  if (staff == NULL)
    return NULL;
  secret = sched_token_generate();
  hash = sched__secret_hash(secret);
  if (!be->begin(store->db, error))
    goto out;
  in_tx = TRUE;
  if (!be->session_delete_expired(store->db, now, error) ||
      !be->session_insert(store->db, hash, staff_id, now, now + ttl_s, error) ||
      !be->commit(store->db, error))
    goto out;
  in_tx = FALSE;
  g_debug("session opened for staff %" G_GINT64_FORMAT, staff_id);
  ok = TRUE;
out:
  if (in_tx)
    be->rollback(store->db);
  return ok ? g_steal_pointer(&secret) : NULL;
}

gint64 sched_session_lookup(SchedStore *store, const char *secret, gint64 now)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *hash = NULL;
  gint64 staff_id = 0, expires_at = 0;

  g_return_val_if_fail(store != NULL, 0);

  if (!sched_token_is_well_formed(secret))
    return 0;
  hash = sched__secret_hash(secret);
  if (!store->backend->session_find(store->db, hash, &staff_id, &expires_at, &error)) {
    if (!g_error_matches(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
      g_warning("session lookup failed: %s", error->message);
    return 0;
  }
  return now < expires_at ? staff_id : 0;
}

void sched_session_close(SchedStore *store, const char *secret)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *hash = NULL;

  g_return_if_fail(store != NULL);

  if (!sched_token_is_well_formed(secret))
    return;
  hash = sched__secret_hash(secret);
  if (!store->backend->session_delete(store->db, hash, &error))
    g_warning("closing a session failed: %s", error->message);
}

/* --- Patients and appointments ------------------------------------------------------------ */

gint64 sched_patient_add(SchedStore *store, const char *display_name, const char *phone,
                         GError **error)
{
  /* The same rules as the full form: one place validates a patient. */
  return sched_patient_add_full(store, display_name, phone, NULL, error);
}

void sched_appointment_free(SchedAppointment *appointment)
{
  if (appointment == NULL)
    return;
  g_free(appointment->status);
  g_free(appointment->patient_name);
  g_free(appointment->doctor_name);
  g_free(appointment->kind);
  g_free(appointment->cancel_reason);
  g_free(appointment);
}

/* NOT_FOUND "doctor_id" unless `doctor_id` is a staff member whose role is doctor. */
static gboolean check_doctor(SchedStore *store, gint64 doctor_id, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(SchedStaff) staff = sched_staff_get(store, doctor_id, &local_error);

  if (staff == NULL && !g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND)) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  if (staff == NULL || g_strcmp0(staff->role, "doctor") != 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "doctor_id",
                       "staff %" G_GINT64_FORMAT " is not a doctor", doctor_id);
    return FALSE;
  }
  return TRUE;
}

gint64 sched_appointment_book(SchedStore *store, gint64 doctor_id, gint64 patient_id,
                              gint64 starts_at, gint64 ends_at, char **patient_token,
                              GError **error)
{
  const SchedBackend *be;
  g_autofree char *token = NULL;
  g_autofree char *hash = NULL;
  gboolean in_tx = FALSE;
  gint64 now = sched__now_s(), id = 0;

  if (patient_token != NULL)
    *patient_token = NULL;
  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  be = store->backend;

  if (!sched__valid_time(starts_at) || !sched__valid_time(ends_at) || ends_at <= starts_at) {
    sched__field_error(error, SCHED_ERROR_INVALID,
                       sched__valid_time(starts_at) ? "ends_at" : "starts_at",
                       "an appointment must end after it starts, within the time range");
    return 0;
  }
  if (patient_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "patient_id", "no patient %" G_GINT64_FORMAT,
                       patient_id);
    return 0;
  }
  token = sched_token_generate();
  hash = sched__secret_hash(token);
  if (!be->begin(store->db, error))
    goto out;
  in_tx = TRUE;
  if (!check_doctor(store, doctor_id, error))
    goto out;
  {
    g_autoptr(GError) local_error = NULL;
    if (!be->patient_exists(store->db, patient_id, &local_error)) {
      if (g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
        sched__field_error(error, SCHED_ERROR_NOT_FOUND, "patient_id",
                           "no patient %" G_GINT64_FORMAT, patient_id);
      else
        g_propagate_error(error, g_steal_pointer(&local_error));
      goto out;
    }
    id = be->appointment_insert(store->db, doctor_id, patient_id, starts_at, ends_at, "booked", now,
                                &local_error);
    if (g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_CONFLICT)) {
      sched__field_error(error, SCHED_ERROR_CONFLICT, "starts_at", "slot taken");
      goto out;
    }
    if (local_error != NULL) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      goto out;
    }
  }
  if (!be->token_insert(store->db, hash, id, "patient", now, error) ||
      !be->commit(store->db, error)) {
    id = 0;
    goto out;
  }
  in_tx = FALSE;
  g_info("appointment %" G_GINT64_FORMAT " booked (doctor %" G_GINT64_FORMAT
         ", patient %" G_GINT64_FORMAT ")",
         id, doctor_id, patient_id);
  if (patient_token != NULL)
    *patient_token = g_steal_pointer(&token);
out:
  if (in_tx)
    be->rollback(store->db);
  if (token != NULL)
    sodium_memzero(token, strlen(token));
  return id;
}

SchedAppointment *sched_appointment_get(SchedStore *store, gint64 appointment_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (appointment_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                       "no appointment %" G_GINT64_FORMAT, appointment_id);
    return NULL;
  }
  {
    g_autoptr(GError) local_error = NULL;
    SchedAppointment *a = store->backend->appointment_get(store->db, appointment_id, &local_error);

    if (a == NULL && g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
      sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                         "no appointment %" G_GINT64_FORMAT, appointment_id);
    else if (a == NULL)
      g_propagate_error(error, g_steal_pointer(&local_error));
    return a;
  }
}

GPtrArray *sched_appointments_for_doctor(SchedStore *store, gint64 doctor_id, gint64 from,
                                         gint64 to, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (to <= from) {
    sched__field_error(error, SCHED_ERROR_INVALID, "to", "an empty time range");
    return NULL;
  }
  if (!check_doctor(store, doctor_id, error))
    return NULL;
  return store->backend->appointment_list_for_doctor(store->db, doctor_id, from, to, error);
}

gboolean sched_appointment_set_status(SchedStore *store, gint64 appointment_id, const char *status,
                                      GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  if (!sched__in_set(status, appointment_statuses, G_N_ELEMENTS(appointment_statuses))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "status", "not an appointment status");
    return FALSE;
  }
  if (appointment_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                       "no appointment %" G_GINT64_FORMAT, appointment_id);
    return FALSE;
  }
  if (!store->backend->appointment_update_status(store->db, appointment_id, status, sched__now_s(),
                                                 error))
    return FALSE;
  g_info("appointment %" G_GINT64_FORMAT " is now %s", appointment_id, status);
  return TRUE;
}

/* --- Join tokens --------------------------------------------------------------------------- */

void sched_token_info_free(SchedTokenInfo *info)
{
  if (info == NULL)
    return;
  g_free(info->role);
  g_free(info);
}

SchedTokenVerdict sched_token_check(SchedStore *store, const char *token, gint64 now,
                                    SchedTokenInfo **info, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(SchedAppointment) appointment = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *role = NULL;
  SchedTokenVerdict verdict;
  gint64 appointment_id = 0, valid_from = 0, valid_until = 0;

  if (info != NULL)
    *info = NULL;
  g_return_val_if_fail(store != NULL, SCHED_TOKEN_UNKNOWN);
  g_return_val_if_fail(error == NULL || *error == NULL, SCHED_TOKEN_UNKNOWN);

  if (!sched_token_is_well_formed(token))
    return SCHED_TOKEN_MALFORMED;
  hash = sched__secret_hash(token);
  if (!store->backend->token_find(store->db, hash, &appointment_id, &role, &local_error)) {
    if (!g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
      g_propagate_error(error, g_steal_pointer(&local_error));
    return SCHED_TOKEN_UNKNOWN;
  }
  /* Foreign keys guarantee the appointment exists, so any failure here is the database's. */
  appointment = store->backend->appointment_get(store->db, appointment_id, &local_error);
  if (appointment == NULL) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "token without appointment: %s",
                local_error->message);
    return SCHED_TOKEN_UNKNOWN;
  }
  verdict = sched_token_window_verdict(&store->window, appointment->starts_at, appointment->ends_at,
                                       now, &valid_from, &valid_until);
  if (sched__status_is_revoked(appointment->status))
    verdict = SCHED_TOKEN_REVOKED;
  if (info != NULL) {
    SchedTokenInfo *i = g_new0(SchedTokenInfo, 1);
    i->appointment_id = appointment->id;
    i->doctor_id = appointment->doctor_id;
    i->role = g_steal_pointer(&role);
    i->valid_from = valid_from;
    i->valid_until = valid_until;
    *info = i;
  }
  return verdict;
}

char *sched_token_issue_guest(SchedStore *store, gint64 appointment_id, const char *role,
                              GError **error)
{
  g_autoptr(SchedAppointment) appointment = NULL;
  g_autofree char *token = NULL;
  g_autofree char *hash = NULL;

  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (!sched__in_set(role, guest_roles, G_N_ELEMENTS(guest_roles))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "role",
                       "a guest is an interpreter, a specialist or family");
    return NULL;
  }
  appointment = sched_appointment_get(store, appointment_id, error);
  if (appointment == NULL)
    return NULL;
  if (sched__status_is_revoked(appointment->status)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "appointment_id",
                       "appointment %" G_GINT64_FORMAT " is cancelled", appointment_id);
    return NULL;
  }
  token = sched_token_generate();
  hash = sched__secret_hash(token);
  if (!store->backend->token_insert(store->db, hash, appointment_id, role, sched__now_s(), error))
    return NULL;
  g_info("guest token (%s) issued for appointment %" G_GINT64_FORMAT, role, appointment_id);
  return g_steal_pointer(&token);
}

/* --- Consultation record ------------------------------------------------------------------- */

typedef enum { STAMP_WAITING, STAMP_STARTED, STAMP_ENDED } Stamp;

/* The one read-modify-write behind the three stamps, in one transaction. */
static gboolean consultation_stamp(SchedStore *store, gint64 appointment_id, Stamp stamp, gint64 at,
                                   const char *outcome, GError **error)
{
  const SchedBackend *be = store->backend;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(SchedAppointment) appointment = NULL;
  g_autoptr(SchedConsultation) c = NULL;
  const char *new_status = NULL;
  gboolean ok = FALSE, in_tx = FALSE, changed = FALSE, notify_next = FALSE;

  if (!sched__valid_time(at)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "at", "time out of range");
    return FALSE;
  }
  if (stamp == STAMP_ENDED && !sched__in_set(outcome, outcomes, G_N_ELEMENTS(outcomes))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "outcome",
                       "an outcome is completed, follow-up, referred, no-show or interrupted");
    return FALSE;
  }
  if (appointment_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                       "no appointment %" G_GINT64_FORMAT, appointment_id);
    return FALSE;
  }
  if (!be->begin(store->db, error))
    return FALSE;
  in_tx = TRUE;
  appointment = be->appointment_get(store->db, appointment_id, error);
  if (appointment == NULL)
    goto out;
  if (sched__status_is_revoked(appointment->status)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "appointment_id",
                       "appointment %" G_GINT64_FORMAT " is cancelled", appointment_id);
    goto out;
  }
  c = be->consultation_get(store->db, appointment_id, &local_error);
  if (c == NULL) {
    if (!g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND)) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      goto out;
    }
    c = g_new0(SchedConsultation, 1);
    c->appointment_id = appointment_id;
    changed = TRUE;
  }

  switch (stamp) {
  case STAMP_WAITING:
    /* Coming back to the waiting room after the call began (a rejoin) is not waiting. */
    if (c->waiting_since == 0 && c->started_at == 0 && c->ended_at == 0) {
      c->waiting_since = at;
      changed = TRUE;
    }
    /* The patient is in the online waiting room: "arrived"; "checked-in" is the staff's act. */
    if (g_strcmp0(appointment->status, "booked") == 0)
      new_status = "arrived";
    break;
  case STAMP_STARTED:
    if (c->started_at == 0 && c->ended_at == 0) {
      c->started_at = MAX(at, c->waiting_since);
      changed = TRUE;
      notify_next = TRUE;
    }
    break;
  case STAMP_ENDED:
    if (c->ended_at != 0) {
      if (g_strcmp0(c->outcome, outcome) != 0) {
        sched__field_error(error, SCHED_ERROR_CONFLICT, "outcome",
                           "consultation %" G_GINT64_FORMAT " already ended with another outcome",
                           appointment_id);
        goto out;
      }
      break;
    }
    c->ended_at = MAX(at, MAX(c->waiting_since, c->started_at));
    g_free(c->outcome);
    c->outcome = g_strdup(outcome);
    changed = TRUE;
    new_status = strcmp(outcome, "no-show") == 0 ? "noshow" : "fulfilled";
    break;
  }

  if (changed && !be->consultation_put(store->db, c, error))
    goto out;
  if (notify_next && !sched__queue_notify_next(store, appointment_id, at, error))
    goto out;
  if (new_status != NULL &&
      !be->appointment_update_status(store->db, appointment_id, new_status, sched__now_s(), error))
    goto out;
  if (!be->commit(store->db, error))
    goto out;
  in_tx = FALSE;
  if (new_status != NULL)
    g_info("appointment %" G_GINT64_FORMAT " is now %s", appointment_id, new_status);
  ok = TRUE;
out:
  if (in_tx)
    be->rollback(store->db);
  return ok;
}

gboolean sched_consultation_waiting(SchedStore *store, gint64 appointment_id, gint64 at,
                                    GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  return consultation_stamp(store, appointment_id, STAMP_WAITING, at, NULL, error);
}

gboolean sched_consultation_started(SchedStore *store, gint64 appointment_id, gint64 at,
                                    GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  return consultation_stamp(store, appointment_id, STAMP_STARTED, at, NULL, error);
}

gboolean sched_consultation_ended(SchedStore *store, gint64 appointment_id, gint64 at,
                                  const char *outcome, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  return consultation_stamp(store, appointment_id, STAMP_ENDED, at, outcome, error);
}

SchedConsultation *sched_consultation_get(SchedStore *store, gint64 appointment_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (appointment_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                       "no consultation %" G_GINT64_FORMAT, appointment_id);
    return NULL;
  }
  {
    g_autoptr(GError) local_error = NULL;
    SchedConsultation *c =
        store->backend->consultation_get(store->db, appointment_id, &local_error);

    if (c == NULL && g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
      sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                         "no consultation %" G_GINT64_FORMAT, appointment_id);
    else if (c == NULL)
      g_propagate_error(error, g_steal_pointer(&local_error));
    return c;
  }
}

void sched_consultation_free(SchedConsultation *consultation)
{
  if (consultation == NULL)
    return;
  g_free(consultation->outcome);
  g_free(consultation);
}

/* --- Group commit (scheduler.h) --- */

void sched_store_batch_begin(SchedStore *store)
{
  g_return_if_fail(store != NULL && !store->batch_open);
  store->batch_open = TRUE;
  store->backend->batch_begin(store->db);
}

gboolean sched_store_batch_commit(SchedStore *store, GError **error)
{
  g_return_val_if_fail(store != NULL && store->batch_open, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  store->batch_open = FALSE;
  return store->backend->batch_commit(store->db, error);
}

gboolean sched_store_batch_is_open(SchedStore *store)
{
  g_return_val_if_fail(store != NULL, FALSE);
  return store->batch_open;
}
