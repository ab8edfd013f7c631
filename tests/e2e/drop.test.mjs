// Drops and comebacks, with real browsers: a patient whose tab is closed mid-call (the doctor is
// told "dropped" within 5 s, the relay frees the patient's peer connections), the patient
// opening the same link again (not refused as "in use"; straight back into the running call,
// media both ways), the doctor's browser dying (the patient is told; the doctor signs in again,
// sees the patient "in call" in the waiting room, rejoins, media both ways), a silent network
// loss (the patient's Chromium frozen with SIGSTOP: no close frame, no pong), and the doctor
// ending with the relay empty afterwards. Each step is one subtest; after a failed required step
// the rest are skipped (MW_E2E_KEEP_GOING=1 runs them anyway).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  consoleLogin, startDaemon, addDoctor, addPatient, book, launchPerson, screenshot, waitState, waitFor,
  stats, inbound, loginCookie, request, cleanupAll, sleep, tapWebSockets, wireLog, waitMessage,
  mediaBothWays, mediaCounts, stillFlowing, videoKeyStats,
  browserPids, signalPids, patientReady,
} from './lib.mjs';

const DOCTOR = { username: 'dr.farah', name: 'Dr Farah Naz', password: 'drop-test-password' };
const PATIENT = { name: 'Imran Qureshi', phone: '+923331112223' };
const DROP_NOTICE_MAX_MS = 5000;     // protocol.md: a closed tab is seen at once
// Media again after an 8 s freeze: 0.2-0.4 s here, but in some runs the doctor's Chrome decodes
// nothing for ~3 s after the wake although whole frames arrive (it asked for a keyframe during the
// freeze; the patient's keyframe comes at once and all held frames decode together at +3.1 s).
const SHORT_LOSS_RESUME_MAX_MS = 6000;
const SILENT_NOTICE_MAX_MS = 6000;   // protocol.md: "away" after 3.5 s without media, plus slack

async function diagnose(page) {
  return page.evaluate(async () => {
    const mw = window.__mw || {};
    const log = (mw.signaling?.log || []).map((m) => m.type + (m.pc ? ` ${m.pc}` : '') +
      (m.type === 'participant_left' ? ` ${m.participant_id} ${m.reason}` : '') +
      (m.type === 'error' ? ` ${m.code} ${m.message}` : ''));
    return { state: mw.state, participantId: mw.participantId, notice: document.querySelector('#notice')?.textContent,
      log, stats: mw.summary ? await mw.summary() : null };
  }).catch((e) => `page gone: ${e.message}`);
}

describe('drops and comebacks', () => {
  let d;
  let appt;
  let cookie;                 // a staff session from node, for /api/metrics
  const people = {};          // live browsers by role
  const gone = [];            // browsers closed or killed during the test (closed again in after())
  const stopped = new Set();  // pids we SIGSTOPped (SIGCONTed in after() if still stopped)
  const ids = {};
  const figures = {};
  let broken = null;

  // One step; a failed required step skips the later ones; an optional one does not.
  const step = (name, fn, { timeout = 90000, optional = false } = {}) => it(name, { timeout }, async (t) => {
    if (broken) return t.skip(`after failed step: ${broken}`);
    try {
      await fn(t);
    } catch (e) {
      if (!optional && process.env.MW_E2E_KEEP_GOING !== '1') broken = name;
      for (const p of Object.values(people)) {
        await screenshot(p.page, `drop-FAILED-${p.name}`);
        console.log(`${p.name} at failure: ${JSON.stringify(await diagnose(p.page))}`);
        console.log(`${p.name} video at failure: ${JSON.stringify(await videoKeyStats(p.page))}`);
      }
      console.log(`metrics at failure: ${JSON.stringify(await metrics().catch((x) => x.message))}`);
      console.log(`relay log at failure:\n${d.relayTail()}`);
      throw e;
    }
  });

  async function metrics() {
    const r = await request(d.base, 'GET', '/api/metrics', { cookie });
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  async function waitMetrics(pred, what, timeout = 5000) {
    let last;
    const t0 = Date.now();
    await waitFor(async () => { last = await metrics(); return pred(last); }, { timeout, interval: 100, what })
      .catch((e) => { throw new Error(`${e.message}; last metrics ${JSON.stringify(last)}`); });
    return { metrics: last, ms: Date.now() - t0 };
  }

  async function person(name) {
    const p = await launchPerson(name);
    await tapWebSockets(p.ctx);
    return p;
  }

  async function doctorSignsIn(name) {
    const doc = await person(name);
    const page = doc.page;
    await consoleLogin(page, d.base, DOCTOR.username, DOCTOR.password);
    await waitFor(() => page.evaluate(() => window.__mw.participantId), { timeout: 10000, what: `${name}'s welcome` });
    return doc;
  }

  // The patient's page from the link to the join button; returns the ms the join click was made.
  async function patientOpensLink(p, shot) {
    await p.page.goto(appt.link, { waitUntil: 'load' });
    await patientReady(p.page);
    if (shot) await screenshot(p.page, shot);
    const t = Date.now();
    await p.page.click('#btn-join');
    return t;
  }

  before(async () => {
    d = await startDaemon();
    await addDoctor(d, DOCTOR);
    const { patient_id } = await addPatient(d, PATIENT);
    appt = await book(d, { doctor: DOCTOR.username, patient: patient_id, start: 'now', minutes: 30 });
    cookie = await loginCookie(d.base, DOCTOR.username, DOCTOR.password);
  });

  after(async () => {
    if (stopped.size) signalPids([...stopped], 'SIGCONT');
    const all = [...Object.values(people), ...gone];
    const logs = {};
    for (const p of Object.values(people)) logs[p.name] = await wireLog(p.page);
    await cleanupAll([...new Set(all)].map((p) => () => p.close()));
    if (!d) return;
    const exit = await d.stop();
    await d.saveLog('drop');
    for (const p of new Set(all)) {
      if (p.consoleLog.length) console.log(p.consoleLog.slice(-30).join('\n'));
    }
    for (const [name, log] of Object.entries(logs)) {
      console.log(`${name} received: ${log.map((e) => (e.close ? `close ${e.close.code}` : e.msg.type +
        (e.msg.pc ? ` ${e.msg.pc}` : '') + (e.msg.type === 'participant_left' ? ` ${e.msg.participant_id} ${e.msg.reason}` : '')))
        .filter((x) => !x.startsWith('candidate')).join(', ')}`);
    }
    console.log(`figures: ${JSON.stringify(figures, null, 1)}`);
    await d.cleanup();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null },
      `daemon pid ${d.pid} should exit 0 on SIGTERM`);
  });

  step('patient and doctor in a call, media flowing both ways', async () => {
    people.patient = await person('patient');
    await patientOpensLink(people.patient);
    await waitState(people.patient.page, 'waiting');
    ids.patient = await people.patient.page.evaluate(() => window.__mw.participantId);

    people.doctor = await doctorSignsIn('doctor');
    const dp = people.doctor.page;
    ids.doctor = await dp.evaluate(() => window.__mw.participantId);
    await dp.click(`[data-testid="admit-${appt.appointment_id}"]`);
    await waitState(dp, 'call', 20000);
    await waitState(people.patient.page, 'call', 20000);
    const m = await mediaBothWays(people.patient, ids.doctor, people.doctor, ids.patient);
    figures.firstCallFirstFrameMs = m.first;
    await stillFlowing(people.patient, ids.doctor, people.doctor, ids.patient);
    const r = await metrics();
    figures.metricsInCall = { participants: r.participants, peer_connections: r.peer_connections, rooms: r.rooms };
    assert.equal(r.participants, 2, JSON.stringify(r));
    assert.equal(r.peer_connections, 4, `2 publish + 2 subscriptions: ${JSON.stringify(r)}`);
    await screenshot(people.patient.page, 'drop-01-patient-in-call');
    await screenshot(dp, 'drop-02-doctor-in-call');
  }, { timeout: 120000 });

  step('the patient closes the tab: the doctor is told "dropped" within 5 s, in words', async () => {
    const dp = people.doctor.page;
    const p = people.patient;
    delete people.patient;
    gone.push(p);
    const t0 = Date.now();
    await p.page.close();   // like the user closing the tab: no hang-up button, no "leave"
    figures.patientTabCloseCallMs = Date.now() - t0;
    const e = await waitMessage(dp, (m) => m.type === 'participant_left' && String(m.participant_id) === ids.patient,
      { timeout: 10000, what: 'participant_left for the patient on the doctor page' });
    figures.patientTabClosedNoticeMs = e.at - t0;
    console.log(`patient tab closed → doctor told in ${e.at - t0} ms (reason ${e.msg.reason})`);
    assert.equal(e.msg.reason, 'dropped');
    assert.ok(e.at - t0 <= DROP_NOTICE_MAX_MS, `doctor told after ${e.at - t0} ms, want ≤ ${DROP_NOTICE_MAX_MS}`);
    // The console says it in words (web/js/console.js: "<Role> lost the connection.").
    await dp.waitForSelector('#notice:not([hidden])', { timeout: 3000 });
    const notice = (await dp.textContent('#notice')).trim();
    figures.doctorNoticeAfterPatientDrop = notice;
    assert.match(notice, /patient lost the connection/i);
    await dp.waitForSelector(`video[data-participant="${ids.patient}"]`, { state: 'detached', timeout: 3000 });
    assert.equal(await dp.evaluate(() => window.__mw.state), 'call', 'the doctor stays in the call');
    await screenshot(dp, 'drop-03-doctor-patient-dropped');
    await p.close();
  });

  step('the relay freed the patient: participants 1, peer_connections 1 (doctor publish)', async () => {
    const { metrics: m, ms } = await waitMetrics(
      (x) => x.participants === 1 && x.peer_connections === 1 && x.rooms === 1,
      'metrics participants 1, peer_connections 1, rooms 1');
    figures.metricsAfterPatientDrop = { ...m, consultations: undefined };
    figures.relayFreedPatientWithinMs = ms;
    const c = (m.consultations || []).find((x) => x.appointment_id === appt.appointment_id);
    assert.ok(c, `consultation listed: ${JSON.stringify(m)}`);
    assert.deepEqual(c.participants.map((x) => String(x.participant_id)), [ids.doctor], JSON.stringify(c));
  });

  step('the patient opens the same link again: not "in use", straight into the call, media both ways', async () => {
    people.patient = await person('patient-again');
    const pp = people.patient.page;
    const t0 = await patientOpensLink(people.patient, 'drop-04-patient-again-preview');
    await waitFor(async () => ['call', 'error', 'waiting'].includes(await pp.evaluate(() => window.__mw.state)),
      { timeout: 20000, interval: 50, what: 'the returning patient page to reach call (or error/waiting)' });
    const wire = await wireLog(pp);
    const refused = wire.find((e) => e.close && e.close.code >= 4400) || wire.find((e) => e.msg?.type === 'error');
    assert.ok(!refused, `the returning patient was refused: ${JSON.stringify(refused)}`);
    const started = wire.find((e) => e.msg?.type === 'call_started');
    assert.ok(started, `call_started expected (the call is running); got ${wire.map((e) => e.msg?.type || `close ${e.close.code}`).join(', ')}`);
    assert.ok(!wire.some((e) => e.msg?.type === 'waiting'), 'a patient rejoining a running call should not be put in the waiting room');
    figures.rejoinClickToCallStartedMs = started.at - t0;
    ids.patient2 = await pp.evaluate(() => window.__mw.participantId);
    figures.patientIds = { first: ids.patient, returning: ids.patient2 };
    const dj = await waitMessage(people.doctor.page, (m) => m.type === 'participant_joined' &&
      String(m.participant?.participant_id) === ids.patient2, { timeout: 5000, what: 'participant_joined on the doctor page' });
    figures.rejoinClickToDoctorToldMs = dj.at - t0;
    const m = await mediaBothWays(people.patient, ids.doctor, people.doctor, ids.patient2, { t0 });
    figures.rejoinClickToFirstFrameMs = { patientSeesDoctor: m.first[people.patient.name], doctorSeesPatient: m.first.doctor };
    figures.rejoinFrames = { patientFromDoctor: m.last[people.patient.name].frames, doctorFromPatient: m.last.doctor.frames };
    await stillFlowing(people.patient, ids.doctor, people.doctor, ids.patient2);
    const r = await metrics();
    assert.ok(r.participants === 2 && r.peer_connections === 4, `metrics after the comeback ${JSON.stringify({ ...r, consultations: undefined })}`);
    await screenshot(pp, 'drop-05-patient-back-in-call');
    await screenshot(people.doctor.page, 'drop-06-doctor-patient-back');
  }, { timeout: 120000 });

  step('the doctor\'s browser dies: the patient is told "dropped" within 5 s', async () => {
    const pp = people.patient.page;
    const doc = people.doctor;
    delete people.doctor;
    gone.push(doc);
    const pids = await browserPids(doc);
    assert.ok(pids.length > 0, 'found the doctor\'s Chromium processes');
    const t0 = Date.now();
    signalPids(pids, 'SIGKILL');   // the doctor's browser is gone at once: no pagehide, no close frame
    const e = await waitMessage(pp, (m) => m.type === 'participant_left' && String(m.participant_id) === ids.doctor,
      { timeout: 10000, what: 'participant_left for the doctor on the patient page' });
    figures.doctorKilledNoticeMs = e.at - t0;
    console.log(`doctor's browser killed (${pids.length} processes) → patient told in ${e.at - t0} ms (reason ${e.msg.reason})`);
    assert.equal(e.msg.reason, 'dropped');
    assert.ok(e.at - t0 <= DROP_NOTICE_MAX_MS, `patient told after ${e.at - t0} ms, want ≤ ${DROP_NOTICE_MAX_MS}`);
    await pp.waitForSelector('#notice:not([hidden])', { timeout: 3000 });
    const notice = (await pp.textContent('#notice')).trim();
    figures.patientNoticeAfterDoctorDrop = notice;
    assert.match(notice, /doctor lost their connection/i);
    assert.equal(await pp.evaluate(() => window.__mw.state), 'call', 'the patient stays in the call');
    await screenshot(pp, 'drop-07-patient-doctor-dropped');
    const { metrics: m } = await waitMetrics((x) => x.participants === 1 && x.peer_connections === 1,
      'metrics participants 1, peer_connections 1 after the doctor dropped');
    figures.metricsAfterDoctorDrop = { ...m, consultations: undefined };
  });

  step('the doctor signs in again, sees the patient "in call", rejoins: media both ways', async () => {
    people.doctor = await doctorSignsIn('doctor-again');
    const dp = people.doctor.page;
    ids.doctor2 = await dp.evaluate(() => window.__mw.participantId);
    const row = `#waiting-room li[data-appointment="${appt.appointment_id}"]`;
    await dp.waitForSelector(row, { timeout: 5000 });
    const entry = await dp.evaluate((a) => (window.__mw.waiting || []).find((w) => w.appointment_id === a), appt.appointment_id);
    figures.waitingRoomEntryAfterDoctorDrop = entry;
    assert.ok(entry, 'the patient is listed in the waiting room');
    assert.equal(String(entry.participant_id), ids.patient2);
    assert.equal(entry.in_call, true, `in_call should be true: ${JSON.stringify(entry)}`);
    const btn = (await dp.textContent(`[data-testid="admit-${appt.appointment_id}"]`)).trim();
    figures.waitingRoomButton = btn;
    assert.equal(btn, 'Rejoin');
    await screenshot(dp, 'drop-08-doctor-again-waiting-room');
    const t0 = Date.now();
    await dp.click(`[data-testid="admit-${appt.appointment_id}"]`);
    await waitState(dp, 'call', 20000);
    figures.doctorRejoinClickToCallMs = Date.now() - t0;
    const m = await mediaBothWays(people.patient, ids.doctor2, people.doctor, ids.patient2, { t0 });
    figures.doctorRejoinClickToFirstFrameMs = { patientSeesDoctor: m.first[people.patient.name], doctorSeesPatient: m.first[people.doctor.name] };
    await stillFlowing(people.patient, ids.doctor2, people.doctor, ids.patient2);
    await screenshot(dp, 'drop-09-doctor-rejoined');
    await screenshot(people.patient.page, 'drop-10-patient-doctor-back');
  }, { timeout: 120000 });

  // Freezes the patient's Chromium (SIGSTOP: no close frame, no pong, no media); returns the
  // pids and the time it was stopped.
  async function freezePatient() {
    const pids = await browserPids(people.patient);
    assert.ok(pids.length > 0, 'found the patient\'s Chromium processes');
    const t0 = Date.now();
    for (const pid of signalPids(pids, 'SIGSTOP')) stopped.add(pid);
    // Every process of that browser is really stopped (state T), its sockets still open.
    await waitFor(async () => (await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/stat`, 'utf8')
      .then((st) => st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3)).catch(() => 'gone'))))
      .every((st) => st === 'T'), { timeout: 1000, interval: 20, what: 'the patient\'s Chromium processes to be stopped' });
    return t0;
  }

  // The doctor's page gets participant_away for the frozen patient, at or after t0.
  async function doctorToldAway(t0) {
    const e = await waitFor(async () => (await wireLog(people.doctor.page)).find((x) => x.msg?.type === 'participant_away' &&
      String(x.msg.participant_id) === ids.patient2 && x.at >= t0),
    { timeout: 15000, interval: 50, what: 'participant_away for the frozen patient on the doctor page' });
    return { msg: e.msg, ms: e.at - t0 };
  }

  step('a short silent loss (the patient\'s Chromium frozen 8 s): the doctor is told "interrupted" within ~6 s, the call carries on afterwards with the same peer connections', async () => {
    const dp = people.doctor.page;
    const wireBefore = (await wireLog(people.patient.page)).length;
    // What the patient's page had received before the freeze (it reads nothing while frozen);
    // the doctor's count is taken at the wake, after the frames in flight were decoded.
    const base = await mediaCounts(people.patient, ids.doctor2, people.doctor, ids.patient2);
    const t0 = await freezePatient();
    const away = await doctorToldAway(t0);
    figures.shortLossAwayNoticeMs = away.ms;
    console.log(`patient frozen → doctor told "away" in ${away.ms} ms (drop after ${away.msg.drop_after_ms} ms)`);
    assert.ok(away.ms <= SILENT_NOTICE_MAX_MS, `doctor told after ${away.ms} ms, want ≤ ${SILENT_NOTICE_MAX_MS}`);
    assert.ok(away.msg.drop_after_ms >= 20000, `the place is kept ≥ 20 s (drop_after_ms ${away.msg.drop_after_ms})`);
    assert.match(await dp.textContent('#notice'), /interrupted/i);
    await screenshot(dp, 'drop-11-doctor-patient-interrupted');
    // The relay keeps the patient: two participants, all four peer connections.
    const { metrics } = await waitMetrics((x) => x.participants === 2, 'metrics participants 2 while the patient is away');
    assert.equal(metrics.peer_connections, 4, 'the relay keeps every peer connection while the patient is away');
    await sleep(Math.max(0, 8000 - (Date.now() - t0)));
    base[people.doctor.name] = inbound(await stats(dp), ids.patient2);
    const t1 = Date.now();
    signalPids([...stopped], 'SIGCONT');
    stopped.clear();
    const back = await waitMessage(dp, (m) => m.type === 'participant_back' && String(m.participant_id) === ids.patient2,
      { timeout: 10000, what: 'participant_back for the woken patient on the doctor page' });
    figures.shortLossBackNoticeMs = back.at - t1;
    // Same participant id, media both ways, and the patient's page never rejoined.
    const m = await mediaBothWays(people.patient, ids.doctor2, people.doctor, ids.patient2, { t0: t1, minFrames: 10, base });
    figures.shortLossResumeMs = m.first;
    // Chrome wakes with its pcs as they were: the first new frame each way within a few seconds.
    assert.ok(Math.max(...Object.values(m.first)) <= SHORT_LOSS_RESUME_MAX_MS,
      `first new frames ${JSON.stringify(m.first)} ms after the wake, want ≤ ${SHORT_LOSS_RESUME_MAX_MS}`);
    await stillFlowing(people.patient, ids.doctor2, people.doctor, ids.patient2);
    const after = (await wireLog(people.patient.page)).slice(wireBefore);
    assert.ok(!after.some((x) => x.close || x.msg?.type === 'welcome' || x.msg?.type === 'call_started'),
      `the patient's page did not reconnect: ${JSON.stringify(after.map((x) => x.msg?.type || x.close))}`);
    assert.equal(await people.patient.page.evaluate(() => window.__mw.participantId), ids.patient2);
    assert.match(await dp.textContent('#notice'), /connected again/i);
    await screenshot(dp, 'drop-11b-doctor-patient-back');
  }, { optional: true, timeout: 60000 });

  step('a long silent loss (frozen past the grace): the doctor is told "interrupted", then "dropped", and the relay frees the patient', async () => {
    const t0 = await freezePatient();
    const away = await doctorToldAway(t0);
    assert.ok(away.ms <= SILENT_NOTICE_MAX_MS, `doctor told after ${away.ms} ms, want ≤ ${SILENT_NOTICE_MAX_MS}`);
    let e;
    try {
      e = await waitMessage(people.doctor.page, (m) => m.type === 'participant_left' && String(m.participant_id) === ids.patient2,
        { timeout: away.msg.drop_after_ms + 10000, what: 'participant_left for the frozen patient on the doctor page' });
    } finally {
      figures.silentLossStoppedForMs = Date.now() - t0;
    }
    figures.silentLossDropMs = e.at - t0;
    console.log(`patient frozen → doctor told "dropped" after ${e.at - t0} ms`);
    assert.equal(e.msg.reason, 'dropped');
    assert.ok(e.at - t0 <= away.ms + away.msg.drop_after_ms + 3000,
      `dropped ${e.at - t0} ms after the freeze, announced ${away.ms} + ${away.msg.drop_after_ms} ms`);
    await screenshot(people.doctor.page, 'drop-11c-doctor-patient-silent-loss');
    await waitMetrics((x) => x.participants === 1 && x.peer_connections === 1,
      'metrics participants 1, peer_connections 1 after the silent loss');
  }, { optional: true, timeout: 90000 });

  step('the frozen patient wakes (SIGCONT): its page reconnects and rejoins the call', async () => {
    const pat = people.patient;
    if (!stopped.size) return;
    const t0 = Date.now();
    signalPids([...stopped], 'SIGCONT');
    stopped.clear();
    const pp = pat.page;
    // The page's old socket was hung up by the server; Signaling reconnects with the same token.
    const w = await waitFor(async () => {
      const wire = await wireLog(pp);
      const i = wire.findIndex((x) => x.at >= t0 - 100 && x.close);
      return i >= 0 && wire.slice(i).find((x) => x.msg?.type === 'call_started' || x.msg?.type === 'error' ||
        (x.close && x.close.code >= 4400));
    }, { timeout: 20000, interval: 100, what: 'the woken patient page to reconnect (call_started after its socket closed)' });
    assert.equal(w.msg?.type, 'call_started', `woken patient got ${JSON.stringify(w)}`);
    figures.wakeToCallStartedMs = w.at - t0;
    ids.patient3 = await pp.evaluate(() => window.__mw.participantId);
    const m = await mediaBothWays(people.patient, ids.doctor2, people.doctor, ids.patient3, { t0 });
    figures.wakeToFirstFrameMs = { patientSeesDoctor: m.first[pat.name], doctorSeesPatient: m.first[people.doctor.name] };
    await screenshot(pp, 'drop-12-patient-woken-in-call');
  }, { optional: true, timeout: 60000 });

  step('the doctor ends the consultation; the relay is empty afterwards', async () => {
    const dp = people.doctor.page;
    const pp = people.patient?.page;
    const patientInCall = pp && (await pp.evaluate(() => window.__mw.state).catch(() => null)) === 'call';
    await dp.selectOption('#outcome', 'completed');
    await dp.click('#btn-end');
    await waitState(dp, 'day', 15000);
    if (patientInCall) {
      await waitState(pp, 'ended', 15000);
      assert.match(await pp.textContent('#ended-reason'), /doctor ended/i);
      await screenshot(pp, 'drop-13-patient-ended');
    }
    await screenshot(dp, 'drop-14-doctor-after-end');
    const { metrics: m } = await waitMetrics(
      (x) => x.rooms === 0 && x.pipelines === 0 && x.participants === 0 && x.peer_connections === 0,
      'metrics rooms/pipelines/participants/peer_connections 0', 15000);
    figures.metricsAfterEnd = m;
  });
});
