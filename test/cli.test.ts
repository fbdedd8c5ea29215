// The CLI as a user runs it: a separate process, its output and exit code, and its records.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunStore } from '../server/record/store.ts';
import { readCast } from '../server/record/asciicast.ts';
import { runStepwise } from './helpers/cli.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const API_FIXTURES = path.join(ROOT, 'test/fixtures/api');
let data: string;
let rbDir: string;

function stepwise(args: string[], env: Record<string, string> = {}) {
  const r = runStepwise(args, { STEPWISE_DATA: data, ...env });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

before(() => {
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-cli-data-'));
  rbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-cli-rb-'));
  fs.mkdirSync(path.join(rbDir, 'sub'));
  fs.writeFileSync(
    path.join(rbDir, 'sub', 'two-steps.md'),
    `---
title: Two steps
vars:
  MARK:
    default: alpha
    describe: a word
    pattern: '[a-z]+'
  SECRET_TOKEN:
    default: very-secret-value
    describe: never shown
    secret: true
---
# Two steps

## Make a file

\`\`\`sh {id=make}
mkdir -p "${rbDir}/out" && cd "${rbDir}/out"
echo "$MARK $SECRET_TOKEN" > mark.txt
\`\`\`

\`\`\`sh {id=make-check verify}
grep -q "$MARK" mark.txt || { echo "mark.txt lacks $MARK"; exit 1; }
\`\`\`

## Needs the file

\`\`\`sh {id=use}
cat mark.txt
\`\`\`

\`\`\`sh {verify}
test -f "${rbDir}/out/flag" || { echo "flag file missing"; exit 1; }
\`\`\`

## Destroy

\`\`\`sh {id=destroy confirm=true}
rm -rf "${rbDir}/out"
\`\`\`

\`\`\`sh {verify}
test ! -e "${rbDir}/out"
\`\`\`
`,
  );
});
after(() => {
  fs.rmSync(data, { recursive: true, force: true });
  fs.rmSync(rbDir, { recursive: true, force: true });
});

test('validate: the shipped runbooks are clean; broken ones print file:line CODE and exit 1', () => {
  const ok = stepwise(['validate']);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /0 errors/);
  const bad = stepwise(['validate', API_FIXTURES]);
  assert.equal(bad.code, 1);
  assert.match(bad.out, /^broken\.md:5 UNKNOWN_ATTRIBUTE /m);
});

test('list shows the runbooks', () => {
  const r = stepwise(['list', '--runbooks', API_FIXTURES]);
  assert.equal(r.code, 0);
  assert.match(r.out, /basics\s+ok/);
  assert.match(r.out, /broken\s+BROKEN/);
});

test('run: id first, a line per step, stops at the first failure with its reason, exit 1, records kept', () => {
  const r = stepwise(['run', 'two-steps', '--runbooks', rbDir, '--var', 'MARK=beta']);
  assert.equal(r.code, 1, r.out + r.err);
  const lines = r.out.trim().split('\n');
  const m = /^run (r\d{14}-[a-z2-7]{6}) two-steps on local$/.exec(lines[0]);
  assert.ok(m, lines[0]);
  assert.match(lines[1], /^\[1\/3\] make-a-file: passed/);
  assert.match(lines[2], /^\[2\/3\] needs-the-file: failed — flag file missing/);
  assert.doesNotMatch(r.out, /destroy/);
  assert.match(r.out, /resume with: stepwise run two-steps --resume r\d{14}-[a-z2-7]{6}/);
  assert.doesNotMatch(r.out + r.err, /very-secret-value/);

  const store = RunStore.open(data);
  try {
    const run = store.getRun(m![1])!;
    assert.equal(run.status, 'failed');
    assert.equal(run.vars.MARK, 'beta');
    assert.equal(run.vars.SECRET_TOKEN, '****');
    const blocks = store.blockResults(run.id);
    assert.deepEqual(blocks.map((b) => [b.id, b.status]), [
      ['make', 'passed'], ['make-check', 'passed'], ['use', 'passed'], ['needs-the-file-2', 'failed'],
    ]);
    assert.equal(blocks[2].output, 'beta ****\n');
    const cast = readCast(run.castPath!);
    assert.ok(cast.events.some((e) => e[1] === 'm' && e[2] === 'make-a-file/make'));
    assert.doesNotMatch(fs.readFileSync(run.castPath!, 'utf8'), /very-secret-value/);
  } finally {
    store.close();
  }
});

test('run --step, --from, confirmation needs --yes', () => {
  fs.mkdirSync(path.join(rbDir, 'out'), { recursive: true });
  fs.writeFileSync(path.join(rbDir, 'out', 'flag'), '');
  const no = stepwise(['run', 'two-steps', '--runbooks', rbDir, '--from', 'destroy']);
  assert.equal(no.code, 1);
  assert.match(no.out, /destroy: failed — destroy is destructive: confirm to run \(rerun with --yes to confirm\)/);
  assert.ok(fs.existsSync(path.join(rbDir, 'out')));
  const yes = stepwise(['run', 'two-steps', '--runbooks', rbDir, '--from', 'destroy', '--yes']);
  assert.equal(yes.code, 0, yes.out);
  assert.ok(!fs.existsSync(path.join(rbDir, 'out')));
  const all = stepwise(['run', 'two-steps', '--runbooks', rbDir, '--yes', '--var', 'MARK=gamma']);
  assert.equal(all.code, 1); // the flag file is gone again, so step 2 fails
  const one = stepwise(['run', 'two-steps', '--runbooks', rbDir, '--step', 'make-a-file']);
  assert.equal(one.code, 0, one.out);
  assert.match(one.out, /1 passed, 0 failed, 0 skipped/);
});

test('usage errors say what is wrong and exit 2', () => {
  assert.equal(stepwise(['run', 'nope', '--runbooks', rbDir]).code, 2);
  const badVar = stepwise(['run', 'two-steps', '--runbooks', rbDir, '--var', 'MARK=UPPER']);
  assert.equal(badVar.code, 2);
  assert.match(badVar.out, /vars\.MARK: MARK="UPPER" does not match/);
  const badStep = stepwise(['run', 'two-steps', '--runbooks', rbDir, '--step', 'zzz']);
  assert.match(badStep.out, /no step "zzz"; steps: make-a-file, needs-the-file, destroy/);
  const badOpt = stepwise(['run', 'two-steps', '--frob']);
  assert.equal(badOpt.code, 2);
  assert.match(badOpt.out, /Unknown option '--frob'/);
  assert.equal(stepwise(['frob']).code, 2);
  assert.equal(stepwise(['run', 'basics', '--runbooks', API_FIXTURES, '--var', 'NOPE']).code, 2);
});

test('the runbooks folder comes from STEPWISE_RUNBOOKS too', () => {
  const r = stepwise(['list'], { STEPWISE_RUNBOOKS: rbDir });
  assert.match(r.out, /two-steps/);
});

test('run --all: a runbook whose required runbook failed is reported blocked, not run and not a new failure', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-cli-blocked-'));
  try {
    const rb = (id: string, requires: string[], body: string) =>
      fs.writeFileSync(path.join(dir, `${id}.md`), `---\nid: ${id}\ntitle: ${id}\n${requires.length ? `requires: [${requires.join(', ')}]\n` : ''}---\n# ${id}\n\n${body}`);
    rb('a-base', [], '## Fails\n\n```sh\nfalse\n```\n');
    rb('b-needs-base', ['a-base'], '## One\n\n```sh\necho ran-b-one\n```\n\n## Two\n\n```sh\necho ran-b-two\n```\n');
    rb('c-needs-b', ['b-needs-base'], '## One\n\n```sh\necho ran-c\n```\n');
    rb('d-free', [], '## One\n\n```sh\necho ran-d\n```\n');
    const r = stepwise(['run', '--all', '--runbooks', dir]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /^b-needs-base: 2 steps blocked: a-base failed$/m);
    assert.match(r.out, /^c-needs-b: 1 step blocked: b-needs-base failed$/m);
    assert.doesNotMatch(r.out, /^run \S+ (b-needs-base|c-needs-b)/m, 'blocked runbooks are not run');
    assert.match(r.out, /^run \S+ d-free on local$/m, 'unrelated runbooks still run');
    const header = r.out.split('\n').find((l) => l.startsWith('runbook'))!.trim().split(/\s+/);
    assert.deepEqual(header, ['runbook', 'passed', 'failed', 'skipped', 'blocked', 'warnings']);
    const row = (id: string) => r.out.split('\n').find((l) => l.startsWith(id + ' '))!.trim().split(/\s+/).slice(1).map(Number);
    assert.deepEqual(row('b-needs-base'), [0, 0, 0, 2, 0]);
    assert.deepEqual(row('a-base'), [0, 1, 0, 0, 0]);
    assert.match(r.out, /^1 passed, 1 failed, 3 skipped$/m, 'blocked steps count as skipped, not failed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

noLeaks();
