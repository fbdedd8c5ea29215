// Run reports and exports, as auditors and CI get them: a real run through the CLI process,
// then `stepwise report` in every format and `stepwise runs`.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunStore } from '../server/record/store.ts';
import { buildReport, type RunReport } from '../server/report/model.ts';
import { toJUnit } from '../server/report/junit.ts';
import { toMarkdown } from '../server/report/markdown.ts';
import { parseXml, elementsNamed, childrenNamed, textOf, type XmlElement } from './helpers/xml.ts';
import { ASCIINEMA, asciinemaCat } from './helpers/asciinema.ts';
import { runStepwise } from './helpers/cli.ts';

let tmp: string;
let data: string;
let rbDir: string;
let runId: string;

const FENCE = '```';
// Output of the first block: markup characters, and backtick runs (one a whole line) that
// would end a naive Markdown fence.
const HELLO_OUTPUT = `hello & <world> "quoted" ]]>\nfence ${FENCE}inside${FENCE} and ${FENCE}\`four${FENCE}\`\n${FENCE}\n${FENCE}\`\`\`\` six\n`;

const RUNBOOK = `---
title: Report <fixture> & "friends"
---
# Report fixture

## Say hello

\`\`\`sh {id=hello}
echo 'hello & <world> "quoted" ]]>'
printf 'fence %s and %s\\n' '${FENCE}inside${FENCE}' '${FENCE}\`four${FENCE}\`'
printf '%s\\n' '${FENCE}' '${FENCE}\`\`\`\` six'
\`\`\`

\`\`\`sh {id=hello-check verify}
true
\`\`\`

## Legacy only

\`\`\`sh {id=legacy os=rhel6}
echo only on rhel6
\`\`\`

## Warn me

\`\`\`sh {id=warn-check verify}
echo "disk nearly full"; exit 2
\`\`\`

## Break it

\`\`\`sh {id=break}
echo about to fail
\`\`\`

\`\`\`sh {id=break-check verify}
echo "flag file missing"; exit 1
\`\`\`

## Never reached

\`\`\`sh {id=never}
echo unreachable
\`\`\`
`;

const STEPS = [
  ['say-hello', 'Say hello', 'passed'],
  ['legacy-only', 'Legacy only', 'skipped'],
  ['warn-me', 'Warn me', 'warning'],
  ['break-it', 'Break it', 'failed'],
  ['never-reached', 'Never reached', 'not-run'],
] as const;

function stepwise(args: string[], env: Record<string, string> = {}) {
  const r = runStepwise(args, { STEPWISE_DATA: data, STEPWISE_USER: 'auditor', ...env });
  return { code: r.code, bytes: r.bytes, out: r.stdout, err: r.stderr };
}

function report(format: string, extra: string[] = []) {
  return stepwise(['report', runId, '--format', format, '--data', data, '--runbooks', rbDir, ...extra]);
}

/**
 * Fenced blocks as a CommonMark reader sees them: [info, content] (backtick fences only),
 * and the lines outside every fence.
 */
function fencedBlocks(md: string): Array<{ info: string; content: string }> & { outside: string[] } {
  const blocks: Array<{ info: string; content: string }> = [];
  const outside: string[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,})([^`]*)$/.exec(lines[i]!);
    if (!open) {
      outside.push(lines[i]!);
      continue;
    }
    const n = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`+)[ \t]*$/.exec(lines[j]!);
      if (close && close[1]!.length >= n) break;
      body.push(lines[j]!);
    }
    blocks.push({ info: open[2]!.trim(), content: body.join('\n') + (body.length ? '\n' : '') });
    i = j;
  }
  return Object.assign(blocks, { outside });
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-report-'));
  data = path.join(tmp, 'data');
  rbDir = path.join(tmp, 'runbooks');
  fs.mkdirSync(rbDir);
  fs.writeFileSync(path.join(rbDir, 'report-fixture.md'), RUNBOOK);
  const r = stepwise(['run', 'report-fixture', '--runbooks', rbDir, '--data', data]);
  assert.equal(r.code, 1, r.out + r.err);
  const m = /^run (r\d{14}-[a-z2-7]{6}) report-fixture on local$/m.exec(r.out);
  assert.ok(m, r.out);
  runId = m[1]!;
  assert.match(r.out, /legacy-only: skipped/);
  assert.match(r.out, /break-it: failed — flag file missing/);
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('json: header, steps in runbook order with verdicts, executions and totals', () => {
  const r = report('json');
  assert.equal(r.code, 0, r.out + r.err);
  const rep = JSON.parse(r.out) as RunReport;
  assert.equal(rep.schema, 'stepwise-run-report/1');
  assert.equal(rep.run.id, runId);
  assert.equal(rep.run.runbookId, 'report-fixture');
  assert.equal(rep.run.runbookTitle, 'Report <fixture> & "friends"');
  assert.equal(rep.run.runbookFile, 'report-fixture.md');
  assert.match(rep.run.contentHash!, /^[0-9a-f]{64}$/);
  assert.equal(rep.run.status, 'failed');
  assert.equal(rep.run.user, 'auditor');
  assert.equal(rep.run.target, 'local');
  assert.ok(rep.run.endedAt);
  assert.equal(rep.run.durationMs, Date.parse(rep.run.endedAt!) - Date.parse(rep.run.startedAt));
  assert.equal(rep.runbookMatched, true);
  assert.equal(rep.runbookChanged, false);

  assert.deepEqual(rep.steps.map((s) => [s.id, s.title, s.status]), STEPS.map((s) => [...s]));
  assert.deepEqual(rep.totals, { passed: 1, failed: 1, warning: 1, skipped: 1, notRun: 1 });
  const [hello, legacy, warn, broken, never] = rep.steps as [RunReport['steps'][number], ...RunReport['steps']];
  assert.deepEqual(hello.executions.map((e) => [e.seq, e.id, e.kind, e.status, e.exitCode, e.attempt]), [
    [1, 'hello', 'command', 'passed', 0, 1],
    [2, 'hello-check', 'check', 'passed', 0, 1],
  ]);
  assert.equal(hello.executions[0]!.output, HELLO_OUTPUT);
  assert.match(hello.executions[0]!.command!, /^echo 'hello & <world>/);
  assert.equal(hello.executions[1]!.command, 'true');
  assert.match(hello.executions[0]!.outputDigest!, /^[0-9a-f]{64}$/);
  assert.equal(typeof hello.executions[0]!.castTime, 'number');
  assert.equal(hello.durationMs, hello.executions.reduce((t, e) => t + e.durationMs, 0));
  assert.match(legacy!.reason!, /^for rhel6 only; target local is \S+$/);
  assert.deepEqual(legacy!.executions.map((e) => [e.id, e.status, e.end, e.exitCode]), [['legacy', 'skipped', 'skipped', null]]);
  assert.equal(warn!.reason, 'disk nearly full');
  assert.equal(broken!.reason, 'flag file missing');
  assert.deepEqual(broken!.executions.map((e) => [e.id, e.status, e.exitCode]), [['break', 'passed', 0], ['break-check', 'failed', 1]]);
  assert.deepEqual([never!.executions, never!.reason, never!.decidedAt, never!.durationMs], [[], null, null, 0]);

  // --output writes the same document.
  const file = path.join(tmp, 'report.json');
  const w = report('json', ['--output', file]);
  assert.equal(w.code, 0, w.out);
  assert.match(w.out, /^wrote .*report\.json \(\d+ bytes\)/);
  assert.equal(fs.readFileSync(file, 'utf8') + '\n', r.out);
});

test('json: a runbook changed since the run: commands come from the snapshot pinned at run time', () => {
  const changed = path.join(tmp, 'changed');
  fs.mkdirSync(changed);
  fs.writeFileSync(path.join(changed, 'report-fixture.md'), RUNBOOK.replace('echo about to fail', 'echo edited later'));
  const r = stepwise(['report', runId, '--data', data, '--runbooks', changed]); // json is the default
  assert.equal(r.code, 0, r.out + r.err);
  const rep = JSON.parse(r.out) as RunReport;
  assert.equal(rep.runbookChanged, true);
  assert.equal(rep.runbookMatched, true);
  assert.ok(JSON.stringify(rep).includes('echo about to fail'), 'the command as it ran');
  assert.ok(!JSON.stringify(rep).includes('edited later'));
  // Without any runbook (no snapshot either): steps in order of first result, no commands.
  fs.renameSync(path.join(data, 'snapshots'), path.join(data, 'snapshots.away'));
  try {
    const bare = JSON.parse(stepwise(['report', runId, '--data', data, '--runbooks', changed]).out) as RunReport;
    assert.equal(bare.runbookMatched, false);
    assert.deepEqual(bare.steps.map((s) => [s.id, s.title, s.status]), STEPS.slice(0, 4).map(([id, , st]) => [id, null, st]));
    assert.ok(bare.steps.every((s) => s.executions.every((e) => e.command === null)));
    assert.deepEqual(bare.totals, { passed: 1, failed: 1, warning: 1, skipped: 1, notRun: 0 });
  } finally {
    fs.renameSync(path.join(data, 'snapshots.away'), path.join(data, 'snapshots'));
  }
});

test('junit: well-formed XML, one testcase per step, counts that add up', () => {
  const r = report('junit');
  assert.equal(r.code, 0, r.out + r.err);
  const root = parseXml(r.out);
  assert.equal(root.name, 'testsuites');
  const suites = childrenNamed(root, 'testsuite');
  assert.equal(suites.length, 1);
  const suite = suites[0]!;
  assert.equal(suite.attrs.name, 'report-fixture');
  const cases = childrenNamed(suite, 'testcase');
  assert.deepEqual(cases.map((c) => c.attrs.name), STEPS.map(([id, title]) => `${id}: ${title}`));
  assert.ok(cases.every((c) => c.attrs.classname === 'report-fixture'));

  const has = (c: XmlElement, n: string) => childrenNamed(c, n).length > 0;
  const failed = cases.filter((c) => has(c, 'failure'));
  const skipped = cases.filter((c) => has(c, 'skipped'));
  assert.deepEqual(failed.map((c) => c.attrs.name), ['break-it: Break it']);
  assert.deepEqual(skipped.map((c) => c.attrs.name), ['legacy-only: Legacy only', 'never-reached: Never reached']);
  for (const el of [root, suite]) {
    assert.equal(el.attrs.tests, String(cases.length));
    assert.equal(el.attrs.failures, String(failed.length));
    assert.equal(el.attrs.skipped, String(skipped.length));
    assert.equal(el.attrs.errors, '0');
    const sum = cases.reduce((t, c) => t + Number(c.attrs.time), 0);
    assert.ok(Math.abs(Number(el.attrs.time) - sum) < 0.0005 * (cases.length + 1), `time ${el.attrs.time} vs ${sum}`);
  }
  assert.ok(cases.every((c) => /^\d+\.\d{3}$/.test(c.attrs.time!)));

  const failure = childrenNamed(failed[0]!, 'failure')[0]!;
  assert.equal(failure.attrs.message, 'flag file missing');
  assert.match(textOf(failure), /\$ echo "flag file missing"; exit 1\nflag file missing/);
  assert.doesNotMatch(textOf(failure), /about to fail/, 'only the failing blocks in the failure');
  assert.match(childrenNamed(skipped[0]!, 'skipped')[0]!.attrs.message!, /^for rhel6 only/);

  const helloOut = textOf(childrenNamed(cases[0]!, 'system-out')[0]!);
  assert.ok(helloOut.includes(HELLO_OUTPUT), 'output survives escaping exactly');
  assert.match(helloOut, /\$ echo 'hello & <world> "quoted" ]]>'/);
  const warnCase = cases[2]!;
  assert.ok(!has(warnCase, 'failure') && !has(warnCase, 'skipped'), 'a warning passes');
  assert.match(textOf(childrenNamed(warnCase, 'system-out')[0]!), /^WARNING: disk nearly full/);
  const props = Object.fromEntries(elementsNamed(suite, 'property').map((p) => [p.attrs.name, p.attrs.value]));
  assert.equal(props['stepwise.run.id'], runId);
  assert.equal(props['stepwise.runbook.title'], 'Report <fixture> & "friends"');
});

test('junit: characters XML 1.0 forbids are replaced; attributes keep newlines', () => {
  const rep = syntheticReport('ESC\u001b[31m NUL\u0000 BEL\u0007 FFFF\uffff lone\ud800 ok\ttab\r\n', 'bad\u0001reason\nline two "q" <&>');
  const xml = toJUnit(rep);
  assert.doesNotMatch(xml, /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/);
  const root = parseXml(xml);
  const tc = elementsNamed(root, 'testcase')[0]!;
  assert.equal(childrenNamed(tc, 'failure')[0]!.attrs.message, 'bad\u2401reason\nline two "q" <&>');
  const out = textOf(childrenNamed(tc, 'system-out')[0]!);
  assert.ok(out.includes('ESC\u241b[31m NUL\u2400 BEL\u2407 FFFF\ufffd lone\ufffd ok\ttab\r\n'), JSON.stringify(out));
});

test('markdown: header, step table, every block in its own fence, nothing breaks out', () => {
  const r = report('md');
  assert.equal(r.code, 0, r.out + r.err);
  const md = r.out;
  assert.match(md, /^# Run `r\d{14}-[a-z2-7]{6}`: Report \\<fixture\\> \\& "friends"$/m);
  assert.match(md, /^\| Status \| \*\*failed\*\* \|$/m);
  for (const [id, title] of STEPS) assert.match(md, new RegExp(`^\\| \\d \\| ${id}: ${title} \\|`, 'm'));
  assert.match(md, /^\| 1 \| say-hello: Say hello \| ✓ passed \|/m);
  assert.match(md, /^\| 2 \| legacy-only: Legacy only \| skip \| .* \| for rhel6 only/m);
  assert.match(md, /^\| 3 \| warn-me: Warn me \| ⚠ warning \| .* \| disk nearly full \|$/m);
  assert.match(md, /^\| 4 \| break-it: Break it \| ✗ failed \| .* \| flag file missing \|$/m);
  assert.match(md, /^\| 5 \| never-reached: Never reached \| not run \|/m);

  const blocks = fencedBlocks(md);
  const texts = blocks.filter((b) => b.info === 'text').map((b) => b.content);
  const shs = blocks.filter((b) => b.info === 'sh').map((b) => b.content);
  assert.equal(texts[0], HELLO_OUTPUT, 'the output with ``` lines stays whole inside one fence');
  assert.deepEqual(texts.slice(1), ['disk nearly full\n', 'about to fail\n', 'flag file missing\n']);
  assert.equal(shs.length, 6, 'hello, hello-check, legacy, warn-check, break, break-check');
  assert.match(shs[0]!, /^echo 'hello & <world>/);
  // Outside the fences there is no raw output or command text.
  const outside = blocks.outside.join('\n');
  assert.doesNotMatch(outside, /about to fail|fence ```inside|hello &|```/);
  assert.match(md, /exit code 1/);
});

test('cast: the recording byte for byte, and asciinema plays it', async () => {
  const store = RunStore.open(data);
  const castPath = store.getRun(runId)!.castPath!;
  store.close();
  const original = fs.readFileSync(castPath);
  const r = report('cast');
  assert.equal(r.code, 0, r.err);
  assert.ok(Buffer.compare(r.bytes, original) === 0, 'stdout is the cast file, byte for byte');

  const file = path.join(tmp, 'copy.cast');
  const w = report('cast', ['--output', file]);
  assert.equal(w.code, 0, w.out);
  assert.ok(fs.readFileSync(file).equals(original));

  assert.ok(fs.existsSync(ASCIINEMA), `${ASCIINEMA} is required (Debian package asciinema)`);
  const played = await asciinemaCat(file);
  assert.equal(played.exitCode, 0, played.out);
  assert.ok(played.out.includes('about to fail'), played.out);
  assert.ok(played.out.includes('flag file missing'));
});

test('runs lists the run; filters and bad options', () => {
  const r = stepwise(['runs', '--data', data]);
  assert.equal(r.code, 0, r.out + r.err);
  const line = r.out.split('\n').find((l) => l.startsWith(runId));
  assert.ok(line, r.out);
  assert.match(line, new RegExp(`^${runId} failed\\s+report-fixture\\s+local\\s+auditor\\s+\\d{4}-\\d\\d-\\d\\dT`));
  assert.match(stepwise(['runs', '--data', data, '--runbook', 'report-fixture', '--status', 'failed', '--limit', '1']).out, new RegExp(runId));
  assert.equal(stepwise(['runs', '--data', data, '--status', 'passed']).out, '');
  assert.equal(stepwise(['runs', '--data', data, '--runbook', 'other']).out, '');
  assert.equal(stepwise(['runs', '--data', data, '--status', 'bogus']).code, 2);
  assert.equal(stepwise(['runs', '--data', data, '--limit', 'ten']).code, 2);
});

test('report usage errors exit 2: unknown run, bad format, no run id, empty data folder', () => {
  const unknown = stepwise(['report', 'r20000101000000-aaaaaa', '--data', data]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.out, /no run "r20000101000000-aaaaaa"/);
  const bad = report('pdf');
  assert.equal(bad.code, 2);
  assert.match(bad.out, /unknown format "pdf"; use --format json\|junit\|md\|cast/);
  assert.equal(stepwise(['report', '--data', data]).code, 2);
  assert.equal(stepwise(['report', runId, '--frob']).code, 2);
  const empty = path.join(tmp, 'empty');
  const none = stepwise(['report', runId, '--data', empty]);
  assert.equal(none.code, 2);
  assert.ok(!fs.existsSync(empty), 'looking does not create a data folder');
});

/** A one-step failed report built in memory, with the given output and reason. */
function syntheticReport(output: string, reason: string): RunReport {
  const run = {
    id: 'r20240101000000-abcdef', runbookId: 'rb', runbookFile: 'rb.md', contentHash: 'h', runbookTitle: 'T',
    target: 'local', user: 'u', vars: {}, options: {}, status: 'failed' as const,
    startedAt: '2024-01-01T00:00:00.000Z', endedAt: '2024-01-01T00:00:01.500Z', castPath: null, parentRunId: null,
  };
  return buildReport(
    run,
    [{ runId: run.id, seq: 1, stepId: 's', kind: 'command', startedAt: run.startedAt, id: 'b', status: 'failed', exitCode: 3, output, durationMs: 1234, end: 'exit', reason }],
    [{ stepId: 's', status: 'failed', reason, decidedAt: run.endedAt }],
  );
}

test('markdown and the XML checker hold up against hostile text', () => {
  const md = toMarkdown(syntheticReport('``````\n~~~\n```` x\n', 'a | b `c` *d*'));
  const texts = fencedBlocks(md).filter((b) => b.info === 'text');
  assert.deepEqual(texts.map((b) => b.content), ['``````\n~~~\n```` x\n']);
  assert.match(md, /\| a \\\| b \\`c\\` \\\*d\\\* \|$/m, 'a reason cannot add table cells or markup');

  // The checker itself rejects what is not well-formed.
  for (const bad of ['<a>', '<a></b>', '<a x="1" x="2"/>', '<a>&</a>', '<a>&nbsp;</a>', '<a>\u0001</a>', '<a x=1/>', '<a/><b/>', '<a>]]></a>', '<a><!-- -- --></a>', '<a x="<"/>', 'text<a/>', '<a>&#0;</a>']) {
    assert.throws(() => parseXml(bad), /not well-formed/, bad);
  }
  const ok = parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><a x="1&#10;2"><b>t&amp;<![CDATA[<raw>]]></b><?pi x?></a>\n');
  assert.deepEqual(ok.attrs, { x: '1\n2' });
  assert.equal(textOf(ok), 't&<raw>');
});

noLeaks();
