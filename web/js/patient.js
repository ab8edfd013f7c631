// The patient's (or a guest's) page, at /join/<token>. Steps: check the link (GET /api/join),
// preview camera and microphone, join the waiting room over WSS, the call, the end. Every
// refusal ends on the error view with plain words and the code in #error-code.

import { Signaling, CLOSE_CODES } from './signaling.js';
import { Call } from './call.js';
import { $, setView, setState, setNotice, roleLabel, personLabel, ensureTile, removeTile, explainError, clockTime, toggleTracks, showRemoteTrack } from './ui.js';
import { qt, showQuality, dropQuality, setVideoNotice } from './ui.js';
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
let weakLink = false;     // the relay paused video towards us for a weak link
const people = new Map(); // participant id → {role, name}

function showError(code, extra = {}, closeCode = null) {
  finished = true;
  const { title, message } = explainError(code, extra);
  $('#error-title').textContent = title;
  $('#error-message').textContent = message;
  const codeEl = $('#error-code');
  codeEl.textContent = code || 'unknown';
  codeEl.dataset.code = code || 'unknown';
  if (closeCode != null) codeEl.dataset.closeCode = String(closeCode);
  setNotice('');
  setView('error', title);
  mw.state = 'error';
  stopLocal();
}

function stopLocal() {
  if (localStream) for (const t of localStream.getTracks()) t.stop();
}

function doctorStatusText(s) {
  return { available: 'ready, will let you in soon', busy: 'with another patient', offline: 'not online yet' }[s] || s || '–';
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
  return startPreview();
}

async function startPreview() {
  if (!window.RTCPeerConnection || !navigator.mediaDevices?.getUserMedia) return showError('no_webrtc');
  const who = info.role && info.role !== 'patient' ? ` as ${roleLabel(info.role).toLowerCase()}` : '';
  $('#appointment-info').textContent =
    `Consultation with ${info.doctor_name || 'your doctor'} at ${clockTime(info.starts_at)}${who}.`;
  setView('preview', 'Checking your camera and microphone');
  mw.state = 'preview';
  try {
    localStream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: { width: { ideal: 640 }, height: { ideal: 360 }, facingMode: 'user' },
    });
  } catch (e) {
    if (e.name === 'NotAllowedError' || e.name === 'SecurityError') return showError('camera_denied');
    // No camera (or none that fits): a consultation by voice is still a consultation.
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ audio: true });
      setNotice('No camera found: the doctor will only hear you.');
    } catch (e2) {
      return showError(e2.name === 'NotAllowedError' ? 'camera_denied' : 'no_devices');
    }
  }
  mw.localStream = localStream;
  $('#self-preview').srcObject = localStream;
  meterMic(localStream);
  const btn = $('#btn-join');
  btn.disabled = false;
  btn.focus();
}

function meterMic(stream) {
  const track = stream.getAudioTracks()[0];
  if (!track || !window.AudioContext) return;
  const ctx = new AudioContext();
  const an = ctx.createAnalyser();
  an.fftSize = 256;
  ctx.createMediaStreamSource(new MediaStream([track])).connect(an);
  const buf = new Uint8Array(an.fftSize);
  const meter = $('#mic-level');
  const tick = () => {
    if (mw.state !== 'preview') { ctx.close(); return; }
    an.getByteTimeDomainData(buf);
    let peak = 0;
    for (const v of buf) peak = Math.max(peak, Math.abs(v - 128) / 128);
    meter.value = peak;
    setTimeout(tick, 100);
  };
  ctx.resume().catch(() => {});
  tick();
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

function join() {
  $('#btn-join').disabled = true;
  setState('connecting', 'Connecting…');
  mw.state = 'connecting';
  signaling = new Signaling(() => ({ type: 'hello', token }));
  mountChat(signaling, token); // messages, photo of a document, advice (web/js/chat.js)
  call = new Call(signaling, {
    getLocalStream: () => localStream,
    onRemoteTrack: (pid, track, stream) => showRemoteTrack(call, people, pid, track, stream),
    onPcState: (pcId, state) => {
      if (state === 'failed' && !finished) rejoinIfFailed(pcId);
      if (pcId === 'pub' && state === 'failed' && !finished) setNotice('Your connection to the clinic failed. Trying again…', 'warn');
      if (pcId === 'pub' && state === 'disconnected' && !finished) setNotice('Your connection is interrupted. Waiting for it to come back…', 'warn');
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
    // The remembered choice: the server applies it in the relay; we stop our own camera too.
    setAudioOnly(m.audio_only === true, false);
    rejoinedSinceWelcome = false;
    if (m.reconnected) {
      // The server starts our media afresh on a new connection.
      call.closeAll();
      for (const fig of [...$('#remote-videos').children]) removeTile($('#remote-videos'), fig.dataset.participant);
      setNotice('Connected again.');
      setTimeout(() => { if ($('#notice').textContent === 'Connected again.') setNotice(''); }, 3000);
    }
  });
  signaling.on('waiting', (m) => {
    if (finished) return;
    $('#waiting-position').textContent = m.position != null ? String(m.position) : '–';
    $('#doctor-status').textContent = doctorStatusText(m.doctor_status);
    $('#self-waiting').srcObject = localStream;
    setView('waiting', m.position === 1 ? 'Waiting: you are next' : `Waiting: place ${m.position} in the queue`);
    mw.state = 'waiting';
  });
  signaling.on('call_started', (m) => {
    if (finished) return;
    for (const p of m.participants || []) addPerson(p);
    $('#self-view').srcObject = localStream;
    setView('call', 'In the consultation');
    mw.state = 'call';
  });
  signaling.on('participant_joined', (m) => {
    const p = m.participant || {};
    addPerson(p);
    setNotice(`${roleLabel(p.role)} joined the call.`);
  });
  signaling.on('participant_left', (m) => {
    const pid = String(m.participant_id);
    const p = people.get(pid);
    people.delete(pid);
    removeTile($('#remote-videos'), pid);
    dropQuality($('#quality'), pid);
    const who = p ? roleLabel(p.role) : 'Someone';
    const how = m.reason === 'dropped' ? 'lost their connection' : 'left the call';
    const wait = p && p.role === 'doctor' ? ' Please wait; the doctor can come back.' : '';
    setNotice(`${who} ${how}.${wait}`, 'warn');
  });
  signaling.on('participant_away', (m) => {
    const p = people.get(String(m.participant_id));
    const who = p ? roleLabel(p.role) : 'The other person';
    setNotice(`${who}'s connection is interrupted. Please wait…`, 'warn');
  });
  signaling.on('participant_back', (m) => {
    const p = people.get(String(m.participant_id));
    setNotice(`${p ? roleLabel(p.role) : 'The other person'} is connected again.`);
  });
  signaling.on('call_ended', (m) => {
    const reason = m.reason === 'ended_by_doctor' ? 'The doctor ended the consultation.' : 'The consultation has ended.';
    end(`${reason} Thank you. You can close this page now.`);
  });
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
  signaling.on('reconnecting', () => {
    if (finished) return;
    setNotice('Connection lost. Reconnecting…', 'warn');
    setState('reconnecting', 'Reconnecting…');
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

function end(text) {
  finished = true;
  if (call) call.closeAll();
  if (signaling) signaling.close();
  stopLocal();
  $('#ended-reason').textContent = text;
  setNotice('');
  setView('ended', 'Consultation ended');
  mw.state = 'ended';
}

function hangUp() {
  if (signaling) signaling.send({ type: 'leave' });
  end('You left the consultation. You can close this page now.');
}

$('#btn-join').addEventListener('click', join);
$('#btn-hangup').addEventListener('click', hangUp);
$('#btn-leave-waiting').addEventListener('click', hangUp);
$('#btn-mute').addEventListener('click', (e) => toggleTracks(localStream, 'audio', e.currentTarget, 'Mute', 'Unmute'));
$('#btn-camera').addEventListener('click', (e) => toggleTracks(localStream, 'video', e.currentTarget, 'Camera off', 'Camera on'));
$('#btn-audio-only').textContent = qt.audioOnly;
$('#btn-audio-only').addEventListener('click', () => setAudioOnly(!audioOnly, true));
window.addEventListener('pagehide', () => { if (signaling && !finished) signaling.close(1001, 'page closed'); });

checkLink();
