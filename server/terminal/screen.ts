// The server's own copy of a session's screen (a headless xterm), so a browser that reloads or
// reconnects gets the screen exactly as it is, not a raw replay of old bytes.
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import type { Disposable } from '../../common/disposable.ts';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;

// Enough history to scroll back through a step's output after a reload, and small enough that
// an idle session's screen stays well under a megabyte.
const SCROLLBACK_LINES = 1000;
// The headless parser can fall behind a flood; past this much unparsed the session pauses
// the pty (like a client's flow control) so the server's memory stays bounded.
export const SCREEN_HIGH = 1024 * 1024;
export const SCREEN_LOW = 256 * 1024;

export class ScreenMirror implements Disposable {
  private readonly term: InstanceType<typeof Terminal>;
  private readonly serializer = new SerializeAddon();
  private disposed = false;
  /** Bytes written and not yet parsed. */
  pending = 0;
  private backlogged = false;

  /** onBacklog(true) when over SCREEN_HIGH unparsed, onBacklog(false) once under SCREEN_LOW. */
  constructor(cols: number, rows: number, private readonly onBacklog: (over: boolean) => void = () => {}) {
    this.term = new Terminal({ cols, rows, scrollback: SCROLLBACK_LINES, allowProposedApi: true });
    this.term.loadAddon(this.serializer as never);
  }

  write(bytes: Uint8Array): void {
    if (this.disposed) return;
    const n = bytes.length;
    this.pending += n;
    if (!this.backlogged && this.pending > SCREEN_HIGH) {
      this.backlogged = true;
      this.onBacklog(true);
    }
    this.term.write(bytes, () => {
      this.pending -= n;
      if (this.backlogged && this.pending < SCREEN_LOW) {
        this.backlogged = false;
        this.onBacklog(false);
      }
    });
  }

  resize(cols: number, rows: number): void {
    if (!this.disposed) this.term.resize(cols, rows);
  }

  /**
   * The screen as of every byte written so far: the callback runs once xterm has parsed them,
   * before anything written later, so a client can be sent this and then the bytes after it.
   */
  snapshot(cb: (screen: string) => void): void {
    if (this.disposed) return cb('');
    this.term.write(new Uint8Array(0), () => cb(this.disposed ? '' : this.serializer.serialize({ scrollback: SCROLLBACK_LINES })));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.term.dispose();
  }
}
