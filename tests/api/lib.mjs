// Shared helpers for the API tests (node:test; `node --test tests/api/`): the real mashwara
// daemon on 127.0.0.1 with a free port and a temp data dir, its admin command line, and HTTPS
// requests that trust the daemon's own self-signed certificate (no network namespace: the API
// carries no media). Other test files may add helpers here; keep additions additive.
//
// Environment: MASHWARA_BIN (default <repo>/build/daemon/mashwara).

import { spawn, execFile } from 'node:child_process';
import { httpsJson, sessionCookie } from '../common/https.mjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { sanitizerCheck } from '../common/sanitizer.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.MASHWARA_BIN || path.join(REPO, 'build', 'daemon', 'mashwara');
export const HOST = '127.0.0.1';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nowS = () => Math.floor(Date.now() / 1000);

/** Polls fn until it returns a truthy value; throws after `timeout` ms naming `what`. */
export async function waitFor(fn, { timeout = 10000, interval = 100, what = 'condition' } = {}) {
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
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${why}`);
    }
    await sleep(interval);
  }
}

/** A TCP port nobody listens on right now (there is a small race until the daemon binds it). */
export function freePort(host = HOST) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts the daemon on a fresh temp dir (or `dir`, to restart on the same data). Resolves once
 * it prints "listening on". The returned object has `request()`/`login()` bound to it, `stop()`
 * (SIGTERM; resolves with {code, signal}), `kill()` (SIGKILL) and `cleanup()` (removes the dir).
 */
export async function startDaemon({ dir, extraArgs = [], readyTimeout = 20000, env = {} } = {}) {
  if (!existsSync(BIN)) throw new Error(`daemon binary not found at ${BIN} (set MASHWARA_BIN)`);
  dir = dir || (await mkdtemp(path.join(tmpdir(), 'mw-api-')));
  const db = path.join(dir, 'mashwara.db');
  const port = await freePort();
  const base = `https://${HOST}:${port}`;
  const args = ['--data-dir', dir, '--db', db, '--listen', HOST, '--port', String(port),
    '--ice-address', HOST, '--public-url', base, '--web-root', path.join(REPO, 'web'), ...extraArgs];
  const proc = spawn(BIN, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env } });
  let log = '';
  const onData = (chunk) => {
    log += chunk.toString();
    if (log.length > 4e6) log = log.slice(-2e6);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  let exited = null;
  const exitP = new Promise((resolve) => proc.once('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));

  const d = {
    proc, pid: proc.pid, dir, db, port, base, args,
    agent: null,
    log: () => log,
    exited: () => exited,
    /** SIGTERM, then waits; SIGKILL after `timeout` ms (reported as timedOut). */
    async stop({ timeout = 10000 } = {}) {
      if (!exited) {
        process.kill(proc.pid, 'SIGTERM');
        const r = await Promise.race([exitP, sleep(timeout).then(() => null)]);
        if (!r) {
          process.kill(proc.pid, 'SIGKILL');
          await exitP;
          sanitizerCheck(log);
          return { code: null, signal: 'SIGKILL', timedOut: true };
        }
      }
      sanitizerCheck(log);
      return exited;
    },
    async kill() {
      if (exited) return exited;
      process.kill(proc.pid, 'SIGKILL');
      return exitP;
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
    request: (method, urlPath, opts) => request(d, method, urlPath, opts),
    login: (username, password) => login(d, username, password),
    admin: (sub, args) => admin(d, sub, args),
  };
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`daemon exited early ${JSON.stringify(exited)}:\n${log}`);
      return /listening on/.test(log);
    }, { timeout: readyTimeout, what: 'the daemon to listen' });
    const ca = await readFile(path.join(dir, 'tls', 'cert.pem'));
    d.agent = new https.Agent({ ca, keepAlive: false });
  } catch (e) {
    await d.stop().catch(() => {});
    throw e;
  }
  return d;
}

/**
 * Runs `mashwara admin <sub> --db <db> <args…>`. Resolves with {code, stdout, stderr, json}
 * (json: the last stdout line parsed, or null); never rejects on a non-zero exit. Use
 * adminOk() when the command must succeed.
 */
export function adminRun(d, sub, args = []) {
  const argv = ['admin', sub, '--db', d.db, ...args];
  return new Promise((resolve) => {
    execFile(BIN, argv, { cwd: REPO, timeout: 20000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      const line = stdout.trim().split('\n').filter(Boolean).pop() || '';
      let json = null;
      try { json = line ? JSON.parse(line) : null; } catch { /* not JSON */ }
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** Like adminRun, but throws unless it exits 0; resolves with the parsed JSON of its last line. */
export async function admin(d, sub, args = []) {
  const r = await adminRun(d, sub, args);
  if (r.code !== 0) {
    throw new Error(`mashwara admin ${sub} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  }
  return r.json;
}

/**
 * One HTTPS request to the daemon, trusting its certificate. `body`: an object (sent as JSON) or
 * a string/Buffer (sent as is). A state-changing request with a cookie from login() carries that
 * session's X-CSRF-Token unless `csrf` is false. Resolves with {status, headers, text, json}
 * (json null unless the body parses).
 */
export function request(d, method, urlPath, { body, cookie, headers = {}, timeout = 15000, csrf = true } = {}) {
  return httpsJson(new URL(urlPath, d.base), { method, body, cookie, headers, timeout, agent: d.agent, csrf });
}

/** Logs in; resolves with the "mw_session=…" cookie pair to pass as `cookie`. */
export async function login(d, username, password) {
  return sessionCookie(await request(d, 'POST', '/api/login', { body: { username, password } }), username);
}

/** A bound API client: api.get('/api/x'), api.post('/api/x', body), … with one cookie. */
export function client(d, cookie) {
  const call = (method) => (urlPath, body, opts = {}) =>
    request(d, method, urlPath, { ...opts, body, cookie });
  return { get: call('GET'), post: call('POST'), put: call('PUT'), patch: call('PATCH'),
    del: call('DELETE'), cookie };
}

/** Parses an .ics text into unfolded lines (RFC 5545 §3.1: CRLF + one space/tab continues). */
export function icsLines(text) {
  return text.replace(/\r\n[ \t]/g, '').split('\r\n').filter((l) => l.length > 0);
}

/** The value of the first property `name` (e.g. "UID") in unfolded .ics lines, or undefined. */
export function icsProp(lines, name) {
  const l = lines.find((x) => x.startsWith(`${name}:`) || x.startsWith(`${name};`));
  return l === undefined ? undefined : l.slice(l.indexOf(':') + 1);
}
