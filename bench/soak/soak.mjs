// The soak (issue "Trust"): N concurrent consultations on one daemon for a bounded time, each a
// doctor who stays in the call and a patient who joins, talks for a while and leaves (hanging up
// or closing the tab, alternately), again and again, all with real headless Chromium through the
// relay. Every SAMPLE_S it records the daemon's RSS, open fds and threads and the relay's
// counters; at the end it prints the series and a report: cycles, errors (must be zero), and the
// growth of RSS and fds. Run it with `bash bench/soak/run.sh [--calls N] [--minutes M]` (root: it
// uses the end-to-end tests' network namespace). It stops by itself after --minutes.
//
// An error is: a patient who is not in the call with media both ways within 30 s of clicking
// Join, a doctor page that leaves the call, a relay that does not return to the call's own
// participants after a patient leaves, a daemon that dies, or a page error.

import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  REPO, startDaemon, addDoctor, addPatient, book, launchPerson, waitState, waitFor, stats, inbound,
  consoleLogin, request, loginCookie, sleep, patientJoin,
} from '../../tests/e2e/lib.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const CALLS = arg('calls', 2);
const MINUTES = arg('minutes', 10);
const SAMPLE_S = arg('sample', 15);
const STAY_MIN_S = 8;
const STAY_MAX_S = 25;

async function proc(pid) {
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  const threads = (await readdir(`/proc/${pid}/task`)).length;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { fds, threads, rssMb: Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 102.4) / 10 };
}

const errors = [];
const error = (call, what) => {
  const e = { t: Math.round((Date.now() - t0) / 1000), call, what };
  errors.push(e);
  console.log(`ERROR t=${e.t}s call ${call}: ${what}`);
};
let t0 = Date.now();

async function metrics(d, cookie) {
  const r = await request(d.base, 'GET', '/api/metrics', { cookie });
  return r.status === 200 ? r.json : null;
}

async function main() {
  const d = await startDaemon();
  const calls = [];
  for (let i = 0; i < CALLS; i++) {
    const doctor = { username: `dr.soak${i}`, name: `Dr Soak ${i}`, password: `soak-password-${i}` };
    await addDoctor(d, doctor);
    const { patient_id } = await addPatient(d, { name: `Soak Patient ${i}`, phone: `+92300555000${i}` });
    const appt = await book(d, { doctor: doctor.username, patient: patient_id, start: 'now', minutes: MINUTES + 30 });
    calls.push({ i, doctor, appt, cycles: 0, joinMs: [],
      cookie: await loginCookie(d.base, doctor.username, doctor.password) });
  }
  // The server-wide counters: any doctor's /api/metrics has them (its list is its own).
  const adminCookie = calls[0].cookie;
  const samples = [];
  const sample = async () => {
    if (d.exited()) return;
    const p = await proc(d.pid);
    const m = await metrics(d, adminCookie).catch(() => null);
    const s = { t: Math.round((Date.now() - t0) / 1000), ...p, cycles: calls.reduce((a, c) => a + c.cycles, 0),
      participants: m?.participants ?? null, peer_connections: m?.peer_connections ?? null };
    samples.push(s);
    console.log(`t=${s.t}s rss ${s.rssMb} MB fds ${s.fds} threads ${s.threads} participants ${s.participants} ` +
      `pcs ${s.peer_connections} cycles ${s.cycles} errors ${errors.length}`);
  };

  // Each call: the doctor signs in and waits; the first patient join is admitted by the doctor,
  // the later ones go straight back into the running call (the same link).
  const end = Date.now() + MINUTES * 60000;
  const runCall = async (c) => {
    const doc = await launchPerson(`soak-doctor-${c.i}`);
    c.doc = doc;
    await consoleLogin(doc.page, d.base, c.doctor.username, c.doctor.password);
    const doctorId = await waitFor(() => doc.page.evaluate(() => window.__mw.participantId), { timeout: 15000, what: 'doctor welcome' });
    let admitted = false;
    while (Date.now() < end && !d.exited()) {
      const pat = await launchPerson(`soak-patient-${c.i}`);
      const tJoin = Date.now();
      try {
        await pat.page.goto(c.appt.link, { waitUntil: 'load' });
        await patientJoin(pat.page);
        if (!admitted) {
          await waitState(pat.page, 'waiting', 20000);
          await doc.page.click(`[data-testid="admit-${c.appt.appointment_id}"]`);
          admitted = true;
        }
        await waitState(pat.page, 'call', 30000);
        const patientId = await pat.page.evaluate(() => window.__mw.participantId);
        await waitFor(async () => {
          const [a, b] = await Promise.all([stats(pat.page), stats(doc.page)]);
          return inbound(a, String(doctorId)).frames > 0 && inbound(b, String(patientId)).frames > 0;
        }, { timeout: Math.max(1000, 30000 - (Date.now() - tJoin)), interval: 250, what: 'media both ways' });
        c.joinMs.push(Date.now() - tJoin);
        const stay = (STAY_MIN_S + Math.random() * (STAY_MAX_S - STAY_MIN_S)) * 1000;
        await sleep(Math.min(stay, Math.max(0, end - Date.now())));
        if (await doc.page.evaluate(() => window.__mw.state) !== 'call') error(c.i, 'the doctor page left the call');
        if (c.cycles % 2 === 0) await pat.page.click('#btn-hangup').catch(() => {});
        c.cycles++;
      } catch (e) {
        error(c.i, `cycle ${c.cycles + 1}: ${e.message.split('\n')[0]}`);
      }
      const errs = pat.consoleLog.filter((l) => l.includes('pageerror'));
      for (const l of errs) error(c.i, l);
      await pat.close();
      // The call's room is left with the doctor alone: one participant, one peer connection.
      await waitFor(async () => {
        const m = await metrics(d, c.cookie);
        const mine = (m?.consultations || []).find((x) => x.appointment_id === c.appt.appointment_id);
        return mine && mine.participants.length === 1 && mine.participants[0].role === 'doctor';
      }, { timeout: 10000, interval: 250, what: 'the patient gone from the relay' }).catch((e) => error(c.i, e.message));
    }
  };

  t0 = Date.now();
  await sample();
  const timer = setInterval(() => sample().catch(() => {}), SAMPLE_S * 1000);
  await Promise.all(calls.map((c) => runCall(c).catch((e) => error(c.i, `call stopped: ${e.message}`))));
  clearInterval(timer);
  await sleep(3000);
  await sample();
  for (const c of calls) await c.doc?.close();
  const crashed = d.exited();
  if (crashed) error('-', `the daemon exited: ${JSON.stringify(crashed)}`);
  const exit = await d.stop();
  if (!crashed && exit.code !== 0) error('-', `the daemon's exit on SIGTERM: ${JSON.stringify(exit)}`);
  await d.saveLog('soak');
  await d.cleanup();

  const first = samples[1] || samples[0];
  const last = samples.at(-1);
  const joins = calls.flatMap((c) => c.joinMs).sort((a, b) => a - b);
  const q = (p) => joins.length ? joins[Math.min(joins.length - 1, Math.floor(p * joins.length))] : null;
  const report = {
    date: new Date(t0).toISOString(), calls: CALLS, minutes: MINUTES,
    cycles: calls.reduce((a, c) => a + c.cycles, 0), errors: errors.length,
    joinToMediaMs: { p50: q(0.5), p90: q(0.9), max: joins.at(-1) ?? null },
    rssMb: { first: first.rssMb, last: last.rssMb, max: Math.max(...samples.map((s) => s.rssMb)) },
    fds: { first: first.fds, last: last.fds, max: Math.max(...samples.map((s) => s.fds)) },
    threads: { first: first.threads, last: last.threads, max: Math.max(...samples.map((s) => s.threads)) },
  };
  console.log('\nt s | RSS MB | fds | threads | participants | peer connections | cycles');
  for (const s of samples) console.log(`${s.t} | ${s.rssMb} | ${s.fds} | ${s.threads} | ${s.participants} | ${s.peer_connections} | ${s.cycles}`);
  console.log(`\nerrors: ${errors.length}`);
  for (const e of errors) console.log(`  t=${e.t}s call ${e.call}: ${e.what}`);
  console.log(`report: ${JSON.stringify(report)}`);
  const out = path.join(REPO, 'bench', 'soak', 'out');
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, `soak-${report.date.replace(/[:.]/g, '-')}.json`), JSON.stringify({ report, samples, errors }, null, 1));
  process.exit(errors.length ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(2); });
