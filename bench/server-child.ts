// The Stepwise server under test, in its own process so its memory and CPU are its own
// (the benchmark's clients run in the parent). Started by bench/run.ts with --expose-gc;
// answers the parent's questions over the IPC channel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve } from '../server/http/server.ts';
import { createLogger } from '../server/log.ts';

export type ChildRequest =
  | { id: number; cmd: 'mem'; gc: boolean }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'sessionPids'; runIds: string[] }
  | { id: number; cmd: 'stop' };

export interface MemSample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

const token = process.env.BENCH_TOKEN;
const runbooksDir = process.env.BENCH_RUNBOOKS;
if (!token || !runbooksDir || !process.send) {
  console.error('bench/server-child.ts is started by bench/run.ts');
  process.exit(2);
}
const send = (m: unknown) => process.send!(m);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bench-data-'));
const srv = await serve({ host: '127.0.0.1', port: 0, token, runbooksDir, dataDir, log: createLogger('error') });

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
// The parent went away without saying stop: do not outlive it.
process.on('disconnect', () => {
  if (stopping) return;
  srv.close().finally(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
});
send({ type: 'ready', url: srv.url });
