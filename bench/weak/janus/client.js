// A minimal Janus VideoRoom client for the weak-link bench: the Janus WebSocket API spoken
// directly (no janus.js). It joins a room as publisher (microphone + camera, 640x360 ideal),
// subscribes to every other publisher with a second RTCPeerConnection per feed, trickles ICE
// candidates and sends a keepalive every 25 s. Query: ?ws=ws://host:8188&room=1234&display=name
// Exposes window.__pcs (all RTCPeerConnections), window.__janus (state, event log),
// __janusStats(), __janusReceiving(), __janusLeave().
'use strict';

const Q = new URLSearchParams(location.search);
const WS_URL = Q.get('ws');
const ROOM = Number(Q.get('room') || 1234);
const DISPLAY = Q.get('display') || 'peer';
const S = (window.__janus = { state: 'init', myId: null, subscriptions: {}, events: [], error: null });
window.__pcs = [];

let ws, sessionId, pubHandle, pubPc, privateId, keepalive, localStream;
const pending = new Map(); // transaction -> { resolve, reject, timer }
const handlers = new Map(); // handle id -> fn(msg) for messages without a pending transaction

function note(msg) {
  S.events.push(`${(performance.now() / 1000).toFixed(2)} ${msg}`);
  if (S.events.length > 300) S.events.shift();
  console.log(`[janus-client] ${msg}`);
  document.getElementById('status').textContent = `${S.state}\n${S.events.slice(-20).join('\n')}`;
}
function fail(e) {
  S.error = String(e && e.message ? e.message : e);
  S.state = 'failed';
  note(`error: ${S.error}`);
}

function send(msg) {
  msg.transaction = msg.transaction || Math.random().toString(36).slice(2, 14);
  if (sessionId && msg.janus !== 'create') msg.session_id = sessionId;
  ws.send(JSON.stringify(msg));
  return msg.transaction;
}

/** Sends a request; resolves with the first reply that is not an "ack" (success or event). */
function call(msg, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const t = send(msg);
    const timer = setTimeout(() => { pending.delete(t); reject(new Error(`${msg.janus} ${msg.body ? msg.body.request : ''}: no reply`)); }, timeoutMs);
    pending.set(t, { resolve, reject, timer });
  });
}

/** A plugin request on a handle; resolves with { data, jsep } of the plugin's reply. */
async function message(handle, body, jsep) {
  const m = { janus: 'message', handle_id: handle, body };
  if (jsep) m.jsep = { type: jsep.type, sdp: jsep.sdp };
  const r = await call(m);
  const data = r.plugindata ? r.plugindata.data : {};
  if (data.error) throw new Error(`${body.request}: ${data.error_code} ${data.error}`);
  return { data, jsep: r.jsep };
}

function onWsMessage(ev) {
  const m = JSON.parse(ev.data);
  // Acks carry nothing: keepalive and trickle get only an ack; an asynchronous plugin request
  // is acked first and answered later by an event with the same transaction.
  if (m.janus === 'ack') return;
  const p = m.transaction && pending.get(m.transaction);
  if (p) {
    pending.delete(m.transaction);
    clearTimeout(p.timer);
    if (m.janus === 'error') p.reject(new Error(`janus error ${m.error.code}: ${m.error.reason}`));
    else p.resolve(m);
    return;
  }
  const h = handlers.get(m.sender);
  if (h) h(m);
  else if (m.janus !== 'success') note(`unrouted ${m.janus} from ${m.sender}`);
}

function newPc(label, handle) {
  const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  pc.__label = label;
  window.__pcs.push(pc);
  pc.onicecandidate = (e) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    const c = e.candidate;
    note(`${label}: local candidate ${c ? c.candidate : '(end)'}`);
    send({ janus: 'trickle', handle_id: handle,
      candidate: c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : { completed: true } });
  };
  pc.onconnectionstatechange = () => note(`${label}: pc ${pc.connectionState}`);
  return pc;
}

function commonEvent(who, m) {
  if (m.janus === 'webrtcup') note(`${who}: webrtcup`);
  else if (m.janus === 'media') note(`${who}: media ${m.type} receiving=${m.receiving}`);
  else if (m.janus === 'slowlink') note(`${who}: slowlink uplink=${m.uplink} lost=${m.lost}`);
  else if (m.janus === 'hangup') note(`${who}: hangup ${m.reason || ''}`);
  else if (m.janus === 'detached') note(`${who}: detached`);
  else return false;
  return true;
}

function onPublisherEvent(m) {
  if (commonEvent('publisher', m)) return;
  if (m.janus !== 'event' || !m.plugindata) return;
  const d = m.plugindata.data;
  if (d.publishers) for (const p of d.publishers) subscribe(p).catch(fail);
  if (d.joining) note(`joining: ${d.joining.display} (${d.joining.id})`);
  const gone = d.unpublished || d.leaving;
  if (gone && gone !== 'ok' && S.subscriptions[gone]) dropSubscription(S.subscriptions[gone], 'unpublished');
  if (d.error) note(`publisher event error: ${d.error}`);
}

async function subscribe(p) {
  if (p.id === S.myId || S.subscriptions[p.id]) return;
  const sub = (S.subscriptions[p.id] = { feed: p.id, display: p.display, state: 'attaching' });
  note(`subscribing to ${p.display} (${p.id})`);
  const a = await call({ janus: 'attach', plugin: 'janus.plugin.videoroom' });
  sub.handle = a.data.id;
  handlers.set(sub.handle, (m) => {
    if (commonEvent(`sub ${sub.display}`, m)) return;
    if (m.janus === 'event' && m.jsep && m.jsep.type === 'offer') renegotiate(sub, m.jsep).catch(fail);
  });
  const r = await message(sub.handle, { request: 'join', ptype: 'subscriber', room: ROOM,
    streams: [{ feed: p.id }], private_id: privateId });
  const pc = (sub.pc = newPc(`sub ${sub.display}`, sub.handle));
  const stream = new MediaStream();
  const video = document.createElement('video');
  video.autoplay = true; video.playsInline = true; video.srcObject = stream; video.id = `remote-${p.id}`;
  document.getElementById('remote').appendChild(video);
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    note(`sub ${sub.display}: track ${e.track.kind}`);
    video.play().catch((err) => { note(`play() refused (${err.name}); muting`); video.muted = true; video.play().catch(() => {}); });
  };
  await renegotiate(sub, r.jsep);
  sub.state = 'started';
}

async function renegotiate(sub, offer) {
  await sub.pc.setRemoteDescription(offer);
  const answer = await sub.pc.createAnswer();
  await sub.pc.setLocalDescription(answer);
  await message(sub.handle, { request: 'start', room: ROOM }, answer);
}

function dropSubscription(sub, why) {
  note(`dropping subscription to ${sub.display}: ${why}`);
  if (sub.pc) sub.pc.close();
  if (sub.handle) send({ janus: 'detach', handle_id: sub.handle });
  const v = document.getElementById(`remote-${sub.feed}`);
  if (v) v.remove();
  delete S.subscriptions[sub.feed];
}

async function main() {
  ws = new WebSocket(WS_URL, 'janus-protocol');
  ws.onmessage = onWsMessage;
  ws.onclose = (e) => { note(`websocket closed ${e.code}`); if (S.state !== 'left') S.state = 'closed'; };
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error(`websocket ${WS_URL} failed`)); });
  sessionId = (await call({ janus: 'create' })).data.id;
  keepalive = setInterval(() => send({ janus: 'keepalive' }), 25000);
  pubHandle = (await call({ janus: 'attach', plugin: 'janus.plugin.videoroom' })).data.id;
  handlers.set(pubHandle, onPublisherEvent);
  const joined = await message(pubHandle, { request: 'join', ptype: 'publisher', room: ROOM, display: DISPLAY });
  S.myId = joined.data.id;
  privateId = joined.data.private_id;
  S.state = 'joined';
  note(`joined room ${ROOM} as ${DISPLAY} (${S.myId})`);

  localStream = await navigator.mediaDevices.getUserMedia({ audio: true,
    video: { width: { ideal: 640 }, height: { ideal: 360 } } });
  const lv = document.createElement('video');
  lv.muted = true; lv.autoplay = true; lv.srcObject = localStream;
  document.getElementById('local').appendChild(lv);
  pubPc = newPc('publisher', pubHandle);
  for (const t of localStream.getTracks()) pubPc.addTransceiver(t, { direction: 'sendonly', streams: [localStream] });
  const offer = await pubPc.createOffer();
  await pubPc.setLocalDescription(offer);
  const r = await message(pubHandle, { request: 'configure', audio: true, video: true }, offer);
  await pubPc.setRemoteDescription(r.jsep);
  S.state = 'published';
  note('published');
  for (const p of joined.data.publishers || []) subscribe(p).catch(fail);
}

/** Inbound figures per subscribed feed (by display name). */
window.__janusStats = async () => {
  const out = {};
  for (const sub of Object.values(S.subscriptions)) {
    if (!sub.pc) continue;
    const a = {}, v = {};
    (await sub.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') Object.assign(a, r);
      if (r.type === 'inbound-rtp' && r.kind === 'video') Object.assign(v, r);
    });
    out[sub.display] = {
      audioPackets: a.packetsReceived || 0, audioSamples: a.totalSamplesReceived || 0,
      audioEnergy: a.totalAudioEnergy || 0, audioConcealed: a.concealedSamples || 0,
      videoPackets: v.packetsReceived || 0, framesDecoded: v.framesDecoded || 0,
      width: v.frameWidth || 0, height: v.frameHeight || 0, videoBytes: v.bytesReceived || 0,
    };
  }
  return out;
};

/** True once some subscribed feed has decoded video frames and played out audio samples. */
window.__janusReceiving = async () => Object.values(await window.__janusStats())
  .some((x) => x.framesDecoded > 0 && x.audioPackets > 0 && x.audioSamples > 0);

/** True once some subscribed feed plays out audio (video may not have come through). */
window.__janusAudio = async () => Object.values(await window.__janusStats())
  .some((x) => x.audioPackets > 0 && x.audioSamples > 0);

/** The room as Janus describes it (videoroom "list"): shows the settings it runs with. */
window.__janusRoomInfo = async () => (await message(pubHandle, { request: 'list' })).data.list.find((r) => r.room === ROOM);

/** Leaves the room, closes every connection and destroys the Janus session. */
window.__janusLeave = async () => {
  if (S.state === 'left') return;
  try { if (pubHandle) await message(pubHandle, { request: 'leave' }); } catch (e) { note(`leave: ${e.message}`); }
  for (const pc of window.__pcs) pc.close();
  if (localStream) localStream.getTracks().forEach((t) => t.stop());
  try { if (sessionId) await call({ janus: 'destroy' }, 5000); } catch (e) { note(`destroy: ${e.message}`); }
  clearInterval(keepalive);
  S.state = 'left';
  ws.close();
};

main().catch(fail);
