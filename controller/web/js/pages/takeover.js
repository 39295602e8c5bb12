// 紧急插播 / takeover: pick a playlist and a target, set an expiry, send; live
// takeovers are listed with a one-click cancel (the banner on every page too).
// Takeovers that CAP alerts started carry the alert's severity and sender, and
// the CAP messages received are listed below them.
import { boot } from '../app.js';
import { get, post } from '../api.js';
import { serverNow } from '../clock.js';
import { fmtDateTime, t } from '../i18n.js';
import { empty, h, section, table } from '../dom.js';
import { col, formRow, input, select, submitForm } from '../forms.js';
import { confirmAction, dangerButton, notify } from '../notices.js';
import { describeTarget, targetPicker } from '../target.js';

const DURATIONS = [15, 30, 60, 120, 240, 480, 1440];

// The colours the screens draw an alert in, by CAP severity (docs/controller-api.md "Alerts").
const SEVERITY_COLOURS = {
  Extreme: ['#C62828', '#FFFFFF'],
  Severe: ['#EF6C00', '#FFFFFF'],
  Moderate: ['#FDD835', '#000000'],
  Minor: ['#1565C0', '#FFFFFF'],
  Unknown: ['#424242', '#FFFFFF'],
};

function severityBadge(severity) {
  const [bg, fg] = SEVERITY_COLOURS[severity] || SEVERITY_COLOURS.Unknown;
  return h(
    'span',
    { class: 'badge ms-alert-severity', style: `background:${bg};color:${fg}`, dataset: { severity } },
    t(`alert.severity.${severity in SEVERITY_COLOURS ? severity : 'Unknown'}`),
  );
}

boot('takeover', async ({ main, can }) => {
  const [locations, players, playlists] = await Promise.all([
    get('/api/v1/locations').then((r) => r.locations),
    get('/api/v1/players').then((r) => r.players),
    get('/api/v1/playlists').then((r) => r.playlists),
  ]);
  const plName = Object.fromEntries(playlists.map((p) => [p.id, p.name]));
  const liveBox = h('div', { id: 'takeover-live' });
  const historyBox = h('div', { id: 'takeover-history' });
  const alertsBox = h('div', { id: 'takeover-alerts' });

  async function reload() {
    const list = (await get('/api/v1/takeovers')).takeovers;
    const live = list.filter((x) => x.active);
    const rest = list.filter((x) => !x.active);
    const row = (x) =>
      h(
        'tr',
        { dataset: { takeoverId: x.id } },
        h(
          'td',
          { class: 'fw-semibold' },
          x.name,
          x.source === 'alert'
            ? h(
                'div',
                { class: 'small fw-normal ms-takeover-alert' },
                h('span', { class: 'badge text-bg-dark me-1' }, t('takeover.fromAlert')),
                severityBadge(x.alert.severity),
                h('span', { class: 'text-muted ms-1' }, `${x.alert.sender} · ${t(`alert.type.${x.alert.msgType}`)}`),
              )
            : null,
        ),
        h('td', {}, plName[x.playlistId] || `#${x.playlistId}`),
        h('td', { class: 'small' }, describeTarget(x.target, players, locations)),
        h('td', { class: 'small text-nowrap' }, fmtDateTime(x.startsAt)),
        h('td', { class: 'small text-nowrap' }, fmtDateTime(x.expiresAt)),
        h(
          'td',
          {},
          x.cancelledAt
            ? h('span', { class: 'badge text-bg-secondary' }, t('takeover.stateCancelled'))
            : x.active
              ? h('span', { class: 'badge text-bg-danger' }, t('takeover.stateLive'))
              : new Date(x.startsAt) > new Date(serverNow())
                ? h('span', { class: 'badge text-bg-info' }, t('takeover.stateUpcoming'))
                : h('span', { class: 'badge text-bg-light border' }, t('takeover.stateExpired')),
        ),
        h(
          'td',
          {},
          can.plan && !x.cancelledAt && new Date(x.expiresAt) > new Date(serverNow())
            ? dangerButton(
                {
                  labelKey: 'takeover.cancel',
                  titleKey: 'takeover.cancelTitle',
                  message: t('takeover.cancelConfirm', { name: x.name }),
                  cls: 'btn-danger',
                  attrs: { dataset: { action: 'cancel' } },
                },
                async () => {
                  await post(`/api/v1/takeovers/${x.id}/cancel`);
                  notify(t('takeover.cancelled', { name: x.name }));
                  document.dispatchEvent(new CustomEvent('ms:takeovers-changed'));
                },
              )
            : null,
        ),
      );
    const head = [
      'takeover.name',
      'schedules.playlist',
      'target.title',
      'takeover.startsAt',
      'takeover.expiresAt',
      'media.state',
      'common.actions',
    ];
    liveBox.replaceChildren(live.length ? table(head, live.map(row)) : empty('takeover.noneLive'));
    historyBox.replaceChildren(rest.length ? table(head, rest.map(row)) : empty());
    const alerts = (await get('/api/v1/alerts?limit=50')).alerts;
    alertsBox.replaceChildren(
      alerts.length
        ? table(
            [
              'alert.receivedAt',
              'alert.msgType',
              'alert.severityTitle',
              'alert.headline',
              'alert.sender',
              'alert.signature',
              'alert.source',
            ],
            alerts.map((a) =>
              h(
                'tr',
                { dataset: { alertId: a.id } },
                h('td', { class: 'small text-nowrap' }, fmtDateTime(a.receivedAt)),
                h('td', {}, t(`alert.type.${a.msgType}`)),
                h('td', {}, a.severity ? severityBadge(a.severity) : '—'),
                h('td', { class: 'small' }, a.text || a.headline || a.event || '—'),
                h('td', { class: 'small text-muted' }, `${a.sender} / ${a.identifier}`),
                h('td', { class: 'small' }, t(`alert.sig.${a.signature}`)),
                h('td', { class: 'small' }, t(`alert.src.${a.source}`)),
              ),
            ),
          )
        : empty('alert.none'),
    );
  }
  document.addEventListener('ms:takeovers-changed', reload);

  if (can.plan) {
    const name = input({ id: 'takeover-name', required: true, maxlength: 255 });
    const playlist = select([['', t('schedules.pickPlaylist')], ...playlists.map((p) => [p.id, p.name])], '', {
      id: 'takeover-playlist',
      required: true,
    });
    const duration = select(
      DURATIONS.map((m) => [m, m < 60 ? t('takeover.minutes', { n: m }) : t('takeover.hours', { n: m / 60 })]),
      60,
      { id: 'takeover-duration' },
    );
    const target = targetPicker(players, locations);
    const form = submitForm(
      {
        id: 'takeover-form',
      },
      async () => {
        const tv = target.chosen();
        if (!tv) return;
        if (
          !(await confirmAction(
            'takeover.sendTitle',
            t('takeover.sendConfirm', { name: name.value.trim() }),
            'takeover.send',
            'btn-danger',
          ))
        )
          return;

        // A length, counted by the controller's clock: this PC's clock may be off.
        const durationSeconds = Number(duration.value) * 60;
        const x = await post('/api/v1/takeovers', {
          name: name.value.trim(),
          playlistId: Number(playlist.value),
          target: tv,
          durationSeconds,
        });
        notify(t('takeover.sent', { name: x.name }));
        name.value = '';
        document.dispatchEvent(new CustomEvent('ms:takeovers-changed'));
      },
      h('div', { class: 'alert alert-warning small' }, t('takeover.warning')),
      formRow(
        col('col-md-5', 'takeover.name', name),
        col('col-md-4', 'schedules.playlist', playlist),
        col('col-md-3', 'takeover.duration', duration),
      ),
      target.el,
      h('button', { class: 'btn btn-danger', type: 'submit', id: 'takeover-send' }, t('takeover.send')),
    );
    main.append(section('takeover.new', form));
  }
  main.append(
    section('takeover.live', liveBox),
    section('takeover.history', historyBox),
    section('alert.title', alertsBox),
  );
  await reload();
});
