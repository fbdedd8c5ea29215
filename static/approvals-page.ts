// The approvals page: Approve / Reject on each pending approval, with its comment, through
// POST /api/runs/:id/approvals (the server refuses the run's own operator: four eyes).
import { postJson } from './api.ts';
import { isLang, translator } from '../common/i18n/index.ts';

const lang = document.documentElement.lang;
const tr = translator(isLang(lang) ? lang : 'en');

interface Decided {
  state: string;
  need: number;
  decisions: Array<{ decision: string }>;
}

export function initApprovals(root: ParentNode = document): void {
  root.addEventListener('click', (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>('button[data-decision]') : null;
    const item = button?.closest<HTMLElement>('[data-approval]');
    if (!button || !item) return;
    void decide(item, button.dataset.decision === 'reject' ? 'reject' : 'approve');
  });
}

async function decide(item: HTMLElement, decision: 'approve' | 'reject'): Promise<void> {
  const result = item.querySelector<HTMLElement>('[data-result]')!;
  const buttons = [...item.querySelectorAll<HTMLButtonElement>('button[data-decision]')];
  const comment = item.querySelector<HTMLTextAreaElement>('[data-comment]')?.value ?? '';
  buttons.forEach((b) => (b.disabled = true));
  const r = await postJson<Decided>(`/api/runs/${encodeURIComponent(item.dataset.run!)}/approvals`, { blockId: item.dataset.block, decision, comment });
  if (!r.ok) {
    result.textContent = r.error.message;
    result.dataset.state = 'error';
    buttons.forEach((b) => (b.disabled = false));
    return;
  }
  const approvals = r.value.decisions.filter((d) => d.decision === 'approve').length;
  result.dataset.state = r.value.state;
  result.textContent = r.value.state === 'pending'
    ? tr.t('approvals.resultPending', { approvals, need: r.value.need })
    : tr.t(r.value.state === 'approved' ? 'approvals.resultApproved' : 'approvals.resultRejected');
}
