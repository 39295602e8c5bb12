// Small DOM helpers shared by the pages: the element builder and the page's
// building blocks (sections, tables, badges, empty states).
import { t } from './i18n.js';

// h('button', {class: 'btn', onclick: fn}, 'text', child, [more]) -> element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') {
      el.value = v;
      if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') el.defaultValue = v; // form.reset() keeps it
    } else if (k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

let idSeq = 0;
export function uid(prefix = 'f') {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

// An empty-state block ("暂无数据").
export function empty(key = 'common.noData', detailKey) {
  return h(
    'div',
    { class: 'ms-empty text-body-secondary' },
    h('p', { class: 'mb-1 fw-semibold' }, t(key)),
    detailKey ? h('p', { class: 'mb-0 small' }, t(detailKey)) : null,
  );
}

export function badge(state, prefix = 'state') {
  return h('span', { class: `badge ms-badge ms-badge-${state}` }, t(`${prefix}.${state}`));
}

// A form for a new item, folded under its heading until opened (<details>).
export function newItemPanel(summaryKey, form, { id, open = false } = {}) {
  return h('details', { class: 'mt-2', open, id }, h('summary', { class: 'fw-semibold mb-2' }, t(summaryKey)), form);
}

export function section(titleKey, ...children) {
  const id = uid('sec');
  return h(
    'section',
    { class: 'ms-card card mb-3', 'aria-labelledby': id },
    h('div', { class: 'card-body' }, h('h2', { class: 'h5 card-title', id }, t(titleKey)), children),
  );
}

export function table(headKeys, rows, attrs = {}) {
  return h(
    'div',
    { class: 'table-responsive' },
    h(
      'table',
      { class: 'table table-sm align-middle ms-table', ...attrs },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headKeys.map((k) => h('th', { scope: 'col' }, k ? t(k) : '')),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}
