/* sched-stats-sqlite.c — the SQLite side of the scheduler's statistics (sched-stats-backend.h):
 * migration 3 (the daily summary, its triggers, its back-fill), migration 4 (call quality: its
 * table and the summary's quality columns with their triggers), the SQL functions they call,
 * and the read of the summary.
 *
 * The summary `stats_daily` is a pure function of `appointments` and `consultations`. Triggers
 * keep it so: every insert, update or delete of either table subtracts the old row's
 * contribution and adds the new one's, in the statement's own transaction, so ending a
 * consultation, a no-show job, a cancellation (or an operator's set_status) updates the
 * statistics atomically with the change, and no write path can forget to. A trigger fires only
 * when a counted column changed and the appointment counts before or after (a booking, a hold,
 * a check-in cost nothing).
 *
 * The triggers call C functions (a facility's local day needs its IANA zone, which SQLite does
 * not know; histograms are blobs). Every connection that writes appointments or consultations
 * must therefore register them (sched__stats_sqlite_register: the store does at open; the unit
 * tests' and the benchmark's raw connections do too). A plain `sqlite3` shell can still read
 * everything (integrity_check, exports, backups), but its writes to those two tables fail with
 * "no such function: sched_local_day" rather than leave the summary wrong. */
#include "sched-stats-backend.h"

#include <sqlite3.h>
#include <string.h>

/* --- Migration 3 ---------------------------------------------------------------------------- */

/* The contribution of one appointment `a` with its consultation `c` (columns may be NULL), as
 * the columns of stats_daily, each multiplied by SIGN (+1 or -1). */
#define STATS_KEY                                                                                  \
  "sched_local_day(a.starts_at, (SELECT timezone FROM facilities WHERE id = a.facility_id)),"      \
  " coalesce(a.facility_id, 0), coalesce(a.service_id, 0)"
#define STATS_WAIT                                                                                 \
  "CASE WHEN a.status = 'fulfilled' AND c.waiting_since IS NOT NULL AND c.started_at IS NOT NULL"  \
  " THEN max(0, c.started_at - max(c.waiting_since, a.starts_at)) / 60 END"
#define STATS_DURATION                                                                             \
  "CASE WHEN a.status = 'fulfilled' AND c.started_at IS NOT NULL AND c.ended_at IS NOT NULL"       \
  " THEN max(0, c.ended_at - c.started_at) / 60 END"
#define STATS_COMPLETED "(a.status = 'fulfilled' AND coalesce(c.outcome, '') <> 'interrupted')"
#define STATS_CANCELLED                                                                            \
  "(a.status = 'cancelled' AND coalesce(a.cancel_reason, '') <> 'hold expired')"
/* Whether an appointment row (`p` = NEW or OLD) counts at all. */
#define STATS_COUNTS(p)                                                                            \
  "(" p ".status IN ('fulfilled', 'noshow') OR (" p ".status = 'cancelled' AND"                    \
  " coalesce(" p ".cancel_reason, '') <> 'hold expired'))"
#define STATS_VALUES(SIGN)                                                                         \
  STATS_KEY ", " SIGN " * (a.status = 'fulfilled'), " SIGN " * " STATS_COMPLETED ", " SIGN         \
            " * (a.status = 'noshow'), " SIGN " * " STATS_CANCELLED ", sched_hist_one(" STATS_WAIT \
            ", " SIGN "), sched_hist_one(" STATS_DURATION ", " SIGN ")"
#define STATS_UPSERT(SIGN, FROM)                                                                   \
  "INSERT INTO stats_daily (day, facility_id, service_id, consultations, completed, noshows,"      \
  " cancellations, wait_hist, duration_hist) SELECT " STATS_VALUES(                                \
      SIGN) " " FROM " ON CONFLICT (day, facility_id, service_id) DO UPDATE SET"                   \
            " consultations = consultations + excluded.consultations,"                             \
            " completed = completed + excluded.completed, noshows = noshows + excluded.noshows,"   \
            " cancellations = cancellations + excluded.cancellations,"                             \
            " wait_hist = sched_hist_merge(wait_hist, excluded.wait_hist),"                        \
            " duration_hist = sched_hist_merge(duration_hist, excluded.duration_hist);"
/* `a` as the NEW/OLD appointment row with its stored consultation. */
#define STATS_FROM_APPT(p)                                                                         \
  "FROM (SELECT " p ".id AS id, " p ".starts_at AS starts_at, " p                                  \
  ".facility_id AS facility_id, " p ".service_id AS service_id, " p ".status AS status, " p        \
  ".cancel_reason AS cancel_reason) a"                                                             \
  " LEFT JOIN consultations c ON c.appointment_id = a.id WHERE " STATS_COUNTS("a")
/* `c` as the NEW/OLD consultation row with its stored appointment. */
#define STATS_FROM_CONS(p)                                                                         \
  "FROM appointments a, (SELECT " p ".waiting_since AS waiting_since, " p                          \
  ".started_at AS started_at, " p ".ended_at AS ended_at, " p ".outcome AS outcome) c"             \
  " WHERE a.id = " p ".appointment_id AND " STATS_COUNTS("a")
/* `c` as "no consultation record" for the stored appointment `p`.appointment_id. */
#define STATS_FROM_NO_CONS(p)                                                                      \
  "FROM appointments a, (SELECT NULL AS waiting_since, NULL AS started_at, NULL AS ended_at,"      \
  " NULL AS outcome) c WHERE a.id = " p ".appointment_id AND " STATS_COUNTS("a")
#define STATS_APPT_CHANGED                                                                         \
  "(OLD.status IS NOT NEW.status OR OLD.starts_at IS NOT NEW.starts_at OR"                         \
  " OLD.cancel_reason IS NOT NEW.cancel_reason OR OLD.facility_id IS NOT NEW.facility_id OR"       \
  " OLD.service_id IS NOT NEW.service_id) AND (" STATS_COUNTS("OLD") " OR " STATS_COUNTS(          \
      "NEW") ")"
#define STATS_CONS_CHANGED                                                                         \
  "(OLD.waiting_since IS NOT NEW.waiting_since OR OLD.started_at IS NOT NEW.started_at OR"         \
  " OLD.ended_at IS NOT NEW.ended_at OR OLD.outcome IS NOT NEW.outcome)"

/* The SQL reads as SQL, one statement or clause a line (clang-format turns it into a staircase). */
// clang-format off
const char sched__stats_migration_sql[] =
    /* One row per local day of the facility, facility and service (0: none). Histograms:
     * sched-stats-backend.h. No foreign keys: facility/service 0 stand for "none". */
    "CREATE TABLE stats_daily ("
    "  day INTEGER NOT NULL,"
    "  facility_id INTEGER NOT NULL,"
    "  service_id INTEGER NOT NULL,"
    "  consultations INTEGER NOT NULL DEFAULT 0,"
    "  completed INTEGER NOT NULL DEFAULT 0,"
    "  noshows INTEGER NOT NULL DEFAULT 0,"
    "  cancellations INTEGER NOT NULL DEFAULT 0,"
    "  wait_hist BLOB,"
    "  duration_hist BLOB,"
    "  PRIMARY KEY (day, facility_id, service_id)"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO stats_daily (day, facility_id, service_id, consultations, completed,"
    " noshows, cancellations, wait_hist, duration_hist)"
    " SELECT " STATS_KEY ", sum(a.status = 'fulfilled'), sum(" STATS_COMPLETED "),"
    " sum(a.status = 'noshow'), sum(" STATS_CANCELLED "),"
    " sched_hist(" STATS_WAIT "), sched_hist(" STATS_DURATION ")"
    " FROM appointments a LEFT JOIN consultations c ON c.appointment_id = a.id"
    " WHERE " STATS_COUNTS("a") " GROUP BY 1, 2, 3;"
    "CREATE TRIGGER stats_appointment_insert AFTER INSERT ON appointments WHEN "
    STATS_COUNTS("NEW")
    " BEGIN "
    STATS_UPSERT("1", STATS_FROM_APPT("NEW"))
    " END;"
    "CREATE TRIGGER stats_appointment_update AFTER UPDATE ON appointments WHEN "
    STATS_APPT_CHANGED
    " BEGIN "
    STATS_UPSERT("-1", STATS_FROM_APPT("OLD"))
    STATS_UPSERT("1", STATS_FROM_APPT("NEW"))
    " END;"
    "CREATE TRIGGER stats_appointment_delete AFTER DELETE ON appointments WHEN "
    STATS_COUNTS("OLD")
    " BEGIN "
    STATS_UPSERT("-1", STATS_FROM_APPT("OLD"))
    " END;"
    "CREATE TRIGGER stats_consultation_insert AFTER INSERT ON consultations BEGIN "
    STATS_UPSERT("-1", STATS_FROM_NO_CONS("NEW"))
    STATS_UPSERT("1", STATS_FROM_CONS("NEW"))
    " END;"
    "CREATE TRIGGER stats_consultation_update AFTER UPDATE ON consultations WHEN "
    STATS_CONS_CHANGED
    " BEGIN "
    STATS_UPSERT("-1", STATS_FROM_CONS("OLD"))
    STATS_UPSERT("1", STATS_FROM_CONS("NEW"))
    " END;"
    "CREATE TRIGGER stats_consultation_delete AFTER DELETE ON consultations BEGIN "
    STATS_UPSERT("-1", STATS_FROM_CONS("OLD"))
    STATS_UPSERT("1", STATS_FROM_NO_CONS("OLD"))
    " END;";
// clang-format on

/* --- Migration 4: call quality ---------------------------------------------------------------- */

/* A consultation's quality contribution folds the rows ROWS (Q_COLS of its consultation_quality
 * records, samples > 0 only) into integers: sample-weighted means of each record's rounded value,
 * by integer division. Integers make "subtract the old contribution, add the new one" cancel
 * exactly, whatever order SQLite reads the rows in (a float sum would not). */
/* The SQL reads as SQL, one clause a line (clang-format would make a staircase of it). */
// clang-format off
#define Q_COLS "samples, avg_score, avg_loss, avg_rtt_ms, avg_video_kbps, audio_only_weak_s"
#define Q_OLD_ROW                                                                                  \
  "SELECT OLD.samples, OLD.avg_score, OLD.avg_loss, OLD.avg_rtt_ms, OLD.avg_video_kbps,"            \
  " OLD.audio_only_weak_s"
#define Q_FOLD(ROWS)                                                                               \
  "(SELECT sum(r.samples) AS n,"                                                                   \
  " sum(r.samples * CAST(round(r.avg_score * 1000) AS INTEGER)) / sum(r.samples) AS score,"        \
  " sum(r.samples * CAST(round(r.avg_loss * 1000000) AS INTEGER)) / sum(r.samples) AS loss,"       \
  " sum(r.samples * CAST(round(r.avg_rtt_ms) AS INTEGER)) / sum(r.samples) AS rtt,"                \
  " sum(r.samples * CAST(round(r.avg_video_kbps) AS INTEGER)) / sum(r.samples) AS kbps,"           \
  " max(r.audio_only_weak_s) AS weak"                                                              \
  " FROM (" ROWS ") r WHERE r.samples > 0) q"
/* Adds SIGN x the contribution of the fulfilled appointment `a` (from A, narrowed by WHERE) whose
 * records are ROWS. */
#define Q_UPSERT(SIGN, A, ROWS, WHERE)                                                             \
  "INSERT INTO stats_daily (day, facility_id, service_id, quality_consultations,"                  \
  " audio_fallbacks, score_milli_sum, loss_ppm_sum, rtt_ms_sum, video_kbps_sum)"                   \
  " SELECT " STATS_KEY ", " SIGN ", " SIGN " * (q.weak > 0), " SIGN " * q.score, " SIGN            \
  " * q.loss, " SIGN " * q.rtt, " SIGN " * q.kbps FROM " A ", " Q_FOLD(ROWS)                       \
  " WHERE a.status = 'fulfilled' AND q.n IS NOT NULL" WHERE                                        \
  " ON CONFLICT (day, facility_id, service_id) DO UPDATE SET"                                      \
  " quality_consultations = quality_consultations + excluded.quality_consultations,"               \
  " audio_fallbacks = audio_fallbacks + excluded.audio_fallbacks,"                                 \
  " score_milli_sum = score_milli_sum + excluded.score_milli_sum,"                                  \
  " loss_ppm_sum = loss_ppm_sum + excluded.loss_ppm_sum,"                                          \
  " rtt_ms_sum = rtt_ms_sum + excluded.rtt_ms_sum,"                                                \
  " video_kbps_sum = video_kbps_sum + excluded.video_kbps_sum;"
/* `a` as the NEW/OLD appointment row; its stored records. */
#define Q_APPT(p)                                                                                  \
  "(SELECT " p ".id AS id, " p ".starts_at AS starts_at, " p ".facility_id AS facility_id, " p     \
  ".service_id AS service_id, " p ".status AS status) a"
#define Q_APPT_ROWS(p) "SELECT " Q_COLS " FROM consultation_quality WHERE appointment_id = " p ".id"
/* The stored appointment of a record; the stored records of that appointment. */
#define Q_OF(p) " AND a.id = " p ".appointment_id"
#define Q_ROWS(p) \
  "SELECT " Q_COLS " FROM consultation_quality WHERE appointment_id = " p ".appointment_id"

const char sched__quality_migration_sql[] =
    /* A patient's own choice of audio only, applied when they join a later call. */
    "ALTER TABLE patients ADD COLUMN prefers_audio_only INTEGER NOT NULL DEFAULT 0"
    " CHECK (prefers_audio_only IN (0, 1));"
    /* One row per consultation and participant role: the call's totals so far, rewritten
     * (upserted) by the signaling service every minute and at the end. */
    "CREATE TABLE consultation_quality ("
    "  appointment_id INTEGER NOT NULL REFERENCES appointments(id),"
    "  role TEXT NOT NULL CHECK (role IN ('patient', 'doctor', 'interpreter', 'specialist',"
    "    'family')),"
    "  samples INTEGER NOT NULL CHECK (samples >= 0),"
    "  avg_score REAL NOT NULL,"
    "  avg_loss REAL NOT NULL,"
    "  avg_rtt_ms REAL NOT NULL,"
    "  avg_video_kbps REAL NOT NULL,"
    "  audio_only_weak_s INTEGER NOT NULL DEFAULT 0,"
    "  audio_only_chosen_s INTEGER NOT NULL DEFAULT 0,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (appointment_id, role)"
    ") STRICT;"
    "ALTER TABLE stats_daily ADD COLUMN quality_consultations INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE stats_daily ADD COLUMN audio_fallbacks INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE stats_daily ADD COLUMN score_milli_sum INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE stats_daily ADD COLUMN loss_ppm_sum INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE stats_daily ADD COLUMN rtt_ms_sum INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE stats_daily ADD COLUMN video_kbps_sum INTEGER NOT NULL DEFAULT 0;"
    /* The appointment side: its quality counts while it is fulfilled, on its day and group. */
    "CREATE TRIGGER stats_quality_appointment_insert AFTER INSERT ON appointments"
    " WHEN NEW.status = 'fulfilled' BEGIN "
    Q_UPSERT("1", Q_APPT("NEW"), Q_APPT_ROWS("NEW"), "")
    " END;"
    "CREATE TRIGGER stats_quality_appointment_update AFTER UPDATE ON appointments WHEN"
    " (OLD.status IS NOT NEW.status OR OLD.starts_at IS NOT NEW.starts_at OR"
    " OLD.facility_id IS NOT NEW.facility_id OR OLD.service_id IS NOT NEW.service_id) AND"
    " (OLD.status = 'fulfilled' OR NEW.status = 'fulfilled') BEGIN "
    Q_UPSERT("-1", Q_APPT("OLD"), Q_APPT_ROWS("OLD"), "")
    Q_UPSERT("1", Q_APPT("NEW"), Q_APPT_ROWS("NEW"), "")
    " END;"
    "CREATE TRIGGER stats_quality_appointment_delete AFTER DELETE ON appointments"
    " WHEN OLD.status = 'fulfilled' BEGIN "
    Q_UPSERT("-1", Q_APPT("OLD"), Q_APPT_ROWS("OLD"), "")
    " END;"
    /* The record side. AFTER triggers only (an upsert fires BEFORE INSERT even when it ends as
     * an update): the old set of records is rebuilt as "the table now, without NEW, with OLD". */
    "CREATE TRIGGER consultation_quality_key BEFORE UPDATE ON consultation_quality WHEN"
    " OLD.appointment_id IS NOT NEW.appointment_id OR OLD.role IS NOT NEW.role BEGIN"
    " SELECT RAISE(ABORT, 'consultation_quality: the key of a record never changes'); END;"
    "CREATE TRIGGER stats_quality_insert AFTER INSERT ON consultation_quality BEGIN "
    Q_UPSERT("-1", "appointments a", Q_ROWS("NEW") " AND role <> NEW.role", Q_OF("NEW"))
    Q_UPSERT("1", "appointments a", Q_ROWS("NEW"), Q_OF("NEW"))
    " END;"
    "CREATE TRIGGER stats_quality_update AFTER UPDATE ON consultation_quality WHEN"
    " OLD.samples IS NOT NEW.samples OR OLD.avg_score IS NOT NEW.avg_score OR"
    " OLD.avg_loss IS NOT NEW.avg_loss OR OLD.avg_rtt_ms IS NOT NEW.avg_rtt_ms OR"
    " OLD.avg_video_kbps IS NOT NEW.avg_video_kbps OR"
    " OLD.audio_only_weak_s IS NOT NEW.audio_only_weak_s BEGIN "
    Q_UPSERT("-1", "appointments a", Q_ROWS("OLD") " AND role <> OLD.role UNION ALL " Q_OLD_ROW,
             Q_OF("OLD"))
    Q_UPSERT("1", "appointments a", Q_ROWS("NEW"), Q_OF("NEW"))
    " END;"
    "CREATE TRIGGER stats_quality_delete AFTER DELETE ON consultation_quality BEGIN "
    Q_UPSERT("-1", "appointments a", Q_ROWS("OLD") " UNION ALL " Q_OLD_ROW, Q_OF("OLD"))
    Q_UPSERT("1", "appointments a", Q_ROWS("OLD"), Q_OF("OLD"))
    " END;";
// clang-format on

/* --- Migration 9: the schema-8 figures summarised --------------------------------------------- */

/* Schema 8's figures (doctors active, ratings, the quality medians) were read from the range's
 * appointments on every query: seconds over a year. Migration 9 summarises them as well:
 * - stats_fulfilled: one row per fulfilled appointment with its summary key, its doctor, the
 *   patient's stars (NULL: no rating) and its consultation's folded quality values (NULL: no
 *   samples; the same integers as migration 4's sums; audio_fallback 0/1). The read by
 *   patient fields (visits_sql) takes the fold and the rating from it too. It is the "old
 * contribution" that every change subtracts, so no trigger has to rebuild the state before a write
 * (a REPLACE of a rating fires no delete trigger, for one). Kept by the appointment triggers below
 * (the key needs sched_local_day) and by the rating and quality triggers (an UPDATE of the row).
 * - its own triggers fold it into stats_daily (ratings, stars_sum, and the loss, RTT and video
 *   histograms: sched-stats-backend.h) and into stats_doctor_days (fulfilled consultations per
 *   local day, facility, service and doctor: the distinct doctors of any range and group).
 * The rating side is plain SQL (a rating written by the sqlite3 shell still counts); the
 * triggers that build histograms call C functions and fire on quality or appointment writes
 * only, which need them anyway. Cost: ~40 bytes per fulfilled appointment. */
// clang-format off
#define F_ROW(p)                                                                                   \
  "SELECT " p ".id, " STATS_KEY ", " p ".doctor_id,"                                              \
  " (SELECT stars FROM consultation_ratings WHERE appointment_id = " p ".id), q.loss, q.rtt,"     \
  " q.kbps, q.score, q.weak > 0 FROM (SELECT " p ".id AS id, " p ".starts_at AS starts_at, " p                          \
  ".facility_id AS facility_id, " p ".service_id AS service_id) a, " Q_FOLD(Q_APPT_ROWS(p))
#define F_INSERT_INTO                                                                              \
  "INSERT INTO stats_fulfilled (appointment_id, day, facility_id, service_id, doctor_id, stars,"  \
  " loss_ppm, rtt_ms, video_kbps, score_milli, audio_fallback) "
/* Adds (COLS) = (VALUES) of the stats_fulfilled row `p` to its stats_daily row by SET. */
#define F_DAILY(p, COLS, VALUES, SET)                                                              \
  "INSERT INTO stats_daily (day, facility_id, service_id, " COLS ") VALUES (" p ".day, " p         \
  ".facility_id, " p ".service_id, " VALUES ") ON CONFLICT (day, facility_id, service_id)"         \
  " DO UPDATE SET " SET ";"
#define F_RATINGS(p, SIGN)                                                                         \
  F_DAILY(p, "ratings, stars_sum",                                                                 \
          SIGN " * (" p ".stars IS NOT NULL), " SIGN " * coalesce(" p ".stars, 0)",                \
          "ratings = ratings + excluded.ratings, stars_sum = stars_sum + excluded.stars_sum")
#define F_QUALITY(p, SIGN)                                                                         \
  F_DAILY(p, "loss_hist, rtt_hist, kbps_hist",                                                     \
          "sched_vhist_one(" SCHED__STATS_LOSS_BUCKET(p ".loss_ppm") ", " SIGN "),"                \
          " sched_vhist_one(" SCHED__STATS_RTT_BUCKET(p ".rtt_ms") ", " SIGN "),"                  \
          " sched_vhist_one(" SCHED__STATS_KBPS_BUCKET(p ".video_kbps") ", " SIGN ")",             \
          "loss_hist = sched_vhist_merge(loss_hist, excluded.loss_hist),"                          \
          " rtt_hist = sched_vhist_merge(rtt_hist, excluded.rtt_hist),"                            \
          " kbps_hist = sched_vhist_merge(kbps_hist, excluded.kbps_hist)")
#define F_DOCTOR(p, SIGN)                                                                          \
  "INSERT INTO stats_doctor_days (day, facility_id, service_id, doctor_id, fulfilled) VALUES ("    \
  p ".day, " p ".facility_id, " p ".service_id, " p ".doctor_id, " SIGN ")"                        \
  " ON CONFLICT (day, facility_id, service_id, doctor_id) DO UPDATE SET"                           \
  " fulfilled = fulfilled + excluded.fulfilled;"
/* The quality values of appointment `id` folded again from its records as they are now. */
#define F_REFOLD(id)                                                                               \
  "UPDATE stats_fulfilled SET (loss_ppm, rtt_ms, video_kbps, score_milli, audio_fallback) ="       \
  " (SELECT q.loss, q.rtt, q.kbps, q.score, q.weak > 0"                                           \
  " FROM " Q_FOLD("SELECT " Q_COLS " FROM consultation_quality WHERE appointment_id = " id)        \
  ") WHERE appointment_id = " id ";"

const char sched__stats_visits_migration_sql[] =
    "ALTER TABLE stats_daily ADD COLUMN ratings INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE stats_daily ADD COLUMN stars_sum INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE stats_daily ADD COLUMN loss_hist BLOB;"
    "ALTER TABLE stats_daily ADD COLUMN rtt_hist BLOB;"
    "ALTER TABLE stats_daily ADD COLUMN kbps_hist BLOB;"
    "CREATE TABLE stats_fulfilled ("
    "  appointment_id INTEGER PRIMARY KEY,"
    "  day INTEGER NOT NULL,"
    "  facility_id INTEGER NOT NULL,"
    "  service_id INTEGER NOT NULL,"
    "  doctor_id INTEGER NOT NULL,"
    "  stars INTEGER,"
    "  loss_ppm INTEGER,"
    "  rtt_ms INTEGER,"
    "  video_kbps INTEGER,"
    "  score_milli INTEGER,"
    "  audio_fallback INTEGER"
    ") STRICT;"
    "CREATE TABLE stats_doctor_days ("
    "  day INTEGER NOT NULL,"
    "  facility_id INTEGER NOT NULL,"
    "  service_id INTEGER NOT NULL,"
    "  doctor_id INTEGER NOT NULL,"
    "  fulfilled INTEGER NOT NULL,"
    "  PRIMARY KEY (day, facility_id, service_id, doctor_id)"
    ") STRICT, WITHOUT ROWID;"
    /* The back-fill, before the triggers. */
    F_INSERT_INTO
    " SELECT a.id, " STATS_KEY ", a.doctor_id, r.stars, q.loss, q.rtt, q.kbps, q.score,"
    " q.weak > 0"
    " FROM appointments a LEFT JOIN consultation_ratings r ON r.appointment_id = a.id"
    " LEFT JOIN (SELECT appointment_id,"
    "  sum(samples * CAST(round(avg_loss * 1000000) AS INTEGER)) / sum(samples) AS loss,"
    "  sum(samples * CAST(round(avg_rtt_ms) AS INTEGER)) / sum(samples) AS rtt,"
    "  sum(samples * CAST(round(avg_video_kbps) AS INTEGER)) / sum(samples) AS kbps,"
    "  sum(samples * CAST(round(avg_score * 1000) AS INTEGER)) / sum(samples) AS score,"
    "  max(audio_only_weak_s) AS weak"
    "  FROM consultation_quality WHERE samples > 0 GROUP BY appointment_id) q"
    " ON q.appointment_id = a.id"
    " WHERE a.status = 'fulfilled';"
    "INSERT INTO stats_doctor_days (day, facility_id, service_id, doctor_id, fulfilled)"
    " SELECT day, facility_id, service_id, doctor_id, count(*) FROM stats_fulfilled"
    " GROUP BY 1, 2, 3, 4;"
    /* Every key of stats_fulfilled has its stats_daily row (a consultation counts there). */
    "UPDATE stats_daily SET ratings = f.ratings, stars_sum = f.stars_sum, loss_hist = f.loss,"
    " rtt_hist = f.rtt, kbps_hist = f.kbps"
    " FROM (SELECT day, facility_id, service_id, count(stars) AS ratings,"
    "  coalesce(sum(stars), 0) AS stars_sum,"
    "  sched_vhist(" SCHED__STATS_LOSS_BUCKET("loss_ppm") ") AS loss,"
    "  sched_vhist(" SCHED__STATS_RTT_BUCKET("rtt_ms") ") AS rtt,"
    "  sched_vhist(" SCHED__STATS_KBPS_BUCKET("video_kbps") ") AS kbps"
    "  FROM stats_fulfilled GROUP BY 1, 2, 3) f"
    " WHERE f.day = stats_daily.day AND f.facility_id = stats_daily.facility_id"
    " AND f.service_id = stats_daily.service_id;"
    /* stats_fulfilled into the summaries. */
    "CREATE TRIGGER stats_fulfilled_insert AFTER INSERT ON stats_fulfilled BEGIN "
    F_RATINGS("NEW", "1") F_QUALITY("NEW", "1") F_DOCTOR("NEW", "1")
    " END;"
    "CREATE TRIGGER stats_fulfilled_delete AFTER DELETE ON stats_fulfilled BEGIN "
    F_RATINGS("OLD", "-1") F_QUALITY("OLD", "-1") F_DOCTOR("OLD", "-1")
    " DELETE FROM stats_doctor_days WHERE day = OLD.day AND facility_id = OLD.facility_id"
    " AND service_id = OLD.service_id AND doctor_id = OLD.doctor_id AND fulfilled = 0;"
    " END;"
    /* Only these columns change in place (a new key is a delete and an insert). UPDATE OF:
     * a rating's update codes the first trigger only, which needs no C function. */
    "CREATE TRIGGER stats_fulfilled_stars AFTER UPDATE OF stars ON stats_fulfilled"
    " WHEN OLD.stars IS NOT NEW.stars BEGIN "
    F_RATINGS("OLD", "-1") F_RATINGS("NEW", "1")
    " END;"
    "CREATE TRIGGER stats_fulfilled_quality AFTER UPDATE OF loss_ppm, rtt_ms, video_kbps"
    " ON stats_fulfilled WHEN OLD.loss_ppm IS NOT NEW.loss_ppm OR OLD.rtt_ms IS NOT NEW.rtt_ms"
    " OR OLD.video_kbps IS NOT NEW.video_kbps BEGIN "
    F_QUALITY("OLD", "-1") F_QUALITY("NEW", "1")
    " END;"
    /* Appointments: a fulfilled one has its row, on its current key and doctor. */
    "CREATE TRIGGER stats_fulfilled_appointment_insert AFTER INSERT ON appointments"
    " WHEN NEW.status = 'fulfilled' BEGIN "
    F_INSERT_INTO F_ROW("NEW") ";"
    " END;"
    "CREATE TRIGGER stats_fulfilled_appointment_update AFTER UPDATE ON appointments WHEN"
    " (OLD.status IS NOT NEW.status OR OLD.starts_at IS NOT NEW.starts_at OR"
    " OLD.facility_id IS NOT NEW.facility_id OR OLD.service_id IS NOT NEW.service_id OR"
    " OLD.doctor_id IS NOT NEW.doctor_id OR OLD.id IS NOT NEW.id) AND"
    " (OLD.status = 'fulfilled' OR NEW.status = 'fulfilled') BEGIN"
    " DELETE FROM stats_fulfilled WHERE appointment_id = OLD.id; "
    F_INSERT_INTO F_ROW("NEW") " WHERE NEW.status = 'fulfilled';"
    " END;"
    "CREATE TRIGGER stats_fulfilled_appointment_delete AFTER DELETE ON appointments"
    " WHEN OLD.status = 'fulfilled' BEGIN"
    " DELETE FROM stats_fulfilled WHERE appointment_id = OLD.id;"
    " END;"
    /* Ratings: plain SQL. */
    "CREATE TRIGGER stats_rating_insert AFTER INSERT ON consultation_ratings BEGIN"
    " UPDATE stats_fulfilled SET stars = NEW.stars WHERE appointment_id = NEW.appointment_id;"
    " END;"
    "CREATE TRIGGER stats_rating_update AFTER UPDATE ON consultation_ratings WHEN"
    " OLD.stars IS NOT NEW.stars OR OLD.appointment_id IS NOT NEW.appointment_id BEGIN"
    " UPDATE stats_fulfilled SET stars = NULL WHERE appointment_id = OLD.appointment_id;"
    " UPDATE stats_fulfilled SET stars = NEW.stars WHERE appointment_id = NEW.appointment_id;"
    " END;"
    "CREATE TRIGGER stats_rating_delete AFTER DELETE ON consultation_ratings BEGIN"
    " UPDATE stats_fulfilled SET stars = NULL WHERE appointment_id = OLD.appointment_id;"
    " END;"
    /* Quality records. */
    "CREATE TRIGGER stats_fulfilled_quality_insert AFTER INSERT ON consultation_quality BEGIN "
    F_REFOLD("NEW.appointment_id")
    " END;"
    "CREATE TRIGGER stats_fulfilled_quality_update AFTER UPDATE ON consultation_quality BEGIN "
    F_REFOLD("NEW.appointment_id")
    " END;"
    "CREATE TRIGGER stats_fulfilled_quality_delete AFTER DELETE ON consultation_quality BEGIN "
    F_REFOLD("OLD.appointment_id")
    " END;";
// clang-format on

/* --- Migration 10: the groupings by patient fields summarised --------------------------------- */

/* The groupings by sex and by age band read the year's appointments (2.1 s each over a million,
 * on the caller's thread: the main loop). Migration 10 summarises them too:
 * - stats_visits: one row per counted appointment (the rule of STATS_COUNTS) with its summary
 *   key, its patient's sex and age band as the statistics name them (scheduler.h), its doctor
 *   and the figures the visits read gave (visits_sql): flags, wait and duration minutes, the
 *   quality fold and the stars (from stats_fulfilled). Like stats_fulfilled it is the "old
 *   contribution" every change subtracts. It is rebuilt (V_REFRESH: delete, insert) after every
 *   write to something it is computed from: the appointment, its consultation, its
 *   stats_fulfilled row's quality and its patient (sex, birth year). Whatever order SQLite runs
 *   those triggers in, the last refresh reads the final state. A rating is copied in place in
 *   plain SQL (stats_visits_stars), so that the rating path still calls no C function.
 * - its triggers fold it into stats_patient_daily, one row per (grouped_by, local day, facility,
 *   service, sex or age band): `grouped_by` is SCHED_STATS_BY_SEX (age_band '') or
 *   SCHED_STATS_BY_AGE_BAND (sex ''), the same columns as stats_daily plus doctor_hist, a value
 *   histogram of doctor ids (fulfilled consultations per doctor: its entries are the distinct
 *   doctors). A row that counts nothing any more is deleted.
 * Age band: the year of the appointment's local date minus the birth year (only the year is
 * recorded), so a patient moves to the next band on 1 January of the year they reach its age,
 * not on their birthday; the band is fixed per appointment by its date, and a change of the
 * birth year (or sex) refreshes every appointment of that patient. A grouping by both sex and
 * age band is not summarised (it still reads the appointments). Cost (docs/performance.md, a
 * year of 1,000,000): 56 bytes per counted appointment, ~4 summary rows per (day, facility,
 * service) and grouping, 92 MB in all; about four upserts per write that changes a visit. */
// clang-format off
#define V_SEX                                                                                      \
  "CASE WHEN p.sex IS NULL THEN 'unknown' WHEN p.sex IN ('female', 'male') THEN p.sex"             \
  " ELSE 'other' END"
/* The visits of the appointments `a` matching WHERE (which must test STATS_COUNTS), as rows of
 * stats_visits; the age band as sched_stats_age_band() of the local date's year. */
#define V_SELECT(WHERE)                                                                            \
  "SELECT id, day, facility_id, service_id, sex,"                                                  \
  " CASE WHEN birth IS NULL OR birth <= 0 OR age IS NULL OR age < 0 THEN 'unknown' WHEN age < 18 THEN '0-17'"     \
  " WHEN age < 40 THEN '18-39' WHEN age < 60 THEN '40-59' ELSE '60+' END,"                         \
  " doctor_id, fulfilled, completed, noshow, cancelled, wait_min, duration_min, quality,"          \
  " audio_fallback, score_milli, loss_ppm, rtt_ms, video_kbps, stars"                              \
  " FROM (SELECT v.*, CAST(strftime('%Y', v.day * 86400, 'unixepoch') AS INTEGER) - v.birth AS age"\
  " FROM (SELECT a.id AS id, sched_local_day(a.starts_at, (SELECT timezone FROM facilities"        \
  " WHERE id = a.facility_id)) AS day, coalesce(a.facility_id, 0) AS facility_id,"                 \
  " coalesce(a.service_id, 0) AS service_id, " V_SEX " AS sex, p.birth_year AS birth,"              \
  " a.doctor_id AS doctor_id, a.status = 'fulfilled' AS fulfilled, " STATS_COMPLETED               \
  " AS completed, a.status = 'noshow' AS noshow, " STATS_CANCELLED " AS cancelled, "               \
  STATS_WAIT " AS wait_min, " STATS_DURATION " AS duration_min,"                                   \
  " sf.loss_ppm IS NOT NULL AS quality, coalesce(sf.audio_fallback, 0) > 0 AS audio_fallback,"     \
  " sf.score_milli AS score_milli, sf.loss_ppm AS loss_ppm, sf.rtt_ms AS rtt_ms,"                  \
  " sf.video_kbps AS video_kbps, CASE WHEN sf.stars > 0 THEN sf.stars END AS stars"                \
  " FROM appointments a LEFT JOIN consultations c ON c.appointment_id = a.id"                      \
  " LEFT JOIN patients p ON p.id = a.patient_id"                                                   \
  " LEFT JOIN stats_fulfilled sf ON sf.appointment_id = a.id AND a.status = 'fulfilled'"           \
  " WHERE " WHERE " AND " STATS_COUNTS("a") ") v)"
#define V_INSERT_INTO                                                                              \
  "INSERT INTO stats_visits (appointment_id, day, facility_id, service_id, sex, age_band,"         \
  " doctor_id, fulfilled, completed, noshow, cancelled, wait_min, duration_min, quality,"          \
  " audio_fallback, score_milli, loss_ppm, rtt_ms, video_kbps, stars) "
/* The visit of appointment ID rebuilt from the tables as they are now. */
#define V_REFRESH(ID)                                                                              \
  "DELETE FROM stats_visits WHERE appointment_id = " ID ";"                                        \
  V_INSERT_INTO V_SELECT("a.id = " ID) ";"
#define V_COLS                                                                                     \
  "consultations, completed, noshows, cancellations, wait_hist, duration_hist,"                   \
  " quality_consultations, audio_fallbacks, score_milli_sum, loss_ppm_sum, rtt_ms_sum,"            \
  " video_kbps_sum, ratings, stars_sum, loss_hist, rtt_hist, kbps_hist, doctor_hist"
/* SIGN x the contribution of the stats_visits row `p` to its row of grouping GROUPED_BY. */
#define V_FOLD(p, SIGN, GROUPED_BY, SEX, BAND)                                                       \
  "INSERT INTO stats_patient_daily (grouped_by, day, facility_id, service_id, sex, age_band, "       \
  V_COLS ") VALUES (" GROUPED_BY ", " p ".day, " p ".facility_id, " p ".service_id, " SEX ", " BAND  \
  ", " SIGN " * " p ".fulfilled, " SIGN " * " p ".completed, " SIGN " * " p ".noshow, " SIGN       \
  " * " p ".cancelled, sched_hist_one(" p ".wait_min, " SIGN "), sched_hist_one(" p                \
  ".duration_min, " SIGN "), " SIGN " * " p ".quality, " SIGN " * (" p ".quality AND " p           \
  ".audio_fallback), " SIGN " * " p ".quality * coalesce(" p ".score_milli, 0), " SIGN " * " p     \
  ".quality * coalesce(" p ".loss_ppm, 0), " SIGN " * " p ".quality * coalesce(" p ".rtt_ms, 0), " \
  SIGN " * " p ".quality * coalesce(" p ".video_kbps, 0), " SIGN " * (" p ".stars IS NOT NULL), "  \
  SIGN " * coalesce(" p ".stars, 0),"                                                              \
  " sched_vhist_one(CASE WHEN " p ".quality THEN " SCHED__STATS_LOSS_BUCKET(p ".loss_ppm") " END, " \
  SIGN "), sched_vhist_one(CASE WHEN " p ".quality THEN " SCHED__STATS_RTT_BUCKET(p ".rtt_ms")     \
  " END, " SIGN "), sched_vhist_one(CASE WHEN " p ".quality THEN "                                 \
  SCHED__STATS_KBPS_BUCKET(p ".video_kbps") " END, " SIGN "),"                                     \
  " sched_vhist_one(CASE WHEN " p ".fulfilled THEN " p ".doctor_id END, " SIGN "))"                \
  " ON CONFLICT (grouped_by, day, facility_id, service_id, sex, age_band) DO UPDATE SET"             \
  " consultations = consultations + excluded.consultations,"                                       \
  " completed = completed + excluded.completed, noshows = noshows + excluded.noshows,"             \
  " cancellations = cancellations + excluded.cancellations,"                                       \
  " wait_hist = sched_hist_merge(wait_hist, excluded.wait_hist),"                                  \
  " duration_hist = sched_hist_merge(duration_hist, excluded.duration_hist),"                      \
  " quality_consultations = quality_consultations + excluded.quality_consultations,"               \
  " audio_fallbacks = audio_fallbacks + excluded.audio_fallbacks,"                                 \
  " score_milli_sum = score_milli_sum + excluded.score_milli_sum,"                                 \
  " loss_ppm_sum = loss_ppm_sum + excluded.loss_ppm_sum,"                                          \
  " rtt_ms_sum = rtt_ms_sum + excluded.rtt_ms_sum,"                                                \
  " video_kbps_sum = video_kbps_sum + excluded.video_kbps_sum,"                                    \
  " ratings = ratings + excluded.ratings, stars_sum = stars_sum + excluded.stars_sum,"             \
  " loss_hist = sched_vhist_merge(loss_hist, excluded.loss_hist),"                                 \
  " rtt_hist = sched_vhist_merge(rtt_hist, excluded.rtt_hist),"                                    \
  " kbps_hist = sched_vhist_merge(kbps_hist, excluded.kbps_hist),"                                 \
  " doctor_hist = sched_vhist_merge(doctor_hist, excluded.doctor_hist);"
#define V_BY_SEX "32"  /* SCHED_STATS_BY_SEX */
#define V_BY_BAND "64" /* SCHED_STATS_BY_AGE_BAND */
#define V_FOLD_BOTH(p, SIGN)                                                                       \
  V_FOLD(p, SIGN, V_BY_SEX, p ".sex", "''") V_FOLD(p, SIGN, V_BY_BAND, "''", p ".age_band")
/* The same per grouping over all of stats_visits (the back-fill). */
#define V_BACKFILL(GROUPED_BY, SEX, BAND)                                                            \
  "INSERT INTO stats_patient_daily (grouped_by, day, facility_id, service_id, sex, age_band, "       \
  V_COLS ") SELECT " GROUPED_BY ", day, facility_id, service_id, " SEX ", " BAND ", sum(fulfilled),"\
  " sum(completed), sum(noshow), sum(cancelled), sched_hist(wait_min), sched_hist(duration_min),"  \
  " sum(quality), sum(quality AND audio_fallback), sum(quality * coalesce(score_milli, 0)),"       \
  " sum(quality * coalesce(loss_ppm, 0)), sum(quality * coalesce(rtt_ms, 0)),"                     \
  " sum(quality * coalesce(video_kbps, 0)), count(stars), coalesce(sum(stars), 0),"                \
  " sched_vhist(CASE WHEN quality THEN " SCHED__STATS_LOSS_BUCKET("loss_ppm") " END),"             \
  " sched_vhist(CASE WHEN quality THEN " SCHED__STATS_RTT_BUCKET("rtt_ms") " END),"                \
  " sched_vhist(CASE WHEN quality THEN " SCHED__STATS_KBPS_BUCKET("video_kbps") " END),"           \
  " sched_vhist(CASE WHEN fulfilled THEN doctor_id END)"                                           \
  " FROM stats_visits GROUP BY 2, 3, 4, 5, 6;"

const char sched__stats_patients_migration_sql[] =
    "CREATE TABLE stats_visits ("
    "  appointment_id INTEGER PRIMARY KEY,"
    "  day INTEGER NOT NULL,"
    "  facility_id INTEGER NOT NULL,"
    "  service_id INTEGER NOT NULL,"
    "  sex TEXT NOT NULL,"
    "  age_band TEXT NOT NULL,"
    "  doctor_id INTEGER NOT NULL,"
    "  fulfilled INTEGER NOT NULL,"
    "  completed INTEGER NOT NULL,"
    "  noshow INTEGER NOT NULL,"
    "  cancelled INTEGER NOT NULL,"
    "  wait_min INTEGER,"
    "  duration_min INTEGER,"
    "  quality INTEGER NOT NULL,"
    "  audio_fallback INTEGER NOT NULL,"
    "  score_milli INTEGER,"
    "  loss_ppm INTEGER,"
    "  rtt_ms INTEGER,"
    "  video_kbps INTEGER,"
    "  stars INTEGER"
    ") STRICT;"
    "CREATE TABLE stats_patient_daily ("
    "  grouped_by INTEGER NOT NULL,"
    "  day INTEGER NOT NULL,"
    "  facility_id INTEGER NOT NULL,"
    "  service_id INTEGER NOT NULL,"
    "  sex TEXT NOT NULL,"
    "  age_band TEXT NOT NULL,"
    "  consultations INTEGER NOT NULL DEFAULT 0,"
    "  completed INTEGER NOT NULL DEFAULT 0,"
    "  noshows INTEGER NOT NULL DEFAULT 0,"
    "  cancellations INTEGER NOT NULL DEFAULT 0,"
    "  wait_hist BLOB,"
    "  duration_hist BLOB,"
    "  quality_consultations INTEGER NOT NULL DEFAULT 0,"
    "  audio_fallbacks INTEGER NOT NULL DEFAULT 0,"
    "  score_milli_sum INTEGER NOT NULL DEFAULT 0,"
    "  loss_ppm_sum INTEGER NOT NULL DEFAULT 0,"
    "  rtt_ms_sum INTEGER NOT NULL DEFAULT 0,"
    "  video_kbps_sum INTEGER NOT NULL DEFAULT 0,"
    "  ratings INTEGER NOT NULL DEFAULT 0,"
    "  stars_sum INTEGER NOT NULL DEFAULT 0,"
    "  loss_hist BLOB,"
    "  rtt_hist BLOB,"
    "  kbps_hist BLOB,"
    "  doctor_hist BLOB,"
    "  PRIMARY KEY (grouped_by, day, facility_id, service_id, sex, age_band)"
    ") STRICT, WITHOUT ROWID;"
    /* The back-fill, before the triggers. */
    V_INSERT_INTO V_SELECT("1") ";"
    V_BACKFILL(V_BY_SEX, "sex", "''")
    V_BACKFILL(V_BY_BAND, "''", "age_band")
    /* stats_visits into the summary. */
    "CREATE TRIGGER stats_visits_insert AFTER INSERT ON stats_visits BEGIN "
    V_FOLD_BOTH("NEW", "1")
    " END;"
    "CREATE TRIGGER stats_visits_delete AFTER DELETE ON stats_visits BEGIN "
    V_FOLD_BOTH("OLD", "-1")
    " DELETE FROM stats_patient_daily WHERE day = OLD.day AND facility_id = OLD.facility_id"
    " AND service_id = OLD.service_id AND ((grouped_by = " V_BY_SEX " AND sex = OLD.sex) OR"
    " (grouped_by = " V_BY_BAND " AND age_band = OLD.age_band)) AND consultations = 0"
    " AND noshows = 0 AND cancellations = 0;"
    " END;"
    /* A rating is the one change made in place, in plain SQL (a rating written by the sqlite3
     * shell still counts, as in migration 9: no trigger on its path calls a C function). */
    "CREATE TRIGGER stats_visits_update BEFORE UPDATE OF appointment_id, day, facility_id,"
    " service_id, sex, age_band, doctor_id, fulfilled, completed, noshow, cancelled, wait_min,"
    " duration_min, quality, audio_fallback, score_milli, loss_ppm, rtt_ms, video_kbps"
    " ON stats_visits BEGIN"
    " SELECT RAISE(ABORT, 'stats_visits: rows are deleted and inserted, never updated'); END;"
    "CREATE TRIGGER stats_visits_stars AFTER UPDATE OF stars ON stats_visits"
    " WHEN OLD.stars IS NOT NEW.stars BEGIN"
    " UPDATE stats_patient_daily SET"
    "  ratings = ratings + (NEW.stars IS NOT NULL) - (OLD.stars IS NOT NULL),"
    "  stars_sum = stars_sum + coalesce(NEW.stars, 0) - coalesce(OLD.stars, 0)"
    " WHERE day = NEW.day AND facility_id = NEW.facility_id AND service_id = NEW.service_id"
    " AND ((grouped_by = " V_BY_SEX " AND sex = NEW.sex AND age_band = '') OR"
    " (grouped_by = " V_BY_BAND " AND sex = '' AND age_band = NEW.age_band));"
    " END;"
    /* What a visit is computed from. */
    "CREATE TRIGGER stats_visits_appointment_insert AFTER INSERT ON appointments WHEN "
    STATS_COUNTS("NEW") " BEGIN "
    V_REFRESH("NEW.id")
    " END;"
    "CREATE TRIGGER stats_visits_appointment_update AFTER UPDATE ON appointments WHEN"
    " (OLD.status IS NOT NEW.status OR OLD.starts_at IS NOT NEW.starts_at OR"
    " OLD.cancel_reason IS NOT NEW.cancel_reason OR OLD.facility_id IS NOT NEW.facility_id OR"
    " OLD.service_id IS NOT NEW.service_id OR OLD.doctor_id IS NOT NEW.doctor_id OR"
    " OLD.patient_id IS NOT NEW.patient_id OR OLD.id IS NOT NEW.id) AND"
    " (" STATS_COUNTS("OLD") " OR " STATS_COUNTS("NEW") ") BEGIN"
    " DELETE FROM stats_visits WHERE appointment_id = OLD.id; "
    V_REFRESH("NEW.id")
    " END;"
    "CREATE TRIGGER stats_visits_appointment_delete AFTER DELETE ON appointments WHEN "
    STATS_COUNTS("OLD") " BEGIN"
    " DELETE FROM stats_visits WHERE appointment_id = OLD.id;"
    " END;"
    "CREATE TRIGGER stats_visits_consultation_insert AFTER INSERT ON consultations BEGIN "
    V_REFRESH("NEW.appointment_id")
    " END;"
    "CREATE TRIGGER stats_visits_consultation_update AFTER UPDATE ON consultations WHEN "
    STATS_CONS_CHANGED " OR OLD.appointment_id IS NOT NEW.appointment_id BEGIN "
    V_REFRESH("OLD.appointment_id") V_REFRESH("NEW.appointment_id")
    " END;"
    "CREATE TRIGGER stats_visits_consultation_delete AFTER DELETE ON consultations BEGIN "
    V_REFRESH("OLD.appointment_id")
    " END;"
    "CREATE TRIGGER stats_visits_fulfilled_insert AFTER INSERT ON stats_fulfilled BEGIN "
    V_REFRESH("NEW.appointment_id")
    " END;"
    "CREATE TRIGGER stats_visits_fulfilled_quality AFTER UPDATE OF loss_ppm, rtt_ms, video_kbps,"
    " score_milli, audio_fallback ON stats_fulfilled WHEN OLD.loss_ppm IS NOT NEW.loss_ppm OR"
    " OLD.rtt_ms IS NOT NEW.rtt_ms OR OLD.video_kbps IS NOT NEW.video_kbps OR"
    " OLD.score_milli IS NOT NEW.score_milli OR OLD.audio_fallback IS NOT NEW.audio_fallback BEGIN "
    V_REFRESH("NEW.appointment_id")
    " END;"
    "CREATE TRIGGER stats_visits_fulfilled_stars AFTER UPDATE OF stars ON stats_fulfilled"
    " WHEN OLD.stars IS NOT NEW.stars BEGIN"
    " UPDATE stats_visits SET stars = CASE WHEN NEW.stars > 0 THEN NEW.stars END"
    " WHERE appointment_id = NEW.appointment_id;"
    " END;"
    "CREATE TRIGGER stats_visits_fulfilled_delete AFTER DELETE ON stats_fulfilled BEGIN "
    V_REFRESH("OLD.appointment_id")
    " END;"
    /* A patient's sex or birth year: every appointment of theirs (appointments_by_patient). */
    "CREATE TRIGGER stats_visits_patient_update AFTER UPDATE OF id, sex, birth_year ON patients WHEN"
    " OLD.sex IS NOT NEW.sex OR OLD.birth_year IS NOT NEW.birth_year OR OLD.id IS NOT NEW.id BEGIN"
    " DELETE FROM stats_visits WHERE appointment_id IN"
    "  (SELECT id FROM appointments WHERE patient_id IN (OLD.id, NEW.id)); "
    V_INSERT_INTO V_SELECT("a.patient_id IN (OLD.id, NEW.id)") ";"
    " END;"
    "CREATE TRIGGER stats_visits_patient_delete AFTER DELETE ON patients BEGIN"
    " DELETE FROM stats_visits WHERE appointment_id IN"
    "  (SELECT id FROM appointments WHERE patient_id = OLD.id); "
    V_INSERT_INTO V_SELECT("a.patient_id = OLD.id") ";"
    " END;";
// clang-format on

/* --- SQL functions ---------------------------------------------------------------------------- */

typedef struct {
  GHashTable *zones; /* IANA name → GTimeZone */
  GTimeZone *fallback;
} ZoneCache;

static void zone_cache_free(void *p)
{
  ZoneCache *zc = p;
  g_hash_table_unref(zc->zones);
  g_time_zone_unref(zc->fallback);
  g_free(zc);
}

static GTimeZone *zone_lookup(ZoneCache *zc, const char *name)
{
  GTimeZone *tz;

  if (name == NULL)
    name = SCHED_TIMEZONE_DEFAULT;
  tz = g_hash_table_lookup(zc->zones, name);
  if (tz == NULL) {
    tz = g_time_zone_new_identifier(name);
    if (tz == NULL) /* facilities' zones are validated on insert; never reached in practice */
      tz = g_time_zone_ref(zc->fallback);
    g_hash_table_insert(zc->zones, g_strdup(name), tz);
  }
  return tz;
}

/* sched_local_day(unix_s, zone_or_null) → days since 1970-01-01 of the local date. */
static void fn_local_day(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  ZoneCache *zc = sqlite3_user_data(ctx);
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  const char *name = (const char *)sqlite3_value_text(argv[1]);
  sqlite3_result_int64(ctx,
                       sched__stats_local_day(zone_lookup(zc, name), sqlite3_value_int64(argv[0])));
}

static void result_hist(sqlite3_context *ctx, const gint64 *counts, gsize n)
{
  gsize len = 0;
  guint8 *bytes = sched__stats_hist_encode(counts, n, &len);
  if (bytes == NULL)
    sqlite3_result_null(ctx);
  else
    sqlite3_result_blob64(ctx, bytes, len, g_free);
}

static gsize clamp_minute(sqlite3_value *v)
{
  gint64 m = sqlite3_value_int64(v);
  return (gsize)CLAMP(m, 0, SCHED_STATS_MINUTES_MAX);
}

#define DENSE_N (SCHED_STATS_MINUTES_MAX + 1)

/* sched_hist_one(minute_or_null, count) → a histogram of one entry, or NULL. */
static void fn_hist_one(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_int64(argv[1]) == 0) {
    sqlite3_result_null(ctx);
    return;
  }
  guint8 b[SCHED__STATS_HIST_ENTRY];
  guint32 minute = GUINT32_TO_LE((guint32)clamp_minute(argv[0]));
  gint32 count = GINT32_TO_LE((gint32)sqlite3_value_int64(argv[1]));
  memcpy(b, &minute, 4);
  memcpy(b + 4, &count, 4);
  sqlite3_result_blob(ctx, b, sizeof b, SQLITE_TRANSIENT);
}

/* sched_hist_merge(a, b) → the sum of two histograms (NULL if empty). */
static void fn_hist_merge(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  g_autofree gint64 *counts = g_new0(gint64, DENSE_N);
  (void)argc;
  for (int i = 0; i < 2; i++)
    if (sqlite3_value_type(argv[i]) != SQLITE_NULL &&
        !sched__stats_hist_accumulate(sqlite3_value_blob(argv[i]),
                                      (gsize)sqlite3_value_bytes(argv[i]), counts, DENSE_N)) {
      sqlite3_result_error(ctx, "malformed histogram", -1);
      return;
    }
  result_hist(ctx, counts, DENSE_N);
}

/* sched_hist(minute) aggregate → the histogram of the non-NULL minutes. */
typedef struct {
  gint64 *counts;
} HistAgg;

static void fn_hist_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  HistAgg *agg = sqlite3_aggregate_context(ctx, sizeof *agg);
  (void)argc;
  if (agg == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
    return;
  if (agg->counts == NULL)
    agg->counts = g_new0(gint64, DENSE_N);
  agg->counts[clamp_minute(argv[0])]++;
}

static void fn_hist_final(sqlite3_context *ctx)
{
  HistAgg *agg = sqlite3_aggregate_context(ctx, 0);
  if (agg == NULL || agg->counts == NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  result_hist(ctx, agg->counts, DENSE_N);
  g_free(agg->counts);
  agg->counts = NULL;
}

/* sched_vhist_one(index_or_null, count) → a value histogram of one entry, or NULL. Value
 * histograms (sched-stats-backend.h) are not clamped to SCHED_STATS_MINUTES_MAX. */
static void fn_vhist_one(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_int64(argv[1]) == 0) {
    sqlite3_result_null(ctx);
    return;
  }
  guint8 b[SCHED__STATS_HIST_ENTRY];
  guint32 index = GUINT32_TO_LE((guint32)CLAMP(sqlite3_value_int64(argv[0]), 0, G_MAXINT32));
  gint32 count = GINT32_TO_LE((gint32)sqlite3_value_int64(argv[1]));
  memcpy(b, &index, 4);
  memcpy(b + 4, &count, 4);
  sqlite3_result_blob(ctx, b, sizeof b, SQLITE_TRANSIENT);
}

static guint8 *entry_put(guint8 *p, guint32 index, gint64 count)
{
  guint32 i = GUINT32_TO_LE(index);
  gint32 c = GINT32_TO_LE((gint32)CLAMP(count, G_MININT32, G_MAXINT32));
  memcpy(p, &i, 4);
  memcpy(p + 4, &c, 4);
  return p + SCHED__STATS_HIST_ENTRY;
}

/* sched_vhist_merge(a, b) → the sum of two value histograms (NULL if empty): a merge of the
 * two sorted lists, O(entries), whatever the indexes. */
static void fn_vhist_merge(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  const guint8 *x = NULL, *y = NULL;
  gsize nx = 0, ny = 0, i = 0, j = 0;
  (void)argc;
  if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
    x = sqlite3_value_blob(argv[0]);
    nx = (gsize)sqlite3_value_bytes(argv[0]);
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    y = sqlite3_value_blob(argv[1]);
    ny = (gsize)sqlite3_value_bytes(argv[1]);
  }
  if (!sched__stats_hist_valid(x, nx) || !sched__stats_hist_valid(y, ny)) {
    sqlite3_result_error(ctx, "malformed histogram", -1);
    return;
  }
  if (nx + ny == 0) {
    sqlite3_result_null(ctx);
    return;
  }
  guint8 *out = g_malloc(nx + ny), *p = out;
  while (i < nx || j < ny) {
    guint32 xi = G_MAXUINT32, yi = G_MAXUINT32;
    gint32 xc = 0, yc = 0;
    gint64 c = 0;
    if (i < nx)
      sched__stats_hist_entry(x + i, &xi, &xc);
    if (j < ny)
      sched__stats_hist_entry(y + j, &yi, &yc);
    guint32 index = MIN(xi, yi);
    if (i < nx && xi == index) {
      c += xc;
      i += SCHED__STATS_HIST_ENTRY;
    }
    if (j < ny && yi == index) {
      c += yc;
      j += SCHED__STATS_HIST_ENTRY;
    }
    if (c != 0)
      p = entry_put(p, index, c);
  }
  if (p == out) {
    g_free(out);
    sqlite3_result_null(ctx);
  } else {
    sqlite3_result_blob64(ctx, out, (sqlite3_uint64)(p - out), g_free);
  }
}

/* sched_vhist(index) aggregate → the value histogram of the non-NULL indexes. */
typedef struct {
  GArray *indexes; /* guint32 */
} VHistAgg;

static void fn_vhist_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  VHistAgg *agg = sqlite3_aggregate_context(ctx, sizeof *agg);
  (void)argc;
  if (agg == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
    return;
  if (agg->indexes == NULL)
    agg->indexes = g_array_new(FALSE, FALSE, sizeof(guint32));
  guint32 index = (guint32)CLAMP(sqlite3_value_int64(argv[0]), 0, G_MAXINT32);
  g_array_append_val(agg->indexes, index);
}

static int cmp_u32(gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
  return (x > y) - (x < y);
}

static void fn_vhist_final(sqlite3_context *ctx)
{
  VHistAgg *agg = sqlite3_aggregate_context(ctx, 0);
  if (agg == NULL || agg->indexes == NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  GArray *v = agg->indexes;
  g_array_sort(v, cmp_u32);
  guint8 *out = g_malloc((gsize)v->len * SCHED__STATS_HIST_ENTRY), *p = out;
  for (guint i = 0; i < v->len;) {
    guint32 index = g_array_index(v, guint32, i);
    gint64 n = 0;
    for (; i < v->len && g_array_index(v, guint32, i) == index; i++)
      n++;
    p = entry_put(p, index, n);
  }
  sqlite3_result_blob64(ctx, out, (sqlite3_uint64)(p - out), g_free);
  g_array_unref(v);
  agg->indexes = NULL;
}

gboolean sched__stats_sqlite_register(void *sqlite_db, GError **error)
{
  sqlite3 *db = sqlite_db;
  /* INNOCUOUS: callable from triggers under SQLITE_DBCONFIG_TRUSTED_SCHEMA off. */
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  ZoneCache *zc = g_new0(ZoneCache, 1);

  zc->zones =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_time_zone_unref);
  zc->fallback = g_time_zone_new_identifier(SCHED_TIMEZONE_DEFAULT);
  if (zc->fallback == NULL)
    zc->fallback = g_time_zone_new_utc();
  /* On failure SQLite calls the destructor itself. */
  if (sqlite3_create_function_v2(db, "sched_local_day", 2, flags, zc, fn_local_day, NULL, NULL,
                                 zone_cache_free) != SQLITE_OK ||
      sqlite3_create_function_v2(db, "sched_hist_one", 2, flags, NULL, fn_hist_one, NULL, NULL,
                                 NULL) != SQLITE_OK ||
      sqlite3_create_function_v2(db, "sched_hist_merge", 2, flags, NULL, fn_hist_merge, NULL, NULL,
                                 NULL) != SQLITE_OK ||
      sqlite3_create_function_v2(db, "sched_hist", 1, flags, NULL, NULL, fn_hist_step,
                                 fn_hist_final, NULL) != SQLITE_OK ||
      sqlite3_create_function_v2(db, "sched_vhist_one", 2, flags, NULL, fn_vhist_one, NULL, NULL,
                                 NULL) != SQLITE_OK ||
      sqlite3_create_function_v2(db, "sched_vhist_merge", 2, flags, NULL, fn_vhist_merge, NULL,
                                 NULL, NULL) != SQLITE_OK ||
      sqlite3_create_function_v2(db, "sched_vhist", 1, flags, NULL, NULL, fn_vhist_step,
                                 fn_vhist_final, NULL) != SQLITE_OK) {
    g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "cannot register the statistics functions: %s",
                sqlite3_errmsg(db));
    return FALSE;
  }
  return TRUE;
}

/* --- Reading the summary ------------------------------------------------------------------- */

/* The range's parameters of the statistics' reads: ?1 from and ?2 to (each facility's local
 * day), ?3 and ?4 the same widened for an index (days or seconds, as the query needs). */
static gboolean bind_range(sqlite3_stmt *st, gint64 from, gint64 to, gint64 lo, gint64 hi)
{
  return sqlite3_bind_int64(st, 1, from) == SQLITE_OK &&
         sqlite3_bind_int64(st, 2, to) == SQLITE_OK && sqlite3_bind_int64(st, 3, lo) == SQLITE_OK &&
         sqlite3_bind_int64(st, 4, hi) == SQLITE_OK;
}

/* The summary columns stats_daily and stats_patient_daily share, read by summary_row_read(). */
#define SUMMARY_COLUMNS                                                                            \
  "SELECT r.day, r.facility_id, f.district, r.service_id, s.specialty, r.consultations,"           \
  " r.completed, r.noshows, r.cancellations, r.wait_hist, r.duration_hist,"                        \
  " r.quality_consultations, r.audio_fallbacks, r.score_milli_sum, r.loss_ppm_sum,"                \
  " r.rtt_ms_sum, r.video_kbps_sum, r.ratings, r.stars_sum, r.loss_hist, r.rtt_hist,"              \
  " r.kbps_hist"
#define SUMMARY_N_COLUMNS 22

static void summary_row_read(sqlite3_stmt *st, SchedStatsDaily *row)
{
  *row = (SchedStatsDaily){
      .day = sqlite3_column_int64(st, 0),
      .facility_id = sqlite3_column_int64(st, 1),
      .district = (const char *)sqlite3_column_text(st, 2),
      .service_id = sqlite3_column_int64(st, 3),
      .specialty = (const char *)sqlite3_column_text(st, 4),
      .consultations = sqlite3_column_int64(st, 5),
      .completed = sqlite3_column_int64(st, 6),
      .noshows = sqlite3_column_int64(st, 7),
      .cancellations = sqlite3_column_int64(st, 8),
      .wait_hist = sqlite3_column_blob(st, 9),
      .wait_hist_len = (gsize)sqlite3_column_bytes(st, 9),
      .duration_hist = sqlite3_column_blob(st, 10),
      .duration_hist_len = (gsize)sqlite3_column_bytes(st, 10),
      .quality_consultations = sqlite3_column_int64(st, 11),
      .audio_fallbacks = sqlite3_column_int64(st, 12),
      .score_milli_sum = sqlite3_column_int64(st, 13),
      .loss_ppm_sum = sqlite3_column_int64(st, 14),
      .rtt_ms_sum = sqlite3_column_int64(st, 15),
      .video_kbps_sum = sqlite3_column_int64(st, 16),
      .ratings = sqlite3_column_int64(st, 17),
      .stars_sum = sqlite3_column_int64(st, 18),
      .loss_hist = sqlite3_column_blob(st, 19),
      .loss_hist_len = (gsize)sqlite3_column_bytes(st, 19),
      .rtt_hist = sqlite3_column_blob(st, 20),
      .rtt_hist_len = (gsize)sqlite3_column_bytes(st, 20),
      .kbps_hist = sqlite3_column_blob(st, 21),
      .kbps_hist_len = (gsize)sqlite3_column_bytes(st, 21),
  };
}

/* Every zone is within a day of UTC, so the UTC days widened by one bound the range (the
 * primary key's range scan); the exact bounds are per facility. With grouping >= 0 the rows
 * are stats_patient_daily's of that grouping (sex or age band), with their three columns more. */
static gboolean summary_rows(SchedBackendDb *b, gint64 from, gint64 to, gint grouping,
                             SchedStatsDailyFn fn, gpointer user_data, GError **error)
{
  sqlite3 *db = sched__sqlite_handle(b);
  sqlite3_stmt *st = NULL;
  gboolean ok = FALSE;
  int rc;

  if (grouping < 0)
    rc = sqlite3_prepare_v2(
        db,
        SUMMARY_COLUMNS
        " FROM stats_daily r LEFT JOIN facilities f ON f.id = r.facility_id"
        " LEFT JOIN services s ON s.id = r.service_id"
        " WHERE r.day BETWEEN ?3 AND ?4 AND r.day >= sched_local_day(?1, f.timezone)"
        " AND r.day < sched_local_day(?2, f.timezone)",
        -1, &st, NULL);
  else
    rc = sqlite3_prepare_v2(
        db,
        SUMMARY_COLUMNS ", r.sex, r.age_band, r.doctor_hist"
                        " FROM stats_patient_daily r LEFT JOIN facilities f ON f.id = r.facility_id"
                        " LEFT JOIN services s ON s.id = r.service_id"
                        " WHERE r.grouped_by = ?5 AND r.day BETWEEN ?3 AND ?4"
                        " AND r.day >= sched_local_day(?1, f.timezone)"
                        " AND r.day < sched_local_day(?2, f.timezone)",
        -1, &st, NULL);
  if (rc != SQLITE_OK)
    goto db_error;
  if (!bind_range(st, from, to, from / 86400 - 1, to / 86400 + 1) ||
      (grouping >= 0 && sqlite3_bind_int64(st, 5, grouping) != SQLITE_OK))
    goto db_error;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    SchedStatsDaily row;
    summary_row_read(st, &row);
    if (grouping >= 0) {
      row.sex = (const char *)sqlite3_column_text(st, SUMMARY_N_COLUMNS);
      row.age_band = (const char *)sqlite3_column_text(st, SUMMARY_N_COLUMNS + 1);
      row.doctor_hist = sqlite3_column_blob(st, SUMMARY_N_COLUMNS + 2);
      row.doctor_hist_len = (gsize)sqlite3_column_bytes(st, SUMMARY_N_COLUMNS + 2);
    }
    if (!fn(&row, user_data, error))
      goto out;
  }
  if (rc != SQLITE_DONE)
    goto db_error;
  ok = TRUE;
  goto out;

db_error:
  g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "read statistics: %s", sqlite3_errmsg(db));
out:
  sqlite3_finalize(st);
  return ok;
}

static gboolean sqlite_daily_rows(SchedBackendDb *b, gint64 from, gint64 to, SchedStatsDailyFn fn,
                                  gpointer user_data, GError **error)
{
  return summary_rows(b, from, to, -1, fn, user_data, error);
}

static gboolean sqlite_patient_rows(SchedBackendDb *b, gint64 from, gint64 to, guint grouping,
                                    SchedStatsDailyFn fn, gpointer user_data, GError **error)
{
  return summary_rows(b, from, to, (gint)grouping, fn, user_data, error);
}

static gboolean sqlite_doctor_days(SchedBackendDb *b, gint64 from, gint64 to,
                                   SchedStatsDoctorDayFn fn, gpointer user_data, GError **error)
{
  sqlite3 *db = sched__sqlite_handle(b);
  sqlite3_stmt *st = NULL;
  gboolean ok = FALSE;
  int rc;

  /* Bounds as sqlite_daily_rows. Rows of 0 are deleted by the triggers; > 0 for safety. */
  rc = sqlite3_prepare_v2(
      db,
      "SELECT r.day, r.facility_id, f.district, r.service_id, s.specialty, r.doctor_id"
      " FROM stats_doctor_days r LEFT JOIN facilities f ON f.id = r.facility_id"
      " LEFT JOIN services s ON s.id = r.service_id"
      " WHERE r.day BETWEEN ?3 AND ?4 AND r.fulfilled > 0"
      " AND r.day >= sched_local_day(?1, f.timezone) AND r.day < sched_local_day(?2, f.timezone)",
      -1, &st, NULL);
  if (rc != SQLITE_OK)
    goto db_error;
  if (!bind_range(st, from, to, from / 86400 - 1, to / 86400 + 1))
    goto db_error;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    SchedStatsDoctorDay row = {
        .day = sqlite3_column_int64(st, 0),
        .facility_id = sqlite3_column_int64(st, 1),
        .district = (const char *)sqlite3_column_text(st, 2),
        .service_id = sqlite3_column_int64(st, 3),
        .specialty = (const char *)sqlite3_column_text(st, 4),
        .doctor_id = sqlite3_column_int64(st, 5),
    };
    if (!fn(&row, user_data, error))
      goto out;
  }
  if (rc != SQLITE_DONE)
    goto db_error;
  ok = TRUE;
  goto out;

db_error:
  g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "read statistics (doctors): %s",
              sqlite3_errmsg(db));
out:
  sqlite3_finalize(st);
  return ok;
}

/* --- Reading the appointments of a range (schema 8) ----------------------------------------- */

/* The same expressions as the summary's (STATS_*; the quality fold and the rating from
 * stats_fulfilled, schema 9, which holds them per fulfilled appointment), per appointment, so
 * that a group read this way has exactly the figures the summary gives. Only the groupings by
 * patient fields read it: O(appointments in the range), one row each (no GROUP BY). The range
 * is narrowed by UTC time widened by two days (the (status, starts_at) index), then by each
 * facility's local day. */
// clang-format off
static const char visits_sql[] =
    "SELECT sched_local_day(a.starts_at, f.timezone) AS day, coalesce(a.facility_id, 0),"
    " f.district, coalesce(a.service_id, 0), s.specialty, p.sex, p.birth_year, a.doctor_id,"
    " a.status = 'fulfilled', " STATS_COMPLETED ", a.status = 'noshow', " STATS_CANCELLED ","
    " " STATS_WAIT ", " STATS_DURATION ","
    " sf.loss_ppm IS NOT NULL, sf.score_milli, sf.loss_ppm, sf.rtt_ms, sf.video_kbps,"
    " sf.audio_fallback, sf.stars"
    " FROM appointments a"
    " LEFT JOIN consultations c ON c.appointment_id = a.id"
    " LEFT JOIN facilities f ON f.id = a.facility_id"
    " LEFT JOIN services s ON s.id = a.service_id"
    " LEFT JOIN patients p ON p.id = a.patient_id"
    " LEFT JOIN stats_fulfilled sf ON sf.appointment_id = a.id AND a.status = 'fulfilled'"
    " WHERE a.status IN ('fulfilled', 'noshow', 'cancelled') AND " STATS_COUNTS("a")
    " AND a.starts_at >= ?3 AND a.starts_at < ?4"
    /* Not the alias "day": in WHERE, sf.day would win. */
    " AND sched_local_day(a.starts_at, f.timezone) >= sched_local_day(?1, f.timezone)"
    " AND sched_local_day(a.starts_at, f.timezone) < sched_local_day(?2, f.timezone)";
// clang-format on

static int column_int_or(sqlite3_stmt *st, int i, int none)
{
  return sqlite3_column_type(st, i) == SQLITE_NULL ? none : (int)sqlite3_column_int64(st, i);
}

static gboolean sqlite_visits(SchedBackendDb *b, gint64 from, gint64 to, SchedStatsVisitFn fn,
                              gpointer user_data, GError **error)
{
  sqlite3 *db = sched__sqlite_handle(b);
  sqlite3_stmt *st = NULL;
  gboolean ok = FALSE;
  int rc;

  rc = sqlite3_prepare_v2(db, visits_sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    goto db_error;
  if (!bind_range(st, from, to, from - 2 * 86400, to + 2 * 86400))
    goto db_error;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    gboolean quality = sqlite3_column_int64(st, 14) != 0;
    SchedStatsVisit v = {
        .day = sqlite3_column_int64(st, 0),
        .facility_id = sqlite3_column_int64(st, 1),
        .district = (const char *)sqlite3_column_text(st, 2),
        .service_id = sqlite3_column_int64(st, 3),
        .specialty = (const char *)sqlite3_column_text(st, 4),
        .sex = (const char *)sqlite3_column_text(st, 5),
        .birth_year = column_int_or(st, 6, 0),
        .doctor_id = sqlite3_column_int64(st, 7),
        .fulfilled = sqlite3_column_int64(st, 8) != 0,
        .completed = sqlite3_column_int64(st, 9) != 0,
        .noshow = sqlite3_column_int64(st, 10) != 0,
        .cancelled = sqlite3_column_int64(st, 11) != 0,
        .wait_min = column_int_or(st, 12, -1),
        .duration_min = column_int_or(st, 13, -1),
        .quality = quality,
        .score_milli = sqlite3_column_int64(st, 15),
        .loss_ppm = sqlite3_column_int64(st, 16),
        .rtt_ms = sqlite3_column_int64(st, 17),
        .video_kbps = sqlite3_column_int64(st, 18),
        .audio_fallback = quality && sqlite3_column_int64(st, 19) > 0,
        .stars = column_int_or(st, 20, 0),
    };
    if (!fn(&v, user_data, error))
      goto out;
  }
  if (rc != SQLITE_DONE)
    goto db_error;
  ok = TRUE;
  goto out;

db_error:
  g_set_error(error, SCHED_ERROR, SCHED_ERROR_DB, "read statistics (visits): %s",
              sqlite3_errmsg(db));
out:
  sqlite3_finalize(st);
  return ok;
}

const SchedStatsBackend sched_stats_backend_sqlite = {
    .name = "sqlite",
    .visits = sqlite_visits,
    .daily_rows = sqlite_daily_rows,
    .doctor_days = sqlite_doctor_days,
    .patient_rows = sqlite_patient_rows,
};
