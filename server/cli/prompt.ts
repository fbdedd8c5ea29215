// Asks the person at the terminal for a secret, without echo: the value never appears on the
// screen, in a command line or in a file.

/** Reads one line from a TTY stdin with echo off; undefined on Ctrl-C, Ctrl-D or no TTY. */
export function readSecret(question: string): Promise<string | undefined> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.resolve(undefined);
  // Echo goes off before the question shows: a person (or a script) typing as soon as it
  // appears would otherwise have the first characters echoed by the terminal.
  stdin.setRawMode(true);
  process.stderr.write(question);
  return new Promise((resolve) => {
    let value = '';
    const finish = (v: string | undefined) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      resolve(v);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(value);
        if (ch === '\x03' || ch === '\x04') return finish(undefined);
        if (ch === '\x7f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.resume();
    stdin.on('data', onData);
  });
}
