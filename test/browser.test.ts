// End-to-end: the real server and a real Chromium, driven as an operator would.
// Run: node --import tsx --test test/browser.test.ts
// Needs Chromium at /usr/bin/chromium: without it these tests FAIL (they never skip).
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { serve, type RunningServer } from '../server/http/server.ts';
import { createLogger } from '../server/log.ts';
import { launchBrowser, terminalLines, text, WAIT, waitForTerminal, type TestBrowser } from './helpers/browser.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/e2e');
const TOKEN = 'e2e-token-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
const TEST = { timeout: 90_000 };

let srv: RunningServer;
let chromium: TestBrowser;
let browser: Browser;
let page: Page;
let base: string;
let dataDir: string;
/** The run the walkthrough tests share (created in test 3). */
let runId = '';

before(async () => {
  chromium = await launchBrowser();
  ({ browser, page } = chromium);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-e2e-data-'));
  srv = await serve({
    host: '127.0.0.1',
    port: 0,
    runbooksDir: FIXTURES,
    dataDir,
    token: TOKEN,
    log: createLogger(process.env.STEPWISE_TEST_LOG ?? 'silent'),
  });
  base = srv.url.replace(/\/$/, '');
});

after(async () => {
  try {
    if (srv) {
      for (const run of srv.ctx.store.listRuns()) {
        const res = await fetch(`${base}/api/runs/${run.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(res.status, 200, `DELETE ${run.id}`);
      }
      assert.equal(srv.ctx.runs.size, 0, 'no live runs are left after DELETE');
    }
  } finally {
    await chromium?.close();
    await srv?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

// ---- helpers ----

/** Opens a step page of the shared run and waits for its terminal to be connected. */
async function openStep(stepId: string): Promise<void> {
  await page.goto(`${base}/runs/${runId}/steps/${encodeURIComponent(stepId)}`);
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
}

async function runBlock(blockId: string, status = 'passed'): Promise<void> {
  await page.click(`[data-block="${blockId}"] [data-action="run-block"]`);
  await page.waitForSelector(`[data-block="${blockId}"] .badge[data-status="${status}"]`, WAIT);
}

async function startRun(opts: { training?: boolean; who?: string } = {}): Promise<string> {
  await page.goto(`${base}/runbooks/e2e-tour`);
  if (opts.who !== undefined) {
    await page.$eval('#var-WHO', (el) => ((el as HTMLInputElement).value = ''));
    await page.type('#var-WHO', opts.who);
  }
  if (opts.training) await page.click('#training');
  await Promise.all([page.waitForNavigation(), page.click('[data-action="start"]')]);
  const m = /\/runs\/([^/]+)\/steps\/say-hello$/.exec(new URL(page.url()).pathname);
  assert.ok(m, `landed on the first step, got ${page.url()}`);
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  return m[1]!;
}

/** Signs this browser in (so a test also runs alone, with --test-name-pattern). */
async function signIn(): Promise<void> {
  await page.goto(`${base}/?token=${encodeURIComponent(TOKEN)}`);
}

// ---- tests ----

test('1. without the token the page is refused; ?token= signs in and drops the token from the URL', TEST, async () => {
  const refused = await page.goto(`${base}/`);
  assert.equal(refused?.status(), 401);
  assert.ok(await page.$('form input[name="token"][type="password"]'), 'the sign-in form is shown');
  assert.doesNotMatch(await page.content(), /End-to-end tour/);

  const ok = await page.goto(`${base}/?token=${encodeURIComponent(TOKEN)}`);
  assert.equal(ok?.status(), 200);
  assert.equal(new URL(page.url()).search, '', 'the token is not left in the address bar');
  assert.equal(await text(page, 'h1'), 'Runbooks');
  const cookies = await browser.defaultBrowserContext().cookies();
  const cookie = cookies.find((c) => c.name === 'stepwise_session');
  assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
  assert.ok(!cookie.value.includes(TOKEN), 'it holds a session id, not the token');
  assert.equal(cookie?.sameSite, 'Strict');
});

test('2. the index lists runbooks, the broken one with its diagnostics, and recent runs', TEST, async () => {
  await page.goto(`${base}/`);
  const card = await text(page, '[data-runbook="e2e-tour"]');
  assert.match(card, /End-to-end tour/);
  assert.match(card, /4 steps/);
  assert.match(card, /a failing check/);
  assert.equal(await page.$eval('[data-runbook="e2e-tour"] a', (a) => a.getAttribute('href')), '/runbooks/e2e-tour');
  const broken = await text(page, '[data-runbook="broken"]');
  assert.match(broken, /broken/i);
  assert.match(broken, /broken\.md:5 UNKNOWN_ATTRIBUTE unknown attribute colour="blue"/);
  assert.match(await text(page, '.recent'), /Recent runs/);
});

test('3. overview → fill a variable → Start → lands on the first step', TEST, async () => {
  await page.goto(`${base}/`);
  await Promise.all([page.waitForNavigation(), page.click('[data-runbook="e2e-tour"] a')]);
  assert.equal(new URL(page.url()).pathname, '/runbooks/e2e-tour');
  assert.equal(await text(page, 'h1'), 'End-to-end tour');
  assert.equal(await page.$eval('#var-WHO', (el) => el.getAttribute('pattern')), '[a-z]+');
  assert.equal(await page.$eval('#var-TOKEN', (el) => (el as HTMLInputElement).type), 'password');
  assert.equal(await page.$eval('#var-TOKEN', (el) => (el as HTMLInputElement).value), '', 'a secret default is not put in the page');
  assert.doesNotMatch(await page.content(), /open-sesame-42/);
  assert.ok(await page.$('label[for="var-WHO"]'), 'the input is labelled');

  runId = await startRun({ who: 'operator' });
  assert.equal(await text(page, '#step-title'), 'Say hello');
  assert.match(await text(page, '[data-progress-text]'), /0 of 4 steps done/);
});

test('4. Run on a block: output in the terminal, badge passed, output under the block', TEST, async () => {
  await openStep('say-hello');
  await runBlock('hello');
  await waitForTerminal(page, 'hello-operator');
  assert.match(await text(page, '[data-block="hello"] pre.output'), /hello-operator/);
  assert.match(await text(page, '[data-block="hello"] .result-meta'), /exit 0 · \d+/);

  // Running the check too gives the step its verdict, live.
  await runBlock('hello-check');
  await page.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  await page.waitForSelector('[data-step-item="say-hello"][data-status="passed"]', WAIT);
  assert.match(await text(page, '[data-progress-text]'), /1 of 4 steps done/);

  // Korean output survives the terminal and the captured output.
  await Promise.all([page.waitForNavigation(), page.click('a[data-next]')]);
  assert.equal(await text(page, '#step-title'), 'Korean output');
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  await runBlock('korean');
  await waitForTerminal(page, '가상화 호스트 operator');
  assert.match(await text(page, '[data-block="korean"] pre.output'), /가상화 호스트 operator/);
});

test('5. Run step on the failing step: verdict failed with the reason and the hint', TEST, async () => {
  await openStep('failing-check');
  await page.click('[data-action="run-step"]');
  await page.waitForSelector('.verdict[data-verdict="failed"]', WAIT);
  assert.match(await text(page, '.verdict-title'), /Step failed/);
  assert.match(await text(page, '.verdict-reason'), /marker file is missing/);
  assert.match(await text(page, '.verdict-hint'), /create \/tmp\/stepwise-e2e-marker first/);
  await page.waitForSelector('[data-block="prepare"] .badge[data-status="passed"]', WAIT);
  await page.waitForSelector('[data-block="marker-check"] .badge[data-status="failed"]', WAIT);
  assert.match(await text(page, '[data-block="marker-check"] .result-hint'), /stepwise-e2e-marker/);
  await waitForTerminal(page, 'preparing the marker');
  assert.equal(await page.$eval('[data-step-item="failing-check"]', (el) => (el as HTMLElement).dataset.status), 'failed');
});

test('6. after a reload, statuses, outputs and verdicts are still shown', TEST, async () => {
  await page.reload();
  await page.waitForSelector('.verdict[data-verdict="failed"]', WAIT);
  assert.match(await text(page, '.verdict-reason'), /marker file is missing/);
  assert.match(await text(page, '.verdict-hint'), /stepwise-e2e-marker/);
  assert.equal(await page.$eval('[data-block="marker-check"] .badge', (el) => (el as HTMLElement).dataset.status), 'failed');
  assert.match(await text(page, '[data-block="prepare"] pre.output'), /preparing the marker/);
  // The terminal's history comes back from the recording.
  await waitForTerminal(page, 'preparing the marker');

  await openStep('say-hello');
  assert.equal(await page.$eval('[data-block="hello"] .badge', (el) => el.textContent), 'passed');
  assert.match(await text(page, '[data-block="hello"] pre.output'), /hello-operator/);
  assert.equal(await page.$eval('.verdict', (el) => (el as HTMLElement).dataset.verdict), 'passed');
  const items = await page.$$eval('[data-step-item]', (els) => els.map((el) => `${(el as HTMLElement).dataset.stepItem}=${(el as HTMLElement).dataset.status}`));
  assert.deepEqual(items, ['say-hello=passed', 'korean-output=pending', 'failing-check=failed', 'destructive=pending']);
  assert.match(await text(page, '[data-progress-text]'), /1 of 4 steps done/);

  // GET /runs/:id goes to the first step not yet done.
  await page.goto(`${base}/runs/${runId}`);
  assert.equal(new URL(page.url()).pathname, `/runs/${runId}/steps/korean-output`);
});

test('7. typing into the terminal runs in the shell', TEST, async () => {
  await openStep('say-hello');
  await page.click('[data-terminal] .xterm');
  await page.waitForFunction(() => document.activeElement?.closest('[data-terminal]') !== null, WAIT);
  await page.keyboard.type('echo typed-$((6*7))\n');
  await waitForTerminal(page, 'typed-42');
  assert.ok((await terminalLines(page)).some((l) => l.trim() === 'typed-42'));
});

test('8. a destructive block asks first; cancelling runs nothing', TEST, async () => {
  await openStep('destructive');
  const messages: string[] = [];
  const dismiss = (d: import('puppeteer-core').Dialog) => {
    messages.push(d.message());
    void d.dismiss();
  };
  page.once('dialog', dismiss);
  await page.click('[data-block="wipe"] [data-action="run-block"]');
  await page.waitForFunction(() => !document.querySelector<HTMLButtonElement>('[data-block="wipe"] [data-action="run-block"]')!.disabled, WAIT);
  assert.equal(messages.length, 1);
  assert.match(messages[0]!, /“wipe” is marked as destructive/);
  assert.equal(await page.$eval('[data-block="wipe"] .badge', (el) => el.textContent), 'pending');

  page.once('dialog', (d) => void d.accept());
  await runBlock('wipe');
  await waitForTerminal(page, 'wiped-operator');
});

test('9. training mode: Next is locked until the step passes, then unlocks without a reload', TEST, async () => {
  const id = await startRun({ training: true });
  assert.notEqual(id, runId);
  const locked = await page.$eval('[data-next]', (el) => ({ tag: el.tagName, disabled: el.getAttribute('aria-disabled'), href: el.getAttribute('href') }));
  assert.deepEqual(locked, { tag: 'SPAN', disabled: 'true', href: null });
  assert.equal(await page.$eval('[data-lock-note]', (el) => (el as HTMLElement).hidden), false);
  // a navigation the click started would drop __noReload (checked once the step has passed)
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
  const before = page.url();
  await page.click('[data-next]');
  await page.waitForSelector('[data-lock-note].flash', WAIT); // the click was handled
  assert.equal(page.url(), before, 'a locked Next goes nowhere');

  await page.click('[data-action="run-step"]');
  await page.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  await page.waitForSelector('a[data-next][href]', WAIT);
  assert.equal(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload), true, 'no reload happened');
  assert.equal(await page.$eval('[data-next]', (el) => el.getAttribute('aria-disabled')), null);
  assert.equal(await page.$eval('[data-lock-note]', (el) => (el as HTMLElement).hidden), true);

  await Promise.all([page.waitForNavigation(), page.click('a[data-next]')]);
  assert.equal(await text(page, '#step-title'), 'Korean output');
  assert.equal(await page.$eval('[data-next]', (el) => el.tagName), 'SPAN', 'the next step is locked again');
});

test('10. ending the run: results stay, Run buttons are disabled, the terminal says so', TEST, async () => {
  // Continues on the training run from test 9 (step 2 of it).
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  page.once('dialog', (d) => void d.accept());
  await page.click('[data-action="end-run"]');
  await page.waitForSelector('.conn[data-conn="ended"]', WAIT);
  await page.waitForSelector('[data-terminal-ended]:not([hidden])', WAIT);
  assert.equal(await page.$$eval('[data-action="run-block"]', (bs) => bs.every((b) => (b as HTMLButtonElement).disabled)), true);
  assert.equal(await page.$eval('[data-action="run-step"]', (b) => (b as HTMLButtonElement).disabled), true);

  await page.click('.step-list a');
  await page.waitForSelector('.conn[data-conn="ended"]', WAIT);
  assert.equal(await page.$eval('.verdict', (el) => (el as HTMLElement).dataset.verdict), 'passed', 'the recorded verdict is rendered');
  assert.match(await text(page, '[data-block="hello"] pre.output'), /hello-world/);
  assert.match(await text(page, '[data-terminal-ended]'), /session has ended/);
  assert.equal(await page.$$eval('[data-action="run-block"]', (bs) => bs.every((b) => (b as HTMLButtonElement).disabled)), true);
  await waitForTerminal(page, 'hello-world'); // the recording, read-only
});

test('11. a variable failing its pattern shows the error next to the field', TEST, async () => {
  await signIn();
  await page.goto(`${base}/runbooks/e2e-tour`);
  await page.$eval('#var-WHO', (el) => ((el as HTMLInputElement).value = ''));
  await page.type('#var-WHO', 'Not Valid!');
  await page.click('[data-action="start"]');
  const err = await page.waitForSelector('[data-field="vars.WHO"] [data-error-for="vars.WHO"]:not([hidden])', WAIT);
  // The runbook's own words (pattern_message), checked before anything is sent.
  assert.equal(await err!.evaluate((el) => el.textContent ?? ''), 'Use lower-case letters only, like “operator”.');
  assert.match(await text(page, '[data-field="vars.WHO"] .pattern'), /Use lower-case letters only/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'var-WHO', 'the field has the focus');
  // The server says the same to any client.
  const refused = await fetch(`${base}/api/runs`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ runbook: 'e2e-tour', vars: { WHO: 'Not Valid!' } }) });
  assert.equal(refused.status, 400);
  assert.deepEqual(((await refused.json()) as { error: unknown }).error, { code: 'VAR_PATTERN', message: 'WHO: Use lower-case letters only, like “operator”.', field: 'vars.WHO' });
  assert.equal(await page.$eval('#var-WHO', (el) => el.getAttribute('aria-invalid')), 'true');
  assert.equal(new URL(page.url()).pathname, '/runbooks/e2e-tour', 'no run was started');
  // Editing the field clears its error.
  await page.type('#var-WHO', 'x');
  await page.waitForSelector('[data-error-for="vars.WHO"][hidden]', WAIT);
});

test('12. unknown runbooks, runs and steps get the 404 page', TEST, async () => {
  for (const p of ['/runbooks/nope', '/runs/nope', `/runs/${runId}/steps/nope`]) {
    const res = await page.goto(base + p);
    assert.equal(res?.status(), 404, p);
    assert.ok(await page.$('.not-found h1'), p);
  }
  const broken = await page.goto(`${base}/runbooks/broken`);
  assert.equal(broken?.status(), 200);
  assert.match(await text(page, 'main'), /broken\.md:5 UNKNOWN_ATTRIBUTE/);
  assert.equal(await page.$('[data-action="start"]'), null, 'a broken runbook has no Start');
});

// ---- keyboard only ----

/** Presses Tab until `selector` has the focus (at most `max` times); true when it did. */
async function tabTo(selector: string, max = 40, shift = false): Promise<boolean> {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s: string) => document.activeElement?.matches(s) ?? false, selector)) return true;
    if (shift) await page.keyboard.down('Shift');
    await page.keyboard.press('Tab');
    if (shift) await page.keyboard.up('Shift');
  }
  return page.evaluate((s: string) => document.activeElement?.matches(s) ?? false, selector);
}

const focusInTerminal = () => page.evaluate(() => document.activeElement?.closest('[data-terminal]') !== null);

test('13. keyboard only: Tab to Run step, Enter, the focus stays on it, the verdict shows, Tab reaches Next, Enter opens it', TEST, async () => {
  await signIn();
  await startRun({ who: 'keys' });
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  assert.ok(await tabTo('[data-action="run-step"]'), 'Tab reaches Run step');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-action')), 'run-step', 'the focus did not fall to <body>');
  await page.waitForFunction(() => document.querySelector('[data-action="run-step"]')?.getAttribute('aria-disabled') === null, WAIT);
  // The verdict is on screen (scrolled into view), and Next is the next stops away.
  // The verdict comes into view (scrolled smoothly: polled, not sampled once).
  await page.waitForFunction(() => {
    const r = document.querySelector('.verdict')!.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= window.innerHeight;
  }, WAIT);
  assert.equal(await page.evaluate(() => document.scrollingElement!.scrollTop), 0, 'only the step pane scrolled, not the page under the top bar');
  assert.ok(await tabTo('a[data-next]', 10), 'Tab reaches Next');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  assert.equal(await text(page, '#step-title'), 'Korean output');
});

test('14. training mode: the locked Next is focusable and described by its lock note', TEST, async () => {
  await signIn();
  await startRun({ training: true, who: 'trainee' });
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  assert.ok(await tabTo('[data-next][aria-disabled="true"]'), 'Tab reaches the locked Next');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-describedby')), 'lock-note');
  assert.match(await text(page, '#lock-note'), /verify this step/);
  const before = page.url();
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-lock-note].flash', WAIT);
  assert.equal(page.url(), before, 'Enter on a locked Next goes nowhere');
  // Unlocked by a keyboard Run step, Next becomes a link and keeps the focus it had.
  assert.ok(await tabTo('[data-action="run-step"]', 40, true));
  await page.keyboard.press('Enter');
  await page.waitForSelector('a[data-next][href]', WAIT);
  await page.waitForSelector('[data-lock-note][hidden]', WAIT);
});

test('15. in the terminal Tab stays (it completes), Esc then Tab moves the focus out', TEST, async () => {
  await signIn();
  await startRun({ who: 'esc' });
  await page.click('[data-terminal] .xterm');
  await page.waitForFunction(() => document.activeElement?.closest('[data-terminal]') !== null, WAIT);
  await page.keyboard.type('echo tab-sta');
  await page.keyboard.press('Tab'); // completes nothing here, but stays in the terminal
  assert.ok(await focusInTerminal(), 'Tab alone stays in the terminal');
  await page.keyboard.type('ys-$((20+1))\n');
  await waitForTerminal(page, 'tab-stays-21');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  assert.equal(await focusInTerminal(), false, 'Esc then Tab left the terminal');
  // Shift-Tab after Esc leaves backwards.
  await page.click('[data-terminal] .xterm');
  await page.waitForFunction(() => document.activeElement?.closest('[data-terminal]') !== null, WAIT);
  await page.keyboard.press('Escape');
  await page.keyboard.down('Shift');
  await page.keyboard.press('Tab');
  await page.keyboard.up('Shift');
  assert.equal(await focusInTerminal(), false, 'Esc then Shift-Tab left the terminal');
  // The dropped Esc did not reach the shell: typing goes on as normal.
  await page.click('[data-terminal] .xterm');
  await page.keyboard.type('echo after-esc-$((40+2))\n');
  await waitForTerminal(page, 'after-esc-42');
});

test('16. Tab twice in the terminal, then Run step still reaches a verdict', TEST, async () => {
  await signIn();
  await startRun({ who: 'tabtab' });
  await page.click('[data-terminal] .xterm');
  await page.waitForFunction(() => document.activeElement?.closest('[data-terminal]') !== null, WAIT);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab'); // bash may ask "Display all N possibilities? (y or n)"
  await page.click('[data-action="run-step"]');
  await page.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  await waitForTerminal(page, 'hello-tabtab');
});

test('17. a warning check keeps its warning look after a reload; the last step offers Finish run, which ends it passed', TEST, async () => {
  await signIn();
  await page.goto(`${base}/runbooks/e2e-finish`);
  await Promise.all([page.waitForNavigation(), page.click('[data-action="start"]')]);
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  const id = /\/runs\/([^/]+)\//.exec(new URL(page.url()).pathname)![1]!;
  await page.click('[data-action="run-step"]');
  await page.waitForSelector('.verdict[data-verdict="warning"]', WAIT);
  const live = await page.$eval('[data-block="soft-check"]', (el) => ({ state: (el as HTMLElement).dataset.state, color: getComputedStyle(el.querySelector('.result-reason')!).color }));
  await page.reload();
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  const reloaded = await page.$eval('[data-block="soft-check"]', (el) => ({ state: (el as HTMLElement).dataset.state, color: getComputedStyle(el.querySelector('.result-reason')!).color }));
  assert.equal(live.state, 'warning');
  assert.deepEqual(reloaded, live, 'the same state and colour after a reload');
  assert.match(await text(page, '[data-block="soft-check"] .result-reason'), /disk is nearly full/);

  await Promise.all([page.waitForNavigation(), page.click('a[data-next]')]);
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  assert.equal(await page.$eval('[data-action="finish"]', (el) => (el as HTMLElement).hidden), true, 'not before every step is done');
  await page.click('[data-action="run-step"]');
  await page.waitForSelector('[data-action="finish"]:not([hidden])', WAIT);
  assert.equal(await page.$eval('[data-unfinished]', (el) => (el as HTMLElement).hidden), true);
  await Promise.all([page.waitForNavigation(), page.click('[data-action="finish"]')]);
  assert.equal(new URL(page.url()).pathname, `/runs/${id}/report`);
  assert.equal(srv.ctx.runs.get(id), undefined, 'the run has ended');
  assert.equal(srv.ctx.store.getRun(id)?.status, 'passed');
  assert.equal(await page.$eval('[data-run-status]', (el) => (el as HTMLElement).dataset.status), 'passed');
});

test('18. ending a run live shows the status a reload shows', TEST, async () => {
  await signIn();
  const id = await startRun({ who: 'ender' });
  await page.click('[data-action="run-step"]');
  await page.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  page.once('dialog', (d) => void d.accept());
  await page.click('[data-action="end-run"]');
  await page.waitForSelector('.conn[data-conn="ended"]', WAIT);
  const live = await page.$eval('[data-run-status]', (el) => el.textContent);
  await page.reload();
  await page.waitForSelector('.conn[data-conn="ended"]', WAIT);
  assert.equal(await page.$eval('[data-run-status]', (el) => el.textContent), live);
  assert.equal(live, srv.ctx.store.getRun(id)?.status);
  // An ended run's terminal is read-only: Tab moves on from it at once.
  await waitForTerminal(page, 'hello-ender');
  await page.click('[data-terminal] .xterm');
  await page.waitForFunction(() => document.activeElement?.closest('[data-terminal]') !== null, WAIT);
  await page.keyboard.press('Tab');
  assert.equal(await focusInTerminal(), false, 'Tab left the read-only terminal');
});

noLeaks();
