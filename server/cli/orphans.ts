// Run before every stepwise command: closes what a killed stepwise process (CLI or server) left
// behind — its running runs become interrupted, its session folders and labs go.
import fs from 'node:fs';
import path from 'node:path';
import { RunStore } from '../record/store.ts';
import { AuditLog } from '../record/audit.ts';
import { createLogger } from '../log.ts';
import { interruptOrphanedRuns, removeOrphanedSessionDirs } from '../run/orphans.ts';
import { labSessionDirs, removeStaleLabs } from '../target/lab.ts';
import { interruptOrphanedFleets } from '../run/fleet.ts';

export async function reapOrphans(data: string, opts: { labs: boolean }): Promise<void> {
  const log = createLogger(process.env.STEPWISE_LOG ?? 'warn');
  // Only a data folder that exists: a command must not create one as a side effect.
  if (fs.existsSync(path.join(data, 'stepwise.db'))) {
    const store = RunStore.open(data);
    try {
      const runs = interruptOrphanedRuns(store, new AuditLog(store, data), log);
      if (runs.length) log.warn('runs of a stepwise process that died are now interrupted', { runs });
      const fleets = interruptOrphanedFleets(store);
      if (fleets.length) log.warn('fleets of a stepwise process that died are now interrupted', { fleets });
    } finally {
      store.close();
    }
  }
  removeOrphanedSessionDirs();
  for (const d of labSessionDirs()) removeOrphanedSessionDirs(d); // a lab's host-1 sessions
  if (!opts.labs) return;
  try {
    const labs = await removeStaleLabs();
    if (labs.length) log.warn('labs of a stepwise process that died were removed', { labs });
  } catch (e) {
    log.warn('stale labs could not be checked', { error: (e as Error).message });
  }
}
