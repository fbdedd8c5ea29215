// The terminal pane: xterm.js (fit to its box) attached to a run's websocket.
// Binary frames are raw terminal bytes both ways; text frames are JSON control messages
// (common/protocol.ts). Flow control: the server pauses the pty while too much output is
// unacknowledged, so we ack what xterm has actually parsed (its write callback) — every
// `hello.flow.ackEvery` bytes, and whenever xterm's write queue drains.
import { Terminal, type ITheme } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { parseServerMessage, type ClientMessage, type ServerMessage } from '../common/protocol.ts';
import { fetchRecordedOutput } from './replay.ts';
import { getJson } from './api.ts';
import { terminalInput } from './input-filter.ts';
import { withNoncedStyles } from './style-nonce.ts';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'ended';

export interface RunTerminalOptions {
  host: HTMLElement;
  runId: string;
  /** Whether the run has a live shell session; otherwise the recording is shown read-only. */
  live: boolean;
  onMessage?: (m: ServerMessage) => void;
  onState?: (s: ConnectionState) => void;
  /** A runbook that spans hosts: the role whose terminal this is (its socket, its recording). */
  role?: string;
}

/** Until the server's hello says otherwise (server/terminal/flow.ts ACK_EVERY). */
const DEFAULT_ACK_EVERY = 32 * 1024;
const RECONNECT_DELAYS_MS = [300, 1000, 2000, 4000, 8000];
/**
 * Esc then Tab (or Shift-Tab) moves the focus out of the terminal, where Tab otherwise
 * completes. An Esc is held this long to see whether Tab follows (then it is dropped, not
 * sent); any other key, or the end of the wait, sends it. Readline waits 500 ms after Esc.
 */
const ESC_HOLD_MS = 400;

const THEME: ITheme = {
  background: '#0d1117',
  foreground: '#e6edf3',
  cursor: '#7ee787',
  cursorAccent: '#0d1117',
  selectionBackground: '#264f78',
  black: '#484f58',
  red: '#ff7b72',
  green: '#3fb950',
  yellow: '#d29922',
  blue: '#58a6ff',
  magenta: '#bc8cff',
  cyan: '#39c5cf',
  white: '#b1bac4',
  brightBlack: '#6e7681',
  brightRed: '#ffa198',
  brightGreen: '#56d364',
  brightYellow: '#e3b341',
  brightBlue: '#79c0ff',
  brightMagenta: '#d2a8ff',
  brightCyan: '#56d4dd',
  brightWhite: '#f0f6fc',
};

export class RunTerminal {
  readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly encoder = new TextEncoder();
  private ws: WebSocket | undefined;
  private state: ConnectionState;
  private ackEvery = DEFAULT_ACK_EVERY;
  /** Bytes of the current connection xterm has parsed since the last ack. */
  private consumed = 0;
  /** Writes xterm has queued and not finished. */
  private inFlight = 0;
  /** Connection generation: callbacks of an old socket's writes must not ack on a new one. */
  private gen = 0;
  private attempts = 0;
  /** An Esc typed and not yet sent: Tab next leaves the terminal (see ESC_HOLD_MS). */
  private heldEsc: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly o: RunTerminalOptions) {
    this.term = new Terminal({
      theme: THEME,
      fontFamily: '"JetBrains Mono", "Cascadia Mono", "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", "Noto Sans Mono CJK KR", monospace',
      fontSize: 12,
      lineHeight: 1.3,
      cursorBlink: true,
      cursorStyle: 'bar',
      scrollback: 10_000,
      allowProposedApi: false,
      disableStdin: !o.live,
    });
    this.term.loadAddon(this.fit);
    withNoncedStyles(o.host, () => this.term.open(o.host));
    this.refit();
    new ResizeObserver(() => this.refit()).observe(o.host);
    this.term.attachCustomKeyEventHandler((ev) => this.leaveOnEscTab(ev));
    this.term.onData((d) => {
      const input = terminalInput(d); // never the terminal's own status replies (input-filter.ts)
      if (input === undefined) return;
      if (input === '\x1b') {
        this.releaseEsc();
        this.heldEsc = setTimeout(() => this.releaseEsc(), ESC_HOLD_MS);
        return;
      }
      this.releaseEsc();
      this.sendBytes(this.encoder.encode(input));
    });
    this.term.onBinary((d) => {
      const bytes = new Uint8Array(d.length);
      for (let i = 0; i < d.length; i++) bytes[i] = d.charCodeAt(i) & 0xff;
      this.sendBytes(bytes);
    });
    this.term.onResize(({ cols, rows }) => this.send({ type: 'resize', cols, rows }));
    this.state = o.live ? 'connecting' : 'ended';
    if (o.live) {
      this.connect();
    } else {
      void this.replay().then(() => this.term.write('\r\n\x1b[2m[session ended]\x1b[0m\r\n'));
    }
  }

  get connection(): ConnectionState {
    return this.state;
  }

  focus(): void {
    this.term.focus();
  }

  /**
   * xterm's key hook: false lets the browser have the key. Tab right after a held Esc is the
   * browser's (focus moves on) and the Esc is dropped.
   */
  private leaveOnEscTab(ev: KeyboardEvent): boolean {
    if (ev.type !== 'keydown' || ev.key !== 'Tab') return true;
    // A read-only terminal (an ended run's recording) takes no input: Tab just moves on.
    if (this.term.options.disableStdin) return false;
    if (this.heldEsc === undefined) return true;
    clearTimeout(this.heldEsc);
    this.heldEsc = undefined;
    return false;
  }

  /** Sends a held Esc now (another key came, or the wait is over). */
  private releaseEsc(): void {
    if (this.heldEsc === undefined) return;
    clearTimeout(this.heldEsc);
    this.heldEsc = undefined;
    this.sendBytes(this.encoder.encode('\x1b'));
  }

  /** The session is over (ended here, by another client, or by the server). */
  markEnded(): void {
    if (this.state === 'ended') return;
    this.setState('ended');
    this.term.options.disableStdin = true;
    this.term.options.cursorBlink = false;
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000, 'session ended');
    this.term.write('\r\n\x1b[2m[session ended]\x1b[0m\r\n');
  }

  private connect(): void {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const role = this.o.role !== undefined ? `?terminal=${encodeURIComponent(this.o.role)}` : '';
    const ws = new WebSocket(`${proto}//${location.host}/ws/runs/${encodeURIComponent(this.o.runId)}${role}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.gen++;
    this.consumed = 0;
    this.ackEvery = DEFAULT_ACK_EVERY;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempts = 0;
      this.send({ type: 'resize', cols: this.term.cols, rows: this.term.rows });
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      if (typeof ev.data === 'string') this.onText(ev.data);
      else this.onBytes(new Uint8Array(ev.data as ArrayBuffer));
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.state !== 'ended') void this.lost();
    };
  }

  /** The socket closed without a session-ended: reconnect while the run is live. */
  private async lost(): Promise<void> {
    this.setState('reconnecting');
    const run = await getJson<{ live?: boolean }>(`/api/runs/${encodeURIComponent(this.o.runId)}`);
    if (this.state === 'ended') return;
    if (run.ok && run.value.live === false) {
      this.markEnded();
      return;
    }
    const delay = RECONNECT_DELAYS_MS[this.attempts++];
    if (delay === undefined) {
      this.setState('offline');
      return;
    }
    setTimeout(() => {
      if (this.state === 'ended') return;
      // The server sends its screen on connect: output made while away is on it.
      this.connect();
    }, delay);
  }

  private onText(text: string): void {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) {
      console.warn('stepwise: ignoring a server message:', parsed.error);
      return;
    }
    const m = parsed.message;
    if (m.type === 'hello') this.ackEvery = m.flow.ackEvery;
    if (m.type === 'screen') {
      // The screen as it is now; live bytes follow. Live once it shows everything so far.
      this.term.reset();
      this.write(m.data, 0);
      if (this.state !== 'ended') this.setState('live');
    }
    this.o.onMessage?.(m);
    if (m.type === 'session-ended') this.markEnded();
  }

  private onBytes(bytes: Uint8Array): void {
    this.write(bytes, bytes.byteLength);
  }

  /** Writes to xterm; `counted` socket bytes are acked once xterm has parsed `data`. */
  private write(data: Uint8Array | string, counted: number): void {
    const gen = this.gen;
    const n = counted;
    this.inFlight++;
    this.term.write(data, () => {
      this.inFlight--;
      if (gen !== this.gen) return;
      this.consumed += n;
      if (this.consumed >= this.ackEvery || (this.inFlight === 0 && this.consumed > 0)) {
        if (this.send({ type: 'ack', bytes: this.consumed })) this.consumed = 0;
      }
    });
  }

  /** An ended run's terminal: its recording, read-only. */
  private async replay(): Promise<void> {
    const recorded = await fetchRecordedOutput(this.o.runId, this.o.role);
    if (recorded) this.write(recorded, 0);
  }

  private send(m: ClientMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(m));
    return true;
  }

  private sendBytes(bytes: Uint8Array): void {
    const ws = this.ws;
    if (this.state !== 'live' || !ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(bytes);
  }

  private refit(): void {
    if (!this.o.host.clientWidth || !this.o.host.clientHeight) return;
    try {
      this.fit.fit();
    } catch {
      /* not rendered yet */
    }
  }

  private setState(s: ConnectionState): void {
    this.state = s;
    this.o.onState?.(s);
  }
}
