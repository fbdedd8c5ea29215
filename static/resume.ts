// "Resume": a new run of the same runbook that continues an ended run from its first
// unfinished step (same inputs, restored directory and exports). Used by the report and step pages.
import { postJson } from './api.ts';
import { pageTranslator } from './language.ts';

export function initResume(o: { runbook: string | null; runId: string }): void {
  document.addEventListener('click', (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>('[data-action="resume"]') : null;
    if (!button || button.disabled || !o.runbook) return;
    void resume(o.runbook, o.runId, button);
  });
}

async function resume(runbook: string, runId: string, button: HTMLButtonElement): Promise<void> {
  const error = document.querySelector<HTMLElement>('[data-resume-error]');
  const label = button.textContent;
  button.disabled = true;
  button.textContent = pageTranslator().t('resume.resuming');
  if (error) error.hidden = true;
  const res = await postJson<{ id: string }>('/api/runs', { runbook, resume: runId });
  if (res.ok) {
    // /runs/<id> opens the step the new run picks up at.
    location.assign(`/runs/${encodeURIComponent(res.value.id)}`);
    return;
  }
  button.disabled = false;
  button.textContent = label;
  if (error) {
    error.textContent = pageTranslator().t('resume.failed', { message: res.error.message });
    error.hidden = false;
  }
}
