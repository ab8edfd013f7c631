/* sig-fhir.h — FHIR R4 JSON for the scheduler's records: Appointment, Slot, Schedule,
 * Practitioner, Location, searchset Bundles and OperationOutcome; plus the parsing of FHIR
 * search parameters this server accepts. Pure: records in, jansson objects out; no sockets and
 * no database, so it can be unit-tested. Internal header of the signaling module.
 * Ownership: every json_t returned is a new reference (transfer full); inputs are borrowed.
 * Thread: any (MT safe). Privacy: Appointment resources name the patient by reference only
 * (Patient/<id>), never by name. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "scheduler.h"

G_BEGIN_DECLS

#define SIG_FHIR_CONTENT_TYPE "application/fhir+json; charset=utf-8"

/* A FHIR instant/dateTime in UTC: "2026-01-01T10:00:00Z". (transfer full) */
char *sig_fhir_instant(gint64 unix_s);

/* An OperationOutcome with one issue. `code` is from the R4 issue-type value set ("invalid",
 * "not-found", "login", "forbidden", "not-supported", "exception", …); `expression` (optional)
 * names the offending search parameter or element. */
json_t *sig_fhir_operation_outcome(const char *code, const char *diagnostics,
                                   const char *expression);

/* A searchset Bundle: `entries` holds resources (stolen; each becomes entry[].resource with
 * fullUrl "<base>/<type>/<id>" and search.mode "match"); total = the number of entries. `self`
 * is the link with relation "self". */
json_t *sig_fhir_searchset(const char *base, const char *self, json_t *entries /* stolen */);

/* --- Search parameters ---------------------------------------------------------------------- */

/* One date search value ("ge2026-01-01", "lt2026-01-02T10:00:00Z", "2026-01-01") narrowing
 * [*from, *to): the value is the interval it names (a year, month, day, or second, in UTC
 * unless the value carries an offset); prefixes eq (default), ge, gt, le, lt intersect it in.
 * FALSE for a malformed value or another prefix. */
gboolean sig_fhir_narrow_date(const char *value, gint64 *from, gint64 *to);

/* The id in a reference search value: "Practitioner/12" or "12" → 12 (for `type`
 * "Practitioner"); 0 if it is neither. */
gint64 sig_fhir_reference_id(const char *value, const char *type);

/* --- Resources ------------------------------------------------------------------------------- */

/* An Appointment. `service` (optional) adds serviceType and specialty. Participants: the
 * patient (reference only), the practitioner (with display name) and, when the appointment has
 * one, the Location; each with a participationstatus from the appointment's status. Walk-ins
 * carry appointmentType WALKIN (v2-0276), others ROUTINE. */
json_t *sig_fhir_appointment(const SchedAppointment *appointment, const SchedService *service);
/* A free Slot of Schedule/<doctor_id>. `service` (optional) adds serviceType and specialty. */
json_t *sig_fhir_slot(const SchedSlot *slot, const SchedService *service);
/* A doctor's Schedule (id = the doctor's id): actor Practitioner/<id> and, with a profile,
 * Location/<facility_id>; specialty from the profile. */
json_t *sig_fhir_schedule(const SchedDoctor *doctor);
/* A Practitioner: name, gender, communication languages (urn:ietf:bcp:47). */
json_t *sig_fhir_practitioner(const SchedDoctor *doctor);
/* A Location: name, district (address), sector (type text), time zone (the R4 `timezone`
 * extension). */
json_t *sig_fhir_location(const SchedFacility *facility);

/* The participationstatus of the patient for an Appointment.status value. */
const char *sig_fhir_participant_status(const char *appointment_status);

G_END_DECLS
