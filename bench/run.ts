// `npm run bench`: Stepwise's terminal path against the raw node-pty limit and a peer (wetty),
// side by side in one run, on 127.0.0.1 only. A benchmark, not a test: it never fails on a
// number; it prints them, and the targets they meet or miss. docs/performance.md explains it.
//
// Environment (all optional):
//   BENCH_ROUNDS=5        throughput rounds (each contender once per round, interleaved)
//   BENCH_ECHO_KEYS=300   keystrokes per echo-latency measurement
//   BENCH_ECHO_GAPS=3,30  idle ms between keystrokes, one echo measurement per value
//   BENCH_CONTENDERS=raw,stepwise   throughput rounds with only these contenders (experiments)
//   BENCH_RECORDING_PAIRS=12   adjacent with/without-recorder pairs (0: skip; the replay still runs)
//   BENCH_PEERS=off       do not install and run wetty (nor ttyd, run when on PATH; never installed)
//   BENCH_WETTY=wetty@2,wetty@latest   npm specs tried in order for the wetty peer
//   BENCH_ONLY=throughput,echo,memory,pages   run only these parts (default: all)
//   BENCH_CPU_PROF=1      run the throughput/echo server with --cpu-prof (folder printed at the end)
//   BENCH_JSON=<file>     also write every measurement as JSON to <file>
//   BENCH_SERVER_NODE_ARGS="--max-old-space-size=64"   extra node flags for every Stepwise server
//                         process, after those of `npm start` (which the server always gets)
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { cachedCatalog, loadCatalog } from '../server/runbook/catalog.ts';
import { onCleanup, runCleanup, stopChild, tempDirCleanup } from './lib/cleanup.ts';
import { api, connectStepwise, createBareRun, rawPty, screenMirrorClass, sessionPipeline, type StepwiseChannel, type StepwiseServer } from './lib/channels.ts';
import { machine } from './lib/machine.ts';
import { captureChunks, replayCost, type ReplayCost } from './lib/replay.ts';
import { findOnPath, rssOf, startTtyd, startWetty, type Peer } from './lib/peers.ts';
import { echoLatency, median, percentile, shellReady, sleep, throughput, THROUGHPUT_COMMAND, type Channel, type EchoResult, type ThroughputResult } from './lib/workload.ts';
import type { ChildRequest, LoopDelay, MemSample, PauseStats } from './server-child.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNBOOKS = path.join(ROOT, 'runbooks');
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const ECHO_KEYS = Math.max(20, Number(process.env.BENCH_ECHO_KEYS ?? 300));
// A fast burst (3 ms: key repeat, a paste typed out) and a typist's cadence (30 ms). The
// batcher must hold neither; the 30 ms one carries the latency targets.
const ECHO_GAPS_MS = (process.env.BENCH_ECHO_GAPS ?? '3,30').split(',').map((x) => Number(x.trim())).filter((x) => Number.isFinite(x) && x >= 0);
const TYPIST_GAP_MS = 30;
const IDLE_SESSIONS = 50;
const STALL_MS = 5_000;
const STALL_SAMPLE_MS = 100;
// Recording cost: adjacent pairs of a shorter flood in ABBA order, so drift and neighbours
// cancel out better than across the long rounds.
const RECORDING_PAIRS = Math.max(0, Number(process.env.BENCH_RECORDING_PAIRS ?? 12));
const RECORDING_INPUT_BYTES = 15_000_000;
const PAGE_RENDERS = 30;
const CATALOG_PARSES = 20;
const TIME_LIMIT_MS = 30 * 60_000;
// The server is measured as `npm start` runs it: the node flags of that script, then any extra.
const START_NODE_ARGS = startScriptNodeFlags();
const SERVER_NODE_ARGS = [...START_NODE_ARGS, ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
const PARTS = new Set((process.env.BENCH_ONLY ?? 'throughput,echo,memory,pages').split(',').map((s) => s.trim()));

/** The `--flags` between `node` and the script in package.json's start script. */
function startScriptNodeFlags(): string[] {
  const start = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts?.start ?? '';
  const words = start.split(/\s+/);
  const flags: string[] = [];
  for (const w of words.slice(words.indexOf('node') + 1)) {
    if (!w.startsWith('--')) break;
    flags.push(w);
  }
  return words.includes('node') ? flags : [];
}

const MB = 1e6;
const MiB = 2 ** 20;
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

// ---------------- the server under test ----------------

type Request = ChildRequest extends infer R ? (R extends ChildRequest ? Omit<R, 'id'> : never) : never;

interface ServerChild extends StepwiseServer {
  child: ChildProcess;
  ask<T>(req: Request): Promise<T>;
  mem(gc: boolean): Promise<MemSample>;
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

/** A fresh Stepwise server in its own process (fresh, so memory readings start from nothing). */
async function startServer(profDir?: string): Promise<ServerChild> {
  const token = 'bench-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  const child = fork(path.join(ROOT, 'bench', 'server-child.ts'), [], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...SERVER_NODE_ARGS, ...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [])],
    env: { ...process.env, BENCH_TOKEN: token, BENCH_RUNBOOKS: RUNBOOKS },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  onCleanup(() => stopChild(child));
  let seq = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the Stepwise server did not start within 60 s')), 60_000);
    child.on('message', (raw) => {
      const m = raw as { type?: string; url?: string; id?: number; value?: unknown };
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m.url!);
      } else if (m.id !== undefined) {
        waiting.get(m.id)?.(m.value);
        waiting.delete(m.id);
      }
    });
    child.once('exit', (code) => reject(new Error(`the Stepwise server exited during start-up (${code})`)));
  });
  const ask = <T>(req: Request) =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error('the Stepwise server process is gone'));
      const id = ++seq;
      waiting.set(id, resolve as (v: unknown) => void);
      child.send({ ...req, id });
    });
  return {
    child,
    base: url.replace(/\/$/, ''),
    token,
    ask,
    mem: (gc) => ask<MemSample>({ cmd: 'mem', gc }),
    cpuMs: async () => {
      const c = await ask<NodeJS.CpuUsage>({ cmd: 'cpu' });
      return (c.user + c.system) / 1000;
    },
    async stop() {
      if (child.connected) await Promise.race([ask({ cmd: 'stop' }), sleep(10_000)]);
      await stopChild(child);
    },
  };
}

// ---------------- measurements ----------------

interface TpRun extends ThroughputResult {
  /** CPU of the process that does the work: this one in-process, the server child for Stepwise. */
  cpuMs?: number;
  frames?: number;
  pauses?: PauseStats;
  loopDelay?: LoopDelay;
  /** DELETE /api/runs/:id right after the flood: ends the run and seals its recording. */
  endMs?: number;
}

async function measure<T>(open: () => Promise<Channel>, fn: (ch: Channel) => Promise<T>): Promise<T> {
  const ch = await open();
  try {
    await shellReady(ch);
    return await fn(ch);
  } finally {
    await ch.close();
  }
}

async function inProcessThroughput(open: () => Promise<Channel>, inputBytes?: number): Promise<TpRun> {
  return measure(open, async (ch) => {
    const c0 = process.cpuUsage();
    const r = await throughput(ch, { inputBytes });
    const c = process.cpuUsage(c0);
    return { ...r, cpuMs: (c.user + c.system) / 1000 };
  });
}

async function stepwiseThroughput(srv: ServerChild): Promise<TpRun> {
  const runId = await createBareRun(srv);
  let result: TpRun | undefined;
  try {
    let chan: StepwiseChannel | undefined;
    result = await measure(
      async () => (chan = await connectStepwise(srv, runId)),
      async (ch) => {
        const frames0 = chan!.frames;
        await srv.ask({ cmd: 'pauses' });
        await srv.ask({ cmd: 'loopDelay' });
        const cpu0 = await srv.cpuMs();
        const r = await throughput(ch);
        const cpuMs = (await srv.cpuMs()) - cpu0;
        const pauses = await srv.ask<PauseStats>({ cmd: 'pauses' });
        const loopDelay = await srv.ask<LoopDelay>({ cmd: 'loopDelay' });
        return { ...r, cpuMs, frames: chan!.frames - frames0, pauses, loopDelay };
      },
    );
    return result;
  } finally {
    const t0 = performance.now();
    await api(srv, 'DELETE', `/api/runs/${runId}`);
    if (result) result.endMs = performance.now() - t0;
  }
}

/** The transport floor: a bare ws echo server in another process, no pty. */
async function wsFloor(gapMs: number): Promise<EchoResult> {
  const child = fork(path.join(ROOT, 'bench', 'ws-echo-child.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  onCleanup(() => stopChild(child));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { port: number }).port));
      child.once('exit', (c) => reject(new Error(`ws echo child exited (${c})`)));
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const fns = new Set<(c: Buffer) => void>();
    ws.on('message', (d) => fns.forEach((f) => f(d as Buffer)));
    const ch: Channel = {
      name: 'ws echo',
      write: (s) => ws.send(Buffer.from(s), { binary: true }),
      onData: (fn) => (fns.add(fn), () => fns.delete(fn)),
      close: async () => ws.terminate(),
    };
    const r = await echoLatency(ch, ECHO_KEYS, gapMs, { shell: false });
    await ch.close();
    return r;
  } finally {
    await stopChild(child);
  }
}

interface StallResult {
  variant: 'browser' | 'script' | 'fast';
  baseline: MemSample;
  peakRssGrowth: number;
  peakHeapExtGrowth: number;
  retainedRssGrowth: number;
  retainedHeapExtGrowth: number;
  pauses: PauseStats;
}

/**
 * A client that stops reading (socket paused, no more acks) while its terminal floods, in a
 * fresh server. `browser` acked before it stalled (a frozen tab); `script` never acks.
 * `fast` is the control: the same flood to a client that keeps reading and acking, to tell
 * what a stall costs from what any flood costs.
 */
async function floodMemory(variant: 'browser' | 'script' | 'fast'): Promise<StallResult> {
  const srv = await startServer();
  try {
    const runId = await createBareRun(srv);
    const ch = await connectStepwise(srv, runId, { ack: variant === 'browser' });
    try {
      await shellReady(ch);
      if (variant === 'browser') ch.ackNow();
      await sleep(500);
      const baseline = await srv.mem(true);
      await srv.ask({ cmd: 'pauses' });
      if (variant !== 'fast') ch.stall();
      ch.write('base64 /dev/zero\r');
      let peakRss = baseline.rss;
      let peakHeapExt = baseline.heapUsed + baseline.external;
      const until = performance.now() + STALL_MS;
      while (performance.now() < until) {
        await sleep(STALL_SAMPLE_MS);
        const m = await srv.mem(false);
        peakRss = Math.max(peakRss, m.rss);
        peakHeapExt = Math.max(peakHeapExt, m.heapUsed + m.external);
      }
      const pauses = await srv.ask<PauseStats>({ cmd: 'pauses' });
      const retained = await srv.mem(true);
      return {
        variant,
        baseline,
        peakRssGrowth: peakRss - baseline.rss,
        peakHeapExtGrowth: peakHeapExt - (baseline.heapUsed + baseline.external),
        retainedRssGrowth: retained.rss - baseline.rss,
        retainedHeapExtGrowth: retained.heapUsed + retained.external - (baseline.heapUsed + baseline.external),
        pauses,
      };
    } finally {
      ch.write('\x03');
      await sleep(100);
      await ch.close();
      await api(srv, 'DELETE', `/api/runs/${runId}`);
    }
  } finally {
    await srv.stop();
  }
}

interface IdleResult {
  sessions: number;
  rssPerSession: number;
  heapExtPerSession: number;
  bashRssPerSession: number | undefined;
}

/** 50 bare runs, each with a websocket client attached and idle, in a fresh server. */
async function idleSessions(): Promise<IdleResult> {
  const srv = await startServer();
  const ids: string[] = [];
  const chans: StepwiseChannel[] = [];
  try {
    // Warm-up: the first session loads code every later one shares.
    const id0 = await createBareRun(srv);
    const ch0 = await connectStepwise(srv, id0);
    await shellReady(ch0);
    await ch0.close();
    await api(srv, 'DELETE', `/api/runs/${id0}`);
    await sleep(500);
    const before = await srv.mem(true);
    for (let i = 0; i < IDLE_SESSIONS; i++) {
      const id = await createBareRun(srv);
      ids.push(id);
      chans.push(await connectStepwise(srv, id));
    }
    await sleep(1_000);
    for (const ch of chans) ch.ackNow();
    await sleep(500);
    const after = await srv.mem(true);
    const pids = await srv.ask<(number | null)[]>({ cmd: 'sessionPids', runIds: ids });
    const bash = pids.map((p) => (p ? rssOf(p) : undefined)).filter((x): x is number => x !== undefined);
    return {
      sessions: IDLE_SESSIONS,
      rssPerSession: (after.rss - before.rss) / IDLE_SESSIONS,
      heapExtPerSession: (after.heapUsed + after.external - before.heapUsed - before.external) / IDLE_SESSIONS,
      bashRssPerSession: bash.length ? bash.reduce((a, b) => a + b, 0) / bash.length : undefined,
    };
  } finally {
    await Promise.all(chans.map((c) => c.close()));
    for (const id of ids) await api(srv, 'DELETE', `/api/runs/${id}`);
    await srv.stop();
  }
}

interface PageResult {
  runbook: string;
  step: string;
  blocks: number;
  bytes: number;
  medianMs: number;
  p90Ms: number;
}

/** GET the step page with the most blocks of any shipped runbook. */
async function stepPage(srv: ServerChild): Promise<PageResult | { error: string }> {
  const cat = loadCatalog(RUNBOOKS);
  let best: { id: string; step: string; blocks: number; size: number } | undefined;
  for (const e of cat.entries) {
    if (!e.ok || !e.runbook) continue;
    const size = fs.statSync(path.join(RUNBOOKS, e.file)).size;
    for (const s of e.runbook.steps) {
      const blocks = s.parts.filter((p) => p.kind !== 'prose').length;
      if (!best || blocks > best.blocks || (blocks === best.blocks && size > best.size)) best = { id: e.id, step: s.id, blocks, size };
    }
  }
  if (!best) return { error: 'no runbook with steps under runbooks/' };
  const r = await api(srv, 'POST', '/api/runs', { runbook: best.id });
  if (r.status !== 201) return { error: `POST /api/runs ${best.id}: ${r.status} ${JSON.stringify(r.json)}` };
  const runId = r.json.id as string;
  try {
    const url = `${srv.base}/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(best.step)}`;
    const get = async () => {
      const t0 = performance.now();
      const res = await fetch(url, { headers: { authorization: `Bearer ${srv.token}` } });
      const body = await res.text();
      const ms = performance.now() - t0;
      if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
      return { ms, bytes: Buffer.byteLength(body) };
    };
    for (let i = 0; i < 3; i++) await get();
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < PAGE_RENDERS; i++) {
      const g = await get();
      times.push(g.ms);
      bytes = g.bytes;
    }
    return { runbook: best.id, step: best.step, blocks: best.blocks, bytes, medianMs: median(times), p90Ms: percentile(times, 90) };
  } finally {
    await api(srv, 'DELETE', `/api/runs/${runId}`);
  }
}

function catalogParse(): { runbooks: number; bytes: number; medianMs: number; cachedMedianMs: number } {
  let n = 0;
  for (let i = 0; i < 2; i++) n = loadCatalog(RUNBOOKS).entries.length;
  const times: number[] = [];
  for (let i = 0; i < CATALOG_PARSES; i++) {
    const t0 = performance.now();
    loadCatalog(RUNBOOKS);
    times.push(performance.now() - t0);
  }
  const cat = loadCatalog(RUNBOOKS);
  const bytes = cat.entries.reduce((a, e) => a + fs.statSync(path.join(RUNBOOKS, e.file)).size, 0);
  // What the server does per request since the catalog is cached: a stat of every runbook file.
  const cached = cachedCatalog(RUNBOOKS);
  cached();
  const cachedTimes: number[] = [];
  for (let i = 0; i < CATALOG_PARSES; i++) {
    const t0 = performance.now();
    cached();
    cachedTimes.push(performance.now() - t0);
  }
  return { runbooks: n, bytes, medianMs: median(times), cachedMedianMs: median(cachedTimes) };
}

// ---------------- report helpers ----------------

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const signed = (x: number, f: (x: number) => string) => (x >= 0 ? '+' : '') + f(x);
const ratio = (a: number, b: number | undefined) => (b && Number.isFinite(a) && Number.isFinite(b) ? `${f2(a / b)}×` : '—');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r, j) => {
      const line = r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
      return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

interface TpSummary {
  median: number;
  min: number;
  max: number;
  runs: TpRun[];
}
function summarise(runs: TpRun[]): TpSummary {
  const xs = runs.map((r) => r.mbps);
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs };
}

function echoSummary(e: EchoResult) {
  return { p50: percentile(e.samples, 50), p90: percentile(e.samples, 90), p99: percentile(e.samples, 99), max: Math.max(...e.samples), n: e.samples.length, timeouts: e.timeouts };
}

const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
let maxLoad = 0;
/** The 1-minute load average, sampled between measurements: above the core count, others were competing. */
const noteLoad = () => (maxLoad = Math.max(maxLoad, os.loadavg()[0]!));

// ---------------- main ----------------

async function main(): Promise<void> {
  const started = Date.now();
  const m = machine();
  const loadStart = loadavg();
  log(`machine: ${m.cpu}, ${m.cores} cores, ${f1(m.memoryGiB)} GiB, ${m.os}, Node ${m.node}; load ${loadStart}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bench-'));
  tempDirCleanup(tmp);
  const hasScreen = !!(await screenMirrorClass());

  // Peers first: npm install is CPU-heavy and must not overlap a measurement.
  const peers: Peer[] = [];
  const peerNotes: string[] = [];
  const wantPeers = PARTS.has('throughput') || PARTS.has('echo');
  if (process.env.BENCH_PEERS === 'off' || !wantPeers) {
    peerNotes.push('peers skipped' + (wantPeers ? ' (BENCH_PEERS=off)' : ''));
  } else {
    const w = await startWetty(log);
    if (w.ok) peers.push(w.peer);
    else peerNotes.push(`wetty not measured: ${w.error}`);
    const ttyd = findOnPath('ttyd');
    if (ttyd) {
      const t = await startTtyd(ttyd);
      if (t.ok) peers.push(t.peer);
      else peerNotes.push(`ttyd found at ${ttyd} but not measured: ${t.error}`);
    } else {
      peerNotes.push('ttyd: not on PATH (the bench does not install it)');
    }
  }
  for (const p of peers) onCleanup(() => p.stop());
  const peerErrors = new Map<string, string>();

  const profDir = process.env.BENCH_CPU_PROF ? fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bench-prof-')) : undefined;
  let srv: ServerChild | undefined;
  if (PARTS.has('throughput') || PARTS.has('echo') || PARTS.has('pages')) {
    log('starting the Stepwise server (child process)…');
    srv = await startServer(profDir);
    log(`server at ${srv.base}`);
  }

  // 1. Throughput, interleaved by round so drift and neighbours hit every contender alike.
  type Key = 'raw' | 'session' | 'recorded' | 'full' | 'stepwise';
  const tp: Record<Key, TpRun[]> = { raw: [], session: [], recorded: [], full: [], stepwise: [] };
  const peerTp = new Map<string, TpRun[]>();
  const rounds: Array<Record<string, TpRun>> = [];
  if (PARTS.has('throughput')) {
    // One list of contenders, reversed every other round (ABBA): the raw limit and Stepwise,
    // and Stepwise and the peer, always run back to back, and a position in the round favours no one.
    type Contender = { key: string; label: string; run: () => Promise<TpRun> };
    const contenders: Contender[] = [
      { key: 'raw', label: 'raw node-pty', run: () => inProcessThroughput(rawPty) },
      { key: 'stepwise', label: 'Stepwise server, websocket', run: () => stepwiseThroughput(srv!) },
      ...peers.map((p) => ({ key: `peer:${p.name}`, label: p.name, run: () => measure(() => p.open(), (ch) => throughput(ch)) })),
      { key: 'session', label: 'session (in-process)', run: () => inProcessThroughput(() => sessionPipeline({ record: false, screen: false }, tmp)) },
      { key: 'recorded', label: 'session + recording', run: () => inProcessThroughput(() => sessionPipeline({ record: true, screen: false }, tmp)) },
      ...(hasScreen ? [{ key: 'full', label: 'session + recording + screen', run: () => inProcessThroughput(() => sessionPipeline({ record: true, screen: true }, tmp)) }] : []),
    ];
    // BENCH_CONTENDERS=raw,stepwise (keys as in the JSON) narrows the rounds, for experiments.
    const only = process.env.BENCH_CONTENDERS?.split(',').map((k) => k.trim());
    if (only) contenders.splice(0, contenders.length, ...contenders.filter((c) => only.includes(c.key) || only.includes(c.key.replace(/^peer:/, ''))));
    for (let r = 1; r <= ROUNDS; r++) {
      noteLoad();
      log(`throughput round ${r}/${ROUNDS}: ${THROUGHPUT_COMMAND} (load ${loadavg()})`);
      const round: Record<string, TpRun> = {};
      for (const c of r % 2 ? contenders : [...contenders].reverse()) {
        const peer = c.key.startsWith('peer:') ? c.key.slice(5) : undefined;
        if (peer && peerErrors.has(peer)) continue;
        try {
          const run = await c.run();
          round[c.key] = run;
          if (peer) {
            if (!peerTp.has(peer)) peerTp.set(peer, []);
            peerTp.get(peer)!.push(run);
          } else {
            tp[c.key as Key].push(run);
          }
          log(`  ${c.label.padEnd(32)} ${f1(run.mbps).padStart(5)} MB/s${run.frames ? ` (${run.frames} frames)` : ''}`);
        } catch (e) {
          if (!peer) throw e;
          peerErrors.set(peer, (e as Error).message);
          log(`  ${peer}: ${(e as Error).message}`);
        }
      }
      rounds.push(round);
    }
  }

  const recPairs: Array<{ off: TpRun; on: TpRun }> = [];
  let replay: ReplayCost | undefined;
  if (PARTS.has('throughput')) {
    noteLoad();
    log('replaying a captured flood through the recorder and the screen (CPU per MB)');
    replay = await replayCost(await captureChunks(tmp, RECORDING_INPUT_BYTES), tmp);
    log(`recording cost: ${RECORDING_PAIRS} adjacent pairs (ABBA), session with and without the recorder, ${f1((RECORDING_INPUT_BYTES * 4) / 3 / MB)} MB each`);
    for (let i = 0; i < RECORDING_PAIRS; i++) {
      const off = () => inProcessThroughput(() => sessionPipeline({ record: false, screen: false }, tmp), RECORDING_INPUT_BYTES);
      const on = () => inProcessThroughput(() => sessionPipeline({ record: true, screen: false }, tmp), RECORDING_INPUT_BYTES);
      let pair: { off: TpRun; on: TpRun };
      if (i % 2 === 0) {
        const a = await off();
        pair = { off: a, on: await on() };
      } else {
        const b = await on();
        pair = { on: b, off: await off() };
      }
      recPairs.push(pair);
      log(`  pair ${i + 1}: off ${f1(pair.off.mbps)}, on ${f1(pair.on.mbps)} MB/s`);
    }
  }

  // 2. Echo latency.
  /** By keystroke gap (ms), then by contender. */
  const echoByGap = new Map<number, Map<string, EchoResult>>();
  if (PARTS.has('echo')) {
    for (const gap of ECHO_GAPS_MS) {
      noteLoad();
      log(`echo latency: ${ECHO_KEYS} keys into cat, ${gap} ms apart`);
      const echo = new Map<string, EchoResult>();
      echoByGap.set(gap, echo);
      echo.set('raw', await measure(rawPty, (ch) => echoLatency(ch, ECHO_KEYS, gap)));
      echo.set('ws', await wsFloor(gap));
      {
        const runId = await createBareRun(srv!);
        echo.set('stepwise', await measure(() => connectStepwise(srv!, runId), (ch) => echoLatency(ch, ECHO_KEYS, gap)));
        await api(srv!, 'DELETE', `/api/runs/${runId}`);
      }
      for (const p of peers) {
        if (peerErrors.has(p.name)) continue;
        try {
          echo.set(p.name, await measure(() => p.open(), (ch) => echoLatency(ch, ECHO_KEYS, gap)));
        } catch (e) {
          peerErrors.set(p.name, (e as Error).message);
        }
      }
      for (const [k, v] of echo) log(`  ${k.padEnd(10)} p50 ${f3(percentile(v.samples, 50))} ms, p99 ${f3(percentile(v.samples, 99))} ms`);
    }
  }

  // 3. Pages and parsing.
  let page: PageResult | { error: string } | undefined;
  let parse: ReturnType<typeof catalogParse> | undefined;
  if (PARTS.has('pages')) {
    log('step page render and catalog parse');
    page = await stepPage(srv!);
    parse = catalogParse();
  }
  await srv?.stop();
  for (const p of peers) await p.stop();

  // 4. Memory, each in a fresh server process.
  let stalls: StallResult[] = [];
  let idle: IdleResult | undefined;
  if (PARTS.has('memory')) {
    noteLoad();
    log(`memory: a stalled client during a flood (${STALL_MS / 1000} s), two kinds, each in a fresh server`);
    stalls = [await floodMemory('browser'), await floodMemory('script'), await floodMemory('fast')];
    for (const s of stalls) log(`  ${s.variant}: peak RSS +${f2(s.peakRssGrowth / MiB)} MiB, peak heap+external +${f2(s.peakHeapExtGrowth / MiB)} MiB`);
    log(`memory: ${IDLE_SESSIONS} idle sessions in a fresh server`);
    idle = await idleSessions();
    log(`  ${f2(idle.rssPerSession / MiB)} MiB RSS per session`);
  }
  noteLoad();
  const loadEnd = loadavg();
  log('stopping');
  await runCleanup();

  // ---------------- print ----------------
  const out: string[] = [];
  out.push(`Stepwise benchmark, ${new Date().toISOString()}`);
  out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${f1(m.memoryGiB)} GiB RAM, ${m.os}, Node ${m.node}`);
  out.push(`Load average (1/5/15 min) at start: ${loadStart}; at end: ${loadEnd}; highest 1-min value seen between measurements: ${f2(maxLoad)}`);
  if (maxLoad > m.cores) out.push(`WARNING: other work kept this ${m.cores}-core machine busy (load up to ${f2(maxLoad)}); every number below is noisier than on an idle machine.`);
  out.push(`Server-side screen (server/terminal/screen.ts, parsed in a worker thread): ${hasScreen ? 'yes, measured in every Stepwise number' : 'none in this checkout'}`);
  out.push(`Stepwise server process started with: ${['--expose-gc', ...SERVER_NODE_ARGS].join(' ')} (${START_NODE_ARGS.length ? `${START_NODE_ARGS.join(' ')} as in npm start` : 'npm start passes no node flags'}; --expose-gc for the memory readings)`);
  out.push(`Peers: ${peers.map((p) => `${p.name} ${p.version}`).join(', ') || 'none'}${peerNotes.length ? `; ${peerNotes.join('; ')}` : ''}`);
  for (const [k, v] of peerErrors) out.push(`Peer error: ${k}: ${v}`);
  out.push('');

  const targets: Array<[string, string, boolean]> = [];
  const json: Record<string, unknown> = { machine: m, load: { start: loadStart, end: loadEnd }, peers: peers.map((p) => ({ name: p.name, version: p.version })), peerNotes, peerErrors: Object.fromEntries(peerErrors) };

  if (PARTS.has('throughput')) {
    const raw = summarise(tp.raw);
    /** Median over rounds of a's MB/s over b's in the same round (they ran back to back). */
    const perRound = (a: string, b: string) => median(rounds.filter((r) => r[a] && r[b]).map((r) => r[a]!.mbps / r[b]!.mbps));
    const sum = Object.fromEntries((Object.keys(tp) as Key[]).filter((k) => tp[k].length).map((k) => [k, summarise(tp[k])])) as Partial<Record<Key, TpSummary>>;
    const peerSum = new Map([...peerTp].map(([k, v]) => [k, summarise(v)]));
    const floodBytes = raw.runs[0]?.bytes ?? NaN;
    out.push(
      `Throughput: \`${THROUGHPUT_COMMAND}\` (${f1(floodBytes / MB)} MB of output; MB = 10^6 bytes); ${ROUNDS} rounds, each contender once a round, ` +
        `order reversed every other round. MB/s: median [min–max]; × raw, × wetty: median of the per-round ratios`,
    );
    const rows: string[][] = [['path', 'MB/s', '[min–max]', '× raw', '× wetty', 'CPU s/run']];
    const row = (name: string, key: string, s: TpSummary | undefined) => {
      if (!s) return;
      const cpu = s.runs.every((r) => r.cpuMs !== undefined) ? f2(median(s.runs.map((r) => r.cpuMs!)) / 1000) : '';
      const x = (b: string) => {
        const v = perRound(key, b);
        return Number.isFinite(v) ? `${f2(v)}×` : '—';
      };
      rows.push([name, f1(s.median), `[${f1(s.min)}–${f1(s.max)}]`, x('raw'), x('peer:wetty'), cpu]);
    };
    row('raw limit: node-pty read in-process', 'raw', raw);
    row('Stepwise pipeline in-process: session only', 'session', sum.session);
    row('  + asciicast recording', 'recorded', sum.recorded);
    row('  + recording + headless screen (all but the websocket)', 'full', sum.full);
    row('Stepwise server over websocket, fast acking client', 'stepwise', sum.stepwise);
    for (const [k, s] of peerSum) row(`${k} over its websocket, acking like its client`, `peer:${k}`, s);
    out.push(table(rows));
    const sw = sum.stepwise!;
    const frames = median(sw.runs.map((r) => r.frames ?? 0));
    const paused = median(sw.runs.map((r) => (r.pauses?.anyMs ?? 0) / r.ms));
    const loopP99 = median(sw.runs.map((r) => r.loopDelay?.p99 ?? NaN));
    const loopMax = Math.max(...sw.runs.map((r) => r.loopDelay?.max ?? NaN));
    out.push(
      `(CPU s/run: in-process rows count this process, the Stepwise row the server process alone. Stepwise: ${frames} frames a run, ` +
        `${f1(floodBytes / frames / 1024)} KiB average; pty paused ${f1(paused * 100)} % of the run (flow control, socket backlog or screen); ` +
        `server event-loop delay p99 ${f1(loopP99)} ms, max ${f1(loopMax)} ms. Ending the run afterwards (DELETE, which seals the recording) took ${f1(median(sw.runs.map((r) => r.endMs ?? NaN)))} ms.)`,
    );
    const recCost = 1 - median(recPairs.map((p) => p.on.mbps / p.off.mbps));
    const recCostSpread = recPairs.map((p) => 1 - p.on.mbps / p.off.mbps);
    const recCpuPerMB = median(recPairs.map((p) => (p.on.cpuMs! - p.off.cpuMs!) / (p.on.bytes / MB)));
    const offCpuPerMB = median(recPairs.map((p) => p.off.cpuMs! / (p.off.bytes / MB)));
    out.push(
      `Recording cost: ${f1(recCost * 100)} % of throughput (median of ${recPairs.length} adjacent ABBA pairs, session + asciicast vs session only, ` +
        `per-pair quartiles ${f1(percentile(recCostSpread, 25) * 100)} / ${f1(percentile(recCostSpread, 75) * 100)} %, range ${f1(Math.min(...recCostSpread) * 100)} – ${f1(Math.max(...recCostSpread) * 100)} %); CPU ${signed(recCpuPerMB, f2)} ms per MB on top of ${f2(offCpuPerMB)} ms per MB.`,
    );
    if (replay) {
      const budget = (ms: number) => `${f1((raw.median * ms) / 10)} % of a core at the raw limit's ${f1(raw.median)} MB/s`;
      out.push(
        `Replay of a captured flood (${f1(replay.mb)} MB in ${replay.chunks} chunks as the pty delivered them), CPU per MB: ` +
          `recorder ${f2(replay.recorderMsPerMB)} ms (${budget(replay.recorderMsPerMB)})` +
          (replay.screenMsPerMB !== undefined ? `; headless screen ${f2(replay.screenMsPerMB)} ms (${budget(replay.screenMsPerMB)})` : '') +
          '.',
      );
    }
    if (sum.full) {
      const scrCost = 1 - perRound('full', 'recorded');
      const scrCpu = (median(tp.full.map((r) => r.cpuMs!)) - median(tp.recorded.map((r) => r.cpuMs!))) / (floodBytes / MB);
      out.push(`Headless screen cost: ${f1(scrCost * 100)} % of throughput (per-round ratio, with vs without, both recording); CPU ${signed(scrCpu, f2)} ms per MB.`);
    }
    out.push('');
    const swRatio = perRound('stepwise', 'raw');
    targets.push(['throughput ≥ 0.9× raw limit (screen and recording on)', `${f2(swRatio)}× (median per-round ratio; medians ${f1(sw.median)} vs ${f1(raw.median)} MB/s)`, swRatio >= 0.9]);
    for (const [peer, ps] of peerSum) {
      const r = perRound('stepwise', `peer:${peer}`);
      targets.push([`throughput above ${peer}`, `${f2(r)}× ${peer} (median per-round ratio; medians ${f1(sw.median)} vs ${f1(ps.median)} MB/s)`, r > 1]);
    }
    const q1 = percentile(recCostSpread, 25);
    const q3 = percentile(recCostSpread, 75);
    if (recPairs.length) targets.push([
      'recording costs < 10 % of throughput',
      `${f1(recCost * 100)} % (pairs' quartiles ${f1(q1 * 100)} / ${f1(q3 * 100)} %${q1 < 0.1 && q3 > 0.1 ? ': within noise of the limit' : ''}; replay: ${replay ? f2(replay.recorderMsPerMB) : '—'} ms CPU per MB)`,
      recCost < 0.1,
    ]);
    json.throughput = { ...sum, peers: Object.fromEntries(peerSum), recordingCost: recCost, recordingPairs: recPairs, recordingCpuMsPerMB: recCpuPerMB, replay };
  }

  if (PARTS.has('echo')) {
    const label = (k: string) =>
      k === 'raw' ? 'raw limit: node-pty in-process' : k === 'ws' ? 'floor: ws round trip to another process, no pty' : k === 'stepwise' ? 'Stepwise over websocket' : `${k} over its websocket`;
    for (const [gap, echo] of echoByGap) {
      out.push(`Keystroke echo: ${ECHO_KEYS} single bytes into \`cat\` (the tty echoes), ${gap} ms idle between keys; ms from send to echo`);
      const rows: string[][] = [['path', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'lost', 'p50 × raw', 'p50 × wetty']];
      const rawEcho = echoSummary(echo.get('raw')!);
      const wettyEcho = echo.get('wetty') ? echoSummary(echo.get('wetty')!) : undefined;
      for (const [k, v] of echo) {
        const s = echoSummary(v);
        rows.push([label(k), f3(s.p50), f3(s.p90), f3(s.p99), f3(s.max), String(s.timeouts), ratio(s.p50, rawEcho.p50), ratio(s.p50, wettyEcho?.p50)]);
      }
      out.push(table(rows));
      out.push('');
      const sw = echoSummary(echo.get('stepwise')!);
      const ws = echoSummary(echo.get('ws')!);
      const peersNote = [...echo.keys()].filter((k) => !['raw', 'ws', 'stepwise'].includes(k)).map((k) => `${k} ${f3(echoSummary(echo.get(k)!).p50)}/${f3(echoSummary(echo.get(k)!).p99)}`);
      const context = `raw pty ${f3(rawEcho.p50)}/${f3(rawEcho.p99)}, ws floor ${f3(ws.p50)}/${f3(ws.p99)}${peersNote.length ? ', ' + peersNote.join(', ') : ''}; p50/p99`;
      if (gap === TYPIST_GAP_MS) {
        targets.push([`echo at ${gap} ms: p50 ≤ 0.6 ms`, `${f3(sw.p50)} ms (${context})`, sw.p50 <= 0.6 && sw.timeouts === 0]);
        targets.push([`echo at ${gap} ms: p99 ≤ 1 ms`, `${f3(sw.p99)} ms (${context})`, sw.p99 <= 1 && sw.timeouts === 0]);
      } else {
        // No hold at any cadence: a faster typist must not wait longer than a slower one.
        targets.push([`echo at ${gap} ms: no hold (p50 ≤ 0.6 ms)`, `${f3(sw.p50)} ms (${context})`, sw.p50 <= 0.6 && sw.timeouts === 0]);
      }
    }
    json.echo = Object.fromEntries([...echoByGap].map(([gap, echo]) => [gap, Object.fromEntries([...echo].map(([k, v]) => [k, echoSummary(v)]))]));
  }

  if (PARTS.has('memory') && idle) {
    out.push(`Server memory: the Stepwise server process, each measurement in a fresh one; flood = \`base64 /dev/zero\` for ${STALL_MS / 1000} s (MiB = 2^20 bytes)`);
    const rows: string[][] = [['measure', 'RSS MiB', 'heap+external MiB']];
    const label = { browser: 'stalled browser (acked, then stopped reading)', script: 'stalled script (never acks, stopped reading)', fast: 'control: fast client, keeps reading and acking' };
    for (const s of stalls) {
      rows.push([`${label[s.variant]}: peak growth`, f2(s.peakRssGrowth / MiB), f2(s.peakHeapExtGrowth / MiB)]);
      rows.push([`  growth retained after GC at the end`, f2(s.retainedRssGrowth / MiB), f2(s.retainedHeapExtGrowth / MiB)]);
    }
    rows.push([`per idle session (${idle.sessions} open, each with a websocket client)`, f2(idle.rssPerSession / MiB), f2(idle.heapExtPerSession / MiB)]);
    out.push(table(rows));
    const pauseNote = stalls.map((s) => `${s.variant}: pty paused by ${Object.keys(s.pauses.count).join(', ') || 'nothing'}`).join('; ');
    out.push(`(heap+external peaks include garbage not yet collected. ${pauseNote}${idle.bashRssPerSession ? `; outside the server each session's bash is its own process of ${f2(idle.bashRssPerSession / MiB)} MiB RSS` : ''})`);
    out.push('');
    const stalled = stalls.filter((s) => s.variant !== 'fast');
    const worst = stalled.reduce((a, b) => (b.peakRssGrowth > a.peakRssGrowth ? b : a));
    const held = Math.max(...stalled.map((s) => s.retainedHeapExtGrowth));
    const control = stalls.find((s) => s.variant === 'fast');
    targets.push([
      'stalled-client memory growth < 8 MB',
      `${f2(worst.peakRssGrowth / MB)} MB peak RSS (${worst.variant}); held after GC ${f2(held / MB)} MB; a fast client's flood: ${control ? f2(control.peakRssGrowth / MB) : '—'} MB RSS`,
      worst.peakRssGrowth < 8 * MB && held < 8 * MB,
    ]);
    targets.push(['≤ 2 MB per idle session', `${f2(idle.rssPerSession / MB)} MB RSS${hasScreen ? ', screen included' : ''}`, idle.rssPerSession <= 2 * MB]);
    json.memory = { stalls, idle };
  }

  if (page && parse) {
    if ('error' in page) out.push(`Step page: ${page.error}`);
    else out.push(`Step page: GET /runs/:id/steps/${page.step} of ${page.runbook} (${page.blocks} blocks, ${f1(page.bytes / 1024)} KiB of HTML): median ${f2(page.medianMs)} ms, p90 ${f2(page.p90Ms)} ms over ${PAGE_RENDERS}`);
    out.push(`Catalog: loadCatalog('runbooks'), ${parse.runbooks} runbooks (${f1(parse.bytes / 1024)} KiB): median ${f2(parse.medianMs)} ms over ${CATALOG_PARSES}; the server's cached catalog, nothing changed (stat check only): median ${f3(parse.cachedMedianMs)} ms`);
    out.push('');
    json.page = page;
    json.parse = parse;
  }

  if (targets.length) {
    out.push('Targets');
    out.push(table([['target', 'measured', 'verdict'], ...targets.map(([t, v, ok]) => [t, v, ok ? 'met' : 'MISSED'])]));
    out.push('');
  }
  out.push(`(bench took ${f1((Date.now() - started) / 1000)} s${profDir ? `; server CPU profile in ${profDir}` : ''})`);
  process.stdout.write(out.join('\n') + '\n');
  if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify({ ...json, targets }, null, 2));
}

const watchdog = setTimeout(() => {
  log(`time limit of ${TIME_LIMIT_MS / 60_000} min reached: stopping`);
  void runCleanup().finally(() => process.exit(1));
}, TIME_LIMIT_MS);
watchdog.unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void runCleanup().finally(() => process.exit(130));
  });
}

main()
  .then(() => process.exit(0))
  .catch(async (e) => {
    log(`failed: ${(e as Error).stack ?? e}`);
    await runCleanup();
    process.exit(1);
  });
