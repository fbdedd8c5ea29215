// A CLI run interrupted the ways people interrupt it — Ctrl-C, SIGTERM, SIGHUP, a second Ctrl-C,
// kill -9 — loses no record and leaves no process, session folder, lab or secret behind.
// Every run here is a real `stepwise run` process sent real signals.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pty from 'node-pty';
import { BIN, ROOT, runStepwise, sessionDirsOf, spawnStepwise } from './helpers/cli.ts';
import { until } from './helpers/blocks.ts';

let rbDir: string;
let data: string;
// A pid-unique sleep length, so this file's sleeping blocks can be found with pgrep.
const NAP = 4000 + (process.pid % 1000);

before(() => {
  rbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-int-rb-'));
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-int-data-'));
  fs.writeFileSync(path.join(rbDir, 'nap.md'), `---
id: nap
title: A step that takes a while
vars:
  GREETING:
    default: hello
    describe: a word
  PASSWORD:
    default: ""
    secret: true
    describe: a password that must never rest in a file
  DELAY:
    default: "${NAP}"
    describe: how long the second step sleeps
---
# Nap

## Greet

\`\`\`sh
echo "greeting $GREETING, password length \${#PASSWORD}"
export DERIVED="x\${PASSWORD}y"
\`\`\`

## Nap

\`\`\`sh
sleep "$DELAY"
\`\`\`

## Stubborn

\`\`\`sh
trap '' INT; sleep "$DELAY"
\`\`\`
`);
});

after(() => {
  fs.rmSync(rbDir, { recursive: true, force: true });
  fs.rmSync(data, { recursive: true, force: true });
});

const napping = () => spawnSync('pgrep', ['-f', `^sleep ${NAP}$`]).status === 0;

function status(runId: string): string {
  const r = runStepwise(['runs', '--data', data]);
  return new RegExp(`^${runId}\\s+(\\S+)`, 'm').exec(r.stdout)?.[1] ?? `(not listed)\n${r.stdout}${r.stderr}`;
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  test(`${signal} during a block: the block is interrupted, the run ends interrupted and sealed, nothing is left, exit ${code}`, async () => {
    const p = spawnStepwise(['run', 'nap', '--step', 'nap', '--runbooks', rbDir, '--data', data]);
    await p.waitFor(/^run (\S+) nap on local$/m);
    const runId = /^run (\S+)/.exec(p.output())![1];
    await until(napping, 15_000, 'the block to be running');
    const dirs = sessionDirsOf(p.child.pid!);
    assert.equal(dirs.length, 1, 'the run has its session folder while it runs');
    const t0 = Date.now();
    p.child.kill(signal);
    assert.equal(await p.exited, code, p.output());
    assert.ok(Date.now() - t0 < 10_000, 'it exits within a few seconds');
    assert.match(p.output(), /nap: interrupted/);
    assert.equal(status(runId), 'interrupted');
    assert.equal(runStepwise(['audit', 'verify', runId, '--data', data]).code, 0, 'the chain and the sealed recording verify');
    assert.ok(!fs.existsSync(dirs[0]), 'the session folder is removed');
    await until(() => !napping(), 5_000, 'the interrupted program to be gone');
  });
}

test('a second Ctrl-C exits at once and still leaves consistent records; --resume accepts the interrupted run', async () => {
  const p = spawnStepwise(['run', 'nap', '--step', 'stubborn', '--runbooks', rbDir, '--data', data]);
  await p.waitFor(/^run (\S+) nap on local$/m);
  const runId = /^run (\S+)/.exec(p.output())![1];
  await until(napping, 15_000, 'the block to be running');
  const dirs = sessionDirsOf(p.child.pid!);
  p.child.kill('SIGINT');
  await p.waitFor(/interrupting/);
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 130, p.output());
  assert.equal(status(runId), 'interrupted');
  assert.equal(runStepwise(['audit', 'verify', runId, '--data', data]).code, 0);
  assert.ok(!fs.existsSync(dirs[0]), 'the session folder is removed');
  await until(() => !napping(), 5_000, 'the program that ignored Ctrl-C to be gone');

  const resumed = runStepwise(['run', 'nap', '--resume', runId, '--var', 'DELAY=0', '--runbooks', rbDir, '--data', data]);
  assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resuming run ${runId} from step `));
});

test('kill -9 mid-block: no file holds the secret, and the next stepwise command interrupts the run and removes its folder', async () => {
  const secret = `pw-${crypto.randomBytes(12).toString('hex')}`;
  const p = spawnStepwise(['run', 'nap', '--from', 'greet', '--runbooks', rbDir, '--data', data], { STEPWISE_VAR_PASSWORD: secret });
  await p.waitFor(/\[1\/3\] greet: passed/);
  const runId = /^run (\S+)/.exec(p.output())![1];
  await until(napping, 15_000, 'the block to be running');
  const dirs = sessionDirsOf(p.child.pid!);
  assert.equal(dirs.length, 1);
  p.child.kill('SIGKILL');
  await p.exited;
  // Everything Stepwise could have written: the data folder, the session folder, all temp dirs.
  const holders = spawnSync('grep', ['-rlsF', '--', secret, data, os.tmpdir(), '/dev/shm', '/var/tmp'], { encoding: 'utf8' });
  assert.equal(holders.stdout, '', `files holding the secret:\n${holders.stdout}`);
  assert.ok(fs.existsSync(dirs[0]), 'a killed process cannot remove its own folder');
  assert.equal(status(runId), 'interrupted', 'the next command (stepwise runs) interrupted the run');
  assert.ok(!fs.existsSync(dirs[0]), 'and removed the dead run\'s session folder');
  assert.equal(runStepwise(['audit', 'verify', runId, '--data', data]).code, 0, 'the chain still verifies, the recording sealed');
  await until(() => !napping(), 5_000, 'the orphaned program to be gone');
});

test('variables from STEPWISE_VAR_<NAME> and --var-file; a bad --var-file line is named file:line', () => {
  const file = path.join(rbDir, 'vars.env');
  fs.writeFileSync(file, '# values for nap\nGREETING=from-file\nPASSWORD="file secret"\n');
  const r = runStepwise(['run', 'nap', '--step', 'greet', '--var-file', file, '--runbooks', rbDir, '--data', data, '--verbose']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /greeting from-file, password length 11/);
  const env = runStepwise(['run', 'nap', '--step', 'greet', '--runbooks', rbDir, '--data', data, '--verbose'], { STEPWISE_VAR_GREETING: 'from-env' });
  assert.match(env.stdout, /greeting from-env, password length 0/);
  const cli = runStepwise(['run', 'nap', '--step', 'greet', '--var-file', file, '--var', 'GREETING=from-cli', '--runbooks', rbDir, '--data', data, '--verbose']);
  assert.match(cli.stdout, /greeting from-cli, password length 11/, '--var wins over the file');
  fs.writeFileSync(file, 'GREETING=ok\n\nnot a pair\n');
  const bad = runStepwise(['run', 'nap', '--var-file', file, '--runbooks', rbDir, '--data', data]);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: expected NAME=VALUE`));
});

test('a secret with no value is asked for without echo when stdin is a terminal', async () => {
  const secret = `typed-${crypto.randomBytes(6).toString('hex')}`;
  const term = pty.spawn(process.execPath, [BIN, 'run', 'nap', '--step', 'greet', '--runbooks', rbDir, '--data', data, '--verbose'], {
    cwd: ROOT,
    cols: 120,
    rows: 30,
    env: { ...process.env, STEPWISE_LOG: 'warn' } as Record<string, string>,
  });
  let screen = '';
  term.onData((d) => (screen += d));
  const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
  await until(() => /PASSWORD \(.*secret\): $/m.test(screen), 20_000, 'the prompt');
  term.write(`${secret}\r`);
  assert.equal(await exited, 0, screen);
  assert.match(screen, new RegExp(`password length ${secret.length}`));
  assert.ok(!screen.includes(secret), 'the typed secret is not echoed');
});

test('Ctrl-C of a run on a lab target removes the lab', async () => {
  const labsBefore = new Set(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter(Boolean));
  const p = spawnStepwise(['run', 'nap', '--step', 'nap', '--target', 'lab', '--runbooks', rbDir, '--data', data]);
  await p.waitFor(/^run (\S+) nap on lab$/m, 60_000);
  await until(napping, 15_000, 'the block to be running in the lab');
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 130, p.output());
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith('sw-') && !labsBefore.has(n));
  assert.deepEqual(left, [], 'the lab\'s namespaces are gone');
  await until(() => !napping(), 5_000, 'the lab\'s processes to be gone');
});

test('kill -9 of a run on a lab target: the next stepwise command removes the orphaned lab', async () => {
  const netns = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith('sw-'));
  const before = new Set(netns());
  const p = spawnStepwise(['run', 'nap', '--step', 'nap', '--target', 'lab', '--runbooks', rbDir, '--data', data]);
  await p.waitFor(/^run (\S+) nap on lab$/m, 60_000);
  const runId = /^run (\S+)/.exec(p.output())![1];
  await until(napping, 15_000, 'the block to be running in the lab');
  p.child.kill('SIGKILL');
  await p.exited;
  assert.ok(netns().some((n) => !before.has(n)), 'a killed process cannot remove its lab');
  assert.equal(status(runId), 'interrupted', 'the next command (stepwise runs) interrupted the run');
  assert.deepEqual(netns().filter((n) => !before.has(n)), [], 'and removed the dead run\'s lab');
  await until(() => !napping(), 5_000, 'the lab\'s processes to be gone');
});

noLeaks();
