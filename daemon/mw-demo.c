/* mw-demo.c — a synthetic history for the demo and the dashboard's tests (mw-demo.h): facilities
 * in several districts, services, doctors, patients with a realistic spread of sex and birth
 * year, and past consultations (waits, durations, outcomes, no-shows, cancellations, call
 * quality that is worse in one district), written through the scheduler's public API only, in
 * one group commit. Deterministic for a given seed. No personal data of real people: names are
 * "Demo Patient N (prefix)", phones random. Thread: the caller's (the admin command line, or the
 * daemon before its loop runs). */
#include "mw-demo.h"

#include <string.h>

typedef struct {
  const char *name, *district, *specialty;
  double loss, rtt_ms, kbps, weak_share; /* the district's network: typical values */
  int extra_wait_min;
} DemoFacility;

static const DemoFacility facilities[] = {
    {"BHU Shadbagh", "Lahore", "general", 0.01, 80, 900, 0.05, 4},
    {"RHC Raiwind", "Lahore", "paediatrics", 0.02, 110, 700, 0.08, 8},
    {"THQ Kharian", "Gujrat", "gynaecology", 0.03, 160, 500, 0.15, 12},
    {"Civil Dispensary Lyari", "Karachi South", "general", 0.07, 290, 260, 0.35, 20},
    {"Mobile Unit Tharparkar", "Tharparkar", "dermatology", 0.11, 420, 150, 0.55, 6},
};

/* Ages at the time of the visit, roughly a district clinic's case mix. */
static int demo_birth_year(GRand *rng, int this_year)
{
  double u = g_rand_double(rng);
  int age;
  if (u < 0.04)
    return 0; /* not recorded */
  if (u < 0.28)
    age = g_rand_int_range(rng, 0, 18);
  else if (u < 0.66)
    age = g_rand_int_range(rng, 18, 40);
  else if (u < 0.88)
    age = g_rand_int_range(rng, 40, 60);
  else
    age = g_rand_int_range(rng, 60, 90);
  return this_year - age;
}

static const char *demo_sex(GRand *rng)
{
  double u = g_rand_double(rng);
  return u < 0.52 ? "female" : u < 0.95 ? "male" : u < 0.97 ? "other" : NULL;
}

static double jitter(GRand *rng, double v)
{
  return v * (0.5 + g_rand_double(rng));
}

gboolean mw_demo_history(SchedStore *store, const MwDemoHistory *opts, MwDemoCounts *counts,
                         GError **error)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed(opts->seed);
  const guint nf = G_N_ELEMENTS(facilities);
  gint64 fac[G_N_ELEMENTS(facilities)], svc[G_N_ELEMENTS(facilities)];
  gint64 doc[G_N_ELEMENTS(facilities)][2];
  g_autoptr(GArray) patients = g_array_new(FALSE, FALSE, sizeof(gint64));
  g_autoptr(GDateTime) now_dt = g_date_time_new_now_utc();
  const gint64 now = opts->now ? opts->now : g_date_time_to_unix(now_dt);
  const int this_year = g_date_time_get_year(now_dt);
  const char *prefix = opts->prefix ? opts->prefix : "demo";
  MwDemoCounts c = {0};

  g_return_val_if_fail(store != NULL && opts != NULL && opts->password != NULL, FALSE);
  /* One transaction for everything: one wait for the write lock (a running daemon holds it
   * now and then) and one commit, instead of one of each per write. */
  sched_store_batch_begin(store);
  for (guint i = 0; i < nf; i++) {
    const DemoFacility *f = &facilities[i];
    g_autofree char *fname = g_strdup_printf("%s (%s)", f->name, prefix);
    fac[i] = sched_facility_add(store, fname, f->district, "public", "Asia/Karachi", error);
    if (!fac[i])
      goto fail;
    SchedService spec = {.facility_id = fac[i],
                         .name = (char *)"Video consultation",
                         .specialty = (char *)f->specialty,
                         .duration_min = 15};
    svc[i] = sched_service_add(store, &spec, error);
    if (!svc[i])
      goto fail;
    for (int k = 0; k < 2; k++) {
      g_autofree char *user = g_strdup_printf("%s.dr%u%c", prefix, i + 1, 'a' + k);
      g_autofree char *name = g_strdup_printf("Dr Demo %u%c (%s)", i + 1, 'A' + k, prefix);
      doc[i][k] = sched_doctor_add(store, user, name, opts->password, error);
      if (!doc[i][k])
        goto fail;
      const char *langs[] = {"ur", "en", NULL};
      if (!sched_doctor_set_profile(store, doc[i][k], fac[i], f->specialty, langs,
                                    k ? "male" : "female", error))
        goto fail;
    }
  }

  for (guint i = 0; i < opts->patients; i++) {
    g_autofree char *name = g_strdup_printf("Demo Patient %u (%s)", i + 1, prefix);
    g_autofree char *phone = g_strdup_printf("+92 3%02u %07u", g_rand_int_range(rng, 0, 50),
                                             g_rand_int_range(rng, 0, 10000000));
    const SchedPatientSpec spec = {.display_name = name,
                                   .phone = phone,
                                   .preferred_language = g_rand_boolean(rng) ? "ur" : NULL,
                                   .sex = demo_sex(rng),
                                   .birth_year = demo_birth_year(rng, this_year)};
    gint64 id = sched_patient_create(store, &spec, error);
    if (!id)
      goto fail;
    g_array_append_val(patients, id);
    c.patients++;
  }
  if (patients->len == 0)
    goto done;

  /* Day d's clinic hours, 09:00 .. 16:00 Karachi (UTC+5), for every past day of the range. */
  for (int d = (int)opts->days; d >= 1; d--) {
    gint64 day0 = (now / 86400 - d) * 86400 + 4 * 3600; /* 09:00 PKT */
    for (guint i = 0; i < nf; i++) {
      const DemoFacility *f = &facilities[i];
      /* Fewer visits on Sundays; the busy clinics busier. */
      gint64 weekday = ((day0 / 86400) + 3) % 7; /* 0 = Monday */
      int n = g_rand_int_range(rng, 0, (int)opts->per_day + 1) + (i == 0 || i == 3 ? 2 : 0);
      if (weekday == 6)
        n /= 3;
      /* The mobile unit calls in on one day in four, for one patient: its groups stay small
       * (shown as "<5") in short ranges. */
      if (i == nf - 1)
        n = d % 4 == 0;
      for (int k = 0; k < n; k++) {
        gint64 at = day0 + g_rand_int_range(rng, 0, 7 * 3600);
        gint64 patient = g_array_index(patients, gint64, g_rand_int_range(rng, 0, patients->len));
        gint64 doctor = doc[i][g_rand_int_range(rng, 0, 2)];
        gint64 appt = sched_walkin_add(store, doctor, patient, svc[i], at, NULL, error);
        double u = g_rand_double(rng);
        if (!appt)
          goto fail;
        c.appointments++;
        if (u < 0.05) { /* cancelled by the clinic or the patient */
          /* The status alone: a cancellation through sched_appointment_cancel would queue a
           * text message to the (made-up) phone for a visit long past. */
          if (!sched_appointment_set_status(store, appt, "cancelled", error))
            goto fail;
          continue;
        }
        if (u < 0.13) { /* did not come */
          if (!sched_consultation_ended(store, appt, at + 1800, "no-show", error))
            goto fail;
          continue;
        }
        gint64 waiting = at - g_rand_int_range(rng, 0, 600);
        gint64 wait =
            (gint64)(g_rand_int_range(rng, 0, 15) + f->extra_wait_min * g_rand_double(rng) * 2) *
            60;
        gint64 started = at + wait;
        gint64 ended = started + g_rand_int_range(rng, 4 * 60, 25 * 60);
        double o = g_rand_double(rng);
        const char *outcome = o < 0.04   ? "interrupted"
                              : o < 0.70 ? "completed"
                              : o < 0.88 ? "follow-up"
                                         : "referred";
        if (!sched_consultation_waiting(store, appt, waiting, error) ||
            !sched_consultation_started(store, appt, started, error) ||
            !sched_consultation_ended(store, appt, ended, outcome, error))
          goto fail;
        gboolean weak = g_rand_double(rng) < f->weak_share;
        SchedCallQuality q[2];
        const char *roles[2] = {"patient", "doctor"};
        for (int r = 0; r < 2; r++) {
          double loss = MIN(0.5, jitter(rng, f->loss) / (r ? 3 : 1));
          q[r] = (SchedCallQuality){
              .appointment_id = appt,
              .role = (char *)roles[r],
              .samples = (ended - started),
              .avg_score = CLAMP(5.0 - loss * 30 - f->rtt_ms / 200, 1.0, 5.0),
              .avg_loss = loss,
              .avg_rtt_ms = jitter(rng, f->rtt_ms),
              .avg_video_kbps = weak ? jitter(rng, f->kbps) / 2 : jitter(rng, f->kbps),
              .audio_only_weak_s = weak && r == 0 ? g_rand_int_range(rng, 10, 300) : 0,
              .updated_at = ended,
          };
        }
        if (!sched_consultation_quality_put(store, q, 2, error))
          goto fail;
        c.consultations++;
      }
    }
  }
done:
  if (!sched_store_batch_commit(store, error))
    return FALSE;
  if (counts)
    *counts = c;
  return TRUE;
fail : {
  g_autoptr(GError) ignored = NULL;
  sched_store_batch_commit(store, &ignored);
}
  return FALSE;
}
