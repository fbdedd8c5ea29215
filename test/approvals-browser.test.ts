// Approving in the browser (issue 12 §1): a run started by one user waits before a block with
// approve=true; another user (the admin, signed in in Chromium) approves it from /approvals
// with a comment, and the run goes on; the approval is in the run's audit chain.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchBrowser, WAIT, type TestBrowser } from './helpers/browser.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { Users } from '../server/record/users.ts';

const RUNBOOK = `# Browser approvals

## Restart the network

\`\`\`sh {id=restart approve=true}
echo restarted
\`\`\`
`;

let tmp: string;
let srv: TestServer;
let b: TestBrowser;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-approvals-ui-'));
  fs.writeFileSync(path.join(tmp, 'approvals-ui.md'), RUNBOOK);
  srv = await startTestServer(tmp);
  b = await launchBrowser();
});

after(async () => {
  await b?.close();
  await srv?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('an admin approves from /approvals; the waiting step then runs', async () => {
  const carol = new Users(srv.ctx.store.database).createToken('carol', 'operator');
  assert.ok(carol.ok);
  const as = { authorization: `Bearer ${carol.value.token}` };
  const created = await srv.api('POST', '/api/runs', { runbook: 'approvals-ui', target: 'local' }, as);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const runId = created.json.id as string;
  const step = srv.api('POST', `/api/runs/${runId}/steps/restart-the-network/execute`, {}, as);

  const { page } = b;
  // Until the run has asked, the page may say nothing waits: reload until the request shows.
  await page.goto(srv.signInUrl('/approvals'), { waitUntil: 'load' });
  const until = Date.now() + 20_000;
  while (!(await page.$(`[data-approval][data-run="${runId}"]`))) {
    assert.ok(Date.now() < until, 'the approval never appeared on /approvals');
    await new Promise((r) => setTimeout(r, 100));
    await page.reload({ waitUntil: 'load' });
  }
  const item = `[data-approval][data-run="${runId}"]`;
  assert.equal(await page.$eval(`${item} [data-operator]`, (el) => el.getAttribute('data-operator')), 'carol');
  assert.match(await page.$eval(`${item} .approval-command`, (el) => el.textContent ?? ''), /echo restarted/);
  await page.type(`${item} [data-comment]`, 'looks right, CHG-9');
  await page.click(`${item} button[data-decision="approve"]`);
  await page.waitForFunction((sel: string) => document.querySelector(`${sel} [data-result]`)?.getAttribute('data-state') === 'approved', WAIT, item);

  const verdict = await step;
  assert.equal(verdict.status, 200);
  assert.equal(verdict.json.status, 'passed');
  const granted = srv.ctx.store.auditEvents(runId).find((e) => e.type === 'approval-granted');
  assert.ok(granted);
  assert.notEqual(granted.data.user, 'carol');
  assert.equal(granted.data.comment, 'looks right, CHG-9');
  await srv.api('DELETE', `/api/runs/${runId}`);
});

test('the step page shows who may approve and rejects with a comment; the step fails "rejected by"', async () => {
  const carol = new Users(srv.ctx.store.database).createToken('carol2', 'operator');
  assert.ok(carol.ok);
  const as = { authorization: `Bearer ${carol.value.token}` };
  const created = await srv.api('POST', '/api/runs', { runbook: 'approvals-ui', target: 'local' }, as);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const runId = created.json.id as string;
  const step = srv.api('POST', `/api/runs/${runId}/steps/restart-the-network/execute`, {}, as);
  const until = Date.now() + 20_000;
  while (!(await srv.api('GET', '/api/approvals?pending=1')).json.approvals.some((a: any) => a.runId === runId)) {
    assert.ok(Date.now() < until, 'the run never asked for approval');
    await new Promise((r) => setTimeout(r, 50));
  }
  const { page } = b;
  await page.goto(`${srv.base}/runs/${runId}/steps/restart-the-network`, { waitUntil: 'load' });
  const panel = `[data-approval][data-run="${runId}"]`;
  await page.waitForSelector(panel, WAIT);
  const text = await page.$eval(panel, (el) => (el as HTMLElement).innerText);
  assert.match(text, /Who may approve: 1 user with the approver or admin role other than the operator, carol2/);
  await page.type(`${panel} [data-comment]`, 'not in business hours');
  await page.click(`${panel} button[data-decision="reject"]`);
  await page.waitForFunction((sel: string) => document.querySelector(`${sel} [data-result]`)?.getAttribute('data-state') === 'rejected', WAIT, panel);
  const verdict = await step;
  assert.equal(verdict.status, 200);
  assert.equal(verdict.json.status, 'failed');
  assert.match(JSON.stringify(verdict.json), /rejected by [^:]+: not in business hours/);
  await srv.api('DELETE', `/api/runs/${runId}`);
});

test('the open step page says live that a block waits for approval, and by whom', async () => {
  const { page } = b;
  const created = await srv.api('POST', '/api/runs', { runbook: 'approvals-ui', target: 'local' });
  assert.equal(created.status, 201);
  const runId = created.json.id as string;
  await page.goto(`${srv.base}/runs/${runId}/steps/restart-the-network`, { waitUntil: 'load' });
  await page.waitForSelector('.conn[data-conn="live"]', WAIT); // the websocket is up: the live message will reach the page
  // Started by the admin this time: the note names the admin as the one who may not approve.
  const step = srv.api('POST', `/api/runs/${runId}/steps/restart-the-network/execute`, {});
  await page.waitForSelector('[data-block="restart"] [data-approval-wait]', WAIT);
  const note = await page.$eval('[data-block="restart"] [data-approval-wait]', (el) => (el as HTMLElement).innerText);
  assert.match(note, /Waiting for approval: 1 from approvers or admins other than \S+\. Pending approvals/);
  const bob = new Users(srv.ctx.store.database).createToken('bob-live', 'approver');
  assert.ok(bob.ok);
  const ok = await srv.api('POST', `/api/runs/${runId}/approvals`, { decision: 'approve', comment: 'go' }, { authorization: `Bearer ${bob.value.token}` });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal((await step).json.status, 'passed');
  await page.waitForFunction(() => !document.querySelector('[data-block="restart"] [data-approval-wait]'), WAIT);
  await srv.api('DELETE', `/api/runs/${runId}`);
});

noLeaks();
