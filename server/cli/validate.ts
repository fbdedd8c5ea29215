// `stepwise validate [dir]`: every problem of every runbook and translation as `file:line CODE message`.
import { loadCatalog } from '../runbook/catalog.ts';
import { formatDiagnostic } from '../errors.ts';
import { runbooksDir } from './config.ts';
import { inventoryPath, loadInventory } from '../target/inventory.ts';

export function validateCommand(args: string[], out: (s: string) => void, inventory?: string): number {
  const dir = runbooksDir(args[0]);
  const catalog = loadCatalog(dir);
  let errors = 0;
  let warnings = 0;
  // Each translation right after its source; one without a source after all runbooks.
  const files = [...catalog.entries.flatMap((e) => [e, ...e.translations]), ...catalog.translations.filter((t) => t.sourceId === undefined)];
  for (const e of files) {
    for (const d of e.diagnostics) {
      out(formatDiagnostic(d));
      if (d.severity === 'error') errors++;
      else warnings++;
    }
  }
  // The inventory that applies (--inventory, STEPWISE_INVENTORY, inventory.yaml beside the folder).
  const invFile = inventoryPath(inventory, dir);
  const inv = invFile ? loadInventory(invFile) : undefined;
  for (const d of inv?.diagnostics ?? []) {
    out(formatDiagnostic(d));
    if (d.severity === 'error') errors++;
    else warnings++;
  }
  const translated = catalog.translations.length ? ` and ${catalog.translations.length} translations` : '';
  const withInventory = inv ? ` (and the inventory ${invFile}: ${inv.hosts.size} hosts)` : '';
  out(`${catalog.entries.length} runbooks${translated}${withInventory} checked in ${dir}: ${errors} errors, ${warnings} warnings`);
  return errors ? 1 : 0;
}
