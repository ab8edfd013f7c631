/* seed.c — the in-process half of the scheduler benchmark (bench/README.md), one program with
 * five subcommands, driven by bench/sched/bench.mjs:
 *
 *   sched-bench seed  --db PATH [--doctors 200] [--facilities 20] [--patients 2000]
 *                     --admin USER --password PASS
 *       A clinic network through the scheduler's public API: facilities in ten districts, four
 *       services per facility, doctors with profiles and a year of weekly availability (two
 *       windows a day, Monday to Saturday), a Friday break, one week of leave per doctor, one
 *       holiday per facility, an admin and patients. Prints JSON (ids) on stdout.
 *   sched-bench slots --db PATH --per-doctor N --from T
 *       The first N free slots of every doctor from T on: lines "doctor service starts_at".
 *   sched-bench search --db PATH --queries FILE [--warmup 50]
 *       Runs each slot query of FILE (one per line, the format bench.mjs writes) through
 *       sched_slots_search() and prints the latency percentiles as JSON.
 *   sched-bench book --db PATH --rows N --from T
 *       Books N free slots (from T on) one after another through sched_appointment_book_slot()
 *       and prints the rate: the scheduler's cost per booking without HTTP (diagnostics).
 *   sched-bench aggregates --db PATH --scratch PATH [--rows 1000000] [--runs 5] [--reuse]
 *       Copies the database to a scratch file (VACUUM INTO), adds `rows` synthetic past
 *       consultations there (through the schema's own triggers, which keep the statistics'
 *       daily summary current as in production), and times each dashboard aggregate: once as
 *       raw SQL over the tables (before), then through sched_stats_query() (median of `runs`),
 *       and checks that the summary's totals agree with the raw rows (by sex and by age band
 *       too). --reuse: the scratch file of an earlier run as it is (no copy, no new rows; the
 *       scheduler migrates it on open, and "open_s" says how long that took). Prints JSON.
 *
 * Raw SQL is used only where the public API has no bulk path: the staff rows of doctors 2..N
 * copy doctor 1's password hash (199 Argon2id hashes would cost ~15 s and nothing else), and
 * the synthetic history (past appointments cannot be booked through the API, by design). Both
 * write the scheduler's own tables in its own schema. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scheduler.h"
#include "sched-stats-backend.h" /* sched__stats_sqlite_register */

static const char *const specialties[] = {"general",    "paediatrics", "gynaecology",
                                          "cardiology", "dermatology", "psychiatry",
                                          "ent",        "orthopaedics"};
#define N_SPECIALTIES G_N_ELEMENTS(specialties)
static const char *const districts[] = {"Lahore", "Karachi",   "Peshawar",   "Quetta",
                                        "Multan", "Hyderabad", "Faisalabad", "Rawalpindi",
                                        "Sukkur", "Abbottabad"};
#define N_DISTRICTS G_N_ELEMENTS(districts)
static const char *const sectors[] = {"public", "private", "ngo"};
/* A regional language per district, besides Urdu and English. */
static const char *const regional[] = {"pa", "sd", "ps", "ps", "pa", "sd", "pa", "pa", "sd", "ps"};

#define KARACHI_OFFSET_S (5 * 3600) /* Asia/Karachi: UTC+5, no DST since 2009 */
#define SERVICES_PER_FACILITY 4

static G_NORETURN void die(const char *what, const GError *error)
{
  g_printerr("sched-bench: %s: %s\n", what, error ? error->message : "failed");
  exit(1);
}

/* CPU time of the calling thread, in microseconds: separates the work from waiting for a core. */
static gint64 thread_cpu_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static gint64 now_s(void)
{
  return g_get_real_time() / G_USEC_PER_SEC;
}

/* Local midnight (Asia/Karachi) of the day containing `t`, as unix seconds. */
static gint64 local_midnight(gint64 t)
{
  return ((t + KARACHI_OFFSET_S) / 86400) * 86400 - KARACHI_OFFSET_S;
}

static char *local_date(gint64 t)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t + KARACHI_OFFSET_S);
  return g_date_time_format(dt, "%Y-%m-%d");
}

static sqlite3 *raw_open(const char *path)
{
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    g_printerr("sched-bench: open %s: %s\n", path, sqlite3_errmsg(db));
    exit(1);
  }
  sqlite3_busy_timeout(db, 10000);
  /* The statistics' triggers (schema 3) call the scheduler's SQL functions: any connection
   * that writes appointments or consultations needs them (a private scheduler entry point). */
  if (!sched__stats_sqlite_register(db, NULL)) {
    g_printerr("sched-bench: cannot register the scheduler's SQL functions\n");
    exit(1);
  }
  return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    g_printerr("sched-bench: SQL failed: %s\n  in: %.300s\n", msg, sql);
    exit(1);
  }
}

/* --- seed ------------------------------------------------------------------------------------ */

static int cmd_seed(const char *db_path, int n_doctors, int n_facilities, int n_patients,
                    const char *admin_user, const char *admin_pass)
{
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time();
  g_autoptr(SchedStore) store = sched_store_open(db_path, &error);
  if (!store)
    die("open", error);

  gint64 admin_id = sched_staff_add(store, admin_user, "Bench Admin", admin_pass, "admin", &error);
  if (!admin_id)
    die("admin", error);

  /* Facilities and their services: facility f offers specialties f..f+3 (mod 8). */
  g_autofree gint64 *facility = g_new0(gint64, n_facilities);
  g_autofree gint64 *service = g_new0(gint64, n_facilities * SERVICES_PER_FACILITY);
  for (int f = 0; f < n_facilities; f++) {
    g_autofree char *name = g_strdup_printf("Bench Health Centre %d", f + 1);
    facility[f] = sched_facility_add(store, name, districts[f % N_DISTRICTS],
                                     sectors[f % G_N_ELEMENTS(sectors)], "Asia/Karachi", &error);
    if (!facility[f])
      die("facility", error);
    for (int k = 0; k < SERVICES_PER_FACILITY; k++) {
      SchedService spec = {
          .facility_id = facility[f],
          .name = (char *)"Video consultation",
          .specialty = (char *)specialties[(f + k) % N_SPECIALTIES],
          .duration_min = 15,
          .buffer_before_min = 0,
          .buffer_after_min = 0,
          .max_per_day = 0,
      };
      service[f * SERVICES_PER_FACILITY + k] = sched_service_add(store, &spec, &error);
      if (!service[f * SERVICES_PER_FACILITY + k])
        die("service", error);
    }
  }

  /* Doctors: the first through the API (one Argon2id hash), the rest copy its hash. */
  g_autofree gint64 *doctor = g_new0(gint64, n_doctors);
  doctor[0] = sched_doctor_add(store, "bench.dr1", "Dr. Bench 1", "bench-password-1", &error);
  if (!doctor[0])
    die("doctor", error);
  {
    sqlite3 *db = raw_open(db_path);
    sqlite3_stmt *st = NULL;
    raw_exec(db, "BEGIN IMMEDIATE");
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO staff (username, display_name, role, password_hash, "
                           "created_at) SELECT ?1, ?2, 'doctor', password_hash, created_at "
                           "FROM staff WHERE id = ?3",
                           -1, &st, NULL) != SQLITE_OK) {
      g_printerr("sched-bench: prepare staff copy: %s\n", sqlite3_errmsg(db));
      return 1;
    }
    for (int i = 1; i < n_doctors; i++) {
      g_autofree char *u = g_strdup_printf("bench.dr%d", i + 1);
      g_autofree char *n = g_strdup_printf("Dr. Bench %d", i + 1);
      sqlite3_bind_text(st, 1, u, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, n, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(st, 3, doctor[0]);
      if (sqlite3_step(st) != SQLITE_DONE) {
        g_printerr("sched-bench: staff copy: %s\n", sqlite3_errmsg(db));
        return 1;
      }
      doctor[i] = sqlite3_last_insert_rowid(db);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    raw_exec(db, "COMMIT");
    sqlite3_close(db);
  }

  /* Profiles, availability, a break, leave. Doctor i works at facility i % F in service
   * (i / F) % 4 of it: ten doctors per facility, two or three per service. */
  gint64 today = local_midnight(now_s());
  g_autofree char *valid_from = local_date(today);
  g_autofree char *valid_until = local_date(today + 364 * 86400);
  GString *doctors_json = g_string_new("[");
  for (int i = 0; i < n_doctors; i++) {
    int f = i % n_facilities, k = (i / n_facilities) % SERVICES_PER_FACILITY;
    const char *langs[4] = {"ur", i % 3 == 0 ? "en" : regional[f % N_DISTRICTS], NULL, NULL};
    if (i % 3 == 0)
      langs[2] = regional[f % N_DISTRICTS];
    const char *gender = i % 17 == 0 ? "other" : i % 2 ? "male" : "female";
    if (!sched_doctor_set_profile(store, doctor[i], facility[f],
                                  specialties[(f + k) % N_SPECIALTIES], langs, gender, &error))
      die("profile", error);
    gint64 svc = service[f * SERVICES_PER_FACILITY + k];
    for (int wd = 1; wd <= 6; wd++) {
      const int win[2][2] = {{9 * 60, 13 * 60}, {14 * 60, 17 * 60}};
      for (int w = 0; w < 2; w++) {
        SchedAvailability a = {
            .doctor_id = doctor[i],
            .service_id = svc,
            .weekday = wd,
            .start_min = win[w][0],
            .end_min = win[w][1],
            .valid_from = valid_from,
            .valid_until = valid_until,
        };
        if (!sched_availability_add(store, &a, &error))
          die("availability", error);
      }
    }
    if (!sched_break_add(store, doctor[i], 5, 12 * 60 + 30, 13 * 60, &error))
      die("break", error);
    gint64 leave = today + (gint64)(30 + (i * 7) % 300) * 86400;
    if (!sched_exception_add(store, doctor[i], 0, leave, leave + 7 * 86400, "leave", &error))
      die("leave", error);
    g_string_append_printf(doctors_json,
                           "%s{\"id\":%" G_GINT64_FORMAT ",\"service_id\":%" G_GINT64_FORMAT
                           ",\"facility_id\":%" G_GINT64_FORMAT ",\"specialty\":\"%s\","
                           "\"language\":\"%s\",\"gender\":\"%s\"}",
                           i ? "," : "", doctor[i], svc, facility[f],
                           specialties[(f + k) % N_SPECIALTIES], langs[1], gender);
  }
  g_string_append(doctors_json, "]");
  for (int f = 0; f < n_facilities; f++) {
    gint64 day = today + (gint64)(60 + f * 11) * 86400;
    if (!sched_exception_add(store, 0, facility[f], day, day + 86400, "holiday", &error))
      die("holiday", error);
  }

  GString *patients_json = g_string_new("[");
  for (int p = 0; p < n_patients; p++) {
    g_autofree char *name = g_strdup_printf("Bench Patient %d", p + 1);
    g_autofree char *phone = g_strdup_printf("+92300%07d", p + 1);
    /* The dashboard's groupings by sex and age band need them: 40 % female, 40 % male, 10 %
     * other, 10 % not recorded; birth years 1935-2024 (all four bands), 1 in 13 not recorded. */
    static const char *const sexes[10] = {"female", "female", "female", "female", "male",
                                          "male",   "male",   "male",   "other",  NULL};
    const SchedPatientSpec spec = {.display_name = name,
                                   .phone = phone,
                                   .preferred_language = p % 4 == 0 ? "en" : "ur",
                                   .sex = sexes[p % 10],
                                   .birth_year = p % 13 == 0 ? 0 : 1935 + (p * 37) % 90};
    gint64 id = sched_patient_create(store, &spec, &error);
    if (!id)
      die("patient", error);
    g_string_append_printf(patients_json, "%s%" G_GINT64_FORMAT, p ? "," : "", id);
  }
  g_string_append(patients_json, "]");

  GString *spec_json = g_string_new("[");
  for (guint s = 0; s < N_SPECIALTIES; s++)
    g_string_append_printf(spec_json, "%s\"%s\"", s ? "," : "", specialties[s]);
  g_string_append(spec_json, "]");
  GString *fac_json = g_string_new("[");
  for (int f = 0; f < n_facilities; f++)
    g_string_append_printf(fac_json, "%s%" G_GINT64_FORMAT, f ? "," : "", facility[f]);
  g_string_append(fac_json, "]");

  g_print("{\"admin_id\":%" G_GINT64_FORMAT ",\"today\":%" G_GINT64_FORMAT
          ",\"seconds\":%.2f,\"specialties\":%s,\"facilities\":%s,\"doctors\":%s,"
          "\"patients\":%s}\n",
          admin_id, today, (g_get_monotonic_time() - t0) / 1e6, spec_json->str, fac_json->str,
          doctors_json->str, patients_json->str);
  g_string_free(spec_json, TRUE);
  g_string_free(fac_json, TRUE);
  g_string_free(doctors_json, TRUE);
  g_string_free(patients_json, TRUE);
  return 0;
}

/* --- slots ----------------------------------------------------------------------------------- */

static int cmd_slots(const char *db_path, int per_doctor, gint64 from)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedStore) store = sched_store_open(db_path, &error);
  if (!store)
    die("open", error);
  g_autoptr(GPtrArray) doctors = sched_doctors_list(store, NULL, &error);
  if (!doctors)
    die("doctors", error);
  for (guint i = 0; i < doctors->len; i++) {
    SchedDoctor *d = g_ptr_array_index(doctors, i);
    SchedSlotQuery q = {
        .doctor_id = d->id, .from = from, .to = from + 365 * 86400, .limit = (guint)per_doctor};
    g_autoptr(GPtrArray) slots = sched_slots_search(store, &q, &error);
    if (!slots)
      die("slots", error);
    for (guint j = 0; j < slots->len; j++) {
      SchedSlot *s = g_ptr_array_index(slots, j);
      g_print("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", s->doctor_id,
              s->service_id, s->starts_at);
    }
  }
  return 0;
}

/* --- book ------------------------------------------------------------------------------------ */

/* Books `count` distinct free slots one after another through sched_appointment_book_slot()
 * (what POST /api/appointments calls), round-robin over the doctors, and prints the rate and
 * latency: the scheduler's own cost per confirmed booking, without HTTP. */
static int cmp_gint64(const void *a, const void *b);
static double pct_ms(const gint64 *sorted, guint n, double p);

static int cmd_book(const char *db_path, int count, gint64 from)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedStore) store = sched_store_open(db_path, &error);
  if (!store)
    die("open", error);
  g_autoptr(GPtrArray) doctors = sched_doctors_list(store, NULL, &error);
  if (!doctors || doctors->len == 0)
    die("doctors", error);
  guint per = (guint)(count / doctors->len + 1);
  g_autoptr(GPtrArray) lists = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
  for (guint i = 0; i < doctors->len; i++) {
    SchedDoctor *d = g_ptr_array_index(doctors, i);
    SchedSlotQuery q = {
        .doctor_id = d->id, .from = from, .to = from + 365 * 86400, .limit = MIN(per, 1000)};
    GPtrArray *slots = sched_slots_search(store, &q, &error);
    if (!slots)
      die("slots", error);
    g_ptr_array_add(lists, slots);
  }
  g_autoptr(GPtrArray) patients = sched_patients_search(store, NULL, 1, &error);
  if (!patients || patients->len == 0)
    die("patients", error);
  gint64 patient = ((SchedPatient *)g_ptr_array_index(patients, 0))->id;
  GArray *lat = g_array_new(FALSE, FALSE, sizeof(gint64));
  gint64 t0 = g_get_monotonic_time();
  int done = 0;
  for (guint k = 0; done < count && k < 1000; k++) {
    for (guint i = 0; i < lists->len && done < count; i++) {
      GPtrArray *slots = g_ptr_array_index(lists, i);
      if (k >= slots->len)
        continue;
      SchedSlot *s = g_ptr_array_index(slots, k);
      SchedBookingRequest r = {s->doctor_id, s->service_id, patient, s->starts_at};
      g_autofree char *token = NULL;
      gint64 b0 = g_get_monotonic_time();
      if (!sched_appointment_book_slot(store, &r, 0, &token, &error))
        die("book", error);
      gint64 dt = g_get_monotonic_time() - b0;
      g_array_append_val(lat, dt);
      done++;
    }
  }
  double secs = (g_get_monotonic_time() - t0) / 1e6;
  g_array_sort(lat, cmp_gint64);
  g_print("{\"booked\":%d,\"seconds\":%.3f,\"per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", done,
          secs, done / secs, pct_ms((gint64 *)lat->data, lat->len, 50),
          pct_ms((gint64 *)lat->data, lat->len, 99));
  g_array_unref(lat);
  return 0;
}

/* --- search ---------------------------------------------------------------------------------- */

static int cmp_gint64(const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted microseconds, in milliseconds. */
static double pct_ms(const gint64 *sorted, guint n, double p)
{
  if (n == 0)
    return 0;
  guint rank = (guint)(p / 100.0 * n + 0.999999);
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return sorted[rank - 1] / 1000.0;
}

static const char *dash_null(const char *s)
{
  return s && strcmp(s, "-") != 0 ? s : NULL;
}

/* Query lines: "kind doctor_id facility_id specialty language gender from to limit", "-" or 0
 * for a filter not set. */
static int cmd_search(const char *db_path, const char *queries_path, int warmup)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  if (!g_file_get_contents(queries_path, &text, NULL, &error))
    die("queries", error);
  g_autoptr(SchedStore) store = sched_store_open(db_path, &error);
  if (!store)
    die("open", error);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  GHashTable *by_kind =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
  GArray *all = g_array_new(FALSE, FALSE, sizeof(gint64));
  GArray *cpu = g_array_new(FALSE, FALSE, sizeof(gint64));
  guint64 slots_total = 0;
  guint n = 0, empty = 0;
  for (int pass = 0; pass < 2; pass++) {
    int done = 0;
    for (char **l = lines; *l; l++) {
      if (pass == 0 && done >= warmup)
        break;
      char kind[32], spec[64], lang[8], gender[8];
      gint64 doctor, facility, from, to;
      guint limit;
      if (sscanf(*l,
                 "%31s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %63s %7s %7s %" G_GINT64_FORMAT
                 " %" G_GINT64_FORMAT " %u",
                 kind, &doctor, &facility, spec, lang, gender, &from, &to, &limit) != 9)
        continue;
      SchedSlotQuery q = {
          .doctor_id = doctor,
          .facility_id = facility,
          .specialty = dash_null(spec),
          .language = dash_null(lang),
          .gender = dash_null(gender),
          .from = from,
          .to = to,
          .limit = limit,
      };
      gint64 c0 = thread_cpu_us();
      gint64 t0 = g_get_monotonic_time();
      g_autoptr(GPtrArray) slots = sched_slots_search(store, &q, &error);
      gint64 dt = g_get_monotonic_time() - t0;
      gint64 dc = thread_cpu_us() - c0;
      if (!slots)
        die("search", error);
      done++;
      if (pass == 0)
        continue;
      n++;
      slots_total += slots->len;
      if (slots->len == 0)
        empty++;
      g_array_append_val(all, dt);
      g_array_append_val(cpu, dc);
      GArray *k = g_hash_table_lookup(by_kind, kind);
      if (!k) {
        k = g_array_new(FALSE, FALSE, sizeof(gint64));
        g_hash_table_insert(by_kind, g_strdup(kind), k);
      }
      g_array_append_val(k, dt);
    }
  }
  g_array_sort(all, cmp_gint64);
  g_array_sort(cpu, cmp_gint64);
  g_print("{\"n\":%u,\"empty\":%u,\"mean_slots\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
          "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"cpu_p50_ms\":%.3f,\"cpu_p99_ms\":%.3f,"
          "\"cpu_max_ms\":%.3f,\"kinds\":{",
          n, empty, n ? (double)slots_total / n : 0.0, pct_ms((gint64 *)all->data, all->len, 50),
          pct_ms((gint64 *)all->data, all->len, 90), pct_ms((gint64 *)all->data, all->len, 99),
          pct_ms((gint64 *)all->data, all->len, 100), pct_ms((gint64 *)cpu->data, cpu->len, 50),
          pct_ms((gint64 *)cpu->data, cpu->len, 99), pct_ms((gint64 *)cpu->data, cpu->len, 100));
  GHashTableIter it;
  gpointer key, value;
  gboolean first = TRUE;
  g_hash_table_iter_init(&it, by_kind);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    GArray *k = value;
    g_array_sort(k, cmp_gint64);
    g_print("%s\"%s\":{\"n\":%u,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}", first ? "" : ",",
            (char *)key, k->len, pct_ms((gint64 *)k->data, k->len, 50),
            pct_ms((gint64 *)k->data, k->len, 99), pct_ms((gint64 *)k->data, k->len, 100));
    first = FALSE;
  }
  g_print("}}\n");
  g_array_unref(all);
  g_array_unref(cpu);
  g_hash_table_unref(by_kind);
  return 0;
}

/* --- aggregates (filled in below) ------------------------------------------------------------ */

static int cmd_aggregates(const char *db_path, const char *scratch, int rows, int runs,
                          gboolean reuse);

int main(int argc, char **argv)
{
  g_autofree char *db = NULL, *admin = NULL, *password = NULL, *queries = NULL, *scratch = NULL;
  int doctors = 200, facilities = 20, patients = 2000, per_doctor = 1000, warmup = 50;
  int rows = 1000000, runs = 5;
  gboolean reuse = FALSE;
  gint64 from = 0;
  GOptionEntry entries[] = {
      {"db", 0, 0, G_OPTION_ARG_FILENAME, &db, "database", "PATH"},
      {"doctors", 0, 0, G_OPTION_ARG_INT, &doctors, "seed: doctors (200)", "N"},
      {"facilities", 0, 0, G_OPTION_ARG_INT, &facilities, "seed: facilities (20)", "N"},
      {"patients", 0, 0, G_OPTION_ARG_INT, &patients, "seed: patients (2000)", "N"},
      {"admin", 0, 0, G_OPTION_ARG_STRING, &admin, "seed: admin username", "U"},
      {"password", 0, 0, G_OPTION_ARG_STRING, &password, "seed: admin password", "P"},
      {"per-doctor", 0, 0, G_OPTION_ARG_INT, &per_doctor, "slots: slots per doctor", "N"},
      {"from", 0, 0, G_OPTION_ARG_INT64, &from, "slots: from (unix s)", "T"},
      {"queries", 0, 0, G_OPTION_ARG_FILENAME, &queries, "search: query file", "FILE"},
      {"warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "search: warm-up queries (50)", "N"},
      {"scratch", 0, 0, G_OPTION_ARG_FILENAME, &scratch, "aggregates: scratch copy", "PATH"},
      {"rows", 0, 0, G_OPTION_ARG_INT, &rows, "aggregates: consultations (1000000); book: bookings",
       "N"},
      {"runs", 0, 0, G_OPTION_ARG_INT, &runs, "aggregates: timed runs per query (5)", "N"},
      {"reuse", 0, 0, G_OPTION_ARG_NONE, &reuse, "aggregates: the scratch file as it is", NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("seed|slots|search|book|aggregates");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error))
    die("options", error);
  if (argc < 2 || !db) {
    g_printerr("usage: sched-bench seed|slots|search|aggregates --db PATH …\n");
    return 2;
  }
  if (strcmp(argv[1], "seed") == 0 && admin && password && doctors > 0 && facilities > 0)
    return cmd_seed(db, doctors, facilities, patients, admin, password);
  if (strcmp(argv[1], "slots") == 0 && per_doctor > 0 && from > 0)
    return cmd_slots(db, per_doctor, from);
  if (strcmp(argv[1], "book") == 0 && from > 0)
    return cmd_book(db, rows, from);
  if (strcmp(argv[1], "search") == 0 && queries)
    return cmd_search(db, queries, warmup);
  if (strcmp(argv[1], "aggregates") == 0 && scratch && rows > 0 && runs > 0)
    return cmd_aggregates(db, scratch, rows, runs, reuse);
  g_printerr("sched-bench: bad subcommand or missing options (see --help)\n");
  return 2;
}

/* --- aggregates ------------------------------------------------------------------------------ */

/* The dashboard's aggregate queries, over the past year ([?1, ?2)), in the scheduler's schema.
 * Local days and weeks use the facilities' zone, Asia/Karachi (UTC+5, no DST; a facility in
 * another zone would need its offset per row). Percentiles are exact (nearest rank) with
 * window functions: SQLite has no percentile aggregate. Waits run from entering the waiting
 * room to the call's start; durations from start to end. */
typedef struct {
  const char *name;
  const char *sql;
} Aggregate;

#define GROUP_JOIN                                                                                 \
  " FROM appointments a JOIN facilities f ON f.id = a.facility_id"                                 \
  " JOIN services s ON s.id = a.service_id"

static const Aggregate aggregates[] = {
    {"volume per local day by facility",
     "SELECT a.facility_id, (a.starts_at + 18000) / 86400 AS day, count(*) FROM appointments a"
     " WHERE a.status = 'fulfilled' AND a.starts_at >= ?1 AND a.starts_at < ?2"
     " GROUP BY a.facility_id, day"},
    {"volume per week by district and specialty",
     "SELECT f.district, s.specialty, (a.starts_at + 18000 + 3 * 86400) / 604800 AS week,"
     " count(*)" GROUP_JOIN
     " WHERE a.status = 'fulfilled' AND a.starts_at >= ?1 AND a.starts_at < ?2"
     " GROUP BY f.district, s.specialty, week"},
    {"wait p50/p90 by district, facility, specialty",
     "WITH w AS (SELECT f.district AS district, a.facility_id AS facility, s.specialty AS "
     "specialty,"
     "  c.started_at - c.waiting_since AS v" GROUP_JOIN
     "  JOIN consultations c ON c.appointment_id = a.id"
     "  WHERE a.status = 'fulfilled' AND a.starts_at >= ?1 AND a.starts_at < ?2"
     "  AND c.started_at IS NOT NULL AND c.waiting_since IS NOT NULL),"
     " r AS (SELECT district, facility, specialty, v,"
     "  row_number() OVER (PARTITION BY district, facility, specialty ORDER BY v) AS rn,"
     "  count(*) OVER (PARTITION BY district, facility, specialty) AS n FROM w)"
     " SELECT district, facility, specialty, n, min(CASE WHEN rn >= 0.5 * n THEN v END),"
     " min(CASE WHEN rn >= 0.9 * n THEN v END) FROM r GROUP BY district, facility, specialty"},
    {"duration median by district, facility, specialty",
     "WITH w AS (SELECT f.district AS district, a.facility_id AS facility, s.specialty AS "
     "specialty,"
     "  c.ended_at - c.started_at AS v" GROUP_JOIN
     "  JOIN consultations c ON c.appointment_id = a.id"
     "  WHERE a.status = 'fulfilled' AND a.starts_at >= ?1 AND a.starts_at < ?2"
     "  AND c.ended_at IS NOT NULL AND c.started_at IS NOT NULL),"
     " r AS (SELECT district, facility, specialty, v,"
     "  row_number() OVER (PARTITION BY district, facility, specialty ORDER BY v) AS rn,"
     "  count(*) OVER (PARTITION BY district, facility, specialty) AS n FROM w)"
     " SELECT district, facility, specialty, n, min(CASE WHEN rn >= 0.5 * n THEN v END)"
     " FROM r GROUP BY district, facility, specialty"},
    {"no-show rate by district, facility, specialty",
     "SELECT f.district, a.facility_id, s.specialty, count(*), sum(a.status = 'noshow'),"
     " avg(a.status = 'noshow')" GROUP_JOIN
     " WHERE a.status IN ('fulfilled', 'noshow') AND a.starts_at >= ?1 AND a.starts_at < ?2"
     " GROUP BY f.district, a.facility_id, s.specialty"},
    /* A consultation fell back to audio if any participant's quality row says its video paused
     * for a weak link (consultation_quality, schema 4: one row per role). */
    {"audio-fallback share by district, facility, specialty",
     "WITH q AS (SELECT appointment_id, max(audio_only_weak_s) > 0 AS fell"
     "  FROM consultation_quality GROUP BY appointment_id)"
     " SELECT f.district, a.facility_id, s.specialty, count(*), sum(q.fell), avg(q.fell)" GROUP_JOIN
     " JOIN q ON q.appointment_id = a.id"
     " WHERE a.status = 'fulfilled' AND a.starts_at >= ?1 AND a.starts_at < ?2"
     " GROUP BY f.district, a.facility_id, s.specialty"},
};

/* The same aggregates through the scheduler's API (scheduler.h, "Statistics"): what the
 * dashboard calls. It reads the daily summary (table stats_daily, schema 3) that the store keeps
 * current in the transaction of every write to appointments and consultations; the last three
 * raw queries are one call (it returns waits, durations and no-show rate together). */
static const guint api_groupings[] = {
    SCHED_STATS_BY_DAY | SCHED_STATS_BY_FACILITY,
    SCHED_STATS_BY_WEEK | SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_SPECIALTY,
    SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY | SCHED_STATS_BY_SPECIALTY,
    SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY | SCHED_STATS_BY_SPECIALTY,
    SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY | SCHED_STATS_BY_SPECIALTY,
    SCHED_STATS_BY_DISTRICT | SCHED_STATS_BY_FACILITY | SCHED_STATS_BY_SPECIALTY,
};

/* The dashboard's groupings by patient fields (schema 8): no raw twin above; the summary cannot
 * answer them, so they read the range's appointments (timed, median of at most 3 runs). */
static const struct {
  const char *name;
  guint group_by;
  /* Schema 10: the same over the raw rows, for the agreement check (and timed once, like the
   * raw aggregates): group, consultations, no-shows, doctors active. The local date is
   * Karachi's (UTC+5); the age band as sched_stats_age_band(). */
  const char *raw_sql;
} patient_groupings[] = {
    {"by sex", SCHED_STATS_BY_SEX,
     "SELECT coalesce(p.sex, 'unknown') AS g, sum(a.status = 'fulfilled'),"
     " sum(a.status = 'noshow'), count(DISTINCT CASE WHEN a.status = 'fulfilled'"
     " THEN a.doctor_id END) FROM appointments a LEFT JOIN patients p ON p.id = a.patient_id"
     " WHERE a.status IN ('fulfilled', 'noshow') AND a.starts_at >= ?1 AND a.starts_at < ?2"
     " GROUP BY g"},
    {"by age band", SCHED_STATS_BY_AGE_BAND,
     "SELECT CASE WHEN birth_year IS NULL OR age < 0 THEN 'unknown' WHEN age < 18 THEN '0-17'"
     " WHEN age < 40 THEN '18-39' WHEN age < 60 THEN '40-59' ELSE '60+' END AS g,"
     " sum(status = 'fulfilled'), sum(status = 'noshow'), count(DISTINCT CASE WHEN"
     " status = 'fulfilled' THEN doctor_id END)"
     " FROM (SELECT a.status AS status, a.doctor_id AS doctor_id, p.birth_year AS birth_year,"
     "  CAST(strftime('%Y', a.starts_at + 18000, 'unixepoch') AS INTEGER) - p.birth_year AS age"
     "  FROM appointments a LEFT JOIN patients p ON p.id = a.patient_id"
     "  WHERE a.status IN ('fulfilled', 'noshow') AND a.starts_at >= ?1 AND a.starts_at < ?2)"
     " GROUP BY g"},
};

static guint64 rng_state = 0x9E3779B97F4A7C15ULL;
static guint32 rng(void) /* xorshift64*: deterministic synthetic data */
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (guint32)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void stmt_or_die(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
  if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
    g_printerr("sched-bench: prepare: %s\n  in: %.300s\n", sqlite3_errmsg(db), sql);
    exit(1);
  }
}

/* Runs an aggregate to its last row; returns the milliseconds and the row count. */
static double time_query(sqlite3 *db, const char *sql, gint64 from, gint64 to, guint *nrows)
{
  sqlite3_stmt *st = NULL;
  gint64 t0 = g_get_monotonic_time();
  stmt_or_die(db, sql, &st);
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  guint n = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    n++;
  if (rc != SQLITE_DONE) {
    g_printerr("sched-bench: query: %s\n", sqlite3_errmsg(db));
    exit(1);
  }
  sqlite3_finalize(st);
  *nrows = n;
  return (g_get_monotonic_time() - t0) / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int cmd_aggregates(const char *db_path, const char *scratch, int rows, int runs,
                          gboolean reuse)
{
  g_autoptr(GError) error = NULL;
  double open_s;
  if (!reuse) {
    g_unlink(scratch);
    sqlite3 *src = raw_open(db_path);
    g_autofree char *sql = g_strdup_printf("VACUUM INTO '%s'", scratch);
    raw_exec(src, sql);
    sqlite3_close(src);
  }
  /* Opening through the scheduler proves the copy has its schema (and migrates nothing; with
   * --reuse, a scratch file of an older schema is migrated here: its back-fill is timed). */
  {
    gint64 o0 = g_get_monotonic_time();
    g_autoptr(SchedStore) store = sched_store_open(scratch, &error);
    if (!store)
      die("open scratch", error);
    open_s = (g_get_monotonic_time() - o0) / 1e6;
  }

  sqlite3 *db = raw_open(scratch);
  gint64 t0 = g_get_monotonic_time();
  gint64 today = local_midnight(now_s());

  /* Doctors with their service and facility, as the seed made them. */
  GArray *ds = g_array_new(FALSE, FALSE, sizeof(gint64) * 3);
  sqlite3_stmt *st = NULL;
  stmt_or_die(db,
              "SELECT DISTINCT a.doctor_id, a.service_id, s.facility_id FROM availability a"
              " JOIN services s ON s.id = a.service_id ORDER BY a.doctor_id",
              &st);
  while (sqlite3_step(st) == SQLITE_ROW) {
    gint64 v[3] = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                   sqlite3_column_int64(st, 2)};
    g_array_append_vals(ds, v, 1);
  }
  sqlite3_finalize(st);
  gint64 pmin = 0, pmax = 0;
  stmt_or_die(db, "SELECT min(id), max(id) FROM patients", &st);
  if (sqlite3_step(st) == SQLITE_ROW) {
    pmin = sqlite3_column_int64(st, 0);
    pmax = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  if (ds->len == 0 || pmin <= 0) {
    g_printerr("sched-bench: aggregates: seed the database first\n");
    return 1;
  }

  /* `rows` past consultations: doctor k % D, its (k / D)-th slot counting back from
   * yesterday, 14 a day from 09:00 local (1,000,000 / 200 doctors = 5,000 each: 357 days).
   * 90 % fulfilled (waited 0-15 min, a quarter of them up to 45 min more; 4-24 min long),
   * 10 % no-shows (ended "no-show", never waited). */
  gint64 oldest = G_MAXINT64;
  if (reuse)
    goto generated;
  raw_exec(db, "PRAGMA synchronous = OFF");
  raw_exec(db, "BEGIN");
  sqlite3_stmt *ins_a = NULL, *ins_c = NULL, *ins_q = NULL;
  stmt_or_die(db,
              "INSERT INTO appointments (doctor_id, patient_id, starts_at, ends_at, status,"
              " created_at, updated_at, service_id, facility_id, kind)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, 'booked')",
              &ins_a);
  stmt_or_die(db,
              "INSERT INTO consultations (appointment_id, waiting_since, started_at, ended_at,"
              " outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
              &ins_c);
  /* Call quality as the relay records it: one row per participant's role; 12 % of the calls
   * had the patient's video paused for a weak link for 10 s to 5 min. */
  stmt_or_die(db,
              "INSERT INTO consultation_quality (appointment_id, role, samples, avg_score,"
              " avg_loss, avg_rtt_ms, avg_video_kbps, audio_only_weak_s, updated_at)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
              &ins_q);
  guint n_docs = ds->len;
  for (int k = 0; k < rows; k++) {
    const gint64 *v = (const gint64 *)ds->data + 3 * (k % n_docs);
    gint64 j = k / n_docs;
    gint64 day = today - (1 + j / 14) * 86400;
    gint64 starts = day + 9 * 3600 + (j % 14) * 900;
    gboolean noshow = rng() % 100 < 10;
    sqlite3_bind_int64(ins_a, 1, v[0]);
    sqlite3_bind_int64(ins_a, 2, pmin + rng() % (guint32)(pmax - pmin + 1));
    sqlite3_bind_int64(ins_a, 3, starts);
    sqlite3_bind_int64(ins_a, 4, starts + 900);
    sqlite3_bind_text(ins_a, 5, noshow ? "noshow" : "fulfilled", -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins_a, 6, starts - 86400 * (1 + rng() % 14));
    sqlite3_bind_int64(ins_a, 7, v[1]);
    sqlite3_bind_int64(ins_a, 8, v[2]);
    if (sqlite3_step(ins_a) != SQLITE_DONE) {
      g_printerr("sched-bench: insert appointment: %s\n", sqlite3_errmsg(db));
      return 1;
    }
    sqlite3_reset(ins_a);
    gint64 id = sqlite3_last_insert_rowid(db);
    sqlite3_bind_int64(ins_c, 1, id);
    if (noshow) {
      sqlite3_bind_null(ins_c, 2);
      sqlite3_bind_null(ins_c, 3);
      sqlite3_bind_int64(ins_c, 4, starts + 900);
      sqlite3_bind_text(ins_c, 5, "no-show", -1, SQLITE_STATIC);
    } else {
      gint64 waiting = starts - 600 + rng() % 900;
      gint64 wait = rng() % 900 + (rng() % 4 == 0 ? rng() % 2700 : 0);
      gint64 dur = 240 + rng() % 1200;
      sqlite3_bind_int64(ins_c, 2, waiting);
      sqlite3_bind_int64(ins_c, 3, waiting + wait);
      sqlite3_bind_int64(ins_c, 4, waiting + wait + dur);
      sqlite3_bind_text(ins_c, 5, rng() % 10 ? "completed" : "follow-up", -1, SQLITE_STATIC);
    }
    if (sqlite3_step(ins_c) != SQLITE_DONE) {
      g_printerr("sched-bench: insert consultation: %s\n", sqlite3_errmsg(db));
      return 1;
    }
    sqlite3_reset(ins_c);
    if (!noshow) {
      gboolean weak = rng() % 100 < 12;
      for (int role = 0; role < 2; role++) {
        sqlite3_bind_int64(ins_q, 1, id);
        sqlite3_bind_text(ins_q, 2, role ? "doctor" : "patient", -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins_q, 3, 30 + rng() % 120);
        sqlite3_bind_double(ins_q, 4, 2.0 + (rng() % 300) / 100.0);
        sqlite3_bind_double(ins_q, 5, (rng() % 800) / 10000.0);
        sqlite3_bind_double(ins_q, 6, 40 + rng() % 560);
        sqlite3_bind_double(ins_q, 7, 60 + rng() % 1400);
        sqlite3_bind_int64(ins_q, 8, weak && role == 0 ? 10 + rng() % 290 : 0);
        sqlite3_bind_int64(ins_q, 9, starts + 1800);
        if (sqlite3_step(ins_q) != SQLITE_DONE) {
          g_printerr("sched-bench: insert quality: %s\n", sqlite3_errmsg(db));
          return 1;
        }
        sqlite3_reset(ins_q);
      }
    }
    if (starts < oldest)
      oldest = starts;
  }
  sqlite3_finalize(ins_a);
  sqlite3_finalize(ins_c);
  sqlite3_finalize(ins_q);
  raw_exec(db, "COMMIT");
  raw_exec(db, "PRAGMA synchronous = FULL"); /* as the scheduler runs it */
  raw_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
generated:;
  double generate_s = reuse ? 0.0 : (g_get_monotonic_time() - t0) / 1e6;
  if (reuse) {
    stmt_or_die(db, "SELECT min(starts_at) FROM appointments WHERE starts_at < ?1", &st);
    sqlite3_bind_int64(st, 1, today);
    if (sqlite3_step(st) == SQLITE_ROW)
      oldest = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }

  gint64 n_appt = 0, n_cons = 0;
  stmt_or_die(
      db, "SELECT (SELECT count(*) FROM appointments), (SELECT count(*) FROM consultations)", &st);
  if (sqlite3_step(st) == SQLITE_ROW) {
    n_appt = sqlite3_column_int64(st, 0);
    n_cons = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);

  /* The dashboard's range: the past year up to today's local midnight. */
  gint64 from = today - 365 * 86400, to = today;
  guint nq = G_N_ELEMENTS(aggregates);
  G_STATIC_ASSERT(G_N_ELEMENTS(api_groupings) == G_N_ELEMENTS(aggregates));
  /* Before: the raw queries over the tables, one run each (they take seconds; the figures are
   * there for comparison, docs/performance.md). */
  g_autofree double *base = g_new0(double, nq), *api = g_new0(double, nq);
  g_autofree guint *nrows = g_new0(guint, nq), *api_rows = g_new0(guint, nq);
  for (guint i = 0; i < nq; i++)
    base[i] = time_query(db, aggregates[i].sql, from, to, &nrows[i]);
  gint64 stats_rows = 0, raw_fulfilled = 0, raw_noshow = 0, raw_fallbacks = 0, raw_doctors = 0;
  stmt_or_die(db,
              "SELECT (SELECT count(*) FROM stats_daily), (SELECT count(*) FROM appointments"
              " WHERE status = 'fulfilled' AND starts_at >= ?1 AND starts_at < ?2),"
              " (SELECT count(*) FROM appointments WHERE status = 'noshow' AND starts_at >= ?1"
              " AND starts_at < ?2),"
              " (SELECT count(DISTINCT q.appointment_id) FROM consultation_quality q"
              " JOIN appointments a ON a.id = q.appointment_id WHERE a.status = 'fulfilled'"
              " AND a.starts_at >= ?1 AND a.starts_at < ?2 AND q.audio_only_weak_s > 0),"
              " (SELECT count(DISTINCT doctor_id) FROM appointments WHERE status = 'fulfilled'"
              " AND starts_at >= ?1 AND starts_at < ?2)",
              &st);
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  if (sqlite3_step(st) == SQLITE_ROW) {
    stats_rows = sqlite3_column_int64(st, 0);
    raw_fulfilled = sqlite3_column_int64(st, 1);
    raw_noshow = sqlite3_column_int64(st, 2);
    raw_fallbacks = sqlite3_column_int64(st, 3);
    raw_doctors = sqlite3_column_int64(st, 4);
  }
  sqlite3_finalize(st);
  /* The groupings by patient fields over the raw rows: group → {consultations, no-shows,
   * doctors}. */
  guint np = G_N_ELEMENTS(patient_groupings);
  GHashTable *patient_raw[G_N_ELEMENTS(patient_groupings)];
  double patient_base_ms[G_N_ELEMENTS(patient_groupings)];
  for (guint i = 0; i < np; i++) {
    gint64 q0 = g_get_monotonic_time();
    patient_raw[i] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    stmt_or_die(db, patient_groupings[i].raw_sql, &st);
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    while (sqlite3_step(st) == SQLITE_ROW) {
      gint64 *v = g_new(gint64, 3);
      for (int k = 0; k < 3; k++)
        v[k] = sqlite3_column_int64(st, k + 1);
      g_hash_table_insert(patient_raw[i], g_strdup((const char *)sqlite3_column_text(st, 0)), v);
    }
    sqlite3_finalize(st);
    patient_base_ms[i] = (g_get_monotonic_time() - q0) / 1000.0;
  }
  sqlite3_close(db);

  /* After: the same aggregates through sched_stats_query(), median of `runs`, each call from
   * the request to the rows in memory. */
  g_autoptr(SchedStore) store = sched_store_open(scratch, &error);
  if (!store)
    die("open scratch", error);
  for (guint i = 0; i < nq; i++) {
    g_autofree double *t = g_new(double, runs);
    for (int r = 0; r < runs; r++) {
      SchedStatsQuery q = {.from = from, .to = to, .group_by = api_groupings[i]};
      gint64 q0 = g_get_monotonic_time();
      g_autoptr(GPtrArray) res = sched_stats_query(store, &q, &error);
      t[r] = (g_get_monotonic_time() - q0) / 1000.0;
      if (!res)
        die("stats", error);
      api_rows[i] = res->len;
    }
    qsort(t, runs, sizeof(double), cmp_double);
    api[i] = t[runs / 2];
  }
  double patient_ms[G_N_ELEMENTS(patient_groupings)];
  gboolean patient_agree = TRUE;
  guint patient_rows[G_N_ELEMENTS(patient_groupings)];
  for (guint i = 0; i < np; i++) {
    double t[3];
    int n = MIN(runs, 3);
    for (int r = 0; r < n; r++) {
      SchedStatsQuery q = {.from = from, .to = to, .group_by = patient_groupings[i].group_by};
      gint64 q0 = g_get_monotonic_time();
      g_autoptr(GPtrArray) res = sched_stats_query(store, &q, &error);
      t[r] = (g_get_monotonic_time() - q0) / 1000.0;
      if (!res)
        die("stats", error);
      patient_rows[i] = res->len;
      /* Every group equals the raw rows' (and no group is missing). */
      patient_agree = patient_agree && res->len == g_hash_table_size(patient_raw[i]);
      for (guint k = 0; k < res->len; k++) {
        const SchedStatsRow *pr = g_ptr_array_index(res, k);
        const char *g =
            patient_groupings[i].group_by == SCHED_STATS_BY_SEX ? pr->sex : pr->age_band;
        const gint64 *v = g ? g_hash_table_lookup(patient_raw[i], g) : NULL;
        patient_agree = patient_agree && v && v[0] == pr->consultations && v[1] == pr->noshows &&
                        v[2] == pr->doctors_active;
      }
    }
    qsort(t, n, sizeof(double), cmp_double);
    patient_ms[i] = t[n / 2];
  }
  /* The summary must agree with the raw rows (all facilities are in Asia/Karachi and the range
   * is whole local days, so the raw count by starts_at is the same range). */
  SchedStatsQuery tq = {.from = from, .to = to};
  g_autoptr(GPtrArray) total = sched_stats_query(store, &tq, &error);
  if (!total)
    die("stats", error);
  const SchedStatsRow *tr = total->len ? g_ptr_array_index(total, 0) : NULL;
  gboolean agree = tr && tr->consultations == raw_fulfilled && tr->noshows == raw_noshow &&
                   tr->audio_fallbacks == raw_fallbacks && tr->doctors_active == raw_doctors &&
                   patient_agree;

  g_print("{\"appointments\":%" G_GINT64_FORMAT ",\"consultations\":%" G_GINT64_FORMAT
          ",\"generate_s\":%.2f,\"open_s\":%.2f,\"reused\":%s,\"patient_groups_agree\":%s,\"from\":"
          "%" G_GINT64_FORMAT ",\"to\":%" G_GINT64_FORMAT ",\"oldest\":%" G_GINT64_FORMAT
          ",\"runs\":%d,\"stats_rows\":%" G_GINT64_FORMAT
          ",\"summary_agrees\":%s,\"total\":{\"consultations\":%" G_GINT64_FORMAT
          ",\"noshows\":%" G_GINT64_FORMAT ",\"wait_p50_min\":%d,\"wait_p90_min\":%d,"
          "\"duration_p50_min\":%d,\"quality_consultations\":%" G_GINT64_FORMAT
          ",\"audio_fallbacks\":%" G_GINT64_FORMAT ",\"doctors_active\":%" G_GINT64_FORMAT
          ",\"ratings\":%" G_GINT64_FORMAT ",\"median_loss\":%g,\"median_rtt_ms\":%g,"
          "\"median_video_kbps\":%g},\"queries\":[",
          n_appt, n_cons, generate_s, open_s, reuse ? "true" : "false",
          patient_agree ? "true" : "false", from, to, oldest, runs, stats_rows,
          agree ? "true" : "false", tr ? tr->consultations : 0, tr ? tr->noshows : 0,
          tr ? tr->wait_p50_min : -1, tr ? tr->wait_p90_min : -1, tr ? tr->duration_p50_min : -1,
          tr ? tr->quality_consultations : 0, tr ? tr->audio_fallbacks : 0,
          tr ? tr->doctors_active : 0, tr ? tr->ratings : 0, tr ? tr->median_loss : -1,
          tr ? tr->median_rtt_ms : -1, tr ? tr->median_video_kbps : -1);
  for (guint i = 0; i < nq; i++)
    g_print("%s{\"name\":\"%s\",\"rows\":%u,\"base_ms\":%.1f,\"api_ms\":%.2f,\"api_rows\":%u,"
            "\"group_by\":%u}",
            i ? "," : "", aggregates[i].name, nrows[i], base[i], api[i], api_rows[i],
            api_groupings[i]);
  g_print("],\"patient_queries\":[");
  for (guint i = 0; i < np; i++)
    g_print("%s{\"name\":\"%s\",\"api_ms\":%.2f,\"api_rows\":%u,\"group_by\":%u,"
            "\"base_ms\":%.1f}",
            i ? "," : "", patient_groupings[i].name, patient_ms[i], patient_rows[i],
            patient_groupings[i].group_by, patient_base_ms[i]);
  g_print("]}\n");
  for (guint i = 0; i < np; i++)
    g_hash_table_unref(patient_raw[i]);
  g_array_unref(ds);
  return 0;
}
