// Coalesces terminal output into fewer, larger frames only while the way to the client is
// busy: output that arrives when the previous frame has left (and the client is not behind) is
// sent at once, so nothing (a keystroke's echo least of all) ever waits on a timer. While a
// frame is in flight in the socket, or the client still has much unacknowledged (`busy`),
// output queues and goes as one frame the moment that clears, so a busy socket or client gets
// fewer, larger frames and an idle one gets each chunk as it comes.

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

  /** `busy`: the client is behind (checked before sending; call kick() once it may not be). */
  constructor(
    private readonly send: FrameSender,
    private readonly busy: () => boolean = () => false,
  ) {}

  /** Bytes queued behind a frame in flight. */
  get queued(): number {
    return this.size;
  }

  push(bytes: Buffer): void {
    if (this.disposed || bytes.length === 0) return;
    this.parts.push(bytes);
    this.size += bytes.length;
    if ((this.inFlight === 0 && !this.busy()) || this.size >= BATCH_MAX_BYTES) this.flush();
  }

  /** The client may have caught up (it acked): sends what is queued if nothing holds it. */
  kick(): void {
    if (this.inFlight === 0 && !this.busy()) this.flush();
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
      this.kick();
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
