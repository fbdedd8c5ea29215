// The server's own copy of a session's screen (a headless xterm), so a browser that reloads or
// reconnects gets the screen exactly as it is, not a raw replay of old bytes.
//
// The headless terminals live in one worker thread (screen-worker.ts) shared by every session:
// parsing costs ~20 ms of CPU per MB, which on the event loop slowed every terminal's stream.
// Here a write only copies the bytes into a batch for the worker; a snapshot is answered by the
// worker once it has parsed every byte written before the request, so restore stays exact.
import { Worker } from 'node:worker_threads';
import type { Disposable } from '../../common/disposable.ts';

// Enough history to scroll back through a step's output after a reload, and small enough that
// an idle session's screen stays well under a megabyte.
const SCROLLBACK_LINES = 1000;
// The worker can fall behind a flood; past this much unparsed the session pauses the pty
// (like a client's flow control) so the server's memory stays bounded.
export const SCREEN_HIGH = 1024 * 1024;
export const SCREEN_LOW = 256 * 1024;
// Output gathers into batches for the worker: a pty read is ~2-4 KB, and a message per read
// cost more CPU than the parsing (33 vs 18 ms per MB measured). Nobody waits on the screen
// (a snapshot sends what has gathered first), so a batch may wait: it leaves at this size…
const BATCH_BYTES = 128 * 1024;
// …or this long after its first byte, whichever comes first.
const BATCH_MS = 10;
// Batch buffers go to the worker and come back after parsing, to be filled again, so a flood
// allocates no buffer per batch. Enough are kept for one screen's unparsed bytes (SCREEN_HIGH)
// plus one gathering.
const POOL_BUFFERS = SCREEN_HIGH / BATCH_BYTES + 2;
// The worker's young generation: V8 grows it to 8 MB under a flood, for no parsing speed
// (7.5 MB parsed in 180 ms with that, 189 ms with 2 MB). A process-wide
// --max-semi-space-size (npm start sets one) takes precedence over this.
const WORKER_YOUNG_MB = 2;
// With no screen open for this long the worker ends (a V8 isolate with tsx and xterm loaded:
// tens of MB); the next screen starts another.
const WORKER_IDLE_MS = 30_000;

/** Messages to the worker. `id` names a screen. */
export type ToScreenWorker =
  | { t: 'open'; id: number; cols: number; rows: number; scrollback: number }
  | { t: 'write'; id: number; data: Uint8Array }
  | { t: 'resize'; id: number; cols: number; rows: number }
  | { t: 'snapshot'; id: number; seq: number }
  | { t: 'close'; id: number };

/** Messages from the worker. */
export type FromScreenWorker = { t: 'parsed'; id: number; n: number; buffer: ArrayBuffer } | { t: 'screen'; id: number; seq: number; data: string };

export class ScreenMirror implements Disposable {
  private readonly host: ScreenHost;
  private readonly id: number;
  private disposed = false;
  /** Bytes written and not yet parsed (gathering, or sent to the worker). */
  pending = 0;
  private backlogged = false;
  /** The batch being filled (a pool buffer), and how much of it is. */
  private batch: Uint8Array | undefined;
  private batchBytes = 0;
  private seq = 0;
  private batchTimer: NodeJS.Timeout | undefined;
  private readonly snapshots = new Map<number, (screen: string) => void>();

  /** onBacklog(true) when over SCREEN_HIGH unparsed, onBacklog(false) once under SCREEN_LOW. */
  constructor(cols: number, rows: number, private readonly onBacklog: (over: boolean) => void = () => {}) {
    this.host = ScreenHost.shared();
    this.id = this.host.open(this, cols, rows);
  }

  write(bytes: Uint8Array): void {
    // A failed worker parses nothing more (hostFailed): nothing to gather for it.
    if (this.disposed || this.host.failed || bytes.length === 0) return;
    this.pending += bytes.length;
    if (!this.backlogged && this.pending > SCREEN_HIGH) {
      this.backlogged = true;
      this.onBacklog(true);
    }
    // The caller's buffer is shared with other consumers: the batch gets its own copy.
    for (let at = 0; at < bytes.length; ) {
      this.batch ??= this.host.take();
      const n = Math.min(bytes.length - at, this.batch.length - this.batchBytes);
      this.batch.set(bytes.subarray(at, at + n), this.batchBytes);
      this.batchBytes += n;
      at += n;
      if (this.batchBytes === this.batch.length) this.sendBatch();
    }
    if (this.batchBytes > 0 && !this.batchTimer) {
      this.batchTimer = setTimeout(() => this.sendBatch(), BATCH_MS);
      this.batchTimer.unref(); // a snapshot sends the batch itself; nothing else waits for it
    }
  }

  resize(cols: number, rows: number): void {
    if (this.disposed) return;
    this.sendBatch();
    this.host.post({ t: 'resize', id: this.id, cols, rows });
  }

  /**
   * The screen as of every byte written so far: the callback runs once the worker has parsed
   * them, before anything written later, so a client can be sent this and then the bytes after
   * it. An empty string when the mirror is disposed (or its worker failed).
   */
  snapshot(cb: (screen: string) => void): void {
    if (this.disposed || this.host.failed) return cb('');
    this.sendBatch();
    const seq = ++this.seq;
    this.snapshots.set(seq, cb);
    this.host.hold();
    this.host.post({ t: 'snapshot', id: this.id, seq });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.batchTimer);
    this.dropBatch();
    this.host.close(this.id);
    this.answerAll();
  }

  /** From the host: the worker parsed n of this screen's bytes. */
  parsed(n: number): void {
    this.host.release();
    this.pending -= n;
    if (this.backlogged && this.pending < SCREEN_LOW) {
      this.backlogged = false;
      this.onBacklog(false);
    }
  }

  /** From the host: the answer to snapshot request seq. */
  screen(seq: number, data: string): void {
    const cb = this.snapshots.get(seq);
    if (!cb) return;
    this.snapshots.delete(seq);
    this.host.release();
    cb(this.disposed ? '' : data);
  }

  /** From the host: the worker is gone. Nothing more will be parsed; nobody is left waiting. */
  hostFailed(): void {
    clearTimeout(this.batchTimer);
    this.batch = undefined;
    this.batchBytes = 0;
    this.pending = 0;
    if (this.backlogged) {
      this.backlogged = false;
      this.onBacklog(false);
    }
    this.answerAll();
  }

  private answerAll(): void {
    const waiting = [...this.snapshots.values()];
    this.snapshots.clear();
    for (const cb of waiting) {
      this.host.release();
      cb('');
    }
  }

  private sendBatch(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (!this.batch || this.batchBytes === 0 || this.host.failed) return;
    // Transferred, not copied: the worker owns the buffer until it hands it back parsed.
    const data = new Uint8Array(this.batch.buffer, 0, this.batchBytes);
    this.batch = undefined;
    this.batchBytes = 0;
    this.host.hold();
    this.host.post({ t: 'write', id: this.id, data }, [data.buffer as ArrayBuffer]);
  }

  private dropBatch(): void {
    if (this.batch) this.host.give(this.batch.buffer as ArrayBuffer);
    this.batch = undefined;
    this.batchBytes = 0;
  }
}

/** The worker thread and the screens it holds; one per process, started on demand. */
class ScreenHost {
  private static current: ScreenHost | undefined;
  private readonly worker: Worker;
  private readonly screens = new Map<number, ScreenMirror>();
  private nextId = 1;
  /** Answers the worker owes (batches to parse, snapshots): the process waits for them. */
  private owed = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly pool: ArrayBuffer[] = [];
  failed = false;

  static shared(): ScreenHost {
    if (!ScreenHost.current || ScreenHost.current.failed) ScreenHost.current = new ScreenHost();
    return ScreenHost.current;
  }

  private constructor() {
    this.worker = startWorker();
    this.worker.on('message', (m: FromScreenWorker) => {
      const s = this.screens.get(m.id);
      if (m.t === 'parsed') {
        this.give(m.buffer);
        if (s) s.parsed(m.n);
        else this.release(); // its mirror was disposed; the batch is still accounted
      } else if (s) {
        s.screen(m.seq, m.data);
      }
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`screen worker exited (${code})`)));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    this.worker.unref(); // only owed answers keep the process alive (hold/release)
  }

  open(mirror: ScreenMirror, cols: number, rows: number): number {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const id = this.nextId++;
    this.screens.set(id, mirror);
    this.post({ t: 'open', id, cols, rows, scrollback: SCROLLBACK_LINES });
    return id;
  }

  close(id: number): void {
    this.screens.delete(id);
    this.post({ t: 'close', id });
    if (this.screens.size === 0 && !this.failed) {
      this.idleTimer = setTimeout(() => this.end(), WORKER_IDLE_MS);
      this.idleTimer.unref();
    }
  }

  post(m: ToScreenWorker, transfer?: ArrayBuffer[]): void {
    if (!this.failed) this.worker.postMessage(m, transfer);
  }

  /** An empty batch buffer: a returned one, or a new one. */
  take(): Uint8Array {
    return new Uint8Array(this.pool.pop() ?? new ArrayBuffer(BATCH_BYTES));
  }

  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === BATCH_BYTES && this.pool.length < POOL_BUFFERS) this.pool.push(buffer);
  }

  hold(): void {
    if (this.owed++ === 0) this.worker.ref();
  }

  release(): void {
    if (this.owed > 0 && --this.owed === 0) this.worker.unref();
  }

  private end(): void {
    if (this.screens.size > 0 || this.failed) return;
    this.failed = true; // no longer usable; the next screen starts a new worker
    if (ScreenHost.current === this) ScreenHost.current = undefined;
    void this.worker.terminate();
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = true;
    if (ScreenHost.current === this) ScreenHost.current = undefined;
    clearTimeout(this.idleTimer);
    process.emitWarning(`server-side screens lost: ${e.message}; reconnecting clients get a blank screen until the next run`);
    for (const s of this.screens.values()) s.hostFailed();
    this.screens.clear();
    this.owed = 0;
    this.worker.unref();
  }
}

const WORKER_FILE = new URL('./screen-worker.ts', import.meta.url);

/**
 * The worker is TypeScript, like the rest of the server, so it loads tsx itself: it starts the
 * same whether the server runs under `node --import tsx` (tests) or bin/stepwise.js.
 */
function startWorker(): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  // tsx's register() hooks the worker's imports from then on; the worker's file is imported
  // after it. (A worker's own `--import tsx` does not reach its entry file on Node 20.)
  // execArgv [] so an inherited `--import tsx` does not register it twice.
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_FILE.href)}); });`;
  return new Worker(boot, { eval: true, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
}
