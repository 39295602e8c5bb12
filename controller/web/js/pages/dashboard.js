// 总览 / dashboard: problems first (offline screens, sync errors, low disk, clock
// skew), then screens online by district and venue type, then every screen with
// what it should be showing now.
import { boot } from '../app.js';
import { get, getOptional } from '../api.js';
import { serverNow } from '../clock.js';
import { fmtBytes, fmtDateTime, fmtNumber, t, today } from '../i18n.js';
import { empty, h, section, table } from '../dom.js';
import { dialog } from '../notices.js';

const LOW_DISK_BYTES = 1 << 30;
const PREVIEW_REFRESH_MS = 30000;

// "12 秒前" / "3 分钟前" from an age in seconds.
function ageText(seconds) {
  if (seconds < 60) return t('dashboard.agoSeconds', { n: Math.max(0, Math.round(seconds)) });
  if (seconds < 3600) return t('dashboard.agoMinutes', { n: Math.floor(seconds / 60) });
  if (seconds < 86400) return t('dashboard.agoHours', { n: Math.floor(seconds / 3600) });
  return t('dashboard.agoDays', { n: Math.floor(seconds / 86400) });
}

// A screen's latest screenshot (GET /api/v1/players/{id}/preview), fetched when the
// cell scrolls into view and again every 30 s while the page is visible. The
// controller asks the screen only when its cached shot is older than a minute.
function previewCell(p) {
  const name = p.name || p.id;
  const img = h('img', { class: 'ms-preview-thumb', alt: t('dashboard.previewOf', { name }), hidden: true });
  const placeholder = h('div', { class: 'ms-preview-placeholder small text-body-secondary' }, t('dashboard.noPreview'));
  const age = h('div', { class: 'ms-preview-age small text-body-secondary' });
  const button = h(
    'button',
    {
      class: 'ms-preview-button',
      type: 'button',
      hidden: true,
      'aria-label': t('dashboard.previewOpen', { name }),
      onclick: () =>
        dialog(
          'dashboard.previewTitle',
          h(
            'div',
            { class: 'ms-preview' },
            h(
              'p',
              { class: 'fw-semibold mb-2' },
              name,
              h('span', { class: 'text-body-secondary ms-2 small' }, age.textContent),
            ),
            h('img', { class: 'ms-preview-media', src: img.src, alt: t('dashboard.previewOf', { name }) }),
          ),
          [{ key: 'common.close', value: 'cancel', class: 'btn-primary' }],
        ),
    },
    img,
  );
  const cell = h('div', { class: 'ms-preview-cell', dataset: { preview: 'none' } }, button, placeholder, age);
  let url = null;
  let takenAt = null;
  // The age the controller stated (X-Preview-Age-Seconds, by its own clock) and when
  // it was read: the age shown grows from there by this browser's elapsed time, so a
  // browser whose clock is off does not make a fresh shot look hours old.
  let statedAge = null;
  let readAt = 0;
  let visible = false;
  let loading = false;
  function showAge() {
    if (!takenAt) return;
    const seconds =
      statedAge !== null ? statedAge + (performance.now() - readAt) / 1000 : (serverNow() - takenAt) / 1000;
    age.textContent = `${p.online ? '' : `${t('fleet.offline')} · `}${ageText(seconds)}`;
    age.title = fmtDateTime(new Date(takenAt).toISOString());
  }
  async function load() {
    if (loading || !visible || document.visibilityState !== 'visible') return;
    loading = true;
    try {
      const r = await fetch(`/api/v1/players/${encodeURIComponent(p.id)}/preview`, { credentials: 'same-origin' });
      if (r.ok) {
        const blob = await r.blob();
        const next = URL.createObjectURL(blob);
        await new Promise((resolve) => {
          img.onload = resolve;
          img.onerror = resolve;
          img.src = next;
        });
        if (url) URL.revokeObjectURL(url);
        url = next;
        const at = Date.parse(r.headers.get('X-Preview-Taken-At') || '');
        takenAt = Number.isNaN(at) ? serverNow() : at;
        const stated = Number(r.headers.get('X-Preview-Age-Seconds'));
        statedAge = r.headers.has('X-Preview-Age-Seconds') && Number.isFinite(stated) ? stated : null;
        readAt = performance.now();
        button.hidden = false;
        img.hidden = false;
        placeholder.hidden = true;
        cell.dataset.preview = 'live';
        showAge();
      }
    } catch (_) {
      /* keeps what it shows */
    }
    loading = false;
  }
  new IntersectionObserver((entries) => {
    visible = entries.some((e) => e.isIntersecting);
    if (visible) load();
  }).observe(cell);
  setInterval(load, PREVIEW_REFRESH_MS);
  setInterval(showAge, 10000);
  document.addEventListener('visibilitychange', load);
  return cell;
}

// extra: {failedToday: {screenId: n}, proof: {screenId: {count, code, seq, at}}} from
// the proof-of-play reports (absent when the controller has none).
function problemsOf(p, extra = {}) {
  const out = [];
  if (p.state === 'retired') return out;
  const s = p.status || {};
  const failed = extra.failedToday?.[p.id];
  if (failed) out.push(['danger', t('dashboard.problemFailedPlays', { n: failed })]);
  const proof = extra.proof?.[p.id];
  if (proof)
    out.push([
      'danger',
      t('dashboard.problemProof', {
        n: proof.count,
        code: proof.code,
        seq: proof.seq ?? '—',
        at: fmtDateTime(new Date(proof.at).toISOString()),
      }),
    ]);
  if (!p.online) out.push(['danger', t('dashboard.problemOffline', { since: fmtDateTime(p.lastSeenAt) })]);
  if (s.sync_state === 'error') out.push(['danger', t('dashboard.problemSync', { message: s.last_error || '' })]);
  if (s.sync_state === 'disk_full' || (s.disk_free_bytes != null && s.disk_free_bytes < LOW_DISK_BYTES))
    out.push(['warning', t('dashboard.problemDisk', { free: fmtBytes(s.disk_free_bytes) })]);
  if (s.clock_skewed) out.push(['warning', t('dashboard.problemClock', { ms: s.clock_offset_ms })]);
  if (s.last_error && s.sync_state !== 'error') out.push(['warning', s.last_error]);
  return out;
}

function stat(key, value, cls = '', id) {
  return h(
    'div',
    { class: 'col-6 col-md-3' },
    h(
      'div',
      { class: `card ms-stat ${cls}`, id },
      h(
        'div',
        { class: 'card-body' },
        h('div', { class: 'ms-stat-value' }, value),
        h('div', { class: 'ms-stat-label' }, t(key)),
      ),
    ),
  );
}

boot('dashboard', async ({ main, can }) => {
  const [players, locations, takeovers, pending] = await Promise.all([
    get('/api/v1/players').then((r) => r.players),
    get('/api/v1/locations').then((r) => r.locations),
    get('/api/v1/takeovers?active=true').then((r) => r.takeovers),
    get('/api/v1/media?state=pending').then((r) => r.media),
  ]);
  const locById = Object.fromEntries(locations.map((l) => [l.id, l]));
  const active = players.filter((p) => p.state !== 'retired');
  const online = active.filter((p) => p.online).length;

  main.append(
    h(
      'div',
      { class: 'row g-3 mb-3', id: 'dashboard-stats' },
      stat('dashboard.screens', fmtNumber(active.length)),
      stat('dashboard.online', fmtNumber(online), 'ms-stat-ok'),
      stat('dashboard.offline', fmtNumber(active.length - online), active.length - online ? 'ms-stat-bad' : ''),
      stat(
        can.approve ? 'dashboard.pendingApproval' : 'dashboard.pendingMine',
        fmtNumber(pending.length),
        pending.length ? 'ms-stat-warn' : '',
      ),
    ),
  );

  if (takeovers.length) {
    main.append(
      h(
        'div',
        { class: 'alert alert-danger' },
        t('dashboard.takeoverLive', { names: takeovers.map((x) => x.name).join('、') }),
        ' ',
        h('a', { href: '/takeover', class: 'alert-link' }, t('nav.takeover')),
      ),
    );
  }
  if (can.approve && pending.length) {
    main.append(
      h(
        'div',
        { class: 'alert alert-warning' },
        t('dashboard.pendingHint', { n: pending.length }),
        ' ',
        h('a', { href: '/approvals', class: 'alert-link' }, t('nav.approvals')),
      ),
    );
  }

  // Problems first: the screens' own reports, failed plays today and what the
  // proof-of-play ingest refused or flagged (chain gaps, bad signatures) in the last week.
  const extra = {};
  const [playsToday, popProblems] = await Promise.all([
    getOptional(`/api/v1/reports/plays?from=${today()}&to=${today()}&by=screen`).catch(() => null),
    getOptional('/api/v1/reports/problems?limit=200').catch(() => null),
  ]);
  if (playsToday && Array.isArray(playsToday.rows)) {
    extra.failedToday = Object.fromEntries(
      playsToday.rows.filter((r) => r.failed > 0).map((r) => [r.screen, r.failed]),
    );
  }
  if (popProblems && Array.isArray(popProblems.rows)) {
    extra.proof = {};
    const weekAgo = serverNow() - 7 * 86400e3;
    for (const r of popProblems.rows) {
      // newest first
      if (!(r.detected_at_ms >= weekAgo)) continue;
      const e =
        extra.proof[r.screen] || (extra.proof[r.screen] = { count: 0, code: r.code, seq: r.seq, at: r.detected_at_ms });
      e.count += 1;
    }
  }
  const problems = active.flatMap((p) => problemsOf(p, extra).map(([kind, text]) => ({ p, kind, text })));
  problems.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'danger' ? -1 : 1));
  main.append(
    section(
      'dashboard.problems',
      problems.length
        ? h(
            'ul',
            { class: 'list-group', id: 'dashboard-problems' },
            problems.map(({ p, kind, text }) =>
              h(
                'li',
                { class: `list-group-item list-group-item-${kind}` },
                h('strong', {}, p.name || p.id),
                ` · ${locById[p.locationId]?.name || t('locations.noLocation')} · `,
                text,
              ),
            ),
          )
        : h(
            'p',
            { class: 'text-success mb-0', id: 'dashboard-problems' },
            active.length ? t('dashboard.noProblems') : t('dashboard.noScreens'),
          ),
    ),
  );

  // Online by district × venue type.
  const groups = new Map();
  for (const p of active) {
    const l = locById[p.locationId];
    const key = `${l ? l.district : '—'}|${l ? l.venueType : '—'}`;
    const g = groups.get(key) || { district: l ? l.district : '—', venue: l ? l.venueType : null, total: 0, online: 0 };
    g.total += 1;
    if (p.online) g.online += 1;
    groups.set(key, g);
  }
  const groupRows = [...groups.values()]
    .sort((a, b) => a.district.localeCompare(b.district, 'zh-CN'))
    .map((g) =>
      h(
        'tr',
        {},
        h('td', {}, g.district),
        h('td', {}, g.venue ? t(`venue.${g.venue}`) : '—'),
        h('td', {}, `${g.online} / ${g.total}`),
        h(
          'td',
          {},
          h(
            'div',
            { class: 'progress', role: 'img', 'aria-label': `${g.online}/${g.total}` },
            h('div', { class: 'progress-bar bg-success', style: `width:${(g.online / g.total) * 100}%` }),
          ),
        ),
      ),
    );
  main.append(
    section(
      'dashboard.byArea',
      groupRows.length
        ? table(['locations.district', 'locations.venueType', 'dashboard.onlineOfTotal', ''], groupRows)
        : empty('common.noData', 'dashboard.noScreens'),
    ),
  );

  // Every screen: what it should show now (the controller's evaluator), sync and disk.
  const nowRows = await Promise.all(
    active.map(async (p) => {
      let now = null;
      try {
        now = await getOptional(`/api/v1/preview?playerId=${encodeURIComponent(p.id)}`);
      } catch (_) {
        /* shown as — */
      }
      const s = p.status || {};
      const playing = s.playback && (s.playback.media_name || s.playback.mediaName || s.playback.name);
      const sync = s.files_total
        ? `${s.files_done ?? 0}/${s.files_total}`
        : s.sync_state
          ? t(`sync.${s.sync_state}`)
          : '—';
      return h(
        'tr',
        { dataset: { playerId: p.id } },
        h(
          'td',
          {},
          h('div', { class: 'fw-semibold' }, p.name || p.id),
          h('div', { class: 'small text-body-secondary' }, locById[p.locationId]?.name || '—'),
        ),
        h(
          'td',
          {},
          p.online
            ? h('span', { class: 'badge text-bg-success' }, t('fleet.online'))
            : h('span', { class: 'badge text-bg-danger' }, t('fleet.offline')),
        ),
        h(
          'td',
          { class: 'small' },
          playing || (now && now.mediaName) || (now ? t(`playState.${now.state}`) : '—'),
          playing ? null : h('div', { class: 'text-body-secondary' }, t('dashboard.perSchedule')),
          now && now.failedOnScreen
            ? h(
                'div',
                {
                  class: 'text-danger ms-failed-on-screen',
                  title: now.failedOnScreen.reason,
                  dataset: { failedAt: now.failedOnScreen.at },
                },
                t('dashboard.failedOnScreen', {
                  at: fmtDateTime(now.failedOnScreen.at),
                  n: now.failedOnScreen.failuresLastDay,
                  reason: now.failedOnScreen.reason,
                }),
              )
            : null,
          now && now.standIn
            ? h(
                'div',
                { class: 'text-body-secondary ms-stand-in' },
                now.standIn.mediaName
                  ? t('dashboard.standIn', { name: now.standIn.mediaName })
                  : t('dashboard.standInCard'),
              )
            : null,
          now && now.degradedOnScreen
            ? h(
                'div',
                { class: 'text-warning-emphasis ms-degraded-on-screen' },
                t('dashboard.degradedOnScreen', {
                  at: fmtDateTime(now.degradedOnScreen.at),
                  freeze: now.degradedOnScreen.longestFreezeMs,
                  dropped: now.degradedOnScreen.framesDropped,
                  late: now.degradedOnScreen.framesLate,
                  frames: now.degradedOnScreen.frames,
                }),
              )
            : null,
        ),
        h('td', {}, previewCell(p)),
        h('td', { class: 'small text-nowrap' }, fmtDateTime(p.lastSeenAt)),
        h('td', { class: 'small' }, s.active_version != null ? `v${s.active_version}` : '—'),
        h('td', { class: 'small' }, sync),
        h('td', { class: 'small' }, s.disk_free_bytes != null ? fmtBytes(s.disk_free_bytes) : '—'),
      );
    }),
  );
  main.append(
    section(
      'dashboard.screensNow',
      nowRows.length
        ? table(
            [
              'locations.screenName',
              'locations.online',
              'dashboard.current',
              'dashboard.preview',
              'locations.lastSeen',
              'dashboard.bundle',
              'dashboard.sync',
              'dashboard.disk',
            ],
            nowRows,
          )
        : empty('common.noData', 'dashboard.noScreens'),
    ),
  );
});
