// When the recording cannot be written (disk full), a run stops with a clear error instead of
// going on unrecorded; --record best-effort lets it go on. The recordings folder is a tiny
// tmpfs of the test's own, so the disk really fills.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunStore } from '../server/record/store.ts';
import { runStepwise, sessionDirsOf, spawnStepwise } from './helpers/cli.ts';

let data: string;
let rbDir: string;

before(() => {
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-full-'));
  fs.mkdirSync(path.join(data, 'casts'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'stepwise-test-full', path.join(data, 'casts')]);
  rbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-full-rb-'));
  fs.writeFileSync(path.join(rbDir, 'flood.md'), `# Flood

## Print a lot

\`\`\`sh {id=flood}
head -c 3000000 /dev/zero | base64
\`\`\`

\`\`\`sh {verify}
true
\`\`\`

## After

\`\`\`sh {id=after}
echo after
\`\`\`

\`\`\`sh {verify}
true
\`\`\`
`);
});
after(() => {
  spawnSync('umount', [path.join(data, 'casts')]);
  fs.rmSync(data, { recursive: true, force: true });
  fs.rmSync(rbDir, { recursive: true, force: true });
});

function stepwise(args: string[]) {
  const r = runStepwise([...args, '--runbooks', rbDir, '--data', data], { STEPWISE_LOG: 'silent' });
  return { code: r.code, out: r.stdout + r.stderr };
}

test('strict (default): the run stops with a clear error and keeps what was recorded', () => {
  const r = stepwise(['run', 'flood']);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /print-a-lot: failed — recording failed \(ENOSPC[^)]*\): the run was stopped rather than run unrecorded/);
  assert.doesNotMatch(r.out, /\[2\/2\]/);
  const id = /^run (\S+)/.exec(r.out)![1];
  const store = RunStore.open(data);
  try {
    assert.equal(store.getRun(id)!.status, 'failed');
    assert.ok(store.auditEvents(id).some((e) => e.type === 'recording-failed'));
  } finally {
    store.close();
  }
  // the partial recording is still valid line-JSON up to where the disk filled
  const lines = fs.readFileSync(path.join(data, 'casts', `${id}.cast`), 'utf8').split('\n').filter(Boolean);
  assert.equal(JSON.parse(lines[0]).version, 2);
  fs.rmSync(path.join(data, 'casts', `${id}.cast`));
});

test('strict recording fails closed when the audit log cannot be written either', () => {
  // The audit copy lives on the same full disk as the recording: every write there fails.
  const both = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-full-both-'));
  const disk = path.join(both, 'casts');
  fs.mkdirSync(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'stepwise-test-full2', disk]);
  try {
    fs.mkdirSync(path.join(disk, 'audit'));
    fs.symlinkSync(path.join(disk, 'audit'), path.join(both, 'audit'));
    const r = runStepwise(['run', 'flood', '--runbooks', rbDir, '--data', both], { STEPWISE_LOG: 'silent' });
    const out = r.stdout + r.stderr;
    assert.equal(r.code, 1, out);
    assert.match(out, /print-a-lot: failed — recording failed/);
    assert.doesNotMatch(out, /\[2\/2\]/, 'the run stopped');
    const id = /^run (\S+)/.exec(out)![1];
    const store = RunStore.open(both);
    try {
      assert.equal(store.getRun(id)!.status, 'failed', 'the run is recorded as failed, not left running');
    } finally {
      store.close();
    }
  } finally {
    spawnSync('umount', [disk]);
    fs.rmSync(both, { recursive: true, force: true });
  }
});

test('best-effort: the run goes on and says so in the audit log', () => {
  const r = stepwise(['run', 'flood', '--record', 'best-effort']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /\[2\/2\] after: passed/);
  assert.equal(stepwise(['run', 'flood', '--record', 'sometimes']).code, 2);
});

test('a run that cannot start (no room for its recording, no shell) leaves no session folder or shell', async () => {
  const full = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-full-start-'));
  const disk = path.join(full, 'casts');
  fs.mkdirSync(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'stepwise-test-full3', disk]);
  try {
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(disk, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
    const p = spawnStepwise(['run', 'flood', '--runbooks', rbDir, '--data', full], { STEPWISE_LOG: 'silent' });
    assert.equal(await p.exited, 2, p.output());
    assert.match(p.output(), /cannot create recording .*ENOSPC/);
    assert.deepEqual(sessionDirsOf(p.child.pid!), [], 'its session folder is removed');
    const noShell = spawnStepwise(['run', 'flood', '--runbooks', rbDir, '--data', data], { STEPWISE_LOG: 'silent', PATH: '/nonexistent' });
    assert.equal(await noShell.exited, 2, noShell.output());
    assert.match(noShell.output(), /shell on local did not start/);
    assert.deepEqual(sessionDirsOf(noShell.child.pid!), []);
  } finally {
    spawnSync('umount', [disk]);
    fs.rmSync(full, { recursive: true, force: true });
  }
});

noLeaks();
