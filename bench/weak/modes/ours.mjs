// Mode "ours": the real mashwara daemon in the srv namespace (ICE on env.srvAddr), its real
// patient page and doctor console, as tests/e2e does: an appointment booked with the admin CLI,
// the patient opens the link and joins the waiting room, the doctor logs in and admits. Media
// goes patient ⇄ relay ⇄ doctor; only the patient's side crosses the impaired link.
// window.__pcs is kept by web/js/call.js.
// Three-party (`--party 3`, threeParty below): once both are in the call the doctor invites a
// specialist from the console (the invite box, POST /api/appointments/<id>/guests), and the
// guest's browser (in the clean gst namespace) opens that link on the real patient page and joins.

import {
  consoleLogin, startDaemon, addDoctor, addPatient, book, waitState, patientJoin,
} from '../../../tests/e2e/lib.mjs';

const DOCTOR = { username: 'dr.weak', name: 'Dr Weak Link', password: 'correct horse battery' };

export default {
  name: 'ours',
  threeParty: true,
  serverPid: (env) => env.ours?.daemon?.pid,

  async setup(env) {
    if (process.env.MW_E2E_HOST !== env.srvAddr) {
      throw new Error(`ours: MW_E2E_HOST must be ${env.srvAddr} before tests/e2e/lib.mjs loads (bench/weak/run.sh sets it)`);
    }
    env.ours = { daemon: await startDaemon(), n: 0 };
    await addDoctor(env.ours.daemon, DOCTOR);
    env.log(`ours: daemon pid ${env.ours.daemon.pid} on ${env.ours.daemon.base}`);
  },

  async connect(env, { patient, doctor, guest }) {
    const d = env.ours.daemon;
    const n = ++env.ours.n;
    const t0 = Date.now();
    const laps = (env.ours.laps = { t0 });
    const lap = (what, key) => {
      if (key) laps[key] = Date.now();
      env.log(`    ours: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    };
    const { patient_id } = await addPatient(d, { name: `Weak Patient ${n}`, phone: `+92300${String(1000000 + n)}` });
    const appt = await book(d, { doctor: DOCTOR.username, patient: patient_id, start: 'now', minutes: 30 });
    const patientPage = patient.pages()[0] || (await patient.newPage());
    // Page loads cross the impaired link: give them time (edge: 150 kbit/s, 600 ms, 5 % loss).
    laps.booked = Date.now();
    await patientPage.goto(appt.link, { waitUntil: 'load', timeout: 90000 });
    lap('patient page loaded', 'loaded');
    await patientJoin(patientPage, { timeout: 60000 });
    lap('patient pressed join', 'join');
    await waitState(patientPage, 'waiting', 60000);
    lap('patient waiting', 'waiting');

    const doctorPage = doctor.pages()[0] || (await doctor.newPage());
    await consoleLogin(doctorPage, d.base, DOCTOR.username, DOCTOR.password);
    await doctorPage.waitForSelector(`#waiting-room li[data-appointment="${appt.appointment_id}"]`, { timeout: 60000 });
    lap('doctor sees the patient', 'seen');
    await doctorPage.click(`[data-testid="admit-${appt.appointment_id}"]`);
    laps.admit = Date.now();
    await waitState(doctorPage, 'call', 60000);
    await waitState(patientPage, 'call', 60000);
    lap('both in the call', 'incall');
    if (!guest) return { patientPage, doctorPage };

    await doctorPage.selectOption('#invite-role', 'specialist');
    await doctorPage.click('#btn-invite');
    await doctorPage.waitForSelector('#invite-box:not([hidden])');
    const link = await doctorPage.inputValue('#invite-link');
    const guestPage = guest.pages()[0] || (await guest.newPage());
    await guestPage.goto(link, { waitUntil: 'load', timeout: 30000 });
    await patientJoin(guestPage, { timeout: 30000 });
    await waitState(guestPage, 'call', 60000);
    lap('the guest in the call');
    return { patientPage, doctorPage, guestPage };
  },

  // Where call-up time went (bench/weak/README.md, "call up, per stage"): the driver's laps and
  // each page's pc timeline (web/js/call.js Call.timeline), in s from connect()'s start.
  async stages(env, pages, tUp) {
    const laps = env.ours?.laps;
    if (!laps) return null;
    const s = (t) => (t ? Number(((t - laps.t0) / 1000).toFixed(1)) : null);
    const out = { booked: s(laps.booked), loaded: s(laps.loaded), join: s(laps.join), waiting: s(laps.waiting),
      seen: s(laps.seen), admit: s(laps.admit), incall: s(laps.incall), up: s(tUp), pcs: {} };
    const sig = await pages.patientPage.evaluate(() => window.__mw?.signaling?.marks || {}).catch(() => ({}));
    out.signaling = Object.fromEntries(Object.entries(sig).map(([k, v]) => [k, s(v)]));
    // The patient page's own loading over the weak link (Navigation/Resource Timing): when each
    // file's connection, TLS and response ended, and how many connections the page opened.
    out.resources = await pages.patientPage.evaluate(() => performance.getEntriesByType('navigation')
      .concat(performance.getEntriesByType('resource')).map((e) => ({
        name: e.name.replace(/^https?:\/\/[^/]+/, '').replace(/\/(join|api\/join)\/[^/?]+/, '/$1/…'),
        start: Math.round(e.startTime), conn: Math.round(e.connectEnd - e.connectStart),
        tls: e.secureConnectionStart ? Math.round(e.connectEnd - e.secureConnectionStart) : 0,
        ttfb: Math.round(e.responseStart - e.startTime), end: Math.round(e.responseEnd),
        bytes: e.transferSize, proto: e.nextHopProtocol,
      }))).catch(() => []);
    const nav0 = await pages.patientPage.evaluate(() => Date.now() - performance.now()).catch(() => null);
    const pageS = (ms) => (nav0 ? s(nav0 + ms) : null);
    const conns = out.resources.filter((r) => r.conn > 0);
    const lastLoad = out.resources.filter((r) => pageS(r.start) <= out.loaded).reduce((m, r) => Math.max(m, r.end), 0);
    out.pageLine = `page: ${out.resources.length} files, ${conns.length} new connections ` +
      `(connect+TLS ${conns.map((r) => (r.conn / 1000).toFixed(1)).join('/')} s), ` +
      `first byte of the page ${pageS(out.resources[0]?.ttfb ?? 0)}, last file before load ${pageS(lastLoad)}`;
    const tls = {};
    const whoOf = {};
    for (const [page, who] of Object.entries(pages).map(([k, v]) => [v, k.replace(/Page$/, '')])) {
      if (!page) continue;
      tls[who] = await page.evaluate(() => window.__mw?.call?.timeline || []).catch(() => []);
      whoOf[await page.evaluate(() => String(window.__mw?.participantId)).catch(() => '?')] = who;
    }
    for (const [who, tl] of Object.entries(tls)) {
      for (const [pc, what, t] of tl) {
        const name = pc.startsWith('sub:') ? `sub:${whoOf[pc.slice(4)] || pc.slice(4, 10)}` : pc;
        (out.pcs[`${who}/${name}`] ||= {})[what] ??= s(t);
      }
    }
    const pick = ['offer', 'candidate', 'answer', 'ice:checking', 'ice:connected', 'dtls:connected', 'pc:connected', 'frame'];
    const abbr = { 'ice:checking': 'chk', 'ice:connected': 'ice', 'dtls:connected': 'dtls', 'pc:connected': 'conn', candidate: 'cand' };
    const pcs = Object.entries(out.pcs).map(([k, ev]) =>
      `${k} ${pick.filter((w) => ev[w] != null).map((w) => `${abbr[w] || w} ${ev[w]}`).join(' ')}`);
    const ws = ['open', 'welcome', 'waiting'].filter((k) => out.signaling[k] != null).map((k) => `ws-${k} ${out.signaling[k]}`).join(' ');
    out.line = `load ${out.loaded} join ${out.join} ${ws} waiting ${out.waiting} seen ${out.seen} admit ${out.admit} ` +
      `in-call ${out.incall} up ${out.up} | ${pcs.join(' | ')} | ${out.pageLine}`;
    return out;
  },

  async disconnect(env, { patientPage, doctorPage, guestPage }) {
    for (const p of [guestPage, doctorPage, patientPage]) if (p) await p.goto('about:blank').catch(() => {});
  },

  async teardown(env) {
    if (!env.ours) return;
    const exit = await env.ours.daemon.stop();
    env.log(`ours: daemon exit ${JSON.stringify(exit)}`);
    await env.ours.daemon.saveLog('weak-ours').catch(() => {});
    await env.ours.daemon.cleanup();
    env.ours = null;
  },
};
