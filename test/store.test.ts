import { noLeaks } from './helpers/leaks.ts';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { RunStore, SCHEMA_VERSION } from '../server/record/store.ts';
import { newRunId, isRunId } from '../server/record/ids.ts';
import type { BlockResult, StepVerdict } from '../common/result.ts';

// Every folder a test made, removed when the file's tests are done.
const made: string[] = [];
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-store-'));
  made.push(dir);
  return path.join(dir, 'data');
}

function result(id: string, over: Partial<BlockResult> = {}): BlockResult {
  return { id, status: 'passed', exitCode: 0, output: `out of ${id}`, durationMs: 12, end: 'exit', ...over };
}

test('newRunId is sortable and URL-safe', () => {
  const a = newRunId(new Date('2024-03-05T07:08:09Z'));
  assert.match(a, /^r20240305070809-[a-z2-7]{6}$/);
  assert.ok(isRunId(a));
  const b = newRunId(new Date('2024-03-05T07:08:10Z'));
  assert.ok(a < b);
  assert.equal(encodeURIComponent(a), a);
  const many = new Set(Array.from({ length: 1000 }, () => newRunId()));
  assert.equal(many.size, 1000);
});

test('runs: create, get, list newest first with filters, finish, cast path', () => {
  const dir = tmpDir();
  const store = RunStore.open(dir);
  try {
    assert.ok(fs.existsSync(path.join(dir, 'stepwise.db')));
    assert.equal(store.schemaVersion, SCHEMA_VERSION);

    const r1 = store.createRun({
      runbookId: 'deploy',
      runbookFile: 'ops/deploy.md',
      contentHash: 'a'.repeat(64),
      runbookTitle: 'Deploy',
      target: 'local',
      user: 'alice',
      vars: { HOST: 'db1', PASSWORD: '••••' },
      options: { dryRun: false, stopOnFail: true },
      startedAt: '2024-01-01T10:00:00.000Z',
    });
    assert.ok(isRunId(r1.id));
    assert.equal(r1.status, 'running');
    assert.deepEqual(store.getRun(r1.id), r1);

    const r2 = store.createRun({
      id: 'r20240101110000-bbbbbb',
      runbookId: 'backup',
      target: 'ssh:db1',
      user: 'bob',
      startedAt: '2024-01-01T11:00:00.000Z',
      parentRunId: r1.id,
    });
    const r3 = store.createRun({
      runbookId: 'deploy',
      target: 'local',
      user: 'alice',
      startedAt: '2024-01-01T12:00:00.000Z',
    });
    // An ad-hoc run with no runbook.
    const r4 = store.createRun({ target: 'local', user: 'carol', startedAt: '2024-01-01T09:00:00.000Z' });
    assert.equal(r4.runbookId, null);
    assert.deepEqual(r4.vars, {});
    assert.deepEqual(r4.options, {});

    assert.equal(store.getRun('nope'), undefined);
    assert.deepEqual(store.getRun(r2.id)?.parentRunId, r1.id);

    assert.deepEqual(
      store.listRuns().map((r) => r.id),
      [r3.id, r2.id, r1.id, r4.id],
    );
    assert.deepEqual(
      store.listRuns({ runbookId: 'deploy' }).map((r) => r.id),
      [r3.id, r1.id],
    );
    assert.deepEqual(
      store.listRuns({ limit: 2 }).map((r) => r.id),
      [r3.id, r2.id],
    );

    assert.equal(store.finishRun(r1.id, 'passed', '2024-01-01T10:05:00.000Z'), true);
    assert.equal(store.finishRun('nope', 'failed'), false);
    store.finishRun(r2.id, 'failed');
    const got1 = store.getRun(r1.id)!;
    assert.equal(got1.status, 'passed');
    assert.equal(got1.endedAt, '2024-01-01T10:05:00.000Z');
    assert.ok(store.getRun(r2.id)!.endedAt);

    assert.deepEqual(
      store.listRuns({ status: 'running' }).map((r) => r.id),
      [r3.id, r4.id],
    );
    assert.deepEqual(
      store.listRuns({ runbookId: 'deploy', status: 'passed' }).map((r) => r.id),
      [r1.id],
    );

    assert.equal(store.setCastPath(r3.id, '/data/casts/x.cast'), true);
    assert.equal(store.getRun(r3.id)!.castPath, '/data/casts/x.cast');

    assert.throws(() => store.createRun({ id: r1.id, target: 'local', user: 'x' }), /UNIQUE|PRIMARY/);
  } finally {
    store.close();
  }
});

test('block results keep execution order, latest per block wins; verdicts upsert', () => {
  const store = RunStore.open(tmpDir());
  try {
    const run = store.createRun({ runbookId: 'rb', target: 'local', user: 'u' });
    const other = store.createRun({ runbookId: 'rb', target: 'local', user: 'u' });

    const seq1 = store.addBlockResult(run.id, 's1', 'command', result('b1', { castTime: 0.5, outputDigest: 'd1' }));
    const seq2 = store.addBlockResult(
      run.id,
      's1',
      'check',
      { ...result('c1'), status: 'failed', exitCode: 1, reason: 'expected "ok"', castTime: 1.25 },
      '2024-01-01T00:00:00.000Z',
    );
    const seqOther = store.addBlockResult(other.id, 's1', 'command', result('b1'));
    const seq3 = store.addBlockResult(run.id, 's1', 'command', result('b1', { output: 'second try', durationMs: 7.6 }));
    const seq4 = store.addBlockResult(
      run.id,
      's2',
      'file',
      result('f1', { status: 'skipped', exitCode: null, end: 'skipped', output: '' }),
    );
    assert.deepEqual([seq1, seq2, seq3, seq4], [1, 2, 3, 4]);
    assert.equal(seqOther, 1);

    const all = store.blockResults(run.id);
    assert.deepEqual(
      all.map((b) => [b.seq, b.stepId, b.id, b.kind]),
      [
        [1, 's1', 'b1', 'command'],
        [2, 's1', 'c1', 'check'],
        [3, 's1', 'b1', 'command'],
        [4, 's2', 'f1', 'file'],
      ],
    );
    const first = all[0]!;
    assert.equal(first.runId, run.id);
    assert.equal(first.status, 'passed');
    assert.equal(first.exitCode, 0);
    assert.equal(first.end, 'exit');
    assert.equal(first.castTime, 0.5);
    assert.equal(first.outputDigest, 'd1');
    assert.equal(first.durationMs, 12);
    assert.ok(!Number.isNaN(Date.parse(first.startedAt)));
    assert.equal(all[1]!.reason, 'expected "ok"');
    assert.equal(all[1]!.startedAt, '2024-01-01T00:00:00.000Z');
    assert.equal(all[2]!.durationMs, 8);
    assert.equal('reason' in all[2]!, false, 'absent optional fields stay absent');
    assert.equal(all[3]!.exitCode, null);
    assert.equal(all[3]!.end, 'skipped');

    const latest = store.latestBlockResults(run.id);
    assert.deepEqual([...latest.keys()], ['c1', 'b1', 'f1']);
    assert.equal(latest.get('b1')!.seq, 3);
    assert.equal(latest.get('b1')!.output, 'second try');
    assert.equal(latest.size, 3);
    assert.equal(store.latestBlockResults(other.id).get('b1')!.seq, 1);
    assert.equal(store.blockResults('nope').length, 0);

    // Foreign keys are enforced.
    assert.throws(() => store.addBlockResult('no-such-run', 's1', 'command', result('b1')), /FOREIGN KEY/);

    store.setStepVerdict(run.id, { stepId: 's1', status: 'failed', reason: 'check c1 failed' }, '2024-01-01T00:00:01.000Z');
    store.setStepVerdict(run.id, { stepId: 's2', status: 'skipped' });
    store.setStepVerdict(run.id, { stepId: 's1', status: 'passed' }, '2024-01-01T00:00:05.000Z');
    assert.deepEqual(store.stepVerdicts(run.id), [
      { stepId: 's1', status: 'passed', decidedAt: '2024-01-01T00:00:05.000Z' },
      { stepId: 's2', status: 'skipped', decidedAt: store.stepVerdicts(run.id)[1]!.decidedAt },
    ]);
    // A full StepVerdict is accepted too.
    const full: StepVerdict = { stepId: 's2', status: 'warning', reason: 'slow', blocks: [], checks: [] };
    store.setStepVerdict(run.id, full);
    assert.equal(store.stepVerdicts(run.id)[1]!.reason, 'slow');
    assert.deepEqual(store.stepVerdicts(other.id), []);
  } finally {
    store.close();
  }
});

test('interruptRun, reopen from disk, WAL mode, idempotent migrations', () => {
  const dir = tmpDir();
  let store = RunStore.open(dir);
  const a = store.createRun({ target: 'local', user: 'u' });
  const b = store.createRun({ target: 'local', user: 'u' });
  const c = store.createRun({ target: 'local', user: 'u' });
  store.finishRun(c.id, 'passed', '2024-01-01T00:00:00.000Z');
  store.addBlockResult(a.id, 's1', 'command', result('b1'));
  store.setStepVerdict(a.id, { stepId: 's1', status: 'passed' });
  store.close();
  store.close(); // idempotent

  // Simulated restart after a crash: a and b were still running.
  store = RunStore.open(dir);
  try {
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    assert.deepEqual(store.runningRuns().map((r) => r.id).sort(), [a.id, b.id].sort());
    for (const r of store.runningRuns()) assert.ok(store.interruptRun(r.id));
    assert.equal(store.interruptRun(a.id), false, 'an interrupted run is not interrupted twice');
    assert.equal(store.getRun(a.id)!.status, 'interrupted');
    assert.ok(store.getRun(a.id)!.endedAt);
    assert.equal(store.getRun(b.id)!.status, 'interrupted');
    const gotC = store.getRun(c.id)!;
    assert.equal(gotC.status, 'passed');
    assert.equal(gotC.endedAt, '2024-01-01T00:00:00.000Z');
    assert.equal(store.blockResults(a.id).length, 1);
    assert.equal(store.blockResults(a.id)[0]!.output, 'out of b1');
    assert.equal(store.stepVerdicts(a.id)[0]!.status, 'passed');
    assert.equal(store.listRuns().length, 3);
  } finally {
    store.close();
  }

  const raw = new Database(path.join(dir, 'stepwise.db'), { readonly: true });
  try {
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  } finally {
    raw.close();
  }
});

test('a database from a newer Stepwise is refused', () => {
  const dir = tmpDir();
  RunStore.open(dir).close();
  const raw = new Database(path.join(dir, 'stepwise.db'));
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(() => RunStore.open(dir), /newer/);
});

noLeaks();
