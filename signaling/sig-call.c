/* sig-call.c — the consultation state machine; see sig-call.h. Pure and main-thread only. */
#include "sig-call.h"

#include <string.h>

struct SigCall {
  gint64 appointment_id;
  gint64 doctor_id;
  SigCallState state;
  GPtrArray *members; /* SigCallMember, owned */
};

static void member_free(gpointer p)
{
  SigCallMember *m = p;
  g_free(m->participant_id);
  g_free(m->role);
  g_free(m);
}

SigCall *sig_call_new(gint64 appointment_id, gint64 doctor_id)
{
  SigCall *c = g_new0(SigCall, 1);
  c->appointment_id = appointment_id;
  c->doctor_id = doctor_id;
  c->state = SIG_CALL_WAITING;
  c->members = g_ptr_array_new_with_free_func(member_free);
  return c;
}

void sig_call_free(SigCall *call)
{
  if (!call)
    return;
  g_ptr_array_unref(call->members);
  g_free(call);
}

gint64 sig_call_appointment_id(const SigCall *call)
{
  return call->appointment_id;
}

gint64 sig_call_doctor_id(const SigCall *call)
{
  return call->doctor_id;
}

SigCallState sig_call_state(const SigCall *call)
{
  return call->state;
}

const char *sig_call_state_name(SigCallState state)
{
  switch (state) {
  case SIG_CALL_WAITING:
    return "waiting";
  case SIG_CALL_ACTIVE:
    return "active";
  case SIG_CALL_ENDED:
    return "ended";
  }
  return "?";
}

static gint find_index(const SigCall *call, const char *participant_id)
{
  for (guint i = 0; i < call->members->len; i++) {
    SigCallMember *m = g_ptr_array_index(call->members, i);
    if (strcmp(m->participant_id, participant_id) == 0)
      return (gint)i;
  }
  return -1;
}

const SigCallMember *sig_call_find(const SigCall *call, const char *participant_id)
{
  gint i = find_index(call, participant_id);
  return i < 0 ? NULL : g_ptr_array_index(call->members, i);
}

guint sig_call_in_call_count(const SigCall *call)
{
  guint n = 0;
  for (guint i = 0; i < call->members->len; i++)
    n += ((SigCallMember *)g_ptr_array_index(call->members, i))->in_call ? 1 : 0;
  return n;
}

guint sig_call_waiting_count(const SigCall *call)
{
  return call->members->len - sig_call_in_call_count(call);
}

gint64 sig_call_waiting_since(const SigCall *call)
{
  gint64 first = 0;
  for (guint i = 0; i < call->members->len; i++) {
    SigCallMember *m = g_ptr_array_index(call->members, i);
    if (!m->in_call && (first == 0 || m->since < first))
      first = m->since;
  }
  return first;
}

GPtrArray *sig_call_members(const SigCall *call)
{
  return call->members;
}

static SigCallMember *add_member(SigCall *call, const char *pid, const char *role, gboolean in_call,
                                 gint64 now)
{
  SigCallMember *m = g_new0(SigCallMember, 1);
  m->participant_id = g_strdup(pid);
  m->role = g_strdup(role);
  m->in_call = in_call;
  m->since = now;
  g_ptr_array_add(call->members, m);
  return m;
}

SigPlacement sig_call_arrive(SigCall *call, const char *participant_id, const char *role,
                             gint64 now)
{
  g_return_val_if_fail(call && participant_id && role, SIG_PLACE_ENDED);
  if (call->state == SIG_CALL_ENDED)
    return SIG_PLACE_ENDED;
  if (find_index(call, participant_id) >= 0)
    return SIG_PLACE_DUPLICATE;
  if (call->state == SIG_CALL_ACTIVE) {
    if (sig_call_in_call_count(call) >= SIG_CALL_MAX_IN_CALL)
      return SIG_PLACE_FULL;
    add_member(call, participant_id, role, TRUE, now);
    return SIG_PLACE_CALL;
  }
  add_member(call, participant_id, role, FALSE, now);
  return SIG_PLACE_WAITING;
}

gboolean sig_call_admit(SigCall *call, const char *doctor_participant_id, gint64 now,
                        const char **why)
{
  static const char *unused;
  if (!why)
    why = &unused;
  g_return_val_if_fail(call && doctor_participant_id, FALSE);
  if (call->state == SIG_CALL_ENDED) {
    *why = "this consultation has ended";
    return FALSE;
  }
  const SigCallMember *self = sig_call_find(call, doctor_participant_id);
  if (self && self->in_call) {
    *why = "you are already in this call";
    return FALSE;
  }
  if (call->state == SIG_CALL_WAITING && sig_call_waiting_count(call) == 0) {
    *why = "nobody is waiting for this consultation";
    return FALSE;
  }
  if (sig_call_in_call_count(call) >= SIG_CALL_MAX_IN_CALL) {
    *why = "the call is full";
    return FALSE;
  }
  call->state = SIG_CALL_ACTIVE;
  add_member(call, doctor_participant_id, "doctor", TRUE, now);
  guint in_call = sig_call_in_call_count(call);
  for (guint i = 0; i < call->members->len && in_call < SIG_CALL_MAX_IN_CALL; i++) {
    SigCallMember *m = g_ptr_array_index(call->members, i);
    if (!m->in_call) {
      m->in_call = TRUE;
      m->since = now;
      in_call++;
    }
  }
  return TRUE;
}

gboolean sig_call_resume(SigCall *call)
{
  g_return_val_if_fail(call, FALSE);
  if (call->state != SIG_CALL_WAITING || call->members->len > 0)
    return FALSE;
  call->state = SIG_CALL_ACTIVE;
  return TRUE;
}

gboolean sig_call_depart(SigCall *call, const char *participant_id)
{
  g_return_val_if_fail(call && participant_id, FALSE);
  gint i = find_index(call, participant_id);
  if (i < 0)
    return FALSE;
  g_ptr_array_remove_index(call->members, (guint)i);
  return TRUE;
}

gboolean sig_call_end(SigCall *call)
{
  g_return_val_if_fail(call, FALSE);
  if (call->state == SIG_CALL_ENDED)
    return FALSE;
  call->state = SIG_CALL_ENDED;
  g_ptr_array_set_size(call->members, 0);
  return TRUE;
}
