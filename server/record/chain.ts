// The audit hash chain. Pure: building and checking events, no storage.
// Each event carries the hash of the previous one, so editing, deleting or reordering any
// event breaks every link after it; the last hash (the head) can be kept elsewhere to
// detect a chain rebuilt wholesale.
import crypto from 'node:crypto';

export type AuditType =
  | 'run-started'
  | 'block-started'
  | 'block-finished'
  | 'confirmation'
  | 'step-verdict'
  | 'run-ended'
  | 'recording-sealed'
  | 'recording-failed'
  | 'recording-viewed'
  | 'approval-requested'
  | 'approval-granted'
  | 'approval-rejected'
  | 'approval-expired'
  | 'answer-sent'
  // Classrooms (server/class/): reveals, the trainer's actions and messages, the class's end.
  | 'hint-revealed'
  | 'solution-revealed'
  | 'takeover'
  | 'handback'
  | 'class-message'
  | 'class-ended'
  // Rollback of a failed run (server/run/rollback.ts): which steps, and how it ended.
  | 'rollback-started'
  | 'rollback-ended';

export interface AuditEvent {
  run: string;
  /** 1-based position in the run's chain. */
  n: number;
  ts: string;
  type: AuditType;
  data: Record<string, unknown>;
  /** Hash of event n-1, or GENESIS for the first. */
  prev: string;
  hash: string;
}

export const GENESIS = '0'.repeat(64);

/** JSON with object keys sorted, so the same event always hashes the same. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

export function sha256(data: string | Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export function hashEvent(e: Omit<AuditEvent, 'hash'>): string {
  return sha256(canonical({ run: e.run, n: e.n, ts: e.ts, type: e.type, data: e.data, prev: e.prev }));
}

export function nextEvent(prev: AuditEvent | undefined, run: string, type: AuditType, data: Record<string, unknown>, ts = new Date().toISOString()): AuditEvent {
  const base = { run, n: (prev?.n ?? 0) + 1, ts, type, data, prev: prev?.hash ?? GENESIS };
  return { ...base, hash: hashEvent(base) };
}

export interface ChainBreak {
  run: string;
  /** The first event whose link is broken (or where one is missing). */
  n: number;
  what: string;
}

/** Checks one run's chain, in stored order; returns the first broken link. */
export function verifyChain(run: string, events: readonly AuditEvent[]): ChainBreak | undefined {
  let prev = GENESIS;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const n = i + 1;
    if (e.run !== run) return { run, n, what: `event belongs to run ${e.run}` };
    if (e.n !== n) return { run, n, what: `expected event number ${n}, found ${e.n} (an event was deleted, inserted or moved)` };
    if (e.prev !== prev) return { run, n, what: `prev hash ${e.prev.slice(0, 12)}… does not match the hash of event ${n - 1} (${prev.slice(0, 12)}…)` };
    const h = hashEvent(e);
    if (h !== e.hash) return { run, n, what: `content does not match its hash (${e.type} event was edited)` };
    prev = e.hash;
  }
  return undefined;
}
