// The doctor's console during a day and a call, and the patient's side of it (issue 5, "The
// three faces"): a doctor at 1280x800 and patients at 360x740, real Chromium, the real daemon.
// The day (a booked and a walk-in appointment with their statuses) → a patient waits → the wait
// turns to a warning after 30 minutes (page.clock moves a second console's clock honestly) →
// the doctor messages the waiting patient, who sees it and answers → admit → the patient's
// details → chat both ways in the call → the patient sends a photo of a document (a generated
// 2400x1800 PNG; the page shrinks it to a 1600 px JPEG) and the console shows it → private notes
// autosaved, kept across a reload of the console, and not readable with the patient's token →
// advice shown on the patient's page at once and again on its end view → end with an outcome →
// "Next patient" admits the walk-in, then says nobody is waiting. lookAndCheck on every view.
//
// Run: MASHWARA_BIN=<build>/daemon/mashwara bash tests/e2e/run.sh tests/e2e/faces-console.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import {
  startDaemon, admin, launchPerson, lookAndCheck, screenshot, waitState, waitFor, consoleLogin, patientJoin,
  request, loginCookie, pageFetch, cleanupAll,
} from './lib.mjs';

const ADMIN = { username: 'faces.admin', name: 'Clinic Admin', password: 'faces-admin-pass' };
const DOCTOR = { username: 'dr.sana', name: 'Dr Sana Qureshi', password: 'sana-console-pass' };
const P1 = { name: 'Nasreen Bibi', phone: '+923331234567' };
const P2 = { name: 'Gul Khan', phone: '+923451112223' };
const WR_MSG = 'Assalam o alaikum, I will see you in a few minutes. Please keep your BP card ready.';
const WR_REPLY = 'جی ڈاکٹر صاحبہ، کارڈ میرے پاس ہے';
const CALL_FROM_PATIENT = 'The headache is worse in the morning.';
const CALL_FROM_DOCTOR = 'Thank you. Please show me the card with your readings.';
const NOTE = 'BP 150/95 on the card; morning headaches. Check renal function next visit.';
const ADVICE = 'Amlodipine 5 mg once a day after breakfast for 30 days.\nLess salt. Come back in 4 weeks.';

/** A PNG of w x h pixels (RGB, a pattern of bands), made here: the "photo" of a card. */
function makePng(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    const row = y * (w * 3 + 1);
    for (let x = 0; x < w; x++) {
      const band = Math.floor(x / 200) % 2 === Math.floor(y / 150) % 2;
      raw[row + 1 + x * 3] = band ? 240 : 30;
      raw[row + 2 + x * 3] = band ? 235 : 90;
      raw[row + 3 + x * 3] = band ? 220 : 160;
    }
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

describe('the console during a day and a call, and the patient\'s side', () => {
  let d;
  const people = {};
  const fx = {};
  let broken = null;

  // One step; after a failed step the later ones are skipped (they build on it).
  const step = (name, fn, timeout = 90000) => it(name, { timeout }, async (t) => {
    if (broken) return t.skip(`after failed step: ${broken}`);
    try {
      await fn(t);
    } catch (e) {
      broken = name;
      for (const p of Object.values(people)) await screenshot(p.page, `faces-console-FAILED-${p.name}`);
      throw e;
    }
  });

  before(async () => {
    d = await startDaemon();
    await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name, '--password', ADMIN.password, '--role', 'admin']);
    const cookie = await loginCookie(d.base, ADMIN.username, ADMIN.password);
    const post = async (p, body) => {
      const r = await request(d.base, 'POST', p, { body, cookie });
      assert.ok(r.status === 201 || r.status === 200, `${p}: ${r.status} ${r.text}`);
      return r.json;
    };
    const f = await post('/api/facilities', { name: 'BHU Shah Mansoor', district: 'Swabi', sector: 'public' });
    const doc = await post('/api/doctors', { ...DOCTOR, facility_id: f.facility.id, specialty: 'general' });
    fx.doctorId = doc.doctor.id;
    const p1 = await post('/api/patients', P1);
    const p2 = await post('/api/patients', P2);
    const booked = await admin(d, 'book', ['--doctor', DOCTOR.username, '--patient', String(p1.patient.id), '--start=-300', '--minutes', '30', '--public-url', d.base]);
    fx.a1 = booked.appointment_id;
    fx.link1 = booked.link;
    fx.token1 = booked.token;
    const walkin = await post('/api/walk-ins', { doctor_id: fx.doctorId, patient_id: p2.patient.id });
    fx.a2 = walkin.appointment.id;
    fx.link2 = walkin.link;

    people.doctor = await launchPerson('doctor');
    await people.doctor.page.setViewportSize({ width: 1280, height: 800 });
    people.patient = await launchPerson('patient');
    await people.patient.page.setViewportSize({ width: 360, height: 740 });
  });

  after(async () => {
    await cleanupAll(Object.values(people).map((p) => () => p.close()));
    if (!d) return;
    const exit = await d.stop();
    await d.saveLog('faces-console');
    // Medical data never reaches the log.
    const log = d.log();
    for (const s of [WR_MSG, WR_REPLY, CALL_FROM_PATIENT, CALL_FROM_DOCTOR, NOTE, P1.phone]) {
      assert.ok(!log.includes(s.split('\n')[0]), `the daemon logged: ${s}`);
    }
    await d.cleanup();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
  });

  const doc = () => people.doctor.page;
  const pat = () => people.patient.page;

  step('the doctor signs in and sees the day: a booked and a walk-in appointment, with statuses', async () => {
    await consoleLogin(doc(), d.base, DOCTOR.username, DOCTOR.password);
    await doc().waitForSelector('#appointments tbody tr:nth-child(2)');
    const rows = await doc().$$eval('#appointments tbody tr', (trs) => trs.map((tr) => ({
      id: Number(tr.dataset.appointment), cells: [...tr.cells].map((c) => c.textContent) })));
    const r1 = rows.find((r) => r.id === fx.a1);
    const r2 = rows.find((r) => r.id === fx.a2);
    assert.deepEqual([r1.cells[1], r1.cells[2], r1.cells[3]], [P1.name, 'Booked', 'Booked']);
    assert.deepEqual([r2.cells[1], r2.cells[2], r2.cells[3]], [P2.name, 'Walk-in', 'Arrived (online)']);
    assert.equal(await doc().textContent('#waiting-empty'), 'Nobody is waiting.');
    await lookAndCheck(doc(), 'faces-console-day');
  });

  step('a patient joins the waiting room; the console lists them with their wait', async () => {
    await pat().goto(fx.link1);
    await patientJoin(pat());
    await waitState(pat(), 'waiting');
    await pat().waitForSelector('[data-view="waiting"] section#messages .chat-empty');
    await lookAndCheck(pat(), 'faces-console-patient-waiting');
    const li = `#waiting-room li[data-appointment="${fx.a1}"]`;
    await doc().waitForSelector(li);
    await waitFor(async () => /^\d\d:\d\d$/.test(await doc().textContent(`${li} .wait`)), { what: 'a ticking wait time' });
    assert.equal(await doc().$eval(`${li} .wait`, (e) => e.classList.contains('long')), false);
    await lookAndCheck(doc(), 'faces-console-waiting');
  });

  step('after 30 minutes the wait turns to a warning, in words and colour (a second console, page.clock)', async () => {
    // A console of its own whose clock the test moves: the waiting_since the server sent stays
    // put, the page's time goes 31 minutes on.
    people.clock = await launchPerson('doctor');
    const page = people.clock.page;
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.clock.install();
    await consoleLogin(page, d.base, DOCTOR.username, DOCTOR.password);
    const li = `#waiting-room li[data-appointment="${fx.a1}"]`;
    await page.waitForSelector(`${li} .wait`);
    const normalBg = await page.$eval(`${li} .wait`, (e) => getComputedStyle(e).backgroundColor);
    await page.clock.fastForward('31:00');
    await page.waitForSelector(`${li} .wait.long`, { timeout: 5000 });
    const text = await page.textContent(`${li} .wait`);
    assert.match(text, /^⚠ 3[12]:\d\d · over 30 min$/);
    const longBg = await page.$eval(`${li} .wait`, (e) => getComputedStyle(e).backgroundColor);
    assert.notEqual(longBg, normalBg, 'the warning has its own colour too');
    await lookAndCheck(page, 'faces-console-long-wait');
    await people.clock.close();
    delete people.clock;
  });

  step('the doctor messages the waiting patient; the patient sees it and answers', async () => {
    await doc().click(`[data-testid="message-${fx.a1}"]`);
    await doc().waitForSelector('#wr-chat:not([hidden])');
    assert.equal(await doc().textContent('#wr-chat-who'), P1.name);
    await doc().fill('#wr-chat-text', WR_MSG);
    await doc().click('#wr-chat-form button[type="submit"]');
    const inbox = '[data-view="waiting"] section#messages .chat-log li.theirs';
    await pat().waitForSelector(`${inbox} >> text=${WR_MSG.slice(0, 30)}`);
    assert.match(await pat().textContent(`${inbox} .chat-who`), new RegExp(`^${DOCTOR.name} · `));
    await lookAndCheck(pat(), 'faces-console-patient-message');
    await pat().fill('[data-view="waiting"] section#messages textarea', WR_REPLY);
    await pat().press('[data-view="waiting"] section#messages textarea', 'Enter');
    await doc().waitForSelector(`#wr-chat-log li.theirs >> text=${WR_REPLY}`);
    await lookAndCheck(doc(), 'faces-console-wr-message');
  });

  step('admit: both are in the call; the console shows the patient\'s details and the conversation so far', async () => {
    await doc().click(`[data-testid="admit-${fx.a1}"]`);
    await waitState(doc(), 'call', 20000);
    await waitState(pat(), 'call', 20000);
    const field = (f) => doc().textContent(`#patient-details dd[data-field="${f}"]`);
    await waitFor(async () => (await field('name')) === P1.name, { what: 'the patient panel' });
    assert.equal(await field('phone'), P1.phone);
    assert.equal(await field('age'), 'Not recorded');
    assert.match(await field('visit'), /^Booked, /);
    assert.equal(await field('previous'), 'None: first visit');
    await doc().waitForSelector(`#call-chat-log li >> text=${WR_REPLY}`);
    // The patient's picture is on the doctor's screen (a decoded frame in the remote tile), so
    // that the screenshot shows the call as the doctor sees it.
    await waitFor(() => doc().evaluate(() => [...document.querySelectorAll('#remote-videos video')]
      .some((v) => v.videoWidth > 0 && v.currentTime > 0)), { timeout: 15000, what: 'the patient\'s video on the console' });
    await lookAndCheck(doc(), 'faces-console-call');
    await pat().waitForSelector(`[data-view="call"] section#messages .chat-log li >> text=${WR_REPLY}`);
    await lookAndCheck(pat(), 'faces-console-patient-call');
  });

  step('chat both ways in the call', async () => {
    const box = '[data-view="call"] section#messages textarea';
    await pat().fill(box, CALL_FROM_PATIENT);
    await pat().click('[data-view="call"] section#messages button[type="submit"]');
    await doc().waitForSelector(`#call-chat-log li.theirs[data-role="patient"] >> text=${CALL_FROM_PATIENT}`);
    await doc().fill('#call-chat-text', CALL_FROM_DOCTOR);
    await doc().press('#call-chat-text', 'Enter');
    await pat().waitForSelector(`[data-view="call"] section#messages li.theirs >> text=${CALL_FROM_DOCTOR}`);
    assert.equal(await pat().$$eval('[data-view="call"] section#messages li.mine', (l) => l.length), 2);
    await lookAndCheck(pat(), 'faces-console-patient-chat');
  });

  step('the patient sends a photo of a document; it arrives shrunk and the console shows it', async () => {
    const png = makePng(2400, 1800);
    await pat().setInputFiles('[data-view="call"] section#messages input[type="file"]', { name: 'bp-card.png', mimeType: 'image/png', buffer: png });
    await pat().waitForFunction(() => window.__mw.lastPhoto, null, { timeout: 20000 });
    const sent = await pat().evaluate(() => window.__mw.lastPhoto);
    assert.equal(sent.media_type, 'image/jpeg');
    assert.ok(sent.bytes < png.length && sent.bytes <= 2 * 1024 * 1024, `sent ${sent.bytes} bytes of ${png.length}`);
    assert.match(await pat().textContent('[data-view="call"] section#messages .chat-photo [role="status"]'), /Photo sent/);
    await doc().waitForSelector('#photos li img');
    await doc().waitForFunction(() => document.querySelector('#photos li img')?.naturalWidth > 0);
    const size = await doc().$eval('#photos li img', (img) => [img.naturalWidth, img.naturalHeight, img.alt]);
    assert.deepEqual(size.slice(0, 2), [1600, 1200]);
    assert.match(size[2], /^Photo from the patient/);
    await lookAndCheck(pat(), 'faces-console-patient-photo');
    await lookAndCheck(doc(), 'faces-console-photo');
  });

  step('private notes: autosaved, back after a reload of the console, not readable with the patient\'s token', async () => {
    await doc().fill('#notes-text', NOTE);
    await doc().waitForFunction(() => /^Saved at /.test(document.querySelector('#notes-status').textContent), null, { timeout: 10000 });
    // The patient's side: their token reaches no notes, nor does their page's own fetch.
    const byToken = await request(d.base, 'GET', `/api/join/${fx.token1}/notes`);
    assert.equal(byToken.status, 404);
    assert.ok(!byToken.text.includes(NOTE));
    const fromPage = await pageFetch(pat(), 'GET', `/api/appointments/${fx.a1}/notes`);
    assert.equal(fromPage.status, 401);
    assert.ok(!JSON.stringify(fromPage.json).includes(NOTE));
    // The console reloaded: the call is rejoined from the waiting room, the notes come back.
    await doc().reload();
    await waitState(doc(), 'day');
    await doc().click(`[data-testid="admit-${fx.a1}"]`);
    await waitState(doc(), 'call', 20000);
    await doc().waitForFunction((n) => document.querySelector('#notes-text').value === n, NOTE, { timeout: 10000 });
    await doc().waitForSelector('#photos li img');
    await lookAndCheck(doc(), 'faces-console-notes');
  });

  step('advice appears on the patient\'s page at once', async () => {
    await doc().fill('#advice-text', ADVICE);
    await doc().click('#btn-advice');
    await doc().waitForSelector('#advice-given li');
    const box = '[data-view="call"] section#messages .advice:not([hidden]) li';
    await pat().waitForSelector(box, { timeout: 10000 });
    assert.equal(await pat().textContent(box), ADVICE);
    await lookAndCheck(pat(), 'faces-console-patient-advice');
    await lookAndCheck(doc(), 'faces-console-advice');
  });

  step('end with an outcome: the patient\'s end view shows the advice again; the day shows it seen', async () => {
    await doc().selectOption('#outcome', 'follow-up');
    await doc().click('#btn-end');
    await waitState(pat(), 'ended', 15000);
    await pat().waitForSelector('[data-view="ended"] .advice-ended li');
    assert.equal(await pat().textContent('[data-view="ended"] .advice-ended li'), ADVICE);
    await lookAndCheck(pat(), 'faces-console-patient-ended');
    await waitState(doc(), 'day');
    await doc().waitForFunction((id) => document.querySelector(`#appointments tr[data-appointment="${id}"]`)?.dataset.status === 'fulfilled', fx.a1);
    assert.equal(await doc().textContent(`#appointments tr[data-appointment="${fx.a1}"] td:nth-child(4)`), 'Seen');
    await lookAndCheck(doc(), 'faces-console-after-end');
  });

  step('"Next patient" admits the walk-in who waits, then says nobody is waiting', async () => {
    people.patient2 = await launchPerson('patient2');
    const p2 = people.patient2.page;
    await p2.setViewportSize({ width: 360, height: 740 });
    await p2.goto(fx.link2);
    await patientJoin(p2);
    await waitState(p2, 'waiting');
    await doc().waitForSelector(`#waiting-room li[data-appointment="${fx.a2}"]`);
    await doc().click('#btn-next');
    await waitState(doc(), 'call', 20000);
    await waitState(p2, 'call', 20000);
    assert.equal(await doc().evaluate(() => window.__mw.appointmentId), fx.a2);
    await waitFor(async () => (await doc().textContent('#patient-details dd[data-field="name"]')) === P2.name, { what: 'the walk-in\'s details' });
    assert.match(await doc().textContent('#patient-details dd[data-field="visit"]'), /^Walk-in/);
    await lookAndCheck(doc(), 'faces-console-next-call');
    await doc().selectOption('#outcome', 'completed');
    await doc().click('#btn-end');
    await waitState(doc(), 'day');
    await waitState(p2, 'ended');
    await doc().click('#btn-next');
    await doc().waitForFunction(() => document.querySelector('#notice').textContent === 'Nobody is waiting right now.');
    assert.equal(await doc().evaluate(() => window.__mw.state), 'day');
    await lookAndCheck(doc(), 'faces-console-nobody-waiting');
  });
});
