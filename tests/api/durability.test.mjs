// Durability: SIGKILL the daemon in the middle of a stream of bookings, restart it on the same
// data, and check what must survive a crash:
//   - every booking the client saw acknowledged (2xx) is there, with its confirmation notice
//     (they are written in one transaction);
//   - `PRAGMA integrity_check` says ok, right after the kill and at the end;
//   - the outbox drains completely, and the gateway, deduplicating by Idempotency-Key, sees each
//     notice exactly once: no notice is ever sent under two keys, no key carries two notices.
//     Delivery is at-least-once: a notice sent but not yet recorded when the process died goes
//     again under the SAME key after its lease. Such raw re-deliveries are allowed only across
//     the crash (first before the kill, again after the restart); they are counted and printed.
// The gateway is a small HTTP server in this process on 127.0.0.1 that answers after a short
// random delay, so that sends are in flight when the kill lands.
//
// Needs: the daemon built (MASHWARA_BIN), and the sqlite3 CLI (scripts/setup-debian.sh).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDaemon, admin, login, client, waitFor, sleep, nowS } from './lib.mjs';

const WORKERS = 8;          // concurrent booking clients, each on its own connection
const KILL_AFTER_MS = 2500; // of streaming, before the SIGKILL
const SLOT_S = 15 * 60;

/** The stand-in SMS gateway. Every delivery is recorded with the time it arrived. */
function startGateway() {
  const deliveries = []; // {key, id, kind, to, at}
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = null;
      try { body = JSON.parse(Buffer.concat(chunks).toString()); } catch { /* recorded as null */ }
      deliveries.push({
        key: req.headers['idempotency-key'], id: body?.id, kind: body?.kind, to: body?.to,
        hasBody: typeof body?.body === 'string' && body.body.length > 0, at: Date.now(),
        method: req.method, auth: req.headers.authorization,
      });
      // A random delay (up to 300 ms, under the daemon's 1 s deadline) keeps several sends in
      // flight at any moment, so the kill catches some between send and record.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      }, Math.floor(Math.random() * 300));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, deliveries, url: `http://127.0.0.1:${server.address().port}/sms` });
  }));
}

function sqlite(db, sql) {
  return new Promise((resolve, reject) => {
    execFile('sqlite3', [db, sql], { timeout: 60000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`sqlite3: ${err.message} ${stderr}`)) : resolve(stdout.trim()));
  });
}

/** The first (only) record of a {"<kind>": {...}} answer. */
const record = (r) => Object.values(r.json || {})[0];

function ok(r, what) {
  assert.ok(r.status >= 200 && r.status < 300, `${what}: ${r.status} ${r.text}`);
  return record(r);
}

test('a SIGKILL mid-stream loses no acknowledged booking and sends no notice twice', async (t) => {
  const gw = await startGateway();
  t.after(() => gw.server.close());
  const dir = await mkdtemp(path.join(tmpdir(), 'mw-durability-'));
  const conf = path.join(dir, 'mashwara.conf');
  // The storm below is far above the per-address request rate a clinic's browsers need (100/s,
  // burst 1000): on a quiet machine it ran into 429s. The limits have their own test
  // (authz.test.mjs); here they are off (a negative rate), so only durability is measured.
  await writeFile(conf, [
    '[server]', 'requests_per_second_per_address=-1', 'requests_per_second_per_token=-1', '',
    '[notify]', 'sender=webhook', `webhook_url=${gw.url}`, 'webhook_token=durability-token',
    'timeout_seconds=1', 'retry_base_seconds=1', 'max_attempts=20', 'max_in_flight=8', '',
  ].join('\n'));
  const extraArgs = ['--config', conf];

  let d = await startDaemon({ dir, extraArgs });
  t.after(async () => { await d.stop(); await d.cleanup(); });

  // A clinic: an admin, a facility, a doctor working around the clock every day, a service,
  // and patients with phones.
  await admin(d, 'add-staff', ['--username', 'admin', '--name', 'Admin', '--password',
    'admin-password-1', '--role', 'admin']);
  const cookie = await login(d, 'admin', 'admin-password-1');
  let api = client(d, cookie);
  const facility = ok(await api.post('/api/facilities', { name: 'BHU Test', district: 'Lahore',
    sector: 'public', timezone: 'Asia/Karachi' }), 'facility');
  const doctor = ok(await api.post('/api/doctors', { username: 'dr.d', name: 'Dr. D',
    password: 'doctor-password-1', facility_id: facility.id, specialty: 'general',
    languages: ['ur', 'en'], gender: 'female' }), 'doctor');
  const service = ok(await api.post('/api/services', { facility_id: facility.id,
    name: 'General consultation', specialty: 'general', duration_min: 15 }), 'service');
  for (let wd = 1; wd <= 7; wd++) {
    ok(await api.post('/api/availability', { doctor_id: doctor.id, service_id: service.id,
      weekday: wd, start_min: 0, end_min: 1440 }), `availability ${wd}`);
  }
  const patients = [];
  for (let i = 0; i < 20; i++) {
    const p = ok(await api.post('/api/patients', { name: `Patient ${i}`,
      phone: `+92300${String(1000000 + i)}`, preferred_language: i % 2 ? 'en' : 'ur' }),
    `patient ${i}`);
    patients.push(p.id);
  }

  // The stream: each worker books distinct slots, starting two days ahead (no reminder is due,
  // so the notices are the confirmations), until the daemon dies under it.
  const first = (Math.floor(nowS() / SLOT_S) + 2 * 96) * SLOT_S;
  let next = 0;
  const acked = [];     // appointment ids the client saw 2xx for
  const refused = [];   // 4xx answers (should be none)
  let lost = 0;         // requests that died with the daemon (unknown outcome)
  let killed = false;
  const worker = async () => {
    while (!killed) {
      const slot = next++;
      try {
        const r = await api.post('/api/appointments', { doctor_id: doctor.id,
          service_id: service.id, patient_id: patients[slot % patients.length],
          starts_at: first + slot * SLOT_S }, { timeout: 5000 });
        if (r.status >= 200 && r.status < 300) acked.push(record(r).id);
        else refused.push(`${r.status} ${r.text}`);
      } catch {
        lost++;
        if (killed) return;
      }
    }
  };
  const workers = Array.from({ length: WORKERS }, worker);
  await sleep(KILL_AFTER_MS);
  killed = true;
  await d.kill();
  await Promise.all(workers);
  if (process.env.MW_DURABILITY_LOG) await writeFile(`${process.env.MW_DURABILITY_LOG}.1`, d.log());
  // Let the gateway finish reading what the dead process sent; the new one is not started yet,
  // so every delivery up to here came from the first process.
  await sleep(300);
  const killedAt = Date.now();
  const deliveredBeforeKill = gw.deliveries.length;
  assert.deepEqual(refused, [], 'no booking in the stream was refused');
  assert.ok(acked.length >= 50, `enough bookings before the kill (${acked.length})`);

  // Right after the crash, before anyone opens it again.
  assert.equal(await sqlite(d.db, 'PRAGMA integrity_check'), 'ok');

  d = await startDaemon({ dir, extraArgs });
  const cookie2 = await login(d, 'admin', 'admin-password-1');
  api = client(d, cookie2);

  // Every acknowledged booking is there, booked, with its confirmation queued.
  const listed = await api.get(`/api/appointments?doctor_id=${doctor.id}&limit=5000`);
  assert.equal(listed.status, 200, listed.text);
  const byId = new Map(listed.json.appointments.map((a) => [a.id, a]));
  const missing = acked.filter((id) => !byId.has(id));
  assert.deepEqual(missing, [], 'every acknowledged booking survived the SIGKILL');
  for (const id of acked) assert.equal(byId.get(id).status, 'booked', `appointment ${id}`);

  // The outbox drains: every notice sent (none given up).
  let outbox = [];
  await waitFor(async () => {
    const r = await api.get('/api/outbox?limit=5000');
    assert.equal(r.status, 200, r.text);
    outbox = r.json.outbox;
    return outbox.length > 0 && outbox.every((o) => o.sent_at !== null || o.failed_at !== null);
  }, { timeout: 60000, interval: 500, what: 'the outbox to drain' });
  const failed = outbox.filter((o) => o.failed_at !== null);
  assert.deepEqual(failed, [], 'no notice was given up');
  const confirmations = new Set(outbox.filter((o) => o.kind === 'confirmation')
    .map((o) => o.appointment_id));
  for (const id of acked) assert.ok(confirmations.has(id), `confirmation of ${id} queued`);
  // Extra (unacknowledged) bookings may have committed just before the kill: fine, but each
  // has its notice too.
  assert.ok(byId.size >= acked.length);

  // What the gateway saw.
  await sleep(300); // nothing more should come; give a late send the chance to show itself
  const deliveries = gw.deliveries;
  const keysOf = new Map();  // outbox id -> set of keys
  const idsOf = new Map();   // key -> set of outbox ids
  const count = new Map();   // key -> deliveries
  for (const x of deliveries) {
    assert.equal(x.method, 'POST');
    assert.equal(x.auth, 'Bearer durability-token');
    assert.ok(x.key, 'every delivery carries an Idempotency-Key');
    assert.ok(x.hasBody, 'every delivery carries the text');
    if (!keysOf.has(x.id)) keysOf.set(x.id, new Set());
    keysOf.get(x.id).add(x.key);
    if (!idsOf.has(x.key)) idsOf.set(x.key, new Set());
    idsOf.get(x.key).add(x.id);
    count.set(x.key, (count.get(x.key) || 0) + 1);
  }
  for (const [id, keys] of keysOf) assert.equal(keys.size, 1, `outbox ${id} sent under one key`);
  for (const [key, ids] of idsOf) assert.equal(ids.size, 1, `key ${key} names one notice`);
  // Deduplicated by key, the gateway has exactly the outbox's notices, each once.
  const sentKeys = new Set(outbox.map((o) => o.dedupe_key));
  assert.equal(sentKeys.size, outbox.length);
  assert.deepEqual([...count.keys()].sort(), [...sentKeys].sort(),
    'the gateway saw exactly the notices of the outbox');
  // Raw re-deliveries: only across the crash.
  const redelivered = [...count].filter(([, n]) => n > 1);
  for (const [key] of redelivered) {
    const times = deliveries.filter((x) => x.key === key).map((x) => x.at);
    assert.equal(times.length, 2, `${key}: at most one re-send`);
    assert.ok(times[0] <= killedAt && times[1] > killedAt,
      `${key}: re-sent only after the restart (the first send was in flight at the kill)`);
  }

  const stopped = await d.stop();
  if (process.env.MW_DURABILITY_LOG) await writeFile(`${process.env.MW_DURABILITY_LOG}.2`, d.log());
  assert.equal(stopped.code, 0, `clean exit after the test (${JSON.stringify(stopped)})`);
  assert.equal(await sqlite(d.db, 'PRAGMA integrity_check'), 'ok');

  const summary = {
    acknowledged: acked.length, in_database: byId.size, lost_in_flight: lost,
    notices: outbox.length, deliveries: deliveries.length,
    delivered_before_kill: deliveredBeforeKill,
    unique_keys: count.size, raw_redeliveries: deliveries.length - count.size,
  };
  console.log(`durability: ${JSON.stringify(summary)}`);
  t.diagnostic(`durability: ${JSON.stringify(summary)}`);
});
