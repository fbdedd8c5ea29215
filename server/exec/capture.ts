// Captures one block's output bytes into the plain text stored with its result. Pure.
// Keeps the head and tail of huge outputs (tens of MB must not live in the database or
// in memory) and digests all of it.
import crypto from 'node:crypto';

// Enough to read any ordinary command's output in full; beyond it, the start and the end
// (where errors usually are) are what a person looks at.
const HEAD_BYTES = 128 * 1024;
const TAIL_BYTES = 128 * 1024;

export class OutputCapture {
  private readonly head: Buffer[] = [];
  private headLen = 0;
  private tail: Buffer[] = [];
  private tailLen = 0;
  private total = 0;
  private readonly hash = crypto.createHash('sha256');

  push(bytes: Buffer): void {
    this.total += bytes.length;
    this.hash.update(bytes);
    let rest = bytes;
    if (this.headLen < HEAD_BYTES) {
      const take = rest.subarray(0, HEAD_BYTES - this.headLen);
      this.head.push(Buffer.from(take));
      this.headLen += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length === 0) return;
    this.tail.push(Buffer.from(rest));
    this.tailLen += rest.length;
    while (this.tailLen - this.tail[0].length >= TAIL_BYTES) this.tailLen -= this.tail.shift()!.length;
  }

  get bytes(): number {
    return this.total;
  }

  /** Plain text (terminal control sequences removed) and the sha256 of every byte. */
  finish(): { text: string; digest: string; bytes: number } {
    const head = Buffer.concat(this.head);
    let tail = Buffer.concat(this.tail);
    if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES);
    const omitted = this.total - head.length - tail.length;
    const text =
      omitted > 0
        ? `${terminalText(head.toString('utf8'))}\n[… ${omitted} bytes omitted …]\n${terminalText(tail.toString('utf8'))}`
        : terminalText(Buffer.concat([head, tail]).toString('utf8'));
    return { text, digest: this.hash.digest('hex'), bytes: this.total };
  }
}

// CSI, OSC (BEL or ST terminated), DCS/SOS/PM/APC strings, and two-byte escapes.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[@-Z\\-_]|\x1b[ -/][@-~]/g;

/** What a terminal's text would read as: escapes dropped, CR-overwritten lines resolved. */
export function terminalText(s: string): string {
  const noEsc = s.replace(ESCAPES, '').replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '');
  return noEsc
    .split('\n')
    .map((line) => {
      const l = line.endsWith('\r') ? line.slice(0, -1) : line;
      const i = l.lastIndexOf('\r');
      return i < 0 ? l : l.slice(i + 1);
    })
    .join('\n');
}

/** The last non-empty line: a failing check's reason. */
export function lastLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length ? lines[lines.length - 1] : undefined;
}
