// The doctor's console, at /console. Sign in (POST /api/login; the mw_session cookie carries
// the session), the day's appointments, the waiting room over WSS with ticking wait times,
// admitting a patient, the call (invite a guest, end with an outcome), sign out.

import { Signaling } from './signaling.js';
import { Call } from './call.js';
import { api } from './api.js';
import { $, setView, setState, setNotice, roleLabel, personLabel, ensureTile, removeTile, mmss, clockTime, toggleTracks, showRemoteTrack } from './ui.js';
import { qt, showQuality, dropQuality, setVideoNotice } from './ui.js';

const mw = (window.__mw = { state: 'loading' });

let staff = null;
let signaling = null;
let call = null;
let localStream = null;
let me = null;
let current = null;          // appointment id of the running call
let rejoining = null;        // appointment id we sent admit for after a reconnect
let rejoinedSinceWelcome = false; // reconnected once for failed media on this connection
let waiting = [];            // the last waiting_room list
const people = new Map();    // participant id → {role, name}
let tickTimer = null;
const videoPaused = new Map(); // participant id → the relay's video state towards them

// Our own weak link first, then the patient's; an interpreter's or guest's state shows in the
// connection list only.
function showVideoNotice() {
  const el = $('#video-notice');
  if (videoPaused.get(me) === 'weak_link') return setVideoNotice(el, qt.weakSelfStaff, 'weak_link');
  for (const [pid, state] of videoPaused) {
    if (people.get(pid)?.role !== 'patient') continue;
    if (state === 'weak_link') return setVideoNotice(el, qt.weakPatient, 'weak_link');
    if (state === 'chosen') return setVideoNotice(el, qt.chosenPatient, 'chosen');
  }
  return setVideoNotice(el, '');
}

async function start() {
  let me;
  try {
    me = await api('GET', '/api/me');
  } catch {
    setNotice('Cannot reach the server. Reload the page to try again.', 'warn');
    return;
  }
  if (me.ok) return signedIn(me.data.staff);
  showLogin();
}

function showLogin(message) {
  staff = null;
  $('#who').textContent = '';
  $('#btn-logout').hidden = true;
  $('#admin-link').hidden = true;
  const err = $('#login-error');
  err.hidden = !message;
  err.textContent = message || '';
  setView('login', 'Please sign in');
  mw.state = 'login';
  $('#username').focus();
}

async function login(ev) {
  ev.preventDefault();
  const username = $('#username').value.trim();
  const password = $('#password').value;
  const err = $('#login-error');
  if (!username || !password) {
    err.textContent = 'Enter your username and password.';
    err.dataset.code = 'missing_field';
    err.hidden = false;
    return;
  }
  $('#btn-login').disabled = true;
  try {
    const r = await api('POST', '/api/login', { username, password });
    if (r.ok) {
      $('#password').value = '';
      err.hidden = true;
      return signedIn(r.data.staff);
    }
    err.dataset.code = r.data.error || `http_${r.status}`;
    err.textContent = r.status === 401 ? 'Wrong username or password.' : r.data.message || 'Signing in failed.';
    err.hidden = false;
  } catch {
    err.dataset.code = 'network';
    err.textContent = 'Cannot reach the server.';
    err.hidden = false;
  } finally {
    $('#btn-login').disabled = false;
  }
}

async function signedIn(s) {
  staff = s;
  mw.staff = s;
  $('#who').textContent = `${s.name} (${roleLabel(s.role)})`;
  $('#btn-logout').hidden = false;
  $('#admin-link').hidden = s.role !== 'admin';
  setView('day', 'Your day');
  mw.state = 'day';
  loadDay();
  connect();
  clearInterval(tickTimer);
  tickTimer = setInterval(tickWaits, 1000);
}

async function loadDay() {
  const r = await api('GET', '/api/appointments/today').catch(() => null);
  const tbody = $('#appointments tbody');
  tbody.replaceChildren();
  if (!r || !r.ok) {
    if (r && r.status === 401) return showLogin('Your session has ended. Please sign in again.');
    return;
  }
  const list = r.data.appointments || [];
  $('#appointments-empty').hidden = list.length > 0;
  for (const a of list) {
    const tr = document.createElement('tr');
    tr.dataset.appointment = String(a.id);
    for (const text of [`${clockTime(a.starts_at)}–${clockTime(a.ends_at)}`, a.patient_name, a.status]) {
      const td = document.createElement('td');
      td.textContent = text ?? '';
      tr.append(td);
    }
    tbody.append(tr);
  }
}

function connect() {
  if (signaling) signaling.close();
  signaling = new Signaling(() => ({ type: 'hello' }));
  call = new Call(signaling, {
    getLocalStream: () => localStream,
    onRemoteTrack: (pid, track, stream) => showRemoteTrack(call, people, pid, track, stream),
    onPcState: (pcId, state) => {
      // A peer connection that had connected and then failed (a network cut of 15-20 s or more)
      // does not come back by itself: reconnect once; the welcome's rejoin (admit) follows.
      if (state === 'failed' && mw.state === 'call' && !rejoinedSinceWelcome && call.connectedAt.has(pcId)) {
        rejoinedSinceWelcome = true;
        mw.mediaRejoins = (mw.mediaRejoins || 0) + 1;
        signaling.reconnectNow('media failed');
      }
      if (pcId === 'pub' && state === 'failed') setNotice('Your media connection failed.', 'warn');
      if (pcId === 'pub' && state === 'disconnected') setNotice('Your connection is interrupted. Waiting for it to come back…', 'warn');
      if (pcId === 'pub' && state === 'connected') setNotice('');
    },
  });
  mw.signaling = signaling;
  mw.call = call;
  mw.pcs = call.pcs;
  mw.summary = () => call.summary();

  signaling.on('welcome', (m) => {
    me = String(m.participant_id);
    mw.participantId = me;
    rejoinedSinceWelcome = false;
    if (m.reconnected) {
      call.closeAll();
      people.clear();
      $('#remote-videos').replaceChildren();
      setNotice('');
      // We were in a call when the connection (or the server) went: rejoin it at once. The
      // server keeps a running call across our drop and across its own restart (its record
      // says the call was running), so admit rejoins it; if it ended meanwhile, admit is
      // refused and we go back to the day view.
      if (mw.state === 'call' && current != null) {
        rejoining = current;
        mw.autoRejoins = (mw.autoRejoins || 0) + 1;
        signaling.send({ type: 'admit', appointment_id: current });
      }
    }
  });
  signaling.on('waiting_room', (m) => {
    waiting = m.patients || [];
    mw.waiting = waiting;
    renderWaiting();
  });
  signaling.on('call_started', (m) => {
    rejoining = null;
    current = m.appointment_id;
    mw.appointmentId = current;
    for (const p of m.participants || []) addPerson(p);
    $('#self-view').srcObject = localStream;
    $('#invite-box').hidden = true;
    setView('call', 'In a consultation');
    mw.state = 'call';
  });
  signaling.on('participant_joined', (m) => {
    addPerson(m.participant);
    setNotice(`${roleLabel(m.participant?.role)} joined the call.`);
  });
  signaling.on('participant_left', (m) => {
    const pid = String(m.participant_id);
    const p = people.get(pid);
    people.delete(pid);
    removeTile($('#remote-videos'), pid);
    dropQuality($('#quality'), pid);
    videoPaused.delete(pid);
    showVideoNotice();
    const how = m.reason === 'dropped' ? 'lost the connection' : 'left the call';
    setNotice(`${p ? roleLabel(p.role) : 'A participant'} ${how}.`, 'warn');
  });
  // Media from someone stopped: the server keeps their place for drop_after_ms and says
  // participant_back when it flows again (or participant_left "dropped" when it gives up).
  signaling.on('participant_away', (m) => {
    const p = people.get(String(m.participant_id));
    const secs = Math.round((m.drop_after_ms || 0) / 1000);
    setNotice(`${p ? roleLabel(p.role) : 'A participant'}'s connection is interrupted. Waiting up to ${secs} s for it to come back…`, 'warn');
  });
  signaling.on('participant_back', (m) => {
    const p = people.get(String(m.participant_id));
    setNotice(`${p ? roleLabel(p.role) : 'The participant'} is connected again.`);
  });
  signaling.on('quality', (m) => {
    if (mw.state !== 'call') return;
    showQuality($('#quality'), me, m);
    const pid = String(m.participant);
    videoPaused.set(pid, m.video || 'on');
    showVideoNotice();
  });
  signaling.on('invited', (m) => {
    $('#invite-who').textContent = roleLabel(m.role).toLowerCase();
    $('#invite-link').value = m.link;
    $('#invite-box').hidden = false;
    mw.inviteLink = m.link;
  });
  signaling.on('call_ended', (m) => {
    leaveCallView(`Consultation ended${m.outcome ? ` (${m.outcome})` : ''}.`);
    loadDay();
  });
  signaling.on('error', (m) => {
    if (m.fatal) return;
    if (rejoining != null && m.code === 'not_allowed') {
      rejoining = null;
      leaveCallView('The consultation could not be rejoined: it has ended.');
      loadDay();
      return;
    }
    console.warn('server said:', m.code, m.message);
    setNotice(m.message || m.code, 'warn');
  });
  signaling.on('reconnecting', () => {
    setNotice('Connection lost. Reconnecting…', 'warn');
    setState('reconnecting', 'Reconnecting…');
  });
  signaling.on('open', () => {
    if (mw.state !== 'call') setState(mw.state, mw.state === 'day' ? 'Your day' : '');
  });
  signaling.on('fatal', (c) => {
    if (c.code === 4403) return showLogin('Your session has ended. Please sign in again.');
    setNotice(`The server closed the connection (${c.code} ${c.reason}). Reload the page.`, 'warn');
  });
  signaling.connect();
}

function addPerson(p) {
  if (!p || p.participant_id == null) return;
  const pid = String(p.participant_id);
  if (pid === me) return;
  people.set(pid, { role: p.role, name: p.name });
  ensureTile($('#remote-videos'), pid, personLabel(p.role, p.name));
}

function renderWaiting() {
  const ul = $('#waiting-room');
  ul.replaceChildren();
  $('#waiting-empty').hidden = waiting.length > 0;
  for (const w of waiting) {
    const li = document.createElement('li');
    li.dataset.appointment = String(w.appointment_id);
    li.dataset.participant = String(w.participant_id);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = `${w.name}${w.role && w.role !== 'patient' ? ` (${roleLabel(w.role)})` : ''}`;
    const wait = document.createElement('span');
    wait.className = 'wait';
    wait.dataset.since = String(w.waiting_since);
    wait.setAttribute('aria-label', 'Waiting time');
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'primary';
    btn.dataset.testid = `admit-${w.appointment_id}`;
    btn.textContent = w.in_call ? 'Rejoin' : 'Admit';
    btn.setAttribute('aria-label', `${btn.textContent} ${w.name}`);
    btn.addEventListener('click', () => admit(w.appointment_id, btn));
    li.append(name, wait, btn);
    ul.append(li);
  }
  tickWaits();
}

function tickWaits() {
  const now = Date.now() / 1000;
  for (const el of document.querySelectorAll('#waiting-room .wait')) {
    el.textContent = mmss(now - Number(el.dataset.since));
  }
}

async function admit(appointmentId, btn) {
  btn.disabled = true;
  try {
    if (!localStream) {
      localStream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: { ideal: 640 }, height: { ideal: 360 } },
      }).catch(() => navigator.mediaDevices.getUserMedia({ audio: true }));
      mw.localStream = localStream;
    }
  } catch {
    setNotice('Your camera and microphone are blocked: allow them in the browser to call.', 'warn');
    btn.disabled = false;
    return;
  }
  signaling.send({ type: 'admit', appointment_id: appointmentId });
  btn.disabled = false;
}

function leaveCallView(text) {
  call.closeAll();
  people.clear();
  videoPaused.clear();
  $('#quality').replaceChildren();
  $('#quality').hidden = true;
  setVideoNotice($('#video-notice'), '');
  $('#remote-videos').replaceChildren();
  current = null;
  setView('day', 'Your day');
  mw.state = 'day';
  setNotice(text);
}

async function logout() {
  if (signaling) signaling.close();
  if (call) call.closeAll();
  if (localStream) for (const t of localStream.getTracks()) t.stop();
  localStream = null;
  clearInterval(tickTimer);
  await api('POST', '/api/logout').catch(() => {});
  setNotice('');
  showLogin();
}

$('#login-form').addEventListener('submit', login);
$('#btn-logout').addEventListener('click', logout);
$('#btn-mute').addEventListener('click', (e) => toggleTracks(localStream, 'audio', e.currentTarget, 'Mute', 'Unmute'));
$('#btn-camera').addEventListener('click', (e) => toggleTracks(localStream, 'video', e.currentTarget, 'Camera off', 'Camera on'));
$('#invite-role').addEventListener('change', (e) => {
  $('#btn-invite').textContent = `Invite ${e.target.selectedOptions[0].textContent.toLowerCase()}`;
});
$('#btn-invite').addEventListener('click', () => {
  if (current == null) return;
  signaling.send({ type: 'invite', appointment_id: current, role: $('#invite-role').value });
});
$('#btn-copy').addEventListener('click', () => {
  navigator.clipboard?.writeText($('#invite-link').value).catch(() => {});
  $('#invite-link').select();
});
$('#btn-end').addEventListener('click', () => {
  const outcome = $('#outcome').value;
  if (!signaling.send({ type: 'end', outcome })) setNotice('Not connected: try again in a moment.', 'warn');
});
window.addEventListener('pagehide', () => { if (signaling) signaling.close(1001, 'page closed'); });

start();
