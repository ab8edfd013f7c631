/* sig-api-clinical.c — a consultation's clinical content over HTTP (docs/api.md, "Clinical
 * content"): the patient's photos of documents (upload by their join token; the doctor reads
 * them), the doctor's private notes, the advice given to the patient (the patient reads it by
 * their token), and the patient's details for the console during the call.
 *
 * sig_api_handle() has already applied the route's row of the authorisation table; here every
 * "own" route is narrowed to the appointment's own doctor and every token route to a valid
 * patient token (a guest's token is 403). A photo or advice stored here is announced over WSS
 * (sig_notice_queue) only once the request's writes are durable.
 * Thread: main loop. Privacy: texts, names, phones and photos appear in answers to those who may
 * see them, never in logs (ids only). */
#define G_LOG_DOMAIN "mashwara-sig"

#include <string.h>

#include "sig-private.h"

/* A scheduler error as HTTP: NOT_FOUND 404, INVALID 400, else 500 (logged by id only). */
static void fail_sched(SigHttpResponse *resp, const GError *error, const char *what)
{
  if (error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_NOT_FOUND) {
    g_autofree char *field = sched_error_field(error);
    return sig_api_fail(resp, 404, "not_found", sched_error_reason(error), field);
  }
  if (error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_INVALID) {
    g_autofree char *field = sched_error_field(error);
    return sig_api_fail(resp, 400, "invalid", sched_error_reason(error), field);
  }
  g_warning("%s failed: %s", what, error ? error->message : "?");
  sig_api_fail(resp, 500, "internal", "the request could not be completed", NULL);
}

static json_t *time_or_null(gint64 t)
{
  return t ? json_integer((json_int_t)t) : json_null();
}

static json_t *attachment_json(const SchedAttachment *a)
{
  g_autofree char *url =
      g_strdup_printf("/api/appointments/%" G_GINT64_FORMAT "/attachments/%" G_GINT64_FORMAT,
                      a->appointment_id, a->id);
  return json_pack("{s:I, s:s, s:I, s:I, s:s, s:s}", "id", (json_int_t)a->id, "media_type",
                   a->media_type, "size", (json_int_t)a->size, "uploaded_at",
                   (json_int_t)a->uploaded_at, "uploader_role", a->uploader_role, "url", url);
}

static json_t *advice_json(const SchedAdvice *a)
{
  return json_pack("{s:I, s:s, s:I}", "id", (json_int_t)a->id, "text", a->text, "given_at",
                   (json_int_t)a->given_at);
}

/* --- The patient's token routes ------------------------------------------------------------ */

/* The appointment of a valid patient token, or 0 with the refusal set (404/410/403 as
 * GET /api/join answers; 403 for a guest's token). (transfer full) *appointment. */
static gint64 patient_token(SigServer *s, const char *token, SigHttpResponse *resp,
                            SchedAppointment **appointment)
{
  g_autoptr(SchedTokenInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  SchedTokenVerdict v = sched_token_check(s->store, token, sig_now(), &info, &error);
  if (error) {
    sig_api_fail(resp, 500, "internal", "the link could not be checked", NULL);
    return 0;
  }
  switch (v) {
  case SCHED_TOKEN_MALFORMED:
  case SCHED_TOKEN_UNKNOWN:
    sig_api_fail(resp, 404, "unknown_token", "this link is not known", NULL);
    return 0;
  case SCHED_TOKEN_EXPIRED:
    sig_api_fail(resp, 410, "expired_token", "this link has expired", NULL);
    return 0;
  case SCHED_TOKEN_TOO_EARLY:
    sig_api_fail(resp, 403, "too_early", "this link is not open yet", NULL);
    return 0;
  case SCHED_TOKEN_REVOKED:
    sig_api_fail(resp, 410, "revoked_token", "this appointment was cancelled", NULL);
    return 0;
  case SCHED_TOKEN_VALID:
    break;
  }
  if (g_strcmp0(info->role, "patient") != 0) {
    sig_api_fail(resp, 403, "forbidden", "only the patient's own link may do this", NULL);
    return 0;
  }
  *appointment = sched_appointment_get(s->store, info->appointment_id, NULL);
  if (!*appointment) {
    sig_api_fail(resp, 404, "unknown_token", "this link is not known", NULL);
    return 0;
  }
  return info->appointment_id;
}

/* The media type of a Content-Type header ("image/png; x=y" → "image/png", lowercase), if it
 * is one a photo may have: static "image/jpeg" or "image/png", else NULL. */
static const char *photo_type(const char *content_type)
{
  if (!content_type)
    return NULL;
  const char *semi = strchr(content_type, ';');
  g_autofree char *t = g_ascii_strdown(content_type, semi ? (gssize)(semi - content_type)
                                                          : (gssize)strlen(content_type));
  g_strstrip(t);
  if (strcmp(t, "image/jpeg") == 0 || strcmp(t, "image/jpg") == 0)
    return "image/jpeg";
  if (strcmp(t, "image/png") == 0)
    return "image/png";
  return NULL;
}

/* POST /api/join/<token>/attachments: a photo of a document, the raw JPEG or PNG as the body. */
static void upload(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                   const char *token)
{
  g_autoptr(SchedAppointment) a = NULL;
  gint64 appointment_id = patient_token(s, token, resp, &a);
  if (!appointment_id)
    return;
  const char *type = photo_type(req->content_type);
  if (!type)
    return sig_api_fail(resp, 415, "unsupported_media_type",
                        "send the photo as image/jpeg or image/png", "content-type");
  if (req->body_len == 0)
    return sig_api_fail(resp, 400, "invalid", "the photo is empty", "size");
  const char *sniffed = sched_attachment_sniff((const guint8 *)req->body, req->body_len);
  if (g_strcmp0(sniffed, type) != 0)
    return sig_api_fail(resp, 400, "invalid", "the body is not the JPEG or PNG image it says it is",
                        "media_type");
  g_autoptr(GError) error = NULL;
  gint64 now = sig_now();
  gint64 id = sched_attachment_add(s->store, appointment_id, now, "patient", type,
                                   (const guint8 *)req->body, req->body_len, &error);
  if (!id)
    return fail_sched(resp, error, "attachment");
  SchedAttachment stored = {.id = id,
                            .appointment_id = appointment_id,
                            .uploaded_at = now,
                            .uploader_role = (char *)"patient",
                            .media_type = (char *)type,
                            .size = (gint64)req->body_len};
  g_message("appointment %" G_GINT64_FORMAT ": photo %" G_GINT64_FORMAT
            " received (%" G_GSIZE_FORMAT " bytes)",
            appointment_id, id, req->body_len);
  sig_notice_queue(s, appointment_id, a->doctor_id, SIG_TO_DOCTOR,
                   json_pack("{s:s, s:I, s:o}", "type", "attachment", "appointment_id",
                             (json_int_t)appointment_id, "attachment", attachment_json(&stored)));
  sig_api_respond(resp, 201, json_pack("{s:o}", "attachment", attachment_json(&stored)));
}

/* GET /api/join/<token>/advice: what the doctor advised, for the patient to read again. */
static void advice_read(SigServer *s, SigHttpResponse *resp, const char *token)
{
  g_autoptr(SchedAppointment) a = NULL;
  gint64 appointment_id = patient_token(s, token, resp, &a);
  if (!appointment_id)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = sched_advice_list(s->store, appointment_id, &error);
  if (!list)
    return fail_sched(resp, error, "advice list");
  json_t *arr = json_array();
  for (guint i = 0; i < list->len; i++)
    json_array_append_new(arr, advice_json(g_ptr_array_index(list, i)));
  sig_api_respond(
      resp, 200,
      json_pack("{s:o, s:s}", "advice", arr, "doctor_name", a->doctor_name ? a->doctor_name : ""));
}

/* --- The doctor's routes ------------------------------------------------------------------- */

/* The appointment if it is the caller's own, else NULL with 404/403 set. (transfer full) */
static SchedAppointment *own_appointment(SigServer *s, const SigHttpRequest *req,
                                         SigHttpResponse *resp, gint64 appointment_id)
{
  SchedAppointment *a = sched_appointment_get(s->store, appointment_id, NULL);
  if (!a) {
    sig_api_fail(resp, 404, "not_found", "no such appointment", "appointment_id");
    return NULL;
  }
  if (!req->staff || !sig_authz_owns(req->role, req->staff->id, a->doctor_id) ||
      req->role != SIG_ROLE_DOCTOR) {
    sched_appointment_free(a);
    sig_api_fail(resp, 403, "forbidden", "this is not your appointment", NULL);
    return NULL;
  }
  return a;
}

/* A body {"text": string} and nothing else; NULL with a 400 set otherwise. (transfer full) */
static json_t *text_body(const SigHttpRequest *req, SigHttpResponse *resp)
{
  static const SigApiField fields[] = {{"text", SIG_API_STR, TRUE}, {NULL}};
  if (req->body_len && !sig_json_depth_ok(req->body, req->body_len, SIG_JSON_MAX_DEPTH)) {
    sig_api_fail(resp, 400, "malformed_body", "the body nests too deeply", NULL);
    return NULL;
  }
  SigApiRefusal r = {0};
  json_t *body = sig_api_check_body(fields, req->body, req->body_len, &r);
  if (!body) {
    sig_api_fail(resp, 400, r.code, r.message, r.field);
    sig_api_refusal_clear(&r);
  }
  return body;
}

static void attachments_list(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                             gint64 appointment_id)
{
  g_autoptr(SchedAppointment) a = own_appointment(s, req, resp, appointment_id);
  if (!a)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = sched_attachments_list(s->store, appointment_id, &error);
  if (!list)
    return fail_sched(resp, error, "attachment list");
  json_t *arr = json_array();
  for (guint i = 0; i < list->len; i++)
    json_array_append_new(arr, attachment_json(g_ptr_array_index(list, i)));
  sig_api_respond(resp, 200, json_pack("{s:o}", "attachments", arr));
}

static void attachment_read(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                            gint64 appointment_id, gint64 attachment_id)
{
  g_autoptr(SchedAppointment) a = own_appointment(s, req, resp, appointment_id);
  if (!a)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedAttachment) p =
      sched_attachment_get(s->store, appointment_id, attachment_id, &error);
  if (!p)
    return fail_sched(resp, error, "attachment read");
  gsize n = 0;
  const guint8 *bytes = g_bytes_get_data(p->data, &n);
  if (n == 0)
    return sig_api_fail(resp, 500, "internal", "the photo could not be read", NULL);
  /* NUL-terminated too: the audit hook reads every answer as text first (and finds no JSON). */
  char *body = g_malloc(n + 1);
  memcpy(body, bytes, n);
  body[n] = '\0';
  resp->status = 200;
  resp->body = body;
  resp->body_len = n;
  resp->content_type = strcmp(p->media_type, "image/png") == 0 ? "image/png" : "image/jpeg";
}

static json_t *notes_json(const SchedNotes *n)
{
  return json_pack("{s:s, s:o}", "text", n && n->text ? n->text : "", "updated_at",
                   time_or_null(n ? n->updated_at : 0));
}

static void notes_read(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                       gint64 appointment_id)
{
  g_autoptr(SchedAppointment) a = own_appointment(s, req, resp, appointment_id);
  if (!a)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedNotes) n = sched_notes_get(s->store, appointment_id, &error);
  if (!n && !(error && error->domain == SCHED_ERROR && error->code == SCHED_ERROR_NOT_FOUND))
    return fail_sched(resp, error, "notes read");
  sig_api_respond(resp, 200, json_pack("{s:o}", "notes", notes_json(n)));
}

static void notes_write(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                        gint64 appointment_id)
{
  g_autoptr(SchedAppointment) a = own_appointment(s, req, resp, appointment_id);
  if (!a)
    return;
  g_autoptr(json_t) body = text_body(req, resp);
  if (!body)
    return;
  const char *text = json_string_value(json_object_get(body, "text"));
  g_autoptr(GError) error = NULL;
  gint64 now = sig_now();
  if (!sched_notes_put(s->store, appointment_id, req->staff->id, text, now, &error))
    return fail_sched(resp, error, "notes write");
  SchedNotes n = {.appointment_id = appointment_id, .updated_at = now, .text = (char *)text};
  sig_api_respond(resp, 200, json_pack("{s:o}", "notes", notes_json(&n)));
}

static void advice_give(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                        gint64 appointment_id)
{
  g_autoptr(SchedAppointment) a = own_appointment(s, req, resp, appointment_id);
  if (!a)
    return;
  g_autoptr(json_t) body = text_body(req, resp);
  if (!body)
    return;
  const char *text = json_string_value(json_object_get(body, "text"));
  g_autoptr(GError) error = NULL;
  gint64 now = sig_now();
  gint64 id = sched_advice_add(s->store, appointment_id, now, text, &error);
  if (!id)
    return fail_sched(resp, error, "advice");
  SchedAdvice given = {
      .id = id, .appointment_id = appointment_id, .given_at = now, .text = (char *)text};
  g_message("appointment %" G_GINT64_FORMAT ": advice %" G_GINT64_FORMAT " given", appointment_id,
            id);
  sig_notice_queue(s, appointment_id, a->doctor_id, SIG_TO_PATIENT,
                   json_pack("{s:s, s:I, s:o}", "type", "advice", "appointment_id",
                             (json_int_t)appointment_id, "advice", advice_json(&given)));
  sig_api_respond(resp, 201, json_pack("{s:o}", "advice", advice_json(&given)));
}

/* GET /api/appointments/<id>/patient: who the doctor is seeing, for the console's panel. */
static void patient_read(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp,
                         gint64 appointment_id)
{
  g_autoptr(SchedAppointment) a = own_appointment(s, req, resp, appointment_id);
  if (!a)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(SchedPatient) p = sched_patient_get(s->store, a->patient_id, &error);
  if (!p)
    return fail_sched(resp, error, "patient read");
  /* Earlier visits of this patient that took place (any doctor's: the history is the
   * patient's). */
  SchedAppointmentFilter f = {.patient_id = a->patient_id, .status = "fulfilled", .limit = 5000};
  g_autoptr(GPtrArray) visits = sched_appointments_search(s->store, &f, &error);
  if (!visits)
    return fail_sched(resp, error, "visits");
  gint64 previous = 0;
  for (guint i = 0; i < visits->len; i++) {
    SchedAppointment *v = g_ptr_array_index(visits, i);
    previous += v->id != a->id && v->starts_at < a->starts_at;
  }
  /* Age in whole years at this visit, as the statistics count it: the visit's year (UTC) minus
   * the birth year (schema 8); null if no birth year was recorded. */
  json_t *age = json_null();
  if (p->birth_year > 0) {
    g_autoptr(GDateTime) at = g_date_time_new_from_unix_utc(a->starts_at);
    if (at)
      age = json_integer(MAX(0, g_date_time_get_year(at) - p->birth_year));
  }
  json_t *patient =
      json_pack("{s:I, s:s, s:o, s:o, s:o, s:o}", "id", (json_int_t)p->id, "name",
                p->display_name ? p->display_name : "", "phone",
                p->phone ? json_string(p->phone) : json_null(), "preferred_language",
                p->preferred_language ? json_string(p->preferred_language) : json_null(), "age",
                age, "sex", p->sex ? json_string(p->sex) : json_null());
  json_t *visit = json_pack("{s:I, s:s, s:s, s:I, s:I, s:o}", "id", (json_int_t)a->id, "kind",
                            a->kind ? a->kind : "booked", "status", a->status, "starts_at",
                            (json_int_t)a->starts_at, "ends_at", (json_int_t)a->ends_at,
                            "queue_number", time_or_null(a->queue_number));
  sig_api_respond(resp, 200,
                  json_pack("{s:o, s:o, s:I}", "patient", patient, "visit", visit,
                            "previous_visits", (json_int_t)previous));
}

/* --- Routing ------------------------------------------------------------------------------ */

gsize sig_api_max_body(int method, const char *path)
{
  if (method == LWSHUMETH_POST && path &&
      sig_authz_match("/api/join/*/attachments", path, NULL, NULL))
    return SCHED_ATTACHMENT_MAX_BYTES;
  return SIG_HTTP_MAX_BODY;
}

/* Parses "/api/appointments/<id>/<what>[/<id2>]": FALSE if the path is not of that shape. */
static gboolean appointment_path(const char *path, gint64 *id, const char **what, gint64 *id2)
{
  static const char *const patterns[] = {"/api/appointments/#/attachments",
                                         "/api/appointments/#/notes", "/api/appointments/#/advice",
                                         "/api/appointments/#/patient"};
  for (gsize i = 0; i < G_N_ELEMENTS(patterns); i++) {
    if (sig_authz_match(patterns[i], path, id, NULL)) {
      *what = strrchr(patterns[i], '/') + 1;
      *id2 = 0;
      return TRUE;
    }
  }
  if (sig_authz_match("/api/appointments/#/attachments/#", path, id2, NULL)) {
    /* The first id: the segment after /api/appointments/. */
    const char *p = path + strlen("/api/appointments/");
    *id = g_ascii_strtoll(p, NULL, 10);
    *what = "attachment";
    return TRUE;
  }
  return FALSE;
}

gboolean sig_api_clinical_handle(SigServer *s, const SigHttpRequest *req, SigHttpResponse *resp)
{
  const char *word = NULL;
  if (req->method == LWSHUMETH_POST &&
      sig_authz_match("/api/join/*/attachments", req->path, NULL, &word)) {
    g_autofree char *token = g_strndup(word, (gsize)(strchr(word, '/') - word));
    upload(s, req, resp, token);
    return TRUE;
  }
  if (req->method == LWSHUMETH_GET &&
      sig_authz_match("/api/join/*/advice", req->path, NULL, &word)) {
    g_autofree char *token = g_strndup(word, (gsize)(strchr(word, '/') - word));
    advice_read(s, resp, token);
    return TRUE;
  }
  gint64 id = 0, id2 = 0;
  const char *what = NULL;
  if (!appointment_path(req->path, &id, &what, &id2))
    return FALSE;
  gboolean get = req->method == LWSHUMETH_GET, put = req->method == LWSHUMETH_PUT,
           post = req->method == LWSHUMETH_POST;
  if (strcmp(what, "attachments") == 0 && get)
    attachments_list(s, req, resp, id);
  else if (strcmp(what, "attachment") == 0 && get)
    attachment_read(s, req, resp, id, id2);
  else if (strcmp(what, "notes") == 0 && get)
    notes_read(s, req, resp, id);
  else if (strcmp(what, "notes") == 0 && put)
    notes_write(s, req, resp, id);
  else if (strcmp(what, "advice") == 0 && post)
    advice_give(s, req, resp, id);
  else if (strcmp(what, "patient") == 0 && get)
    patient_read(s, req, resp, id);
  else
    sig_api_fail(resp, 405, "method_not_allowed", "this path does not take that method", NULL);
  return TRUE;
}
