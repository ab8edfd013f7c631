/* sig-call.h — the consultation's state machine (private to signaling and its tests).
 * Pure: no sockets, no relay. It decides who waits, who is in the call, and which moves are
 * allowed; the server carries the decisions out (messages, relay rooms, the record).
 *
 *   WAITING --admit--> ACTIVE --end--> ENDED
 *      \--resume-----^               ^
 *       \_____________end_____________/
 *
 * resume: a call that was running when the daemon stopped (its record says so) comes back
 * ACTIVE and empty on the first arrival after the restart.
 *
 * WAITING: the consultation exists (someone holding its token arrived) but the doctor has
 * not admitted. ACTIVE: the call runs; people may leave and come back (a patient or guest who
 * arrives joins directly, up to SIG_CALL_MAX_IN_CALL). ENDED: final. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SIG_CALL_MAX_IN_CALL 4

typedef enum { SIG_CALL_WAITING, SIG_CALL_ACTIVE, SIG_CALL_ENDED } SigCallState;

typedef enum {
  SIG_PLACE_WAITING,   /* goes to the waiting room */
  SIG_PLACE_CALL,      /* joins the running call */
  SIG_PLACE_ENDED,     /* the consultation is over */
  SIG_PLACE_FULL,      /* the call already has SIG_CALL_MAX_IN_CALL participants */
  SIG_PLACE_DUPLICATE, /* that participant id is already present */
} SigPlacement;

typedef struct {
  char *participant_id;
  char *role; /* "patient", "doctor", "interpreter", "specialist", "family" */
  gboolean in_call;
  gint64 since; /* when they arrived (waiting) or joined the call */
} SigCallMember;

typedef struct SigCall SigCall;

SigCall *sig_call_new(gint64 appointment_id, gint64 doctor_id);
void sig_call_free(SigCall *call);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SigCall, sig_call_free)

gint64 sig_call_appointment_id(const SigCall *call);
gint64 sig_call_doctor_id(const SigCall *call);
SigCallState sig_call_state(const SigCall *call);
const char *sig_call_state_name(SigCallState state);

/* A patient or guest arrives. Records them (waiting or in the call) unless ENDED/FULL. */
SigPlacement sig_call_arrive(SigCall *call, const char *participant_id, const char *role,
                             gint64 now);

/* The doctor admits: WAITING→ACTIVE (someone must be waiting), or rejoins an ACTIVE call.
 * The doctor and every waiting member (up to the cap) are now in the call. FALSE with a
 * plain-words reason in `*why` (static string) when not allowed. */
gboolean sig_call_admit(SigCall *call, const char *doctor_participant_id, gint64 now,
                        const char **why);

/* The call was running before the daemon restarted (the consultation's record says started,
 * not ended): WAITING with nobody present becomes ACTIVE with nobody in it, as if everyone had
 * dropped. Whoever arrives joins it directly; the doctor's admit rejoins it. FALSE otherwise. */
gboolean sig_call_resume(SigCall *call);

/* Someone leaves (the call or the waiting room). Returns FALSE if they were not present. */
gboolean sig_call_depart(SigCall *call, const char *participant_id);

/* The doctor ends the consultation. Every member is removed. FALSE if already ended. */
gboolean sig_call_end(SigCall *call);

/* (element-type SigCallMember) (transfer none) in arrival order. */
GPtrArray *sig_call_members(const SigCall *call);
const SigCallMember *sig_call_find(const SigCall *call, const char *participant_id);
guint sig_call_in_call_count(const SigCall *call);
guint sig_call_waiting_count(const SigCall *call);
/* When the first still-waiting member arrived, or 0. */
gint64 sig_call_waiting_since(const SigCall *call);

G_END_DECLS
