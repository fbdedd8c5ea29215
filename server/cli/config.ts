// Where the CLI finds runbooks and data: flags, then environment, then defaults.
import fs from 'node:fs';
import path from 'node:path';
import { langFromEnv, translator, type Translator } from '../../common/i18n/index.ts';
import type { Catalog } from '../runbook/catalog.ts';
import type { RunStore } from '../record/store.ts';
import { AuditLog } from '../record/audit.ts';
import { Runs, type RunsDeps } from '../run/runs.ts';
import { createLogger } from '../log.ts';

const PACKAGE_DIR = path.resolve(import.meta.dirname, '../..');

export function runbooksDir(flag?: string): string {
  if (flag) return path.resolve(flag);
  if (process.env.STEPWISE_RUNBOOKS) return path.resolve(process.env.STEPWISE_RUNBOOKS);
  const local = path.resolve('runbooks');
  return fs.existsSync(local) ? local : path.join(PACKAGE_DIR, 'runbooks');
}

export function dataDir(flag?: string): string {
  return path.resolve(flag ?? process.env.STEPWISE_DATA ?? 'data');
}

/** The language of the CLI's own lines: LC_ALL, LC_MESSAGES, LANG (ko_KR.UTF-8 → ko), else English. */
export function cliTranslator(): Translator {
  return translator(langFromEnv(undefined, process.env));
}

/** The runs of one CLI command (run, rollback): its catalog, store and audit log under dataDir,
 *  its targets, logging at STEPWISE_LOG (default warn: the command prints its own lines). */
export function cliRuns(catalog: Catalog, store: RunStore, data: string, targets: RunsDeps['targets'], limits?: RunsDeps['limits']): Runs {
  return new Runs({
    catalog: () => catalog,
    store,
    audit: new AuditLog(store, data),
    dataDir: data,
    log: createLogger(process.env.STEPWISE_LOG ?? 'warn'),
    targets,
    ...(limits ? { limits } : {}),
  });
}
