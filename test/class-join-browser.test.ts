// The join link in Chromium, where the class pages' test does not go: a trainee past the lab
// limit sees their place in the queue (accessible, English and Korean, wide and narrow), and
// the page moves on to their step by itself once a lab frees; a join link opened from another
// site only asks; a wrong link says so.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { BrowserContext, Page } from 'puppeteer-core';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { launchBrowser, WAIT, type TestBrowser } from './helpers/browser.ts';
import { accessibilityProblems, VIEWPORTS } from './helpers/axe-check.ts';
import { targetKinds } from '../server/target/registry.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/classroom');
const TEST = { timeout: 180_000 };
let s: TestServer;
let chromium: TestBrowser;
const contexts: BrowserContext[] = [];

before(async () => {
  const kinds = targetKinds();
  // "lab" is a local shell counted against a lab limit of 1: the queue without real labs.
  s = await startTestServer(FIXTURES, undefined, { targets: { local: kinds.local!, lab: kinds.local! }, runLimits: { labs: 1 } });
  chromium = await launchBrowser();
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await chromium?.close();
  await s.stop();
});

async function freshPage(): Promise<Page> {
  const ctx = await chromium.browser.createBrowserContext();
  contexts.push(ctx);
  return ctx.newPage();
}

test('a queued trainee sees their place, accessibly, and lands on their step once a lab frees', TEST, async () => {
  const made = await s.api('POST', '/api/classes', { name: 'Queue class', runbook: 'lesson', seats: 2, target: 'lab' });
  assert.equal(made.status, 201);
  const [a, b] = made.json.seats as Array<{ trainee: string; token: string; joinUrl: string }>;
  const first = await freshPage();
  await first.goto(a!.joinUrl);
  await first.waitForSelector('#step-title', WAIT);
  assert.match(first.url(), /\/runs\/[^/]+\/steps\/greet$/);

  const second = await freshPage();
  const found: string[] = [];
  for (const [lang, accept] of [['en', 'en-US,en'], ['ko', 'ko-KR,ko']] as const) {
    await second.setExtraHTTPHeaders({ 'accept-language': accept });
    for (const vp of VIEWPORTS) {
      await second.setViewport(vp);
      await second.goto(b!.joinUrl);
      await second.waitForSelector('[data-queue-position="1"]', WAIT);
      found.push(...(await accessibilityProblems(second, `join queue (${lang}) at ${vp.width} px`)));
    }
  }
  assert.deepEqual(found, [], found.join('\n'));
  assert.match(await second.$eval('[data-queue-position]', (el) => el.textContent ?? ''), /대기|queue/);
  await second.setExtraHTTPHeaders({});
  await second.goto(b!.joinUrl);
  await second.waitForSelector('[data-queue-position="1"]', WAIT);
  // The first trainee's run ends: the waiting page moves on by itself (no click, no script).
  const runA = /\/runs\/([^/]+)\//.exec(first.url())![1]!;
  assert.equal((await s.api('DELETE', `/api/runs/${runA}`)).status, 200);
  await second.waitForSelector('#step-title', { timeout: 60_000 });
  assert.match(second.url(), /\/runs\/[^/]+\/steps\/greet$/);
  await s.api('DELETE', `/api/classes/${made.json.id}`);
});

test('a join link from another site only asks, and joins on the button; a wrong link says so', TEST, async () => {
  const made = await s.api('POST', '/api/classes', { name: 'Ask class', runbook: 'lesson', seats: 1, target: 'local' });
  const seat = made.json.seats[0] as { token: string; joinUrl: string };
  const page = await freshPage();
  // A page of another origin links to the join URL: the navigation is cross-site.
  await page.goto(`data:text/html,<a id="go" href="${seat.joinUrl}">join</a>`);
  await Promise.all([page.waitForNavigation(), page.click('#go')]);
  await page.waitForSelector('form[action^="/join/"] button', WAIT);
  const problems = await accessibilityProblems(page, 'join confirm');
  assert.deepEqual(problems, [], problems.join('\n'));
  assert.equal((await page.cookies()).length, 0, 'not signed in before the button');
  await Promise.all([page.waitForNavigation(), page.click('form[action^="/join/"] button')]);
  await page.waitForSelector('#step-title', WAIT);
  const wrong = await freshPage();
  const res = await wrong.goto(`${s.base}/join/sws_not-a-real-seat`);
  assert.equal(res?.status(), 404);
  assert.ok(await wrong.$('main h1'));
  const bad = await accessibilityProblems(wrong, 'join invalid');
  assert.deepEqual(bad, [], bad.join('\n'));
  await s.api('DELETE', `/api/classes/${made.json.id}`);
});

test('hints on the step page: one at a time, then none; the solution the trainer reveals appears without a reload', TEST, async () => {
  const made = await s.api('POST', '/api/classes', { name: 'Hint class', runbook: 'lesson', seats: 1, target: 'local' });
  const seat = made.json.seats[0] as { token: string; joinUrl: string };
  const page = await freshPage();
  await page.goto(seat.joinUrl);
  await page.waitForSelector('#step-title', WAIT);
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  assert.equal(await page.$$eval('[data-hints-list] li', (l) => l.length), 0);
  assert.equal(await page.$eval('[data-solution-text]', (el) => (el as HTMLElement).hidden), true);
  await page.click('[data-action="show-hint"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-hints-list] li').length === 1, WAIT);
  await page.click('[data-action="show-hint"]');
  await page.waitForSelector('[data-action="show-hint"][disabled]', WAIT);
  assert.deepEqual(await page.$$eval('[data-hints-list] .hint-text', (l) => l.map((e) => e.textContent)), ['Press Run step: it runs the command, then its check.', 'The command prints hello-class.']);
  assert.equal(await page.$eval('[data-hints-none]', (el) => (el as HTMLElement).hidden), false);
  // Before 3 failures the trainee's own button is refused, and says why.
  await page.click('[data-action="show-solution"]');
  await page.waitForSelector('[data-hints-error]:not([hidden])', WAIT);
  assert.match(await page.$eval('[data-hints-error]', (el) => el.textContent ?? ''), /SOLUTION_LOCKED/);
  const runId = /\/runs\/([^/]+)\//.exec(page.url())![1]!;
  const r = await s.api('POST', `/api/runs/${runId}/steps/greet/solution`, {});
  assert.equal(r.status, 200);
  await page.waitForSelector('[data-solution-text]:not([hidden])', WAIT);
  assert.equal(await page.$eval('[data-solution-text] code', (el) => el.textContent), 'echo "hello-class"');
  await s.api('DELETE', `/api/classes/${made.json.id}`);
});

noLeaks();
