// `stepwise list`: the runbooks, one line each, broken ones marked.
import { loadCatalog } from '../runbook/catalog.ts';
import { runbooksDir } from './config.ts';

export function listCommand(dir: string | undefined, out: (s: string) => void): number {
  const catalog = loadCatalog(runbooksDir(dir));
  for (const e of catalog.entries) {
    const rb = e.runbook;
    const section = rb?.section ? `${rb.section} ` : '';
    const steps = rb ? `${rb.steps.length} steps` : '';
    out(`${e.id.padEnd(28)} ${e.ok ? 'ok    ' : 'BROKEN'} ${section}${rb?.title ?? e.file}${steps ? ` (${steps})` : ''}`);
  }
  return 0;
}
