// What a fleet looks like to the API, the page and the reports (GET /api/fleets/:id): built from
// its records and each host's step verdicts. Pure: the caller reads the records.
import type { FleetHostRecord, FleetHostStatus, FleetRecord, FleetStatus } from '../record/fleets.ts';
import { budgetState, failureBudget, fleetCounts, parseMaxFail, type FleetCounts } from './fleet-schedule.ts';

/** A cell of the hosts × steps matrix. `not-run`: the host ended without reaching the step. */
export type FleetStepStatus = 'pending' | 'running' | 'passed' | 'failed' | 'warning' | 'skipped' | 'not-run';

export interface FleetHostView {
  host: string;
  /** Reserved when the fleet was made: the run's id once it starts (no run has it if it never did). */
  runId: string;
  /** Whether a run with runId exists (false for a host skipped before it started). */
  started: boolean;
  status: FleetHostStatus;
  reason?: string;
  batch: number;
  /** The earlier run this host's run resumes (a resumed fleet). */
  resumeOf?: string;
  steps: Array<{ id: string; status: FleetStepStatus; reason?: string }>;
}

export interface FleetView {
  id: string;
  runbook: string;
  target: string;
  user: string;
  status: FleetStatus;
  reason?: string;
  startedAt: string;
  endedAt: string | null;
  parentFleetId: string | null;
  /** Whether this process drives it now (else its records only). */
  live: boolean;
  parallel: number;
  maxFail: string;
  batches: string | null;
  budget: { maxFail: string; allowed: number; failed: number; exhausted: boolean };
  counts: FleetCounts;
  steps: Array<{ id: string; title: string }>;
  hosts: FleetHostView[];
}

export interface HostFacts {
  /** Whether the host's run exists. */
  started: boolean;
  /** Each step's verdict along the run's chain (a resumed run's earlier steps from its parent). */
  verdicts: ReadonlyMap<string, { status: string; reason?: string }>;
  /** The step running now, when known (a live fleet). */
  runningStep?: string;
}

export function buildFleetView(
  f: FleetRecord,
  hosts: readonly FleetHostRecord[],
  steps: ReadonlyArray<{ id: string; title: string }>,
  facts: (h: FleetHostRecord) => HostFacts,
  live: boolean,
): FleetView {
  const mf = parseMaxFail(f.maxFail);
  const allowed = failureBudget(mf.ok ? mf.value : { count: 0 }, hosts.length);
  const { failed, exhausted } = budgetState(hosts, allowed);
  return {
    id: f.id,
    runbook: f.runbookId,
    target: f.target,
    user: f.user,
    status: f.status,
    ...(f.reason !== null ? { reason: f.reason } : {}),
    startedAt: f.startedAt,
    endedAt: f.endedAt,
    parentFleetId: f.parentFleetId,
    live,
    parallel: f.parallel,
    maxFail: f.maxFail,
    batches: f.batches,
    budget: { maxFail: f.maxFail, allowed, failed, exhausted },
    counts: fleetCounts(hosts),
    steps: steps.map((s) => ({ id: s.id, title: s.title })),
    hosts: hosts.map((h) => {
      const x = facts(h);
      const ended = h.status !== 'pending' && h.status !== 'running';
      return {
        host: h.host,
        runId: h.runId,
        started: x.started,
        status: h.status,
        ...(h.reason !== null ? { reason: h.reason } : {}),
        batch: h.batch,
        ...(h.resumeOf !== null ? { resumeOf: h.resumeOf } : {}),
        steps: steps.map((s) => {
          const v = x.verdicts.get(s.id);
          if (v && v.status !== 'unfinished') return { id: s.id, status: v.status as FleetStepStatus, ...(v.reason !== undefined ? { reason: v.reason } : {}) };
          if (x.runningStep === s.id && !ended) return { id: s.id, status: 'running' as const };
          return { id: s.id, status: ended ? ('not-run' as const) : ('pending' as const) };
        }),
      };
    }),
  };
}
