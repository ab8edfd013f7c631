/* sig-static.c — the pages' files from memory, gzip'd and tagged (see sig-static.h).
 *
 * The cache holds every file of the web root that was asked for (a few dozen, a few hundred KB
 * in all), keyed by path; an entry is rebuilt when the file's size or modification time is not
 * what it was, so an operator who updates web/ needs no restart. Compression is gzip level 9,
 * done once per version of a file (~1 ms for the largest script here). */
#include "sig-static.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <string.h>

typedef struct {
  SigStaticFile file;
  gint64 mtime_us;
  goffset size;
} Entry;

struct SigStatic {
  GHashTable *entries; /* char* path → Entry* (owned) */
};

static void entry_free(gpointer data)
{
  Entry *e = data;
  g_bytes_unref(e->file.plain);
  if (e->file.gzip)
    g_bytes_unref(e->file.gzip);
  g_free((char *)e->file.etag);
  g_free((char *)e->file.etag_gzip);
  g_free(e);
}

SigStatic *sig_static_new(void)
{
  SigStatic *st = g_new0(SigStatic, 1);
  st->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, entry_free);
  return st;
}

void sig_static_free(SigStatic *st)
{
  if (!st)
    return;
  g_hash_table_destroy(st->entries);
  g_free(st);
}

/* (transfer full) data gzip'd, or NULL on a compressor error. */
static GBytes *gzip_bytes(GBytes *data)
{
  g_autoptr(GZlibCompressor) z = g_zlib_compressor_new(G_ZLIB_COMPRESSOR_FORMAT_GZIP, 9);
  g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable();
  g_autoptr(GOutputStream) out = g_converter_output_stream_new(mem, G_CONVERTER(z));
  gsize len;
  const void *p = g_bytes_get_data(data, &len);
  if (!g_output_stream_write_all(out, p, len, NULL, NULL, NULL) ||
      !g_output_stream_close(out, NULL, NULL))
    return NULL;
  return g_memory_output_stream_steal_as_bytes(G_MEMORY_OUTPUT_STREAM(mem));
}

const SigStaticFile *sig_static_get(SigStatic *st, const char *path, gboolean *too_large,
                                    GError **error)
{
  *too_large = FALSE;
  GStatBuf sb;
  if (g_stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file", path);
    return NULL;
  }
  goffset size = sb.st_size;
  gint64 mtime_us = (gint64)sb.st_mtim.tv_sec * G_USEC_PER_SEC + sb.st_mtim.tv_nsec / 1000;
  Entry *e = g_hash_table_lookup(st->entries, path);
  if (e && e->size == size && e->mtime_us == mtime_us)
    return &e->file;
  if (size > SIG_STATIC_MAX_BYTES) {
    *too_large = TRUE;
    return NULL;
  }
  char *contents;
  gsize len;
  if (!g_file_get_contents(path, &contents, &len, error))
    return NULL;
  e = g_new0(Entry, 1);
  e->size = size;
  e->mtime_us = mtime_us;
  e->file.plain = g_bytes_new_take(contents, len);
  g_autofree char *sum = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, e->file.plain);
  e->file.etag = g_strdup_printf("\"%.20s\"", sum);
  e->file.etag_gzip = g_strdup_printf("\"%.20s-gz\"", sum);
  GBytes *gz = gzip_bytes(e->file.plain);
  if (gz && g_bytes_get_size(gz) < len / 10 * 9)
    e->file.gzip = gz;
  else if (gz)
    g_bytes_unref(gz);
  g_hash_table_replace(st->entries, g_strdup(path), e);
  return &e->file;
}

/* The next comma-separated element of a header value, trimmed; NULL at the end. */
static const char *next_element(const char *s, gsize *len, const char **rest)
{
  while (*s == ' ' || *s == '\t' || *s == ',')
    s++;
  if (!*s)
    return NULL;
  const char *end = strchr(s, ',');
  if (!end)
    end = s + strlen(s);
  *rest = end;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *len = (gsize)(end - s);
  return s;
}

gboolean sig_static_accepts_gzip(const char *accept_encoding)
{
  if (!accept_encoding)
    return FALSE;
  int gzip = -1, star = -1; /* -1 not named, 0 refused (q=0), 1 accepted */
  const char *rest = accept_encoding, *el;
  gsize len;
  while ((el = next_element(rest, &len, &rest)) != NULL) {
    const char *semi = memchr(el, ';', len);
    gsize name_len = semi ? (gsize)(semi - el) : len;
    while (name_len && (el[name_len - 1] == ' ' || el[name_len - 1] == '\t'))
      name_len--;
    int *slot = name_len == 4 && g_ascii_strncasecmp(el, "gzip", 4) == 0 ? &gzip
                : name_len == 1 && el[0] == '*'                          ? &star
                                                                         : NULL;
    if (!slot)
      continue;
    *slot = 1;
    if (semi) {
      g_autofree char *params = g_strndup(semi + 1, len - (gsize)(semi - el) - 1);
      const char *q = strstr(params, "q=");
      if (q && g_ascii_strtod(q + 2, NULL) <= 0)
        *slot = 0;
    }
  }
  return gzip >= 0 ? gzip == 1 : star == 1;
}

gboolean sig_static_etag_matches(const char *if_none_match, const char *etag)
{
  if (!if_none_match || !etag)
    return FALSE;
  const char *rest = if_none_match, *el;
  gsize len;
  gsize etag_len = strlen(etag);
  while ((el = next_element(rest, &len, &rest)) != NULL) {
    if (len == 1 && el[0] == '*')
      return TRUE;
    if (len >= 2 && el[0] == 'W' && el[1] == '/') {
      el += 2;
      len -= 2;
    }
    if (len == etag_len && memcmp(el, etag, len) == 0)
      return TRUE;
  }
  return FALSE;
}
