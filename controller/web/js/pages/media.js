// 素材 / media library: drag-and-drop upload with a progress bar per file, the
// library with thumbnails, durations, tags, department and approval state.
import { boot } from '../app.js';
import { del, get, patch, post, uploadMedia } from '../api.js';
import { fmtBytes, fmtDateTime, t, zonedIso, zonedParts } from '../i18n.js';
import { badge, empty, h, section, table } from '../dom.js';
import { col, field, formRow, input, select, submitForm } from '../forms.js';
import { actionButton, busy, dangerButton, dialog, editButton, errorText, notify, showError } from '../notices.js';
import { kindLabel, preview, thumbButton } from '../media_view.js';

const STATES = ['draft', 'pending', 'approved', 'rejected'];

// An instant as a datetime-local value in the console's zone ("2027-01-01T00:00").
function localInput(iso) {
  const p = zonedParts(new Date(iso).getTime());
  return `${p.date}T${p.time}`;
}

boot('media', async ({ user, main, can }) => {
  const tags = (await get('/api/v1/tags')).tags.map((x) => x.name);
  const state = { filter: { state: '', tag: '', kind: '', q: '' }, media: [] };
  const listBox = h('div', { id: 'media-list' });

  async function reload() {
    state.media = (await get('/api/v1/media')).media;
    renderList();
  }

  function matches(m) {
    const f = state.filter;
    if (f.state && m.state !== f.state) return false;
    if (f.tag && !m.tags.includes(f.tag)) return false;
    if (f.kind && m.kind !== f.kind) return false;
    if (f.q) {
      const q = f.q.toLowerCase();
      if (!`${m.name} ${m.fileName || ''} ${m.department || ''}`.toLowerCase().includes(q)) return false;
    }
    return true;
  }

  function mine(m) {
    return user.role === 'admin' || (user.role === 'editor' && m.department === user.department);
  }

  function actions(m) {
    const out = [
      h(
        'button',
        {
          class: 'btn btn-sm btn-outline-secondary',
          type: 'button',
          onclick: () => preview(m),
          dataset: { action: 'preview' },
        },
        t('media.preview'),
      ),
    ];
    if (can.upload && mine(m)) {
      if (m.state === 'draft' || m.state === 'rejected') {
        out.push(
          actionButton('media.submit', 'btn-primary', 'submit', async () => {
            await post(`/api/v1/media/${m.id}/submit`);
            notify(t('media.submitted', { name: m.name }));
            await reload();
          }),
        );
      }
      out.push(editButton(undefined, () => edit(m), 'btn-outline-secondary'));
      if (m.state !== 'approved') {
        out.push(
          dangerButton(
            {
              labelKey: 'common.delete',
              titleKey: 'media.deleteTitle',
              message: t('media.deleteConfirm', { name: m.name }),
              attrs: { dataset: { action: 'delete' } },
            },
            async () => {
              await del(`/api/v1/media/${m.id}`);
              notify(t('media.deleted', { name: m.name }));
              await reload();
            },
          ),
        );
      }
    }
    return h('div', { class: 'd-flex flex-wrap gap-1' }, out);
  }

  async function edit(m) {
    const name = input({ value: m.name, maxlength: 255, required: true });
    const boxes = tagBoxes(tags, m.tags, 'edit');
    // validUntil in Beijing time (the console's zone), as a datetime-local value.
    const until = input({
      type: 'datetime-local',
      id: 'media-valid-until',
      value: m.validUntil ? localInput(m.validUntil) : '',
    });
    const v = await dialog(
      'media.editTitle',
      h('div', {}, field('media.name', name), boxes.el, field('media.validUntil', until, 'media.validUntilHint')),
      [
        { key: 'common.cancel', value: 'cancel' },
        { key: 'common.save', value: 'ok', class: 'btn-primary' },
      ],
    );
    if (v !== 'ok') return;
    try {
      await patch(`/api/v1/media/${m.id}`, {
        name: name.value.trim() || m.name,
        tags: boxes.value(),
        validUntil: until.value ? zonedIso(...until.value.split('T')) : null,
      });
      notify(t('common.saved'));
      await reload();
    } catch (e) {
      showError(e);
    }
  }

  function renderList() {
    const rows = state.media.filter(matches).map((m) =>
      h(
        'tr',
        { dataset: { mediaId: m.id, state: m.state } },
        h('td', {}, thumbButton(m)),
        h(
          'td',
          {},
          h('div', { class: 'fw-semibold ms-media-name' }, m.name),
          m.fileName && m.fileName !== m.name ? h('div', { class: 'small text-body-secondary' }, m.fileName) : null,
        ),
        h('td', { class: 'small' }, kindLabel(m), h('div', { class: 'text-body-secondary' }, fmtBytes(m.sizeBytes))),
        h(
          'td',
          {},
          m.tags.map((x) => h('span', { class: 'badge text-bg-light border me-1' }, x)),
        ),
        h('td', { class: 'small' }, m.department || '—'),
        h(
          'td',
          {},
          badge(m.state),
          m.state === 'rejected' && m.reviewReason
            ? h('div', { class: 'small text-danger mt-1' }, t('media.reason', { reason: m.reviewReason }))
            : null,
          m.validUntil
            ? h(
                'div',
                { class: 'small text-body-secondary mt-1 ms-valid-until' },
                t('media.validUntilShort', { at: fmtDateTime(m.validUntil) }),
              )
            : null,
        ),
        h('td', { class: 'small text-nowrap' }, fmtDateTime(m.createdAt)),
        h('td', {}, actions(m)),
      ),
    );
    listBox.replaceChildren(
      rows.length
        ? table(
            [
              'media.colPreview',
              'media.name',
              'media.kind',
              'media.tags',
              'media.department',
              'media.state',
              'media.uploadedAt',
              'common.actions',
            ],
            rows,
          )
        : empty('common.noData', state.media.length ? 'media.noMatch' : 'media.emptyHint'),
    );
  }

  if (can.upload) main.append(uploadCard(user, tags, reload), sloganCard(user, tags, reload));

  const filters = h(
    'div',
    { class: 'row g-2 mb-2 ms-filters' },
    h(
      'div',
      { class: 'col-sm-3' },
      field(
        'media.filterState',
        select([['', t('common.all')], ...STATES.map((s) => [s, t(`state.${s}`)])], '', {
          id: 'filter-state',
          onchange: (e) => {
            state.filter.state = e.target.value;
            renderList();
          },
        }),
      ),
    ),
    h(
      'div',
      { class: 'col-sm-3' },
      field(
        'media.filterTag',
        select([['', t('common.all')], ...tags.map((x) => [x, x])], '', {
          onchange: (e) => {
            state.filter.tag = e.target.value;
            renderList();
          },
        }),
      ),
    ),
    h(
      'div',
      { class: 'col-sm-2' },
      field(
        'media.filterKind',
        select([['', t('common.all')], ...['image', 'video', 'audio', 'text'].map((k) => [k, t(`kind.${k}`)])], '', {
          onchange: (e) => {
            state.filter.kind = e.target.value;
            renderList();
          },
        }),
      ),
    ),
    h(
      'div',
      { class: 'col-sm-4' },
      field(
        'common.search',
        input({
          type: 'search',
          oninput: (e) => {
            state.filter.q = e.target.value.trim();
            renderList();
          },
        }),
      ),
    ),
  );
  main.append(section('media.library', filters, listBox));
  await reload();
});

// Theme tag checkboxes; value() -> selected names.
function tagBoxes(all, selected, prefix) {
  const inputs = [];
  const el = h(
    'fieldset',
    { class: 'mb-2' },
    h('legend', { class: 'form-label fs-6' }, t('media.tags')),
    h(
      'div',
      { class: 'd-flex flex-wrap gap-3' },
      all.map((name, i) => {
        const id = `${prefix}-tag-${i}`;
        const input = h('input', {
          class: 'form-check-input',
          type: 'checkbox',
          id,
          value: name,
          checked: selected.includes(name),
        });
        inputs.push(input);
        return h('div', { class: 'form-check' }, input, h('label', { class: 'form-check-label', for: id }, name));
      }),
    ),
  );
  return { el, value: () => inputs.filter((i) => i.checked).map((i) => i.value) };
}

function uploadCard(user, tags, onUploaded) {
  const fileInput = h('input', {
    type: 'file',
    id: 'upload-input',
    multiple: true,
    accept: 'image/*,video/*,audio/*',
    class: 'visually-hidden',
  });
  const boxes = tagBoxes(tags, [], 'upload');
  const dept =
    user.role === 'admin'
      ? field('media.department', input({ id: 'upload-department', maxlength: 100 }), 'media.departmentHint')
      : h('p', { class: 'small mb-2' }, t('media.uploadDepartment', { department: user.department || '—' }));
  const queue = h('ul', { class: 'list-unstyled ms-upload-queue', id: 'upload-queue', 'aria-live': 'polite' });
  // Transparent parts of a picture are shown over this colour on the screens;
  // the sample (a half-transparent red disc on a clear square) previews it.
  const colour = h('input', {
    type: 'color',
    id: 'upload-background',
    value: '#000000',
    class: 'form-control form-control-color',
    'aria-describedby': 'upload-background-hint',
  });
  const sample = h(
    'div',
    { class: 'ms-bg-sample', id: 'upload-background-sample', style: 'background-color:#000000', 'aria-hidden': 'true' },
    h('span', { class: 'ms-bg-sample-disc' }),
  );
  const paintSample = () => {
    sample.style.backgroundColor = colour.value;
    for (const img of queue.querySelectorAll('.ms-upload-thumb[data-pending]'))
      img.style.backgroundColor = colour.value;
  };
  colour.addEventListener('input', paintSample);
  const background = h(
    'div',
    { class: 'mb-2' },
    h('label', { class: 'form-label small mb-1', for: 'upload-background' }, t('media.background')),
    h('div', { class: 'd-flex align-items-center gap-2' }, colour, sample),
    h('div', { class: 'form-text', id: 'upload-background-hint' }, t('media.backgroundHint')),
  );
  const drop = h(
    'div',
    {
      class: 'ms-dropzone',
      id: 'dropzone',
      tabindex: '0',
      role: 'button',
      'aria-describedby': 'dropzone-hint',
      onclick: () => fileInput.click(),
      onkeydown: (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          fileInput.click();
        }
      },
      ondragover: (e) => {
        e.preventDefault();
        drop.classList.add('ms-drag');
      },
      ondragleave: () => drop.classList.remove('ms-drag'),
      ondrop: (e) => {
        e.preventDefault();
        drop.classList.remove('ms-drag');
        start([...e.dataTransfer.files]);
      },
    },
    h('div', { class: 'ms-dropzone-icon', 'aria-hidden': 'true' }, '⇪'),
    h('div', { class: 'fw-semibold' }, t('media.dropHere')),
    h('div', { class: 'small text-body-secondary', id: 'dropzone-hint' }, t('media.dropHint')),
  );
  fileInput.addEventListener('change', () => {
    start([...fileInput.files]);
    fileInput.value = '';
  });

  function start(files) {
    for (const file of files) uploadOne(file);
  }

  async function uploadOne(file) {
    const bar = h('progress', {
      class: 'ms-progress',
      max: '100',
      value: '0',
      'aria-label': t('media.progressOf', { name: file.name }),
    });
    const pct = h('span', { class: 'ms-upload-pct small' }, '0%');
    const status = h('span', { class: 'ms-upload-status small' }, t('media.uploading'));
    const extra = h('span', { class: 'ms-upload-extra' });
    const row = h(
      'li',
      { class: 'ms-upload-row', dataset: { file: file.name, status: 'uploading' } },
      h(
        'div',
        { class: 'd-flex justify-content-between gap-2' },
        h('span', { class: 'ms-upload-name text-truncate' }, file.name),
        h('span', { class: 'text-body-secondary small' }, fmtBytes(file.size)),
      ),
      h('div', { class: 'd-flex align-items-center gap-2' }, bar, pct, status, extra),
    );
    queue.prepend(row);
    const department = document.getElementById('upload-department')?.value.trim() || undefined;
    const bg = colour.value.toUpperCase();
    if ((file.type || '').startsWith('image/')) {
      // The picture over the chosen colour, as screens will show its transparent parts.
      const url = URL.createObjectURL(file);
      row.append(
        h('img', {
          class: 'ms-upload-thumb',
          src: url,
          alt: '',
          style: `background-color:${bg}`,
          onload: () => URL.revokeObjectURL(url),
        }),
      );
    }
    try {
      const m = await uploadMedia(file, { tags: boxes.value(), department, background: bg }, (sent, total) => {
        const p = total ? Math.min(100, Math.round((sent / total) * 100)) : 0;
        bar.value = p;
        pct.textContent = `${p}%`;
      });
      bar.value = 100;
      pct.textContent = '100%';
      row.dataset.status = 'done';
      row.dataset.mediaId = m.id;
      status.textContent = m.deduplicated ? t('media.deduplicated') : t('media.uploaded');
      status.classList.add('text-success');
      if (m.state === 'draft' || m.state === 'rejected') {
        extra.append(
          actionButton('media.submit', 'btn-primary ms-upload-submit', 'submit', async (ev) => {
            await post(`/api/v1/media/${m.id}/submit`);
            ev.target.replaceWith(h('span', { class: 'small' }, t('state.pending')));
            notify(t('media.submitted', { name: m.name }));
            await onUploaded();
          }),
        );
      }
      await onUploaded();
    } catch (e) {
      row.dataset.status = 'failed';
      status.textContent = `${t('media.uploadFailed')}: ${errorText(e)}`;
      status.classList.add('text-danger');
    }
  }

  return section(
    'media.upload',
    h(
      'div',
      { class: 'row g-3' },
      h(
        'div',
        { class: 'col-lg-6' },
        drop,
        fileInput,
        h('label', { class: 'btn btn-outline-primary btn-sm mt-2', for: 'upload-input' }, t('media.chooseFiles')),
      ),
      h('div', { class: 'col-lg-6' }, boxes.el, background, dept),
    ),
    queue,
  );
}

// The banner a screen shows for a slogan, drawn in the page: the screen is taken
// as 1920x1080 and scaled to the box, with the player's rules (centred when
// static; copies a gap apart moving left at the scroll speed; text too wide to
// stand still scrolls anyway). Returns {el, update(style, text)}.
const SCREEN_W = 1920;
const SCREEN_H = 1080;
export function sloganBanner() {
  const text = h('span', { class: 'ms-slogan-text' });
  const copy = h('span', { class: 'ms-slogan-text', 'aria-hidden': 'true' });
  const el = h('div', { class: 'ms-slogan-preview', id: 'slogan-preview', role: 'img' }, text, copy);
  let cfg = { speed: 0, fontPx: 48 };
  let started = performance.now();
  const reduced = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  function frame(now) {
    if (!el.isConnected) return;
    const scale = el.clientWidth / SCREEN_W;
    // The player shrinks the text only so one line fits 80 % of the screen's height.
    const fontSize = `${Math.max(1, Math.min(cfg.fontPx, SCREEN_H * 0.8) * scale)}px`;
    if (text.style.fontSize !== fontSize) {
      text.style.fontSize = fontSize;
      copy.style.fontSize = fontSize;
    }
    const lineW = text.offsetWidth;
    const boxW = el.clientWidth;
    const margin = boxW / 20;
    let speed = cfg.speed * scale;
    if (!speed && lineW > boxW - 2 * margin) speed = Math.max(40, cfg.fontPx * 2) * scale;
    let x = (boxW - lineW) / 2;
    copy.hidden = true;
    if (speed > 0 && !reduced) {
      const gap = Math.min(boxW / 2, Math.max(cfg.fontPx * scale * 2, boxW / 4));
      const period = Math.max(1, lineW + gap);
      const start = Math.max(0, x);
      x = start - ((((now - started) / 1000) * speed) % period);
      copy.hidden = false;
      copy.style.left = `${x + period}px`;
    }
    text.style.left = `${x}px`;
    el.dataset.scrolling = speed > 0 ? 'true' : 'false';
    requestAnimationFrame(frame);
  }
  function update(style, value) {
    cfg = { speed: style.scrollSpeedPxPerS, fontPx: style.fontSizePx };
    el.style.background = style.background;
    el.style.color = style.color;
    for (const s of [text, copy]) s.textContent = value || t('slogan.placeholder');
    el.setAttribute('aria-label', t('slogan.previewLabel', { text: value }));
    started = performance.now();
  }
  requestAnimationFrame(frame);
  return { el, update };
}

// WCAG contrast ratio of two #rrggbb colours (1..21).
export function contrastRatio(a, b) {
  const lum = (hex) => {
    const [r, g, bl] = [1, 3, 5]
      .map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
      .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

function sloganCard(user, tags, onCreated) {
  const text = h('textarea', {
    class: 'form-control',
    id: 'slogan-text',
    rows: '2',
    required: true,
    maxlength: 600,
    placeholder: t('slogan.placeholder'),
  });
  const name = input({ id: 'slogan-name', maxlength: 255 });
  const colour = h('input', {
    class: 'form-control form-control-color',
    type: 'color',
    id: 'slogan-color',
    value: '#ffd700',
  });
  const background = h('input', {
    class: 'form-control form-control-color',
    type: 'color',
    id: 'slogan-background',
    value: '#b00020',
  });
  const size = input({
    type: 'number',
    id: 'slogan-size',
    min: '8',
    max: '1000',
    step: '1',
    value: '96',
    required: true,
  });
  const speed = input({
    type: 'number',
    id: 'slogan-speed',
    min: '0',
    max: '2000',
    step: '10',
    value: '0',
    required: true,
    'aria-describedby': 'slogan-speed-hint',
  });
  const boxes = tagBoxes(tags, [], 'slogan');
  const dept =
    user.role === 'admin'
      ? field('media.department', input({ id: 'slogan-department', maxlength: 100 }), 'media.departmentHint')
      : null;
  const banner = sloganBanner();
  const result = h('div', { id: 'slogan-result', 'aria-live': 'polite' });
  const style = () => ({
    color: colour.value,
    background: background.value,
    fontSizePx: Math.min(1000, Math.max(8, Math.round(Number(size.value) || 48))),
    scrollSpeedPxPerS: Math.min(2000, Math.max(0, Math.round(Number(speed.value) || 0))),
  });
  const contrast = h('div', { class: 'small', id: 'slogan-contrast', 'aria-live': 'polite' });
  const refresh = () => {
    banner.update(style(), text.value.trim());
    const ratio = contrastRatio(colour.value, background.value);
    contrast.textContent = t(ratio >= 4.5 ? 'slogan.contrastOk' : 'slogan.contrastLow', { ratio: ratio.toFixed(1) });
    contrast.className = `small ${ratio >= 4.5 ? 'text-success' : 'text-danger fw-semibold'}`;
  };
  const form = submitForm(
    {
      id: 'slogan-form',
      oninput: refresh,
      onchange: refresh,
    },
    async () => {
      const body = { text: text.value.trim(), style: style(), tags: boxes.value() };
      if (name.value.trim()) body.name = name.value.trim();
      const d = document.getElementById('slogan-department')?.value.trim();
      if (d) body.department = d;
      const m = await post('/api/v1/media/slogans', body);
      notify(t('slogan.created', { name: m.name }));
      result.replaceChildren(
        h(
          'div',
          { class: 'alert alert-success d-flex align-items-center gap-2 py-2', dataset: { mediaId: m.id } },
          h('span', {}, m.deduplicated ? t('slogan.exists', { name: m.name }) : t('slogan.created', { name: m.name })),
          m.state === 'draft' || m.state === 'rejected'
            ? h(
                'button',
                {
                  class: 'btn btn-sm btn-primary ms-slogan-submit',
                  type: 'button',
                  onclick: (e2) =>
                    busy(e2.target, async () => {
                      await post(`/api/v1/media/${m.id}/submit`);
                      e2.target.replaceWith(h('span', { class: 'small' }, t('state.pending')));
                      notify(t('media.submitted', { name: m.name }));
                      await onCreated();
                    }),
                },
                t('media.submit'),
              )
            : null,
        ),
      );
      await onCreated();
    },
    h(
      'div',
      { class: 'row g-3' },
      h(
        'div',
        { class: 'col-lg-6' },
        field('slogan.text', text, 'slogan.textHint'),
        field('slogan.name', name, 'slogan.nameHint'),
        formRow(
          col('col-3', 'slogan.color', colour),
          col('col-3', 'slogan.background', background),
          col('col-3', 'slogan.fontSize', size),
          col('col-3', 'slogan.scrollSpeed', speed),
        ),
        h('div', { class: 'form-text mb-2', id: 'slogan-speed-hint' }, t('slogan.scrollHint')),
        boxes.el,
        dept,
      ),
      h(
        'div',
        { class: 'col-lg-6' },
        h('div', { class: 'form-label' }, t('slogan.preview')),
        banner.el,
        contrast,
        h('p', { class: 'form-text' }, t('slogan.previewHint')),
        h('button', { class: 'btn btn-primary', type: 'submit', id: 'slogan-submit' }, t('slogan.create')),
        result,
      ),
    ),
  );
  queueMicrotask(refresh);
  return section('slogan.title', form);
}
