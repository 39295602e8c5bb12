// Unit check of the login page's ?next= rule (controller/web/js/next.js) under node:
// the attack was /login?next=/\evil.example, which a browser follows to evil.example.
//
//   node next_test.mjs
import assert from 'node:assert/strict';
import { safeNext } from '../../controller/web/js/next.js';

const origin = 'https://ms.example:8443';
const cases = [
  ['/schedules?id=3#top', '/schedules?id=3#top'],
  ['/media', '/media'],
  [null, '/'],
  ['', '/'],
  ['/\\evil.example', '/'],
  ['/\\/evil.example', '/'],
  ['//evil.example', '/'],
  ['/%5Cevil.example', '/%5Cevil.example'], // stays a path on this origin
  ['https://evil.example/', '/'],
  ['javascript:alert(1)', '/'],
  ['/\tevil', '/'],
  ['/\n/evil.example', '/'],
  ['evil.example', '/'],
];
for (const [input, want] of cases) {
  const got = safeNext(input, origin);
  assert.equal(got, want, `safeNext(${JSON.stringify(input)})`);
  assert.equal(new URL(got, origin).origin, origin, `${JSON.stringify(input)} leaves the origin`);
}
console.log(`next_test: ${cases.length} cases passed`);
