/* sig-ical.h — iCalendar (RFC 5545) invites for appointments: pure text building, no sockets and
 * no database, so it can be unit-tested. Part of the signaling module (internal header).
 * Thread: any (MT safe: no shared state). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What one invite says. Strings are borrowed; NULL means "leave the property out". */
typedef struct {
  gint64 appointment_id;      /* UID "appointment-<id>@<host>": stable for the appointment's life */
  gint64 sequence;            /* SEQUENCE: 0, +1 on every reschedule */
  gint64 starts_at;           /* unix seconds UTC: DTSTART */
  gint64 ends_at;             /* DTEND */
  gint64 stamp;               /* DTSTAMP: when the invite was made (now) */
  const char *status;         /* FHIR Appointment.status; maps to STATUS and METHOD */
  const char *host;           /* right-hand side of the UID (the public URL's host) */
  const char *summary;        /* SUMMARY (text, escaped here) */
  const char *description;    /* DESCRIPTION */
  const char *location;       /* LOCATION */
  const char *url;            /* URL: the join link (a URI, not escaped) */
  const char *organizer_name; /* ORGANIZER's CN */
  const char *organizer_uri;  /* ORGANIZER's cal-address; both or neither */
} SigIcalEvent;

/* A whole VCALENDAR with one VEVENT: CRLF line endings, lines folded at 75 octets (never inside
 * a UTF-8 character), TEXT values escaped. METHOD is CANCEL (and STATUS CANCELLED) for a
 * "cancelled" or "entered-in-error" appointment, else REQUEST; STATUS is TENTATIVE for
 * "proposed", "pending" and "waitlist", else CONFIRMED. (transfer full) */
char *sig_ical_invite(const SigIcalEvent *event);

/* The RFC 5545 §3.3.11 TEXT escape of `text`: backslash, ';', ',' and newline escaped, other
 * control characters dropped. (transfer full) */
char *sig_ical_escape_text(const char *text);

/* Appends one content line to `out`, folded so no physical line is longer than 75 octets
 * (a fold is CRLF + one space; a UTF-8 character is never split), then CRLF. */
void sig_ical_append_line(GString *out, const char *line);

/* "YYYYMMDDTHHMMSSZ" for a unix time (the form DTSTART/DTEND/DTSTAMP use). (transfer full) */
char *sig_ical_utc(gint64 unix_s);

G_END_DECLS
