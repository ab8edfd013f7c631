// The clinic admin's pages, at /admin: facilities (with their services and holidays), doctors
// (account, profile, weekly hours, breaks, leave), patients, bookings (free times, hold then
// confirm, the join link and its SMS, move, cancel, check in), walk-ins, the day's queue and
// the waitlist. Everything goes through the staff JSON API (docs/api.md) with the admin's
// session; the page keeps only the lists it shows. A signed-in account that is not an admin
// gets a refusal view (the API would refuse it anyway).
//
// Every refusal of the API ({"error","message","field"}) is said in plain words next to the
// field it names (aria-invalid, aria-describedby, focus), or at the top of its form when the
// field is not one of the form's. Times are shown, and typed, in the facility's own time zone.

import { api } from './api.js';
import { resumeSession, wireSignIn } from './signin.js';
import { $, setView, setNotice, roleLabel } from './ui.js';

const mw = (window.__mw = { state: 'loading' });

let staff = null;
const data = { facilities: [], services: [], doctors: [] };
let chosenPatient = null;   // {id, name, phone, …} for bookings, walk-ins and the waitlist
let currentDoctor = null;   // the doctor shown in detail
let currentHold = null;     // the held appointment awaiting confirmation
let currentAppt = null;     // the appointment open in the appointment panel
const patientNames = new Map(); // patient id → name, from lists already read

const TABS = { facilities: 'Facilities', doctors: 'Doctors', patients: 'Patients', bookings: 'Bookings', 'walk-ins': 'Walk-ins and waitlist' };
const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const DEFAULT_ZONE = 'Asia/Karachi';
const STATUS = {
  proposed: 'Proposed', pending: 'Held', booked: 'Booked', arrived: 'Waiting online',
  'checked-in': 'Checked in', fulfilled: 'Done', cancelled: 'Cancelled', noshow: 'No-show',
  waitlist: 'On the waitlist', 'entered-in-error': 'Entered in error',
};
const NOTICE_KIND = {
  confirmation: 'Booking SMS', rescheduled: 'New time SMS', cancellation: 'Cancellation SMS',
  reminder_day: 'Reminder a day before', reminder_15min: 'Reminder 15 min before',
  you_are_next: '“You are next” SMS', link_resend: 'Link sent again', waitlist_offer: 'Waitlist offer SMS',
};

// --- Small DOM helpers -------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c != null) e.append(c);
  return e;
}

/** A table row whose cells carry their column's name (the phone layout shows it before each). */
function row(table, cells, attrs = {}) {
  const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  return el('tr', attrs, cells.map((c, i) => el('td', { 'data-label': heads[i] || null },
    c instanceof Node ? c : document.createTextNode(c ?? ''))));
}

function fillTable(table, emptyEl, rows) {
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  if (emptyEl) emptyEl.hidden = rows.length > 0;
}

const facilityById = (id) => data.facilities.find((f) => f.id === id);
const serviceById = (id) => data.services.find((s) => s.id === id);
const doctorById = (id) => data.doctors.find((d) => d.id === id);
const zoneOfFacility = (id) => facilityById(id)?.timezone || DEFAULT_ZONE;
const zoneOfDoctor = (id) => zoneOfFacility(doctorById(id)?.facility_id);
const defaultZone = () => data.facilities[0]?.timezone || DEFAULT_ZONE;

// --- Time in a facility's zone -----------------------------------------------------------------

function zoneParts(unix, tz) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(unix * 1000))) parts[p.type] = p.value;
  return parts;
}

/** Seconds the zone is ahead of UTC at that instant. */
function zoneOffset(unix, tz) {
  const p = zoneParts(unix, tz);
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) / 1000 - unix;
}

/** Unix seconds of a local date ("YYYY-MM-DD") plus minutes after its midnight, in zone tz. */
function zonedUnix(date, minutes, tz) {
  const [y, m, d] = date.split('-').map(Number);
  const wall = Date.UTC(y, m - 1, d) / 1000 + minutes * 60;
  let t = wall - zoneOffset(wall, tz);
  t = wall - zoneOffset(t, tz); // once more, in case a DST change lies between
  return t;
}

/** "YYYY-MM-DD" of today (+ days) in zone tz. */
function zoneDate(tz, plusDays = 0, unix = Date.now() / 1000) {
  const p = zoneParts(unix, tz);
  const d = new Date(Date.UTC(+p.year, +p.month - 1, +p.day + plusDays));
  return d.toISOString().slice(0, 10);
}

/** "YYYY-MM-DDTHH:MM" (a datetime-local value) → unix seconds in zone tz. */
function localInputUnix(value, tz) {
  const [date, time] = value.split('T');
  const [h, mi] = (time || '00:00').split(':').map(Number);
  return zonedUnix(date, h * 60 + mi, tz);
}

function zoneTime(unix, tz, { date = true, zone = false } = {}) {
  if (unix == null) return '';
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: tz, hourCycle: 'h23', hour: '2-digit', minute: '2-digit',
    ...(date ? { weekday: 'short', day: 'numeric', month: 'short' } : {}),
    ...(zone ? { timeZoneName: 'short' } : {}),
  }).format(new Date(unix * 1000));
}

/** "Sat 19 Dec 2026": the day (in zone tz) of an instant; an end of day is given as its last second. */
const dayLabel = (unix, tz) => new Intl.DateTimeFormat('en-GB', { timeZone: tz, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' })
  .format(new Date(unix * 1000));

const hm = (min) => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;
const minutesOf = (value) => {
  const [h, m] = value.split(':').map(Number);
  return h * 60 + m;
};

// --- Refusals in plain words -------------------------------------------------------------------

const FIELD_ALIAS = { display_name: 'name', query: 'q', language: 'preferred_language', day_at: 'at' };
const NOUN = {
  facility_id: 'This facility', doctor_id: 'This doctor', service_id: 'This service',
  patient_id: 'This patient', appointment_id: 'This appointment', waitlist_id: 'This waitlist entry',
};
const INVALID = {
  name: 'Enter a name (up to 200 characters).',
  district: 'Enter the district.',
  sector: 'Choose public, private or NGO.',
  timezone: 'The server does not know this time zone. Use a name like Asia/Karachi.',
  specialty: 'Enter the specialty, e.g. General medicine.',
  languages: 'Write languages as two-letter codes separated by commas, e.g. ur, en.',
  gender: 'Choose female, male or other, or leave it not given.',
  phone: 'This is not a phone number. Write the mobile number with its country code, e.g. +92 300 1234567.',
  preferred_language: 'Choose a language.',
  duration_min: 'The length must be 1 to 480 minutes.',
  buffer_before_min: 'A buffer is 0 to 240 minutes.',
  buffer_after_min: 'A buffer is 0 to 240 minutes.',
  max_per_day: 'Write 0 for no limit, or the most appointments a doctor takes in a day.',
  weekday: 'Choose a day of the week.',
  start_min: 'Choose a start time.',
  end_min: 'The end must be after the start.',
  valid_from: 'Choose a valid first day.',
  valid_until: 'The last day must not be before the first day.',
  starts_at: 'This time cannot be booked: it is in the past, off the doctor’s time grid, outside their hours, in a break or leave, or their day is full.',
  ends_at: 'The end must be after the start.',
  reason: 'The reason is too long (at most 200 characters).',
  password: 'The password needs at least 8 characters.',
  username: 'Choose a username.',
  role: 'Choose a role.',
  from: 'Choose a first day.',
  to: 'The last day must be after the first day, and at most 366 days later.',
  not_before: 'Choose a valid day.',
  not_after: 'The last day must be after the first day.',
  q: 'The search text is too long.',
};

function plainError(d, status, label) {
  const field = FIELD_ALIAS[d.field] || d.field;
  const what = label ? `“${label}”` : 'this';
  switch (d.error) {
    case 'missing_field': return `Please fill in ${what}.`;
    case 'wrong_type': return `${label ? `“${label}”` : 'A value'} has the wrong form: ${d.message || 'check it'}.`;
    case 'invalid': return INVALID[field] || `${label ? `“${label}”: ` : ''}${d.message || 'this value is not accepted'}.`;
    case 'not_found': return `${NOUN[field] || 'This record'} no longer exists. Reload the page.`;
    case 'slot_taken': return 'Someone else took this time a moment ago. Choose another free time.';
    case 'hold_expired': return 'The hold ran out before it was confirmed. Find a free time again.';
    case 'conflict':
      if (field === 'start_min') return 'These hours overlap other weekly hours of this doctor on that day. Change the times, or delete the other hours first.';
      if (field === 'username') return 'This username is taken: choose another.';
      if (field === 'starts_at') return 'The doctor’s day is full for this service. Choose another day.';
      if (field === 'status') return `This cannot be done now: ${d.message || 'the appointment’s status does not allow it'}.`;
      return d.message || 'This clashes with something already saved.';
    case 'forbidden': return 'Your account may not do this.';
    case 'csrf': return 'Your session is out of date. Reload the page and try again.';
    case 'too_many_requests': return 'Too many requests: wait a moment and try again.';
    case 'body_too_large': return 'This is too long.';
    default:
      if (status >= 500) return 'The server could not do this. Try again; if it happens again, tell the technical team.';
      return d.message || `The server refused this (${status}).`;
  }
}

function labelOf(input) {
  const l = input.id && document.querySelector(`label[for="${CSS.escape(input.id)}"]`);
  return l ? l.textContent.replace(/\s+/g, ' ').trim() : input.name;
}

function clearErrors(form) {
  for (const e of form.querySelectorAll('.field-error')) e.remove();
  for (const i of form.querySelectorAll('[aria-invalid="true"]')) {
    i.removeAttribute('aria-invalid');
    if (i.dataset.describedby !== undefined) {
      if (i.dataset.describedby) i.setAttribute('aria-describedby', i.dataset.describedby);
      else i.removeAttribute('aria-describedby');
    }
  }
  const fe = form.querySelector(':scope > .form-error, .form-error');
  if (fe) { fe.hidden = true; fe.textContent = ''; delete fe.dataset.code; }
}

/** Says `text` next to `input` and moves the focus there. */
function fieldError(input, text, code = 'invalid') {
  const id = `${input.id}-error`;
  document.getElementById(id)?.remove();
  const msg = el('span', { id, class: 'field-error', 'data-code': code, 'data-field': input.name, text });
  const anchor = input.parentElement.querySelector('.hint') || input;
  anchor.after(msg);
  if (input.dataset.describedby === undefined) input.dataset.describedby = input.getAttribute('aria-describedby') || '';
  input.setAttribute('aria-describedby', `${input.dataset.describedby} ${id}`.trim());
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

/** Says `text` at the top of a form or panel (its .form-error) and focuses it. */
function formError(box, text, code = 'error') {
  const fe = box.querySelector('.form-error');
  fe.textContent = text;
  fe.dataset.code = code;
  fe.hidden = false;
  fe.tabIndex = -1;
  fe.focus();
}

/** Shows an API refusal in `box` (a form or a panel): next to its field when the box has it. */
function refuse(box, r) {
  if (r.status === 401) return showLogin('Your session has ended. Please sign in again.');
  const d = r.data || {};
  const field = FIELD_ALIAS[d.field] || d.field;
  const input = field ? box.querySelector(`[name="${CSS.escape(field)}"]`) : null;
  const text = plainError(d, r.status, input ? labelOf(input) : null);
  if (input) fieldError(input, text, d.error);
  else formError(box, text, d.error || `http_${r.status}`);
  return null;
}

/** Runs handler(form) on submit with the errors cleared and the button busy. */
function onSubmit(form, handler) {
  form.addEventListener('input', (ev) => {
    const input = ev.target;
    if (input.getAttribute?.('aria-invalid') !== 'true') return;
    document.getElementById(`${input.id}-error`)?.remove();
    input.removeAttribute('aria-invalid');
    if (input.dataset.describedby) input.setAttribute('aria-describedby', input.dataset.describedby);
    else input.removeAttribute('aria-describedby');
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const btn = form.querySelector('button[type="submit"]');
    if (btn) btn.disabled = true;
    try {
      await handler(form);
    } catch (e) {
      console.warn('admin:', e);
      formError(form, 'Cannot reach the server. Check the connection and try again.', 'network');
    } finally {
      if (btn) btn.disabled = false;
    }
  });
}

/** Calls the API for a button outside a form (errors go to box). */
async function act(box, btn, fn) {
  const fe = box.querySelector('.form-error');
  if (fe) fe.hidden = true;
  if (btn) btn.disabled = true;
  try {
    return await fn();
  } catch (e) {
    console.warn('admin:', e);
    formError(box, 'Cannot reach the server. Check the connection and try again.', 'network');
    return null;
  } finally {
    if (btn) btn.disabled = false;
  }
}

const val = (form, name) => form.elements[name].value.trim();
const intOrNull = (v) => (v === '' ? null : Number.isInteger(Number(v)) ? Number(v) : v);
/** A body without the members left empty (the API then applies its defaults or says "missing"). */
function compact(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined && v !== '') out[k] = v;
  return out;
}

// --- Sign in, refusal, tabs --------------------------------------------------------------------

function showLogin(message) {
  staff = null;
  $('#who').textContent = '';
  $('#btn-logout').hidden = true;
  $('#tabs').hidden = true;
  const err = $('#login-error');
  err.hidden = !message;
  err.textContent = message || '';
  setView('login', 'Please sign in');
  mw.state = 'login';
  $('#username').focus();
  return null;
}

async function signedIn(s) {
  staff = s;
  mw.staff = s;
  $('#who').textContent = `${s.name} (${roleLabel(s.role)})`;
  $('#btn-logout').hidden = false;
  if (s.role !== 'admin') {
    $('#tabs').hidden = true;
    $('#refused-text').textContent = `You are signed in as ${s.name}, ${/^[aeiou]/i.test(roleLabel(s.role)) ? 'an' : 'a'} ${roleLabel(s.role).toLowerCase()} account. Only a clinic admin can manage facilities, doctors and bookings.`;
    $('#refused-console').hidden = s.role !== 'doctor';
    setView('refused', 'Not an admin account');
    mw.state = 'refused';
    return;
  }
  $('#tabs').hidden = false;
  await loadReference();
  showTab();
}

async function logout() {
  await api('POST', '/api/logout').catch(() => {});
  setNotice('');
  showLogin();
}

function showTab() {
  if (!staff || staff.role !== 'admin') return;
  const name = location.hash.slice(1) in TABS ? location.hash.slice(1) : 'facilities';
  for (const a of document.querySelectorAll('#tabs a')) {
    if (a.dataset.tab === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  setView(name, TABS[name]);
  mw.state = name;
  document.title = `${TABS[name]} – Clinic admin – Mashwara`;
  if (name === 'bookings') loadAppointments();
  if (name === 'walk-ins') loadWaitlist();
}

// --- Reference lists: facilities, services, doctors --------------------------------------------

async function loadReference() {
  const [f, s, d] = await Promise.all([
    api('GET', '/api/facilities'), api('GET', '/api/services'), api('GET', '/api/doctors'),
  ]);
  if ([f, s, d].some((r) => r.status === 401)) return showLogin('Your session has ended. Please sign in again.');
  data.facilities = f.data.facilities || [];
  data.services = s.data.services || [];
  data.doctors = d.data.doctors || [];
  renderFacilities();
  renderServices();
  renderDoctors();
  fillSelects();
  loadHolidays();
  return true;
}

function options(select, items, label, { any = false, none = 'None yet' } = {}) {
  const keep = select.value;
  const opts = items.map((x) => el('option', { value: x.id, text: label(x) }));
  if (any) opts.unshift(el('option', { value: '', text: 'Any' }));
  if (!opts.length) opts.push(el('option', { value: '', text: none }));
  select.replaceChildren(...opts);
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function fillSelects() {
  for (const s of document.querySelectorAll('select.facility-select')) {
    options(s, data.facilities, (f) => `${f.name}, ${f.district}`, { any: s.classList.contains('any'), none: 'No facility yet' });
  }
  for (const s of document.querySelectorAll('select.doctor-select')) {
    options(s, data.doctors, (d) => `${d.name} (${d.specialty})`, { any: s.classList.contains('any'), none: 'No doctor yet' });
  }
  for (const s of document.querySelectorAll('select.service-select')) {
    options(s, data.services, (x) => `${x.name} (${facilityById(x.facility_id)?.name || ''})`, { any: s.classList.contains('any'), none: 'No service yet' });
  }
  for (const s of document.querySelectorAll('select.weekday-select')) {
    if (!s.options.length) s.replaceChildren(...WEEKDAYS.map((w, i) => el('option', { value: i + 1, text: w })));
  }
  const specialties = new Set([...data.services.map((x) => x.specialty), ...data.doctors.map((x) => x.specialty)]);
  $('#specialties').replaceChildren(...[...specialties].sort().map((x) => el('option', { value: x })));
}

function renderFacilities() {
  const t = $('#facilities-table');
  fillTable(t, $('#facilities-empty'), data.facilities.map((f) =>
    row(t, [f.name, f.district, { public: 'Public', private: 'Private', ngo: 'NGO' }[f.sector] || f.sector, f.timezone],
      { 'data-facility': f.id })));
}

function renderServices() {
  const t = $('#services-table');
  fillTable(t, $('#services-empty'), data.services.map((s) => row(t, [
    s.name, facilityById(s.facility_id)?.name || '', s.specialty, `${s.duration_min} min`,
    s.buffer_before_min || s.buffer_after_min ? `${s.buffer_before_min} min before, ${s.buffer_after_min} min after` : 'none',
    s.max_per_day ? String(s.max_per_day) : 'no limit',
  ], { 'data-service': s.id })));
}

function renderDoctors() {
  const t = $('#doctors-table');
  fillTable(t, $('#doctors-empty'), data.doctors.map((d) => row(t, [
    d.name, facilityById(d.facility_id)?.name || '', d.specialty, (d.languages || []).join(', '),
    d.gender ? d.gender[0].toUpperCase() + d.gender.slice(1) : '—',
    el('button', { type: 'button', 'aria-label': `Details of ${d.name}`, onclick: () => showDoctor(d.id), text: 'Details' }),
  ], { 'data-doctor': d.id })));
}

async function loadHolidays() {
  const r = await api('GET', '/api/exceptions');
  if (!r.ok) return;
  const list = (r.data.exceptions || []).filter((x) => x.facility_id != null);
  const t = $('#holidays-table');
  fillTable(t, $('#holidays-empty'), list.map((x) => {
    const tz = zoneOfFacility(x.facility_id);
    return row(t, [facilityById(x.facility_id)?.name || '', zoneTime(x.starts_at, tz), zoneTime(x.ends_at, tz), x.reason || '',
      el('button', { type: 'button', 'aria-label': `Delete the holiday from ${zoneTime(x.starts_at, tz)}`, text: 'Delete',
        onclick: (e) => removeItem(e.currentTarget, `/api/exceptions/${x.id}`, 'Holiday deleted.', loadHolidays) })]);
  }));
}

async function removeItem(btn, path, done, reload) {
  btn.disabled = true;
  try {
    const r = await api('DELETE', path);
    if (r.status === 401) return showLogin('Your session has ended. Please sign in again.');
    if (!r.ok) return setNotice(plainError(r.data, r.status), 'warn');
    setNotice(done);
    await reload();
  } catch {
    setNotice('Cannot reach the server. Check the connection and try again.', 'warn');
  } finally {
    btn.disabled = false;
  }
}

onSubmit($('#form-facility'), async (form) => {
  const r = await api('POST', '/api/facilities', compact({
    name: val(form, 'name'), district: val(form, 'district'), sector: val(form, 'sector'), timezone: val(form, 'timezone'),
  }));
  if (!r.ok) return refuse(form, r);
  form.elements.name.value = '';
  form.elements.district.value = '';
  setNotice(`Facility “${r.data.facility.name}” added.`);
  await loadReference();
});

onSubmit($('#form-service'), async (form) => {
  const r = await api('POST', '/api/services', compact({
    facility_id: intOrNull(val(form, 'facility_id')), name: val(form, 'name'), specialty: val(form, 'specialty'),
    duration_min: intOrNull(val(form, 'duration_min')), buffer_before_min: intOrNull(val(form, 'buffer_before_min')),
    buffer_after_min: intOrNull(val(form, 'buffer_after_min')), max_per_day: intOrNull(val(form, 'max_per_day')),
  }));
  if (!r.ok) return refuse(form, r);
  form.elements.name.value = '';
  setNotice(`Service “${r.data.service.name}” added.`);
  await loadReference();
});

onSubmit($('#form-holiday'), async (form) => {
  const facilityId = intOrNull(val(form, 'facility_id'));
  const tz = zoneOfFacility(facilityId);
  const r = await api('POST', '/api/exceptions', compact({
    facility_id: facilityId,
    starts_at: val(form, 'starts_at') && localInputUnix(val(form, 'starts_at'), tz),
    ends_at: val(form, 'ends_at') && localInputUnix(val(form, 'ends_at'), tz),
    reason: val(form, 'reason'),
  }));
  if (!r.ok) return refuse(form, r);
  setNotice('Holiday added. Appointments already booked in it stay: move or cancel them under Bookings.');
  await loadHolidays();
});

// --- Doctors -----------------------------------------------------------------------------------

const languageList = (text) => text.split(/[\s,]+/).filter(Boolean).map((x) => x.toLowerCase());

onSubmit($('#form-doctor'), async (form) => {
  const languages = languageList(val(form, 'languages'));
  const r = await api('POST', '/api/doctors', compact({
    username: val(form, 'username'), name: val(form, 'name'), password: form.elements.password.value,
    facility_id: intOrNull(val(form, 'facility_id')), specialty: val(form, 'specialty'),
    languages, gender: val(form, 'gender'),
  }));
  if (!r.ok) return refuse(form, r);
  for (const n of ['username', 'name', 'password']) form.elements[n].value = '';
  setNotice(`Doctor ${r.data.doctor.name} added. Now give them weekly hours.`);
  await loadReference();
  await showDoctor(r.data.doctor.id);
});

async function showDoctor(id) {
  const panel = $('#doctor-detail');
  const [d, av, br, ex] = await Promise.all([
    api('GET', `/api/doctors/${id}`), api('GET', `/api/availability?doctor_id=${id}`),
    api('GET', `/api/breaks?doctor_id=${id}`), api('GET', `/api/exceptions?doctor_id=${id}`),
  ]);
  if (d.status === 401) return showLogin('Your session has ended. Please sign in again.');
  if (!d.ok) return setNotice(plainError(d.data, d.status), 'warn');
  const doc = d.data.doctor;
  const focus = currentDoctor?.id !== doc.id;
  currentDoctor = doc;
  const fac = facilityById(doc.facility_id);
  const tz = fac?.timezone || DEFAULT_ZONE;
  panel.dataset.doctor = String(doc.id);
  $('#doctor-detail-heading').textContent = doc.name;
  const facts = [['Username', doc.username], ['Facility', fac ? `${fac.name}, ${fac.district}` : ''], ['Specialty', doc.specialty],
    ['Languages', (doc.languages || []).join(', ') || '—'], ['Gender', doc.gender || 'not given'], ['Time zone', tz]];
  $('#doctor-profile').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
  $('#avail-zone').textContent = `Times are local to ${fac ? fac.name : 'the facility'} (${tz}).`;

  const services = data.services.filter((s) => s.facility_id === doc.facility_id);
  options($('#av-service'), services, (s) => `${s.name} (${s.duration_min} min)`, { none: 'No service at this facility: add one under Facilities' });

  const at = $('#avail-table');
  const avail = (av.data.availability || []).slice().sort((a, b) => a.weekday - b.weekday || a.start_min - b.start_min);
  fillTable(at, $('#avail-empty'), avail.map((a) => row(at, [
    WEEKDAYS[a.weekday - 1], hm(a.start_min), hm(a.end_min), serviceById(a.service_id)?.name || '',
    a.valid_from || a.valid_until ? `${a.valid_from || '…'} to ${a.valid_until || '…'}` : 'every week',
    el('button', { type: 'button', text: 'Delete', 'aria-label': `Delete ${WEEKDAYS[a.weekday - 1]} ${hm(a.start_min)}–${hm(a.end_min)}`,
      onclick: (e) => removeItem(e.currentTarget, `/api/availability/${a.id}`, 'Weekly hours deleted. Appointments already booked stay.', () => showDoctor(doc.id)) }),
  ], { 'data-availability': a.id })));

  const bt = $('#breaks-table');
  const breaks = (br.data.breaks || []).slice().sort((a, b) => a.weekday - b.weekday || a.start_min - b.start_min);
  fillTable(bt, $('#breaks-empty'), breaks.map((b) => row(bt, [
    WEEKDAYS[b.weekday - 1], hm(b.start_min), hm(b.end_min),
    el('button', { type: 'button', text: 'Delete', 'aria-label': `Delete the break ${WEEKDAYS[b.weekday - 1]} ${hm(b.start_min)}`,
      onclick: (e) => removeItem(e.currentTarget, `/api/breaks/${b.id}`, 'Break deleted.', () => showDoctor(doc.id)) }),
  ], { 'data-break': b.id })));

  const lt = $('#leave-table');
  fillTable(lt, $('#leave-empty'), (ex.data.exceptions || []).map((x) => row(lt, [
    zoneTime(x.starts_at, tz), zoneTime(x.ends_at, tz), x.reason || '',
    el('button', { type: 'button', text: 'Delete', 'aria-label': `Delete the leave from ${zoneTime(x.starts_at, tz)}`,
      onclick: (e) => removeItem(e.currentTarget, `/api/exceptions/${x.id}`, 'Leave deleted.', () => showDoctor(doc.id)) }),
  ], { 'data-exception': x.id })));

  if (focus) hideProfileForm();
  panel.hidden = false;
  if (focus) panel.focus();
  return doc;
}

function hideProfileForm() {
  $('#form-profile').hidden = true;
  $('#btn-edit-profile').setAttribute('aria-expanded', 'false');
}

$('#btn-edit-profile').addEventListener('click', () => {
  const form = $('#form-profile');
  const doc = currentDoctor;
  if (!doc) return;
  clearErrors(form);
  form.elements.facility_id.value = String(doc.facility_id);
  form.elements.specialty.value = doc.specialty;
  form.elements.languages.value = (doc.languages || []).join(', ');
  form.elements.gender.value = doc.gender || '';
  form.hidden = false;
  $('#btn-edit-profile').setAttribute('aria-expanded', 'true');
  form.elements.facility_id.focus();
});
$('#btn-profile-back').addEventListener('click', () => {
  hideProfileForm();
  $('#btn-edit-profile').focus();
});

onSubmit($('#form-profile'), async (form) => {
  const r = await api('PUT', `/api/doctors/${currentDoctor.id}/profile`, compact({
    facility_id: intOrNull(val(form, 'facility_id')), specialty: val(form, 'specialty'),
    languages: languageList(val(form, 'languages')), gender: val(form, 'gender'),
  }));
  if (!r.ok) return refuse(form, r);
  await loadReference();
  await showDoctor(currentDoctor.id);
  hideProfileForm();
  setNotice(`The profile of ${r.data.doctor.name} is saved.`);
  $('#btn-edit-profile').focus();
});

function doctorForm(form, body) {
  return { doctor_id: currentDoctor?.id, ...body };
}

onSubmit($('#form-availability'), async (form) => {
  const body = doctorForm(form, compact({
    service_id: intOrNull(val(form, 'service_id')), weekday: intOrNull(val(form, 'weekday')),
    start_min: val(form, 'start_min') && minutesOf(val(form, 'start_min')),
    end_min: val(form, 'end_min') && minutesOf(val(form, 'end_min')),
    valid_from: val(form, 'valid_from'), valid_until: val(form, 'valid_until'),
  }));
  const r = await api('POST', '/api/availability', body);
  if (!r.ok) return refuse(form, r);
  setNotice(`${WEEKDAYS[r.data.availability.weekday - 1]} ${hm(r.data.availability.start_min)}–${hm(r.data.availability.end_min)} added.`);
  await showDoctor(currentDoctor.id);
});

onSubmit($('#form-break'), async (form) => {
  const body = doctorForm(form, compact({
    weekday: intOrNull(val(form, 'weekday')),
    start_min: val(form, 'start_min') && minutesOf(val(form, 'start_min')),
    end_min: val(form, 'end_min') && minutesOf(val(form, 'end_min')),
  }));
  const r = await api('POST', '/api/breaks', body);
  if (!r.ok) return refuse(form, r);
  setNotice('Break added.');
  await showDoctor(currentDoctor.id);
});

onSubmit($('#form-leave'), async (form) => {
  const tz = zoneOfFacility(currentDoctor.facility_id);
  const body = doctorForm(form, compact({
    starts_at: val(form, 'starts_at') && localInputUnix(val(form, 'starts_at'), tz),
    ends_at: val(form, 'ends_at') && localInputUnix(val(form, 'ends_at'), tz),
    reason: val(form, 'reason'),
  }));
  const r = await api('POST', '/api/exceptions', body);
  if (!r.ok) return refuse(form, r);
  setNotice('Leave added. Appointments already booked in it stay: move or cancel them under Bookings.');
  await showDoctor(currentDoctor.id);
});

// --- Patients ----------------------------------------------------------------------------------

function choosePatient(p) {
  chosenPatient = p;
  mw.chosenPatient = p.id;
  patientNames.set(p.id, p.name);
  for (const c of document.querySelectorAll('[data-chosen-patient]')) {
    c.replaceChildren(el('strong', { text: p.name }), ` · ${p.phone || 'no phone'} · ${p.preferred_language === 'en' ? 'English' : p.preferred_language === 'ur' ? 'Urdu' : p.preferred_language || ''}`);
    c.dataset.patient = String(p.id);
  }
}

async function searchPatients(form, q) {
  const r = await api('GET', `/api/patients?${new URLSearchParams(compact({ q, limit: 50 }))}`);
  if (!r.ok) return refuse(form, r);
  const list = r.data.patients || [];
  for (const p of list) patientNames.set(p.id, p.name);
  return list;
}

onSubmit($('#form-patient-search'), async (form) => {
  const list = await searchPatients(form, val(form, 'q'));
  if (!list) return;
  const t = $('#patients-table');
  fillTable(t, $('#patients-empty'), list.map((p) => row(t, [p.name, p.phone || '', p.preferred_language || '',
    el('span', { class: 'cell-actions' },
      el('button', { type: 'button', text: 'Book', 'aria-label': `Book for ${p.name}`, onclick: () => { choosePatient(p); location.hash = '#bookings'; } }),
      el('button', { type: 'button', text: 'Walk-in', 'aria-label': `Walk-in or waitlist for ${p.name}`, onclick: () => { choosePatient(p); location.hash = '#walk-ins'; } })),
  ], { 'data-patient': p.id })));
});

onSubmit($('#form-patient'), async (form) => {
  const r = await api('POST', '/api/patients', compact({
    name: val(form, 'name'), phone: val(form, 'phone'), preferred_language: val(form, 'preferred_language'),
  }));
  if (!r.ok) return refuse(form, r);
  const p = r.data.patient;
  form.elements.name.value = '';
  form.elements.phone.value = '';
  choosePatient(p);
  $('#pat-q').value = p.name;
  $('#form-patient-search').requestSubmit();
  setNotice(`Patient ${p.name} added and chosen for booking.`);
});

for (const form of document.querySelectorAll('form.patient-picker')) {
  onSubmit(form, async () => {
    const list = await searchPatients(form, val(form, 'q'));
    if (!list) return;
    const ul = form.querySelector('.pick-list');
    ul.replaceChildren(...list.slice(0, 10).map((p) => el('li', {},
      el('button', { type: 'button', class: 'pick', 'data-patient': p.id, 'aria-label': `Choose ${p.name}`,
        onclick: () => { choosePatient(p); ul.replaceChildren(); form.elements.q.value = ''; setNotice(`${p.name} chosen.`); } },
      el('strong', { text: p.name }), ` ${p.phone || ''}`))));
    if (!list.length) ul.replaceChildren(el('li', { class: 'small', text: 'No patient found.' }));
  });
}

// --- Bookings: free times, hold, confirm -------------------------------------------------------

function slotLabel(s) {
  const tz = zoneOfFacility(s.facility_id);
  return `${zoneTime(s.starts_at, tz)}–${zoneTime(s.ends_at, tz, { date: false })}`;
}

onSubmit($('#form-slots'), async (form) => {
  const facilityId = intOrNull(val(form, 'facility_id'));
  const doctorId = intOrNull(val(form, 'doctor_id'));
  const tz = facilityId ? zoneOfFacility(facilityId) : doctorId ? zoneOfDoctor(doctorId) : defaultZone();
  if (!val(form, 'from')) return fieldError(form.elements.from, 'Please fill in “From day”.', 'missing_field');
  if (!val(form, 'to')) return fieldError(form.elements.to, 'Please fill in “To day”.', 'missing_field');
  const from = zonedUnix(val(form, 'from'), 0, tz);
  const to = zonedUnix(val(form, 'to'), 1440, tz);
  const q = compact({ from, to, facility_id: facilityId, doctor_id: doctorId, specialty: val(form, 'specialty'), limit: 40 });
  const r = await api('GET', `/api/slots?${new URLSearchParams(q)}`);
  if (!r.ok) return refuse(form, r);
  renderSlots($('#slots'), r.data.slots || [], 'Book', bookSlot);
  const n = (r.data.slots || []).length;
  $('#slots-summary').textContent = n ? `${n === 40 ? 'The first 40' : n} free time${n === 1 ? '' : 's'}, in each facility’s time.` : 'No free time in these days. Try other days or another doctor.';
});

/** Free times grouped by day, doctor and service: one line of time buttons per group. */
function renderSlots(ul, slots, verb, onPick) {
  const groups = new Map();
  for (const s of slots) {
    const key = `${zoneDate(zoneOfFacility(s.facility_id), 0, s.starts_at)}|${s.doctor_id}|${s.service_id}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  ul.replaceChildren(...[...groups.values()].map((list) => {
    const s0 = list[0];
    const tz = zoneOfFacility(s0.facility_id);
    const doc = doctorById(s0.doctor_id)?.name || 'Doctor';
    const day = new Intl.DateTimeFormat('en-GB', { timeZone: tz, weekday: 'long', day: 'numeric', month: 'long' })
      .format(new Date(s0.starts_at * 1000));
    const rest = [doc, serviceById(s0.service_id)?.name, facilityById(s0.facility_id)?.name].filter(Boolean).join(' · ');
    return el('li', { class: 'slot-group' },
      el('p', { class: 'slot-head' }, el('strong', { text: day }), ` · ${rest}`),
      el('ul', { class: 'chips', 'aria-label': `${day}, ${doc}` }, list.map((s) => el('li', { 'data-slot': s.id },
        el('button', { type: 'button', class: 'chip', text: zoneTime(s.starts_at, tz, { date: false }),
          'aria-label': `${zoneTime(s.starts_at, tz, { date: false })}: ${verb.toLowerCase()} ${slotLabel(s)} with ${doc}`,
          onclick: (e) => onPick(s, e.currentTarget) })))));
  }));
}

async function bookSlot(s, btn) {
  const form = $('#form-slots');
  clearErrors(form);
  if (!chosenPatient) {
    formError(form, 'Choose a patient first (under “Patient” above), then choose the time again.', 'no_patient');
    return;
  }
  const r = await act(form, btn, () => api('POST', '/api/holds', {
    doctor_id: s.doctor_id, service_id: s.service_id, patient_id: chosenPatient.id, starts_at: s.starts_at,
  }));
  if (!r) return;
  if (!r.ok) return refuse(form, r);
  currentHold = r.data.appointment;
  mw.holdId = currentHold.id;
  const tz = zoneOfFacility(currentHold.facility_id);
  $('#hold-text').textContent = `${chosenPatient.name} with ${doctorById(s.doctor_id)?.name || 'the doctor'}, ${serviceById(s.service_id)?.name || ''}, ${slotLabel(s)} (${tz}). This time is kept for you until ${zoneTime(currentHold.hold_expires_at, tz, { date: false })}.`;
  $('#booked-panel').hidden = true;
  const panel = $('#hold-panel');
  panel.hidden = false;
  panel.focus();
}

$('#btn-confirm').addEventListener('click', async (e) => {
  const panel = $('#hold-panel');
  if (!currentHold) return;
  const r = await act(panel, e.currentTarget, () => api('POST', `/api/appointments/${currentHold.id}/confirm`));
  if (!r) return;
  if (!r.ok) return refuse(panel, r);
  const a = r.data.appointment;
  currentHold = null;
  panel.hidden = true;
  showBooked(a, r.data.link, 'Booked');
  $('#slots').replaceChildren();
  $('#slots-summary').textContent = '';
  const tz = zoneOfFacility(a.facility_id);
  $('#ap-day').value = zoneDate(tz, 0, a.starts_at);
  await loadAppointments();
});

$('#btn-release').addEventListener('click', async (e) => {
  const panel = $('#hold-panel');
  if (!currentHold) return;
  const r = await act(panel, e.currentTarget, () => api('POST', `/api/appointments/${currentHold.id}/cancel`, { reason: 'hold released by the clinic' }));
  if (!r) return;
  if (!r.ok) return refuse(panel, r);
  currentHold = null;
  panel.hidden = true;
  setNotice('The time was released.');
  $('#form-slots').requestSubmit();
});

async function showBooked(a, link, heading) {
  const tz = zoneOfFacility(a.facility_id);
  $('#booked-heading').textContent = heading;
  $('#booked-text').textContent = `${a.patient_name || chosenPatient?.name || 'The patient'} with ${a.doctor_name || doctorById(a.doctor_id)?.name || 'the doctor'}, ${zoneTime(a.starts_at, tz)}–${zoneTime(a.ends_at, tz, { date: false })} (${tz}).`;
  $('#booked-link').value = link || '';
  mw.joinLink = link;
  mw.bookedId = a.id;
  const panel = $('#booked-panel');
  panel.dataset.appointment = String(a.id);
  panel.hidden = false;
  panel.focus();
  await showSms($('#booked-sms'), a.id, tz);
}

$('#btn-copy-link').addEventListener('click', () => {
  navigator.clipboard?.writeText($('#booked-link').value).catch(() => {});
  $('#booked-link').select();
  setNotice('Link copied.');
});

/** The SMS notices of an appointment (the outbox), in words. */
async function showSms(target, appointmentId, tz) {
  const r = await api('GET', `/api/outbox?appointment_id=${appointmentId}`).catch(() => null);
  if (!r || !r.ok) { target.textContent = 'SMS: could not be read.'; return; }
  const list = r.data.outbox || [];
  target.dataset.notices = list.map((n) => `${n.kind}:${n.sent_at ? 'sent' : n.failed_at ? 'failed' : 'queued'}`).join(',');
  if (!list.length) { target.textContent = 'SMS: none queued for this appointment.'; return; }
  target.textContent = `SMS: ${list.map((n) => {
    const what = NOTICE_KIND[n.kind] || n.kind;
    if (n.sent_at) return `${what} sent ${zoneTime(n.sent_at, tz)}`;
    if (n.failed_at) return `${what} failed after ${n.attempts} tries`;
    if (n.due_at > Date.now() / 1000 + 60) return `${what} to be sent ${zoneTime(n.due_at, tz)}`;
    return `${what} queued${n.attempts ? ` (${n.attempts} tries so far)` : ''}`;
  }).join('; ')}.`;
}

// --- Appointments: list, move, cancel, check in -------------------------------------------------

onSubmit($('#form-appts'), () => loadAppointments());

async function loadAppointments() {
  const form = $('#form-appts');
  const doctorId = intOrNull(val(form, 'doctor_id'));
  const tz = doctorId ? zoneOfDoctor(doctorId) : defaultZone();
  if (!val(form, 'day')) form.elements.day.value = zoneDate(tz);
  const day = val(form, 'day');
  const q = compact({
    doctor_id: doctorId, status: val(form, 'status'),
    patient_id: form.elements.mine.checked && chosenPatient ? chosenPatient.id : null,
    from: zonedUnix(day, 0, tz), to: zonedUnix(day, 1440, tz), limit: 200,
  });
  const r = await api('GET', `/api/appointments?${new URLSearchParams(q)}`).catch(() => null);
  if (!r) return formError(form, 'Cannot reach the server. Check the connection and try again.', 'network');
  if (!r.ok) return refuse(form, r);
  const t = $('#appts-table');
  fillTable(t, $('#appts-empty'), (r.data.appointments || []).map((a) => {
    const atz = zoneOfFacility(a.facility_id);
    const when = a.kind === 'walkin' ? `Walk-in no. ${a.queue_number ?? ''}` : `${zoneTime(a.starts_at, atz, { date: false })}–${zoneTime(a.ends_at, atz, { date: false })}`;
    return row(t, [when, a.patient_name || '', a.doctor_name || '',
      el('span', { class: `status status-${a.status}`, text: STATUS[a.status] || a.status }),
      el('button', { type: 'button', text: 'Open', 'aria-label': `Open the appointment of ${a.patient_name} at ${when}`, onclick: () => openAppointment(a.id) })],
    { 'data-appointment': a.id, 'data-status': a.status });
  }));
}

async function openAppointment(id, { focus = true } = {}) {
  const r = await api('GET', `/api/appointments/${id}`);
  if (r.status === 401) return showLogin('Your session has ended. Please sign in again.');
  if (!r.ok) return setNotice(plainError(r.data, r.status), 'warn');
  const a = (currentAppt = r.data.appointment);
  mw.appointmentId = a.id;
  const tz = zoneOfFacility(a.facility_id);
  const panel = $('#appt-panel');
  panel.dataset.appointment = String(a.id);
  panel.dataset.status = a.status;
  $('#appt-heading').textContent = `${a.patient_name} · ${STATUS[a.status] || a.status}`;
  const facts = [
    ['Patient', a.patient_name], ['Doctor', a.doctor_name],
    ['Service', serviceById(a.service_id)?.name || '—'], ['Facility', facilityById(a.facility_id)?.name || '—'],
    ['Time', a.kind === 'walkin' ? `Walk-in no. ${a.queue_number}, ${zoneTime(a.starts_at, tz)}` : `${zoneTime(a.starts_at, tz)}–${zoneTime(a.ends_at, tz, { date: false })} (${tz})`],
    ['Status', STATUS[a.status] || a.status],
  ];
  if (a.sequence) facts.push(['Moved', `${a.sequence} time${a.sequence === 1 ? '' : 's'}`]);
  if (a.cancel_reason) facts.push(['Reason for cancelling', a.cancel_reason]);
  $('#appt-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v ?? '' })]));
  const live = ['pending', 'booked', 'arrived', 'checked-in'].includes(a.status);
  $('#btn-reschedule').hidden = !(a.kind === 'booked' && ['pending', 'booked'].includes(a.status));
  $('#btn-checkin').hidden = !['booked', 'arrived'].includes(a.status);
  $('#btn-show-cancel').hidden = !live;
  $('#reschedule-box').hidden = true;
  $('#form-cancel').hidden = true;
  $('#appt-error').hidden = true;
  panel.hidden = false;
  if (focus) panel.focus();
  await showSms($('#appt-sms'), a.id, tz);
  return a;
}

$('#btn-reschedule').addEventListener('click', () => {
  if (!currentAppt) return;
  const tz = zoneOfFacility(currentAppt.facility_id);
  const form = $('#form-resched');
  form.elements.from.value = zoneDate(tz);
  form.elements.to.value = zoneDate(tz, 14);
  $('#form-cancel').hidden = true;
  $('#reschedule-box').hidden = false;
  form.requestSubmit();
});

onSubmit($('#form-resched'), async (form) => {
  if (!currentAppt) return;
  const tz = zoneOfFacility(currentAppt.facility_id);
  if (!val(form, 'from')) return fieldError(form.elements.from, 'Please fill in “From day”.', 'missing_field');
  if (!val(form, 'to')) return fieldError(form.elements.to, 'Please fill in “To day”.', 'missing_field');
  const q = { doctor_id: currentAppt.doctor_id, service_id: currentAppt.service_id,
    from: zonedUnix(val(form, 'from'), 0, tz), to: zonedUnix(val(form, 'to'), 1440, tz), limit: 40 };
  const r = await api('GET', `/api/slots?${new URLSearchParams(q)}`);
  if (!r.ok) return refuse(form, r);
  const slots = (r.data.slots || []).filter((s) => s.starts_at !== currentAppt.starts_at);
  renderSlots($('#resched-slots'), slots, 'Move here', moveTo);
  if (!slots.length) $('#resched-slots').replaceChildren(el('li', { class: 'small', text: 'No free time in these days.' }));
  $('#resched-slots button')?.focus();
});

async function moveTo(s, btn) {
  const form = $('#form-resched');
  clearErrors(form);
  const r = await act(form, btn, () => api('POST', `/api/appointments/${currentAppt.id}/reschedule`, { starts_at: s.starts_at }));
  if (!r) return;
  if (!r.ok) return refuse(form, r);
  const a = r.data.appointment;
  setNotice(`Moved to ${slotLabel(s)}. The patient gets an SMS; the same join link works at the new time.`);
  $('#ap-day').value = zoneDate(zoneOfFacility(a.facility_id), 0, a.starts_at);
  await loadAppointments();
  await openAppointment(a.id);
}

$('#btn-checkin').addEventListener('click', async (e) => {
  const panel = $('#appt-panel');
  const r = await act(panel, e.currentTarget, () => api('POST', `/api/appointments/${currentAppt.id}/check-in`));
  if (!r) return;
  if (!r.ok) return refuse(panel, r);
  setNotice(`${currentAppt.patient_name} is checked in.`);
  await loadAppointments();
  await openAppointment(currentAppt.id);
});

$('#btn-show-cancel').addEventListener('click', () => {
  $('#reschedule-box').hidden = true;
  const form = $('#form-cancel');
  clearErrors(form);
  form.hidden = false;
  form.elements.reason.focus();
});
$('#btn-cancel-back').addEventListener('click', () => {
  $('#form-cancel').hidden = true;
  $('#btn-show-cancel').focus();
});

onSubmit($('#form-cancel'), async (form) => {
  const reason = val(form, 'reason');
  if (!reason) return fieldError(form.elements.reason, 'Write why the appointment is cancelled: the clinic’s records keep it.', 'missing_field');
  const r = await api('POST', `/api/appointments/${currentAppt.id}/cancel`, { reason });
  if (!r.ok) return refuse(form, r);
  form.elements.reason.value = '';
  setNotice(`Appointment cancelled. ${r.data.appointment.kind === 'booked' ? 'The patient gets an SMS, the join link stops working, and the time is offered to the waitlist.' : ''}`);
  await loadAppointments();
  await openAppointment(currentAppt.id);
});

// --- Walk-ins, the queue, the waitlist ---------------------------------------------------------

onSubmit($('#form-walkin'), async (form) => {
  if (!chosenPatient) return formError(form, 'Choose a patient first (under “Patient” above).', 'no_patient');
  const doctorId = intOrNull(val(form, 'doctor_id'));
  const r = await api('POST', '/api/walk-ins', compact({ doctor_id: doctorId, patient_id: chosenPatient.id, service_id: intOrNull(val(form, 'service_id')) }));
  if (!r.ok) return refuse(form, r);
  const a = r.data.appointment;
  $('#walkin-text').textContent = `${chosenPatient.name} is walk-in no. ${a.queue_number} for ${a.doctor_name || doctorById(a.doctor_id)?.name || 'the doctor'} today.`;
  $('#walkin-link').value = r.data.link || '';
  $('#walkin-result').hidden = false;
  $('#walkin-result').dataset.appointment = String(a.id);
  mw.walkinId = a.id;
  $('#q-doctor').value = String(doctorId);
  await loadQueue();
});

onSubmit($('#form-queue'), () => loadQueue());

async function loadQueue() {
  const form = $('#form-queue');
  const doctorId = intOrNull(val(form, 'doctor_id'));
  if (!doctorId) return;
  const r = await api('GET', `/api/queue?doctor_id=${doctorId}`);
  if (!r.ok) return refuse(form, r);
  const tz = zoneOfDoctor(doctorId);
  const list = r.data.queue || [];
  $('#queue').replaceChildren(...list.map((a) => el('li', { 'data-appointment': a.id },
    el('strong', { text: a.patient_name || '' }),
    ` · ${a.kind === 'walkin' ? `walk-in no. ${a.queue_number}` : `booked ${zoneTime(a.starts_at, tz, { date: false })}`} · ${STATUS[a.status] || a.status}`)));
  $('#queue-empty').hidden = list.length > 0;
}

async function patientName(id) {
  if (patientNames.has(id)) return patientNames.get(id);
  const r = await api('GET', `/api/patients/${id}`).catch(() => null);
  const name = r && r.ok ? r.data.patient.name : `Patient ${id}`;
  patientNames.set(id, name);
  return name;
}

async function loadWaitlist() {
  const r = await api('GET', '/api/waitlist').catch(() => null);
  if (!r || !r.ok) return;
  const list = (r.data.waitlist || []).filter((w) => w.status === 'waiting' || w.status === 'offered');
  const names = await Promise.all(list.map((w) => patientName(w.patient_id)));
  const t = $('#waitlist-table');
  fillTable(t, $('#waitlist-empty'), list.map((w, i) => {
    const svc = serviceById(w.service_id);
    const tz = zoneOfFacility(svc?.facility_id);
    const between = w.not_before || w.not_after
      ? `${w.not_before ? dayLabel(w.not_before, tz) : 'now'} to ${w.not_after ? dayLabel(w.not_after - 1, tz) : 'any day'}` : 'any time';
    return row(t, [names[i], svc?.name || '', w.doctor_id ? doctorById(w.doctor_id)?.name || '' : 'any', between,
      w.status === 'offered' ? 'Offered a time' : 'Waiting',
      el('button', { type: 'button', text: 'Remove', 'aria-label': `Remove ${names[i]} from the waitlist`,
        onclick: (e) => removeItem(e.currentTarget, `/api/waitlist/${w.id}`, 'Removed from the waitlist.', loadWaitlist) })],
    { 'data-waitlist': w.id });
  }));
}

onSubmit($('#form-waitlist'), async (form) => {
  if (!chosenPatient) return formError(form, 'Choose a patient first (under “Patient” above).', 'no_patient');
  const serviceId = intOrNull(val(form, 'service_id'));
  const tz = zoneOfFacility(serviceById(serviceId)?.facility_id);
  const r = await api('POST', '/api/waitlist', compact({
    patient_id: chosenPatient.id, service_id: serviceId, doctor_id: intOrNull(val(form, 'doctor_id')),
    not_before: val(form, 'not_before') && zonedUnix(val(form, 'not_before'), 0, tz),
    not_after: val(form, 'not_after') && zonedUnix(val(form, 'not_after'), 1440, tz),
  }));
  if (!r.ok) return refuse(form, r);
  setNotice(`${chosenPatient.name} is on the waitlist: a freed time is offered by SMS.`);
  await loadWaitlist();
});

// --- Wiring ------------------------------------------------------------------------------------

wireSignIn(signedIn);
$('#btn-logout').addEventListener('click', logout);
$('#btn-refused-logout').addEventListener('click', logout);
window.addEventListener('hashchange', () => { setNotice(''); showTab(); });
{
  const tz = DEFAULT_ZONE;
  $('#sl-from').value = zoneDate(tz);
  $('#sl-to').value = zoneDate(tz, 7);
}
resumeSession(signedIn, () => showLogin(), () => setNotice('Cannot reach the server. Reload the page to try again.', 'warn'));
