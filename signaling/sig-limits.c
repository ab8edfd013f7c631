/* sig-limits.c — keyed token buckets (sig-limits.h). Pure code. Cost: a take is one hash
 * lookup; pruning, when the table is full, is O(keys), at most once per max_keys / 4 new keys. */
#include "sig-limits.h"

typedef struct {
  double tokens;
  gint64 at_us; /* when `tokens` was last brought up to date */
} Bucket;

struct SigBuckets {
  double per_second, burst;
  guint max_keys;
  GHashTable *keys; /* char* → Bucket* (both owned) */
};

SigBuckets *sig_buckets_new(double per_second, double burst, guint max_keys)
{
  SigBuckets *b = g_new0(SigBuckets, 1);
  b->per_second = per_second;
  b->burst = MAX(burst, 1.0);
  b->max_keys = MAX(max_keys, 16u);
  b->keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  return b;
}

void sig_buckets_free(SigBuckets *b)
{
  if (!b)
    return;
  g_hash_table_destroy(b->keys);
  g_free(b);
}

static void refill(SigBuckets *b, Bucket *k, gint64 now_us)
{
  if (now_us > k->at_us) {
    k->tokens = MIN(b->burst, k->tokens + (double)(now_us - k->at_us) / 1e6 * b->per_second);
    k->at_us = now_us;
  }
}

/* Drops full buckets; if fewer than a quarter go, the least recently refilled ones too. */
static void prune(SigBuckets *b, gint64 now_us)
{
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init(&it, b->keys);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    refill(b, value, now_us);
    if (((Bucket *)value)->tokens >= b->burst)
      g_hash_table_iter_remove(&it);
  }
  for (gint64 age_us = (gint64)3600 * G_USEC_PER_SEC;
       g_hash_table_size(b->keys) > b->max_keys * 3 / 4; age_us /= 2) {
    g_hash_table_iter_init(&it, b->keys);
    while (g_hash_table_iter_next(&it, &key, &value))
      if (now_us - ((Bucket *)value)->at_us >= age_us || age_us < G_USEC_PER_SEC)
        g_hash_table_iter_remove(&it);
  }
}

static Bucket *lookup(SigBuckets *b, const char *key, gint64 now_us, gboolean create)
{
  Bucket *k = g_hash_table_lookup(b->keys, key);
  if (!k && create) {
    if (g_hash_table_size(b->keys) >= b->max_keys)
      prune(b, now_us);
    k = g_new0(Bucket, 1);
    k->tokens = b->burst;
    k->at_us = now_us;
    g_hash_table_insert(b->keys, g_strdup(key), k);
  }
  if (k)
    refill(b, k, now_us);
  return k;
}

static gint64 wait_s(SigBuckets *b, const Bucket *k)
{
  double s = (1.0 - k->tokens) / b->per_second;
  gint64 whole = (gint64)s;
  return MAX((gint64)1, whole < s ? whole + 1 : whole);
}

gint64 sig_buckets_take(SigBuckets *b, const char *key, gint64 now_us)
{
  g_return_val_if_fail(b != NULL && key != NULL, 0);
  if (b->per_second <= 0)
    return 0;
  Bucket *k = lookup(b, key, now_us, TRUE);
  if (k->tokens >= 1.0) {
    k->tokens -= 1.0;
    return 0;
  }
  return wait_s(b, k);
}

gint64 sig_buckets_peek(SigBuckets *b, const char *key, gint64 now_us)
{
  g_return_val_if_fail(b != NULL && key != NULL, 0);
  if (b->per_second <= 0)
    return 0;
  Bucket *k = lookup(b, key, now_us, FALSE);
  return !k || k->tokens >= 1.0 ? 0 : wait_s(b, k);
}

void sig_buckets_reset(SigBuckets *b, const char *key)
{
  g_hash_table_remove(b->keys, key);
}

guint sig_buckets_size(SigBuckets *b)
{
  return g_hash_table_size(b->keys);
}
