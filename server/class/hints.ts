// Hints and solutions: which of a step's hints are revealed, whether its solution may be, and
// the runbook as anyone may read it (without them). Pure: the reveals are audit events of the
// seat's runs, read by the caller (server/class/classroom.ts).
import type { Runbook, Step } from '../runbook/model.ts';
import { FAILS_FOR_SOLUTION } from './progress.ts';

export interface HintState {
  /** The hints revealed so far, in order. */
  revealed: string[];
  /** How many are still held back. */
  remaining: number;
  /** The solution's text once revealed; null before (or when the step has none). */
  solution: string | null;
  hasSolution: boolean;
  /** Whether the trainee may reveal the solution now (FAILS_FOR_SOLUTION failed attempts). */
  solutionUnlocked: boolean;
  failures: number;
}

export function hintState(step: Pick<Step, 'hints' | 'solution'>, seen: { hints: number; solution: boolean; failures: number }): HintState {
  const hints = step.hints ?? [];
  const shown = Math.min(seen.hints, hints.length);
  const hasSolution = step.solution !== undefined;
  return {
    revealed: hints.slice(0, shown),
    remaining: hints.length - shown,
    solution: hasSolution && seen.solution ? step.solution! : null,
    hasSolution,
    solutionUnlocked: hasSolution && seen.failures >= FAILS_FOR_SOLUTION,
    failures: seen.failures,
  };
}

/** The runbook without any step's hints or solution: what the API and pages may send. */
export function withoutAsides(rb: Runbook): Runbook {
  if (!rb.steps.some((s) => s.hints !== undefined || s.solution !== undefined)) return rb;
  return {
    ...rb,
    steps: rb.steps.map((s) => {
      const { hints: _h, solution: _s, ...rest } = s;
      return { ...rest, ...(s.hints ? { hintCount: s.hints.length } : {}), ...(s.solution !== undefined ? { hasSolution: true } : {}) } as Step;
    }),
  };
}
