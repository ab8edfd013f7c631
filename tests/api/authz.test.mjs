// Who may do what, walked over the whole table (issue "Trust"): the daemon prints its
// authorisation table (`mashwara admin authz-table`, the same data sig_api_handle and
// sig_consult_on_message decide from), and for every role (no session, a patient's token, doctor
// A, doctor B, admin, analyst) × every HTTP route and every signaling message type this test
// asserts the exact answer: allowed ones succeed, refused ones get the table's status, and no
// refusal (nor anything an analyst or another doctor sees) leaks a seeded name, phone or note. A
// route without a sample request here fails the test, so a new endpoint cannot be missed; and
// docs/api.md must list the table as the server has it.
// Then: CSRF (missing, wrong and right token; cross-site origin), cookie attributes, logout and
// session end, security headers on pages and API answers, no inline script or style in web/,
// the per-address connection cap (503 / close 1013), login throttling (429 + Retry-After), the
// per-address and per-token request rates, the JSON depth limit, and that the 1009 oversize
// refusal and the 4408 hello deadline still hold.
//
// Run: MASHWARA_BIN=<build>/daemon/mashwara node --test --test-concurrency=1 tests/api/authz.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile, readdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startDaemon, admin, login, client, request, nowS, sleep, BIN, REPO, HOST } from './lib.mjs';
import { csrfToken } from '../common/https.mjs';
import { wsConnect } from './wsclient.mjs';

const DAY = 24 * 3600;
const ADMIN = { username: 'authz.admin', name: 'Authz Admin', password: 'authz-admin-pass' };
const DOC_A = { username: 'dr.a', name: 'Dr Arjumand Authz', password: 'doctor-a-pass' };
const DOC_B = { username: 'dr.b', name: 'Dr Behroz Authz', password: 'doctor-b-pass' };
const ANALYST = { username: 'analyst.a', name: 'Analyst Authz', password: 'analyst-pass' };
const SPARE = { username: 'spare.staff', name: 'Spare Staff', password: 'spare-pass-1' };
// Recognisable personal data: none of it may appear in a refusal, or in anything an analyst or
// the other doctor receives.
const P = { name: 'Parveen Zarnigar-Unique', phone: '+923009876543' }; // doctor A's patient
const Q = { name: 'Qudsia Yasmeen-Unique', phone: '+923007654321' };   // doctor B's patient
const NOTE = 'NOTE-hypertension-SECRET';
const SECRETS = [P.name, P.phone, Q.name, Q.phone, NOTE, P.phone.slice(1), Q.phone.slice(1)];
const BOGUS_TOKEN = 'A'.repeat(43);

const ROLES = ['none', 'patient', 'doctorA', 'doctorB', 'admin', 'analyst'];
const TABLE_ROLE = { none: 'none', patient: 'patient', doctorA: 'doctor', doctorB: 'doctor', admin: 'admin', analyst: 'analyst' };

let d;
let table;
let api; // admin
const fx = {};
const cookies = {};

function adminTable() {
  return new Promise((resolve, reject) => {
    execFile(BIN, ['admin', 'authz-table'], (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout))));
  });
}

/** Secrets found in `text` (an empty list is the good answer). */
function leaks(text, secrets = SECRETS) {
  return secrets.filter((s) => text.includes(s));
}

let slotCursor = 0;
/** A free slot of `doctorId` not handed out before (each booking sample takes its own). */
async function freeSlot(doctorId) {
  const from = nowS() + 2 * 3600;
  const r = await api.get(`/api/slots?from=${from}&to=${from + 14 * DAY}&doctor_id=${doctorId}&service_id=${fx.serviceId}&limit=1000`);
  assert.equal(r.status, 200, r.text);
  slotCursor += 1;
  const s = r.json.slots[slotCursor * 3];
  assert.ok(s, 'enough free slots');
  return s;
}

async function book(doctorId, patientId) {
  const s = await freeSlot(doctorId);
  const r = await api.post('/api/appointments', { doctor_id: doctorId, service_id: fx.serviceId, patient_id: patientId, starts_at: s.starts_at });
  assert.equal(r.status, 201, r.text);
  return r.json.appointment.id;
}

let uniq = 0;
const u = (p) => `${p}${++uniq}`;

// One sample request per route of the table: {path, body, fresh (a new session per caller),
// token (the route's join token slot)}. Ids are doctor A's (or their patient's), so doctor B
// exercises "own".
const SAMPLES = {
  'POST /api/login': async () => ({ path: '/api/login', body: { username: SPARE.username, password: SPARE.password } }),
  'POST /api/logout': async () => ({ path: '/api/logout', fresh: true }),
  'GET /api/me': async () => ({ path: '/api/me' }),
  'GET /api/appointments/today': async () => ({ path: '/api/appointments/today' }),
  'GET /api/metrics': async () => ({ path: '/api/metrics' }),
  'GET /api/join/*': async () => ({ path: (tok) => `/api/join/${tok}`, token: true }),
  'GET /api/join/*/invite.ics': async () => ({ path: (tok) => `/api/join/${tok}/invite.ics`, token: true }),
  'POST /api/link-resend': async () => ({ path: '/api/link-resend', body: { phone: '+923001110000' } }),
  'POST /api/join/*/consent': async () => ({ path: (tok) => `/api/join/${tok}/consent`, body: { version: '2026-12-v1', language: 'en' }, token: true }),
  'GET /api/join/*/probe': async () => ({ path: (tok) => `/api/join/${tok}/probe?bytes=1000`, token: true }),
  // Not started yet: the patient's allowed answer is 409 not_started.
  'POST /api/join/*/rating': async () => ({ path: (tok) => `/api/join/${tok}/rating`, body: { stars: 4 }, token: true }),
  'POST /api/appointments/#/guests': async () => ({ path: `/api/appointments/${fx.a1}/guests`, body: { role: 'interpreter' } }),
  'GET /api/audit': async () => ({ path: '/api/audit?limit=5' }),
  'GET /api/stats': async () => ({ path: `/api/stats?from=${nowS() - 30 * DAY}&to=${nowS() + DAY}&group_by=facility` }),
  'GET /api/staff': async () => ({ path: '/api/staff' }),
  'POST /api/staff': async () => ({ path: '/api/staff', body: { username: u('staff.'), name: 'New Staff', password: 'new-staff-pass', role: 'analyst' } }),
  'GET /api/facilities': async () => ({ path: '/api/facilities' }),
  'POST /api/facilities': async () => ({ path: '/api/facilities', body: { name: u('Facility '), district: 'Swat', sector: 'public' } }),
  'GET /api/facilities/#': async () => ({ path: `/api/facilities/${fx.facilityId}` }),
  'GET /api/doctors': async () => ({ path: '/api/doctors' }),
  'POST /api/doctors': async () => ({ path: '/api/doctors', body: { username: u('dr.new'), name: 'Dr New', password: 'dr-new-pass', facility_id: fx.facilityId, specialty: 'general' } }),
  'GET /api/doctors/#': async () => ({ path: `/api/doctors/${fx.docA}` }),
  'PUT /api/doctors/#/profile': async () => ({ path: `/api/doctors/${fx.docA}/profile`, body: { facility_id: fx.facilityId, specialty: 'general', languages: ['ur'] } }),
  'GET /api/services': async () => ({ path: '/api/services' }),
  'POST /api/services': async () => ({ path: '/api/services', body: { facility_id: fx.facilityId, name: u('Service '), specialty: 'general', duration_min: 20 } }),
  'GET /api/services/#': async () => ({ path: `/api/services/${fx.serviceId}` }),
  'GET /api/availability': async () => ({ path: `/api/availability?doctor_id=${fx.docA}` }),
  'POST /api/availability': async () => ({ path: '/api/availability', body: { doctor_id: fx.docB, service_id: fx.serviceId, weekday: 1, start_min: 1260, end_min: 1320 } }),
  'DELETE /api/availability/#': async () => {
    const r = await api.post('/api/availability', { doctor_id: fx.docB, service_id: fx.serviceId, weekday: 2, start_min: 1260, end_min: 1320 });
    assert.equal(r.status, 201, r.text);
    return { path: `/api/availability/${r.json.availability.id}` };
  },
  'GET /api/breaks': async () => ({ path: `/api/breaks?doctor_id=${fx.docA}` }),
  'POST /api/breaks': async () => ({ path: '/api/breaks', body: { doctor_id: fx.docB, weekday: 3, start_min: 1300, end_min: 1310 } }),
  'DELETE /api/breaks/#': async () => {
    const r = await api.post('/api/breaks', { doctor_id: fx.docB, weekday: 4, start_min: 1300, end_min: 1310 });
    assert.equal(r.status, 201, r.text);
    return { path: `/api/breaks/${r.json.break.id}` };
  },
  'GET /api/exceptions': async () => ({ path: '/api/exceptions' }),
  'POST /api/exceptions': async () => ({ path: '/api/exceptions', body: { doctor_id: fx.docB, starts_at: nowS() + 300 * DAY, ends_at: nowS() + 300 * DAY + 3600, reason: 'leave' } }),
  'DELETE /api/exceptions/#': async () => {
    const r = await api.post('/api/exceptions', { doctor_id: fx.docB, starts_at: nowS() + 301 * DAY, ends_at: nowS() + 301 * DAY + 3600 });
    assert.equal(r.status, 201, r.text);
    return { path: `/api/exceptions/${r.json.exception.id}` };
  },
  'GET /api/patients': async () => ({ path: '/api/patients' }),
  'POST /api/patients': async () => ({ path: '/api/patients', body: { name: 'Sample Person', phone: '+923001231230' } }),
  'GET /api/patients/#': async () => ({ path: `/api/patients/${fx.p}` }),
  'GET /api/slots': async () => ({ path: `/api/slots?from=${nowS() + 3600}&to=${nowS() + 3 * DAY}&doctor_id=${fx.docA}&limit=5` }),
  'GET /api/appointments': async () => ({ path: `/api/appointments?doctor_id=${fx.docA}` }),
  'POST /api/appointments': async () => {
    const s = await freeSlot(fx.docB);
    return { path: '/api/appointments', body: { doctor_id: fx.docB, service_id: fx.serviceId, patient_id: fx.q, starts_at: s.starts_at } };
  },
  'POST /api/holds': async () => {
    const s = await freeSlot(fx.docB);
    return { path: '/api/holds', body: { doctor_id: fx.docB, service_id: fx.serviceId, patient_id: fx.q, starts_at: s.starts_at } };
  },
  'GET /api/appointments/#': async () => ({ path: `/api/appointments/${fx.a1}` }),
  'POST /api/appointments/#/confirm': async () => {
    const s = await freeSlot(fx.docA);
    const h = await api.post('/api/holds', { doctor_id: fx.docA, service_id: fx.serviceId, patient_id: fx.p, starts_at: s.starts_at });
    assert.equal(h.status, 201, h.text);
    return { path: `/api/appointments/${h.json.appointment.id}/confirm` };
  },
  'POST /api/appointments/#/cancel': async () => ({ path: `/api/appointments/${await book(fx.docA, fx.p)}/cancel`, body: { reason: 'clinic closed' } }),
  'POST /api/appointments/#/reschedule': async () => {
    const id = await book(fx.docA, fx.p);
    const s = await freeSlot(fx.docA);
    return { path: `/api/appointments/${id}/reschedule`, body: { starts_at: s.starts_at } };
  },
  'POST /api/appointments/#/check-in': async () => ({ path: `/api/appointments/${fx.a2}/check-in` }),
  'GET /api/appointments/#/invite.ics': async () => ({ path: `/api/appointments/${fx.a1}/invite.ics` }),
  'POST /api/walk-ins': async () => ({ path: '/api/walk-ins', body: { doctor_id: fx.docB, patient_id: fx.q } }),
  'GET /api/queue': async () => ({ path: `/api/queue?doctor_id=${fx.docA}` }),
  'GET /api/waitlist': async () => ({ path: '/api/waitlist' }),
  'POST /api/waitlist': async () => ({ path: '/api/waitlist', body: { patient_id: fx.q, service_id: fx.serviceId } }),
  'DELETE /api/waitlist/#': async () => {
    const r = await api.post('/api/waitlist', { patient_id: fx.q, service_id: fx.serviceId, doctor_id: fx.docB });
    assert.equal(r.status, 201, r.text);
    return { path: `/api/waitlist/${r.json.waitlist_entry.id}` };
  },
  'GET /api/outbox': async () => ({ path: '/api/outbox' }),
  'GET /fhir/metadata': async () => ({ path: '/fhir/metadata' }),
  'GET /fhir/Appointment': async () => ({ path: `/fhir/Appointment?practitioner=${fx.docA}` }),
  'GET /fhir/Appointment/*': async () => ({ path: `/fhir/Appointment/${fx.a1}` }),
  'GET /fhir/Slot': async () => ({ path: `/fhir/Slot?schedule=Schedule/${fx.docA}` }),
  'GET /fhir/Slot/*': async () => ({ path: `/fhir/Slot/${(await freeSlot(fx.docA)).id}` }),
  'GET /fhir/Schedule': async () => ({ path: '/fhir/Schedule' }),
  'GET /fhir/Schedule/*': async () => ({ path: `/fhir/Schedule/${fx.docA}` }),
  'GET /fhir/Practitioner': async () => ({ path: '/fhir/Practitioner' }),
  'GET /fhir/Practitioner/*': async () => ({ path: `/fhir/Practitioner/${fx.docA}` }),
  'GET /fhir/Location': async () => ({ path: '/fhir/Location' }),
  'GET /fhir/Location/*': async () => ({ path: `/fhir/Location/${fx.facilityId}` }),
  // A consultation's clinical content (tests/api/clinical.test.mjs has the details).
  'POST /api/join/*/attachments': async () => ({ path: (tok) => `/api/join/${tok}/attachments`, token: true, body: PNG_1PX, headers: { 'content-type': 'image/png' } }),
  'GET /api/join/*/advice': async () => ({ path: (tok) => `/api/join/${tok}/advice`, token: true }),
  'GET /api/appointments/#/attachments': async () => ({ path: `/api/appointments/${fx.a1}/attachments` }),
  'GET /api/appointments/#/attachments/#': async () => {
    const r = await request(d, 'POST', `/api/join/${fx.tokenP}/attachments`, { body: PNG_1PX, headers: { 'content-type': 'image/png' } });
    assert.equal(r.status, 201, r.text);
    return { path: `/api/appointments/${fx.a1}/attachments/${r.json.attachment.id}` };
  },
  'GET /api/appointments/#/notes': async () => ({ path: `/api/appointments/${fx.a1}/notes` }),
  'PUT /api/appointments/#/notes': async () => ({ path: `/api/appointments/${fx.a1}/notes`, body: { text: 'Follow up in a week' } }),
  'POST /api/appointments/#/advice': async () => ({ path: `/api/appointments/${fx.a1}/advice`, body: { text: 'Rest and fluids' } }),
  'GET /api/appointments/#/patient': async () => ({ path: `/api/appointments/${fx.a1}/patient` }),
};
const PNG_1PX = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

// "own" routes a doctor reaches for their own records without naming them (doctor B gets their
// own list, not a 403).
const OWN_WITHOUT_ID = new Set(['GET /api/appointments/today', 'GET /api/metrics']);

before(async () => {
  table = await adminTable();
  d = await startDaemon();
  await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name, '--password', ADMIN.password, '--role', 'admin']);
  cookies.admin = await login(d, ADMIN.username, ADMIN.password);
  api = client(d, cookies.admin);
  const f = await api.post('/api/facilities', { name: 'Authz BHU', district: 'Mardan', sector: 'public' });
  assert.equal(f.status, 201, f.text);
  fx.facilityId = f.json.facility.id;
  for (const [key, who] of [['docA', DOC_A], ['docB', DOC_B]]) {
    const r = await api.post('/api/doctors', { ...who, facility_id: fx.facilityId, specialty: 'general' });
    assert.equal(r.status, 201, r.text);
    fx[key] = r.json.doctor.id;
  }
  for (const who of [ANALYST, SPARE]) {
    const r = await api.post('/api/staff', { ...who, role: 'analyst' });
    assert.equal(r.status, 201, r.text);
  }
  const s = await api.post('/api/services', { facility_id: fx.facilityId, name: 'OPD', specialty: 'general', duration_min: 15 });
  assert.equal(s.status, 201, s.text);
  fx.serviceId = s.json.service.id;
  for (const doctorId of [fx.docA, fx.docB]) {
    for (let weekday = 1; weekday <= 7; weekday++) {
      const r = await api.post('/api/availability', { doctor_id: doctorId, service_id: fx.serviceId, weekday, start_min: 0, end_min: 1200 });
      assert.equal(r.status, 201, r.text);
    }
  }
  for (const [key, who] of [['p', P], ['q', Q]]) {
    const r = await api.post('/api/patients', who);
    assert.equal(r.status, 201, r.text);
    fx[key] = r.json.patient.id;
  }
  // A1: doctor A and P, now (the token opens at once); B1: doctor B and Q, now.
  const a1 = await admin(d, 'book', ['--doctor', DOC_A.username, '--patient', String(fx.p), '--start', 'now', '--minutes', '30', '--public-url', d.base]);
  fx.a1 = a1.appointment_id;
  fx.tokenP = a1.token;
  const b1 = await admin(d, 'book', ['--doctor', DOC_B.username, '--patient', String(fx.q), '--start', '+60', '--minutes', '30', '--public-url', d.base]);
  fx.b1 = b1.appointment_id;
  fx.tokenQ = b1.token;
  fx.a2 = await book(fx.docA, fx.p);
  // A note on a record: a cancellation reason.
  const cancelled = await book(fx.docA, fx.p);
  const c = await api.post(`/api/appointments/${cancelled}/cancel`, { reason: NOTE });
  assert.equal(c.status, 200, c.text);

  cookies.doctorA = await login(d, DOC_A.username, DOC_A.password);
  cookies.doctorB = await login(d, DOC_B.username, DOC_B.password);
  cookies.analyst = await login(d, ANALYST.username, ANALYST.password);
});

after(async () => {
  if (!d) return;
  const r = await d.stop();
  assert.equal(r.code, 0, `daemon exit: ${JSON.stringify(r)}`);
  await d.cleanup();
});

const CREDS = { doctorA: DOC_A, doctorB: DOC_B, admin: ADMIN, analyst: ANALYST };

/** What `role` must get for `rule`: {refusal: status} or {ok: true} (or a 404 for a stranger's token). */
function expectation(rule, role, key) {
  const t = TABLE_ROLE[role];
  const access = rule.access[t];
  if (access === 'deny') return { status: rule.refusal[t] };
  if (access === 'token') return role === 'patient' ? { ok: true } : { status: 404 };
  if (access === 'own' && role === 'doctorB' && !OWN_WITHOUT_ID.has(key)) return { status: 403 };
  return { ok: true };
}

describe('the authorisation table', () => {
  it('is served by the daemon and covers every signaling message type', () => {
    assert.deepEqual(table.roles, ['none', 'patient', 'doctor', 'admin', 'analyst']);
    const types = table.rules.filter((r) => r.face === 'ws').map((r) => r.type).sort();
    assert.deepEqual(types, ['admit', 'answer', 'audio_only', 'candidate', 'chat', 'end', 'hello', 'invite', 'leave']);
    // The analyst reaches aggregates and their own identity only.
    for (const r of table.rules) {
      const a = r.access.analyst;
      if (a !== 'deny') assert.ok(['GET /api/stats', 'GET /api/me', 'POST /api/login', 'POST /api/logout', 'POST /api/link-resend', 'GET /api/join/*', 'GET /api/join/*/invite.ics', 'POST /api/join/*/attachments', 'GET /api/join/*/advice', 'POST /api/join/*/consent', 'GET /api/join/*/probe', 'POST /api/join/*/rating'].includes(`${r.method} ${r.path}`), `analyst may ${r.method} ${r.path}`);
    }
  });

  it('keeps the rules: public routes few, patients by token only, doctors own, admins all, analysts aggregates', () => {
    const PUBLIC = ['POST /api/login', 'POST /api/logout', 'POST /api/link-resend'];
    for (const r of table.rules.filter((x) => x.face === 'http')) {
      const key = `${r.method} ${r.path}`;
      const a = r.access;
      if (a.none === 'all') assert.ok(PUBLIC.includes(key), `${key} is public`);
      assert.equal(a.patient, a.none, `${key}: over HTTP a patient has no session, only the token in the path`);
      if (a.none === 'token') assert.ok(/\/api\/join\/\*/.test(r.path), `${key}: token routes name their token`);
      assert.ok(['deny', 'own', 'token', 'all'].includes(a.doctor), `${key}: doctor ${a.doctor}`);
      if (/^\/api\/(patients|staff|outbox|waitlist|slots|doctors|facilities|services|availability|breaks|exceptions|holds|walk-ins)/.test(r.path)) {
        assert.equal(a.doctor, 'deny', `${key}: a doctor reaches patients only through their own appointments`);
      }
      assert.ok(['deny', 'aggregate', 'all', 'token'].includes(a.analyst), `${key}: analyst ${a.analyst}`);
      if (a.analyst === 'all') assert.ok([...PUBLIC, 'GET /api/me'].includes(key), `${key}: analyst`);
      if (a.analyst === 'aggregate') assert.equal(r.path, '/api/stats');
      // Admins run the clinic; a consultation's clinical content is its own doctor's only.
      const CLINICAL = ['GET /api/appointments/#/attachments', 'GET /api/appointments/#/attachments/#', 'GET /api/appointments/#/notes',
        'PUT /api/appointments/#/notes', 'POST /api/appointments/#/advice', 'GET /api/appointments/#/patient'];
      if (a.admin === 'deny') assert.ok(['GET /api/appointments/today', 'POST /api/appointments/#/guests', ...CLINICAL].includes(key), `${key}: admin`);
    }
    for (const r of table.rules.filter((x) => x.face === 'ws')) {
      assert.equal(r.access.analyst, 'deny', `${r.type}: analysts take no part in consultations`);
      if (r.type !== 'hello') assert.equal(r.access.none, 'deny', `${r.type}: before hello`);
    }
  });

  it('is the one docs/api.md lists', async () => {
    const doc = await readFile(path.join(REPO, 'docs', 'api.md'), 'utf8');
    for (const r of table.rules) {
      const what = r.face === 'http' ? `\`${r.method} ${r.path}\`` : `\`${r.type}\``;
      const cells = table.roles.map((x) => r.access[x]).join(' | ');
      assert.ok(doc.includes(`| ${what} | ${cells} |`), `docs/api.md lacks the row | ${what} | ${cells} |`);
    }
  });

  it('every HTTP route × every role: the exact answer, and no leak', async () => {
    const rows = table.rules.filter((r) => r.face === 'http');
    const missing = rows.map((r) => `${r.method} ${r.path}`).filter((k) => !SAMPLES[k]);
    assert.deepEqual(missing, [], 'routes without a sample request in this test');
    const failures = [];
    let checked = 0;
    for (const rule of rows) {
      const key = `${rule.method} ${rule.path}`;
      const sample = await SAMPLES[key]();
      // Refused callers first, so a state change by an allowed one cannot hide a refusal.
      const order = [...ROLES].sort((x, y) => (expectation(rule, x, key).ok ? 1 : 0) - (expectation(rule, y, key).ok ? 1 : 0));
      for (const role of order) {
        let cookie = cookies[role];
        if (sample.fresh && CREDS[role]) cookie = await login(d, CREDS[role].username, CREDS[role].password);
        const urlPath = sample.token ? sample.path(role === 'patient' ? fx.tokenP : BOGUS_TOKEN) : sample.path;
        const r = await request(d, rule.method, urlPath, { body: sample.body, cookie, headers: sample.headers });
        checked += 1;
        const want = expectation(rule, role, key);
        const where = `${key} as ${role}: ${r.status} ${r.text.slice(0, 200)}`;
        if (want.ok) {
          if (!(r.status >= 200 && r.status < 300) && r.status !== 409) failures.push(`allowed but ${where}`);
        } else if (r.status !== want.status) {
          failures.push(`expected ${want.status}, got ${where}`);
        } else if (r.status === 401 || r.status === 403) {
          const isFhir = rule.path.startsWith('/fhir/');
          const code = isFhir ? r.json?.issue?.[0]?.code : r.json?.error;
          const wantCode = isFhir ? (r.status === 401 ? 'login' : 'forbidden') : (r.status === 401 ? 'not_authenticated' : 'forbidden');
          if (code !== wantCode) failures.push(`refusal body ${where}`);
        }
        // No refusal names anyone; the analyst and the other doctor see nobody of doctor A's.
        const secrets = r.status >= 400 ? SECRETS
          : role === 'analyst' || role === 'none' ? SECRETS
            : role === 'doctorB' ? [P.name, P.phone, NOTE]
              : role === 'patient' ? [Q.name, Q.phone, P.phone, NOTE] : [];
        const found = leaks(r.text, secrets);
        if (found.length) failures.push(`${where} leaks ${found.join(', ')}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(checked, rows.length * ROLES.length);
  });

  it('an analyst reads aggregates: counts per group, no personal field, small counts as "<5"', async () => {
    const an = client(d, cookies.analyst);
    const r = await an.get(`/api/stats?from=${nowS() - 30 * DAY}&to=${nowS() + 30 * DAY}&group_by=facility,specialty`);
    assert.equal(r.status, 200, r.text);
    for (const row of r.json.stats) {
      // (doctors_active is a count of distinct doctors, not a doctor)
      for (const k of Object.keys(row)) assert.ok(k === 'doctors_active' || !/name|phone|patient|doctor/.test(k), `personal field ${k}`);
      for (const k of ['consultations', 'noshows', 'cancellations']) {
        assert.ok(row[k] === 0 || row[k] === '<5' || row[k] >= 5, `${k}: ${row[k]}`);
      }
    }
    assert.deepEqual(leaks(r.text), []);
  });

  it('every signaling message × every role: allowed or not_allowed as the table says', async () => {
    const rows = table.rules.filter((r) => r.face === 'ws');
    const SAMPLE_MSG = {
      hello: null,
      admit: { type: 'admit', appointment_id: fx.a1 },
      answer: { type: 'answer', pc: 'pub', sdp: 'v=0\r\n' },
      candidate: { type: 'candidate', pc: 'pub', candidate: null },
      leave: { type: 'leave' },
      end: { type: 'end', outcome: 'completed' },
      invite: { type: 'invite', appointment_id: fx.a1, role: 'interpreter' },
      audio_only: { type: 'audio_only', on: false },
      chat: { type: 'chat', appointment_id: fx.a1, text: 'Good morning' },
    };
    const ca = await readFile(path.join(d.dir, 'tls', 'cert.pem'));
    const open = (role) => wsConnect({ host: HOST, port: d.port, ca, cookie: cookies[role], origin: d.base });
    const helloOf = (role) => (role === 'patient' ? { type: 'hello', token: fx.tokenP } : { type: 'hello' });
    const failures = [];
    for (const rule of rows) {
      assert.ok(rule.type in SAMPLE_MSG, `message type ${rule.type} has no sample here`);
      for (const role of ROLES) {
        const t = TABLE_ROLE[role];
        const access = rule.access[t];
        const ws = await open(role);
        assert.equal(ws.status, 101, `${role}: upgrade ${ws.status} ${ws.body}`);
        const where = `${rule.type} as ${role}`;
        try {
          if (rule.type === 'hello') {
            ws.send(helloOf(role));
            if (access === 'deny') {
              const close = await ws.closed;
              if (close.code !== rule.refusal[t]) failures.push(`${where}: close ${JSON.stringify(close)}`);
            } else {
              const m = await ws.next((x) => x.type === 'welcome' || x.type === 'error');
              if (m.type !== 'welcome') failures.push(`${where}: ${JSON.stringify(m)}`);
            }
          } else if (role === 'analyst') {
            // An analyst's hello is refused (4403), so no message of theirs is ever decided.
            ws.send(helloOf(role));
            const close = await ws.closed;
            if (close.code !== 4403) failures.push(`${where}: hello not refused ${JSON.stringify(close)}`);
          } else {
            if (role !== 'none') {
              ws.send(helloOf(role));
              await ws.next((x) => x.type === 'welcome');
            }
            const from = ws.messages.length;
            ws.send(SAMPLE_MSG[rule.type]);
            if (access === 'deny') {
              const m = await ws.next((x) => x.type === 'error', 3000, from);
              const why = role === 'none' ? 'say hello first' : 'your role may not send this message';
              if (m.code !== 'not_allowed' || m.message !== why) failures.push(`${where}: ${JSON.stringify(m)}`);
            } else {
              await sleep(300);
              const refused = ws.messages.slice(from).find((x) => x.type === 'error' && /role may not|hello first/.test(x.message));
              if (refused) failures.push(`${where}: refused by role ${JSON.stringify(refused)}`);
              if (rule.type === 'invite') {
                // own: doctor A invites to A1; doctor B may not.
                const m = await ws.next((x) => x.type === 'invited' || x.type === 'error', 3000, from);
                const want = role === 'doctorA' ? 'invited' : 'error';
                if (m.type !== want) failures.push(`${where}: ${JSON.stringify(m)}`);
              }
              if (rule.type === 'admit' && role === 'doctorB') {
                const m = await ws.next((x) => x.type === 'error', 3000, from);
                if (m.code !== 'not_allowed') failures.push(`${where}: ${JSON.stringify(m)}`);
              }
            }
          }
          const found = leaks(JSON.stringify(ws.messages), role === 'patient' ? [Q.name, Q.phone, P.phone, NOTE] : role === 'doctorB' ? [P.name, P.phone, NOTE] : SECRETS.filter((s) => role === 'doctorA' ? s !== P.name : true));
          if (found.length) failures.push(`${where}: leaks ${found}`);
        } catch (e) {
          failures.push(`${where}: ${e.message}`);
        } finally {
          await ws.close();
          await sleep(50); // the token is free again once the server has seen the close
        }
      }
    }
    assert.deepEqual(failures, []);
  });
});

describe('CSRF and sessions', () => {
  it('a state-changing request with a session needs the X-CSRF-Token of that session', async () => {
    const login1 = await request(d, 'POST', '/api/login', { body: { username: DOC_A.username, password: DOC_A.password } });
    assert.equal(login1.status, 200, login1.text);
    const set = [].concat(login1.headers['set-cookie'])[0];
    for (const attr of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/', 'Max-Age=']) assert.ok(set.includes(attr), `cookie lacks ${attr}: ${set}`);
    const cookie = set.split(';')[0];
    const token = login1.json.csrf_token;
    assert.match(token, /^[A-Za-z0-9_-]{40,}$/);
    const me = await request(d, 'GET', '/api/me', { cookie });
    assert.equal(me.json.csrf_token, token, '/api/me gives the same token');

    const url = `/api/appointments/${fx.a1}/guests`;
    const body = { role: 'family' };
    for (const [what, headers] of [['missing', {}], ['wrong', { 'x-csrf-token': 'x'.repeat(token.length) }],
      ['another session\'s', { 'x-csrf-token': csrfToken(cookies.doctorA) }], ['empty', { 'x-csrf-token': '' }]]) {
      const r = await request(d, 'POST', url, { body, cookie, headers, csrf: false });
      assert.equal(r.status, 403, `${what} token: ${r.text}`);
      assert.equal(r.json.error, 'csrf');
      assert.equal(typeof r.json.message, 'string');
    }
    const ok = await request(d, 'POST', url, { body, cookie, headers: { 'x-csrf-token': token }, csrf: false });
    assert.equal(ok.status, 201, ok.text);
    // A page of another site, even holding the right token, is refused by its Origin or
    // Sec-Fetch-Site; the same site is let through.
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }]) {
      const r = await request(d, 'POST', url, { body, cookie, headers: { 'x-csrf-token': token, ...headers }, csrf: false });
      assert.equal(r.status, 403, `${JSON.stringify(headers)}: ${r.text}`);
      assert.equal(r.json.error, 'csrf');
    }
    const same = await request(d, 'POST', url, { body, cookie, headers: { 'x-csrf-token': token, origin: d.base, 'sec-fetch-site': 'same-origin' }, csrf: false });
    assert.equal(same.status, 201, same.text);
    // Login itself is checked for its origin (login CSRF).
    const evilLogin = await request(d, 'POST', '/api/login', { body: { username: DOC_A.username, password: DOC_A.password }, headers: { origin: 'https://evil.example' } });
    assert.equal(evilLogin.status, 403);
    assert.equal(evilLogin.json.error, 'csrf');
    // A GET needs no token; DELETE and PUT do.
    const del = await request(d, 'DELETE', '/api/waitlist/1', { cookie: cookies.admin, csrf: false });
    assert.equal(del.status, 403);
    assert.equal(del.json.error, 'csrf');
    const put = await request(d, 'PUT', `/api/doctors/${fx.docA}/profile`, { cookie: cookies.admin, csrf: false, body: { facility_id: fx.facilityId, specialty: 'general' } });
    assert.equal(put.status, 403);
    // Logout needs it too; then the session is over.
    assert.equal((await request(d, 'GET', '/api/me', { cookie })).status, 200, 'still signed in');
    const out1 = await request(d, 'POST', '/api/logout', { cookie, csrf: false });
    assert.equal(out1.status, 403);
    const out2 = await request(d, 'POST', '/api/logout', { cookie, headers: { 'x-csrf-token': token }, csrf: false });
    assert.equal(out2.status, 204);
    assert.match([].concat(out2.headers['set-cookie'])[0], /mw_session=;.*Max-Age=0/);
    assert.equal((await request(d, 'GET', '/api/me', { cookie })).status, 401);
  });

  it('a session cookie lives as long as the session (12 h), and a forged one is no session', async () => {
    // The scheduler refuses an expired session at lookup; the cookie expires with it.
    const r = await request(d, 'POST', '/api/login', { body: { username: DOC_B.username, password: DOC_B.password } });
    assert.match([].concat(r.headers['set-cookie'])[0], /Max-Age=43200/);
    const forged = await request(d, 'GET', '/api/me', { cookie: `mw_session=${'x'.repeat(43)}` });
    assert.equal(forged.status, 401);
    // A forged cookie on a state-changing request is no session either: no CSRF token needed,
    // and the route's own rule answers (401 here).
    const post = await request(d, 'POST', `/api/appointments/${fx.a1}/guests`, { cookie: `mw_session=${'x'.repeat(43)}`, body: { role: 'family' } });
    assert.equal(post.status, 401, post.text);
  });
});

describe('security headers', () => {
  const HEADERS = {
    'content-security-policy': (v) => /default-src 'self'/.test(v) && /frame-ancestors 'none'/.test(v)
      && /connect-src 'self' wss:/.test(v) && !/unsafe-inline|unsafe-eval/.test(v),
    'strict-transport-security': (v) => /max-age=\d{7,}/.test(v),
    'x-content-type-options': (v) => v === 'nosniff',
    'referrer-policy': (v) => v === 'no-referrer',
    'x-frame-options': (v) => v === 'DENY',
    'permissions-policy': (v) => /camera=\(self\)/.test(v) && /microphone=\(self\)/.test(v),
  };
  it('on pages, files, API answers and errors', async () => {
    const paths = [['GET', '/'], ['GET', '/console'], ['GET', `/join/${fx.tokenP}`], ['GET', '/js/console.js'],
      ['GET', '/no-such-page'], ['GET', '/api/me'], ['GET', '/api/no-such'], ['GET', '/fhir/metadata'],
      ['POST', '/api/login']];
    for (const [method, p] of paths) {
      const r = await request(d, method, p, { cookie: p === '/api/me' ? cookies.doctorA : undefined, body: method === 'POST' ? {} : undefined });
      for (const [h, ok] of Object.entries(HEADERS)) {
        assert.ok(r.headers[h] !== undefined && ok(String(r.headers[h])), `${method} ${p} (${r.status}): ${h}: ${r.headers[h]}`);
      }
    }
  });
  it('web/ has no inline script or style for the CSP to forbid', async () => {
    const files = (await readdir(path.join(REPO, 'web'))).filter((f) => f.endsWith('.html'));
    assert.ok(files.length >= 3);
    for (const f of files) {
      const html = await readFile(path.join(REPO, 'web', f), 'utf8');
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${f}: inline <script>`);
      assert.doesNotMatch(html, /<style[\s>]/i, `${f}: <style>`);
      assert.doesNotMatch(html, /\sstyle\s*=/i, `${f}: style attribute`);
      assert.doesNotMatch(html, /\son[a-z]+\s*=/i, `${f}: inline event handler`);
    }
  });
});

describe('limits', () => {
  let l; // a daemon with small limits
  let ca;
  before(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mw-authz-'));
    await writeFile(path.join(dir, 'limits.conf'), ['[server]', 'max_connections_per_address=4',
      'login_failures_per_account=3', 'login_failures_per_address=6', 'login_failure_window_seconds=600',
      'requests_per_second_per_token=0.1', 'request_burst_per_token=3', ''].join('\n'));
    l = await startDaemon({ dir, extraArgs: ['--config', path.join(dir, 'limits.conf')] });
    ca = await readFile(path.join(l.dir, 'tls', 'cert.pem'));
    await admin(l, 'add-staff', ['--username', 'lim.doc', '--name', 'Lim Doc', '--password', 'lim-doc-pass']);
    for (const n of [1, 2, 3]) await admin(l, 'add-staff', ['--username', `lim.other${n}`, '--name', 'Other', '--password', 'lim-other-pass']);
  });
  after(async () => {
    if (!l) return;
    const r = await l.stop();
    assert.equal(r.code, 0, `daemon exit: ${JSON.stringify(r)}`);
    await l.cleanup();
  });

  const openTls = () => new Promise((resolve, reject) => {
    const s = tls.connect({ host: HOST, port: l.port, ca });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
  const rawGet = (s, p) => new Promise((resolve) => {
    let buf = '';
    s.on('data', (c) => { buf += c.toString(); });
    s.on('close', () => resolve(buf));
    s.write(`GET ${p} HTTP/1.1\r\nHost: ${HOST}:${l.port}\r\n\r\n`);
    setTimeout(() => resolve(buf), 3000);
  });

  it('open connections per address are capped: 503 over HTTP, close 1013 over WSS', async () => {
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await openTls());
    await sleep(100);
    const extra = await openTls();
    const answer = await rawGet(extra, '/api/me');
    assert.match(answer, /^HTTP\/1\.1 503/);
    assert.match(answer, /too_many_connections/);
    assert.match(answer, /content-security-policy/i);
    extra.destroy();
    const ws = await wsConnect({ host: HOST, port: l.port, ca, origin: l.base });
    if (ws.status === 101) {
      const close = await ws.closed;
      assert.equal(close.code, 1013, JSON.stringify(close));
      assert.equal(close.reason, 'too many connections');
    } else {
      assert.equal(ws.status, 503);
    }
    for (const s of held) s.destroy();
    await sleep(300);
    const r = await request(l, 'GET', '/api/me');
    assert.equal(r.status, 401, 'a connection is accepted again once others closed');
  });

  it('failed logins are throttled per account (429 + Retry-After), even for the right password', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await request(l, 'POST', '/api/login', { body: { username: 'lim.doc', password: 'wrong-password' } });
      assert.equal(r.status, 401, r.text);
    }
    const r = await request(l, 'POST', '/api/login', { body: { username: 'lim.doc', password: 'lim-doc-pass' } });
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error, 'too_many_requests');
    assert.ok(Number(r.headers['retry-after']) >= 1, `Retry-After: ${r.headers['retry-after']}`);
    assert.ok(!r.text.includes('lim.doc'));
    // Another account is not throttled by this one (until the address's own limit).
    const other = await request(l, 'POST', '/api/login', { body: { username: 'lim.other1', password: 'lim-other-pass' } });
    assert.equal(other.status, 200, other.text);
  });

  it('failed logins are throttled per address across accounts', async () => {
    // 3 failures so far from this address; 3 more reach the address's limit of 6.
    for (const n of [1, 2, 3]) {
      const r = await request(l, 'POST', '/api/login', { body: { username: `lim.other${n}`, password: 'wrong' } });
      assert.equal(r.status, 401, r.text);
    }
    const r = await request(l, 'POST', '/api/login', { body: { username: 'lim.other2', password: 'lim-other-pass' } });
    assert.equal(r.status, 429, r.text);
    assert.ok(Number(r.headers['retry-after']) >= 1);
  });

  it('requests per join token are rate limited (429 + Retry-After), and so are hellos', async () => {
    const tok = 'B'.repeat(43);
    for (let i = 0; i < 3; i++) assert.equal((await request(l, 'GET', `/api/join/${tok}`)).status, 404);
    const r = await request(l, 'GET', `/api/join/${tok}`);
    assert.equal(r.status, 429, r.text);
    assert.ok(Number(r.headers['retry-after']) >= 1);
    const ws = await wsConnect({ host: HOST, port: l.port, ca, origin: l.base });
    ws.send({ type: 'hello', token: tok });
    const close = await ws.closed;
    assert.equal(close.code, 1013, JSON.stringify(close));
  });

  it('JSON nested deeper than 16 is refused: 400 on the API, malformed_message on the socket', async () => {
    const deep = (n) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const cookie = await login(d, ADMIN.username, ADMIN.password);
    const r = await request(d, 'POST', '/api/patients', { cookie, body: `{"name": ${deep(20)}}` });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'malformed_body');
    const ok = await request(d, 'POST', '/api/login', { body: `{"username": "x", "password": ${deep(40)}}` });
    assert.equal(ok.status, 400);
    const ws = await wsConnect({ host: HOST, port: l.port, ca, origin: l.base });
    ws.send(`{"type": "hello", "x": ${deep(17)}}`);
    const m = await ws.next((x) => x.type === 'error');
    assert.equal(m.code, 'malformed_message');
    assert.match(m.message, /nests too deeply/);
    ws.send(`{"type": "leave", "x": ${deep(15)}}`);
    const m2 = await ws.next((x) => x.type === 'error' && x !== m, 3000, ws.messages.length);
    assert.equal(m2.code, 'not_allowed', 'depth 16 parses (then it is refused for having said no hello)');
    await ws.close();
  });

  it('a message over 64 KiB still closes with 1009; no hello within 10 s still closes with 4408', async () => {
    const big = await wsConnect({ host: HOST, port: l.port, ca, origin: l.base });
    big.sendRaw(Buffer.alloc(70 * 1024, 0x20));
    const c1 = await big.closed;
    assert.equal(c1.code, 1009, JSON.stringify(c1));
    const idle = await wsConnect({ host: HOST, port: l.port, ca, origin: l.base });
    const t0 = Date.now();
    const c2 = await idle.closed;
    assert.equal(c2.code, 4408, JSON.stringify(c2));
    assert.ok(Date.now() - t0 > 8000);
  });

  it('the request rate per address is limited (429 + Retry-After)', async () => {
    assert.equal((await l.stop()).code, 0);
    await writeFile(path.join(l.dir, 'limits.conf'), '[server]\nrequests_per_second_per_address=0.2\nrequest_burst_per_address=5\n');
    l = await startDaemon({ dir: l.dir, extraArgs: ['--config', path.join(l.dir, 'limits.conf')] });
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await request(l, 'GET', '/api/me')).status);
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    const r = await request(l, 'GET', '/');
    assert.equal(r.status, 429);
    assert.equal(r.json.error, 'too_many_requests');
    assert.ok(Number(r.headers['retry-after']) >= 1);
  });
});
