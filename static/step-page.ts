// The step page: Run buttons, block status badges and outputs, the step verdict, the
// progress list and the training-mode lock on Next. The server renders everything recorded
// so far; this keeps it current from the run's websocket events.
import type { ServerMessage } from '../common/protocol.ts';
import { assertNever } from '../common/protocol.ts';
import type { BlockResult, BlockStatus, ExecutionReport, StepStatus, StepVerdict } from '../common/result.ts';
import type { StepPageData } from '../common/page-data.ts';
import { deleteJson, postJson, type ApiError } from './api.ts';
import { RunTerminal, type ConnectionState } from './terminal.ts';
import { RoleTabs } from './role-tabs.ts';
import { isDone, progressText, resultMeta, splitHint, statusLabel, verdictTitle } from '../common/format.ts';
import { translator, type MessageKey, type Translator } from '../common/i18n/index.ts';
import { RollbackPanel } from './rollback-panel.ts';
import { HintsPanel } from './hints-panel.ts';

const CONN_LABEL: Record<ConnectionState, MessageKey> = {
  connecting: 'conn.connecting',
  live: 'conn.live',
  reconnecting: 'conn.reconnecting',
  offline: 'conn.offline',
  ended: 'conn.ended',
};

export class StepPage {
  readonly terminal: RunTerminal;
  /** A runbook that spans hosts: every role's terminal, the first being `terminal`. */
  readonly roleTerminals = new Map<string, RunTerminal>();
  private live: boolean;
  private readonly statuses = new Map<string, StepStatus | 'pending'>();
  /** Blocks of this step a request of ours is running (their buttons stay disabled). */
  private readonly busy = new Set<string>();
  private stepBusy = false;
  /** A failed run's Roll back and the rollback's results (rollback-panel.ts). */
  private rollback: RollbackPanel | undefined;
  /** The page's language (the server rendered it in the same one). */
  private readonly tr: Translator;

  constructor(private readonly data: StepPageData) {
    this.tr = translator(data.lang ?? 'en');
    this.live = data.live;
    for (const s of data.steps) this.statuses.set(s.id, s.status);
    const host = document.querySelector<HTMLElement>('[data-terminal]')!;
    // A runbook that spans hosts: a terminal per role. Every socket carries the run's events:
    // the first role's terminal reports them (once); each terminal shows its own role's output.
    const roles = data.roles ?? [];
    for (const [i, r] of roles.entries()) {
      const el = document.querySelector<HTMLElement>(`[data-terminal-role="${CSS.escape(r.role)}"]`);
      if (!el) continue;
      this.roleTerminals.set(r.role, new RunTerminal({
        host: el,
        runId: data.runId,
        live: data.live,
        role: r.role,
        ...(i === 0 ? { onMessage: (m: ServerMessage) => this.onMessage(m), onState: (s: ConnectionState) => this.onConnection(s) } : {}),
      }));
    }
    this.terminal = this.roleTerminals.get(roles[0]?.role ?? '') ?? new RunTerminal({
      host,
      runId: data.runId,
      live: data.live,
      onMessage: (m) => this.onMessage(m),
      onState: (s) => this.onConnection(s),
    });
    const tabs = document.querySelector<HTMLElement>('[data-role-tabs]');
    if (tabs && this.roleTerminals.size) new RoleTabs(tabs);
    document.addEventListener('click', (ev) => this.onClick(ev));
    document.addEventListener('keydown', (ev) => this.onKeyDown(ev));
    if (data.rollback) this.rollback = new RollbackPanel(data.rollback);
    if (data.hints) new HintsPanel(data.hints);
    this.refreshFinish();
  }

  // ---- user actions ----

  private onClick(ev: MouseEvent): void {
    const target = ev.target instanceof Element ? ev.target : null;
    const action = target?.closest<HTMLElement>('[data-action]');
    if (action) {
      // Busy buttons are aria-disabled (not disabled), so keyboard focus stays on them.
      if ((action instanceof HTMLButtonElement && action.disabled) || action.getAttribute('aria-disabled') === 'true') return;
      switch (action.dataset.action) {
        case 'run-block':
          void this.runBlock(action.dataset.blockId ?? '');
          break;
        case 'run-step':
          void this.runStep();
          break;
        case 'end-run':
          void this.endRun();
          break;
        case 'finish':
          void this.finish();
          break;
      }
      return;
    }
    if (target?.closest('[data-next][aria-disabled="true"]')) {
      ev.preventDefault();
      flashLockNote();
    }
  }

  /** The locked Next is focusable (so its note is read); Enter or Space on it says why it is locked. */
  private onKeyDown(ev: KeyboardEvent): void {
    const target = ev.target instanceof Element ? ev.target : null;
    if ((ev.key === 'Enter' || ev.key === ' ') && target?.closest('[data-next][aria-disabled="true"]')) {
      ev.preventDefault();
      flashLockNote();
    }
  }

  private async runBlock(blockId: string): Promise<void> {
    const info = this.data.blocks[blockId];
    if (!info || !this.live) return;
    let confirmed = false;
    if (info.confirm) {
      if (!window.confirm(confirmText([blockId], this.tr))) return;
      confirmed = true;
    }
    this.setBlockError(blockId, '');
    this.busy.add(blockId);
    this.refreshButtons();
    try {
      const url = `/api/runs/${encodeURIComponent(this.data.runId)}/blocks/${encodeURIComponent(blockId)}/execute`;
      let res = await postJson<ExecutionReport>(url, confirmed ? { confirm: true } : {});
      if (!res.ok && res.error.code === 'CONFIRM_REQUIRED' && !confirmed && window.confirm(confirmText([blockId], this.tr))) {
        res = await postJson<ExecutionReport>(url, { confirm: true });
      }
      if (!res.ok) {
        this.setBlockError(blockId, explain(res.error, this.tr));
        if (res.error.code === 'SESSION_ENDED') this.setEnded();
        return;
      }
      // The websocket normally delivers these first; without it, the response is the news.
      if (this.terminal.connection !== 'live') for (const r of [...res.value.blocks, ...res.value.checks]) this.applyResult(r);
    } finally {
      this.busy.delete(blockId);
      this.refreshButtons();
    }
  }

  private async runStep(): Promise<void> {
    if (!this.live) return;
    const destructive = Object.entries(this.data.blocks).filter(([, b]) => b.confirm).map(([id]) => id);
    if (destructive.length && !window.confirm(confirmText(destructive, this.tr))) return;
    this.setStepError('');
    this.stepBusy = true;
    this.refreshButtons();
    document.querySelector('.step')?.setAttribute('aria-busy', 'true');
    try {
      const url = `/api/runs/${encodeURIComponent(this.data.runId)}/steps/${encodeURIComponent(this.data.stepId)}/execute`;
      const res = await postJson<StepVerdict>(url, destructive.length ? { confirm: true } : {});
      if (!res.ok) {
        this.setStepError(explain(res.error, this.tr));
        if (res.error.code === 'SESSION_ENDED') this.setEnded();
        return;
      }
      if (this.terminal.connection !== 'live') this.applyVerdict(res.value);
      revealVerdict();
    } finally {
      this.stepBusy = false;
      document.querySelector('.step')?.removeAttribute('aria-busy');
      this.refreshButtons();
    }
  }

  /** The last step, every step done: end the run (its status follows from the verdicts) and open the report. */
  private async finish(): Promise<void> {
    if (!this.live) return;
    const res = await deleteJson<{ status?: string }>(`/api/runs/${encodeURIComponent(this.data.runId)}`);
    if (!res.ok && res.status !== 404) {
      this.setStepError(explain(res.error, this.tr));
      return;
    }
    location.assign(`/runs/${encodeURIComponent(this.data.runId)}/report`);
  }

  private async endRun(): Promise<void> {
    if (!this.live) return;
    if (!window.confirm(this.tr.t('step.endConfirm'))) return;
    const res = await deleteJson<{ status?: string }>(`/api/runs/${encodeURIComponent(this.data.runId)}`);
    if (!res.ok && res.status !== 404) {
      this.setStepError(explain(res.error, this.tr));
      return;
    }
    // The status the run ended with (failed, ended, passed…), as a reload would show it.
    this.setEnded(res.ok ? res.value.status : undefined);
  }

  // ---- live events ----

  private onMessage(m: ServerMessage): void {
    this.rollback?.onMessage(m);
    switch (m.type) {
      case 'hello':
      case 'screen': // the terminal pane draws it
        break;
      case 'block-started':
        if (m.stepId === this.data.stepId) this.setBlockStatus(m.blockId, 'running');
        this.blockEl(m.blockId)?.querySelector('[data-approval-wait]')?.remove();
        break;
      case 'approval-waiting':
        if (m.stepId === this.data.stepId) this.showApprovalWait(m.blockId, m.need, m.operator);
        break;
      case 'block-finished':
        this.blockEl(m.result.id)?.querySelector('[data-approval-wait]')?.remove();
        if (m.stepId === this.data.stepId) this.applyResult(m.result);
        break;
      case 'step-verdict':
        this.setStepStatus(m.verdict.stepId, m.verdict.status);
        if (m.verdict.stepId === this.data.stepId) this.applyVerdict(m.verdict);
        break;
      case 'session-ended':
        this.setEnded();
        break;
      case 'error':
        this.setStepError(this.tr.t('step.errorWithCode', { message: m.message, code: m.code }));
        break;
      case 'class-control':
      case 'class-message':
      case 'class-reveal':
        // A class run: the trainee's banner and messages listen for this event (the class page's module).
        document.dispatchEvent(new CustomEvent('stepwise:class', { detail: m }));
        break;
      default:
        assertNever(m);
    }
  }

  private onConnection(s: ConnectionState): void {
    const el = document.querySelector<HTMLElement>('.conn');
    if (el) {
      el.dataset.conn = s;
      el.textContent = this.tr.t(CONN_LABEL[s]);
    }
    if (s === 'ended') this.setEnded();
  }

  // ---- rendering ----

  private blockEl(id: string): HTMLElement | null {
    return document.querySelector<HTMLElement>(`[data-block="${CSS.escape(id)}"]`);
  }

  /** Four eyes: the block waits for approval; say who may give it, and where. */
  private showApprovalWait(blockId: string, need: number, operator: string): void {
    const el = this.blockEl(blockId);
    if (!el || el.querySelector('[data-approval-wait]')) return;
    const note = document.createElement('p');
    note.className = 'callout approval-wait';
    note.dataset.approvalWait = '';
    note.setAttribute('role', 'status');
    note.append(`${this.tr.t('approvals.waiting', { need, operator })} `);
    const link = document.createElement('a');
    link.href = '/approvals';
    link.textContent = this.tr.t('approvals.pendingLink');
    note.append(link);
    el.append(note);
  }

  private setBlockStatus(id: string, status: BlockStatus): void {
    const el = this.blockEl(id);
    if (!el) return;
    const badge = el.querySelector<HTMLElement>('.badge');
    if (badge) {
      badge.dataset.status = status;
      badge.textContent = statusLabel(status, this.tr);
    }
    el.dataset.state = status;
    if (status === 'running') el.setAttribute('aria-busy', 'true');
    else el.removeAttribute('aria-busy');
    this.refreshButtons();
  }

  private applyResult(r: BlockResult): void {
    const el = this.blockEl(r.id);
    if (!el) return;
    this.setBlockStatus(r.id, r.status);
    const box = el.querySelector<HTMLElement>('.result');
    if (!box) return;
    const split = splitHint(r.reason);
    const bad = r.status === 'failed' || r.status === 'warning';
    const hint = bad ? split.hint ?? this.data.blocks[r.id]?.hint ?? '' : '';
    setText(box.querySelector('.result-meta'), resultMeta(r, this.tr));
    setText(box.querySelector('.result-reason'), split.reason);
    setText(box.querySelector('.result-hint span'), hint);
    box.querySelector<HTMLElement>('.result-hint')!.hidden = !hint;
    const out = box.querySelector<HTMLElement>('.output');
    if (out) out.textContent = r.output;
    box.hidden = false;
  }

  private applyVerdict(v: StepVerdict): void {
    // Results of blocks the step did not get to are only in the verdict.
    for (const r of [...v.blocks, ...v.checks]) this.applyResult(r);
    const box = document.querySelector<HTMLElement>('.verdict');
    if (box) {
      const split = splitHint(v.reason);
      const hint = v.status === 'passed' ? '' : split.hint ?? this.failingHint(v) ?? '';
      box.dataset.verdict = v.status;
      setText(box.querySelector('.verdict-title'), verdictTitle(v.status, this.tr));
      setText(box.querySelector('.verdict-reason'), split.reason);
      setText(box.querySelector('.verdict-hint span'), hint);
      box.querySelector<HTMLElement>('.verdict-hint')!.hidden = !hint;
    }
    this.setStepStatus(v.stepId, v.status);
  }

  private failingHint(v: StepVerdict): string | undefined {
    const bad = [...v.blocks, ...v.checks].find((r) => r.status === 'failed' || r.status === 'warning');
    return bad ? this.data.blocks[bad.id]?.hint ?? undefined : undefined;
  }

  private setStepStatus(stepId: string, status: StepStatus): void {
    this.statuses.set(stepId, status);
    const item = document.querySelector<HTMLElement>(`[data-step-item="${CSS.escape(stepId)}"]`);
    if (item) {
      item.dataset.status = status;
      setText(item.querySelector('[data-step-status]'), statusLabel(status, this.tr));
    }
    const done = [...this.statuses.values()].filter(isDone).length;
    setText(document.querySelector('[data-progress-text]'), progressText(done, this.statuses.size, this.tr));
    const bar = document.querySelector<HTMLProgressElement>('[data-progress]');
    if (bar) bar.value = done;
    if (stepId === this.data.stepId && this.data.training) this.setNextLocked(!isDone(status));
    this.refreshFinish();
  }

  /** "Finish run & view report" shows on the last step once every step is done. */
  private refreshFinish(): void {
    const finish = document.querySelector<HTMLElement>('[data-action="finish"]');
    if (!finish) return;
    const all = [...this.statuses.values()].every(isDone);
    finish.hidden = !this.live || !all;
    const other = document.querySelector<HTMLElement>('[data-unfinished]');
    if (other) other.hidden = !finish.hidden;
  }

  /** Training mode: Next is a disabled placeholder until the step is done, then a link. */
  private setNextLocked(locked: boolean): void {
    const el = document.querySelector<HTMLElement>('[data-next]');
    if (!el || locked === (el.tagName !== 'A')) return;
    const href = el.dataset.href ?? '';
    const next = document.createElement(locked ? 'span' : 'a');
    next.className = el.className;
    next.classList.toggle('locked', locked);
    next.dataset.next = '';
    next.dataset.href = href;
    if (locked) {
      next.setAttribute('role', 'link');
      next.setAttribute('tabindex', '0');
      next.setAttribute('aria-disabled', 'true');
      next.setAttribute('aria-describedby', 'lock-note');
    } else {
      next.setAttribute('href', href);
      next.setAttribute('rel', 'next');
    }
    next.title = el.title;
    next.append(...el.childNodes);
    const focused = el.contains(document.activeElement);
    el.replaceWith(next);
    if (focused) next.focus();
    const note = document.querySelector<HTMLElement>('[data-lock-note]');
    if (note) note.hidden = !locked;
  }

  /** No live session any more: recorded results stay, nothing can run. */
  private setEnded(finalStatus?: string): void {
    if (!this.live) return;
    this.live = false;
    this.terminal.markEnded();
    for (const t of this.roleTerminals.values()) t.markEnded();
    for (const el of document.querySelectorAll<HTMLElement>('[data-block][data-state="running"]')) {
      const id = el.dataset.block!;
      this.setBlockStatus(id, 'failed');
      this.setBlockError(id, this.tr.t('step.sessionEndedWhileRunning'));
    }
    const ended = document.querySelector<HTMLElement>('[data-terminal-ended]');
    if (ended) ended.hidden = false;
    document.querySelector<HTMLElement>('[data-action="end-run"]')?.remove();
    document.querySelector<HTMLElement>('[data-term-hint]')?.remove();
    const status = document.querySelector<HTMLElement>('[data-run-status]');
    if (status) {
      status.dataset.status = finalStatus ?? 'ended';
      status.textContent = statusLabel(finalStatus ?? 'ended', this.tr);
    }
    document.querySelector('.workspace')?.setAttribute('data-live', 'false');
    this.refreshButtons();
    this.refreshFinish();
  }

  /**
   * Without a session a button is disabled; while it runs it is only aria-disabled, so the
   * keyboard focus stays on it instead of falling to <body>.
   */
  private refreshButtons(): void {
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-action="run-block"]')) {
      const id = b.dataset.blockId ?? '';
      const running = this.blockEl(id)?.dataset.state === 'running';
      b.disabled = !this.live;
      setBusy(b, this.live && (this.busy.has(id) || running));
    }
    const step = document.querySelector<HTMLButtonElement>('[data-action="run-step"]');
    if (step) {
      step.disabled = !this.live;
      setBusy(step, this.live && this.stepBusy);
      step.textContent = this.tr.t(this.stepBusy ? 'step.running' : 'step.runStep');
    }
  }

  private setBlockError(id: string, message: string): void {
    const el = this.blockEl(id)?.querySelector<HTMLElement>('.block-error');
    if (!el) return;
    el.textContent = message;
    el.hidden = !message;
  }

  private setStepError(message: string): void {
    const el = document.querySelector<HTMLElement>('.step-error');
    if (!el) {
      if (message) console.warn('stepwise:', message);
      return;
    }
    el.textContent = message;
    el.hidden = !message;
  }
}

function setBusy(b: HTMLButtonElement, busy: boolean): void {
  if (busy) b.setAttribute('aria-disabled', 'true');
  else b.removeAttribute('aria-disabled');
}

function flashLockNote(): void {
  const note = document.querySelector<HTMLElement>('[data-lock-note]');
  if (!note) return;
  note.classList.add('flash');
  setTimeout(() => note.classList.remove('flash'), 900);
}

/** After Run step: the verdict and the pager below it come into view (focus stays on the button). */
function revealVerdict(): void {
  const pager = document.querySelector<HTMLElement>('.pager');
  const verdict = document.querySelector<HTMLElement>('.verdict');
  const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  (pager ?? verdict)?.scrollIntoView({ block: 'nearest', behavior: smooth ? 'smooth' : 'auto' });
}

function setText(el: Element | null, text: string): void {
  if (!el) return;
  el.textContent = text;
  if (el instanceof HTMLElement && el.matches('.result-reason, .verdict-reason')) el.hidden = !text;
}

function confirmText(ids: string[], tr: Translator): string {
  if (ids.length === 1) return tr.t('step.confirmOne', { id: ids[0]! });
  // The list's "and" and commas are the locale's (Intl.ListFormat).
  return tr.t('step.confirmMany', { ids: new Intl.ListFormat(tr.locale, { type: 'conjunction' }).format(ids.map((i) => `“${i}”`)) });
}

function explain(e: ApiError, tr: Translator): string {
  switch (e.code) {
    case 'SESSION_BUSY':
      return tr.t('step.busy');
    case 'SESSION_ENDED':
      return tr.t('step.sessionGone');
    default:
      return e.message;
  }
}
