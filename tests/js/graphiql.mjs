// GraphiQL in a real browser (SPEC §1): headless Debian Chromium driven by
// playwright-core opens GRAPHQL_URL, checks that the header editor holds the
// SPACE_GUID/Authorization template (pre-filled in dev mode), runs the save mutation
// with that dev token and waits for its result. Every request whose origin is not the
// server's is blocked and fails the test: the page must work with what the binary
// embeds, as on a machine without internet. Exits 1 on any failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const url = process.env.GRAPHQL_URL;
const space = process.env.SPACE_GUID;
const screenshot = process.env.SCREENSHOT;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!url || !space) {
  console.error('GRAPHQL_URL and SPACE_GUID are required');
  process.exit(2);
}

const saveMutation = `mutation {
  saveIPackInstanceOauthConnectorDetails(input: {
    integrationPackInstanceId: "graphiql-1", isTokenGenerated: false,
    oauthConnectorDetails: "{\\"baseURL\\":\\"https://example.com\\"}",
    processId: "1", envId: "2", connectionId: "3", catalogGuid: "${space}",
    clientId: "browser-client", clientSecret: "dummyClientSecret"
  }) { id catalogGuid clientId }
}`;

const userDataDir = mkdtempSync(join(tmpdir(), 'spaces-oauth-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let failed = false;
try {
  // Only the server's own origin is reachable; anything else is refused and recorded.
  const origin = new URL(url).origin;
  const leaked = [];
  await context.route('**/*', (route) => {
    const target = route.request().url();
    if (new URL(target).origin === origin) return route.continue();
    leaked.push(target);
    return route.abort('blockedbyclient');
  });
  // WebSockets bypass context.route: refuse those that leave the server too.
  await context.routeWebSocket(/.*/, (ws) => {
    if (new URL(ws.url()).host === new URL(url).host) return ws.connectToServer();
    leaked.push(ws.url());
    return ws.close();
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  // A CSP refusal means a part of the page does not work as served: a failure too.
  const refusedByCsp = [];
  page.on('console', (m) => {
    console.error(`console: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) refusedByCsp.push(m.text());
  });
  page.on('requestfailed', (r) => console.error(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(url);

  // The header editor opens with the template, pre-filled with the dev token.
  const headerEditor = page.locator('.graphiql-editor-tool .CodeMirror').last();
  await headerEditor.waitFor({ timeout: 30000 });
  const headers = await headerEditor.evaluate((el) => el.CodeMirror.getValue());
  const parsed = JSON.parse(headers);
  if (parsed.SPACE_GUID !== space || !/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(parsed.Authorization)) {
    throw new Error(`unexpected header template: ${headers}`);
  }
  console.log('ok    the header editor holds SPACE_GUID and a dev bearer token');

  const queryEditor = page.locator('.graphiql-query-editor .CodeMirror');
  await queryEditor.evaluate((el, text) => el.CodeMirror.setValue(text), saveMutation);
  await page.locator('.graphiql-execute-button').click();
  const result = page.locator('.graphiql-response .CodeMirror');
  await page.waitForFunction(
    () => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('"id"'),
    null,
    { timeout: 30000 },
  );
  const text = await result.evaluate((el) => el.CodeMirror.getValue());
  const data = JSON.parse(text).data?.saveIPackInstanceOauthConnectorDetails;
  if (!data || data.catalogGuid !== space || data.clientId !== 'browser-client') {
    throw new Error(`unexpected result: ${text}`);
  }
  console.log(`ok    the save mutation ran from GraphiQL: ${data.id}`);
  if (refusedByCsp.length) throw new Error(`the CSP refused: ${refusedByCsp.join('; ')}`);
  if (leaked.length) throw new Error(`requests left the server: ${leaked.join(', ')}`);
  console.log('ok    no request left the server');
  if (screenshot) await page.screenshot({ path: screenshot });
} catch (error) {
  failed = true;
  console.error(`error ${error.stack || error}`);
  const page = context.pages()[0];
  if (page && screenshot) await page.screenshot({ path: screenshot }).catch(() => {});
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(failed ? '0 passed, 1 failed' : '1 passed, 0 failed');
process.exit(failed ? 1 : 0);
