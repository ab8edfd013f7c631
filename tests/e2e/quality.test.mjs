// Link quality and audio only, end to end: a patient and a doctor in a real call through the
// relay. The patient's "Audio only" switch reaches the server, which remembers it for the patient
// (read back through the staff API) and says so in the welcome when the patient's link is opened
// again; the page's max_bitrate handling drives its real video sender; quality messages reach
// both pages; the consultation's quality record is written when the call ends.
//
// The cases that need the relay to emit quality samples (sfu.h's `quality` callback, issue 4)
// look for a first sample and skip, saying so, while the relay does not send any.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  consoleLogin, startDaemon, addDoctor, addPatient, book, admin, launchPerson, screenshot, waitState, waitFor,
  stats, inbound, loginCookie, request, cleanupAll, sleep, wsProbe, patientJoin,
} from './lib.mjs';

const DOCTOR = { username: 'dr.sadia', name: 'Dr Sadia Malik', password: 'correct horse battery' };
const ADMIN = { username: 'admin.q', name: 'Clinic Admin', password: 'correct horse battery' };
const PATIENT = { name: 'Rukhsana Bibi', phone: '+923001112233' };
// How long a page waits for the relay's first quality sample (it promises about one a second).
const FIRST_SAMPLE_MS = 8000;

// Messages of one type a page's signaling has received (web/js/signaling.js keeps a log).
function received(page, type) {
  return page.evaluate((t) => (window.__mw?.signaling?.log || []).filter((m) => m.type === t), type)
    .catch(() => []);
}

// Video frames decoded, audio samples played out and audio packets received by a page, over
// all its peer connections (samples grow with concealment too; packets only with audio).
function media(page) {
  return page.evaluate(async () => {
    let frames = 0;
    let samples = 0;
    let audioPackets = 0;
    for (const pc of window.__mw?.pcs?.values() || []) {
      (await pc.getStats()).forEach((r) => {
        if (r.type !== 'inbound-rtp') return;
        if (r.kind === 'video') frames += r.framesDecoded || 0;
        if (r.kind === 'audio') {
          samples += r.totalSamplesReceived || 0;
          audioPackets += r.packetsReceived || 0;
        }
      });
    }
    return { frames, samples, audioPackets };
  });
}

// The first encoding of the page's video sender on "pub" (null before negotiation).
function videoEncoding(page) {
  return page.evaluate(() => {
    const pc = window.__mw?.pcs?.get('pub');
    const s = pc && pc.getSenders().find((x) => x.track && x.track.kind === 'video');
    const e = s && s.getParameters().encodings && s.getParameters().encodings[0];
    return e ? { active: e.active, maxBitrate: e.maxBitrate ?? null } : null;
  });
}

describe('link quality and audio only', () => {
  let d;
  let appt;
  let patientId;
  let adminCookie;
  const people = {};
  const ids = {};
  let broken = null;
  let qualitySeen = null; // null: not looked yet; true/false after the first look

  const step = (name, fn, timeout = 90000) => it(name, { timeout }, async (t) => {
    if (broken) return t.skip(`after failed step: ${broken}`);
    try {
      await fn(t);
    } catch (e) {
      if (process.env.MW_E2E_KEEP_GOING !== '1') broken = name;
      for (const p of Object.values(people)) await screenshot(p.page, `quality-FAILED-${p.name}`);
      throw e;
    }
  });

  // Waits (once) for the relay's first quality sample on both pages; throws if none came.
  async function relayEmitsQuality() {
    if (qualitySeen) return true;
    await waitFor(async () =>
      (await received(people.patient.page, 'quality')).length > 0 &&
      (await received(people.doctor.page, 'quality')).length > 0,
    { timeout: FIRST_SAMPLE_MS, interval: 250, what: 'a quality message on both pages' });
    qualitySeen = true;
    return true;
  }

  before(async () => {
    d = await startDaemon();
    await addDoctor(d, DOCTOR);
    await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name,
      '--password', ADMIN.password, '--role', 'admin']);
    ({ patient_id: patientId } = await addPatient(d, PATIENT));
    appt = await book(d, { doctor: DOCTOR.username, patient: patientId, start: 'now', minutes: 30 });
    adminCookie = await loginCookie(d.base, ADMIN.username, ADMIN.password);
  });

  after(async () => {
    await cleanupAll(Object.values(people).map((p) => () => p.close()));
    if (!d) return;
    const exit = await d.stop();
    await d.saveLog('quality');
    for (const p of Object.values(people)) {
      if (p.consoleLog.length) console.log(p.consoleLog.slice(-30).join('\n'));
    }
    await d.cleanup();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null },
      `daemon pid ${d.pid} should exit 0 on SIGTERM`);
  });

  async function patientJoins() {
    const page = people.patient.page;
    await page.goto(appt.link, { waitUntil: 'load' });
    await patientJoin(page);
  }

  step('a patient and a doctor are in a call with media both ways', async () => {
    people.patient = await launchPerson('patient');
    await patientJoins();
    await waitState(people.patient.page, 'waiting');
    ids.patient = await people.patient.page.evaluate(() => window.__mw.participantId);

    people.doctor = await launchPerson('doctor');
    const dp = people.doctor.page;
    await consoleLogin(dp, d.base, DOCTOR.username, DOCTOR.password);
    ids.doctor = await dp.evaluate(() => window.__mw.participantId);
    await dp.waitForSelector(`[data-testid="admit-${appt.appointment_id}"]`);
    await dp.click(`[data-testid="admit-${appt.appointment_id}"]`);
    await waitState(dp, 'call', 20000);
    await waitState(people.patient.page, 'call', 20000);
    await waitFor(async () => {
      const [ps, ds] = await Promise.all([stats(people.patient.page), stats(dp)]);
      return inbound(ps, ids.doctor).frames > 0 && inbound(ds, ids.patient).frames > 0;
    }, { timeout: 30000, interval: 200, what: 'first decoded video frame on both pages' });
    // Before any choice: the switch is off and the welcome said so.
    const pp = people.patient.page;
    assert.equal(await pp.getAttribute('#btn-audio-only', 'aria-pressed'), 'false');
    const [welcome] = await received(pp, 'welcome');
    assert.equal(welcome.audio_only, false, `welcome ${JSON.stringify(welcome)}`);
  }, 120000);

  step('an invalid audio_only gets malformed_message and the connection stays open', async () => {
    const r = await wsProbe(people.doctor.page, {
      hello: JSON.stringify({ type: 'hello' }),
      frames: [JSON.stringify({ type: 'audio_only', on: 'yes' }), JSON.stringify({ type: 'audio_only' })],
      afterWelcome: true, holdMs: 1500,
    });
    const errors = r.messages.filter((m) => m.type === 'error');
    assert.equal(errors.length, 2, JSON.stringify(r.messages));
    for (const e of errors) {
      assert.equal(e.code, 'malformed_message');
      assert.match(e.message, /"on"/);
      assert.notEqual(e.fatal, true);
    }
    assert.equal(r.close, null, `the connection should stay open: ${JSON.stringify(r.close)}`);
  });

  step('max_bitrate drives the page\'s video sender (0 stops it, a cap limits it, null lifts it)', async () => {
    const pp = people.patient.page;
    await waitFor(() => videoEncoding(pp), { what: 'the patient\'s video sender' });
    // The relay sends its own caps while its estimate ramps up; one landing between a value set
    // here and its read-back would be read instead. For this step the relay's caps are held (the
    // instance's setMaxBitrate is shadowed, the class's method is called directly) and the last
    // held one is applied afterwards, as the page would have.
    await pp.evaluate(() => {
      const call = window.__mw.call;
      window.__mwHeldCaps = [];
      call.setMaxBitrate = (k) => { window.__mwHeldCaps.push(k); return Promise.resolve(); };
    });
    const apply = (kbps) => pp.evaluate(
      (k) => Object.getPrototypeOf(window.__mw.call).setMaxBitrate.call(window.__mw.call, k), kbps);
    try {
      await apply(0);
      assert.deepEqual(await videoEncoding(pp), { active: false, maxBitrate: null });
      await apply(250);
      assert.deepEqual(await videoEncoding(pp), { active: true, maxBitrate: 250000 });
      await apply(null);
      assert.deepEqual(await videoEncoding(pp), { active: true, maxBitrate: null });
    } finally {
      await pp.evaluate(() => {
        const call = window.__mw.call;
        delete call.setMaxBitrate;
        const held = window.__mwHeldCaps;
        if (held.length) return call.setMaxBitrate(held.at(-1));
        return null;
      });
    }
  });

  step('the patient presses Audio only: the server remembers it for the patient', async () => {
    const pp = people.patient.page;
    await pp.click('#btn-audio-only');
    assert.equal(await pp.getAttribute('#btn-audio-only', 'aria-pressed'), 'true');
    await pp.waitForSelector('#video-notice[data-reason="chosen"]:not([hidden])');
    // The page stops sending its own video.
    await waitFor(async () => (await videoEncoding(pp))?.active === false,
      { what: 'the patient\'s video sender to stop' });
    let last;
    await waitFor(async () => {
      last = await request(d.base, 'GET', `/api/patients/${patientId}`, { cookie: adminCookie });
      return last.status === 200 && last.json.patient.prefers_audio_only === true;
    }, { timeout: 5000, what: 'prefers_audio_only in the patient record' })
      .catch((e) => { throw new Error(`${e.message}; last ${JSON.stringify(last?.json)}`); });
    // The relay stops video towards the patient; audio goes on.
    await sleep(1500);
    const a = await media(pp);
    await sleep(2500);
    const b = await media(pp);
    assert.ok(b.frames - a.frames <= 2, `no video to the patient in audio only: ${JSON.stringify({ a, b })}`);
    assert.ok(b.audioPackets - a.audioPackets > 50, `audio packets go on (> 50 in 2.5 s): ${JSON.stringify({ a, b })}`);
    await screenshot(pp, 'quality-01-patient-audio-only');
  });

  step('the doctor\'s page shows the patient\'s video paused after the patient chose audio only', async (t) => {
    await relayEmitsQuality();
    const dp = people.doctor.page;
    await dp.waitForSelector('#video-notice[data-reason="chosen"]:not([hidden])', { timeout: 10000 });
    assert.match(await dp.textContent('#video-notice'), /patient chose audio only/i);
    const q = (await received(dp, 'quality')).filter((m) => m.participant === ids.patient).at(-1);
    assert.equal(q.video, 'chosen', JSON.stringify(q));
    await screenshot(dp, 'quality-02-doctor-sees-audio-only');
  });

  step('quality messages reach both pages with sane values, at most one a second each', async (t) => {
    await relayEmitsQuality();
    await sleep(3000);
    for (const [who, page] of [['patient', people.patient.page], ['doctor', people.doctor.page]]) {
      const msgs = await received(page, 'quality');
      for (const pid of [ids.patient, ids.doctor]) {
        const mine = msgs.filter((m) => m.participant === pid);
        assert.ok(mine.length > 0, `${who}'s page: no quality message about ${pid}`);
        for (const m of mine) {
          assert.ok(Number.isInteger(m.score) && m.score >= 1 && m.score <= 5, `score ${JSON.stringify(m)}`);
          assert.ok(['excellent', 'good', 'fair', 'poor', 'bad'].includes(m.label), `label ${JSON.stringify(m)}`);
          assert.ok(['on', 'weak_link', 'chosen'].includes(m.video), `video ${JSON.stringify(m)}`);
          assert.equal(m.role, pid === ids.patient ? 'patient' : 'doctor');
          for (const k of ['loss_down', 'loss_up']) assert.ok(m[k] >= 0 && m[k] <= 1, `${k} ${JSON.stringify(m)}`);
          assert.ok(m.rtt_ms === null || (m.rtt_ms >= 0 && m.rtt_ms < 5000), `rtt_ms ${JSON.stringify(m)}`);
        }
      }
      // Each page sees itself and the other, in plain words.
      const lines = await page.$$eval('#quality li', (els) => els.map((e) => e.textContent));
      assert.ok(lines.some((l) => /^Your connection: (good|fair|poor)$/.test(l)), `${who}: ${lines}`);
      assert.ok(lines.some((l) => /’s connection: (good|fair|poor)$/.test(l)), `${who}: ${lines}`);
    }
    // Rate: over a window of the page's own receive times (the tap in lib.mjs is not installed
    // here), count against the wall clock: at most one per participant per second, plus one.
    const pp = people.patient.page;
    const before = (await received(pp, 'quality')).length;
    await sleep(5000);
    const n = (await received(pp, 'quality')).length - before;
    assert.ok(n <= 2 * 6, `patient page got ${n} quality messages in 5 s for 2 participants`);
  }, 60000);

  step('on reload of the patient link the welcome says audio_only and the switch is on', async () => {
    const pp = people.patient.page;
    await pp.reload({ waitUntil: 'load' });
    await patientJoin(pp);
    await waitState(pp, 'call', 20000);
    const [welcome] = await received(pp, 'welcome');
    assert.equal(welcome.audio_only, true, `welcome ${JSON.stringify(welcome)}`);
    assert.equal(await pp.getAttribute('#btn-audio-only', 'aria-pressed'), 'true');
    ids.patient = await pp.evaluate(() => window.__mw.participantId);
    // It applies to the new publish connection too: the page sends no video.
    await waitFor(async () => (await videoEncoding(pp))?.active === false,
      { timeout: 20000, what: 'the rejoined patient\'s video sender to stay stopped' });
    // The doctor still hears the patient (audio only is not silence).
    await waitFor(async () => {
      const s = inbound(await stats(people.doctor.page), ids.patient);
      return s.audioPackets > 0 || s.samples > 0;
    }, { timeout: 20000, what: 'the doctor to receive the rejoined patient\'s audio' });
    await screenshot(pp, 'quality-03-patient-rejoined-audio-only');
  }, 60000);

  step('the patient turns audio only off again: remembered too', async () => {
    const pp = people.patient.page;
    await pp.click('#btn-audio-only');
    assert.equal(await pp.getAttribute('#btn-audio-only', 'aria-pressed'), 'false');
    await waitFor(async () => (await videoEncoding(pp))?.active === true,
      { what: 'the patient\'s video sender to resume' });
    // Video towards the patient resumes (at a keyframe, its sequence numbers shifted by the relay).
    const t0 = Date.now();
    const a = await media(pp);
    await waitFor(async () => (await media(pp)).frames - a.frames >= 30,
      { timeout: 8000, what: 'the patient to decode video again' });
    console.log(`video back at the patient ${Date.now() - t0} ms after audio only was turned off`);
    await waitFor(async () => {
      const r = await request(d.base, 'GET', `/api/patients/${patientId}`, { cookie: adminCookie });
      return r.status === 200 && r.json.patient.prefers_audio_only === false;
    }, { timeout: 5000, what: 'prefers_audio_only false in the patient record' });
  });

  step('after the call ends the consultation has its quality record', async (t) => {
    const dp = people.doctor.page;
    await relayEmitsQuality();
    await dp.selectOption('#outcome', 'completed');
    await dp.click('#btn-end');
    await waitState(people.patient.page, 'ended', 15000);
    await waitState(dp, 'day', 15000);
    const { quality } = await admin(d, 'call-quality', ['--appointment', String(appt.appointment_id)]);
    const roles = quality.map((q) => q.role).sort();
    assert.deepEqual(roles, ['doctor', 'patient'], JSON.stringify(quality));
    for (const q of quality) {
      assert.ok(q.samples > 0, JSON.stringify(q));
      assert.ok(q.avg_score >= 1 && q.avg_score <= 5, JSON.stringify(q));
      assert.ok(q.avg_loss >= 0 && q.avg_loss <= 1, JSON.stringify(q));
    }
    const patient = quality.find((q) => q.role === 'patient');
    assert.ok(patient.audio_only_chosen_s > 0, `the patient chose audio only for a while: ${JSON.stringify(patient)}`);
  });
});
