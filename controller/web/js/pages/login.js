// 登录 / login. After login, goes to ?next= (same-origin paths only) or the dashboard.
import { ApiError, get, post } from '../api.js';
import { h, uid } from '../dom.js';
import { input } from '../forms.js';
import { initI18n, lang, LANGS, setLang, t } from '../i18n.js';
import { safeNext as internalPath } from '../next.js';

function safeNext() {
  return internalPath(new URLSearchParams(location.search).get('next'), location.origin);
}

async function main() {
  await initI18n();
  document.title = `${t('login.title')} · ${t('app.name')}`;
  try {
    await get('/api/v1/me');
    location.replace(safeNext());
    return;
  } catch (_) {
    /* not logged in: show the form */
  }
  const userId = uid('u');
  const passId = uid('p');
  const message = h('div', { class: 'alert alert-danger py-2', role: 'alert', id: 'login-error', hidden: true });
  const user = input({ id: userId, name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const pass = input({
    id: passId,
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const submit = h('button', { class: 'btn btn-primary w-100', type: 'submit', id: 'login-submit' }, t('login.submit'));
  const form = h(
    'form',
    {
      class: 'ms-login-form',
      novalidate: false,
      onsubmit: async (ev) => {
        ev.preventDefault();
        message.hidden = true;
        submit.disabled = true;
        try {
          await post('/api/v1/login', { username: user.value.trim(), password: pass.value });
          location.replace(safeNext());
        } catch (e) {
          message.textContent =
            e instanceof ApiError && e.code === 'invalid_credentials'
              ? t('login.invalid')
              : e instanceof ApiError && e.status === 0
                ? t('app.unreachable')
                : `${t('login.failed')} (${e.message})`;
          message.hidden = false;
          pass.select();
          submit.disabled = false;
        }
      },
    },
    message,
    h('div', { class: 'mb-3' }, h('label', { class: 'form-label', for: userId }, t('login.username')), user),
    h('div', { class: 'mb-3' }, h('label', { class: 'form-label', for: passId }, t('login.password')), pass),
    submit,
  );
  const langSel = h(
    'select',
    {
      class: 'form-select form-select-sm w-auto',
      'aria-label': t('app.language'),
      id: 'ms-lang',
      onchange: (e) => {
        setLang(e.target.value);
        location.reload();
      },
    },
    LANGS.map((l) => h('option', { value: l, selected: l === lang() }, t(`lang.${l}`))),
  );
  document.body.replaceChildren(
    h(
      'main',
      { class: 'ms-login', id: 'main' },
      h(
        'div',
        { class: 'card ms-login-card shadow' },
        h(
          'div',
          { class: 'card-body p-4' },
          h(
            'div',
            { class: 'd-flex justify-content-between align-items-start mb-3' },
            h(
              'div',
              {},
              h('h1', { class: 'h4 mb-1' }, t('app.name')),
              h('p', { class: 'text-body-secondary mb-0 small' }, t('login.subtitle')),
            ),
            langSel,
          ),
          form,
          h('p', { class: 'small text-body-secondary mt-3 mb-0' }, t('login.hint')),
        ),
      ),
    ),
  );
  document.body.dataset.ready = 'true';
}

main();
