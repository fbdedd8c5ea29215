// The classroom in a real Chromium: a trainer's page and three trainee pages at once (each its
// own browser context, signed in by its join link). The trainer creates the class from
// /classes, watches the live matrix change as trainees pass steps (no reload), watches a
// trainee's terminal read-only, takes over (the trainee's banner appears, the trainer's keys
// reach the trainee's shell) and hands back, messages the class, and ends it. Trainees see the
// step lock, reveal a hint. Also the class matrix websocket's refusals over HTTP.
// Run: node --import tsx --test test/class-browser.test.ts
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { BrowserContext, Page } from 'puppeteer-core';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { launchBrowser, WAIT, type TestBrowser } from './helpers/browser.ts';
import { accessibilityProblems, VIEWPORTS } from './helpers/axe-check.ts';

const TEST = { timeout: 240_000 };
const LESSON = path.resolve(import.meta.dirname, 'fixtures/classroom/lesson.md');

let root: string;
let s: TestServer;
let chromium: TestBrowser;
let trainer: Page;
const contexts: BrowserContext[] = [];
const trainees: Page[] = [];
let classId = '';
let seats: Array<{ trainee: string; joinUrl: string }> = [];
const tokens: Record<string, string> = {};

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-class-browser-'));
  fs.copyFileSync(LESSON, path.join(root, 'lesson.md'));
  s = await startTestServer(root);
  for (const [user, role] of [['alice', 'trainer'], ['bob', 'trainer'], ['vic', 'viewer']] as const) {
    const made = s.ctx.users.createToken(user, role);
    assert.ok(made.ok);
    tokens[user] = made.value.token;
  }
  chromium = await launchBrowser();
  trainer = chromium.page;
  trainer.on('dialog', (d) => void d.accept());
});

after(async () => {
  try {
    for (const c of contexts) await c.close().catch(() => {});
    if (classId && s.ctx.classes.get(classId) && !s.ctx.classes.get(classId)!.endedAt) await s.api('DELETE', `/api/classes/${classId}`);
    if (s) for (const run of s.ctx.store.listRuns()) if (s.ctx.runs.get(run.id)) await s.api('DELETE', `/api/runs/${run.id}`);
  } finally {
    await chromium?.close();
    await s?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  }
});

const rowStatus = (p: Page, trainee: string) => p.$eval(`tr[data-row="${trainee}"]`, (el) => (el as HTMLElement).dataset.status ?? '').catch(() => '');

/** Waits until a line of the page's test-hook terminal contains `text` (the step page's, or the watched one). */
async function waitTerm(p: Page, text: string): Promise<void> {
  await p.waitForFunction(
    (t: string) => {
      const buf = window.__stepwise?.term?.buffer.active;
      if (!buf) return false;
      for (let i = 0; i < buf.length; i++) if (buf.getLine(i)?.translateToString(true).includes(t)) return true;
      return false;
    },
    WAIT,
    text,
  );
}

test('the trainer creates a class on /classes and gets each seat’s join link', TEST, async () => {
  await trainer.goto(`${s.base}/classes?token=${encodeURIComponent(tokens.alice!)}`);
  await trainer.waitForSelector('[data-create-class]', WAIT);
  // A trainer's header links the classes (the current page).
  assert.equal(await trainer.$eval('.topnav a[href="/classes"]', (a) => a.getAttribute('aria-current')), 'page');
  await trainer.type('#c-name', 'Morning class');
  await trainer.select('#c-runbook', 'lesson');
  await trainer.$eval('#c-seats', (el) => ((el as HTMLInputElement).value = '3'));
  await trainer.select('#c-target', 'local');
  await trainer.click('[data-create-class] button[type="submit"]');
  await trainer.waitForSelector('[data-created]:not([hidden])', WAIT);
  seats = await trainer.$$eval('[data-seat-links] li', (lis) => lis.map((li) => ({ trainee: (li as HTMLElement).dataset.seat!, joinUrl: li.querySelector('code')!.textContent! })));
  assert.deepEqual(seats.map((x) => x.trainee), ['trainee-1', 'trainee-2', 'trainee-3']);
  const href = await trainer.$eval('[data-class-link]', (a) => a.getAttribute('href') ?? '');
  classId = decodeURIComponent(href.replace('/classes/', ''));
  await Promise.all([trainer.waitForNavigation(WAIT), trainer.click('[data-class-link]')]);
  await trainer.waitForSelector('[data-matrix-conn][data-conn="live"]', WAIT);
  assert.deepEqual(await trainer.$$eval('table[data-matrix] tbody tr', (rs) => rs.map((r) => (r as HTMLElement).dataset.row)), ['trainee-1', 'trainee-2', 'trainee-3']);
  assert.equal(await rowStatus(trainer, 'trainee-1'), 'not-joined');
  // The list shows it too.
  await trainer.goto(`${s.base}/classes`);
  assert.equal(await trainer.$eval(`[data-class-row="${classId}"] a`, (a) => a.textContent), 'Morning class');
  await trainer.goto(`${s.base}/classes/${classId}`);
  await trainer.waitForSelector('[data-matrix-conn][data-conn="live"]', WAIT);
});

test('trainees join by URL; the matrix follows live; the lock holds; a hint; passing a step shows on the trainer’s page', TEST, async () => {
  await trainer.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
  for (const seat of seats) {
    const ctx = await chromium.browser.createBrowserContext();
    contexts.push(ctx);
    const p = await ctx.newPage();
    await p.setViewport({ width: 1200, height: 850 });
    p.on('dialog', (d) => void d.accept());
    await p.goto(seat.joinUrl);
    await p.waitForSelector('.conn[data-conn="live"]', WAIT);
    assert.match(new URL(p.url()).pathname, /^\/runs\/[^/]+\/steps\/greet$/);
    trainees.push(p);
  }
  // Joined: every row now has a run (running), without a reload of the trainer's page.
  for (const seat of seats) await trainer.waitForFunction((t: string) => document.querySelector(`tr[data-row="${t}"]`)?.getAttribute('data-status') === 'running', WAIT, seat.trainee);

  const [t1] = trainees as [Page, Page, Page];
  // The lock: Next is locked, and the next step refuses to run before this one passed.
  await t1.waitForSelector('[data-next][aria-disabled="true"]', WAIT);
  const runId1 = new URL(t1.url()).pathname.split('/')[2]!;
  await t1.goto(`${s.base}/runs/${runId1}/steps/answer`);
  await t1.waitForSelector('.conn[data-conn="live"]', WAIT);
  await t1.click('[data-action="run-step"]');
  await t1.waitForSelector('.step-error:not([hidden])', WAIT);
  assert.match(await t1.$eval('.step-error', (el) => el.textContent ?? ''), /greet/i);
  await t1.goto(`${s.base}/runs/${runId1}/steps/greet`);
  await t1.waitForSelector('.conn[data-conn="live"]', WAIT);

  // A hint, recorded: the trainer's cell counts it.
  await t1.click('[data-action="show-hint"]');
  await t1.waitForSelector('[data-hints-list] li', WAIT);
  assert.match(await t1.$eval('[data-hints-list] li', (el) => el.textContent ?? ''), /Run step/);
  await trainer.waitForFunction(() => /1 hint/.test(document.querySelector('tr[data-row="trainee-1"] td[data-col="greet"]')?.textContent ?? ''), WAIT);

  // Pass the step: the cell turns passed live, with its attempt.
  await t1.click('[data-action="run-step"]');
  await t1.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  await trainer.waitForFunction(() => document.querySelector('tr[data-row="trainee-1"] td[data-col="greet"]')?.getAttribute('data-status') === 'passed', WAIT);
  assert.match(await trainer.$eval('tr[data-row="trainee-1"] td[data-col="greet"]', (el) => (el as HTMLElement).innerText), /passed[\s\S]*1 attempt/);
  assert.equal(await trainer.$eval('tr[data-row="trainee-1"] td[data-col="greet"] a', (a) => a.textContent), 'trainee-1, Greet: passed, 1 attempt, 1 hint');
  assert.equal(await trainer.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload), true, 'the trainer page did not reload');
});

test('a trainee failing a step 3 times stands out as stuck, in words', TEST, async () => {
  const t3 = trainees[2]!;
  await t3.click('[data-action="run-step"]');
  await t3.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  const runId3 = new URL(t3.url()).pathname.split('/')[2]!;
  await t3.goto(`${s.base}/runs/${runId3}/steps/answer`);
  await t3.waitForSelector('.conn[data-conn="live"]', WAIT);
  for (let i = 0; i < 3; i++) {
    await t3.click('[data-action="run-step"]');
    await t3.waitForSelector('.verdict[data-verdict="failed"]', WAIT);
    await t3.waitForFunction(() => !document.querySelector('.step')?.hasAttribute('aria-busy'), WAIT);
  }
  await trainer.waitForSelector('tr[data-row="trainee-3"][data-stuck="true"]', WAIT);
  assert.match(await trainer.$eval('tr[data-row="trainee-3"] [data-tag="stuck"]', (el) => el.textContent ?? ''), /stuck: a step failed 3 times/);
  assert.match(await trainer.$eval('[data-stuck-count]', (el) => el.textContent ?? ''), /1 trainee is stuck/);
});

test('watch a trainee read-only, take over (banner, the trainer’s keys reach the shell), hand back', TEST, async () => {
  const t2 = trainees[1]!;
  await trainer.click('tr[data-row="trainee-2"] [data-row-link]');
  await trainer.waitForSelector('[data-watch-terminal]:not([hidden]) .xterm', WAIT);
  assert.equal(await trainer.$eval('[data-watch-heading]', (el) => el.textContent), 'Watching trainee-2');
  // What the trainee types shows in the trainer's read-only view.
  await t2.click('[data-terminal]');
  await t2.keyboard.type('echo watched-$((6*7))\n');
  await waitTerm(trainer, 'watched-42');
  // Read-only: keys typed at the watching terminal go nowhere.
  await trainer.click('[data-watch-terminal]');
  await trainer.keyboard.type('echo not-sent-$((1+1))\n');
  assert.equal(await trainer.$eval('[data-watch-terminal]', (el) => (el as HTMLElement).dataset.mode), 'watch');

  // Take over: the trainee sees the banner; the trainer's keys reach the trainee's shell.
  await trainer.click('[data-action="take-over"]');
  await trainer.waitForSelector('[data-watch-terminal][data-mode="takeover"]', WAIT);
  await t2.waitForSelector('[data-class-banner][data-taken-over="true"]', WAIT);
  assert.equal(await t2.$eval('[data-class-banner]', (el) => el.textContent), 'Your trainer is typing in your terminal.');
  await trainer.waitForSelector('tr[data-row="trainee-2"][data-taken-over="true"]', WAIT);
  await trainer.click('[data-watch-terminal]');
  await trainer.keyboard.type('echo typed-by-trainer-$((20+22))\n');
  const runId2 = new URL(t2.url()).pathname.split('/')[2]!;
  await waitTerm(t2, 'typed-by-trainer-42');
  // What the trainer typed while only watching never ran.
  const lines = await t2.evaluate(() => {
    const buf = window.__stepwise?.term?.buffer.active;
    const out: string[] = [];
    for (let i = 0; buf && i < buf.length; i++) out.push(buf.getLine(i)?.translateToString(true) ?? '');
    return out.join('\n');
  });
  assert.doesNotMatch(lines, /not-sent-2/);

  // Hand back: the banner goes, the trainee types again.
  await trainer.click('[data-action="hand-back"]');
  await t2.waitForSelector('[data-class-banner][data-taken-over="false"]', WAIT);
  assert.equal(await t2.$eval('[data-class-banner]', (el) => el.textContent), 'Your trainer handed the terminal back to you.');
  await trainer.waitForSelector('[data-watch-terminal][data-mode="watch"]', WAIT);
  await t2.click('[data-terminal]');
  await t2.keyboard.type('echo mine-again-$((3*3))\n');
  await waitTerm(t2, 'mine-again-9');
  // Both were recorded with who and when (the run's audit chain).
  const events = s.ctx.store.auditEvents(runId2);
  assert.ok(events.some((e) => e.type === 'takeover' && (e.data as { by?: string }).by === 'alice'), 'take-over recorded');
  assert.ok(events.some((e) => e.type === 'handback' && (e.data as { by?: string }).by === 'alice'), 'hand-back recorded');
});

test('axe-core: the class page (watching), the classes list and a trainee’s step page with its banner, wide and narrow, English and Korean', TEST, async () => {
  const found: string[] = [];
  const t2 = trainees[1]!;
  const stepUrl = t2.url().split('?')[0]!;
  try {
    for (const lang of ['en', 'ko']) {
      for (const vp of VIEWPORTS) {
        await trainer.setViewport(vp);
        await trainer.goto(`${s.base}/classes/${classId}?lang=${lang}#watch=trainee-2`);
        await trainer.waitForSelector('[data-matrix-conn][data-conn="live"]', WAIT);
        await trainer.waitForSelector('[data-watch-terminal]:not([hidden]) .xterm', WAIT);
        found.push(...(await accessibilityProblems(trainer, `class (${lang}) at ${vp.width} px`)));
        await trainer.goto(`${s.base}/classes?lang=${lang}`);
        await trainer.waitForSelector('[data-create-class]', WAIT);
        found.push(...(await accessibilityProblems(trainer, `classes (${lang}) at ${vp.width} px`)));
        await t2.setViewport(vp);
        await t2.goto(`${stepUrl}?lang=${lang}`);
        await t2.waitForSelector('.conn[data-conn="live"]', WAIT);
        found.push(...(await accessibilityProblems(t2, `trainee step page (${lang}) at ${vp.width} px`)));
      }
    }
  } finally {
    await trainer.setViewport({ width: 1400, height: 900 });
    await trainer.goto(`${s.base}/classes/${classId}?lang=en`);
    await trainer.waitForSelector('[data-matrix-conn][data-conn="live"]', WAIT);
    await t2.setViewport({ width: 1200, height: 850 });
    await t2.goto(`${stepUrl}?lang=en`);
    await t2.waitForSelector('.conn[data-conn="live"]', WAIT);
  }
  assert.deepEqual(found, [], found.join('\n'));
});

test('a message to the class reaches every trainee page; End class ends their runs', TEST, async () => {
  await trainer.type('#class-message-text', 'Break in 5 minutes');
  await trainer.click('[data-message-form] button[type="submit"]');
  await trainer.waitForFunction(() => document.querySelector('[data-message-result]')?.textContent === 'Sent to every trainee.', WAIT);
  for (const p of trainees) {
    await p.waitForSelector('[data-class-messages] li', WAIT);
    assert.match(await p.$eval('[data-class-messages] li', (el) => el.textContent ?? ''), /Message from your trainer: Break in 5 minutes/);
  }
  await trainer.click('[data-action="end-class"]');
  await trainer.waitForSelector('[data-class-ended]:not([hidden])', WAIT);
  for (const p of trainees) await p.waitForSelector('.conn[data-conn="ended"]', WAIT);
  await trainer.waitForFunction(() => document.querySelector('[data-class-status]')?.getAttribute('data-status') !== 'open', WAIT);
});

/** Opens a matrix socket; resolves on its first message, rejects with the refusal's HTTP status. */
function openMatrix(url: string, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('message', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

test('the class matrix websocket: its trainer and an admin get it; another trainer, a viewer, a trainee, a wrong Origin do not', TEST, async () => {
  const url = `${s.base.replace(/^http/, 'ws')}/ws/classes/${classId}`;
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  (await openMatrix(url, { ...bearer(tokens.alice!), origin: s.base })).close();
  (await openMatrix(url, bearer(s.token))).close();
  await assert.rejects(openMatrix(url, bearer(tokens.bob!)), /HTTP 403/);
  await assert.rejects(openMatrix(url, bearer(tokens.vic!)), /HTTP 403/);
  await assert.rejects(openMatrix(url, { ...bearer(tokens.alice!), origin: 'http://evil.example' }), /HTTP 403/);
  // A trainee of another class (and of this one) may not watch it.
  const other = await s.api('POST', '/api/classes', { name: 'Other', runbook: 'lesson', seats: 1, target: 'local', training: true });
  assert.equal(other.status, 201, JSON.stringify(other.json));
  const seatToken = (other.json as { seats: Array<{ token: string }> }).seats[0]!.token;
  await assert.rejects(openMatrix(url, bearer(seatToken)), /HTTP 40[34]/);
  // Nor a fleet's: a seat watches nothing but its own run.
  await assert.rejects(openMatrix(`${s.base.replace(/^http/, 'ws')}/ws/fleets/f20990101000000-aaaaaa`, bearer(seatToken)), /HTTP 403/);
  await assert.rejects(openMatrix(`${s.base.replace(/^http/, 'ws')}/ws/classes/${(other.json as { id: string }).id}`, bearer(seatToken)), /HTTP 40[34]/);
  // A viewer's header has no Classes link.
  const home = await (await fetch(`${s.base}/`, { headers: bearer(tokens.vic!) })).text();
  assert.doesNotMatch(home, /href="\/classes"/);
  assert.match(await (await fetch(`${s.base}/`, { headers: bearer(tokens.alice!) })).text(), /href="\/classes"/);
  // The class page itself: another trainer is refused.
  const page = await fetch(`${s.base}/classes/${classId}`, { headers: bearer(tokens.bob!) });
  assert.equal(page.status, 403);
  await s.api('DELETE', `/api/classes/${(other.json as { id: string }).id}`);
});

noLeaks();
