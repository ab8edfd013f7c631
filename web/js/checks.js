// The patient page's checks before the waiting room (docs/architecture.md, "Patient page"): the
// microphone's level, a speaker test tone, the list of cameras and microphones, and a short
// network check against the server. No DOM here but what the caller passes in.

/** Polls the level of `stream`'s microphone into `meter` (0..1) until keepGoing() is false. */
export function meterMic(stream, meter, keepGoing) {
  const track = stream && stream.getAudioTracks()[0];
  if (!track || !window.AudioContext) return;
  const ctx = new AudioContext();
  const an = ctx.createAnalyser();
  an.fftSize = 256;
  ctx.createMediaStreamSource(new MediaStream([track])).connect(an);
  const buf = new Uint8Array(an.fftSize);
  const tick = () => {
    if (!keepGoing() || track.readyState === 'ended') { ctx.close().catch(() => {}); return; }
    an.getByteTimeDomainData(buf);
    let peak = 0;
    for (const v of buf) peak = Math.max(peak, Math.abs(v - 128) / 128);
    meter.value = peak;
    setTimeout(tick, 100);
  };
  ctx.resume().catch(() => {});
  tick();
}

/**
 * Plays a short two-note tone (about 0.8 s) through the speaker with WebAudio. Resolves when it
 * has been scheduled (true) or could not be (false): a click is the user gesture browsers ask for.
 */
export async function playTone() {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return false;
  const ctx = new AC();
  try { await ctx.resume(); } catch { /* played anyway where allowed */ }
  const gain = ctx.createGain();
  gain.connect(ctx.destination);
  const t0 = ctx.currentTime + 0.05;
  gain.gain.setValueAtTime(0.0001, t0);
  gain.gain.exponentialRampToValueAtTime(0.3, t0 + 0.05);
  gain.gain.setValueAtTime(0.3, t0 + 0.7);
  gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.8);
  for (const [f, at] of [[660, 0], [880, 0.4]]) {
    const osc = ctx.createOscillator();
    osc.type = 'sine';
    osc.frequency.value = f;
    osc.connect(gain);
    osc.start(t0 + at);
    osc.stop(t0 + at + 0.4);
  }
  setTimeout(() => ctx.close().catch(() => {}), 1500);
  return true;
}

/** The cameras and microphones the browser reports (labels once permission was given). */
export async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return { cameras: [], mics: [] };
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
    mics: all.filter((d) => d.kind === 'audioinput' && d.deviceId && d.deviceId !== 'communications'),
  };
}

// The network check: three empty requests for the round trip, then downloads sized to take
// about a second each at the rate just seen (12 KB first: 0.65 s at 150 kbit/s), never
// over MAX_BYTES. The whole check stays within BUDGET_MS.
const FIRST_BYTES = 12000;
// The page's own cap (the server allows 200 KB): with the early stop below, a fast link costs
// one 12 KB probe and a middling one at most 36 KB, within the page's 150 KB budget (about
// 100 KB of it is the page's own files).
const MAX_BYTES = 24000;
const BUDGET_MS = 4500;
const TARGET_S = 1.0;
// Video at the relay's lowest useful layer needs roughly this much (docs/weak-links.md).
const VIDEO_KBPS = 400;
const VIDEO_RTT_MS = 800;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
}

/**
 * Measures the link to the server through GET /api/join/<token>/probe. Resolves with
 * {verdict: "good"|"weak"|"none", kbps, rttMs, bytes, ms}. `signal` aborts it (then "none"
 * unless something was measured).
 */
export async function checkNetwork(token, { signal } = {}) {
  const start = performance.now();
  const left = () => BUDGET_MS - (performance.now() - start);
  const probe = async (n) => {
    const ctl = new AbortController();
    const stop = () => ctl.abort();
    signal?.addEventListener('abort', stop);
    const timer = setTimeout(stop, Math.max(200, left()));
    try {
      const t0 = performance.now();
      const r = await fetch(`/api/join/${encodeURIComponent(token)}/probe?bytes=${n}`, { cache: 'no-store', signal: ctl.signal });
      if (!r.ok) throw new Error(`http ${r.status}`);
      const body = await r.arrayBuffer();
      return { ms: performance.now() - t0, bytes: body.byteLength };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
  };
  const rtts = [];
  let kbps = null;
  let bytes = 0;
  try {
    for (let i = 0; i < 3 && left() > 0; i++) rtts.push((await probe(0)).ms);
    const rtt = median(rtts);
    let size = FIRST_BYTES;
    while (left() > 0) {
      const r = await probe(size);
      bytes += r.bytes;
      // Take away one round trip (the request's way there and the first byte's way back).
      const secs = Math.max(r.ms - rtt, r.ms / 2) / 1000;
      kbps = Math.round((r.bytes * 8) / secs / 1000);
      // Enough to say: took long enough to trust, or clearly fast enough for video.
      if (size >= MAX_BYTES || r.ms >= TARGET_S * 1000 * 0.6 || kbps >= 2 * VIDEO_KBPS) break;
      const next = Math.min(MAX_BYTES, Math.round((kbps * 1000 / 8) * TARGET_S));
      // Room for it in the budget, at the rate just seen?
      if (next <= size || (next * 8) / (kbps * 1000) * 1000 > left()) break;
      size = next;
    }
  } catch {
    /* aborted, timed out or refused: judged on what was measured */
  }
  const rttMs = rtts.length ? Math.round(median(rtts)) : null;
  let verdict = 'none';
  if (kbps != null) verdict = kbps >= VIDEO_KBPS && rttMs < VIDEO_RTT_MS ? 'good' : 'weak';
  else if (rttMs != null) verdict = 'weak';
  return { verdict, kbps, rttMs, bytes, ms: Math.round(performance.now() - start) };
}
