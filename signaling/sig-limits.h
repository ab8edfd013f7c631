/* sig-limits.h — token buckets keyed by a string (an address, a join token, an account), for
 * request rates and login throttling (private to the signaling module and its tests). Pure: the
 * caller passes the time. Thread: the owner's (the main loop). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct SigBuckets SigBuckets;

/* (transfer full) Each key holds up to `burst` tokens and gains `per_second` a second. A
 * `per_second` of 0 or less means "no limit": every take succeeds. At most `max_keys` keys are
 * kept: full buckets are dropped first, and if that is not enough the oldest are. */
SigBuckets *sig_buckets_new(double per_second, double burst, guint max_keys);
void sig_buckets_free(SigBuckets *buckets);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SigBuckets, sig_buckets_free)

/* Takes one token from `key` at `now_us` (monotonic microseconds). Returns 0 if there was one,
 * else the whole seconds (at least 1) until there will be (for Retry-After). */
gint64 sig_buckets_take(SigBuckets *buckets, const char *key, gint64 now_us);
/* As take, without taking: 0 if a token is there now. */
gint64 sig_buckets_peek(SigBuckets *buckets, const char *key, gint64 now_us);
/* Forgets `key` (a full bucket again). */
void sig_buckets_reset(SigBuckets *buckets, const char *key);
guint sig_buckets_size(SigBuckets *buckets);

G_END_DECLS
