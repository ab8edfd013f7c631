/* notify-log.c — the default sender: it sends nothing and logs that a notice would have gone
 * out, by kind, appointment id, outbox id and the recipient's last two digits. Never the body
 * (it may hold a join link), the patient's name or the full phone number. */
#include "notify.h"

static gpointer log_create(const NotifyConfig *config, GError **error)
{
  /* No state; any non-NULL pointer will do. */
  return (gpointer)&notify_log_sender;
}

static void log_destroy(gpointer state) {}

static void log_send(gpointer state, const NotifyMessage *m, NotifyCompletion *completion)
{
  g_autofree char *hint = notify_recipient_hint(m->recipient);
  g_message("notice %s for appointment %" G_GINT64_FORMAT " to %s (outbox %" G_GINT64_FORMAT
            ", attempt %d, %s)",
            m->kind ? m->kind : "?", m->appointment_id, hint, m->id, m->attempts + 1,
            m->language ? m->language : "?");
  notify_completion_finish(completion, NOTIFY_RESULT_SENT, NULL);
}

const NotifySenderClass notify_log_sender = {
    .name = "log",
    .create = log_create,
    .destroy = log_destroy,
    .send = log_send,
};
