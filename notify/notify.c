/* notify.c — the sender instance around a NotifySenderClass: it tracks the sends in flight,
 * reports each result on the main context (never from inside notify_sender_send(), so a caller
 * may send from its own callback without re-entering itself), and drops the reports of a freed
 * sender. Also the pure helpers (backoff, the log's recipient hint, the webhook's JSON).
 *
 * Ownership: a NotifyCompletion is made here per send and freed here: when it is reported, or
 * when it finishes after its sender was freed. Thread: the sender's main context only. */
#include "notify.h"

#include <jansson.h>
#include <string.h>

G_DEFINE_QUARK(mashwara - notify - error - quark, notify_error)

struct NotifySender {
  const NotifySenderClass *klass;
  gpointer state;
  GMainContext *context; /* where completions are reported (ref held) */
  GHashTable *pending;   /* NotifyCompletion * started and not yet reported (owned here) */
};

struct NotifyCompletion {
  NotifySender *sender; /* NULL once the sender is freed: the result is dropped */
  gint64 message_id;
  NotifyDoneFunc done;
  gpointer user_data;
  gboolean in_send;  /* the class's send() is still on the stack */
  gboolean finished; /* notify_completion_finish() ran (exactly once) */
  NotifyResult result;
  char *error;
  GSource *deferred; /* reports a finish made inside send(); ref held */
};

static void completion_free(NotifyCompletion *c)
{
  if (c->deferred) {
    g_source_destroy(c->deferred);
    g_source_unref(c->deferred);
  }
  g_free(c->error);
  g_free(c);
}

/* Hands the result to the caller and frees the completion. */
static void completion_report(NotifyCompletion *c)
{
  NotifySender *sender = c->sender;
  g_hash_table_remove(sender->pending, c);
  /* The callback may free the sender; `c` is no longer reachable from it. */
  c->done(c->message_id, c->result, c->error, c->user_data);
  completion_free(c);
}

static gboolean on_deferred(gpointer data)
{
  NotifyCompletion *c = data;
  /* The context holds its own ref while dispatching; drop ours so completion_free does not
   * destroy the source under the dispatcher. */
  g_source_unref(g_steal_pointer(&c->deferred));
  completion_report(c);
  return G_SOURCE_REMOVE;
}

void notify_completion_finish(NotifyCompletion *c, NotifyResult result, const char *error)
{
  g_return_if_fail(c != NULL);
  g_assert(!c->finished); /* a class finishes each send exactly once */
  c->finished = TRUE;
  if (!c->sender) {
    completion_free(c);
    return;
  }
  c->result = result;
  c->error = g_strdup(error);
  if (c->in_send) {
    c->deferred = g_idle_source_new();
    g_source_set_priority(c->deferred, G_PRIORITY_DEFAULT);
    g_source_set_callback(c->deferred, on_deferred, c, NULL);
    g_source_attach(c->deferred, c->sender->context);
    return;
  }
  completion_report(c);
}

const NotifySenderClass *notify_sender_class_find(const char *name)
{
  static const NotifySenderClass *const classes[] = {&notify_log_sender, &notify_webhook_sender};
  for (gsize i = 0; i < G_N_ELEMENTS(classes); i++)
    if (g_strcmp0(classes[i]->name, name) == 0)
      return classes[i];
  return NULL;
}

NotifySender *notify_sender_new(const NotifySenderClass *klass, const NotifyConfig *config,
                                GError **error)
{
  g_return_val_if_fail(klass != NULL && config != NULL, NULL);
  g_return_val_if_fail(klass->create && klass->destroy && klass->send, NULL);
  gpointer state = klass->create(config, error);
  if (!state)
    return NULL;
  NotifySender *sender = g_new0(NotifySender, 1);
  sender->klass = klass;
  sender->state = state;
  sender->context = g_main_context_ref_thread_default();
  sender->pending = g_hash_table_new(NULL, NULL);
  return sender;
}

void notify_sender_free(NotifySender *sender)
{
  if (!sender)
    return;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, sender->pending);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    NotifyCompletion *c = key;
    c->sender = NULL;
    /* Finished but not yet reported: nobody will touch it again. Otherwise the class still
     * holds it and finishes it (cancelled) after destroy(). */
    if (c->finished)
      completion_free(c);
  }
  g_hash_table_destroy(sender->pending);
  sender->klass->destroy(sender->state);
  g_main_context_unref(sender->context);
  g_free(sender);
}

const char *notify_sender_name(NotifySender *sender)
{
  g_return_val_if_fail(sender != NULL, NULL);
  return sender->klass->name;
}

void notify_sender_send(NotifySender *sender, const NotifyMessage *message, NotifyDoneFunc done,
                        gpointer user_data)
{
  g_return_if_fail(sender != NULL && message != NULL && done != NULL);
  NotifyCompletion *c = g_new0(NotifyCompletion, 1);
  c->sender = sender;
  c->message_id = message->id;
  c->done = done;
  c->user_data = user_data;
  c->in_send = TRUE;
  g_hash_table_add(sender->pending, c);
  sender->klass->send(sender->state, message, c);
  c->in_send = FALSE;
}

guint notify_sender_in_flight(NotifySender *sender)
{
  g_return_val_if_fail(sender != NULL, 0);
  return g_hash_table_size(sender->pending);
}

/* --- Pure helpers ------------------------------------------------------------------------- */

gint64 notify_retry_delay_s(int attempts, gint64 base_s)
{
  if (base_s <= 0)
    base_s = 30;
  if (attempts < 1)
    attempts = 1;
  gint64 delay = base_s;
  for (int i = 1; i < attempts && delay < NOTIFY_RETRY_MAX_DELAY_S; i++)
    delay *= 2;
  return MIN(delay, NOTIFY_RETRY_MAX_DELAY_S);
}

char *notify_recipient_hint(const char *recipient)
{
  char digits[3] = {0};
  int n = 0;
  for (const char *p = recipient ? recipient + strlen(recipient) : NULL;
       p && p > recipient && n < 2;)
    if (g_ascii_isdigit(*--p))
      digits[1 - n++] = *p;
  if (n < 2)
    return g_strdup("..??");
  return g_strdup_printf("..%s", digits);
}

/* A JSON string of `s` (NULL as ""); invalid UTF-8 is repaired rather than dropped. */
static json_t *json_text(const char *s)
{
  g_autofree char *valid = g_utf8_make_valid(s ? s : "", -1);
  return json_string(valid);
}

char *notify_webhook_payload(const NotifyMessage *m)
{
  g_return_val_if_fail(m != NULL, NULL);
  json_t *o = json_object();
  json_object_set_new(o, "to", json_text(m->recipient));
  json_object_set_new(o, "body", json_text(m->body));
  json_object_set_new(o, "kind", json_text(m->kind));
  json_object_set_new(o, "language", json_text(m->language));
  json_object_set_new(o, "id", json_integer(m->id));
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  /* jansson allocates with malloc; hand back GLib memory. */
  char *out = g_strdup(text);
  free(text);
  return out;
}
