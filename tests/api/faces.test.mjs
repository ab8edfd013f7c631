// The booking engine's faces (issue 3), against the real daemon on 127.0.0.1: every route of the
// staff JSON API (docs/api.md) on its happy path; the bad-input matrix (unknown ids, times in
// the past, overlapping availability, invalid time zones, huge bodies, wrong types, unknown
// fields), each answered 4xx with {"error","message","field"} and with a before/after snapshot
// of every listing proving nothing was written; who may call what (401/403); the FHIR R4 face's
// shapes (required elements and value sets); and the .ics invites (stable UID, SEQUENCE rising
// on reschedule, CRLF, folding at 75 octets).
//
// Run: node --test tests/api/   (MASHWARA_BIN picks the daemon; see lib.mjs)

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, admin, login, client, request, icsLines, icsProp, nowS } from './lib.mjs';

const DAY = 24 * 3600;
const ADMIN = { username: 'faces.admin', name: 'Faces Admin', password: 'faces-admin-pass' };
// A long Urdu name makes the .ics SUMMARY fold (two or three octets a character).
const DOCTOR_NAME = 'ڈاکٹر عائشہ خان صاحبہ، ماہر امراض اطفال، ضلعی ہیڈکوارٹر ہسپتال';

let d; // the daemon
let api; // admin client
let doc; // the first doctor's client
let fx = {}; // fixture ids

/**
 * Every listing the API has: equal before and after means nothing was written. The outbox is
 * compared by its notices (id, kind, appointment, dedupe key, due time), not their delivery state:
 * the daemon's sender drains it in the background while the test runs.
 */
async function snapshot() {
  const paths = ['/api/staff', '/api/facilities', '/api/doctors', '/api/services',
    '/api/availability', '/api/breaks', '/api/exceptions', '/api/patients?limit=1000',
    '/api/appointments?limit=5000', '/api/waitlist', '/api/outbox?limit=5000'];
  const out = {};
  for (const p of paths) {
    const r = await api.get(p);
    assert.equal(r.status, 200, `snapshot ${p}: ${r.text}`);
    out[p] = r.json;
  }
  out['/api/outbox?limit=5000'] = out['/api/outbox?limit=5000'].outbox.map(
    ({ id, kind, appointment_id: a, dedupe_key: k, due_at: due }) => ({ id, kind, a, k, due }));
  return out;
}

/** Asserts a JSON error: status, error code and field (undefined: no field expected). */
function assertError(r, status, code, field) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text}`);
  assert.ok(r.json && typeof r.json === 'object', `error body is JSON: ${r.text}`);
  assert.equal(r.json.error, code, r.text);
  assert.equal(typeof r.json.message, 'string');
  assert.ok(r.json.message.length > 0);
  if (field !== undefined) assert.equal(r.json.field, field, r.text);
  assert.match(String(r.headers['content-type']), /application\/json/);
}

/** Runs `fn` (which must fail), then checks that no listing changed. */
async function unchanged(fn) {
  const beforeSnap = await snapshot();
  await fn();
  const afterSnap = await snapshot();
  for (const p of Object.keys(beforeSnap)) {
    assert.deepEqual(afterSnap[p], beforeSnap[p], `a failed request wrote something (${p})`);
  }
}

/** The next `n` free slots of the fixture's doctor and service. */
async function freeSlots(n = 5, doctorId = fx.doctorId) {
  const from = nowS() + 3600;
  const r = await api.get(`/api/slots?from=${from}&to=${from + 7 * DAY}&doctor_id=${doctorId}` +
    `&service_id=${fx.serviceId}&limit=${n}`);
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.slots.length >= n, `need ${n} free slots, got ${r.json.slots.length}`);
  return r.json.slots;
}

let nextPatient = 0;
async function newPatient(extra = {}) {
  nextPatient += 1;
  const r = await api.post('/api/patients', {
    name: `Patient ${nextPatient}`, phone: `+92300${String(1000000 + nextPatient)}`, ...extra,
  });
  assert.equal(r.status, 201, r.text);
  return r.json.patient.id;
}

before(async () => {
  d = await startDaemon();
  await admin(d, 'add-staff', ['--username', ADMIN.username, '--name', ADMIN.name,
    '--password', ADMIN.password, '--role', 'admin']);
  api = client(d, await login(d, ADMIN.username, ADMIN.password));
});

after(async () => {
  if (!d) return;
  const r = await d.stop();
  const log = d.log();
  await d.cleanup();
  for (const secret of ['Sana Bibi', '300 1234567', '3001234567', 'Patient 1', fx.apptToken]) {
    assert.ok(!secret || !log.includes(secret), `the daemon logged personal data or a token (${secret})`);
  }
  assert.deepEqual(r, { code: 0, signal: null }, `daemon exit: ${JSON.stringify(r)}\n${d.log().slice(-3000)}`);
});

describe('setup through the API (happy paths)', () => {
  it('creates facilities with and without a time zone', async () => {
    const r = await api.post('/api/facilities', { name: 'DHQ Hospital', district: 'Faisalabad', sector: 'public' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.facility.timezone, 'Asia/Karachi');
    assert.equal(r.json.facility.sector, 'public');
    fx.facilityId = r.json.facility.id;
    const r2 = await api.post('/api/facilities', { name: 'Night Clinic', district: 'Lahore', sector: 'ngo', timezone: 'UTC' });
    assert.equal(r2.status, 201, r2.text);
    assert.equal(r2.json.facility.timezone, 'UTC');
    fx.facility2Id = r2.json.facility.id;
    const g = await api.get(`/api/facilities/${fx.facilityId}`);
    assert.equal(g.status, 200);
    assert.equal(g.json.facility.name, 'DHQ Hospital');
    const l = await api.get('/api/facilities?name=night');
    assert.equal(l.status, 200);
    assert.deepEqual(l.json.facilities.map((f) => f.id), [fx.facility2Id]);
  });

  it('creates staff, doctors with profiles, and reads them back', async () => {
    const a = await api.post('/api/staff', { username: 'analyst1', name: 'Analyst', password: 'analyst-pass-1', role: 'analyst' });
    assert.equal(a.status, 201, a.text);
    assert.equal(a.json.staff.role, 'analyst');
    const r = await api.post('/api/doctors', {
      username: 'dr.ayesha', name: DOCTOR_NAME, password: 'doctor-pass-1', facility_id: fx.facilityId,
      specialty: 'pediatrics', languages: ['ur', 'en'], gender: 'female',
    });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json.doctor.languages, ['ur', 'en']);
    assert.equal(r.json.doctor.facility_id, fx.facilityId);
    fx.doctorId = r.json.doctor.id;
    const r2 = await api.post('/api/doctors', {
      username: 'dr.bilal', name: 'Dr. Bilal', password: 'doctor-pass-2', facility_id: fx.facilityId,
      specialty: 'pediatrics', languages: ['pa'], gender: 'male',
    });
    assert.equal(r2.status, 201, r2.text);
    fx.doctor2Id = r2.json.doctor.id;
    const g = await api.get(`/api/doctors/${fx.doctorId}`);
    assert.equal(g.status, 200);
    assert.equal(g.json.doctor.gender, 'female');
    const byLang = await api.get('/api/doctors?language=pa');
    assert.deepEqual(byLang.json.doctors.map((x) => x.id), [fx.doctor2Id]);
    const byGender = await api.get(`/api/doctors?gender=female&facility_id=${fx.facilityId}`);
    assert.deepEqual(byGender.json.doctors.map((x) => x.id), [fx.doctorId]);
    const p = await api.put(`/api/doctors/${fx.doctor2Id}/profile`, {
      facility_id: fx.facilityId, specialty: 'pediatrics', languages: ['pa', 'ur'], gender: 'male',
    });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json.doctor.languages, ['pa', 'ur']);
    const staff = await api.get('/api/staff?role=doctor');
    assert.equal(staff.json.staff.length, 2);
    doc = client(d, await login(d, 'dr.ayesha', 'doctor-pass-1'));
    fx.doc2 = client(d, await login(d, 'dr.bilal', 'doctor-pass-2'));
    fx.analyst = client(d, await login(d, 'analyst1', 'analyst-pass-1'));
  });

  it('creates a service, availability every day, a break and exceptions', async () => {
    const s = await api.post('/api/services', {
      facility_id: fx.facilityId, name: 'Child OPD', specialty: 'pediatrics', duration_min: 15,
      buffer_before_min: 0, buffer_after_min: 5, max_per_day: 0,
    });
    assert.equal(s.status, 201, s.text);
    assert.equal(s.json.service.duration_min, 15);
    fx.serviceId = s.json.service.id;
    assert.equal((await api.get(`/api/services/${fx.serviceId}`)).json.service.name, 'Child OPD');
    assert.equal((await api.get(`/api/services?facility_id=${fx.facilityId}`)).json.services.length, 1);
    for (const doctorId of [fx.doctorId, fx.doctor2Id]) {
      for (let weekday = 1; weekday <= 7; weekday++) {
        const r = await api.post('/api/availability', {
          doctor_id: doctorId, service_id: fx.serviceId, weekday, start_min: 0, end_min: 1440,
        });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.json.availability.weekday, weekday);
        if (doctorId === fx.doctorId && weekday === 1) fx.availabilityId = r.json.availability.id;
      }
    }
    const list = await api.get(`/api/availability?doctor_id=${fx.doctorId}`);
    assert.equal(list.json.availability.length, 7);

    const b = await api.post('/api/breaks', { doctor_id: fx.doctor2Id, weekday: 5, start_min: 780, end_min: 840 });
    assert.equal(b.status, 201, b.text);
    const bl = await api.get(`/api/breaks?doctor_id=${fx.doctor2Id}`);
    assert.equal(bl.json.breaks.length, 1);
    assert.equal((await api.del(`/api/breaks/${b.json.break.id}`)).status, 204);
    assert.equal((await api.get(`/api/breaks?doctor_id=${fx.doctor2Id}`)).json.breaks.length, 0);

    // leave far in the future (does not disturb the slots used below), and a facility holiday
    const t0 = nowS() + 200 * DAY;
    const e = await api.post('/api/exceptions', { doctor_id: fx.doctorId, starts_at: t0, ends_at: t0 + DAY, reason: 'leave' });
    assert.equal(e.status, 201, e.text);
    assert.equal(e.json.exception.facility_id, null);
    const h = await api.post('/api/exceptions', { facility_id: fx.facilityId, starts_at: t0 + 2 * DAY, ends_at: t0 + 3 * DAY, reason: 'Eid' });
    assert.equal(h.status, 201, h.text);
    const el = await api.get(`/api/exceptions?facility_id=${fx.facilityId}&from=${t0}&to=${t0 + 10 * DAY}`);
    assert.ok(el.json.exceptions.some((x) => x.id === h.json.exception.id));
    const s2 = await api.get(`/api/slots?from=${t0}&to=${t0 + DAY}&doctor_id=${fx.doctorId}`);
    assert.equal(s2.status, 200);
    assert.equal(s2.json.slots.length, 0, 'no slots during leave');
    assert.equal((await api.del(`/api/exceptions/${h.json.exception.id}`)).status, 204);
  });

  it('creates, finds and reads patients', async () => {
    const r = await api.post('/api/patients', { name: 'Sana Bibi', phone: '+92 300 1234567', preferred_language: 'ur' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.patient.preferred_language, 'ur');
    fx.patientId = r.json.patient.id;
    fx.patientPhone = '+92 300 1234567';
    const g = await api.get(`/api/patients/${fx.patientId}`);
    assert.equal(g.json.patient.name, 'Sana Bibi');
    const q = await api.get('/api/patients?q=sana');
    assert.deepEqual(q.json.patients.map((p) => p.id), [fx.patientId]);
    const noPhone = await api.post('/api/patients', { name: 'No Phone' });
    assert.equal(noPhone.status, 201, noPhone.text);
    assert.equal(noPhone.json.patient.phone, null);
  });

  it('searches slots by specialty, language, gender and facility', async () => {
    const from = nowS() + 3600;
    const base = `/api/slots?from=${from}&to=${from + 2 * DAY}&limit=500`;
    const all = await api.get(base);
    assert.equal(all.status, 200, all.text);
    assert.ok(all.json.slots.length > 0);
    const slot = all.json.slots[0];
    assert.deepEqual(Object.keys(slot).sort(), ['doctor_id', 'ends_at', 'facility_id', 'id', 'service_id', 'starts_at']);
    assert.equal(slot.id, `${slot.doctor_id}-${slot.service_id}-${slot.starts_at}`);
    assert.equal(slot.ends_at - slot.starts_at, 15 * 60);
    assert.ok(all.json.slots.every((s) => s.starts_at >= from));
    const female = await api.get(`${base}&gender=female`);
    assert.ok(female.json.slots.length > 0);
    assert.ok(female.json.slots.every((s) => s.doctor_id === fx.doctorId));
    const punjabi = await api.get(`${base}&language=pa`);
    assert.ok(punjabi.json.slots.every((s) => s.doctor_id === fx.doctor2Id));
    const spec = await api.get(`${base}&specialty=pediatrics&facility_id=${fx.facilityId}`);
    assert.ok(spec.json.slots.length > 0);
    const none = await api.get(`${base}&specialty=cardiology`);
    assert.equal(none.json.slots.length, 0);
  });
});

describe('appointments (happy paths)', () => {
  it('holds, confirms (join link, confirmation queued), and frees the slot from search', async () => {
    const [slot] = await freeSlots(1);
    const h = await api.post('/api/holds', { doctor_id: fx.doctorId, service_id: fx.serviceId, patient_id: fx.patientId, starts_at: slot.starts_at });
    assert.equal(h.status, 201, h.text);
    assert.equal(h.json.appointment.status, 'pending');
    assert.ok(h.json.appointment.hold_expires_at > nowS());
    assert.equal(h.json.token, undefined);
    const id = h.json.appointment.id;
    const again = await api.get(`/api/slots?from=${slot.starts_at}&to=${slot.starts_at + 1}&doctor_id=${fx.doctorId}`);
    assert.equal(again.json.slots.length, 0, 'a held slot is not offered');
    const c = await api.post(`/api/appointments/${id}/confirm`);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.appointment.status, 'booked');
    assert.equal(c.json.appointment.sequence, 0);
    assert.match(c.json.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(c.json.link, `${d.base}/join/${c.json.token}`);
    const join = await request(d, 'GET', `/api/join/${c.json.token}`);
    assert.ok([200, 403].includes(join.status), join.text); // valid, or too early
    const ob = await api.get(`/api/outbox?appointment_id=${id}`);
    assert.ok(ob.json.outbox.some((n) => n.kind === 'confirmation'), ob.text);
    assert.ok(ob.json.outbox.every((n) => n.recipient === undefined && n.body === undefined));
    fx.apptId = id;
    fx.apptToken = c.json.token;
    fx.apptSlot = slot;
  });

  it('books in one step, lists and reads appointments', async () => {
    const slots = await freeSlots(3);
    const r = await api.post('/api/appointments', { doctor_id: fx.doctorId, service_id: fx.serviceId, patient_id: fx.patientId, starts_at: slots[2].starts_at });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.appointment.status, 'booked');
    assert.equal(r.json.appointment.kind, 'booked');
    assert.equal(r.json.appointment.service_id, fx.serviceId);
    assert.equal(r.json.appointment.facility_id, fx.facilityId);
    assert.ok(r.json.token);
    fx.appt2Id = r.json.appointment.id;
    const g = await api.get(`/api/appointments/${fx.appt2Id}`);
    assert.equal(g.status, 200);
    assert.equal(g.json.appointment.patient_name, 'Sana Bibi');
    const l = await api.get(`/api/appointments?doctor_id=${fx.doctorId}&status=booked`);
    assert.ok(l.json.appointments.some((a) => a.id === fx.appt2Id));
    assert.ok(l.json.appointments.every((a) => a.status === 'booked' && a.doctor_id === fx.doctorId));
    const byPatient = await api.get(`/api/appointments?patient_id=${fx.patientId}&from=${slots[2].starts_at}&to=${slots[2].starts_at + 1}`);
    assert.deepEqual(byPatient.json.appointments.map((a) => a.id), [fx.appt2Id]);
  });

  it('reschedules: same id, new time, sequence + 1, notice queued', async () => {
    const slots = await freeSlots(6);
    const target = slots[5];
    const r = await api.post(`/api/appointments/${fx.appt2Id}/reschedule`, { starts_at: target.starts_at });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.appointment.id, fx.appt2Id);
    assert.equal(r.json.appointment.starts_at, target.starts_at);
    assert.equal(r.json.appointment.sequence, 1);
    const ob = await api.get(`/api/outbox?appointment_id=${fx.appt2Id}`);
    assert.ok(ob.json.outbox.some((n) => n.kind === 'rescheduled'), ob.text);
  });

  it('doctors check their own patients in; another doctor may not', async () => {
    const other = await fx.doc2.post(`/api/appointments/${fx.apptId}/check-in`);
    assertError(other, 403, 'forbidden');
    const r = await doc.post(`/api/appointments/${fx.apptId}/check-in`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.appointment.status, 'checked-in');
  });

  it('issues walk-in tokens that queue with booked patients', async () => {
    const p1 = await newPatient();
    const p2 = await newPatient();
    const w1 = await api.post('/api/walk-ins', { doctor_id: fx.doctor2Id, patient_id: p1, service_id: fx.serviceId });
    assert.equal(w1.status, 201, w1.text);
    assert.equal(w1.json.appointment.kind, 'walkin');
    assert.equal(w1.json.appointment.status, 'arrived');
    assert.equal(w1.json.appointment.queue_number, 1);
    assert.ok(w1.json.token);
    const w2 = await api.post('/api/walk-ins', { doctor_id: fx.doctor2Id, patient_id: p2 });
    assert.equal(w2.status, 201, w2.text);
    assert.equal(w2.json.appointment.queue_number, 2);
    const q = await api.get(`/api/queue?doctor_id=${fx.doctor2Id}`);
    assert.equal(q.status, 200, q.text);
    const ids = q.json.queue.map((a) => a.id);
    assert.ok(ids.indexOf(w1.json.appointment.id) < ids.indexOf(w2.json.appointment.id));
    assert.deepEqual(q.json.queue.map((a) => a.position), q.json.queue.map((_, i) => i + 1));
    const own = await fx.doc2.get('/api/queue');
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.json.queue.map((a) => a.id), ids);
  });

  it('cancels (tokens revoked) and offers the freed slot to the waitlist', async () => {
    const waiting = await newPatient();
    const w = await api.post('/api/waitlist', { patient_id: waiting, service_id: fx.serviceId, doctor_id: fx.doctorId });
    assert.equal(w.status, 201, w.text);
    assert.equal(w.json.waitlist_entry.status, 'waiting');
    const wl = await api.get(`/api/waitlist?service_id=${fx.serviceId}&status=waiting`);
    assert.ok(wl.json.waitlist.some((e) => e.id === w.json.waitlist_entry.id));

    const [slot] = await freeSlots(1);
    const b = await api.post('/api/appointments', { doctor_id: fx.doctorId, service_id: fx.serviceId, patient_id: fx.patientId, starts_at: slot.starts_at });
    assert.equal(b.status, 201, b.text);
    const c = await api.post(`/api/appointments/${b.json.appointment.id}/cancel`, { reason: 'patient asked' });
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.appointment.status, 'cancelled');
    assert.equal(c.json.appointment.cancel_reason, 'patient asked');
    const join = await request(d, 'GET', `/api/join/${b.json.token}`);
    assertError(join, 410, 'revoked_token');
    const after = await api.get(`/api/waitlist?service_id=${fx.serviceId}`);
    const entry = after.json.waitlist.find((e) => e.id === w.json.waitlist_entry.id);
    assert.equal(entry.status, 'offered', JSON.stringify(entry));
    assert.ok(entry.offered_appointment_id);
    const offer = await api.get(`/api/appointments/${entry.offered_appointment_id}`);
    assert.equal(offer.json.appointment.status, 'pending');
    assert.equal(offer.json.appointment.patient_id, waiting);
    assert.equal(offer.json.appointment.starts_at, slot.starts_at);

    const w2 = await api.post('/api/waitlist', { patient_id: waiting, service_id: fx.serviceId, not_before: nowS(), not_after: nowS() + DAY });
    assert.equal(w2.status, 201, w2.text);
    assert.equal((await api.del(`/api/waitlist/${w2.json.waitlist_entry.id}`)).status, 204);
    const removed = (await api.get(`/api/waitlist?service_id=${fx.serviceId}&status=removed`)).json.waitlist;
    assert.ok(removed.some((e) => e.id === w2.json.waitlist_entry.id));
  });

  it('answers a link resend the same whether or not the phone is known', async () => {
    const known = await request(d, 'POST', '/api/link-resend', { body: { phone: fx.patientPhone } });
    const unknown = await request(d, 'POST', '/api/link-resend', { body: { phone: '+92 321 0000000' } });
    assert.equal(known.status, 202, known.text);
    assert.equal(unknown.status, known.status);
    assert.equal(unknown.text, known.text);
    assert.deepEqual(Object.keys(known.json).sort(), ['message', 'status']);
    const ob = await api.get('/api/outbox?limit=5000');
    assert.ok(ob.json.outbox.some((n) => n.kind === 'link_resend'), 'the known phone got a notice');
    const bad = await request(d, 'POST', '/api/link-resend', { body: { phone: 7 } });
    assertError(bad, 400, 'wrong_type', 'phone');
  });
});

describe('who may call what', () => {
  it('401 without a session on every staff route and on FHIR', async () => {
    for (const [m, p] of [['GET', '/api/facilities'], ['POST', '/api/facilities'], ['GET', '/api/appointments'],
      ['GET', `/api/appointments/${fx.apptId}`], ['GET', `/api/appointments/${fx.apptId}/invite.ics`],
      ['POST', '/api/holds'], ['GET', '/api/queue'], ['GET', '/api/slots?from=1&to=2']]) {
      const r = await request(d, m, p, m === 'POST' ? { body: {} } : {});
      assertError(r, 401, 'not_authenticated');
    }
    const f = await request(d, 'GET', '/fhir/Location');
    assert.equal(f.status, 401);
    assert.equal(f.json.resourceType, 'OperationOutcome');
    assert.equal(f.json.issue[0].code, 'login');
  });

  it('403 for an analyst on everything, and on FHIR', async () => {
    for (const p of ['/api/facilities', '/api/appointments', `/api/appointments/${fx.apptId}`, '/api/queue',
      '/api/patients', '/api/outbox']) {
      assertError(await fx.analyst.get(p), 403, 'forbidden');
    }
    assertError(await fx.analyst.post('/api/patients', { name: 'x' }), 403, 'forbidden');
    const f = await fx.analyst.get('/fhir/Appointment');
    assert.equal(f.status, 403);
    assert.equal(f.json.issue[0].code, 'forbidden');
  });

  it('a doctor reads only their own appointments and may not manage', async () => {
    const own = await doc.get('/api/appointments');
    assert.equal(own.status, 200, own.text);
    assert.ok(own.json.appointments.length > 0);
    assert.ok(own.json.appointments.every((a) => a.doctor_id === fx.doctorId));
    assertError(await doc.get(`/api/appointments?doctor_id=${fx.doctor2Id}`), 403, 'forbidden', 'doctor_id');
    assertError(await fx.doc2.get(`/api/appointments/${fx.apptId}`), 403, 'forbidden');
    assert.equal((await doc.get(`/api/appointments/${fx.apptId}`)).status, 200);
    assertError(await doc.get(`/api/queue?doctor_id=${fx.doctor2Id}`), 403, 'forbidden', 'doctor_id');
    await unchanged(async () => {
      assertError(await doc.post('/api/facilities', { name: 'X', district: 'Y', sector: 'public' }), 403, 'forbidden');
      assertError(await doc.post(`/api/appointments/${fx.apptId}/cancel`, {}), 403, 'forbidden');
      assertError(await doc.get('/api/slots?from=1&to=2'), 403, 'forbidden');
    });
  });
});

describe('bad input: 4xx naming the field, nothing written', () => {
  it('unknown ids', async () => {
    await unchanged(async () => {
      const [slot] = await freeSlots(1);
      const body = { doctor_id: fx.doctorId, service_id: fx.serviceId, patient_id: fx.patientId, starts_at: slot.starts_at };
      assertError(await api.post('/api/appointments', { ...body, doctor_id: 999999 }), 404, 'not_found', 'doctor_id');
      assertError(await api.post('/api/appointments', { ...body, patient_id: 999999 }), 404, 'not_found', 'patient_id');
      assertError(await api.post('/api/holds', { ...body, service_id: 999999 }), 404, 'not_found', 'service_id');
      assertError(await api.post('/api/appointments', { ...body, doctor_id: 0 }), 400, 'invalid', 'doctor_id');
      assertError(await api.post('/api/appointments', { ...body, patient_id: -4 }), 400, 'invalid', 'patient_id');
      assertError(await api.post('/api/appointments/999999/cancel', {}), 404, 'not_found', 'appointment_id');
      assertError(await api.post('/api/appointments/999999/reschedule', { starts_at: slot.starts_at }), 404, 'not_found', 'appointment_id');
      assertError(await api.post('/api/appointments/999999/confirm'), 404, 'not_found', 'appointment_id');
      assertError(await api.get('/api/appointments/999999'), 404, 'not_found', 'appointment_id');
      assertError(await api.post('/api/availability', { doctor_id: 999999, service_id: fx.serviceId, weekday: 1, start_min: 0, end_min: 60 }), 404, 'not_found', 'doctor_id');
      assertError(await api.post('/api/services', { facility_id: 999999, name: 'X', specialty: 'y', duration_min: 10 }), 404, 'not_found', 'facility_id');
      assertError(await api.post('/api/doctors', { username: 'dr.none', name: 'X', password: 'password-123', facility_id: 999999, specialty: 'x' }), 404, 'not_found', 'facility_id');
      assertError(await api.post('/api/walk-ins', { doctor_id: fx.doctorId, patient_id: 999999 }), 404, 'not_found', 'patient_id');
      assertError(await api.post('/api/waitlist', { patient_id: fx.patientId, service_id: 999999 }), 404, 'not_found', 'service_id');
      assertError(await api.post('/api/exceptions', { doctor_id: 999999, starts_at: nowS() + DAY, ends_at: nowS() + 2 * DAY }), 404, 'not_found', 'doctor_id');
      assertError(await api.get('/api/facilities/999999'), 404, 'not_found', 'facility_id');
      assertError(await api.get('/api/patients/999999'), 404, 'not_found', 'patient_id');
      assertError(await api.del('/api/availability/999999'), 404, 'not_found', 'availability_id');
      assertError(await api.post(`/api/appointments/${fx.appt2Id}/reschedule`, { starts_at: nowS() - 7 * DAY }), 400, 'invalid', 'starts_at');
    });
  });

  it('times in the past, off the grid, and a taken slot', async () => {
    await unchanged(async () => {
      const past = nowS() - 3 * 3600;
      const body = { doctor_id: fx.doctorId, service_id: fx.serviceId, patient_id: fx.patientId };
      assertError(await api.post('/api/appointments', { ...body, starts_at: past }), 400, 'invalid', 'starts_at');
      assertError(await api.post('/api/holds', { ...body, starts_at: past }), 400, 'invalid', 'starts_at');
      const [slot] = await freeSlots(1);
      assertError(await api.post('/api/appointments', { ...body, starts_at: slot.starts_at + 7 }), 400, 'invalid', 'starts_at');
      assertError(await api.post('/api/appointments', { ...body, starts_at: fx.apptSlot.starts_at }), 409, 'slot_taken', 'starts_at');
      assertError(await api.post('/api/holds', { ...body, starts_at: fx.apptSlot.starts_at }), 409, 'slot_taken', 'starts_at');
      assertError(await api.post('/api/exceptions', { doctor_id: fx.doctorId, starts_at: nowS() + 2 * DAY, ends_at: nowS() + DAY }), 400, 'invalid', 'ends_at');
    });
  });

  it('overlapping availability', async () => {
    await unchanged(async () => {
      const r = await api.post('/api/availability', { doctor_id: fx.doctorId, service_id: fx.serviceId, weekday: 3, start_min: 600, end_min: 660 });
      assertError(r, 409, 'conflict', 'start_min');
      assertError(await api.post('/api/availability', { doctor_id: fx.doctorId, service_id: fx.serviceId, weekday: 8, start_min: 600, end_min: 660 }), 400, 'invalid', 'weekday');
      assertError(await api.post('/api/availability', { doctor_id: fx.doctorId, service_id: fx.serviceId, weekday: 2, start_min: 600, end_min: 500 }), 400, 'invalid', 'end_min');
      assertError(await api.post('/api/availability', { doctor_id: fx.doctorId, service_id: fx.serviceId, weekday: 2, start_min: 600, end_min: 660, valid_from: '2026-02-30' }), 400, 'invalid', 'valid_from');
    });
  });

  it('invalid time zones and other invalid values', async () => {
    await unchanged(async () => {
      for (const tz of ['Mars/Olympus_Mons', '', 'Asia/Karachi ', '+05:00x']) {
        assertError(await api.post('/api/facilities', { name: 'X', district: 'Y', sector: 'public', timezone: tz }), 400, 'invalid', 'timezone');
      }
      assertError(await api.post('/api/facilities', { name: 'X', district: 'Y', sector: 'military' }), 400, 'invalid', 'sector');
      assertError(await api.post('/api/facilities', { name: '', district: 'Y', sector: 'public' }), 400, 'invalid', 'name');
      assertError(await api.post('/api/patients', { name: 'X', phone: 'call me maybe' }), 400, 'invalid', 'phone');
      assertError(await api.post('/api/patients', { name: 'X', preferred_language: 'urdu' }), 400, 'invalid', 'preferred_language');
      assertError(await api.post('/api/doctors', { username: 'dr.x', name: 'X', password: 'password-123', facility_id: fx.facilityId, specialty: 'x', gender: 'robot' }), 400, 'invalid', 'gender');
      assertError(await api.post('/api/doctors', { username: 'dr.x', name: 'X', password: 'password-123', facility_id: fx.facilityId, specialty: 'x', languages: ['urdu'] }), 400, 'invalid', 'languages');
      assertError(await api.post('/api/doctors', { username: 'dr.ayesha', name: 'X', password: 'password-123', facility_id: fx.facilityId, specialty: 'x' }), 409, 'conflict', 'username');
      assertError(await api.post('/api/doctors', { username: 'dr.y', name: 'X', password: 'short', facility_id: fx.facilityId, specialty: 'x' }), 400, 'invalid', 'password');
      assertError(await api.post('/api/services', { facility_id: fx.facilityId, name: 'X', specialty: 'y', duration_min: 0 }), 400, 'invalid', 'duration_min');
      assertError(await api.post('/api/services', { facility_id: fx.facilityId, name: 'X', specialty: 'y', duration_min: 10, buffer_after_min: -1 }), 400, 'invalid', 'buffer_after_min');
      assertError(await api.post('/api/staff', { username: 'x1', name: 'X', password: 'password-123', role: 'superuser' }), 400, 'invalid', 'role');
      const from = nowS();
      assertError(await api.get(`/api/slots?from=${from}&to=${from + 400 * DAY}`), 400, 'invalid', 'to');
      assertError(await api.get(`/api/appointments?status=booked-ish`), 400, 'invalid', 'status');
      assertError(await api.post(`/api/appointments/${fx.appt2Id}/confirm`), 409, 'conflict', 'status');
    });
  });

  it('wrong types, unknown and missing fields, malformed JSON', async () => {
    await unchanged(async () => {
      const [slot] = await freeSlots(1);
      const body = { doctor_id: fx.doctorId, service_id: fx.serviceId, patient_id: fx.patientId, starts_at: slot.starts_at };
      const iso = new Date(slot.starts_at * 1000).toISOString();
      assertError(await api.post('/api/appointments', { ...body, starts_at: iso }), 400, 'wrong_type', 'starts_at');
      assertError(await api.post('/api/appointments', { ...body, starts_at: slot.starts_at + 0.5 }), 400, 'wrong_type', 'starts_at');
      assertError(await api.post('/api/appointments', { ...body, doctor_id: String(fx.doctorId) }), 400, 'wrong_type', 'doctor_id');
      assertError(await api.post('/api/appointments', { ...body, patient_id: null }), 400, 'wrong_type', 'patient_id');
      assertError(await api.post('/api/appointments', { ...body, service_id: true }), 400, 'wrong_type', 'service_id');
      assertError(await api.post('/api/appointments', { ...body, note: 'hi' }), 400, 'unknown_field', 'note');
      const { starts_at: _omit, ...noStart } = body;
      assertError(await api.post('/api/appointments', noStart), 400, 'missing_field', 'starts_at');
      assertError(await api.post('/api/services', { facility_id: fx.facilityId, name: 'X', specialty: 'y', duration_min: '30' }), 400, 'wrong_type', 'duration_min');
      assertError(await api.post('/api/services', { facility_id: fx.facilityId, name: 'X', specialty: 'y', duration_min: 1e12 }), 400, 'invalid', 'duration_min');
      assertError(await api.post('/api/facilities', { name: ['X'], district: 'Y', sector: 'public' }), 400, 'wrong_type', 'name');
      assertError(await api.post('/api/doctors', { username: 'dr.z', name: 'X', password: 'password-123', facility_id: fx.facilityId, specialty: 'x', languages: 'ur' }), 400, 'wrong_type', 'languages');
      assertError(await api.post('/api/doctors', { username: 'dr.z', name: 'X', password: 'password-123', facility_id: fx.facilityId, specialty: 'x', languages: ['ur', 3] }), 400, 'wrong_type', 'languages');
      assertError(await api.post('/api/availability', { doctor_id: fx.doctorId, service_id: fx.serviceId, weekday: '1', start_min: 0, end_min: 60 }), 400, 'wrong_type', 'weekday');
      assertError(await api.post('/api/appointments', '{"doctor_id": 1,'), 400, 'malformed_body');
      assertError(await api.post('/api/appointments', '[1,2,3]'), 400, 'malformed_body');
      assertError(await api.post('/api/appointments', `{"doctor_id":${fx.doctorId},"doctor_id":${fx.doctorId}}`), 400, 'malformed_body');
      assertError(await api.post('/api/appointments', '{"doctor_id": 99999999999999999999999}'), 400, 'malformed_body');
      assertError(await api.get('/api/slots?from=tomorrow&to=2'), 400, 'wrong_type', 'from');
      assertError(await api.get(`/api/slots?to=${nowS() + DAY}`), 400, 'missing_field', 'from');
      assertError(await api.get('/api/appointments?doctor=3'), 400, 'unknown_field', 'doctor');
      assertError(await api.get('/api/appointments?limit=0'), 400, 'invalid', 'limit');
    });
  });

  it('huge bodies get 413 and write nothing', async () => {
    await unchanged(async () => {
      const big = { name: 'x'.repeat(20 * 1024), district: 'Y', sector: 'public' };
      assertError(await api.post('/api/facilities', big), 413, 'body_too_large');
      const bigPatient = { name: 'P', phone: '+92 300 1111111', preferred_language: 'ur', pad: 'y'.repeat(17 * 1024) };
      assertError(await api.post('/api/patients', bigPatient), 413, 'body_too_large');
    });
  });

  it('unknown paths and wrong methods', async () => {
    assertError(await api.get('/api/nothing-here'), 404, 'not_found');
    assertError(await api.del('/api/facilities'), 405, 'method_not_allowed');
    assertError(await api.get('/api/holds'), 405, 'method_not_allowed');
    assertError(await api.put(`/api/appointments/${fx.apptId}/cancel`, {}), 405, 'method_not_allowed');
  });
});

describe('iCalendar invites', () => {
  /** Fetches an invite and checks the RFC 5545 framing: CRLF only, ≤ 75 octets a line. */
  async function invite(c, urlPath) {
    const r = await (c ? c.get(urlPath) : request(d, 'GET', urlPath));
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^text\/calendar; charset=utf-8; method=(REQUEST|CANCEL)$/);
    const text = r.text;
    assert.ok(text.endsWith('\r\n'));
    assert.ok(!/[^\r]\n/.test(text) && !/\r[^\n]/.test(text), 'CRLF line endings only');
    const physical = text.split('\r\n').slice(0, -1);
    for (const l of physical) assert.ok(Buffer.byteLength(l) <= 75, `line over 75 octets: ${l}`);
    return { text, physical, lines: icsLines(text) };
  }

  it('has a stable UID and a SEQUENCE that rises on every reschedule', async () => {
    const host = new URL(d.base).hostname;
    const a = await invite(api, `/api/appointments/${fx.appt2Id}/invite.ics`);
    assert.equal(a.lines[0], 'BEGIN:VCALENDAR');
    assert.equal(a.lines.at(-1), 'END:VCALENDAR');
    assert.equal(icsProp(a.lines, 'VERSION'), '2.0');
    assert.equal(icsProp(a.lines, 'METHOD'), 'REQUEST');
    assert.equal(icsProp(a.lines, 'UID'), `appointment-${fx.appt2Id}@${host}`);
    assert.equal(icsProp(a.lines, 'SEQUENCE'), '1'); // rescheduled once above
    assert.equal(icsProp(a.lines, 'STATUS'), 'CONFIRMED');
    assert.match(icsProp(a.lines, 'DTSTART'), /^\d{8}T\d{6}Z$/);
    assert.ok(a.physical.some((l) => l.startsWith(' ')), 'the long Urdu SUMMARY is folded');
    assert.equal(icsProp(a.lines, 'SUMMARY'), `Consultation with ${DOCTOR_NAME}`);

    const slots = await freeSlots(10);
    const r = await api.post(`/api/appointments/${fx.appt2Id}/reschedule`, { starts_at: slots[9].starts_at });
    assert.equal(r.status, 200, r.text);
    const b = await invite(api, `/api/appointments/${fx.appt2Id}/invite.ics`);
    assert.equal(icsProp(b.lines, 'UID'), icsProp(a.lines, 'UID'));
    assert.equal(icsProp(b.lines, 'SEQUENCE'), '2');
    const start = new Date(slots[9].starts_at * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    assert.equal(icsProp(b.lines, 'DTSTART'), start);
    // the doctor may download their own
    const own = await invite(doc, `/api/appointments/${fx.appt2Id}/invite.ics`);
    assert.equal(icsProp(own.lines, 'UID'), icsProp(a.lines, 'UID'));
    assertError(await fx.doc2.get(`/api/appointments/${fx.appt2Id}/invite.ics`), 403, 'forbidden');
  });

  it('gives the patient their invite by token, with the join link, and CANCEL once cancelled', async () => {
    const [slot] = await freeSlots(1);
    const b = await api.post('/api/appointments', { doctor_id: fx.doctorId, service_id: fx.serviceId, patient_id: fx.patientId, starts_at: slot.starts_at });
    assert.equal(b.status, 201, b.text);
    const p = await invite(null, `/api/join/${b.json.token}/invite.ics`);
    assert.equal(icsProp(p.lines, 'URL'), b.json.link);
    assert.equal(icsProp(p.lines, 'SEQUENCE'), '0');
    assert.equal(icsProp(p.lines, 'METHOD'), 'REQUEST');
    assert.ok(p.lines.some((l) => l.startsWith('DESCRIPTION:') && l.includes(b.json.token)));
    await api.post(`/api/appointments/${b.json.appointment.id}/cancel`, {});
    const c = await invite(null, `/api/join/${b.json.token}/invite.ics`);
    assert.equal(icsProp(c.lines, 'METHOD'), 'CANCEL');
    assert.equal(icsProp(c.lines, 'STATUS'), 'CANCELLED');
    assert.equal(icsProp(c.lines, 'UID'), icsProp(p.lines, 'UID'));
    assertError(await request(d, 'GET', `/api/join/${'A'.repeat(43)}/invite.ics`), 404, 'unknown_token');
    assertError(await request(d, 'GET', '/api/join/short/invite.ics'), 404, 'unknown_token');
  });
});

describe('FHIR R4', () => {
  const APPT_STATUS = ['proposed', 'pending', 'booked', 'arrived', 'fulfilled', 'cancelled', 'noshow',
    'entered-in-error', 'checked-in', 'waitlist'];
  const PART_STATUS = ['accepted', 'declined', 'tentative', 'needs-action'];
  const SLOT_STATUS = ['busy', 'free', 'busy-unavailable', 'busy-tentative', 'entered-in-error'];
  const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

  async function fhir(c, urlPath, status = 200) {
    const r = await c.get(urlPath);
    assert.equal(r.status, status, `${urlPath}: ${r.text}`);
    assert.match(String(r.headers['content-type']), /^application\/fhir\+json/);
    assert.ok(r.json && typeof r.json.resourceType === 'string');
    return r.json;
  }

  function checkBundle(b, type) {
    assert.equal(b.resourceType, 'Bundle');
    assert.equal(b.type, 'searchset');
    assert.equal(b.total, b.entry.length);
    assert.ok(b.link.some((l) => l.relation === 'self' && l.url.startsWith(d.base)));
    for (const e of b.entry) {
      assert.equal(e.resource.resourceType, type);
      assert.equal(e.fullUrl, `${d.base}/fhir/${type}/${e.resource.id}`);
      assert.equal(e.search.mode, 'match');
    }
    return b.entry.map((e) => e.resource);
  }

  function checkAppointment(a) {
    assert.equal(a.resourceType, 'Appointment');
    assert.match(a.id, /^[A-Za-z0-9\-.]{1,64}$/);
    assert.ok(APPT_STATUS.includes(a.status), a.status);
    assert.ok(Array.isArray(a.participant) && a.participant.length >= 1);
    for (const p of a.participant) {
      assert.ok(PART_STATUS.includes(p.status), p.status);
      assert.ok(p.actor || p.type, 'app-1: actor or type');
    }
    assert.match(a.start, INSTANT);
    assert.match(a.end, INSTANT);
    assert.ok(!a.cancelationReason || ['cancelled', 'noshow'].includes(a.status), 'app-4');
    assert.ok(!JSON.stringify(a).includes('Sana Bibi'), 'no patient name in FHIR');
  }

  function checkSlot(s) {
    assert.equal(s.resourceType, 'Slot');
    assert.match(s.schedule.reference, /^Schedule\/\d+$/);
    assert.ok(SLOT_STATUS.includes(s.status));
    assert.match(s.start, INSTANT);
    assert.match(s.end, INSTANT);
  }

  it('reads and searches Location and Practitioner', async () => {
    const loc = await fhir(api, `/fhir/Location/${fx.facilityId}`);
    assert.equal(loc.resourceType, 'Location');
    assert.equal(loc.id, String(fx.facilityId));
    assert.equal(loc.status, 'active');
    assert.equal(loc.mode, 'instance');
    assert.equal(loc.name, 'DHQ Hospital');
    const locs = checkBundle(await fhir(api, '/fhir/Location?name=night'), 'Location');
    assert.deepEqual(locs.map((l) => l.id), [String(fx.facility2Id)]);

    const pr = await fhir(api, `/fhir/Practitioner/${fx.doctorId}`);
    assert.equal(pr.resourceType, 'Practitioner');
    assert.equal(pr.gender, 'female');
    assert.ok(['male', 'female', 'other', 'unknown'].includes(pr.gender));
    assert.deepEqual(pr.communication.map((c) => c.coding[0].code), ['ur', 'en']);
    const prs = checkBundle(await fhir(api, '/fhir/Practitioner?name=bilal'), 'Practitioner');
    assert.deepEqual(prs.map((p) => p.id), [String(fx.doctor2Id)]);
    // a doctor may read the directory too
    await fhir(doc, `/fhir/Location/${fx.facilityId}`);
  });

  it('reads and searches Schedule (actor required)', async () => {
    const s = await fhir(api, `/fhir/Schedule/${fx.doctorId}`);
    assert.equal(s.resourceType, 'Schedule');
    assert.ok(s.actor.length >= 1);
    assert.equal(s.actor[0].reference, `Practitioner/${fx.doctorId}`);
    const byActor = checkBundle(await fhir(api, `/fhir/Schedule?actor=Practitioner/${fx.doctorId}`), 'Schedule');
    assert.deepEqual(byActor.map((x) => x.id), [String(fx.doctorId)]);
    const byLoc = checkBundle(await fhir(api, `/fhir/Schedule?actor=Location/${fx.facilityId}`), 'Schedule');
    assert.equal(byLoc.length, 2);
    for (const x of byLoc) assert.ok(x.actor.length >= 1);
  });

  it('searches free Slots by schedule and start, and reads one', async () => {
    const from = new Date((nowS() + 3600) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const to = new Date((nowS() + 2 * DAY) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const b = await fhir(api, `/fhir/Slot?schedule=Schedule/${fx.doctorId}&start=ge${from}&start=lt${to}&status=free&_count=20`);
    const slots = checkBundle(b, 'Slot');
    assert.ok(slots.length > 0 && slots.length <= 20);
    for (const s of slots) {
      checkSlot(s);
      assert.equal(s.schedule.reference, `Schedule/${fx.doctorId}`);
      assert.equal(s.status, 'free');
      assert.ok(s.start >= from && s.start < to);
    }
    const one = await fhir(api, `/fhir/Slot/${slots[0].id}`);
    checkSlot(one);
    assert.equal(one.id, slots[0].id);
    const busy = checkBundle(await fhir(api, `/fhir/Slot?schedule=${fx.doctorId}&status=busy`), 'Slot');
    assert.equal(busy.length, 0);
    // a taken slot is no longer a free Slot
    const taken = `${fx.doctorId}-${fx.serviceId}-${fx.apptSlot.starts_at}`;
    const oo = await fhir(api, `/fhir/Slot/${taken}`, 404);
    assert.equal(oo.resourceType, 'OperationOutcome');
  });

  it('reads and searches Appointments (date, practitioner, status, location)', async () => {
    const a = await fhir(api, `/fhir/Appointment/${fx.appt2Id}`);
    checkAppointment(a);
    assert.equal(a.id, String(fx.appt2Id));
    assert.equal(a.status, 'booked');
    assert.ok(a.participant.some((p) => p.actor.reference === `Practitioner/${fx.doctorId}`));
    assert.ok(a.participant.some((p) => p.actor.reference === `Patient/${fx.patientId}`));

    const day = new Date(Date.now() - DAY * 1000).toISOString().slice(0, 10);
    const b = await fhir(api, `/fhir/Appointment?date=ge${day}&practitioner=Practitioner/${fx.doctorId}&status=booked`);
    const list = checkBundle(b, 'Appointment');
    assert.ok(list.some((x) => x.id === String(fx.appt2Id)));
    for (const x of list) {
      checkAppointment(x);
      assert.equal(x.status, 'booked');
    }
    const byLoc = checkBundle(await fhir(api, `/fhir/Appointment?location=Location/${fx.facilityId}`), 'Appointment');
    assert.ok(byLoc.length > 0);
    const none = checkBundle(await fhir(api, `/fhir/Appointment?date=lt2000-01-01`), 'Appointment');
    assert.equal(none.length, 0);
    const walkins = checkBundle(await fhir(api, `/fhir/Appointment?practitioner=${fx.doctor2Id}`), 'Appointment');
    assert.ok(walkins.some((x) => x.appointmentType.coding[0].code === 'WALKIN'));

    // doctors: own only
    const mine = checkBundle(await fhir(doc, '/fhir/Appointment'), 'Appointment');
    assert.ok(mine.length > 0);
    assert.ok(mine.every((x) => x.participant.some((p) => p.actor.reference === `Practitioner/${fx.doctorId}`)));
    assert.equal((await fhir(fx.doc2, `/fhir/Appointment/${fx.appt2Id}`, 403)).resourceType, 'OperationOutcome');
  });

  it('answers errors as OperationOutcome', async () => {
    const nf = await fhir(api, '/fhir/Appointment/999999', 404);
    assert.equal(nf.resourceType, 'OperationOutcome');
    assert.equal(nf.issue[0].severity, 'error');
    assert.equal(nf.issue[0].code, 'not-found');
    const bad = await fhir(api, '/fhir/Appointment?date=yesterday', 400);
    assert.equal(bad.issue[0].code, 'invalid');
    assert.deepEqual(bad.issue[0].expression, ['date']);
    const badRef = await fhir(api, '/fhir/Slot?schedule=Practitioner/1', 400);
    assert.deepEqual(badRef.issue[0].expression, ['schedule']);
    const badCount = await fhir(api, '/fhir/Location?_count=0', 400);
    assert.deepEqual(badCount.issue[0].expression, ['_count']);
    const unknownType = await fhir(api, '/fhir/Patient/1', 404);
    assert.equal(unknownType.resourceType, 'OperationOutcome');
    const post = await api.post('/fhir/Appointment', {});
    assert.equal(post.status, 405);
    assert.equal(post.json.resourceType, 'OperationOutcome');
    const meta = await fhir(api, '/fhir/metadata');
    assert.equal(meta.resourceType, 'CapabilityStatement');
    assert.equal(meta.fhirVersion, '4.0.1');
    assert.deepEqual(meta.rest[0].resource.map((r) => r.type).sort(), ['Appointment', 'Location', 'Practitioner', 'Schedule', 'Slot']);
  });
});
