// Self-test of the "janus" mode without the harness driver and without impairment: three network
// namespaces of its own (mwjan-<pid>-srv/pat/doc, veth pairs, 198.18.x.y), Janus started by the
// mode's setup() in srv, one headless Chromium per person inside pat and doc, connect(), then
// 10 s of getStats showing each side decoding the other's video and audio, disconnect(),
// teardown(). Everything it made is removed on exit. Run as root:
//   node bench/weak/janus/selftest.mjs [--seconds 10] [--rounds 1] [--keep]
// --rounds N: N connect/measure/disconnect rounds against the same Janus (as the driver does for
// several profiles and cameras).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mode from '../modes/janus.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(path.join(REPO, 'tests', 'e2e', 'package.json'));
const { chromium } = require('playwright-core');
const { CHROMIUM_ARGS } = await import(path.join(REPO, 'tests', 'e2e', 'lib.mjs'));

const argv = process.argv.slice(2);
const SECONDS = argv.includes('--seconds') ? Number(argv[argv.indexOf('--seconds') + 1]) || 10 : 10;
const ROUNDS = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) || 1 : 1;
const KEEP = argv.includes('--keep');
const ID = process.pid;
const NS = { srv: `mwjan-${ID}-srv`, pat: `mwjan-${ID}-pat`, doc: `mwjan-${ID}-doc` };
const T0 = Date.now();
const log = (m) => console.log(`[${((Date.now() - T0) / 1000).toFixed(1).padStart(5)}] ${m}`);
const sh = (...a) => execFileSync(a[0], a.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function makeTopology() {
  for (const ns of Object.values(NS)) {
    sh('ip', 'netns', 'add', ns);
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1');
    sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1');
  }
  sh('ip', 'netns', 'exec', NS.srv, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  // As bench/weak/netns.sh: the server address 198.18.0.1/32 on an interface of its own (a dummy,
  // or lo where the kernel has no dummy links), srv <-> pat on 198.18.1.0/24, srv <-> doc on
  // 198.18.2.0/24.
  try {
    sh('ip', '-n', NS.srv, 'link', 'add', 'mw0', 'type', 'dummy');
    sh('ip', '-n', NS.srv, 'link', 'set', 'mw0', 'up');
    sh('ip', '-n', NS.srv, 'addr', 'add', '198.18.0.1/32', 'dev', 'mw0');
  } catch {
    sh('ip', '-n', NS.srv, 'addr', 'add', '198.18.0.1/32', 'dev', 'lo');
  }
  for (const [who, net] of [['pat', 1], ['doc', 2]]) {
    const a = `mj${ID}${who[0]}s`, b = `mj${ID}${who[0]}c`;
    sh('ip', 'link', 'add', a, 'netns', NS.srv, 'type', 'veth', 'peer', 'name', b, 'netns', NS[who]);
    sh('ip', '-n', NS.srv, 'addr', 'add', `198.18.${net}.1/24`, 'dev', a);
    sh('ip', '-n', NS[who], 'addr', 'add', `198.18.${net}.2/24`, 'dev', b);
    sh('ip', '-n', NS.srv, 'link', 'set', a, 'up');
    sh('ip', '-n', NS[who], 'link', 'set', b, 'up');
    sh('ip', '-n', NS[who], 'route', 'add', 'default', 'via', `198.18.${net}.1`);
  }
}

function removeTopology() {
  for (const ns of Object.values(NS)) {
    let pids = '';
    try { pids = sh('ip', 'netns', 'pids', ns).trim(); } catch { continue; }
    if (pids) log(`WARNING: processes left in ${ns}: ${pids.split('\n').join(' ')}`);
    try { sh('ip', 'netns', 'del', ns); } catch (e) { log(`netns del ${ns}: ${e.message}`); }
  }
}

async function launch(who, tmp) {
  const wrapper = path.join(tmp, `chromium-${who}.sh`);
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${NS[who]} /usr/bin/chromium "$@"\n`);
  chmodSync(wrapper, 0o755);
  const args = [...CHROMIUM_ARGS];
  if (!args.includes('--use-fake-device-for-media-stream')) args.push('--use-fake-device-for-media-stream');
  return chromium.launchPersistentContext(path.join(tmp, `profile-${who}`), {
    executablePath: wrapper, headless: true, args, timeout: 30000,
  });
}

const stats = (page) => page.evaluate(() => window.__janusStats());

async function selectedPair(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs) {
      const s = await pc.getStats();
      s.forEach((r) => {
        if (r.type === 'transport' && r.selectedCandidatePairId) {
          const p = s.get(r.selectedCandidatePairId);
          const l = s.get(p.localCandidateId), rm = s.get(p.remoteCandidateId);
          out.push(`${pc.__label}: ${l.address}:${l.port} -> ${rm.address}:${rm.port} ${rm.protocol}`);
        }
      });
    }
    return out;
  });
}

let failed = false;
const tmp = mkdtempSync(path.join(tmpdir(), `mwjan-${ID}-`));
const env = {
  srvNs: NS.srv, patNs: NS.pat, docNs: NS.doc, srvAddr: '198.18.0.1', patAddr: '198.18.1.2',
  docAddr: '198.18.2.2', workDir: tmp, repo: REPO, log,
};
const contexts = [];
let setUp = false;
let pages = null;
let interrupted = false;
const onSignal = () => { failed = interrupted = true; log('interrupted: cleaning up'); };
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  if (!existsSync('/usr/bin/janus')) throw new Error('janus is not installed (apt-get install -y --no-install-recommends janus)');
  makeTopology();
  log(`namespaces ${Object.values(NS).join(' ')}; server ${env.srvAddr}`);
  await mode.setup(env);
  setUp = true;
  const [patient, doctor] = await Promise.all([launch('pat', tmp), launch('doc', tmp)]);
  contexts.push(patient, doctor);
  log('chromium up in pat and doc');
  for (let round = 1; round <= ROUNDS; round++) {
    if (ROUNDS > 1) log(`-- round ${round}/${ROUNDS}`);
    pages = await mode.connect(env, { patient, doctor });
    for (const [who, p] of [['patient', pages.patientPage], ['doctor', pages.doctorPage]]) {
      for (const l of await selectedPair(p)) log(`${who} ${l}`);
    }
    log(`room as Janus reports it: ${JSON.stringify(await pages.doctorPage.evaluate(() => window.__janusRoomInfo()))}`);
    const who = [['patient', pages.patientPage, 'doctor'], ['doctor', pages.doctorPage, 'patient']];
    const first = {};
    for (const [name, page, other] of who) first[name] = (await stats(page))[other];
    let last = {};
    for (let t = 2; t <= SECONDS; t += 2) {
      await sleep(2000);
      if (interrupted) throw new Error('interrupted');
      const row = [];
      for (const [name, page, other] of who) {
        const s = (last[name] = (await stats(page))[other]);
        row.push(`${name}<-${other}: ${s.width}x${s.height} framesDecoded ${s.framesDecoded} video ${(s.videoBytes / 1024).toFixed(0)} KiB, audio packets ${s.audioPackets} samples ${s.audioSamples} energy ${s.audioEnergy.toFixed(3)}`);
      }
      log(`t+${t}s ${row.join(' | ')}`);
    }
    for (const [name, , other] of who) {
      const a = first[name], b = last[name];
      const fps = (b.framesDecoded - a.framesDecoded) / SECONDS;
      const kbps = ((b.videoBytes - a.videoBytes) * 8) / SECONDS / 1000;
      const aps = (b.audioPackets - a.audioPackets) / SECONDS;
      const sps = (b.audioSamples - a.audioSamples) / SECONDS;
      const ok = fps > 5 && aps > 20 && sps > 8000 && b.audioEnergy > a.audioEnergy;
      if (!ok) failed = true;
      log(`${ok ? 'PASS' : 'FAIL'} ${name} receives ${other}: ${fps.toFixed(1)} frames/s decoded, ${kbps.toFixed(0)} kbit/s video, ` +
        `${aps.toFixed(1)} audio packets/s, ${sps.toFixed(0)} audio samples/s`);
    }
    await mode.disconnect(env, pages);
    pages = null;
  }
} catch (e) {
  failed = true;
  log(`FAIL: ${e.stack || e.message}`);
} finally {
  if (pages) await mode.disconnect(env, pages).catch((e) => log(`disconnect: ${e.message}`));
  await Promise.all(contexts.map((c) => Promise.race([c.close().catch(() => {}), sleep(10000)])));
  if (setUp) await mode.teardown(env).catch((e) => log(`teardown: ${e.message}`));
  removeTopology();
  if (KEEP) log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
  log(failed ? 'selftest FAILED' : 'selftest passed');
  process.exit(failed ? 1 : 0);
}
