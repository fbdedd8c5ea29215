// The rollback section of a run's report (server/run/rollback.ts does the rolling back).
// Pure: built from a chain's rollback-started/rollback-ended events and the block results of
// the run that holds the rollback — the failed run itself (rolled back in its own shell) or
// the run linked to it by options.rollbackOf.
import type { AuditEvent } from '../record/chain.ts';
import type { StoredBlockResult } from '../record/store.ts';
import { reportExecution, type ReportExecution, type RunReport } from './model.ts';

export interface ReportRollback {
  /** The failed run rolled back. */
  of: string;
  /** The run whose shell ran the rollback and whose records (results, recording, chain) hold it. */
  runId: string;
  /** running: started, no end recorded (yet); passed: every rollback block ran; failed: stopped at failedBlock. */
  status: 'running' | 'passed' | 'failed';
  /** Who asked for it. */
  by: string | null;
  startedAt: string;
  endedAt: string | null;
  /** The steps to undo, in the order undone (the last step first). */
  planned: string[];
  /** The steps whose rollback blocks all ran. */
  undone: string[];
  failedBlock: string | null;
  reason: string | null;
  /** The rollback blocks' executions, in order. */
  executions: Array<ReportExecution & { stepId: string }>;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * The rollback recorded in `events` (the chain of run `runId`), with its block results from
 * `results` (that run's); undefined when the chain has none.
 */
export function rollbackSection(runId: string, events: readonly AuditEvent[], results: readonly StoredBlockResult[], texts: (blockId: string) => string | null = () => null): ReportRollback | undefined {
  // A rollback that stopped part-way may be tried again in the same shell: the first attempt's
  // plan, the latest attempt's outcome, the steps undone by any of them, every block they ran.
  const starts = events.flatMap((e, i) => (e.type === 'rollback-started' ? [i] : []));
  if (!starts.length) return undefined;
  const first = events[starts[0]!]!;
  const last = starts.at(-1)!;
  const started = events[last]!;
  const ended = events.slice(last).find((e) => e.type === 'rollback-ended');
  const blocks = new Set(starts.flatMap((i) => strings(events[i]!.data.blocks)));
  const undone = [...new Set(events.filter((e) => e.type === 'rollback-ended').flatMap((e) => strings(e.data.steps)))];
  const status = ended ? (ended.data.status === 'passed' ? 'passed' : 'failed') : 'running';
  const executions = results
    .filter((r) => blocks.has(r.id))
    .sort((a, b) => a.seq - b.seq)
    .map((r) => ({ ...reportExecution(r, 1, texts(r.id)), stepId: r.stepId }));
  return {
    of: typeof started.data.of === 'string' ? started.data.of : runId,
    runId,
    status,
    by: typeof started.data.by === 'string' ? started.data.by : null,
    startedAt: first.ts,
    endedAt: ended?.ts ?? null,
    planned: strings(first.data.steps),
    undone,
    failedBlock: typeof ended?.data.failedBlock === 'string' ? ended.data.failedBlock : null,
    reason: typeof ended?.data.reason === 'string' ? ended.data.reason : null,
    executions,
  };
}

/**
 * The report with its rollback section: the rollback blocks' executions move out of their
 * steps (they undid the step; they are not part of its verdict) into `rollback`.
 */
export function withRollback(report: RunReport, rollback: ReportRollback | undefined): RunReport {
  if (!rollback) return report;
  const moved = rollback.runId === report.run.id ? new Set(rollback.executions.map((e) => e.seq)) : new Set<number>();
  const steps = report.steps.map((s) => {
    const executions = s.executions.filter((e) => !moved.has(e.seq));
    return executions.length === s.executions.length ? s : { ...s, executions, durationMs: executions.reduce((t, e) => t + e.durationMs, 0) };
  });
  return { ...report, steps, rollback };
}
