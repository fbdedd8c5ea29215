// The runbook overview's Start form: posts the run request as JSON and opens the new run;
// a refused request shows its message next to the field it names (`vars.NAME`, `target`).
import type { OverviewPageData } from '../server/http/pages.ts';
import { postJson, type ApiError } from './api.ts';

export function initOverview(data: OverviewPageData): void {
  const form = document.getElementById('start-form');
  if (!(form instanceof HTMLFormElement)) return;
  const button = form.querySelector<HTMLButtonElement>('[data-action="start"]')!;

  form.addEventListener('input', (ev) => {
    const input = ev.target;
    if (input instanceof HTMLInputElement && input.dataset.var) showError(form, `vars.${input.dataset.var}`, '');
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const vars: Record<string, string> = {};
    for (const input of form.querySelectorAll<HTMLInputElement>('input[data-var]')) {
      // An empty secret input keeps the runbook's default (it is never put in the page).
      if (input.dataset.keepDefault === 'true' && input.value === '') continue;
      vars[input.dataset.var!] = input.value;
    }
    const target = form.querySelector<HTMLSelectElement>('select[name="target"]')?.value;
    const training = form.querySelector<HTMLInputElement>('input[name="training"]')?.checked === true;
    button.disabled = true;
    button.textContent = 'Starting…';
    form.setAttribute('aria-busy', 'true');
    const res = await postJson<{ id: string }>('/api/runs', { runbook: data.runbook, vars, target, training });
    if (res.ok) {
      location.assign(`/runs/${encodeURIComponent(res.value.id)}`);
      return;
    }
    form.removeAttribute('aria-busy');
    button.disabled = false;
    button.textContent = 'Start run';
    reportError(form, res.error);
  });
}

function reportError(form: HTMLFormElement, e: ApiError): void {
  const field = e.field ?? '';
  const shown = showError(form, field, e.message);
  if (!shown) showError(form, '', e.message);
}

/** Shows (or clears, with '') the error of one field; false when the form has no such field. */
function showError(form: HTMLFormElement, field: string, message: string): boolean {
  const el = form.querySelector<HTMLElement>(`[data-error-for="${CSS.escape(field)}"]`);
  if (!el) return false;
  el.textContent = message;
  el.hidden = !message;
  const wrapper = field ? form.querySelector<HTMLElement>(`[data-field="${CSS.escape(field)}"]`) ?? el.closest('.field') : null;
  wrapper?.classList.toggle('invalid', !!message);
  const input = wrapper?.querySelector<HTMLInputElement | HTMLSelectElement>('input, select');
  if (input) {
    if (message) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } else {
      input.removeAttribute('aria-invalid');
    }
  }
  return true;
}

function clearErrors(form: HTMLFormElement): void {
  for (const el of form.querySelectorAll<HTMLElement>('[data-error-for]')) {
    if (el.hidden) continue;
    showError(form, el.dataset.errorFor ?? '', '');
  }
}
