// The pages' files as a browser on a weak link gets them (sig-static.c): scripts, styles and
// pages gzip'd when the request accepts gzip and byte-identical to the files once unzipped;
// plain when it does not (or refuses gzip with q=0); scripts and styles revalidated by ETag
// (304, no body) and re-sent when the file on disk changes; pages never cached (a join page's
// URL is its token); HEAD answers the headers alone. It prints what the patient page's own
// files weigh on the wire with and without gzip.
//
// Run: MASHWARA_BIN=<build>/daemon/mashwara node --test tests/api/static-files.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startDaemon, request, REPO } from './lib.mjs';

const WEB = path.join(REPO, 'web');
// What the patient page loads before the waiting room: the page, its style and its modules.
const PATIENT_FILES = ['/css/app.css', '/js/patient.js', '/js/i18n.js', '/js/checks.js', '/js/signaling.js',
  '/js/call.js', '/js/chat.js', '/js/ui.js'];

let d;
let webCopy;

before(async () => {
  // A copy of web/ the test may change (the file-changed case), served by the daemon.
  webCopy = await mkdtemp(path.join(os.tmpdir(), 'mw-static-'));
  await cp(WEB, webCopy, { recursive: true });
  await chmod(webCopy, 0o755); // a daemon started as root reads it as its own account
  d = await startDaemon({ extraArgs: ['--web-root', webCopy] });
});

after(async () => {
  if (d) {
    await d.stop();
    await d.cleanup();
  }
  if (webCopy) await rm(webCopy, { recursive: true, force: true });
});

const get = (p, headers = {}, method = 'GET') => request(d, method, p, { headers });

describe('static files', () => {
  it('sends scripts and styles gzip\'d to a browser that takes gzip, identical once unzipped', async () => {
    for (const p of ['/js/patient.js', '/css/app.css']) {
      const r = await get(p, { 'accept-encoding': 'gzip, deflate, br' });
      assert.equal(r.status, 200, p);
      assert.equal(r.headers['content-encoding'], 'gzip', p);
      assert.equal(r.headers.vary, 'accept-encoding', p);
      assert.match(r.headers['content-type'], p.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      assert.equal(Number(r.headers['content-length']), r.bytes.length, `${p}: content-length`);
      const file = await readFile(path.join(WEB, p));
      assert.ok(r.bytes.length < file.length * 0.6, `${p}: ${r.bytes.length} bytes gzip'd of ${file.length}`);
      assert.deepEqual(gunzipSync(r.bytes), file, `${p}: unzips to the file`);
      assert.equal(r.headers['cache-control'], 'no-cache', p);
      assert.match(r.headers.etag, /^"[0-9a-f]{20}-gz"$/, p);
      assert.ok(r.headers['content-security-policy'], 'the common headers are there too');
    }
  });

  it('sends them plain without Accept-Encoding or when gzip is refused (q=0)', async () => {
    const file = await readFile(path.join(WEB, 'js/patient.js'));
    for (const headers of [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'gzip;q=0, deflate' },
      { 'accept-encoding': '*, gzip;q=0' }]) {
      const r = await get('/js/patient.js', headers);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-encoding'], undefined, JSON.stringify(headers));
      assert.deepEqual(r.bytes, file, JSON.stringify(headers));
      assert.match(r.headers.etag, /^"[0-9a-f]{20}"$/);
    }
    const star = await get('/js/patient.js', { 'accept-encoding': '*' });
    assert.equal(star.headers['content-encoding'], 'gzip', '"*" takes gzip');
  });

  it('answers a revalidation with 304 and no body, and the new file once it changed', async () => {
    const first = await get('/js/ui.js', { 'accept-encoding': 'gzip' });
    const again = await get('/js/ui.js', { 'accept-encoding': 'gzip', 'if-none-match': first.headers.etag });
    assert.equal(again.status, 304);
    assert.equal(again.bytes.length, 0);
    assert.equal(again.headers.etag, first.headers.etag);
    const weak = await get('/js/ui.js', { 'accept-encoding': 'gzip', 'if-none-match': `"x", W/${first.headers.etag}` });
    assert.equal(weak.status, 304, 'a list with the tag (weak form) matches');
    const other = await get('/js/ui.js', { 'if-none-match': first.headers.etag });
    assert.equal(other.status, 200, 'the gzip tag does not match the plain representation');

    // An operator updates the file: the old tag no longer matches, the new bytes come.
    const file = path.join(webCopy, 'js/ui.js');
    const changed = `${await readFile(file, 'utf8')}\n// updated ${Date.now()}\n`;
    await writeFile(file, changed);
    const after = await get('/js/ui.js', { 'accept-encoding': 'gzip', 'if-none-match': first.headers.etag });
    assert.equal(after.status, 200);
    assert.notEqual(after.headers.etag, first.headers.etag);
    assert.equal(gunzipSync(after.bytes).toString(), changed);
  });

  it('never lets a page be cached, and answers HEAD with the headers alone', async () => {
    for (const p of ['/join/abcdefghijklmnopqrstuvwxyz012345', '/console', '/']) {
      const r = await get(p, { 'accept-encoding': 'gzip' });
      assert.equal(r.status, 200, p);
      assert.equal(r.headers['cache-control'], 'no-store', p);
      assert.equal(r.headers.etag, undefined, p);
      assert.match(r.headers['content-type'], /^text\/html/);
      const html = r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.bytes) : r.bytes;
      assert.match(html.toString(), /<!doctype html>/i, p);
      const revalidate = await get(p, { 'if-none-match': '*' });
      assert.equal(revalidate.status, 200, `${p}: a page is never "not modified"`);
    }
    const head = await get('/js/patient.js', { 'accept-encoding': 'gzip' }, 'HEAD');
    const full = await get('/js/patient.js', { 'accept-encoding': 'gzip' });
    assert.equal(head.status, 200);
    assert.equal(head.bytes.length, 0);
    assert.equal(head.headers['content-length'], full.headers['content-length']);
    const missing = await get('/js/nope.js');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error, 'not_found');
  });

  it('preloads every module the patient page imports (one round trip instead of two)', async () => {
    const html = await readFile(path.join(WEB, 'patient.html'), 'utf8');
    const preloaded = new Set([...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]));
    const needed = new Set();
    const visit = async (mod) => {
      const src = await readFile(path.join(WEB, mod), 'utf8');
      for (const m of src.matchAll(/^import[^'"]*from '\.\/([^']+)';/gm)) {
        const dep = `/js/${m[1]}`;
        if (!needed.has(dep)) {
          needed.add(dep);
          await visit(dep);
        }
      }
    };
    await visit('/js/patient.js');
    assert.ok(needed.size >= 5, `found the imports (${[...needed]})`);
    assert.deepEqual([...needed].filter((m) => !preloaded.has(m)), [], 'imported but not preloaded');
    assert.deepEqual([...preloaded].filter((m) => !needed.has(m)), [], 'preloaded but not imported');
  });

  it('prints what the patient page\'s files weigh on the wire', async () => {
    let plain = 0;
    let wire = 0;
    const page = await get('/join/abcdefghijklmnopqrstuvwxyz012345', { 'accept-encoding': 'gzip' });
    plain += (await readFile(path.join(WEB, 'patient.html'))).length;
    wire += page.bytes.length;
    for (const p of PATIENT_FILES) {
      const r = await get(p, { 'accept-encoding': 'gzip' });
      assert.equal(r.status, 200, p);
      plain += (await readFile(path.join(WEB, p))).length;
      wire += r.bytes.length;
    }
    console.log(`patient page and its ${PATIENT_FILES.length} files: ${plain} bytes plain, ${wire} gzip'd ` +
      `(${(wire / plain * 100).toFixed(0)} %); at 150 kbit/s ${(plain * 8 / 150e3).toFixed(1)} s vs ${(wire * 8 / 150e3).toFixed(1)} s`);
    assert.ok(wire < plain / 2, `${wire} of ${plain} bytes`);
  });
});
