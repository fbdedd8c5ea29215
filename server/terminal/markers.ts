// Streaming parser for Stepwise's shell-integration markers (OSC 633 style, with a nonce).
// Pure: no I/O. Markers carrying the session's nonce are removed from the byte stream and
// reported as events; anything else — including a program printing a fake `\e]633;D;0\a`
// or `\e]133;D;0\a` — passes through untouched.

/** A marker the shell integration emitted. */
export type Marker =
  /** The last command finished and the prompt is about to be drawn (not yet readable: see P). */
  | { kind: 'A'; exitCode: number }
  /** The prompt is drawn: readline is reading input. */
  | { kind: 'P' }
  /** A command line was accepted (PS0): the shell is busy. */
  | { kind: 'B' }
  /** The shell reads the run's variables from the terminal, echo off (see __sw_vars). */
  | { kind: 'R' }
  /** Output of framed block `seq` starts. */
  | { kind: 'C'; seq: number }
  /** Framed block `seq` finished with `exitCode`. */
  | { kind: 'D'; seq: number; exitCode: number };

export type MarkerEvent = { type: 'data'; bytes: Buffer } | { type: 'marker'; marker: Marker };

const PREFIX = Buffer.from('\x1b]633;');
const ESC = 0x1b;
const BEL = 0x07;
// Our markers are short (kind, 32-char nonce, two integers); anything longer is not ours,
// and bounding the look-ahead keeps a stray prefix from making us buffer a flood.
const MAX_MARKER_BYTES = 128;

export class MarkerParser {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly nonce: string) {}

  push(chunk: Buffer): MarkerEvent[] {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    const events: MarkerEvent[] = [];
    let start = 0; // start of data not yet emitted
    let pos = 0;
    while (pos < buf.length) {
      const esc = buf.indexOf(ESC, pos);
      if (esc < 0) break;
      const avail = buf.length - esc;
      const cmp = Math.min(avail, PREFIX.length);
      if (buf.compare(PREFIX, 0, cmp, esc, esc + cmp) !== 0) {
        pos = esc + 1;
        continue;
      }
      if (avail < PREFIX.length) {
        // Could be the start of a marker split across reads: hold it back.
        return this.holdBack(events, buf, start, esc);
      }
      const end = findTerminator(buf, esc + PREFIX.length, esc + MAX_MARKER_BYTES);
      if (end === 'incomplete') return this.holdBack(events, buf, start, esc);
      if (end === 'none') {
        pos = esc + 1;
        continue;
      }
      const body = buf.toString('latin1', esc + PREFIX.length, end.bodyEnd);
      const marker = this.decode(body);
      if (!marker) {
        pos = end.next;
        continue;
      }
      if (esc > start) events.push({ type: 'data', bytes: buf.subarray(start, esc) });
      events.push({ type: 'marker', marker });
      start = pos = end.next;
    }
    if (start < buf.length) events.push({ type: 'data', bytes: buf.subarray(start) });
    return events;
  }

  /** Returns whatever is held back (call when the stream ends). */
  flush(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }

  private holdBack(events: MarkerEvent[], buf: Buffer, start: number, at: number): MarkerEvent[] {
    if (at > start) events.push({ type: 'data', bytes: buf.subarray(start, at) });
    this.pending = Buffer.from(buf.subarray(at));
    return events;
  }

  private decode(body: string): Marker | undefined {
    const f = body.split(';');
    if (f[1] !== this.nonce) return undefined;
    const int = (s: string | undefined) => (s !== undefined && /^\d{1,10}$/.test(s) ? Number(s) : undefined);
    switch (f[0]) {
      case 'A':
        return { kind: 'A', exitCode: int(f[2]) ?? 0 };
      case 'B':
        return { kind: 'B' };
      case 'P':
        return { kind: 'P' };
      case 'R':
        return { kind: 'R' };
      case 'C': {
        const seq = int(f[2]);
        return seq === undefined ? undefined : { kind: 'C', seq };
      }
      case 'D': {
        const seq = int(f[2]);
        const exitCode = int(f[3]);
        return seq === undefined || exitCode === undefined ? undefined : { kind: 'D', seq, exitCode };
      }
      default:
        return undefined;
    }
  }
}

type Terminator = { bodyEnd: number; next: number } | 'incomplete' | 'none';

function findTerminator(buf: Buffer, from: number, limit: number): Terminator {
  const stop = Math.min(buf.length, limit);
  for (let i = from; i < stop; i++) {
    const b = buf[i];
    if (b === BEL) return { bodyEnd: i, next: i + 1 };
    if (b === ESC) {
      if (i + 1 >= buf.length) return 'incomplete';
      return buf[i + 1] === 0x5c ? { bodyEnd: i, next: i + 2 } : 'none';
    }
  }
  return buf.length < limit ? 'incomplete' : 'none';
}
