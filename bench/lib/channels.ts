// Channels for the workloads: a bare node-pty (the raw limit), Stepwise's session pipeline
// in-process (with and without the asciicast recorder), and Stepwise's websocket.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import pty from 'node-pty';
import WebSocket from 'ws';
import { LocalTarget } from '../../server/target/local.ts';
import { TerminalSession } from '../../server/terminal/session.ts';
import { AsciicastWriter } from '../../server/record/asciicast.ts';
import type { ServerMessage } from '../../common/protocol.ts';
import type { Channel } from './workload.ts';

type Listener = (chunk: Buffer | string) => void;

class Fanout {
  private readonly fns = new Set<Listener>();
  on(fn: Listener): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
  emit(c: Buffer | string): void {
    for (const fn of this.fns) fn(c);
  }
}

/** The raw limit: node-pty read in this process, nothing else. */
export async function rawPty(): Promise<Channel> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, { TERM: 'xterm-256color', LANG: env.LANG ?? 'C.UTF-8' });
  // The same spawn as Stepwise's local target (bash, Buffers), without its rc file.
  const p = pty.spawn('bash', ['--noprofile', '--norc', '-i'], {
    name: 'xterm-256color',
    cols: 100,
    rows: 30,
    cwd: os.tmpdir(),
    env,
    encoding: null,
  } as pty.IPtyForkOptions);
  const out = new Fanout();
  p.onData((d: unknown) => out.emit(d as Buffer));
  return {
    name: 'raw node-pty',
    write: (s) => p.write(s),
    onData: (fn) => out.on(fn),
    async close() {
      p.kill('SIGHUP');
    },
  };
}

/** Does this checkout keep a server-side screen per session (server/terminal/screen.ts)? */
export async function screenMirrorClass(): Promise<(new (cols: number, rows: number, onBacklog?: (over: boolean) => void) => { write(b: Uint8Array): void; dispose(): void }) | undefined> {
  try {
    const mod = (await import('../../server/terminal/screen.ts')) as { ScreenMirror?: unknown };
    return mod.ScreenMirror as never;
  } catch {
    return undefined;
  }
}

/**
 * Stepwise's own per-byte pipeline in this process, without the websocket: TerminalSession
 * (marker parser, secret masker) and, as Run wires them, the recorder (TextDecoder →
 * AsciicastWriter) and the server-side headless screen (which pauses the pty when it falls
 * behind, as in Run).
 */
export async function sessionPipeline(opts: { record: boolean; screen: boolean }, tmpDir: string): Promise<Channel> {
  const session = await TerminalSession.start(new LocalTarget(), { cols: 100, rows: 30 });
  const out = new Fanout();
  const decoder = new TextDecoder('utf-8');
  const cast = opts.record ? AsciicastWriter.open(path.join(tmpDir, `bench-${process.hrtime.bigint()}.cast`), { width: 100, height: 30, title: 'bench' }) : undefined;
  const Screen = opts.screen ? await screenMirrorClass() : undefined;
  if (opts.screen && !Screen) throw new Error('no server/terminal/screen.ts ScreenMirror in this checkout');
  const screen = Screen ? new Screen(100, 30, (over) => (over ? session.pause('screen') : session.resume('screen'))) : undefined;
  const subs: Array<{ dispose(): void }> = [];
  // Run subscribes before any websocket client: recorder and screen first, then the client.
  if (cast || screen) {
    subs.push(
      session.onData((bytes) => {
        cast?.output(decoder.decode(bytes, { stream: true }));
        screen?.write(bytes);
      }),
    );
  }
  subs.push(session.onData((b) => out.emit(b)));
  return {
    name: ['session', cast && 'recording', screen && 'screen'].filter(Boolean).join(' + '),
    write: (s) => session.write(s),
    onData: (fn) => out.on(fn),
    async close() {
      subs.forEach((s) => s.dispose());
      session.dispose();
      screen?.dispose();
      if (cast) {
        cast.dispose();
        fs.rmSync(cast.path, { force: true });
      }
    },
  };
}

export interface StepwiseServer {
  base: string;
  token: string;
}

export async function api(srv: StepwiseServer, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(srv.base + p, {
    method,
    headers: { authorization: `Bearer ${srv.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json };
}

export async function createBareRun(srv: StepwiseServer): Promise<string> {
  const r = await api(srv, 'POST', '/api/runs', { runbook: null });
  if (r.status !== 201) throw new Error(`POST /api/runs: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.id as string;
}

export interface StepwiseChannel extends Channel {
  readonly ws: WebSocket;
  readonly hello: Extract<ServerMessage, { type: 'hello' }>;
  frames: number;
  /** Stop acking and stop reading the socket (a stalled browser tab). */
  stall(): void;
  /** Ack whatever was received and not acked yet (a browser whose write queue drained). */
  ackNow(): void;
}

/**
 * A client of `/ws/runs/:id` that acks like a fast browser: every `hello.flow.ackEvery`
 * bytes, as soon as they are received (a real xterm.js acks after parsing them).
 */
export function connectStepwise(srv: StepwiseServer, runId: string, opts: { ack: boolean } = { ack: true }): Promise<StepwiseChannel> {
  return new Promise((resolve, reject) => {
    const url = srv.base.replace(/^http/, 'ws') + `/ws/runs/${encodeURIComponent(runId)}`;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${srv.token}` }, perMessageDeflate: false });
    const out = new Fanout();
    let unacked = 0;
    let acking = opts.ack;
    let ackEvery = Infinity;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no hello from the Stepwise gateway within 10 s'));
    }, 10_000);
    const sendAck = () => {
      if (unacked > 0 && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'ack', bytes: unacked }));
      unacked = 0;
    };
    const ch: Omit<StepwiseChannel, 'hello'> & { hello?: StepwiseChannel['hello'] } = {
      name: 'Stepwise',
      ws,
      frames: 0,
      write: (s) => ws.send(Buffer.from(s, 'utf8'), { binary: true }),
      onData: (fn) => out.on(fn),
      stall() {
        acking = false;
        (ws as unknown as { _socket: net.Socket })._socket.pause();
      },
      ackNow: sendAck,
      close: () =>
        new Promise<void>((r) => {
          if (ws.readyState === ws.CLOSED) return r();
          ws.once('close', () => r());
          ws.terminate();
        }),
    };
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      if (isBinary) {
        ch.frames++;
        out.emit(buf);
        if (acking) {
          unacked += buf.length;
          if (unacked >= ackEvery) sendAck();
        }
        return;
      }
      const m = JSON.parse(buf.toString('utf8')) as ServerMessage;
      if (m.type === 'hello') {
        ackEvery = m.flow.ackEvery;
        ch.hello = m;
        clearTimeout(timer);
        resolve(ch as StepwiseChannel);
      }
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`websocket upgrade refused: HTTP ${res.statusCode}`));
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
