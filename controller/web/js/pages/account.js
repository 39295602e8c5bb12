// 我的账户 / account (every role): change one's own password; personal API tokens
// for scripts (created here, shown once, listed, revoked).
import { boot } from '../app.js';
import { del, get, post, put } from '../api.js';
import { fmtDateTime, t } from '../i18n.js';
import { empty, h, section, table } from '../dom.js';
import { col, field, input, submitForm } from '../forms.js';
import { dangerButton, notify } from '../notices.js';

const MIN_PASSWORD = 8;

boot('account', async ({ user, main }) => {
  // --- password ---
  const current = input({ id: 'password-current', type: 'password', required: true, autocomplete: 'current-password' });
  const next = input({
    id: 'password-new',
    type: 'password',
    required: true,
    minlength: MIN_PASSWORD,
    autocomplete: 'new-password',
    'aria-describedby': 'password-hint',
  });
  const again = input({
    id: 'password-again',
    type: 'password',
    required: true,
    minlength: MIN_PASSWORD,
    autocomplete: 'new-password',
  });
  const pwStatus = h('div', { id: 'password-status', role: 'status', 'aria-live': 'polite', class: 'small' });
  const pwForm = submitForm(
    {
      id: 'password-form',
      class: 'row g-2',
    },
    async () => {
      pwStatus.textContent = '';
      if (next.value !== again.value) {
        pwStatus.textContent = t('account.passwordMismatch');
        pwStatus.className = 'small text-danger';
        again.setAttribute('aria-invalid', 'true');
        again.focus();
        return;
      }
      again.removeAttribute('aria-invalid');

      await put('/api/v1/me/password', { currentPassword: current.value, newPassword: next.value });
      pwForm.reset();
      pwStatus.textContent = t('account.passwordChanged');
      pwStatus.className = 'small text-success';
      notify(t('account.passwordChanged'));
    },
    col('col-md-4', 'account.currentPassword', current),
    h(
      'div',
      { class: 'col-md-4' },
      field('account.newPassword', next),
      h('div', { class: 'form-text', id: 'password-hint' }, t('account.passwordHint', { n: MIN_PASSWORD })),
    ),
    col('col-md-4', 'account.newPasswordAgain', again),
    h(
      'div',
      { class: 'col-12 d-flex gap-2 align-items-center' },
      h('button', { class: 'btn btn-primary', type: 'submit' }, t('account.changePassword')),
      pwStatus,
    ),
  );

  // --- API tokens ---
  const tokenBox = h('div', { id: 'api-token-list' });
  const tokenResult = h('div', { id: 'api-token-result', 'aria-live': 'polite' });
  let userNames = {};
  if (user.role === 'admin') {
    try {
      userNames = Object.fromEntries((await get('/api/v1/users')).users.map((u) => [u.id, u.username]));
    } catch (_) {
      /* names only */
    }
  }
  async function reload() {
    const tokens = (await get('/api/v1/tokens')).tokens;
    const head = [
      'account.tokenName',
      ...(user.role === 'admin' ? ['account.tokenOwner'] : []),
      'locations.createdAt',
      'account.lastUsed',
      'media.state',
      'common.actions',
    ];
    tokenBox.replaceChildren(
      tokens.length
        ? table(
            head,
            tokens.map((x) =>
              h(
                'tr',
                { dataset: { tokenId: x.id, state: x.revokedAt ? 'revoked' : 'active' } },
                h('td', { class: 'fw-semibold' }, x.name),
                user.role === 'admin' ? h('td', {}, userNames[x.userId] || `#${x.userId}`) : null,
                h('td', { class: 'small text-nowrap' }, fmtDateTime(x.createdAt)),
                h(
                  'td',
                  { class: 'small text-nowrap' },
                  x.lastUsedAt ? fmtDateTime(x.lastUsedAt) : t('account.neverUsed'),
                ),
                h(
                  'td',
                  {},
                  x.revokedAt
                    ? h(
                        'span',
                        { class: 'badge text-bg-secondary' },
                        t('account.revokedAt', { time: fmtDateTime(x.revokedAt) }),
                      )
                    : h('span', { class: 'badge text-bg-success' }, t('account.tokenActive')),
                ),
                h(
                  'td',
                  {},
                  x.revokedAt
                    ? null
                    : dangerButton(
                        {
                          labelKey: 'account.revoke',
                          titleKey: 'account.revokeTitle',
                          message: t('account.revokeConfirm', { name: x.name }),
                          attrs: { 'aria-label': t('account.revokeNamed', { name: x.name }) },
                        },
                        async () => {
                          await del(`/api/v1/tokens/${x.id}`);
                          notify(t('account.revoked', { name: x.name }));
                          await reload();
                        },
                      ),
                ),
              ),
            ),
          )
        : empty('common.noData', 'account.noTokens'),
    );
  }
  const tokenName = input({ id: 'api-token-name', required: true, maxlength: 100 });
  const tokenForm = submitForm(
    {
      id: 'api-token-form',
      class: 'row g-2',
    },
    async () => {
      const r = await post('/api/v1/tokens', { name: tokenName.value.trim() });
      const secret = h(
        'pre',
        {
          class: 'ms-command ms-token-secret',
          id: 'api-token-secret',
          tabindex: '0',
          'aria-label': t('account.tokenValue'),
        },
        r.token,
      );
      const example = h(
        'pre',
        { class: 'ms-command small' },
        `curl -H 'Authorization: Bearer ${r.token}' ${location.origin}/api/v1/me`,
      );
      tokenResult.replaceChildren(
        h(
          'div',
          { class: 'alert alert-info' },
          h('p', { class: 'mb-1 fw-semibold' }, t('account.tokenCreated', { name: r.name })),
          h('p', { class: 'small mb-2' }, t('account.tokenOnce')),
          secret,
          h(
            'button',
            {
              class: 'btn btn-sm btn-outline-primary mb-2',
              type: 'button',
              onclick: async () => {
                try {
                  await navigator.clipboard.writeText(r.token);
                  notify(t('account.tokenCopied'));
                } catch (_) {
                  const range = document.createRange();
                  range.selectNodeContents(secret);
                  getSelection().removeAllRanges();
                  getSelection().addRange(range);
                }
              },
            },
            t('account.copyToken'),
          ),
          h('p', { class: 'small mb-1' }, t('account.tokenUse')),
          example,
        ),
      );
      tokenForm.reset();
      await reload();
      secret.focus();
    },
    col('col-md-6', 'account.tokenName', tokenName, 'account.tokenNameHint'),
    h(
      'div',
      { class: 'col-md-3 mb-2 pt-md-4 mt-md-2' },
      h('button', { class: 'btn btn-primary w-100', type: 'submit' }, t('account.createToken')),
    ),
  );

  main.append(
    section(
      'account.profile',
      h(
        'dl',
        { class: 'row mb-0', id: 'account-profile' },
        h('dt', { class: 'col-sm-2' }, t('users.username')),
        h('dd', { class: 'col-sm-10' }, user.username),
        h('dt', { class: 'col-sm-2' }, t('users.displayName')),
        h('dd', { class: 'col-sm-10' }, user.displayName || '—'),
        h('dt', { class: 'col-sm-2' }, t('users.role')),
        h('dd', { class: 'col-sm-10' }, t(`role.${user.role}`)),
        h('dt', { class: 'col-sm-2' }, t('media.department')),
        h('dd', { class: 'col-sm-10' }, user.department || '—'),
      ),
    ),
    section('account.password', pwForm),
    section(
      'account.tokens',
      h('p', { class: 'small text-body-secondary' }, t('account.tokensHint')),
      tokenForm,
      tokenResult,
      h('h3', { class: 'h6 mt-3' }, t('account.tokenList')),
      tokenBox,
    ),
  );
  await reload();
});
