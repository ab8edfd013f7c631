// What the dashboard needs from the server (issue 5): patients' sex and birth year (POST
// /api/patients and `mashwara admin add-patient`, checked, 400 naming the field, nothing written
// on a bad value), and /api/stats grouped by sex and age band with doctors active, satisfaction,
// no-show rate, audio-only share and the medians — on a synthetic history (`mashwara admin
// seed-history`) whose totals the groups must add up to.
//
// Run: MASHWARA_BIN=$PWD/build-dash/daemon/mashwara node --test tests/api/dashboard.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { startDaemon, admin, adminRun, login, client, nowS, BIN } from './lib.mjs';

/** `mashwara admin seed-history` (ten Argon2id password hashes: slow on a busy machine, so a
 * longer timeout than the shared admin helper's). Resolves with its JSON answer. */
function seedHistory(d, args) {
  return new Promise((resolve, reject) => {
    execFile(BIN, ['admin', 'seed-history', '--db', d.db, ...args], { timeout: 180000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`seed-history: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}


const DAY = 86400;
let d;
let api;
let an;

before(async () => {
  d = await startDaemon();
  await admin(d, 'add-staff', ['--username', 'dash.admin', '--name', 'Dash Admin', '--password', 'dash-admin-pass', '--role', 'admin']);
  await admin(d, 'add-staff', ['--username', 'dash.analyst', '--name', 'Dash Analyst', '--password', 'dash-analyst-pass', '--role', 'analyst']);
  api = client(d, await login(d, 'dash.admin', 'dash-admin-pass'));
  an = client(d, await login(d, 'dash.analyst', 'dash-analyst-pass'));
});

after(async () => {
  if (!d) return;
  const r = await d.stop();
  assert.equal(r.code, 0, `daemon exit ${JSON.stringify(r)}`);
  await d.cleanup();
});

const count = () => Number(execFileSync('sqlite3', ['-cmd', '.timeout 20000', d.db, 'SELECT count(*) FROM patients'], { encoding: 'utf8' }).trim());

describe("patients' sex and birth year", () => {
  it('are stored and read back, or null', async () => {
    const r = await api.post('/api/patients', { name: 'Shazia Parveen', phone: '+923001112233', sex: 'female', birth_year: 1979 });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.patient.sex, 'female');
    assert.equal(r.json.patient.birth_year, 1979);
    const g = await api.get(`/api/patients/${r.json.patient.id}`);
    assert.equal(g.json.patient.sex, 'female');
    assert.equal(g.json.patient.birth_year, 1979);
    const n = await api.post('/api/patients', { name: 'Not Recorded', sex: null, birth_year: null });
    assert.equal(n.status, 201, n.text);
    assert.equal(n.json.patient.sex, null);
    assert.equal(n.json.patient.birth_year, null);
    const o = await api.post('/api/patients', { name: 'Omitted' });
    assert.equal(o.status, 201, o.text);
    assert.equal(o.json.patient.sex, null);
  });

  it('bad values: 400 with the field, nothing written', async () => {
    const year = new Date().getUTCFullYear();
    const cases = [
      [{ sex: 'F' }, 'sex', 'invalid'], [{ sex: 'unknown' }, 'sex', 'invalid'], [{ sex: '' }, 'sex', 'invalid'],
      [{ sex: 1 }, 'sex', 'wrong_type'], [{ birth_year: 1899 }, 'birth_year', 'invalid'],
      [{ birth_year: year + 1 }, 'birth_year', 'invalid'], [{ birth_year: 0 }, 'birth_year', 'invalid'],
      [{ birth_year: '1980' }, 'birth_year', 'wrong_type'], [{ birth_year: 1980.5 }, 'birth_year', 'wrong_type'],
      [{ birth_year: 99999999999 }, 'birth_year', 'invalid'],
    ];
    const before = count();
    for (const [extra, field, code] of cases) {
      const r = await api.post('/api/patients', { name: 'Bad Value', ...extra });
      assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${r.text}`);
      assert.equal(r.json.field, field, JSON.stringify(extra));
      assert.equal(r.json.error, code, JSON.stringify(extra));
      assert.equal(typeof r.json.message, 'string');
    }
    assert.equal(count(), before);
  });

  it('the admin command line takes --sex and --birth-year and checks them', async () => {
    const ok = await admin(d, 'add-patient', ['--name', 'Cli Patient', '--sex', 'male', '--birth-year', '1960']);
    const g = await api.get(`/api/patients/${ok.patient_id}`);
    assert.equal(g.json.patient.sex, 'male');
    assert.equal(g.json.patient.birth_year, 1960);
    const before = count();
    for (const args of [['--sex', 'M'], ['--birth-year', '1800'], ['--birth-year', '0']]) {
      const r = await adminRun(d, 'add-patient', ['--name', 'Cli Bad', ...args]);
      assert.notEqual(r.code, 0, args.join(' '));
    }
    assert.equal(count(), before);
  });
});

describe('statistics for the dashboard', () => {
  let total;
  const q = () => `from=${nowS() - 50 * DAY}&to=${nowS()}`;
  before(async () => {
    const h = await seedHistory(d, ['--password', 'seeded-doctor-pass', '--days', '40', '--patients', '200', '--per-day', '5', '--seed', '3']);
    assert.ok(h.consultations > 250, JSON.stringify(h));
    execFileSync('sqlite3', ['-cmd', '.timeout 20000', d.db, "INSERT INTO consultation_ratings (appointment_id, stars, comment, rated_at) SELECT id, 1 + id % 5, NULL, 1 FROM appointments WHERE status = 'fulfilled' AND id % 4 = 0"]);
    const r = await an.get(`/api/stats?${q()}`);
    assert.equal(r.status, 200, r.text);
    [total] = r.json.stats;
  });

  const sum = (rows, k) => rows.reduce((s, r) => s + (typeof r[k] === 'number' ? r[k] : 0), 0);

  it('sex and age-band groups add up to the total, small ones as "<5"', async () => {
    for (const g of ['sex', 'age_band']) {
      const r = await an.get(`/api/stats?${q()}&group_by=${g}`);
      assert.equal(r.status, 200, r.text);
      const small = r.json.stats.filter((x) => x.consultations === '<5').length;
      const s = sum(r.json.stats, 'consultations');
      assert.ok(s <= total.consultations && s >= total.consultations - 4 * small, `${g}: ${s} of ${total.consultations}`);
      if (small === 0) assert.equal(s, total.consultations, g);
      for (const x of r.json.stats) assert.notEqual(x[g], null, `${g} set on every row`);
    }
    const bands = (await an.get(`/api/stats?${q()}&group_by=age_band`)).json.stats.map((x) => x.age_band);
    assert.deepEqual(bands, ['0-17', '18-39', '40-59', '60+', 'unknown'].filter((b) => bands.includes(b)), 'in order');
    assert.ok(bands.length >= 4);
  });

  it('doctors active are distinct per group, not a sum of the days', async () => {
    // seed-history: ten doctors, each with consultations most days (the range holds all of them).
    const distinct = Number(execFileSync('sqlite3', ['-cmd', '.timeout 20000', d.db, "SELECT count(DISTINCT doctor_id) FROM appointments WHERE status = 'fulfilled'"], { encoding: 'utf8' }).trim());
    assert.ok(distinct >= 9, `${distinct} doctors`);
    assert.equal(total.doctors_active, distinct);
    const days = (await an.get(`/api/stats?${q()}&group_by=day`)).json.stats;
    assert.ok(sum(days, 'doctors_active') > 10 * 3, 'the days summed would count doctors again and again');
    const districts = (await an.get(`/api/stats?${q()}&group_by=facility`)).json.stats;
    for (const r of districts) assert.equal(r.doctors_active, '<5', `${r.facility}: two doctors, shown as "<5"`);
    assert.ok(districts.every((r) => typeof r.facility === 'string' && r.facility.length > 0), 'facilities named');
  });

  it('satisfaction, no-show rate, audio-only share and the medians are consistent', async () => {
    assert.ok(Number.isInteger(total.ratings) && total.ratings > 50);
    assert.ok(total.avg_stars >= 1 && total.avg_stars <= 5);
    const n = total.noshows;
    assert.ok(Math.abs(total.noshow_rate - n / (n + total.consultations)) < 1e-12);
    assert.ok(Math.abs(total.audio_only_share - total.audio_fallbacks / total.quality_consultations) < 1e-12);
    const byDistrict = (await an.get(`/api/stats?${q()}&group_by=district`)).json.stats;
    const karachi = byDistrict.find((r) => r.district === 'Karachi South');
    const lahore = byDistrict.find((r) => r.district === 'Lahore');
    // The seeded networks: Karachi South's is worse than Lahore's.
    assert.ok(karachi.median_rtt_ms > lahore.median_rtt_ms && karachi.median_loss > lahore.median_loss);
    assert.ok(karachi.median_video_kbps < lahore.median_video_kbps);
    for (const r of byDistrict) {
      for (const k of ['median_loss', 'median_rtt_ms', 'median_video_kbps', 'avg_stars', 'noshow_rate', 'audio_only_share']) {
        assert.ok(r[k] === null || typeof r[k] === 'number', `${r.district} ${k}`);
      }
      if (r.quality_consultations === '<5') assert.equal(r.median_rtt_ms, null, `${r.district}: no median over fewer than five`);
    }
  });

  it('unknown groups are refused', async () => {
    for (const g of ['age', 'sex,phone', 'name']) {
      const r = await an.get(`/api/stats?${q()}&group_by=${g}`);
      assert.equal(r.status, 400, g);
      assert.equal(r.json.field, 'group_by');
    }
  });
});
