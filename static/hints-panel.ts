// The step page's hints (views/partials/hints-panel.hbs): "Show a hint" reveals the next one
// (POST /api/runs/:id/steps/:stepId/hints; the server records it), and the solution once the
// server allows it (3 failed attempts, or the trainer). Nothing unrevealed is in the page.
import type { HintsPanelData } from '../common/page-data.ts';
import { getJson, postJson } from './api.ts';
import type { ServerMessage } from '../common/protocol.ts';
import { translator, type Translator } from '../common/i18n/index.ts';

export class HintsPanel {
  private readonly tr: Translator;
  private busy = false;

  constructor(private readonly data: HintsPanelData) {
    this.tr = translator(data.lang ?? 'en');
    // The trainer revealed this step's solution (a class run's socket, via step-page.ts).
    document.addEventListener('stepwise:class', (ev) => {
      const m = (ev as CustomEvent<ServerMessage>).detail;
      if (m.type === 'class-reveal' && m.stepId === this.data.stepId) void this.refreshSolution();
    });
    document.addEventListener('click', (ev) => {
      const target = ev.target instanceof Element ? ev.target : null;
      const button = target?.closest<HTMLButtonElement>('[data-action="show-hint"], [data-action="show-solution"]');
      if (!button || button.disabled || this.busy) return;
      void (button.dataset.action === 'show-hint' ? this.showHint(button) : this.showSolution(button));
    });
  }

  private base(): string {
    return `/api/runs/${encodeURIComponent(this.data.runId)}/steps/${encodeURIComponent(this.data.stepId)}`;
  }

  private async showHint(button: HTMLButtonElement): Promise<void> {
    this.busy = true;
    this.setError('');
    try {
      const res = await postJson<{ hint: string; index: number; remaining: number }>(`${this.base()}/hints`, {});
      if (!res.ok) return this.setError(`${res.error.message} (${res.error.code})`);
      const li = document.createElement('li');
      li.dataset.hintIndex = String(res.value.index);
      const label = document.createElement('strong');
      label.textContent = this.tr.t('hint.label', { n: res.value.index + 1 });
      const text = document.createElement('span');
      text.className = 'hint-text';
      text.textContent = res.value.hint;
      li.append(label, ' ', text);
      document.querySelector('[data-hints-list]')?.append(li);
      if (res.value.remaining === 0) {
        button.disabled = true;
        document.querySelector<HTMLElement>('[data-hints-none]')?.removeAttribute('hidden');
      }
    } finally {
      this.busy = false;
    }
  }

  private async showSolution(button: HTMLButtonElement): Promise<void> {
    this.busy = true;
    this.setError('');
    try {
      const res = await postJson<{ solution: string }>(`${this.base()}/solution`, {});
      if (!res.ok) return this.setError(`${res.error.message} (${res.error.code})`);
      this.showSolutionText(res.value.solution);
      button.hidden = true;
    } finally {
      this.busy = false;
    }
  }

  /** Shows the solution once the server says it is revealed. */
  private async refreshSolution(): Promise<void> {
    const res = await getJson<{ solution: string | null }>(`${this.base()}/hints`);
    if (res.ok && res.value.solution !== null) this.showSolutionText(res.value.solution);
  }

  private showSolutionText(solution: string): void {
    const box = document.querySelector<HTMLElement>('[data-solution-text]');
    const code = box?.querySelector('code');
    if (code) code.textContent = solution;
    box?.removeAttribute('hidden');
    document.querySelector<HTMLElement>('[data-action="show-solution"]')?.setAttribute('hidden', '');
    document.querySelector<HTMLElement>('[data-solution-note]')?.setAttribute('hidden', '');
  }

  private setError(text: string): void {
    const el = document.querySelector<HTMLElement>('[data-hints-error]');
    if (!el) return;
    el.textContent = text;
    el.hidden = text === '';
  }
}
