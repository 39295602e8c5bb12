// Form helpers shared by the pages: labelled fields, grid rows, selects and the
// modal editing form.
import { t } from './i18n.js';
import { h, uid } from './dom.js';
import { busy, showError } from './notices.js';

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

function optionElements(options, value) {
  return options.map(([v, label]) => h('option', { value: String(v), selected: String(v) === String(value) }, label));
}

export function select(options, value, attrs = {}) {
  return h('select', { class: 'form-select', ...attrs }, optionElements(options, value));
}

// Refills a select with new [value, label] options, keeping the value it had.
export function setOptions(sel, options) {
  const v = sel.value;
  sel.replaceChildren(...optionElements(options, v));
  sel.value = v;
}

// A form whose submit runs action() while its submit button shows busy (errors
// are shown; the button stays disabled until action settles, so a double click
// sends nothing twice). attrs: the form's attributes (id, class, oninput…).
export function submitForm(attrs, action, ...children) {
  const form = h(
    'form',
    {
      ...attrs,
      onsubmit: async (ev) => {
        ev.preventDefault();
        await busy(form.querySelector('button[type=submit]'), action);
      },
    },
    ...children,
  );
  return form;
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
