// The controller's OpenAPI document, checked by a validator that is not ours
// (@apidevtools/swagger-parser: the OpenAPI 3.0 schema and every $ref), then
// for what a generated client needs: a request body on every write that takes
// one, a schema on every answer, declared tags, servers and licence.
// Usage: node openapi_check.mjs /path/to/microscape-controller
import { execFileSync } from 'node:child_process';
import SwaggerParser from '@apidevtools/swagger-parser';

const controller = process.argv[2];
if (!controller) {
  console.error('usage: node openapi_check.mjs MICROSCAPE_CONTROLLER');
  process.exit(64);
}
const text = execFileSync(controller, ['--openapi'], { encoding: 'utf8' });
const doc = JSON.parse(text);
const problems = [];

try {
  // validate() dereferences in place; give it a copy and keep ours.
  await SwaggerParser.validate(structuredClone(doc));
} catch (e) {
  problems.push(`swagger-parser: ${e.message}`);
}

// Action routes whose whole request is the path: they read no body.
const noBody = new Set([
  'post /api/v1/logout',
  'post /api/v1/players/{id}/compile',
  'post /api/v1/takeovers/{id}/cancel',
]);
const declaredTags = new Set((doc.tags || []).map((t) => t.name));
if (!doc.servers || doc.servers.length === 0) problems.push('no servers');
if (!doc.info?.license?.name) problems.push('no licence');
let operations = 0;
let writes = 0;
for (const [path, item] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(item)) {
    operations++;
    const where = `${method} ${path}`;
    for (const t of op.tags || []) if (!declaredTags.has(t)) problems.push(`${where}: tag ${t} not declared`);
    if (['post', 'put', 'patch'].includes(method)) {
      writes++;
      if (!op.requestBody && !noBody.has(where)) problems.push(`${where}: a write without a requestBody`);
      if (op.requestBody && noBody.has(where)) problems.push(`${where}: listed as bodyless but declares a body`);
    }
    for (const p of op.parameters || []) {
      if (!p.schema?.type) problems.push(`${where}: parameter ${p.name} without a type`);
      if (p.in === 'path' && p.name === 'id' && !/players|commands/.test(path) && p.schema.type !== 'integer')
        problems.push(`${where}: id is not an integer`);
    }
    const codes = Object.keys(op.responses);
    if (!codes.includes('4XX') || !codes.includes('5XX')) problems.push(`${where}: errors not declared`);
    for (const [code, r] of Object.entries(op.responses)) {
      if (code === '204' || code === '304') {
        if (r.content) problems.push(`${where}: ${code} with content`);
        continue;
      }
      if (!r.content) {
        problems.push(`${where}: ${code} without content`);
        continue;
      }
      for (const [type, m] of Object.entries(r.content))
        if (!m.schema) problems.push(`${where}: ${code} ${type} without a schema`);
    }
  }
}
for (const p of problems) console.error(p);
console.log(`openapi: ${operations} operations, ${writes} writes, ${problems.length} problems`);
process.exit(problems.length === 0 ? 0 : 1);
