// The live matrix both dashboards show (the fleet page: hosts × steps; the class page:
// trainees × steps): its shape, the messages its websocket carries, and the pure diff/apply
// the server's feed (server/http/matrix-feed.ts) and the browser grid (static/matrix.ts) share.
// Pure: no Node or DOM imports, so the browser bundle can include it.

export interface MatrixColumn {
  id: string;
  title: string;
}

/** One row's state at one column (a host's or a trainee's step). */
export interface MatrixCell {
  /** A status code (pending, running, passed, failed, warning, skipped): the page shows it as a word. */
  status: string;
  /** Attempts at the step (the class page). */
  attempts?: number;
  /** Hints revealed (the class page). */
  hints?: number;
  /** Where the cell's link goes (the fleet page: that host's step page); else the row's action. */
  href?: string;
}

export interface MatrixRow {
  /** Unique in its matrix (a host name, a trainee name). */
  id: string;
  label: string;
  /** The row's own run (its run id) when it has one. */
  runId?: string;
  /** The row's link (a host's run, a trainee's current step). */
  href?: string;
  /** The row's overall status code. */
  status: string;
  /** Why the row is in its status (a skipped host's reason), already in words. */
  reason?: string;
  /** A canary batch number (fleets, from 1). */
  batch?: number;
  /** The step the row is at. */
  current?: string;
  /** A trainee that needs help (the class page). */
  stuck?: boolean;
  /** A trainee whose terminal the trainer has taken over. */
  takenOver?: boolean;
  /** Why a trainee is stuck, as a code the page words: idle (no step passed for a while), failing (a step failed 3 times). */
  stuckReason?: string;
  /** A trainee's place in the lab queue (from 1) while waiting for a lab. */
  queued?: number;
  /** Steps done of the steps that can be done, 0..1 (the class page). */
  completion?: number;
  cells: Record<string, MatrixCell>;
}

/** Numbers and words about the whole matrix the page shows beside it (counts, budget). */
export type MatrixSummary = Record<string, string | number | boolean | null>;

export interface MatrixSnapshot {
  columns: MatrixColumn[];
  rows: MatrixRow[];
  summary: MatrixSummary;
}

/** What the matrix websocket sends (text frames, JSON). */
export type MatrixMessage =
  | { type: 'matrix'; seq: number; matrix: MatrixSnapshot }
  /** Changes since `seq - 1`: rows added or changed (whole rows), rows removed, and the rest only if changed. */
  | { type: 'matrix-diff'; seq: number; rows: MatrixRow[]; removed: string[]; columns?: MatrixColumn[]; summary?: MatrixSummary }
  /** The thing watched is gone or the feed failed: a word for the page, and the code. */
  | { type: 'matrix-error'; code: string; message: string };

export type MatrixDiff = Extract<MatrixMessage, { type: 'matrix-diff' }>;

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** What changed from `prev` to `next`, or undefined when nothing did. */
export function diffMatrix(prev: MatrixSnapshot, next: MatrixSnapshot, seq: number): MatrixDiff | undefined {
  const before = new Map(prev.rows.map((r) => [r.id, r]));
  const rows = next.rows.filter((r) => !same(before.get(r.id), r));
  const ids = new Set(next.rows.map((r) => r.id));
  const removed = prev.rows.filter((r) => !ids.has(r.id)).map((r) => r.id);
  const columns = same(prev.columns, next.columns) ? undefined : next.columns;
  const summary = same(prev.summary, next.summary) ? undefined : next.summary;
  // Order matters too: unless the rows kept come first in their old order (new rows only
  // appended), every row is resent in the new order.
  const kept = prev.rows.filter((r) => ids.has(r.id)).map((r) => r.id);
  const order = same(kept, next.rows.slice(0, kept.length).map((r) => r.id));
  if (!rows.length && !removed.length && !columns && !summary && order) return undefined;
  return { type: 'matrix-diff', seq, rows: order ? rows : next.rows, removed, ...(columns ? { columns } : {}), ...(summary ? { summary } : {}) };
}

/** The snapshot a diff leads to: rows keep the order of `next` as sent (new rows go where they were listed). */
export function applyDiff(prev: MatrixSnapshot, d: MatrixDiff): MatrixSnapshot {
  const changed = new Map(d.rows.map((r) => [r.id, r]));
  const gone = new Set(d.removed);
  const rows: MatrixRow[] = [];
  const placed = new Set<string>();
  // Existing rows in their order, replaced where changed; rows new to us follow the row they came after.
  const incomingOrder = d.rows.map((r) => r.id);
  const allKnown = d.rows.length > 0 && prev.rows.every((r) => gone.has(r.id) || changed.has(r.id));
  if (allKnown) {
    // The whole list was resent (an order change): take it as is.
    for (const id of incomingOrder) rows.push(changed.get(id)!);
  } else {
    for (const r of prev.rows) {
      if (gone.has(r.id)) continue;
      rows.push(changed.get(r.id) ?? r);
      placed.add(r.id);
    }
    for (const r of d.rows) if (!placed.has(r.id)) rows.push(r);
  }
  return { columns: d.columns ?? prev.columns, rows, summary: d.summary ?? prev.summary };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function isRow(v: unknown): v is MatrixRow {
  return isObj(v) && isStr(v.id) && isStr(v.label) && isStr(v.status) && isObj(v.cells) && Object.values(v.cells).every((c) => isObj(c) && isStr(c.status));
}
function isColumns(v: unknown): v is MatrixColumn[] {
  return Array.isArray(v) && v.every((c) => isObj(c) && isStr(c.id) && isStr(c.title));
}
function isSnapshot(v: unknown): v is MatrixSnapshot {
  return isObj(v) && isColumns(v.columns) && Array.isArray(v.rows) && v.rows.every(isRow) && isObj(v.summary);
}

/** Validates a matrix socket's text frame (the browser's side). Never throws. */
export function parseMatrixMessage(text: string): MatrixMessage | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(raw)) return undefined;
  switch (raw.type) {
    case 'matrix':
      return typeof raw.seq === 'number' && isSnapshot(raw.matrix) ? { type: 'matrix', seq: raw.seq, matrix: raw.matrix } : undefined;
    case 'matrix-diff':
      if (typeof raw.seq !== 'number' || !Array.isArray(raw.rows) || !raw.rows.every(isRow) || !Array.isArray(raw.removed) || !raw.removed.every(isStr)) return undefined;
      if (raw.columns !== undefined && !isColumns(raw.columns)) return undefined;
      if (raw.summary !== undefined && !isObj(raw.summary)) return undefined;
      return raw as MatrixDiff;
    case 'matrix-error':
      return isStr(raw.code) && isStr(raw.message) ? { type: 'matrix-error', code: raw.code, message: raw.message } : undefined;
    default:
      return undefined;
  }
}

/** What the fleet page's script gets (static/fleet-page.ts). */
export interface FleetPageData {
  fleetId: string;
  lang: 'en' | 'ko';
  matrix: MatrixSnapshot;
  /** Whether this user may stop it (an operator): the server checks again. */
  canStop: boolean;
}

/** What the class page's script gets (static/class-page.ts). */
export interface ClassPageData {
  classId: string;
  lang: 'en' | 'ko';
  matrix: MatrixSnapshot;
  /** The trainer looking (take-over says who has the keyboard by user name). */
  user: string;
  /** Whether the class is still open (take over, message and end need it). */
  open: boolean;
}

/** What the classes list's script gets (static/class-page.ts, the create form). */
export interface ClassesPageData {
  lang: 'en' | 'ko';
}
