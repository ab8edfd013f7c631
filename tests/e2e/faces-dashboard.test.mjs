// The health department's dashboard (issue 5, "The three faces"), as an analyst uses it: a
// synthetic history (`mashwara admin seed-history`: five facilities in four districts, patients
// of every sex and age, 45 days of consultations, no-shows, cancellations and call quality) plus
// ratings for a third of the consultations; then, on a 1280x800 screen and on a 360x740 phone:
// sign in → the tiles and a chart's table show the figures /api/stats gives for the same range
// → "Last 7 days" changes them (to the API's 7-day figures) → "<5" shows where the API says a
// group is small → the CSV download has the same figures → a range with nothing in it says so.
// Every view: lookAndCheck (screenshot + axe-core).
//
// Run: MASHWARA_BIN=$PWD/build-dash/daemon/mashwara bash tests/e2e/run.sh tests/e2e/faces-dashboard.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { startDaemon, admin, launchPerson, lookAndCheck, waitState, pageFetch, BIN } from './lib.mjs';

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


const ANALYST = { username: 'analyst.dash', name: 'Analyst Dash', password: 'analyst-dash-pass' };

/** Parses the page's CSV (RFC 4180 quoting) into rows of cells. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') quoted = false; else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(cell); cell = ''; } else if (ch === '\n') { row.push(cell.replace(/\r$/, '')); rows.push(row); row = []; cell = ''; } else cell += ch;
  }
  return rows;
}

const shown = (v) => (v === null || v === undefined ? '' : String(v));

/** The API's answer for the range the page shows now (its own from/to), grouped by `g`. */
async function apiStats(page, g) {
  const { from, to } = await page.evaluate(() => ({ from: window.__mw.stats.from, to: window.__mw.stats.to }));
  const r = await pageFetch(page, 'GET', `/api/stats?from=${from}&to=${to}${g ? `&group_by=${g}` : ''}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.stats;
}

async function tileText(page, figure) {
  return (await page.textContent(`.tile[data-figure="${figure}"] .value`)).trim();
}

/** The data table of a chart: {rowLabel: {key: cell text}}. */
async function chartTable(page, id) {
  return page.evaluate((id) => {
    const out = {};
    for (const tr of document.querySelectorAll(`#${id} table.data tbody tr`)) {
      const cells = {};
      for (const td of tr.querySelectorAll('td')) cells[td.dataset.key] = td.textContent;
      out[tr.querySelector('th').textContent] = cells;
    }
    return out;
  }, id);
}

const fmtCount = (v) => (v === '<5' ? '<5' : Number(v).toLocaleString('en-US'));
const fmtMin = (v) => (v === null ? '–' : `${v} min`);

/** Asserts the tiles and the district chart's table say what the API says for this range. */
async function assertMatchesApi(page) {
  const [total] = await apiStats(page, '');
  assert.ok(total, 'the range has figures');
  assert.equal(await tileText(page, 'consultations'), fmtCount(total.consultations));
  assert.equal(await tileText(page, 'completed'), fmtCount(total.completed));
  assert.equal(await tileText(page, 'wait_p50_min'), fmtMin(total.wait_p50_min));
  assert.equal(await tileText(page, 'wait_p90_min'), fmtMin(total.wait_p90_min));
  assert.equal(await tileText(page, 'duration_p50_min'), fmtMin(total.duration_p50_min));
  assert.equal(await tileText(page, 'noshow_rate'), total.noshow_rate === null ? '–' : `${(total.noshow_rate * 100).toFixed(1)}%`);
  assert.equal(await tileText(page, 'audio_only_share'), total.audio_only_share === null ? '–' : `${(total.audio_only_share * 100).toFixed(1)}%`);
  assert.equal(await tileText(page, 'avg_stars'), total.avg_stars === null ? '–' : `${total.avg_stars.toFixed(1)} / 5`);
  assert.equal(await tileText(page, 'doctors_active'), fmtCount(total.doctors_active));
  const byDistrict = await apiStats(page, 'district');
  const table = await chartTable(page, 'chart-district');
  assert.deepEqual(Object.keys(table).sort(), byDistrict.map((r) => r.district).sort());
  for (const r of byDistrict) {
    assert.equal(table[r.district].consultations, fmtCount(r.consultations), `${r.district} consultations`);
    assert.equal(table[r.district].noshows, fmtCount(r.noshows), `${r.district} no-shows`);
    assert.equal(table[r.district].wait_p50_min, fmtMin(r.wait_p50_min), `${r.district} median wait`);
  }
  // The chart draws one bar per district, and says each count in its description.
  const desc = await page.textContent('#chart-district svg desc');
  for (const r of byDistrict) assert.ok(desc.includes(`${r.district}: ${fmtCount(r.consultations)}`), desc);
  return total;
}

for (const viewport of [{ width: 1280, height: 800, tag: 'desktop' }, { width: 360, height: 740, tag: 'phone' }]) {
  describe(`the dashboard on a ${viewport.width}x${viewport.height} screen`, () => {
    let d;
    let person;
    let page;

    before(async () => {
      d = await startDaemon();
      const seeded = await seedHistory(d, ['--password', 'seeded-doctor-pass', '--days', '45', '--patients', '160', '--per-day', '5', '--seed', '7']);
      assert.ok(seeded.consultations > 200, JSON.stringify(seeded));
      await admin(d, 'add-staff', ['--username', ANALYST.username, '--name', ANALYST.name, '--password', ANALYST.password, '--role', 'analyst']);
      await admin(d, 'add-staff', ['--username', 'admin.dash', '--name', 'Admin Dash', '--password', 'admin-dash-pass', '--role', 'admin']);
      // Ratings (the patient page's rating route belongs to another branch; the table is the
      // shared contract's): a third of the consultations, 1..5 stars.
      execFileSync('sqlite3', ['-cmd', '.timeout 20000', d.db, "INSERT INTO consultation_ratings (appointment_id, stars, comment, rated_at) SELECT id, 1 + (id * 7) % 5, 'fine', 1 FROM appointments WHERE status = 'fulfilled' AND id % 3 = 0"]);
      person = await launchPerson(`dash-${viewport.tag}`);
      page = person.page;
      await page.setViewportSize({ width: viewport.width, height: viewport.height });
    });
    after(async () => {
      await person?.close();
      if (d) {
        await d.saveLog(`faces-dashboard-${viewport.tag}`);
        const r = await d.stop();
        assert.equal(r.code, 0, `daemon exit ${JSON.stringify(r)}`);
        await d.cleanup();
      }
    });

    it('signs in as an analyst and shows the last 30 days as the API counts them', async () => {
      await page.goto(`${d.base}/dashboard`);
      await waitState(page, 'login');
      await lookAndCheck(page, `dash-${viewport.tag}-login`);
      await page.fill('#username', ANALYST.username);
      await page.fill('#password', 'wrong password here');
      await page.click('#btn-login');
      await page.waitForSelector('#login-error:not([hidden])');
      assert.match(await page.textContent('#login-error'), /Wrong username or password/);
      await page.fill('#password', ANALYST.password);
      await page.click('#btn-login');
      await waitState(page, 'ready');
      assert.equal(await page.textContent('#who'), `${ANALYST.name} (analyst)`);
      const total = await assertMatchesApi(page);
      assert.ok(typeof total.consultations === 'number' && total.consultations > 50, JSON.stringify(total));
      assert.ok(typeof total.avg_stars === 'number', 'ratings are counted');
      // No name of anyone: the seeded patients are "Demo Patient N", the doctors "Dr Demo …".
      const text = await page.textContent('body');
      assert.ok(!/Demo Patient|Dr Demo/.test(text), 'no personal name on the page');
      await lookAndCheck(page, `dash-${viewport.tag}-30-days`);
    });

    it('the call-quality table shows every district, worst audio fallback first', async () => {
      const byDistrict = await apiStats(page, 'district');
      const rows = await page.evaluate(() => [...document.querySelectorAll('#quality-table tbody tr')].map((tr) => ({
        district: tr.querySelector('th').textContent,
        rtt: tr.querySelector('[data-key="median_rtt_ms"]').textContent,
        share: tr.querySelector('[data-key="audio_only_share"]').textContent,
      })));
      assert.equal(rows.length, byDistrict.length);
      const shares = byDistrict.filter((r) => r.audio_only_share !== null).sort((a, b) => b.audio_only_share - a.audio_only_share);
      assert.equal(rows[0].district, shares[0].district, 'the worst district first');
      for (const row of rows) {
        const r = byDistrict.find((x) => x.district === row.district);
        assert.equal(row.rtt, r.median_rtt_ms === null ? '–' : `${Math.round(r.median_rtt_ms)} ms`, row.district);
      }
      await page.locator('#quality').scrollIntoViewIfNeeded();
      await lookAndCheck(page, `dash-${viewport.tag}-quality`);
    });

    it('"Last 7 days" changes the figures to the API\'s for that range, "<5" where a group is small', async () => {
      const before30 = await tileText(page, 'consultations');
      await page.click('[data-preset="7"]');
      await waitState(page, 'ready');
      await page.waitForFunction((b) => document.querySelector('.tile[data-figure="consultations"] .value').textContent !== b, before30);
      const total = await assertMatchesApi(page);
      assert.notEqual(fmtCount(total.consultations), before30);
      const { from, to } = await page.evaluate(() => window.__mw.stats);
      assert.equal(to - from, 7 * 86400, 'seven whole days');
      // The mobile unit sees one patient every fourth day: small in any 7-day range.
      const byFacility = await apiStats(page, 'facility');
      const small = byFacility.filter((r) => ['consultations', 'noshows', 'cancellations'].some((k) => r[k] === '<5'));
      assert.ok(small.length > 0, 'the seeded history has a small facility group');
      const table = await chartTable(page, 'chart-facility');
      for (const r of small) {
        const label = Object.keys(table).find((k) => k.startsWith(r.facility));
        assert.ok(label, `${r.facility} in the table`);
        for (const k of ['consultations', 'noshows', 'cancellations']) {
          assert.equal(table[label][k], fmtCount(r[k]), `${label} ${k}`);
        }
        assert.ok(Object.values(table[label]).includes('<5'), `${label} shows "<5"`);
      }
      // The hatched bar of a small count, and its words in the chart's description.
      const hatched = await page.$$eval('#chart-facility svg .small-count', (els) => els.length);
      const smallConsultations = byFacility.filter((r) => r.consultations === '<5').length;
      assert.equal(hatched, smallConsultations);
      await page.locator('#chart-facility').scrollIntoViewIfNeeded();
      await lookAndCheck(page, `dash-${viewport.tag}-7-days`);
    });

    it('the CSV download has the figures the API gives, "<5" kept', async () => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-csv')]);
      assert.match(download.suggestedFilename(), /^mashwara-stats-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);
      const rows = parseCsv(await readFile(await download.path(), 'utf8'));
      assert.deepEqual(rows[0], ['section', 'group', 'figure', 'value']);
      const [total] = await apiStats(page, '');
      const summary = Object.fromEntries(rows.filter((r) => r[0] === 'summary').map((r) => [r[2], r[3]]));
      for (const k of ['consultations', 'completed', 'noshows', 'noshow_rate', 'wait_p50_min', 'wait_p90_min', 'duration_p50_min', 'audio_only_share', 'avg_stars', 'ratings', 'doctors_active']) {
        assert.equal(summary[k], shown(total[k]), `summary ${k}`);
      }
      for (const g of ['facility', 'sex', 'age_band']) {
        const api = await apiStats(page, g);
        const csv = rows.filter((r) => r[0] === g && r[2] === 'consultations');
        assert.equal(csv.length, api.length, `${g}: one line per group`);
        assert.deepEqual(csv.map((r) => r[3]).sort(), api.map((r) => shown(r.consultations)).sort(), `${g} consultations`);
      }
      assert.ok(rows.some((r) => r[3] === '<5'), 'small counts stay "<5" in the file');
    });

    it('shows the patients\' sex and age groups', async () => {
      const bySex = await apiStats(page, 'sex');
      const sexTable = await chartTable(page, 'chart-sex');
      const SEX = { female: 'Female', male: 'Male', other: 'Other', unknown: 'Not recorded' };
      assert.deepEqual(Object.keys(sexTable).sort(), bySex.map((r) => SEX[r.sex]).sort());
      for (const r of bySex) assert.equal(sexTable[SEX[r.sex]].consultations, fmtCount(r.consultations));
      const byAge = await apiStats(page, 'age_band');
      const ageTable = await chartTable(page, 'chart-age');
      assert.equal(Object.keys(ageTable).length, byAge.length);
      assert.ok(byAge.length >= 4, `age bands: ${byAge.map((r) => r.age_band)}`);
      await page.locator('#chart-sex summary').click();
      await page.locator('#chart-sex').scrollIntoViewIfNeeded();
      await lookAndCheck(page, `dash-${viewport.tag}-sex-table`);
    });

    it('a range with nothing in it says so', async () => {
      await page.fill('#from', '2020-01-01');
      await page.fill('#to', '2020-01-31');
      await page.click('#btn-apply');
      await waitState(page, 'empty');
      assert.equal(await page.isVisible('#empty'), true);
      assert.match(await page.textContent('#empty'), /No consultations/);
      assert.equal(await page.isVisible('#tiles'), false);
      assert.equal(await page.isDisabled('#btn-csv'), true);
      await lookAndCheck(page, `dash-${viewport.tag}-empty`);
      // And back: "This month" fills it again (the seeded days end yesterday; on the 1st of a
      // month this month is only today, so it is empty as well).
      await page.click('[data-preset="month"]');
      const today = new Date().getDate();
      await waitState(page, today === 1 ? 'empty' : 'ready');
    });

    it('an administrator sees it too; a doctor is sent to the console', async () => {
      await page.click('#btn-logout');
      await waitState(page, 'login');
      await page.fill('#username', 'admin.dash');
      await page.fill('#password', 'admin-dash-pass');
      await page.click('#btn-login');
      await waitState(page, 'ready');
      assert.equal(await page.textContent('#who'), 'Admin Dash (administrator)');
      await page.click('#btn-logout');
      await waitState(page, 'login');
      // A doctor of the seeded history (seed-history's default prefix "demo").
      await page.fill('#username', 'demo.dr1a');
      await page.fill('#password', 'seeded-doctor-pass');
      await page.click('#btn-login');
      await page.waitForSelector('#login-error:not([hidden])');
      assert.match(await page.textContent('#login-error'), /for analysts and clinic administrators/);
      assert.equal(await page.isVisible('#tiles'), false);
      const me = await pageFetch(page, 'GET', '/api/me');
      assert.equal(me.status, 401, 'the doctor\'s session was closed again');
      await lookAndCheck(page, `dash-${viewport.tag}-doctor-refused`);
    });
  });
}
