/* main.c — the composition root of `mashwara`: reads the configuration, opens the scheduler's
 * database, starts the relay and the signaling server on one GLib main loop, and runs until
 * SIGINT/SIGTERM. `mashwara admin …` is the operator's command line against the same
 * database. Nothing here knows a protocol; it only wires the modules together. */
#define G_LOG_DOMAIN "mashwara"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mw-config.h"
#include "mw-demo.h"
#include "mw-jobs.h"
#include "mw-privs.h"
#include "mw-tls.h"
#include "notify.h"
#include "scheduler.h"
#include "sfu.h"
#include "sig.h"

/* --- admin ------------------------------------------------------------------------------- */

static gint64 parse_time(const char *s, gboolean *ok)
{
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  char *end = NULL;
  *ok = TRUE;
  if (!s || g_strcmp0(s, "now") == 0)
    return now;
  gint64 v = g_ascii_strtoll(s, &end, 10);
  if (!end || *end || end == s) {
    *ok = FALSE;
    return 0;
  }
  return (s[0] == '+' || s[0] == '-') ? now + v : v;
}

static int admin_fail(const char *message)
{
  g_printerr("mashwara admin: %s\n", message);
  return 2;
}

/* "HH:MM" or a number of minutes after midnight; -1 if malformed. */
static int parse_minutes(const char *s)
{
  unsigned h, m;
  char tail;

  if (s == NULL)
    return -1;
  if (sscanf(s, "%u:%u%c", &h, &m, &tail) == 2)
    return h <= 24 && m < 60 && h * 60 + m <= 1440 ? (int)(h * 60 + m) : -1;
  if (sscanf(s, "%u%c", &m, &tail) == 1)
    return m <= 1440 ? (int)m : -1;
  return -1;
}

/* Prints a scheduler error as the API does: {"error", "field", "message"} on stderr. */
static int admin_error(const GError *error)
{
  g_autofree char *field = sched_error_field(error);
  g_autofree char *message = g_strescape(error->message, NULL);

  g_printerr("{\"error\":%d,\"field\":%s%s%s,\"message\":\"%s\"}\n", error->code, field ? "\"" : "",
             field ? field : "null", field ? "\"" : "", message);
  return 2;
}

/* The staff id of a doctor given by username or numeric id. */
static gint64 admin_doctor(SchedStore *store, const char *doctor, GError **error)
{
  guint64 id;

  if (doctor == NULL) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_INVALID, "doctor_id: --doctor is required");
    return 0;
  }
  if (g_ascii_string_to_unsigned(doctor, 10, 1, G_MAXINT64, &id, NULL))
    return (gint64)id;
  g_autoptr(SchedStaff) staff = sched_staff_find(store, doctor, error);
  if (!staff)
    return 0;
  if (g_strcmp0(staff->role, "doctor") != 0) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_NOT_FOUND, "doctor_id: not a doctor");
    return 0;
  }
  return staff->id;
}

/* Ends an audited unit opened around an operator's write: actor "operator", address "cli". */
static gboolean admin_audit_commit(SchedStore *store, const char *action, const char *object_type,
                                   gint64 object_id, GError **error)
{
  SchedAuditEntry e = {.actor_kind = "operator",
                       .action = action,
                       .object_type = object_type,
                       .object_id = object_id,
                       .address = "cli",
                       .outcome = "ok"};
  return sched_audit_unit_commit(store, &e, error);
}

static int admin_main(int argc, char **argv)
{
  g_autofree char *db = NULL, *username = NULL, *name = NULL, *password = NULL, *phone = NULL;
  g_autofree char *doctor = NULL, *start = NULL, *public_url = NULL;
  g_autofree char *district = NULL, *sector = NULL, *timezone = NULL, *specialty = NULL;
  g_autofree char *role = NULL, *languages = NULL, *gender = NULL, *from_s = NULL, *to_s = NULL;
  g_autofree char *end_at = NULL, *valid_from = NULL, *valid_until = NULL;
  g_autofree char *reason = NULL, *language = NULL, *at_s = NULL, *sex = NULL;
  int birth_year = -1, seed = 1, per_day = 6, patients = 400;
  gint64 patient = 0, facility = 0, service = 0, appointment = 0;
  gboolean now_flag = FALSE, dry_run = FALSE;
  int days = SCHED_RETENTION_DAYS_DEFAULT;
  int minutes = 15, duration = 0, buffer_before = 0, buffer_after = 0, max_per_day = 0;
  int weekday = 0;
  GOptionEntry entries[] = {
      {"db", 0, 0, G_OPTION_ARG_FILENAME, &db, "SQLite database file", "PATH"},
      {"username", 0, 0, G_OPTION_ARG_STRING, &username, "add-doctor/add-staff: login name", "U"},
      {"name", 0, 0, G_OPTION_ARG_STRING, &name, "display name (staff, patient, facility, service)",
       "N"},
      {"password", 0, 0, G_OPTION_ARG_STRING, &password, "add-doctor/add-staff: password", "P"},
      {"role", 0, 0, G_OPTION_ARG_STRING, &role, "add-staff: doctor, admin or analyst", "R"},
      {"phone", 0, 0, G_OPTION_ARG_STRING, &phone, "add-patient: phone number", "P"},
      {"language", 0, 0, G_OPTION_ARG_STRING, &language, "add-patient: preferred language", "L"},
      {"sex", 0, 0, G_OPTION_ARG_STRING, &sex, "add-patient: female, male or other", "S"},
      {"birth-year", 0, 0, G_OPTION_ARG_INT, &birth_year, "add-patient: e.g. 1984", "Y"},
      {"seed", 0, 0, G_OPTION_ARG_INT, &seed, "seed-history: random seed (1)", "N"},
      {"per-day", 0, 0, G_OPTION_ARG_INT, &per_day, "seed-history: visits a day (6)", "N"},
      {"patients", 0, 0, G_OPTION_ARG_INT, &patients, "seed-history: patients (400)", "N"},
      {"doctor", 0, 0, G_OPTION_ARG_STRING, &doctor, "the doctor's username (or staff id)", "U"},
      {"patient", 0, 0, G_OPTION_ARG_INT64, &patient, "book: patient id", "ID"},
      {"appointment", 0, 0, G_OPTION_ARG_INT64, &appointment, "call-quality: appointment id", "ID"},
      {"start", 0, 0, G_OPTION_ARG_STRING, &start,
       "book: unix time, 'now', or +N/-N seconds from now; availability/break: HH:MM", "T"},
      {"end", 0, 0, G_OPTION_ARG_STRING, &end_at, "availability/break: HH:MM", "T"},
      {"minutes", 0, 0, G_OPTION_ARG_INT, &minutes, "book: duration (15)", "M"},
      {"public-url", 0, 0, G_OPTION_ARG_STRING, &public_url, "book: base of the link", "URL"},
      {"district", 0, 0, G_OPTION_ARG_STRING, &district, "add-facility: district", "D"},
      {"sector", 0, 0, G_OPTION_ARG_STRING, &sector, "add-facility: public, private or ngo", "S"},
      {"timezone", 0, 0, G_OPTION_ARG_STRING, &timezone, "add-facility: IANA zone", "TZ"},
      {"facility", 0, 0, G_OPTION_ARG_INT64, &facility, "facility id", "ID"},
      {"service", 0, 0, G_OPTION_ARG_INT64, &service, "service id", "ID"},
      {"specialty", 0, 0, G_OPTION_ARG_STRING, &specialty, "service/doctor specialty", "S"},
      {"duration", 0, 0, G_OPTION_ARG_INT, &duration, "add-service: minutes", "M"},
      {"buffer-before", 0, 0, G_OPTION_ARG_INT, &buffer_before, "add-service: minutes", "M"},
      {"buffer-after", 0, 0, G_OPTION_ARG_INT, &buffer_after, "add-service: minutes", "M"},
      {"max-per-day", 0, 0, G_OPTION_ARG_INT, &max_per_day, "add-service: 0 = no limit", "N"},
      {"weekday", 0, 0, G_OPTION_ARG_INT, &weekday, "availability/break: 1 = Mon .. 7 = Sun", "D"},
      {"valid-from", 0, 0, G_OPTION_ARG_STRING, &valid_from, "availability: YYYY-MM-DD", "D"},
      {"valid-until", 0, 0, G_OPTION_ARG_STRING, &valid_until, "availability: YYYY-MM-DD", "D"},
      {"languages", 0, 0, G_OPTION_ARG_STRING, &languages, "set-doctor-profile: ur,en,…", "L"},
      {"gender", 0, 0, G_OPTION_ARG_STRING, &gender, "set-doctor-profile: female, male, other",
       "G"},
      {"from", 0, 0, G_OPTION_ARG_STRING, &from_s, "add-exception: unix time", "T"},
      {"to", 0, 0, G_OPTION_ARG_STRING, &to_s, "add-exception: unix time", "T"},
      {"reason", 0, 0, G_OPTION_ARG_STRING, &reason, "add-exception: e.g. leave", "R"},
      {"days", 0, 0, G_OPTION_ARG_INT, &days, "retention-run: personal_data_days (365)", "N"},
      {"now", 0, 0, G_OPTION_ARG_NONE, &now_flag,
       "retention-run: run now, at the current time (the default clock)", NULL},
      {"at", 0, 0, G_OPTION_ARG_STRING, &at_s,
       "retention-run: the clock instead of now (unix time or +N/-N seconds)", "T"},
      {"dry-run", 0, 0, G_OPTION_ARG_NONE, &dry_run, "retention-run: count only, change nothing",
       NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx =
      g_option_context_new("add-doctor|add-staff|add-patient|book|add-facility|add-service|"
                           "add-availability|add-break|add-exception|set-doctor-profile|"
                           "integrity-check|call-quality|audit-verify|retention-run|authz-table|"
                           "seed-history");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error))
    return admin_fail(error->message);
  if (argc >= 3 && strcmp(argv[2], "authz-table") == 0) {
    /* Who may call what (docs/api.md): needs no database. */
    g_autofree char *table = sig_authz_table_text();
    g_print("%s\n", table);
    return 0;
  }
  if (argc < 3 || !db)
    return admin_fail("usage: mashwara admin <subcommand> --db PATH … (see --help)");
  const char *cmd = argv[2];
  g_autoptr(SchedStore) store = sched_store_open(db, &error);
  if (!store)
    return admin_fail(error->message);

  if (strcmp(cmd, "add-doctor") == 0 || strcmp(cmd, "add-staff") == 0) {
    if (!username || !name || !password)
      return admin_fail("add-doctor/add-staff need --username, --name and --password");
    gint64 id = sched_staff_add(store, username, name, password, role ? role : "doctor", &error);
    if (!id)
      return admin_error(error);
    g_print("{\"staff_id\":%" G_GINT64_FORMAT "}\n", id);
    return 0;
  }
  if (strcmp(cmd, "add-patient") == 0) {
    if (!name)
      return admin_fail("add-patient needs --name");
    if (!sched_audit_unit_begin(store, &error))
      return admin_error(error);
    const SchedPatientSpec spec = {.display_name = name,
                                   .phone = phone,
                                   .preferred_language = language,
                                   .sex = sex,
                                   .birth_year = birth_year < 0 ? 0 : birth_year};
    if (birth_year == 0) /* 0 is "not recorded" inside: leave the option out instead */
      return admin_fail("--birth-year must be a year from 1900 to the current year");
    gint64 id = sched_patient_create(store, &spec, &error);
    if (!id) {
      sched_audit_unit_rollback(store);
      return admin_error(error);
    }
    if (!admin_audit_commit(store, "patient.create", "patient", id, &error))
      return admin_error(error);
    g_print("{\"patient_id\":%" G_GINT64_FORMAT "}\n", id);
    return 0;
  }
  if (strcmp(cmd, "book") == 0) {
    if (!doctor || patient <= 0 || minutes <= 0)
      return admin_fail("book needs --doctor, --patient and --minutes > 0");
    gboolean ok;
    gint64 t = parse_time(start, &ok);
    if (!ok)
      return admin_fail("--start must be a unix time, 'now', or +N/-N seconds");
    g_autoptr(SchedStaff) staff = sched_staff_find(store, doctor, &error);
    if (!staff || g_strcmp0(staff->role, "doctor") != 0)
      return admin_fail("no such doctor");
    gint64 doctor_id = staff->id;
    g_autofree char *token = NULL;
    if (!sched_audit_unit_begin(store, &error))
      return admin_error(error);
    gint64 id =
        sched_appointment_book(store, doctor_id, patient, t, t + minutes * 60, &token, &error);
    if (!id) {
      sched_audit_unit_rollback(store);
      return admin_fail(error->message);
    }
    if (!admin_audit_commit(store, "appointment.create", "appointment", id, &error))
      return admin_error(error);
    g_autofree char *link =
        g_strdup_printf("%s/join/%s", public_url ? public_url : "https://localhost:8443", token);
    g_print("{\"appointment_id\":%" G_GINT64_FORMAT ",\"token\":\"%s\",\"link\":\"%s\"}\n", id,
            token, link);
    return 0;
  }
  if (strcmp(cmd, "seed-history") == 0) {
    /* A synthetic history for a demo or a test of the dashboard (docs/dashboard.md). */
    if (!password || days <= 0 || days > 3650 || per_day < 0 || patients < 0)
      return admin_fail("seed-history needs --password (the doctors') and --days 1..3650");
    MwDemoHistory h = {.seed = (guint32)seed,
                       .days = (guint)days,
                       .patients = (guint)patients,
                       .per_day = (guint)per_day,
                       .prefix = username ? username : "demo",
                       .password = password};
    MwDemoCounts n;
    if (!mw_demo_history(store, &h, &n, &error))
      return admin_error(error);
    g_autofree char *detail =
        g_strdup_printf("patients=%u,appointments=%u", n.patients, n.appointments);
    SchedAuditEntry e = {.actor_kind = "operator",
                         .action = "demo.history",
                         .detail = detail,
                         .address = "cli",
                         .outcome = "ok"};
    if (!sched_audit_append(store, &e, NULL, &error))
      return admin_error(error);
    g_print("{\"patients\":%u,\"appointments\":%u,\"consultations\":%u}\n", n.patients,
            n.appointments, n.consultations);
    return 0;
  }
  if (strcmp(cmd, "call-quality") == 0) {
    /* The consultation's quality record, one object per participant role (no personal data). */
    if (appointment <= 0)
      return admin_fail("call-quality needs --appointment");
    g_autoptr(GPtrArray) list = sched_consultation_quality_list(store, appointment, &error);
    if (!list)
      return admin_error(error);
    g_autoptr(GString) out = g_string_new("{\"quality\":[");
    for (guint i = 0; i < list->len; i++) {
      const SchedCallQuality *q = g_ptr_array_index(list, i);
      g_string_append_printf(
          out,
          "%s{\"role\":\"%s\",\"samples\":%" G_GINT64_FORMAT ",\"avg_score\":%.3f,"
          "\"avg_loss\":%.6f,\"avg_rtt_ms\":%.1f,\"avg_video_kbps\":%.1f,"
          "\"audio_only_weak_s\":%" G_GINT64_FORMAT ",\"audio_only_chosen_s\":%" G_GINT64_FORMAT
          ",\"updated_at\":%" G_GINT64_FORMAT "}",
          i ? "," : "", q->role, q->samples, q->avg_score, q->avg_loss, q->avg_rtt_ms,
          q->avg_video_kbps, q->audio_only_weak_s, q->audio_only_chosen_s, q->updated_at);
    }
    g_string_append(out, "]}");
    g_print("%s\n", out->str);
    return 0;
  }
  if (strcmp(cmd, "add-facility") == 0) {
    gint64 id =
        sched_facility_add(store, name, district, sector ? sector : "public", timezone, &error);
    if (!id)
      return admin_error(error);
    g_print("{\"facility_id\":%" G_GINT64_FORMAT "}\n", id);
    return 0;
  }
  if (strcmp(cmd, "add-service") == 0) {
    SchedService spec = {.facility_id = facility,
                         .name = name,
                         .specialty = specialty,
                         .duration_min = duration,
                         .buffer_before_min = buffer_before,
                         .buffer_after_min = buffer_after,
                         .max_per_day = max_per_day};
    gint64 id = sched_service_add(store, &spec, &error);
    if (!id)
      return admin_error(error);
    g_print("{\"service_id\":%" G_GINT64_FORMAT "}\n", id);
    return 0;
  }
  if (strcmp(cmd, "add-availability") == 0 || strcmp(cmd, "add-break") == 0) {
    gint64 doctor_id = admin_doctor(store, doctor, &error);
    if (!doctor_id)
      return admin_error(error);
    int start_min = parse_minutes(start), end_min = parse_minutes(end_at);
    if (start_min < 0 || end_min < 0)
      return admin_fail("--start and --end are HH:MM (or minutes after midnight)");
    gint64 id;
    if (strcmp(cmd, "add-break") == 0) {
      id = sched_break_add(store, doctor_id, weekday, start_min, end_min, &error);
    } else {
      SchedAvailability spec = {.doctor_id = doctor_id,
                                .service_id = service,
                                .weekday = weekday,
                                .start_min = start_min,
                                .end_min = end_min,
                                .valid_from = valid_from,
                                .valid_until = valid_until};
      id = sched_availability_add(store, &spec, &error);
    }
    if (!id)
      return admin_error(error);
    g_print("{\"%s_id\":%" G_GINT64_FORMAT "}\n",
            strcmp(cmd, "add-break") == 0 ? "break" : "availability", id);
    return 0;
  }
  if (strcmp(cmd, "add-exception") == 0) {
    gint64 doctor_id = 0;
    gboolean ok_from, ok_to;
    if (doctor && !(doctor_id = admin_doctor(store, doctor, &error)))
      return admin_error(error);
    gint64 from = parse_time(from_s, &ok_from), to = parse_time(to_s, &ok_to);
    if (!from_s || !to_s || !ok_from || !ok_to)
      return admin_fail("add-exception needs --from and --to (unix time or +N seconds)");
    gint64 id = sched_exception_add(store, doctor_id, facility, from, to, reason, &error);
    if (!id)
      return admin_error(error);
    g_print("{\"exception_id\":%" G_GINT64_FORMAT "}\n", id);
    return 0;
  }
  if (strcmp(cmd, "set-doctor-profile") == 0) {
    gint64 doctor_id = admin_doctor(store, doctor, &error);
    if (!doctor_id)
      return admin_error(error);
    g_auto(GStrv) langs = languages ? g_strsplit(languages, ",", -1) : NULL;
    if (!sched_doctor_set_profile(store, doctor_id, facility, specialty, (const char *const *)langs,
                                  gender, &error))
      return admin_error(error);
    g_print("{\"doctor_id\":%" G_GINT64_FORMAT "}\n", doctor_id);
    return 0;
  }
  if (strcmp(cmd, "audit-verify") == 0) {
    gint64 bad = 0, rows = 0;
    if (!sched_audit_verify(store, &bad, &rows, &error)) {
      if (bad > 0)
        g_print("audit chain BROKEN at row %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
                " rows before it are intact): %s\n",
                bad, rows, error->message);
      else
        g_print("audit chain NOT OK (%" G_GINT64_FORMAT " rows checked): %s\n", rows,
                error->message);
      return 1;
    }
    SchedAuditFilter newest = {.limit = 1};
    g_autoptr(GPtrArray) head = sched_audit_list(store, &newest, &error);
    if (head && head->len > 0) {
      const SchedAuditRecord *r = g_ptr_array_index(head, 0);
      g_print("audit chain ok: %" G_GINT64_FORMAT " rows (head: row %" G_GINT64_FORMAT
              " hash %s)\n",
              rows, r->id, r->hash);
    } else {
      g_print("audit chain ok: %" G_GINT64_FORMAT " rows\n", rows);
    }
    return 0;
  }
  if (strcmp(cmd, "retention-run") == 0) {
    gboolean ok_at = TRUE;
    gint64 at = at_s ? parse_time(at_s, &ok_at) : 0;
    if (!ok_at)
      return admin_fail("--at must be a unix time, 'now', or +N/-N seconds");
    (void)now_flag; /* the default: one run at the current clock, like the daemon's daily job */
    SchedRetentionCounts c;
    if (!sched_retention_run(store, at, days, dry_run, &c, &error))
      return admin_error(error);
    g_print("{\"dry_run\":%s,\"days\":%d,\"patients\":%" G_GINT64_FORMAT
            ",\"appointments\":%" G_GINT64_FORMAT ",\"tokens\":%" G_GINT64_FORMAT
            ",\"notices\":%" G_GINT64_FORMAT ",\"sessions\":%" G_GINT64_FORMAT
            ",\"clinical\":%" G_GINT64_FORMAT "}\n",
            dry_run ? "true" : "false", days, c.patients, c.appointments, c.tokens, c.notices,
            c.sessions, c.clinical);
    return 0;
  }
  if (strcmp(cmd, "integrity-check") == 0) {
    if (!sched_store_integrity_check(store, &error))
      return admin_error(error);
    g_print("{\"integrity_check\":\"ok\"}\n");
    return 0;
  }
  return admin_fail("unknown subcommand (add-doctor, add-staff, add-patient, book, add-facility, "
                    "add-service, add-availability, add-break, add-exception, "
                    "set-doctor-profile, integrity-check, call-quality, audit-verify, "
                    "retention-run, seed-history)");
}

/* --- demo -------------------------------------------------------------------------------- */

#define DEMO_DOCTOR "dr.ayesha"
#define DEMO_ANALYST "analyst"

/* Seeds a doctor (once; its password is kept beside the database, readable by root only), a
 * patient and an appointment starting now, and (once) an analyst with the same password and a
 * synthetic history for the dashboard (mw-demo.c); prints where to go. */
static gboolean seed_demo(SchedStore *store, const MwConfig *cfg, GError **error)
{
  g_autofree char *cred_path = g_build_filename(cfg->data_dir, "demo-password.txt", NULL);
  g_autofree char *password = NULL;
  gint64 doctor_id = 0;
  if (g_file_get_contents(cred_path, &password, NULL, NULL)) {
    g_strstrip(password);
    doctor_id = sched_staff_authenticate(store, DEMO_DOCTOR, password, NULL);
  }
  if (!doctor_id) {
    g_clear_pointer(&password, g_free);
    g_autofree char *t = sched_token_generate();
    password = g_strndup(t, 12);
    doctor_id = sched_doctor_add(store, DEMO_DOCTOR, "Dr. Ayesha Khan", password, error);
    if (!doctor_id)
      return FALSE;
    g_autofree char *line = g_strconcat(password, "\n", NULL);
    if (!g_file_set_contents_full(cred_path, line, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
      return FALSE;
  }
  const SchedPatientSpec demo_patient = {.display_name = "Demo Patient",
                                         .phone = "+920000000000",
                                         .preferred_language = "ur",
                                         .sex = "female",
                                         .birth_year = 1988};
  gint64 patient_id = sched_patient_create(store, &demo_patient, error);
  if (!patient_id)
    return FALSE;
  /* The dashboard's demo: an analyst (same password) and 60 days of synthetic history, once. */
  g_autoptr(SchedStaff) analyst = sched_staff_find(store, DEMO_ANALYST, NULL);
  if (analyst == NULL) {
    g_print("Seeding 60 days of consultations for the dashboard (once)...\n");
    if (!sched_staff_add(store, DEMO_ANALYST, "Demo Analyst", password, "analyst", error))
      return FALSE;
    MwDemoHistory h = {.seed = 1,
                       .days = 60,
                       .patients = 300,
                       .per_day = 6,
                       .prefix = "demo",
                       .password = password};
    if (!mw_demo_history(store, &h, NULL, error))
      return FALSE;
  }
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  g_autofree char *token = NULL;
  gint64 appt =
      sched_appointment_book(store, doctor_id, patient_id, now, now + 30 * 60, &token, error);
  if (!appt)
    return FALSE;
  g_autofree char *link = g_strdup_printf("%s/join/%s", cfg->public_url, token);
  g_autofree char *console = g_strdup_printf("%s/console", cfg->public_url);
  g_autofree char *dashboard = g_strdup_printf("%s/dashboard", cfg->public_url);
  g_print("\nMashwara demo\n"
          "  Patient link:   %s\n"
          "  Doctor console: %s\n"
          "  Doctor login:   %s / %s\n"
          "  Dashboard:      %s\n"
          "  Analyst login:  %s / %s\n"
          "  (The certificate is self-signed: accept it once in the browser.)\n\n",
          link, console, DEMO_DOCTOR, password, dashboard, DEMO_ANALYST, password);
  if (cfg->demo_json) {
    g_autofree char *json = g_strdup_printf(
        "{\"patient_link\":\"%s\",\"patient_token\":\"%s\",\"console_url\":\"%s\","
        "\"doctor_username\":\"%s\",\"doctor_password\":\"%s\",\"appointment_id\":%" G_GINT64_FORMAT
        "}\n",
        link, token, console, DEMO_DOCTOR, password, appt);
    if (!g_file_set_contents_full(cfg->demo_json, json, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                  error))
      return FALSE;
  }
  return TRUE;
}

/* --- server ------------------------------------------------------------------------------ */

static gboolean on_signal(gpointer loop)
{
  g_message("stopping");
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

static int serve(MwConfig *cfg)
{
  g_autoptr(GError) error = NULL;
  /* Medical data: whatever the server creates (database, journal, key) is its own alone. */
  umask(0077);
  if (g_mkdir_with_parents(cfg->data_dir, 0700) != 0) {
    g_printerr("mashwara: cannot create %s: %s\n", cfg->data_dir, g_strerror(errno));
    return 1;
  }
  g_autofree char *cert = cfg->tls_cert ? g_strdup(cfg->tls_cert)
                                        : g_build_filename(cfg->data_dir, "tls", "cert.pem", NULL);
  g_autofree char *key = cfg->tls_key ? g_strdup(cfg->tls_key)
                                      : g_build_filename(cfg->data_dir, "tls", "key.pem", NULL);
  if (!cfg->tls_cert) {
    g_autofree char *tls_dir = g_path_get_dirname(cert);
    g_mkdir_with_parents(tls_dir, 0700);
    g_autofree char *host = NULL;
    const char *u = strstr(cfg->public_url, "://");
    if (u) {
      host = g_strdup(u + 3);
      char *colon = strrchr(host, ':');
      if (colon && host[0] != '[')
        *colon = '\0';
    }
    const char *hosts[] = {cfg->listen, host, NULL};
    if (!cfg->listen) {
      hosts[0] = host;
      hosts[1] = NULL;
    }
    if (!mw_tls_ensure_self_signed(cert, key, hosts, &error)) {
      g_printerr("mashwara: %s\n", error->message);
      return 1;
    }
  }

  g_autoptr(SchedStore) store = sched_store_open(cfg->db_path, &error);
  if (!store) {
    g_printerr("mashwara: database %s: %s\n", cfg->db_path, error->message);
    return 1;
  }
  SchedTokenWindow window = {cfg->token_before_min * 60, cfg->token_after_min * 60};
  sched_store_set_token_window(store, &window);
  if (cfg->demo && !seed_demo(store, cfg, &error)) {
    g_printerr("mashwara: demo data: %s\n", error->message);
    return 1;
  }

  /* Notices and the periodic jobs (holds, no-shows, reminders, the outbox drain). */
  SchedPolicy policy = {.hold_s = SCHED_HOLD_DEFAULT_S,
                        .offer_s = SCHED_OFFER_DEFAULT_S,
                        .noshow_after_s = (gint64)cfg->jobs_noshow_grace_min * 60};
  sched_store_set_policy(store, &policy);
  sched_store_set_public_url(store, cfg->public_url);
  NotifyConfig notify_cfg = {
      .webhook_url = cfg->notify_webhook_url,
      .webhook_token = cfg->notify_webhook_token,
      .timeout_ms = (guint)cfg->notify_timeout_s * 1000,
  };
  NotifySender *sender =
      notify_sender_new(notify_sender_class_find(cfg->notify_sender), &notify_cfg, &error);
  if (!sender) {
    g_printerr("mashwara: %s\n", error->message);
    return 1;
  }
  MwJobsConfig jobs_cfg;
  mw_jobs_config_init(&jobs_cfg, cfg->notify_timeout_s);
  jobs_cfg.max_attempts = cfg->notify_max_attempts;
  jobs_cfg.retry_base_s = cfg->notify_retry_base_s;
  jobs_cfg.max_in_flight = (guint)cfg->notify_max_in_flight;
  jobs_cfg.retention_days = cfg->retention_days;
  /* Held for its cleanup: the jobs run on the main loop until serve() returns. */
  g_autoptr(MwJobs) jobs G_GNUC_UNUSED = mw_jobs_new(store, sender, &jobs_cfg);

  SfuConfig sfu_cfg = {
      .ice_addresses = (const char *const *)cfg->ice_addresses,
      .min_port = (guint)cfg->min_port,
      .max_port = (guint)cfg->max_port,
      .disable_ice_tcp = !cfg->ice_tcp,
      .stun_server = cfg->stun_server,
      .turn_server = cfg->turn_server,
      .context = NULL,
  };
  g_autoptr(SfuRelay) relay = sfu_relay_new(&sfu_cfg, &error);
  if (!relay) {
    g_printerr("mashwara: relay: %s\n", error->message);
    return 1;
  }

  SigConfig sig_cfg = {
      .listen_address = cfg->listen,
      .port = (guint)cfg->port,
      .tls_cert_path = cert,
      .tls_key_path = key,
      .web_root = cfg->web_root,
      .public_url = cfg->public_url,
      .turn_uris = (const char *const *)cfg->turn_uris,
      .turn_secret = cfg->turn_secret,
      .turn_credential_ttl_s = (guint)cfg->turn_credential_ttl_s,
      .max_connections_per_address = (guint)cfg->max_connections_per_address,
      .requests_per_second_per_address = cfg->requests_per_second_per_address,
      .request_burst_per_address = (guint)cfg->request_burst_per_address,
      .requests_per_second_per_token = cfg->requests_per_second_per_token,
      .request_burst_per_token = (guint)cfg->request_burst_per_token,
      .login_failures_per_account = (guint)cfg->login_failures_per_account,
      .login_failures_per_address = (guint)cfg->login_failures_per_address,
      .login_failure_window_s = (guint)cfg->login_failure_window_s,
  };
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  SigServer *server = sig_server_new(&sig_cfg, store, relay, &error);
  if (!server) {
    g_printerr("mashwara: %s\n", error->message);
    return 1;
  }
  /* Everything only root could take is held now (the port, the key, the database): become
   * [server] user, handing it the files the server still writes. */
  g_autofree char *wal = g_strconcat(cfg->db_path, "-wal", NULL);
  g_autofree char *shm = g_strconcat(cfg->db_path, "-shm", NULL);
  const char *writable[] = {cfg->data_dir, cfg->db_path, wal, shm, NULL};
  guint uid = 0;
  if (!mw_privs_drop(cfg->user, writable, &uid, &error)) {
    g_printerr("mashwara: %s\n", error->message);
    sig_server_free(server);
    return 1;
  }
  g_unix_signal_add(SIGINT, on_signal, loop);
  g_unix_signal_add(SIGTERM, on_signal, loop);
  g_printerr("mashwara: listening on https://%s:%d (links: %s) as uid %u\n",
             cfg->listen ? cfg->listen : "*", cfg->port, cfg->public_url, uid);
  g_main_loop_run(loop);
  sig_server_free(server);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc > 1 && strcmp(argv[1], "admin") == 0)
    return admin_main(argc, argv);
  gst_init(&argc, &argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(MwConfig) cfg = mw_config_load(&argc, &argv, &error);
  if (!cfg) {
    g_printerr("mashwara: %s\n", error->message);
    return 2;
  }
  int rc = serve(cfg);
  gst_deinit();
  return rc;
}
