// How a run ends: the one place its final status is decided. Pure.
import type { RunStatus } from '../record/store.ts';
import type { StepStatus } from '../../common/result.ts';

export interface StatusInput {
  /** The runbook's step ids in order (none for a bare terminal). */
  steps: readonly string[];
  /** This run's latest verdict per step. */
  verdicts: ReadonlyArray<{ stepId: string; status: StepStatus }>;
  /** A resumed run picks up at this step: the ones before it were done by its predecessors. */
  resumedFromStep?: string;
  /** Why it stopped early, if it did: interrupted (signal, lost owner) or failed (a step could not run). */
  stopped?: 'interrupted' | 'failed' | 'expired';
}

/** interrupted, expired (a class's time ran out) or failed when stopped so; failed on any failed step; passed when every step has a verdict; else ended. */
export function decideStatus(i: StatusInput): RunStatus {
  if (i.stopped === 'interrupted') return 'interrupted';
  if (i.stopped === 'expired') return 'expired';
  if (i.stopped === 'failed' || i.verdicts.some((v) => v.status === 'failed')) return 'failed';
  const from = i.resumedFromStep === undefined ? 0 : Math.max(0, i.steps.indexOf(i.resumedFromStep));
  const due = i.steps.slice(from);
  if (i.steps.length && due.every((s) => i.verdicts.some((v) => v.stepId === s))) return 'passed';
  return 'ended';
}
