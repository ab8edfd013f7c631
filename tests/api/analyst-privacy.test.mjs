// The analyst's privacy, proven over the whole authorisation table (issue 5, "The three
// faces"): an analyst reads aggregates and nothing else. The daemon is seeded with personal data
// in every field a route of this branch can hold (patients' names and phones, staff names, a
// cancellation reason, the patients' rating comments), half of it planted with distinctive
// marker strings and half a synthetic history (`mashwara admin seed-history`); every one of
// those values, read back from the database itself, is a marker. Then, logged in as an analyst,
// the test walks EVERY row of the table the daemon prints (`mashwara admin authz-table`), so a
// route or message type another branch adds later is covered without editing this file:
// - HTTP: the path's "#" and "*" replaced by real ids (or, for a join token, a token the analyst
//   does not hold), a plausible query and body; a route the table refuses the analyst must
//   answer the table's status with a refusal body; aggregates answer 200 — /api/stats under
//   every valid combination of group_by, with no figure computed from fewer than five and no
//   count 1..4 but "<5"; the few session routes open to every role answer; nothing else is
//   allowed to an analyst at all. No answer contains a marker, and nothing was written.
// - WebSocket: every message type, sent on the analyst's own connection (hello first, then
//   without it): the table's refusal (close code or error code), and no marker in anything sent.
//
// Run: MASHWARA_BIN=$PWD/build-dash/daemon/mashwara node --test tests/api/analyst-privacy.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startDaemon, admin, login, client, request, nowS, sleep, BIN, HOST } from './lib.mjs';
import { wsConnect } from './wsclient.mjs';

/** `mashwara admin seed-history` (ten Argon2id password hashes: slow on a busy machine, so a
 * longer timeout than the shared admin helper's). Resolves with its JSON answer. */
function seedHistory(d, args) {
  return new Promise((resolve, reject) => {
    execFile(BIN, ['admin', 'seed-history', '--db', d.db, ...args], { timeout: 180000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`seed-history: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}


const DAY = 86400;
const M = 'Zqx'; // every planted marker starts with it
const ADMIN = { username: 'priv.admin', name: `${M} Admin Farzana`, password: 'priv-admin-pass' };
const DOCTOR = { username: 'priv.doctor', name: `${M} Dr Haroon`, password: 'priv-doctor-pass' };
const ANALYST = { username: 'priv.analyst', name: 'Privacy Analyst', password: 'priv-analyst-pass' };
const PATIENTS = [
  { name: `${M} Patient Gulnaz`, phone: '+923331234567', sex: 'female', birth_year: 1987 },
  { name: `${M} Patient Waqar`, phone: '+923447654321', sex: 'male', birth_year: 1950 },
  { name: `${M} Patient Child`, phone: '+923005550101', sex: 'other', birth_year: 2019 },
];
const REASON = `${M} cancelled: diabetic foot ulcer follow-up`;
const COMMENT = `${M} comment: the doctor was kind to my mother`;
const BOGUS_TOKEN = 'B'.repeat(43);

let d;
let table;
let api; // admin
let an; // analyst
let anCookie;
const fx = {};
let markers = [];

function authzTable() {
  return new Promise((resolve, reject) => {
    execFile(BIN, ['admin', 'authz-table'], (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout))));
  });
}

const sql = (q) => JSON.parse(execFileSync('sqlite3', ['-cmd', '.timeout 20000', '-json', '-readonly', d.db, q], { encoding: 'utf8' }) || '[]');

/** Every personal value the database holds (the analyst's own name aside), and the digits of
 * every phone, as markers. */
function personalValues() {
  const out = new Set([M]);
  for (const r of sql('SELECT display_name AS v FROM patients UNION ALL SELECT phone FROM patients'
    + ` UNION ALL SELECT display_name FROM staff WHERE username <> '${ANALYST.username}'`
    + ' UNION ALL SELECT cancel_reason FROM appointments UNION ALL SELECT comment FROM consultation_ratings')) {
    if (typeof r.v === 'string' && r.v.length >= 6) out.add(r.v);
  }
  for (const r of sql('SELECT phone AS v FROM patients WHERE phone IS NOT NULL')) out.add(r.v.replace(/\D/g, ''));
  return [...out];
}

const leaks = (text) => markers.filter((m) => text.includes(m));

/** Rows whose count is the thing a test can compare: nothing personal in the database changes. */
function writtenFingerprint() {
  return JSON.stringify(sql('SELECT (SELECT count(*) FROM patients) p, (SELECT count(*) FROM appointments) a,'
    + ' (SELECT max(updated_at) FROM appointments) au, (SELECT count(*) FROM staff) s,'
    + ' (SELECT count(*) FROM facilities) f, (SELECT count(*) FROM services) sv,'
    + ' (SELECT count(*) FROM availability) av, (SELECT count(*) FROM breaks) b,'
    + ' (SELECT count(*) FROM schedule_exceptions) e, (SELECT count(*) FROM waitlist) w,'
    + ' (SELECT count(*) FROM join_tokens) t, (SELECT count(*) FROM consultations) c,'
    + ' (SELECT count(*) FROM consultation_ratings) r'));
}

// The id a "#" stands for, by the path segment before it; an appointment's otherwise.
function idFor(segment) {
  return {
    patients: fx.patient, appointments: fx.appointment, doctors: fx.doctor, facilities: fx.facility,
    services: fx.service, availability: fx.availability, breaks: fx.break, exceptions: fx.exception,
    waitlist: fx.waitlist, staff: fx.doctor,
  }[segment] ?? fx.appointment;
}

/** The request for a row of the table: real ids in the path, a plausible query and body. */
function sampleFor(rule) {
  const segs = rule.path.split('/');
  const out = segs.map((s, i) => {
    if (s === '#') return String(idFor(segs[i - 1]));
    if (s === '*') return segs[i - 1] === 'join' ? BOGUS_TOKEN : String(idFor(segs[i - 1]?.toLowerCase() + 's'));
    return s;
  });
  let p = out.join('/');
  const from = nowS() - 40 * DAY;
  const to = nowS() + DAY;
  if (rule.method === 'GET') {
    const q = new URLSearchParams({ from: String(from), to: String(to) });
    if (/^\/api\/(appointments|queue|availability|breaks|slots)$/.test(rule.path)) q.set('doctor_id', String(fx.doctor));
    if (rule.path === '/api/patients') q.set('q', 'Zqx');
    if (!/^\/api\/(me|metrics|appointments\/today|staff|facilities|doctors|services|outbox|waitlist)$/.test(rule.path)
      && !rule.path.startsWith('/fhir/') && !rule.path.includes('#') && !rule.path.includes('*')) p += `?${q}`;
  }
  // One body for any state-changing route: plausible members of several routes at once, with
  // markers in the free texts (a refusal must not echo them either).
  const body = rule.method === 'GET' ? undefined : {
    doctor_id: fx.doctor, patient_id: fx.patient, service_id: fx.service, facility_id: fx.facility,
    starts_at: nowS() + 3 * DAY, reason: REASON, name: `${M} New Person`, phone: '+923339998877',
    role: 'interpreter', text: `${M} message text`, note: `${M} private note`,
  };
  // A join-token route gets a body valid for that route, so that what answers is the token
  // check (a token the analyst does not hold: 404), not the body's validation.
  const tokenBodies = {
    '/api/join/*/consent': { version: '2026-12-v1', language: 'en' },
    '/api/join/*/rating': { stars: 5, comment: `${M} rating comment` },
  };
  if (rule.method !== 'GET' && tokenBodies[rule.path]) return { path: p, body: tokenBodies[rule.path] };
  return { path: p, body };
}

before(async () => {
  table = await authzTable();
  d = await startDaemon();
  await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name, '--password', ADMIN.password, '--role', 'admin']);
  await admin(d, 'add-staff', ['--username', ANALYST.username, '--name', ANALYST.name, '--password', ANALYST.password, '--role', 'analyst']);
  api = client(d, await login(d, ADMIN.username, ADMIN.password));
  // A synthetic history: its patients' and doctors' names and phones are markers as well (read
  // back below); its facility names are not personal and carry no marker.
  const h = await seedHistory(d, ['--password', 'seeded-doctors-pass', '--days', '40', '--patients', '120', '--per-day', '4', '--username', 'hist']);
  assert.ok(h.consultations > 100, JSON.stringify(h));
  const f = await api.post('/api/facilities', { name: 'Privacy BHU', district: 'Peshawar', sector: 'public' });
  assert.equal(f.status, 201, f.text);
  fx.facility = f.json.facility.id;
  const doc = await api.post('/api/doctors', { ...DOCTOR, facility_id: fx.facility, specialty: 'general' });
  assert.equal(doc.status, 201, doc.text);
  fx.doctor = doc.json.doctor.id;
  const s = await api.post('/api/services', { facility_id: fx.facility, name: 'OPD', specialty: 'general', duration_min: 15 });
  assert.equal(s.status, 201, s.text);
  fx.service = s.json.service.id;
  for (let weekday = 1; weekday <= 7; weekday++) {
    const r = await api.post('/api/availability', { doctor_id: fx.doctor, service_id: fx.service, weekday, start_min: 0, end_min: 1380 });
    assert.equal(r.status, 201, r.text);
    fx.availability = r.json.availability.id;
  }
  const b = await api.post('/api/breaks', { doctor_id: fx.doctor, weekday: 3, start_min: 1390, end_min: 1400 });
  assert.equal(b.status, 201, b.text);
  fx.break = b.json.break.id;
  const e = await api.post('/api/exceptions', { doctor_id: fx.doctor, starts_at: nowS() + 200 * DAY, ends_at: nowS() + 200 * DAY + 3600, reason: `${M} leave` });
  assert.equal(e.status, 201, e.text);
  fx.exception = e.json.exception.id;
  for (const p of PATIENTS) {
    const r = await api.post('/api/patients', p);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.patient.sex, p.sex);
    assert.equal(r.json.patient.birth_year, p.birth_year);
    p.id = r.json.patient.id;
  }
  fx.patient = PATIENTS[0].id;
  const slots = await api.get(`/api/slots?from=${nowS() + 3600}&to=${nowS() + 5 * DAY}&doctor_id=${fx.doctor}&service_id=${fx.service}&limit=50`);
  assert.equal(slots.status, 200, slots.text);
  const booked = [];
  for (const [i, p] of PATIENTS.entries()) {
    const r = await api.post('/api/appointments', { doctor_id: fx.doctor, service_id: fx.service, patient_id: p.id, starts_at: slots.json.slots[i * 4].starts_at });
    assert.equal(r.status, 201, r.text);
    booked.push(r.json.appointment.id);
  }
  fx.appointment = booked[0];
  const c = await api.post(`/api/appointments/${booked[2]}/cancel`, { reason: REASON });
  assert.equal(c.status, 200, c.text);
  const w = await api.post('/api/waitlist', { patient_id: PATIENTS[1].id, service_id: fx.service });
  assert.equal(w.status, 201, w.text);
  fx.waitlist = w.json.waitlist_entry.id;
  // A join token the analyst could only get from the patient (booked now through the CLI).
  const now = await admin(d, 'book', ['--doctor', DOCTOR.username, '--patient', String(PATIENTS[1].id), '--start', 'now', '--minutes', '30', '--public-url', d.base]);
  fx.token = now.token;
  // The patients' ratings and their comments (the rating route is another branch's; the table
  // is the shared contract's).
  execFileSync('sqlite3', ['-cmd', '.timeout 20000', d.db, `INSERT INTO consultation_ratings (appointment_id, stars, comment, rated_at) SELECT id, 1 + id % 5, '${COMMENT} #' || id, 1 FROM appointments WHERE status = 'fulfilled' AND id % 2 = 0`]);
  markers = personalValues();
  assert.ok(markers.length > 250, `markers: ${markers.length}`);
  for (const planted of [ADMIN.name, DOCTOR.name, PATIENTS[0].name, PATIENTS[0].phone, REASON]) assert.ok(markers.includes(planted), planted);
  assert.ok(markers.some((m) => m.startsWith(COMMENT)), 'rating comments are markers');
  anCookie = await login(d, ANALYST.username, ANALYST.password);
  an = client(d, anCookie);
});

after(async () => {
  if (!d) return;
  const r = await d.stop();
  assert.equal(r.code, 0, `daemon exit ${JSON.stringify(r)}`);
  await d.cleanup();
});

const COUNTS = ['consultations', 'completed', 'noshows', 'cancellations', 'quality_consultations', 'audio_fallbacks', 'doctors_active', 'ratings'];
// Each figure and the count it is computed from (null unless that count is 5 or more).
const BASED = {
  wait_p50_min: 'consultations', wait_p90_min: 'consultations', duration_p50_min: 'consultations',
  avg_score: 'quality_consultations', avg_loss: 'quality_consultations', avg_rtt_ms: 'quality_consultations',
  avg_video_kbps: 'quality_consultations', median_loss: 'quality_consultations', median_rtt_ms: 'quality_consultations',
  median_video_kbps: 'quality_consultations', audio_only_share: 'quality_consultations', avg_stars: 'ratings',
};
const PLACE_FIELDS = new Set(['date', 'district', 'facility_id', 'facility', 'specialty', 'sex', 'age_band']);

/** Checks one /api/stats answer: only aggregate fields, small counts as "<5", no figure over fewer than five. */
function checkStatsBody(json, where, failures) {
  for (const row of json.stats) {
    for (const k of Object.keys(row)) {
      if (!COUNTS.includes(k) && !(k in BASED) && !PLACE_FIELDS.has(k) && k !== 'noshow_rate') failures.push(`${where}: unexpected field ${k}`);
    }
    for (const k of COUNTS) {
      const v = row[k];
      if (!(v === 0 || v === '<5' || (Number.isInteger(v) && v >= 5))) failures.push(`${where}: ${k} = ${JSON.stringify(v)}`);
    }
    for (const [k, base] of Object.entries(BASED)) {
      if (row[k] !== null && !(Number.isInteger(row[base]) && row[base] >= 5)) failures.push(`${where}: ${k} shown over ${base} = ${JSON.stringify(row[base])}`);
    }
    if (row.noshow_rate !== null && (row.noshows === '<5' || row.consultations === '<5')) failures.push(`${where}: noshow_rate of a small count`);
    if (row.audio_only_share !== null && row.audio_fallbacks === '<5') failures.push(`${where}: audio_only_share of a small count`);
  }
}

const GROUPS = ['day', 'week', 'district', 'facility', 'specialty', 'sex', 'age_band'];
/** Every valid group_by: each subset of the groups without both day and week. */
function everyGroupBy() {
  const out = [];
  for (let mask = 0; mask < 1 << GROUPS.length; mask++) {
    const g = GROUPS.filter((_, i) => mask & (1 << i));
    if (g.includes('day') && g.includes('week')) continue;
    out.push(g.join(','));
  }
  return out;
}

describe('an analyst sees aggregates only', () => {
  it('every HTTP route of the table: refused with its status, or aggregates without a personal value', async () => {
    const rules = table.rules.filter((r) => r.face === 'http');
    assert.ok(rules.length >= 60, `${rules.length} routes`);
    const before = writtenFingerprint();
    const failures = [];
    let aggregates = 0;
    for (const rule of rules) {
      const key = `${rule.method} ${rule.path}`;
      const access = rule.access.analyst;
      const { path: p, body } = sampleFor(rule);
      if (access === 'aggregate') {
        aggregates += 1;
        const paths = rule.path === '/api/stats' ? everyGroupBy().map((g) => `${p}${g ? `&group_by=${g}` : ''}`) : [p];
        for (const q of paths) {
          const r = await request(d, rule.method, q, { body, cookie: anCookie });
          if (r.status !== 200) failures.push(`${key} ${q}: ${r.status} ${r.text.slice(0, 200)}`);
          else if (rule.path === '/api/stats') checkStatsBody(r.json, q, failures);
          const found = leaks(r.text);
          if (found.length) failures.push(`${key} ${q} leaks ${found.slice(0, 3)}`);
        }
        continue;
      }
      const r = await request(d, rule.method, p, { body: rule.path === '/api/login' ? { username: ANALYST.username, password: ANALYST.password } : body, cookie: anCookie });
      const where = `${key} (${p}): ${r.status} ${r.text.slice(0, 160)}`;
      const found = leaks(r.text);
      if (found.length) failures.push(`${where} leaks ${found.slice(0, 3)}`);
      if (access === 'deny') {
        if (r.status !== rule.refusal.analyst) failures.push(`refusal ${rule.refusal.analyst} expected: ${where}`);
        const code = rule.path.startsWith('/fhir/') ? r.json?.issue?.[0]?.code : r.json?.error;
        if (!['forbidden', 'not_authenticated', 'login'].includes(code)) failures.push(`refusal body: ${where}`);
      } else if (access === 'token') {
        // By a token only, never by the analyst's session: one they do not hold finds nothing.
        if (rule.access.none !== 'token') failures.push(`${key}: token access for analysts only`);
        if (r.status !== 404) failures.push(`a token the analyst does not hold: ${where}`);
      } else if (access === 'all') {
        // Only what every role may do (public routes), and the analyst's own session.
        if (rule.access.none !== 'all' && !['GET /api/me'].includes(key)) failures.push(`${key}: open to analysts but not public`);
        if (r.status >= 300 && !(rule.path === '/api/link-resend' && r.status < 500)) failures.push(`allowed but ${where}`);
        if (rule.path === '/api/logout' || rule.path === '/api/login') {
          anCookie = await login(d, ANALYST.username, ANALYST.password);
        }
      } else {
        failures.push(`${key}: the analyst has "${access}" access; only aggregates are theirs`);
      }
    }
    assert.ok(aggregates >= 1, 'the table has an aggregate route');
    assert.deepEqual(failures, []);
    assert.equal(writtenFingerprint(), before, 'an analyst wrote nothing');
  });

  it('the statistics give every seeded group by sex and age band, with small ones as "<5"', async () => {
    const r = await an.get(`/api/stats?from=${nowS() - 45 * DAY}&to=${nowS() + DAY}&group_by=sex,age_band`);
    assert.equal(r.status, 200, r.text);
    const sexes = new Set(r.json.stats.map((x) => x.sex));
    for (const s of ['female', 'male']) assert.ok(sexes.has(s), `sex ${s}`);
    const bands = new Set(r.json.stats.map((x) => x.age_band));
    for (const b of ['0-17', '18-39', '40-59', '60+']) assert.ok(bands.has(b), `band ${b}`);
    assert.ok(r.json.stats.some((x) => COUNTS.some((k) => x[k] === '<5')), 'some group is small');
    const bad = await an.get(`/api/stats?from=${nowS() - DAY}&to=${nowS()}&group_by=sex,name`);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'group_by');
  });

  it('every WebSocket message type of the table: the table\'s refusal, nothing personal', async () => {
    const rules = table.rules.filter((r) => r.face === 'ws');
    assert.ok(rules.length >= 8);
    const ca = await readFile(path.join(d.dir, 'tls', 'cert.pem'));
    const failures = [];
    for (const rule of rules) {
      const want = rule.refusal.analyst;
      if (rule.access.analyst !== 'deny') {
        failures.push(`${rule.type}: analysts have "${rule.access.analyst}" access to a consultation message`);
        continue;
      }
      // A message of the type with real ids and a marker in its free text.
      const msg = { type: rule.type, appointment_id: fx.appointment, token: fx.token, role: 'interpreter', pc: 'pub', sdp: 'v=0\r\n', candidate: null, on: true, outcome: 'completed', text: `${M} chat` };
      for (const helloFirst of [true, false]) {
        const ws = await wsConnect({ host: HOST, port: d.port, ca, cookie: anCookie, origin: d.base });
        const where = `${rule.type}${helloFirst ? ' after hello' : ' without hello'}`;
        try {
          if (ws.status !== 101) { failures.push(`${where}: upgrade ${ws.status}`); continue; }
          if (helloFirst || rule.type === 'hello') {
            ws.send({ type: 'hello' });
            const hello = table.rules.find((x) => x.face === 'ws' && x.type === 'hello');
            const close = await Promise.race([ws.closed, sleep(3000).then(() => null)]);
            if (!close || close.code !== hello.refusal.analyst) failures.push(`${where}: hello not refused with ${hello.refusal.analyst}: ${JSON.stringify(close)}`);
          } else {
            ws.send(msg);
            if (typeof want === 'number') {
              const close = await Promise.race([ws.closed, sleep(3000).then(() => null)]);
              if (!close || close.code !== want) failures.push(`${where}: close ${JSON.stringify(close)}, want ${want}`);
            } else {
              const m = await ws.next((x) => x.type === 'error', 3000).catch(() => null);
              if (!m || m.code !== want) failures.push(`${where}: ${JSON.stringify(m)}, want ${want}`);
            }
          }
          const found = leaks(JSON.stringify(ws.messages));
          if (found.length) failures.push(`${where} leaks ${found.slice(0, 3)}`);
        } finally {
          await ws.close();
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it('the markers are real: the admin sees them where the analyst does not', async () => {
    // A control: the same database answers the planted values to the admin, so "no marker"
    // above is not an empty database or a broken matcher.
    const r = await api.get(`/api/patients/${PATIENTS[0].id}`);
    assert.equal(r.status, 200);
    assert.deepEqual(leaks(r.text).filter((m) => m === PATIENTS[0].name || m === PATIENTS[0].phone).sort(), [PATIENTS[0].name, PATIENTS[0].phone].sort());
    const appts = await api.get(`/api/appointments?doctor_id=${fx.doctor}`);
    assert.ok(leaks(appts.text).includes(REASON), 'the cancellation reason is in the admin\'s list');
  });
});
