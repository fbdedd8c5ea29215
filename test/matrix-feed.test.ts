// The live matrix: the pure diff/apply (common/matrix.ts) and the feed that batches a change
// stream into snapshots and diffs (server/http/matrix-feed.ts), in-process.
// Run: node --import tsx --test test/matrix-feed.test.ts
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDiff, diffMatrix, parseMatrixMessage, type MatrixMessage, type MatrixRow, type MatrixSnapshot } from '../common/matrix.ts';
import { MatrixFeed, type MatrixSource } from '../server/http/matrix-feed.ts';
import { until } from './helpers/blocks.ts';
import { classMatrix, fleetChoices, fleetMatrix } from '../server/http/live-matrices.ts';
import type { FleetView } from '../server/run/fleet-view.ts';

const columns = [
  { id: 'a', title: 'Step A' },
  { id: 'b', title: 'Step B' },
];
const row = (id: string, a: string, b = 'pending'): MatrixRow => ({ id, label: id, status: a === 'passed' && b === 'passed' ? 'passed' : 'running', cells: { a: { status: a }, b: { status: b } } });
const snap = (rows: MatrixRow[], summary = {}): MatrixSnapshot => ({ columns, rows, summary });

test('diffMatrix: nothing changed → no diff; a changed row → only that row', () => {
  const one = snap([row('h1', 'passed'), row('h2', 'running')]);
  assert.equal(diffMatrix(one, structuredClone(one), 1), undefined);
  const two = snap([row('h1', 'passed'), row('h2', 'passed')]);
  const d = diffMatrix(one, two, 5)!;
  assert.equal(d.seq, 5);
  assert.deepEqual(d.rows.map((r) => r.id), ['h2']);
  assert.deepEqual(d.removed, []);
  assert.equal(d.columns, undefined);
  assert.equal(d.summary, undefined);
  assert.deepEqual(applyDiff(one, d), two);
});

test('diffMatrix/applyDiff: added, removed, reordered rows, new columns and summary round-trip', () => {
  const a = snap([row('h1', 'pending'), row('h2', 'pending'), row('h3', 'pending')], { passed: 0 });
  const cases: MatrixSnapshot[] = [
    snap([row('h1', 'pending'), row('h2', 'pending'), row('h3', 'pending'), row('h4', 'running')], { passed: 0 }), // appended
    snap([row('h1', 'pending'), row('h3', 'passed')], { passed: 1 }), // removed + changed
    snap([row('h3', 'pending'), row('h1', 'pending'), row('h2', 'pending')], { passed: 0 }), // reordered
    snap([row('h0', 'pending'), row('h1', 'pending'), row('h2', 'pending'), row('h3', 'pending')], { passed: 0 }), // inserted first
    { columns: [...columns, { id: 'c', title: 'Step C' }], rows: a.rows, summary: { passed: 0 } },
    snap([], { passed: 0 }),
  ];
  for (const next of cases) {
    const d = diffMatrix(a, next, 1);
    assert.ok(d, JSON.stringify(next));
    assert.deepEqual(applyDiff(a, d), next, JSON.stringify(next.rows.map((r) => r.id)));
    // What crosses the socket is what the browser accepts.
    assert.deepEqual(parseMatrixMessage(JSON.stringify(d)), d);
  }
});

test('parseMatrixMessage refuses malformed frames', () => {
  assert.equal(parseMatrixMessage('nope'), undefined);
  assert.equal(parseMatrixMessage(JSON.stringify({ type: 'matrix', seq: 1, matrix: { columns: [], rows: [{ id: 1 }], summary: {} } })), undefined);
  assert.equal(parseMatrixMessage(JSON.stringify({ type: 'matrix-diff', seq: 1, rows: [], removed: [3] })), undefined);
  assert.equal(parseMatrixMessage(JSON.stringify({ type: 'other' })), undefined);
  assert.deepEqual(parseMatrixMessage(JSON.stringify({ type: 'matrix-error', code: 'NOT_FOUND', message: 'gone' })), { type: 'matrix-error', code: 'NOT_FOUND', message: 'gone' });
});

/** A source whose rows a test changes, signalling each change. */
class FakeSource implements MatrixSource {
  rows: MatrixRow[];
  reads = 0;
  private listeners = new Set<() => void>();
  constructor(n: number) {
    this.rows = Array.from({ length: n }, (_, i) => row(`h${i + 1}`, 'pending'));
  }
  snapshot(): MatrixSnapshot {
    this.reads++;
    return snap(structuredClone(this.rows), { passed: this.rows.filter((r) => r.status === 'passed').length });
  }
  subscribe(changed: () => void) {
    this.listeners.add(changed);
    return { dispose: () => void this.listeners.delete(changed) };
  }
  set(i: number, a: string, b = 'pending') {
    this.rows[i] = row(`h${i + 1}`, a, b);
    for (const l of this.listeners) l();
  }
  get subscribed() {
    return this.listeners.size;
  }
}

function client() {
  const got: MatrixMessage[] = [];
  return { got, buffered: 0, send: (t: string) => void got.push(JSON.parse(t)) };
}

test('MatrixFeed: a snapshot on add, then a burst of changes batched into few diffs that add up to the end state', async () => {
  const src = new FakeSource(50);
  const feed = new MatrixFeed(src, undefined, 100);
  try {
    const c1 = client();
    const c2 = client();
    const d1 = feed.add(c1);
    feed.add(c2);
    assert.equal(c1.got[0]!.type, 'matrix');
    // 100 changes in a burst (every host passes step a, then b).
    for (let i = 0; i < 50; i++) src.set(i, 'passed');
    for (let i = 0; i < 50; i++) src.set(i, 'passed', 'passed');
    await until(() => c1.got.length > 1 && (c1.got.at(-1) as { matrix?: unknown; rows?: MatrixRow[] }).rows?.every((r) => r.status === 'passed') === true, 5_000, 'the last diff');
    // One read per flush, not per change or per client.
    assert.ok(feed.stats.flushes <= 3, `flushes: ${feed.stats.flushes}`);
    assert.ok(src.reads <= 4, `reads: ${src.reads}`);
    let m = (c1.got[0] as Extract<MatrixMessage, { type: 'matrix' }>).matrix;
    for (const d of c1.got.slice(1)) m = applyDiff(m, d as Extract<MatrixMessage, { type: 'matrix-diff' }>);
    assert.deepEqual(m, src.snapshot());
    assert.deepEqual(c2.got, c1.got, 'every watcher gets the same messages');
    // Seq numbers follow each other.
    assert.deepEqual(c1.got.slice(1).map((x) => (x as { seq: number }).seq), c1.got.slice(1).map((_, i) => i + 1));
    // A second flush with nothing changed sends nothing.
    const before = c1.got.length;
    feed.changed();
    const flushes = feed.stats.flushes;
    await until(() => feed.stats.flushes > flushes, 5_000, 'another flush');
    // A flush sends synchronously: had it found a change, the message would be here now.
    assert.equal(c1.got.length, before);
    d1.dispose();
  } finally {
    feed.dispose();
  }
  assert.equal(src.subscribed, 0, 'the feed unsubscribed');
});

test('MatrixFeed: a watcher whose socket is backed up is skipped, then sent a whole snapshot', async () => {
  const src = new FakeSource(3);
  const feed = new MatrixFeed(src, undefined, 50);
  try {
    const slow = client();
    feed.add(slow);
    slow.buffered = 10 * 1024 * 1024;
    src.set(0, 'passed');
    await until(() => feed.stats.flushes >= 1, 5_000, 'a flush');
    assert.equal(slow.got.length, 1, 'nothing sent to a backed-up socket');
    slow.buffered = 0;
    await until(() => slow.got.length === 2, 5_000, 'the catch-up snapshot');
    const last = slow.got[1]!;
    assert.equal(last.type, 'matrix');
    assert.equal((last as Extract<MatrixMessage, { type: 'matrix' }>).matrix.rows[0]!.cells.a!.status, 'passed');
  } finally {
    feed.dispose();
  }
});

test('MatrixFeed: a source that can no longer be read tells its watchers (matrix-error)', async () => {
  const src = new FakeSource(1);
  const feed = new MatrixFeed(src, undefined, 50);
  try {
    const c = client();
    feed.add(c);
    src.snapshot = () => {
      throw new Error('fleet f1 has no record');
    };
    src.set(0, 'passed');
    await until(() => c.got.length === 2, 5_000, 'the error');
    assert.deepEqual(c.got[1], { type: 'matrix-error', code: 'NOT_FOUND', message: 'fleet f1 has no record' });
  } finally {
    feed.dispose();
  }
});

test('MatrixFeed: onIdle after the last watcher leaves', () => {
  const src = new FakeSource(1);
  let idle = 0;
  const feed = new MatrixFeed(src, undefined, 50, () => idle++);
  try {
    const a = feed.add(client());
    const b = feed.add(client());
    a.dispose();
    assert.equal(idle, 0);
    b.dispose();
    b.dispose();
    assert.equal(idle, 1);
  } finally {
    feed.dispose();
  }
});

test('fleetMatrix: a row per host in order, batches from 1, links only for hosts that started, counts and budget in the summary', () => {
  const v = {
    id: 'f1', runbook: 'rb', target: '@web', user: 'u', status: 'running', startedAt: '', endedAt: null, parentFleetId: null, live: true,
    parallel: 2, maxFail: '1', batches: null,
    budget: { maxFail: '1', allowed: 1, failed: 1, exhausted: false },
    counts: { passed: 0, failed: 1, skipped: 1, running: 1, pending: 0, interrupted: 0 },
    steps: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }],
    hosts: [
      { host: 'web1', runId: 'r1', started: true, status: 'running', batch: 0, steps: [{ id: 'a', status: 'passed' }, { id: 'b', status: 'running' }] },
      { host: 'web2', runId: 'r2', started: true, status: 'failed', reason: 'check failed', batch: 0, steps: [{ id: 'a', status: 'failed' }, { id: 'b', status: 'not-run' }] },
      { host: 'web3', runId: 'r3', started: false, status: 'skipped', reason: 'budget spent', batch: 1, steps: [{ id: 'a', status: 'not-run' }, { id: 'b', status: 'not-run' }] },
    ],
  } as FleetView;
  const m = fleetMatrix(v);
  assert.deepEqual(m.columns, [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }]);
  assert.deepEqual(m.rows.map((r) => [r.id, r.status, r.batch, r.current ?? null, r.href ?? null]), [
    ['web1', 'running', 1, 'b', '/runs/r1'],
    ['web2', 'failed', 1, null, '/runs/r2'],
    ['web3', 'skipped', 2, null, null],
  ]);
  assert.equal(m.rows[0]!.cells.b!.href, '/runs/r1/steps/b');
  assert.equal(m.rows[2]!.cells.a!.href, undefined, 'a host that never started has no step page');
  assert.equal(m.rows[1]!.reason, 'check failed');
  assert.deepEqual([m.summary.failed, m.summary.budgetFailed, m.summary.budgetAllowed, m.summary.budgetExhausted], [1, 1, 1, false]);
});

test('classMatrix: row states (not joined, queued, running, passed, ended), stuck and taken over, attempts and hints per cell', () => {
  const t = (trainee: string, o: Partial<Parameters<typeof classMatrix>[0]['trainees'][number]>) => ({
    trainee, runId: 'r-' + trainee, current: 'a', stuck: false, stuckReason: null, completion: 0, queued: null, takenOverBy: null,
    steps: [{ id: 'a', status: 'pending', attempts: 0, hintsUsed: 0 }], ...o,
  });
  const p = {
    status: 'open',
    steps: [{ id: 'a', title: 'A' }],
    trainees: [
      t('t1', { runId: null, current: null }),
      t('t2', { runId: null, queued: 2 }),
      t('t3', { stuck: true, stuckReason: 'failing', takenOverBy: 'alice', steps: [{ id: 'a', status: 'failed', attempts: 3, hintsUsed: 1 }] }),
      t('t4', { completion: 1, current: null, steps: [{ id: 'a', status: 'passed', attempts: 1, hintsUsed: 0 }] }),
    ],
  };
  const m = classMatrix(p);
  assert.deepEqual(m.rows.map((r) => r.status), ['not-joined', 'queued', 'running', 'passed']);
  assert.equal(m.rows[1]!.queued, 2);
  assert.deepEqual([m.rows[2]!.stuck, m.rows[2]!.stuckReason, m.rows[2]!.takenOver], [true, 'failing', true]);
  assert.deepEqual(m.rows[2]!.cells.a, { status: 'failed', attempts: 3, hints: 1 });
  assert.deepEqual(m.summary, { status: 'open', trainees: 4, joined: 2, done: 1, stuck: 1 });
  assert.equal(classMatrix({ ...p, status: 'ended' }).rows[2]!.status, 'ended');
});

test('fleetChoices: @all, each @group, each label=, nothing without an inventory', () => {
  assert.deepEqual(fleetChoices(undefined), []);
  const inv = { hosts: new Map([['a', { labels: ['web', 'kvm'] }], ['b', { labels: ['web'] }]]), groups: new Map([['front', ['a', 'b']]]) };
  assert.deepEqual(fleetChoices(inv), ['@all', '@front', 'label=kvm', 'label=web']);
});

noLeaks();
