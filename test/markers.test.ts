// The marker parser is pure: feed it bytes split every possible way and compare.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MarkerParser, type MarkerEvent } from '../server/terminal/markers.ts';

const NONCE = '0123456789abcdef0123456789abcdef';
const osc = (body: string, st = '\x07') => `\x1b]633;${body}${st}`;

function run(chunks: Buffer[]): { data: string; markers: unknown[] } {
  const p = new MarkerParser(NONCE);
  const evs: MarkerEvent[] = chunks.flatMap((c) => p.push(c));
  const rest = p.flush();
  let data = '';
  const markers: unknown[] = [];
  for (const e of evs) {
    if (e.type === 'data') data += e.bytes.toString('latin1');
    else markers.push(e.marker);
  }
  return { data: data + rest.toString('latin1'), markers };
}

const stream = Buffer.from(
  [
    'prompt$ ',
    osc(`C;${NONCE};7`),
    'out\x1b[1mput\x1b[0m\n',
    osc('D;deadbeef;7;0'), // wrong nonce: passes through
    '\x1b]133;D;0\x07', // other integrations' markers pass through
    osc(`D;${NONCE};7;3`, '\x1b\\'),
    osc(`A;${NONCE};3`),
    'tail',
  ].join(''),
  'latin1',
);

const expected = {
  data: `prompt$ out\x1b[1mput\x1b[0m\n${osc('D;deadbeef;7;0')}\x1b]133;D;0\x07tail`,
  markers: [
    { kind: 'C', seq: 7 },
    { kind: 'D', seq: 7, exitCode: 3 },
    { kind: 'A', exitCode: 3 },
  ],
};

test('whole stream: our markers removed and reported, foreign ones kept', () => {
  assert.deepEqual(run([stream]), expected);
});

test('every split point gives the same result', () => {
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(run([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
  }
});

test('byte-by-byte gives the same result', () => {
  assert.deepEqual(run([...stream].map((b) => Buffer.from([b]))), expected);
});

test('malformed markers with our nonce pass through as data', () => {
  const bad = osc(`D;${NONCE};x;0`) + osc(`Z;${NONCE}`) + osc(`C;${NONCE}`);
  assert.deepEqual(run([Buffer.from(bad)]), { data: bad, markers: [] });
});

test('an unterminated prefix is bounded: a flood after it is not held back', () => {
  const p = new MarkerParser(NONCE);
  const first = p.push(Buffer.from('\x1b]633;C;'));
  assert.deepEqual(first, []);
  const evs = p.push(Buffer.alloc(10_000, 0x41));
  const out = evs.map((e) => (e.type === 'data' ? e.bytes.length : 0)).reduce((a, b) => a + b, 0);
  assert.equal(out, 10_000 + 8);
});

test('ESC alone at the end is held, then released', () => {
  const p = new MarkerParser(NONCE);
  assert.deepEqual(p.push(Buffer.from('ab\x1b')).map((e) => e.type === 'data' && e.bytes.toString()), ['ab']);
  const evs = p.push(Buffer.from('[0m'));
  assert.equal(evs.length, 1);
  assert.equal(evs[0].type === 'data' && evs[0].bytes.toString(), '\x1b[0m');
});

noLeaks();
