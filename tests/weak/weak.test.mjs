// The weak-link check for CI: our relay on the `edge` profile (150 kbit/s, 600 ms RTT, 5 % loss
// each way on the patient's link) and the `outage` profile (5 s of 100 % loss in a 1 Mbit/s,
// 100 ms link), ~40 s each with Chromium's default camera, through the same harness as the
// benchmark (bench/weak). It asserts what a patient and a doctor would notice, not how well the
// relay adapts:
//   - the call stays connected (every pc connected at the end; edge: at most 3 s not connected);
//   - audio arrives throughout: no second without an audio packet (outside the outage);
//   - edge: audio concealment under 15 % each way. 5 % random loss each way already conceals
//     ~5 %; NetEq's stretching under 600 ms RTT jitter adds some; 15 % is where speech becomes
//     hard to follow (a conservative reading of the ITU-T P.1203/E-model loss curves for Opus);
//   - outage: audio resumes within 1 s and video within 2 s of the link coming back (issue 4's
//     figures; peer to peer: 0.2 s and 1.1-1.4 s). The relay keeps a participant whose media
//     stopped for 30 s ("away", docs/protocol.md), so nothing is rebuilt when the link returns.
//   - three-party (issue 4): the patient on edge, the doctor and an invited specialist on clean
//     links: the doctor and the specialist keep receiving each other at ≥ 80 % of the video
//     bitrate of the same call with the patient on `good` (measured first, in the same run). The
//     patient's audio from each should stay under 40 % concealment (a guard against collapse: a
//     weak leg flooded with a good one's stream concealed ~60 %), but that is known failing
//     (todo): on edge the patient's page still drops and joins again in about half the
//     three-party runs (bench/weak/README.md), with seconds of silence and 13-42 % concealment.
// Run it with `bash bench/weak/run.sh --node-test tests/weak/weak.test.mjs` (root; scripts/test.sh
// does): that makes the namespaces and runs this file inside the server's one.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

const PREFIX = process.env.MW_WEAK_PREFIX;
process.env.MW_E2E_HOST ||= '198.18.0.1';

describe('weak links: our relay', { skip: PREFIX ? false : 'run it through bench/weak/run.sh --node-test' }, () => {
  let H;
  let env;
  let mode;
  const figures = {};
  let party3Edge = null; // the three-party edge run, for the patient's audio check below

  before(async () => {
    H = await import('../../bench/weak/lib/harness.mjs');
    env = await H.makeEnv(PREFIX);
    [mode] = await H.loadModes(['ours'], env.log);
    await mode.setup(env);
  });

  after(async () => {
    if (mode) await mode.teardown(env).catch((e) => console.error(`teardown: ${e.message}`));
    if (env) await H.freeEnv(env);
    console.log(`figures: ${JSON.stringify(figures)}`);
  });

  const show = (name, r) => {
    for (const dir of ['patientRx', 'doctorRx']) {
      const m = r[dir];
      figures[`${name}.${dir}`] = {
        ice: m.transport, videoKbps: m.videoKbps, fps: m.fps, frozenSecondsPerMinute: m.frozenSecondsPerMinute,
        audioConcealmentPct: m.audioConcealmentPct, audioSilentSeconds: m.audioSilentSeconds,
        notConnectedSeconds: m.notConnectedSeconds, videoResumeSeconds: m.videoResumeSeconds,
        audioResumeSeconds: m.audioResumeSeconds, jitterBufferMs: m.jitterBufferMs, jitterTargetMs: m.jitterTargetMs,
        series: m.series.join(' '),
      };
      console.log(`${name} ${dir}: ${JSON.stringify(figures[`${name}.${dir}`])}`);
    }
  };

  // One two-party run of `profile` with the default camera, its figures printed; every pc
  // connected at its end.
  const runChecked = async (profile, opts) => {
    const r = await H.runOne(env, mode, profile, 'default', { quick: true, ...opts });
    assert.ok(!r.error, `the run failed: ${r.error}`);
    show(profile, r);
    for (const dir of ['patientRx', 'doctorRx']) assert.ok(r[dir].connectedAtEnd, `${dir}: every pc should be connected at the end`);
    return r;
  };

  it('edge: the call holds and the audio stays intelligible', {
    timeout: 240000,
  }, async () => {
    const r = await runChecked('edge', { total: 40, warmup: 5 });
    for (const dir of ['patientRx', 'doctorRx']) {
      const m = r[dir];
      assert.ok(m.notConnectedSeconds <= 3, `${dir}: ${m.notConnectedSeconds} s not connected, want ≤ 3`);
      assert.equal(m.audioSilentSeconds, 0, `${dir}: ${m.audioSilentSeconds} s without any audio packet`);
      assert.ok(m.audioConcealmentPct !== null && m.audioConcealmentPct < 15,
        `${dir}: audio concealment ${m.audioConcealmentPct} %, want < 15 %`);
    }
  });

  // A lost video packet comes back one RTT later: from the relay's cache when the patient's
  // downlink lost it, from the patient (the relay's NACK) when its uplink did. Neither browser
  // knows that RTT on its receive-only pc, so without the page's repair delay (web/js/call.js)
  // each repaired frame froze the picture: 4-15 s a minute each way, where two Chromiums peer to
  // peer freeze 0-1 s. Asserted: each page's video jitter buffer aims at one RTT or more (the
  // mechanism), and video freezes under 8 s a minute each way (what the doctor and patient see;
  // 0-4.4 s measured with it).
  it('rural-3g: repaired video arrives in time (no freezes from NACK round trips)', {
    timeout: 240000,
  }, async () => {
    const r = await runChecked('rural-3g', { total: 33, warmup: 8 });
    for (const dir of ['patientRx', 'doctorRx']) {
      const m = r[dir];
      assert.ok(m.jitterTargetMs !== null && m.jitterTargetMs >= 250,
        `${dir}: the video jitter buffer aimed at ${m.jitterTargetMs} ms, want ≥ 250 (the link's RTT is 300 ms)`);
      assert.ok(m.frozenSecondsPerMinute < 8, `${dir}: video frozen ${m.frozenSecondsPerMinute} s a minute, want < 8`);
    }
  });

  it('three-party: a patient on edge does not drag the doctor and the specialist down', {
    timeout: 360000,
  }, async () => {
    const { partyRatios, GOOD_LINKS } = await import('../../bench/weak/lib/report.mjs');
    const good = await H.runOne(env, mode, 'good', 'default', { quick: true, total: 15, warmup: 5, party: 3 });
    assert.ok(!good.error, `the reference run (good) failed: ${good.error}`);
    const edge = await H.runOne(env, mode, 'edge', 'default', { quick: true, total: 25, warmup: 5, party: 3 });
    assert.ok(!edge.error, `the edge run failed: ${edge.error}`);
    for (const [link, m] of Object.entries(edge.links)) {
      figures[`party3.${link}`] = { videoKbps: m.videoKbps, goodKbps: good.links[link].videoKbps, fps: m.fps,
        audioConcealmentPct: m.audioConcealmentPct, audioSilentSeconds: m.audioSilentSeconds, series: m.series.join(' ') };
      console.log(`party3 ${link}: ${JSON.stringify(figures[`party3.${link}`])}`);
    }
    figures['party3.serverCpuPct'] = { good: good.serverCpuPct, edge: edge.serverCpuPct };
    const ratios = partyRatios([good, edge]);
    for (const link of GOOD_LINKS) {
      const q = ratios.find((x) => x.link === link);
      assert.ok(q && q.ratio !== null && q.ratio >= 0.8,
        `${link}: ${q?.kbps} kbit/s with the patient on edge, ${q?.refKbps} with the patient on good: want ≥ 80 %`);
    }
    figures['party3.rejoins'] = edge.rejoins;
    party3Edge = edge;
  });

  // Known failing (issue 4 open), run and reported every time, counted apart by scripts/test.sh:
  // the patient on edge hears the two others badly. Its downlink carries two audio legs (each
  // Opus with RED, ~60 kbit/s) beside the video legs, each leg with its own estimator, on
  // 150 kbit/s with 5 % loss; the page also drops and joins again in about half the runs.
  // Measured: 13-17 % concealed in T's runs, 42.4 % (guest→patient) in the CI run of
  // 2026-12-05 10:36 UTC.
  it('three-party: the patient on edge still hears the doctor and the specialist (concealment < 40 %)', {
    todo: 'issue 4: a patient on edge in a three-party call hears the others with 13-42 % concealment',
  }, () => {
    assert.ok(party3Edge, 'the three-party run happened');
    for (const link of ['doctor→patient', 'guest→patient']) {
      const m = party3Edge.links[link];
      assert.ok(m.audioConcealmentPct !== null && m.audioConcealmentPct < 40,
        `${link}: audio concealment ${m.audioConcealmentPct} %, want < 40 %`);
    }
  });

  it('outage: audio and video come back after 5 s of total loss', { timeout: 240000 }, async () => {
    const r = await runChecked('outage', { total: 40, warmup: 5 });
    for (const dir of ['patientRx', 'doctorRx']) {
      const m = r[dir];
      assert.equal(m.audioSilentSeconds, 0, `${dir}: ${m.audioSilentSeconds} s without any audio packet outside the outage`);
      assert.ok(m.audioResumeSeconds !== null && m.audioResumeSeconds <= 1,
        `${dir}: audio resumed ${m.audioResumeSeconds} s after the link came back, want ≤ 1 s`);
      assert.ok(m.videoResumeSeconds !== null && m.videoResumeSeconds <= 2,
        `${dir}: video resumed ${m.videoResumeSeconds} s after the link came back, want ≤ 2 s`);
    }
  });
});
