// The audit log (issue "Trust"), end to end against the real daemon on 127.0.0.1: a staff read
// of a patient, a booking, a patient's join-link check, refusals (no session, wrong role, a slot
// already taken) each leave a row with the right actor, action, object, address and outcome; no
// personal value (name, phone, token, password) appears in any row; `mashwara admin
// audit-verify` says ok, and after the database file is tampered with (sqlite3 CLI: a trigger
// dropped and a row edited, or a row deleted) it names the first bad row and exits non-zero.
//
// Run: MASHWARA_BIN=<build>/daemon/mashwara node --test --test-concurrency=1 tests/api/audit.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import path from 'node:path';
import { startDaemon, admin, adminRun, login, client, request, nowS, waitFor } from './lib.mjs';

const ADMIN = { username: 'audit.admin', name: 'Audit Admin', password: 'audit-admin-pass' };
const DOCTOR = { username: 'dr.audit', name: 'Dr. Audit', password: 'audit-doctor-pass' };
const PATIENT = { name: 'Sana Bibi Audit', phone: '+92 300 7654321' };
const PERSONAL = ['Sana Bibi', '7654321', '300 765', 'Dr. Audit', ADMIN.password, DOCTOR.password];

let d;
let api; // admin
let doc; // doctor
const fx = {};

/** Every audit row, oldest first (the admin API pages newest first). */
async function auditRows() {
  const rows = [];
  let before = 0;
  for (;;) {
    const r = await api.get(`/api/audit?limit=1000${before ? `&before_id=${before}` : ''}`);
    assert.equal(r.status, 200, r.text);
    rows.push(...r.json.audit);
    if (!r.json.next_before_id) break;
    before = r.json.next_before_id;
  }
  return rows.reverse();
}

/** The newest row matching every member of `want`. */
async function findRow(want) {
  const rows = await auditRows();
  const hit = rows.filter((row) => Object.entries(want).every(([k, v]) => row[k] === v)).pop();
  assert.ok(hit, `no audit row like ${JSON.stringify(want)} among:\n${rows.map((x) => JSON.stringify(x)).join('\n')}`);
  return hit;
}

function sqlite(db, sql) {
  return execFileSync('sqlite3', [db, sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A minimal WebSocket client (RFC 6455, text frames only) on the daemon's TLS port, enough to
 * say hello and send consultation messages: node 20 has no WebSocket client that trusts a
 * given CA. `messages` collects what the server sent (parsed JSON).
 */
function wsOpen(cookie) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: d.port, path: '/ws', agent: d.agent,
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Protocol': 'mashwara.v1', ...(cookie ? { cookie } : {}),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('upgrade', (res, socket, head) => {
      const ws = { socket, messages: [], closed: false };
      let buf = head;
      socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          if (buf.length < 2) return;
          const op = buf[0] & 0x0f;
          let len = buf[1] & 0x7f;
          let off = 2;
          if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
          else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
          if (buf.length < off + len) return;
          const payload = buf.subarray(off, off + len);
          buf = buf.subarray(off + len);
          if (op === 1) ws.messages.push(JSON.parse(payload.toString()));
          else if (op === 9) send(0x0a, payload); // ping → pong
          else if (op === 8) ws.closed = true;
        }
      });
      socket.on('close', () => { ws.closed = true; });
      const send = (op, payload) => {
        const mask = randomBytes(4);
        const n = payload.length;
        const hdr = n < 126 ? Buffer.from([0x80 | op, 0x80 | n])
          : Buffer.from([0x80 | op, 0x80 | 126, n >> 8, n & 0xff]);
        const body = Buffer.from(payload);
        for (let i = 0; i < n; i++) body[i] ^= mask[i % 4];
        socket.write(Buffer.concat([hdr, mask, body]));
      };
      ws.send = (obj) => send(1, Buffer.from(JSON.stringify(obj)));
      ws.next = (type) => waitFor(() => ws.messages.find((m) => m.type === type),
        { timeout: 10000, what: `a "${type}" message` });
      ws.close = () => socket.destroy();
      resolve(ws);
    });
    req.end();
  });
}

before(async () => {
  d = await startDaemon();
  await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name,
    '--password', ADMIN.password, '--role', 'admin']);
  api = client(d, await login(d, ADMIN.username, ADMIN.password));
  const me = await api.get('/api/me');
  fx.adminId = me.json.staff.id;
  const f = await api.post('/api/facilities', { name: 'Audit BHU', district: 'Lahore', sector: 'public' });
  assert.equal(f.status, 201, f.text);
  const doctor = await api.post('/api/doctors', { username: DOCTOR.username, name: DOCTOR.name,
    password: DOCTOR.password, facility_id: f.json.facility.id, specialty: 'general' });
  assert.equal(doctor.status, 201, doctor.text);
  fx.doctorId = doctor.json.doctor.id;
  const s = await api.post('/api/services', { facility_id: f.json.facility.id, name: 'General',
    specialty: 'general', duration_min: 20 });
  assert.equal(s.status, 201, s.text);
  fx.serviceId = s.json.service.id;
  for (let weekday = 1; weekday <= 7; weekday++) {
    const a = await api.post('/api/availability', { doctor_id: fx.doctorId, service_id: fx.serviceId,
      weekday, start_min: 0, end_min: 1440 });
    assert.equal(a.status, 201, a.text);
  }
  const p = await api.post('/api/patients', { name: PATIENT.name, phone: PATIENT.phone });
  assert.equal(p.status, 201, p.text);
  fx.patientId = p.json.patient.id;
  doc = client(d, await login(d, DOCTOR.username, DOCTOR.password));
});

after(async () => {
  if (!d) return;
  await d.stop();
  await d.cleanup();
});

describe('the audit log records who did what, from where', () => {
  it('records a staff read of a patient with actor, action, object and address', async () => {
    const r = await api.get(`/api/patients/${fx.patientId}`);
    assert.equal(r.status, 200, r.text);
    const row = await findRow({ action: 'patient.read', object_id: fx.patientId, outcome: 'ok' });
    assert.equal(row.actor_kind, 'staff');
    assert.equal(row.actor_id, fx.adminId);
    assert.equal(row.actor_role, 'admin');
    assert.equal(row.object_type, 'patient');
    assert.equal(row.address, '127.0.0.1');
    assert.equal(row.detail, 'http=200');
    assert.ok(Math.abs(row.at_ms - Date.now()) < 60000, `at_ms ${row.at_ms} is now, in ms`);
    assert.match(row.hash, /^[0-9a-f]{64}$/);
  });

  it('records the creation of a patient with its new id', async () => {
    const row = await findRow({ action: 'patient.create', object_id: fx.patientId });
    assert.equal(row.actor_id, fx.adminId);
    assert.equal(row.detail, 'http=201');
  });

  it('records a booking, and a refused second booking of the same slot', async () => {
    const from = nowS() + 3600;
    const sl = await api.get(`/api/slots?from=${from}&to=${from + 86400}&doctor_id=${fx.doctorId}` +
      `&service_id=${fx.serviceId}&limit=1`);
    assert.equal(sl.status, 200, sl.text);
    const slot = sl.json.slots[0];
    const body = { doctor_id: fx.doctorId, service_id: fx.serviceId, patient_id: fx.patientId,
      starts_at: slot.starts_at };
    const b = await api.post('/api/appointments', body);
    assert.equal(b.status, 201, b.text);
    fx.appointmentId = b.json.appointment.id;
    fx.token = b.json.token;
    const row = await findRow({ action: 'appointment.create', object_id: fx.appointmentId });
    assert.equal(row.actor_kind, 'staff');
    assert.equal(row.actor_id, fx.adminId);
    assert.equal(row.address, '127.0.0.1');
    assert.equal(row.outcome, 'ok');

    const again = await api.post('/api/appointments', body);
    assert.equal(again.status, 409, again.text);
    const refused = await findRow({ action: 'appointment.create', outcome: 'refused' });
    assert.equal(refused.object_id, null, 'a refused create names no object');
    assert.equal(refused.detail, 'http=409');
  });

  it('records reads of the appointment list with a count, not the records', async () => {
    const r = await doc.get('/api/appointments');
    assert.equal(r.status, 200, r.text);
    const row = await findRow({ action: 'appointment.list', actor_id: fx.doctorId });
    assert.equal(row.actor_role, 'doctor');
    assert.equal(row.detail, `http=200,n=${r.json.appointments.length}`);
  });

  it('records the patient, by token, reading the invite and checking the link', async () => {
    const ics = await request(d, 'GET', `/api/join/${fx.token}/invite.ics`);
    assert.equal(ics.status, 200, ics.text);
    const row = await findRow({ action: 'appointment.invite_read', actor_kind: 'patient' });
    assert.equal(row.actor_id, fx.patientId);
    assert.equal(row.actor_role, 'patient');
    assert.equal(row.appointment_id, fx.appointmentId);
    assert.equal(row.object_id, fx.appointmentId);
    assert.equal(row.outcome, 'ok');
    // The waiting room opens 15 minutes before the start: an hour ahead, the check is refused,
    // and the refusal is the patient's too.
    const r = await request(d, 'GET', `/api/join/${fx.token}`);
    assert.equal(r.status, 403, r.text);
    const check = await findRow({ action: 'join_link.check', actor_kind: 'patient' });
    assert.equal(check.outcome, 'refused');
    assert.equal(check.object_id, fx.appointmentId);
    // A made-up token is anonymous.
    const unknown = await request(d, 'GET', `/api/join/${'A'.repeat(43)}`);
    assert.equal(unknown.status, 404);
    const anon = await findRow({ action: 'join_link.check', actor_kind: 'anonymous' });
    assert.equal(anon.outcome, 'refused');
  });

  it('records refusals: no session, and a role that may not', async () => {
    const anon = await request(d, 'GET', `/api/patients/${fx.patientId}`);
    assert.equal(anon.status, 401);
    const a = await findRow({ action: 'patient.read', actor_kind: 'anonymous' });
    assert.equal(a.outcome, 'refused');
    assert.equal(a.detail, 'http=401');
    const forbidden = await doc.get(`/api/patients/${fx.patientId}`);
    assert.equal(forbidden.status, 403);
    const f = await findRow({ action: 'patient.read', actor_id: fx.doctorId });
    assert.equal(f.outcome, 'refused');
    const notAdmin = await doc.get('/api/audit');
    assert.equal(notAdmin.status, 403, 'only an admin reads the audit log');
  });

  it('records logins and does not audit reference reads', async () => {
    const before = (await auditRows()).length;
    const r = await api.get('/api/facilities');
    assert.equal(r.status, 200);
    const rows = await auditRows();
    // Only the audit reads themselves were added (one per page fetched), not the facilities read.
    assert.ok(rows.slice(before).every((x) => x.action === 'audit_log.list'),
      rows.slice(before).map((x) => x.action).join(','));
    const login = await findRow({ action: 'session.login', actor_id: fx.doctorId });
    assert.equal(login.outcome, 'ok');
  });

  it('keeps no personal value in any row', async () => {
    const rows = await auditRows();
    assert.ok(rows.length >= 10, `rows: ${rows.length}`);
    const text = JSON.stringify(rows);
    for (const secret of [...PERSONAL, fx.token]) {
      assert.ok(!text.includes(secret), `an audit row holds personal data or a token (${secret})`);
    }
    // The raw table as well, every column.
    const dump = sqlite(d.db, 'SELECT * FROM audit_log');
    for (const secret of [...PERSONAL, fx.token]) assert.ok(!dump.includes(secret), secret);
    // And the chain links row to row.
    for (let i = 1; i < rows.length; i++) assert.equal(rows[i].prev_hash, rows[i - 1].hash);
    assert.equal(rows[0].id, 1);
  });
});

describe('consultation events are recorded', () => {
  it('records join, admit, audio-only, a refused admit, end with outcome and a dropped guest', async () => {
    const booked = await admin(d, 'book', ['--doctor', DOCTOR.username, '--patient', String(fx.patientId),
      '--start', 'now', '--minutes', '20']);
    const apptId = booked.appointment_id;
    const op = await findRow({ action: 'appointment.create', actor_kind: 'operator', object_id: apptId });
    assert.equal(op.address, 'cli');

    const console_ = await wsOpen(doc.cookie);
    console_.send({ type: 'hello' });
    await console_.next('welcome');
    const patient = await wsOpen();
    patient.send({ type: 'hello', token: booked.token });
    await patient.next('welcome');
    const join = await findRow({ action: 'consultation.join', actor_kind: 'patient' });
    assert.equal(join.actor_id, fx.patientId);
    assert.equal(join.object_id, apptId);
    assert.equal(join.appointment_id, apptId);
    assert.equal(join.address, '127.0.0.1');
    assert.equal(join.outcome, 'ok');
    await findRow({ action: 'console.connect', actor_id: fx.doctorId });

    // A patient may not admit: refused, and recorded as the patient's.
    patient.send({ type: 'admit', appointment_id: apptId });
    await patient.next('error');
    const refusedAdmit = await findRow({ action: 'consultation.admit', actor_kind: 'patient' });
    assert.equal(refusedAdmit.outcome, 'refused');

    console_.send({ type: 'admit', appointment_id: apptId });
    await waitFor(async () => (await auditRows()).some((x) => x.action === 'consultation.admit'
      && x.actor_id === fx.doctorId), { what: 'the admit row' });
    const admitted = await findRow({ action: 'consultation.admit', actor_id: fx.doctorId });
    assert.equal(admitted.outcome, 'ok');
    assert.equal(admitted.object_id, apptId);

    patient.send({ type: 'audio_only', on: true });
    await waitFor(async () => (await auditRows()).some((x) => x.action === 'consultation.audio_only'),
      { what: 'the audio_only row' });
    const ao = await findRow({ action: 'consultation.audio_only' });
    assert.equal(ao.detail, 'on=1');
    assert.equal(ao.object_id, apptId);

    // A guest joins and drops (closes the socket without leaving).
    const inv = await api.post(`/api/appointments/${apptId}/guests`, { role: 'interpreter' });
    assert.equal(inv.status, 403, 'only the appointment\'s doctor invites');
    const guestLink = await doc.post(`/api/appointments/${apptId}/guests`, { role: 'interpreter' });
    assert.equal(guestLink.status, 201, guestLink.text);
    const invited = await findRow({ action: 'appointment.invite_guest', outcome: 'ok' });
    assert.equal(invited.actor_id, fx.doctorId);
    assert.equal(invited.object_id, apptId);
    const guest = await wsOpen();
    guest.send({ type: 'hello', token: guestLink.json.token });
    await guest.next('welcome');
    const gj = await findRow({ action: 'consultation.join', actor_kind: 'guest' });
    assert.equal(gj.actor_role, 'interpreter');
    assert.equal(gj.appointment_id, apptId);
    guest.close();
    await waitFor(async () => (await auditRows()).some((x) => x.action === 'consultation.leave'
      && x.actor_kind === 'guest'), { what: 'the dropped guest\'s row' });
    const dropped = await findRow({ action: 'consultation.leave', actor_kind: 'guest' });
    assert.equal(dropped.detail, 'reason=dropped');

    console_.send({ type: 'end', outcome: 'follow-up' });
    await patient.next('call_ended');
    const end = await findRow({ action: 'consultation.end', actor_id: fx.doctorId });
    assert.equal(end.detail, 'outcome=follow-up');
    assert.equal(end.object_id, apptId);
    assert.equal(end.outcome, 'ok');
    patient.close();
    console_.close();

    const text = JSON.stringify(await auditRows());
    for (const secret of [...PERSONAL, booked.token, guestLink.json.token]) {
      assert.ok(!text.includes(secret), `an audit row holds personal data or a token (${secret})`);
    }
  });
});

describe('mashwara admin audit-verify', () => {
  it('keeps one chain while the daemon and the command line append at once', async () => {
    const before = (await auditRows()).length;
    const jobs = [];
    for (let i = 0; i < 6; i++) {
      jobs.push(adminRun(d, 'add-patient', ['--name', `Concurrent ${i}`]));
      jobs.push(api.get(`/api/patients/${fx.patientId}`));
      jobs.push(api.post('/api/patients', { name: `Parallel ${i}` }));
    }
    const results = await Promise.all(jobs);
    for (const r of results) {
      const ok = 'code' in r ? r.code === 0 : r.status < 300;
      assert.ok(ok, JSON.stringify(r).slice(0, 300));
    }
    const rows = await auditRows();
    assert.ok(rows.length >= before + 18, `${rows.length} rows after ${before}`);
    for (let i = 1; i < rows.length; i++) {
      assert.equal(rows[i].id, rows[i - 1].id + 1);
      assert.equal(rows[i].prev_hash, rows[i - 1].hash);
    }
  });

  it('says ok on the untouched log, then names the row edited behind its back', async () => {
    const ok = await adminRun(d, 'audit-verify');
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const m = /audit chain ok: (\d+) rows/.exec(ok.stdout);
    assert.ok(m, ok.stdout);
    const n = Number(m[1]);
    assert.ok(n >= 10, ok.stdout);

    const st = await d.stop();
    assert.deepEqual(st, { code: 0, signal: null }, `daemon exit: ${d.log().slice(-6000)}`);
    // A copy for the deletion below, before any tampering.
    const copy = path.join(d.dir, 'copy.db');
    sqlite(d.db, `VACUUM INTO '${copy}'`);

    // The triggers refuse a plain edit.
    assert.throws(() => sqlite(d.db, "UPDATE audit_log SET outcome = 'ok' WHERE id = 3"), /append-only/);
    sqlite(d.db, "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET outcome = 'refused' WHERE id = 5");
    const bad = await adminRun(d, 'audit-verify');
    assert.notEqual(bad.code, 0, bad.stdout);
    assert.match(bad.stdout, /BROKEN at row 5\b/);

    // Deleting a middle row shows at the row after it.
    sqlite(copy, 'DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 7');
    const del = await adminRun({ ...d, db: copy }, 'audit-verify');
    assert.notEqual(del.code, 0, del.stdout);
    assert.match(del.stdout, /BROKEN at row 8\b/);
  });
});
