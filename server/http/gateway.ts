// The websocket gateway: authenticates upgrades (token + Origin), then streams a run's
// terminal both ways — binary frames for bytes, JSON text frames for control and events.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { AppContext } from './context.ts';
import { credentialOf, originAllowed, tokenMatches } from './auth.ts';
import { parseClientMessage, assertNever, type ServerMessage } from '../protocol.ts';
import { FlowWindow, FLOW_HIGH, FLOW_LOW, ACK_EVERY } from '../terminal/flow.ts';
import { OutputBatcher } from '../terminal/batcher.ts';
import type { Run } from '../run/run.ts';
import type { Disposable } from '../terminal/session.ts';

// Keystrokes and pastes: a large paste is the biggest honest input frame.
const MAX_FRAME_BYTES = 1024 * 1024;
// A client that never acks (a script) is still bounded: past this much queued in its
// socket the pty pauses until the socket drains below a quarter of it.
const SOCKET_BACKLOG_BYTES = 4 * 1024 * 1024;
const BACKLOG_POLL_MS = 20;

const PATH = /^\/ws\/runs\/([A-Za-z0-9_-]{1,64})$/;

export class Gateway implements Disposable {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private seq = 0;
  private open = 0;

  constructor(private readonly ctx: AppContext) {}

  attach(server: Server): void {
    server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  get connections(): number {
    return this.open;
  }

  dispose(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, text: string) => {
      this.ctx.log.warn('websocket refused', { path: url.pathname, status, reason: text, origin: req.headers.origin ?? null });
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    };
    if (!originAllowed(req)) return refuse(403, 'Forbidden origin');
    if (!tokenMatches(credentialOf(req, url)?.token, this.ctx.token)) return refuse(401, 'Unauthorized');
    const m = PATH.exec(url.pathname);
    const run = m ? this.ctx.runs.get(m[1]) : undefined;
    if (!run) return refuse(404, 'No such live run');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connect(ws, run));
  }

  private connect(ws: WebSocket, run: Run): void {
    this.open++;
    const key = `ws-${++this.seq}`;
    const flow = new FlowWindow();
    const session = run.session;
    let backlogTimer: NodeJS.Timeout | undefined;
    const sendJson = (m: ServerMessage) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(m));
    const batcher = new OutputBatcher((frame) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(frame, { binary: true });
      if (flow.sent(frame.length)) session.pause(key);
      if (ws.bufferedAmount > SOCKET_BACKLOG_BYTES && !backlogTimer) {
        session.pause(`${key}-backlog`);
        backlogTimer = setInterval(() => {
          if (ws.readyState !== ws.OPEN || ws.bufferedAmount < SOCKET_BACKLOG_BYTES / 4) {
            clearInterval(backlogTimer);
            backlogTimer = undefined;
            session.resume(`${key}-backlog`);
          }
        }, BACKLOG_POLL_MS);
      }
    });
    const subs: Disposable[] = [
      session.onData((bytes) => batcher.push(bytes)),
      run.subscribe((m) => {
        batcher.flush(); // events follow the output that led to them
        sendJson(m);
      }),
    ];
    sendJson({ type: 'hello', runId: run.id, role: 'operator', flow: { high: FLOW_HIGH, low: FLOW_LOW, ackEvery: ACK_EVERY } });
    if (run.isEnded || session.state === 'ended') sendJson({ type: 'session-ended', runId: run.id, exitCode: session.exitCode });

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        session.write(toBuffer(data));
        return;
      }
      const parsed = parseClientMessage(toBuffer(data).toString('utf8'));
      if (!parsed.ok) {
        sendJson({ type: 'error', code: 'BAD_REQUEST', message: parsed.error });
        return;
      }
      const msg = parsed.message;
      switch (msg.type) {
        case 'resize':
          session.resize(msg.cols, msg.rows);
          run.cast.resize(msg.cols, msg.rows);
          break;
        case 'ack':
          if (flow.acked(msg.bytes)) session.resume(key);
          break;
        default:
          assertNever(msg);
      }
    });
    ws.on('close', () => {
      this.open--;
      subs.forEach((s) => s.dispose());
      batcher.dispose();
      clearInterval(backlogTimer);
      session.resume(key);
      session.resume(`${key}-backlog`);
    });
    ws.on('error', (err) => this.ctx.log.warn('websocket error', { runId: run.id, error: err.message }));
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
