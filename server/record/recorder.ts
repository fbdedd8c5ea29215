// A run's recorder: the one ordered writer of everything a run leaves behind — the asciicast,
// the audit chain and the database rows. Every write goes through `write`, so a failing disk
// is handled in one place: strict recording fails closed (the run is stopped, never goes on
// unrecorded), best-effort logs and goes on. After the run-ended event nothing more is written.
import fs from 'node:fs';
import path from 'node:path';
import type { Block } from '../runbook/model.ts';
import type { BlockResult, StepVerdict } from '../../common/result.ts';
import type { Logger } from '../log.ts';
import type { AuditType } from './chain.ts';
import { sha256 } from './chain.ts';
import type { AuditLog } from './audit.ts';
import type { NewRun, RunStore, RunStatus } from './store.ts';
import { AsciicastWriter, type CastHeaderInput } from './asciicast.ts';
import { failure, type Failure } from '../errors.ts';

export interface RecorderDeps {
  store: RunStore;
  audit: AuditLog;
  dataDir: string;
  log: Logger;
  /** strict (default): a failed write stops the run; best-effort: it is logged and the run goes on. */
  mode?: 'strict' | 'best-effort';
  /** Called once, on the first failed write (cast, audit or database). */
  onFailure: (message: string, failClosed: boolean) => void;
}

/** Where a block ran, in a runbook that spans hosts: its role and that role's host. */
export interface BlockPlace {
  role: string;
  host: string;
}

export class Recorder {
  private closed = false;
  /** The first failed write, if any. */
  failure: string | undefined;
  private readonly decoder = new TextDecoder('utf-8');
  /** A runbook that spans hosts: each role but the first has its own recording (the first's is `cast`). */
  private readonly roleCasts = new Map<string, { cast: AsciicastWriter; decoder: TextDecoder }>();
  /** The role whose recording is `cast`, in a run with roles. */
  private firstRole: string | undefined;

  private constructor(
    readonly runId: string,
    readonly cast: AsciicastWriter,
    private readonly deps: RecorderDeps,
  ) {}

  /** Creates the run's recording file; a failure is a value (nothing else was written yet). */
  static open(runId: string, header: CastHeaderInput, deps: RecorderDeps): { ok: true; value: Recorder } | { ok: false; error: Failure } {
    const castPath = path.join(deps.dataDir, 'casts', `${runId}.cast`);
    let rec: Recorder | undefined;
    try {
      fs.mkdirSync(path.dirname(castPath), { recursive: true, mode: 0o700 });
      const cast = AsciicastWriter.open(castPath, header, { onError: (err) => rec?.fail(err.message) });
      rec = new Recorder(runId, cast, deps);
      return { ok: true, value: rec };
    } catch (e) {
      return { ok: false, error: failure('RECORDING_FAILED', `cannot create recording ${castPath}: ${(e as Error).message}`) };
    }
  }

  get castPath(): string {
    return this.cast.path;
  }

  /**
   * A run with roles: `first` records into the run's own cast; each other role gets a cast of
   * its own beside it (`<runId>.<role>.cast`), sealed into the same chain at the end.
   */
  openRoleCasts(first: string, others: readonly string[], header: CastHeaderInput): { ok: true; value: Record<string, string> } | { ok: false; error: Failure } {
    this.firstRole = first;
    const paths: Record<string, string> = { [first]: this.cast.path };
    for (const role of others) {
      const p = path.join(path.dirname(this.cast.path), `${this.runId}.${role}.cast`);
      try {
        const cast = AsciicastWriter.open(p, { ...header, title: `${header.title ?? 'terminal'} [${role}]` }, { onError: (err) => this.fail(`recording of ${role}: ${err.message}`) });
        this.roleCasts.set(role, { cast, decoder: new TextDecoder('utf-8') });
        paths[role] = p;
      } catch (e) {
        return { ok: false, error: failure('RECORDING_FAILED', `cannot create recording ${p}: ${(e as Error).message}`) };
      }
    }
    return { ok: true, value: paths };
  }

  /** The recording a role's terminal goes to (the run's own for the first role, or none given). */
  private castOf(role: string | undefined): { cast: AsciicastWriter; decoder: TextDecoder } {
    return (role !== undefined && this.roleCasts.get(role)) || { cast: this.cast, decoder: this.decoder };
  }

  /** The run's row and its run-started event. */
  started(run: Omit<NewRun, 'id' | 'castPath'>, event: Record<string, unknown>): void {
    this.write('run record', () => {
      this.deps.store.createRun({ ...run, id: this.runId, castPath: this.cast.path });
      this.deps.audit.append(this.runId, 'run-started', event);
    });
  }

  /** Buffered recording onto disk now (before someone reads the file). */
  flush(): void {
    if (this.closed) return;
    this.cast.flush();
    for (const r of this.roleCasts.values()) r.cast.flush();
  }

  /** Terminal output bytes, in order (`role`: of that role's terminal, in a run with roles). */
  output(bytes: Buffer, role?: string): void {
    if (this.closed) return;
    const c = this.castOf(role);
    c.cast.output(c.decoder.decode(bytes, { stream: true }));
  }

  resize(cols: number, rows: number, role?: string): void {
    if (!this.closed) this.castOf(role).cast.resize(cols, rows);
  }

  /** An audit event with no row of its own (confirmations, interruptions, notes). */
  event(type: AuditType, data: Record<string, unknown>): void {
    this.write(`audit event ${type}`, () => this.deps.audit.append(this.runId, type, data));
  }

  /** Drops the block's marker into the recording; returns its time in the recording. */
  blockStarted(b: Block, place?: BlockPlace): number | undefined {
    if (this.closed) return undefined;
    // The marker goes into the recording of the terminal the block is typed in; its time is in that recording.
    const cast = this.castOf(place?.role).cast;
    cast.marker(`${b.stepId}/${b.id}`);
    this.event('block-started', { stepId: b.stepId, blockId: b.id, kind: b.kind, ...(place ? { role: place.role, host: place.host } : {}) });
    return cast.elapsed();
  }

  /** `state`: what a resumed run restores (a run with roles: the first role's, and every role's under `roles`). */
  blockFinished(b: Block, r: BlockResult, state?: { cwd: string; env: Record<string, string> }, place?: BlockPlace): void {
    this.write(`block ${b.id}`, () => {
      this.deps.store.addBlockResult(this.runId, b.stepId, b.kind as 'command' | 'check' | 'file', r, undefined, place);
      if (state) this.deps.store.setRunState(this.runId, state);
      this.deps.audit.append(this.runId, 'block-finished', {
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
        ...(place ? { role: place.role, host: place.host } : {}),
      });
    });
  }

  verdict(v: StepVerdict): void {
    this.write(`verdict of ${v.stepId}`, () => {
      this.deps.audit.append(this.runId, 'step-verdict', { stepId: v.stepId, status: v.status, reason: v.reason ?? null });
      this.deps.store.setStepVerdict(this.runId, { stepId: v.stepId, status: v.status, ...(v.reason ? { reason: v.reason } : {}) });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * The run's last records: its status, the run-ended event, and the recording's digest sealed
   * into the chain. Each is attempted even when an earlier one fails. Returns the chain head.
   */
  end(status: RunStatus, data: Record<string, unknown> = {}): string | undefined {
    if (this.closed) return this.deps.audit.head(this.runId);
    this.cast.output(this.decoder.decode());
    this.cast.dispose(); // synchronous: the file is complete before it is sealed
    for (const r of this.roleCasts.values()) {
      r.cast.output(r.decoder.decode());
      r.cast.dispose();
    }
    this.write('run status', () => this.deps.store.finishRun(this.runId, status));
    this.write('run-ended event', () => this.deps.audit.append(this.runId, 'run-ended', { status, ...data }));
    this.write('recording seal', () => {
      const written = this.cast.writtenDigest();
      const seal = written ?? (() => {
        const bytes = fs.readFileSync(this.cast.path);
        return { sha256: sha256(bytes), bytes: bytes.length };
      })();
      this.deps.audit.append(this.runId, 'recording-sealed', { castDigest: seal.sha256, bytes: seal.bytes, ...(this.firstRole !== undefined ? { role: this.firstRole } : {}) });
    });
    // Each other role's recording after the run's own (readers that know one recording take the first seal).
    for (const [role, r] of this.roleCasts) {
      this.write(`recording seal of ${role}`, () => {
        const seal = r.cast.writtenDigest() ?? (() => {
          const bytes = fs.readFileSync(r.cast.path);
          return { sha256: sha256(bytes), bytes: bytes.length };
        })();
        this.deps.audit.append(this.runId, 'recording-sealed', { castDigest: seal.sha256, bytes: seal.bytes, role });
      });
    }
    this.closed = true;
    const head = this.deps.audit.head(this.runId);
    this.deps.audit.forget(this.runId);
    return head;
  }

  private write(what: string, fn: () => void): void {
    if (this.closed) {
      this.deps.log.warn('record after the run ended, dropped', { runId: this.runId, what });
      return;
    }
    try {
      fn();
    } catch (e) {
      this.fail(`${what}: ${(e as Error).message}`);
    }
  }

  private fail(message: string): void {
    const failClosed = this.deps.mode !== 'best-effort';
    this.deps.log.error('recording failed', { runId: this.runId, error: message, continuing: !failClosed });
    if (this.failure !== undefined) return;
    this.failure = message;
    try {
      this.deps.audit.append(this.runId, 'recording-failed', { error: message, continuing: !failClosed });
    } catch (e) {
      this.deps.log.error('the failure cannot be recorded either', { runId: this.runId, error: (e as Error).message });
    }
    this.deps.onFailure(message, failClosed);
  }
}
