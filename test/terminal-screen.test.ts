// What a person sees: the terminal screen (rendered by a headless xterm) shows the block's
// commands after the prompt, as if typed, and never the executor's internal command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import xtermHeadless from '@xterm/headless';
import { LocalTarget } from '../server/target/local.ts';
import { TerminalSession } from '../server/terminal/session.ts';
import { Executor } from '../server/exec/executor.ts';
import { cmd } from './helpers/blocks.ts';

const { Terminal } = xtermHeadless;

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
