// The weak-link harness: browsers in their namespaces, the link schedule, a getStats() sampler
// inside each page, and the metrics computed from what the pages sampled. bench/weak/run.mjs
// (the benchmark) and tests/weak/weak.test.mjs (the CI check) both drive it through runOne().
//
// The node process runs inside the srv namespace (bench/weak/run.sh puts it there), so a server
// a mode starts on env.srvAddr is local to it; each browser is put into its own namespace by a
// wrapper script (`exec ip netns exec NS chromium "$@"`) given to Playwright as the executable.
// Playwright talks to Chromium over pipes, so the namespace changes nothing for the driver.

import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile, access } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { CHROMIUM_ARGS, CHROMIUM, sleep, waitFor } from '../../../tests/e2e/lib.mjs';
import { schedule } from './profiles.mjs';

export const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(HERE, '..', '..');
export const OUT = path.join(HERE, 'out');
export const BUSY_Y4M = path.join(OUT, 'busy.y4m');
export const SAMPLE_MS = 250;
// playwright-core lives in tests/e2e/node_modules (npm ci there); resolve it from that folder.
const { chromium } = createRequire(path.join(REPO, 'tests', 'e2e', 'package.json'))('playwright-core');

/** The env every mode gets (see modes/README in bench/weak/README.md). */
export async function makeEnv(prefix, { log = (m) => console.log(m) } = {}) {
  const workDir = await mkdtemp(path.join(tmpdir(), `${prefix}-work-`));
  return {
    prefix, srvNs: `${prefix}-srv`, patNs: `${prefix}-pat`, docNs: `${prefix}-doc`, gstNs: `${prefix}-gst`,
    srvAddr: '198.18.0.1', patAddr: '198.18.0.2', docAddr: '198.18.0.3', gstAddr: '198.18.0.4',
    workDir, repo: REPO, log,
  };
}

export async function freeEnv(env) {
  await rm(env.workDir, { recursive: true, force: true }).catch(() => {});
}

function run(cmd, args, { timeout = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Sets the patient link (both ways) to {kbit, rtt, loss}; kbit 0 = unlimited. */
export function shape(env, { kbit, rtt, loss }) {
  return run('bash', [path.join(HERE, 'netns.sh'), 'shape', env.prefix, String(kbit), String(rtt), String(loss)]);
}

/** Loads the modes asked for; a mode whose module is missing (janus) is skipped with a note. */
export async function loadModes(names, log = console.log) {
  const out = [];
  for (const name of names) {
    const file = path.join(HERE, 'modes', `${name}.mjs`);
    if (!existsSync(file)) { log(`mode ${name}: ${path.relative(REPO, file)} not there, skipped`); continue; }
    if (name === 'janus' && !existsSync('/usr/bin/janus') && !existsSync('/usr/sbin/janus')) {
      log('mode janus: no janus binary (apt-get install janus), skipped');
      continue;
    }
    const mod = (await import(pathToFileURL(file).href)).default;
    for (const k of ['name', 'setup', 'connect', 'disconnect', 'teardown']) {
      if (!(k in mod)) throw new Error(`mode ${name}: the module's default export lacks ${k}`);
    }
    out.push(mod);
  }
  return out;
}

export const CAMERAS = {
  default: { desc: "Chromium's fake camera (a mostly flat, slowly changing picture)", args: [] },
  busy: { desc: `busy.y4m: 640x360 30 fps, moving zone plate + noise`, args: [`--use-file-for-fake-video-capture=${BUSY_Y4M}`] },
};

/**
 * One Chromium of its own in namespace ns: a persistent context (as lib.mjs launchPerson does),
 * its executable a wrapper that enters the namespace. Returns {ctx, close()}.
 */
export async function launchIn(env, ns, name, camera) {
  const wrapper = path.join(env.workDir, `chromium-${ns}.sh`);
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const userDir = await mkdtemp(path.join(env.workDir, `chromium-${name}-`));
  const cam = CAMERAS[camera];
  if (!cam) throw new Error(`unknown camera ${camera}`);
  if (camera === 'busy') await access(BUSY_Y4M);
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: wrapper,
    headless: true,
    ignoreHTTPSErrors: true,
    args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required', ...cam.args],
    viewport: name === 'doctor' ? { width: 1280, height: 800 } : { width: 390, height: 780 },
    timeout: 30000,
  });
  ctx.setDefaultTimeout(20000);
  const consoleLog = [];
  const watch = (p) => {
    p.on('console', (m) => { if (consoleLog.length < 500) consoleLog.push(`[${name}] ${m.type()}: ${m.text()}`); });
    p.on('pageerror', (e) => consoleLog.push(`[${name}] pageerror: ${e.message}`));
  };
  ctx.pages().forEach(watch);
  ctx.on('page', watch);
  return {
    ctx, consoleLog,
    async close() {
      await Promise.race([ctx.close().catch(() => {}), sleep(10000)]);
    },
  };
}

/*
 * The in-page sampler. Every SAMPLE_MS it reads getStats() of every pc in window.__pcs and adds
 * each counter's increase to a running total (per pc and report id, increases only), so a pc
 * that is replaced mid-call neither resets nor double-counts the totals. Samples are
 * {t: Date.now(), counters…, gauges…, st: the pcs' connectionStates, per}. `per` holds the
 * inbound totals of each pc the page names in window.__mw.pcs (a Map pc id → pc, web/js/call.js)
 * by that name, e.g. per['sub:42'] = what came from participant 42 (a three-party call's
 * figures per sender); {} on pages without it.
 */
function samplerSource(intervalMs) {
  return `(() => {
  if (window.__weak) return;
  const W = (window.__weak = { samples: [], last: new Map(), tot: {}, per: {}, ids: new WeakMap(), n: 0, stop: false });
  const IN = { video: { bytesReceived: 'vBytes', packetsReceived: 'vPkts', packetsLost: 'vLost',
      framesDecoded: 'vFrames', freezeCount: 'vFreezes', totalFreezesDuration: 'vFreezeS', nackCount: 'vNacks',
      pliCount: 'vPlis', keyFramesDecoded: 'vKeys', retransmittedPacketsReceived: 'vRtx',
      fecPacketsReceived: 'vFec', fecPacketsDiscarded: 'vFecDiscarded', jitterBufferDelay: 'vJbDelay',
      jitterBufferTargetDelay: 'vJbTarget', jitterBufferEmittedCount: 'vJbEmitted' },
    audio: { bytesReceived: 'aBytes', packetsReceived: 'aPkts', packetsLost: 'aLost',
      totalSamplesReceived: 'aSamples', concealedSamples: 'aConcealed' } };
  const OUTB = { video: { bytesSent: 'oVBytes', framesEncoded: 'oFrames' }, audio: { bytesSent: 'oABytes' } };
  for (const m of [IN.video, IN.audio, OUTB.video, OUTB.audio]) for (const k of Object.values(m)) W.tot[k] = 0;
  const add = (key, name, v, label) => {
    if (typeof v !== 'number') return;
    const prev = W.last.get(key);
    W.last.set(key, v);
    const inc = prev !== undefined ? (v > prev ? v - prev : 0) : v > 0 ? v : 0;
    W.tot[name] += inc;
    if (label) {
      const t = (W.per[label] ||= {});
      t[name] = (t[name] || 0) + inc;
    }
  };
  const labelOf = new WeakMap();
  const tick = async () => {
    if (W.stop) return;
    const pcs = (window.__pcs || []).filter(Boolean);
    if (window.__mw && window.__mw.pcs instanceof Map) for (const [k, pc] of window.__mw.pcs) if (pc) labelOf.set(pc, k);
    const g = { w: 0, h: 0, ow: 0, ql: '', tgt: 0, avail: 0, rtt: 0, proto: '' };
    const st = [];
    for (const pc of pcs) {
      if (!W.ids.has(pc)) W.ids.set(pc, ++W.n);
      const id = W.ids.get(pc);
      const label = labelOf.get(pc);
      st.push(pc.connectionState);
      let rep;
      try { rep = await pc.getStats(); } catch { continue; }
      const cands = {};
      rep.forEach((r) => { if (r.type === 'local-candidate') cands[r.id] = r.protocol; });
      rep.forEach((r) => {
        const key = id + '/' + r.id + '/';
        if (r.type === 'inbound-rtp' && IN[r.kind]) {
          for (const [f, n] of Object.entries(IN[r.kind])) add(key + f, n, r[f], label);
          if (r.kind === 'video' && r.frameWidth) { g.w = Math.max(g.w, r.frameWidth); g.h = Math.max(g.h, r.frameHeight || 0); }
        } else if (r.type === 'outbound-rtp' && OUTB[r.kind]) {
          for (const [f, n] of Object.entries(OUTB[r.kind])) add(key + f, n, r[f]);
          if (r.kind === 'video') {
            if (r.frameWidth) g.ow = Math.max(g.ow, r.frameWidth);
            if (r.qualityLimitationReason && r.qualityLimitationReason !== 'none') g.ql = r.qualityLimitationReason;
            if (r.targetBitrate) g.tgt += r.targetBitrate;
          }
        } else if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') {
          if (r.availableOutgoingBitrate) g.avail += r.availableOutgoingBitrate;
          if (r.currentRoundTripTime) g.rtt = Math.max(g.rtt, r.currentRoundTripTime);
          if (cands[r.localCandidateId] && !g.proto.includes(cands[r.localCandidateId])) g.proto += (g.proto ? '+' : '') + cands[r.localCandidateId];
        }
      });
    }
    const per = {};
    for (const [k, v] of Object.entries(W.per)) per[k] = { ...v };
    W.samples.push({ t: Date.now(), ...W.tot, ...g, st: st.join(','), per });
    if (W.samples.length > 4000) W.samples.splice(0, 1000);
    setTimeout(tick, ${intervalMs});
  };
  tick();
})()`;
}

export async function startSampler(page) {
  await page.evaluate(samplerSource(SAMPLE_MS));
}

export async function readSamples(page) {
  return page.evaluate(() => (window.__weak ? window.__weak.samples : [])).catch(() => []);
}

/** The latest sample of a page, or null. */
export function lastSample(page) {
  return page.evaluate(() => (window.__weak ? window.__weak.samples.at(-1) : null)).catch(() => null);
}

// ---- metrics ---------------------------------------------------------------------------------

const r1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10) / 10);
const r3 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 1000) / 1000);

/** The last sample at or before t (the first sample when t is before all). */
function at(samples, t) {
  let best = samples[0];
  for (const s of samples) {
    if (s.t <= t) best = s;
    else break;
  }
  return best;
}

/** Per-second bins over [w0, w1): video kbit/s, fps, loss, audio packets… */
function bins(samples, w0, w1) {
  const out = [];
  for (let a = w0; a + 1000 <= w1 + 1; a += 1000) {
    const s0 = at(samples, a);
    const s1 = at(samples, a + 1000);
    // No sample taken in this second (the page's sampler stalled): counted as a gap, not as a
    // second in which nothing arrived; the next second's deltas include it.
    if (s1.t <= s0.t || s1.t < a + 500) {
      out.push({ t: (a - w0) / 1000, gap: true, kbps: 0, txKbps: 0, fps: 0, frames: 0, loss: 0, aPkts: 0, aSamples: 0, aConcealed: 0, bad: false });
      continue;
    }
    const dt = Math.max(0.001, (s1.t - s0.t) / 1000);
    const pk = s1.vPkts - s0.vPkts;
    const lost = Math.max(0, s1.vLost - s0.vLost);
    out.push({
      t: (a - w0) / 1000,
      kbps: ((s1.vBytes - s0.vBytes) * 8) / 1000 / dt,
      txKbps: ((s1.oVBytes - s0.oVBytes) * 8) / 1000 / dt,
      fps: (s1.vFrames - s0.vFrames) / dt,
      frames: s1.vFrames - s0.vFrames,
      loss: pk + lost > 0 ? lost / (pk + lost) : 0,
      aPkts: s1.aPkts - s0.aPkts,
      aSamples: s1.aSamples - s0.aSamples,
      aConcealed: s1.aConcealed - s0.aConcealed,
      bad: /failed|closed|disconnected/.test(s1.st) || s1.st === '',
    });
  }
  return out;
}

const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/**
 * The figures of one direction (what one page received) over the window [w0, w1], with the
 * schedule's marks {down, up, outage, recover} as epoch ms.
 */
export function directionMetrics(samples, w0, w1, marks) {
  if (!samples.length) return { error: 'no samples' };
  const s0 = at(samples, w0);
  const s1 = at(samples, w1);
  const secs = (s1.t - s0.t) / 1000;
  const b = bins(samples, w0, w1);
  const d = (k) => s1[k] - s0[k];
  const m = {
    seconds: r1(secs),
    videoKbps: r1((d('vBytes') * 8) / 1000 / secs),
    sentVideoKbps: r1((d('oVBytes') * 8) / 1000 / secs),
    fps: r1(d('vFrames') / secs),
    freezeCount: d('vFreezes'),
    freezeSeconds: r1(d('vFreezeS')),
    frozenSecondsPerMinute: r1(d('vFreezeS') / (secs / 60)),
    videoLossPct: r1((100 * Math.max(0, d('vLost'))) / Math.max(1, d('vPkts') + Math.max(0, d('vLost')))),
    audioConcealmentPct: d('aSamples') > 0 ? r1((100 * d('aConcealed')) / d('aSamples')) : null,
    audioPacketsPerSecond: r1(d('aPkts') / secs),
    // Seconds with no audio packet at all (outside a scheduled outage and the 2 s after it).
    audioSilentSeconds: b.filter((x) => !x.gap && x.aPkts === 0 && !(marks.outage && x.t >= (marks.outage - w0) / 1000 - 1 &&
      x.t < (marks.recover - w0) / 1000 + 2)).length,
    audioOnlySeconds: b.filter((x) => x.aPkts > 0 && x.frames === 0).length,
    noVideoSeconds: b.filter((x) => !x.gap && x.frames === 0).length,
    notConnectedSeconds: b.filter((x) => x.bad).length,
    samplingGapSeconds: b.filter((x) => x.gap).length,
    connectedAtEnd: !!s1.st && s1.st.split(',').every((x) => x === 'connected'),
    // The transport ICE selected (udp / tcp) as last seen in the window.
    transport: s1.proto || null,
    maxWidth: Math.max(0, ...samples.filter((s) => s.t >= w0 && s.t <= w1).map((s) => s.w || 0)),
    nacks: d('vNacks'),
    plis: d('vPlis'),
    // Video packets lost (after any repair) and the repairs: retransmissions and ULPFEC packets
    // received (Chrome counts those it could not use as discarded).
    videoLost: d('vLost'),
    rtxPackets: d('vRtx'),
    fecPackets: d('vFec'),
    fecDiscarded: d('vFecDiscarded'),
    // The receiving browser's video jitter buffer over the window, per frame it let out (ms):
    // what it held frames for, and what it aimed at (its own estimate, or the page's
    // jitterBufferTarget where larger: web/js/call.js, the repair delay). null: no frame.
    jitterBufferMs: d('vJbEmitted') > 0 ? Math.round((1000 * d('vJbDelay')) / d('vJbEmitted')) : null,
    jitterTargetMs: d('vJbEmitted') > 0 ? Math.round((1000 * d('vJbTarget')) / d('vJbEmitted')) : null,
    series: b.map((x) => Math.round(x.kbps)),
    fpsSeries: b.map((x) => Math.round(x.fps)),
  };
  const rel = (t) => (t - w0) / 1000;
  if (marks.down) {
    // Adapted: the video is smooth (fps at least half of the 10 s before the drop, at least 5;
    // video loss under 5 %) from this second to the end of the low phase. 0: never disturbed;
    // null: still not smooth in the phase's last 3 s.
    const pre = b.filter((x) => x.t < rel(marks.down) && x.t >= rel(marks.down) - 10);
    const preFps = mean(pre.map((x) => x.fps)) || 0;
    const want = Math.max(5, preFps / 2);
    const after = b.filter((x) => x.t >= Math.floor(rel(marks.down)) && (!marks.up || x.t < rel(marks.up) - 1));
    const good = (x) => x.fps >= want && x.loss < 0.05;
    let adapt = null;
    if (after.length >= 3 && after.slice(-3).every(good)) {
      let lastBad = -1;
      after.forEach((x, i) => { if (!good(x)) lastBad = i; });
      adapt = lastBad < 0 ? 0 : after[lastBad].t + 1 - rel(marks.down);
    }
    m.adaptSeconds = adapt === null ? null : r1(Math.max(0, adapt));
    m.preDropKbps = r1(mean(pre.map((x) => x.kbps)));
    const low = after.slice(Math.floor(after.length / 2));
    m.lowPhaseKbps = r1(mean(low.map((x) => x.kbps)));
    m.lowPhaseFps = r1(mean(low.map((x) => x.fps)));
    if (marks.up) {
      // Ramp-up: seconds after the capacity returns until a 3 s average is back to 80 % of the
      // bitrate before the drop.
      const up = b.filter((x) => x.t >= Math.floor(rel(marks.up)));
      let ramp = null;
      for (let i = 0; i + 2 < up.length; i++) {
        if (mean(up.slice(i, i + 3).map((x) => x.kbps)) >= 0.8 * (m.preDropKbps || 0)) { ramp = up[i].t - rel(marks.up); break; }
      }
      m.rampUpSeconds = ramp === null ? null : r1(Math.max(0, ramp));
    }
  }
  if (marks.recover) {
    // Resume: the first sample after the link came back that shows media again and from which it
    // keeps flowing for a second: video, a newly decoded frame and at least 5 more in the next
    // second (a lone frame left in a buffer is not a resumed picture); audio, real (not
    // concealed) samples played since the previous sample and more real than concealed ones over
    // the next second. Resolution: the sampling interval (SAMPLE_MS).
    const after = samples.filter((s) => s.t > marks.recover);
    let prev = at(samples, marks.recover);
    let video = null;
    let audio = null;
    const real = (x) => x.aSamples - x.aConcealed;
    for (const s of after) {
      const next = at(samples, s.t + 1000);
      if (next.t < s.t + 750) break; // the window ended
      if (video === null && s.vFrames > prev.vFrames && next.vFrames - s.vFrames >= 5) video = s.t - marks.recover;
      const ds = next.aSamples - s.aSamples;
      if (audio === null && s.aPkts > prev.aPkts && real(s) > real(prev) && ds > 0 && real(next) - real(s) > 0.5 * ds) {
        audio = s.t - marks.recover;
      }
      prev = s;
      if (video !== null && audio !== null) break;
    }
    m.videoResumeSeconds = video === null ? null : r3(video / 1000);
    m.audioResumeSeconds = audio === null ? null : r3(audio / 1000);
    // Concealment in the outage-free part of the window (a 5 s outage alone is 5 s of concealment).
    const clean = b.filter((x) => x.t < rel(marks.outage) || x.t >= rel(marks.recover) + 3);
    const cs = clean.reduce((a, x) => a + x.aSamples, 0);
    m.audioConcealmentOutsideOutagePct = cs > 0 ? r1((100 * clean.reduce((a, x) => a + x.aConcealed, 0)) / cs) : null;
  }
  return m;
}

/**
 * One sender's share of what a page received: the samples with the inbound counters of the pc
 * named `label` (window.__mw.pcs, e.g. 'sub:42') in place of the page's totals, for
 * directionMetrics(). The page's connection states and outbound counters are kept.
 */
export function linkSamples(samples, label) {
  const zero = { vBytes: 0, vPkts: 0, vLost: 0, vFrames: 0, vFreezes: 0, vFreezeS: 0, vNacks: 0, vPlis: 0, vKeys: 0,
    aBytes: 0, aPkts: 0, aLost: 0, aSamples: 0, aConcealed: 0 };
  // Several labels: one sender under several participant ids (its page joined again after a
  // drop), each a pc of its own; their totals add up.
  const labels = Array.isArray(label) ? label : [label];
  return samples.map((s) => {
    const out = { ...s, ...zero, w: 0 };
    for (const l of labels) for (const [k, v] of Object.entries((s.per && s.per[l]) || {})) out[k] += v;
    return out;
  });
}

/** The three participants of a three-party call, in the order links are reported. */
export const PARTY = ['patient', 'doctor', 'guest'];

// ---- one run --------------------------------------------------------------------------------

/**
 * One call through `mode` on one profile with one camera. Returns
 * {mode, profile, camera, phases, callUpSeconds, patientRx, doctorRx, error?}.
 * party 3: a third participant (the guest: a specialist invited by the doctor) joins from the
 * clean gst namespace (the mode's connect() gets `guest` and returns `guestPage`); the result
 * also has guestRx and `links`: {'doctor→guest': figures, …} per sender and receiver.
 */
export async function runOne(env, mode, profileName, camera, { quick = false, total = null, warmup = 8, log = env.log, party = 2 } = {}) {
  const phases = schedule(profileName, { quick, total });
  const res = { mode: mode.name, profile: profileName, camera, phases, warmupSeconds: warmup, party };
  const people = {};
  let pages = null;
  try {
    await shape(env, phases[0]);
    people.patient = await launchIn(env, env.patNs, 'patient', camera);
    people.doctor = await launchIn(env, env.docNs, 'doctor', camera);
    if (party === 3) {
      if (!mode.threeParty) throw new Error(`mode ${mode.name} has no three-party call`);
      people.guest = await launchIn(env, env.gstNs, 'guest', camera);
    }
    const t0 = Date.now();
    pages = await mode.connect(env, { patient: people.patient.ctx, doctor: people.doctor.ctx, guest: people.guest?.ctx });
    const { patientPage, doctorPage, guestPage } = pages;
    const all = party === 3 ? [patientPage, doctorPage, guestPage] : [patientPage, doctorPage];
    await Promise.all(all.map(startSampler));
    // Three-party: every page decodes video from both others (per pc, window.__mw.pcs).
    const idOf = (p) => p.evaluate(() => String(window.__mw.participantId)).catch(() => null);
    const ids = party === 3 ? await Promise.all(all.map(idOf)) : [];
    // Every participant id each page had (a page that drops joins again under a new one).
    const idSets = ids.map((id) => new Set([id]));
    const noteIds = async () => {
      if (party !== 3) return;
      (await Promise.all(all.map(idOf))).forEach((id, i) => { if (id && id !== 'undefined') idSets[i].add(id); });
    };
    await waitFor(async () => {
      const ss = await Promise.all(all.map(lastSample));
      if (party !== 3) return ss.every((x) => x && x.vFrames > 0);
      return ss.every((x, i) => x && ids.every((id, j) => j === i || (x.per[`sub:${id}`]?.vFrames || 0) > 0));
    }, { timeout: 60000, interval: 250, what: `video frames decoded on ${party === 3 ? 'every page from both others' : 'both pages'}` }).catch((e) => {
      res.callUpNote = e.message;
    });
    res.callUpSeconds = r1((Date.now() - t0) / 1000);
    log(`  ${mode.name}/${profileName}/${camera}: call up in ${res.callUpSeconds} s, warm-up ${warmup} s`);
    if (mode.stages) {
      const st = await mode.stages(env, pages, Date.now()).catch((e) => ({ line: `? ${e.message}` }));
      if (st) { res.callUpStages = st; log(`    call up stages (s): ${st.line}`); }
    }
    await sleep(warmup * 1000);
    const marks = {};
    const cpu0 = serverCpu(mode, env);
    const w0 = Date.now();
    for (let i = 0; i < phases.length; i++) {
      const ph = phases[i];
      if (i > 0) await shape(env, ph);
      if (ph.mark) marks[ph.mark] = Date.now();
      const end = Date.now() + ph.secs * 1000;
      while (Date.now() < end) {
        await sleep(Math.min(5000, end - Date.now()));
        await noteIds();
        const [p, d, g] = await Promise.all(all.map(lastSample));
        log(`    t=${Math.round((Date.now() - w0) / 1000)}s ${ph.kbit}k/${ph.rtt}ms/${ph.loss}% ` +
          `patient rx frames ${p?.vFrames ?? '?'} doctor rx frames ${d?.vFrames ?? '?'}` +
          `${party === 3 ? ` guest rx frames ${g?.vFrames ?? '?'}` : ''} [${p?.st}|${d?.st}${party === 3 ? `|${g?.st}` : ''}]`);
      }
    }
    const w1 = Date.now();
    const cpu1 = serverCpu(mode, env);
    // The server's CPU over the window (one core = 100 %), where the mode names its process.
    if (cpu0 !== null && cpu1 !== null) res.serverCpuPct = r1((100 * (cpu1 - cpu0)) / ((w1 - w0) / 1000));
    // A loaded machine can leave a page's sampler a few seconds behind: wait for a sample past
    // the window's end so that its last seconds are not read as "nothing arrived".
    await waitFor(async () => {
      const ss = await Promise.all(all.map(lastSample));
      return ss.every((x) => x && x.t >= w1);
    }, { timeout: 10000, interval: 250, what: 'samples past the window' }).catch((e) => { res.samplingNote = e.message; });
    res.marks = Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, r1((v - w0) / 1000)]));
    const [ps, ds, gs] = await Promise.all(all.map(readSamples));
    res.patientRx = directionMetrics(ps, w0, w1, marks);
    res.doctorRx = directionMetrics(ds, w0, w1, marks);
    // The raw samples, for `node bench/weak/lib/report.mjs --recompute` after a change of definition.
    res.raw = { w0, w1, marks, patient: ps, doctor: ds };
    if (party === 3) {
      res.guestRx = directionMetrics(gs, w0, w1, marks);
      res.raw.guest = gs;
      await noteIds();
      res.raw.ids = Object.fromEntries(PARTY.map((who, i) => [who, [...idSets[i]]]));
      res.rejoins = Object.fromEntries(PARTY.map((who, i) => [who, idSets[i].size - 1]));
      res.links = linkMetrics(res.raw);
    }
  } catch (e) {
    res.error = e.message;
    log(`  ${mode.name}/${profileName}/${camera}: FAILED ${e.message}`);
    for (const p of Object.values(people)) if (p.consoleLog.length) log(p.consoleLog.slice(-15).join('\n'));
  } finally {
    if (pages) await Promise.race([mode.disconnect(env, pages).catch((e) => log(`disconnect: ${e.message}`)), sleep(15000)]);
    for (const p of Object.values(people)) await p.close();
    await shape(env, { kbit: 0, rtt: 0, loss: 0 }).catch(() => {});
  }
  return res;
}

/** CPU seconds (user + system) of the mode's server process so far, or null. */
function serverCpu(mode, env) {
  const pid = mode.serverPid ? mode.serverPid(env) : null;
  if (!pid) return null;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

/** Per sender and receiver of a three-party run's raw samples: {'doctor→guest': figures, …}. */
export function linkMetrics(raw) {
  const out = {};
  for (const rx of PARTY) {
    for (const tx of PARTY) {
      if (tx === rx || !raw[rx]) continue;
      const ids = [].concat(raw.ids[tx]);
      out[`${tx}→${rx}`] = directionMetrics(linkSamples(raw[rx], ids.map((id) => `sub:${id}`)), raw.w0, raw.w1, raw.marks);
    }
  }
  return out;
}

export { mkdir, sleep };
