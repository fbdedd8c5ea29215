// A run's lifecycle in-process with a real shell: ending a run cancels its queued blocks, records
// the block it interrupted, and writes nothing after its run-ended event; its status comes from
// one place (run/status.ts).
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { RunStore } from '../server/record/store.ts';
import { AuditLog } from '../server/record/audit.ts';
import { Runs } from '../server/run/runs.ts';
import { LocalTarget } from '../server/target/local.ts';
import { fixedKind } from '../server/target/registry.ts';
import { createLogger } from '../server/log.ts';
import { decideStatus } from '../server/run/status.ts';
import { until } from './helpers/blocks.ts';

let dir: string;
let data: string;
let store: RunStore;
let runs: Runs;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-life-rb-'));
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-life-data-'));
  fs.writeFileSync(path.join(dir, 'slow.md'), `---
id: slow
---
# Slow

## Wait

\`\`\`sh
sleep 5; echo waited
\`\`\`

## Next

\`\`\`sh
echo second-step-ran
\`\`\`
`);
  store = RunStore.open(data);
  const catalog = loadCatalog(dir);
  runs = new Runs({
    catalog: () => catalog,
    store,
    audit: new AuditLog(store, data),
    dataDir: data,
    log: createLogger('silent'),
    targets: { local: fixedKind(new LocalTarget({ platform: 'debian', capabilities: [] })) },
  });
});

after(() => {
  runs.dispose();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(data, { recursive: true, force: true });
});

test('ending a run mid-block: the block is recorded interrupted, queued work is cancelled, nothing follows run-ended', async () => {
  const created = await runs.create({ runbook: 'slow' }, 'tester');
  assert.ok(created.ok);
  const run = created.value;
  const first = run.executeStep('wait');
  const queued = run.executeStep('next');
  await until(() => run.session.state === 'busy', 10_000, 'the first block to run');
  const status = run.end({ reason: 'ended by the test' });
  assert.equal(status, 'ended');
  const [a, b] = await Promise.all([first, queued]);
  assert.ok(!a.ok && a.error.code === 'SESSION_ENDED', JSON.stringify(a));
  assert.ok(!b.ok && b.error.code === 'SESSION_ENDED', JSON.stringify(b));
  // Give any stray write the chance to happen before looking.
  await new Promise((r) => setImmediate(r));
  const events = store.auditEvents(run.id).map((e) => e.type);
  assert.deepEqual(events.slice(-2), ['run-ended', 'recording-sealed']);
  const finished = store.auditEvents(run.id).filter((e) => e.type === 'block-finished');
  assert.equal(finished.length, 1, 'only the interrupted block, nothing of the cancelled step');
  assert.equal(finished[0].data.end, 'interrupted');
  assert.match(String(finished[0].data.reason), /the run ended while it ran \(ended by the test\)/);
  assert.equal(store.getRun(run.id)!.status, 'ended');
  assert.ok(!fs.readFileSync(run.castPath, 'utf8').includes('second-step-ran'));
});

test('the final status is decided in one place', () => {
  const steps = ['a', 'b', 'c'];
  assert.equal(decideStatus({ steps, verdicts: [] }), 'ended');
  assert.equal(decideStatus({ steps, verdicts: [{ stepId: 'a', status: 'passed' }, { stepId: 'b', status: 'skipped' }, { stepId: 'c', status: 'warning' }] }), 'passed');
  assert.equal(decideStatus({ steps, verdicts: [{ stepId: 'a', status: 'failed' }] }), 'failed');
  assert.equal(decideStatus({ steps, verdicts: [{ stepId: 'c', status: 'passed' }], resumedFromStep: 'c' }), 'passed', 'a resumed run passes on the steps it was left');
  assert.equal(decideStatus({ steps, verdicts: [{ stepId: 'a', status: 'passed' }], stopped: 'failed' }), 'failed');
  assert.equal(decideStatus({ steps, verdicts: [{ stepId: 'a', status: 'failed' }], stopped: 'interrupted' }), 'interrupted');
  assert.equal(decideStatus({ steps: [], verdicts: [] }), 'ended', 'a bare terminal ends, it does not pass');
});

noLeaks();
