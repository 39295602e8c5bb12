// 报表 / reports. Play counts come from the proof-of-play report routes
// (/api/v1/reports/...) when the controller has them; until then the page says
// so plainly. The content overview (media by theme and approval state, screens
// by venue type) is computed from the live API and downloadable as CSV.
import { boot } from '../app.js';
import { get, getOptional } from '../api.js';
import { addDays, DEFAULT_ZONE, fmtBytes, fmtNumber, has, t, today, zonedIso } from '../i18n.js';
import { empty, h, section, table, uid } from '../dom.js';
import { col, input, select } from '../forms.js';
import { showError } from '../notices.js';
import { VENUE_TYPES } from '../target.js';

const STATES = ['approved', 'pending', 'draft', 'rejected'];
const BY = [
  'day,theme',
  'day',
  'theme',
  'department',
  'venue_type',
  'district',
  'location',
  'screen',
  'media',
  'campaign',
];
const COLORS = {
  approved: '#198754',
  pending: '#e0a800',
  draft: '#6c757d',
  rejected: '#dc3545',
  online: '#198754',
  offline: '#dc3545',
};

function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (window.Chart) {
      resolve();
      return;
    }
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => {
      if (window.Chart) window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      resolve();
    };
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

// RFC 4180 CSV with a UTF-8 BOM so Excel and WPS open Chinese text correctly.
export function toCsv(rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `\uFEFF${rows.map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`;
}

function downloadCsv(name, rows) {
  downloadBlob(name, new Blob([toCsv(rows)], { type: 'text/csv;charset=utf-8' }));
}

function downloadBlob(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(url);
    a.remove();
  }, 1000);
}

// 取证导出 / evidence export (admins, auditors): the signed proof-of-play tar from
// GET /api/v1/audit/export for local days [from, to] in Asia/Shanghai and the
// chosen screens, the controller's public key (GET /api/v1/content-key, the key
// that signs export.json), and the command that checks both offline.
function evidenceSection(players) {
  const from = input({ type: 'date', id: 'export-from', value: addDays(today(), -6), required: true });
  const to = input({ type: 'date', id: 'export-to', value: today(), required: true });
  const boxes = players.map((p) => {
    const id = uid('exp');
    const input = h('input', {
      class: 'form-check-input',
      type: 'checkbox',
      id,
      value: p.id,
      dataset: { playerId: p.id },
    });
    return {
      input,
      el: h('div', { class: 'form-check' }, input, h('label', { class: 'form-check-label', for: id }, p.name || p.id)),
    };
  });
  const status = h('div', { class: 'small mt-2', id: 'export-status', role: 'status', 'aria-live': 'polite' });
  const command = h(
    'pre',
    { class: 'ms-command', id: 'export-command', tabindex: '0' },
    'microscape-pack audit exp-….tar --pub controller.pub',
  );
  const keyButton = h(
    'button',
    {
      class: 'btn btn-outline-primary',
      type: 'button',
      id: 'export-key',
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          const k = await get('/api/v1/content-key');
          downloadBlob('controller.pub', new Blob([k.publicKeyPem], { type: 'application/x-pem-file' }));
          keyId.textContent = t('reports.exportKeyId', { id: k.keyId });
        } catch (e) {
          showError(e);
        } finally {
          ev.target.disabled = false;
        }
      },
    },
    t('reports.exportKey'),
  );
  const keyId = h('div', { class: 'small text-body-secondary font-monospace text-break', id: 'export-key-id' });
  const form = h(
    'form',
    {
      id: 'export-form',
      class: 'row g-2 align-items-end',
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (to.value < from.value) {
          status.textContent = t('reports.exportBadRange');
          status.className = 'small mt-2 text-danger';
          return;
        }
        const q = new URLSearchParams({
          from: zonedIso(from.value, '00:00', DEFAULT_ZONE),
          to: zonedIso(addDays(to.value, 1), '00:00', DEFAULT_ZONE),
        });
        const chosen = boxes.filter((b) => b.input.checked).map((b) => b.input.value);
        if (chosen.length) q.set('players', chosen.join(','));
        const btn = form.querySelector('button[type=submit]');
        btn.disabled = true;
        status.className = 'small mt-2';
        status.textContent = t('reports.exportRunning');
        try {
          const r = await fetch(`/api/v1/audit/export?${q}`, { credentials: 'same-origin' });
          if (!r.ok) {
            let message = r.statusText;
            try {
              message = (await r.json()).error.message;
            } catch (_) {
              /* not JSON */
            }
            throw new Error(message);
          }
          const name =
            (/filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '') || [])[1] ||
            `evidence-${from.value}-${to.value}.tar`;
          const blob = await r.blob();
          downloadBlob(name, blob);
          command.textContent = `microscape-pack audit ${name} --pub controller.pub`;
          status.textContent = t('reports.exportDone', { name, size: fmtBytes(blob.size) });
          status.className = 'small mt-2 text-success';
          form.dataset.done = name;
        } catch (e) {
          status.textContent = `${t('reports.exportFailed')}: ${e.message}`;
          status.className = 'small mt-2 text-danger';
        } finally {
          btn.disabled = false;
        }
      },
    },
    col('col-md-3', 'reports.from', from),
    col('col-md-3', 'reports.to', to),
    h(
      'div',
      { class: 'col-md-6' },
      h('button', { class: 'btn btn-primary', type: 'submit', id: 'export-download' }, t('reports.exportDownload')),
    ),
    h(
      'fieldset',
      { class: 'col-12' },
      h('legend', { class: 'form-label fs-6 mb-1' }, t('reports.exportPlayers')),
      boxes.length
        ? h(
            'div',
            { class: 'd-flex flex-wrap gap-3' },
            boxes.map((b) => b.el),
          )
        : h('div', { class: 'small text-body-secondary' }, t('common.noneYet')),
      h('div', { class: 'form-text' }, t('reports.exportPlayersHint')),
    ),
  );
  return section(
    'reports.evidence',
    h('p', { class: 'small text-body-secondary' }, t('reports.evidenceHint')),
    form,
    status,
    h('h3', { class: 'h6 mt-3' }, t('reports.exportVerify')),
    h(
      'ol',
      { class: 'small ps-3' },
      h('li', {}, t('reports.exportStep1')),
      h('li', {}, t('reports.exportStep2'), ' ', keyButton, keyId),
      h('li', {}, t('reports.exportStep3'), command),
      h('li', {}, t('reports.exportStep4')),
    ),
  );
}

// 年度普法履职统计: the year's numbers from /api/v1/reports/annual, the paragraph for
// the report, a chart by month, and a print layout (A4) of just this section.
function annualSection(chartJs) {
  const thisYear = Number(today().slice(0, 4));
  const year = select(
    [0, 1, 2, 3, 4].map((i) => [String(thisYear - i), String(thisYear - i)]),
    String(thisYear),
    { id: 'annual-year' },
  );
  const box = h('div', { id: 'annual-report', class: 'ms-annual' });
  const csv = h(
    'a',
    { class: 'btn btn-outline-primary disabled', id: 'annual-csv', role: 'button', 'aria-disabled': 'true' },
    t('reports.downloadCsv'),
  );
  const printButton = h(
    'button',
    {
      class: 'btn btn-outline-secondary',
      type: 'button',
      id: 'annual-print',
      disabled: true,
      onclick: () => window.print(),
    },
    t('reports.annualPrint'),
  );
  let chart = null;
  const lineTable = (id, headKey, lines, label = (l) => l.name || l.key || '—') =>
    table(
      [headKey, 'reports.col.completed', 'reports.col.plays', 'reports.col.on_screen_hours', 'reports.col.screens'],
      lines.map((l) =>
        h(
          'tr',
          { dataset: { key: l.key } },
          h('td', {}, label(l)),
          h('td', {}, fmtNumber(l.completed)),
          h('td', {}, fmtNumber(l.plays)),
          h('td', {}, l.on_screen_hours),
          h('td', {}, fmtNumber(l.screens)),
        ),
      ),
      { id },
    );
  async function run(ev) {
    if (ev) ev.preventDefault();
    let data;
    try {
      data = await get(`/api/v1/reports/annual?year=${year.value}`);
    } catch (e) {
      showError(e);
      return;
    }
    csv.href = `/api/v1/reports/annual?year=${year.value}&format=csv`;
    csv.classList.remove('disabled');
    csv.removeAttribute('aria-disabled');
    printButton.disabled = false;
    box.replaceChildren(
      h('h3', { class: 'h5 mt-3', id: 'annual-title' }, t('reports.annualTitle', { year: data.year })),
      h('p', { class: 'ms-annual-summary', id: 'annual-summary' }, data.summary),
      table(
        [
          'reports.annualPlaces',
          'reports.annualScreens',
          'reports.col.completed',
          'reports.col.plays',
          'reports.col.on_screen_hours',
          'reports.annualCampaigns',
          'reports.annualTakeovers',
          'reports.annualRecalls',
          'reports.annualAlertTakeovers',
        ],
        [
          h(
            'tr',
            {},
            [data.total.locations, data.total.screens, data.total.completed, data.total.plays].map((n) =>
              h('td', {}, fmtNumber(n)),
            ),
            h('td', {}, data.total.on_screen_hours),
            h('td', {}, fmtNumber(data.campaigns)),
            h('td', {}, fmtNumber(data.takeovers)),
            h('td', {}, `${fmtNumber(data.recalls)} (${fmtNumber(data.recalls_completed)})`),
            h('td', {}, fmtNumber(data.alert_takeovers)),
          ),
        ],
        { id: 'annual-totals' },
      ),
      // Scheduled vs played over the year's days that have ended.
      table(
        [
          'reports.annualScheduled',
          'reports.col.completed',
          'reports.annualCompletion',
          'reports.annualUptime',
          'reports.annualThrough',
        ],
        [
          h(
            'tr',
            {},
            h('td', {}, fmtNumber(data.scheduled.scheduled_plays)),
            h('td', {}, fmtNumber(data.scheduled.completed)),
            h('td', {}, `${(data.scheduled.completion_basis_points / 100).toFixed(1)}%`),
            h('td', {}, `${(data.scheduled.uptime_basis_points / 100).toFixed(1)}%`),
            h('td', {}, data.scheduled.through || '—'),
          ),
        ],
        { id: 'annual-scheduled' },
      ),
      h('h4', { class: 'h6 mt-3' }, t('reports.annualByMonth')),
      chartCanvas('chart-annual-months', 'reports.annualByMonth'),
      h(
        'div',
        { class: 'row g-3 mt-1' },
        h(
          'div',
          { class: 'col-lg-6' },
          h('h4', { class: 'h6' }, t('reports.by.venue_type')),
          lineTable('annual-venues', 'reports.by.venue_type', data.by_venue_type, (l) =>
            l.key ? t(`venue.${l.key}`) : '—',
          ),
        ),
        h(
          'div',
          { class: 'col-lg-6' },
          h('h4', { class: 'h6' }, t('reports.by.theme')),
          lineTable('annual-themes', 'reports.by.theme', data.by_theme, (l) => l.key || t('reports.untagged')),
        ),
        h(
          'div',
          { class: 'col-lg-6' },
          h('h4', { class: 'h6' }, t('reports.by.department')),
          lineTable('annual-departments', 'reports.by.department', data.by_department, (l) => l.key || '—'),
        ),
        h(
          'div',
          { class: 'col-lg-6' },
          h('h4', { class: 'h6' }, t('reports.by.campaign')),
          lineTable('annual-campaigns', 'reports.by.campaign', data.by_campaign, (l) => l.name || l.key || '—'),
        ),
      ),
    );
    await chartJs;
    if (!window.Chart) return;
    if (chart) chart.destroy();
    const months = Array.from({ length: 12 }, (_, i) => `${data.year}-${String(i + 1).padStart(2, '0')}`);
    const byKey = Object.fromEntries(data.by_month.map((l) => [l.key, l.completed]));
    chart = new window.Chart(document.getElementById('chart-annual-months'), {
      type: 'bar',
      data: {
        labels: months.map((m) => t('reports.annualMonth', { month: Number(m.slice(5)) })),
        datasets: [
          {
            label: t('reports.col.completed'),
            backgroundColor: 'hsl(210, 60%, 45%)',
            data: months.map((m) => byKey[m] || 0),
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    document.getElementById('chart-annual-months').dataset.rendered = 'true';
  }
  // Printing resizes the page: redraw the chart at the paper's width.
  window.addEventListener('beforeprint', () => chart && chart.resize());
  return section(
    'reports.annual',
    h(
      'form',
      { class: 'row g-2 align-items-end ms-no-print', id: 'annual-form', onsubmit: run },
      col('col-md-2', 'reports.annualYear', year),
      h(
        'div',
        { class: 'col-md-10 d-flex gap-2' },
        h('button', { class: 'btn btn-primary', type: 'submit', id: 'annual-run' }, t('reports.show')),
        csv,
        printButton,
      ),
    ),
    box,
  );
}

function chartCanvas(id, labelKey) {
  return h('div', { class: 'ms-chart' }, h('canvas', { id, role: 'img', 'aria-label': t(labelKey) }));
}

// A report column's heading: translated when known, else the API's name.
function colName(c) {
  return has(`reports.col.${c}`) ? t(`reports.col.${c}`) : c;
}

// A label (day, theme, name), not a number sent as a string ("28.945").
function isLabelValue(v) {
  return typeof v === 'string' && v !== '' && Number.isNaN(Number(v));
}

// A report answer of unknown shape -> [header, ...rows] from its first array of objects.
function tabular(data) {
  const arr = Array.isArray(data)
    ? data
    : Object.values(data || {}).find((v) => Array.isArray(v) && v.length && typeof v[0] === 'object');
  if (!arr || !arr.length) return null;
  const cols = [...new Set(arr.flatMap((o) => Object.keys(o)))].filter(
    (k) => typeof arr[0][k] !== 'object' || arr[0][k] === null,
  );
  // Labels (day, theme, …) first, then the numbers, as the controller's CSV has them.
  const isLabel = (c) => arr.some((o) => isLabelValue(o[c]));
  cols.sort((a, b) => Number(isLabel(b)) - Number(isLabel(a)));
  return [cols, ...arr.map((o) => cols.map((c) => o[c]))];
}

boot('reports', async ({ main, can }) => {
  const chartJs = loadScript('/vendor/chart.js/chart.min.js').catch((e) => {
    showError(e);
  });
  const [media, players, locations, tagsR, campaigns, openapi] = await Promise.all([
    get('/api/v1/media').then((r) => r.media),
    get('/api/v1/players').then((r) => r.players),
    get('/api/v1/locations').then((r) => r.locations),
    get('/api/v1/tags'),
    get('/api/v1/campaigns').then((r) => r.campaigns),
    get('/api/v1/openapi.json'),
  ]);
  const tags = tagsR.tags.map((x) => x.name);
  const locById = Object.fromEntries(locations.map((l) => [l.id, l]));

  // --- play counts (proof-of-play reports, when the API has them) ---
  const reportRoutes = Object.entries(openapi.paths || {})
    .filter(
      ([p, ops]) => p.startsWith('/api/v1/reports') && ops.get && !p.includes('{') && p !== '/api/v1/reports/annual',
    )
    .map(([p]) => [
      p,
      t(`reports.route.${p.split('/').pop()}`).startsWith('reports.route.')
        ? p
        : t(`reports.route.${p.split('/').pop()}`),
    ]);
  const from = input({ type: 'date', id: 'report-from', value: addDays(today(), -6) });
  const to = input({ type: 'date', id: 'report-to', value: today() });
  const campaign = select([['', t('common.all')], ...campaigns.map((c) => [c.id, c.name])], '', {
    id: 'report-campaign',
  });
  const loc = select([['', t('common.all')], ...locations.map((l) => [l.id, l.name])], '', { id: 'report-location' });
  const by = select(
    BY.map((b) => [b, t(`reports.by.${b.replace(',', '_')}`)]),
    BY[0],
    { id: 'report-by' },
  );
  const route = select(reportRoutes, reportRoutes.find(([p]) => p.endsWith('/plays'))?.[0] || reportRoutes[0]?.[0], {
    id: 'report-route',
  });
  const playsBox = h('div', { id: 'report-plays' });
  const playsCsv = h(
    'a',
    { class: 'btn btn-outline-primary disabled', id: 'report-plays-csv', role: 'button', 'aria-disabled': 'true' },
    t('reports.downloadCsv'),
  );
  let playsChart = null;
  function query() {
    const q = new URLSearchParams({ from: from.value, to: to.value });
    if (route.value.endsWith('/plays')) q.set('by', by.value);
    if (campaign.value) q.set('campaign', campaign.value);
    if (loc.value) q.set('location', loc.value);
    return q;
  }
  async function runPlays(ev) {
    if (ev) ev.preventDefault();
    if (!reportRoutes.length) return;
    const q = query();
    let data;
    try {
      data = await getOptional(`${route.value}?${q}`);
    } catch (e) {
      showError(e);
      return;
    }
    q.set('format', 'csv');
    playsCsv.href = `${route.value}?${q}`;
    playsCsv.classList.remove('disabled');
    playsCsv.removeAttribute('aria-disabled');
    const rows = data && tabular(data);
    if (!rows) {
      playsBox.replaceChildren(empty('reports.noPlays'));
      return;
    }
    const [head, ...body] = rows;
    const valueCol = head.includes('plays')
      ? head.indexOf('plays')
      : head.findIndex((c, i) => body.every((r) => typeof r[i] === 'number'));
    const labelCols = head.map((c, i) => i).filter((i) => body.some((r) => isLabelValue(r[i])));
    playsBox.replaceChildren(
      chartCanvas('chart-plays', 'reports.playsChart'),
      h(
        'div',
        { class: 'table-responsive mt-2' },
        h(
          'table',
          { class: 'table table-sm', id: 'report-plays-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              head.map((c) => h('th', { scope: 'col' }, colName(c))),
            ),
          ),
          h(
            'tbody',
            {},
            body.slice(0, 500).map((r) =>
              h(
                'tr',
                {},
                r.map((v) => h('td', {}, v === null || v === '' ? '—' : String(v))),
              ),
            ),
          ),
        ),
      ),
    );
    await chartJs;
    if (!window.Chart || valueCol < 0 || !labelCols.length) return;
    if (playsChart) playsChart.destroy();
    // Two label columns (e.g. day × theme): stacked bars, one series per second label.
    const [x, series] = labelCols;
    const xs = [...new Set(body.map((r) => r[x]))];
    const names = series === undefined ? [colName(head[valueCol])] : [...new Set(body.map((r) => r[series]))];
    const datasets = names.map((n, i) => ({
      label: n || t('reports.untagged'),
      backgroundColor: `hsl(${(i * 67 + 210) % 360}, 60%, 45%)`,
      data: xs.map((xv) =>
        body
          .filter((r) => r[x] === xv && (series === undefined || r[series] === n))
          .reduce((a, r) => a + (Number(r[valueCol]) || 0), 0),
      ),
    }));
    playsChart = new window.Chart(document.getElementById('chart-plays'), {
      type: 'bar',
      data: { labels: xs, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { position: 'bottom' } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    document.getElementById('chart-plays').dataset.rendered = 'true';
  }
  main.append(
    section(
      'reports.plays',
      reportRoutes.length
        ? h(
            'form',
            { class: 'row g-2 align-items-end', id: 'report-form', onsubmit: runPlays },
            col('col-md-3', 'reports.report', route),
            col('col-md-2', 'reports.groupBy', by),
            col('col-md-2', 'reports.from', from),
            col('col-md-2', 'reports.to', to),
            col('col-md-1', 'schedules.campaign', campaign),
            col('col-md-2', 'calendar.location', loc),
            h(
              'div',
              { class: 'col-12 d-flex gap-2' },
              h('button', { class: 'btn btn-primary', type: 'submit', id: 'report-run' }, t('reports.show')),
              playsCsv,
            ),
          )
        : null,
      reportRoutes.length
        ? playsBox
        : h('div', { id: 'report-plays' }, empty('reports.noPlaysYet', 'reports.noPlaysYetDetail')),
    ),
  );
  route.addEventListener('change', () => {
    by.disabled = !route.value.endsWith('/plays');
  });
  if (openapi.paths && openapi.paths['/api/v1/reports/annual']) main.append(annualSection(chartJs));
  if (can.readAudit && openapi.paths && openapi.paths['/api/v1/audit/export'])
    main.append(evidenceSection(players.filter((p) => p.state !== 'retired')));

  // --- content overview: media by theme and approval state ---
  const byTheme = tags.map((tag) =>
    STATES.map((s) => media.filter((m) => m.tags.includes(tag) && m.state === s).length),
  );
  const untagged = STATES.map((s) => media.filter((m) => !m.tags.length && m.state === s).length);
  const themeLabels = [...tags, t('reports.untagged')];
  const themeData = [...byTheme, untagged];
  const byVenue = VENUE_TYPES.map((v) => {
    const ps = players.filter((p) => p.state !== 'retired' && locById[p.locationId]?.venueType === v);
    return [ps.filter((p) => p.online).length, ps.filter((p) => !p.online).length];
  });
  const overviewRows = [
    [t('reports.csvSection'), t('reports.csvKey'), ...STATES.map((s) => t(`state.${s}`)), t('reports.total')],
    ...themeLabels.map((label, i) => [
      t('reports.mediaByTheme'),
      label,
      ...themeData[i],
      themeData[i].reduce((a, b) => a + b, 0),
    ]),
    [t('reports.csvSection'), t('reports.csvKey'), t('fleet.online'), t('fleet.offline'), '', '', t('reports.total')],
    ...VENUE_TYPES.map((v, i) => [
      t('reports.screensByVenue'),
      t(`venue.${v}`),
      byVenue[i][0],
      byVenue[i][1],
      '',
      '',
      byVenue[i][0] + byVenue[i][1],
    ]),
  ];
  const summary = table(
    ['reports.csvKey', ...STATES.map((s) => `state.${s}`), 'reports.total'],
    themeLabels.map((label, i) =>
      h(
        'tr',
        { dataset: { theme: label } },
        h('td', {}, label),
        themeData[i].map((n) => h('td', {}, fmtNumber(n))),
        h('td', { class: 'fw-semibold' }, fmtNumber(themeData[i].reduce((a, b) => a + b, 0))),
      ),
    ),
    { id: 'report-theme-table' },
  );
  main.append(
    section(
      'reports.overview',
      h('p', { class: 'small text-body-secondary' }, t('reports.overviewHint')),
      h(
        'div',
        { class: 'row g-3' },
        h(
          'div',
          { class: 'col-lg-6' },
          h('h3', { class: 'h6' }, t('reports.mediaByTheme')),
          chartCanvas('chart-themes', 'reports.mediaByTheme'),
        ),
        h(
          'div',
          { class: 'col-lg-6' },
          h('h3', { class: 'h6' }, t('reports.screensByVenue')),
          chartCanvas('chart-venues', 'reports.screensByVenue'),
        ),
      ),
      summary,
      h(
        'button',
        {
          class: 'btn btn-outline-primary',
          type: 'button',
          id: 'report-overview-csv',
          onclick: () => downloadCsv(`microscape-overview-${today()}.csv`, overviewRows),
        },
        t('reports.downloadCsv'),
      ),
    ),
  );

  if (reportRoutes.length) await runPlays();
  await chartJs;
  if (!window.Chart) return;
  const base = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { position: 'bottom' } },
  };
  new window.Chart(document.getElementById('chart-themes'), {
    type: 'bar',
    data: {
      labels: themeLabels,
      datasets: STATES.map((s, si) => ({
        label: t(`state.${s}`),
        data: themeData.map((r) => r[si]),
        backgroundColor: COLORS[s],
      })),
    },
    options: {
      ...base,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
  new window.Chart(document.getElementById('chart-venues'), {
    type: 'bar',
    data: {
      labels: VENUE_TYPES.map((v) => t(`venue.${v}`)),
      datasets: [
        { label: t('fleet.online'), data: byVenue.map((r) => r[0]), backgroundColor: COLORS.online },
        { label: t('fleet.offline'), data: byVenue.map((r) => r[1]), backgroundColor: COLORS.offline },
      ],
    },
    options: {
      ...base,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
  document.getElementById('chart-themes').dataset.rendered = 'true';
});
