// `stepwise validate [dir]`: every problem of every runbook as `file:line CODE message`.
import { loadCatalog } from '../runbook/catalog.ts';
import { formatDiagnostic } from '../errors.ts';
import { runbooksDir } from './config.ts';

export function validateCommand(args: string[], out: (s: string) => void): number {
  const dir = runbooksDir(args[0]);
  const catalog = loadCatalog(dir);
  let errors = 0;
  let warnings = 0;
  for (const e of catalog.entries) {
    for (const d of e.diagnostics) {
      out(formatDiagnostic(d));
      if (d.severity === 'error') errors++;
      else warnings++;
    }
  }
  out(`${catalog.entries.length} runbooks checked in ${dir}: ${errors} errors, ${warnings} warnings`);
  return errors ? 1 : 0;
}
