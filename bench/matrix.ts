// `node --import tsx bench/matrix.ts`: the live dashboards' update latency — how long after
// something changes a watching page's socket gets the diff (server/http/matrix-feed.ts).
// A benchmark, not a test: it prints numbers, it never fails.
//
// 1. A real class: BENCH_TRAINEES (30) seats on the local target, all joined (a bash session
//    each), every trainee running the lesson's steps through the API, in bursts. Latency = from
//    the class's change event (in-process) to the moment each of BENCH_WATCHERS trainer sockets
//    has a diff showing it; also the cost of one snapshot (the class's progress read from its
//    audit events) and what a socket receives.
// 2. A synthetic fleet of BENCH_HOSTS (50) hosts × 10 steps whose cells change at
//    BENCH_RATE (100) changes a second: the same latency without the class's reading cost.
//
// Environment (all optional): BENCH_TRAINEES=30 BENCH_HOSTS=50 BENCH_WATCHERS=3 BENCH_RATE=100 BENCH_SECONDS=10
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../test/helpers/server.ts';
import { applyDiff, type MatrixMessage, type MatrixRow, type MatrixSnapshot } from '../common/matrix.ts';
import type { MatrixSource } from '../server/http/matrix-feed.ts';
import { FLUSH_INTERVAL_MS } from '../server/http/matrix-feed.ts';
import { classMatrix } from '../server/http/live-matrices.ts';

const TRAINEES = Math.max(1, Number(process.env.BENCH_TRAINEES ?? 30));
const HOSTS = Math.max(1, Number(process.env.BENCH_HOSTS ?? 50));
const WATCHERS = Math.max(1, Number(process.env.BENCH_WATCHERS ?? 3));
const RATE = Math.max(1, Number(process.env.BENCH_RATE ?? 100));
const SECONDS = Math.max(1, Number(process.env.BENCH_SECONDS ?? 10));
const LESSON = path.resolve(import.meta.dirname, '../test/fixtures/classroom/lesson.md');

/** A dashboard socket: applies what it gets, and tells the bench when a row reaches a state. */
class Watcher {
  matrix: MatrixSnapshot | undefined;
  bytes = 0;
  messages = 0;
  private waits: Array<{ pred: (m: MatrixSnapshot) => boolean; done: (t: number) => void }> = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const t = performance.now();
      const text = data.toString();
      this.bytes += text.length;
      this.messages++;
      const m = JSON.parse(text) as MatrixMessage;
      if (m.type === 'matrix') this.matrix = m.matrix;
      else if (m.type === 'matrix-diff' && this.matrix) this.matrix = applyDiff(this.matrix, m);
      const now = this.matrix!;
      this.waits = this.waits.filter((w) => {
        if (!w.pred(now)) return true;
        w.done(t);
        return false;
      });
    });
  }
  static open(url: string, token: string): Promise<Watcher> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
      const w = new Watcher(ws);
      ws.once('message', () => resolve(w));
      ws.once('error', reject);
    });
  }
  /** Resolves with the arrival time of the first message after which pred holds. */
  when(pred: (m: MatrixSnapshot) => boolean): Promise<number> {
    if (this.matrix && pred(this.matrix)) return Promise.resolve(performance.now());
    return new Promise((done) => this.waits.push({ pred, done }));
  }
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
const cell = (m: MatrixSnapshot, row: string, col: string) => m.rows.find((r) => r.id === row)?.cells[col];

async function classBench(s: TestServer): Promise<void> {
  const made = await s.api('POST', '/api/classes', { name: 'Bench', runbook: 'lesson', seats: TRAINEES, target: 'local', training: true });
  if (made.status !== 201) throw new Error(`class: ${JSON.stringify(made.json)}`);
  const classId = made.json.id as string;
  const seats = made.json.seats as Array<{ trainee: string; token: string }>;
  const t0 = performance.now();
  const runs: string[] = [];
  for (const seat of seats) {
    const j = await fetch(`${s.base}/api/classes/${classId}/join`, { method: 'POST', headers: { authorization: `Bearer ${seat.token}`, 'content-type': 'application/json' }, body: '{}' });
    const body = (await j.json()) as { runId?: string };
    if (!body.runId) throw new Error(`join: ${JSON.stringify(body)}`);
    runs.push(body.runId);
  }
  console.log(`class: ${TRAINEES} trainees joined (a local shell each) in ${ms(performance.now() - t0)}`);
  const url = `${s.base.replace(/^http/, 'ws')}/ws/classes/${classId}`;
  const watchers = await Promise.all(Array.from({ length: WATCHERS }, () => Watcher.open(url, s.token)));
  const c = s.ctx.classes.get(classId)!;
  // One snapshot's cost: the progress of every seat from its audit events.
  const reads: number[] = [];
  for (let i = 0; i < 20; i++) {
    const a = performance.now();
    classMatrix(s.ctx.classes.progress(c));
    reads.push(performance.now() - a);
  }
  // Each step a trainee passes: the class's change event → each watcher shows it.
  const latencies: number[] = [];
  const changedAt = new Map<string, number>();
  const sub = s.ctx.classes.subscribe(classId, (ch) => {
    if (ch.type === 'trainee' && !changedAt.has(ch.trainee)) changedAt.set(ch.trainee, performance.now());
  });
  const steps = ['greet', 'finish'];
  const bytes0 = watchers.map((w) => w.bytes);
  const msgs0 = watchers.map((w) => w.messages);
  const started = performance.now();
  for (const step of steps) {
    if (step === 'finish') {
      // The answer step needs the variable: set in each shell, then checked (all at once).
      await Promise.all(seats.map((seat, i) => fetch(`${s.base}/api/runs/${runs[i]}/steps/answer/execute`, { method: 'POST', headers: { authorization: `Bearer ${seat.token}`, 'content-type': 'application/json' }, body: '{}' })));
      for (const [i] of seats.entries()) s.ctx.runs.get(runs[i]!)!.session.input(Buffer.from('export answer=42\n'));
      await new Promise((r) => setTimeout(r, 500));
      await Promise.all(seats.map((seat, i) => fetch(`${s.base}/api/runs/${runs[i]}/steps/answer/execute`, { method: 'POST', headers: { authorization: `Bearer ${seat.token}`, 'content-type': 'application/json' }, body: '{}' })));
    }
    changedAt.clear();
    // Every trainee runs the step at once: the worst burst a class makes.
    await Promise.all(
      seats.map(async (seat, i) => {
        await fetch(`${s.base}/api/runs/${runs[i]}/steps/${step}/execute`, { method: 'POST', headers: { authorization: `Bearer ${seat.token}`, 'content-type': 'application/json' }, body: '{}' });
        const shown = await Promise.all(watchers.map((w) => w.when((m) => cell(m, seat.trainee, step)?.status === 'passed')));
        const at = changedAt.get(seat.trainee);
        if (at !== undefined) for (const t of shown) latencies.push(Math.max(0, t - at));
      }),
    );
  }
  const elapsed = (performance.now() - started) / 1000;
  sub.dispose();
  const feed = s.gateway.matrices.feed('classes', classId);
  console.log(`class: one snapshot (progress of ${TRAINEES} seats) p50 ${ms(pct(reads, 50))}, max ${ms(Math.max(...reads))}`);
  console.log(`class: change → diff at ${WATCHERS} watchers, ${latencies.length} samples: p50 ${ms(pct(latencies, 50))}, p95 ${ms(pct(latencies, 95))}, max ${ms(Math.max(...latencies))}`);
  console.log(`class: per watcher ${((watchers[0]!.messages - msgs0[0]!) / elapsed).toFixed(1)} messages/s, ${((watchers[0]!.bytes - bytes0[0]!) / 1024 / elapsed).toFixed(1)} KiB/s over ${elapsed.toFixed(1)} s; feed flushes ${feed?.stats.flushes}, diffs ${feed?.stats.diffs}`);
  for (const w of watchers) w.ws.close();
  await s.api('DELETE', `/api/classes/${classId}`);
}

async function fleetBench(s: TestServer): Promise<void> {
  const steps = Array.from({ length: 10 }, (_, i) => ({ id: `s${i + 1}`, title: `Step ${i + 1}` }));
  const rows: MatrixRow[] = Array.from({ length: HOSTS }, (_, i) => ({ id: `host${i + 1}`, label: `host${i + 1}`, status: 'running', batch: 1, cells: Object.fromEntries(steps.map((st) => [st.id, { status: 'pending', href: `/runs/r/steps/${st.id}` }])) }));
  const listeners = new Set<() => void>();
  const source: MatrixSource = {
    snapshot: () => ({ columns: steps, rows: structuredClone(rows), summary: { passed: 0 } }),
    subscribe: (fn) => {
      listeners.add(fn);
      return { dispose: () => void listeners.delete(fn) };
    },
  };
  s.gateway.matrices.register('fleets', () => ({ ok: true, value: source }));
  const url = `${s.base.replace(/^http/, 'ws')}/ws/fleets/bench`;
  const watchers = await Promise.all(Array.from({ length: WATCHERS }, () => Watcher.open(url, s.token)));
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  const statuses = ['running', 'passed', 'failed', 'skipped'];
  const bytes0 = watchers.map((w) => w.bytes);
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < SECONDS * 1000) {
    const r = rows[n % HOSTS]!;
    const col = steps[Math.floor(n / HOSTS) % steps.length]!.id;
    const status = statuses[n % statuses.length]!;
    const version = `${status}#${n}`;
    r.cells[col] = { status, href: version };
    const at = performance.now();
    for (const fn of listeners) fn();
    const id = r.id;
    const k = n;
    // Shown once the cell carries this change or a later one.
    const seen = (m: MatrixSnapshot) => Number((cell(m, id, col)?.href ?? '#-1').split('#')[1]) >= k;
    pending.push(
      Promise.all(watchers.map((w) => w.when(seen))).then((ts) => {
        for (const t of ts) latencies.push(t - at);
      }),
    );
    n++;
    await new Promise((res) => setTimeout(res, 1000 / RATE));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  const feed = s.gateway.matrices.feed('fleets', 'bench');
  console.log(`fleet: ${HOSTS} hosts × ${steps.length} steps, ${n} cell changes at ~${RATE}/s, ${WATCHERS} watchers`);
  console.log(`fleet: change → diff p50 ${ms(pct(latencies, 50))}, p95 ${ms(pct(latencies, 95))}, max ${ms(Math.max(...latencies))}`);
  console.log(`fleet: per watcher ${(watchers[0]!.messages / elapsed).toFixed(1)} messages/s, ${((watchers[0]!.bytes - bytes0[0]!) / 1024 / elapsed).toFixed(1)} KiB/s; feed flushes ${feed?.stats.flushes}, diffs ${feed?.stats.diffs} (flush interval ${FLUSH_INTERVAL_MS} ms)`);
  for (const w of watchers) w.ws.close();
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-bench-matrix-'));
fs.copyFileSync(LESSON, path.join(root, 'lesson.md'));
const s = await startTestServer(root, undefined, { runLimits: { perUser: 1000, total: 1000 } });
try {
  console.log(`bench/matrix: ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);
  await fleetBench(s);
  await classBench(s);
} finally {
  await s.stop();
  fs.rmSync(root, { recursive: true, force: true });
}
