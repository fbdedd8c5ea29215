// Peers driven by the same workloads: wetty (installed into a temporary folder from the npm
// registry, never into this project) and, when a `ttyd` binary is on PATH, ttyd.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { spawnTracked, stopChild, tempDirCleanup } from './cleanup.ts';
import type { Channel } from './workload.ts';

export interface Peer {
  name: string;
  version: string;
  open(): Promise<Channel>;
  /** The peer server's pid, for memory readings. */
  pid: number;
  stop(): Promise<void>;
}

export type PeerOutcome = { ok: true; peer: Peer } | { ok: false; name: string; error: string };

type Listener = (chunk: Buffer | string) => void;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on 127.0.0.1:port; rejects if `alive` turns false or on timeout. */
async function waitForPort(port: number, alive: () => string | undefined, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The environment of `npm run bench` minus what would point npm at this project. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package_|lifecycle_|config_local_prefix|config_prefix$)/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

function run(cmd: string, args: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawnTracked(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const timer = setTimeout(() => {
      out += `\n(timed out after ${opts.timeoutMs} ms)`;
      void stopChild(child);
    }, opts.timeoutMs);
    child.on('error', (e) => (out += `\n${e.message}`));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const tail = (s: string, n = 600) => s.trim().split('\n').slice(-8).join(' / ').slice(-n);

// ---------------- wetty ----------------

/** npm specs tried in order: the issue asks for wetty 2; the latest (3.x) if 2 does not install. */
const WETTY_SPECS = (process.env.BENCH_WETTY ?? 'wetty@2,wetty@latest').split(',').map((s) => s.trim()).filter(Boolean);

export async function startWetty(log: (s: string) => void): Promise<PeerOutcome> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-bench-wetty-'));
  tempDirCleanup(dir);
  const failures: string[] = [];
  for (const spec of WETTY_SPECS) {
    log(`installing ${spec} into ${dir} (npm registry; its node-pty builds natively)…`);
    const t0 = Date.now();
    const r = await run('npm', ['install', '--prefix', dir, spec, '--no-audit', '--no-fund', '--no-save', '--loglevel=error'], { cwd: dir, timeoutMs: 420_000, env: npmEnv() });
    const main = path.join(dir, 'node_modules', 'wetty', 'build', 'main.js');
    if (r.code !== 0 || !fs.existsSync(main)) {
      failures.push(`${spec}: npm install failed (exit ${r.code}): ${tail(r.out)}`);
      log(`  ${spec} did not install: ${tail(r.out, 300)}`);
      continue;
    }
    const version = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'wetty', 'package.json'), 'utf8')).version as string;
    log(`  wetty ${version} installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    try {
      const peer = await launchWetty(dir, main, version);
      return { ok: true, peer };
    } catch (e) {
      failures.push(`wetty ${version} installed but did not start: ${(e as Error).message}`);
      log(`  wetty ${version} did not start: ${(e as Error).message}`);
      fs.rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
    }
  }
  return { ok: false, name: 'wetty', error: failures.join(' | ') };
}

async function launchWetty(dir: string, main: string, version: string): Promise<Peer> {
  // wetty runs a local command only for root with its ssh host left at localhost; anyone else
  // gets `ssh localhost`, which is not the workload.
  if (process.getuid?.() !== 0) throw new Error('wetty spawns a local shell only when run as root (otherwise it ssh-es to localhost)');
  const port = await freePort();
  const base = '/wetty';
  // wetty runs `env -S <command>` with coreutils ≥ 9, else `env <command>` (one word only).
  const envMajor = await run('/usr/bin/env', ['--version'], { cwd: dir, timeoutMs: 5_000 });
  const splitOk = Number(/\(GNU coreutils\) (\d+)/.exec(envMajor.out)?.[1] ?? 0) >= 9;
  const command = splitOk ? 'bash --noprofile --norc' : 'bash';
  const child = spawnTracked(process.execPath, [main, '--host', '127.0.0.1', '--port', String(port), '--base', base + '/', '--command', command, '--log-level', 'error'], {
    cwd: os.tmpdir(),
    env: { ...npmEnv(), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d).slice(-2000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d).slice(-2000)));
  await waitForPort(port, () => (child.exitCode !== null ? `wetty exited with ${child.exitCode}: ${tail(out)}` : undefined), 30_000);
  const req = createRequire(path.join(dir, 'node_modules', 'wetty', 'package.json'));
  const { io } = req('socket.io-client') as { io: (url: string, opts: Record<string, unknown>) => any };
  return {
    name: 'wetty',
    version,
    pid: child.pid!,
    stop: () => stopChild(child),
    open: () =>
      new Promise<Channel>((resolve, reject) => {
        // A browser starts with long-polling and upgrades; websocket only is wetty at its fastest.
        const socket = io(`http://127.0.0.1:${port}`, { path: `${base}/socket.io`, transports: ['websocket'], reconnection: false, forceNew: true });
        const fns = new Set<Listener>();
        // wetty's own client: commit (ack) every 256 KiB it has written to xterm.
        const ACK = 262_144;
        let counter = 0;
        const timer = setTimeout(() => {
          socket.close();
          reject(new Error(`wetty: no login within 15 s: ${tail(out)}`));
        }, 15_000);
        socket.on('data', (data: string) => {
          for (const fn of fns) fn(data);
          counter += data.length;
          if (counter >= ACK) {
            counter -= ACK;
            socket.emit('commit', ACK);
          }
        });
        socket.on('connect_error', (e: Error) => {
          clearTimeout(timer);
          reject(new Error(`wetty: ${e.message}`));
        });
        socket.on('login', () => {
          clearTimeout(timer);
          resolve({
            name: 'wetty',
            write: (s) => socket.emit('input', s),
            onData: (fn) => {
              fns.add(fn);
              return () => fns.delete(fn);
            },
            close: async () => {
              socket.close();
            },
          });
        });
      }),
  };
}

// ---------------- ttyd (only when already installed) ----------------

export function findOnPath(bin: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(d, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export async function startTtyd(bin: string): Promise<PeerOutcome> {
  try {
    const help = await run(bin, ['--help'], { cwd: os.tmpdir(), timeoutMs: 5_000 });
    const version = (await run(bin, ['--version'], { cwd: os.tmpdir(), timeoutMs: 5_000 })).out.trim().split(/\s+/).pop() ?? '?';
    const port = await freePort();
    // ttyd ≥ 1.7 is read-only unless -W.
    const args = ['-i', '127.0.0.1', '-p', String(port), ...(help.out.includes('--writable') ? ['-W'] : []), 'bash', '--noprofile', '--norc'];
    const child = spawnTracked(bin, args, { cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out = (out + d).slice(-2000)));
    child.stderr!.on('data', (d: Buffer) => (out = (out + d).slice(-2000)));
    await waitForPort(port, () => (child.exitCode !== null ? `ttyd exited with ${child.exitCode}: ${tail(out)}` : undefined), 15_000);
    return {
      ok: true,
      peer: {
        name: 'ttyd',
        version,
        pid: child.pid!,
        stop: () => stopChild(child),
        open: () =>
          new Promise<Channel>((resolve, reject) => {
            // ttyd's protocol: subprotocol "tty"; a JSON hello; then frames whose first byte is
            // the command ('0' output / input). Its browser client never pauses when it keeps up.
            const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['tty'], { perMessageDeflate: false });
            const fns = new Set<Listener>();
            ws.on('open', () => {
              ws.send(Buffer.from(JSON.stringify({ AuthToken: '', columns: 100, rows: 30 })));
              resolve({
                name: 'ttyd',
                write: (s) => ws.send(Buffer.concat([Buffer.from('0'), Buffer.from(s, 'utf8')])),
                onData: (fn) => {
                  fns.add(fn);
                  return () => fns.delete(fn);
                },
                close: async () => ws.terminate(),
              });
            });
            ws.on('message', (data) => {
              const buf = data as Buffer;
              if (buf.length > 0 && buf[0] === 0x30) {
                const payload = buf.subarray(1);
                for (const fn of fns) fn(payload);
              }
            });
            ws.once('error', reject);
          }),
      },
    };
  } catch (e) {
    return { ok: false, name: 'ttyd', error: (e as Error).message };
  }
}

/** Resident memory of a process we started, from /proc (Linux). */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
