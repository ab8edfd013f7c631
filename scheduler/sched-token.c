/* sched-token.c — the pure rules of join tokens and session secrets: how they are made, what
 * shape they have, and when a token's window is open. No database, no I/O; safe to fuzz.
 *
 * A token is 32 bytes (256 bits) from libsodium's CSPRNG, base64url without padding: 43
 * characters of [A-Za-z0-9_-]. Tokens are never compared directly: the store looks them up by
 * their SHA-256, so the comparison leaks nothing about a stored token's bytes. The shape check
 * here is not constant time, and need not be: it only reads the caller's own input.
 *
 * Threads: every function here is MT safe. */
#include "scheduler.h"
#include "sched-private.h"

#include <sodium.h>
#include <string.h>

#define TOKEN_RAW_BYTES 32

G_STATIC_ASSERT(SCHED_TOKEN_LENGTH == (TOKEN_RAW_BYTES * 8 + 5) / 6);

void sched__crypto_init(void)
{
  static gsize initialised = 0;

  if (g_once_init_enter(&initialised)) {
    /* Without a working CSPRNG no token or salt is safe to issue: stop, even in release. */
    if (sodium_init() < 0)
      g_error("libsodium failed to initialise");
    g_once_init_leave(&initialised, 1);
  }
}

char *sched__secret_hash(const char *secret)
{
  g_return_val_if_fail(secret != NULL, NULL);
  return g_compute_checksum_for_string(G_CHECKSUM_SHA256, secret, -1);
}

char *sched_token_generate(void)
{
  guint8 raw[TOKEN_RAW_BYTES];
  const size_t out_len =
      sodium_base64_ENCODED_LEN(TOKEN_RAW_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *token = g_malloc(out_len);

  sched__crypto_init();
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(token, out_len, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  if (strlen(token) != SCHED_TOKEN_LENGTH)
    g_error("base64url encoding of a token has the wrong length");
  return token;
}

/* The 6-bit value of a base64url character, or -1. */
static int b64url_value(char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

gboolean sched_token_is_well_formed(const char *token)
{
  if (token == NULL)
    return FALSE;
  /* Stops at a NUL too, since NUL is not in the alphabet: never reads past a short string. */
  for (size_t i = 0; i < SCHED_TOKEN_LENGTH; i++) {
    if (b64url_value(token[i]) < 0)
      return FALSE;
  }
  if (token[SCHED_TOKEN_LENGTH] != '\0')
    return FALSE;
  /* 43 characters carry 258 bits for 256: the last character's two low bits are padding and
   * are zero in every token we make, so only one spelling of each token is accepted. */
  return (b64url_value(token[SCHED_TOKEN_LENGTH - 1]) & 0x3) == 0;
}

/* Saturating arithmetic for b >= 0: a window around a far-future or far-past time must not
 * overflow (signed overflow is undefined behaviour). */
static gint64 add_saturating(gint64 a, gint64 b)
{
  return a > G_MAXINT64 - b ? G_MAXINT64 : a + b;
}

static gint64 sub_saturating(gint64 a, gint64 b)
{
  return a < G_MININT64 + b ? G_MININT64 : a - b;
}

SchedTokenVerdict sched_token_window_verdict(const SchedTokenWindow *window, gint64 starts_at,
                                             gint64 ends_at, gint64 now, gint64 *valid_from,
                                             gint64 *valid_until)
{
  const SchedTokenWindow defaults = {
      .before_start_s = SCHED_TOKEN_BEFORE_START_DEFAULT_S,
      .after_end_s = SCHED_TOKEN_AFTER_END_DEFAULT_S,
  };
  const SchedTokenWindow *w = window != NULL ? window : &defaults;
  gint64 from = sub_saturating(starts_at, MAX(w->before_start_s, 0));
  gint64 until = add_saturating(ends_at, MAX(w->after_end_s, 0));

  if (valid_from != NULL)
    *valid_from = from;
  if (valid_until != NULL)
    *valid_until = until;
  /* [from, until): open at `from` itself, closed at `until` itself. */
  if (now < from)
    return SCHED_TOKEN_TOO_EARLY;
  if (now >= until)
    return SCHED_TOKEN_EXPIRED;
  return SCHED_TOKEN_VALID;
}
