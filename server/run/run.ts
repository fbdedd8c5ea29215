// One run: a runbook (or a bare terminal) on a target, with its shell session, executor,
// recording and records. Everything the browser, the API and the CLI do to a run goes here.
import fs from 'node:fs';
import path from 'node:path';
import type { Block, Runbook, Step } from '../runbook/model.ts';
import type { Target } from '../target/target.ts';
import type { BlockResult, CheckResult, StepVerdict } from '../exec/result.ts';
import type { ServerMessage } from '../../common/protocol.ts';
import type { Logger } from '../log.ts';
import type { RunStore, RunRecord, RunStatus } from '../record/store.ts';
import { AsciicastWriter } from '../record/asciicast.ts';
import type { AuditLog } from '../record/audit.ts';
import { sha256 } from '../record/chain.ts';
import { maskText } from '../terminal/mask.ts';
import type { ShellState } from '../exec/state.ts';
import { newRunId } from '../record/ids.ts';
import { TerminalSession } from '../terminal/session.ts';
import type { Disposable } from '../../common/disposable.ts';
import { ScreenMirror } from '../terminal/screen.ts';
import { Executor } from '../exec/executor.ts';
import { judgeStep } from '../exec/verifier.ts';
import { failure, type Failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';
import type { ResolvedVars } from './vars.ts';

export interface RunOptions {
  /** Training mode: Next stays locked until the step passes. */
  training?: boolean;
  /** Headless without a terminal: interactive blocks are skipped. */
  interactive?: boolean;
  /** Run each step's checks first and skip the commands of steps already satisfied. */
  converge?: boolean;
  /** strict (default): a run stops when its recording cannot be written; best-effort goes on. */
  record?: 'strict' | 'best-effort';
}

export interface StartRun {
  runbook?: Runbook;
  vars: ResolvedVars;
  target: Target;
  user: string;
  options?: RunOptions;
  store: RunStore;
  audit: AuditLog;
  dataDir: string;
  log: Logger;
  cols?: number;
  rows?: number;
  /** Resuming: the run this one continues, and the shell state it had reached. */
  parentRunId?: string;
  restore?: ShellState;
}

/** What a block or step execution returns over the API. */
export interface ExecutionReport {
  status: string;
  reason?: string;
  blocks: BlockResult[];
  checks: CheckResult[];
}

export class Run implements Disposable {
  private readonly listeners = new Set<(m: ServerMessage) => void>();
  private readonly subs: Disposable[] = [];
  private readonly decoder = new TextDecoder('utf-8');
  private executing = 0;
  /** The server's copy of the screen, for clients that (re)connect. */
  readonly screen: ScreenMirror;
  /** Websocket clients attached now, and when anyone last did anything with this run. */
  clients = 0;
  lastActivity = Date.now();
  /** Why the run was stopped by Stepwise itself, if it was. */
  stopReason?: string;
  /** Set when this run resumes another: where it picks up. */
  resumedFrom?: { runId: string; stepId: string; notes: string[] };
  private ended = false;

  private constructor(
    readonly id: string,
    readonly runbook: Runbook | undefined,
    readonly session: TerminalSession,
    readonly executor: Executor,
    readonly cast: AsciicastWriter,
    private readonly store: RunStore,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    readonly options: RunOptions,
    readonly user: string,
    private readonly secrets: readonly string[],
  ) {
    this.screen = new ScreenMirror(session.cols, session.rows, (over) => (over ? session.pause('screen') : session.resume('screen')));
  }

  /** Resizes the terminal, its recording and the server's screen together. */
  resize(cols: number, rows: number): void {
    if (this.ended) return;
    this.session.resize(cols, rows);
    this.cast.resize(cols, rows);
    this.screen.resize(cols, rows);
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  /** A block is running (from the API, the CLI or typed in the terminal). */
  get busy(): boolean {
    return this.executing > 0 || this.session.state === 'busy';
  }

  static async start(o: StartRun): Promise<Outcome<Run>> {
    const id = newRunId();
    const castPath = path.join(o.dataDir, 'casts', `${id}.cast`);
    const session = await TerminalSession.start(o.target, { cols: o.cols, rows: o.rows, secrets: o.vars.secrets });
    let cast: AsciicastWriter;
    let run: Run | undefined;
    try {
      fs.mkdirSync(path.dirname(castPath), { recursive: true, mode: 0o700 });
      cast = AsciicastWriter.open(castPath, {
        width: session.cols,
        height: session.rows,
        title: o.runbook ? `${o.runbook.title} (${o.runbook.id})` : 'terminal',
        env: { SHELL: '/bin/bash', TERM: 'xterm-256color' },
      }, { onError: (err) => run?.onRecordingError(err) });
    } catch (e) {
      session.dispose();
      return { ok: false, error: failure('RECORDING_FAILED', `cannot create recording ${castPath}: ${(e as Error).message}`) };
    }
    const options = { ...o.options };
    o.store.createRun({
      id,
      runbookId: o.runbook?.id ?? null,
      runbookFile: o.runbook?.file ?? null,
      contentHash: o.runbook?.contentHash ?? null,
      runbookTitle: o.runbook?.title ?? null,
      target: o.target.id,
      user: o.user,
      vars: o.vars.masked,
      options: { ...options, targetInfo: o.target.info() },
      castPath,
      parentRunId: o.parentRunId ?? null,
    });
    o.audit.append(id, 'run-started', {
      parentRunId: o.parentRunId ?? null,
      runbookId: o.runbook?.id ?? null,
      runbookFile: o.runbook?.file ?? null,
      contentHash: o.runbook?.contentHash ?? null,
      user: o.user,
      target: o.target.id,
      targetInfo: o.target.info(),
      vars: o.vars.masked,
      options,
    });
    const executor = new Executor(session, {
      runbook: o.runbook,
      vars: o.vars.values,
      secrets: o.vars.secrets,
      interactive: options.interactive,
      restore: o.restore,
      hooks: {
        onBlockStart: (b) => run!.onBlockStart(b),
        onBlockEnd: (b, r) => run!.onBlockEnd(b, r),
      },
    });
    run = new Run(id, o.runbook, session, executor, cast, o.store, o.audit, o.log, options, o.user, o.vars.secrets);
    run.wire();
    o.log.info('run started', { runId: id, runbook: o.runbook?.id ?? null, target: o.target.id, user: o.user });
    return { ok: true, value: run };
  }

  private onRecordingError(err: Error): void {
    const bestEffort = this.options.record === 'best-effort';
    this.log.error('recording failed', { runId: this.id, error: err.message, continuing: bestEffort });
    this.audit.append(this.id, 'recording-failed', { error: err.message, continuing: bestEffort });
    if (bestEffort) {
      this.emit({ type: 'error', code: 'RECORDING_FAILED', message: `recording failed: ${err.message}; the run goes on unrecorded (best-effort)` });
      return;
    }
    // Strict recording: a run never goes on unrecorded.
    this.stopReason = `recording failed (${err.message}): the run was stopped rather than run unrecorded`;
    this.emit({ type: 'error', code: 'RECORDING_FAILED', message: this.stopReason });
    this.end('failed');
  }

  get isEnded(): boolean {
    return this.ended;
  }

  subscribe(fn: (m: ServerMessage) => void): Disposable {
    this.listeners.add(fn);
    return { dispose: () => this.listeners.delete(fn) };
  }

  record(): RunRecord {
    return this.store.getRun(this.id)!;
  }

  /** `by`: who asked (their confirmation is recorded under that name); default the run's user. */
  async executeBlock(blockId: string, opts: { confirmed?: boolean; by?: string } = {}): Promise<Outcome<ExecutionReport>> {
    this.touch();
    // Own properties only: `constructor`, `__proto__` and friends are not blocks.
    const block = this.runbook && Object.hasOwn(this.runbook.blocks, blockId) ? this.runbook.blocks[blockId] : undefined;
    if (!block || block.kind === 'display') return { ok: false, error: failure('NOT_FOUND', `runbook has no executable block ${blockId}`, 'blockId') };
    const pre = this.precondition([block], opts.confirmed);
    if (pre) return { ok: false, error: pre };
    this.recordConfirmation([block], opts.by);
    this.executing++;
    try {
      const result = await this.executor.runBlock(block);
      const step = this.runbook!.steps.find((s) => s.id === block.stepId)!;
      const verdict = this.verdictFromLatest(step);
      if (verdict) this.recordVerdict(verdict);
      const report: ExecutionReport = {
        status: result.status,
        ...(result.reason ? { reason: result.reason } : {}),
        blocks: block.kind === 'check' ? [] : [result],
        checks: block.kind === 'check' ? [result] : [],
      };
      return { ok: true, value: report };
    } finally {
      this.executing--;
    }
  }

  async executeStep(stepId: string, opts: { confirmed?: boolean; converge?: boolean; by?: string } = {}): Promise<Outcome<StepVerdict>> {
    this.touch();
    const step = this.runbook?.steps.find((s) => s.id === stepId);
    if (!step) return { ok: false, error: failure('NOT_FOUND', `runbook has no step ${stepId}`, 'stepId') };
    const blocks = [...step.commands, ...step.checks].map((id) => this.runbook!.blocks[id]);
    const pre = this.precondition(blocks, opts.confirmed);
    if (pre) return { ok: false, error: pre };
    this.recordConfirmation(blocks, opts.by);
    this.executing++;
    try {
      const verdict = await this.executor.runStep(step, { converge: opts.converge ?? this.options.converge });
      this.recordVerdict(verdict);
      return { ok: true, value: verdict };
    } finally {
      this.executing--;
    }
  }

  /** Ends the session; the records stay. */
  end(status?: RunStatus): void {
    if (this.ended) return;
    this.ended = true;
    this.emit({ type: 'session-ended', runId: this.id, exitCode: this.session.exitCode });
    this.subs.forEach((s) => s.dispose());
    this.executor.dispose();
    this.session.dispose();
    this.session.target.release?.();
    this.screen.dispose();
    this.cast.output(this.decoder.decode());
    this.cast.dispose(); // synchronous: the file is complete before it is sealed
    const final = status ?? this.overallStatus();
    this.store.finishRun(this.id, final);
    this.audit.append(this.id, 'run-ended', { status: final });
    this.sealRecording();
    this.audit.forget(this.id);
    this.log.info('run ended', { runId: this.id, status: final, head: this.audit.head(this.id) });
    this.listeners.clear();
  }

  dispose(): void {
    this.end();
  }

  /** passed when every step has a non-failed verdict; failed on any failure; else ended. */
  overallStatus(): RunStatus {
    const verdicts = this.store.stepVerdicts(this.id);
    if (verdicts.some((v) => v.status === 'failed')) return 'failed';
    const steps = this.runbook?.steps ?? [];
    if (steps.length && steps.every((s) => verdicts.some((v) => v.stepId === s.id))) return 'passed';
    return 'ended';
  }

  private precondition(blocks: Block[], confirmed?: boolean): Failure | undefined {
    if (this.stopReason) return failure('RECORDING_FAILED', this.stopReason);
    if (this.ended || this.session.state === 'ended') return failure('SESSION_ENDED', `run ${this.id}: the shell session has ended`);
    if (this.executing === 0 && this.session.state !== 'idle') {
      return failure('SESSION_BUSY', 'the terminal is running a command; wait for the prompt or press Ctrl-C');
    }
    const needs = blocks.filter((b) => b.confirm);
    if (needs.length && !confirmed) {
      return failure('CONFIRM_REQUIRED', `${needs.map((b) => b.id).join(', ')} ${needs.length > 1 ? 'are' : 'is'} destructive: confirm to run`, 'confirm');
    }
    return undefined;
  }

  /** A step verdict from the latest result of each of its blocks, once its checks all ran. */
  private verdictFromLatest(step: Step): StepVerdict | undefined {
    const latest = this.store.latestBlockResults(this.id);
    const checks = step.checks.map((id) => latest.get(id));
    const commands = step.commands.map((id) => latest.get(id));
    if (step.checks.length ? checks.some((c) => !c) : commands.some((c) => !c)) return undefined;
    return judgeStep(
      step.id,
      commands.filter((c): c is NonNullable<typeof c> => !!c),
      checks.filter((c): c is NonNullable<typeof c> => !!c),
    );
  }

  /** The head of the run's audit chain: print it so it can be kept outside this machine. */
  auditHead(): string | undefined {
    return this.audit.head(this.id);
  }

  private saveShellState(): void {
    const st = this.executor.shellState();
    if (!st) return;
    const env = Object.fromEntries(Object.entries(st.env).map(([k, v]) => [k, maskText(v, this.secrets)]));
    this.store.setRunState(this.id, { cwd: maskText(st.cwd, this.secrets), env });
  }

  private sealRecording(): void {
    try {
      const written = this.cast.writtenDigest();
      if (written) {
        this.audit.append(this.id, 'recording-sealed', { castDigest: written.sha256, bytes: written.bytes });
        return;
      }
      const bytes = fs.readFileSync(this.cast.path);
      this.audit.append(this.id, 'recording-sealed', { castDigest: sha256(bytes), bytes: bytes.length });
    } catch (e) {
      this.log.error('recording cannot be sealed', { runId: this.id, error: (e as Error).message });
    }
  }

  private recordConfirmation(blocks: Block[], by: string = this.user): void {
    const confirmed = blocks.filter((b) => b.confirm).map((b) => b.id);
    if (confirmed.length) this.audit.append(this.id, 'confirmation', { blockIds: confirmed, by });
  }

  private recordVerdict(v: StepVerdict): void {
    this.audit.append(this.id, 'step-verdict', { stepId: v.stepId, status: v.status, reason: v.reason ?? null });
    this.store.setStepVerdict(this.id, { stepId: v.stepId, status: v.status, ...(v.reason ? { reason: v.reason } : {}) });
    this.log.info('step verdict', { runId: this.id, stepId: v.stepId, status: v.status });
    this.emit({ type: 'step-verdict', runId: this.id, verdict: v });
  }

  private onBlockStart(b: Block): number {
    this.cast.marker(`${b.stepId}/${b.id}`);
    this.audit.append(this.id, 'block-started', { stepId: b.stepId, blockId: b.id, kind: b.kind });
    this.emit({ type: 'block-started', runId: this.id, blockId: b.id, stepId: b.stepId });
    return this.cast.elapsed();
  }

  private onBlockEnd(b: Block, r: BlockResult): void {
    this.touch();
    this.store.addBlockResult(this.id, b.stepId, b.kind as 'command' | 'check' | 'file', r);
    if (b.kind !== 'check' && r.end !== 'skipped') this.saveShellState();
    this.audit.append(this.id, 'block-finished', {
      stepId: b.stepId,
      blockId: b.id,
      kind: b.kind,
      status: r.status,
      exitCode: r.exitCode,
      durationMs: r.durationMs,
      end: r.end,
      reason: r.reason ?? null,
      outputDigest: r.outputDigest ?? null,
      textDigest: sha256(r.output),
      attempt: r.attempt ?? null,
    });
    this.log.info('block finished', { runId: this.id, blockId: b.id, status: r.status, exitCode: r.exitCode, ms: r.durationMs });
    this.emit({ type: 'block-finished', runId: this.id, stepId: b.stepId, result: r });
  }

  private wire(): void {
    this.subs.push(
      this.session.onData((bytes) => {
        this.cast.output(this.decoder.decode(bytes, { stream: true }));
        this.screen.write(bytes);
      }),
      this.session.onExit((code) => {
        this.log.warn('session ended', { runId: this.id, exitCode: code });
        this.end();
      }),
    );
  }

  private emit(m: ServerMessage): void {
    for (const fn of this.listeners) fn(m);
  }
}
