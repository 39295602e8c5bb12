// The week calendar and "what plays at T", both computed by the controller's own
// evaluator (/api/v1/preview/timeline and /api/v1/preview).
import { get } from './api.js';
import { serverNow } from './clock.js';
import { addDays, DEFAULT_ZONE, fmtDateTime, fmtTime, t, zonedIso, zonedParts, zonedToMs } from './i18n.js';
import { empty, h, uid } from './dom.js';
import { field, select } from './forms.js';
import { showError } from './notices.js';

const DAY_MS = 86400000;
const HOUR_PX = 22;

// Subjects: locations and screens, as [value, label] with value "l:ID" / "p:ID".
export function subjectOptions(locations, players) {
  return [
    ...locations.map((l) => [`l:${l.id}`, `${t('calendar.location')}：${l.name}`]),
    ...players
      .filter((p) => p.state !== 'retired')
      .map((p) => [`p:${p.id}`, `${t('calendar.screen')}：${p.name || p.id}`]),
  ];
}

export function subjectQuery(value) {
  const [kind, id] = [value.slice(0, 1), value.slice(2)];
  return kind === 'l' ? `locationId=${encodeURIComponent(id)}` : `playerId=${encodeURIComponent(id)}`;
}

export function subjectZone(value, locations, players) {
  const kind = value.slice(0, 1);
  const id = value.slice(2);
  const loc =
    kind === 'l'
      ? locations.find((l) => String(l.id) === id)
      : locations.find((l) => l.id === players.find((p) => p.id === id)?.locationId);
  return (loc && loc.timezone) || DEFAULT_ZONE;
}

// Consecutive segments of the same source and playlist become one block.
function mergeRuns(segments) {
  const runs = [];
  for (const s of segments) {
    const key = `${s.state}|${s.source}|${s.sourceId ?? ''}|${s.playlistId ?? ''}`;
    const last = runs[runs.length - 1];
    if (last && last.key === key && last.end === s.start) {
      last.end = s.end;
      last.items += 1;
    } else {
      runs.push({
        key,
        state: s.state,
        source: s.source,
        sourceId: s.sourceId,
        playlistId: s.playlistId,
        campaignId: s.campaignId,
        start: s.start,
        end: s.end,
        items: 1,
      });
    }
  }
  return runs;
}

function hue(n) {
  return (Number(n) * 67) % 360;
}

export function runLabel(run, names) {
  if (run.state === 'dark') return t('calendar.dark');
  if (run.state === 'idle' || run.source === 'none') return t('calendar.idle');
  const pl = names.playlists[run.playlistId] || (run.playlistId ? `#${run.playlistId}` : '');
  if (run.source === 'takeover') return `${t('calendar.takeover')}：${names.takeovers[run.sourceId] || pl}`;
  if (run.source === 'filler') return `${t('calendar.filler')}：${pl}`;
  const sch = names.schedules[run.sourceId];
  return sch ? `${pl}（${sch}）` : pl;
}

// A week calendar widget. names: {playlists:{id:name}, schedules:{id:name}, takeovers:{id:name}}.
export function weekCalendar({ locations, players, names, initialSubject }) {
  const options = subjectOptions(locations, players);
  const subject = select(options, initialSubject || (options[0] && options[0][0]), { id: 'calendar-subject' });
  const week = h('input', { class: 'form-control', type: 'date', id: 'calendar-week' });
  const grid = h('div', { class: 'ms-calendar-wrap', id: 'calendar', 'aria-live': 'polite' });
  const status = h('div', { class: 'small text-body-secondary', id: 'calendar-status' });

  function monday(date) {
    const [y, m, d] = date.split('-').map(Number);
    const wd = new Date(Date.UTC(y, m - 1, d)).getUTCDay() || 7;
    return addDays(date, 1 - wd);
  }

  async function render() {
    if (!subject.value) {
      grid.replaceChildren(empty('common.noData', 'calendar.noSubjects'));
      return;
    }
    const zone = subjectZone(subject.value, locations, players);
    if (!week.value) week.value = monday(zonedParts(serverNow(), zone).date);
    const first = monday(week.value);
    week.value = first;
    const days = [...Array(7).keys()].map((i) => addDays(first, i));
    status.textContent = t('calendar.loading');
    let results;
    try {
      // One request per local day keeps each answer small (a 10 s loop is 8,640 plays a day).
      results = await Promise.all(
        days.map((d) =>
          get(
            `/api/v1/preview/timeline?${subjectQuery(subject.value)}&from=${encodeURIComponent(zonedIso(d, '00:00', zone))}&to=${encodeURIComponent(zonedIso(addDays(d, 1), '00:00', zone))}`,
          ),
        ),
      );
    } catch (e) {
      showError(e);
      status.textContent = '';
      grid.replaceChildren(empty('common.loadFailed'));
      return;
    }
    const tz = results[0]?.timezone || zone;
    status.textContent =
      t('calendar.zone', { zone: tz }) + (results.some((r) => r.truncated) ? ` ${t('calendar.truncated')}` : '');
    const hours = h(
      'div',
      { class: 'ms-cal-hours', 'aria-hidden': 'true' },
      h('div', { class: 'ms-cal-head' }),
      [...Array(24).keys()].map((hr) =>
        h('div', { class: 'ms-cal-hour', style: `height:${HOUR_PX}px` }, `${String(hr).padStart(2, '0')}:00`),
      ),
    );
    const listing = h('ul', { class: 'small mb-0' });
    const cols = days.map((d, i) => {
      const dayStart = zonedToMs(d, '00:00', tz);
      const dayLen = zonedToMs(addDays(d, 1), '00:00', tz) - dayStart || DAY_MS;
      const runs = mergeRuns(results[i].segments || []);
      const body = h(
        'div',
        { class: 'ms-cal-body', style: `height:${24 * HOUR_PX}px` },
        runs
          .filter((r) => r.state === 'playing' || r.state === 'dark')
          .map((r) => {
            const top = ((new Date(r.start).getTime() - dayStart) / dayLen) * 100;
            const height = ((new Date(r.end).getTime() - new Date(r.start).getTime()) / dayLen) * 100;
            const label = runLabel(r, names);
            const range = `${fmtTime(r.start, tz)}–${fmtTime(r.end, tz) === '00:00' ? '24:00' : fmtTime(r.end, tz)}`;
            const block = h(
              'div',
              {
                class: `ms-cal-block ms-cal-${r.state === 'dark' ? 'dark' : r.source}`,
                title: `${label}  ${range}`,
                dataset: { playlistId: r.playlistId ?? '', source: r.source },
                style: `top:${top}%;height:max(${height}%, 3px)`,
              },
              height > 4
                ? h('span', { class: 'ms-cal-label' }, label, h('br'), h('span', { class: 'ms-cal-range' }, range))
                : null,
            );
            if (r.source === 'entry' && r.playlistId != null) block.style.setProperty('--ms-hue', hue(r.playlistId));
            return block;
          }),
      );
      for (const r of runs)
        if (r.state === 'playing')
          listing.append(
            h(
              'li',
              {},
              `${d} ${fmtTime(r.start, tz)}–${fmtTime(r.end, tz) === '00:00' ? '24:00' : fmtTime(r.end, tz)} ${runLabel(r, names)}`,
            ),
          );
      const wd = zonedParts(dayStart + 12 * 3600000, tz).weekday;
      return h(
        'div',
        { class: 'ms-cal-col', dataset: { date: d } },
        h(
          'div',
          { class: 'ms-cal-head' },
          h('div', { class: 'fw-semibold' }, t(`weekday.${wd}`)),
          h('div', { class: 'small' }, d.slice(5)),
        ),
        body,
      );
    });
    grid.replaceChildren(
      h('div', { class: 'ms-calendar' }, hours, cols),
      h(
        'details',
        { class: 'mt-2' },
        h('summary', {}, t('calendar.asText')),
        listing.childNodes.length ? listing : h('p', { class: 'small' }, t('calendar.nothing')),
      ),
    );
  }

  const shift = (n) => {
    week.value = addDays(monday(week.value), 7 * n);
    render();
  };
  subject.addEventListener('change', render);
  week.addEventListener('change', render);
  const el = h(
    'div',
    {},
    h(
      'div',
      { class: 'row g-2 align-items-end mb-2' },
      h('div', { class: 'col-md-5' }, field('calendar.subject', subject)),
      h('div', { class: 'col-md-3' }, field('calendar.week', week)),
      h(
        'div',
        { class: 'col-md-4 d-flex gap-1 mb-2' },
        h(
          'button',
          { class: 'btn btn-outline-secondary', type: 'button', onclick: () => shift(-1) },
          t('calendar.prevWeek'),
        ),
        h(
          'button',
          {
            class: 'btn btn-outline-secondary',
            type: 'button',
            onclick: () => {
              week.value = '';
              render();
            },
          },
          t('calendar.thisWeek'),
        ),
        h(
          'button',
          { class: 'btn btn-outline-secondary', type: 'button', onclick: () => shift(1) },
          t('calendar.nextWeek'),
        ),
      ),
    ),
    status,
    grid,
  );
  return {
    el,
    render,
    setSubject: (v) => {
      subject.value = v;
    },
  };
}

// "What plays where at time T".
export function whatPlays({ locations, players, names }) {
  const options = subjectOptions(locations, players);
  const subject = select(options, options[0] && options[0][0], { id: 'at-subject' });
  const date = h('input', { class: 'form-control', type: 'date', id: 'at-date' });
  const time = h('input', { class: 'form-control', type: 'time', id: 'at-time' });
  const out = h('div', { id: 'at-result', 'aria-live': 'polite' });
  async function run(ev) {
    if (ev) ev.preventDefault();
    if (!subject.value) return;
    const zone = subjectZone(subject.value, locations, players);
    const now = zonedParts(serverNow(), zone);
    if (!date.value) date.value = now.date;
    if (!time.value) time.value = now.time;
    try {
      const r = await get(
        `/api/v1/preview?${subjectQuery(subject.value)}&at=${encodeURIComponent(zonedIso(date.value, time.value, zone))}`,
      );
      const tz = r.timezone || zone;
      const label = runLabel({ ...r, sourceId: r.sourceId }, names);
      out.replaceChildren(
        h(
          'dl',
          { class: 'row mb-0 small ms-at' },
          h('dt', { class: 'col-sm-3' }, t('calendar.state')),
          h('dd', { class: 'col-sm-9', dataset: { state: r.state } }, t(`playState.${r.state}`)),
          h('dt', { class: 'col-sm-3' }, t('calendar.source')),
          h('dd', { class: 'col-sm-9' }, label),
          r.mediaName
            ? [
                h('dt', { class: 'col-sm-3' }, t('calendar.media')),
                h('dd', { class: 'col-sm-9 ms-at-media' }, r.mediaName),
              ]
            : null,
          r.itemStart
            ? [
                h('dt', { class: 'col-sm-3' }, t('calendar.itemSlot')),
                h('dd', { class: 'col-sm-9' }, `${fmtDateTime(r.itemStart, tz)} – ${fmtTime(r.itemEnd, tz)}`),
              ]
            : null,
          h('dt', { class: 'col-sm-3' }, t('calendar.nextChange')),
          h('dd', { class: 'col-sm-9' }, fmtDateTime(r.nextChange, tz)),
          h('dt', { class: 'col-sm-3' }, t('calendar.zoneLabel')),
          h('dd', { class: 'col-sm-9' }, tz),
        ),
      );
    } catch (e) {
      showError(e);
    }
  }
  const el = h(
    'form',
    { onsubmit: run, class: 'row g-2 align-items-end' },
    h('div', { class: 'col-md-5' }, field('calendar.subject', subject)),
    h('div', { class: 'col-md-3' }, field('calendar.date', date)),
    h('div', { class: 'col-md-2' }, field('calendar.time', time)),
    h(
      'div',
      { class: 'col-md-2 mb-2' },
      h('button', { class: 'btn btn-primary w-100', type: 'submit', id: 'at-run' }, t('calendar.check')),
    ),
    h('div', { class: 'col-12' }, out),
  );
  return { el, run };
}

export { uid };
