// Rolling back in the browser (issue 10 §4): on the step page of a live run whose last step
// failed, Roll back (after a confirm) runs the rollback blocks of the steps that passed, and
// their results appear live in the rollback panel; the report page of an ended failed run
// rolls it back in a linked run and shows where its records are.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchBrowser, WAIT, type TestBrowser } from './helpers/browser.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

const RUNBOOK = (log: string) => `# Rollback in the browser

## Prepare

\`\`\`sh {id=prepare}
echo prepare >> ${log}
\`\`\`

\`\`\`sh {id=prepare-undo rollback=true}
echo undo-prepare >> ${log}; echo undid prepare
\`\`\`

\`\`\`sh {verify}
true
\`\`\`

## Change

\`\`\`sh {id=change}
echo change >> ${log}
\`\`\`

\`\`\`sh {id=change-undo rollback=true}
echo undo-change >> ${log}; echo undid change
\`\`\`

\`\`\`sh {verify}
true
\`\`\`

## Break

\`\`\`sh {id=break}
false
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`;

let tmp: string;
let log: string;
let srv: TestServer;
let b: TestBrowser;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-rollback-ui-'));
  log = path.join(tmp, 'log');
  const rb = path.join(tmp, 'runbooks');
  fs.mkdirSync(rb);
  fs.writeFileSync(path.join(rb, 'rb-ui.md'), RUNBOOK(log));
  srv = await startTestServer(rb);
  b = await launchBrowser();
  b.page.on('dialog', (d) => void d.accept());
});

after(async () => {
  await b?.close();
  for (const run of srv.ctx.store.listRuns()) if (srv.ctx.runs.get(run.id)) await srv.api('DELETE', `/api/runs/${run.id}`);
  await srv?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function failedRun(): Promise<string> {
  const created = await srv.api('POST', '/api/runs', { runbook: 'rb-ui', target: 'local' });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = created.json.id as string;
  for (const step of ['prepare', 'change', 'break']) assert.equal((await srv.api('POST', `/api/runs/${id}/steps/${step}/execute`, {})).status, 200);
  return id;
}

test('Roll back on a live failed run: confirm, then the rollback results appear live', async () => {
  fs.rmSync(log, { force: true });
  const id = await failedRun();
  const { page } = b;
  await page.goto(srv.signInUrl(`/runs/${id}/steps/change`), { waitUntil: 'load' });
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  // The rollback block is shown as one, with no Run button of its own.
  assert.ok(await page.$('[data-block="change-undo"] [data-rollback-tag]'));
  assert.equal(await page.$('[data-block="change-undo"] [data-action="run-block"]'), null);
  await page.click('[data-action="rollback"]');
  await page.waitForFunction(() => document.querySelector('[data-rollback-result="prepare-undo"]')?.getAttribute('data-status') === 'passed', WAIT);
  await page.waitForFunction(() => /Rolled back: change, prepare/.test(document.querySelector('[data-rollback-summary]')?.textContent ?? ''), WAIT);
  const order = await page.$$eval('[data-rollback-result]', (els) => els.map((e) => e.getAttribute('data-rollback-result')));
  assert.deepEqual(order, ['change-undo', 'prepare-undo']);
  assert.match(await page.$eval('[data-rollback-result="change-undo"]', (e) => e.textContent ?? ''), /undid change/);
  // The step's own rollback block shows its result in place too.
  await page.waitForFunction(() => document.querySelector('[data-block="change-undo"]')?.getAttribute('data-state') === 'passed', WAIT);
  assert.equal(await page.$eval('[data-action="rollback"]', (e) => (e as HTMLElement).hidden), true);
  assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), ['prepare', 'change', 'undo-change', 'undo-prepare']);
  // After a reload the page says it was rolled back, with no button.
  await page.reload({ waitUntil: 'load' });
  assert.equal(await page.$('[data-action="rollback"]'), null);
  assert.equal(await page.$eval('[data-rollback-panel]', (e) => e.getAttribute('data-rollback-status')), 'passed');
  await srv.api('DELETE', `/api/runs/${id}`);
});

test('Roll back on the report of an ended failed run: a linked run does it, its results shown', async () => {
  fs.rmSync(log, { force: true });
  const id = await failedRun();
  await srv.api('DELETE', `/api/runs/${id}`);
  assert.equal(srv.ctx.store.getRun(id)!.status, 'failed');
  const { page } = b;
  await page.goto(`${srv.base}/runs/${id}/report`, { waitUntil: 'load' });
  await page.click('[data-action="rollback"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-rollback-result][data-status="passed"]').length === 2, WAIT);
  const linked = await page.$eval('[data-rollback-run] code', (e) => e.textContent ?? '');
  assert.notEqual(linked, id);
  assert.equal(srv.ctx.store.getRun(linked)!.options.rollbackOf, id);
  assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), ['prepare', 'change', 'undo-change', 'undo-prepare']);
});

noLeaks();
