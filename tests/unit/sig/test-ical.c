/* test-ical.c — unit tests of sig-ical.c: the .ics invite's properties, CRLF endings, folding at
 * 75 octets without splitting UTF-8, TEXT escaping, and METHOD/STATUS per appointment status. */
#include <string.h>

#include "sig-ical.h"

/* Every physical line ends in CRLF, holds no bare CR or LF, and is at most 75 octets. */
static void assert_wellformed(const char *ics)
{
  g_assert_true(g_str_has_suffix(ics, "\r\n"));
  const char *p = ics;
  while (*p) {
    const char *crlf = strstr(p, "\r\n");
    g_assert_nonnull(crlf);
    gsize n = (gsize)(crlf - p);
    g_assert_cmpuint(n, <=, 75);
    for (gsize i = 0; i < n; i++)
      g_assert_true(p[i] != '\r' && p[i] != '\n');
    g_assert_true(g_utf8_validate(p, (gssize)n, NULL)); /* no character split across lines */
    p = crlf + 2;
  }
}

/* The content lines after unfolding (RFC 5545 §3.1). */
static GStrv unfold(const char *ics)
{
  g_autoptr(GString) s = g_string_new(ics);
  g_string_replace(s, "\r\n ", "", 0);
  g_string_replace(s, "\r\n\t", "", 0);
  return g_strsplit(s->str, "\r\n", -1);
}

static const char *prop(GStrv lines, const char *name)
{
  gsize n = strlen(name);
  for (char **l = lines; *l; l++)
    if (strncmp(*l, name, n) == 0 && ((*l)[n] == ':' || (*l)[n] == ';'))
      return strchr(*l, ':') + 1;
  return NULL;
}

static SigIcalEvent sample(void)
{
  SigIcalEvent ev = {
      .appointment_id = 42,
      .sequence = 0,
      .starts_at = 1767261600, /* 2026-01-01T10:00:00Z */
      .ends_at = 1767261600 + 15 * 60,
      .stamp = 1767200000,
      .status = "booked",
      .host = "clinic.example.pk",
      .summary = "Consultation",
      .url = "https://clinic.example.pk/join/abc",
  };
  return ev;
}

static void test_invite_basic(void)
{
  SigIcalEvent ev = sample();
  g_autofree char *ics = sig_ical_invite(&ev);
  assert_wellformed(ics);
  g_auto(GStrv) lines = unfold(ics);
  g_assert_cmpstr(lines[0], ==, "BEGIN:VCALENDAR");
  g_assert_cmpstr(prop(lines, "VERSION"), ==, "2.0");
  g_assert_nonnull(prop(lines, "PRODID"));
  g_assert_cmpstr(prop(lines, "METHOD"), ==, "REQUEST");
  g_assert_cmpstr(prop(lines, "UID"), ==, "appointment-42@clinic.example.pk");
  g_assert_cmpstr(prop(lines, "SEQUENCE"), ==, "0");
  g_assert_cmpstr(prop(lines, "DTSTART"), ==, "20260101T100000Z");
  g_assert_cmpstr(prop(lines, "DTEND"), ==, "20260101T101500Z");
  g_assert_cmpstr(prop(lines, "DTSTAMP"), ==, "20251231T165320Z");
  g_assert_cmpstr(prop(lines, "STATUS"), ==, "CONFIRMED");
  g_assert_cmpstr(prop(lines, "URL"), ==, "https://clinic.example.pk/join/abc");
  g_assert_null(prop(lines, "DESCRIPTION"));
  g_assert_null(prop(lines, "ORGANIZER"));
  g_assert_true(strstr(ics, "BEGIN:VEVENT\r\n") != NULL);
  g_assert_true(g_str_has_suffix(ics, "END:VEVENT\r\nEND:VCALENDAR\r\n"));
}

static void test_invite_status_and_sequence(void)
{
  SigIcalEvent ev = sample();
  ev.sequence = 3;
  ev.status = "cancelled";
  g_autofree char *ics = sig_ical_invite(&ev);
  g_auto(GStrv) lines = unfold(ics);
  g_assert_cmpstr(prop(lines, "METHOD"), ==, "CANCEL");
  g_assert_cmpstr(prop(lines, "STATUS"), ==, "CANCELLED");
  g_assert_cmpstr(prop(lines, "SEQUENCE"), ==, "3");
  g_assert_cmpstr(prop(lines, "UID"), ==, "appointment-42@clinic.example.pk");

  ev.status = "pending";
  g_autofree char *ics2 = sig_ical_invite(&ev);
  g_auto(GStrv) lines2 = unfold(ics2);
  g_assert_cmpstr(prop(lines2, "METHOD"), ==, "REQUEST");
  g_assert_cmpstr(prop(lines2, "STATUS"), ==, "TENTATIVE");

  ev.status = "entered-in-error";
  g_autofree char *ics3 = sig_ical_invite(&ev);
  g_auto(GStrv) lines3 = unfold(ics3);
  g_assert_cmpstr(prop(lines3, "METHOD"), ==, "CANCEL");

  for (const char *const *s =
           (const char *const[]){"booked", "arrived", "checked-in", "fulfilled", "noshow", NULL};
       *s; s++) {
    ev.status = *s;
    g_autofree char *ics4 = sig_ical_invite(&ev);
    g_auto(GStrv) lines4 = unfold(ics4);
    g_assert_cmpstr(prop(lines4, "STATUS"), ==, "CONFIRMED");
  }
}

static void test_escape(void)
{
  g_autofree char *a = sig_ical_escape_text("a;b,c\\d\ne\rf\x01g");
  g_assert_cmpstr(a, ==, "a\\;b\\,c\\\\d\\nefg");
  g_autofree char *b = sig_ical_escape_text(NULL);
  g_assert_cmpstr(b, ==, "");

  SigIcalEvent ev = sample();
  ev.summary = "Dr. Khan, Clinic; Room 2";
  ev.description = "line one\nline two";
  ev.organizer_name = "Dr. \"Ayesha\" Khan";
  ev.organizer_uri = "https://clinic.example.pk/";
  g_autofree char *ics = sig_ical_invite(&ev);
  g_auto(GStrv) lines = unfold(ics);
  g_assert_cmpstr(prop(lines, "SUMMARY"), ==, "Dr. Khan\\, Clinic\\; Room 2");
  g_assert_cmpstr(prop(lines, "DESCRIPTION"), ==, "line one\\nline two");
  gboolean found = FALSE;
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix(*l, "ORGANIZER;")) {
      g_assert_cmpstr(*l, ==, "ORGANIZER;CN=\"Dr. Ayesha Khan\":https://clinic.example.pk/");
      found = TRUE;
    }
  g_assert_true(found);
}

static void test_folding(void)
{
  /* ASCII: 200 octets fold into 75 + 74 + 74 + … and unfold to the same text. */
  g_autoptr(GString) out = g_string_new(NULL);
  g_autoptr(GString) line = g_string_new("DESCRIPTION:");
  for (int i = 0; i < 200; i++)
    g_string_append_c(line, (char)('a' + i % 26));
  sig_ical_append_line(out, line->str);
  assert_wellformed(out->str);
  g_assert_true(g_str_has_prefix(out->str + 75, "\r\n "));
  g_auto(GStrv) un = unfold(out->str);
  g_assert_cmpstr(un[0], ==, line->str);

  /* Exactly 75 octets: no fold. */
  g_autoptr(GString) out75 = g_string_new(NULL);
  g_autofree char *l75 = g_strnfill(75, 'x');
  sig_ical_append_line(out75, l75);
  g_assert_cmpuint(out75->len, ==, 77);

  /* Urdu (2 octets a letter) with an odd prefix: the fold moves back to a character start. */
  g_autoptr(GString) out_ur = g_string_new(NULL);
  g_autoptr(GString) ur = g_string_new("SUMMARY:x");
  for (int i = 0; i < 80; i++)
    g_string_append(ur, "\xd9\x85"); /* U+0645 ARABIC LETTER MEEM */
  sig_ical_append_line(out_ur, ur->str);
  assert_wellformed(out_ur->str);
  g_auto(GStrv) un_ur = unfold(out_ur->str);
  g_assert_cmpstr(un_ur[0], ==, ur->str);

  /* Summary of 3-octet characters inside a whole invite. */
  SigIcalEvent ev = sample();
  g_autoptr(GString) s3 = g_string_new(NULL);
  for (int i = 0; i < 60; i++)
    g_string_append(s3, "\xe2\x82\xac"); /* U+20AC */
  ev.summary = s3->str;
  g_autofree char *ics = sig_ical_invite(&ev);
  assert_wellformed(ics);
  g_auto(GStrv) lines = unfold(ics);
  g_assert_cmpstr(prop(lines, "SUMMARY"), ==, s3->str);
}

static void test_utc(void)
{
  g_autofree char *a = sig_ical_utc(0);
  g_assert_cmpstr(a, ==, "19700101T000000Z");
  g_autofree char *b = sig_ical_utc(253402300799);
  g_assert_cmpstr(b, ==, "99991231T235959Z");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sig/ical/invite", test_invite_basic);
  g_test_add_func("/sig/ical/status-and-sequence", test_invite_status_and_sequence);
  g_test_add_func("/sig/ical/escape", test_escape);
  g_test_add_func("/sig/ical/folding", test_folding);
  g_test_add_func("/sig/ical/utc", test_utc);
  return g_test_run();
}
