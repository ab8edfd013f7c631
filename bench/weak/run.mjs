// The weak-link benchmark driver: for each mode × profile × camera, one call between a patient
// and a doctor (each a headless Chromium in its own namespace), the patient's link following the
// profile's schedule, getStats() sampled in both pages; then the figures per direction, a JSON
// file and the Markdown report docs/weak-links.md. Run it through bench/weak/run.sh (root; it
// makes the namespaces and runs this inside the srv one).
//
//   node bench/weak/run.mjs --prefix P [--quick] [--profiles a,b] [--modes ours,p2p,janus]
//        [--cameras default,busy] [--seconds N] [--warmup N] [--party 3] [--no-doc] [--doc FILE]
//
// --party 3: three-party calls (patient on the profile, doctor and an invited guest on clean
// links) through the modes that have one (ours); `good` is run first as the reference.

import { writeFile, mkdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    prefix: { type: 'string' },
    quick: { type: 'boolean', default: false },
    profiles: { type: 'string', default: 'good,rural-3g,edge,step,outage' },
    modes: { type: 'string', default: 'ours,p2p,janus' },
    cameras: { type: 'string', default: 'default,busy' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    party: { type: 'string', default: '2' },
    'no-doc': { type: 'boolean', default: false },
    doc: { type: 'string' },
    command: { type: 'string' },
  },
});
if (!opt.prefix) {
  console.error('run.mjs: --prefix missing (start it with bench/weak/run.sh)');
  process.exit(2);
}
process.env.MW_E2E_HOST ||= '198.18.0.1';
const H = await import('./lib/harness.mjs');
const { PROFILES } = await import('./lib/profiles.mjs');
const { markdown, partyRatios, GOOD_LINKS } = await import('./lib/report.mjs');

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const party = Number(opt.party);
if (party !== 2 && party !== 3) throw new Error(`--party ${opt.party}: 2 or 3`);
const profiles = list(opt.profiles);
// The unimpaired reference of a three-party run: the same call on good, first.
if (party === 3 && !profiles.includes('good')) profiles.unshift('good');
for (const p of profiles) if (!PROFILES[p]) throw new Error(`unknown profile ${p}`);
const cameras = list(opt.cameras);
const warmup = opt.warmup ? Number(opt.warmup) : opt.quick ? 5 : 10;
const total = opt.seconds ? Number(opt.seconds) : null;

const env = await H.makeEnv(opt.prefix);
const modes = (await H.loadModes(list(opt.modes), env.log)).filter((m) => {
  if (party !== 3 || m.threeParty) return true;
  env.log(`mode ${m.name}: no three-party call, skipped (--party 3 measures our relay only)`);
  return false;
});
const results = [];
const started = new Date();
for (const mode of modes) {
  env.log(`== mode ${mode.name}: setup`);
  try {
    await mode.setup(env);
  } catch (e) {
    env.log(`mode ${mode.name}: setup failed: ${e.message}`);
    results.push({ mode: mode.name, error: `setup: ${e.message}` });
    await mode.teardown(env).catch(() => {});
    continue;
  }
  try {
    for (const profile of profiles) {
      for (const camera of cameras) {
        env.log(`== ${mode.name} / ${profile} / ${camera}`);
        const r = await H.runOne(env, mode, profile, camera, { quick: opt.quick, total, warmup, party });
        results.push(r);
        if (!r.error) {
          if (r.serverCpuPct !== undefined) env.log(`  server CPU over the window: ${r.serverCpuPct} % of one core`);
          if (r.rejoins) env.log(`  joined again after a drop: ${JSON.stringify(r.rejoins)}`);
          const dirs = party === 3 ? Object.keys(r.links) : ['patientRx', 'doctorRx'];
          for (const dir of dirs) {
            const m = party === 3 ? r.links[dir] : r[dir];
            env.log(`  ${dir}: ${m.videoKbps} kbit/s ${m.fps} fps, freezes ${m.freezeCount} (${m.frozenSecondsPerMinute} s/min), ` +
              `audio concealed ${m.audioConcealmentPct} %, audio-only ${m.audioOnlySeconds} s, ` +
              `video lost ${m.videoLost} rtx ${m.rtxPackets} fec ${m.fecPackets} (discarded ${m.fecDiscarded})` +
              (m.adaptSeconds !== undefined ? `, adapt ${m.adaptSeconds} s, ramp-up ${m.rampUpSeconds} s` : '') +
              (m.videoResumeSeconds !== undefined ? `, video resume ${m.videoResumeSeconds} s, audio resume ${m.audioResumeSeconds} s` : ''));
          }
        }
      }
    }
  } finally {
    await mode.teardown(env).catch((e) => env.log(`teardown ${mode.name}: ${e.message}`));
  }
}
await H.freeEnv(env);
for (const q of partyRatios(results)) {
  env.log(`three-party ${q.mode}/${q.camera}/${q.profile} ${q.link}${GOOD_LINKS.includes(q.link) ? ' (good↔good)' : ''}: ` +
    `${q.kbps} kbit/s, ${q.ratio === null ? 'no reference' : `${Math.round(q.ratio * 100)} % of the same link on good (${q.refKbps})`}`);
}

// ---- report ----------------------------------------------------------------------------------

const sh = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return '?'; } };
const cpu = (os.cpus()[0]?.model || '?').replace(/\s+/g, ' ');
const meta = {
  date: started.toISOString(),
  machine: `${os.hostname()}: ${cpu}, ${os.cpus().length} cores, Linux ${os.release()}`,
  chromium: sh('/usr/bin/chromium', ['--version']),
  commit: sh('git', ['-C', H.REPO, 'rev-parse', '--short', 'HEAD']),
  command: opt.command || `bash bench/weak/run.sh ${process.argv.slice(2).filter((a) => !a.startsWith('--prefix') && a !== opt.prefix).join(' ')}`.trim(),
  quick: opt.quick, party, warmupSeconds: warmup, sampleMs: H.SAMPLE_MS, seconds: total, profilesRun: profiles, cameras,
};
await mkdir(H.OUT, { recursive: true });
const stamp = started.toISOString().replace(/[:.]/g, '-');
const jsonFile = path.join(H.OUT, `results-${stamp}.json`);
await writeFile(jsonFile, JSON.stringify({ meta, profiles: PROFILES, results }, null, 1));
env.log(`wrote ${path.relative(H.REPO, jsonFile)}`);

const md = markdown({ meta, profiles: PROFILES, results, cameras: H.CAMERAS });
if (!opt['no-doc']) {
  const docFile = opt.doc || path.join(H.REPO, 'docs', 'weak-links.md');
  await writeFile(docFile, md);
  env.log(`wrote ${path.relative(H.REPO, docFile)}`);
}
const mdFile = path.join(H.OUT, `results-${stamp}.md`);
await writeFile(mdFile, md);
console.log(md);
process.exit(results.some((r) => r.error) ? 1 : 0);
