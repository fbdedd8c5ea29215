// `stepwise list`: the runbooks, one line each, broken ones marked, with their translations' languages.
import { loadCatalog } from '../runbook/catalog.ts';
import { runbooksDir } from './config.ts';
import { langFromEnv, translator } from '../../common/i18n/index.ts';

export function listCommand(dir: string | undefined, out: (s: string) => void): number {
  const catalog = loadCatalog(runbooksDir(dir));
  // The CLI's language (LC_ALL, LC_MESSAGES, LANG); ids, titles and language codes stay as they are.
  const tr = translator(langFromEnv(undefined, process.env));
  const w = Math.max(0, ...catalog.entries.map((e) => e.id.length));
  for (const e of catalog.entries) {
    const rb = e.runbook;
    const section = rb?.section && !rb.title.startsWith(rb.section) ? `${rb.section} ` : '';
    const steps = rb ? tr.t('cli.list.steps', { count: rb.steps.length }) : '';
    // Translations by language code; one that drifted from its source cannot run.
    const broken = tr.t('cli.list.broken');
    const langs = e.translations.map((t) => (t.ok ? t.lang : `${t.lang}: ${broken}`)).join(', ');
    out(`${e.id.padEnd(w)}  ${padColumns(e.ok ? 'ok' : broken, Math.max(6, columns(broken)))} ${section}${rb?.title ?? e.file}${steps ? ` (${steps})` : ''}${langs ? ` [${langs}]` : ''}`);
  }
  return 0;
}

/** Terminal columns of a string: Hangul and other wide characters take two. */
function columns(s: string): number {
  let n = 0;
  for (const ch of s) n += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\uff00-\uff60]/u.test(ch) ? 2 : 1;
  return n;
}

function padColumns(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - columns(s)));
}
