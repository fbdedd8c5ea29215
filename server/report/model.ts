// A run's report: everything recorded about one run, as plain data for auditors and CI.
// Pure: built from the stored records (and the runbook, when it is the version that ran);
// the renderers (junit.ts, markdown.ts) and the edge (export.ts) work from this.

import type { BlockEnd, BlockStatus, StepStatus } from '../../common/result.ts';
import type { ResultKind, RunRecord, RunStatus, StoredBlockResult, StoredStepVerdict } from '../record/store.ts';
import type { Runbook } from '../runbook/model.ts';
import type { ReportRollback } from './rollback.ts';

/** Identifies the JSON shape; bump the number on an incompatible change. */
export const REPORT_SCHEMA = 'stepwise-run-report/1';

/** A step's outcome: its verdict, or `not-run` when the run recorded none. */
export type ReportStepStatus = StepStatus | 'not-run';

export interface ReportHeader {
  id: string;
  runbookId: string | null;
  runbookTitle: string | null;
  runbookFile: string | null;
  /** sha256 of the runbook file as it ran: the runbook's version. */
  contentHash: string | null;
  target: string;
  user: string;
  /** ISO 8601 (UTC). */
  startedAt: string;
  endedAt: string | null;
  /** endedAt - startedAt; null while the run has not ended. */
  durationMs: number | null;
  status: RunStatus;
  /** As stored: secrets are already masked. */
  vars: Record<string, string>;
  options: Record<string, unknown>;
  parentRunId: string | null;
}

/** One execution of a block (a block run twice has two, with attempt 1 and 2). */
export interface ReportExecution {
  /** Order of execution within the run, from 1. */
  seq: number;
  /** 1 for the block's first execution in this run, 2 for the next (a re-run or a retry), ... */
  attempt: number;
  /** The executor's own attempt number within one execution with `retries`, when recorded. */
  retryAttempt?: number;
  id: string;
  kind: ResultKind;
  /** The block's text from the runbook; null when the runbook (as it ran) is not available. */
  command: string | null;
  /** Target path of a file block (from the runbook). */
  file?: string;
  status: BlockStatus;
  exitCode: number | null;
  output: string;
  durationMs: number;
  end: BlockEnd;
  reason: string | null;
  /** sha256 hex of the full raw output. */
  outputDigest: string | null;
  /** Seconds into the recording when the block began. */
  castTime: number | null;
  startedAt: string;
  /** A runbook that spans hosts: the block's role and the host it ran on (castTime is in that role's recording). */
  role?: string;
  host?: string;
}

export interface ReportStep {
  id: string;
  /** From the runbook; null when it is not available. */
  title: string | null;
  status: ReportStepStatus;
  reason: string | null;
  decidedAt: string | null;
  /** Sum of its executions' durations. */
  durationMs: number;
  /** In execution order. */
  executions: ReportExecution[];
}

export interface ReportTotals {
  passed: number;
  failed: number;
  warning: number;
  skipped: number;
  notRun: number;
}

/** A four-eyes approval the run waited for before a block (approve=N), and who decided. */
export interface ReportApproval {
  stepId: string;
  blockId: string;
  need: number;
  /** The run's operator, who could not approve it. */
  operator: string;
  state: 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';
  requestedAt: string;
  decidedAt: string | null;
  decisions: Array<{ user: string; decision: 'approve' | 'reject'; comment: string; at: string }>;
}

export interface RunReport {
  schema: typeof REPORT_SCHEMA;
  /** In order of request; present when the run waited for any approval. */
  approvals?: ReportApproval[];
  run: ReportHeader;
  /** The runbook given has a different content hash than the run: command texts and titles are not shown. */
  runbookChanged: boolean;
  /** Step order, titles and command texts come from the runbook as it ran. */
  runbookMatched: boolean;
  /** In runbook order when the runbook matched, else in order of first result. */
  steps: ReportStep[];
  totals: ReportTotals;
  /** How the run was rolled back, when it was (report/rollback.ts): its blocks are not in `steps`. */
  rollback?: ReportRollback;
}

/** One stored block result as a report shows it (the run's blocks, and a rollback's). */
export function reportExecution(b: StoredBlockResult, attempt: number, command: string | null, file?: string): ReportExecution {
  const retry = (b as { attempt?: unknown }).attempt;
  return {
    seq: b.seq,
    attempt,
    ...(typeof retry === 'number' ? { retryAttempt: retry } : {}),
    id: b.id,
    kind: b.kind,
    command,
    ...(file !== undefined ? { file } : {}),
    status: b.status,
    exitCode: b.exitCode,
    output: b.output,
    durationMs: b.durationMs,
    end: b.end,
    reason: b.reason ?? null,
    outputDigest: b.outputDigest ?? null,
    castTime: b.castTime ?? null,
    startedAt: b.startedAt,
    ...(b.role !== undefined ? { role: b.role } : {}),
    ...(b.host !== undefined ? { host: b.host } : {}),
  };
}

/**
 * Build the report. `runbook` is used only when its content hash equals the run's;
 * a different one sets `runbookChanged` and is otherwise ignored.
 */
export function buildReport(
  run: RunRecord,
  blocks: StoredBlockResult[],
  verdicts: StoredStepVerdict[],
  runbook?: Runbook,
  approvals: readonly ReportApproval[] = [],
): RunReport {
  const matched = runbook !== undefined && run.contentHash !== null && runbook.contentHash === run.contentHash;
  const rb = matched ? runbook : undefined;

  const ordered = [...blocks].sort((a, b) => a.seq - b.seq);
  const verdictOf = new Map(verdicts.map((v) => [v.stepId, v]));

  // Step order: the runbook's, then anything recorded that it does not know (first result, then verdicts).
  const stepIds: string[] = [];
  const seen = new Set<string>();
  const add = (id: string): void => {
    if (!seen.has(id)) {
      seen.add(id);
      stepIds.push(id);
    }
  };
  rb?.steps.forEach((s) => add(s.id));
  ordered.forEach((b) => add(b.stepId));
  verdicts.forEach((v) => add(v.stepId));

  const attempts = new Map<string, number>();
  const executions = new Map<string, ReportExecution[]>();
  for (const b of ordered) {
    const attempt = (attempts.get(b.id) ?? 0) + 1;
    attempts.set(b.id, attempt);
    const block = rb?.blocks[b.id];
    const e = reportExecution(b, attempt, block ? block.content : null, block?.file);
    executions.set(b.stepId, [...(executions.get(b.stepId) ?? []), e]);
  }

  const totals: ReportTotals = { passed: 0, failed: 0, warning: 0, skipped: 0, notRun: 0 };
  const steps = stepIds.map((id): ReportStep => {
    const v = verdictOf.get(id);
    const ex = executions.get(id) ?? [];
    const status: ReportStepStatus = v ? v.status : 'not-run';
    const reason = v ? (v.reason ?? null) : ex.length ? 'no verdict: the step was started but not all of its blocks ran' : null;
    if (status === 'not-run') totals.notRun++;
    else totals[status]++;
    return {
      id,
      title: rb?.steps.find((s) => s.id === id)?.title ?? null,
      status,
      reason,
      decidedAt: v?.decidedAt ?? null,
      durationMs: ex.reduce((t, e) => t + e.durationMs, 0),
      executions: ex,
    };
  });

  const started = Date.parse(run.startedAt);
  const ended = run.endedAt === null ? NaN : Date.parse(run.endedAt);
  return {
    schema: REPORT_SCHEMA,
    run: {
      id: run.id,
      runbookId: run.runbookId,
      runbookTitle: run.runbookTitle,
      runbookFile: run.runbookFile,
      contentHash: run.contentHash,
      target: run.target,
      user: run.user,
      startedAt: run.startedAt,
      endedAt: run.endedAt,
      durationMs: Number.isFinite(started) && Number.isFinite(ended) ? Math.max(0, ended - started) : null,
      status: run.status,
      vars: { ...run.vars },
      options: { ...run.options },
      parentRunId: run.parentRunId,
    },
    ...(approvals.length ? { approvals: approvals.map((a) => ({ ...a, decisions: a.decisions.map((d) => ({ ...d })) })) } : {}),
    runbookChanged: runbook !== undefined && !matched,
    runbookMatched: matched,
    steps,
    totals,
  };
}

/** The label of a step for people and test names: `id: title`, or the id alone. */
export function stepLabel(step: ReportStep): string {
  return step.title ? `${step.id}: ${step.title}` : step.id;
}
