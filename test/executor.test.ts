// The executor against a real bash pty: framing, exit codes, output capture, edge cases.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalTarget } from '../server/target/local.ts';
import { TerminalSession } from '../server/terminal/session.ts';
import { Executor } from '../server/exec/executor.ts';
import { cmd, check, until } from './helpers/blocks.ts';

const target = new LocalTarget({ platform: 'debian', capabilities: [] });
let session: TerminalSession;
let ex: Executor;
let screen = '';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-exec-'));

before(async () => {
  session = await TerminalSession.start(target, { secrets: ['hunter2-secret'] });
  session.onData((b) => {
    screen += b.toString('utf8');
    if (screen.length > 1_000_000) screen = screen.slice(-100_000);
  });
  ex = new Executor(session, { vars: { GREETING: 'hello world', TOKEN: 'hunter2-secret' }, secrets: ['hunter2-secret'] });
});
after(() => {
  ex.dispose();
  session.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

test('multi-line block: output between markers, exit code 0, variables exported', async () => {
  const r = await ex.runBlock(cmd('a', 'echo one\necho "$GREETING"\necho three'));
  assert.equal(r.status, 'passed');
  assert.equal(r.exitCode, 0);
  assert.equal(r.output, 'one\nhello world\nthree\n');
  assert.match(r.outputDigest!, /^[0-9a-f]{64}$/);
});

test('cd, exports and functions persist between blocks', async () => {
  await ex.runBlock(cmd('a', `cd ${work}\nexport CARRIED=yes\ngreet() { echo "hi $1"; }`));
  const r = await ex.runBlock(cmd('b', 'pwd; echo $CARRIED; greet bob'));
  assert.equal(r.output, `${work}\nyes\nhi bob\n`);
});

test('heredoc', async () => {
  const r = await ex.runBlock(cmd('h', `cat > ${work}/h.txt <<'EOF'\nline $NOT_EXPANDED\nsecond\nEOF\ncat ${work}/h.txt`));
  assert.equal(r.status, 'passed');
  assert.equal(r.output, 'line $NOT_EXPANDED\nsecond\n');
});

test('a block that fails halfway stops there with that exit code', async () => {
  const r = await ex.runBlock(cmd('f', 'echo before\nsh -c "exit 3"\necho after'));
  assert.equal(r.status, 'failed');
  assert.equal(r.exitCode, 3);
  assert.equal(r.output, 'before\n');
  assert.match(r.reason!, /exited with 3/);
  // and the interactive shell is left without the block's error trap or pipefail
  // (typed straight into the shell, as a user would, outside any block)
  const mark = screen.length;
  session.write('[[ -o pipefail ]] && echo LEAK""PF; trap -p ERR | grep -q . && echo LEAK""TRAP; echo CLEAN-$((40+2))\r');
  await until(() => screen.slice(mark).includes('CLEAN-42'), 5000, 'typed command');
  await until(() => session.state === 'idle');
  assert.doesNotMatch(screen.slice(mark), /LEAKPF|LEAKTRAP/);
});

test('pipefail: a failing stage fails the block', async () => {
  const r = await ex.runBlock(cmd('p', 'false | cat\necho unreachable'));
  assert.equal(r.status, 'failed');
  assert.equal(r.exitCode, 1);
});

test('expected exit code and expect regex', async () => {
  assert.equal((await ex.runBlock(cmd('e', 'exit_code() { return 4; }; exit_code', { exit: 4 }))).status, 'passed');
  assert.equal((await ex.runBlock(cmd('x', 'echo bridge br0 up', { expect: 'br0\\s+up' }))).status, 'passed');
  const bad = await ex.runBlock(cmd('y', 'echo nothing', { expect: '^br0' }));
  assert.equal(bad.status, 'failed');
  assert.match(bad.reason!, /did not match/);
});

test('checks: 0 passed, 2 warning, 1 failed with the last line as reason and the hint', async () => {
  assert.equal((await ex.runBlock(check('c0', 'true'))).status, 'passed');
  const w = await ex.runBlock(check('c2', 'echo "almost there"; (exit 2)'));
  assert.equal(w.status, 'warning');
  assert.equal(w.reason, 'almost there');
  const f = await ex.runBlock(check('c1', 'echo checking; echo "br0 is missing"; (exit 1)', { hint: 'run step 1' }));
  assert.equal(f.status, 'failed');
  assert.equal(f.reason, 'br0 is missing — hint: run step 1');
});

test('a block that reads stdin gets what is typed into the terminal', async () => {
  const p = ex.runBlock(cmd('r', 'read -r NAME; echo "got $NAME"'));
  await until(() => session.state === 'busy');
  session.write('typed-by-user\r');
  const r = await p;
  assert.equal(r.status, 'passed');
  assert.match(r.output, /got typed-by-user\n$/);
});

test('UTF-8 (Korean) output survives, even split across reads', async () => {
  const r = await ex.runBlock(cmd('k', "printf '가상화 호스트 구축\\n'; printf '\\xeb\\xb8'; sleep 0.05; printf '\\x8c\\xeb\\xa6\\xac\\xec\\xa7\\x80\\n'"));
  assert.equal(r.output, '가상화 호스트 구축\n브리지\n');
});

test('a program printing a fake end marker does not end the block', async () => {
  const r = await ex.runBlock(cmd('m', "printf '\\033]633;D;deadbeef;99;0\\007'; printf '\\033]133;D;0\\007'; echo real-end; sh -c 'exit 5'"));
  assert.equal(r.exitCode, 5);
  assert.match(r.output, /real-end/);
  assert.doesNotMatch(screen, new RegExp(session.nonce));
});

test('large output (30 MB) is captured head and tail, digested, and ends correctly', async () => {
  const r = await ex.runBlock(cmd('big', 'head -c 22500000 /dev/zero | base64 -w 100; echo THE-END'));
  assert.equal(r.status, 'passed');
  assert.match(r.output, /bytes omitted/);
  assert.match(r.output, /THE-END\n$/);
  assert.ok(r.output.length < 400_000);
});

test('secrets are masked in captured output and on the terminal stream', async () => {
  const r = await ex.runBlock(cmd('s', 'echo "token=$TOKEN"'));
  assert.equal(r.output, 'token=****\n');
  assert.doesNotMatch(screen, /hunter2-secret/);
});

test('timeout sends Ctrl-C and records a timeout; the session stays usable', async () => {
  const r = await ex.runBlock(cmd('t', 'echo start; sleep 30; echo never', { timeoutSec: 0.5 }));
  assert.equal(r.status, 'failed');
  assert.equal(r.end, 'timeout');
  assert.match(r.reason!, /timed out/);
  const after = await ex.runBlock(cmd('u', 'echo alive'));
  assert.equal(after.output, 'alive\n');
});

test('timeout of a program that ignores Ctrl-C: its process group is killed', async () => {
  const r = await ex.runBlock(cmd('t2', "trap '' INT; sh -c 'trap \"\" INT; sleep 30'", { timeoutSec: 0.3 }));
  assert.equal(r.end, 'timeout');
  assert.equal((await ex.runBlock(cmd('v', 'echo still-alive'))).output, 'still-alive\n');
});

test('file block writes content with substitution, keeps a backup and shows a diff', async () => {
  const file = path.join(work, 'conf', 'ifcfg-br0');
  const block = cmd('fb', 'DEVICE=br0\nGREETING="${GREETING}"\nKEEP=$HOME', { kind: 'file', lang: 'ini', file, mode: '0640' });
  const r1 = await ex.runBlock(block);
  assert.equal(r1.status, 'passed', r1.reason);
  assert.equal(fs.readFileSync(file, 'utf8'), 'DEVICE=br0\nGREETING="hello world"\nKEEP=$HOME\n');
  assert.equal(fs.statSync(file).mode & 0o777, 0o640);
  assert.match(r1.output, /created/);
  const r2 = await ex.runBlock({ ...block, content: 'DEVICE=br1' });
  assert.match(r2.output, /^-DEVICE=br0$/m);
  assert.match(r2.output, /^\+DEVICE=br1$/m);
  assert.equal(fs.readFileSync(file + '.stepwise-bak', 'utf8'), 'DEVICE=br0\nGREETING="hello world"\nKEEP=$HOME\n');
});

test('platform and capability mismatches are skipped with a reason', async () => {
  const r = await ex.runBlock(cmd('o', 'yum install kvm', { os: ['rhel6'] }));
  assert.equal(r.status, 'skipped');
  assert.match(r.reason!, /rhel6 only; target local is debian/);
  const q = await ex.runBlock(cmd('q', 'virsh nodedev-detach x', { requires: ['pci-passthrough'] }));
  assert.equal(q.status, 'skipped');
  assert.match(q.reason!, /needs pci-passthrough/);
});

test('a block that runs exit ends the session: reported, not hung', async () => {
  const s2 = await TerminalSession.start(target);
  const ex2 = new Executor(s2);
  const r = await ex2.runBlock(cmd('bye', 'echo leaving; exit 7'));
  assert.equal(r.status, 'failed');
  assert.equal(r.end, 'session-ended');
  assert.match(r.reason!, /session ended \(exit code 7\)/);
  const again = await ex2.runBlock(cmd('after', 'echo x'));
  assert.equal(again.end, 'session-ended');
  ex2.dispose();
  s2.dispose();
});

test('checks run in a subshell: they may exit, and change nothing', async () => {
  await ex.runBlock(cmd('c-a', `cd ${work}`));
  const f = await ex.runBlock(check('c-b', 'echo "not ready"; exit 1'));
  assert.equal(f.status, 'failed');
  assert.equal(f.reason, 'not ready');
  const w = await ex.runBlock(check('c-c', 'cd /; export LEAKED=1; exit 2'));
  assert.equal(w.status, 'warning');
  assert.equal((await ex.runBlock(cmd('c-d', 'pwd; echo "[${LEAKED:-}]"'))).output, `${work}\n[]\n`);
  assert.equal(session.state, 'idle');
});

test('file block paths substitute declared variables', async () => {
  const r = await ex.runBlock(cmd('fp', 'x=1', { kind: 'file', lang: 'ini', file: `${work}/\${GREETING}.conf` }));
  assert.equal(r.status, 'passed', r.reason);
  assert.equal(fs.readFileSync(path.join(work, 'hello world.conf'), 'utf8'), 'x=1\n');
});

test('Tab Tab at the prompt (readline asks "Display all N possibilities?") does not wedge the next block', async () => {
  const mark = screen.length;
  session.input('\t\t');
  await until(() => /Display all \d+ possibilities|--More--/.test(screen.slice(mark)), 10_000, 'the completion question');
  const r = await ex.runBlock(cmd('after-tab', 'echo after-tab-ok'));
  assert.equal(r.status, 'passed', r.reason);
  assert.equal(r.output, 'after-tab-ok\n');
});

test('half a line typed at the prompt is cleared before a block is typed', async () => {
  session.input('echo half-typed-');
  const r = await ex.runBlock(cmd('after-half', 'echo clean'));
  assert.equal(r.output, 'clean\n');
});

test('a block waits while a person runs a command in the terminal, and is typed after it', async () => {
  const marker = path.join(work, 'person-done');
  session.input(`sleep 0.5; touch ${marker}\r`);
  await until(() => session.state === 'busy', 5000, 'the person\'s command to start');
  const r = await ex.runBlock(cmd('queued', `test -e ${marker} && echo typed-after`));
  assert.equal(r.status, 'passed', r.reason);
  assert.equal(r.output, 'typed-after\n');
});

test('a block whose terminal stays busy fails with the reason, without a timeout= of its own', async () => {
  const quick = new Executor(session, { promptWaitMs: 300 });
  session.input('sleep 3\r');
  await until(() => session.state === 'busy', 5000, 'the person\'s command to start');
  const r = await quick.runBlock(cmd('never-typed', 'echo should-not-run'));
  assert.equal(r.status, 'failed');
  assert.match(r.reason!, /still running a command/);
  assert.ok(!screen.includes('should-not-run'), 'nothing was typed into the running program');
  session.write('\x03');
  await until(() => session.state === 'idle', 5000, 'the prompt');
  quick.dispose();
});

test('blocks queued on a disposed executor are cancelled, not run', async () => {
  const ex2 = new Executor(session);
  const first = ex2.runBlock(cmd('slow', 'sleep 0.3; echo slow-done'));
  const second = ex2.runBlock(cmd('queued2', 'echo must-not-run'));
  await until(() => session.state === 'busy', 5000, 'the first block to start');
  ex2.dispose();
  assert.equal((await first).output, 'slow-done\n', 'the block already running finishes');
  await assert.rejects(second, /cancelled/);
  assert.ok(!screen.includes('must-not-run'));
});

test('a resumed working directory is restored as a name: `$(…)` in it is never run', async () => {
  const evil = `${work}/$(touch ${work}/pwned)`;
  const ex3 = new Executor(session, { restore: { cwd: evil, env: { CARRIED_BACK: '$(touch pwned-too)' } } });
  const r = await ex3.runBlock(cmd('after-restore', 'echo "$CARRIED_BACK"'));
  assert.equal(r.output, '$(touch pwned-too)\n');
  assert.match(screen, /cannot restore the working directory .*\$\(touch/);
  assert.ok(!fs.existsSync(path.join(work, 'pwned')), 'the command in the directory name did not run');
  ex3.dispose();
});

noLeaks();
