// The WebRTC side of a call (docs/protocol.md, "The call"). The relay always offers; this page
// answers. One RTCPeerConnection per `pc` id: "pub" carries our camera and microphone to the
// relay, "sub:<participant_id>" carries one other participant's media to us. Candidates trickle
// both ways with sdpMLineIndex. Work on each pc is serialised on a promise chain, so an offer,
// its candidates and a close never interleave.
//
// Tests read window.__mw.call (this object) and window.__mw.pcs (the Map of pc id → pc).

const SUB_PREFIX = 'sub:';
// Repair delay (Call.noteQuality): a link counts as lossy from 0.5 % lost in a quality sample
// until 20 s without; the target moves in steps of at least 50 ms.
const REPAIR_LOSS = 0.005;
const REPAIR_HOLD_MS = 20000;
const REPAIR_STEP_MS = 50;

/**
 * The jitter buffer a subscriber's video needs (ms, 0 = the browser's own): one RTT of each lossy
 * link on the path (uplink: the relay asks the publisher again; downlink: we ask the relay), plus
 * 50 ms to notice the gap, at most 1500 ms.
 */
export function repairDelay(upRttMs, downRttMs) {
  const rtt = (upRttMs > 0 ? upRttMs : 0) + (downRttMs > 0 ? downRttMs : 0);
  return rtt > 0 ? Math.min(Math.round(rtt + 50), 1500) : 0;
}

export class Call {
  /**
   * @param {import('./signaling.js').Signaling} signaling
   * @param {object} hooks
   *   getLocalStream(): MediaStream|null — our camera/microphone
   *   onRemoteTrack(participantId, track, stream)
   *   onPcState(pcId, state) — the browser's connectionState of one pc
   */
  constructor(signaling, hooks) {
    this.signaling = signaling;
    this.hooks = hooks;
    this.pcs = new Map();          // pc id → RTCPeerConnection
    Object.defineProperty(window, '__pcs', { configurable: true, get: () => [...this.pcs.values()] }); // bench/weak reads it
    this.chains = new Map();       // pc id → Promise (the serial queue)
    this.pending = new Map();      // pc id → candidates that came before the offer
    this.remoteStreams = new Map(); // participant id → MediaStream
    this.firstFrameAt = new Map(); // pc id → ms from pc creation to first inbound video frame
    this.createdAt = new Map();
    this.connectedAt = new Map();  // pc id → ms from pc creation to connectionState "connected"
    // Set-up timeline: [pc id, what, epoch ms] for offer / answer / ice:<state> / dtls:<state> /
    // pc:<state> / frame, each kept once per pc (bench/weak prints it per stage).
    this.timeline = [];
    this.iceServers = [];          // from `welcome`: TURN with our own short-lived credential
    this.#bind();
  }

  #bind() {
    const s = this.signaling;
    // Every (re)connect's welcome brings a fresh credential; pcs made after it use it.
    s.on('welcome', (m) => { this.iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : []; });
    s.on('offer', (m) => this.#queue(m.pc, () => this.#onOffer(m)));
    s.on('candidate', (m) => this.#onCandidate(m));
    s.on('participant_left', (m) => this.closeParticipant(m.participant_id));
    s.on('call_ended', () => this.closeAll());
    s.on('max_bitrate', (m) => this.setMaxBitrate(m.video_kbps));
    s.on('welcome', (m) => { this.selfId = m.participant_id != null ? String(m.participant_id) : null; });
    s.on('quality', (m) => this.noteQuality(m));
  }

  #queue(pcId, fn) {
    const prev = this.chains.get(pcId) || Promise.resolve();
    const next = prev.then(fn).catch((e) => console.error(`call: ${pcId}:`, e));
    this.chains.set(pcId, next);
    return next;
  }

  #mark(pcId, what) {
    if (this.timeline.length >= 400) return;
    if (!this.timeline.some(([p, w]) => p === pcId && w === what)) this.timeline.push([pcId, what, Date.now()]);
  }

  static participantOf(pcId) {
    return typeof pcId === 'string' && pcId.startsWith(SUB_PREFIX) ? pcId.slice(SUB_PREFIX.length) : null;
  }

  #create(pcId) {
    let pc;
    try {
      pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    } catch (e) {
      // A server URL this browser refuses must not cost the call: without TURN, UDP and ICE-TCP
      // to the relay still work.
      console.error('call: ice_servers refused, going without:', e.message);
      pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
    }
    this.pcs.set(pcId, pc);
    this.createdAt.set(pcId, performance.now());
    pc.onicecandidate = (ev) => {
      if (this.pcs.get(pcId) !== pc) return;
      const c = ev.candidate;
      if (c && !c.candidate) return; // end of one generation; the null event follows
      this.signaling.send({
        type: 'candidate',
        pc: pcId,
        candidate: c ? c.candidate : null,
        sdpMLineIndex: c && c.sdpMLineIndex != null ? c.sdpMLineIndex : 0,
      });
    };
    pc.onconnectionstatechange = () => {
      if (this.pcs.get(pcId) !== pc) return;
      if (pc.connectionState === 'connected' && !this.connectedAt.has(pcId)) {
        this.connectedAt.set(pcId, Math.round(performance.now() - this.createdAt.get(pcId)));
      }
      this.#mark(pcId, `pc:${pc.connectionState}`);
      this.hooks.onPcState?.(pcId, pc.connectionState);
    };
    pc.oniceconnectionstatechange = () => {
      if (this.pcs.get(pcId) === pc) this.#mark(pcId, `ice:${pc.iceConnectionState}`);
    };
    const pid = Call.participantOf(pcId);
    if (pid !== null) {
      pc.ontrack = (ev) => {
        let stream = this.remoteStreams.get(pid);
        if (!stream) {
          stream = new MediaStream();
          this.remoteStreams.set(pid, stream);
        }
        stream.addTrack(ev.track);
        if (ev.track.kind === 'video') {
          this.repairDelayMs.delete(pcId); // a new pc (or receiver) starts from the browser's own
          this.#applyRepairDelay(pcId);
        }
        ev.track.addEventListener('ended', () => stream.removeTrack(ev.track));
        this.hooks.onRemoteTrack?.(pid, ev.track, stream);
      };
    }
    return pc;
  }

  async #onOffer(m) {
    let pc = this.pcs.get(m.pc);
    if (pc && pc.signalingState === 'closed') {
      this.pcs.delete(m.pc);
      pc = null;
    }
    const fresh = !pc;
    if (!pc) pc = this.#create(m.pc);
    this.#mark(m.pc, 'offer');
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
    } catch (e) {
      if (fresh) throw e;
      // A renegotiation the old pc cannot take (say, the relay rebuilt its side after a
      // reconnect with new DTLS keys): start this pc afresh.
      console.warn(`call: ${m.pc}: new pc after`, e);
      this.#closePc(m.pc);
      pc = this.#create(m.pc);
      await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
    }
    if (m.pc === 'pub') await this.#attachLocal(pc);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (m.pc === 'pub') await this.#applyVideoLimits(pc);
    this.signaling.send({ type: 'answer', pc: m.pc, sdp: pc.localDescription.sdp });
    this.#mark(m.pc, 'answer');
    const dtls = pc.getTransceivers().find((t) => t.receiver.transport)?.receiver.transport;
    if (dtls) dtls.addEventListener('statechange', () => this.#mark(m.pc, `dtls:${dtls.state}`));
    const queued = this.pending.get(m.pc) || [];
    this.pending.delete(m.pc);
    for (const c of queued) await this.#addCandidate(pc, c);
  }

  // The relay offers recvonly transceivers on "pub"; we send on each the local track of its kind.
  async #attachLocal(pc) {
    const stream = this.hooks.getLocalStream?.();
    const used = new Set();
    for (const t of pc.getTransceivers()) {
      if (t.stopped || t.currentDirection === 'stopped') continue;
      const kind = t.receiver.track.kind;
      const track = stream && stream.getTracks().find((tr) => tr.kind === kind && !used.has(tr));
      if (track) {
        used.add(track);
        t.direction = 'sendonly';
        await t.sender.replaceTrack(track);
        if (stream) t.sender.setStreams?.(stream);
      } else {
        t.direction = 'inactive';
      }
    }
  }

  #onCandidate(m) {
    this.#mark(m.pc, 'candidate');
    const pc = this.pcs.get(m.pc);
    if (!pc || !pc.remoteDescription) {
      // Before its offer (or while the offer is being applied): keep it for later.
      if (!this.pending.has(m.pc)) this.pending.set(m.pc, []);
      this.pending.get(m.pc).push(m);
      if (pc) this.#queue(m.pc, () => this.#flush(m.pc));
      return;
    }
    this.#queue(m.pc, () => this.#addCandidate(pc, m));
  }

  async #flush(pcId) {
    const pc = this.pcs.get(pcId);
    if (!pc || !pc.remoteDescription) return;
    const queued = this.pending.get(pcId) || [];
    this.pending.delete(pcId);
    for (const c of queued) await this.#addCandidate(pc, c);
  }

  async #addCandidate(pc, m) {
    if (pc.signalingState === 'closed') return;
    try {
      if (m.candidate === null || m.candidate === '') {
        await pc.addIceCandidate(); // end of candidates
      } else {
        await pc.addIceCandidate({ candidate: m.candidate, sdpMLineIndex: m.sdpMLineIndex ?? 0 });
      }
    } catch (e) {
      console.warn('call: candidate not added', m.candidate, e.message);
    }
  }

  #closePc(pcId) {
    const pc = this.pcs.get(pcId);
    this.pcs.delete(pcId);
    this.pending.delete(pcId);
    this.repairDelayMs.delete(pcId);
    if (pc) {
      try { pc.close(); } catch { /* already closed */ }
      this.hooks.onPcState?.(pcId, 'closed');
    }
  }

  // Our video sender's limits: the relay's cap (max_bitrate: kbit/s, 0 = stop sending video,
  // null = no cap) and our own audio-only choice. Applied with setParameters on "pub"'s video
  // sender, again after every (re)negotiation of "pub".
  videoCapKbps = null;
  videoPausedByUs = false;

  /** The relay's cap on our video (docs/protocol.md, max_bitrate). */
  setMaxBitrate(kbps) {
    this.videoCapKbps = typeof kbps === 'number' && kbps >= 0 ? kbps : null;
    return this.#queue('pub', () => this.#applyVideoLimits(this.pcs.get('pub')));
  }

  /** Our own choice: stop (true) or resume (false) sending video, whatever the cap says. */
  setVideoPaused(paused) {
    this.videoPausedByUs = !!paused;
    return this.#queue('pub', () => this.#applyVideoLimits(this.pcs.get('pub')));
  }

  async #applyVideoLimits(pc) {
    if (!pc || pc.signalingState === 'closed') return;
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === 'video');
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) return; // not negotiated yet
    const enc = params.encodings[0];
    const cap = this.videoCapKbps;
    if (cap) enc.maxBitrate = cap * 1000;
    else delete enc.maxBitrate;
    enc.active = !this.videoPausedByUs && cap !== 0;
    await sender.setParameters(params);
  }

  // Time for the relay to repair a lost video packet (docs/architecture.md, "Repair delay").
  // On a sub pc our browser's jitter buffer is sized without it: that pc only receives, so the
  // browser knows no RTT for it, and a packet lost on the publisher's uplink comes back from the
  // relay's own NACK, one uplink RTT later, with nothing to show our browser that it was late.
  // Each frame that waited for a repair then froze the picture (issue 4: rural-3g, 4–15 freezes
  // in 20 s against none peer to peer). From the quality messages (every participant's RTT and
  // losses) we ask the video receiver for at least one RTT of each lossy link on the path:
  // the publisher's uplink and our own downlink.
  links = new Map(); // participant id → { rtt, lossyUpUntil, lossyDownUntil } (ms, performance.now())
  repairDelayMs = new Map(); // sub pc id → the jitterBufferTarget last set (ms, 0 = none)

  /** One `quality` message (docs/protocol.md, "Link quality"). */
  noteQuality(m) {
    if (!m || m.participant == null) return;
    const id = String(m.participant);
    const now = performance.now();
    const l = this.links.get(id) || { rtt: 0, lossyUpUntil: 0, lossyDownUntil: 0 };
    if (typeof m.rtt_ms === 'number' && m.rtt_ms > 0) l.rtt = m.rtt_ms;
    if (m.loss_up >= REPAIR_LOSS) l.lossyUpUntil = now + REPAIR_HOLD_MS;
    if (m.loss_down >= REPAIR_LOSS) l.lossyDownUntil = now + REPAIR_HOLD_MS;
    this.links.set(id, l);
    for (const pcId of this.pcs.keys()) if (Call.participantOf(pcId) !== null) this.#applyRepairDelay(pcId);
  }

  #applyRepairDelay(pcId) {
    const pc = this.pcs.get(pcId);
    if (!pc || pc.signalingState === 'closed') return;
    const now = performance.now();
    const pub = this.links.get(Call.participantOf(pcId));
    const self = this.selfId != null ? this.links.get(this.selfId) : undefined;
    const ms = repairDelay(
      pub && pub.lossyUpUntil > now ? pub.rtt : 0,
      self && self.lossyDownUntil > now ? self.rtt : 0,
    );
    const last = this.repairDelayMs.get(pcId) || 0;
    if (Math.abs(ms - last) < REPAIR_STEP_MS && !(ms === 0 && last > 0)) return;
    for (const r of pc.getReceivers()) {
      if (r.track?.kind !== 'video' || !('jitterBufferTarget' in r)) continue;
      try { r.jitterBufferTarget = ms || null; } catch (e) { console.warn('call: jitterBufferTarget', e.message); }
    }
    this.repairDelayMs.set(pcId, ms);
  }

  /** Closes the subscription to one participant (they left). */
  closeParticipant(participantId) {
    const pcId = SUB_PREFIX + participantId;
    this.#queue(pcId, () => this.#closePc(pcId));
    this.remoteStreams.delete(String(participantId));
  }

  /** Closes every pc (the call ended, we hung up, or signaling came back on a new session). */
  closeAll() {
    for (const id of [...this.pcs.keys()]) this.#closePc(id);
    this.pending.clear();
    this.chains.clear();
    this.remoteStreams.clear();
  }

  /** A compact view of getStats() per pc, for the tests and for a quality indicator. */
  async summary() {
    const out = {};
    for (const [id, pc] of this.pcs) {
      const s = { state: pc.connectionState, in: {}, out: {} };
      const report = await pc.getStats();
      report.forEach((r) => {
        if (r.type === 'inbound-rtp') {
          s.in[r.kind] = {
            packetsReceived: r.packetsReceived || 0,
            bytesReceived: r.bytesReceived || 0,
            framesDecoded: r.framesDecoded || 0,
            totalSamplesReceived: r.totalSamplesReceived || 0,
            packetsLost: r.packetsLost || 0,
          };
        } else if (r.type === 'outbound-rtp') {
          s.out[r.kind] = {
            packetsSent: r.packetsSent || 0,
            bytesSent: r.bytesSent || 0,
            framesEncoded: r.framesEncoded || 0,
          };
        }
      });
      out[id] = s;
    }
    return out;
  }
}

// Records when each sub pc decodes its first video frame (ms since the pc was created); tests
// report it as "time to first frame".
export function watchFirstFrame(call, pcId, video) {
  if (!video.requestVideoFrameCallback) return;
  video.requestVideoFrameCallback(() => {
    if (call.timeline.length < 400) call.timeline.push([pcId, 'frame', Date.now()]);
    if (!call.firstFrameAt.has(pcId) && call.createdAt.has(pcId)) {
      call.firstFrameAt.set(pcId, Math.round(performance.now() - call.createdAt.get(pcId)));
    }
  });
}
