// The fleet scheduler's decisions (docs/targets.md, Fleets), pure: which hosts start now, which
// are skipped and why, given every host's status. The Fleet (fleet.ts) does the I/O.
//
// - `parallel`: at most that many hosts run at once.
// - `maxFail` (the failure budget): once MORE hosts than it allows have failed (a count, or a
//   percentage of the fleet's hosts), no new host starts; the hosts not started are skipped
//   with the reason. Hosts already running finish. `0` (the default): the first failure stops it.
// - `batches` (canary batches, Ansible's `serial`): each entry is the size of one batch, a count
//   or a percentage of the fleet's hosts (rounded down, at least 1); the last entry repeats until
//   every host has a batch. A batch starts only once every host of the batches before it ended.
import { failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';
import type { FleetHostStatus, FleetStatus } from '../record/fleets.ts';

// More parallel sessions than this would only queue on any machine we know; each is an ssh
// master and a shell on this side.
export const MAX_PARALLEL = 256;
export const DEFAULT_PARALLEL = 5;

export type Amount = { count: number } | { percent: number };

function amount(raw: string, what: string, min: number): Outcome<Amount> {
  const s = raw.trim();
  const m = /^(\d{1,6})(%?)$/.exec(s);
  if (!m) return { ok: false, error: failure('BAD_REQUEST', `${what}: ${JSON.stringify(raw)} is not a whole number or a percentage like 25%`, what) };
  const n = Number(m[1]);
  if (m[2]) {
    if (n > 100 || n < min) return { ok: false, error: failure('BAD_REQUEST', `${what}: ${s} must be from ${min}% to 100%`, what) };
    return { ok: true, value: { percent: n } };
  }
  if (n < min) return { ok: false, error: failure('BAD_REQUEST', `${what}: ${s} must be at least ${min}`, what) };
  return { ok: true, value: { count: n } };
}

export function amountLabel(a: Amount): string {
  return 'percent' in a ? `${a.percent}%` : String(a.count);
}

/** `--parallel N` / `parallel`: 1 to MAX_PARALLEL; default 5. */
export function parseParallel(v: unknown): Outcome<number> {
  if (v === undefined || v === null || v === '') return { ok: true, value: DEFAULT_PARALLEL };
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,6}$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARALLEL) return { ok: false, error: failure('BAD_REQUEST', `parallel must be a whole number from 1 to ${MAX_PARALLEL}, not ${JSON.stringify(v)}`, 'parallel') };
  return { ok: true, value: n };
}

/** `--max-fail N|P%` / `maxFail`: default 0. */
export function parseMaxFail(v: unknown): Outcome<Amount> {
  if (v === undefined || v === null || v === '') return { ok: true, value: { count: 0 } };
  if (typeof v !== 'string' && typeof v !== 'number') return { ok: false, error: failure('BAD_REQUEST', 'maxFail must be a whole number or a percentage like "25%"', 'maxFail') };
  return amount(String(v), 'maxFail', 0);
}

/** `--batches 1,25%,100%` / `batches`: undefined means one batch of every host. */
export function parseBatches(v: unknown): Outcome<Amount[] | undefined> {
  if (v === undefined || v === null || v === '') return { ok: true, value: undefined };
  const parts = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',') : undefined;
  if (!parts || parts.length === 0) return { ok: false, error: failure('BAD_REQUEST', 'batches must be a list of sizes like "1,25%,100%"', 'batches') };
  const out: Amount[] = [];
  for (const p of parts) {
    const a = amount(p, 'batches', 1);
    if (!a.ok) return a;
    out.push(a.value);
  }
  return { ok: true, value: out };
}

/** How many failures the budget allows: more than this and no new host starts. */
export function failureBudget(maxFail: Amount, hosts: number): number {
  // "More than P% of the hosts failed" is failed > P·n/100, the same as failed > ⌊P·n/100⌋.
  return 'percent' in maxFail ? Math.floor((maxFail.percent * hosts) / 100) : maxFail.count;
}

/** Each host's batch (index from 0), hosts in order: Ansible `serial` sizes, the last repeating. */
export function assignBatches(hosts: number, spec: Amount[] | undefined): number[] {
  if (!spec || spec.length === 0) return Array.from({ length: hosts }, () => 0);
  const out: number[] = [];
  for (let b = 0; out.length < hosts; b++) {
    const a = spec[Math.min(b, spec.length - 1)]!;
    const size = 'percent' in a ? Math.max(1, Math.floor((a.percent * hosts) / 100)) : a.count;
    for (let i = 0; i < size && out.length < hosts; i++) out.push(b);
  }
  return out;
}

export interface SchedHost {
  status: FleetHostStatus;
  batch: number;
}

export interface Decision {
  /** Indexes of the hosts to start now, in order. */
  start: number[];
  /** Hosts that will not start, and why. */
  skip: Array<{ index: number; reason: string }>;
}

/** A failed host for the budget: it failed, or its run was interrupted (a lost connection). */
export function countsAsFailed(s: FleetHostStatus): boolean {
  return s === 'failed' || s === 'interrupted';
}

export function budgetState(hosts: readonly SchedHost[], budget: number): { failed: number; exhausted: boolean } {
  const failed = hosts.filter((h) => countsAsFailed(h.status)).length;
  return { failed, exhausted: failed > budget };
}

/**
 * What to do now. `stopped`: the fleet was stopped (a signal, the API), with the reason: nothing
 * more starts. `maxFailLabel` is for the skip reason.
 */
export function decide(hosts: readonly SchedHost[], o: { parallel: number; budget: number; maxFailLabel: string; stopped?: string }): Decision {
  const pending = hosts.map((h, i) => ({ h, i })).filter(({ h }) => h.status === 'pending');
  if (o.stopped !== undefined) return { start: [], skip: pending.map(({ i }) => ({ index: i, reason: `not started: ${o.stopped}` })) };
  const { failed, exhausted } = budgetState(hosts, o.budget);
  if (exhausted) {
    const reason = `not started: the failure budget is spent (${failed} host${failed === 1 ? '' : 's'} failed, more than --max-fail ${o.maxFailLabel})`;
    return { start: [], skip: pending.map(({ i }) => ({ index: i, reason })) };
  }
  const open = hosts.filter((h) => h.status === 'pending' || h.status === 'running');
  if (open.length === 0) return { start: [], skip: [] };
  // The current batch: the first with a host not yet ended; later batches wait for it.
  const current = Math.min(...open.map((h) => h.batch));
  const running = hosts.filter((h) => h.status === 'running').length;
  const room = Math.max(0, o.parallel - running);
  return { start: pending.filter(({ h }) => h.batch === current).slice(0, room).map(({ i }) => i), skip: [] };
}

/** The fleet's status once no host is pending or running. */
export function fleetStatus(hosts: readonly SchedHost[], stopped: boolean): FleetStatus {
  if (hosts.some((h) => h.status === 'pending' || h.status === 'running')) return 'running';
  if (stopped) return 'interrupted';
  return hosts.every((h) => h.status === 'passed') ? 'passed' : 'failed';
}

export interface FleetCounts {
  passed: number;
  failed: number;
  skipped: number;
  running: number;
  pending: number;
  interrupted: number;
}

export function fleetCounts(hosts: readonly SchedHost[]): FleetCounts {
  const c: FleetCounts = { passed: 0, failed: 0, skipped: 0, running: 0, pending: 0, interrupted: 0 };
  for (const h of hosts) c[h.status]++;
  return c;
}
