// The target picker (venue types, districts, location tags, screens) shared by
// schedules and takeovers, and the human-readable summary of a target.
import { t } from './i18n.js';
import { h, uid } from './dom.js';
import { notify } from './notices.js';

export const VENUE_TYPES = [
  'mall',
  'garage_entrance',
  'building_entrance',
  'street_gate',
  'community',
  'campus',
  'other',
];

function uniqueSorted(values) {
  return [...new Set(values.filter(Boolean))].sort((a, b) => a.localeCompare(b, 'zh-CN'));
}

// Which players a target reaches (same rule as the controller: all, or listed by
// id, or the location matches every location criterion given).
export function matchPlayers(target, players, locations) {
  const locById = Object.fromEntries(locations.map((l) => [l.id, l]));
  const crit = (target.venueTypes?.length || 0) + (target.districts?.length || 0) + (target.locationTags?.length || 0);
  return players.filter((p) => {
    if (p.state === 'retired') return false;
    if (target.all) return true;
    if (target.playerIds?.includes(p.id)) return true;
    if (!crit) return false;
    const l = locById[p.locationId];
    if (!l) return false;
    if (target.venueTypes?.length && !target.venueTypes.includes(l.venueType)) return false;
    if (target.districts?.length && !target.districts.includes(l.district)) return false;
    if (target.locationTags?.length && !target.locationTags.some((x) => (l.tags || []).includes(x))) return false;
    return true;
  });
}

export function describeTarget(target, players = [], locations = []) {
  if (!target) return '—';
  if (target.all) return t('target.allScreens');
  const parts = [];
  // An alert's takeover names the locations its areas matched.
  if (target.locationIds?.length)
    parts.push(target.locationIds.map((id) => locations.find((l) => l.id === id)?.name || `#${id}`).join('、'));
  if (target.venueTypes?.length) parts.push(target.venueTypes.map((v) => t(`venue.${v}`)).join('、'));
  if (target.districts?.length) parts.push(target.districts.join('、'));
  if (target.locationTags?.length) parts.push(target.locationTags.map((x) => `#${x}`).join(' '));
  let s = parts.join(' × ');
  if (target.playerIds?.length) {
    const names = target.playerIds.map((id) => players.find((p) => p.id === id)?.name || id);
    s = s ? `${s}；${t('target.plusScreens', { names: names.join('、') })}` : names.join('、');
  }
  return s || '—';
}

function checkGroup(legendKey, name, options, selected = []) {
  const inputs = [];
  const el = h(
    'fieldset',
    { class: 'ms-check-group mb-2', dataset: { group: name } },
    h('legend', { class: 'form-label fs-6 mb-1' }, t(legendKey)),
    options.length
      ? h(
          'div',
          { class: 'd-flex flex-wrap gap-3' },
          options.map(([value, label]) => {
            const id = uid(name);
            const input = h('input', {
              class: 'form-check-input',
              type: 'checkbox',
              id,
              value,
              checked: selected.includes(value),
              dataset: { value },
            });
            inputs.push(input);
            return h('div', { class: 'form-check' }, input, h('label', { class: 'form-check-label', for: id }, label));
          }),
        )
      : h('div', { class: 'small text-body-secondary' }, t('common.noneYet')),
  );
  return { el, value: () => inputs.filter((i) => i.checked).map((i) => i.value) };
}

// A target editor. Returns {el, value()} where value() is the API's target object
// or null when nothing is chosen.
export function targetPicker(players, locations, initial = {}) {
  const allId = uid('all');
  const all = h('input', {
    class: 'form-check-input',
    type: 'checkbox',
    id: allId,
    checked: !!initial.all,
    dataset: { target: 'all' },
  });
  const venues = checkGroup(
    'target.venueTypes',
    'venue',
    VENUE_TYPES.map((v) => [v, t(`venue.${v}`)]),
    initial.venueTypes,
  );
  const districts = checkGroup(
    'target.districts',
    'district',
    uniqueSorted(locations.map((l) => l.district)).map((d) => [d, d]),
    initial.districts,
  );
  const tags = checkGroup(
    'target.locationTags',
    'ltag',
    uniqueSorted(locations.flatMap((l) => l.tags || [])).map((x) => [x, x]),
    initial.locationTags,
  );
  const screens = checkGroup(
    'target.screens',
    'screen',
    players.filter((p) => p.state !== 'retired').map((p) => [p.id, p.name || p.id]),
    initial.playerIds,
  );
  const reach = h('div', { class: 'small ms-target-reach', 'aria-live': 'polite' });
  const criteria = h('div', { class: 'ms-target-criteria' }, venues.el, districts.el, tags.el, screens.el);

  function value() {
    if (all.checked) return { all: true };
    const v = {};
    if (venues.value().length) v.venueTypes = venues.value();
    if (districts.value().length) v.districts = districts.value();
    if (tags.value().length) v.locationTags = tags.value();
    if (screens.value().length) v.playerIds = screens.value();
    return Object.keys(v).length ? v : null;
  }
  function update() {
    criteria.hidden = all.checked;
    const v = value();
    reach.textContent = v ? t('target.reach', { count: matchPlayers(v, players, locations).length }) : t('target.none');
  }
  const el = h(
    'fieldset',
    { class: 'ms-target border rounded p-2 mb-2', onchange: update },
    h('legend', { class: 'float-none w-auto px-1 fs-6 mb-0' }, t('target.title')),
    h('p', { class: 'small text-body-secondary mb-2' }, t('target.hint')),
    h(
      'div',
      { class: 'form-check mb-2' },
      all,
      h('label', { class: 'form-check-label', for: allId }, t('target.allScreens')),
    ),
    criteria,
    reach,
  );
  update();
  // The target, or null after telling the user that none is chosen.
  function chosen() {
    const v = value();
    if (!v) notify(t('target.none'), 'warning');
    return v;
  }
  return { el, value, chosen };
}
