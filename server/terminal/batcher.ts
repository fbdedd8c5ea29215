// Coalesces terminal output into fewer, larger frames only while the socket is busy: output
// that arrives when the previous frame has left is sent at once, so nothing (a keystroke's
// echo least of all) ever waits on a timer. While a frame is in flight, output queues and goes
// as one frame the moment that frame is written, so a slow or busy socket gets fewer, larger
// frames and a fast one gets each chunk as it comes.

// While a frame is in flight, queued output is sent anyway past this size, so it lands in the
// socket's own buffer, which the stream bounds (pausing the pty), and never piles up here
// unseen by that bound.
export const BATCH_MAX_BYTES = 256 * 1024;

/** Sends one frame; calls `sent` once the frame has left (written to the OS, or dropped). */
export type FrameSender = (frame: Buffer, sent: () => void) => void;

export class OutputBatcher {
  private parts: Buffer[] = [];
  private size = 0;
  /** Frames handed to the sender whose `sent` has not been called yet. */
  private inFlight = 0;
  private disposed = false;

  constructor(private readonly send: FrameSender) {}

  /** Bytes queued behind a frame in flight. */
  get queued(): number {
    return this.size;
  }

  push(bytes: Buffer): void {
    if (this.disposed || bytes.length === 0) return;
    this.parts.push(bytes);
    this.size += bytes.length;
    if (this.inFlight === 0 || this.size >= BATCH_MAX_BYTES) this.flush();
  }

  /** Sends whatever is queued now, even while a frame is in flight. */
  flush(): void {
    if (this.disposed || this.size === 0) return;
    const frame = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.inFlight++;
    let done = false;
    this.send(frame, () => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (this.inFlight === 0) this.flush();
    });
  }

  /** Drops what is queued (a viewer that fell behind resyncs from the screen instead). */
  clear(): void {
    this.parts = [];
    this.size = 0;
  }

  dispose(): void {
    this.disposed = true;
    this.clear();
  }
}
