// A consultation's clinical content (issue 5, "The three faces"), against the real daemon on
// 127.0.0.1: chat over WSS (doctor → waiting patient, patient → doctor, stored and replayed on
// reconnect, rate-limited, over-long and foreign messages refused), photos of documents (upload
// by the patient's token: 413 / 415 / 400 for oversize, unsupported and mislabelled bodies; read
// by the appointment's own doctor only), private notes (own doctor only; never through a token),
// advice (given by the doctor, read back by the patient's token only), the patient's details for
// the console; every refusal in the API's JSON error form with nothing written; the texts never
// in the daemon's log; and the retention run erasing all of it.
//
// Run: MASHWARA_BIN=<build>/daemon/mashwara node --test tests/api/clinical.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { startDaemon, admin, login, client, request, sleep, HOST } from './lib.mjs';
import { wsConnect } from './wsclient.mjs';

const ADMIN = { username: 'clin.admin', name: 'Clinical Admin', password: 'clin-admin-pass' };
const DOC_A = { username: 'clin.dr.a', name: 'Dr Amina Clinical', password: 'doctor-a-pass' };
const DOC_B = { username: 'clin.dr.b', name: 'Dr Bilal Clinical', password: 'doctor-b-pass' };
const ANALYST = { username: 'clin.analyst', name: 'Clinical Analyst', password: 'analyst-pass' };
const P = { name: 'Parveen Clinical-Unique', phone: '+923001112233', sex: 'female', birth_year: 1984 };
// Texts that must never reach the log (nor the audit log).
const CHAT_DOC = 'Please keep your BP card ready SECRET-CHAT-1';
const CHAT_PAT = 'میرے پاس کارڈ ہے SECRET-CHAT-2';
const NOTE = 'Suspect hypertension; check renal function SECRET-NOTE';
const ADVICE = 'Amlodipine 5 mg once daily for 30 days SECRET-ADVICE';

// A real 1x1 PNG and the first bytes of a JPEG (SOI + APP0 JFIF).
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]), Buffer.alloc(200, 7), Buffer.from([0xff, 0xd9])]);

let d;
let api; // admin
let docA; // doctor A's client
let docB;
let analyst;
const fx = {};

/** Asserts a JSON error: status, error code and field (undefined: not checked). */
function assertError(r, status, code, field) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text}`);
  assert.equal(r.json?.error, code, r.text);
  assert.ok(typeof r.json.message === 'string' && r.json.message.length > 0, r.text);
  if (field !== undefined) assert.equal(r.json.field, field, r.text);
}

function upload(token, body, contentType) {
  return request(d, 'POST', `/api/join/${token}/attachments`, { body, headers: contentType ? { 'content-type': contentType } : {} });
}

/** GET returning the raw bytes (the photo). */
function getRaw(urlPath, cookie) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(urlPath, d.base), { agent: d.agent, headers: cookie ? { cookie } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function ws(cookie) {
  const ca = await readFile(path.join(d.dir, 'tls', 'cert.pem'));
  return wsConnect({ host: HOST, port: d.port, ca, cookie, origin: d.base });
}

before(async () => {
  d = await startDaemon();
  await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name, '--password', ADMIN.password, '--role', 'admin']);
  api = client(d, await login(d, ADMIN.username, ADMIN.password));
  const f = await api.post('/api/facilities', { name: 'Clinical BHU', district: 'Swat', sector: 'public' });
  assert.equal(f.status, 201, f.text);
  for (const [key, who] of [['docA', DOC_A], ['docB', DOC_B]]) {
    const r = await api.post('/api/doctors', { ...who, facility_id: f.json.facility.id, specialty: 'general' });
    assert.equal(r.status, 201, r.text);
    fx[key] = r.json.doctor.id;
  }
  const an = await api.post('/api/staff', { ...ANALYST, role: 'analyst' });
  assert.equal(an.status, 201, an.text);
  const p = await api.post('/api/patients', P);
  assert.equal(p.status, 201, p.text);
  fx.p = p.json.patient.id;
  const a1 = await admin(d, 'book', ['--doctor', DOC_A.username, '--patient', String(fx.p), '--start', 'now', '--minutes', '30', '--public-url', d.base]);
  fx.a1 = a1.appointment_id;
  fx.token = a1.token;
  docA = client(d, await login(d, DOC_A.username, DOC_A.password));
  docB = client(d, await login(d, DOC_B.username, DOC_B.password));
  analyst = client(d, await login(d, ANALYST.username, ANALYST.password));
  const g = await docA.post(`/api/appointments/${fx.a1}/guests`, { role: 'interpreter' });
  assert.equal(g.status, 201, g.text);
  fx.guestToken = g.json.token;
});

after(async () => {
  if (!d) return;
  const log = d.log();
  const r = await d.stop();
  assert.equal(r.code, 0, `daemon exit: ${JSON.stringify(r)}`);
  for (const secret of [CHAT_DOC, CHAT_PAT, NOTE, ADVICE, P.name, P.phone]) {
    assert.ok(!log.includes(secret), `the daemon logged personal data: ${secret}`);
  }
  await d.cleanup();
});

describe('photos of documents', () => {
  it('the patient uploads a PNG and a JPEG; only doctor A reads them, byte for byte', async () => {
    const r1 = await upload(fx.token, PNG, 'image/png');
    assert.equal(r1.status, 201, r1.text);
    assert.equal(r1.json.attachment.media_type, 'image/png');
    assert.equal(r1.json.attachment.size, PNG.length);
    const r2 = await upload(fx.token, JPEG, 'image/jpeg');
    assert.equal(r2.status, 201, r2.text);
    fx.png = r1.json.attachment.id;
    fx.jpeg = r2.json.attachment.id;

    const list = await docA.get(`/api/appointments/${fx.a1}/attachments`);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.attachments.map((a) => [a.id, a.media_type, a.uploader_role]), [[fx.png, 'image/png', 'patient'], [fx.jpeg, 'image/jpeg', 'patient']]);
    const raw = await getRaw(`/api/appointments/${fx.a1}/attachments/${fx.png}`, docA.cookie);
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-type'], 'image/png');
    assert.ok(raw.body.equals(PNG), 'the same bytes come back');
    const rawJ = await getRaw(`/api/appointments/${fx.a1}/attachments/${fx.jpeg}`, docA.cookie);
    assert.equal(rawJ.headers['content-type'], 'image/jpeg');
    assert.ok(rawJ.body.equals(JPEG));
  });

  it('a photo of just under 2 MB goes in and comes back whole', async () => {
    const big = Buffer.concat([JPEG.subarray(0, 11), Buffer.alloc(2 * 1024 * 1024 - 11, 0x5a)]);
    const r = await upload(fx.token, big, 'image/jpeg');
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.attachment.size, big.length);
    const raw = await getRaw(`/api/appointments/${fx.a1}/attachments/${r.json.attachment.id}`, docA.cookie);
    assert.equal(raw.status, 200);
    assert.equal(Number(raw.headers['content-length']), big.length);
    assert.ok(raw.body.equals(big), 'the same 2 MB come back');
  });

  it('nobody else reads them: another doctor 403, admin 403, analyst 403, no session 401', async () => {
    assertError(await docB.get(`/api/appointments/${fx.a1}/attachments`), 403, 'forbidden');
    assertError(await docB.get(`/api/appointments/${fx.a1}/attachments/${fx.png}`), 403, 'forbidden');
    assertError(await api.get(`/api/appointments/${fx.a1}/attachments/${fx.png}`), 403, 'forbidden');
    assertError(await analyst.get(`/api/appointments/${fx.a1}/attachments`), 403, 'forbidden');
    assertError(await request(d, 'GET', `/api/appointments/${fx.a1}/attachments/${fx.png}`), 401, 'not_authenticated');
    // An id of another appointment (or none) is not found under this one.
    assertError(await docA.get(`/api/appointments/${fx.a1}/attachments/${fx.jpeg + 1000}`), 404, 'not_found', 'attachment_id');
    assertError(await docA.get(`/api/appointments/${fx.a1 + 1000}/attachments`), 404, 'not_found', 'appointment_id');
  });

  it('refuses oversize (413), unsupported (415), mislabelled or empty (400), guests (403), unknown links (404); nothing stored', async () => {
    const before = (await docA.get(`/api/appointments/${fx.a1}/attachments`)).json.attachments.length;
    const big = Buffer.concat([PNG.subarray(0, 16), Buffer.alloc(2 * 1024 * 1024 + 1 - 16, 1)]);
    assertError(await upload(fx.token, big, 'image/png'), 413, 'body_too_large', 'size');
    assertError(await upload(fx.token, PNG, 'image/gif'), 415, 'unsupported_media_type', 'content-type');
    assertError(await upload(fx.token, 'just text', 'text/plain'), 415, 'unsupported_media_type');
    assertError(await upload(fx.token, JPEG, 'image/png'), 400, 'invalid', 'media_type');
    assertError(await upload(fx.token, Buffer.from('GIF89a-not-a-png-really'), 'image/png'), 400, 'invalid', 'media_type');
    assertError(await upload(fx.token, Buffer.alloc(0), 'image/jpeg'), 400, 'invalid', 'size');
    assertError(await upload(fx.guestToken, PNG, 'image/png'), 403, 'forbidden');
    assertError(await upload('A'.repeat(43), PNG, 'image/png'), 404, 'unknown_token');
    const after = (await docA.get(`/api/appointments/${fx.a1}/attachments`)).json.attachments.length;
    assert.equal(after, before, 'a refused upload stored nothing');
  });
});

describe('private notes', () => {
  it('start empty, are saved and read back by doctor A', async () => {
    const r0 = await docA.get(`/api/appointments/${fx.a1}/notes`);
    assert.equal(r0.status, 200, r0.text);
    assert.deepEqual(r0.json.notes, { text: '', updated_at: null });
    const w = await docA.put(`/api/appointments/${fx.a1}/notes`, { text: NOTE });
    assert.equal(w.status, 200, w.text);
    const r1 = await docA.get(`/api/appointments/${fx.a1}/notes`);
    assert.equal(r1.json.notes.text, NOTE);
    assert.ok(r1.json.notes.updated_at > 0);
  });

  it('are nobody else\'s: other doctor, admin, analyst 403; no session 401; no token route reaches them', async () => {
    for (const c of [docB, api, analyst]) {
      const r = await c.get(`/api/appointments/${fx.a1}/notes`);
      assertError(r, 403, 'forbidden');
      assert.ok(!r.text.includes(NOTE));
      assertError(await c.put(`/api/appointments/${fx.a1}/notes`, { text: 'overwritten' }), 403, 'forbidden');
    }
    assertError(await request(d, 'GET', `/api/appointments/${fx.a1}/notes`), 401, 'not_authenticated');
    for (const tok of [fx.token, fx.guestToken]) {
      const r = await request(d, 'GET', `/api/join/${tok}/notes`);
      assert.equal(r.status, 404, r.text);
      assert.ok(!r.text.includes(NOTE));
      // Everything a token reads: the link check, the advice.
      for (const p of [`/api/join/${tok}`, `/api/join/${tok}/advice`]) {
        const x = await request(d, 'GET', p);
        assert.ok(!x.text.includes(NOTE), `${p} shows the notes`);
      }
    }
    assert.equal((await docA.get(`/api/appointments/${fx.a1}/notes`)).json.notes.text, NOTE, 'unchanged');
  });

  it('bad input is refused and changes nothing', async () => {
    assertError(await docA.put(`/api/appointments/${fx.a1}/notes`, { text: 'x'.repeat(8001) }), 400, 'invalid', 'text');
    assertError(await docA.put(`/api/appointments/${fx.a1}/notes`, { text: 12 }), 400, 'wrong_type', 'text');
    assertError(await docA.put(`/api/appointments/${fx.a1}/notes`, { text: 'a', extra: 1 }), 400, 'unknown_field', 'extra');
    assertError(await docA.put(`/api/appointments/${fx.a1}/notes`, {}), 400, 'missing_field', 'text');
    assertError(await docA.put(`/api/appointments/${fx.a1}/notes`, { text: 'bell\u0007' }), 400, 'invalid', 'text');
    assert.equal((await docA.get(`/api/appointments/${fx.a1}/notes`)).json.notes.text, NOTE);
    // 8200 characters of Urdu (two bytes each) do not fit a 16 KiB body: 413, still unchanged.
    assertError(await docA.put(`/api/appointments/${fx.a1}/notes`, { text: 'ب'.repeat(8200) }), 413, 'body_too_large');
    assert.equal((await docA.get(`/api/appointments/${fx.a1}/notes`)).json.notes.text, NOTE);
  });
});

describe('advice', () => {
  it('given by doctor A, read back by the patient\'s token only', async () => {
    const r = await docA.post(`/api/appointments/${fx.a1}/advice`, { text: ADVICE });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.advice.text, ADVICE);
    const back = await request(d, 'GET', `/api/join/${fx.token}/advice`);
    assert.equal(back.status, 200, back.text);
    assert.deepEqual(back.json.advice.map((a) => a.text), [ADVICE]);
    assert.equal(back.json.doctor_name, DOC_A.name);
    assertError(await request(d, 'GET', `/api/join/${fx.guestToken}/advice`), 403, 'forbidden');
    assertError(await request(d, 'GET', `/api/join/${'B'.repeat(43)}/advice`), 404, 'unknown_token');
  });

  it('refuses other doctors, empty and over-long texts; nothing written', async () => {
    assertError(await docB.post(`/api/appointments/${fx.a1}/advice`, { text: 'rest' }), 403, 'forbidden');
    assertError(await api.post(`/api/appointments/${fx.a1}/advice`, { text: 'rest' }), 403, 'forbidden');
    assertError(await docA.post(`/api/appointments/${fx.a1}/advice`, { text: '   ' }), 400, 'invalid', 'text');
    assertError(await docA.post(`/api/appointments/${fx.a1}/advice`, { text: 'y'.repeat(4001) }), 400, 'invalid', 'text');
    assertError(await docA.post(`/api/appointments/${fx.a1 + 999}/advice`, { text: 'rest' }), 404, 'not_found');
    const back = await request(d, 'GET', `/api/join/${fx.token}/advice`);
    assert.equal(back.json.advice.length, 1);
  });
});

describe('the patient\'s details for the console', () => {
  it('doctor A: name, phone, age, sex, this visit, previous visits; others 403', async () => {
    const r = await docA.get(`/api/appointments/${fx.a1}/patient`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.patient.name, P.name);
    assert.equal(r.json.patient.phone, P.phone);
    // Age at this visit: the visit's year minus the birth year.
    assert.equal(r.json.patient.age, new Date().getUTCFullYear() - 1984);
    assert.equal(r.json.patient.sex, 'female');
    assert.equal(r.json.visit.id, fx.a1);
    assert.equal(r.json.visit.kind, 'booked');
    assert.equal(r.json.previous_visits, 0);
    for (const c of [docB, api, analyst]) {
      const x = await c.get(`/api/appointments/${fx.a1}/patient`);
      assertError(x, 403, 'forbidden');
      assert.ok(!x.text.includes(P.phone));
    }
  });
});

describe('chat over WSS', () => {
  it('doctor → waiting patient, patient → doctor; refusals; history on reconnect; rate limit', async () => {
    const pat = await ws();
    pat.send({ type: 'hello', token: fx.token });
    await pat.next((m) => m.type === 'waiting');
    const hist0 = pat.messages.find((m) => m.type === 'chat_history');
    assert.ok(hist0, 'a chat_history follows the welcome');
    assert.deepEqual(hist0.messages, []);
    const doc = await ws(docA.cookie);
    doc.send({ type: 'hello' });
    await doc.next((m) => m.type === 'waiting_room' && m.patients.length === 1);

    doc.send({ type: 'chat', appointment_id: fx.a1, text: CHAT_DOC });
    const got = await pat.next((m) => m.type === 'chat');
    assert.equal(got.text, CHAT_DOC);
    assert.equal(got.sender_role, 'doctor');
    assert.equal(got.sender_name, DOC_A.name);
    assert.equal(got.from_you, false);
    const echo = await doc.next((m) => m.type === 'chat');
    assert.equal(echo.from_you, true);

    pat.send({ type: 'chat', text: CHAT_PAT });
    const reply = await doc.next((m) => m.type === 'chat' && m.text === CHAT_PAT);
    assert.equal(reply.sender_role, 'patient');
    assert.equal(reply.appointment_id, fx.a1);

    // Refused: over-long, empty, wrong type; another doctor; the doctor without a target.
    let from = pat.messages.length;
    pat.send({ type: 'chat', text: 'z'.repeat(1001) });
    let e = await pat.next((m) => m.type === 'error', 3000, from);
    assert.equal(e.code, 'malformed_message');
    from = pat.messages.length;
    pat.send({ type: 'chat', text: ' \n ' });
    e = await pat.next((m) => m.type === 'error', 3000, from);
    assert.equal(e.code, 'malformed_message');
    from = pat.messages.length;
    pat.send({ type: 'chat', text: 5 });
    e = await pat.next((m) => m.type === 'error', 3000, from);
    assert.equal(e.code, 'malformed_message');
    const other = await ws(docB.cookie);
    other.send({ type: 'hello' });
    await other.next((m) => m.type === 'welcome');
    other.send({ type: 'chat', appointment_id: fx.a1, text: 'hello from B' });
    e = await other.next((m) => m.type === 'error');
    assert.equal(e.code, 'not_allowed');
    from = doc.messages.length;
    doc.send({ type: 'chat', text: 'to whom?' });
    e = await doc.next((m) => m.type === 'error', 3000, from);
    assert.equal(e.code, 'not_allowed');
    await sleep(300);
    assert.ok(!pat.messages.some((m) => m.type === 'chat' && (m.text === 'hello from B' || m.text === 'to whom?')), 'refused messages reach nobody');
    await other.close();

    // The patient's page comes back: the history, in order, with who sent what.
    await pat.close();
    await sleep(200);
    const pat2 = await ws();
    pat2.send({ type: 'hello', token: fx.token });
    const hist = await pat2.next((m) => m.type === 'chat_history');
    assert.deepEqual(hist.messages.map((m) => [m.sender_role, m.text, m.from_you]), [['doctor', CHAT_DOC, false], ['patient', CHAT_PAT, true]]);

    // Rate limit: a burst beyond 10 gets too_many_requests, and those are not stored.
    from = pat2.messages.length;
    for (let i = 0; i < 14; i++) pat2.send({ type: 'chat', text: `burst ${i}` });
    e = await pat2.next((m) => m.type === 'error' && m.code === 'too_many_requests', 5000, from);
    assert.ok(e);
    await sleep(300);
    const echoed = pat2.messages.slice(from).filter((m) => m.type === 'chat').length;
    assert.ok(echoed >= 8 && echoed <= 11, `stored ${echoed} of 14`);
    await pat2.close();
    await doc.close();
  });
});

describe('audit and retention', () => {
  it('the routes are audited by id, never by text', async () => {
    const r = await api.get(`/api/audit?appointment_id=${fx.a1}&limit=1000`);
    assert.equal(r.status, 200, r.text);
    const actions = new Set(r.json.audit.map((x) => x.action));
    for (const a of ['appointment.photo_upload', 'appointment.photo_read', 'appointment.photo_list', 'appointment.notes_update', 'appointment.notes_read', 'appointment.advice_give', 'appointment.advice_read', 'appointment.patient_read', 'consultation.message']) {
      assert.ok(actions.has(a), `no audit row ${a}: ${[...actions].join(', ')}`);
    }
    const refused = r.json.audit.filter((x) => x.action === 'appointment.photo_upload' && x.outcome === 'refused');
    assert.ok(refused.length >= 4, 'refused uploads are recorded too');
    for (const s of [CHAT_DOC, CHAT_PAT, NOTE, ADVICE]) assert.ok(!r.text.includes(s));
  });

  it('the retention run erases messages, photos, notes and advice of old consultations', async () => {
    const run = await admin(d, 'retention-run', ['--at=+' + String(400 * 24 * 3600)]);
    assert.ok(run.clinical >= 3 + 1 + 1 + 2, `clinical rows erased: ${JSON.stringify(run)}`);
    // The run at that clock also ended every session: sign in again.
    const again = client(d, await login(d, DOC_A.username, DOC_A.password));
    assert.deepEqual((await again.get(`/api/appointments/${fx.a1}/attachments`)).json.attachments, []);
    assert.equal((await again.get(`/api/appointments/${fx.a1}/notes`)).json.notes.text, '');
  });
});
