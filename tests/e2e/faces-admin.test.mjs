// The clinic admin's face (/admin), in a real browser at 1280x800 and again at 390 px: an
// admin signs in, creates a facility (a refused time zone first), a service, a doctor with a
// profile, weekly hours (an overlapping window refused next to its field), a break and leave;
// adds a patient (a refused phone number first); finds free times and books one (hold, then
// confirm), sees the join link and the SMS state; moves it; cancels it with a reason; adds a
// walk-in, checks them in, and puts the patient on the waitlist. Every step is checked against
// the API from node (not only on the page), with lookAndCheck (screenshot + axe) on each view.
// A doctor opening /admin gets a refusal page, not a broken one.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startDaemon, admin, launchPerson, lookAndCheck, waitState, waitFor, loginCookie, request,
  cleanupAll, screenshot, consoleLogin,
} from './lib.mjs';

const ADMIN = { username: 'admin.rukhsana', name: 'Rukhsana Malik', password: 'admin password 1' };
const DOCTOR = { username: 'dr.sana', name: 'Dr Sana Iqbal', password: 'doctor password 2' };
const PATIENT = { name: 'Nasreen Akhtar', phone: '+92 300 1234567' };
const TZ = 'Asia/Karachi'; // UTC+5, so a time shown in the browser's own zone (UTC here) would differ

const clock = (unix) => new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' })
  .format(new Date(unix * 1000));
const isoWeekday = (unix) => ({ Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 })[
  new Intl.DateTimeFormat('en-US', { timeZone: TZ, weekday: 'short' }).format(new Date(unix * 1000))];
const localDate = (unix) => new Intl.DateTimeFormat('en-CA', { timeZone: TZ }).format(new Date(unix * 1000));

describe('admin pages', () => {
  let d, person, cookie;
  const ids = {};
  let broken = null;
  const now = Math.floor(Date.now() / 1000);

  const step = (name, fn, timeout = 60000) => it(name, { timeout }, async (t) => {
    if (broken) return t.skip(`after failed step: ${broken}`);
    try {
      await fn(t);
    } catch (e) {
      broken = name;
      if (person) await screenshot(person.page, 'admin-FAILED');
      console.log(person?.consoleLog.slice(-20).join('\n'));
      throw e;
    }
  });
  const api = async (method, path, body) => {
    const r = await request(d.base, method, path, { cookie, body });
    return r;
  };
  const page = () => person.page;
  const tab = async (name) => {
    await page().click(`#tabs a[data-tab="${name}"]`);
    await waitState(page(), name);
  };
  /** The refusal next to a field: its text, the field invalid, described by it and focused. */
  const fieldRefusal = async (inputSel) => {
    const id = inputSel.slice(1);
    await page().waitForSelector(`#${id}-error`, { state: 'visible' });
    return page().evaluate((id) => {
      const input = document.getElementById(id);
      const err = document.getElementById(`${id}-error`);
      return {
        text: err.textContent, code: err.dataset.code, invalid: input.getAttribute('aria-invalid'),
        describedBy: (input.getAttribute('aria-describedby') || '').split(' ').includes(`${id}-error`),
        focused: document.activeElement === input,
        next: input.parentElement.contains(err),
      };
    }, id);
  };

  before(async () => {
    d = await startDaemon();
    await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name, '--password', ADMIN.password, '--role', 'admin']);
    cookie = await loginCookie(d.base, ADMIN.username, ADMIN.password);
    person = await launchPerson('admin');
    await page().setViewportSize({ width: 1280, height: 800 });
  });
  after(async () => {
    await cleanupAll([() => person?.close()]);
    if (d) {
      await d.saveLog('faces-admin');
      await d.stop();
      await d.cleanup();
    }
  });

  step('signs in as an admin and sees the facilities', async () => {
    await page().goto(`${d.base}/admin`);
    await waitState(page(), 'login');
    await lookAndCheck(page(), 'admin-login');
    await page().fill('#username', ADMIN.username);
    await page().fill('#password', 'not the password');
    await page().click('#btn-login');
    await page().waitForSelector('#login-error:not([hidden])');
    assert.match(await page().textContent('#login-error'), /Wrong username or password/);
    await page().fill('#password', ADMIN.password);
    await page().click('#btn-login');
    await waitState(page(), 'facilities');
    assert.match(await page().textContent('#who'), /Rukhsana Malik \(Clinic admin\)/);
    assert.equal(await page().isVisible('#facilities-empty'), true, 'no facility yet, and the page says so');
    await lookAndCheck(page(), 'admin-facilities-empty');
  });

  step('refuses an unknown time zone next to its field, then adds the facility', async () => {
    await page().fill('#fac-name', 'Basic Health Unit Chak 12');
    await page().fill('#fac-district', 'Faisalabad');
    await page().selectOption('#fac-sector', 'public');
    await page().fill('#fac-timezone', 'Asia/Nowhere');
    await page().click('#form-facility button[type="submit"]');
    const r = await fieldRefusal('#fac-timezone');
    assert.equal(r.code, 'invalid');
    assert.match(r.text, /time zone/);
    assert.ok(r.invalid === 'true' && r.describedBy && r.focused && r.next, JSON.stringify(r));
    assert.deepEqual((await api('GET', '/api/facilities')).json.facilities, [], 'nothing written');
    await lookAndCheck(page(), 'admin-facility-refused');

    await page().fill('#fac-timezone', TZ);
    await page().click('#form-facility button[type="submit"]');
    await page().waitForSelector('#facilities-table tbody tr');
    assert.equal(await page().isVisible('#fac-timezone-error'), false, 'the refusal is gone');
    const list = (await api('GET', '/api/facilities')).json.facilities;
    assert.equal(list.length, 1);
    assert.deepEqual({ ...list[0], id: 0 }, { id: 0, name: 'Basic Health Unit Chak 12', district: 'Faisalabad', sector: 'public', timezone: TZ });
    ids.facility = list[0].id;
    assert.match(await page().textContent(`#facilities-table tr[data-facility="${ids.facility}"]`), /Chak 12.*Faisalabad.*Public.*Asia\/Karachi/);
  });

  step('adds a service', async () => {
    await page().selectOption('#svc-facility', String(ids.facility));
    await page().fill('#svc-name', 'General consultation');
    await page().fill('#svc-specialty', 'General medicine');
    await page().fill('#svc-duration', '20');
    await page().fill('#svc-after', '5');
    await page().click('#form-service button[type="submit"]');
    await page().waitForSelector('#services-table tbody tr');
    const s = (await api('GET', `/api/services?facility_id=${ids.facility}`)).json.services;
    assert.equal(s.length, 1);
    assert.equal(s[0].name, 'General consultation');
    assert.equal(s[0].specialty, 'General medicine');
    assert.equal(s[0].duration_min, 20);
    assert.equal(s[0].buffer_after_min, 5);
    ids.service = s[0].id;
    assert.match(await page().textContent(`#services-table tr[data-service="${ids.service}"]`), /20 min/);
    await lookAndCheck(page(), 'admin-facilities');
  });

  step('adds a doctor with a profile, who can sign in', async () => {
    await tab('doctors');
    await page().fill('#doc-name', DOCTOR.name);
    await page().fill('#doc-username', DOCTOR.username);
    await page().fill('#doc-password', DOCTOR.password);
    await page().selectOption('#doc-facility', String(ids.facility));
    await page().fill('#doc-specialty', 'General medicine');
    await page().fill('#doc-languages', 'ur, en, PA');
    await page().selectOption('#doc-gender', 'female');
    await page().click('#form-doctor button[type="submit"]');
    await page().waitForSelector('#doctor-detail:not([hidden])');
    const list = (await api('GET', '/api/doctors?name=Sana')).json.doctors;
    assert.equal(list.length, 1);
    const doc = list[0];
    ids.doctor = doc.id;
    assert.equal(doc.username, DOCTOR.username);
    assert.equal(doc.facility_id, ids.facility);
    assert.equal(doc.specialty, 'General medicine');
    assert.deepEqual(doc.languages, ['ur', 'en', 'pa']);
    assert.equal(doc.gender, 'female');
    await loginCookie(d.base, DOCTOR.username, DOCTOR.password); // throws unless the login works
    assert.equal(await page().textContent('#doctor-detail-heading'), DOCTOR.name);
    assert.match(await page().textContent('#doctor-profile'), /Basic Health Unit Chak 12.*General medicine.*ur, en, pa.*female.*Asia\/Karachi/);
    assert.equal(await page().isVisible('#avail-empty'), true, 'says the doctor has no hours yet');
    await lookAndCheck(page(), 'admin-doctor-new');
  });

  step('changes the profile (a language that is not a code refused next to its field)', async () => {
    await page().click('#btn-edit-profile');
    await page().waitForSelector('#form-profile:not([hidden])');
    assert.equal(await page().inputValue('#pf-languages'), 'ur, en, pa', 'the form starts from the profile');
    await page().fill('#pf-languages', 'ur, en, Sindhi');
    await page().click('#form-profile button[type="submit"]');
    const r = await fieldRefusal('#pf-languages');
    assert.equal(r.code, 'invalid');
    assert.match(r.text, /two-letter codes/);
    assert.ok(r.invalid === 'true' && r.describedBy && r.focused && r.next, JSON.stringify(r));
    assert.deepEqual((await api('GET', `/api/doctors/${ids.doctor}`)).json.doctor.languages, ['ur', 'en', 'pa'], 'nothing written');
    await lookAndCheck(page(), 'admin-profile-refused');
    await page().fill('#pf-languages', 'ur, en, sd');
    await page().click('#form-profile button[type="submit"]');
    await page().waitForFunction(() => /ur, en, sd/.test(document.querySelector('#doctor-profile').textContent));
    await page().waitForSelector('#form-profile', { state: 'hidden' });
    const doc = (await api('GET', `/api/doctors/${ids.doctor}`)).json.doctor;
    assert.deepEqual(doc.languages, ['ur', 'en', 'sd']);
    assert.equal(doc.gender, 'female');
    assert.equal(doc.specialty, 'General medicine');
    assert.match(await page().textContent('#doctor-profile'), /ur, en, sd/);
  });

  step('gives weekly hours, refuses an overlapping window next to its field, adds a break and leave', async () => {
    // Today and tomorrow (Karachi) all day, so free times exist whatever the hour of the run.
    ids.days = [isoWeekday(now), isoWeekday(now + 86400)];
    for (const wd of ids.days) {
      await page().selectOption('#av-weekday', String(wd));
      await page().fill('#av-start', '00:00');
      await page().fill('#av-end', '23:59');
      await page().selectOption('#av-service', String(ids.service));
      await page().click('#form-availability button[type="submit"]');
      await page().waitForFunction((wd) => [...document.querySelectorAll('#avail-table tbody tr')]
        .some((tr) => tr.cells[0].textContent === ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'][wd - 1]), wd);
    }
    let av = (await api('GET', `/api/availability?doctor_id=${ids.doctor}`)).json.availability;
    assert.deepEqual(av.map((a) => [a.weekday, a.start_min, a.end_min, a.service_id]).sort(),
      ids.days.map((wd) => [wd, 0, 1439, ids.service]).sort());

    // Overlap: 10:00-11:00 on a day already covered.
    await page().selectOption('#av-weekday', String(ids.days[0]));
    await page().fill('#av-start', '10:00');
    await page().fill('#av-end', '11:00');
    await page().click('#form-availability button[type="submit"]');
    const r = await fieldRefusal('#av-start');
    assert.equal(r.code, 'conflict');
    assert.match(r.text, /overlap/);
    assert.ok(r.invalid === 'true' && r.describedBy && r.focused && r.next, JSON.stringify(r));
    av = (await api('GET', `/api/availability?doctor_id=${ids.doctor}`)).json.availability;
    assert.equal(av.length, 2, 'the refused window was not written');
    await lookAndCheck(page(), 'admin-availability-refused');

    await page().selectOption('#br-weekday', String(ids.days[1]));
    await page().fill('#br-start', '13:00');
    await page().fill('#br-end', '13:30');
    await page().click('#form-break button[type="submit"]');
    await page().waitForSelector('#breaks-table tbody tr');
    const br = (await api('GET', `/api/breaks?doctor_id=${ids.doctor}`)).json.breaks;
    assert.deepEqual(br.map((b) => [b.weekday, b.start_min, b.end_min]), [[ids.days[1], 780, 810]]);

    // Leave in three weeks, typed in Karachi time: 09:00 there is 04:00 UTC.
    const day = localDate(now + 21 * 86400);
    await page().fill('#lv-from', `${day}T09:00`);
    await page().fill('#lv-to', `${day}T17:00`);
    await page().fill('#lv-reason', 'training course');
    await page().click('#form-leave button[type="submit"]');
    await page().waitForSelector('#leave-table tbody tr');
    const ex = (await api('GET', `/api/exceptions?doctor_id=${ids.doctor}`)).json.exceptions;
    assert.equal(ex.length, 1);
    assert.equal(ex[0].starts_at, Date.parse(`${day}T09:00:00+05:00`) / 1000);
    assert.equal(ex[0].ends_at, Date.parse(`${day}T17:00:00+05:00`) / 1000);
    assert.equal(ex[0].reason, 'training course');
    assert.match(await page().textContent('#leave-table tbody'), /09:00.*17:00.*training course/);
    await lookAndCheck(page(), 'admin-doctor-hours');
  });

  step('refuses a bad phone number next to its field, then adds the patient', async () => {
    await tab('patients');
    await page().fill('#pt-name', PATIENT.name);
    await page().fill('#pt-phone', 'call me');
    await page().click('#form-patient button[type="submit"]');
    const r = await fieldRefusal('#pt-phone');
    assert.equal(r.code, 'invalid');
    assert.match(r.text, /not a phone number/);
    assert.ok(r.invalid === 'true' && r.describedBy && r.focused && r.next, JSON.stringify(r));
    assert.deepEqual((await api('GET', '/api/patients?q=Nasreen')).json.patients, [], 'nothing written');
    await lookAndCheck(page(), 'admin-patient-refused');

    // By keyboard only: the focus is on the refused field; type the right number and press Enter.
    await page().keyboard.press('Control+A');
    await page().keyboard.type(PATIENT.phone);
    await page().keyboard.press('Enter');
    await page().waitForSelector('#patients-table tbody tr[data-patient]');
    const list = (await api('GET', '/api/patients?q=Nasreen')).json.patients;
    assert.equal(list.length, 1);
    assert.equal(list[0].name, PATIENT.name);
    assert.equal(list[0].phone.replace(/\D/g, ''), '923001234567');
    ids.patient = list[0].id;
    assert.match(await page().textContent(`#patients-table tr[data-patient="${ids.patient}"]`), /Nasreen Akhtar/);
    await lookAndCheck(page(), 'admin-patients');
  });

  step('finds free times, holds one, confirms it, and shows the join link and the SMS', async () => {
    await page().click(`#patients-table tr[data-patient="${ids.patient}"] button:text("Book")`);
    await waitState(page(), 'bookings');
    assert.match(await page().textContent('[data-view="bookings"] [data-chosen-patient]'), /Nasreen Akhtar/);
    await page().selectOption('#sl-doctor', String(ids.doctor));
    await page().fill('#sl-from', localDate(now));
    await page().fill('#sl-to', localDate(now + 86400));
    await page().click('#form-slots button[type="submit"]');
    await page().waitForSelector('#slots li[data-slot]');
    const slotIds = await page().$$eval('#slots li[data-slot]', (lis) => lis.map((li) => li.dataset.slot));
    const api0 = (await api('GET', `/api/slots?doctor_id=${ids.doctor}&from=${now - 60}&to=${now + 3 * 86400}&limit=40`)).json.slots;
    assert.ok(slotIds.length > 1);
    assert.equal(slotIds[0], api0[0].id, 'the page lists the API’s first free time first');
    const first = api0[0];
    // Shown in Karachi time (the browser runs in UTC).
    const chip = `#slots li[data-slot="${first.id}"] button`;
    assert.equal((await page().textContent(chip)).trim(), clock(first.starts_at));
    assert.match(await page().getAttribute(chip, 'aria-label'),
      new RegExp(`^${clock(first.starts_at)}: book \\w+ \\d+ \\w+, ${clock(first.starts_at)}–${clock(first.ends_at)} with Dr Sana Iqbal$`));
    await lookAndCheck(page(), 'admin-slots');

    await page().click(`#slots li[data-slot="${first.id}"] button`);
    await page().waitForSelector('#hold-panel:not([hidden])');
    const holdId = await page().evaluate(() => window.__mw.holdId);
    const held = (await api('GET', `/api/appointments/${holdId}`)).json.appointment;
    assert.equal(held.status, 'pending');
    assert.equal(held.starts_at, first.starts_at);
    assert.equal(held.patient_id, ids.patient);
    assert.match(await page().textContent('#hold-text'), new RegExp(`Nasreen Akhtar with Dr Sana Iqbal.*${clock(first.starts_at)}.*kept for you until ${clock(held.hold_expires_at)}`));
    await lookAndCheck(page(), 'admin-hold');

    await page().click('#btn-confirm');
    await page().waitForSelector('#booked-panel:not([hidden])');
    const link = await page().inputValue('#booked-link');
    assert.match(link, new RegExp(`^${d.base.replace(/[.]/g, '\\.')}/join/[A-Za-z0-9_-]{20,}$`));
    const booked = (await api('GET', `/api/appointments/${holdId}`)).json.appointment;
    assert.equal(booked.status, 'booked');
    ids.appointment = holdId;
    ids.first = first;
    // The link is the patient's: their invite answers with this appointment's time.
    const token = link.split('/join/')[1];
    const ics = await request(d.base, 'GET', `/api/join/${token}/invite.ics`);
    assert.equal(ics.status, 200);
    assert.match(ics.text, new RegExp(`UID:appointment-${holdId}@`));
    // The confirmation SMS: in the outbox, and said on the page in the outbox's state.
    const ob = (await api('GET', `/api/outbox?appointment_id=${holdId}`)).json.outbox;
    const conf = ob.find((n) => n.kind === 'confirmation');
    assert.ok(conf, `a confirmation notice in ${JSON.stringify(ob)}`);
    await page().waitForFunction(() => /confirmation:/.test(document.querySelector('#booked-sms').dataset.notices || ''));
    assert.match(await page().textContent('#booked-sms'), /Booking SMS (queued|sent|to be sent)/);
    // The appointments list shows it on its day.
    await page().waitForSelector(`#appts-table tr[data-appointment="${holdId}"][data-status="booked"]`);
    await lookAndCheck(page(), 'admin-booked');
  });

  step('moves the appointment to another free time', async () => {
    await page().click(`#appts-table tr[data-appointment="${ids.appointment}"] button`);
    await page().waitForSelector(`#appt-panel[data-appointment="${ids.appointment}"]:not([hidden])`);
    await page().click('#btn-reschedule');
    await page().waitForSelector('#resched-slots li[data-slot]');
    const lis = await page().$$eval('#resched-slots li[data-slot]', (l) => l.map((li) => li.dataset.slot));
    const target = lis[2] || lis[lis.length - 1];
    const newStart = Number(target.split('-')[2]);
    assert.notEqual(newStart, ids.first.starts_at);
    await page().click(`#resched-slots li[data-slot="${target}"] button`);
    await page().waitForFunction((s) => document.querySelector('#appt-facts')?.textContent.includes(s), clock(newStart));
    const a = (await api('GET', `/api/appointments/${ids.appointment}`)).json.appointment;
    assert.equal(a.starts_at, newStart);
    assert.equal(a.sequence, 1);
    assert.equal(a.status, 'booked');
    assert.match(await page().textContent('#appt-facts'), /Moved\s*1 time/);
    const ob = (await api('GET', `/api/outbox?appointment_id=${ids.appointment}`)).json.outbox;
    assert.ok(ob.some((n) => n.kind === 'rescheduled'), 'a new-time SMS is queued');
    await page().waitForFunction(() => /rescheduled:/.test(document.querySelector('#appt-sms').dataset.notices || ''));
    await lookAndCheck(page(), 'admin-rescheduled');
  });

  step('cancels it with a reason (a reason is asked for first)', async () => {
    await page().click('#btn-show-cancel');
    await page().click('#form-cancel button[type="submit"]');
    const r = await fieldRefusal('#cx-reason');
    assert.ok(r.focused && r.invalid === 'true', JSON.stringify(r));
    assert.equal((await api('GET', `/api/appointments/${ids.appointment}`)).json.appointment.status, 'booked');
    await page().fill('#cx-reason', 'patient travelling to Lahore');
    await page().click('#form-cancel button[type="submit"]');
    await page().waitForSelector('#appt-panel[data-status="cancelled"]');
    const a = (await api('GET', `/api/appointments/${ids.appointment}`)).json.appointment;
    assert.equal(a.status, 'cancelled');
    assert.equal(a.cancel_reason, 'patient travelling to Lahore');
    assert.match(await page().textContent('#appt-facts'), /Reason for cancelling\s*patient travelling to Lahore/);
    assert.equal(await page().isVisible('#btn-show-cancel'), false, 'a cancelled appointment offers no cancel');
    await lookAndCheck(page(), 'admin-cancelled');
  });

  step('adds a walk-in, shows the queue, checks them in, and puts the patient on the waitlist', async () => {
    await tab('walk-ins');
    assert.match(await page().textContent('[data-view="walk-ins"] [data-chosen-patient]'), /Nasreen Akhtar/);
    await page().selectOption('#wk-doctor', String(ids.doctor));
    await page().click('#form-walkin button[type="submit"]');
    await page().waitForSelector('#walkin-result:not([hidden])');
    const walkinId = await page().evaluate(() => window.__mw.walkinId);
    const w = (await api('GET', `/api/appointments/${walkinId}`)).json.appointment;
    assert.equal(w.kind, 'walkin');
    assert.equal(w.status, 'arrived');
    assert.equal(w.patient_id, ids.patient);
    assert.match(await page().textContent('#walkin-text'), new RegExp(`walk-in no\\. ${w.queue_number} for Dr Sana Iqbal`));
    assert.match(await page().inputValue('#walkin-link'), /\/join\//);
    const q = (await api('GET', `/api/queue?doctor_id=${ids.doctor}`)).json.queue;
    assert.ok(q.some((x) => x.id === walkinId));
    await page().waitForSelector(`#queue li[data-appointment="${walkinId}"]`);
    await lookAndCheck(page(), 'admin-walkin');

    await page().selectOption('#wl-service', String(ids.service));
    await page().fill('#wl-to', localDate(now + 14 * 86400));
    await page().click('#form-waitlist button[type="submit"]');
    await page().waitForSelector('#waitlist-table tbody tr[data-waitlist]');
    const wl = (await api('GET', '/api/waitlist')).json.waitlist;
    assert.equal(wl.length, 1);
    assert.equal(wl[0].patient_id, ids.patient);
    assert.equal(wl[0].service_id, ids.service);
    assert.equal(wl[0].status, 'waiting');
    assert.equal(wl[0].not_after, Date.parse(`${localDate(now + 14 * 86400)}T00:00:00+05:00`) / 1000 + 86400, 'to the end of that day in Karachi');
    const lastDay = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' })
      .format(new Date((now + 14 * 86400) * 1000));
    assert.match(await page().textContent('#waitlist-table tbody'), new RegExp(`Nasreen Akhtar.*General consultation.*now to ${lastDay}`));
    await lookAndCheck(page(), 'admin-waitlist');

    // Check in from the day's list.
    await tab('bookings');
    await page().selectOption('#ap-doctor', String(ids.doctor));
    await page().fill('#ap-day', localDate(w.starts_at));
    await page().click('#form-appts button[type="submit"]');
    await page().click(`#appts-table tr[data-appointment="${walkinId}"] button`);
    await page().waitForSelector(`#appt-panel[data-appointment="${walkinId}"]:not([hidden])`);
    await page().click('#btn-checkin');
    await page().waitForSelector('#appt-panel[data-status="checked-in"]');
    assert.equal((await api('GET', `/api/appointments/${walkinId}`)).json.appointment.status, 'checked-in');
    ids.walkin = walkinId;
  });

  step('works at a phone width (390 px): every view without sideways scrolling', async () => {
    await page().setViewportSize({ width: 390, height: 844 });
    for (const name of ['facilities', 'doctors', 'patients', 'bookings', 'walk-ins']) {
      await tab(name);
      if (name === 'doctors') {
        await page().click(`#doctors-table tr[data-doctor="${ids.doctor}"] button`);
        await page().waitForSelector('#doctor-detail:not([hidden])');
      }
      if (name === 'bookings') {
        await page().click('#form-slots button[type="submit"]');
        await page().waitForSelector('#slots li[data-slot]');
      }
      const widths = await page().evaluate(() => ({ doc: document.documentElement.scrollWidth, view: window.innerWidth }));
      assert.ok(widths.doc <= widths.view, `${name}: page ${widths.doc} px wide in a ${widths.view} px window`);
      await lookAndCheck(page(), `admin-narrow-${name}`);
    }
    // A booking made at this width works the same.
    await tab('bookings');
    const slot = await page().$eval('#slots li[data-slot]', (li) => li.dataset.slot);
    await page().click(`#slots li[data-slot="${slot}"] button`);
    await page().waitForSelector('#hold-panel:not([hidden])');
    await page().click('#btn-confirm');
    await page().waitForSelector('#booked-panel:not([hidden])');
    const id = await page().evaluate(() => window.__mw.bookedId);
    const a = (await api('GET', `/api/appointments/${id}`)).json.appointment;
    assert.equal(a.status, 'booked');
    assert.equal(a.starts_at, Number(slot.split('-')[2]));
    await lookAndCheck(page(), 'admin-narrow-booked');
    const errors = person.consoleLog.filter((l) => /pageerror|error:/i.test(l) && !/Failed to load resource/.test(l));
    assert.deepEqual(errors, [], 'no script errors on the admin page');
  });

  step('a doctor opening /admin gets a clear refusal page', async () => {
    const doc = await launchPerson('doctor');
    try {
      await consoleLogin(doc.page, d.base, DOCTOR.username, DOCTOR.password);
      assert.equal(await doc.page.isVisible('#admin-link'), false, 'no Admin link for a doctor');
      await doc.page.goto(`${d.base}/admin`);
      await waitState(doc.page, 'refused');
      assert.equal(await doc.page.textContent('[data-view="refused"] h1'), 'This page is for clinic admins');
      assert.match(await doc.page.textContent('#refused-text'), /signed in as Dr Sana Iqbal, a doctor account/);
      assert.equal(await doc.page.isVisible('#tabs'), false);
      assert.equal(await doc.page.isVisible('#refused-console'), true);
      assert.equal(await doc.page.isVisible('[data-view="facilities"]'), false);
      await lookAndCheck(doc.page, 'admin-refused-doctor');
      // The API refuses the doctor too (the page is not the guard).
      const dc = await loginCookie(d.base, DOCTOR.username, DOCTOR.password);
      assert.equal((await request(d.base, 'GET', '/api/facilities', { cookie: dc })).status, 403);
      // "Sign in as someone else" leads to the sign-in form, and an admin gets in from there.
      await doc.page.click('#btn-refused-logout');
      await waitState(doc.page, 'login');
      await doc.page.fill('#username', ADMIN.username);
      await doc.page.fill('#password', ADMIN.password);
      await doc.page.click('#btn-login');
      await waitState(doc.page, 'facilities');
      const errors = doc.consoleLog.filter((l) => /pageerror/.test(l));
      assert.deepEqual(errors, []);
      // An admin on the console sees the Admin link.
      await doc.page.goto(`${d.base}/console`);
      await waitState(doc.page, 'day');
      assert.equal(await doc.page.isVisible('#admin-link'), true, 'an admin sees the Admin link');
      await lookAndCheck(doc.page, 'admin-console-link');
      await doc.page.click('#admin-link');
      await waitState(doc.page, 'facilities');
    } finally {
      await doc.close();
    }
  });
});
