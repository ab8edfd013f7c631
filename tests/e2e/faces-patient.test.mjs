// The patient's page as a person walks it (issue 5, "The three faces"), on a 360×740 phone
// viewport, in English and in Urdu: the language chooser (and the mirrored right-to-left layout,
// measured), consent (and the server's record of it, through the API and the audit log), the
// device check (camera, microphone level, a speaker tone, choosing a microphone), the network
// check (its verdict within 5 s), the waiting room with the server's expected wait (15 minutes
// while the doctor is in a 15-minute call), the call with a doctor in the console, the audio-only
// switch, hanging up, the rating (recorded once: a second one is 409); and every failure page:
// expired link (with the new-link form), unknown link, browser without WebRTC, camera refused
// (continue with audio only), camera and microphone refused, connection lost (the daemon stopped
// and started again: "Reconnecting…" in words, then back in the waiting room). Each view is
// screenshotted and checked with axe-core (lookAndCheck). Then the page's weight up to the waiting
// room: every response body summed, under 150 KB.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startDaemon, admin, addDoctor, addPatient, book, launchPerson, consoleLogin, waitState, waitFor,
  lookAndCheck, screenshot, loginCookie, request, cleanupAll, patientReady, sleep,
} from './lib.mjs';

const DOCTOR = { username: 'dr.farah', name: 'Dr Farah Naz', password: 'faces-doctor-pass' };
const DOCTOR2 = { username: 'dr.kamran', name: 'Dr Kamran Shah', password: 'faces-doctor2-pass' };
const ADMIN = { username: 'faces.admin', name: 'Faces Admin', password: 'faces-admin-pass' };
const PHONE = { width: 360, height: 740 };
const CONSENT_VERSION = '2026-12-v1';

describe('the patient page, walked as a person would', () => {
  let d;
  const people = {};
  const appts = {};
  let adminCookie;
  const patientIds = {};
  let confDir;
  let extraArgs;

  before(async () => {
    // Some of the walk's appointments started up to 25 minutes ago: a no-show grace of 2 hours
    // keeps the job from closing them (and their links) while the test runs.
    confDir = await mkdtemp(path.join(tmpdir(), 'mw-faces-'));
    await writeFile(path.join(confDir, 'm.conf'), '[jobs]\nnoshow_grace_minutes = 120\n');
    extraArgs = ['--config', path.join(confDir, 'm.conf')];
    d = await startDaemon({ extraArgs });
    await addDoctor(d, DOCTOR);
    await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name, '--password', ADMIN.password, '--role', 'admin']);
    adminCookie = await loginCookie(d.base, ADMIN.username, ADMIN.password);
    for (const [key, name, phone] of [['amna', 'Amna Khalid', '+923001112233'], ['bashir', 'Bashir Ahmad', '+923004445566'],
      ['other', 'Other Patient', '+923007778899'], ['weak', 'Weak Link', '+923001231234']]) {
      patientIds[key] = (await addPatient(d, { name, phone })).patient_id;
    }
    // Doctor Farah's day: consecutive 15-minute appointments (a doctor cannot be booked twice at
    // one time), each link open now (from 15 min before its start to 30 min after its end).
    appts.third = await book(d, { doctor: DOCTOR.username, patient: patientIds.other, start: '-1500', minutes: 15 });
    appts.amna = await book(d, { doctor: DOCTOR.username, patient: patientIds.amna, start: '-600', minutes: 15 });
    appts.bashir = await book(d, { doctor: DOCTOR.username, patient: patientIds.bashir, start: '+300', minutes: 15 });
    // The failure pages and the weight: a second doctor's short appointments.
    await addDoctor(d, DOCTOR2);
    appts.expired = await book(d, { doctor: DOCTOR2.username, patient: patientIds.other, start: '-7200', minutes: 15 });
    appts.camera = await book(d, { doctor: DOCTOR2.username, patient: patientIds.other, start: '-600', minutes: 5 });
    appts.nomic = await book(d, { doctor: DOCTOR2.username, patient: patientIds.other, start: '-300', minutes: 5 });
    appts.lost = await book(d, { doctor: DOCTOR2.username, patient: patientIds.other, start: 'now', minutes: 5 });
    appts.budget = await book(d, { doctor: DOCTOR2.username, patient: patientIds.other, start: '+300', minutes: 5 });
    appts.weak = await book(d, { doctor: DOCTOR2.username, patient: patientIds.weak, start: '+600', minutes: 5 });
  });

  after(async () => {
    await cleanupAll(Object.values(people).map((p) => () => p.close()));
    if (!d) return;
    const exit = await d.stop();
    await d.saveLog('faces-patient');
    for (const p of Object.values(people)) if (p.consoleLog.length) console.log(p.consoleLog.slice(-30).join('\n'));
    await d.cleanup();
    await rm(confDir, { recursive: true, force: true });
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
  });

  async function phone(name) {
    const p = await launchPerson(name);
    await p.page.setViewportSize(PHONE);
    people[name] = p;
    return p;
  }

  const text = async (page, sel) => (await page.textContent(sel)).trim();
  const api = (method, path, body) => request(d.base, method, path, { body, cookie: adminCookie });
  const box = (page, sel) => page.locator(sel).boundingBox();

  // The audit rows of one appointment with this action.
  async function audited(appointmentId, action) {
    const r = await api('GET', `/api/audit?appointment_id=${appointmentId}&limit=100`);
    assert.equal(r.status, 200, r.text);
    return r.json.audit.filter((row) => row.action === action);
  }

  // Does the browser have `family` (a text drawn in it is not as wide as in the fallback)?
  function hasFont(page, family, sample) {
    return page.evaluate(({ family, sample }) => {
      const width = (f) => {
        const s = document.createElement('span');
        s.style.fontFamily = f;
        s.style.fontSize = '40px';
        s.style.position = 'absolute';
        s.textContent = sample;
        document.body.append(s);
        const w = s.getBoundingClientRect().width;
        s.remove();
        return w;
      };
      return width(`"${family}", monospace`) !== width('monospace');
    }, { family, sample });
  }

  it('English: the chooser, consent (recorded by the server), left-to-right layout', async () => {
    const { page } = await phone('amna');
    await page.goto(appts.amna.link, { waitUntil: 'load' });
    await waitState(page, 'consent');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    assert.equal(await page.evaluate(() => document.dir), 'ltr');
    assert.equal(await page.getAttribute('#lang-chooser [data-lang="en"]', 'aria-pressed'), 'true');
    // Left to right: the chooser sits on the right of the bar, the brand on the left.
    const chooser = await box(page, '#lang-chooser');
    const brand = await box(page, '.bar .brand');
    assert.ok(chooser.x > PHONE.width / 2, `chooser at x=${chooser.x} should be on the right`);
    assert.ok(brand.x < PHONE.width / 4, `brand at x=${brand.x} should be on the left`);
    assert.match(await text(page, '#consent-text'), /not recorded/);
    assert.match(await text(page, '#consent-version'), new RegExp(CONSENT_VERSION));
    const before = await request(d.base, 'GET', `/api/join/${appts.amna.token}`);
    assert.equal(before.json.consent_version, null, 'nothing accepted yet');
    await lookAndCheck(page, 'patient-en-01-consent');
    await page.click('#btn-consent-accept');
    await waitState(page, 'preview');
    const after = await request(d.base, 'GET', `/api/join/${appts.amna.token}`);
    assert.equal(after.status, 200, after.text);
    assert.equal(after.json.consent_version, CONSENT_VERSION, 'the server keeps the accepted version');
    const rows = await audited(appts.amna.appointment_id, 'consent.accept');
    assert.equal(rows.length, 1, 'one audited consent');
    assert.equal(rows[0].actor_kind, 'patient');
    assert.equal(rows[0].outcome, 'ok');
  });

  it('English: device check (camera, microphone level, speaker tone, choosing a microphone)', async () => {
    const { page } = people.amna;
    await page.waitForSelector('#btn-join:not([disabled])');
    await waitFor(() => page.evaluate(() => document.querySelector('#self-preview').videoWidth > 0), { what: 'the camera preview' });
    await waitFor(() => page.evaluate(() => document.querySelector('#mic-level').value > 0.01), { what: 'the microphone level to move' });
    const tone = await box(page, '#btn-tone');
    const card = await box(page, '[data-view="preview"]');
    assert.ok(tone.x - card.x < 30, `left to right: the tone button starts ${tone.x - card.x} px from the card's left`);
    await page.click('#btn-tone');
    await page.waitForSelector('#tone-question', { state: 'visible' });
    assert.equal(await page.evaluate(() => window.__mw.tone), 'played');
    await page.click('#btn-heard-yes');
    assert.equal(await text(page, '#tone-result'), 'Good: your speaker works.');
    const devices = await page.evaluate(() => window.__mw.devices);
    if (devices.mics > 1) {
      // Several microphones: the chooser is shown, and choosing one switches the track to it.
      await page.waitForSelector('#mic-select', { state: 'visible' });
      const options = await page.$$eval('#mic-select option', (os) => os.map((o) => o.value));
      const current = await page.inputValue('#mic-select');
      const other = options.find((v) => v !== current);
      await page.selectOption('#mic-select', other);
      await waitFor(() => page.evaluate((id) => window.__mw.chosen?.audio === id, other), { what: 'the chosen microphone' });
      assert.equal(await page.evaluate(() => window.__mw.localStream.getAudioTracks().length), 1);
    } else {
      assert.equal(await page.isVisible('#mic-select'), false, 'no chooser for a single microphone');
    }
    assert.equal(await page.isVisible('#camera-select'), devices.cameras > 1);
  });

  it('English: network check says "good for video" within 5 s', async () => {
    const { page } = people.amna;
    await page.waitForSelector('#net-result:not([data-verdict="checking"])', { timeout: 6000 });
    const net = await page.evaluate(() => window.__mw.net);
    console.log(`network check here: ${JSON.stringify(net)}`);
    assert.ok(net.ms < 5000, `took ${net.ms} ms`);
    assert.equal(net.verdict, 'good');
    assert.equal(await text(page, '#net-result'), 'Good for video.');
    assert.ok(net.kbps > 400 && net.rttMs >= 0, JSON.stringify(net));
    await lookAndCheck(page, 'patient-en-02-check');
  });

  it('English: waiting room with the doctor offline, then available', async () => {
    const { page } = people.amna;
    await page.click('#btn-join');
    await waitState(page, 'waiting');
    assert.equal(await text(page, '#waiting-position'), '1');
    assert.equal(await text(page, '#doctor-status'), 'not online yet');
    assert.equal(await text(page, '#expected-wait'), 'not known yet');
    assert.equal(await page.locator('.messages-slot[data-slot="waiting"] #messages').count(), 1, 'the chat container is in the waiting room');
    const doctor = await launchPerson('doctor');
    people.doctor = doctor;
    await consoleLogin(doctor.page, d.base, DOCTOR.username, DOCTOR.password);
    await waitFor(async () => (await text(page, '#doctor-status')) === 'ready, will let you in soon', { what: 'doctor available' });
    assert.equal(await page.getAttribute('#expected-wait', 'data-minutes'), '0');
    assert.equal(await text(page, '#expected-wait'), 'any moment now');
    await lookAndCheck(page, 'patient-en-03-waiting');
  });

  it('English: the call with the doctor, the audio-only switch, hang up', async () => {
    const { page } = people.amna;
    const dp = people.doctor.page;
    await dp.click(`[data-testid="admit-${appts.amna.appointment_id}"]`);
    await waitState(dp, 'call', 20000);
    await waitState(page, 'call', 20000);
    assert.equal(await page.locator('.messages-slot[data-slot="call"] #messages').count(), 1, 'the chat container followed into the call');
    const doctorId = await dp.evaluate(() => window.__mw.participantId);
    await page.waitForSelector(`video[data-participant="${doctorId}"]`, { state: 'attached' });
    await waitFor(async () => {
      const s = await page.evaluate(() => window.__mw.summary());
      return (s[`sub:${doctorId}`]?.in?.video?.framesDecoded || 0) > 10;
    }, { timeout: 30000, what: 'the doctor\'s video on the patient\'s phone' });
    await lookAndCheck(page, 'patient-en-04-call');
    await page.click('#btn-audio-only');
    assert.equal(await page.getAttribute('#btn-audio-only', 'aria-pressed'), 'true');
    await page.waitForSelector('#video-notice', { state: 'visible' });
    assert.match(await text(page, '#video-notice'), /Audio only is on/);
    await waitFor(async () => (await api('GET', `/api/patients/${patientIds.amna}`)).json.patient.prefers_audio_only === true,
      { what: 'the server to remember audio only' });
    await lookAndCheck(page, 'patient-en-05-audio-only');
    await page.click('#btn-audio-only');
    assert.equal(await page.getAttribute('#btn-audio-only', 'aria-pressed'), 'false');
    await page.click('#btn-hangup');
    await waitState(page, 'ended');
    assert.equal(await text(page, '#ended-reason'), 'You left the consultation.');
  });

  it('English: rating 1–5 as a radio group, recorded once', async () => {
    const { page } = people.amna;
    await page.waitForSelector('#rating-form', { state: 'visible' });
    const radios = page.getByRole('radio');
    assert.equal(await radios.count(), 5);
    assert.ok(await page.getByRole('group', { name: /Your rating/ }).isVisible(), 'a labelled group (fieldset/legend)');
    // Sending nothing says what to do.
    await page.click('#btn-rate');
    assert.match(await text(page, '#rating-error'), /choose a rating/);
    await lookAndCheck(page, 'patient-en-06-rating');
    await page.getByRole('radio', { name: '4 – good' }).check();
    await page.fill('#rating-comment', 'Clear advice, thank you.');
    await page.click('#btn-rate');
    await waitState(page, 'thanks');
    await lookAndCheck(page, 'patient-en-07-thanks');
    const j = await request(d.base, 'GET', `/api/join/${appts.amna.token}`);
    assert.equal(j.json.rated, true);
    const again = await request(d.base, 'POST', `/api/join/${appts.amna.token}/rating`, { body: { stars: 1 } });
    assert.equal(again.status, 409, again.text);
    assert.equal(again.json.error, 'already_rated');
    assert.equal((await audited(appts.amna.appointment_id, 'consultation.rate')).filter((r) => r.outcome === 'ok').length, 1);
    // The doctor closes the consultation so the next patient can be admitted.
    const dp = people.doctor.page;
    await dp.selectOption('#outcome', 'completed');
    await dp.click('#btn-end');
    await waitState(dp, 'day', 15000);
  });

  it('Urdu: chooser, consent in Urdu, right-to-left layout mirrored', async () => {
    const { page } = await phone('bashir');
    await page.goto(appts.bashir.link, { waitUntil: 'load' });
    await waitState(page, 'consent');
    await page.click('#lang-chooser [data-lang="ur"]');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'ur');
    assert.equal(await page.evaluate(() => document.dir), 'rtl');
    assert.equal(await text(page, '#btn-consent-accept'), 'میں متفق ہوں');
    assert.match(await text(page, '#consent-text'), /ریکارڈ نہیں کی جاتی/);
    // Mirrored: the chooser on the left, the brand on the right.
    const chooser = await box(page, '#lang-chooser');
    const brand = await box(page, '.bar .brand');
    assert.ok(chooser.x + chooser.width < PHONE.width / 2, `chooser ends at x=${chooser.x + chooser.width}: should be on the left`);
    assert.ok(brand.x + brand.width > PHONE.width * 0.75, `brand ends at x=${brand.x + brand.width}: should be on the right`);
    // Urdu glyphs come from a real font (Debian: fonts-noto-core), not boxes.
    assert.ok(await hasFont(page, 'Noto Nastaliq Urdu', 'اردو مشورہ') || await hasFont(page, 'Noto Naskh Arabic', 'اردو مشورہ'),
      'an Urdu font is installed (fonts-noto-core)');
    await lookAndCheck(page, 'patient-ur-01-consent');
    // The choice is kept: a reload stays in Urdu.
    await page.reload({ waitUntil: 'load' });
    await waitState(page, 'consent');
    assert.equal(await page.evaluate(() => document.dir), 'rtl');
    await page.click('#btn-consent-accept');
    await waitState(page, 'preview');
    const r = await request(d.base, 'GET', `/api/join/${appts.bashir.token}`);
    assert.equal(r.json.consent_version, CONSENT_VERSION);
    assert.equal((await audited(appts.bashir.appointment_id, 'consent.accept')).length, 1);
  });

  it('Urdu: device and network check, waiting with the expected wait while the doctor is busy', async () => {
    const { page } = people.bashir;
    await patientReady(page);
    await page.click('#btn-tone');
    await page.click('#btn-heard-no');
    assert.match(await text(page, '#tone-result'), /آواز اونچی کریں/);
    await page.waitForSelector('#net-result:not([data-verdict="checking"])', { timeout: 6000 });
    assert.equal(await text(page, '#net-result'), 'ویڈیو کے لیے اچھا ہے۔');
    // The buttons are mirrored too: "play a test sound" starts at the right edge of its card.
    const tone = await box(page, '#btn-tone');
    const card = await box(page, '[data-view="preview"]');
    assert.ok(card.x + card.width - (tone.x + tone.width) < 30, `tone button ends ${card.x + card.width - (tone.x + tone.width)} px from the card's right`);
    assert.ok(tone.x - card.x > 60, 'and leaves room on its left');
    await lookAndCheck(page, 'patient-ur-02-check');

    // Bashir waits while the doctor is in a call with a third patient (booked for 15 minutes).
    const third = appts.third;
    const tp = (await phone('third')).page;
    await tp.goto(third.link, { waitUntil: 'load' });
    await patientReady(tp);
    await tp.click('#btn-join');
    await waitState(tp, 'waiting');
    const dp = people.doctor.page;
    await dp.click(`[data-testid="admit-${third.appointment_id}"]`);
    await waitState(tp, 'call', 20000);

    await page.click('#btn-join');
    await waitState(page, 'waiting');
    assert.equal(await text(page, '#waiting-position'), '1');
    assert.equal(await text(page, '#doctor-status'), 'کسی اور مریض کے ساتھ ہیں');
    // The doctor's running call was booked for 15 minutes and began seconds ago.
    const minutes = Number(await page.getAttribute('#expected-wait', 'data-minutes'));
    assert.ok(minutes >= 14 && minutes <= 15, `expected wait ${minutes} min`);
    assert.equal(await text(page, '#expected-wait'), `تقریباً ${minutes} منٹ`);
    await lookAndCheck(page, 'patient-ur-03-waiting');
  });

  it('Urdu: the call, the doctor ends it, the rating in Urdu', async () => {
    const { page } = people.bashir;
    const dp = people.doctor.page;
    await dp.selectOption('#outcome', 'completed');
    await dp.click('#btn-end');
    await waitState(people.third.page, 'ended', 15000);
    await waitState(dp, 'day', 15000);
    await waitFor(async () => (await page.getAttribute('#expected-wait', 'data-minutes')) === '0', { what: 'the wait to drop to 0' });
    await dp.click(`[data-testid="admit-${appts.bashir.appointment_id}"]`);
    await waitState(page, 'call', 20000);
    assert.equal(await text(page, '#btn-hangup'), 'کال ختم کریں');
    await lookAndCheck(page, 'patient-ur-04-call');
    await dp.selectOption('#outcome', 'completed');
    await dp.click('#btn-end');
    await waitState(page, 'ended', 15000);
    assert.equal(await text(page, '#ended-reason'), 'ڈاکٹر نے مشورہ ختم کر دیا۔');
    await page.getByRole('radio', { name: '5 – بہت اچھا' }).check();
    await lookAndCheck(page, 'patient-ur-05-rating');
    await page.click('#btn-rate');
    await waitState(page, 'thanks');
    assert.equal(await text(page, '#thanks-title'), 'شکریہ');
    await lookAndCheck(page, 'patient-ur-06-thanks');
    assert.equal((await request(d.base, 'GET', `/api/join/${appts.bashir.token}`)).json.rated, true);
  });

  // --- Failure pages ----------------------------------------------------------------------------

  it('expired link: plain words and a form for a new link (POST /api/link-resend)', async () => {
    const p = await phone('expired');
    await p.page.goto(appts.expired.link, { waitUntil: 'load' });
    await waitState(p.page, 'error');
    assert.equal(await text(p.page, '#error-title'), 'This link has expired');
    assert.equal(await text(p.page, '#error-code'), 'expired_token');
    await p.page.waitForSelector('#resend-form', { state: 'visible' });
    await lookAndCheck(p.page, 'patient-fail-expired');
    await p.page.fill('#resend-phone', '+923007778899');
    await p.page.click('#btn-resend');
    await waitFor(async () => (await p.page.getAttribute('#resend-result', 'data-status')) === '202', { what: 'the resend answer' });
    assert.match(await text(p.page, '#resend-result'), /new link is on its way/);
    await lookAndCheck(p.page, 'patient-fail-expired-resent');
    // In Urdu the same page is in Urdu.
    await p.page.click('#lang-chooser [data-lang="ur"]');
    assert.equal(await text(p.page, '#error-title'), 'اس لنک کی مدت ختم ہو گئی ہے');
    await lookAndCheck(p.page, 'patient-fail-expired-ur');
    await p.page.click('#lang-chooser [data-lang="en"]');
  });

  it('network check: "no connection", then "weak" with a one-click audio only', async () => {
    const p = await phone('weak');
    const { page } = p;
    // The probes fail outright: no connection to the clinic.
    const isProbe = (url) => url.pathname.endsWith('/probe');
    await page.route(isProbe, (route) => route.abort('internetdisconnected'));
    await page.goto(appts.weak.link, { waitUntil: 'load' });
    await patientReady(page);
    await page.waitForSelector('#net-result[data-verdict="none"]', { timeout: 6000 });
    assert.match(await text(page, '#net-result'), /No connection to the clinic/);
    assert.ok(await page.isVisible('#btn-net-retry'));
    await lookAndCheck(page, 'patient-net-none');
    // Now a slow link: each download answers 800 ms late (12 KB then is ~120 kbit/s).
    await page.unroute(isProbe);
    await page.route(isProbe, async (route) => {
      if (!/bytes=0\b/.test(route.request().url())) await sleep(800);
      await route.continue();
    });
    await page.click('#btn-net-retry');
    await page.waitForSelector('#net-result[data-verdict="weak"]', { timeout: 6000 });
    const net = await page.evaluate(() => window.__mw.net);
    assert.ok(net.ms < 5000, `took ${net.ms} ms`);
    assert.ok(net.kbps < 400, JSON.stringify(net));
    assert.equal(await text(page, '#net-result'), 'Weak: audio only may work better.');
    await page.click('#btn-net-audio-only');
    assert.equal(await page.getAttribute('#btn-net-audio-only', 'aria-pressed'), 'true');
    await lookAndCheck(page, 'patient-net-weak');
    await page.click('#btn-join');
    await waitState(page, 'waiting');
    // The choice went to the server with the welcome (remembered for this patient's calls).
    await waitFor(async () => (await api('GET', `/api/patients/${patientIds.weak}`)).json.patient.prefers_audio_only === true,
      { what: 'the server to remember audio only' });
    assert.equal(await page.evaluate(() => window.__mw.audioOnly), true);
    await page.click('#btn-leave-waiting');
    await p.close();
    delete people.weak;
  });

  it('unknown link, in English and with ?lang=ur', async () => {
    const { page } = people.expired;
    await page.goto(`${d.base}/join/not-a-real-token-AAAAAAAAAAAAAAAAAAAA?lang=ur`, { waitUntil: 'load' });
    await waitState(page, 'error');
    assert.equal(await page.evaluate(() => document.dir), 'rtl');
    assert.equal(await text(page, '#error-title'), 'یہ لنک کام نہیں کر رہا');
    await lookAndCheck(page, 'patient-fail-unknown-ur');
    await page.goto(`${d.base}/join/not-a-real-token-AAAAAAAAAAAAAAAAAAAA?lang=en`, { waitUntil: 'load' });
    await waitState(page, 'error');
    assert.equal(await text(page, '#error-title'), 'This link does not work');
    assert.equal(await page.isVisible('#resend-form'), false);
    await lookAndCheck(page, 'patient-fail-unknown');
  });

  it('browser without WebRTC: said before anything else is asked of the server', async () => {
    const p = await phone('oldbrowser');
    await p.page.addInitScript(() => {
      Object.defineProperty(window, 'RTCPeerConnection', { value: undefined, configurable: true });
    });
    const apiCalls = [];
    p.page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/api/')) apiCalls.push(r.url()); });
    await p.page.goto(appts.lost.link, { waitUntil: 'load' });
    await waitState(p.page, 'error');
    assert.equal(await text(p.page, '#error-code'), 'no_webrtc');
    assert.equal(await text(p.page, '#error-title'), 'This browser cannot make video calls');
    assert.deepEqual(apiCalls, [], 'no API call before the browser check');
    await lookAndCheck(p.page, 'patient-fail-unsupported');
    await p.close();
    delete people.oldbrowser;
  });

  it('camera refused, microphone allowed: what to do on Android, or continue with audio only', async () => {
    const p = await phone('nocamera');
    await p.page.addInitScript(() => {
      const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (c) => (c && c.video
        ? Promise.reject(new DOMException('Permission denied', 'NotAllowedError'))
        : real(c));
    });
    await p.page.goto(appts.camera.link, { waitUntil: 'load' });
    await patientReady(p.page).catch(() => {}); // consent first; the check then fails to the error view
    await waitState(p.page, 'error');
    assert.equal(await text(p.page, '#error-code'), 'camera_only_denied');
    assert.equal(await text(p.page, '#error-title'), 'The camera is blocked');
    assert.ok(await p.page.isVisible('#error-android'), 'the Android steps');
    assert.equal(await p.page.locator('#android-steps li').count(), 4);
    await lookAndCheck(p.page, 'patient-fail-camera');
    await p.page.click('#btn-audio-only-continue');
    await waitState(p.page, 'preview');
    await p.page.waitForSelector('#btn-join:not([disabled])');
    assert.equal(await p.page.evaluate(() => window.__mw.localStream.getVideoTracks().length), 0);
    assert.equal(await p.page.evaluate(() => window.__mw.wantAudioOnly), true);
    await lookAndCheck(p.page, 'patient-fail-camera-audio-only');
    await p.close();
    delete people.nocamera;
  });

  it('camera and microphone refused', async () => {
    const p = await phone('nomic');
    await p.page.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    await p.page.goto(appts.nomic.link, { waitUntil: 'load' });
    await patientReady(p.page).catch(() => {});
    await waitState(p.page, 'error');
    assert.equal(await text(p.page, '#error-code'), 'camera_denied');
    assert.equal(await p.page.isVisible('#btn-audio-only-continue'), false);
    assert.ok(await p.page.isVisible('#error-android'));
    await lookAndCheck(p.page, 'patient-fail-devices');
    await p.close();
    delete people.nomic;
  });

  it('connection lost: "Reconnecting…" in words while the server is away, then back by itself', async () => {
    const p = await phone('lost');
    await p.page.goto(appts.lost.link, { waitUntil: 'load' });
    await patientReady(p.page);
    await p.page.click('#btn-join');
    await waitState(p.page, 'waiting');
    // The server goes away (stopped), and comes back on the same database and port.
    const { dir, port } = d;
    const exit = await d.stop();
    assert.equal(exit.code, 0);
    try {
      await waitState(p.page, 'reconnecting', 10000);
      assert.match(await text(p.page, '#notice'), /Connection lost\. Reconnecting…/);
      assert.equal(await p.page.getAttribute('body', 'data-connection'), 'reconnecting');
      await lookAndCheck(p.page, 'patient-fail-reconnecting');
      await sleep(1500);
    } finally {
      d = await startDaemon({ dir, port, extraArgs });
    }
    adminCookie = await loginCookie(d.base, ADMIN.username, ADMIN.password);
    await waitState(p.page, 'waiting', 20000);
    assert.equal(await text(p.page, '#notice'), 'Connected again.');
    assert.equal(await p.page.getAttribute('body', 'data-connection'), 'ok');
    await lookAndCheck(p.page, 'patient-fail-reconnected');
    await p.page.click('#btn-leave-waiting');
    await waitState(p.page, 'ended');
    assert.equal(await p.page.isVisible('#rating-form'), false, 'no rating without a consultation');
  });

  // --- Weight ---------------------------------------------------------------------------------

  it('the page up to the waiting room weighs under 150 KB (every response body summed)', async () => {
    const p = await phone('budget');
    const bodies = [];
    p.page.on('response', async (r) => {
      try {
        const b = await r.body();
        const sizes = await r.request().sizes();
        bodies.push({ url: new URL(r.url()).pathname.replace(/[A-Za-z0-9_-]{20,}/, '<token>'), bytes: b.length,
          wire: sizes.responseBodySize, encoding: (await r.allHeaders())['content-encoding'] || '' });
      } catch { bodies.push({ url: r.url(), bytes: 0, wire: 0, encoding: '' }); }
    });
    await p.page.goto(appts.budget.link, { waitUntil: 'load' });
    await patientReady(p.page);
    await p.page.waitForSelector('#net-result:not([data-verdict="checking"])', { timeout: 6000 });
    await p.page.click('#btn-join');
    await waitState(p.page, 'waiting');
    await sleep(300);
    const total = bodies.reduce((s, b) => s + b.bytes, 0);
    const wire = bodies.reduce((s, b) => s + b.wire, 0);
    console.log(`patient page up to the waiting room: ${total} bytes in ${bodies.length} responses, ${wire} on the wire (bodies, gzip'd)`);
    for (const b of bodies) console.log(`  ${String(b.bytes).padStart(7)} ${String(b.wire).padStart(7)} ${b.encoding.padEnd(4)}  ${b.url}`);
    assert.ok(bodies.filter((b) => /\.(js|css)$/.test(b.url)).every((b) => b.encoding === 'gzip'),
      'scripts and styles come gzip\'d');
    assert.ok(bodies.some((b) => b.url.endsWith('/js/patient.js')) && bodies.some((b) => b.url.endsWith('/css/app.css')),
      'the measure saw the page\'s own files');
    assert.ok(total < 150 * 1024, `${total} bytes: over the 150 KB budget`);
    await p.close();
    delete people.budget;
  });
});
