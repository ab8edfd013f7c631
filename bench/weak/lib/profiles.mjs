// Link profiles of the patient's link (both directions). A profile is a schedule of phases; each
// phase sets rate (kbit/s), round-trip delay (ms) and random loss (percent, each way) for `secs`
// seconds of the measurement window. `mark` names the moments the metrics look at: 'down' (the
// capacity drops: time to adapt), 'up' (it comes back: time to ramp up), 'outage' / 'recover'
// (100 % loss starts / ends: time to resume audio and video).
//
// The first phase is applied before the call is set up (a weak link is weak from the start);
// the call then gets `warmup` seconds on it before the window opens.

export const PROFILES = {
  clean: { desc: 'no impairment (a check of the harness itself)', phases: [{ kbit: 0, rtt: 0, loss: 0, secs: 30, quick: 10 }] },
  good: { desc: '5 Mbit/s, 20 ms RTT, no loss', phases: [{ kbit: 5000, rtt: 20, loss: 0, secs: 60, quick: 20 }] },
  'rural-3g': {
    desc: '400 kbit/s, 300 ms RTT, 2 % loss each way',
    phases: [{ kbit: 400, rtt: 300, loss: 2, secs: 60, quick: 20 }],
  },
  edge: { desc: '150 kbit/s, 600 ms RTT, 5 % loss each way', phases: [{ kbit: 150, rtt: 600, loss: 5, secs: 60, quick: 20 }] },
  step: {
    desc: '2 Mbit/s → 250 kbit/s → 2 Mbit/s, 30 s each, 50 ms RTT',
    phases: [
      { kbit: 2000, rtt: 50, loss: 0, secs: 30, quick: 15 },
      { kbit: 250, rtt: 50, loss: 0, secs: 30, quick: 15, mark: 'down' },
      { kbit: 2000, rtt: 50, loss: 0, secs: 30, quick: 15, mark: 'up' },
    ],
  },
  outage: {
    desc: '1 Mbit/s, 100 ms RTT; 5 s of 100 % loss; back',
    phases: [
      { kbit: 1000, rtt: 100, loss: 0, secs: 30, quick: 15 },
      { kbit: 1000, rtt: 100, loss: 100, secs: 5, quick: 5, mark: 'outage' },
      { kbit: 1000, rtt: 100, loss: 0, secs: 30, quick: 15, mark: 'recover' },
    ],
  },
};

/**
 * The schedule of a profile: [{kbit, rtt, loss, secs, mark}] with the durations of the mode
 * chosen. `scale` (total seconds wanted, or null) stretches or shrinks every phase but those
 * marked 'outage' (an outage is 5 s whatever the window).
 */
export function schedule(name, { quick = false, total = null } = {}) {
  const p = PROFILES[name];
  if (!p) throw new Error(`unknown profile ${name} (have: ${Object.keys(PROFILES).join(', ')})`);
  let phases = p.phases.map((ph) => ({ kbit: ph.kbit, rtt: ph.rtt, loss: ph.loss, mark: ph.mark || null,
    secs: quick ? ph.quick : ph.secs }));
  if (total) {
    const fixed = phases.filter((ph) => ph.mark === 'outage').reduce((a, ph) => a + ph.secs, 0);
    const flex = phases.filter((ph) => ph.mark !== 'outage').reduce((a, ph) => a + ph.secs, 0);
    const k = Math.max(0.1, (total - fixed) / flex);
    phases = phases.map((ph) => (ph.mark === 'outage' ? ph : { ...ph, secs: Math.max(3, Math.round(ph.secs * k)) }));
  }
  return phases;
}
