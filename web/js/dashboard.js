// The health department's dashboard, at /dashboard (docs/dashboard.md). Sign in (analyst or
// admin; POST /api/login), pick a date range, and read GET /api/stats eight ways: headline tiles,
// bar charts (hand-written SVG, each with its numbers as a table), call quality by district, and
// a CSV of exactly what is shown. The server has already replaced counts of 1..4 with "<5" and
// left out every figure computed from fewer than five: this page never sees a small number, and
// never a name. No framework, no inline script or style (the CSP forbids both).

import { api } from './api.js';
import { resumeSession, wireSignIn } from './signin.js';

const $ = (sel, root = document) => root.querySelector(sel);
const mw = (window.__mw = { state: 'loading', stats: null });
const SVG = 'http://www.w3.org/2000/svg';
const DAY_MS = 86400000;

// --- Server ------------------------------------------------------------------------------------

// The staff JSON API (web/js/api.js: the session cookie and its CSRF token).

// --- Views -------------------------------------------------------------------------------------

function setView(name, text) {
  for (const el of document.querySelectorAll('[data-view]')) el.hidden = el.dataset.view !== name;
  setState(name, text);
}

function setState(name, text) {
  const st = $('#state');
  st.dataset.state = name;
  st.textContent = text || '';
  mw.state = name;
}

function setNotice(text) {
  const n = $('#notice');
  n.textContent = text || '';
  n.hidden = !text;
}

function showLogin(message) {
  $('#who').textContent = '';
  $('#btn-logout').hidden = true;
  const err = $('#login-error');
  err.hidden = !message;
  err.textContent = message || '';
  setView('login', 'Please sign in');
  $('#username').focus();
}

async function logout() {
  await api('POST', '/api/logout').catch(() => {});
  $('#password').value = '';
  showLogin();
}

async function signedIn(staff) {
  if (staff.role !== 'analyst' && staff.role !== 'admin') {
    await api('POST', '/api/logout').catch(() => {});
      return showLogin('The dashboard is for analysts and clinic administrators. Doctors use the console.');
  }
  $('#who').textContent = `${staff.name} (${staff.role === 'admin' ? 'administrator' : 'analyst'})`;
  $('#btn-logout').hidden = false;
  setView('dashboard', 'Loading figures…');
  if (!$('#from').value) preset('30');
  load();
}

// --- Range -------------------------------------------------------------------------------------

const isoDate = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const parseDate = (s) => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || '');
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null;
};

function preset(kind) {
  const today = new Date();
  today.setHours(0, 0, 0, 0);
  let from;
  let to = new Date(today);
  if (kind === 'month') {
    from = new Date(today.getFullYear(), today.getMonth(), 1);
  } else {
    // The last N whole days, ending yesterday: today is not over yet.
    to = new Date(today.getTime() - DAY_MS);
    from = new Date(today.getFullYear(), today.getMonth(), today.getDate() - Number(kind));
  }
  $('#from').value = isoDate(from);
  $('#to').value = isoDate(to);
  for (const b of document.querySelectorAll('[data-preset]')) b.setAttribute('aria-pressed', String(b.dataset.preset === kind));
}

const dateLabel = (d, year = true) => d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', ...(year ? { year: 'numeric' } : {}) });

// --- Formatting --------------------------------------------------------------------------------

const isSmall = (v) => v === '<5';
const fmtCount = (v) => (v === null || v === undefined ? '–' : isSmall(v) ? '<5' : Number(v).toLocaleString('en-US'));
const fmtPct = (v, digits = 1) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(digits)}%`);
const fmtMin = (v) => (v === null || v === undefined ? '–' : `${v} min`);
const fmtMs = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} ms`);
const fmtKbps = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} kbit/s`);
const fmtStars = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(1)} / 5`);
const countValue = (v) => (typeof v === 'number' ? v : isSmall(v) ? 2.5 : 0);

const SEX = { female: 'Female', male: 'Male', other: 'Other', unknown: 'Not recorded' };
const AGE = { '0-17': '0–17', '18-39': '18–39', '40-59': '40–59', '60+': '60 and over', unknown: 'Not recorded' };

function facilityLabel(r) {
  if (r.facility_id === null) return 'No facility (operator bookings)';
  const name = r.facility || `Facility ${r.facility_id}`;
  return r.district ? `${name}, ${r.district}` : name;
}

// --- Charts ------------------------------------------------------------------------------------

let chartSeq = 0;

function svgEl(name, attrs = {}, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** An SVG with its <title> and <desc> as its accessible name and description. */
function svgFrame(title, desc, height) {
  const id = `c${++chartSeq}`;
  const svg = svgEl('svg', { role: 'img', width: '100%', height, 'aria-labelledby': `${id}-t`, 'aria-describedby': `${id}-d`, class: 'bars' });
  svg.append(svgEl('title', { id: `${id}-t` }, title), svgEl('desc', { id: `${id}-d` }, desc));
  return svg;
}

function describe(items) {
  return items.map((it) => `${it.label}: ${fmtCount(it.value)}`).join('; ');
}

/** Horizontal bars, one row per group: its name above, the bar and its count below. Widths in
 * percent, so the text keeps its size on a phone. */
function horizontalBars(title, items) {
  const ROW = 46;
  const max = Math.max(5, ...items.map((it) => countValue(it.value)));
  const svg = svgFrame(title, describe(items), items.length * ROW + 4);
  items.forEach((it, i) => {
    const y = i * ROW;
    const pct = (countValue(it.value) / max) * 82;
    const g = svgEl('g', { class: isSmall(it.value) ? 'row small-count' : 'row' });
    g.append(svgEl('text', { x: 0, y: y + 15, class: 'label' }, it.label));
    g.append(svgEl('rect', { x: 0, y: y + 21, height: 16, width: `${Math.max(pct, 0.4)}%`, rx: 3 }));
    g.append(svgEl('text', { x: `${Math.max(pct, 0.4) + 1.5}%`, y: y + 34, class: 'value' }, fmtCount(it.value)));
    svg.append(g);
  });
  return svg;
}

/** Columns over time (days or weeks), the first, middle and last dates under them. */
function columns(title, items) {
  const H = 170;
  const BASE = H - 26;
  const max = Math.max(5, ...items.map((it) => countValue(it.value)));
  const svg = svgFrame(title, describe(items), H);
  const n = items.length;
  const step = 100 / n;
  svg.append(svgEl('line', { x1: 0, x2: '100%', y1: BASE + 0.5, y2: BASE + 0.5, class: 'axis' }));
  svg.append(svgEl('text', { x: 0, y: 12, class: 'value' }, `${fmtCount(max === 5 ? 5 : max)} (most)`));
  items.forEach((it, i) => {
    const h = Math.max((countValue(it.value) / max) * (BASE - 20), countValue(it.value) ? 2 : 0);
    const rect = svgEl('rect', { x: `${i * step + step * 0.12}%`, width: `${step * 0.76}%`, y: BASE - h, height: h, class: isSmall(it.value) ? 'small-count' : '' });
    rect.append(svgEl('title', {}, `${it.label}: ${fmtCount(it.value)}`));
    svg.append(rect);
  });
  const ticks = n <= 1 ? [0] : n === 2 ? [0, 1] : [0, Math.floor((n - 1) / 2), n - 1];
  for (const i of ticks) {
    const anchor = i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle';
    const x = anchor === 'start' ? `${i * step}%` : anchor === 'end' ? `${(i + 1) * step}%` : `${(i + 0.5) * step}%`;
    svg.append(svgEl('text', { x, y: H - 6, 'text-anchor': anchor, class: 'label' }, items[i].short || items[i].label));
  }
  return svg;
}

// The columns of every chart's table and of the CSV, in order.
const TABLE_COLUMNS = [
  ['consultations', 'Consultations', fmtCount],
  ['completed', 'Completed', fmtCount],
  ['noshows', 'No-shows', fmtCount],
  ['cancellations', 'Cancellations', fmtCount],
  ['wait_p50_min', 'Median wait', fmtMin],
  ['duration_p50_min', 'Median duration', fmtMin],
  ['avg_stars', 'Satisfaction', fmtStars],
];

function dataTable(caption, groupHeading, items) {
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = 'Show the numbers as a table';
  const wrap = document.createElement('div');
  wrap.className = 'scroll';
  // Focusable, so that a keyboard can scroll a table wider than a phone.
  wrap.tabIndex = 0;
  wrap.setAttribute('role', 'region');
  wrap.setAttribute('aria-label', `${caption} (table)`);
  const table = document.createElement('table');
  table.className = 'data';
  const cap = document.createElement('caption');
  cap.textContent = caption;
  const thead = document.createElement('thead');
  const hr = document.createElement('tr');
  for (const h of [groupHeading, ...TABLE_COLUMNS.map((c) => c[1])]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    hr.append(th);
  }
  thead.append(hr);
  const tbody = document.createElement('tbody');
  for (const it of items) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = it.label;
    tr.append(th);
    for (const [key, , fmt] of TABLE_COLUMNS) {
      const td = document.createElement('td');
      td.textContent = fmt(it.row[key]);
      td.dataset.key = key;
      tr.append(td);
    }
    tbody.append(tr);
  }
  table.append(cap, thead, tbody);
  wrap.append(table);
  details.append(summary, wrap);
  return details;
}

// One chart: its section, its grouping, and how a row is named.
const CHARTS = [
  { id: 'chart-day', group: 'day', heading: 'Day', kind: 'columns', label: (r) => dateLabel(parseDate(r.date)), short: (r) => dateLabel(parseDate(r.date), false) },
  { id: 'chart-week', group: 'week', heading: 'Week starting', kind: 'columns', label: (r) => `Week of ${dateLabel(parseDate(r.date))}`, short: (r) => dateLabel(parseDate(r.date), false) },
  { id: 'chart-district', group: 'district', heading: 'District', kind: 'bars', label: (r) => r.district || 'No district' },
  { id: 'chart-facility', group: 'facility', heading: 'Facility', kind: 'bars', label: facilityLabel },
  { id: 'chart-specialty', group: 'specialty', heading: 'Specialty', kind: 'bars', label: (r) => (r.specialty ? r.specialty[0].toUpperCase() + r.specialty.slice(1) : 'No service') },
  { id: 'chart-sex', group: 'sex', heading: 'Sex', kind: 'bars', label: (r) => SEX[r.sex] || r.sex },
  { id: 'chart-age', group: 'age_band', heading: 'Age', kind: 'bars', label: (r) => AGE[r.age_band] || r.age_band },
];

function renderChart(def, rows) {
  const sec = $(`#${def.id}`);
  const heading = sec.querySelector('h2');
  sec.replaceChildren(heading, ...sec.querySelectorAll('.keep'));
  const items = rows.map((r) => ({ label: def.label(r), short: def.short ? def.short(r) : undefined, value: r.consultations, row: r }));
  const title = `${heading.textContent}: consultations`;
  if (items.length === 0) {
    const p = document.createElement('p');
    p.className = 'small';
    p.textContent = 'Nothing in this range.';
    sec.append(p);
    return items;
  }
  sec.append(def.kind === 'columns' ? columns(title, items) : horizontalBars(title, items));
  sec.append(dataTable(title, def.heading, items));
  return items;
}

// --- Tiles and quality ------------------------------------------------------------------------

function tileList(t) {
  return [
    ['consultations', 'Consultations', fmtCount(t.consultations), 'calls that took place'],
    ['completed', 'Completed', fmtCount(t.completed), 'not interrupted'],
    ['noshow_rate', 'No-show rate', fmtPct(t.noshow_rate), `${fmtCount(t.noshows)} no-shows`],
    ['wait_p50_min', 'Median wait', fmtMin(t.wait_p50_min), 'half waited less'],
    ['wait_p90_min', 'Wait, 90th percentile', fmtMin(t.wait_p90_min), '9 in 10 waited less'],
    ['duration_p50_min', 'Median duration', fmtMin(t.duration_p50_min), 'of a consultation'],
    ['audio_only_share', 'Fell back to audio', fmtPct(t.audio_only_share), 'of measured calls'],
    ['avg_stars', 'Satisfaction', fmtStars(t.avg_stars), `${fmtCount(t.ratings)} ratings`],
    ['doctors_active', 'Doctors active', fmtCount(t.doctors_active), 'with a consultation'],
  ];
}

function renderTiles(total) {
  const dl = $('#tiles');
  dl.replaceChildren();
  for (const [key, label, value, sub] of tileList(total)) {
    const div = document.createElement('div');
    div.className = 'tile';
    div.dataset.figure = key;
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.className = 'value';
    dd.textContent = value;
    const dd2 = document.createElement('dd');
    dd2.className = 'sub';
    dd2.textContent = sub;
    div.append(dt, dd, dd2);
    dl.append(div);
  }
}

const QUALITY_COLUMNS = [
  ['quality_consultations', fmtCount, 'Calls measured'],
  ['median_loss', (v) => fmtPct(v, 1), 'Median loss'],
  ['median_rtt_ms', fmtMs, 'Median round trip'],
  ['median_video_kbps', fmtKbps, 'Median video'],
  ['audio_only_share', (v) => fmtPct(v, 0), 'Fell back to audio'],
];

function qualityOrder(rows) {
  const key = (r) => (r.audio_only_share === null ? -1 : r.audio_only_share);
  return [...rows].sort((a, b) => key(b) - key(a) || (b.median_loss ?? -1) - (a.median_loss ?? -1));
}

function renderQuality(rows) {
  const tbody = $('#quality-table tbody');
  tbody.replaceChildren();
  for (const r of qualityOrder(rows)) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = r.district || 'No district';
    tr.append(th);
    for (const [key, fmt, label] of QUALITY_COLUMNS) {
      const td = document.createElement('td');
      td.dataset.key = key;
      td.dataset.label = label; // the column's name beside the value on a phone (CSS)
      td.textContent = fmt(r[key]);
      if (key === 'audio_only_share' && r[key] !== null && r[key] >= 0.25) td.className = 'bad';
      tr.append(td);
    }
    tbody.append(tr);
  }
}

// --- CSV ---------------------------------------------------------------------------------------

const csvCell = (v) => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** Every figure shown, as the server gave it ("<5" kept, left-out figures empty), one per line:
 * section, group, figure, value. */
function buildCsv() {
  const s = mw.stats;
  const lines = [['section', 'group', 'figure', 'value']];
  lines.push(['range', `${s.fromDate}..${s.toDate}`, 'dates', '']);
  for (const [key] of tileList(s.total)) lines.push(['summary', 'all', key, s.total[key]]);
  for (const extra of ['noshows', 'ratings']) lines.push(['summary', 'all', extra, s.total[extra]]);
  for (const def of CHARTS) {
    for (const r of s.groups[def.group]) {
      for (const [key] of TABLE_COLUMNS) lines.push([def.group, def.label(r), key, r[key]]);
    }
  }
  for (const r of qualityOrder(s.groups.district)) {
    for (const [key] of QUALITY_COLUMNS) lines.push(['quality', r.district || 'No district', key, r[key]]);
  }
  return `${lines.map((l) => l.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

function downloadCsv() {
  if (!mw.stats) return;
  const blob = new Blob([buildCsv()], { type: 'text/csv;charset=utf-8' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `mashwara-stats-${mw.stats.fromDate}-to-${mw.stats.toDate}.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// --- Loading -----------------------------------------------------------------------------------

const EMPTY_TOTAL = Object.fromEntries(['consultations', 'completed', 'noshows', 'cancellations', 'ratings', 'doctors_active'].map((k) => [k, 0]));
let loadSeq = 0;

async function load() {
  const from = parseDate($('#from').value);
  const toDay = parseDate($('#to').value);
  const err = $('#range-error');
  if (!from || !toDay || toDay < from) {
    err.textContent = 'Choose a start date and an end date on or after it.';
    err.hidden = false;
    return;
  }
  err.hidden = true;
  const to = new Date(toDay.getFullYear(), toDay.getMonth(), toDay.getDate() + 1);
  const q = `from=${Math.floor(from.getTime() / 1000)}&to=${Math.floor(to.getTime() / 1000)}`;
  const seq = ++loadSeq;
  setState('loading', 'Loading figures…');
  let answers;
  try {
    answers = await Promise.all(['', ...CHARTS.map((c) => c.group)].map((g) => api('GET', `/api/stats?${q}${g ? `&group_by=${g}` : ''}`)));
  } catch {
    setNotice('Cannot reach the server. Check the connection and try again.');
    setState('error', 'Not loaded');
    return;
  }
  if (seq !== loadSeq) return; // a newer range was asked for meanwhile
  const refused = answers.find((a) => !a.ok);
  if (refused) {
    if (refused.status === 401) return showLogin('Your session ended. Please sign in again.');
    err.textContent = refused.data.message ? `The server refused this range: ${refused.data.message}.` : 'The figures could not be loaded.';
    err.hidden = false;
    setState('error', 'Not loaded');
    return;
  }
  setNotice('');
  const [total, ...rest] = answers.map((a) => a.data.stats);
  const groups = Object.fromEntries(CHARTS.map((c, i) => [c.group, rest[i]]));
  mw.stats = { fromDate: isoDate(from), toDate: isoDate(toDay), from: from.getTime() / 1000, to: to.getTime() / 1000, total: total[0] || EMPTY_TOTAL, groups };
  const days = Math.round((to - from) / DAY_MS);
  $('#range-label').textContent = `${dateLabel(from)} – ${dateLabel(toDay)} (${days} ${days === 1 ? 'day' : 'days'})`;
  const empty = total.length === 0;
  $('#empty').hidden = !empty;
  $('#results').hidden = empty;
  $('#btn-csv').disabled = empty;
  renderTiles(mw.stats.total);
  for (const def of CHARTS) renderChart(def, groups[def.group]);
  renderQuality(groups.district);
  setState(empty ? 'empty' : 'ready', empty ? 'No figures for this range' : 'Figures up to date');
}

// --- Wiring ------------------------------------------------------------------------------------

wireSignIn(signedIn);
$('#btn-logout').addEventListener('click', logout);
$('#range-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  for (const b of document.querySelectorAll('[data-preset]')) b.setAttribute('aria-pressed', 'false');
  load();
});
for (const b of document.querySelectorAll('[data-preset]')) {
  b.setAttribute('aria-pressed', 'false');
  b.addEventListener('click', () => { preset(b.dataset.preset); load(); });
}
$('#btn-csv').addEventListener('click', downloadCsv);
mw.buildCsv = () => (mw.stats ? buildCsv() : null);

resumeSession(signedIn, () => showLogin(), () => {
  setNotice('Cannot reach the server. Reload the page to try again.');
  showLogin();
});
