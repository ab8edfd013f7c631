/* sig-consult.c — the waiting room and the calls: what each signaling message does.
 *
 * A SigConsult exists per appointment that someone has arrived for. It owns the pure state
 * machine (SigCall) and, while anyone is in the call, the relay's room (SfuRoom). Connections
 * point at the consultation they wait for or take part in; the consultation finds its members'
 * connections through server->participants (participant id → SigConn).
 * Thread: main loop only; the relay's callbacks arrive here too (sfu.h promises it).
 * Privacy: logs name appointments, staff and participants by id only. */
#define G_LOG_DOMAIN "mashwara-sig"

#include <string.h>

#include "sig-private.h"
#include "sig-turn.h"

/* --- Small helpers ------------------------------------------------------------------------- */

static void send_error(SigConn *conn, const char *code, const char *message)
{
  conn->refusals++;
  sig_conn_send(conn, sig_msg_error(code, message, FALSE));
}

static void refuse(SigConn *conn, const char *code, const char *message, int close_code,
                   const char *reason)
{
  conn->refusals++;
  sig_conn_send(conn, sig_msg_error(code, message, TRUE));
  sig_conn_close(conn, close_code, reason);
}

static char *new_participant_id(void)
{
  return g_strdup_printf("p%08x%08x", g_random_int(), g_random_int());
}

static SigConn *conn_of(SigServer *s, const char *participant_id)
{
  return g_hash_table_lookup(s->participants, participant_id);
}

static json_t *participant_json(SigConn *c)
{
  return json_pack("{s:s, s:s, s:s}", "participant_id", c->participant_id, "role", c->role, "name",
                   c->name ? c->name : "");
}

static gboolean is_doctor(const SigConn *c)
{
  return c->staff_id != 0 && g_strcmp0(c->role, "doctor") == 0;
}

static void send_chat_history(SigConn *conn, gint64 appointment_id);

/* --- Consultations ------------------------------------------------------------------------- */

static SigConsult *consult_find(SigServer *s, gint64 appointment_id)
{
  return g_hash_table_lookup(s->consults, &appointment_id);
}

static void quality_stop(SigConsult *c);
static void liveness_stop(SigConsult *c);
static void conn_release(SigConn *conn);

static void consult_destroy(SigConsult *c)
{
  quality_stop(c);
  liveness_stop(c);
  g_clear_pointer(&c->links, g_hash_table_unref);
  g_clear_pointer(&c->quality, sig_quality_free);
  g_clear_pointer(&c->room, sfu_room_free);
  sig_call_free(c->call);
  g_free(c->room_id);
  g_free(c);
}

static SigConsult *consult_get(SigServer *s, gint64 appointment_id, gint64 doctor_id)
{
  SigConsult *c = consult_find(s, appointment_id);
  if (c)
    return c;
  c = g_new0(SigConsult, 1);
  c->server = s;
  c->call = sig_call_new(appointment_id, doctor_id);
  c->room_id = g_strdup_printf("appointment-%" G_GINT64_FORMAT, appointment_id);
  gint64 *key = g_new(gint64, 1);
  *key = appointment_id;
  g_hash_table_insert(s->consults, key, c);
  return c;
}

/* Whether the record says the call was running: started, not ended. In memory a running call
 * stays (consult_release_if_idle keeps it while ACTIVE), so a running record without one here
 * means the daemon stopped during the call (a crash, SIGKILL, a restart). */
static gboolean consult_was_running(SigServer *s, gint64 appointment_id)
{
  g_autoptr(SchedConsultation) rec = sched_consultation_get(s->store, appointment_id, NULL);
  return rec && rec->started_at > 0 && rec->ended_at == 0;
}

/* The consultation in memory, or a new one; a new one whose record says the call was running
 * resumes ACTIVE (empty), so that whoever comes back after a restart is put straight into the
 * call and the doctor's admit rejoins it, as if everyone had dropped. */
static SigConsult *consult_get_or_resume(SigServer *s, gint64 appointment_id, gint64 doctor_id)
{
  SigConsult *c = consult_find(s, appointment_id);
  if (c)
    return c;
  c = consult_get(s, appointment_id, doctor_id);
  if (consult_was_running(s, appointment_id) && sig_call_resume(c->call))
    g_message("appointment %" G_GINT64_FORMAT ": call resumed (it was running when the server "
              "stopped)",
              appointment_id);
  return c;
}

/* Drops a consultation nobody is part of, unless its call is running (people may return). */
static void consult_release_if_idle(SigConsult *c)
{
  if (sig_call_in_call_count(c->call) == 0) {
    quality_stop(c);
    liveness_stop(c);
    g_clear_pointer(&c->room, sfu_room_free);
  }
  if (sig_call_members(c->call)->len == 0 && sig_call_state(c->call) != SIG_CALL_ACTIVE) {
    gint64 id = sig_call_appointment_id(c->call);
    g_hash_table_remove(c->server->consults, &id);
    consult_destroy(c);
  }
}

/* --- Relay callbacks ------------------------------------------------------------------------ */

static void on_offer(gpointer user_data, const char *participant_id, const char *pc_id,
                     const char *sdp)
{
  SigConsult *c = user_data;
  SigConn *conn = conn_of(c->server, participant_id);
  if (conn)
    sig_conn_send_json(conn,
                       json_pack("{s:s, s:s, s:s}", "type", "offer", "pc", pc_id, "sdp", sdp));
}

static void on_candidate(gpointer user_data, const char *participant_id, const char *pc_id,
                         guint mline_index, const char *candidate)
{
  SigConsult *c = user_data;
  SigConn *conn = conn_of(c->server, participant_id);
  if (conn)
    sig_conn_send_json(conn, json_pack("{s:s, s:s, s:s, s:i}", "type", "candidate", "pc", pc_id,
                                       "candidate", candidate, "sdpMLineIndex", (int)mline_index));
}

static void on_pc_state(gpointer user_data, const char *participant_id, const char *pc_id,
                        SfuPcState state)
{
  SigConsult *c = user_data;
  SigConn *conn = conn_of(c->server, participant_id);
  g_debug("appointment %" G_GINT64_FORMAT " participant %s pc %s: %s",
          sig_call_appointment_id(c->call), participant_id, pc_id, sfu_pc_state_name(state));
  if (conn)
    sig_conn_send_json(conn, json_pack("{s:s, s:s, s:s}", "type", "pc_state", "pc", pc_id, "state",
                                       sfu_pc_state_name(state)));
}

/* --- Link quality ---------------------------------------------------------------------------- */

/* The record is written this often during a call (a crash loses at most this much), and when the
 * call ends or empties. */
#define QUALITY_WRITE_S 60
/* At most one quality message per participant per second to each page: a sample that comes
 * sooner waits (the newest replaces an older one waiting). */
#define QUALITY_MIN_INTERVAL_US G_USEC_PER_SEC
/* A sample stands for the time since that participant's previous one; a longer gap (a stall)
 * counts as one second. */
#define QUALITY_MAX_GAP_S 5.0

typedef struct {
  SigConsult *consult;
  char *participant_id;
  gint64 last_sample_us; /* monotonic */
  gint64 last_sent_us;
  char *pending; /* the newest quality message not sent yet */
  guint timer;   /* sends `pending` once the interval has passed */
} QualityLink;

static void quality_link_free(gpointer p)
{
  QualityLink *l = p;
  g_clear_handle_id(&l->timer, g_source_remove);
  g_free(l->pending);
  g_free(l->participant_id);
  g_free(l);
}

static void send_to_call(SigConsult *c, const char *text)
{
  GPtrArray *members = sig_call_members(c->call);
  for (guint i = 0; i < members->len; i++) {
    SigCallMember *m = g_ptr_array_index(members, i);
    SigConn *mc = conn_of(c->server, m->participant_id);
    if (m->in_call && mc && mc->consult == c)
      sig_conn_send(mc, g_strdup(text));
  }
}

static void quality_link_send(QualityLink *l)
{
  if (!l->pending)
    return;
  send_to_call(l->consult, l->pending);
  g_clear_pointer(&l->pending, g_free);
  l->last_sent_us = g_get_monotonic_time();
}

static gboolean quality_link_due(gpointer data)
{
  QualityLink *l = data;
  l->timer = 0;
  quality_link_send(l);
  return G_SOURCE_REMOVE;
}

/* Writes the consultation's quality record if anything was added since the last write. */
static void quality_write(SigConsult *c)
{
  if (!c->quality || !sig_quality_dirty(c->quality))
    return;
  gint64 appointment_id = sig_call_appointment_id(c->call);
  g_autoptr(GArray) records = sig_quality_records(c->quality, sig_now());
  g_autoptr(GError) error = NULL;
  if (!sched_consultation_quality_put(c->server->store, (const SchedCallQuality *)records->data,
                                      records->len, &error))
    g_warning("appointment %" G_GINT64_FORMAT ": quality record not written: %s", appointment_id,
              error->message);
}

static gboolean quality_due(gpointer data)
{
  quality_write(data);
  return G_SOURCE_CONTINUE;
}

/* The call ended or emptied: writes the record and stops the timers (the totals stay, should
 * the call go on). */
static void quality_stop(SigConsult *c)
{
  quality_write(c);
  g_clear_handle_id(&c->quality_timer, g_source_remove);
  if (c->links)
    g_hash_table_remove_all(c->links);
}

/* The relay's sample of one participant's link: into the record, and to every page. */
static void on_quality(gpointer user_data, const char *participant_id, const SfuQuality *q)
{
  SigConsult *c = user_data;
  const SigCallMember *m = sig_call_find(c->call, participant_id);
  if (!m || !m->in_call || c->server->closing)
    return;
  gint64 now = g_get_monotonic_time();
  if (!c->quality) {
    /* A record written before (the daemon restarted during the call): go on from it. */
    gint64 appointment_id = sig_call_appointment_id(c->call);
    g_autoptr(GPtrArray) earlier =
        sched_consultation_quality_list(c->server->store, appointment_id, NULL);
    c->quality = sig_quality_new(appointment_id);
    for (guint i = 0; earlier && i < earlier->len; i++)
      sig_quality_seed(c->quality, g_ptr_array_index(earlier, i));
  }
  if (!c->quality_timer)
    c->quality_timer = g_timeout_add_seconds(QUALITY_WRITE_S, quality_due, c);
  if (!c->links)
    c->links = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, quality_link_free);
  QualityLink *l = g_hash_table_lookup(c->links, participant_id);
  if (!l) {
    l = g_new0(QualityLink, 1);
    l->consult = c;
    l->participant_id = g_strdup(participant_id);
    g_hash_table_insert(c->links, l->participant_id, l);
  }
  double seconds = 1.0;
  if (l->last_sample_us && now - l->last_sample_us <= QUALITY_MAX_GAP_S * G_USEC_PER_SEC)
    seconds = (double)(now - l->last_sample_us) / G_USEC_PER_SEC;
  l->last_sample_us = now;
  sig_quality_add(c->quality, m->role, q, seconds);

  g_free(l->pending);
  l->pending = sig_msg_quality(participant_id, m->role, q);
  if (l->timer)
    return;
  gint64 wait = l->last_sent_us + QUALITY_MIN_INTERVAL_US - now;
  if (l->last_sent_us == 0 || wait <= 0)
    quality_link_send(l);
  else
    l->timer = g_timeout_add((guint)((wait + 999) / 1000), quality_link_due, l);
}

/* The relay wants a publisher's browser to cap its video: only that page is told. */
static void on_bitrate_cap(gpointer user_data, const char *publisher_id, guint video_bps)
{
  SigConsult *c = user_data;
  SigConn *conn = conn_of(c->server, publisher_id);
  if (conn && conn->consult == c)
    sig_conn_send(conn, sig_msg_max_bitrate(video_bps));
}

static const SfuRoomCallbacks room_callbacks = {
    .offer = on_offer,
    .candidate = on_candidate,
    .pc_state = on_pc_state,
    .quality = on_quality,
    .bitrate_cap = on_bitrate_cap,
};

/* --- Liveness in a call ----------------------------------------------------------------------
 * A participant in a call is alive while the relay receives its media. A frozen or vanished
 * browser sends none, and neither does one whose link is out for a while (a rural mobile link
 * drops for seconds at a time). After LIVENESS_SILENT_MS without a packet the participant is
 * "away": the others are told at once (participant_away) and everything is kept, the relay's
 * peer connections, the page's and the participant id, so that when the link comes back media
 * simply flows again within a round trip (participant_back), with no new peer connections,
 * ICE or DTLS. Only after LIVENESS_AWAY_MS away is it dropped: its WebSocket is closed with
 * 4001 "media lost", the others get participant_left "dropped", and its page joins again.
 * The WebSocket alone cannot tell this fast on a weak link: on a 150 kbit/s, 600 ms link with
 * 5 % loss a pong can take longer than any timeout that would still catch a dead peer within
 * seconds (measured: hung up every 6-10 s with a 4 s one), so its own hang-up waits longer
 * (sig-server.c) and this check decides in a call. A participant gets LIVENESS_JOIN_GRACE_MS
 * from joining to start sending (ICE, DTLS, a TURN allocation). A closed tab is seen at once, by
 * its WebSocket. */
#define LIVENESS_CHECK_MS 500
#define LIVENESS_SILENT_MS 3500
#define LIVENESS_AWAY_MS 30000
#define LIVENESS_JOIN_GRACE_MS 15000

typedef struct {
  guint64 packets;
  gint64 seen_us;   /* last time its packet count grew */
  gint64 joined_us; /* when it was added to the relay */
  gboolean away;    /* the others were told participant_away */
} MediaSeen;

/* Tells every other participant in the call `type` about `participant_id`. */
static void tell_others(SigConsult *c, const char *participant_id, json_t *msg /* stolen */)
{
  GPtrArray *members = sig_call_members(c->call);
  for (guint i = 0; i < members->len; i++) {
    SigCallMember *o = g_ptr_array_index(members, i);
    SigConn *oc = conn_of(c->server, o->participant_id);
    if (o->in_call && oc && g_strcmp0(o->participant_id, participant_id) != 0)
      sig_conn_send_json(oc, json_incref(msg));
  }
  json_decref(msg);
}

static gboolean liveness_check(gpointer data)
{
  SigConsult *c = data;
  if (!c->room)
    return G_SOURCE_CONTINUE;
  gint64 now = g_get_monotonic_time();
  gint64 appointment_id = sig_call_appointment_id(c->call);
  GPtrArray *members = sig_call_members(c->call);
  for (guint i = 0; i < members->len; i++) {
    SigCallMember *m = g_ptr_array_index(members, i);
    SigConn *mc = conn_of(c->server, m->participant_id);
    SfuParticipantStats st;
    if (!m->in_call || !mc || mc->phase != SIG_CONN_READY ||
        !sfu_room_get_participant_stats(c->room, m->participant_id, &st))
      continue;
    MediaSeen *ms = g_hash_table_lookup(c->media_seen, m->participant_id);
    if (!ms) {
      ms = g_new0(MediaSeen, 1);
      ms->joined_us = ms->seen_us = now;
      g_hash_table_insert(c->media_seen, g_strdup(m->participant_id), ms);
    }
    if (st.packets_received != ms->packets) {
      if (ms->away) {
        g_message("appointment %" G_GINT64_FORMAT
                  ": participant %s: media again after %" G_GINT64_FORMAT " ms",
                  appointment_id, m->participant_id, (now - ms->seen_us) / 1000);
        ms->away = FALSE;
        tell_others(c, m->participant_id,
                    json_pack("{s:s, s:s}", "type", "participant_back", "participant_id",
                              m->participant_id));
      }
      ms->packets = st.packets_received;
      ms->seen_us = now;
      continue;
    }
    gboolean started = ms->packets > 0;
    gint64 silent_ms = (now - ms->seen_us) / 1000;
    if (started && !ms->away && silent_ms > LIVENESS_SILENT_MS) {
      g_message("appointment %" G_GINT64_FORMAT ": participant %s: no media for %" G_GINT64_FORMAT
                " ms, away",
                appointment_id, m->participant_id, silent_ms);
      ms->away = TRUE;
      tell_others(c, m->participant_id,
                  json_pack("{s:s, s:s, s:I}", "type", "participant_away", "participant_id",
                            m->participant_id, "drop_after_ms",
                            (json_int_t)(LIVENESS_AWAY_MS + LIVENESS_SILENT_MS - silent_ms)));
    }
    if ((started && silent_ms > LIVENESS_SILENT_MS + LIVENESS_AWAY_MS) ||
        (!started && now - ms->joined_us > LIVENESS_JOIN_GRACE_MS * 1000)) {
      g_message("appointment %" G_GINT64_FORMAT ": participant %s: no media for %" G_GINT64_FORMAT
                " ms, dropping",
                appointment_id, m->participant_id, silent_ms);
      g_hash_table_remove(c->media_seen, m->participant_id);
      /* The close reaches sig_consult_on_closed(), which departs it as "dropped". */
      sig_conn_close(mc, 4001, started ? "media lost" : "media never started");
    }
  }
  return G_SOURCE_CONTINUE;
}

/* Whether the connection's participant is in a call and "away" (its media stopped). */
static gboolean member_away(SigConn *conn)
{
  SigConsult *c = conn->consult;
  MediaSeen *ms =
      c && c->media_seen ? g_hash_table_lookup(c->media_seen, conn->participant_id) : NULL;
  return ms && ms->away;
}

static void liveness_start(SigConsult *c)
{
  if (c->liveness_timer)
    return;
  if (!c->media_seen)
    c->media_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  c->liveness_timer = g_timeout_add(LIVENESS_CHECK_MS, liveness_check, c);
}

static void liveness_stop(SigConsult *c)
{
  if (c->liveness_timer)
    g_source_remove(c->liveness_timer);
  c->liveness_timer = 0;
  g_clear_pointer(&c->media_seen, g_hash_table_unref);
}

static gboolean consult_ensure_room(SigConsult *c)
{
  if (c->room)
    return TRUE;
  g_autoptr(GError) error = NULL;
  c->room = sfu_room_new(c->server->relay, c->room_id, &room_callbacks, c, &error);
  if (c->room)
    liveness_start(c);
  if (!c->room)
    g_warning("appointment %" G_GINT64_FORMAT ": no relay room: %s",
              sig_call_appointment_id(c->call), error->message);
  return c->room != NULL;
}

/* --- Waiting room ------------------------------------------------------------------------- */

static gboolean doctor_online(SigServer *s, gint64 doctor_id, gboolean *busy)
{
  GHashTableIter it;
  gpointer key;
  gboolean online = FALSE;
  *busy = FALSE;
  g_hash_table_iter_init(&it, s->conns);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    SigConn *c = key;
    if (c->phase == SIG_CONN_READY && is_doctor(c) && c->staff_id == doctor_id) {
      online = TRUE;
      if (c->consult)
        *busy = TRUE;
    }
  }
  return online;
}

/* How long one consultation takes, in seconds, for the expected wait: the doctor's typical
 * length (the median of their recent consultations) if known, else the appointment's booked
 * length; 0 if neither is known. */
static gint64 consult_length(SigServer *s, SigConsult *c, gint64 typical)
{
  if (typical > 0)
    return typical;
  g_autoptr(SchedAppointment) a =
      sched_appointment_get(s->store, sig_call_appointment_id(c->call), NULL);
  return a && a->ends_at > a->starts_at ? a->ends_at - a->starts_at : 0;
}

/* The seconds left of the doctor's running call (at least a minute while it runs), or 0. */
static gint64 running_call_left(SigServer *s, gint64 doctor_id, gint64 typical, gint64 now)
{
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, s->conns);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    SigConn *c = key;
    if (c->phase != SIG_CONN_READY || !is_doctor(c) || c->staff_id != doctor_id || !c->consult)
      continue;
    g_autoptr(SchedConsultation) rec =
        sched_consultation_get(s->store, sig_call_appointment_id(c->consult->call), NULL);
    gint64 length = consult_length(s, c->consult, typical);
    gint64 elapsed = rec && rec->started_at ? now - rec->started_at : 0;
    return MAX(60, length - elapsed);
  }
  return 0;
}

/* Tells every waiting patient of `doctor_id` their place, the expected wait and the doctor's
 * status, and (`consoles`) every console of that doctor the waiting room. Cost: O(connections ×
 * consultations), small, plus one read of the doctor's recent consultations. */
static void refresh_waiting(SigServer *s, gint64 doctor_id, gboolean consoles)
{
  if (s->closing)
    return;
  /* Everyone waiting for this doctor, oldest first. */
  g_autoptr(GPtrArray) waiting = g_ptr_array_new();
  g_autoptr(GPtrArray) waiting_consult = g_ptr_array_new(); /* SigConsult* of each */
  json_t *list = json_array();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, s->consults);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    SigConsult *c = value;
    if (sig_call_doctor_id(c->call) != doctor_id)
      continue;
    GPtrArray *members = sig_call_members(c->call);
    for (guint i = 0; i < members->len; i++) {
      SigCallMember *m = g_ptr_array_index(members, i);
      SigConn *mc = conn_of(s, m->participant_id);
      if (!mc || g_strcmp0(m->role, "doctor") == 0)
        continue;
      if (!m->in_call) {
        g_ptr_array_add(waiting, m);
        g_ptr_array_add(waiting_consult, c);
      }
      json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s, s:I, s:b}", "appointment_id",
                                            (json_int_t)sig_call_appointment_id(c->call),
                                            "participant_id", m->participant_id, "role", m->role,
                                            "name", mc->name ? mc->name : "", "waiting_since",
                                            (json_int_t)m->since, "in_call", m->in_call));
    }
  }
  gboolean busy;
  gboolean online = doctor_online(s, doctor_id, &busy);
  const char *status = !online ? "offline" : busy ? "busy" : "available";
  /* Expected wait (docs/protocol.md, "Waiting room"): what is left of the doctor's running call
   * plus one consultation length per patient ahead; unknown (null) while the doctor is offline. */
  gint64 now = sig_now();
  gint64 typical = waiting->len ? sched_doctor_typical_duration(s->store, doctor_id, now, NULL) : 0;
  gint64 left = online && busy && waiting->len ? running_call_left(s, doctor_id, typical, now) : 0;
  for (guint i = 0; i < waiting->len; i++) {
    SigCallMember *m = g_ptr_array_index(waiting, i);
    guint position = 1;
    gint64 wait_s = left;
    gint64 mine =
        sig_call_appointment_id(((SigConsult *)g_ptr_array_index(waiting_consult, i))->call);
    for (guint j = 0; j < waiting->len; j++) {
      SigCallMember *o = g_ptr_array_index(waiting, j);
      gint64 theirs =
          sig_call_appointment_id(((SigConsult *)g_ptr_array_index(waiting_consult, j))->call);
      /* Arrival order; two arrivals in the same second go by appointment id, so that two
       * patients are never both "first". */
      gboolean ahead = o->since < m->since || (o->since == m->since && theirs < mine);
      if (o != m && g_strcmp0(o->role, "patient") == 0 && ahead) {
        position++;
        wait_s += consult_length(s, g_ptr_array_index(waiting_consult, j), typical);
      }
    }
    SigConn *mc = conn_of(s, m->participant_id);
    json_t *msg = json_pack("{s:s, s:i, s:s}", "type", "waiting", "position", (int)position,
                            "doctor_status", status);
    json_object_set_new(msg, "expected_wait_min",
                        online ? json_integer((json_int_t)((wait_s + 59) / 60)) : json_null());
    sig_conn_send_json(mc, msg);
  }
  g_hash_table_iter_init(&it, s->conns);
  while (consoles && g_hash_table_iter_next(&it, &value, NULL)) {
    SigConn *c = value;
    if (c->phase == SIG_CONN_READY && is_doctor(c) && c->staff_id == doctor_id)
      sig_conn_send_json(c, json_pack("{s:s, s:O}", "type", "waiting_room", "patients", list));
  }
  json_decref(list);
}

static void refresh_doctor(SigServer *s, gint64 doctor_id)
{
  refresh_waiting(s, doctor_id, TRUE);
}

void sig_consult_refresh_waits(SigServer *s)
{
  g_autoptr(GHashTable) doctors = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, s->consults);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    SigConsult *c = value;
    GPtrArray *members = sig_call_members(c->call);
    for (guint i = 0; i < members->len; i++) {
      SigCallMember *m = g_ptr_array_index(members, i);
      if (!m->in_call && g_strcmp0(m->role, "doctor") != 0) {
        gint64 *id = g_new(gint64, 1);
        *id = sig_call_doctor_id(c->call);
        g_hash_table_add(doctors, id);
        break;
      }
    }
  }
  g_hash_table_iter_init(&it, doctors);
  gpointer key;
  while (g_hash_table_iter_next(&it, &key, NULL))
    refresh_waiting(s, *(gint64 *)key, FALSE);
}

/* --- Joining and leaving the call ---------------------------------------------------------- */

static json_t *in_call_json(SigConsult *c)
{
  json_t *arr = json_array();
  GPtrArray *members = sig_call_members(c->call);
  for (guint i = 0; i < members->len; i++) {
    SigCallMember *m = g_ptr_array_index(members, i);
    SigConn *mc = conn_of(c->server, m->participant_id);
    if (m->in_call && mc)
      json_array_append_new(arr, participant_json(mc));
  }
  return arr;
}

/* Brings members who just entered the call into the relay and tells everyone. */
static void call_joined(SigConsult *c, GPtrArray *newcomers /* SigConn* */)
{
  SigServer *s = c->server;
  if (!consult_ensure_room(c)) {
    for (guint i = 0; i < newcomers->len; i++)
      send_error(g_ptr_array_index(newcomers, i), "relay_unavailable",
                 "the media relay could not start this call");
    return;
  }
  for (guint i = 0; i < newcomers->len; i++) {
    SigConn *n = g_ptr_array_index(newcomers, i);
    n->consult = c;
    g_autoptr(GError) error = NULL;
    if (!sfu_room_add_participant(c->room, n->participant_id, &error)) {
      g_warning("participant %s: relay refused: %s", n->participant_id, error->message);
      send_error(n, "relay_refused", "the media relay could not add you to the call");
    } else if (n->audio_only) {
      sfu_room_set_audio_only(c->room, n->participant_id, TRUE);
    }
  }
  json_t *everyone = in_call_json(c);
  GPtrArray *members = sig_call_members(c->call);
  for (guint i = 0; i < members->len; i++) {
    SigCallMember *m = g_ptr_array_index(members, i);
    SigConn *mc = conn_of(s, m->participant_id);
    if (!m->in_call || !mc)
      continue;
    gboolean is_new = FALSE;
    for (guint j = 0; j < newcomers->len; j++)
      is_new |= g_ptr_array_index(newcomers, j) == mc;
    if (is_new) {
      sig_conn_send_json(mc, json_pack("{s:s, s:I, s:O}", "type", "call_started", "appointment_id",
                                       (json_int_t)sig_call_appointment_id(c->call), "participants",
                                       everyone));
      if (is_doctor(mc)) /* the patient's page had it with its welcome */
        send_chat_history(mc, sig_call_appointment_id(c->call));
    } else {
      for (guint j = 0; j < newcomers->len; j++)
        sig_conn_send_json(mc, json_pack("{s:s, s:o}", "type", "participant_joined", "participant",
                                         participant_json(g_ptr_array_index(newcomers, j))));
    }
  }
  json_decref(everyone);
}

/* Takes `conn` out of its consultation (the call or the waiting room). */
static void depart(SigConn *conn, const char *reason)
{
  SigConsult *c = conn->consult;
  if (!c) {
    /* Waiting members have no consult pointer set only before hello completes. */
    return;
  }
  const SigCallMember *m = sig_call_find(c->call, conn->participant_id);
  gboolean was_in_call = m && m->in_call;
  sig_call_depart(c->call, conn->participant_id);
  conn->consult = NULL;
  gint64 doctor_id = sig_call_doctor_id(c->call);
  gint64 appointment_id = sig_call_appointment_id(c->call);
  if (was_in_call) {
    if (c->room)
      sfu_room_remove_participant(c->room, conn->participant_id);
    if (c->links)
      g_hash_table_remove(c->links, conn->participant_id);
    if (c->media_seen)
      g_hash_table_remove(c->media_seen, conn->participant_id);
    g_message("appointment %" G_GINT64_FORMAT ": participant %s %s", appointment_id,
              conn->participant_id, reason);
    if (!c->server->closing) {
      GPtrArray *members = sig_call_members(c->call);
      for (guint i = 0; i < members->len; i++) {
        SigCallMember *o = g_ptr_array_index(members, i);
        SigConn *oc = conn_of(c->server, o->participant_id);
        if (o->in_call && oc)
          sig_conn_send_json(oc,
                             json_pack("{s:s, s:s, s:s}", "type", "participant_left",
                                       "participant_id", conn->participant_id, "reason", reason));
      }
    }
  }
  consult_release_if_idle(c);
  refresh_doctor(conn->server, doctor_id);
}

/* --- Messages ------------------------------------------------------------------------------ */

/* Marks a connection as authenticated under a fresh participant id. */
static void conn_accept(SigConn *conn, const char *role, const char *name)
{
  conn->phase = SIG_CONN_READY;
  g_clear_handle_id(&conn->auth_timer, g_source_remove);
  conn->participant_id = new_participant_id();
  conn->role = g_strdup(role);
  conn->name = g_strdup(name);
  g_hash_table_insert(conn->server->participants, conn->participant_id, conn);
}

/* Adds `ice_servers` to a welcome: the TURN credential is the participant's own, made now. */
static json_t *with_ice_servers(SigConn *conn, json_t *welcome)
{
  const SigConfig *cfg = &conn->server->config;
  json_object_set_new(welcome, "ice_servers",
                      sig_turn_ice_servers(cfg->turn_uris, cfg->turn_secret, conn->participant_id,
                                           sig_now() + cfg->turn_credential_ttl_s));
  return welcome;
}

static void hello_token(SigConn *conn, const char *token)
{
  SigServer *s = conn->server;
  g_autoptr(SchedTokenInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  if (sig_buckets_take(s->rate_token, token, g_get_monotonic_time()) > 0)
    return refuse(conn, "too_many_requests", "too many attempts with this link; try again later",
                  1013, "try again later");
  SchedTokenVerdict v = sched_token_check(s->store, token, sig_now(), &info, &error);
  if (error)
    return refuse(conn, "internal", "the server could not check the link", 1011, "internal error");
  switch (v) {
  case SCHED_TOKEN_MALFORMED:
  case SCHED_TOKEN_UNKNOWN:
    return refuse(conn, "unknown_token", "this link is not known", 4404, "unknown token");
  case SCHED_TOKEN_EXPIRED:
    return refuse(conn, "expired_token", "this link has expired", 4410, "expired token");
  case SCHED_TOKEN_TOO_EARLY:
    return refuse(conn, "too_early", "this link is not open yet", 4425, "too early");
  case SCHED_TOKEN_REVOKED:
    return refuse(conn, "revoked_token", "this appointment was cancelled", 4403,
                  "not authenticated");
  case SCHED_TOKEN_VALID:
    break;
  }
  SigConn *holder = g_hash_table_lookup(s->tokens_in_use, token);
  if (holder && !member_away(holder))
    return refuse(conn, "token_in_use", "this link is already open in another page", 4409,
                  "token already in use by another open page");
  if (holder) {
    /* Its media stopped ("away") and its link comes back on a new connection: the same person
     * whose browser gave up its peer connections during a network cut (Chrome does ~15 s in)
     * and whose old connection's close is still held up by TCP. The new one takes over now. */
    g_message("participant %s: replaced by a new connection with its link", holder->participant_id);
    sig_conn_close(holder, 4002, "replaced by a new connection");
    conn_release(holder);
  }
  g_autoptr(SchedAppointment) a = sched_appointment_get(s->store, info->appointment_id, NULL);
  if (!a)
    return refuse(conn, "unknown_token", "this link is not known", 4404, "unknown token");

  /* A guest is shown by role: guests give no name yet. */
  conn_accept(conn, info->role,
              g_strcmp0(info->role, "patient") == 0 ? a->patient_name : info->role);
  conn->appointment_id = a->id;
  conn->token = g_strdup(token);
  if (g_strcmp0(conn->role, "patient") == 0) {
    /* The patient's remembered choice: the page starts in it, the relay applies it on joining. */
    g_autoptr(SchedPatient) patient = sched_patient_get(s->store, a->patient_id, NULL);
    conn->patient_id = a->patient_id;
    conn->audio_only = patient && patient->prefers_audio_only;
  }
  g_hash_table_insert(s->tokens_in_use, conn->token, conn);
  g_message("appointment %" G_GINT64_FORMAT ": %s %s connected from %s", a->id, conn->role,
            conn->participant_id, conn->peer);

  sig_conn_send_json(
      conn, with_ice_servers(
                conn, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "type", "welcome",
                                "participant_id", conn->participant_id, "role", conn->role, "name",
                                conn->name ? conn->name : "", "appointment_id", (json_int_t)a->id,
                                "doctor_name", a->doctor_name ? a->doctor_name : "", "audio_only",
                                conn->audio_only)));
  send_chat_history(conn, a->id);

  if (g_strcmp0(a->status, "fulfilled") == 0 || g_strcmp0(a->status, "noshow") == 0 ||
      g_strcmp0(a->status, "cancelled") == 0) {
    sig_conn_send_json(conn, json_pack("{s:s, s:s}", "type", "call_ended", "reason", "ended"));
    return;
  }
  SigConsult *c = consult_get_or_resume(s, a->id, a->doctor_id);
  switch (sig_call_arrive(c->call, conn->participant_id, conn->role, sig_now())) {
  case SIG_PLACE_WAITING:
    conn->consult = c;
    if (g_strcmp0(conn->role, "patient") == 0)
      sched_consultation_waiting(s->store, a->id, sig_now(), NULL);
    refresh_doctor(s, a->doctor_id);
    break;
  case SIG_PLACE_CALL: {
    g_autoptr(GPtrArray) newcomers = g_ptr_array_new();
    g_ptr_array_add(newcomers, conn);
    call_joined(c, newcomers);
    refresh_doctor(s, a->doctor_id);
    break;
  }
  case SIG_PLACE_ENDED:
    sig_conn_send_json(conn, json_pack("{s:s, s:s}", "type", "call_ended", "reason", "ended"));
    consult_release_if_idle(c);
    break;
  case SIG_PLACE_FULL:
    consult_release_if_idle(c);
    refuse(conn, "call_full", "this call already has four participants", 4429, "call is full");
    break;
  case SIG_PLACE_DUPLICATE:
    g_assert_not_reached(); /* participant ids are fresh */
  }
}

static void hello_staff(SigConn *conn)
{
  SigServer *s = conn->server;
  gint64 id =
      conn->session_cookie ? sched_session_lookup(s->store, conn->session_cookie, sig_now()) : 0;
  g_autoptr(SchedStaff) staff = id ? sched_staff_get(s->store, id, NULL) : NULL;
  if (!staff)
    return refuse(conn, "not_authenticated", "log in first", 4403, "not authenticated");
  if (sig_authz_decide(sig_authz_find_ws("hello"), sig_authz_staff_role(staff->role), NULL))
    return refuse(conn, "forbidden", "your role does not take part in consultations", 4403,
                  "not authenticated");
  conn_accept(conn, staff->role, staff->display_name);
  conn->staff_id = staff->id;
  g_message("staff %" G_GINT64_FORMAT " connected as %s from %s", staff->id, conn->participant_id,
            conn->peer);
  sig_conn_send_json(
      conn, with_ice_servers(conn, json_pack("{s:s, s:s, s:s, s:s, s:n}", "type", "welcome",
                                             "participant_id", conn->participant_id, "role",
                                             conn->role, "name", conn->name, "appointment_id")));
  refresh_doctor(s, staff->id);
  /* The conversations with whoever waits or is in a call now (a reloaded console). */
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, s->consults);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    SigConsult *c = value;
    if (sig_call_doctor_id(c->call) == staff->id && sig_call_members(c->call)->len > 0)
      send_chat_history(conn, sig_call_appointment_id(c->call));
  }
}

static void admit(SigConn *conn, gint64 appointment_id)
{
  SigServer *s = conn->server;
  if (!is_doctor(conn))
    return send_error(conn, "not_allowed", "only the doctor admits");
  SigConsult *c = consult_find(s, appointment_id);
  if (!c && consult_was_running(s, appointment_id)) {
    /* The doctor comes back first after a restart (the console rejoins by itself). */
    g_autoptr(SchedAppointment) a = sched_appointment_get(s->store, appointment_id, NULL);
    if (a && a->doctor_id == conn->staff_id)
      c = consult_get_or_resume(s, appointment_id, a->doctor_id);
  }
  if (!c || sig_call_doctor_id(c->call) != conn->staff_id)
    return send_error(conn, "not_allowed", "nobody is waiting for this consultation");
  if (conn->consult && conn->consult != c)
    return send_error(conn, "not_allowed", "end or leave your current call first");
  SigCallState before = sig_call_state(c->call);
  GPtrArray *members = sig_call_members(c->call);
  g_autoptr(GPtrArray) was_waiting = g_ptr_array_new();
  for (guint i = 0; i < members->len; i++) {
    SigCallMember *m = g_ptr_array_index(members, i);
    if (!m->in_call)
      g_ptr_array_add(was_waiting, m->participant_id);
  }
  const char *why = NULL;
  if (!sig_call_admit(c->call, conn->participant_id, sig_now(), &why))
    return send_error(conn, "not_allowed", why);
  if (before == SIG_CALL_WAITING)
    sched_consultation_started(s->store, appointment_id, sig_now(), NULL);
  g_message("appointment %" G_GINT64_FORMAT ": staff %" G_GINT64_FORMAT " admitted", appointment_id,
            conn->staff_id);
  g_autoptr(GPtrArray) newcomers = g_ptr_array_new();
  g_ptr_array_add(newcomers, conn);
  for (guint i = 0; i < was_waiting->len; i++) {
    const SigCallMember *m = sig_call_find(c->call, g_ptr_array_index(was_waiting, i));
    SigConn *mc = m && m->in_call ? conn_of(s, m->participant_id) : NULL;
    if (mc)
      g_ptr_array_add(newcomers, mc);
  }
  call_joined(c, newcomers);
  refresh_doctor(s, conn->staff_id);
}

static void end_call(SigConn *conn, const char *outcome)
{
  SigServer *s = conn->server;
  SigConsult *c = conn->consult;
  if (!is_doctor(conn) || !c)
    return send_error(conn, "not_allowed", "only the doctor in the call ends it");
  gint64 appointment_id = sig_call_appointment_id(c->call);
  GPtrArray *members = sig_call_members(c->call);
  for (guint i = 0; i < members->len; i++) {
    SigCallMember *m = g_ptr_array_index(members, i);
    SigConn *mc = conn_of(s, m->participant_id);
    if (!mc)
      continue;
    mc->consult = NULL;
    sig_conn_send_json(mc, json_pack("{s:s, s:s, s:s}", "type", "call_ended", "reason",
                                     "ended_by_doctor", "outcome", outcome));
  }
  sig_call_end(c->call);
  g_clear_pointer(&c->room, sfu_room_free);
  g_autoptr(GError) error = NULL;
  quality_stop(c); /* the record first: the statistics count it once the consultation ends */
  if (!sched_consultation_ended(s->store, appointment_id, sig_now(), outcome, &error))
    g_warning("appointment %" G_GINT64_FORMAT ": record not closed: %s", appointment_id,
              error->message);
  g_message("appointment %" G_GINT64_FORMAT ": ended (%s)", appointment_id, outcome);
  consult_release_if_idle(c);
  refresh_doctor(s, conn->staff_id);
}

static void invite(SigConn *conn, gint64 appointment_id, const char *role)
{
  SigServer *s = conn->server;
  if (!is_doctor(conn))
    return send_error(conn, "not_allowed", "only the doctor invites");
  g_autoptr(SchedAppointment) a = sched_appointment_get(s->store, appointment_id, NULL);
  if (!a || a->doctor_id != conn->staff_id)
    return send_error(conn, "not_allowed", "this is not your appointment");
  g_autofree char *token = sched_token_issue_guest(s->store, appointment_id, role, NULL);
  if (!token)
    return send_error(conn, "internal", "the link could not be made");
  g_autofree char *link = g_strdup_printf("%s/join/%s", s->config.public_url, token);
  sig_conn_send_json(conn, json_pack("{s:s, s:I, s:s, s:s}", "type", "invited", "appointment_id",
                                     (json_int_t)appointment_id, "role", role, "link", link));
}

static void media(SigConn *conn, SigMsg *msg)
{
  SigConsult *c = conn->consult;
  const SigCallMember *m = c ? sig_call_find(c->call, conn->participant_id) : NULL;
  if (!m || !m->in_call || !c->room)
    return send_error(conn, "not_allowed", "you are not in a call");
  g_autoptr(GError) error = NULL;
  gboolean ok;
  if (msg->type == SIG_MSG_ANSWER)
    ok = sfu_room_set_answer(c->room, conn->participant_id, msg->pc, msg->sdp, &error);
  else
    ok = sfu_room_add_candidate(c->room, conn->participant_id, msg->pc, msg->mline_index,
                                msg->candidate, &error);
  if (!ok) {
    const char *code = "media_error";
    if (error->domain == SFU_ERROR && error->code == SFU_ERROR_NOT_FOUND)
      code = "unknown_pc";
    else if (error->domain == SFU_ERROR && error->code == SFU_ERROR_INVALID_SDP)
      code = "invalid_sdp";
    send_error(conn, code, error->message);
  }
}

/* A participant's own choice to receive audio only (any time after hello; applied in the relay
 * at once if in the call, else on joining). A patient's choice is remembered for later calls. */
static void audio_only(SigConn *conn, gboolean on)
{
  SigConsult *c = conn->consult;
  conn->audio_only = on;
  if (conn->patient_id > 0) {
    g_autoptr(GError) error = NULL;
    if (!sched_patient_set_audio_only(conn->server->store, conn->patient_id, on, &error))
      g_warning("patient %" G_GINT64_FORMAT ": audio-only choice not stored: %s", conn->patient_id,
                error->message);
  }
  const SigCallMember *m = c ? sig_call_find(c->call, conn->participant_id) : NULL;
  if (m && m->in_call && c->room)
    sfu_room_set_audio_only(c->room, conn->participant_id, on);
  g_message("participant %s: audio only %s", conn->participant_id, on ? "on" : "off");
}

/* --- Chat and clinical notices ------------------------------------------------------------
 * Chat messages belong to a consultation (an appointment): the doctor may write to a patient
 * who waits (before admitting them) and everyone in the call writes to everyone in it. A
 * message is stored first (sched_chat_add, in the message's audited unit), then relayed to every
 * page of that consultation: its waiting or in-call members and every console of its doctor.
 * Each copy says who sent it (role and the name the call already shows) and whether it was the
 * recipient's own. The text is never logged. A page that (re)connects gets the history:
 * `chat_history` after a patient's or guest's welcome, and to the doctor when a call starts. */

#define CHAT_HISTORY_MAX 200

static json_t *chat_json(const SchedChatMessage *m, gboolean from_you)
{
  return json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:b}", "type", "chat", "id",
                   (json_int_t)m->id, "appointment_id", (json_int_t)m->appointment_id,
                   "sender_role", m->sender_role, "sender_name", m->sender_name, "text", m->text,
                   "sent_at_ms", (json_int_t)m->sent_at_ms, "from_you", from_you);
}

/* Every open page of consultation `appointment_id` (doctor `doctor_id`): its members' and the
 * doctor's consoles. (element-type SigConn) (transfer container) */
static GPtrArray *consult_pages(SigServer *s, gint64 appointment_id, gint64 doctor_id)
{
  GPtrArray *pages = g_ptr_array_new();
  SigConsult *c = consult_find(s, appointment_id);
  if (c) {
    GPtrArray *members = sig_call_members(c->call);
    for (guint i = 0; i < members->len; i++) {
      SigCallMember *m = g_ptr_array_index(members, i);
      SigConn *mc = conn_of(s, m->participant_id);
      if (mc && mc->phase == SIG_CONN_READY && mc->consult == c && !is_doctor(mc))
        g_ptr_array_add(pages, mc);
    }
  }
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, s->conns);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    SigConn *dc = key;
    if (dc->phase == SIG_CONN_READY && is_doctor(dc) && dc->staff_id == doctor_id)
      g_ptr_array_add(pages, dc);
  }
  return pages;
}

/* The stored messages of a consultation, to one page. */
static void send_chat_history(SigConn *conn, gint64 appointment_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list =
      sched_chat_list(conn->server->store, appointment_id, CHAT_HISTORY_MAX, &error);
  if (!list) {
    g_warning("appointment %" G_GINT64_FORMAT ": chat history not read: %s", appointment_id,
              error->message);
    return;
  }
  json_t *arr = json_array();
  for (guint i = 0; i < list->len; i++) {
    SchedChatMessage *m = g_ptr_array_index(list, i);
    json_t *o = chat_json(m, g_strcmp0(m->sender_role, conn->role) == 0);
    json_object_del(o, "type");
    json_array_append_new(arr, o);
  }
  sig_conn_send_json(conn, json_pack("{s:s, s:I, s:o}", "type", "chat_history", "appointment_id",
                                     (json_int_t)appointment_id, "messages", arr));
}

static void chat(SigConn *conn, SigMsg *msg)
{
  SigServer *s = conn->server;
  gint64 appointment_id = 0, doctor_id = 0;
  if (is_doctor(conn)) {
    appointment_id = msg->appointment_id ? msg->appointment_id
                     : conn->consult     ? sig_call_appointment_id(conn->consult->call)
                                         : 0;
    if (!appointment_id)
      return send_error(conn, "not_allowed", "say which consultation (appointment_id)");
    g_autoptr(SchedAppointment) a = sched_appointment_get(s->store, appointment_id, NULL);
    if (!a || a->doctor_id != conn->staff_id)
      return send_error(conn, "not_allowed", "this is not your appointment");
    if (!consult_find(s, appointment_id))
      return send_error(conn, "not_allowed", "nobody is waiting for this consultation");
    doctor_id = a->doctor_id;
  } else {
    if (!conn->consult)
      return send_error(conn, "not_allowed", "you are not in a waiting room or a call");
    appointment_id = sig_call_appointment_id(conn->consult->call);
    if (msg->appointment_id && msg->appointment_id != appointment_id)
      return send_error(conn, "not_allowed", "this is not your consultation");
    doctor_id = sig_call_doctor_id(conn->consult->call);
  }
  g_autofree char *key = conn->token ? g_strdup(conn->token)
                                     : g_strdup_printf("staff:%" G_GINT64_FORMAT, conn->staff_id);
  if (sig_buckets_take(s->rate_chat, key, g_get_monotonic_time()) > 0)
    return send_error(conn, "too_many_requests", "too many messages at once; wait a moment");
  g_autoptr(GError) error = NULL;
  SchedChatMessage m = {.appointment_id = appointment_id,
                        .sent_at_ms = g_get_real_time() / 1000,
                        .sender_role = conn->role,
                        .sender_name = conn->name ? conn->name : "",
                        .text = msg->text};
  m.id = sched_chat_add(s->store, appointment_id, m.sent_at_ms, m.sender_role, m.sender_name,
                        m.text, &error);
  if (!m.id) {
    g_warning("appointment %" G_GINT64_FORMAT ": chat message not stored: %s", appointment_id,
              error->message);
    return send_error(conn, "internal", "the message could not be stored; try again");
  }
  g_autoptr(GPtrArray) pages = consult_pages(s, appointment_id, doctor_id);
  if (!g_ptr_array_find(pages, conn, NULL))
    g_ptr_array_add(pages, conn);
  for (guint i = 0; i < pages->len; i++) {
    SigConn *to = g_ptr_array_index(pages, i);
    sig_conn_send_json(to, chat_json(&m, to == conn));
  }
  g_debug("appointment %" G_GINT64_FORMAT ": chat message %" G_GINT64_FORMAT " from %s to %u pages",
          appointment_id, m.id, conn->participant_id, pages->len);
}

typedef struct {
  gint64 appointment_id;
  gint64 doctor_id;
  SigAudience to;
  char *text;
} SigNotice;

static void notice_free(gpointer p)
{
  SigNotice *n = p;
  g_free(n->text);
  g_free(n);
}

void sig_notice_queue(SigServer *s, gint64 appointment_id, gint64 doctor_id, SigAudience to,
                      json_t *msg)
{
  SigNotice *n = g_new0(SigNotice, 1);
  n->appointment_id = appointment_id;
  n->doctor_id = doctor_id;
  n->to = to;
  n->text = sig_msg_dump(msg);
  g_queue_push_tail(&s->request_notices, n);
}

static void notice_send(SigServer *s, const SigNotice *n)
{
  if (s->closing)
    return;
  g_autoptr(GPtrArray) pages = consult_pages(s, n->appointment_id, n->doctor_id);
  for (guint i = 0; i < pages->len; i++) {
    SigConn *to = g_ptr_array_index(pages, i);
    gboolean want = n->to == SIG_TO_DOCTOR
                        ? is_doctor(to)
                        : to->patient_id > 0 && to->appointment_id == n->appointment_id;
    if (want)
      sig_conn_send(to, g_strdup(n->text));
  }
}

void sig_notices_release(SigServer *s, GQueue *queue, gboolean send)
{
  SigNotice *n;
  while ((n = g_queue_pop_head(queue)) != NULL) {
    if (send)
      notice_send(s, n);
    notice_free(n);
  }
}

void sig_notices_move(GQueue *from, GQueue *to)
{
  gpointer n;
  while ((n = g_queue_pop_head(from)) != NULL)
    g_queue_push_tail(to, n);
}

static void dispatch(SigConn *conn, SigMsg *msg);

/* The hook point of the audit log for consultation events (sig-audit.c): the message's writes
 * and its audit row are one transaction. */
void sig_consult_on_message(SigConn *conn, SigMsg *msg)
{
  SigAuditWs audit;
  if (!sig_audit_ws_begin(conn, msg, &audit))
    return send_error(conn, "internal", "the server is busy; try again");
  dispatch(conn, msg);
  sig_audit_ws_end(conn, msg, &audit);
}

static void dispatch(SigConn *conn, SigMsg *msg)
{
  if (conn->phase == SIG_CONN_CLOSING)
    return;
  /* The one table (sig-authz.c): hello is decided by the credential it presents (in hello_*),
   * every other message by the connection's role; "own" is narrowed below (the doctor's own
   * appointment, the participant's own consultation). */
  if (msg->type != SIG_MSG_HELLO) {
    SigRole role =
        conn->phase == SIG_CONN_NEW ? SIG_ROLE_NONE : sig_authz_participant_role(conn->role);
    if (sig_authz_decide(sig_authz_find_ws(sig_msg_type_name(msg->type)), role, NULL))
      return send_error(conn, "not_allowed",
                        conn->phase == SIG_CONN_NEW ? "say hello first"
                                                    : "your role may not send this message");
  }
  if (conn->phase == SIG_CONN_NEW) {
    if (msg->type != SIG_MSG_HELLO)
      return send_error(conn, "not_allowed", "say hello first");
    if (msg->token)
      hello_token(conn, msg->token);
    else
      hello_staff(conn);
    return;
  }
  switch (msg->type) {
  case SIG_MSG_HELLO:
    return send_error(conn, "not_allowed", "hello was already said");
  case SIG_MSG_ADMIT:
    return admit(conn, msg->appointment_id);
  case SIG_MSG_ANSWER:
  case SIG_MSG_CANDIDATE:
    return media(conn, msg);
  case SIG_MSG_LEAVE:
    if (!conn->consult)
      return send_error(conn, "not_allowed", "you are not in a call or a waiting room");
    depart(conn, "left");
    sig_conn_send_json(conn, json_pack("{s:s}", "type", "left"));
    return;
  case SIG_MSG_END:
    return end_call(conn, msg->outcome);
  case SIG_MSG_INVITE:
    return invite(conn, msg->appointment_id, msg->role);
  case SIG_MSG_AUDIO_ONLY:
    return audio_only(conn, msg->audio_only);
  case SIG_MSG_CHAT:
    return chat(conn, msg);
  }
}

void sig_consult_on_closed(SigConn *conn)
{
  if (conn->phase == SIG_CONN_NEW || !conn->participant_id)
    return;
  conn_release(conn);
}

/* Lets the connection's participant go: out of its call or waiting room ("dropped"), its id
 * and token free. Once per connection: at its close, or sooner when a new connection with its
 * link replaces it (hello_token). */
static void conn_release(SigConn *conn)
{
  SigServer *s = conn->server;
  if (conn->released)
    return;
  conn->released = TRUE;
  conn->phase = SIG_CONN_CLOSING; /* no longer counts as online, takes no more messages */
  if (conn->consult)
    sig_audit_ws_dropped(conn, sig_call_appointment_id(conn->consult->call));
  depart(conn, "dropped");
  g_hash_table_remove(s->participants, conn->participant_id);
  if (conn->token && g_hash_table_lookup(s->tokens_in_use, conn->token) == conn)
    g_hash_table_remove(s->tokens_in_use, conn->token);
  g_message("participant %s disconnected", conn->participant_id);
  if (is_doctor(conn))
    refresh_doctor(s, conn->staff_id);
}

json_t *sig_consult_metrics(SigServer *s, gint64 doctor_id)
{
  json_t *arr = json_array();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, s->consults);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    SigConsult *c = value;
    if (doctor_id && sig_call_doctor_id(c->call) != doctor_id)
      continue;
    json_t *parts = json_array();
    GPtrArray *members = sig_call_members(c->call);
    for (guint i = 0; i < members->len; i++) {
      SigCallMember *m = g_ptr_array_index(members, i);
      SfuParticipantStats st = {0};
      if (!m->in_call || !c->room ||
          !sfu_room_get_participant_stats(c->room, m->participant_id, &st))
        continue;
      json_array_append_new(parts, json_pack("{s:s, s:s, s:I, s:I, s:I, s:i}", "participant_id",
                                             m->participant_id, "role", m->role, "packets_received",
                                             (json_int_t)st.packets_received, "packets_forwarded",
                                             (json_int_t)st.packets_forwarded, "packets_sent",
                                             (json_int_t)st.packets_sent, "peer_connections",
                                             (int)st.peer_connections));
    }
    json_array_append_new(arr, json_pack("{s:I, s:s, s:o}", "appointment_id",
                                         (json_int_t)sig_call_appointment_id(c->call), "state",
                                         sig_call_state_name(sig_call_state(c->call)),
                                         "participants", parts));
  }
  return arr;
}

void sig_consult_free_all(SigServer *s)
{
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, s->consults);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    g_hash_table_iter_remove(&it); /* frees the key only */
    consult_destroy(value);
  }
}
