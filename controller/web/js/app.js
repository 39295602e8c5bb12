// The console shell: who is logged in, the role-aware navigation, the language
// switch and the live-takeover banner. Each page calls boot(pageId, render).
import { api, ApiError, get, post, setCsrf } from './api.js';
import { fmtDateTime, initI18n, lang, LANGS, setLang, t } from './i18n.js';
import { empty, h } from './dom.js';
import { confirmAction, notify, showError } from './notices.js';

const ALL = ['admin', 'editor', 'approver', 'auditor'];

// Pages, in menu order, with the roles that may open them (mirrors the API's
// role matrix in docs/controller-api.md).
export const NAV = [
  { page: 'dashboard', href: '/', key: 'nav.dashboard', roles: ALL },
  { page: 'media', href: '/media', key: 'nav.media', roles: ALL },
  { page: 'approvals', href: '/approvals', key: 'nav.approvals', roles: ['admin', 'approver'] },
  { page: 'playlists', href: '/playlists', key: 'nav.playlists', roles: ALL },
  { page: 'schedules', href: '/schedules', key: 'nav.schedules', roles: ALL },
  { page: 'takeover', href: '/takeover', key: 'nav.takeover', roles: ALL },
  { page: 'recalls', href: '/recalls', key: 'nav.recalls', roles: ALL },
  { page: 'locations', href: '/locations', key: 'nav.locations', roles: ALL },
  { page: 'reports', href: '/reports', key: 'nav.reports', roles: ALL },
  { page: 'audit', href: '/audit', key: 'nav.audit', roles: ['admin', 'auditor'] },
  { page: 'users', href: '/users', key: 'nav.users', roles: ['admin'] },
  // Reached from the user name at the top right, not from the menu.
  // An alert_feed account (an issuing system) reaches only this page: its password and API tokens.
  { page: 'account', href: '/account', key: 'nav.account', roles: [...ALL, 'alert_feed'], menu: false },
];

// What a role may change (the API enforces it; the console only hides what would fail).
export function permissions(role) {
  return {
    upload: role === 'admin' || role === 'editor',
    approve: role === 'admin' || role === 'approver',
    plan: role === 'admin' || role === 'editor',
    manageFleet: role === 'admin',
    manageUsers: role === 'admin',
    readAudit: role === 'admin' || role === 'auditor',
  };
}

function header(user, pageId) {
  const links = NAV.filter((n) => n.menu !== false && n.roles.includes(user.role)).map((n) =>
    h(
      'li',
      { class: 'nav-item' },
      h(
        'a',
        {
          class: `nav-link${n.page === pageId ? ' active' : ''}`,
          href: n.href,
          'aria-current': n.page === pageId ? 'page' : null,
          dataset: { nav: n.page },
        },
        t(n.key),
      ),
    ),
  );
  const langSelect = h(
    'select',
    {
      class: 'form-select form-select-sm ms-lang',
      id: 'ms-lang',
      'aria-label': t('app.language'),
      onchange: (e) => {
        setLang(e.target.value);
        location.reload();
      },
    },
    LANGS.map((l) => h('option', { value: l, selected: l === lang() }, t(`lang.${l}`))),
  );
  const logout = h(
    'button',
    {
      class: 'btn btn-sm btn-outline-light',
      type: 'button',
      id: 'ms-logout',
      onclick: async () => {
        try {
          await post('/api/v1/logout');
        } catch (_) {
          /* session may be gone already */
        }
        location.href = '/login';
      },
    },
    t('app.logout'),
  );
  return h(
    'header',
    { class: 'ms-header' },
    h('a', { class: 'ms-skip', href: '#main' }, t('app.skipToContent')),
    h(
      'nav',
      { class: 'navbar navbar-expand-lg navbar-dark ms-navbar', 'aria-label': t('app.mainNav') },
      h(
        'div',
        { class: 'container-fluid' },
        h(
          'a',
          { class: 'navbar-brand', href: '/' },
          h('span', { class: 'ms-logo', 'aria-hidden': 'true' }, '◆'),
          ' ',
          t('app.name'),
        ),
        h('ul', { class: 'navbar-nav me-auto flex-wrap', id: 'ms-nav' }, links),
        h(
          'div',
          { class: 'd-flex align-items-center gap-2 ms-userbox' },
          h(
            'a',
            {
              class: `navbar-text ms-user-link${pageId === 'account' ? ' active' : ''}`,
              id: 'ms-user',
              href: '/account',
              title: t('nav.account'),
              'aria-current': pageId === 'account' ? 'page' : null,
            },
            `${user.displayName || user.username} · ${t(`role.${user.role}`)}${user.department ? ` · ${user.department}` : ''}`,
          ),
          langSelect,
          logout,
        ),
      ),
    ),
  );
}

// The red banner shown on every page while a takeover is live, with a one-click
// cancel for those who may plan. Polls every 15 s.
function takeoverBanner(user) {
  const box = h('div', { id: 'ms-takeover-banner', class: 'ms-takeover-banner', role: 'alert', hidden: true });
  const canCancel = permissions(user.role).plan;
  async function refresh() {
    let list;
    try {
      list = (await get('/api/v1/takeovers?active=true')).takeovers || [];
    } catch (_) {
      return;
    }
    box.replaceChildren();
    box.hidden = list.length === 0;
    for (const tk of list) {
      box.append(
        h(
          'div',
          { class: 'ms-takeover-row', dataset: { takeover: tk.id } },
          h('strong', {}, t('takeover.liveBanner')),
          ' ',
          h('span', { class: 'ms-takeover-name' }, tk.name),
          ' ',
          h('span', {}, t('takeover.until', { time: fmtDateTime(tk.expiresAt) })),
          canCancel
            ? h(
                'button',
                {
                  class: 'btn btn-light btn-sm ms-2 ms-cancel-takeover',
                  type: 'button',
                  onclick: async (ev) => {
                    if (
                      !(await confirmAction(
                        'takeover.cancelTitle',
                        t('takeover.cancelConfirm', { name: tk.name }),
                        'takeover.cancel',
                        'btn-danger',
                      ))
                    )
                      return;
                    ev.target.disabled = true;
                    try {
                      await post(`/api/v1/takeovers/${tk.id}/cancel`);
                      notify(t('takeover.cancelled', { name: tk.name }));
                      await refresh();
                      document.dispatchEvent(new CustomEvent('ms:takeovers-changed'));
                    } catch (e) {
                      showError(e);
                      ev.target.disabled = false;
                    }
                  },
                },
                t('takeover.cancel'),
              )
            : null,
        ),
      );
    }
  }
  document.addEventListener('ms:takeovers-changed', refresh);
  refresh();
  setInterval(refresh, 15000);
  return box;
}

function forbidden() {
  return h(
    'div',
    { class: 'ms-forbidden alert alert-warning', role: 'alert', id: 'ms-forbidden' },
    h('h1', { class: 'h4' }, t('app.forbiddenTitle')),
    h('p', { class: 'mb-2' }, t('app.forbidden')),
    h('a', { href: '/', class: 'btn btn-primary btn-sm' }, t('app.backHome')),
  );
}

// Starts a page: translations, session (redirects to /login without one), shell,
// role check, then render({user, main, can}).
export async function boot(pageId, render) {
  try {
    await initI18n();
  } catch (e) {
    document.body.textContent = `Cannot load translations: ${e.message}`;
    return;
  }
  let me;
  try {
    me = await get('/api/v1/me');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    document.body.textContent = t('app.unreachable');
    return;
  }
  setCsrf(me.csrfToken);
  const user = me.user;
  const entry = NAV.find((n) => n.page === pageId);
  document.title = `${entry ? t(entry.key) : ''} · ${t('app.name')}`;
  const main = h('main', { id: 'main', class: 'container-fluid ms-main', tabindex: '-1' });
  document.body.replaceChildren(header(user, pageId), takeoverBanner(user), main);
  if (entry && !entry.roles.includes(user.role)) {
    main.append(forbidden());
    document.body.dataset.ready = 'forbidden';
    return;
  }
  main.append(h('h1', { class: 'h3 ms-page-title' }, t(entry.key)));
  try {
    await render({ user, main, can: permissions(user.role) });
  } catch (e) {
    showError(e);
    main.append(empty('common.loadFailed'));
  }
  document.body.dataset.ready = 'true';
}

export { api, t, empty };
