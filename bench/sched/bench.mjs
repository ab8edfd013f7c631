#!/usr/bin/env node
// bench/sched/bench.mjs — the scheduler benchmark (bench/README.md). Starts from nothing: seeds a
// database through the scheduler's C API (sched-bench seed), times slot searches in-process
// (sched-bench search) and over HTTPS against the real daemon on 127.0.0.1, measures confirmed
// bookings per second with concurrent HTTPS clients, stops the daemon, then times the dashboard's
// aggregate queries over synthetic past consultations in a scratch copy (sched-bench aggregates).
// Prints one table with each figure's target and PASS/FAIL. Everything is bounded in time.
//
// Usage: node bench/sched/bench.mjs --bin BUILD/daemon/mashwara --sched-bench BUILD/bench/sched/sched-bench
//        [--clients 16] [--seconds 10] [--searches 1000] [--rows 1000000] [--json FILE] [--keep]
//        [--daemon-env NAME=VALUE] (diagnostics, e.g. LD_PRELOAD of a profiler shim; printed)
// (bash bench/sched/run.sh builds both and passes them.)

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

// --- options --------------------------------------------------------------------------------

const opt = {
  bin: path.join(REPO, 'build', 'daemon', 'mashwara'),
  schedBench: path.join(REPO, 'build', 'bench', 'sched', 'sched-bench'),
  clients: 16, seconds: 10, searches: 1000, rows: 1000000, json: null, keep: false,
  limitS: 900, daemonEnv: {},
};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === '--bin') opt.bin = path.resolve(v());
  else if (a === '--sched-bench') opt.schedBench = path.resolve(v());
  else if (a === '--clients') opt.clients = Number(v());
  else if (a === '--seconds') opt.seconds = Number(v());
  else if (a === '--searches') opt.searches = Number(v());
  else if (a === '--rows') opt.rows = Number(v());
  else if (a === '--json') opt.json = path.resolve(v());
  else if (a === '--limit') opt.limitS = Number(v());
  else if (a === '--keep') opt.keep = true;
  else if (a === '--daemon-env') { const [k, ...x] = v().split('='); opt.daemonEnv[k] = x.join('='); }
  else { console.error(`bench: unknown option ${a}`); process.exit(2); }
}
for (const f of [opt.bin, opt.schedBench]) {
  if (!existsSync(f)) { console.error(`bench: ${f} not found (build it: bash bench/sched/run.sh)`); process.exit(2); }
}
process.env.MASHWARA_BIN = opt.bin;
const lib = await import(path.join(REPO, 'tests', 'api', 'lib.mjs'));
const { csrfToken } = await import(path.join(REPO, 'tests', 'common', 'https.mjs'));

const TARGET = { bookingsPerS: 1000, searchP99Ms: 10, aggregateMs: 200 };
const ADMIN = { username: 'bench.admin', password: 'bench-admin-password' };
const DAY = 86400;

// --- the HTTP API used (docs/api.md) ----------------------------------------------------------

const api = {
  // Slot search: same filters as SchedSlotQuery.
  searchPath(q) {
    const p = new URLSearchParams();
    if (q.doctor) p.set('doctor_id', q.doctor);
    if (q.facility) p.set('facility_id', q.facility);
    if (q.specialty) p.set('specialty', q.specialty);
    if (q.language) p.set('language', q.language);
    if (q.gender) p.set('gender', q.gender);
    p.set('from', q.from); p.set('to', q.to); p.set('limit', q.limit);
    return `/api/slots?${p}`;
  },
  searchCount: (json) => (json && Array.isArray(json.slots) ? json.slots.length : -1),
  // Book (hold and confirm in one call): a confirmed booking.
  book: (s, patientId) => ['POST', '/api/appointments',
    { doctor_id: s.doctor, service_id: s.service, patient_id: patientId, starts_at: s.startsAt }],
};

// --- small helpers ----------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(file, args, { timeout = 600000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args[0]} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Deterministic PRNG (mulberry32), so every run asks the same queries. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pct(sortedMs, p) {
  if (!sortedMs.length) return NaN;
  const rank = Math.min(sortedMs.length, Math.max(1, Math.ceil((p / 100) * sortedMs.length)));
  return sortedMs[rank - 1];
}

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

/** One HTTPS request on a given agent; resolves {status, json, ms}. */
function call(d, agent, cookie, method, urlPath, body, timeout = 15000) {
  const data = body === undefined ? null : JSON.stringify(body);
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: lib.HOST, port: d.port, path: urlPath, method, agent, timeout,
      headers: {
        cookie,
        ...(method !== 'GET' ? { 'x-csrf-token': csrfToken(cookie) } : {}),
        ...(data !== null ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
      },
    }, (res) => {
      const chunks = [];
      // A response cut off mid-body (the server died after its headers) ends with neither 'end'
      // nor a request error: without these two the promise would never settle.
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error(`${method} ${urlPath}: response cut off`));
      });
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        let json = null;
        try { json = JSON.parse(Buffer.concat(chunks).toString()); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, json, ms });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
    req.on('error', reject);
    if (data !== null) req.write(data);
    req.end();
  });
}

// --- the query mix -----------------------------------------------------------------------------

/** The slot queries, the same for the C API and HTTP: what a booking desk and the patient page
 * ask. Kinds: by specialty for a week; one doctor's week; facility + language + gender for two
 * weeks; and "the next free slot of this specialty" over the whole year (limit 20). */
function makeQueries(seed, n) {
  const rnd = prng(12345);
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const day = (k) => seed.today + k * DAY;
  const qs = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const start = day(1 + Math.floor(rnd() * 340));
    if (r < 0.3) {
      qs.push({ kind: 'specialty-week', specialty: pick(seed.specialties), from: start, to: start + 7 * DAY, limit: 20 });
    } else if (r < 0.6) {
      const d = pick(seed.doctors);
      qs.push({ kind: 'doctor-week', doctor: d.id, from: start, to: start + 7 * DAY, limit: 100 });
    } else if (r < 0.8) {
      const d = pick(seed.doctors);
      qs.push({ kind: 'facility-language-gender-2weeks', facility: d.facility_id, language: d.language,
        gender: d.gender, from: start, to: start + 14 * DAY, limit: 20 });
    } else {
      const from = day(1);
      qs.push({ kind: 'specialty-next-free-year', specialty: pick(seed.specialties), from, to: from + 365 * DAY, limit: 20 });
    }
  }
  return qs;
}

const queryLine = (q) => [q.kind, q.doctor || 0, q.facility || 0, q.specialty || '-', q.language || '-',
  q.gender || '-', q.from, q.to, q.limit].join(' ');

function summarize(samples) {
  const all = samples.map((s) => s.ms).sort((a, b) => a - b);
  const kinds = {};
  for (const s of samples) (kinds[s.kind] ||= []).push(s.ms);
  for (const k of Object.keys(kinds)) {
    const v = kinds[k].sort((a, b) => a - b);
    kinds[k] = { n: v.length, p50_ms: pct(v, 50), p99_ms: pct(v, 99), max_ms: v[v.length - 1] };
  }
  return { n: all.length, p50_ms: pct(all, 50), p90_ms: pct(all, 90), p99_ms: pct(all, 99),
    max_ms: all[all.length - 1], kinds };
}

// --- the phases ----------------------------------------------------------------------------------

async function httpSearch(d, cookie, queries, warmup = 50) {
  const agent = new https.Agent({ ca: d.ca, keepAlive: true, maxSockets: 1 });
  const samples = [];
  let bad = 0, empty = 0, firstBad = null;
  try {
    for (let i = 0; i < queries.length + warmup; i++) {
      const q = queries[i < warmup ? i : i - warmup];
      const r = await call(d, agent, cookie, 'GET', api.searchPath(q));
      if (r.status !== 200) { bad++; firstBad ||= { status: r.status, body: r.json, path: api.searchPath(q) }; continue; }
      if (i < warmup) continue;
      if (api.searchCount(r.json) === 0) empty++;
      samples.push({ kind: q.kind, ms: r.ms });
    }
  } finally {
    agent.destroy();
  }
  return { ...summarize(samples), bad, empty, firstBad };
}

async function bookings(d, cookie, slotsByDoctor, patients, clients, seconds) {
  // Client c books the slots of doctors c, c + clients, …, in time order: distinct slots, no
  // client ever races another, so every answer should be a 2xx.
  const doctorIds = [...slotsByDoctor.keys()].sort((a, b) => a - b);
  const lanes = Array.from({ length: clients }, (_, c) => {
    const mine = doctorIds.filter((_, i) => i % clients === c).map((id) => slotsByDoctor.get(id));
    const out = [];
    for (let k = 0; ; k++) {
      let any = false;
      for (const list of mine) if (k < list.length) { out.push(list[k]); any = true; }
      if (!any) break;
    }
    return out;
  });
  const statuses = {};
  const latencies = [];
  let ok = 0, ranOut = false, firstError = null, patientNext = 0;
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  await Promise.all(lanes.map(async (lane) => {
    const agent = new https.Agent({ ca: d.ca, keepAlive: true, maxSockets: 1 });
    try {
      for (let k = 0; Date.now() < end; k++) {
        if (k >= lane.length) { ranOut = true; break; }
        const [method, p, body] = api.book(lane[k], patients[patientNext++ % patients.length]);
        const r = await call(d, agent, cookie, method, p, body);
        const key = r.status >= 200 && r.status < 300 ? '2xx' : `${r.status} ${r.json?.error ?? ''}`.trim();
        statuses[key] = (statuses[key] || 0) + 1;
        if (key === '2xx') { ok++; latencies.push(r.ms); } else firstError ||= { status: r.status, body: r.json, request: body };
      }
    } finally {
      agent.destroy();
    }
  }));
  const elapsed = (Date.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { ok, elapsed_s: elapsed, per_s: ok / elapsed, statuses, ranOut, firstError,
    p50_ms: pct(latencies, 50), p99_ms: pct(latencies, 99) };
}

// --- main ----------------------------------------------------------------------------------------

const limit = setTimeout(() => {
  console.error(`bench: gave up after the overall limit of ${opt.limitS} s`);
  process.exit(3);
}, opt.limitS * 1000);

const started = new Date();
const machine = {
  nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown', kernel: `${os.type()} ${os.release()}`,
  load_before: load(), load_after: null, node: process.version,
};
const dir = await mkdtemp(path.join(os.tmpdir(), 'mw-bench-'));
const db = path.join(dir, 'mashwara.db');
const log = (m) => console.error(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`);
let daemon = null;
const result = { started: started.toISOString(), machine, options: { ...opt } };
try {
  log(`seeding ${db} (200 doctors, a year of weekly availability)`);
  const seed = JSON.parse(await run(opt.schedBench, ['seed', '--db', db, '--admin', ADMIN.username, '--password', ADMIN.password]));
  result.seed_s = seed.seconds;

  const queries = makeQueries(seed, opt.searches);
  const qfile = path.join(dir, 'queries.txt');
  await writeFile(qfile, queries.map(queryLine).join('\n') + '\n');
  log(`slot search in-process: ${queries.length} queries`);
  result.search_c = JSON.parse(await run(opt.schedBench, ['search', '--db', db, '--queries', qfile]));

  log('listing free slots for the booking clients');
  const slotsText = await run(opt.schedBench, ['slots', '--db', db, '--per-doctor', '1000', '--from', String(seed.today + DAY)]);
  const slotsByDoctor = new Map();
  for (const line of slotsText.split('\n')) {
    const [doctor, service, startsAt] = line.split(' ').map(Number);
    if (!doctor) continue;
    if (!slotsByDoctor.has(doctor)) slotsByDoctor.set(doctor, []);
    slotsByDoctor.get(doctor).push({ doctor, service, startsAt });
  }

  log('starting the daemon on 127.0.0.1');
  // The per-address request rate and connection cap would measure themselves, not the engine.
  const conf = path.join(dir, 'bench.conf');
  await writeFile(conf, '[server]\nrequests_per_second_per_address=-1\nmax_connections_per_address=10000\n');
  daemon = await lib.startDaemon({ dir, env: opt.daemonEnv, extraArgs: ['--config', conf] });
  daemon.ca = await readFile(path.join(dir, 'tls', 'cert.pem'));
  const cookie = await lib.login(daemon, ADMIN.username, ADMIN.password);

  log(`slot search over HTTPS: ${queries.length} queries, one keep-alive connection`);
  result.search_http = await httpSearch(daemon, cookie, queries);

  log(`bookings: ${opt.clients} clients for ${opt.seconds} s`);
  result.bookings = await bookings(daemon, cookie, slotsByDoctor, seed.patients, opt.clients, opt.seconds);
  const stopped = await daemon.stop();
  result.daemon_exit = stopped;
  daemon = null;

  log(`aggregates: ${opt.rows} synthetic consultations in a scratch copy`);
  result.aggregates = JSON.parse(await run(opt.schedBench,
    ['aggregates', '--db', db, '--scratch', path.join(dir, 'scratch.db'), '--rows', String(opt.rows)]));
} catch (e) {
  result.error = e.stack || String(e);
} finally {
  if (daemon) await daemon.stop().catch(() => {});
  machine.load_after = load();
  if (!opt.keep) await rm(dir, { recursive: true, force: true }).catch(() => {});
  clearTimeout(limit);
}

// --- the table -------------------------------------------------------------------------------------

const rows = [];
const verdict = (ok) => (ok === null ? '—' : ok ? 'PASS' : 'FAIL');
let failed = 0;
const row = (what, figure, target, ok) => {
  if (ok === false) failed++;
  rows.push([what, figure, target, verdict(ok)]);
};
const b = result.bookings;
if (b) {
  const other = Object.entries(b.statuses).filter(([k]) => k !== '2xx').map(([k, v]) => `${v}× ${k}`).join(', ');
  row(`confirmed bookings/s, ${opt.clients} HTTPS clients (keep-alive), ${fmt(b.elapsed_s, 1)} s`,
    `${fmt(b.per_s, 0)}/s (${b.ok} booked${other ? `; ${other}` : ''}; latency p50 ${fmt(b.p50_ms)} ms, p99 ${fmt(b.p99_ms)} ms)`,
    `≥ ${TARGET.bookingsPerS}/s`, b.per_s >= TARGET.bookingsPerS && !other);
}
for (const [name, s] of [['HTTPS (one keep-alive connection)', result.search_http], ['in-process (C API)', result.search_c]]) {
  if (!s) continue;
  const note = s.bad ? `; ${s.bad} non-200` : '';
  const cpuNote = s.cpu_p99_ms !== undefined ? `; CPU time p50 ${fmt(s.cpu_p50_ms)}, p99 ${fmt(s.cpu_p99_ms)} ms` : '';
  row(`slot search ${name}, ${s.n} queries: p50 / p99`, `${fmt(s.p50_ms)} / ${fmt(s.p99_ms)} ms (max ${fmt(s.max_ms)}${cpuNote})${note}`,
    `p99 ≤ ${TARGET.searchP99Ms} ms`, s.p99_ms <= TARGET.searchP99Ms && !s.bad);
  for (const [k, v] of Object.entries(s.kinds).sort()) {
    rows.push([`  · ${k} (${v.n})`, `${fmt(v.p50_ms)} / ${fmt(v.p99_ms)} ms (max ${fmt(v.max_ms)})`, '', '']);
  }
}
const ag = result.aggregates;
if (ag) {
  rows.push([`dashboard aggregates over ${ag.consultations} past consultations (${ag.appointments} appointments; generated in ${fmt(ag.generate_s, 1)} s)`, '', '', '']);
  for (const q of ag.queries) {
    if (q.skipped) { rows.push([`  ${q.name}`, `n/a: ${q.skipped}`, '', '—']); continue; }
    row(`  ${q.name}: sched_stats_query()`, `${fmt(q.api_ms, 2)} ms (${q.api_rows} rows; median of ${ag.runs})`, `≤ ${TARGET.aggregateMs} ms`, q.api_ms <= TARGET.aggregateMs);
    // Before: the same question as raw SQL over the tables (one run; for comparison only).
    rows.push([`  ${q.name}: raw SQL over the tables (before)`, `${fmt(q.base_ms, 1)} ms (${q.rows} rows)`, '', '']);
  }
  // Grouped by the patients' sex or age band: from their summary since schema 10.
  for (const q of ag.patient_queries || []) {
    row(`  ${q.name}: sched_stats_query()`, `${fmt(q.api_ms, 2)} ms (${q.api_rows} rows; median of ${Math.min(ag.runs, 3)})`, `≤ ${TARGET.aggregateMs} ms`, q.api_ms <= TARGET.aggregateMs);
    if (q.base_ms !== undefined) rows.push([`  ${q.name}: raw SQL over the tables (before)`, `${fmt(q.base_ms, 1)} ms`, '', '']);
  }
  row('  statistics summary agrees with the raw rows (year totals; by sex and age band: each group)', ag.summary_agrees
    ? `yes: ${ag.total.consultations} consultations, ${ag.total.noshows} no-shows; wait p50/p90 ${ag.total.wait_p50_min}/${ag.total.wait_p90_min} min, duration p50 ${ag.total.duration_p50_min} min; ${ag.total.audio_fallbacks} of ${ag.total.quality_consultations} measured calls fell back to audio; ${ag.total.doctors_active} doctors active`
    : 'NO', 'equal', ag.summary_agrees);
}
const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), ['measure', 'figure', 'target', 'result'][i].length));
const line = (r) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
console.log(`\nScheduler benchmark, ${result.started}`);
console.log(`machine: ${machine.nproc} × ${machine.cpu} (${machine.kernel}), node ${machine.node}`);
console.log(`load average (1/5/15 min): before ${machine.load_before}; after ${machine.load_after}`);
console.log(`daemon: ${opt.bin}${Object.keys(opt.daemonEnv).length ? ` (env ${JSON.stringify(opt.daemonEnv)})` : ''}${result.seed_s !== undefined ? `; seed took ${fmt(result.seed_s, 1)} s` : ''}\n`);
console.log(line(['measure', 'figure', 'target', 'result']));
console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
if (b?.firstError) console.log(`\nfirst failed booking: ${JSON.stringify(b.firstError)}`);
if (result.search_http?.firstBad) console.log(`first failed search: ${JSON.stringify(result.search_http.firstBad)}`);
if (b?.ranOut) console.log('note: a booking client ran out of distinct slots before the time was up');
if (ag?.stats_rows !== undefined) console.log(`\nstatistics summary stats_daily (schema 3): ${ag.stats_rows} rows, kept current by triggers while the ${ag.consultations} consultations were inserted`);
if (result.error) { console.log(`\nERROR: ${result.error}`); failed++; }
if (opt.json) await writeFile(opt.json, JSON.stringify(result, null, 2));
process.exitCode = failed ? 1 : 0;
