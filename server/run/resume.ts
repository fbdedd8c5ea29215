// Where a resumed run picks up: the first step its predecessors did not get through, with
// the same inputs and the shell state they had reached.
import type { RunStore, RunRecord } from '../record/store.ts';
import type { Runbook } from '../runbook/model.ts';
import type { ShellState } from '../exec/state.ts';
import { failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';

export interface ResumePoint {
  parent: RunRecord;
  fromStepId: string;
  /** The parent's non-secret values; secrets are masked in records and must come anew. */
  vars: Record<string, string>;
  state?: ShellState;
  notes: string[];
}

const DONE = new Set(['passed', 'warning', 'skipped']);

export function resumePoint(store: RunStore, parentId: string, runbook: Runbook): Outcome<ResumePoint> {
  const parent = store.getRun(parentId);
  if (!parent) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(parentId)} to resume`, 'resume') };
  if (parent.runbookId !== runbook.id) {
    return { ok: false, error: failure('BAD_REQUEST', `run ${parentId} ran runbook ${parent.runbookId ?? '(none)'}, not ${runbook.id}`, 'resume') };
  }
  if (parent.status === 'running') return { ok: false, error: failure('BAD_REQUEST', `run ${parentId} is still running`, 'resume') };
  // Latest verdict per step along the chain of resumed runs (nearest wins).
  const verdicts = new Map<string, string>();
  const seen = new Set<string>();
  for (let r: RunRecord | undefined = parent; r && !seen.has(r.id); r = r.parentRunId ? store.getRun(r.parentRunId) : undefined) {
    seen.add(r.id);
    for (const v of store.stepVerdicts(r.id)) if (!verdicts.has(v.stepId)) verdicts.set(v.stepId, v.status);
  }
  const from = runbook.steps.find((s) => !DONE.has(verdicts.get(s.id) ?? ''));
  if (!from) return { ok: false, error: failure('BAD_REQUEST', `run ${parentId} has no failed or unfinished step to resume`, 'resume') };
  const secret = new Set(runbook.vars.filter((v) => v.secret).map((v) => v.name));
  const declared = new Set(runbook.vars.map((v) => v.name));
  const vars = Object.fromEntries(Object.entries(parent.vars).filter(([k]) => declared.has(k) && !secret.has(k)));
  const notes: string[] = [];
  if (parent.contentHash !== runbook.contentHash) notes.push(`runbook ${runbook.id} changed since run ${parentId} started`);
  if (secret.size) notes.push(`secret variables (${[...secret].join(', ')}) are not stored: give them again with --var, or their defaults are used`);
  const state = store.runState<ShellState>(parentId);
  if (state && Object.values(state.env).some((v) => v.includes('****'))) notes.push('exported values that contained a secret are restored masked');
  return { ok: true, value: { parent, fromStepId: from.id, vars, ...(state ? { state } : {}), notes } };
}
