// The patient's (or a guest's) page, at /join/<token>, in English or Urdu (web/js/i18n.js).
// Steps: can this browser call at all (before anything else), check the link (GET /api/join),
// consent (once per version: POST /api/join/<token>/consent), the device and network check,
// the waiting room over WSS (place, expected wait, the doctor's status), the call, the end and
// the rating (POST /api/join/<token>/rating), thanks. Every refusal ends on the error view with
// plain words and the code in #error-code. Tests read window.__mw (state, info, net, …).

import { Signaling, CLOSE_CODES } from './signaling.js';
import { Call } from './call.js';
import { $, setView, setState, setNotice, personLabel, ensureTile, removeTile, showRemoteTrack } from './ui.js';
import { qt, showQuality, dropQuality, setVideoNotice, setQualityText, setRoleLabels, roleLabel } from './ui.js';
import { CONSENT_VERSION, t, lang, setLanguage, initialLanguage, clock, dateTime } from './i18n.js';
import { meterMic, playTone, listDevices, checkNetwork } from './checks.js';
import { mountChat } from './chat.js';

const mw = (window.__mw = { state: 'loading' });

let token = null;
let info = null;          // the /api/join answer
let localStream = null;
let signaling = null;
let call = null;
let me = null;            // our participant id
let finished = false;     // ended, left or refused: nothing more to do
let audioOnly = false;    // our "Audio only" switch (remembered by the server for a patient)
let wantAudioOnly = false; // chosen before joining (weak network, or no camera allowed)
let weakLink = false;     // the relay paused video towards us for a weak link
let callStarted = false;  // the consultation began while we were here (a rating makes sense)
let netAbort = null;      // stops the network check (Join pressed)
const people = new Map(); // participant id → {role, name}

// --- Words on the page, in the chosen language ----------------------------------------------
// Every text set here remembers its key, so a change of language re-says it.
const said = new Map(); // element → [key, vars]

function render(el, key, vars) {
  const v = {};
  for (const [k, x] of Object.entries(vars || {})) v[k] = typeof x === 'function' ? x() : x;
  el.textContent = t(key, v);
}

function say(el, key, vars) {
  if (!el) return;
  said.set(el, [key, vars]);
  render(el, key, vars);
}

let stateWords = null; // [view or state name, key, vars]
function view(name, key, vars) {
  stateWords = [name, key, vars];
  setView(name, key ? tv(key, vars) : '');
  moveMessages(name);
}
function state(name, key, vars) {
  stateWords = [name, key, vars];
  setState(name, tv(key, vars));
}
function tv(key, vars) {
  const v = {};
  for (const [k, x] of Object.entries(vars || {})) v[k] = typeof x === 'function' ? x() : x;
  return t(key, v);
}

let noticeWords = null;
function notice(key, vars, kind = 'info') {
  noticeWords = key ? [key, vars, kind] : null;
  setNotice(key ? tv(key, vars) : '', kind);
}

function applyLanguage(code, keep) {
  setLanguage(code, { keep });
  const q = t('quality');
  setQualityText({ ...q, theirs: (role) => q.theirs.replace('{role}', roleLabel(role)) });
  setRoleLabels(t('roles'));
  for (const b of document.querySelectorAll('#lang-chooser [data-lang]')) {
    b.setAttribute('aria-pressed', String(b.dataset.lang === lang()));
  }
  for (const [el, [key, vars]] of said) render(el, key, vars);
  if (stateWords) setState(stateWords[0], tv(stateWords[1], stateWords[2]));
  if (noticeWords) setNotice(tv(noticeWords[0], noticeWords[1]), noticeWords[2]);
  renderConsent();
  renderAndroidSteps();
  renderStars();
  showVideoNotice();
  mw.lang = lang();
}

for (const b of document.querySelectorAll('#lang-chooser [data-lang]')) {
  b.addEventListener('click', () => applyLanguage(b.dataset.lang, true));
}

// --- Failures ---------------------------------------------------------------------------------

function showError(code, extra = {}, closeCode = null, { keepStream = false } = {}) {
  finished = true;
  if (netAbort) netAbort.abort();
  const known = t('errors')[code] ? code : 'default';
  const key = code === 'too_early' && extra.valid_from ? 'too_early_at' : known;
  const when = extra.valid_from ? () => dateTime(extra.valid_from) : '';
  say($('#error-title'), `errors.${key}.0`);
  say($('#error-message'), `errors.${key}.1`, { when });
  const codeEl = $('#error-code');
  codeEl.textContent = code || 'unknown';
  codeEl.dataset.code = code || 'unknown';
  if (closeCode != null) codeEl.dataset.closeCode = String(closeCode);
  const devices = code === 'camera_denied' || code === 'camera_only_denied';
  $('#error-android').hidden = !devices;
  $('#resend-form').hidden = code !== 'expired_token';
  $('#btn-audio-only-continue').hidden = code !== 'camera_only_denied';
  $('#btn-reload').hidden = !(devices || ['network', 'authentication_timeout', 'token_in_use', 'default'].includes(known));
  notice(null);
  view('error', `errors.${key}.0`);
  mw.state = 'error';
  if (!keepStream) stopLocal();
}

function renderAndroidSteps() {
  const ol = $('#android-steps');
  ol.replaceChildren(...t('androidSteps').map((s) => Object.assign(document.createElement('li'), { textContent: s })));
}

$('#btn-reload').addEventListener('click', () => location.reload());

$('#resend-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('#resend-result');
  const btn = $('#btn-resend');
  btn.disabled = true;
  try {
    const r = await fetch('/api/link-resend', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone: $('#resend-phone').value.trim() }),
    });
    out.dataset.status = String(r.status);
    say(out, r.status === 202 ? 'resendDone' : r.status === 400 ? 'resendInvalid' : 'resendFailed');
  } catch {
    out.dataset.status = 'network';
    say(out, 'resendFailed');
  } finally {
    btn.disabled = false;
  }
});

function stopLocal() {
  if (localStream) for (const tr of localStream.getTracks()) tr.stop();
}

// --- The link ---------------------------------------------------------------------------------

function supported() {
  return !!(window.RTCPeerConnection && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

async function checkLink() {
  const m = location.pathname.match(/^\/join\/([^/?#]+)/);
  token = m ? decodeURIComponent(m[1]) : '';
  if (!token) return showError('unknown_token');
  let res;
  try {
    res = await fetch(`/api/join/${encodeURIComponent(token)}`, { cache: 'no-store' });
  } catch {
    return showError('network');
  }
  let body = {};
  try { body = await res.json(); } catch { /* empty body */ }
  if (!res.ok) return showError(body.error || `http_${res.status}`, body);
  info = body;
  mw.info = info;
  if (info.consent_version === CONSENT_VERSION) return startPreview();
  return showConsent();
}

// --- Consent ----------------------------------------------------------------------------------

function renderConsent() {
  const box = $('#consent-text');
  box.replaceChildren(...t('consentText').map((p) => Object.assign(document.createElement('p'), { textContent: p })));
}

function showConsent() {
  renderConsent();
  say($('#consent-version'), 'consentVersion', { v: CONSENT_VERSION });
  view('consent', 'consentState');
  mw.state = 'consent';
  $('#btn-consent-accept').focus();
}

$('#btn-consent-accept').addEventListener('click', async () => {
  const btn = $('#btn-consent-accept');
  btn.disabled = true;
  try {
    const r = await fetch(`/api/join/${encodeURIComponent(token)}/consent`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: CONSENT_VERSION, language: lang() }),
    });
    if (r.status === 201) {
      mw.consent = { version: CONSENT_VERSION, language: lang() };
      notice(null);
      return startPreview();
    }
    let body = {};
    try { body = await r.json(); } catch { /* empty */ }
    if (r.status === 404 || r.status === 410 || r.status === 403) return showError(body.error || `http_${r.status}`, body);
    notice('consentFailed', {}, 'warn');
  } catch {
    notice('consentFailed', {}, 'warn');
  } finally {
    btn.disabled = false;
  }
});

// --- Device and network check -----------------------------------------------------------------

const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 }, facingMode: 'user' };
const AUDIO = { echoCancellation: true, noiseSuppression: true };

async function startPreview() {
  const role = info.role && info.role !== 'patient' ? info.role : null;
  say($('#appointment-info'), role ? 'appointmentInfoAs' : 'appointmentInfo', {
    doctor: () => info.doctor_name || t('yourDoctor'), time: () => clock(info.starts_at), role: () => roleLabel(role),
  });
  view('preview', 'checkState');
  mw.state = 'preview';
  try {
    localStream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video: VIDEO });
  } catch (e) {
    const refused = e.name === 'NotAllowedError' || e.name === 'SecurityError';
    // Without the camera (refused, or none that fits) a consultation by voice still works.
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO });
    } catch (e2) {
      return showError(refused || e2.name === 'NotAllowedError' ? 'camera_denied' : 'no_devices');
    }
    if (refused) {
      mw.localStream = localStream;
      return showError('camera_only_denied', {}, null, { keepStream: true });
    }
    notice('noCamera');
  }
  return previewReady();
}

$('#btn-audio-only-continue').addEventListener('click', () => {
  finished = false;
  chooseAudioOnly(true);
  notice('noCamera');
  view('preview', 'checkState');
  mw.state = 'preview';
  previewReady();
});

async function previewReady() {
  mw.localStream = localStream;
  $('#self-preview').srcObject = localStream;
  $('#self-preview').hidden = !localStream.getVideoTracks().length;
  meterMic(localStream, $('#mic-level'), () => mw.state === 'preview');
  await fillDeviceChoices();
  const btn = $('#btn-join');
  btn.disabled = false;
  btn.focus();
  runNetworkCheck();
}

async function fillDeviceChoices() {
  let devices;
  try { devices = await listDevices(); } catch { return; }
  mw.devices = { cameras: devices.cameras.length, mics: devices.mics.length };
  const fill = (sel, list, track, box) => {
    const current = track && track.getSettings ? track.getSettings().deviceId : null;
    sel.replaceChildren(...list.map((d, i) => {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = d.label || `${i + 1}`;
      o.selected = d.deviceId === current;
      return o;
    }));
    box.hidden = list.length < 2;
  };
  fill($('#camera-select'), localStream.getVideoTracks().length ? devices.cameras : [], localStream.getVideoTracks()[0], $('#camera-choice'));
  fill($('#mic-select'), devices.mics, localStream.getAudioTracks()[0], $('#mic-choice'));
  const cam = localStream.getVideoTracks()[0];
  if (cam && cam.label) say($('#camera-name'), 'usingCamera', { name: cam.label });
}

// Swaps one kind of track of the local stream for the chosen device's.
async function useDevice(kind, deviceId) {
  const constraints = kind === 'video'
    ? { video: { ...VIDEO, facingMode: undefined, deviceId: { exact: deviceId } } }
    : { audio: { ...AUDIO, deviceId: { exact: deviceId } } };
  let fresh;
  try {
    fresh = await navigator.mediaDevices.getUserMedia(constraints);
  } catch {
    return; // the old device stays
  }
  const track = fresh.getTracks()[0];
  for (const old of kind === 'video' ? localStream.getVideoTracks() : localStream.getAudioTracks()) {
    localStream.removeTrack(old);
    old.stop();
  }
  localStream.addTrack(track);
  mw.chosen = { ...(mw.chosen || {}), [kind]: track.getSettings().deviceId };
  if (kind === 'video') {
    $('#self-preview').srcObject = localStream;
    say($('#camera-name'), 'usingCamera', { name: track.label });
  }
  if (kind === 'audio') meterMic(localStream, $('#mic-level'), () => mw.state === 'preview');
}
$('#camera-select').addEventListener('change', (e) => useDevice('video', e.target.value));
$('#mic-select').addEventListener('change', (e) => useDevice('audio', e.target.value));

$('#btn-tone').addEventListener('click', async () => {
  mw.tone = (await playTone()) ? 'played' : 'unavailable';
  $('#tone-question').hidden = false;
  said.delete($('#tone-result'));
  $('#tone-result').textContent = '';
});
for (const [id, heard] of [['#btn-heard-yes', true], ['#btn-heard-no', false]]) {
  $(id).addEventListener('click', () => {
    mw.tone = heard ? 'heard' : 'not_heard';
    $('#tone-question').hidden = true;
    const out = $('#tone-result');
    out.dataset.heard = String(heard);
    say(out, heard ? 'toneHeard' : 'toneNotHeard');
  });
}

async function runNetworkCheck() {
  const out = $('#net-result');
  out.dataset.verdict = 'checking';
  say(out, 'netChecking');
  $('#net-figures').textContent = '';
  $('#btn-net-retry').hidden = true;
  netAbort = new AbortController();
  const r = await checkNetwork(token, { signal: netAbort.signal });
  netAbort = null;
  if (mw.state !== 'preview') return;
  mw.net = r;
  out.dataset.verdict = r.verdict;
  say(out, { good: 'netGood', weak: 'netWeak', none: 'netNone' }[r.verdict]);
  const rate = () => (r.kbps < 1000 ? t('kbps', { n: r.kbps })
    : t('mbps', { n: r.kbps >= 100000 ? '100+' : String(Math.round(r.kbps / 100) / 10) }));
  if (r.kbps != null) say($('#net-figures'), 'netFigures', { rate, rtt: r.rttMs ?? '–' });
  $('#btn-net-audio-only').hidden = r.verdict !== 'weak' && !wantAudioOnly;
  $('#btn-net-retry').hidden = r.verdict === 'good';
}
$('#btn-net-retry').addEventListener('click', () => runNetworkCheck());
$('#btn-net-audio-only').addEventListener('click', () => chooseAudioOnly(!wantAudioOnly));

function chooseAudioOnly(on) {
  wantAudioOnly = on;
  mw.wantAudioOnly = on;
  const b = $('#btn-net-audio-only');
  b.setAttribute('aria-pressed', String(on));
  if (on) b.hidden = false;
  if (on) notice('audioOnlyChosen');
  else if (noticeWords && noticeWords[0] === 'audioOnlyChosen') notice(null);
}

// --- Waiting room and call --------------------------------------------------------------------

// One #messages container (engineer B's chat mounts in it) follows the page between the waiting
// room and the call.
function moveMessages(name) {
  const slot = document.querySelector(`.messages-slot[data-slot="${name}"]`);
  const box = $('#messages');
  if (slot && box && box.parentElement !== slot) slot.append(box);
}

// A peer connection that had connected and then failed (Chrome gives up on its ICE pairs about
// 15-20 s into a network cut) does not come back by itself: the page joins again on a new
// connection, once per connection, and the server starts its media afresh.
let rejoinedSinceWelcome = false;
function rejoinIfFailed(pcId) {
  if (mw.state !== 'call' || rejoinedSinceWelcome || !call.connectedAt.has(pcId)) return;
  rejoinedSinceWelcome = true;
  mw.mediaRejoins = (mw.mediaRejoins || 0) + 1;
  signaling.reconnectNow('media failed');
}

function waitWords(min) {
  if (min == null) return ['waitUnknown', {}];
  if (min <= 0) return ['waitNow', {}];
  if (min === 1) return ['waitOne', {}];
  return ['waitMany', { n: min }];
}

function join() {
  $('#btn-join').disabled = true;
  if (netAbort) netAbort.abort();
  state('connecting', 'connecting');
  mw.state = 'connecting';
  signaling = new Signaling(() => ({ type: 'hello', token }));
  mountChat(signaling, token); // messages, photo of a document, advice (web/js/chat.js)
  call = new Call(signaling, {
    getLocalStream: () => localStream,
    onRemoteTrack: (pid, track, stream) => showRemoteTrack(call, people, pid, track, stream),
    onPcState: (pcId, st) => {
      if (st === 'failed' && !finished) rejoinIfFailed(pcId);
      if (pcId === 'pub' && st === 'failed' && !finished) notice('pubFailed', {}, 'warn');
      if (pcId === 'pub' && st === 'disconnected' && !finished) notice('pubInterrupted', {}, 'warn');
      if (pcId === 'pub' && st === 'connected') notice(null);
    },
  });
  mw.signaling = signaling;
  mw.call = call;
  mw.pcs = call.pcs;
  mw.summary = () => call.summary();

  signaling.on('welcome', (m) => {
    me = String(m.participant_id);
    mw.participantId = me;
    // The remembered choice: the server applies it in the relay; we stop our own camera too.
    // A choice made in the check (weak network, camera refused) is told to the server.
    const remembered = m.audio_only === true;
    setAudioOnly(remembered || wantAudioOnly, wantAudioOnly && !remembered);
    rejoinedSinceWelcome = false;
    mw.reconnecting = false;
    document.body.dataset.connection = 'ok';
    if (m.reconnected) {
      // The server starts our media afresh on a new connection.
      call.closeAll();
      for (const fig of [...$('#remote-videos').children]) removeTile($('#remote-videos'), fig.dataset.participant);
      notice('connectedAgain');
      mw.reconnected = (mw.reconnected || 0) + 1;
      setTimeout(() => { if (noticeWords && noticeWords[0] === 'connectedAgain') notice(null); }, 4000);
    }
  });
  signaling.on('waiting', (m) => {
    if (finished) return;
    mw.waiting = m;
    $('#waiting-position').textContent = m.position != null ? String(m.position) : '–';
    const [wk, wv] = waitWords(m.expected_wait_min);
    const ew = $('#expected-wait');
    ew.dataset.minutes = m.expected_wait_min == null ? '' : String(m.expected_wait_min);
    say(ew, wk, wv);
    const ds = { available: 'doctorAvailable', busy: 'doctorBusy', offline: 'doctorOffline' }[m.doctor_status];
    if (ds) say($('#doctor-status'), ds);
    $('#self-waiting').srcObject = localStream;
    $('#self-waiting').hidden = !localStream.getVideoTracks().length;
    if (m.position === 1) view('waiting', 'waitingNext');
    else view('waiting', 'waitingPlaceState', { n: m.position });
    mw.state = 'waiting';
  });
  signaling.on('call_started', (m) => {
    if (finished) return;
    callStarted = true;
    for (const p of m.participants || []) addPerson(p);
    $('#self-view').srcObject = localStream;
    view('call', 'inCall');
    mw.state = 'call';
  });
  signaling.on('participant_joined', (m) => {
    const p = m.participant || {};
    addPerson(p);
    notice('joinedCall', { who: () => roleLabel(p.role) });
  });
  signaling.on('participant_left', (m) => {
    const pid = String(m.participant_id);
    const p = people.get(pid);
    people.delete(pid);
    removeTile($('#remote-videos'), pid);
    dropQuality($('#quality'), pid);
    const who = () => (p ? roleLabel(p.role) : t('someone'));
    const how = m.reason === 'dropped' ? 'lostConnection' : 'leftCall';
    notice(p && p.role === 'doctor' ? `${how}Doctor` : how, { who }, 'warn');
  });
  signaling.on('participant_away', (m) => {
    const p = people.get(String(m.participant_id));
    notice('otherAway', { who: () => (p ? roleLabel(p.role) : t('theOther')) }, 'warn');
  });
  signaling.on('participant_back', (m) => {
    const p = people.get(String(m.participant_id));
    notice('otherBack', { who: () => (p ? roleLabel(p.role) : t('theOther')) });
  });
  signaling.on('call_ended', (m) => end(m.reason === 'ended_by_doctor' ? 'endedByDoctor' : 'endedGeneric'));
  signaling.on('error', (m) => {
    if (!m.fatal) console.warn('server said:', m.code, m.message);
  });
  signaling.on('quality', (m) => {
    if (finished) return;
    showQuality($('#quality'), me, m);
    if (String(m.participant) === me) {
      weakLink = m.video === 'weak_link';
      showVideoNotice();
    }
  });
  signaling.on('reconnecting', (r) => {
    if (finished) return;
    // Said in words, and kept on screen until the server has us again.
    mw.reconnecting = true;
    mw.reconnectAttempts = (mw.reconnectAttempts || 0) + 1;
    document.body.dataset.connection = 'reconnecting';
    notice(r.attempt > 1 ? 'reconnectingAttempt' : 'reconnecting', { n: r.attempt }, 'warn');
    state('reconnecting', 'reconnectingState');
  });
  signaling.on('fatal', (c) => {
    if (finished) return;
    // The close code decides the words (it is the stable part of the contract); the server's
    // own error code is kept beside it for the clinic.
    // For a patient, 4403 can only mean the clinic revoked the link.
    const code = c.code === 4403 ? 'revoked_token' : CLOSE_CODES[c.code] || c.codeName || `close_${c.code}`;
    showError(code, {}, c.code);
    if (c.error && c.error.code) $('#error-code').dataset.serverCode = c.error.code;
  });
  signaling.connect();
}

// Audio only: we neither send nor (the relay's side) receive video. `tell`: send the choice to
// the server (false when it came from the server's welcome).
function setAudioOnly(on, tell) {
  audioOnly = !!on;
  mw.audioOnly = audioOnly;
  $('#btn-audio-only').setAttribute('aria-pressed', String(audioOnly));
  if (call) call.setVideoPaused(audioOnly);
  if (tell && signaling) signaling.send({ type: 'audio_only', on: audioOnly });
  showVideoNotice();
}

function showVideoNotice() {
  if (weakLink) setVideoNotice($('#video-notice'), qt.weakSelfPatient, 'weak_link');
  else if (audioOnly) setVideoNotice($('#video-notice'), qt.audioOnlyOn, 'chosen');
  else setVideoNotice($('#video-notice'), '');
}

function addPerson(p) {
  if (!p || p.participant_id == null) return;
  const pid = String(p.participant_id);
  if (pid === me) return;
  people.set(pid, { role: p.role, name: p.name });
  ensureTile($('#remote-videos'), pid, personLabel(p.role, p.name));
}

// Mute and camera: the button says what a press will do, in the page's language.
function toggle(kind, btn, onKey, offKey) {
  const tracks = localStream ? (kind === 'audio' ? localStream.getAudioTracks() : localStream.getVideoTracks()) : [];
  if (!tracks.length) return;
  const off = tracks[0].enabled;
  for (const tr of tracks) tr.enabled = !off;
  btn.setAttribute('aria-pressed', String(off));
  btn.dataset.i18n = off ? offKey : onKey;
  btn.textContent = t(btn.dataset.i18n);
}

// --- The end, the rating ----------------------------------------------------------------------

function end(reasonKey) {
  if (finished) return;
  finished = true;
  if (call) call.closeAll();
  if (signaling) signaling.close();
  stopLocal();
  say($('#ended-reason'), reasonKey);
  const canRate = callStarted && info && info.role === 'patient' && !info.rated;
  $('#rating-form').hidden = !canRate;
  renderStars();
  notice(null);
  view('ended', 'endedState');
  mw.state = 'ended';
}

function renderStars() {
  const box = $('#stars');
  const names = t('stars');
  if (!box.children.length) {
    for (let i = 1; i <= 5; i++) {
      const id = `stars-${i}`;
      const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'stars', value: String(i), id });
      const label = Object.assign(document.createElement('label'), { htmlFor: id });
      const span = document.createElement('span');
      label.append(input, span);
      box.append(label);
    }
  }
  [...box.querySelectorAll('label span')].forEach((s, i) => { s.textContent = names[i]; });
}

$('#rating-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('#rating-error');
  const picked = document.querySelector('input[name="stars"]:checked');
  if (!picked) {
    say(err, 'rateChoose');
    err.hidden = false;
    document.querySelector('input[name="stars"]').focus();
    return;
  }
  err.hidden = true;
  const comment = $('#rating-comment').value.trim();
  const btn = $('#btn-rate');
  btn.disabled = true;
  try {
    const r = await fetch(`/api/join/${encodeURIComponent(token)}/rating`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(comment ? { stars: Number(picked.value), comment } : { stars: Number(picked.value) }),
    });
    let body = {};
    try { body = await r.json(); } catch { /* empty */ }
    if (r.status === 201 || body.error === 'already_rated') {
      mw.rated = { status: r.status, stars: Number(picked.value) };
      view('thanks', 'thanksState');
      mw.state = 'thanks';
      return;
    }
    say(err, 'rateFailed');
    err.hidden = false;
  } catch {
    say(err, 'rateFailed');
    err.hidden = false;
  } finally {
    btn.disabled = false;
  }
});

function hangUp() {
  if (signaling) signaling.send({ type: 'leave' });
  end('youLeft');
}

$('#btn-join').addEventListener('click', join);
$('#btn-hangup').addEventListener('click', hangUp);
$('#btn-leave-waiting').addEventListener('click', hangUp);
$('#btn-mute').addEventListener('click', (e) => toggle('audio', e.currentTarget, 'mute', 'unmute'));
$('#btn-camera').addEventListener('click', (e) => toggle('video', e.currentTarget, 'cameraOff', 'cameraOn'));
$('#btn-audio-only').addEventListener('click', () => setAudioOnly(!audioOnly, true));
window.addEventListener('pagehide', () => { if (signaling && !finished) signaling.close(1001, 'page closed'); });

// The browser first: without WebRTC nothing else on this page can work.
applyLanguage(initialLanguage(), false);
state('loading', 'loading');
if (!supported()) showError('no_webrtc');
else checkLink();
