// The WebRTC side of a call (docs/protocol.md, "The call"). The relay always offers; this page
// answers. One RTCPeerConnection per `pc` id: "pub" carries our camera and microphone to the
// relay, "sub:<participant_id>" carries one other participant's media to us. Candidates trickle
// both ways with sdpMLineIndex. Work on each pc is serialised on a promise chain, so an offer,
// its candidates and a close never interleave.
//
// Tests read window.__mw.call (this object) and window.__mw.pcs (the Map of pc id → pc).

const SUB_PREFIX = 'sub:';

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
