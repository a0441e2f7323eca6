// The GraphQL-over-HTTP audit (graphql-http's auditServer) against a running
// spaces-oauth. Launched by tests/api/hardening/node.rs with GRAPHQL_URL, TOKEN and
// SPACE_GUID in its environment; a fetch wrapper adds the credentials every
// operation needs (SPEC §2). Prints every result; exits 1 on any error or warning
// (MUST and SHOULD); MAY-level notices are printed and counted apart.
import { auditServer } from 'graphql-http';

const url = process.env.GRAPHQL_URL;
const token = process.env.TOKEN;
const space = process.env.SPACE_GUID;
if (!url || !token || !space) {
  console.error('GRAPHQL_URL, TOKEN and SPACE_GUID are required');
  process.exit(2);
}

function fetchWithCredentials(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${token}`);
  headers.set('SPACE_GUID', space);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithCredentials });
let failures = 0;
let notices = 0;
for (const result of results) {
  if (result.status === 'ok') {
    console.log(`ok    ${result.id} ${result.name}`);
    continue;
  }
  if (result.status === 'notice') notices += 1;
  else failures += 1;
  let body = '';
  try {
    body = await result.response.text();
  } catch {
    // The body was already read by the audit.
  }
  console.log(`${result.status.padEnd(5)} ${result.id} ${result.name}: ${result.reason}`);
  console.log(`      status ${result.response?.status} body ${body.slice(0, 500)}`);
}
const ok = results.length - failures - notices;
console.log(`notices (MAY): ${notices}`);
console.log(`${ok} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
