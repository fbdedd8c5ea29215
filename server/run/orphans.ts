// What a killed Stepwise process left behind, found and closed by the next one: its runs
// still marked running become `interrupted` (their recordings sealed into their chains), and
// its session folders are removed. Each thing records its owner (server/owner.ts), so a live
// process's runs and folders are never touched.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunStore } from '../record/store.ts';
import type { AuditLog } from '../record/audit.ts';
import { sha256 } from '../record/chain.ts';
import type { Logger } from '../log.ts';
import { ownerAlive } from '../owner.ts';

/** The file in a session folder that names the process owning it. */
export const OWNER_FILE = 'owner';
/** Session folders are made here by the local and lab targets (mkdtemp `stepwise-XXXXXX`). */
const SESSION_DIR_PREFIX = 'stepwise-';

export interface Reaped {
  runs: string[];
  sessionDirs: string[];
}

/** Marks the dead owners' running runs interrupted, each sealed and chained. */
export function interruptOrphanedRuns(store: RunStore, audit: AuditLog, log: Logger): string[] {
  const done: string[] = [];
  for (const { id, owner } of store.runningRuns()) {
    if (owner !== null && ownerAlive(owner)) continue;
    // Only one process wins the update, so two reapers never both chain the same end.
    if (!store.interruptRun(id)) continue;
    const reason = owner === null ? 'its process is gone' : `its process (pid ${owner.split(':')[0]}) died`;
    try {
      audit.append(id, 'run-ended', { status: 'interrupted', reason });
      const rec = store.getRun(id);
      const castPath = rec?.castPath;
      // A runbook that spans hosts: the first role's recording is the run's own; each other role's after it.
      const roles = Array.isArray(rec?.options.roles) ? (rec!.options.roles as Array<{ role?: unknown; castPath?: unknown }>) : [];
      if (castPath && fs.existsSync(castPath)) {
        const bytes = fs.readFileSync(castPath);
        audit.append(id, 'recording-sealed', { castDigest: sha256(bytes), bytes: bytes.length, ...(typeof roles[0]?.role === 'string' ? { role: roles[0].role } : {}) });
        for (const r of roles.slice(1)) {
          if (typeof r.role !== 'string' || typeof r.castPath !== 'string' || !fs.existsSync(r.castPath)) continue;
          const b = fs.readFileSync(r.castPath);
          audit.append(id, 'recording-sealed', { castDigest: sha256(b), bytes: b.length, role: r.role });
        }
      }
      audit.forget(id);
    } catch (e) {
      log.error('interrupted run could not be chained', { runId: id, error: (e as Error).message });
    }
    log.warn('run interrupted: its process died', { runId: id, owner });
    done.push(id);
  }
  return done;
}

/** Removes session folders whose owning process is dead. */
export function removeOrphanedSessionDirs(tmp: string = os.tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmp).filter((n) => n.startsWith(SESSION_DIR_PREFIX));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(tmp, name);
    let owner: string;
    try {
      owner = fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8').trim();
    } catch {
      continue; // not a session folder (labs keep their own records), or one being made
    }
    if (ownerAlive(owner)) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
