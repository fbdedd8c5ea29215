// The rollback panel (views/partials/rollback-panel.hbs) on the step and report pages: the
// Roll back button of a failed run, with a confirm, and the rollback blocks' results as they
// come (the run's websocket on the step page; the API's answer otherwise).
import type { ServerMessage } from '../common/protocol.ts';
import type { BlockResult } from '../common/result.ts';
import type { RollbackPanelData } from '../common/page-data.ts';
import { postJson } from './api.ts';
import { statusLabel } from '../common/format.ts';
import { translator, type Translator } from '../common/i18n/index.ts';

interface RollbackOutcome {
  runId: string;
  status: 'passed' | 'failed';
  undone: string[];
  results: BlockResult[];
  failedBlock?: string;
  reason?: string;
}

export class RollbackPanel {
  private readonly tr: Translator;
  private running = false;

  constructor(private readonly data: RollbackPanelData) {
    this.tr = translator(data.lang ?? 'en');
    document.addEventListener('click', (ev) => {
      const target = ev.target instanceof Element ? ev.target : null;
      const button = target?.closest<HTMLButtonElement>('[data-action="rollback"]');
      if (button && !button.disabled) void this.rollBack(button);
    });
  }

  /** The run's live events: a rollback block's start and result. */
  onMessage(m: ServerMessage): void {
    if (m.type === 'block-started' && this.data.blocks[m.blockId] !== undefined) this.row(m.blockId, m.stepId, 'running');
    if (m.type === 'block-finished' && this.data.blocks[m.result.id] !== undefined) this.show(m.result);
  }

  private async rollBack(button: HTMLButtonElement): Promise<void> {
    if (this.running) return;
    const text = this.tr.t(this.data.live ? 'rollback.confirm' : 'rollback.confirmFinished', { id: this.data.runId });
    if (!window.confirm(text)) return;
    this.running = true;
    button.disabled = true;
    this.setError('');
    this.setSummary(this.tr.t('rollback.running'));
    document.querySelector('[data-rollback-panel]')?.setAttribute('aria-busy', 'true');
    try {
      const res = await postJson<RollbackOutcome>(`/api/runs/${encodeURIComponent(this.data.runId)}/rollback`, { confirm: true });
      if (!res.ok) {
        this.setSummary('');
        this.setError(`${res.error.message} (${res.error.code})`);
        button.disabled = false;
        return;
      }
      const o = res.value;
      // The websocket normally showed these already; an ended run's rollback ran elsewhere.
      for (const r of o.results) this.show(r);
      const panel = document.querySelector<HTMLElement>('[data-rollback-panel]');
      if (panel) panel.dataset.rollbackStatus = o.status;
      this.setSummary(o.status === 'passed'
        ? this.tr.t('rollback.passed', { steps: o.undone.join(', ') || '-' })
        : this.tr.t('rollback.failed', { block: o.failedBlock ?? '?', reason: o.reason ?? '' }));
      if (o.runId !== this.data.runId) this.linkRun(o.runId);
      // A rollback that stopped part-way may be tried again (for the steps not undone yet).
      if (o.status === 'passed') button.hidden = true;
      else button.disabled = false;
    } finally {
      this.running = false;
      document.querySelector('[data-rollback-panel]')?.removeAttribute('aria-busy');
    }
  }

  private show(r: BlockResult): void {
    const li = this.row(r.id, this.data.blocks[r.id] ?? '', r.status);
    if (!li) return;
    const reason = li.querySelector<HTMLElement>('.result-reason');
    if (reason) reason.textContent = r.status === 'passed' ? '' : r.reason ?? '';
    let pre = li.querySelector('pre');
    if (r.output) {
      if (!pre) {
        pre = document.createElement('pre');
        pre.className = 'output';
        pre.append(document.createElement('code'));
        li.append(pre);
      }
      pre.querySelector('code')!.textContent = r.output;
    }
  }

  /** The list item of a rollback block, made when first seen, its badge set to `status`. */
  private row(blockId: string, stepId: string, status: string): HTMLElement | null {
    const list = document.querySelector<HTMLElement>('[data-rollback-results]');
    if (!list) return null;
    let li = list.querySelector<HTMLElement>(`[data-rollback-result="${CSS.escape(blockId)}"]`);
    if (!li) {
      li = document.createElement('li');
      li.dataset.rollbackResult = blockId;
      const p = document.createElement('p');
      const step = document.createElement('code');
      step.textContent = stepId;
      const id = document.createElement('code');
      id.textContent = blockId;
      const badge = document.createElement('span');
      badge.className = 'badge';
      const reason = document.createElement('span');
      reason.className = 'result-reason';
      p.append(step, ' · ', id, ' ', badge, ' ', reason);
      li.append(p);
      list.append(li);
    }
    li.dataset.status = status;
    const badge = li.querySelector<HTMLElement>('.badge')!;
    badge.dataset.status = status;
    badge.textContent = statusLabel(status, this.tr);
    return li;
  }

  private linkRun(runId: string): void {
    const panel = document.querySelector<HTMLElement>('[data-rollback-panel]');
    if (!panel || panel.querySelector('[data-rollback-run]')) return;
    const p = document.createElement('p');
    p.dataset.rollbackRun = '';
    p.append(`${this.tr.t('rollback.inRun', { id: runId })} `);
    const a = document.createElement('a');
    a.href = `/runs/${encodeURIComponent(runId)}/report`;
    const code = document.createElement('code');
    code.textContent = runId;
    a.append(code);
    p.append(a);
    panel.querySelector('[data-rollback-results]')?.before(p);
  }

  private setSummary(text: string): void {
    const el = document.querySelector<HTMLElement>('[data-rollback-summary]');
    if (el) el.textContent = text;
  }

  private setError(text: string): void {
    const el = document.querySelector<HTMLElement>('[data-rollback-error]');
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }
}
