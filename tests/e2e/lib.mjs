// Shared helpers for the end-to-end tests: the real mashwara daemon on a temp dir, its admin
// CLI, headless Chromium (one persistent context per person), HTTPS calls from node, raw WSS
// probes from inside a page, and bounded waits. Everything here runs inside the network
// namespace that run.sh makes; nothing touches the host's own interfaces.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { httpsJson, sessionCookie } from '../common/https.mjs';
import { sanitizerCheck } from '../common/sanitizer.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.MASHWARA_BIN || path.join(REPO, 'build', 'daemon', 'mashwara');
export const HOST = process.env.MW_E2E_HOST || '198.18.0.1';
export const OUT = path.join(REPO, 'tests', 'output', 'e2e');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--ignore-certificate-errors', '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; throws after timeoutMs with `what` in the message. */
export async function waitFor(fn, { timeout = 10000, interval = 200, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      const why = last instanceof Error ? `: ${last.message}` : last !== undefined ? ` (last: ${JSON.stringify(last)})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${why}`);
    }
    await sleep(interval);
  }
}

async function freePort(host) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/**
 * Starts the daemon on a fresh temp dir. Resolves once it logs "listening on https://" (or the
 * port accepts connections). The returned object's stop() sends SIGTERM and resolves with the
 * exit {code, signal}. `dir` and `port`: a restart of an earlier daemon (its folder, so the same
 * database and certificate, and its port); cleanup() removes the folder either way.
 */
export async function startDaemon({ extraArgs = [], readyTimeout = 20000, dir = null, port = null } = {}) {
  if (!existsSync(BIN)) throw new Error(`daemon binary not found at ${BIN} (set MASHWARA_BIN)`);
  dir = dir || (await mkdtemp(path.join(tmpdir(), 'mw-e2e-')));
  const db = path.join(dir, 'm.db');
  port = port || (await freePort(HOST));
  const base = `https://${HOST}:${port}`;
  const args = ['--db', db, '--data-dir', dir, '--listen', HOST, '--port', String(port),
    '--ice-address', HOST, '--public-url', base, '--web-root', path.join(REPO, 'web'), ...extraArgs,
    ...(process.env.MASHWARA_ARGS ? process.env.MASHWARA_ARGS.split(' ').filter(Boolean) : [])];
  // The relay's INFO lines (legs paused and resumed, reports after an outage, holds) are few and
  // say why media stopped when a test fails; GST_DEBUG in the environment overrides them.
  const env = { ...process.env, GST_DEBUG: process.env.GST_DEBUG || 'mashwara-sfu:4' };
  const proc = spawn(BIN, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const onData = (d) => { log += d.toString(); if (log.length > 4e6) log = log.slice(-2e6); };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  let exited = null;
  const exitP = new Promise((resolve) => proc.once('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));

  const d = {
    proc, pid: proc.pid, dir, db, port, base, args,
    log: () => log,
    // The last n lines of the relay's own log (colour codes removed): printed at a failure.
    relayTail: (n = 40) => log.replace(/\x1b\[[0-9;]*m/g, '').split('\n')
      .filter((l) => /mashwara-sfu|mashwara-sig/.test(l)).slice(-n).join('\n'),
    exited: () => exited,
    async stop({ timeout = 10000 } = {}) {
      if (!exited) {
        proc.kill('SIGTERM');
        const r = await Promise.race([exitP, sleep(timeout).then(() => null)]);
        if (!r) {
          proc.kill('SIGKILL');
          await exitP;
          sanitizerCheck(log);
          return { code: null, signal: 'SIGKILL', timedOut: true };
        }
      }
      sanitizerCheck(log);
      return exited;
    },
    async saveLog(name) {
      await mkdir(OUT, { recursive: true });
      await writeFile(path.join(OUT, `${name}.daemon.log`), log);
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`daemon exited early ${JSON.stringify(exited)}:\n${log}`);
      return /listening on https:\/\//.test(log) || (await canConnect(HOST, port));
    }, { timeout: readyTimeout, interval: 100, what: 'the daemon to listen' });
  } catch (e) {
    await d.stop().catch(() => {});
    throw e;
  }
  return d;
}

/** Runs `mashwara admin <args>` against the daemon's db; resolves with its JSON output. */
export function admin(d, sub, args) {
  const argv = ['admin', sub, '--db', d.db, ...args];
  return new Promise((resolve, reject) => {
    execFile(BIN, argv, { cwd: REPO, timeout: 15000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`mashwara ${argv.join(' ')} failed: ${err.message}\n${stderr}`));
      const line = stdout.trim().split('\n').filter(Boolean).pop() || '';
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`mashwara ${argv.join(' ')}: output is not JSON: ${stdout}\n${stderr}`));
      }
    });
  });
}

export const addDoctor = (d, { username, name, password }) =>
  admin(d, 'add-doctor', ['--username', username, '--name', name, '--password', password]);
export const addPatient = (d, { name, phone }) =>
  admin(d, 'add-patient', ['--name', name, '--phone', phone]);
export const book = (d, { doctor, patient, start = 'now', minutes = 30 }) =>
  // --start=-N: a separate "-7200" could be taken for an option by the flag parser.
  admin(d, 'book', ['--doctor', doctor, '--patient', String(patient), `--start=${start}`, '--minutes', String(minutes),
    '--public-url', d.base]);

/** One HTTPS request from node (the daemon's certificate is self-signed). */
export function request(base, method, urlPath, { body, cookie, headers = {} } = {}) {
  return httpsJson(new URL(urlPath, base), { method, body, cookie, headers, timeout: 10000,
    rejectUnauthorized: false });
}

/** Logs in from node; resolves with the "mw_session=…" cookie pair. */
export async function loginCookie(base, username, password) {
  return sessionCookie(await request(base, 'POST', '/api/login', { body: { username, password } }), username);
}

/**
 * A headless Chromium of its own (like a separate person's device), with one page.
 * executablePath: another launcher (e.g. a script that runs Chromium in another namespace).
 */
export async function launchPerson(name, { executablePath = CHROMIUM } = {}) {
  const userDir = await mkdtemp(path.join(tmpdir(), `mw-e2e-chromium-${name}-`));
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath,
    headless: true,
    ignoreHTTPSErrors: true,
    args: CHROMIUM_ARGS,
    viewport: name === 'doctor' ? { width: 1280, height: 800 } : { width: 390, height: 780 },
    timeout: 30000,
  });
  ctx.setDefaultTimeout(15000);
  const page = ctx.pages()[0] || (await ctx.newPage());
  const consoleLog = [];
  const watch = (p) => {
    p.on('console', (m) => consoleLog.push(`[${name}] ${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => consoleLog.push(`[${name}] pageerror: ${e.message}`));
  };
  watch(page);
  ctx.on('page', watch);
  let closed = false;
  return {
    name, ctx, page, consoleLog, userDir,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.race([ctx.close().catch(() => {}), sleep(10000)]);
      await rm(userDir, { recursive: true, force: true }).catch(() => {});
    },
  };
}

export async function screenshot(page, name) {
  await mkdir(OUT, { recursive: true });
  try {
    await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true, timeout: 10000 });
  } catch (e) {
    console.error(`screenshot ${name}: ${e.message}`);
  }
}

/**
 * The accessibility check of a page as it is now: axe-core (from npm, run inside the page)
 * against WCAG 2.0/2.1 A and AA. Writes the full result to tests/output/e2e/axe-<name>.json and
 * returns the violations whose impact is serious or critical (the ones a test must refuse).
 * The page's CSP forbids inline scripts, so axe is injected through the DevTools protocol
 * (Playwright's addScriptTag would be blocked); bypassCSP is not needed.
 */
export async function axeCheck(page, name) {
  const src = await readFile(path.join(path.dirname(fileURLToPath(import.meta.url)),
    'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.evaluate(src);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    resultTypes: ['violations'],
  }));
  await mkdir(OUT, { recursive: true });
  await writeFile(path.join(OUT, `axe-${name}.json`), JSON.stringify(result.violations, null, 1));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
}

/** Saves a screenshot and asserts axe-core finds nothing serious or critical on the page. */
export async function lookAndCheck(page, name) {
  await screenshot(page, name);
  const bad = await axeCheck(page, name);
  assert.deepEqual(bad, [], `accessibility of ${name}`);
}

/** Waits until the page's #state has data-state=state. */
export async function waitState(page, state, timeout = 15000) {
  await page.waitForSelector(`#state[data-state="${state}"]`, { timeout, state: 'attached' });
}

/**
 * The patient page's steps before Join, as a person takes them (issue 5): agrees to the consent
 * text when the page asks (once per link and consent version), then waits for the device check
 * to have the camera and microphone (Join enabled). Every test and harness that drives the
 * patient page goes through here (and patientJoin), so a new step is added in one place.
 */
export async function patientReady(page, { timeout = 15000 } = {}) {
  await page.waitForSelector('#state[data-state="consent"], #state[data-state="preview"]', { timeout, state: 'attached' });
  if ((await page.getAttribute('#state', 'data-state')) === 'consent') {
    await page.click('#btn-consent-accept', { timeout });
    await waitState(page, 'preview', timeout);
  }
  await page.waitForSelector('#btn-join:not([disabled])', { timeout });
}

/** patientReady, then Join (the caller waits for "waiting" or "call"). */
export async function patientJoin(page, opts = {}) {
  await patientReady(page, opts);
  await page.click('#btn-join', { timeout: opts.timeout });
}

/** The page's compact getStats() view (see web/js/call.js Call.summary). */
export function stats(page) {
  return page.evaluate(() => (window.__mw && window.__mw.summary ? window.__mw.summary() : {}));
}

/** Frames decoded / audio received on the pc subscribing to one participant. */
export function inbound(summary, participantId) {
  const s = summary[`sub:${participantId}`];
  return {
    frames: s?.in?.video?.framesDecoded || 0,
    samples: s?.in?.audio?.totalSamplesReceived || 0,
    audioPackets: s?.in?.audio?.packetsReceived || 0,
    state: s?.state || null,
  };
}

/**
 * A raw WSS connection from inside a page (a real browser, the page's origin and cookies).
 * Sends `hello` (a string, or null for none) on open, then `frames` (at once, or after the
 * welcome if afterWelcome). Resolves when the server closes, or holdMs after the frames were
 * sent, or at timeoutMs: {messages, close: {code, reason}|null, readyState, elapsedMs}.
 */
export function wsProbe(page, { hello = null, frames = [], afterWelcome = false, holdMs = 0, timeoutMs = 15000 } = {}) {
  return page.evaluate(({ hello, frames, afterWelcome, holdMs, timeoutMs }) => new Promise((resolve) => {
    const ws = new WebSocket(`wss://${location.host}/ws`, 'mashwara.v1');
    const messages = [];
    const t0 = performance.now();
    let done = false;
    let timer = null;
    const finish = (close) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const readyState = ws.readyState;
      if (!close) { try { ws.close(1000); } catch { /* closed */ } }
      resolve({ messages, close, readyState, elapsedMs: Math.round(performance.now() - t0), protocol: ws.protocol });
    };
    timer = setTimeout(() => finish(null), timeoutMs);
    const sendFrames = () => {
      for (const f of frames) ws.send(f);
      if (holdMs) setTimeout(() => finish(null), holdMs);
    };
    ws.onopen = () => {
      if (hello !== null) ws.send(hello);
      if (!afterWelcome) sendFrames();
    };
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { m = { raw: String(e.data).slice(0, 200) }; }
      messages.push(m);
      if (afterWelcome && m.type === 'welcome') sendFrames();
    };
    ws.onclose = (e) => finish({ code: e.code, reason: e.reason });
  }), { hello, frames, afterWelcome, holdMs, timeoutMs });
}

/** GET/POST from inside a page (its cookies), returning {status, json}. */
export function pageFetch(page, method, urlPath, body) {
  return page.evaluate(async ({ method, urlPath, body }) => {
    const r = await fetch(urlPath, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store',
    });
    let json = null;
    try { json = await r.json(); } catch { /* empty */ }
    return { status: r.status, json };
  }, { method, urlPath, body });
}

/** Runs a list of cleanups, each bounded, never throwing; for t.after/finally. */
export async function cleanupAll(fns) {
  for (const fn of fns) {
    try {
      await Promise.race([fn(), sleep(15000)]);
    } catch (e) {
      console.error('cleanup:', e.message);
    }
  }
}

/**
 * Records every WebSocket frame the person's pages receive, with its arrival time (Date.now(),
 * the same clock as node's on this machine), and every close: window.__mwWire = [{at, msg}|
 * {at, close: {code, reason}}]. Call before the page opens its socket (it is an init script:
 * it applies to pages loaded or reloaded after this call).
 */
export async function tapWebSockets(ctx) {
  await ctx.addInitScript(() => {
    const Native = window.WebSocket;
    const wire = (window.__mwWire = []);
    class TappedWebSocket extends Native {
      constructor(...args) {
        super(...args);
        this.addEventListener('message', (e) => {
          let msg;
          try { msg = JSON.parse(e.data); } catch { msg = { raw: String(e.data).slice(0, 200) }; }
          wire.push({ at: Date.now(), msg });
        });
        this.addEventListener('close', (e) => wire.push({ at: Date.now(), close: { code: e.code, reason: e.reason } }));
      }
    }
    window.WebSocket = TappedWebSocket;
  });
}

/** The page's recorded frames (see tapWebSockets); [] when the page is gone. */
export function wireLog(page) {
  return page.evaluate(() => window.__mwWire || []).catch(() => []);
}

/** Waits until the page has received a message for which pred(msg) is true; resolves with {at, msg}. */
export function waitMessage(page, pred, { timeout = 10000, interval = 50, what = 'a message' } = {}) {
  return waitFor(async () => (await wireLog(page)).find((e) => e.msg && pred(e.msg)), { timeout, interval, what });
}

/**
 * The pids of one person's Chromium (see launchPerson): the processes started with its
 * --user-data-dir, and all their descendants. Read from /proc; only processes this test started.
 */
export async function browserPids(person) {
  const { readdir, readFile } = await import('node:fs/promises');
  const procs = [];
  for (const ent of await readdir('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = await readFile(`/proc/${ent}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = (await readFile(`/proc/${ent}/cmdline`, 'utf8')).split('\0');
      procs.push({ pid: Number(ent), ppid, cmd });
    } catch { /* exited meanwhile */ }
  }
  const roots = procs.filter((p) => p.cmd.includes(`--user-data-dir=${person.userDir}`)).map((p) => p.pid);
  const all = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (all.has(p.ppid) && !all.has(p.pid)) { all.add(p.pid); grew = true; }
    }
  }
  return [...all];
}

/** Sends a signal to each pid, ignoring ones that are gone; returns the pids signalled. */
export function signalPids(pids, signal) {
  const done = [];
  for (const pid of pids) {
    try { process.kill(pid, signal); done.push(pid); } catch { /* gone */ }
  }
  return done;
}

/**
 * Keyframe bookkeeping of every video stream on a page, per pc id: inbound (framesReceived,
 * framesDecoded, keyFramesDecoded, pliCount, firCount, nackCount, packetsReceived) and outbound
 * (framesEncoded, keyFramesEncoded, pliCount, firCount), plus when the pc was created, connected
 * and showed its first frame, as epoch ms (Date.now() clock, comparable with node's). {} when the
 * page is gone.
 */
export function videoKeyStats(page) {
  return page.evaluate(async () => {
    const mw = window.__mw;
    const out = {};
    if (!mw || !mw.pcs) return out;
    const epoch = (t) => (t === undefined ? null : Math.round(performance.timeOrigin + t));
    for (const [id, pc] of mw.pcs) {
      const created = mw.call.createdAt.get(id);
      const e = {
        createdAt: epoch(created),
        connectedAt: mw.call.connectedAt.has(id) ? epoch(created + mw.call.connectedAt.get(id)) : null,
        firstFrameAt: mw.call.firstFrameAt.has(id) ? epoch(created + mw.call.firstFrameAt.get(id)) : null,
      };
      const report = await pc.getStats();
      report.forEach((r) => {
        if (r.kind !== 'video') return;
        if (r.type === 'inbound-rtp') {
          e.in = {
            packetsReceived: r.packetsReceived || 0, framesReceived: r.framesReceived || 0,
            framesDecoded: r.framesDecoded || 0, keyFramesDecoded: r.keyFramesDecoded || 0,
            pliCount: r.pliCount || 0, firCount: r.firCount || 0, nackCount: r.nackCount || 0,
          };
        } else if (r.type === 'outbound-rtp') {
          e.out = {
            framesEncoded: r.framesEncoded || 0, keyFramesEncoded: r.keyFramesEncoded || 0,
            pliCount: r.pliCount || 0, firCount: r.firCount || 0,
          };
        }
      });
      out[id] = e;
    }
    return out;
  }).catch(() => ({}));
}

/** Opens the clinic console on `page` and logs in; resolves on the doctor's day view. */
export async function consoleLogin(page, base, username, password) {
  await page.goto(`${base}/console`, { waitUntil: 'load' });
  await waitState(page, 'login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#btn-login');
  await waitState(page, 'day');
  // The console shows the day before its WebSocket is welcomed; callers read the doctor's
  // participant id right after this (a slow daemon, e.g. under ASan, made them read nothing).
  await waitFor(() => page.evaluate(() => window.__mw.participantId), { timeout: 20000, what: 'the console\'s welcome' });
}

// What each page has received so far from the other (frames decoded, audio packets): the
// starting point for mediaBothWays's `base` when the pcs carry counts from before.
export async function mediaCounts(a, aFrom, b, bFrom) {
  const [sa, sb] = await Promise.all([stats(a.page), stats(b.page)]);
  return { [a.name]: inbound(sa, aFrom), [b.name]: inbound(sb, bFrom) };
}

// Waits until each page decodes ≥ minFrames from the other and audio packets arrive, both
// counted beyond `base` (from mediaCounts; none: from zero); returns the ms (from t0) of each
// side's first new decoded frame and the last counts.
export async function mediaBothWays(a, aFrom, b, bFrom, { t0 = Date.now(), minFrames = 30, timeout = 30000, base = null } = {}) {
  const first = {};
  const zero = { frames: 0, audioPackets: 0 };
  const baseA = base?.[a.name] || zero;
  const baseB = base?.[b.name] || zero;
  let last;
  await waitFor(async () => {
    last = await mediaCounts(a, aFrom, b, bFrom);
    const { [a.name]: ia, [b.name]: ib } = last;
    if (!first[a.name] && ia.frames > baseA.frames) first[a.name] = Date.now() - t0;
    if (!first[b.name] && ib.frames > baseB.frames) first[b.name] = Date.now() - t0;
    return ia.frames - baseA.frames >= minFrames && ib.frames - baseB.frames >= minFrames &&
      ia.audioPackets > baseA.audioPackets && ib.audioPackets > baseB.audioPackets;
  }, { timeout, interval: 50, what: `≥ ${minFrames} new frames and audio packets each way (${a.name} ↔ ${b.name})` })
    .catch((e) => { throw new Error(`${e.message}; base ${JSON.stringify(base)}; last ${JSON.stringify(last)}`); });
  return { first, last };
}

// Over 2 s each page decodes more frames from the other and receives more audio packets
// (totalSamplesReceived would not do: it grows with concealment while nothing arrives).
export async function stillFlowing(a, aFrom, b, bFrom) {
  const s0 = await mediaCounts(a, aFrom, b, bFrom);
  await sleep(2000);
  const s1 = await mediaCounts(a, aFrom, b, bFrom);
  for (const who of [a.name, b.name]) {
    const [x, y] = [s0[who], s1[who]];
    assert.ok(y.frames > x.frames, `${who}: frames decoded should grow (${x.frames} → ${y.frames})`);
    assert.ok(y.audioPackets > x.audioPackets,
      `${who}: audio packets received should grow (${JSON.stringify(x)} → ${JSON.stringify(y)})`);
  }
}
