// `stepwise audit verify [runId|--all]`: recomputes hash chains; non-zero on any tampering.
import { RunStore } from '../record/store.ts';
import { verifyRun } from '../record/verification.ts';
import { cliTranslator, dataDir } from './config.ts';

export function auditCommand(a: { action: string | undefined; runs: string[]; all: boolean; data?: string }, out: (s: string) => void): number {
  const tr = cliTranslator();
  if (a.action !== 'verify') {
    out(tr.t('cli.audit.usage'));
    return 2;
  }
  if (!a.all && a.runs.length === 0) {
    out(tr.t('cli.usage', { command: 'audit verify', message: tr.t('cli.audit.nameRuns') }));
    return 2;
  }
  const dir = dataDir(a.data);
  const store = RunStore.open(dir);
  try {
    const ids = a.all ? store.auditedRunIds() : a.runs;
    let bad = 0;
    for (const id of ids) {
      const v = verifyRun(store, dir, id);
      if (v.problems.length === 0) {
        out(tr.t('cli.audit.ok', { id, events: String(v.events), head: String(v.head) }));
        continue;
      }
      bad++;
      for (const p of v.problems) out(tr.t('cli.audit.tampered', { id, where: p.where, n: p.n !== undefined ? String(p.n) : 'none', what: p.what }));
    }
    out(tr.t('cli.audit.summary', { runs: String(ids.length), intact: String(ids.length - bad), bad: String(bad) }));
    return bad ? 1 : 0;
  } finally {
    store.close();
  }
}
