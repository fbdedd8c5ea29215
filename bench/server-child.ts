// The Stepwise server under test, in its own process so its memory and CPU are its own
// (the benchmark's clients run in the parent). Started by bench/run.ts with --expose-gc;
// answers the parent's questions over the IPC channel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serve } from '../server/http/server.ts';
import { createLogger } from '../server/log.ts';
import { TerminalSession } from '../server/terminal/session.ts';

export type ChildRequest =
  | { id: number; cmd: 'mem'; gc: boolean }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'sessionPids'; runIds: string[] }
  /** Pause statistics since the last call (and reset them). */
  | { id: number; cmd: 'pauses' }
  /** Event-loop delay (ms) since the last call (and reset it). */
  | { id: number; cmd: 'loopDelay' }
  | { id: number; cmd: 'stop' };

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

export interface MemSample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** Why and how long ptys were paused: reasons grouped as flow (acks), backlog (socket), screen, other. */
export interface PauseStats {
  count: Record<string, number>;
  ms: Record<string, number>;
  /** Time any reason held a pty paused. */
  anyMs: number;
}

// Watch pause/resume from outside (the session is not changed): a pty paused is a pty not read.
const kind = (reason: string) => (/-backlog$/.test(reason) ? 'backlog' : /^ws-\d+$/.test(reason) ? 'flow' : reason === 'screen' ? 'screen' : 'other');
let stats: PauseStats = { count: {}, ms: {}, anyMs: 0 };
const since = new WeakMap<TerminalSession, Map<string, number>>();
const anySince = new WeakMap<TerminalSession, number>();
const proto = TerminalSession.prototype;
const origPause = proto.pause;
const origResume = proto.resume;
proto.pause = function (this: TerminalSession, reason: string) {
  const held = since.get(this) ?? new Map<string, number>();
  since.set(this, held);
  if (!held.has(reason)) {
    if (held.size === 0) anySince.set(this, performance.now());
    held.set(reason, performance.now());
    const k = kind(reason);
    stats.count[k] = (stats.count[k] ?? 0) + 1;
  }
  origPause.call(this, reason);
};
proto.resume = function (this: TerminalSession, reason: string) {
  const held = since.get(this);
  const t = held?.get(reason);
  if (held && t !== undefined) {
    const k = kind(reason);
    stats.ms[k] = (stats.ms[k] ?? 0) + performance.now() - t;
    held.delete(reason);
    if (held.size === 0) stats.anyMs += performance.now() - (anySince.get(this) ?? performance.now());
  }
  origResume.call(this, reason);
};

const token = process.env.BENCH_TOKEN;
const runbooksDir = process.env.BENCH_RUNBOOKS;
if (!token || !runbooksDir || !process.send) {
  console.error('bench/server-child.ts is started by bench/run.ts');
  process.exit(2);
}
const send = (m: unknown) => process.send!(m);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bench-data-'));
// The idle-session measurement opens 50 runs as one user, past the per-user default of 10.
const srv = await serve({ host: '127.0.0.1', port: 0, token, runbooksDir, dataDir, log: createLogger('error'), runLimits: { perUser: 64 } });

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

const gc = (globalThis as { gc?: () => void }).gc;
function mem(): MemSample {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

let stopping = false;
process.on('message', async (raw) => {
  const req = raw as ChildRequest;
  switch (req.cmd) {
    case 'mem':
      if (req.gc && gc) {
        // Twice: the first pass can leave objects whose finalizers free more.
        gc();
        await new Promise((r) => setImmediate(r));
        gc();
      }
      send({ id: req.id, value: mem() });
      break;
    case 'cpu':
      send({ id: req.id, value: process.cpuUsage() });
      break;
    case 'pauses':
      send({ id: req.id, value: stats });
      stats = { count: {}, ms: {}, anyMs: 0 };
      break;
    case 'loopDelay':
      send({ id: req.id, value: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } });
      loop.reset();
      break;
    case 'sessionPids':
      send({ id: req.id, value: req.runIds.map((id) => srv.ctx.runs.get(id)?.session.pid ?? null) });
      break;
    case 'stop':
      stopping = true;
      await srv.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      send({ id: req.id, value: true });
      process.disconnect();
      // --cpu-prof writes its profile on a normal exit.
      setTimeout(() => process.exit(0), 50).unref();
      break;
  }
});
// A stop signal still ends through process.exit, so --cpu-prof writes its profile.
process.once('SIGTERM', () => process.exit(0));
// The parent went away without saying stop: do not outlive it.
process.on('disconnect', () => {
  if (stopping) return;
  srv.close().finally(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
});
send({ type: 'ready', url: srv.url });
