// Flow-control accounting for one viewer of a terminal stream. Pure.
// The client acks bytes as its terminal finishes writing them (xterm's write callback).
// The session pauses the pty while any flow-controlled viewer has too much unacknowledged.

// 512 KiB unacknowledged ≈ 15–100 ms of xterm.js parsing: enough in flight to keep the pipe
// full at the pty's ~30 MB/s ceiling, and under xterm's 500 KB guidance so Ctrl-C is
// echoed promptly even mid-flood.
export const FLOW_HIGH = 512 * 1024;
// Resume once the client has caught up to this; a gap between the marks avoids
// pausing and resuming on every ack.
export const FLOW_LOW = 128 * 1024;
// Clients ack at least this often. It must be below FLOW_LOW: the residue a client has
// not acked yet (< ACK_EVERY) must not keep the stream paused forever.
export const ACK_EVERY = 32 * 1024;
// Output the client has not acked yet is still in flight to it. Past this much (two acks'
// worth: more than the residue a client may hold back, < ACK_EVERY), the batcher gathers
// output into one frame for the next ack instead of a frame per pty read; below it, as after
// any pause in the output, every read is sent at once.
export const BUSY_UNACKED = 2 * ACK_EVERY;

export class FlowWindow {
  private unacked = 0;
  /** A client that never acks (a script) is not flow-controlled by acks. */
  private acking = false;
  paused = false;

  /** Records bytes sent; returns true when the stream should now pause. */
  sent(n: number): boolean {
    this.unacked += n;
    if (this.acking && !this.paused && this.unacked > FLOW_HIGH) {
      this.paused = true;
      return true;
    }
    return false;
  }

  /** Records an ack; returns true when a paused stream may resume. */
  acked(n: number): boolean {
    this.acking = true;
    this.unacked = Math.max(0, this.unacked - n);
    if (this.paused && this.unacked < FLOW_LOW) {
      this.paused = false;
      return true;
    }
    return false;
  }

  get pending(): number {
    return this.unacked;
  }

  /** An acking client has more than BUSY_UNACKED in flight: coalesce until its next ack. */
  get busy(): boolean {
    return this.acking && this.unacked > BUSY_UNACKED;
  }

  /** Whether the client has ever acked (a script may never). */
  get isAcking(): boolean {
    return this.acking;
  }

  /** Starts counting afresh (a viewer resynced from the screen). */
  reset(): void {
    this.unacked = 0;
    this.paused = false;
  }
}
