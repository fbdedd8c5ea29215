// One websocket client's view of a run's terminal: it starts from the server's screen, then
// gets live output batched; an operator's keystrokes go to the shell and its acks pace the
// pty (flow control); a viewer only watches, never pauses the shell, and when it falls too
// far behind it is dropped from the stream and later resynced from the screen. An operator
// that keeps the shell paused too long (a tab that stopped reading) is handled like a viewer
// until it has caught up; only an operator's socket keeps an unattended run alive.
import type { WebSocket, RawData } from 'ws';
import type { Run } from '../run/run.ts';
import type { Logger } from '../log.ts';
import type { Disposable } from '../../common/disposable.ts';
import { FlowWindow, FLOW_HIGH, FLOW_LOW, ACK_EVERY } from '../terminal/flow.ts';
import { OutputBatcher } from '../terminal/batcher.ts';
import { parseClientMessage, assertNever, type ServerMessage } from '../../common/protocol.ts';
import { EN, type Translator } from '../../common/i18n/index.ts';
import { localizedFailure } from './language.ts';

export type StreamRole = 'operator' | 'viewer';

// A client that never acks (a script) is still bounded: past this much queued in its socket
// an operator's pty pauses until the socket drains below a quarter of it; a viewer is dropped.
const SOCKET_BACKLOG_BYTES = 1024 * 1024;
// A viewer whose terminal has this much unparsed is skipped until it catches up: a slow
// observer must not hold the shell, nor pile up output it will never show.
const VIEWER_BEHIND_BYTES = 4 * FLOW_HIGH;
const BACKLOG_POLL_MS = 20;
// An operator's tab that stops reading (frozen, backgrounded, a paused debugger) would hold
// the shell for everyone: after this long paused on its account it stops pacing the pty and
// is resynced from the screen once it reads again. Long enough for a slow page to catch up.
export const OPERATOR_STALL_MS = 5_000;

type State = 'syncing' | 'live' | 'behind';

export class TerminalStream implements Disposable {
  private readonly flow = new FlowWindow();
  private readonly batcher: OutputBatcher;
  private readonly subs: Disposable[] = [];
  private state: State = 'syncing';
  private pending: Buffer[] = [];
  private backlogTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  /** Whether this client's acks and socket pace the pty: an operator's, until it stalls. */
  private pacing: boolean;
  private disposed = false;
  /** A class run (server/class/): whether this operator socket holds the keyboard now (take-over); absent, it always does. */
  inputGate?: () => boolean;
  /** The terminal this socket carries: the run's own, or (a runbook that spans hosts) one role's. */
  private readonly term: { role: string | undefined; session: Run['session']; screen: Run['screen'] };

  constructor(
    private readonly ws: WebSocket,
    private readonly run: Run,
    readonly role: StreamRole,
    private readonly key: string,
    private readonly log: Logger,
    /** The language of the browser that opened the socket: its `error` messages read in it. */
    private readonly tr: Translator = EN,
    /** A runbook that spans hosts: the role whose terminal to carry (default the first); the gateway checked it exists. */
    terminal?: string,
  ) {
    this.term = run.terminal(terminal) ?? run.terminal()!;
    this.batcher = new OutputBatcher(
      (frame, sent) => this.sendFrame(frame, sent),
      () => this.flow.busy,
    );
    this.pacing = role === 'operator';
    const session = this.term.session;
    this.subs.push(
      session.onData((bytes) => this.onOutput(bytes)),
      run.subscribe((m) => {
        if (this.state === 'live') this.batcher.flush(); // events follow the output that led to them
        this.sendJson(m);
      }),
    );
    if (role === 'operator') {
      run.clients++;
      run.touch();
    }
    this.sendJson({ type: 'hello', runId: run.id, role, flow: { high: FLOW_HIGH, low: FLOW_LOW, ackEvery: ACK_EVERY }, ...(this.term.role !== undefined ? { terminal: this.term.role } : {}) });
    if (run.isEnded || session.state === 'ended') this.sendJson({ type: 'session-ended', runId: run.id, exitCode: session.exitCode });
    this.sync();
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.subs.forEach((s) => s.dispose());
    this.batcher.dispose();
    clearInterval(this.backlogTimer);
    clearTimeout(this.stallTimer);
    this.term.session.resume(this.key);
    this.term.session.resume(`${this.key}-backlog`);
    if (this.role === 'operator') {
      this.run.clients--;
      this.run.touch();
    }
  }

  /** Sends the screen as it is now, then the output that follows it. */
  private sync(): void {
    this.state = 'syncing';
    this.pending = [];
    if (!this.pacing) this.flow.reset();
    this.term.screen.snapshot((screen) => {
      if (this.disposed) return;
      this.sendJson({ type: 'screen', data: screen });
      this.state = 'live';
      this.pacing = this.role === 'operator'; // a stalled operator that caught up paces again
      const held = this.pending;
      this.pending = [];
      for (const b of held) this.batcher.push(b);
    });
  }

  private onOutput(bytes: Buffer): void {
    if (this.state === 'live') this.batcher.push(bytes);
    else if (this.state === 'syncing') this.pending.push(bytes);
    // behind: dropped; the screen it resyncs from has it
  }

  /** Sends a frame; `sent` runs once ws has written it to the socket (or it is dropped). */
  private sendFrame(frame: Buffer, sent: () => void): void {
    if (this.ws.readyState !== this.ws.OPEN || this.state !== 'live') return sent();
    this.ws.send(frame, { binary: true }, () => sent());
    const pause = this.flow.sent(frame.length);
    if (this.pacing) {
      if (pause) {
        this.term.session.pause(this.key);
        this.armStall();
      }
      if (this.ws.bufferedAmount > SOCKET_BACKLOG_BYTES) this.waitForBacklog(() => this.term.session.resume(`${this.key}-backlog`), `${this.key}-backlog`);
    } else if (this.ws.bufferedAmount > SOCKET_BACKLOG_BYTES || this.flow.pending > VIEWER_BEHIND_BYTES) {
      this.fallBehind();
    }
  }

  private fallBehind(): void {
    if (this.state === 'behind') return;
    this.state = 'behind';
    this.batcher.clear();
    this.log.info('viewer fell behind; resync when it catches up', { runId: this.run.id, client: this.key });
    this.waitForBacklog(() => this.sync());
  }

  /** The shell is paused on this client's account: past OPERATOR_STALL_MS it stops pacing. */
  private armStall(): void {
    this.stallTimer ??= setTimeout(() => this.stopPacing(), OPERATOR_STALL_MS);
  }

  /** The pause on this client's account ended (it acked, its socket drained). */
  private calm(): void {
    if (this.flow.paused || this.backlogTimer) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private stopPacing(): void {
    this.stallTimer = undefined;
    if (this.disposed || !this.pacing) return;
    this.pacing = false;
    this.log.warn('operator stopped reading: no longer pacing the shell; resync when it catches up', { runId: this.run.id, client: this.key, unacked: this.flow.pending, buffered: this.ws.bufferedAmount });
    clearInterval(this.backlogTimer);
    this.backlogTimer = undefined;
    this.term.session.resume(this.key);
    this.term.session.resume(`${this.key}-backlog`);
    this.fallBehind();
  }

  /** Polls until the socket drained (and a viewer caught up), then calls done. */
  private waitForBacklog(done: () => void, pauseReason?: string): void {
    if (this.backlogTimer) return;
    if (pauseReason) {
      this.term.session.pause(pauseReason);
      this.armStall();
    }
    this.backlogTimer = setInterval(() => {
      const caughtUp = this.pacing || !this.flow.isAcking || this.flow.pending < FLOW_LOW;
      const drained = this.ws.readyState !== this.ws.OPEN || (this.ws.bufferedAmount < SOCKET_BACKLOG_BYTES / 4 && caughtUp);
      if (!drained) return;
      clearInterval(this.backlogTimer);
      this.backlogTimer = undefined;
      if (this.disposed) return;
      done();
      this.calm();
    }, BACKLOG_POLL_MS);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.role === 'operator') this.run.touch(); // a viewer's acks do not keep a run alive
    if (isBinary) {
      // The server never forwards a viewer's keystrokes to the shell.
      if (this.role === 'operator' && (this.inputGate?.() ?? true)) this.term.session.input(toBuffer(data));
      return;
    }
    const parsed = parseClientMessage(toBuffer(data).toString('utf8'));
    if (!parsed.ok) {
      this.sendJson(localizedFailure({ type: 'error' as const, code: 'BAD_REQUEST', message: parsed.error }, this.tr));
      return;
    }
    const msg = parsed.message;
    switch (msg.type) {
      case 'resize':
        if (this.role === 'operator' && (this.inputGate?.() ?? true)) this.run.resize(msg.cols, msg.rows, this.term.role);
        break;
      case 'ack':
        if (this.flow.acked(msg.bytes) && this.pacing) {
          this.term.session.resume(this.key);
          this.calm();
        }
        this.batcher.kick();
        break;
      default:
        assertNever(msg);
    }
  }

  private sendJson(m: ServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(m));
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
