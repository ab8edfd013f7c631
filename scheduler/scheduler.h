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

/* Errors name the offending field. Every SCHED_ERROR_INVALID, SCHED_ERROR_CONFLICT and
 * SCHED_ERROR_NOT_FOUND message is "field: reason", where `field` is the name of the argument or
 * struct member at fault as the API spells it ("starts_at", "timezone", "doctor_id", …) and
 * `reason` is English text without personal data. A lost race for a slot is CONFLICT with the
 * reason exactly "slot taken" (field "starts_at"). The two helpers below split the message. */

/* The field an error names, or NULL if it names none (SCHED_ERROR_DB, SCHED_ERROR_AUTH, or any
 * error outside SCHED_ERROR). (transfer full) */
char *sched_error_field(const GError *error);
/* The reason part of the message (after "field: "), or the whole message if it names no
 * field. (transfer none): points into error->message. */
const char *sched_error_reason(const GError *error);
/* TRUE if `error` is SCHED_ERROR_CONFLICT with the reason "slot taken". */
gboolean sched_error_is_slot_taken(const GError *error);

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

/* Runs `PRAGMA integrity_check`: TRUE if it says "ok"; FALSE with SCHED_ERROR_DB carrying its
 * first complaint otherwise. Reads the whole file: seconds on a large database. */
gboolean sched_store_integrity_check(SchedStore *store, GError **error);

/* Times the booking engine uses; every field > 0. */
typedef struct {
  gint64 hold_s;         /* how long a hold (status "pending") keeps its slot */
  gint64 offer_s;        /* how long a waitlist offer's hold lasts */
  gint64 noshow_after_s; /* a booked patient not arrived this long after the start is a no-show */
} SchedPolicy;

#define SCHED_HOLD_DEFAULT_S 300
#define SCHED_OFFER_DEFAULT_S 1800
#define SCHED_NOSHOW_AFTER_DEFAULT_S (15 * 60)

/* Sets the policy from now on (the store starts with the defaults above). */
void sched_store_set_policy(SchedStore *store, const SchedPolicy *policy);
/* Sets the base of join links put in notices, e.g. "https://clinic.example" (no trailing
 * slash; the link is base + "/join/" + token). Default "https://localhost:8443". Copied. */
void sched_store_set_public_url(SchedStore *store, const char *public_url);

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
  char *role; /* "doctor", "admin" or "analyst" */
} SchedStaff;

/* Adds a staff member with `role` "doctor", "admin" or "analyst" (else SCHED_ERROR_INVALID
 * "role: …"); otherwise exactly as sched_doctor_add (which is this with role "doctor").
 * Returns the new staff id or 0; nothing is written on error. */
gint64 sched_staff_add(SchedStore *store, const char *username, const char *display_name,
                       const char *password, const char *role, GError **error);
/* Every staff member, by id; `role` NULL for all roles. (element-type SchedStaff) (transfer full)
 * SCHED_ERROR_INVALID "role: …" for an unknown role. */
GPtrArray *sched_staff_list(SchedStore *store, const char *role, GError **error);

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

/* --- Facilities ---------------------------------------------------------------------------- */

#define SCHED_TIMEZONE_DEFAULT "Asia/Karachi"

typedef struct {
  gint64 id;
  char *name;
  char *district;
  char *sector;   /* "public", "private" or "ngo" */
  char *timezone; /* IANA zone, e.g. "Asia/Karachi" */
} SchedFacility;

void sched_facility_free(SchedFacility *facility);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedFacility, sched_facility_free)

/* Adds a facility. `timezone` NULL means SCHED_TIMEZONE_DEFAULT. Returns the new id, or 0 with
 * SCHED_ERROR_INVALID naming the field: "name"/"district" (1..SCHED_NAME_MAX_BYTES of UTF-8),
 * "sector" (not public/private/ngo), "timezone" (not an IANA zone GTimeZone knows).
 * Nothing is written on error. */
gint64 sched_facility_add(SchedStore *store, const char *name, const char *district,
                          const char *sector, const char *timezone, GError **error);
/* (transfer full) NULL with SCHED_ERROR_NOT_FOUND "facility_id: …" for an unknown id. */
SchedFacility *sched_facility_get(SchedStore *store, gint64 facility_id, GError **error);
/* Facilities by id whose name contains `name_contains` (case-insensitive for ASCII; NULL for
 * all). (element-type SchedFacility) (transfer full) */
GPtrArray *sched_facilities_list(SchedStore *store, const char *name_contains, GError **error);

/* --- Doctors' profiles ------------------------------------------------------------------------ */

typedef struct {
  gint64 id; /* the staff id */
  char *username;
  char *display_name;
  gint64 facility_id; /* 0 until a profile is set */
  char *specialty;    /* NULL until set */
  char **languages;   /* NULL-terminated ISO 639-1 codes ("ur", "en", …); never NULL (may be
                         empty) */
  char *gender;       /* "female", "male", "other", or NULL until set */
} SchedDoctor;

void sched_doctor_free(SchedDoctor *doctor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedDoctor, sched_doctor_free)

/* Sets (replaces) a doctor's profile. `languages` is a NULL-terminated list of two-letter
 * lowercase ISO 639-1 codes (NULL for none). Errors: NOT_FOUND "doctor_id: …" (unknown or not a
 * doctor), NOT_FOUND "facility_id: …", INVALID "specialty: …" (1..SCHED_NAME_MAX_BYTES),
 * INVALID "languages: …", INVALID "gender: …" (not female/male/other). Nothing written on
 * error. */
gboolean sched_doctor_set_profile(SchedStore *store, gint64 doctor_id, gint64 facility_id,
                                  const char *specialty, const char *const *languages,
                                  const char *gender, GError **error);
/* (transfer full) NULL with NOT_FOUND "doctor_id: …" for an unknown id or a non-doctor. */
SchedDoctor *sched_doctor_get(SchedStore *store, gint64 doctor_id, GError **error);

/* Filters for sched_doctors_list; 0/NULL members do not filter. */
typedef struct {
  gint64 facility_id;
  const char *specialty;     /* exact, case-insensitive for ASCII */
  const char *language;      /* the doctor speaks it */
  const char *gender;        /* "female", "male", "other" */
  const char *name_contains; /* in the display name, case-insensitive for ASCII */
} SchedDoctorFilter;

/* Doctors (role "doctor") by id matching every set member of `filter` (NULL for all).
 * (element-type SchedDoctor) (transfer full) */
GPtrArray *sched_doctors_list(SchedStore *store, const SchedDoctorFilter *filter, GError **error);

/* --- Services, availability, breaks, exceptions ------------------------------------------- */

/* Limits of a service's minutes. */
#define SCHED_DURATION_MAX_MIN (8 * 60)
#define SCHED_BUFFER_MAX_MIN (4 * 60)
#define SCHED_MAX_PER_DAY_MAX 1000

typedef struct {
  gint64 id;
  gint64 facility_id;
  char *name;
  char *specialty;
  int duration_min;      /* 1..SCHED_DURATION_MAX_MIN */
  int buffer_before_min; /* 0..SCHED_BUFFER_MAX_MIN: kept free before each appointment */
  int buffer_after_min;  /* 0..SCHED_BUFFER_MAX_MIN: kept free after each appointment */
  int max_per_day;       /* per doctor per local day, 0..SCHED_MAX_PER_DAY_MAX; 0 = no limit */
} SchedService;

void sched_service_free(SchedService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedService, sched_service_free)

/* Adds a service described by `spec` (its `id` is ignored). Returns the new id, or 0 with
 * NOT_FOUND "facility_id: …", or INVALID naming "name", "specialty", "duration_min",
 * "buffer_before_min", "buffer_after_min" or "max_per_day". Nothing written on error. */
gint64 sched_service_add(SchedStore *store, const SchedService *spec, GError **error);
/* (transfer full) NULL with NOT_FOUND "service_id: …". */
SchedService *sched_service_get(SchedStore *store, gint64 service_id, GError **error);
/* Services by id, of one facility (`facility_id` 0 for all). (element-type SchedService)
 * (transfer full) */
GPtrArray *sched_services_list(SchedStore *store, gint64 facility_id, GError **error);

/* A weekly window in which a doctor offers a service, in the service's facility's local time. */
typedef struct {
  gint64 id;
  gint64 doctor_id;
  gint64 service_id;
  int weekday;       /* ISO: 1 = Monday .. 7 = Sunday */
  int start_min;     /* minutes after local midnight, 0..1439 */
  int end_min;       /* > start_min, <= 1440 */
  char *valid_from;  /* first local date "YYYY-MM-DD" it applies, or NULL (always) */
  char *valid_until; /* last local date (inclusive), or NULL (forever) */
} SchedAvailability;

void sched_availability_free(SchedAvailability *availability);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedAvailability, sched_availability_free)

/* Adds a weekly window (`spec->id` ignored). Returns the new id, or 0 with NOT_FOUND
 * "doctor_id: …"/"service_id: …", INVALID "weekday"/"start_min"/"end_min"/"valid_from"/
 * "valid_until" (malformed date, or valid_until before valid_from), or CONFLICT "start_min:
 * overlaps availability <id>" when it overlaps another window of the same doctor (any service)
 * on the same weekday in an overlapping date range. Nothing written on error. */
gint64 sched_availability_add(SchedStore *store, const SchedAvailability *spec, GError **error);
/* A doctor's windows by weekday, start (`doctor_id` 0 for every doctor's).
 * (element-type SchedAvailability) (transfer full) */
GPtrArray *sched_availability_list(SchedStore *store, gint64 doctor_id, GError **error);
/* Deletes a window; NOT_FOUND "availability_id: …". Existing appointments stay. */
gboolean sched_availability_remove(SchedStore *store, gint64 availability_id, GError **error);

/* A weekly break of a doctor (lunch, prayer): no slot overlaps it, in any service. */
typedef struct {
  gint64 id;
  gint64 doctor_id;
  int weekday;   /* 1..7 */
  int start_min; /* 0..1439, local */
  int end_min;   /* > start_min, <= 1440 */
} SchedBreak;

void sched_break_free(SchedBreak *brk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedBreak, sched_break_free)

/* Adds a break. Returns its id, or 0 with NOT_FOUND "doctor_id: …" or INVALID "weekday"/
 * "start_min"/"end_min". Nothing written on error. */
gint64 sched_break_add(SchedStore *store, gint64 doctor_id, int weekday, int start_min, int end_min,
                       GError **error);
/* (element-type SchedBreak) (transfer full); `doctor_id` 0 for all. */
GPtrArray *sched_breaks_list(SchedStore *store, gint64 doctor_id, GError **error);
gboolean sched_break_remove(SchedStore *store, gint64 break_id, GError **error);

/* A one-off closure [starts_at, ends_at) in UTC: a doctor's leave (doctor_id set, facility_id
 * 0) or a facility's holiday (facility_id set, doctor_id 0; closes every service there). */
typedef struct {
  gint64 id;
  gint64 doctor_id;
  gint64 facility_id;
  gint64 starts_at;
  gint64 ends_at;
  char *reason; /* free text for staff ("leave", "Eid"), may be NULL; never patient data */
} SchedException;

void sched_exception_free(SchedException *exception);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedException, sched_exception_free)

/* Adds an exception. Exactly one of doctor_id/facility_id is > 0 (else INVALID "doctor_id: …").
 * Returns its id, or 0 with NOT_FOUND "doctor_id"/"facility_id", INVALID "starts_at"/"ends_at"
 * (out of range, or ends_at <= starts_at), INVALID "reason". Existing appointments in it stay
 * (staff reschedule or cancel them). Nothing written on error. */
gint64 sched_exception_add(SchedStore *store, gint64 doctor_id, gint64 facility_id,
                           gint64 starts_at, gint64 ends_at, const char *reason, GError **error);
/* Exceptions overlapping [from, to) for a doctor (`doctor_id`, 0 for any) and/or facility
 * (`facility_id`, 0 for any), by start. (element-type SchedException) (transfer full) */
GPtrArray *sched_exceptions_list(SchedStore *store, gint64 doctor_id, gint64 facility_id,
                                 gint64 from, gint64 to, GError **error);
gboolean sched_exception_remove(SchedStore *store, gint64 exception_id, GError **error);

/* --- Patients and appointments ------------------------------------------------------------ */

/* Adds a patient. `phone` may be NULL. Returns the new patient id, or 0 with
 * SCHED_ERROR_INVALID for an empty name or a malformed phone number. */
gint64 sched_patient_add(SchedStore *store, const char *display_name, const char *phone,
                         GError **error);

typedef struct {
  gint64 id;
  char *display_name;          /* personal data: never log */
  char *phone;                 /* personal data: never log; NULL if none */
  char *preferred_language;    /* ISO 639-1 ("ur", "en", …); NULL if unknown (notices in Urdu) */
  gboolean prefers_audio_only; /* chose "Audio only" in a call: later calls start that way */
  char *sex;                   /* schema 8: "female", "male", "other"; NULL if not recorded */
  int birth_year;              /* schema 8: e.g. 1984; 0 if not recorded */
} SchedPatient;

void sched_patient_free(SchedPatient *patient);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedPatient, sched_patient_free)

/* As sched_patient_add, with a preferred language (NULL for none). INVALID "display_name"/
 * "phone"/"preferred_language" (not two lowercase letters). Nothing written on error. */
gint64 sched_patient_add_full(SchedStore *store, const char *display_name, const char *phone,
                              const char *preferred_language, GError **error);
/* Schema 8: sex and birth year, for the statistics' sex and age-band groups (coarse
 * demographics; never shown per patient to the analyst). */
#define SCHED_BIRTH_YEAR_MIN 1900

/* What sched_patient_create stores; NULL / 0 members are "not recorded". */
typedef struct {
  const char *display_name; /* required */
  const char *phone;
  const char *preferred_language;
  const char *sex; /* "female", "male" or "other" */
  int birth_year;  /* SCHED_BIRTH_YEAR_MIN .. the current year (UTC) */
} SchedPatientSpec;

/* As sched_patient_add_full, with sex and birth year. INVALID "display_name"/"phone"/
 * "preferred_language"/"sex"/"birth_year". Nothing written on error. */
gint64 sched_patient_create(SchedStore *store, const SchedPatientSpec *spec, GError **error);
/* TRUE if `sex` is NULL or one of the stored words. */
gboolean sched_patient_sex_is_valid(const char *sex);
/* TRUE if `year` is 0 (not recorded) or SCHED_BIRTH_YEAR_MIN .. the current year (UTC). */
gboolean sched_patient_birth_year_is_valid(int year);
/* (transfer full) NULL with NOT_FOUND "patient_id: …". */
SchedPatient *sched_patient_get(SchedStore *store, gint64 patient_id, GError **error);
/* Patients by id whose name contains `query` or whose phone's digits contain its digits
 * (NULL for all), at most `limit` (0 = 100). (element-type SchedPatient) (transfer full) */
GPtrArray *sched_patients_search(SchedStore *store, const char *query, guint limit, GError **error);
/* Sets (NULL clears) a patient's preferred language. NOT_FOUND "patient_id", INVALID
 * "preferred_language". */
gboolean sched_patient_set_language(SchedStore *store, gint64 patient_id,
                                    const char *preferred_language, GError **error);

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
  /* Since schema 2: */
  gint64 service_id;      /* 0 if booked without a service (sched_appointment_book) */
  gint64 facility_id;     /* the service's facility; 0 if none */
  char *kind;             /* "booked" or "walkin" */
  gint64 sequence;        /* iCalendar SEQUENCE: 0, +1 on every reschedule */
  gint64 queue_number;    /* walk-ins: 1, 2, … per doctor per local day; 0 for booked */
  gint64 hold_expires_at; /* status "pending": when the hold lapses; else 0 */
  char *cancel_reason;    /* NULL unless cancelled (e.g. "patient", "hold expired") */
  gint64 created_at;
  gint64 updated_at;
} SchedAppointment;

void sched_appointment_free(SchedAppointment *appointment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedAppointment, sched_appointment_free)

/* Books an appointment (status "booked") and issues its patient join token. `*patient_token`
 * (optional; NULL on failure) receives the token (transfer full); only its SHA-256 is stored,
 * so it cannot be read back later.
 * SCHED_ERROR_NOT_FOUND for an unknown doctor or patient (a staff id whose role is not
 * "doctor" counts as unknown), SCHED_ERROR_INVALID if ends_at <= starts_at or a time is out of
 * range. Returns the appointment id or 0.
 * This is the operator's path (`mashwara admin book`, the demo): it does not consult
 * availability, services or buffers. Since schema 2 it is refused with CONFLICT
 * "starts_at: slot taken" only if the doctor already has a live booked appointment starting at
 * the very same second; clinic staff book through sched_appointment_hold/_book_slot instead.
 * Its appointment has kind "booked", service_id 0 and facility_id 0. */
gint64 sched_appointment_book(SchedStore *store, gint64 doctor_id, gint64 patient_id,
                              gint64 starts_at, gint64 ends_at, char **patient_token,
                              GError **error);

SchedAppointment *sched_appointment_get(SchedStore *store, gint64 appointment_id, GError **error);

/* A doctor's appointments overlapping [from, to), by start time (then id), in every status.
 * (element-type SchedAppointment) (transfer full): the array frees its elements.
 * SCHED_ERROR_NOT_FOUND for an unknown doctor, SCHED_ERROR_INVALID if to <= from. */
GPtrArray *sched_appointments_for_doctor(SchedStore *store, gint64 doctor_id, gint64 from,
                                         gint64 to, GError **error);

/* Filters for sched_appointments_search; 0/NULL members do not filter. */
typedef struct {
  gint64 doctor_id;
  gint64 patient_id;
  gint64 facility_id;
  gint64 service_id;
  const char *status; /* one FHIR Appointment.status value */
  const char *kind;   /* "booked" or "walkin" */
  gint64 from;        /* starts_at >= from */
  gint64 to;          /* starts_at < to */
  guint limit;        /* 0 = 500; at most 5000 */
  guint offset;
} SchedAppointmentFilter;

/* Appointments matching every set member, by start then id. (element-type SchedAppointment)
 * (transfer full) INVALID "status"/"kind" for an unknown value, "to" if to <= from (both set). */
GPtrArray *sched_appointments_search(SchedStore *store, const SchedAppointmentFilter *filter,
                                     GError **error);

/* Sets any FHIR Appointment.status value ("proposed", "pending", "booked", "arrived",
 * "fulfilled", "cancelled", "noshow", "checked-in", "waitlist", "entered-in-error"); no
 * transition rules yet. SCHED_ERROR_INVALID for another string, NOT_FOUND for an unknown id. */
gboolean sched_appointment_set_status(SchedStore *store, gint64 appointment_id, const char *status,
                                      GError **error);

/* --- Slots and the booking engine ---------------------------------------------------------- */

/* A bookable slot: generated from a doctor's weekly availability for a service, minus breaks,
 * exceptions, live appointments and live holds (with the service's buffers on both sides),
 * the service's max_per_day, and times before `now`. */
typedef struct {
  char *id; /* "<doctor_id>-<service_id>-<starts_at>" (stable; FHIR Slot.id) */
  gint64 doctor_id;
  gint64 service_id;
  gint64 facility_id;
  gint64 starts_at;
  gint64 ends_at; /* starts_at + the service's duration */
} SchedSlot;

void sched_slot_free(SchedSlot *slot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedSlot, sched_slot_free)

/* The stable id of a slot. (transfer full) */
char *sched_slot_id(gint64 doctor_id, gint64 service_id, gint64 starts_at);
/* Parses a slot id; FALSE if malformed (any out pointer may be NULL). */
gboolean sched_slot_id_parse(const char *slot_id, gint64 *doctor_id, gint64 *service_id,
                             gint64 *starts_at);

/* A slot search; 0/NULL members do not filter. */
typedef struct {
  gint64 doctor_id;
  gint64 service_id;
  gint64 facility_id;
  const char *specialty; /* the service's specialty (exact, ASCII case-insensitive) */
  const char *language;  /* the doctor speaks it */
  const char *gender;    /* the doctor's gender */
  gint64 from;           /* required: slots starting in [from, to) */
  gint64 to;             /* required; to - from <= 366 days */
  guint limit;           /* 0 = 100; at most 1000 */
  gint64 now;            /* slots starting before now are left out; 0 = the real clock */
} SchedSlotQuery;

/* Free slots matching `query`, by start then doctor id then service id, at most `limit`.
 * (element-type SchedSlot) (transfer full) INVALID "from"/"to" (missing, out of range, empty,
 * or over 366 days), "gender", "language". An empty array if nothing matches. Cost: bounded by
 * the candidate doctors' windows inside [from, to) plus one indexed range read of their
 * appointments. */
GPtrArray *sched_slots_search(SchedStore *store, const SchedSlotQuery *query, GError **error);

/* What to book: a slot (doctor, service, starts_at) for a patient. */
typedef struct {
  gint64 doctor_id;
  gint64 service_id;
  gint64 patient_id;
  gint64 starts_at;
} SchedBookingRequest;

/* Holds a slot: a "pending" appointment whose hold lapses at now + policy.hold_s. One
 * BEGIN IMMEDIATE transaction re-checks that the slot exists in the doctor's availability and
 * is free. Returns the appointment id or 0 with: NOT_FOUND "doctor_id"/"service_id"/
 * "patient_id"; INVALID "starts_at" (in the past, or not a slot of that doctor and service:
 * outside availability, in a break or exception, off the slot grid); CONFLICT
 * "starts_at: slot taken" if another live appointment or hold overlaps it; CONFLICT
 * "starts_at: max_per_day reached" if the service's daily limit for the doctor is used up.
 * Lapsed holds of the doctor are cancelled ("hold expired") in the same transaction, without a
 * waitlist offer. `now` 0 = the real clock. Nothing written on error. */
gint64 sched_appointment_hold(SchedStore *store, const SchedBookingRequest *request, gint64 now,
                              GError **error);
/* Confirms a live hold: "pending" → "booked", issues the patient's join token (`*patient_token`
 * optional, transfer full, NULL on failure) and queues the "confirmation" notice with the link.
 * NOT_FOUND "appointment_id"; CONFLICT "status: …" if it is not pending; CONFLICT
 * "hold_expires_at: hold expired" if the hold lapsed (the slot may be gone). Nothing written on
 * error. */
gboolean sched_appointment_confirm(SchedStore *store, gint64 appointment_id, gint64 now,
                                   char **patient_token, GError **error);
/* Hold and confirm in one transaction: the same checks and errors as sched_appointment_hold,
 * then as confirm. Returns the appointment id ("booked") or 0. */
gint64 sched_appointment_book_slot(SchedStore *store, const SchedBookingRequest *request,
                                   gint64 now, char **patient_token, GError **error);
/* Cancels a pending/booked/arrived/checked-in/waitlist/proposed appointment: status
 * "cancelled", `reason` recorded (NULL allowed; INVALID "reason" if over SCHED_NAME_MAX_BYTES),
 * its tokens revoked, a "cancellation" notice queued (not for a mere hold), and the freed slot
 * offered to the first matching waitlist entry (a hold for policy.offer_s plus a
 * "waitlist_offer" notice). NOT_FOUND "appointment_id"; CONFLICT "status: …" if already
 * cancelled, fulfilled, noshow or entered-in-error. Nothing written on error. */
gboolean sched_appointment_cancel(SchedStore *store, gint64 appointment_id, const char *reason,
                                  gint64 now, GError **error);
/* Moves a booked (or pending) appointment of kind "booked" with a service to `new_starts_at`,
 * re-checked like a hold (ignoring the appointment itself); sequence + 1; the join tokens'
 * window follows the new time; a "rescheduled" notice is queued (not for a pending hold); the
 * old slot is offered to the waitlist as after a cancellation.
 * NOT_FOUND "appointment_id"; CONFLICT "status: …" for another status, INVALID "service_id: …"
 * if booked without a service; then the errors of sched_appointment_hold ("starts_at").
 * Nothing written on error. */
gboolean sched_appointment_reschedule(SchedStore *store, gint64 appointment_id,
                                      gint64 new_starts_at, gint64 now, GError **error);
/* Staff check a patient in: booked/arrived → "checked-in" (already checked-in: no change).
 * NOT_FOUND "appointment_id"; CONFLICT "status: …" otherwise. */
gboolean sched_appointment_check_in(SchedStore *store, gint64 appointment_id, gint64 now,
                                    GError **error);

/* Issues a walk-in token: an appointment of kind "walkin", status "arrived", starting at `now`
 * and lasting the service's duration (15 minutes with `service_id` 0), queue_number 1 + the
 * walk-ins of that doctor earlier on the same local day, and a patient join token
 * (`*patient_token` optional, transfer full). Returns the appointment id or 0 with NOT_FOUND
 * "doctor_id"/"patient_id"/"service_id". Nothing written on error. */
gint64 sched_walkin_add(SchedStore *store, gint64 doctor_id, gint64 patient_id, gint64 service_id,
                        gint64 now, char **patient_token, GError **error);
/* A doctor's queue for the local day (the facility's zone from the doctor's profile, else
 * SCHED_TIMEZONE_DEFAULT) containing `day_at`: appointments "booked", "arrived" and
 * "checked-in" of that day; booked ones by start time, each walk-in after those booked before
 * its issue time (walk-ins among themselves by queue number). (element-type SchedAppointment)
 * (transfer full) NOT_FOUND "doctor_id". */
GPtrArray *sched_day_queue(SchedStore *store, gint64 doctor_id, gint64 day_at, GError **error);

/* --- Waitlist ------------------------------------------------------------------------------ */

typedef struct {
  gint64 id;
  gint64 patient_id;
  gint64 service_id;
  gint64 doctor_id;              /* 0: any doctor offering the service */
  gint64 not_before;             /* 0: any time */
  gint64 not_after;              /* slot must start before this; 0: any time */
  char *status;                  /* "waiting", "offered", "booked", "removed" */
  gint64 offered_appointment_id; /* the pending hold offered, else 0 */
  gint64 created_at;
} SchedWaitlistEntry;

void sched_waitlist_entry_free(SchedWaitlistEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedWaitlistEntry, sched_waitlist_entry_free)

/* Puts a patient on the waitlist of a service (optionally one doctor, optionally a time range).
 * Returns the entry id or 0 with NOT_FOUND "patient_id"/"service_id"/"doctor_id", INVALID
 * "not_after" (<= not_before). Entries are offered freed slots first come, first served.
 * When an offered hold is confirmed the entry becomes "booked"; if it lapses, "waiting" again.
 * Nothing written on error. */
gint64 sched_waitlist_add(SchedStore *store, gint64 patient_id, gint64 service_id, gint64 doctor_id,
                          gint64 not_before, gint64 not_after, gint64 now, GError **error);
/* Entries by id, of one service (0 for all), in every status when `status` is NULL.
 * (element-type SchedWaitlistEntry) (transfer full) */
GPtrArray *sched_waitlist_list(SchedStore *store, gint64 service_id, const char *status,
                               GError **error);
/* Marks an entry "removed". NOT_FOUND "waitlist_id". */
gboolean sched_waitlist_remove(SchedStore *store, gint64 waitlist_id, GError **error);

/* --- Periodic jobs (called by the daemon's timers; each is one transaction) ------------------ */

/* Cancels ("hold expired") every pending hold whose hold_expires_at <= now, frees its slot,
 * puts a lapsed waitlist offer's entry back to "waiting" and offers the slot to the next entry.
 * `*count` (optional) receives how many holds lapsed. */
gboolean sched_holds_expire(SchedStore *store, gint64 now, guint *count, GError **error);
/* Marks "noshow" every kind "booked" appointment still "booked" at starts_at +
 * policy.noshow_after_s <= now. `*count` (optional) receives how many. */
gboolean sched_appointments_mark_noshow(SchedStore *store, gint64 now, guint *count,
                                        GError **error);
/* Queues "reminder_day" for booked appointments starting within (now, now + 24 h] and
 * "reminder_15min" for those within (now, now + 15 min], once per appointment and sequence
 * (dedupe keys "reminder_day:<id>:<sequence>"); re-running is idempotent. `*count` (optional)
 * receives how many were newly queued. */
gboolean sched_reminders_queue(SchedStore *store, gint64 now, guint *count, GError **error);

/* Queues a new join link ("link_resend") for the next booked appointment (ends_at > now) of the
 * patient(s) with this phone number, with a new patient token (old tokens stay valid). Returns
 * TRUE whether or not the phone is known, and takes no notice of which: callers must answer the
 * same either way. FALSE only with INVALID "phone: …" (malformed) or SCHED_ERROR_DB. At most one
 * resend per appointment per 60 s (dedupe key "link_resend:<id>:<now / 60>"). */
gboolean sched_link_resend(SchedStore *store, const char *phone, gint64 now, GError **error);

/* --- Outbox (notifications to patients) --------------------------------------------------- */

/* One notice. Kinds: "confirmation", "reminder_day", "reminder_15min", "you_are_next",
 * "cancellation", "rescheduled", "waitlist_offer", "link_resend". */
typedef struct {
  gint64 id;
  char *kind;
  gint64 appointment_id;
  char *recipient;  /* phone number: personal data, never log */
  char *language;   /* "ur" or "en": the language `body` is in */
  char *body;       /* the rendered text (may hold a join link); "" once sent */
  char *dedupe_key; /* unique; send it as the gateway's Idempotency-Key */
  gint64 due_at;
  gint64 attempts;        /* claims so far, including this one */
  gint64 next_attempt_at; /* 0 = as soon as due */
  gint64 leased_until;    /* 0 = not leased */
  gint64 sent_at;         /* 0 = not sent */
  gint64 failed_at;       /* 0 unless given up */
  char *last_error;       /* NULL if none; never personal data */
} SchedOutboxItem;

void sched_outbox_item_free(SchedOutboxItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedOutboxItem, sched_outbox_item_free)

/* Claims up to `max` (1..1000) unsent, not given up notices due at `now` (due_at <= now,
 * next_attempt_at <= now, lease lapsed) by due time then id: each gets leased_until =
 * now + lease_s (> 0) and attempts + 1. A sender that crashes before _done sees the notice
 * again after the lease: delivery is at-least-once, deduplicated downstream by dedupe_key.
 * (element-type SchedOutboxItem) (transfer full) INVALID "max"/"lease_s". Notices without a
 * recipient phone are never claimed (they are marked failed "no phone"). */
GPtrArray *sched_outbox_claim(SchedStore *store, gint64 now, guint max, gint64 lease_s,
                              GError **error);
/* Marks a notice sent at `now` and blanks its body (the join link is not kept). Idempotent.
 * NOT_FOUND "outbox_id". */
gboolean sched_outbox_done(SchedStore *store, gint64 outbox_id, gint64 now, GError **error);
/* Records a failed attempt: last_error = `error_text` (no personal data; truncated to 200
 * bytes), the lease released, next_attempt_at = `retry_at`; `retry_at` 0 gives up (failed_at =
 * now; never claimed again). NOT_FOUND "outbox_id". */
gboolean sched_outbox_failed(SchedStore *store, gint64 outbox_id, gint64 now,
                             const char *error_text, gint64 retry_at, GError **error);
/* Notices by id, of one appointment (0 for all), at most `limit` (0 = 500), newest last.
 * (element-type SchedOutboxItem) (transfer full) */
GPtrArray *sched_outbox_list(SchedStore *store, gint64 appointment_id, guint limit, GError **error);

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
 * - waiting: keeps the first waiting_since; a "booked" appointment becomes "arrived" (the
 *   patient is in the online waiting room; "checked-in" is set by staff).
 * - started: stamps started_at the first time only; does nothing once ended. The first start
 *   also queues "you_are_next" for the next patient in the doctor's day queue.
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

/* --- Call quality ---------------------------------------------------------------------------- */

/* Remembers a patient's own choice of audio only (the page's "Audio only" switch), applied when
 * they join a later call. NOT_FOUND "patient_id". */
gboolean sched_patient_set_audio_only(SchedStore *store, gint64 patient_id, gboolean audio_only,
                                      GError **error);

/* The link quality of one participant role in one consultation, summed over the call by the
 * signaling service from the relay's samples (about one a second). Guests of the same role share
 * a record. */
typedef struct {
  gint64 appointment_id;      /* the consultation's appointment */
  char *role;                 /* "patient", "doctor", "interpreter", "specialist", "family" */
  gint64 samples;             /* quality samples taken */
  double avg_score;           /* 1 (bad) .. 5 (excellent); 0 if no samples */
  double avg_loss;            /* 0..1, per sample the worse of its two directions */
  double avg_rtt_ms;          /* over the samples whose RTT was known; 0 if none */
  double avg_video_kbps;      /* video bit rate the relay sent it (0 while paused) */
  gint64 audio_only_weak_s;   /* seconds its video was paused for a weak link */
  gint64 audio_only_chosen_s; /* seconds it had chosen audio only */
  gint64 updated_at;          /* unix seconds of the last write */
} SchedCallQuality;

void sched_call_quality_free(SchedCallQuality *quality);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedCallQuality, sched_call_quality_free)

/* Inserts or replaces (by appointment and role) `n` records in one transaction: each holds the
 * call's totals so far, so the writer may repeat it (every minute, and at the end) and a crash
 * loses only what came after the last write. INVALID "role", "samples", "avg_score" (outside
 * 1..5, or not 0 with 0 samples), "avg_loss" (outside 0..1), "avg_rtt_ms", "avg_video_kbps"
 * (negative or not finite), "audio_only_weak_s"/"audio_only_chosen_s" (negative), "updated_at";
 * NOT_FOUND "appointment_id". Nothing written on error. The statistics' quality columns follow
 * in the same transaction (see "Statistics"). */
gboolean sched_consultation_quality_put(SchedStore *store, const SchedCallQuality *records, guint n,
                                        GError **error);
/* The quality records of a consultation, by role. (element-type SchedCallQuality)
 * (transfer full); empty if none. */
GPtrArray *sched_consultation_quality_list(SchedStore *store, gint64 appointment_id,
                                           GError **error);

/* --- Statistics ---------------------------------------------------------------------------- */

/* Aggregates over past appointments for the health department's dashboard, read from a daily
 * summary (one row per local day, facility and service) that the store keeps current in the
 * same transaction as every change of an appointment's status or consultation record, so a
 * query costs the same for a year of a million consultations as for a week (~tens of ms).
 * What counts, per appointment, on the local day of its start in its facility's zone:
 * - consultations: status "fulfilled" (the call took place);
 * - completed: fulfilled and the consultation's outcome is not "interrupted";
 * - noshows: status "noshow"; cancellations: status "cancelled" except lapsed holds;
 * - wait: started_at - max(waiting_since, starts_at) of fulfilled ones (arriving early is not
 *   waiting); duration: ended_at - started_at; both in whole minutes (floor), percentiles at
 *   one-minute resolution (nearest rank), values of SCHED_STATS_MINUTES_MAX or more counted as
 *   SCHED_STATS_MINUTES_MAX.
 * - call quality (schema 4), of fulfilled appointments with at least one quality sample: each
 *   such consultation's values are the sample-weighted means over its roles' records (score in
 *   thousandths, loss in millionths, RTT in ms, video in kbit/s; each record's value rounded
 *   first, then integer division), and a row averages those over its quality_consultations, so
 *   every consultation weighs the same; audio_fallbacks counts those whose video paused for a
 *   weak link at all (some audio_only_weak_s > 0).
 * Appointments booked without a service (sched_appointment_book) count under facility 0
 * (district NULL) and specialty NULL, on the local day in SCHED_TIMEZONE_DEFAULT.
 * Privacy: rows hold counts per group only, never a patient or doctor field. Counts are raw:
 * a face that shows them to anyone but the operator must print 1..4 as "<5" and leave out
 * percentiles over fewer than 5 values (SCHED_STATS_SMALL_COUNT; see sched_stats_is_small and
 * SchedStatsRow.small). */

#define SCHED_STATS_SMALL_COUNT 5
#define SCHED_STATS_MINUTES_MAX 1440
#define SCHED_STATS_RANGE_MAX_DAYS 3660 /* to - from: at most ten years */

/* How rows are grouped: an OR of these (0: one row for the whole range). DAY and WEEK exclude
 * each other; FACILITY implies its district. */
typedef enum {
  SCHED_STATS_BY_DAY = 1 << 0,       /* local date */
  SCHED_STATS_BY_WEEK = 1 << 1,      /* ISO week (Monday to Sunday) of the local date */
  SCHED_STATS_BY_DISTRICT = 1 << 2,  /* the facility's district */
  SCHED_STATS_BY_FACILITY = 1 << 3,  /* the facility */
  SCHED_STATS_BY_SPECIALTY = 1 << 4, /* the service's specialty */
  SCHED_STATS_BY_SEX = 1 << 5,       /* schema 8: the patient's sex ("unknown" if not recorded) */
  SCHED_STATS_BY_AGE_BAND = 1 << 6,  /* schema 8: the patient's age band on the local date */
} SchedStatsGroup;

/* Age bands (SCHED_STATS_BY_AGE_BAND), by age = the year of the appointment's local date minus
 * the birth year (only the year is recorded: the age reached during that year): "0-17",
 * "18-39", "40-59", "60+"; "unknown" without a birth year (or one after the visit). */
const char *sched_stats_age_band(int birth_year, int visit_year);

typedef struct {
  gint64 from;        /* required: local days whose date is on or after from's local date ... */
  gint64 to;          /* required: ... and before to's local date (each facility's zone) */
  guint group_by;     /* SchedStatsGroup flags */
  gint64 facility_id; /* 0: every facility; else only this one */
} SchedStatsQuery;

typedef struct {
  char *date;         /* BY_DAY: the local date "YYYY-MM-DD"; BY_WEEK: its Monday; else NULL */
  char *district;     /* BY_DISTRICT/BY_FACILITY: the district (NULL for facility 0); else NULL */
  gint64 facility_id; /* BY_FACILITY: the facility (0: none); else 0 */
  char *specialty;    /* BY_SPECIALTY: the specialty (NULL: no service); else NULL */
  gint64 consultations;
  gint64 completed;
  gint64 noshows;
  gint64 cancellations;
  double noshow_rate;           /* noshows / (consultations + noshows); 0 if both are 0 */
  gint64 waits;                 /* how many waits are known */
  int wait_p50_min;             /* -1 if waits == 0 */
  int wait_p90_min;             /* -1 if waits == 0 */
  gint64 durations;             /* how many durations are known */
  int duration_p50_min;         /* -1 if durations == 0 */
  gint64 quality_consultations; /* fulfilled consultations with quality samples */
  gint64 audio_fallbacks;       /* ... of which video paused for a weak link at some point */
  double avg_score;             /* means over quality_consultations; -1 if there are none */
  double avg_loss;
  double avg_rtt_ms;
  double avg_video_kbps;
  gboolean small; /* some count (quality ones too), waits or durations is 1..SMALL_COUNT - 1 */
  /* Schema 8. Summarised too since schema 9 (ratings, histograms of the quality values, the
   * doctors per day), and by sex or by age band since schema 10, so they cost no more than the
   * rest; only a query grouped by sex and age band at once reads the appointments of the range
   * themselves: O(appointments in the range) through the (status, starts_at) index, ~0.1 s per
   * 20,000 appointments, on the caller's thread. */
  char *sex;             /* BY_SEX: "female", "male", "other" or "unknown"; else NULL */
  char *age_band;        /* BY_AGE_BAND: see sched_stats_age_band; else NULL */
  gint64 doctors_active; /* distinct doctors with a consultation (fulfilled) in the group */
  gint64 ratings;        /* consultations (fulfilled) with a patient's rating */
  double avg_stars;      /* mean stars over `ratings`; -1 if none */
  /* Medians (nearest rank: the lower one for an even count) over quality_consultations of
   * each consultation's value (the same values the means above average); -1 if none. Read
   * from histograms (schema 9): loss in steps of 0.0001 (0.01 %, rounded down), RTT in 1 ms
   * and video in 1 kbit/s (exact below 10,000 ms and 20,000 kbit/s, which larger values count
   * as). */
  double median_loss;
  double median_rtt_ms;
  double median_video_kbps;
} SchedStatsRow;

void sched_stats_row_free(SchedStatsRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedStatsRow, sched_stats_row_free)

/* The statistics of `query`, one row per group with at least one counted appointment, ordered
 * by date, district, facility_id, specialty (NULLs first). (element-type SchedStatsRow)
 * (transfer full) INVALID "from"/"to" (out of range, to <= from, or over
 * SCHED_STATS_RANGE_MAX_DAYS), "group_by" (unknown bits, or DAY with WEEK), NOT_FOUND
 * "facility_id". */
GPtrArray *sched_stats_query(SchedStore *store, const SchedStatsQuery *query, GError **error);

/* TRUE if a count must be shown as "<5": 0 < n < SCHED_STATS_SMALL_COUNT. Figures computed
 * from such a count (percentiles, means, medians, rates) must not be shown at all. */
gboolean sched_stats_is_small(gint64 n);

/* --- Audit log (schema 5) ------------------------------------------------------------------
 * An append-only record of every read or change of patient data and every consultation event:
 * who, what, when, from where, and the outcome. Rows hold ids and fixed words only, never a
 * name, phone number, note, token or free text, so they are never rewritten or erased (the
 * retention job leaves them alone). Each row carries the SHA-256 of the one before it
 * (prev_hash; 64 zeros for the first) and its own hash over a canonical serialisation of its
 * fields and prev_hash (sched_audit_record_hash), so editing, deleting or reordering a row
 * breaks the chain from that row on; triggers refuse UPDATE and DELETE on the table.
 * The chain head is read and written inside the appending write transaction, so two writers
 * (two processes on one file) serialise on SQLite's write lock and never fork the chain. */

/* Who acted: "staff" (actor_id = staff id, actor_role its role), "patient" (by join token:
 * actor_id = patient id, appointment_id = the token's), "guest" (by a guest's join token:
 * actor_role the guest role, appointment_id), "system" (the daemon's own jobs), "operator"
 * (`mashwara admin` on the command line), "anonymous" (no credential, or a refused one). */
#define SCHED_AUDIT_WORD_MAX_BYTES 96

typedef struct {
  gint64 at_ms;            /* unix milliseconds, UTC; 0 = now */
  const char *actor_kind;  /* required: see above */
  gint64 actor_id;         /* 0 if none */
  const char *actor_role;  /* NULL if none */
  gint64 appointment_id;   /* a token's appointment; 0 if none */
  const char *action;      /* required, e.g. "patient.read", "consultation.admit" */
  const char *object_type; /* e.g. "patient", "appointment"; NULL if none */
  gint64 object_id;        /* 0 if none (a list, a failed create) */
  const char *detail;      /* fixed words and numbers only ("http=201", "outcome=completed") */
  const char *address;     /* the remote address ("203.0.113.5", "cli"); NULL if none */
  const char *outcome;     /* required: "ok", "refused" (4xx, not allowed) or "failed" (5xx) */
} SchedAuditEntry;

/* A stored row. (transfer full) with sched_audit_record_free. */
typedef struct {
  gint64 id; /* 1, 2, 3, … without gaps */
  gint64 at_ms;
  char *actor_kind;
  gint64 actor_id;
  char *actor_role;
  gint64 appointment_id;
  char *action;
  char *object_type;
  gint64 object_id;
  char *detail;
  char *address;
  char *outcome;
  char *prev_hash; /* 64 lowercase hex */
  char *hash;      /* 64 lowercase hex */
} SchedAuditRecord;

void sched_audit_record_free(SchedAuditRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedAuditRecord, sched_audit_record_free)

/* The hash a row must carry: lowercase hex SHA-256 of "mashwara-audit-v1" followed, for each of
 * id, at_ms, actor_kind, actor_id, actor_role, appointment_id, action, object_type, object_id,
 * detail, address, outcome, prev_hash in that order, by "|" and either "~" (NULL string) or
 * "<byte length>:<value>" (integers in decimal). Pure; MT safe. (transfer full) */
char *sched_audit_record_hash(const SchedAuditRecord *record);

/* Appends one row. Joins the current audited unit or batch (its savepoint), else is one
 * transaction of its own. `*id` (optional) receives the row's id. INVALID "actor_kind",
 * "action", "object_type", "actor_role", "detail", "address", "outcome" for a value outside the
 * allowed sets or characters ([A-Za-z0-9_.:=,+-], at most SCHED_AUDIT_WORD_MAX_BYTES; address
 * also '[', ']', '%'), "at_ms" out of range. Nothing is written on error. */
gboolean sched_audit_append(SchedStore *store, const SchedAuditEntry *entry, gint64 *id,
                            GError **error);

/* An audited unit of work: every scheduler write between _begin and _commit/_rollback joins one
 * transaction (a savepoint of the open batch, else a transaction opened here), so that
 * _commit's audit row and the change it describes are durable together or not at all:
 * - _commit appends `entry` and ends the unit (commits, unless it lives inside a batch, which
 *   then commits both). If the append fails, the unit's writes are rolled back too: FALSE.
 * - _rollback undoes every write of the unit and appends nothing.
 * Units do not nest. A failing scheduler call inside a unit has already undone its own writes;
 * the caller may still _commit an entry with outcome "refused" for the attempt. */
gboolean sched_audit_unit_begin(SchedStore *store, GError **error);
gboolean sched_audit_unit_commit(SchedStore *store, const SchedAuditEntry *entry, GError **error);
void sched_audit_unit_rollback(SchedStore *store);
/* TRUE between sched_audit_unit_begin and _commit/_rollback. */
gboolean sched_audit_unit_is_open(SchedStore *store);

/* Walks the whole chain in id order. TRUE if every row's id follows the one before, its
 * prev_hash is the previous row's hash (64 zeros for the first) and its hash matches its
 * fields, and both append-only triggers exist. `*rows` (optional) receives how many rows were
 * checked (all of them, on success). On a broken chain: FALSE with SCHED_ERROR_INVALID
 * "audit_log: row <id>: <what>" and `*first_bad_id` (optional) the first row that fails (0 if
 * the rows are fine but a trigger is missing); a database failure is SCHED_ERROR_DB with
 * `*first_bad_id` 0. Reads the whole table: about 3 s per million rows (60 ms for 20,000). */
gboolean sched_audit_verify(SchedStore *store, gint64 *first_bad_id, gint64 *rows, GError **error);

/* Filters for sched_audit_list; 0/NULL members do not filter. */
typedef struct {
  gint64 before_id; /* rows with id < before_id (paging backwards); 0: from the newest */
  gint64 actor_id;  /* with actor_kind */
  const char *actor_kind;
  const char *object_type;
  gint64 object_id;
  gint64 appointment_id; /* the actor's token appointment, or the object when it is one */
  gint64 from_ms;        /* at_ms >= from_ms */
  gint64 to_ms;          /* at_ms < to_ms */
  guint limit;           /* 0 = 100; at most 1000 */
} SchedAuditFilter;

/* Rows matching every set member, newest first. (element-type SchedAuditRecord)
 * (transfer full) INVALID "limit". */
GPtrArray *sched_audit_list(SchedStore *store, const SchedAuditFilter *filter, GError **error);

/* --- Retention (schema 5) ------------------------------------------------------------------
 * Personal data is kept for a configured number of days after the care it served. A run at
 * `now` with `days` erases, in one transaction with one audit row (system, "retention.run",
 * counts only):
 * - patients whose record is older than the cut-off (now - days) and who have no appointment
 *   ending on or after it and no live waitlist entry: name blanked (""), phone and preferred
 *   language cleared, erased_at stamped (their id, audio-only choice and appointments stay);
 * - the join token hashes of appointments that ended before the cut-off;
 * - the free-text cancel reason of those appointments ("hold expired" stays: the statistics
 *   need it);
 * - the recipient phone and text of notices created before the cut-off;
 * - staff sessions expired at `now`;
 * - the chat messages, photos, notes and advice of appointments that ended before the cut-off.
 * - the comment of a rating (schema 6) of an appointment that ended before the cut-off (its
 *   stars stay: the statistics use them).
 * Appointments keep their doctor, facility, service, status, times and consultation record,
 * so the statistics (stats_daily, consultation_quality) are unchanged. */
typedef struct {
  gint64 patients;     /* patients erased */
  gint64 appointments; /* cancel reasons cleared */
  gint64 tokens;       /* join token hashes deleted */
  gint64 notices;      /* outbox notices scrubbed */
  gint64 sessions;     /* expired staff sessions deleted */
  gint64 clinical;     /* chat messages, photos, notes and advice deleted (schema 7) */
  gint64 comments;     /* rating comments cleared (schema 6) */
} SchedRetentionCounts;

#define SCHED_RETENTION_DAYS_DEFAULT 365
#define SCHED_RETENTION_DAYS_MIN 30

/* Runs the retention rules at `now` (0 = the real clock) for `days` (>= SCHED_RETENTION_DAYS_MIN,
 * else INVALID "days"). `dry_run`: counts what would go, then rolls back (no audit row).
 * `*counts` (optional) receives the counts. */
gboolean sched_retention_run(SchedStore *store, gint64 now, int days, gboolean dry_run,
                             SchedRetentionCounts *counts, GError **error);

/* --- Group commit -------------------------------------------------------------------------
 * One fsync per commit (synchronous = FULL) caps how many writes a second one connection can
 * make durable. A batch lets the writes of several requests share one commit:
 * sched_store_batch_begin() opens it; until sched_store_batch_commit(), every write function
 * runs in its own savepoint inside one transaction (opened by the first write), so a failing
 * call still writes nothing (the others stay), and nothing is durable until the batch commits.
 * The caller must not acknowledge (answer, send, log as done) any write made in a batch before
 * sched_store_batch_commit() has returned TRUE; on FALSE (DB) nothing of the batch was written.
 * Reads in a batch see its uncommitted writes. sched_outbox_claim() claims nothing while a batch
 * has uncommitted writes (a notice must not go out before its booking is durable). Batches do
 * not nest; without one, every call commits on its own as before. */
void sched_store_batch_begin(SchedStore *store);
gboolean sched_store_batch_commit(SchedStore *store, GError **error);
/* TRUE between sched_store_batch_begin() and sched_store_batch_commit(). */
gboolean sched_store_batch_is_open(SchedStore *store);

/* --- Clinical content of a consultation (schema 7) ----------------------------------------
 * What is said and given during a consultation: chat messages (the doctor to a waiting
 * patient, and everyone in the call), photos of documents the patient sends, the doctor's
 * private notes and the advice (a prescription or instructions) given to the patient. All of it
 * is personal medical data: never logged, never in statistics, and erased by the retention run
 * with the appointment's other personal data (SchedRetentionCounts.clinical). Texts are UTF-8
 * without control characters but newline and tab; lengths count characters. */
#define SCHED_CHAT_MAX_CHARS 1000
#define SCHED_NOTES_MAX_CHARS 8000
#define SCHED_ADVICE_MAX_CHARS 4000
#define SCHED_ATTACHMENT_MAX_BYTES (2 * 1024 * 1024)

typedef struct {
  gint64 id;
  gint64 appointment_id;
  gint64 sent_at_ms;  /* unix milliseconds */
  char *sender_role;  /* "patient", "doctor", "interpreter", "specialist", "family", "admin" */
  char *sender_name;  /* the name the others see in the call (a guest's is its role) */
  char *text;
} SchedChatMessage;

void sched_chat_message_free(SchedChatMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedChatMessage, sched_chat_message_free)

/* Stores one message. Returns its id, or 0 with INVALID "text" (empty, only spaces, over
 * SCHED_CHAT_MAX_CHARS, not UTF-8, control characters), "sender_role", "sender_name";
 * NOT_FOUND "appointment_id". */
gint64 sched_chat_add(SchedStore *store, gint64 appointment_id, gint64 sent_at_ms,
                      const char *sender_role, const char *sender_name, const char *text,
                      GError **error);
/* The newest `limit` (0 = 200) messages of a consultation, oldest first.
 * (element-type SchedChatMessage) (transfer full) */
GPtrArray *sched_chat_list(SchedStore *store, gint64 appointment_id, guint limit, GError **error);

typedef struct {
  gint64 id;
  gint64 appointment_id;
  gint64 uploaded_at;
  char *uploader_role;
  char *media_type; /* "image/jpeg" or "image/png" */
  gint64 size;      /* bytes */
  GBytes *data;     /* NULL in lists */
} SchedAttachment;

void sched_attachment_free(SchedAttachment *attachment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedAttachment, sched_attachment_free)

/* The media type of an image by its first bytes: "image/jpeg", "image/png", or NULL. Pure. */
const char *sched_attachment_sniff(const guint8 *data, gsize len);
/* Stores a photo. Returns its id, or 0 with INVALID "size" (empty, over
 * SCHED_ATTACHMENT_MAX_BYTES), "media_type" (the bytes are not a JPEG or PNG, or not of
 * `media_type`), "uploader_role"; NOT_FOUND "appointment_id". */
gint64 sched_attachment_add(SchedStore *store, gint64 appointment_id, gint64 uploaded_at,
                            const char *uploader_role, const char *media_type, const guint8 *data,
                            gsize len, GError **error);
/* One photo with its bytes; NOT_FOUND "attachment_id" if it is not one of that appointment's.
 * (transfer full) */
SchedAttachment *sched_attachment_get(SchedStore *store, gint64 appointment_id,
                                      gint64 attachment_id, GError **error);
/* A consultation's photos, oldest first, without their bytes. (element-type SchedAttachment)
 * (transfer full) */
GPtrArray *sched_attachments_list(SchedStore *store, gint64 appointment_id, GError **error);

typedef struct {
  gint64 appointment_id;
  gint64 doctor_id; /* who wrote them last */
  gint64 updated_at;
  char *text;
} SchedNotes;

void sched_notes_free(SchedNotes *notes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedNotes, sched_notes_free)

/* The doctor's private notes of a consultation; NULL with NOT_FOUND "notes" if none were
 * written. (transfer full) */
SchedNotes *sched_notes_get(SchedStore *store, gint64 appointment_id, GError **error);
/* Replaces them (an empty text is allowed: cleared). INVALID "text" (over
 * SCHED_NOTES_MAX_CHARS, not UTF-8, control characters); NOT_FOUND "appointment_id". */
gboolean sched_notes_put(SchedStore *store, gint64 appointment_id, gint64 doctor_id,
                         const char *text, gint64 updated_at, GError **error);

typedef struct {
  gint64 id;
  gint64 appointment_id;
  gint64 given_at;
  char *text;
} SchedAdvice;

void sched_advice_free(SchedAdvice *advice);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedAdvice, sched_advice_free)

/* Adds advice given to the patient. Returns its id, or 0 with INVALID "text" (empty, over
 * SCHED_ADVICE_MAX_CHARS, …); NOT_FOUND "appointment_id". */
gint64 sched_advice_add(SchedStore *store, gint64 appointment_id, gint64 given_at,
                        const char *text, GError **error);
/* A consultation's advice, oldest first. (element-type SchedAdvice) (transfer full) */
GPtrArray *sched_advice_list(SchedStore *store, gint64 appointment_id, GError **error);
/* --- The patient's page (schema 6): consent, rating, expected wait -------------------------
 * Consent: before the device check the page shows a versioned consent text; each token holder's
 * acceptance (appointment, token role, version, language, time) is kept, so a patient who comes
 * back is not asked again for the same version. Rating: after a consultation has started, the
 * patient (not a guest) rates it once, 1..5 stars and an optional comment (free text: personal
 * data, never logged nor in the statistics; cleared by the retention run). */

#define SCHED_CONSENT_VERSION_MAX 32
#define SCHED_RATING_COMMENT_MAX_CHARS 1000

typedef struct {
  gint64 appointment_id;
  char *role;     /* the token's role: "patient" or a guest role */
  char *version;  /* e.g. "2026-12-v1" */
  char *language; /* "en", "ur" */
  gint64 accepted_at;
} SchedConsent;

void sched_consent_free(SchedConsent *consent);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedConsent, sched_consent_free)

/* Records that the holder of a token of `role` for `appointment_id` accepted `version` (1..32
 * of [A-Za-z0-9._-]) shown in `language` (two lowercase letters) at `now`. Accepting a version
 * again keeps the first time. INVALID "version", "language", "role"; NOT_FOUND
 * "appointment_id". */
gboolean sched_consent_record(SchedStore *store, gint64 appointment_id, const char *role,
                              const char *version, const char *language, gint64 now,
                              GError **error);
/* The latest acceptance for that appointment and role; NOT_FOUND if none. (transfer full) */
SchedConsent *sched_consent_latest(SchedStore *store, gint64 appointment_id, const char *role,
                                   GError **error);

typedef struct {
  gint64 appointment_id;
  int stars;     /* 1..5 */
  char *comment; /* or NULL */
  gint64 rated_at;
} SchedRating;

void sched_rating_free(SchedRating *rating);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SchedRating, sched_rating_free)

/* Stores the patient's rating of a consultation that has started (its record has started_at).
 * `comment` may be NULL or empty (stored as NULL); at most SCHED_RATING_COMMENT_MAX_CHARS
 * characters of UTF-8 without control characters but newline and tab. INVALID "stars",
 * "comment"; NOT_FOUND "appointment_id"; CONFLICT "status" if the consultation has not started;
 * CONFLICT "appointment_id" if it is already rated. Nothing written on error. */
gboolean sched_rating_put(SchedStore *store, gint64 appointment_id, int stars, const char *comment,
                          gint64 now, GError **error);
/* NOT_FOUND if not rated. (transfer full) */
SchedRating *sched_rating_get(SchedStore *store, gint64 appointment_id, GError **error);

/* A doctor's typical consultation length in seconds: the median of their last (at most 10)
 * consultations that ended within 30 days of `now`; 0 if there are fewer than 3 (then the
 * caller falls back on the appointments' booked lengths). */
gint64 sched_doctor_typical_duration(SchedStore *store, gint64 doctor_id, gint64 now,
                                     GError **error);

G_END_DECLS
