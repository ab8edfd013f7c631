/* sig-server.c — the libwebsockets glue: one TLS port on the GLib main loop serving the static
 * pages, the JSON API (sig-api.c) and the signaling WebSocket (sig-consult.c).
 *
 * Ownership: a SigConn lives exactly as long as its WebSocket (created at ESTABLISHED, freed at
 * CLOSED). Outgoing messages wait in the connection's queue and are written one per WRITEABLE
 * callback, as libwebsockets requires. A close with a code is queued the same way, so a fatal
 * error message is always sent before the close frame.
 * Thread: everything here runs on the default GMainContext's thread. */
#define G_LOG_DOMAIN "mashwara-sig"

#include <errno.h>
#include <string.h>

#include "sig-private.h"
#include "sig-static.h"

#define WS_PROTOCOL "mashwara.v1"
#define WS_RX_CHUNK 8192

gint64 sig_now(void)
{
  return g_get_real_time() / G_USEC_PER_SEC;
}

/* --- Logging -------------------------------------------------------------------------------- */

static void lws_to_glog(int level, const char *line)
{
  g_autofree char *s = g_strchomp(g_strdup(line));
  if (level & LLL_ERR)
    g_log("mashwara-lws", G_LOG_LEVEL_WARNING, "%s", s);
  else
    g_log("mashwara-lws", G_LOG_LEVEL_DEBUG, "%s", s);
}

/* --- Helpers ------------------------------------------------------------------------------ */

/* The value of cookie `name` in a Cookie header, or NULL. (transfer full) */
static char *cookie_value(const char *header, const char *name)
{
  if (!header)
    return NULL;
  g_auto(GStrv) parts = g_strsplit(header, ";", -1);
  gsize nlen = strlen(name);
  for (char **p = parts; *p; p++) {
    const char *s = *p;
    while (*s == ' ')
      s++;
    if (strncmp(s, name, nlen) == 0 && s[nlen] == '=')
      return g_strdup(s + nlen + 1);
  }
  return NULL;
}

static char *custom_header_copy(struct lws *wsi, const char *name)
{
  int n = lws_hdr_custom_length(wsi, name, (int)strlen(name));
  if (n <= 0 || n > 4096)
    return NULL;
  char *buf = g_malloc((gsize)n + 1);
  if (lws_hdr_custom_copy(wsi, buf, n + 1, name, (int)strlen(name)) < 0) {
    g_free(buf);
    return NULL;
  }
  return buf;
}

static char *header_copy(struct lws *wsi, enum lws_token_indexes token)
{
  int n = lws_hdr_total_length(wsi, token);
  if (n <= 0)
    return NULL;
  char *buf = g_malloc((gsize)n + 1);
  if (lws_hdr_copy(wsi, buf, n + 1, token) < 0) {
    g_free(buf);
    return NULL;
  }
  return buf;
}

static const char *mime_for(const char *path)
{
  static const struct {
    const char *ext, *mime;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(types); i++)
    if (g_str_has_suffix(path, types[i].ext))
      return types[i].mime;
  return "application/octet-stream";
}

/* Maps a request path to the file it names under web_root (whether it exists is for
 * sig_static_get() to say: one stat per request), or NULL if the path tries to leave the
 * folder. (transfer full) */
static char *static_file_for(SigServer *server, const char *path)
{
  const char *rel;
  if (strcmp(path, "/") == 0)
    rel = "index.html";
  else if (strcmp(path, "/console") == 0 || strcmp(path, "/console/") == 0)
    rel = "console.html";
  else if (strcmp(path, "/admin") == 0 || strcmp(path, "/admin/") == 0)
    rel = "admin.html";

  else if (strcmp(path, "/dashboard") == 0 || strcmp(path, "/dashboard/") == 0)
    rel = "dashboard.html";
  else if (g_str_has_prefix(path, "/join/") && !strchr(path + 6, '/'))
    rel = "patient.html";
  else
    rel = path + 1;
  if (strstr(rel, "..") || strchr(rel, '\\') || rel[0] == '/' || rel[0] == '\0')
    return NULL;
  for (const char *c = rel; *c; c++)
    if ((unsigned char)*c < 0x20)
      return NULL;
  return g_build_filename(server->config.web_root, rel, NULL);
}

/* Headers every response carries (pages, files, API, errors): the join token sits in page
 * URLs, so no Referer may leak it; nothing is framed by another site; scripts, styles and
 * connections only from this origin (no inline script or style: web/ has none), WebSockets to
 * wss: (the signaling; 'self' does not cover wss: in every browser); camera and microphone for
 * this origin only. */
#define SIG_CSP                                                                                    \
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "          \
  "media-src 'self' blob:; connect-src 'self' wss:; object-src 'none'; base-uri 'none'; "          \
  "form-action 'self'; frame-ancestors 'none'"

static int add_headers_cc(struct lws *wsi, unsigned char **p, unsigned char *end,
                          const char *cache_control);

static int add_common_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
  return add_headers_cc(wsi, p, end, "no-store");
}

/* The common headers with another Cache-Control (the pages' scripts and styles: "no-cache",
 * i.e. kept but revalidated by ETag on every use). */
static int add_headers_cc(struct lws *wsi, unsigned char **p, unsigned char *end,
                          const char *cache_control)
{
  const struct {
    const char *name, *value;
  } h[] = {
      {"referrer-policy:", "no-referrer"},
      {"x-content-type-options:", "nosniff"},
      {"x-frame-options:", "DENY"},
      {"strict-transport-security:", "max-age=31536000; includeSubDomains"},
      {"content-security-policy:", SIG_CSP},
      {"permissions-policy:", "camera=(self), microphone=(self), geolocation=(), payment=(), "
                              "usb=(), interest-cohort=()"},
      {"cross-origin-opener-policy:", "same-origin"},
      {"cross-origin-resource-policy:", "same-origin"},
      {"cache-control:", cache_control},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(h); i++)
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)h[i].name,
                                    (const unsigned char *)h[i].value, (int)strlen(h[i].value), p,
                                    end))
      return -1;
  return 0;
}

/* --- Connections per address ---------------------------------------------------------------
 * Every accepted connection is counted under its client address from the moment lws
 * instantiates it (before TLS) until it is destroyed. Beyond [server]
 * max_connections_per_address the connection is kept just long enough to say why: HTTP 503
 * with Connection: close, or a WebSocket close 1013. */

static const char *conn_address(SigServer *server, struct lws *wsi)
{
  const char *a = g_hash_table_lookup(server->wsi_address, wsi);
  return a ? a : "?";
}

static void conn_track(SigServer *server, struct lws *wsi)
{
  if (g_hash_table_contains(server->wsi_address, wsi))
    return;
  char peer[64] = "";
  lws_get_peer_simple(wsi, peer, sizeof(peer));
  if (!peer[0])
    g_strlcpy(peer, "?", sizeof(peer));
  guint n = GPOINTER_TO_UINT(g_hash_table_lookup(server->address_conns, peer)) + 1;
  g_hash_table_insert(server->wsi_address, wsi, g_strdup(peer));
  g_hash_table_insert(server->address_conns, g_strdup(peer), GUINT_TO_POINTER(n));
  if (n > server->config.max_connections_per_address) {
    g_hash_table_add(server->over_cap, wsi);
    g_message("connection from %s refused: %u open (cap %u)", peer, n,
              server->config.max_connections_per_address);
  }
}

static void conn_untrack(SigServer *server, struct lws *wsi)
{
  const char *peer = g_hash_table_lookup(server->wsi_address, wsi);
  if (!peer)
    return;
  guint n = GPOINTER_TO_UINT(g_hash_table_lookup(server->address_conns, peer));
  if (n <= 1)
    g_hash_table_remove(server->address_conns, peer);
  else
    g_hash_table_insert(server->address_conns, g_strdup(peer), GUINT_TO_POINTER(n - 1));
  g_hash_table_remove(server->over_cap, wsi);
  g_hash_table_remove(server->wsi_address, wsi);
}

/* --- HTTP ----------------------------------------------------------------------------------- */

typedef struct {
  int method;
  char *path;
  GPtrArray *query; /* char* "k=v", NULL-terminated; NULL if none */
  char *cookie_session;
  char *host, *origin, *sec_fetch_site, *csrf_token; /* request headers, or NULL */
  char *content_type; /* the request's Content-Type header, or NULL */
  gsize max_body;     /* the largest body this request's route takes (SIG_HTTP_MAX_BODY, or a
                         photo's size for an upload route: sig_api_max_body) */
  char peer[64];
  gboolean close_after; /* hang up once this answer is sent (over the connection cap) */
  GString *body;
  gboolean body_too_large;
  gboolean answered; /* http_api ran for this request (lws may still report the body's end) */
  char *resp;        /* body being sent */
  gsize resp_len;
  /* Group commit: the answer made while the scheduler's batch was open, held until it commits. */
  struct lws *wsi;
  gboolean deferred;       /* in server->deferred */
  gboolean deferred_ready; /* the batch has ended: answer on the next WRITEABLE */
  SigHttpResponse held;
} HttpPss;

static void http_pss_reset(SigServer *server, HttpPss *pss)
{
  if (pss->deferred)
    g_queue_remove(&server->deferred, pss);
  pss->deferred = FALSE;
  pss->deferred_ready = FALSE;
  g_clear_pointer(&pss->held.body, g_free);
  g_clear_pointer(&pss->held.set_cookie, g_free);
  g_clear_pointer(&pss->path, g_free);
  g_clear_pointer(&pss->query, g_ptr_array_unref);
  g_clear_pointer(&pss->cookie_session, g_free);
  g_clear_pointer(&pss->host, g_free);
  g_clear_pointer(&pss->origin, g_free);
  g_clear_pointer(&pss->sec_fetch_site, g_free);
  g_clear_pointer(&pss->csrf_token, g_free);
  g_clear_pointer(&pss->content_type, g_free);
  if (pss->body)
    g_string_free(pss->body, TRUE);
  pss->body = NULL;
  pss->body_too_large = FALSE;
  pss->answered = FALSE;
  g_clear_pointer(&pss->resp, g_free);
  pss->resp_len = 0;
}

/* Writes the status line and headers now; the body goes out on the next WRITEABLE. */
/* `body_len`: the body's size for a binary body (a photo); 0: a text body, its strlen. */
static int http_respond_n(struct lws *wsi, HttpPss *pss, int status, char *body, gsize body_len,
                          const char *set_cookie, const char *content_type, gint64 retry_after)
{
  unsigned char buf[LWS_PRE + 2048];
  unsigned char *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof(buf) - 1];
  g_free(pss->resp);
  pss->resp = body;
  pss->resp_len = body ? (body_len ? body_len : strlen(body)) : 0;
  if (lws_add_http_common_headers(wsi, (unsigned int)status,
                                  content_type ? content_type : "application/json", pss->resp_len,
                                  &p, end))
    return 1;
  if (add_common_headers(wsi, &p, end))
    return 1;
  if (set_cookie && lws_add_http_header_by_name(wsi, (const unsigned char *)"set-cookie:",
                                                (const unsigned char *)set_cookie,
                                                (int)strlen(set_cookie), &p, end))
    return 1;
  if (retry_after > 0) {
    char ra[24];
    int n = g_snprintf(ra, sizeof(ra), "%" G_GINT64_FORMAT, retry_after);
    if (lws_add_http_header_by_name(
            wsi, (const unsigned char *)"retry-after:", (const unsigned char *)ra, n, &p, end))
      return 1;
  }
  if (pss->close_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                                      (const unsigned char *)"close", 5, &p, end))
    return 1;
  if (lws_finalize_write_http_header(wsi, start, &p, end))
    return 1;
  if (pss->resp_len == 0) {
    g_clear_pointer(&pss->resp, g_free);
    if (pss->close_after)
      return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  lws_callback_on_writable(wsi);
  return 0;
}

static int http_respond(struct lws *wsi, HttpPss *pss, int status, char *body,
                        const char *set_cookie, const char *content_type, gint64 retry_after)
{
  return http_respond_n(wsi, pss, status, body, 0, set_cookie, content_type, retry_after);
}

/* --- Group commit ----------------------------------------------------------------------------
 * synchronous = FULL costs one fsync per commit, and the loop is single-threaded, so one commit
 * per request caps bookings/s at 1 / fsync time. Instead, the first writing API request (any
 * method but GET/HEAD, or an audited read: it writes its audit row) opens a scheduler batch
 * (sched_store_batch_begin): every scheduler call until the batch ends runs in its own savepoint of
 * one transaction, and every API response made meanwhile (reads included: they may have seen the
 * batch's uncommitted writes) is held in server->deferred. When the loop has nothing else ready (a
 * DEFAULT_IDLE source), or after BATCH_MAX_DELAY_MS at the latest, batch_finish() commits once and
 * only then releases the held responses; if the commit fails, nothing of the batch was written and
 * every held response becomes a 500. A WebSocket message or close first ends the batch
 * (batch_finish), so the signaling path's scheduler writes commit on their own, before anything is
 * sent for them. */
#define BATCH_MAX_DELAY_MS 5

static void batch_finish(SigServer *server)
{
  g_clear_handle_id(&server->batch_idle, g_source_remove);
  g_clear_handle_id(&server->batch_timer, g_source_remove);
  if (!sched_store_batch_is_open(server->store))
    return;
  g_autoptr(GError) error = NULL;
  gboolean ok = sched_store_batch_commit(server->store, &error);
  g_debug("group commit: %u responses held", server->deferred.length);
  if (!ok)
    g_warning("group commit of %u requests failed: %s", server->deferred.length, error->message);
  /* What the batch's requests tell pages over WSS goes out only now that it is durable. */
  sig_notices_release(server, &server->batch_notices, ok);
  HttpPss *pss;
  while ((pss = g_queue_pop_head(&server->deferred)) != NULL) {
    pss->deferred = FALSE;
    pss->deferred_ready = TRUE;
    if (!ok) {
      g_free(pss->held.body);
      g_clear_pointer(&pss->held.set_cookie, g_free);
      pss->held.status = 500;
      pss->held.body = sig_api_error_body("internal", "the request could not be completed", NULL);
      pss->held.content_type = NULL;
    }
    lws_callback_on_writable(pss->wsi);
  }
}

/* The idle (end of this loop pass) or the timer (BATCH_MAX_DELAY_MS), whichever fires first;
 * batch_finish() removes both, the one dispatching included, which GLib allows. */
static gboolean batch_due(gpointer data)
{
  batch_finish(data);
  return G_SOURCE_REMOVE;
}

static void batch_open(SigServer *server)
{
  /* Diagnostic only (bench/README.md): one commit per request, as before group commit. */
  static int off = -1;
  if (off < 0)
    off = g_getenv("MW_DIAG_NO_GROUP_COMMIT") != NULL;
  if (off)
    return;
  sched_store_batch_begin(server->store);
  server->batch_idle = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, batch_due, server, NULL);
  server->batch_timer = g_timeout_add(BATCH_MAX_DELAY_MS, batch_due, server);
}

static int http_api(struct lws *wsi, SigServer *server, HttpPss *pss)
{
  if (pss->answered)
    return 0; /* e.g. BODY_COMPLETION after a "content-length: 0" request was answered */
  pss->answered = TRUE;
  SigHttpRequest req = {
      .method = pss->method,
      .path = pss->path,
      .query = pss->query ? (const char *const *)pss->query->pdata : NULL,
      .body = pss->body ? pss->body->str : NULL,
      .body_len = pss->body ? pss->body->len : 0,
      .cookie_session = pss->cookie_session,
      .peer = pss->peer,
      .host = pss->host,
      .origin = pss->origin,
      .sec_fetch_site = pss->sec_fetch_site,
      .csrf_token = pss->csrf_token,
      .content_type = pss->content_type,
  };
  SigHttpResponse resp = {0};
  if (pss->body_too_large) {
    resp.status = 413;
    resp.body = pss->max_body > SIG_HTTP_MAX_BODY
                    ? sig_api_error_body("body_too_large", "the photo is over 2 MB", "size")
                    : sig_api_error_body("body_too_large", "the request body is over 16 KiB", NULL);
  } else {
    if ((pss->method != LWSHUMETH_GET && pss->method != LWSHUMETH_HEAD) ||
        sig_audit_http_is_audited(&req)) /* an audited read writes its audit row */
      if (!sched_store_batch_is_open(server->store))
        batch_open(server);
    sig_audit_http(server, &req, &resp); /* sig_api_handle, recorded in the audit log */
    /* Its messages to pages: dropped if it failed, else sent once its writes are durable. */
    if (resp.status >= 400)
      sig_notices_release(server, &server->request_notices, FALSE);
    else if (sched_store_batch_is_open(server->store))
      sig_notices_move(&server->request_notices, &server->batch_notices);
    else
      sig_notices_release(server, &server->request_notices, TRUE);
    if (sched_store_batch_is_open(server->store)) {
      pss->wsi = wsi;
      pss->held = resp;
      pss->deferred = TRUE;
      g_queue_push_tail(&server->deferred, pss);
      return 0;
    }
  }
  int r = http_respond_n(wsi, pss, resp.status, resp.body, resp.body_len, resp.set_cookie,
                         resp.content_type, resp.retry_after);
  g_free(resp.set_cookie);
  return r;
}

/* The query string's arguments, each URL-decoded by lws ("k=v"), NULL-terminated; NULL if
 * there are none. At most 64 arguments of 2 KiB each are kept; the rest are dropped. */
static GPtrArray *query_args(struct lws *wsi)
{
  GPtrArray *args = NULL;
  for (int i = 0; i < 64; i++) {
    int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n <= 0)
      break;
    if (n > 2048)
      continue;
    char *buf = g_malloc((gsize)n + 1);
    if (lws_hdr_copy_fragment(wsi, buf, n + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
      g_free(buf);
      break;
    }
    if (!args)
      args = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(args, buf);
  }
  if (args)
    g_ptr_array_add(args, NULL);
  return args;
}

/* A page's file from the cache (sig-static.h): gzip'd when the browser takes it, and, for the
 * scripts and styles, "no-cache" with an ETag so that a page opened again costs a 304 per file
 * instead of its bytes. The pages themselves stay "no-store" (a join page's URL is its token).
 * A file too large for the cache is sent from disk as it is. */
static int http_static(struct lws *wsi, SigServer *server, HttpPss *pss)
{
  if (pss->method != LWSHUMETH_GET && pss->method != LWSHUMETH_HEAD)
    return http_respond(wsi, pss, 405,
                        sig_api_error_body("method_not_allowed", "only GET here", NULL), NULL, NULL,
                        0);
  g_autofree char *file = static_file_for(server, pss->path);
  if (!file)
    return http_respond(wsi, pss, 404, sig_api_error_body("not_found", "no such page", NULL), NULL,
                        NULL, 0);
  g_autoptr(GError) error = NULL;
  gboolean too_large;
  const SigStaticFile *f = sig_static_get(server->statics, file, &too_large, &error);
  if (!f && g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return http_respond(wsi, pss, 404, sig_api_error_body("not_found", "no such page", NULL), NULL,
                        NULL, 0);
  if (!f && !too_large) {
    g_warning("static file %s: %s", pss->path, error->message);
    return http_respond(wsi, pss, 500,
                        sig_api_error_body("internal", "the file could not be read", NULL), NULL,
                        NULL, 0);
  }
  unsigned char buf[LWS_PRE + 2048]; /* the common headers are ~700 bytes, the CSP most of it */
  unsigned char *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof(buf) - 1];
  if (!f) {
    if (add_common_headers(wsi, &p, end))
      return -1;
    int n = lws_serve_http_file(wsi, file, mime_for(file), (const char *)start, (int)(p - start));
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
      return -1;
    return 0;
  }
  gboolean page = g_str_has_suffix(file, ".html");
  g_autofree char *accept = header_copy(wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING);
  g_autofree char *if_none_match = header_copy(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH);
  gboolean gz = f->gzip && sig_static_accepts_gzip(accept);
  GBytes *body = gz ? f->gzip : f->plain;
  const char *etag = gz ? f->etag_gzip : f->etag;
  gboolean not_modified = !page && sig_static_etag_matches(if_none_match, etag);
  gboolean head = pss->method == LWSHUMETH_HEAD;
  gsize len = g_bytes_get_size(body);
  char length[24];
  int length_n = g_snprintf(length, sizeof(length), "%" G_GSIZE_FORMAT, len);
  const char *mime = mime_for(file);
  if (lws_add_http_header_status(wsi, not_modified ? HTTP_STATUS_NOT_MODIFIED : HTTP_STATUS_OK, &p,
                                 end) ||
      (!not_modified &&
       lws_add_http_header_by_name(wsi, (const unsigned char *)"content-type:",
                                   (const unsigned char *)mime, (int)strlen(mime), &p, end)) ||
      (!not_modified && !head &&
       lws_add_http_header_content_length(wsi, (lws_filepos_t)len, &p, end)) ||
      (!not_modified && head &&
       lws_add_http_header_by_name(wsi, (const unsigned char *)"content-length:",
                                   (const unsigned char *)length, length_n, &p, end)) ||
      (gz && !not_modified &&
       lws_add_http_header_by_name(wsi, (const unsigned char *)"content-encoding:",
                                   (const unsigned char *)"gzip", 4, &p, end)) ||
      (f->gzip && lws_add_http_header_by_name(
                      wsi, (const unsigned char *)"vary:", (const unsigned char *)"accept-encoding",
                      15, &p, end)) ||
      (!page &&
       lws_add_http_header_by_name(wsi, (const unsigned char *)"etag:", (const unsigned char *)etag,
                                   (int)strlen(etag), &p, end)) ||
      add_headers_cc(wsi, &p, end, page ? "no-store" : "no-cache") ||
      lws_finalize_write_http_header(wsi, start, &p, end))
    return -1;
  if (not_modified || head || len == 0)
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  g_free(pss->resp);
  pss->resp = g_memdup2(g_bytes_get_data(body, NULL), len);
  pss->resp_len = len;
  lws_callback_on_writable(wsi);
  return 0;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
  SigServer *server = lws_context_user(lws_get_context(wsi));
  HttpPss *pss = user;

  switch (reason) {
  case LWS_CALLBACK_HTTP: {
    http_pss_reset(server, pss);
    char *uri = NULL;
    int uri_len = 0;
    pss->method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    pss->path = g_strndup(in ? (const char *)in : "/", in ? strlen(in) : 1);
    g_autofree char *cookie = header_copy(wsi, WSI_TOKEN_HTTP_COOKIE);
    pss->cookie_session = cookie_value(cookie, SIG_SESSION_COOKIE);
    pss->query = query_args(wsi);
    pss->host = header_copy(wsi, WSI_TOKEN_HOST);
    pss->origin = header_copy(wsi, WSI_TOKEN_ORIGIN);
    pss->sec_fetch_site = custom_header_copy(wsi, "sec-fetch-site:");
    pss->csrf_token = custom_header_copy(wsi, "x-csrf-token:");
    pss->content_type = header_copy(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    pss->max_body = sig_api_max_body(pss->method, pss->path);
    conn_track(server, wsi);
    g_strlcpy(pss->peer, conn_address(server, wsi), sizeof(pss->peer));
    if (g_hash_table_contains(server->over_cap, wsi)) {
      pss->close_after = TRUE;
      return http_respond(wsi, pss, 503,
                          sig_api_error_body("too_many_connections",
                                             "too many open connections from your address", NULL),
                          NULL, NULL, 5);
    }
    gint64 wait = sig_buckets_take(server->rate_address, pss->peer, g_get_monotonic_time());
    if (wait > 0)
      return http_respond(
          wsi, pss, 429,
          sig_api_error_body("too_many_requests", "too many requests from your address", NULL),
          NULL, NULL, wait);
    if (pss->method == LWSHUMETH_POST || pss->method == LWSHUMETH_PUT ||
        pss->method == LWSHUMETH_PATCH) {
      g_autofree char *cl = header_copy(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
      gint64 n = cl ? g_ascii_strtoll(cl, NULL, 10) : 0;
      if (n > (gint64)pss->max_body) {
        pss->body_too_large = TRUE;
        return http_api(wsi, server, pss);
      }
      pss->body = g_string_new(NULL);
      if (n > 0)
        return 0; /* the body arrives in LWS_CALLBACK_HTTP_BODY */
      return http_api(wsi, server, pss);
    }
    if (g_str_has_prefix(pss->path, "/api/") || g_str_has_prefix(pss->path, "/fhir/"))
      return http_api(wsi, server, pss);
    return http_static(wsi, server, pss);
  }
  case LWS_CALLBACK_HTTP_BODY:
    if (pss->body && !pss->body_too_large) {
      if (pss->body->len + len > pss->max_body)
        pss->body_too_large = TRUE;
      else
        g_string_append_len(pss->body, in, (gssize)len);
    }
    return 0;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    return http_api(wsi, server, pss);
  case LWS_CALLBACK_HTTP_WRITEABLE: {
    if (pss && pss->deferred_ready) {
      pss->deferred_ready = FALSE;
      SigHttpResponse held = pss->held;
      memset(&pss->held, 0, sizeof(pss->held));
      int r = http_respond_n(wsi, pss, held.status, held.body, held.body_len, held.set_cookie,
                             held.content_type, held.retry_after);
      g_free(held.set_cookie);
      return r;
    }
    if (!pss || !pss->resp)
      return 0;
    gsize n = pss->resp_len;
    unsigned char *buf = g_malloc(LWS_PRE + n);
    memcpy(buf + LWS_PRE, pss->resp, n);
    int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
    g_free(buf);
    g_clear_pointer(&pss->resp, g_free);
    if (w < (int)n || pss->close_after)
      return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  case LWS_CALLBACK_HTTP_FILE_COMPLETION:
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
  case LWS_CALLBACK_CLOSED_HTTP:
    if (pss)
      http_pss_reset(server, pss);
    return 0;
  case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
    if (server)
      conn_track(server, wsi);
    return 0;
  case LWS_CALLBACK_WSI_DESTROY:
    if (server)
      conn_untrack(server, wsi);
    return 0;
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* --- WebSocket ----------------------------------------------------------------------------- */

typedef struct {
  SigConn *conn;
} WsPss;

void sig_conn_send(SigConn *conn, char *json_text)
{
  if (!conn || conn->phase == SIG_CONN_CLOSING || !conn->wsi) {
    g_free(json_text);
    return;
  }
  g_queue_push_tail(&conn->out, json_text);
  lws_callback_on_writable(conn->wsi);
}

void sig_conn_send_json(SigConn *conn, json_t *object)
{
  sig_conn_send(conn, sig_msg_dump(object));
}

void sig_conn_close(SigConn *conn, int code, const char *reason)
{
  if (!conn || conn->phase == SIG_CONN_CLOSING)
    return;
  g_debug("closing connection %p: %d %s", (void *)conn, code, reason);
  conn->phase = SIG_CONN_CLOSING;
  conn->close_code = code;
  conn->close_reason = g_strdup(reason);
  g_clear_handle_id(&conn->auth_timer, g_source_remove);
  lws_callback_on_writable(conn->wsi);
}

static gboolean auth_timeout(gpointer data)
{
  SigConn *conn = data;
  conn->auth_timer = 0;
  if (conn->phase == SIG_CONN_NEW) {
    sig_conn_send(
        conn, sig_msg_error("authentication_timeout", "no hello within the time allowed", TRUE));
    sig_conn_close(conn, 4408, "authentication timeout");
  }
  return G_SOURCE_REMOVE;
}

static void conn_free(SigConn *conn)
{
  g_clear_handle_id(&conn->auth_timer, g_source_remove);
  g_queue_clear_full(&conn->out, g_free);
  if (conn->rx)
    g_string_free(conn->rx, TRUE);
  g_free(conn->close_reason);
  g_free(conn->session_cookie);
  g_free(conn->participant_id);
  g_free(conn->role);
  g_free(conn->name);
  g_free(conn->token);
  g_free(conn);
}

/* Rejects a WebSocket upgrade unless it is for /ws and comes from our own origin. */
static gboolean ws_upgrade_allowed(struct lws *wsi)
{
  g_autofree char *uri = header_copy(wsi, WSI_TOKEN_GET_URI);
  if (!uri || strcmp(uri, "/ws") != 0)
    return FALSE;
  g_autofree char *origin = header_copy(wsi, WSI_TOKEN_ORIGIN);
  g_autofree char *host = header_copy(wsi, WSI_TOKEN_HOST);
  if (origin && host) {
    const char *o = strstr(origin, "://");
    if (!o || strcmp(o + 3, host) != 0)
      return FALSE; /* a page of another site must not ride a doctor's cookie */
  }
  return TRUE;
}

static void ws_handle_message(SigConn *conn, const char *text, gsize len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SigMsg) msg = sig_msg_parse(text, len, &error);
  if (!msg) {
    sig_conn_send(conn, sig_msg_error("malformed_message", error->message, FALSE));
    return;
  }
  batch_finish(conn->server); /* the signaling path's writes commit on their own */
  sig_consult_on_message(conn, msg);
}

static int ws_receive(struct lws *wsi, SigConn *conn, const char *in, size_t len)
{
  gboolean first = lws_is_first_fragment(wsi);
  gboolean final = lws_is_final_fragment(wsi);
  if (first) {
    if (conn->rx)
      g_string_truncate(conn->rx, 0);
    conn->rx_discard = FALSE;
  }
  if (conn->phase == SIG_CONN_CLOSING)
    return 0;
  gsize have = conn->rx ? conn->rx->len : 0;
  /* Refuse before buffering: what we hold + this chunk + what this frame still announces. */
  if (have + len + lws_remaining_packet_payload(wsi) > SIG_MSG_MAX_BYTES) {
    static const char reason[] = "message too large";
    g_message("connection %p: message over %d bytes refused", (void *)conn, SIG_MSG_MAX_BYTES);
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)reason,
                     sizeof(reason) - 1);
    return -1;
  }
  if (lws_frame_is_binary(wsi)) {
    if (first)
      sig_conn_send(conn, sig_msg_error("malformed_message",
                                        "messages are JSON text frames, not binary", FALSE));
    conn->rx_discard = TRUE;
    return 0;
  }
  if (conn->rx_discard)
    return 0;
  if (first && final)
    ws_handle_message(conn, in, len);
  else {
    if (!conn->rx)
      conn->rx = g_string_sized_new(WS_RX_CHUNK);
    g_string_append_len(conn->rx, in, (gssize)len);
    if (final) {
      ws_handle_message(conn, conn->rx->str, conn->rx->len);
      g_string_truncate(conn->rx, 0);
    }
  }
  return 0;
}

static int ws_writeable(struct lws *wsi, SigConn *conn)
{
  char *text = g_queue_pop_head(&conn->out);
  if (text) {
    gsize n = strlen(text);
    unsigned char *buf = g_malloc(LWS_PRE + n);
    memcpy(buf + LWS_PRE, text, n);
    int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
    g_free(buf);
    g_free(text);
    if (w < (int)n)
      return -1;
    if (!g_queue_is_empty(&conn->out) || conn->phase == SIG_CONN_CLOSING)
      lws_callback_on_writable(wsi);
    return 0;
  }
  if (conn->phase == SIG_CONN_CLOSING) {
    const char *r = conn->close_reason ? conn->close_reason : "";
    lws_close_reason(wsi, (enum lws_close_status)conn->close_code, (unsigned char *)r, strlen(r));
    return -1;
  }
  return 0;
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
  SigServer *server = lws_context_user(lws_get_context(wsi));
  WsPss *pss = user;

  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    return ws_upgrade_allowed(wsi) ? 0 : 1;
  case LWS_CALLBACK_ESTABLISHED: {
    SigConn *conn = g_new0(SigConn, 1);
    conn->server = server;
    conn->wsi = wsi;
    conn->phase = SIG_CONN_NEW;
    g_queue_init(&conn->out);
    lws_get_peer_simple(wsi, conn->peer, sizeof(conn->peer));
    g_autofree char *cookie = header_copy(wsi, WSI_TOKEN_HTTP_COOKIE);
    conn->session_cookie = cookie_value(cookie, SIG_SESSION_COOKIE);
    conn->auth_timer = g_timeout_add_seconds(server->config.auth_timeout_s, auth_timeout, conn);
    pss->conn = conn;
    g_hash_table_add(server->conns, conn);
    conn_track(server, wsi);
    if (g_hash_table_contains(server->over_cap, wsi)) {
      sig_conn_send(conn, sig_msg_error("too_many_connections",
                                        "too many open connections from your address", TRUE));
      sig_conn_close(conn, 1013, "too many connections");
    }
    return 0;
  }
  case LWS_CALLBACK_RECEIVE:
    return pss->conn ? ws_receive(wsi, pss->conn, in, len) : -1;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return pss->conn ? ws_writeable(wsi, pss->conn) : -1;
  case LWS_CALLBACK_CLOSED:
    if (pss->conn) {
      SigConn *conn = pss->conn;
      pss->conn = NULL;
      batch_finish(server);
      sig_consult_on_closed(conn);
      g_hash_table_remove(server->conns, conn);
      conn->wsi = NULL;
      conn_free(conn);
    }
    return 0;
  default:
    break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {
    {"http", callback_http, sizeof(HttpPss), 0, 0, NULL, 0},
    {WS_PROTOCOL, callback_ws, sizeof(WsPss), WS_RX_CHUNK, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Pings an idle WebSocket after 2 s and hangs up after 75 s without an answer. In a call a
 * vanished participant is noticed sooner, by its media (sig-consult.c, liveness); a closed tab
 * at once, by its close. A shorter hang-up cut off patients on weak links: a 4 s one did, every
 * 6-10 s, at 150 kbit/s and 600 ms RTT, their pongs queued behind video; a 30 s one did in one
 * edge call of three (the weak check), 35 s after the patient joined, while its peer
 * connections were connected and its media flowed. The likely cause: its TCP connection lost
 * segments in the call's first seconds, while the video filled the link, and TCP's
 * retransmission timer doubles (~2, 4, 8, 16 s). The page then joins again and everyone's
 * media is set up anew (10-12 s without audio). */
static const lws_retry_bo_t retry_policy = {
    .secs_since_valid_ping = 2,
    .secs_since_valid_hangup = 75,
};

/* --- Server -------------------------------------------------------------------------------- */

static GMainLoop *lws_loop; /* any loop on the default context; lws only reads its context */

static gboolean waiting_refresh_due(gpointer data)
{
  SigServer *server = data;
  if (!server->closing)
    sig_consult_refresh_waits(server);
  return G_SOURCE_CONTINUE;
}

SigServer *sig_server_new(const SigConfig *config, SchedStore *store, SfuRelay *relay,
                          GError **error)
{
  g_return_val_if_fail(config && store && relay, NULL);
  g_return_val_if_fail(config->tls_cert_path && config->tls_key_path, NULL);

  SigServer *s = g_new0(SigServer, 1);
  s->config = *config;
  s->config.listen_address = g_strdup(config->listen_address);
  s->config.tls_cert_path = g_strdup(config->tls_cert_path);
  s->config.tls_key_path = g_strdup(config->tls_key_path);
  s->config.web_root = g_strdup(config->web_root);
  s->config.public_url = g_strdup(config->public_url);
  s->config.turn_uris = (const char *const *)g_strdupv((char **)config->turn_uris);
  s->config.turn_secret = g_strdup(config->turn_secret);
  if (s->config.turn_credential_ttl_s == 0)
    s->config.turn_credential_ttl_s = 12 * 3600;
  if (s->config.auth_timeout_s == 0)
    s->config.auth_timeout_s = 10;
  if (s->config.session_ttl_s == 0)
    s->config.session_ttl_s = 12 * 3600;
  s->store = store;
  s->relay = relay;
  s->conns = g_hash_table_new(NULL, NULL);
  s->participants = g_hash_table_new(g_str_hash, g_str_equal);
  s->tokens_in_use = g_hash_table_new(g_str_hash, g_str_equal);
  s->consults = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  SigConfig *c = &s->config;
  if (c->max_connections_per_address == 0)
    c->max_connections_per_address = 64;
  if (c->requests_per_second_per_address == 0)
    c->requests_per_second_per_address = 100;
  if (c->request_burst_per_address == 0)
    c->request_burst_per_address = 1000;
  if (c->requests_per_second_per_token == 0)
    c->requests_per_second_per_token = 0.5;
  if (c->request_burst_per_token == 0)
    c->request_burst_per_token = 30;
  if (c->login_failures_per_account == 0)
    c->login_failures_per_account = 5;
  if (c->login_failures_per_address == 0)
    c->login_failures_per_address = 30;
  if (c->login_failure_window_s == 0)
    c->login_failure_window_s = 900;
  s->wsi_address = g_hash_table_new_full(NULL, NULL, NULL, g_free);
  s->address_conns = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  s->over_cap = g_hash_table_new(NULL, NULL);
  s->rate_address =
      sig_buckets_new(c->requests_per_second_per_address, c->request_burst_per_address, 100000);
  s->rate_token =
      sig_buckets_new(c->requests_per_second_per_token, c->request_burst_per_token, 100000);
  /* Chat: 10 messages at once, then one every 2 s (a person typing; not a flood into the
   * database and the others' pages). */
  s->rate_chat = sig_buckets_new(0.5, 10, 100000);
  s->statics = sig_static_new();
  s->waiting_refresh = g_timeout_add_seconds(SIG_WAITING_REFRESH_S, waiting_refresh_due, s);
  s->login_account =
      sig_buckets_new((double)c->login_failures_per_account / c->login_failure_window_s,
                      c->login_failures_per_account, 100000);
  s->login_address =
      sig_buckets_new((double)c->login_failures_per_address / c->login_failure_window_s,
                      c->login_failures_per_address, 100000);

  lws_set_log_level(LLL_ERR | LLL_WARN | (g_getenv("MW_LWS_INFO") ? LLL_NOTICE | LLL_INFO : 0),
                    lws_to_glog);
  if (!lws_loop)
    lws_loop = g_main_loop_new(NULL, FALSE);
  void *foreign_loops[1] = {lws_loop};

  struct lws_context_creation_info info;
  memset(&info, 0, sizeof(info));
  info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.foreign_loops = foreign_loops;
  info.port = (int)config->port;
  info.iface = s->config.listen_address;
  info.protocols = protocols;
  info.ssl_cert_filepath = s->config.tls_cert_path;
  info.ssl_private_key_filepath = s->config.tls_key_path;
  info.alpn = "http/1.1";
  info.retry_and_idle_policy = &retry_policy;
  info.user = s;
  info.timeout_secs = 20;
  info.keepalive_timeout = 30;
  info.vhost_name = "mashwara";

  s->lws = lws_create_context(&info);
  if (!s->lws) {
    g_set_error(error, SIG_ERROR, SIG_ERROR_FAILED,
                "cannot listen on %s:%u (address in use, or a bad certificate?)",
                config->listen_address ? config->listen_address : "*", config->port);
    sig_server_free(s);
    return NULL;
  }
  return s;
}

void sig_server_free(SigServer *server)
{
  if (!server)
    return;
  server->closing = TRUE;
  g_clear_handle_id(&server->waiting_refresh, g_source_remove);
  batch_finish(server); /* durable, though the held answers will not go out */
  if (server->lws)
    lws_context_destroy(server->lws); /* closes every connection: CLOSED for each */
  sig_consult_free_all(server);
  sig_notices_release(server, &server->request_notices, FALSE);
  sig_notices_release(server, &server->batch_notices, FALSE);
  g_hash_table_destroy(server->conns);
  g_hash_table_destroy(server->participants);
  g_hash_table_destroy(server->tokens_in_use);
  g_hash_table_destroy(server->consults);
  g_hash_table_destroy(server->wsi_address);
  g_hash_table_destroy(server->address_conns);
  g_hash_table_destroy(server->over_cap);
  sig_buckets_free(server->rate_address);
  sig_buckets_free(server->rate_token);
  sig_buckets_free(server->rate_chat);
  sig_static_free(server->statics);
  sig_buckets_free(server->login_account);
  sig_buckets_free(server->login_address);
  g_free((char *)server->config.listen_address);
  g_free((char *)server->config.tls_cert_path);
  g_free((char *)server->config.tls_key_path);
  g_free((char *)server->config.web_root);
  g_free((char *)server->config.public_url);
  g_strfreev((char **)server->config.turn_uris);
  g_free((char *)server->config.turn_secret);
  g_free(server);
}
