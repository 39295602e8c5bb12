// Notices, dialogs and buttons that act: toasts, error text, busy buttons and
// confirmations, shared by the pages.
import { ApiError } from './api.js';
import { t } from './i18n.js';
import { h, uid } from './dom.js';

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

// A small button that runs fn (async) while it shows busy; data-action names it for tests.
export function actionButton(labelKey, cls, action, fn) {
  return h(
    'button',
    { class: `btn btn-sm ${cls}`, type: 'button', dataset: { action }, onclick: (ev) => busy(ev.target, () => fn(ev)) },
    t(labelKey),
  );
}

// The "edit" button of a list row: opens the row's editor (onEdit), named for
// screen readers by ariaLabel; data-action="edit" names it for tests.
export function editButton(ariaLabel, onEdit, cls = 'btn-outline-primary') {
  return h(
    'button',
    {
      class: `btn btn-sm ${cls}`,
      type: 'button',
      dataset: { action: 'edit' },
      'aria-label': ariaLabel,
      onclick: onEdit,
    },
    t('common.edit'),
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

// A modal <dialog>. content: nodes; buttons: [{key, class, value}] -> resolves
// with the pressed button's value (or null on Esc/cancel).
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
