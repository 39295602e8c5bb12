// End-to-end test of the web console in Debian's headless Chromium, driven by
// playwright-core, against a real microscape-controller on an ephemeral port
// with a temporary data directory.
//
//   node console_test.mjs CONTROLLER_BIN ARTIFACT_DIR
//
// Screenshots of every page go to ARTIFACT_DIR. Exit 0 when every step passed.
// A real headless screen (microscape-player, found beside CONTROLLER_BIN or at
// $MICROSCAPE_PLAYER_BIN) is enrolled with a token made in the console and plays
// the schedule; its evidence export is checked with microscape-pack (beside the
// controller or $MICROSCAPE_PACK_BIN).
//
// With MICROSCAPE_DOC_SHOTS=DIR the browser runs at 1280x800 and the pages the
// documentation shows are also written to DIR (zh-CN, PNG).
import { chromium } from 'playwright-core';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

const [bin, artifactArg] = process.argv.slice(2);
if (!bin) {
  console.error('usage: node console_test.mjs CONTROLLER_BIN [ARTIFACT_DIR]');
  process.exit(2);
}
const artifacts = path.resolve(artifactArg || 'test-artifacts/console');
fs.mkdirSync(artifacts, { recursive: true });
for (const f of fs.readdirSync(artifacts))
  if (f.endsWith('.png') || f.endsWith('.csv')) fs.rmSync(path.join(artifacts, f));
const chromiumPath = process.env.MICROSCAPE_CHROMIUM || '/usr/bin/chromium';
const playerBin = path.resolve(process.env.MICROSCAPE_PLAYER_BIN || path.join(path.dirname(bin), 'microscape-player'));
const packBin = path.resolve(process.env.MICROSCAPE_PACK_BIN || path.join(path.dirname(bin), 'microscape-pack'));
const docShots = process.env.MICROSCAPE_DOC_SHOTS ? path.resolve(process.env.MICROSCAPE_DOC_SHOTS) : null;
if (docShots) fs.mkdirSync(docShots, { recursive: true });
const convert = process.env.MICROSCAPE_CONVERT || '/usr/bin/convert';
const cjkFont = '/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-console-'));
const dataDir = path.join(tmp, 'data');
const ADMIN_PASSWORD = 'admin-password-1';
const APPROVER_NEW_PASSWORD = 'approver-pass-2';
const USERS = {
  editor: {
    username: 'zhang.wei',
    password: 'editor-pass-1',
    role: 'editor',
    department: '反诈中心',
    displayName: '张伟',
  },
  approver: { username: 'li.na', password: 'approver-pass-1', role: 'approver', displayName: '李娜' },
  auditor: { username: 'wang.fang', password: 'auditor-pass-1', role: 'auditor', displayName: '王芳' },
};
const POSTERS = ['反诈海报-守护钱袋.png', '反诈海报-谨防刷单.png'];
const VIDEO = '禁毒宣传片.mp4';
const PLAYLIST = '反诈宣传循环';
const LOCATION = '万达广场地下车库入口';

let controller = null;
let player = null;
let context = null;
let passed = 0;
let page = null;

function cleanup() {
  if (player && player.exitCode === null) player.kill('SIGTERM');
  if (controller && controller.exitCode === null) controller.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    console.log(
      `not ok - ${name}\n  ${String(e && e.stack ? e.stack : e)
        .split('\n')
        .join('\n  ')}`,
    );
    if (page)
      await page
        .screenshot({ path: path.join(artifacts, `FAILED-${name.replace(/[^\w-]+/g, '_')}.png`), fullPage: true })
        .catch(() => {});
    console.log(`${passed} passed, 1 failed`);
    if (context) await context.close().catch(() => {});
    cleanup();
    process.exit(1);
  }
}

// page.waitForFunction evaluates strings, which the console's Content-Security-Policy
// forbids; poll page.evaluate instead.
async function waitUntil(fn, arg, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(fn, arg).catch(() => false)) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${fn.toString().slice(0, 120)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

async function shot(name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

// A documentation screenshot (only with MICROSCAPE_DOC_SHOTS): the 1280x800
// viewport as a user sees it, reduced to 256 colours to keep the file small.
async function docShot(name) {
  if (!docShots) return;
  const file = path.join(docShots, `${name}.png`);
  // Without focus rings and the passing notices ("已保存"), which would date the picture.
  await page.evaluate(() => {
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    document.getElementById('ms-toasts')?.replaceChildren();
  });
  await page.screenshot({ path: file });
  spawnSync(convert, [file, '+dither', '-colors', '256', '-define', 'png:compression-level=9', `PNG8:${file}`]);
}

// --- the controller -------------------------------------------------------------------
function startController() {
  const init = spawnSync(bin, ['--data-dir', dataDir, '--init-admin', 'admin'], {
    env: { ...process.env, MICROSCAPE_ADMIN_PASSWORD: ADMIN_PASSWORD },
    encoding: 'utf8',
  });
  if (init.status !== 0) throw new Error(`--init-admin failed: ${init.stderr}`);
  return new Promise((resolve, reject) => {
    controller = spawn(bin, ['--data-dir', dataDir, '--http-port', '0', '--zmq-port', '0', '--bind', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`controller did not start:\n${out}`)), 20000);
    const onData = (d) => {
      out += d;
      const m = out.match(/listening on (https:\/\/[\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    controller.stdout.on('data', onData);
    controller.stderr.on('data', onData);
    controller.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`controller exited (${code}):\n${out}`));
    });
  });
}

// The controller serves HTTPS with the self-signed certificate it made at its
// first start. Node trusts exactly that certificate (the URL's 127.0.0.1 is in
// it); Chromium accepts the key by its SPKI hash.
let tlsCert = null;
function loadTlsCert() {
  tlsCert = fs.readFileSync(path.join(dataDir, 'keys', 'tls-cert.pem'));
}
function spkiHashBase64() {
  const spki = new crypto.X509Certificate(tlsCert).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}
// fetch() for Node over HTTPS with the controller's certificate as the only CA.
function nodeFetch(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: tlsCert }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode,
          ok: res.statusCode >= 200 && res.statusCode < 300,
          headers: {
            get: (n) => {
              const v = res.headers[n.toLowerCase()];
              return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
            },
          },
          text: async () => text,
          json: async () => JSON.parse(text),
        });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// A tiny API client for set-up and for checking what the pages show.
class Api {
  constructor(base) {
    this.base = base;
    this.cookie = '';
    this.csrf = '';
  }
  async call(method, p, body) {
    const headers = { Accept: 'application/json' };
    if (this.cookie) headers.Cookie = this.cookie;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    const r = await nodeFetch(this.base + p, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const setCookie = r.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0];
    const text = await r.text();
    const json = text ? JSON.parse(text) : null;
    if (!r.ok) throw new Error(`${method} ${p} -> ${r.status} ${text}`);
    return json;
  }
  async login(username, password) {
    this.csrf = (await this.call('POST', '/api/v1/login', { username, password })).csrfToken;
  }
}

function makePoster(file, text, colour) {
  const r = spawnSync(
    convert,
    [
      '-size',
      '1280x720',
      `xc:${colour}`,
      '-font',
      cjkFont,
      '-pointsize',
      '84',
      '-fill',
      '#ffd400',
      '-gravity',
      'center',
      '-annotate',
      '+0-60',
      text,
      '-pointsize',
      '40',
      '-fill',
      'white',
      '-annotate',
      '+0+80',
      '天河公安分局 · 普法宣传',
      '-depth',
      '8',
      file,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`convert failed: ${r.stderr}`);
}

// --- browser helpers -------------------------------------------------------------------------
async function login(base, who, password) {
  await page.goto(`${base}/login`);
  await page.waitForSelector('body[data-ready=true]');
  await page.fill('input[name=username]', who);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('#login-submit')]);
  await page.waitForSelector('body[data-ready]');
}

async function logout() {
  await Promise.all([page.waitForURL(/\/login/), page.click('#ms-logout')]);
}

async function open(base, p) {
  await page.goto(base + p);
  await page.waitForSelector('body[data-ready]');
}

async function navPages() {
  return page.$$eval('#ms-nav a', (as) => as.map((a) => a.dataset.nav));
}

// Every visible form control on the page has a label (a <label for>, aria-label or
// aria-labelledby), so screen readers name it.
async function assertLabelled(where) {
  const bad = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter(
        (el) =>
          el.type !== 'hidden' &&
          !el.closest('[hidden]') &&
          !(el.labels && el.labels.length) &&
          !el.getAttribute('aria-label') &&
          !el.getAttribute('aria-labelledby'),
      )
      .map((el) => el.id || el.name || el.outerHTML.slice(0, 100)),
  );
  assert(bad.length === 0, `${where}: controls without a label: ${bad.join(', ')}`);
}

// Confirms the open <dialog> by its button text.
async function confirmDialog(buttonText) {
  await page.locator('dialog[open] button', { hasText: buttonText }).click();
  await page.waitForSelector('dialog[open]', { state: 'detached' });
}

// Drops files on an element the way a user's drag from the file manager does.
async function dropFiles(selector, files) {
  const payload = files.map((f) => ({
    name: path.basename(f),
    type: f.endsWith('.mp4') ? 'video/mp4' : 'image/png',
    data: fs.readFileSync(f).toString('base64'),
  }));
  const dt = await page.evaluateHandle((list) => {
    const t = new DataTransfer();
    for (const f of list) {
      const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
      t.items.add(new File([bytes], f.name, { type: f.type }));
    }
    return t;
  }, payload);
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: dt });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: dt });
}

// --- the scenario ------------------------------------------------------------------------
const errors = [];
let base;
let admin;

await step('controller starts on an ephemeral port with a temporary data directory', async () => {
  base = await startController();
  loadTlsCert();
  admin = new Api(base);
  await admin.login('admin', ADMIN_PASSWORD);
  for (const u of Object.values(USERS)) {
    const body = { username: u.username, password: u.password, role: u.role, displayName: u.displayName };
    if (u.department) body.department = u.department;
    await admin.call('POST', '/api/v1/users', body);
  }
  makePoster(path.join(tmp, POSTERS[0]), '反诈防骗 守护钱袋', '#0b3d91');
  makePoster(path.join(tmp, POSTERS[1]), '刷单返利 都是诈骗', '#7a1020');
  const v = spawnSync(
    'ffmpeg',
    [
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=640x360:rate=25',
      '-t',
      '2',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-movflags',
      '+faststart',
      path.join(tmp, VIDEO),
    ],
    { encoding: 'utf8' },
  );
  if (v.status !== 0) throw new Error(`ffmpeg failed: ${v.stderr}`);
});

// A GET with the path sent exactly as given (no URL normalisation).
function rawGet(p) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: u.hostname, port: u.port, path: p, method: 'GET', ca: tlsCert }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

await step(
  "the controller serves the console, Debian's libraries under /vendor/, and nothing outside them",
  async () => {
    const index = await rawGet('/');
    assert(index.status === 200 && /text\/html/.test(index.headers['content-type']), `GET / -> ${index.status}`);
    assert(/script-src 'self'/.test(index.headers['content-security-policy'] || ''), 'CSP on HTML');
    assert(/max-age=\d+/.test(index.headers['strict-transport-security'] || ''), 'HSTS over HTTPS');
    const again = await new Promise((resolve) =>
      https.get(
        {
          host: new URL(base).hostname,
          port: new URL(base).port,
          path: '/',
          ca: tlsCert,
          headers: { 'If-None-Match': index.headers.etag },
        },
        (r) => {
          r.resume();
          resolve(r.statusCode);
        },
      ),
    );
    assert(again === 304, `revalidation -> ${again}`);
    for (const lib of ['/vendor/bootstrap5/css/bootstrap.min.css', '/vendor/chart.js/chart.min.js']) {
      const r = await rawGet(lib);
      assert(r.status === 200 && r.body.length > 1000, `${lib} -> ${r.status}`);
    }
    for (const bad of [
      '/../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/vendor/../../../etc/passwd',
      '/vendor/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/js/..%2f..%2f..%2fetc/passwd',
      '/vendor/',
      '/nope.html',
    ]) {
      const r = await rawGet(bad);
      assert(r.status === 404 && !r.body.includes('root:'), `${bad} -> ${r.status}`);
    }
    const api = await rawGet('/api/v1/no-such-route');
    assert(api.status === 404 && /"not_found"/.test(api.body), 'API 404s stay JSON');
  },
);

await step('browser starts (Debian chromium, fresh profile)', async () => {
  const profile = fs.mkdtempSync(path.join(tmp, 'profile-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    acceptDownloads: true,
    locale: 'zh-CN',
    timezoneId: 'UTC',
    // Under tests/deploy/fixed_instants.sh the controller and players run on a moved
    // clock; Chromium does not start with libfaketime loaded, so it keeps the real one.
    env: Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== 'LD_PRELOAD' && !k.startsWith('FAKETIME')),
    ),
    viewport: docShots ? { width: 1280, height: 800 } : { width: 1440, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--lang=zh-CN',
      `--ignore-certificate-errors-spki-list=${spkiHashBase64()}`,
    ],
  });
  context.setDefaultTimeout(15000);
  // Under tests/deploy/fixed_instants.sh this script and the controller run on a
  // moved clock and Chromium on the real one: the console takes "today" from the
  // controller's Date header (controller/web/js/clock.js), as it would on a staff
  // PC whose clock is wrong.
  page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  // Every 4xx/5xx the pages cause, except the ones this test provokes on purpose.
  page.on('response', (r) => {
    const u = new URL(r.url());
    const expected =
      (r.status() === 401 && u.pathname === '/api/v1/me') ||
      (r.status() === 401 && u.pathname === '/api/v1/login') ||
      (r.status() === 403 && /\/approve$/.test(u.pathname)) ||
      (r.status() === 404 && /^\/api\/v1\/players\/[^/]+\/preview$/.test(u.pathname)); // no screenshot yet
    if (r.status() >= 400 && !expected)
      errors.push(`HTTP ${r.status()} ${r.request().method()} ${u.pathname}${u.search}`);
  });
});

await step('login page renders in Chinese and refuses a wrong password', async () => {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login\?next=/);
  await page.waitForSelector('body[data-ready=true]');
  assert((await page.textContent('h1')).includes('微景观'), 'Chinese title');
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', 'wrong-password');
  await page.click('#login-submit');
  await page.waitForSelector('#login-error:not([hidden])');
  assert((await page.textContent('#login-error')).includes('用户名或密码错误'), 'wrong password message');
  await shot('01-login');
  if (docShots) {
    await page.goto(`${base}/login`);
    await page.waitForSelector('body[data-ready=true]');
    await page.fill('input[name=username]', USERS.editor.username);
    await docShot('login');
  }
});

await step('admin sees every page in the navigation and the dashboard', async () => {
  await login(base, 'admin', ADMIN_PASSWORD);
  const nav = await navPages();
  for (const p of [
    'dashboard',
    'media',
    'approvals',
    'playlists',
    'schedules',
    'takeover',
    'locations',
    'reports',
    'audit',
    'users',
  ])
    assert(nav.includes(p), `admin nav has ${p}`);
  await page.waitForSelector('#dashboard-stats');
  await shot('02-dashboard');
});

let enrollCommand = '';
await step('admin creates a garage location and an enrolment token with the technician command', async () => {
  await open(base, '/locations');
  await page.click('#location-new summary');
  await page.fill('#location-name', LOCATION);
  await page.selectOption('#location-venue', 'garage_entrance');
  await page.fill('#location-district', '天河区');
  await page.fill('#location-admin-code', '440106'); // GB/T 2260: 广州市天河区, what CAP alerts name
  await page.fill('#location-address', '天河路 218 号 B1');
  await page.fill('#location-tags', '商圈, 地铁');
  await page.click('#location-form button[type=submit]');
  await page.waitForSelector(`#location-list tr:has-text("${LOCATION}")`);
  await page.fill('#token-name', '车库入口 1 号屏');
  await page.selectOption('#token-location', { label: LOCATION });
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#enroll-command');
  enrollCommand = (await page.textContent('#enroll-command')).trim();
  const re = new RegExp(
    `^microscape-player enroll --controller-http ${base.replace(/[.]/g, '\\.')} --token enr_\\S+ --content-key-hash sha256:[0-9a-f]{64} --tls-key-hash sha256:[0-9a-f]{64} --data-dir \\S+$`,
  );
  assert(re.test(enrollCommand), `technician command: ${enrollCommand}`);
  await shot('03-locations');
  await docShot('locations-enrol');
});

let playerId = '';
let scheduledAtMs = 0; // when the garage schedule was saved
await step("a headless screen enrols with the console's token and connects", async () => {
  assert(fs.existsSync(playerBin), `${playerBin} not built (cmake --build ... --target microscape-player)`);
  // The technician's command exactly as the console shows it, with this data directory.
  const playerDir = path.join(tmp, 'player');
  const words = enrollCommand.split(/\s+/);
  assert(words[0] === 'microscape-player' && words[1] === 'enroll', `command: ${enrollCommand}`);
  words[words.indexOf('--data-dir') + 1] = playerDir;
  const r = spawnSync(playerBin, words.slice(1), { encoding: 'utf8' });
  assert(r.status === 0, `enroll exited ${r.status}: ${r.stdout}${r.stderr}`);
  playerId = JSON.parse(fs.readFileSync(path.join(playerDir, 'player.json'), 'utf8')).player_id;
  const log = fs.openSync(path.join(artifacts, 'player.log'), 'w');
  player = spawn(playerBin, ['run', '--data-dir', playerDir, '--width', '640', '--height', '360'], {
    stdio: ['ignore', log, log],
  });
  const until = Date.now() + 20000;
  for (;;) {
    const p = await admin.call('GET', `/api/v1/players/${playerId}`);
    if (p.online) {
      const loc = (await admin.call('GET', '/api/v1/locations')).locations.find((l) => l.name === LOCATION);
      assert(p.locationId === loc.id, 'the screen is at the garage location of its token');
      break;
    }
    assert(player.exitCode === null, `player exited (${player.exitCode}); see player.log`);
    assert(Date.now() < until, 'the screen did not come online');
    await new Promise((res) => setTimeout(res, 200));
  }
});

await step('admin sees the users page and gives the editor the fleet-wide right (全网发布)', async () => {
  await open(base, '/users');
  await page.waitForSelector(`#user-list tr:has-text("${USERS.editor.username}")`);
  const box = `#user-list tr:has-text("${USERS.editor.username}") input[data-fleet-wide]`;
  assert(!(await page.isChecked(box)), 'a new editor has no fleet-wide right');
  await page.check(box);
  for (const until = Date.now() + 15000; ; ) {
    if ((await admin.call('GET', '/api/v1/users')).users.find((u) => u.username === USERS.editor.username).fleetWide)
      break;
    if (Date.now() > until) throw new Error('the fleet-wide right did not reach the API');
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.waitForSelector(`${box}:checked`);
  await shot('04-users');
  await logout();
});

let mediaIds = [];
await step(
  'editor uploads two posters and a video with Chinese names by drag and drop and sees each progress bar finish',
  async () => {
    await login(base, USERS.editor.username, USERS.editor.password);
    await open(base, '/media');
    await page.check('input[type=checkbox][value="反诈防骗"]');
    // For the documentation only: a slow link, so the picture shows the bars moving.
    const cdp = docShots ? await context.newCDPSession(page) : null;
    if (cdp)
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: 24 * 1024,
      });
    await dropFiles(
      '#dropzone',
      [...POSTERS, VIDEO].map((p) => path.join(tmp, p)),
    );
    if (cdp) {
      await waitUntil(
        () => [...document.querySelectorAll('.ms-upload-row progress')].some((p) => p.value >= 25 && p.value <= 80),
        undefined,
        30000,
      ).catch(() => {});
      await docShot('media-upload');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
    }
    for (const name of [...POSTERS, VIDEO]) {
      const row = page.locator(`.ms-upload-row[data-file="${name}"]`);
      await row.locator('[data-status]').or(row).first().waitFor();
      await page.waitForSelector(`.ms-upload-row[data-file="${name}"][data-status=done]`);
      assert(
        await row.locator('progress').evaluate((p) => p.value === 100 && p.max === 100),
        `${name}: progress bar full`,
      );
      assert((await row.locator('.ms-upload-pct').textContent()) === '100%', `${name}: 100%`);
    }
    mediaIds = await page.$$eval('.ms-upload-row[data-status=done]:not([data-file$=".mp4"])', (rows) =>
      rows.map((r) => Number(r.dataset.mediaId)),
    );
    assert(mediaIds.length === 2, 'two poster uploads');
    const listed = (await admin.call('GET', '/api/v1/media')).media;
    for (const name of POSTERS) {
      const m = listed.find((x) => x.fileName === name);
      assert(
        m && m.state === 'draft' && m.department === USERS.editor.department && m.tags.includes('反诈防骗'),
        `${name} stored as a tagged draft`,
      );
    }
    await page.waitForSelector('#media-list tr[data-state=draft]');
    await shot('05-media-uploaded');
  },
);

await step('editor previews the video in the page: it plays, with its probed duration', async () => {
  const video = (await admin.call('GET', '/api/v1/media?kind=video')).media.find((m) => m.fileName === VIDEO);
  assert(video && Math.abs(video.durationMs - 2000) < 300, `probed duration ${video && video.durationMs}`);
  const row = page.locator(`#media-list tr[data-media-id="${video.id}"]`);
  assert((await row.locator('.ms-thumb-duration').textContent()) === '0:02', 'duration on the thumbnail');
  await row.locator('[data-action=preview]').click();
  await page.waitForSelector('dialog[open] video.ms-preview-media');
  await waitUntil(() => {
    const v = document.querySelector('dialog[open] video.ms-preview-media');
    return v.readyState >= 2 && v.currentTime > 0 && Math.abs(v.duration - 2) < 0.3;
  });
  await shot('05b-media-video-preview');
  await confirmDialog('关闭');
});

await step('editor submits both posters for approval', async () => {
  for (const name of POSTERS) await page.click(`.ms-upload-row[data-file="${name}"] .ms-upload-submit`);
  await waitUntil(() => document.querySelectorAll('#media-list tr[data-state=pending]').length === 2);
  await shot('06-media-submitted');
});

await step('editor writes a text slogan, sees the banner live in the page and creates it', async () => {
  const text = '全民反诈 守护平安';
  await page.fill('#slogan-text', text);
  await page.fill('#slogan-color', '#777777');
  await page.fill('#slogan-background', '#888888');
  await waitUntil(() => document.querySelector('#slogan-contrast').classList.contains('text-danger'));
  await page.fill('#slogan-color', '#ffffff');
  await page.fill('#slogan-background', '#0b3d91');
  await page.fill('#slogan-size', '120');
  await page.fill('#slogan-speed', '0');
  await page.dispatchEvent('#slogan-form', 'input');
  await waitUntil(() => document.querySelector('#slogan-contrast').classList.contains('text-success'));
  await waitUntil(() => {
    const b = document.querySelector('#slogan-preview');
    const s = b.querySelector('.ms-slogan-text');
    return (
      s.textContent === '全民反诈 守护平安' &&
      getComputedStyle(b).backgroundColor === 'rgb(11, 61, 145)' &&
      getComputedStyle(b).color === 'rgb(255, 255, 255)' &&
      b.dataset.scrolling === 'false'
    );
  });
  // 120 px on a 1920-wide screen, scaled to the preview's width.
  const ratio = await page.$eval(
    '#slogan-preview',
    (b) => parseFloat(getComputedStyle(b.querySelector('.ms-slogan-text')).fontSize) / ((120 * b.clientWidth) / 1920),
  );
  assert(Math.abs(ratio - 1) < 0.02, `preview font size ratio ${ratio}`);
  await page.fill('#slogan-speed', '300');
  await page.dispatchEvent('#slogan-form', 'input');
  await waitUntil(() => document.querySelector('#slogan-preview').dataset.scrolling === 'true');
  const x0 = await page.$eval('#slogan-preview .ms-slogan-text', (e) => parseFloat(e.style.left));
  // The banner scrolls: its position moves on (waited for, not slept on).
  await waitUntil(
    (start) => parseFloat(document.querySelector('#slogan-preview .ms-slogan-text').style.left) !== start,
    x0,
  );
  await page.locator('#slogan-form').scrollIntoViewIfNeeded();
  await docShot('media-slogan');
  await assertLabelled('media page');
  await page.click('#slogan-submit');
  await page.waitForSelector('#slogan-result [data-media-id]');
  const id = Number(await page.getAttribute('#slogan-result [data-media-id]', 'data-media-id'));
  const m = await admin.call('GET', `/api/v1/media/${id}`);
  assert(
    m.kind === 'text' && m.state === 'draft' && m.slogan.text === text && m.department === USERS.editor.department,
    `stored slogan ${JSON.stringify(m)}`,
  );
  const st = m.slogan.style;
  assert(
    st.color.toLowerCase() === '#ffffff' &&
      st.background.toLowerCase() === '#0b3d91' &&
      st.fontSizePx === 120 &&
      st.scrollSpeedPxPerS === 300,
    `style ${JSON.stringify(st)}`,
  );
  await page.waitForSelector(`#media-list tr[data-media-id="${id}"] .ms-thumb-text`);
});

await step('editor cannot see or reach the approval, users and audit pages', async () => {
  const nav = await navPages();
  for (const p of ['approvals', 'users', 'audit']) assert(!nav.includes(p), `editor nav lacks ${p}`);
  for (const p of ['/approvals', '/users', '/audit']) {
    await open(base, p);
    await page.waitForSelector('#ms-forbidden');
    assert((await page.locator('#main table').count()) === 0, `${p} shows no data to an editor`);
  }
  await shot('07-editor-forbidden');
  // The API refuses too, from the editor's own browser session.
  const status = await page.evaluate(async (id) => {
    const me = await (await fetch('/api/v1/me')).json();
    const r = await fetch(`/api/v1/media/${id}/approve`, { method: 'POST', headers: { 'X-CSRF-Token': me.csrfToken } });
    return r.status;
  }, mediaIds[0]);
  assert(status === 403, `approve as editor -> ${status}`);
  await logout();
});

await step('approver previews and approves both posters from the queue', async () => {
  await login(base, USERS.approver.username, USERS.approver.password);
  assert((await navPages()).includes('approvals'), 'approver nav has approvals');
  await open(base, '/approvals');
  await page.waitForSelector('#approval-queue tr[data-media-id]');
  await shot('08-approvals-queue');
  await docShot('approvals');
  await page.click(`#approval-queue tr[data-media-id="${mediaIds[0]}"] .ms-thumb-button`);
  await page.waitForSelector('dialog[open] img.ms-preview-media');
  await waitUntil(() => document.querySelector('dialog[open] img.ms-preview-media').naturalWidth === 1280);
  await shot('09-approval-preview');
  await confirmDialog('关闭');
  for (const id of mediaIds) {
    await page.click(`#approval-queue tr[data-media-id="${id}"] [data-action=approve]`);
    await page.waitForSelector(`#approval-done tr[data-media-id="${id}"]`);
  }
  const approved = (await admin.call('GET', '/api/v1/media?state=approved')).media.map((m) => m.id);
  assert(
    mediaIds.every((id) => approved.includes(id)),
    'both approved in the API',
  );
  await shot('10-approvals-done');
});

await step('approver changes her own password from "my account" and logs in with the new one', async () => {
  await page.click('#ms-user');
  await page.waitForURL(/\/account$/);
  await page.waitForSelector('#password-form');
  await page.fill('#password-current', USERS.approver.password);
  await page.fill('#password-new', APPROVER_NEW_PASSWORD);
  await page.fill('#password-again', 'something-else-1');
  await page.click('#password-form button[type=submit]');
  await page.waitForSelector('#password-status.text-danger');
  await page.fill('#password-again', APPROVER_NEW_PASSWORD);
  await page.click('#password-form button[type=submit]');
  await page.waitForSelector('#password-status.text-success');
  await shot('10b-account-password');
  await logout();
  await page.fill('input[name=username]', USERS.approver.username);
  await page.fill('input[name=password]', USERS.approver.password);
  await page.click('#login-submit');
  await page.waitForSelector('#login-error:not([hidden])');
  await login(base, USERS.approver.username, APPROVER_NEW_PASSWORD);
  assert((await navPages()).includes('approvals'), 'logged in with the new password');
  await logout();
});

await step('editor builds a playlist by drag and drop, reorders it and sets still durations', async () => {
  await login(base, USERS.editor.username, USERS.editor.password);
  await open(base, '/playlists');
  await page.click('#new-playlist');
  await page.fill('#playlist-name', PLAYLIST);
  await page.locator(`#playlist-library li[data-media-id="${mediaIds[0]}"]`).dragTo(page.locator('#playlist-drop'));
  await page.waitForSelector(`#playlist-items li[data-media-id="${mediaIds[0]}"]`);
  await page.locator(`#playlist-library li[data-media-id="${mediaIds[1]}"]`).dragTo(page.locator('#playlist-drop'));
  await page.waitForSelector(`#playlist-items li[data-media-id="${mediaIds[1]}"]`);
  // Drag the second item above the first.
  await page.locator('#playlist-items li[data-index="1"]').dragTo(page.locator('#playlist-items li[data-index="0"]'));
  const order = await page.$$eval('#playlist-items li', (lis) => lis.map((li) => Number(li.dataset.mediaId)));
  assert(order[0] === mediaIds[1] && order[1] === mediaIds[0], `reordered: ${order}`);
  const durations = page.locator('#playlist-items input.ms-duration');
  await durations.nth(0).fill('15');
  await durations.nth(0).dispatchEvent('change');
  await page.locator('#playlist-items input.ms-duration').nth(1).fill('20');
  await page.locator('#playlist-items input.ms-duration').nth(1).dispatchEvent('change');
  await waitUntil(() => document.querySelector('#playlist-total').textContent.includes('0:35'));
  await page.click('#playlist-save');
  await page.waitForSelector(`#playlist-list li:has-text("${PLAYLIST}")`);
  const pl = (await admin.call('GET', '/api/v1/playlists')).playlists.find((p) => p.name === PLAYLIST);
  assert(
    pl && pl.loopDurationMs === 35000 && pl.items[0].mediaId === mediaIds[1] && pl.items[0].durationMs === 15000,
    `stored playlist ${JSON.stringify(pl && pl.items)}`,
  );
  await shot('11-playlists');
  await docShot('playlists');
});

await step('editor creates a campaign and schedules the playlist on garage entrances', async () => {
  await open(base, '/schedules');
  await page.click('#campaign-new summary');
  await page.fill('#campaign-name', '反诈宣传周');
  await page.selectOption('#campaign-theme', '反诈防骗');
  await page.click('#campaign-form button[type=submit]');
  await page.waitForSelector('#campaign-list tr:has-text("反诈宣传周")');
  await page.fill('#schedule-name', '车库入口反诈循环');
  await page.selectOption('#schedule-playlist', { label: PLAYLIST });
  await page.selectOption('#schedule-campaign', { index: 1 });
  // The page may still be redrawing the target picker after the campaign list
  // reloaded (a click then lands on an input that is being replaced): check until
  // the box stays checked.
  const garageBox = '#schedule-form input[data-value=garage_entrance]';
  for (let i = 0; i < 20 && !(await page.isChecked(garageBox)); i++) {
    await page.check(garageBox, { timeout: 3000 }).catch(() => {});
    if (!(await page.isChecked(garageBox))) await page.waitForTimeout(200);
  }
  assert(await page.isChecked(garageBox), 'the garage entrance box stays checked');
  await waitUntil(() => document.querySelector('#schedule-form .ms-target-reach').textContent.length > 0);
  await page.click('#schedule-submit');
  await page.waitForSelector('#schedule-list tr:has-text("车库入口反诈循环")');
  scheduledAtMs = Date.now();
  const s = (await admin.call('GET', '/api/v1/schedules')).schedules.find((x) => x.name === '车库入口反诈循环');
  assert(
    s && JSON.stringify(s.target.venueTypes) === '["garage_entrance"]' && s.campaignId,
    `stored schedule ${JSON.stringify(s)}`,
  );
});

await step('a legal-education day suggests its campaign (普法节点)', async () => {
  await open(base, '/schedules');
  await page.waitForSelector('#observance-table tr:has-text("国家宪法日")', { state: 'attached' });
  const day = (await admin.call('GET', '/api/v1/observances')).observances.find((o) => o.name === '国家宪法日');
  assert(day && day.month === 12 && day.day === 4, `seeded day ${JSON.stringify(day)}`);
  await page.click('#campaign-new summary');
  await page.selectOption('#campaign-preset', String(day.id));
  const name = await page.inputValue('#campaign-name');
  assert(/^\d{4} 国家宪法日$/.test(name), `suggested name ${name}`);
  assert((await page.inputValue('#campaign-theme')) === '法治教育', 'suggested theme');
  const starts = await page.inputValue('#campaign-starts');
  const ends = await page.inputValue('#campaign-ends');
  assert(
    starts.endsWith('-12-01') && ends.endsWith('-12-07') && starts.slice(0, 4) === name.slice(0, 4),
    `${starts}..${ends}`,
  );
  // Editors see the list but do not keep it.
  assert((await page.$('#observance-form')) === null, 'an editor was offered the admin form');
  await assertLabelled('schedules with legal-education days');
});

// Local calendar dates in Asia/Shanghai (the console's zone).
const shanghaiDate = (days = 0) => new Date(Date.now() + 8 * 3600e3 + days * 86400e3).toISOString().slice(0, 10);

await step('editor edits the schedule and the campaign, and deletes a schedule and a campaign', async () => {
  await page.click('#schedule-list tr:has-text("车库入口反诈循环") [data-action=edit]');
  await page.waitForSelector('#schedule-edit-dialog[open]');
  assert((await page.inputValue('#edit-schedule-name')) === '车库入口反诈循环', 'the dialog holds the schedule');
  assert(await page.isChecked('#schedule-edit-dialog input[data-value=garage_entrance]'), 'target shown');
  await assertLabelled('schedule dialog');
  await page.fill('#edit-schedule-priority', '5');
  await page.fill('#edit-schedule-ends', shanghaiDate(13));
  // A daypart of the whole day (00:00-24:00): the screen keeps playing whenever the test runs.
  await page.click('#edit-schedule-add-daypart');
  await page.locator('#edit-schedule-dayparts [data-part=start]').fill('00:00');
  await page.locator('#edit-schedule-dayparts [data-part=end]').fill('00:00');
  await page.click('#schedule-edit-dialog [data-action=save]');
  await page.waitForSelector('#schedule-edit-dialog', { state: 'detached' });
  await page.waitForSelector('#schedule-list tr:has-text("车库入口反诈循环") td:has-text("00:00–24:00")');
  const s = (await admin.call('GET', '/api/v1/schedules')).schedules.find((x) => x.name === '车库入口反诈循环');
  assert(
    s.priority === 5 && s.endsOn === shanghaiDate(13) && s.dayparts.length === 1 && s.dayparts[0].start === '00:00',
    `edited schedule ${JSON.stringify(s)}`,
  );

  await page.click('#campaign-list tr:has-text("反诈宣传周") [data-action=edit]');
  await page.waitForSelector('#campaign-edit-dialog[open]');
  await page.fill('#edit-campaign-name', '反诈宣传周（延长）');
  await page.fill('#edit-campaign-ends', shanghaiDate(13));
  await page.click('#campaign-edit-dialog [data-action=save]');
  await page.waitForSelector('#campaign-list tr:has-text("反诈宣传周（延长）")');
  const c = (await admin.call('GET', '/api/v1/campaigns')).campaigns.find((x) => x.id === s.campaignId);
  assert(c.name === '反诈宣传周（延长）' && c.endsOn === shanghaiDate(13), `edited campaign ${JSON.stringify(c)}`);

  // A spare schedule and campaign of the editor's department, deleted from the page.
  await admin.call('POST', '/api/v1/campaigns', {
    name: '临时活动',
    startsOn: shanghaiDate(),
    endsOn: shanghaiDate(1),
    department: USERS.editor.department,
  });
  await admin.call('POST', '/api/v1/schedules', {
    name: '临时排期',
    playlistId: s.playlistId,
    department: USERS.editor.department,
    startsOn: shanghaiDate(),
    endsOn: shanghaiDate(1),
    target: { venueTypes: ['mall'] },
  });
  await open(base, '/schedules');
  await page.click('#schedule-list tr:has-text("临时排期") [data-action=delete]');
  await confirmDialog('删除');
  await page.waitForSelector('#schedule-list tr:has-text("临时排期")', { state: 'detached' });
  await page.click('#campaign-list tr:has-text("临时活动") [data-action=delete]');
  await confirmDialog('删除');
  await page.waitForSelector('#campaign-list tr:has-text("临时活动")', { state: 'detached' });
  assert(
    !(await admin.call('GET', '/api/v1/schedules')).schedules.some((x) => x.name === '临时排期'),
    'schedule deleted',
  );
  assert(
    !(await admin.call('GET', '/api/v1/campaigns')).campaigns.some((x) => x.name === '临时活动'),
    'campaign deleted',
  );
});

await step('the week calendar shows the playlist at the garage, and "what plays at T" names a poster', async () => {
  await open(base, '/schedules');
  await page.waitForSelector('#calendar .ms-cal-block.ms-cal-entry');
  const labels = await page.$$eval('#calendar .ms-cal-block.ms-cal-entry', (bs) => bs.map((b) => b.textContent));
  assert(labels.length >= 1 && labels.some((l) => l.includes(PLAYLIST)), `calendar blocks: ${labels.slice(0, 3)}`);
  await page.fill('#at-time', '12:00');
  await page.click('#at-run');
  await page.waitForSelector('#at-result .ms-at-media');
  const mediaName = await page.textContent('#at-result .ms-at-media');
  assert(mediaName.includes('反诈海报'), `plays at noon: ${mediaName}`);
  await shot('12-schedules-calendar');
  await page.evaluate(() => window.scrollTo(0, 0));
  await docShot('schedules-calendar');
});

await step('editor sends a takeover, sees the live banner, and cancels it with one click', async () => {
  await open(base, '/takeover');
  await page.fill('#takeover-name', '紧急警情通报');
  await page.selectOption('#takeover-playlist', { label: PLAYLIST });
  await page.selectOption('#takeover-duration', '30');
  await page.check('#takeover-form input[data-target=all]');
  await page.click('#takeover-send');
  await confirmDialog('立即插播');
  await page.waitForSelector('#ms-takeover-banner:not([hidden]) .ms-takeover-name');
  assert((await page.textContent('#ms-takeover-banner')).includes('紧急警情通报'), 'banner names the takeover');
  await page.waitForSelector('#takeover-live tr:has-text("紧急警情通报")');
  await shot('13-takeover-live');
  await docShot('takeover-banner');
  // The banner follows the editor to other pages.
  await open(base, '/media');
  await page.waitForSelector('#ms-takeover-banner:not([hidden])');
  await page.click('#ms-takeover-banner .ms-cancel-takeover');
  await confirmDialog('取消插播');
  await page.waitForSelector('#ms-takeover-banner[hidden]', { state: 'attached' });
  const list = (await admin.call('GET', '/api/v1/takeovers')).takeovers;
  assert(list.length === 1 && list[0].cancelledAt && !list[0].active, 'cancelled in the API');
  await open(base, '/takeover');
  await page.waitForSelector('#takeover-history tr:has-text("紧急警情通报")');
  await shot('14-takeover-cancelled');
});

await step(
  'a CAP alert for the garage district becomes a takeover marked with its level, and its Cancel ends it',
  async () => {
    // The issuing system's account and token (role alert_feed), set up through the API.
    await admin.call('POST', '/api/v1/users', {
      username: 'cap-feed',
      password: 'Cap-feed-pass-1',
      role: 'alert_feed',
      department: '指挥中心',
    });
    const feedApi = new Api(base);
    await feedApi.login('cap-feed', 'Cap-feed-pass-1');
    const token = (await feedApi.call('POST', '/api/v1/tokens', { name: 'warning system' })).token;
    // Times from the controller's clock, not this machine's date.
    const now = Date.parse((await admin.call('GET', '/healthz')).time);
    const iso = (ms) => new Date(ms).toISOString();
    const cap = (identifier, msgType, extra) => `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>${identifier}</identifier><sender>zhihui@gzga.example.gov.cn</sender><sent>${iso(now)}</sent>
  <status>Actual</status><msgType>${msgType}</msgType><scope>Public</scope>${extra}
</alert>`;
    const info = `<info><language>zh-CN</language><category>Safety</category><event>反诈预警</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
    <expires>${iso(now + 3600000)}</expires><headline>警惕冒充客服退款诈骗</headline>
    <description>近期天河区多发冒充电商客服退款诈骗，切勿点击陌生链接、切勿共享屏幕。</description>
    <area><areaDesc>广州市天河区</areaDesc><geocode><valueName>GB/T 2260</valueName><value>440106</value></geocode></area></info>`;
    const send = async (xml) => {
      const r = await nodeFetch(`${base}/api/v1/alerts`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/cap+xml' },
        body: xml,
      });
      const text = await r.text();
      assert(r.status === 201, `alert -> ${r.status} ${text}`);
      return JSON.parse(text);
    };
    const a = await send(cap('GZGA-2026-0415', 'Alert', info));
    await open(base, '/takeover');
    await page.waitForSelector('#takeover-live tr .ms-takeover-alert [data-severity=Severe]');
    await page.waitForSelector('#takeover-alerts tr:has-text("警惕冒充客服退款诈骗")');
    await page.waitForSelector('#ms-takeover-banner:not([hidden])');
    await shot('14b-takeover-alert');
    assert(
      (await page.textContent('#ms-takeover-banner')).includes('【橙色预警】警惕冒充客服退款诈骗'),
      'the banner names the alert by its level',
    );
    // The live list (with the alert's badge) and the messages received in view:
    // the picture leaves out the form above them (the page is opened again below).
    await page.evaluate(() => {
      document.getElementById('takeover-form').closest('section').hidden = true;
    });
    await docShot('takeover-alert');
    await send(
      cap(
        'GZGA-2026-0415-C',
        'Cancel',
        `<references>zhihui@gzga.example.gov.cn,GZGA-2026-0415,${iso(now)}</references>`,
      ),
    );
    const t = (await admin.call('GET', '/api/v1/takeovers')).takeovers.find((x) => x.id === a.takeoverId);
    assert(t.source === 'alert' && t.cancelledAt && !t.active, 'the Cancel ended the alert takeover');
    await open(base, '/takeover');
    await page.waitForSelector('#ms-takeover-banner[hidden]', { state: 'attached' });
  },
);

await step('the dashboard shows the garage screen online with its live preview', async () => {
  // The editor's first dashboard (after logging in) cached a shot of the screen
  // before it had anything to play; the controller asks the screen again once
  // that shot is a minute old. Wait for a shot taken after the schedule existed.
  const fresh = Date.now() + 90000;
  for (;;) {
    const r = await page.evaluate(async (id) => {
      const res = await fetch(`/api/v1/players/${id}/preview`);
      return { status: res.status, at: res.headers.get('X-Preview-Taken-At') };
    }, playerId);
    if (r.status === 200 && Date.parse(r.at) >= scheduledAtMs) break;
    assert(Date.now() < fresh, `no screenshot newer than the schedule within 90 s (last: ${JSON.stringify(r)})`);
    await new Promise((res) => setTimeout(res, 2000));
  }
  const until = Date.now() + 60000;
  for (;;) {
    await open(base, '/');
    const row = page.locator(`#main tr[data-player-id="${playerId}"]`);
    await row.waitFor();
    assert((await row.locator('.badge.text-bg-success').count()) === 1, 'the screen is online');
    try {
      await row.locator('.ms-preview-cell[data-preview=live]').waitFor({ timeout: 6000 });
      break;
    } catch (e) {
      assert(Date.now() < until, 'no live preview within a minute');
    }
  }
  const row = page.locator(`#main tr[data-player-id="${playerId}"]`);
  assert(await row.locator('.ms-preview-placeholder').isHidden(), 'placeholder hidden');
  assert(
    await row.locator('img.ms-preview-thumb').evaluate((i) => i.naturalWidth === 640 && i.naturalHeight === 360),
    'a 640x360 screenshot',
  );
  assert(/秒前|分钟前/.test(await row.locator('.ms-preview-age').textContent()), 'the preview says how old it is');
  // The route itself: a PNG with the time it was taken.
  const r = await page.evaluate(async (id) => {
    const res = await fetch(`/api/v1/players/${id}/preview`);
    const b = new Uint8Array(await res.arrayBuffer());
    return {
      status: res.status,
      type: res.headers.get('Content-Type'),
      at: res.headers.get('X-Preview-Taken-At'),
      magic: Array.from(b.slice(1, 4)),
    };
  }, playerId);
  assert(
    r.status === 200 &&
      r.type === 'image/png' &&
      String.fromCharCode(...r.magic) === 'PNG' &&
      !Number.isNaN(Date.parse(r.at)),
    `preview route ${JSON.stringify(r)}`,
  );
  // Keyboard: the thumbnail is a button; Enter enlarges it, Esc closes.
  await row.locator('.ms-preview-button').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open] img.ms-preview-media');
  await waitUntil(() => document.querySelector('dialog[open] img.ms-preview-media').naturalWidth === 640);
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog', { state: 'detached' });
  await shot('14b-dashboard-preview');
  await row.evaluate((e) => e.scrollIntoView({ block: 'center' }));
  await docShot('dashboard');
});

await step('editor renames the playlist', async () => {
  await open(base, '/playlists');
  await page.click(`#playlist-list li:has-text("${PLAYLIST}") button:has-text("编辑")`);
  await page.fill('#playlist-name', `${PLAYLIST}（车库）`);
  await page.click('#playlist-save');
  await page.waitForSelector(`#playlist-list li:has-text("${PLAYLIST}（车库）")`);
  const pl = (await admin.call('GET', '/api/v1/playlists')).playlists.find((p) => p.name === `${PLAYLIST}（车库）`);
  assert(pl && pl.items.length === 2 && pl.loopDurationMs === 35000, 'renamed, items kept');
  await logout();
});

await step('admin sets the filler, edits the location and manages a personal API token', async () => {
  await login(base, 'admin', ADMIN_PASSWORD);
  const pl = (await admin.call('GET', '/api/v1/playlists')).playlists.find((p) => p.name === `${PLAYLIST}（车库）`);
  const loc = (await admin.call('GET', '/api/v1/locations')).locations.find((l) => l.name === LOCATION);
  await open(base, '/schedules');
  await page.selectOption('#filler-global', String(pl.id));
  await waitUntil(
    () =>
      !document.querySelector('#filler-global').disabled &&
      /已设为/.test(document.querySelector('#filler [role=status]').textContent),
  );
  assert((await admin.call('GET', '/api/v1/settings/filler')).playlistId === pl.id, 'global filler stored');
  await page.selectOption(`#filler-locations select[data-location-id="${loc.id}"]`, String(pl.id));
  await waitUntil(() => /场所垫播/.test(document.querySelector('#filler [role=status]').textContent));
  assert((await admin.call('GET', `/api/v1/locations/${loc.id}`)).fillerPlaylistId === pl.id, 'location filler stored');

  await open(base, '/locations');
  await page.click(`#location-list tr[data-location-id="${loc.id}"] [data-action=edit]`);
  await page.waitForSelector('#location-edit-dialog[open]');
  assert((await page.inputValue('#edit-location-filler')) === String(pl.id), 'the dialog shows the location filler');
  await assertLabelled('location dialog');
  await page.fill('#edit-location-address', '天河路 218 号 B2 东入口');
  await page.click('#location-edit-dialog [data-action=save]');
  await page.waitForSelector(`#location-list tr[data-location-id="${loc.id}"]:has-text("B2 东入口")`);
  const l = await admin.call('GET', `/api/v1/locations/${loc.id}`);
  assert(
    l.address === '天河路 218 号 B2 东入口' && l.venueType === 'garage_entrance' && l.fillerPlaylistId === pl.id,
    `edited location ${JSON.stringify(l)}`,
  );

  await open(base, '/account');
  await assertLabelled('account page');
  await page.fill('#api-token-name', '月度报表脚本');
  await page.click('#api-token-form button[type=submit]');
  await page.waitForSelector('#api-token-secret');
  const token = (await page.textContent('#api-token-secret')).trim();
  assert(/^mst_\S+$/.test(token), `token shown once: ${token}`);
  await page.waitForSelector('#api-token-list tr[data-state=active]:has-text("月度报表脚本")');
  await docShot('account-tokens');
  const me = await nodeFetch(`${base}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert(me.status === 200 && (await me.json()).user.username === 'admin', 'the token works');
  await page.click('#api-token-list tr:has-text("月度报表脚本") button:has-text("吊销")');
  await confirmDialog('吊销');
  await page.waitForSelector('#api-token-list tr[data-state=revoked]:has-text("月度报表脚本")');
  const after = await nodeFetch(`${base}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert(after.status === 401, `revoked token -> ${after.status}`);
  await page.reload();
  await page.waitForSelector('#api-token-list tr[data-state=revoked]');
  assert((await page.locator('#api-token-secret').count()) === 0, 'the token is not shown again');
  await logout();
});

await step('auditor sees the reports page with charts and downloads a CSV whose numbers match the API', async () => {
  await login(base, USERS.auditor.username, USERS.auditor.password);
  const nav = await navPages();
  assert(
    nav.includes('reports') && nav.includes('audit') && !nav.includes('approvals') && !nav.includes('users'),
    `auditor nav ${nav}`,
  );
  // The screen has been playing since the schedule was made (edits, the takeover
  // and the filler interrupted it); wait until a poster has played to its end
  // (15 s) and the record has reached the controller.
  const q = `from=${shanghaiDate(-6)}&to=${shanghaiDate()}&by=day`;
  const until = Date.now() + 90000;
  while ((await admin.call('GET', `/api/v1/reports/plays?${q}`)).rows.reduce((a, r) => a + r.completed, 0) === 0) {
    assert(Date.now() < until, 'no complete play reached the controller within 90 s');
    await new Promise((res) => setTimeout(res, 500));
  }
  await open(base, '/reports');
  await page.waitForSelector('#chart-themes[data-rendered=true]');
  // Play counts: the proof-of-play report with its CSV from the controller.
  await page.waitForSelector('#report-plays-csv:not(.disabled)');
  const href = await page.getAttribute('#report-plays-csv', 'href');
  assert(/^\/api\/v1\/reports\/plays\?.*format=csv/.test(href), `plays CSV link ${href}`);
  // The screen keeps playing: a play may land between the download and the
  // API's answer. Compare the CSV with the API read just before and just after
  // it, and download again until nothing landed in between.
  const playsPath = path.join(artifacts, 'plays.csv');
  let playsCsv = '';
  let playsJson = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = JSON.stringify((await admin.call('GET', href.replace('format=csv', 'format=json'))).rows);
    const [playsDownload] = await Promise.all([page.waitForEvent('download'), page.click('#report-plays-csv')]);
    await playsDownload.saveAs(playsPath);
    playsCsv = fs.readFileSync(playsPath, 'utf8');
    playsJson = await admin.call('GET', href.replace('format=csv', 'format=json'));
    if (JSON.stringify(playsJson.rows) === before) break;
  }
  assert(playsCsv.charCodeAt(0) === 0xfeff, 'plays CSV starts with a UTF-8 BOM');
  const playsLines = playsCsv.slice(1).trim().split(/\r?\n/);
  assert(
    playsLines.length - 1 === playsJson.rows.length,
    `CSV rows ${playsLines.length - 1} vs API ${playsJson.rows.length}`,
  );
  const header = playsLines[0].split(',');
  const pi = header.indexOf('plays');
  assert(pi >= 0, `plays column in ${header}`);
  playsJson.rows.forEach((r, i) => assert(Number(playsLines[i + 1].split(',')[pi]) === r.plays, `row ${i}: plays`));
  const csvTotal = playsLines.slice(1).reduce((a, l) => a + Number(l.split(',')[pi]), 0);
  assert(
    csvTotal > 0 && csvTotal === playsJson.rows.reduce((a, r) => a + r.plays, 0),
    `plays in the CSV: ${csvTotal} (${href}; the API saw plays with ${q})`,
  );
  const ci = header.indexOf('completed');
  assert(
    ci >= 0 &&
      playsLines.slice(1).reduce((a, l) => a + Number(l.split(',')[ci]), 0) ===
        playsJson.rows.reduce((a, r) => a + r.completed, 0),
    'complete plays: CSV = API',
  );
  assert(playsJson.rows.reduce((a, r) => a + r.completed, 0) > 0, 'at least one complete play');
  // The chart shows what the report held when it was drawn; the screen keeps
  // playing, so a play may land between drawing and the CSV. Redraw until the two
  // were made from the same plays (the API's total, read right after drawing).
  let charted = -1;
  let apiTotal = -2;
  for (let attempt = 0; attempt < 5 && charted !== apiTotal; attempt++) {
    if (attempt > 0) {
      await page.evaluate(() => delete document.getElementById('chart-plays').dataset.rendered);
      await page.click('#report-run');
    }
    await page.waitForSelector('#chart-plays[data-rendered=true]');
    charted = await page.evaluate(() =>
      window.Chart.getChart('chart-plays').data.datasets.reduce((a, d) => a + d.data.reduce((x, y) => x + y, 0), 0),
    );
    apiTotal = (await admin.call('GET', href.replace('format=csv', 'format=json'))).rows.reduce(
      (a, r) => a + r.plays,
      0,
    );
  }
  assert(
    charted === apiTotal && charted >= csvTotal,
    `the chart shows ${charted} plays, the API ${apiTotal}, the CSV ${csvTotal}`,
  );
  await shot('15-reports');
  await docShot('reports');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#report-overview-csv')]);
  const csvPath = path.join(artifacts, 'overview.csv');
  await download.saveAs(csvPath);
  const csv = fs.readFileSync(csvPath, 'utf8');
  assert(csv.charCodeAt(0) === 0xfeff, 'CSV starts with a UTF-8 BOM');
  const rows = csv
    .slice(1)
    .trim()
    .split('\r\n')
    .map((l) => l.split(','));
  const media = (await admin.call('GET', '/api/v1/media')).media;
  const tags = (await admin.call('GET', '/api/v1/tags')).tags.map((x) => x.name);
  for (const tag of tags) {
    const row = rows.find((r) => r[1] === tag);
    assert(row, `CSV row for ${tag}`);
    const approved = media.filter((m) => m.tags.includes(tag) && m.state === 'approved').length;
    const total = media.filter((m) => m.tags.includes(tag)).length;
    assert(
      Number(row[2]) === approved && Number(row[6]) === total,
      `${tag}: CSV ${row} vs API approved ${approved}, total ${total}`,
    );
  }
  assert(Number(rows.find((r) => r[1] === '反诈防骗')[2]) === 2, 'two approved anti-fraud posters');
});

await step(
  'the yearly report (年度普法履职统计): the numbers of the API, a chart by month, printed alone on A4',
  async () => {
    const year = shanghaiDate().slice(0, 4);
    await page.selectOption('#annual-year', year);
    // The screen goes on playing: compare when no play was counted while the
    // page and the API were read (before == after), else read them again.
    let api, summary, plays;
    for (let attempt = 1; ; attempt++) {
      const before = await admin.call('GET', `/api/v1/reports/annual?year=${year}`);
      await page.evaluate(() => document.getElementById('chart-annual-months')?.removeAttribute('data-rendered'));
      await page.click('#annual-run');
      await page.waitForSelector('#chart-annual-months[data-rendered=true]');
      summary = await page.textContent('#annual-summary');
      api = await admin.call('GET', `/api/v1/reports/annual?year=${year}`);
      plays = await admin.call('GET', `/api/v1/reports/plays?from=${year}-01-01&to=${year}-12-31&by=day`);
      const after = await admin.call('GET', `/api/v1/reports/annual?year=${year}`);
      if (before.summary === after.summary) break;
      assert(attempt < 5, 'plays kept being counted while the yearly report was read (5 tries)');
    }
    assert(
      summary === api.summary &&
        summary.startsWith(`${year}年`) &&
        summary.includes(`完整播放${api.total.completed}次`),
      `summary ${summary}`,
    );
    assert(
      api.total.completed > 0 && api.total.completed === plays.rows.reduce((a, r) => a + r.completed, 0),
      `the year's complete plays ${api.total.completed} = the plays report's`,
    );
    const charted = await page.evaluate(() =>
      window.Chart.getChart('chart-annual-months').data.datasets[0].data.reduce((a, b) => a + b, 0),
    );
    assert(charted === api.total.completed, `the chart shows ${charted}, the API ${api.total.completed}`);
    await shot('16-annual');
    // Printed: the report alone (the form and the rest of the page hidden), on A4.
    await page.emulateMedia({ media: 'print' });
    const printed = await page.evaluate(() =>
      ['#annual-form', '#annual-summary', 'nav'].map((q) => getComputedStyle(document.querySelector(q)).display),
    );
    assert(printed[0] === 'none' && printed[1] !== 'none' && printed[2] === 'none', `print display: ${printed}`);
    const pdfPath = path.join(artifacts, 'annual-report.pdf');
    await page.pdf({ path: pdfPath, preferCSSPageSize: true, printBackground: true });
    await page.emulateMedia({ media: 'screen' });
    const pdf = fs.readFileSync(pdfPath);
    assert(pdf.subarray(0, 5).toString() === '%PDF-' && pdf.length > 20000, `annual PDF of ${pdf.length} bytes`);
    assert(/\/MediaBox \[0 0 59[45](\.\d+)? 84[12](\.\d+)?\]/.test(pdf.toString('latin1')), 'A4 pages in the PDF');
  },
);

await step(
  'auditor downloads the evidence export and the controller key; microscape-pack verifies them with the command shown',
  async () => {
    await page.waitForSelector(`#export-form input[data-player-id="${playerId}"]`);
    await assertLabelled('reports page');
    await page.check(`#export-form input[data-player-id="${playerId}"]`);
    const [tarDownload] = await Promise.all([page.waitForEvent('download'), page.click('#export-download')]);
    const name = tarDownload.suggestedFilename();
    assert(/^exp-\d+\.tar$/.test(name), `export file name ${name}`);
    const dir = path.join(artifacts, 'evidence');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    await tarDownload.saveAs(path.join(dir, name));
    const [keyDownload] = await Promise.all([page.waitForEvent('download'), page.click('#export-key')]);
    assert(keyDownload.suggestedFilename() === 'controller.pub', keyDownload.suggestedFilename());
    await keyDownload.saveAs(path.join(dir, 'controller.pub'));
    await page.waitForSelector('#export-status.text-success');
    const command = (await page.textContent('#export-command')).trim();
    assert(command === `microscape-pack audit ${name} --pub controller.pub`, `command shown: ${command}`);
    await page.locator('#export-form').scrollIntoViewIfNeeded();
    await shot('15b-evidence-export');
    await docShot('reports-evidence');
    assert(fs.existsSync(packBin), `${packBin} not built`);
    const args = command.split(' ').slice(1);
    const r = spawnSync(packBin, args, { cwd: dir, encoding: 'utf8' });
    if (r.error) throw r.error;
    assert(
      r.status === 0 && /controller signature checked/.test(r.stdout) && /VERIFIED\s*$/.test(r.stdout),
      `microscape-pack ${args.join(' ')} -> ${r.status}\n${r.stdout}${r.stderr}`,
    );
    assert(r.stdout.includes(LOCATION), `plays at ${LOCATION} counted:\n${r.stdout}`);
  },
);

await step('auditor reads the audit log with the approvals and her export in it', async () => {
  await open(base, '/audit');
  await page.waitForSelector('#audit-list tr[data-action]');
  await docShot('audit');
  await page.selectOption('#audit-entity', 'media');
  await page.waitForSelector('#audit-list tr[data-action=approve]');
  await shot('16-audit');
  await page.selectOption('#audit-entity', 'proof_of_play');
  await page.waitForSelector('#audit-list tr[data-action=export]');
  await logout();
});

await step(
  'admin recalls a poster from the approvals page; the recall page shows the screen confirm it (召回)',
  async () => {
    await login(base, 'admin', ADMIN_PASSWORD);
    const media = (await admin.call('GET', '/api/v1/media?state=approved')).media.find(
      (m) => m.fileName === POSTERS[1] || m.name === POSTERS[1],
    );
    assert(media, 'the poster is approved');
    await open(base, '/approvals');
    await page.click(`#approval-done tr[data-media-id="${media.id}"] button[data-action=recall]`);
    await page.fill('#recall-reason', '海报上的举报电话已变更');
    await confirmDialog('召回');
    await page.waitForURL(/\/recalls\?media=/);
    const card = `#recall-list section[data-media-id="${media.id}"]`;
    await page.waitForSelector(`${card} tr[data-player-id="${playerId}"] [data-state=confirmed]`, { timeout: 30000 });
    await page.waitForSelector(`${card} [data-recall-state=complete]`, { timeout: 30000 });
    const api = await admin.call('GET', `/api/v1/media/${media.id}/recall`);
    assert(
      api.complete && api.summary.confirmed === api.summary.screens && api.reason === '海报上的举报电话已变更',
      `recall ${JSON.stringify(api.summary)}`,
    );
    assert((await page.textContent(card)).includes('海报上的举报电话已变更'), 'the card gives the reason');
    const manifest = await admin.call('GET', `/api/v1/players/${playerId}/manifest`);
    assert(!JSON.stringify(manifest).includes(media.sha256), 'the manifest no longer lists the poster');
    await shot('16b-recall');
    await docShot('recall');
    // A command to the screen says when the screen has done it (its COMMAND_ACK).
    await open(base, '/locations');
    await page.click(`tr[data-player-id="${playerId}"] button[data-command=reload]`);
    await page.waitForSelector('#ms-toasts :text("已执行")', { timeout: 30000 });
    await logout();
  },
);

await step('the console switches to English', async () => {
  await login(base, 'admin', ADMIN_PASSWORD);
  await page.selectOption('#ms-lang', 'en');
  await page.waitForSelector('body[data-ready]');
  await waitUntil(() => document.documentElement.lang === 'en');
  const navText = await page.$$eval('#ms-nav a', (as) => as.map((a) => a.textContent));
  assert(navText.includes('Media') && navText.includes('Schedules'), `English nav: ${navText}`);
  await open(base, '/schedules');
  await page.waitForSelector('#calendar .ms-cal-block');
  await shot('17-schedules-en');
  await page.selectOption('#ms-lang', 'zh-CN');
  await waitUntil(() => document.documentElement.lang === 'zh-CN');
});

await step('no script errors on any page', async () => {
  assert(errors.length === 0, errors.join('\n'));
});

await context.close();
cleanup();
console.log(`${passed} passed, 0 failed`);
