/* sig-api-check.h — the checks the staff API (sig-api-clinic.c) makes of a request before a
 * handler or the database sees it: the path against a route's pattern, the query's keys, and the
 * JSON body's members and types (docs/api.md). Private to the signaling module; pure (no server,
 * no store, no sockets), so that it can be unit-tested and fuzzed (tests/fuzz/fuzz-api-body.c).
 * Any thread. */
#pragma once

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef enum {
  SIG_API_ID,    /* integer > 0 */
  SIG_API_INT,   /* integer that fits an int */
  SIG_API_TIME,  /* integer: unix seconds */
  SIG_API_STR,   /* string */
  SIG_API_STRN,  /* string or null */
  SIG_API_STRV,  /* array of at most 64 strings */
  SIG_API_ID0,   /* integer >= 0 (0 = none) */
  SIG_API_TIME0, /* integer >= 0 (0 = none) */
  SIG_API_INTN,  /* integer that fits an int, or null */
} SigApiFieldType;

/* One member a request's body may have; a route lists them, ending with {NULL}. */
typedef struct {
  const char *name;
  SigApiFieldType type;
  gboolean required;
} SigApiField;

#define SIG_API_MAX_FIELDS 12

/* Why a request was refused (HTTP 400): `code` is the API's error code ("malformed_body",
 * "unknown_field", "wrong_type", "invalid", "missing_field"; static), `field` the member or
 * parameter at fault or NULL, `message` a text fit for the client; both owned. */
typedef struct {
  const char *code;
  char *field;
  char *message;
} SigApiRefusal;

/* Frees the refusal's strings and zeroes it. */
void sig_api_refusal_clear(SigApiRefusal *refusal);

/* Is every "key[=value]" of `query` (NULL-terminated, or NULL) one of `allowed` (a
 * comma-separated list, or NULL for none)? FALSE with an "unknown_field" refusal otherwise. */
gboolean sig_api_check_query(const char *allowed, const char *const *query, SigApiRefusal *refusal);

/* (transfer full) The body (`len` bytes, not necessarily NUL-terminated; an empty body reads as
 * {}) as a JSON object with no duplicate or unknown members, every required member of `fields`
 * present and every member of its type. NULL with a refusal otherwise. */
json_t *sig_api_check_body(const SigApiField *fields, const char *body, gsize len,
                           SigApiRefusal *refusal);

G_END_DECLS
