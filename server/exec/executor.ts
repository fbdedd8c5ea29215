// Runs blocks in a run's shell session: one at a time, framed with nonce markers so it knows
// where each block's output starts and ends and how it exited; then has the verifier judge.
import type { Block, Runbook, Step } from '../runbook/model.ts';
import type { TerminalSession } from '../terminal/session.ts';
import type { Disposable } from '../../common/disposable.ts';
import type { Marker } from '../terminal/markers.ts';
import type { BlockEnd, BlockResult, CheckResult, StepVerdict } from '../../common/result.ts';
import { OutputCapture } from './capture.ts';
import { judgeBlock, judgeStep, skipReason } from './verifier.ts';
import { blockScript, varsPayload, shellQuote } from './script.ts';
import { Answerer } from './answers.ts';
import { maskText } from '../terminal/mask.ts';
import { parseEnv0, restoreScript, stateDiff, type ShellState } from './state.ts';

// After Ctrl-C on a timeout, how long the program gets to stop before its process group is
// killed, and how long after that before the executor gives up waiting for the prompt.
const INTERRUPT_GRACE_MS = 3_000;
const KILL_GRACE_MS = 3_000;
// How long a block waits for the shell to be back at a clean prompt before it is typed: a
// person's command in the terminal gets this long to finish, and a prompt cleared with
// Ctrl-C comes back in milliseconds. Past it the block fails with the reason, timeout= or not.
export const PROMPT_WAIT_MS = 15_000;
// Bash redraws its prompt within milliseconds of Ctrl-C; a shell that ignores SIGINT never does.
const CLEAR_WAIT_MS = 2_000;
// The shell-state files the integration writes after each command block (integration.ts).
const STATE_FILES = ['env0', 'env', 'cwd'];

export interface ExecutorHooks {
  /** Called right before a block is sent to the shell (the recorder drops a marker here). */
  onBlockStart?(block: Block): number | undefined;
  /** `state`: the shell's state after a block that ran (not a check, not one skipped), read before this is called. */
  onBlockEnd?(block: Block, result: BlockResult, state?: ShellState): void;
  /**
   * Awaited before a block that will run (not one skipped); a reason refuses it: the block
   * fails with that reason, unrun (a four-eyes approval rejected or expired).
   */
  beforeBlock?(block: Block): Promise<string | undefined>;
  /** A headless run typed an answer at a prompt (`sent` has secrets masked). */
  onAnswer?(block: Block, a: { n: number; expect: string; sent: string }): void;
}

export interface ExecutorOptions {
  runbook?: Runbook;
  vars?: Record<string, string>;
  secrets?: readonly string[];
  /** Names of the secret variables: their values are never written to a file. */
  secretNames?: readonly string[];
  /** False in a headless run without a terminal: interactive blocks are skipped. */
  interactive?: boolean;
  /** Type an answers block's answers even with a person at the terminal (a CLI run lending its own terminal). */
  answerPrompts?: boolean;
  hooks?: ExecutorHooks;
  /** A resumed run's saved shell state, restored before its first block. */
  restore?: ShellState;
  /** Overrides PROMPT_WAIT_MS (tests). */
  promptWaitMs?: number;
  /**
   * A runbook that spans hosts: the executor of the block's role when it is not this one (the
   * block is run there, on that role's shell); this executor still orders all blocks, one at a time.
   */
  route?: (block: Block) => Executor | undefined;
}

/** Why a block was not typed: the shell did not come back to a clean prompt in time. */
class NotReady {
  constructor(readonly reason: string) {}
}

interface Framed {
  exitCode: number | null;
  end: BlockEnd;
  capture: OutputCapture;
  durationMs: number;
}

export class Executor implements Disposable {
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly vars: Record<string, string>;
  private readonly secrets: readonly string[];
  private readonly secretNames: ReadonlySet<string>;
  private varsExported = false;
  private disposed = false;
  private readonly salt: string;

  constructor(readonly session: TerminalSession, private readonly opts: ExecutorOptions = {}) {
    this.vars = opts.vars ?? {};
    this.secrets = opts.secrets ?? [];
    this.secretNames = new Set(opts.secretNames ?? []);
    this.salt = session.nonce.slice(0, 8);
  }

  /** Runs one block (commands, checks and file blocks alike) and judges it. */
  runBlock(block: Block): Promise<BlockResult> {
    return this.serial(() => this.runOne(block));
  }

  /**
   * Runs a step: its commands in order (stopping at the first failure), then its checks.
   * With converge, the checks run first, and a step they already pass is "already
   * satisfied": its commands are not run (idempotent replay of a documented setup).
   */
  runStep(step: Step, opts: { converge?: boolean } = {}): Promise<StepVerdict> {
    const rb = this.requireRunbook();
    return this.serial(async () => {
      if (opts.converge && step.checks.length && step.commands.length) {
        const pre: CheckResult[] = [];
        for (const id of step.checks) pre.push(withHint(await this.runOne(rb.blocks[id]), rb.blocks[id]));
        const ran = pre.filter((c) => c.status !== 'skipped');
        if (ran.length && ran.every((c) => c.status === 'passed' || c.status === 'warning')) {
          const verdict = judgeStep(step.id, step.commands.map((id) => this.finish(rb.blocks[id], notRun(rb.blocks[id], ALREADY_SATISFIED))), pre);
          return { ...verdict, status: verdict.status === 'skipped' ? 'passed' : verdict.status, reason: verdict.reason ?? ALREADY_SATISFIED };
        }
      }
      const blocks: BlockResult[] = [];
      let failed = false;
      for (const id of step.commands) {
        const block = rb.blocks[id];
        if (failed) {
          blocks.push(this.finish(block, notRun(block, 'an earlier block of this step failed')));
          continue;
        }
        const r = await this.runOne(block);
        blocks.push(r);
        failed = r.status === 'failed';
      }
      const checks: CheckResult[] = [];
      for (const id of step.checks) {
        const block = rb.blocks[id];
        if (failed) checks.push(this.finish(block, notRun(block, 'not run: the step’s commands failed')));
        else checks.push(withHint(await this.runOne(block), block));
      }
      return judgeStep(step.id, blocks, checks);
    });
  }

  /** The shell's exported changes and directory after the last command block, if any ran. */
  async shellState(): Promise<ShellState | undefined> {
    // One read for the three (one round trip on a remote host).
    const files = await this.session.readFiles(STATE_FILES);
    const before = files.get('env0');
    const after = files.get('env');
    const cwd = files.get('cwd');
    if (!before || !after || !cwd) return undefined;
    return stateDiff(parseEnv0(before), parseEnv0(after), cwd.toString('utf8'));
  }

  dispose(): void {
    this.disposed = true;
  }

  private requireRunbook(): Runbook {
    if (!this.opts.runbook) throw new Error('executor has no runbook');
    return this.opts.runbook;
  }

  /** Blocks run one at a time, in order; once disposed, queued ones are cancelled unrecorded. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const guarded = () => (this.disposed ? Promise.reject(new Cancelled()) : fn());
    const next = this.queue.then(guarded, guarded);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** One block, attempted up to 1 + retries times; every attempt is recorded. */
  private async runOne(block: Block): Promise<BlockResult> {
    const other = this.opts.route?.(block);
    if (other && other !== this) return other.runOne(block);
    const attempts = 1 + (block.retries ?? 0);
    for (let attempt = 1; ; attempt++) {
      const r = await this.attempt(block, attempts > 1 ? attempt : undefined);
      if (r.status !== 'failed' || attempt >= attempts || r.end === 'session-ended' || this.disposed) return r;
      await new Promise((res) => setTimeout(res, (block.retryDelaySec ?? 1) * 1000));
    }
  }

  private async attempt(block: Block, attempt: number | undefined): Promise<BlockResult> {
    if (block.kind === 'display') throw new Error(`block ${block.id} is display-only`);
    const skip = skipReason(block, this.session.target, this.opts.runbook?.os) ??
      (block.interactive && this.opts.interactive === false && !block.answers ? 'interactive: needs a person at the terminal' : undefined);
    if (skip) return this.finish(block, notRun(block, skip));
    // Asked once per block, not again for each retry of it.
    if ((attempt ?? 1) === 1 && this.opts.hooks?.beforeBlock) {
      const refused = await this.opts.hooks.beforeBlock(block);
      if (refused !== undefined) return this.finish(block, { ...notRun(block, refused), status: 'failed' });
    }
    if (this.session.state === 'ended' || this.disposed) {
      return this.finish(block, {
        ...notRun(block, 'the shell session has ended'),
        status: 'failed',
        end: 'session-ended',
      });
    }
    const notReady = await this.prepare();
    if (notReady) return this.finish(block, { ...notRun(block, notReady.reason), status: 'failed', end: 'interrupted' });
    const castTime = this.opts.hooks?.onBlockStart?.(block);
    // Headless, an interactive block with answers is answered by them; with a person at the terminal, the person answers.
    const answerer = block.interactive && block.answers && (this.opts.interactive === false || this.opts.answerPrompts) ? this.answerer(block, block.answers) : undefined;
    const framed = await this.frame(blockScript(block, this.vars, this.salt, this.secretNames), block.interactive ? undefined : block.timeoutSec, shownText(block), block.kind === 'check' ? 'sub' : 'src', answerer && ((b) => answerer.push(b)));
    answerer?.dispose();
    const { text, digest } = framed.capture.finish();
    const output = maskText(text, this.secrets);
    const judgedRaw = judgeBlock(block, {
      exitCode: framed.exitCode,
      end: framed.end,
      output,
      sessionExitCode: this.session.exitCode,
    });
    const judged = answerer?.failure !== undefined ? { status: 'failed' as const, reason: answerer.failure } : judgedRaw;
    // Read before the result is handed on, as the next block may change it.
    const state = block.kind !== 'check' && this.opts.hooks?.onBlockEnd ? await this.shellState() : undefined;
    const result: BlockResult = {
      id: block.id,
      status: judged.status,
      exitCode: framed.exitCode,
      output,
      durationMs: framed.durationMs,
      end: framed.end,
      outputDigest: digest,
      ...(judged.reason !== undefined ? { reason: judged.reason } : {}),
      ...(castTime !== undefined ? { castTime } : {}),
      ...(attempt !== undefined ? { attempt } : {}),
    };
    return this.finish(block, result, state);
  }

  /**
   * Before a block: the shell back at a clean prompt, then (once) the run's variables and a
   * resumed run's state. Returns why not, when the prompt did not come back in time.
   */
  private async prepare(): Promise<NotReady | undefined> {
    const notReady = await this.cleanPrompt();
    if (notReady || this.varsExported) return notReady;
    this.varsExported = true;
    if (Object.keys(this.vars).length) {
      const failed = await this.sendVars();
      if (failed) return failed;
    }
    if (this.opts.restore) {
      await this.frame(restoreScript(this.opts.restore, new Set(Object.keys(this.vars))), undefined, `# stepwise: restore the resumed run's directory and exports`);
    }
    return undefined;
  }

  /**
   * Waits until no command runs in the terminal, then, if a person typed at the prompt since it
   * was drawn (half a line, or readline asking "Display all N possibilities?"), clears it with
   * Ctrl-C and waits for the prompt to be drawn again: a block is never typed into a program,
   * nor into a readline question.
   */
  private async cleanPrompt(): Promise<NotReady | undefined> {
    const s = this.session;
    const waitMs = this.opts.promptWaitMs ?? PROMPT_WAIT_MS;
    if (s.state !== 'idle') {
      try {
        await s.waitFor((st) => st === 'idle' || st === 'ended', waitMs);
      } catch {
        return new NotReady(`the terminal is still running a command after ${waitMs / 1000} s; finish it (or press Ctrl-C) and run the block again`);
      }
    }
    if (s.state === 'ended' || !s.dirty) return undefined;
    const drawn = this.nextMarker('P', CLEAR_WAIT_MS);
    s.write('\x03');
    if (!(await drawn)) {
      // A shell that ignores SIGINT (a block ran `trap '' INT`) draws no new prompt. Ctrl-G
      // leaves readline's question or search (sent apart: Ctrl-C flushes the terminal's input),
      // and the Ctrl-E Ctrl-U before the block clears the line.
      s.write('\x07');
      s.dirty = false;
    }
    return undefined;
  }

  /** Resolves true when the session emits a marker of this kind, false after timeoutMs or on exit. */
  private nextMarker(kind: Marker['kind'], timeoutMs: number): Promise<boolean> {
    const s = this.session;
    return new Promise((resolve) => {
      const subs: Disposable[] = [];
      const done = (ok: boolean) => {
        clearTimeout(timer);
        subs.forEach((d) => d.dispose());
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      subs.push(
        s.onMarker((m) => m.kind === kind && done(true)),
        s.onExit(() => done(false)),
      );
    });
  }

  /**
   * Exports the run's variables through the terminal (echo off), never through a file: a
   * secret never rests on the target's disk, even if Stepwise is killed at any moment.
   */
  private async sendVars(): Promise<NotReady | undefined> {
    const s = this.session;
    const waitMs = this.opts.promptWaitMs ?? PROMPT_WAIT_MS;
    const reading = this.nextMarker('R', waitMs);
    s.write(`\x05\x15 __sw_vars ${Object.keys(this.vars).join(' ')}\r`);
    if (!(await reading)) return new NotReady('the shell did not start reading the run’s variables');
    const back = this.nextMarker('P', waitMs);
    s.write(varsPayload(this.vars, this.secretNames));
    return (await back) ? undefined : new NotReady('the shell did not return to its prompt after reading the run’s variables');
  }

  private finish(block: Block, result: BlockResult, state?: ShellState): BlockResult {
    this.opts.hooks?.onBlockEnd?.(block, result, state);
    return result;
  }

  /** Types a block's answers at its prompts; a prompt that does not come is Ctrl-C, then SIGKILL. */
  private answerer(block: Block, answers: NonNullable<Block['answers']>): Answerer {
    const s = this.session;
    return new Answerer(answers, this.vars, block.answersTimeoutSec ?? 30, {
      type: (text) => s.write(text),
      sent: (n, a, text) => this.opts.hooks?.onAnswer?.(block, { n, expect: a.expect, sent: maskText(text, this.secrets) }),
      failed: () => {
        s.write('\x03');
        setTimeout(() => s.state === 'busy' && void s.signalForeground('SIGKILL'), INTERRUPT_GRACE_MS).unref();
      },
    });
  }

  /** Sends one script framed by markers and waits until the shell is back at its prompt. */
  private async frame(script: string, timeoutSec: number | undefined, shown: string = script, mode: 'src' | 'sub' = 'src', watch?: (bytes: Buffer) => void): Promise<Framed> {
    const s = this.session;
    const seq = ++this.seq;
    // One write for both: on a remote host each write is a round trip.
    const [file, shownFile] = await s.stageFiles([[`b${seq}.sh`, script + '\n'], ...(shown === script ? [] : [[`b${seq}.show`, shown + '\n'] as const])]);
    const show = shownFile === undefined ? '' : ` ${shellQuote(shownFile)}`;
    const capture = new OutputCapture();
    const started = performance.now();
    // The shell ended while the files were staged: no exit event is coming any more.
    if (s.state === 'ended') return { exitCode: null, end: 'session-ended', capture, durationMs: 0 };
    return new Promise<Framed>((resolve) => {
      let capturing = false;
      let exitCode: number | null = null;
      let sawEnd = false;
      let timedOut = false;
      let promptExit: number | undefined;
      const timers: NodeJS.Timeout[] = [];
      const subs: Disposable[] = [];
      const done = (end: BlockEnd, code: number | null) => {
        timers.forEach(clearTimeout);
        subs.forEach((d) => d.dispose());
        resolve({ exitCode: code, end, capture, durationMs: Math.round(performance.now() - started) });
      };
      subs.push(
        s.onData((bytes) => {
          if (!capturing) return;
          capture.push(bytes);
          watch?.(bytes);
        }),
        s.onMarker((m: Marker) => {
          if (m.kind === 'C' && m.seq === seq) capturing = true;
          else if (m.kind === 'D' && m.seq === seq) {
            capturing = false;
            sawEnd = true;
            exitCode = m.exitCode;
          } else if (m.kind === 'A' && (sawEnd || capturing || timedOut)) {
            promptExit = m.exitCode;
          } else if (m.kind === 'P' && promptExit !== undefined) {
            // Prompt is back and drawn. Without D, the block was interrupted (Ctrl-C aborts __sw_run).
            if (timedOut) done('timeout', sawEnd ? exitCode : promptExit);
            else if (sawEnd) done('exit', exitCode);
            else done('interrupted', promptExit);
          }
        }),
        s.onExit(() => done(sawEnd ? 'exit' : 'session-ended', sawEnd ? exitCode : null)),
      );
      if (timeoutSec !== undefined) {
        timers.push(
          setTimeout(() => {
            timedOut = true;
            s.write('\x03');
            timers.push(
              setTimeout(() => {
                void s.signalForeground('SIGKILL');
                timers.push(setTimeout(() => done('timeout', null), KILL_GRACE_MS));
              }, INTERRUPT_GRACE_MS),
            );
          }, timeoutSec * 1000),
        );
      }
      // Ctrl-E Ctrl-U clears anything half-typed at the prompt; the leading space keeps the
      // line out of history.
      s.write(`\x05\x15 __sw_run ${seq} ${mode} ${shellQuote(file)}${show}\r`);
    });
  }
}

/** What the terminal shows as typed: the block itself; a file block as the write it performs. */
function shownText(block: Block): string {
  return block.kind === 'file' ? `cat > ${block.file} <<'EOF'\n${block.content}\nEOF` : block.content;
}

export const ALREADY_SATISFIED = 'already satisfied: its checks passed before its commands ran';

/** Work queued on an executor that was disposed before it ran: nothing is recorded. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled: the run ended before this block ran');
  }
}

function notRun(block: Block, reason: string): BlockResult {
  return { id: block.id, status: 'skipped', exitCode: null, output: '', durationMs: 0, end: 'skipped', reason };
}

function withHint(r: BlockResult, block: Block): CheckResult {
  return block.hint ? { ...r, hint: block.hint } : r;
}
