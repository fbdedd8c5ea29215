// `stepwise audit verify [runId|--all]`: recomputes hash chains; non-zero on any tampering.
import { RunStore } from '../record/store.ts';
import { verifyRun } from '../record/verification.ts';
import { dataDir } from './config.ts';

export function auditCommand(a: { action: string | undefined; runs: string[]; all: boolean; data?: string }, out: (s: string) => void): number {
  if (a.action !== 'verify') {
    out('usage: stepwise audit verify [runId...|--all] [--data DIR]');
    return 2;
  }
  if (!a.all && a.runs.length === 0) {
    out('stepwise audit verify: name run ids or --all');
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
        out(`${id} ok: ${v.events} events, head ${v.head}`);
        continue;
      }
      bad++;
      for (const p of v.problems) out(`${id} TAMPERED ${p.where}${p.n !== undefined ? ` at event ${p.n}` : ''}: ${p.what}`);
    }
    out(`${ids.length} runs verified: ${ids.length - bad} intact, ${bad} with problems`);
    return bad ? 1 : 0;
  } finally {
    store.close();
  }
}
