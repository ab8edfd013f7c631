/* sched-engine.c — the booking engine's public calls (scheduler.h, "since schema 2"):
 * facilities, doctors' profiles, services, availability, slot search, holds, bookings,
 * cancellations, reschedules, walk-ins, the waitlist, the periodic jobs and the outbox.
 *
 * Rules live here; rows live behind the backend table (sched-backend.h); slot arithmetic is
 * pure (sched-slots.c). Every call that writes runs in one BEGIN IMMEDIATE transaction, so a
 * refused call writes nothing and two stores on one file cannot both take a slot: the second
 * waits for the first's write lock and then sees its row.
 *
 * Threads: the main loop's thread only, like the rest of the store.
 * Privacy: logs carry ids only; notices' bodies (which may hold a join link) are never logged. */
#include "scheduler.h"
#include "sched-private.h"
#include "sched-slots.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define DAY_S 86400
#define WALKIN_DEFAULT_DURATION_S (15 * 60)
#define SLOT_RANGE_MAX_S (366 * DAY_S)
#define LANGUAGES_MAX 16

static const char *const sectors[] = {"public", "private", "ngo"};
static const char *const genders[] = {"female", "male", "other"};
static const char *const statuses[] = {
    "proposed",  "pending", "booked",     "arrived",  "fulfilled",
    "cancelled", "noshow",  "checked-in", "waitlist", "entered-in-error",
};
static const char *const kinds[] = {"booked", "walkin"};
static const char *const waitlist_statuses[] = {"waiting", "offered", "booked", "removed"};

/* --- Helpers --------------------------------------------------------------------------------- */

void sched__engine_free(SchedStore *store)
{
  g_clear_pointer(&store->zones, g_hash_table_unref);
  g_clear_pointer(&store->public_url, g_free);
}

static const SchedBackend *BE(SchedStore *s)
{
  return s->backend;
}

/* Ends a transaction: commits if `ok`, else (or if the commit fails) rolls back. */
static gboolean tx_end(SchedStore *s, gboolean ok, GError **error)
{
  if (ok && BE(s)->commit(s->db, error))
    return TRUE;
  BE(s)->rollback(s->db);
  return FALSE;
}

static gint64 resolve_now(gint64 now)
{
  return now > 0 ? now : sched__now_s();
}

/* A GTimeZone for an IANA name, cached on the store. (transfer none) NULL if unknown. */
static GTimeZone *store_zone(SchedStore *s, const char *name)
{
  GTimeZone *tz;

  if (name == NULL)
    name = SCHED_TIMEZONE_DEFAULT;
  tz = g_hash_table_lookup(s->zones, name);
  if (tz == NULL) {
    tz = g_time_zone_new_identifier(name);
    if (tz == NULL)
      return NULL;
    g_hash_table_insert(s->zones, g_strdup(name), tz);
  }
  return tz;
}

/* The zone of a facility (0: the default). */
static GTimeZone *facility_zone(SchedStore *s, gint64 facility_id, GError **error)
{
  g_autoptr(SchedFacility) f = NULL;
  GTimeZone *tz;

  if (facility_id <= 0)
    return store_zone(s, NULL);
  f = BE(s)->facility_get(s->db, facility_id, error);
  if (f == NULL)
    return NULL;
  tz = store_zone(s, f->timezone);
  if (tz == NULL)
    tz = store_zone(s, NULL);
  return tz;
}

static gboolean valid_language(const char *code)
{
  return code != NULL && g_ascii_islower(code[0]) && g_ascii_islower(code[1]) && code[2] == '\0';
}

static gboolean valid_optional_text(const char *s)
{
  return s == NULL || sched__valid_text(s, SCHED_NAME_MAX_BYTES, FALSE);
}

/* Re-labels a backend NOT_FOUND as naming `field`. */
static void name_not_found(GError **error, const char *field, gint64 id)
{
  if (error != NULL && *error != NULL &&
      g_error_matches(*error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND)) {
    g_clear_error(error);
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, field, "no such id %" G_GINT64_FORMAT, id);
  }
}

static SchedAppointment *get_appointment(SchedStore *s, gint64 id, GError **error)
{
  SchedAppointment *a = NULL;

  if (id > 0)
    a = BE(s)->appointment_get(s->db, id, error);
  if (a == NULL) {
    if (id <= 0 || (error != NULL && *error == NULL))
      sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                         "no appointment %" G_GINT64_FORMAT, id);
    else
      name_not_found(error, "appointment_id", id);
  }
  return a;
}

static SchedDoctor *get_doctor(SchedStore *s, gint64 id, GError **error)
{
  if (id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "doctor_id", "no doctor %" G_GINT64_FORMAT,
                       id);
    return NULL;
  }
  return BE(s)->doctor_get(s->db, id, error);
}

static SchedService *get_service(SchedStore *s, gint64 id, GError **error)
{
  if (id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "service_id", "no service %" G_GINT64_FORMAT,
                       id);
    return NULL;
  }
  return BE(s)->service_get(s->db, id, error);
}

static SchedPatient *get_patient(SchedStore *s, gint64 id, GError **error)
{
  if (id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "patient_id", "no patient %" G_GINT64_FORMAT,
                       id);
    return NULL;
  }
  return BE(s)->patient_get(s->db, id, error);
}

static gboolean exists_facility(SchedStore *s, gint64 id, GError **error)
{
  g_autoptr(SchedFacility) f = NULL;

  if (id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "facility_id", "no facility %" G_GINT64_FORMAT,
                       id);
    return FALSE;
  }
  f = BE(s)->facility_get(s->db, id, error);
  return f != NULL;
}

/* --- Records -----------------------------------------------------------------------------------
 */

void sched_facility_free(SchedFacility *f)
{
  if (f == NULL)
    return;
  g_free(f->name);
  g_free(f->district);
  g_free(f->sector);
  g_free(f->timezone);
  g_free(f);
}

void sched_doctor_free(SchedDoctor *d)
{
  if (d == NULL)
    return;
  g_free(d->username);
  g_free(d->display_name);
  g_free(d->specialty);
  g_strfreev(d->languages);
  g_free(d->gender);
  g_free(d);
}

void sched_service_free(SchedService *s)
{
  if (s == NULL)
    return;
  g_free(s->name);
  g_free(s->specialty);
  g_free(s);
}

void sched_availability_free(SchedAvailability *a)
{
  if (a == NULL)
    return;
  g_free(a->valid_from);
  g_free(a->valid_until);
  g_free(a);
}

void sched_break_free(SchedBreak *b)
{
  g_free(b);
}

void sched_exception_free(SchedException *e)
{
  if (e == NULL)
    return;
  g_free(e->reason);
  g_free(e);
}

void sched_patient_free(SchedPatient *p)
{
  if (p == NULL)
    return;
  g_free(p->display_name);
  g_free(p->phone);
  g_free(p->preferred_language);
  g_free(p->sex);
  g_free(p);
}

void sched_slot_free(SchedSlot *slot)
{
  if (slot == NULL)
    return;
  g_free(slot->id);
  g_free(slot);
}

void sched_waitlist_entry_free(SchedWaitlistEntry *w)
{
  if (w == NULL)
    return;
  g_free(w->status);
  g_free(w);
}

void sched_outbox_item_free(SchedOutboxItem *o)
{
  if (o == NULL)
    return;
  g_free(o->kind);
  g_free(o->recipient);
  g_free(o->language);
  if (o->body != NULL)
    sodium_memzero(o->body, strlen(o->body)); /* it may hold a join link */
  g_free(o->body);
  g_free(o->dedupe_key);
  g_free(o->last_error);
  g_free(o);
}

/* --- Facilities, staff, doctors ------------------------------------------------------------- */

gint64 sched_facility_add(SchedStore *store, const char *name, const char *district,
                          const char *sector, const char *timezone, GError **error)
{
  gint64 id;

  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);

  if (!sched__valid_text(name, SCHED_NAME_MAX_BYTES, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "name", "1 to %d bytes of UTF-8",
                       SCHED_NAME_MAX_BYTES);
    return 0;
  }
  if (!sched__valid_text(district, SCHED_NAME_MAX_BYTES, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "district", "1 to %d bytes of UTF-8",
                       SCHED_NAME_MAX_BYTES);
    return 0;
  }
  if (!sched__in_set(sector, sectors, G_N_ELEMENTS(sectors))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "sector", "public, private or ngo");
    return 0;
  }
  if (timezone == NULL)
    timezone = SCHED_TIMEZONE_DEFAULT;
  if (strlen(timezone) > 64 || store_zone(store, timezone) == NULL) {
    sched__field_error(error, SCHED_ERROR_INVALID, "timezone", "not a known IANA time zone");
    return 0;
  }
  id = BE(store)->facility_insert(store->db, name, district, sector, timezone, sched__now_s(),
                                  error);
  if (id > 0)
    g_info("facility %" G_GINT64_FORMAT " added", id);
  return id;
}

SchedFacility *sched_facility_get(SchedStore *store, gint64 facility_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (facility_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "facility_id", "no facility %" G_GINT64_FORMAT,
                       facility_id);
    return NULL;
  }
  return BE(store)->facility_get(store->db, facility_id, error);
}

GPtrArray *sched_facilities_list(SchedStore *store, const char *name_contains, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  return BE(store)->facility_list(store->db, name_contains, error);
}

GPtrArray *sched_staff_list(SchedStore *store, const char *role, GError **error)
{
  static const char *const roles[] = {"doctor", "admin", "analyst"};

  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (role != NULL && !sched__in_set(role, roles, G_N_ELEMENTS(roles))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "role", "a role is doctor, admin or analyst");
    return NULL;
  }
  return BE(store)->staff_list(store->db, role, error);
}

gboolean sched_doctor_set_profile(SchedStore *store, gint64 doctor_id, gint64 facility_id,
                                  const char *specialty, const char *const *languages,
                                  const char *gender, GError **error)
{
  g_autoptr(SchedDoctor) doctor = NULL;
  g_autoptr(GString) csv = g_string_new(",");
  gsize n = 0;

  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

  if (!sched__valid_text(specialty, SCHED_NAME_MAX_BYTES, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "specialty", "1 to %d bytes of UTF-8",
                       SCHED_NAME_MAX_BYTES);
    return FALSE;
  }
  for (; languages != NULL && languages[n] != NULL; n++) {
    if (!valid_language(languages[n]) || n >= LANGUAGES_MAX) {
      sched__field_error(error, SCHED_ERROR_INVALID, "languages",
                         "up to %d two-letter lowercase ISO 639-1 codes", LANGUAGES_MAX);
      return FALSE;
    }
    g_string_append_printf(csv, "%s,", languages[n]);
  }
  if (gender != NULL && !sched__in_set(gender, genders, G_N_ELEMENTS(genders))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "gender", "female, male or other");
    return FALSE;
  }
  doctor = get_doctor(store, doctor_id, error);
  if (doctor == NULL || !exists_facility(store, facility_id, error))
    return FALSE;
  if (!BE(store)->doctor_profile_put(store->db, doctor_id, facility_id, specialty, csv->str, gender,
                                     error))
    return FALSE;
  g_info("doctor %" G_GINT64_FORMAT " profile set (facility %" G_GINT64_FORMAT ")", doctor_id,
         facility_id);
  return TRUE;
}

SchedDoctor *sched_doctor_get(SchedStore *store, gint64 doctor_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  return get_doctor(store, doctor_id, error);
}

GPtrArray *sched_doctors_list(SchedStore *store, const SchedDoctorFilter *filter, GError **error)
{
  const SchedDoctorFilter none = {0};

  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (filter == NULL)
    filter = &none;
  if (filter->language != NULL && !valid_language(filter->language)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "language", "a two-letter ISO 639-1 code");
    return NULL;
  }
  if (filter->gender != NULL && !sched__in_set(filter->gender, genders, G_N_ELEMENTS(genders))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "gender", "female, male or other");
    return NULL;
  }
  return BE(store)->doctor_list(store->db, filter, error);
}

/* --- Services, availability, breaks, exceptions ----------------------------------------------- */

gint64 sched_service_add(SchedStore *store, const SchedService *spec, GError **error)
{
  gint64 id;

  g_return_val_if_fail(store != NULL && spec != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);

  if (!sched__valid_text(spec->name, SCHED_NAME_MAX_BYTES, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "name", "1 to %d bytes of UTF-8",
                       SCHED_NAME_MAX_BYTES);
    return 0;
  }
  if (!sched__valid_text(spec->specialty, SCHED_NAME_MAX_BYTES, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "specialty", "1 to %d bytes of UTF-8",
                       SCHED_NAME_MAX_BYTES);
    return 0;
  }
  if (spec->duration_min < 1 || spec->duration_min > SCHED_DURATION_MAX_MIN) {
    sched__field_error(error, SCHED_ERROR_INVALID, "duration_min", "1 to %d minutes",
                       SCHED_DURATION_MAX_MIN);
    return 0;
  }
  if (spec->buffer_before_min < 0 || spec->buffer_before_min > SCHED_BUFFER_MAX_MIN) {
    sched__field_error(error, SCHED_ERROR_INVALID, "buffer_before_min", "0 to %d minutes",
                       SCHED_BUFFER_MAX_MIN);
    return 0;
  }
  if (spec->buffer_after_min < 0 || spec->buffer_after_min > SCHED_BUFFER_MAX_MIN) {
    sched__field_error(error, SCHED_ERROR_INVALID, "buffer_after_min", "0 to %d minutes",
                       SCHED_BUFFER_MAX_MIN);
    return 0;
  }
  if (spec->max_per_day < 0 || spec->max_per_day > SCHED_MAX_PER_DAY_MAX) {
    sched__field_error(error, SCHED_ERROR_INVALID, "max_per_day", "0 (no limit) to %d",
                       SCHED_MAX_PER_DAY_MAX);
    return 0;
  }
  if (!exists_facility(store, spec->facility_id, error))
    return 0;
  id = BE(store)->service_insert(store->db, spec, sched__now_s(), error);
  if (id > 0)
    g_info("service %" G_GINT64_FORMAT " added", id);
  return id;
}

SchedService *sched_service_get(SchedStore *store, gint64 service_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  return get_service(store, service_id, error);
}

GPtrArray *sched_services_list(SchedStore *store, gint64 facility_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  return BE(store)->service_list(store->db, MAX(facility_id, 0), error);
}

static gboolean valid_weekly(int weekday, int start_min, int end_min, GError **error)
{
  if (weekday < 1 || weekday > 7) {
    sched__field_error(error, SCHED_ERROR_INVALID, "weekday", "1 (Monday) to 7 (Sunday)");
    return FALSE;
  }
  if (start_min < 0 || start_min > 1439) {
    sched__field_error(error, SCHED_ERROR_INVALID, "start_min", "0 to 1439 minutes after midnight");
    return FALSE;
  }
  if (end_min <= start_min || end_min > 1440) {
    sched__field_error(error, SCHED_ERROR_INVALID, "end_min", "after start_min, at most 1440");
    return FALSE;
  }
  return TRUE;
}

gint64 sched_availability_add(SchedStore *store, const SchedAvailability *spec, GError **error)
{
  g_autoptr(SchedDoctor) doctor = NULL;
  g_autoptr(SchedService) service = NULL;
  g_autoptr(GPtrArray) existing = NULL;
  guint32 from = 0, until = 0;
  gint64 id = 0;

  g_return_val_if_fail(store != NULL && spec != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);

  if (!valid_weekly(spec->weekday, spec->start_min, spec->end_min, error))
    return 0;
  if (spec->valid_from != NULL && (from = sched__parse_date(spec->valid_from)) == 0) {
    sched__field_error(error, SCHED_ERROR_INVALID, "valid_from", "a date YYYY-MM-DD");
    return 0;
  }
  if (spec->valid_until != NULL && (until = sched__parse_date(spec->valid_until)) == 0) {
    sched__field_error(error, SCHED_ERROR_INVALID, "valid_until", "a date YYYY-MM-DD");
    return 0;
  }
  if (from != 0 && until != 0 && until < from) {
    sched__field_error(error, SCHED_ERROR_INVALID, "valid_until", "before valid_from");
    return 0;
  }
  if (!BE(store)->begin(store->db, error))
    return 0;
  doctor = get_doctor(store, spec->doctor_id, error);
  if (doctor == NULL)
    goto out;
  service = get_service(store, spec->service_id, error);
  if (service == NULL)
    goto out;
  existing = BE(store)->availability_list(store->db, spec->doctor_id, 0, error);
  if (existing == NULL)
    goto out;
  for (guint i = 0; i < existing->len; i++) {
    const SchedAvailability *a = g_ptr_array_index(existing, i);
    guint32 a_from = a->valid_from != NULL ? sched__parse_date(a->valid_from) : 0;
    guint32 a_until = a->valid_until != NULL ? sched__parse_date(a->valid_until) : 0;
    gboolean dates = (until == 0 || a_from == 0 || a_from <= until) &&
                     (from == 0 || a_until == 0 || from <= a_until);

    if (a->weekday == spec->weekday && a->start_min < spec->end_min &&
        spec->start_min < a->end_min && dates) {
      sched__field_error(error, SCHED_ERROR_CONFLICT, "start_min",
                         "overlaps availability %" G_GINT64_FORMAT, a->id);
      goto out;
    }
  }
  id = BE(store)->availability_insert(store->db, spec, error);
out:
  if (!tx_end(store, id > 0, error))
    return 0;
  g_info("availability %" G_GINT64_FORMAT " added (doctor %" G_GINT64_FORMAT ")", id,
         spec->doctor_id);
  return id;
}

GPtrArray *sched_availability_list(SchedStore *store, gint64 doctor_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  return BE(store)->availability_list(store->db, MAX(doctor_id, 0), 0, error);
}

gboolean sched_availability_remove(SchedStore *store, gint64 availability_id, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  return BE(store)->availability_delete(store->db, availability_id, error);
}

gint64 sched_break_add(SchedStore *store, gint64 doctor_id, int weekday, int start_min, int end_min,
                       GError **error)
{
  g_autoptr(SchedDoctor) doctor = NULL;
  SchedBreak spec = {
      .doctor_id = doctor_id, .weekday = weekday, .start_min = start_min, .end_min = end_min};

  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  if (!valid_weekly(weekday, start_min, end_min, error))
    return 0;
  doctor = get_doctor(store, doctor_id, error);
  if (doctor == NULL)
    return 0;
  return BE(store)->break_insert(store->db, &spec, error);
}

GPtrArray *sched_breaks_list(SchedStore *store, gint64 doctor_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  return BE(store)->break_list(store->db, MAX(doctor_id, 0), error);
}

gboolean sched_break_remove(SchedStore *store, gint64 break_id, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  return BE(store)->break_delete(store->db, break_id, error);
}

gint64 sched_exception_add(SchedStore *store, gint64 doctor_id, gint64 facility_id,
                           gint64 starts_at, gint64 ends_at, const char *reason, GError **error)
{
  SchedException spec = {.doctor_id = MAX(doctor_id, 0),
                         .facility_id = MAX(facility_id, 0),
                         .starts_at = starts_at,
                         .ends_at = ends_at,
                         .reason = (char *)reason};

  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  if ((spec.doctor_id > 0) == (spec.facility_id > 0)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "doctor_id",
                       "exactly one of doctor_id and facility_id");
    return 0;
  }
  if (!sched__valid_time(starts_at)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "starts_at", "time out of range");
    return 0;
  }
  if (!sched__valid_time(ends_at) || ends_at <= starts_at) {
    sched__field_error(error, SCHED_ERROR_INVALID, "ends_at", "after starts_at, within range");
    return 0;
  }
  if (!valid_optional_text(reason)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "reason", "1 to %d bytes of UTF-8",
                       SCHED_NAME_MAX_BYTES);
    return 0;
  }
  if (spec.doctor_id > 0) {
    g_autoptr(SchedDoctor) doctor = get_doctor(store, doctor_id, error);
    if (doctor == NULL)
      return 0;
  } else if (!exists_facility(store, facility_id, error)) {
    return 0;
  }
  return BE(store)->exception_insert(store->db, &spec, error);
}

GPtrArray *sched_exceptions_list(SchedStore *store, gint64 doctor_id, gint64 facility_id,
                                 gint64 from, gint64 to, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (to <= from) {
    sched__field_error(error, SCHED_ERROR_INVALID, "to", "an empty time range");
    return NULL;
  }
  return BE(store)->exception_list(store->db, MAX(doctor_id, 0), MAX(facility_id, 0), from, to,
                                   error);
}

gboolean sched_exception_remove(SchedStore *store, gint64 exception_id, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  return BE(store)->exception_delete(store->db, exception_id, error);
}

/* --- Patients ----------------------------------------------------------------------------------
 */

gboolean sched_patient_sex_is_valid(const char *sex)
{
  return sex == NULL || strcmp(sex, "female") == 0 || strcmp(sex, "male") == 0 ||
         strcmp(sex, "other") == 0;
}

gboolean sched_patient_birth_year_is_valid(int year)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  return year == 0 || (year >= SCHED_BIRTH_YEAR_MIN && year <= g_date_time_get_year(now));
}

gint64 sched_patient_create(SchedStore *store, const SchedPatientSpec *spec, GError **error)
{
  gint64 id;

  g_return_val_if_fail(store != NULL && spec != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  if (!sched__valid_text(spec->display_name, SCHED_NAME_MAX_BYTES, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "display_name",
                       "a display name is 1 to %d bytes of UTF-8", SCHED_NAME_MAX_BYTES);
    return 0;
  }
  if (spec->phone != NULL && !sched__valid_phone(spec->phone)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "phone",
                       "a phone number is up to %d digits, '+', spaces, '-' or parentheses",
                       SCHED_PHONE_MAX_BYTES);
    return 0;
  }
  if (spec->preferred_language != NULL && !valid_language(spec->preferred_language)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "preferred_language",
                       "a two-letter lowercase ISO 639-1 code");
    return 0;
  }
  if (!sched_patient_sex_is_valid(spec->sex)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "sex", "female, male, other or null");
    return 0;
  }
  if (!sched_patient_birth_year_is_valid(spec->birth_year)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "birth_year",
                       "a year from %d to the current year, or null", SCHED_BIRTH_YEAR_MIN);
    return 0;
  }
  id = BE(store)->patient_insert_full(store->db, spec, sched__now_s(), error);
  if (id > 0)
    g_debug("patient %" G_GINT64_FORMAT " added", id);
  return id;
}

gint64 sched_patient_add_full(SchedStore *store, const char *display_name, const char *phone,
                              const char *preferred_language, GError **error)
{
  const SchedPatientSpec spec = {
      .display_name = display_name, .phone = phone, .preferred_language = preferred_language};
  return sched_patient_create(store, &spec, error);
}

SchedPatient *sched_patient_get(SchedStore *store, gint64 patient_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  return get_patient(store, patient_id, error);
}

/* The digits of `s` (transfer full), or NULL if it has none. */
static char *digits_of(const char *s)
{
  GString *d = g_string_new(NULL);

  for (; s != NULL && *s != '\0'; s++) {
    if (g_ascii_isdigit(*s))
      g_string_append_c(d, *s);
  }
  if (d->len == 0) {
    g_string_free(d, TRUE);
    return NULL;
  }
  return g_string_free(d, FALSE);
}

GPtrArray *sched_patients_search(SchedStore *store, const char *query, guint limit, GError **error)
{
  g_autofree char *digits = NULL;

  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (query != NULL && !sched__valid_text(query, SCHED_NAME_MAX_BYTES, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "query", "1 to %d bytes of UTF-8",
                       SCHED_NAME_MAX_BYTES);
    return NULL;
  }
  digits = digits_of(query);
  return BE(store)->patient_search(store->db, query, digits, limit == 0 ? 100 : MIN(limit, 1000),
                                   error);
}

gboolean sched_patient_set_language(SchedStore *store, gint64 patient_id,
                                    const char *preferred_language, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  if (preferred_language != NULL && !valid_language(preferred_language)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "preferred_language",
                       "a two-letter lowercase ISO 639-1 code");
    return FALSE;
  }
  return BE(store)->patient_set_language(store->db, patient_id, preferred_language, error);
}

/* --- Appointment search ------------------------------------------------------------------------
 */

GPtrArray *sched_appointments_search(SchedStore *store, const SchedAppointmentFilter *filter,
                                     GError **error)
{
  SchedAppointmentFilter f = {0};

  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (filter != NULL)
    f = *filter;
  if (f.status != NULL && !sched__in_set(f.status, statuses, G_N_ELEMENTS(statuses))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "status", "not an appointment status");
    return NULL;
  }
  if (f.kind != NULL && !sched__in_set(f.kind, kinds, G_N_ELEMENTS(kinds))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "kind", "booked or walkin");
    return NULL;
  }
  if (f.from != 0 && f.to != 0 && f.to <= f.from) {
    sched__field_error(error, SCHED_ERROR_INVALID, "to", "an empty time range");
    return NULL;
  }
  f.limit = f.limit == 0 ? 500 : MIN(f.limit, 5000);
  return BE(store)->appointment_search(store->db, &f, error);
}

/* --- Notices -----------------------------------------------------------------------------------
 */

/* A local time for a notice: "2026-01-05 09:30". (transfer full) */
static char *format_local(GTimeZone *tz, gint64 t)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc(t);
  g_autoptr(GDateTime) local = utc != NULL ? g_date_time_to_timezone(utc, tz) : NULL;

  return local != NULL ? g_date_time_format(local, "%Y-%m-%d %H:%M") : g_strdup("?");
}

/* Renders a notice's text in Urdu ("ur", also the default) or English ("en"). `when` is the
 * appointment's local time, `extra` the link or (for an offer) the hold's end. */
static char *render(const char *kind, gboolean urdu, const char *when, const char *extra)
{
  if (g_str_equal(kind, "confirmation"))
    return urdu
               ? g_strdup_printf("مشورہ: آپ کی ملاقات %s کے لیے طے ہو گئی ہے۔ لنک: %s", when, extra)
               : g_strdup_printf("Mashwara: your appointment is confirmed for %s. Join: %s", when,
                                 extra);
  if (g_str_equal(kind, "reminder_day"))
    return urdu ? g_strdup_printf("مشورہ: یاد دہانی، آپ کی ملاقات %s کو ہے۔", when)
                : g_strdup_printf("Mashwara: reminder, your appointment is at %s.", when);
  if (g_str_equal(kind, "reminder_15min"))
    return urdu ? g_strdup_printf("مشورہ: آپ کی ملاقات %s پر، تقریباً 15 منٹ میں شروع ہو گی۔", when)
                : g_strdup_printf("Mashwara: your appointment starts at %s, in about 15 minutes.",
                                  when);
  if (g_str_equal(kind, "you_are_next"))
    return urdu ? g_strdup("مشورہ: اب آپ کی باری ہے۔ براہ کرم اپنا لنک کھولیں۔")
                : g_strdup("Mashwara: you are next. Please open your link now.");
  if (g_str_equal(kind, "cancellation"))
    return urdu ? g_strdup_printf("مشورہ: %s کی آپ کی ملاقات منسوخ کر دی گئی ہے۔", when)
                : g_strdup_printf("Mashwara: your appointment at %s has been cancelled.", when);
  if (g_str_equal(kind, "rescheduled"))
    return urdu ? g_strdup_printf("مشورہ: آپ کی ملاقات اب %s کو ہے۔", when)
                : g_strdup_printf("Mashwara: your appointment has moved to %s.", when);
  if (g_str_equal(kind, "waitlist_offer"))
    return urdu ? g_strdup_printf("مشورہ: %s پر آپ کے لیے وقت دستیاب ہے، %s تک محفوظ۔ تصدیق کے "
                                  "لیے کلینک سے رابطہ کریں۔",
                                  when, extra)
                : g_strdup_printf("Mashwara: a slot at %s is free for you, held until %s. Call "
                                  "the clinic to confirm.",
                                  when, extra);
  /* link_resend */
  return urdu ? g_strdup_printf("مشورہ: %s کی ملاقات کے لیے آپ کا لنک: %s", when, extra)
              : g_strdup_printf("Mashwara: your link for the appointment at %s: %s", when, extra);
}

/* Queues one notice about `a` for its patient (inside the caller's transaction). `token`: a
 * join token to link to, or NULL. `*inserted` (optional): FALSE if the dedupe key existed. */
static gboolean queue_notice(SchedStore *s, const char *kind, const SchedAppointment *a,
                             const char *token, const char *dedupe_key, gint64 now,
                             gboolean *inserted, GError **error)
{
  g_autoptr(SchedPatient) patient = get_patient(s, a->patient_id, error);
  g_autofree char *when = NULL;
  g_autofree char *extra = NULL;
  g_autofree char *body = NULL;
  GTimeZone *tz;
  gboolean urdu, ins = FALSE;
  SchedOutboxItem item = {0};

  if (patient == NULL)
    return FALSE;
  tz = facility_zone(s, a->facility_id, error);
  if (tz == NULL)
    return FALSE;
  urdu = g_strcmp0(patient->preferred_language, "en") != 0;
  when = format_local(tz, a->starts_at);
  if (token != NULL)
    extra = g_strdup_printf("%s/join/%s", s->public_url, token);
  else if (a->hold_expires_at > 0)
    extra = format_local(tz, a->hold_expires_at);
  else
    extra = g_strdup("");
  body = render(kind, urdu, when, extra);
  item.kind = (char *)kind;
  item.appointment_id = a->id;
  item.recipient = patient->phone;
  item.language = urdu ? "ur" : "en";
  item.body = body;
  item.dedupe_key = (char *)dedupe_key;
  item.due_at = now;
  if (patient->phone == NULL) {
    item.failed_at = now;
    item.last_error = "no phone";
  }
  if (!BE(s)->outbox_insert(s->db, &item, now, &ins, error))
    return FALSE;
  if (inserted != NULL)
    *inserted = ins;
  if (extra != NULL)
    sodium_memzero(extra, strlen(extra));
  sodium_memzero(body, strlen(body));
  return TRUE;
}

static gboolean queue_notice_seq(SchedStore *s, const char *kind, const SchedAppointment *a,
                                 const char *token, gint64 now, gboolean *inserted, GError **error)
{
  g_autofree char *key =
      g_strdup_printf("%s:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, kind, a->id, a->sequence);
  return queue_notice(s, kind, a, token, key, now, inserted, error);
}

/* Issues a patient join token for `appointment_id` (inside the caller's transaction).
 * (transfer full) */
static char *issue_patient_token(SchedStore *s, gint64 appointment_id, gint64 now, GError **error)
{
  g_autofree char *token = sched_token_generate();
  g_autofree char *hash = sched__secret_hash(token);

  if (!BE(s)->token_insert(s->db, hash, appointment_id, "patient", now, error)) {
    sodium_memzero(token, strlen(token));
    return NULL;
  }
  return g_steal_pointer(&token);
}

static void hand_token(char *token, char **out)
{
  if (token == NULL)
    return;
  if (out != NULL) {
    *out = token;
    return;
  }
  sodium_memzero(token, strlen(token));
  g_free(token);
}

/* --- Slots -------------------------------------------------------------------------------------
 */

char *sched_slot_id(gint64 doctor_id, gint64 service_id, gint64 starts_at)
{
  return g_strdup_printf("%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT, doctor_id,
                         service_id, starts_at);
}

gboolean sched_slot_id_parse(const char *slot_id, gint64 *doctor_id, gint64 *service_id,
                             gint64 *starts_at)
{
  g_auto(GStrv) parts = NULL;
  gint64 v[3];

  if (slot_id == NULL || strlen(slot_id) > 64)
    return FALSE;
  parts = g_strsplit(slot_id, "-", -1);
  if (g_strv_length(parts) != 3)
    return FALSE;
  for (int i = 0; i < 3; i++) {
    guint64 u;
    if (!g_ascii_string_to_unsigned(parts[i], 10, 1, G_MAXINT64, &u, NULL))
      return FALSE;
    v[i] = (gint64)u;
  }
  if (doctor_id != NULL)
    *doctor_id = v[0];
  if (service_id != NULL)
    *service_id = v[1];
  if (starts_at != NULL)
    *starts_at = v[2];
  return TRUE;
}

/* Everything the pure generator needs for one doctor and one service. */
typedef struct {
  SchedService *service;
  GTimeZone *tz;   /* borrowed from the store's cache */
  GArray *windows; /* SchedSlotWeekly */
  GArray *breaks;  /* SchedSlotWeekly */
  GArray *closed;  /* SchedSlotRange */
  GArray *busy;    /* SchedSlotBusy */
  SchedSlotSpec spec;
} SlotCtx;

static void slot_ctx_clear(SlotCtx *c)
{
  g_clear_pointer(&c->service, sched_service_free);
  g_clear_pointer(&c->windows, g_array_unref);
  g_clear_pointer(&c->breaks, g_array_unref);
  g_clear_pointer(&c->closed, g_array_unref);
  g_clear_pointer(&c->busy, g_array_unref);
}

static SchedSlotWeekly weekly_of(const SchedAvailability *a)
{
  SchedSlotWeekly w = {.weekday = a->weekday, .start_min = a->start_min, .end_min = a->end_min};

  w.from_julian = a->valid_from != NULL ? sched__parse_date(a->valid_from) : 0;
  w.until_julian = a->valid_until != NULL ? sched__parse_date(a->valid_until) : 0;
  return w;
}

static void spec_refresh(SlotCtx *c)
{
  c->spec.tz = c->tz;
  c->spec.service_id = c->service->id;
  c->spec.duration_s = (gint64)c->service->duration_min * 60;
  c->spec.buffer_before_s = (gint64)c->service->buffer_before_min * 60;
  c->spec.buffer_after_s = (gint64)c->service->buffer_after_min * 60;
  c->spec.max_per_day = c->service->max_per_day;
  c->spec.windows = (const SchedSlotWeekly *)c->windows->data;
  c->spec.n_windows = c->windows->len;
  c->spec.breaks = (const SchedSlotWeekly *)c->breaks->data;
  c->spec.n_breaks = c->breaks->len;
  c->spec.closed = (const SchedSlotRange *)c->closed->data;
  c->spec.n_closed = c->closed->len;
  c->spec.busy = c->busy != NULL ? (const SchedSlotBusy *)c->busy->data : NULL;
  c->spec.n_busy = c->busy != NULL ? c->busy->len : 0;
}

/* Loads one doctor's schedule for one service around [from, to) (windows, breaks, exceptions,
 * and the busy appointments but `exclude_id`). Takes ownership of `service`. */
static gboolean slot_ctx_load(SchedStore *s, gint64 doctor_id, SchedService *service, gint64 from,
                              gint64 to, gint64 now, gint64 exclude_id, SlotCtx *c, GError **error)
{
  g_autoptr(GPtrArray) windows = NULL;
  g_autoptr(GPtrArray) breaks = NULL;
  g_autoptr(GPtrArray) closed = NULL;

  memset(c, 0, sizeof *c);
  c->service = service;
  c->windows = g_array_new(FALSE, FALSE, sizeof(SchedSlotWeekly));
  c->breaks = g_array_new(FALSE, FALSE, sizeof(SchedSlotWeekly));
  c->closed = g_array_new(FALSE, FALSE, sizeof(SchedSlotRange));
  c->busy = g_array_new(FALSE, FALSE, sizeof(SchedSlotBusy));
  c->tz = facility_zone(s, service->facility_id, error);
  if (c->tz == NULL)
    return FALSE;
  windows = BE(s)->availability_list(s->db, doctor_id, service->id, error);
  breaks = windows != NULL ? BE(s)->break_list(s->db, doctor_id, error) : NULL;
  closed = breaks != NULL ? BE(s)->exception_list(s->db, doctor_id, service->facility_id,
                                                  from - 2 * DAY_S, to + 2 * DAY_S, error)
                          : NULL;
  if (closed == NULL)
    return FALSE;
  for (guint i = 0; i < windows->len; i++) {
    SchedSlotWeekly w = weekly_of(g_ptr_array_index(windows, i));
    g_array_append_val(c->windows, w);
  }
  for (guint i = 0; i < breaks->len; i++) {
    const SchedBreak *b = g_ptr_array_index(breaks, i);
    SchedSlotWeekly w = {.weekday = b->weekday, .start_min = b->start_min, .end_min = b->end_min};
    g_array_append_val(c->breaks, w);
  }
  for (guint i = 0; i < closed->len; i++) {
    const SchedException *e = g_ptr_array_index(closed, i);
    SchedSlotRange r = {.start = e->starts_at, .end = e->ends_at};
    g_array_append_val(c->closed, r);
  }
  if (!BE(s)->appointment_busy(s->db, doctor_id, from - 2 * DAY_S, to + 2 * DAY_S, now, exclude_id,
                               c->busy, error))
    return FALSE;
  spec_refresh(c);
  return TRUE;
}

/* Checks (inside a transaction) that `starts_at` is a free slot of the doctor and service:
 * INVALID "starts_at" if it is not a slot at all, CONFLICT "starts_at: slot taken" if an
 * appointment or live hold overlaps it, CONFLICT "starts_at: max_per_day reached". */
static gboolean check_slot(SchedStore *s, gint64 doctor_id, SchedService *service, gint64 starts_at,
                           gint64 now, gint64 exclude_id, GError **error)
{
  SlotCtx c;
  g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(gint64));
  gboolean ok = FALSE;
  const SchedSlotBusy *busy;

  if (!slot_ctx_load(s, doctor_id, service, starts_at, starts_at + 1, now, exclude_id, &c, error))
    goto out;
  if (starts_at < now) {
    sched__field_error(error, SCHED_ERROR_INVALID, "starts_at", "in the past");
    goto out;
  }
  /* First the grid alone, then the busy intervals: "not a slot" and "taken" differ. */
  c.spec.busy = NULL;
  if (sched__slots_generate(&c.spec, starts_at, starts_at + 1, now, 1, found) != 1) {
    sched__field_error(error, SCHED_ERROR_INVALID, "starts_at",
                       "not a slot of this doctor and service");
    goto out;
  }
  spec_refresh(&c);
  busy = sched__slots_find_overlap(&c.spec, starts_at - c.spec.buffer_before_s,
                                   starts_at + c.spec.duration_s + c.spec.buffer_after_s);
  if (busy != NULL) {
    sched__field_error(error, SCHED_ERROR_CONFLICT, "starts_at", "slot taken");
    goto out;
  }
  g_array_set_size(found, 0);
  if (sched__slots_generate(&c.spec, starts_at, starts_at + 1, now, 1, found) != 1) {
    sched__field_error(error, SCHED_ERROR_CONFLICT, "starts_at", "max_per_day reached");
    goto out;
  }
  ok = TRUE;
out:
  c.service = NULL; /* the caller's */
  slot_ctx_clear(&c);
  return ok;
}

/* One (doctor, service) pair of a search, with its schedule minus the busy part. */
typedef struct {
  gint64 doctor_id;
  SlotCtx ctx;
} SearchGroup;

/* A free slot found by a search: a start and the index of its group. */
typedef struct {
  gint64 starts_at;
  guint group;
} Candidate;

/* By start, then doctor id, then service id. */
static gint candidate_cmp(gconstpointer pa, gconstpointer pb, gpointer groups)
{
  const Candidate *a = pa, *b = pb;
  const SearchGroup *ga = &g_array_index((GArray *)groups, SearchGroup, a->group);
  const SearchGroup *gb = &g_array_index((GArray *)groups, SearchGroup, b->group);

  if (a->starts_at != b->starts_at)
    return a->starts_at < b->starts_at ? -1 : 1;
  if (ga->doctor_id != gb->doctor_id)
    return ga->doctor_id < gb->doctor_id ? -1 : 1;
  return ga->ctx.service->id < gb->ctx.service->id ? -1 : ga->ctx.service->id > gb->ctx.service->id;
}

GPtrArray *sched_slots_search(SchedStore *store, const SchedSlotQuery *query, GError **error)
{
  g_autoptr(GPtrArray) windows = NULL;
  g_autoptr(GPtrArray) all_breaks = NULL;
  g_autoptr(GPtrArray) all_closed = NULL;
  g_autoptr(GPtrArray) result = NULL;
  g_autoptr(GHashTable) services = NULL; /* id → SchedService (owned) */
  g_autoptr(GArray) groups = NULL;
  g_autoptr(GArray) starts = NULL;
  g_autoptr(GArray) found = NULL;
  g_autoptr(GHashTable) busy_by_doctor = NULL;
  gint64 now, from, to, chunk;
  guint limit;

  g_return_val_if_fail(store != NULL && query != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  now = resolve_now(query->now);
  if (!sched__valid_time(query->from)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "from", "required, a time in range");
    return NULL;
  }
  if (!sched__valid_time(query->to) || query->to <= query->from ||
      query->to - query->from > SLOT_RANGE_MAX_S) {
    sched__field_error(error, SCHED_ERROR_INVALID, "to", "after from, at most 366 days later");
    return NULL;
  }
  if (query->gender != NULL && !sched__in_set(query->gender, genders, G_N_ELEMENTS(genders))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "gender", "female, male or other");
    return NULL;
  }
  if (query->language != NULL && !valid_language(query->language)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "language", "a two-letter ISO 639-1 code");
    return NULL;
  }
  limit = query->limit == 0 ? 100 : MIN(query->limit, 1000);
  result = g_ptr_array_new_with_free_func((GDestroyNotify)sched_slot_free);
  from = MAX(query->from, now);
  to = query->to;
  if (to <= from)
    return g_steal_pointer(&result);

  /* Candidates: every window matching the filters, grouped by (doctor, service). */
  windows = BE(store)->availability_search(store->db, query, error);
  if (windows == NULL)
    return NULL;
  if (windows->len == 0)
    return g_steal_pointer(&result);
  all_breaks = BE(store)->break_list(store->db, 0, error);
  if (all_breaks == NULL)
    return NULL;
  all_closed = BE(store)->exception_list(store->db, 0, 0, from - 2 * DAY_S, to + 2 * DAY_S, error);
  if (all_closed == NULL)
    return NULL;
  services =
      g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, (GDestroyNotify)sched_service_free);
  groups = g_array_new(FALSE, TRUE, sizeof(SearchGroup));
  g_array_set_clear_func(groups, (GDestroyNotify)NULL);
  for (guint i = 0; i < windows->len; i++) {
    const SchedAvailability *a = g_ptr_array_index(windows, i);
    SearchGroup *g = groups->len > 0 ? &g_array_index(groups, SearchGroup, groups->len - 1) : NULL;
    SchedSlotWeekly w = weekly_of(a);

    if (g == NULL || g->doctor_id != a->doctor_id || g->ctx.service->id != a->service_id) {
      SearchGroup ng = {.doctor_id = a->doctor_id};
      SchedService *svc = g_hash_table_lookup(services, &a->service_id);

      if (svc == NULL) {
        svc = BE(store)->service_get(store->db, a->service_id, error);
        if (svc == NULL)
          goto fail;
        g_hash_table_insert(services, &svc->id, svc);
      }
      ng.ctx.service = svc; /* borrowed from `services` */
      ng.ctx.tz = facility_zone(store, svc->facility_id, error);
      if (ng.ctx.tz == NULL)
        goto fail;
      ng.ctx.windows = g_array_new(FALSE, FALSE, sizeof(SchedSlotWeekly));
      ng.ctx.breaks = g_array_new(FALSE, FALSE, sizeof(SchedSlotWeekly));
      ng.ctx.closed = g_array_new(FALSE, FALSE, sizeof(SchedSlotRange));
      for (guint k = 0; k < all_breaks->len; k++) {
        const SchedBreak *b = g_ptr_array_index(all_breaks, k);
        SchedSlotWeekly bw = {
            .weekday = b->weekday, .start_min = b->start_min, .end_min = b->end_min};
        if (b->doctor_id == a->doctor_id)
          g_array_append_val(ng.ctx.breaks, bw);
      }
      for (guint k = 0; k < all_closed->len; k++) {
        const SchedException *e = g_ptr_array_index(all_closed, k);
        SchedSlotRange r = {.start = e->starts_at, .end = e->ends_at};
        if (e->doctor_id == a->doctor_id ||
            (e->facility_id != 0 && e->facility_id == svc->facility_id))
          g_array_append_val(ng.ctx.closed, r);
      }
      g_array_append_val(groups, ng);
      g = &g_array_index(groups, SearchGroup, groups->len - 1);
    }
    g_array_append_val(g->ctx.windows, w);
  }

  /* Walk forward in chunks that double in length, so a query over a year that fills its limit
   * on the first day reads one day of appointments, not a year's. Chunks partition [from, to)
   * in time order, so once a chunk fills the limit no later chunk can contribute. Candidates
   * are plain (start, group) pairs; only the `limit` kept become SchedSlots. */
  starts = g_array_new(FALSE, FALSE, sizeof(gint64));
  found = g_array_new(FALSE, FALSE, sizeof(Candidate));
  busy_by_doctor =
      g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, (GDestroyNotify)g_array_unref);
  chunk = DAY_S;
  for (gint64 c0 = from; c0 < to && found->len < limit; c0 += chunk, chunk *= 2) {
    gint64 c1 = MIN(to, c0 + chunk);

    g_hash_table_remove_all(busy_by_doctor);
    for (guint i = 0; i < groups->len; i++) {
      SearchGroup *g = &g_array_index(groups, SearchGroup, i);
      GArray *busy = g_hash_table_lookup(busy_by_doctor, &g->doctor_id);

      if (busy == NULL) {
        busy = g_array_new(FALSE, FALSE, sizeof(SchedSlotBusy));
        g_hash_table_insert(busy_by_doctor, g_memdup2(&g->doctor_id, sizeof(gint64)), busy);
        if (!BE(store)->appointment_busy(store->db, g->doctor_id, c0 - 2 * DAY_S, c1 + 2 * DAY_S,
                                         now, 0, busy, error))
          goto fail;
      }
      g->ctx.busy = busy; /* borrowed for this chunk */
      spec_refresh(&g->ctx);
      g_array_set_size(starts, 0);
      sched__slots_generate(&g->ctx.spec, c0, c1, now, limit, starts);
      g->ctx.busy = NULL;
      for (guint k = 0; k < starts->len; k++) {
        Candidate cand = {.starts_at = g_array_index(starts, gint64, k), .group = i};
        g_array_append_val(found, cand);
      }
    }
  }
  g_array_sort_with_data(found, candidate_cmp, groups);
  for (guint k = 0; k < found->len && k < limit; k++) {
    const Candidate *cand = &g_array_index(found, Candidate, k);
    const SearchGroup *g = &g_array_index(groups, SearchGroup, cand->group);
    SchedSlot *slot = g_new0(SchedSlot, 1);

    slot->doctor_id = g->doctor_id;
    slot->service_id = g->ctx.service->id;
    slot->facility_id = g->ctx.service->facility_id;
    slot->starts_at = cand->starts_at;
    slot->ends_at = slot->starts_at + g->ctx.spec.duration_s;
    slot->id = sched_slot_id(slot->doctor_id, slot->service_id, slot->starts_at);
    g_ptr_array_add(result, slot);
  }
  for (guint i = 0; i < groups->len; i++) {
    SearchGroup *g = &g_array_index(groups, SearchGroup, i);
    g->ctx.service = NULL; /* owned by `services` */
    slot_ctx_clear(&g->ctx);
  }
  return g_steal_pointer(&result);

fail:
  for (guint i = 0; groups != NULL && i < groups->len; i++) {
    SearchGroup *g = &g_array_index(groups, SearchGroup, i);
    g->ctx.service = NULL;
    g->ctx.busy = NULL;
    slot_ctx_clear(&g->ctx);
  }
  return NULL;
}

/* --- Holds and bookings ------------------------------------------------------------------------
 */

static gboolean lapse_holds(SchedStore *s, gint64 doctor_id, gint64 now, gboolean reoffer,
                            guint *count, GError **error);

/* Validates a booking request's shape (before any transaction). */
static gboolean check_request(const SchedBookingRequest *r, GError **error)
{
  if (r->doctor_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "doctor_id", "no doctor %" G_GINT64_FORMAT,
                       r->doctor_id);
    return FALSE;
  }
  if (r->service_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "service_id", "no service %" G_GINT64_FORMAT,
                       r->service_id);
    return FALSE;
  }
  if (r->patient_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "patient_id", "no patient %" G_GINT64_FORMAT,
                       r->patient_id);
    return FALSE;
  }
  if (!sched__valid_time(r->starts_at)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "starts_at", "time out of range");
    return FALSE;
  }
  return TRUE;
}

/* The body of hold and book (inside a transaction): re-checks the slot and inserts the
 * appointment as `status` ("pending" with a hold, or "booked"). Returns its id or 0. */
static gint64 take_slot(SchedStore *s, const SchedBookingRequest *r, const char *status, gint64 now,
                        SchedAppointment **taken, GError **error)
{
  g_autoptr(SchedDoctor) doctor = NULL;
  g_autoptr(SchedPatient) patient = NULL;
  g_autoptr(SchedService) service = NULL;
  g_autoptr(GError) local_error = NULL;
  SchedAppointment a = {0};
  gint64 id;

  doctor = get_doctor(s, r->doctor_id, error);
  if (doctor == NULL)
    return 0;
  service = get_service(s, r->service_id, error);
  if (service == NULL)
    return 0;
  patient = get_patient(s, r->patient_id, error);
  if (patient == NULL)
    return 0;
  /* A lapsed hold on this very start would trip the one-per-slot index. */
  if (!lapse_holds(s, r->doctor_id, now, FALSE, NULL, error))
    return 0;
  if (!check_slot(s, r->doctor_id, service, r->starts_at, now, 0, error))
    return 0;
  a.doctor_id = r->doctor_id;
  a.patient_id = r->patient_id;
  a.service_id = service->id;
  a.facility_id = service->facility_id;
  a.starts_at = r->starts_at;
  a.ends_at = r->starts_at + (gint64)service->duration_min * 60;
  a.status = (char *)status;
  a.kind = "booked";
  a.hold_expires_at = g_str_equal(status, "pending") ? now + s->policy.hold_s : 0;
  id = BE(s)->appointment_insert_full(s->db, &a, (gint64)service->buffer_before_min * 60,
                                      (gint64)service->buffer_after_min * 60, now, &local_error);
  if (g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_CONFLICT)) {
    sched__field_error(error, SCHED_ERROR_CONFLICT, "starts_at", "slot taken");
    return 0;
  }
  if (id == 0) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    return 0;
  }
  if (taken != NULL) {
    *taken = BE(s)->appointment_get(s->db, id, error);
    if (*taken == NULL)
      return 0;
  }
  return id;
}

gint64 sched_appointment_hold(SchedStore *store, const SchedBookingRequest *request, gint64 now,
                              GError **error)
{
  gint64 id = 0;

  g_return_val_if_fail(store != NULL && request != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  now = resolve_now(now);
  if (!check_request(request, error) || !BE(store)->begin(store->db, error))
    return 0;
  id = take_slot(store, request, "pending", now, NULL, error);
  if (!tx_end(store, id > 0, error))
    return 0;
  g_info("appointment %" G_GINT64_FORMAT " held (doctor %" G_GINT64_FORMAT ")", id,
         request->doctor_id);
  return id;
}

/* Confirms inside a transaction: pending → booked, token, notice, waitlist entry booked. */
static char *confirm_in_tx(SchedStore *s, SchedAppointment *a, gint64 now, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(SchedWaitlistEntry) entry = NULL;
  char *token;

  g_free(a->status);
  a->status = g_strdup("booked");
  a->hold_expires_at = 0;
  if (!BE(s)->appointment_put(s->db, a, now, error))
    return NULL;
  token = issue_patient_token(s, a->id, now, error);
  if (token == NULL)
    return NULL;
  if (!queue_notice_seq(s, "confirmation", a, token, now, NULL, error))
    goto fail;
  entry = BE(s)->waitlist_find_offer(s->db, a->id, &local_error);
  if (entry != NULL) {
    if (!BE(s)->waitlist_update(s->db, entry->id, "booked", a->id, now, error))
      goto fail;
  } else if (!g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND)) {
    g_propagate_error(error, g_steal_pointer(&local_error));
    goto fail;
  }
  return token;
fail:
  sodium_memzero(token, strlen(token));
  g_free(token);
  return NULL;
}

gboolean sched_appointment_confirm(SchedStore *store, gint64 appointment_id, gint64 now,
                                   char **patient_token, GError **error)
{
  g_autoptr(SchedAppointment) a = NULL;
  char *token = NULL;

  if (patient_token != NULL)
    *patient_token = NULL;
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  now = resolve_now(now);
  if (!BE(store)->begin(store->db, error))
    return FALSE;
  a = get_appointment(store, appointment_id, error);
  if (a == NULL)
    goto out;
  if (g_strcmp0(a->status, "pending") != 0) {
    sched__field_error(error, SCHED_ERROR_CONFLICT, "status", "the appointment is %s, not pending",
                       a->status);
    goto out;
  }
  if (a->hold_expires_at <= now) {
    sched__field_error(error, SCHED_ERROR_CONFLICT, "hold_expires_at", "hold expired");
    goto out;
  }
  token = confirm_in_tx(store, a, now, error);
out:
  if (!tx_end(store, token != NULL, error)) {
    hand_token(token, NULL);
    return FALSE;
  }
  g_info("appointment %" G_GINT64_FORMAT " confirmed", appointment_id);
  hand_token(token, patient_token);
  return TRUE;
}

gint64 sched_appointment_book_slot(SchedStore *store, const SchedBookingRequest *request,
                                   gint64 now, char **patient_token, GError **error)
{
  g_autoptr(SchedAppointment) a = NULL;
  char *token = NULL;
  gint64 id;

  if (patient_token != NULL)
    *patient_token = NULL;
  g_return_val_if_fail(store != NULL && request != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  now = resolve_now(now);
  if (!check_request(request, error) || !BE(store)->begin(store->db, error))
    return 0;
  id = take_slot(store, request, "pending", now, &a, error);
  if (id > 0)
    token = confirm_in_tx(store, a, now, error);
  if (!tx_end(store, token != NULL, error)) {
    hand_token(token, NULL);
    return 0;
  }
  g_info("appointment %" G_GINT64_FORMAT " booked (doctor %" G_GINT64_FORMAT ")", id,
         request->doctor_id);
  hand_token(token, patient_token);
  return id;
}

/* Offers a freed slot to the first matching waitlist entry (inside a transaction): a pending
 * hold for policy.offer_s and a "waitlist_offer" notice. Nothing happens if no one waits, the
 * slot is past, or it is no longer free. */
static gboolean offer_slot(SchedStore *s, gint64 doctor_id, gint64 service_id, gint64 starts_at,
                           gint64 exclude_patient_id, gint64 now, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(SchedWaitlistEntry) entry = NULL;
  g_autoptr(SchedService) service = NULL;
  g_autoptr(SchedAppointment) offered = NULL;
  SchedAppointment a = {0};
  gint64 id;

  if (service_id <= 0 || starts_at <= now)
    return TRUE;
  entry = BE(s)->waitlist_first_match(s->db, service_id, doctor_id, starts_at, exclude_patient_id,
                                      &local_error);
  if (entry == NULL) {
    if (g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
      return TRUE;
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  service = BE(s)->service_get(s->db, service_id, error);
  if (service == NULL)
    return FALSE;
  if (!check_slot(s, doctor_id, service, starts_at, now, 0, &local_error)) {
    if (local_error->code == SCHED_ERROR_DB) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return FALSE;
    }
    return TRUE; /* not free after all (another booking overlaps): no offer */
  }
  a.doctor_id = doctor_id;
  a.patient_id = entry->patient_id;
  a.service_id = service_id;
  a.facility_id = service->facility_id;
  a.starts_at = starts_at;
  a.ends_at = starts_at + (gint64)service->duration_min * 60;
  a.status = "pending";
  a.kind = "booked";
  a.hold_expires_at = now + s->policy.offer_s;
  id = BE(s)->appointment_insert_full(s->db, &a, (gint64)service->buffer_before_min * 60,
                                      (gint64)service->buffer_after_min * 60, now, error);
  if (id == 0)
    return FALSE;
  if (!BE(s)->waitlist_update(s->db, entry->id, "offered", id, now, error))
    return FALSE;
  offered = BE(s)->appointment_get(s->db, id, error);
  if (offered == NULL)
    return FALSE;
  {
    g_autofree char *key = g_strdup_printf("waitlist_offer:%" G_GINT64_FORMAT, id);
    if (!queue_notice(s, "waitlist_offer", offered, NULL, key, now, NULL, error))
      return FALSE;
  }
  g_info("waitlist entry %" G_GINT64_FORMAT " offered appointment %" G_GINT64_FORMAT, entry->id,
         id);
  return TRUE;
}

/* If `a` was a waitlist offer, puts its entry back to waiting (inside a transaction). */
static gboolean release_offer(SchedStore *s, const SchedAppointment *a, gint64 now, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(SchedWaitlistEntry) entry = BE(s)->waitlist_find_offer(s->db, a->id, &local_error);

  if (entry == NULL) {
    if (g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND))
      return TRUE;
    g_propagate_error(error, g_steal_pointer(&local_error));
    return FALSE;
  }
  if (g_strcmp0(entry->status, "offered") != 0)
    return TRUE;
  return BE(s)->waitlist_update(s->db, entry->id, "waiting", 0, now, error);
}

static gboolean lapse_holds(SchedStore *s, gint64 doctor_id, gint64 now, gboolean reoffer,
                            guint *count, GError **error)
{
  g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));

  if (!BE(s)->appointment_lapsed_holds(s->db, doctor_id, now, ids, error))
    return FALSE;
  for (guint i = 0; i < ids->len; i++) {
    g_autoptr(SchedAppointment) a =
        BE(s)->appointment_get(s->db, g_array_index(ids, gint64, i), error);
    if (a == NULL)
      return FALSE;
    g_free(a->status);
    a->status = g_strdup("cancelled");
    g_free(a->cancel_reason);
    a->cancel_reason = g_strdup("hold expired");
    if (!BE(s)->appointment_put(s->db, a, now, error) || !release_offer(s, a, now, error))
      return FALSE;
    if (reoffer &&
        !offer_slot(s, a->doctor_id, a->service_id, a->starts_at, a->patient_id, now, error))
      return FALSE;
  }
  if (count != NULL)
    *count = ids->len;
  return TRUE;
}

gboolean sched_appointment_cancel(SchedStore *store, gint64 appointment_id, const char *reason,
                                  gint64 now, GError **error)
{
  static const char *const cancellable[] = {"proposed", "pending",    "booked",
                                            "arrived",  "checked-in", "waitlist"};
  g_autoptr(SchedAppointment) a = NULL;
  gboolean ok = FALSE, was_hold;

  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  now = resolve_now(now);
  if (!valid_optional_text(reason)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "reason", "1 to %d bytes of UTF-8",
                       SCHED_NAME_MAX_BYTES);
    return FALSE;
  }
  if (!BE(store)->begin(store->db, error))
    return FALSE;
  a = get_appointment(store, appointment_id, error);
  if (a == NULL)
    goto out;
  if (!sched__in_set(a->status, cancellable, G_N_ELEMENTS(cancellable))) {
    sched__field_error(error, SCHED_ERROR_CONFLICT, "status", "the appointment is %s", a->status);
    goto out;
  }
  was_hold = g_str_equal(a->status, "pending");
  g_free(a->status);
  a->status = g_strdup("cancelled");
  g_free(a->cancel_reason);
  a->cancel_reason = g_strdup(reason);
  a->hold_expires_at = 0;
  if (!BE(store)->appointment_put(store->db, a, now, error))
    goto out;
  if (!was_hold && !queue_notice_seq(store, "cancellation", a, NULL, now, NULL, error))
    goto out;
  if (was_hold && !release_offer(store, a, now, error))
    goto out;
  if (g_strcmp0(a->kind, "booked") == 0 &&
      !offer_slot(store, a->doctor_id, a->service_id, a->starts_at, a->patient_id, now, error))
    goto out;
  ok = TRUE;
out:
  if (!tx_end(store, ok, error))
    return FALSE;
  g_info("appointment %" G_GINT64_FORMAT " cancelled", appointment_id);
  return TRUE;
}

gboolean sched_appointment_reschedule(SchedStore *store, gint64 appointment_id,
                                      gint64 new_starts_at, gint64 now, GError **error)
{
  g_autoptr(SchedAppointment) a = NULL;
  g_autoptr(SchedService) service = NULL;
  gboolean ok = FALSE, booked;
  gint64 old_starts_at;

  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  now = resolve_now(now);
  if (!sched__valid_time(new_starts_at)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "starts_at", "time out of range");
    return FALSE;
  }
  if (!BE(store)->begin(store->db, error))
    return FALSE;
  a = get_appointment(store, appointment_id, error);
  if (a == NULL)
    goto out;
  booked = g_strcmp0(a->status, "booked") == 0;
  if (g_strcmp0(a->kind, "booked") != 0 || (!booked && g_strcmp0(a->status, "pending") != 0)) {
    sched__field_error(error, SCHED_ERROR_CONFLICT, "status",
                       "only a booked or held appointment can move (it is %s %s)", a->kind,
                       a->status);
    goto out;
  }
  if (a->service_id <= 0) {
    sched__field_error(error, SCHED_ERROR_INVALID, "service_id",
                       "booked without a service: cancel and book instead");
    goto out;
  }
  service = BE(store)->service_get(store->db, a->service_id, error);
  if (service == NULL)
    goto out;
  if (!lapse_holds(store, a->doctor_id, now, FALSE, NULL, error) ||
      !check_slot(store, a->doctor_id, service, new_starts_at, now, a->id, error))
    goto out;
  old_starts_at = a->starts_at;
  a->starts_at = new_starts_at;
  a->ends_at = new_starts_at + (gint64)service->duration_min * 60;
  a->sequence++;
  if (!BE(store)->appointment_put(store->db, a, now, error))
    goto out;
  if (booked && !queue_notice_seq(store, "rescheduled", a, NULL, now, NULL, error))
    goto out;
  if (!offer_slot(store, a->doctor_id, a->service_id, old_starts_at, a->patient_id, now, error))
    goto out;
  ok = TRUE;
out:
  if (!tx_end(store, ok, error))
    return FALSE;
  g_info("appointment %" G_GINT64_FORMAT " rescheduled (sequence %" G_GINT64_FORMAT ")",
         appointment_id, a->sequence);
  return TRUE;
}

gboolean sched_appointment_check_in(SchedStore *store, gint64 appointment_id, gint64 now,
                                    GError **error)
{
  g_autoptr(SchedAppointment) a = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  now = resolve_now(now);
  if (!BE(store)->begin(store->db, error))
    return FALSE;
  a = get_appointment(store, appointment_id, error);
  if (a == NULL)
    goto out;
  if (g_strcmp0(a->status, "checked-in") == 0) {
    ok = TRUE;
    goto out;
  }
  if (g_strcmp0(a->status, "booked") != 0 && g_strcmp0(a->status, "arrived") != 0) {
    sched__field_error(error, SCHED_ERROR_CONFLICT, "status", "the appointment is %s", a->status);
    goto out;
  }
  g_free(a->status);
  a->status = g_strdup("checked-in");
  ok = BE(store)->appointment_put(store->db, a, now, error);
out:
  if (!tx_end(store, ok, error))
    return FALSE;
  g_info("appointment %" G_GINT64_FORMAT " checked in", appointment_id);
  return TRUE;
}

/* --- Walk-ins and the day's queue ------------------------------------------------------------ */

static GTimeZone *doctor_zone(SchedStore *s, const SchedDoctor *d, GError **error)
{
  return facility_zone(s, d->facility_id, error);
}

gint64 sched_walkin_add(SchedStore *store, gint64 doctor_id, gint64 patient_id, gint64 service_id,
                        gint64 now, char **patient_token, GError **error)
{
  g_autoptr(SchedDoctor) doctor = NULL;
  g_autoptr(SchedPatient) patient = NULL;
  g_autoptr(SchedService) service = NULL;
  SchedAppointment a = {0};
  char *token = NULL;
  gint64 id = 0, day_start, day_end, n;
  GTimeZone *tz;

  if (patient_token != NULL)
    *patient_token = NULL;
  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  now = resolve_now(now);
  if (!BE(store)->begin(store->db, error))
    return 0;
  doctor = get_doctor(store, doctor_id, error);
  if (doctor == NULL)
    goto out;
  patient = get_patient(store, patient_id, error);
  if (patient == NULL)
    goto out;
  if (service_id != 0 && (service = get_service(store, service_id, error)) == NULL)
    goto out;
  tz = doctor_zone(store, doctor, error);
  if (tz == NULL)
    goto out;
  sched__local_day(tz, now, &day_start, &day_end);
  n = BE(store)->appointment_count_kind(store->db, doctor_id, "walkin", day_start, day_end, error);
  if (n < 0)
    goto out;
  a.doctor_id = doctor_id;
  a.patient_id = patient_id;
  a.service_id = service != NULL ? service->id : 0;
  a.facility_id = service != NULL ? service->facility_id : doctor->facility_id;
  a.starts_at = now;
  a.ends_at =
      now + (service != NULL ? (gint64)service->duration_min * 60 : WALKIN_DEFAULT_DURATION_S);
  a.status = "arrived";
  a.kind = "walkin";
  a.queue_number = n + 1;
  id = BE(store)->appointment_insert_full(store->db, &a, 0, 0, now, error);
  if (id == 0)
    goto out;
  token = issue_patient_token(store, id, now, error);
  if (token == NULL)
    id = 0;
out:
  if (!tx_end(store, id > 0, error)) {
    hand_token(token, NULL);
    return 0;
  }
  g_info("walk-in %" G_GINT64_FORMAT " queued (doctor %" G_GINT64_FORMAT
         ", number %" G_GINT64_FORMAT ")",
         id, doctor_id, a.queue_number);
  hand_token(token, patient_token);
  return id;
}

static gint queue_cmp(gconstpointer pa, gconstpointer pb)
{
  const SchedAppointment *x = *(SchedAppointment *const *)pa;
  const SchedAppointment *y = *(SchedAppointment *const *)pb;
  gboolean xw = g_strcmp0(x->kind, "walkin") == 0, yw = g_strcmp0(y->kind, "walkin") == 0;

  if (x->starts_at != y->starts_at)
    return x->starts_at < y->starts_at ? -1 : 1;
  if (xw != yw)
    return xw ? 1 : -1; /* a walk-in issued at a booked start queues after it */
  if (x->queue_number != y->queue_number)
    return x->queue_number < y->queue_number ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static GPtrArray *day_queue(SchedStore *s, gint64 doctor_id, gint64 day_at, GError **error)
{
  g_autoptr(SchedDoctor) doctor = get_doctor(s, doctor_id, error);
  g_autoptr(GPtrArray) all = NULL;
  GPtrArray *queue;
  SchedAppointmentFilter f = {.doctor_id = doctor_id, .limit = 5000};
  GTimeZone *tz;

  if (doctor == NULL)
    return NULL;
  tz = doctor_zone(s, doctor, error);
  if (tz == NULL)
    return NULL;
  sched__local_day(tz, day_at, &f.from, &f.to);
  all = BE(s)->appointment_search(s->db, &f, error);
  if (all == NULL)
    return NULL;
  queue = g_ptr_array_new_with_free_func((GDestroyNotify)sched_appointment_free);
  for (guint i = 0; i < all->len; i++) {
    SchedAppointment *a = g_ptr_array_index(all, i);
    if (g_strcmp0(a->status, "booked") == 0 || g_strcmp0(a->status, "arrived") == 0 ||
        g_strcmp0(a->status, "checked-in") == 0)
      g_ptr_array_add(queue, g_ptr_array_steal_index(all, i--));
  }
  g_ptr_array_sort(queue, queue_cmp);
  return queue;
}

GPtrArray *sched_day_queue(SchedStore *store, gint64 doctor_id, gint64 day_at, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (!sched__valid_time(day_at)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "day_at", "time out of range");
    return NULL;
  }
  return day_queue(store, doctor_id, day_at, error);
}

gboolean sched__queue_notify_next(SchedStore *store, gint64 appointment_id, gint64 now,
                                  GError **error)
{
  g_autoptr(SchedAppointment) current = NULL;
  g_autoptr(GPtrArray) queue = NULL;

  current = BE(store)->appointment_get(store->db, appointment_id, error);
  if (current == NULL)
    return FALSE;
  queue = day_queue(store, current->doctor_id, current->starts_at, error);
  if (queue == NULL)
    return FALSE;
  for (guint i = 0; i < queue->len; i++) {
    const SchedAppointment *a = g_ptr_array_index(queue, i);
    g_autoptr(GError) local_error = NULL;
    g_autoptr(SchedConsultation) c = NULL;

    if (a->id == appointment_id)
      continue;
    c = BE(store)->consultation_get(store->db, a->id, &local_error);
    if (c == NULL && !g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND)) {
      g_propagate_error(error, g_steal_pointer(&local_error));
      return FALSE;
    }
    if (c != NULL && c->started_at != 0)
      continue;
    return queue_notice_seq(store, "you_are_next", a, NULL, now, NULL, error);
  }
  return TRUE;
}

/* --- Waitlist ----------------------------------------------------------------------------------
 */

gint64 sched_waitlist_add(SchedStore *store, gint64 patient_id, gint64 service_id, gint64 doctor_id,
                          gint64 not_before, gint64 not_after, gint64 now, GError **error)
{
  g_autoptr(SchedPatient) patient = NULL;
  g_autoptr(SchedService) service = NULL;
  SchedWaitlistEntry e = {.patient_id = patient_id,
                          .service_id = service_id,
                          .doctor_id = MAX(doctor_id, 0),
                          .not_before = MAX(not_before, 0),
                          .not_after = MAX(not_after, 0)};
  gint64 id = 0;

  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  now = resolve_now(now);
  if (e.not_before != 0 && !sched__valid_time(e.not_before)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "not_before", "time out of range");
    return 0;
  }
  if (e.not_after != 0 && (!sched__valid_time(e.not_after) || e.not_after <= e.not_before)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "not_after", "after not_before, in range");
    return 0;
  }
  if (!BE(store)->begin(store->db, error))
    return 0;
  patient = get_patient(store, patient_id, error);
  if (patient == NULL)
    goto out;
  service = get_service(store, service_id, error);
  if (service == NULL)
    goto out;
  if (e.doctor_id > 0) {
    g_autoptr(SchedDoctor) doctor = get_doctor(store, e.doctor_id, error);
    if (doctor == NULL)
      goto out;
  }
  id = BE(store)->waitlist_insert(store->db, &e, now, error);
out:
  if (!tx_end(store, id > 0, error))
    return 0;
  g_info("waitlist entry %" G_GINT64_FORMAT " added (service %" G_GINT64_FORMAT ")", id,
         service_id);
  return id;
}

GPtrArray *sched_waitlist_list(SchedStore *store, gint64 service_id, const char *status,
                               GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (status != NULL &&
      !sched__in_set(status, waitlist_statuses, G_N_ELEMENTS(waitlist_statuses))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "status", "waiting, offered, booked or removed");
    return NULL;
  }
  return BE(store)->waitlist_list(store->db, MAX(service_id, 0), status, error);
}

gboolean sched_waitlist_remove(SchedStore *store, gint64 waitlist_id, GError **error)
{
  g_autoptr(SchedWaitlistEntry) e = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  if (!BE(store)->begin(store->db, error))
    return FALSE;
  e = waitlist_id > 0 ? BE(store)->waitlist_get(store->db, waitlist_id, error) : NULL;
  if (e == NULL) {
    if (waitlist_id <= 0)
      sched__field_error(error, SCHED_ERROR_NOT_FOUND, "waitlist_id", "no such entry");
    goto out;
  }
  ok = BE(store)->waitlist_update(store->db, waitlist_id, "removed", e->offered_appointment_id,
                                  sched__now_s(), error);
out:
  return tx_end(store, ok, error);
}

/* --- Periodic jobs -----------------------------------------------------------------------------
 */

gboolean sched_holds_expire(SchedStore *store, gint64 now, guint *count, GError **error)
{
  guint n = 0;
  gboolean ok;

  if (count != NULL)
    *count = 0;
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  now = resolve_now(now);
  if (!BE(store)->begin(store->db, error))
    return FALSE;
  ok = lapse_holds(store, 0, now, TRUE, &n, error);
  if (!tx_end(store, ok, error))
    return FALSE;
  if (n > 0)
    g_info("%u holds lapsed", n);
  if (count != NULL)
    *count = n;
  return TRUE;
}

gboolean sched_appointments_mark_noshow(SchedStore *store, gint64 now, guint *count, GError **error)
{
  g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
  gboolean ok = FALSE;

  if (count != NULL)
    *count = 0;
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  now = resolve_now(now);
  if (!BE(store)->begin(store->db, error))
    return FALSE;
  if (!BE(store)->appointment_ids_by_status(store->db, "booked", 1,
                                            now - store->policy.noshow_after_s + 1, ids, error))
    goto out;
  for (guint i = 0; i < ids->len; i++) {
    g_autoptr(SchedAppointment) a =
        BE(store)->appointment_get(store->db, g_array_index(ids, gint64, i), error);
    if (a == NULL)
      goto out;
    g_free(a->status);
    a->status = g_strdup("noshow");
    if (!BE(store)->appointment_put(store->db, a, now, error))
      goto out;
  }
  ok = TRUE;
out:
  if (!tx_end(store, ok, error))
    return FALSE;
  if (ids->len > 0)
    g_info("%u appointments marked no-show", ids->len);
  if (count != NULL)
    *count = ids->len;
  return TRUE;
}

gboolean sched_reminders_queue(SchedStore *store, gint64 now, guint *count, GError **error)
{
  g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
  gboolean ok = FALSE;
  guint n = 0;

  if (count != NULL)
    *count = 0;
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  now = resolve_now(now);
  if (!BE(store)->begin(store->db, error))
    return FALSE;
  if (!BE(store)->appointment_ids_by_status(store->db, "booked", now + 1, now + DAY_S + 1, ids,
                                            error))
    goto out;
  for (guint i = 0; i < ids->len; i++) {
    g_autoptr(SchedAppointment) a =
        BE(store)->appointment_get(store->db, g_array_index(ids, gint64, i), error);
    gboolean inserted = FALSE;

    if (a == NULL)
      goto out;
    if (a->starts_at - now > 15 * 60) {
      if (!queue_notice_seq(store, "reminder_day", a, NULL, now, &inserted, error))
        goto out;
    } else if (!queue_notice_seq(store, "reminder_15min", a, NULL, now, &inserted, error)) {
      goto out;
    }
    n += inserted;
  }
  ok = TRUE;
out:
  if (!tx_end(store, ok, error))
    return FALSE;
  if (count != NULL)
    *count = n;
  return TRUE;
}

gboolean sched_link_resend(SchedStore *store, const char *phone, gint64 now, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(SchedAppointment) a = NULL;
  g_autofree char *digits = NULL;
  g_autofree char *key = NULL;
  char *token = NULL;
  gboolean ok = FALSE, inserted = FALSE;

  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  now = resolve_now(now);
  if (!sched__valid_phone(phone)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "phone",
                       "a phone number is up to %d digits, '+', spaces, '-' or parentheses",
                       SCHED_PHONE_MAX_BYTES);
    return FALSE;
  }
  digits = digits_of(phone);
  if (!BE(store)->begin(store->db, error))
    return FALSE;
  a = BE(store)->appointment_next_for_phone(store->db, digits, now, &local_error);
  if (a == NULL) {
    ok = g_error_matches(local_error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND);
    if (!ok)
      g_propagate_error(error, g_steal_pointer(&local_error));
    BE(store)->rollback(store->db);
    return ok; /* unknown phone: the same TRUE as a known one */
  }
  token = issue_patient_token(store, a->id, now, error);
  if (token == NULL)
    goto out;
  key = g_strdup_printf("link_resend:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, a->id, now / 60);
  if (!queue_notice(store, "link_resend", a, token, key, now, &inserted, error))
    goto out;
  ok = TRUE;
out:
  hand_token(token, NULL);
  /* A resend within the same minute: keep nothing (not even the new token). */
  if (ok && !inserted) {
    BE(store)->rollback(store->db);
    return TRUE;
  }
  if (!tx_end(store, ok, error))
    return FALSE;
  g_info("join link resent for appointment %" G_GINT64_FORMAT, a->id);
  return TRUE;
}

/* --- Outbox ------------------------------------------------------------------------------------
 */

GPtrArray *sched_outbox_claim(SchedStore *store, gint64 now, guint max, gint64 lease_s,
                              GError **error)
{
  GPtrArray *items;

  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  now = resolve_now(now);
  if (max < 1 || max > 1000) {
    sched__field_error(error, SCHED_ERROR_INVALID, "max", "1 to 1000");
    return NULL;
  }
  if (lease_s <= 0 || lease_s > DAY_S) {
    sched__field_error(error, SCHED_ERROR_INVALID, "lease_s", "1 s to a day");
    return NULL;
  }
  /* A notice queued by a batch's booking must not be sent before the batch commits: claim
   * nothing now; the next drain picks it up. */
  if (BE(store)->batch_pending(store->db))
    return g_ptr_array_new_with_free_func((GDestroyNotify)sched_outbox_item_free);
  if (!BE(store)->begin(store->db, error))
    return NULL;
  items = BE(store)->outbox_claim(store->db, now, max, lease_s, error);
  if (!tx_end(store, items != NULL, error)) {
    if (items != NULL)
      g_ptr_array_unref(items);
    return NULL;
  }
  return items;
}

gboolean sched_outbox_done(SchedStore *store, gint64 outbox_id, gint64 now, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  return BE(store)->outbox_done(store->db, outbox_id, resolve_now(now), error);
}

gboolean sched_outbox_failed(SchedStore *store, gint64 outbox_id, gint64 now,
                             const char *error_text, gint64 retry_at, GError **error)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  if (error_text != NULL) {
    const char *end = NULL;
    gsize len = strlen(error_text);

    g_utf8_validate(error_text, MIN(len, 200), &end);
    text = g_strndup(error_text, end - error_text);
  }
  return BE(store)->outbox_failed(store->db, outbox_id, resolve_now(now), text, retry_at, error);
}

GPtrArray *sched_outbox_list(SchedStore *store, gint64 appointment_id, guint limit, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  return BE(store)->outbox_list(store->db, MAX(appointment_id, 0),
                                limit == 0 ? 500 : MIN(limit, 5000), error);
}
