// One run's lifecycle: a runbook (or a bare terminal) on a target, with its shell session and
// executor, from start to end. What it leaves behind is written by its Recorder; the browser,
// the API and the CLI all act on a run through here.
import type { Block, Runbook, Step } from '../runbook/model.ts';
import type { Target } from '../target/target.ts';
import type { BlockResult, ExecutionReport, StepVerdict } from '../../common/result.ts';

export type { ExecutionReport };
import type { ServerMessage } from '../../common/protocol.ts';
import type { Logger } from '../log.ts';
import type { RunStore, RunRecord, RunStatus } from '../record/store.ts';
import type { AuditLog } from '../record/audit.ts';
import type { AuditType } from '../record/chain.ts';
import { Recorder } from '../record/recorder.ts';
import { maskText } from '../terminal/mask.ts';
import type { ShellState } from '../exec/state.ts';
import { newRunId } from '../record/ids.ts';
import { TerminalSession } from '../terminal/session.ts';
import type { Disposable } from '../../common/disposable.ts';
import { ScreenMirror } from '../terminal/screen.ts';
import { Cancelled, Executor } from '../exec/executor.ts';
import { judgeStep } from '../exec/verifier.ts';
import { failure, type Failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';
import { selfOwner } from '../owner.ts';
import type { ResolvedVars } from './vars.ts';
import { decideStatus } from './status.ts';
import { lockingStep } from '../class/lock.ts';
import { Approvals, waitForDecision, type ApprovalRequest } from './approvals.ts';
import { RoleShells, hostOf, type RoleRecord, type RoleTarget } from './role-shells.ts';
import type { BlockPlace } from '../record/recorder.ts';

export interface RunOptions {
  /** Training mode: Next stays locked until the step passes. */
  training?: boolean;
  /** Headless without a terminal: interactive blocks are skipped. */
  interactive?: boolean;
  /** Answers blocks are typed even though a person has the terminal (the CLI lending its own). */
  answerPrompts?: boolean;
  /** Run each step's checks first and skip the commands of steps already satisfied. */
  converge?: boolean;
  /** strict (default): a run stops when its recording cannot be written; best-effort goes on. */
  record?: 'strict' | 'best-effort';
  /** This run rolls back that failed run (rollback.ts); recorded with the run and in its chain. */
  rollbackOf?: string;
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
  /** The language the operator reads the runbook in, and the translation pinned when it is not the source's. */
  lang?: string;
  translation?: { file: string; contentHash: string };
  /**
   * A runbook that spans hosts: every role with its target, in the runbook's order; the first
   * role's target is `target`. `restoreRoles`: a resumed run's shell state of each other role.
   */
  roles?: RoleTarget[];
  restoreRoles?: Record<string, ShellState>;
  /** What the run's `target` column says when it is not `target.id` (a binding of roles). */
  targetLabel?: string;
  /** The run's id when reserved beforehand (a fleet reserves one per host); default a new one. */
  id?: string;
}

// After an interruption (Ctrl-C of the CLI, SIGTERM), how long the running block gets to stop
// and be recorded as interrupted before the run ends without it.
const INTERRUPT_WAIT_MS = 3_000;

export class Run implements Disposable {
  private readonly listeners = new Set<(m: ServerMessage) => void>();
  private readonly subs: Disposable[] = [];
  private executing = 0;
  /** The block being run now, so an end in the middle of it records it. */
  private inFlight: Block | undefined;
  /** The server's copy of the screen, for clients that (re)connect. */
  readonly screen: ScreenMirror;
  /** Operator websockets attached now (a viewer's socket does not keep a run alive), and when an operator last did anything with this run. */
  clients = 0;
  lastActivity = Date.now();
  /** Why the run was stopped by Stepwise itself, if it was. */
  stopReason?: string;
  /** Set when this run resumes another: where it picks up. */
  resumedFrom?: { runId: string; stepId: string; notes: string[] };
  private ended = false;
  private finalStatus: RunStatus | undefined;
  /** Told when the run starts waiting for approval of a block (the CLI prints how to approve). */
  readonly approvalWaits = new Set<(r: ApprovalRequest) => void>();
  private approvals: Approvals | undefined;
  /** A runbook that spans hosts: the roles in order (the first's shell is `session`), and the others' shells. */
  private roleNames: string[] = [];
  private roleShells: RoleShells | undefined;
  private firstHost = '';
  /** Each role's shell state after its last command block (what a resumed run restores). */
  private readonly roleStates = new Map<string, ShellState>();

  private constructor(
    readonly id: string,
    readonly runbook: Runbook | undefined,
    readonly session: TerminalSession,
    readonly executor: Executor,
    private readonly recorder: Recorder,
    private readonly store: RunStore,
    private readonly log: Logger,
    readonly options: RunOptions,
    readonly user: string,
    private readonly secrets: readonly string[],
  ) {
    this.screen = new ScreenMirror(session.cols, session.rows, (over) => (over ? session.pause('screen') : session.resume('screen')));
  }

  /** The recording's path. */
  get castPath(): string {
    return this.recorder.castPath;
  }

  /** Writes the buffered recording to disk, for a reader of the live run's file. */
  flushRecording(): void {
    this.recorder.flush();
  }

  /** Resizes the terminal, its recording and the server's screen together (`role`: that role's terminal). */
  resize(cols: number, rows: number, role?: string): void {
    if (this.ended) return;
    const t = this.terminal(role);
    if (!t) return;
    t.session.resize(cols, rows);
    this.recorder.resize(cols, rows, t.role);
    t.screen.resize(cols, rows);
  }

  /** The runbook's roles in order; empty for a run on one host. */
  get roles(): readonly string[] {
    return this.roleNames;
  }

  /**
   * A role's terminal (its shell and the server's copy of its screen); no role: the first
   * (the run's own, the only one of a run without roles). Undefined for a role the run lacks.
   */
  terminal(role?: string): { role: string | undefined; session: TerminalSession; screen: ScreenMirror; host: string } | undefined {
    const first = this.roleNames[0];
    if (role === undefined || role === first) return { role: first, session: this.session, screen: this.screen, host: this.firstHost };
    const s = this.roleShells?.get(role);
    return s ? { role: s.role, session: s.session, screen: s.screen, host: s.host } : undefined;
  }

  /** Every terminal of the run: the first role's (or the only one), then each other role's. */
  private terminals(): Array<{ role: string | undefined; session: TerminalSession }> {
    return [{ role: this.roleNames[0], session: this.session }, ...(this.roleShells?.all() ?? [])];
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  /** A block is running (from the API, the CLI or typed in the terminal). */
  get busy(): boolean {
    return this.executing > 0 || this.terminals().some((t) => t.session.state === 'busy');
  }

  /** Starts the shell and the records; on any failure, whatever it had made is removed. */
  static async start(o: StartRun): Promise<Outcome<Run>> {
    const id = o.id ?? newRunId();
    let session: TerminalSession;
    try {
      session = await TerminalSession.start(o.target, { cols: o.cols, rows: o.rows, secrets: o.vars.secrets });
    } catch (e) {
      return { ok: false, error: failure('TARGET_FAILED', `the shell on ${o.target.id} did not start: ${(e as Error).message}`, 'target') };
    }
    // A runbook that spans hosts: a shell for each other role too (the first role's is `session`).
    let roleShells: RoleShells | undefined;
    if (o.roles && o.roles.length > 1) {
      try {
        roleShells = await RoleShells.start(o.roles.slice(1), { cols: o.cols, rows: o.rows, secrets: o.vars.secrets });
      } catch (e) {
        session.dispose();
        return { ok: false, error: failure('TARGET_FAILED', (e as Error).message, 'roles') };
      }
    }
    const options = { ...o.options };
    let run: Run | undefined;
    const opened = Recorder.open(id, {
      width: session.cols,
      height: session.rows,
      title: o.runbook ? `${o.runbook.title} (${o.runbook.id})` : 'terminal',
      env: { SHELL: '/bin/bash', TERM: 'xterm-256color' },
    }, {
      store: o.store,
      audit: o.audit,
      dataDir: o.dataDir,
      log: o.log,
      mode: options.record,
      onFailure: (message, failClosed) => run?.onRecordingFailure(message, failClosed),
    });
    if (!opened.ok) {
      roleShells?.dispose();
      session.dispose();
      return opened;
    }
    const recorder = opened.value;
    const targetInfo = o.target.info();
    // Each role's binding, host identity and recording: kept in the run record and its first event.
    let roleRecords: RoleRecord[] | undefined;
    if (o.roles && o.roles.length > 0) {
      const casts = recorder.openRoleCasts(o.roles[0]!.role, o.roles.slice(1).map((r) => r.role), { width: session.cols, height: session.rows, title: o.runbook ? `${o.runbook.title} (${o.runbook.id})` : 'terminal', env: { SHELL: '/bin/bash', TERM: 'xterm-256color' } });
      if (!casts.ok) {
        recorder.end('failed');
        roleShells?.dispose();
        session.dispose();
        return casts;
      }
      roleRecords = o.roles.map((r) => {
        const info = r.target.info();
        return { role: r.role, target: r.bound, host: info.host, targetInfo: info, castPath: casts.value[r.role]! };
      });
    }
    const roleFields = roleRecords ? { roles: roleRecords } : {};
    // The prose read is part of what was run: the language, and the translation's hash beside the source's.
    const language = o.runbook && o.lang !== undefined ? { lang: o.lang, ...(o.translation ? { translation: o.translation } : {}) } : {};
    recorder.started({
      runbookId: o.runbook?.id ?? null,
      runbookFile: o.runbook?.file ?? null,
      contentHash: o.runbook?.contentHash ?? null,
      runbookTitle: o.runbook?.title ?? null,
      target: o.targetLabel ?? o.target.id,
      user: o.user,
      vars: o.vars.masked,
      options: { ...options, targetInfo, ...language, ...roleFields },
      parentRunId: o.parentRunId ?? null,
      owner: selfOwner(),
    }, {
      parentRunId: o.parentRunId ?? null,
      runbookId: o.runbook?.id ?? null,
      runbookFile: o.runbook?.file ?? null,
      contentHash: o.runbook?.contentHash ?? null,
      user: o.user,
      target: o.targetLabel ?? o.target.id,
      targetInfo,
      vars: o.vars.masked,
      options,
      ...language,
      ...roleFields,
    });
    if (recorder.failure !== undefined && options.record !== 'best-effort') {
      // Its start could not be recorded: a strict run does not begin unrecorded.
      recorder.end('failed');
      roleShells?.dispose();
      session.dispose();
      return { ok: false, error: failure('RECORDING_FAILED', `run ${id} could not be recorded: ${recorder.failure}`) };
    }
    const executorOptions = {
      runbook: o.runbook,
      vars: o.vars.values,
      secrets: o.vars.secrets,
      secretNames: o.vars.secretNames,
      interactive: options.interactive,
      answerPrompts: options.answerPrompts,
      // One set of hooks for every role's executor: where a block ran comes from its on=.
      hooks: {
        onBlockStart: (b: Block) => run!.onBlockStart(b),
        onBlockEnd: (b: Block, r: BlockResult, st?: ShellState) => run!.onBlockEnd(b, r, st),
        beforeBlock: (b: Block) => run!.awaitApproval(b),
        onAnswer: (b: Block, a: { n: number; expect: string; sent: string }) => run!.recordAnswer(b, a),
      },
    };
    const first = o.roles?.[0]?.role;
    // Each other role's blocks run on its own executor (its shell); the run's executor orders them all.
    for (const s of roleShells?.all() ?? []) {
      const restore = o.restoreRoles?.[s.role];
      s.executor = new Executor(s.session, { ...executorOptions, ...(restore ? { restore } : {}) });
    }
    const executor = new Executor(session, {
      ...executorOptions,
      restore: o.restore,
      ...(roleShells ? { route: (b: Block) => (b.on !== undefined && b.on !== first ? roleShells.get(b.on)?.executor : undefined) } : {}),
    });
    run = new Run(id, o.runbook, session, executor, recorder, o.store, o.log, options, o.user, o.vars.secrets);
    if (o.roles && o.roles.length > 0) {
      run.roleNames = o.roles.map((r) => r.role);
      run.roleShells = roleShells;
      run.firstHost = hostOf(o.target);
    }
    run.wire();
    o.log.info('run started', { runId: id, runbook: o.runbook?.id ?? null, target: o.target.id, user: o.user });
    return { ok: true, value: run };
  }

  private onRecordingFailure(message: string, failClosed: boolean): void {
    if (!failClosed) {
      this.emit({ type: 'error', code: 'RECORDING_FAILED', message: `recording failed: ${message}; the run goes on unrecorded (best-effort)` });
      return;
    }
    // Strict recording: a run never goes on unrecorded.
    this.stopReason = `recording failed (${message}): the run was stopped rather than run unrecorded`;
    this.emit({ type: 'error', code: 'RECORDING_FAILED', message: this.stopReason });
    this.end({ stopped: 'failed' });
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
    // Never forward: a rollback block runs only when the run is rolled back (rollback.ts).
    if (block.rollback) return { ok: false, error: failure('BAD_REQUEST', `block ${blockId} is a rollback block: it runs only when a failed run is rolled back (POST /api/runs/${this.id}/rollback)`, 'blockId') };
    const locked = block.kind === 'check' ? undefined : this.trainingLock(block.stepId);
    if (locked) return { ok: false, error: locked };
    const pre = this.precondition([block], opts.confirmed);
    if (pre) return { ok: false, error: pre };
    this.recordConfirmation([block], opts.by);
    return this.whileExecuting(async () => {
      const result = await this.executor.runBlock(block);
      const step = this.runbook!.steps.find((s) => s.id === block.stepId)!;
      const verdict = this.verdictFromLatest(step);
      if (verdict) this.recordVerdict(verdict);
      return {
        status: result.status,
        ...(result.reason ? { reason: result.reason } : {}),
        blocks: block.kind === 'check' ? [] : [result],
        checks: block.kind === 'check' ? [result] : [],
      };
    });
  }

  async executeStep(stepId: string, opts: { confirmed?: boolean; converge?: boolean; by?: string } = {}): Promise<Outcome<StepVerdict>> {
    this.touch();
    const step = this.runbook?.steps.find((s) => s.id === stepId);
    if (!step) return { ok: false, error: failure('NOT_FOUND', `runbook has no step ${stepId}`, 'stepId') };
    const locked = this.trainingLock(stepId);
    if (locked) return { ok: false, error: locked };
    const blocks = [...step.commands, ...step.checks].map((id) => this.runbook!.blocks[id]);
    const pre = this.precondition(blocks, opts.confirmed);
    if (pre) return { ok: false, error: pre };
    this.recordConfirmation(blocks, opts.by);
    return this.whileExecuting(async () => {
      const verdict = await this.executor.runStep(step, { converge: opts.converge ?? this.options.converge });
      this.recordVerdict(verdict);
      return verdict;
    });
  }

  /**
   * Blocks outside a step's forward flow (rollback.ts drives a rollback through this): checked
   * and confirmed like a step's, each recorded like any block, no step verdict; `event` writes
   * to the run's audit chain.
   */
  async executeAside<T>(
    blocks: Block[],
    opts: { confirmed?: boolean; by?: string },
    body: (io: { runBlock(b: Block): Promise<BlockResult>; event(type: AuditType, data: Record<string, unknown>): void }) => Promise<T>,
  ): Promise<Outcome<T>> {
    this.touch();
    const pre = this.precondition(blocks, opts.confirmed);
    if (pre) return { ok: false, error: pre };
    this.recordConfirmation(blocks, opts.by);
    return this.whileExecuting(() => body({
      runBlock: (b) => this.executor.runBlock(b),
      event: (type, data) => {
        if (!this.ended) this.recorder.event(type, data);
      },
    }));
  }

  /** Runs executor work, counting it as busy; work cancelled by the run's end is a SESSION_ENDED failure. */
  private async whileExecuting<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
    this.executing++;
    try {
      const value = await fn();
      if (this.ended) return { ok: false, error: failure('SESSION_ENDED', this.stopReason ?? `run ${this.id} ended`) };
      return { ok: true, value };
    } catch (e) {
      if (e instanceof Cancelled) return { ok: false, error: failure('SESSION_ENDED', `run ${this.id} ended before this ran`) };
      throw e;
    } finally {
      this.executing--;
    }
  }

  /**
   * Interrupts the run (Ctrl-C of the CLI, SIGTERM): Ctrl-C to the running block, a bounded wait
   * for it to be recorded as interrupted, then the run ends `interrupted`, sealed.
   */
  async interrupt(reason: string): Promise<void> {
    if (this.ended) return;
    this.stopReason = reason;
    if (this.executing > 0) {
      // The block runs in one of the terminals: Ctrl-C to each that is busy (the first always, as before).
      this.session.write('\x03');
      for (const s of this.roleShells?.all() ?? []) if (s.session.state === 'busy') s.session.write('\x03');
      const until = Date.now() + INTERRUPT_WAIT_MS;
      while (this.executing > 0 && Date.now() < until && !this.ended) await new Promise((r) => setTimeout(r, 20));
    }
    if (!this.ended) this.end({ stopped: 'interrupted', reason });
  }

  /**
   * Ends the session; the records stay. The final status is decided from the verdicts (see
   * status.ts) unless the run was stopped. Queued blocks are cancelled; a block still running
   * is recorded as interrupted before the run-ended event, after which nothing is written.
   */
  end(how: { stopped?: 'interrupted' | 'failed' | 'expired'; reason?: string } = {}): RunStatus {
    if (this.finalStatus) return this.finalStatus;
    this.ended = true;
    this.executor.dispose();
    if (this.inFlight) {
      const b = this.inFlight;
      this.inFlight = undefined;
      this.recorder.blockFinished(b, {
        id: b.id,
        status: 'failed',
        exitCode: null,
        output: '',
        durationMs: 0,
        end: 'interrupted',
        reason: `the run ended while it ran${how.reason ? ` (${how.reason})` : ''}`,
      }, undefined, this.place(b)); // where it ran, as for a block that finished
    }
    this.emit({ type: 'session-ended', runId: this.id, exitCode: this.session.exitCode });
    this.subs.forEach((s) => s.dispose());
    // The other roles' shells and targets first: a lab's hosts go with role 1's target.
    this.roleShells?.dispose();
    this.session.dispose();
    this.session.target.release?.();
    this.screen.dispose();
    const status = decideStatus({
      steps: this.runbook?.steps.map((s) => s.id) ?? [],
      verdicts: this.store.stepVerdicts(this.id),
      ...(this.resumedFrom ? { resumedFromStep: this.resumedFrom.stepId } : {}),
      ...(how.stopped ? { stopped: how.stopped } : {}),
    });
    this.finalStatus = status;
    const head = this.recorder.end(status, how.reason ? { reason: how.reason } : {});
    this.log.info('run ended', { runId: this.id, status, head });
    this.listeners.clear();
    return status;
  }

  dispose(): void {
    this.end();
  }

  /** Training: STEP_LOCKED naming the earlier step to finish first (server/class/lock.ts), or undefined. */
  private trainingLock(stepId: string): Failure | undefined {
    if (!this.options.training || !this.runbook) return undefined;
    const first = lockingStep({ runbook: this.runbook, verdicts: this.store.stepVerdicts(this.id), stepId, ...(this.resumedFrom ? { resumedFromStep: this.resumedFrom.stepId } : {}) });
    return first ? failure('STEP_LOCKED', `training: finish step ${first.id} (${first.title}) first; step ${stepId} is locked until it passes`, 'stepId') : undefined;
  }

  private precondition(blocks: Block[], confirmed?: boolean): Failure | undefined {
    if (this.stopReason) return failure(this.ended ? 'SESSION_ENDED' : 'RECORDING_FAILED', this.stopReason);
    if (this.ended || this.session.state === 'ended') return failure('SESSION_ENDED', `run ${this.id}: the shell session has ended`);
    if (this.executing === 0 && this.session.state !== 'idle') {
      return failure('SESSION_BUSY', 'the terminal is running a command; wait for the prompt or press Ctrl-C');
    }
    for (const s of this.roleShells?.all() ?? []) {
      if (s.session.state === 'ended') return failure('SESSION_ENDED', `run ${this.id}: the shell of role ${s.role} has ended`);
      if (this.executing === 0 && s.session.state !== 'idle') return failure('SESSION_BUSY', `the terminal of role ${s.role} is running a command; wait for its prompt or press Ctrl-C there`);
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
    return this.store.auditEvents(this.id).at(-1)?.hash;
  }

  /** The shell's exported changes and directory (as the executor that ran `b` read them), secrets masked, as a resumed run restores them. */
  private shellState(b: Block, st: ShellState | undefined): ShellState | undefined {
    const role = b.on;
    if (!st) return undefined;
    const env = Object.fromEntries(Object.entries(st.env).map(([k, v]) => [k, maskText(v, this.secrets)]));
    const state = { cwd: maskText(st.cwd, this.secrets), env };
    if (role === undefined || this.roleNames.length === 0) return state;
    // A run with roles keeps every role's state; the first role's (else this one's) stays on top for readers of one.
    this.roleStates.set(role, state);
    const top = this.roleStates.get(this.roleNames[0]!) ?? state;
    return { ...top, roles: Object.fromEntries(this.roleStates) } as ShellState;
  }

  /** Where a block runs in a run with roles: its role and that role's host; undefined otherwise. */
  private place(b: Block): BlockPlace | undefined {
    if (b.on === undefined || this.roleNames.length === 0) return undefined;
    const t = this.terminal(b.on);
    return t ? { role: b.on, host: t.host } : undefined;
  }

  private recordConfirmation(blocks: Block[], by: string = this.user): void {
    const confirmed = blocks.filter((b) => b.confirm).map((b) => b.id);
    if (confirmed.length) this.recorder.event('confirmation', { blockIds: confirmed, by });
  }

  private recordVerdict(v: StepVerdict): void {
    if (this.ended) return;
    this.recorder.verdict(v);
    this.log.info('step verdict', { runId: this.id, stepId: v.stepId, status: v.status });
    this.emit({ type: 'step-verdict', runId: this.id, verdict: v });
  }

  /**
   * Four eyes: a block with approve=N waits until N people other than the run's operator
   * approve it (or one rejects it, or approveTimeout passes); every step is in the chain.
   * Returns why the block may not run, or undefined.
   */
  async awaitApproval(b: Block): Promise<string | undefined> {
    if (!b.approve || this.ended) return undefined;
    this.approvals ??= new Approvals(this.store);
    const where = { stepId: b.stepId, blockId: b.id };
    const req = this.approvals.request({ runId: this.id, ...where, need: b.approve, operator: this.user, ...(b.approveTimeoutSec !== undefined ? { timeoutSec: b.approveTimeoutSec } : {}) });
    this.recorder.event('approval-requested', { ...where, need: b.approve, operator: this.user, expiresAt: req.expiresAt });
    this.log.info('awaiting approval', { runId: this.id, blockId: b.id, need: b.approve });
    for (const fn of [...this.approvalWaits]) fn(req);
    this.emit({ type: 'approval-waiting', runId: this.id, ...where, need: b.approve, operator: this.user });
    const done = await waitForDecision(this.approvals, req.id, {
      onDecision: (d) => this.recorder.event(d.decision === 'approve' ? 'approval-granted' : 'approval-rejected', { ...where, user: d.user, comment: d.comment, at: d.at }),
      stopped: () => this.ended,
    });
    this.touch();
    if (done.state === 'approved') return undefined;
    if (done.state === 'rejected') {
      const r = done.decisions.find((d) => d.decision === 'reject')!;
      return `rejected by ${r.user}: ${r.comment}`;
    }
    const got = done.decisions.filter((d) => d.decision === 'approve').length;
    if (done.state === 'expired') {
      this.recorder.event('approval-expired', { ...where, need: b.approve, approvals: got });
      return `approval expired after ${b.approveTimeoutSec} s (${got} of ${b.approve} approvals)`;
    }
    return 'the run ended while it waited for approval';
  }

  /** An answer a headless run typed at a prompt (secrets masked), into the chain. */
  recordAnswer(b: Block, a: { n: number; expect: string; sent: string }): void {
    if (!this.ended) this.recorder.event('answer-sent', { stepId: b.stepId, blockId: b.id, ...a });
  }

  private onBlockStart(b: Block): number | undefined {
    if (this.ended) return undefined;
    this.inFlight = b;
    const place = this.place(b);
    const castTime = this.recorder.blockStarted(b, place);
    this.emit({ type: 'block-started', runId: this.id, blockId: b.id, stepId: b.stepId, ...(place ? { role: place.role } : {}) });
    return castTime;
  }

  private onBlockEnd(b: Block, r: BlockResult, st?: ShellState): void {
    // After the run's end its records are closed: a block the end interrupted was recorded then.
    if (this.ended) return;
    this.inFlight = undefined;
    this.touch();
    const place = this.place(b);
    this.recorder.blockFinished(b, r, b.kind !== 'check' && r.end !== 'skipped' ? this.shellState(b, st) : undefined, place);
    this.log.info('block finished', { runId: this.id, blockId: b.id, status: r.status, exitCode: r.exitCode, ms: r.durationMs });
    this.emit({ type: 'block-finished', runId: this.id, stepId: b.stepId, result: r, ...(place ? { role: place.role } : {}) });
  }

  private wire(): void {
    this.subs.push(
      this.session.onData((bytes) => {
        this.recorder.output(bytes);
        this.screen.write(bytes);
      }),
      this.session.onExit((code) => {
        this.log.warn('session ended', { runId: this.id, exitCode: code });
        const lost = this.session.lostConnection;
        this.end(lost ? { stopped: 'interrupted', reason: lost } : { reason: 'the shell exited' });
      }),
    );
    for (const s of this.roleShells?.all() ?? []) {
      this.subs.push(
        s.session.onData((bytes) => {
          this.recorder.output(bytes, s.role);
          s.screen.write(bytes);
        }),
        // The run cannot go on without one of its hosts: a role's shell ending ends the run.
        s.session.onExit((code) => {
          this.log.warn('session ended', { runId: this.id, role: s.role, exitCode: code });
          const lost = s.session.lostConnection;
          this.end(lost ? { stopped: 'interrupted', reason: `role ${s.role}: ${lost}` } : { reason: `the shell of role ${s.role} exited` });
        }),
      );
    }
  }

  private emit(m: ServerMessage): void {
    for (const fn of [...this.listeners]) fn(m);
  }
}
