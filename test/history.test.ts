// Recorded runs read through RunHistory: the resume chain and its merged verdicts, the
// pinned runbook, drift against the current file, the report, and resume's starting step.
// In-process, on a temp store and a temp runbooks folder.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunStore, type RunRecord } from '../server/record/store.ts';
import { saveSnapshot } from '../server/record/snapshot.ts';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { parseRunbook } from '../server/runbook/parse.ts';
import type { Runbook } from '../server/runbook/model.ts';
import type { StepStatus } from '../common/result.ts';
import { RunHistory, mergeChainVerdicts, doneInChain } from '../server/run/history.ts';
import { resumePoint } from '../server/run/resume.ts';
import { toMarkdown } from '../server/report/markdown.ts';
import { exportRun } from '../server/report/export.ts';

const V1 = `---
title: Chain
vars:
  NAME:
    default: world
---
# Chain

## One

\`\`\`sh {id=one}
echo one
\`\`\`

\`\`\`sh {id=one-check verify}
true
\`\`\`

## Two

\`\`\`sh {id=two}
echo two
\`\`\`

\`\`\`sh {id=two-check verify}
true
\`\`\`

## Three

\`\`\`sh {id=three}
echo three
\`\`\`
`;
const V2 = V1.replace('echo two', 'echo TWO edited').replace('## Three', '## Four');

let tmp: string;
let data: string;
let rbDir: string;
let store: RunStore;
let v1: Runbook;

const history = () => new RunHistory(store, () => loadCatalog(rbDir));

function newRun(parent?: RunRecord, rb: Runbook = v1): RunRecord {
  const run = store.createRun({
    runbookId: rb.id, runbookFile: rb.file, contentHash: rb.contentHash, runbookTitle: rb.title,
    target: 'local', user: 'tester', vars: { NAME: 'world' }, parentRunId: parent?.id ?? null,
  });
  return run;
}

function ran(run: RunRecord, stepId: string, blockId: string, kind: 'command' | 'check' = 'command', status: 'passed' | 'failed' = 'passed'): void {
  store.addBlockResult(run.id, stepId, kind, { id: blockId, status, exitCode: status === 'passed' ? 0 : 1, output: `${blockId}\n`, durationMs: 5, end: 'exit' });
}

function decided(run: RunRecord, stepId: string, status: StepStatus): void {
  store.setStepVerdict(run.id, { stepId, status, ...(status === 'failed' ? { reason: `${stepId} broke` } : {}) });
}

function finish(run: RunRecord, status: RunRecord['status'] = 'failed'): RunRecord {
  store.finishRun(run.id, status);
  return store.getRun(run.id)!;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-history-'));
  data = path.join(tmp, 'data');
  rbDir = path.join(tmp, 'runbooks');
  fs.mkdirSync(rbDir);
  fs.writeFileSync(path.join(rbDir, 'chain.md'), V1);
  store = RunStore.open(data);
  v1 = parseRunbook(V1, 'chain.md').runbook!;
  assert.equal(saveSnapshot(data, v1.contentHash, V1), true);
});
after(() => {
  store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('mergeChainVerdicts: the nearest run that did anything in a step decides it', () => {
  const at = '2026-01-01T00:00:00.000Z';
  const merged = mergeChainVerdicts([
    { runId: 'child', verdicts: [{ stepId: 'b', status: 'passed', decidedAt: at }], started: ['b', 'a'] },
    { runId: 'parent', verdicts: [{ stepId: 'a', status: 'passed', decidedAt: at }, { stepId: 'b', status: 'failed', reason: 'x', decidedAt: at }, { stepId: 'c', status: 'failed', decidedAt: at }], started: ['a', 'b', 'c'] },
  ]);
  assert.deepEqual(Object.fromEntries([...merged].map(([k, v]) => [k, [v.status, v.runId]])), {
    b: ['passed', 'child'],
    a: ['unfinished', 'child'], // started again by the child without a verdict: the parent's pass no longer holds
    c: ['failed', 'parent'],
  });
  assert.equal(doneInChain(merged.get('b')), true);
  assert.equal(doneInChain(merged.get('a')), false);
  assert.equal(doneInChain(merged.get('c')), false);
  assert.equal(doneInChain(undefined), false);
});

test('the chain: itself first, then the runs it resumed; resumedBy points forward', () => {
  const a = newRun();
  decided(a, 'one', 'passed');
  const b = newRun(finish(a));
  const c = newRun(finish(b));
  const h = history();
  assert.deepEqual(h.chain(c).map((r) => r.id), [c.id, b.id, a.id]);
  assert.deepEqual(h.chain(a).map((r) => r.id), [a.id]);
  assert.deepEqual(h.resumedBy(a).map((r) => r.id), [b.id]);
  assert.deepEqual(h.resumedBy(c), []);
  // Verdicts come through the chain with the run that gave them.
  assert.deepEqual({ ...h.chainVerdicts(c).get('one') }, { ...h.chainVerdicts(a).get('one'), runId: a.id });
  // A parent of another runbook ends the chain (resume never makes one; a hand-edited database might).
  const other = store.createRun({ runbookId: 'other', target: 'local', user: 'tester' });
  const odd = store.createRun({ runbookId: v1.id, contentHash: v1.contentHash, target: 'local', user: 'tester', parentRunId: other.id });
  assert.deepEqual(h.chain(odd).map((r) => r.id), [odd.id]);
});

test('one chainVerdicts: a step the resumed run started again is not done, so resume, redirect and report agree', () => {
  // A: One passed, Two failed. B resumed A at Two, ran One's command again (its check not yet:
  // no verdict), then stopped. The three walks that existed disagreed about One in B:
  //  - resume and the step-page redirect took A's "passed" (nearest *verdict*), so resuming B
  //    would have started at Two, skipping a step whose command had just been run again;
  //  - the report view showed One as not run in B (it had executions), with no earlier verdict.
  // One definition now: the nearest run that did anything in the step decides it.
  const a = newRun();
  ran(a, 'one', 'one');
  ran(a, 'one', 'one-check', 'check');
  decided(a, 'one', 'passed');
  ran(a, 'two', 'two');
  ran(a, 'two', 'two-check', 'check', 'failed');
  decided(a, 'two', 'failed');
  const b = newRun(finish(a));
  ran(b, 'one', 'one');
  const bEnded = finish(b, 'ended');

  const h = history();
  const verdicts = h.chainVerdicts(bEnded);
  assert.deepEqual([verdicts.get('one')?.status, verdicts.get('one')?.runId], ['unfinished', b.id]);
  assert.deepEqual([verdicts.get('two')?.status, verdicts.get('two')?.runId], ['failed', a.id]);
  assert.equal(verdicts.get('three'), undefined);

  const point = resumePoint(h, b.id, v1);
  assert.ok(point.ok, JSON.stringify(point));
  assert.equal(point.value.fromStepId, 'one', 'resume starts where the chain stopped being done');
  assert.deepEqual(point.value.vars, { NAME: 'world' });
  assert.deepEqual(point.value.notes, []);

  // Resuming A itself starts at its failed step.
  const fromA = resumePoint(h, a.id, v1);
  assert.ok(fromA.ok);
  assert.equal(fromA.value.fromStepId, 'two');
});

test('resume: not found, another runbook, still running, nothing left to do', () => {
  const h = history();
  const missing = resumePoint(h, 'r20990101000000-aaaaaa', v1);
  assert.ok(!missing.ok && missing.error.code === 'NOT_FOUND');
  const running = newRun();
  const busy = resumePoint(h, running.id, v1);
  assert.ok(!busy.ok && /still running/.test(busy.error.message));
  const other = parseRunbook(V1.replace('title: Chain', 'title: Other'), 'other.md').runbook!;
  const wrong = resumePoint(h, finish(running).id, other);
  assert.ok(!wrong.ok && wrong.error.code === 'BAD_REQUEST');
  const all = newRun();
  for (const s of ['one', 'two', 'three']) decided(all, s, s === 'three' ? 'skipped' : 'passed');
  const done = resumePoint(h, finish(all, 'passed').id, v1);
  assert.ok(!done.ok && /no failed or unfinished step/.test(done.error.message));
});

test('pinned runbook, drift and the report after the runbook file changed', () => {
  const run = newRun();
  ran(run, 'one', 'one');
  ran(run, 'one', 'one-check', 'check');
  decided(run, 'one', 'passed');
  ran(run, 'two', 'two');
  ran(run, 'two', 'two-check', 'check', 'failed');
  decided(run, 'two', 'failed');
  const ended = finish(run);
  assert.equal(history().drift(ended), undefined, 'the file is still the version that ran');

  fs.writeFileSync(path.join(rbDir, 'chain.md'), V2);
  try {
    const h = history();
    assert.equal(h.currentRunbook(ended)!.blocks.two!.content, 'echo TWO edited');
    const asRun = h.runbookAsRun(ended)!;
    assert.equal(asRun.contentHash, ended.contentHash);
    assert.equal(asRun.blocks.two!.content, 'echo two', 'the pinned snapshot, not the current file');
    assert.equal(h.pinned(ended)!.source, V1);

    const drift = h.drift(ended)!;
    assert.equal(drift.ranHash, v1.contentHash);
    assert.equal(drift.currentHash, parseRunbook(V2, 'chain.md').runbook!.contentHash);
    assert.deepEqual(drift.steps!.map((d) => [d.stepId, d.change]), [['one', 'unchanged'], ['two', 'changed'], ['three', 'removed'], ['four', 'added']]);
    assert.match(drift.steps![1]!.diff!, /^\+echo TWO edited$/m);
    assert.deepEqual(h.drift(ended, new Set(['two']))!.steps!.map((d) => d.stepId), ['two']);

    const report = h.report(ended.id);
    assert.ok(report.ok);
    assert.equal(report.value.runbookChanged, true);
    assert.equal(report.value.runbookMatched, true);
    const two = report.value.steps.find((s) => s.id === 'two')!;
    assert.equal(two.executions[0]!.command, 'echo two');
    // The Markdown says the commands are shown, as they ran (it used to say they were not).
    const md = toMarkdown(report.value);
    assert.match(md, /the commands and step titles shown are the version that ran/);
    assert.doesNotMatch(md, /are not shown/);
    assert.doesNotMatch(md, /Command text unavailable/);

    // Resume notes name the steps that changed since.
    const point = resumePoint(h, ended.id, h.currentRunbook(ended)!);
    assert.ok(point.ok);
    assert.equal(point.value.fromStepId, 'two');
    assert.deepEqual(point.value.notes, [`runbook chain changed since run ${ended.id} started (steps changed: two; removed: three; added: four)`]);

    // Without the snapshot: no commands, and the Markdown says so.
    const snap = path.join(data, 'snapshots');
    fs.renameSync(snap, `${snap}.away`);
    try {
      const bare = new RunHistory(store, () => loadCatalog(rbDir));
      assert.equal(bare.runbookAsRun(ended), undefined);
      assert.deepEqual({ ...bare.drift(ended), currentHash: null }, { ranHash: v1.contentHash, currentHash: null, gone: false, steps: null, missing: 'pinned' });
      const r = bare.report(ended.id);
      assert.ok(r.ok);
      assert.equal(r.value.runbookMatched, false);
      assert.match(toMarkdown(r.value), /version it used was not kept: command texts and step titles are not shown/);
    } finally {
      fs.renameSync(`${snap}.away`, snap);
    }

    // The runbook gone from the folder: the pinned version still gives the commands.
    fs.renameSync(path.join(rbDir, 'chain.md'), path.join(rbDir, '_chain.md'));
    try {
      const gone = history();
      assert.deepEqual(gone.drift(ended), { ranHash: v1.contentHash, currentHash: null, gone: true, steps: null, missing: 'current' });
      assert.equal(gone.runbookAsRun(ended)!.blocks.two!.content, 'echo two');
    } finally {
      fs.renameSync(path.join(rbDir, '_chain.md'), path.join(rbDir, 'chain.md'));
    }
  } finally {
    fs.writeFileSync(path.join(rbDir, 'chain.md'), V1);
  }
});

test('export goes through the history: unknown run and a report without a catalog', () => {
  const run = finish(newRun());
  const h = new RunHistory(store);
  const missing = exportRun(h, 'r20990101000000-aaaaaa', 'json');
  assert.ok(!missing.ok && missing.error.code === 'NOT_FOUND');
  const json = exportRun(h, run.id, 'json');
  assert.ok(json.ok);
  const rep = JSON.parse(String(json.body));
  // No catalog: the pinned snapshot alone gives step order and titles.
  assert.equal(rep.runbookMatched, true);
  assert.deepEqual(rep.steps.map((s: { title: string }) => s.title), ['One', 'Two', 'Three']);
  assert.equal(h.drift(run), undefined, 'no catalog, nothing to compare with');
});

test('markdown: variable values cannot break the table or carry control characters', () => {
  const run = store.createRun({
    runbookId: v1.id, runbookFile: v1.file, contentHash: v1.contentHash, runbookTitle: v1.title, target: 'local', user: 'tester',
    vars: { NAME: 'a|b`c`\u001b[31mred\u0007\nnext\u202Eevil\u0085', 'X*': '<b>**bold**</b>' },
  });
  const r = new RunHistory(store).report(finish(run).id);
  assert.ok(r.ok);
  const md = toMarkdown(r.value);
  assert.doesNotMatch(md, /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/, 'no control characters except newlines');
  const line = md.split('\n').find((l) => l.startsWith('| Variables |'))!;
  assert.ok(line, md);
  // Two cells only: every | inside a value is escaped, and each value sits in one code span.
  assert.equal(line.split(/(?<!\\)\|/).length - 2, 2, line);
  assert.ok(line.includes('␛[31mred␇ next'), line);
  assert.ok(line.includes('``NAME=a\\|b`c`␛[31mred␇ nextevil\uFFFD``'), line);
  assert.ok(line.includes('`X*=<b>**bold**</b>`'), line);
});

noLeaks();
