// The trainer's class page: the trainees × steps matrix kept live (matrix.ts; stuck trainees
// marked in words), a trainee's terminal watched read-only (a row's or cell's link opens it),
// Take over / Hand back (the server decides who may type: server/class/classroom.ts), a
// message to the whole class, End class; and the classes list's create form.
import type { ClassesPageData, ClassPageData, MatrixRow, MatrixSnapshot } from '../common/matrix.ts';
import { translator, type Translator } from '../common/i18n/index.ts';
import { statusLabel } from '../common/format.ts';
import { LiveMatrix, showConnection } from './matrix.ts';
import { deleteJson, postJson } from './api.ts';
import { RunTerminal } from './terminal.ts';

export interface ClassPage {
  matrix: LiveMatrix;
  /** The terminal being watched, if any (tests read its buffer). */
  watched(): RunTerminal | undefined;
}

const WATCH_PREFIX = '#watch=';

export function initClassPage(data: ClassPageData): ClassPage | undefined {
  const tr = translator(data.lang ?? 'en');
  const table = document.querySelector<HTMLTableElement>('[data-matrix]');
  if (!table) return undefined;
  const watch = new Watch(data, tr);
  const matrix = new LiveMatrix({
    table,
    wsPath: `/ws/classes/${encodeURIComponent(data.classId)}`,
    tr,
    initial: data.matrix,
    rowHeading: tr.t('class.trainee'),
    cellHref: (row) => WATCH_PREFIX + encodeURIComponent(row.id),
    cellDetail: (cell) => [cell.attempts ? tr.t('matrix.attempts', { n: cell.attempts }) : '', cell.hints ? tr.t('matrix.hints', { n: cell.hints }) : ''].filter(Boolean).join(', '),
    rowTags: (row) => rowTags(row, tr),
    onChange: (m) => {
      showSummary(m, tr);
      watch.update(m);
    },
    onState: (s) => showConnection(s, tr),
  });
  // A link in the matrix opens that trainee (the hash keeps it across a reload, Back closes it).
  const fromHash = () => {
    const h = location.hash.startsWith(WATCH_PREFIX) ? decodeURIComponent(location.hash.slice(WATCH_PREFIX.length)) : '';
    watch.open(h, matrix.current);
  };
  window.addEventListener('hashchange', fromHash);
  fromHash();

  const form = document.querySelector<HTMLFormElement>('[data-message-form]');
  form?.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = form.querySelector('textarea')!;
    const result = form.querySelector<HTMLElement>('[data-message-result]')!;
    const button = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
    button.disabled = true;
    const res = await postJson(`/api/classes/${encodeURIComponent(data.classId)}/messages`, { text: text.value });
    button.disabled = false;
    if (res.ok) {
      text.value = '';
      result.textContent = tr.t('class.messageSent');
    } else {
      result.textContent = res.error.message;
    }
  });

  document.querySelector('[data-action="end-class"]')?.addEventListener('click', async () => {
    if (!window.confirm(tr.t('class.endConfirm'))) return;
    const res = await deleteJson(`/api/classes/${encodeURIComponent(data.classId)}`);
    if (!res.ok) return showError('[data-action-error]', res.error.message);
    showEnded();
  });
  return { matrix, watched: () => watch.terminal };
}

function rowTags(row: MatrixRow, tr: Translator): Array<{ kind: string; text: string }> {
  const tags: Array<{ kind: string; text: string }> = [];
  if (row.stuck) tags.push({ kind: 'stuck', text: row.stuckReason === 'failing' ? tr.t('matrix.stuckFailing') : row.stuckReason === 'idle' ? tr.t('matrix.stuckIdle') : tr.t('matrix.stuck') });
  if (row.takenOver) tags.push({ kind: 'taken', text: tr.t('matrix.takenOver') });
  if (row.queued !== undefined) tags.push({ kind: 'queued', text: tr.t('join.waiting', { position: row.queued }) });
  return tags;
}

function showSummary(m: MatrixSnapshot, tr: Translator): void {
  const stuck = document.querySelector<HTMLElement>('[data-stuck-count]');
  const n = Number(m.summary.stuck ?? 0);
  if (stuck) stuck.textContent = tr.t('class.stuckCount', { n });
  const status = document.querySelector<HTMLElement>('[data-class-status]');
  if (status && typeof m.summary.status === 'string' && status.dataset.status !== m.summary.status) {
    status.dataset.status = m.summary.status;
    status.textContent = statusLabel(m.summary.status, tr);
    if (m.summary.status !== 'open') showEnded();
  }
}

function showEnded(): void {
  for (const el of document.querySelectorAll<HTMLElement>('[data-class-open]')) el.hidden = true;
  const note = document.querySelector<HTMLElement>('[data-class-ended]');
  if (note) note.hidden = false;
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-watch-actions] button')) b.disabled = true;
}

function showError(selector: string, message: string): void {
  const el = document.querySelector<HTMLElement>(selector);
  if (!el) return;
  el.textContent = message;
  el.hidden = !message;
}

/** The watch panel: one trainee's terminal, read-only until the trainer takes over. */
class Watch {
  terminal: RunTerminal | undefined;
  private trainee = '';
  private runId = '';

  constructor(
    private readonly data: ClassPageData,
    private readonly tr: Translator,
  ) {
    document.querySelector('[data-action="take-over"]')?.addEventListener('click', () => void this.control('takeover'));
    document.querySelector('[data-action="hand-back"]')?.addEventListener('click', () => void this.control('handback'));
  }

  /** Opens a trainee (their run's terminal), or closes the panel for ''. */
  open(trainee: string, m: MatrixSnapshot): void {
    const row = m.rows.find((r) => r.id === trainee);
    if (trainee === this.trainee && row?.runId === this.runId) return;
    this.close();
    const heading = document.querySelector<HTMLElement>('[data-watch-heading]')!;
    const actions = document.querySelector<HTMLElement>('[data-watch-actions]')!;
    if (!row) {
      heading.textContent = this.tr.t('class.watchNone');
      actions.hidden = true;
      return;
    }
    this.trainee = trainee;
    heading.textContent = this.tr.t('class.watchHeading', { trainee });
    for (const tr of document.querySelectorAll<HTMLElement>('[data-matrix] tbody tr')) tr.toggleAttribute('aria-current', tr.dataset.row === trainee);
    if (!row.runId) {
      heading.textContent = this.tr.t('class.watchNotJoined', { trainee });
      actions.hidden = true;
      return;
    }
    this.runId = row.runId;
    actions.hidden = !this.data.open;
    const host = document.querySelector<HTMLElement>('[data-watch-terminal]')!;
    host.hidden = false;
    const box = document.createElement('div');
    box.className = 'watch-xterm';
    host.replaceChildren(box);
    this.terminal = new RunTerminal({
      host: box,
      runId: row.runId,
      live: true,
      onMessage: (msg) => {
        if (msg.type === 'class-control' && msg.runId === this.runId) this.setControl(msg.takenOverBy);
      },
    });
    this.setControl(null);
  }

  /** The matrix changed: a trainee who joined since the panel opened gets their terminal. */
  update(m: MatrixSnapshot): void {
    if (!this.trainee) return;
    const row = m.rows.find((r) => r.id === this.trainee);
    if (row?.runId && row.runId !== this.runId) {
      const t = this.trainee;
      this.trainee = '';
      this.open(t, m);
    }
  }

  private close(): void {
    const t = this.terminal;
    this.terminal = undefined;
    this.trainee = '';
    this.runId = '';
    if (t) {
      t.markEnded();
      t.term.dispose();
    }
    const host = document.querySelector<HTMLElement>('[data-watch-terminal]');
    if (host) {
      host.replaceChildren();
      host.hidden = true;
    }
    showError('[data-watch-error]', '');
  }

  /** Who has the keyboard now: the terminal takes keystrokes only when it is this trainer. */
  private setControl(by: string | null): void {
    const mine = by !== null && by === this.data.user;
    if (this.terminal) this.terminal.term.options.disableStdin = !mine;
    const host = document.querySelector<HTMLElement>('[data-watch-terminal]');
    if (host) host.dataset.mode = mine ? 'takeover' : 'watch';
    const take = document.querySelector<HTMLButtonElement>('[data-action="take-over"]');
    const back = document.querySelector<HTMLButtonElement>('[data-action="hand-back"]');
    if (take) take.hidden = mine;
    if (back) back.hidden = !mine;
    const note = document.querySelector<HTMLElement>('[data-watch-note]');
    if (note) note.textContent = mine ? this.tr.t('class.takenOverNote', { trainee: this.trainee }) : this.tr.t('class.readOnlyNote');
    if (mine) this.terminal?.focus();
  }

  private async control(action: 'takeover' | 'handback'): Promise<void> {
    if (!this.trainee) return;
    const res = await postJson<{ takenOverBy: string | null }>(`/api/classes/${encodeURIComponent(this.data.classId)}/trainees/${encodeURIComponent(this.trainee)}/${action}`, {});
    if (!res.ok) return showError('[data-watch-error]', res.error.message);
    showError('[data-watch-error]', '');
    this.setControl(res.value.takenOverBy);
  }
}

/** The classes list's create form: POST /api/classes, then each seat's join link (shown once). */
export function initClassesPage(_data: ClassesPageData): void {
  const form = document.querySelector<HTMLFormElement>('[data-create-class]');
  if (!form) return;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null)?.value.trim() ?? '';
    const limit = v('timeLimitMinutes');
    const button = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
    button.disabled = true;
    const res = await postJson<{ id: string; seats: Array<{ trainee: string; joinUrl: string }> }>('/api/classes', {
      name: v('name'),
      runbook: v('runbook'),
      seats: Number(v('seats')),
      target: v('target'),
      training: (form.elements.namedItem('training') as HTMLInputElement | null)?.checked !== false,
      ...(limit ? { timeLimitMinutes: Number(limit) } : {}),
    });
    button.disabled = false;
    const err = form.querySelector<HTMLElement>('[data-create-error]')!;
    if (!res.ok) {
      err.textContent = res.error.field ? `${res.error.field}: ${res.error.message}` : res.error.message;
      err.hidden = false;
      return;
    }
    err.hidden = true;
    const out = document.querySelector<HTMLElement>('[data-created]')!;
    const list = out.querySelector<HTMLElement>('[data-seat-links]')!;
    list.replaceChildren(
      ...res.value.seats.map((s) => {
        const li = document.createElement('li');
        li.dataset.seat = s.trainee;
        const name = document.createElement('strong');
        name.textContent = s.trainee;
        const code = document.createElement('code');
        code.textContent = s.joinUrl;
        li.append(name, ' ', code);
        return li;
      }),
    );
    const open = out.querySelector<HTMLAnchorElement>('[data-class-link]')!;
    open.href = `/classes/${encodeURIComponent(res.value.id)}`;
    out.hidden = false;
    out.focus();
  });
}
