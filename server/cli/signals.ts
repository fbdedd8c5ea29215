// One signal and exit path for the CLI commands that hold live runs (run, run on a fleet,
// rollback): Ctrl-C, SIGTERM or SIGHUP asks what is live to stop cleanly (Ctrl-C to the running
// block, the run ends interrupted and sealed); a second signal ends its records at once
// (synchronous) and exits; the command exits 128 + the first signal's number. close() removes
// the labs this process made, then the handlers. A lab left up by the second signal is removed
// by the next stepwise command, which sees its owner gone.
import { constants as osConstants } from 'node:os';
import { disposeOwnLabs } from '../target/lab.ts';
import type { Run } from '../run/run.ts';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** What a command stops on a signal. */
export interface StopActions<T> {
  /** The line printed on the first signal. */
  notice: (sig: NodeJS.Signals) => string;
  /** First signal: stop cleanly (may take a while; the command then returns exitCode). */
  stop: (live: T, sig: NodeJS.Signals) => void;
  /** Second signal: end the records now, synchronously; the process exits right after. */
  endNow: (live: T, first: NodeJS.Signals, sig: NodeJS.Signals) => void;
}

/** The first signal stops what is live cleanly; a second one ends it at once and exits. */
export class Interruption<T> {
  signal: NodeJS.Signals | undefined;
  /** What is live now (a run, a fleet); a signal before it exists only sets `signal`. */
  live: T | undefined;
  private readonly handler = (sig: NodeJS.Signals) => this.on(sig);

  constructor(
    private readonly out: (s: string) => void,
    private readonly actions: StopActions<T>,
  ) {
    for (const s of SIGNALS) process.on(s, this.handler);
  }

  /** 128 + the first signal's number (130 for Ctrl-C), the shell's convention. */
  get exitCode(): number {
    return 128 + (this.signal ? osConstants.signals[this.signal] : 0);
  }

  private on(sig: NodeJS.Signals): void {
    if (this.signal) {
      if (this.live !== undefined) this.actions.endNow(this.live, this.signal, sig);
      process.exit(this.exitCode);
    }
    this.signal = sig;
    this.out(this.actions.notice(sig));
    if (this.live !== undefined) this.actions.stop(this.live, sig);
  }

  /** Removes this process's own labs, then the handlers (a signal meanwhile still counts). */
  async close(): Promise<void> {
    try {
      await disposeOwnLabs();
    } finally {
      for (const s of SIGNALS) process.off(s, this.handler);
    }
  }
}

/** A command holding one run at a time (stepwise run, stepwise rollback). */
export function runInterruption(command: string, out: (s: string) => void): Interruption<Run> {
  return new Interruption<Run>(out, {
    notice: (sig) => `stepwise ${command}: ${sig}: interrupting (again to exit at once)`,
    stop: (run, sig) => void run.interrupt(`interrupted by ${sig}`),
    endNow: (run, first, sig) => run.end({ stopped: 'interrupted', reason: `interrupted by ${first}, then ${sig}` }),
  });
}
