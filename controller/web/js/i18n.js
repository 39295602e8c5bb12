// Translation tables (one JSON file per language) and locale-aware formatting.
// Every visible string goes through t(); dates and times are shown in a named
// IANA zone (the location's, default Asia/Shanghai), never the browser's.
import { serverNow } from './clock.js';

export const LANGS = ['zh-CN', 'en'];
export const DEFAULT_ZONE = 'Asia/Shanghai';

let table = {};
let fallback = {};
let current = 'zh-CN';

export function lang() {
  return current;
}

export function setLang(l) {
  if (!LANGS.includes(l)) return;
  try {
    localStorage.setItem('ms.lang', l);
  } catch (_) {
    /* private mode */
  }
}

async function load(l) {
  const r = await fetch(`/i18n/${l}.json`, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`translation table ${l}: HTTP ${r.status}`);
  return r.json();
}

export async function initI18n() {
  let wanted = 'zh-CN';
  try {
    wanted = localStorage.getItem('ms.lang') || 'zh-CN';
  } catch (_) {
    /* ignore */
  }
  current = LANGS.includes(wanted) ? wanted : 'zh-CN';
  fallback = await load('zh-CN');
  table = current === 'zh-CN' ? fallback : await load(current);
  document.documentElement.lang = current;
}

// t('media.uploaded', {name: 'x'}) -> the current language's string with {name}
// filled in; falls back to Chinese, then to the key itself (visible, so a missing
// entry is noticed).
export function t(key, params) {
  let s = table[key] ?? fallback[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? String(params[k]) : m));
  return s;
}

export function has(key) {
  return key in table || key in fallback;
}

// Fills data-i18n (text), data-i18n-placeholder, data-i18n-title and
// data-i18n-aria-label attributes below root.
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]'))
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
}

const fmtCache = new Map();
function fmt(zone, opts) {
  const k = current + '|' + zone + '|' + JSON.stringify(opts);
  let f = fmtCache.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(current, { timeZone: zone, hourCycle: 'h23', ...opts });
    fmtCache.set(k, f);
  }
  return f;
}

// "2026-04-15 08:00" style, in the zone.
export function fmtDateTime(iso, zone = DEFAULT_ZONE) {
  if (!iso) return '—';
  const p = zonedParts(new Date(iso).getTime(), zone);
  return `${p.date} ${p.time}`;
}

export function fmtTime(iso, zone = DEFAULT_ZONE) {
  if (!iso) return '—';
  return zonedParts(new Date(iso).getTime(), zone).time;
}

// Local calendar fields of an instant in a zone: {date:'YYYY-MM-DD', time:'HH:MM', weekday:1..7, ...}.
export function zonedParts(ms, zone = DEFAULT_ZONE) {
  const parts = {};
  for (const p of fmt(zone, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    weekday: 'short',
  }).formatToParts(new Date(ms)))
    parts[p.type] = p.value;
  // formatToParts in zh-CN gives the same numeric fields; weekday comes from a fixed-locale formatter.
  const wd = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short' }).format(new Date(ms));
  const weekday = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 }[wd];
  const hour = parts.hour === '24' ? '00' : parts.hour;
  return {
    year: +parts.year,
    month: +parts.month,
    day: +parts.day,
    hour: +hour,
    minute: +parts.minute,
    second: +parts.second,
    date: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${hour}:${parts.minute}`,
    weekday,
  };
}

// The zone's offset from UTC at an instant, in minutes (+480 for Asia/Shanghai).
export function zoneOffsetMinutes(ms, zone = DEFAULT_ZONE) {
  const p = zonedParts(ms, zone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

// The instant of a local wall-clock time ('YYYY-MM-DD', 'HH:MM') in a zone, as UTC ms.
export function zonedToMs(date, time = '00:00', zone = DEFAULT_ZONE) {
  const [y, mo, d] = date.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  const naive = Date.UTC(y, mo - 1, d, hh, mm);
  let ms = naive - zoneOffsetMinutes(naive, zone) * 60000;
  ms = naive - zoneOffsetMinutes(ms, zone) * 60000; // second pass settles DST edges
  return ms;
}

// ISO 8601 with the zone's offset, as the API wants on input: 2026-04-15T08:00:00+08:00.
export function zonedIso(date, time = '00:00', zone = DEFAULT_ZONE) {
  const ms = zonedToMs(date, time, zone);
  const off = zoneOffsetMinutes(ms, zone);
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date}T${pad(+time.split(':')[0])}:${pad(+time.split(':')[1])}:00${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

// Adds days to a 'YYYY-MM-DD' calendar date.
export function addDays(date, n) {
  const [y, m, d] = date.split('-').map(Number);
  const x = new Date(Date.UTC(y, m - 1, d + n));
  return x.toISOString().slice(0, 10);
}

// The Monday (ISO week start) of the week holding a calendar date.
export function mondayOf(date) {
  const [y, m, d] = date.split('-').map(Number);
  const wd = new Date(Date.UTC(y, m - 1, d)).getUTCDay() || 7;
  return addDays(date, 1 - wd);
}

export function today(zone = DEFAULT_ZONE) {
  return zonedParts(serverNow(), zone).date;
}

// 1:05:30 / 2:05 / 0:10 style lengths; '—' for null.
export function fmtDuration(ms) {
  if (ms == null) return '—';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

export function fmtBytes(n) {
  if (n == null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function fmtNumber(n) {
  return new Intl.NumberFormat(current).format(n);
}
