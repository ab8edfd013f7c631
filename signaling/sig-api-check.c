/* sig-api-check.c — see sig-api-check.h. Pure: every string it returns is owned by the caller;
 * messages quote client-sent keys only bounded (64 characters) and made valid UTF-8. */
#include "sig-api-check.h"

#include <string.h>

void sig_api_refusal_clear(SigApiRefusal *r)
{
  g_clear_pointer(&r->field, g_free);
  g_clear_pointer(&r->message, g_free);
  r->code = NULL;
}

static gboolean refuse(SigApiRefusal *r, const char *code, const char *field, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static gboolean refuse(SigApiRefusal *r, const char *code, const char *field, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  sig_api_refusal_clear(r);
  r->code = code;
  r->field = g_strdup(field);
  r->message = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  return FALSE;
}

static const char *type_words(SigApiFieldType t)
{
  switch (t) {
  case SIG_API_ID:
    return "a positive integer id";
  case SIG_API_ID0:
    return "an integer id (0 for none)";
  case SIG_API_INT:
    return "an integer";
  case SIG_API_INTN:
    return "an integer or null";
  case SIG_API_TIME:
  case SIG_API_TIME0:
    return "an integer (unix seconds)";
  case SIG_API_STR:
    return "a string";
  case SIG_API_STRN:
    return "a string or null";
  case SIG_API_STRV:
    return "an array of strings";
  }
  return "?";
}

/* Checks one JSON value against its type; FALSE (with a refusal) if it does not fit. */
static gboolean check_value(const SigApiField *f, json_t *v, SigApiRefusal *r)
{
  gboolean ok = FALSE;
  switch (f->type) {
  case SIG_API_ID:
    ok = json_is_integer(v);
    if (ok && json_integer_value(v) <= 0)
      return refuse(r, "invalid", f->name, "\"%s\" must be a positive integer id", f->name);
    break;
  case SIG_API_ID0:
  case SIG_API_TIME0:
    ok = json_is_integer(v);
    if (ok && json_integer_value(v) < 0)
      return refuse(r, "invalid", f->name, "\"%s\" must not be negative", f->name);
    break;
  case SIG_API_TIME:
    ok = json_is_integer(v);
    break;
  case SIG_API_INT:
    ok = json_is_integer(v);
    if (ok && (json_integer_value(v) < G_MININT || json_integer_value(v) > G_MAXINT))
      return refuse(r, "invalid", f->name, "\"%s\" is out of range", f->name);
    break;
  case SIG_API_INTN:
    ok = json_is_integer(v) || json_is_null(v);
    if (json_is_integer(v) &&
        (json_integer_value(v) < G_MININT || json_integer_value(v) > G_MAXINT))
      return refuse(r, "invalid", f->name, "\"%s\" is out of range", f->name);
    break;
  case SIG_API_STR:
    ok = json_is_string(v);
    break;
  case SIG_API_STRN:
    ok = json_is_string(v) || json_is_null(v);
    break;
  case SIG_API_STRV: {
    ok = json_is_array(v) && json_array_size(v) <= 64;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!json_is_string(e)) ok = FALSE;
    break;
  }
  }
  if (!ok)
    return refuse(r, "wrong_type", f->name, "\"%s\" must be %s", f->name, type_words(f->type));
  return TRUE;
}

json_t *sig_api_check_body(const SigApiField *fields, const char *body, gsize len, SigApiRefusal *r)
{
  g_return_val_if_fail(fields != NULL && (body != NULL || len == 0) && r != NULL, NULL);
  if (len == 0) {
    for (const SigApiField *f = fields; f->name; f++)
      if (f->required) {
        refuse(r, "malformed_body", NULL, "the body must be a JSON object");
        return NULL;
      }
    return json_object();
  }
  json_error_t jerr;
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(root)) {
    json_decref(root);
    refuse(r, "malformed_body", NULL, "the body must be a JSON object");
    return NULL;
  }
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v)
  {
    const SigApiField *f = fields;
    while (f->name && strcmp(f->name, key) != 0)
      f++;
    if (!f->name) {
      /* the key came from the client: quote it in the message, bounded */
      g_autofree char *k = g_utf8_substring(key, 0, MIN(g_utf8_strlen(key, -1), 64));
      refuse(r, "unknown_field", k, "\"%s\" is not a field of this request", k);
      goto fail;
    }
    if (!check_value(f, v, r))
      goto fail;
  }
  for (const SigApiField *f = fields; f->name; f++)
    if (f->required && !json_object_get(root, f->name)) {
      refuse(r, "missing_field", f->name, "\"%s\" is required", f->name);
      goto fail;
    }
  return root;
fail:
  json_decref(root);
  return NULL;
}

gboolean sig_api_check_query(const char *allowed, const char *const *query, SigApiRefusal *r)
{
  for (const char *const *q = query; q && *q; q++) {
    const char *eq = strchr(*q, '=');
    gsize n = eq ? (gsize)(eq - *q) : strlen(*q);
    g_autofree char *k = g_strndup(*q, MIN(n, 64));
    gboolean known = FALSE;
    if (allowed && g_utf8_validate(k, -1, NULL)) {
      g_auto(GStrv) names = g_strsplit(allowed, ",", -1);
      known = g_strv_contains((const char *const *)names, k);
    }
    if (!known) {
      g_autofree char *shown = g_utf8_make_valid(k, -1);
      return refuse(r, "unknown_field", shown, "\"%s\" is not a parameter of this request", shown);
    }
  }
  return TRUE;
}
