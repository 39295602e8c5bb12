// Where the login page may send the browser afterwards: only a path on this very
// origin. "/\evil.example" and "//evil.example" are other hosts to a browser, so a
// backslash, a control character or a second leading slash sends it home instead.
export function safeNext(raw, origin) {
  const next = raw || '/';
  if (!next.startsWith('/') || next.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(next)) return '/';
  let url;
  try {
    url = new URL(next, origin);
  } catch (_) {
    return '/';
  }
  if (url.origin !== origin) return '/';
  return url.pathname + url.search + url.hash;
}
