/* notify.h — sends the patient notices the scheduler's outbox holds (confirmation, reminders,
 * "you are next", cancellation, waitlist offer, link resend) through a pluggable sender. The only
 * public header of the notify module (prefix `notify_`).
 *
 * The module knows nothing of the database: the caller (the daemon's jobs) claims outbox rows
 * from the scheduler, copies each into a NotifyMessage, hands it to a NotifySender, and records
 * the NotifyResult it gets back (done, retry later, or give up). Senders are `const` tables of
 * function pointers (NotifySenderClass), so an SMS gateway's own protocol is a new file with a
 * new table, not a change to the callers. Two ship here: `notify_log_sender` (the default; logs
 * that a notice would go out, without its text) and `notify_webhook_sender` (an HTTP POST of
 * JSON to an SMS gateway, with the outbox row's dedupe key as the `Idempotency-Key` header).
 *
 * Delivery is at-least-once: a crash between a send and its record re-sends after the claim's
 * lease, under the same dedupe key, so a gateway that honours Idempotency-Key delivers it once.
 *
 * Threads: not thread-safe. Every call is made from the thread that runs the GMainContext that
 * was thread-default when the sender was made (the daemon's main loop); completions run there.
 * Privacy: a notice's recipient and body are personal data (the body may hold a join link).
 * This module never logs them: only kinds, opaque ids and the phone's last two digits. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NOTIFY_ERROR (notify_error_quark())
GQuark notify_error_quark(void);

typedef enum {
  NOTIFY_ERROR_INVALID, /* a configuration value is missing or malformed */
  NOTIFY_ERROR_UNKNOWN, /* no sender by that name */
} NotifyError;

/* One notice to send: a copy of an outbox row's fields. Borrowed by notify_sender_send(),
 * which copies what it keeps. */
typedef struct {
  gint64 id;              /* the outbox row's id (opaque; may be logged) */
  gint64 appointment_id;  /* 0 if none (may be logged) */
  const char *kind;       /* "confirmation", "reminder_day", "reminder_15min", "you_are_next",
                             "cancellation", "rescheduled", "waitlist_offer", "link_resend" */
  const char *recipient;  /* phone number: personal data, never logged */
  const char *language;   /* ISO 639-1, e.g. "ur", "en" */
  const char *body;       /* the rendered text: personal data, never logged */
  const char *dedupe_key; /* unique per notice; the webhook's Idempotency-Key */
  int attempts;           /* sends tried before this one */
} NotifyMessage;

typedef enum {
  NOTIFY_RESULT_SENT,   /* the gateway took it */
  NOTIFY_RESULT_RETRY,  /* a transient failure (timeout, 5xx, 429, connection): try again later */
  NOTIFY_RESULT_FAILED, /* a permanent failure (the gateway refused it, 4xx): do not retry */
} NotifyResult;

/* What a sender is configured with. Strings are borrowed for the call to notify_sender_new(). */
typedef struct {
  const char *webhook_url;   /* webhook: http:// or https:// URL to POST to (required) */
  const char *webhook_token; /* webhook: optional; sent as "Authorization: Bearer <token>" */
  guint timeout_ms;          /* webhook: whole-request deadline; 0 = NOTIFY_TIMEOUT_DEFAULT_MS */
} NotifyConfig;

#define NOTIFY_TIMEOUT_DEFAULT_MS 10000

/* Called once per send, on the sender's main context, never from inside notify_sender_send().
 * `error` is a short reason for the outbox's last_error (e.g. "HTTP 503", "timeout after 10 s"),
 * NULL when sent; it holds no personal data. Not called once the sender is freed. */
typedef void (*NotifyDoneFunc)(gint64 message_id, NotifyResult result, const char *error,
                               gpointer user_data);

/* A completion handed to a sender class's send(); the class calls notify_completion_finish()
 * on it exactly once, from the main context (even after its destroy() ran: a cancelled send
 * finishes too). */
typedef struct NotifyCompletion NotifyCompletion;
void notify_completion_finish(NotifyCompletion *completion, NotifyResult result, const char *error);

/* The contract of a sender (Janus style). All members are required. */
typedef struct {
  const char *name; /* "log", "webhook": the value of [notify] sender */
  /* Makes the sender's state from `config`; NULL with NOTIFY_ERROR_INVALID if it lacks
   * something it needs. */
  gpointer (*create)(const NotifyConfig *config, GError **error);
  /* Frees the state and cancels its sends in flight (their completions still finish). */
  void (*destroy)(gpointer state);
  /* Starts sending `message` (borrowed: copy what is kept) and finishes `completion` later. */
  void (*send)(gpointer state, const NotifyMessage *message, NotifyCompletion *completion);
} NotifySenderClass;

extern const NotifySenderClass notify_log_sender;
extern const NotifySenderClass notify_webhook_sender;

/* The class named `name` ("log" or "webhook"), or NULL. */
const NotifySenderClass *notify_sender_class_find(const char *name);

/* A sender instance. */
typedef struct NotifySender NotifySender;

/* (transfer full) NULL with an error if the class refuses `config`. Completions run on the
 * thread-default main context at this call. */
NotifySender *notify_sender_new(const NotifySenderClass *klass, const NotifyConfig *config,
                                GError **error);
/* Cancels every send in flight; their NotifyDoneFunc is not called (the outbox's lease expires
 * and the notice is claimed again, under the same dedupe key). */
void notify_sender_free(NotifySender *sender);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NotifySender, notify_sender_free)

const char *notify_sender_name(NotifySender *sender);

/* Sends `message` (borrowed for this call) and calls `done` later with the result. */
void notify_sender_send(NotifySender *sender, const NotifyMessage *message, NotifyDoneFunc done,
                        gpointer user_data);

/* Sends started and not yet finished. */
guint notify_sender_in_flight(NotifySender *sender);

/* --- Pure helpers ------------------------------------------------------------------------- */

#define NOTIFY_RETRY_MAX_DELAY_S 3600

/* Exponential backoff: the delay before the next try after `attempts` failed sends (>= 1):
 * base_s * 2^(attempts - 1), capped at NOTIFY_RETRY_MAX_DELAY_S. base_s <= 0 means 30. */
gint64 notify_retry_delay_s(int attempts, gint64 base_s);

/* The last two digits of a phone number for the logs ("..42"), or "..??" if it has fewer.
 * (transfer full) */
char *notify_recipient_hint(const char *recipient);

/* The JSON the webhook POSTs: {"to","body","kind","language","id"}, "id" being the outbox
 * row's id (the same on every re-send; the dedupe key travels as the Idempotency-Key header).
 * (transfer full) */
char *notify_webhook_payload(const NotifyMessage *message);

G_END_DECLS
