/* fuzz-api-body.c — libFuzzer driver for the staff API's request checks (sig-api-check.h) with
 * the real route table of sig-api-clinic.c: everything sig_api_clinic_handle() checks before it
 * asks the store who is calling or runs a handler. Input: a request line, a line feed, the body:
 *
 *   POST /api/doctors?x=1&y
 *   {"username": ...}
 *
 * The path (after the method and one space, up to '?') picks the route as in
 * sig_api_clinic_route(); the query is split on '&' (the server hands it over URL-decoded);
 * the body is checked against the route's fields for POST and PUT. A refusal must make the
 * error body the server sends (sig_api_error_body()); what is accepted must have exactly the
 * route's members and types. */
#include <stdint.h>
#include <string.h>

#include "sig-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int method_of(const char *word)
{
  static const struct {
    const char *name;
    int method;
  } methods[] = {{"GET", LWSHUMETH_GET},
                 {"POST", LWSHUMETH_POST},
                 {"PUT", LWSHUMETH_PUT},
                 {"DELETE", LWSHUMETH_DELETE}};
  for (gsize i = 0; i < G_N_ELEMENTS(methods); i++)
    if (strcmp(word, methods[i].name) == 0)
      return methods[i].method;
  return -1;
}

/* The refusal as the client would get it: a JSON error body. */
static void answer_refusal(SigApiRefusal *r)
{
  g_assert_nonnull(r->code);
  g_assert_nonnull(r->message);
  g_assert_true(g_utf8_validate(r->message, -1, NULL));
  g_assert_true(!r->field || g_utf8_validate(r->field, -1, NULL));
  g_autofree char *body = sig_api_error_body(r->code, r->message, r->field);
  g_assert_nonnull(body);
  sig_api_refusal_clear(r);
}

static void check_accepted(json_t *body, const SigApiField *fields)
{
  g_assert_true(json_is_object(body));
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v)
  {
    const SigApiField *f = fields;
    while (f->name && strcmp(f->name, key) != 0)
      f++;
    g_assert_nonnull(f->name);
    switch (f->type) {
    case SIG_API_ID:
      g_assert_cmpint(json_integer_value(v), >, 0);
      break;
    case SIG_API_ID0:
    case SIG_API_TIME0:
      g_assert_cmpint(json_integer_value(v), >=, 0);
      /* fall through */
    case SIG_API_TIME:
      g_assert_true(json_is_integer(v));
      break;
    case SIG_API_INT:
      g_assert_true(json_integer_value(v) >= G_MININT && json_integer_value(v) <= G_MAXINT);
      break;
    case SIG_API_INTN:
      g_assert_true(json_is_null(v) || (json_is_integer(v) && json_integer_value(v) >= G_MININT &&
                                        json_integer_value(v) <= G_MAXINT));
      break;
    case SIG_API_STR:
      g_assert_nonnull(json_string_value(v));
      break;
    case SIG_API_STRN:
      g_assert_true(json_is_string(v) || json_is_null(v));
      break;
    case SIG_API_STRV:
      g_assert_cmpuint(json_array_size(v), <=, 64);
      break;
    }
  }
  for (const SigApiField *f = fields; f->name; f++)
    g_assert_true(!f->required || json_object_get(body, f->name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  const char *nl = memchr(text, '\n', size);
  gsize line_len = nl ? (gsize)(nl - text) : size;
  if (line_len > SIG_HTTP_MAX_BODY)
    return 0;
  /* The server's request line is a C string: cut at a NUL, as lws would. */
  g_autofree char *line = g_strndup(text, line_len);
  const char *body = nl ? nl + 1 : text + size;
  gsize body_len = size - (gsize)(body - text);
  if (body_len > SIG_HTTP_MAX_BODY) /* sig-server.c refuses larger bodies (413) */
    return 0;

  char *sp = strchr(line, ' ');
  if (!sp)
    return 0;
  *sp = '\0';
  int method = method_of(line);
  char *path = sp + 1;
  char *q = strchr(path, '?');
  g_auto(GStrv) query = NULL;
  if (q) {
    *q = '\0';
    query = g_strsplit(q + 1, "&", 64);
  }

  const char *allowed = NULL;
  const SigApiField *fields = NULL;
  if (!sig_api_clinic_route(method, path, &allowed, &fields))
    return 0;
  SigApiRefusal r = {0};
  if (!sig_api_check_query(allowed, (const char *const *)query, &r)) {
    g_assert_cmpstr(r.code, ==, "unknown_field");
    answer_refusal(&r);
  }
  if (method != LWSHUMETH_POST && method != LWSHUMETH_PUT)
    return 0;
  json_t *checked = sig_api_check_body(fields, body, body_len, &r);
  if (!checked) {
    answer_refusal(&r);
    return 0;
  }
  g_assert_null(r.code);
  check_accepted(checked, fields);
  json_decref(checked);
  return 0;
}
