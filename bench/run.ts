// `npm run bench`: Stepwise's terminal path against the raw node-pty limit and a peer (wetty),
// side by side in one run, on 127.0.0.1 only. A benchmark, not a test: it never fails on a
// number; it prints them (and the targets they meet or miss). docs/performance.md explains it.
//
// Environment (all optional):
//   BENCH_ROUNDS=3        throughput rounds (each workload once per round, interleaved)
//   BENCH_ECHO_KEYS=300   keystrokes per echo-latency measurement
//   BENCH_PEERS=off       skip installing and running wetty (and ttyd)
//   BENCH_CPU_PROF=1      run the server child with --cpu-prof (profile folder printed at the end)
//   BENCH_JSON=<file>     also write every measurement as JSON to <file>
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { onCleanup, runCleanup, stopChild, tempDirCleanup } from './lib/cleanup.ts';
import { api, connectStepwise, createBareRun, rawPty, sessionPipeline, type StepwiseChannel, type StepwiseServer } from './lib/channels.ts';
import { machine } from './lib/machine.ts';
import { findOnPath, rssOf, startTtyd, startWetty, type Peer } from './lib/peers.ts';
import { echoLatency, median, percentile, shellReady, sleep, throughput, THROUGHPUT_COMMAND, type Channel, type EchoResult, type ThroughputResult } from './lib/workload.ts';
import type { ChildRequest, MemSample } from './server-child.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNBOOKS = path.join(ROOT, 'runbooks');
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const ECHO_KEYS = Math.max(20, Number(process.env.BENCH_ECHO_KEYS ?? 300));
const ECHO_GAP_MS = 10;
const IDLE_SESSIONS = 50;
const STALL_MS = 5_000;
const STALL_SAMPLE_MS = 100;
const PAGE_RENDERS = 30;
const CATALOG_PARSES = 20;
const TIME_LIMIT_MS = 25 * 60_000;

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
}

async function startServer(profDir: string | undefined): Promise<ServerChild> {
  const token = 'bench-' + Math.random().toString(36).slice(2);
  const child = fork(path.join(ROOT, 'bench', 'server-child.ts'), [], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [])],
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
    new Promise<T>((resolve) => {
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
  };
}

// ---------------- measurements ----------------

interface TpRun extends ThroughputResult {
  /** CPU of the process that does the work (server child for Stepwise; this process in-process). */
  cpuMs?: number;
  frames?: number;
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

async function inProcessThroughput(open: () => Promise<Channel>): Promise<TpRun> {
  return measure(open, async (ch) => {
    const c0 = process.cpuUsage();
    const r = await throughput(ch);
    const c = process.cpuUsage(c0);
    return { ...r, cpuMs: (c.user + c.system) / 1000 };
  });
}

async function stepwiseThroughput(srv: ServerChild): Promise<TpRun> {
  const runId = await createBareRun(srv);
  try {
    let frames0 = 0;
    let chan: StepwiseChannel | undefined;
    return await measure(
      async () => (chan = await connectStepwise(srv, runId)),
      async (ch) => {
        frames0 = chan!.frames;
        const cpu0 = await srv.cpuMs();
        const r = await throughput(ch);
        const cpuMs = (await srv.cpuMs()) - cpu0;
        return { ...r, cpuMs, frames: chan!.frames - frames0 };
      },
    );
  } finally {
    await api(srv, 'DELETE', `/api/runs/${runId}`);
  }
}

interface StallResult {
  variant: string;
  baseline: MemSample;
  peakRssGrowth: number;
  peakHeapExtGrowth: number;
  retainedRssGrowth: number;
  retainedHeapExtGrowth: number;
}

/**
 * A client that stops reading (socket paused, no acks) while its terminal floods. `browser`
 * acked before it stalled (a tab that froze); `script` never acks (not flow-controlled by acks).
 */
async function stalledClient(srv: ServerChild, variant: 'browser' | 'script'): Promise<StallResult> {
  const runId = await createBareRun(srv);
  const ch = await connectStepwise(srv, runId, { ack: variant === 'browser' });
  try {
    await shellReady(ch);
    if (variant === 'browser') ch.ackNow();
    await sleep(300);
    const baseline = await srv.mem(true);
    ch.stall();
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
    const retained = await srv.mem(true);
    return {
      variant,
      baseline,
      peakRssGrowth: peakRss - baseline.rss,
      peakHeapExtGrowth: peakHeapExt - (baseline.heapUsed + baseline.external),
      retainedRssGrowth: retained.rss - baseline.rss,
      retainedHeapExtGrowth: retained.heapUsed + retained.external - (baseline.heapUsed + baseline.external),
    };
  } finally {
    ch.write('\x03');
    await sleep(100);
    await ch.close();
    await api(srv, 'DELETE', `/api/runs/${runId}`);
  }
}

interface IdleResult {
  sessions: number;
  rssPerSession: number;
  heapExtPerSession: number;
  bashRssPerSession: number | undefined;
}

async function idleSessions(srv: ServerChild): Promise<IdleResult> {
  // Warm-up: the first session loads code paths every later one shares.
  {
    const id = await createBareRun(srv);
    const ch = await connectStepwise(srv, id);
    await shellReady(ch);
    await ch.close();
    await api(srv, 'DELETE', `/api/runs/${id}`);
  }
  await sleep(300);
  const before = await srv.mem(true);
  const ids: string[] = [];
  const chans: StepwiseChannel[] = [];
  try {
    for (let i = 0; i < IDLE_SESSIONS; i++) {
      const id = await createBareRun(srv);
      ids.push(id);
      chans.push(await connectStepwise(srv, id));
    }
    for (const ch of chans) ch.ackNow();
    await sleep(1_000);
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

function catalogParse(): { runbooks: number; bytes: number; medianMs: number } {
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
  return { runbooks: n, bytes, medianMs: median(times) };
}

// ---------------- report ----------------

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const ratio = (a: number, b: number | undefined) => (b && Number.isFinite(a) && Number.isFinite(b) ? `${f2(a / b)}×` : '—');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r, j) => {
    const line = r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
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
  return { p50: percentile(e.samples, 50), p99: percentile(e.samples, 99), max: Math.max(...e.samples), n: e.samples.length, timeouts: e.timeouts };
}

// ---------------- main ----------------

async function main(): Promise<void> {
  const started = Date.now();
  const m = machine();
  log(`machine: ${m.cpu}, ${m.cores} cores, ${f1(m.memoryGiB)} GiB, ${m.os}, Node ${m.node}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bench-'));
  tempDirCleanup(tmp);

  // Peers first: npm install is CPU-heavy and must not overlap a measurement.
  const peers: Peer[] = [];
  const peerNotes: string[] = [];
  if (process.env.BENCH_PEERS === 'off') {
    peerNotes.push('peers skipped (BENCH_PEERS=off)');
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
      peerNotes.push('ttyd: no ttyd binary on PATH (not installed by the bench)');
    }
  }
  for (const p of peers) onCleanup(() => p.stop());

  const profDir = process.env.BENCH_CPU_PROF ? fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bench-prof-')) : undefined;
  log('starting the Stepwise server (child process)…');
  const srv = await startServer(profDir);
  log(`server at ${srv.base}`);

  // 1. Throughput, interleaved by round so drift hits every contender alike.
  const tp = { raw: [] as TpRun[], session: [] as TpRun[], recorded: [] as TpRun[], stepwise: [] as TpRun[], peers: new Map<string, TpRun[]>() };
  const peerErrors = new Map<string, string>();
  for (let r = 1; r <= ROUNDS; r++) {
    log(`throughput round ${r}/${ROUNDS}: ${THROUGHPUT_COMMAND}`);
    tp.raw.push(await inProcessThroughput(rawPty));
    log(`  raw node-pty            ${f1(tp.raw.at(-1)!.mbps)} MB/s`);
    tp.session.push(await inProcessThroughput(() => sessionPipeline(false, tmp)));
    log(`  session only            ${f1(tp.session.at(-1)!.mbps)} MB/s`);
    tp.recorded.push(await inProcessThroughput(() => sessionPipeline(true, tmp)));
    log(`  session + recording     ${f1(tp.recorded.at(-1)!.mbps)} MB/s`);
    tp.stepwise.push(await stepwiseThroughput(srv));
    log(`  Stepwise websocket      ${f1(tp.stepwise.at(-1)!.mbps)} MB/s (${tp.stepwise.at(-1)!.frames} frames)`);
    for (const p of peers) {
      if (peerErrors.has(p.name)) continue;
      try {
        const run = await measure(() => p.open(), (ch) => throughput(ch));
        if (!tp.peers.has(p.name)) tp.peers.set(p.name, []);
        tp.peers.get(p.name)!.push(run);
        log(`  ${p.name.padEnd(23)} ${f1(run.mbps)} MB/s`);
      } catch (e) {
        peerErrors.set(p.name, (e as Error).message);
        log(`  ${p.name}: ${(e as Error).message}`);
      }
    }
  }

  // 2. Echo latency.
  log(`echo latency: ${ECHO_KEYS} keys into cat, ${ECHO_GAP_MS} ms apart`);
  const echo = new Map<string, EchoResult>();
  echo.set('raw', await measure(rawPty, (ch) => echoLatency(ch, ECHO_KEYS, ECHO_GAP_MS)));
  {
    const runId = await createBareRun(srv);
    echo.set('stepwise', await measure(() => connectStepwise(srv, runId), (ch) => echoLatency(ch, ECHO_KEYS, ECHO_GAP_MS)));
    await api(srv, 'DELETE', `/api/runs/${runId}`);
  }
  for (const p of peers) {
    if (peerErrors.has(p.name)) continue;
    try {
      echo.set(p.name, await measure(() => p.open(), (ch) => echoLatency(ch, ECHO_KEYS, ECHO_GAP_MS)));
    } catch (e) {
      peerErrors.set(p.name, (e as Error).message);
    }
  }
  for (const [k, v] of echo) log(`  ${k.padEnd(10)} p50 ${f3(percentile(v.samples, 50))} ms, p99 ${f3(percentile(v.samples, 99))} ms`);

  // 3. Memory under a stalled client, and per idle session.
  log(`memory: a stalled client during a flood (${STALL_MS / 1000} s), two kinds`);
  const stalls = [await stalledClient(srv, 'browser'), await stalledClient(srv, 'script')];
  for (const s of stalls) log(`  ${s.variant}: peak RSS +${f1(s.peakRssGrowth / MiB)} MiB, retained heap+external +${f1(s.retainedHeapExtGrowth / MiB)} MiB`);
  log(`memory: ${IDLE_SESSIONS} idle sessions`);
  const idle = await idleSessions(srv);
  log(`  ${f2(idle.rssPerSession / MiB)} MiB RSS per session`);

  // 4. Pages and parsing.
  log('step page render and catalog parse');
  const page = await stepPage(srv);
  const parse = catalogParse();

  log('stopping');
  await srv.ask({ cmd: 'stop' });
  await stopChild(srv.child);
  await runCleanup();

  // ---------------- print ----------------
  const raw = summarise(tp.raw);
  const ses = summarise(tp.session);
  const rec = summarise(tp.recorded);
  const sw = summarise(tp.stepwise);
  const peerTp = new Map([...tp.peers].map(([k, v]) => [k, summarise(v)]));
  const wettyTp = peerTp.get('wetty')?.median;
  const floodBytes = raw.runs[0]?.bytes ?? NaN;
  const out: string[] = [];
  out.push(`Stepwise benchmark, ${new Date().toISOString()}`);
  out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${f1(m.memoryGiB)} GiB RAM, ${m.os}, Node ${m.node}`);
  out.push(`Peers: ${peers.map((p) => `${p.name} ${p.version}`).join(', ') || 'none'}${peerNotes.length ? `; ${peerNotes.join('; ')}` : ''}`);
  for (const [k, v] of peerErrors) out.push(`Peer error: ${k}: ${v}`);
  out.push('');
  out.push(`Throughput: \`${THROUGHPUT_COMMAND}\` (${f1(floodBytes / MB)} MB of output), MB/s = 10^6 bytes/s; median of ${ROUNDS} interleaved rounds [min–max]`);
  const tpRows: string[][] = [['path', 'MB/s', '[min–max]', '× raw', '× wetty', 'CPU s/run']];
  const tpRow = (name: string, s: TpSummary) => [
    name,
    f1(s.median),
    `[${f1(s.min)}–${f1(s.max)}]`,
    ratio(s.median, raw.median),
    ratio(s.median, wettyTp),
    s.runs[0]?.cpuMs !== undefined ? f2(median(s.runs.map((r) => r.cpuMs!)) / 1000) : '',
  ];
  tpRows.push(tpRow('raw limit: node-pty in-process', raw));
  tpRows.push(tpRow('Stepwise session pipeline in-process, no recording', ses));
  tpRows.push(tpRow('Stepwise session pipeline in-process + asciicast', rec));
  tpRows.push(tpRow('Stepwise server over websocket (fast acking client)', sw));
  for (const [k, s] of peerTp) tpRows.push(tpRow(`${k} over its websocket (its own acks)`, s));
  out.push(table(tpRows));
  out.push(`(CPU s/run: the in-process rows count this process; the Stepwise server row counts the server process only. Frames per Stepwise run: ${median(sw.runs.map((r) => r.frames ?? 0))}, mean ${f1(median(sw.runs.map((r) => r.bytes / (r.frames || 1))) / 1024)} KiB)`);
  out.push('');
  out.push(`Keystroke echo: ${ECHO_KEYS} single bytes into \`cat\` (tty echo), ${ECHO_GAP_MS} ms idle between keys; ms from send to echo`);
  const eRows: string[][] = [['path', 'p50 ms', 'p99 ms', 'max ms', 'timeouts', 'p50 × raw', 'p50 × wetty']];
  const rawEcho = echoSummary(echo.get('raw')!);
  const wettyEcho = echo.get('wetty') ? echoSummary(echo.get('wetty')!) : undefined;
  for (const [k, v] of echo) {
    const s = echoSummary(v);
    const label = k === 'raw' ? 'raw limit: node-pty in-process' : k === 'stepwise' ? 'Stepwise over websocket' : `${k} over its websocket`;
    eRows.push([label, f3(s.p50), f3(s.p99), f3(s.max), String(s.timeouts), ratio(s.p50, rawEcho.p50), ratio(s.p50, wettyEcho?.p50)]);
  }
  out.push(table(eRows));
  out.push('');
  out.push(`Server memory (the Stepwise server process; MiB = 2^20 bytes)`);
  const mRows: string[][] = [['measure', 'RSS MiB', 'heap+external MiB']];
  for (const s of stalls) {
    const what = s.variant === 'browser' ? 'stalled browser (acked, then stopped reading)' : 'stalled script (never acks, stopped reading)';
    mRows.push([`${what}: peak growth over ${STALL_MS / 1000} s`, f2(s.peakRssGrowth / MiB), f2(s.peakHeapExtGrowth / MiB)]);
    mRows.push([`${what}: retained after GC`, f2(s.retainedRssGrowth / MiB), f2(s.retainedHeapExtGrowth / MiB)]);
  }
  mRows.push([`per idle session (${idle.sessions} open, each with a websocket)`, f2(idle.rssPerSession / MiB), f2(idle.heapExtPerSession / MiB)]);
  out.push(table(mRows));
  if (idle.bashRssPerSession) out.push(`(outside the server: each session's bash is its own process, ${f2(idle.bashRssPerSession / MiB)} MiB RSS)`);
  out.push('');
  const recCost = 1 - median(tp.recorded.map((r, i) => r.mbps / tp.session[i]!.mbps));
  const recCpu = (median(tp.recorded.map((r) => r.cpuMs!)) - median(tp.session.map((r) => r.cpuMs!))) / (floodBytes / MB);
  out.push(`Recording: throughput cost ${f1(recCost * 100)} % (median of per-round ratios, session+asciicast vs session only), CPU +${f2(recCpu)} ms per MB`);
  if ('error' in page) out.push(`Step page: ${page.error}`);
  else out.push(`Step page: GET /runs/:id/steps/${page.step} of ${page.runbook} (${page.blocks} blocks, ${f1(page.bytes / 1024)} KiB): median ${f2(page.medianMs)} ms, p90 ${f2(page.p90Ms)} ms over ${PAGE_RENDERS}`);
  out.push(`Catalog: loadCatalog('runbooks') of ${parse.runbooks} runbooks (${f1(parse.bytes / 1024)} KiB): median ${f2(parse.medianMs)} ms over ${CATALOG_PARSES}`);
  out.push('');

  const worstStall = Math.max(...stalls.map((s) => s.peakRssGrowth));
  const swEcho = echoSummary(echo.get('stepwise')!);
  const targets: Array<[string, string, boolean]> = [
    ['throughput ≥ 0.95× raw limit', `${f2(sw.median / raw.median)}× (${f1(sw.median)} vs ${f1(raw.median)} MB/s)`, sw.median >= 0.95 * raw.median],
    ['echo p50 < 0.5 ms', `${f3(swEcho.p50)} ms`, swEcho.p50 < 0.5],
    ['echo p99 < 2 ms', `${f3(swEcho.p99)} ms`, swEcho.p99 < 2 && swEcho.timeouts === 0],
    ['stalled-client memory growth < 8 MB', `${f2(worstStall / MB)} MB peak RSS (worse of the two kinds)`, worstStall < 8 * MB],
    ['≤ 2 MB per idle session', `${f2(idle.rssPerSession / MB)} MB RSS`, idle.rssPerSession <= 2 * MB],
    ['recording costs < 10 % of throughput', `${f1(recCost * 100)} %`, recCost < 0.1],
  ];
  out.push('Targets');
  out.push(table([['target', 'measured', 'verdict'], ...targets.map(([t, v, ok]) => [t, v, ok ? 'met' : 'MISSED'])]));
  out.push('');
  out.push(`(bench took ${f1((Date.now() - started) / 1000)} s${profDir ? `; server CPU profile in ${profDir}` : ''})`);
  process.stdout.write(out.join('\n') + '\n');

  if (process.env.BENCH_JSON) {
    fs.writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify({ machine: m, peers: peers.map((p) => ({ name: p.name, version: p.version })), peerNotes, peerErrors: Object.fromEntries(peerErrors), throughput: { raw, session: ses, recorded: rec, stepwise: sw, peers: Object.fromEntries(peerTp) }, echo: Object.fromEntries([...echo].map(([k, v]) => [k, echoSummary(v)])), stalls, idle, recording: { cost: recCost, cpuMsPerMB: recCpu }, page, parse }, null, 2),
    );
  }
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
