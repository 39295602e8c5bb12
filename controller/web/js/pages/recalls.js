// 召回 / recalls: media withdrawn from every screen, with the proof that it is
// off each of them: per screen the manifest version without it, when the screen
// confirmed that version, its last play of the media and its state. A play that
// started after the screen's confirmation is a problem, shown in red.
import { boot } from '../app.js';
import { get } from '../api.js';
import { fmtDateTime, t } from '../i18n.js';
import { empty, h, section, table } from '../dom.js';

const REFRESH_MS = 3000;

function stateBadge(state) {
  const cls = {
    confirmed: 'text-bg-success',
    pending: 'text-bg-warning',
    offline: 'text-bg-secondary',
    retired: 'text-bg-light border',
  }[state];
  return h('span', { class: `badge ${cls}`, dataset: { state } }, t(`recall.state.${state}`));
}

function recallBadge(r) {
  if (r.summary.playsAfterConfirmation > 0)
    return h('span', { class: 'badge text-bg-danger', dataset: { recallState: 'problem' } }, t('recall.problem'));
  if (r.complete)
    return h('span', { class: 'badge text-bg-success', dataset: { recallState: 'complete' } }, t('recall.complete'));
  return h('span', { class: 'badge text-bg-warning', dataset: { recallState: 'open' } }, t('recall.open'));
}

function screenRow(s) {
  const problem = s.playsAfterConfirmation > 0;
  return h(
    'tr',
    { dataset: { playerId: s.playerId, state: s.state }, class: problem ? 'table-danger' : null },
    h(
      'td',
      {},
      h('div', { class: 'fw-semibold' }, s.name),
      h('div', { class: 'small text-body-secondary' }, s.location || '—'),
    ),
    h('td', { class: 'small' }, s.version === null ? t('recall.notCompiled') : `v${s.version}`),
    h('td', { class: 'small text-nowrap' }, s.confirmedAt ? fmtDateTime(s.confirmedAt) : '—'),
    h('td', { class: 'small text-nowrap' }, s.lastPlayAt ? fmtDateTime(s.lastPlayAt) : '—'),
    h(
      'td',
      { class: 'small' },
      problem
        ? h(
            'span',
            { class: 'text-danger fw-semibold', dataset: { problem: s.playsAfterConfirmation } },
            t('recall.playsAfter', {
              n: s.playsAfterConfirmation,
              at: fmtDateTime(s.firstPlayAfterConfirmation.startedAt),
              seq: s.firstPlayAfterConfirmation.seq,
            }),
          )
        : '0',
    ),
    h('td', {}, stateBadge(s.state)),
  );
}

function recallCard(r, focus) {
  const s = r.summary;
  return h(
    'section',
    {
      class: `ms-card card mb-3${focus ? ' border-primary' : ''}`,
      dataset: { recallId: r.id, mediaId: r.mediaId },
      id: `recall-${r.mediaId}`,
    },
    h(
      'div',
      { class: 'card-body' },
      h('h2', { class: 'h5 card-title d-flex flex-wrap gap-2 align-items-center' }, r.mediaName, recallBadge(r)),
      h(
        'p',
        { class: 'small mb-2' },
        t('recall.meta', {
          at: fmtDateTime(r.recalledAt),
          by: r.automatic ? t('recall.byExpiry') : r.recalledBy,
          reason: r.reason,
        }),
      ),
      h(
        'p',
        { class: 'small mb-2 ms-recall-summary' },
        t('recall.summary', {
          screens: s.screens,
          confirmed: s.confirmed,
          pending: s.pending,
          offline: s.offline,
          retired: s.retired,
        }),
        ' ',
        r.lastPlayAt ? t('recall.lastPlay', { at: fmtDateTime(r.lastPlayAt) }) : '',
        ' ',
        r.completedAt ? t('recall.completedAt', { at: fmtDateTime(r.completedAt) }) : '',
      ),
      r.screens.length
        ? table(
            [
              'recall.colScreen',
              'recall.colVersion',
              'recall.colConfirmed',
              'recall.colLastPlay',
              'recall.colAfter',
              'recall.colState',
            ],
            r.screens.map(screenRow),
          )
        : empty('recall.noScreens'),
    ),
  );
}

boot('recalls', async ({ main }) => {
  const focus = Number(new URLSearchParams(location.search).get('media')) || null;
  const box = h('div', { id: 'recall-list' });
  async function reload() {
    const list = (await get('/api/v1/recalls')).recalls;
    box.replaceChildren(
      ...(list.length
        ? list.map((r) => recallCard(r, r.mediaId === focus))
        : [empty('recall.none', 'recall.noneHint')]),
    );
  }
  main.append(section('recall.title', h('p', { class: 'small text-body-secondary' }, t('recall.hint'))), box);
  await reload();
  if (focus) document.getElementById(`recall-${focus}`)?.scrollIntoView();
  setInterval(() => reload().catch(() => {}), REFRESH_MS);
});
