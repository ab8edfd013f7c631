/* sched-audit.c — the audit log's rules (scheduler.h, "Audit log") and the retention run.
 *
 * The chain: row n stores prev_hash = hash of row n-1 (64 zeros for row 1) and hash = SHA-256
 * of its canonical serialisation (sched_audit_record_hash). Ids are assigned here as head + 1
 * inside the appending transaction, so a gap, an edit, a deletion or a swap shows at the first
 * row it touches. What the chain cannot show on its own is the loss of the newest rows: the
 * operator keeps the head (printed by `mashwara admin audit-verify`) somewhere else
 * (docs/operations.md).
 *
 * Privacy by construction: every text field is checked against a small character set (words,
 * numbers, '=', ',', ':'), so a name, a phone number with spaces, a note or a token cannot be
 * stored by mistake; callers pass ids and fixed words.
 * Threads: the main loop's, like the rest of the store (sched_audit_record_hash is pure). */
#include "scheduler.h"
#include "sched-private.h"

#include <sodium.h>
#include <string.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define VERIFY_CHUNK 1000
#define AT_MS_MAX (SCHED_TIME_MAX * 1000)

static const char *const actor_kinds[] = {"staff",  "patient",  "guest",
                                          "system", "operator", "anonymous"};
static const char *const outcomes[] = {"ok", "refused", "failed"};

void sched_audit_record_free(SchedAuditRecord *r)
{
  if (r == NULL)
    return;
  g_free(r->actor_kind);
  g_free(r->actor_role);
  g_free(r->action);
  g_free(r->object_type);
  g_free(r->detail);
  g_free(r->address);
  g_free(r->outcome);
  g_free(r->prev_hash);
  g_free(r->hash);
  g_free(r);
}

static void canon_str(GString *out, const char *v)
{
  if (v == NULL)
    g_string_append(out, "|~");
  else
    g_string_append_printf(out, "|%" G_GSIZE_FORMAT ":%s", strlen(v), v);
}

static void canon_int(GString *out, gint64 v)
{
  g_autofree char *s = g_strdup_printf("%" G_GINT64_FORMAT, v);
  canon_str(out, s);
}

char *sched_audit_record_hash(const SchedAuditRecord *r)
{
  unsigned char digest[crypto_hash_sha256_BYTES];
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  g_autoptr(GString) c = g_string_new("mashwara-audit-v1");

  g_return_val_if_fail(r != NULL, NULL);
  sched__crypto_init();
  canon_int(c, r->id);
  canon_int(c, r->at_ms);
  canon_str(c, r->actor_kind);
  canon_int(c, r->actor_id);
  canon_str(c, r->actor_role);
  canon_int(c, r->appointment_id);
  canon_str(c, r->action);
  canon_str(c, r->object_type);
  canon_int(c, r->object_id);
  canon_str(c, r->detail);
  canon_str(c, r->address);
  canon_str(c, r->outcome);
  canon_str(c, r->prev_hash);
  crypto_hash_sha256(digest, (const unsigned char *)c->str, c->len);
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return g_strdup(hex);
}

/* A word: 1..SCHED_AUDIT_WORD_MAX_BYTES of [A-Za-z0-9_.:=,+-] (and `extra`). */
static gboolean valid_word(const char *s, const char *extra)
{
  gsize n = s != NULL ? strlen(s) : 0;

  if (n == 0 || n > SCHED_AUDIT_WORD_MAX_BYTES)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum(*p) && strchr("_.:=,+-", *p) == NULL &&
        (extra == NULL || strchr(extra, *p) == NULL))
      return FALSE;
  return TRUE;
}

static gboolean check_entry(const SchedAuditEntry *e, GError **error)
{
  const char *field = NULL;

  if (!sched__in_set(e->actor_kind, actor_kinds, G_N_ELEMENTS(actor_kinds)))
    field = "actor_kind";
  else if (!valid_word(e->action, NULL))
    field = "action";
  else if (!sched__in_set(e->outcome, outcomes, G_N_ELEMENTS(outcomes)))
    field = "outcome";
  else if (e->actor_role != NULL && !valid_word(e->actor_role, NULL))
    field = "actor_role";
  else if (e->object_type != NULL && !valid_word(e->object_type, NULL))
    field = "object_type";
  else if (e->detail != NULL && !valid_word(e->detail, NULL))
    field = "detail";
  else if (e->address != NULL && !valid_word(e->address, "[]%"))
    field = "address";
  else if (e->at_ms < 0 || e->at_ms > AT_MS_MAX)
    field = "at_ms";
  else if (e->actor_id < 0 || e->appointment_id < 0 || e->object_id < 0)
    field = e->actor_id < 0 ? "actor_id" : e->appointment_id < 0 ? "appointment_id" : "object_id";
  if (field == NULL)
    return TRUE;
  sched__field_error(error, SCHED_ERROR_INVALID, field, "not an allowed audit value");
  return FALSE;
}

/* Inside a transaction: reads the head, chains and inserts. */
static gboolean append_in_tx(SchedStore *store, const SchedAuditEntry *e, gint64 *id,
                             GError **error)
{
  const SchedBackend *be = store->backend;
  g_autofree char *head_hash = NULL;
  gint64 head_id = 0;
  SchedAuditRecord r = {0};
  g_autofree char *hash = NULL;

  if (!be->audit_head(store->db, &head_id, &head_hash, error))
    return FALSE;
  r.id = head_id + 1;
  r.at_ms = e->at_ms > 0 ? e->at_ms : g_get_real_time() / 1000;
  r.actor_kind = (char *)e->actor_kind;
  r.actor_id = e->actor_id;
  r.actor_role = (char *)e->actor_role;
  r.appointment_id = e->appointment_id;
  r.action = (char *)e->action;
  r.object_type = (char *)e->object_type;
  r.object_id = e->object_id;
  r.detail = (char *)e->detail;
  r.address = (char *)e->address;
  r.outcome = (char *)e->outcome;
  r.prev_hash = head_hash != NULL ? head_hash : (char *)ZERO_HASH;
  hash = sched_audit_record_hash(&r);
  r.hash = hash;
  if (!be->audit_insert(store->db, &r, error))
    return FALSE;
  if (id != NULL)
    *id = r.id;
  return TRUE;
}

gboolean sched_audit_append(SchedStore *store, const SchedAuditEntry *entry, gint64 *id,
                            GError **error)
{
  const SchedBackend *be;

  g_return_val_if_fail(store != NULL && entry != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  be = store->backend;
  if (!check_entry(entry, error))
    return FALSE;
  /* In a unit or batch this is a savepoint of its transaction; else BEGIN IMMEDIATE, which
   * takes the write lock before the head is read. */
  if (!be->begin(store->db, error))
    return FALSE;
  if (!append_in_tx(store, entry, id, error)) {
    be->rollback(store->db);
    return FALSE;
  }
  if (!be->commit(store->db, error)) {
    be->rollback(store->db);
    return FALSE;
  }
  return TRUE;
}

/* --- Audited units ------------------------------------------------------------------------ */

gboolean sched_audit_unit_begin(SchedStore *store, GError **error)
{
  g_return_val_if_fail(store != NULL && !store->unit_open, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  /* The batch machinery turns every nested begin into a savepoint of one transaction. */
  store->unit_owns_batch = !store->batch_open;
  if (store->unit_owns_batch)
    sched_store_batch_begin(store);
  if (!store->backend->begin(store->db, error)) {
    if (store->unit_owns_batch)
      sched_store_batch_commit(store, NULL);
    return FALSE;
  }
  store->unit_open = TRUE;
  return TRUE;
}

gboolean sched_audit_unit_is_open(SchedStore *store)
{
  g_return_val_if_fail(store != NULL, FALSE);
  return store->unit_open;
}

static gboolean unit_close(SchedStore *store, gboolean ok, GError **error)
{
  store->unit_open = FALSE;
  if (store->unit_owns_batch) {
    store->unit_owns_batch = FALSE;
    if (!sched_store_batch_commit(store, ok ? error : NULL))
      return FALSE;
  }
  return ok;
}

gboolean sched_audit_unit_commit(SchedStore *store, const SchedAuditEntry *entry, GError **error)
{
  const SchedBackend *be;
  gboolean ok;

  g_return_val_if_fail(store != NULL && entry != NULL && store->unit_open, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  be = store->backend;
  ok = sched_audit_append(store, entry, NULL, error) && be->commit(store->db, error);
  if (!ok)
    be->rollback(store->db); /* the change goes with its audit row */
  return unit_close(store, ok, error);
}

void sched_audit_unit_rollback(SchedStore *store)
{
  g_return_if_fail(store != NULL && store->unit_open);
  store->backend->rollback(store->db);
  unit_close(store, TRUE, NULL);
}

/* --- Verification and listing ------------------------------------------------------------ */

static gboolean broken(GError **error, gint64 *first_bad_id, gint64 id, const char *what)
{
  if (first_bad_id != NULL)
    *first_bad_id = id;
  g_set_error(error, SCHED_ERROR, SCHED_ERROR_INVALID, "audit_log: row %" G_GINT64_FORMAT ": %s",
              id, what);
  return FALSE;
}

gboolean sched_audit_verify(SchedStore *store, gint64 *first_bad_id, gint64 *rows, GError **error)
{
  const SchedBackend *be;
  g_autofree char *prev = g_strdup(ZERO_HASH);
  gint64 last_id = 0, n = 0;
  gboolean guarded = FALSE;

  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  be = store->backend;
  if (first_bad_id != NULL)
    *first_bad_id = 0;
  if (rows != NULL)
    *rows = 0;
  for (;;) {
    g_autoptr(GPtrArray) chunk =
        g_ptr_array_new_with_free_func((GDestroyNotify)sched_audit_record_free);
    if (!be->audit_scan(store->db, last_id, VERIFY_CHUNK, chunk, error))
      return FALSE;
    for (guint i = 0; i < chunk->len; i++) {
      const SchedAuditRecord *r = g_ptr_array_index(chunk, i);
      g_autofree char *hash = sched_audit_record_hash(r);

      if (r->id != last_id + 1)
        return broken(error, first_bad_id, r->id, "its id does not follow the row before");
      if (g_strcmp0(r->prev_hash, prev) != 0)
        return broken(error, first_bad_id, r->id,
                      "prev_hash is not the hash of the row before (a row was removed, "
                      "replaced or reordered)");
      if (g_strcmp0(r->hash, hash) != 0)
        return broken(error, first_bad_id, r->id, "its hash does not match its fields (edited)");
      g_free(prev);
      prev = g_strdup(r->hash);
      last_id = r->id;
      n++;
      if (rows != NULL)
        *rows = n;
    }
    if (chunk->len < VERIFY_CHUNK)
      break;
  }
  if (!be->audit_guarded(store->db, &guarded, error))
    return FALSE;
  if (!guarded) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_INVALID,
                "audit_log: an append-only trigger is missing (the table was opened for edits)");
    return FALSE;
  }
  return TRUE;
}

GPtrArray *sched_audit_list(SchedStore *store, const SchedAuditFilter *filter, GError **error)
{
  SchedAuditFilter f = {0};

  g_return_val_if_fail(store != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (filter != NULL)
    f = *filter;
  if (f.limit > 1000) {
    sched__field_error(error, SCHED_ERROR_INVALID, "limit", "at most 1000");
    return NULL;
  }
  if (f.limit == 0)
    f.limit = 100;
  return store->backend->audit_list(store->db, &f, error);
}

/* --- Retention ---------------------------------------------------------------------------- */

gboolean sched_retention_run(SchedStore *store, gint64 now, int days, gboolean dry_run,
                             SchedRetentionCounts *counts, GError **error)
{
  const SchedBackend *be;
  SchedRetentionCounts c = {0};
  g_autofree char *detail = NULL;
  gboolean ok;

  g_return_val_if_fail(store != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  g_return_val_if_fail(!store->unit_open, FALSE);
  be = store->backend;
  if (counts != NULL)
    memset(counts, 0, sizeof *counts);
  if (now <= 0)
    now = sched__now_s();
  if (days < SCHED_RETENTION_DAYS_MIN || days > 100 * 366) {
    sched__field_error(error, SCHED_ERROR_INVALID, "days", "must be %d..%d",
                       SCHED_RETENTION_DAYS_MIN, 100 * 366);
    return FALSE;
  }
  if (!sched__valid_time(now)) {
    sched__field_error(error, SCHED_ERROR_INVALID, "now", "out of range");
    return FALSE;
  }
  if (!be->begin(store->db, error))
    return FALSE;
  ok = be->retention_apply(store->db, now - (gint64)days * 86400, now, &c, error);
  if (ok && !dry_run) {
    SchedAuditEntry e = {
        .at_ms = now * 1000,
        .actor_kind = "system",
        .action = "retention.run",
        .outcome = "ok",
    };
    detail = g_strdup_printf(
        "days=%d,p=%" G_GINT64_FORMAT ",a=%" G_GINT64_FORMAT ",t=%" G_GINT64_FORMAT
        ",n=%" G_GINT64_FORMAT ",s=%" G_GINT64_FORMAT ",c=%" G_GINT64_FORMAT,
        days, c.patients, c.appointments, c.tokens, c.notices, c.sessions, c.clinical);
    e.detail = detail;
    ok = check_entry(&e, error) && append_in_tx(store, &e, NULL, error);
  }
  if (ok && !dry_run)
    ok = be->commit(store->db, error);
  if (!ok || dry_run)
    be->rollback(store->db);
  if (ok && counts != NULL)
    *counts = c;
  return ok;
}
