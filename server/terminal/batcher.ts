// Coalesces terminal output into fewer, larger frames while output flows, and sends at once
// when the stream was idle, so a keystroke's echo is never held back.

// VS Code merges pty output over 5 ms; under flood that turns thousands of small reads
// into a few hundred frames a second. An echo after idle bypasses it.
export const BATCH_MS = 5;
// A frame this large is sent without waiting for the timer.
export const BATCH_MAX_BYTES = 256 * 1024;

export class OutputBatcher {
  private parts: Buffer[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastSend = 0;

  constructor(private readonly send: (frame: Buffer) => void) {}

  push(bytes: Buffer): void {
    const now = performance.now();
    if (!this.timer && this.size === 0 && now - this.lastSend > BATCH_MS) {
      this.lastSend = now;
      this.send(bytes);
      return;
    }
    this.parts.push(bytes);
    this.size += bytes.length;
    if (this.size >= BATCH_MAX_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.size === 0) return;
    const frame = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.lastSend = performance.now();
    this.send(frame);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.parts = [];
    this.size = 0;
  }
}
