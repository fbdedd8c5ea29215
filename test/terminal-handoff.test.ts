// `stepwise run` on a terminal (issue 12 §3): an interactive block without answers is not
// skipped; the person at the CLI's terminal gets the run's shell — their keystrokes reach the
// program, its output reaches them, their terminal's size is forwarded — until the block ends.
// The CLI runs in a real pty here (node-pty), as a person would start it.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pty from 'node-pty';
import { BIN, ROOT } from './helpers/cli.ts';
import { RunStore } from '../server/record/store.ts';

const RUNBOOK = `# Handoff fixture

## Ask a person

\`\`\`sh {id=ask interactive=true}
read -r -p "Your name? " NAME
echo "hello $NAME"
until [ "$(stty size)" = "25 90" ]; do sleep 0.05; done
echo "size $(stty size)"
\`\`\`

\`\`\`sh {id=ask-check verify}
true
\`\`\`
`;

let tmp: string;
let data: string;
let rbDir: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-handoff-'));
  data = path.join(tmp, 'data');
  rbDir = path.join(tmp, 'runbooks');
  fs.mkdirSync(rbDir);
  fs.writeFileSync(path.join(rbDir, 'handoff.md'), RUNBOOK);
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function waitFor(get: () => string, re: RegExp, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(get())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${re} in:\n${get()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the interactive block gets the terminal: typed answers reach it, a resize is forwarded', async () => {
  const p = pty.spawn(process.execPath, [BIN, 'run', 'handoff', '--runbooks', rbDir, '--data', data], {
    cwd: ROOT,
    cols: 120,
    rows: 40,
    env: { ...process.env, STEPWISE_LOG: 'warn' } as Record<string, string>,
  });
  let out = '';
  p.onData((d) => (out += d));
  const exited = new Promise<number>((resolve) => p.onExit(({ exitCode }) => resolve(exitCode)));
  try {
    await waitFor(() => out, /Your name\? /);
    p.write('dora\r');
    await waitFor(() => out, /hello dora/);
    // The block waits until its terminal is 25x90: only a forwarded resize ends it.
    p.resize(90, 25);
    await waitFor(() => out, /size 25 90/);
    assert.equal(await exited, 0, out);
  } finally {
    try {
      p.kill();
    } catch {
      /* already gone */
    }
  }
  assert.match(out, /hello dora/);
  assert.match(out, /ask-a-person: passed|passed/);
  const store = RunStore.open(data);
  try {
    const run = store.listRuns({})[0]!;
    const ask = store.blockResults(run.id).find((b) => b.id === 'ask')!;
    assert.equal(ask.status, 'passed');
    assert.match(ask.output, /hello dora/);
    assert.match(ask.output, /size 25 90/);
  } finally {
    store.close();
  }
});

noLeaks();
