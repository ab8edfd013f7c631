/* scheduler.h — the scheduler: staff, patients, appointments, join tokens, staff sessions and the
 * consultation record. The only public header of the scheduler module (prefix `sched_`).
 *
 * Ownership: a SchedStore owns its database connection. Records returned by `_get`/`_list`
 * calls are (transfer full) and freed with their `_free` function.
 * Threads: not thread-safe. Every call is made from the main loop's thread.
 * Privacy: names and phone numbers are personal data. This module never logs them; callers
 * must not either. Log the opaque numeric ids instead.
 * Backends: the public calls dispatch to a backend (SQLite today; see sched-backend.h), so a
 * PostgreSQL backend is a new file, not a rewrite of the callers. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SCHED_ERROR (sched_error_quark())
GQuark sched_error_quark(void);

typedef enum {
  SCHED_ERROR_DB,        /* the database failed (I/O, corruption, busy) */
  SCHED_ERROR_NOT_FOUND, /* no such id */
  SCHED_ERROR_INVALID,   /* an argument is out of range or malformed */
  SCHED_ERROR_CONFLICT,  /* a uniqueness rule, e.g. a username already taken */
  SCHED_ERROR_AUTH,      /* wrong username or password (never says which) */
} SchedError;

typedef struct SchedStore SchedStore;

/* --- Store ------------------------------------------------------------------------------- */

/* Opens (creating if needed) the SQLite database at `path`, turns on WAL and foreign keys and
 * applies every pending versioned migration in one transaction each. (transfer full)
 * SCHED_ERROR_DB if it cannot, or if the database's schema is newer than this build. The first
 * open in a process also computes one Argon2id hash (~70 ms; see sched_staff_authenticate). */
SchedStore *sched_store_open(const char *path, GError **error);
void sched_store_free(SchedStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedStore, sched_store_free)

/* The schema version after migrations (the number of the last migration applied). */
int sched_store_schema_version(SchedStore *store);

/* The window in which a join token is valid, around its appointment. */
typedef struct {
  gint64 before_start_s; /* default 15 * 60 */
  gint64 after_end_s;    /* default 30 * 60 */
} SchedTokenWindow;

#define SCHED_TOKEN_BEFORE_START_DEFAULT_S (15 * 60)
#define SCHED_TOKEN_AFTER_END_DEFAULT_S (30 * 60)

/* Sets the window used by sched_token_check() from now on (both fields >= 0; the store starts
 * with the defaults above). */
void sched_store_set_token_window(SchedStore *store, const SchedTokenWindow *window);

/* Limits applied to every call below; anything outside them is SCHED_ERROR_INVALID.
 * Times (starts_at, ends_at, a session's `now`, a consultation's `at`) lie in
 * [1, SCHED_TIME_MAX] (up to 9999-12-31T23:59:59Z).
 * Names (usernames, display names) are valid UTF-8 without control characters. */
#define SCHED_TIME_MAX G_GINT64_CONSTANT(253402300799)
#define SCHED_USERNAME_MAX_BYTES 64 /* no spaces; unique ignoring ASCII case */
#define SCHED_NAME_MAX_BYTES 200    /* display names */
#define SCHED_PHONE_MAX_BYTES 32    /* digits, '+', ' ', '-', '(', ')' */
#define SCHED_PASSWORD_MIN_CHARS 8  /* counted in Unicode characters */
#define SCHED_PASSWORD_MAX_BYTES 1024

/* --- Staff ------------------------------------------------------------------------------- */

/* Adds a doctor who logs in with `username` and `password` (stored as an Argon2id hash with a
 * random salt). Returns the new staff id, or 0 with SCHED_ERROR_CONFLICT if the username is
 * taken, SCHED_ERROR_INVALID for an empty username or a password under 8 characters (or any
 * argument outside the limits above). Costs one Argon2id hash (tens of ms, 64 MiB). */
gint64 sched_doctor_add(SchedStore *store, const char *username, const char *display_name,
                        const char *password, GError **error);

/* Checks a username and password. Returns the staff id, or 0 with SCHED_ERROR_AUTH (or
 * SCHED_ERROR_DB if the database failed). Takes the same time whether or not the username
 * exists: one Argon2id verification (tens of ms, 64 MiB), which blocks the calling thread. */
gint64 sched_staff_authenticate(SchedStore *store, const char *username, const char *password,
                                GError **error);

typedef struct {
  gint64 id;
  char *username;
  char *display_name;
  char *role; /* "doctor" (later: "admin", "analyst") */
} SchedStaff;

SchedStaff *sched_staff_get(SchedStore *store, gint64 staff_id, GError **error);
/* The staff member with `username` (case-insensitive for ASCII), for the operator's command
 * line. (transfer full) NULL with SCHED_ERROR_NOT_FOUND if there is none. */
SchedStaff *sched_staff_find(SchedStore *store, const char *username, GError **error);
void sched_staff_free(SchedStaff *staff);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedStaff, sched_staff_free)

/* Opens a staff session valid for `ttl_s` seconds from `now`, i.e. live while
 * now < `now` + ttl_s. Returns the session secret (256 random bits, the shape of a join token,
 * URL-safe) to put in a cookie; only its hash is stored. SCHED_ERROR_NOT_FOUND for an unknown
 * staff id, SCHED_ERROR_INVALID for ttl_s <= 0. Also deletes sessions expired at `now`. */
char *sched_session_open(SchedStore *store, gint64 staff_id, gint64 now, gint64 ttl_s,
                         GError **error);
/* The staff id of a live session, or 0 if unknown, expired or malformed (a database failure
 * is logged and also gives 0). */
gint64 sched_session_lookup(SchedStore *store, const char *secret, gint64 now);
void sched_session_close(SchedStore *store, const char *secret);

/* --- Patients and appointments ------------------------------------------------------------ */

/* Adds a patient. `phone` may be NULL. Returns the new patient id, or 0 with
 * SCHED_ERROR_INVALID for an empty name or a malformed phone number. */
gint64 sched_patient_add(SchedStore *store, const char *display_name, const char *phone,
                         GError **error);

typedef struct {
  gint64 id;
  gint64 doctor_id;
  gint64 patient_id;
  gint64 starts_at;   /* unix seconds, UTC */
  gint64 ends_at;     /* unix seconds, UTC */
  char *status;       /* FHIR Appointment.status: "booked", "checked-in", "fulfilled",
                         "cancelled", "noshow", ... */
  char *patient_name; /* personal data: never log */
  char *doctor_name;
} SchedAppointment;

void sched_appointment_free(SchedAppointment *appointment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedAppointment, sched_appointment_free)

/* Books an appointment (status "booked") and issues its patient join token. `*patient_token`
 * (optional; NULL on failure) receives the token (transfer full); only its SHA-256 is stored,
 * so it cannot be read back later.
 * SCHED_ERROR_NOT_FOUND for an unknown doctor or patient (a staff id whose role is not
 * "doctor" counts as unknown), SCHED_ERROR_INVALID if ends_at <= starts_at or a time is out of
 * range. Returns the appointment id or 0. */
gint64 sched_appointment_book(SchedStore *store, gint64 doctor_id, gint64 patient_id,
                              gint64 starts_at, gint64 ends_at, char **patient_token,
                              GError **error);

SchedAppointment *sched_appointment_get(SchedStore *store, gint64 appointment_id, GError **error);

/* A doctor's appointments overlapping [from, to), by start time (then id), in every status.
 * (element-type SchedAppointment) (transfer full): the array frees its elements.
 * SCHED_ERROR_NOT_FOUND for an unknown doctor, SCHED_ERROR_INVALID if to <= from. */
GPtrArray *sched_appointments_for_doctor(SchedStore *store, gint64 doctor_id, gint64 from,
                                         gint64 to, GError **error);

/* Sets any FHIR Appointment.status value ("proposed", "pending", "booked", "arrived",
 * "fulfilled", "cancelled", "noshow", "checked-in", "waitlist", "entered-in-error"); no
 * transition rules yet. SCHED_ERROR_INVALID for another string, NOT_FOUND for an unknown id. */
gboolean sched_appointment_set_status(SchedStore *store, gint64 appointment_id, const char *status,
                                      GError **error);

/* --- Join tokens --------------------------------------------------------------------------- */

typedef enum {
  SCHED_TOKEN_VALID,
  SCHED_TOKEN_MALFORMED, /* not the shape of a token at all */
  SCHED_TOKEN_UNKNOWN,   /* well-formed, but no such token */
  SCHED_TOKEN_TOO_EARLY, /* before its window opens */
  SCHED_TOKEN_EXPIRED,   /* after its window closed */
  SCHED_TOKEN_REVOKED,   /* its appointment was cancelled (or entered in error) */
} SchedTokenVerdict;

typedef struct {
  gint64 appointment_id;
  gint64 doctor_id;
  char *role;         /* "patient", or for guests "interpreter", "specialist", "family" */
  gint64 valid_from;  /* unix seconds */
  gint64 valid_until; /* unix seconds */
} SchedTokenInfo;

void sched_token_info_free(SchedTokenInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedTokenInfo, sched_token_info_free)

/* Looks a join token up and judges it at `now`. `*info` (optional, transfer full) is set for
 * VALID, TOO_EARLY, EXPIRED and REVOKED, so a page can say when the window opens or closed;
 * otherwise it is set to NULL. A malformed token (including NULL) is judged without touching
 * the database. The window is [valid_from, valid_until): open at valid_from, closed at
 * valid_until. A fulfilled or no-show appointment's tokens stay valid until the window closes
 * (a patient may come back to rate the visit).
 * Returns SCHED_TOKEN_UNKNOWN with `error` set only when the database failed. */
SchedTokenVerdict sched_token_check(SchedStore *store, const char *token, gint64 now,
                                    SchedTokenInfo **info, GError **error);

/* Issues a guest join token (an interpreter, specialist or family member invited by the
 * doctor) for an appointment; same window as the patient's. (transfer full)
 * `role`: "interpreter", "specialist" or "family" (else SCHED_ERROR_INVALID).
 * SCHED_ERROR_NOT_FOUND for an unknown appointment, SCHED_ERROR_INVALID for a cancelled one.
 * Does not check who asks: the caller checks that the requester is the appointment's doctor. */
char *sched_token_issue_guest(SchedStore *store, gint64 appointment_id, const char *role,
                              GError **error);

/* Pure token rules (no database), for callers and tests. MT safe. */

#define SCHED_TOKEN_LENGTH 43

/* A new token: 32 bytes from the system CSPRNG, base64url without padding (43 chars). */
char *sched_token_generate(void);
/* TRUE if `token` has the shape sched_token_generate() makes. */
gboolean sched_token_is_well_formed(const char *token);
/* The verdict for an appointment [starts_at, ends_at) at `now` under `window` (VALID,
 * TOO_EARLY or EXPIRED), and the window's bounds (`valid_from`, `valid_until` optional).
 * Valid while starts_at - before_start_s <= now < ends_at + after_end_s (saturating at the
 * gint64 limits). A NULL `window` means the defaults. */
SchedTokenVerdict sched_token_window_verdict(const SchedTokenWindow *window, gint64 starts_at,
                                             gint64 ends_at, gint64 now, gint64 *valid_from,
                                             gint64 *valid_until);

/* --- Consultation record ------------------------------------------------------------------- */

/* The consultation of an appointment: created when the patient first enters the waiting room
 * (idempotent), then stamped when the call starts and ends. Times are unix seconds.
 * - waiting: keeps the first waiting_since; a "booked" appointment becomes "checked-in".
 * - started: stamps started_at the first time only; does nothing once ended.
 * - ended: stamps ended_at and outcome; the appointment becomes "noshow" for "no-show", else
 *   "fulfilled". Repeating it with the same outcome changes nothing; with another outcome it
 *   is SCHED_ERROR_CONFLICT. A consultation that never waited or started may still end (a
 *   no-show).
 * A stamp is never earlier than the one before it (a clock stepping back is clamped), so the
 * record's durations are never negative. SCHED_ERROR_NOT_FOUND for an unknown appointment,
 * SCHED_ERROR_INVALID for a cancelled one or a time out of range. */
gboolean sched_consultation_waiting(SchedStore *store, gint64 appointment_id, gint64 at,
                                    GError **error);
gboolean sched_consultation_started(SchedStore *store, gint64 appointment_id, gint64 at,
                                    GError **error);
/* `outcome`: "completed", "follow-up", "referred", "no-show", or "interrupted". */
gboolean sched_consultation_ended(SchedStore *store, gint64 appointment_id, gint64 at,
                                  const char *outcome, GError **error);

typedef struct {
  gint64 appointment_id;
  gint64 waiting_since; /* 0 if never */
  gint64 started_at;    /* 0 if not yet */
  gint64 ended_at;      /* 0 if not yet */
  char *outcome;        /* NULL until ended */
} SchedConsultation;

/* SCHED_ERROR_NOT_FOUND if the appointment has no consultation yet. */
SchedConsultation *sched_consultation_get(SchedStore *store, gint64 appointment_id, GError **error);
void sched_consultation_free(SchedConsultation *consultation);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedConsultation, sched_consultation_free)

G_END_DECLS
