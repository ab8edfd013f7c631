// Faults (issue "Trust"), with the real daemon and real browsers:
//   1. 100 join/leave cycles of a patient into a running call (each a real WebRTC join through
//      the relay, held until media flows both ways through it, then left by hanging up or by
//      closing the tab, alternately): the daemon's open fds, threads and RSS grow no more than a
//      stated bound, and /api/metrics is back at its baseline.
//   2. The daemon killed with SIGKILL mid-call and started again on the same database and port:
//      both pages reconnect by themselves, the call resumes without the doctor clicking anything,
//      media flows both ways again, and no booking or consultation record is lost.
//   3. The patient's network cut for 20 s (iptables DROP in a namespace of its own) and restored:
//      the doctor is told "away" and the relay keeps everything; Chrome gives the patient's peer
//      connections up ~15 s into the cut (no STUN answer: its write timeout), so the same peer
//      connections cannot carry media again; the patient's page rejoins by itself once, and
//      media flows both ways again within 10 s of the link's return; nothing crashed.
// (A tab killed mid-call is drop.test.mjs.) Each part has a daemon and browsers of its own;
// MW_FAULTS=cycles,restart,cut runs only those named.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile, chmod, rm, readdir, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  consoleLogin, startDaemon, addDoctor, addPatient, book, launchPerson, screenshot, waitState, waitFor,
  stats, inbound, loginCookie, request, cleanupAll, sleep, tapWebSockets, wireLog, waitMessage, CHROMIUM,
  mediaBothWays, stillFlowing, patientJoin,
} from './lib.mjs';

const DOCTOR = { username: 'dr.ayesha', name: 'Dr Ayesha Malik', password: 'faults-test-password' };
const PATIENT = { name: 'Bilal Ahmed', phone: '+923001234567' };

const ONLY = process.env.MW_FAULTS ? process.env.MW_FAULTS.split(',') : null;
const part = (name) => (!ONLY || ONLY.includes(name) ? describe : describe.skip);

// --- Shared helpers -----------------------------------------------------------------------------

const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** The daemon's open fds (and their kinds), threads and RSS (kB), from /proc. */
async function procSample(pid) {
  const fdNames = await readdir(`/proc/${pid}/fd`);
  const kinds = {};
  for (const fd of fdNames) {
    let k;
    try { k = (await readlink(`/proc/${pid}/fd/${fd}`)).replace(/:\[.*$/, '').replace(/^\/.*$/, 'file'); } catch { k = 'gone'; }
    kinds[k] = (kinds[k] || 0) + 1;
  }
  const threads = (await readdir(`/proc/${pid}/task`)).length;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  return { fds: fdNames.length, threads, rssKb, kinds };
}

/** The daemon's sockets: "proto local→remote state" for each socket fd (from /proc/PID/net). */
async function procSockets(pid) {
  const inodes = new Set();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m) inodes.add(m[1]);
  }
  const hexAddr = (h) => {
    const [a, port] = h.split(':');
    const ip = a.length === 8 ? a.match(/../g).reverse().map((x) => parseInt(x, 16)).join('.') : (a.endsWith('0000') ? a : `[${a.slice(-8).match(/../g).reverse().map((x) => parseInt(x, 16)).join('.')}]`);
    return `${ip}:${parseInt(port, 16)}`;
  };
  const out = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const lines = (await readFile(`/proc/${pid}/net/${proto}`, 'utf8').catch(() => '')).split('\n').slice(1).filter(Boolean);
    for (const l of lines) {
      const f = l.trim().split(/\s+/);
      if (inodes.has(f[9])) { out.push(`${proto} ${hexAddr(f[1])}→${hexAddr(f[2])} ${f[3]}`); inodes.delete(f[9]); }
    }
  }
  if (inodes.size) out.push(`${inodes.size} other (unix, netlink…)`);
  return out.sort();
}

/** A quiet sample: five, 500 ms apart; the fewest fds and threads (a connection or thread in
 * flight at one instant is not growth), the last RSS. */
async function quietSample(pid) {
  const all = [];
  for (let i = 0; i < 5; i++) {
    all.push(await procSample(pid));
    await sleep(500);
  }
  const best = all.reduce((a, b) => (b.fds < a.fds ? b : a));
  return { fds: best.fds, threads: Math.min(...all.map((x) => x.threads)), rssKb: all[all.length - 1].rssKb, kinds: best.kinds };
}

function metricsOf(d, cookie) {
  return request(d.base, 'GET', '/api/metrics', { cookie }).then((r) => {
    assert.equal(r.status, 200, r.text);
    return r.json;
  });
}

async function waitMetrics(d, cookie, pred, what, timeout = 5000) {
  let last;
  await waitFor(async () => { last = await metricsOf(d, cookie); return pred(last); }, { timeout, interval: 100, what })
    .catch((e) => { throw new Error(`${e.message}; last metrics ${JSON.stringify(last)}`); });
  return last;
}

const counts = (m) => ({ rooms: m.rooms, pipelines: m.pipelines, participants: m.participants, peer_connections: m.peer_connections });

async function person(name, opts) {
  const p = await launchPerson(name, opts);
  await tapWebSockets(p.ctx);
  return p;
}

async function patientOpensLink(page, link) {
  await page.goto(link, { waitUntil: 'load' });
  await patientJoin(page);
}

const participantId = (page) => page.evaluate(() => window.__mw.participantId);

// Doctor and patient in a call (patient waits, doctor admits), media both ways.
async function callUp(d, appt, people, ids, { patientOpts } = {}) {
  people.patient = await person('patient', patientOpts);
  await patientOpensLink(people.patient.page, appt.link);
  await waitState(people.patient.page, 'waiting', 20000);
  ids.patient = await participantId(people.patient.page);
  people.doctor = await person('doctor');
  const dp = people.doctor.page;
  await consoleLogin(dp, d.base, DOCTOR.username, DOCTOR.password);
  ids.doctor = await waitFor(() => participantId(dp), { what: 'the doctor\'s welcome' });
  await dp.click(`[data-testid="admit-${appt.appointment_id}"]`);
  await waitState(dp, 'call', 20000);
  await waitState(people.patient.page, 'call', 20000);
  try {
    return await mediaBothWays(people.patient, ids.doctor, people.doctor, ids.patient);
  } catch (e) {
    for (const p of [people.patient, people.doctor]) console.log(`${p.name} ICE at failure: ${JSON.stringify(await icePairs(p.page))}`);
    throw e;
  }
}

// Every peer connection's ICE state, candidates and candidate pairs (for failures).
function icePairs(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const [id, pc] of window.__mw.pcs) {
      const r = [...(await pc.getStats()).values()];
      const cand = (x) => `${x.candidateType}/${x.protocol}${x.tcpType ? `/${x.tcpType}` : ''} ${x.address}:${x.port}`;
      out[id] = {
        ice: pc.iceConnectionState, gathering: pc.iceGatheringState,
        local: r.filter((x) => x.type === 'local-candidate').map(cand),
        remote: r.filter((x) => x.type === 'remote-candidate').map(cand),
        pairs: r.filter((x) => x.type === 'candidate-pair').map((x) => `${x.state} sent ${x.requestsSent} recv ${x.responsesReceived}/${x.requestsReceived}`),
      };
    }
    return out;
  }).catch((e) => `page gone: ${e.message}`);
}

async function daemonWithCall(extraArgs = []) {
  const d = await startDaemon({ extraArgs });
  await addDoctor(d, DOCTOR);
  const { patient_id } = await addPatient(d, PATIENT);
  const appt = await book(d, { doctor: DOCTOR.username, patient: patient_id, start: 'now', minutes: 30 });
  const cookie = await loginCookie(d.base, DOCTOR.username, DOCTOR.password);
  return { d, appt, cookie, patientId: patient_id };
}

// Ends the call from the console; the relay is empty afterwards.
async function endCall(d, cookie, people) {
  const dp = people.doctor.page;
  await dp.selectOption('#outcome', 'completed');
  await dp.click('#btn-end');
  await waitState(dp, 'day', 15000);
  if (people.patient) await waitState(people.patient.page, 'ended', 15000);
  return waitMetrics(d, cookie, (x) => x.rooms === 0 && x.pipelines === 0 && x.participants === 0 &&
    x.peer_connections === 0, 'metrics rooms/pipelines/participants/peer_connections 0', 15000);
}

async function finish(d, name, people, figures) {
  await cleanupAll(Object.values(people).map((p) => () => p.close()));
  if (!d) return;
  const exit = await d.stop();
  await d.saveLog(name);
  for (const p of Object.values(people)) {
    if (p.consoleLog.length) console.log(p.consoleLog.slice(-20).join('\n'));
  }
  console.log(`${name} figures: ${JSON.stringify(figures, null, 1)}`);
  await d.cleanup();
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null },
    `daemon pid ${d.pid} should exit 0 on SIGTERM`);
}

// --- 1. 100 join/leave cycles ------------------------------------------------------------------

const CYCLES = 100;
const WARMUP_CYCLES = 5;
// Bounds on the daemon's growth over the 100 measured cycles (after the warm-up), from what was
// measured. Threads: 15 → ~31 during the cycles (GStreamer/GLib pools), back to 15 each run.
// RSS: +4.3 to +5.6 MB, ~25 kB a cycle after the first 20, about what SQLite's page cache (2 MB
// by default) and the audit rows of each join account for; 30 MB is well above that drift and
// well below a leak of one participant's peer connections per cycle (two webrtcbins with their
// buffers, ≥ 1 MB each: ≥ 100 MB over the run). fds: the same count again. Until 2026-12-05 a
// libnice agent outlived its webrtcbin now and then (5 fds each: a UDP socket, a TCP listener,
// 3 eventfds; 0 to ~4 per 100 joins): webrtcbin 1.22 left a transport receive bin blocked when a
// description task ran during its teardown (pc_sweep() in sfu/sfu.c releases it; the unit test
// /sfu/join-leave counts the sockets). No ICE socket may be left now; the bound of 10 leaves room
// for the test's own HTTPS connections and the like, not for one agent per few joins.
const MAX_FD_GROWTH = 10;
const MAX_THREAD_GROWTH = 4;
const MAX_RSS_GROWTH_KB = 30 * 1024;

part('cycles')('100 join/leave cycles into a running call', () => {
  let d;
  let appt;
  let cookie;
  let conf;
  const people = {};
  const ids = {};
  const figures = {};

  before(async () => {
    // A patient opening the same link 105 times in ~3 min is over the per-token limit (0.5/s,
    // burst 30), which is right for real pages; this test raises it (docs/configuration.md).
    const dir = await mkdtemp(path.join(tmpdir(), 'mw-e2e-faults-conf-'));
    conf = path.join(dir, 'mashwara.conf');
    await writeFile(conf, '[server]\nrequests_per_second_per_token=20\nrequest_burst_per_token=100\n');
    ({ d, appt, cookie } = await daemonWithCall(['--config', conf]));
  });

  after(async () => {
    await finish(d, 'faults-cycles', people, figures);
    await rm(path.dirname(conf), { recursive: true, force: true });
  });

  const stuckJoins = []; // joins without media both ways within 15 s (cycle(), below)

  it(`a patient joins and leaves ${CYCLES} times (+${WARMUP_CYCLES} warm-up); fds, threads and RSS stay within bounds, metrics back to baseline`, { timeout: 480000 }, async () => {
    await callUp(d, appt, people, ids);
    const base = await waitMetrics(d, cookie, (x) => x.participants === 2 && x.peer_connections === 4, 'a call of two');
    figures.inCall = counts(base);
    const dp = people.doctor.page;
    const pat = people.patient;
    let pat2 = null;   // the patient's second browser (see below)
    let page = pat.page;

    // One cycle: open the link (the call is running: straight in), wait until media flows both
    // ways through the relay (the page has received a packet from the doctor, and the relay
    // has received the patient's), then leave: hang up (even cycles) or close the tab (odd).
    const durations = [];
    async function cycle(i) {
      const t0 = Date.now();
      await patientOpensLink(page, appt.link);
      await waitState(page, 'call', 15000);
      const pid = await participantId(page);
      let stuck = false;
      try {
        await page.waitForFunction((doc) => {
          const pc = window.__mw.pcs && window.__mw.pcs.get(`sub:${doc}`);
          if (!pc) return false;
          return pc.getStats().then((r) => [...r.values()].some((s) => s.type === 'inbound-rtp' && s.packetsReceived > 0));
        }, ids.doctor, { timeout: 15000, polling: 50 });
        await waitFor(async () => {
          const m = await metricsOf(d, cookie);
          const c = (m.consultations || []).find((x) => x.appointment_id === appt.appointment_id);
          return c && c.participants.some((p) => p.participant_id === pid && p.packets_received > 0);
        }, { timeout: 15000, interval: 50, what: `cycle ${i}: the relay receives the patient's media` });
      } catch (e) {
        // A join without media both ways within 15 s: recorded for the known-failing subtest
        // below (issue 6), and left by closing the tab so that the cycles go on.
        stuck = true;
        stuckJoins.push({ cycle: i, what: e.message.split('\n')[0] });
        console.log(`cycle ${i}: no media both ways within 15 s: ${e.message.split('\n')[0]}`);
      }
      if (i % 2 === 0 && !stuck) {
        await page.click('#btn-hangup');
        await waitState(page, 'ended', 5000);
      } else {
        await page.close();
        page = await (pat2 || pat).ctx.newPage();
      }
      // The server has let the patient go (token free again, relay back to the doctor alone).
      await waitMetrics(d, cookie, (x) => x.participants === 1 && x.peer_connections === 1,
        `cycle ${i}: the patient freed`, 10000);
      durations.push(Date.now() - t0);
    }

    // The first patient leaves; the doctor stays in the call alone.
    await page.click('#btn-hangup');
    await waitState(page, 'ended', 5000);
    const alone = await waitMetrics(d, cookie, (x) => x.participants === 1 && x.peer_connections === 1, 'the doctor alone');
    figures.baselineMetrics = counts(alone);

    for (let i = 0; i < WARMUP_CYCLES; i++) await cycle(i);
    // The patient's Chromium keeps idle HTTPS connections to the server across its pages (its
    // pool), which the daemon rightly holds open: sample with that browser closed both times.
    await pat.close();
    pat2 = await person('patient-cycles');
    page = pat2.page;
    people.patientGone = pat2;
    const beforeSockets = await procSockets(d.pid);
    const before = await quietSample(d.pid);
    const t0 = Date.now();
    const samples = [{ cycle: 0, fds: before.fds, threads: before.threads, rssKb: before.rssKb }];
    for (let i = 0; i < CYCLES; i++) {
      await cycle(WARMUP_CYCLES + i);
      if ((i + 1) % 20 === 0) {
        const { kinds, ...x } = await procSample(d.pid);
        samples.push({ cycle: i + 1, ...x });
      }
    }
    figures.cyclesMs = Date.now() - t0;
    await pat2.close();
    const after = await quietSample(d.pid);
    const afterSockets = await procSockets(d.pid);
    figures.socketsBefore = beforeSockets;
    figures.socketsAfter = afterSockets;
    // ICE sockets (a UDP socket and a passive TCP listener per agent) that outlived their peer
    // connection: /api/metrics counts webrtcbins until they are finalized (a weak ref), so these
    // are agents kept after their webrtcbin went (seen: 0, 1 and ~4 per 100 cycles, 5 fds each).
    const ice = (list) => list.filter((x) => /^udp |→0\.0\.0\.0:0 0A$/.test(x));
    figures.iceSocketsLeft = ice(afterSockets).filter((x) => !ice(beforeSockets).includes(x));
    const end = await metricsOf(d, cookie);
    figures.metricsAfter = counts(end);
    durations.sort((a, b) => a - b);
    figures.cycleMs = { median: durations[Math.floor(durations.length / 2)], p95: durations[Math.floor(durations.length * 0.95)], max: durations[durations.length - 1] };
    figures.before = before;
    figures.after = after;
    figures.growth = { fds: after.fds - before.fds, threads: after.threads - before.threads, rssKb: after.rssKb - before.rssKb };
    figures.stuckJoins = stuckJoins;
    console.log(`${CYCLES} cycles in ${figures.cyclesMs} ms (per cycle median ${figures.cycleMs.median} ms, p95 ${figures.cycleMs.p95}, max ${figures.cycleMs.max})`);
    console.log(`daemon before: fds ${before.fds} ${JSON.stringify(before.kinds)}, threads ${before.threads}, RSS ${before.rssKb} kB; after: fds ${after.fds} ${JSON.stringify(after.kinds)}, threads ${after.threads}, RSS ${after.rssKb} kB; growth ${JSON.stringify(figures.growth)}`);
    console.log(`samples every 20 cycles: ${samples.map((s) => `${s.cycle}: ${s.fds} fds ${s.threads} thr ${s.rssKb} kB`).join('; ')}`);
    console.log(`metrics baseline ${JSON.stringify(figures.baselineMetrics)}, after ${JSON.stringify(figures.metricsAfter)}`);
    console.log(`daemon sockets before: ${beforeSockets.join(', ')}`);
    console.log(`daemon sockets after: ${afterSockets.join(', ')}`);
    console.log(`ICE sockets left behind: ${figures.iceSocketsLeft.length ? figures.iceSocketsLeft.join(', ') : 'none'}`);

    // The patient's page is still usable: the doctor's console is still in the call alone.
    assert.equal(await dp.evaluate(() => window.__mw.state), 'call');
    assert.deepEqual(figures.metricsAfter, figures.baselineMetrics, 'metrics back to the baseline');
    assert.ok(figures.growth.threads <= MAX_THREAD_GROWTH, `threads grew by ${figures.growth.threads}, want ≤ ${MAX_THREAD_GROWTH}`);
    assert.ok(figures.growth.rssKb <= MAX_RSS_GROWTH_KB, `RSS grew by ${figures.growth.rssKb} kB, want ≤ ${MAX_RSS_GROWTH_KB}`);

    // And once the doctor ends, everything is freed.
    delete people.patient;
    figures.metricsAfterEnd = counts(await endCall(d, cookie, people));
  });

  // Known failing (issue 6 open), run and reported every time, counted apart by scripts/test.sh:
  // now and then (2 of 7 runs of 105 joins here) one join gets no media through the relay
  // within 15 s (the server gives up on it at 15 s with 4001 "media never started" and the page
  // joins again). Its cause is not known yet (the teardown race that left ICE sockets behind,
  // fixed since, released resources late; it is not known to have stopped a join).
  it('every join gets media both ways through the relay within 15 s', {
    todo: 'issue 6: now and then a join gets no media through the relay within 15 s',
  }, () => {
    assert.ok(figures.growth, 'the cycles ran');
    assert.deepEqual(stuckJoins, [], `joins without media: ${JSON.stringify(stuckJoins)}`);
  });

  it(`the daemon's open fds grow by at most ${MAX_FD_GROWTH} over the cycles, and no ICE socket outlives its peer connection`, () => {
    assert.ok(figures.growth, 'the cycles ran');
    assert.deepEqual(figures.iceSocketsLeft, [], 'ICE sockets left behind');
    assert.ok(figures.growth.fds <= MAX_FD_GROWTH, `fds grew by ${figures.growth.fds}, want ≤ ${MAX_FD_GROWTH} ` +
      `(ICE sockets left behind: ${figures.iceSocketsLeft.join(', ') || 'none'})`);
  });
});

// --- 2. SIGKILL mid-call and restart -----------------------------------------------------------

// Restart: the daemon's own start (schema check, certificate load) plus the pages' backoff
// (0.5, 1, 2, 4 s) after their sockets broke; ICE, DTLS and the first frames on top.
const RESTART_RESUME_MAX_MS = 20000;

function dbRows(db) {
  const q = 'SELECT a.id, a.status, a.starts_at, a.ends_at, c.waiting_since, c.started_at, c.ended_at, c.outcome ' +
    'FROM appointments a LEFT JOIN consultations c ON c.appointment_id = a.id ORDER BY a.id';
  return JSON.parse(run('sqlite3', ['-readonly', '-json', db, q]) || '[]');
}

part('restart')('the daemon killed with SIGKILL mid-call and restarted', () => {
  let d;
  let appt;
  let cookie;
  const people = {};
  const ids = {};
  const figures = {};

  before(async () => {
    ({ d, appt, cookie } = await daemonWithCall());
  });

  after(async () => {
    await finish(d, 'faults-restart', people, figures);
  });

  it('both pages reconnect, the call resumes by itself with media both ways, no booking lost', { timeout: 180000 }, async () => {
    await callUp(d, appt, people, ids);
    // A second booking, later, must survive too.
    const { patient_id: p2 } = await addPatient(d, { name: 'Sadia Khan', phone: '+923009876543' });
    const later = await book(d, { doctor: DOCTOR.username, patient: p2, start: '+7200', minutes: 20 });
    figures.laterAppointment = later.appointment_id;
    const rowsBefore = dbRows(d.db);
    figures.rowsBefore = rowsBefore;
    const mine = rowsBefore.find((r) => r.id === appt.appointment_id);
    assert.ok(mine.started_at > 0 && mine.ended_at === null, `the record says the call runs: ${JSON.stringify(mine)}`);

    const { port, dir } = d;
    const oldPid = d.pid;
    await d.saveLog('faults-restart-killed');
    const t0 = Date.now();
    d.proc.kill('SIGKILL');
    await waitFor(() => d.exited(), { timeout: 5000, what: 'the daemon to die' });
    assert.equal(d.exited().signal, 'SIGKILL');
    d = await startDaemon({ dir, port });
    figures.restartMs = Date.now() - t0;
    assert.notEqual(d.pid, oldPid);
    console.log(`daemon ${oldPid} killed, ${d.pid} listening on the same port ${port} after ${figures.restartMs} ms`);

    // Both pages reconnect by themselves and get call_started again (nobody clicks).
    const pp = people.patient.page;
    const dp = people.doctor.page;
    await waitFor(async () => {
      const w = await wireLog(pp);
      return w.filter((e) => e.msg?.type === 'call_started' && e.at > t0).length >= 1;
    }, { timeout: RESTART_RESUME_MAX_MS, what: 'a call_started after the restart on the patient page' });
    await waitFor(async () => {
      const w = await wireLog(dp);
      return w.filter((e) => e.msg?.type === 'call_started' && e.at > t0).length >= 1;
    }, { timeout: RESTART_RESUME_MAX_MS, what: 'a call_started after the restart on the doctor page' });
    const after = async (page) => (await wireLog(page)).filter((e) => e.at > t0);
    const pw = await after(pp);
    const dw = await after(dp);
    figures.patientAfterKill = pw.map((e) => e.msg?.type || `close ${e.close.code}`).filter((x) => !/candidate|quality|offer|pc_state|max_bitrate/.test(x));
    figures.doctorAfterKill = dw.map((e) => e.msg?.type || `close ${e.close.code}`).filter((x) => !/candidate|quality|offer|pc_state|max_bitrate/.test(x));
    assert.ok(!pw.some((e) => e.msg?.type === 'waiting'), `the patient was not put in the waiting room: ${figures.patientAfterKill}`);
    assert.ok(!pw.some((e) => e.msg?.type === 'error' || (e.close && e.close.code >= 4400)), `patient refused: ${figures.patientAfterKill}`);
    figures.killToCallStartedMs = {
      patient: pw.find((e) => e.msg?.type === 'call_started').at - t0,
      doctor: dw.find((e) => e.msg?.type === 'call_started').at - t0,
    };
    assert.equal(await dp.evaluate(() => window.__mw.autoRejoins), 1, 'the console rejoined once, by itself');
    ids.patient2 = await participantId(pp);
    ids.doctor2 = await participantId(dp);
    assert.notEqual(ids.patient2, ids.patient);
    const m = await mediaBothWays(people.patient, ids.doctor2, people.doctor, ids.patient2, { t0 });
    figures.killToFirstFrameMs = m.first;
    assert.ok(Math.max(m.first.patient, m.first.doctor) <= RESTART_RESUME_MAX_MS,
      `media both ways ${JSON.stringify(m.first)} ms after the kill, want ≤ ${RESTART_RESUME_MAX_MS}`);
    await stillFlowing(people.patient, ids.doctor2, people.doctor, ids.patient2);
    const metrics = await metricsOf(d, cookie);
    figures.metricsAfterRestart = counts(metrics);
    assert.deepEqual(counts(metrics), { rooms: 1, pipelines: 1, participants: 2, peer_connections: 4 });
    assert.equal(await pp.evaluate(() => window.__mw.state), 'call');
    assert.equal(await dp.evaluate(() => window.__mw.state), 'call');
    console.log(`kill → call_started ${JSON.stringify(figures.killToCallStartedMs)} ms, first frames ${JSON.stringify(m.first)} ms`);
    await screenshot(dp, 'faults-restart-doctor');
    await screenshot(pp, 'faults-restart-patient');

    // No booking lost: every appointment and consultation record exactly as before the kill.
    const rowsAfter = dbRows(d.db);
    figures.rowsAfter = rowsAfter;
    assert.deepEqual(rowsAfter, rowsBefore, 'appointments and consultation records unchanged by the kill and restart');
    // And the doctor's day (API) still lists both.
    const today = await request(d.base, 'GET', '/api/appointments/today', { cookie });
    assert.equal(today.status, 200, 'the doctor\'s session survived the restart');
    const listed = today.json.appointments.map((a) => a.id);
    assert.ok(listed.includes(appt.appointment_id), JSON.stringify(listed));
    if (new Date((Date.now() / 1000 + 7200) * 1000).getUTCDate() === new Date().getUTCDate()) {
      assert.ok(listed.includes(later.appointment_id), JSON.stringify(listed));
    }

    figures.metricsAfterEnd = counts(await endCall(d, cookie, people));
    const ended = dbRows(d.db).find((r) => r.id === appt.appointment_id);
    assert.equal(ended.status, 'fulfilled');
    assert.equal(ended.outcome, 'completed');
    assert.equal(ended.started_at, mine.started_at, 'the started time is the first one');
  });
});

// --- 3. The patient's network cut for 20 s -----------------------------------------------------

const PNS = `mwcut-${process.pid}`;
const VETH = `mwc${process.pid % 1000000}`;
const VPEER = `mwq${process.pid % 1000000}`;
const GW_IP = '198.18.2.1';
const PATIENT_IP = '198.18.2.2';
const CUT_MS = 20000;
const AWAY_NOTICE_MAX_MS = 6000;   // protocol.md: "away" after 3.5 s without media, plus slack
// Media both ways again after the link returns: the page's new connection waits for its old
// one's close to reach the server (TCP retransmission backoff, then 4409 retried with backoff).
const RECOVER_MAX_MS = 10000;

const inPatientNs = (cmd, args) => run('ip', ['netns', 'exec', PNS, cmd, ...args]);
const iptables = (...args) => inPatientNs('iptables', ['-w', ...args]);

function makePatientNamespace() {
  run('ip', ['netns', 'add', PNS]);
  run('ip', ['link', 'add', VETH, 'type', 'veth', 'peer', 'name', VPEER, 'netns', PNS]);
  run('ip', ['addr', 'add', `${GW_IP}/24`, 'dev', VETH]);
  run('ip', ['link', 'set', VETH, 'up']);
  run('ip', ['-n', PNS, 'link', 'set', 'lo', 'up']);
  run('ip', ['-n', PNS, 'addr', 'add', `${PATIENT_IP}/24`, 'dev', VPEER]);
  run('ip', ['-n', PNS, 'link', 'set', VPEER, 'up']);
  run('ip', ['-n', PNS, 'route', 'add', 'default', 'via', GW_IP]);
  inPatientNs('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
  inPatientNs('sysctl', ['-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
}

function deletePatientNamespace() {
  for (const pid of run('ip', ['netns', 'pids', PNS]).split(/\s+/).filter(Boolean)) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
  run('ip', ['netns', 'del', PNS]);
}

// Everything in and out of the patient's namespace dropped (loopback aside): the link is cut,
// silently, as when a mobile link drops; no socket is told.
function cut() {
  iptables('-A', 'OUTPUT', '-o', 'lo', '-j', 'ACCEPT');
  iptables('-A', 'OUTPUT', '-j', 'DROP');
  iptables('-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT');
  iptables('-A', 'INPUT', '-j', 'DROP');
}

function restore() {
  iptables('-F', 'INPUT');
  iptables('-F', 'OUTPUT');
}

function droppedPackets() {
  const out = {};
  for (const chain of ['OUTPUT', 'INPUT']) {
    const l = iptables('-L', chain, '-v', '-n', '-x').split('\n').find((x) => /\bDROP\b/.test(x));
    out[chain] = l ? Number(l.trim().split(/\s+/)[0]) : 0;
  }
  return out;
}

part('cut')('the patient\'s network cut for 20 s and restored', () => {
  let d;
  let appt;
  let cookie;
  let dir;
  let nsMade = false;
  const people = {};
  const ids = {};
  const figures = {};

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mw-e2e-faults-cut-'));
    makePatientNamespace();
    nsMade = true;
    await writeFile(path.join(dir, 'chromium.sh'), `#!/bin/sh\nexec ip netns exec ${PNS} ${CHROMIUM} "$@"\n`);
    await chmod(path.join(dir, 'chromium.sh'), 0o755);
    // The relay's ICE also on the patient link's gateway address: libnice answers a peer only out
    // of the interface holding the candidate's address (bench/weak/janus/README.md), so with
    // 198.18.0.1 alone (on another interface) every UDP packet to the patient was lost.
    ({ d, appt, cookie } = await daemonWithCall(['--ice-address', GW_IP]));
  });

  after(async () => {
    try { if (nsMade) restore(); } catch { /* namespace gone */ }
    await finish(d, 'faults-cut', people, figures);
    if (nsMade) { try { deletePatientNamespace(); } catch (e) { console.error(`namespace: ${e.message}`); } }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the doctor is told "away"; the patient\'s browser fails its peer connections ~15 s in and its page rejoins by itself; media both ways within 10 s of the restore; no crash', { timeout: 150000 }, async () => {
    await callUp(d, appt, people, ids, { patientOpts: { executablePath: path.join(dir, 'chromium.sh') } });
    const pp = people.patient.page;
    const dp = people.doctor.page;
    // Mark the page's peer connection objects, to know afterwards they are the same ones.
    const docPcsBefore = await dp.evaluate(() => [...window.__mw.pcs].map(([id, pc]) => { pc.__faultMark = id; return id; }));
    const patientWireBefore = (await wireLog(pp)).length;

    const t0 = Date.now();
    cut();
    const away = await waitMessage(dp, (m) => m.type === 'participant_away' && String(m.participant_id) === ids.patient,
      { timeout: 15000, what: 'participant_away for the patient on the doctor page' });
    figures.awayNoticeMs = away.at - t0;
    assert.ok(figures.awayNoticeMs <= AWAY_NOTICE_MAX_MS, `doctor told after ${figures.awayNoticeMs} ms, want ≤ ${AWAY_NOTICE_MAX_MS}`);
    assert.ok(away.msg.drop_after_ms >= CUT_MS, `the place is kept longer than the cut (drop_after_ms ${away.msg.drop_after_ms})`);
    const during = await metricsOf(d, cookie);
    assert.deepEqual(counts(during), { rooms: 1, pipelines: 1, participants: 2, peer_connections: 4 }, 'the relay keeps everything while the patient is away');
    // Until the link returns: when did the patient's browser give its peer connections up?
    const pcStates = async (page) => page.evaluate(() => Object.fromEntries([...window.__mw.pcs].map(([id, pc]) => [id, pc.connectionState])));
    while (Date.now() - t0 < CUT_MS - 250) {
      const st = await pcStates(pp);
      if (!figures.patientPcFailedMs && Object.values(st).includes('failed')) {
        figures.patientPcFailedMs = Date.now() - t0;
        figures.patientPcsAtFailure = st;
      }
      await sleep(250);
    }
    await sleep(Math.max(0, CUT_MS - (Date.now() - t0)));
    figures.dropped = droppedPackets();
    assert.ok(figures.dropped.OUTPUT > 0 && figures.dropped.INPUT > 0, `the cut dropped packets both ways: ${JSON.stringify(figures.dropped)}`);
    const t1 = Date.now();
    restore();
    figures.cutMs = t1 - t0;

    // Chrome gave its peer connections up during the cut (above), so the page joins again by
    // itself on a new connection: the doctor sees the old participant dropped and the new one
    // join; media both ways again within RECOVER_MAX_MS of the link's return.
    const rejoin = await waitMessage(dp, (m) => m.type === 'participant_joined' && m.participant?.role === 'patient',
      { timeout: RECOVER_MAX_MS, what: 'participant_joined for the returning patient on the doctor page' });
    figures.restoreToDoctorToldJoinedMs = rejoin.at - t1;
    ids.patient2 = String(rejoin.msg.participant.participant_id);
    const m = await mediaBothWays(people.patient, ids.doctor, people.doctor, ids.patient2, { t0: t1, timeout: RECOVER_MAX_MS + 5000 });
    figures.restoreToFirstFrameMs = m.first;
    assert.ok(Math.max(m.first.patient, m.first.doctor) <= RECOVER_MAX_MS,
      `media both ways ${JSON.stringify(m.first)} ms after the restore, want ≤ ${RECOVER_MAX_MS}`);
    await stillFlowing(people.patient, ids.doctor, people.doctor, ids.patient2);
    console.log(`cut ${figures.cutMs} ms: away told after ${figures.awayNoticeMs} ms; patient's pcs failed ${figures.patientPcFailedMs} ms into the cut; after the restore: doctor told the patient joined again in ${figures.restoreToDoctorToldJoinedMs} ms, first frames ${JSON.stringify(m.first)} ms; dropped ${JSON.stringify(figures.dropped)}`);

    // Exactly: the patient's browser failed its peer connections after Chrome's ~15 s without an
    // answer, before the link came back; its page rejoined once (one welcome and one
    // call_started after the restore, no refusal); the doctor was told the old participant
    // "dropped" (never "left") and kept its own connection and publish peer connection.
    assert.ok(figures.patientPcFailedMs >= 10000 && figures.patientPcFailedMs < CUT_MS,
      `the patient's peer connections failed ${figures.patientPcFailedMs} ms into the cut`);
    assert.equal(await pp.evaluate(() => window.__mw.mediaRejoins), 1, 'the patient page rejoined once');
    assert.equal(await participantId(pp), ids.patient2);
    const pw = (await wireLog(pp)).slice(patientWireBefore);
    figures.patientAfterCut = pw.map((e) => (e.close ? `close ${e.close.code}` : e.msg.type + (e.msg.code ? ` ${e.msg.code}` : '')))
      .filter((x) => !/candidate|quality|offer|pc_state|max_bitrate/.test(x));
    assert.equal(pw.filter((x) => x.msg?.type === 'welcome').length, 1, 'one welcome after the cut');
    assert.equal(pw.filter((x) => x.msg?.type === 'call_started').length, 1, 'one call_started after the cut');
    // The new connection is not refused 4409 although the old one's close is still held up by
    // TCP: the server lets an "away" participant's connection be replaced by a new one with
    // its link. The only close is the page's own of its old connection (4000, or 1006 when the
    // closing handshake never completed over the dead TCP connection).
    assert.ok(!pw.some((x) => x.msg?.type === 'waiting' || x.msg?.type === 'error'),
      `not refused, not put in the waiting room: ${figures.patientAfterCut}`);
    const closes = pw.filter((x) => x.close).map((x) => x.close.code);
    assert.ok(closes.length === 1 && [4000, 1006].includes(closes[0]), `one close, the old connection's: ${figures.patientAfterCut}`);
    const dw = await wireLog(dp);
    const left = dw.filter((x) => x.msg?.type === 'participant_left');
    assert.deepEqual(left.map((x) => [x.msg.participant_id, x.msg.reason]), [[ids.patient, 'dropped']]);
    assert.ok(!dw.some((x) => x.at >= t0 && (x.close || x.msg?.type === 'welcome')), 'the doctor\'s page kept its connection');
    const docPcsAfter = await dp.evaluate(() => [...window.__mw.pcs].map(([id, pc]) => (pc.__faultMark === id ? id : `new:${id}`)));
    assert.deepEqual(docPcsAfter.sort(), ['pub', `new:sub:${ids.patient2}`].sort(), `doctor's peer connections ${docPcsAfter} (before: ${docPcsBefore})`);
    assert.deepEqual(counts(await metricsOf(d, cookie)), { rooms: 1, pipelines: 1, participants: 2, peer_connections: 4 });
    assert.equal(d.exited(), null, 'the daemon is running');
    await screenshot(dp, 'faults-cut-doctor-after');
    figures.metricsAfterEnd = counts(await endCall(d, cookie, people));
  });
});
