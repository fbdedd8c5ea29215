// A runbook that spans hosts in Chromium: the step page shows a terminal tab per role (WAI-ARIA
// tabs, arrow keys), labels each block with its role and host, runs a step with each block on
// its role's shell, and each tab's terminal shows its own role's output. Two roles on `local`.
// Run: node --import tsx --test test/roles-browser.test.ts
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { launchBrowser, WAIT, type TestBrowser } from './helpers/browser.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { TWO_ROLES } from './fixtures/roles-runbook.ts';

let chromium: TestBrowser;
let page: Page;
let srv: TestServer;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-roles-browser-'));
  fs.writeFileSync(path.join(dir, 'two.md'), TWO_ROLES('/'));
  srv = await startTestServer(dir);
  chromium = await launchBrowser();
  page = chromium.page;
});

after(async () => {
  try {
    for (const run of srv.ctx.store.listRuns()) await srv.api('DELETE', `/api/runs/${run.id}`);
  } finally {
    await chromium?.close();
    await srv?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Whether a line of that role's xterm buffer contains `text`. */
const roleTerminalHas = (role: string, text: string) =>
  page.evaluate(
    (r: string, s: string) => {
      const buf = window.__stepwise?.terms?.[r]?.buffer.active;
      if (!buf) return false;
      for (let i = 0; i < buf.length; i++) if (buf.getLine(i)?.translateToString(true).includes(s)) return true;
      return false;
    },
    role,
    text,
  );

const waitRoleTerminal = (role: string, text: string) =>
  page.waitForFunction(
    (r: string, s: string) => {
      const buf = window.__stepwise?.terms?.[r]?.buffer.active;
      if (!buf) return false;
      for (let i = 0; i < buf.length; i++) if (buf.getLine(i)?.translateToString(true).includes(s)) return true;
      return false;
    },
    WAIT,
    role,
    text,
  );

test('two roles: a tab per role, each block labelled with its role, each terminal its own output', { timeout: 120_000 }, async () => {
  const created = await srv.api('POST', '/api/runs', { runbook: 'two', roles: { source: 'local', destination: 'local' } });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = created.json.id as string;
  await page.goto(srv.signInUrl(`/runs/${id}/steps/setup`));
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);

  // The tabs: one per role, the first selected and in the tab order, its panel shown.
  const tabs = await page.$$eval('[role="tablist"] [role="tab"]', (els) => els.map((e) => ({ role: (e as HTMLElement).dataset.roleTab, selected: e.getAttribute('aria-selected'), tabindex: e.getAttribute('tabindex'), controls: e.getAttribute('aria-controls'), text: (e as HTMLElement).innerText })));
  assert.deepEqual(tabs.map((t) => [t.role, t.selected, t.tabindex, t.controls]), [
    ['source', 'true', '0', 'role-panel-source'],
    ['destination', 'false', '-1', 'role-panel-destination'],
  ]);
  assert.ok(tabs[1]!.text.includes(os.hostname()), 'each tab names its host');
  assert.equal(await page.$eval('#role-panel-source', (e) => (e as HTMLElement).hidden), false);
  assert.equal(await page.$eval('#role-panel-destination', (e) => (e as HTMLElement).hidden), true);
  assert.equal(await page.$eval('#role-panel-destination', (e) => e.getAttribute('role')), 'tabpanel');
  // Each block says where it runs.
  assert.equal(await page.$eval('[data-block="dst-setup"] [data-block-role]', (e) => (e as HTMLElement).dataset.blockRole), 'destination');
  assert.match(await page.$eval('[data-block="src-setup"] [data-block-role]', (e) => (e as HTMLElement).innerText), /on source/);

  // Run the step: each block on its role's shell; each terminal shows its own.
  await page.click('[data-action="run-step"]');
  await page.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  await waitRoleTerminal('source', 'source says source');
  await waitRoleTerminal('destination', 'destination says destination');
  assert.equal(await roleTerminalHas('source', 'destination says'), false);
  assert.equal(await roleTerminalHas('destination', 'source says'), false);

  // Keyboard: the right arrow on the selected tab selects the next and shows its panel.
  await page.focus('#role-tab-source');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.$eval('#role-tab-destination', (e) => e.getAttribute('aria-selected')), 'true');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'role-tab-destination');
  assert.equal(await page.$eval('#role-panel-destination', (e) => (e as HTMLElement).hidden), false);
  assert.equal(await page.$eval('#role-panel-source', (e) => (e as HTMLElement).hidden), true);
  // Typing in the destination's terminal goes to the destination's shell.
  await page.click('#role-panel-destination');
  await page.keyboard.type('echo typed-$WHO\n');
  await waitRoleTerminal('destination', 'typed-destination');
  assert.equal(await roleTerminalHas('source', 'typed-'), false);
  await page.keyboard.press('Home');
  await page.focus('#role-tab-destination');
  await page.keyboard.press('Home');
  assert.equal(await page.$eval('#role-tab-source', (e) => e.getAttribute('aria-selected')), 'true');
});


test('the overview form has a target picker per role (no single target); the run it starts binds both', { timeout: 120_000 }, async () => {
  await page.goto(srv.signInUrl('/runbooks/two'));
  await page.waitForSelector('#start-form', WAIT);
  assert.equal(await page.$('select#target'), null, 'no single target for a runbook of two roles');
  const pickers = await page.$$eval('select[data-role]', (els) => els.map((e) => [(e as HTMLSelectElement).dataset.role, document.querySelector(`label[for="${e.id}"]`)?.textContent?.trim()]));
  assert.deepEqual(pickers, [['source', 'Target of source'], ['destination', 'Target of destination']]);
  await page.select('#role-source', 'local');
  await page.select('#role-destination', 'local');
  // The plan puts each block on its role.
  await page.click('[data-action="plan"]');
  await page.waitForSelector('[data-plan-block="dst-setup"] [data-block-role="destination"]', WAIT);
  assert.equal(await page.$eval('[data-plan-block="src-setup"] [data-block-role]', (e) => (e as HTMLElement).dataset.blockRole), 'source');
  await Promise.all([page.waitForNavigation(), page.click('[data-action="start"]')]);
  const m = /\/runs\/([^/]+)\/steps\/setup$/.exec(new URL(page.url()).pathname);
  assert.ok(m, `landed on the first step, got ${page.url()}`);
  const rec = srv.ctx.store.getRun(m[1]!)!;
  assert.equal(rec.target, 'source=local,destination=local');
  await page.waitForSelector('#role-tab-destination', WAIT);
});

noLeaks();
