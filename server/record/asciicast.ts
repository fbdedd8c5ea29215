// asciicast v2 recording: a header line, then one JSON array per event
// `[seconds_since_start, code, data]` (o output, i input, r resize "COLSxROWS", m marker).
//
// The writer is built for heavy output: consecutive `o` events within a ~10 ms window are
// coalesced into one event line, lines are buffered and appended through a single fd in a
// flush every ~50 ms (or as soon as the buffer passes 64 KiB, and on marker/close).
// A write failure after open never throws: it is kept in `error`, reported once through
// `onError`, and the writer stops writing.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  /** Unix seconds when the recording started. */
  timestamp?: number;
  title?: string;
  env?: Record<string, string>;
  [key: string]: unknown;
}

export type CastEventCode = 'o' | 'i' | 'r' | 'm';
export type CastEvent = [time: number, code: CastEventCode, data: string];

export interface CastHeaderInput {
  width: number;
  height: number;
  title?: string;
  env?: Record<string, string>;
  /** Unix seconds; defaults to now. */
  timestamp?: number;
}

export interface AsciicastOptions {
  /** Called once, with the first write error after open. */
  onError?: (err: Error) => void;
  /** Coalescing window for consecutive output events, in ms (default 10). */
  coalesceMs?: number;
  /** Periodic flush interval, in ms (default 50). */
  flushMs?: number;
  /** Flush as soon as this many characters are buffered (default 64 KiB). */
  maxBuffer?: number;
}

const DEFAULT_COALESCE_MS = 10;
const DEFAULT_FLUSH_MS = 50;
const DEFAULT_MAX_BUFFER = 64 * 1024;

/** Seconds rounded to microseconds. */
function roundTime(sec: number): number {
  return Math.round(sec * 1e6) / 1e6;
}

/**
 * Replace lone surrogates with U+FFFD so every event line is valid UTF-8. Node 20 has
 * String.prototype.toWellFormed (ES2024); the cast only because our TypeScript lib is ES2022.
 */
const toWellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();

function eventLine(time: number, code: CastEventCode, data: string): string {
  return `[${time}, ${JSON.stringify(code)}, ${JSON.stringify(toWellFormed(data))}]\n`;
}

export class AsciicastWriter {
  /** The file descriptor the recording is appended through (exposed for tests). */
  readonly fd: number;
  readonly path: string;
  readonly header: CastHeader;
  /** First write error after open; once set, nothing more is written. */
  error: Error | undefined;

  private readonly startMs: number;
  private readonly onError?: (err: Error) => void;
  private readonly coalesceMs: number;
  private readonly flushMs: number;
  private readonly maxBuffer: number;

  /** Output not yet turned into an event line: starts at pendingTime (seconds). */
  private pendingParts: string[] = [];
  private pendingChars = 0;
  private pendingStartMs = 0;
  private pendingTime = 0;

  private lines: string[] = [];
  private bufferedChars = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastTime = 0;
  private closed = false;
  private fdClosed = false;

  private constructor(fd: number, path: string, header: CastHeader, startMs: number, opts: AsciicastOptions) {
    this.fd = fd;
    this.path = path;
    this.header = header;
    this.startMs = startMs;
    this.onError = opts.onError;
    this.coalesceMs = opts.coalesceMs ?? DEFAULT_COALESCE_MS;
    this.flushMs = opts.flushMs ?? DEFAULT_FLUSH_MS;
    this.maxBuffer = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;
  }

  /**
   * Create (or truncate) the cast file with mode 0600 and write its header synchronously.
   * Throws the underlying fs error (ENOENT, ENOTDIR, EACCES, ENOSPC...) when that fails;
   * callers turn it into RECORDING_FAILED.
   */
  static open(path: string, header: CastHeaderInput, opts: AsciicastOptions = {}): AsciicastWriter {
    const full: CastHeader = {
      version: 2,
      width: Math.trunc(header.width),
      height: Math.trunc(header.height),
      timestamp: header.timestamp ?? Math.floor(Date.now() / 1000),
    };
    if (header.title !== undefined) full.title = header.title;
    if (header.env !== undefined) full.env = { ...header.env };
    const fd = fs.openSync(path, 'w', 0o600);
    let headerBytes: Buffer;
    try {
      // openSync's mode only applies when the file is created; enforce it on reuse too.
      fs.fchmodSync(fd, 0o600);
      headerBytes = Buffer.from(toWellFormed(JSON.stringify(full)) + '\n', 'utf8');
      writeAll(fd, headerBytes);
    } catch (err) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
      throw err;
    }
    const w = new AsciicastWriter(fd, path, full, performance.now(), opts);
    w.hasher.update(headerBytes);
    w.bytesWritten = headerBytes.length;
    return w;
  }

  // The sha256 of every byte written, kept as they are written: sealing a long recording
  // must not re-read it on the event loop.
  private readonly hasher = crypto.createHash('sha256');
  private bytesWritten = 0;

  /** The digest and size of the file as written; undefined after a write error. Final once closed. */
  writtenDigest(): { sha256: string; bytes: number } | undefined {
    if (this.error) return undefined;
    return { sha256: this.hasher.copy().digest('hex'), bytes: this.bytesWritten };
  }

  /** Seconds since the recording started (microsecond precision): a block's castTime. */
  elapsed(): number {
    return roundTime((performance.now() - this.startMs) / 1000);
  }

  /** Record terminal output (already-decoded UTF-8 text). Never throws. */
  output(text: string): void {
    if (this.closed || this.error || text.length === 0) return;
    const nowMs = performance.now();
    if (this.pendingParts.length > 0 && nowMs - this.pendingStartMs >= this.coalesceMs) {
      this.commitPending();
    }
    if (this.pendingParts.length === 0) {
      this.pendingStartMs = nowMs;
      this.pendingTime = this.stamp(nowMs);
    }
    this.pendingParts.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars >= this.maxBuffer) this.commitPending();
    this.afterAppend();
  }

  /** Add a marker (e.g. the start of a block); flushes so the marker is on disk. */
  marker(label: string): void {
    if (this.closed || this.error) return;
    this.commitPending();
    this.pushLine(eventLine(this.stamp(performance.now()), 'm', label));
    this.flush();
  }

  /** Record a terminal resize. */
  resize(cols: number, rows: number): void {
    if (this.closed || this.error) return;
    this.commitPending();
    this.pushLine(eventLine(this.stamp(performance.now()), 'r', `${Math.trunc(cols)}x${Math.trunc(rows)}`));
    this.afterAppend();
  }

  /** Write everything buffered (including coalesced output) now. Never throws. */
  flush(): void {
    this.clearTimer();
    this.commitPending();
    if (this.lines.length === 0) return;
    const data = this.lines.join('');
    this.lines = [];
    this.bufferedChars = 0;
    if (this.error || this.fdClosed) return;
    try {
      const bytes = Buffer.from(data, 'utf8');
      writeAll(this.fd, bytes);
      this.hasher.update(bytes);
      this.bytesWritten += bytes.length;
    } catch (err) {
      this.fail(err);
    }
  }

  /** Flush, sync to disk and close the file. Idempotent; never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.fdClosed) return;
    this.fdClosed = true;
    const fd = this.fd;
    if (!this.error) {
      await new Promise<void>((resolve) => {
        fs.fsync(fd, (err) => {
          if (err) this.fail(err);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => {
      if (isBadFd(this.error)) return resolve(); // the fd is not ours any more: do not close a reused number
      fs.close(fd, () => resolve());
    });
  }

  /** Flush and close synchronously (no fsync). Idempotent; never throws. */
  dispose(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.fdClosed) return;
    this.fdClosed = true;
    if (isBadFd(this.error)) return;
    try { fs.closeSync(this.fd); } catch { /* nothing useful to do */ }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // --- internals ---

  /** Event time for a performance.now() value: rounded, never before the previous event. */
  private stamp(nowMs: number): number {
    let t = roundTime((nowMs - this.startMs) / 1000);
    if (t < this.lastTime) t = this.lastTime;
    this.lastTime = t;
    return t;
  }

  private commitPending(): void {
    if (this.pendingParts.length === 0) return;
    const text = this.pendingParts.length === 1 ? this.pendingParts[0]! : this.pendingParts.join('');
    this.pendingParts = [];
    this.pendingChars = 0;
    this.pushLine(eventLine(this.pendingTime, 'o', text));
  }

  private pushLine(line: string): void {
    this.lines.push(line);
    this.bufferedChars += line.length;
  }

  private afterAppend(): void {
    if (this.bufferedChars >= this.maxBuffer) {
      this.flush(); // also commits any pending output
    } else if (this.lines.length > 0 || this.pendingParts.length > 0) {
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.timer || this.closed || this.error) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.flushMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private fail(err: unknown): void {
    if (this.error) return;
    this.error = err instanceof Error ? err : new Error(String(err));
    this.clearTimer();
    this.pendingParts = [];
    this.pendingChars = 0;
    this.lines = [];
    this.bufferedChars = 0;
    if (this.onError) {
      try { this.onError(this.error); } catch { /* a faulty callback must not break the caller */ }
    }
  }
}

function isBadFd(err: Error | undefined): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EBADF';
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    off += fs.writeSync(fd, buf, off, buf.length - off);
  }
}

/**
 * Parse an asciicast v2 file. Blank lines are ignored, as is a final line that was cut short
 * (no trailing newline and not valid JSON: a recording interrupted mid-write).
 * Throws on a missing/invalid header or a malformed event elsewhere.
 */
export function readCast(path: string): { header: CastHeader; events: CastEvent[] } {
  const text = fs.readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const endsWithNewline = text.endsWith('\n');
  let header: CastHeader | undefined;
  const events: CastEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const isLast = i === lines.length - 1 && !endsWithNewline;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      if (isLast && header) break;
      throw new Error(`${path}:${i + 1}: not valid JSON: ${(err as Error).message}`);
    }
    if (!header) {
      const h = value as Partial<CastHeader> | null;
      if (!h || typeof h !== 'object' || Array.isArray(h) || h.version !== 2) {
        throw new Error(`${path}:${i + 1}: not an asciicast v2 header`);
      }
      if (typeof h.width !== 'number' || typeof h.height !== 'number') {
        throw new Error(`${path}:${i + 1}: header needs numeric width and height`);
      }
      header = h as CastHeader;
      continue;
    }
    if (
      !Array.isArray(value) ||
      value.length < 3 ||
      typeof value[0] !== 'number' ||
      typeof value[1] !== 'string' ||
      typeof value[2] !== 'string'
    ) {
      throw new Error(`${path}:${i + 1}: not an event [time, code, data]`);
    }
    events.push([value[0], value[1] as CastEventCode, value[2]]);
  }
  if (!header) throw new Error(`${path}: empty recording (no header)`);
  return { header, events };
}
