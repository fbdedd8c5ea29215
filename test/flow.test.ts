// Flow-control accounting and output batching.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowWindow, FLOW_HIGH, FLOW_LOW, ACK_EVERY, BUSY_UNACKED } from '../server/terminal/flow.ts';
import { OutputBatcher, BATCH_MAX_BYTES } from '../server/terminal/batcher.ts';

test('marks are ordered so a client acking every ACK_EVERY never deadlocks', () => {
  assert.ok(ACK_EVERY < BUSY_UNACKED && BUSY_UNACKED < FLOW_LOW && FLOW_LOW < FLOW_HIGH);
});

test('flow: an acking client with more than BUSY_UNACKED in flight is busy until it acks; a script never is', () => {
  const f = new FlowWindow();
  f.sent(BUSY_UNACKED + 1);
  assert.equal(f.busy, false, 'a client that never acked (a script) is never busy');
  f.acked(0);
  assert.equal(f.busy, true);
  f.acked(ACK_EVERY);
  assert.equal(f.busy, false, 'the residue a client holds back (< ACK_EVERY) never keeps it busy');
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

/** A batcher whose frames stay in flight until the test lets them go, like a busy socket. */
function heldBatcher() {
  const frames: Buffer[] = [];
  const inFlight: Array<() => void> = [];
  const b = new OutputBatcher((f, sent) => {
    frames.push(f);
    inFlight.push(sent);
  });
  const release = () => inFlight.shift()!();
  return { b, frames, inFlight, release };
}

test('batcher: output is sent at once whenever no frame is in flight, at any cadence', () => {
  const frames: Buffer[] = [];
  const b = new OutputBatcher((f, sent) => {
    frames.push(f);
    sent(); // a drained socket: written at once
  });
  for (let i = 0; i < 50; i++) b.push(Buffer.from([0x61 + (i % 26)]));
  assert.equal(frames.length, 50, 'no chunk waits for a timer or for another chunk');
  assert.equal(b.queued, 0);
  b.dispose();
});

test('batcher: while a frame is in flight, output is coalesced into one frame sent when it leaves', () => {
  const { b, frames, release } = heldBatcher();
  b.push(Buffer.from('a'));
  assert.equal(frames.length, 1, 'the first chunk goes at once');
  for (let i = 0; i < 100; i++) b.push(Buffer.alloc(1000, 0x62));
  assert.equal(frames.length, 1, 'held while the first frame is in flight');
  assert.equal(b.queued, 100_000);
  release();
  assert.equal(frames.length, 2, 'the queue leaves as one frame the moment the first one is written');
  assert.equal(frames[1]!.length, 100_000);
  release();
  b.push(Buffer.from('c'));
  assert.equal(frames.length, 3, 'after the socket drained, the next chunk goes at once');
  assert.equal(Buffer.concat(frames).toString('latin1'), 'a' + 'b'.repeat(100_000) + 'c', 'bytes in order, none lost');
  b.dispose();
});

test('batcher: past BATCH_MAX_BYTES queued the output is sent anyway, into the socket the stream bounds', () => {
  const { b, frames, inFlight } = heldBatcher();
  b.push(Buffer.from('a'));
  b.push(Buffer.alloc(BATCH_MAX_BYTES - 1));
  assert.equal(frames.length, 1);
  b.push(Buffer.alloc(1));
  assert.equal(frames.length, 2, 'sent while the first is still in flight');
  assert.equal(frames[1]!.length, BATCH_MAX_BYTES);
  assert.equal(inFlight.length, 2);
  b.push(Buffer.from('x'));
  inFlight.shift()!();
  assert.equal(frames.length, 2, 'queued output waits until no frame is in flight');
  inFlight.shift()!();
  assert.equal(frames.length, 3);
  b.dispose();
});

test('batcher: flush sends the queue now; clear drops it; a late sent() is harmless after dispose', () => {
  const { b, frames, release } = heldBatcher();
  b.push(Buffer.from('a'));
  b.push(Buffer.from('b'));
  b.flush();
  assert.equal(frames.length, 2, 'flush does not wait for the frame in flight');
  b.push(Buffer.from('c'));
  b.clear();
  assert.equal(b.queued, 0);
  release();
  release();
  assert.equal(frames.length, 2, 'cleared output is never sent');
  b.push(Buffer.from('d'));
  assert.equal(frames.length, 3);
  b.dispose();
  release();
  b.push(Buffer.from('e'));
  assert.equal(frames.length, 3, 'nothing after dispose');
});

test('batcher: while the client is busy output gathers into one frame, sent on the kick after its ack', () => {
  const frames: Buffer[] = [];
  let busy = false;
  const b = new OutputBatcher((f, sent) => {
    frames.push(f);
    sent();
  }, () => busy);
  b.push(Buffer.from('a'));
  busy = true;
  for (let i = 0; i < 10; i++) b.push(Buffer.from('b'));
  assert.equal(frames.length, 1, 'held while the client is behind');
  b.kick();
  assert.equal(frames.length, 1, 'a kick while still busy sends nothing');
  busy = false;
  b.kick();
  assert.equal(frames.length, 2);
  assert.equal(frames[1]!.toString(), 'b'.repeat(10));
  busy = true;
  b.push(Buffer.alloc(BATCH_MAX_BYTES));
  assert.equal(frames.length, 3, 'a busy client still gets a full batch: the flow window, not the batcher, pauses the pty');
  b.dispose();
});

noLeaks();
