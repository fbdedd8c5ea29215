// What a run would do on a target, without running anything. Pure.
import type { Block, Runbook } from '../runbook/model.ts';
import { skipReason } from './verifier.ts';
import type { PlannedBlock, PlannedStep } from '../../common/result.ts';

export type { PlannedBlock, PlannedStep };

/** Substitutes `$NAME` and `${NAME}` of the given variables (no other expansion). */
export function substituteShown(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, a?: string, b?: string) => {
    const name = (a ?? b)!;
    return Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : all;
  });
}

export function planRun(
  rb: Runbook,
  shownVars: Record<string, string>,
  target: { id: string; platform: string; capabilities: ReadonlySet<string> },
  steps = rb.steps,
  /** `roles`: a runbook that spans hosts, each role's target (a block is planned on its role's; `target` for the rest). */
  opts: { interactive?: boolean; roles?: Record<string, { id: string; platform: string; capabilities: ReadonlySet<string> }> } = {},
): PlannedStep[] {
  return steps.map((s) => ({
    id: s.id,
    title: s.title,
    blocks: [...s.commands, ...s.checks, ...(s.rollback ?? [])].map((id) => {
      const b = rb.blocks[id];
      if (b.rollback) {
        // Never run forward: shown so a reader knows how this step would be undone.
        return { id, kind: b.kind, action: 'rollback', reason: 'rollback: runs only when a failed run is rolled back', confirm: b.confirm, text: blockText(b, shownVars) } satisfies PlannedBlock;
      }
      const on = (b.on !== undefined && opts.roles?.[b.on]) || target;
      const reason = skipReason(b, on, rb.os) ?? (b.interactive && opts.interactive === false ? 'interactive: needs a person at the terminal' : undefined);
      const text = blockText(b, shownVars);
      return { id, kind: b.kind, action: reason ? 'skip' : 'run', ...(reason ? { reason } : {}), confirm: b.confirm, text, ...(b.on !== undefined ? { role: b.on } : {}) } satisfies PlannedBlock;
    }),
  }));
}

function blockText(b: Block, shownVars: Record<string, string>): string {
  return b.kind === 'file' ? `write ${substituteShown(b.file ?? '', shownVars)}:\n${substituteShown(b.content, shownVars)}` : substituteShown(b.content, shownVars);
}

/**
 * The order a rollback undoes a run in: the rollback blocks of the steps that had passed, the
 * last step first and, within a step, the last block first (each undoes what came after it).
 */
export function rollbackOrder(rb: Runbook, passed: ReadonlySet<string>): Array<{ stepId: string; blocks: Block[] }> {
  return rb.steps
    .filter((s) => passed.has(s.id) && (s.rollback ?? []).length > 0)
    .reverse()
    .map((s) => ({ stepId: s.id, blocks: [...s.rollback!].reverse().map((id) => rb.blocks[id]!) }));
}

export function formatPlan(plan: PlannedStep[]): string[] {
  const lines: string[] = [];
  for (const [i, s] of plan.entries()) {
    lines.push(`step ${i + 1} ${s.id}: ${s.title}`);
    for (const b of s.blocks) {
      const tag = b.action === 'skip' ? 'skip   ' : b.action === 'rollback' ? 'undo   ' : b.kind === 'check' ? 'check  ' : b.kind === 'file' ? 'file   ' : 'run    ';
      const flags = [b.role !== undefined ? `on ${b.role}` : '', b.confirm && b.action === 'run' ? 'needs confirmation' : '', b.reason ?? ''].filter(Boolean).join('; ');
      lines.push(`  ${tag}${b.id}${flags ? `  (${flags})` : ''}`);
      if (b.action === 'run') for (const l of b.text.split('\n')) lines.push(`      ${l}`);
    }
  }
  return lines;
}
