// 操作日志 / audit log: every change, newest first, with before/after snapshots.
import { boot } from '../app.js';
import { get } from '../api.js';
import { fmtDateTime, t } from '../i18n.js';
import { empty, h, section, table } from '../dom.js';
import { field, select } from '../forms.js';

const ENTITIES = [
  'media',
  'user',
  'playlist',
  'campaign',
  'schedule',
  'takeover',
  'recall',
  'location',
  'player',
  'enroll_token',
  'setting',
  'session',
  'token',
  'api_token',
  'manifest',
  'proof_of_play',
];
const PAGE = 100;

// The fields that differ between two snapshots, as "field: old → new" lines.
function changes(before, after) {
  if (!before && after)
    return Object.entries(after)
      .filter(([, v]) => v !== null && v !== '' && !(Array.isArray(v) && !v.length))
      .slice(0, 8)
      .map(([k, v]) => `${k}: ${fmt(v)}`);
  if (before && !after) return [t('audit.removed')];
  if (!before || !after) return [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const out = [];
  for (const k of keys) {
    if (k === 'updatedAt') continue;
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) out.push(`${k}: ${fmt(before[k])} → ${fmt(after[k])}`);
  }
  return out;
}

function fmt(v) {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s && s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

boot('audit', async ({ main }) => {
  const box = h('div', { id: 'audit-list' });
  const more = h(
    'button',
    { class: 'btn btn-outline-secondary', type: 'button', id: 'audit-more', hidden: true },
    t('audit.older'),
  );
  let entity = '';
  let rows = [];
  let lastId = null;

  async function load(reset) {
    if (reset) {
      rows = [];
      lastId = null;
    }
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (entity) q.set('entity', entity);
    if (lastId) q.set('before', String(lastId));
    const entries = (await get(`/api/v1/audit?${q}`)).entries;
    if (entries.length) lastId = entries[entries.length - 1].id;
    rows.push(
      ...entries.map((e) =>
        h(
          'tr',
          { dataset: { auditId: e.id, action: e.action, entity: e.entity } },
          h('td', { class: 'small text-nowrap' }, fmtDateTime(e.at)),
          h('td', {}, e.actor),
          h('td', {}, t(`action.${e.action}`) !== `action.${e.action}` ? t(`action.${e.action}`) : e.action),
          h(
            'td',
            {},
            t(`entity.${e.entity}`) !== `entity.${e.entity}` ? t(`entity.${e.entity}`) : e.entity,
            e.entityId ? h('span', { class: 'text-body-secondary' }, ` #${e.entityId}`) : null,
          ),
          h(
            'td',
            { class: 'small' },
            h(
              'ul',
              { class: 'list-unstyled mb-0 ms-audit-changes' },
              changes(e.before, e.after).map((c) => h('li', {}, c)),
            ),
          ),
        ),
      ),
    );
    box.replaceChildren(
      rows.length
        ? table(['audit.when', 'audit.actor', 'audit.action', 'audit.entity', 'audit.changes'], rows)
        : empty(),
    );
    more.hidden = entries.length < PAGE;
  }
  more.addEventListener('click', () => load(false));
  const filter = select([['', t('common.all')], ...ENTITIES.map((e) => [e, t(`entity.${e}`)])], '', {
    id: 'audit-entity',
    onchange: (e) => {
      entity = e.target.value;
      load(true);
    },
  });
  main.append(
    section(
      'audit.title',
      h('div', { class: 'row' }, h('div', { class: 'col-md-3' }, field('audit.entity', filter))),
      box,
      more,
    ),
  );
  await load(true);
});
