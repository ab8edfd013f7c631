// Restrictive networks: a patient whose network drops UDP still gets a call. The patient's
// Chromium runs in a namespace of its own (made here, joined to the run's namespace by a veth
// pair, 198.18.1.2 → 198.18.1.1), so iptables there blocks the patient only; the doctor, the
// daemon and coturn stay on 198.18.0.1 in the run's namespace.
//   (a) UDP dropped both ways (and coturn's port too, so nothing but ICE-TCP can work): the
//       call connects over ICE-TCP straight to the relay's passive TCP candidate.
//   (b) UDP dropped, and TCP only to the HTTPS port and coturn's port: the call connects
//       through coturn (TURN over TCP, credentials from `welcome`), relayed to the relay's UDP.
// Both: video and audio decoded on both pages; the patient's selected candidate pair, and how
// long the call took to connect, are printed.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, writeFile, chmod, rm, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import {
  consoleLogin, startDaemon, addDoctor, addPatient, book, launchPerson, screenshot, waitState, waitFor,
  stats, inbound, cleanupAll, sleep, videoKeyStats, HOST, CHROMIUM, OUT, patientJoin,
} from './lib.mjs';

const DOCTOR = { username: 'dr.sana', name: 'Dr Sana Iqbal', password: 'correct horse battery' };
const PATIENT = { name: 'Gul Bibi', phone: '+923331234567' };
const PNS = `mwpat-${process.pid}`;             // the patient's namespace
const VETH = `mwv${process.pid % 1000000}`;      // its end in the run's namespace (≤ 15 chars)
const VPEER = `mwp${process.pid % 1000000}`;     // its end in the patient's namespace
const GW_IP = '198.18.1.1';
const PATIENT_IP = '198.18.1.2';
const TURN_PORT = 3478;
const TURN_RELAY_PORTS = [49152, 49407];
const TURN_SECRET = randomBytes(24).toString('base64');

const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const inPatientNs = (cmd, args) => run('ip', ['netns', 'exec', PNS, cmd, ...args]);
const iptables = (...args) => inPatientNs('iptables', ['-w', ...args]);

function makePatientNamespace() {
  run('ip', ['netns', 'add', PNS]);
  run('ip', ['link', 'add', VETH, 'type', 'veth', 'peer', 'name', VPEER, 'netns', PNS]);
  run('ip', ['addr', 'add', `${GW_IP}/24`, 'dev', VETH]);
  run('ip', ['link', 'set', VETH, 'up']);
  run('ip', ['-n', PNS, 'link', 'set', 'lo', 'up']);
  run('ip', ['-n', PNS, 'addr', 'add', `${PATIENT_IP}/24`, 'dev', VPEER]);
  run('ip', ['-n', PNS, 'link', 'set', VPEER, 'up']);
  // Chromium gathers candidates only with a default route.
  run('ip', ['-n', PNS, 'route', 'add', 'default', 'via', GW_IP]);
  inPatientNs('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
  inPatientNs('sysctl', ['-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
}

function deletePatientNamespace() {
  for (const pid of run('ip', ['netns', 'pids', PNS]).split(/\s+/).filter(Boolean)) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
  run('ip', ['netns', 'del', PNS]); // takes the veth pair with it
}

// The patient's firewall. 'udp': no UDP either way, and (so that only ICE-TCP can work) no TCP
// to coturn. 'tcp-turn-only': no UDP; TCP out only to the HTTPS port and coturn's port; no TCP
// connection in.
function firewall(mode, httpsPort) {
  iptables('-F', 'INPUT');
  iptables('-F', 'OUTPUT');
  if (mode === 'udp') {
    iptables('-A', 'OUTPUT', '-p', 'udp', '-j', 'DROP');
    iptables('-A', 'INPUT', '-p', 'udp', '-j', 'DROP');
    iptables('-A', 'OUTPUT', '-p', 'tcp', '-d', HOST, '--dport', String(TURN_PORT), '-j', 'DROP');
  } else {
    iptables('-A', 'OUTPUT', '-o', 'lo', '-j', 'ACCEPT');
    iptables('-A', 'OUTPUT', '-p', 'tcp', '-d', HOST, '--dport', String(httpsPort), '-j', 'ACCEPT');
    iptables('-A', 'OUTPUT', '-p', 'tcp', '-d', HOST, '--dport', String(TURN_PORT), '-j', 'ACCEPT');
    iptables('-A', 'OUTPUT', '-j', 'DROP');
    iptables('-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT');
    iptables('-A', 'INPUT', '-p', 'udp', '-j', 'DROP');
    iptables('-A', 'INPUT', '-p', 'tcp', '--syn', '-j', 'DROP');
  }
}

// Packets the patient's firewall dropped, by chain: proof the browser tried and was stopped.
function dropped() {
  const out = {};
  for (const chain of ['OUTPUT', 'INPUT']) {
    const lines = iptables('-L', chain, '-v', '-n', '-x').split('\n').filter((l) => /\bDROP\b/.test(l));
    out[chain] = lines.map((l) => {
      const f = l.trim().split(/\s+/);
      return `${f[2]} ${f[3]}${l.includes('dpt:') ? ` dpt:${l.split('dpt:')[1].split(/\s/)[0]}` : ''}: ${f[0]} packets`;
    });
  }
  return out;
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

// coturn in the run's namespace, by pid, with a config of its own (no system service needed).
async function startCoturn(dir) {
  const conf = path.join(dir, 'turnserver.conf');
  const log = path.join(dir, 'turn.log');
  await writeFile(conf, [
    `listening-ip=${HOST}`, `listening-port=${TURN_PORT}`, `relay-ip=${HOST}`,
    `min-port=${TURN_RELAY_PORTS[0]}`, `max-port=${TURN_RELAY_PORTS[1]}`,
    'use-auth-secret', `static-auth-secret=${TURN_SECRET}`, 'realm=mashwara.test',
    'fingerprint', 'no-cli', 'no-tls', 'no-dtls', 'no-multicast-peers',
    `userdb=${path.join(dir, 'turndb')}`, `pidfile=${path.join(dir, 'turnserver.pid')}`,
    `log-file=${log}`, 'simple-log', 'no-stdout-log', '',
  ].join('\n'));
  const proc = spawn('turnserver', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  let exited = null;
  const exitP = new Promise((r) => proc.once('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
  await waitFor(async () => {
    if (exited) throw new Error(`turnserver exited ${JSON.stringify(exited)}: ${out}`);
    return canConnect(HOST, TURN_PORT);
  }, { timeout: 10000, interval: 100, what: 'coturn to listen' });
  return {
    pid: proc.pid,
    log: () => readFile(log, 'utf8').catch(() => out),
    async stop() {
      if (exited) return exited;
      proc.kill('SIGTERM');
      const r = await Promise.race([exitP, sleep(5000).then(() => null)]);
      if (r) return r;
      proc.kill('SIGKILL');
      return exitP;
    },
  };
}

// The selected candidate pair of each of the page's peer connections.
function selectedPairs(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const [id, pc] of window.__mw.pcs) {
      const r = await pc.getStats();
      const all = [...r.values()];
      const transport = all.find((x) => x.type === 'transport' && x.selectedCandidatePairId);
      const pair = transport ? r.get(transport.selectedCandidatePairId)
        : all.find((x) => x.type === 'candidate-pair' && x.nominated && x.state === 'succeeded');
      if (!pair) { out[id] = null; continue; }
      const c = (x) => x && {
        type: x.candidateType, protocol: x.protocol, relayProtocol: x.relayProtocol,
        tcpType: x.tcpType, address: `${x.address}:${x.port}`,
      };
      out[id] = { local: c(r.get(pair.localCandidateId)), remote: c(r.get(pair.remoteCandidateId)),
        rttMs: pair.currentRoundTripTime !== undefined ? Math.round(pair.currentRoundTripTime * 1000) : null };
    }
    return out;
  });
}

describe('restrictive networks: a patient without UDP', () => {
  let d;
  let coturn;
  let dir;
  let patientId;
  const people = {};
  const figures = {};
  const launcher = () => path.join(dir, 'chromium-in-patient-ns.sh');

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mw-e2e-restrictive-'));
    makePatientNamespace();
    // Playwright talks to Chromium over fds 3 and 4: `ip netns exec` keeps them and the pid.
    await writeFile(launcher(), `#!/bin/sh\nexec ip netns exec ${PNS} ${CHROMIUM} "$@"\n`);
    await chmod(launcher(), 0o755);
    coturn = await startCoturn(dir);
    const conf = path.join(dir, 'mashwara.conf');
    await writeFile(conf, `[turn]\nuris=turn:${HOST}:${TURN_PORT}?transport=tcp\nsecret=${TURN_SECRET}\n` +
      'credential_lifetime_seconds=600\n');
    d = await startDaemon({ extraArgs: ['--config', conf] });
    await addDoctor(d, DOCTOR);
    ({ patient_id: patientId } = await addPatient(d, PATIENT));

    people.doctor = await launchPerson('doctor');
    const page = people.doctor.page;
    await consoleLogin(page, d.base, DOCTOR.username, DOCTOR.password);
  });

  after(async () => {
    await cleanupAll(Object.values(people).map((p) => () => p.close()));
    let exit = null;
    if (d) {
      exit = await d.stop();
      await d.saveLog('restrictive');
    }
    if (coturn) {
      await writeFile(path.join(OUT, 'restrictive.turn.log'), await coturn.log()).catch(() => {});
      await coturn.stop();
    }
    try { deletePatientNamespace(); } catch (e) { console.error(`namespace ${PNS}: ${e.message}`); }
    for (const p of Object.values(people)) {
      if (p.consoleLog.length) console.log(p.consoleLog.slice(-20).join('\n'));
    }
    console.log(`figures: ${JSON.stringify(figures, null, 1)}`);
    if (d) await d.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (exit) assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
  });

  // One consultation with the patient behind `mode`'s firewall; returns its figures.
  async function consultation(label, mode, start) {
    const appt = await book(d, { doctor: DOCTOR.username, patient: patientId, start, minutes: 10 });
    firewall(mode, d.port);
    const patient = (people[label] = await launchPerson(`patient-${label}`, { executablePath: launcher() }));
    const pp = patient.page;
    const dp = people.doctor.page;
    await pp.goto(appt.link, { waitUntil: 'load' });
    await patientJoin(pp);
    await waitState(pp, 'waiting');
    const ids = {
      patient: await pp.evaluate(() => window.__mw.participantId),
      doctor: await dp.evaluate(() => window.__mw.participantId),
    };
    // The welcome's TURN entry: the URI configured, a REST API username for this participant.
    const servers = await pp.evaluate(() => window.__mw.call.iceServers);
    assert.equal(servers.length, 1, JSON.stringify(servers.map((s) => s.urls)));
    assert.deepEqual(servers[0].urls, [`turn:${HOST}:${TURN_PORT}?transport=tcp`]);
    assert.match(servers[0].username, new RegExp(`^\\d+:${ids.patient}$`));
    assert.equal(typeof servers[0].credential, 'string');

    const admit = `[data-testid="admit-${appt.appointment_id}"]`;
    await dp.waitForSelector(admit);
    const t0 = Date.now();
    await dp.click(admit);
    await waitState(pp, 'call', 20000);
    await waitState(dp, 'call', 20000);
    const f = { mode };
    try {
      await waitFor(async () => {
        const [ps, ds] = await Promise.all([stats(pp), stats(dp)]);
        return inbound(ps, ids.doctor).frames > 0 && inbound(ds, ids.patient).frames > 0;
      }, { timeout: 30000, interval: 100, what: 'first decoded video frame on both pages' });
      f.firstFrameBothMs = Date.now() - t0;
    } catch (e) {
      console.log(`${label} at failure: pairs ${JSON.stringify(await selectedPairs(pp).catch(() => null))} ` +
        `stats ${JSON.stringify(await stats(pp))} dropped ${JSON.stringify(dropped())}`);
      await screenshot(pp, `restrictive-${label}-FAILED-patient`);
      throw e;
    }
    // Connect times of the patient's pcs, in ms after the doctor's admit click.
    const keys = await videoKeyStats(pp);
    f.patientConnectedMs = Object.fromEntries(Object.entries(keys).map(([pc, e]) =>
      [pc, e.connectedAt ? e.connectedAt - t0 : null]));
    f.patientPcIceMs = Object.fromEntries(Object.entries(keys).map(([pc, e]) =>
      [pc, e.connectedAt ? e.connectedAt - e.createdAt : null])); // pc created → connected

    const [p0, d0] = await Promise.all([stats(pp), stats(dp)]);
    await sleep(4000);
    const [p1, d1] = await Promise.all([stats(pp), stats(dp)]);
    for (const [who, a, b] of [['patient', inbound(p0, ids.doctor), inbound(p1, ids.doctor)],
      ['doctor', inbound(d0, ids.patient), inbound(d1, ids.patient)]]) {
      assert.ok(b.frames > a.frames + 20, `${who}: video frames decoded ${a.frames} → ${b.frames} in 4 s`);
      assert.ok(b.samples > a.samples && b.audioPackets > a.audioPackets,
        `${who}: audio ${JSON.stringify(a)} → ${JSON.stringify(b)} in 4 s`);
      f[`${who}Decoded`] = { frames: b.frames, audioPackets: b.audioPackets };
    }
    // The relay trickled its passive ICE-TCP candidate to the patient (the offer has none: the
    // relay sends every candidate after it).
    const relayCandidates = await pp.evaluate(() => window.__mw.signaling.log
      .filter((m) => m.type === 'candidate' && m.candidate).map((m) => m.candidate));
    f.relayTcpPassive = relayCandidates.filter((c) => / tcp .* tcptype passive/i.test(c)).length;
    assert.ok(f.relayTcpPassive > 0, `no passive TCP candidate from the relay: ${JSON.stringify(relayCandidates)}`);
    f.pairs = await selectedPairs(pp);
    f.dropped = dropped();
    await screenshot(pp, `restrictive-${label}-patient`);

    await dp.selectOption('#outcome', 'completed');
    await dp.click('#btn-end');
    await waitState(pp, 'ended', 15000);
    await waitState(dp, 'day', 15000);
    await patient.close();
    delete people[label];
    figures[label] = f;
    console.log(`${label}: ${JSON.stringify(f)}`);
    return f;
  }

  it('(a) UDP blocked: the call connects over ICE-TCP to the relay', { timeout: 120000 }, async () => {
    const f = await consultation('a-udp-blocked', 'udp', 'now');
    for (const [pc, p] of Object.entries(f.pairs)) {
      assert.ok(p, `${pc}: no selected candidate pair`);
      // Chromium's active TCP candidate has port 9; the connection's real port makes it prflx.
      assert.equal(p.local.protocol, 'tcp', `${pc}: local candidate ${JSON.stringify(p.local)}`);
      assert.ok(['host', 'prflx'].includes(p.local.type), `${pc}: local candidate ${JSON.stringify(p.local)}`);
      assert.deepEqual([p.remote.type, p.remote.protocol, p.remote.tcpType], ['host', 'tcp', 'passive'],
        `${pc}: remote candidate ${JSON.stringify(p.remote)}`);
      assert.equal(p.remote.address.split(':')[0], HOST, `${pc}: remote ${JSON.stringify(p.remote)}`);
    }
  });

  it('(b) UDP and the relay\'s TCP blocked: the call connects through coturn over TCP', { timeout: 120000 }, async () => {
    const f = await consultation('b-turn-only', 'tcp-turn-only', '+600');
    for (const [pc, p] of Object.entries(f.pairs)) {
      assert.ok(p, `${pc}: no selected candidate pair`);
      assert.equal(p.local.type, 'relay', `${pc}: local candidate ${JSON.stringify(p.local)}`);
      assert.equal(p.local.relayProtocol, 'tcp', `${pc}: local candidate ${JSON.stringify(p.local)}`);
      const [addr, portText] = p.local.address.split(':');
      const port = Number(portText);
      assert.ok(addr === HOST && port >= TURN_RELAY_PORTS[0] && port <= TURN_RELAY_PORTS[1],
        `${pc}: the relayed address ${p.local.address} should be one of coturn's`);
    }
  });
});
