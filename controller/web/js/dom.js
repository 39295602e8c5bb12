// Small DOM helpers shared by the pages: element builder, notices, dialogs.
import { t } from './i18n.js';
import { ApiError } from './api.js';

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

// A labelled form control: field('media.name', h('input', {...})).
export function field(labelKey, control, hintKey) {
  if (!control.id) control.id = uid();
  return h(
    'div',
    { class: 'mb-2 ms-field' },
    h('label', { class: 'form-label', for: control.id }, t(labelKey)),
    control,
    hintKey ? h('div', { class: 'form-text' }, t(hintKey)) : null,
  );
}

// A text-like <input> with the form's look; attrs as for h() (id, type, value, required, maxlength…).
export function input(attrs = {}) {
  return h('input', { class: 'form-control', ...attrs });
}

// A row of form fields (Bootstrap grid with small gutters).
export function formRow(...cols) {
  return h('div', { class: 'row g-2' }, ...cols);
}

// One labelled field in a grid column of a form row (width: Bootstrap column classes).
export function col(width, labelKey, control, hintKey) {
  return h('div', { class: width }, field(labelKey, control, hintKey));
}

// The form's submit button, bottom-aligned in its own grid column.
export function submitCol(labelKey, width = 'col-md-2') {
  return h(
    'div',
    { class: `${width} d-flex align-items-end mb-2` },
    h('button', { class: 'btn btn-primary w-100', type: 'submit' }, t(labelKey)),
  );
}

export function select(options, value, attrs = {}) {
  return h(
    'select',
    { class: 'form-select', ...attrs },
    options.map(([v, label]) => h('option', { value: String(v), selected: String(v) === String(value) }, label)),
  );
}

// Polite announcements (screen readers) + a visible toast line.
export function notify(message, kind = 'success') {
  let box = document.getElementById('ms-toasts');
  if (!box) {
    box = h('div', { id: 'ms-toasts', class: 'ms-toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const item = h('div', { class: `alert alert-${kind} py-2 px-3 mb-2 shadow-sm` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'danger' ? 9000 : 4500);
}

// A user-facing message for an API error: a translated code when known.
export function errorText(e) {
  if (e instanceof ApiError) {
    const key = `error.${e.code}`;
    const tr = t(key);
    return tr !== key ? `${tr} (${e.message})` : e.message;
  }
  return String(e && e.message ? e.message : e);
}

export function showError(e) {
  notify(errorText(e), 'danger');
}

// Runs an async action with the button disabled; shows errors.
export async function busy(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    showError(e);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// A modal <dialog>. content: nodes; buttons: [{key, class, value}] -> resolves
// with the pressed button's value (or null on Esc/cancel).
// A small button that runs fn (async) while it shows busy; data-action names it for tests.
export function actionButton(labelKey, cls, action, fn) {
  return h(
    'button',
    { class: `btn btn-sm ${cls}`, type: 'button', dataset: { action }, onclick: (ev) => busy(ev.target, () => fn(ev)) },
    t(labelKey),
  );
}

// A button for an act that cannot be undone: it asks first (confirmAction, whose OK
// button carries the same label), then runs fn while it shows busy.
// attrs: further attributes (dataset, aria-label, disabled, title…).
export function dangerButton({ labelKey, titleKey, message, cls = 'btn-outline-danger', attrs = {} }, fn) {
  return h(
    'button',
    {
      class: `btn btn-sm ${cls}`,
      type: 'button',
      ...attrs,
      onclick: async (ev) => {
        if (!(await confirmAction(titleKey, message, labelKey, 'btn-danger'))) return;
        await busy(ev.target, fn);
      },
    },
    t(labelKey),
  );
}

export function dialog(titleKey, content, buttons) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const form = h(
      'form',
      { method: 'dialog' },
      h('h2', { class: 'h5 mb-3', id: titleId }, t(titleKey)),
      content,
      h(
        'div',
        { class: 'd-flex gap-2 justify-content-end mt-3' },
        buttons.map((b) =>
          h('button', { class: `btn ${b.class || 'btn-secondary'}`, value: b.value, type: 'submit' }, t(b.key)),
        ),
      ),
    );
    const dlg = h('dialog', { class: 'ms-dialog', 'aria-labelledby': titleId }, form);
    document.body.append(dlg);
    dlg.addEventListener('close', () => {
      const v = dlg.returnValue;
      dlg.remove();
      resolve(v && v !== 'cancel' ? v : null);
    });
    dlg.showModal();
  });
}

export async function confirmAction(titleKey, messageText, okKey = 'common.confirm', okClass = 'btn-primary') {
  const v = await dialog(titleKey, h('p', {}, messageText), [
    { key: 'common.cancel', value: 'cancel' },
    { key: okKey, class: okClass, value: 'ok' },
  ]);
  return v === 'ok';
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

// A modal editing form. content: the form's fields; onSave() runs on submit and
// closes the dialog when it resolves true (errors are shown and keep it open).
// Resolves true when saved, false when cancelled (button or Esc).
export function formDialog(titleKey, content, onSave, { id, saveKey = 'common.save', wide = false } = {}) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    let saved = false;
    const save = h('button', { class: 'btn btn-primary', type: 'submit', dataset: { action: 'save' } }, t(saveKey));
    const form = h(
      'form',
      {
        onsubmit: async (ev) => {
          ev.preventDefault();
          save.disabled = true;
          try {
            if (await onSave()) {
              saved = true;
              dlg.close();
            }
          } catch (e) {
            showError(e);
          } finally {
            save.disabled = false;
          }
        },
      },
      h('h2', { class: 'h5 mb-3', id: titleId }, t(titleKey)),
      content,
      h(
        'div',
        { class: 'd-flex gap-2 justify-content-end mt-3' },
        h('button', { class: 'btn btn-secondary', type: 'button', onclick: () => dlg.close() }, t('common.cancel')),
        save,
      ),
    );
    const dlg = h(
      'dialog',
      { class: `ms-dialog${wide ? ' ms-dialog-wide' : ''}`, 'aria-labelledby': titleId, id },
      form,
    );
    document.body.append(dlg);
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(saved);
    });
    dlg.showModal();
  });
}
