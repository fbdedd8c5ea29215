// The workloads, written once against a minimal terminal channel so the raw pty, Stepwise's
// websocket and the peers are driven by exactly the same code.

/** A terminal as a client sees it: write keystrokes, receive output. */
export interface Channel {
  readonly name: string;
  write(data: string): void;
  /** Output chunks as they arrive; returns the unsubscribe. */
  onData(fn: (chunk: Buffer | string) => void): () => void;
  close(): Promise<void>;
}

/** 50 MB of zeros through base64: ~68.4 MB of printable output in 76-column lines. */
export const FLOOD_BYTES = 50_000_000;
export const floodCommand = (inputBytes: number) => `head -c ${inputBytes} /dev/zero | base64; echo BENCH_$((6*7))_END`;
export const THROUGHPUT_COMMAND = floodCommand(FLOOD_BYTES);
// The typed command line echoes `$((6*7))`, so only the command's own output matches.
export const THROUGHPUT_SENTINEL = 'BENCH_42_END';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Finds a marker in a stream even when it is split across chunks. */
export class TailWatcher {
  /** The last needle.length-1 characters seen: a needle split across chunks starts there. */
  private tail = '';
  private readonly bytes: Buffer;
  constructor(private readonly needle: string) {
    this.bytes = Buffer.from(needle, 'latin1');
  }
  push(chunk: Buffer | string): boolean {
    const k = this.needle.length - 1;
    const found = typeof chunk === 'string' ? chunk.includes(this.needle) : chunk.indexOf(this.bytes) >= 0;
    if (found) return true;
    const head = typeof chunk === 'string' ? chunk.slice(0, k) : chunk.toString('latin1', 0, Math.min(k, chunk.length));
    if ((this.tail + head).includes(this.needle)) return true;
    const end = typeof chunk === 'string' ? chunk.slice(-k) : chunk.toString('latin1', Math.max(0, chunk.length - k));
    this.tail = chunk.length >= k ? end : (this.tail + end).slice(-k);
    return false;
  }
}

/** Resolves when `needle` appears in output after `write`, or rejects after timeoutMs. */
export function expectOutput(ch: Channel, write: string, needle: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new TailWatcher(needle);
    let acc = '';
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${ch.name}: no ${JSON.stringify(needle)} within ${timeoutMs} ms (got ${JSON.stringify(acc.slice(-200))})`));
    }, timeoutMs);
    const off = ch.onData((c) => {
      acc = (acc + (typeof c === 'string' ? c : c.toString('latin1'))).slice(-400);
      if (w.push(c)) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
    ch.write(write);
  });
}

let readySeq = 0;
/** Waits until the shell answers a command (and any start-up output has been drained). */
export async function shellReady(ch: Channel, timeoutMs = 15_000): Promise<void> {
  const n = ++readySeq + 100;
  await expectOutput(ch, `echo READY_$((${n}+1))\r`, `READY_${n + 1}`, timeoutMs);
  await sleep(100); // the prompt that follows
}

export interface ThroughputResult {
  bytes: number;
  ms: number;
  mbps: number;
}

/** Runs the flood once; MB/s = bytes received / seconds from the keystroke to the sentinel (MB = 10^6 bytes). */
export function throughput(ch: Channel, opts: { inputBytes?: number; timeoutMs?: number } = {}): Promise<ThroughputResult> {
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const command = floodCommand(opts.inputBytes ?? FLOOD_BYTES);
  return new Promise((resolve, reject) => {
    const w = new TailWatcher(THROUGHPUT_SENTINEL);
    let bytes = 0;
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${ch.name}: flood did not finish within ${timeoutMs} ms (${bytes} bytes)`));
    }, timeoutMs);
    const off = ch.onData((c) => {
      bytes += c.length; // the output is ASCII: characters are bytes
      if (w.push(c)) {
        const ms = performance.now() - t0;
        clearTimeout(timer);
        off();
        resolve({ bytes, ms, mbps: bytes / ms / 1000 });
      }
    });
    const t0 = performance.now();
    ch.write(command + '\r');
  });
}

export interface EchoResult {
  samples: number[];
  timeouts: number;
  gapMs: number;
}

/**
 * Keystroke echo latency in an idle terminal: `cat` reads the line, the tty echoes each key.
 * One printable byte at a time, waiting for its echo, then `gapMs` of idle before the next
 * (faster than any typist: 10 ms is 100 keys a second).
 */
export async function echoLatency(ch: Channel, keys = 300, gapMs = 10, opts: { shell?: boolean; perKeyTimeoutMs?: number } = {}): Promise<EchoResult> {
  const shell = opts.shell ?? true;
  const perKeyTimeoutMs = opts.perKeyTimeoutMs ?? 2_000;
  if (shell) {
    ch.write('cat\r');
    await sleep(400);
  }
  const samples: number[] = [];
  let timeouts = 0;
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; i < keys; i++) {
    const key = letters[i % letters.length]!;
    const ms = await new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(undefined);
      }, perKeyTimeoutMs);
      const off = ch.onData((c) => {
        const s = typeof c === 'string' ? c : c.toString('latin1');
        if (s.includes(key)) {
          const dt = performance.now() - t0;
          clearTimeout(timer);
          off();
          resolve(dt);
        }
      });
      const t0 = performance.now();
      ch.write(key);
    });
    if (ms === undefined) timeouts++;
    else samples.push(ms);
    await sleep(gapMs);
  }
  if (shell) {
    ch.write('\x03'); // end cat
    await sleep(200);
    await shellReady(ch);
  }
  return { samples, timeouts, gapMs };
}

// ---- statistics ----

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}
