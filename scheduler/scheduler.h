/* sched.h — the scheduler: staff, patients, appointments, join tokens, staff sessions and the
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
 * applies every pending versioned migration in one transaction each. (transfer full) */
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

void sched_store_set_token_window(SchedStore *store, const SchedTokenWindow *window);

/* --- Staff ------------------------------------------------------------------------------- */

/* Adds a doctor who logs in with `username` and `password` (stored as an Argon2id hash with a
 * random salt). Returns the new staff id, or 0 with SCHED_ERROR_CONFLICT if the username is
 * taken, SCHED_ERROR_INVALID for an empty username or a password under 8 characters. */
gint64 sched_doctor_add(SchedStore *store, const char *username, const char *display_name,
                        const char *password, GError **error);

/* Checks a username and password. Returns the staff id, or 0 with SCHED_ERROR_AUTH. Takes the
 * same time whether or not the username exists. */
gint64 sched_staff_authenticate(SchedStore *store, const char *username, const char *password,
                                GError **error);

typedef struct {
  gint64 id;
  char *username;
  char *display_name;
  char *role; /* "doctor" (later: "admin", "analyst") */
} SchedStaff;

SchedStaff *sched_staff_get(SchedStore *store, gint64 staff_id, GError **error);
void sched_staff_free(SchedStaff *staff);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedStaff, sched_staff_free)

/* Opens a staff session valid for `ttl_s` seconds from `now`. Returns the session secret
 * (at least 128 random bits, URL-safe) to put in a cookie; only its hash is stored. */
char *sched_session_open(SchedStore *store, gint64 staff_id, gint64 now, gint64 ttl_s,
                         GError **error);
/* The staff id of a live session, or 0 if unknown or expired. */
gint64 sched_session_lookup(SchedStore *store, const char *secret, gint64 now);
void sched_session_close(SchedStore *store, const char *secret);

/* --- Patients and appointments ------------------------------------------------------------ */

gint64 sched_patient_add(SchedStore *store, const char *display_name, const char *phone,
                         GError **error);

typedef struct {
  gint64 id;
  gint64 doctor_id;
  gint64 patient_id;
  gint64 starts_at; /* unix seconds, UTC */
  gint64 ends_at;   /* unix seconds, UTC */
  char *status;     /* FHIR Appointment.status: "booked", "checked-in", "fulfilled",
                       "cancelled", "noshow", ... */
  char *patient_name; /* personal data: never log */
  char *doctor_name;
} SchedAppointment;

void sched_appointment_free(SchedAppointment *appointment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedAppointment, sched_appointment_free)

/* Books an appointment and issues its patient join token. `*patient_token` receives the token
 * (transfer full); only its SHA-256 is stored, so it cannot be read back later.
 * SCHED_ERROR_NOT_FOUND for an unknown doctor or patient, SCHED_ERROR_INVALID if ends_at <=
 * starts_at. Returns the appointment id or 0. */
gint64 sched_appointment_book(SchedStore *store, gint64 doctor_id, gint64 patient_id,
                              gint64 starts_at, gint64 ends_at, char **patient_token,
                              GError **error);

SchedAppointment *sched_appointment_get(SchedStore *store, gint64 appointment_id,
                                        GError **error);

/* A doctor's appointments overlapping [from, to), by start time.
 * (element-type SchedAppointment) (transfer full): the array frees its elements. */
GPtrArray *sched_appointments_for_doctor(SchedStore *store, gint64 doctor_id, gint64 from,
                                         gint64 to, GError **error);

gboolean sched_appointment_set_status(SchedStore *store, gint64 appointment_id,
                                      const char *status, GError **error);

/* --- Join tokens --------------------------------------------------------------------------- */

typedef enum {
  SCHED_TOKEN_VALID,
  SCHED_TOKEN_MALFORMED, /* not the shape of a token at all */
  SCHED_TOKEN_UNKNOWN,   /* well-formed, but no such token */
  SCHED_TOKEN_TOO_EARLY, /* before its window opens */
  SCHED_TOKEN_EXPIRED,   /* after its window closed */
  SCHED_TOKEN_REVOKED,   /* its appointment was cancelled */
} SchedTokenVerdict;

typedef struct {
  gint64 appointment_id;
  gint64 doctor_id;
  char *role;          /* "patient", or for guests "interpreter", "specialist", "family" */
  gint64 valid_from;   /* unix seconds */
  gint64 valid_until;  /* unix seconds */
} SchedTokenInfo;

void sched_token_info_free(SchedTokenInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedTokenInfo, sched_token_info_free)

/* Looks a join token up and judges it at `now`. `*info` (optional, transfer full) is set for
 * VALID, TOO_EARLY, EXPIRED and REVOKED, so a page can say when the window opens or closed.
 * Returns SCHED_TOKEN_UNKNOWN with `error` set only when the database failed. */
SchedTokenVerdict sched_token_check(SchedStore *store, const char *token, gint64 now,
                                    SchedTokenInfo **info, GError **error);

/* Issues a guest join token (an interpreter, specialist or family member invited by the
 * doctor) for an appointment; same window as the patient's. (transfer full) */
char *sched_token_issue_guest(SchedStore *store, gint64 appointment_id, const char *role,
                              GError **error);

/* Pure token rules (no database), for callers and tests. */

/* A new token: 32 bytes from the system CSPRNG, base64url without padding (43 chars). */
char *sched_token_generate(void);
/* TRUE if `token` has the shape sched_token_generate() makes. */
gboolean sched_token_is_well_formed(const char *token);
/* The verdict for an appointment [starts_at, ends_at) at `now` under `window` (VALID,
 * TOO_EARLY or EXPIRED), and the window's bounds. */
SchedTokenVerdict sched_token_window_verdict(const SchedTokenWindow *window, gint64 starts_at,
                                             gint64 ends_at, gint64 now, gint64 *valid_from,
                                             gint64 *valid_until);

/* --- Consultation record ------------------------------------------------------------------- */

/* The consultation of an appointment: created when the patient first enters the waiting room
 * (idempotent), then stamped when the call starts and ends. Times are unix seconds. */
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

SchedConsultation *sched_consultation_get(SchedStore *store, gint64 appointment_id,
                                          GError **error);
void sched_consultation_free(SchedConsultation *consultation);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedConsultation, sched_consultation_free)

G_END_DECLS
