// Weak-link harness mode "janus": the same call through Janus 1.1.2's VideoRoom (Debian package),
// the anchor we compare our relay against. setup() starts Janus inside the server namespace with
// its own config (bench/janus/*.jcfg.in rendered into env.workDir/janus); connect() opens
// bench/weak/janus/client.html in each person's browser context (served by page.route, no web
// server), each publishes and subscribes to the other; teardown() stops Janus by PID.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startJanus, ROOM } from '../../janus/server.mjs';

const CLIENT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'janus');
const ORIGIN = 'http://localhost';
const CONNECT_TIMEOUT_MS = 45000;
const servers = new WeakMap(); // env -> janus handle
const leaving = new WeakSet(); // pages being disconnected (their hangup lines are expected)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function openClient(ctx, display, env, wsUrl) {
  const page = await ctx.newPage();
  page.on('console', (m) => {
    const t = m.text();
    if (leaving.has(page)) return;
    if (m.type() === 'error' || /error|failed|hangup|slowlink|refused/.test(t)) env.log(`janus/${display}: ${t}`);
  });
  page.on('pageerror', (e) => env.log(`janus/${display}: pageerror ${e.message}`));
  // http://localhost is a secure context (getUserMedia works) and needs no server: the two files
  // are fulfilled from disk; anything else under the origin is a 404.
  await page.route(`${ORIGIN}/**`, (route) => {
    const name = new URL(route.request().url()).pathname.replace(/^\/janus\//, '');
    const type = { 'client.html': 'text/html', 'client.js': 'text/javascript' }[name];
    if (!type) return route.fulfill({ status: 404, body: '' });
    return route.fulfill({ status: 200, contentType: type, body: readFileSync(path.join(CLIENT_DIR, name)) });
  });
  const q = new URLSearchParams({ ws: wsUrl, room: String(ROOM), display });
  await page.goto(`${ORIGIN}/janus/client.html?${q}`);
  return page;
}

async function receiving(page) {
  return page.evaluate(() => (window.__janusReceiving ? window.__janusReceiving() : false)).catch(() => false);
}

async function hearing(page) {
  return page.evaluate(() => (window.__janusAudio ? window.__janusAudio() : false)).catch(() => false);
}

async function clientState(page) {
  return page.evaluate(() => ({ ...window.__janus, stats: undefined })).catch((e) => ({ error: e.message }));
}

export default {
  name: 'janus',

  async setup(env) {
    const janus = await startJanus({ ns: env.srvNs, addr: env.srvAddr, peers: [env.patAddr, env.docAddr], dir: path.join(env.workDir, 'janus'), log: env.log });
    servers.set(env, janus);
  },

  async connect(env, { patient, doctor }) {
    const janus = servers.get(env);
    if (!janus) throw new Error('janus mode: connect before setup');
    const [patientPage, doctorPage] = await Promise.all([
      openClient(patient, 'patient', env, janus.wsUrl),
      openClient(doctor, 'doctor', env, janus.wsUrl),
    ]);
    const t0 = Date.now();
    for (;;) {
      const [a, b] = await Promise.all([receiving(patientPage), receiving(doctorPage)]);
      if (a && b) break;
      const states = await Promise.all([clientState(patientPage), clientState(doctorPage)]);
      const failed = states.find((s) => s.state === 'failed' || s.error);
      if (!failed && Date.now() - t0 > CONNECT_TIMEOUT_MS) {
        // Janus sends a subscriber what its publisher sends, whatever the subscriber's link takes
        // (it estimates no downlink bandwidth): a 1.7 Mbit/s camera into a 400 kbit/s link may
        // never make a decodable frame. That is Janus's result on the profile, not a harness
        // failure: if audio flows both ways, the call is measured (its video counts as frozen).
        const [ha, hb] = await Promise.all([hearing(patientPage), hearing(doctorPage)]);
        if (ha && hb) {
          env.log(`janus: audio both ways but no video on ${[a ? null : 'the patient', b ? null : 'the doctor'].filter(Boolean).join(' and ')}'s page after ${CONNECT_TIMEOUT_MS} ms: measured as it is`);
          return { patientPage, doctorPage };
        }
      }
      if (failed || Date.now() - t0 > CONNECT_TIMEOUT_MS) {
        const why = failed ? `client failed: ${failed.error}` : `no audio+video both ways after ${CONNECT_TIMEOUT_MS} ms`;
        env.log(`janus: ${why}\npatient: ${JSON.stringify(states[0])}\ndoctor: ${JSON.stringify(states[1])}`);
        await Promise.all([patientPage.close().catch(() => {}), doctorPage.close().catch(() => {})]);
        throw new Error(`janus mode: ${why} (Janus log: ${janus.logPath})`);
      }
      await sleep(250);
    }
    env.log(`janus: both pages receive audio and video (${Date.now() - t0} ms after the pages loaded)`);
    return { patientPage, doctorPage };
  },

  async disconnect(env, pages) {
    const list = [pages && pages.patientPage, pages && pages.doctorPage].filter(Boolean);
    await Promise.all(list.map(async (p) => {
      leaving.add(p);
      await Promise.race([p.evaluate(() => window.__janusLeave && window.__janusLeave()).catch(() => {}), sleep(5000)]);
      await p.close().catch(() => {});
    }));
  },

  async teardown(env) {
    const janus = servers.get(env);
    if (!janus) return;
    servers.delete(env);
    await janus.stop();
  },
};
