// GraphiQL in a real browser (SPEC §1, §12): headless Debian Chromium driven by
// playwright-core opens GRAPHQL_URL, checks that the header editor holds the
// SPACE_GUID/Authorization template (pre-filled in dev mode), runs the save mutation
// with that dev token and waits for its result; then runs the connectionEvents
// subscription (over /graphql/ws, authenticated by the same headers) and waits until it
// shows the DELETED event of a delete this script sends outside the browser. Every
// request whose origin is not the server's is blocked and fails the test: the page
// must work with what the binary embeds, as on a machine without internet. Exits 1 on
// any failure.
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

const recordKey = `integrationPackInstanceId: "graphiql-1", processId: "1", envId: "2",
    connectionId: "3", catalogGuid: "${space}"`;
const deleteMutation = `mutation { deleteIPackInstanceOauthConnectorDetails(input: { ${recordKey} }) }`;
const subscription = 'subscription { connectionEvents { type integrationPackInstanceId } }';

// Sends `query` to the server from this script (not from the page) with `headers`.
async function post(query, headers) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  const body = await response.json();
  if (!response.ok || body.errors) throw new Error(`${query} failed: ${JSON.stringify(body)}`);
  return body.data;
}

// The text of GraphiQL's response editor.
const responseText = () =>
  document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() || '';

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
  // What GraphiQL's WebSocket client says and hears, to know when it has subscribed.
  const sockets = { opened: [], acked: false, subscribed: false };
  page.on('websocket', (ws) => {
    sockets.opened.push(ws.url());
    const type = (frame) => {
      try { return JSON.parse(frame.payload).type; } catch { return undefined; }
    };
    ws.on('framereceived', (frame) => { if (type(frame) === 'connection_ack') sockets.acked = true; });
    ws.on('framesent', (frame) => { if (type(frame) === 'subscribe') sockets.subscribed = true; });
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

  // The subscription, over GraphiQL's own WebSocket client with the editor's headers.
  await queryEditor.evaluate((el, text) => el.CodeMirror.setValue(text), subscription);
  // GraphiQL parses the editor's text after a debounce and picks the WebSocket by the
  // parsed operation's type: run before that and it posts the previous document's way.
  await page.waitForTimeout(1000);
  await page.locator('.graphiql-execute-button').click();
  const deadline = Date.now() + 30000;
  while (!(sockets.acked && sockets.subscribed)) {
    if (Date.now() > deadline) {
      throw new Error(`GraphiQL did not subscribe: ${JSON.stringify(sockets)}; response: ${await page.evaluate(responseText)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (sockets.opened.some((u) => new URL(u).host !== new URL(url).host || new URL(u).pathname !== '/graphql/ws')) {
    throw new Error(`unexpected WebSocket URL: ${sockets.opened.join(', ')}`);
  }
  // The server may still be setting the subscription up when the subscribe frame has
  // left the page: raise the event again (save, delete) until GraphiQL shows one.
  const auth = { authorization: parsed.Authorization, SPACE_GUID: space };
  let shown = false;
  for (let attempt = 0; attempt < 10 && !shown; attempt++) {
    if (attempt > 0) await post(saveMutation, auth);
    await post(deleteMutation, auth);
    shown = await page
      .waitForFunction(() => document.querySelector('.graphiql-response .CodeMirror')
        ?.CodeMirror.getValue().includes('"DELETED"'), null, { timeout: 2000 })
      .then(() => true, () => false);
  }
  const shownText = await page.evaluate(responseText);
  const event = shown ? JSON.parse(shownText).data?.connectionEvents : undefined;
  if (event?.type !== 'DELETED' || event.integrationPackInstanceId !== 'graphiql-1') {
    throw new Error(`GraphiQL did not show the event: ${shownText}`);
  }
  console.log(`ok    the subscription ran from GraphiQL and showed ${JSON.stringify(event)}`);
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
