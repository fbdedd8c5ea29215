// The rollback panel of the step and report pages (views/partials/rollback-panel.hbs,
// static/rollback-panel.ts): a failed run's Roll back button, or how it was rolled back.
import type { RunRecord } from '../record/store.ts';
import type { Runbook } from '../runbook/model.ts';
import type { RunHistory } from '../run/history.ts';
import { rollbackPlan } from '../run/rollback.ts';
import type { RollbackPanelData } from '../../common/page-data.ts';
import { statusLabel } from '../../common/format.ts';
import type { Translator } from '../../common/i18n/index.ts';

/** The panel's view and its script's data; undefined when the run neither can be nor was rolled back. */
export function rollbackPanel(history: RunHistory, record: RunRecord, runbook: Runbook | undefined, live: boolean, tr: Translator) {
  if (!runbook) return undefined;
  const done = history.rollback(record);
  // Offered again after a rollback that stopped part-way (rollbackPlan says what is left).
  const available = rollbackPlan(history, record.id, runbook, live).ok;
  const rollbackOf = typeof record.options.rollbackOf === 'string' ? record.options.rollbackOf : undefined;
  if (!done && !available) return undefined;
  const blocks: Record<string, string> = {};
  const confirm: string[] = [];
  for (const s of runbook.steps) {
    for (const id of s.rollback ?? []) {
      blocks[id] = s.id;
      if (runbook.blocks[id]?.confirm) confirm.push(id);
    }
  }
  const summary = !done
    ? ''
    : done.status === 'passed'
      ? tr.t('rollback.passed', { steps: done.undone.join(', ') || '-' })
      : done.status === 'failed'
        ? tr.t('rollback.failed', { block: done.failedBlock ?? '?', reason: done.reason ?? '' })
        : tr.t('rollback.unfinished');
  const data: RollbackPanelData = { runId: record.id, lang: tr.lang, available, live, blocks, confirm };
  return {
    data,
    view: {
      available,
      status: done?.status ?? 'pending',
      summary,
      of: rollbackOf && rollbackOf !== record.id ? { id: rollbackOf, href: `/runs/${encodeURIComponent(rollbackOf)}/report` } : null,
      heldBy: done && done.runId !== record.id ? { id: done.runId, href: `/runs/${encodeURIComponent(done.runId)}/report` } : null,
      executions: (done?.executions ?? []).map((e) => ({ id: e.id, stepId: e.stepId, status: e.status, statusText: statusLabel(e.status, tr), output: e.output, reason: e.reason ?? '' })),
    },
  };
}
