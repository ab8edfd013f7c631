/* sig-ical.c — iCalendar invites (see sig-ical.h). Pure: strings in, a string out.
 * Why folding by octets: RFC 5545 §3.1 limits lines to 75 octets, not characters, and Urdu text
 * is two or three octets a character, so a fold must land between whole UTF-8 sequences. */
#include "sig-ical.h"

#include <string.h>

#define ICAL_LINE_OCTETS 75

char *sig_ical_escape_text(const char *text)
{
  GString *s = g_string_new(NULL);
  for (const char *c = text ? text : ""; *c; c++) {
    switch (*c) {
    case '\\':
      g_string_append(s, "\\\\");
      break;
    case ';':
      g_string_append(s, "\\;");
      break;
    case ',':
      g_string_append(s, "\\,");
      break;
    case '\n':
      g_string_append(s, "\\n");
      break;
    default:
      if ((unsigned char)*c >= 0x20 && *c != 0x7f)
        g_string_append_c(s, *c);
      break;
    }
  }
  return g_string_free(s, FALSE);
}

/* A parameter value (CN=…) may not hold '"' or control characters; it is always quoted. */
static char *param_value(const char *text)
{
  GString *s = g_string_new("\"");
  for (const char *c = text; *c; c++)
    if ((unsigned char)*c >= 0x20 && *c != 0x7f && *c != '"')
      g_string_append_c(s, *c);
  g_string_append_c(s, '"');
  return g_string_free(s, FALSE);
}

void sig_ical_append_line(GString *out, const char *line)
{
  gsize len = strlen(line), pos = 0;
  gsize room = ICAL_LINE_OCTETS; /* the first physical line has 75 octets, later ones 74 + ' ' */
  while (len - pos > room) {
    gsize cut = pos + room;
    /* back off to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx) */
    while (cut > pos && ((unsigned char)line[cut] & 0xc0) == 0x80)
      cut--;
    if (cut == pos)
      cut = pos + room; /* not UTF-8 after all: cut anyway rather than loop */
    g_string_append_len(out, line + pos, (gssize)(cut - pos));
    g_string_append(out, "\r\n ");
    pos = cut;
    room = ICAL_LINE_OCTETS - 1;
  }
  g_string_append(out, line + pos);
  g_string_append(out, "\r\n");
}

char *sig_ical_utc(gint64 unix_s)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(unix_s);
  if (!t)
    return g_strdup("19700101T000000Z");
  return g_date_time_format(t, "%Y%m%dT%H%M%SZ");
}

static void add_prop(GString *out, const char *name, const char *value)
{
  g_autofree char *line = g_strconcat(name, ":", value, NULL);
  sig_ical_append_line(out, line);
}

static void add_text(GString *out, const char *name, const char *text)
{
  if (!text)
    return;
  g_autofree char *escaped = sig_ical_escape_text(text);
  add_prop(out, name, escaped);
}

static void add_time(GString *out, const char *name, gint64 t)
{
  g_autofree char *v = sig_ical_utc(t);
  add_prop(out, name, v);
}

char *sig_ical_invite(const SigIcalEvent *ev)
{
  g_return_val_if_fail(ev && ev->host, NULL);
  const char *st = ev->status ? ev->status : "booked";
  gboolean cancelled = strcmp(st, "cancelled") == 0 || strcmp(st, "entered-in-error") == 0;
  gboolean tentative =
      strcmp(st, "proposed") == 0 || strcmp(st, "pending") == 0 || strcmp(st, "waitlist") == 0;
  GString *out = g_string_new(NULL);
  add_prop(out, "BEGIN", "VCALENDAR");
  add_prop(out, "VERSION", "2.0");
  add_prop(out, "PRODID", "-//Mashwara//Mashwara telemedicine//EN");
  add_prop(out, "CALSCALE", "GREGORIAN");
  add_prop(out, "METHOD", cancelled ? "CANCEL" : "REQUEST");
  add_prop(out, "BEGIN", "VEVENT");
  g_autofree char *uid =
      g_strdup_printf("appointment-%" G_GINT64_FORMAT "@%s", ev->appointment_id, ev->host);
  add_prop(out, "UID", uid);
  g_autofree char *seq = g_strdup_printf("%" G_GINT64_FORMAT, ev->sequence);
  add_prop(out, "SEQUENCE", seq);
  add_time(out, "DTSTAMP", ev->stamp);
  add_time(out, "DTSTART", ev->starts_at);
  add_time(out, "DTEND", ev->ends_at);
  add_prop(out, "STATUS", cancelled ? "CANCELLED" : tentative ? "TENTATIVE" : "CONFIRMED");
  add_text(out, "SUMMARY", ev->summary);
  add_text(out, "DESCRIPTION", ev->description);
  add_text(out, "LOCATION", ev->location);
  if (ev->url)
    add_prop(out, "URL", ev->url);
  if (ev->organizer_name && ev->organizer_uri) {
    g_autofree char *cn = param_value(ev->organizer_name);
    g_autofree char *line = g_strdup_printf("ORGANIZER;CN=%s:%s", cn, ev->organizer_uri);
    sig_ical_append_line(out, line);
  }
  add_prop(out, "TRANSP", cancelled ? "TRANSPARENT" : "OPAQUE");
  add_prop(out, "END", "VEVENT");
  add_prop(out, "END", "VCALENDAR");
  return g_string_free(out, FALSE);
}
