/* sched-patient.c — the scheduler's calls for the patient's page (scheduler.h, "The patient's
 * page"): consent records, the patient's rating, and a doctor's typical consultation length for
 * the waiting room's expected wait. Argument checks here; storage in the backend (schema 6).
 * Main loop's thread only. Comments are personal data: never in a log or an error message. */
#include "sched-private.h"

#include <stdlib.h>
#include <string.h>

static const char *const token_roles[] = {"patient", "interpreter", "specialist", "family"};

/* How far back and how many finished consultations make a doctor's typical length. */
#define TYPICAL_WINDOW_S (30 * 86400)
#define TYPICAL_LAST_N 10
#define TYPICAL_MIN_N 3

void sched_consent_free(SchedConsent *consent)
{
  if (consent == NULL)
    return;
  g_free(consent->role);
  g_free(consent->version);
  g_free(consent->language);
  g_free(consent);
}

void sched_rating_free(SchedRating *rating)
{
  if (rating == NULL)
    return;
  g_free(rating->comment);
  g_free(rating);
}

static gboolean valid_version(const char *v)
{
  gsize n = v ? strlen(v) : 0;
  if (n == 0 || n > SCHED_CONSENT_VERSION_MAX)
    return FALSE;
  for (const char *p = v; *p; p++)
    if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean valid_language(const char *l)
{
  return l && g_ascii_islower(l[0]) && g_ascii_islower(l[1]) && l[2] == '\0';
}

gboolean sched_consent_record(SchedStore *store, gint64 appointment_id, const char *role,
                              const char *version, const char *language, gint64 now, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  if (!sched__in_set(role, token_roles, G_N_ELEMENTS(token_roles))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "role", "not a join token's role");
    return FALSE;
  }
  if (!valid_version(version)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "version",
                       "1 to %d letters, digits, '.', '-' or '_'", SCHED_CONSENT_VERSION_MAX);
    return FALSE;
  }
  if (!valid_language(language)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "language", "two lowercase letters");
    return FALSE;
  }
  if (appointment_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                       "no appointment %" G_GINT64_FORMAT, appointment_id);
    return FALSE;
  }
  SchedConsent c = {
      .appointment_id = appointment_id,
      .role = (char *)role,
      .version = (char *)version,
      .language = (char *)language,
      .accepted_at = now ? now : sched__now_s(),
  };
  return store->backend->consent_insert(store->db, &c, error);
}

SchedConsent *sched_consent_latest(SchedStore *store, gint64 appointment_id, const char *role,
                                   GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(role != NULL, NULL);
  return store->backend->consent_latest(store->db, appointment_id, role, error);
}

/* UTF-8, 0..max characters, no control characters but newline and tab. */
static gboolean valid_comment(const char *s)
{
  gsize len = strlen(s);
  if (!g_utf8_validate(s, (gssize)len, NULL) ||
      g_utf8_strlen(s, (gssize)len) > SCHED_RATING_COMMENT_MAX_CHARS)
    return FALSE;
  for (const char *p = s; *p; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    if (g_unichar_iscntrl(c) && c != '\n' && c != '\t')
      return FALSE;
  }
  return TRUE;
}

gboolean sched_rating_put(SchedStore *store, gint64 appointment_id, int stars, const char *comment,
                          gint64 now, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  if (stars < 1 || stars > 5) {
    sched__field_error(error, SCHED_ERROR_INVALID, "stars", "1 to 5");
    return FALSE;
  }
  if (comment && !valid_comment(comment)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "comment",
                       "at most %d characters, no control characters",
                       SCHED_RATING_COMMENT_MAX_CHARS);
    return FALSE;
  }
  g_autoptr(GError) local = NULL;
  g_autoptr(SchedConsultation) c = sched_consultation_get(store, appointment_id, &local);
  if (c == NULL || c->started_at == 0) {
    if (local && local->code != SCHED_ERROR_NOT_FOUND) {
      g_propagate_error(error, g_steal_pointer(&local));
      return FALSE;
    }
    if (!c) {
      /* No record: either no such appointment or a consultation that never began. */
      g_autoptr(SchedAppointment) a = sched_appointment_get(store, appointment_id, NULL);
      if (!a) {
        sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id",
                           "no appointment %" G_GINT64_FORMAT, appointment_id);
        return FALSE;
      }
    }
    sched__field_error(error, SCHED_ERROR_CONFLICT, "status", "the consultation has not started");
    return FALSE;
  }
  SchedRating r = {
      .appointment_id = appointment_id,
      .stars = stars,
      .comment = comment && *comment ? (char *)comment : NULL,
      .rated_at = now ? now : sched__now_s(),
  };
  return store->backend->rating_insert(store->db, &r, error);
}

SchedRating *sched_rating_get(SchedStore *store, gint64 appointment_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  return store->backend->rating_get(store->db, appointment_id, error);
}

static int cmp_gint64(gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

gint64 sched_doctor_typical_duration(SchedStore *store, gint64 doctor_id, gint64 now,
                                     GError **error)
{
  g_return_val_if_fail(store != NULL, 0);
  if (now == 0)
    now = sched__now_s();
  g_autoptr(GArray) d = g_array_new(FALSE, FALSE, sizeof(gint64));
  if (!store->backend->doctor_durations(store->db, doctor_id, now - TYPICAL_WINDOW_S,
                                        TYPICAL_LAST_N, d, error))
    return 0;
  if (d->len < TYPICAL_MIN_N)
    return 0;
  g_array_sort(d, cmp_gint64);
  return g_array_index(d, gint64, d->len / 2);
}
