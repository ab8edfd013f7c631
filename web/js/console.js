// The doctor's console, at /console. Sign in (POST /api/login; the mw_session cookie carries
// the session), the day's appointments, the waiting room over WSS with ticking wait times,
// admitting a patient, the call (invite a guest, end with an outcome), sign out. Clinical
// content (docs/protocol.md "Messages", docs/api.md "Clinical content"): messages to a waiting
// patient and in the call, the patient's details, photos they send, private notes (autosaved),
// advice given to the patient, and "Next patient".

import { Signaling } from './signaling.js';
import { Call } from './call.js';
import { api } from './api.js';
import { resumeSession, wireSignIn } from './signin.js';
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
const chats = new Map();     // appointment id → [chat message] (this console's view)
const unread = new Set();    // appointment ids with a message from a waiting patient not yet seen
let wrChatFor = null;        // appointment id whose waiting-room messages are open
let notesTimer = null;       // autosave of the private notes
let notesFor = null;         // appointment id the notes box belongs to
let notesSaved = '';         // the text last saved
const LONG_WAIT_S = 30 * 60; // a wait this long is shown as a warning

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
    tr.dataset.kind = a.kind || 'booked';
    tr.dataset.status = a.status;
    const kind = a.kind === 'walkin' ? 'Walk-in' : 'Booked';
    for (const text of [`${clockTime(a.starts_at)}–${clockTime(a.ends_at)}`, a.patient_name, kind, statusLabel(a.status)]) {
      const td = document.createElement('td');
      td.textContent = text ?? '';
      tr.append(td);
    }
    tbody.append(tr);
  }
}

function statusLabel(status) {
  return {
    booked: 'Booked', arrived: 'Arrived (online)', 'checked-in': 'Checked in', fulfilled: 'Seen',
    noshow: 'No-show', cancelled: 'Cancelled', pending: 'On hold', waitlist: 'Waitlist',
  }[status] || status;
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
  signaling.on('chat_history', (m) => {
    chats.set(m.appointment_id, (m.messages || []).map((x) => ({ ...x, appointment_id: m.appointment_id })));
    renderChats(m.appointment_id);
  });
  signaling.on('chat', (m) => {
    const list = chats.get(m.appointment_id) || [];
    if (list.some((x) => x.id === m.id)) return;
    list.push(m);
    chats.set(m.appointment_id, list);
    if (!m.from_you && m.appointment_id !== current && m.appointment_id !== wrChatFor) {
      unread.add(m.appointment_id);
      renderWaiting();
      if (mw.state === 'call') setNotice(`New message from ${m.sender_name || 'a waiting patient'} in the waiting room.`);
    }
    renderChats(m.appointment_id);
  });
  signaling.on('attachment', (m) => {
    if (m.appointment_id === current) addPhoto(m.attachment);
    else setNotice('A waiting patient sent a photo: you will see it in the call.');
  });
  signaling.on('call_started', (m) => {
    rejoining = null;
    const fresh = current !== m.appointment_id;
    current = m.appointment_id;
    mw.appointmentId = current;
    if (fresh) openCallPanels(current);
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
    leaveCallView(`Consultation ended${m.outcome ? ` (${m.outcome})` : ''}. Press “Next patient” for the next one.`);
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
    wait.title = 'Waiting time';
    const msg = document.createElement('button');
    msg.type = 'button';
    msg.dataset.testid = `message-${w.appointment_id}`;
    msg.textContent = unread.has(w.appointment_id) ? 'Message (new)' : 'Message';
    msg.setAttribute('aria-label', `Message ${w.name}${unread.has(w.appointment_id) ? ': new message' : ''}`);
    if (unread.has(w.appointment_id)) li.dataset.unread = 'true';
    msg.addEventListener('click', () => openWaitingChat(w.appointment_id, w.name));
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'primary';
    btn.dataset.testid = `admit-${w.appointment_id}`;
    btn.textContent = w.in_call ? 'Rejoin' : 'Admit';
    btn.setAttribute('aria-label', `${btn.textContent} ${w.name}`);
    btn.addEventListener('click', () => admit(w.appointment_id, btn));
    li.append(name, wait, msg, btn);
    ul.append(li);
  }
  tickWaits();
}

// The wait of each patient, ticking; past LONG_WAIT_S it turns to a warning, said in words and
// with a sign, not by colour alone.
function tickWaits() {
  const now = Date.now() / 1000;
  for (const el of document.querySelectorAll('#waiting-room .wait')) {
    const secs = now - Number(el.dataset.since);
    const long = secs >= LONG_WAIT_S;
    el.textContent = long ? `⚠ ${mmss(secs)} · over 30 min` : mmss(secs);
    el.classList.toggle('long', long);
    el.closest('li')?.toggleAttribute('data-long-wait', long);
  }
}

// --- Messages ------------------------------------------------------------------------------

function roleWord(role) {
  return roleLabel(role);
}

function chatItem(m) {
  const li = document.createElement('li');
  li.className = m.from_you ? 'mine' : 'theirs';
  li.dataset.role = m.sender_role;
  const who = document.createElement('span');
  who.className = 'chat-who';
  const name = m.from_you ? 'You' : m.sender_name && m.sender_name !== m.sender_role
    ? `${m.sender_name} (${roleWord(m.sender_role).toLowerCase()})` : roleWord(m.sender_role);
  who.textContent = `${name} · ${new Date(m.sent_at_ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`;
  const text = document.createElement('span');
  text.className = 'chat-text';
  text.setAttribute('dir', 'auto');
  text.textContent = m.text;
  li.append(who, text);
  return li;
}

function renderChats(appointmentId) {
  const list = chats.get(appointmentId) || [];
  if (appointmentId === current) {
    $('#call-chat-log').replaceChildren(...list.map(chatItem));
    $('#call-chat-empty').hidden = list.length > 0;
    $('#call-chat-log').lastElementChild?.scrollIntoView({ block: 'nearest' });
  }
  if (appointmentId === wrChatFor) {
    $('#wr-chat-log').replaceChildren(...list.map(chatItem));
    $('#wr-chat-log').lastElementChild?.scrollIntoView({ block: 'nearest' });
  }
}

function openWaitingChat(appointmentId, name) {
  wrChatFor = appointmentId;
  unread.delete(appointmentId);
  $('#wr-chat-who').textContent = name;
  $('#wr-chat').hidden = false;
  renderWaiting();
  renderChats(appointmentId);
  $('#wr-chat-text').focus();
}

function sendChat(textarea, appointmentId) {
  const text = textarea.value.trim();
  if (!text || appointmentId == null) return;
  if (!signaling.send({ type: 'chat', appointment_id: appointmentId, text })) {
    setNotice('Not connected: the message was not sent.', 'warn');
    return;
  }
  textarea.value = '';
}

// --- The call's panels: the patient, photos, notes, advice ---------------------------------

async function openCallPanels(appointmentId) {
  unread.delete(appointmentId);
  $('#advice-given').replaceChildren();
  $('#advice-status').textContent = '';
  $('#photos').replaceChildren();
  $('#photos-empty').hidden = false;
  renderChats(appointmentId);
  for (const dd of document.querySelectorAll('#patient-details dd')) dd.textContent = '…';
  const [who, photos] = await Promise.all([
    api('GET', `/api/appointments/${appointmentId}/patient`).catch(() => null),
    api('GET', `/api/appointments/${appointmentId}/attachments`).catch(() => null),
    loadNotes(appointmentId),
  ]);
  if (who && who.ok) {
    const p = who.data.patient || {};
    const v = who.data.visit || {};
    const set = (field, text) => { $(`#patient-details dd[data-field="${field}"]`).textContent = text; };
    set('name', p.name || '–');
    set('age', p.age != null ? `${p.age} years` : 'Not recorded');
    set('phone', p.phone || 'Not recorded');
    set('visit', `${v.kind === 'walkin' ? `Walk-in${v.queue_number ? ` no. ${v.queue_number}` : ''}` : 'Booked'}, ${clockTime(v.starts_at)}–${clockTime(v.ends_at)}`);
    const n = who.data.previous_visits || 0;
    set('previous', n === 0 ? 'None: first visit' : String(n));
  } else {
    for (const dd of document.querySelectorAll('#patient-details dd')) dd.textContent = '–';
  }
  if (photos && photos.ok) for (const a of photos.data.attachments || []) addPhoto(a);
}

function addPhoto(a) {
  if (!a || document.querySelector(`#photos li[data-id="${a.id}"]`)) return;
  const li = document.createElement('li');
  li.dataset.id = String(a.id);
  const link = document.createElement('a');
  link.href = a.url;
  link.target = '_blank';
  link.rel = 'noopener';
  const img = document.createElement('img');
  img.src = a.url;
  img.alt = `Photo from the patient, ${clockTime(a.uploaded_at)}`;
  img.loading = 'lazy';
  link.append(img);
  const cap = document.createElement('span');
  cap.className = 'small';
  cap.textContent = `${clockTime(a.uploaded_at)} · ${Math.max(1, Math.round(a.size / 1024))} KB · open full size`;
  li.append(link, cap);
  $('#photos').append(li);
  $('#photos-empty').hidden = true;
  li.scrollIntoView({ block: 'nearest' });
}

async function loadNotes(appointmentId) {
  clearTimeout(notesTimer);
  notesFor = appointmentId;
  const box = $('#notes-text');
  box.value = '';
  box.disabled = true;
  $('#notes-status').textContent = 'Loading your notes…';
  const r = await api('GET', `/api/appointments/${appointmentId}/notes`).catch(() => null);
  if (notesFor !== appointmentId) return;
  box.disabled = false;
  if (r && r.ok) {
    box.value = r.data.notes?.text || '';
    notesSaved = box.value;
    const at = r.data.notes?.updated_at;
    $('#notes-status').textContent = at ? `Saved at ${clockTime(at)}.` : 'No notes yet.';
  } else {
    notesSaved = '';
    $('#notes-status').textContent = 'Your notes could not be loaded.';
  }
}

async function saveNotes() {
  clearTimeout(notesTimer);
  notesTimer = null;
  const appointmentId = notesFor;
  const text = $('#notes-text').value;
  if (appointmentId == null || text === notesSaved) return;
  $('#notes-status').textContent = 'Saving…';
  const r = await api('PUT', `/api/appointments/${appointmentId}/notes`, { text }).catch(() => null);
  if (notesFor !== appointmentId) return;
  if (r && r.ok) {
    notesSaved = text;
    mw.notesSaved = text;
    $('#notes-status').textContent = `Saved at ${clockTime(r.data.notes.updated_at)}.`;
  } else {
    $('#notes-status').textContent = `Not saved: ${r?.data?.message || 'the server could not be reached'}. Keep typing to try again.`;
  }
}

async function giveAdvice(ev) {
  ev.preventDefault();
  const box = $('#advice-text');
  const text = box.value.trim();
  if (!text || current == null) return;
  $('#btn-advice').disabled = true;
  const r = await api('POST', `/api/appointments/${current}/advice`, { text }).catch(() => null);
  $('#btn-advice').disabled = false;
  if (r && r.ok) {
    box.value = '';
    const li = document.createElement('li');
    li.setAttribute('dir', 'auto');
    li.textContent = r.data.advice.text;
    $('#advice-given').append(li);
    $('#advice-status').textContent = `Given to the patient at ${clockTime(r.data.advice.given_at)}.`;
  } else {
    $('#advice-status').textContent = `Not given: ${r?.data?.message || 'the server could not be reached'}.`;
  }
}

// "Next patient": the one waiting longest (not already in a call) is admitted.
function nextPatient() {
  const next = waiting.filter((w) => !w.in_call && w.role === 'patient')
    .sort((a, b) => a.waiting_since - b.waiting_since)[0];
  if (!next) {
    setNotice('Nobody is waiting right now.');
    return;
  }
  admit(next.appointment_id, $('#btn-next'));
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
  saveNotes();
  notesFor = null;
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

wireSignIn(signedIn);
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
$('#btn-next').addEventListener('click', nextPatient);
$('#wr-chat-form').addEventListener('submit', (ev) => { ev.preventDefault(); sendChat($('#wr-chat-text'), wrChatFor); });
$('#wr-chat-close').addEventListener('click', () => { wrChatFor = null; $('#wr-chat').hidden = true; });
$('#call-chat-form').addEventListener('submit', (ev) => { ev.preventDefault(); sendChat($('#call-chat-text'), current); });
for (const id of ['#wr-chat-text', '#call-chat-text']) {
  $(id).addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      sendChat(ev.target, id === '#wr-chat-text' ? wrChatFor : current);
    }
  });
}
$('#notes-text').addEventListener('input', () => {
  clearTimeout(notesTimer);
  $('#notes-status').textContent = 'Unsaved changes…';
  notesTimer = setTimeout(saveNotes, 800);
});
$('#notes-text').addEventListener('blur', () => { if (notesTimer) saveNotes(); });
$('#advice-form').addEventListener('submit', giveAdvice);
$('#btn-end').addEventListener('click', () => {
  const outcome = $('#outcome').value;
  if (!signaling.send({ type: 'end', outcome })) setNotice('Not connected: try again in a moment.', 'warn');
});
window.addEventListener('pagehide', () => { if (signaling) signaling.close(1001, 'page closed'); });

resumeSession(signedIn, () => showLogin(), () => setNotice('Cannot reach the server. Reload the page to try again.', 'warn'));
