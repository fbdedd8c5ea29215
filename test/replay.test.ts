// Replay that resumes: --resume, --converge, --plan and retries, through the CLI as a process.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunStore } from '../server/record/store.ts';
import { runStepwise } from './helpers/cli.ts';

let data: string;
let rbDir: string;
let work: string;

function stepwise(args: string[]) {
  const r = runStepwise([...args, '--runbooks', rbDir], { STEPWISE_DATA: data });
  return { code: r.code, out: r.stdout + r.stderr };
}
const runIdOf = (out: string) => /^run (\S+)/.exec(out)![1];
const withStore = <T>(fn: (s: RunStore) => T): T => {
  const s = RunStore.open(data);
  try {
    return fn(s);
  } finally {
    s.close();
  }
};

before(() => {
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-replay-data-'));
  rbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-replay-rb-'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-replay-work-'));
  fs.writeFileSync(path.join(rbDir, 'replay.md'), `---
title: Replay
vars:
  WORK:
    default: ${work}
    describe: work folder
  API_KEY:
    default: key-do-not-leak-123
    describe: a secret
    secret: true
---
# Replay

## Prepare

\`\`\`sh {id=prepare}
mkdir -p "$WORK/made" && cd "$WORK/made"
export STAGE=prepared
\`\`\`

\`\`\`sh {id=prepare-check verify}
test -d "$WORK/made" || { echo "no made dir"; exit 1; }
\`\`\`

## Needs flag

\`\`\`sh {id=use-state}
echo "stage=$STAGE in $PWD"
\`\`\`

\`\`\`sh {id=flag-check verify}
test -f "$WORK/flag" || { echo "flag missing"; exit 1; }
\`\`\`

## Flaky

\`\`\`sh {id=flaky retries=3 retry-delay=0}
n=$(cat "$WORK/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$WORK/count"
echo "attempt $n"; [ "$n" -ge 3 ]
\`\`\`

\`\`\`sh {id=old-way os=rhel6}
service network restart
\`\`\`

\`\`\`sh {id=wipe confirm=true}
echo "wiping with $API_KEY"
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`);
});
after(() => {
  for (const d of [data, rbDir, work]) fs.rmSync(d, { recursive: true, force: true });
});

test('--plan prints every block with variables substituted, secrets masked, skips and confirmations; runs nothing', () => {
  const r = stepwise(['run', 'replay', '--plan']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /plan for replay on local/);
  assert.ok(r.out.includes(`mkdir -p "${work}/made"`), r.out);
  assert.match(r.out, /skip   old-way  \(for rhel6 only; target local is debian\)/);
  assert.match(r.out, /run    wipe  \(needs confirmation\)\n\s+echo "wiping with \*\*\*\*"/);
  assert.doesNotMatch(r.out, /key-do-not-leak/);
  assert.ok(!fs.existsSync(path.join(work, 'made')));
  assert.equal(withStore((s) => s.listRuns().length), 0);
});

test('--resume continues from the failed step with the same inputs, exports and directory', () => {
  const first = stepwise(['run', 'replay', '--yes']);
  assert.equal(first.code, 1, first.out);
  assert.match(first.out, /needs-flag: failed — flag missing/);
  const firstId = runIdOf(first.out);
  assert.match(first.out, new RegExp(`resume with: stepwise run replay --resume ${firstId}`));

  fs.writeFileSync(path.join(work, 'flag'), '');
  const second = stepwise(['run', 'replay', '--yes', '--resume', firstId]);
  assert.equal(second.code, 0, second.out);
  assert.match(second.out, new RegExp(`resuming run ${firstId} from step needs-flag`));
  assert.doesNotMatch(second.out, /prepare: /);
  const secondId = runIdOf(second.out);
  withStore((s) => {
    const run = s.getRun(secondId)!;
    assert.equal(run.parentRunId, firstId);
    assert.equal(run.status, 'passed');
    const blocks = s.blockResults(secondId);
    assert.equal(blocks.find((b) => b.id === 'use-state')!.output, `stage=prepared in ${work}/made\n`);
    const flaky = blocks.filter((b) => b.id === 'flaky');
    assert.deepEqual(flaky.map((b) => [b.attempt, b.status]), [[1, 'failed'], [2, 'failed'], [3, 'passed']]);
    assert.equal(blocks.find((b) => b.id === 'old-way')!.status, 'skipped');
  });
  const again = stepwise(['run', 'replay', '--yes', '--resume', secondId]);
  assert.equal(again.code, 2);
  assert.match(again.out, /has no failed or unfinished step to resume/);
  assert.match(stepwise(['run', 'replay', '--resume', 'r20990101000000-aaaaaa']).out, /no run "r20990101000000-aaaaaa" to resume/);
});

test('--converge skips the commands of steps whose checks already pass', () => {
  fs.writeFileSync(path.join(work, 'count'), '5');
  const r = stepwise(['run', 'replay', '--yes', '--converge']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /prepare: passed — already satisfied/);
  const id = runIdOf(r.out);
  withStore((s) => {
    const prepare = s.blockResults(id).filter((b) => b.id === 'prepare');
    assert.deepEqual(prepare.map((b) => [b.status, b.end]), [['skipped', 'skipped']]);
    assert.match(prepare[0].reason!, /already satisfied/);
    assert.ok(s.blockResults(id).some((b) => b.id === 'prepare-check' && b.status === 'passed'));
  });
});

noLeaks();
