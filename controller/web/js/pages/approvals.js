// 审核 / approvals: the approver's queue of submitted media (approve, or reject
// with a reason), and approved media that can be withdrawn.
import { boot } from '../app.js';
import { get, post } from '../api.js';
import { fmtBytes, fmtDateTime, t } from '../i18n.js';
import { badge, empty, h, section, table } from '../dom.js';
import { field } from '../forms.js';
import { actionButton, dialog, notify, showError } from '../notices.js';
import { kindLabel, preview, thumbButton } from '../media_view.js';

boot('approvals', async ({ user, main }) => {
  const queueBox = h('div', { id: 'approval-queue' });
  const doneBox = h('div', { id: 'approval-done' });
  let users = {};

  async function reject(m, titleKey) {
    const reason = h('textarea', {
      class: 'form-control',
      rows: '3',
      required: true,
      maxlength: 1000,
      id: 'reject-reason',
    });
    const v = await dialog(titleKey, h('div', {}, h('p', {}, m.name), field('approvals.reason', reason)), [
      { key: 'common.cancel', value: 'cancel' },
      { key: 'approvals.reject', value: 'ok', class: 'btn-danger' },
    ]);
    if (v !== 'ok') return;
    if (!reason.value.trim()) {
      notify(t('approvals.reasonRequired'), 'warning');
      return;
    }
    try {
      await post(`/api/v1/media/${m.id}/reject`, { reason: reason.value.trim() });
      notify(t('approvals.rejected', { name: m.name }));
      await reload();
    } catch (e) {
      showError(e);
    }
  }

  async function recall(m) {
    const reason = h('textarea', {
      class: 'form-control',
      rows: '3',
      required: true,
      maxlength: 1000,
      id: 'recall-reason',
    });
    const v = await dialog(
      'approvals.recallTitle',
      h(
        'div',
        {},
        h('p', { class: 'fw-semibold' }, m.name),
        h('p', { class: 'small text-body-secondary' }, t('approvals.recallHint')),
        field('approvals.reason', reason),
      ),
      [
        { key: 'common.cancel', value: 'cancel' },
        { key: 'approvals.recall', value: 'ok', class: 'btn-danger' },
      ],
    );
    if (v !== 'ok') return;
    if (!reason.value.trim()) {
      notify(t('approvals.reasonRequired'), 'warning');
      return;
    }
    try {
      await post(`/api/v1/media/${m.id}/recall`, { reason: reason.value.trim() });
      notify(t('approvals.recalled', { name: m.name }));
      location.assign(`/recalls?media=${m.id}`);
    } catch (e) {
      showError(e);
    }
  }

  function row(m, pending) {
    const own = m.uploadedBy === user.id;
    return h(
      'tr',
      { dataset: { mediaId: m.id } },
      h('td', {}, thumbButton(m, 'md')),
      h(
        'td',
        {},
        h('div', { class: 'fw-semibold' }, m.name),
        h('div', { class: 'small text-body-secondary' }, kindLabel(m), ' · ', fmtBytes(m.sizeBytes)),
      ),
      h(
        'td',
        {},
        m.tags.map((x) => h('span', { class: 'badge text-bg-light border me-1' }, x)),
      ),
      h(
        'td',
        { class: 'small' },
        m.department || '—',
        h('div', { class: 'text-body-secondary' }, users[m.uploadedBy] || `#${m.uploadedBy}`),
      ),
      h('td', { class: 'small text-nowrap' }, fmtDateTime(pending ? m.updatedAt : m.reviewedAt)),
      h('td', {}, pending ? badge(m.state) : badge(m.state)),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'd-flex flex-wrap gap-1' },
          h(
            'button',
            { class: 'btn btn-sm btn-outline-secondary', type: 'button', onclick: () => preview(m) },
            t('media.preview'),
          ),
          own
            ? h('span', { class: 'small text-body-secondary' }, t('approvals.ownUpload'))
            : [
                pending
                  ? actionButton('approvals.approve', 'btn-success', 'approve', async () => {
                      await post(`/api/v1/media/${m.id}/approve`);
                      notify(t('approvals.approved', { name: m.name }));
                      await reload();
                    })
                  : null,
                h(
                  'button',
                  {
                    class: 'btn btn-sm btn-outline-danger',
                    type: 'button',
                    dataset: { action: 'reject' },
                    onclick: () => reject(m, pending ? 'approvals.rejectTitle' : 'approvals.withdrawTitle'),
                  },
                  pending ? t('approvals.reject') : t('approvals.withdraw'),
                ),
                pending
                  ? null
                  : h(
                      'button',
                      {
                        class: 'btn btn-sm btn-danger',
                        type: 'button',
                        dataset: { action: 'recall' },
                        onclick: () => recall(m),
                      },
                      t('approvals.recall'),
                    ),
              ],
        ),
      ),
    );
  }

  async function reload() {
    const [pending, approved] = await Promise.all([
      get('/api/v1/media?state=pending'),
      get('/api/v1/media?state=approved'),
    ]);
    const head = [
      'media.colPreview',
      'media.name',
      'media.tags',
      'approvals.from',
      'approvals.when',
      'media.state',
      'common.actions',
    ];
    queueBox.replaceChildren(
      pending.media.length
        ? table(
            head,
            pending.media.map((m) => row(m, true)),
          )
        : empty('approvals.queueEmpty'),
    );
    doneBox.replaceChildren(
      approved.media.length
        ? table(
            head,
            approved.media.map((m) => row(m, false)),
          )
        : empty(),
    );
  }

  try {
    if (user.role === 'admin')
      users = Object.fromEntries((await get('/api/v1/users')).users.map((u) => [u.id, u.displayName || u.username]));
  } catch (_) {
    /* names are a nicety */
  }
  main.append(
    section('approvals.queue', h('p', { class: 'small text-body-secondary' }, t('approvals.queueHint')), queueBox),
    section('approvals.approvedList', doneBox),
  );
  await reload();
});
