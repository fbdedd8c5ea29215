// Rollback blocks (issue 10 §4): rollback=true blocks never run forward; a failed run's
// rollback runs the rollback blocks of the steps that passed, the last step first (and the
// last block of a step first), recorded like any block between rollback-started and
// rollback-ended in the run's audit chain; a failing rollback block stops it.
// Pure parts (parser, plan, order), the CLI as a process, and the API over HTTP.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseRunbook } from '../server/runbook/parse.ts';
import { checkTranslation } from '../server/runbook/translation.ts';
import { planRun, formatPlan, rollbackOrder } from '../server/exec/plan.ts';
import { stepsToUndo } from '../server/run/rollback.ts';
import { runStepwise, spawnStepwise } from './helpers/cli.ts';
import { until } from './helpers/blocks.ts';
import { unzipSync } from 'fflate';
import { RunStore } from '../server/record/store.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** Three steps, each leaving a line in $LOG; step 3 fails unless $FAIL is no. */
const RUNBOOK = `---
vars:
  LOG:
    default: /tmp/none
    describe: the file each block appends to
  FAIL:
    default: "yes"
    describe: whether step 3 fails
---
# Rollback fixture

## Make the folder

\`\`\`sh {id=make}
echo make >> "$LOG"
cd "$(dirname "$LOG")"
export MARK=made-in-step-1
\`\`\`

\`\`\`sh {id=make-undo rollback=true}
echo "undo make pwd=$PWD mark=$MARK" >> "$LOG"
\`\`\`

\`\`\`sh {verify}
grep -q make "$LOG"
\`\`\`

## Add two files

\`\`\`sh {id=add}
echo add >> "$LOG"
\`\`\`

\`\`\`sh {id=add-undo-first rollback=true}
echo "undo add first-written" >> "$LOG"
\`\`\`

\`\`\`sh {id=add-undo-second rollback=true}
echo "undo add second-written" >> "$LOG"
\`\`\`

\`\`\`sh {verify}
grep -q add "$LOG"
\`\`\`

## Break

\`\`\`sh {id=break}
echo break >> "$LOG"
test "$FAIL" = no
\`\`\`

\`\`\`sh {id=break-undo rollback=true}
echo "undo break MUST-NOT-RUN" >> "$LOG"
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`;

const STOPPING = `# Stopping rollback

## One

\`\`\`sh {id=one}
true
\`\`\`

\`\`\`sh {id=one-undo rollback=true}
echo "undo one" >> "$HOME/.never"
\`\`\`

\`\`\`sh {verify}
true
\`\`\`

## Two

\`\`\`sh {id=two}
true
\`\`\`

\`\`\`sh {id=two-undo rollback=true}
test -e FIXED || { echo cannot-undo; false; }
\`\`\`

\`\`\`sh {verify}
true
\`\`\`

## Three

\`\`\`sh {id=three}
false
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`;

/** Its rollback block takes a minute: long enough to be interrupted. */
const SLOW_UNDO = `# Slow undo

## One

\`\`\`sh {id=one}
true
\`\`\`

\`\`\`sh {id=one-undo rollback=true}
touch MARKFILE; sleep 60
\`\`\`

\`\`\`sh {verify}
true
\`\`\`

## Two

\`\`\`sh {id=two}
false
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`;

let tmp: string;
let rbDir: string;
let data: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-rollback-'));
  rbDir = path.join(tmp, 'runbooks');
  data = path.join(tmp, 'data');
  fs.mkdirSync(rbDir);
  fs.writeFileSync(path.join(rbDir, 'undo.md'), RUNBOOK);
  fs.writeFileSync(path.join(rbDir, 'stopping.md'), STOPPING.replaceAll('$HOME/.never', path.join(tmp, 'never')).replaceAll('FIXED', path.join(tmp, 'fixed')));
  fs.writeFileSync(path.join(rbDir, 'slow-undo.md'), SLOW_UNDO.replaceAll('MARKFILE', path.join(tmp, 'slow-undo-started')));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function logFile(name: string): string {
  return path.join(tmp, name, 'log');
}

function freshLog(name: string): string {
  const f = logFile(name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.rmSync(f, { force: true });
  return f;
}

const lines = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n');
const runIdOf = (stdout: string) => /run (r\d{14}-[a-z0-9]+)/.exec(stdout)![1]!;

// ---------------------------------------------------------------- pure

test('parser: rollback blocks belong to their step, never to its commands or checks', () => {
  const { runbook, diagnostics } = parseRunbook(RUNBOOK, 'undo.md');
  assert.deepEqual(diagnostics.filter((d) => d.severity === 'error'), []);
  const [one, two, three] = runbook!.steps;
  assert.deepEqual(one!.commands, ['make']);
  assert.deepEqual(one!.rollback, ['make-undo']);
  assert.deepEqual(two!.rollback, ['add-undo-first', 'add-undo-second']);
  assert.deepEqual(three!.rollback, ['break-undo']);
  assert.equal(runbook!.blocks['make-undo']!.rollback, true);
  assert.equal(runbook!.blocks['make-undo']!.kind, 'command');
  for (const s of runbook!.steps) for (const id of s.rollback!) assert.ok(!s.commands.includes(id) && !s.checks.includes(id));
  // A step without rollback blocks has no rollback list (the model of other runbooks is unchanged).
  const plain = parseRunbook('# T\n\n## S\n\n```sh\ntrue\n```\n\n```sh {verify}\ntrue\n```\n', 't.md').runbook!;
  assert.equal('rollback' in plain.steps[0]!, false);
  // rollback=false is a plain command.
  const off = parseRunbook('# T\n\n## S\n\n```sh {id=a rollback=false}\ntrue\n```\n\n```sh {verify}\ntrue\n```\n', 't.md').runbook!;
  assert.deepEqual(off.steps[0]!.commands, ['a']);
  assert.equal(off.blocks.a!.rollback, undefined);
});

test('parser: misuse of rollback= is a file:line BAD_ATTRIBUTE naming why', () => {
  const src = [
    '# T', '', '## S', '',
    '```sh {id=c verify rollback=true}', 'true', '```', '',
    '```sh {id=i interactive rollback}', 'vi x', '```', '',
    '```console {rollback=true}', 'text', '```', '',
    '```sh {id=v rollback=maybe}', 'true', '```', '',
    '```sh {verify}', 'true', '```', '',
  ].join('\n');
  const { diagnostics } = parseRunbook(src, 'bad.md');
  const at = (line: number) => diagnostics.filter((d) => d.line === line).map((d) => `${d.file}:${d.line} ${d.code} ${d.message}`);
  assert.match(at(5).join('\n'), /^bad\.md:5 BAD_ATTRIBUTE rollback and verify cannot be on the same block/m);
  assert.match(at(9).join('\n'), /^bad\.md:9 BAD_ATTRIBUTE rollback does not apply to an interactive block/m);
  assert.match(at(13).join('\n'), /^bad\.md:13 BAD_ATTRIBUTE rollback only applies to executable blocks/m);
  assert.match(at(17).join('\n'), /^bad\.md:17 BAD_ATTRIBUTE rollback must be true or false/m);
  // A check marked rollback stays a check (and is not a rollback block).
  const rb = parseRunbook(src, 'bad.md').runbook!;
  assert.ok(rb.steps[0]!.checks.includes('c'));
  assert.equal(rb.blocks.c!.rollback, undefined);
});

test('translations keep rollback blocks byte for byte, and their attribute', () => {
  const source = parseRunbook(RUNBOOK, 'undo.md').runbook!;
  const ko = RUNBOOK.replace('---\nvars:', '---\nlang: ko\nvars:').replace('# Rollback fixture', '# 롤백 예제')
    .replace('## Make the folder', '## 폴더 만들기 {#make-the-folder}').replace('## Add two files', '## 파일 두 개 {#add-two-files}').replace('## Break', '## 실패 {#break}');
  const good = parseRunbook(ko, 'undo.ko.md', { id: 'undo' }).runbook!;
  assert.deepEqual(checkTranslation(source, good, 'ko').filter((d) => d.severity === 'error'), []);
  const changed = parseRunbook(ko.replace('echo "undo add second-written"', 'echo "undo add second"'), 'undo.ko.md', { id: 'undo' }).runbook!;
  assert.ok(checkTranslation(source, changed, 'ko').some((d) => d.code === 'TRANSLATION_BLOCK_DIFFERS' && d.message.includes('add-undo-second')));
  const dropped = parseRunbook(ko.replace('{id=make-undo rollback=true}', '{id=make-undo}'), 'undo.ko.md', { id: 'undo' }).runbook!;
  assert.ok(checkTranslation(source, dropped, 'ko').some((d) => d.code.startsWith('TRANSLATION_') && d.message.includes('make-undo')));
});

test('plan: rollback blocks are listed as rollback, never as run', () => {
  const rb = parseRunbook(RUNBOOK, 'undo.md').runbook!;
  const plan = planRun(rb, { LOG: '/x/log', FAIL: 'yes' }, { id: 'local', platform: 'debian', capabilities: new Set() });
  const two = plan[1]!.blocks;
  assert.deepEqual(two.map((b) => [b.id, b.action]), [['add', 'run'], ['add-two-files-4', 'run'], ['add-undo-first', 'rollback'], ['add-undo-second', 'rollback']]);
  const text = formatPlan(plan).join('\n');
  assert.match(text, /undo {3}add-undo-first {2}\(rollback: runs only when a failed run is rolled back\)/);
  assert.doesNotMatch(text, /run {4}add-undo/);
});

test('order: the steps that passed, last step first, last block of a step first', () => {
  const rb = parseRunbook(RUNBOOK, 'undo.md').runbook!;
  const order = rollbackOrder(rb, new Set(['make-the-folder', 'add-two-files']));
  assert.deepEqual(order.map((s) => [s.stepId, s.blocks.map((b) => b.id)]), [
    ['add-two-files', ['add-undo-second', 'add-undo-first']],
    ['make-the-folder', ['make-undo']],
  ]);
  assert.deepEqual(rollbackOrder(rb, new Set()), []);
  // Which steps: passed or warned; not failed, skipped or already satisfied (nothing of it ran).
  const v = (stepId: string, status: string, reason?: string) => [stepId, { stepId, status, runId: 'r', ...(reason ? { reason } : {}) }] as const;
  const undo = stepsToUndo(new Map([
    v('a', 'passed'), v('b', 'warning'), v('c', 'failed'), v('d', 'skipped'),
    v('e', 'passed', 'already satisfied: its checks passed before its commands ran'), v('f', 'unfinished'),
  ]) as never);
  assert.deepEqual([...undo].sort(), ['a', 'b']);
});

// ---------------------------------------------------------------- CLI

test('CLI: run --rollback undoes steps 2 then 1 in the failed run\'s shell; chain verifies', () => {
  const log = freshLog('cli-auto');
  const r = runStepwise(['run', 'undo', '--runbooks', rbDir, '--data', data, '--var', `LOG=${log}`, '--rollback']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const id = runIdOf(r.stdout);
  assert.match(r.stdout, new RegExp(`rollback of run ${id} in run ${id}: add-two-files, make-the-folder`));
  assert.match(r.stdout, /rollback add-two-files add-undo-second: passed\n.*rollback add-two-files add-undo-first: passed\n.*rollback make-the-folder make-undo: passed/);
  assert.match(r.stdout, /rollback passed: undone add-two-files, make-the-folder/);
  assert.match(r.stdout, new RegExp(`run ${id} failed`));
  // The rollback ran in the run's own shell: step 1's directory and export are there.
  assert.deepEqual(lines(log), ['make', 'add', 'break', 'undo add second-written', 'undo add first-written', `undo make pwd=${path.dirname(log)} mark=made-in-step-1`]);

  const store = RunStore.open(data);
  try {
    const events = store.auditEvents(id);
    const started = events.find((e) => e.type === 'rollback-started')!;
    const ended = events.find((e) => e.type === 'rollback-ended')!;
    assert.deepEqual(started.data.steps, ['add-two-files', 'make-the-folder']);
    assert.deepEqual(started.data.blocks, ['add-undo-second', 'add-undo-first', 'make-undo']);
    assert.equal(ended.data.status, 'passed');
    assert.ok(started.n < ended.n && ended.n < events.find((e) => e.type === 'run-ended')!.n);
    // Recorded like any block: results with output, and block-started/finished in the chain.
    const results = store.blockResults(id).filter((b) => b.id.includes('undo'));
    assert.deepEqual(results.map((b) => [b.id, b.status]), [['add-undo-second', 'passed'], ['add-undo-first', 'passed'], ['make-undo', 'passed']]);
    assert.ok(events.some((e) => e.type === 'block-finished' && e.data.blockId === 'make-undo'));
    assert.equal(store.getRun(id)!.status, 'failed');
  } finally {
    store.close();
  }
  const v = runStepwise(['audit', 'verify', id, '--data', data]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  // Its evidence bundle, rollback included, verifies offline.
  const zip = path.join(tmp, 'rolled-back.zip');
  const ev = runStepwise(['evidence', id, '--output', zip, '--data', data, '--runbooks', rbDir]);
  assert.equal(ev.code, 0, ev.stdout + ev.stderr);
  const ok = runStepwise(['evidence', 'verify', zip]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const files = unzipSync(fs.readFileSync(zip));
  const html = Buffer.from(files['report.html']!).toString();
  assert.match(html, /<h2>Rollback<\/h2>\n<p id="rollback">Rolls back run <code>[^<]+<\/code> in run <code>[^<]+<\/code>.*<span class="passed">passed<\/span>/);
  assert.ok(html.indexOf('make-undo') > html.indexOf('<h2>Rollback</h2>'));
  assert.match(Buffer.from(files['report.md']!).toString(), /## Rollback/);
  const junit = runStepwise(['report', id, '--format', 'junit', '--data', data, '--runbooks', rbDir]).stdout;
  assert.ok(junit.includes(`<property name="stepwise.rollback" value="passed in run ${id}: undone add-two-files, make-the-folder"/>`), junit);

  // The report has the rollback section; the steps keep only their forward blocks.
  const rep = runStepwise(['report', id, '--format', 'json', '--data', data, '--runbooks', rbDir]);
  assert.equal(rep.code, 0, rep.stderr);
  const report = JSON.parse(rep.stdout);
  assert.equal(report.rollback.status, 'passed');
  assert.equal(report.rollback.runId, id);
  assert.deepEqual(report.rollback.executions.map((e: { id: string }) => e.id), ['add-undo-second', 'add-undo-first', 'make-undo']);
  assert.ok(report.steps.every((s: { executions: Array<{ id: string }> }) => s.executions.every((e) => !e.id.includes('undo'))));
  const md = runStepwise(['report', id, '--format', 'md', '--data', data, '--runbooks', rbDir]).stdout;
  assert.ok(md.includes(`## Rollback\n\nRolls back run \`${id}\` in run \`${id}\``), md);
  assert.ok(md.includes('steps `add-two-files`, `make-the-folder` (the last step first). **passed**: undone `add-two-files`, `make-the-folder`'), md);
  assert.ok(md.indexOf('#### `make-undo`') > md.indexOf('## Rollback'));

  // Resuming a rolled-back run does the undone steps again: it picks up at the first of them.
  const resumed = runStepwise(['run', 'undo', '--runbooks', rbDir, '--data', data, '--var', 'FAIL=no', '--resume', id]);
  assert.equal(resumed.code, 0, resumed.stdout);
  assert.match(resumed.stdout, /from step make-the-folder/);
  assert.match(resumed.stdout, /\[1\/3\] make-the-folder: passed/);
  assert.deepEqual(lines(log).slice(6), ['make', 'add', 'break']);
});

test('CLI: without --rollback nothing is undone; stepwise rollback RUNID undoes it in a linked run with the shell state restored', () => {
  const log = freshLog('cli-later');
  const r = runStepwise(['run', 'undo', '--runbooks', rbDir, '--data', data, '--var', `LOG=${log}`]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const id = runIdOf(r.stdout);
  assert.deepEqual(lines(log), ['make', 'add', 'break']);

  const rb = runStepwise(['rollback', id, '--runbooks', rbDir, '--data', data]);
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  const linked = new RegExp(`rollback of run ${id} in run (r\\d{14}-[a-z0-9]+): add-two-files, make-the-folder`).exec(rb.stdout)?.[1];
  assert.ok(linked && linked !== id, rb.stdout);
  assert.deepEqual(lines(log).slice(3), ['undo add second-written', 'undo add first-written', `undo make pwd=${path.dirname(log)} mark=made-in-step-1`]);

  const store = RunStore.open(data);
  try {
    const rec = store.getRun(linked)!;
    assert.equal(rec.options.rollbackOf, id);
    assert.equal(rec.status, 'ended');
    assert.equal(rec.vars.LOG, log);
    assert.equal(store.auditEvents(linked).find((e) => e.type === 'rollback-started')!.data.of, id);
  } finally {
    store.close();
  }
  for (const run of [id, linked]) {
    const v = runStepwise(['audit', 'verify', run, '--data', data]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  }
  // The failed run's report shows the rollback held by the linked run.
  const report = JSON.parse(runStepwise(['report', id, '--format', 'json', '--data', data, '--runbooks', rbDir]).stdout);
  assert.equal(report.rollback.runId, linked);
  assert.equal(report.rollback.executions.length, 3);

  // Once is enough: a second rollback is refused, and so is one of a run that did not fail.
  const again = runStepwise(['rollback', id, '--runbooks', rbDir, '--data', data]);
  assert.equal(again.code, 1);
  assert.match(again.stdout, new RegExp(`no rollback: run ${id} was already rolled back by run ${linked}`));
  const okLog = freshLog('cli-passed');
  const passed = runStepwise(['run', 'undo', '--runbooks', rbDir, '--data', data, '--var', `LOG=${okLog}`, '--var', 'FAIL=no', '--rollback']);
  assert.equal(passed.code, 0, passed.stdout);
  assert.doesNotMatch(passed.stdout, /rollback/);
  const refused = runStepwise(['rollback', runIdOf(passed.stdout), '--runbooks', rbDir, '--data', data]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /did not fail \(its status is passed\)/);
});

test('CLI: a rollback block that fails stops the rollback there and says so; once fixed, the rollback is tried again, once', () => {
  const r = runStepwise(['run', 'stopping', '--runbooks', rbDir, '--data', data, '--rollback']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /rollback two two-undo: failed/);
  assert.match(r.stdout, /rollback failed at two-undo: .*; undone: -/);
  assert.doesNotMatch(r.stdout, /one-undo/);
  assert.equal(fs.existsSync(path.join(tmp, 'never')), false);
  const store = RunStore.open(data);
  try {
    const ended = store.auditEvents(runIdOf(r.stdout)).find((e) => e.type === 'rollback-ended')!;
    assert.equal(ended.data.status, 'failed');
    assert.equal(ended.data.failedBlock, 'two-undo');
  } finally {
    store.close();
  }
  // Fixed: the ended run's rollback is tried again in a linked run, for the steps not undone.
  const id = runIdOf(r.stdout);
  fs.writeFileSync(path.join(tmp, 'fixed'), '');
  const again = runStepwise(['rollback', id, '--runbooks', rbDir, '--data', data]);
  assert.equal(again.code, 0, again.stdout);
  assert.match(again.stdout, /: two, one\n/);
  assert.match(again.stdout, /rollback passed: undone two, one/);
  assert.equal(fs.readFileSync(path.join(tmp, 'never'), 'utf8'), 'undo one\n');
  const report = JSON.parse(runStepwise(['report', id, '--format', 'json', '--data', data, '--runbooks', rbDir]).stdout);
  assert.equal(report.rollback.status, 'passed');
  assert.notEqual(report.rollback.runId, id);
  const third = runStepwise(['rollback', id, '--runbooks', rbDir, '--data', data]);
  assert.equal(third.code, 1);
  assert.match(third.stdout, /was already rolled back by run /);
});

test('CLI: Ctrl-C during stepwise rollback ends the linked run interrupted and sealed; a rollback run is not resumed', async () => {
  const r = runStepwise(['run', 'slow-undo', '--runbooks', rbDir, '--data', data]);
  assert.equal(r.code, 1, r.stdout);
  const id = runIdOf(r.stdout);
  const p = spawnStepwise(['rollback', id, '--runbooks', rbDir, '--data', data]);
  await p.waitFor(/rollback of run \S+ in run (\S+): one/);
  await until(() => fs.existsSync(path.join(tmp, 'slow-undo-started')), 30_000, 'the rollback block to start');
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 130, p.output());
  const linked = /rollback of run \S+ in run (\S+): one/.exec(p.output())![1]!;
  const store = RunStore.open(data);
  try {
    assert.equal(store.getRun(linked)!.status, 'interrupted');
    assert.equal(store.blockResults(linked).find((b) => b.id === 'one-undo')?.end, 'interrupted');
  } finally {
    store.close();
  }
  const v = runStepwise(['audit', 'verify', linked, '--data', data]);
  assert.equal(v.code, 0, v.stdout);
  const resumed = runStepwise(['run', 'slow-undo', '--runbooks', rbDir, '--data', data, '--resume', linked]);
  assert.equal(resumed.code, 2, resumed.stdout);
  assert.match(resumed.stdout, /is the rollback of run .*: a rollback is not resumed/);
});

// ---------------------------------------------------------------- API

let s: TestServer;

test('API: POST /api/runs/:id/rollback refuses a run that did not fail and a viewer; rolls back a live failed run once', async (t) => {
  s = await startTestServer(rbDir);
  t.after(async () => {
    for (const run of s.ctx.store.listRuns()) if (s.ctx.runs.get(run.id)) await s.api('DELETE', `/api/runs/${run.id}`);
    await s.stop();
  });
  const viewer = s.ctx.users.createToken('vera', 'viewer');
  assert.ok(viewer.ok);
  const log = freshLog('api');
  const created = await s.api('POST', '/api/runs', { runbook: 'undo', vars: { LOG: log } });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = created.json.id as string;

  // Live, nothing failed yet: refused.
  const early = await s.api('POST', `/api/runs/${id}/rollback`, {});
  assert.equal(early.status, 409);
  assert.equal(early.json.error.code, 'ROLLBACK_REFUSED');
  // A rollback block never runs forward, not even alone.
  const alone = await s.api('POST', `/api/runs/${id}/blocks/make-undo/execute`, {});
  assert.equal(alone.status, 400);
  assert.match(alone.json.error.message, /rollback block/);

  for (const step of ['make-the-folder', 'add-two-files', 'break']) {
    const r = await s.api('POST', `/api/runs/${id}/steps/${step}/execute`, {});
    assert.equal(r.status, 200, JSON.stringify(r.json));
  }
  // Run step never ran the step's rollback block.
  assert.deepEqual(lines(log), ['make', 'add', 'break']);

  const asViewer = await fetch(`${s.base}/api/runs/${id}/rollback`, { method: 'POST', headers: { authorization: `Bearer ${viewer.value.token}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(asViewer.status, 403);
  assert.equal((await asViewer.json()).error.code, 'FORBIDDEN');
  assert.deepEqual(lines(log), ['make', 'add', 'break']);

  const done = await s.api('POST', `/api/runs/${id}/rollback`, {});
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assert.equal(done.json.runId, id);
  assert.equal(done.json.status, 'passed');
  assert.deepEqual(done.json.undone, ['add-two-files', 'make-the-folder']);
  assert.deepEqual(done.json.results.map((r: { id: string }) => r.id), ['add-undo-second', 'add-undo-first', 'make-undo']);
  assert.equal(lines(log).length, 6);

  const twice = await s.api('POST', `/api/runs/${id}/rollback`, {});
  assert.equal(twice.status, 409);
  assert.match(twice.json.error.message, /already rolled back/);

  // A passed run (ended) is refused with the code; an unknown run is 404.
  const okLog = freshLog('api-ok');
  const ok = await s.api('POST', '/api/runs', { runbook: 'undo', vars: { LOG: okLog, FAIL: 'no' } });
  for (const step of ['make-the-folder', 'add-two-files', 'break']) await s.api('POST', `/api/runs/${ok.json.id}/steps/${step}/execute`, {});
  await s.api('DELETE', `/api/runs/${ok.json.id}`);
  const notFailed = await s.api('POST', `/api/runs/${ok.json.id}/rollback`, {});
  assert.equal(notFailed.status, 409);
  assert.equal(notFailed.json.error.code, 'ROLLBACK_REFUSED');
  assert.match(notFailed.json.error.message, /did not fail/);
  assert.equal((await s.api('POST', '/api/runs/r20990101000000-nothere/rollback', {})).status, 404);

  // The report page of the rolled-back run shows its rollback section.
  const page = await fetch(`${s.base}/runs/${id}/report`, { headers: { authorization: `Bearer ${s.token}` } });
  const html = await page.text();
  assert.match(html, /data-rollback-panel data-rollback-status="passed"/);
  assert.match(html, /data-rollback-result="make-undo"/);
});

noLeaks();
