// The relay benchmark's driver (started by bench/load/run.sh inside the server namespace; see
// bench/README.md, "Relay"). For each server in turn (ours, then Janus), in the same run: start
// it, start the load generator (bench/load/loadgen.c) in the generator namespace, ramp the number
// of concurrent consultations step by step, and over a steady window of each step read the
// server's CPU time (/proc/<pid>/stat) and RSS (/proc/<pid>/status), and the generator's report
// (packets sent and received, loss from sequence numbers, one-way delay of marked packets, join
// to first keyframe, its own CPU). Prints one table with a ratio column ours / Janus, writes
// bench/load/out/results-<time>.json (every step) and .md, and docs/performance.md's "Relay"
// results (between its markers) when asked to (--doc; the full run does by default).
//
// Every wait is bounded; the generator and the servers are ended by PID.

import { spawn, execFile } from 'node:child_process';
import net from 'node:net';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir, cpus, loadavg, release } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const SRV_ADDR = '198.18.0.1';
const GEN_ADDR = '198.18.0.2';
const LOSS_LIMIT = 0.005;
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux/x86_64

function parseArgs(argv) {
  const a = { quick: false, servers: ['ours', 'janus'], steps: null, hold: null, doc: null, ref: 4 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--quick') a.quick = true;
    else if (k === '--servers') a.servers = v().split(',');
    else if (k === '--steps') a.steps = v().split(',').map(Number);
    else if (k === '--hold') a.hold = Number(v());
    else if (k === '--ref') a.ref = Number(v());
    else if (k === '--doc') a.doc = true;
    else if (k === '--no-doc') a.doc = false;
    else if (k === '--srv-ns') a.srvNs = v();
    else if (k === '--gen-ns') a.genNs = v();
    else if (k === '--loadgen') a.loadgen = v();
    else if (k === '--media') a.media = v();
    else if (k === '--command') a.command = v();
    else throw new Error(`unknown option ${k}`);
  }
  a.steps = a.steps || (a.quick ? [2, 4, 6] : [2, 4, 8, 12, 16, 20, 24, 32]);
  a.hold = a.hold || (a.quick ? 12 : 60);
  if (a.doc === null) a.doc = !a.quick;
  return a;
}

const args = parseArgs(process.argv.slice(2));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (m) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);

function procCpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}
function procRss(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : NaN;
}
/** Context switches of all the process's threads (voluntary + involuntary). */
function procSwitches(pid) {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      n += Number((st.match(/^voluntary_ctxt_switches:\s+(\d+)/m) || [])[1] || 0);
      n += Number((st.match(/^nonvoluntary_ctxt_switches:\s+(\d+)/m) || [])[1] || 0);
    } catch { /* the thread ended */ }
  }
  return n;
}
function procThreads(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/Threads:\s+(\d+)/);
  return m ? Number(m[1]) : NaN;
}
const load1 = () => loadavg()[0];

/** The generator: a child process in the generator namespace, commands on stdin, JSON lines out. */
function startGenerator(url) {
  const child = spawn('ip', ['netns', 'exec', args.genNs, args.loadgen, '--url', url, '--media-dir', args.media,
    '--max-seconds', String(args.quick ? 280 : 3500)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = [];
  let ready;
  const readyP = new Promise((r) => { ready = r; });
  let exited = null;
  const exitP = new Promise((r) => child.on('exit', (code, sig) => { exited = { code, sig }; r(exited); }));
  const errLines = [];
  createInterface({ input: child.stderr }).on('line', (l) => {
    errLines.push(l);
    if (errLines.length > 2000) errLines.shift();
    if (!/websocket closed/.test(l) || errLines.length < 50) log(`  gen: ${l}`);
  });
  createInterface({ input: child.stdout }).on('line', (l) => {
    let j;
    try { j = JSON.parse(l); } catch { log(`  gen out: ${l}`); return; }
    if (j.ready) ready();
    else if (waiting.length) waiting.shift()(j);
  });
  return {
    pid: child.pid,
    ready: () => Promise.race([readyP, sleep(20000).then(() => { throw new Error('generator not ready in 20 s'); })]),
    send: (line) => child.stdin.write(`${line}\n`),
    report() {
      return Promise.race([
        new Promise((r) => { waiting.push(r); child.stdin.write('report\n'); }),
        sleep(10000).then(() => { throw new Error('generator did not report in 10 s'); }),
      ]);
    },
    async stop() {
      if (!exited) {
        child.stdin.end('quit\n');
        const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 15000);
        await exitP;
        clearTimeout(t);
      }
      return exited;
    },
  };
}

// ------------------------------------------------------------------ servers

// Our daemon, started as tests/e2e/lib.mjs does it (same arguments), but without that module:
// it loads playwright-core, which this benchmark does not need.
const BIN = process.env.MASHWARA_BIN || path.join(REPO, 'build', 'daemon', 'mashwara');

function freePort(host) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function startDaemon(dir, extraArgs) {
  const db = path.join(dir, 'm.db');
  const port = await freePort(SRV_ADDR);
  const base = `https://${SRV_ADDR}:${port}`;
  const args = ['--db', db, '--data-dir', dir, '--listen', SRV_ADDR, '--port', String(port), '--ice-address', SRV_ADDR,
    '--public-url', base, '--web-root', path.join(REPO, 'web'), ...extraArgs];
  const proc = spawn(BIN, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const onData = (b) => { text += b.toString(); if (text.length > 4e6) text = text.slice(-2e6); };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  let exited = null;
  const exitP = new Promise((r) => proc.once('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
  const d = {
    pid: proc.pid, db, base, log: () => text,
    async stop() {
      if (exited) return exited;
      proc.kill('SIGTERM');
      const r = await Promise.race([exitP, sleep(10000).then(() => null)]);
      if (r) return r;
      proc.kill('SIGKILL');
      return exitP;
    },
    admin(sub, argv) {
      return new Promise((resolve, reject) => {
        execFile(BIN, ['admin', sub, '--db', db, ...argv], { cwd: REPO, timeout: 30000 }, (err, stdout, stderr) => {
          if (err) return reject(new Error(`mashwara admin ${sub} failed: ${err.message.split('\n')[0]} ${stderr}`));
          try { resolve(JSON.parse(stdout.trim().split('\n').filter(Boolean).pop() || '')); } catch { reject(new Error(`mashwara admin ${sub}: not JSON`)); }
        });
      });
    },
  };
  const end = Date.now() + 30000;
  while (!/listening on https:\/\//.test(text)) {
    if (exited || Date.now() > end) {
      await d.stop();
      throw new Error(`daemon did not start (${exited ? JSON.stringify(exited) : 'timeout'}):\n${text.slice(-3000)}`);
    }
    await sleep(100);
  }
  return d;
}

async function serverOurs(workDir) {
  // Benchmark limits: one generator address holds every connection; no request rate limit.
  const conf = path.join(workDir, 'mashwara.conf');
  writeFileSync(conf, '[server]\nmax_connections_per_address=100000\nrequests_per_second_per_address=-1\n'
    + 'requests_per_second_per_token=-1\n');
  // MW_LOAD_DAEMON_ENV=NAME=VALUE[,NAME=VALUE]: extra environment for the daemon only.
  const extra = (process.env.MW_LOAD_DAEMON_ENV || '').split(',').filter(Boolean).map((kv) => kv.split('='));
  for (const [k, v] of extra) process.env[k] = v;
  const d = await startDaemon(workDir, ['--config', conf]);
  for (const [k] of extra) delete process.env[k];
  if (extra.length) log(`ours: daemon environment ${process.env.MW_LOAD_DAEMON_ENV}`);
  let n = 0;
  return {
    name: 'ours', pid: d.pid, url: d.base,
    /** Books one consultation (a doctor of its own, a patient, an appointment now): the line for the generator. */
    /** Books one consultation; the admin CLI is retried (it has timed out on a machine at load 80). */
    async prepare() {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.prepareOnce();
        } catch (e) {
          if (attempt >= 3) throw e;
          log(`ours: booking failed (attempt ${attempt}), again: ${String(e.message).split('\n')[0]}`);
        }
      }
    },
    async prepareOnce() {
      n++;
      const doctor = { username: `dr.load${n}`, name: `Dr Load ${n}`, password: 'correct-horse-battery-load' };
      await d.admin('add-doctor', ['--username', doctor.username, '--name', doctor.name, '--password', doctor.password]);
      const { patient_id } = await d.admin('add-patient', ['--name', `Load Patient ${n}`, '--phone', `+92300${String(2000000 + n)}`]);
      const appt = await d.admin('book', ['--doctor', doctor.username, '--patient', String(patient_id), '--start=now', '--minutes', '120',
        '--public-url', d.base]);
      const token = appt.link.split('/').pop();
      return `add ours ${token} ${doctor.username} ${doctor.password} ${appt.appointment_id}`;
    },
    async stop() {
      const e = await d.stop();
      return { exit: e, logTail: d.log().slice(-4000) };
    },
  };
}

async function serverJanus(workDir) {
  const { startJanus } = await import(path.join(REPO, 'bench', 'janus', 'server.mjs'));
  const h = await startJanus({ ns: args.srvNs, addr: SRV_ADDR, peers: [GEN_ADDR], dir: path.join(workDir, 'janus'),
    log, serverName: 'mashwara-relay-bench' });
  let room = 5000;
  return {
    name: 'janus', pid: h.pid, url: h.wsUrl,
    async prepare() { room++; return `add janus ${room}`; },
    async stop() {
      const e = await h.stop();
      let tail = '';
      try { tail = readFileSync(h.logPath, 'utf8').slice(-4000); } catch { /* none */ }
      return { exit: e, logTail: tail };
    },
  };
}

// ------------------------------------------------------------------ one server's ramp

function pct(arr, q) {
  if (!arr.length) return null;
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function runServer(name) {
  const workDir = mkdtempSync(path.join(tmpdir(), `mw-load-${name}-`));
  const res = { server: name, steps: [], firstFrameMs: [], loadBefore: load1() };
  let srv = null;
  let gen = null;
  try {
    srv = name === 'ours' ? await serverOurs(workDir) : await serverJanus(workDir);
    log(`${name}: pid ${srv.pid} at ${srv.url}`);
    await sleep(2000);
    res.rssIdle = procRss(srv.pid);
    res.threadsIdle = procThreads(srv.pid);
    gen = startGenerator(srv.url);
    await gen.ready();
    let n = 0;
    for (const target of args.steps) {
      const addT = Date.now();
      while (n < target) {
        gen.send(await srv.prepare());
        n++;
      }
      // Up: every peer connection connected (4 per consultation: each side's publisher and
      // subscriber), then 3 s to settle. Bounded: 30 s + 2 s per consultation.
      const want = 4 * n;
      let r = await gen.report();
      const upBy = Date.now() + 30000 + 2000 * n;
      while (r.pcs_connected < want && Date.now() < upBy) {
        await sleep(500);
        r = await gen.report();
      }
      res.firstFrameMs.push(...r.first_frame_ms);
      const upS = (Date.now() - addT) / 1000;
      if (r.pcs_connected < want) log(`${name}: ${n} consultations: only ${r.pcs_connected}/${want} peer connections up after ${upS.toFixed(1)} s`);
      await sleep(3000);
      const a = await gen.report();
      res.firstFrameMs.push(...a.first_frame_ms);
      const cpuA = procCpu(srv.pid);
      const swA = procSwitches(srv.pid);
      const tA = Date.now();
      const loadA = load1();
      await sleep(args.hold * 1000);
      const b = await gen.report();
      if (process.env.MW_LOAD_DUMP) gen.send('dump');
      res.firstFrameMs.push(...b.first_frame_ms);
      const cpuB = procCpu(srv.pid);
      const swB = procSwitches(srv.pid);
      const secs = (Date.now() - tA) / 1000;
      const rss = procRss(srv.pid);
      const rx = b.rx_packets - a.rx_packets;
      const tx = b.tx_packets - a.tx_packets;
      const expected = b.rx_expected - a.rx_expected;
      const received = rx; // counted by the same probe as rx_expected's streams
      const step = {
        consultations: n, participants: 2 * n, seconds: secs,
        pcsConnected: b.pcs_connected, pcsWanted: want, upSeconds: upS,
        txPackets: tx, rxPackets: rx, rxPerSecond: rx / secs,
        loss: expected > 0 ? Math.max(0, 1 - received / expected) : null,
        delivery: tx > 0 ? rx / tx : null,
        serverCpuS: cpuB - cpuA,
        serverCpuPer1000: rx > 0 ? ((cpuB - cpuA) / rx) * 1000 : null,
        serverCores: (cpuB - cpuA) / secs,
        switchesPerPacket: rx > 0 ? (swB - swA) / rx : null,
        rss, rssPerParticipant: (rss - res.rssIdle) / (2 * n), threads: procThreads(srv.pid),
        delayP50Ms: b.delay_p50_us >= 0 ? b.delay_p50_us / 1000 : null,
        delayP99Ms: b.delay_p99_us >= 0 ? b.delay_p99_us / 1000 : null,
        delaySamples: b.delay_n,
        genCpuS: b.cpu_s - a.cpu_s, genCores: (b.cpu_s - a.cpu_s) / secs,
        genCpuPer1000: rx > 0 ? ((b.cpu_s - a.cpu_s) / (rx + tx)) * 1000 : null,
        load1Start: loadA, load1End: load1(), errors: b.errors,
      };
      step.held = step.pcsConnected >= want && step.loss !== null && step.loss < LOSS_LIMIT
        && step.delivery !== null && step.delivery > 0.98;
      res.steps.push(step);
      log(`${name}: ${n} consultations, ${secs.toFixed(0)} s: rx ${step.rxPerSecond.toFixed(0)} pkt/s, loss ${(100 * (step.loss ?? 1)).toFixed(2)} %, delivery ${(100 * (step.delivery ?? 0)).toFixed(1)} %, `
        + `server ${(step.serverCpuPer1000 ?? NaN).toFixed(3)} CPU s/1000 pkt (${(100 * step.serverCores).toFixed(0)} % of a core), `
        + `delay p50/p99 ${step.delayP50Ms?.toFixed(2)}/${step.delayP99Ms?.toFixed(2)} ms, RSS/participant ${(step.rssPerParticipant / 1e6).toFixed(2)} MB, `
        + `generator ${(100 * step.genCores).toFixed(0)} % of a core, load ${step.load1End.toFixed(2)}, pcs ${step.pcsConnected}/${want}${step.held ? '' : '  NOT HELD'}`);
      // Past the loss limit the ramp goes on (the cost figures want the same loads for both
      // servers) until the run collapses: 5 % loss, a tenth of the packets missing, or peer
      // connections that do not come up.
      if (!step.held && (step.loss === null || step.loss > 0.05 || step.delivery < 0.9 || step.pcsConnected < want)) break;
    }
  } catch (e) {
    res.error = String(e && e.stack ? e.stack : e);
    log(`${name}: ${res.error}`);
  } finally {
    if (gen) res.generatorExit = await gen.stop();
    if (srv) {
      const s = await srv.stop();
      res.serverExit = s.exit;
      if (res.error || !res.steps.length || !res.steps[res.steps.length - 1].held) res.serverLogTail = s.logTail;
    }
    if (!process.env.MW_LOAD_KEEP) rmSync(workDir, { recursive: true, force: true });
  }
  res.loadAfter = load1();
  return res;
}

// ------------------------------------------------------------------ table

function summarize(res, refN) {
  // Capacity: the largest step of the unbroken run of held steps from the start of the ramp.
  const held = [];
  for (const s of res.steps) { if (!s.held) break; held.push(s); }
  const ref = res.steps.find((s) => s.consultations === refN) || null;
  return {
    capacity: held.length ? held[held.length - 1].consultations : 0,
    ref,
    firstFrameP50: pct(res.firstFrameMs, 0.5),
    firstFrameP90: pct(res.firstFrameMs, 0.9),
  };
}

const f = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '—' : Number(x).toFixed(d));
const ratio = (a, b) => (a === null || b === null || a === undefined || b === undefined || !b ? '—' : `${(a / b).toFixed(2)}×`);

function table(results) {
  const ours = results.find((r) => r.server === 'ours');
  const janus = results.find((r) => r.server === 'janus');
  // The reference load (the same for both servers): --ref consultations when both measured
  // it, else the largest step both measured.
  const measured = (r) => new Set((r ? r.steps : []).map((s) => s.consultations));
  const common = [...measured(ours || janus)].filter((n) => (!janus || measured(janus).has(n)) && (!ours || measured(ours).has(n)));
  const refN = common.includes(args.ref) ? args.ref : (common.length ? Math.max(...common) : null);
  const so = ours ? summarize(ours, refN) : null;
  const sj = janus ? summarize(janus, refN) : null;
  const rows = [
    ['server CPU s per 1,000 forwarded packets', (s) => s?.ref?.serverCpuPer1000, 3],
    ['· server CPU, % of one core', (s) => (s?.ref ? 100 * s.ref.serverCores : null), 0],
    ['· server context switches per forwarded packet', (s) => s?.ref?.switchesPerPacket, 2],
    [`consultations held ${args.hold} s with loss < 0.5 % (ramp ${args.steps.join(',')})`, (s) => s?.capacity, 0],
    ['one-way delay p50, ms (generator → server → generator)', (s) => s?.ref?.delayP50Ms, 2],
    ['one-way delay p99, ms', (s) => s?.ref?.delayP99Ms, 2],
    ['server memory per participant, MB (RSS delta / participants)', (s) => (s?.ref ? s.ref.rssPerParticipant / 1e6 : null), 2],
    ['join to first keyframe received, p50 ms', (s) => s?.firstFrameP50, 0],
    ['join to first keyframe received, p90 ms', (s) => s?.firstFrameP90, 0],
    ['forwarded packets/s received by the generator', (s) => s?.ref?.rxPerSecond, 0],
    ['loss (sequence gaps), %', (s) => (s?.ref?.loss != null ? 100 * s.ref.loss : null), 3],
    ['generator CPU, % of one core', (s) => (s?.ref ? 100 * s.ref.genCores : null), 0],
    ['load average (1 min) at the end of the window', (s) => s?.ref?.load1End, 2],
  ];
  const lines = [
    `Reference load for the cost figures: ${refN} consultations (${refN * 2} participants, each publishing VP8 + Opus and receiving the other), ${args.hold} s window.`,
    '',
    '| figure | ours | Janus | ours / Janus |',
    '|---|---|---|---|',
  ];
  for (const [label, get, d] of rows) {
    const a = get(so);
    const b = get(sj);
    lines.push(`| ${label} | ${f(a, d)} | ${f(b, d)} | ${ratio(a, b)} |`);
  }
  const detail = ['', '| server | consultations | rx pkt/s | loss % | delivery % | CPU s/1000 pkt | switches/pkt | server % core | delay p50/p99 ms | RSS MB | MB/participant | generator % core | load 1m | held |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    for (const s of r.steps) {
      detail.push(`| ${r.server} | ${s.consultations} | ${f(s.rxPerSecond, 0)} | ${f(s.loss != null ? 100 * s.loss : null, 3)} | ${f(s.delivery != null ? 100 * s.delivery : null, 1)} | ${f(s.serverCpuPer1000, 3)} | ${f(s.switchesPerPacket)} | ${f(100 * s.serverCores, 0)} | ${f(s.delayP50Ms)}/${f(s.delayP99Ms)} | ${f(s.rss / 1e6, 1)} | ${f(s.rssPerParticipant / 1e6)} | ${f(100 * s.genCores, 0)} | ${f(s.load1End)} | ${s.held ? 'yes' : 'no'} |`);
    }
    if (r.error) detail.push(`| ${r.server} | stopped: ${r.error.split('\n')[0].replace(/\|/g, '/').replace(/ --password \S+/, '').slice(0, 100)} | | | | | | | | | | | | |`);
  }
  return { text: lines.concat(detail).join('\n'), refN, so, sj };
}

function machine() {
  const c = cpus();
  return `${c.length} × "${c[0]?.model ?? '?'}", Linux ${release()}, node ${process.versions.node}`;
}

async function main() {
  log(`relay bench: servers ${args.servers.join(',')}, steps ${args.steps.join(',')}, hold ${args.hold} s${args.quick ? ' (quick)' : ''}`);
  const started = new Date();
  const results = [];
  for (const s of args.servers) {
    if (s === 'janus' && !existsSync('/usr/bin/janus')) { log('janus: not installed, skipped'); continue; }
    results.push(await runServer(s));
  }
  const t = table(results);
  const head = [
    `Run of ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, \`${args.command || 'bench/load/run.sh'}\`, ${((Date.now() - t0) / 1000).toFixed(0)} s.`,
    `${process.env.MW_LOAD_DAEMON_ENV ? `Our daemon ran with ${process.env.MW_LOAD_DAEMON_ENV}. ` : ''}Machine: ${machine()}; load average (1 min) before/after: ${results.map((r) => `${r.server} ${f(r.loadBefore)}/${f(r.loadAfter)}`).join(', ')}.`,
    '',
  ].join('\n');
  const md = head + t.text + '\n';
  process.stdout.write(`\n${md}\n`);
  const outDir = path.join(HERE, 'out');
  mkdirSync(outDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  writeFileSync(path.join(outDir, `results-${stamp}.json`), JSON.stringify({ args, machine: machine(), results }, null, 1));
  writeFileSync(path.join(outDir, `results-${stamp}.md`), md);
  if (args.doc) {
    const doc = path.join(REPO, 'docs', 'performance.md');
    const text = readFileSync(doc, 'utf8');
    const B = '<!-- relay-results:begin (written by bench/load/run.sh) -->';
    const E = '<!-- relay-results:end -->';
    const i = text.indexOf(B);
    const j = text.indexOf(E);
    if (i >= 0 && j > i) {
      writeFileSync(doc, `${text.slice(0, i + B.length)}\n${md}${text.slice(j)}`);
      log('docs/performance.md: Relay results written');
    } else {
      log('docs/performance.md: no relay-results markers, not written');
    }
  }
  const failed = results.some((r) => r.error);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { log(String(e.stack || e)); process.exit(1); });
