// `stepwise validate [dir]`: every problem of every runbook and translation as `file:line CODE message`.
import { loadCatalog } from '../runbook/catalog.ts';
import { formatDiagnostic } from '../errors.ts';
import { runbooksDir } from './config.ts';
import { langFromEnv, translator } from '../../common/i18n/index.ts';
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
  // The summary in the CLI's language (LC_ALL, LC_MESSAGES, LANG); the diagnostics above stay
  // `file:line CODE message`, the form tools and docs/format.md rely on.
  const tr = translator(langFromEnv(undefined, process.env));
  out(tr.t('cli.validate.summary', {
    runbooks: catalog.entries.length,
    translations: catalog.translations.length,
    hasInventory: inv ? 'yes' : 'no',
    inventory: invFile ?? '',
    hosts: inv?.hosts.size ?? 0,
    dir,
    errors,
    warnings,
  }));
  return errors ? 1 : 0;
}
