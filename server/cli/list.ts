// `stepwise list`: the runbooks, one line each, broken ones marked, with their translations' languages.
import { loadCatalog } from '../runbook/catalog.ts';
import { runbooksDir } from './config.ts';

export function listCommand(dir: string | undefined, out: (s: string) => void): number {
  const catalog = loadCatalog(runbooksDir(dir));
  const w = Math.max(0, ...catalog.entries.map((e) => e.id.length));
  for (const e of catalog.entries) {
    const rb = e.runbook;
    const section = rb?.section && !rb.title.startsWith(rb.section) ? `${rb.section} ` : '';
    const steps = rb ? `${rb.steps.length} steps` : '';
    // Translations by language code; one that drifted from its source cannot run.
    const langs = e.translations.map((t) => (t.ok ? t.lang : `${t.lang}: BROKEN`)).join(', ');
    out(`${e.id.padEnd(w)}  ${e.ok ? 'ok    ' : 'BROKEN'} ${section}${rb?.title ?? e.file}${steps ? ` (${steps})` : ''}${langs ? ` [${langs}]` : ''}`);
  }
  return 0;
}
