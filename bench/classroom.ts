// Classroom capacity on this machine (docs/performance.md, Classroom): memory per trainee with
// a lab and with a local target, the time to provision a trainee's lab, how many trainees with
// labs can run a step at once before its run time doubles, and the trainer dashboard's update
// latency with 30 trainees (a step verdict → the matrix update reaching the trainer's socket).
// A benchmark, not a test: it prints the numbers and never fails on them. Needs root (labs).
//   node --import tsx bench/classroom.ts
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { serve } from '../server/http/server.ts';
import { createLogger } from '../server/log.ts';

// A step with some real work (hashing 64 MB): trivial echo steps would measure only the
// executor's overhead, not how trainees share the machine's two cores.
const RUNBOOK = `---
title: Bench lesson
---
# Bench lesson

## Work {#work}

\`\`\`sh {id=work}
head -c 67108864 /dev/zero | sha256sum >/dev/null && echo worked
\`\`\`

\`\`\`sh {id=work-check verify}
true
\`\`\`

## Greet {#greet}

\`\`\`sh {id=greet}
echo hello
\`\`\`

\`\`\`sh {id=greet-check verify}
true
\`\`\`
`;
const MAX_LAB_TRAINEES = 12;
const DASHBOARD_TRAINEES = 30;
const ROUNDS = 3;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-bench-class-'));
const runbooks = path.join(dir, 'runbooks');
fs.mkdirSync(runbooks);
fs.writeFileSync(path.join(runbooks, 'bench.md'), RUNBOOK);
const token = 'bench-token-' + 'x'.repeat(8) + Math.random().toString(36).slice(2, 14);
const srv = await serve({ host: '127.0.0.1', port: 0, token, runbooksDir: runbooks, dataDir: path.join(dir, 'data'), log: createLogger('silent'), runLimits: { labs: MAX_LAB_TRAINEES + 2, perUser: 100, total: 200 } });
const base = srv.url.replace(/\/$/, '');

async function api(method: string, p: string, body?: unknown, bearer = token): Promise<{ status: number; json: any }> {
  const res = await fetch(base + p, { method, headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    return { status: res.status, json: text };
  }
}

/** Proportional set size of a process in KiB (shared pages split among their users); 0 once gone. */
function pssKiB(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * The memory Stepwise and everything it started holds, in MiB: this process, its descendants
 * (shells, lab inits, libvirtd) and every process inside a lab's namespaces. Other helpers'
 * processes on the machine do not count (MemAvailable would swing with them).
 */
function usedMiB(): number {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const ours = new Set<number>([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) if (!ours.has(pid) && ours.has(ppid)) (ours.add(pid), (grew = true));
  }
  for (const ns of execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('sw-'))) {
    for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) ours.add(Number(pid));
  }
  let kib = 0;
  for (const pid of ours) kib += pssKiB(pid);
  return kib / 1024;
}

const settle = () => new Promise((r) => setTimeout(r, 1500));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function makeClass(seats: number, target: string): Promise<{ id: string; seats: Array<{ trainee: string; token: string }> }> {
  const r = await api('POST', '/api/classes', { name: `bench ${target}`, runbook: 'bench', seats, target, training: false });
  if (r.status !== 201) throw new Error(JSON.stringify(r.json));
  return r.json;
}

async function joinAll(c: { id: string; seats: Array<{ token: string }> }): Promise<string[]> {
  const ids: string[] = [];
  for (const s of c.seats) {
    const j = await api('POST', `/api/classes/${c.id}/join`, {}, s.token);
    if (j.status !== 200) throw new Error(`join: ${j.status} ${JSON.stringify(j.json)}`);
    ids.push(j.json.runId);
  }
  return ids;
}

async function endClass(id: string): Promise<void> {
  await api('DELETE', `/api/classes/${id}`);
  await settle();
}

try {
  // 1. Memory per trainee: local target, then lab.
  for (const [target, n] of [['local', 10], ['lab', 4]] as const) {
    await settle();
    const before = usedMiB();
    const c = await makeClass(n, target);
    const t0 = performance.now();
    await joinAll(c);
    const joinMs = performance.now() - t0;
    await settle();
    const after = usedMiB();
    console.log(`memory per trainee (${target}): ${((after - before) / n).toFixed(1)} MiB (${n} trainees; Stepwise and its processes ${before.toFixed(0)} → ${after.toFixed(0)} MiB PSS); joins took ${(joinMs / n).toFixed(0)} ms each`);
    await endClass(c.id);
  }

  // 2. Time to provision a trainee's lab: one join at a time, each a fresh lab.
  {
    const c = await makeClass(5, 'lab');
    const times: number[] = [];
    for (const s of c.seats) {
      const t0 = performance.now();
      const j = await api('POST', `/api/classes/${c.id}/join`, {}, s.token);
      times.push(performance.now() - t0);
      if (j.status !== 200) throw new Error(JSON.stringify(j.json));
    }
    console.log(`time to provision a trainee's lab (join → run ready): median ${median(times).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms (${times.length} joins)`);
    await endClass(c.id);
  }

  // 3. Concurrent trainees with labs running the same step, until its run time doubles.
  {
    let baseline = 0;
    let lastUnder = 0;
    for (const k of [1, 2, 3, 4, 6, 8, 10, MAX_LAB_TRAINEES]) {
      const c = await makeClass(k, 'lab');
      const runs = await joinAll(c);
      await settle();
      // Three rounds, the median round counts: other work on the machine comes and goes.
      const rounds: Array<{ mean: number; max: number }> = [];
      for (let round = 0; round < ROUNDS; round++) {
        const times = await Promise.all(
          runs.map(async (runId, i) => {
            const t0 = performance.now();
            const r = await api('POST', `/api/runs/${runId}/steps/work/execute`, {}, c.seats[i]!.token);
            if (r.status !== 200 || r.json.status !== 'passed') throw new Error(JSON.stringify(r.json));
            return performance.now() - t0;
          }),
        );
        rounds.push({ mean: times.reduce((a, b) => a + b, 0) / times.length, max: Math.max(...times) });
      }
      const mid = [...rounds].sort((a, b) => a.mean - b.mean)[Math.floor(ROUNDS / 2)]!;
      const mean = mid.mean;
      const times = [mid.max];
      if (k === 1) baseline = mean;
      console.log(`  ${String(k).padStart(2)} trainees with labs running the step at once: mean ${mean.toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms (${(mean / baseline).toFixed(2)}× one trainee)`);
      await endClass(c.id);
      if (mean >= 2 * baseline) break;
      lastUnder = k;
    }
    console.log(`most concurrent trainees with labs before the step's run time doubles: ${lastUnder}`);
  }

  // 4. Dashboard latency with 30 trainees: verdict → matrix update on the trainer's socket.
  {
    const c = await makeClass(DASHBOARD_TRAINEES, 'local');
    const runs = await joinAll(c);
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/classes/${c.id}`, { headers: { authorization: `Bearer ${token}` } });
    const seen = new Map<string, number>();
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      const rows = m.type === 'matrix' ? m.matrix.rows : m.type === 'matrix-diff' ? m.rows : [];
      for (const row of rows) if (row.cells?.greet?.status === 'passed' && !seen.has(row.id)) seen.set(row.id, performance.now());
    });
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const verdictAt = new Map<string, number>();
    for (const [i, runId] of runs.entries()) {
      const run = srv.ctx.runs.get(runId)!;
      const trainee = c.seats[i]!.trainee;
      run.subscribe((m) => {
        if (m.type === 'step-verdict' && m.verdict.stepId === 'greet') verdictAt.set(trainee, performance.now());
      });
    }
    // Everyone works the first step (not timed), then passes the second, in waves of 10.
    await Promise.all(runs.map((id, i) => api('POST', `/api/runs/${id}/steps/work/execute`, {}, c.seats[i]!.token)));
    for (let w = 0; w < runs.length; w += 10) {
      await Promise.all(runs.slice(w, w + 10).map((id, k) => api('POST', `/api/runs/${id}/steps/greet/execute`, {}, c.seats[w + k]!.token)));
    }
    const deadline = Date.now() + 30_000;
    while (seen.size < runs.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const lat = c.seats.map((s) => (seen.get(s.trainee) ?? NaN) - (verdictAt.get(s.trainee) ?? NaN)).filter(Number.isFinite);
    console.log(`dashboard update latency, ${DASHBOARD_TRAINEES} trainees (step verdict → matrix update on the trainer's websocket): median ${median(lat).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms (${lat.length} of ${runs.length} seen)`);
    ws.close();
    await endClass(c.id);
  }
} finally {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
