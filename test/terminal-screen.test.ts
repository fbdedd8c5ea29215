// What a person sees: the terminal screen (rendered by a headless xterm) shows the block's
// commands after the prompt, as if typed, and never the executor's internal command line; and
// the server's screen mirror restores exactly that screen to a client that (re)connects.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import xtermHeadless from '@xterm/headless';
import { LocalTarget } from '../server/target/local.ts';
import { TerminalSession } from '../server/terminal/session.ts';
import { Executor } from '../server/exec/executor.ts';
import serializeAddon from '@xterm/addon-serialize';
import { ScreenMirror, SCREEN_HIGH, SCREEN_LOW } from '../server/terminal/screen.ts';
import { cmd, until } from './helpers/blocks.ts';

const { Terminal } = xtermHeadless;
const ROOT = path.resolve(import.meta.dirname, '..');
const { SerializeAddon } = serializeAddon;

async function screenAfter(cols: number, blocks: string[]): Promise<string> {
  const session = await TerminalSession.start(new LocalTarget({ platform: 'debian', capabilities: [] }), { cols, rows: 30 });
  const term = new Terminal({ cols, rows: 30, allowProposedApi: true });
  let pending = 0;
  session.onData((b) => {
    pending++;
    term.write(b, () => pending--);
  });
  const ex = new Executor(session, { vars: { NAME: 'world' } });
  for (const b of blocks) await ex.runBlock(cmd('b', b));
  while (pending > 0) await new Promise((r) => setTimeout(r, 5));
  const buf = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)!.translateToString(true));
  ex.dispose();
  session.dispose();
  term.dispose();
  return lines.join('\n');
}

for (const cols of [40, 80, 160]) {
  test(`at ${cols} columns the screen shows the commands, not __sw_run`, async () => {
    const screen = await screenAfter(cols, ['echo "hello $NAME"', 'for i in 1 2; do\n  echo "line $i"\ndone']);
    assert.doesNotMatch(screen, /__sw_run|stepwise-/, screen);
    assert.match(screen, /# echo "hello \$NAME"\nhello world\n/);
    assert.match(screen, /# for i in 1 2; do\n> {3}echo "line \$i"\n> done\nline 1\nline 2/);
  });
}

// The server's screen mirror (its headless terminals live in a worker thread).
const snap = (m: ScreenMirror) => new Promise<string>((r) => m.snapshot(r));

/** What a headless xterm on this thread serializes to after `chunks`: the expected screen. */
async function localSerialize(chunks: Uint8Array[], cols: number, rows: number, resizeTo?: [number, number]): Promise<string> {
  const t = new Terminal({ cols, rows, scrollback: 1000, allowProposedApi: true });
  const ser = new SerializeAddon();
  t.loadAddon(ser as never);
  for (const c of chunks) t.write(c);
  if (resizeTo) t.resize(...resizeTo);
  await new Promise<void>((r) => t.write(new Uint8Array(0), r));
  const out = ser.serialize({ scrollback: 1000 });
  t.dispose();
  return out;
}

function colourfulChunks(lines: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < lines; i++) {
    const s = `\x1b[${31 + (i % 7)}mline ${i}\x1b[0m ${'é漢'.repeat(i % 5)}${i % 3 ? '\r\n' : '\x1b[1m bold\x1b[0m\r\n'}`;
    // Split mid-sequence and mid-character, as a pty's reads do.
    const b = Buffer.from(s);
    const cut = (i * 7) % b.length;
    out.push(b.subarray(0, cut), b.subarray(cut));
  }
  return out;
}

test('screen mirror: a snapshot is exactly what a local headless xterm shows after the same bytes', async () => {
  const chunks = colourfulChunks(3000); // past the 1000 lines of scrollback
  const m = new ScreenMirror(80, 24);
  try {
    for (const c of chunks) m.write(c);
    assert.equal(await snap(m), await localSerialize(chunks, 80, 24));
  } finally {
    m.dispose();
  }
});

test('screen mirror: a snapshot holds every byte written before it and none written after', async () => {
  const m = new ScreenMirror(40, 10);
  try {
    m.write(Buffer.from('before\r\n'));
    const first = snap(m);
    m.write(Buffer.from('after\r\n'));
    const [a, b] = [await first, await snap(m)];
    assert.match(a, /before/);
    assert.doesNotMatch(a, /after/);
    assert.match(b, /before\r\nafter/);
  } finally {
    m.dispose();
  }
});

test('screen mirror: resize applies in order with the output', async () => {
  const chunks = [Buffer.from('x'.repeat(100) + '\r\nshort\r\n')];
  const m = new ScreenMirror(50, 10);
  try {
    for (const c of chunks) m.write(c);
    m.resize(120, 12);
    assert.equal(await snap(m), await localSerialize(chunks, 50, 10, [120, 12]));
  } finally {
    m.dispose();
  }
});

test('screen mirror: over SCREEN_HIGH unparsed it reports a backlog, and clears it once parsed', async () => {
  const events: boolean[] = [];
  const m = new ScreenMirror(100, 30, (over) => events.push(over));
  try {
    const line = Buffer.from('A'.repeat(75) + '\r\n');
    let written = 0;
    while (written <= SCREEN_HIGH) {
      m.write(line);
      written += line.length;
    }
    assert.deepEqual(events, [true], 'the backlog is reported as soon as the bound is passed');
    assert.ok(m.pending > SCREEN_LOW);
    await until(() => events.length === 2, 20_000, 'backlog cleared');
    assert.deepEqual(events, [true, false]);
    assert.ok(m.pending < SCREEN_LOW);
  } finally {
    m.dispose();
  }
});

test('screen mirror: snapshots waiting at dispose, and after it, answer an empty screen', async () => {
  const m = new ScreenMirror(40, 10);
  m.write(Buffer.from('x'.repeat(200_000)));
  const waiting = snap(m);
  m.dispose();
  assert.equal(await waiting, '');
  assert.equal(await snap(m), '');
  m.write(Buffer.from('ignored'));
  m.dispose();
});

test('screen mirror: many screens share the worker and stay apart', async () => {
  const ms = Array.from({ length: 5 }, () => new ScreenMirror(30, 5));
  try {
    ms.forEach((m, i) => m.write(Buffer.from(`screen-${i}\r\n`)));
    const shots = await Promise.all(ms.map(snap));
    shots.forEach((s, i) => {
      assert.match(s, new RegExp(`screen-${i}`));
      assert.equal((s.match(/screen-\d/g) ?? []).length, 1);
    });
  } finally {
    ms.forEach((m) => m.dispose());
  }
});

test('screen mirror: once every mirror is disposed (even one never written to), nothing of the worker keeps the process alive (a CLI exits when its run ends)', () => {
  // A child process: the resources keeping its event loop alive, read once its only mirror
  // has been used and disposed. The worker's port must not be one of them (it once was, and
  // every CLI run then waited for the worker's idle timeout before exiting).
  const script = [
    "import { ScreenMirror } from './server/terminal/screen.ts';",
    "const m = new ScreenMirror(80, 24, () => {});",
    // Never written to, as in a headless CLI run: no owed answer ever ref'd and unref'd the worker.
    "m.dispose();",
    "setImmediate(() => console.log(JSON.stringify(process.getActiveResourcesInfo())));",
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const active = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
  assert.ok(!active.includes('MessagePort') && !active.includes('Worker'), `still active: ${active.join(', ')}`);
});

noLeaks();
