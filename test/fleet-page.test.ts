// The fleet page in a real Chromium: the overview's fleet fields start a fleet over an
// inventory group and land on /fleets/:id, whose hosts × steps matrix fills live (no reload)
// as the hosts run; cells link to each host's step page; counts and the failure budget show.
// The inventory's hosts are local shells here (fleet scheduling, not SSH, is what is tested;
// test/ssh.test.ts covers real sshd). Also: the matrix websocket's refusals over HTTP.
// Run: node --import tsx --test test/fleet-page.test.ts
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { Page } from 'puppeteer-core';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { launchBrowser, WAIT, type TestBrowser } from './helpers/browser.ts';
import { LocalTarget } from '../server/target/local.ts';
import type { TargetKind } from '../server/target/registry.ts';
import { until } from './helpers/blocks.ts';
import type { MatrixMessage } from '../common/matrix.ts';
import { accessibilityProblems, VIEWPORTS } from './helpers/axe-check.ts';

const TEST = { timeout: 180_000 };
const HOSTS = ['web1', 'web2', 'web3', 'web4'];

const RUNBOOK = `---
id: fleet-demo
title: Fleet demo
vars:
  FAIL:
    default: "no"
    describe: yes makes the check of step two fail
  GATE:
    default: /nonexistent
    describe: a file step one waits for
---
# Fleet demo

## Wait for the gate

\`\`\`sh {id=wait}
for i in $(seq 1 300); do test -e "$GATE" && break; sleep 0.1; done; echo gate-open
\`\`\`

\`\`\`sh {id=wait-ok verify}
test -e "$GATE"
\`\`\`

## Configure

\`\`\`sh {id=configure}
echo "configured on $(hostname)"
\`\`\`

\`\`\`sh {id=configure-ok verify}
test "$FAIL" != yes
\`\`\`

## Finish

\`\`\`sh {id=finish-ok verify}
true
\`\`\`
`;

let root: string;
let gate: string;
let s: TestServer;
let chromium: TestBrowser;
let page: Page;
let fleetId = '';

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-fleet-page-'));
  gate = path.join(root, 'gate');
  fs.mkdirSync(path.join(root, 'runbooks'));
  fs.writeFileSync(path.join(root, 'runbooks', 'fleet-demo.md'), RUNBOOK);
  // web3's own variable fails its step two: the budget (1) is used, the fleet fails.
  const hosts = HOSTS.map((h) => `  ${h}:\n    address: 127.0.0.1\n    labels: [web]\n    vars:\n      GATE: ${gate}\n${h === 'web3' ? '      FAIL: "yes"\n' : ''}`).join('');
  fs.writeFileSync(path.join(root, 'inventory.yaml'), `hosts:\n${hosts}groups:\n  web: [${HOSTS.join(', ')}]\n`);
  const local: TargetKind = { profile: () => new LocalTarget(), create: () => new LocalTarget() };
  const targets = Object.fromEntries([...HOSTS, 'local'].map((h) => [h, local]));
  s = await startTestServer(path.join(root, 'runbooks'), undefined, { targets });
  chromium = await launchBrowser();
  page = chromium.page;
});

after(async () => {
  try {
    if (fleetId && s.ctx.fleets.get(fleetId)) await s.api('POST', `/api/fleets/${fleetId}/stop`, {});
    if (s) for (const run of s.ctx.store.listRuns()) if (s.ctx.runs.get(run.id)) await s.api('DELETE', `/api/runs/${run.id}`);
  } finally {
    await chromium?.close();
    await s?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  }
});

const cellStatus = (p: Page, host: string, step: string) =>
  p.$eval(`tr[data-row="${host}"] td[data-col="${step}"]`, (el) => (el as HTMLElement).dataset.status ?? '').catch(() => '');

test('the overview form starts a fleet on @web; the page fills live as hosts run; counts, budget and links', TEST, async () => {
  await page.goto(s.signInUrl('/runbooks/fleet-demo'));
  await page.waitForSelector('#start-form', WAIT);
  // The datalist offers the inventory's selectors.
  const choices = await page.$$eval('#fleet-choices option', (os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.deepEqual(choices, ['@all', '@web', 'label=web']);
  await page.click('[data-fleet-fields] summary');
  await page.type('#fleet-target', '@web');
  await page.$eval('#fleet-parallel', (el) => ((el as HTMLInputElement).value = '2'));
  await page.$eval('#fleet-max-fail', (el) => ((el as HTMLInputElement).value = '1'));
  await Promise.all([page.waitForNavigation(WAIT), page.click('[data-action="start"]')]);
  const m = /^\/fleets\/([^/]+)$/.exec(new URL(page.url()).pathname);
  assert.ok(m, `landed on ${page.url()}`);
  fleetId = decodeURIComponent(m[1]!);
  await page.waitForSelector('[data-matrix-conn][data-conn="live"]', WAIT);

  // Four rows, three step columns, with table semantics.
  assert.deepEqual(await page.$$eval('table[data-matrix] tbody tr', (rs) => rs.map((r) => (r as HTMLElement).dataset.row)), HOSTS);
  assert.deepEqual(await page.$$eval('table[data-matrix] thead th[data-col]', (hs) => hs.map((h) => (h as HTMLElement).dataset.col)), ['wait-for-the-gate', 'configure', 'finish']);
  assert.equal(await page.$$eval('table[data-matrix] tbody th[scope="row"]', (x) => x.length), 4);
  // Two at a time: the first two hosts are running step one, held at the gate, the rest pending.
  await page.waitForFunction(() => document.querySelectorAll('td[data-col="wait-for-the-gate"][data-status="running"]').length === 2, WAIT);
  assert.equal(await cellStatus(page, 'web3', 'wait-for-the-gate'), 'pending');
  assert.equal(await page.$eval('[data-count="running"]', (el) => el.textContent), '2');
  assert.equal(await page.$eval('[data-count="pending"]', (el) => el.textContent), '2');
  // Status is words, not only colour.
  assert.match(await page.$eval('tr[data-row="web1"] td[data-col="wait-for-the-gate"]', (el) => (el as HTMLElement).innerText), /running/);
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));

  // Open the gate: the matrix follows without a reload.
  fs.writeFileSync(gate, '');
  for (const h of ['web1', 'web2', 'web4']) {
    await page.waitForFunction((host: string) => document.querySelector(`tr[data-row="${host}"] td[data-col="finish"]`)?.getAttribute('data-status') === 'passed', WAIT, h);
  }
  await page.waitForFunction(() => document.querySelector('tr[data-row="web3"] td[data-col="configure"]')?.getAttribute('data-status') === 'failed', WAIT);
  assert.equal(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload), true, 'no reload happened');
  await page.waitForFunction(() => document.querySelector('[data-fleet-status]')?.getAttribute('data-status') === 'failed', WAIT);
  assert.equal(await page.$eval('[data-count="passed"]', (el) => el.textContent), '3');
  assert.equal(await page.$eval('[data-count="failed"]', (el) => el.textContent), '1');
  assert.equal(await page.$eval('[data-budget-used]', (el) => el.textContent), '1 of 1 allowed failures used');
  assert.equal(await page.$eval('[data-budget]', (el) => (el as HTMLElement).dataset.exhausted), 'false');
  assert.equal(await page.$eval('tr[data-row="web3"]', (el) => (el as HTMLElement).dataset.status), 'failed');
  assert.match(await page.$eval('tr[data-row="web3"] .matrix-tag', (el) => el.textContent ?? ''), /batch 1/);
  // The stop button left with the fleet's end.
  assert.equal(await page.$('[data-action="stop-fleet"]'), null);

  // A cell links to that host's step page, and the step page shows its result.
  const href = await page.$eval('tr[data-row="web3"] td[data-col="configure"] a', (a) => (a as HTMLAnchorElement).getAttribute('href') ?? '');
  const view = (await s.api('GET', `/api/fleets/${fleetId}`)).json as { hosts: Array<{ host: string; runId: string }> };
  const web3 = view.hosts.find((h) => h.host === 'web3')!;
  assert.equal(href, `/runs/${web3.runId}/steps/configure`);
  assert.equal(await page.$eval('tr[data-row="web3"] td[data-col="configure"] a', (a) => a.textContent), 'web3, Configure: failed');
  await Promise.all([page.waitForNavigation(WAIT), page.click('tr[data-row="web3"] td[data-col="configure"] a')]);
  await page.waitForSelector('.verdict[data-verdict="failed"]', WAIT);
});

test('the runs page links the latest fleets', TEST, async () => {
  await page.goto(`${s.base}/runs?lang=en`);
  await page.waitForSelector(`[data-fleet-link="${fleetId}"]`, WAIT);
  assert.match(await page.$eval(`[data-fleet-link="${fleetId}"]`, (el) => (el as HTMLElement).innerText), /failed[\s\S]*fleet-demo on @web, 4 hosts/);
  await Promise.all([page.waitForNavigation(WAIT), page.click(`[data-fleet-link="${fleetId}"] a`)]);
  assert.equal(new URL(page.url()).pathname, `/fleets/${fleetId}`);
});

test('the fleet page in Korean; an unknown fleet is a 404 page', TEST, async () => {
  await page.goto(`${s.base}/fleets/${fleetId}?lang=ko`);
  await page.waitForSelector('[data-matrix-conn][data-conn="live"]', WAIT);
  assert.equal(await page.$eval('html', (el) => el.lang), 'ko');
  assert.equal(await page.$eval('tr[data-row="web1"] td[data-col="finish"] .matrix-word', (el) => el.textContent), '통과');
  await page.goto(`${s.base}/fleets/nope?lang=en`);
  assert.match(await page.$eval('h1', (el) => el.textContent ?? ''), /Fleet not found/);
});

test('axe-core: the fleet page and the overview with its fleet fields, wide and narrow, English and Korean', TEST, async () => {
  const found: string[] = [];
  try {
    for (const lang of ['en', 'ko']) {
      for (const vp of VIEWPORTS) {
        await page.setViewport(vp);
        await page.goto(`${s.base}/fleets/${fleetId}?lang=${lang}`);
        await page.waitForSelector('[data-matrix-conn][data-conn="live"]', WAIT);
        found.push(...(await accessibilityProblems(page, `fleet (${lang}) at ${vp.width} px`)));
        await page.goto(`${s.base}/runbooks/fleet-demo?lang=${lang}`);
        await page.waitForSelector('#start-form', WAIT);
        await page.click('[data-fleet-fields] summary');
        found.push(...(await accessibilityProblems(page, `overview with fleet fields (${lang}) at ${vp.width} px`)));
        await page.goto(`${s.base}/runs?lang=${lang}`);
        await page.waitForSelector('[data-fleet-link]', WAIT);
        found.push(...(await accessibilityProblems(page, `runs with fleets (${lang}) at ${vp.width} px`)));
      }
    }
  } finally {
    await page.setViewport({ width: 1400, height: 900 });
    await page.goto(`${s.base}/?lang=en`);
  }
  assert.deepEqual(found, [], found.join('\n'));
});

test('an exhausted failure budget: the notice shows, the host never started is skipped with its reason and is not a link', TEST, async () => {
  // One at a time, no failure allowed: web3 fails, web4 never starts.
  const started = await s.api('POST', '/api/fleets', { runbook: 'fleet-demo', target: '@web', parallel: 1, maxFail: 0 });
  assert.equal(started.status, 201, JSON.stringify(started.json));
  const id = started.json.id as string;
  await page.goto(`${s.base}/fleets/${id}?lang=en`);
  await page.waitForFunction(() => document.querySelector('[data-fleet-status]')?.getAttribute('data-status') === 'failed', WAIT);
  await page.waitForSelector('[data-budget][data-exhausted="true"]', WAIT);
  assert.equal(await page.$eval('[data-budget-exhausted]', (el) => (el as HTMLElement).hidden), false);
  assert.equal(await page.$eval('[data-budget-used]', (el) => el.textContent), '1 of 0 allowed failures used');
  assert.equal(await page.$eval('tr[data-row="web4"]', (el) => (el as HTMLElement).dataset.status), 'skipped');
  assert.match(await page.$eval('tr[data-row="web4"] .matrix-reason', (el) => el.textContent ?? ''), /budget/);
  assert.equal(await page.$eval('tr[data-row="web4"] [data-row-link]', (el) => el.tagName), 'SPAN');
  assert.deepEqual(await page.$$eval('tr[data-row="web4"] td[data-col]', (tds) => tds.map((td) => (td as HTMLElement).dataset.status)), ['not-run', 'not-run', 'not-run']);
  assert.equal(await page.$eval('tr[data-row="web4"] td[data-col="configure"]', (el) => (el as HTMLElement).innerText.includes('not run')), true);
  assert.equal(await page.$eval('[data-count="skipped"]', (el) => el.textContent), '1');
});

test('Stop fleet: an operator stops a running fleet from its page (a viewer sees no button)', TEST, async () => {
  // Held at a gate that never opens: both hosts wait in step one.
  const started = await s.api('POST', '/api/fleets', { runbook: 'fleet-demo', target: 'web1,web2', vars: { GATE: path.join(root, 'never') } });
  assert.equal(started.status, 201, JSON.stringify(started.json));
  const id = started.json.id as string;
  const viewer = s.ctx.users.createToken('viv', 'viewer');
  assert.ok(viewer.ok);
  const ctx = await chromium.browser.createBrowserContext();
  try {
    const vp = await ctx.newPage();
    await vp.goto(`${s.base}/fleets/${id}?token=${encodeURIComponent(viewer.value.token)}`);
    await vp.waitForSelector('[data-matrix-conn][data-conn="live"]', WAIT);
    assert.equal(await vp.$('[data-action="stop-fleet"]'), null, 'no Stop for a viewer');
    assert.equal((await s.api('POST', `/api/fleets/${id}/stop`, {}, { authorization: `Bearer ${viewer.value.token}` })).status, 403);

    page.once('dialog', (d) => void d.accept());
    await page.goto(`${s.base}/fleets/${id}`);
    await page.waitForFunction(() => document.querySelectorAll('td[data-col="wait-for-the-gate"][data-status="running"]').length === 2, WAIT);
    await page.click('[data-action="stop-fleet"]');
    await page.waitForFunction(() => document.querySelector('[data-fleet-status]')?.getAttribute('data-status') === 'interrupted', WAIT);
    await page.waitForFunction(() => !document.querySelector('[data-action="stop-fleet"]'), WAIT);
    // The viewer's page followed too, without a reload.
    await vp.waitForFunction(() => document.querySelector('[data-fleet-status]')?.getAttribute('data-status') === 'interrupted', WAIT);
    assert.match(await page.$eval('[data-fleet-reason]', (el) => el.textContent ?? ''), /stopped by/);
  } finally {
    await ctx.close();
  }
});

/** Opens a matrix socket; resolves with its first message, or rejects with the refusal's status. */
function openMatrix(url: string, headers: Record<string, string>): Promise<{ first: MatrixMessage; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('message', (d) => resolve({ first: JSON.parse(d.toString()) as MatrixMessage, ws }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

test('the matrix websocket: a snapshot for a signed-in viewer; refused for a wrong Origin, no token, an unknown fleet', TEST, async () => {
  const wsBase = s.base.replace(/^http/, 'ws');
  const viewer = s.ctx.users.createToken('vera', 'viewer');
  assert.ok(viewer.ok);
  const { first, ws } = await openMatrix(`${wsBase}/ws/fleets/${fleetId}`, { authorization: `Bearer ${viewer.value.token}`, origin: s.base });
  assert.equal(first.type, 'matrix');
  assert.deepEqual((first as Extract<MatrixMessage, { type: 'matrix' }>).matrix.rows.map((r) => r.id), HOSTS);
  ws.close();
  await until(() => s.gateway.matrices.feed('fleets', fleetId) === undefined, 10_000, 'the feed dropped after its last watcher');
  await assert.rejects(openMatrix(`${wsBase}/ws/fleets/${fleetId}`, { authorization: `Bearer ${s.token}`, origin: 'http://evil.example' }), /HTTP 403/);
  await assert.rejects(openMatrix(`${wsBase}/ws/fleets/${fleetId}`, { origin: s.base }), /HTTP 401/);
  await assert.rejects(openMatrix(`${wsBase}/ws/fleets/f20990101000000-aaaaaa`, { authorization: `Bearer ${s.token}` }), /HTTP 404/);
});

noLeaks();
