// `node --import tsx bench/history.ts`: what reading a recorded run costs through RunHistory
// (server/run/history.ts) — the chain's verdicts (the step-page redirect, resume, the report's
// "done in an earlier run"), the report, and the pinned runbook — on a synthetic chain of
// resumed runs with large outputs. A benchmark, not a test: it prints numbers, it never fails.
//
// Environment (all optional):
//   BENCH_CHAIN=4          runs in the chain (each resumes the one before)
//   BENCH_STEPS=50         steps per run (two blocks each: a command and a check)
//   BENCH_OUTPUT_KB=64     output per block (the executor keeps up to 256 KiB of each)
//   BENCH_REPEAT=20        timed repetitions of each reading (the median is printed)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RunStore, type RunRecord } from '../server/record/store.ts';
import { saveSnapshot } from '../server/record/snapshot.ts';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { parseRunbook } from '../server/runbook/parse.ts';
import { RunHistory } from '../server/run/history.ts';

const CHAIN = Math.max(1, Number(process.env.BENCH_CHAIN ?? 4));
const STEPS = Math.max(1, Number(process.env.BENCH_STEPS ?? 50));
const OUTPUT_KB = Math.max(0, Number(process.env.BENCH_OUTPUT_KB ?? 64));
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 20));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-bench-history-'));
try {
  const data = path.join(tmp, 'data');
  const rbDir = path.join(tmp, 'runbooks');
  fs.mkdirSync(rbDir);
  const source = `# Bench\n\n${Array.from({ length: STEPS }, (_, i) => `## Step ${i}\n\n\`\`\`sh {id=c${i}}\necho ${i}\n\`\`\`\n\n\`\`\`sh {id=k${i} verify}\ntrue\n\`\`\`\n`).join('\n')}`;
  fs.writeFileSync(path.join(rbDir, 'bench.md'), source);
  const rb = parseRunbook(source, 'bench.md').runbook!;
  const store = RunStore.open(data);
  saveSnapshot(data, rb.contentHash, source);
  const output = 'x'.repeat(OUTPUT_KB * 1024 - 1) + '\n';
  // Each run of the chain gets one step further than the one it resumed.
  let parent: RunRecord | undefined;
  for (let r = 0; r < CHAIN; r++) {
    const run = store.createRun({ runbookId: rb.id, runbookFile: rb.file, contentHash: rb.contentHash, runbookTitle: rb.title, target: 'local', user: 'bench', parentRunId: parent?.id ?? null });
    for (let i = 0; i < STEPS; i++) {
      const result = (id: string) => ({ id, status: 'passed' as const, exitCode: 0, output, durationMs: 1, end: 'exit' as const });
      store.addBlockResult(run.id, `step-${i}`, 'command', result(`c${i}`));
      store.addBlockResult(run.id, `step-${i}`, 'check', result(`k${i}`));
      store.setStepVerdict(run.id, { stepId: `step-${i}`, status: i < STEPS - CHAIN + r ? 'passed' : 'failed' });
    }
    store.finishRun(run.id, 'failed');
    parent = store.getRun(run.id)!;
  }
  const last = parent!;
  const catalog = loadCatalog(rbDir);

  const time = (label: string, fn: () => unknown): void => {
    fn(); // warm: statements prepared, pages in the OS cache
    const ms: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const t = performance.now();
      fn();
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    console.log(`${label.padEnd(44)} median ${ms[Math.floor(ms.length / 2)]!.toFixed(2).padStart(8)} ms   max ${ms[ms.length - 1]!.toFixed(2).padStart(8)} ms`);
  };
  const dbBytes = fs.statSync(store.path).size + (fs.existsSync(`${store.path}-wal`) ? fs.statSync(`${store.path}-wal`).size : 0);
  console.log(`chain of ${CHAIN} runs × ${STEPS} steps × 2 blocks × ${OUTPUT_KB} KiB output; database ${(dbBytes / 1048576).toFixed(1)} MiB; ${REPEAT} repetitions`);
  time('chainVerdicts (redirect, resume, report)', () => new RunHistory(store).chainVerdicts(last));
  time('report (blocks, verdicts, pinned runbook)', () => new RunHistory(store, () => catalog).report(last.id));
  time('pinned runbook (read and parse the snapshot)', () => new RunHistory(store).pinned(last));
  store.close();
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
