// Headless answers to interactive prompts (issue 12 §3): an interactive block followed by an
// `answers` block is run by a headless `stepwise run` (not skipped), its two prompts answered
// in order — the second with a secret variable, recorded masked — and a prompt that never
// comes fails the block after the answers block's timeout.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runStepwise } from './helpers/cli.ts';
import { RunStore } from '../server/record/store.ts';
import { parseRunbook } from '../server/runbook/parse.ts';

const SECRET = 'pw-s3cret-answers';

const RUNBOOK = `---
vars:
  DB_PASSWORD: {secret: true}
---
# Answers fixture

## Set up the database

\`\`\`sh {id=setup interactive=true}
read -r -p "Database name? " DBNAME
read -r -s -p "Password for $DBNAME: " PW
echo
echo "configured $DBNAME with a password of \${#PW} characters"
[ "$PW" = "$DB_PASSWORD" ] && echo "password matches"
\`\`\`

\`\`\`answers {timeout=10}
- expect: 'Database name\\? $'
  send: inventory
- expect: 'Password for inventory: '
  send: '\${DB_PASSWORD}'
\`\`\`

\`\`\`sh {id=setup-check verify}
true
\`\`\`

## Never asked

\`\`\`sh {id=silent interactive=true}
read -r -p "Something else: " X
\`\`\`

\`\`\`answers {timeout=1}
- expect: 'Continue\\?'
  send: 'y'
\`\`\`
`;

let tmp: string;
let data: string;
let rbDir: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-answers-'));
  data = path.join(tmp, 'data');
  rbDir = path.join(tmp, 'runbooks');
  fs.mkdirSync(rbDir);
  fs.writeFileSync(path.join(rbDir, 'answers.md'), RUNBOOK);
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function lastRun(): string {
  return runStepwise(['runs', '--data', data]).stdout.trim().split('\n')[0]!.split(/\s+/)[0]!;
}

test('the answers block parses onto the interactive block before it; misplaced or malformed ones are diagnostics', () => {
  const { runbook, diagnostics } = parseRunbook(RUNBOOK, 'answers.md');
  assert.deepEqual(diagnostics.filter((d) => d.severity === 'error'), []);
  assert.deepEqual(runbook!.blocks.setup!.answers, [{ expect: 'Database name\\? $', send: 'inventory' }, { expect: 'Password for inventory: ', send: '${DB_PASSWORD}' }]);
  assert.equal(runbook!.blocks.setup!.answersTimeoutSec, 10);
  const bad = parseRunbook('# T\n\n## S\n\n```sh {id=a}\ntrue\n```\n\n```answers\n- expect: x\n  send: y\n```\n\n```sh {id=b interactive=true}\ntrue\n```\n\n```answers\n- expect: x\n```\n', 't.md');
  assert.deepEqual(bad.diagnostics.filter((d) => d.code === 'ANSWERS_INVALID').map((d) => d.line), [9, 18]);
});

test('a headless run answers a program that prompts twice, the secret masked in every record', () => {
  const r = runStepwise(['run', 'answers', '--step', 'set-up-the-database', '--runbooks', rbDir, '--data', data, '--verbose'], { STEPWISE_VAR_DB_PASSWORD: SECRET });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /set-up-the-database: passed/);
  const runId = lastRun();
  const store = RunStore.open(data);
  try {
    const setup = store.blockResults(runId).find((b) => b.id === 'setup')!;
    assert.equal(setup.status, 'passed');
    assert.match(setup.output, /configured inventory with a password of 17 characters/);
    assert.match(setup.output, /password matches/);
    const sent = store.auditEvents(runId).filter((e) => e.type === 'answer-sent').map((e) => [e.data.n, e.data.sent]);
    assert.deepEqual(sent, [[1, 'inventory'], [2, '****']]);
  } finally {
    store.close();
  }
  for (const f of fs.readdirSync(data, { recursive: true }) as string[]) {
    const file = path.join(data, f);
    if (fs.statSync(file).isFile()) assert.ok(!fs.readFileSync(file).includes(SECRET), `the secret is in ${f}`);
  }
});

test('a prompt that never comes fails the block after the timeout, naming the expectation', () => {
  const r = runStepwise(['run', 'answers', '--step', 'never-asked', '--runbooks', rbDir, '--data', data]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /no prompt matching \/Continue\\\?\/ within 1 s \(answer 1 of 1\)/);
});

noLeaks();
