// The verifier and output capture are pure.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeBlock, judgeStep, skipReason } from '../server/exec/verifier.ts';
import { OutputCapture, terminalText, lastLine } from '../server/exec/capture.ts';
import type { BlockResult } from '../common/result.ts';
import { cmd, check } from './helpers/blocks.ts';

const res = (id: string, status: BlockResult['status'], reason?: string): BlockResult => ({
  id, status, exitCode: status === 'failed' ? 1 : 0, output: '', durationMs: 1, end: 'exit', ...(reason ? { reason } : {}),
});

test('judgeBlock: exit codes, expected exit, expect, check 0/1/2, ends', () => {
  const ok = { end: 'exit' as const, output: 'x\n' };
  assert.equal(judgeBlock(cmd('a', ''), { ...ok, exitCode: 0 }).status, 'passed');
  assert.deepEqual(judgeBlock(cmd('a', ''), { ...ok, exitCode: 3, output: 'boom\n' }), { status: 'failed', reason: 'exited with 3: boom' });
  assert.equal(judgeBlock(cmd('a', '', { exit: 3 }), { ...ok, exitCode: 3 }).status, 'passed');
  assert.equal(judgeBlock(check('c', ''), { ...ok, exitCode: 2 }).status, 'warning');
  assert.deepEqual(judgeBlock(check('c', '', { hint: 'h' }), { ...ok, exitCode: 1, output: 'a\nwhy\n\n' }), { status: 'failed', reason: 'why — hint: h' });
  assert.equal(judgeBlock(check('c', ''), { ...ok, exitCode: 7, output: '' }).reason, 'check exited with 7');
  assert.equal(judgeBlock(cmd('a', '', { expect: '^br0$' }), { ...ok, exitCode: 0, output: 'x\nbr0\n' }).status, 'passed');
  assert.equal(judgeBlock(cmd('a', '', { timeoutSec: 5 }), { end: 'timeout', exitCode: null, output: '' }).reason, 'timed out after 5s (sent Ctrl-C)');
  assert.equal(judgeBlock(cmd('a', ''), { end: 'session-ended', exitCode: null, output: '', sessionExitCode: 0 }).status, 'failed');
  assert.equal(judgeBlock(cmd('a', ''), { end: 'interrupted', exitCode: 130, output: '' }).status, 'failed');
});

test('judgeStep: worst wins; nothing run is skipped with the reasons', () => {
  assert.equal(judgeStep('s', [res('a', 'passed')], [res('c', 'passed')]).status, 'passed');
  assert.deepEqual(
    { ...judgeStep('s', [res('a', 'failed', 'exited with 1')], [res('c', 'skipped')]), blocks: [], checks: [] },
    { stepId: 's', status: 'failed', reason: 'a: exited with 1', blocks: [], checks: [] },
  );
  assert.equal(judgeStep('s', [res('a', 'passed')], [res('c', 'warning', 'w'), res('d', 'passed')]).status, 'warning');
  assert.equal(judgeStep('s', [res('a', 'passed')], [res('c', 'warning'), res('d', 'failed', 'nope')]).reason, 'nope');
  const sk = judgeStep('s', [res('a', 'skipped', 'for rhel6 only')], []);
  assert.equal(sk.status, 'skipped');
  assert.equal(sk.reason, 'for rhel6 only');
});

test('skipReason: os and capabilities', () => {
  const t = { id: 'lab', platform: 'debian', capabilities: new Set(['kvm']) };
  assert.equal(skipReason(cmd('a', '', { os: ['debian', 'rhel9'] }), t), undefined);
  assert.match(skipReason(cmd('a', '', { os: ['rhel6'] }), t)!, /rhel6 only/);
  assert.match(skipReason(cmd('a', ''), t, ['rhel6'])!, /rhel6 only/);
  assert.equal(skipReason(cmd('a', '', { requires: ['kvm'] }), t), undefined);
  assert.match(skipReason(cmd('a', '', { requires: ['kvm', 'pci-passthrough'] }), t)!, /needs pci-passthrough, which target lab lacks/);
});

test('capture keeps head and tail of a flood, digests everything', () => {
  const c = new OutputCapture();
  c.push(Buffer.from('START\n'));
  for (let i = 0; i < 100; i++) c.push(Buffer.alloc(10_000, 0x78));
  c.push(Buffer.from('\nEND\n'));
  const { text, digest, bytes } = c.finish();
  assert.equal(bytes, 6 + 1_000_000 + 5);
  assert.match(text, /^START\n/);
  assert.match(text, /bytes omitted/);
  assert.match(text, /\nEND\n$/);
  assert.match(digest, /^[0-9a-f]{64}$/);
});

test('terminalText drops escapes and resolves carriage-return overwrites', () => {
  assert.equal(terminalText('\x1b[1;32mok\x1b[0m\r\n10%\r50%\r100%\n\x1b]0;title\x07done'), 'ok\n100%\ndone');
  assert.equal(lastLine('a\n  b  \n\n'), 'b');
});

noLeaks();
