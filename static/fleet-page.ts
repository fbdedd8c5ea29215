// The fleet page: the hosts × steps matrix kept live (matrix.ts), the counts and the failure
// budget from the matrix's summary, and Stop (an operator's; the server checks the role).
import type { FleetPageData, MatrixSnapshot } from '../common/matrix.ts';
import { translator, type Translator } from '../common/i18n/index.ts';
import { statusLabel } from '../common/format.ts';
import { LiveMatrix, showConnection } from './matrix.ts';
import { postJson } from './api.ts';

export function initFleetPage(data: FleetPageData): LiveMatrix | undefined {
  const tr = translator(data.lang ?? 'en');
  const table = document.querySelector<HTMLTableElement>('[data-matrix]');
  if (!table) return undefined;
  const matrix = new LiveMatrix({
    table,
    wsPath: `/ws/fleets/${encodeURIComponent(data.fleetId)}`,
    tr,
    initial: data.matrix,
    rowHeading: tr.t('fleet.host'),
    rowTags: (row) => (row.batch !== undefined ? [{ kind: 'batch', text: tr.t('matrix.batch', { n: row.batch }) }] : []),
    onChange: (m) => showSummary(m, tr),
    onState: (s) => showConnection(s, tr),
  });
  const stop = document.querySelector<HTMLButtonElement>('[data-action="stop-fleet"]');
  stop?.addEventListener('click', async () => {
    if (!window.confirm(tr.t('fleet.stopConfirm'))) return;
    stop.disabled = true;
    stop.textContent = tr.t('fleet.stopping');
    const res = await postJson(`/api/fleets/${encodeURIComponent(data.fleetId)}/stop`, {});
    const err = document.querySelector<HTMLElement>('[data-action-error]');
    if (!res.ok) {
      stop.disabled = false;
      stop.textContent = tr.t('fleet.stop');
      if (err) {
        err.textContent = res.error.message;
        err.hidden = false;
      }
    }
  });
  return matrix;
}

function showSummary(m: MatrixSnapshot, tr: Translator): void {
  const s = m.summary;
  for (const el of document.querySelectorAll<HTMLElement>('[data-count]')) {
    const n = s[el.dataset.count ?? ''];
    if (typeof n === 'number') el.textContent = tr.number(n);
  }
  const status = document.querySelector<HTMLElement>('[data-fleet-status]');
  if (status && typeof s.status === 'string' && status.dataset.status !== s.status) {
    status.dataset.status = s.status;
    status.textContent = statusLabel(s.status, tr);
  }
  const reason = document.querySelector<HTMLElement>('[data-fleet-reason]');
  if (reason) {
    reason.textContent = typeof s.reason === 'string' ? s.reason : '';
    reason.hidden = !reason.textContent;
  }
  const failed = Number(s.budgetFailed ?? 0);
  const allowed = Number(s.budgetAllowed ?? 0);
  const used = document.querySelector<HTMLElement>('[data-budget-used]');
  if (used) used.textContent = tr.t('fleet.budgetUsed', { failed, max: allowed });
  const meter = document.querySelector<HTMLMeterElement>('[data-budget-meter]');
  if (meter) {
    meter.max = allowed;
    meter.value = failed;
  }
  const box = document.querySelector<HTMLElement>('[data-budget]');
  if (box) box.dataset.exhausted = String(s.budgetExhausted === true);
  const exhausted = document.querySelector<HTMLElement>('[data-budget-exhausted]');
  if (exhausted) exhausted.hidden = s.budgetExhausted !== true;
  // A fleet that ended cannot be stopped.
  if (s.status !== 'running') document.querySelector('[data-action="stop-fleet"]')?.closest('p')?.remove();
}
