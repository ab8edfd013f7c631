/* sig-private.h — the signaling module's internal structures, shared by sig-server.c (the
 * libwebsockets glue), sig-api.c (the JSON API) and sig-consult.c (waiting room and calls).
 * Everything here lives on the main loop's thread. */
#pragma once

#include <libwebsockets.h>

#include "sig-authz.h"
#include "sig-api-check.h"
#include "sig-call.h"
#include "sig-limits.h"
#include "sig-msg.h"
#include "sig-quality.h"
#include "sig.h"

#define SIG_HTTP_MAX_BODY (16 * 1024)
#define SIG_SESSION_COOKIE "mw_session"

typedef struct SigConn SigConn;
typedef struct SigConsult SigConsult;

struct SigServer {
  SigConfig config; /* strings owned (copies) */
  SchedStore *store;
  SfuRelay *relay;
  struct lws_context *lws;
  GHashTable *conns;         /* SigConn* set (owned by their wsi lifetime) */
  GHashTable *participants;  /* participant id → SigConn* (authenticated) */
  GHashTable *tokens_in_use; /* token → SigConn* */
  GHashTable *consults;      /* appointment id (gint64*) → SigConsult* (owned) */
  gboolean closing;
  /* Group commit (sig-server.c): API responses made while the scheduler's batch is open wait
   * here (HttpPss*, in arrival order) until the batch has committed. */
  GQueue deferred;
  guint batch_idle;  /* commits the batch once the loop has nothing else ready */
  guint batch_timer; /* ... or after BATCH_MAX_DELAY_MS at the latest */
  /* Limits (sig-server.c, sig-api.c) */
  GHashTable *wsi_address;   /* struct lws* → char* its client address (every open connection) */
  GHashTable *address_conns; /* char* address → GUINT_TO_POINTER(open connections) */
  GHashTable *over_cap;      /* struct lws* set: connections beyond the per-address cap */
  SigBuckets *rate_address;  /* HTTP requests per address */
  SigBuckets *rate_token;    /* token routes and hellos per join token */
  SigBuckets *login_account; /* failed logins per username */
  SigBuckets *login_address; /* failed logins per address */
  /* Clinical content (sig-consult.c, sig-api-clinical.c): messages to pages that an API request
   * causes (a photo arrived, advice given), held until its writes are durable: the request's
   * own (SigNotice*), then the group commit's batch; dropped if either fails. */
  GQueue request_notices;
  GQueue batch_notices;
  SigBuckets *rate_chat;     /* chat messages per participant */
  struct SigStatic *statics; /* the web root's files in memory (sig-static.h) */
  guint waiting_refresh;     /* timer: sig_consult_refresh_waits() */
};

typedef enum { SIG_CONN_NEW, SIG_CONN_READY, SIG_CONN_CLOSING } SigConnPhase;

struct SigConn {
  SigServer *server;
  struct lws *wsi;
  SigConnPhase phase;
  char peer[64];
  char *session_cookie; /* from the upgrade request, if any */
  GQueue out;           /* char* JSON texts to send */
  GString *rx;          /* a message being reassembled from fragments */
  gboolean rx_discard;  /* the message being received was refused */
  guint auth_timer;
  int close_code; /* when phase == CLOSING */
  char *close_reason;
  /* after hello */
  char *participant_id;
  char *role; /* "patient", "doctor", guest roles */
  char *name; /* display name: personal data, never logged */
  gint64 staff_id;
  gint64 appointment_id; /* patients and guests */
  char *token;
  gint64 patient_id;   /* the patient's own connection; else 0 */
  gboolean audio_only; /* chose to receive audio only (a patient's choice is remembered) */
  SigConsult *consult; /* the consultation it waits for or takes part in (patients, guests,
                          and a doctor while in a call) */
  guint refusals;      /* error messages sent to it so far (sig-audit.c tells refusals apart) */
  gboolean released;   /* its participant was let go (departed, token freed) before its close */
};

struct SigConsult {
  SigServer *server;
  SigCall *call;
  SfuRoom *room; /* while someone is in the call */
  char *room_id;
  /* Link quality (sig-consult.c): the record's totals, written every QUALITY_WRITE_S and when
   * the call ends or empties; and per participant in the call, the rate limit of its quality
   * messages to the pages. */
  SigQuality *quality; /* from the first sample on */
  guint quality_timer; /* the periodic write */
  GHashTable *links;   /* participant id → QualityLink (owned) */
  /* Liveness in the call (sig-consult.c): participant id → MediaSeen (owned), checked every
   * LIVENESS_CHECK_MS while the room exists. */
  GHashTable *media_seen;
  guint liveness_timer;
};

/* sig-server.c */
void sig_conn_send(SigConn *conn, char *json_text /* transfer full */);
void sig_conn_send_json(SigConn *conn, json_t *object /* stolen */);
void sig_conn_close(SigConn *conn, int code, const char *reason);
gint64 sig_now(void);

/* sig-api.c: handles one HTTP request; returns the status and sets *body (transfer full),
 * and optionally *set_cookie (transfer full) for a Set-Cookie header. */
typedef struct {
  int method; /* LWSHUMETH_* */
  const char *path;
  const char *const *query; /* the query string's "key=value" arguments, URL-decoded, in order
                               (a key may repeat); NULL-terminated; NULL if there are none */
  const char *body;
  gsize body_len;
  const char *cookie_session; /* mw_session value or NULL */
  const char *peer;           /* the client's address (also for the audit log), or NULL */
  const char *host;           /* Host, Origin, Sec-Fetch-Site, X-CSRF-Token headers, or NULL */
  const char *origin;
  const char *sec_fetch_site;
  const char *csrf_token;
  const char *content_type; /* the Content-Type header, or NULL (photo uploads) */
  /* Set by sig_api_handle before any handler runs: the live session's staff member (borrowed;
   * NULL without one) and the caller's role in the authorisation table. */
  const SchedStaff *staff;
  SigRole role;
} SigHttpRequest;

typedef struct {
  int status;
  char *body;
  char *set_cookie;
  const char *content_type; /* static string; NULL means "application/json" */
  gint64 retry_after;       /* > 0: a Retry-After header (seconds) */
  gsize body_len;           /* > 0: `body` is binary and this long (a photo); 0: text */
} SigHttpResponse;

void sig_api_handle(SigServer *server, const SigHttpRequest *req, SigHttpResponse *resp);
char *sig_api_error_body(const char *code, const char *message, const char *field);
/* An API answer: `status` and `body` (stolen; NULL: no body). */
void sig_api_respond(SigHttpResponse *resp, int status, json_t *body);
/* An API refusal: `status` and the JSON error body {"error": code, "message", "field"}. */
void sig_api_fail(SigHttpResponse *resp, int status, const char *code, const char *message,
                  const char *field);

/* sig-api-clinic.c: the clinic's staff API (docs/api.md) and the .ics invites. Returns FALSE,
 * touching nothing, if the request is not one of its routes (sig_api_handle goes on). */
gboolean sig_api_clinic_handle(SigServer *server, const SigHttpRequest *req, SigHttpResponse *resp);
/* The route sig_api_clinic_handle would take for `method` and `path`: its allowed query keys
 * (comma-separated, NULL for none) and body fields (sig-api-check.h; ends with {NULL}), static.
 * FALSE if it has no such route. Pure (tests, fuzzers). */
gboolean sig_api_clinic_route(int method, const char *path, const char **query,
                              const SigApiField **body);
/* The value of the first query argument `key`, or NULL. */
const char *sig_http_query_get(const SigHttpRequest *req, const char *key);
/* The staff member behind the request's session cookie (transfer full), or NULL if there is no
 * live session (the audit log's actor, found before sig_api_handle runs). */
SchedStaff *sig_http_session_staff(SigServer *server, const SigHttpRequest *req);

/* sig-api-patient.c: the patient's page's routes under /api/join/<token>/ (consent, probe,
 * rating). FALSE, touching nothing, for any other path. */
gboolean sig_api_patient_handle(SigServer *server, const SigHttpRequest *req,
                                SigHttpResponse *resp);

/* sig-api-fhir.c: the FHIR R4 read and search face under /fhir/ (docs/api.md). */
void sig_api_fhir_handle(SigServer *server, const SigHttpRequest *req, SigHttpResponse *resp);
/* An OperationOutcome refusal (401 login, 403 forbidden, 404 not-found, 405 not-supported, 429
 * throttled) for a /fhir/ path. */
void sig_api_fhir_refuse(SigHttpResponse *resp, int status, const char *diagnostics);

/* sig-api-clinical.c: a consultation's clinical content over HTTP (photos, notes, advice, the
 * patient's details for the console; docs/api.md). FALSE, touching nothing, for another path. */
gboolean sig_api_clinical_handle(SigServer *server, const SigHttpRequest *req,
                                 SigHttpResponse *resp);
/* The largest request body the route of `method` and `path` takes: a photo upload's 2 MB, else
 * SIG_HTTP_MAX_BODY. Pure. */
gsize sig_api_max_body(int method, const char *path);

/* sig-consult.c: messages to the pages of one consultation, caused by an API request and sent
 * only once its writes are durable (sig-server.c releases them). */
typedef enum {
  SIG_TO_PATIENT, /* the patient's own page */
  SIG_TO_DOCTOR,  /* every console of the appointment's doctor */
} SigAudience;
void sig_notice_queue(SigServer *server, gint64 appointment_id, gint64 doctor_id, SigAudience to,
                      json_t *msg /* stolen */);
/* Sends (`send`) or drops every notice of `queue`, leaving it empty. */
void sig_notices_release(SigServer *server, GQueue *queue, gboolean send);
/* Appends every notice of `from` to `to`, leaving `from` empty. */
void sig_notices_move(GQueue *from, GQueue *to);

/* sig-consult.c */
void sig_consult_on_message(SigConn *conn, SigMsg *msg);
void sig_consult_on_closed(SigConn *conn);
void sig_consult_free_all(SigServer *server);
/* The live consultations' relay counters; only `doctor_id`'s if > 0. */
json_t *sig_consult_metrics(SigServer *server, gint64 doctor_id);
/* Sends every waiting patient a fresh `waiting` (the expected wait shrinks as the doctor's
 * running call goes on); the consoles' lists are not re-sent. Run every
 * SIG_WAITING_REFRESH_S by the server. */
#define SIG_WAITING_REFRESH_S 30
void sig_consult_refresh_waits(SigServer *server);

/* sig-audit.c: the audit log's hook points (see its header comment). sig_audit_http() runs
 * sig_api_handle() inside an audited unit and records the request (if its route is audited). */
void sig_audit_http(SigServer *server, const SigHttpRequest *req, SigHttpResponse *resp);
/* TRUE if the request's route is audited: it writes its row, so an audited read joins the group
 * commit like a write instead of paying a commit of its own. */
gboolean sig_audit_http_is_audited(const SigHttpRequest *req);
/* GET /api/audit (admin): FALSE, touching nothing, for any other path. */
gboolean sig_audit_api_handle(SigServer *server, const SigHttpRequest *req, SigHttpResponse *resp);
typedef struct {
  gboolean audited;
  gboolean own_unit;
  guint refusals;
  gint64 appointment_id;
} SigAuditWs;
/* Around one signaling message: FALSE if it cannot be recorded (then it must not run). */
gboolean sig_audit_ws_begin(SigConn *conn, const SigMsg *msg, SigAuditWs *audit);
void sig_audit_ws_end(SigConn *conn, const SigMsg *msg, const SigAuditWs *audit);
/* A connection lost while waiting or in a call. */
void sig_audit_ws_dropped(SigConn *conn, gint64 appointment_id);
