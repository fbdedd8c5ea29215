// `stepwise run` on a terminal: while an interactive block without answers runs, the person
// at this terminal gets the run's shell — raw keystrokes in (Ctrl-C included, for the
// program), its output out, and this terminal's size forwarded — until the block ends.
import type { Disposable } from '../../common/disposable.ts';
import type { Run } from '../run/run.ts';
import type { Runbook } from '../runbook/model.ts';

export interface HandoffIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  /** The run's output already goes to stdout (--verbose): do not write it twice. */
  echoing: boolean;
}

export function terminalHandoff(run: Run, rb: Runbook, io: HandoffIo): Disposable {
  let active: Disposable | undefined;
  // A runbook that spans hosts: the block's own role's shell (`role` undefined: the run's one shell).
  const begin = (role?: string): Disposable => {
    const { stdin, stdout } = io;
    const session = run.terminal(role)?.session ?? run.session;
    const onInput = (b: Buffer) => session.write(b.toString('utf8'));
    const onResize = () => stdout.columns && stdout.rows && run.resize(stdout.columns, stdout.rows, role);
    const output = io.echoing ? undefined : session.onData((b) => stdout.write(b));
    stdin.setRawMode(true);
    stdin.on('data', onInput);
    stdin.resume();
    stdout.on('resize', onResize);
    onResize();
    return {
      dispose() {
        stdout.off('resize', onResize);
        stdin.off('data', onInput);
        stdin.setRawMode(false);
        stdin.pause();
        output?.dispose();
      },
    };
  };
  const sub = run.subscribe((m) => {
    if (m.type === 'block-started') {
      const b = rb.blocks[m.blockId];
      if (b?.interactive && !b.answers && !active) active = begin(b.on);
    } else if ((m.type === 'block-finished' || m.type === 'session-ended') && active) {
      active.dispose();
      active = undefined;
    }
  });
  return {
    dispose() {
      sub.dispose();
      active?.dispose();
      active = undefined;
    },
  };
}
