// Every refusal in docs/protocol.md, from a real browser page: the exact HTTP status and error
// code, the exact WSS close code and reason, and for the page-level ones the plain-words error
// the patient page shows (#error-title, #error-code).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startDaemon, addDoctor, addPatient, book, launchPerson, screenshot, waitState, wsProbe,
  pageFetch, cleanupAll, patientJoin,
} from './lib.mjs';

const DOCTOR = { username: 'dr.hassan', name: 'Dr Hassan Ali', password: 'right-password-1' };

describe('rejections', () => {
  let d;
  let browser;     // one person's Chromium; each test uses its own page
  let patientId;
  const bookings = {};

  before(async () => {
    d = await startDaemon();
    await addDoctor(d, DOCTOR);
    ({ patient_id: patientId } = await addPatient(d, { name: 'Sana Iqbal', phone: '+923009876543' }));
    bookings.expired = await book(d, { doctor: DOCTOR.username, patient: patientId, start: -7200, minutes: 15 });
    bookings.early = await book(d, { doctor: DOCTOR.username, patient: patientId, start: '+86400', minutes: 15 });
    // Three open links for the same doctor: consecutive 5-minute appointments (a doctor cannot
    // be booked twice at one time), all inside their link's window now.
    bookings.inUse = await book(d, { doctor: DOCTOR.username, patient: patientId, start: '-300', minutes: 5 });
    bookings.malformed = await book(d, { doctor: DOCTOR.username, patient: patientId, start: 'now', minutes: 5 });
    bookings.large = await book(d, { doctor: DOCTOR.username, patient: patientId, start: '+300', minutes: 5 });
    browser = await launchPerson('rejections');
  });

  after(async () => {
    await cleanupAll([() => browser?.close()]);
    if (!d) return;
    const exit = await d.stop();
    await d.saveLog('rejections');
    if (browser?.consoleLog.length) console.log(browser.consoleLog.slice(-40).join('\n'));
    await d.cleanup();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null },
      `daemon pid ${d.pid} should exit 0 on SIGTERM`);
  });

  // A new page on the daemon's origin (for raw WSS probes and fetches).
  async function originPage() {
    const page = await browser.ctx.newPage();
    await page.goto(`${d.base}/`, { waitUntil: 'load' });
    return page;
  }

  async function patientPageError(url, shot) {
    const page = await browser.ctx.newPage();
    try {
      await page.goto(url, { waitUntil: 'load' });
      await waitState(page, 'error');
      await screenshot(page, shot);
      return {
        title: (await page.textContent('#error-title')).trim(),
        message: (await page.textContent('#error-message')).trim(),
        code: (await page.textContent('#error-code')).trim(),
        closeCode: await page.getAttribute('#error-code', 'data-close-code'),
      };
    } finally {
      await page.close();
    }
  }

  const fatalError = (r) => r.messages.find((m) => m.type === 'error' && m.fatal === true);

  it('unknown token: 404 unknown_token, a plain page, WSS close 4404', async () => {
    const page = await originPage();
    try {
      const r = await pageFetch(page, 'GET', '/api/join/no-such-token-AAAAAAAAAAAAAAAA');
      assert.equal(r.status, 404);
      assert.equal(r.json.error, 'unknown_token');
      assert.equal(typeof r.json.message, 'string');
      const w = await wsProbe(page, { hello: JSON.stringify({ type: 'hello', token: 'no-such-token-AAAAAAAAAAAAAAAA' }) });
      assert.deepEqual(w.close, { code: 4404, reason: 'unknown token' });
      assert.ok(fatalError(w), `a fatal error message before the close: ${JSON.stringify(w.messages)}`);
      // "not a token at all"
      const w2 = await wsProbe(page, { hello: JSON.stringify({ type: 'hello', token: '../../etc/passwd' }) });
      assert.deepEqual(w2.close, { code: 4404, reason: 'unknown token' });
    } finally {
      await page.close();
    }
    const e = await patientPageError(`${d.base}/join/no-such-token-AAAAAAAAAAAAAAAA`, 'rejection-unknown-token');
    assert.equal(e.code, 'unknown_token');
    assert.equal(e.title, 'This link does not work');
  });

  it('expired token: 410 expired_token (+valid_until), a plain page, WSS close 4410', async () => {
    const page = await originPage();
    try {
      const r = await pageFetch(page, 'GET', `/api/join/${bookings.expired.token}`);
      assert.equal(r.status, 410);
      assert.equal(r.json.error, 'expired_token');
      assert.equal(typeof r.json.valid_until, 'number');
      assert.ok(r.json.valid_until < Date.now() / 1000);
      const w = await wsProbe(page, { hello: JSON.stringify({ type: 'hello', token: bookings.expired.token }) });
      assert.deepEqual(w.close, { code: 4410, reason: 'expired token' });
      assert.ok(fatalError(w), JSON.stringify(w.messages));
    } finally {
      await page.close();
    }
    const e = await patientPageError(bookings.expired.link, 'rejection-expired-token');
    assert.equal(e.code, 'expired_token');
    assert.equal(e.title, 'This link has expired');
    assert.match(e.message, /contact the clinic to get a new link/);
  });

  it('too early: 403 too_early (+valid_from), a page saying when it opens, WSS close 4425', async () => {
    const page = await originPage();
    let validFrom;
    try {
      const r = await pageFetch(page, 'GET', `/api/join/${bookings.early.token}`);
      assert.equal(r.status, 403);
      assert.equal(r.json.error, 'too_early');
      assert.equal(typeof r.json.valid_from, 'number');
      validFrom = r.json.valid_from;
      assert.ok(validFrom > Date.now() / 1000 + 86400 - 3600, `valid_from ${validFrom}`);
      const w = await wsProbe(page, { hello: JSON.stringify({ type: 'hello', token: bookings.early.token }) });
      assert.deepEqual(w.close, { code: 4425, reason: 'too early' });
      assert.ok(fatalError(w), JSON.stringify(w.messages));
    } finally {
      await page.close();
    }
    const e = await patientPageError(bookings.early.link, 'rejection-too-early');
    assert.equal(e.code, 'too_early');
    assert.equal(e.title, 'It is too early to join');
    // The page gives the opening time in the browser's local time: the hour and minute of
    // valid_from must be in the message.
    const hhmm = await browser.page.evaluate((t) => new Date(t * 1000)
      .toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }), validFrom);
    assert.ok(e.message.includes(hhmm), `"${e.message}" should say ${hhmm}`);
  });

  it('token already in use: a second page with the same token is closed 4409', async () => {
    const first = await browser.ctx.newPage();
    const second = await browser.ctx.newPage();
    try {
      await first.goto(bookings.inUse.link, { waitUntil: 'load' });
      await patientJoin(first);
      await waitState(first, 'waiting');

      await second.goto(bookings.inUse.link, { waitUntil: 'load' });
      await patientJoin(second);
      await waitState(second, 'error');
      await screenshot(second, 'rejection-token-in-use');
      assert.equal(await second.getAttribute('#error-code', 'data-close-code'), '4409');
      assert.equal((await second.textContent('#error-code')).trim(), 'token_in_use');
      assert.equal((await second.textContent('#error-title')).trim(), 'This link is already open');
      // The same refusal seen raw, for the exact reason text.
      const w = await wsProbe(second, { hello: JSON.stringify({ type: 'hello', token: bookings.inUse.token }) });
      assert.deepEqual(w.close, { code: 4409, reason: 'token already in use by another open page' });
      assert.ok(fatalError(w), JSON.stringify(w.messages));
      // The first page is not disturbed.
      assert.equal(await first.getAttribute('#state', 'data-state'), 'waiting');
      assert.equal(await first.evaluate(() => window.__mw.signaling.isOpen), true);
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('malformed messages get malformed_message and the connection stays open', async () => {
    const page = await originPage();
    try {
      const w = await wsProbe(page, {
        hello: JSON.stringify({ type: 'hello', token: bookings.malformed.token }),
        frames: ['{"type":', '[1]', '{"type":"nope"}'],
        afterWelcome: true,
        holdMs: 2000,
      });
      assert.equal(w.close, null, `connection should stay open, got ${JSON.stringify(w.close)}`);
      assert.equal(w.readyState, 1);
      assert.equal(w.messages[0]?.type, 'welcome', JSON.stringify(w.messages));
      const errs = w.messages.filter((m) => m.type === 'error');
      assert.equal(errs.length, 3, JSON.stringify(w.messages));
      for (const e of errs) {
        assert.equal(e.code, 'malformed_message');
        assert.equal(typeof e.message, 'string');
        assert.notEqual(e.fatal, true);
      }
    } finally {
      await page.close();
    }
  });

  it('a message over 64 KiB closes 1009 "message too large"', async () => {
    const page = await originPage();
    try {
      const big = JSON.stringify({ type: 'leave', pad: 'x'.repeat(70000) });
      const w = await wsProbe(page, {
        hello: JSON.stringify({ type: 'hello', token: bookings.large.token }),
        frames: [big],
        afterWelcome: true,
        timeoutMs: 10000,
      });
      assert.equal(w.messages[0]?.type, 'welcome', JSON.stringify(w.messages));
      assert.deepEqual(w.close, { code: 1009, reason: 'message too large' });
    } finally {
      await page.close();
    }
  });

  it('staff hello without a session closes 4403 "not authenticated"', async () => {
    const page = await originPage();
    try {
      await browser.ctx.clearCookies();
      const w = await wsProbe(page, { hello: JSON.stringify({ type: 'hello' }) });
      assert.deepEqual(w.close, { code: 4403, reason: 'not authenticated' });
      assert.ok(fatalError(w), JSON.stringify(w.messages));
    } finally {
      await page.close();
    }
  });

  it('no hello within 10 s closes 4408 "authentication timeout"', { timeout: 30000 }, async () => {
    const page = await originPage();
    try {
      const w = await wsProbe(page, { timeoutMs: 16000 });
      assert.deepEqual(w.close, { code: 4408, reason: 'authentication timeout' });
      assert.ok(w.elapsedMs >= 9500 && w.elapsedMs <= 13000, `closed after ${w.elapsedMs} ms, want about 10 s`);
    } finally {
      await page.close();
    }
  });

  it('login with a wrong password: 401 invalid_credentials, and the console says so', async () => {
    const page = await browser.ctx.newPage();
    try {
      await page.goto(`${d.base}/console`, { waitUntil: 'load' });
      await waitState(page, 'login');
      const r = await pageFetch(page, 'POST', '/api/login', { username: DOCTOR.username, password: 'wrong-password' });
      assert.equal(r.status, 401);
      assert.equal(r.json.error, 'invalid_credentials');
      await page.fill('#username', DOCTOR.username);
      await page.fill('#password', 'wrong-password');
      await page.click('#btn-login');
      await page.waitForSelector('#login-error:not([hidden])');
      assert.equal(await page.getAttribute('#login-error', 'data-code'), 'invalid_credentials');
      assert.equal((await page.textContent('#login-error')).trim(), 'Wrong username or password.');
      assert.equal(await page.getAttribute('#state', 'data-state'), 'login');
      await screenshot(page, 'rejection-wrong-password');
    } finally {
      await page.close();
    }
  });
});
