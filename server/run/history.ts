// Recorded runs as everything reads them: a run with the runbook text it pinned when it
// started, the chain of runs it resumed, each step's verdict merged along that chain, and how
// the runbook file has changed since. The pages, the report view, exports, resume and the CLI
// read recorded runs through here, so they cannot disagree about them.
// The I/O edge of reading: the store, the snapshots and the runbook files; it writes nothing.
// mergeChainVerdicts, the one definition of a chain's verdicts, is pure.

import fs from 'node:fs';
import path from 'node:path';
import type { RunFilter, RunRecord, RunStore, StoredBlockResult, StoredStepVerdict } from '../record/store.ts';
import type { StepStatus } from '../../common/result.ts';
import type { ShellState } from '../exec/state.ts';
import type { Catalog } from '../runbook/catalog.ts';
import type { Runbook } from '../runbook/model.ts';
import { parseRunbook } from '../runbook/parse.ts';
import { runbookDrift, type StepDrift } from '../runbook/drift.ts';
import { loadSnapshot } from '../record/snapshot.ts';
import { sha256, type AuditEvent } from '../record/chain.ts';
import { buildReport, type RunReport } from '../report/model.ts';
import { rollbackSection, withRollback, type ReportRollback } from '../report/rollback.ts';
import { Approvals, type ApprovalRequest } from './approvals.ts';
import { failure } from '../errors.ts';
import { isDone } from '../../common/format.ts';
import type { Outcome } from '../../common/outcome.ts';

/** Parsed snapshots one RunHistory keeps: a snapshot never changes (it is named by its hash), and a page reads one several times. */
const PINNED_CACHE = 16;

/** The runbook text a run pinned when it started, and that text parsed. */
export interface PinnedRunbook {
  source: string;
  runbook: Runbook;
}

/** A step's verdict along a chain of resumed runs. */
export interface ChainVerdict {
  stepId: string;
  /** The verdict, or `unfinished`: that run began the step (some of its blocks ran) but did not decide it. */
  status: StepStatus | 'unfinished';
  reason?: string;
  decidedAt?: string;
  /** The run it comes from: the run asked about, or one it resumed. */
  runId: string;
}

/** What one run of a chain recorded about its steps. */
export interface RecordedSteps {
  runId: string;
  verdicts: readonly StoredStepVerdict[];
  /** Steps that have at least one block result in that run. */
  started: Iterable<string>;
}

/**
 * Each step's verdict along a chain of runs, nearest first (the run itself, then the run it
 * resumed, ...). The nearest run that did anything in a step decides it: its verdict, or
 * `unfinished` when it ran some of the step's blocks without reaching a verdict — an older
 * verdict no longer describes a step a later run started again. Pure.
 */
export function mergeChainVerdicts(chain: readonly RecordedSteps[]): Map<string, ChainVerdict> {
  const out = new Map<string, ChainVerdict>();
  for (const run of chain) {
    const decided = new Set<string>();
    for (const v of run.verdicts) {
      decided.add(v.stepId);
      if (out.has(v.stepId)) continue;
      out.set(v.stepId, { stepId: v.stepId, status: v.status, ...(v.reason !== undefined ? { reason: v.reason } : {}), decidedAt: v.decidedAt, runId: run.runId });
    }
    for (const stepId of run.started) {
      if (!decided.has(stepId) && !out.has(stepId)) out.set(stepId, { stepId, status: 'unfinished', runId: run.runId });
    }
  }
  return out;
}

/** Whether a step counts as done along the chain: a resumed run does not run it again. */
export function doneInChain(v: ChainVerdict | undefined): boolean {
  return v !== undefined && v.status !== 'unfinished' && isDone(v.status);
}

/** How the runbook file differs from the version a run used. */
export interface RunDrift {
  /** The version the run used. */
  ranHash: string;
  /** The file's version now; null when the runbook is gone or its file cannot be read. */
  currentHash: string | null;
  /** The runbook is no longer in the runbooks folder. */
  gone: boolean;
  /**
   * Each step's change (only the steps asked about, when given; unchanged ones included);
   * null when one of the two texts is not available, and `missing` says which.
   */
  steps: StepDrift[] | null;
  /** `pinned`: the version the run used was not kept; `current`: the file cannot be read or parsed. */
  missing: 'pinned' | 'current' | null;
}

/** The runbook file as it is now. */
interface CurrentRunbook {
  file: string;
  source: string | undefined;
  /** Parsed from `source` (the catalog may have read an older text a moment ago). */
  runbook: Runbook | undefined;
  hash: string | null;
}

/**
 * Reads recorded runs. Make one per request or command: it loads the catalog at most once
 * (loading reads every runbook file) and keeps what it read for its own lifetime.
 */
export class RunHistory {
  /** `<dataDir>/stepwise.db` is the store, so the data folder is where it lies. */
  readonly dataDir: string;
  private readonly pinnedCache = new Map<string, PinnedRunbook>();
  private loaded: { catalog: Catalog | undefined } | undefined;

  /** loadCatalog: the current runbooks; without it there is no drift and no current runbook. */
  constructor(
    private readonly store: RunStore,
    private readonly loadCatalog?: () => Catalog | undefined,
  ) {
    this.dataDir = path.dirname(store.path);
  }

  private catalog(): Catalog | undefined {
    this.loaded ??= { catalog: this.loadCatalog?.() };
    return this.loaded.catalog;
  }

  // --- runs and their records ---

  get(id: string): RunRecord | undefined {
    return this.store.getRun(id);
  }

  /** Newest first. */
  list(filter: RunFilter = {}): RunRecord[] {
    return this.store.listRuns(filter);
  }

  /** A run's own verdicts, in the order its steps were first decided. */
  verdicts(runId: string): StoredStepVerdict[] {
    return this.store.stepVerdicts(runId);
  }

  /** A run's block results in execution order. */
  blocks(runId: string): StoredBlockResult[] {
    return this.store.blockResults(runId);
  }

  /** The latest result of each block of a run. */
  latestBlocks(runId: string): Map<string, StoredBlockResult> {
    return this.store.latestBlockResults(runId);
  }

  /** The approvals a run waited for, in order of request, with their decisions. */
  approvals(runId: string): ApprovalRequest[] {
    return new Approvals(this.store).ofRun(runId);
  }

  /** A run's audit events, in chain order. */
  auditEvents(runId: string): AuditEvent[] {
    return this.store.auditEvents(runId);
  }

  /** The shell state (exports, directory) a run had reached, secrets masked. */
  shellState(runId: string): ShellState | undefined {
    return this.store.runState<ShellState>(runId);
  }

  // --- the resume chain ---

  /**
   * The run and the runs it resumed: itself first, then its parent, and so on. Stops at a
   * run that is not recorded, at a loop, and at a run of another runbook (resume never makes one).
   */
  chain(run: RunRecord): RunRecord[] {
    const out = [run];
    const seen = new Set([run.id]);
    for (let id = run.parentRunId; id !== null && !seen.has(id); ) {
      const parent = this.store.getRun(id);
      if (!parent || parent.runbookId !== run.runbookId) break;
      out.push(parent);
      seen.add(id);
      id = parent.parentRunId;
    }
    return out;
  }

  /** Runs that resumed this one, oldest first. */
  resumedBy(run: RunRecord): RunRecord[] {
    if (!run.runbookId) return [];
    return this.store
      .listRuns({ runbookId: run.runbookId, since: run.startedAt })
      .filter((r) => r.parentRunId === run.id)
      .reverse();
  }

  /** Each step's verdict along the run's chain (see mergeChainVerdicts). */
  chainVerdicts(run: RunRecord): Map<string, ChainVerdict> {
    return mergeChainVerdicts(
      this.chain(run).map((r) => ({
        runId: r.id,
        verdicts: this.store.stepVerdicts(r.id),
        started: this.store.startedSteps(r.id),
      })),
    );
  }

  // --- rollback ---

  /**
   * How the run was rolled back: by the latest run linked to it by options.rollbackOf, else in its
   * own shell (its chain has rollback-started) (server/run/rollback.ts); undefined when never.
   */
  rollback(run: RunRecord): ReportRollback | undefined {
    const texts = (r: RunRecord) => {
      const rb = this.runbookAsRun(r);
      return (id: string) => rb?.blocks[id]?.content ?? null;
    };
    // A linked run comes after any rollback in the run's own shell (made only once it has ended).
    const linked = run.runbookId
      ? this.store.listRuns({ runbookId: run.runbookId, since: run.startedAt }).filter((r) => r.options.rollbackOf === run.id)[0] // the latest attempt
      : undefined;
    if (linked) return rollbackSection(linked.id, this.store.auditEvents(linked.id), this.store.blockResults(linked.id), texts(linked));
    return rollbackSection(run.id, this.store.auditEvents(run.id), this.store.blockResults(run.id), texts(run));
  }

  // --- the runbook a run used ---

  /** The runbook text the run pinned when it started; undefined when it was not kept (or no longer parses). */
  pinned(run: RunRecord): PinnedRunbook | undefined {
    if (!run.contentHash || !run.runbookFile) return undefined;
    const key = `${run.contentHash}\u0000${run.runbookFile}`;
    const cached = this.pinnedCache.get(key);
    if (cached) return cached;
    const source = loadSnapshot(this.dataDir, run.contentHash);
    const runbook = source === undefined ? undefined : parseRunbook(source, run.runbookFile).runbook;
    const pinned = source !== undefined && runbook ? { source, runbook } : undefined;
    // A missing snapshot is not cached: a run starting now may be writing it.
    if (pinned) {
      if (this.pinnedCache.size >= PINNED_CACHE) this.pinnedCache.delete(this.pinnedCache.keys().next().value!);
      this.pinnedCache.set(key, pinned);
    }
    return pinned;
  }

  /** The catalog's runbook with the run's id, whatever its version. */
  currentRunbook(run: RunRecord): Runbook | undefined {
    return run.runbookId ? this.catalog()?.get(run.runbookId)?.runbook : undefined;
  }

  /** The runbook as the run used it: the catalog's when it is still that version, else the pinned snapshot. */
  runbookAsRun(run: RunRecord): Runbook | undefined {
    const current = this.currentRunbook(run);
    if (current && run.contentHash !== null && current.contentHash === run.contentHash) return current;
    return this.pinned(run)?.runbook;
  }

  /**
   * How the runbook file differs from the version the run used, for the steps in `only`
   * (all of them, plus added ones, when not given). Undefined when the run had no runbook or
   * the file is still that version, and when there is no catalog to compare with.
   */
  drift(run: RunRecord, only?: ReadonlySet<string>): RunDrift | undefined {
    if (!run.runbookId || !run.contentHash || !this.catalog()) return undefined;
    const current = this.currentFile(run.runbookId);
    if (!current) return { ranHash: run.contentHash, currentHash: null, gone: true, steps: null, missing: 'current' };
    if (current.hash === run.contentHash) return undefined;
    const base = { ranHash: run.contentHash, currentHash: current.hash, gone: false };
    const pinned = this.pinned(run);
    if (!pinned) return { ...base, steps: null, missing: 'pinned' };
    if (current.source === undefined || !current.runbook) return { ...base, steps: null, missing: 'current' };
    return { ...base, steps: runbookDrift(pinned.source, pinned.runbook, current.source, current.runbook, only), missing: null };
  }

  private currentFile(runbookId: string): CurrentRunbook | undefined {
    const catalog = this.catalog();
    const entry = catalog?.get(runbookId);
    if (!catalog || !entry) return undefined;
    let source: string | undefined;
    try {
      source = fs.readFileSync(path.join(catalog.dir, entry.file), 'utf8');
    } catch {
      source = undefined;
    }
    return {
      file: entry.file,
      source,
      runbook: source !== undefined ? parseRunbook(source, entry.file).runbook : undefined,
      hash: source !== undefined ? sha256(source) : entry.runbook?.contentHash ?? null,
    };
  }

  // --- the report ---

  /**
   * A run's report, with command texts and titles from the runbook as it ran (the pinned
   * snapshot when the file changed since); `runbookChanged` says the file is another version now.
   */
  report(runId: string): Outcome<RunReport> {
    const run = this.store.getRun(runId);
    if (!run) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(runId)}`) };
    const current = this.currentRunbook(run);
    const asRun = this.runbookAsRun(run);
    const approvals = this.approvals(run.id).map(({ id: _id, runId: _run, expiresAt: _exp, ...a }) => a);
    const report = buildReport(run, this.store.blockResults(run.id), this.store.stepVerdicts(run.id), asRun ?? current, approvals);
    if (current && current.contentHash !== run.contentHash) report.runbookChanged = true;
    return { ok: true, value: withRollback(report, this.rollback(run)) };
  }
}
