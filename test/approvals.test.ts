// Four-eyes approvals (issue 12 §1): a headless run waits before a block with approve=…, and
// another process (`stepwise approve`, as another user's token) approves or rejects it. The
// run's operator cannot approve their own run; an operator token cannot approve at all; a
// wait with approveTimeout expires. Every request and decision is in the run's audit chain.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runStepwise, spawnStepwise } from './helpers/cli.ts';
import { RunStore } from '../server/record/store.ts';
import { parseRunbook } from '../server/runbook/parse.ts';
import { settle } from '../server/run/approvals.ts';
import { Users } from '../server/record/users.ts';
import { startTestServer } from './helpers/server.ts';

const RUNBOOK = `# Approvals fixture

## Restart the network

\`\`\`sh {id=prepare}
echo preparing
\`\`\`

\`\`\`sh {id=restart approve=true}
echo restarted-network
\`\`\`

## Migrate the guest

\`\`\`sh {id=migrate approve=2 approveTimeout=1}
echo migrated
\`\`\`
`;

let tmp: string;
let data: string;
let rbDir: string;
const tokens: Record<string, string> = {};

function token(user: string, role: string): string {
  const r = runStepwise(['token', 'create', '--user', user, '--role', role, '--data', data]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout.trim().split('\n').at(-1)!;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-approvals-'));
  data = path.join(tmp, 'data');
  rbDir = path.join(tmp, 'runbooks');
  fs.mkdirSync(rbDir);
  fs.writeFileSync(path.join(rbDir, 'approvals.md'), RUNBOOK);
  tokens.alice = token('alice', 'admin');
  tokens.bob = token('bob', 'approver');
  tokens.carol = token('carol', 'operator');
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function approve(runId: string, who: string, ...extra: string[]) {
  const r = runStepwise(['approve', runId, '--data', data, ...extra], { STEPWISE_TOKEN: tokens[who]! });
  return { code: r.code, out: r.stdout + r.stderr };
}

function events(runId: string) {
  const store = RunStore.open(data);
  try {
    return store.auditEvents(runId);
  } finally {
    store.close();
  }
}

async function startWaiting(step: string) {
  const run = spawnStepwise(['run', 'approvals', '--step', step, '--runbooks', rbDir, '--data', data], { STEPWISE_USER: 'alice' });
  await run.waitFor(/waiting for approval: stepwise approve (\S+)/);
  const runId = /waiting for approval: stepwise approve (\S+)/.exec(run.output())![1]!;
  return { run, runId };
}

test('the attributes parse: approve=true is one approver, approve=2 two, approveTimeout seconds; bad values are diagnostics', () => {
  const { runbook, diagnostics } = parseRunbook(RUNBOOK, 'approvals.md');
  assert.deepEqual(diagnostics.filter((d) => d.severity === 'error'), []);
  assert.equal(runbook!.blocks.restart!.approve, 1);
  assert.equal(runbook!.blocks.restart!.approveTimeoutSec, undefined);
  assert.equal(runbook!.blocks.migrate!.approve, 2);
  assert.equal(runbook!.blocks.migrate!.approveTimeoutSec, 1);
  const bad = parseRunbook('# T\n\n## S\n\n```sh {id=a approve=lots}\ntrue\n```\n\n```sh {id=b approveTimeout=5}\ntrue\n```\n', 't.md');
  assert.deepEqual(bad.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code), ['BAD_ATTRIBUTE', 'BAD_ATTRIBUTE']);
  assert.equal(settle(2, [{ user: 'b', decision: 'approve', comment: '', at: '' }]), 'pending');
  assert.equal(settle(2, [{ user: 'b', decision: 'approve', comment: '', at: '' }, { user: 'b', decision: 'approve', comment: '', at: '' }]), 'pending');
  assert.equal(settle(1, [{ user: 'b', decision: 'reject', comment: '', at: '' }]), 'rejected');
});

test('a waiting run, approved by another user in another process; self-approval and an operator refused', async () => {
  const { run, runId } = await startWaiting('restart-the-network');
  try {
    const self = approve(runId, 'alice', '--comment', 'mine');
    assert.equal(self.code, 1, self.out);
    assert.match(self.out, /alice is the operator of run \S+: four eyes/);
    const op = approve(runId, 'carol');
    assert.equal(op.code, 1, op.out);
    assert.match(op.out, /carol has the operator role: approving needs the approver or admin role/);
    assert.doesNotMatch(run.output(), /restart-the-network: passed/, 'the block waits');
    const ok = approve(runId, 'bob', '--comment', 'change CHG-42 approved');
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /bob approved block restart of run \S+ \(approved\)/);
    assert.equal(await run.exited, 0, run.output());
    assert.match(run.output(), /restart-the-network: passed/);
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await run.exited;
  }
  const ev = events(runId);
  const types = ev.map((e) => e.type);
  assert.ok(types.indexOf('approval-requested') < types.indexOf('approval-granted'));
  const granted = ev.find((e) => e.type === 'approval-granted')!;
  assert.equal(granted.data.user, 'bob');
  assert.equal(granted.data.comment, 'change CHG-42 approved');
  // The approval comes before the block ran.
  const restartStart = ev.findIndex((e) => e.type === 'block-started' && e.data.blockId === 'restart');
  assert.ok(ev.indexOf(granted) < restartStart);
  const verify = runStepwise(['audit', 'verify', runId, '--data', data]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);

  // In every report, and in an evidence bundle that verifies.
  const report = (format: string) => runStepwise(['report', runId, '--format', format, '--data', data, '--runbooks', rbDir]).stdout;
  const json = JSON.parse(report('json'));
  assert.deepEqual(json.approvals.map((a: any) => [a.blockId, a.need, a.operator, a.state, a.decisions.map((d: any) => [d.user, d.decision, d.comment])]), [['restart', 1, 'alice', 'approved', [['bob', 'approve', 'change CHG-42 approved']]]]);
  assert.match(report('md'), /## Approvals[\s\S]*`restart-the-network\/restart` \| 1 \| `alice` \| \*\*approved\*\* \| `bob` approved \S+: change CHG-42 approved/);
  assert.match(report('junit'), /name="stepwise.approval.1" value="restart-the-network\/restart approved \(needs 1, operator alice\); approve by bob at \S+: change CHG-42 approved"/);
  const zip = path.join(tmp, 'approved.zip');
  assert.equal(runStepwise(['evidence', runId, '--output', zip, '--data', data, '--runbooks', rbDir]).code, 0);
  const checked = runStepwise(['evidence', 'verify', zip]);
  assert.equal(checked.code, 0, checked.stdout);
  assert.match(checked.stdout, /1 approval decisions agree with the chain/);
});

test('a rejection fails the step with "rejected by <user>: <comment>"', async () => {
  const { run, runId } = await startWaiting('restart-the-network');
  try {
    const no = approve(runId, 'bob', '--reject', '--comment', 'not during business hours');
    assert.equal(no.code, 0, no.out);
    assert.match(no.out, /bob rejected block restart .*\(rejected\)/);
    assert.equal(await run.exited, 1, run.output());
    assert.match(run.output(), /rejected by bob: not during business hours/);
    assert.doesNotMatch(run.output(), /restarted-network/);
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await run.exited;
  }
  const rejected = events(runId).find((e) => e.type === 'approval-rejected')!;
  assert.equal(rejected.data.user, 'bob');
  assert.equal(rejected.data.comment, 'not during business hours');
  const again = approve(runId, 'bob');
  assert.equal(again.code, 1);
  assert.match(again.out, /not waiting for approval/);
});

test('a run killed while it waits is no longer pending: nothing to approve', async () => {
  const { run, runId } = await startWaiting('restart-the-network');
  run.child.kill('SIGKILL');
  await run.exited;
  // The next stepwise command marks the dead run interrupted; its request is then not pending.
  const r = approve(runId, 'bob');
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /is not waiting for approval/);
});

test('approveTimeout expires a wait that did not get its approvals', async () => {
  const { run, runId } = await startWaiting('migrate-the-guest');
  try {
    assert.match(run.output(), /needs 2 approvals by someone other than alice before/);
    const one = approve(runId, 'bob');
    // One of two approvals (unless the second of waiting already passed: then nothing is pending).
    assert.ok(one.code === 0 || /not waiting/.test(one.out), one.out);
    assert.equal(await run.exited, 1, run.output());
    assert.match(run.output(), /approval expired after 1 s/);
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await run.exited;
  }
  assert.ok(events(runId).some((e) => e.type === 'approval-expired'));
});

test('the API with two tokens: the operator cannot approve, an approver can; GET /api/approvals?pending=1 lists the wait', async () => {
  const srv = await startTestServer(rbDir);
  try {
    const bob = new Users(srv.ctx.store.database).createToken('bob', 'approver');
    const carol = new Users(srv.ctx.store.database).createToken('carol', 'operator');
    assert.ok(bob.ok && carol.ok);
    const as = (t: string) => ({ authorization: `Bearer ${t}` });
    const created = await srv.api('POST', '/api/runs', { runbook: 'approvals', target: 'local' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const runId = created.json.id as string;
    // The operator (the startup token's user) runs the step; it waits for approval.
    const step = srv.api('POST', `/api/runs/${runId}/steps/restart-the-network/execute`, {});
    let pending: any[] = [];
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      pending = (await srv.api('GET', '/api/approvals?pending=1', undefined, as(bob.value.token))).json.approvals;
      if (pending.some((p) => p.runId === runId)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const mine = pending.find((p) => p.runId === runId);
    assert.ok(mine, 'the wait is listed');
    const waiting = await srv.api('GET', `/api/runs/${runId}`);
    assert.equal(waiting.json.status, 'running');
    assert.deepEqual(waiting.json.awaitingApproval.map((a: any) => a.blockId), ['restart']);
    assert.equal(mine.blockId, 'restart');
    const operator = mine.operator as string;
    const self = await srv.api('POST', `/api/runs/${runId}/approvals`, { blockId: 'restart', decision: 'approve', comment: 'me' });
    assert.equal(self.status, 403);
    assert.match(self.json.error.message, new RegExp(`${operator} is the operator of run ${runId}: four eyes`));
    const op = await srv.api('POST', `/api/runs/${runId}/approvals`, { decision: 'approve' }, as(carol.value.token));
    assert.equal(op.status, 403);
    assert.match(op.json.error.message, /approving needs the approver or admin role/);
    const bad = await srv.api('POST', `/api/runs/${runId}/approvals`, { decision: 'maybe' }, as(bob.value.token));
    assert.equal(bad.status, 400);
    // An approver still cannot operate.
    const operate = await srv.api('POST', `/api/runs/${runId}/blocks/prepare/execute`, {}, as(bob.value.token));
    assert.equal(operate.status, 403);
    const ok = await srv.api('POST', `/api/runs/${runId}/approvals`, { blockId: 'restart', decision: 'approve', comment: 'CHG-7' }, as(bob.value.token));
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.state, 'approved');
    const verdict = await step;
    assert.equal(verdict.status, 200);
    assert.equal(verdict.json.status, 'passed');
    const all = await srv.api('GET', `/api/approvals?run=${runId}`);
    assert.deepEqual(all.json.approvals.map((a: any) => [a.blockId, a.state, a.decisions.map((d: any) => d.user)]), [['restart', 'approved', ['bob']]]);
    await srv.api('DELETE', `/api/runs/${runId}`);
  } finally {
    await srv.stop();
  }
});

noLeaks();
