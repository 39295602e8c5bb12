// 排期 / campaigns and schedules: campaigns with dates, schedules that put a
// playlist on a target with dayparts, the week calendar and "what plays at T".
import { boot } from '../app.js';
import { del, get, getOptional, patch, post, put } from '../api.js';
import { addDays, DEFAULT_ZONE, t, today } from '../i18n.js';
import { empty, h, newItemPanel, section, table, uid } from '../dom.js';
import { col, field, formDialog, formRow, input, select, setOptions, submitCol, submitForm } from '../forms.js';
import { dangerButton, editButton, notify, showError } from '../notices.js';
import { describeTarget, targetPicker } from '../target.js';
import { weekCalendar, whatPlays } from '../calendar.js';

// Recurring publicity days: [key, month, day, theme].
// A legal-education day's next date on or after `from` (YYYY-MM-DD); 29 February
// waits for a leap year.
export function nextOccurrence(o, from) {
  for (let year = Number(from.slice(0, 4)); year < Number(from.slice(0, 4)) + 9; year++) {
    const date = `${year}-${String(o.month).padStart(2, '0')}-${String(o.day).padStart(2, '0')}`;
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    if (o.month === 2 && o.day === 29 && !leap) continue;
    if (date >= from) return date;
  }
  return null;
}

// The campaign suggested for a legal-education day: its window around the next date.
export function suggestedCampaign(o, from) {
  const date = nextOccurrence(o, from);
  if (!date) return null;
  return {
    name: `${date.slice(0, 4)} ${o.name}`,
    theme: o.theme || '',
    startsOn: addDays(date, -o.daysBefore),
    endsOn: addDays(date, o.daysAfter),
    date,
  };
}

function daypartEditor(initialRows = null, idPrefix = 'schedule') {
  const rows = h('div', { class: 'ms-dayparts', id: `${idPrefix}-dayparts` });
  function addRow(initial = { days: [1, 2, 3, 4, 5, 6, 7], start: '08:00', end: '22:00' }) {
    const boxes = [];
    const row = h(
      'div',
      { class: 'ms-daypart border rounded p-2 mb-2' },
      h(
        'div',
        { class: 'd-flex flex-wrap gap-2 mb-1', role: 'group', 'aria-label': t('schedules.weekdays') },
        [1, 2, 3, 4, 5, 6, 7].map((d) => {
          const id = uid('wd');
          const input = h('input', {
            class: 'form-check-input',
            type: 'checkbox',
            id,
            value: String(d),
            checked: initial.days.includes(d),
          });
          boxes.push(input);
          return h(
            'div',
            { class: 'form-check form-check-inline m-0' },
            input,
            h('label', { class: 'form-check-label', for: id }, t(`weekday.${d}`)),
          );
        }),
      ),
      h(
        'div',
        { class: 'd-flex align-items-center gap-2' },
        h('input', {
          class: 'form-control form-control-sm w-auto',
          type: 'time',
          value: initial.start,
          'aria-label': t('schedules.from'),
          dataset: { part: 'start' },
        }),
        '–',
        h('input', {
          class: 'form-control form-control-sm w-auto',
          type: 'time',
          value: initial.end,
          'aria-label': t('schedules.to'),
          dataset: { part: 'end' },
        }),
        h(
          'button',
          { class: 'btn btn-sm btn-outline-danger', type: 'button', onclick: () => row.remove() },
          t('playlists.remove'),
        ),
      ),
    );
    row.value = () => ({
      days: boxes.filter((b) => b.checked).map((b) => Number(b.value)),
      start: row.querySelector('[data-part=start]').value || '00:00',
      end: row.querySelector('[data-part=end]').value || '24:00',
    });
    rows.append(row);
  }
  const el = h(
    'fieldset',
    { class: 'mb-2' },
    h('legend', { class: 'form-label fs-6 mb-1' }, t('schedules.dayparts')),
    h('p', { class: 'small text-body-secondary mb-1' }, t('schedules.daypartsHint')),
    rows,
    h(
      'button',
      {
        class: 'btn btn-sm btn-outline-secondary',
        type: 'button',
        id: idPrefix === 'schedule' ? 'add-daypart' : `${idPrefix}-add-daypart`,
        onclick: () => addRow(),
      },
      t('schedules.addDaypart'),
    ),
  );
  for (const w of initialRows || [])
    addRow({
      days: w.days && w.days.length ? w.days : [1, 2, 3, 4, 5, 6, 7],
      start: w.start,
      end: w.end === '24:00' ? '00:00' : w.end,
    });
  return {
    el,
    value: () => [...rows.children].map((r) => r.value()).map((w) => (w.end === '00:00' ? { ...w, end: '24:00' } : w)),
  };
}

function daypartText(dayparts) {
  if (!dayparts || !dayparts.length) return t('schedules.allDay');
  return dayparts
    .map((w) => {
      const days = w.days && w.days.length ? w.days : [1, 2, 3, 4, 5, 6, 7];
      const dayText = days.length === 7 ? t('schedules.everyDay') : days.map((d) => t(`weekday.${d}`)).join('');
      return `${dayText} ${w.start}–${w.end}`;
    })
    .join('；');
}

// 垫播 / filler: what plays when no schedule does - one fleet-wide playlist
// (settings/filler) and, overriding it, one per location. Changed by admins.
function fillerSection({ playlists, locations, filler, canChange }) {
  const options = [
    ['', t('schedules.fillerNone')],
    ...playlists.map((p) => [p.id, `${p.name}${p.allApproved ? '' : ` (${t('playlists.notAllApproved')})`}`]),
  ];
  const plName = (id) => playlists.find((p) => p.id === id)?.name || (id ? `#${id}` : t('schedules.fillerNone'));
  const status = h('span', { class: 'small', role: 'status', 'aria-live': 'polite' });
  const saveOn = (control, url, bodyOf, okKey) =>
    control.addEventListener('change', async () => {
      control.disabled = true;
      try {
        await (url.startsWith('/api/v1/settings') ? put : patch)(
          url,
          bodyOf(control.value ? Number(control.value) : null),
        );
        status.textContent = t(okKey, { name: plName(control.value ? Number(control.value) : null) });
        notify(status.textContent);
      } catch (e) {
        showError(e);
      } finally {
        control.disabled = false;
      }
    });
  let global;
  if (canChange) {
    global = select(options, filler ?? '', { id: 'filler-global' });
    saveOn(global, '/api/v1/settings/filler', (id) => ({ playlistId: id }), 'schedules.fillerSaved');
  } else {
    global = h('div', { id: 'filler-global', class: 'form-control-plaintext fw-semibold' }, plName(filler));
  }
  const rows = locations.map((l) => {
    let cell;
    if (canChange) {
      cell = select([['', t('schedules.fillerInherit')], ...options.slice(1)], l.fillerPlaylistId ?? '', {
        class: 'form-select form-select-sm',
        'aria-label': t('schedules.fillerFor', { name: l.name }),
        dataset: { locationId: l.id },
      });
      saveOn(cell, `/api/v1/locations/${l.id}`, (id) => ({ fillerPlaylistId: id }), 'schedules.fillerSavedLocation');
    } else {
      cell = l.fillerPlaylistId ? plName(l.fillerPlaylistId) : t('schedules.fillerInherit');
    }
    return h(
      'tr',
      { dataset: { locationId: l.id } },
      h('td', {}, l.name),
      h('td', {}, t(`venue.${l.venueType}`)),
      h('td', {}, cell),
    );
  });
  return h(
    'div',
    { id: 'filler' },
    h('p', { class: 'small text-body-secondary' }, t('schedules.fillerHint')),
    h(
      'div',
      { class: 'row g-2 align-items-end mb-2' },
      h(
        'div',
        { class: 'col-md-6' },
        canChange
          ? field('schedules.fillerGlobal', global)
          : h('div', {}, h('div', { class: 'form-label' }, t('schedules.fillerGlobal')), global),
      ),
      h('div', { class: 'col-md-6' }, status),
    ),
    rows.length
      ? table(['locations.name', 'locations.venueType', 'schedules.fillerLocation'], rows, { id: 'filler-locations' })
      : null,
  );
}

boot('schedules', async ({ main, can, user }) => {
  const [locations, players, playlists, campaignsR, schedulesR, takeoversR, tags, observancesR] = await Promise.all([
    get('/api/v1/locations').then((r) => r.locations),
    get('/api/v1/players').then((r) => r.players),
    get('/api/v1/playlists').then((r) => r.playlists),
    get('/api/v1/campaigns'),
    get('/api/v1/schedules'),
    get('/api/v1/takeovers'),
    get('/api/v1/tags').then((r) => r.tags.map((x) => x.name)),
    getOptional('/api/v1/observances'),
  ]);
  let observances = observancesR?.observances ?? [];
  // A theme: one of the tags, or none.
  const themeSelect = (id, value) => select([['', '—'], ...tags.map((x) => [x, x])], value, { id });
  const filler = (await getOptional('/api/v1/settings/filler'))?.playlistId ?? null;
  let campaigns = campaignsR.campaigns;
  let schedules = schedulesR.schedules;
  const names = {
    playlists: Object.fromEntries(playlists.map((p) => [p.id, p.name])),
    schedules: Object.fromEntries(schedules.map((s) => [s.id, s.name])),
    takeovers: Object.fromEntries(takeoversR.takeovers.map((x) => [x.id, x.name])),
  };
  const campaignBox = h('div', { id: 'campaign-list' });
  const scheduleBox = h('div', { id: 'schedule-list' });

  // A schedule's fields, as the create form and the edit dialog lay them out.
  function scheduleRows({ name, playlist, campaign, priority, starts, ends, dayparts, target }) {
    return [
      formRow(
        col('col-md-6', 'schedules.name', name),
        col('col-md-6', 'schedules.playlist', playlist),
        col('col-md-6', 'schedules.campaign', campaign),
        col('col-md-2', 'schedules.priority', priority),
        col('col-md-2', 'schedules.startsOn', starts),
        col('col-md-2', 'schedules.endsOn', ends),
      ),
      formRow(h('div', { class: 'col-lg-5' }, dayparts.el), h('div', { class: 'col-lg-7' }, target.el)),
    ];
  }

  // A row's edit and delete buttons (planners only): delete asks first, then
  // DELETEs path and reloads both lists.
  function rowActions(name, onEdit, confirmTitleKey, confirmTextKey, path, deletedKey) {
    if (!can.plan) return null;
    return h(
      'div',
      { class: 'd-flex gap-1' },
      editButton(t('schedules.editNamed', { name }), onEdit),
      dangerButton(
        {
          labelKey: 'common.delete',
          titleKey: confirmTitleKey,
          message: t(confirmTextKey, { name }),
          attrs: { dataset: { action: 'delete' }, 'aria-label': t('schedules.deleteNamed', { name }) },
        },
        async () => {
          await del(path);
          notify(t(deletedKey, { name }));
          await reloadAll();
        },
      ),
    );
  }

  function renderCampaigns() {
    campaignBox.replaceChildren(
      campaigns.length
        ? table(
            ['schedules.campaignName', 'schedules.theme', 'schedules.dates', 'media.department', 'common.actions'],
            campaigns.map((c) =>
              h(
                'tr',
                { dataset: { campaignId: c.id } },
                h('td', { class: 'fw-semibold' }, c.name),
                h('td', {}, c.theme || '—'),
                h('td', { class: 'text-nowrap' }, `${c.startsOn} – ${c.endsOn}`),
                h('td', {}, c.department || '—'),
                h(
                  'td',
                  {},
                  rowActions(
                    c.name,
                    () => editCampaign(c),
                    'schedules.deleteCampaign',
                    'schedules.deleteCampaignConfirm',
                    `/api/v1/campaigns/${c.id}`,
                    'schedules.campaignDeleted',
                  ),
                ),
              ),
            ),
          )
        : empty('common.noData', 'schedules.noCampaigns'),
    );
  }

  function renderSchedules() {
    const campById = Object.fromEntries(campaigns.map((c) => [c.id, c.name]));
    scheduleBox.replaceChildren(
      schedules.length
        ? table(
            [
              'schedules.name',
              'schedules.playlist',
              'schedules.campaign',
              'schedules.priority',
              'schedules.dates',
              'schedules.dayparts',
              'target.title',
              'common.actions',
            ],
            schedules.map((s) =>
              h(
                'tr',
                { dataset: { scheduleId: s.id } },
                h('td', { class: 'fw-semibold' }, s.name),
                h('td', {}, names.playlists[s.playlistId] || `#${s.playlistId}`),
                h('td', {}, s.campaignId ? campById[s.campaignId] || `#${s.campaignId}` : '—'),
                h('td', {}, String(s.priority)),
                h('td', { class: 'text-nowrap' }, `${s.startsOn} – ${s.endsOn}`),
                h('td', { class: 'small' }, daypartText(s.dayparts)),
                h('td', { class: 'small' }, describeTarget(s.target, players)),
                h(
                  'td',
                  {},
                  rowActions(
                    s.name,
                    () => editSchedule(s),
                    'schedules.deleteSchedule',
                    'schedules.deleteScheduleConfirm',
                    `/api/v1/schedules/${s.id}`,
                    'schedules.deleted',
                  ),
                ),
              ),
            ),
          )
        : empty('common.noData', 'schedules.noSchedules'),
    );
  }

  // Editing: the same fields as creating, in a dialog, saved with PATCH.
  async function editSchedule(s) {
    const name = input({ id: 'edit-schedule-name', required: true, maxlength: 255, value: s.name });
    const playlist = select(
      playlists.map((p) => [p.id, `${p.name}${p.allApproved ? '' : ` (${t('playlists.notAllApproved')})`}`]),
      s.playlistId,
      { id: 'edit-schedule-playlist', required: true },
    );
    const campaign = select(
      [['', t('schedules.noCampaign')], ...campaigns.map((c) => [c.id, `${c.name} (${c.startsOn} – ${c.endsOn})`])],
      s.campaignId ?? '',
      { id: 'edit-schedule-campaign' },
    );
    const priority = input({
      type: 'number',
      min: '0',
      max: '1000',
      value: String(s.priority),
      id: 'edit-schedule-priority',
    });
    const starts = input({ type: 'date', id: 'edit-schedule-starts', required: true, value: s.startsOn });
    const ends = input({ type: 'date', id: 'edit-schedule-ends', required: true, value: s.endsOn });
    const dayparts = daypartEditor(s.dayparts, 'edit-schedule');
    const target = targetPicker(players, locations, s.target || {});
    const ok = await formDialog(
      'schedules.editSchedule',
      h(
        'div',
        { id: 'schedule-edit' },
        ...scheduleRows({ name, playlist, campaign, priority, starts, ends, dayparts, target }),
      ),
      async () => {
        const tv = target.chosen();
        if (!tv) return false;
        await patch(`/api/v1/schedules/${s.id}`, {
          name: name.value.trim(),
          playlistId: Number(playlist.value),
          priority: Number(priority.value) || 0,
          campaignId: campaign.value ? Number(campaign.value) : null,
          startsOn: starts.value,
          endsOn: ends.value,
          dayparts: dayparts.value(),
          target: tv,
        });
        return true;
      },
      { id: 'schedule-edit-dialog', wide: true },
    );
    if (!ok) return;
    notify(t('schedules.updated', { name: name.value.trim() }));
    await reloadAll();
  }

  async function editCampaign(c) {
    const name = input({ id: 'edit-campaign-name', required: true, maxlength: 255, value: c.name });
    const theme = themeSelect('edit-campaign-theme', c.theme || '');
    const starts = input({ type: 'date', id: 'edit-campaign-starts', required: true, value: c.startsOn });
    const ends = input({ type: 'date', id: 'edit-campaign-ends', required: true, value: c.endsOn });
    const ok = await formDialog(
      'schedules.editCampaign',
      formRow(
        col('col-12', 'schedules.campaignName', name),
        col('col-md-4', 'schedules.theme', theme),
        col('col-md-4', 'schedules.startsOn', starts),
        col('col-md-4', 'schedules.endsOn', ends),
      ),
      async () => {
        await patch(`/api/v1/campaigns/${c.id}`, {
          name: name.value.trim(),
          theme: theme.value || null,
          startsOn: starts.value,
          endsOn: ends.value,
        });
        return true;
      },
      { id: 'campaign-edit-dialog' },
    );
    if (!ok) return;
    notify(t('schedules.campaignUpdated', { name: name.value.trim() }));
    await reloadAll();
  }

  async function reloadAll() {
    [campaigns, schedules] = await Promise.all([
      get('/api/v1/campaigns').then((r) => r.campaigns),
      get('/api/v1/schedules').then((r) => r.schedules),
    ]);
    for (const s of schedules) names.schedules[s.id] = s.name;
    renderCampaigns();
    renderSchedules();
    refreshCampaignSelect();
    calendar.render();
  }

  // --- campaign form ---
  let refreshCampaignSelect = () => {};
  let refreshPresets = () => {};

  // --- legal-education days: the coming ones as suggestions; admins keep the list ---
  const observanceBox = h('div', { id: 'observances' });
  function renderObservances() {
    const now = today();
    const coming = observances
      .map((o) => ({ o, c: suggestedCampaign(o, now) }))
      .filter(({ c }) => c && c.date <= addDays(now, 60))
      .sort((a, b) => (a.c.date < b.c.date ? -1 : 1));
    const suggestions = h(
      'ul',
      { class: 'list-unstyled mb-2', id: 'observances-coming' },
      coming.length
        ? coming.map(({ o, c }) =>
            h(
              'li',
              { class: 'mb-1', dataset: { observance: o.name } },
              h('span', { class: 'me-2' }, t('schedules.observanceComing', { name: o.name, date: c.date })),
              can.plan
                ? h(
                    'button',
                    {
                      class: 'btn btn-sm btn-outline-primary',
                      type: 'button',
                      onclick: () => {
                        const form = document.getElementById('campaign-form');
                        document.getElementById('campaign-new')?.setAttribute('open', '');
                        const sel = document.getElementById('campaign-preset');
                        sel.value = String(o.id);
                        sel.dispatchEvent(new Event('change'));
                        form?.scrollIntoView({ block: 'center' });
                      },
                    },
                    t('schedules.observancePlan'),
                  )
                : null,
            ),
          )
        : h('li', { class: 'text-muted' }, t('schedules.observanceNone')),
    );
    const rows = observances.map((o) =>
      h(
        'tr',
        { dataset: { observanceId: o.id } },
        h('td', {}, o.name),
        h('td', {}, `${o.month}月${o.day}日`),
        h('td', {}, o.theme || '—'),
        h('td', {}, t('schedules.observanceWindow', { before: o.daysBefore, after: o.daysAfter })),
        user.role === 'admin'
          ? h(
              'td',
              {},
              dangerButton(
                {
                  labelKey: 'common.delete',
                  titleKey: 'schedules.observanceDeleteTitle',
                  message: t('schedules.observanceDeleteText', { name: o.name }),
                  attrs: { dataset: { action: 'delete' } },
                },
                async () => {
                  await del(`/api/v1/observances/${o.id}`);
                  await reloadObservances();
                },
              ),
            )
          : null,
      ),
    );
    observanceBox.replaceChildren(
      suggestions,
      h(
        'details',
        { id: 'observances-all' },
        h('summary', {}, t('schedules.observanceAll', { n: observances.length })),
        table(
          [
            'schedules.observanceName',
            'schedules.observanceDate',
            'schedules.theme',
            'schedules.observanceWindowHead',
            ...(user.role === 'admin' ? ['common.actions'] : []),
          ],
          rows,
          { id: 'observance-table' },
        ),
        user.role === 'admin' ? observanceForm() : null,
      ),
    );
    refreshPresets();
  }
  async function reloadObservances() {
    observances = (await get('/api/v1/observances')).observances;
    renderObservances();
  }
  function observanceForm() {
    const name = input({ id: 'observance-name', required: true, maxlength: 100 });
    const month = input({ type: 'number', id: 'observance-month', required: true, min: '1', max: '12' });
    const day = input({ type: 'number', id: 'observance-day', required: true, min: '1', max: '31' });
    const theme = themeSelect('observance-theme', '');
    const before = input({ type: 'number', id: 'observance-before', min: '0', max: '60', value: '3' });
    const after = input({ type: 'number', id: 'observance-after', min: '0', max: '60', value: '3' });
    return submitForm(
      { class: 'row g-2 mt-2', id: 'observance-form' },
      async () => {
        const o = await post('/api/v1/observances', {
          name: name.value.trim(),
          month: Number(month.value),
          day: Number(day.value),
          theme: theme.value || null,
          daysBefore: Number(before.value) || 0,
          daysAfter: Number(after.value) || 0,
        });
        notify(t('schedules.observanceAdded', { name: o.name }));
        name.value = '';
        await reloadObservances();
      },
      col('col-md-4', 'schedules.observanceName', name),
      col('col-md-1', 'schedules.observanceMonth', month),
      col('col-md-1', 'schedules.observanceDay', day),
      col('col-md-2', 'schedules.theme', theme),
      col('col-md-1', 'schedules.observanceBefore', before),
      col('col-md-1', 'schedules.observanceAfter', after),
      submitCol('schedules.observanceAdd'),
    );
  }
  function campaignForm() {
    const name = input({ id: 'campaign-name', required: true, maxlength: 255 });
    const theme = themeSelect('campaign-theme', '');
    const starts = input({ type: 'date', id: 'campaign-starts', required: true, value: today() });
    const ends = input({ type: 'date', id: 'campaign-ends', required: true, value: addDays(today(), 6) });
    const preset = select([['', t('schedules.presetPick')]], '', {
      id: 'campaign-preset',
      onchange: (e) => {
        const o = observances.find((x) => String(x.id) === e.target.value);
        const c = o && suggestedCampaign(o, today());
        if (!c) return;
        name.value = c.name;
        theme.value = c.theme;
        starts.value = c.startsOn;
        ends.value = c.endsOn;
      },
    });
    refreshPresets = () =>
      setOptions(preset, [
        ['', t('schedules.presetPick')],
        ...observances.map((o) => [o.id, `${o.name}（${o.month}月${o.day}日）`]),
      ]);
    refreshPresets();
    const form = submitForm(
      {
        class: 'row g-2',
        id: 'campaign-form',
      },
      async () => {
        const c = await post('/api/v1/campaigns', {
          name: name.value.trim(),
          theme: theme.value || undefined,
          startsOn: starts.value,
          endsOn: ends.value,
        });
        notify(t('schedules.campaignCreated', { name: c.name }));
        name.value = '';
        await reloadAll();
      },
      col('col-md-4', 'schedules.preset', preset),
      col('col-md-8', 'schedules.campaignName', name),
      col('col-md-4', 'schedules.theme', theme),
      col('col-md-3', 'schedules.startsOn', starts),
      col('col-md-3', 'schedules.endsOn', ends),
      submitCol('schedules.createCampaign'),
    );
    return form;
  }

  // --- schedule form ---
  function scheduleForm() {
    const name = input({ id: 'schedule-name', required: true, maxlength: 255 });
    const playlist = select(
      [
        ['', t('schedules.pickPlaylist')],
        ...playlists.map((p) => [p.id, `${p.name}${p.allApproved ? '' : ` (${t('playlists.notAllApproved')})`}`]),
      ],
      '',
      { id: 'schedule-playlist', required: true },
    );
    const campaign = h('select', { class: 'form-select', id: 'schedule-campaign' });
    refreshCampaignSelect = () =>
      setOptions(campaign, [
        ['', t('schedules.noCampaign')],
        ...campaigns.map((c) => [c.id, `${c.name} (${c.startsOn} – ${c.endsOn})`]),
      ]);
    refreshCampaignSelect();
    const starts = input({ type: 'date', id: 'schedule-starts', required: true, value: today() });
    const ends = input({ type: 'date', id: 'schedule-ends', required: true, value: addDays(today(), 6) });
    campaign.addEventListener('change', () => {
      const c = campaigns.find((x) => String(x.id) === campaign.value);
      if (c) {
        starts.value = c.startsOn;
        ends.value = c.endsOn;
        if (!name.value) name.value = c.name;
      }
    });
    const priority = input({ type: 'number', min: '0', max: '1000', value: '0', id: 'schedule-priority' });
    const dayparts = daypartEditor();
    const target = targetPicker(players, locations);
    const form = submitForm(
      {
        id: 'schedule-form',
      },
      async () => {
        const tv = target.chosen();
        if (!tv) return;

        const body = {
          name: name.value.trim(),
          playlistId: Number(playlist.value),
          priority: Number(priority.value) || 0,
          startsOn: starts.value,
          endsOn: ends.value,
          dayparts: dayparts.value(),
          target: tv,
        };
        if (campaign.value) body.campaignId = Number(campaign.value);
        const s = await post('/api/v1/schedules', body);
        notify(t('schedules.created', { name: s.name }));
        name.value = '';
        await reloadAll();
      },
      ...scheduleRows({ name, playlist, campaign, priority, starts, ends, dayparts, target }),
      h('button', { class: 'btn btn-primary', type: 'submit', id: 'schedule-submit' }, t('schedules.create')),
    );
    return form;
  }

  const calendar = weekCalendar({ locations, players, names });
  const at = whatPlays({ locations, players, names });
  main.append(
    section('schedules.calendar', calendar.el),
    section('schedules.whatPlays', at.el),
    section(
      'schedules.schedules',
      scheduleBox,
      can.plan ? newItemPanel('schedules.new', scheduleForm(), { id: 'schedule-new', open: true }) : null,
    ),
    section('schedules.observances', observanceBox),
    section(
      'schedules.campaigns',
      campaignBox,
      can.plan ? newItemPanel('schedules.newCampaign', campaignForm(), { id: 'campaign-new' }) : null,
    ),
    section('schedules.filler', fillerSection({ playlists, locations, filler, canChange: user.role === 'admin' })),
  );
  renderCampaigns();
  renderSchedules();
  renderObservances();
  if (!locations.length && !players.length) return;
  await calendar.render();
});

export { DEFAULT_ZONE, showError };
