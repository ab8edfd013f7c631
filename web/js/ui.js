// Small DOM helpers shared by the patient page and the doctor console: switching views, the
// status line (#state, with a machine-readable data-state for tests), video tiles keyed by
// participant id, and the plain-words text for every refusal the server can give.

import { watchFirstFrame } from './call.js';

export const $ = (sel, root = document) => root.querySelector(sel);

/** Shows the section #view-<name>, hides the others, and says the state in #state. */
export function setView(name, stateText) {
  for (const el of document.querySelectorAll('[data-view]')) {
    el.hidden = el.dataset.view !== name;
  }
  setState(name, stateText);
}

export function setState(name, text) {
  const st = $('#state');
  if (!st) return;
  st.dataset.state = name;
  st.textContent = text || '';
}

/** A transient line under the status (reconnecting, someone left). Empty text hides it. */
export function setNotice(text, kind = 'info') {
  const n = $('#notice');
  if (!n) return;
  n.textContent = text || '';
  n.dataset.kind = kind;
  n.hidden = !text;
}

// The patient's page sets its own language's role names and quality words (web/js/i18n.js);
// the console keeps the English below.
let roleNames = null;
export function setRoleLabels(names) {
  roleNames = names;
}

export function roleLabel(role) {
  if (roleNames) return roleNames[role] || (role ? String(role) : roleNames.participant);
  return {
    patient: 'Patient',
    doctor: 'Doctor',
    interpreter: 'Interpreter',
    specialist: 'Specialist',
    family: 'Family member',
    admin: 'Clinic admin',
  }[role] || (role ? String(role) : 'Participant');
}

/** "Doctor: Dr Amina", or only the role when the name says nothing more (a guest). */
export function personLabel(role, name) {
  const r = roleLabel(role);
  return name && name.toLowerCase() !== String(role).toLowerCase() ? `${r}: ${name}` : r;
}

/** Returns (creating if needed) the tile and <video> for one remote participant. */
export function ensureTile(container, participantId, label) {
  const pid = String(participantId);
  let fig = container.querySelector(`figure[data-participant="${CSS.escape(pid)}"]`);
  if (!fig) {
    fig = document.createElement('figure');
    fig.className = 'tile';
    fig.dataset.participant = pid;
    const video = document.createElement('video');
    video.dataset.participant = pid;
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute('playsinline', '');
    const cap = document.createElement('figcaption');
    fig.append(video, cap);
    container.append(fig);
  }
  if (label) fig.querySelector('figcaption').textContent = label;
  return { fig, video: fig.querySelector('video') };
}

export function removeTile(container, participantId) {
  const fig = container.querySelector(`figure[data-participant="${CSS.escape(String(participantId))}"]`);
  if (fig) {
    const v = fig.querySelector('video');
    if (v) v.srcObject = null;
    fig.remove();
  }
}

export function mmss(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function localTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString(undefined, {
    weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit',
  });
}

export function clockTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/**
 * Plain words for an error code (from the HTTP API or a WSS refusal).
 * @returns {{title: string, message: string}}
 */
export function explainError(code, extra = {}) {
  switch (code) {
    case 'unknown_token':
      return {
        title: 'This link does not work',
        message: 'We could not find a consultation for this link. Please check that you opened the whole link from your message, or contact the clinic.',
      };
    case 'expired_token':
      return {
        title: 'This link has expired',
        message: 'The time for this consultation has passed. Please contact the clinic to get a new link.',
      };
    case 'too_early':
      return {
        title: 'It is too early to join',
        message: extra.valid_from
          ? `Your consultation room opens on ${localTime(extra.valid_from)}. Please open this link again then.`
          : 'Your consultation room is not open yet. Please open this link again closer to your appointment time.',
      };
    case 'revoked_token':
      return {
        title: 'This link was cancelled',
        message: 'The clinic cancelled this link. Please contact the clinic if you still need a consultation.',
      };
    case 'token_in_use':
      return {
        title: 'This link is already open',
        message: 'This consultation is already open in another window or on another phone. Close the other one, then reload this page.',
      };
    case 'not_authenticated':
      return {
        title: 'You cannot join with this link',
        message: 'The clinic has not allowed this connection. Please contact the clinic.',
      };
    case 'authentication_timeout':
      return {
        title: 'The connection timed out',
        message: 'Joining took too long. Please check your internet connection and reload this page.',
      };
    case 'message_too_large':
      return {
        title: 'Something went wrong',
        message: 'The page sent something the server could not accept. Please reload this page.',
      };
    case 'camera_denied':
      return {
        title: 'Camera and microphone are blocked',
        message: 'The doctor needs to see and hear you. Allow this page to use your camera and microphone in your browser settings, then reload this page.',
      };
    case 'no_devices':
      return {
        title: 'No camera or microphone found',
        message: 'We could not find a microphone on this device. Connect one, or use another phone, then reload this page.',
      };
    case 'no_webrtc':
      return {
        title: 'This browser cannot make video calls',
        message: 'Please open the link in an up-to-date Chrome, Firefox or Safari.',
      };
    case 'network':
      return {
        title: 'No connection to the clinic',
        message: 'We could not reach the clinic’s server. Please check your internet connection and reload this page.',
      };
    default:
      return {
        title: 'Something went wrong',
        message: 'Please reload this page. If it happens again, contact the clinic.',
      };
  }
}

// Mute/unmute the local stream's tracks of one kind; the button says what a press will do.
export function toggleTracks(stream, kind, btn, onText, offText) {
  const tracks = stream ? (kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks()) : [];
  if (!tracks.length) return;
  const off = tracks[0].enabled;
  for (const t of tracks) t.enabled = !off;
  btn.setAttribute('aria-pressed', String(off));
  btn.textContent = off ? offText : onText;
}

// Shows a remote participant's track in their tile (made on first use) of #remote-videos, and
// notes the first decoded frame of their video for the call's figures.
export function showRemoteTrack(call, people, pid, track, stream) {
  const p = people.get(String(pid));
  const { video } = ensureTile($('#remote-videos'), pid, p ? personLabel(p.role, p.name) : null);
  if (video.srcObject !== stream) video.srcObject = stream;
  if (track.kind === 'video') watchFirstFrame(call, `sub:${pid}`, video);
  video.play().catch(() => {});
}

// --- Link quality and audio only ---------------------------------------------------------------
// Every string the quality indicator, the video-paused notices and the audio-only switch show,
// in one place, so the Urdu version (issue 5) is one more table beside this one.
export const QUALITY_TEXT = {
  en: {
    levels: { good: 'good', fair: 'fair', poor: 'poor', unknown: 'checking…' },
    yours: 'Your connection',
    theirs: (role) => `${roleLabel(role)}’s connection`,
    weakSelfPatient: 'Your connection is weak: video is paused, you can still talk. Video comes back by itself.',
    weakSelfStaff: 'Your connection is weak: video is paused, audio continues. Video comes back by itself.',
    weakPatient: 'The patient’s connection is weak: video paused, audio continues.',
    chosenPatient: 'The patient chose audio only: video paused, audio continues.',
    audioOnly: 'Audio only',
    audioOnlyOn: 'Audio only is on: no video is sent or received, you can still talk.',
  },
};
export let qt = QUALITY_TEXT.en;
/** Replaces the words the quality indicator and notices use (the patient page's language). */
export function setQualityText(table) {
  qt = table;
}

/** "good", "fair" or "poor" for a quality message (the server's five labels, in three words). */
export function qualityLevel(m) {
  const s = Number(m && m.score);
  if (!s) return 'unknown';
  return s >= 4 ? 'good' : s === 3 ? 'fair' : 'poor';
}

/**
 * Shows one participant's connection in `list` (a <ul>): "Your connection: good" for `me`,
 * "Doctor’s connection: fair" for the others. Touches the DOM only when the words change, so a
 * screen reader hears a change, not a tick every second.
 */
export function showQuality(list, me, m) {
  if (!list || !m || m.participant == null) return;
  const pid = String(m.participant);
  let li = list.querySelector(`li[data-participant="${CSS.escape(pid)}"]`);
  if (!li) {
    li = document.createElement('li');
    li.dataset.participant = pid;
    if (pid === me) list.prepend(li); else list.append(li);
  }
  const level = qualityLevel(m);
  const text = `${pid === me ? qt.yours : qt.theirs(m.role)}: ${qt.levels[level]}`;
  li.dataset.level = level;
  li.dataset.video = m.video || 'on';
  li.dataset.score = String(m.score ?? '');
  if (li.textContent !== text) li.textContent = text;
  list.hidden = false;
}

/** Forgets a participant who left. */
export function dropQuality(list, participantId) {
  const li = list && list.querySelector(`li[data-participant="${CSS.escape(String(participantId))}"]`);
  if (li) li.remove();
}

/** A standing notice (video paused, audio only); empty text hides it. Only changes are written. */
export function setVideoNotice(el, text, reason = '') {
  if (!el) return;
  if (el.textContent !== (text || '')) el.textContent = text || '';
  el.dataset.reason = text ? reason : '';
  el.hidden = !text;
}
