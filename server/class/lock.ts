// The training lock: in a training run a step's commands run only once every earlier step is
// done (passed, warning or skipped). Checks may run at any time (they change nothing). Pure.
import { isDone } from '../../common/format.ts';
import type { Runbook } from '../runbook/model.ts';
import type { StepStatus } from '../../common/result.ts';

export interface LockInput {
  runbook: Pick<Runbook, 'steps'>;
  /** The run's latest verdict per step. */
  verdicts: ReadonlyArray<{ stepId: string; status: StepStatus }>;
  /** The step to execute. */
  stepId: string;
  /** A resumed run picks up here: the steps before it were done by its predecessors. */
  resumedFromStep?: string;
}

/**
 * The first earlier step that must be done before `stepId` may run, or undefined when it may.
 * A step with nothing to execute (prose only) never holds later steps back: it has no verdict
 * to wait for.
 */
export function lockingStep(i: LockInput): { id: string; title: string } | undefined {
  const steps = i.runbook.steps;
  const at = steps.findIndex((s) => s.id === i.stepId);
  if (at <= 0) return undefined;
  const from = i.resumedFromStep === undefined ? 0 : Math.max(0, steps.findIndex((s) => s.id === i.resumedFromStep));
  const status = new Map(i.verdicts.map((v) => [v.stepId, v.status]));
  for (let k = from; k < at; k++) {
    const s = steps[k]!;
    if (s.commands.length + s.checks.length === 0) continue;
    if (!isDone(status.get(s.id))) return { id: s.id, title: s.title };
  }
  return undefined;
}
