// 播放列表 / playlists: drag-and-drop ordering (with keyboard move buttons too),
// per-still durations and the total loop length.
import { boot } from '../app.js';
import { del, get, post, put } from '../api.js';
import { fmtDuration, t } from '../i18n.js';
import { badge, empty, h, section } from '../dom.js';
import { field, input } from '../forms.js';
import { busy, confirmAction, notify } from '../notices.js';
import { kindLabel, thumb } from '../media_view.js';

const DEFAULT_STILL_MS = 10000;

const isStill = (m) => m && (m.kind === 'image' || m.kind === 'text');

boot('playlists', async ({ user, main, can }) => {
  let media = [];
  let playlists = [];
  let editing = null; // {id|null, name, items: [{mediaId, durationMs}]}
  const listBox = h('div', { id: 'playlist-list' });
  const editorBox = h('div', { id: 'playlist-editor' });
  const mediaById = () => Object.fromEntries(media.map((m) => [m.id, m]));

  async function reload() {
    [media, playlists] = await Promise.all([
      get('/api/v1/media').then((r) => r.media),
      get('/api/v1/playlists').then((r) => r.playlists),
    ]);
    renderList();
    renderEditor();
  }

  function itemMs(it, m) {
    if (isStill(m)) return it.durationMs || DEFAULT_STILL_MS;
    return (m && m.durationMs) || it.effectiveDurationMs || 0;
  }

  function renderList() {
    const cards = playlists.map((p) =>
      h(
        'li',
        {
          class: `list-group-item d-flex justify-content-between align-items-start gap-2${editing && editing.id === p.id ? ' active-soft' : ''}`,
          dataset: { playlistId: p.id },
        },
        h(
          'div',
          {},
          h('div', { class: 'fw-semibold' }, p.name),
          h(
            'div',
            { class: 'small text-body-secondary' },
            t('playlists.summary', { count: p.items.length, length: fmtDuration(p.loopDurationMs) }),
            p.department ? ` · ${p.department}` : '',
          ),
          p.allApproved ? null : h('div', { class: 'small text-warning-emphasis' }, t('playlists.notAllApproved')),
        ),
        h(
          'div',
          { class: 'd-flex gap-1' },
          h(
            'button',
            { class: 'btn btn-sm btn-outline-primary', type: 'button', onclick: () => open(p) },
            can.plan ? t('common.edit') : t('common.view'),
          ),
          can.plan
            ? h(
                'button',
                { class: 'btn btn-sm btn-outline-danger', type: 'button', onclick: (ev) => remove(ev, p) },
                t('common.delete'),
              )
            : null,
        ),
      ),
    );
    listBox.replaceChildren(
      can.plan
        ? h(
            'button',
            { class: 'btn btn-primary mb-2', type: 'button', id: 'new-playlist', onclick: () => open(null) },
            t('playlists.new'),
          )
        : null,
      cards.length ? h('ul', { class: 'list-group' }, cards) : empty('common.noData', 'playlists.emptyHint'),
    );
  }

  async function remove(ev, p) {
    if (
      !(await confirmAction(
        'playlists.deleteTitle',
        t('playlists.deleteConfirm', { name: p.name }),
        'common.delete',
        'btn-danger',
      ))
    )
      return;
    await busy(ev.target, async () => {
      await del(`/api/v1/playlists/${p.id}`);
      if (editing && editing.id === p.id) editing = null;
      notify(t('playlists.deleted', { name: p.name }));
      await reload();
    });
  }

  function open(p) {
    editing = p
      ? {
          id: p.id,
          name: p.name,
          items: p.items.map((i) => ({
            mediaId: i.mediaId,
            durationMs: i.durationMs,
            effectiveDurationMs: i.effectiveDurationMs,
          })),
        }
      : { id: null, name: '', items: [] };
    renderList();
    renderEditor();
    document.getElementById('playlist-name')?.focus();
  }

  function move(from, to) {
    if (to < 0 || to >= editing.items.length || from === to) return;
    const [it] = editing.items.splice(from, 1);
    editing.items.splice(to, 0, it);
    renderEditor();
  }

  function add(mediaId, at) {
    const m = mediaById()[mediaId];
    const item = { mediaId, durationMs: isStill(m) ? DEFAULT_STILL_MS : null };
    if (at === undefined || at > editing.items.length) editing.items.push(item);
    else editing.items.splice(at, 0, item);
    renderEditor();
  }

  function renderEditor() {
    if (!editing) {
      editorBox.replaceChildren(empty('playlists.pick'));
      return;
    }
    const byId = mediaById();
    const readOnly = !can.plan;
    const total = editing.items.reduce((s, it) => s + itemMs(it, byId[it.mediaId]), 0);
    const name = input({
      id: 'playlist-name',
      value: editing.name,
      maxlength: 255,
      required: true,
      disabled: readOnly,
      oninput: (e) => {
        editing.name = e.target.value;
      },
    });

    // Items: each row is draggable; drop on a row inserts before it.
    const items = h(
      'ol',
      { class: 'list-unstyled ms-playlist-items', id: 'playlist-items', 'aria-label': t('playlists.items') },
      editing.items.map((it, i) => {
        const m = byId[it.mediaId];
        const dur = isStill(m)
          ? h(
              'label',
              { class: 'd-flex align-items-center gap-1 small' },
              t('playlists.seconds'),
              h('input', {
                class: 'form-control form-control-sm ms-duration',
                type: 'number',
                min: '1',
                max: '86400',
                step: '1',
                disabled: readOnly,
                value: String(Math.round((it.durationMs || DEFAULT_STILL_MS) / 1000)),
                'aria-label': t('playlists.durationOf', { name: m ? m.name : it.mediaId }),
                onchange: (e) => {
                  it.durationMs = Math.max(1, Number(e.target.value) || 10) * 1000;
                  renderEditor();
                },
              }),
            )
          : h(
              'span',
              { class: 'small text-body-secondary' },
              t('playlists.videoLength', { length: fmtDuration(itemMs(it, m)) }),
            );
        const li = h(
          'li',
          {
            class: 'ms-playlist-item',
            draggable: readOnly ? null : 'true',
            dataset: { index: i, mediaId: it.mediaId },
          },
          h('span', { class: 'ms-drag-handle', 'aria-hidden': 'true' }, '⋮⋮'),
          h('span', { class: 'ms-item-index' }, String(i + 1)),
          m ? thumb(m) : null,
          h(
            'div',
            { class: 'flex-grow-1' },
            h('div', { class: 'fw-semibold ms-item-name' }, m ? m.name : `#${it.mediaId}`),
            m ? h('div', { class: 'small text-body-secondary' }, kindLabel(m), ' ', badge(m.state)) : null,
          ),
          dur,
          readOnly
            ? null
            : h(
                'div',
                { class: 'btn-group btn-group-sm' },
                h(
                  'button',
                  {
                    class: 'btn btn-outline-secondary',
                    type: 'button',
                    disabled: i === 0,
                    'aria-label': t('playlists.moveUp'),
                    title: t('playlists.moveUp'),
                    onclick: () => move(i, i - 1),
                  },
                  '↑',
                ),
                h(
                  'button',
                  {
                    class: 'btn btn-outline-secondary',
                    type: 'button',
                    disabled: i === editing.items.length - 1,
                    'aria-label': t('playlists.moveDown'),
                    title: t('playlists.moveDown'),
                    onclick: () => move(i, i + 1),
                  },
                  '↓',
                ),
                h(
                  'button',
                  {
                    class: 'btn btn-outline-danger',
                    type: 'button',
                    'aria-label': t('playlists.remove'),
                    title: t('playlists.remove'),
                    onclick: () => {
                      editing.items.splice(i, 1);
                      renderEditor();
                    },
                  },
                  '✕',
                ),
              ),
        );
        if (!readOnly) {
          li.addEventListener('dragstart', (e) => {
            e.dataTransfer.setData('text/x-ms-index', String(i));
            e.dataTransfer.effectAllowed = 'move';
            li.classList.add('ms-dragging');
          });
          li.addEventListener('dragend', () => li.classList.remove('ms-dragging'));
          li.addEventListener('dragover', (e) => {
            e.preventDefault();
            li.classList.add('ms-drop-before');
          });
          li.addEventListener('dragleave', () => li.classList.remove('ms-drop-before'));
          li.addEventListener('drop', (e) => {
            e.preventDefault();
            e.stopPropagation();
            li.classList.remove('ms-drop-before');
            dropAt(e, i);
          });
        }
        return li;
      }),
    );
    const dropTail = h(
      'div',
      { class: 'ms-drop-tail', id: 'playlist-drop', hidden: readOnly },
      t('playlists.dropHere'),
    );
    for (const target of [dropTail, items]) {
      target.addEventListener('dragover', (e) => {
        e.preventDefault();
        dropTail.classList.add('ms-drag');
      });
      target.addEventListener('dragleave', () => dropTail.classList.remove('ms-drag'));
      target.addEventListener('drop', (e) => {
        e.preventDefault();
        dropTail.classList.remove('ms-drag');
        dropAt(e, editing.items.length);
      });
    }

    const usable = media.filter((m) => m.state !== 'rejected');
    const library = h(
      'ul',
      { class: 'list-unstyled ms-media-pick', id: 'playlist-library' },
      usable.map((m) => {
        const li = h(
          'li',
          { class: 'ms-pick-item', draggable: readOnly ? null : 'true', dataset: { mediaId: m.id } },
          thumb(m),
          h(
            'div',
            { class: 'flex-grow-1 small' },
            h('div', { class: 'fw-semibold' }, m.name),
            kindLabel(m),
            ' ',
            badge(m.state),
          ),
          readOnly
            ? null
            : h(
                'button',
                {
                  class: 'btn btn-sm btn-outline-primary',
                  type: 'button',
                  'aria-label': t('playlists.addNamed', { name: m.name }),
                  onclick: () => add(m.id),
                },
                t('playlists.add'),
              ),
        );
        li.addEventListener('dragstart', (e) => {
          e.dataTransfer.setData('text/x-ms-media', String(m.id));
          e.dataTransfer.effectAllowed = 'copy';
        });
        return li;
      }),
    );

    function dropAt(e, at) {
      const mediaId = e.dataTransfer.getData('text/x-ms-media');
      const from = e.dataTransfer.getData('text/x-ms-index');
      if (mediaId) add(Number(mediaId), at);
      else if (from !== '') move(Number(from), at > Number(from) ? at - 1 : at);
    }

    const save = h(
      'button',
      {
        class: 'btn btn-primary',
        type: 'button',
        id: 'playlist-save',
        hidden: readOnly,
        onclick: (ev) =>
          busy(ev.target, async () => {
            if (!editing.name.trim()) {
              notify(t('playlists.nameRequired'), 'warning');
              return;
            }
            const body = {
              name: editing.name.trim(),
              items: editing.items.map((it) => {
                const m = byId[it.mediaId];
                return isStill(m)
                  ? { mediaId: it.mediaId, durationMs: it.durationMs || DEFAULT_STILL_MS }
                  : { mediaId: it.mediaId };
              }),
            };
            const saved = editing.id
              ? await put(`/api/v1/playlists/${editing.id}`, body)
              : await post('/api/v1/playlists', body);
            notify(t('playlists.saved', { name: saved.name }));
            editing.id = saved.id;
            await reload();
          }),
      },
      t('common.save'),
    );

    editorBox.replaceChildren(
      h(
        'div',
        { class: 'row g-3' },
        h(
          'div',
          { class: 'col-xl-7' },
          field('playlists.name', name),
          h(
            'div',
            { class: 'd-flex justify-content-between align-items-baseline' },
            h('h3', { class: 'h6 mb-2' }, t('playlists.items')),
            h(
              'div',
              { class: 'ms-loop-total', id: 'playlist-total', 'aria-live': 'polite' },
              t('playlists.loopLength', { length: fmtDuration(total) }),
            ),
          ),
          editing.items.length ? items : h('p', { class: 'text-body-secondary small' }, t('playlists.noItems')),
          dropTail,
          h(
            'div',
            { class: 'mt-3 d-flex gap-2' },
            save,
            h(
              'button',
              {
                class: 'btn btn-outline-secondary',
                type: 'button',
                onclick: () => {
                  editing = null;
                  renderList();
                  renderEditor();
                },
              },
              t('common.close'),
            ),
          ),
        ),
        readOnly
          ? null
          : h(
              'div',
              { class: 'col-xl-5' },
              h('h3', { class: 'h6' }, t('playlists.library')),
              h('p', { class: 'small text-body-secondary' }, t('playlists.libraryHint')),
              usable.length ? library : empty('common.noData'),
            ),
      ),
    );
  }

  main.append(
    h(
      'div',
      { class: 'row g-3' },
      h('div', { class: 'col-lg-4' }, section('playlists.all', listBox)),
      h('div', { class: 'col-lg-8' }, section('playlists.editor', editorBox)),
    ),
  );
  await reload();
  const wanted = Number(new URLSearchParams(location.search).get('id'));
  if (wanted) {
    const p = playlists.find((x) => x.id === wanted);
    if (p) open(p);
  }
});
