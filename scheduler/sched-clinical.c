/* sched-clinical.c — a consultation's clinical content (scheduler.h, "Clinical content of a
 * consultation"): chat messages, photos of documents, the doctor's private notes, the advice
 * given to the patient. Argument checks here; storage in the backend's clinical table
 * (sched-clinical-backend.h, schema 7). No text of these ever reaches a log or an error
 * message: errors name the field only. Main loop's thread only. */
#include "sched-clinical-backend.h"
#include "sched-private.h"

#include <string.h>

static const char *const roles[] = {"patient",    "doctor", "interpreter",
                                    "specialist", "family", "admin"};

static const SchedClinicalBackend *clinical_backend(SchedStore *store, GError **error)
{
  if (store->backend == &sched_backend_sqlite)
    return &sched_clinical_backend_sqlite;
  g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "clinical content: not supported by backend %s",
              store->backend->name);
  return NULL;
}

void sched_chat_message_free(SchedChatMessage *m)
{
  if (m == NULL)
    return;
  g_free(m->sender_role);
  g_free(m->sender_name);
  g_free(m->text);
  g_free(m);
}

void sched_attachment_free(SchedAttachment *a)
{
  if (a == NULL)
    return;
  g_free(a->uploader_role);
  g_free(a->media_type);
  if (a->data)
    g_bytes_unref(a->data);
  g_free(a);
}

void sched_notes_free(SchedNotes *n)
{
  if (n == NULL)
    return;
  g_free(n->text);
  g_free(n);
}

void sched_advice_free(SchedAdvice *a)
{
  if (a == NULL)
    return;
  g_free(a->text);
  g_free(a);
}

/* UTF-8 of at most `max_chars` characters, no control character but newline and tab; unless
 * `may_be_empty`, at least one visible character. */
static gboolean valid_clinical_text(const char *s, glong max_chars, gboolean may_be_empty)
{
  gboolean visible = FALSE;
  glong n = 0;
  if (s == NULL || !g_utf8_validate(s, -1, NULL))
    return FALSE;
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    if (++n > max_chars)
      return FALSE;
    if (g_unichar_iscntrl(c) && c != '\n' && c != '\t')
      return FALSE;
    if (!g_unichar_isspace(c))
      visible = TRUE;
  }
  return visible || may_be_empty;
}

static gboolean check_appointment(gint64 appointment_id, GError **error)
{
  if (appointment_id > 0)
    return TRUE;
  sched__field_error(error, SCHED_ERROR_NOT_FOUND, "appointment_id", "no such appointment");
  return FALSE;
}

gint64 sched_chat_add(SchedStore *store, gint64 appointment_id, gint64 sent_at_ms,
                      const char *sender_role, const char *sender_name, const char *text,
                      GError **error)
{
  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  const SchedClinicalBackend *be = clinical_backend(store, error);
  if (be == NULL || !check_appointment(appointment_id, error))
    return 0;
  if (!valid_clinical_text(text, SCHED_CHAT_MAX_CHARS, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "text", "1 to %d characters",
                       SCHED_CHAT_MAX_CHARS);
    return 0;
  }
  if (!sched__in_set(sender_role, roles, G_N_ELEMENTS(roles))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "sender_role", "unknown role");
    return 0;
  }
  if (sender_name == NULL || !g_utf8_validate(sender_name, -1, NULL) ||
      strlen(sender_name) > 1024) {
    sched__field_error(error, SCHED_ERROR_INVALID, "sender_name", "not a name");
    return 0;
  }
  return be->chat_insert(store->db, appointment_id, sent_at_ms, sender_role, sender_name, text,
                         error);
}

GPtrArray *sched_chat_list(SchedStore *store, gint64 appointment_id, guint limit, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  const SchedClinicalBackend *be = clinical_backend(store, error);
  if (be == NULL)
    return NULL;
  return be->chat_list(store->db, appointment_id, limit ? limit : 200, error);
}

const char *sched_attachment_sniff(const guint8 *data, gsize len)
{
  static const guint8 png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (data == NULL)
    return NULL;
  if (len >= sizeof png + 8 && memcmp(data, png, sizeof png) == 0)
    return "image/png";
  if (len >= 4 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return "image/jpeg";
  return NULL;
}

gint64 sched_attachment_add(SchedStore *store, gint64 appointment_id, gint64 uploaded_at,
                            const char *uploader_role, const char *media_type, const guint8 *data,
                            gsize len, GError **error)
{
  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  const SchedClinicalBackend *be = clinical_backend(store, error);
  if (be == NULL || !check_appointment(appointment_id, error))
    return 0;
  if (len == 0 || len > SCHED_ATTACHMENT_MAX_BYTES) {
    sched__field_error(error, SCHED_ERROR_INVALID, "size", "1 to %d bytes",
                       SCHED_ATTACHMENT_MAX_BYTES);
    return 0;
  }
  const char *sniffed = sched_attachment_sniff(data, len);
  if (sniffed == NULL || g_strcmp0(sniffed, media_type) != 0) {
    sched__field_error(error, SCHED_ERROR_INVALID, "media_type", "not a JPEG or PNG image");
    return 0;
  }
  if (!sched__in_set(uploader_role, roles, G_N_ELEMENTS(roles))) {
    sched__field_error(error, SCHED_ERROR_INVALID, "uploader_role", "unknown role");
    return 0;
  }
  return be->attachment_insert(store->db, appointment_id, uploaded_at, uploader_role, sniffed, data,
                               len, error);
}

SchedAttachment *sched_attachment_get(SchedStore *store, gint64 appointment_id,
                                      gint64 attachment_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  const SchedClinicalBackend *be = clinical_backend(store, error);
  if (be == NULL)
    return NULL;
  if (attachment_id <= 0) {
    sched__field_error(error, SCHED_ERROR_NOT_FOUND, "attachment_id", "no such photo");
    return NULL;
  }
  return be->attachment_get(store->db, appointment_id, attachment_id, error);
}

GPtrArray *sched_attachments_list(SchedStore *store, gint64 appointment_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  const SchedClinicalBackend *be = clinical_backend(store, error);
  return be ? be->attachment_list(store->db, appointment_id, error) : NULL;
}

SchedNotes *sched_notes_get(SchedStore *store, gint64 appointment_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  const SchedClinicalBackend *be = clinical_backend(store, error);
  return be ? be->notes_get(store->db, appointment_id, error) : NULL;
}

gboolean sched_notes_put(SchedStore *store, gint64 appointment_id, gint64 doctor_id,
                         const char *text, gint64 updated_at, GError **error)
{
  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  const SchedClinicalBackend *be = clinical_backend(store, error);
  if (be == NULL || !check_appointment(appointment_id, error))
    return FALSE;
  if (!valid_clinical_text(text, SCHED_NOTES_MAX_CHARS, TRUE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "text", "at most %d characters",
                       SCHED_NOTES_MAX_CHARS);
    return FALSE;
  }
  return be->notes_put(store->db, appointment_id, doctor_id, text, updated_at, error);
}

gint64 sched_advice_add(SchedStore *store, gint64 appointment_id, gint64 given_at, const char *text,
                        GError **error)
{
  g_return_val_if_fail(store != NULL, 0);
  g_return_val_if_fail(error == NULL || *error == NULL, 0);
  const SchedClinicalBackend *be = clinical_backend(store, error);
  if (be == NULL || !check_appointment(appointment_id, error))
    return 0;
  if (!valid_clinical_text(text, SCHED_ADVICE_MAX_CHARS, FALSE)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "text", "1 to %d characters",
                       SCHED_ADVICE_MAX_CHARS);
    return 0;
  }
  return be->advice_insert(store->db, appointment_id, given_at, text, error);
}

GPtrArray *sched_advice_list(SchedStore *store, gint64 appointment_id, GError **error)
{
  g_return_val_if_fail(store != NULL, NULL);
  const SchedClinicalBackend *be = clinical_backend(store, error);
  return be ? be->advice_list(store->db, appointment_id, error) : NULL;
}
