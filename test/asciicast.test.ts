import { noLeaks } from './helpers/leaks.ts';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AsciicastWriter, readCast } from '../server/record/asciicast.ts';
import { ASCIINEMA, asciinemaCat } from './helpers/asciinema.ts';

// Every folder a test made, removed when the file's tests are done.
const made: string[] = [];
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-cast-'));
  made.push(dir);
  return dir;
}

test('writes a readable cast: header, Korean text split mid-character, markers, resize, monotonic times', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'run.cast');
  const w = AsciicastWriter.open(file, {
    width: 120,
    height: 30,
    title: '배포 런북',
    env: { SHELL: '/bin/bash', TERM: 'xterm-256color' },
    timestamp: 1_700_000_000,
  });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  // Header is on disk right away.
  assert.match(fs.readFileSync(file, 'utf8'), /^\{"version":2,"width":120,"height":30,.*\}\n$/);

  // Raw bytes split in the middle of a multi-byte character, decoded as the caller does.
  const bytes = Buffer.from('안녕하세요, 세계! $ echo 한국어\r\n', 'utf8');
  const decoder = new TextDecoder('utf-8');
  const t0 = w.elapsed();
  w.marker('step-1/block-a');
  w.output(decoder.decode(bytes.subarray(0, 4), { stream: true })); // "안" + 1 byte of "녕"
  await sleep(20);
  w.output(decoder.decode(bytes.subarray(4, 17), { stream: true }));
  await sleep(20);
  w.output(decoder.decode(bytes.subarray(17), { stream: true }) + decoder.decode());
  w.resize(100, 40);
  await sleep(15);
  w.marker('step-2/block-b');
  w.output('second block output ✓\r\n');
  const t1 = w.elapsed();
  assert.ok(t1 >= t0 && t1 >= 0.05, `elapsed advances (${t0} -> ${t1})`);
  await w.close();
  assert.equal(w.error, undefined);

  const { header, events } = readCast(file);
  assert.equal(header.version, 2);
  assert.equal(header.width, 120);
  assert.equal(header.height, 30);
  assert.equal(header.title, '배포 런북');
  assert.equal(header.timestamp, 1_700_000_000);
  assert.deepEqual(header.env, { SHELL: '/bin/bash', TERM: 'xterm-256color' });

  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]![0] >= events[i - 1]![0], `event ${i} time is monotonic`);
  }
  for (const [t] of events) {
    assert.equal(Math.round(t * 1e6) / 1e6, t, 'microsecond precision');
  }
  const markers = events.filter((e) => e[1] === 'm').map((e) => e[2]);
  assert.deepEqual(markers, ['step-1/block-a', 'step-2/block-b']);
  const resizes = events.filter((e) => e[1] === 'r').map((e) => e[2]);
  assert.deepEqual(resizes, ['100x40']);
  const text = events
    .filter((e) => e[1] === 'o')
    .map((e) => e[2])
    .join('');
  assert.equal(text, '안녕하세요, 세계! $ echo 한국어\r\nsecond block output ✓\r\n');
  assert.ok(!text.includes('\ufffd'), 'no replacement characters');
  // Events appear in the order they were given.
  assert.deepEqual(
    events.map((e) => e[1]),
    ['m', 'o', 'o', 'o', 'r', 'm', 'o'],
  );

  // And it plays in the real asciinema CLI (must be installed: a missing binary fails).
  assert.ok(fs.existsSync(ASCIINEMA), `${ASCIINEMA} is required (Debian package asciinema)`);
  const { out, exitCode } = await asciinemaCat(file);
  assert.equal(exitCode, 0, `asciinema cat failed:\n${out}`);
  assert.ok(out.includes('안녕하세요, 세계! $ echo 한국어'), `asciinema output: ${JSON.stringify(out)}`);
  assert.ok(out.includes('second block output ✓'));
});

test('20 MB of output is coalesced into few valid lines and plays in asciinema', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'big.cast');
  const w = AsciicastWriter.open(file, { width: 80, height: 24 });
  const chunk = 'x'.repeat(40) + ' 줄 "quoted" \\ tab\t\u001b[32mgreen\u001b[0m\r\n'; // ~75 chars
  const target = 20 * 1024 * 1024;
  let written = 0;
  let writes = 0;
  let expectedLength = 0;
  const started = Date.now();
  while (written < target) {
    const line = `${writes} ${chunk}`;
    w.output(line);
    written += Buffer.byteLength(line);
    expectedLength += line.length;
    writes++;
    // Let timers run now and then, as a real PTY stream would.
    if (writes % 5000 === 0) await sleep(1);
  }
  w.marker('end');
  w.output('THE-END\r\n');
  await w.close();
  const elapsedMs = Date.now() - started;
  assert.equal(w.error, undefined);

  const raw = fs.readFileSync(file, 'utf8');
  const lines = raw.split('\n');
  assert.equal(lines.pop(), '', 'file ends with a newline');
  for (const l of lines) JSON.parse(l); // every line is JSON
  const { events } = readCast(file);
  const out = events.filter((e) => e[1] === 'o');
  assert.ok(lines.length < writes / 50, `coalesced: ${lines.length} lines for ${writes} writes`);
  assert.equal(out.reduce((n, e) => n + e[2].length, 0), expectedLength + 'THE-END\r\n'.length);
  for (let i = 1; i < events.length; i++) assert.ok(events[i]![0] >= events[i - 1]![0]);
  assert.ok(elapsedMs < 20_000, `writing 20 MB took ${elapsedMs} ms`);

  const played = await asciinemaCat(file);
  assert.equal(played.exitCode, 0);
  assert.ok(played.out.includes(`${writes - 1} ${'x'.repeat(40)} 줄 "quoted"`));
  assert.ok(played.out.includes('THE-END'));
});

test('open fails with a thrown error when the file cannot be created', () => {
  const dir = tmpDir();
  const notADir = path.join(dir, 'plain-file');
  fs.writeFileSync(notADir, 'x');
  assert.throws(
    () => AsciicastWriter.open(path.join(notADir, 'x.cast'), { width: 80, height: 24 }),
    (err: NodeJS.ErrnoException) => err.code === 'ENOTDIR',
  );
  assert.throws(
    () => AsciicastWriter.open(path.join(dir, 'missing', 'x.cast'), { width: 80, height: 24 }),
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
  );
});

test('a write error after open is recorded and reported, never thrown', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'broken.cast');
  const seen: Error[] = [];
  const w = AsciicastWriter.open(file, { width: 80, height: 24 }, { onError: (e) => seen.push(e) });
  w.output('before\r\n');
  w.flush();
  fs.closeSync(w.fd); // pull the fd out from under the writer
  assert.doesNotThrow(() => {
    w.output('after\r\n');
    w.flush();
  });
  assert.ok(w.error, 'error recorded');
  assert.equal((w.error as NodeJS.ErrnoException).code, 'EBADF');
  assert.equal(seen.length, 1);
  assert.equal(seen[0], w.error);
  // Further calls stay silent and report nothing more.
  assert.doesNotThrow(() => {
    w.output('more');
    w.marker('m');
    w.resize(10, 10);
    w.flush();
  });
  assert.equal(seen.length, 1);
  await w.close();
  w.dispose();
  const { events } = readCast(file);
  assert.deepEqual(events.map((e) => e[2]), ['before\r\n']);
});

test('dispose flushes synchronously and is idempotent; readCast tolerates a cut-off last line', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'd.cast');
  const w = AsciicastWriter.open(file, { width: 80, height: 24 });
  w.output('hello');
  w.dispose();
  w.dispose();
  w.output('ignored');
  assert.deepEqual(readCast(file).events.map((e) => e[2]), ['hello']);
  fs.appendFileSync(file, '[1.5, "o", "trunc');
  assert.deepEqual(readCast(file).events.map((e) => e[2]), ['hello']);
});

noLeaks();
