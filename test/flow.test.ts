// Flow-control accounting and output batching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowWindow, FLOW_HIGH, FLOW_LOW, ACK_EVERY } from '../server/terminal/flow.ts';
import { OutputBatcher, BATCH_MAX_BYTES } from '../server/terminal/batcher.ts';
import { until } from './helpers/blocks.ts';

test('marks are ordered so a client acking every ACK_EVERY never deadlocks', () => {
  assert.ok(ACK_EVERY < FLOW_LOW && FLOW_LOW < FLOW_HIGH);
});

test('an acking client pauses above HIGH and resumes below LOW', () => {
  const f = new FlowWindow();
  assert.equal(f.acked(0), false); // opts in
  let paused = false;
  let sent = 0;
  while (!paused) {
    paused = f.sent(16 * 1024);
    sent += 16 * 1024;
  }
  assert.ok(sent > FLOW_HIGH && sent <= FLOW_HIGH + 16 * 1024);
  let resumed = false;
  let acks = 0;
  while (!resumed) {
    resumed = f.acked(ACK_EVERY);
    acks++;
  }
  assert.ok(f.pending < FLOW_LOW);
  assert.ok(acks > 1);
});

test('a client that never acks is not paused by acks (the socket backlog bounds it)', () => {
  const f = new FlowWindow();
  assert.equal(f.sent(FLOW_HIGH * 10), false);
});

test('batcher: first chunk after idle goes at once; a flood is coalesced', async () => {
  const frames: Buffer[] = [];
  const b = new OutputBatcher((f) => frames.push(f));
  b.push(Buffer.from('a'));
  assert.equal(frames.length, 1, 'echo after idle is not delayed');
  for (let i = 0; i < 100; i++) b.push(Buffer.alloc(1000, 0x61));
  assert.ok(frames.length < 3);
  await until(() => frames.reduce((n, f) => n + f.length, 0) === 100_001);
  assert.ok(frames.length <= 3, `got ${frames.length} frames`);
  b.push(Buffer.alloc(BATCH_MAX_BYTES + 1));
  b.dispose();
});
