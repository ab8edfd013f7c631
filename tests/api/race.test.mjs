// Double booking is impossible (issue 3): many clients, each on its own TLS connection, race for
// one slot at the same instant; exactly one wins, every loser gets 409 "slot_taken", and the
// database holds exactly one live appointment in that slot. Races: book, hold, a holder's
// confirm against bookers, many confirms of one hold, holds against bookings, and the operator's
// command line (a second process on the same database) against the API; five rounds each.
//
// How the race is made real: every client opens its own TLS connection first (no shared
// keep-alive agent), the request bytes are prepared, and then all of them are written in one
// synchronous loop, so they reach the server together and queue on its loop; the figures
// printed per round show how close together they were sent and answered.
//
// Environment: MASHWARA_BIN (see lib.mjs), MW_RACE_CLIENTS (default 40, at least 32).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDaemon, admin, adminRun, login, client, HOST } from './lib.mjs';
import { csrfToken } from '../common/https.mjs';

const CLIENTS = Math.max(32, Number(process.env.MW_RACE_CLIENTS || 40));
const ROUNDS = 5;
const ADMIN = { username: 'race.admin', name: 'Race Admin', password: 'race-admin-password' };
const LIVE = new Set(['pending', 'booked', 'arrived', 'checked-in']);

let d; // the daemon
let api; // a staff client (admin session)
let ca; // the daemon's certificate
let fx; // fixture: doctor, service, patients, free slots

// --- raw HTTPS on one TLS connection per client ----------------------------------------------

/** Opens a TLS connection to the daemon (verified against its own certificate). */
function connect() {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: HOST, port: d.port, ca });
    sock.setTimeout(20000, () => sock.destroy(new Error('connection timed out')));
    sock.once('secureConnect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** The bytes of one HTTP/1.1 request (Connection: close: one request per connection). */
function requestBytes(method, urlPath, body) {
  const data = body === undefined ? '' : JSON.stringify(body);
  const head = [`${method} ${urlPath} HTTP/1.1`, `Host: ${HOST}:${d.port}`, `Cookie: ${api.cookie}`,
    `X-CSRF-Token: ${csrfToken(api.cookie)}`, 'Connection: close', 'Accept: application/json'];
  if (body !== undefined) head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(data)}`);
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${data}`);
}

/** Parses a complete HTTP/1.1 response from `buf`, or null if more bytes are needed. */
function parseResponse(buf, final) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : null;
  const body = buf.subarray(end + 4);
  if (len === null ? !final : body.length < len) return null;
  const text = body.subarray(0, len === null ? body.length : len).toString('utf8');
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status, headers, text, json };
}

/** Writes the prepared request on an open connection; resolves with the parsed response. */
function exchange(sock, bytes, t0) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (r) => {
      if (settled) return;
      settled = true;
      r.ms = Number(process.hrtime.bigint() - t0) / 1e6;
      sock.destroy();
      resolve(r);
    };
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      const r = parseResponse(buf, false);
      if (r) finish(r);
    });
    sock.once('error', (e) => { if (!settled) { settled = true; reject(e); } });
    sock.once('close', () => {
      const r = parseResponse(buf, true);
      if (r) finish(r);
      else if (!settled) { settled = true; reject(new Error(`connection closed after ${buf.length} bytes, no full response`)); }
    });
    sock.write(bytes);
  });
}

/**
 * Opens one connection per request, then fires every request at once. `requests`: [{method,
 * path, body}]. Resolves with the responses (same order) and the timing figures.
 */
async function race(requests, { beforeFire } = {}) {
  const socks = await Promise.all(requests.map(() => connect()));
  const bytes = requests.map((r) => requestBytes(r.method, r.path, r.body));
  if (beforeFire) await beforeFire();
  const firedAt = Date.now();
  const t0 = process.hrtime.bigint();
  const pending = [];
  for (let i = 0; i < socks.length; i++) pending.push(exchange(socks[i], bytes[i], t0));
  const fireMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const responses = await Promise.all(pending);
  const times = responses.map((r) => r.ms).sort((a, b) => a - b);
  return { responses, firedAt, fireMs, firstMs: times[0], lastMs: times[times.length - 1] };
}

const is2xx = (r) => r.status >= 200 && r.status < 300;

function histogram(responses) {
  const h = {};
  for (const r of responses) {
    const k = `${r.status}${r.json?.error ? ` ${r.json.error}` : ''}`;
    h[k] = (h[k] || 0) + 1;
  }
  return Object.entries(h).map(([k, v]) => `${v}× ${k}`).join(', ');
}

function report(name, round, res) {
  console.log(`${name} round ${round}: ${res.responses.length} connections; all written within `
    + `${res.fireMs.toFixed(2)} ms; answers from ${res.firstMs.toFixed(1)} to ${res.lastMs.toFixed(1)} ms; `
    + histogram(res.responses));
}

/** Every loser: 409 with error "slot_taken" and a plain message. */
function assertSlotTaken(responses, what) {
  for (const r of responses) {
    assert.equal(r.status, 409, `${what}: a loser got ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'slot_taken', `${what}: a loser's error is ${r.text}`);
    assert.match(r.json?.message ?? '', /slot taken/i, `${what}: the message says so`);
  }
}

/** The live appointments of the fixture's doctor starting at `startsAt`, read through the API. */
async function liveAt(startsAt) {
  const r = await api.get(`/api/appointments?doctor_id=${fx.doctorId}&from=${startsAt}&to=${startsAt + 1}&limit=100`);
  assert.equal(r.status, 200, r.text);
  return r.json.appointments.filter((a) => a.starts_at === startsAt && LIVE.has(a.status));
}

/** The next free slot of the fixture (each race takes a fresh one). */
function nextSlot() {
  const s = fx.slots.shift();
  assert.ok(s, 'the fixture ran out of free slots');
  return s;
}

const slotBody = (s, patientId) => ({ doctor_id: fx.doctorId, service_id: fx.serviceId, patient_id: patientId, starts_at: s.starts_at });

// --- fixture ---------------------------------------------------------------------------------

before(async () => {
  // Each round fires ~40 requests at once from one address, five rounds per race, several
  // races: on a quiet machine that ran into the per-address request rate (100/s, burst 1000)
  // and a loser got 429 instead of 409. The limits have their own test (authz.test.mjs); here
  // they are off (a negative rate), so only the race is measured.
  const confDir = await mkdtemp(path.join(tmpdir(), 'mw-race-'));
  const conf = path.join(confDir, 'mashwara.conf');
  await writeFile(conf, ['[server]', 'requests_per_second_per_address=-1', 'requests_per_second_per_token=-1', ''].join('\n'));
  d = await startDaemon({ extraArgs: ['--config', conf] });
  ca = await readFile(path.join(d.dir, 'tls', 'cert.pem'));
  // The first admin comes from the operator's command line; everything else through the API.
  await admin(d, 'add-staff', ['--role', 'admin', '--username', ADMIN.username, '--name', ADMIN.name,
    '--password', ADMIN.password]);
  api = client(d, await login(d, ADMIN.username, ADMIN.password));

  const f = await api.post('/api/facilities', { name: 'Race BHU', district: 'Lahore', sector: 'public', timezone: 'Asia/Karachi' });
  assert.equal(f.status, 201, f.text);
  const doc = await api.post('/api/doctors', { username: 'race.dr', name: 'Dr. Race', password: 'race-doctor-password',
    facility_id: f.json.facility.id, specialty: 'general', languages: ['ur', 'en'], gender: 'female' });
  assert.equal(doc.status, 201, doc.text);
  const svc = await api.post('/api/services', { facility_id: f.json.facility.id, name: 'Video consultation',
    specialty: 'general', duration_min: 20, buffer_before_min: 0, buffer_after_min: 5, max_per_day: 0 });
  assert.equal(svc.status, 201, svc.text);
  fx = { doctorId: doc.json.doctor.id, serviceId: svc.json.service.id, patients: [], slots: [] };
  for (let wd = 1; wd <= 7; wd++) {
    const a = await api.post('/api/availability', { doctor_id: fx.doctorId, service_id: fx.serviceId, weekday: wd,
      start_min: 0, end_min: 1440 });
    assert.equal(a.status, 201, a.text);
  }
  for (let i = 0; i < CLIENTS; i++) {
    const p = await api.post('/api/patients', { name: `Race Patient ${i + 1}`, phone: `+9230099${String(i).padStart(5, '0')}` });
    assert.equal(p.status, 201, p.text);
    fx.patients.push(p.json.patient.id);
  }
  const from = Math.floor(Date.now() / 1000) + 2 * 86400;
  const s = await api.get(`/api/slots?doctor_id=${fx.doctorId}&service_id=${fx.serviceId}&from=${from}&to=${from + 3 * 86400}&limit=200`);
  assert.equal(s.status, 200, s.text);
  fx.slots = s.json.slots;
  assert.ok(fx.slots.length >= ROUNDS * 6, `enough free slots (${fx.slots.length})`);
  console.log(`${CLIENTS} clients per race, ${ROUNDS} rounds; doctor ${fx.doctorId}, service ${fx.serviceId}`);
});

after(async () => {
  if (!d) return;
  const exit = await d.stop();
  if (exit.code !== 0 || exit.timedOut) console.log(`daemon exit ${JSON.stringify(exit)}\n${d.log().slice(-4000)}`);
  await d.cleanup();
});

// --- the races -------------------------------------------------------------------------------

test(`book: ${CLIENTS} clients book one slot; one wins, the rest get 409 slot_taken`, async () => {
  for (let round = 1; round <= ROUNDS; round++) {
    const s = nextSlot();
    const res = await race(fx.patients.map((p) => ({ method: 'POST', path: '/api/appointments', body: slotBody(s, p) })));
    report('book', round, res);
    const winners = res.responses.filter(is2xx);
    assert.equal(winners.length, 1, `exactly one booking succeeds: ${histogram(res.responses)}`);
    assert.equal(winners[0].status, 201);
    assert.equal(winners[0].json.appointment.status, 'booked');
    assert.ok(winners[0].json.token, 'the winner gets a join token');
    assertSlotTaken(res.responses.filter((r) => !is2xx(r)), 'book');
    const live = await liveAt(s.starts_at);
    assert.equal(live.length, 1, `one live appointment in the slot: ${JSON.stringify(live)}`);
    assert.equal(live[0].id, winners[0].json.appointment.id);
    assert.equal(live[0].patient_id, winners[0].json.appointment.patient_id);
  }
});

test(`hold: ${CLIENTS} clients hold one slot; one hold, the rest 409 slot_taken`, async () => {
  for (let round = 1; round <= ROUNDS; round++) {
    const s = nextSlot();
    const res = await race(fx.patients.map((p) => ({ method: 'POST', path: '/api/holds', body: slotBody(s, p) })));
    report('hold', round, res);
    const winners = res.responses.filter(is2xx);
    assert.equal(winners.length, 1, `exactly one hold succeeds: ${histogram(res.responses)}`);
    assert.equal(winners[0].json.appointment.status, 'pending');
    assert.ok(winners[0].json.appointment.hold_expires_at > 0);
    assertSlotTaken(res.responses.filter((r) => !is2xx(r)), 'hold');
    const live = await liveAt(s.starts_at);
    assert.equal(live.length, 1, `one live hold in the slot: ${JSON.stringify(live)}`);
    assert.equal(live[0].id, winners[0].json.appointment.id);
    assert.equal(live[0].status, 'pending');
  }
});

test(`hold then confirm while ${CLIENTS - 1} others book the held slot: the holder keeps it`, async () => {
  for (let round = 1; round <= ROUNDS; round++) {
    const s = nextSlot();
    const hold = await api.post('/api/holds', slotBody(s, fx.patients[0]));
    assert.equal(hold.status, 201, hold.text);
    const id = hold.json.appointment.id;
    const reqs = [{ method: 'POST', path: `/api/appointments/${id}/confirm` },
      ...fx.patients.slice(1).map((p) => ({ method: 'POST', path: '/api/appointments', body: slotBody(s, p) }))];
    const res = await race(reqs);
    report('confirm-vs-book', round, res);
    const [confirm, ...bookers] = res.responses;
    assert.equal(confirm.status, 200, `the holder's confirm succeeds: ${confirm.text}`);
    assert.equal(confirm.json.appointment.status, 'booked');
    assert.ok(confirm.json.token, 'the confirmation issues the join token');
    assertSlotTaken(bookers, 'book against a hold');
    const live = await liveAt(s.starts_at);
    assert.equal(live.length, 1, `one live appointment in the slot: ${JSON.stringify(live)}`);
    assert.equal(live[0].id, id);
    assert.equal(live[0].status, 'booked');
  }
});

test(`${CLIENTS} confirms of one hold: one confirmation, one token, one notice`, async () => {
  for (let round = 1; round <= ROUNDS; round++) {
    const s = nextSlot();
    const hold = await api.post('/api/holds', slotBody(s, fx.patients[round]));
    assert.equal(hold.status, 201, hold.text);
    const id = hold.json.appointment.id;
    const res = await race(fx.patients.map(() => ({ method: 'POST', path: `/api/appointments/${id}/confirm` })));
    report('confirm-confirm', round, res);
    const winners = res.responses.filter(is2xx);
    assert.equal(winners.length, 1, `exactly one confirm succeeds: ${histogram(res.responses)}`);
    assert.ok(winners[0].json.token, 'one join token issued');
    for (const r of res.responses.filter((x) => !is2xx(x))) {
      assert.equal(r.status, 409, `a repeated confirm: ${r.status} ${r.text}`);
      assert.equal(r.json?.field, 'status', `a repeated confirm names the field: ${r.text}`);
    }
    const live = await liveAt(s.starts_at);
    assert.equal(live.length, 1);
    assert.equal(live[0].status, 'booked');
    const out = await api.get(`/api/outbox?appointment_id=${id}`);
    assert.equal(out.status, 200, out.text);
    const confirmations = out.json.outbox.filter((n) => n.kind === 'confirmation');
    assert.equal(confirmations.length, 1, `one confirmation notice queued: ${JSON.stringify(out.json.outbox.map((n) => n.kind))}`);
  }
});

test(`mixed: ${CLIENTS / 2} holds and ${CLIENTS / 2} bookings for one slot; one winner`, async () => {
  for (let round = 1; round <= ROUNDS; round++) {
    const s = nextSlot();
    const res = await race(fx.patients.map((p, i) => ({ method: 'POST', path: i % 2 ? '/api/holds' : '/api/appointments', body: slotBody(s, p) })));
    report('hold-vs-book', round, res);
    const winners = res.responses.filter(is2xx);
    assert.equal(winners.length, 1, `exactly one succeeds: ${histogram(res.responses)}`);
    assertSlotTaken(res.responses.filter((r) => !is2xx(r)), 'hold-vs-book');
    const live = await liveAt(s.starts_at);
    assert.equal(live.length, 1);
    assert.equal(live[0].id, winners[0].json.appointment.id);
  }
});

test('the operator\'s command line racing the API from another process never makes a second booking', async () => {
  // The daemon serves requests one at a time on its loop; a second process writing the same
  // database (`mashwara admin book`) is the truly concurrent writer. Its first store open costs
  // one Argon2id hash, so the HTTP requests are fired after a measured delay to overlap.
  // Calibrate with the same concurrency: four processes opening the store at once.
  const t = Date.now();
  const calib = await Promise.all(Array.from({ length: 4 }, (_, i) => adminRun(d, 'add-patient', ['--name', `Calibration ${i}`])));
  for (const c of calib) assert.equal(c.code, 0, c.stderr);
  const cliMs = Date.now() - t;
  for (let round = 1; round <= ROUNDS; round++) {
    const s = nextSlot();
    const cli = () => adminRun(d, 'book', ['--doctor', 'race.dr', '--patient', String(fx.patients[0]),
      `--start=${s.starts_at}`, '--minutes', '20', '--public-url', d.base]);
    let spawned = 0;
    let clis = [];
    const res = await race(fx.patients.slice(4).map((p) => ({ method: 'POST', path: '/api/appointments', body: slotBody(s, p) })), {
      // The connections are open; start the processes, and fire when they should be booking.
      beforeFire: async () => {
        spawned = Date.now();
        clis = Array.from({ length: 4 }, () => cli().then((r) => ({ ...r, doneAt: Date.now() })));
        await new Promise((r) => setTimeout(r, Math.max(0, cliMs - 20)));
      },
    });
    const cliResults = await Promise.all(clis);
    console.log(`book-vs-cli: HTTP fired ${res.firedAt - spawned} ms after the processes started; they ended at `
      + `${cliResults.map((r) => r.doneAt - spawned).join(', ')} ms`);
    const cliWins = cliResults.filter((r) => r.code === 0).length;
    report('book-vs-cli', round, res);
    console.log(`book-vs-cli: admin book processes (~${cliMs} ms each): ${cliWins} succeeded, `
      + `${cliResults.length - cliWins} refused (${[...new Set(cliResults.filter((r) => r.code).map((r) => r.stderr.trim()))].join(' | ')})`);
    const httpWins = res.responses.filter(is2xx).length;
    assert.equal(httpWins + cliWins, 1, `exactly one booking across both processes: http ${httpWins}, cli ${cliWins}`);
    assertSlotTaken(res.responses.filter((r) => !is2xx(r)), 'book-vs-cli');
    for (const r of cliResults.filter((x) => x.code !== 0)) assert.match(r.stderr, /slot taken/i);
    const live = await liveAt(s.starts_at);
    assert.equal(live.length, 1, `one live appointment: ${JSON.stringify(live)}`);
  }
});
