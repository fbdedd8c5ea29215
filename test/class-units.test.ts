// The classroom's pure pieces: progress and "stuck", the training lock, what a seat may reach,
// hints held back by the parser, and the report's CSV escaping.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeProgress, type ProgressEvent } from '../server/class/progress.ts';
import { lockingStep } from '../server/class/lock.ts';
import { seatAllows, seatMayAttach, type SeatScope } from '../server/class/seat-access.ts';
import { hintState, withoutAsides } from '../server/class/hints.ts';
import { classReportCsv, classReportMarkdown, csvField } from '../server/class/report.ts';
import { parseRunbook } from '../server/runbook/parse.ts';
import type { Runbook } from '../server/runbook/model.ts';

const T0 = Date.parse('2026-01-01T10:00:00.000Z');
const at = (sec: number) => new Date(T0 + sec * 1000).toISOString();
const STEPS = [
  { id: 'a', executable: true },
  { id: 'read', executable: false },
  { id: 'b', executable: true },
  { id: 'c', executable: true },
];

test('progress: status, attempts, hints and time per step; the current step; completion', () => {
  const events: ProgressEvent[] = [
    { type: 'run-started', at: at(0), runId: 'r1' },
    { type: 'hint-revealed', at: at(30), stepId: 'a' },
    { type: 'step-verdict', at: at(60), stepId: 'a', status: 'failed' },
    { type: 'step-verdict', at: at(90), stepId: 'a', status: 'passed' },
    { type: 'activity', at: at(100) },
    { type: 'step-verdict', at: at(150), stepId: 'b', status: 'failed' },
  ];
  const p = computeProgress({ steps: STEPS, events, now: T0 + 200_000, stuckMinutes: 10 });
  assert.equal(p.current, 'b');
  assert.equal(p.lastActivity, at(150));
  assert.equal(p.stuck, false);
  assert.deepEqual(p.steps.map((s) => [s.id, s.status, s.attempts, s.failures, s.hintsUsed, s.secondsOnStep]), [
    ['a', 'passed', 2, 1, 1, 90],
    ['read', 'pending', 0, 0, 0, 0],
    ['b', 'failed', 1, 1, 0, 110], // current: from a's pass (90 s) to now (200 s)
    ['c', 'pending', 0, 0, 0, 0],
  ]);
  assert.equal(p.completion, 1 / 3);
});

test('stuck: no step passed for stuckMinutes, or a step failed 3 times; never before joining or after the end', () => {
  const started: ProgressEvent[] = [{ type: 'run-started', at: at(0), runId: 'r1' }];
  assert.equal(computeProgress({ steps: STEPS, events: started, now: T0 + 9 * 60_000, stuckMinutes: 10 }).stuck, false);
  const idle = computeProgress({ steps: STEPS, events: started, now: T0 + 10 * 60_000, stuckMinutes: 10 });
  assert.deepEqual([idle.stuck, idle.stuckReason], [true, 'idle']);
  // Activity without a pass does not count: still stuck.
  const busy = computeProgress({ steps: STEPS, events: [...started, { type: 'activity', at: at(590) }], now: T0 + 11 * 60_000, stuckMinutes: 10 });
  assert.equal(busy.stuck, true);
  // A pass restarts the clock.
  const passed = computeProgress({ steps: STEPS, events: [...started, { type: 'step-verdict', at: at(500), stepId: 'a', status: 'passed' }], now: T0 + 11 * 60_000, stuckMinutes: 10 });
  assert.equal(passed.stuck, false);
  const fails: ProgressEvent[] = [...started, ...[10, 20, 30].map((t) => ({ type: 'step-verdict' as const, at: at(t), stepId: 'a', status: 'failed' }))];
  const failing = computeProgress({ steps: STEPS, events: fails, now: T0 + 40_000, stuckMinutes: 10 });
  assert.deepEqual([failing.stuck, failing.stuckReason], [true, 'failing']);
  // Passed at last: no longer stuck.
  assert.equal(computeProgress({ steps: STEPS, events: [...fails, { type: 'step-verdict', at: at(35), stepId: 'a', status: 'passed' }], now: T0 + 40_000, stuckMinutes: 10 }).stuck, false);
  assert.equal(computeProgress({ steps: STEPS, events: [], now: T0 + 3_600_000, stuckMinutes: 10 }).stuck, false, 'not joined');
  assert.equal(computeProgress({ steps: STEPS, events: fails, now: T0 + 3_600_000, stuckMinutes: 10, ended: true }).stuck, false, 'ended');
  const done = computeProgress({ steps: STEPS, events: [...started, ...['a', 'b', 'c'].map((id, i) => ({ type: 'step-verdict' as const, at: at(i + 1), stepId: id, status: 'passed' }))], now: T0 + 3_600_000, stuckMinutes: 10 });
  assert.deepEqual([done.current, done.stuck, done.completion], [null, false, 1]);
});

test('progress across a resumed run: the seat’s runs count together; unknown steps are ignored', () => {
  const p = computeProgress({
    steps: STEPS,
    events: [
      { type: 'run-started', at: at(0), runId: 'r1' },
      { type: 'step-verdict', at: at(10), stepId: 'a', status: 'passed' },
      { type: 'run-started', at: at(100), runId: 'r2' },
      { type: 'step-verdict', at: at(110), stepId: 'gone', status: 'passed' },
      { type: 'step-verdict', at: at(120), stepId: 'b', status: 'passed' },
    ],
    now: T0 + 130_000,
    stuckMinutes: 10,
  });
  assert.equal(p.current, 'c');
  assert.equal(p.steps.find((s) => s.id === 'b')!.secondsOnStep, 110);
});

const RB = (steps: Array<[string, number]>) => ({ steps: steps.map(([id, n]) => ({ id, title: id.toUpperCase(), line: 1, parts: [], commands: n ? [`${id}-1`] : [], checks: [] })) }) as Pick<Runbook, 'steps'>;

test('training lock: the first earlier step not done; prose-only steps and a resume point do not hold', () => {
  const rb = RB([['a', 1], ['read', 0], ['b', 1], ['c', 1]]);
  assert.equal(lockingStep({ runbook: rb, verdicts: [], stepId: 'a' }), undefined);
  assert.deepEqual(lockingStep({ runbook: rb, verdicts: [], stepId: 'c' }), { id: 'a', title: 'A' });
  assert.deepEqual(lockingStep({ runbook: rb, verdicts: [{ stepId: 'a', status: 'failed' }], stepId: 'b' }), { id: 'a', title: 'A' });
  assert.equal(lockingStep({ runbook: rb, verdicts: [{ stepId: 'a', status: 'passed' }], stepId: 'b' }), undefined, 'the prose step does not hold b');
  assert.equal(lockingStep({ runbook: rb, verdicts: [{ stepId: 'a', status: 'warning' }, { stepId: 'b', status: 'skipped' }], stepId: 'c' }), undefined);
  assert.deepEqual(lockingStep({ runbook: rb, verdicts: [], stepId: 'c', resumedFromStep: 'b' }), { id: 'b', title: 'B' });
  assert.equal(lockingStep({ runbook: rb, verdicts: [], stepId: 'b', resumedFromStep: 'b' }), undefined);
  assert.equal(lockingStep({ runbook: rb, verdicts: [], stepId: 'nope' }), undefined);
});

test('seat access: the whole list of what a seat may reach', () => {
  const scope: SeatScope = { classId: 'cls_aaaaaaaaaaaa', runbookId: 'lesson', runs: new Set(['r-own', 'r-old']) };
  const yes: Array<[string, string]> = [
    ['GET', '/api/me'],
    ['GET', '/api/classes/cls_aaaaaaaaaaaa'],
    ['POST', '/api/classes/cls_aaaaaaaaaaaa/join'],
    ['GET', '/api/classes/cls_aaaaaaaaaaaa/messages'],
    ['GET', '/api/runbooks/lesson'],
    ['GET', '/api/runs/r-own'],
    ['GET', '/api/runs/r-old'],
    ['GET', '/api/runs/r-own/report.json'],
    ['POST', '/api/runs/r-own/steps/s1/execute'],
    ['POST', '/api/runs/r-own/blocks/b1/execute'],
    ['POST', '/api/runs/r-own/steps/s1/hints'],
    ['GET', '/api/runs/r-own/steps/s1/hints'],
    ['POST', '/api/runs/r-own/steps/s1/solution'],
    ['GET', '/runs/r-own'],
    ['GET', '/runs/r-own/steps/s1'],
    ['GET', '/runs/r-own/report'],
  ];
  for (const [m, p] of yes) assert.equal(seatAllows(scope, m, p), true, `${m} ${p}`);
  const no: Array<[string, string]> = [
    ['GET', '/api/classes/cls_bbbbbbbbbbbb'],
    ['GET', '/api/classes/cls_aaaaaaaaaaaa/progress'],
    ['GET', '/api/classes/cls_aaaaaaaaaaaa/report.csv'],
    ['POST', '/api/classes/cls_aaaaaaaaaaaa/messages'],
    ['DELETE', '/api/classes/cls_aaaaaaaaaaaa'],
    ['GET', '/api/classes/cls_aaaaaaaaaaaa/join'],
    ['GET', '/api/classes'],
    ['GET', '/api/runbooks'],
    ['GET', '/api/runbooks/other'],
    ['GET', '/api/runbooks/lesson/plan'],
    ['GET', '/api/runs'],
    ['POST', '/api/runs'],
    ['GET', '/api/runs/r-other'],
    ['DELETE', '/api/runs/r-own'],
    ['POST', '/api/runs/r-own/approvals'],
    ['GET', '/api/runs/r-own/evidence.zip'],
    ['POST', '/api/runs/r-other/steps/s1/execute'],
    ['GET', '/api/runs/r-own/steps/s1/execute'],
    ['GET', '/api/tokens'],
    ['GET', '/'],
    ['GET', '/runs'],
    ['GET', '/runs/r-other/steps/s1'],
    ['POST', '/runs/r-own'],
    ['GET', '/runbooks/lesson'],
    ['GET', '/api/runs/%E0%A4%A'],
    ['GET', '/api/runs/r-own/../r-other'],
  ];
  for (const [m, p] of no) assert.equal(seatAllows(scope, m, p), false, `${m} ${p}`);
  assert.equal(seatMayAttach(scope, 'r-own'), true);
  assert.equal(seatMayAttach(scope, 'r-other'), false);
});

const LESSON = `# Lesson

## One

\`\`\`sh {id=a}
echo a
\`\`\`

\`\`\`sh {id=a-check verify}
true
\`\`\`

\`\`\`hint
first hint
\`\`\`

\`\`\`hint
second hint
\`\`\`

\`\`\`solution
echo a
\`\`\`
`;

test('the parser holds hints and the solution apart: not parts, not blocks', () => {
  const { runbook, diagnostics } = parseRunbook(LESSON, 'lesson.md');
  assert.deepEqual(diagnostics, []);
  const step = runbook!.steps[0]!;
  assert.deepEqual(step.hints, ['first hint', 'second hint']);
  assert.equal(step.solution, 'echo a');
  assert.deepEqual(Object.keys(runbook!.blocks), ['a', 'a-check']);
  assert.ok(step.parts.every((p) => p.kind !== 'block' || p.blockId === 'a' || p.blockId === 'a-check'));
  const bare = withoutAsides(runbook!);
  assert.ok(!JSON.stringify(bare).includes('first hint'));
  assert.ok(!JSON.stringify(bare).includes('echo a\\n') && bare.steps[0]!.solution === undefined);
  const st = hintState(step, { hints: 1, solution: false, failures: 2 });
  assert.deepEqual([st.revealed, st.remaining, st.solution, st.solutionUnlocked], [['first hint'], 1, null, false]);
  assert.equal(hintState(step, { hints: 5, solution: true, failures: 3 }).solution, 'echo a');
  assert.equal(hintState(step, { hints: 0, solution: false, failures: 3 }).solutionUnlocked, true);
});

test('report: CSV quoting and formula injection; Markdown cells escaped', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('=1+1'), "'=1+1");
  assert.equal(csvField('+cmd'), "'+cmd");
  assert.equal(csvField('-2'), "'-2");
  assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvField('\tx'), "'\tx");
  assert.equal(csvField('=a,b'), `"'=a,b"`);
  assert.equal(csvField(3), '3');
  assert.equal(csvField(null), '');
  const progress = computeProgress({ steps: [{ id: 's', executable: true }], events: [{ type: 'run-started', at: at(0), runId: 'r' }, { type: 'step-verdict', at: at(5), stepId: 's', status: 'passed' }], now: T0 + 10_000, stuckMinutes: 10 });
  const input = { name: 'N|a<me>', id: 'cls_x', runbook: 'rb', trainer: 't', createdAt: at(0), endedAt: null, steps: [{ id: 's', title: 'Step | one' }], trainees: [{ trainee: 'ann', runId: 'r', progress }] };
  const csv = classReportCsv(input);
  assert.equal(csv.split('\r\n')[1], 'N|a<me>,ann,r,s,Step | one,passed,1,0,no,5,100');
  const md = classReportMarkdown(input);
  assert.match(md, /# Class report: N\\\|a&lt;me&gt;/);
  assert.match(md, /\| Step \\\| one \(s\) \| passed \| 1 \| 0 \| — \| 5 s \|/);
  assert.match(md, /100% on average; 1 of 1 trainees finished every step/);
});

noLeaks();
