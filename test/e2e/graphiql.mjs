// GraphiQL in a real browser: Debian's Chromium, headless, driven by
// playwright-core. Loads the server's GraphiQL page, sets a query in the
// editor, runs it with the run button, waits until the result pane shows
// data with activity ids, checks them against the same query sent
// directly, and saves out/graphiql.png.
//
// Every request the page makes to a host other than 127.0.0.1 is aborted
// and fails the test: the page must work without a CDN.
//
// The page must also work under its Content-Security-Policy (issue 13, item
// 11): the test checks that the policy is sent with frame-ancestors 'none',
// records every securitypolicyviolation event (and Chromium's "Refused to"
// console errors), opens and closes the settings dialog (whose scroll lock
// injects styles), and fails on any violation. It types a marker header
// into the headers editor, runs the query, and fails if the marker reached
// localStorage (headers are not persisted).
//
//   BASE_URL=http://127.0.0.1:8080/ node graphiql.mjs
//   (or GRAPHQL_URL=http://127.0.0.1:8080/graphql; BASE_URL defaults to its root)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { assertLoopback, authHeaders, outDir } from './env.mjs';

const graphqlURL = process.env.GRAPHQL_URL;
const baseURL = assertLoopback(process.env.BASE_URL || (graphqlURL && new URL('/', graphqlURL).href) || 'http://127.0.0.1:8080/');
const endpoint = assertLoopback(graphqlURL || new URL('/graphql', baseURL).href);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const query = '{ activities(first: 3) { nodes { id type } } }';
const shot = join(outDir(), 'graphiql.png');
const T = 30_000; // every wait is bounded

// Under run.sh's scratch directory when set, so a kill leaves nothing behind.
const profile = mkdtempSync(join(process.env.E2E_TMP || tmpdir(), 'e2e-chromium-'));
const blocked = [];
const pageErrors = [];
let context;
let failed = false;
const fail = (msg) => {
  failed = true;
  console.error('FAIL graphiql: ' + msg);
};

try {
  // A fresh profile per run; the flags Chromium needs on this machine
  // (playwright adds --headless and --no-sandbox itself).
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    timeout: T,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
    extraHTTPHeaders: authHeaders(),
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(T);
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:' || u.hostname === '127.0.0.1') return route.continue();
    blocked.push(u.href);
    return route.abort('blockedbyclient');
  });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`),
    );
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push('console: ' + m.text());
  });

  const t0 = Date.now();
  const res = await page.goto(baseURL, { waitUntil: 'load', timeout: T });
  if (!res || res.status() !== 200) throw new Error(`GET ${baseURL}: HTTP ${res?.status()}`);
  const csp = (await res.allHeaders())['content-security-policy'] ?? '';
  if (!/frame-ancestors 'none'/.test(csp) || !/script-src 'self' 'sha256-/.test(csp)) fail(`the page's Content-Security-Policy is ${JSON.stringify(csp)}`);

  const external = await page.$$eval('script[src], link[rel=stylesheet]', (els) =>
    els.map((e) => e.src || e.href).filter((u) => !u.startsWith(location.origin)),
  );
  if (external.length) {
    throw new Error(
      `the page loads ${external.join(', ')} from outside the server: wire web.Handler and web.Assets in internal/gateway/gateway.go ` +
        '(see web/README.md); this machine has no CDN access',
    );
  }

  // The editor is CodeMirror 5 (GraphiQL 4): set the query through its API.
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor({ state: 'visible', timeout: T });
  console.log(`graphiql: editor ready after ${Date.now() - t0} ms`);

  // A header typed into the editor must not be persisted: type one first,
  // then the query; once the tab state in storage holds the query,
  // GraphiQL has stored what it stores of both.
  const marker = 'e2e-header-marker-' + Date.now();
  const headersEditor = page.locator('section.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
  await page.getByRole('button', { name: 'Headers' }).click();
  await headersEditor.waitFor({ state: 'visible', timeout: T });
  await headersEditor.evaluate((el, h) => el.CodeMirror.setValue(h), JSON.stringify({ 'x-e2e-marker': marker }));
  await editor.evaluate((el, q) => el.CodeMirror.setValue(q), query);
  const inEditor = await editor.evaluate((el) => el.CodeMirror.getValue());
  if (inEditor !== query) throw new Error(`editor holds ${JSON.stringify(inEditor)}`);
  await page.waitForFunction((q) => (localStorage.getItem('graphiql:tabState') ?? '').includes(q), query, { timeout: T });

  await page.locator('button.graphiql-execute-button').click();

  const response = page.locator('.graphiql-response .CodeMirror');
  await page.waitForFunction(
    () => {
      const cm = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror;
      const v = cm?.getValue() ?? '';
      return v.includes('"data"') && v.includes('act_');
    },
    null,
    { timeout: T },
  );
  const shown = JSON.parse(await response.evaluate((el) => el.CodeMirror.getValue()));
  const ids = shown?.data?.activities?.nodes?.map((n) => n.id) ?? [];
  console.log(`graphiql: result pane after ${Date.now() - t0} ms: ${JSON.stringify(ids)}`);
  if (shown.errors) fail(`the result has errors: ${JSON.stringify(shown.errors)}`);
  if (ids.length !== 3 || !ids.every((id) => /^act_[A-Za-z0-9]{17}$/.test(id))) fail(`unexpected ids ${JSON.stringify(ids)}`);

  // The same query sent directly must give the same ids.
  const direct = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...authHeaders() },
    body: JSON.stringify({ query }),
  }).then((r) => r.json());
  const directIds = direct?.data?.activities?.nodes?.map((n) => n.id) ?? [];
  if (JSON.stringify(directIds) !== JSON.stringify(ids)) fail(`GraphiQL shows ${JSON.stringify(ids)}, the endpoint answers ${JSON.stringify(directIds)}`);

  await page.waitForFunction((q) => (localStorage.getItem('graphiql:queries') ?? '').includes(q), query, { timeout: T });
  const persisted = await page.evaluate((m) => Object.keys(localStorage).filter((k) => localStorage.getItem(k).includes(m)), marker);
  if (persisted.length) fail(`the headers typed in GraphiQL were persisted in localStorage: ${persisted.join(', ')}`);
  // The settings dialog (Radix UI) locks scrolling with an injected style.
  await page.getByRole('button', { name: 'Open settings dialog' }).click();
  await page.getByRole('dialog').waitFor({ state: 'visible', timeout: T });
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'hidden', timeout: T });
  const violations = await page.evaluate(() => window.__cspViolations);
  if (violations.length) fail(`Content-Security-Policy violations: ${violations.join(' | ')}`);
  console.log(`graphiql: ${violations.length} CSP violations; the typed header in ${persisted.length} localStorage keys`);

  await page.screenshot({ path: shot, fullPage: false });
  console.log(`graphiql: screenshot ${shot}`);
} catch (err) {
  fail(err.message ?? String(err));
  try {
    const p = context?.pages()[0];
    if (p) await p.screenshot({ path: shot, timeout: 5000 });
    console.error(`graphiql: screenshot of the failure: ${shot}`);
  } catch {}
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}

if (blocked.length) fail(`the page tried to reach other hosts: ${[...new Set(blocked)].join(', ')}`);
const realErrors = pageErrors.filter((e) => !/ReactDOM\.render is no longer supported/.test(e));
if (realErrors.length) fail(`errors in the page: ${realErrors.join(' | ')}`);
if (failed) process.exit(1);
console.log('graphiql: ok');
