// `node --import tsx bench/evidence.ts`: what an evidence bundle costs — building it (the
// reports, report.html with the player inlined, the zip) and checking it (every hash, the
// chain recomputed, the signature) — for a real run whose blocks print a lot. A benchmark,
// not a test: it prints numbers, it never fails.
//
// Environment (all optional):
//   BENCH_LINES=200000   lines printed by each of the run's two output blocks
//   BENCH_REPEAT=5       timed repetitions (the median is printed)
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RunStore } from '../server/record/store.ts';
import { RunHistory } from '../server/run/history.ts';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { buildEvidence } from '../server/report/evidence.ts';
import { checkEvidence } from '../server/report/evidence-check.ts';
import { loadPlayerAssets } from '../server/report/html.ts';

const LINES = Math.max(1, Number(process.env.BENCH_LINES ?? 200_000));
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 5));
const ROOT = path.resolve(import.meta.dirname, '..');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-bench-evidence-'));
try {
  const data = path.join(tmp, 'data');
  const rbDir = path.join(tmp, 'runbooks');
  fs.mkdirSync(rbDir);
  fs.writeFileSync(path.join(rbDir, 'bench.md'), `# Evidence bench\n\n## Print a lot\n\n\`\`\`sh {id=one}\nseq 1 ${LINES}\n\`\`\`\n\n\`\`\`sh {id=two}\nseq ${LINES} -1 1\n\`\`\`\n\n\`\`\`sh {id=check verify}\ntrue\n\`\`\`\n`);
  const run = spawnSync(process.execPath, [path.join(ROOT, 'bin/stepwise.js'), 'run', 'bench', '--runbooks', rbDir, '--data', data], { env: { ...process.env, STEPWISE_LOG: 'warn' }, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the run failed:\n${run.stdout}${run.stderr}`);

  const store = RunStore.open(data);
  try {
    const runId = store.listRuns({})[0]!.id;
    const catalog = loadCatalog(rbDir);
    const key = crypto.generateKeyPairSync('ed25519');
    const assets = loadPlayerAssets();
    const builds: number[] = [];
    const checks: number[] = [];
    let zip: Buffer | undefined;
    for (let i = 0; i < REPEAT; i++) {
      const t0 = performance.now();
      const r = buildEvidence(new RunHistory(store, () => catalog), runId, { assets, signingKey: key.privateKey });
      builds.push(performance.now() - t0);
      if (!r.ok) throw new Error(r.error.message);
      zip = r.value.zip;
      const t1 = performance.now();
      const c = checkEvidence(zip, key.publicKey.export({ type: 'spki', format: 'pem' }));
      checks.push(performance.now() - t1);
      if (c.problems.length) throw new Error(c.problems.join('\n'));
    }
    const cast = fs.statSync(store.getRun(runId)!.castPath!).size;
    console.log(`run ${runId}: 2 blocks of ${LINES} lines, recording ${(cast / 1024 / 1024).toFixed(1)} MiB`);
    console.log(`bundle: ${(zip!.length / 1024 / 1024).toFixed(2)} MiB zipped`);
    console.log(`build (reports, report.html, zip, signature): median ${median(builds).toFixed(0)} ms of ${REPEAT}`);
    console.log(`verify (hashes, chain, recording, record, signature): median ${median(checks).toFixed(0)} ms of ${REPEAT}`);
  } finally {
    store.close();
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
