// The patient page's routes (issue 5) against the real daemon on 127.0.0.1: consent (strict
// body, versions kept per appointment and token role, GET /api/join says which), the network
// check's probe (exact size, no-store, capped, not audited), the rating (patient only, only once
// the consultation started, once, the comment bounded and never logged nor audited), and the
// waiting room's expected wait (null while the doctor is offline, the queue ahead's booked
// lengths, what is left of the doctor's running call).
//
// Run: MASHWARA_BIN=<build>/daemon/mashwara node --test --test-concurrency=1 tests/api/patient-page.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startDaemon, admin, login, client, request, sleep, HOST } from './lib.mjs';
import { wsConnect } from './wsclient.mjs';

const ADMIN = { username: 'pp.admin', name: 'PP Admin', password: 'pp-admin-pass' };
const DOCTOR = { username: 'dr.pp', name: 'Dr PP', password: 'pp-doctor-pass' };
const COMMENT = 'The doctor listened well — ڈاکٹر نے توجہ سے سنا SECRET-COMMENT-42';

let d;
let api;
let doc;
let ca;
const fx = {};

before(async () => {
  d = await startDaemon();
  await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name, '--password', ADMIN.password, '--role', 'admin']);
  await admin(d, 'add-doctor', ['--username', DOCTOR.username, '--name', DOCTOR.name, '--password', DOCTOR.password]);
  api = client(d, await login(d, ADMIN.username, ADMIN.password));
  doc = client(d, await login(d, DOCTOR.username, DOCTOR.password));
  for (const key of ['p1', 'p2']) {
    fx[key] = (await admin(d, 'add-patient', ['--name', `Patient ${key}`, '--phone', key === 'p1' ? '+923001000001' : '+923001000002'])).patient_id;
  }
  // p2 booked for 10 minutes from 10 minutes ago; p1 for 20 minutes from now.
  fx.a2 = await admin(d, 'book', ['--doctor', DOCTOR.username, '--patient', String(fx.p2), '--start=-600', '--minutes', '10', '--public-url', d.base]);
  fx.a1 = await admin(d, 'book', ['--doctor', DOCTOR.username, '--patient', String(fx.p1), '--start', 'now', '--minutes', '20', '--public-url', d.base]);
  const g = await doc.post(`/api/appointments/${fx.a1.appointment_id}/guests`, { role: 'interpreter' });
  assert.equal(g.status, 201, g.text);
  fx.guestToken = g.json.token;
  ca = await readFile(path.join(d.dir, 'tls', 'cert.pem'));
});

after(async () => {
  if (!d) return;
  const r = await d.stop();
  assert.equal(r.code, 0);
  await d.cleanup();
});

const join = (tok, rest = '') => `/api/join/${tok}${rest}`;
const audit = async (appointmentId) => {
  const r = await api.get(`/api/audit?appointment_id=${appointmentId}&limit=1000`);
  assert.equal(r.status, 200, r.text);
  return r.json.audit;
};
const open = (cookie) => wsConnect({ host: HOST, port: d.port, ca, cookie, origin: d.base });

describe('consent', () => {
  it('refuses a bad body with the field at fault, writing nothing', async () => {
    const tok = fx.a1.token;
    for (const [body, code, field] of [
      [{ version: '2026-12-v1' }, 'missing_field', 'language'],
      [{ version: '2026-12-v1', language: 'en', extra: 1 }, 'unknown_field', 'extra'],
      [{ version: 7, language: 'en' }, 'wrong_type', 'version'],
      [{ version: '2026-12-v1', language: 'fr' }, 'invalid', 'language'],
      [{ version: 'a b', language: 'en' }, 'invalid', 'version'],
      [{ version: 'x'.repeat(33), language: 'en' }, 'invalid', 'version'],
    ]) {
      const r = await request(d, 'POST', join(tok, '/consent'), { body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error, code, r.text);
      assert.equal(r.json.field, field, r.text);
    }
    assert.equal((await request(d, 'GET', join(tok))).json.consent_version, null);
  });

  it('records the version per appointment and token role; GET /api/join says it', async () => {
    const r = await request(d, 'POST', join(fx.a1.token, '/consent'), { body: { version: '2026-12-v1', language: 'ur' } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual([r.json.version, r.json.language, r.json.appointment_id], ['2026-12-v1', 'ur', fx.a1.appointment_id]);
    const again = await request(d, 'POST', join(fx.a1.token, '/consent'), { body: { version: '2026-12-v1', language: 'en' } });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.json.accepted_at, r.json.accepted_at, 'the first acceptance is kept');
    assert.equal((await request(d, 'GET', join(fx.a1.token))).json.consent_version, '2026-12-v1');
    // The interpreter of the same appointment has not consented yet.
    assert.equal((await request(d, 'GET', join(fx.guestToken))).json.consent_version, null);
    const later = await request(d, 'POST', join(fx.a1.token, '/consent'), { body: { version: '2027-01-v2', language: 'en' } });
    assert.equal(later.status, 201);
    assert.equal((await request(d, 'GET', join(fx.a1.token))).json.consent_version, '2027-01-v2');
    const rows = (await audit(fx.a1.appointment_id)).filter((x) => x.action === 'consent.accept');
    assert.deepEqual(rows.map((x) => x.outcome).sort(), ['ok', 'ok', 'ok', 'refused', 'refused', 'refused', 'refused', 'refused', 'refused']);
    assert.ok(rows.every((x) => x.actor_kind === 'patient' && x.actor_id === fx.p1));
  });

  it('an unknown or expired link: 404 / 410', async () => {
    const r = await request(d, 'POST', join('A'.repeat(43), '/consent'), { body: { version: 'v1', language: 'en' } });
    assert.equal(r.status, 404);
    assert.equal(r.json.error, 'unknown_token');
  });
});

describe('the network probe', () => {
  it('answers exactly the bytes asked, never cached, not audited', async () => {
    const before = (await audit(fx.a1.appointment_id)).length;
    const r = await request(d, 'GET', join(fx.a1.token, '/probe?bytes=50000'));
    assert.equal(r.status, 200);
    assert.equal(r.text.length, 50000);
    assert.match(r.headers['content-type'], /application\/octet-stream/);
    assert.match(r.headers['cache-control'], /no-store/);
    const empty = await request(d, 'GET', join(fx.a1.token, '/probe?bytes=0'));
    assert.equal(empty.status, 200);
    assert.equal(empty.text.length, 0);
    assert.equal((await audit(fx.a1.appointment_id)).length, before, 'no audit row for a probe');
  });

  it('is capped at 200000 bytes and strict about its query', async () => {
    const tok = fx.a1.token;
    for (const [q, status, code] of [['?bytes=200001', 400, 'invalid'], ['?bytes=abc', 400, 'wrong_type'], ['?size=1', 400, 'unknown_field']]) {
      const r = await request(d, 'GET', join(tok, `/probe${q}`));
      assert.equal(r.status, status, `${q}: ${r.text}`);
      assert.equal(r.json.error, code, r.text);
    }
    assert.equal((await request(d, 'GET', join(tok, '/probe?bytes=200000'))).text.length, 200000);
    assert.equal((await request(d, 'GET', join('B'.repeat(43), '/probe?bytes=10'))).status, 404);
  });
});

describe('the waiting room\'s expected wait and the rating', () => {
  let w1, w2, wd;

  after(() => {
    for (const w of [w1, w2, wd]) w?.close();
  });

  it('rating before the consultation started: 409 not_started', async () => {
    const r = await request(d, 'POST', join(fx.a1.token, '/rating'), { body: { stars: 5 } });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error, 'not_started');
  });

  it('expected wait: unknown while the doctor is offline, then the queue ahead, then the running call', async () => {
    w1 = await open();
    w1.send({ type: 'hello', token: fx.a1.token });
    const m1 = await w1.next((m) => m.type === 'waiting');
    assert.equal(m1.position, 1);
    assert.equal(m1.doctor_status, 'offline');
    assert.equal(m1.expected_wait_min, null, 'nobody can say while the doctor is offline');
    await sleep(1100); // arrivals are stamped in whole seconds: p2 arrives after p1
    w2 = await open();
    w2.send({ type: 'hello', token: fx.a2.token });
    await w2.next((m) => m.type === 'waiting');

    wd = await open(doc.cookie);
    wd.send({ type: 'hello' });
    await wd.next((m) => m.type === 'welcome');
    const a1 = await w1.next((m) => m.type === 'waiting' && m.doctor_status === 'available', 5000, w1.messages.length - 1);
    assert.equal(a1.expected_wait_min, 0, 'first in the queue, the doctor free');
    const a2 = await w2.next((m) => m.type === 'waiting' && m.doctor_status === 'available', 5000, 0);
    assert.equal(a2.position, 2);
    assert.equal(a2.expected_wait_min, 20, 'one patient ahead, booked for 20 minutes');

    // Nothing changes in the room: the server still re-tells each waiting patient every 30 s
    // (SIG_WAITING_REFRESH_S), so that the expected wait follows a running call as it goes on.
    await wd.next((m) => m.type === 'waiting_room' && m.patients.length === 2, 5000, 0);
    const quiet = w2.messages.length;
    const consoleSeen = wd.messages.length;
    const t0 = Date.now();
    const q2 = await w2.next((m) => m.type === 'waiting', 40000, quiet);
    assert.ok(Date.now() - t0 <= 35000, `re-told after ${Date.now() - t0} ms`);
    assert.deepEqual([q2.position, q2.doctor_status, q2.expected_wait_min], [2, 'available', 20]);
    assert.equal(wd.messages.slice(consoleSeen).filter((m) => m.type === 'waiting_room').length, 0,
      'the console\'s list is not re-sent (a doctor typing a message to a waiting patient keeps it)');

    const seen = w2.messages.length;
    wd.send({ type: 'admit', appointment_id: fx.a1.appointment_id });
    await w1.next((m) => m.type === 'call_started', 5000);
    const b2 = await w2.next((m) => m.type === 'waiting' && m.doctor_status === 'busy', 5000, seen);
    assert.equal(b2.position, 1);
    assert.ok(b2.expected_wait_min >= 19 && b2.expected_wait_min <= 20, `the running call's 20 minutes, less the seconds gone: ${b2.expected_wait_min}`);
  });

  it('rating: the patient only, bounded, once; the comment never logged', async () => {
    const tok = fx.a1.token;
    const guest = await request(d, 'POST', join(fx.guestToken, '/rating'), { body: { stars: 3 } });
    assert.equal(guest.status, 403, guest.text);
    for (const [body, code, field] of [
      [{ stars: 0 }, 'invalid', 'stars'],
      [{ stars: 6 }, 'invalid', 'stars'],
      [{ stars: '5' }, 'wrong_type', 'stars'],
      [{}, 'missing_field', 'stars'],
      [{ stars: 4, comment: 'x'.repeat(1001) }, 'invalid', 'comment'],
      [{ stars: 4, comment: 'bell\u0007' }, 'invalid', 'comment'],
    ]) {
      const r = await request(d, 'POST', join(tok, '/rating'), { body });
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 60)}: ${r.text}`);
      assert.equal(r.json.error, code, r.text);
      assert.equal(r.json.field, field, r.text);
    }
    assert.equal((await request(d, 'GET', join(tok))).json.rated, false);
    const ok = await request(d, 'POST', join(tok, '/rating'), { body: { stars: 4, comment: COMMENT } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.stars, 4);
    assert.equal(typeof ok.json.rated_at, 'number');
    const again = await request(d, 'POST', join(tok, '/rating'), { body: { stars: 1 } });
    assert.equal(again.status, 409);
    assert.equal(again.json.error, 'already_rated');
    assert.equal((await request(d, 'GET', join(tok))).json.rated, true);
    // A 1000-character Urdu comment is within bounds (characters, not bytes).
    assert.equal((await request(d, 'POST', join(fx.a2.token, '/rating'), { body: { stars: 2, comment: 'ب'.repeat(1000) } })).json.error, 'not_started');
    const rows = (await audit(fx.a1.appointment_id)).filter((x) => x.action === 'consultation.rate');
    assert.equal(rows.filter((x) => x.outcome === 'ok').length, 1);
    assert.ok(!JSON.stringify(rows).includes('SECRET-COMMENT'));
    assert.ok(!d.log().includes('SECRET-COMMENT'), 'the comment is not in the daemon\'s log');
  });
});
