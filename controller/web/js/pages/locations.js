// 场所与屏幕 / locations and screens: create locations, enrolment tokens with the
// technician's exact command, rename/move/retire screens, remote commands.
import { boot } from '../app.js';
import { ApiError, del, get, patch, post, put } from '../api.js';
import { fmtDateTime, t } from '../i18n.js';
import { empty, h, newItemPanel, section, table } from '../dom.js';
import { col, field, formDialog, formRow, input, select, setOptions, submitCol, submitForm } from '../forms.js';
import { busy, dangerButton, dialog, editButton, errorText, notify, showError } from '../notices.js';
import { VENUE_TYPES } from '../target.js';

// Mirror base URLs typed one per line (or separated by spaces or commas).
function urlList(text) {
  return text
    .split(/[\s,，]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

boot('locations', async ({ main, can }) => {
  let locations = [];
  let players = [];
  let playlists = [];
  const locBox = h('div', { id: 'location-list' });
  const screenBox = h('div', { id: 'screen-list' });
  const tokenBox = h('div', { id: 'token-list' });
  const tokenResult = h('div', { id: 'token-result', 'aria-live': 'polite' });
  const mirrorBox = h('div', { id: 'mirror-settings' });

  const locName = (id) => locations.find((l) => l.id === id)?.name || '—';

  async function reload() {
    [locations, players, playlists] = await Promise.all([
      get('/api/v1/locations').then((r) => r.locations),
      get('/api/v1/players').then((r) => r.players),
      get('/api/v1/playlists').then((r) => r.playlists),
    ]);
    renderLocations();
    renderScreens();
    if (can.manageFleet) await renderTokens();
    if (can.manageFleet) await renderMirrors();
    refreshLocationSelects();
  }

  function renderLocations() {
    const count = (id) => players.filter((p) => p.locationId === id && p.state !== 'retired').length;
    const plName = (id) => playlists.find((p) => p.id === id)?.name || `#${id}`;
    locBox.replaceChildren(
      locations.length
        ? table(
            [
              'locations.name',
              'locations.venueType',
              'locations.district',
              'locations.adminCode',
              'locations.address',
              'locations.tags',
              'locations.timezone',
              'schedules.fillerLocation',
              'locations.screens',
              ...(can.manageFleet ? ['common.actions'] : []),
            ],
            locations.map((l) =>
              h(
                'tr',
                { dataset: { locationId: l.id } },
                h('td', { class: 'fw-semibold' }, l.name),
                h('td', {}, t(`venue.${l.venueType}`)),
                h('td', {}, l.district),
                h('td', { class: 'small font-monospace' }, l.adminCode || '—'),
                h('td', { class: 'small' }, l.address || '—'),
                h(
                  'td',
                  {},
                  (l.tags || []).map((x) => h('span', { class: 'badge text-bg-light border me-1' }, x)),
                ),
                h('td', { class: 'small' }, l.timezone),
                h(
                  'td',
                  { class: 'small' },
                  l.fillerPlaylistId ? plName(l.fillerPlaylistId) : t('schedules.fillerInherit'),
                ),
                h('td', {}, String(count(l.id))),
                can.manageFleet
                  ? h(
                      'td',
                      {},
                      h(
                        'div',
                        { class: 'd-flex gap-1' },
                        editButton(t('locations.editNamed', { name: l.name }), () => editLocation(l)),
                        dangerButton(
                          {
                            labelKey: 'common.delete',
                            titleKey: 'locations.deleteTitle',
                            message: t('locations.deleteConfirm', { name: l.name }),
                            attrs: {
                              dataset: { action: 'delete' },
                              'aria-label': t('locations.deleteNamed', { name: l.name }),
                              disabled: count(l.id) > 0,
                              title: count(l.id) > 0 ? t('locations.deleteInUse') : null,
                            },
                          },
                          async () => {
                            await del(`/api/v1/locations/${l.id}`);
                            notify(t('locations.deleted', { name: l.name }));
                            await reload();
                          },
                        ),
                      ),
                    )
                  : null,
              ),
            ),
          )
        : empty('common.noData', 'locations.noLocations'),
    );
  }

  // The location's fields (as created) plus its own filler playlist, saved with PATCH.
  async function editLocation(l) {
    const name = input({ id: 'edit-location-name', required: true, maxlength: 255, value: l.name });
    const venue = select(
      VENUE_TYPES.map((v) => [v, t(`venue.${v}`)]),
      l.venueType,
      { id: 'edit-location-venue' },
    );
    const district = input({ id: 'edit-location-district', required: true, maxlength: 100, value: l.district });
    const adminCode = input({
      id: 'edit-location-admin-code',
      maxlength: 32,
      value: l.adminCode || '',
      inputmode: 'numeric',
    });
    const address = input({ id: 'edit-location-address', maxlength: 255, value: l.address || '' });
    const tags = input({ id: 'edit-location-tags', maxlength: 255, value: (l.tags || []).join(', ') });
    const tz = input({ id: 'edit-location-timezone', maxlength: 64, value: l.timezone });
    const filler = select(
      [['', t('schedules.fillerInherit')], ...playlists.map((p) => [p.id, p.name])],
      l.fillerPlaylistId ?? '',
      { id: 'edit-location-filler' },
    );
    const mirrors = h('textarea', {
      class: 'form-control font-monospace',
      id: 'edit-location-mirrors',
      rows: 2,
      maxlength: 4200,
      spellcheck: 'false',
      placeholder: 'http://mirror.example.cn:8080',
    });
    mirrors.value = (l.mirrors || []).join('\n');
    const ok = await formDialog(
      'locations.editLocation',
      formRow(
        col('col-md-8', 'locations.name', name),
        col('col-md-4', 'locations.venueType', venue),
        col('col-md-4', 'locations.district', district),
        col('col-md-4', 'locations.adminCode', adminCode, 'locations.adminCodeHint'),
        col('col-md-4', 'locations.address', address),
        col('col-md-6', 'locations.tags', tags, 'locations.tagsHint'),
        col('col-md-6', 'locations.timezone', tz),
        col('col-12', 'schedules.fillerLocation', filler, 'locations.fillerHint'),
        col('col-12', 'locations.mirrors', mirrors, 'locations.mirrorsHint'),
      ),
      async () => {
        await patch(`/api/v1/locations/${l.id}`, {
          name: name.value.trim(),
          venueType: venue.value,
          district: district.value.trim(),
          adminCode: adminCode.value.trim(),
          address: address.value.trim(),
          tags: tags.value
            .split(/[,，、\s]+/)
            .map((x) => x.trim())
            .filter(Boolean),
          timezone: tz.value.trim() || 'Asia/Shanghai',
          fillerPlaylistId: filler.value ? Number(filler.value) : null,
          mirrors: urlList(mirrors.value),
        });
        return true;
      },
      { id: 'location-edit-dialog', wide: true },
    );
    if (!ok) return;
    notify(t('common.saved'));
    await reload();
  }

  // The fleet's and each district's mirrors (a location's are in its edit form).
  async function renderMirrors() {
    const settings = await get('/api/v1/settings/mirrors');
    const byDistrict = new Map(settings.districts.map((d) => [d.district, d.mirrors]));
    const districts = [...new Set([...locations.map((l) => l.district), ...byDistrict.keys()])].sort();
    const fleet = input({
      id: 'mirrors-fleet',
      class: 'form-control font-monospace',
      maxlength: 4200,
      spellcheck: 'false',
      placeholder: 'http://mirror.example.cn:8080',
      value: settings.fleet.join(' '),
    });
    const fields = districts.map((d, i) => [
      d,
      input({
        id: `mirrors-district-${i}`,
        class: 'form-control font-monospace',
        maxlength: 4200,
        spellcheck: 'false',
        dataset: { district: d },
        placeholder: t('locations.mirrorsNone'),
        value: (byDistrict.get(d) || []).join(' '),
      }),
    ]);
    const form = submitForm(
      { id: 'mirrors-form', class: 'row g-2' },
      async () => {
        await put('/api/v1/settings/mirrors', {
          fleet: urlList(fleet.value),
          districts: fields.map(([d, el]) => ({ district: d, mirrors: urlList(el.value) })),
        });
        notify(t('locations.mirrorsSaved'));
        await reload();
      },
      col('col-12', 'locations.mirrorsFleet', fleet, 'locations.mirrorsListHint'),
      ...fields.map(([d, el]) =>
        h(
          'div',
          { class: 'col-md-6' },
          h('label', { class: 'form-label', for: el.id }, t('locations.mirrorsDistrict', { district: d })),
          el,
        ),
      ),
      submitCol('locations.mirrorsSave', 'col-md-3'),
    );
    mirrorBox.replaceChildren(h('p', { class: 'small text-body-secondary' }, t('locations.mirrorsIntro')), form);
  }

  async function command(p, action, button) {
    await busy(button, async () => {
      let r;
      try {
        r = await post(`/api/v1/players/${encodeURIComponent(p.id)}/commands`, { action });
      } catch (e) {
        if (e instanceof ApiError && e.routeMissing) {
          notify(t('locations.commandsUnavailable'), 'warning');
          return;
        }
        throw e;
      }
      notify(t('locations.commandSent', { name: p.name || p.id }));
      // The screen answers (COMMAND_ACK): say whether it did it.
      for (let i = 0; i < 20; i++) {
        await new Promise((res) => setTimeout(res, 1000));
        r = await get(`/api/v1/commands/${encodeURIComponent(r.id)}`);
        if (r.state !== 'sent') break;
      }
      if (action !== 'screenshot') {
        if (r.state === 'done') notify(t('locations.commandDone', { name: p.name || p.id }));
        else if (r.state === 'sent') notify(t('locations.commandPending', { name: p.name || p.id }), 'warning');
        else notify(t('locations.commandFailed', { message: r.message || r.state }), 'warning');
        return;
      }
      if (r.state === 'done' && r.payloadBase64) {
        await dialog(
          'locations.screenshotTitle',
          h('img', {
            class: 'ms-preview-media',
            src: `data:image/png;base64,${r.payloadBase64}`,
            alt: t('locations.screenshotOf', { name: p.name || p.id }),
          }),
          [{ key: 'common.close', value: 'cancel', class: 'btn-primary' }],
        );
      } else {
        notify(t('locations.screenshotFailed', { message: r.message || r.state }), 'warning');
      }
    });
  }

  async function editScreen(p) {
    const name = input({ value: p.name || '', maxlength: 255 });
    const loc = select([['', t('locations.noLocation')], ...locations.map((l) => [l.id, l.name])], p.locationId ?? '');
    const v = await dialog(
      'locations.editScreen',
      h('div', {}, field('locations.screenName', name), field('locations.location', loc)),
      [
        { key: 'common.cancel', value: 'cancel' },
        { key: 'common.save', value: 'ok', class: 'btn-primary' },
      ],
    );
    if (v !== 'ok') return;
    try {
      await patch(`/api/v1/players/${encodeURIComponent(p.id)}`, {
        name: name.value.trim() || p.name,
        locationId: loc.value ? Number(loc.value) : null,
      });
      notify(t('common.saved'));
      await reload();
    } catch (e) {
      showError(e);
    }
  }

  function renderScreens() {
    const order = [...players].sort((a, b) => (a.online === b.online ? 0 : a.online ? 1 : -1));
    screenBox.replaceChildren(
      order.length
        ? table(
            [
              'locations.screenName',
              'locations.location',
              'locations.online',
              'locations.lastSeen',
              'locations.resolution',
              'media.state',
              'common.actions',
            ],
            order.map((p) =>
              h(
                'tr',
                { dataset: { playerId: p.id } },
                h(
                  'td',
                  {},
                  h('div', { class: 'fw-semibold' }, p.name || p.id),
                  h('div', { class: 'small text-body-secondary font-monospace' }, p.id),
                ),
                h('td', {}, locName(p.locationId)),
                h(
                  'td',
                  {},
                  p.state === 'retired'
                    ? '—'
                    : p.online
                      ? h('span', { class: 'badge text-bg-success' }, t('fleet.online'))
                      : h('span', { class: 'badge text-bg-danger' }, t('fleet.offline')),
                ),
                h('td', { class: 'small text-nowrap' }, fmtDateTime(p.lastSeenAt)),
                h(
                  'td',
                  { class: 'small' },
                  p.width && p.height ? `${p.width}×${p.height} ${t(`orientation.${p.orientation}`)}` : '—',
                ),
                h(
                  'td',
                  {},
                  h(
                    'span',
                    { class: `badge ${p.state === 'retired' ? 'text-bg-secondary' : 'text-bg-light border'}` },
                    t(`playerState.${p.state}`),
                  ),
                ),
                h(
                  'td',
                  {},
                  can.manageFleet
                    ? h(
                        'div',
                        { class: 'd-flex flex-wrap gap-1' },
                        h(
                          'button',
                          { class: 'btn btn-sm btn-outline-secondary', type: 'button', onclick: () => editScreen(p) },
                          t('locations.renameMove'),
                        ),
                        p.state === 'enrolled'
                          ? [
                              h(
                                'button',
                                {
                                  class: 'btn btn-sm btn-outline-secondary',
                                  type: 'button',
                                  disabled: !p.online,
                                  dataset: { command: 'screenshot' },
                                  onclick: (ev) => command(p, 'screenshot', ev.target),
                                },
                                t('locations.screenshot'),
                              ),
                              h(
                                'button',
                                {
                                  class: 'btn btn-sm btn-outline-secondary',
                                  type: 'button',
                                  disabled: !p.online,
                                  dataset: { command: 'reload' },
                                  onclick: (ev) => command(p, 'reload', ev.target),
                                },
                                t('locations.reload'),
                              ),
                              h(
                                'button',
                                {
                                  class: 'btn btn-sm btn-outline-secondary',
                                  type: 'button',
                                  disabled: !p.online,
                                  title: t('locations.showHeadTitle'),
                                  dataset: { command: 'show_head' },
                                  onclick: (ev) => command(p, 'show_head', ev.target),
                                },
                                t('locations.showHead'),
                              ),
                              dangerButton(
                                {
                                  labelKey: 'locations.retire',
                                  titleKey: 'locations.retireTitle',
                                  message: t('locations.retireConfirm', { name: p.name || p.id }),
                                },
                                async () => {
                                  await patch(`/api/v1/players/${encodeURIComponent(p.id)}`, { state: 'retired' });
                                  await reload();
                                },
                              ),
                            ]
                          : h(
                              'button',
                              {
                                class: 'btn btn-sm btn-outline-secondary',
                                type: 'button',
                                onclick: (ev) =>
                                  busy(ev.target, async () => {
                                    await patch(`/api/v1/players/${encodeURIComponent(p.id)}`, { state: 'enrolled' });
                                    await reload();
                                  }),
                              },
                              t('locations.reactivate'),
                            ),
                      )
                    : null,
                ),
              ),
            ),
          )
        : empty('common.noData', 'locations.noScreens'),
    );
  }

  async function renderTokens() {
    const tokens = (await get('/api/v1/enrollment-tokens')).tokens;
    tokenBox.replaceChildren(
      tokens.length
        ? table(
            [
              'locations.tokenName',
              'locations.location',
              'locations.createdAt',
              'locations.expires',
              'media.state',
              'locations.screen',
            ],
            tokens.map((x) =>
              h(
                'tr',
                {},
                h('td', {}, x.name || '—'),
                h('td', {}, x.locationId ? locName(x.locationId) : '—'),
                h('td', { class: 'small text-nowrap' }, fmtDateTime(x.createdAt)),
                h('td', { class: 'small text-nowrap' }, fmtDateTime(x.expiresAt)),
                h('td', {}, t(`tokenState.${x.state}`)),
                h('td', { class: 'small font-monospace' }, x.playerId || '—'),
              ),
            ),
          )
        : empty(),
    );
  }

  let refreshLocationSelects = () => {};

  function locationForm() {
    const name = input({ id: 'location-name', required: true, maxlength: 255 });
    const venue = select(
      VENUE_TYPES.map((v) => [v, t(`venue.${v}`)]),
      'garage_entrance',
      { id: 'location-venue' },
    );
    const district = input({ id: 'location-district', required: true, maxlength: 100 });
    const adminCode = input({ id: 'location-admin-code', maxlength: 32, inputmode: 'numeric' });
    const address = input({ id: 'location-address', maxlength: 255 });
    const tags = input({ id: 'location-tags', maxlength: 255 });
    const tz = input({ id: 'location-timezone', value: 'Asia/Shanghai', maxlength: 64 });
    const form = submitForm(
      {
        id: 'location-form',
        class: 'row g-2',
      },
      async () => {
        const body = {
          name: name.value.trim(),
          venueType: venue.value,
          district: district.value.trim(),
          timezone: tz.value.trim() || 'Asia/Shanghai',
        };
        if (address.value.trim()) body.address = address.value.trim();
        if (adminCode.value.trim()) body.adminCode = adminCode.value.trim();
        const tagList = tags.value
          .split(/[,，、\s]+/)
          .map((x) => x.trim())
          .filter(Boolean);
        if (tagList.length) body.tags = tagList;
        const l = await post('/api/v1/locations', body);
        notify(t('locations.created', { name: l.name }));
        form.reset();
        await reload();
      },
      col('col-md-4', 'locations.name', name),
      col('col-md-3', 'locations.venueType', venue),
      col('col-md-2', 'locations.district', district),
      col('col-md-3', 'locations.timezone', tz),
      col('col-md-2', 'locations.adminCode', adminCode, 'locations.adminCodeHint'),
      col('col-md-4', 'locations.address', address),
      col('col-md-4', 'locations.tags', tags, 'locations.tagsHint'),
      submitCol('locations.create'),
    );
    return form;
  }

  function tokenForm() {
    const name = input({ id: 'token-name', maxlength: 255 });
    const loc = h('select', { class: 'form-select', id: 'token-location' });
    refreshLocationSelects = () =>
      setOptions(loc, [['', t('locations.noLocation')], ...locations.map((l) => [l.id, l.name])]);
    const ttl = select(
      [
        [3600, t('takeover.hours', { n: 1 })],
        [86400, t('locations.days', { n: 1 })],
        [259200, t('locations.days', { n: 3 })],
        [604800, t('locations.days', { n: 7 })],
      ],
      86400,
      { id: 'token-ttl' },
    );
    const form = submitForm(
      {
        id: 'token-form',
        class: 'row g-2',
      },
      async () => {
        const body = { ttlSeconds: Number(ttl.value) };
        if (name.value.trim()) body.name = name.value.trim();
        if (loc.value) body.locationId = Number(loc.value);
        const r = await post('/api/v1/enrollment-tokens', body);
        const cmd = r.command; // pins the controller's keys; its address is http.publicUrl, not this page's
        const pre = h('pre', { class: 'ms-command', id: 'enroll-command', tabindex: '0' }, cmd);
        tokenResult.replaceChildren(
          h(
            'div',
            { class: 'alert alert-info' },
            h('p', { class: 'mb-1 fw-semibold' }, t('locations.tokenCreated')),
            h('p', { class: 'small mb-2' }, t('locations.tokenOnce', { expires: fmtDateTime(r.expiresAt) })),
            pre,
            h(
              'button',
              {
                class: 'btn btn-sm btn-outline-primary',
                type: 'button',
                onclick: async () => {
                  try {
                    await navigator.clipboard.writeText(cmd);
                    notify(t('locations.copied'));
                  } catch (_) {
                    const range = document.createRange();
                    range.selectNodeContents(pre);
                    getSelection().removeAllRanges();
                    getSelection().addRange(range);
                  }
                },
              },
              t('locations.copy'),
            ),
          ),
        );
        await reload();
      },
      col('col-md-4', 'locations.tokenName', name),
      col('col-md-4', 'locations.location', loc),
      col('col-md-2', 'locations.validFor', ttl),
      submitCol('locations.createToken'),
    );
    return form;
  }

  main.append(section('locations.screensTitle', screenBox));
  if (can.manageFleet)
    main.append(
      section(
        'locations.enrol',
        h('p', { class: 'small text-body-secondary' }, t('locations.enrolHint')),
        tokenForm(),
        tokenResult,
        h('h3', { class: 'h6 mt-3' }, t('locations.tokens')),
        tokenBox,
      ),
    );
  main.append(
    section(
      'locations.locationsTitle',
      locBox,
      can.manageFleet ? newItemPanel('locations.new', locationForm(), { id: 'location-new' }) : null,
    ),
  );
  if (can.manageFleet) main.append(section('locations.mirrorsTitle', mirrorBox));
  await reload();
});

export { errorText };
