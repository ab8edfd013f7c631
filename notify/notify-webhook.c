/* notify-webhook.c — the SMS-gateway sender: one HTTP POST per notice, with libsoup 3 on the
 * main context (asynchronous; nothing blocks the loop).
 *
 *   POST <webhook_url>
 *   Content-Type: application/json
 *   Idempotency-Key: <the outbox row's dedupe key>
 *   Authorization: Bearer <webhook_token>          (only if configured)
 *   {"to":"+92…","body":"…","kind":"reminder_day","language":"ur","id":42}
 *
 * 2xx is sent; 409 also counts as sent (gateways answer it for a key they already took);
 * 408, 425, 429, 5xx, a transport error or the deadline is a retry; any other status (a 4xx:
 * the gateway refuses this notice; a 3xx: redirects are not followed) is a permanent failure.
 * The caller schedules retries (see notify_retry_delay_s).
 *
 * Ownership: each request in flight is a WebhookRequest owned by its own callback: it outlives
 * the sender if the sender is destroyed mid-flight (destroy cancels it; the callback then
 * finishes the completion, which the sender core drops). Thread: the main context only.
 * Never logged: the URL (it may carry a key), the token, the recipient and the body. */
#include "notify.h"

#include <libsoup/soup.h>
#include <string.h>

typedef struct {
  SoupSession *session;
  GUri *uri;
  char *authorization; /* "Bearer …" or NULL */
  guint timeout_ms;
  GMainContext *context; /* for the deadline timers (ref held) */
  GHashTable *requests;  /* WebhookRequest * in flight (not owned) */
} Webhook;

typedef struct {
  Webhook *hook; /* NULL once the sender is destroyed */
  NotifyCompletion *completion;
  SoupMessage *msg;
  GCancellable *cancellable;
  GSource *deadline; /* ref held; NULL once fired or cleared */
  gboolean timed_out;
  gint64 id;
} WebhookRequest;

static gpointer webhook_create(const NotifyConfig *config, GError **error)
{
  if (!config->webhook_url || !*config->webhook_url) {
    g_set_error_literal(error, NOTIFY_ERROR, NOTIFY_ERROR_INVALID,
                        "[notify] webhook_url is required for sender=webhook");
    return NULL;
  }
  g_autoptr(GError) e = NULL;
  g_autoptr(GUri) uri = g_uri_parse(config->webhook_url, SOUP_HTTP_URI_FLAGS, &e);
  const char *scheme = uri ? g_uri_get_scheme(uri) : NULL;
  if (!uri ||
      !(g_ascii_strcasecmp(scheme, "http") == 0 || g_ascii_strcasecmp(scheme, "https") == 0) ||
      !g_uri_get_host(uri) || !*g_uri_get_host(uri)) {
    g_set_error_literal(error, NOTIFY_ERROR, NOTIFY_ERROR_INVALID,
                        "[notify] webhook_url must be an http:// or https:// URL");
    return NULL;
  }
  if (config->webhook_token && strpbrk(config->webhook_token, "\r\n")) {
    g_set_error_literal(error, NOTIFY_ERROR, NOTIFY_ERROR_INVALID,
                        "[notify] webhook_token must be one line");
    return NULL;
  }
  Webhook *hook = g_new0(Webhook, 1);
  /* libsoup's default of 2 connections per host would serialize the outbox drain; 8 keeps within
   * a small gateway's listen backlog (more requests queue in the session). */
  hook->session = soup_session_new_with_options("max-conns", 16, "max-conns-per-host", 8,
                                                "user-agent", "mashwara-notify", NULL);
  hook->uri = g_steal_pointer(&uri);
  if (config->webhook_token && *config->webhook_token)
    hook->authorization = g_strconcat("Bearer ", config->webhook_token, NULL);
  hook->timeout_ms = config->timeout_ms ? config->timeout_ms : NOTIFY_TIMEOUT_DEFAULT_MS;
  hook->context = g_main_context_ref_thread_default();
  hook->requests = g_hash_table_new(NULL, NULL);
  return hook;
}

static void request_clear_deadline(WebhookRequest *req)
{
  if (req->deadline) {
    g_source_destroy(req->deadline);
    g_source_unref(g_steal_pointer(&req->deadline));
  }
}

static void request_free(WebhookRequest *req)
{
  request_clear_deadline(req);
  g_clear_object(&req->msg);
  g_clear_object(&req->cancellable);
  g_free(req);
}

static void webhook_destroy(gpointer state)
{
  Webhook *hook = state;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, hook->requests);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    WebhookRequest *req = key;
    req->hook = NULL;
    request_clear_deadline(req);
    g_cancellable_cancel(req->cancellable); /* its callback runs later and frees it */
  }
  g_hash_table_destroy(hook->requests);
  g_object_unref(hook->session); /* pending operations keep their own reference */
  g_uri_unref(hook->uri);
  g_free(hook->authorization);
  g_main_context_unref(hook->context);
  g_free(hook);
}

static gboolean on_deadline(gpointer data)
{
  WebhookRequest *req = data;
  req->timed_out = TRUE;
  g_source_unref(g_steal_pointer(&req->deadline));
  g_cancellable_cancel(req->cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean status_is_transient(guint status)
{
  return status == SOUP_STATUS_REQUEST_TIMEOUT || status == 425 || status == 429 ||
         (status >= 500 && status <= 599);
}

static void on_response(GObject *source, GAsyncResult *res, gpointer data)
{
  WebhookRequest *req = data;
  g_autoptr(GError) error = NULL;
  /* The body is read (so the connection can be reused) and dropped: only the status counts. */
  g_autoptr(GBytes) body G_GNUC_UNUSED =
      soup_session_send_and_read_finish(SOUP_SESSION(source), res, &error);
  request_clear_deadline(req);
  if (req->hook)
    g_hash_table_remove(req->hook->requests, req);

  NotifyResult result;
  g_autofree char *reason = NULL;
  if (error) {
    result = NOTIFY_RESULT_RETRY;
    if (req->timed_out)
      reason = g_strdup_printf("timeout after %u ms", req->hook ? req->hook->timeout_ms : 0);
    else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      reason = g_strdup("cancelled");
    else
      reason = g_strdup(error->message); /* names the host at most, never the path */
  } else {
    guint status = soup_message_get_status(req->msg);
    if (SOUP_STATUS_IS_SUCCESSFUL(status) || status == SOUP_STATUS_CONFLICT)
      result = NOTIFY_RESULT_SENT;
    else
      result = status_is_transient(status) ? NOTIFY_RESULT_RETRY : NOTIFY_RESULT_FAILED;
    if (result != NOTIFY_RESULT_SENT)
      reason = g_strdup_printf("HTTP %u", status);
  }
  if (result != NOTIFY_RESULT_SENT && req->hook)
    g_info("outbox %" G_GINT64_FORMAT ": webhook %s (%s)", req->id,
           result == NOTIFY_RESULT_RETRY ? "will retry" : "refused", reason);
  notify_completion_finish(req->completion, result, reason);
  request_free(req);
}

static void webhook_send(gpointer state, const NotifyMessage *m, NotifyCompletion *completion)
{
  Webhook *hook = state;
  WebhookRequest *req = g_new0(WebhookRequest, 1);
  req->hook = hook;
  req->completion = completion;
  req->id = m->id;
  req->cancellable = g_cancellable_new();
  req->msg = soup_message_new_from_uri(SOUP_METHOD_POST, hook->uri);
  soup_message_add_flags(req->msg, SOUP_MESSAGE_NO_REDIRECT);
  char *payload = notify_webhook_payload(m);
  g_autoptr(GBytes) bytes = g_bytes_new_take(payload, strlen(payload));
  soup_message_set_request_body_from_bytes(req->msg, "application/json", bytes);
  SoupMessageHeaders *headers = soup_message_get_request_headers(req->msg);
  if (m->dedupe_key && *m->dedupe_key)
    soup_message_headers_replace(headers, "Idempotency-Key", m->dedupe_key);
  if (hook->authorization)
    soup_message_headers_replace(headers, "Authorization", hook->authorization);

  req->deadline = g_timeout_source_new(hook->timeout_ms);
  g_source_set_callback(req->deadline, on_deadline, req, NULL);
  g_source_attach(req->deadline, hook->context);
  g_hash_table_add(hook->requests, req);
  soup_session_send_and_read_async(hook->session, req->msg, G_PRIORITY_DEFAULT, req->cancellable,
                                   on_response, req);
}

const NotifySenderClass notify_webhook_sender = {
    .name = "webhook",
    .create = webhook_create,
    .destroy = webhook_destroy,
    .send = webhook_send,
};
