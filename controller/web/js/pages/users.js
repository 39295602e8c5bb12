// 用户 / users (admins): create users with a role and department, grant or take
// the fleetWide right (fleet-wide schedules and takeovers), disable and enable.
import { boot } from '../app.js';
import { get, patch, post } from '../api.js';
import { fmtDateTime, t } from '../i18n.js';
import { empty, h, section, table } from '../dom.js';
import { col, input, select, submitCol, submitForm } from '../forms.js';
import { busy, notify } from '../notices.js';

const ROLES = ['admin', 'editor', 'approver', 'auditor', 'alert_feed'];

boot('users', async ({ user: me, main }) => {
  const box = h('div', { id: 'user-list' });
  async function reload() {
    const users = (await get('/api/v1/users')).users;
    box.replaceChildren(
      users.length
        ? table(
            [
              'users.username',
              'users.displayName',
              'users.role',
              'media.department',
              'users.fleetWide',
              'users.createdAt',
              'media.state',
              'common.actions',
            ],
            users.map((u) =>
              h(
                'tr',
                { dataset: { userId: u.id } },
                h('td', { class: 'fw-semibold' }, u.username),
                h('td', {}, u.displayName),
                h('td', {}, t(`role.${u.role}`)),
                h('td', {}, u.department || '—'),
                h(
                  'td',
                  {},
                  u.role === 'admin'
                    ? h('span', { class: 'text-body-secondary small' }, t('users.fleetWideAdmin'))
                    : h('input', {
                        class: 'form-check-input',
                        type: 'checkbox',
                        checked: !!u.fleetWide,
                        'aria-label': t('users.fleetWide'),
                        dataset: { fleetWide: u.id },
                        onchange: (ev) =>
                          busy(ev.target, async () => {
                            await patch(`/api/v1/users/${u.id}`, { fleetWide: ev.target.checked });
                            await reload();
                          }),
                      }),
                ),
                h('td', { class: 'small text-nowrap' }, fmtDateTime(u.createdAt)),
                h(
                  'td',
                  {},
                  u.disabled
                    ? h('span', { class: 'badge text-bg-secondary' }, t('users.disabled'))
                    : h('span', { class: 'badge text-bg-success' }, t('users.active')),
                ),
                h(
                  'td',
                  {},
                  u.id === me.id
                    ? null
                    : h(
                        'button',
                        {
                          class: `btn btn-sm ${u.disabled ? 'btn-outline-success' : 'btn-outline-danger'}`,
                          type: 'button',
                          onclick: (ev) =>
                            busy(ev.target, async () => {
                              await patch(`/api/v1/users/${u.id}`, { disabled: !u.disabled });
                              await reload();
                            }),
                        },
                        u.disabled ? t('users.enable') : t('users.disable'),
                      ),
                ),
              ),
            ),
          )
        : empty(),
    );
  }
  const username = input({ id: 'user-username', required: true, maxlength: 64, autocomplete: 'off' });
  const display = input({ id: 'user-display', maxlength: 100 });
  const role = select(
    ROLES.map((r) => [r, t(`role.${r}`)]),
    'editor',
    { id: 'user-role' },
  );
  const dept = input({ id: 'user-department', maxlength: 100 });
  const fleetWide = h('input', { class: 'form-check-input', id: 'user-fleet-wide', type: 'checkbox' });
  const password = input({
    id: 'user-password',
    type: 'password',
    required: true,
    minlength: 8,
    autocomplete: 'new-password',
  });
  const form = submitForm(
    {
      id: 'user-form',
      class: 'row g-2',
    },
    async () => {
      const body = { username: username.value.trim(), password: password.value, role: role.value };
      if (display.value.trim()) body.displayName = display.value.trim();
      if (dept.value.trim()) body.department = dept.value.trim();
      if (fleetWide.checked) body.fleetWide = true;
      const u = await post('/api/v1/users', body);
      notify(t('users.created', { name: u.username }));
      form.reset();
      await reload();
    },
    col('col-md-2', 'users.username', username),
    col('col-md-2', 'users.displayName', display),
    col('col-md-2', 'users.role', role),
    col('col-md-2', 'media.department', dept, 'users.departmentHint'),
    col('col-md-2', 'users.password', password, 'users.passwordHint'),
    h(
      'div',
      { class: 'col-md-1 d-flex flex-column justify-content-end mb-2' },
      h(
        'div',
        { class: 'form-check', title: t('users.fleetWideHint') },
        fleetWide,
        h('label', { class: 'form-check-label', for: 'user-fleet-wide' }, t('users.fleetWide')),
      ),
    ),
    submitCol('users.create', 'col-md-1'),
  );
  main.append(section('users.all', box), section('users.new', form));
  await reload();
});
