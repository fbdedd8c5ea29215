// Where a resumed run picks up: the first step its predecessors did not get through, with
// the same inputs and the shell state they had reached. Reads the records through RunHistory,
// so "got through" means what the pages and the report show (history.ts: mergeChainVerdicts).
import type { RunRecord } from '../record/store.ts';
import type { Runbook } from '../runbook/model.ts';
import type { ShellState } from '../exec/state.ts';
import { failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';
import { doneInChain, type RunHistory } from './history.ts';
import { earlierRollbacks } from './rollback.ts';

export interface ResumePoint {
  parent: RunRecord;
  fromStepId: string;
  /** The parent's non-secret values; secrets are masked in records and must come anew. */
  vars: Record<string, string>;
  state?: ShellState;
  notes: string[];
}

export function resumePoint(history: RunHistory, parentId: string, runbook: Runbook): Outcome<ResumePoint> {
  const parent = history.get(parentId);
  if (!parent) return { ok: false, error: failure('NOT_FOUND', `no run ${JSON.stringify(parentId)} to resume`, 'resume') };
  if (parent.runbookId !== runbook.id) {
    return { ok: false, error: failure('BAD_REQUEST', `run ${parentId} ran runbook ${parent.runbookId ?? '(none)'}, not ${runbook.id}`, 'resume') };
  }
  if (parent.status === 'running') return { ok: false, error: failure('BAD_REQUEST', `run ${parentId} is still running`, 'resume') };
  // A rollback run (rollback.ts) undid steps: going on from it would run the runbook forward on a host rolled back.
  if (typeof parent.options.rollbackOf === 'string') {
    return { ok: false, error: failure('BAD_REQUEST', `run ${parentId} is the rollback of run ${parent.options.rollbackOf}: a rollback is not resumed; start a new run`, 'resume') };
  }
  const verdicts = history.chainVerdicts(parent);
  // A step a rollback undid (rollback.ts) is not done any more: the resumed run does it again.
  const undone = new Set(history.chain(parent).flatMap((r) => [...earlierRollbacks(history, r).undone]));
  const from = runbook.steps.find((s) => !doneInChain(verdicts.get(s.id)) || undone.has(s.id));
  if (!from) return { ok: false, error: failure('BAD_REQUEST', `run ${parentId} has no failed or unfinished step to resume`, 'resume') };
  const secret = new Set(runbook.vars.filter((v) => v.secret).map((v) => v.name));
  const declared = new Set(runbook.vars.map((v) => v.name));
  const vars = Object.fromEntries(Object.entries(parent.vars).filter(([k]) => declared.has(k) && !secret.has(k)));
  const notes: string[] = [];
  if (parent.contentHash !== runbook.contentHash) notes.push(changedNote(history, parent, runbook));
  if (secret.size) notes.push(`secret variables (${[...secret].join(', ')}) are not stored: give them again with --var, or their defaults are used`);
  const state = history.shellState(parentId);
  if (state && Object.values(state.env).some((v) => v.includes('****'))) notes.push('exported values that contained a secret are restored masked');
  return { ok: true, value: { parent, fromStepId: from.id, vars, ...(state ? { state } : {}), notes } };
}

/** The runbook changed since the parent ran: which steps, when both versions are at hand. */
function changedNote(history: RunHistory, parent: RunRecord, runbook: Runbook): string {
  const note = `runbook ${runbook.id} changed since run ${parent.id} started`;
  const steps = history.drift(parent)?.steps;
  if (!steps) return note;
  const named = (change: string) => steps.filter((d) => d.change === change).map((d) => d.stepId);
  const parts = (['changed', 'removed', 'added'] as const)
    .map((c) => [c, named(c)] as const)
    .filter(([, ids]) => ids.length > 0)
    .map(([c, ids]) => `${c}: ${ids.join(', ')}`);
  return parts.length ? `${note} (steps ${parts.join('; ')})` : note;
}
