/* sig-static.h — the pages' files (the web root), served from memory: read once, gzip'd once,
 * tagged with a content hash (ETag), re-read when the file on disk changes.
 *
 * Why: a patient on a 150 kbit/s link waits about 7 s for 130 KB of page; gzip makes the
 * scripts and styles about a third of that, and a revalidated file costs a 304 instead of its
 * bytes when the page is opened again (a dropped call, a reminder link).
 *
 * Threads: one thread (the signaling loop) owns a SigStatic. No lws types here. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct SigStatic SigStatic;

/* One file as the cache holds it; valid until the next sig_static_get() of the same file. */
typedef struct {
  GBytes *plain;    /* the file's bytes */
  GBytes *gzip;     /* the same, gzip'd; NULL when that saves under 10 % (images, tiny files) */
  const char *etag; /* strong tag of the plain bytes, quoted: "\"<hex>\"" */
  const char *etag_gzip; /* tag of the gzip'd bytes (another representation): "\"<hex>-gz\"" */
} SigStaticFile;

/* Files over this size are not cached (the caller serves them from disk as they are). */
#define SIG_STATIC_MAX_BYTES (4 * 1024 * 1024)

SigStatic *sig_static_new(void);
void sig_static_free(SigStatic *st);

/* The file at path (under the web root: the caller checks the path). One stat per call; reads
 * and compresses the file the first time and again whenever its size or modification time
 * changed. (transfer none) NULL with *too_large TRUE and no error if it is over
 * SIG_STATIC_MAX_BYTES; NULL with G_FILE_ERROR_NOENT if it is not a regular file; NULL with
 * another error if it cannot be read. */
const SigStaticFile *sig_static_get(SigStatic *st, const char *path, gboolean *too_large,
                                    GError **error);

/* TRUE if an Accept-Encoding header value (NULL = absent) accepts gzip: the token "gzip" (or
 * "*") present and not weighted q=0. */
gboolean sig_static_accepts_gzip(const char *accept_encoding);

/* TRUE if an If-None-Match header value (NULL = absent) names etag: "*", or one of its
 * comma-separated entity tags equal to it, weak ("W/") or not (RFC 9110's weak comparison). */
gboolean sig_static_etag_matches(const char *if_none_match, const char *etag);

G_END_DECLS
