// The live matrix grid of the fleet and class pages: a table of rows (hosts, trainees) ×
// steps, kept current from the matrix websocket (server/http/matrix-feed.ts): a whole
// snapshot on connect, then diffs that replace only the rows that changed. Each cell carries
// its status as data-status and says it in words (not only colour); each is a link.
import { applyDiff, parseMatrixMessage, type MatrixCell, type MatrixColumn, type MatrixRow, type MatrixSnapshot } from '../common/matrix.ts';
import { statusLabel } from '../common/format.ts';
import type { Translator } from '../common/i18n/index.ts';

export type MatrixConnection = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'gone';

export interface LiveMatrixOptions {
  /** The <table> to fill (its <caption> stays). */
  table: HTMLTableElement;
  /** The websocket path: /ws/fleets/ID, /ws/classes/ID. */
  wsPath: string;
  tr: Translator;
  /** The matrix as the server rendered the page (drawn at once, before the socket answers). */
  initial?: MatrixSnapshot;
  /** The first column's heading (Host, Trainee). */
  rowHeading: string;
  /** A cell's link when it has no href of its own (the class page: watch that trainee). */
  cellHref?: (row: MatrixRow, col?: MatrixColumn) => string;
  /** Words after the cell's status (attempts, hints). */
  cellDetail?: (cell: MatrixCell) => string;
  /** Tags after the row's name (stuck, batch, taken over), each its own word. */
  rowTags?: (row: MatrixRow) => Array<{ text: string; kind: string }>;
  /** Called after every change with the matrix as it now is (counts, budget). */
  onChange?: (m: MatrixSnapshot) => void;
  onState?: (s: MatrixConnection) => void;
}

const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000];
/** Closed by the server because the thing watched is gone or may not be watched (RFC 6455 policy). */
const CLOSE_POLICY = 1008;

export class LiveMatrix {
  private matrix: MatrixSnapshot;
  private seq = -1;
  private ws: WebSocket | undefined;
  private attempts = 0;
  private stopped = false;
  private readonly rows = new Map<string, HTMLTableRowElement>();
  private columnsKey = '';

  constructor(private readonly o: LiveMatrixOptions) {
    this.matrix = o.initial ?? { columns: [], rows: [], summary: {} };
    this.render();
    this.connect();
  }

  get current(): MatrixSnapshot {
    return this.matrix;
  }

  stop(): void {
    this.stopped = true;
    this.ws?.close(1000, 'page closed');
  }

  private connect(): void {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}${this.o.wsPath}`);
    this.ws = ws;
    this.o.onState?.(this.attempts ? 'reconnecting' : 'connecting');
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      const m = parseMatrixMessage(ev.data);
      if (!m) return;
      if (m.type === 'matrix') {
        this.attempts = 0;
        this.seq = m.seq;
        this.matrix = m.matrix;
        this.o.onState?.('live');
      } else if (m.type === 'matrix-diff') {
        // A gap (a lost frame cannot happen on one socket, but a reconnect can race): resync.
        if (m.seq !== this.seq + 1) return void ws.close(4000, 'resync');
        this.seq = m.seq;
        this.matrix = applyDiff(this.matrix, m);
      } else {
        // What this page watches is gone: say so, and stop listening (no reconnect).
        this.stopped = true;
        this.ws = undefined;
        ws.close(1000, 'gone');
        this.o.onState?.('gone');
        return;
      }
      this.render();
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.stopped) return;
      if (ev.code === CLOSE_POLICY) return this.o.onState?.('offline');
      const delay = RECONNECT_DELAYS_MS[this.attempts++];
      if (delay === undefined) return this.o.onState?.('offline');
      this.o.onState?.('reconnecting');
      setTimeout(() => {
        if (!this.stopped) this.connect();
      }, delay);
    };
  }

  /** Draws what changed: the head when the columns did, and each row whose data did. */
  private render(): void {
    const { table, tr } = this.o;
    const m = this.matrix;
    const key = JSON.stringify(m.columns);
    if (key !== this.columnsKey) {
      this.columnsKey = key;
      const head = table.tHead ?? table.createTHead();
      const tr0 = document.createElement('tr');
      tr0.append(th('col', this.o.rowHeading, 'matrix-rowhead'), th('col', tr.t('matrix.status'), 'matrix-status-head'));
      m.columns.forEach((c, i) => {
        const h = th('col', '', 'matrix-col');
        h.title = c.title;
        h.dataset.col = c.id;
        const num = document.createElement('span');
        num.className = 'matrix-col-num';
        num.textContent = String(i + 1);
        const title = document.createElement('span');
        title.className = 'matrix-col-title';
        title.textContent = c.title;
        h.append(num, ' ', title);
        tr0.append(h);
      });
      head.replaceChildren(tr0);
      this.rows.clear(); // every row is drawn again for the new columns
    }
    const body = table.tBodies[0] ?? table.createTBody();
    const wanted: HTMLTableRowElement[] = [];
    for (const row of m.rows) {
      const json = JSON.stringify(row);
      let el = this.rows.get(row.id);
      if (!el || el.dataset.json !== json) {
        const fresh = this.rowElement(row);
        fresh.dataset.json = json;
        if (el) keepFocus(el, fresh);
        el = fresh;
        this.rows.set(row.id, el);
      }
      wanted.push(el);
    }
    const ids = new Set(m.rows.map((r) => r.id));
    for (const id of [...this.rows.keys()]) if (!ids.has(id)) this.rows.delete(id);
    // Only touch the DOM where it differs (a replaced row, a new order).
    const current = [...body.rows];
    if (current.length !== wanted.length || current.some((r, i) => r !== wanted[i])) {
      const focused = document.activeElement;
      body.replaceChildren(...wanted);
      if (focused instanceof HTMLElement && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
    }
    table.dataset.rows = String(m.rows.length);
    this.o.onChange?.(m);
  }

  private rowElement(row: MatrixRow): HTMLTableRowElement {
    const { tr } = this.o;
    const el = document.createElement('tr');
    el.dataset.row = row.id;
    el.dataset.status = row.status;
    if (row.stuck) el.dataset.stuck = 'true';
    if (row.takenOver) el.dataset.takenOver = 'true';
    const name = th('row', '', 'matrix-name');
    // A row with nowhere to go (a host that never started) is its name, not a dead link.
    const rowHref = row.href ?? this.o.cellHref?.(row);
    const link = document.createElement(rowHref ? 'a' : 'span');
    if (link instanceof HTMLAnchorElement) link.href = rowHref!;
    link.dataset.rowLink = row.id;
    link.textContent = row.label;
    name.append(link);
    for (const tag of this.o.rowTags?.(row) ?? []) {
      const t = document.createElement('span');
      t.className = `tag matrix-tag matrix-tag-${tag.kind}`;
      t.dataset.tag = tag.kind;
      t.textContent = tag.text;
      name.append(' ', t);
    }
    const status = document.createElement('td');
    status.className = 'matrix-status';
    const badge = document.createElement('span');
    badge.className = 'run-status';
    badge.dataset.status = row.status;
    badge.textContent = statusLabel(row.status, tr);
    status.append(badge);
    if (row.reason) {
      const why = document.createElement('span');
      why.className = 'matrix-reason';
      why.textContent = row.reason;
      status.append(' ', why);
    }
    el.append(name, status);
    for (const col of this.matrix.columns) {
      const cell = row.cells[col.id] ?? { status: 'pending' };
      const td = document.createElement('td');
      td.className = 'matrix-cell';
      td.dataset.status = cell.status;
      td.dataset.col = col.id;
      if (row.current === col.id) td.dataset.current = 'true';
      const href = cell.href ?? this.o.cellHref?.(row, col) ?? row.href;
      const a = document.createElement(href ? 'a' : 'span');
      if (a instanceof HTMLAnchorElement) a.href = href!;
      a.className = 'matrix-cell-body';
      a.dataset.cellLink = '';
      const word = statusLabel(cell.status, tr);
      const detail = this.o.cellDetail?.(cell) ?? '';
      // Read as "host1, Install: passed, 2 attempts" (the link alone says it all, e.g. in a
      // screen reader's links list): the row and step are visually hidden, the rest is shown.
      const whole = tr.t('matrix.cellLabel', { row: row.label, step: col.title, status: '\u0000' });
      const [before = '', after = ''] = whole.split('\u0000');
      const w = document.createElement('span');
      w.className = 'matrix-word';
      w.textContent = word;
      a.append(hidden(before), w);
      if (detail) {
        const d = document.createElement('span');
        d.className = 'matrix-detail';
        d.append(hidden(', '), detail);
        a.append(d);
      }
      if (after) a.append(hidden(after));
      td.append(a);
      el.append(td);
    }
    return el;
  }
}

function hidden(text: string): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = 'visually-hidden';
  span.textContent = text;
  return span;
}

function th(scope: 'col' | 'row', text: string, cls: string): HTMLTableCellElement {
  const h = document.createElement('th');
  h.scope = scope;
  h.className = cls;
  if (text) h.textContent = text;
  return h;
}

/** A row drawn again keeps the keyboard focus where it was (the same column's link). */
function keepFocus(old: HTMLTableRowElement, fresh: HTMLTableRowElement): void {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !old.contains(active)) return;
  const col = active.closest<HTMLElement>('[data-col]')?.dataset.col;
  const target = col ? fresh.querySelector<HTMLElement>(`[data-col="${CSS.escape(col)}"] a`) : fresh.querySelector<HTMLElement>('[data-row-link]');
  queueMicrotask(() => target?.focus({ preventScroll: true }));
}

const CONN_KEY = { connecting: 'matrix.connecting', live: 'matrix.live', reconnecting: 'matrix.reconnecting', offline: 'matrix.offline', gone: 'matrix.gone' } as const;

/** The page's connection line ([data-matrix-conn]): the socket's state in words and as data-conn. */
export function showConnection(s: MatrixConnection, tr: Translator): void {
  const el = document.querySelector<HTMLElement>('[data-matrix-conn]');
  if (!el) return;
  el.dataset.conn = s;
  el.textContent = tr.t(CONN_KEY[s]);
}
