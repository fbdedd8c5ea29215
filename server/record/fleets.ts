// Durable records of fleet runs (server/run/fleet.ts): the fleet, its hosts with their reserved
// run ids and statuses, and each run's link to its fleet. Tables in stepwise.db (store.ts's
// migration); synchronous like the rest of the store.
import { randomBytes } from 'node:crypto';
import type { RunStore } from './store.ts';

export type FleetStatus = 'running' | 'passed' | 'failed' | 'interrupted';
export type FleetHostStatus = 'pending' | 'running' | 'passed' | 'failed' | 'skipped' | 'interrupted';

export interface FleetRecord {
  id: string;
  runbookId: string;
  /** The selector as given (`@web`, `label=kvm`, `web1,web2`). */
  target: string;
  user: string;
  parallel: number;
  /** As given: a count (`2`) or a percentage (`25%`). */
  maxFail: string;
  /** As given (`1,25%,100%`), or null: one batch. */
  batches: string | null;
  options: Record<string, unknown>;
  status: FleetStatus;
  /** Why it ended as it did, when not all passed (the budget, a stop, a signal). */
  reason: string | null;
  startedAt: string;
  endedAt: string | null;
  /** The fleet this one resumes (`--resume FLEETID`). */
  parentFleetId: string | null;
  owner: string | null;
}

export interface FleetHostRecord {
  host: string;
  /** Order in the fleet (selector order), from 0. */
  position: number;
  /** Its canary batch, from 0. */
  batch: number;
  /** Reserved when the fleet is made; a host that never started has no run with this id. */
  runId: string;
  /** The earlier run this host's run resumes (a resumed fleet), if any. */
  resumeOf: string | null;
  status: FleetHostStatus;
  reason: string | null;
}

// Fleet ids: `f` + UTC yyyymmddHHMMSS + `-` + 6 base32 chars, like run ids (ids.ts) with another letter.
export const FLEET_ID_PATTERN = /^f\d{14}-[a-z2-7]{6}$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function newFleetId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  let suffix = '';
  for (const b of randomBytes(6)) suffix += BASE32[b & 31];
  return `f${stamp}-${suffix}`;
}

export function isFleetId(s: string): boolean {
  return FLEET_ID_PATTERN.test(s);
}

interface FleetRow {
  id: string;
  runbook_id: string;
  target: string;
  user: string;
  parallel: number;
  max_fail: string;
  batches: string | null;
  options_json: string;
  status: string;
  reason: string | null;
  started_at: string;
  ended_at: string | null;
  parent_fleet_id: string | null;
  owner: string | null;
}

interface HostRow {
  host: string;
  position: number;
  batch: number;
  run_id: string;
  resume_of: string | null;
  status: string;
  reason: string | null;
}

function toFleet(r: FleetRow): FleetRecord {
  let options: Record<string, unknown> = {};
  try {
    options = JSON.parse(r.options_json) as Record<string, unknown>;
  } catch {
    options = {};
  }
  return {
    id: r.id,
    runbookId: r.runbook_id,
    target: r.target,
    user: r.user,
    parallel: r.parallel,
    maxFail: r.max_fail,
    batches: r.batches,
    options,
    status: r.status as FleetStatus,
    reason: r.reason,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    parentFleetId: r.parent_fleet_id,
    owner: r.owner,
  };
}

export class FleetStore {
  constructor(private readonly store: RunStore) {}

  private get db() {
    return this.store.database;
  }

  create(f: Omit<FleetRecord, 'status' | 'reason' | 'endedAt'>, hosts: Array<Omit<FleetHostRecord, 'status' | 'reason'>>): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO fleets (id, runbook_id, target, user, parallel, max_fail, batches, options_json, status, started_at, parent_fleet_id, owner)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)`,
        )
        .run(f.id, f.runbookId, f.target, f.user, f.parallel, f.maxFail, f.batches, JSON.stringify(f.options), f.startedAt, f.parentFleetId, f.owner);
      const ins = this.db.prepare(`INSERT INTO fleet_hosts (fleet_id, position, host, batch, run_id, resume_of, status) VALUES (?, ?, ?, ?, ?, ?, 'pending')`);
      for (const h of hosts) ins.run(f.id, h.position, h.host, h.batch, h.runId, h.resumeOf);
    }).immediate();
  }

  get(id: string): FleetRecord | undefined {
    const row = this.db.prepare('SELECT * FROM fleets WHERE id = ?').get(id) as FleetRow | undefined;
    return row ? toFleet(row) : undefined;
  }

  /** Newest first. */
  list(limit = 100): FleetRecord[] {
    return (this.db.prepare('SELECT * FROM fleets ORDER BY started_at DESC, id DESC LIMIT ?').all(limit) as FleetRow[]).map(toFleet);
  }

  hosts(id: string): FleetHostRecord[] {
    return (this.db.prepare('SELECT host, position, batch, run_id, resume_of, status, reason FROM fleet_hosts WHERE fleet_id = ? ORDER BY position').all(id) as HostRow[]).map((r) => ({
      host: r.host,
      position: r.position,
      batch: r.batch,
      runId: r.run_id,
      resumeOf: r.resume_of,
      status: r.status as FleetHostStatus,
      reason: r.reason,
    }));
  }

  setHost(id: string, host: string, status: FleetHostStatus, reason?: string): void {
    this.db.prepare('UPDATE fleet_hosts SET status = ?, reason = ? WHERE fleet_id = ? AND host = ?').run(status, reason ?? null, id, host);
  }

  /** Links a run to its fleet (the run's own record is made by Run.start). */
  linkRun(runId: string, fleetId: string): void {
    this.db.prepare('UPDATE runs SET fleet_id = ? WHERE id = ?').run(fleetId, runId);
  }

  /** Run ids linked to a fleet. */
  runsOf(fleetId: string): string[] {
    return (this.db.prepare('SELECT id FROM runs WHERE fleet_id = ? ORDER BY started_at').all(fleetId) as Array<{ id: string }>).map((r) => r.id);
  }

  finish(id: string, status: FleetStatus, reason?: string, endedAt = new Date().toISOString()): void {
    this.db.prepare('UPDATE fleets SET status = ?, reason = ?, ended_at = ? WHERE id = ?').run(status, reason ?? null, endedAt, id);
  }

  /** Fleets still `running`, with their owner process (a dead owner's fleet is interrupted). */
  running(): Array<{ id: string; owner: string | null }> {
    return this.db.prepare("SELECT id, owner FROM fleets WHERE status = 'running'").all() as Array<{ id: string; owner: string | null }>;
  }
}
