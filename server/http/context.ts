// What every HTTP route and the websocket gateway share.
import type { Catalog } from '../runbook/catalog.ts';
import type { RunStore } from '../record/store.ts';
import type { AuditLog } from '../record/audit.ts';
import type { Logger } from '../log.ts';
import type { Runs } from '../run/runs.ts';

export interface AppContext {
  token: string;
  catalog: () => Catalog;
  store: RunStore;
  audit: AuditLog;
  runs: Runs;
  log: Logger;
  dataDir: string;
  /** Target ids offered to users. */
  targetIds: string[];
}
