// `node --import tsx bench/translations.ts`: what translations cost the catalog — loading the
// shipped runbooks with their translations beside them, the same without the translations
// (a copy of the folder without the *.<lang>.md files), and the translation checks alone.
// A benchmark, not a test: it prints numbers (the best of three medians), it never fails.
//
// Environment (optional):
//   BENCH_REPEAT=20   timed repetitions of each measurement
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { checkTranslation, translationName } from '../server/runbook/translation.ts';

const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 20));
const RUNBOOKS = path.resolve(import.meta.dirname, '../runbooks');

function median(f: () => void): number {
  f(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-bench-translations-'));
try {
  // The shipped folder without its translations.
  fs.cpSync(RUNBOOKS, tmp, { recursive: true, filter: (src) => !translationName(path.relative(RUNBOOKS, src)) });
  const cat = loadCatalog(RUNBOOKS);
  const pairs = cat.translations.filter((t) => t.runbook && t.sourceId).map((t) => ({ source: cat.get(t.sourceId!)!.runbook!, t }));
  // Alternated rounds, so that JIT warm-up and a busy machine weigh on both alike.
  let withT = Infinity;
  let without = Infinity;
  for (let round = 0; round < 3; round++) {
    without = Math.min(without, median(() => loadCatalog(tmp)));
    withT = Math.min(withT, median(() => loadCatalog(RUNBOOKS)));
  }
  const checks = median(() => {
    for (const { source, t } of pairs) checkTranslation(source, t.runbook!, t.lang);
  });
  console.log(`catalog of ${cat.entries.length} runbooks: ${without.toFixed(1)} ms without translations, ${withT.toFixed(1)} ms with ${cat.translations.length} translations (best of 3 medians of ${REPEAT})`);
  console.log(`checking the ${pairs.length} translations against their sources, parsing excluded: ${checks.toFixed(2)} ms`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
