// 紧急插播 / takeover: pick a playlist and a target, set an expiry, send; live
// takeovers are listed with a one-click cancel (the banner on every page too).
import { boot } from '../app.js';
import { get, post } from '../api.js';
import { serverNow } from '../clock.js';
import { fmtDateTime, t } from '../i18n.js';
import { empty, h, section, table } from '../dom.js';
import { col, formRow, input, select, submitForm } from '../forms.js';
import { confirmAction, dangerButton, notify } from '../notices.js';
import { describeTarget, targetPicker } from '../target.js';

const DURATIONS = [15, 30, 60, 120, 240, 480, 1440];

boot('takeover', async ({ main, can }) => {
  const [locations, players, playlists] = await Promise.all([
    get('/api/v1/locations').then((r) => r.locations),
    get('/api/v1/players').then((r) => r.players),
    get('/api/v1/playlists').then((r) => r.playlists),
  ]);
  const plName = Object.fromEntries(playlists.map((p) => [p.id, p.name]));
  const liveBox = h('div', { id: 'takeover-live' });
  const historyBox = h('div', { id: 'takeover-history' });

  async function reload() {
    const list = (await get('/api/v1/takeovers')).takeovers;
    const live = list.filter((x) => x.active);
    const rest = list.filter((x) => !x.active);
    const row = (x) =>
      h(
        'tr',
        { dataset: { takeoverId: x.id } },
        h('td', { class: 'fw-semibold' }, x.name),
        h('td', {}, plName[x.playlistId] || `#${x.playlistId}`),
        h('td', { class: 'small' }, describeTarget(x.target, players)),
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
  main.append(section('takeover.live', liveBox), section('takeover.history', historyBox));
  await reload();
});
