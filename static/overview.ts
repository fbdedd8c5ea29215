// The runbook overview's Start form: posts the run request as JSON and opens the new run;
// a refused request shows its message next to the field it names (`vars.NAME`, `target`).
import type { OverviewPageData, PlanResponse } from '../common/page-data.ts';
import type { PlannedBlock } from '../common/result.ts';
import { getJson, postJson, type ApiError } from './api.ts';
import { translator, type Translator } from '../common/i18n/index.ts';
import { statusLabel } from '../common/format.ts';

export function initOverview(data: OverviewPageData): void {
  const tr = translator(data.lang ?? 'en');
  const form = document.getElementById('start-form');
  if (!(form instanceof HTMLFormElement)) return;
  const button = form.querySelector<HTMLButtonElement>('[data-action="start"]')!;

  form.addEventListener('input', (ev) => {
    const input = ev.target;
    if (input instanceof HTMLInputElement && input.dataset.var) showError(form, `vars.${input.dataset.var}`, '');
  });

  const planButton = form.querySelector<HTMLButtonElement>('[data-action="plan"]');
  planButton?.addEventListener('click', () => void showPlan(form, data, planButton, tr));
  document.querySelector('[data-action="close-plan"]')?.addEventListener('click', () => {
    const plan = document.querySelector<HTMLElement>('[data-plan]');
    if (plan) plan.hidden = true;
    planButton?.focus();
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (!checkPatterns(form, tr)) return;
    const vars = formVars(form);
    // Hosts named in the fleet field: a fleet (one run per host), then its page.
    const fleetTarget = form.querySelector<HTMLInputElement>('input[name="fleetTarget"]')?.value.trim();
    if (fleetTarget) return startFleet(form, data, button, vars, fleetTarget, tr);
    const target = form.querySelector<HTMLSelectElement>('select[name="target"]')?.value;
    const where = roleBinding(form) ?? { target };
    const training = form.querySelector<HTMLInputElement>('input[name="training"]')?.checked === true;
    const converge = form.querySelector<HTMLInputElement>('input[name="converge"]')?.checked === true;
    button.disabled = true;
    button.textContent = tr.t('overview.starting');
    form.setAttribute('aria-busy', 'true');
    // Read in the translation the page shows (both files are pinned by the run).
    const res = await postJson<{ id: string }>('/api/runs', { runbook: data.runbook, vars, ...where, training, converge, ...(data.runLang ? { lang: data.runLang } : {}) });
    if (res.ok) {
      location.assign(`/runs/${encodeURIComponent(res.value.id)}`);
      return;
    }
    form.removeAttribute('aria-busy');
    button.disabled = false;
    button.textContent = tr.t('overview.startRun');
    reportError(form, res.error);
  });
}

/**
 * A runbook that spans hosts: each role's picked target (`roles`), or `target: "lab"` when
 * every role picked the lab (one lab with a host per role). Undefined without role pickers.
 */
function roleBinding(form: HTMLFormElement): { roles: Record<string, string> } | { target: string } | undefined {
  const pickers = [...form.querySelectorAll<HTMLSelectElement>('select[data-role]')];
  if (!pickers.length) return undefined;
  if (pickers.every((p) => p.value === 'lab')) return { target: 'lab' };
  return { roles: Object.fromEntries(pickers.map((p) => [p.dataset.role!, p.value])) };
}

/**
 * Checks every variable against its pattern before anything is sent; the first mismatch shows
 * the runbook's message for it (data-pattern-message) next to the field. The server checks again.
 */
function checkPatterns(form: HTMLFormElement, tr: Translator): boolean {
  for (const input of form.querySelectorAll<HTMLInputElement>('input[data-var][pattern]')) {
    if (input.dataset.keepDefault === 'true' && input.value === '') continue;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${input.getAttribute('pattern') ?? ''})$`);
    } catch {
      continue; // the parser refuses such a runbook; nothing to check against here
    }
    if (re.test(input.value)) continue;
    const message = input.dataset.patternMessage || tr.t('overview.mustMatchSentence', { pattern: input.getAttribute('pattern') ?? '' });
    showError(form, `vars.${input.dataset.var}`, message);
    return false;
  }
  return true;
}

function formVars(form: HTMLFormElement): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const input of form.querySelectorAll<HTMLInputElement>('input[data-var]')) {
    // An empty secret input keeps the runbook's default (it is never put in the page).
    if (input.dataset.keepDefault === 'true' && input.value === '') continue;
    vars[input.dataset.var!] = input.value;
  }
  return vars;
}

/** Asks the server what a run with these values would do, and shows it; nothing runs. */
async function showPlan(form: HTMLFormElement, data: OverviewPageData, button: HTMLButtonElement, tr: Translator): Promise<void> {
  clearErrors(form);
  const params = new URLSearchParams();
  const target = form.querySelector<HTMLSelectElement>('select[name="target"]')?.value;
  if (target) params.set('target', target);
  // A runbook that spans hosts: each block is planned on its role's picked target.
  for (const p of form.querySelectorAll<HTMLSelectElement>('select[data-role]')) params.set(`roles.${p.dataset.role}`, p.value);
  const secrets = new Set(data.secrets);
  for (const [name, value] of Object.entries(formVars(form))) {
    // A secret stays out of the URL: the plan shows it masked whatever its value.
    if (!secrets.has(name)) params.set(`vars.${name}`, value);
  }
  button.disabled = true;
  button.textContent = tr.t('overview.planning');
  const res = await getJson<PlanResponse>(`/api/runbooks/${encodeURIComponent(data.runbook)}/plan?${params}`);
  button.disabled = false;
  button.textContent = tr.t('overview.plan');
  if (!res.ok) {
    reportError(form, res.error);
    return;
  }
  renderPlan(res.value, tr, data.stepTitles ?? {});
}

function renderPlan(plan: PlanResponse, tr: Translator, titles: Record<string, string>): void {
  const section = document.querySelector<HTMLElement>('[data-plan]');
  const list = section?.querySelector<HTMLElement>('[data-plan-steps]');
  if (!section || !list) return;
  const blocks = plan.steps.flatMap((s) => s.blocks);
  const run = blocks.filter((b) => b.action === 'run');
  const skipped = blocks.filter((b) => b.action === 'skip').length;
  const confirm = run.filter((b) => b.confirm).length;
  const summary = section.querySelector<HTMLElement>('[data-plan-summary]');
  if (summary) {
    summary.textContent = tr.t('overview.planSummary', {
      target: plan.target.id,
      platform: plan.target.platform,
      steps: plan.steps.length,
      blocks: run.length,
      skipped,
      confirm,
    });
  }
  list.replaceChildren(
    ...plan.steps.map((s, i) => {
      const li = el('li', 'plan-step');
      li.dataset.planStep = s.id;
      const head = el('div', 'plan-step-head');
      head.append(el('span', 'num', String(i + 1)), el('span', 'plan-step-title', titles[s.id] ?? s.title), el('code', 'plan-step-id', s.id));
      li.append(head);
      if (!s.blocks.length) li.append(el('p', 'meta plan-empty', tr.t('overview.planEmpty')));
      for (const b of s.blocks) li.append(planBlock(b, tr));
      return li;
    }),
  );
  section.hidden = false;
  section.scrollIntoView({ block: 'start', behavior: 'smooth' });
  section.focus({ preventScroll: true });
}

function planBlock(b: PlannedBlock, tr: Translator): HTMLElement {
  const box = el('div', `plan-block plan-${b.kind}`);
  box.dataset.planBlock = b.id;
  box.dataset.action = b.action;
  const head = el('div', 'plan-block-head');
  head.append(el('span', 'kind', tr.t(b.kind === 'check' ? 'block.check' : b.kind === 'file' ? 'block.file' : 'block.command')), el('code', 'block-id', b.id));
  if (b.action === 'skip') {
    const tag = el('span', 'tag tag-skip', statusLabel('skipped', tr));
    tag.dataset.skip = '';
    head.append(tag);
  }
  if (b.action === 'rollback') {
    const tag = el('span', 'tag tag-rollback', tr.t('block.rollback'));
    tag.dataset.rollback = '';
    head.append(tag);
  }
  if (b.role !== undefined) {
    const tag = el('span', 'tag tag-role', tr.t('block.on', { role: b.role }));
    tag.dataset.blockRole = b.role;
    head.append(tag);
  }
  if (b.confirm && b.action === 'run') {
    const tag = el('span', 'tag tag-danger', tr.t('block.confirm'));
    tag.dataset.confirm = '';
    head.append(tag);
  }
  box.append(head);
  if (b.reason) box.append(el('p', 'plan-reason', b.reason));
  const pre = el('pre', 'code');
  pre.append(el('code', '', b.text));
  box.append(pre);
  return box;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
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

/** Starts a fleet from the form's fleet fields (POST /api/fleets) and opens its page. */
async function startFleet(form: HTMLFormElement, data: OverviewPageData, button: HTMLButtonElement, vars: Record<string, string>, target: string, tr: Translator): Promise<void> {
  const value = (name: string) => form.querySelector<HTMLInputElement>(`input[name="${name}"]`)?.value.trim() ?? '';
  const parallel = value('parallel');
  const maxFail = value('maxFail');
  const batches = value('batches');
  const converge = form.querySelector<HTMLInputElement>('input[name="converge"]')?.checked === true;
  button.disabled = true;
  button.textContent = tr.t('overview.starting');
  form.setAttribute('aria-busy', 'true');
  // Only the values changed from the runbook's default: each host's inventory vars fill the rest
  // (a value given here would override them on every host).
  const changed = Object.fromEntries(Object.entries(vars).filter(([name, v]) => v !== form.querySelector<HTMLInputElement>(`input[data-var="${CSS.escape(name)}"]`)?.defaultValue));
  const res = await postJson<{ id: string }>('/api/fleets', {
    runbook: data.runbook,
    target,
    vars: changed,
    ...(parallel ? { parallel: /^\d+$/.test(parallel) ? Number(parallel) : parallel } : {}),
    ...(maxFail ? { maxFail: /^\d+$/.test(maxFail) ? Number(maxFail) : maxFail } : {}),
    ...(batches ? { batches } : {}),
    ...(converge ? { converge } : {}),
    ...(data.runLang ? { lang: data.runLang } : {}),
  });
  if (res.ok) {
    location.assign(`/fleets/${encodeURIComponent(res.value.id)}`);
    return;
  }
  form.removeAttribute('aria-busy');
  button.disabled = false;
  button.textContent = tr.t('overview.startRun');
  // The fleet's target is its own field (the select above is a single run's).
  reportError(form, res.error.field === 'target' ? { ...res.error, field: 'fleet.target' } : res.error);
}
