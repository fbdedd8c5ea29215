// A trainee's progress through the class's runbook, from the audit events of the runs their
// seat has had (a rejoin after the session ended resumes into a new run): per step its status,
// attempts, hints revealed and time spent, the step they are at, and whether they look stuck.
// Pure: the caller reads the events; the trainer's matrix and the class report are built on it.
import { isDone } from '../../common/format.ts';

/** The events progress reads, oldest first, from every run of the seat. */
export type ProgressEvent =
  | { type: 'run-started'; at: string; runId: string }
  | { type: 'step-verdict'; at: string; stepId: string; status: string }
  | { type: 'hint-revealed'; at: string; stepId: string }
  | { type: 'solution-revealed'; at: string; stepId: string }
  /** Anything else the trainee did (a block started or finished): only counts as activity. */
  | { type: 'activity'; at: string };

export interface ProgressStep {
  id: string;
  /** Steps with no command or check have nothing to pass: they never hold a trainee. */
  executable: boolean;
}

export interface ProgressInput {
  steps: readonly ProgressStep[];
  events: readonly ProgressEvent[];
  now: number;
  /** No step passed for this long → stuck. */
  stuckMinutes: number;
  /** A step failed this many times (and not passed since) → stuck. */
  failLimit?: number;
  /** The seat's current run has ended (the class ended, time ran out): nobody is stuck then. */
  ended?: boolean;
}

export type StepProgressStatus = 'pending' | 'passed' | 'failed' | 'warning' | 'skipped';

export interface StepProgress {
  id: string;
  status: StepProgressStatus;
  /** Verdicts the step got (each Run step, or each check that completed it). */
  attempts: number;
  /** Failed verdicts: the solution unlocks at FAILS_FOR_SOLUTION. */
  failures: number;
  hintsUsed: number;
  solutionRevealed: boolean;
  /** From when the step became the current one until it was done (or now, while current). */
  secondsOnStep: number;
}

export interface TraineeProgress {
  /** The first step not done yet; null when every step is done (or nothing has started). */
  current: string | null;
  /** ISO 8601: the latest thing the trainee did; null before they joined. */
  lastActivity: string | null;
  stuck: boolean;
  /** Why stuck, in words for the trainer (empty when not). */
  stuckReason: 'idle' | 'failing' | null;
  steps: StepProgress[];
  /** Steps done of the steps that can be done (0..1). */
  completion: number;
}

/** Failures at one step before its solution may be revealed, and before the trainee counts as stuck. */
export const FAILS_FOR_SOLUTION = 3;
/** The default for a class's stuckMinutes: no step passed for this long. */
export const DEFAULT_STUCK_MINUTES = 10;

const ms = (iso: string) => Date.parse(iso);

export function computeProgress(i: ProgressInput): TraineeProgress {
  const failLimit = i.failLimit ?? FAILS_FOR_SOLUTION;
  const per = new Map<string, { status: StepProgressStatus; attempts: number; failures: number; hints: number; solution: boolean; doneAt?: number }>();
  for (const s of i.steps) per.set(s.id, { status: 'pending', attempts: 0, failures: 0, hints: 0, solution: false });
  let started: number | undefined;
  let last: number | undefined;
  let lastDone: number | undefined;
  for (const e of i.events) {
    const t = ms(e.at);
    if (!Number.isFinite(t)) continue;
    last = last === undefined ? t : Math.max(last, t);
    if (e.type === 'run-started') {
      started ??= t;
      continue;
    }
    if (e.type === 'activity') continue;
    const p = per.get(e.stepId);
    if (!p) continue; // a step the runbook no longer has
    if (e.type === 'hint-revealed') p.hints++;
    else if (e.type === 'solution-revealed') p.solution = true;
    else {
      p.attempts++;
      if (e.status === 'failed') p.failures++;
      p.status = (['passed', 'failed', 'warning', 'skipped'] as const).find((x) => x === e.status) ?? p.status;
      if (isDone(p.status)) {
        p.doneAt ??= t;
        lastDone = t;
      }
    }
  }
  // The current step: the first executable one not done. Time on a step runs from the moment
  // the previous executable step was done (or the seat's first run started) to its own done.
  let current: string | null = null;
  let since = started;
  const steps: StepProgress[] = [];
  for (const s of i.steps) {
    const p = per.get(s.id)!;
    let seconds = 0;
    if (s.executable && current === null) {
      if (isDone(p.status)) {
        if (since !== undefined && p.doneAt !== undefined) seconds = Math.max(0, (p.doneAt - since) / 1000);
        if (p.doneAt !== undefined) since = p.doneAt;
      } else {
        current = s.id;
        if (since !== undefined && !i.ended) seconds = Math.max(0, (i.now - since) / 1000);
        else if (since !== undefined && last !== undefined) seconds = Math.max(0, (last - since) / 1000);
      }
    } else if (s.executable && isDone(p.status) && p.doneAt !== undefined && since !== undefined) {
      // Done out of order (not a training class): time since the step before it was done.
      seconds = Math.max(0, (p.doneAt - since) / 1000);
    }
    steps.push({ id: s.id, status: p.status, attempts: p.attempts, failures: p.failures, hintsUsed: p.hints, solutionRevealed: p.solution, secondsOnStep: Math.round(seconds) });
  }
  const doable = i.steps.filter((s) => s.executable);
  const done = doable.filter((s) => isDone(per.get(s.id)!.status)).length;
  let stuckReason: TraineeProgress['stuckReason'] = null;
  if (started !== undefined && current !== null && !i.ended) {
    const failing = i.steps.some((s) => {
      const p = per.get(s.id)!;
      return !isDone(p.status) && p.failures >= failLimit;
    });
    const quietFor = i.now - (lastDone ?? started);
    if (failing) stuckReason = 'failing';
    else if (quietFor >= i.stuckMinutes * 60_000) stuckReason = 'idle';
  }
  return {
    current: started === undefined ? null : current,
    lastActivity: last === undefined ? null : new Date(last).toISOString(),
    stuck: stuckReason !== null,
    stuckReason,
    steps,
    completion: doable.length ? done / doable.length : 0,
  };
}
