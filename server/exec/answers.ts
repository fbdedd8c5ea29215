// Answers a program's prompts in a headless run: an interactive block followed by an
// `answers` block (docs/format.md) gets each `send` typed once the program's output matches
// the next `expect`, in order, each within a time limit. Pure apart from its timer: the
// executor feeds it output and gives it a way to type.
import type { Disposable } from '../../common/disposable.ts';
import type { Answer } from '../runbook/model.ts';

/** CSI, OSC and two-byte escapes: a prompt is matched as the text a person reads. */
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
/** Output kept while waiting for a prompt: a prompt is at the end of the output, not far back. */
const KEEP_CHARS = 64 * 1024;

export interface AnswerHooks {
  /** Types into the terminal. */
  type(text: string): void;
  /** An answer was typed (`text` unmasked: the caller masks secrets before recording it). */
  sent(n: number, answer: Answer, text: string): void;
  /** A prompt did not come in time (or the program did not end after the last answer). */
  failed(reason: string): void;
}

/** `${NAME}` of the run's variables in a `send` (a secret's value included: it is typed, never shown). */
export function substitute(send: string, vars: Readonly<Record<string, string>>): string {
  return send.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => (Object.hasOwn(vars, name) ? vars[name]! : whole));
}

export class Answerer implements Disposable {
  private next = 0;
  private seen = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly decoder = new TextDecoder('utf-8');
  /** Why the answers failed, once they have. */
  failure: string | undefined;

  constructor(
    private readonly answers: readonly Answer[],
    private readonly vars: Readonly<Record<string, string>>,
    private readonly timeoutSec: number,
    private readonly hooks: AnswerHooks,
  ) {
    this.arm();
  }

  /** The program's output, as it comes. */
  push(bytes: Uint8Array): void {
    if (this.failure !== undefined || this.next >= this.answers.length) return;
    this.seen = (this.seen + this.decoder.decode(bytes, { stream: true }).replace(ESCAPES, '')).slice(-KEEP_CHARS);
    while (this.next < this.answers.length) {
      const a = this.answers[this.next]!;
      const m = new RegExp(a.expect, 'm').exec(this.seen);
      if (!m) return;
      // What came before and with the prompt is answered; only later output can match the next one.
      this.seen = this.seen.slice(m.index + m[0].length);
      const text = substitute(a.send, this.vars);
      this.next++;
      this.hooks.type(`${text}\r`);
      this.hooks.sent(this.next, a, text);
      this.arm();
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const n = this.answers.length;
      this.failure = this.next < n
        ? `no prompt matching /${this.answers[this.next]!.expect}/ within ${this.timeoutSec} s (answer ${this.next + 1} of ${n})`
        : `the program did not end within ${this.timeoutSec} s of its last answer`;
      this.hooks.failed(this.failure);
    }, this.timeoutSec * 1000);
  }
}
