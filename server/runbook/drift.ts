// How a runbook changed since a run pinned it: per step, unchanged, changed (with a unified
// diff of the step's Markdown), removed or added. Pure.
import { createPatch } from 'diff';
import type { Runbook } from './model.ts';

export interface StepDrift {
  stepId: string;
  title: string;
  change: 'unchanged' | 'changed' | 'removed' | 'added';
  diff?: string;
}

/** The Markdown of each step: from its H2 to the line before the next H2. */
export function stepSources(source: string, rb: Runbook): Map<string, string> {
  const lines = source.split('\n');
  const out = new Map<string, string>();
  rb.steps.forEach((s, i) => {
    const end = i + 1 < rb.steps.length ? rb.steps[i + 1].line - 1 : lines.length;
    out.set(s.id, lines.slice(s.line - 1, end).join('\n').replace(/\s+$/, '') + '\n');
  });
  return out;
}

export function runbookDrift(pinnedSource: string, pinned: Runbook, currentSource: string, current: Runbook, only?: ReadonlySet<string>): StepDrift[] {
  const before = stepSources(pinnedSource, pinned);
  const after = stepSources(currentSource, current);
  const drift: StepDrift[] = [];
  for (const s of pinned.steps) {
    if (only && !only.has(s.id)) continue;
    const now = after.get(s.id);
    if (now === undefined) drift.push({ stepId: s.id, title: s.title, change: 'removed' });
    else if (now === before.get(s.id)) drift.push({ stepId: s.id, title: s.title, change: 'unchanged' });
    else drift.push({ stepId: s.id, title: s.title, change: 'changed', diff: createPatch(`${pinned.file}#${s.id}`, before.get(s.id)!, now, 'as run', 'now') });
  }
  if (!only) {
    for (const s of current.steps) if (!before.has(s.id)) drift.push({ stepId: s.id, title: s.title, change: 'added' });
  }
  return drift;
}
