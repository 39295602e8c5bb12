// The console's only way to the controller: JSON over /api/v1 with the session
// cookie, and the CSRF token on every state-changing request.

import { noteServerDate } from './clock.js';

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token || null;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
  // A 404 because the route itself does not exist (an API not built yet), as
  // opposed to an id that does not exist.
  get routeMissing() {
    return this.status === 404 && /^no such route/.test(this.message);
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (STATE_CHANGING.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let r;
  try {
    r = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  noteServerDate(r.headers.get('Date'));
  if (r.status === 204) return null;
  let data = null;
  const text = await r.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (!r.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(r.status, err.code || `http_${r.status}`, err.message || r.statusText);
  }
  return data;
}

export const get = (path) => api('GET', path);
// Action POSTs (submit, approve, cancel, logout) send no body at all.
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

// GET that answers null when the route does not exist yet (APIs still being built).
export async function getOptional(path) {
  try {
    return await get(path);
  } catch (e) {
    if (e instanceof ApiError && (e.routeMissing || e.status === 501)) return null;
    throw e;
  }
}

// Streams one file to POST /api/v1/media (raw body, name in the query) with
// XMLHttpRequest so the upload's progress can be shown. onProgress(sentBytes,
// totalBytes). Resolves with the media record; rejects with ApiError.
export function uploadMedia(file, { name, tags, department, background } = {}, onProgress) {
  return new Promise((resolve, reject) => {
    const q = new URLSearchParams({ filename: file.name });
    if (background) q.set('background', background);
    if (name) q.set('name', name);
    if (tags && tags.length) q.set('tags', tags.join(','));
    if (department) q.set('department', department);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/media?${q}`);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    xhr.upload.onprogress = (ev) => {
      if (onProgress) onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size);
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'network error'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'aborted'));
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (_) {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        if (onProgress) onProgress(file.size, file.size);
        resolve(data);
      } else {
        const err = data && data.error ? data.error : {};
        reject(new ApiError(xhr.status, err.code || `http_${xhr.status}`, err.message || xhr.statusText));
      }
    };
    xhr.send(file);
  });
}
